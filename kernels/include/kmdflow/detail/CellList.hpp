#pragma once
// A cell list on T^d (after Cabana's LinkedCellList): nc^d equal cells, the points and their
// weights copied in cell order (a bin sort), so that the points of a cell — and, cell after cell,
// the neighbours of consecutive points — are contiguous in memory. The spectral engine's short
// range finds its pairs with it, and its NUFFT spreads in this order.

#include <kmdflow/Types.hpp>

#include <Kokkos_Sort.hpp>

#include <string>

namespace kmdflow::detail {

template <class MemorySpace> struct CellList {
  int cells_per_axis = 1;                           ///< nc (1: every point is every point's neighbour)
  int reach = 1;                                    ///< neighbour cells per side (cells ≥ r_c / reach wide)
  PointView<MemorySpace> points;                    ///< in cell order
  Kokkos::View<double*, MemorySpace> weights;       ///< in cell order
  Kokkos::View<int*, MemorySpace> order;            ///< the original index of each
  Kokkos::View<int*, MemorySpace> start;            ///< the first point of each cell; start(nc^d) = count
};

/// Bins `points` (N × Dim, in [0, 1)^Dim) and their weights into `cells` with nc cells per axis;
/// `cells.points` and `cells.weights` must hold N rows.
template <int Dim, class ExecutionSpace, class MemorySpace>
void build_cell_list(const ExecutionSpace& space, const std::string& label, CellList<MemorySpace>& cells, int nc,
                     const PointView<MemorySpace>& points, const Kokkos::View<double*, MemorySpace>& weights) {
  Kokkos::Profiling::ScopedRegion region(label);
  std::size_t count = 1;
  for (int d = 0; d < Dim; ++d) count *= nc;
  const std::size_t total = points.extent(0);
  cells.cells_per_axis = nc;
  Kokkos::View<double*, MemorySpace> keys(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, label + "::keys"), total);
  Kokkos::parallel_for(
      label + "::keys", Kokkos::RangePolicy<ExecutionSpace>(space, 0, total), KOKKOS_LAMBDA(std::size_t j) {
        std::size_t cell = 0;
        for (int d = 0; d < Dim; ++d) {
          int c = int(points(j, d) * nc);
          c = c < 0 ? 0 : (c >= nc ? nc - 1 : c);
          cell = cell * nc + c;
        }
        keys(j) = double(cell) + 0.5;
      });
  using Keys = decltype(keys);
  Kokkos::BinSort<Keys, Kokkos::BinOp1D<Keys>> sorter(space, keys, Kokkos::BinOp1D<Keys>(int(count), 0.0, double(count)),
                                                      false);
  sorter.create_permute_vector(space);
  const auto permutation = sorter.get_permute_vector();
  const auto offsets = sorter.get_bin_offsets();
  cells.order = Kokkos::View<int*, MemorySpace>(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, label + "::order"),
                                                total);
  cells.start = Kokkos::View<int*, MemorySpace>(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, label + "::start"),
                                                count + 1);
  const auto order = cells.order, start = cells.start;
  const auto sorted_points = cells.points;
  const auto sorted_weights = cells.weights;
  Kokkos::parallel_for(
      label + "::order", Kokkos::RangePolicy<ExecutionSpace>(space, 0, total), KOKKOS_LAMBDA(std::size_t p) {
        const int j = int(permutation(p));
        order(p) = j;
        for (int d = 0; d < Dim; ++d) sorted_points(p, d) = points(j, d);
        sorted_weights(p) = weights(j);
      });
  Kokkos::parallel_for(
      label + "::start", Kokkos::RangePolicy<ExecutionSpace>(space, 0, count + 1),
      KOKKOS_LAMBDA(std::size_t c) { start(c) = c < count ? int(offsets(c)) : int(total); });
}

/// Calls f(first, last, shift) for the points [first, last) (indices in cell order) of the cells
/// within `reach` cells of position x's cell on every axis, shift[d] ∈ {−1, 0, 1} being the period
/// to add to them for their image nearest x: y = x − (x_q + shift) needs no rounding. Along the last
/// axis the 2 reach + 1 cells are contiguous in memory and come as at most three ranges. Requires
/// nc ≥ 2 reach + 1, so that no cell comes twice; every point within reach/nc of x on each axis is
/// visited.
template <int Dim, class Start, class F>
KOKKOS_INLINE_FUNCTION void for_each_neighbour_range(const double* x, int nc, int reach, const Start& start, F&& f) {
  int c[3] = {0, 0, 0};
  for (int d = 0; d < Dim; ++d) {
    c[d] = int(x[d] * nc);
    c[d] = c[d] < 0 ? 0 : (c[d] >= nc ? nc - 1 : c[d]);
  }
  const int outer0 = Dim >= 2 ? reach : 0, outer1 = Dim >= 3 ? reach : 0;
  for (int a = -outer0; a <= outer0; ++a)
    for (int b = -outer1; b <= outer1; ++b) {
      const int o[2] = {a, b};
      double shift[3] = {0, 0, 0};
      int row = 0; // the first cell of the row of cells along the last axis
      for (int d = 0; d + 1 < Dim; ++d) {
        int cd = c[d] + o[d];
        if (cd < 0) cd += nc, shift[d] = -1;
        else if (cd >= nc) cd -= nc, shift[d] = 1;
        row = row * nc + cd;
      }
      row *= nc;
      int low = c[Dim - 1] - reach, high = c[Dim - 1] + reach; // inclusive
      if (low < 0) {
        shift[Dim - 1] = -1;
        f(start(row + low + nc), start(row + nc), shift);
        low = 0;
      }
      if (high >= nc) {
        shift[Dim - 1] = 1;
        f(start(row), start(row + high - nc + 1), shift);
        high = nc - 1;
      }
      shift[Dim - 1] = 0;
      f(start(row + low), start(row + high + 1), shift);
    }
}

/// Calls f(q, y, u) for every point q (an index in cell order) of the neighbourhood of x, with y
/// the separation x − x_q to q's image nearest x and u = |y|²: the cells within `reach` cells
/// (for_each_neighbour_range), or every point, by minimum images, when nc < 2 reach + 1 (nc = 1).
template <int Dim, class Start, class Points, class F>
KOKKOS_INLINE_FUNCTION void for_each_neighbour(const double* x, int nc, int reach, const Start& start,
                                               const Points& points, F&& f) {
  if (nc < 2 * reach + 1) {
    for (int q = 0; q < int(points.extent(0)); ++q) {
      double y[3] = {0, 0, 0}, u = 0;
      for (int d = 0; d < Dim; ++d) {
        const double t = x[d] - points(q, d);
        y[d] = t - (Kokkos::fabs(t) > 0.5 ? Kokkos::copysign(1.0, t) : 0.0); // t ∈ (−1, 1)
        u += y[d] * y[d];
      }
      f(q, y, u);
    }
    return;
  }
  for_each_neighbour_range<Dim>(x, nc, reach, start, [&](int first, int last, const double* shift) {
    double origin[3] = {0, 0, 0}; // x − shift
    for (int d = 0; d < Dim; ++d) origin[d] = x[d] - shift[d];
    for (int q = first; q < last; ++q) {
      double y[3] = {0, 0, 0}, u = 0;
      for (int d = 0; d < Dim; ++d) {
        y[d] = origin[d] - points(q, d);
        u += y[d] * y[d];
      }
      f(q, y, u);
    }
  });
}

} // namespace kmdflow::detail
