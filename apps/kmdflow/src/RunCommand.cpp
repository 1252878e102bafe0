#include <kmdflow/AtomicFile.hpp>
#include <kmdflow/H5md.hpp>
#include <kmdflow/Integrator.hpp>
#include <kmdflow/app/Commands.hpp>
#include <kmdflow/app/Setup.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <limits>
#include <unistd.h>

namespace kmdflow::app {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::atomic<int> stop_signal{0};
extern "C" void on_stop_signal(int signal) { stop_signal = signal; }

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

fs::path choose_run_directory(const RunOptions& options, const json& config) {
  if (!options.out.empty()) return options.out;
  if (config["output"].contains("dir")) return config["output"]["dir"].get<std::string>();
  const std::string stem = options.config.empty() ? "default" : fs::path(options.config).stem().string();
  return fs::path("runs") / (stem + "-" + timestamp("%Y%m%d-%H%M%S"));
}

// Refuses an existing directory unless --force, and then only one that is a run directory (or
// empty): --force must never delete anything else.
void prepare_run_directory(const fs::path& dir, bool force) {
  const std::string key = "output directory '" + dir.string() + "'";
  if (fs::exists(dir)) {
    if (!fs::is_directory(dir)) throw ConfigError(key, "exists and is not a directory");
    if (!force) throw ConfigError(key, "exists already (use --force to replace it)");
    if (!fs::is_empty(dir) && !fs::exists(dir / "config.json"))
      throw ConfigError(key, "is not a kmdflow run directory (no config.json): refusing to replace it");
    fs::remove_all(dir);
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw ConfigError(key, "cannot be created (" + ec.message() + ")");
}

/// The times at which rows and frames are due: multiples of an interval, and optionally
/// log-spaced times t0·10^{j/p}.
class OutputClock {
public:
  OutputClock(double every, double t_end, double log_start = 0, int per_decade = 0)
      : m_every(every), m_t_end(t_end), m_log_start(log_start), m_per_decade(per_decade) {}
  double next() const {
    double t = std::min(m_t_end, (m_linear + 1) * m_every);
    if (m_per_decade > 0) t = std::min(t, m_log_start * std::pow(10.0, double(m_log) / m_per_decade));
    return t;
  }
  bool due(double t, double tolerance) const { return t >= next() - tolerance; }
  void advance_past(double t, double tolerance) {
    while ((m_linear + 1) * m_every <= t + tolerance) ++m_linear;
    while (m_per_decade > 0 && m_log_start * std::pow(10.0, double(m_log) / m_per_decade) <= t + tolerance) ++m_log;
  }

private:
  double m_every, m_t_end, m_log_start;
  int m_per_decade;
  long m_linear = 0, m_log = 0;
};

/// Least-squares slope of y against x.
double slope(const std::vector<double>& x, const std::vector<double>& y) {
  const double n = double(x.size());
  if (n < 3) return std::numeric_limits<double>::quiet_NaN();
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) sx += x[i], sy += y[i], sxx += x[i] * x[i], sxy += x[i] * y[i];
  return (n * sxy - sx * sy) / (n * sxx - sx * sx);
}

class Progress {
public:
  explicit Progress(double t_end) : m_t_end(t_end), m_tty(isatty(STDERR_FILENO)) {}
  void update(double t, long step, double energy, double wall) {
    if (!m_tty || wall - m_last < 0.25) return;
    m_last = wall;
    const double fraction = t / m_t_end;
    std::fprintf(stderr, "\r\033[Kkmdflow: t = %-10.4g / %g (%5.1f%%)  step %-8ld E = %-11.4e %6.1f s, eta %.0f s",
                 t, m_t_end, 100 * fraction, step, energy, wall,
                 fraction > 0 ? wall * (1 - fraction) / fraction : 0.0);
    std::fflush(stderr);
    m_shown = true;
  }
  void finish() {
    if (m_shown) std::fprintf(stderr, "\r\033[K");
    m_shown = false;
  }

private:
  double m_t_end;
  bool m_tty;
  double m_last = -1;
  bool m_shown = false;
};

} // namespace

int run_command(const RunOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  auto wall = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(); };

  // Everything that can be the input's fault is checked before the run directory exists.
  const json resolved = load_config(options.config, options.overrides);
  ParticleSetup setup = make_particle_setup(resolved);
  const fs::path dir = choose_run_directory(options, setup.config);
  prepare_run_directory(dir, options.force);

  const json& c = setup.config;
  const int dim = c["dim"];
  const double s = c["s"], t_end = c["time"]["t_end"], dt = c["time"]["dt"];
  auto flow = make_flow(setup, setup.weights);
  const std::string engine_name = flow->engine().name();
  json recorded = c;
  recorded["kmdflow"] = {{"version", KMDFLOW_VERSION}, {"backend", backend_name()},
                         {"threads", backend_threads()}, {"engine", engine_name},
                         {"started", timestamp("%Y-%m-%dT%H:%M:%S%z")}};
  if (const auto parameters = flow->engine().parameters(); !parameters.empty())
    recorded["kmdflow"]["engine_parameters"] = parameters;
  write_file_atomically(dir / "config.json", recorded.dump(2) + "\n");

  const std::size_t n = setup.positions.extent(0);
  PointView<> x("kmdflow::run::positions", n, dim);
  Kokkos::deep_copy(x, setup.positions);
  auto x_host = Kokkos::create_mirror_view(x);

  const auto kind = parse_integrator(c["time"]["integrator"]);
  Integrator integrator(kind, [&](const ConstPointView<>& y, const PointView<>& v) { flow->velocity(y, v); },
                        n, dim, c["time"]["rtol"], c["time"]["atol"]);

  H5mdWriter trajectory(dir / "trajectory.h5", dim, setup.weights, KMDFLOW_VERSION);
  if (const Density* target = setup.target->density(); target && dim <= 2) {
    // The target density at the cell centres of a grid, for the plots.
    const std::size_t grid = dim == 1 ? 1024 : 128;
    std::vector<double> values(dim == 1 ? grid : grid * grid);
    for (std::size_t i = 0; i < values.size(); ++i) {
      const double xi[2] = {(i / (dim == 1 ? 1 : grid) + 0.5) / grid, (i % grid + 0.5) / grid};
      values[i] = target->value(xi);
    }
    trajectory.write_static_field("target_density", std::vector<std::size_t>(dim, grid), values);
  }
  StagedFile series(dir / "series.csv");
  series.write_line("step,t,energy,interaction_energy,dissipation,max_speed,wall_s");

  double t = 0;
  long step = 0;
  const double tolerance = 1e-9 * std::min(dt, t_end);
  OutputClock series_clock(c["output"]["series_every"], t_end, dt, c["output"]["series_per_decade"]);
  OutputClock snapshot_clock(c["output"]["snapshot_every"], t_end);
  Progress progress(t_end);
  std::vector<double> times, energies;
  Energies first, last;
  bool have_first = false;

  auto record_row = [&] {
    const auto& v = integrator.velocity(x);
    last = flow->energies(x, v);
    if (!have_first) first = last, have_first = true;
    if (!std::isfinite(last.interaction_energy) || !std::isfinite(last.dissipation))
      throw std::runtime_error("the energy became non-finite");
    series.write_line(std::to_string(step) + "," + number(t) + "," + number(last.energy) + "," +
                      number(last.interaction_energy) + "," + number(last.dissipation) + "," +
                      number(last.max_speed) + "," + number(wall()));
    times.push_back(t);
    energies.push_back(std::isfinite(last.energy) ? last.energy : last.interaction_energy);
  };
  auto record_frame = [&] {
    Kokkos::deep_copy(x_host, x);
    trajectory.append_frame(step, t, x_host);
  };
  auto positions_finite = [&] {
    int bad = 0;
    Kokkos::parallel_reduce(
        "kmdflow::run::check_finite", Kokkos::RangePolicy<ExecutionSpace>(0, n),
        KOKKOS_LAMBDA(std::size_t i, int& count) {
          for (int d = 0; d < dim; ++d) count += !Kokkos::isfinite(x(i, d));
        },
        bad);
    return bad == 0;
  };

  stop_signal = 0;
  auto previous_int = std::signal(SIGINT, on_stop_signal);
  auto previous_term = std::signal(SIGTERM, on_stop_signal);
  std::string status = "completed", message;
  try {
    record_row();
    record_frame();
    double next_dt = dt;
    while (t < t_end - tolerance) {
      if (stop_signal) {
        status = "interrupted";
        message = std::string("interrupted by signal ") + std::to_string(int(stop_signal));
        break;
      }
      // Adaptive steps land on every output time; fixed steps only on t_end (rows and frames are
      // then written at the first step that reaches their time).
      double t_stop = t_end;
      if (integrator.adaptive()) t_stop = std::min({t_end, series_clock.next(), snapshot_clock.next()});
      const auto taken = integrator.step(x, t, next_dt, t_stop);
      next_dt = taken.next;
      ++step;
      if (!positions_finite())
        throw std::runtime_error("the positions became non-finite (the step is too large for this "
                                 "flow; try a smaller time.dt or time.integrator = rk45)");
      const bool final_step = t >= t_end - tolerance;
      if (final_step || series_clock.due(t, tolerance)) {
        record_row();
        series_clock.advance_past(t, tolerance);
      }
      if (final_step || snapshot_clock.due(t, tolerance)) {
        record_frame();
        snapshot_clock.advance_past(t, tolerance);
      }
      progress.update(t, step, energies.back(), wall());
    }
  } catch (const std::exception& e) {
    status = "failed";
    message = e.what();
  }
  progress.finish();
  std::signal(SIGINT, previous_int);
  std::signal(SIGTERM, previous_term);

  // Whatever happened, leave every file complete and say where the run stopped.
  series.commit();
  trajectory.close();
  json summary;
  summary["status"] = status;
  if (!message.empty()) summary["message"] = message;
  summary["stopped_at"] = {{"step", step}, {"t", t}};
  summary["t_end"] = t_end;
  summary["steps"] = integrator.accepted_steps();
  summary["rejected_steps"] = integrator.rejected_steps();
  summary["force_evaluations"] = integrator.evaluations();
  summary["frames"] = trajectory.frames();
  summary["wall_s"] = wall();
  summary["engine"] = engine_name;
  summary["particles"] = n;
  summary["backend"] = backend_name();
  summary["threads"] = backend_threads();
  auto energies_json = [&](const Energies& e) {
    return json{{"energy", finite_or_null(e.energy)},
                {"interaction_energy", e.interaction_energy},
                {"dissipation", e.dissipation},
                {"max_speed", e.max_speed}};
  };
  if (have_first) {
    summary["initial"] = energies_json(first);
    summary["final"] = energies_json(last);
  }
  // Late-time decay of the (full, where finite) energy: an exponential rate fitted over the
  // second half of the run, a power-law exponent over its last 1.5 decades in t.
  {
    std::vector<double> tt, log_e, log_t, log_e_late;
    for (std::size_t i = 0; i < times.size(); ++i) {
      if (!(energies[i] > 0)) continue;
      if (times[i] >= 0.5 * t) tt.push_back(times[i]), log_e.push_back(std::log(energies[i]));
      if (times[i] >= t / 30 && times[i] > 0)
        log_t.push_back(std::log(times[i])), log_e_late.push_back(std::log(energies[i]));
    }
    const double rate = -slope(tt, log_e), exponent = -slope(log_t, log_e_late);
    json fit = {{"exponential_rate", finite_or_null(rate)},
                {"exponential_window", {0.5 * t, t}},
                {"power_law_exponent", finite_or_null(exponent)},
                {"power_law_window", {t / 30, t}}};
    // DESIGN.md §2: rate 2 for s = 1 near a uniform target; (s + r)/(s − 1) for s > 1 from a
    // perturbation of regularity r.
    if (s == 1 && c["target"]["type"] == "uniform") fit["predicted_rate"] = 2.0;
    if (s > 1 && c["target"]["type"] == "uniform" && c["initial"]["type"] == "perturbed")
      fit["predicted_exponent"] = (s + c["initial"]["r"].get<double>()) / (s - 1);
    summary["energy_decay"] = fit;
  }
  write_file_atomically(dir / "summary.json", summary.dump(2) + "\n");

  const std::string where = dir.string();
  if (status != "completed") {
    std::fprintf(stderr, "error: run %s at step %ld, t = %g: %s (results so far in %s)\n",
                 status.c_str(), step, t, message.c_str(), where.c_str());
    return 1;
  }
  std::printf("kmdflow: %ld steps to t = %g in %.1f s (%s engine, %zu particles, %s, %d threads)\n",
              step, t, wall(), engine_name.c_str(), n, backend_name().c_str(), backend_threads());
  if (have_first)
    std::printf("  %s: %.4e -> %.4e\n", std::isfinite(last.energy) ? "energy" : "interaction energy",
                std::isfinite(first.energy) ? first.energy : first.interaction_energy,
                std::isfinite(last.energy) ? last.energy : last.interaction_energy);
  std::printf("  results: %s/ (config.json, series.csv, trajectory.h5, summary.json)\n", where.c_str());
  if (c["output"]["plots"].get<bool>()) {
    if (plot_command(where, true) == 0)
      std::printf("  plots:   %s/energy.png, %s/density.png\n", where.c_str(), where.c_str());
    else
      std::printf("  plots:   not made (run `kmdflow plot %s` to see why)\n", where.c_str());
  }
  std::fflush(stdout);
  return 0;
}

} // namespace kmdflow::app
