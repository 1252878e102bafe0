#pragma once
// The direct engine on T^2 and T^3 (DESIGN.md §3, §4): exact O(N²) sums of ∇G_s for any s > 0,
// evaluated through the Ewald split G = Σ_n h(x + n) + Σ_{k≠0} L̂(k) e^{2πik·x} − α^s/Γ(s+1) at a
// split parameter small enough that h is negligible (< e^{−32}) beyond r = ½. Then:
//   * short range: every pair at its minimum image, ∇h = x (S'(r)/r + B(r²)) with the singular
//     part S analytic (c|x|^{2s−d}, or c_m|x|^{2m} log|x| in the log cases) and the smooth B a
//     piecewise Chebyshev series in r² (32 pieces of ≤ 12 terms: a short recurrence per pair)
//     tabulated once per (d, s);
//   * long range: the structure factors ρ̂(k) = Σ_j q_j e^{−2πik·x_j} over the half space
//     |k| ≤ K (the symbol is radial: the lattice's cubic symmetry reduces it to |k|), then
//     Σ_k L̂(k) 2πik ρ̂(k) e^{2πik·x_i} at every particle.
// Both parts are exact to ~1e-13 relative; the cost is N² short-range pairs plus 2N·(K^d/2)
// long-range terms, K ≈ 20.

#include <kmdflow/InteractionEngine.hpp>
#include <kmdflow/SobolevKernel.hpp>
#include <kmdflow/detail/ChebyshevFit.hpp>
#include <kmdflow/detail/SingularPart.hpp>

#include <memory>

namespace kmdflow {

namespace detail {

/// The tables an Ewald engine needs for one (d, s): built once and cached (a few ms in 2D,
/// ~0.1 s in 3D).
struct EwaldTables {
  static constexpr double tail = 32.0; // h(½) ~ e^{−32}
  int dim = 0;
  double s = 0;
  double alpha = 0;
  std::shared_ptr<const SobolevKernel> kernel; // the kernel at this α
  ChebyshevSeries<64> regular_value;           // h − S as a function of r², r ≤ ½
  PiecewiseChebyshev<32, 12> regular_gradient; // ∇(h − S) = x · B(r²): 32 pieces of ≤ 12 terms
  double split_constant = 0;                   // α^s/Γ(s+1)
  double long_range_at_zero = 0;               // Σ_{k≠0} L̂(k)
  int k_max = 0;
  // The half space of wavevectors in rows: the outer components fixed, the last one running
  // over a contiguous range.
  std::vector<std::array<int, 3>> rows; // (k_0, k_1 or 0, first value of the last component)
  std::vector<int> row_length, row_offset;
  std::vector<double> symbols; // 2 L̂(k), in row order
};

/// The tables for (dim, s), computed on first use and shared afterwards (thread safe).
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
  EwaldEngine(const ExecutionSpace& space, const SobolevKernel& kernel, std::size_t particle_count,
              const PointView<>& atoms = {}, const ScalarView<>& atom_weights = {},
              Precision precision = Precision::fp64);

  std::string name() const override { return "direct"; }
  void velocities(const ConstPointView<>& x, const ConstScalarView<>& w,
                  const PointView<>& v) override;
  double pair_energy(const ConstPointView<>& x, const ConstScalarView<>& w) override;

  const detail::EwaldTables& tables() const { return *m_tables; }

  /// Loads the particles (what velocities() does first), e.g. for structure_factors().
  void load_points(const ConstPointView<>& x, const ConstScalarView<>& w);
  // Kernel launchers: public only because CUDA's extended lambdas cannot live in private member
  // functions (nor in constructors); not part of the interface.
  void structure_factors();
  void structure_factors_by_mode(); // the GPU form, also callable on the host (tested there)
  /// Re, Im of ρ̂(k) for the loaded points, interleaved (after structure_factors()).
  const Kokkos::View<double*, memory_space>& structure() const { return m_structure; }

private:

  ExecutionSpace m_space;
  std::shared_ptr<const detail::EwaldTables> m_tables;
  bool m_singular_gradient;
  std::size_t m_particles = 0, m_atoms = 0;
  PointView<memory_space> m_points;                    // particles, then atoms
  Kokkos::View<double*, memory_space> m_weights;       // w_j, then −u_m
  Kokkos::View<double*, memory_space> m_rows_scratch;  // per-point energy rows
  Kokkos::View<int* [5], memory_space> m_rows;         // k_0, k_1, first last, length, offset
  Kokkos::View<double*, memory_space> m_symbols;       // 2 L̂(k)
  Kokkos::View<double*, memory_space> m_structure;     // Re, Im of ρ̂(k), interleaved
  Kokkos::View<int**, memory_space> m_modes;           // the wavevector of each
  Precision m_precision = Precision::fp64;
};

} // namespace kmdflow
