// The spectral engine (DESIGN.md §4, §6, issue 4): time per velocity evaluation against N at a
// tolerance (default 1e-6) in d = 1, 2, 3, with the parameters it chose; the transforms alone
// (one type 1 and d type 2) for the comparison with FINUFFT; and, at small N, the spectral engine
// at the default tolerance 1e-8 against the direct engine, for the crossover.
//
//   build/bench/bench_spectral_engine [--tolerance 1e-6] [--benchmark_filter=...]
//   build/bench/bench_spectral_engine --peak-memory D N   (one evaluation; prints the peak RSS)
//
// s = 1.5 in d = 1 (s = 1 would use the exact sorted engine), s = 1 in d = 2, 3.
#include "BenchUtilities.hpp"

#include <kmdflow/DirectEngine1D.hpp>
#include <kmdflow/EwaldEngine.hpp>
#include <kmdflow/SpectralEngine.hpp>

#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <sys/resource.h>

using namespace kmdflow;

namespace {

double tolerance = 1e-6;

double order(int dim) { return dim == 1 ? 1.5 : 1.0; }

template <class Engine> void time_engine(benchmark::State& state, Engine& engine, std::size_t n, int dim,
                                         bool transforms_only = false) {
  const auto in = bench::velocity_inputs(bench::random_points(n, dim));
  engine.velocities(in.x, in.w, in.v); // warm-up, whichever is timed
  const bench::RegionTimes phases;
  bench::time_iterations(state, [&] {
    if constexpr (requires { engine.transforms(in.x, in.w, in.v); }) {
      if (transforms_only) {
        engine.transforms(in.x, in.w, in.v);
        return;
      }
    }
    engine.velocities(in.x, in.w, in.v);
  });
  state.counters["particles_per_s"] = benchmark::Counter(double(n), benchmark::Counter::kIsIterationInvariantRate);
  phases.add_counters(state, "kmdflow::spectral::");
}

template <int Dim> void spectral(benchmark::State& state, bool transforms_only, double tol) {
  const std::size_t n = std::size_t(state.range(0));
  const bench::KokkosMemory memory;
  SpectralEngine<ExecutionSpace, Dim> engine(ExecutionSpace(), SobolevKernel(Dim, order(Dim)), n, tol);
  time_engine(state, engine, n, Dim, transforms_only);
  const auto& p = engine.spectral_parameters();
  state.counters["K"] = p.modes;
  state.counters["grid"] = p.grid;
  state.counters["width"] = p.width;
  state.counters["upsampling"] = p.upsampling;
  state.counters["cutoff"] = p.cutoff;
  state.counters["plan_s"] = engine.parameters()["fft_plan_seconds"].template get<double>();
  // The engine's buffers and the benchmark's points, weights and velocities, per particle.
  state.counters["bytes_per_particle"] = memory.peak_bytes() / double(n);
}

template <int Dim> void direct(benchmark::State& state) {
  const std::size_t n = std::size_t(state.range(0));
  const SobolevKernel kernel(Dim, order(Dim));
  if constexpr (Dim == 1) {
    DirectEngine1D<> engine(ExecutionSpace(), SobolevKernelEvaluator1D(kernel), n);
    time_engine(state, engine, n, Dim);
  } else {
    EwaldEngine<ExecutionSpace, Dim> engine(ExecutionSpace(), kernel, n);
    time_engine(state, engine, n, Dim);
  }
}

/// One evaluation in d = dim; prints the peak RSS (spectral_scaling.py reads it).
int peak_memory(int dim, std::size_t n) {
  rusage before{};
  getrusage(RUSAGE_SELF, &before);
  const auto in = bench::velocity_inputs(bench::random_points(n, dim));
  auto run = [&](auto& engine) { engine.velocities(in.x, in.w, in.v); };
  if (dim == 1) {
    SpectralEngine<ExecutionSpace, 1> e(ExecutionSpace(), SobolevKernel(1, order(1)), n, tolerance);
    run(e);
  } else if (dim == 2) {
    SpectralEngine<ExecutionSpace, 2> e(ExecutionSpace(), SobolevKernel(2, order(2)), n, tolerance);
    run(e);
  } else {
    SpectralEngine<ExecutionSpace, 3> e(ExecutionSpace(), SobolevKernel(3, order(3)), n, tolerance);
    run(e);
  }
  rusage after{};
  getrusage(RUSAGE_SELF, &after);
  std::printf("{\"dim\": %d, \"N\": %zu, \"peak_rss_bytes\": %ld, \"before_bytes\": %ld}\n", dim, n,
              after.ru_maxrss * 1024L, before.ru_maxrss * 1024L);
  return 0;
}

/// --tolerance TOL for the benchmarks (the report's context says which); --peak-memory D N
/// measures instead of running them.
std::optional<int> read_flags(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--tolerance") == 0 && i + 1 < argc) tolerance = std::stod(argv[++i]);
    else if (std::strcmp(argv[i], "--peak-memory") == 0 && i + 2 < argc)
      return peak_memory(std::atoi(argv[i + 1]), std::stoul(argv[i + 2]));
  }
  benchmark::AddCustomContext("tolerance", std::to_string(tolerance));
  return std::nullopt;
}

} // namespace

static void Spectral1D(benchmark::State& state) { spectral<1>(state, false, tolerance); }
static void Spectral2D(benchmark::State& state) { spectral<2>(state, false, tolerance); }
static void Spectral3D(benchmark::State& state) { spectral<3>(state, false, tolerance); }
static void Transforms1D(benchmark::State& state) { spectral<1>(state, true, tolerance); }
static void Transforms2D(benchmark::State& state) { spectral<2>(state, true, tolerance); }
static void Transforms3D(benchmark::State& state) { spectral<3>(state, true, tolerance); }
static void Crossover1DSpectral(benchmark::State& state) { spectral<1>(state, false, 1e-8); }
static void Crossover2DSpectral(benchmark::State& state) { spectral<2>(state, false, 1e-8); }
static void Crossover3DSpectral(benchmark::State& state) { spectral<3>(state, false, 1e-8); }
static void Crossover1DDirect(benchmark::State& state) { direct<1>(state); }
static void Crossover2DDirect(benchmark::State& state) { direct<2>(state); }
static void Crossover3DDirect(benchmark::State& state) { direct<3>(state); }
#define KMDFLOW_SIZES(most) ->ArgName("N")->RangeMultiplier(10)->Range(1000, most)->UseManualTime()->Unit(benchmark::kMillisecond)
#define KMDFLOW_SMALL ->ArgName("N")->RangeMultiplier(2)->Range(250, 8000)->UseManualTime()->Unit(benchmark::kMillisecond)
#if defined(KOKKOS_ENABLE_CUDA) // up to 10^8 on a GPU (issue 8's table)
#define KMDFLOW_MOST_1D 100000000
#define KMDFLOW_MOST_3D 100000000
#else
#define KMDFLOW_MOST_1D 10000000
#define KMDFLOW_MOST_3D 1000000
#endif
BENCHMARK(Spectral1D) KMDFLOW_SIZES(KMDFLOW_MOST_1D);
BENCHMARK(Spectral2D) KMDFLOW_SIZES(KMDFLOW_MOST_1D);
BENCHMARK(Spectral3D) KMDFLOW_SIZES(KMDFLOW_MOST_3D);
BENCHMARK(Transforms1D) KMDFLOW_SIZES(KMDFLOW_MOST_1D);
BENCHMARK(Transforms2D) KMDFLOW_SIZES(KMDFLOW_MOST_1D);
BENCHMARK(Transforms3D) KMDFLOW_SIZES(KMDFLOW_MOST_3D);
BENCHMARK(Crossover1DSpectral) KMDFLOW_SMALL;
BENCHMARK(Crossover1DDirect) KMDFLOW_SMALL;
BENCHMARK(Crossover2DSpectral) KMDFLOW_SMALL;
BENCHMARK(Crossover2DDirect) KMDFLOW_SMALL;
BENCHMARK(Crossover3DSpectral) KMDFLOW_SMALL;
BENCHMARK(Crossover3DDirect) KMDFLOW_SMALL;

int main(int argc, char** argv) { return bench::run_main(argc, argv, {.after_initialize = read_flags}); }
