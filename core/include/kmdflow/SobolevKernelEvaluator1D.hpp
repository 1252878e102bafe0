#pragma once
// Fast, device-callable evaluation of G_s and G_s' on T^1 (DESIGN.md §3): the Bernoulli
// polynomials for integer s, otherwise the singular part S handled analytically plus the smooth
// remainder G − S tabulated once as Chebyshev series in u = x² on the minimum-image cell.

#include <kmdflow/SobolevKernel.hpp>
#include <kmdflow/detail/ChebyshevFit.hpp>

#include <Kokkos_Core.hpp>

#include <utility>

namespace kmdflow {

class SobolevKernelEvaluator1D {
public:
  static constexpr int max_polynomial_degree = 16;
  static constexpr int max_chebyshev_terms = 40;
  using Coefficients = Kokkos::Array<double, max_chebyshev_terms>;
  using PolynomialCoefficients = Kokkos::Array<double, max_polynomial_degree + 1>;

  SobolevKernelEvaluator1D() = default;
  /// Builds the evaluator: closed forms where available (unless use_closed_form is false),
  /// otherwise Chebyshev fits of the Ewald reference (a few hundred kernel evaluations).
  explicit SobolevKernelEvaluator1D(const SobolevKernel& kernel, bool use_closed_form = true);

  bool uses_closed_form() const { return m_closed_form; }
  /// Chebyshev terms kept for G − S and for (G' − S')/(2x).
  std::pair<int, int> terms() const { return {m_regular_terms, m_slope_terms}; }

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
    if (r == 0)
      return m_exponent > 0 || (m_log_case && m_log_power > 0) ? regular
                                                               : Kokkos::Experimental::infinity_v<double>;
    return singular_value(r) + regular;
  }

  /// Calls f(op), op(dx) = G'(dx) for dx ∈ (−1, 1) (differences of wrapped positions), with op of
  /// a type that fixes the polynomial degree or the kind of singularity at compile time, so that
  /// the engines' loops over pairs unroll and vectorise. op computes in Real (double or float).
  template <class Real = double, class F> void with_derivative(F&& f) const;
  /// Likewise with op(dx) = G(dx) (in Real for the closed forms, else in double).
  template <class Real = double, class F> void with_value(F&& f) const;

  // Pieces the specialised forms share.
  KOKKOS_INLINE_FUNCTION static double horner(const PolynomialCoefficients& c, int degree, double y) {
    double v = c[degree];
    for (int k = degree - 1; k >= 0; --k) v = v * y + c[k];
    return v;
  }
  // Σ c_k T_k(t) with t = 8u − 1, which maps u ∈ [0, ¼] onto [−1, 1].
  KOKKOS_INLINE_FUNCTION static double chebyshev(const Coefficients& c, int terms, double u) {
    return detail::clenshaw(c.data(), terms, 8 * u - 1);
  }
  KOKKOS_INLINE_FUNCTION static double integer_power(double r, int n) {
    double p = 1.0;
    for (int k = 0; k < n; ++k) p *= r;
    for (int k = 0; k > n; --k) p /= r;
    return p;
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

  bool m_closed_form = false;
  int m_value_degree = 0, m_derivative_degree = 0;
  PolynomialCoefficients m_value_polynomial{};
  PolynomialCoefficients m_derivative_polynomial{};

  bool m_log_case = false;
  int m_log_power = 0;
  double m_c = 0, m_exponent = 0;
  int m_regular_terms = 0, m_slope_terms = 0;
  Coefficients m_regular{}; // G − S as a series in u = x²
  Coefficients m_slope{};   // (G' − S')/(2x), likewise
};

namespace detail {

/// A polynomial of fixed degree in y = {dx}, dx ∈ (−1, 1); 0 at dx = 0 for the derivative. Its
/// coefficients are those in z = y − ½ ∈ [−½, ½), where the Bernoulli polynomials are even or odd
/// and Horner's rule does not cancel (which matters in float).
template <int Degree, class Real = double> struct BernoulliPolynomial {
  using value_type = Real;
  Kokkos::Array<Real, Degree + 1> c;
  bool zero_at_origin;
  KOKKOS_INLINE_FUNCTION Real operator()(Real dx) const {
    // z = {dx} − ½ = dx ∓ ½. copysign keeps this branch-free, so the loop vectorises even without
    // SSE4's blend (a data-dependent branch mispredicts half the time).
    const Real z = dx - Kokkos::copysign(Real(0.5), dx);
    Real v = c[Degree];
    for (int k = Degree - 1; k >= 0; --k) v = v * z + c[k];
    return (zero_at_origin && dx == 0) ? Real(0) : v;
  }
};

/// G' = x (S'(r)/r + 2 D(x²)) for dx ∈ (−1, 1), the singularity's kind fixed at compile time.
template <bool LogCase, class Real = double> struct SplitDerivative {
  using value_type = Real;
  SobolevKernelEvaluator1D e;
  KOKKOS_INLINE_FUNCTION Real operator()(Real dx) const {
    const Real x = dx > Real(0.5) ? dx - 1 : (dx < Real(-0.5) ? dx + 1 : dx);
    const Real r2 = x * x;
    if (r2 == 0) return Real(0);
    Real singular;
    if constexpr (LogCase) { // c_m r^{2m−2} (2m ln r + 1) = c_m r^{2m−2} (m ln r² + 1)
      Real power = e.m_log_power == 0 ? 1 / r2 : Real(1); // (r²)^{m−1}, m ≥ 0
      for (int k = 1; k < e.m_log_power; ++k) power *= r2;
      singular = Real(e.m_c) * power * (Real(e.m_log_power) * Kokkos::log(r2) + 1);
    } else { // c p r^{p−2} = c p (r²)^{p/2 − 1}
      singular = Real(e.m_c * e.m_exponent) * Kokkos::pow(r2, Real(0.5 * e.m_exponent - 1));
    }
    return x * (singular + 2 * detail::clenshaw(e.m_slope.data(), e.m_slope_terms, 8 * r2 - 1));
  }
};

struct GeneralValue {
  using value_type = double;
  SobolevKernelEvaluator1D e;
  KOKKOS_INLINE_FUNCTION double operator()(double dx) const { return e.value(dx); }
};

template <int Degree, class Real>
BernoulliPolynomial<Degree, Real> make_polynomial(const SobolevKernelEvaluator1D::PolynomialCoefficients& c,
                                                  bool zero_at_origin) {
  // Taylor shift: Σ_k c_k y^k = Σ_j z^j Σ_{k≥j} c_k C(k, j) 2^{j−k}, z = y − ½.
  BernoulliPolynomial<Degree, Real> p{{}, zero_at_origin};
  for (int j = 0; j <= Degree; ++j) {
    double sum = 0, binomial = 1, half = 1; // C(k, j) and 2^{j−k} for k = j, j+1, ...
    for (int k = j; k <= Degree; ++k) {
      sum += c[k] * binomial * half;
      binomial = binomial * (k + 1) / (k + 1 - j);
      half *= 0.5;
    }
    p.c[j] = Real(sum);
  }
  return p;
}

} // namespace detail

template <class Real, class F> void SobolevKernelEvaluator1D::with_derivative(F&& f) const {
  if (m_closed_form) {
    switch (m_derivative_degree) {
    case 1: return f(detail::make_polynomial<1, Real>(m_derivative_polynomial, true));
    case 3: return f(detail::make_polynomial<3, Real>(m_derivative_polynomial, true));
    case 5: return f(detail::make_polynomial<5, Real>(m_derivative_polynomial, true));
    case 7: return f(detail::make_polynomial<7, Real>(m_derivative_polynomial, true));
    default: break;
    }
  }
  if (!m_closed_form && m_log_case) return f(detail::SplitDerivative<true, Real>{*this});
  if (!m_closed_form) return f(detail::SplitDerivative<false, Real>{*this});
  return f(detail::GeneralValue{*this}); // unreachable: closed forms have odd degree ≤ 7
}

template <class Real, class F> void SobolevKernelEvaluator1D::with_value(F&& f) const {
  if (m_closed_form) {
    switch (m_value_degree) {
    case 2: return f(detail::make_polynomial<2, Real>(m_value_polynomial, false));
    case 4: return f(detail::make_polynomial<4, Real>(m_value_polynomial, false));
    case 6: return f(detail::make_polynomial<6, Real>(m_value_polynomial, false));
    case 8: return f(detail::make_polynomial<8, Real>(m_value_polynomial, false));
    default: break;
    }
  }
  return f(detail::GeneralValue{*this});
}

} // namespace kmdflow
