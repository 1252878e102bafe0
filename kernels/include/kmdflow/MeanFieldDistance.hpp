#pragma once
// The distance between a particle measure and a density on a grid in a negative Sobolev norm,
//   ‖μ_N − ρ‖²_{Ḣ^{−σ}} = Σ_{i,j} w_i w_j G_σ(x_i − x_j) − 2 Σ_i w_i (G_σ * ρ)(x_i) + Σ_{k≠0} (2π|k|)^{−2σ} |ρ̂(k)|²,
// for σ > d/2 (finite for particles). The particle term is an exact kernel sum (an engine's pair
// energy plus the diagonal w_i² G_σ(0)): a truncated Fourier series would miss a tail ~ K^{d−2σ}.
// ρ is given by cell averages; its Fourier coefficients are deconvolved from the cell averaging
// (ρ̂(k) = DFT/Π sinc(πk_a/n)), G_σ * ρ is tabulated on a grid twice as fine and interpolated at
// the particles with periodic cubic Lagrange polynomials (error O((h/2)⁴) of a function two σ
// orders smoother than ρ).

#include <kmdflow/InteractionEngine.hpp>
#include <kmdflow/SobolevKernel.hpp>
#include <kmdflow/Types.hpp>

#include <memory>
#include <vector>

namespace kmdflow {

class MeanFieldDistance {
public:
  /// For N particles on T^d against densities on an n^d grid; `tolerance` for the spectral
  /// engine where it is chosen (auto picks the exact engines for small N).
  MeanFieldDistance(int dim, double sigma, std::size_t particles, int n, double tolerance = 1e-10);
  ~MeanFieldDistance();

  /// ‖μ_N − ρ‖²_{Ḣ^{−σ}} (host positions and weights; cell averages row major).
  double squared(const PointView<Kokkos::HostSpace>& x, const ScalarView<Kokkos::HostSpace>& w,
                 const std::vector<double>& cells);
  double sigma() const { return m_kernel->s(); }

private:
  int m_dim, m_n;
  std::shared_ptr<const SobolevKernel> m_kernel;
  std::unique_ptr<InteractionEngine> m_engine;
};

} // namespace kmdflow
