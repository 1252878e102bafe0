#include <kmdflow/Sampling.hpp>

#include <random>
#include <stdexcept>
#include <vector>

namespace kmdflow {

Sampling parse_sampling(const std::string& name) {
  if (name == "iid") return Sampling::iid;
  if (name == "lattice") return Sampling::lattice;
  if (name == "jittered") return Sampling::jittered;
  if (name == "quantile") return Sampling::quantile;
  throw std::invalid_argument("unknown sampling '" + name + "'");
}

std::string to_string(Sampling sampling) {
  switch (sampling) {
  case Sampling::iid: return "iid";
  case Sampling::lattice: return "lattice";
  case Sampling::jittered: return "jittered";
  case Sampling::quantile: return "quantile";
  }
  return "?";
}

PointView<Kokkos::HostSpace> sample_positions(const Density& density, Sampling sampling,
                                              std::size_t count, std::uint64_t seed) {
  if (density.dim() != 1)
    throw std::invalid_argument("sampling in d = 2, 3 (Knothe–Rosenblatt) is not available yet");
  std::vector<double> u(count);
  std::mt19937_64 rng(seed);
  const double n = double(count);
  for (std::size_t i = 0; i < count; ++i) {
    switch (sampling) {
    case Sampling::iid: u[i] = uniform01(rng); break;
    case Sampling::jittered: u[i] = (double(i) + uniform01(rng)) / n; break;
    case Sampling::lattice:
    case Sampling::quantile: u[i] = (double(i) + 0.5) / n; break;
    }
  }
  PointView<Kokkos::HostSpace> x(Kokkos::view_alloc(Kokkos::WithoutInitializing,
                                                    "kmdflow::sample_positions"), count, 1);
  const bool uniform = density.type() == "uniform";
  Kokkos::parallel_for(
      "kmdflow::sample_positions::quantile",
      Kokkos::RangePolicy<Kokkos::DefaultHostExecutionSpace>(0, count),
      [&](std::size_t i) { x(i, 0) = uniform ? u[i] : density.quantile(u[i]); });
  return x;
}

} // namespace kmdflow
