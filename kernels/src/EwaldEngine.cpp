#include <kmdflow/EwaldEngine.hpp>
#include <kmdflow/SpecialFunctions.hpp>
#include <kmdflow/detail/EwaldSplit.hpp>
#include <kmdflow/detail/PointCopy.hpp>
#include <kmdflow/detail/SingularPart.hpp>
#include <kmdflow/detail/TiledPairSum.hpp>

#include <cmath>
#include <type_traits>
#include <sstream>
#include <stdexcept>

namespace kmdflow {

namespace detail {

namespace {
template <class K> EwaldTables build_ewald_tables(const K& kernel) {
  EwaldTables t;
  t.dim = kernel.dim();
  t.alpha = 0.25 / (4 * EwaldTables::tail); // r²/4α = tail at r = ½
  const K k = kernel.with_split(t.alpha, EwaldTables::tail);
  t.singular = k.singular_part();
  t.finite_self_energy = k.has_finite_self_energy();
  auto value = [&](double u) { return k.short_range_regular_value(u); };
  auto gradient = [&](double u) { return k.short_range_regular_gradient_factor(u); };
  const bool radial = t.singular.decay > 0;
  if (radial) t.regular_value_radial = PiecewiseChebyshev<32, 12>::fit(value, 0, 0.25, true);
  else t.regular_value = ChebyshevSeries<64>::fit(value, 0, 0.25);
  t.regular_gradient = PiecewiseChebyshev<32, 12>::fit(gradient, 0, 0.25, radial);
  // Check the table where it is used, relative to the largest |S'/r + B| there (r ≥ 0.05).
  double error = 0, scale = 0;
  for (int i = 1; i <= 2000; ++i) {
    const double u = 0.25 * i / 2000.0, b = gradient(u);
    error = std::max(error, std::abs(t.regular_gradient(u) - b));
    if (u >= 0.0025) scale = std::max(scale, std::abs(t.singular.empty() ? b : t.singular.gradient_factor(std::sqrt(u)) + b));
  }
  // A damped singular part (κ > 0) leaves the table a regular part up to ~100× the total it
  // completes, and a tabulation error that much larger relative to that total.
  if (!(error <= (radial ? 1e-11 : 1e-13) * scale))
    throw std::logic_error("ewald_tables: the short-range table misses its accuracy (" + std::to_string(error / scale) + ")");
  t.constant = k.long_range_symbol(0.0);
  // Rows: runs of wavevectors that differ only in their last component, which then increases by 1.
  const auto wavevectors = half_space_wavevectors(t.dim, k.long_range_cutoff2(t.alpha, EwaldTables::tail));
  const int dim = t.dim, last = dim - 1;
  for (std::size_t m = 0; m < wavevectors.size(); ++m) {
    const auto& w = wavevectors[m];
    for (int d = 0; d < dim; ++d) t.k_max = std::max(t.k_max, std::abs(w[d]));
    bool continues = !t.rows.empty();
    if (continues) {
      const auto& r = t.rows.back();
      for (int d = 0; d < last; ++d) continues = continues && r[d] == w[d];
      continues = continues && w[last] == r[last] + t.row_length.back();
    }
    if (continues) {
      ++t.row_length.back();
    } else {
      std::array<int, 3> row{0, 0, 0};
      for (int d = 0; d < dim; ++d) row[d] = w[d];
      t.rows.push_back(row);
      t.row_length.push_back(1);
      t.row_offset.push_back(int(m));
    }
    const double symbol = 2 * k.long_range_symbol(double(w[0]) * w[0] + double(w[1]) * w[1] + double(w[2]) * w[2]);
    t.symbols.push_back(symbol);
    t.long_range_at_zero += symbol;
  }
  return t;
}
} // namespace

std::shared_ptr<const EwaldTables> ewald_tables(const Kernel& kernel) {
  return cached_tables<EwaldTables>(kernel_key(kernel), [&] {
    return kernel.visit([](const auto& k) {
      if constexpr (SplitKernel<std::decay_t<decltype(k)>>) return build_ewald_tables(k);
      else {
        EwaldTables t; // a real-space kernel: no split
        t.dim = k.dim();
        t.constant = -k.symbol_at_zero();
        return t;
      }
    });
  });
}

std::shared_ptr<const EwaldTables> ewald_tables(int dim, double s) { return ewald_tables(SobolevKernel(dim, s)); }

} // namespace detail

namespace {

constexpr int max_modes_per_axis = 48; // K ≤ 48: room for every s used in practice (K ≈ 20–25)

// ρ̂(k) = Σ_j q_j e^{−2πik·z_j} over the half space, by rows: per point the powers e^{−2πimz_d}
// (m = −K…K) by recurrence, then one complex product per wavevector. A reduction into a
// per-thread array of the 2M real numbers: the natural form on CPUs.
template <class ExecutionSpace, int Dim>
struct StructureFactors {
  using value_type = double[];
  using size_type = std::size_t;
  using memory_space = typename ExecutionSpace::memory_space;
  size_type value_count;
  PointView<memory_space> points;
  Kokkos::View<double*, memory_space> weights;
  Kokkos::View<int* [5], memory_space> rows;
  int k_max;
  detail::EwaldShare share{}; // the points summed: all, or a process's share

  KOKKOS_FUNCTION void init(value_type v) const {
    for (size_type m = 0; m < value_count; ++m) v[m] = 0;
  }
  KOKKOS_FUNCTION void join(value_type dst, const value_type src) const {
    for (size_type m = 0; m < value_count; ++m) dst[m] += src[m];
  }
  KOKKOS_FUNCTION void operator()(int k, value_type acc) const {
    const int j = share(k);
    double re[Dim][2 * max_modes_per_axis + 1], im[Dim][2 * max_modes_per_axis + 1];
    powers(j, -1.0, re, im);
    const double q = weights(j);
    const int n_rows = int(rows.extent(0));
    for (int r = 0; r < n_rows; ++r) {
      double ore = q, oim = 0; // q Π_{outer d} e^{−2πi k_d z_d}
      for (int d = 0; d < Dim - 1; ++d) {
        const double a = re[d][k_max + rows(r, d)], b = im[d][k_max + rows(r, d)];
        const double t = ore * a - oim * b;
        oim = ore * b + oim * a;
        ore = t;
      }
      const int first = k_max + rows(r, 2), length = rows(r, 3), offset = 2 * rows(r, 4);
      const double* lre = re[Dim - 1];
      const double* lim = im[Dim - 1];
      for (int t = 0; t < length; ++t) {
        acc[offset + 2 * t] += ore * lre[first + t] - oim * lim[first + t];
        acc[offset + 2 * t + 1] += ore * lim[first + t] + oim * lre[first + t];
      }
    }
  }
  // e^{sign 2πi m z_d} for m = −K…K, each axis.
  KOKKOS_INLINE_FUNCTION void powers(int j, double sign, double (*re)[2 * max_modes_per_axis + 1],
                                     double (*im)[2 * max_modes_per_axis + 1]) const {
    for (int d = 0; d < Dim; ++d) {
      const double angle = sign * 2 * Kokkos::numbers::pi * points(j, d);
      const double c = Kokkos::cos(angle), s = Kokkos::sin(angle);
      re[d][k_max] = 1, im[d][k_max] = 0;
      for (int m = 1; m <= k_max; ++m) {
        const double pr = re[d][k_max + m - 1], pi = im[d][k_max + m - 1];
        re[d][k_max + m] = pr * c - pi * s;
        im[d][k_max + m] = pr * s + pi * c;
        re[d][k_max - m] = re[d][k_max + m];
        im[d][k_max - m] = -im[d][k_max + m];
      }
    }
  }
};

} // namespace

namespace detail {
// The short-range pair gradient x_ij (S'(r)/r + B(r²)) over the minimum image, for r < ½; NaN
// (`coincident`) for distinct points at the same place when it is unbounded there. Evaluated in
// Real (double or float) from the minimum images, which are formed in double.
template <int Dim, class Singular, class Regular, class Real = double> struct ShortRangeGradient {
  Singular singular;
  Regular regular;
  double coincident;
  KOKKOS_FUNCTION Kokkos::Array<Real, Dim> operator()(const Kokkos::Array<double, Dim>& dx, int i, int p) const {
    using Factor = std::conditional_t<evaluated_in_double<Singular>, double, Real>;
    Kokkos::Array<Real, Dim> y;
    Real u = 0;
    Factor u_factor = 0;
    KMDFLOW_UNROLL
    for (int d = 0; d < Dim; ++d) {
      const double yd = minimum_image(dx[d]);
      y[d] = Real(yd);
      u += y[d] * y[d];
      if constexpr (evaluated_in_double<Singular>) u_factor += yd * yd;
    }
    if constexpr (!evaluated_in_double<Singular>) u_factor = u;
    const bool inside = u_factor > 0 && u_factor < Factor(0.25);
    const Factor uu = inside ? u_factor : Factor(0.125); // keep the discarded lanes finite
    const Real factor = inside ? Real(singular(uu) + detail::evaluate(regular, uu)) : Real(0);
    const Real flag = (u == 0 && i != p) ? Real(coincident) : Real(1);
    Kokkos::Array<Real, Dim> g;
    KMDFLOW_UNROLL
    for (int d = 0; d < Dim; ++d) g[d] = flag * y[d] * factor;
    return g;
  }
};
// h(r) of a pair at its minimum image (r < ½), the diagonal left out: h − S at r = 0 (h0).
template <int Dim, class Regular> struct ShortRangeValue {
  SingularValue singular;
  Regular regular;
  double h0;
  KOKKOS_FUNCTION Kokkos::Array<double, 1> operator()(const Kokkos::Array<double, Dim>& dx, int i, int p) const {
    double u = 0;
    for (int d = 0; d < Dim; ++d) {
      const double y = minimum_image(dx[d]);
      u += y * y;
    }
    Kokkos::Array<double, 1> value{0.0};
    if (i != p && u < 0.25) value[0] = u > 0 ? singular(u) + regular(u) : h0;
    return value;
  }
};
// A real-space kernel's gradient and value, periodic images included.
template <int Dim, class Pair, class Real = double> struct RealSpaceGradient {
  Pair pair;
  KOKKOS_FUNCTION Kokkos::Array<Real, Dim> operator()(const Kokkos::Array<double, Dim>& dx, int, int) const {
    return pair.template gradient<Dim, Real>(dx);
  }
};
template <int Dim, class Pair> struct RealSpaceValue {
  Pair pair;
  KOKKOS_FUNCTION Kokkos::Array<double, 1> operator()(const Kokkos::Array<double, Dim>& dx, int i, int p) const {
    Kokkos::Array<double, 1> value;
    value[0] = i == p ? 0.0 : pair.template value<Dim, double>(dx);
    return value;
  }
};
} // namespace detail

template <class ExecutionSpace, int Dim>
EwaldEngine<ExecutionSpace, Dim>::EwaldEngine(const ExecutionSpace& space, const Kernel& kernel,
                                              std::size_t particle_count, const PointView<>& atoms,
                                              const ScalarView<>& atom_weights, Precision precision)
    : m_space(space), m_tables(detail::ewald_tables(kernel)),
      m_singular_gradient(kernel.has_singular_gradient()), m_particles(particle_count),
      m_atoms(atoms.data() ? atoms.extent(0) : 0), m_end(particle_count) {
  if (kernel.dim() != Dim) throw std::invalid_argument("EwaldEngine: the kernel's dimension differs");
  if (m_tables->k_max > max_modes_per_axis)
    throw std::invalid_argument("EwaldEngine: the kernel needs more than 48 Fourier modes per axis");
  if (m_atoms != (atom_weights.data() ? atom_weights.extent(0) : 0))
    throw std::invalid_argument("EwaldEngine: one weight per atom is needed");
  const std::size_t total = m_particles + m_atoms;
  m_points = PointView<memory_space>(
      Kokkos::view_alloc(space, Kokkos::WithoutInitializing, std::string("kmdflow::ewald::points")), total, Dim);
  m_weights = Kokkos::View<double*, memory_space>(
      Kokkos::view_alloc(space, Kokkos::WithoutInitializing, std::string("kmdflow::ewald::weights")), total);
  m_negated = Kokkos::View<double*, memory_space>(
      Kokkos::view_alloc(space, Kokkos::WithoutInitializing, std::string("kmdflow::ewald::negated_weights")), total);

  const auto& t = *m_tables;
  const std::size_t n_rows = t.rows.size();
  m_rows = decltype(m_rows)("kmdflow::ewald::rows", n_rows);
  auto rows = Kokkos::create_mirror_view(m_rows);
  for (std::size_t r = 0; r < n_rows; ++r) {
    // Outer components in slots 0, 1; the first value of the last component in slot 2.
    for (int d = 0; d < Dim - 1; ++d) rows(r, d) = t.rows[r][d];
    rows(r, 2) = t.rows[r][Dim - 1];
    rows(r, 3) = t.row_length[r];
    rows(r, 4) = t.row_offset[r];
  }
  Kokkos::deep_copy(m_rows, rows);
  // The wavevector of each structure factor, for the mode-parallel form (GPUs).
  m_modes = decltype(m_modes)("kmdflow::ewald::modes", t.symbols.size(), Dim);
  auto modes = Kokkos::create_mirror_view(m_modes);
  for (std::size_t r = 0; r < n_rows; ++r)
    for (int l = 0; l < t.row_length[r]; ++l) {
      const std::size_t m = std::size_t(t.row_offset[r] + l);
      for (int d = 0; d < Dim - 1; ++d) modes(m, d) = t.rows[r][d];
      modes(m, Dim - 1) = t.rows[r][Dim - 1] + l;
    }
  Kokkos::deep_copy(m_modes, modes);
  m_symbols = Kokkos::View<double*, memory_space>("kmdflow::ewald::symbols", t.symbols.size());
  auto symbols = Kokkos::create_mirror_view(m_symbols);
  for (std::size_t m = 0; m < t.symbols.size(); ++m) symbols(m) = t.symbols[m];
  Kokkos::deep_copy(m_symbols, symbols);
  m_structure = Kokkos::View<double*, memory_space>("kmdflow::ewald::structure_factors", 2 * t.symbols.size());

  // The short range, bound to the kernel's functors (the split's singular part and tables, or the
  // real-space kernel's pair functor) and to the precision asked for.
  const ExecutionSpace s = space;
  const auto points = m_points;
  const auto weights = m_weights;
  auto bind = [&](auto gradient, auto gradient_float, auto value) {
    if (precision == Precision::fp32)
      m_short_range_velocities = [s, points, gradient_float](const ConstPointView<>& x, const auto& q,
                                                             const PointView<>& v, int first) {
        detail::tiled_pair_sum<Dim, Dim, float>(s, "kmdflow::ewald::short_range", x, points, q, v, gradient_float,
                                                first);
      };
    else
      m_short_range_velocities = [s, points, gradient](const ConstPointView<>& x, const auto& q,
                                                       const PointView<>& v, int first) {
        detail::tiled_pair_sum<Dim, Dim, double>(s, "kmdflow::ewald::short_range", x, points, q, v, gradient, first);
      };
    m_short_range_rows = [s, points, weights, value](const PointView<memory_space>& p, const auto& rows, int first) {
      detail::tiled_pair_sum<Dim, 1>(s, "kmdflow::ewald::short_range_energy", p, points, weights, rows, value, first);
    };
  };
  kernel.visit([&](const auto& k) {
    using K = std::decay_t<decltype(k)>;
    if constexpr (SplitKernel<K>) {
      // Distinct points at the same place poison their velocities with NaN when ∇G is unbounded
      // there; the check in velocities() then names them.
      const double coincident = m_singular_gradient ? Kokkos::Experimental::quiet_NaN_v<double> : 0.0;
      const bool radial = t.singular.decay > 0;
      const double h0 = !t.finite_self_energy ? Kokkos::Experimental::infinity_v<double>
                        : radial              ? t.regular_value_radial(0.0)
                                              : t.regular_value(0.0);
      detail::with_singular_gradient(t.singular, [&](auto singular) {
        using Singular = decltype(singular);
        using Regular = decltype(t.regular_gradient);
        auto value = [&](const auto& regular_value) {
          return detail::ShortRangeValue<Dim, std::decay_t<decltype(regular_value)>>{detail::SingularValue{t.singular},
                                                                                      regular_value, h0};
        };
        auto gradient_double = detail::ShortRangeGradient<Dim, Singular, Regular, double>{singular, t.regular_gradient, coincident};
        auto gradient_float = detail::ShortRangeGradient<Dim, Singular, Regular, float>{singular, t.regular_gradient, coincident};
        if (radial) bind(gradient_double, gradient_float, value(t.regular_value_radial));
        else bind(gradient_double, gradient_float, value(t.regular_value));
      });
    } else {
      using Pair = typename K::PairFunctor;
      bind(detail::RealSpaceGradient<Dim, Pair, double>{k.pair_functor()},
           detail::RealSpaceGradient<Dim, Pair, float>{k.pair_functor()}, detail::RealSpaceValue<Dim, Pair>{k.pair_functor()});
    }
  });

  if (m_atoms > 0)
    detail::copy_points(m_space, "kmdflow::ewald::load_atoms", m_points, m_weights, m_particles, atoms,
                        atom_weights, -1.0);
}

template <class ExecutionSpace, int Dim>
void EwaldEngine<ExecutionSpace, Dim>::load_points(const ConstPointView<>& x, const ConstScalarView<>& w) {
  if (x.extent(0) != m_particles || w.extent(0) != m_particles || int(x.extent(1)) != Dim)
    throw std::invalid_argument("EwaldEngine: particle count or dimension differs from the engine's");
  detail::copy_points(m_space, "kmdflow::ewald::load_particles", m_points, m_weights, 0, x, w, 1.0);
}

template <class ExecutionSpace, int Dim>
void EwaldEngine<ExecutionSpace, Dim>::structure_factors() {
  Kokkos::Profiling::ScopedRegion region("kmdflow::ewald::structure_factors");
  constexpr bool on_host = Kokkos::SpaceAccessibility<Kokkos::HostSpace, memory_space>::accessible;
  if constexpr (!on_host) {
    structure_factors_by_mode();
  } else {
    StructureFactors<ExecutionSpace, Dim> functor{m_structure.extent(0), m_points, m_weights, m_rows,
                                                  m_tables->k_max, share()};
    Kokkos::parallel_reduce("kmdflow::ewald::structure_factors",
                            Kokkos::RangePolicy<ExecutionSpace>(m_space, 0, shared_points()), functor, m_structure);
  }
  if (shared()) {
    // Each process summed its share: the sum of the shares is ρ̂ of all points.
    Kokkos::Profiling::ScopedRegion sum_region("kmdflow::ewald::sum_across");
    const auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), m_structure);
    m_sum_across(host.data(), host.extent(0));
    Kokkos::deep_copy(m_structure, host);
  }
}

template <class ExecutionSpace, int Dim>
bool EwaldEngine<ExecutionSpace, Dim>::shared() const {
  return m_sum_across && (m_begin != 0 || m_end != m_particles);
}

template <class ExecutionSpace, int Dim>
detail::EwaldShare EwaldEngine<ExecutionSpace, Dim>::share() const {
  if (!shared()) return {};
  return {int(m_begin), int(m_end - m_begin), int(m_particles)};
}

template <class ExecutionSpace, int Dim>
std::size_t EwaldEngine<ExecutionSpace, Dim>::shared_points() const {
  if (!shared()) return m_points.extent(0);
  return (m_end - m_begin) + (m_begin == 0 ? m_atoms : 0);
}

// The GPU form of structure_factors(): one team per wavevector, its threads summing over the points
// (one sincos per pair, the phase reduced mod 1 first). The per-point form's reduction into an
// array of 2M numbers per thread does not fit a GPU's threads.
template <class ExecutionSpace, int Dim>
void EwaldEngine<ExecutionSpace, Dim>::structure_factors_by_mode() {
  using Policy = Kokkos::TeamPolicy<ExecutionSpace>;
  const auto modes = m_modes;
  const auto points = m_points;
  const auto weights = m_weights;
  const auto structure = m_structure;
  const int n = int(shared_points());
  const detail::EwaldShare share = this->share();
  Kokkos::parallel_for(
      "kmdflow::ewald::structure_factors_by_mode", Policy(m_space, int(modes.extent(0)), Kokkos::AUTO),
      KOKKOS_LAMBDA(const typename Policy::member_type& team) {
        const int m = team.league_rank();
        double re = 0, im = 0;
        Kokkos::parallel_reduce(
            Kokkos::TeamThreadRange(team, n),
            [&](int k, double& a, double& b) {
              const int j = share(k);
              double phase = 0;
              for (int d = 0; d < Dim; ++d) phase += modes(m, d) * points(j, d);
              const double angle = -2 * Kokkos::numbers::pi * (phase - Kokkos::round(phase));
              a += weights(j) * Kokkos::cos(angle);
              b += weights(j) * Kokkos::sin(angle);
            },
            re, im);
        Kokkos::single(Kokkos::PerTeam(team), [&] {
          structure(2 * m) = re;
          structure(2 * m + 1) = im;
        });
      });
}


template <class ExecutionSpace, int Dim>
bool EwaldEngine<ExecutionSpace, Dim>::set_target_rows(std::size_t begin, std::size_t end) {
  if (begin > end || end > m_particles) throw std::invalid_argument("EwaldEngine: target rows outside [0, N)");
  m_begin = begin, m_end = end;
  return true;
}

template <class ExecutionSpace, int Dim>
void EwaldEngine<ExecutionSpace, Dim>::velocities(const ConstPointView<>& x, const ConstScalarView<>& w,
                                                  const PointView<>& v) {
  Kokkos::Profiling::ScopedRegion region("kmdflow::ewald::velocities");
  load_points(x, w);
  const auto& t = *m_tables;
  const std::size_t begin = m_begin, end = m_end; // the targets: all, or this process's share
  const auto block = std::make_pair(begin, end);

  // Short range: v_i = −Σ_j q_j ∇h(x_ij) over minimum images with r < ½ (or the real-space
  // kernel over its images).
  {
    Kokkos::Profiling::ScopedRegion short_region("kmdflow::ewald::short_range");
    const auto weights = m_weights, negated = m_negated;
    Kokkos::parallel_for(
        "kmdflow::ewald::negate", Kokkos::RangePolicy<ExecutionSpace>(m_space, 0, weights.extent(0)),
        KOKKOS_LAMBDA(std::size_t j) { negated(j) = -weights(j); });
    m_short_range_velocities(Kokkos::subview(x, block, Kokkos::ALL), negated, Kokkos::subview(v, block, Kokkos::ALL),
                             int(begin));
  }
  // Long range: v_i += Σ_{k∈H} 2L̂(k) 2πk Im(e^{2πik·x_i} ρ̂(k)).
  if (!t.symbols.empty()) {
    structure_factors();
    Kokkos::Profiling::ScopedRegion long_region("kmdflow::ewald::long_range");
    const auto rows = m_rows;
    const auto symbols = m_symbols;
    const auto structure = m_structure;
    const int k_max = t.k_max;
    StructureFactors<ExecutionSpace, Dim> powers{0, m_points, m_weights, m_rows, k_max};
    const int n_rows = int(rows.extent(0));
    Kokkos::parallel_for(
        "kmdflow::ewald::long_range", Kokkos::RangePolicy<ExecutionSpace>(m_space, begin, end),
        KOKKOS_LAMBDA(int i) {
          double re[Dim][2 * max_modes_per_axis + 1], im[Dim][2 * max_modes_per_axis + 1];
          powers.powers(i, 1.0, re, im);
          double g[Dim] = {};
          for (int r = 0; r < n_rows; ++r) {
            double ore = 1, oim = 0;
            for (int d = 0; d < Dim - 1; ++d) {
              const double a = re[d][k_max + rows(r, d)], b = im[d][k_max + rows(r, d)];
              const double tt = ore * a - oim * b;
              oim = ore * b + oim * a;
              ore = tt;
            }
            const int first = rows(r, 2), length = rows(r, 3), offset = rows(r, 4);
            double sum = 0, weighted = 0; // Σ c and Σ c k_last over the row
            for (int tt = 0; tt < length; ++tt) {
              const double er = ore * re[Dim - 1][k_max + first + tt] - oim * im[Dim - 1][k_max + first + tt];
              const double ei = ore * im[Dim - 1][k_max + first + tt] + oim * re[Dim - 1][k_max + first + tt];
              const double sr = structure(2 * (offset + tt)), si = structure(2 * (offset + tt) + 1);
              const double c = symbols(offset + tt) * (er * si + ei * sr); // 2L̂ Im(e ρ̂)
              sum += c;
              weighted += c * (first + tt);
            }
            for (int d = 0; d < Dim - 1; ++d) g[d] += rows(r, d) * sum;
            g[Dim - 1] += weighted;
          }
          for (int d = 0; d < Dim; ++d) v(i, d) += 2 * Kokkos::numbers::pi * g[d];
        });
  }

  // Coincident particles: ∇G_s is unbounded at 0 when 2s < d + 1, so say which ones meet.
  if (m_singular_gradient) {
    const auto points = m_points;
    const std::size_t n = m_particles;
    // Only worth the O(N²) check when something is wrong: a velocity that is not finite.
    int bad = 0;
    Kokkos::parallel_reduce(
        "kmdflow::ewald::check_finite", Kokkos::RangePolicy<ExecutionSpace>(m_space, begin, end),
        KOKKOS_LAMBDA(std::size_t i, int& count) {
          for (int d = 0; d < Dim; ++d) count += !Kokkos::isfinite(v(i, d));
        },
        bad);
    if (bad) {
      auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), points);
      for (std::size_t i = begin; i < end; ++i)
        for (std::size_t j = 0; j < h.extent(0); ++j) {
          bool same = i != j;
          for (int d = 0; same && d < Dim; ++d) same = h(i, d) == h(j, d);
          if (same) {
            std::ostringstream os;
            os << (j < n ? "particles " : "particle ") << i << (j < n ? " and " : " and target sample ")
               << (j < n ? j : j - n) << " coincide: the velocity is unbounded there for s < (d+1)/2";
            throw std::runtime_error(os.str());
          }
        }
    }
  }
}

template <class ExecutionSpace, int Dim>
double EwaldEngine<ExecutionSpace, Dim>::pair_energy(const ConstPointView<>& x, const ConstScalarView<>& w) {
  Kokkos::Profiling::ScopedRegion region("kmdflow::ewald::pair_energy");
  load_points(x, w);
  const auto& t = *m_tables;
  const std::size_t total = m_points.extent(0);

  // Short range: ½ Σ_{p≠q} q_p q_q h(r_pq) over minimum images with r < ½: the rows of this
  // process's particles, and the atoms' rows with the first share.
  const std::size_t begin = m_begin, end = m_end;
  const bool first_share = begin == 0;
  Kokkos::View<double**, Kokkos::LayoutRight, memory_space> rows("kmdflow::ewald::energy_rows", total, 1);
  m_short_range_rows(Kokkos::subview(m_points, std::make_pair(begin, end), Kokkos::ALL),
                     Kokkos::subview(rows, std::make_pair(begin, end), Kokkos::ALL), int(begin));
  if (first_share && m_atoms > 0)
    m_short_range_rows(Kokkos::subview(m_points, std::make_pair(m_particles, total), Kokkos::ALL),
                       Kokkos::subview(rows, std::make_pair(m_particles, total), Kokkos::ALL), int(m_particles));
  const auto weights = m_weights;
  const std::size_t particles = m_particles;
  double short_range = 0;
  Kokkos::parallel_reduce(
      "kmdflow::ewald::short_range_energy_sum", Kokkos::RangePolicy<ExecutionSpace>(m_space, 0, total),
      KOKKOS_LAMBDA(std::size_t p, double& e) {
        if ((p >= begin && p < end) || (first_share && p >= particles)) e += 0.5 * weights(p) * rows(p, 0);
      },
      short_range);
  // Every share takes part in the sum of ρ̂ across the processes; the rest is the first share's.
  if (!t.symbols.empty() && (first_share || shared())) structure_factors();
  if (!first_share) return short_range;
  const auto [sum_q, sum_q2] = detail::weight_sums(m_space, "kmdflow::ewald::weight_sums", weights);

  // Long range: ½ Σ_{k≠0} L̂ |ρ̂|² = Σ_H ½·2L̂ |ρ̂|².
  double long_range = 0;
  if (!t.symbols.empty()) {
    const auto symbols = m_symbols;
    const auto structure = m_structure;
    Kokkos::parallel_reduce(
        "kmdflow::ewald::long_range_energy", Kokkos::RangePolicy<ExecutionSpace>(m_space, 0, symbols.extent(0)),
        KOKKOS_LAMBDA(std::size_t m, double& e) {
          const double re = structure(2 * m), im = structure(2 * m + 1);
          e += 0.5 * symbols(m) * (re * re + im * im);
        },
        long_range);
  }
  return detail::split_pair_energy(short_range, long_range, t.long_range_at_zero, t.constant, sum_q, sum_q2);
}

template class EwaldEngine<kmdflow::ExecutionSpace, 1>;
template class EwaldEngine<kmdflow::ExecutionSpace, 2>;
template class EwaldEngine<kmdflow::ExecutionSpace, 3>;

} // namespace kmdflow
