// The spectral engine (DESIGN.md §4, §6, issue 4): time per velocity evaluation against N at a
// tolerance (default 1e-6), in d = 1, 2, 3, with the parameters it chose; and the transforms
// alone (one type 1 and d type 2), for the comparison with FINUFFT.
//
//   build/bench/bench_spectral_engine [--tolerance 1e-6] [--benchmark_filter=...]
#include "BenchUtilities.hpp"

#include <kmdflow/SpectralEngine.hpp>

#include <chrono>
#include <cstring>
#include <random>
#include <string>

using namespace kmdflow;

namespace {

double tolerance = 1e-6;

PointView<> random_points(std::size_t n, int dim) {
  PointView<> x("bench::x", n, dim);
  auto h = Kokkos::create_mirror_view(x);
  std::mt19937_64 rng(12345);
  for (std::size_t i = 0; i < n; ++i)
    for (int d = 0; d < dim; ++d) h(i, d) = uniform01(rng);
  Kokkos::deep_copy(x, h);
  return x;
}

template <int Dim> void run(benchmark::State& state, bool transforms_only) {
  const std::size_t n = std::size_t(state.range(0));
  const double s = 1.0;
  const auto x = random_points(n, Dim);
  ScalarView<> w("w", n);
  Kokkos::deep_copy(w, 1.0 / double(n));
  PointView<> v("v", n, Dim);
  SpectralEngine<ExecutionSpace, Dim> engine(ExecutionSpace(), SobolevKernel(Dim, s), n, tolerance);
  engine.velocities(x, w, v);
  for (auto _ : state) {
    Kokkos::fence();
    const auto start = std::chrono::steady_clock::now();
    if (transforms_only) engine.transforms(x, w, v);
    else engine.velocities(x, w, v);
    Kokkos::fence();
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  const auto& p = engine.spectral_parameters();
  state.counters["particles_per_s"] = benchmark::Counter(double(n), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["K"] = p.modes;
  state.counters["grid"] = p.grid;
  state.counters["width"] = p.width;
  state.counters["cutoff"] = p.cutoff;
}

} // namespace

static void Spectral1D(benchmark::State& state) { run<1>(state, false); }
static void Spectral2D(benchmark::State& state) { run<2>(state, false); }
static void Spectral3D(benchmark::State& state) { run<3>(state, false); }
static void Transforms1D(benchmark::State& state) { run<1>(state, true); }
static void Transforms2D(benchmark::State& state) { run<2>(state, true); }
static void Transforms3D(benchmark::State& state) { run<3>(state, true); }
#define KMDFLOW_SIZES ->ArgName("N")->RangeMultiplier(10)->Range(1000, 10000000)->UseManualTime()->Unit(benchmark::kMillisecond)
BENCHMARK(Spectral1D) KMDFLOW_SIZES;
BENCHMARK(Spectral2D) KMDFLOW_SIZES;
BENCHMARK(Spectral3D) KMDFLOW_SIZES;
BENCHMARK(Transforms1D) KMDFLOW_SIZES;
BENCHMARK(Transforms2D) KMDFLOW_SIZES;
BENCHMARK(Transforms3D) KMDFLOW_SIZES;

int main(int argc, char** argv) {
  Kokkos::ScopeGuard kokkos(argc, argv);
  benchmark::Initialize(&argc, argv);
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--tolerance") == 0 && i + 1 < argc) tolerance = std::stod(argv[++i]);
  bench::add_kokkos_context();
  benchmark::AddCustomContext("tolerance", std::to_string(tolerance));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
