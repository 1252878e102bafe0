#pragma once
// Special functions for the kernel's Ewald splitting (DESIGN.md §3). Host only: they build tables
// and reference values, never run inside a compute kernel. Double precision throughout.

#include <vector>

namespace kmdflow {

inline constexpr double pi = 3.141592653589793238462643383279502884;
inline constexpr double euler_gamma = 0.577215664901532860606512090082402431;

/// Q(a, z) = Γ(a, z) / Γ(a), the regularised upper incomplete gamma function, for a > 0, z ≥ 0.
double regularized_upper_gamma(double a, double z);

/// P(a, z) = γ(a, z) / Γ(a) = 1 − Q(a, z), for a > 0, z ≥ 0, accurate where it is small.
double regularized_lower_gamma(double a, double z);

/// z^{-a} Γ(a, z) for any real a and z ≥ 1 (Legendre's continued fraction, modified Lentz).
double scaled_upper_gamma_cf(double a, double z);

/// g(a, z) = z^{-a} γ(a, z) = Σ_k (−z)^k / (k! (a + k)), entire in z; a must not be a
/// non-positive integer. Accurate for |z| ≲ 2.
double scaled_lower_gamma_series(double a, double z);

/// Ein(z) = Σ_{k≥1} (−1)^{k+1} z^k / (k k!) = E₁(z) + γ + ln z, entire; for |z| ≲ 2.
double entire_exponential_integral(double z);

/// P_m(z) = z^m Γ(−m, z) + (−1)^m z^m ln z / m!: the part of z^m Γ(−m, z) that is analytic in
/// z, for a non-positive integer −m (the log cases of DESIGN.md §1). For |z| ≲ 2.
double log_case_analytic_part(int m, double z);

/// The Riemann zeta function for real x > 1.
double riemann_zeta(double x);

/// The n-point Gauss–Legendre nodes x and weights w on [−1, 1] (Newton on P_n, to round-off).
void gauss_legendre(int n, std::vector<double>& x, std::vector<double>& w);

/// Bernoulli numbers B_0 … B_n (B_1 = −1/2).
std::vector<double> bernoulli_numbers(int n);

/// Monomial coefficients c_0 … c_n of the Bernoulli polynomial B_n(x) = Σ_k c_k x^k.
std::vector<double> bernoulli_polynomial(int n);

} // namespace kmdflow
