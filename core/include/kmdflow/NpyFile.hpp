#pragma once
// NumPy's .npy format (version 1.0–3.0; https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html):
// the arrays that numpy.save writes and numpy.load reads, for particle files and eval's output.

#include <kmdflow/Types.hpp>

#include <cstddef>
#include <string>
#include <vector>

namespace kmdflow {

/// An array read from a .npy file, converted to double, in C order.
struct NpyArray {
  std::vector<std::size_t> shape;
  std::vector<double> values;
};

/// Reads little-endian float64/float32/int64/int32 arrays in C or Fortran order; throws
/// std::runtime_error saying what is wrong with the file (not an .npy file, a big-endian or
/// complex or object dtype, a truncated body).
NpyArray read_npy(const std::string& path);

/// The bytes of an .npy file (version 1.0, '<f8', C order) holding `values` (N × columns).
std::string npy_bytes(const PointView<Kokkos::HostSpace>& values);

/// True for names ending in ".npy".
bool is_npy_path(const std::string& path);

} // namespace kmdflow
