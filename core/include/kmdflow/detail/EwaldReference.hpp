#pragma once
// The slow, exact evaluation of a split kernel (KernelConcept.hpp) at a point (DESIGN.md §3): the
// real-space sum of h over the periodic images within a cut-off, and the Fourier sum of L̂ over a
// half space of wavevectors. The reference of the tests, of the 1D tables and of k(0). Host only.

#include <array>
#include <cmath>
#include <numbers>
#include <stdexcept>
#include <vector>

namespace kmdflow::detail {

/// The half space of wavevectors k ∈ Z^d with 0 < |k|² ≤ k_cut2 and the first non-zero component
/// positive, in lexicographic order of (k_x, k_y, k_z).
std::vector<std::array<int, 3>> half_space_wavevectors(int dim, double k_cut2);

class EwaldReference {
public:
  EwaldReference() = default;
  /// For `kernel` split at its α: images within r² < real_cutoff2, wavevectors with
  /// |k|² ≤ k_cut2 (none if k_cut2 < 1).
  template <class K>
  EwaldReference(const K& kernel, double real_cutoff2, double k_cut2)
      : m_dim(kernel.dim()), m_real_cutoff2(real_cutoff2), m_constant(kernel.long_range_symbol(0.0)),
        m_wavevectors(half_space_wavevectors(kernel.dim(), k_cut2)) {
    for (const auto& k : m_wavevectors)
      m_symbols.push_back(2 * kernel.long_range_symbol(double(k[0]) * k[0] + double(k[1]) * k[1] + double(k[2]) * k[2]));
  }

  double real_cutoff2() const { return m_real_cutoff2; }
  /// The half space of wavevectors and 2L̂(k) for each: the long range is Σ_H 2L̂ cos(2πk·x) + L̂(0).
  const std::vector<std::array<int, 3>>& wavevectors() const { return m_wavevectors; }
  const std::vector<double>& symbols() const { return m_symbols; }

  /// k − S and ∇(k − S) at a point of the minimum-image cell [−½, ½]^d (x = 0 allowed).
  template <class K> double regular_value(const K& kernel, const double* x) const {
    const double r2 = norm2(x);
    double sum = kernel.short_range_regular_value(r2) + long_range_value(x);
    for_each_image(x, [&](const double*, double image_r2) { sum += kernel.short_range_value(image_r2); });
    return sum;
  }
  template <class K> void regular_gradient(const K& kernel, const double* x, double* gradient) const {
    long_range_gradient(x, gradient);
    const double factor = kernel.short_range_regular_gradient_factor(norm2(x));
    for (int d = 0; d < m_dim; ++d) gradient[d] += factor * x[d];
    for_each_image(x, [&](const double* y, double image_r2) {
      const double f = kernel.short_range_gradient_factor(image_r2);
      for (int d = 0; d < m_dim; ++d) gradient[d] += f * y[d];
    });
  }
  /// k(x) and ∇k(x) for any x (the minimum image is taken); ∇k = 0 at lattice points, where k
  /// itself is refused.
  template <class K> double value(const K& kernel, const double* x) const {
    double y[3];
    const double r2 = minimum_image(x, y);
    if (r2 == 0) throw std::domain_error("the kernel is singular or undefined at a lattice point");
    return kernel.singular_part().value(std::sqrt(r2)) + regular_value(kernel, y);
  }
  template <class K> void gradient(const K& kernel, const double* x, double* gradient) const {
    double y[3];
    const double r2 = minimum_image(x, y);
    if (r2 == 0) {
      for (int d = 0; d < m_dim; ++d) gradient[d] = 0.0; // convention ∇k(0) = 0 (DESIGN.md §1)
      return;
    }
    regular_gradient(kernel, y, gradient);
    const double factor = kernel.singular_part().gradient_factor(std::sqrt(r2));
    for (int d = 0; d < m_dim; ++d) gradient[d] += factor * y[d];
  }

private:
  static constexpr double two_pi = 2 * std::numbers::pi;

  double norm2(const double* x) const {
    double r2 = 0.0;
    for (int d = 0; d < m_dim; ++d) r2 += x[d] * x[d];
    return r2;
  }
  // The minimum image of x in [−½, ½)^d, and its squared length.
  double minimum_image(const double* x, double* y) const {
    double r2 = 0.0;
    for (int d = 0; d < m_dim; ++d) {
      y[d] = x[d] - std::round(x[d]);
      r2 += y[d] * y[d];
    }
    return r2;
  }
  template <class Visit> void for_each_image(const double* x, Visit&& visit) const {
    const int n_max = int(std::ceil(std::sqrt(m_real_cutoff2) + 0.5));
    const int ny = m_dim >= 2 ? n_max : 0, nz = m_dim >= 3 ? n_max : 0;
    for (int i = -n_max; i <= n_max; ++i)
      for (int j = -ny; j <= ny; ++j)
        for (int k = -nz; k <= nz; ++k) {
          if (i == 0 && j == 0 && k == 0) continue;
          const int n[3] = {i, j, k};
          double y[3] = {0, 0, 0}, r2 = 0;
          for (int d = 0; d < m_dim; ++d) {
            y[d] = x[d] + n[d];
            r2 += y[d] * y[d];
          }
          if (r2 < m_real_cutoff2) visit(y, r2);
        }
  }
  double long_range_value(const double* x) const {
    double sum = 0.0;
    for (std::size_t m = 0; m < m_wavevectors.size(); ++m) {
      double phase = 0.0;
      for (int d = 0; d < m_dim; ++d) phase += m_wavevectors[m][d] * x[d];
      sum += m_symbols[m] * std::cos(two_pi * phase);
    }
    return sum + m_constant;
  }
  void long_range_gradient(const double* x, double* gradient) const {
    for (int d = 0; d < m_dim; ++d) gradient[d] = 0.0;
    for (std::size_t m = 0; m < m_wavevectors.size(); ++m) {
      double phase = 0.0;
      for (int d = 0; d < m_dim; ++d) phase += m_wavevectors[m][d] * x[d];
      const double factor = -two_pi * m_symbols[m] * std::sin(two_pi * phase);
      for (int d = 0; d < m_dim; ++d) gradient[d] += factor * m_wavevectors[m][d];
    }
  }

  int m_dim = 1;
  double m_real_cutoff2 = 0;
  double m_constant = 0; // L̂(0)
  std::vector<std::array<int, 3>> m_wavevectors;
  std::vector<double> m_symbols; // 2L̂(k) for each half-space wavevector
};

} // namespace kmdflow::detail
