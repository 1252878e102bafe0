#pragma once
// The particle flow of DESIGN.md §1: dx_i/dt = −Σ_{j≠i} w_j ∇G_s(x_i − x_j) + ∇(G_s * ν)(x_i), and
// the energies reported along it.

#include <kmdflow/InteractionEngine.hpp>
#include <kmdflow/SobolevKernel.hpp>
#include <kmdflow/Target.hpp>

#include <memory>
#include <string>

namespace kmdflow {

struct Energies {
  double energy = 0;             ///< full energy E_s(μ_N); +inf where 2s ≤ d
  double interaction_energy = 0; ///< every diagonal term removed (may be negative)
  double dissipation = 0;        ///< Σ_i w_i |v_i|²
  double max_speed = 0;          ///< max_i |v_i|
};

enum class ForceMethod { automatic, direct, sorted, spectral };
ForceMethod parse_force_method(const std::string& name); ///< "auto", "direct", ...
std::string to_string(ForceMethod method);

/// The engine `method` stands for with this kernel and number of points (particles and target
/// samples). auto: sorted where it applies (d = 1, integer s ≤ 4: exact and fastest), else
/// spectral from the point counts where it overtakes direct (bench/README.md), else direct.
/// std::invalid_argument, saying why, when the method cannot treat the kernel.
ForceMethod resolve_force_method(ForceMethod method, const SobolevKernel& kernel, std::size_t points = 0);

Precision parse_precision(const std::string& name); ///< "double" or "float"
std::string to_string(Precision precision);

/// The engine for `method`; `tolerance` is the spectral engine's, `precision` that of the pair
/// evaluations (float: the direct engine only). Throws std::invalid_argument when the
/// method cannot treat this kernel, dimension or precision.
std::unique_ptr<InteractionEngine> make_engine(ForceMethod method, const SobolevKernel& kernel,
                                               const Target& target, std::size_t particle_count,
                                               double tolerance = 1e-8,
                                               Precision precision = Precision::fp64);

class SobolevFlow {
public:
  SobolevFlow(std::shared_ptr<const SobolevKernel> kernel, std::shared_ptr<const Target> target,
              ScalarView<> weights, std::unique_ptr<InteractionEngine> engine);

  int dim() const { return m_kernel->dim(); }
  std::size_t count() const { return m_weights.extent(0); }
  const SobolevKernel& kernel() const { return *m_kernel; }
  const Target& target() const { return *m_target; }
  const InteractionEngine& engine() const { return *m_engine; }
  const ScalarView<>& weights() const { return m_weights; }

  /// v = dx/dt at the positions x (wrapped into [0, 1)^d).
  void velocity(const ConstPointView<>& x, const PointView<>& v);
  /// The energies at x, where v = velocity(x).
  Energies energies(const ConstPointView<>& x, const ConstPointView<>& v);

private:
  std::shared_ptr<const SobolevKernel> m_kernel;
  std::shared_ptr<const Target> m_target;
  ScalarView<> m_weights;
  std::unique_ptr<InteractionEngine> m_engine;
  double m_diagonal = 0; // ½ (Σ w_i² + Σ u_m²) G(0), where finite
};

} // namespace kmdflow
