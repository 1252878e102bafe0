// The ReLU network's pair kernel (issue 6): V(w_i) and ∇V(w_i) for N student neurons against
// N students and M teacher neurons on S^d, i.e. N² + NM pair evaluations per call. Reported:
// pair evaluations per second. With --dump FILE N the state and teacher are written for
// compare_relu_numpy.py, which times a vectorised numpy version of the same sums in the same run.
//
//   build/bench/bench_relu_kernel [--benchmark_filter=...]
#include "BenchUtilities.hpp"

#include <kmdflow/ReluModel.hpp>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <random>
#include <string>

using namespace kmdflow;

namespace {

constexpr int d = 2;
constexpr std::size_t teacher_count = 10;

struct Problem {
  PointView<Kokkos::HostSpace> state, teacher;
  ScalarView<Kokkos::HostSpace> teacher_weights;
};

Problem problem(std::size_t n) {
  Problem p{sphere_points(d, n, false, 1), sphere_points(d, teacher_count, false, 2),
            ScalarView<Kokkos::HostSpace>("b", teacher_count)};
  PointView<Kokkos::HostSpace> state("state", n, d + 2);
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> uniform(0.5, 1.5);
  for (std::size_t i = 0; i < n; ++i) {
    const double scale = uniform(rng);
    for (int a = 0; a <= d; ++a) state(i, a) = scale * p.state(i, a);
    state(i, d + 1) = uniform(rng);
  }
  p.state = state;
  for (std::size_t m = 0; m < teacher_count; ++m) p.teacher_weights(m) = uniform(rng);
  return p;
}

/// The problem for n students, and V, ∇V from one evaluation of the kernel on the device (the
/// benchmark's warm-up, the values --dump writes).
struct Evaluation {
  Problem p;
  ReluModel model;
  PointView<> x;
  ScalarView<> V;
  PointView<> grad;

  explicit Evaluation(std::size_t n)
      : p(problem(n)), model(d, ReluForm::parameters, p.teacher, p.teacher_weights),
        x(Kokkos::create_mirror_view_and_copy(MemorySpace(), p.state)), V("V", n), grad("grad", n, d + 1) {
    run();
  }
  void run() { model.first_variation(x, V, grad); }
};

void pair_kernel(benchmark::State& state) {
  const std::size_t n = std::size_t(state.range(0));
  Evaluation e(n);
  bench::time_iterations(state, [&] { e.run(); });
  const double pairs = double(n) * double(n + teacher_count);
  state.counters["pairs_per_s"] = benchmark::Counter(pairs, benchmark::Counter::kIsIterationInvariantRate);
}

/// Writes the problem (state rows w0..wd,a; then the teacher rows v0..vd,b) and the kernel's V
/// and ∇V for the numpy comparison to check against.
int dump(const std::string& path, std::size_t n) {
  const Evaluation e(n);
  const auto& p = e.p;
  auto Vh = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), e.V);
  auto gh = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), e.grad);
  std::ofstream out(path);
  out.precision(17);
  out << n << " " << teacher_count << " " << d << "\n";
  for (std::size_t i = 0; i < n; ++i) {
    for (int a = 0; a <= d + 1; ++a) out << p.state(i, a) << " ";
    out << Vh(i);
    for (int a = 0; a <= d; ++a) out << " " << gh(i, a);
    out << "\n";
  }
  for (std::size_t m = 0; m < teacher_count; ++m) {
    for (int a = 0; a <= d; ++a) out << p.teacher(m, a) << " ";
    out << p.teacher_weights(m) << "\n";
  }
  return 0;
}

/// --dump FILE N writes the problem instead of running the benchmarks.
std::optional<int> read_dump_flag(int argc, char** argv) {
  for (int i = 1; i + 2 < argc; ++i)
    if (std::strcmp(argv[i], "--dump") == 0) return dump(argv[i + 1], std::stoul(argv[i + 2]));
  return std::nullopt;
}

} // namespace

BENCHMARK(pair_kernel)->Name("ReluPairs")->ArgName("N")->Arg(1000)->Arg(3000)->Arg(10000)->Arg(30000)->Arg(100000)->UseManualTime()->Unit(benchmark::kMillisecond);

// A dump is no benchmark run: --dump is read before Google Benchmark reads argv.
int main(int argc, char** argv) { return bench::run_main(argc, argv, {.before_initialize = read_dump_flag}); }
