#include <kmdflow/NpyFile.hpp>
#include <kmdflow/ParticleFile.hpp>
#include <kmdflow/app/Commands.hpp>
#include <kmdflow/app/Processes.hpp>
#include <kmdflow/app/Setup.hpp>

#include <cmath>
#include <filesystem>
#include <iostream>

namespace kmdflow::app {

using nlohmann::json;

int eval_command(const EvalOptions& options) {
  const json resolved = load_config(options.config, options.overrides);
  // --out -: the velocities on standard output, the energies on standard error.
  std::filesystem::path out = options.out;
  const bool to_stdout = options.out == "-";
  if (out.empty()) {
    const std::filesystem::path in(options.positions);
    out = in.parent_path() / (in.stem().string() + "-velocities" + (is_npy_path(options.positions) ? ".npy" : ".csv"));
  }
  if (!to_stdout && out.has_parent_path() && !std::filesystem::is_directory(out.parent_path()))
    throw ConfigError("--out", "the directory of '" + out.string() + "' does not exist");
  if (resolved["model"] == "relu") {
    require_one_process("model", "the ReLU model");
    return eval_relu(resolved, options.positions, out);
  }
  if (resolved["solver"] == "pde")
    throw ConfigError("solver", "eval evaluates particles: use solver \"particles\" (the PDE has no particles)");
  ParticleSetup setup;
  setup.config = setup.resolved = resolved;
  // One evaluation: FFT plans that take seconds to measure would not pay for themselves.
  if (setup.config["forces"]["fft_planning"] == "auto") setup.config["forces"]["fft_planning"] = "estimate";
  make_model(setup);
  const int dim = resolved["dim"];
  auto data = read_particles(options.positions, dim, "--positions");
  check_distinct(data.positions, *setup.kernel, "--positions");
  check_engine(resolved, *setup.kernel, *setup.target, data.positions.extent(0));
  auto flow = make_flow(setup, data.weights);
  const std::size_t n = data.positions.extent(0);
  auto x = Kokkos::create_mirror_view_and_copy(MemorySpace(), data.positions);
  PointView<> v("kmdflow::eval::velocities", n, dim);
  flow->velocity(x, v);
  const Energies e = flow->energies(x, v);
  auto v_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v);
  static const char* headers[] = {"vx", "vx,vy", "vx,vy,vz"};
  write_table(out.string(), headers[dim - 1], v_host);

  json result = {{"energy", std::isfinite(e.energy) ? json(e.energy) : json(nullptr)},
                 {"interaction_energy", e.interaction_energy},
                 {"dissipation", e.dissipation},
                 {"particles", n},
                 {"engine", flow->engine().name()}};
  if (const auto parameters = flow->engine().parameters(); !parameters.empty()) result["engine_parameters"] = parameters;
  (to_stdout ? std::cerr : std::cout) << result.dump() << std::endl;
  return 0;
}

} // namespace kmdflow::app
