#include <kmdflow/Sampling.hpp>

#include <algorithm>
#include <cmath>
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
  const int dim = density.dim();
  // The lattice samplings need N = n^d.
  std::size_t side = count;
  if (dim > 1 && sampling != Sampling::iid) {
    side = std::size_t(std::llround(std::pow(double(count), 1.0 / dim)));
    std::size_t power = 1;
    for (int d = 0; d < dim; ++d) power *= side;
    if (power != count) {
      std::size_t below = 1, above = 1;
      const std::size_t lo = std::size_t(std::floor(std::pow(double(count), 1.0 / dim)));
      for (int d = 0; d < dim; ++d) below *= lo, above *= lo + 1;
      throw std::invalid_argument(to_string(sampling) + " sampling in d = " + std::to_string(dim) +
                                  " needs N = n^" + std::to_string(dim) + " particles (got " +
                                  std::to_string(count) + "; nearest " + std::to_string(below) + " or " +
                                  std::to_string(above) + ")");
    }
  }
  // Uniform points u ∈ [0, 1)^d: iid, a lattice of cell centres, or jittered within the cells.
  std::vector<double> u(count * dim);
  std::mt19937_64 rng(seed);
  for (std::size_t i = 0; i < count; ++i) {
    std::size_t index = i;
    for (int d = dim - 1; d >= 0; --d) {
      // The lattice index of axis d; the last axis runs fastest.
      const std::size_t cell = dim == 1 ? i : index % side;
      if (dim > 1) index /= side;
      double& value = u[i * dim + d];
      switch (sampling) {
      case Sampling::iid: value = uniform01(rng); break;
      case Sampling::jittered: value = (double(cell) + uniform01(rng)) / double(side); break;
      case Sampling::lattice:
      case Sampling::quantile: value = (double(cell) + 0.5) / double(side); break;
      }
    }
  }
  PointView<Kokkos::HostSpace> x(Kokkos::view_alloc(Kokkos::WithoutInitializing,
                                                    std::string("kmdflow::sample_positions")), count, dim);
  const bool uniform = density.type() == "uniform";
  // ρ through its quantile function (d = 1) or its Knothe–Rosenblatt map (d ≥ 2).
  Kokkos::parallel_for(
      "kmdflow::sample_positions::map", Kokkos::RangePolicy<Kokkos::DefaultHostExecutionSpace>(0, count),
      [&](std::size_t i) {
        double y[3];
        if (uniform) std::copy(&u[i * dim], &u[i * dim] + dim, y);
        else if (dim == 1) y[0] = density.quantile(u[i]);
        else density.knothe_rosenblatt(&u[i * dim], y);
        for (int d = 0; d < dim; ++d) x(i, d) = y[d];
      });
  return x;
}

PointView<> iid_uniform_points(std::size_t n, int dim, std::uint64_t seed, const std::string& label) {
  PointView<> x(label, n, dim);
  auto h = Kokkos::create_mirror_view(x);
  std::mt19937_64 rng(seed);
  for (std::size_t i = 0; i < n; ++i)
    for (int d = 0; d < dim; ++d) h(i, d) = uniform01(rng);
  Kokkos::deep_copy(x, h);
  return x;
}

} // namespace kmdflow
