#pragma once
// Copying particles, or a samples target's atoms, into an engine's arrays of points and weights.

#include <Kokkos_Core.hpp>

#include <cstddef>

namespace kmdflow::detail {

/// points(first + j, :) = x(j, :) and weights(first + j) = sign · w(j) for every row j of x: the
/// particles (sign +1, first 0) or a samples target's atoms as negative weights after them.
template <class ExecutionSpace, class Points, class Weights, class X, class W>
void copy_points(const ExecutionSpace& space, const char* label, const Points& points,
                 const Weights& weights, std::size_t first, const X& x, const W& w, double sign) {
  const int dim = int(points.extent(1));
  Kokkos::parallel_for(
      label, Kokkos::RangePolicy<ExecutionSpace>(space, 0, x.extent(0)), KOKKOS_LAMBDA(std::size_t j) {
        for (int d = 0; d < dim; ++d) points(first + j, d) = x(j, d);
        weights(first + j) = sign * w(j);
      });
}

} // namespace kmdflow::detail
