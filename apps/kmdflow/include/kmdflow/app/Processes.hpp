#pragma once
// One run across MPI ranks (README, "Several processes"). Rank 0 runs the command exactly as a
// single process does — configuration, integrator, outputs, checkpoints, signals — and the other
// ranks serve its pair sums: each engine evaluation is split by target rows (a block of the
// particles per rank, InteractionEngine::set_target_rows: the direct and spectral engines), or by
// slabs of the torus (InteractionEngine::set_position_share: the sorted engine); the ranks sum
// what every share needs (ρ̂(k), Fourier coefficients, the slabs' power sums) through
// set_sum_across, and rank 0 gathers the rows (velocities) or the sum (pair energy). The particles
// are replicated: rank 0 sends their positions with each evaluation (8·N·(d+1) bytes, in pieces
// of at most 2^30 elements: MPI counts are ints).
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

/// On one process: `engine` itself. On P ranks (rank 0): an engine that runs `engine` on rank 0's
/// rows and has the other ranks build the same engine from `config` (the resolved configuration)
/// for theirs. ConfigError("forces.method") where the engine cannot split its work.
std::unique_ptr<InteractionEngine> distribute(std::unique_ptr<InteractionEngine> engine,
                                              const nlohmann::json& config, std::size_t particle_count);

/// ConfigError(key) on P ranks: `what` runs on one process only (the PDE solver, the ReLU model).
void require_one_process(const std::string& key, const std::string& what);

} // namespace kmdflow::app
