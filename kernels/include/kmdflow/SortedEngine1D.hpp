#pragma once
// The sorted engine on T^1 (DESIGN.md §4): exact O(N log N) sums for integer s ≤ 4. G_s' is a
// polynomial of degree 2s−1 in {x_i − x_j}; once the points are sorted, prefix sums of the powers
// of the (re-centred) positions give every velocity, and the energy likewise.

#include <kmdflow/InteractionEngine.hpp>
#include <kmdflow/SobolevKernel.hpp>

namespace kmdflow {

namespace detail {
inline constexpr int sorted_max_degree = 8; // G_4 is a polynomial of degree 8
using SortedPolynomial = Kokkos::Array<double, sorted_max_degree + 1>;

/// Σ_j q_j b_j^p for p = 0 … degree, each with a Neumaier compensation term: the velocities are
/// differences of such sums, so their rounding error must stay at a few ulps of the sums.
struct PowerSums {
  double hi[sorted_max_degree + 1];
  double lo[sorted_max_degree + 1];

  KOKKOS_INLINE_FUNCTION void zero() {
    for (int p = 0; p <= sorted_max_degree; ++p) hi[p] = lo[p] = 0;
  }
  /// The rounding error of t = a + b (Neumaier).
  KOKKOS_INLINE_FUNCTION static double error_of_sum(double a, double b, double t) {
    return Kokkos::fabs(a) >= Kokkos::fabs(b) ? (a - t) + b : (b - t) + a;
  }
  KOKKOS_INLINE_FUNCTION void add(int p, double x) {
    const double t = hi[p] + x;
    lo[p] += error_of_sum(hi[p], x, t);
    hi[p] = t;
  }
  KOKKOS_INLINE_FUNCTION void merge(const PowerSums& other, int degree) {
    for (int p = 0; p <= degree; ++p) {
      add(p, other.hi[p]);
      lo[p] += other.lo[p];
    }
  }
  KOKKOS_INLINE_FUNCTION double value(int p) const { return hi[p] + lo[p]; }
};
} // namespace detail

template <class ExecutionSpace = kmdflow::ExecutionSpace>
class SortedEngine1D final : public InteractionEngine {
  static_assert(Kokkos::is_execution_space_v<ExecutionSpace>,
                "SortedEngine1D: the template argument must be a Kokkos execution space");

public:
  using memory_space = typename ExecutionSpace::memory_space;

  /// d = 1 and s ∈ {1, 2, 3, 4}.
  static bool applies(const SobolevKernel& kernel) {
    return kernel.has_closed_form() && kernel.s() <= 4;
  }

  SortedEngine1D(const ExecutionSpace& space, const SobolevKernel& kernel,
                 std::size_t particle_count, const PointView<>& atoms = {},
                 const ScalarView<>& atom_weights = {});

  std::string name() const override { return "sorted"; }
  void velocities(const ConstPointView<>& x, const ConstScalarView<>& w,
                  const PointView<>& v) override;
  double pair_energy(const ConstPointView<>& x, const ConstScalarView<>& w) override;

  /// On several processes (InteractionEngine::set_position_share): each sorts the points of its
  /// slab only, and an exclusive scan of the slabs' power sums across the processes (through
  /// set_sum_across) gives each the sums over the points below its slab: the same exact sums.
  bool set_position_share(int share, int shares) override;
  void set_sum_across(SumAcross sum) override { m_sum_across = std::move(sum); }
  std::vector<std::size_t> share_rows() const override;
  /// The sample sort's share: the caller brings the slab's particles, for which the engine makes
  /// room as they come (its memory then follows its slab, not N); the same scan.
  bool set_slab(int share, int shares, double lo, double hi) override;

private:
  /// Room for `particles` particles and the atoms (loaded after them), and for a slab of as many.
  void make_room(std::size_t particles);
  void allocate_slab();
  /// Loads and sorts the points (of this share's slab); returns how many.
  std::size_t sort_points(const ConstPointView<>& x, const ConstScalarView<>& w);
  /// The sums over the points of the slabs below this one (zero alone) and over all points, of
  /// q b^p for p ≤ degree, from this slab's sorted points.
  void scan_slabs(int degree, detail::PowerSums& below, detail::PowerSums& all, std::size_t count) const;


  ExecutionSpace m_space;
  std::size_t m_particles = 0, m_atoms = 0; // with set_slab: room for that many particles
  PointView<> m_atom_points;
  ScalarView<> m_atom_weights;
  int m_derivative_degree = 0, m_value_degree = 0;
  detail::SortedPolynomial m_before{}; // P(y) = G'(y) for y = {x_i − x_j} = x_i − x_j ∈ [0, 1)
  detail::SortedPolynomial m_after{};  // P(y + 1), for x_i − x_j ∈ (−1, 0)
  detail::SortedPolynomial m_value{};  // G(y)
  double m_jump_before = 0, m_jump_after = 0; // P(0), P(1): what coincident points must not add

  Kokkos::View<double*, memory_space> m_points, m_weights;    // particles, then atoms (−u_m)
  Kokkos::View<double*, memory_space> m_sorted, m_sorted_weights; // sorted, centred at ½
  Kokkos::View<int*, memory_space> m_order;                   // sorted index → point index
  Kokkos::View<double*, memory_space> m_result;               // per sorted point

  int m_share = 0, m_shares = 1; // set_position_share, set_slab
  bool m_slab_given = false;      // set_slab: the particles are the slab's, in [m_lo, m_hi)
  double m_lo = 0, m_hi = 1;
  SumAcross m_sum_across;
  Kokkos::View<double*, memory_space> m_slab_points, m_slab_weights; // this slab's, in index order
  Kokkos::View<int*, memory_space> m_slab_source;                     // slab point → point index
  std::size_t m_slab_count = 0;
};

} // namespace kmdflow
