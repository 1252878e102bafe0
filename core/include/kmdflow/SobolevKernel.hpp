#pragma once
// The periodic Riesz/Sobolev kernel G_s on T^d (DESIGN.md §1, §3), host side: closed forms,
// the Ewald reference, and the split into a singular part and a smooth remainder that the fast
// evaluators (SobolevKernelEvaluator1D) tabulate. A SplitKernel (KernelConcept.hpp).

#include <kmdflow/KernelConcept.hpp>
#include <kmdflow/detail/EwaldReference.hpp>

#include <array>
#include <vector>

namespace kmdflow {

/// G_s(x) = Σ_{k≠0} (2π|k|)^{−2s} e^{2πik·x} on T^d, d ∈ {1, 2, 3}, s > 0: the homogeneous
/// Sobolev norm Ḣ^{−s}.
class SobolevKernel {
public:
  static constexpr const char* family = "sobolev";
  /// Its order is the configuration's top-level `s` (DESIGN.md §7), not a key of `kernel`.
  static constexpr std::array<KernelParameter, 0> config_keys{};
  static SobolevKernel from_config(const nlohmann::json& config) { return {config["dim"].get<int>(), config["s"].get<double>()}; }

  /// The largest order: the coefficients (2π|k|)^−2s fall by (2π)^−2s ≈ 10^(−1.6 s) from |k| = 1,
  /// so beyond ~50 the energies leave the range of doubles (NaN at s = 10⁴) and the split's
  /// series take unbounded time (s = 9·10¹⁵ did not finish).
  static constexpr double max_order = 50;

  /// Throws std::invalid_argument for a dimension outside 1…3, s ≤ 0 or s > max_order, or s within
  /// 1e-6 of (but not at) a logarithmic case, where the Riesz constant blows up and the split is
  /// ill-conditioned.
  SobolevKernel(int dim, double s, EwaldParameters ewald = {});

  int dim() const { return m_dim; }
  double s() const { return m_s; }
  const EwaldParameters& ewald_parameters() const { return m_ewald; }

  /// Fourier symbol (2π|k|)^{−2s}, for k2 = |k|² > 0.
  double symbol(double k2) const;
  /// 0: G_s has mean zero.
  double symbol_at_zero() const { return 0.0; }
  nlohmann::json parameters() const { return {{"type", family}, {"s", m_s}}; }

  // Singular part S near 0 (DESIGN.md §1): c|x|^{2s−d}, or c_m|x|^{2m} log|x| when 2s − d = 2m is
  // an even integer ≥ 0. G − S is smooth on the minimum-image cell.
  bool is_log_case() const { return m_log_case; }
  int log_power() const { return m_log_power; }      ///< m in the log case
  double singular_exponent() const { return 2 * m_s - m_dim; } ///< 2s − d
  double singular_constant() const { return m_c; }   ///< c, or c_m in the log case
  double singular_value(double r) const;             ///< S(r), r > 0
  /// ∇S(x) = x · singular_gradient_factor(r).
  double singular_gradient_factor(double r) const;
  /// S as a SingularPart: one term.
  SingularPart singular_part() const;

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
  double reference_value(const double* x) const { return ewald_value(x); }
  void reference_gradient(const double* x, double* gradient) const { ewald_gradient(x, gradient); }
  /// G − S and ∇(G − S) at a point of the minimum-image cell [−½, ½]^d (x = 0 allowed).
  double ewald_regular_value(const double* x) const;
  void ewald_regular_gradient(const double* x, double* gradient) const;

  /// This kernel split at α (no wavevector list).
  SobolevKernel with_split(double alpha, double tail) const { return {m_dim, m_s, {alpha, tail, false}}; }

  // The pieces of the Ewald split at this kernel's α, for engines that sum them separately:
  // G(x) = Σ_n h(|x + n|) + Σ_{k≠0} L̂(k) e^{2πik·x} − α^s/Γ(s+1).
  double short_range_value(double r2) const;           ///< h(r), r² = r2 > 0
  double short_range_gradient_factor(double r2) const; ///< ∇h(x) = x · factor
  double short_range_regular_value(double r2) const;   ///< h − S (smooth in r², r2 ≥ 0)
  double short_range_regular_gradient_factor(double r2) const; ///< ∇(h − S) = x · factor
  /// The half space of wavevectors |k| ≤ k_cut and 2L̂(k) for each (so that the long-range part is
  /// Σ_{k∈H} 2L̂(k) cos(2πk·x)).
  const std::vector<std::array<int, 3>>& long_range_wavevectors() const { return m_reference.wavevectors(); }
  const std::vector<double>& long_range_symbols() const { return m_reference.symbols(); }
  /// α^s/Γ(s+1), the constant of the split.
  double split_constant() const;
  /// L̂(k) = (2π|k|)^{−2s} Q(s, 4π²α|k|²) for k2 = |k|² > 0; −α^s/Γ(s+1) at k2 = 0.
  double long_range_symbol(double k2) const;
  /// z/(4π²α) with z = tail + max(0, (s − 1) ln tail): the power prefactor z^{s−1} of the
  /// incomplete gamma's tail moves the cut by a logarithm.
  double long_range_cutoff2(double alpha, double tail) const;

private:
  int m_dim;
  double m_s;
  EwaldParameters m_ewald;
  bool m_log_case = false;
  int m_log_power = 0;
  double m_c = 0.0;
  double m_a = 0.0;           // d/2 − s
  double m_prefactor = 0.0;   // 1 / (Γ(s) (4π)^{d/2})
  detail::EwaldReference m_reference;
};

static_assert(SplitKernel<SobolevKernel>);

} // namespace kmdflow
