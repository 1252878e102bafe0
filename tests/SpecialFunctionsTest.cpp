// The incomplete gamma functions, zeta and Bernoulli numbers the kernel is built from, against
// closed forms.
#include <kmdflow/SpecialFunctions.hpp>

#include <gtest/gtest.h>

#include <cmath>

using namespace kmdflow;

TEST(SpecialFunctions, RegularizedUpperGammaClosedForms) {
  for (double z : {0.01, 0.3, 1.0, 2.5, 7.0, 30.0}) {
    EXPECT_NEAR(regularized_upper_gamma(1.0, z), std::exp(-z), 1e-15 * std::max(1.0, std::exp(-z)));
    EXPECT_NEAR(regularized_upper_gamma(2.0, z), (1 + z) * std::exp(-z), 2e-15);
    // Q(½, z) = erfc(√z)
    EXPECT_NEAR(regularized_upper_gamma(0.5, z), std::erfc(std::sqrt(z)), 2e-15);
  }
}

TEST(SpecialFunctions, ContinuedFractionForNegativeOrder) {
  // z^{−a} Γ(a, z) with a = −½: Γ(−½, z) = 2 e^{−z}/√z − 2√π erfc(√z) (which cancels by two
  // digits at z = 20, hence the tolerance).
  for (double z : {1.0, 2.0, 5.0, 20.0}) {
    const double exact = 2 * std::exp(-z) / std::sqrt(z) - 2 * std::sqrt(pi) * std::erfc(std::sqrt(z));
    EXPECT_NEAR(scaled_upper_gamma_cf(-0.5, z) * std::pow(z, -0.5), exact, 1e-12 * std::abs(exact));
  }
  // Γ(0, z) = E₁(z): E₁(1) = 0.219383934395520273677.
  EXPECT_NEAR(scaled_upper_gamma_cf(0.0, 1.0), 0.219383934395520273677, 1e-15);
}

TEST(SpecialFunctions, SeriesMatchContinuedFractionWhereBothApply) {
  // z^{−a}Γ(a, z) = z^{−a}Γ(a) − g(a, z) for a not a non-positive integer.
  for (double a : {-1.3, -0.5, 0.25, 1.5})
    for (double z : {1.0, 1.5, 2.0}) {
      const double series = std::pow(z, -a) * std::tgamma(a) - scaled_lower_gamma_series(a, z);
      const double cf = scaled_upper_gamma_cf(a, z);
      EXPECT_NEAR(series, cf, 1e-13 * std::max(1.0, std::abs(cf))) << "a = " << a << ", z = " << z;
    }
  // Log case: z^m Γ(−m, z) = P_m(z) − (−1)^m z^m ln z / m!.
  for (int m : {0, 1, 2})
    for (double z : {1.0, 1.7}) {
      double factorial = 1;
      for (int k = 2; k <= m; ++k) factorial *= k;
      const double lhs = log_case_analytic_part(m, z) - ((m % 2) ? -1.0 : 1.0) * std::pow(z, m) * std::log(z) / factorial;
      EXPECT_NEAR(lhs, scaled_upper_gamma_cf(-m, z), 1e-13) << "m = " << m << ", z = " << z;
    }
}

TEST(SpecialFunctions, ZetaAndBernoulli) {
  EXPECT_NEAR(riemann_zeta(2.0), pi * pi / 6, 1e-15);
  EXPECT_NEAR(riemann_zeta(4.0), std::pow(pi, 4) / 90, 1e-15);
  EXPECT_NEAR(riemann_zeta(1.5), 2.612375348685488343348567567924, 1e-14);
  const auto b = bernoulli_numbers(8);
  EXPECT_DOUBLE_EQ(b[1], -0.5);
  EXPECT_NEAR(b[2], 1.0 / 6, 1e-16);
  EXPECT_NEAR(b[4], -1.0 / 30, 1e-16);
  EXPECT_NEAR(b[6], 1.0 / 42, 1e-16);
  EXPECT_NEAR(b[8], -1.0 / 30, 1e-15);
  const auto b2 = bernoulli_polynomial(2); // x² − x + 1/6
  EXPECT_NEAR(b2[0], 1.0 / 6, 1e-16);
  EXPECT_DOUBLE_EQ(b2[1], -1.0);
  EXPECT_DOUBLE_EQ(b2[2], 1.0);
}
