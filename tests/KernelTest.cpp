// G_s: the Bernoulli closed forms, the Ewald reference, truncated Fourier sums and the fast 1D
// evaluator, checked against each other (DESIGN.md §3).
#include <kmdflow/SobolevKernel.hpp>
#include <kmdflow/SobolevKernelEvaluator1D.hpp>
#include <kmdflow/SpecialFunctions.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

using namespace kmdflow;

namespace {

std::vector<double> sample_points(int n) {
  std::vector<double> x;
  for (int i = 0; i < n; ++i) x.push_back(std::fmod(0.0137 + 0.61803398874989 * i, 1.0));
  return x;
}

// max |G| on the circle: G(0) for 2s > 1, which bounds every value.
double value_scale(const SobolevKernel& k) { return std::abs(k.value_at_zero()); }
double derivative_scale(const SobolevKernel& k) {
  double m = 0;
  for (double x = 0.01; x < 0.5; x += 0.01) {
    double g;
    k.ewald_gradient(&x, &g);
    m = std::max(m, std::abs(g));
  }
  return m;
}

} // namespace

class ClosedForm : public ::testing::TestWithParam<int> {};

TEST_P(ClosedForm, MatchesEwald) {
  const SobolevKernel kernel(1, GetParam());
  ASSERT_TRUE(kernel.has_closed_form());
  const double vs = value_scale(kernel), ds = derivative_scale(kernel);
  for (double x : sample_points(200)) {
    double g;
    kernel.ewald_gradient(&x, &g);
    EXPECT_NEAR(kernel.closed_form_value(x), kernel.ewald_value(&x), 1e-12 * vs) << "x = " << x;
    EXPECT_NEAR(kernel.closed_form_derivative(x), g, 1e-12 * ds) << "x = " << x;
  }
}

TEST_P(ClosedForm, ValueAtZeroIsZeta) {
  // G_s(0) = Σ_{k≠0} (2πk)^{−2s} = 2ζ(2s)/(2π)^{2s}
  const int s = GetParam();
  const SobolevKernel kernel(1, s);
  const double exact = 2 * riemann_zeta(2.0 * s) / std::pow(2 * pi, 2 * s);
  EXPECT_NEAR(kernel.value_at_zero(), exact, 1e-14 * exact);
  EXPECT_NEAR(kernel.closed_form_value(0.0), exact, 1e-14 * exact);
}

INSTANTIATE_TEST_SUITE_P(Integers, ClosedForm, ::testing::Values(1, 2, 3, 4));

TEST(Kernel, ValueAtZeroForFractionalOrders) {
  for (double s : {0.75, 1.25, 1.5, 2.5}) {
    const SobolevKernel kernel(1, s);
    const double exact = 2 * riemann_zeta(2 * s) / std::pow(2 * pi, 2 * s);
    EXPECT_NEAR(kernel.value_at_zero(), exact, 1e-13 * exact) << "s = " << s;
  }
}

// Truncated Fourier sums converge like K^{d−2s}: a check where that is fast (s ≥ 2), within the
// tail bound Σ_{|k|∞>K} (2π|k|)^{−2s}.
TEST(Kernel, EwaldMatchesTruncatedFourierSums1D) {
  const int K = 200;
  for (double s : {2.0, 2.5, 3.0}) {
    const SobolevKernel kernel(1, s);
    // Σ_{k>K} 2 (2πk)^{−2s} ≤ 2 (2π)^{−2s} K^{1−2s}/(2s−1)
    const double tail = 2 * std::pow(2 * pi, -2 * s) * std::pow(K, 1 - 2 * s) / (2 * s - 1);
    for (double x : sample_points(40)) {
      double value = 0, derivative = 0;
      for (int k = 1; k <= K; ++k) {
        const double c = 2 * std::pow(2 * pi * k, -2 * s);
        value += c * std::cos(2 * pi * k * x);
        derivative -= c * 2 * pi * k * std::sin(2 * pi * k * x);
      }
      const double derivative_tail = 2 * std::pow(2 * pi, 1 - 2 * s) * std::pow(K, 2 - 2 * s) / (2 * s - 2);
      double g;
      kernel.ewald_gradient(&x, &g);
      EXPECT_LE(std::abs(kernel.ewald_value(&x) - value), tail + 1e-16) << "s = " << s;
      EXPECT_LE(std::abs(g - derivative), derivative_tail + 1e-15) << "s = " << s;
    }
  }
}

TEST(Kernel, EwaldMatchesTruncatedFourierSums2D) {
  const int K = 40;
  const double s = 3.0;
  const SobolevKernel kernel(2, s);
  // The tail over |k|∞ > K, summed out to 8K, plus the integral bound beyond.
  double tail = 0;
  for (int i = -8 * K; i <= 8 * K; ++i)
    for (int j = -8 * K; j <= 8 * K; ++j)
      if (std::max(std::abs(i), std::abs(j)) > K) tail += std::pow(4 * pi * pi * (i * i + j * j), -s);
  tail += 2 * pi * std::pow(2 * pi, -2 * s) * std::pow(8.0 * K, 2 - 2 * s) / (2 * s - 2);
  for (int n = 0; n < 10; ++n) {
    const double x[2] = {std::fmod(0.1 + 0.377 * n, 1.0), std::fmod(0.23 + 0.611 * n, 1.0)};
    double value = 0;
    for (int i = -K; i <= K; ++i)
      for (int j = -K; j <= K; ++j)
        if (i || j)
          value += std::pow(4 * pi * pi * (i * i + j * j), -s) * std::cos(2 * pi * (i * x[0] + j * x[1]));
    EXPECT_LE(std::abs(kernel.ewald_value(x) - value), tail + 1e-15);
  }
}

// The Ewald sum does not depend on its split parameter (DESIGN.md §3), in every dimension,
// log cases included (d = 1: s = 1.5, 2.5; d = 2: s = 1, 2, 3; d = 3: s = 1.5, 2.5).
TEST(Kernel, EwaldIndependentOfSplitParameter) {
  for (int dim : {1, 2, 3})
    for (double s : {0.3, 0.5, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0}) {
      const SobolevKernel a(dim, s, {0.006, 46}), b(dim, s, {0.0125, 46}), c(dim, s, {0.03, 46});
      for (int n = 0; n < 12; ++n) {
        const double x[3] = {std::fmod(0.11 + 0.377 * n, 1.0) - 0.5, std::fmod(0.29 + 0.611 * n, 1.0) - 0.5,
                             std::fmod(0.07 + 0.233 * n, 1.0) - 0.5};
        const double va = a.ewald_value(x), vb = b.ewald_value(x), vc = c.ewald_value(x);
        const double scale = std::max(1.0, std::abs(va));
        EXPECT_NEAR(va, vb, 1e-13 * scale) << "d = " << dim << ", s = " << s;
        EXPECT_NEAR(va, vc, 1e-13 * scale) << "d = " << dim << ", s = " << s;
        double ga[3], gc[3];
        a.ewald_gradient(x, ga);
        c.ewald_gradient(x, gc);
        for (int d = 0; d < dim; ++d)
          EXPECT_NEAR(ga[d], gc[d], 1e-13 * std::max(1.0, std::abs(ga[d]))) << "d = " << dim << ", s = " << s;
      }
    }
}

// ∇G is the derivative of G (a fourth-order central difference).
TEST(Kernel, GradientIsDerivativeOfValue) {
  for (int dim : {1, 2, 3})
    for (double s : {0.5, 1.0, 1.5, 2.5}) {
      const SobolevKernel kernel(dim, s);
      const double x[3] = {0.21, -0.17, 0.33};
      double g[3];
      kernel.ewald_gradient(x, g);
      for (int d = 0; d < dim; ++d) {
        const double h = 1e-3;
        auto at = [&](double shift) {
          double y[3] = {x[0], x[1], x[2]};
          y[d] += shift;
          return kernel.ewald_value(y);
        };
        const double fd = (8 * (at(h) - at(-h)) - (at(2 * h) - at(-2 * h))) / (12 * h);
        EXPECT_NEAR(g[d], fd, 1e-9 * std::max(1.0, std::abs(g[d]))) << "d = " << dim << ", s = " << s;
      }
    }
}

TEST(Kernel, SingularPartConstants) {
  // d = 1, s = 1.5 is a log case (2s − d = 2): c_1 = 2(−1)²/(1! 4^{1.5} π^{½} Γ(1.5)) = 1/(2π),
  // as G'' = −Σ_{k≠0} e^{2πikx}/(2π|k|) = ln(2 sin πx)/π ≈ ln|x|/π = (c_1 x² ln|x|)'' near 0.
  const SobolevKernel log_case(1, 1.5);
  ASSERT_TRUE(log_case.is_log_case());
  EXPECT_EQ(log_case.log_power(), 1);
  EXPECT_NEAR(log_case.singular_constant(), 1 / (2 * pi), 1e-15);
  // d = 2, s = 1: G ≈ −log|x|/(2π), the 2D Coulomb kernel.
  const SobolevKernel coulomb2(2, 1.0);
  EXPECT_TRUE(coulomb2.is_log_case());
  EXPECT_NEAR(coulomb2.singular_constant(), -1 / (2 * pi), 1e-15);
  // d = 3, s = 1: G ≈ 1/(4π|x|).
  const SobolevKernel coulomb3(3, 1.0);
  EXPECT_FALSE(coulomb3.is_log_case());
  EXPECT_NEAR(coulomb3.singular_constant(), 1 / (4 * pi), 1e-15);
  // d = 1, s = 1: c|x| with c = Γ(−½)/(4 √π Γ(1)) = −½.
  EXPECT_NEAR(SobolevKernel(1, 1.0).singular_constant(), -0.5, 1e-15);
}

TEST(Kernel, RefusesIllConditionedOrders) {
  EXPECT_THROW(SobolevKernel(1, 1.5 + 1e-8), std::invalid_argument);
  EXPECT_THROW(SobolevKernel(2, 1.0 - 1e-9), std::invalid_argument);
  EXPECT_THROW(SobolevKernel(4, 1.0), std::invalid_argument);
  EXPECT_THROW(SobolevKernel(1, 0.0), std::invalid_argument);
  EXPECT_NO_THROW(SobolevKernel(1, 1.5 + 1e-4));
}

// The fast evaluator (singular part + Chebyshev remainder) against the Ewald reference, relative
// to the kernel's scale; and the closed-form evaluator against the Bernoulli polynomials.
TEST(Kernel, Evaluator1DMatchesEwald) {
  for (double s : {0.3, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0}) {
    const SobolevKernel kernel(1, s);
    const SobolevKernelEvaluator1D fast(kernel, /*use_closed_form=*/false);
    const double scale = derivative_scale(kernel);
    for (double x : sample_points(300)) {
      double g;
      kernel.ewald_gradient(&x, &g);
      EXPECT_NEAR(fast.derivative(x), g, 1e-13 * (scale + std::abs(g))) << "s = " << s << ", x = " << x;
      EXPECT_NEAR(fast.derivative(x - 1), g, 1e-13 * (scale + std::abs(g)));
      const double v = kernel.ewald_value(&x);
      EXPECT_NEAR(fast.value(x), v, 1e-13 * std::max(std::abs(v), 0.01)) << "s = " << s << ", x = " << x;
    }
    EXPECT_EQ(fast.derivative(0.0), 0.0);
  }
  for (int s : {1, 2, 3, 4}) {
    const SobolevKernel kernel(1, s);
    const SobolevKernelEvaluator1D exact(kernel);
    ASSERT_TRUE(exact.uses_closed_form());
    for (double x : sample_points(50)) {
      EXPECT_NEAR(exact.derivative(x), kernel.closed_form_derivative(x), 1e-15);
      EXPECT_NEAR(exact.derivative(x - 1), kernel.closed_form_derivative(x), 1e-15);
      EXPECT_NEAR(exact.value(-x), kernel.closed_form_value(x), 1e-15);
    }
  }
}
