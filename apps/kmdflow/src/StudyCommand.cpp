// `kmdflow study scaling CONFIG --counts N1,N2,... [--seeds K] [--out DIR]`: how particle systems
// approach their mean-field limit. The PDE runs once and the particle system once per N and seed,
// from the same initial density (the config's sampling); then at every snapshot time
//   distance = ‖μ_N(t) − ρ(t)‖_{Ḣ^{−σ}},  σ = max(s, (d+1)/2)   (finite for particles),
// computed through exact kernel sums (MeanFieldDistance), with both energies and the wall time.
// The sampling error at t = 0 decays like N^{-1/2} for iid points, N^{-σ/d} for lattice and
// quantile points, and N^{-min(σ/d, 1/2 + 1/d)} for jittered ones (one uniform point per cell:
// the variance of mode k is (1 − |sinc|²)/N, small below the cell scale).

#include <kmdflow/AtomicFile.hpp>
#include <kmdflow/H5md.hpp>
#include <kmdflow/MeanFieldDistance.hpp>
#include <kmdflow/PdeSolver.hpp>
#include <kmdflow/app/Commands.hpp>
#include <kmdflow/app/RunSupport.hpp>
#include <kmdflow/app/Setup.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

namespace kmdflow::app {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

/// (t, wall_s) from a run's series.csv, to interpolate the wall time at a snapshot.
std::vector<std::pair<double, double>> wall_times(const fs::path& series) {
  std::ifstream in(series);
  std::string line;
  std::getline(in, line); // header
  std::vector<std::pair<double, double>> rows;
  while (std::getline(in, line)) {
    std::vector<std::string> fields;
    std::stringstream ss(line);
    for (std::string f; std::getline(ss, f, ',');) fields.push_back(f);
    if (fields.size() >= 7) rows.emplace_back(std::stod(fields[1]), std::stod(fields[6]));
  }
  return rows;
}

double interpolate(const std::vector<std::pair<double, double>>& rows, double t) {
  if (rows.empty()) return std::nan("");
  if (t <= rows.front().first) return rows.front().second;
  for (std::size_t i = 1; i < rows.size(); ++i)
    if (t <= rows[i].first) {
      const auto [t0, w0] = rows[i - 1];
      const auto [t1, w1] = rows[i];
      return t1 > t0 ? w0 + (w1 - w0) * (t - t0) / (t1 - t0) : w1;
    }
  return rows.back().second;
}

} // namespace

int study_scaling_command(const StudyScalingOptions& options) {
  const WallClock wall;
  json resolved;
  if (options.config_text.empty()) {
    resolved = load_config(options.config, options.overrides);
  } else {
    try {
      resolved = load_config_json(json::parse(options.config_text), options.overrides);
    } catch (const json::parse_error& e) {
      throw ConfigError("config", std::string("not JSON: ") + e.what());
    }
  }
  if (options.counts.empty()) throw ConfigError("--counts", "give the particle counts, e.g. --counts 1000,10000");
  for (long long n : options.counts)
    if (n < 2 || n > (1LL << 31) - 1) throw ConfigError("--counts", "each count must be an integer in [2, 2^31)");
  if (options.seeds < 1 || options.seeds > 1000) throw ConfigError("--seeds", "must be an integer in [1, 1000]");
  if (resolved["model"] != "sobolev") throw ConfigError("model", "the scaling study is for model \"sobolev\"");
  if (resolved["initial"]["type"] == "file")
    throw ConfigError("initial.type", "the scaling study samples the initial density: \"file\" has none");

  // Every run, checked before anything is written.
  const std::string sampling = resolved["initial"]["sampling"];
  const bool random = sampling == "iid" || sampling == "jittered";
  const long long seeds = random ? options.seeds : 1;
  if (!random && options.seeds > 1)
    std::fprintf(stderr, "kmdflow: --seeds %lld ignored: %s sampling is deterministic (one run per N)\n", options.seeds,
                 sampling.c_str());
  const long long first_seed = resolved["particles"]["seed"];
  auto variant = [&](const std::string& solver, long long count, long long seed = 0) {
    json raw = resolved;
    raw["solver"] = solver;
    raw["particles"]["count"] = count;
    raw["particles"]["seed"] = first_seed + seed;
    raw["output"].erase("dir");
    raw["output"]["plots"] = false;
    if (solver == "pde") raw["time"]["integrator"] = "ssprk3";
    else if (raw["time"]["integrator"] == "ssprk3" && resolved["solver"] == "pde") raw["time"]["integrator"] = "rk4";
    return resolve_config(raw, resolved["particles"]["seed"].get<std::uint64_t>(), fs::current_path().string());
  };
  PdeSetup pde = make_pde_setup(variant("pde", options.counts.front()));
  std::vector<long long> counts = options.counts;
  std::sort(counts.begin(), counts.end());
  counts.erase(std::unique(counts.begin(), counts.end()), counts.end());
  // Runs by N, then seed: particles-N (the config's seed), particles-N-seed1, ... (the next ones).
  std::vector<ParticleSetup> particles;
  std::vector<std::pair<long long, long long>> runs; // (N, seed index)
  for (long long n : counts)
    for (long long k = 0; k < seeds; ++k) {
      particles.push_back(make_particle_setup(variant("particles", n, k)));
      runs.emplace_back(n, k);
    }

  const int dim = resolved["dim"];
  // The distance in Ḣ^{−σ}, σ the kernel's order where it has one and at least (d+1)/2 (finite
  // for particles).
  const Kernel kernel = make_kernel(resolved);
  const json parameters = kernel.parameters();
  const double sigma = std::max(parameters.value("s", 0.0), 0.5 * (dim + 1));
  const bool full_energy = kernel.has_finite_self_energy();
  fs::path dir = options.out;
  if (dir.empty()) {
    const std::string stem = options.config.empty() ? "default" : fs::path(options.config).stem().string();
    dir = fs::path("runs") / (stem + "-scaling-" + timestamp("%Y%m%d-%H%M%S"));
  }
  prepare_run_directory(dir, options.force);
  busy_machine_note();
  const double predicted_slope = sampling == "iid"        ? -0.5
                                 : sampling == "jittered" ? -std::min(sigma / dim, 0.5 + 1.0 / dim)
                                                          : -sigma / dim;
  json study = {{"study", "scaling"},
                {"sigma", sigma},
                {"sampling", sampling},
                {"seeds", seeds},
                {"predicted_slope_t0", predicted_slope},
                {"energy_particles", full_energy ? "full" : "interaction"},
                {"counts", counts},
                {"pde_grid", pde.grid},
                {"kmdflow", {{"version", KMDFLOW_VERSION}, {"backend", backend_name()}, {"threads", backend_threads()}}},
                {"config", resolved}};
  // config.json marks the directory as kmdflow's (so that --force may replace it).
  write_file_atomically(dir / "config.json", resolved.dump(2) + "\n");

  std::printf("kmdflow study scaling: %s kernel, d = %d, sigma = %g, counts", kernel.description().c_str(), dim, sigma);
  for (long long n : counts) std::printf(" %lld", n);
  std::printf("\n");
  std::fflush(stdout);
  const fs::path pde_dir = dir / "pde";
  if (int code = run_pde(pde, pde_dir, true); code != 0) return code;
  std::printf("  pde (%d^%d cells): %.1f s\n", pde.grid, dim, wall());
  std::fflush(stdout);
  std::vector<fs::path> particle_dirs;
  for (std::size_t r = 0; r < runs.size(); ++r) {
    const auto [n, k] = runs[r];
    const fs::path d = dir / ("particles-" + std::to_string(n) + (k ? "-seed" + std::to_string(k) : ""));
    const double before = wall();
    if (int code = run_particles(particles[r], d, true); code != 0) return code;
    std::printf("  N = %lld (%s sampling, seed %lld): %.1f s\n", n, sampling.c_str(), first_seed + k, wall() - before);
    std::fflush(stdout);
    particle_dirs.push_back(d);
  }

  // The distances at the snapshot times.
  const H5mdField density = read_h5md_field((pde_dir / "trajectory.h5").string(), "density");
  auto solver = make_pde_solver(kernel, pde.grid, pde.initial_cells, pde.target_cells, pde.config["pde"]["cfl"]);
  std::vector<double> pde_energy;
  for (const auto& frame : density.frames) {
    solver->set_density(frame.values);
    pde_energy.push_back(solver->diagnostics().energy);
  }
  StagedFile csv(dir / "scaling.csv");
  csv.write_line("N,t,distance,energy_particles,energy_pde,wall_s,seed");
  std::map<double, std::map<double, std::vector<double>>> by_time; // t → N → distances over seeds
  const double dt = resolved["time"]["dt"];
  for (std::size_t r = 0; r < runs.size(); ++r) {
    const auto [n, k] = runs[r];
    const auto frames = read_h5md_frames((particle_dirs[r] / "trajectory.h5").string());
    const auto walls = wall_times(particle_dirs[r] / "series.csv");
    MeanFieldDistance distance(dim, sigma, std::size_t(n), pde.grid);
    auto flow = make_flow(particles[r], particles[r].weights);
    PointView<> x("kmdflow::study::x", n, dim), v("kmdflow::study::v", n, dim);
    for (const auto& frame : frames) {
      // The PDE frame at the same time (fixed steps reach a snapshot within a step).
      std::size_t best = 0;
      for (std::size_t f = 1; f < density.frames.size(); ++f)
        if (std::abs(density.frames[f].time - frame.time) < std::abs(density.frames[best].time - frame.time)) best = f;
      if (std::abs(density.frames[best].time - frame.time) > 0.5 * dt + 1e-12) continue;
      const double t = density.frames[best].time;
      const double d2 = distance.squared(frame.positions, particles[r].weights, density.frames[best].values);
      Kokkos::deep_copy(x, frame.positions);
      flow->velocity(x, v);
      const Energies e = flow->energies(x, v);
      const double energy = full_energy ? e.energy : e.interaction_energy;
      const double dist = std::sqrt(std::max(d2, 0.0));
      csv.write_line(std::to_string(n) + "," + number(t) + "," + number(dist) + "," + number(energy) + "," +
                     number(pde_energy[best]) + "," + number(interpolate(walls, frame.time)) + "," +
                     std::to_string(first_seed + k));
      by_time[t][double(n)].push_back(dist);
    }
  }
  csv.commit();

  // Distance against N at each time: the fitted log-log slope of the mean over seeds.
  json slopes = json::array();
  for (const auto& [t, by_count] : by_time) {
    std::vector<double> log_n, log_d;
    for (const auto& [n, distances] : by_count) {
      double mean = 0;
      for (double d : distances) mean += d / double(distances.size());
      if (mean > 0) log_n.push_back(std::log(n)), log_d.push_back(std::log(mean));
    }
    if (log_n.size() >= 2) {
      const double mn = log_n.size() >= 3 ? slope(log_n, log_d)
                                          : (log_d[1] - log_d[0]) / (log_n[1] - log_n[0]);
      slopes.push_back({{"t", t}, {"slope", finite_or_null(mn)}});
    }
  }
  study["distance_slopes"] = slopes;
  study["wall_s"] = wall();
  write_file_atomically(dir / "study.json", study.dump(2) + "\n");

  std::printf("  results: %s/scaling.csv (distance in H^-%g; energy_particles: %s energy)\n", dir.string().c_str(), sigma,
              full_energy ? "full" : "interaction");
  for (const auto& sl : slopes)
    if (!sl["slope"].is_null() && (sl == slopes.front() || sl == slopes.back() || sl == slopes[slopes.size() / 2]))
      std::printf("  distance ~ N^%.3f at t = %g%s\n", sl["slope"].get<double>(), sl["t"].get<double>(),
                  sl == slopes.front() ? format(" (%s sampling: N^%.3g)", sampling.c_str(), predicted_slope).c_str() : "");
  if (resolved["output"]["plots"].get<bool>()) {
    if (plot_command(dir.string(), true) == 0)
      std::printf("  plots:   %s/{energy,distance,wall}.png\n", dir.string().c_str());
    else
      std::printf("  plots:   not made (run `kmdflow plot %s` to see why)\n", dir.string().c_str());
  }
  std::printf("  total %.1f s\n", wall());
  return 0;
}

} // namespace kmdflow::app
