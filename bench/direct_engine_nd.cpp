// The direct engine in d = 2, 3 (DESIGN.md §4, issue 3): interactions per second of one velocity
// evaluation for N = 2¹⁰ … 2¹⁶, for a singular (s = 1) and a smooth (s = 2.5) kernel, split into
// its short-range pair part and its long-range structure-factor part. Direct2DFloat/Direct3DFloat:
// the same with precision "float" (the short-range pairs in single precision). DirectKernels: the
// other kernel families (Kernel.hpp) in d = 1, 2, 3 at s = 1.5: the Gaussian (σ = 0.05, its images
// (one); σ = 0.3, its Fourier series (five modes)) and the Bessel potential (λ = 2, 20: a damped
// singular part).
//
//   build/bench/bench_direct_engine_nd [--benchmark_filter=...] [--dump-tables DIR]
//
// --dump-tables writes the engine's tables (Chebyshev coefficients, wavevector rows, symbols) as
// JSON, so that bench/compare_direct_numpy.py can evaluate the same split with numpy.
#include "BenchUtilities.hpp"

#include <kmdflow/EwaldEngine.hpp>

#include <nlohmann/json.hpp>

#include <cstring>
#include <fstream>
#include <optional>

using namespace kmdflow;

namespace {

template <int Dim> void velocities(benchmark::State& state, const Kernel& kernel, Precision precision = Precision::fp64) {
  const std::size_t n = std::size_t(state.range(1));
  const auto in = bench::velocity_inputs(bench::random_points(n, Dim));
  EwaldEngine<ExecutionSpace, Dim> engine(ExecutionSpace(), kernel, n, {}, {}, precision);
  bench::time_velocities(state, engine, in);
  state.counters["interactions_per_s"] =
      benchmark::Counter(double(n) * double(n), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["modes"] = double(engine.tables().symbols.size());
}

template <int Dim> void velocities(benchmark::State& state, Precision precision = Precision::fp64) {
  velocities<Dim>(state, SobolevKernel(Dim, double(state.range(0)) / 100), precision);
}

// Kernel k of: Gaussian σ = 0.05, 0.3; Bessel s = 1.5, λ = 2, 20.
template <int Dim> void other_kernels(benchmark::State& state) {
  const int k = int(state.range(0));
  if (k < 2) velocities<Dim>(state, GaussianKernel(Dim, k == 0 ? 0.05 : 0.3));
  else velocities<Dim>(state, BesselKernel(Dim, 1.5, k == 2 ? 2.0 : 20.0));
}

void dump_tables(const std::string& dir) {
  for (int dim : {2, 3})
    for (double s : {1.0, 2.5}) {
      const auto t = detail::ewald_tables(dim, s);
      // The Sobolev kernel's singular part has one term: c r^p, or c_m r^{2m} log r.
      const SingularPart& singular = t->singular;
      const bool log_case = singular.log_terms > 0;
      nlohmann::json j;
      j["dim"] = dim, j["s"] = s, j["alpha"] = t->alpha;
      j["singular"] = {{"c", log_case ? singular.log[0] : singular.power[0]}, {"exponent", 2 * s - dim},
                       {"log_case", log_case}, {"log_power", singular.log_power}};
      const auto& g = t->regular_gradient;
      j["regular_gradient"] = {{"a", g.a}, {"b", g.b}, {"pieces", 32}, {"terms", 12},
                               {"c", std::vector<double>(g.c.data(), g.c.data() + 32 * 12)}};
      // The wavevectors, row by row, and 2L̂ for each.
      std::vector<std::array<int, 3>> wavevectors;
      for (std::size_t r = 0; r < t->rows.size(); ++r)
        for (int l = 0; l < t->row_length[r]; ++l) {
          auto k = t->rows[r];
          k[dim - 1] += l;
          wavevectors.push_back(k);
        }
      j["wavevectors"] = wavevectors;
      j["symbols"] = t->symbols;
      std::ofstream(dir + "/tables_d" + std::to_string(dim) + "_s" + std::to_string(int(s * 100)) + ".json") << j.dump();
    }
}

/// --dump-tables DIR: writes the tables instead of running the benchmarks.
std::optional<int> read_dump_flag(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--dump-tables") == 0 && i + 1 < argc) {
      dump_tables(argv[i + 1]);
      return 0;
    }
  return std::nullopt;
}

} // namespace

static void Direct2D(benchmark::State& state) { velocities<2>(state); }
static void Direct3D(benchmark::State& state) { velocities<3>(state); }
static void Direct2DFloat(benchmark::State& state) { velocities<2>(state, Precision::fp32); }
static void Direct3DFloat(benchmark::State& state) { velocities<3>(state, Precision::fp32); }
#define KMDFLOW_ND_SIZES ->ArgNames({"s100", "N"})->ArgsProduct({{100, 250}, {1 << 10, 1 << 12, 1 << 14, 1 << 16}}) \
                         ->UseManualTime()->Unit(benchmark::kMillisecond)
BENCHMARK(Direct2D) KMDFLOW_ND_SIZES;
BENCHMARK(Direct3D) KMDFLOW_ND_SIZES;
BENCHMARK(Direct2DFloat) KMDFLOW_ND_SIZES;
BENCHMARK(Direct3DFloat) KMDFLOW_ND_SIZES;
static void DirectKernels1D(benchmark::State& state) { other_kernels<1>(state); }
static void DirectKernels2D(benchmark::State& state) { other_kernels<2>(state); }
static void DirectKernels3D(benchmark::State& state) { other_kernels<3>(state); }
#define KMDFLOW_KERNEL_SIZES ->ArgNames({"kernel", "N"})->ArgsProduct({{0, 1, 2, 3}, {1 << 12, 1 << 14}}) \
                             ->UseManualTime()->Unit(benchmark::kMillisecond)
BENCHMARK(DirectKernels1D) KMDFLOW_KERNEL_SIZES;
BENCHMARK(DirectKernels2D) KMDFLOW_KERNEL_SIZES;
BENCHMARK(DirectKernels3D) KMDFLOW_KERNEL_SIZES;

int main(int argc, char** argv) { return bench::run_main(argc, argv, {.after_initialize = read_dump_flag}); }
