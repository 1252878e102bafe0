#pragma once
// The target measure ν (DESIGN.md §1): a density, whose potential G_s * ν is an exact Fourier
// series, or an empirical measure Σ_m u_m δ_{y_m} of weighted samples.

#include <kmdflow/Density.hpp>
#include <kmdflow/SobolevKernel.hpp>
#include <kmdflow/Types.hpp>

#include <memory>
#include <string>

namespace kmdflow {

/// φ(x) = Σ_{k≠0} ĉ_k e^{2πik·x} for real φ, stored over a half space of wavevectors. Device
/// callable; in d = 1 the wavevectors are 1…K and the sum is evaluated by Horner's scheme.
class FourierPotential {
public:
  using Complex = Kokkos::complex<double>;
  FourierPotential() = default;
  /// The potential G_s * ν of a density ν: ĉ_k = (2π|k|)^{−2s} ν̂(k), all k where ν̂ is above
  /// 1e-17 of its largest coefficient.
  FourierPotential(const SobolevKernel& kernel, const Density& density);

  bool empty() const { return m_modes == 0; }
  int modes() const { return m_modes; }
  int dim() const { return m_dim; }

  KOKKOS_INLINE_FUNCTION double value(const double* x) const {
    if (m_modes == 0) return 0.0;
    if (m_dim == 1) return 2 * horner(m_value_coefficients, x[0]).real();
    double v = 0;
    for (int m = 0; m < m_modes; ++m) v += 2 * (m_value_coefficients(m) * phase(m, x)).real();
    return v;
  }

  KOKKOS_INLINE_FUNCTION void gradient(const double* x, double* g) const {
    for (int d = 0; d < m_dim; ++d) g[d] = 0.0;
    if (m_modes == 0) return;
    if (m_dim == 1) {
      g[0] = 2 * horner(m_gradient_coefficients, x[0]).real();
      return;
    }
    for (int m = 0; m < m_modes; ++m) {
      // ∇ e^{2πik·x} = 2πi k e^{2πik·x}
      const double c = 2 * (m_gradient_coefficients(m) * phase(m, x)).real();
      for (int d = 0; d < m_dim; ++d) g[d] += c * m_wavevectors(m, d);
    }
  }

private:
  // Σ_{k=1}^{K} c_k z^k with z = e^{2πix}, c_k stored at index k − 1.
  KOKKOS_INLINE_FUNCTION static Complex horner(const Kokkos::View<Complex*, MemorySpace>& c,
                                               double x) {
    const Complex z(Kokkos::cos(2 * Kokkos::numbers::pi * x),
                    Kokkos::sin(2 * Kokkos::numbers::pi * x));
    Complex sum(0, 0);
    for (int k = int(c.extent(0)) - 1; k >= 0; --k) sum = (sum + c(k)) * z;
    return sum;
  }
  KOKKOS_INLINE_FUNCTION Complex phase(int m, const double* x) const {
    double t = 0;
    for (int d = 0; d < m_dim; ++d) t += m_wavevectors(m, d) * x[d];
    return Complex(Kokkos::cos(2 * Kokkos::numbers::pi * t), Kokkos::sin(2 * Kokkos::numbers::pi * t));
  }

  int m_dim = 1;
  int m_modes = 0;
  Kokkos::View<int* [3], MemorySpace> m_wavevectors;          // d ≥ 2
  Kokkos::View<Complex*, MemorySpace> m_value_coefficients;    // ĉ_k
  Kokkos::View<Complex*, MemorySpace> m_gradient_coefficients; // ĉ_k · 2πi (k·e), d = 1: 2πik ĉ_k
};

/// ν: a density or weighted samples.
class Target {
public:
  /// A density target: its potential and self-interaction ½⟨ν, G_s ν⟩ are exact Fourier sums.
  Target(std::shared_ptr<const Density> density, const SobolevKernel& kernel);
  /// A samples target Σ_m u_m δ_{y_m}; weights are normalised to sum 1.
  Target(PointView<Kokkos::HostSpace> positions, ScalarView<Kokkos::HostSpace> weights);

  std::string type() const { return m_density ? m_density->type() : "samples"; }
  bool is_samples() const { return !m_density; }
  const Density* density() const { return m_density.get(); }

  /// Density targets: G_s * ν.
  const FourierPotential& potential() const { return m_potential; }
  /// Density targets: ½⟨ν, G_s ν⟩ = ½ Σ_{k≠0} (2π|k|)^{−2s} |ν̂(k)|².
  double self_energy() const { return m_self_energy; }

  /// Samples targets: the atoms y_m (device) and their weights u_m (summing to 1).
  const PointView<>& sample_positions() const { return m_sample_positions; }
  const ScalarView<>& sample_weights() const { return m_sample_weights; }

private:
  std::shared_ptr<const Density> m_density;
  FourierPotential m_potential;
  double m_self_energy = 0.0;
  PointView<> m_sample_positions;
  ScalarView<> m_sample_weights;
};

} // namespace kmdflow
