#pragma once
// Shared by the benchmarks: inputs, and the Kokkos configuration in the report's context.

#include <kmdflow/ParticleFile.hpp>
#include <kmdflow/Sampling.hpp>
#include <kmdflow/Types.hpp>

#include <benchmark/benchmark.h>

#include <random>
#include <sstream>
#include <string>

namespace kmdflow::bench {

/// n iid uniform points (device), from a fixed seed; or the first n points of `file` if given.
inline PointView<> positions(std::size_t n, const std::string& file = "") {
  PointView<> x("bench::x", n, 1);
  auto h = Kokkos::create_mirror_view(x);
  if (!file.empty()) {
    const auto data = read_particles(file, 1, "--positions");
    for (std::size_t i = 0; i < n; ++i) h(i, 0) = data.positions(i % data.positions.extent(0), 0);
  } else {
    std::mt19937_64 rng(12345);
    for (std::size_t i = 0; i < n; ++i) h(i, 0) = uniform01(rng);
  }
  Kokkos::deep_copy(x, h);
  return x;
}

inline void add_kokkos_context() {
  std::ostringstream config;
  Kokkos::print_configuration(config, false);
  benchmark::AddCustomContext("kokkos_backend", ExecutionSpace::name());
  benchmark::AddCustomContext("kokkos_threads", std::to_string(ExecutionSpace().concurrency()));
}

} // namespace kmdflow::bench
