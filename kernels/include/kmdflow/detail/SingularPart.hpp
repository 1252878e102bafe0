#pragma once
// The singular part S of G_s near 0 (DESIGN.md §1) as functions of u = r², for pair kernels:
// S'(r)/r with the kind of singularity fixed at compile time, and S itself.

#include <kmdflow/SobolevKernel.hpp>
#include <kmdflow/detail/ChebyshevFit.hpp>

#include <Kokkos_Core.hpp>

#include <cmath>

namespace kmdflow::detail {

/// S'(r)/r as a function of u = r², with the kind of singularity fixed at compile time.
struct QuarterPowerGradient { // c p u^{n + f/4}: exponents on a quarter grid (most cases)
  double cp;
  int n, f;
  KOKKOS_INLINE_FUNCTION double operator()(double u) const {
    const double base = n >= 0 ? u : 1 / u;
    const int count = n >= 0 ? n : -n;
    double power = 1;
    KMDFLOW_UNROLL
    for (int k = 0; k < 8; ++k) power *= k < count ? base : 1.0;
    const double root = Kokkos::sqrt(u), quarter = Kokkos::sqrt(root);
    const double fraction = f == 0 ? 1.0 : f == 1 ? quarter : f == 2 ? root : root * quarter;
    return cp * power * fraction;
  }
};
struct GeneralPowerGradient { // c p u^{e}
  double cp, e;
  KOKKOS_INLINE_FUNCTION double operator()(double u) const { return cp * Kokkos::pow(u, e); }
};
struct LogGradient { // c_m u^{m−1} (m ln u + 1), m ≥ 1
  double c;
  int m;
  KOKKOS_INLINE_FUNCTION double operator()(double u) const {
    double power = 1;
    KMDFLOW_UNROLL
    for (int k = 1; k < 4; ++k) power *= k < m ? u : 1.0; // m ≤ 3 in the log cases of d ≤ 3 and s used
    return c * power * (m * Kokkos::log(u) + 1);
  }
};
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
