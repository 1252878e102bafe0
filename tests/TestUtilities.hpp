#pragma once
// Helpers shared by the tests: reproducible particle sets and error norms.

#include <kmdflow/Sampling.hpp>
#include <kmdflow/Types.hpp>

#include <cmath>
#include <random>

namespace kmdflow::test {

/// n iid uniform points on T^1 (device) from a fixed seed.
inline PointView<> random_points(std::size_t n, int dim, std::uint64_t seed);
inline PointView<> uniform_points(std::size_t n, std::uint64_t seed) { return random_points(n, 1, seed); }

/// n iid uniform points on T^dim (device) from a fixed seed.
inline PointView<> random_points(std::size_t n, int dim, std::uint64_t seed) {
  return iid_uniform_points(n, dim, seed, "test::points");
}

/// Weights in [0.5, 1.5], normalised to sum 1 (never all equal).
inline ScalarView<> random_weights(std::size_t n, std::uint64_t seed) {
  ScalarView<> w("test::weights", n);
  auto h = Kokkos::create_mirror_view(w);
  std::mt19937_64 rng(seed);
  double total = 0;
  for (std::size_t i = 0; i < n; ++i) total += h(i) = 0.5 + uniform01(rng);
  for (std::size_t i = 0; i < n; ++i) h(i) /= total;
  Kokkos::deep_copy(w, h);
  return w;
}

inline ScalarView<> equal_weights(std::size_t n) {
  ScalarView<> w("test::weights", n);
  Kokkos::deep_copy(w, 1.0 / double(n));
  return w;
}

/// ‖a − b‖₂ / ‖b‖₂ over all components.
inline double relative_l2(const PointView<>& a, const PointView<>& b) {
  auto ha = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), a);
  auto hb = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), b);
  double diff = 0, norm = 0;
  for (std::size_t i = 0; i < ha.extent(0); ++i)
    for (std::size_t d = 0; d < ha.extent(1); ++d) {
      diff += (ha(i, d) - hb(i, d)) * (ha(i, d) - hb(i, d));
      norm += hb(i, d) * hb(i, d);
    }
  return std::sqrt(diff / norm);
}

} // namespace kmdflow::test
