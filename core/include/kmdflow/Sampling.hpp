#pragma once
// Initial particle positions from a density (DESIGN.md §1): iid, lattice, jittered lattice and
// quantile samplings. All randomness comes from the seed.

#include <kmdflow/Density.hpp>
#include <kmdflow/Types.hpp>

#include <cstdint>
#include <string>

namespace kmdflow {

enum class Sampling { iid, lattice, jittered, quantile };

Sampling parse_sampling(const std::string& name); ///< throws std::invalid_argument
std::string to_string(Sampling sampling);

/// N points distributed like `density`, on the host. In d = 1 every sampling maps uniform points
/// u_i through the quantile function F⁻¹: iid u_i, lattice and quantile (i + ½)/N, jittered
/// (i + U_i)/N.
PointView<Kokkos::HostSpace> sample_positions(const Density& density, Sampling sampling,
                                              std::size_t count, std::uint64_t seed);

/// A uniform double in [0, 1) from 53 random bits (portable across standard libraries).
template <class Engine> double uniform01(Engine& engine) {
  return double(engine() >> 11) * 0x1.0p-53;
}

} // namespace kmdflow
