#include <kmdflow/SpecialFunctions.hpp>
#include <kmdflow/SpectralEngine.hpp>
#include <kmdflow/detail/EwaldSplit.hpp>
#include <kmdflow/detail/FftBackend.hpp>
#include <kmdflow/detail/HalfGrid.hpp>
#include <kmdflow/detail/PointCopy.hpp>
#include <kmdflow/detail/SingularPart.hpp>

#include <cmath>
#include <sstream>
#include <stdexcept>

namespace kmdflow {

namespace {

// The smallest even m ≥ n of the form 2^a 3^b 5^c: sizes FFT libraries handle best.
int next_smooth(int n) {
  for (int m = std::max(2, n + (n % 2));; m += 2) {
    int r = m;
    for (int f : {2, 3, 5})
      while (r % f == 0) r /= f;
    if (r == 1) return m;
  }
}

// The exponential-of-semicircle kernel for an upsampling σ and an error ε (FINUFFT's choices,
// Barnett, Magland & af Klinteberg 2019, §3–4): at σ = 2, w = ⌈log₁₀(10/ε)⌉ and β = 2.30 w; otherwise
// w = ⌈ln(1/ε)/(π√(1 − 1/σ))⌉ and β = 0.97 π (1 − 1/(2σ)) w.
struct Spreading {
  double upsampling;
  int width;
  double beta;
};
// Widths above detail::max_spreading_width are returned as they are (the caller skips them),
// except at σ = 2, which stays available at the widest kernel (ε ≲ 10⁻¹⁵).
Spreading spreading_for(double upsampling, double epsilon) {
  if (upsampling == 2.0) {
    const int w = std::clamp(int(std::ceil(std::log10(10 / epsilon))), 2, detail::max_spreading_width);
    return {upsampling, w, 2.30 * w};
  }
  const int w = std::max(2, int(std::ceil(std::log(1 / epsilon) / (pi * std::sqrt(1 - 1 / upsampling)))));
  return {upsampling, w, 0.97 * pi * (1 - 0.5 / upsampling) * w};
}

// A model of one velocity evaluation's time in seconds: N points with `neighbours` short-range
// pairs each, a spreading width w and an n^d grid, for one type-1 and d type-2 transforms. Its
// constants are the phases measured by bench_spectral_engine on the 2-core development machine
// (OpenMP, 2 threads, N = 10⁶, tolerance 10⁻⁶): only their ratios steer the choice.
double evaluation_cost(int dim, double n_points, double neighbours, int w, int n) {
  const double pair[4] = {0, 1.6e-8, 1.4e-8, 1.7e-8};     // per short-range pair (cell list included)
  const double fft[4] = {0, 4.3e-10, 2.1e-10, 1.2e-10};   // per grid point and log₂ of the grid size
  const double per_point = 0.5e-9 * std::pow(w, dim) + 3.5e-9 * dim * w; // one spreading or gathering
  const double grid = std::pow(double(n), dim);
  const double transforms = (1 + dim) * (n_points * per_point + grid * (fft[dim] * std::log2(grid) + 1.5e-9));
  return pair[dim] * n_points * neighbours + transforms;
}

// Where L̂(k) is stored: by |k| in d = 1, by |k|² in d = 2, 3.
template <int Dim> KOKKOS_INLINE_FUNCTION std::size_t symbol_index(const int* k) {
  if constexpr (Dim == 1) return std::size_t(k[0] < 0 ? -k[0] : k[0]);
  std::size_t k2 = 0;
  for (int d = 0; d < Dim; ++d) k2 += std::size_t(k[d] * k[d]);
  return k2;
}

// half(h) = −2πi k_c L̂(k) μ̂(k) Π_d correction(|k_d|): the c-th component of the long-range
// gradient, deconvolved for the interpolation, on the half grid (0 outside the box |k|∞ ≤ K).
template <int Dim, class ExecutionSpace, class Half, class Vector>
void multiply_gradient(const ExecutionSpace& space, const Half& half, const Half& spectrum, const Vector& correction,
                       const Vector& symbol, int n, int K, int component) {
  using Complex = typename Half::value_type;
  Kokkos::Profiling::ScopedRegion region("kmdflow::spectral::multiply");
  Kokkos::parallel_for(
      "kmdflow::spectral::multiply", detail::half_grid_range<Dim>(space, n), KOKKOS_LAMBDA(int row, int column) {
        const std::size_t h = std::size_t(row) * std::size_t(n / 2 + 1) + column;
        int k[Dim];
        if (!detail::half_grid_wavevector<Dim>(row, column, n, K, k)) {
          half(h) = Complex(0, 0);
          return;
        }
        double c = 1;
        for (int d = 0; d < Dim; ++d) c *= correction(k[d] < 0 ? -k[d] : k[d]);
        const double factor = -2 * Kokkos::numbers::pi * k[component] * symbol(symbol_index<Dim>(k)) * c;
        half(h) = Complex(0, factor) * spectrum(h);
      });
}

// ½ Σ_{k≠0, |k|∞≤K} L̂ |μ̂|² from the half grid (entries with k_last > 0 stand for ±k).
template <int Dim, class ExecutionSpace, class Spectrum, class Vector>
double long_range_energy(const ExecutionSpace& space, const Spectrum& spectrum, const Vector& symbol, int n, int K) {
  double energy = 0;
  Kokkos::parallel_reduce(
      "kmdflow::spectral::long_range_energy", Kokkos::RangePolicy<ExecutionSpace>(space, 0, spectrum.extent(0)),
      KOKKOS_LAMBDA(std::size_t h, double& sum) {
        int k[Dim];
        if (!detail::half_grid_wavevector<Dim>(h, n, K, k)) return;
        const double weight = k[Dim - 1] == 0 ? 0.5 : 1.0;
        sum += weight * symbol(symbol_index<Dim>(k)) * Kokkos::real(spectrum(h) * Kokkos::conj(spectrum(h)));
      },
      energy);
  return energy;
}

// The half grid's entries inside the box |k|∞ ≤ K (the rest of the spectrum is zero), numbered
// m = 0 … (2K+1)^{d−1}(K+1) − 1, last axis fastest: the entry h of the box's m-th wavevector. What
// the shares on several processes sum, (2K+1)^{d−1}(K+1) values rather than the whole half grid.
template <int Dim> std::size_t box_size(int K) {
  std::size_t size = std::size_t(K + 1);
  for (int d = 0; d + 1 < Dim; ++d) size *= std::size_t(2 * K + 1);
  return size;
}
template <int Dim> KOKKOS_INLINE_FUNCTION std::size_t box_entry(std::size_t m, int n, int K) {
  const std::size_t column = m % std::size_t(K + 1);
  std::size_t rest = m / std::size_t(K + 1), row = 0, stride = 1;
  for (int d = Dim - 2; d >= 0; --d) {
    const int k = int(rest % std::size_t(2 * K + 1)) - K;
    rest /= std::size_t(2 * K + 1);
    row += std::size_t(k < 0 ? k + n : k) * stride;
    stride *= std::size_t(n);
  }
  return row * std::size_t(n / 2 + 1) + column;
}

// The box's entries of the spectrum into `box` (pack), or back (unpack).
template <int Dim, class ExecutionSpace, class Spectrum>
void copy_box(const ExecutionSpace& space, const Spectrum& spectrum, const Spectrum& box, int n, int K, bool pack) {
  Kokkos::parallel_for(
      pack ? "kmdflow::spectral::pack" : "kmdflow::spectral::unpack",
      Kokkos::RangePolicy<ExecutionSpace>(space, 0, box.extent(0)), KOKKOS_LAMBDA(std::size_t m) {
        const std::size_t h = box_entry<Dim>(m, n, K);
        if (pack) box(m) = spectrum(h);
        else spectrum(h) = box(m);
      });
}

// v_i = −Σ_q w_q ∇h(x_i − x_q) over the cell-list neighbours closer than r_c, for the particles
// of the share (original index in [begin, end)); `coincident` receives 1 + the index of a
// particle that meets another point where ∇h is unbounded. Targets and sources in cell order:
// consecutive targets share their neighbours in cache, and the neighbours of a cell are contiguous
// in memory.
template <int Dim, class ExecutionSpace, class Cells, class Share, class Singular, class Regular, class Flag>
void short_range_velocities(const ExecutionSpace& space, const Cells& cells, const Share& share, double cutoff2,
                            Singular singular, Regular regular, bool singular_gradient, const Flag& coincident,
                            const PointView<>& v) {
  const auto points = cells.points;
  const auto weights = cells.weights;
  const auto order = cells.order, start = cells.start;
  const int nc = cells.cells_per_axis, reach = cells.reach;
  Kokkos::parallel_for(
      "kmdflow::spectral::short_range", Kokkos::RangePolicy<ExecutionSpace>(space, 0, points.extent(0)),
      KOKKOS_LAMBDA(std::size_t p) {
        const std::size_t i = std::size_t(order(p));
        if (i >= share.particles || !share(p)) return;
        double xi[3] = {0, 0, 0}, g[3] = {0, 0, 0};
        for (int d = 0; d < Dim; ++d) xi[d] = points(p, d);
        detail::for_each_neighbour<Dim>(xi, nc, reach, start, points, [&](int q, const double* y, double u) {
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

// ½ Σ_{p≠q} q_p q_q h(r_pq) over the pairs closer than r_c, the rows p of the share.
template <int Dim, class ExecutionSpace, class Cells, class Share>
double short_range_energy(const ExecutionSpace& space, const Cells& cells, const Share& share, double cutoff2,
                          const detail::SpectralTables& tables) {
  const auto points = cells.points;
  const auto weights = cells.weights;
  const auto start = cells.start;
  const int nc = cells.cells_per_axis, reach = cells.reach;
  const auto regular = tables.regular_value;
  const detail::SingularValue singular{tables.singular};
  const double h0 = tables.finite_self_energy ? regular(0.0) : Kokkos::Experimental::infinity_v<double>;
  double energy = 0;
  Kokkos::parallel_reduce(
      "kmdflow::spectral::short_range_energy", Kokkos::RangePolicy<ExecutionSpace>(space, 0, points.extent(0)),
      KOKKOS_LAMBDA(std::size_t p, double& sum) {
        if (!share(p)) return;
        double xi[3] = {0, 0, 0}, row = 0;
        for (int d = 0; d < Dim; ++d) xi[d] = points(p, d);
        detail::for_each_neighbour<Dim>(xi, nc, reach, start, points, [&](int q, const double*, double u) {
          if (std::size_t(q) != p && u < cutoff2) row += weights(q) * (u > 0 ? singular(u) + regular(u) : h0);
        });
        sum += 0.5 * weights(p) * row;
      },
      energy);
  return energy;
}

} // namespace

SpectralParameters choose_spectral_parameters(const Kernel& kernel, std::size_t points, double tolerance,
                                              double upsampling) {
  if (!(tolerance > 0 && tolerance < 1)) throw std::invalid_argument("the tolerance must lie in (0, 1)");
  if (upsampling != 0 && !(upsampling > 1 && upsampling <= 2))
    throw std::invalid_argument("the upsampling must lie in (1, 2] (0: chosen)");
  const int dim = kernel.dim();
  SpectralParameters p;
  p.tolerance = tolerance;
  // Every error source gets a fifth of the tolerance: the velocities of particles and of a
  // samples target's atoms cancel, so their relative error exceeds that of each part.
  const double target = tolerance / 5;
  // Both Ewald tails below it (with a margin for their power prefactors).
  p.z_cut = std::log(1 / target) + 2.5;
  const double n_points = double(std::max<std::size_t>(points, 1));
  // The grid may hold 16 points per particle beyond a floor of 2²⁴, 8192², 512³ points, up to
  // 2²⁸ points (2 GB of doubles): large N need more modes, or the cut-off — and with it the
  // short-range work per particle — grows once K cannot.
  const int grid_floor = dim == 1 ? (1 << 24) : dim == 2 ? 8192 : 512;
  const int grid_ceiling = dim == 1 ? (1 << 28) : dim == 2 ? 16384 : 640;
  const int grid_cap = std::clamp(int(std::pow(16 * n_points, 1.0 / dim)), grid_floor, grid_ceiling);
  const double volume = dim == 1 ? 2.0 : dim == 2 ? pi : 4 * pi / 3; // of the unit ball
  // Candidates (upsampling, cut-off) are compared by their modelled time; a pure NUFFT has no
  // cut-off to choose.
  // The cheapest candidate whose grid fits; failing that, the one with the smallest grid (for the
  // error below).
  double best = Kokkos::Experimental::infinity_v<double>;
  auto consider = [&](const Spreading& spreading, int K, double cutoff) {
    const int grid = next_smooth(std::max(int(std::ceil(spreading.upsampling * (2 * K + 1))), 2 * spreading.width));
    const double neighbours = cutoff > 0 ? std::min(n_points, n_points * volume * std::pow(cutoff, dim)) : 0.0;
    const double cost = evaluation_cost(dim, n_points, neighbours, spreading.width, grid);
    const bool better = grid <= grid_cap ? cost < best : (best == Kokkos::Experimental::infinity_v<double> &&
                                                          (p.grid == 0 || grid < p.grid));
    if (!better) return;
    if (grid <= grid_cap) best = cost;
    p.upsampling = spreading.upsampling;
    p.width = spreading.width;
    p.beta = spreading.beta;
    p.modes = K;
    p.grid = grid;
    p.cutoff = cutoff;
  };
  kernel.visit([&](const auto& k) {
    for (const double sigma : {2.0, 1.5, 1.25, upsampling}) {
      if (sigma == 0 || (upsampling != 0 && sigma != upsampling)) continue;
      const Spreading spreading = spreading_for(sigma, target);
      if (spreading.width > detail::max_spreading_width) continue; // too fine a tolerance for this σ
      if constexpr (SplitKernel<std::decay_t<decltype(k)>>) {
        // K follows from the cut-off through α = r_c²/(4 z_cut): from about one short-range
        // neighbour per point up to r_c = 1/2, in steps of 4%.
        auto modes_for = [&](double rc) {
          const double alpha = rc * rc / (4 * p.z_cut);
          return int(std::ceil(std::sqrt(k.long_range_cutoff2(alpha, p.z_cut))));
        };
        const double smallest = std::min(0.5, std::pow(1 / (n_points * volume), 1.0 / dim));
        for (double cutoff = smallest;; cutoff = std::min(0.5, cutoff * 1.04)) {
          consider(spreading, modes_for(cutoff), cutoff);
          if (cutoff >= 0.5) break;
        }
      } else {
        // A pure NUFFT: the modes where the symbol is above the tail.
        consider(spreading, std::max(1, int(std::ceil(std::sqrt(k.spectral_cutoff2(p.z_cut))))), 0.0);
      }
    }
  });
  if (p.grid == 0) {
    std::ostringstream os;
    os << "an upsampling of " << upsampling << " cannot reach the tolerance " << tolerance << " with at most "
       << detail::max_spreading_width << " grid points per axis and point";
    throw std::invalid_argument(os.str());
  }
  if (p.cutoff > 0) {
    p.alpha = p.cutoff * p.cutoff / (4 * p.z_cut);
    // Cells of r_c/2 and a reach of two: the 5^d neighbour cells cover (5/2)^d r_c^d, against
    // 3^d r_c^d for cells of r_c (a third of the candidate pairs in 3D, 2/3 in 2D).
    for (p.cell_reach = 2; p.cell_reach >= 1; --p.cell_reach) {
      p.cells = int(std::floor(p.cell_reach / p.cutoff));
      if (p.cells >= 2 * p.cell_reach + 1) break;
    }
    if (p.cell_reach == 0) p.cells = 1, p.cell_reach = 1;
  } else {
    // Cells only order the spreading (about 8 grid lines each).
    p.cells = p.grid / 8 >= 3 ? p.grid / 8 : 1;
  }
  if (p.grid > grid_cap) {
    std::ostringstream os;
    os << "the spectral engine would need " << p.modes << " Fourier modes per axis (a " << p.grid << "^" << dim
       << " grid, at most " << grid_cap << "^" << dim << ") for the " << kernel.description()
       << " kernel: use the direct engine";
    throw std::invalid_argument(os.str());
  }
  return p;
}

SpectralParameters choose_spectral_parameters(int dim, double s, std::size_t points, double tolerance) {
  return choose_spectral_parameters(SobolevKernel(dim, s), points, tolerance);
}

namespace detail {

std::shared_ptr<const SpectralTables> spectral_tables(const Kernel& kernel, const SpectralParameters& p) {
  std::ostringstream key;
  key.precision(17);
  key << kernel_key(kernel) << " " << p.alpha << " " << p.cutoff << " " << p.z_cut;
  return cached_tables<SpectralTables>(key.str(), [&] {
    return kernel.visit([&](const auto& kernel_family) {
      SpectralTables t;
      if constexpr (SplitKernel<std::decay_t<decltype(kernel_family)>>) {
        const auto k = kernel_family.with_split(p.alpha, p.z_cut);
        const double u_max = p.cutoff * p.cutoff;
        t.singular = k.singular_part();
        t.finite_self_energy = k.has_finite_self_energy();
        const bool radial = t.singular.decay > 0; // a length scale: pieces equal in r
        t.regular_gradient = PiecewiseChebyshev<32, 12>::fit(
            [&](double u) { return k.short_range_regular_gradient_factor(u); }, 0, u_max, radial);
        t.regular_value =
            PiecewiseChebyshev<32, 12>::fit([&](double u) { return k.short_range_regular_value(u); }, 0, u_max, radial);
      }
      return t;
    });
  });
}

} // namespace detail

template <class ExecutionSpace, int Dim>
SpectralEngine<ExecutionSpace, Dim>::SpectralEngine(const ExecutionSpace& space, const Kernel& kernel,
                                                    std::size_t particle_count, double tolerance,
                                                    const PointView<>& atoms, const ScalarView<>& atom_weights)
    : SpectralEngine(space, kernel, particle_count,
                     choose_spectral_parameters(kernel, particle_count + (atoms.data() ? atoms.extent(0) : 0),
                                                tolerance),
                     atoms, atom_weights) {}

template <class ExecutionSpace, int Dim>
SpectralEngine<ExecutionSpace, Dim>::SpectralEngine(const ExecutionSpace& space, const Kernel& kernel,
                                                    std::size_t particle_count, const SpectralParameters& parameters,
                                                    const PointView<>& atoms, const ScalarView<>& atom_weights)
    : m_space(space), m_parameters(parameters), m_singular_gradient(kernel.has_singular_gradient()),
      m_particles(particle_count), m_atoms(atoms.data() ? atoms.extent(0) : 0), m_end(particle_count) {
  if (kernel.dim() != Dim) throw std::invalid_argument("SpectralEngine: the kernel's dimension differs");
  if (m_atoms != (atom_weights.data() ? atom_weights.extent(0) : 0))
    throw std::invalid_argument("SpectralEngine: one weight per atom is needed");
  const std::size_t total = m_particles + m_atoms;
  const auto& p = m_parameters;
  if (p.cutoff > 0) m_tables = detail::spectral_tables(kernel, p);
  m_es = detail::EsKernel(p.width, p.beta);
  // Polynomial weights: their error 5% of the NUFFT's share of the tolerance (a fifth).
  m_es.tabulate(0.05 * p.tolerance / 5);

  auto alloc = [&](const std::string& label, std::size_t n) {
    return Kokkos::View<double*, memory_space>(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, label), n);
  };
  m_points = PointView<memory_space>(Kokkos::view_alloc(space, Kokkos::WithoutInitializing,
                                                        std::string("kmdflow::spectral::points")), total, Dim);
  m_weights = alloc("kmdflow::spectral::weights", total);
  m_cells.points = PointView<memory_space>(
      Kokkos::view_alloc(space, Kokkos::WithoutInitializing, std::string("kmdflow::spectral::sorted_points")), total, Dim);
  m_cells.weights = alloc("kmdflow::spectral::sorted_weights", total);
  std::size_t grid_points = 1;
  for (int d = 0; d < Dim; ++d) grid_points *= p.grid;
  const std::size_t half_points = detail::half_grid_size(Dim, p.grid);
  m_grid = alloc("kmdflow::spectral::grid", grid_points);
  m_half = Kokkos::View<Complex*, memory_space>(
      Kokkos::view_alloc(space, Kokkos::WithoutInitializing, std::string("kmdflow::spectral::half")), half_points);
  m_spectrum = Kokkos::View<Complex*, memory_space>(
      Kokkos::view_alloc(space, Kokkos::WithoutInitializing, std::string("kmdflow::spectral::spectrum")), half_points);
  // Spreading by slabs on CPUs where the cell list allows; otherwise through a ScatterView
  // (per-thread copies of the grid on CPUs, atomics on GPUs).
  if constexpr (Kokkos::SpaceAccessibility<Kokkos::HostSpace, memory_space>::accessible)
    m_slabs = detail::spreading_slabs(p.grid, p.cells, p.width);
  if (m_slabs == 0) m_scatter = decltype(m_scatter)(m_grid);

  // L̂(k) for k ≠ 0 — the split's long range, or the whole symbol of a real-space kernel —,
  // indexed by |k| in d = 1 and by the integer |k|² in d = 2, 3 (symbol_index); and the constant C
  // (0 for a pure NUFFT: its modes k ≠ 0 already sum k − k̂(0)).
  const int K = p.modes;
  const std::size_t entries = Dim == 1 ? std::size_t(K) + 1 : std::size_t(Dim) * K * K + 1;
  auto symbol = Kokkos::create_mirror_view(m_symbol = alloc("kmdflow::spectral::symbol", entries));
  kernel.visit([&](const auto& kernel_family) {
    auto fill = [&](const auto& long_range) {
      symbol(0) = 0;
      for (std::size_t i = 1; i < entries; ++i) symbol(i) = long_range(Dim == 1 ? double(i) * double(i) : double(i));
    };
    if constexpr (SplitKernel<std::decay_t<decltype(kernel_family)>>) {
      const auto k = kernel_family.with_split(p.alpha, p.z_cut);
      fill([&](double k2) { return k.long_range_symbol(k2); });
      m_constant = k.long_range_symbol(0.0);
    } else {
      fill([&](double k2) { return kernel_family.symbol(k2); });
    }
  });
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
  const auto correction = m_es.deconvolution(p.grid, K);
  m_correction = alloc("kmdflow::spectral::correction", K + 1);
  Kokkos::deep_copy(m_correction, Kokkos::View<const double*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>>(
                                      correction.data(), correction.size()));

  m_fft = detail::make_real_fft(m_space, std::vector<int>(Dim, p.grid), m_grid.data(),
                                reinterpret_cast<std::complex<double>*>(m_half.data()), p.fft_planning);

  if (m_atoms > 0)
    detail::copy_points(m_space, "kmdflow::spectral::load_atoms", m_points, m_weights, m_particles, atoms,
                        atom_weights, -1.0);
}

template <class ExecutionSpace, int Dim>
void SpectralEngine<ExecutionSpace, Dim>::load_points(const ConstPointView<>& x, const ConstScalarView<>& w) {
  if (x.extent(0) != m_particles || w.extent(0) != m_particles || int(x.extent(1)) != Dim)
    throw std::invalid_argument("SpectralEngine: particle count or dimension differs from the engine's");
  detail::copy_points(m_space, "kmdflow::spectral::load_particles", m_points, m_weights, 0, x, w, 1.0);
  // The cell list: the short range's pairs, and the order of the spreading.
  detail::build_cell_list<Dim>(m_space, "kmdflow::spectral::cells", m_cells, m_parameters.cells, m_points, m_weights);
  m_cells.reach = m_parameters.cell_reach;
}

template <class ExecutionSpace, int Dim>
void SpectralEngine<ExecutionSpace, Dim>::type1(const ConstPointView<>& x, const ConstScalarView<>& w) {
  load_points(x, w);
  transform_points();
}

template <class ExecutionSpace, int Dim>
void SpectralEngine<ExecutionSpace, Dim>::transform_points() {
  if (m_slabs > 0)
    detail::spread_by_slabs<Dim>(m_space, "kmdflow::spectral::spread", m_grid, m_cells.points, m_cells.weights,
                                 m_cells.start, m_cells.cells_per_axis, m_slabs, m_es, m_parameters.grid, share());
  else
    detail::spread<Dim>(m_space, "kmdflow::spectral::spread", m_scatter, m_grid, m_cells.points, m_cells.weights, m_es,
                        m_parameters.grid, share());
  m_space.fence();
  {
    Kokkos::Profiling::ScopedRegion fft("kmdflow::spectral::fft");
    m_fft->forward();
  }
  detail::deconvolve<Dim>(m_space, "kmdflow::spectral::deconvolve", m_half, m_spectrum, m_correction,
                          m_parameters.grid, m_parameters.modes);
  if (m_sum_across) {
    // The shares' coefficients summed (the transform is linear): μ̂ of every point on every
    // process. Only the box |k|∞ ≤ K travels, packed.
    Kokkos::Profiling::ScopedRegion sum("kmdflow::spectral::sum_across");
    const int n = m_parameters.grid, K = m_parameters.modes;
    if (m_box.extent(0) != box_size<Dim>(K)) m_box = decltype(m_box)("kmdflow::spectral::box", box_size<Dim>(K));
    copy_box<Dim>(m_space, m_spectrum, m_box, n, K, true);
    auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), m_box);
    m_sum_across(reinterpret_cast<double*>(host.data()), 2 * host.extent(0));
    Kokkos::deep_copy(m_box, host);
    copy_box<Dim>(m_space, m_spectrum, m_box, n, K, false);
    m_space.fence();
  }
}

template <class ExecutionSpace, int Dim>
detail::ShareOfPoints<Kokkos::View<int*, typename ExecutionSpace::memory_space>>
SpectralEngine<ExecutionSpace, Dim>::share() const {
  return {m_cells.order, m_begin, m_end, m_particles, m_begin == 0};
}

template <class ExecutionSpace, int Dim>
bool SpectralEngine<ExecutionSpace, Dim>::set_target_rows(std::size_t begin, std::size_t end) {
  if (begin > end || end > m_particles) throw std::invalid_argument("SpectralEngine: target rows outside [0, N)");
  if (!m_sum_across && !(begin == 0 && end == m_particles)) return false;
  m_begin = begin;
  m_end = end;
  return true;
}

template <class ExecutionSpace, int Dim>
int SpectralEngine<ExecutionSpace, Dim>::short_range_velocities(const PointView<>& v) {
  Kokkos::Profiling::ScopedRegion region("kmdflow::spectral::short_range");
  Kokkos::View<int, memory_space> coincident("kmdflow::spectral::coincident");
  const double cutoff2 = m_parameters.cutoff * m_parameters.cutoff;
  detail::with_singular_gradient(m_tables->singular, [&](auto singular) {
    ::kmdflow::short_range_velocities<Dim>(m_space, m_cells, share(), cutoff2, singular, m_tables->regular_gradient,
                                           m_singular_gradient, coincident, v);
  });
  int flag = 0;
  Kokkos::deep_copy(flag, coincident);
  return flag;
}

template <class ExecutionSpace, int Dim>
void SpectralEngine<ExecutionSpace, Dim>::velocities(const ConstPointView<>& x, const ConstScalarView<>& w,
                                                     const PointView<>& v) {
  Kokkos::Profiling::ScopedRegion region("kmdflow::spectral::velocities");
  load_points(x, w);
  const int coincident = m_tables ? short_range_velocities(v) : 0;
  // The long range (on several processes a collective: every share reaches it) before any error.
  long_range_velocities(v, m_tables != nullptr);
  if (coincident)
    throw std::runtime_error("particle " + std::to_string(coincident - 1) +
                             " coincides with another point: the velocity is unbounded there for s < (d+1)/2");
}

template <class ExecutionSpace, int Dim>
void SpectralEngine<ExecutionSpace, Dim>::transforms(const ConstPointView<>& x, const ConstScalarView<>& w,
                                                     const PointView<>& v) {
  load_points(x, w);
  long_range_velocities(v, false);
}

// v_i (+)= −Σ_k L̂(k) 2πik μ̂(k) e^{2πik·x_i}: one type-1 transform, then one type-2 per component.
template <class ExecutionSpace, int Dim>
void SpectralEngine<ExecutionSpace, Dim>::long_range_velocities(const PointView<>& v, bool accumulate) {
  Kokkos::Profiling::ScopedRegion region("kmdflow::spectral::long_range");
  transform_points();
  for (int component = 0; component < Dim; ++component) {
    multiply_gradient<Dim>(m_space, m_half, m_spectrum, m_correction, m_symbol, m_parameters.grid, m_parameters.modes,
                           component);
    m_space.fence();
    {
      Kokkos::Profiling::ScopedRegion fft("kmdflow::spectral::fft");
      m_fft->inverse();
    }
    detail::interpolate<Dim>(m_space, "kmdflow::spectral::interpolate", m_grid, m_cells.points, m_cells.order, m_es,
                             m_parameters.grid, v, component, accumulate, share());
  }
}

template <class ExecutionSpace, int Dim>
double SpectralEngine<ExecutionSpace, Dim>::pair_energy(const ConstPointView<>& x, const ConstScalarView<>& w) {
  Kokkos::Profiling::ScopedRegion region("kmdflow::spectral::pair_energy");
  load_points(x, w);
  const double cutoff2 = m_parameters.cutoff * m_parameters.cutoff;
  const double short_range = m_tables ? short_range_energy<Dim>(m_space, m_cells, share(), cutoff2, *m_tables) : 0.0;
  transform_points();
  // The long range and the constants belong to no particle: the first share's (set_target_rows).
  if (m_begin != 0) return short_range;
  const double long_range = ::kmdflow::long_range_energy<Dim>(m_space, m_spectrum, m_symbol, m_parameters.grid,
                                                             m_parameters.modes);
  const auto [sum_q, sum_q2] = detail::weight_sums(m_space, "kmdflow::spectral::weight_sums", m_weights);
  return detail::split_pair_energy(short_range, long_range, m_long_range_at_zero, m_constant, sum_q, sum_q2);
}

template <class ExecutionSpace, int Dim>
nlohmann::json SpectralEngine<ExecutionSpace, Dim>::parameters() const {
  const auto& p = m_parameters;
  return {{"tolerance", p.tolerance}, {"alpha", p.alpha}, {"cutoff", p.cutoff}, {"modes", p.modes},
          {"kernel_width", p.width}, {"kernel_degree", m_es.degree}, {"upsampling", p.upsampling}, {"grid", p.grid}, {"cells", p.cells},
          {"cell_reach", p.cell_reach},
          {"spreading", m_slabs > 0 ? "slabs" : "scatter"}, {"fft", m_fft->library()},
          {"fft_planning", m_fft->planning()}, {"fft_plan_seconds", m_fft->plan_seconds()}};
}

template class SpectralEngine<kmdflow::ExecutionSpace, 1>;
template class SpectralEngine<kmdflow::ExecutionSpace, 2>;
template class SpectralEngine<kmdflow::ExecutionSpace, 3>;

} // namespace kmdflow
