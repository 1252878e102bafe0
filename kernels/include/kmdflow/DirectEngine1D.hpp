#pragma once
// The direct engine on T^1 (DESIGN.md §4): exact O(N²) pair sums, any s > 0; the reference the
// other engines are tested against.

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

  // Kernel launchers: public only because CUDA's extended lambdas cannot live in private member
  // functions (nor in constructors); not part of the interface.
  void load_atoms(const PointView<>& atoms, const ScalarView<>& atom_weights);
  void load_sources(const ConstPointView<>& x, const ConstScalarView<>& w);

private:

  ExecutionSpace m_space;
  SobolevKernelEvaluator1D m_kernel;
  std::size_t m_particles = 0, m_atoms = 0;
  // Sources: the particles, then the atoms. Weights for the velocity (w_j, −u_m) and for the
  // energy rows (½ w_j, −u_m), so that Σ_i w_i · row_i is the pair energy up to the constant.
  Kokkos::View<double*, memory_space> m_sources, m_velocity_weights, m_energy_weights, m_rows;
  double m_atom_energy = 0.0; // ½ Σ_{m≠n} u_m u_n G(y_m − y_n)
  Precision m_precision = Precision::fp64;
};

} // namespace kmdflow
