#pragma once
// One run across MPI ranks (README, "Several processes"). Rank 0 runs the command as a single
// process does — configuration, outputs, checkpoints, signals — and the other ranks join it.
//
// A particle run (share_run): every rank owns a block of the particles (own_rows: contiguous ids)
// and steps it with its own integrator; rank 0 asks the others to take each step, diagnose, and
// send their blocks for its frames and checkpoints. Each evaluation (share_by_blocks): an engine
// that splits by target rows (InteractionEngine::set_target_rows: the direct and spectral
// engines) gets every rank's positions (each rank then holds all N: 8·N·d bytes received per
// rank) and computes its own block's rows; the sorted engine, a sample sort: the ranks cut the
// torus at quantiles of a sample of every block, each sends every other the particles in its slab,
// sorts and scans its slab (InteractionEngine::set_slab) and sends the rows back. The ranks sum
// what every share needs (ρ̂(k), Fourier coefficients, the slabs' power sums) through
// set_sum_across; the rk45 error norm and the energies are summed over the blocks (Integrator,
// ParticleFlow::set_across), every rank getting the same sums.
//
// `eval` (distribute): rank 0 holds all particles and sends them with each evaluation; the ranks
// serve its pair sums, split by rows or, for the sorted engine, by slabs that every rank cuts from
// the same positions (InteractionEngine::set_position_share), and rank 0 gathers the rows or the
// sum. Large transfers go in pieces of at most 2^30 elements (MPI counts are ints).
//
// kmdflow starts MPI only where a launcher started it (mpirun, srun: OMPI_COMM_WORLD_SIZE,
// PMIX_RANK, PMI_RANK in the environment): the program `kmdflow` never loads MPI's libraries
// (Open MPI's take 0.5 s to load) and, under a launcher, replaces itself by `kmdflow-mpi`, the same
// program built with MPI beside it. So `mpirun -np 4 kmdflow run ...` works, and alone kmdflow
// starts as fast as without MPI.

#include <kmdflow/InteractionEngine.hpp>

#include <nlohmann/json.hpp>

#include <cstddef>
#include <memory>
#include <string>

namespace kmdflow::app {

class IntegratorRun;
class RunModel;
struct ParticleSetup;

/// Starts MPI where a launcher started this process; returns this process's rank (0 alone).
int start_processes(int& argc, char**& argv);
/// The number of ranks (1 alone) and this one's.
int process_count();
int process_rank();
/// Every rank, once the command line is understood: from here on the ranks other than 0 serve
/// rank 0 (serve_rank_zero), so rank 0 will tell them when to stop. Before it (a bad command
/// line, which every rank meets alike), each rank simply ends.
void serve_from_here();
/// Rank 0: tells the other ranks that the command has ended (after serve_from_here); every rank:
/// finalises MPI. Safe to call more than once; a no-op alone.
void stop_processes();

/// Ranks other than 0: serve rank 0's engines until it stops. Returns the exit code (0; 1 where
/// MPI failed). SIGINT and SIGTERM are left to rank 0, which stops the run cleanly and then them.
int serve_rank_zero();

/// The rows [begin, end) of N particles that `rank` of `ranks` owns: contiguous blocks, their
/// sizes differing by at most one.
std::pair<std::size_t, std::size_t> target_rows(std::size_t count, int rank, int ranks);

/// This process's block of the `total` particles of a run, [begin, end): every rank's differ in
/// size by at most one (target_rows). `shared`: on several ranks, whose blocks make the whole.
struct Rows {
  std::size_t begin = 0, end = 0, total = 0;
  bool shared = false;
  std::size_t size() const { return end - begin; }
};
Rows own_rows(std::size_t total);
/// A block that is the whole (one process, or a model that runs on one).
inline Rows all_rows(std::size_t total) { return {0, total, total, false}; }

/// Rank 0: every rank's block of a row-major array of `width` doubles per row into `all`
/// (rows.total × width, its own block included); the other ranks send theirs (`all` unused).
/// Every rank calls it together.
void gather_rows(const double* mine, const Rows& rows, int width, double* all);

/// Sums (largest values) of `count` doubles across the ranks, in place, giving every rank the
/// same values; nothing alone.
void sum_across_ranks(double* values, std::size_t count);
void max_across_ranks(double* values, std::size_t count);

/// A particle run's engine on P ranks, each holding its own block of the particles (own_rows):
/// velocities() and pair_energy() take that block, exchange every rank's positions, run
/// `engine`'s share and return this block's rows (the pair energy: the total, on every rank).
/// Every rank calls them together. Alone: `engine` itself. ConfigError("forces.method") where the
/// engine cannot split its work.
std::unique_ptr<InteractionEngine> share_by_blocks(std::unique_ptr<InteractionEngine> engine, std::size_t total);

/// Particles kept in their slabs, where `engine` (share_by_blocks on P ranks) shares its work by
/// position — the sorted engine, whose sample sort then sends, at each evaluation, only the
/// particles that lie outside their rank's slab. Whether they should move to their slabs now
/// (every rank calls it together, after a step): before the first move; where some rank has sent
/// out of its slab, over the evaluations since the last move, as many particles as it holds (a
/// stray travels at every evaluation, a move sends each particle at most once: the rule of ski
/// rental, which spends at most twice the least possible); or where a slab held more than 10%
/// above N/P (the move then draws new cuts). False where the engine does not share by position.
bool time_to_move(const InteractionEngine& engine);
/// After a step: moves this rank's particles — `rows`, `width` doubles each, the position (d = 1)
/// in column `position` — to the ranks whose slabs hold them, under the cuts of the engine's last
/// evaluation, drawn anew from samples where they would leave a slab more than 10% above N/P.
/// Returns the rows this rank holds afterwards, by the rank they came from (its own among them).
/// Every rank calls it together. Where the engine does not share by slab: `rows`.
std::vector<double> move_to_slabs(InteractionEngine& engine, std::vector<double> rows, int width, int position);
/// Rank 0: every rank's rows of `width` doubles (row-major, as many as `ids`) into `all` at the
/// rows of their ids (rows.total × width); the others send theirs. Every rank calls it together.
void gather_by_ids(const double* mine, const std::vector<std::size_t>& ids, int width, double* all);

/// A particle run on P ranks (rank 0): sends `setup` to the other ranks, to each only its own
/// block of the initial particles (ParticleSetup::first_row); every rank builds the run of its
/// block (make_particle_run) — a failure on any rank is rank 0's exception, a ConfigError where
/// rank 0's own; rank 0 gets the run whose steps, diagnostics, frames and checkpoints the others
/// join (they end with it; a checkpoint restored reaches each as its block). Alone:
/// make_particle_run(setup).
std::unique_ptr<RunModel> share_run(const ParticleSetup& setup);
/// The run of this rank's block of `setup`'s particles (RunCommand.cpp).
std::unique_ptr<IntegratorRun> make_particle_run(const ParticleSetup& setup);

/// On one process: `engine` itself. On P ranks (rank 0): an engine that runs `engine` on rank 0's
/// rows and has the other ranks build the same engine from `config` (the resolved configuration)
/// for theirs. ConfigError("forces.method") where the engine cannot split its work.
std::unique_ptr<InteractionEngine> distribute(std::unique_ptr<InteractionEngine> engine,
                                              const nlohmann::json& config, std::size_t particle_count);

/// ConfigError(key) on P ranks: `what` runs on one process only (the PDE solver, the ReLU model).
void require_one_process(const std::string& key, const std::string& what);

} // namespace kmdflow::app
