#pragma once
// The distance between a particle measure and a density on a grid in a kernel's norm (MMD),
//   ‖μ_N − ρ‖²_k = Σ_{i,j} w_i w_j k(x_i − x_j) − 2 Σ_i w_i (k * ρ)(x_i) + Σ_k k̂(k) |ρ̂(k)|²,
// e.g. the negative Sobolev norm Ḣ^{−σ} for the Sobolev kernel G_σ, σ > d/2 (finite for particles).
// The particle term is an exact kernel sum (an engine's pair energy plus the diagonal w_i² k(0)):
// a truncated Fourier series would miss a tail ~ K^{d−2σ}. ρ is given by cell averages; its Fourier
// coefficients are deconvolved from the cell averaging (ρ̂(k) = DFT/Π sinc(πk_a/n)), k * ρ is
// tabulated on a grid twice as fine and interpolated at the particles with periodic cubic
// Lagrange polynomials (error O((h/2)⁴) of a function smoother than ρ).

#include <kmdflow/InteractionEngine.hpp>
#include <kmdflow/Kernel.hpp>
#include <kmdflow/Types.hpp>

#include <memory>
#include <vector>

namespace kmdflow {

class MeanFieldDistance {
public:
  /// For N particles on T^d against densities on an n^d grid, in the norm of `kernel` (k(0) must
  /// be finite); `tolerance` for the spectral engine where it is chosen (auto picks the exact
  /// engines for small N).
  MeanFieldDistance(const Kernel& kernel, std::size_t particles, int n, double tolerance = 1e-10);
  /// In Ḣ^{−σ}, σ > d/2: the Sobolev kernel G_σ.
  MeanFieldDistance(int dim, double sigma, std::size_t particles, int n, double tolerance = 1e-10);
  ~MeanFieldDistance();

  /// ‖μ_N − ρ‖²_k (host positions and weights; cell averages row major).
  double squared(const PointView<Kokkos::HostSpace>& x, const ScalarView<Kokkos::HostSpace>& w,
                 const std::vector<double>& cells);

private:
  int m_dim, m_n;
  std::shared_ptr<const Kernel> m_kernel;
  std::unique_ptr<InteractionEngine> m_engine;
};

} // namespace kmdflow
