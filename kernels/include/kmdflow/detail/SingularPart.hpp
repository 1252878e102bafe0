#pragma once
// The singular part S of a split kernel near 0 (KernelConcept.hpp, DESIGN.md §1) as functions of
// u = r², for pair kernels: S'(r)/r with the kind of singularity fixed at compile time, and S
// itself. One-term parts (the Sobolev kernel) get the short forms; longer ones (the Bessel
// potential) a power times polynomials in u.

#include <kmdflow/KernelConcept.hpp>
#include <kmdflow/detail/ChebyshevFit.hpp>

#include <Kokkos_Core.hpp>

#include <cmath>

namespace kmdflow::detail {

/// S'(r)/r as a function of u = r², with the kind of singularity fixed at compile time; evaluated
/// in the precision of u (double or float).
struct QuarterPowerGradient { // c p u^{n + f/4}: exponents on a quarter grid (most cases)
  double cp;
  int n, f;
  template <class Real> KOKKOS_INLINE_FUNCTION Real operator()(Real u) const {
    const Real base = n >= 0 ? u : 1 / u;
    const int count = n >= 0 ? n : -n;
    Real power = 1;
    KMDFLOW_UNROLL
    for (int k = 0; k < 8; ++k) power *= k < count ? base : Real(1);
    const Real root = Kokkos::sqrt(u), quarter = Kokkos::sqrt(root);
    const Real fraction = f == 0 ? Real(1) : f == 1 ? quarter : f == 2 ? root : root * quarter;
    return Real(cp) * power * fraction;
  }
};
struct GeneralPowerGradient { // c p u^{e}
  double cp, e;
  template <class Real> KOKKOS_INLINE_FUNCTION Real operator()(Real u) const {
    return Real(cp) * Kokkos::pow(u, Real(e));
  }
};
struct LogGradient { // c_m u^{m−1} (m ln u + 1), m ≥ 1
  double c;
  int m;
  template <class Real> KOKKOS_INLINE_FUNCTION Real operator()(Real u) const {
    Real power = 1;
    KMDFLOW_UNROLL
    for (int k = 1; k < 4; ++k) power *= k < m ? u : Real(1); // m ≤ 3 in the log cases of d ≤ 3 and s used
    return Real(c) * power * (Real(m) * Kokkos::log(u) + 1);
  }
};
/// Several terms: with T(u) = u^{p/2} A(u) + ½ ln u · u^m B(u) (A_j = a_j, B_j = b_j), S = e^{−κu} T
/// and S'(r)/r = 2 dS/du = e^{−κu} (2T' − 2κT), where
/// 2T' = u^{p/2−1} P(u) + u^{m−1} (ln u · L(u) + B(u)), P_j = a_j (p + 2j), L_j = b_j (m + j). The
/// polynomials are zero-padded to Terms coefficients, so that the pair loop keeps a fixed shape.
template <int Terms> struct SeriesGradient {
  double e;                                     // p/2 − 1
  int m;                                        // log power
  bool has_power, has_log;
  double decay;                                 // κ
  Kokkos::Array<double, Terms> p{}, l{}, b{}, a{}; // P, L, B, A
  template <class Real> KOKKOS_INLINE_FUNCTION Real operator()(Real u) const {
    Real power_gradient = 0, log_gradient = 0, plain = 0, power_value = 0;
    KMDFLOW_UNROLL
    for (int k = Terms - 1; k >= 0; --k) {
      power_gradient = power_gradient * u + Real(p[k]);
      log_gradient = log_gradient * u + Real(l[k]);
      plain = plain * u + Real(b[k]);
      power_value = power_value * u + Real(a[k]);
    }
    const Real power = has_power ? Kokkos::pow(u, Real(e)) : Real(0); // u^{p/2−1}
    Real gradient = power * power_gradient, value = power * u * power_value;
    if (has_log) {
      Real log_power = m == 0 ? 1 / u : Real(1); // u^{m−1}, m ≥ 0
      for (int k = 1; k < m; ++k) log_power *= u;
      const Real log_u = Kokkos::log(u);
      gradient += log_power * (log_u * log_gradient + plain);
      value += Real(0.5) * log_u * log_power * u * plain;
    }
    if (decay == 0) return gradient;
    return Kokkos::exp(-Real(decay) * u) * (gradient - Real(2 * decay) * value);
  }
};

/// Singular parts of several terms are damped (KernelConcept.hpp): S and the table of h − S then
/// nearly cancel where λr is large, so a pair kernel evaluates them in double in every precision.
template <class Singular> inline constexpr bool evaluated_in_double = false;
template <int Terms> inline constexpr bool evaluated_in_double<SeriesGradient<Terms>> = true;

/// A piecewise Chebyshev series (ChebyshevFit.hpp) evaluated in the precision of u.
template <int Pieces, int Terms, class Real>
KOKKOS_INLINE_FUNCTION Real evaluate(const PiecewiseChebyshev<Pieces, Terms>& p, Real u) {
  const Real x = p.radial ? Kokkos::sqrt(u) : u;
  const Real scaled = (x - Real(p.a)) * Real(Pieces / (p.b - p.a));
  int piece = int(scaled);
  piece = piece < 0 ? 0 : (piece >= Pieces ? Pieces - 1 : piece);
  return clenshaw<Terms>(&p.c[piece * Terms], Terms, 2 * (scaled - Real(piece)) - 1);
}

/// S(r) as a function of u = r² (energies only: no need for speed).
struct SingularValue {
  SingularPart part;
  KOKKOS_INLINE_FUNCTION double operator()(double u) const {
    if (part.decay == 0) return bracket(u);
    return Kokkos::exp(-part.decay * u) * bracket(u);
  }
  KOKKOS_INLINE_FUNCTION double bracket(double u) const {
    double sum = 0;
    if (part.power_terms == 1 && part.log_terms == 0) return part.power[0] * Kokkos::pow(u, 0.5 * part.exponent);
    for (int j = 0; j < part.power_terms; ++j) sum += part.power[j] * Kokkos::pow(u, 0.5 * part.exponent + j);
    if (part.log_terms > 0) {
      double power = 1, series = 0;
      for (int k = 0; k < part.log_power; ++k) power *= u;
      for (int j = part.log_terms - 1; j >= 0; --j) series = series * u + part.log[j];
      sum += 0.5 * series * power * Kokkos::log(u);
    }
    return sum;
  }
};

/// Calls f(op) with op(u) = S'(r)/r, u = r², specialised to the kind of singularity.
template <class F> void with_singular_gradient(const SingularPart& s, F&& f) {
  if (s.decay == 0 && s.log_terms == 1 && s.power_terms == 0) {
    if (s.log_power >= 1) return f(LogGradient{s.log[0], s.log_power});
    return f(QuarterPowerGradient{s.log[0], -1, 0}); // S'/r = c_0/r²
  }
  if (s.decay == 0 && s.power_terms == 1 && s.log_terms == 0) {
    const double p = s.exponent;
    const double e = 0.5 * p - 1; // S'/r = c p r^{p−2} = c p u^{e}
    const double quarters = 4 * e;
    const int q = int(std::floor(quarters + 0.5));
    if (std::abs(quarters - q) < 1e-12 && std::abs(q) < 32) {
      const int n = q >= 0 ? q / 4 : -((-q + 3) / 4);
      return f(QuarterPowerGradient{s.power[0] * p, n, q - 4 * n});
    }
    return f(GeneralPowerGradient{s.power[0] * p, e});
  }
  auto series = [&](auto gradient) {
    gradient.e = 0.5 * s.exponent - 1;
    gradient.m = s.log_power;
    gradient.has_power = s.power_terms > 0;
    gradient.has_log = s.log_terms > 0;
    gradient.decay = s.decay;
    for (int j = 0; j < s.power_terms; ++j) {
      gradient.p[j] = s.power[j] * (s.exponent + 2 * j);
      gradient.a[j] = s.power[j];
    }
    for (int j = 0; j < s.log_terms; ++j) {
      gradient.l[j] = s.log[j] * (s.log_power + j);
      gradient.b[j] = s.log[j];
    }
    return f(gradient);
  };
  if (s.power_terms <= 4 && s.log_terms <= 4) return series(SeriesGradient<4>{});
  if (s.power_terms <= 8 && s.log_terms <= 8) return series(SeriesGradient<8>{});
  return series(SeriesGradient<SingularPart::max_terms>{});
}

} // namespace kmdflow::detail
