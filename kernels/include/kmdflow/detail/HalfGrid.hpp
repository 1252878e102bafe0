#pragma once
// The half grid of a real-to-complex FFT on an n^d grid (RealFft.hpp): row major, the last axis
// holding n/2 + 1 entries. Engines, the PDE and the distances decode its entries the same way.

#include <Kokkos_Macros.hpp>

#include <cstddef>

namespace kmdflow::detail {

/// The signed wavevector k of entry h (last component 0 … n/2, the others −n/2+1 … n/2), and
/// whether it lies in the box |k|∞ ≤ K.
KOKKOS_INLINE_FUNCTION bool half_grid_wavevector(int dim, std::size_t h, int n, int K, int* k) {
  const int half = n / 2 + 1;
  k[dim - 1] = int(h % half);
  std::size_t rest = h / half;
  bool inside = k[dim - 1] <= K;
  for (int d = dim - 2; d >= 0; --d) {
    const int i = int(rest % n);
    rest /= n;
    k[d] = i <= n / 2 ? i : i - n;
    inside = inside && (k[d] <= K && k[d] >= -K);
  }
  return inside;
}
template <int Dim> KOKKOS_INLINE_FUNCTION bool half_grid_wavevector(std::size_t h, int n, int K, int* k) {
  return half_grid_wavevector(Dim, h, n, K, k);
}

/// The wavevector k of column c (0 … n/2) of row `row` (all axes but the last, row major), and
/// whether it lies in the box |k|∞ ≤ K: half_grid_wavevector with the row and column apart, for
/// kernels over (row, column) ranges that need no 64-bit division per entry.
template <int Dim> KOKKOS_INLINE_FUNCTION bool half_grid_wavevector(int row, int column, int n, int K, int* k) {
  k[Dim - 1] = column;
  bool inside = column <= K;
  for (int d = Dim - 2; d >= 0; --d) {
    const int i = row % n;
    row /= n;
    k[d] = i <= n / 2 ? i : i - n;
    inside = inside && (k[d] <= K && k[d] >= -K);
  }
  return inside;
}

/// Π_a n_a over the half grid of an n^d grid.
inline std::size_t half_grid_size(int dim, int n) {
  std::size_t size = 1;
  for (int d = 0; d < dim; ++d) size *= d + 1 < dim ? std::size_t(n) : std::size_t(n / 2 + 1);
  return size;
}

} // namespace kmdflow::detail
