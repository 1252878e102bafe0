#pragma once
// Probability densities on T^d (DESIGN.md §1): the targets ν and the initial densities ρ0.
// Host-side objects: they give values (for plots and the PDE), Fourier coefficients (for the
// target's potential and the energy), cumulative distributions and sampling.

#include <array>
#include <complex>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace kmdflow {

using Wavevector = std::array<int, 3>;

/// One term a·cos(2πk·x + φ) of a density 1 + Σ a cos(2πk·x + φ).
struct FourierMode {
  Wavevector k{0, 0, 0};
  double amplitude = 0.0;
  double phase = 0.0;
};

/// One component a·N_σ(x − c), wrapped onto the torus.
struct GaussianComponent {
  double weight = 1.0;
  std::array<double, 3> center{0, 0, 0};
  double sigma = 0.1;
};

/// A density on [0, 1), not necessarily normalised: a conditional of a Knothe–Rosenblatt
/// rearrangement. Either a trigonometric polynomial f(y) = b_0 + 2 Re Σ_{k≥1} b_k e^{2πiky}, or a
/// mixture of wrapped normals Σ_m w_m N_{σ_m}(y − c_m).
struct Density1D {
  std::vector<std::complex<double>> b; ///< Fourier form (b[0] real)
  std::vector<double> w, c, sigma;     ///< mixture form

  double value(double y) const;
  double cumulative(double y) const; ///< ∫_0^y f
  double total() const;              ///< ∫_0^1 f
  /// y with ∫_0^y f = u ∫_0^1 f, u ∈ [0, 1]: safeguarded Newton iteration, to round-off.
  double quantile(double u) const;
};

class Density {
public:
  virtual ~Density() = default;
  virtual int dim() const = 0;
  virtual std::string type() const = 0;
  /// ρ(x), x ∈ T^d.
  virtual double value(const double* x) const = 0;
  /// ρ̂(k) = ∫ e^{−2πik·x} ρ(x) dx.
  virtual std::complex<double> fourier_coefficient(const Wavevector& k) const = 0;
  /// The wavevectors of a half space (one of each ±k pair) outside which ρ̂ is below `cutoff`
  /// times its largest non-zero coefficient; empty for the uniform density.
  virtual std::vector<Wavevector> spectrum(double cutoff) const = 0;
  /// F(x) = ∫_0^x ρ, for d = 1.
  virtual double cumulative(double x) const = 0;
  /// A lower bound of ρ that is attained up to a relative 1e-9 (a grid search then refinement).
  virtual double minimum() const = 0;

  /// The density of coordinate `axis` given the earlier ones, prefix[0 … axis−1], with the later
  /// ones integrated out (unnormalised).
  virtual Density1D conditional(const double* prefix, int axis) const = 0;

  /// x = F⁻¹(u) for u ∈ [0, 1] (d = 1): safeguarded Newton iteration, to round-off.
  double quantile(double u) const;
  /// The Knothe–Rosenblatt map (DESIGN.md §1): x_0 = F_0⁻¹(u_0), then x_a the quantile u_a of
  /// the conditional of coordinate a given x_0 … x_{a−1}. Pushes the uniform density onto ρ.
  void knothe_rosenblatt(const double* u, double* x) const;
};

class UniformDensity final : public Density {
public:
  explicit UniformDensity(int dim) : m_dim(dim) {}
  int dim() const override { return m_dim; }
  std::string type() const override { return "uniform"; }
  double value(const double*) const override { return 1.0; }
  std::complex<double> fourier_coefficient(const Wavevector& k) const override;
  std::vector<Wavevector> spectrum(double) const override { return {}; }
  double cumulative(double x) const override { return x; }
  double minimum() const override { return 1.0; }
  Density1D conditional(const double*, int) const override;

private:
  int m_dim;
};

/// ρ = 1 + Σ a cos(2πk·x + φ). Throws std::invalid_argument naming the problem if ρ is not
/// positive everywhere.
class FourierDensity final : public Density {
public:
  FourierDensity(int dim, std::vector<FourierMode> modes, std::string type = "fourier");
  int dim() const override { return m_dim; }
  std::string type() const override { return m_type; }
  double value(const double* x) const override;
  std::complex<double> fourier_coefficient(const Wavevector& k) const override;
  std::vector<Wavevector> spectrum(double cutoff) const override;
  double cumulative(double x) const override;
  double minimum() const override { return m_minimum; }
  Density1D conditional(const double* prefix, int axis) const override;
  const std::vector<FourierMode>& modes() const { return m_modes; }

private:
  int m_dim;
  std::vector<FourierMode> m_modes;
  std::string m_type;
  std::vector<std::complex<double>> m_dense; // d = 1: ρ = 1 + 2 Re Σ_{k≥1} c_k e^{2πikx}
  double m_minimum;
};

/// The perturbation of uniform with Sobolev regularity r (DESIGN.md §1):
/// ρ0 = 1 + a Σ_{k∈H, 0<|k|∞≤K} |k|^{−(r+d/2)} cos(2πk·x + θ_k), with random phases θ_k drawn from
/// `seed` and a chosen so that min ρ0 = rho_min.
FourierDensity make_perturbed_density(int dim, double r, int max_mode, double rho_min,
                                      std::uint64_t seed);

/// Σ_m a_m N_{σ_m}(x − c_m) wrapped onto T^d, weights normalised to sum 1.
class WrappedGaussianMixture final : public Density {
public:
  WrappedGaussianMixture(int dim, std::vector<GaussianComponent> components);
  int dim() const override { return m_dim; }
  std::string type() const override { return "wrapped_gaussians"; }
  double value(const double* x) const override;
  std::complex<double> fourier_coefficient(const Wavevector& k) const override;
  std::vector<Wavevector> spectrum(double cutoff) const override;
  double cumulative(double x) const override;
  double minimum() const override { return m_minimum; }
  Density1D conditional(const double* prefix, int axis) const override;
  const std::vector<GaussianComponent>& components() const { return m_components; }

private:
  int m_dim;
  std::vector<GaussianComponent> m_components;
  double m_minimum;
};

} // namespace kmdflow
