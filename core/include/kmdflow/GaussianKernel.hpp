#pragma once
// The Gaussian kernel on T^d: k(x) = Σ_{n∈Z^d} exp(−|x − n|²/(2σ²)), k̂(k) = (2πσ²)^{d/2} e^{−2π²σ²|k|²}
// — the kernel of Gaussian MMD flows. Smooth everywhere: no Ewald split. A RealSpaceKernel
// (KernelConcept.hpp): the direct engines sum the images that matter pair by pair, the spectral
// engine is a pure NUFFT.
//
// k factorises over the axes, k(x) = Π_a θ(x_a) with θ(y) = Σ_n e^{−(y−n)²/(2σ²)}, so a pair costs
// d one-dimensional sums: the Fourier series √(2π)σ (1 + 2 Σ_{k≤K} e^{−2π²σ²k²} cos 2πky) where
// K ≤ 8 modes suffice (σ ≳ 0.18: one sine and cosine, then a recurrence), else the images
// n = −M…M of the minimum image y ∈ [−½, ½] (the first one left out lies beyond ½ + M, where
// e^{−(½+M)²/2σ²} < e^{−tail}; M ≤ 2 there).

#include <kmdflow/KernelConcept.hpp>

namespace kmdflow {

class GaussianKernel {
public:
  static constexpr const char* family = "gaussian";
  static constexpr std::array<KernelParameter, 1> config_keys{
      {{"sigma", "must be a number >= 1e-3 (the width σ)", 1e-3, false}}};
  static GaussianKernel from_config(const nlohmann::json& config) {
    return {config["dim"].get<int>(), config["kernel"]["sigma"].get<double>()};
  }
  static constexpr double tail = 40;   ///< terms below e^{−tail} of the largest are dropped
  static constexpr int max_modes = 8;  ///< Fourier modes per axis, where they suffice

  /// θ(y) and θ'(y) on one axis, and k and ∇k on T^d from them; device callable.
  struct PairFunctor {
    double inv_two_sigma2 = 0; // 1/(2σ²)
    int images = 0;            // M, when `fourier` is false
    bool fourier = false;
    int modes = 0;                              // K, when `fourier` is true
    Kokkos::Array<double, max_modes + 1> f{};   // √(2π)σ, then 2√(2π)σ e^{−2π²σ²k²}

    template <class Real> KOKKOS_INLINE_FUNCTION void theta(Real dx, Real& value, Real& slope) const {
      const Real y = dx - Kokkos::round(dx); // the minimum image
      value = 0, slope = 0;
      if (!fourier) {
        for (int n = -images; n <= images; ++n) {
          const Real z = y - Real(n);
          const Real e = Kokkos::exp(-Real(inv_two_sigma2) * z * z);
          value += e;
          slope -= Real(2 * inv_two_sigma2) * z * e;
        }
        return;
      }
      const Real two_pi = Real(2 * Kokkos::numbers::pi);
      const Real c1 = Kokkos::cos(two_pi * y), s1 = Kokkos::sin(two_pi * y);
      Real c = 1, s = 0;
      value = Real(f[0]);
      for (int k = 1; k <= modes; ++k) {
        const Real ck = c * c1 - s * s1;
        s = s * c1 + c * s1;
        c = ck;
        value += Real(f[k]) * c;
        slope -= Real(f[k]) * two_pi * Real(k) * s;
      }
    }
    /// k(dx) for a coordinate difference dx ∈ (−1, 1)^Dim.
    template <int Dim, class Real = double>
    KOKKOS_INLINE_FUNCTION Real value(const Kokkos::Array<double, Dim>& dx) const {
      Real product = 1;
      for (int a = 0; a < Dim; ++a) {
        Real v, s;
        theta(Real(dx[a]), v, s);
        product *= v;
      }
      return product;
    }
    /// ∇k(dx): component a is θ'(dx_a) Π_{b≠a} θ(dx_b).
    template <int Dim, class Real = double>
    KOKKOS_INLINE_FUNCTION Kokkos::Array<Real, Dim> gradient(const Kokkos::Array<double, Dim>& dx) const {
      Real v[Dim], s[Dim];
      for (int a = 0; a < Dim; ++a) theta(Real(dx[a]), v[a], s[a]);
      Kokkos::Array<Real, Dim> g;
      for (int a = 0; a < Dim; ++a) {
        g[a] = s[a];
        for (int b = 0; b < Dim; ++b)
          if (b != a) g[a] *= v[b];
      }
      return g;
    }
  };

  /// Throws std::invalid_argument for a dimension outside 1…3 or σ < 1e-3.
  GaussianKernel(int dim, double sigma);

  int dim() const { return m_dim; }
  double sigma() const { return m_sigma; }
  nlohmann::json parameters() const { return {{"type", family}, {"sigma", m_sigma}}; }

  double symbol(double k2) const;
  double symbol_at_zero() const { return symbol(0.0); }
  bool has_finite_self_energy() const { return true; }
  double value_at_zero() const;
  bool has_singular_gradient() const { return false; }
  /// The image sums to every image within 10σ (independent of the pair functor's choice), less
  /// the mean k̂(0).
  double reference_value(const double* x) const;
  void reference_gradient(const double* x, double* gradient) const;

  PairFunctor pair_functor() const { return m_pair; }
  double spectral_cutoff2(double tail) const;

private:
  int m_dim;
  double m_sigma;
  PairFunctor m_pair;
};

static_assert(RealSpaceKernel<GaussianKernel>);

} // namespace kmdflow
