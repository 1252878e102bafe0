#pragma once
// Fast, device-callable evaluation of G_s and G_s' on T^1 (DESIGN.md §3): the Bernoulli
// polynomials for integer s, otherwise the singular part S handled analytically plus the smooth
// remainder G − S tabulated once as Chebyshev series in u = x² on the minimum-image cell.

#include <kmdflow/SobolevKernel.hpp>

#include <Kokkos_Core.hpp>

namespace kmdflow {

class SobolevKernelEvaluator1D {
public:
  static constexpr int max_polynomial_degree = 16;
  static constexpr int max_chebyshev_terms = 40;

  SobolevKernelEvaluator1D() = default;
  /// Builds the evaluator: closed forms where available (unless use_closed_form is false),
  /// otherwise Chebyshev fits of the Ewald reference (a few hundred kernel evaluations).
  explicit SobolevKernelEvaluator1D(const SobolevKernel& kernel, bool use_closed_form = true);

  bool uses_closed_form() const { return m_closed_form; }

  /// G_s'(dx) for a coordinate difference dx (any real); 0 at coincident points (DESIGN.md §1).
  KOKKOS_INLINE_FUNCTION double derivative(double dx) const {
    if (m_closed_form) {
      const double y = dx - Kokkos::floor(dx);
      return y == 0 ? 0.0 : horner(m_derivative_polynomial, m_derivative_degree, y);
    }
    const double x = dx - Kokkos::round(dx);
    const double r = Kokkos::fabs(x);
    if (r == 0) return 0.0;
    return x * (singular_gradient_factor(r) + 2 * chebyshev(m_slope, m_slope_terms, x * x));
  }

  /// G_s(dx); at coincident points G_s(0), which is +inf when 2s ≤ 1.
  KOKKOS_INLINE_FUNCTION double value(double dx) const {
    if (m_closed_form) return horner(m_value_polynomial, m_value_degree, dx - Kokkos::floor(dx));
    const double x = dx - Kokkos::round(dx);
    const double r = Kokkos::fabs(x);
    const double regular = chebyshev(m_regular, m_regular_terms, x * x);
    if (r == 0) return m_exponent > 0 || (m_log_case && m_log_power > 0)
                           ? regular : Kokkos::Experimental::infinity_v<double>;
    return singular_value(r) + regular;
  }

private:
  KOKKOS_INLINE_FUNCTION static double horner(const Kokkos::Array<double, max_polynomial_degree + 1>& c,
                                              int degree, double y) {
    double v = c[degree];
    for (int k = degree - 1; k >= 0; --k) v = v * y + c[k];
    return v;
  }

  // Clenshaw's recurrence for Σ c_k T_k(t), t = 8u − 1 maps u ∈ [0, ¼] onto [−1, 1].
  KOKKOS_INLINE_FUNCTION static double chebyshev(const Kokkos::Array<double, max_chebyshev_terms>& c,
                                                 int terms, double u) {
    const double t = 8 * u - 1, two_t = 2 * t;
    double b1 = 0, b2 = 0;
    for (int k = terms - 1; k >= 1; --k) {
      const double b0 = two_t * b1 - b2 + c[k];
      b2 = b1;
      b1 = b0;
    }
    return t * b1 - b2 + c[0];
  }

  KOKKOS_INLINE_FUNCTION double singular_value(double r) const {
    if (m_log_case) return m_c * integer_power(r, 2 * m_log_power) * Kokkos::log(r);
    return m_c * Kokkos::pow(r, m_exponent);
  }

  KOKKOS_INLINE_FUNCTION double singular_gradient_factor(double r) const {
    if (m_log_case)
      return m_c * integer_power(r, 2 * m_log_power - 2) * (2 * m_log_power * Kokkos::log(r) + 1);
    return m_c * m_exponent * Kokkos::pow(r, m_exponent - 2);
  }

  KOKKOS_INLINE_FUNCTION static double integer_power(double r, int n) {
    double p = 1.0;
    for (int k = 0; k < n; ++k) p *= r;
    for (int k = 0; k > n; --k) p /= r;
    return p;
  }

  bool m_closed_form = false;
  int m_value_degree = 0, m_derivative_degree = 0;
  Kokkos::Array<double, max_polynomial_degree + 1> m_value_polynomial{};
  Kokkos::Array<double, max_polynomial_degree + 1> m_derivative_polynomial{};

  bool m_log_case = false;
  int m_log_power = 0;
  double m_c = 0, m_exponent = 0;
  int m_regular_terms = 0, m_slope_terms = 0;
  Kokkos::Array<double, max_chebyshev_terms> m_regular{}; // G − S as a series in u = x²
  Kokkos::Array<double, max_chebyshev_terms> m_slope{};   // (G' − S')/(2x), likewise
};

} // namespace kmdflow
