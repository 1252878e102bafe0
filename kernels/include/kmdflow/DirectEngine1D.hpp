#pragma once
// The direct engine for the Sobolev kernel on T^1 (DESIGN.md §4): exact O(N²) pair sums, any
// s > 0, through the closed forms or the tabulated split (SobolevKernelEvaluator1D); the reference
// the other engines are tested against. Other kernels in d = 1 use EwaldEngine<Space, 1>.

#include <kmdflow/InteractionEngine.hpp>
#include <kmdflow/SobolevKernelEvaluator1D.hpp>

namespace kmdflow {

template <class ExecutionSpace = kmdflow::ExecutionSpace>
class DirectEngine1D final : public InteractionEngine {
  static_assert(Kokkos::is_execution_space_v<ExecutionSpace>,
                "DirectEngine1D: the template argument must be a Kokkos execution space");

public:
  using memory_space = typename ExecutionSpace::memory_space;

  /// `atoms` and `atom_weights` describe a samples target (may be empty views); `precision` is
  /// that of the pair evaluations (Types.hpp).
  DirectEngine1D(const ExecutionSpace& space, const SobolevKernelEvaluator1D& kernel,
                 std::size_t particle_count, const PointView<>& atoms = {},
                 const ScalarView<>& atom_weights = {}, Precision precision = Precision::fp64);

  std::string name() const override { return "direct"; }
  Precision precision() const { return m_precision; }
  void velocities(const ConstPointView<>& x, const ConstScalarView<>& w,
                  const PointView<>& v) override;
  double pair_energy(const ConstPointView<>& x, const ConstScalarView<>& w) override;
  bool set_target_rows(std::size_t begin, std::size_t end) override;

private:
  void load_sources(const ConstPointView<>& x, const ConstScalarView<>& w);

  ExecutionSpace m_space;
  SobolevKernelEvaluator1D m_kernel;
  std::size_t m_particles = 0, m_atoms = 0;
  // Sources: the particles, then the atoms. Weights for the velocity (−w_j, u_m) and for the
  // energy rows (½ w_j, −u_m), so that Σ_i w_i · row_i is the pair energy up to the constant.
  PointView<memory_space> m_sources, m_rows;
  Kokkos::View<double*, memory_space> m_velocity_weights, m_energy_weights;
  double m_atom_energy = 0.0; // ½ Σ_{m≠n} u_m u_n G(y_m − y_n)
  Precision m_precision = Precision::fp64;
  std::size_t m_begin = 0, m_end = 0; // the target rows (set_target_rows; all by default)
};

} // namespace kmdflow
