// kmdflow: Wasserstein gradient flows of kernel mean discrepancies (DESIGN.md §7).
//
//   kmdflow run [CONFIG.json] [--set KEY=VALUE]... [--out DIR] [--force]
//   kmdflow run --resume RUN_DIR
//   kmdflow eval CONFIG.json --positions FILE [--out FILE.csv]
//   kmdflow study scaling CONFIG.json --counts N1,N2,... [--seeds K] [--out DIR] [--force]
//   kmdflow study relu-rates [--quick] [--out DIR] [--dims 1,2,3]
//   kmdflow study rates [--quick] --out DIR [--families 1,2,3,4,5]
//   kmdflow plot RUN_DIR
//   kmdflow convert RUN_DIR --to xyz|npz [--out FILE]
//   kmdflow info [--json]
//
// Exit codes: 0 ok, 1 runtime failure, 2 bad input (one `error: ...` line on stderr).

#include <kmdflow/Config.hpp>
#include <kmdflow/app/Commands.hpp>
#include <kmdflow/app/Processes.hpp>

#include <CLI/CLI.hpp>
#include <Kokkos_Core.hpp>

#include <cstdio>
#include <cstdlib>
#include <unistd.h>
#include <new>
#include <exception>
#include <optional>

namespace {

// On several MPI ranks every rank meets the same bad input; rank 0 says so.
int bad_input(const std::string& message) {
  if (kmdflow::app::process_rank() == 0) std::fprintf(stderr, "error: %s\n", message.c_str());
  return 2;
}

/// MPI, where a launcher started kmdflow: finalised whichever way main returns.
struct Processes {
  Processes(int& argc, char**& argv) { kmdflow::app::start_processes(argc, argv); }
  ~Processes() { kmdflow::app::stop_processes(); }
};

// One line: the messages of nested libraries may carry newlines.
std::string one_line(std::string s) {
  for (auto& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}

/// The OpenMP runtime spins at every barrier before it sleeps (libgomp: 300000 iterations; LLVM's:
/// 200 ms). Where another process holds a core, a spinning thread takes the time slice its
/// partner needs, and runs made of many short kernels go 10× slower (the default example: 34 s
/// with 2 threads beside a CPU hog, 3.1 s with one). The runtime reads its spin count when it is
/// loaded, before main: kmdflow re-executes itself once with a short one (GOMP_SPINCOUNT=3000,
/// KMP_BLOCKTIME=1 ms; 3.9 s beside the hog, ≤ 3% slower on an idle machine), unless the user set
/// the wait policy. bench/README.md has the figures.
void shorten_openmp_spinning(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") || std::getenv("GOMP_SPINCOUNT") || std::getenv("KMP_BLOCKTIME")) return;
  setenv("GOMP_SPINCOUNT", "3000", 1);
  setenv("KMP_BLOCKTIME", "1", 1);
  execv("/proc/self/exe", argv);
  // Not re-executed (no /proc): the runtime's defaults stay.
}

} // namespace

int main(int argc, char** argv) {
  shorten_openmp_spinning(argv);
  const Processes processes(argc, argv);
  CLI::App app{"kmdflow: Wasserstein gradient flows of kernel mean discrepancies on the torus", "kmdflow"};
  app.set_version_flag("--version", std::string(KMDFLOW_VERSION));
  app.require_subcommand(1);
  int threads = 0;
  app.add_option("--threads", threads,
                 "Threads for the host backend (default: all cores; 1 for small 1D problems; a resumed run: its own)")
      ->check(CLI::PositiveNumber);

  kmdflow::app::RunOptions run;
  auto* run_cmd = app.add_subcommand("run", "Run a simulation (no CONFIG: the bundled default example)");
  run_cmd->add_option("config", run.config, "Configuration file (JSON)");
  run_cmd->add_option("--set", run.overrides, "Override a key: --set particles.count=1000")
      ->type_name("KEY=VALUE")->take_all();
  run_cmd->add_option("--out", run.out, "Run directory (default: runs/<config>-<date>)");
  auto* force_flag = run_cmd->add_flag("--force", run.force, "Replace an existing run directory");
  run_cmd->add_option("--resume", run.resume, "Continue the run in RUN_DIR from its newest checkpoint")
      ->type_name("RUN_DIR")
      ->excludes(force_flag)
      ->excludes(run_cmd->get_option("config"))
      ->excludes(run_cmd->get_option("--set"))
      ->excludes(run_cmd->get_option("--out"));

  kmdflow::app::EvalOptions eval;
  auto* eval_cmd = app.add_subcommand("eval", "Velocities and energies of a particle file");
  eval_cmd->add_option("config", eval.config, "Configuration file (JSON)")->required();
  eval_cmd->add_option("--positions", eval.positions, "Particles: CSV x[,y[,z]][,w] or H5MD")->required();
  eval_cmd->add_option("--out", eval.out, "Velocity CSV (default: <positions>-velocities.csv)");
  eval_cmd->add_option("--set", eval.overrides, "Override a key")->type_name("KEY=VALUE")->take_all();

  kmdflow::app::StudyScalingOptions scaling;
  auto* study_cmd = app.add_subcommand("study", "Studies that run several simulations and fit what theory predicts");
  study_cmd->require_subcommand(1);
  auto* scaling_cmd = study_cmd->add_subcommand(
      "scaling", "Particles for each N against the mean-field PDE: distance, energies, wall time");
  scaling_cmd->add_option("config", scaling.config, "Configuration file (JSON)")->required();
  scaling_cmd->add_option("--counts", scaling.counts, "Particle counts, e.g. 1000,10000,100000")
      ->delimiter(',')->required();
  scaling_cmd->add_option("--seeds", scaling.seeds,
                          "Particle runs per N with seeds particles.seed, +1, ... (random samplings; default 1)");
  scaling_cmd->add_option("--out", scaling.out, "Study directory (default: runs/<config>-scaling-<date>)");
  scaling_cmd->add_option("--set", scaling.overrides, "Override a key")->type_name("KEY=VALUE")->take_all();
  scaling_cmd->add_flag("--force", scaling.force, "Replace an existing study directory");

  bool relu_quick = false;
  std::string relu_out, relu_dims = "1,2,3";
  auto* relu_rates_cmd = study_cmd->add_subcommand(
      "relu-rates", "ReLU networks near and far from a teacher density: late loss exponents against (d+3+2r)/(d+1)");
  relu_rates_cmd->add_flag("--quick", relu_quick, "Smaller networks and shorter runs (about a minute)");
  relu_rates_cmd->add_option("--out", relu_out, "Study directory (default: runs/relu-rates)");
  relu_rates_cmd->add_option("--dims", relu_dims, "Dimensions to run (default 1,2,3)");

  bool rates_quick = false;
  std::string rates_out, rates_families = "1,2,3,4,5";
  auto* rates_cmd = study_cmd->add_subcommand("rates", "The convergence-rate study: fitted rates against DESIGN.md §2");
  rates_cmd->add_flag("--quick", rates_quick, "A reduced set (under 2 minutes)");
  rates_cmd->add_option("--out", rates_out, "Study directory")->required();
  rates_cmd->add_option("--families", rates_families, "Families to run (default 1,2,3,4,5)");

  std::string plot_dir;
  auto* plot_cmd = app.add_subcommand("plot", "Plot a run or study directory (energy, dissipation, densities)");
  plot_cmd->add_option("run_dir", plot_dir, "Run directory")->required();

  std::string convert_dir, convert_to, convert_out;
  auto* convert_cmd = app.add_subcommand("convert", "A run's trajectory as extended XYZ (OVITO, ASE) or a numpy .npz");
  convert_cmd->add_option("run_dir", convert_dir, "Run directory")->required();
  convert_cmd->add_option("--to", convert_to, "xyz or npz")->required()->check(CLI::IsMember({"xyz", "npz"}));
  convert_cmd->add_option("--out", convert_out, "Output file (default: RUN_DIR/trajectory.xyz or .npz)");

  bool info_json = false;
  auto* info_cmd = app.add_subcommand("info", "Versions, backend and threads");
  info_cmd->add_flag("--json", info_json, "Machine-readable output");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return bad_input(one_line(e.what()) + " (see kmdflow --help)");
  }

  // From here every rank but 0 serves rank 0's engines until it stops (Processes.hpp).
  kmdflow::app::serve_from_here();
  const bool rank_zero = kmdflow::app::process_rank() == 0;
  try {
    if (rank_zero && *plot_cmd) return kmdflow::app::plot_command(plot_dir);
    if (rank_zero && *convert_cmd) return kmdflow::app::convert_command(convert_dir, convert_to, convert_out);
    Kokkos::InitializationSettings settings;
    const bool chosen = threads > 0; // by the user: no advice
    if (threads == 0 && *run_cmd) threads = kmdflow::app::default_threads(run);
    if (threads > 0) settings.set_num_threads(threads);
    Kokkos::ScopeGuard kokkos(settings);
    if (!rank_zero) return kmdflow::app::serve_rank_zero();
    kmdflow::app::enable_busy_machine_note(!chosen);
    if (*run_cmd) return kmdflow::app::run_command(run);
    if (*eval_cmd) return kmdflow::app::eval_command(eval);
    if (*scaling_cmd) return kmdflow::app::study_scaling_command(scaling);
    if (*rates_cmd) return kmdflow::app::study_rates_command(rates_quick, rates_out, rates_families);
    if (*relu_rates_cmd) return kmdflow::app::study_relu_rates_command(relu_quick, relu_out, relu_dims);
    if (*info_cmd) return kmdflow::app::info_command(info_json);
  } catch (const kmdflow::ConfigError& e) {
    return bad_input(one_line(e.what()));
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "error: out of memory: this run needs more memory than the machine could give (fewer "
                         "particles, a smaller pde.grid, or a looser forces.tolerance need less)\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", one_line(e.what()).c_str());
    return 1;
  }
  return 0;
}
