#include <kmdflow/SpecialFunctions.hpp>
#include <kmdflow/SpectralEngine.hpp>
#include <kmdflow/detail/PointCopy.hpp>
#include <kmdflow/detail/SingularPart.hpp>

#include <Kokkos_Sort.hpp>

#include <cmath>
#include <map>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <tuple>

#if defined(KOKKOS_ENABLE_CUDA)
#include "cuda/CufftRealFft.hpp"
#endif

namespace kmdflow {

namespace {

constexpr int max_width = 16;

// The smallest even m ≥ n of the form 2^a 3^b 5^c: sizes FFT libraries handle best.
int next_smooth(int n) {
  for (int m = std::max(2, n + (n % 2));; m += 2) {
    int r = m;
    for (int f : {2, 3, 5})
      while (r % f == 0) r /= f;
    if (r == 1) return m;
  }
}

// Gauss–Legendre nodes and weights on [−1, 1].
void gauss_legendre(int n, std::vector<double>& x, std::vector<double>& w) {
  x.resize(n), w.resize(n);
  for (int i = 0; i < n; ++i) {
    double z = std::cos(pi * (i + 0.75) / (n + 0.5)), dp = 0;
    for (int it = 0; it < 100; ++it) {
      double p0 = 1, p1 = z;
      for (int k = 2; k <= n; ++k) {
        const double p2 = ((2 * k - 1) * z * p1 - (k - 1) * p0) / k;
        p0 = p1, p1 = p2;
      }
      dp = n * (z * p1 - p0) / (z * z - 1);
      const double dz = p1 / dp;
      z -= dz;
      if (std::abs(dz) < 1e-16) break;
    }
    x[i] = z;
    w[i] = 2 / ((1 - z * z) * dp * dp);
  }
}

// The exponential-of-semicircle kernel φ(t) = exp(β(√(1 − t²) − 1)) on [−1, 1].
KOKKOS_INLINE_FUNCTION double es_kernel(double t, double beta) {
  const double r = 1 - t * t;
  return r > 0 ? Kokkos::exp(beta * (Kokkos::sqrt(r) - 1)) : 0.0;
}

KOKKOS_INLINE_FUNCTION double minimum_image(double dx) {
  return dx - (Kokkos::fabs(dx) > 0.5 ? Kokkos::copysign(1.0, dx) : 0.0);
}

} // namespace

SpectralParameters choose_spectral_parameters(int dim, double s, std::size_t points, double tolerance) {
  if (!(tolerance > 0 && tolerance < 1)) throw std::invalid_argument("the tolerance must lie in (0, 1)");
  SpectralParameters p;
  p.tolerance = tolerance;
  // Every error source gets a fifth of the tolerance: the velocities of particles and of a
  // samples target's atoms cancel, so their relative error exceeds that of each part.
  const double target = tolerance / 5;
  // Both Ewald tails below it (with a margin for their power prefactors).
  p.z_cut = std::log(1 / target) + 2.5;
  // FINUFFT's choice for an upsampling of 2: w digits, β = 2.30 w.
  p.width = std::clamp(int(std::ceil(std::log10(10 / target))), 2, max_width);
  p.beta = 2.30 * p.width;
  // The cut-off from a target number of short-range neighbours, so that the short-range work
  // stays O(N); K follows from α = r_c²/(4 z_cut), and the grid from K.
  const double volume = dim == 1 ? 2.0 : dim == 2 ? pi : 4 * pi / 3;
  // Balances the two parts at N ~ 10⁵ on CPUs (measured: the short-range work grows like the
  // neighbour count, the FFTs like its inverse).
  const double neighbours = dim == 1 ? 8 : dim == 2 ? 56 : 300;
  const int grid_cap = dim == 1 ? (1 << 24) : dim == 2 ? 8192 : 512;
  double cutoff = std::min(0.5, std::pow(neighbours / (double(std::max<std::size_t>(points, 1)) * volume), 1.0 / dim));
  const double z_fourier = p.z_cut + std::max(0.0, (s - 1) * std::log(p.z_cut));
  auto modes_for = [&](double rc) {
    const double alpha = rc * rc / (4 * p.z_cut);
    return int(std::ceil(std::sqrt(z_fourier / (4 * pi * pi * alpha))));
  };
  auto grid_for = [&](int K) { return next_smooth(std::max(2 * (2 * K + 1), 2 * p.width)); };
  while (grid_for(modes_for(cutoff)) > grid_cap && cutoff < 0.5) cutoff = std::min(0.5, cutoff * 1.05);
  p.cutoff = cutoff;
  p.alpha = cutoff * cutoff / (4 * p.z_cut);
  p.modes = modes_for(cutoff);
  p.grid = grid_for(p.modes);
  p.cells = cutoff <= 1.0 / 3 ? int(std::floor(1 / cutoff)) : 1;
  return p;
}

namespace detail {

std::shared_ptr<const SpectralTables> spectral_tables(int dim, double s, double alpha, double cutoff, double z_cut) {
  static std::mutex mutex;
  static std::map<std::tuple<int, double, double, double>, std::shared_ptr<const SpectralTables>> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto& slot = cache[{dim, s, alpha, cutoff}];
  if (slot) return slot;
  auto t = std::make_shared<SpectralTables>();
  t->kernel = std::make_shared<SobolevKernel>(dim, s, EwaldParameters{alpha, z_cut, false});
  const SobolevKernel& k = *t->kernel;
  const double u_max = cutoff * cutoff;
  t->regular_gradient =
      PiecewiseChebyshev<32, 12>::fit([&](double u) { return k.short_range_regular_gradient_factor(u); }, 0, u_max);
  t->regular_value = PiecewiseChebyshev<32, 12>::fit([&](double u) { return k.short_range_regular_value(u); }, 0, u_max);
  slot = t;
  return t;
}

} // namespace detail

template <class ExecutionSpace, int Dim>
SpectralEngine<ExecutionSpace, Dim>::SpectralEngine(const ExecutionSpace& space, const SobolevKernel& kernel,
                                                    std::size_t particle_count, double tolerance,
                                                    const PointView<>& atoms, const ScalarView<>& atom_weights)
    : m_space(space), m_singular_gradient(kernel.has_singular_gradient()), m_particles(particle_count),
      m_atoms(atoms.data() ? atoms.extent(0) : 0) {
  if (kernel.dim() != Dim) throw std::invalid_argument("SpectralEngine: the kernel's dimension differs");
  if (m_atoms != (atom_weights.data() ? atom_weights.extent(0) : 0))
    throw std::invalid_argument("SpectralEngine: one weight per atom is needed");
  const std::size_t total = m_particles + m_atoms;
  m_parameters = choose_spectral_parameters(Dim, kernel.s(), total, tolerance);
  const auto& p = m_parameters;
  m_tables = detail::spectral_tables(Dim, kernel.s(), p.alpha, p.cutoff, p.z_cut);
  const SobolevKernel& k = *m_tables->kernel;

  auto alloc = [&](const std::string& label, std::size_t n) {
    return Kokkos::View<double*, memory_space>(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, label), n);
  };
  m_points = PointView<memory_space>(Kokkos::view_alloc(space, Kokkos::WithoutInitializing,
                                                        std::string("kmdflow::spectral::points")), total, Dim);
  m_weights = alloc("kmdflow::spectral::weights", total);
  m_sorted_points = PointView<memory_space>(
      Kokkos::view_alloc(space, Kokkos::WithoutInitializing, std::string("kmdflow::spectral::sorted_points")), total, Dim);
  m_sorted_weights = alloc("kmdflow::spectral::sorted_weights", total);
  std::size_t grid_points = 1, half_points = 1;
  std::vector<int> dims(Dim, p.grid);
  for (int d = 0; d < Dim; ++d) {
    grid_points *= p.grid;
    half_points *= d + 1 < Dim ? p.grid : p.grid / 2 + 1;
  }
  m_grid = alloc("kmdflow::spectral::grid", grid_points);
  m_half = Kokkos::View<Complex*, memory_space>(
      Kokkos::view_alloc(space, Kokkos::WithoutInitializing, std::string("kmdflow::spectral::half")), half_points);
  m_spectrum = Kokkos::View<Complex*, memory_space>(
      Kokkos::view_alloc(space, Kokkos::WithoutInitializing, std::string("kmdflow::spectral::spectrum")), half_points);
  m_scatter = decltype(m_scatter)(m_grid);

  // L̂(k) = (2π|k|)^{−2s} Q(s, 4π²α|k|²), indexed by |k| in d = 1 and by the integer |k|² in
  // d = 2, 3 (symbol_index).
  const int K = p.modes;
  const std::size_t entries = Dim == 1 ? std::size_t(K) + 1 : std::size_t(Dim) * K * K + 1;
  auto symbol = Kokkos::create_mirror_view(m_symbol = alloc("kmdflow::spectral::symbol", entries));
  symbol(0) = 0;
  for (std::size_t i = 1; i < entries; ++i) {
    const double k2 = Dim == 1 ? double(i) * double(i) : double(i);
    symbol(i) = k.symbol(k2) * regularized_upper_gamma(kernel.s(), 4 * pi * pi * p.alpha * k2);
  }
  Kokkos::deep_copy(m_symbol, symbol);
  // Σ_{k≠0, |k|∞≤K} L̂(k), by counting the lattice points of each |k|².
  if (Dim == 1) {
    for (std::size_t i = 1; i < entries; ++i) m_long_range_at_zero += 2 * symbol(i);
  } else {
    std::vector<double> count(entries, 0.0);
    const int K2 = Dim >= 3 ? K : 0;
    for (int a = -K; a <= K; ++a)
      for (int b = -K; b <= K; ++b)
        for (int c = -K2; c <= K2; ++c) count[a * a + b * b + c * c] += 1;
    for (std::size_t i = 1; i < entries; ++i) m_long_range_at_zero += count[i] * symbol(i);
  }
  // Deconvolution 1/(n ψ̂(k)) = 1/((w/2) Φ(πkw/n)), Φ(ξ) = ∫_{−1}^{1} φ(t) cos(ξt) dt.
  std::vector<double> nodes, quadrature;
  gauss_legendre(2 * p.width + 20, nodes, quadrature);
  auto correction = Kokkos::create_mirror_view(m_correction = alloc("kmdflow::spectral::correction", K + 1));
  for (int q = 0; q <= K; ++q) {
    double phi_hat = 0;
    for (std::size_t j = 0; j < nodes.size(); ++j)
      phi_hat += quadrature[j] * es_kernel(nodes[j], p.beta) * std::cos(pi * q * p.width * nodes[j] / p.grid);
    correction(q) = 1 / (0.5 * p.width * phi_hat);
  }
  Kokkos::deep_copy(m_correction, correction);

  auto* half = reinterpret_cast<std::complex<double>*>(m_half.data());
#if defined(KOKKOS_ENABLE_CUDA)
  if constexpr (std::is_same_v<ExecutionSpace, Kokkos::Cuda>)
    m_fft = make_cuda_real_fft(dims, m_grid.data(), half, space.cuda_stream());
  else
#endif
    m_fft = make_host_real_fft(dims, m_grid.data(), half, ExecutionSpace().concurrency());

  if (m_atoms > 0)
    detail::copy_points(m_space, "kmdflow::spectral::load_atoms", m_points, m_weights, m_particles, atoms,
                        atom_weights, -1.0);
}

template <class ExecutionSpace, int Dim>
void SpectralEngine<ExecutionSpace, Dim>::load_points(const ConstPointView<>& x, const ConstScalarView<>& w) {
  if (x.extent(0) != m_particles || w.extent(0) != m_particles || int(x.extent(1)) != Dim)
    throw std::invalid_argument("SpectralEngine: particle count or dimension differs from the engine's");
  detail::copy_points(m_space, "kmdflow::spectral::load_particles", m_points, m_weights, 0, x, w, 1.0);
}

// Type-1 spreading: grid(g) = Σ_j q_j Π_d φ((g_d − n z_jd)/(w/2)), periodically.
template <class ExecutionSpace, int Dim>
void SpectralEngine<ExecutionSpace, Dim>::spread() {
  Kokkos::Profiling::ScopedRegion region("kmdflow::spectral::spread");
  Kokkos::deep_copy(m_space, m_grid, 0.0);
  m_scatter.reset_except(m_grid);
  const auto scatter = m_scatter;
  // Points in cell order: consecutive ones spread to nearby grid lines.
  const auto points = m_sorted_points;
  const auto weights = m_sorted_weights;
  const int n = m_parameters.grid, w = m_parameters.width;
  const double beta = m_parameters.beta, half_width = 0.5 * w;
  Kokkos::parallel_for(
      "kmdflow::spectral::spread", Kokkos::RangePolicy<ExecutionSpace>(m_space, 0, points.extent(0)),
      KOKKOS_LAMBDA(std::size_t j) {
        auto grid = scatter.access();
        double kernel[Dim][max_width];
        int index[Dim][max_width];
        for (int d = 0; d < Dim; ++d) {
          const double u = points(j, d) * n;
          const int first = int(Kokkos::ceil(u - half_width));
          for (int t = 0; t < w; ++t) {
            kernel[d][t] = es_kernel((first + t - u) / half_width, beta);
            index[d][t] = ((first + t) % n + n) % n;
          }
        }
        const double q = weights(j);
        if constexpr (Dim == 1) {
          for (int a = 0; a < w; ++a) grid(index[0][a]) += q * kernel[0][a];
        } else if constexpr (Dim == 2) {
          for (int a = 0; a < w; ++a) {
            const double qa = q * kernel[0][a];
            const std::size_t row = std::size_t(index[0][a]) * n;
            for (int b = 0; b < w; ++b) grid(row + index[1][b]) += qa * kernel[1][b];
          }
        } else {
          for (int a = 0; a < w; ++a)
            for (int b = 0; b < w; ++b) {
              const double qab = q * kernel[0][a] * kernel[1][b];
              const std::size_t row = (std::size_t(index[0][a]) * n + index[1][b]) * n;
              for (int c = 0; c < w; ++c) grid(row + index[2][c]) += qab * kernel[2][c];
            }
        }
      });
  Kokkos::Experimental::contribute(m_grid, m_scatter);
}

namespace detail {
// Σ_g grid(g) Π_d kernel[d][g_d] over the w^d grid points of one target (tensor-product weights).
template <int Dim, class Grid>
KOKKOS_INLINE_FUNCTION double gather(const Grid& grid, int n, int w, const double (&kernel)[Dim][max_width],
                                     const int (&index)[Dim][max_width]) {
  double sum = 0;
  if constexpr (Dim == 1) {
    for (int a = 0; a < w; ++a) sum += grid(index[0][a]) * kernel[0][a];
  } else if constexpr (Dim == 2) {
    for (int a = 0; a < w; ++a) {
      const std::size_t row = std::size_t(index[0][a]) * n;
      double partial = 0;
      for (int b = 0; b < w; ++b) partial += grid(row + index[1][b]) * kernel[1][b];
      sum += kernel[0][a] * partial;
    }
  } else {
    for (int a = 0; a < w; ++a)
      for (int b = 0; b < w; ++b) {
        const std::size_t row = (std::size_t(index[0][a]) * n + index[1][b]) * n;
        double partial = 0;
        for (int c = 0; c < w; ++c) partial += grid(row + index[2][c]) * kernel[2][c];
        sum += kernel[0][a] * kernel[1][b] * partial;
      }
  }
  return sum;
}
} // namespace detail

// Type-2 interpolation of the real grid at the targets into out(:, component).
template <class ExecutionSpace, int Dim>
void SpectralEngine<ExecutionSpace, Dim>::interpolate(const PointView<>& out, int component, bool accumulate) {
  Kokkos::Profiling::ScopedRegion region("kmdflow::spectral::interpolate");
  const auto grid = m_grid;
  const auto order = m_cell_order;
  const auto targets = m_sorted_points; // in cell order, for locality on the grid
  const std::size_t targets_count = out.extent(0);
  const int n = m_parameters.grid, w = m_parameters.width;
  const double beta = m_parameters.beta, half_width = 0.5 * w;
  Kokkos::parallel_for(
      "kmdflow::spectral::interpolate", Kokkos::RangePolicy<ExecutionSpace>(m_space, 0, order.extent(0)),
      KOKKOS_LAMBDA(std::size_t p) {
        const std::size_t i = std::size_t(order(p));
        if (i >= targets_count) return;
        double kernel[Dim][max_width];
        int index[Dim][max_width];
        for (int d = 0; d < Dim; ++d) {
          const double u = targets(p, d) * n;
          const int first = int(Kokkos::ceil(u - half_width));
          for (int t = 0; t < w; ++t) {
            kernel[d][t] = es_kernel((first + t - u) / half_width, beta);
            index[d][t] = ((first + t) % n + n) % n;
          }
        }
        const double sum = detail::gather<Dim>(grid, n, w, kernel, index);
        out(i, component) = (accumulate ? out(i, component) : 0.0) + sum;
      });
}

namespace {
// Where L̂(k) is stored: by |k| in d = 1, by |k|² in d = 2, 3.
template <int Dim> KOKKOS_INLINE_FUNCTION std::size_t symbol_index(const int* k) {
  if constexpr (Dim == 1) return std::size_t(k[0] < 0 ? -k[0] : k[0]);
  std::size_t k2 = 0;
  for (int d = 0; d < Dim; ++d) k2 += std::size_t(k[d] * k[d]);
  return k2;
}

// The signed wavevector of entry h of the half grid, and whether it lies in the box |k|∞ ≤ K.
template <int Dim>
KOKKOS_INLINE_FUNCTION bool decode_mode(std::size_t h, int n, int K, int* k) {
  const int half = n / 2 + 1;
  k[Dim - 1] = int(h % half);
  std::size_t rest = h / half;
  bool inside = k[Dim - 1] <= K;
  for (int d = Dim - 2; d >= 0; --d) {
    const int i = int(rest % n);
    rest /= n;
    k[d] = i <= n / 2 ? i : i - n;
    inside = inside && (k[d] <= K && k[d] >= -K);
  }
  return inside;
}
} // namespace

template <class ExecutionSpace, int Dim>
void SpectralEngine<ExecutionSpace, Dim>::type1(const ConstPointView<>& x, const ConstScalarView<>& w) {
  load_points(x, w);
  build_cells();
  transform_points();
}

template <class ExecutionSpace, int Dim>
void SpectralEngine<ExecutionSpace, Dim>::transform_points() {
  spread();
  m_space.fence();
  m_fft->forward();
  // μ̂(k) = F(k) Π_d 1/(n ψ̂(k_d)) inside the box, 0 outside.
  const auto half = m_half, spectrum = m_spectrum;
  const auto correction = m_correction;
  const int n = m_parameters.grid, K = m_parameters.modes;
  Kokkos::parallel_for(
      "kmdflow::spectral::deconvolve", Kokkos::RangePolicy<ExecutionSpace>(m_space, 0, half.extent(0)),
      KOKKOS_LAMBDA(std::size_t h) {
        int k[Dim];
        if (!decode_mode<Dim>(h, n, K, k)) {
          spectrum(h) = Complex(0, 0);
          return;
        }
        double c = 1;
        for (int d = 0; d < Dim; ++d) c *= correction(k[d] < 0 ? -k[d] : k[d]);
        spectrum(h) = half(h) * c;
      });
}

template <class ExecutionSpace, int Dim>
void SpectralEngine<ExecutionSpace, Dim>::build_cells() {
  Kokkos::Profiling::ScopedRegion region("kmdflow::spectral::cells");
  const int nc = m_parameters.cells;
  std::size_t cells = 1;
  for (int d = 0; d < Dim; ++d) cells *= nc;
  const std::size_t total = m_points.extent(0);
  const auto points = m_points;
  Kokkos::View<double*, memory_space> keys(Kokkos::view_alloc(m_space, Kokkos::WithoutInitializing,
                                                              std::string("kmdflow::spectral::cell_keys")), total);
  Kokkos::parallel_for(
      "kmdflow::spectral::cell_keys", Kokkos::RangePolicy<ExecutionSpace>(m_space, 0, total),
      KOKKOS_LAMBDA(std::size_t j) {
        std::size_t cell = 0;
        for (int d = 0; d < Dim; ++d) {
          int c = int(points(j, d) * nc);
          c = c < 0 ? 0 : (c >= nc ? nc - 1 : c);
          cell = cell * nc + c;
        }
        keys(j) = double(cell) + 0.5;
      });
  using Keys = decltype(keys);
  Kokkos::BinSort<Keys, Kokkos::BinOp1D<Keys>> sorter(m_space, keys, Kokkos::BinOp1D<Keys>(int(cells), 0.0, double(cells)),
                                                      false);
  sorter.create_permute_vector(m_space);
  const auto order = sorter.get_permute_vector();
  const auto offsets = sorter.get_bin_offsets();
  m_cell_order = Kokkos::View<int*, memory_space>(
      Kokkos::view_alloc(m_space, Kokkos::WithoutInitializing, std::string("kmdflow::spectral::cell_order")), total);
  m_cell_start = Kokkos::View<int*, memory_space>(
      Kokkos::view_alloc(m_space, Kokkos::WithoutInitializing, std::string("kmdflow::spectral::cell_start")), cells + 1);
  const auto cell_order = m_cell_order, cell_start = m_cell_start;
  const auto weights = m_weights, sorted_weights = m_sorted_weights;
  const auto sorted_points = m_sorted_points;
  Kokkos::parallel_for(
      "kmdflow::spectral::cell_order", Kokkos::RangePolicy<ExecutionSpace>(m_space, 0, total),
      KOKKOS_LAMBDA(std::size_t p) {
        const int j = int(order(p));
        cell_order(p) = j;
        for (int d = 0; d < Dim; ++d) sorted_points(p, d) = points(j, d);
        sorted_weights(p) = weights(j);
      });
  Kokkos::parallel_for(
      "kmdflow::spectral::cell_start", Kokkos::RangePolicy<ExecutionSpace>(m_space, 0, cells + 1),
      KOKKOS_LAMBDA(std::size_t c) { cell_start(c) = c < cells ? int(offsets(c)) : int(total); });
}

namespace {
// Calls f(q) for every point q (an index in cell order) in the cell-list neighbourhood of
// position x (3^d cells, or all points when the list has a single cell).
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
} // namespace

template <class ExecutionSpace, int Dim>
void SpectralEngine<ExecutionSpace, Dim>::short_range_velocities(const PointView<>& v) {
  Kokkos::Profiling::ScopedRegion region("kmdflow::spectral::short_range");
  Kokkos::View<int, memory_space> coincident("kmdflow::spectral::coincident");
  detail::with_singular_gradient(*m_tables->kernel,
                                 [&](auto singular) { short_range_velocities(v, singular, coincident); });
  int flag = 0;
  Kokkos::deep_copy(flag, coincident);
  if (flag)
    throw std::runtime_error("particle " + std::to_string(flag - 1) +
                             " coincides with another point: the velocity is unbounded there for s < (d+1)/2");
}

template <class ExecutionSpace, int Dim>
template <class Singular>
void SpectralEngine<ExecutionSpace, Dim>::short_range_velocities(const PointView<>& v, Singular singular,
                                                                 const Kokkos::View<int, memory_space>& coincident) {
  // Targets and sources in cell order: consecutive targets share their neighbours in cache, and
  // the neighbours of a cell are contiguous in memory.
  const auto points = m_sorted_points;
  const auto weights = m_sorted_weights;
  const auto order = m_cell_order, start = m_cell_start;
  const int nc = m_parameters.cells;
  const double cutoff2 = m_parameters.cutoff * m_parameters.cutoff;
  const auto regular = m_tables->regular_gradient;
  const bool singular_gradient = m_singular_gradient;
  const std::size_t particles = m_particles;
  Kokkos::parallel_for(
      "kmdflow::spectral::short_range", Kokkos::RangePolicy<ExecutionSpace>(m_space, 0, points.extent(0)),
      KOKKOS_LAMBDA(std::size_t p) {
        const std::size_t i = std::size_t(order(p));
        if (i >= particles) return;
        double xi[3] = {0, 0, 0}, g[3] = {0, 0, 0};
        for (int d = 0; d < Dim; ++d) xi[d] = points(p, d);
        for_each_neighbour<Dim>(xi, nc, start, [&](int q) {
          double y[3], u = 0;
          for (int d = 0; d < Dim; ++d) {
            y[d] = minimum_image(xi[d] - points(q, d));
            u += y[d] * y[d];
          }
          if (u >= cutoff2) return;
          if (u == 0) {
            if (singular_gradient && std::size_t(q) != p) Kokkos::atomic_store(&coincident(), int(i) + 1);
            return;
          }
          const double factor = -weights(q) * (singular(u) + regular(u));
          for (int d = 0; d < Dim; ++d) g[d] += factor * y[d];
        });
        for (int d = 0; d < Dim; ++d) v(i, d) = g[d];
      });
}

template <class ExecutionSpace, int Dim>
double SpectralEngine<ExecutionSpace, Dim>::short_range_energy() {
  const auto points = m_sorted_points;
  const auto weights = m_sorted_weights;
  const auto start = m_cell_start;
  const int nc = m_parameters.cells;
  const double cutoff2 = m_parameters.cutoff * m_parameters.cutoff;
  const auto regular = m_tables->regular_value;
  const auto singular = detail::singular_value(*m_tables->kernel);
  const double h0 = m_tables->kernel->has_finite_self_energy() ? regular(0.0) : Kokkos::Experimental::infinity_v<double>;
  double energy = 0;
  Kokkos::parallel_reduce(
      "kmdflow::spectral::short_range_energy", Kokkos::RangePolicy<ExecutionSpace>(m_space, 0, points.extent(0)),
      KOKKOS_LAMBDA(std::size_t p, double& sum) {
        double xi[3] = {0, 0, 0}, row = 0;
        for (int d = 0; d < Dim; ++d) xi[d] = points(p, d);
        for_each_neighbour<Dim>(xi, nc, start, [&](int q) {
          if (std::size_t(q) == p) return;
          double u = 0;
          for (int d = 0; d < Dim; ++d) {
            const double y = minimum_image(xi[d] - points(q, d));
            u += y * y;
          }
          if (u < cutoff2) row += weights(q) * (u > 0 ? singular(u) + regular(u) : h0);
        });
        sum += 0.5 * weights(p) * row;
      },
      energy);
  return energy;
}

template <class ExecutionSpace, int Dim>
void SpectralEngine<ExecutionSpace, Dim>::velocities(const ConstPointView<>& x, const ConstScalarView<>& w,
                                                     const PointView<>& v) {
  Kokkos::Profiling::ScopedRegion region("kmdflow::spectral::velocities");
  load_points(x, w);
  build_cells();
  short_range_velocities(v);
  long_range_velocities(v, true);
}

template <class ExecutionSpace, int Dim>
void SpectralEngine<ExecutionSpace, Dim>::transforms(const ConstPointView<>& x, const ConstScalarView<>& w,
                                                     const PointView<>& v) {
  load_points(x, w);
  build_cells(); // the bin sort that orders the spreading
  long_range_velocities(v, false);
}

// v_i (+)= −Σ_k L̂(k) 2πik μ̂(k) e^{2πik·x_i}: one type-1 transform, then one type-2 per component.
template <class ExecutionSpace, int Dim>
void SpectralEngine<ExecutionSpace, Dim>::long_range_velocities(const PointView<>& v, bool accumulate) {
  Kokkos::Profiling::ScopedRegion region("kmdflow::spectral::long_range");
  transform_points();
  const auto half = m_half, spectrum = m_spectrum;
  const auto correction = m_correction, symbol = m_symbol;
  const int n = m_parameters.grid, K = m_parameters.modes;
  for (int component = 0; component < Dim; ++component) {
    Kokkos::parallel_for(
        "kmdflow::spectral::multiply", Kokkos::RangePolicy<ExecutionSpace>(m_space, 0, half.extent(0)),
        KOKKOS_LAMBDA(std::size_t h) {
          int k[Dim];
          if (!decode_mode<Dim>(h, n, K, k)) {
            half(h) = Complex(0, 0);
            return;
          }
          double c = 1;
          for (int d = 0; d < Dim; ++d) c *= correction(k[d] < 0 ? -k[d] : k[d]);
          // −2πi k_c L̂ μ̂, deconvolved for the interpolation.
          const double factor = -2 * Kokkos::numbers::pi * k[component] * symbol(symbol_index<Dim>(k)) * c;
          half(h) = Complex(0, factor) * spectrum(h);
        });
    m_space.fence();
    m_fft->inverse();
    interpolate(v, component, accumulate);
  }
}

template <class ExecutionSpace, int Dim>
double SpectralEngine<ExecutionSpace, Dim>::pair_energy(const ConstPointView<>& x, const ConstScalarView<>& w) {
  Kokkos::Profiling::ScopedRegion region("kmdflow::spectral::pair_energy");
  load_points(x, w);
  build_cells();
  const double short_range = short_range_energy();
  transform_points();
  // ½ Σ_{k≠0} L̂ |μ̂|² over the box, from the half grid (entries with k_last > 0 stand for ±k).
  const auto spectrum = m_spectrum;
  const auto symbol = m_symbol;
  const int n = m_parameters.grid, K = m_parameters.modes;
  double long_range = 0;
  Kokkos::parallel_reduce(
      "kmdflow::spectral::long_range_energy", Kokkos::RangePolicy<ExecutionSpace>(m_space, 0, spectrum.extent(0)),
      KOKKOS_LAMBDA(std::size_t h, double& sum) {
        int k[Dim];
        if (!decode_mode<Dim>(h, n, K, k)) return;
        const double weight = k[Dim - 1] == 0 ? 0.5 : 1.0;
        sum += weight * symbol(symbol_index<Dim>(k)) * Kokkos::real(spectrum(h) * Kokkos::conj(spectrum(h)));
      },
      long_range);
  const auto weights = m_weights;
  double sum_q = 0, sum_q2 = 0;
  Kokkos::parallel_reduce(
      "kmdflow::spectral::weight_sums", Kokkos::RangePolicy<ExecutionSpace>(m_space, 0, weights.extent(0)),
      KOKKOS_LAMBDA(std::size_t j, double& a, double& b) {
        a += weights(j);
        b += weights(j) * weights(j);
      },
      sum_q, sum_q2);
  long_range -= 0.5 * m_long_range_at_zero * sum_q2;
  const double constant = -m_tables->kernel->split_constant() * 0.5 * (sum_q * sum_q - sum_q2);
  return short_range + long_range + constant;
}

template <class ExecutionSpace, int Dim>
nlohmann::json SpectralEngine<ExecutionSpace, Dim>::parameters() const {
  const auto& p = m_parameters;
  return {{"tolerance", p.tolerance}, {"alpha", p.alpha}, {"cutoff", p.cutoff}, {"modes", p.modes},
          {"kernel_width", p.width}, {"grid", p.grid}, {"cells", p.cells}, {"fft", m_fft->library()}};
}

template class SpectralEngine<kmdflow::ExecutionSpace, 1>;
template class SpectralEngine<kmdflow::ExecutionSpace, 2>;
template class SpectralEngine<kmdflow::ExecutionSpace, 3>;

} // namespace kmdflow
