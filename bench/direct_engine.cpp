// The direct engine (DESIGN.md §4, §6): interactions per second and GFLOP/s of one velocity
// evaluation for N = 2¹⁰ … 2¹⁵ on T^1.
//
//   build/bench/bench_direct_engine [--positions FILE.csv] [--benchmark_...]
//
// With --positions the first N points of FILE are used (bench/compare_direct_numpy.py passes the
// same file to numpy). Flops per interaction, for the closed forms (integer s, a polynomial of
// degree 2s − 1 in z = {x_i − x_j} − ½): 1 (difference) + 1 (centring, branch-free) + 2(2s − 1)
// (Horner) + 2 (weight, accumulate) = 4s + 2. Fractional s evaluates a power and a Chebyshev
// series per pair (≈ 2 + 3 × terms flops plus one pow); only interactions/s are reported there.
// DirectVelocitiesFloat: the same with precision "float" (the pairs in single precision; the
// difference is formed in double, then rounded).
#include "BenchUtilities.hpp"

#include <kmdflow/DirectEngine1D.hpp>

#include <cstring>
#include <optional>
#include <string>

using namespace kmdflow;

namespace {

std::string positions_file;

/// --positions FILE (or --positions=FILE): the points to use instead of random ones; the report's
/// context names the file.
std::optional<int> read_positions_flag(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--positions=", 12) == 0) positions_file = argv[i] + 12;
    else if (std::strcmp(argv[i], "--positions") == 0 && i + 1 < argc) positions_file = argv[++i];
  }
  if (!positions_file.empty()) benchmark::AddCustomContext("positions", positions_file);
  return std::nullopt;
}

} // namespace

static void direct_velocities(benchmark::State& state, Precision precision) {
  const double s = double(state.range(0)) / 100;
  const std::size_t n = std::size_t(state.range(1));
  const auto in = bench::velocity_inputs(bench::positions(n, positions_file));
  const SobolevKernel kernel(1, s);
  DirectEngine1D<> engine(ExecutionSpace(), SobolevKernelEvaluator1D(kernel), n, {}, {}, precision);
  bench::time_velocities(state, engine, in);
  const double pairs = double(n) * double(n);
  state.counters["interactions_per_s"] = benchmark::Counter(pairs, benchmark::Counter::kIsIterationInvariantRate);
  if (kernel.has_closed_form())
    state.counters["GFLOP_per_s"] =
        benchmark::Counter(pairs * (4 * s + 2) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

static void DirectVelocities(benchmark::State& state) { direct_velocities(state, Precision::fp64); }
static void DirectVelocitiesFloat(benchmark::State& state) { direct_velocities(state, Precision::fp32); }

// s in hundredths: 100 (closed form, s = 1), 200 (s = 2), 75 (a power law), 150 (the log case).
// A GPU needs larger N to fill it: up to 2^18 there.
#if defined(KOKKOS_ENABLE_CUDA)
#define KMDFLOW_DIRECT_SIZES {1 << 12, 1 << 14, 1 << 16, 1 << 18}
#else
#define KMDFLOW_DIRECT_SIZES {1 << 10, 1 << 11, 1 << 12, 1 << 13, 1 << 14, 1 << 15}
#endif
#define KMDFLOW_DIRECT_ARGS ->ArgNames({"s100", "N"})->ArgsProduct({{100, 200, 75, 150}, KMDFLOW_DIRECT_SIZES}) \
                            ->UseManualTime()->Unit(benchmark::kMillisecond)
BENCHMARK(DirectVelocities) KMDFLOW_DIRECT_ARGS;
BENCHMARK(DirectVelocitiesFloat) KMDFLOW_DIRECT_ARGS;

int main(int argc, char** argv) { return bench::run_main(argc, argv, {.after_initialize = read_positions_flag}); }
