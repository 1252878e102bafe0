#pragma once
// The particle flow of DESIGN.md §1 for any kernel k (Kernel.hpp):
// dx_i/dt = −Σ_{j≠i} w_j ∇k(x_i − x_j) + ∇(k * ν)(x_i), the engines that sum it, and the energies
// reported along it.

#include <kmdflow/InteractionEngine.hpp>
#include <kmdflow/Kernel.hpp>
#include <kmdflow/RealFft.hpp>
#include <kmdflow/Target.hpp>

#include <functional>
#include <memory>
#include <string>

namespace kmdflow {

struct Energies {
  double energy = 0;             ///< full energy ½‖μ_N − ν‖²; +inf where k(0) is (2s ≤ d)
  double interaction_energy = 0; ///< every diagonal term removed (may be negative)
  double dissipation = 0;        ///< Σ_i w_i |v_i|²
  double max_speed = 0;          ///< max_i |v_i|
};

enum class ForceMethod { automatic, direct, sorted, spectral };
ForceMethod parse_force_method(const std::string& name); ///< "auto", "direct", ...
std::string to_string(ForceMethod method);

/// The engine `method` stands for with this kernel and number of points (particles and target
/// samples). auto: sorted where it applies (the Sobolev kernel in d = 1 with integer s ≤ 4: exact
/// and fastest), else spectral from the point counts where it overtakes direct (bench/README.md)
/// and where it can resolve the kernel at `tolerance`, else direct. std::invalid_argument, saying
/// why, when the method cannot treat the kernel.
ForceMethod resolve_force_method(ForceMethod method, const Kernel& kernel, std::size_t points = 0,
                                 double tolerance = 1e-8);

Precision parse_precision(const std::string& name); ///< "double" or "float"
std::string to_string(Precision precision);

/// "auto", "estimate" or "measure" (forces.fft_planning).
FftPlanning parse_fft_planning(const std::string& name);

/// The engine for `method`; `tolerance` and `fft_planning` are the spectral engine's, `precision`
/// that of the pair evaluations (float: the direct engine only). Throws std::invalid_argument when
/// the method cannot treat this kernel, dimension or precision.
std::unique_ptr<InteractionEngine> make_engine(ForceMethod method, const Kernel& kernel, const Target& target,
                                               std::size_t particle_count, double tolerance = 1e-8,
                                               Precision precision = Precision::fp64,
                                               FftPlanning fft_planning = FftPlanning::automatic);

class ParticleFlow {
public:
  ParticleFlow(std::shared_ptr<const Kernel> kernel, std::shared_ptr<const Target> target, ScalarView<> weights,
               std::unique_ptr<InteractionEngine> engine);
  ParticleFlow(const std::shared_ptr<const SobolevKernel>& kernel, std::shared_ptr<const Target> target,
               ScalarView<> weights, std::unique_ptr<InteractionEngine> engine)
      : ParticleFlow(std::make_shared<const Kernel>(*kernel), std::move(target), std::move(weights), std::move(engine)) {}

  int dim() const { return m_kernel->dim(); }
  std::size_t count() const { return m_weights.extent(0); }
  const Kernel& kernel() const { return *m_kernel; }
  const Target& target() const { return *m_target; }
  const InteractionEngine& engine() const { return *m_engine; }
  InteractionEngine& engine() { return *m_engine; }
  const ScalarView<>& weights() const { return m_weights; }
  /// The weights of other particles (a block whose particles moved between processes).
  void set_weights(ScalarView<> weights);

  /// v = dx/dt at the positions x (wrapped into [0, 1)^d).
  void velocity(const ConstPointView<>& x, const PointView<>& v);
  /// The energies at x, where v = velocity(x).
  Energies energies(const ConstPointView<>& x, const ConstPointView<>& v);

  /// For particles split across processes, each holding a block of them (its x, v and weights)
  /// and an engine that sums over all (Processes.hpp): energies() then adds the blocks' sums
  /// (`sum`) and takes the largest speed of all (`max`), in place, giving every process the same
  /// energies. Each must call energies() together.
  using Across = std::function<void(double* values, std::size_t count)>;
  void set_across(Across sum, Across max) { m_sum = std::move(sum), m_max = std::move(max); }

private:
  std::shared_ptr<const Kernel> m_kernel;
  std::shared_ptr<const Target> m_target;
  ScalarView<> m_weights;
  std::unique_ptr<InteractionEngine> m_engine;
  // ½ (Σ w_i² + Σ u_m²) k(0) where finite: k(0) and Σ u_m² (the atoms'), and Σ w_i² over the
  // weights held here (of a block, summed in energies()).
  double m_value_at_zero = 0, m_atom_squares = 0, m_weight_squares = 0;
  Across m_sum, m_max;
};

/// Its first name, from when the Sobolev kernel was the only one.
using SobolevFlow = ParticleFlow;

} // namespace kmdflow
