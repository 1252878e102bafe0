#pragma once
// The direct engine on T^d for any kernel (DESIGN.md §3, §4): exact O(N²) sums. A split kernel
// (KernelConcept.hpp) is evaluated through its Ewald split G = Σ_n h(x + n) + Σ_k L̂(k) e^{2πik·x}
// at a split parameter small enough that h is negligible (< e^{−32}) beyond r = ½. Then:
//   * short range: every pair at its minimum image, ∇h = x (S'(r)/r + B(r²)) with the singular
//     part S analytic and the smooth B a piecewise Chebyshev series in r² (32 pieces of ≤ 12
//     terms: a short recurrence per pair) tabulated once per kernel;
//   * long range: the structure factors ρ̂(k) = Σ_j q_j e^{−2πik·x_j} over the half space
//     |k| ≤ K (the symbols are radial: the lattice's cubic symmetry reduces them to |k|), then
//     Σ_k L̂(k) 2πik ρ̂(k) e^{2πik·x_i} at every particle.
// Both parts are exact to ~1e-13 relative (~1e-11 for kernels with a length scale, whose damped
// singular parts the tables complete); the cost is N² short-range pairs plus 2N·(K^d/2) long-range
// terms, K ≈ 20. A real-space kernel (the Gaussian) is summed pair by pair with its own functor,
// periodic images included, and has no long range.

#include <kmdflow/InteractionEngine.hpp>
#include <kmdflow/Kernel.hpp>
#include <kmdflow/detail/ChebyshevFit.hpp>

#include <functional>
#include <memory>

namespace kmdflow {

namespace detail {

/// The tables an Ewald engine needs for one split kernel: built once and cached (a few ms in 2D,
/// ~0.1 s in 3D). A real-space kernel has no split: only its constant (its pair functor sums k,
/// the energies k − k̂(0); KernelConcept.hpp).
struct EwaldTables {
  static constexpr double tail = 32.0; // h(½) ~ e^{−32}
  int dim = 0;
  double alpha = 0;
  SingularPart singular;                       // S
  bool finite_self_energy = true;              // h − S finite at 0
  ChebyshevSeries<64> regular_value;           // h − S as a function of r², r ≤ ½
  PiecewiseChebyshev<32, 12> regular_gradient; // ∇(h − S) = x · B(r²): 32 pieces of ≤ 12 terms
  // A kernel with a length scale (singular.decay > 0): h − S in 32 pieces equal in r instead.
  PiecewiseChebyshev<32, 12> regular_value_radial;
  double constant = 0;                         // C: the split's constant, or −k̂(0) for a real-space kernel
  double long_range_at_zero = 0;               // Σ_{k≠0} L̂(k)
  int k_max = 0;
  // The half space of wavevectors in rows: the outer components fixed, the last one running
  // over a contiguous range.
  std::vector<std::array<int, 3>> rows; // (k_0, k_1 or 0, first value of the last component)
  std::vector<int> row_length, row_offset;
  std::vector<double> symbols; // 2 L̂(k), in row order
};

// The points a process's share of ρ̂(k) sums (several processes, set_sum_across): its block of
// particles [begin, begin + block) and, for the first share, the atoms from `atoms` on; index k of
// the share is point (*this)(k). By default (block < 0) every point, k itself.
struct EwaldShare {
  int begin = 0, block = -1, atoms = 0;
  KOKKOS_INLINE_FUNCTION int operator()(int k) const {
    return block < 0 ? k : k < block ? begin + k : atoms + (k - block);
  }
};

/// The tables of a split kernel, computed on first use and shared afterwards (thread safe).
std::shared_ptr<const EwaldTables> ewald_tables(const Kernel& kernel);
/// The Sobolev kernel's.
std::shared_ptr<const EwaldTables> ewald_tables(int dim, double s);

} // namespace detail

template <class ExecutionSpace, int Dim>
class EwaldEngine final : public InteractionEngine {
  static_assert(Kokkos::is_execution_space_v<ExecutionSpace>,
                "EwaldEngine: the first template argument must be a Kokkos execution space");
  static_assert(Dim >= 1 && Dim <= 3, "EwaldEngine: Dim must be 1, 2 or 3");

public:
  using memory_space = typename ExecutionSpace::memory_space;

  /// `precision`: that of the short-range pair evaluations (Types.hpp); the long range, the
  /// energy and the sums stay in double.
  EwaldEngine(const ExecutionSpace& space, const Kernel& kernel, std::size_t particle_count,
              const PointView<>& atoms = {}, const ScalarView<>& atom_weights = {},
              Precision precision = Precision::fp64);

  std::string name() const override { return "direct"; }
  void velocities(const ConstPointView<>& x, const ConstScalarView<>& w,
                  const PointView<>& v) override;
  double pair_energy(const ConstPointView<>& x, const ConstScalarView<>& w) override;
  bool set_target_rows(std::size_t begin, std::size_t end) override;
  /// With a share (set_target_rows) on several processes: each sums the structure factors ρ̂(k)
  /// over its own particles (the first share the atoms too), and the processes add them up (one
  /// sum of 2·|H| doubles per evaluation), instead of each summing over every point.
  void set_sum_across(SumAcross sum) override { m_sum_across = std::move(sum); }

  const detail::EwaldTables& tables() const { return *m_tables; }

  /// Loads the particles (what velocities() does first), e.g. for structure_factors().
  void load_points(const ConstPointView<>& x, const ConstScalarView<>& w);
  /// ρ̂(k) of the loaded points (summed across the processes where shared): by point (a reduction into per-thread arrays, the CPU form) or by
  /// mode (a team per wavevector, the GPU form); structure_factors() picks the backend's.
  void structure_factors();
  void structure_factors_by_mode();
  /// Re, Im of ρ̂(k) for the loaded points, interleaved (after structure_factors()).
  const Kokkos::View<double*, memory_space>& structure() const { return m_structure; }

private:
  /// Whether ρ̂ is summed by shares: a share of [0, N) and a way to add them.
  bool shared() const;
  /// The points this process's ρ̂ sums, and how many.
  detail::EwaldShare share() const;
  std::size_t shared_points() const;

  ExecutionSpace m_space;
  SumAcross m_sum_across;
  std::shared_ptr<const detail::EwaldTables> m_tables;
  bool m_singular_gradient;
  std::size_t m_particles = 0, m_atoms = 0;
  std::size_t m_begin = 0, m_end = 0;                  // the target rows (set_target_rows)
  PointView<memory_space> m_points;                    // particles, then atoms
  Kokkos::View<double*, memory_space> m_weights;       // w_j, then −u_m
  Kokkos::View<int* [5], memory_space> m_rows;         // k_0, k_1, first last, length, offset
  Kokkos::View<double*, memory_space> m_symbols;       // 2 L̂(k)
  Kokkos::View<double*, memory_space> m_structure;     // Re, Im of ρ̂(k), interleaved
  Kokkos::View<int**, memory_space> m_modes;           // the wavevector of each
  Kokkos::View<double*, memory_space> m_negated;       // −w_j, then u_m: the velocity's weights
  // The short-range pair sums, bound at construction to the kernel's pair functors: v (+)= −Σ q ∇h
  // over the loaded points; the rows Σ_p q_p h(x_q − x_p), p ≠ q. The last argument: the index of
  // the first target among the loaded points.
  std::function<void(const ConstPointView<>&, const Kokkos::View<double*, memory_space>&, const PointView<>&, int)>
      m_short_range_velocities;
  std::function<void(const PointView<memory_space>&, const Kokkos::View<double**, Kokkos::LayoutRight, memory_space>&,
                     int)>
      m_short_range_rows;
};

} // namespace kmdflow
