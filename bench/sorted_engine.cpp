// The sorted engine (DESIGN.md §4, §6): particles per second of one velocity evaluation, for
// N = 10⁴ … 10⁷ iid uniform particles on T^1.
//
//   build/bench/bench_sorted_engine [--benchmark_filter=...] [--benchmark_repetitions=5]
#include "BenchUtilities.hpp"

#include <kmdflow/SortedEngine1D.hpp>

using namespace kmdflow;

static void SortedVelocities(benchmark::State& state) {
  const int s = int(state.range(0));
  const std::size_t n = std::size_t(state.range(1));
  const auto in = bench::velocity_inputs(bench::positions(n));
  const SobolevKernel kernel(1, s);
  SortedEngine1D<> engine(ExecutionSpace(), kernel, n);
  bench::time_velocities(state, engine, in);
  state.counters["particles_per_s"] = benchmark::Counter(double(n), benchmark::Counter::kIsIterationInvariantRate);
}

static void SortedEnergy(benchmark::State& state) {
  const std::size_t n = std::size_t(state.range(1));
  const auto x = bench::positions(n);
  const auto w = bench::equal_weights(n);
  SortedEngine1D<> engine(ExecutionSpace(), SobolevKernel(1, double(state.range(0))), n);
  bench::time_iterations(state, [&] { benchmark::DoNotOptimize(engine.pair_energy(x, w)); });
  state.counters["particles_per_s"] = benchmark::Counter(double(n), benchmark::Counter::kIsIterationInvariantRate);
}

BENCHMARK(SortedVelocities)
    ->ArgNames({"s", "N"})
#if defined(KOKKOS_ENABLE_CUDA) // a GPU holds and needs larger N
    ->ArgsProduct({{1, 2, 3}, {100000, 1000000, 10000000, 100000000}})
#else
    ->ArgsProduct({{1, 2, 3}, {10000, 100000, 1000000, 10000000}})
#endif
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(SortedEnergy)
    ->ArgNames({"s", "N"})
    ->ArgsProduct({{1, 2}, {100000, 1000000}})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

int main(int argc, char** argv) { return bench::run_main(argc, argv); }
