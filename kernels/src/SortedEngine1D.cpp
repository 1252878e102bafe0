#include <kmdflow/SortedEngine1D.hpp>

#include <Kokkos_Sort.hpp>

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>

namespace kmdflow {

namespace {

using detail::sorted_max_degree;
using detail::SortedPolynomial;
constexpr int max_terms = sorted_max_degree + 1;

using detail::PowerSums;

// The sum of the p-th entries of a and b, compensated like their own: exactly a.value(p) where b
// is zero.
KOKKOS_INLINE_FUNCTION double value_of_sum(const PowerSums& a, const PowerSums& b, int p) {
  const double t = a.hi[p] + b.hi[p];
  return t + (PowerSums::error_of_sum(a.hi[p], b.hi[p], t) + a.lo[p] + b.lo[p]);
}

// The Taylor coefficients Q^{(p)}(a)/p!, p = 0 … n, of the polynomial Q (repeated synthetic
// division), so that Q(a − b) = Σ_p c_p (−b)^p.
KOKKOS_INLINE_FUNCTION void taylor_shift(const SortedPolynomial& q, int n, double a, double* c) {
  for (int p = 0; p <= n; ++p) c[p] = q[p];
  for (int i = 0; i < n; ++i)
    for (int j = n - 1; j >= i; --j) c[j] += a * c[j + 1];
}

template <class ExecutionSpace>
struct PowerTotals {
  using value_type = PowerSums;
  Kokkos::View<const double*, typename ExecutionSpace::memory_space> b, q;
  int degree;
  KOKKOS_FUNCTION void init(value_type& v) const { v.zero(); }
  KOKKOS_FUNCTION void join(value_type& dst, const value_type& src) const { dst.merge(src, degree); }
  KOKKOS_FUNCTION void operator()(int i, value_type& v) const {
    double power = q(i);
    for (int p = 0; p <= degree; ++p, power *= b(i)) v.add(p, power);
  }
};

// v_i = −[Σ_{j<i} q_j P(a_i − b_j) + Σ_{j>i} q_j P(a_i − b_j + 1)] in sorted order, from the
// exclusive prefix sums that the scan hands to its final pass (after `below`, the sums over the
// points of the slabs below this one's on several processes).
template <class ExecutionSpace>
struct VelocityScan {
  using value_type = PowerSums;
  Kokkos::View<const double*, typename ExecutionSpace::memory_space> b, q;
  Kokkos::View<double*, typename ExecutionSpace::memory_space> out;
  SortedPolynomial before, after;
  PowerSums totals, below;
  int degree;

  KOKKOS_FUNCTION void init(value_type& v) const { v.zero(); }
  KOKKOS_FUNCTION void join(value_type& dst, const value_type& src) const { dst.merge(src, degree); }
  KOKKOS_FUNCTION void operator()(int i, value_type& prefix, bool final) const {
    const double a = b(i);
    if (final) {
      double c_before[max_terms], c_after[max_terms];
      taylor_shift(before, degree, a, c_before);
      taylor_shift(after, degree, a, c_after);
      double sum = 0, own = q(i), sign = 1;
      for (int p = 0; p <= degree; ++p, own *= a, sign = -sign) {
        const double earlier = value_of_sum(prefix, below, p);
        const double later = totals.value(p) - earlier - own;
        sum += sign * (c_before[p] * earlier + c_after[p] * later);
      }
      out(i) = -sum;
    }
    double power = q(i);
    for (int p = 0; p <= degree; ++p, power *= a) prefix.add(p, power);
  }
};

// q_i Σ_{j<i} q_j G(a_i − b_j), whose total is the pair energy (each unordered pair once); `below`
// as for the velocities.
template <class ExecutionSpace>
struct EnergyScan {
  using value_type = PowerSums;
  Kokkos::View<const double*, typename ExecutionSpace::memory_space> b, q;
  Kokkos::View<double*, typename ExecutionSpace::memory_space> out;
  SortedPolynomial value;
  PowerSums below;
  int degree;

  KOKKOS_FUNCTION void init(value_type& v) const { v.zero(); }
  KOKKOS_FUNCTION void join(value_type& dst, const value_type& src) const { dst.merge(src, degree); }
  KOKKOS_FUNCTION void operator()(int i, value_type& prefix, bool final) const {
    const double a = b(i);
    if (final) {
      double c[max_terms];
      taylor_shift(value, degree, a, c);
      double sum = 0, sign = 1;
      for (int p = 0; p <= degree; ++p, sign = -sign) sum += sign * c[p] * value_of_sum(prefix, below, p);
      out(i) = q(i) * sum;
    }
    double power = q(i);
    for (int p = 0; p <= degree; ++p, power *= a) prefix.add(p, power);
  }
};

struct CompensatedSum {
  double hi, lo;
};

template <class ExecutionSpace>
struct CompensatedTotal {
  using value_type = CompensatedSum;
  Kokkos::View<const double*, typename ExecutionSpace::memory_space> x;
  KOKKOS_FUNCTION void init(value_type& v) const { v.hi = v.lo = 0; }
  KOKKOS_FUNCTION static void add(value_type& v, double y) {
    const double t = v.hi + y;
    v.lo += Kokkos::fabs(v.hi) >= Kokkos::fabs(y) ? (v.hi - t) + y : (y - t) + v.hi;
    v.hi = t;
  }
  KOKKOS_FUNCTION void join(value_type& dst, const value_type& src) const {
    add(dst, src.hi);
    dst.lo += src.lo;
  }
  KOKKOS_FUNCTION void operator()(int i, value_type& v) const { add(v, x(i)); }
};

// points(first + j) = x(j, 0) and weights(first + j) = sign · w(j): the particles, or a samples
// target's atoms as negative weights after them.
template <class ExecutionSpace, class Points, class X, class W>
void load_points(const ExecutionSpace& space, const char* label, const Points& points, const Points& weights,
                 std::size_t first, const X& x, const W& w, double sign) {
  Kokkos::parallel_for(
      label, Kokkos::RangePolicy<ExecutionSpace>(space, 0, x.extent(0)), KOKKOS_LAMBDA(std::size_t j) {
        points(first + j) = x(j, 0);
        weights(first + j) = sign * w(j);
      });
}

// The points, all in [lo, hi) ⊂ [0, 1), in increasing order, centred (b = x − ½: every |b| ≤ ½
// keeps the powers small), their weights, and the permutation. A counting sort into ~one bin per
// two points, then sorting within the (short) bins: O(N) for the near-uniform particle sets of a
// flow towards a density, and parallel on every backend.
template <class ExecutionSpace, class Points, class Order>
void sort_centred(const ExecutionSpace& space, const Points& points, const Points& weights, const Points& sorted,
                  const Points& sorted_weights, Order& order, double lo = 0.0, double hi = 1.0) {
  using Keys = Points;
  using BinOp = Kokkos::BinOp1D<Keys>;
  const std::size_t total = points.extent(0);
  order = Order(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kmdflow::sorted::order"), total);
  if (total == 0) return;
  const int bins = int(std::max<std::size_t>(1, total / 2));
  Kokkos::BinSort<Keys, BinOp> sorter(space, points, BinOp(bins, lo, hi), true);
  sorter.create_permute_vector(space);
  const auto permutation = sorter.get_permute_vector();
  const auto my_order = order;
  Kokkos::parallel_for(
      "kmdflow::sorted::gather", Kokkos::RangePolicy<ExecutionSpace>(space, 0, total), KOKKOS_LAMBDA(std::size_t i) {
        const int j = permutation(i);
        my_order(i) = j;
        sorted(i) = points(j) - 0.5;
        sorted_weights(i) = weights(j);
      });
}

// Coincident points must contribute G'(0) = 0, but the sorted sums gave them P(0) (earlier in the
// order) or P(1) (later): result(i) gets back what its tie group added. Only s = 1 has
// P(0) ≠ P(1); ties are rare, so they are counted first.
template <class ExecutionSpace, class Points>
void correct_ties(const ExecutionSpace& space, const Points& sorted, const Points& q, const Points& result,
                  double jump_before, double jump_after) {
  const std::size_t total = sorted.extent(0);
  if ((jump_before == 0 && jump_after == 0) || total < 2) return;
  int ties = 0;
  Kokkos::parallel_reduce(
      "kmdflow::sorted::count_ties", Kokkos::RangePolicy<ExecutionSpace>(space, 1, total),
      KOKKOS_LAMBDA(std::size_t i, int& count) { count += sorted(i) == sorted(i - 1); }, ties);
  if (ties == 0) return;
  Points prefix("kmdflow::sorted::weight_prefix", total + 1);
  Kokkos::parallel_scan(
      "kmdflow::sorted::weight_prefix", Kokkos::RangePolicy<ExecutionSpace>(space, 0, total),
      KOKKOS_LAMBDA(std::size_t i, double& sum, bool final) {
        sum += q(i);
        if (final) prefix(i + 1) = sum;
      });
  const int n = int(total);
  Kokkos::parallel_for(
      "kmdflow::sorted::correct_ties", Kokkos::RangePolicy<ExecutionSpace>(space, 0, total), KOKKOS_LAMBDA(int i) {
        // The tie group [lo, hi) of point i, by binary search in the sorted positions.
        int lo = 0, hi = i;
        while (lo < hi) {
          const int mid = (lo + hi) / 2;
          if (sorted(mid) < sorted(i)) lo = mid + 1;
          else hi = mid;
        }
        const int first = lo;
        lo = i + 1, hi = n;
        while (lo < hi) {
          const int mid = (lo + hi) / 2;
          if (sorted(mid) <= sorted(i)) lo = mid + 1;
          else hi = mid;
        }
        const int last = lo;
        if (last - first > 1)
          result(i) += (prefix(i) - prefix(first)) * jump_before + (prefix(last) - prefix(i + 1)) * jump_after;
      });
}

// v(order(i)) = result(i) for the particles.
template <class ExecutionSpace, class Order, class Points, class V>
void scatter_velocities(const ExecutionSpace& space, const Order& order, const Points& result, std::size_t particles,
                        const V& v) {
  const int n = int(particles);
  Kokkos::parallel_for(
      "kmdflow::sorted::scatter", Kokkos::RangePolicy<ExecutionSpace>(space, 0, result.extent(0)), KOKKOS_LAMBDA(int i) {
        const int j = order(i);
        if (j < n) v(j, 0) = result(i);
      });
}

// The bounds [cuts[r], cuts[r + 1]) of the `shares` slabs of [0, 1): quantiles of an evenly
// strided sample of the points (1024 per slab: a slab's count is within a few per cent of N/P).
// Every process holds the same points, so every one cuts alike; equal points share a slab.
template <class ExecutionSpace, class Points>
std::vector<double> slab_cuts(const ExecutionSpace& space, const Points& points, int shares) {
  const std::size_t total = points.extent(0);
  const std::size_t samples = std::min<std::size_t>(total, std::size_t(1024) * std::size_t(shares));
  Kokkos::View<double*, typename ExecutionSpace::memory_space> sample(
      Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kmdflow::sorted::sample"), samples);
  Kokkos::parallel_for(
      "kmdflow::sorted::sample", Kokkos::RangePolicy<ExecutionSpace>(space, 0, samples),
      KOKKOS_LAMBDA(std::size_t i) { sample(i) = points(i * total / samples); });
  auto sorted = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), sample);
  std::sort(sorted.data(), sorted.data() + samples);
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> cuts(std::size_t(shares) + 1, inf);
  cuts[0] = -inf;
  for (int r = 1; r < shares && samples > 0; ++r) cuts[r] = sorted(std::size_t(r) * samples / std::size_t(shares));
  return cuts;
}

// The points (and weights, and index) in [lo, hi) among points [first, last), in index order,
// from slab position `at` on; returns how many.
template <class ExecutionSpace, class Points, class Index>
std::size_t select_slab(const ExecutionSpace& space, const Points& points, const Points& weights, double lo,
                        double hi, const Points& slab_points, const Points& slab_weights, const Index& source,
                        std::size_t first, std::size_t last, std::size_t at = 0) {
  std::size_t count = 0;
  Kokkos::parallel_scan(
      "kmdflow::sorted::select_slab", Kokkos::RangePolicy<ExecutionSpace>(space, first, last),
      KOKKOS_LAMBDA(std::size_t i, std::size_t& n, bool final) {
        const bool mine = lo <= points(i) && points(i) < hi;
        if (final && mine) {
          slab_points(at + n) = points(i);
          slab_weights(at + n) = weights(i);
          source(at + n) = int(i);
        }
        n += mine;
      },
      count);
  return count;
}

// order(i) = source(order(i)) for i < count: the sorted order as indices of the points, not of the
// slab's. (A free function: nvcc refuses extended lambdas in private member functions.)
template <class ExecutionSpace, class Order>
void compose_order(const ExecutionSpace& space, const Order& order, const Order& source, std::size_t count) {
  Kokkos::parallel_for(
      "kmdflow::sorted::slab_order", Kokkos::RangePolicy<ExecutionSpace>(space, 0, count),
      KOKKOS_LAMBDA(std::size_t i) { order(i) = source(order(i)); });
}

SortedPolynomial to_array(const std::vector<double>& c) {
  SortedPolynomial a{};
  for (std::size_t k = 0; k < c.size(); ++k) a[k] = c[k];
  return a;
}

} // namespace

template <class ExecutionSpace>
SortedEngine1D<ExecutionSpace>::SortedEngine1D(const ExecutionSpace& space,
                                               const SobolevKernel& kernel,
                                               std::size_t particle_count, const PointView<>& atoms,
                                               const ScalarView<>& atom_weights)
    : m_space(space), m_particles(particle_count), m_atoms(atoms.data() ? atoms.extent(0) : 0) {
  if (!applies(kernel))
    throw std::invalid_argument("the sorted engine needs d = 1 and s ∈ {1, 2, 3, 4}");
  if (m_atoms != (atom_weights.data() ? atom_weights.extent(0) : 0))
    throw std::invalid_argument("SortedEngine1D: one weight per atom is needed");

  const auto derivative = kernel.closed_form_derivative_polynomial();
  const auto value = kernel.closed_form_value_polynomial();
  m_derivative_degree = int(derivative.size()) - 1;
  m_value_degree = int(value.size()) - 1;
  m_before = to_array(derivative);
  m_value = to_array(value);
  // P(y + 1) = Σ_m c_m (y + 1)^m: the Taylor shift of P to the point 1.
  double shifted[max_terms];
  taylor_shift(m_before, m_derivative_degree, 1.0, shifted);
  for (int p = 0; p <= m_derivative_degree; ++p) m_after[p] = shifted[p];
  m_jump_before = m_before[0];
  m_jump_after = m_after[0];

  m_atom_points = atoms;
  m_atom_weights = atom_weights;
  // The arrays are made at the first evaluation (sort_points): a share by slab (set_slab) makes
  // them for its slab alone, never for all N.
}

template <class ExecutionSpace>
void SortedEngine1D<ExecutionSpace>::make_room(std::size_t particles) {
  m_particles = particles;
  const std::size_t total = m_particles + m_atoms;
  auto alloc = [&](const std::string& label) {
    return Kokkos::View<double*, memory_space>(Kokkos::view_alloc(m_space, Kokkos::WithoutInitializing, label), total);
  };
  m_points = alloc("kmdflow::sorted::points");
  m_weights = alloc("kmdflow::sorted::weights");
  m_sorted = alloc("kmdflow::sorted::sorted_points");
  m_sorted_weights = alloc("kmdflow::sorted::sorted_weights");
  m_result = alloc("kmdflow::sorted::result");
  if (m_atoms > 0)
    load_points(m_space, "kmdflow::sorted::load_atoms", m_points, m_weights, m_particles, m_atom_points,
                m_atom_weights, -1.0);
  if (m_slab_given || m_shares > 1) allocate_slab();
}

template <class ExecutionSpace>
bool SortedEngine1D<ExecutionSpace>::set_position_share(int share, int shares) {
  if (shares < 1 || share < 0 || share >= shares)
    throw std::invalid_argument("SortedEngine1D: share " + std::to_string(share) + " of " + std::to_string(shares));
  if (shares > 1 && !m_sum_across) return false;
  m_share = share;
  m_shares = shares;
  m_slab_given = false;
  if (shares > 1) allocate_slab();
  return true;
}

template <class ExecutionSpace>
bool SortedEngine1D<ExecutionSpace>::set_slab(int share, int shares, double lo, double hi) {
  if (shares < 1 || share < 0 || share >= shares || !(lo <= hi))
    throw std::invalid_argument("SortedEngine1D: slab " + std::to_string(share) + " of " + std::to_string(shares));
  if (!m_sum_across) return false;
  m_share = share;
  m_shares = shares;
  m_lo = lo;
  m_hi = hi;
  if (!m_slab_given) {
    // Room for the slab's particles only, made as they come (sort_points).
    m_slab_given = true;
    make_room(0);
  }
  return true;
}

template <class ExecutionSpace>
void SortedEngine1D<ExecutionSpace>::allocate_slab() {
  const std::size_t total = m_particles + m_atoms;
  m_slab_points = decltype(m_slab_points)("kmdflow::sorted::slab_points", total);
  m_slab_weights = decltype(m_slab_weights)("kmdflow::sorted::slab_weights", total);
  m_slab_source = decltype(m_slab_source)("kmdflow::sorted::slab_source", total);
}

template <class ExecutionSpace>
std::vector<std::size_t> SortedEngine1D<ExecutionSpace>::share_rows() const {
  std::vector<std::size_t> rows;
  // The slab's points in index order: its particles, then its atoms.
  const auto source = Kokkos::create_mirror_view_and_copy(
      Kokkos::HostSpace(), Kokkos::subview(m_slab_source, std::make_pair(std::size_t(0), m_slab_count)));
  for (std::size_t k = 0; k < m_slab_count && std::size_t(source(k)) < m_particles; ++k)
    rows.push_back(std::size_t(source(k)));
  return rows;
}

template <class ExecutionSpace>
std::size_t SortedEngine1D<ExecutionSpace>::sort_points(const ConstPointView<>& x, const ConstScalarView<>& w) {
  // A slab's particles: room for them, with an eighth to spare (the slabs' counts vary a little).
  if (!m_slab_given && m_points.extent(0) != m_particles + m_atoms) make_room(m_particles);
  if (m_slab_given && x.extent(0) > m_particles) make_room(x.extent(0) + x.extent(0) / 8);
  if ((!m_slab_given && x.extent(0) != m_particles) || w.extent(0) != x.extent(0))
    throw std::invalid_argument("SortedEngine1D: particle count differs from the engine's");
  Kokkos::Profiling::ScopedRegion region("kmdflow::sorted::sort");
  load_points(m_space, "kmdflow::sorted::load_particles", m_points, m_weights, 0, x, w, 1.0);
  const std::size_t total = m_particles + m_atoms;
  if (m_shares == 1 && !m_slab_given) {
    sort_centred(m_space, m_points, m_weights, m_sorted, m_sorted_weights, m_order);
    return total;
  }
  double lo = m_lo, hi = m_hi;
  if (m_slab_given) {
    // The slab's points: the particles brought (all in [lo, hi)), then the atoms in [lo, hi).
    const double inf = std::numeric_limits<double>::infinity();
    const std::size_t n = x.extent(0);
    m_slab_count = select_slab(m_space, m_points, m_weights, -inf, inf, m_slab_points, m_slab_weights,
                               m_slab_source, 0, n);
    m_slab_count += select_slab(m_space, m_points, m_weights, lo, hi, m_slab_points, m_slab_weights, m_slab_source,
                                m_particles, total, m_slab_count);
  } else {
    const auto cuts = slab_cuts(m_space, m_points, m_shares);
    lo = cuts[m_share], hi = cuts[m_share + 1];
    m_slab_count = select_slab(m_space, m_points, m_weights, lo, hi, m_slab_points, m_slab_weights, m_slab_source,
                               0, total);
  }
  const auto first = std::make_pair(std::size_t(0), m_slab_count);
  sort_centred(m_space, Kokkos::subview(m_slab_points, first), Kokkos::subview(m_slab_weights, first),
               Kokkos::subview(m_sorted, first), Kokkos::subview(m_sorted_weights, first), m_order,
               std::max(lo, 0.0), std::min(hi, 1.0));
  compose_order(m_space, m_order, m_slab_source, m_slab_count);
  return m_slab_count;
}

template <class ExecutionSpace>
void SortedEngine1D<ExecutionSpace>::scan_slabs(int degree, PowerSums& below, PowerSums& all,
                                                std::size_t count) const {
  PowerSums mine;
  Kokkos::parallel_reduce("kmdflow::sorted::power_totals", Kokkos::RangePolicy<ExecutionSpace>(m_space, 0, count),
                          PowerTotals<ExecutionSpace>{m_sorted, m_sorted_weights, degree}, mine);
  below.zero();
  if (m_shares == 1) {
    all = mine;
    return;
  }
  // An exclusive scan by a sum: each process fills its slot, the sum holds every slab's.
  const std::size_t terms = std::size_t(degree) + 1, slot = 2 * terms;
  std::vector<double> slots(std::size_t(m_shares) * slot, 0.0);
  for (std::size_t p = 0; p < terms; ++p) {
    slots[std::size_t(m_share) * slot + p] = mine.hi[p];
    slots[std::size_t(m_share) * slot + terms + p] = mine.lo[p];
  }
  m_sum_across(slots.data(), slots.size());
  all.zero();
  for (int r = 0; r < m_shares; ++r) {
    PowerSums part;
    part.zero();
    for (std::size_t p = 0; p < terms; ++p) {
      part.hi[p] = slots[std::size_t(r) * slot + p];
      part.lo[p] = slots[std::size_t(r) * slot + terms + p];
    }
    all.merge(part, degree);
    if (r < m_share) below.merge(part, degree);
  }
}

template <class ExecutionSpace>
void SortedEngine1D<ExecutionSpace>::velocities(const ConstPointView<>& x,
                                                const ConstScalarView<>& w, const PointView<>& v) {
  Kokkos::Profiling::ScopedRegion region("kmdflow::sorted::velocities");
  const std::size_t count = sort_points(x, w);
  const int degree = m_derivative_degree;
  PowerSums below, totals;
  scan_slabs(degree, below, totals, count);
  const auto first = std::make_pair(std::size_t(0), count);
  const auto sorted = Kokkos::subview(m_sorted, first), q = Kokkos::subview(m_sorted_weights, first);
  const auto result = Kokkos::subview(m_result, first);
  Kokkos::parallel_scan("kmdflow::sorted::velocity_scan", Kokkos::RangePolicy<ExecutionSpace>(m_space, 0, count),
                        VelocityScan<ExecutionSpace>{sorted, q, result, m_before, m_after, totals, below, degree});
  correct_ties(m_space, sorted, q, result, m_jump_before, m_jump_after);
  scatter_velocities(m_space, m_order, result, m_particles, v);
}

template <class ExecutionSpace>
double SortedEngine1D<ExecutionSpace>::pair_energy(const ConstPointView<>& x,
                                                   const ConstScalarView<>& w) {
  Kokkos::Profiling::ScopedRegion region("kmdflow::sorted::pair_energy");
  const std::size_t count = sort_points(x, w);
  PowerSums below, totals;
  scan_slabs(m_value_degree, below, totals, count);
  const auto first = std::make_pair(std::size_t(0), count);
  const auto result = Kokkos::subview(m_result, first);
  Kokkos::parallel_scan("kmdflow::sorted::energy_scan", Kokkos::RangePolicy<ExecutionSpace>(m_space, 0, count),
                        EnergyScan<ExecutionSpace>{Kokkos::subview(m_sorted, first),
                                                   Kokkos::subview(m_sorted_weights, first), result, m_value, below,
                                                   m_value_degree});
  CompensatedSum energy;
  Kokkos::parallel_reduce("kmdflow::sorted::energy_total", Kokkos::RangePolicy<ExecutionSpace>(m_space, 0, count),
                          CompensatedTotal<ExecutionSpace>{result}, energy);
  return energy.hi + energy.lo;
}

template class SortedEngine1D<kmdflow::ExecutionSpace>;

} // namespace kmdflow
