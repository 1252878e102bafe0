#pragma once
// The non-uniform FFT's pieces around a RealFft (DESIGN.md §4, after FINUFFT): the
// exponential-of-semicircle kernel φ(t) = exp(β(√(1 − t²) − 1)) covering w points of an upsampled
// n^d grid; type 1 = spread (points → grid), FFT, deconvolve (÷ n ψ̂(k), |k|∞ ≤ K); type 2 =
// multiply by the same factors, inverse FFT, interpolate (grid → points). Spreading and
// interpolation share one weight routine, EsKernel::axis_weights.

#include <kmdflow/SpecialFunctions.hpp>
#include <kmdflow/Types.hpp>
#include <kmdflow/detail/HalfGrid.hpp>

#include <Kokkos_Complex.hpp>
#include <Kokkos_Core.hpp>
#include <Kokkos_Profiling_ScopedRegion.hpp>
#include <Kokkos_ScatterView.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

namespace kmdflow::detail {

inline constexpr int max_spreading_width = 16;

KOKKOS_INLINE_FUNCTION double es_kernel(double t, double beta) {
  const double r = 1 - t * t;
  return r > 0 ? Kokkos::exp(beta * (Kokkos::sqrt(r) - 1)) : 0.0;
}

/// The highest degree of the polynomials that stand for φ (EsKernel::tabulate).
inline constexpr int max_kernel_degree = 24;

struct EsKernel {
  int width = 0;   ///< w: grid points per axis that a point touches
  double beta = 0; ///< of φ
  /// After tabulate(): the w weights as polynomials of degree `degree` in the point's offset
  /// s ∈ [−1, 1) from its first grid line (FINUFFT's Horner tables), coefficients[j][t] of s^j
  /// for weight t; degree < 0: φ itself (exp and sqrt per weight).
  int degree = -1;
  double coefficients[max_kernel_degree + 1][max_spreading_width] = {};

  EsKernel() = default;
  EsKernel(int w, double b) : width(w), beta(b) {}

  /// The w weights φ((g − nx)/(w/2)) of the grid lines g = ⌈nx − w/2⌉ … around x ∈ [0, 1) on a
  /// periodic axis of n points, and their indices mod n; returns the first index.
  KOKKOS_INLINE_FUNCTION int axis_weights(double x, int n, double* kernel, int* index) const {
    const double half_width = 0.5 * width;
    const double u = x * n;
    const int first = int(Kokkos::ceil(u - half_width));
    if (degree >= 0) {
      // Horner's rule for all w weights at once: loops over t that compilers vectorise.
      const double s = 2 * (first - u + half_width) - 1;
      for (int t = 0; t < width; ++t) kernel[t] = coefficients[degree][t];
      for (int j = degree - 1; j >= 0; --j)
        for (int t = 0; t < width; ++t) kernel[t] = kernel[t] * s + coefficients[j][t];
    } else {
      for (int t = 0; t < width; ++t) kernel[t] = es_kernel((first + t - u) / half_width, beta);
    }
    for (int t = 0; t < width; ++t) index[t] = ((first + t) % n + n) % n;
    return index[0];
  }

  /// Replaces φ by polynomials in the offset, weight by weight (host): the lowest degree whose
  /// largest error, checked on a fine sample of offsets, is at most `error`; none (φ itself) when
  /// no degree up to max_kernel_degree reaches it.
  void tabulate(double error) {
    degree = -1;
    const double half_width = 0.5 * width;
    // Weight t at offset s: φ((t + (s + 1)/2 − w/2)/(w/2)).
    // φ continued to |z| = 1 (where es_kernel cuts to 0 for the points exactly there). Near the
    // ends of the support φ ~ e^{−β}(1 + β√(2(1 ∓ z))): its square root limits the fits of the
    // outer weights to errors of about e^{−β}, the order of the kernel's own truncation.
    auto weight = [&](int t, double s) {
      const double z = (t + 0.5 * (s + 1) - half_width) / half_width;
      return std::exp(beta * (std::sqrt(std::max(1 - z * z, 0.0)) - 1));
    };
    for (int d = std::max(width - 1, 2); d <= max_kernel_degree; ++d) {
      // Interpolation at the d + 1 Chebyshev points, then the monomial coefficients (T_{m+1} =
      // 2s T_m − T_{m−1}).
      for (int t = 0; t < width; ++t) {
        std::vector<double> chebyshev(d + 1, 0.0), values(d + 1);
        for (int i = 0; i <= d; ++i) values[i] = weight(t, std::cos(pi * (i + 0.5) / (d + 1)));
        for (int m = 0; m <= d; ++m) {
          for (int i = 0; i <= d; ++i) chebyshev[m] += values[i] * std::cos(pi * m * (i + 0.5) / (d + 1));
          chebyshev[m] *= (m == 0 ? 1.0 : 2.0) / (d + 1);
        }
        std::vector<double> previous(d + 1, 0.0), current(d + 1, 0.0), monomial(d + 1, 0.0);
        previous[0] = 1; // T_0
        current[1 % (d + 1)] = d >= 1 ? 1 : 0; // T_1
        for (int m = 0; m <= d; ++m) {
          const auto& T = m == 0 ? previous : current;
          for (int j = 0; j <= d; ++j) monomial[j] += chebyshev[m] * T[j];
          if (m >= 1) {
            std::vector<double> next(d + 1, 0.0);
            for (int j = 0; j < d; ++j) next[j + 1] = 2 * current[j];
            for (int j = 0; j <= d; ++j) next[j] -= previous[j];
            previous = current;
            current = next;
          }
        }
        for (int j = 0; j <= d; ++j) coefficients[j][t] = monomial[j];
      }
      double largest = 0;
      double kernel[max_spreading_width];
      for (int i = 0; i <= 400; ++i) {
        const double s = -1 + 2.0 * i / 401;
        for (int t = 0; t < width; ++t) {
          kernel[t] = coefficients[d][t];
          for (int j = d - 1; j >= 0; --j) kernel[t] = kernel[t] * s + coefficients[j][t];
          largest = std::max(largest, std::abs(kernel[t] - weight(t, s)));
        }
      }
      if (largest <= error) {
        degree = d;
        return;
      }
    }
  }

  /// 1/(n ψ̂(k)) = 1/((w/2) Φ(πkw/n)) for k = 0 … K, Φ(ξ) = ∫_{−1}^{1} φ(t) cos(ξt) dt (host).
  std::vector<double> deconvolution(int n, int K) const {
    std::vector<double> nodes, quadrature;
    gauss_legendre(2 * width + 20, nodes, quadrature);
    std::vector<double> correction(K + 1);
    for (int q = 0; q <= K; ++q) {
      double phi_hat = 0;
      for (std::size_t j = 0; j < nodes.size(); ++j)
        phi_hat += quadrature[j] * es_kernel(nodes[j], beta) * std::cos(pi * q * width * nodes[j] / n);
      correction[q] = 1 / (0.5 * width * phi_hat);
    }
    return correction;
  }
};

/// The tensor-product weights of one point on each axis. Along the last axis, the w grid points
/// are contiguous in memory unless they wrap around (contiguous: index[Dim − 1][t] = last + t), and
/// the loops over them run on consecutive addresses, which compilers vectorise.
template <int Dim> struct PointWeights {
  double kernel[Dim][max_spreading_width];
  int index[Dim][max_spreading_width];
  int last = 0;
  bool contiguous = false;
  KOKKOS_INLINE_FUNCTION PointWeights(const EsKernel& es, int n, const double* x) {
    for (int d = 0; d < Dim; ++d) last = es.axis_weights(x[d], n, kernel[d], index[d]);
    contiguous = last + es.width <= n;
  }
};

/// Adds q Π_d kernel[d][·] to the w^d grid points of one point: g(i) += v for flat indices i.
template <int Dim, class G>
KOKKOS_INLINE_FUNCTION void spread_point(G& g, int n, int w, const PointWeights<Dim>& p, double q) {
  // Adds f · kernel[Dim − 1][·] to the w points of a row along the last axis.
  auto add_row = [&](std::size_t row, double f) {
    if (p.contiguous) {
      const std::size_t first = row + std::size_t(p.last);
      for (int c = 0; c < w; ++c) g(first + c) += f * p.kernel[Dim - 1][c];
    } else {
      for (int c = 0; c < w; ++c) g(row + p.index[Dim - 1][c]) += f * p.kernel[Dim - 1][c];
    }
  };
  if constexpr (Dim == 1) {
    add_row(0, q);
  } else if constexpr (Dim == 2) {
    for (int a = 0; a < w; ++a) add_row(std::size_t(p.index[0][a]) * n, q * p.kernel[0][a]);
  } else {
    for (int a = 0; a < w; ++a)
      for (int b = 0; b < w; ++b)
        add_row((std::size_t(p.index[0][a]) * n + p.index[1][b]) * n, q * p.kernel[0][a] * p.kernel[1][b]);
  }
}

/// Which points of the cell list (in cell order) a process spreads and interpolates: all of them.
struct AllPoints {
  KOKKOS_INLINE_FUNCTION bool operator()(std::size_t) const { return true; }
};

/// ... or its share (InteractionEngine::set_target_rows): the particles whose original index
/// (order(p)) lies in [begin, end), and the atoms (original index ≥ particles) where `atoms`.
template <class Order> struct ShareOfPoints {
  Order order;
  std::size_t begin = 0, end = 0, particles = 0;
  bool atoms = true;
  KOKKOS_INLINE_FUNCTION bool operator()(std::size_t p) const {
    const std::size_t i = std::size_t(order(p));
    return i < particles ? i >= begin && i < end : atoms;
  }
};

/// How many slabs spread_by_slabs cuts the cell list into: an even number of slabs of whole cell
/// layers along axis 0, each at least w + 2 grid lines thick, so that the footprints of the slabs of
/// one colour (every other slab) are disjoint; 0 when fewer than two such slabs fit.
inline int spreading_slabs(int n, int nc, int w) {
  const long long layers = (static_cast<long long>(w + 2) * nc + n - 1) / n; // per slab, at least
  int slabs = int(nc / layers);
  slabs -= slabs % 2;
  return slabs >= 2 ? slabs : 0;
}

/// Type-1 spreading: grid(g) = Σ_j q_j Π_d φ((g_d − n x_jd)/(w/2)), periodically, for points in
/// cell order (CellList.hpp). On CPUs (FINUFFT's idea of subproblems without their copies): the
/// points of one slab of cell layers are spread by one thread straight into the grid, the even
/// slabs at once and then the odd ones, whose footprints do not overlap (spreading_slabs): no
/// atomics, no per-thread grids, and a sum order that does not depend on the threads.
/// Only the points `keep` accepts are spread (a process's share; all by default).
template <int Dim, class ExecutionSpace, class Grid, class Points, class Weights, class Start, class Keep = AllPoints>
void spread_by_slabs(const ExecutionSpace& space, const char* label, const Grid& grid, const Points& points,
                     const Weights& weights, const Start& start, int nc, int slabs, const EsKernel& es, int n,
                     const Keep& keep = {}) {
  Kokkos::Profiling::ScopedRegion region(label);
  Kokkos::deep_copy(space, grid, 0.0);
  std::size_t layer = 1; // cells per layer along axis 0
  for (int d = 1; d < Dim; ++d) layer *= std::size_t(nc);
  const int w = es.width;
  for (int colour = 0; colour < 2; ++colour)
    Kokkos::parallel_for(
        label, Kokkos::RangePolicy<ExecutionSpace, Kokkos::Schedule<Kokkos::Dynamic>>(space, 0, slabs / 2),
        KOKKOS_LAMBDA(int i) {
          const long long slab = 2 * i + colour;
          const std::size_t first = std::size_t(slab * nc / slabs), last = std::size_t((slab + 1) * nc / slabs);
          for (int j = start(first * layer); j < start(last * layer); ++j) {
            if (!keep(std::size_t(j))) continue;
            double x[Dim];
            for (int d = 0; d < Dim; ++d) x[d] = points(j, d);
            spread_point<Dim>(grid, n, w, PointWeights<Dim>(es, n, x), weights(j));
          }
        });
}

/// Type-1 spreading through a ScatterView (atomics on GPUs): where slabs do not apply.
template <int Dim, class ExecutionSpace, class Scatter, class Grid, class Points, class Weights, class Keep = AllPoints>
void spread(const ExecutionSpace& space, const char* label, Scatter& scatter, const Grid& grid, const Points& points,
            const Weights& weights, const EsKernel& es, int n, const Keep& keep = {}) {
  Kokkos::Profiling::ScopedRegion region(label);
  Kokkos::deep_copy(space, grid, 0.0);
  scatter.reset_except(grid);
  const auto access = scatter;
  const int w = es.width;
  Kokkos::parallel_for(
      label, Kokkos::RangePolicy<ExecutionSpace>(space, 0, points.extent(0)), KOKKOS_LAMBDA(std::size_t j) {
        if (!keep(j)) return;
        auto g = access.access();
        double x[Dim];
        for (int d = 0; d < Dim; ++d) x[d] = points(j, d);
        spread_point<Dim>(g, n, w, PointWeights<Dim>(es, n, x), weights(j));
      });
  auto target = grid; // contribute() takes a non-const view in Kokkos 4
  Kokkos::Experimental::contribute(target, scatter);
}

/// Σ_g grid(g) Π_d kernel[d][g_d] over the w^d grid points of one target.
/// Σ_g grid(g) Π_d kernel[d][g_d] over the w^d grid points of one target: the rows along the last
/// axis are summed elementwise (weighted by the other axes' kernels), then against its kernel.
template <int Dim, class Grid>
KOKKOS_INLINE_FUNCTION double gather(const Grid& grid, int n, int w, const PointWeights<Dim>& p) {
  double rows[max_spreading_width];
  for (int c = 0; c < w; ++c) rows[c] = 0;
  auto add_row = [&](std::size_t row, double f) {
    if (p.contiguous) {
      const std::size_t first = row + std::size_t(p.last);
      for (int c = 0; c < w; ++c) rows[c] += f * grid(first + c);
    } else {
      for (int c = 0; c < w; ++c) rows[c] += f * grid(row + p.index[Dim - 1][c]);
    }
  };
  if constexpr (Dim == 1) {
    add_row(0, 1.0);
  } else if constexpr (Dim == 2) {
    for (int a = 0; a < w; ++a) add_row(std::size_t(p.index[0][a]) * n, p.kernel[0][a]);
  } else {
    for (int a = 0; a < w; ++a)
      for (int b = 0; b < w; ++b)
        add_row((std::size_t(p.index[0][a]) * n + p.index[1][b]) * n, p.kernel[0][a] * p.kernel[1][b]);
  }
  double sum = 0;
  for (int c = 0; c < w; ++c) sum += rows[c] * p.kernel[Dim - 1][c];
  return sum;
}

/// Type-2 interpolation of the real grid at the points (in cell order; order(p) is the original
/// index): out(i, component) (+)= the interpolant, for original indices i < out.extent(0) whose
/// point `keep` accepts (all by default).
template <int Dim, class ExecutionSpace, class Grid, class Points, class Order, class Out, class Keep = AllPoints>
void interpolate(const ExecutionSpace& space, const char* label, const Grid& grid, const Points& points,
                 const Order& order, const EsKernel& es, int n, const Out& out, int component, bool accumulate,
                 const Keep& keep = {}) {
  Kokkos::Profiling::ScopedRegion region(label);
  const std::size_t targets = out.extent(0);
  const int w = es.width;
  Kokkos::parallel_for(
      label, Kokkos::RangePolicy<ExecutionSpace>(space, 0, order.extent(0)), KOKKOS_LAMBDA(std::size_t p) {
        const std::size_t i = std::size_t(order(p));
        if (i >= targets || !keep(p)) return;
        double x[Dim];
        for (int d = 0; d < Dim; ++d) x[d] = points(p, d);
        const double sum = gather<Dim>(grid, n, w, PointWeights<Dim>(es, n, x));
        out(i, component) = (accumulate ? out(i, component) : 0.0) + sum;
      });
}

/// The (row, column) range of the half grid of an n^d grid (HalfGrid.hpp).
template <int Dim, class ExecutionSpace>
Kokkos::MDRangePolicy<ExecutionSpace, Kokkos::Rank<2>> half_grid_range(const ExecutionSpace& space, int n) {
  int rows = 1;
  for (int d = 0; d + 1 < Dim; ++d) rows *= n;
  return Kokkos::MDRangePolicy<ExecutionSpace, Kokkos::Rank<2>>(space, {0, 0}, {rows, n / 2 + 1});
}

/// μ̂(k) = F(k) Π_d correction(|k_d|) inside the box |k|∞ ≤ K of the half grid, 0 outside.
template <int Dim, class ExecutionSpace, class Half, class Spectrum, class Correction>
void deconvolve(const ExecutionSpace& space, const char* label, const Half& half, const Spectrum& spectrum,
                const Correction& correction, int n, int K) {
  using Complex = typename Spectrum::value_type;
  Kokkos::Profiling::ScopedRegion region(label);
  const int columns = n / 2 + 1;
  Kokkos::parallel_for(
      label, half_grid_range<Dim>(space, n), KOKKOS_LAMBDA(int row, int column) {
        const std::size_t h = std::size_t(row) * columns + column;
        int k[Dim];
        if (!half_grid_wavevector<Dim>(row, column, n, K, k)) {
          spectrum(h) = Complex(0, 0);
          return;
        }
        double c = 1;
        for (int d = 0; d < Dim; ++d) c *= correction(k[d] < 0 ? -k[d] : k[d]);
        spectrum(h) = half(h) * c;
      });
}

} // namespace kmdflow::detail
