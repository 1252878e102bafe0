#include <kmdflow/H5md.hpp>
#include <kmdflow/Integrator.hpp>
#include <kmdflow/NpyFile.hpp>
#include <kmdflow/ParticleFile.hpp>
#include <kmdflow/app/Commands.hpp>
#include <kmdflow/app/Processes.hpp>
#include <kmdflow/app/RunSupport.hpp>
#include <kmdflow/app/Setup.hpp>

#include <kmdflow/AtomicFile.hpp>
#include <kmdflow/Checkpoint.hpp>
#include <kmdflow/Config.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

namespace kmdflow::app {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

/// The setup a resolved configuration describes, run into `dir` (continuing `resume` if given).
int run_resolved(const json& resolved, const fs::path& dir, bool force, const ResumeFrom* resume) {
  if (resolved["model"] == "relu") {
    require_one_process("model", "the ReLU model");
    return run_relu(make_relu_setup(resolved), dir, false, force, resume);
  }
  if (resolved["solver"] == "pde") {
    require_one_process("solver", "the PDE solver");
    return run_pde(make_pde_setup(resolved), dir, false, force, resume);
  }
  return run_particles(make_particle_setup(resolved), dir, false, force, resume);
}

/// The first key at which two configurations differ ("time.t_end"), for the error message.
std::string first_difference(const json& from, const json& to) {
  const json patch = json::diff(from, to);
  if (patch.empty()) return "";
  std::string path = patch[0]["path"];
  std::replace(path.begin(), path.end(), '/', '.');
  return path.empty() ? path : path.substr(1);
}

} // namespace

int default_threads(const RunOptions& options) {
  try {
    // A resumed run continues with the threads it started with: the same results, bit for bit;
    // on a machine with fewer cores, with all of them (resume_command says the results will
    // differ in their last bits).
    if (!options.resume.empty()) {
      const json config = read_config_file((fs::path(options.resume) / "config.json").string());
      const int recorded = config.value(json::json_pointer("/kmdflow/threads"), 0);
      const int cores = int(std::thread::hardware_concurrency());
      return cores > 0 && recorded > cores ? cores : recorded;
    }
    // 1D problems whose steps are a few short kernels run faster on one thread, and far faster on
    // a busy machine: the 1D PDE on at most 8192 cells, the sorted engine (integer s) with at most
    // 6000 particles (bench/README.md, under load).
    const json c = load_config(options.config, options.overrides, false);
    if (c["dim"] != 1 || c["model"] != "sobolev") return 0;
    if (c["solver"] == "pde") return c["pde"]["grid"].get<long>() <= 8192 ? 1 : 0;
    const json& kernel = c["kernel"];
    const bool integer_s = kernel["type"] == "sobolev" && c.contains("s") && std::floor(c["s"].get<double>()) == c["s"].get<double>();
    const std::string method = c["forces"]["method"];
    const bool sorted = integer_s && (method == "sorted" || method == "auto");
    if (!sorted) return 0;
    if (c["initial"]["type"] == "file") {
      // The file gives the count (before Kokkos starts: without its views). One that holds at
      // most 6000 particles is under a megabyte as CSV or .npy; an H5MD file takes all cores.
      const std::string path = c["initial"]["path"];
      std::error_code ec;
      const auto bytes = fs::file_size(path, ec);
      if (ec || bytes > (1u << 20) || is_h5md_path(path)) return 0;
      std::size_t count = 0;
      if (is_npy_path(path)) {
        count = read_npy(path).shape.at(0);
      } else {
        std::ifstream in(path);
        for (std::string line; std::getline(in, line);) count += line.find_first_not_of(" \t\r") != std::string::npos;
        count -= count > 0; // the header
      }
      return count <= 6000 ? 1 : 0;
    }
    return c["particles"]["count"].get<long>() <= 6000 ? 1 : 0;
  } catch (const std::exception&) {
    return 0; // the run itself says what is wrong
  }
}

namespace {
std::atomic<bool> note_enabled{true};
} // namespace

void enable_busy_machine_note(bool enabled) { note_enabled = enabled; }

namespace {

/// The cores that other work keeps busy now: /proc/stat's busy and idle jiffies over 0.1 s (this
/// process sleeps meanwhile). KMDFLOW_LOADAVG: a file whose first number is taken instead (tests).
double busy_cores(unsigned cores) {
  if (const char* file = std::getenv("KMDFLOW_LOADAVG")) {
    double busy = 0;
    if (std::FILE* f = std::fopen(file, "r")) {
      if (std::fscanf(f, "%lf", &busy) != 1) busy = 0;
      std::fclose(f);
    }
    return busy;
  }
  auto sample = [](double& busy, double& idle) {
    std::ifstream stat("/proc/stat");
    std::string cpu;
    double user = 0, nice = 0, system = 0, idle_ = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
    if (!(stat >> cpu >> user >> nice >> system >> idle_ >> iowait >> irq >> softirq >> steal) || cpu != "cpu")
      return false;
    busy = user + nice + system + irq + softirq + steal, idle = idle_ + iowait;
    return true;
  };
  double busy0, idle0, busy1, idle1;
  if (!sample(busy0, idle0)) return 0;
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  if (!sample(busy1, idle1) || busy1 + idle1 <= busy0 + idle0) return 0;
  return cores * (busy1 - busy0) / (busy1 - busy0 + idle1 - idle0);
}

} // namespace

void busy_machine_note() {
  if (!note_enabled.exchange(false)) return; // once
  if (process_count() > 1) return;            // the other ranks are this run's own work
  const int threads = Kokkos::DefaultHostExecutionSpace().concurrency();
  const unsigned cores = std::thread::hardware_concurrency();
  if (threads < 2 || cores == 0) return;
  const double busy = busy_cores(cores);
  if (!(cores - busy < threads - 0.5)) return;
  std::fprintf(stderr,
               "kmdflow: note: the machine is busy (other work keeps %.1f of its %u cores busy): %d threads will "
               "wait on each other behind it; --threads 1 may run faster (results agree to round-off)\n",
               busy, cores, threads);
}

int resume_command(const std::string& dir_name) {
  const fs::path dir = dir_name;
  const std::string key = "--resume '" + dir_name + "'";
  std::error_code ec;
  if (!fs::is_directory(fs::symlink_status(dir, ec))) throw ConfigError(key, "is not a directory");
  if (!fs::is_regular_file(dir / "config.json"))
    throw ConfigError(key, "is not a kmdflow run directory (no config.json)");
  if (fs::is_regular_file(dir / "summary.json")) {
    json summary;
    try {
      summary = json::parse(std::ifstream(dir / "summary.json"));
    } catch (const json::exception&) {
    }
    if (summary.is_object() && summary.value("status", "") == "completed")
      throw ConfigError(key, "the run completed (summary.json): there is nothing to resume");
  }
  // The newest checkpoint that reads back whole.
  std::optional<ResumeFrom> from;
  std::vector<std::string> problems;
  for (const char* name : {"checkpoint.h5", "checkpoint.prev.h5"}) {
    if (!fs::exists(dir / name)) continue;
    try {
      from = ResumeFrom{read_checkpoint(dir / name), name};
      const json& r = from->checkpoint.record;
      for (const char* entry : {"config", "resolved", "step", "outputs", "series_bytes", "series_rows", "frames"})
        if (!r.contains(entry)) throw std::runtime_error(std::string("its record has no '") + entry + "'");
      break;
    } catch (const std::exception& e) {
      from.reset();
      problems.push_back(std::string(name) + ": " + e.what());
    }
  }
  std::string problem_list;
  for (const auto& p : problems) problem_list += (problem_list.empty() ? "" : "; ") + p;
  if (!from)
    throw ConfigError(key, problems.empty() ? "holds no checkpoint (the run stopped before its first; start it again)"
                                            : "holds no valid checkpoint (" + problem_list + ")");
  if (!problems.empty())
    std::fprintf(stderr, "kmdflow: warning: %s; resuming from %s\n", problem_list.c_str(), from->file.c_str());
  // The run as config.json describes it must be the run the checkpoint continues.
  json config = read_config_file((dir / "config.json").string());
  config.erase("kmdflow");
  const json& recorded = from->checkpoint.record["config"];
  if (config != recorded)
    throw ConfigError((dir / "config.json").string(),
                      "differs from the configuration the checkpoint recorded (at " + first_difference(recorded, config) +
                          "): --resume continues the same run; start a new run for another configuration");
  const int threads = from->checkpoint.record.value("threads", 0);
  if (threads != backend_threads())
    std::fprintf(stderr,
                 "kmdflow: warning: the checkpoint was written with %d threads and this run has %d: the "
                 "continuation will not be bit-identical to an uninterrupted run (--threads %d makes it so)\n",
                 threads, backend_threads(), threads);
  for (const char* name : {"series.csv", "trajectory.h5"})
    if (staged_or_final(dir / name).empty()) throw ConfigError(key, std::string("has no ") + name + " to continue");
  return run_resolved(from->checkpoint.record["resolved"], dir, false, &*from);
}

int run_command(const RunOptions& options) {
  if (!options.resume.empty()) return resume_command(options.resume);
  // Everything that can be the input's fault is checked before the run directory exists, and
  // the directory is made only once the model is built.
  json resolved;
  if (options.config_text.empty()) {
    resolved = load_config(options.config, options.overrides);
  } else {
    json raw;
    try {
      raw = json::parse(options.config_text);
    } catch (const json::exception& e) {
      throw ConfigError("config", std::string("not JSON: ") + e.what());
    }
    resolved = load_config_json(std::move(raw), options.overrides);
  }
  if (resolved["model"] == "relu") {
    require_one_process("model", "the ReLU model");
    ReluSetup setup = make_relu_setup(resolved);
    const fs::path dir = choose_run_directory(options.out, options.config, setup.config);
    check_run_directory(dir, options.force);
    return run_relu(setup, dir, false, options.force);
  }
  if (resolved["solver"] == "pde") {
    require_one_process("solver", "the PDE solver");
    PdeSetup setup = make_pde_setup(resolved);
    const fs::path dir = choose_run_directory(options.out, options.config, setup.config);
    check_run_directory(dir, options.force);
    return run_pde(setup, dir, false, options.force);
  }
  ParticleSetup setup = make_particle_setup(resolved);
  const fs::path dir = choose_run_directory(options.out, options.config, setup.config);
  check_run_directory(dir, options.force);
  return run_particles(setup, dir, false, options.force);
}

namespace {

/// Weighted particles on the torus under an MMD gradient flow (DESIGN.md §4), stepped by a
/// Runge–Kutta integrator.
class ParticleRun final : public DiagnosedRun<Energies> {
public:
  /// The run of this rank's block of the particles (all of them alone: Processes.hpp).
  explicit ParticleRun(const ParticleSetup& setup)
      : DiagnosedRun(setup.config, "kmdflow::run::positions", own_rows(setup.particles()), setup.config["dim"]),
        m_setup(setup), m_dim(setup.config["dim"]), m_flow(make_block_flow(setup, m_rows)) {
    const std::size_t at = m_rows.begin - setup.first_row; // the block's rows in the setup's
    Kokkos::deep_copy(m_x, Kokkos::subview(setup.positions, std::make_pair(at, at + m_rows.size()), Kokkos::ALL));
  }

  // "direct (float)" when the pairs are evaluated in single precision.
  std::string engine() const override {
    return m_flow->engine().name() + (m_setup.config.value("precision", "double") == "float" ? " (float)" : "");
  }
  json engine_record() const override {
    json record = json::object();
    if (const auto parameters = m_flow->engine().parameters(); !parameters.empty())
      record["engine_parameters"] = parameters;
    return record;
  }
  H5mdParticles trajectory_layout() const override { return H5mdParticles::torus(m_dim, m_setup.weights); }
  std::optional<double> target_minimum() const override {
    const Density* target = m_setup.target->density();
    return target ? std::optional<double>(target->minimum()) : std::nullopt;
  }

  void write_static(const fs::path&, H5mdWriter& trajectory) override {
    const Density* target = m_setup.target->density();
    if (!target || m_dim > 2) return;
    // The target density at the cell centres of a grid, for the plots.
    const std::size_t grid = m_dim == 1 ? 1024 : 128;
    std::vector<double> values(m_dim == 1 ? grid : grid * grid);
    for (std::size_t i = 0; i < values.size(); ++i) {
      const double xi[2] = {(i / (m_dim == 1 ? 1 : grid) + 0.5) / grid, (i % grid + 0.5) / grid};
      values[i] = target->value(xi);
    }
    trajectory.write_static_field("target_density", std::vector<std::size_t>(m_dim, grid), values);
  }

  void check_state() override {
    const auto x = m_x;
    const int dim = m_dim;
    int bad = 0;
    Kokkos::parallel_reduce(
        "kmdflow::run::check_finite", Kokkos::RangePolicy<ExecutionSpace>(0, x.extent(0)),
        KOKKOS_LAMBDA(std::size_t i, int& count) {
          for (int d = 0; d < dim; ++d) count += !Kokkos::isfinite(x(i, d));
        },
        bad);
    if (bad)
      throw std::runtime_error("the positions became non-finite (the step is too large for this "
                               "flow; try a smaller time.dt or time.integrator = rk45)");
  }

  SeriesRow diagnose() override {
    m_last = m_flow->energies(m_x, m_integrator.velocity(m_x));
    if (!m_first) m_first = m_last;
    if (!std::isfinite(m_last.interaction_energy) || !std::isfinite(m_last.dissipation))
      throw std::runtime_error("the energy became non-finite");
    return {m_last.energy, m_last.interaction_energy, m_last.dissipation, m_last.max_speed};
  }

  void write_frame(H5mdWriter& trajectory, long step, double t) override {
    trajectory.append_frame(step, t, state_on_host());
  }

  void summarise(json& summary) const override {
    IntegratorRun::summarise(summary);
    summary["particles"] = m_rows.total;
    auto energies_json = [](const Energies& e) {
      return json{{"energy", finite_or_null(e.energy)},
                  {"interaction_energy", e.interaction_energy},
                  {"dissipation", e.dissipation},
                  {"max_speed", e.max_speed}};
    };
    if (m_first) {
      summary["initial"] = energies_json(*m_first);
      summary["final"] = energies_json(m_last);
    }
  }

  std::string description() const override {
    return format("%s engine, %zu particles", engine().c_str(), m_rows.total);
  }
  // The full energy where it is finite, else the interaction energy.
  std::vector<std::string> report() const override {
    if (!m_first) return {};
    const bool full = std::isfinite(m_last.energy);
    return {format("  %s: %.4e -> %.4e", full ? "energy" : "interaction energy",
                   std::isfinite(m_first->energy) ? m_first->energy : m_first->interaction_energy,
                   full ? m_last.energy : m_last.interaction_energy)};
  }

  /// On several ranks with the sorted engine, the particles then move to the ranks of their slabs
  /// when enough have left them (time_to_move): the evaluations send only those outside.
  void advance(double& t, double t_stop, double tolerance) override {
    IntegratorRun::advance(t, t_stop, tolerance);
    if (m_rows.shared && time_to_move(m_flow->engine())) move_to_slabs();
  }

private:
  void velocity(const ConstPointView<>& x, const PointView<>& v) override { m_flow->velocity(x, v); }

  /// Each particle's row — id, weight, position and the integrator's cached velocity (if any) —
  /// to the rank of its slab (Processes.hpp).
  void move_to_slabs() {
    const std::size_t n = m_x.extent(0), dim = std::size_t(m_dim);
    const PointView<>* cached = m_integrator.cached_velocity();
    const std::size_t width = 2 + dim + (cached ? dim : 0);
    const auto x = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), m_x);
    const auto w = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), m_flow->weights());
    PointView<Kokkos::HostSpace> v;
    if (cached) v = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), *cached);
    std::vector<double> rows(n * width);
    for (std::size_t i = 0; i < n; ++i) {
      double* row = rows.data() + i * width;
      row[0] = double(id(i)); // exact: ids stay below 2^53
      row[1] = w(i);
      for (std::size_t d = 0; d < dim; ++d) row[2 + d] = x(i, d);
      for (std::size_t d = 0; cached && d < dim; ++d) row[2 + dim + d] = v(i, d);
    }
    // The integrator's stages are scratch between steps (its velocity is in the rows): freed while
    // the rows travel, so that a move needs about no more memory than a step.
    m_integrator.resize(0, nullptr);
    std::vector<double> moved;
    try {
      moved = kmdflow::app::move_to_slabs(m_flow->engine(), std::move(rows), int(width), 2);
    } catch (...) {
      m_integrator.resize(n, nullptr);
      throw;
    }
    const std::size_t m = moved.size() / width;
    std::vector<std::size_t> ids(m);
    std::vector<double> state(m * dim), velocity(cached ? m * dim : 0);
    ScalarView<> weights(Kokkos::view_alloc(Kokkos::WithoutInitializing, std::string("kmdflow::run::weights")), m);
    const auto weights_host = Kokkos::create_mirror_view(weights);
    for (std::size_t i = 0; i < m; ++i) {
      const double* row = moved.data() + i * width;
      ids[i] = std::size_t(row[0]);
      weights_host(i) = row[1];
      std::copy_n(row + 2, dim, state.data() + i * dim);
      if (cached) std::copy_n(row + 2 + dim, dim, velocity.data() + i * dim);
    }
    moved = std::vector<double>();
    Kokkos::deep_copy(weights, weights_host);
    m_flow->set_weights(weights);
    adopt(std::move(ids), state, cached ? &velocity : nullptr);
  }

  const ParticleSetup& m_setup;
  int m_dim;
  std::unique_ptr<ParticleFlow> m_flow;
};

} // namespace

std::unique_ptr<IntegratorRun> make_particle_run(const ParticleSetup& setup) {
  return std::make_unique<ParticleRun>(setup);
}

int run_particles(const ParticleSetup& setup, const fs::path& dir, bool quiet, bool force, const ResumeFrom* resume) {
  // On several ranks each steps its block of the particles; rank 0 writes (Processes.hpp).
  const WallClock wall;
  const auto model = share_run(setup);
  if (!resume) prepare_run_directory(dir, force);
  return run_model(*model, setup.config, setup.resolved, dir, quiet, wall, resume);
}

} // namespace kmdflow::app
