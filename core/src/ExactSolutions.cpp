#include <kmdflow/ExactSolutions.hpp>

#include <cmath>
#include <stdexcept>

namespace kmdflow {

std::vector<double> exact_s1_uniform_cell_averages(const Density& initial, int n, double t) {
  if (initial.dim() != 1) throw std::invalid_argument("exact_s1_uniform_cell_averages: d = 1 only");
  // F0 extended to R: F0(y + 1) = F0(y) + 1.
  auto F = [&](double y) {
    const double f = std::floor(y);
    return f + initial.cumulative(y - f);
  };
  auto rho0 = [&](double y) {
    const double x = y - std::floor(y);
    return initial.value(&x);
  };
  // ∫ y ρ0 and ∫ F0 by composite Simpson's rule (smooth integrands: error ~ h⁴).
  const int panels = 20000;
  double m1 = 0, integral_f = 0;
  for (int i = 0; i <= panels; ++i) {
    const double y = double(i) / panels, weight = (i == 0 || i == panels) ? 1 : (i % 2 ? 4 : 2);
    m1 += weight * y * rho0(y);
    integral_f += weight * (i == panels ? 1.0 : F(y));
  }
  m1 /= 3.0 * panels;
  integral_f /= 3.0 * panels;
  const double A = 0.5 - m1, B = integral_f - 0.5;
  const double e1 = std::exp(-t), e2 = std::exp(-2 * t);
  const double b = -A * ((1 - e1) - 0.5 * (1 - e2)) - 0.5 * B * (1 - e2);
  auto X = [&](double y) { return b + F(y) * (1 - e1) + y * e1; };
  auto J = [&](double y) { return rho0(y) * (1 - e1) + e1; };
  // X_t⁻¹(a): safeguarded Newton on the increasing map X_t − a, bracketed in [a − 2, a + 2].
  auto inverse = [&](double a) {
    double lo = a - 2, hi = a + 2, y = a;
    for (int it = 0; it < 200; ++it) {
      const double g = X(y) - a;
      if (g > 0) hi = y;
      else lo = y;
      if (std::abs(g) < 1e-15) break;
      double next = y - g / J(y);
      if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
      if (std::abs(next - y) < 1e-16) break;
      y = next;
    }
    return y;
  };
  std::vector<double> averages(n);
  double previous = F(inverse(0.0));
  for (int j = 0; j < n; ++j) {
    const double next = F(inverse(double(j + 1) / n));
    averages[j] = (next - previous) * n;
    previous = next;
  }
  return averages;
}

} // namespace kmdflow
