// The target's potential G_s * ν and its self-energy (DESIGN.md §1).
#include <kmdflow/SpecialFunctions.hpp>
#include <kmdflow/Target.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <memory>

using namespace kmdflow;

namespace {

// (G*ν)' at the points xs, evaluated through the device potential.
std::vector<double> potential_gradient(const FourierPotential& potential, const std::vector<double>& xs) {
  Kokkos::View<double*> in("in", xs.size()), out("out", xs.size());
  auto h = Kokkos::create_mirror_view(in);
  for (std::size_t i = 0; i < xs.size(); ++i) h(i) = xs[i];
  Kokkos::deep_copy(in, h);
  Kokkos::parallel_for(
      "test::potential_gradient", xs.size(), KOKKOS_LAMBDA(int i) {
        double x[1] = {in(i)}, g[1] = {0};
        potential.gradient(x, g);
        out(i) = g[0];
      });
  auto r = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), out);
  return std::vector<double>(r.data(), r.data() + xs.size());
}

} // namespace

// For s = 1 in d = 1, −(G*ν)'' = ν − 1, so (G*ν)'(x) = x − F(x) + const with the exact cumulative
// distribution F: an independent check of the Fourier potential for both density types.
TEST(Target, PotentialSolvesPoissonForS1) {
  const SobolevKernel kernel(1, 1.0);
  const std::vector<std::shared_ptr<const Density>> targets{
      std::make_shared<FourierDensity>(1, std::vector<FourierMode>{{{1, 0, 0}, 0.8, 0.4}, {{4, 0, 0}, 0.1, 2.0}}),
      std::make_shared<WrappedGaussianMixture>(
          1, std::vector<GaussianComponent>{{0.5, {0.25, 0, 0}, 0.02}, {0.5, {0.7, 0, 0}, 0.1}})};
  for (const auto& density : targets) {
    const Target target(density, kernel);
    std::vector<double> xs;
    for (int i = 0; i < 101; ++i) xs.push_back(i / 101.0);
    const auto g = potential_gradient(target.potential(), xs);
    const double c = g[0] - (xs[0] - density->cumulative(xs[0]));
    for (std::size_t i = 0; i < xs.size(); ++i)
      EXPECT_NEAR(g[i], xs[i] - density->cumulative(xs[i]) + c, 1e-13) << density->type();
  }
}

// ½⟨ν, G ν⟩ = Σ_{k>0} (2πk)^{−2s}|ν̂(k)|²: for ν = 1 + a cos 2πx it is (a/2)² (2π)^{−2s}.
TEST(Target, SelfEnergy) {
  for (double s : {0.5, 1.0, 2.5}) {
    const SobolevKernel kernel(1, s);
    const Target target(std::make_shared<FourierDensity>(1, std::vector<FourierMode>{{{1, 0, 0}, 0.6, 0.2}}), kernel);
    EXPECT_NEAR(target.self_energy(), 0.09 * std::pow(2 * pi, -2 * s), 1e-16);
    EXPECT_EQ(Target(std::make_shared<UniformDensity>(1), kernel).self_energy(), 0.0);
  }
}

TEST(Target, SamplesAreNormalisedAndWrapped) {
  PointView<Kokkos::HostSpace> y("y", 3, 1);
  ScalarView<Kokkos::HostSpace> u("u", 3);
  y(0, 0) = -0.25, y(1, 0) = 0.5, y(2, 0) = 1.75;
  u(0) = 1, u(1) = 2, u(2) = 1;
  const Target target(y, u);
  auto hy = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), target.sample_positions());
  auto hu = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), target.sample_weights());
  EXPECT_DOUBLE_EQ(hy(0, 0), 0.75);
  EXPECT_DOUBLE_EQ(hy(2, 0), 0.75);
  EXPECT_DOUBLE_EQ(hu(1), 0.5);
  EXPECT_TRUE(target.is_samples());
}
