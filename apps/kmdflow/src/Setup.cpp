#include <kmdflow/EwaldEngine.hpp>
#include <kmdflow/ParticleFile.hpp>
#include <kmdflow/PdeSolver.hpp>
#include <kmdflow/Sampling.hpp>
#include <kmdflow/SpectralEngine.hpp>
#include <kmdflow/app/Processes.hpp>
#include <kmdflow/app/Setup.hpp>

#include <cstdio>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <random>

namespace kmdflow::app {

using nlohmann::json;

namespace {

Wavevector wavevector(const json& k) {
  Wavevector v{0, 0, 0};
  for (std::size_t d = 0; d < k.size(); ++d) v[d] = k[d].get<int>();
  return v;
}

/// The kernel of a resolved configuration (checked there already).
std::shared_ptr<const Kernel> shared_kernel(const json& c) { return std::make_shared<const Kernel>(make_kernel(c)); }

} // namespace

std::shared_ptr<const Density> make_density(const json& block, int dim, const std::string& key) {
  const std::string type = block["type"];
  try {
    if (type == "uniform") return std::make_shared<UniformDensity>(dim);
    if (type == "fourier") {
      std::vector<FourierMode> modes;
      for (const auto& m : block["modes"])
        modes.push_back({wavevector(m["k"]), m["amplitude"].get<double>(), m["phase"].get<double>()});
      return std::make_shared<FourierDensity>(dim, std::move(modes));
    }
    if (type == "wrapped_gaussians") {
      std::vector<GaussianComponent> components;
      for (const auto& c : block["components"]) {
        GaussianComponent g;
        g.weight = c["weight"];
        for (std::size_t d = 0; d < c["center"].size(); ++d) g.center[d] = c["center"][d];
        g.sigma = c["sigma"];
        components.push_back(g);
      }
      return std::make_shared<WrappedGaussianMixture>(dim, std::move(components));
    }
    if (type == "perturbed")
      return std::make_shared<FourierDensity>(make_perturbed_density(
          dim, block["r"], block["modes"], block["rho_min"], block["seed"].get<std::uint64_t>()));
  } catch (const std::invalid_argument& e) {
    throw ConfigError(key + (type == "fourier" ? ".modes" : ""), e.what());
  }
  return nullptr;
}

void make_model(ParticleSetup& setup) {
  const json& c = setup.config;
  const int dim = c["dim"];
  setup.kernel = shared_kernel(c);
  const json& t = c["target"];
  if (t["type"] == "samples") {
    auto data = read_particles(t["path"], dim, "target.path");
    setup.target = std::make_shared<Target>(data.positions, data.weights);
  } else {
    try {
      setup.target = std::make_shared<Target>(make_density(t, dim, "target"), *setup.kernel);
    } catch (const std::invalid_argument& e) {
      throw ConfigError(t["type"] == "wrapped_gaussians" ? "target.components" : "target", e.what());
    }
  }
}

namespace {

/// The arrays of N × width doubles an integrated run keeps: the state (host copy, device, host
/// mirror), stage positions, the velocity and the integrator's stages.
double integrated_state_bytes(double count, int width, const std::string& integrator) {
  const int stages = integrator == "euler" ? 1 : integrator == "ssprk3" ? 3 : integrator == "rk4" ? 4 : 7;
  return 8.0 * count * width * (stages + 5);
}

} // namespace

ParticleSetup make_particle_setup(const json& resolved) {
  ParticleSetup setup;
  setup.config = setup.resolved = resolved;
  make_model(setup);
  json& c = setup.config;
  const int dim = c["dim"];
  const json& initial = c["initial"];
  if (initial["type"] == "file") {
    auto data = read_particles(initial["path"], dim, "initial.path");
    // The file's particles are the run's: a count given besides is replaced (and said so).
    if (c["particles"].contains("count") && c["particles"]["count"].get<std::size_t>() != data.positions.extent(0))
      std::fprintf(stderr, "kmdflow: particles.count %s replaced by the %zu particles of '%s'\n",
                   c["particles"]["count"].dump().c_str(), data.positions.extent(0),
                   initial["path"].get<std::string>().c_str());
    c["particles"]["count"] = data.positions.extent(0);
    check_distinct(data.positions, *setup.kernel, "initial.path");
    setup.positions = data.positions;
    setup.weights = data.weights;
  } else {
    setup.initial_density = make_density(initial, dim, "initial");
    const std::size_t n = c["particles"]["count"];
    // Positions, stages and weights, and the engines' per-particle arrays (~4 doubles).
    require_memory("particles.count",
                   integrated_state_bytes(double(n), dim, c["time"]["integrator"]) + 8.0 * double(n) * 6,
                   std::to_string(n) + " particles in d = " + std::to_string(dim));
    // The sampling stream is separate from the perturbation's phases, which use the same seed.
    const std::uint64_t seed = c["particles"]["seed"].get<std::uint64_t>() ^ 0x5eed5eed5eed5eedULL;
    try {
      setup.positions = sample_positions(*setup.initial_density, parse_sampling(initial["sampling"]), n, seed);
    } catch (const std::invalid_argument& e) {
      throw ConfigError("particles.count", e.what());
    }
    setup.weights = ScalarView<Kokkos::HostSpace>("kmdflow::setup::weights", n);
    Kokkos::deep_copy(setup.weights, 1.0 / double(n));
  }
  check_engine(setup.config, *setup.kernel, *setup.target, setup.positions.extent(0));
  return setup;
}

void check_engine(const json& c, const Kernel& kernel, const Target& target, std::size_t particles) {
  // Check that the engine applies now, while a bad choice is still the input's fault.
  try {
    const double tolerance = c["forces"]["tolerance"];
    const std::size_t points =
        particles + (target.sample_positions().data() ? target.sample_positions().extent(0) : 0);
    const auto method = resolve_force_method(parse_force_method(c["forces"]["method"]), kernel, points, tolerance);
    if (method == ForceMethod::spectral) (void)choose_spectral_parameters(kernel, points, tolerance);
    // The direct engine's pair table (EwaldEngine; the 1D Sobolev kernel has its own evaluator)
    // is built and checked now: it misses its accuracy for the Sobolev kernel beyond s ≈ 3 in
    // d = 2, 3, which raised a std::logic_error (exit code 1) once the run had started.
    if (method == ForceMethod::direct && !(kernel.dim() == 1 && kernel.get_if<SobolevKernel>())) {
      try {
        (void)detail::ewald_tables(kernel);
      } catch (const std::logic_error&) {
        throw ConfigError("forces.method", "the direct engine's pair table cannot resolve " + kernel.description() +
                                               " (its accuracy check failed): use forces.method \"spectral\"");
      }
    }
  } catch (const std::invalid_argument& e) {
    throw ConfigError("forces.method", e.what());
  }
}

PdeSetup make_pde_setup(const json& resolved) {
  PdeSetup setup;
  setup.config = setup.resolved = resolved;
  const json& c = setup.config;
  const int dim = c["dim"];
  setup.kernel = shared_kernel(c);
  if (c["target"]["type"] == "samples")
    throw ConfigError("target.type", "\"samples\" has no density: the PDE needs a density target "
                                     "(uniform, fourier, wrapped_gaussians)");
  if (c["initial"]["type"] == "file")
    throw ConfigError("initial.type", "\"file\" gives particles: the PDE needs an initial density "
                                      "(uniform, fourier, wrapped_gaussians, perturbed)");
  setup.target = make_density(c["target"], dim, "target");
  setup.initial = make_density(c["initial"], dim, "initial");
  setup.grid = c["pde"]["grid"];
  const double cells = std::pow(double(setup.grid), dim);
  if (cells > 2.0e9)
    throw ConfigError("pde.grid", std::to_string(setup.grid) + "^" + std::to_string(dim) + " cells is too many");
  // Eight grids of doubles (density, stages, potential, symbol, initial and target averages) and
  // two half-spectra of complex numbers, ~12 doubles a cell.
  require_memory("pde.grid", 12.0 * 8.0 * cells, std::to_string(setup.grid) + "^" + std::to_string(dim) + " cells");
  // The grid must resolve both densities: a mode it cannot hold is reported, not dropped silently.
  auto averages = [&](const Density& density, const std::string& key) {
    double dropped = 0;
    auto values = cell_averages(density, setup.grid, &dropped);
    if (dropped > 1e-6)
      throw ConfigError("pde.grid", std::to_string(setup.grid) + " cells per axis do not resolve the " + key +
                                        " density (a Fourier coefficient of size " + std::to_string(dropped) +
                                        " lies beyond the grid's Nyquist mode): use a finer grid");
    const double low = *std::min_element(values.begin(), values.end());
    if (low < -1e-12)
      throw ConfigError("pde.grid", "the " + key + " density's cell averages are negative on this grid (min " +
                                        std::to_string(low) + "): use a finer grid");
    for (double& v : values) v = std::max(v, 0.0); // round-off where the density vanishes
    return values;
  };
  setup.initial_cells = averages(*setup.initial, "initial");
  setup.target_cells = averages(*setup.target, "target");
  return setup;
}

std::unique_ptr<InteractionEngine> make_configured_engine(const ParticleSetup& setup, std::size_t count) {
  const nlohmann::json& forces = setup.config["forces"];
  return make_engine(parse_force_method(forces["method"]), *setup.kernel, *setup.target, count, forces["tolerance"],
                     parse_precision(setup.config.value("precision", "double")),
                     parse_fft_planning(forces["fft_planning"]));
}

std::unique_ptr<ParticleFlow> make_flow(const ParticleSetup& setup, const ScalarView<Kokkos::HostSpace>& weights) {
  auto w = Kokkos::create_mirror_view_and_copy(MemorySpace(), weights);
  // On several MPI ranks, the others build the same engine and share its work (Processes.hpp).
  auto engine = distribute(make_configured_engine(setup, weights.extent(0)), setup.config, weights.extent(0));
  return std::make_unique<ParticleFlow>(setup.kernel, setup.target, w, std::move(engine));
}

std::unique_ptr<ParticleFlow> make_block_flow(const ParticleSetup& setup, const Rows& rows) {
  ScalarView<> w("kmdflow::run::weights", rows.size());
  const std::size_t at = rows.begin - setup.first_row; // the block's rows in the setup's
  Kokkos::deep_copy(w, Kokkos::subview(setup.weights, std::make_pair(at, at + rows.size())));
  auto engine = share_by_blocks(make_configured_engine(setup, rows.total), rows.total);
  auto flow = std::make_unique<ParticleFlow>(setup.kernel, setup.target, w, std::move(engine));
  if (rows.shared) flow->set_across(sum_across_ranks, max_across_ranks);
  return flow;
}

namespace {

/// Whether an override sets `key` or a key inside it ("initial.modes=[..]", "initial.modes.0=..").
bool overridden(const std::vector<std::string>& overrides, const std::string& key) {
  for (const auto& o : overrides)
    if (o.rfind(key, 0) == 0 && o.size() > key.size() && (o[key.size()] == '=' || o[key.size()] == '.')) return true;
  return false;
}

/// What one means by `--set BLOCK.type=NEW` on a block of another type, and by `--set solver=...`:
/// the old type's keys go (they are not keys of the new type), the other --set BLOCK.* keys stay;
/// a solver switched without --set time.integrator gets its own default integrator. Said on
/// stderr (`report`).
void follow_switches(const json& before, json& raw, const std::vector<std::string>& overrides, bool report) {
  for (const std::string block : {"target", "initial", "kernel"}) {
    if (!overridden(overrides, block + ".type") || !before.contains(block) || !before[block].is_object() ||
        !raw[block].is_object() || before[block].value("type", json()) == raw[block].value("type", json()))
      continue;
    json fresh = json::object();
    std::string dropped;
    // initial.sampling belongs to every type but file: it stays.
    const bool shared_sampling = block == "initial" && raw[block].value("type", json()) != "file";
    for (const auto& [key, value] : raw[block].items()) {
      if (key == "type" || overridden(overrides, block + "." + key) || (shared_sampling && key == "sampling"))
        fresh[key] = value;
      else dropped += (dropped.empty() ? "" : ", ") + block + "." + key;
    }
    raw[block] = fresh;
    if (report && !dropped.empty())
      std::fprintf(stderr, "kmdflow: %s.type is now %s: dropped %s (keys of type %s)\n", block.c_str(),
                   raw[block]["type"].dump().c_str(), dropped.c_str(), before[block]["type"].dump().c_str());
  }
  if (overridden(overrides, "solver") && !overridden(overrides, "time.integrator") && raw.contains("time") &&
      raw["time"].is_object() && raw["time"].contains("integrator") && before.value("solver", json()) != raw["solver"]) {
    if (report)
      std::fprintf(stderr, "kmdflow: solver is now %s: time.integrator %s dropped for the solver's default\n",
                   raw["solver"].dump().c_str(), raw["time"]["integrator"].dump().c_str());
    raw["time"].erase("integrator");
  }
}

} // namespace

json load_config(const std::string& path, const std::vector<std::string>& overrides, bool report) {
  json raw = path.empty() ? default_config() : read_config_file(path);
  if (!raw.is_object()) throw ConfigError(path, "the configuration must be a JSON object {...}");
  // Paths written in a file are relative to that file; paths given with --set to the caller.
  if (!path.empty()) {
    const auto base = std::filesystem::absolute(path).parent_path();
    for (const char* block : {"target", "initial"})
      if (raw.contains(block) && raw[block].is_object() && raw[block].contains("path") &&
          raw[block]["path"].is_string()) {
        std::filesystem::path p = raw[block]["path"].get<std::string>();
        if (p.is_relative()) raw[block]["path"] = (base / p).lexically_normal().string();
      }
  }
  return load_config_json(std::move(raw), overrides, report);
}

json load_config_json(json raw, const std::vector<std::string>& overrides, bool report) {
  if (!raw.is_object()) throw ConfigError("config", "the configuration must be a JSON object {...}");
  const json before = raw;
  for (const auto& o : overrides) apply_override(raw, o);
  follow_switches(before, raw, overrides, report);
  std::random_device device;
  const std::uint64_t seed = (std::uint64_t(device()) << 32 | device()) % 1000000000ULL;
  return resolve_config(raw, seed, std::filesystem::current_path().string());
}

void check_distinct(const PointView<Kokkos::HostSpace>& x, const Kernel& kernel, const std::string& key) {
  if (!kernel.has_singular_gradient()) return;
  const std::size_t n = x.extent(0);
  const int dim = int(x.extent(1));
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  auto less = [&](std::size_t a, std::size_t b) {
    for (int d = 0; d < dim; ++d)
      if (x(a, d) != x(b, d)) return x(a, d) < x(b, d);
    return false;
  };
  std::sort(order.begin(), order.end(), less);
  for (std::size_t i = 1; i < n; ++i)
    if (!less(order[i - 1], order[i]))
      throw ConfigError(key, "particles " + std::to_string(std::min(order[i - 1], order[i])) + " and " +
                                 std::to_string(std::max(order[i - 1], order[i])) +
                                 " coincide, where the velocity is unbounded (s < (d+1)/2)");
}

std::string backend_name() { return ExecutionSpace::name(); }
int backend_threads() { return ExecutionSpace().concurrency(); }

} // namespace kmdflow::app
