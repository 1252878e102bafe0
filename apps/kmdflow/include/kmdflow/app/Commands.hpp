#pragma once
// The kmdflow subcommands (DESIGN.md §7). Each returns the process exit code: 0 ok, 1 runtime
// failure; bad input is reported by throwing ConfigError (exit code 2, one `error:` line).

#include <string>
#include <vector>

namespace kmdflow::app {

struct RunOptions {
  std::string config;                 ///< empty: the bundled default example (or config_text)
  std::string config_text;            ///< a configuration as JSON text instead of a file (Python)
  std::vector<std::string> overrides; ///< --set KEY=VALUE
  std::string out;                    ///< --out DIR
  bool force = false;                 ///< --force: replace an existing run directory
  std::string resume;                 ///< --resume DIR: continue that run from its checkpoint
};
int run_command(const RunOptions& options);
/// The host threads for `run` where --threads is not given (0: all cores): a resumed run's own
/// (config.json), and 1 for small 1D problems (the 1D PDE on ≤ 8192 cells, the sorted engine with
/// ≤ 6000 particles, counted in a CSV or .npy file for initial.type file), whose many short
/// kernels run faster on one thread. Needs no Kokkos.
int default_threads(const RunOptions& options);
/// A note on stderr when other work keeps the machine's cores busy (/proc/stat over 0.1 s leaves
/// fewer idle cores than the host threads): threads then wait on each other
/// behind that work, and --threads 1 may run faster. kmdflow does not choose threads by load
/// itself, so that a run's results do not depend on what else ran beside it. Said once per process,
/// when a run starts (after its input was checked), unless disabled: main() disables it where the
/// user chose --threads.
void busy_machine_note();
void enable_busy_machine_note(bool enabled);

struct StudyScalingOptions {
  std::string config;
  std::string config_text; ///< a configuration as JSON text instead of a file (Python)
  std::vector<std::string> overrides;
  std::vector<long long> counts; ///< --counts N1,N2,...
  long long seeds = 1;           ///< --seeds K: particle runs per N (seeds seed, seed+1, ...)
  std::string out;               ///< --out DIR (default: runs/<config>-scaling-<date>)
  bool force = false;
};
/// `kmdflow study scaling`: the PDE and the particle system for each N from the same initial
/// density; DIR/scaling.csv and plots.
int study_scaling_command(const StudyScalingOptions& options);

/// `kmdflow study relu-rates [--quick] [--out DIR] [--dims 1,2,3]`: runs
/// python3 -m kmdflow.relu_rates with this binary.
int study_relu_rates_command(bool quick, const std::string& out, const std::string& dims);

/// `kmdflow study rates [--quick] --out DIR [--families 1,2,3,4,5]`: the convergence-rate study
/// (python3 -m kmdflow.rates with this binary).
int study_rates_command(bool quick, const std::string& out, const std::string& families);

struct EvalOptions {
  std::string config;
  std::vector<std::string> overrides;
  std::string positions; ///< --positions FILE
  std::string out;       ///< --out FILE.csv (default: <positions stem>-velocities.csv beside it)
};
int eval_command(const EvalOptions& options);

int info_command(bool json);

/// Runs the plots on a run directory (python3 -m kmdflow.plot DIR, the package found beside the
/// program: PlotCommand.cpp).
int plot_command(const std::string& run_dir, bool quiet = false);

/// `kmdflow convert RUN_DIR --to xyz|npz [--out FILE]`: python3 -m kmdflow.convert.
int convert_command(const std::string& run_dir, const std::string& to, const std::string& out);

} // namespace kmdflow::app
