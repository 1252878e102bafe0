#pragma once
// What the run commands share: the run directory, output clocks, the progress line, signals,
// number formatting and the late-time fits of summary.json.

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <filesystem>
#include <string>
#include <vector>

namespace kmdflow::app {

/// Set by SIGINT/SIGTERM while a StopSignals guard is alive (0 otherwise).
extern std::atomic<int> stop_signal;

/// Catches SIGINT and SIGTERM for its lifetime, so that a run can stop cleanly.
class StopSignals {
public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

private:
  void (*m_int)(int);
  void (*m_term)(int);
};

std::string timestamp(const char* format);
/// %.17g, with inf / -inf / nan spelled out.
std::string number(double x);
nlohmann::json finite_or_null(double x);

/// --out, else output.dir, else runs/<config stem>-<date>.
std::filesystem::path choose_run_directory(const std::string& out, const std::string& config_path,
                                           const nlohmann::json& config);
/// Refuses an existing directory unless `force`, and then only one that is a run directory (or
/// empty): --force never deletes anything else.
void prepare_run_directory(const std::filesystem::path& dir, bool force);

/// Seconds since construction.
class WallClock {
public:
  double operator()() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - m_start).count();
  }

private:
  std::chrono::steady_clock::time_point m_start = std::chrono::steady_clock::now();
};

/// A one-line progress display on stderr when it is a terminal.
class Progress {
public:
  explicit Progress(double t_end, bool enabled = true);
  void update(double t, long step, double energy, double wall);
  void finish();

private:
  double m_t_end;
  bool m_tty;
  double m_last = -1;
  bool m_shown = false;
};

/// The times at which rows and frames are due: multiples of an interval, and optionally
/// log-spaced times t0·10^{j/p}.
class OutputClock {
public:
  OutputClock(double every, double t_end, double log_start = 0, int per_decade = 0)
      : m_every(every), m_t_end(t_end), m_log_start(log_start), m_per_decade(per_decade) {}
  double next() const;
  bool due(double t, double tolerance) const { return t >= next() - tolerance; }
  void advance_past(double t, double tolerance);

private:
  double m_every, m_t_end, m_log_start;
  int m_per_decade;
  long m_linear = 0, m_log = 0;
};

/// The series and snapshot clocks of a run: after each step, writes what is due (everything at
/// the final step).
class OutputSchedule {
public:
  OutputSchedule(const nlohmann::json& config, double tolerance);
  /// The next time a row or frame is due (steps that can land on it stop there).
  double next() const { return std::min(m_series.next(), m_snapshots.next()); }
  template <class Row, class Frame> void after_step(double t, bool final_step, Row&& row, Frame&& frame) {
    if (final_step || m_series.due(t, m_tolerance)) {
      row();
      m_series.advance_past(t, m_tolerance);
    }
    if (final_step || m_snapshots.due(t, m_tolerance)) {
      frame();
      m_snapshots.advance_past(t, m_tolerance);
    }
  }

private:
  OutputClock m_series, m_snapshots;
  double m_tolerance;
};

/// How a run ended: "completed", "interrupted" (SIGINT/SIGTERM) or "failed", with a message.
struct RunOutcome {
  std::string status = "completed", message;
};

/// The loop every run shares: records the first row and frame, then calls advance() (one step:
/// it moves t and counts step) until t_end, writes the rows and frames that are due, updates the
/// progress line, stops cleanly on SIGINT/SIGTERM and turns an exception into a failed outcome.
template <class Advance, class Row, class Frame, class Energy>
RunOutcome drive_run(const double& t, const long& step, double t_end, double tolerance, OutputSchedule& outputs,
                     Progress& progress, const WallClock& wall, Advance&& advance, Row&& record_row,
                     Frame&& record_frame, Energy&& latest_energy) {
  RunOutcome outcome;
  {
    StopSignals signals;
    try {
      record_row();
      record_frame();
      while (t < t_end - tolerance) {
        if (stop_signal) {
          outcome = {"interrupted", "interrupted by signal " + std::to_string(int(stop_signal))};
          break;
        }
        advance();
        outputs.after_step(t, t >= t_end - tolerance, record_row, record_frame);
        progress.update(t, step, latest_energy(), wall());
      }
    } catch (const std::exception& e) {
      outcome = {"failed", e.what()};
    }
    progress.finish();
  }
  return outcome;
}

/// The first entries of summary.json: status, message, where the run stopped, t_end.
nlohmann::json summary_head(const RunOutcome& outcome, long step, double t, double t_end);

/// The end of a run, after summary.json is written: a failed or interrupted run prints one
/// `error:` line saying where it stopped (exit code 1); a completed one prints `lines` and makes
/// the plots unless quiet (exit code 0).
int report_run_end(const std::filesystem::path& dir, const std::string& status, const std::string& message, long step,
                   double t, bool quiet, bool plots, const std::vector<std::string>& lines);

/// printf into a std::string.
std::string format(const char* format, ...) __attribute__((format(printf, 1, 2)));

/// Least-squares slope of y against x (NaN with fewer than 3 points).
double slope(const std::vector<double>& x, const std::vector<double>& y);


/// The late-time fits of summary.json: an exponential rate over the second half of the run and a
/// power-law exponent over its last 1.5 decades, with the theory's values where they apply
/// (DESIGN.md §2).
nlohmann::json energy_decay_fit(const std::vector<double>& times, const std::vector<double>& energies, double t,
                                const nlohmann::json& config);


} // namespace kmdflow::app
