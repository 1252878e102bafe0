#pragma once
// From a resolved configuration to the objects of a particle run: kernel, target, initial
// particles, flow. Every failure that is the input's fault is a ConfigError naming the key.

#include <kmdflow/Config.hpp>
#include <kmdflow/Density.hpp>
#include <kmdflow/Kernel.hpp>
#include <kmdflow/ParticleFlow.hpp>
#include <kmdflow/Target.hpp>
#include <kmdflow/app/Processes.hpp>

#include <filesystem>
#include <memory>
#include <vector>

namespace kmdflow::app {

struct ResumeFrom;

struct ParticleSetup {
  nlohmann::json config;   ///< resolved (and completed: what config.json records)
  nlohmann::json resolved; ///< what the setup was made from (checkpoints keep it)
  std::shared_ptr<const Kernel> kernel;
  std::shared_ptr<const Target> target;
  std::shared_ptr<const Density> initial_density; ///< null when particles come from a file
  PointView<Kokkos::HostSpace> positions;          ///< initial, wrapped
  ScalarView<Kokkos::HostSpace> weights;           ///< summing to 1
  /// Where positions and weights hold only a block of the particles (a rank's own, on the ranks
  /// other than 0 of a run: share_run sends each no more), the block's first row and the count of
  /// all the particles; 0 and 0: they hold all of them.
  std::size_t first_row = 0, all_particles = 0;
  std::size_t particles() const { return all_particles ? all_particles : positions.extent(0); }
};

/// A PDE run (solver "pde"): kernel, target and initial densities and their cell averages.
struct PdeSetup {
  nlohmann::json config;   ///< resolved (and completed: what config.json records)
  nlohmann::json resolved; ///< what the setup was made from (checkpoints keep it)
  std::shared_ptr<const Kernel> kernel;
  std::shared_ptr<const Density> target, initial;
  int grid = 0;
  std::vector<double> initial_cells, target_cells; ///< cell averages, row major
};

/// Checks and builds a PDE run: density initial and target (no files, no samples), cell averages
/// that resolve them and stay positive.
PdeSetup make_pde_setup(const nlohmann::json& resolved);

/// Runs a checked setup into `dir` (config.json, series.csv, trajectory.h5, summary.json,
/// plots), which is created (or, with `force`, replaced: prepare_run_directory) once the model is
/// built; `quiet`: no progress, no summary lines, no plots. Returns the exit code.
int run_particles(const ParticleSetup& setup, const std::filesystem::path& dir, bool quiet, bool force = false,
                  const ResumeFrom* resume = nullptr);
int run_pde(const PdeSetup& setup, const std::filesystem::path& dir, bool quiet, bool force = false,
                  const ResumeFrom* resume = nullptr);

/// A ReLU network run (model "relu"): the teacher's neurons and the student's initial state
/// (N × (d+2): w then a in the parameters form, θ then m in the WFR form).
struct ReluSetup {
  nlohmann::json config;   ///< resolved (and completed: what config.json records)
  nlohmann::json resolved; ///< what the setup was made from (checkpoints keep it)
  PointView<Kokkos::HostSpace> teacher;            ///< M × (d+1)
  ScalarView<Kokkos::HostSpace> teacher_weights;   ///< M
  PointView<Kokkos::HostSpace> state;              ///< N × (d+2)
};
ReluSetup make_relu_setup(const nlohmann::json& resolved);
int run_relu(const ReluSetup& setup, const std::filesystem::path& dir, bool quiet, bool force = false,
                  const ResumeFrom* resume = nullptr);
/// `eval` for model relu: a neuron file x0,…,xd,m; writes v0,…,vd,dm and prints the loss.
int eval_relu(const nlohmann::json& resolved, const std::string& positions, const std::filesystem::path& out);

/// The density a `target` or `initial` block describes (null for samples and file).
std::shared_ptr<const Density> make_density(const nlohmann::json& block, int dim,
                                            const std::string& key);

/// Kernel and target of a resolved configuration.
void make_model(ParticleSetup& setup);

/// Refuses, as the input's fault (ConfigError naming forces.method), an engine that cannot treat
/// the kernel for this many particles (and target samples).
void check_engine(const nlohmann::json& resolved, const Kernel& kernel, const Target& target, std::size_t particles);

/// Everything, initial particles included (sampled, or read from initial.path).
ParticleSetup make_particle_setup(const nlohmann::json& resolved);

/// The engine the configuration's `forces` block (and `precision`) asks for, for `count` particles.
std::unique_ptr<InteractionEngine> make_configured_engine(const ParticleSetup& setup, std::size_t count);
/// The flow for given particle weights, with the configured engine (on several ranks, rank 0's,
/// the others serving its sums: eval, study).
std::unique_ptr<ParticleFlow> make_flow(const ParticleSetup& setup, const ScalarView<Kokkos::HostSpace>& weights);
/// A run's flow for this rank's block `rows` of the setup's particles (own_rows; all of them
/// alone): its engine and energies sum over every rank's block (share_by_blocks).
std::unique_ptr<ParticleFlow> make_block_flow(const ParticleSetup& setup, const Rows& rows);

/// Loads a configuration as the command line gives it: the file (or the built-in default),
/// paths inside it made relative to its directory, then the --set overrides, then resolved.
/// `--set BLOCK.type=NEW` drops the old type's keys of target, initial and kernel; `--set
/// solver=...` without `--set time.integrator` drops the integrator for the solver's default;
/// both said on stderr where `report`.
nlohmann::json load_config(const std::string& path, const std::vector<std::string>& overrides, bool report = true);
/// The same for a configuration given as JSON (Python's dicts): paths in it relative to the
/// current directory.
nlohmann::json load_config_json(nlohmann::json raw, const std::vector<std::string>& overrides, bool report = true);

/// Refuses coincident particles where the kernel's gradient is unbounded (2s < d + 1):
/// ConfigError naming `key` and the two particles.
void check_distinct(const PointView<Kokkos::HostSpace>& positions, const Kernel& kernel, const std::string& key);

/// "OpenMP", "Cuda", …, and the concurrency, for the records.
std::string backend_name();
int backend_threads();

} // namespace kmdflow::app
