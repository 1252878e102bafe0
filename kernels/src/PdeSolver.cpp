#include <kmdflow/PdeSolver.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#if defined(KOKKOS_ENABLE_CUDA)
#include "cuda/CufftRealFft.hpp"
#endif

namespace kmdflow {

namespace {

using Complex = Kokkos::complex<double>;
constexpr double pi = 3.14159265358979323846;

/// The wavevector of entry h of the r2c half grid (last axis 0 … n/2, the others −n/2+1 … n/2).
template <int Dim>
KOKKOS_INLINE_FUNCTION void half_wavevector(std::size_t h, int n, int* k) {
  const int half = n / 2 + 1;
  k[Dim - 1] = int(h % half);
  std::size_t rest = h / half;
  for (int d = Dim - 2; d >= 0; --d) {
    const int i = int(rest % n);
    rest /= n;
    k[d] = i <= n / 2 ? i : i - n;
  }
}

/// Where (2π|k|)^{−2s} is tabulated: by |k| in d = 1, by |k|² in d = 2, 3.
template <int Dim>
KOKKOS_INLINE_FUNCTION std::size_t symbol_index(const int* k) {
  if constexpr (Dim == 1) return std::size_t(k[0] < 0 ? -k[0] : k[0]);
  std::size_t k2 = 0;
  for (int d = 0; d < Dim; ++d) k2 += std::size_t(k[d] * k[d]);
  return k2;
}

/// The monotonised-central limited slope from the one-sided differences.
KOKKOS_INLINE_FUNCTION double mc_slope(double minus, double plus) {
  if (minus * plus <= 0) return 0.0;
  const double a = Kokkos::fabs(minus), b = Kokkos::fabs(plus);
  const double m = Kokkos::fmin(Kokkos::fmin(2 * a, 2 * b), 0.5 * (a + b));
  return minus > 0 ? m : -m;
}

/// The upwind MUSCL flux u·ρ_face through the face between cells l and r, from ρ at l−1, l, r,
/// r+1.
KOKKOS_INLINE_FUNCTION double face_flux(double rho_ll, double rho_l, double rho_r, double rho_rr, double u) {
  if (u > 0) return u * (rho_l + 0.5 * mc_slope(rho_l - rho_ll, rho_r - rho_l));
  return u * (rho_r - 0.5 * mc_slope(rho_r - rho_l, rho_rr - rho_r));
}

/// Cell c's neighbour at offset o ∈ {−2 … 2} along an axis, periodically, given c's coordinate i
/// on that axis and the axis stride.
KOKKOS_INLINE_FUNCTION std::size_t neighbour(std::size_t c, int i, int o, int n, std::size_t stride) {
  int j = i + o;
  j = j < 0 ? j + n : (j >= n ? j - n : j);
  return c + (std::ptrdiff_t(j) - i) * std::ptrdiff_t(stride);
}

template <class ExecutionSpace, int Dim>
class GridPdeSolver final : public PdeSolver {
public:
  using memory_space = typename ExecutionSpace::memory_space;
  using Grid = Kokkos::View<double*, memory_space>;

  GridPdeSolver(int n, double s, const std::vector<double>& initial, const std::vector<double>& target, double cfl)
      : m_n(n), m_s(s), m_cfl(cfl) {
    m_cells = 1;
    m_half_points = 1;
    for (int d = 0; d < Dim; ++d) {
      m_cells *= std::size_t(n);
      m_half_points *= d + 1 < Dim ? std::size_t(n) : std::size_t(n / 2 + 1);
    }
    if (initial.size() != m_cells || target.size() != m_cells)
      throw std::invalid_argument("PdeSolver: the initial and target grids must hold n^d cell averages");
    auto grid = [&](const char* label) {
      return Grid(Kokkos::view_alloc(m_space, Kokkos::WithoutInitializing, std::string(label)), m_cells);
    };
    m_rho = grid("kmdflow::pde::density");
    m_stage1 = grid("kmdflow::pde::stage1");
    m_stage2 = grid("kmdflow::pde::stage2");
    m_phi = grid("kmdflow::pde::potential");
    m_half = Kokkos::View<Complex*, memory_space>(
        Kokkos::view_alloc(m_space, Kokkos::WithoutInitializing, std::string("kmdflow::pde::half")), m_half_points);
    m_target_hat = Kokkos::View<Complex*, memory_space>(
        Kokkos::view_alloc(m_space, Kokkos::WithoutInitializing, std::string("kmdflow::pde::target_hat")),
        m_half_points);

    const std::vector<int> dims(Dim, n);
    auto* half = reinterpret_cast<std::complex<double>*>(m_half.data());
#if defined(KOKKOS_ENABLE_CUDA)
    if constexpr (std::is_same_v<ExecutionSpace, Kokkos::Cuda>) m_fft = make_cuda_real_fft(dims, m_phi.data(), half);
    else
#endif
      m_fft = make_host_real_fft(dims, m_phi.data(), half, ExecutionSpace().concurrency());

    // (2π|k|)^{−2s} by |k| (d = 1) or |k|² (d = 2, 3).
    const std::size_t table = Dim == 1 ? std::size_t(n / 2) + 1 : std::size_t(Dim) * (n / 2) * (n / 2) + 1;
    m_symbol = Grid("kmdflow::pde::symbol", table);
    auto symbol = Kokkos::create_mirror_view(m_symbol);
    symbol(0) = 0;
    for (std::size_t i = 1; i < table; ++i)
      symbol(i) = Dim == 1 ? std::pow(2 * pi * double(i), -2 * s) : std::pow(4 * pi * pi * double(i), -s);
    Kokkos::deep_copy(m_symbol, symbol);

    set_density(target);
    {
      Kokkos::deep_copy(m_space, m_phi, m_rho);
      m_space.fence();
      m_fft->forward();
      const auto half_view = m_half, target_hat = m_target_hat;
      const double scale = 1.0 / double(m_cells);
      Kokkos::parallel_for(
          "kmdflow::pde::target_transform", Kokkos::RangePolicy<ExecutionSpace>(m_space, 0, m_half_points),
          KOKKOS_LAMBDA(std::size_t h) { target_hat(h) = half_view(h) * scale; });
    }
    set_density(initial);

    // Λ = max_k (2π|k|)^{−2s} Σ_a (2n sin(πk_a/n))²: the largest rate of the linearised operator
    // per unit density.
    {
      const auto symbol_view = m_symbol;
      double lambda = 0;
      Kokkos::parallel_reduce(
          "kmdflow::pde::largest_rate", Kokkos::RangePolicy<ExecutionSpace>(m_space, 0, m_half_points),
          KOKKOS_LAMBDA(std::size_t h, double& m) {
            int k[Dim];
            half_wavevector<Dim>(h, n, k);
            double d2 = 0;
            for (int a = 0; a < Dim; ++a) {
              const double e = 2 * n * Kokkos::sin(pi * k[a] / n);
              d2 += e * e;
            }
            m = Kokkos::fmax(m, symbol_view(symbol_index<Dim>(k)) * d2);
          },
          Kokkos::Max<double>(lambda));
      m_lambda = lambda;
    }
  }

  int dim() const override { return Dim; }
  int grid() const override { return m_n; }
  std::string fft_library() const override { return m_fft->library(); }
  long stages() const override { return m_stages; }

  void set_density(const std::vector<double>& values) override {
    if (values.size() != m_cells) throw std::invalid_argument("PdeSolver::set_density: need n^d cell averages");
    Kokkos::View<const double*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>> host(values.data(),
                                                                                                 m_cells);
    Kokkos::deep_copy(m_space, m_rho, host);
    m_space.fence();
  }

  std::vector<double> density() const override {
    std::vector<double> values(m_cells);
    Kokkos::View<double*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>> host(values.data(), m_cells);
    Kokkos::deep_copy(m_space, host, m_rho);
    m_space.fence();
    return values;
  }

  void fft_pair() override {
    m_fft->forward();
    m_fft->inverse();
  }

  double stable_step() override {
    potential(m_rho);
    double speed = 0, top = 0;
    const auto phi = m_phi, rho = m_rho;
    const int n = m_n;
    Kokkos::parallel_reduce(
        "kmdflow::pde::speeds", Kokkos::RangePolicy<ExecutionSpace>(m_space, 0, m_cells),
        KOKKOS_LAMBDA(std::size_t c, double& u_max, double& rho_max) {
          int i[Dim];
          std::size_t stride[Dim];
          coordinates(c, n, i, stride);
          for (int a = 0; a < Dim; ++a) {
            const double u = (phi(c) - phi(neighbour(c, i[a], 1, n, stride[a]))) * n;
            u_max = Kokkos::fmax(u_max, Kokkos::fabs(u));
          }
          rho_max = Kokkos::fmax(rho_max, rho(c));
        },
        Kokkos::Max<double>(speed), Kokkos::Max<double>(top));
    const double cfl_step = speed > 0 ? m_cfl / (double(m_n) * Dim * speed) : std::numeric_limits<double>::infinity();
    const double linear_step =
        top > 0 && m_lambda > 0 ? 2.5 * m_cfl / (top * m_lambda) : std::numeric_limits<double>::infinity();
    return std::min(cfl_step, linear_step);
  }

  double step(double dt_max) override {
    const double dt = std::min(dt_max, stable_step()); // leaves φ(ρ) in m_phi
    if (!(dt > 0) || !std::isfinite(dt)) throw std::runtime_error("PdeSolver: no finite positive step");
    // Shu–Osher SSP-RK3: u1 = u + dt L(u); u2 = ¾u + ¼(u1 + dt L(u1)); u = ⅓u + ⅔(u2 + dt L(u2)).
    stage(m_rho, m_rho, m_stage1, 0.0, 1.0, dt);
    potential(m_stage1);
    stage(m_stage1, m_rho, m_stage2, 0.75, 0.25, dt);
    potential(m_stage2);
    stage(m_stage2, m_rho, m_rho, 1.0 / 3, 2.0 / 3, dt);
    return dt;
  }

  PdeDiagnostics diagnostics() override {
    PdeDiagnostics out;
    out.energy = potential(m_rho);
    const auto phi = m_phi, rho = m_rho;
    const int n = m_n;
    double mass = 0, dissipation = 0, speed = 0, low = 0, high = 0;
    Kokkos::parallel_reduce(
        "kmdflow::pde::diagnostics", Kokkos::RangePolicy<ExecutionSpace>(m_space, 0, m_cells),
        KOKKOS_LAMBDA(std::size_t c, double& m, double& diss, double& u_max, double& lo, double& hi) {
          int i[Dim];
          std::size_t stride[Dim];
          coordinates(c, n, i, stride);
          for (int a = 0; a < Dim; ++a) {
            const std::size_t r = neighbour(c, i[a], 1, n, stride[a]);
            const double u = (phi(c) - phi(r)) * n;
            diss += 0.5 * (rho(c) + rho(r)) * u * u;
            u_max = Kokkos::fmax(u_max, Kokkos::fabs(u));
          }
          m += rho(c);
          lo = Kokkos::fmin(lo, rho(c));
          hi = Kokkos::fmax(hi, rho(c));
        },
        Kokkos::Sum<double>(mass), Kokkos::Sum<double>(dissipation), Kokkos::Max<double>(speed),
        Kokkos::Min<double>(low), Kokkos::Max<double>(high));
    const double volume = 1.0 / double(m_cells);
    out.mass = mass * volume;
    out.dissipation = dissipation * volume;
    out.max_speed = speed;
    out.minimum = low;
    out.maximum = high;
    return out;
  }

private:
  KOKKOS_INLINE_FUNCTION static void coordinates(std::size_t c, int n, int* i, std::size_t* stride) {
    std::size_t rest = c, s = 1;
    for (int a = Dim - 1; a >= 0; --a) {
      i[a] = int(rest % n);
      rest /= n;
      stride[a] = s;
      s *= std::size_t(n);
    }
  }

  /// φ = G_s * (ρ − ν) at the cell centres into m_phi; returns the energy ½ Σ (2π|k|)^{−2s}|ρ̂ − ν̂|².
  double potential(const Grid& rho) {
    Kokkos::deep_copy(m_space, m_phi, rho);
    m_space.fence();
    m_fft->forward();
    const auto half = m_half, target_hat = m_target_hat;
    const auto symbol = m_symbol;
    const int n = m_n;
    const double scale = 1.0 / double(m_cells);
    double energy = 0;
    Kokkos::parallel_reduce(
        "kmdflow::pde::symbol", Kokkos::RangePolicy<ExecutionSpace>(m_space, 0, m_half_points),
        KOKKOS_LAMBDA(std::size_t h, double& e) {
          int k[Dim];
          half_wavevector<Dim>(h, n, k);
          const double L = symbol(symbol_index<Dim>(k)); // 0 at k = 0
          const Complex difference = half(h) * scale - target_hat(h);
          half(h) = L * difference;
          // Entries with last component 0 or n/2 stand for themselves; the others also for −k.
          const double weight = (k[Dim - 1] == 0 || 2 * k[Dim - 1] == n) ? 0.5 : 1.0;
          e += weight * L * (difference.real() * difference.real() + difference.imag() * difference.imag());
        },
        energy);
    m_space.fence();
    m_fft->inverse();
    ++m_stages;
    return energy;
  }

  /// out = a·u0 + b·(w + dt·L(w)), L(w) = −(1/h) Σ_axes (F_{c+½} − F_{c−½}), with φ(w) in m_phi.
  void stage(const Grid& w, const Grid& u0, const Grid& out, double a, double b, double dt) {
    const auto phi = m_phi;
    const int n = m_n;
    const double dt_over_h = dt * n;
    Kokkos::parallel_for(
        "kmdflow::pde::stage", Kokkos::RangePolicy<ExecutionSpace>(m_space, 0, m_cells), KOKKOS_LAMBDA(std::size_t c) {
          int i[Dim];
          std::size_t stride[Dim];
          coordinates(c, n, i, stride);
          double divergence = 0;
          for (int ax = 0; ax < Dim; ++ax) {
            const std::size_t m2 = neighbour(c, i[ax], -2, n, stride[ax]), m1 = neighbour(c, i[ax], -1, n, stride[ax]),
                              p1 = neighbour(c, i[ax], 1, n, stride[ax]), p2 = neighbour(c, i[ax], 2, n, stride[ax]);
            const double right = face_flux(w(m1), w(c), w(p1), w(p2), (phi(c) - phi(p1)) * n);
            const double left = face_flux(w(m2), w(m1), w(c), w(p1), (phi(m1) - phi(c)) * n);
            divergence += right - left;
          }
          const double own = w(c) - dt_over_h * divergence;
          out(c) = (a != 0 ? a * u0(c) : 0.0) + b * own;
        });
    m_space.fence();
  }

  ExecutionSpace m_space;
  int m_n;
  double m_s, m_cfl;
  std::size_t m_cells = 0, m_half_points = 0;
  Grid m_rho, m_stage1, m_stage2, m_phi, m_symbol;
  Kokkos::View<Complex*, memory_space> m_half, m_target_hat;
  std::unique_ptr<RealFft> m_fft;
  double m_lambda = 0;
  long m_stages = 0;
};

} // namespace

std::vector<double> cell_averages(const Density& density, int n, double* dropped) {
  const int dim = density.dim();
  std::size_t cells = 1, half_points = 1;
  for (int d = 0; d < dim; ++d) {
    cells *= std::size_t(n);
    half_points *= d + 1 < dim ? std::size_t(n) : std::size_t(n / 2 + 1);
  }
  std::vector<double> real(cells, 0.0);
  std::vector<std::complex<double>> half(half_points, 0.0);
  auto fft = make_host_real_fft(std::vector<int>(dim, n), real.data(), half.data(),
                                Kokkos::DefaultHostExecutionSpace().concurrency());
  half[0] = density.fourier_coefficient({0, 0, 0}).real();
  double largest_dropped = 0;
  auto place = [&](const Wavevector& k, std::complex<double> value) {
    if (k[dim - 1] < 0) return; // stored as the conjugate at −k
    std::size_t index = 0;
    for (int d = 0; d + 1 < dim; ++d) index = index * std::size_t(n) + std::size_t((k[d] % n + n) % n);
    index = index * std::size_t(n / 2 + 1) + std::size_t(k[dim - 1]);
    half[index] = value;
  };
  for (const Wavevector& k : density.spectrum(1e-16)) {
    std::complex<double> c = density.fourier_coefficient(k);
    bool resolved = true;
    for (int d = 0; d < dim; ++d) {
      if (2 * std::abs(k[d]) >= n) resolved = false;
      // The average of e^{2πik x} over a cell of width 1/n: sinc(πk/n) times its value at the centre.
      const double x = pi * k[d] / n;
      if (k[d] != 0) c *= std::sin(x) / x;
    }
    if (!resolved) {
      largest_dropped = std::max(largest_dropped, std::abs(density.fourier_coefficient(k)));
      continue;
    }
    // The inverse transform puts sample g at g/n; the cell centres are at (g + ½)/n.
    std::complex<double> shift(1, 0);
    for (int d = 0; d < dim; ++d) shift *= std::polar(1.0, pi * k[d] / n);
    c *= shift;
    const Wavevector minus{-k[0], -k[1], -k[2]};
    place(k, c);
    place(minus, std::conj(c));
  }
  fft->inverse();
  if (dropped) *dropped = largest_dropped;
  return real;
}

std::unique_ptr<PdeSolver> make_pde_solver(int dim, int n, double s, const std::vector<double>& initial,
                                           const std::vector<double>& target, double cfl) {
  if (n < 8 || n % 2 != 0) throw std::invalid_argument("the PDE grid must be even and at least 8");
  if (!(s > 0)) throw std::invalid_argument("s must be > 0");
  if (!(cfl > 0 && cfl <= 1)) throw std::invalid_argument("the CFL number must be in (0, 1]");
  switch (dim) {
  case 1: return std::make_unique<GridPdeSolver<ExecutionSpace, 1>>(n, s, initial, target, cfl);
  case 2: return std::make_unique<GridPdeSolver<ExecutionSpace, 2>>(n, s, initial, target, cfl);
  case 3: return std::make_unique<GridPdeSolver<ExecutionSpace, 3>>(n, s, initial, target, cfl);
  default: throw std::invalid_argument("the PDE solver needs d = 1, 2 or 3");
  }
}

} // namespace kmdflow
