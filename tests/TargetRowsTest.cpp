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
#include <functional>
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

/// An Allreduce across processes played in turn in one: in a recording pass, each rank's k-th call
/// is kept (its values left as they are); in the next pass, each rank's k-th call gets the sum of
/// every rank's k-th recorded call, as MPI_Allreduce would hand it.
class PlayedAllreduce {
public:
  explicit PlayedAllreduce(int ranks) : m_parts(ranks), m_calls(ranks) {}
  InteractionEngine::SumAcross rank(int r) {
    return [this, r](double* values, std::size_t count) {
      const std::size_t k = m_calls[r]++;
      if (m_recording) {
        m_parts[r].resize(k + 1);
        m_parts[r][k].assign(values, values + count);
      } else {
        ASSERT_LT(k, m_sums.size());
        ASSERT_EQ(m_sums[k].size(), count);
        std::copy(m_sums[k].begin(), m_sums[k].end(), values);
      }
    };
  }
  /// Begins a pass: the first records, the next ones hand out the sums of the first's calls.
  void pass(bool recording) {
    if (m_recording && !recording) {
      m_sums = m_parts[0];
      for (std::size_t r = 1; r < m_parts.size(); ++r) {
        ASSERT_EQ(m_parts[r].size(), m_sums.size()) << "rank " << r << " made another number of calls";
        for (std::size_t k = 0; k < m_sums.size(); ++k)
          for (std::size_t i = 0; i < m_sums[k].size(); ++i) m_sums[k][i] += m_parts[r][k][i];
      }
    }
    m_recording = recording;
    std::fill(m_calls.begin(), m_calls.end(), 0);
  }

private:
  std::vector<std::vector<std::vector<double>>> m_parts; // rank, call, values
  std::vector<std::vector<double>> m_sums;               // call, values
  std::vector<std::size_t> m_calls;
  bool m_recording = true;
};

/// The shares' evaluations played in one process: a recording pass, then one that hands each share
/// the sums (PlayedAllreduce). Returns the shares' energies added up; `rows` holds the velocities
/// each share wrote. `after(r)` runs after share r's evaluations of the second pass.
double play_shares(const std::vector<std::unique_ptr<InteractionEngine>>& engines, PlayedAllreduce& allreduce,
                   const PointView<>& x, const ScalarView<>& w, const PointView<>& rows,
                   const std::function<void(int)>& after = {}) {
  double energy_sum = 0;
  for (int pass = 0; pass < 2; ++pass) {
    allreduce.pass(pass == 0);
    energy_sum = 0;
    Kokkos::deep_copy(rows, std::numeric_limits<double>::quiet_NaN());
    for (int r = 0; r < int(engines.size()); ++r) {
      engines[r]->velocities(x, w, rows);
      energy_sum += engines[r]->pair_energy(x, w);
      if (pass == 1 && after) after(r);
    }
  }
  return energy_sum;
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

// The engines that cannot split say so (a run on several ranks then refuses them): by rows, the
// sorted engine, and the spectral engine until it has a way to sum its shares' Fourier
// coefficients; by position, every engine but the sorted one, which also needs that sum.
TEST(TargetRows, SplitsNeedTheirSum) {
  const Kernel kernel = SobolevKernel(1, 1.0);
  const Target target(std::make_shared<UniformDensity>(1), kernel);
  auto sorted = make_engine(ForceMethod::sorted, kernel, target, 100);
  EXPECT_FALSE(sorted->set_target_rows(0, 50));
  EXPECT_TRUE(sorted->set_position_share(0, 1)); // the whole is no share
  EXPECT_FALSE(sorted->set_position_share(1, 3));
  sorted->set_sum_across([](double*, std::size_t) {});
  EXPECT_TRUE(sorted->set_position_share(1, 3));
  EXPECT_THROW(sorted->set_position_share(3, 3), std::invalid_argument);
  EXPECT_FALSE(make_engine(ForceMethod::direct, kernel, target, 100)->set_position_share(1, 3));
  auto spectral = make_engine(ForceMethod::spectral, kernel, target, 100, 1e-6);
  EXPECT_FALSE(spectral->set_target_rows(0, 50));
  EXPECT_TRUE(spectral->set_target_rows(0, 100)); // the whole is no share
  spectral->set_sum_across([](double*, std::size_t) {});
  EXPECT_TRUE(spectral->set_target_rows(0, 50));
  EXPECT_FALSE(spectral->set_position_share(1, 3));
}

namespace {

/// The sorted engine's velocities and energy of x on `ranks` shares by position (played in one
/// process), against the whole engine's: every row filled by exactly one share, equal to the
/// whole's up to the rounding of the slabs' sums (the velocities are differences of compensated
/// power sums, added across the slabs in another order: a few ulps of |q| Σ|b|^p ≲ 1), the
/// energies adding up to the whole. Returns each share's number of rows.
std::vector<std::size_t> check_sorted_shares(const Kernel& kernel, const Target& target, const PointView<>& x,
                                             const ScalarView<>& w, int ranks, const std::string& what) {
  const std::size_t n = x.extent(0);
  PointView<> whole("whole", n, 1);
  auto engine = make_engine(ForceMethod::sorted, kernel, target, n);
  engine->velocities(x, w, whole);
  const double energy = engine->pair_energy(x, w);

  PlayedAllreduce allreduce(ranks);
  std::vector<std::unique_ptr<InteractionEngine>> engines;
  for (int r = 0; r < ranks; ++r) {
    engines.push_back(make_engine(ForceMethod::sorted, kernel, target, n));
    engines.back()->set_sum_across(allreduce.rank(r));
    EXPECT_TRUE(engines.back()->set_position_share(r, ranks)) << what;
  }
  PointView<> rows("rows", n, 1);
  std::vector<int> filled(n, 0);
  std::vector<std::size_t> counts(ranks, 0);
  const double energy_sum = play_shares(engines, allreduce, x, w, rows, [&](int r) {
    const auto mine = engines[r]->share_rows();
    EXPECT_TRUE(std::is_sorted(mine.begin(), mine.end())) << what;
    for (const std::size_t i : mine) ++filled[i];
    counts[r] = mine.size();
  });
  EXPECT_EQ(std::count(filled.begin(), filled.end(), 1), std::ptrdiff_t(n)) << what << ": rows filled twice or never";
  EXPECT_LE(kmdflow::test::relative_l2(rows, whole), 1e-13) << what;
  EXPECT_NEAR(energy_sum, energy, 1e-12 * std::abs(energy) + 1e-15) << what;
  return counts;
}

} // namespace

// The sorted engine on several processes: each sorts the points of its slab of the torus, and the
// slabs' power sums are scanned across the processes (an exclusive scan by one Allreduce).
TEST(TargetRows, SortedSharesScanTheirSlabs) {
  const std::size_t n = 1201;
  const auto x = random_points(n, 1, 25);
  const auto w = random_weights(n, 26);
  for (double s : {1.0, 2.0, 3.0, 4.0})
    for (bool atoms : {false, true}) {
      const Case c{"sorted s=" + std::to_string(s) + (atoms ? ", atoms" : ""), SobolevKernel(1, s), atoms};
      const auto target = target_of(c, 27);
      for (int ranks : {2, 3, 5}) {
        const auto counts = check_sorted_shares(c.kernel, *target, x, w, ranks, c.name + ", " + std::to_string(ranks) + " ranks");
        // Every point is in the sample here (n < 1024 per slab): the cuts are exact quantiles.
        for (const std::size_t k : counts) EXPECT_NEAR(double(k), double(n) / ranks, atoms ? 60 : 1) << c.name;
      }
    }
}

// Points crowded into a twentieth of the torus still split evenly (the cuts follow the points,
// evaluation by evaluation); points in a few coincident groups keep each group in one slab (the
// sorted sums' correction of coincident points stays within a slab), leaving some slabs empty.
TEST(TargetRows, SortedSharesCrowdedAndCoincident) {
  const Kernel kernel = SobolevKernel(1, 1.0); // s = 1: the velocity jumps at coincident points
  const Target target(std::make_shared<UniformDensity>(1), kernel);
  const std::size_t n = 20000; // more than the sample (1024 per slab)
  auto x = random_points(n, 1, 31);
  const auto w = random_weights(n, 32);
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
  for (std::size_t i = 0; i < n; ++i) h(i, 0) = 0.60 + 0.05 * h(i, 0);
  Kokkos::deep_copy(x, h);
  for (int ranks : {2, 4, 7}) {
    const auto counts = check_sorted_shares(kernel, target, x, w, ranks, "crowded, " + std::to_string(ranks) + " ranks");
    for (const std::size_t k : counts) EXPECT_NEAR(double(k), double(n) / ranks, 0.1 * n / ranks) << ranks << " ranks";
  }
  for (std::size_t i = 0; i < n; ++i) h(i, 0) = 0.125 * double(i % 3) + 0.3;
  Kokkos::deep_copy(x, h);
  const auto counts = check_sorted_shares(kernel, target, x, w, 5, "three coincident groups, 5 ranks");
  EXPECT_EQ(std::count(counts.begin(), counts.end(), std::size_t(0)), 2);
}

// The sample sort's share (set_slab): each process brings only the particles of its slab (any
// number: an empty slab too, and cuts through a group of coincident points), the target's atoms
// in the slab are the engine's own, and the slabs' power sums are scanned as before.
TEST(TargetRows, SortedSlabsBroughtByTheirProcesses) {
  const std::size_t n = 1201;
  auto x = random_points(n, 1, 41);
  const auto w = random_weights(n, 42);
  auto hx = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
  for (std::size_t i = 0; i < n; i += 7) hx(i, 0) = 0.6; // a coincident group on a cut below
  Kokkos::deep_copy(x, hx);
  const auto hw = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), w);
  const double inf = std::numeric_limits<double>::infinity();
  for (double s : {1.0, 2.0, 3.0, 4.0})
    for (bool atoms : {false, true}) {
      const Case c{"sorted s=" + std::to_string(s) + (atoms ? ", atoms" : ""), SobolevKernel(1, s), atoms};
      const auto target = target_of(c, 43);
      auto whole_engine = make_engine(ForceMethod::sorted, c.kernel, *target, n);
      PointView<> whole("whole", n, 1);
      whole_engine->velocities(x, w, whole);
      const double energy = whole_engine->pair_energy(x, w);
      for (const std::vector<double>& inner : {std::vector<double>{0.5}, {0.2, 0.6}, {0.1, 0.1, 0.6, 0.9}}) {
        std::vector<double> cuts{-inf};
        cuts.insert(cuts.end(), inner.begin(), inner.end());
        cuts.push_back(inf);
        const int ranks = int(inner.size()) + 1;
        const std::string what = c.name + ", " + std::to_string(ranks) + " slabs";
        // Each slab's particles, brought by its process.
        std::vector<std::vector<std::size_t>> index(ranks);
        for (std::size_t i = 0; i < n; ++i)
          for (int r = 0; r < ranks; ++r)
            if (cuts[r] <= hx(i, 0) && hx(i, 0) < cuts[r + 1]) index[r].push_back(i);
        PlayedAllreduce allreduce(ranks);
        std::vector<std::unique_ptr<InteractionEngine>> engines;
        std::vector<PointView<>> xs, vs;
        std::vector<ScalarView<>> ws;
        for (int r = 0; r < ranks; ++r) {
          engines.push_back(make_engine(ForceMethod::sorted, c.kernel, *target, n));
          engines.back()->set_sum_across(allreduce.rank(r));
          EXPECT_TRUE(engines.back()->set_slab(r, ranks, cuts[r], cuts[r + 1])) << what;
          const std::size_t m = index[r].size();
          xs.emplace_back("xs", m, 1), vs.emplace_back("vs", m, 1), ws.emplace_back("ws", m);
          auto hxs = Kokkos::create_mirror_view(xs.back());
          auto hws = Kokkos::create_mirror_view(ws.back());
          for (std::size_t k = 0; k < m; ++k) hxs(k, 0) = hx(index[r][k], 0), hws(k) = hw(index[r][k]);
          Kokkos::deep_copy(xs.back(), hxs);
          Kokkos::deep_copy(ws.back(), hws);
        }
        double energy_sum = 0;
        for (int pass = 0; pass < 2; ++pass) {
          allreduce.pass(pass == 0);
          energy_sum = 0;
          for (int r = 0; r < ranks; ++r) {
            engines[r]->velocities(xs[r], ws[r], vs[r]);
            energy_sum += engines[r]->pair_energy(xs[r], ws[r]);
          }
        }
        PointView<> rows("rows", n, 1);
        auto hrows = Kokkos::create_mirror_view(rows);
        for (int r = 0; r < ranks; ++r) {
          const auto hv = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), vs[r]);
          for (std::size_t k = 0; k < index[r].size(); ++k) hrows(index[r][k], 0) = hv(k, 0);
        }
        Kokkos::deep_copy(rows, hrows);
        EXPECT_LE(kmdflow::test::relative_l2(rows, whole), 1e-13) << what;
        EXPECT_NEAR(energy_sum, energy, 1e-12 * std::abs(energy) + 1e-15) << what;
      }
    }
}

namespace {

/// Shares by rows with a way to sum across them (set_sum_across), played in one process in two
/// passes (PlayedAllreduce), against the whole engine: the rows must be the whole engine's up to
/// the rounding of the sum (its terms are added in another order), every row written once, and
/// the shares' energies must add up to the whole.
void check_summed_shares(ForceMethod method) {
  const std::size_t n = 1201;
  for (const auto& c : cases()) {
    const int dim = c.kernel.dim();
    const auto x = random_points(n, dim, 15);
    const auto w = random_weights(n, 16);
    const auto target = target_of(c, 17);
    auto make = [&] { return make_engine(method, c.kernel, *target, n, 1e-8); };
    PointView<> whole("whole", n, dim);
    auto engine = make();
    engine->velocities(x, w, whole);
    const double energy = engine->pair_energy(x, w);

    for (int ranks : {2, 3, 5}) {
      PlayedAllreduce allreduce(ranks);
      std::vector<std::unique_ptr<InteractionEngine>> engines;
      for (int r = 0; r < ranks; ++r) {
        engines.push_back(make());
        engines.back()->set_sum_across(allreduce.rank(r));
        const auto [begin, end] = share(n, r, ranks);
        ASSERT_TRUE(engines.back()->set_target_rows(begin, end)) << c.name;
      }
      PointView<> rows("rows", n, dim);
      const double energy_sum = play_shares(engines, allreduce, x, w, rows);
      EXPECT_LE(kmdflow::test::relative_l2(rows, whole), 1e-13) << c.name << ", " << ranks << " ranks";
      EXPECT_NEAR(energy_sum, energy, 1e-12 * std::abs(energy) + 1e-15) << c.name << ", " << ranks << " ranks";
    }
  }
}

} // namespace

// The spectral engine's shares: each spreads its particles (the first share the atoms too), the
// shares' Fourier coefficients are summed across the processes (set_sum_across), and each
// interpolates and sums the short range for its rows. Here the processes are played in turn in one:
// a first pass records each share's coefficients, a second hands every share their sum, as an
// Allreduce would. The rows must be the whole engine's up to the rounding of that sum (the
// coefficients are added in another order), and the shares' energies must add up to the whole.
TEST(TargetRows, SpectralSharesSumTheirCoefficients) {
  check_summed_shares(ForceMethod::spectral);
}

// The direct engine's shares with a way to sum (several processes): each sums the long range's
// structure factors ρ̂(k) over its own particles (the first share the atoms too) and the shares
// add them up, instead of each summing over all points. The same checks as above.
TEST(TargetRows, DirectSharesSumTheirStructureFactors) {
  check_summed_shares(ForceMethod::direct);
}
