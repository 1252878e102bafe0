#include <kmdflow/AtomicFile.hpp>
#include <kmdflow/Config.hpp>
#include <kmdflow/app/Commands.hpp>
#include <kmdflow/app/Processes.hpp>
#include <kmdflow/app/Provenance.hpp>
#include <kmdflow/app/RunSupport.hpp>
#include <kmdflow/app/Setup.hpp>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdarg>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <limits>
#include <optional>
#include <sstream>
#include <sys/file.h>
#include <unistd.h>

namespace kmdflow::app {

using nlohmann::json;
namespace fs = std::filesystem;

std::atomic<int> stop_signal{0};

namespace {
extern "C" void on_stop_signal(int signal) { stop_signal = signal; }
} // namespace

StopSignals::StopSignals() {
  stop_signal = 0;
  m_int = std::signal(SIGINT, on_stop_signal);
  m_term = std::signal(SIGTERM, on_stop_signal);
  // On several MPI ranks, `./kmdflow --ranks` turns SIGINT and SIGTERM into SIGUSR1 for mpirun to
  // forward (mpirun itself would kill the ranks at once).
  m_usr1 = std::signal(SIGUSR1, on_stop_signal);
}

StopSignals::~StopSignals() {
  std::signal(SIGINT, m_int);
  std::signal(SIGTERM, m_term);
  std::signal(SIGUSR1, m_usr1);
}

std::string timestamp(const char* format) {
  const std::time_t now = std::time(nullptr);
  char buffer[64];
  std::strftime(buffer, sizeof buffer, format, std::localtime(&now));
  return buffer;
}

std::string number(double x) {
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  if (std::isnan(x)) return "nan";
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.17g", x);
  return buffer;
}

json finite_or_null(double x) { return std::isfinite(x) ? json(x) : json(nullptr); }

fs::path choose_run_directory(const std::string& out, const std::string& config_path, const json& config) {
  if (!out.empty()) return out;
  if (config["output"].contains("dir")) return config["output"]["dir"].get<std::string>();
  const std::string stem = config_path.empty() ? "default" : fs::path(config_path).stem().string();
  return fs::path("runs") / (stem + "-" + timestamp("%Y%m%d-%H%M%S"));
}

namespace {

/// The names of the files kmdflow writes into a run or study directory (DESIGN.md §7, the plots,
/// the studies' tables), its staged ".part" files, and its checkpoints.
bool is_kmdflow_file(const std::string& name) {
  static const char* const names[] = {"config.json",  "summary.json", "series.csv",  "trajectory.h5", "run.log",
                                      "study.json",   "scaling.csv",  "teacher.csv", "rates.csv",     "rates.md",
                                      "energy.png",   "density.png",  "distance.png", "wall.png",     "relu_rates.csv",
                                      "relu_rates.md", "relu_rates.png", "plots.json", "trajectory.xyz",
                                      "trajectory.npz"};
  const auto ends_with = [&](const std::string& suffix) {
    return name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (ends_with(".part")) return is_kmdflow_file(name.substr(0, name.size() - 5));
  if (std::find(std::begin(names), std::end(names), name) != std::end(names)) return true;
  return (name.rfind("checkpoint", 0) == 0 && ends_with(".h5")) || (name.rfind("rates_", 0) == 0 && ends_with(".png"));
}

bool is_marked_as_kmdflow(const fs::path& dir) {
  return fs::is_regular_file(fs::symlink_status(dir / "config.json")) ||
         fs::is_regular_file(fs::symlink_status(dir / "study.json"));
}

/// The first entry under `dir` that kmdflow did not write (empty if none): anything but its
/// files, and subdirectories that are not themselves kmdflow run directories (symbolic links
/// are never followed: a link is foreign).
fs::path first_foreign_entry(const fs::path& dir) {
  for (const auto& entry : fs::directory_iterator(dir)) {
    const auto status = entry.symlink_status();
    const std::string name = entry.path().filename().string();
    if (fs::is_regular_file(status) && is_kmdflow_file(name)) continue;
    if (fs::is_directory(status) && is_marked_as_kmdflow(entry.path())) {
      if (fs::path inner = first_foreign_entry(entry.path()); !inner.empty()) return inner;
      continue;
    }
    return entry.path();
  }
  return {};
}

} // namespace

void check_run_directory(const fs::path& dir, bool force) {
  const std::string key = "output directory '" + dir.string() + "'";
  std::error_code ec;
  const auto status = fs::symlink_status(dir, ec);
  if (!fs::exists(status)) return;
  if (!fs::is_directory(status))
    throw ConfigError(key, fs::is_symlink(status) ? "is a symbolic link: give the directory itself"
                                                  : "exists and is not a directory");
  if (!force) throw ConfigError(key, "exists already (use --force to replace it)");
  // --force replaces a run: it removes what kmdflow wrote there, and refuses if anything else is
  // there (a project folder that happens to hold a config.json kept its sources).
  try {
    if (fs::is_empty(dir)) return;
    if (!is_marked_as_kmdflow(dir))
      throw ConfigError(key, "is not a kmdflow run directory (no config.json): refusing to replace it");
    if (const fs::path foreign = first_foreign_entry(dir); !foreign.empty())
      throw ConfigError(key, "holds '" + foreign.lexically_relative(dir).string() +
                                 "', which kmdflow did not write: refusing to replace it (move it away, or "
                                 "choose another --out)");
  } catch (const fs::filesystem_error& e) {
    throw ConfigError(key, std::string("cannot be replaced (") + e.code().message() + ")");
  }
}

void prepare_run_directory(const fs::path& dir, bool force) {
  check_run_directory(dir, force);
  const std::string key = "output directory '" + dir.string() + "'";
  std::error_code ec;
  if (fs::is_directory(fs::symlink_status(dir, ec))) {
    try {
      for (const auto& entry : fs::directory_iterator(dir)) fs::remove_all(entry.path());
    } catch (const fs::filesystem_error& e) {
      throw ConfigError(key, std::string("cannot be replaced (") + e.code().message() + ")");
    }
    return;
  }
  fs::create_directories(dir, ec);
  if (ec) throw ConfigError(key, "cannot be created (" + ec.message() + ")");
}

double OutputClock::next() const {
  double t = std::min(m_t_end, (m_linear + 1) * m_every);
  if (m_per_decade > 0) t = std::min(t, m_log_start * std::pow(10.0, double(m_log) / m_per_decade));
  return t;
}

void OutputClock::advance_past(double t, double tolerance) {
  while ((m_linear + 1) * m_every <= t + tolerance) ++m_linear;
  while (m_per_decade > 0 && m_log_start * std::pow(10.0, double(m_log) / m_per_decade) <= t + tolerance) ++m_log;
}

OutputSchedule::OutputSchedule(const json& c, double tolerance)
    : m_series(c["output"]["series_every"], c["time"]["t_end"], c["time"]["dt"], c["output"]["series_per_decade"]),
      m_snapshots(c["output"]["snapshot_every"], c["time"]["t_end"], c["time"]["dt"],
                  c["output"].value("snapshot_per_decade", 0)),
      m_tolerance(tolerance) {}

std::vector<long> OutputSchedule::counters() const {
  auto counters = m_series.counters();
  for (long c : m_snapshots.counters()) counters.push_back(c);
  return counters;
}

void OutputSchedule::restore(const std::vector<long>& counters) {
  if (counters.size() != 4) throw std::runtime_error("the checkpoint's output clocks are not 4 counters");
  m_series.restore({counters[0], counters[1]});
  m_snapshots.restore({counters[2], counters[3]});
}

std::string threads_text() {
  const int threads = backend_threads();
  const std::string text = std::to_string(threads) + (threads == 1 ? " thread" : " threads");
  const int ranks = process_count();
  return ranks == 1 ? text : std::to_string(ranks) + " ranks × " + text + (threads == 1 ? "" : " each");
}

std::string format(const char* format, ...) {
  char buffer[1024];
  va_list args;
  va_start(args, format);
  std::vsnprintf(buffer, sizeof buffer, format, args);
  va_end(args);
  return buffer;
}

double slope(const std::vector<double>& x, const std::vector<double>& y) {
  const double n = double(x.size());
  if (n < 3) return std::numeric_limits<double>::quiet_NaN();
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) sx += x[i], sy += y[i], sxx += x[i] * x[i], sxy += x[i] * y[i];
  return (n * sxy - sx * sy) / (n * sxx - sx * sx);
}

RunLog::RunLog(const fs::path& file) : m_file(std::fopen(file.c_str(), "a")) {
  if (!m_file) throw std::runtime_error("cannot write '" + file.string() + "'");
  if (::flock(fileno(m_file), LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
    std::fclose(m_file);
    m_file = nullptr;
    throw ConfigError("run directory '" + file.parent_path().string() + "'",
                      "is in use by another kmdflow process (its run.log is locked)");
  }
}

RunLog::~RunLog() {
  if (m_file) std::fclose(m_file);
}

void RunLog::line(const std::string& text) {
  std::fprintf(m_file, "[%s] %s\n", timestamp("%Y-%m-%dT%H:%M:%S").c_str(), text.c_str());
  std::fflush(m_file);
}

Progress::Progress(double t_end, bool enabled, RunLog* log)
    : m_t_end(t_end), m_enabled(enabled), m_tty(enabled && isatty(STDERR_FILENO)), m_log(log) {
  if (const char* seconds = std::getenv("KMDFLOW_PROGRESS_SECONDS")) {
    char* end = nullptr;
    const double value = std::strtod(seconds, &end);
    if (end != seconds && value >= 0) m_interval = value;
  }
}

std::string Progress::plain_line(double t, long step, double energy, double wall) const {
  const double fraction = t / m_t_end;
  const double rate = double(step - m_plain_last_step) / std::max(wall - m_plain_last, 1e-9);
  return format("kmdflow: step %ld, t = %.6g / %g (%.1f%%), E = %.6e, %.3g steps/s, %.1f s, eta %.0f s", step, t,
                m_t_end, 100 * fraction, energy, rate, wall, fraction > 0 ? wall * (1 - fraction) / fraction : 0.0);
}

void Progress::update(double t, long step, double energy, double wall) {
  // Plain lines (a batch log, run.log) every interval.
  if ((m_log || (m_enabled && !m_tty)) && wall - m_plain_last >= m_interval) {
    const std::string line = plain_line(t, step, energy, wall);
    m_plain_last = wall, m_plain_last_step = step;
    if (m_log) m_log->line(line);
    if (m_enabled && !m_tty) {
      std::fprintf(stderr, "%s\n", line.c_str());
      std::fflush(stderr);
    }
  }
  if (!m_tty || wall - m_last < 0.25) return;
  m_last = wall;
  const double fraction = t / m_t_end;
  std::fprintf(stderr, "\r\033[Kkmdflow: t = %-10.4g / %g (%5.1f%%)  step %-8ld E = %-11.4e %6.1f s, eta %.0f s", t,
               m_t_end, 100 * fraction, step, energy, wall, fraction > 0 ? wall * (1 - fraction) / fraction : 0.0);
  std::fflush(stderr);
  m_shown = true;
}

void Progress::finish() {
  if (m_shown) std::fprintf(stderr, "\r\033[K");
  m_shown = false;
}

IntegratorRun::IntegratorRun(const json& c, const std::string& label, const Rows& rows, int width)
    : m_x(label, rows.size(), width),
      m_integrator(
          parse_integrator(c["time"]["integrator"]),
          [this](const ConstPointView<>& x, const PointView<>& v) { velocity(x, v); }, rows.size(), width,
          c["time"]["rtol"], c["time"]["atol"]),
      m_rows(rows), m_x_host(Kokkos::create_mirror_view(m_x)), m_next_dt(c["time"]["dt"]) {
  if (!rows.shared) return;
  // Every rank steps its block; rk45 sizes the steps by the whole state's norm.
  m_integrator.set_sum_across(sum_across_ranks);
  if (process_rank() == 0) m_all_host = PointView<Kokkos::HostSpace>(label + "_all", rows.total, width);
}

IntegratorRun::IntegratorRun(const json& c, const std::string& label, std::size_t count, int width)
    : IntegratorRun(c, label, all_rows(count), width) {}

void IntegratorRun::advance(double& t, double t_stop, double) {
  m_next_dt = m_integrator.step(m_x, t, m_next_dt, t_stop).next;
}

void IntegratorRun::summarise(json& summary) const {
  summary["rejected_steps"] = m_integrator.rejected_steps();
  summary["force_evaluations"] = m_integrator.evaluations();
}

void IntegratorRun::save(Checkpoint& checkpoint) {
  const auto& x = state_on_host();
  checkpoint.arrays["state"].assign(x.data(), x.data() + x.size());
  checkpoint.arrays["step_size"] = {m_next_dt};
  const auto counters = m_integrator.counters();
  checkpoint.arrays["integrator_counters"] = {double(counters.accepted), double(counters.rejected),
                                              double(counters.evaluations)};
  if (const PointView<>* v = m_integrator.cached_velocity()) {
    const auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), *v);
    auto& velocity = checkpoint.arrays["velocity"];
    if (!m_rows.shared) {
      velocity.assign(host.data(), host.data() + host.size());
    } else {
      velocity.resize(process_rank() == 0 ? m_all_host.size() : 0);
      if (m_moved) gather_by_ids(host.data(), m_ids, int(m_x.extent(1)), velocity.data());
      else gather_rows(host.data(), m_rows, int(m_x.extent(1)), velocity.data());
    }
  }
}

void IntegratorRun::restore(const Checkpoint& checkpoint) {
  // The whole state's arrays, this block's rows of them; or, on the ranks other than 0 of several,
  // this block's alone (share_run sends them no more). Before any particle has moved.
  if (m_moved) throw std::logic_error("IntegratorRun::restore: particles have moved between ranks");
  const std::size_t width = m_x.extent(1);
  const bool whole = !m_rows.shared || process_rank() == 0;
  const auto& state = checkpoint.array("state", long((whole ? m_rows.total : m_rows.size()) * width));
  const std::size_t begin = whole ? m_rows.begin * width : 0, end = begin + m_rows.size() * width;
  std::copy(state.begin() + begin, state.begin() + end, m_x_host.data());
  Kokkos::deep_copy(m_x, m_x_host);
  m_next_dt = checkpoint.array("step_size", 1)[0];
  const auto& c = checkpoint.array("integrator_counters", 3);
  const auto velocity = checkpoint.arrays.find("velocity");
  if (velocity == checkpoint.arrays.end()) {
    m_integrator.restore({long(c[0]), long(c[1]), long(c[2])}, nullptr);
    return;
  }
  if (velocity->second.size() != state.size())
    throw std::runtime_error("the checkpoint's velocity does not match the state");
  const std::vector<double> mine(velocity->second.begin() + begin, velocity->second.begin() + end);
  m_integrator.restore({long(c[0]), long(c[1]), long(c[2])}, &mine);
}

const PointView<Kokkos::HostSpace>& IntegratorRun::state_on_host() {
  Kokkos::deep_copy(m_x_host, m_x);
  if (!m_rows.shared) return m_x_host;
  if (m_moved) gather_by_ids(m_x_host.data(), m_ids, int(m_x.extent(1)), m_all_host.data());
  else gather_rows(m_x_host.data(), m_rows, int(m_x.extent(1)), m_all_host.data());
  return m_all_host; // empty on the ranks other than 0
}

void IntegratorRun::adopt(std::vector<std::size_t> ids, const std::vector<double>& state,
                          const std::vector<double>* velocity) {
  const std::size_t width = m_x.extent(1), count = ids.size();
  if (state.size() != count * width || (velocity && velocity->size() != state.size()))
    throw std::logic_error("IntegratorRun::adopt: the state does not match the ids");
  const std::string label = m_x.label();
  m_x = PointView<>(), m_x_host = PointView<Kokkos::HostSpace>(); // the old go before the new come
  m_x = PointView<>(Kokkos::view_alloc(Kokkos::WithoutInitializing, label), count, width);
  m_x_host = Kokkos::create_mirror_view(m_x);
  std::copy(state.begin(), state.end(), m_x_host.data());
  Kokkos::deep_copy(m_x, m_x_host);
  m_integrator.resize(count, velocity);
  m_ids = std::move(ids);
  m_moved = true;
}

namespace {

/// How a run ended: "completed", "interrupted" (SIGINT/SIGTERM) or "failed", with a message.
struct RunOutcome {
  std::string status = "completed", message;
};

/// The first entries of summary.json: status, message, where the run stopped, t_end.
json summary_head(const RunOutcome& outcome, long step, double t, double t_end) {
  json summary;
  summary["status"] = outcome.status;
  if (!outcome.message.empty()) summary["message"] = outcome.message;
  summary["stopped_at"] = {{"step", step}, {"t", t}};
  summary["t_end"] = t_end;
  return summary;
}

/// The end of a run, after summary.json is written: a failed or interrupted run prints one
/// `error:` line saying where it stopped (exit code 1); a completed one prints `lines` and makes
/// the plots unless quiet (exit code 0). Either goes to run.log as well.
int report_run_end(const fs::path& dir, const std::string& status, const std::string& message, long step, double t,
                   bool quiet, bool plots, const std::vector<std::string>& lines, RunLog& log) {
  const std::string where = dir.string();
  if (status != "completed") {
    const std::string error = format("error: run %s at step %ld, t = %g: %s", status.c_str(), step, t, message.c_str());
    log.line(error);
    std::fprintf(stderr, "%s (results so far in %s)\n", error.c_str(), where.c_str());
    return 1;
  }
  for (const auto& line : lines) log.line(line);
  if (quiet) return 0;
  for (const auto& line : lines) std::printf("%s\n", line.c_str());
  std::printf("  results: %s/ (config.json, series.csv, trajectory.h5, summary.json, run.log)\n", where.c_str());
  if (plots) {
    if (plot_command(where, true) == 0)
      std::printf("  plots:   %s/energy.png, %s/density.png\n", where.c_str(), where.c_str());
    else
      std::printf("  plots:   not made (run `kmdflow plot %s` to see why)\n", where.c_str());
  }
  std::fflush(stdout);
  return 0;
}

/// The late-time fits of summary.json, of one named quantity: the energy, or the dissipation
/// −dE/dt where the energy is infinite (2s ≤ d; the interaction energy turns negative there). An
/// exponential rate over the second half of the run and a power-law exponent over its last 1.5
/// decades, with the theory's values where DESIGN.md §2 gives them: the rate 2 min ν for s = 1
/// (exact near a uniform target; the late-time rate, with a factor t^−β, otherwise) and the
/// exponent (s + r)/(s − 1) for s > 1 from a perturbation of regularity r of the uniform target
/// (one more for the dissipation). kmdflow plot draws these same values.
json energy_decay_fit(const std::vector<double>& times, const std::vector<double>& values, double t,
                      const std::string& quantity, std::optional<double> target_minimum, const json& c) {
  std::vector<double> tt, log_e, log_t, log_e_late;
  for (std::size_t i = 0; i < times.size(); ++i) {
    if (!(values[i] > 0)) continue;
    if (times[i] >= 0.5 * t) tt.push_back(times[i]), log_e.push_back(std::log(values[i]));
    if (times[i] >= t / 30 && times[i] > 0) log_t.push_back(std::log(times[i])), log_e_late.push_back(std::log(values[i]));
  }
  const double rate = -slope(tt, log_e), exponent = -slope(log_t, log_e_late);
  json fit = {{"quantity", quantity},
              {"exponential_rate", finite_or_null(rate)},
              {"exponential_window", {0.5 * t, t}},
              {"power_law_exponent", finite_or_null(exponent)},
              {"power_law_window", {t / 30, t}}};
  if (c.value("model", "sobolev") != "sobolev" || c["kernel"]["type"] != "sobolev") return fit;
  const double s = c["s"];
  const bool uniform = c["target"]["type"] == "uniform";
  if (s == 1 && target_minimum) {
    fit["predicted_rate"] = 2 * *target_minimum;
    fit["theory"] = uniform ? "rate 2 (DESIGN.md §2, s = 1, uniform target)"
                            : format("late-time rate 2 min ν = %.4g, with a factor t^-β (DESIGN.md §2, s = 1)",
                                     2 * *target_minimum);
  }
  if (s > 1 && uniform && c["initial"]["type"] == "perturbed") {
    const double r = c["initial"]["r"];
    const bool dissipation = quantity == "dissipation";
    fit["predicted_exponent"] = (s + r) / (s - 1) + (dissipation ? 1 : 0);
    fit["theory"] = format("exponent (s + r)/(s - 1)%s with r = %g (DESIGN.md §2, uniform target)",
                           dissipation ? " + 1" : "", r);
  }
  return fit;
}

} // namespace

namespace {

/// Fault injection for the resume tests (KMDFLOW_FAULT; never set in normal use): the process
/// kills itself with SIGKILL as a node loss would, "after-step:N" once step N's outputs and
/// checkpoint are written, "checkpoint:K:POINT" within its K-th checkpoint write at POINT:
/// "written" (the staged file complete), "torn" (the staged file cut to half its length), or
/// "rotated" (the old checkpoint renamed, the new one not yet); "term-after-step:N" sends itself
/// SIGTERM after step N instead, as a batch system's time limit does.
struct Fault {
  long after_step = -1, term_after_step = -1, checkpoint = -1;
  std::string point;

  Fault() {
    const char* text = std::getenv("KMDFLOW_FAULT");
    if (!text) return;
    const std::string spec = text;
    if (spec.rfind("after-step:", 0) == 0) after_step = std::atol(spec.c_str() + 11);
    if (spec.rfind("term-after-step:", 0) == 0) term_after_step = std::atol(spec.c_str() + 16);
    if (spec.rfind("checkpoint:", 0) == 0) {
      checkpoint = std::atol(spec.c_str() + 11);
      point = spec.substr(spec.find(':', 11) + 1);
    }
  }
  static void kill() {
    std::fflush(nullptr);
    std::raise(SIGKILL);
  }
};

/// The rows of series.csv as far as a checkpoint recorded, which a resumed run continues: times,
/// energies (the energy, or the interaction energy where it is infinite) for the check that the
/// energy does not rise, and the fitted quantity (the energy, or the dissipation where it is
/// infinite).
void read_series(const fs::path& file, std::uintmax_t bytes, std::size_t rows, std::vector<double>& times,
                 std::vector<double>& energies, std::vector<double>& fitted, bool& finite_energy) {
  std::ifstream in(file, std::ios::binary);
  std::string text(bytes, '\0');
  if (!in.read(text.data(), std::streamsize(bytes)))
    throw std::runtime_error("cannot read '" + file.string() + "'");
  std::stringstream lines(text);
  std::string line;
  std::getline(lines, line); // the header
  while (std::getline(lines, line)) {
    double field[5];
    const char* p = line.c_str();
    for (double& f : field) {
      char* end = nullptr;
      f = std::strtod(p, &end);
      if (end == p || (*end != ',' && *end != '\0')) throw std::runtime_error("'" + file.string() + "' is damaged");
      p = *end ? end + 1 : end;
    }
    times.push_back(field[1]);
    energies.push_back(std::isfinite(field[2]) ? field[2] : field[3]);
    fitted.push_back(std::isfinite(field[2]) ? field[2] : field[4]);
    finite_energy = finite_energy && std::isfinite(field[2]);
  }
  if (times.size() != rows)
    throw std::runtime_error("'" + file.string() + "' holds " + std::to_string(times.size()) +
                             " rows where the checkpoint recorded " + std::to_string(rows));
}

} // namespace

int run_model(RunModel& model, const json& c, const json& resolved, const fs::path& dir, bool quiet,
              const WallClock& wall, const ResumeFrom* resume) {
  const double t_end = c["time"]["t_end"], dt = c["time"]["dt"];
  const double checkpoint_wall = c["output"]["checkpoint_wall"];
  // The log first: it locks the directory against a second process (a --resume of a live run).
  RunLog log(dir / "run.log");
  busy_machine_note();
  if (!resume) {
    json recorded = c;
    recorded["kmdflow"] = provenance();
    recorded["kmdflow"]["engine"] = model.engine();
    recorded["kmdflow"]["started"] = timestamp("%Y-%m-%dT%H:%M:%S%z");
    recorded["kmdflow"].update(model.engine_record());
    write_file_atomically(dir / "config.json", recorded.dump(2) + "\n");
  }

  double t = 0, wall_before = 0; // wall_before: the wall time of the run before its resumption
  long step = 0;
  const double tolerance = 1e-9 * std::min(dt, t_end);
  OutputSchedule outputs(c, tolerance);
  OutputClock checkpoints(c["output"]["checkpoint_every"], t_end);
  // The energy, or the interaction energy where it is infinite (2s ≤ d), for the check that it
  // does not rise; the energy, or the dissipation where it is infinite, for the fits.
  std::vector<double> times, energies, fitted;
  bool finite_energy = true;
  json resumptions = json::array();
  std::optional<StagedFile> series;
  std::optional<H5mdWriter> trajectory;
  if (resume) {
    const Checkpoint& k = resume->checkpoint;
    model.restore(k);
    const auto& clock = k.array("clock", 2);
    t = clock[0], wall_before = clock[1];
    step = k.record.at("step");
    outputs.restore(k.record.at("outputs").get<std::vector<long>>());
    checkpoints.advance_past(t, tolerance);
    resumptions = k.record.value("resumptions", json::array());
    resumptions.push_back({{"step", step}, {"t", t}, {"from", resume->file}, {"at", timestamp("%Y-%m-%dT%H:%M:%S%z")}});
    const std::uintmax_t bytes = k.record.at("series_bytes");
    series.emplace(dir / "series.csv", bytes);
    read_series(staged_or_final(dir / "series.csv"), bytes, k.record.at("series_rows"), times, energies, fitted,
                finite_energy);
    trajectory.emplace(dir / "trajectory.h5", k.record.at("frames").get<long>(), k.record.at("series_rows").get<long>());
    log.line(format("kmdflow %s: resumed from %s at step %ld, t = %.17g (%s, %s)", KMDFLOW_VERSION,
                    resume->file.c_str(), step, t, backend_name().c_str(), threads_text().c_str()));
  }
  // A fresh run's files: a failure here (a full disk) is a failed run like one later on.
  RunOutcome outcome;
  if (!resume) {
    log.line(format("kmdflow %s: %s to t = %g (%s, %s) into %s", KMDFLOW_VERSION, model.description().c_str(),
                    t_end, backend_name().c_str(), threads_text().c_str(), dir.string().c_str()));
    try {
      trajectory.emplace(dir / "trajectory.h5", model.trajectory_layout(), KMDFLOW_VERSION);
      // Provenance in /parameters: what config.json's kmdflow block holds, and the configuration.
      std::vector<std::pair<std::string, std::string>> parameters{{"config", c.dump()},
                                                                  {"started", timestamp("%Y-%m-%dT%H:%M:%S%z")}};
      const json source = provenance();
      for (const auto& [key, value] : source.items())
        parameters.emplace_back(key, value.is_string() ? value.get<std::string>() : value.dump());
      trajectory->write_parameters(author_of(c), parameters);
      model.write_static(dir, *trajectory);
      series.emplace(dir / "series.csv");
      series->write_line("step,t,energy,interaction_energy,dissipation,max_speed,wall_s");
    } catch (const std::exception& e) {
      outcome = {"failed", e.what()};
    }
  }

  Progress progress(t_end, !quiet, &log);
  auto record_row = [&] {
    const SeriesRow row = model.diagnose();
    series->write_line(std::to_string(step) + "," + number(t) + "," + number(row.energy) + "," +
                       number(row.interaction_energy) + "," + number(row.dissipation) + "," +
                       number(row.max_speed) + "," + number(wall_before + wall()));
    trajectory->append_observables(step, t,
                                   {{"energy", row.energy},
                                    {"interaction_energy", row.interaction_energy},
                                    {"dissipation", row.dissipation},
                                    {"max_speed", row.max_speed}});
    times.push_back(t);
    energies.push_back(std::isfinite(row.energy) ? row.energy : row.interaction_energy);
    fitted.push_back(std::isfinite(row.energy) ? row.energy : row.dissipation);
    finite_energy = finite_energy && std::isfinite(row.energy);
    // A gradient flow's energy does not rise; where it has, by more than round-off could explain,
    // the steps are beyond the integrator's stability limit and what follows is not the flow.
    const double first = energies.front(), now = energies.back();
    if (now - first > 0.01 * std::abs(first) + 1e-12)
      throw std::runtime_error(format("the energy rose from %.6g to %.6g, which a gradient flow cannot do: the time "
                                      "step is beyond the integrator's stability limit (reduce time.dt, or use "
                                      "time.integrator \"rk45\")",
                                      first, now));
  };
  auto record_frame = [&] { model.write_frame(*trajectory, step, t); };

  // A checkpoint: series.csv and trajectory.h5 synced first, so that what the checkpoint
  // records of them is on the disk.
  static const Fault fault;
  long checkpoints_written = 0;
  double last_checkpoint_wall = wall();
  auto write_checkpoint_now = [&] {
    series->sync();
    trajectory->sync();
    Checkpoint k;
    k.record = {{"format", 1},
                {"kmdflow_version", KMDFLOW_VERSION},
                {"written", timestamp("%Y-%m-%dT%H:%M:%S%z")},
                {"backend", backend_name()},
                {"threads", backend_threads()},
                {"config", c},
                {"resolved", resolved},
                {"step", step},
                {"outputs", outputs.counters()},
                {"series_bytes", series->bytes()},
                {"series_rows", times.size()},
                {"frames", trajectory->frames()},
                {"resumptions", resumptions}};
    k.arrays["clock"] = {t, wall_before + wall()};
    model.save(k);
    const long number_written = ++checkpoints_written;
    write_checkpoint(k, dir / "checkpoint.h5", dir / "checkpoint.prev.h5",
                     [&](const char* point, const fs::path& staged) {
                       if (number_written != fault.checkpoint) return;
                       if (fault.point == "torn" && std::string(point) == "written") {
                         fs::resize_file(staged, fs::file_size(staged) / 2);
                         Fault::kill();
                       }
                       if (fault.point == point) Fault::kill();
                     });
    last_checkpoint_wall = wall();
    log.line(format("checkpoint at step %ld, t = %.17g", step, t));
  };

  if (outcome.status == "completed") {
    StopSignals signals;
    try {
      if (!resume) {
        record_row();
        record_frame();
      }
      while (t < t_end - tolerance) {
        if (stop_signal) {
          outcome = {"interrupted", "interrupted by signal " + std::to_string(int(stop_signal))};
          write_checkpoint_now();
          break;
        }
        // Steps that land on output times stop there; the others only at t_end.
        model.advance(t, model.lands_on_outputs() ? std::min(t_end, outputs.next()) : t_end, tolerance);
        ++step;
        model.check_state();
        const bool final_step = t >= t_end - tolerance;
        outputs.after_step(t, final_step, record_row, record_frame);
        if (!final_step && (checkpoints.due(t, tolerance) ||
                            (checkpoint_wall > 0 && wall() - last_checkpoint_wall >= checkpoint_wall))) {
          write_checkpoint_now();
          checkpoints.advance_past(t, tolerance);
        }
        if (step == fault.after_step) Fault::kill();
        if (step == fault.term_after_step) std::raise(SIGTERM);
        progress.update(t, step, energies.back(), wall());
      }
    } catch (const std::exception& e) {
      outcome = {"failed", e.what()};
    }
    progress.finish();
  }

  // Whatever happened, leave every file complete and say where the run stopped. A completed run
  // needs its checkpoints no more.
  const std::string ended = timestamp("%Y-%m-%dT%H:%M:%S%z");
  for (auto close : {std::function<void()>([&] {
                       if (series) series->commit();
                     }),
                     std::function<void()>([&] {
                       if (trajectory) trajectory->close();
                     }),
                     std::function<void()>([&] {
                       // config.json's record of when the run ended.
                       json recorded = read_config_file((dir / "config.json").string());
                       recorded["kmdflow"]["ended"] = ended;
                       write_file_atomically(dir / "config.json", recorded.dump(2) + "\n");
                     })}) {
    try {
      close();
    } catch (const std::exception& e) {
      if (outcome.status != "failed") outcome = {"failed", e.what()};
    }
  }
  if (outcome.status == "completed")
    for (const char* name : {"checkpoint.h5", "checkpoint.prev.h5", "checkpoint.h5.part"}) fs::remove(dir / name);
  json summary = summary_head(outcome, step, t, t_end);
  summary["steps"] = step;
  summary["frames"] = trajectory ? trajectory->frames() : 0;
  summary["wall_s"] = wall_before + wall();
  summary["engine"] = model.engine();
  summary["backend"] = backend_name();
  summary["threads"] = backend_threads();
  if (!resumptions.empty()) summary["resumptions"] = resumptions;
  model.summarise(summary);
  const std::string quantity = model.decay_key() == "loss_decay" ? "loss" : finite_energy ? "energy" : "dissipation";
  summary[model.decay_key()] = energy_decay_fit(times, fitted, t, quantity, model.target_minimum(), c);
  write_file_atomically(dir / "summary.json", summary.dump(2) + "\n");

  std::vector<std::string> lines{format("kmdflow: %ld steps to t = %g in %.1f s (%s, %s, %s)", step, t,
                                        wall_before + wall(), model.description().c_str(), backend_name().c_str(),
                                        threads_text().c_str())};
  for (auto& line : model.report()) lines.push_back(std::move(line));
  return report_run_end(dir, outcome.status, outcome.message, step, t, quiet, c["output"]["plots"].get<bool>(), lines,
                        log);
}

} // namespace kmdflow::app
