#pragma once
// The target measure ν (DESIGN.md §1): a density, whose potential k * ν is an exact Fourier
// series, or an empirical measure Σ_m u_m δ_{y_m} of weighted samples.

#include <kmdflow/Density.hpp>
#include <kmdflow/Kernel.hpp>
#include <kmdflow/Types.hpp>

#include <memory>
#include <string>

namespace kmdflow {

/// φ(x) = Σ_{k≠0} ĉ_k e^{2πik·x} for real φ, stored over a half space of wavevectors. Device
/// callable. In d = 1 the wavevectors are 1…K and the sum is evaluated by Horner's scheme; in
/// d = 2, 3 they are grouped in rows (outer components fixed, the last one contiguous) and the
/// phases e^{2πik·x} are products of per-axis powers, one complex product per mode.
class FourierPotential {
public:
  using Complex = Kokkos::complex<double>;
  static constexpr int max_modes_per_axis = 128;
  static constexpr int max_modes = 20000;

  FourierPotential() = default;
  /// The potential (k − k̂(0)) * ν of a density ν: ĉ_k = k̂(k) ν̂(k), all k ≠ 0 where ν̂ is above
  /// 1e-17 of its largest coefficient. std::invalid_argument when d ≥ 2 needs more than max_modes
  /// modes (a too narrow wrapped Gaussian).
  FourierPotential(const Kernel& kernel, const Density& density);

  bool empty() const { return m_modes == 0; }
  int modes() const { return m_modes; }
  int dim() const { return m_dim; }

  KOKKOS_INLINE_FUNCTION double value(const double* x) const {
    if (m_modes == 0) return 0.0;
    if (m_dim == 1) return 2 * horner(m_value_coefficients, x[0]).real();
    double v = 0;
    for_each_row(x, [&](int, int first, int length, int offset, const Complex& outer, const double* lre,
                        const double* lim) {
      for (int t = 0; t < length; ++t) {
        const Complex e = outer * Complex(lre[first + t], lim[first + t]);
        v += 2 * (m_value_coefficients(offset + t) * e).real();
      }
    });
    return v;
  }

  KOKKOS_INLINE_FUNCTION void gradient(const double* x, double* g) const {
    for (int d = 0; d < m_dim; ++d) g[d] = 0.0;
    if (m_modes == 0) return;
    if (m_dim == 1) {
      g[0] = 2 * horner(m_gradient_coefficients, x[0]).real();
      return;
    }
    // ∇ Σ 2 Re(c e^{2πik·x}) = Σ k (−4π) Im(c e^{2πik·x})
    for_each_row(x, [&](int r, int first, int length, int offset, const Complex& outer, const double* lre,
                        const double* lim) {
      double sum = 0, weighted = 0;
      for (int t = 0; t < length; ++t) {
        const Complex e = outer * Complex(lre[first + t], lim[first + t]);
        const double c = (m_value_coefficients(offset + t) * e).imag();
        sum += c;
        weighted += c * (m_rows(r, 2) + t);
      }
      for (int d = 0; d < m_dim - 1; ++d) g[d] -= 4 * Kokkos::numbers::pi * m_rows(r, d) * sum;
      g[m_dim - 1] -= 4 * Kokkos::numbers::pi * weighted;
    });
  }

private:
  // Σ_{k=1}^{K} c_k z^k with z = e^{2πix}, c_k stored at index k − 1.
  KOKKOS_INLINE_FUNCTION static Complex horner(const Kokkos::View<Complex*, MemorySpace>& c, double x) {
    const Complex z(Kokkos::cos(2 * Kokkos::numbers::pi * x), Kokkos::sin(2 * Kokkos::numbers::pi * x));
    Complex sum(0, 0);
    for (int k = int(c.extent(0)) - 1; k >= 0; --k) sum = (sum + c(k)) * z;
    return sum;
  }

  // Calls f(row, first index into the last axis' powers, length, offset, outer phase, powers of
  // the last axis (re, im)) for every row, with the per-axis powers e^{2πimx_d}, m = −K…K.
  template <class F> KOKKOS_INLINE_FUNCTION void for_each_row(const double* x, F&& f) const {
    constexpr int width = 2 * max_modes_per_axis + 1;
    double re[3][width], im[3][width];
    const int K = m_k_max;
    for (int d = 0; d < m_dim; ++d) {
      const double c = Kokkos::cos(2 * Kokkos::numbers::pi * x[d]), s = Kokkos::sin(2 * Kokkos::numbers::pi * x[d]);
      re[d][K] = 1, im[d][K] = 0;
      for (int m = 1; m <= K; ++m) {
        re[d][K + m] = re[d][K + m - 1] * c - im[d][K + m - 1] * s;
        im[d][K + m] = re[d][K + m - 1] * s + im[d][K + m - 1] * c;
        re[d][K - m] = re[d][K + m];
        im[d][K - m] = -im[d][K + m];
      }
    }
    const int rows = int(m_rows.extent(0));
    for (int r = 0; r < rows; ++r) {
      Complex outer(1, 0);
      for (int d = 0; d < m_dim - 1; ++d) outer *= Complex(re[d][K + m_rows(r, d)], im[d][K + m_rows(r, d)]);
      f(r, K + m_rows(r, 2), m_rows(r, 3), m_rows(r, 4), outer, re[m_dim - 1], im[m_dim - 1]);
    }
  }

  int m_dim = 1;
  int m_modes = 0;
  int m_k_max = 0;
  Kokkos::View<int* [5], MemorySpace> m_rows;                 // d ≥ 2: k_0, k_1, first, length, offset
  Kokkos::View<Complex*, MemorySpace> m_value_coefficients;    // ĉ_k
  Kokkos::View<Complex*, MemorySpace> m_gradient_coefficients; // d = 1: 2πik ĉ_k
};

/// ν: a density or weighted samples.
class Target {
public:
  /// A density target: its potential and self-interaction ½⟨ν, k ν⟩ are exact Fourier sums.
  Target(std::shared_ptr<const Density> density, const Kernel& kernel);
  /// A samples target Σ_m u_m δ_{y_m}; weights are normalised to sum 1.
  Target(PointView<Kokkos::HostSpace> positions, ScalarView<Kokkos::HostSpace> weights);

  std::string type() const { return m_density ? m_density->type() : "samples"; }
  bool is_samples() const { return !m_density; }
  const Density* density() const { return m_density.get(); }

  /// Density targets: k * ν.
  const FourierPotential& potential() const { return m_potential; }
  /// Density targets: ½⟨ν, (k − k̂(0)) ν⟩ = ½ Σ_{k≠0} k̂(k) |ν̂(k)|².
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
