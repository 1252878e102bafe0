#pragma once
// The singular part S of G_s near 0 (DESIGN.md §1) as functions of u = r², for pair kernels:
// S'(r)/r with the kind of singularity fixed at compile time, and S itself.

#include <kmdflow/SobolevKernel.hpp>
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

/// A piecewise Chebyshev series (ChebyshevFit.hpp) evaluated in the precision of u.
template <int Pieces, int Terms, class Real>
KOKKOS_INLINE_FUNCTION Real evaluate(const PiecewiseChebyshev<Pieces, Terms>& p, Real u) {
  const Real scaled = (u - Real(p.a)) * Real(Pieces / (p.b - p.a));
  int piece = int(scaled);
  piece = piece < 0 ? 0 : (piece >= Pieces ? Pieces - 1 : piece);
  return clenshaw<Terms>(&p.c[piece * Terms], Terms, 2 * (scaled - Real(piece)) - 1);
}
/// S(r) as a function of u = r² (energies only: no need for speed).
struct SingularValue {
  double c, half_exponent;
  int m;
  bool log_case;
  KOKKOS_INLINE_FUNCTION double operator()(double u) const {
    if (log_case) {
      double power = 1;
      for (int k = 0; k < m; ++k) power *= u;
      return 0.5 * c * power * Kokkos::log(u);
    }
    return c * Kokkos::pow(u, half_exponent);
  }
};


/// Calls f(op) with op(u) = S'(r)/r, u = r², specialised to the kernel's kind of singularity.
template <class F> void with_singular_gradient(const SobolevKernel& k, F&& f) {
  const double p = k.singular_exponent();
  if (k.is_log_case() && k.log_power() >= 1) return f(LogGradient{k.singular_constant(), k.log_power()});
  if (k.is_log_case()) return f(QuarterPowerGradient{k.singular_constant(), -1, 0}); // S'/r = c_0/r²
  const double e = 0.5 * p - 1; // S'/r = c p r^{p−2} = c p u^{e}
  const double quarters = 4 * e;
  const int q = int(std::floor(quarters + 0.5));
  if (std::abs(quarters - q) < 1e-12 && std::abs(q) < 32) {
    const int n = q >= 0 ? q / 4 : -((-q + 3) / 4);
    return f(QuarterPowerGradient{k.singular_constant() * p, n, q - 4 * n});
  }
  return f(GeneralPowerGradient{k.singular_constant() * p, e});
}

inline SingularValue singular_value(const SobolevKernel& k) {
  return SingularValue{k.singular_constant(), 0.5 * k.singular_exponent(), k.log_power(), k.is_log_case()};
}

} // namespace kmdflow::detail
