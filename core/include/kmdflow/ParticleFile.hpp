#pragma once
// Particle files (DESIGN.md §7): CSV with a header `x[,y[,z]][,w]`, an H5MD file whose last
// frame of /particles/all/position/value is read (weights from /particles/all/mass if present), or
// a NumPy .npy array of shape (N, d) or (N, d + 1) (the last column the weights; (N,) in 1D).

#include <kmdflow/Types.hpp>

#include <string>
#include <string_view>

namespace kmdflow {

struct ParticleData {
  PointView<Kokkos::HostSpace> positions; ///< wrapped into [0, 1)^d
  ScalarView<Kokkos::HostSpace> weights;  ///< normalised to sum 1 (1/N when the file has none)
  bool file_had_weights = false;
};

/// Reads a particle file for the torus T^dim. Errors are ConfigError naming `key` and the file.
ParticleData read_particles(const std::string& path, int dim, const std::string& key);

/// True for the names H5MD files go by (.h5, .hdf5, .h5md).
bool is_h5md_path(const std::string& path);

/// A CSV field as a finite double: the whole field (blanks and a trailing \r around it allowed),
/// nothing else ("1.5abc", "nan", "1e400" give false).
bool parse_finite(std::string_view field, double& value);

/// Writes rows of `values` under the header `names` (comma separated), atomically, with 17
/// significant digits; `path` "-": to standard output.
void write_csv(const std::string& path, const std::string& header,
               const PointView<Kokkos::HostSpace>& values);

/// write_csv, or for a name ending in .npy an N × columns float64 array (numpy.load reads it;
/// the header's names are the columns' order), atomically.
void write_table(const std::string& path, const std::string& header,
                 const PointView<Kokkos::HostSpace>& values);

} // namespace kmdflow
