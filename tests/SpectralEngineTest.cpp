// The spectral engine (issue 4) against the direct engines: relative L2 error of the velocities
// ≤ tolerance for tolerances 1e-3, 1e-6, 1e-10 in d = 1, 2, 3 and s ∈ {0.5, 1, 1.5, 2, 3}, for
// uniform and clustered particles, weighted particles and samples targets; the pair energy
// within tolerance × Σ_{i≠j} |w_i w_j G(x_i − x_j)|.
#include "TestUtilities.hpp"

#include <kmdflow/DirectEngine1D.hpp>
#include <kmdflow/EwaldEngine.hpp>
#include <kmdflow/SpectralEngine.hpp>

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <random>

using namespace kmdflow;
using namespace kmdflow::test;

namespace {

std::unique_ptr<InteractionEngine> direct(const SobolevKernel& k, std::size_t n, const PointView<>& y,
                                          const ScalarView<>& u) {
  if (k.dim() == 1) return std::make_unique<DirectEngine1D<>>(ExecutionSpace(), SobolevKernelEvaluator1D(k), n, y, u);
  if (k.dim() == 2) return std::make_unique<EwaldEngine<ExecutionSpace, 2>>(ExecutionSpace(), k, n, y, u);
  return std::make_unique<EwaldEngine<ExecutionSpace, 3>>(ExecutionSpace(), k, n, y, u);
}

std::unique_ptr<InteractionEngine> spectral(const SobolevKernel& k, std::size_t n, double tolerance,
                                            const PointView<>& y, const ScalarView<>& u) {
  if (k.dim() == 1) return std::make_unique<SpectralEngine<ExecutionSpace, 1>>(ExecutionSpace(), k, n, tolerance, y, u);
  if (k.dim() == 2) return std::make_unique<SpectralEngine<ExecutionSpace, 2>>(ExecutionSpace(), k, n, tolerance, y, u);
  return std::make_unique<SpectralEngine<ExecutionSpace, 3>>(ExecutionSpace(), k, n, tolerance, y, u);
}

// Half the points in a Gaussian cluster of width 0.03 (a hard case for any fixed grid).
PointView<> clustered_points(std::size_t n, int dim, std::uint64_t seed) {
  auto x = random_points(n, dim, seed);
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
  std::mt19937_64 rng(seed + 1);
  std::normal_distribution<double> normal(0.0, 0.03);
  for (std::size_t i = 0; i < n / 2; ++i)
    for (int d = 0; d < dim; ++d) h(i, d) = wrap_unit(0.3 + normal(rng));
  Kokkos::deep_copy(x, h);
  return x;
}

// Σ_{i≠j} |q_i q_j G(x_i − x_j)| / 2 by the Ewald reference (small n).
double energy_scale(const SobolevKernel& k, const PointView<>& x, const ScalarView<>& w) {
  auto hx = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
  auto hw = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), w);
  double scale = 0;
  for (std::size_t i = 0; i < hx.extent(0); ++i)
    for (std::size_t j = 0; j < i; ++j) {
      double dx[3] = {0, 0, 0};
      for (int d = 0; d < k.dim(); ++d) dx[d] = hx(i, d) - hx(j, d);
      scale += std::abs(hw(i) * hw(j) * k.ewald_value(dx));
    }
  return scale;
}

void check(int dim, double s, bool clustered, bool atoms) {
  const std::size_t n = dim == 1 ? 2000 : dim == 2 ? 600 : 300;
  const SobolevKernel kernel(dim, s);
  const auto x = clustered ? clustered_points(n, dim, 7) : random_points(n, dim, 7);
  const auto w = random_weights(n, 8);
  PointView<> y;
  ScalarView<> u;
  if (atoms) y = random_points(n / 2, dim, 9), u = random_weights(n / 2, 10);
  auto reference = direct(kernel, n, y, u);
  PointView<> a("direct", n, dim), b("spectral", n, dim);
  reference->velocities(x, w, a);
  const double reference_energy = reference->pair_energy(x, w);
  const double scale = n <= 600 ? energy_scale(kernel, x, w) : 0;
  for (double tolerance : {1e-3, 1e-6, 1e-10}) {
    auto engine = spectral(kernel, n, tolerance, y, u);
    engine->velocities(x, w, b);
    const std::string what = "d = " + std::to_string(dim) + ", s = " + std::to_string(s) + ", tolerance = " +
                             std::to_string(tolerance) + (clustered ? ", clustered" : "") + (atoms ? ", atoms" : "");
    const double error = relative_l2(b, a);
    EXPECT_LE(error, tolerance) << what;
    if (std::getenv("KMDFLOW_TEST_VERBOSE"))
      std::printf("%s: error %.2e %s\n", what.c_str(), error, engine->parameters().dump().c_str());
    if (scale > 0) {
      EXPECT_NEAR(engine->pair_energy(x, w), reference_energy, tolerance * scale) << what;
    }
  }
}

} // namespace

class SpectralVsDirect : public ::testing::TestWithParam<std::tuple<int, double>> {};

TEST_P(SpectralVsDirect, UniformParticles) {
  const auto [dim, s] = GetParam();
  check(dim, s, false, false);
}
TEST_P(SpectralVsDirect, ClusteredParticles) {
  const auto [dim, s] = GetParam();
  check(dim, s, true, false);
}
TEST_P(SpectralVsDirect, SamplesTarget) {
  const auto [dim, s] = GetParam();
  if (s < 0.5 * (dim + 1)) GTEST_SKIP() << "samples targets need s >= (d+1)/2";
  check(dim, s, false, true);
}

INSTANTIATE_TEST_SUITE_P(Orders, SpectralVsDirect,
                         ::testing::Combine(::testing::Values(1, 2, 3), ::testing::Values(0.5, 1.0, 1.5, 2.0, 3.0)));

// The type-1 transform alone against the direct sum Σ_j q_j e^{−2πik·z_j}.
TEST(Spectral, Type1MatchesDirectSum) {
  for (int dim : {1, 2, 3}) {
    const std::size_t n = 300;
    const auto x = random_points(n, dim, 3);
    const auto w = random_weights(n, 4);
    for (double tolerance : {1e-4, 1e-9}) {
      std::unique_ptr<InteractionEngine> base = spectral(SobolevKernel(dim, 1.0), n, tolerance, {}, {});
      double worst = 0;
      auto probe = [&](auto& engine) {
        engine.type1(x, w);
        auto mu = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), engine.spectrum());
        auto hx = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
        auto hw = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), w);
        const int g = engine.spectral_parameters().grid, half = g / 2 + 1;
        for (int k0 : {1, -2, 3})
          for (int k1 : {0, 2}) {
            const int k[3] = {k1, dim >= 2 ? k0 : 0, 0};
            // Entry of (k) on the half grid: last component ≥ 0.
            int kk[3] = {k[0], k[1], k[2]};
            if (dim == 1) kk[0] = std::abs(k0);
            std::size_t h = 0;
            if (dim == 1) h = std::size_t(kk[0]);
            if (dim == 2) h = std::size_t((k1 + g) % g) * half + std::size_t(std::abs(k0));
            if (dim == 3) h = (std::size_t((k1 + g) % g) * g + std::size_t((k0 + g) % g)) * half + 1;
            std::complex<double> exact = 0;
            for (std::size_t j = 0; j < n; ++j) {
              double phase = 0;
              const int kv[3] = {dim == 1 ? std::abs(k0) : k1, dim == 2 ? std::abs(k0) : k0, 1};
              for (int d = 0; d < dim; ++d) phase += kv[d] * hx(j, d);
              exact += hw(j) * std::polar(1.0, -2 * M_PI * phase);
            }
            const std::complex<double> got(mu(h).real(), mu(h).imag());
            worst = std::max(worst, std::abs(got - exact));
          }
      };
      if (dim == 1) probe(static_cast<SpectralEngine<ExecutionSpace, 1>&>(*base));
      if (dim == 2) probe(static_cast<SpectralEngine<ExecutionSpace, 2>&>(*base));
      if (dim == 3) probe(static_cast<SpectralEngine<ExecutionSpace, 3>&>(*base));
      EXPECT_LT(worst, 10 * tolerance) << "d = " << dim << ", tolerance = " << tolerance;
    }
  }
}

// A whole 2D run with the spectral engine follows the direct engine's energy curve within the
// tolerance (relative to the energy's scale).
#include "Simulation.hpp"
TEST(Spectral, RunFollowsTheDirectEnergyCurve) {
  auto config = nlohmann::json::parse(R"({"dim": 2, "s": 1.5,
    "target": {"type": "wrapped_gaussians", "components": [{"center": [0.4, 0.5], "sigma": 0.15}]},
    "initial": {"type": "fourier", "modes": [{"k": [1, 1], "amplitude": 0.4}], "sampling": "jittered"},
    "particles": {"count": 400, "seed": 2}, "time": {"dt": 0.05, "integrator": "rk4"}})");
  const std::vector<double> times{0.0, 0.5, 1.0, 1.5, 2.0};
  config["forces"] = {{"method", "direct"}};
  const auto direct = simulate(config, times);
  for (double tolerance : {1e-4, 1e-8}) {
    config["forces"] = {{"method", "spectral"}, {"tolerance", tolerance}};
    const auto spectral = simulate(config, times);
    for (std::size_t i = 0; i < times.size(); ++i)
      EXPECT_NEAR(spectral.energy[i], direct.energy[i], tolerance * direct.energy[0])
          << "t = " << times[i] << ", tolerance = " << tolerance;
  }
}
