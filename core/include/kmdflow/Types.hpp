#pragma once
// Views and spaces shared by the whole code base.

#include <Kokkos_Core.hpp>

namespace kmdflow {

using ExecutionSpace = Kokkos::DefaultExecutionSpace;
using MemorySpace = ExecutionSpace::memory_space;

/// Points on T^d, one row per point: positions[i][dim], wrapped into [0, 1)^d.
template <class Space = MemorySpace>
using PointView = Kokkos::View<double**, Kokkos::LayoutRight, Space>;
template <class Space = MemorySpace>
using ConstPointView = Kokkos::View<const double**, Kokkos::LayoutRight, Space>;
template <class Space = MemorySpace>
using ScalarView = Kokkos::View<double*, Space>;
template <class Space = MemorySpace>
using ConstScalarView = Kokkos::View<const double*, Space>;

/// The precision of the pair interactions (config key `precision`, "double" or "float"): the
/// direct engines evaluate their pairs in it, with positions, weights and sums kept in double.
enum class Precision { fp64, fp32 };

/// Wraps a coordinate into [0, 1). Robust for x just below an integer, where x − floor(x) may
/// round to 1.
KOKKOS_INLINE_FUNCTION double wrap_unit(double x) {
  double y = x - Kokkos::floor(x);
  return y >= 1.0 ? 0.0 : y;
}

} // namespace kmdflow
