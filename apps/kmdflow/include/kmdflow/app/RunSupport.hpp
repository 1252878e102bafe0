#pragma once
// What the run commands share: the run loop and its model interface, the run directory, output
// clocks, the progress line, signals and number formatting.

#include <kmdflow/Checkpoint.hpp>
#include <kmdflow/H5md.hpp>
#include <kmdflow/Integrator.hpp>
#include <kmdflow/app/Processes.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <type_traits>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace kmdflow::app {

/// Set by SIGINT/SIGTERM while a StopSignals guard is alive (0 otherwise).
extern std::atomic<int> stop_signal;

/// Catches SIGINT, SIGTERM and SIGUSR1 (what mpirun forwards) for its lifetime, so that a run can
/// stop cleanly.
class StopSignals {
public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

private:
  void (*m_int)(int);
  void (*m_term)(int);
  void (*m_usr1)(int);
};

std::string timestamp(const char* format);
/// %.17g, with inf / -inf / nan spelled out.
std::string number(double x);
nlohmann::json finite_or_null(double x);

/// --out, else output.dir, else runs/<config stem>-<date>.
std::filesystem::path choose_run_directory(const std::string& out, const std::string& config_path,
                                           const nlohmann::json& config);
/// Throws ConfigError where prepare_run_directory would refuse `dir`; changes nothing.
void check_run_directory(const std::filesystem::path& dir, bool force);
/// Creates `dir`; an existing one is refused unless `force`, and then emptied only if it is a run
/// (or study) directory holding nothing but what kmdflow writes (its files, nested run
/// directories): --force never deletes anything else, and never follows a symbolic link.
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

/// A run directory's run.log: what the terminal shows (the progress as plain lines, the end or
/// the error), each line with its wall-clock time, flushed as written. It holds a lock on the
/// file while open: a second process that opens the run directory's log (a --resume of a run
/// still going) gets a ConfigError.
class RunLog {
public:
  explicit RunLog(const std::filesystem::path& file);
  ~RunLog();
  RunLog(const RunLog&) = delete;
  RunLog& operator=(const RunLog&) = delete;
  void line(const std::string& text);

private:
  std::FILE* m_file = nullptr;
};

/// Where stderr is not a terminal (a batch job's log), a plain line every 30 s of wall time
/// instead (KMDFLOW_PROGRESS_SECONDS sets another interval): step, t, energy, steps/s, ETA. The
/// same plain lines go to `log` (if any) at that interval whatever stderr is.
/// A one-line progress display on stderr when it is a terminal.
class Progress {
public:
  explicit Progress(double t_end, bool enabled = true, RunLog* log = nullptr);
  void update(double t, long step, double energy, double wall);
  void finish();

private:
  std::string plain_line(double t, long step, double energy, double wall) const;
  double m_t_end;
  bool m_enabled, m_tty;
  RunLog* m_log;
  double m_interval = 30; // seconds between plain lines
  double m_last = -1, m_plain_last = 0;
  long m_plain_last_step = 0;
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
  /// The clock's position, for checkpoints.
  std::vector<long> counters() const { return {m_linear, m_log}; }
  void restore(const std::vector<long>& counters) { m_linear = counters.at(0), m_log = counters.at(1); }

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
  /// Both clocks' positions, for checkpoints.
  std::vector<long> counters() const;
  void restore(const std::vector<long>& counters);

private:
  OutputClock m_series, m_snapshots;
  double m_tolerance;
};

/// One row of series.csv after its step and t.
struct SeriesRow {
  double energy = 0, interaction_energy = 0, dissipation = 0, max_speed = 0;
};

/// What a kind of run (particles, the PDE, a ReLU network) gives the run loop: its state, how it
/// steps and what it records. The loop owns the run directory's files, the output schedule, the
/// progress line, signals, summary.json and the report (DESIGN.md §7).
class RunModel {
public:
  virtual ~RunModel() = default;
  /// config.json's kmdflow.engine and summary.json's engine ("sorted", "pde", "relu-direct").
  virtual std::string engine() const = 0;
  /// Further entries of config.json's kmdflow block (engine_parameters, ...).
  virtual nlohmann::json engine_record() const = 0;
  /// What /particles of trajectory.h5 holds.
  virtual H5mdParticles trajectory_layout() const = 0;
  /// Time-independent outputs, before the first row: static fields, side files in `dir`.
  virtual void write_static(const std::filesystem::path& dir, H5mdWriter& trajectory) = 0;
  /// Whether steps must stop at every output time; else only at t_end, and rows and frames are
  /// written at the first step that reaches their time.
  virtual bool lands_on_outputs() const = 0;
  /// One step of at most t_stop − t; moves t (onto t_stop when within `tolerance` of it).
  virtual void advance(double& t, double t_stop, double tolerance) = 0;
  /// After a step has been counted: throws if the state went bad.
  virtual void check_state() {}
  /// The row at the current state, remembered as the last (and the first) for the summary;
  /// throws if it is not finite.
  virtual SeriesRow diagnose() = 0;
  virtual void write_frame(H5mdWriter& trajectory, long step, double t) = 0;
  /// summary.json's entries of this kind: sizes, counters, initial and final diagnostics.
  virtual void summarise(nlohmann::json& summary) const = 0;
  /// What ran, for the first report line ("sorted engine, 1000 particles").
  virtual std::string description() const = 0;
  /// The report lines after the first (none before a first row).
  virtual std::vector<std::string> report() const = 0;
  /// summary.json's key of the late-time decay fit.
  virtual std::string decay_key() const { return "energy_decay"; }
  /// min ν of the target's density, for the theory's rate 2 min ν at s = 1 (DESIGN.md §2);
  /// none where the target has no density (samples) or the model has no such theory.
  virtual std::optional<double> target_minimum() const { return std::nullopt; }
  /// Adds to a checkpoint all the model needs to continue bit for bit (state, step size,
  /// counters, the first and last diagnostics); restore() takes it back (std::runtime_error if
  /// the checkpoint does not fit the model).
  virtual void save(Checkpoint& checkpoint) = 0;
  virtual void restore(const Checkpoint& checkpoint) = 0;
};

/// A run's diagnostics (a struct of doubles only: Energies, PdeDiagnostics, ...) as a checkpoint
/// array, and back, bit for bit.
template <class Row> std::vector<double> row_values(const Row& row) {
  static_assert(std::is_trivially_copyable_v<Row> && sizeof(Row) % sizeof(double) == 0, "a struct of doubles");
  std::vector<double> values(sizeof(Row) / sizeof(double));
  std::memcpy(values.data(), &row, sizeof(Row));
  return values;
}
template <class Row> Row row_from(const Checkpoint& checkpoint, const std::string& name) {
  const auto& values = checkpoint.array(name, long(sizeof(Row) / sizeof(double)));
  static_assert(std::is_trivially_copyable_v<Row> && sizeof(Row) % sizeof(double) == 0, "a struct of doubles");
  Row row;
  std::memcpy(static_cast<void*>(&row), values.data(), sizeof(Row)); // trivially copyable: a byte copy
  return row;
}

/// A checkpoint that `kmdflow run --resume` continues from, and its file name.
struct ResumeFrom {
  Checkpoint checkpoint;
  std::string file;
};

/// A run model whose state an explicit Runge–Kutta integrator steps (particles, ReLU neurons):
/// the state N × width on the device and the step size to try next (time.integrator, time.dt,
/// time.rtol, time.atol).
class IntegratorRun : public RunModel {
public:
  /// The state of `rows` (this rank's block of a run on several ranks, Processes.hpp: then its
  /// frames and checkpoints gather every block, and rk45 takes the whole state's norm).
  IntegratorRun(const nlohmann::json& config, const std::string& label, const Rows& rows, int width);
  IntegratorRun(const nlohmann::json& config, const std::string& label, std::size_t count, int width);
  // The integrator calls back into this object.
  IntegratorRun(const IntegratorRun&) = delete;
  IntegratorRun& operator=(const IntegratorRun&) = delete;
  // Adaptive steps land on every output time; fixed steps only on t_end.
  bool lands_on_outputs() const override { return m_integrator.adaptive(); }
  void advance(double& t, double t_stop, double tolerance) override;
  /// The integrator's counters: rejected_steps, force_evaluations.
  void summarise(nlohmann::json& summary) const override;
  /// The state, the step size to try next, the integrator's counters and cached velocity.
  void save(Checkpoint& checkpoint) override;
  /// From the whole state's arrays; on the ranks other than 0 of several, from their block's rows
  /// of the arrays that hold a row per particle (particle_arrays).
  void restore(const Checkpoint& checkpoint) override;
  /// The checkpoint's arrays that hold a row per particle.
  static constexpr const char* particle_arrays[] = {"state", "velocity"};
  const Rows& rows() const { return m_rows; }

  /// The state copied to the host (the state itself where the memory is the host's); on several
  /// ranks the whole state on rank 0, gathered from every block (each rank calls it together;
  /// the others get an empty view).
  const PointView<Kokkos::HostSpace>& state_on_host();

protected:
  /// dx/dt = v(x), the integrator's right-hand side.
  virtual void velocity(const ConstPointView<>& x, const PointView<>& v) = 0;

  /// The id (row of the whole state) of this block's row i.
  std::size_t id(std::size_t i) const { return m_moved ? m_ids[i] : m_rows.begin + i; }
  /// After a step on several ranks, the rows this block holds now (particles that moved between
  /// ranks, move_to_slabs): their ids, state (row major) and the cached velocity where the
  /// integrator has one (null: none). From then on frames and checkpoints gather by id.
  void adopt(std::vector<std::size_t> ids, const std::vector<double>& state, const std::vector<double>* velocity);

  PointView<> m_x; // this block's
  Integrator m_integrator;
  Rows m_rows; // the block the run started with (its ids until adopt)

private:
  PointView<Kokkos::HostSpace> m_x_host, m_all_host;
  double m_next_dt;
  bool m_moved = false;
  std::vector<std::size_t> m_ids; // of the rows, once adopted
};

/// An integrated run that remembers its first and last diagnostics (`Row`, a struct of doubles)
/// for the summary, and keeps them in its checkpoints.
template <class Row> class DiagnosedRun : public IntegratorRun {
public:
  using IntegratorRun::IntegratorRun;
  void save(Checkpoint& checkpoint) override {
    IntegratorRun::save(checkpoint);
    checkpoint.arrays["first_row"] = row_values(m_first.value());
    checkpoint.arrays["last_row"] = row_values(m_last);
  }
  void restore(const Checkpoint& checkpoint) override {
    IntegratorRun::restore(checkpoint);
    m_first = row_from<Row>(checkpoint, "first_row");
    m_last = row_from<Row>(checkpoint, "last_row");
  }

protected:
  std::optional<Row> m_first;
  Row m_last{};
};

/// The run every kind shares, into a prepared directory: config.json with its kmdflow block,
/// trajectory.h5 and series.csv; the first row and frame, then steps to t_end writing the rows
/// and frames that are due, and checkpoints (output.checkpoint_every of simulated time,
/// output.checkpoint_wall seconds of wall time, and on SIGINT/SIGTERM); a clean stop on a signal
/// and a failed run on an exception, both leaving every file complete; summary.json and the
/// report (`quiet`: no progress, no report lines, no plots). A completed run removes its
/// checkpoints. `resume`: continue the run in `dir` from that checkpoint instead (series.csv and
/// trajectory.h5 cut to its time). `resolved`: the configuration the setup was made from, which
/// checkpoints keep. `wall` started with the run. Returns the exit code.
int run_model(RunModel& model, const nlohmann::json& config, const nlohmann::json& resolved,
              const std::filesystem::path& dir, bool quiet, const WallClock& wall, const ResumeFrom* resume);

/// Builds a Model from a checked setup, then prepares `dir` (prepare_run_directory; not when
/// resuming) and runs the model into it: whatever fails while building (an engine refusing its
/// parameters, memory) leaves no directory behind. The wall clock counts the building too.
template <class Model, class Setup>
int run_model(const Setup& setup, const std::filesystem::path& dir, bool quiet, bool force, const ResumeFrom* resume) {
  const WallClock wall;
  Model model(setup);
  if (!resume) prepare_run_directory(dir, force);
  return run_model(model, setup.config, setup.resolved, dir, quiet, wall, resume);
}

/// `kmdflow run --resume DIR`: continues the run in DIR from its newest valid checkpoint. Refused
/// (ConfigError, nothing changed) where DIR is not a run directory, the run completed, no
/// checkpoint is valid, or config.json differs from the configuration the checkpoint recorded.
int resume_command(const std::string& dir);

/// "1 thread", "2 threads": the backend's concurrency, for messages.
std::string threads_text();

/// printf into a std::string.
std::string format(const char* format, ...) __attribute__((format(printf, 1, 2)));

/// Least-squares slope of y against x (NaN with fewer than 3 points).
double slope(const std::vector<double>& x, const std::vector<double>& y);

} // namespace kmdflow::app
