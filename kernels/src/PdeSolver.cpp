#include <kmdflow/PdeSolver.hpp>
#include <kmdflow/detail/FftBackend.hpp>
#include <kmdflow/detail/HalfGrid.hpp>

#include <Kokkos_Profiling_ScopedRegion.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

// The host's hot loops also compiled for x86-64-v3 (AVX2, FMA), chosen at load time where the CPU
// has it: the baseline build targets any x86-64 (SSE2), while FFTW picks its AVX2 codelets at run
// time. Contraction to FMA stays off (-std=c++20 implies -ffp-contract=off), so both clones give
// the same values to the last bit.
#if defined(__GNUC__) && !defined(__clang__) && !defined(__NVCC__) && !defined(__CUDACC__) && defined(__x86_64__) && \
    defined(__linux__)
#define KMDFLOW_HOST_SIMD_CLONES [[gnu::target_clones("arch=x86-64-v3", "default")]]
#else
#define KMDFLOW_HOST_SIMD_CLONES
#endif

namespace kmdflow {

namespace {

using Complex = Kokkos::complex<double>;
constexpr double pi = 3.14159265358979323846;

/// The wavevector of entry h of the r2c half grid (last axis 0 … n/2, the others −n/2+1 … n/2).
template <int Dim> KOKKOS_INLINE_FUNCTION void half_wavevector(std::size_t h, int n, int* k) {
  detail::half_grid_wavevector<Dim>(h, n, n, k);
}

/// Half the monotonised-central limited slope of a cell from its one-sided differences, without
/// branches: sign·min(2|a|, 2|b|, ½|a + b|)/2 where a and b have one sign, 0 where they differ or
/// one vanishes (the factor ½(sgn a + sgn b) is 0 or ±1, so the value is the textbook limiter's
/// to the last bit).
KOKKOS_INLINE_FUNCTION double half_mc_slope(double minus, double plus) {
  const double sign = 0.5 * (Kokkos::copysign(1.0, minus) + Kokkos::copysign(1.0, plus));
  // Minima as selects: std::fmin's NaN rules keep it a library call on x86 without -ffast-math.
  const double a = Kokkos::fabs(minus), b = Kokkos::fabs(plus), mean = 0.5 * Kokkos::fabs(minus + plus);
  const double lower = 2 * (a < b ? a : b);
  return 0.5 * sign * (lower < mean ? lower : mean);
}

/// The upwind MUSCL flux u·ρ_face through a face with velocity u, from the two cells' averages
/// (left, right) and their half slopes, as u⁺ρ_L + u⁻ρ_R: ρ_L the left cell's reconstruction at its
/// right end, ρ_R the right cell's at its left end (one of the products is an exact zero, so this
/// is the upwind choice to the last bit, without a branch).
KOKKOS_INLINE_FUNCTION double face_flux(double left, double left_half_slope, double right, double right_half_slope,
                                        double u) {
  const double positive = u > 0 ? u : 0.0, negative = u > 0 ? 0.0 : u;
  return positive * (left + left_half_slope) + negative * (right - right_half_slope);
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

  /// `sweeps`: the finite-volume update by row sweeps on the host (see stage); cell by cell
  /// otherwise, as on GPUs (tests compare the two).
  GridPdeSolver(const Kernel& kernel, int n, const std::vector<double>& initial, const std::vector<double>& target,
                double cfl, bool sweeps)
      : m_n(n), m_cfl(cfl), m_sweeps(sweeps) {
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
    // Whole rows up to 2048 cells (16 kB) a sweep: rows of 4 kB, each one page, restarted the
    // hardware prefetcher at every row (2048²: 25 → 21 ms an update).
    m_sweep_chunk = std::min(n, max_chunk);
    m_sweep_chunks = (n + m_sweep_chunk - 1) / m_sweep_chunk;
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
  void set_stages(long stages) override { m_stages = stages; }

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
          const std::ptrdiff_t y = Dim > 1 ? r.offset[0][3] : 0, z = Dim > 2 ? r.offset[1][3] : 0;
          double team_u = 0, team_rho = 0;
          KOKKOS_IF_ON_HOST((if (team.team_size() == 1) {
            speeds_on_host(phi.data(), rho.data(), r.base, n, r.first, r.last, y, z, team_u, team_rho);
            u_max = Kokkos::fmax(u_max, team_u * n);
            rho_max = Kokkos::fmax(rho_max, team_rho);
            return;
          }))
          Kokkos::parallel_reduce(
              Kokkos::TeamThreadRange(team, r.first, r.last),
              [&](int j, double& u, double& top) {
                const std::size_t c = r.base + std::size_t(j);
                u = Kokkos::fmax(u, Kokkos::fabs(phi(c) - phi(r.base + wrap(j + 1, n))));
                if (Dim > 1) u = Kokkos::fmax(u, Kokkos::fabs(phi(c) - phi(c + y)));
                if (Dim > 2) u = Kokkos::fmax(u, Kokkos::fabs(phi(c) - phi(c + z)));
                top = Kokkos::fmax(top, rho(c));
              },
              Kokkos::Max<double>(team_u), Kokkos::Max<double>(team_rho));
          Kokkos::single(Kokkos::PerTeam(team), [&] {
            u_max = Kokkos::fmax(u_max, team_u * n);
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
    {
      Kokkos::Profiling::ScopedRegion fft_region("kmdflow::pde::forward_fft");
      forward.forward();
    }
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
    {
      Kokkos::Profiling::ScopedRegion fft_region("kmdflow::pde::inverse_fft");
      m_fft->inverse();
    }
    ++m_stages;
    return energy;
  }

  /// What a stage's update reads and writes, as raw pointers and scalars.
  struct StageData {
    const double* w;   // the stage's density
    const double* u0;  // the step's density (= w where a = 0)
    double* out;
    const double* phi; // φ(w)
    double inverse_h, a, b, step; // 1/h, the Shu–Osher weights, dt/h
  };
  /// The offsets of a cell's neighbours at −2, −1, +1, +2 along an outer axis.
  struct Stencil {
    std::ptrdiff_t q2 = 0, q1 = 0, s1 = 0, s2 = 0;
  };

  /// F_{c+½} − F_{c−½} along one axis at a cell of density wc and potential phic, from its
  /// neighbours' indices (−2, −1, +1, +2): the half slopes of the cell and its two neighbours
  /// (each face's flux needs the upwind one), the two face velocities, the two fluxes.
  KOKKOS_FORCEINLINE_FUNCTION static double flux_difference(const StageData& d, double wc, double phic, std::size_t q2,
                                                            std::size_t q1, std::size_t s1, std::size_t s2) {
    const double wq2 = d.w[q2], wq1 = d.w[q1], ws1 = d.w[s1], ws2 = d.w[s2];
    const double sq1 = half_mc_slope(wq1 - wq2, wc - wq1), sc = half_mc_slope(wc - wq1, ws1 - wc),
                 ss1 = half_mc_slope(ws1 - wc, ws2 - ws1);
    return face_flux(wc, sc, ws1, ss1, (phic - d.phi[s1]) * d.inverse_h) -
           face_flux(wq1, sq1, wc, sc, (d.phi[q1] - phic) * d.inverse_h);
  }

  /// The update of cell j of the row starting at `base`: out = a·u0 + b·(w − dt/h Σ_axes (F_{c+½} −
  /// F_{c−½})), the last axis first. `Wrapped`: the cell is within two of the row's ends.
  template <bool Wrapped>
  KOKKOS_FORCEINLINE_FUNCTION static void update_cell(const StageData d, std::size_t base, int n, Stencil x,
                                                      Stencil y, int j) {
    const std::size_t c = base + std::size_t(j);
    const double wc = d.w[c], phic = d.phi[c];
    double divergence = Wrapped ? flux_difference(d, wc, phic, base + wrap(j - 2, n), base + wrap(j - 1, n),
                                                  base + wrap(j + 1, n), base + wrap(j + 2, n))
                                : flux_difference(d, wc, phic, c - 2, c - 1, c + 1, c + 2);
    if constexpr (Dim > 1) divergence += flux_difference(d, wc, phic, c + x.q2, c + x.q1, c + x.s1, c + x.s2);
    if constexpr (Dim > 2) divergence += flux_difference(d, wc, phic, c + y.q2, c + y.q1, c + y.s1, c + y.s2);
    d.out[c] = d.a * d.u0[c] + d.b * (wc - d.step * divergence); // u0 = w where a = 0: always a valid load
  }

  /// Cells first … last − 1 of a row on one host thread (a function of its own, as
  /// sweep_on_host): the largest |φ_c − φ_{c+1}| over the faces on the upper side of each
  /// cell along every axis (y, z: the offsets of the next row along the outer axes) into u_max and
  /// the largest ρ into rho_max. Maxima as selects, so that the loop vectorises.
  [[gnu::noinline]] static void speeds_on_host(const double* phi, const double* rho, std::size_t base, int n,
                                               int first, int last, std::ptrdiff_t y, std::ptrdiff_t z,
                                               double& u_max, double& rho_max) {
    double u = 0, top = 0;
    // The neighbour along the last axis is c + 1 but for the row's last cell, whose face wraps.
    const int interior = last < n ? last : n - 1;
    // An OpenMP max-reduction: GCC vectorises it (a plain one needs -ffinite-math-only).
    _Pragma("omp simd reduction(max : u, top)") for (int j = first; j < last; ++j) {
      const std::size_t c = base + std::size_t(j);
      const std::size_t next = j < interior ? c + 1 : base;
      double a = Kokkos::fabs(phi[c] - phi[next]);
      if constexpr (Dim > 1) {
        const double b = Kokkos::fabs(phi[c] - phi[c + y]);
        a = b > a ? b : a;
      }
      if constexpr (Dim > 2) {
        const double b = Kokkos::fabs(phi[c] - phi[c + z]);
        a = b > a ? b : a;
      }
      u = a > u ? a : u;
      top = rho[c] > top ? rho[c] : top;
    }
    u_max = u;
    rho_max = top;
  }

  /// Cells begin … end − 1 of a row across a team, one cell per thread (the update on GPUs).
  template <bool Wrapped>
  KOKKOS_FORCEINLINE_FUNCTION static void update_cells(const Team& team, const StageData& d, std::size_t base, int n,
                                                       Stencil x, Stencil y, int begin, int end) {
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, begin, end),
                         [&](int j) { update_cell<Wrapped>(d, base, n, x, y, j); });
  }

  static constexpr int max_chunk = 2048; // cells of a row per sweep (its buffers: 128 kB of stack)

  /// The update on one host thread, by sweeps: cells first … last − 1 of the rows i = begin …
  /// end − 1 along the carried axis (2D: axis 0; 3D: axis 1 in plane `plane` of axis 0; 1D: the one
  /// row). Each half slope and each face flux is computed once, where cell by cell each is computed
  /// for both (slopes: all three) cells that use it: along the last axis for the row (a copy of its
  /// cells with the periodic ends, so that every loop runs over contiguous memory and vectorises),
  /// along the carried axis from one row to the next. Axis 0 of 3D is done cell by cell, with
  /// rows of the planes ±1, ±2 as contiguous streams: a work item sweeps within a plane, so a
  /// thread's consecutive items read neighbouring planes, which stay in cache (sweeping along
  /// axis 0 instead and axis 1 cell by cell read every row five times from memory at 256³).
  /// The same operations in the same order as update_cell (last axis, axis 0, axis 1): the same
  /// values to the last bit (FMA contraction is off).
  ///
  /// A function of its own with pointers as arguments: read from the kernel's functor, which the
  /// stores might alias, they kept GCC from vectorising the loops.
  KMDFLOW_HOST_SIMD_CLONES [[gnu::noinline]] static void sweep_on_host(const StageData d, int n, int first, int last,
                                                                       int plane, int begin, int end) {
    const int length = last - first;
    double w_row[max_chunk + 4], phi_row[max_chunk + 2], slope_x[max_chunk + 2], flux_x[max_chunk + 1];
    double slope_here[max_chunk], slope_next[max_chunk], flux_below[max_chunk], flux_above[max_chunk];
    const auto wrapped = [n](int i) { return i < 0 ? i + n : (i >= n ? i - n : i); };
    // The first cell of row i along the carried axis.
    const auto base_of = [&](int i) -> std::size_t {
      if constexpr (Dim == 1) return 0;
      else if constexpr (Dim == 2) return std::size_t(wrapped(i)) * std::size_t(n);
      else return (std::size_t(plane) * std::size_t(n) + std::size_t(wrapped(i))) * std::size_t(n);
    };
    // Half slopes along the carried axis of row i's cells (rows i − 1, i, i + 1).
    const auto carried_slopes = [&](int i, double* slope) {
      const double* below = d.w + base_of(i - 1) + first;
      const double* here = d.w + base_of(i) + first;
      const double* above = d.w + base_of(i + 1) + first;
      for (int j = 0; j < length; ++j) slope[j] = half_mc_slope(here[j] - below[j], above[j] - here[j]);
    };
    // Fluxes through the faces between rows i and i + 1, from their half slopes.
    const auto carried_fluxes = [&](int i, const double* slope_low, const double* slope_high, double* flux) {
      const double* w_low = d.w + base_of(i) + first;
      const double* w_high = d.w + base_of(i + 1) + first;
      const double* phi_low = d.phi + base_of(i) + first;
      const double* phi_high = d.phi + base_of(i + 1) + first;
      for (int j = 0; j < length; ++j)
        flux[j] = face_flux(w_low[j], slope_low[j], w_high[j], slope_high[j], (phi_low[j] - phi_high[j]) * d.inverse_h);
    };
    if constexpr (Dim > 1) {
      carried_slopes(begin - 1, slope_here);
      carried_slopes(begin, slope_next);
      carried_fluxes(begin - 1, slope_here, slope_next, flux_below);
      std::swap_ranges(slope_here, slope_here + length, slope_next); // slope_here: row begin
    }
    // Axis 0 of 3D: the offsets of the rows in planes −2, −1, +1, +2.
    Stencil outer;
    if constexpr (Dim > 2) {
      const auto offset = [&](int o) {
        return (std::ptrdiff_t(wrapped(plane + o)) - plane) * std::ptrdiff_t(n) * std::ptrdiff_t(n);
      };
      outer = {offset(-2), offset(-1), offset(1), offset(2)};
    }
    for (int i = Dim == 1 ? 0 : begin; i < (Dim == 1 ? 1 : end); ++i) {
      const std::size_t base = base_of(i);
      // The row's cells first − 2 … last + 1 and potentials first − 1 … last, ends wrapped.
      const auto gather = [&](const double* row, double* out, int from, int count) {
        const int inside_from = from < 0 ? 0 : from, inside_to = from + count > n ? n : from + count;
        for (int k = from; k < inside_from; ++k) out[k - from] = row[wrapped(k)];
        std::copy(row + inside_from, row + inside_to, out + (inside_from - from));
        for (int k = inside_to; k < from + count; ++k) out[k - from] = row[wrapped(k)];
      };
      gather(d.w + base, w_row, first - 2, length + 4);
      gather(d.phi + base, phi_row, first - 1, length + 2);
      // Half slopes of cells first − 1 … last (w_row[k + 1] is cell first − 1 + k) and the
      // fluxes through faces first − ½ … last − ½ (flux_x[k]: between cells first − 1 + k and
      // first + k). The row through a pointer: indexing the array itself, GCC did not vectorise.
      {
        const double* row = w_row;
        for (int k = 0; k < length + 2; ++k) slope_x[k] = half_mc_slope(row[k + 1] - row[k], row[k + 2] - row[k + 1]);
      }
      for (int k = 0; k < length + 1; ++k)
        flux_x[k] = face_flux(w_row[k + 1], slope_x[k], w_row[k + 2], slope_x[k + 1],
                              (phi_row[k] - phi_row[k + 1]) * d.inverse_h);
      if constexpr (Dim > 1) {
        carried_slopes(i + 1, slope_next);
        carried_fluxes(i, slope_here, slope_next, flux_above);
      }
      const double* w = d.w + base + first;
      const double* u0 = d.u0 + base + first;
      double* out = d.out + base + first;
      for (int j = 0; j < length; ++j) {
        double divergence = flux_x[j + 1] - flux_x[j];
        if constexpr (Dim > 2) {
          const std::size_t c = base + std::size_t(first + j);
          divergence += flux_difference(d, w[j], d.phi[c], c + outer.q2, c + outer.q1, c + outer.s1, c + outer.s2);
        }
        if constexpr (Dim > 1) divergence += flux_above[j] - flux_below[j];
        out[j] = d.a * u0[j] + d.b * (w[j] - d.step * divergence);
      }
      if constexpr (Dim > 1) {
        std::swap_ranges(slope_here, slope_here + length, slope_next);
        std::swap_ranges(flux_below, flux_below + length, flux_above);
      }
    }
  }

  /// out = a·u0 + b·(w + dt·L(w)), L(w) = −(1/h) Σ_axes (F_{c+½} − F_{c−½}), with φ(w) in m_phi:
  /// on the host by row sweeps (sweep_on_host; 2–3× fewer limiter evaluations), on GPUs cell by
  /// cell, where the last axis's stencil wraps only for the two cells at each end of a row.
  void stage(const Grid& w, const Grid& u0, const Grid& out, double a, double b, double dt) {
    Kokkos::Profiling::ScopedRegion region("kmdflow::pde::update");
    const StageData data{w.data(), u0.data(), out.data(), m_phi.data(), double(m_n), a, b, dt * m_n};
    const int n = m_n;
    if constexpr (Kokkos::SpaceAccessibility<Kokkos::HostSpace, memory_space>::accessible) {
      if (m_sweeps) {
        const int chunk = m_sweep_chunk, chunks = m_sweep_chunks;
        // Work items: (row chunk, plane in 3D, block of the carried axis), blocks as long as
        // leaves ~8 items per thread (each block recomputes one row of slopes and fluxes); a
        // thread's items are consecutive, so in 3D it walks through neighbouring planes.
        const int others = chunks * (Dim == 3 ? n : 1);
        const int wanted = 8 * ExecutionSpace().concurrency();
        const int blocks = Dim == 1 ? 1 : std::min(n, std::max(1, (wanted + others - 1) / others));
        const int block = (n + blocks - 1) / blocks;
        Kokkos::parallel_for(
            "kmdflow::pde::sweeps", Kokkos::RangePolicy<ExecutionSpace>(m_space, 0, others * blocks), [=](int item) {
              const int k = item % chunks, plane = (item / chunks) % (Dim == 3 ? n : 1), b0 = item / others;
              const int first = k * chunk, last = std::min(n, first + chunk);
              sweep_on_host(data, n, first, last, plane, b0 * block, std::min(n, (b0 + 1) * block));
            });
        m_space.fence();
        return;
      }
    }
    const int chunk = m_chunk, chunks = m_chunks;
    Kokkos::parallel_for(
        "kmdflow::pde::stage", cell_policy(), KOKKOS_LAMBDA(const Team& team) {
          const RowChunk r = row_chunk(team.league_rank(), n, chunk, chunks);
          Stencil x, y;
          if constexpr (Dim > 1) x = {r.offset[0][0], r.offset[0][1], r.offset[0][3], r.offset[0][4]};
          if constexpr (Dim > 2) y = {r.offset[1][0], r.offset[1][1], r.offset[1][3], r.offset[1][4]};
          const int low = r.first > 2 ? r.first : 2, high = r.last < n - 2 ? r.last : n - 2;
          update_cells<true>(team, data, r.base, n, x, y, r.first, r.first < 2 ? (r.last < 2 ? r.last : 2) : r.first);
          update_cells<false>(team, data, r.base, n, x, y, low, high);
          update_cells<true>(team, data, r.base, n, x, y, r.last > n - 2 ? (r.first > n - 2 ? r.first : n - 2) : r.last,
                             r.last);
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
  int m_chunk = 1, m_chunks = 1, m_half_chunk = 1, m_half_chunks = 1, m_sweep_chunk = 1, m_sweep_chunks = 1;
  double m_lambda = 0;
  long m_stages = 0;
  bool m_sweeps = false;
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

namespace detail {

std::unique_ptr<PdeSolver> make_pde_solver(const Kernel& kernel, int n, const std::vector<double>& initial,
                                           const std::vector<double>& target, double cfl, bool sweeps) {
  if (n < 8 || n % 2 != 0) throw std::invalid_argument("the PDE grid must be even and at least 8");
  if (!(cfl > 0 && cfl <= 1)) throw std::invalid_argument("the CFL number must be in (0, 1]");
  switch (kernel.dim()) {
  case 1: return std::make_unique<GridPdeSolver<ExecutionSpace, 1>>(kernel, n, initial, target, cfl, sweeps);
  case 2: return std::make_unique<GridPdeSolver<ExecutionSpace, 2>>(kernel, n, initial, target, cfl, sweeps);
  case 3: return std::make_unique<GridPdeSolver<ExecutionSpace, 3>>(kernel, n, initial, target, cfl, sweeps);
  default: throw std::invalid_argument("the PDE solver needs d = 1, 2 or 3");
  }
}

} // namespace detail

std::unique_ptr<PdeSolver> make_pde_solver(const Kernel& kernel, int n, const std::vector<double>& initial,
                                           const std::vector<double>& target, double cfl) {
  return detail::make_pde_solver(kernel, n, initial, target, cfl, true);
}

std::unique_ptr<PdeSolver> make_pde_solver(int dim, int n, double s, const std::vector<double>& initial,
                                           const std::vector<double>& target, double cfl) {
  if (!(s > 0)) throw std::invalid_argument("s must be > 0");
  if (dim < 1 || dim > 3) throw std::invalid_argument("the PDE solver needs d = 1, 2 or 3");
  return make_pde_solver(SobolevKernel(dim, s), n, initial, target, cfl);
}

} // namespace kmdflow
