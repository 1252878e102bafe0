// `kmdflow run` with solver "pde": the mean-field PDE on a grid (DESIGN.md §4), with the same run
// directory as a particle run (DESIGN.md §7): the density frames in /fields/density.

#include <kmdflow/AtomicFile.hpp>
#include <kmdflow/H5md.hpp>
#include <kmdflow/PdeSolver.hpp>
#include <kmdflow/app/Commands.hpp>
#include <kmdflow/app/RunSupport.hpp>
#include <kmdflow/app/Setup.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace kmdflow::app {

using nlohmann::json;
namespace fs = std::filesystem;

int run_pde(const PdeSetup& setup, const fs::path& dir, bool quiet) {
  const WallClock wall;
  const json& c = setup.config;
  const int dim = c["dim"], n = setup.grid;
  const double s = c["s"], t_end = c["time"]["t_end"], dt_max = c["time"]["dt"];
  auto solver = make_pde_solver(dim, n, s, setup.initial_cells, setup.target_cells, c["pde"]["cfl"]);

  json recorded = c;
  recorded["kmdflow"] = {{"version", KMDFLOW_VERSION},
                         {"backend", backend_name()},
                         {"threads", backend_threads()},
                         {"engine", "pde"},
                         {"started", timestamp("%Y-%m-%dT%H:%M:%S%z")},
                         {"engine_parameters",
                          {{"grid", n}, {"scheme", "finite volume, MUSCL (MC limiter), SSP-RK3"},
                           {"fft", solver->fft_library()}}}};
  write_file_atomically(dir / "config.json", recorded.dump(2) + "\n");

  const std::vector<std::size_t> shape(dim, std::size_t(n));
  H5mdWriter trajectory(dir / "trajectory.h5", H5mdParticles{}, KMDFLOW_VERSION);
  trajectory.write_static_field("target_density", shape, setup.target_cells);
  StagedFile series(dir / "series.csv");
  series.write_line("step,t,energy,interaction_energy,dissipation,max_speed,wall_s");

  double t = 0;
  long step = 0;
  const double tolerance = 1e-9 * std::min(dt_max, t_end);
  OutputSchedule outputs(c, tolerance);
  Progress progress(t_end, !quiet);
  std::vector<double> times, energies;
  PdeDiagnostics first, last;
  bool have_first = false;
  double lowest = std::numeric_limits<double>::infinity();

  auto record_row = [&] {
    last = solver->diagnostics();
    if (!have_first) first = last, have_first = true;
    lowest = std::min(lowest, last.minimum);
    if (!std::isfinite(last.energy) || !std::isfinite(last.dissipation))
      throw std::runtime_error("the energy became non-finite");
    // A density has no diagonal: the full and the interaction energy coincide.
    series.write_line(std::to_string(step) + "," + number(t) + "," + number(last.energy) + "," + number(last.energy) +
                      "," + number(last.dissipation) + "," + number(last.max_speed) + "," + number(wall()));
    times.push_back(t);
    energies.push_back(last.energy);
  };
  auto record_frame = [&] { trajectory.append_field_frame("density", shape, step, t, solver->density()); };

  const RunOutcome outcome = drive_run(
      t, step, t_end, tolerance, outputs, progress, wall,
      [&] {
        // Steps land on every output time.
        const double t_stop = std::min(t_end, outputs.next());
        const double taken = solver->step(std::min(dt_max, t_stop - t));
        t = std::abs(t + taken - t_stop) <= tolerance ? t_stop : t + taken;
        ++step;
      },
      record_row, record_frame, [&] { return energies.back(); });

  series.commit();
  trajectory.close();
  json summary = summary_head(outcome, step, t, t_end);
  summary["steps"] = step;
  summary["stages"] = solver->stages();
  summary["frames"] = trajectory.frames();
  summary["wall_s"] = wall();
  summary["engine"] = "pde";
  summary["grid"] = n;
  summary["backend"] = backend_name();
  summary["threads"] = backend_threads();
  auto diagnostics_json = [](const PdeDiagnostics& d) {
    return json{{"energy", d.energy},          {"interaction_energy", d.energy}, {"dissipation", d.dissipation},
                {"max_speed", d.max_speed},    {"mass", d.mass},                 {"min_density", d.minimum},
                {"max_density", d.maximum}};
  };
  if (have_first) {
    summary["initial"] = diagnostics_json(first);
    summary["final"] = diagnostics_json(last);
    summary["mass_drift"] = last.mass - first.mass;
    summary["min_density"] = lowest;
  }
  summary["energy_decay"] = energy_decay_fit(times, energies, t, c);
  write_file_atomically(dir / "summary.json", summary.dump(2) + "\n");

  std::vector<std::string> lines{format("kmdflow: %ld steps to t = %g in %.1f s (pde, %d^%d grid, %s, %d threads)", step,
                                         t, wall(), n, dim, backend_name().c_str(), backend_threads())};
  if (have_first)
    lines.push_back(format("  energy: %.4e -> %.4e, mass drift %.1e", first.energy, last.energy, last.mass - first.mass));
  return report_run_end(dir, outcome.status, outcome.message, step, t, quiet, c["output"]["plots"].get<bool>(), lines);
}

} // namespace kmdflow::app
