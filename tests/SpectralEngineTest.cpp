// The spectral engine (issue 4) against the direct engines: relative L2 error of the velocities
// ≤ tolerance for tolerances 1e-3, 1e-6, 1e-10 in d = 1, 2, 3 and s ∈ {0.5, 1, 1.5, 2, 3}, for
// uniform and clustered particles, weighted particles and samples targets; the pair energy
// within tolerance × Σ_{i≠j} |w_i w_j G(x_i − x_j)|.
#include "TestUtilities.hpp"

#include <kmdflow/DirectEngine1D.hpp>
#include <kmdflow/EwaldEngine.hpp>
#include <kmdflow/RealFft.hpp>
#include <kmdflow/SpectralEngine.hpp>

#include <gtest/gtest.h>

#include <cstdio>
#include <complex>
#include <cstdlib>
#include <random>
#include <type_traits>
#include <utility>
#include <vector>

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

// Each upsampling the engine may choose (2, 1.5, 1.25, with its kernel width and β) meets the
// tolerance against the direct engine in every d, whatever the model of the evaluation time picks.
TEST(Spectral, EveryUpsamplingMeetsTheTolerance) {
  for (int dim : {1, 2, 3}) {
    const std::size_t n = dim == 1 ? 2000 : dim == 2 ? 600 : 300;
    const SobolevKernel kernel(dim, 1.5);
    const auto x = clustered_points(n, dim, 11);
    const auto w = random_weights(n, 12);
    PointView<> a("direct", n, dim), b("spectral", n, dim);
    direct(kernel, n, {}, {})->velocities(x, w, a);
    for (double upsampling : {2.0, 1.5, 1.25})
      for (double tolerance : {1e-3, 1e-6, 1e-10}) {
        const std::string what = "d = " + std::to_string(dim) + ", upsampling " + std::to_string(upsampling) +
                                 ", tolerance " + std::to_string(tolerance);
        SpectralParameters p;
        try {
          p = choose_spectral_parameters(kernel, n, tolerance, upsampling);
        } catch (const std::invalid_argument&) {
          // Only σ = 1.25 at 10⁻¹⁰ would need more than 16 points per axis (w = 18).
          EXPECT_TRUE(upsampling == 1.25 && tolerance == 1e-10) << what;
          continue;
        }
        EXPECT_EQ(p.upsampling, upsampling) << what;
        EXPECT_GE(p.grid, upsampling * (2 * p.modes + 1)) << what;
        std::unique_ptr<InteractionEngine> engine;
        if (dim == 1) engine = std::make_unique<SpectralEngine<ExecutionSpace, 1>>(ExecutionSpace(), kernel, n, p);
        if (dim == 2) engine = std::make_unique<SpectralEngine<ExecutionSpace, 2>>(ExecutionSpace(), kernel, n, p);
        if (dim == 3) engine = std::make_unique<SpectralEngine<ExecutionSpace, 3>>(ExecutionSpace(), kernel, n, p);
        engine->velocities(x, w, b);
        EXPECT_LE(relative_l2(b, a), tolerance) << what;
      }
  }
  EXPECT_THROW(choose_spectral_parameters(SobolevKernel(2, 1.0), 100, 1e-6, 2.5), std::invalid_argument);
  EXPECT_THROW(choose_spectral_parameters(SobolevKernel(2, 1.0), 100, 1e-6, 1.0), std::invalid_argument);
}

// The model of the evaluation time trades the short range against the transforms: more points
// get a smaller cut-off (fewer neighbours each than a fixed r_c would give) and more modes, and
// the grid never exceeds its cap.
TEST(Spectral, ParametersFollowTheCostModel) {
  for (int dim : {1, 2, 3}) {
    const SobolevKernel kernel(dim, 1.0);
    SpectralParameters previous;
    for (std::size_t n : {std::size_t(1000), std::size_t(100000), std::size_t(10000000)}) {
      const auto p = choose_spectral_parameters(kernel, n, 1e-6);
      const int floor = dim == 1 ? (1 << 24) : dim == 2 ? 8192 : 512;
      const int ceiling = dim == 1 ? (1 << 28) : dim == 2 ? 16384 : 640;
      const int cap = std::clamp(int(std::pow(16.0 * double(n), 1.0 / dim)), floor, ceiling);
      EXPECT_LE(p.grid, cap) << "d = " << dim << ", N = " << n;
      EXPECT_GE(p.grid, p.upsampling * (2 * p.modes + 1));
      if (previous.grid > 0) {
        EXPECT_LE(p.cutoff, previous.cutoff) << "d = " << dim << ", N = " << n;
        EXPECT_GE(p.modes, previous.modes) << "d = " << dim << ", N = " << n;
      }
      // Cells at least r_c / reach wide, so that the neighbour cells cover the cut-off.
      if (p.cells > 1) {
        EXPECT_LE(p.cutoff, double(p.cell_reach) / p.cells) << "d = " << dim << ", N = " << n;
      }
      previous = p;
    }
  }
}

// The spreading kernel's weights as polynomials (Horner tables) agree with φ itself to the error
// asked for, at arbitrary offsets, for the widths and β of every upsampling.
TEST(Spectral, PolynomialWeightsMatchTheKernel) {
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  for (auto [width, beta] : {std::pair{5, 11.5}, std::pair{8, 18.4}, std::pair{9, 18.28}, std::pair{11, 20.11},
                             std::pair{14, 28.44}}) {
    detail::EsKernel exact(width, beta), table(width, beta);
    const double error = 0.05 * std::exp(-0.8 * beta); // about what the engine asks at this width
    table.tabulate(error);
    ASSERT_GE(table.degree, 0) << "w = " << width;
    double k0[detail::max_spreading_width], k1[detail::max_spreading_width];
    int i0[detail::max_spreading_width], i1[detail::max_spreading_width];
    double worst = 0;
    for (int trial = 0; trial < 2000; ++trial) {
      const double x = uniform(rng);
      EXPECT_EQ(exact.axis_weights(x, 64, k0, i0), table.axis_weights(x, 64, k1, i1));
      for (int t = 0; t < width; ++t) {
        EXPECT_EQ(i0[t], i1[t]);
        worst = std::max(worst, std::abs(k0[t] - k1[t]));
      }
    }
    EXPECT_LE(worst, error) << "w = " << width << ", degree " << table.degree;
  }
}

// Spreading by slabs of the cell list gives the grid that per-point spreading through a
// ScatterView gives (the same sums in another order).
TEST(Spectral, SlabSpreadingMatchesScatterView) {
  auto compare = [](auto dim_constant) {
    constexpr int dim = decltype(dim_constant)::value;
    const std::size_t n = 3000;
    const int grid = dim == 1 ? 600 : dim == 2 ? 120 : 40, cells = dim == 1 ? 75 : dim == 2 ? 15 : 10;
    const auto x = clustered_points(n, dim, 21);
    const auto w = random_weights(n, 22);
    detail::CellList<MemorySpace> list;
    list.points = PointView<MemorySpace>("sorted", n, dim);
    list.weights = Kokkos::View<double*, MemorySpace>("sorted_weights", n);
    detail::build_cell_list<dim>(ExecutionSpace(), "cells", list, cells, x, w);
    detail::EsKernel es(7, 2.30 * 7);
    const int slabs = detail::spreading_slabs(grid, cells, es.width);
    ASSERT_GE(slabs, 2);
    std::size_t points = 1;
    for (int d = 0; d < dim; ++d) points *= grid;
    Kokkos::View<double*, MemorySpace> a("a", points), b("b", points);
    detail::spread_by_slabs<dim>(ExecutionSpace(), "slabs", a, list.points, list.weights, list.start, cells, slabs,
                                 es, grid);
    Kokkos::Experimental::ScatterView<double*, decltype(b)::array_layout, ExecutionSpace> scatter(b);
    detail::spread<dim>(ExecutionSpace(), "scatter", scatter, b, list.points, list.weights, es, grid);
    auto ha = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), a);
    auto hb = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), b);
    double worst = 0, largest = 0;
    for (std::size_t i = 0; i < points; ++i) {
      worst = std::max(worst, std::abs(ha(i) - hb(i)));
      largest = std::max(largest, std::abs(hb(i)));
    }
    EXPECT_GT(largest, 0.0);
    EXPECT_LE(worst, 1e-14 * largest) << "d = " << dim;
  };
  compare(std::integral_constant<int, 1>());
  compare(std::integral_constant<int, 2>());
  compare(std::integral_constant<int, 3>());
}

// FFTW plans made by measuring leave the caller's buffers as they were (the measuring happens on
// scratch buffers) and transform as the estimated ones do.
TEST(Spectral, MeasuredFftPlansKeepTheBuffers) {
  const std::vector<int> dims = {24, 30, 20};
  const std::size_t points = 24 * 30 * 20, half = 24 * 30 * 11;
  std::vector<double> real(points), copy(points);
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  for (double& r : real) r = uniform(rng);
  copy = real;
  std::vector<std::complex<double>> a(half), b(half);
  auto measured = make_host_real_fft(dims, real.data(), a.data(), 2, FftPlanning::measure);
  EXPECT_EQ(real, copy);
  EXPECT_STREQ(measured->planning(), "measure");
  std::vector<double> other = real;
  auto estimated = make_host_real_fft(dims, other.data(), b.data(), 2, FftPlanning::estimate);
  EXPECT_STREQ(estimated->planning(), "estimate");
  measured->forward();
  estimated->forward();
  double worst = 0;
  for (std::size_t i = 0; i < half; ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
  EXPECT_LE(worst, 1e-12);
  EXPECT_GT(std::abs(a[1]), 0.0);
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
