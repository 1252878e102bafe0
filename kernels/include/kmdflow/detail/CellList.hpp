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

/// Calls f(q) for every point q (an index in cell order) in the neighbourhood of position x: its
/// cell and the adjacent ones (3^d cells), or every point when nc = 1 (nc = 2 is not supported).
template <int Dim, class Start, class F>
KOKKOS_INLINE_FUNCTION void for_each_neighbour(const double* x, int nc, const Start& start, F&& f) {
  int c[3] = {0, 0, 0};
  for (int d = 0; d < Dim; ++d) {
    c[d] = int(x[d] * nc);
    c[d] = c[d] < 0 ? 0 : (c[d] >= nc ? nc - 1 : c[d]);
  }
  const int reach = nc >= 3 ? 1 : 0;
  for (int a = -reach; a <= reach; ++a)
    for (int b = (Dim >= 2 ? -reach : 0); b <= (Dim >= 2 ? reach : 0); ++b)
      for (int e = (Dim >= 3 ? -reach : 0); e <= (Dim >= 3 ? reach : 0); ++e) {
        const int o[3] = {a, b, e};
        int cell = 0;
        for (int d = 0; d < Dim; ++d) cell = cell * nc + ((c[d] + o[d]) % nc + nc) % nc;
        for (int q = start(cell); q < start(cell + 1); ++q) f(q);
      }
}

} // namespace kmdflow::detail
