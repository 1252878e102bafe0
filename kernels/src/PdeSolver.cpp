#include <kmdflow/PdeSolver.hpp>
#include <kmdflow/detail/FftBackend.hpp>
#include <kmdflow/detail/HalfGrid.hpp>

#include <Kokkos_Profiling_ScopedRegion.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace kmdflow {

namespace {

using Complex = Kokkos::complex<double>;
constexpr double pi = 3.14159265358979323846;

/// The wavevector of entry h of the r2c half grid (last axis 0 … n/2, the others −n/2+1 … n/2).
template <int Dim> KOKKOS_INLINE_FUNCTION void half_wavevector(std::size_t h, int n, int* k) {
  detail::half_grid_wavevector<Dim>(h, n, n, k);
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

  GridPdeSolver(const Kernel& kernel, int n, const std::vector<double>& initial, const std::vector<double>& target,
                double cfl)
      : m_n(n), m_cfl(cfl) {
    m_cells = 1;
    for (int d = 0; d < Dim; ++d) m_cells *= std::size_t(n);
    m_half_points = detail::half_grid_size(Dim, n);
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

    // One transform per real buffer, all into the same half grid: the forward ones read the
    // density buffers in place (out-of-place r2c keeps its input), the inverse writes φ.
    const std::vector<int> dims(Dim, n);
    auto* half = reinterpret_cast<std::complex<double>*>(m_half.data());
    auto make_fft = [&](double* real) { return detail::make_real_fft(m_space, dims, real, half); };
    m_fft = make_fft(m_phi.data());
    m_fft_rho = make_fft(m_rho.data());
    m_fft_stage1 = make_fft(m_stage1.data());
    m_fft_stage2 = make_fft(m_stage2.data());
    m_rows = 1;
    for (int d = 0; d + 1 < Dim; ++d) m_rows *= std::size_t(n);
    m_chunk = std::min(n, 512);
    m_chunks = (n + m_chunk - 1) / m_chunk;
    m_half_chunk = std::min(n / 2 + 1, 512);
    m_half_chunks = (n / 2 + 1 + m_half_chunk - 1) / m_half_chunk;
    // The kernel's symbol by |k| in d = 1 and by |k|² in d = 2, 3 (radial): k2 ≤ d (n/2)² on the grid
    // (in d = 1 only the squares occur: a table by |k|² would hold (n/2)² entries, 2 TB at
    // n = 2²⁰); 0 at k = 0, where ρ̂ − ν̂ vanishes (KernelConcept.hpp: the mean is left out).
    const std::size_t largest = Dim == 1 ? std::size_t(n / 2) : std::size_t(Dim) * (n / 2) * (n / 2);
    std::vector<double> radial(largest + 1);
    radial[0] = 0;
    for (std::size_t i = 1; i < radial.size(); ++i) radial[i] = kernel.symbol(Dim == 1 ? double(i) * double(i) : double(i));
    prepare(radial, initial, target);
  }

  int dim() const override { return Dim; }
  int grid() const override { return m_n; }
  std::string fft_library() const override { return m_fft->library(); }
  long stages() const override { return m_stages; }

  // Kernel launchers: public only because CUDA's extended lambdas cannot live in private member
  // functions (nor in constructors); not part of the interface.

  /// The symbol table, ν̂, the initial density and the largest linear rate Λ.
  void prepare(const std::vector<double>& radial_symbol, const std::vector<double>& initial,
               const std::vector<double>& target) {
    Kokkos::Profiling::ScopedRegion region("kmdflow::pde::prepare");
    const int n = m_n;
    // k̂(k) on the half grid, read as a stream by the potential.
    m_symbol = Grid(Kokkos::view_alloc(m_space, Kokkos::WithoutInitializing, std::string("kmdflow::pde::symbol")),
                    m_half_points);
    {
      const auto symbol = m_symbol;
      Grid radial(Kokkos::view_alloc(m_space, Kokkos::WithoutInitializing, std::string("kmdflow::pde::radial_symbol")),
                  radial_symbol.size());
      Kokkos::deep_copy(m_space, radial,
                        Kokkos::View<const double*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>>(
                            radial_symbol.data(), radial_symbol.size()));
      Kokkos::parallel_for(
          "kmdflow::pde::symbol_table", Kokkos::RangePolicy<ExecutionSpace>(m_space, 0, m_half_points),
          KOKKOS_LAMBDA(std::size_t h) {
            int k[Dim];
            half_wavevector<Dim>(h, n, k);
            std::size_t k2 = 0;
            for (int a = 0; a < Dim; ++a) k2 += std::size_t(k[a]) * std::size_t(k[a]);
            symbol(h) = radial(Dim == 1 ? std::size_t(k[0] < 0 ? -k[0] : k[0]) : k2);
          });
      m_space.fence();
    }

    set_density(target);
    {
      m_fft_rho->forward();
      const auto half_view = m_half, target_hat = m_target_hat;
      const double scale = 1.0 / double(m_cells);
      Kokkos::parallel_for(
          "kmdflow::pde::target_transform", Kokkos::RangePolicy<ExecutionSpace>(m_space, 0, m_half_points),
          KOKKOS_LAMBDA(std::size_t h) { target_hat(h) = half_view(h) * scale; });
    }
    set_density(initial);

    // Λ = max_k k̂(k) Σ_a (2n sin(πk_a/n))²: the largest rate of the linearised operator per unit
    // density.
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
            m = Kokkos::fmax(m, symbol_view(h) * d2);
          },
          Kokkos::Max<double>(lambda));
      m_lambda = lambda;
    }
  }

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
    m_fft_rho->forward();
    m_fft->inverse();
  }

  double stable_step() override {
    Kokkos::Profiling::ScopedRegion region("kmdflow::pde::stable_step");
    potential(m_rho);
    double speed = 0, top = 0;
    const auto phi = m_phi, rho = m_rho;
    const int n = m_n, chunk = m_chunk, chunks = m_chunks;
    // max |u| over the faces and max ρ, packed as one max-reduction of a pair.
    Kokkos::parallel_reduce(
        "kmdflow::pde::speeds", cell_policy(),
        KOKKOS_LAMBDA(const Team& team, double& u_max, double& rho_max) {
          const RowChunk r = row_chunk(team.league_rank(), n, chunk, chunks);
          double team_u = 0, team_rho = 0;
          Kokkos::parallel_reduce(
              Kokkos::TeamThreadRange(team, r.first, r.last),
              [&](int j, double& u, double& top) {
                const std::size_t c = r.base + std::size_t(j);
                u = Kokkos::fmax(u, Kokkos::fabs(phi(c) - phi(r.base + wrap(j + 1, n))) * n);
                for (int ax = 0; ax + 1 < Dim; ++ax) u = Kokkos::fmax(u, Kokkos::fabs(phi(c) - phi(c + r.offset[ax][3])) * n);
                top = Kokkos::fmax(top, rho(c));
              },
              Kokkos::Max<double>(team_u), Kokkos::Max<double>(team_rho));
          Kokkos::single(Kokkos::PerTeam(team), [&] {
            u_max = Kokkos::fmax(u_max, team_u);
            rho_max = Kokkos::fmax(rho_max, team_rho);
          });
        },
        Kokkos::Max<double>(speed), Kokkos::Max<double>(top));
    const double cfl_step = speed > 0 ? m_cfl / (double(m_n) * Dim * speed) : std::numeric_limits<double>::infinity();
    const double linear_step =
        top > 0 && m_lambda > 0 ? 2.5 * m_cfl / (top * m_lambda) : std::numeric_limits<double>::infinity();
    return std::min(cfl_step, linear_step);
  }

  double step(double dt_max) override {
    Kokkos::Profiling::ScopedRegion region("kmdflow::pde::step");
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
    Kokkos::Profiling::ScopedRegion region("kmdflow::pde::diagnostics");
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

  KOKKOS_INLINE_FUNCTION static void coordinates(std::size_t c, int n, int* i, std::size_t* stride) {
    std::size_t rest = c, s = 1;
    for (int a = Dim - 1; a >= 0; --a) {
      i[a] = int(rest % n);
      rest /= n;
      stride[a] = s;
      s *= std::size_t(n);
    }
  }

  using Team = typename Kokkos::TeamPolicy<ExecutionSpace>::member_type;

  /// The cells are processed in pieces of rows along the last (contiguous) axis: one team per
  /// (row, chunk), one cell per team thread; the row's coordinates and the offsets of its
  /// neighbouring rows are computed once per team.
  struct RowChunk {
    std::size_t base;          // index of the row's first cell
    int first, last;           // the chunk: cells first … last−1 of the row
    std::ptrdiff_t offset[3][5]; // outer axis a: offset of the row at −2 … +2 along a
  };
  KOKKOS_INLINE_FUNCTION static RowChunk row_chunk(std::size_t league, int n, int chunk, int chunks) {
    RowChunk r;
    const std::size_t row = league / std::size_t(chunks);
    r.first = int(league % std::size_t(chunks)) * chunk;
    r.last = r.first + chunk < n ? r.first + chunk : n;
    r.base = row * std::size_t(n);
    std::size_t rest = row, stride = std::size_t(n);
    for (int a = Dim - 2; a >= 0; --a) {
      const int i = int(rest % std::size_t(n));
      rest /= std::size_t(n);
      for (int o = -2; o <= 2; ++o) {
        int j = i + o;
        j = j < 0 ? j + n : (j >= n ? j - n : j);
        r.offset[a][o + 2] = (std::ptrdiff_t(j) - i) * std::ptrdiff_t(stride);
      }
      stride *= std::size_t(n);
    }
    return r;
  }
  KOKKOS_INLINE_FUNCTION static int wrap(int j, int n) { return j < 0 ? j + n : (j >= n ? j - n : j); }

  Kokkos::TeamPolicy<ExecutionSpace> cell_policy() const {
    return Kokkos::TeamPolicy<ExecutionSpace>(m_space, int(m_rows * std::size_t(m_chunks)), Kokkos::AUTO);
  }

  /// φ = k * (ρ − ν) at the cell centres into m_phi; returns the energy ½ Σ_k k̂(k)|ρ̂ − ν̂|².
  double potential(const Grid& rho) {
    Kokkos::Profiling::ScopedRegion region("kmdflow::pde::potential");
    RealFft& forward = rho.data() == m_rho.data()      ? *m_fft_rho
                       : rho.data() == m_stage1.data() ? *m_fft_stage1
                                                       : *m_fft_stage2;
    if (rho.data() != m_rho.data() && rho.data() != m_stage1.data() && rho.data() != m_stage2.data())
      throw std::logic_error("PdeSolver::potential: not one of the solver's density buffers");
    m_space.fence();
    forward.forward();
    const auto half = m_half, target_hat = m_target_hat;
    const auto symbol = m_symbol;
    const int n = m_n, chunk = m_half_chunk, chunks = m_half_chunks, length = n / 2 + 1;
    const double scale = 1.0 / double(m_cells);
    double energy = 0;
    // Rows of the half grid: the outer wavevector components fixed, the last one 0 … n/2.
    Kokkos::parallel_reduce(
        "kmdflow::pde::symbol",
        Kokkos::TeamPolicy<ExecutionSpace>(m_space, int(m_rows * std::size_t(chunks)), Kokkos::AUTO),
        KOKKOS_LAMBDA(const Team& team, double& e) {
          const std::size_t league = team.league_rank();
          const std::size_t row = league / std::size_t(chunks);
          const int first = int(league % std::size_t(chunks)) * chunk;
          const int last = first + chunk < length ? first + chunk : length;
          const std::size_t base = row * std::size_t(length);
          double partial = 0;
          Kokkos::parallel_reduce(
              Kokkos::TeamThreadRange(team, first, last),
              [&](int j, double& p) {
                const std::size_t h = base + std::size_t(j);
                const double L = symbol(h);
                const Complex difference = half(h) * scale - target_hat(h);
                half(h) = L * difference;
                // Entries with last component 0 or n/2 stand for themselves; the others also for −k.
                const double weight = (j == 0 || 2 * j == n) ? 0.5 : 1.0;
                p += weight * L * (difference.real() * difference.real() + difference.imag() * difference.imag());
              },
              partial);
          Kokkos::single(Kokkos::PerTeam(team), [&] { e += partial; });
        },
        energy);
    m_space.fence();
    m_fft->inverse();
    ++m_stages;
    return energy;
  }

  /// out = a·u0 + b·(w + dt·L(w)), L(w) = −(1/h) Σ_axes (F_{c+½} − F_{c−½}), with φ(w) in m_phi.
  void stage(const Grid& w, const Grid& u0, const Grid& out, double a, double b, double dt) {
    Kokkos::Profiling::ScopedRegion region("kmdflow::pde::stage");
    const auto phi = m_phi;
    const int n = m_n, chunk = m_chunk, chunks = m_chunks;
    const double dt_over_h = dt * n;
    Kokkos::parallel_for(
        "kmdflow::pde::stage", cell_policy(), KOKKOS_LAMBDA(const Team& team) {
          const RowChunk r = row_chunk(team.league_rank(), n, chunk, chunks);
          Kokkos::parallel_for(Kokkos::TeamThreadRange(team, r.first, r.last), [&](int j) {
            const std::size_t c = r.base + std::size_t(j);
            // The last axis.
            const std::size_t m2 = r.base + wrap(j - 2, n), m1 = r.base + wrap(j - 1, n), p1 = r.base + wrap(j + 1, n),
                              p2 = r.base + wrap(j + 2, n);
            double divergence = face_flux(w(m1), w(c), w(p1), w(p2), (phi(c) - phi(p1)) * n) -
                                face_flux(w(m2), w(m1), w(c), w(p1), (phi(m1) - phi(c)) * n);
            // The outer axes.
            for (int ax = 0; ax + 1 < Dim; ++ax) {
              const std::size_t q2 = c + r.offset[ax][0], q1 = c + r.offset[ax][1], s1 = c + r.offset[ax][3],
                                s2 = c + r.offset[ax][4];
              divergence += face_flux(w(q1), w(c), w(s1), w(s2), (phi(c) - phi(s1)) * n) -
                            face_flux(w(q2), w(q1), w(c), w(s1), (phi(q1) - phi(c)) * n);
            }
            const double own = w(c) - dt_over_h * divergence;
            out(c) = (a != 0 ? a * u0(c) : 0.0) + b * own;
          });
        });
    m_space.fence();
  }

private:
  ExecutionSpace m_space;
  int m_n;
  double m_cfl;
  std::size_t m_cells = 0, m_half_points = 0;
  Grid m_rho, m_stage1, m_stage2, m_phi, m_symbol;
  Kokkos::View<Complex*, memory_space> m_half, m_target_hat;
  std::unique_ptr<RealFft> m_fft, m_fft_rho, m_fft_stage1, m_fft_stage2; // inverse into φ; forward from each density
  std::size_t m_rows = 1; // rows of cells along the last axis (n^{d−1})
  int m_chunk = 1, m_chunks = 1, m_half_chunk = 1, m_half_chunks = 1;
  double m_lambda = 0;
  long m_stages = 0;
};

} // namespace

std::vector<double> cell_averages(const Density& density, int n, double* dropped) {
  const int dim = density.dim();
  std::size_t cells = 1;
  for (int d = 0; d < dim; ++d) cells *= std::size_t(n);
  std::vector<double> real(cells, 0.0);
  std::vector<std::complex<double>> half(detail::half_grid_size(dim, n), 0.0);
  auto fft = detail::make_real_fft(Kokkos::DefaultHostExecutionSpace(), std::vector<int>(dim, n), real.data(), half.data(),
                                   FftPlanning::estimate); // one transform
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

std::unique_ptr<PdeSolver> make_pde_solver(const Kernel& kernel, int n, const std::vector<double>& initial,
                                           const std::vector<double>& target, double cfl) {
  if (n < 8 || n % 2 != 0) throw std::invalid_argument("the PDE grid must be even and at least 8");
  if (!(cfl > 0 && cfl <= 1)) throw std::invalid_argument("the CFL number must be in (0, 1]");
  switch (kernel.dim()) {
  case 1: return std::make_unique<GridPdeSolver<ExecutionSpace, 1>>(kernel, n, initial, target, cfl);
  case 2: return std::make_unique<GridPdeSolver<ExecutionSpace, 2>>(kernel, n, initial, target, cfl);
  case 3: return std::make_unique<GridPdeSolver<ExecutionSpace, 3>>(kernel, n, initial, target, cfl);
  default: throw std::invalid_argument("the PDE solver needs d = 1, 2 or 3");
  }
}

std::unique_ptr<PdeSolver> make_pde_solver(int dim, int n, double s, const std::vector<double>& initial,
                                           const std::vector<double>& target, double cfl) {
  if (!(s > 0)) throw std::invalid_argument("s must be > 0");
  if (dim < 1 || dim > 3) throw std::invalid_argument("the PDE solver needs d = 1, 2 or 3");
  return make_pde_solver(SobolevKernel(dim, s), n, initial, target, cfl);
}

} // namespace kmdflow
