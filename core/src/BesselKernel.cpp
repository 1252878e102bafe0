#include <kmdflow/BesselKernel.hpp>
#include <kmdflow/SpecialFunctions.hpp>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace kmdflow {

namespace {
// The singular part keeps the terms β_j S_{s+j} until the first one left out is r^{2·smoothness}
// smooth or better: the tables' Chebyshev series then converge to round-off (the direct engine
// checks its gradient table where it builds it).
constexpr int smoothness = 8;
// The series Σ β_j h_{s+j} stops where a term is below round-off of the sum (terms shrink like
// 1/j! since λ²α' ≤ 1), at most this many.
constexpr int max_orders = 48;
} // namespace

BesselKernel::BesselKernel(int dim, double s, double lambda, EwaldParameters ewald)
    : m_dim(dim), m_s(s), m_lambda(lambda), m_ewald(ewald) {
  if (dim < 1 || dim > 3) throw std::invalid_argument("dim must be 1, 2 or 3");
  if (!(s > 0) || !(s <= 50)) throw std::invalid_argument("s must be a number in (0, 50]");
  if (!(lambda > 0) || !(lambda <= max_lambda))
    throw std::invalid_argument("lambda must lie in (0, 40]: the engines' tables resolve no shorter length scale");
  if (!(ewald.alpha > 0)) throw std::invalid_argument("the Ewald split parameter must be > 0");
  const double alpha = ewald.alpha, lambda2 = lambda * lambda;
  const double series_alpha = std::min(alpha, 1 / lambda2);

  // The orders s + j: the singular terms first, then the smooth tail of the series.
  const double p = 2 * s - dim;
  m_singular_terms = std::max(1, int(std::ceil(smoothness - 0.5 * p)));
  double beta = 1;
  for (int j = 0; j < max_orders; ++j) {
    m_orders.emplace_back(dim, s + j, EwaldParameters{series_alpha, ewald.tail_exponent, false});
    m_beta.push_back(beta);
    beta *= -lambda2 * (s + j) / (j + 1);
  }
  for (int j = 0; j < m_singular_terms; ++j) {
    const SobolevKernel& order = m_orders[j];
    const double c = m_beta[j] * order.singular_constant();
    if (order.is_log_case()) {
      if (m_singular.log_terms == 0) m_singular.log_power = order.log_power();
      m_singular.log[m_singular.log_terms++] = c;
    } else {
      if (m_singular.power_terms == 0) m_singular.exponent = order.singular_exponent();
      m_singular.power[m_singular.power_terms++] = c;
    }
  }
  // Damping: T's coefficients are those of e^{κu} times S_J's, u = r², to the same order; and the
  // power series of S_J − S, whose first terms vanish (order n for n coefficients).
  // κ = λ²/4 (S cut near λr ~ 2√J): stronger damping varies faster than 32 pieces resolve
  // (measured: κ = λ², 4λ², 16λ² all do worse).
  const double kappa = 0.25 * lambda2;
  m_singular.decay = kappa;
  m_switch = 1 / kappa;
  auto damp = [&](Kokkos::Array<double, SingularPart::max_terms>& c, int n, std::vector<double>& difference) {
    const auto undamped = c;
    for (int j = 0; j < n; ++j) { // Σ_{i≤j} c_i κ^{j−i}/(j−i)!
      double sum = 0, factor = 1;
      for (int i = j; i >= 0; --i) {
        sum += undamped[i] * factor;
        factor *= kappa / (j - i + 1);
      }
      c[j] = sum;
    }
    // S_J − S = Σ_{k≥n} d_k u^k with d_k = −Σ_{i<n} c_i (−κ)^{k−i}/(k−i)! (κu ≤ 1 where used).
    constexpr int extra = 40;
    difference.assign(n + extra, 0.0);
    for (int k = n; k < n + extra; ++k) {
      double sum = 0;
      for (int i = 0; i < n; ++i) {
        double term = c[i];
        for (int l = 1; l <= k - i; ++l) term *= -kappa / l;
        sum += term;
      }
      difference[k] = -sum;
    }
  };
  damp(m_singular.power, m_singular.power_terms, m_power_difference);
  damp(m_singular.log, m_singular.log_terms, m_log_difference);

  // t ∈ [α', α] by Gauss–Legendre in ln t, panels of width ≤ ¼: the integrand t^{s−d/2} e^{−tλ² − r²/4t}
  // is analytic there and at most doubly exponentially decaying.
  if (series_alpha < alpha) {
    std::vector<double> x, w;
    gauss_legendre(16, x, w);
    const double a = std::log(series_alpha), b = std::log(alpha);
    const int panels = int(std::ceil((b - a) / 0.25));
    const double width = (b - a) / panels;
    const double prefactor = 1 / (std::tgamma(s) * std::pow(4 * pi, 0.5 * dim));
    for (int panel = 0; panel < panels; ++panel)
      for (std::size_t i = 0; i < x.size(); ++i) {
        const double t = std::exp(a + width * (panel + 0.5 * (x[i] + 1)));
        m_nodes.push_back(t);
        m_weights.push_back(prefactor * 0.5 * width * w[i] * std::pow(t, s - 0.5 * dim) * std::exp(-t * lambda2));
      }
  }

  // The reference: images as far as the Sobolev kernel of the same s needs (h decays faster
  // here), wavevectors where L̂ is above the tail.
  const double tail = ewald.tail_exponent, a = 0.5 * dim - s;
  const double z_real = tail + std::max(0.0, (a - 1) * std::log(tail));
  m_reference = detail::EwaldReference(*this, 4 * alpha * z_real,
                                       ewald.long_range_modes ? long_range_cutoff2(alpha, tail) : -1.0);
}

double BesselKernel::symbol(double k2) const { return std::pow(m_lambda * m_lambda + 4 * pi * pi * k2, -m_s); }

double BesselKernel::value_at_zero() const {
  if (!has_finite_self_energy()) throw std::domain_error("the Bessel potential is infinite at 0 for 2s <= d");
  const double origin[3] = {0, 0, 0};
  return reference_regular_value(origin);
}

double BesselKernel::long_range_symbol(double k2) const {
  const double q = m_lambda * m_lambda + 4 * pi * pi * k2;
  // k = 0: L̂(0) − k̂(0) = −λ^{−2s} P(s, αλ²), without the cancellation (→ −α^s/Γ(s+1) as λ → 0).
  if (k2 == 0) return -std::pow(q, -m_s) * regularized_lower_gamma(m_s, m_ewald.alpha * q);
  return std::pow(q, -m_s) * regularized_upper_gamma(m_s, m_ewald.alpha * q);
}

double BesselKernel::long_range_cutoff2(double alpha, double tail) const {
  const double z_fourier = tail + std::max(0.0, (m_s - 1) * std::log(tail));
  return std::max(0.0, (z_fourier / alpha - m_lambda * m_lambda) / (4 * pi * pi));
}

double BesselKernel::short_range_value(double r2) const { return piece(Piece::value, r2); }
double BesselKernel::short_range_gradient_factor(double r2) const { return piece(Piece::gradient, r2); }
double BesselKernel::short_range_regular_value(double r2) const { return piece(Piece::regular_value, r2); }
double BesselKernel::short_range_regular_gradient_factor(double r2) const {
  return piece(Piece::regular_gradient, r2);
}

// S_J − S (or its gradient factor 2 d/du) at u = r² ≤ 1/κ, from the power series of the damping's
// differences: u^{p/2} D_A(u) + ½ ln u · u^m D_B(u).
double BesselKernel::correction(bool gradient, double r2) const {
  auto series = [&](const std::vector<double>& d, double& value, double& slope) {
    value = slope = 0;
    for (std::size_t k = d.size(); k-- > 0;) {
      slope = slope * r2 + value;
      value = value * r2 + d[k];
    }
  };
  double sum = 0, d, dd;
  const SingularPart& s = m_singular;
  if (s.power_terms > 0) {
    series(m_power_difference, d, dd);
    if (r2 > 0) {
      const double half_p = 0.5 * s.exponent;
      sum += gradient ? std::pow(r2, half_p - 1) * (s.exponent * d + 2 * r2 * dd) : std::pow(r2, half_p) * d;
    }
  }
  if (s.log_terms > 0 && r2 > 0) {
    series(m_log_difference, d, dd);
    const int m = s.log_power;
    const double log_u = std::log(r2), power = std::pow(r2, m - 1);
    sum += gradient ? power * (d * (1 + m * log_u) + r2 * log_u * dd) : 0.5 * log_u * power * r2 * d;
  }
  return sum;
}

// Σ_j β_j (the piece of G_{s+j} at α') + (the piece of ∫_{α'}^{α}). Beyond the singular terms the
// orders' whole short-range parts enter the regular pieces (at r = 0 their singular parts vanish).
// The regular pieces are h − S for the damped S: (h − S_J) + (S_J − S) near 0, h − S beyond.
double BesselKernel::piece(Piece what, double r2) const {
  const bool regular = what == Piece::regular_value || what == Piece::regular_gradient;
  const bool gradient = what == Piece::gradient || what == Piece::regular_gradient;
  if (regular && r2 > m_switch) {
    const double r = std::sqrt(r2);
    return gradient ? piece(Piece::gradient, r2) - m_singular.gradient_factor(r)
                    : piece(Piece::value, r2) - m_singular.value(r);
  }
  double sum = regular ? correction(gradient, r2) : 0.0;
  for (std::size_t j = 0; j < m_orders.size(); ++j) {
    const SobolevKernel& order = m_orders[j];
    const bool whole = !regular || (int(j) >= m_singular_terms && r2 > 0);
    const double term =
        m_beta[j] * (gradient ? (whole ? order.short_range_gradient_factor(r2) : order.short_range_regular_gradient_factor(r2))
                              : (whole ? order.short_range_value(r2) : order.short_range_regular_value(r2)));
    sum += term;
    if (int(j) >= m_singular_terms && std::abs(term) <= 1e-18 * std::abs(sum)) break;
  }
  for (std::size_t i = 0; i < m_nodes.size(); ++i) {
    const double t = m_nodes[i], e = m_weights[i] * std::exp(-r2 / (4 * t));
    sum += gradient ? -0.5 * e / t : e;
  }
  return sum;
}

} // namespace kmdflow
