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
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

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

/// The seconds spent in each Kokkos profiling region (by name, nested ones included) while an
/// instance lives: an engine's phases as benchmark counters. Each region is fenced on entry and
/// exit, so that device kernels are counted in the region that launched them.
class RegionTimes {
public:
  RegionTimes() {
    table().clear();
    Kokkos::Tools::Experimental::set_push_region_callback(&push);
    Kokkos::Tools::Experimental::set_pop_region_callback(&pop);
  }
  ~RegionTimes() {
    Kokkos::Tools::Experimental::set_push_region_callback(nullptr);
    Kokkos::Tools::Experimental::set_pop_region_callback(nullptr);
  }
  RegionTimes(const RegionTimes&) = delete;
  RegionTimes& operator=(const RegionTimes&) = delete;

  /// Seconds per region name since construction.
  const std::map<std::string, double>& seconds() const { return table(); }

  /// Adds "<prefix><name> ms" counters (the mean per iteration) for every region whose name starts with `prefix`.
  void add_counters(benchmark::State& state, const std::string& prefix) const {
    const double iterations = double(std::max<benchmark::IterationCount>(state.iterations(), 1));
    for (const auto& [name, seconds] : table())
      if (name.rfind(prefix, 0) == 0) state.counters[name.substr(prefix.size()) + "_ms"] = 1e3 * seconds / iterations;
  }

private:
  using Clock = std::chrono::steady_clock;
  static std::map<std::string, double>& table() {
    static std::map<std::string, double> t;
    return t;
  }
  static std::vector<std::pair<std::string, Clock::time_point>>& open() {
    static std::vector<std::pair<std::string, Clock::time_point>> o;
    return o;
  }
  static void push(const char* name) {
    Kokkos::fence();
    open().emplace_back(name, Clock::now());
  }
  static void pop() {
    Kokkos::fence();
    if (open().empty()) return;
    const auto& [name, start] = open().back();
    table()[name] += std::chrono::duration<double>(Clock::now() - start).count();
    open().pop_back();
  }
};

/// The peak of the bytes held in Kokkos allocations while an instance lives (those made before it
/// and still held count from the start): an engine's memory, its buffers and scratch.
class KokkosMemory {
public:
  KokkosMemory() {
    current() = peak() = 0;
    Kokkos::Tools::Experimental::set_allocate_data_callback(&allocated);
    Kokkos::Tools::Experimental::set_deallocate_data_callback(&deallocated);
  }
  ~KokkosMemory() {
    Kokkos::Tools::Experimental::set_allocate_data_callback(nullptr);
    Kokkos::Tools::Experimental::set_deallocate_data_callback(nullptr);
  }
  KokkosMemory(const KokkosMemory&) = delete;
  KokkosMemory& operator=(const KokkosMemory&) = delete;
  double peak_bytes() const { return double(peak()); }

private:
  static std::int64_t& current() {
    static std::int64_t c = 0;
    return c;
  }
  static std::int64_t& peak() {
    static std::int64_t p = 0;
    return p;
  }
  static void allocated(Kokkos::Profiling::SpaceHandle, const char*, const void*, std::uint64_t size) {
    current() += std::int64_t(size);
    peak() = std::max(peak(), current());
  }
  static void deallocated(Kokkos::Profiling::SpaceHandle, const char*, const void*, std::uint64_t size) {
    current() -= std::int64_t(size);
  }
};

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
