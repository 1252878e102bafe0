#include <kmdflow/SpecialFunctions.hpp>

#include <cmath>
#include <limits>
#include <stdexcept>

namespace kmdflow {

namespace {
constexpr double eps = std::numeric_limits<double>::epsilon();
constexpr int max_iterations = 10000;
} // namespace

namespace {
// P(a, z) by its power series, for z < a + 1.
double lower_gamma_series(double a, double z) {
  const double log_prefactor = a * std::log(z) - z - std::lgamma(a);
  double term = 1.0 / a, sum = term;
  for (int n = 1; n < max_iterations; ++n) {
    term *= z / (a + n);
    sum += term;
    if (std::abs(term) < std::abs(sum) * eps) break;
  }
  return sum * std::exp(log_prefactor);
}
} // namespace

double regularized_upper_gamma(double a, double z) {
  if (!(a > 0) || z < 0) throw std::domain_error("regularized_upper_gamma: needs a > 0, z >= 0");
  if (z == 0) return 1.0;
  // Below a + 1, Q = 1 − P loses nothing that matters (Q is O(1)).
  if (z < a + 1) return 1.0 - lower_gamma_series(a, z);
  return std::exp(a * std::log(z) - std::lgamma(a)) * scaled_upper_gamma_cf(a, z);
}

double regularized_lower_gamma(double a, double z) {
  if (!(a > 0) || z < 0) throw std::domain_error("regularized_lower_gamma: needs a > 0, z >= 0");
  if (z == 0) return 0.0;
  if (z < a + 1) return lower_gamma_series(a, z);
  return 1.0 - regularized_upper_gamma(a, z);
}

double scaled_upper_gamma_cf(double a, double z) {
  if (z < 1) throw std::domain_error("scaled_upper_gamma_cf: needs z >= 1");
  // Γ(a, z) = e^{-z} z^a / (z + 1 − a − 1(1 − a) / (z + 3 − a − 2(2 − a) / ...)), any real a.
  constexpr double tiny = 1e-300;
  double b = z + 1 - a;
  double c = 1 / tiny, d = 1 / b, h = d;
  for (int i = 1; i < max_iterations; ++i) {
    const double an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (std::abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (std::abs(c) < tiny) c = tiny;
    d = 1 / d;
    const double delta = d * c;
    h *= delta;
    if (std::abs(delta - 1) < eps) break;
  }
  return std::exp(-z) * h;
}

double scaled_lower_gamma_series(double a, double z) {
  double power = 1.0; // (−z)^k / k!
  double sum = 1.0 / a;
  for (int k = 1; k < max_iterations; ++k) {
    power *= -z / k;
    const double term = power / (a + k);
    sum += term;
    if (k > z && std::abs(term) <= std::abs(sum) * eps * 0.25) break;
  }
  return sum;
}

double entire_exponential_integral(double z) {
  double power = 1.0, sum = 0.0;
  for (int k = 1; k < max_iterations; ++k) {
    power *= -z / k; // (−z)^k / k!
    const double term = -power / k;
    sum += term;
    if (std::abs(term) <= std::abs(sum) * eps * 0.5) break;
  }
  return sum;
}

double log_case_analytic_part(int m, double z) {
  // z^m Γ(−m, z) = ((−1)^m / m!) [z^m E₁(z) − e^{−z} Σ_{k<m} (−1)^k k! z^{m−k−1}],
  // E₁(z) = −γ − ln z + Ein(z); dropping the −ln z term leaves the analytic part.
  double factorial = 1.0;
  for (int k = 2; k <= m; ++k) factorial *= k;
  const double zm = std::pow(z, m);
  double polynomial = 0.0, kfact = 1.0;
  for (int k = 0; k < m; ++k) {
    if (k > 0) kfact *= k;
    polynomial += ((k % 2) ? -1.0 : 1.0) * kfact * std::pow(z, m - k - 1);
  }
  const double sign = (m % 2) ? -1.0 : 1.0;
  return sign / factorial *
         (zm * (-euler_gamma + entire_exponential_integral(z)) - std::exp(-z) * polynomial);
}

double riemann_zeta(double x) {
  if (!(x > 1)) throw std::domain_error("riemann_zeta: needs x > 1");
  // Euler–Maclaurin: Σ_{n<N} n^{-x} + N^{1−x}/(x−1) + N^{-x}/2 + Σ_j B_{2j}/(2j)! x^(2j−1) N^{−x−2j+1}.
  constexpr int N = 20;
  double sum = 0.0;
  for (int n = 1; n < N; ++n) sum += std::pow(n, -x);
  sum += std::pow(N, 1 - x) / (x - 1) + 0.5 * std::pow(N, -x);
  const double b2j_over_fact[] = {1.0 / 12, -1.0 / 720, 1.0 / 30240, -1.0 / 1209600,
                                  1.0 / 47900160, -691.0 / 1307674368000.0};
  double rising = x; // x (x+1) ... (x+2j−2)
  double power = std::pow(N, -x - 1);
  for (int j = 1; j <= 6; ++j) {
    sum += b2j_over_fact[j - 1] * rising * power;
    rising *= (x + 2 * j - 1) * (x + 2 * j);
    power /= double(N) * N;
  }
  return sum;
}

void gauss_legendre(int n, std::vector<double>& x, std::vector<double>& w) {
  x.resize(n), w.resize(n);
  for (int i = 0; i < n; ++i) {
    double z = std::cos(pi * (i + 0.75) / (n + 0.5)), dp = 0;
    for (int it = 0; it < 100; ++it) {
      double p0 = 1, p1 = z;
      for (int k = 2; k <= n; ++k) {
        const double p2 = ((2 * k - 1) * z * p1 - (k - 1) * p0) / k;
        p0 = p1, p1 = p2;
      }
      dp = n * (z * p1 - p0) / (z * z - 1);
      const double dz = p1 / dp;
      z -= dz;
      if (std::abs(dz) < 1e-16) break;
    }
    x[i] = z;
    w[i] = 2 / ((1 - z * z) * dp * dp);
  }
}

std::vector<double> bernoulli_numbers(int n) {
  // Akiyama–Tanigawa would lose digits; the recurrence Σ_{k<m+1} C(m+1, k) B_k = 0 is exact
  // enough for the small n (≤ 16) this project needs.
  std::vector<double> b(n + 1, 0.0);
  b[0] = 1.0;
  for (int m = 1; m <= n; ++m) {
    double sum = 0.0, binom = 1.0; // C(m+1, k)
    for (int k = 0; k < m; ++k) {
      sum += binom * b[k];
      binom = binom * (m + 1 - k) / (k + 1);
    }
    b[m] = -sum / (m + 1);
  }
  return b;
}

std::vector<double> bernoulli_polynomial(int n) {
  const auto b = bernoulli_numbers(n);
  std::vector<double> c(n + 1, 0.0);
  double binom = 1.0; // C(n, k)
  for (int k = 0; k <= n; ++k) {
    c[n - k] = binom * b[k];
    binom = binom * (n - k) / (k + 1);
  }
  return c;
}

} // namespace kmdflow
