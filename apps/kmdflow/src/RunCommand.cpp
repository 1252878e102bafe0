#include <kmdflow/AtomicFile.hpp>
#include <kmdflow/H5md.hpp>
#include <kmdflow/Integrator.hpp>
#include <kmdflow/app/Commands.hpp>
#include <kmdflow/app/RunSupport.hpp>
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

namespace kmdflow::app {

using nlohmann::json;
namespace fs = std::filesystem;


int run_command(const RunOptions& options) {
  // Everything that can be the input's fault is checked before the run directory exists.
  const json resolved = load_config(options.config, options.overrides);
  if (resolved["model"] == "relu") {
    ReluSetup setup = make_relu_setup(resolved);
    const fs::path dir = choose_run_directory(options.out, options.config, setup.config);
    prepare_run_directory(dir, options.force);
    return run_relu(setup, dir, false);
  }
  if (resolved["solver"] == "pde") {
    PdeSetup setup = make_pde_setup(resolved);
    const fs::path dir = choose_run_directory(options.out, options.config, setup.config);
    prepare_run_directory(dir, options.force);
    return run_pde(setup, dir, false);
  }
  ParticleSetup setup = make_particle_setup(resolved);
  const fs::path dir = choose_run_directory(options.out, options.config, setup.config);
  prepare_run_directory(dir, options.force);
  return run_particles(setup, dir, false);
}

int run_particles(const ParticleSetup& setup, const fs::path& dir, bool quiet) {
  const WallClock wall;
  const json& c = setup.config;
  const int dim = c["dim"];
  const double t_end = c["time"]["t_end"], dt = c["time"]["dt"];
  auto flow = make_flow(setup, setup.weights);
  // "direct (float)" when the pairs are evaluated in single precision.
  const std::string engine_name =
      flow->engine().name() + (setup.config.value("precision", "double") == "float" ? " (float)" : "");
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

  H5mdWriter trajectory(dir / "trajectory.h5", H5mdParticles::torus(dim, setup.weights), KMDFLOW_VERSION);
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
  OutputSchedule outputs(c, tolerance);
  Progress progress(t_end, !quiet);
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

  double next_dt = dt;
  const RunOutcome outcome = drive_run(
      t, step, t_end, tolerance, outputs, progress, wall,
      [&] {
        // Adaptive steps land on every output time; fixed steps only on t_end (rows and frames
        // are then written at the first step that reaches their time).
        double t_stop = t_end;
        if (integrator.adaptive()) t_stop = std::min(t_end, outputs.next());
        next_dt = integrator.step(x, t, next_dt, t_stop).next;
        ++step;
        if (!positions_finite())
          throw std::runtime_error("the positions became non-finite (the step is too large for this "
                                   "flow; try a smaller time.dt or time.integrator = rk45)");
      },
      record_row, record_frame, [&] { return energies.back(); });

  // Whatever happened, leave every file complete and say where the run stopped.
  series.commit();
  trajectory.close();
  json summary = summary_head(outcome, step, t, t_end);
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
  // Late-time decay of the (full, where finite) energy.
  summary["energy_decay"] = energy_decay_fit(times, energies, t, c);
  write_file_atomically(dir / "summary.json", summary.dump(2) + "\n");

  std::vector<std::string> lines{format("kmdflow: %ld steps to t = %g in %.1f s (%s engine, %zu particles, %s, %d threads)",
                                         step, t, wall(), engine_name.c_str(), n, backend_name().c_str(),
                                         backend_threads())};
  if (have_first)
    lines.push_back(format("  %s: %.4e -> %.4e", std::isfinite(last.energy) ? "energy" : "interaction energy",
                           std::isfinite(first.energy) ? first.energy : first.interaction_energy,
                           std::isfinite(last.energy) ? last.energy : last.interaction_energy));
  return report_run_end(dir, outcome.status, outcome.message, step, t, quiet, c["output"]["plots"].get<bool>(), lines);
}

} // namespace kmdflow::app
