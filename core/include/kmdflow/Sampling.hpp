#pragma once
// Initial particle positions from a density (DESIGN.md §1): iid, lattice, jittered lattice and
// quantile samplings. All randomness comes from the seed.

#include <kmdflow/Density.hpp>
#include <kmdflow/Types.hpp>

#include <cmath>
#include <cstdint>
#include <string>

namespace kmdflow {

enum class Sampling { iid, lattice, jittered, quantile };

Sampling parse_sampling(const std::string& name); ///< throws std::invalid_argument
std::string to_string(Sampling sampling);

/// N points distributed like `density`, on the host: uniform points u_i mapped through the
/// quantile function F⁻¹ (d = 1) or the Knothe–Rosenblatt map (d = 2, 3). iid: u_i iid uniform;
/// lattice and quantile: the cell centres (i + ½)/n of an n^d lattice (N = n^d; in d = 1 both are
/// x_i = F⁻¹((i + ½)/N)); jittered: a uniform point in each cell. std::invalid_argument if a
/// lattice sampling gets an N that is not a d-th power.
PointView<Kokkos::HostSpace> sample_positions(const Density& density, Sampling sampling,
                                              std::size_t count, std::uint64_t seed);

/// n iid uniform points in [0, 1)^dim on the device, from `seed` (std::mt19937_64 and uniform01,
/// row by row): the same points in the tests, the benchmarks and their comparisons.
PointView<> iid_uniform_points(std::size_t n, int dim, std::uint64_t seed, const std::string& label);

/// A uniform double in [0, 1) from 53 random bits (portable across standard libraries).
template <class Engine> double uniform01(Engine& engine) {
  return double(engine() >> 11) * 0x1.0p-53;
}

/// A standard normal draw by Box–Muller from two uniform01 draws (the cosine branch): the same
/// values with libstdc++ and libc++, where std::normal_distribution's algorithm is the library's
/// own. 1 − u lies in (0, 1], so the logarithm is finite.
template <class Engine> double standard_normal(Engine& engine) {
  const double u = uniform01(engine), v = uniform01(engine);
  return std::sqrt(-2 * std::log(1 - u)) * std::cos(2 * 3.14159265358979323846 * v);
}

} // namespace kmdflow
