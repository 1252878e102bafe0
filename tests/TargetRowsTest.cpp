// The engines' shares of the work (InteractionEngine::set_target_rows): what each MPI rank computes
// in a run on several ranks (apps/.../Processes.hpp). Each share's velocities must be the whole
// engine's rows, bit for bit (a row is the same sum over the same sources in the same order,
// whichever process computes it), the rows outside the share untouched, and the shares' pair
// energies must add up to the whole one up to the rounding of the different summation order.

#include "TestUtilities.hpp"

#include <kmdflow/Density.hpp>
#include <kmdflow/Kernel.hpp>
#include <kmdflow/ParticleFlow.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

using namespace kmdflow;
using kmdflow::test::random_points;
using kmdflow::test::random_weights;

namespace {

/// Rows [begin, end) of `count` for `rank` of `ranks`: the partition the ranks use (contiguous,
/// sizes differing by at most one).
std::pair<std::size_t, std::size_t> share(std::size_t count, int rank, int ranks) {
  const std::size_t base = count / ranks, extra = count % ranks, r = rank;
  const std::size_t begin = r * base + std::min(r, extra);
  return {begin, begin + base + (r < extra ? 1 : 0)};
}

struct Case {
  std::string name;
  Kernel kernel;
  bool atoms; // a samples target (its atoms are sources too)
};

std::vector<Case> cases() {
  return {{"sobolev d=1 s=1", SobolevKernel(1, 1.0), false},         {"sobolev d=1 s=2.5, atoms", SobolevKernel(1, 2.5), true},
          {"sobolev d=2 s=1.5", SobolevKernel(2, 1.5), false},       {"sobolev d=2 s=0.75, atoms", SobolevKernel(2, 0.75), true},
          {"sobolev d=3 s=1", SobolevKernel(3, 1.0), false},         {"gaussian d=2", GaussianKernel(2, 0.1), true},
          {"bessel d=3", BesselKernel(3, 2.0, 1.0), false},          {"bessel d=1 s=0.75", BesselKernel(1, 0.75, 5.0), true}};
}

/// The case's target: 97 random atoms (seeds `seed`, `seed` + 1) or the uniform density.
std::shared_ptr<const Target> target_of(const Case& c, std::uint64_t seed) {
  const int dim = c.kernel.dim();
  if (!c.atoms) return std::make_shared<const Target>(std::make_shared<UniformDensity>(dim), c.kernel);
  auto y = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), random_points(97, dim, seed));
  auto u = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), random_weights(97, seed + 1));
  return std::make_shared<const Target>(y, u);
}

std::unique_ptr<InteractionEngine> direct(const Case& c, std::size_t n, const Target& target) {
  return make_engine(ForceMethod::direct, c.kernel, target, n);
}

} // namespace

TEST(TargetRows, SharesAreTheWholeEnginesRows) {
  const std::size_t n = 301; // not a multiple of any rank count below
  for (const auto& c : cases()) {
    const int dim = c.kernel.dim();
    const auto x = random_points(n, dim, 5);
    const auto w = random_weights(n, 6);
    const auto target = target_of(c, 7);
    PointView<> whole("whole", n, dim);
    auto engine = direct(c, n, *target);
    engine->velocities(x, w, whole);
    const double energy = engine->pair_energy(x, w);
    const auto expected = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), whole);

    for (int ranks : {1, 2, 3, 4, 7}) {
      PointView<> parts("parts", n, dim);
      Kokkos::deep_copy(parts, std::numeric_limits<double>::quiet_NaN());
      double energy_sum = 0;
      for (int r = 0; r < ranks; ++r) {
        const auto [begin, end] = share(n, r, ranks);
        auto mine = direct(c, n, *target); // each rank builds its own engine
        ASSERT_TRUE(mine->set_target_rows(begin, end)) << c.name;
        mine->velocities(x, w, parts);
        energy_sum += mine->pair_energy(x, w);
        // Rows beyond this and the earlier shares are left alone.
        const auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), parts);
        for (std::size_t i = end; i < n; ++i)
          for (int d = 0; d < dim; ++d) ASSERT_TRUE(std::isnan(h(i, d))) << c.name << ", row " << i << " touched";
      }
      const auto got = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), parts);
      for (std::size_t i = 0; i < n; ++i)
        for (int d = 0; d < dim; ++d)
          ASSERT_EQ(got(i, d), expected(i, d)) << c.name << ", " << ranks << " ranks, row " << i;
      EXPECT_NEAR(energy_sum, energy, 1e-12 * std::abs(energy) + 1e-15) << c.name << ", " << ranks << " ranks";
    }
  }
}

// More ranks than particles: the last ranks own nothing and add nothing.
TEST(TargetRows, EmptySharesAddNothing) {
  const Kernel kernel = SobolevKernel(2, 1.5);
  const Target target(std::make_shared<UniformDensity>(2), kernel);
  const std::size_t n = 3;
  const auto x = random_points(n, 2, 11);
  const auto w = random_weights(n, 12);
  auto engine = make_engine(ForceMethod::direct, kernel, target, n);
  PointView<> whole("whole", n, 2), parts("parts", n, 2);
  engine->velocities(x, w, whole);
  double energy_sum = 0;
  for (int r = 0; r < 5; ++r) {
    const auto [begin, end] = share(n, r, 5);
    auto mine = make_engine(ForceMethod::direct, kernel, target, n);
    ASSERT_TRUE(mine->set_target_rows(begin, end));
    mine->velocities(x, w, parts);
    const double e = mine->pair_energy(x, w);
    if (begin == end && begin > 0) {
      EXPECT_EQ(e, 0.0);
    }
    energy_sum += e;
  }
  EXPECT_NEAR(energy_sum, engine->pair_energy(x, w), 1e-14);
  EXPECT_LE(kmdflow::test::relative_l2(parts, whole), 0.0);
}

// The engines that cannot split say so (a run on several ranks then refuses them): the sorted
// engine, and the spectral engine until it has a way to sum its shares' Fourier coefficients.
TEST(TargetRows, SortedDoesNotSplitNorSpectralAlone) {
  const Kernel kernel = SobolevKernel(1, 1.0);
  const Target target(std::make_shared<UniformDensity>(1), kernel);
  EXPECT_FALSE(make_engine(ForceMethod::sorted, kernel, target, 100)->set_target_rows(0, 50));
  auto spectral = make_engine(ForceMethod::spectral, kernel, target, 100, 1e-6);
  EXPECT_FALSE(spectral->set_target_rows(0, 50));
  EXPECT_TRUE(spectral->set_target_rows(0, 100)); // the whole is no share
  spectral->set_sum_across([](double*, std::size_t) {});
  EXPECT_TRUE(spectral->set_target_rows(0, 50));
}

// The spectral engine's shares: each spreads its particles (the first share the atoms too), the
// shares' Fourier coefficients are summed across the processes (set_sum_across), and each
// interpolates and sums the short range for its rows. Here the processes are played in turn in one:
// a first pass records each share's coefficients, a second hands every share their sum, as an
// Allreduce would. The rows must be the whole engine's up to the rounding of that sum (the
// coefficients are added in another order), and the shares' energies must add up to the whole.
TEST(TargetRows, SpectralSharesSumTheirCoefficients) {
  const std::size_t n = 1201;
  for (const auto& c : cases()) {
    const int dim = c.kernel.dim();
    const auto x = random_points(n, dim, 15);
    const auto w = random_weights(n, 16);
    const auto target = target_of(c, 17);
    auto spectral = [&] { return make_engine(ForceMethod::spectral, c.kernel, *target, n, 1e-8); };
    PointView<> whole("whole", n, dim);
    auto engine = spectral();
    engine->velocities(x, w, whole);
    const double energy = engine->pair_energy(x, w);

    for (int ranks : {2, 3, 5}) {
      // Per evaluation (velocities, then the energy), each share's coefficients, then their sum.
      std::vector<std::vector<std::vector<double>>> parts(2, std::vector<std::vector<double>>(ranks));
      std::vector<std::vector<double>> sums(2);
      int evaluation = 0, rank = 0;
      bool recording = true;
      std::vector<std::unique_ptr<InteractionEngine>> engines;
      for (int r = 0; r < ranks; ++r) {
        engines.push_back(spectral());
        engines.back()->set_sum_across([&](double* values, std::size_t count) {
          if (recording) {
            parts[evaluation][rank].assign(values, values + count);
          } else {
            ASSERT_EQ(sums[evaluation].size(), count);
            std::copy(sums[evaluation].begin(), sums[evaluation].end(), values);
          }
        });
        const auto [begin, end] = share(n, r, ranks);
        ASSERT_TRUE(engines.back()->set_target_rows(begin, end)) << c.name;
      }
      PointView<> rows("rows", n, dim);
      double energy_sum = 0;
      for (int pass = 0; pass < 2; ++pass) {
        recording = pass == 0;
        energy_sum = 0;
        Kokkos::deep_copy(rows, std::numeric_limits<double>::quiet_NaN());
        for (rank = 0; rank < ranks; ++rank) {
          evaluation = 0;
          engines[rank]->velocities(x, w, rows);
          evaluation = 1;
          energy_sum += engines[rank]->pair_energy(x, w);
        }
        if (recording)
          for (int e = 0; e < 2; ++e) {
            sums[e].assign(parts[e][0].size(), 0.0);
            for (const auto& part : parts[e])
              for (std::size_t k = 0; k < part.size(); ++k) sums[e][k] += part[k];
          }
      }
      // Every row written once, by its share, and equal to the whole engine's up to rounding.
      EXPECT_LE(kmdflow::test::relative_l2(rows, whole), 1e-13) << c.name << ", " << ranks << " ranks";
      EXPECT_NEAR(energy_sum, energy, 1e-12 * std::abs(energy) + 1e-15) << c.name << ", " << ranks << " ranks";
    }
  }
}
