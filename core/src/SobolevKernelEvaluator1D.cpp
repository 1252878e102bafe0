#include <kmdflow/SobolevKernelEvaluator1D.hpp>
#include <kmdflow/SpecialFunctions.hpp>

#include <cmath>
#include <stdexcept>
#include <vector>

namespace kmdflow {

namespace {

// Chebyshev interpolation of f on u ∈ [0, ¼] at n Chebyshev–Gauss nodes; trailing coefficients
// below round-off of the largest one are dropped.
template <class F>
int chebyshev_fit(F&& f, Kokkos::Array<double, SobolevKernelEvaluator1D::max_chebyshev_terms>& c) {
  constexpr int n = SobolevKernelEvaluator1D::max_chebyshev_terms;
  std::vector<double> values(n);
  for (int j = 0; j < n; ++j) {
    const double t = std::cos(pi * (j + 0.5) / n);
    values[j] = f((t + 1) / 8);
  }
  double largest = 0;
  for (int k = 0; k < n; ++k) {
    double sum = 0;
    for (int j = 0; j < n; ++j) sum += values[j] * std::cos(pi * k * (j + 0.5) / n);
    c[k] = (k == 0 ? 1.0 : 2.0) * sum / n;
    largest = std::max(largest, std::abs(c[k]));
  }
  // The coefficients decay geometrically (the nearest singularity, the image at |x| = 1, lies at
  // u = 1) until they reach the ~1e-15 noise of the Ewald values; the series stops there.
  int terms = n;
  for (int k = 1; k + 1 < n; ++k)
    if (std::abs(c[k]) < 1e-15 * largest && std::abs(c[k + 1]) < 1e-15 * largest) {
      terms = k;
      break;
    }
  for (int k = terms; k < n; ++k) c[k] = 0;
  return terms;
}

} // namespace

SobolevKernelEvaluator1D::SobolevKernelEvaluator1D(const SobolevKernel& kernel, bool use_closed_form) {
  if (kernel.dim() != 1) throw std::invalid_argument("SobolevKernelEvaluator1D: needs d = 1");
  // The closed form (a Bernoulli polynomial of degree 2s) for integer s ≤ max_polynomial_degree/2;
  // beyond, the Ewald split as for any other s (integer s > 8 raised here, an exit code 1).
  if (use_closed_form && kernel.has_closed_form() && 2 * kernel.s() <= max_polynomial_degree) {
    const auto value = kernel.closed_form_value_polynomial();
    const auto derivative = kernel.closed_form_derivative_polynomial();
    m_closed_form = true;
    m_value_degree = int(value.size()) - 1;
    m_derivative_degree = int(derivative.size()) - 1;
    for (std::size_t k = 0; k < value.size(); ++k) m_value_polynomial[k] = value[k];
    for (std::size_t k = 0; k < derivative.size(); ++k) m_derivative_polynomial[k] = derivative[k];
    return;
  }
  m_log_case = kernel.is_log_case();
  m_log_power = kernel.log_power();
  m_c = kernel.singular_constant();
  m_exponent = kernel.singular_exponent();
  m_regular_terms = chebyshev_fit(
      [&](double u) {
        const double x = std::sqrt(u);
        return kernel.ewald_regular_value(&x);
      },
      m_regular);
  m_slope_terms = chebyshev_fit(
      [&](double u) {
        const double x = std::sqrt(u);
        double g;
        kernel.ewald_regular_gradient(&x, &g);
        return g / (2 * x);
      },
      m_slope);
}

} // namespace kmdflow
