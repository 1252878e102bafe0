#include <kmdflow/SobolevKernel.hpp>
#include <kmdflow/SpecialFunctions.hpp>

#include <cmath>
#include <stdexcept>
#include <string>

namespace kmdflow {

namespace {

double factorial(int n) {
  double f = 1.0;
  for (int k = 2; k <= n; ++k) f *= k;
  return f;
}

double minus_one_to(int n) { return (n % 2) ? -1.0 : 1.0; }

double horner(const std::vector<double>& c, double y) {
  double v = 0.0;
  for (auto it = c.rbegin(); it != c.rend(); ++it) v = v * y + *it;
  return v;
}

bool is_positive_integer(double s) { return s >= 1 && s == std::round(s); }

} // namespace

SobolevKernel::SobolevKernel(int dim, double s, EwaldParameters ewald)
    : m_dim(dim), m_s(s), m_ewald(ewald) {
  if (dim < 1 || dim > 3) throw std::invalid_argument("dim must be 1, 2 or 3");
  if (!(s > 0) || !std::isfinite(s)) throw std::invalid_argument("s must be a finite number > 0");
  if (s > max_order)
    throw std::invalid_argument("s must be at most 50 (the kernel's coefficients (2π|k|)^−2s then leave the range "
                                "of doubles)");
  if (!(ewald.alpha > 0)) throw std::invalid_argument("the Ewald split parameter must be > 0");

  const double p = 2 * s - dim;
  const double half_p = p / 2;
  const double nearest = std::round(half_p);
  if (nearest >= 0 && std::abs(half_p - nearest) < 1e-12) {
    m_log_case = true;
    m_log_power = int(nearest);
  } else if (nearest >= 0 && std::abs(half_p - nearest) < 1e-6) {
    throw std::invalid_argument(
        "s = " + std::to_string(s) + " lies within 1e-6 of the logarithmic case s = " +
        std::to_string((2 * nearest + dim) / 2) + " in d = " + std::to_string(dim) +
        ", where the kernel's split is ill-conditioned; use that value exactly or move away");
  }

  m_a = 0.5 * dim - s;
  m_prefactor = 1.0 / (std::tgamma(s) * std::pow(4 * pi, 0.5 * dim));
  const double denominator = std::pow(4.0, s) * std::pow(pi, 0.5 * dim) * std::tgamma(s);
  m_c = m_log_case ? 2 * minus_one_to(m_log_power + 1) / (factorial(m_log_power) * denominator)
                   : std::tgamma(m_a) / denominator;

  // Both sums are cut where their terms fall below e^{−tail}; the power prefactors of the
  // incomplete gamma tails (z^{a−1}, z^{s−1}) move the cut by a logarithm.
  const double alpha = ewald.alpha, tail = ewald.tail_exponent;
  const double z_real = tail + std::max(0.0, (m_a - 1) * std::log(tail));
  m_reference = detail::EwaldReference(*this, 4 * alpha * z_real,
                                       ewald.long_range_modes ? long_range_cutoff2(alpha, tail) : -1.0);
}

double SobolevKernel::symbol(double k2) const { return std::pow(4 * pi * pi * k2, -m_s); }

double SobolevKernel::singular_value(double r) const {
  if (m_log_case) return m_c * std::pow(r, 2 * m_log_power) * std::log(r);
  return m_c * std::pow(r, singular_exponent());
}

SingularPart SobolevKernel::singular_part() const {
  SingularPart part;
  if (m_log_case) {
    part.log_terms = 1;
    part.log_power = m_log_power;
    part.log[0] = m_c;
  } else {
    part.power_terms = 1;
    part.exponent = singular_exponent();
    part.power[0] = m_c;
  }
  return part;
}

double SobolevKernel::long_range_symbol(double k2) const {
  if (k2 == 0) return -split_constant();
  return symbol(k2) * regularized_upper_gamma(m_s, 4 * pi * pi * m_ewald.alpha * k2);
}

double SobolevKernel::long_range_cutoff2(double alpha, double tail) const {
  const double z_fourier = tail + std::max(0.0, (m_s - 1) * std::log(tail));
  return z_fourier / (4 * pi * pi * alpha);
}

double SobolevKernel::singular_gradient_factor(double r) const {
  if (m_log_case) {
    const int m = m_log_power;
    return m_c * std::pow(r, 2 * m - 2) * (2 * m * std::log(r) + 1);
  }
  const double p = singular_exponent();
  return m_c * p * std::pow(r, p - 2);
}

double SobolevKernel::value_at_zero() const {
  if (!has_finite_self_energy())
    throw std::domain_error("G_s(0) is infinite for 2s <= d");
  const double origin[3] = {0, 0, 0};
  return ewald_regular_value(origin);
}

bool SobolevKernel::has_closed_form() const { return m_dim == 1 && is_positive_integer(m_s); }

std::vector<double> SobolevKernel::closed_form_value_polynomial() const {
  if (!has_closed_form()) throw std::logic_error("no closed form for this kernel");
  const int s = int(m_s);
  auto c = bernoulli_polynomial(2 * s);
  for (auto& v : c) v *= minus_one_to(s + 1) / factorial(2 * s);
  return c;
}

std::vector<double> SobolevKernel::closed_form_derivative_polynomial() const {
  if (!has_closed_form()) throw std::logic_error("no closed form for this kernel");
  const int s = int(m_s);
  auto c = bernoulli_polynomial(2 * s - 1);
  for (auto& v : c) v *= minus_one_to(s + 1) / factorial(2 * s - 1);
  return c;
}

double SobolevKernel::closed_form_value(double x) const {
  return horner(closed_form_value_polynomial(), x - std::floor(x));
}

double SobolevKernel::closed_form_derivative(double x) const {
  const double y = x - std::floor(x);
  return y == 0 ? 0.0 : horner(closed_form_derivative_polynomial(), y);
}

// ---- Ewald splitting (DESIGN.md §3) -------------------------------------------------------------
// h(r) = α^{−a} K z^{−a} Γ(a, z), z = r²/4α, a = d/2 − s, K = 1/(Γ(s)(4π)^{d/2});
// ∇h(x) = −x · ½ α^{−a−1} K z^{−a−1} Γ(a+1, z). Near 0 the singular part S is split off
// analytically, through the entire functions g(a, z) = z^{−a}γ(a, z) or, in the log cases, P_m(z).

double SobolevKernel::short_range_value(double r2) const {
  const double alpha = m_ewald.alpha, z = r2 / (4 * alpha);
  if (z >= 1) return std::pow(alpha, -m_a) * m_prefactor * scaled_upper_gamma_cf(m_a, z);
  return singular_value(std::sqrt(r2)) + short_range_regular_value(r2);
}

double SobolevKernel::short_range_gradient_factor(double r2) const {
  const double alpha = m_ewald.alpha, z = r2 / (4 * alpha);
  if (z >= 1)
    return -0.5 * std::pow(alpha, -m_a - 1) * m_prefactor * scaled_upper_gamma_cf(m_a + 1, z);
  return singular_gradient_factor(std::sqrt(r2)) + short_range_regular_gradient_factor(r2);
}

double SobolevKernel::short_range_regular_value(double r2) const {
  const double alpha = m_ewald.alpha, z = r2 / (4 * alpha);
  if (z >= 1) return short_range_value(r2) - singular_value(std::sqrt(r2));
  if (m_log_case) {
    const int m = m_log_power;
    return std::pow(alpha, m) * m_prefactor *
           (log_case_analytic_part(m, z) +
            minus_one_to(m) * std::pow(z, m) * std::log(4 * alpha) / factorial(m));
  }
  return -std::pow(alpha, -m_a) * m_prefactor * scaled_lower_gamma_series(m_a, z);
}

double SobolevKernel::short_range_regular_gradient_factor(double r2) const {
  const double alpha = m_ewald.alpha, z = r2 / (4 * alpha);
  if (z >= 1)
    return short_range_gradient_factor(r2) - singular_gradient_factor(std::sqrt(r2));
  if (m_log_case && m_log_power >= 1) {
    const int m = m_log_power, mp = m - 1;
    return -0.5 * std::pow(alpha, mp) * m_prefactor *
           (log_case_analytic_part(mp, z) + minus_one_to(mp) * std::pow(z, mp) *
                                                (std::log(4 * alpha) + 1.0 / m) / factorial(mp));
  }
  return 0.5 * std::pow(alpha, -m_a - 1) * m_prefactor * scaled_lower_gamma_series(m_a + 1, z);
}

double SobolevKernel::split_constant() const { return std::pow(m_ewald.alpha, m_s) / std::tgamma(m_s + 1); }

double SobolevKernel::ewald_regular_value(const double* x) const { return m_reference.regular_value(*this, x); }

void SobolevKernel::ewald_regular_gradient(const double* x, double* gradient) const {
  m_reference.regular_gradient(*this, x, gradient);
}

double SobolevKernel::ewald_value(const double* x) const { return m_reference.value(*this, x); }

void SobolevKernel::ewald_gradient(const double* x, double* gradient) const { m_reference.gradient(*this, x, gradient); }

} // namespace kmdflow
