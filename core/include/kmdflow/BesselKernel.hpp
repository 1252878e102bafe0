#pragma once
// The Bessel potential on T^d, the periodic Matérn kernel: k̂(k) = (λ² + 4π²|k|²)^{−s} for every
// k ∈ Z^d, s > 0, λ > 0 — the inhomogeneous Sobolev norm H^{−s}. A SplitKernel (KernelConcept.hpp).
//
// Its Ewald split follows from (λ² + 4π²|k|²)^{−s} = Γ(s)^{−1} ∫_0^∞ t^{s−1} e^{−t(λ²+4π²|k|²)} dt
// cut at t = α:
//   L̂(k) = (λ² + 4π²|k|²)^{−s} Q(s, α(λ² + 4π²|k|²)), k ≠ 0; the mean removed (KernelConcept.hpp),
//   the constant is L̂(0) − k̂(0) = −λ^{−2s} P(s, αλ²);
//   h(r) = Γ(s)^{−1} (4π)^{−d/2} ∫_0^α t^{s−1−d/2} e^{−tλ² − r²/4t} dt.
// Expanding e^{−tλ²} = Σ_j (−tλ²)^j/j! on t ≤ α' = min(α, 1/λ²) writes h as Σ_j β_j h_{s+j}, the
// short-range parts of the Sobolev kernels of orders s + j with β_j = binom(−s, j) λ^{2j} (terms
// shrink like 1/j!, without cancellation since λ²α' ≤ 1); the rest, t ∈ [α', α], is a smooth
// function of r² integrated by Gauss–Legendre quadrature. The singular part starts from
// S_J = Σ_{j≤J} β_j S_{s+j} (the Sobolev singular parts), J large enough that the remainder is
// smooth to r^{16}; S_J grows like e^{λr} while the kernel decays like e^{−λr}, so it is damped:
// S = e^{−κr²} T, κ = λ²/4, with T the Taylor polynomials of e^{κr²} S_J (same singular terms, to
// the same order). The regular part h − S is h − S_J plus the (smooth, explicit) S_J − S where
// κr² ≤ 1, and h − S directly beyond.
//
// With ν = s − d/2 > 0 it is, up to a constant factor, the periodic Matérn kernel of smoothness ν
// and length scale ℓ = √(2ν)/λ (README, "Kernels").

#include <kmdflow/SobolevKernel.hpp>

#include <vector>

namespace kmdflow {

class BesselKernel {
public:
  static constexpr const char* family = "bessel";
  /// λ ≤ 40: the engines tabulate the regular part in 32 pieces over r ≤ ½, which resolve the
  /// damping e^{−λ²r²/4} to 2e-12 (L2-relative velocities, measured) at λ = 40 and fail their
  /// accuracy check from λ ≈ 50.
  static constexpr double max_lambda = 40;
  static constexpr std::array<KernelParameter, 2> config_keys{
      {{"s", "must be a number in (0, 50] (the order: the symbol is (λ² + 4π²|k|²)^−s)", 0.0, true, 50.0},
       {"lambda", "must be a number in (0, 40] (λ, an inverse length; this version's tables end at 40)", 0.0, true,
        max_lambda}}};
  static BesselKernel from_config(const nlohmann::json& config) {
    return {config["dim"].get<int>(), config["kernel"]["s"].get<double>(), config["kernel"]["lambda"].get<double>()};
  }

  /// Throws std::invalid_argument for a dimension outside 1…3, s ≤ 0, λ outside (0, 40], or s
  /// within 1e-6 of (but not at) a logarithmic case of the Sobolev kernel.
  BesselKernel(int dim, double s, double lambda, EwaldParameters ewald = {});

  int dim() const { return m_dim; }
  double s() const { return m_s; }
  double lambda() const { return m_lambda; }
  nlohmann::json parameters() const { return {{"type", family}, {"s", m_s}, {"lambda", m_lambda}}; }

  double symbol(double k2) const;
  double symbol_at_zero() const { return symbol(0.0); }
  bool has_finite_self_energy() const { return 2 * m_s > m_dim; }
  double value_at_zero() const;
  bool has_singular_gradient() const { return 2 * m_s < m_dim + 1; }
  double reference_value(const double* x) const { return m_reference.value(*this, x); }
  void reference_gradient(const double* x, double* gradient) const { m_reference.gradient(*this, x, gradient); }
  /// k − S and ∇(k − S) at a point of the minimum-image cell (x = 0 allowed).
  double reference_regular_value(const double* x) const { return m_reference.regular_value(*this, x); }
  void reference_regular_gradient(const double* x, double* gradient) const {
    m_reference.regular_gradient(*this, x, gradient);
  }

  // The split (KernelConcept.hpp).
  SingularPart singular_part() const { return m_singular; }
  BesselKernel with_split(double alpha, double tail) const { return {m_dim, m_s, m_lambda, {alpha, tail, false}}; }
  const EwaldParameters& ewald_parameters() const { return m_ewald; }
  double short_range_value(double r2) const;
  double short_range_gradient_factor(double r2) const;
  double short_range_regular_value(double r2) const;
  double short_range_regular_gradient_factor(double r2) const;
  double long_range_symbol(double k2) const;
  double long_range_cutoff2(double alpha, double tail) const;

private:
  enum class Piece { value, gradient, regular_value, regular_gradient };
  double piece(Piece what, double r2) const;

  int m_dim;
  double m_s, m_lambda;
  EwaldParameters m_ewald;
  std::vector<SobolevKernel> m_orders; // G_{s+j} split at α' = min(α, 1/λ²)
  std::vector<double> m_beta;          // binom(−s, j) λ^{2j}
  int m_singular_terms = 0;            // S_J = Σ_{j < m_singular_terms} β_j S_{s+j}
  SingularPart m_singular;             // S = e^{−κr²} T
  double m_switch = 0;                 // r² = 1/κ: below it h − S = (h − S_J) + (S_J − S)
  // S_J − S = u^{p/2} D_A(u) + ½ ln u · u^m D_B(u), u = r², the D as power series in u.
  std::vector<double> m_power_difference, m_log_difference;
  double correction(bool gradient, double r2) const;
  // ∫_{α'}^{α}: nodes t_i and weights Γ(s)^{−1}(4π)^{−d/2} w_i t_i^{s−d/2} e^{−t_iλ²} (in ln t).
  std::vector<double> m_nodes, m_weights;
  detail::EwaldReference m_reference;
};

static_assert(SplitKernel<BesselKernel>);

} // namespace kmdflow
