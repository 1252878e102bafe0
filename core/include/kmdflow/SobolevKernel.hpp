#pragma once
// The periodic Riesz/Sobolev kernel G_s on T^d (DESIGN.md §1, §3), host side: closed forms,
// the Ewald reference, and the split into a singular part and a smooth remainder that the fast
// evaluators (SobolevKernelEvaluator1D) tabulate.

#include <array>
#include <vector>

namespace kmdflow {

/// Parameters of the Ewald splitting of G_s at the split parameter α (DESIGN.md §3).
struct EwaldParameters {
  double alpha = 1.0 / 80;     ///< split parameter: real space decays like e^{−r²/4α}
  double tail_exponent = 46.0; ///< terms below e^{−tail_exponent} are dropped (both spaces)
  bool long_range_modes = true; ///< enumerate the long-range wavevectors (false: engines that sum them their own way)
};

/// G_s(x) = Σ_{k≠0} (2π|k|)^{−2s} e^{2πik·x} on T^d, d ∈ {1, 2, 3}, s > 0.
class SobolevKernel {
public:
  /// Throws std::invalid_argument for a dimension outside 1…3, s ≤ 0, or s within 1e-6 of (but
  /// not at) a logarithmic case, where the Riesz constant blows up and the split is ill-conditioned.
  SobolevKernel(int dim, double s, EwaldParameters ewald = {});

  int dim() const { return m_dim; }
  double s() const { return m_s; }
  const EwaldParameters& ewald_parameters() const { return m_ewald; }

  /// Fourier symbol (2π|k|)^{−2s}, for k2 = |k|² > 0.
  double symbol(double k2) const;

  // Singular part S near 0 (DESIGN.md §1): c|x|^{2s−d}, or c_m|x|^{2m} log|x| when 2s − d = 2m is
  // an even integer ≥ 0. G − S is smooth on the minimum-image cell.
  bool is_log_case() const { return m_log_case; }
  int log_power() const { return m_log_power; }      ///< m in the log case
  double singular_exponent() const { return 2 * m_s - m_dim; } ///< 2s − d
  double singular_constant() const { return m_c; }   ///< c, or c_m in the log case
  double singular_value(double r) const;             ///< S(r), r > 0
  /// ∇S(x) = x · singular_gradient_factor(r).
  double singular_gradient_factor(double r) const;

  /// True when 2s > d: G(0) and the full energy are finite.
  bool has_finite_self_energy() const { return 2 * m_s > m_dim; }
  /// G(0) = Σ_{k≠0} (2π|k|)^{−2s}; only when has_finite_self_energy().
  double value_at_zero() const;
  /// |∇G| is unbounded at 0 (2s < d + 1).
  bool has_singular_gradient() const { return 2 * m_s < m_dim + 1; }

  /// d = 1 and s a positive integer: Bernoulli closed forms are available.
  bool has_closed_form() const;
  /// G_s(x) = (−1)^{s+1} B_{2s}({x}) / (2s)! (d = 1, integer s).
  double closed_form_value(double x) const;
  /// G_s'(x) = (−1)^{s+1} B_{2s−1}({x}) / (2s−1)!, with G_s'(0) = 0 (d = 1, integer s).
  double closed_form_derivative(double x) const;
  /// Monomial coefficients of G (degree 2s) and G' (degree 2s−1) in y = {x} (d = 1, integer s).
  std::vector<double> closed_form_value_polynomial() const;
  std::vector<double> closed_form_derivative_polynomial() const;

  // The Ewald reference, any d and s. x has dim() components and is not a lattice point.
  double ewald_value(const double* x) const;
  void ewald_gradient(const double* x, double* gradient) const;
  /// G − S and ∇(G − S) at a point of the minimum-image cell [−½, ½]^d (x = 0 allowed).
  double ewald_regular_value(const double* x) const;
  void ewald_regular_gradient(const double* x, double* gradient) const;

  // The pieces of the Ewald split at this kernel's α, for engines that sum them separately:
  // G(x) = Σ_n h(|x + n|) + Σ_{k≠0} L̂(k) e^{2πik·x} − α^s/Γ(s+1).
  double short_range_value(double r2) const;           ///< h(r), r² = r2 > 0
  double short_range_gradient_factor(double r2) const; ///< ∇h(x) = x · factor
  double short_range_regular_value(double r2) const;   ///< h − S (smooth in r², r2 ≥ 0)
  double short_range_regular_gradient_factor(double r2) const; ///< ∇(h − S) = x · factor
  /// The half space of wavevectors |k| ≤ k_cut and 2L̂(k) for each (so that the long-range part is
  /// Σ_{k∈H} 2L̂(k) cos(2πk·x)).
  const std::vector<std::array<int, 3>>& long_range_wavevectors() const { return m_wavevectors; }
  const std::vector<double>& long_range_symbols() const { return m_long_range_symbol; }
  /// α^s/Γ(s+1), the constant of the split.
  double split_constant() const;

private:
  double long_range_value(const double* x) const;
  void long_range_gradient(const double* x, double* gradient) const;
  template <class Visit> void for_each_image(const double* x, Visit&& visit) const;

  int m_dim;
  double m_s;
  EwaldParameters m_ewald;
  bool m_log_case = false;
  int m_log_power = 0;
  double m_c = 0.0;
  double m_a = 0.0;           // d/2 − s
  double m_prefactor = 0.0;   // 1 / (Γ(s) (4π)^{d/2})
  double m_real_cutoff2 = 0.0;
  std::vector<std::array<int, 3>> m_wavevectors; // half space, |k| ≤ k_cut
  std::vector<double> m_long_range_symbol;       // 2 L̂(k) for each half-space wavevector
};

} // namespace kmdflow
