#pragma once
// Shared by the benchmarks: inputs, the timing loop, the Kokkos configuration in the report's
// context, and main.

#include <kmdflow/ParticleFile.hpp>
#include <kmdflow/Sampling.hpp>
#include <kmdflow/Types.hpp>

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <sstream>
#include <string>

namespace kmdflow::bench {

/// n iid uniform points in [0, 1)^dim (device), from a fixed seed: the same points in every program.
inline PointView<> random_points(std::size_t n, int dim, std::uint64_t seed = 12345) {
  return iid_uniform_points(n, dim, seed, "bench::x");
}

/// n iid uniform points on T^1 (device), from a fixed seed; or the first n points of `file` if given.
inline PointView<> positions(std::size_t n, const std::string& file = "") {
  if (file.empty()) return random_points(n, 1);
  PointView<> x("bench::x", n, 1);
  auto h = Kokkos::create_mirror_view(x);
  const auto data = read_particles(file, 1, "--positions");
  for (std::size_t i = 0; i < n; ++i) h(i, 0) = data.positions(i % data.positions.extent(0), 0);
  Kokkos::deep_copy(x, h);
  return x;
}

/// n equal weights 1/n.
inline ScalarView<> equal_weights(std::size_t n) {
  ScalarView<> w("w", n);
  Kokkos::deep_copy(w, 1.0 / double(n));
  return w;
}

/// What one velocity evaluation reads and writes.
struct VelocityInputs {
  PointView<> x;
  ScalarView<> w;
  PointView<> v;
};

/// The points x with equal weights, and room for their velocities.
inline VelocityInputs velocity_inputs(const PointView<>& x) {
  return {x, equal_weights(x.extent(0)), PointView<>("v", x.extent(0), x.extent(1))};
}

/// Seconds of one call of `work`, fenced on both sides so that device work started before is not
/// counted and the work's own is.
template <class F> double fenced_seconds(F&& work) {
  Kokkos::fence();
  const auto start = std::chrono::steady_clock::now();
  work();
  Kokkos::fence();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// The benchmark loop with manual time (register with ->UseManualTime()): each iteration is one
/// fenced call of `work`. Returns the total seconds, for figures derived from the mean.
template <class F> double time_iterations(benchmark::State& state, F&& work) {
  double total = 0;
  for (auto _ : state) {
    const double t = fenced_seconds(work);
    total += t;
    state.SetIterationTime(t);
  }
  return total;
}

/// Times engine.velocities after one untimed call (first touch of every buffer, plans).
template <class Engine>
void time_velocities(benchmark::State& state, Engine& engine, const VelocityInputs& in) {
  engine.velocities(in.x, in.w, in.v);
  time_iterations(state, [&] { engine.velocities(in.x, in.w, in.v); });
}

inline void add_kokkos_context() {
  std::ostringstream config;
  Kokkos::print_configuration(config, false);
  benchmark::AddCustomContext("kokkos_backend", ExecutionSpace::name());
  benchmark::AddCustomContext("kokkos_threads", std::to_string(ExecutionSpace().concurrency()));
}

/// Reads a program's own flags from argv: returns an exit code to end the program there (after a
/// dump, say), or nothing to go on to the benchmarks.
using FlagReader = std::function<std::optional<int>(int argc, char** argv)>;

struct ProgramFlags {
  FlagReader before_initialize = {}; // sees argv as given, --benchmark_ flags included
  FlagReader after_initialize = {};  // sees argv without the flags Google Benchmark took
};

/// The benchmarks' main: Kokkos for the whole program, then Google Benchmark, the program's flags,
/// the report's context and the benchmarks.
inline int run_main(int argc, char** argv, const ProgramFlags& flags = {}) {
  Kokkos::ScopeGuard kokkos(argc, argv);
  if (flags.before_initialize)
    if (const auto code = flags.before_initialize(argc, argv)) return *code;
  benchmark::Initialize(&argc, argv);
  if (flags.after_initialize)
    if (const auto code = flags.after_initialize(argc, argv)) return *code;
  add_kokkos_context();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

} // namespace kmdflow::bench
