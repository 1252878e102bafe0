#include <kmdflow/AtomicFile.hpp>
#include <kmdflow/Config.hpp>
#include <kmdflow/H5md.hpp>
#include <kmdflow/NpyFile.hpp>
#include <kmdflow/ParticleFile.hpp>

#include <cstdio>

#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>
#include <vector>

namespace kmdflow {

namespace {

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> fields;
  std::string field;
  std::istringstream in(line);
  while (std::getline(in, field, ',')) {
    const auto b = field.find_first_not_of(" \t\r"), e = field.find_last_not_of(" \t\r");
    fields.push_back(b == std::string::npos ? "" : field.substr(b, e - b + 1));
  }
  if (!line.empty() && line.back() == ',') fields.push_back("");
  return fields;
}

ParticleData read_csv(const std::string& path, int dim, const std::string& key) {
  std::ifstream in(path);
  if (!in) throw ConfigError(key, "cannot read file '" + path + "'");
  const std::string where = "'" + path + "'";
  std::string line;
  std::size_t line_number = 0;
  while (std::getline(in, line) && ++line_number && line.find_first_not_of(" \t\r") == std::string::npos) {}
  const auto header = split(line);
  static const char* axes[] = {"x", "y", "z"};
  std::string expected;
  for (int d = 0; d < dim; ++d) expected += (d ? "," : "") + std::string(axes[d]);
  bool ok = int(header.size()) == dim || int(header.size()) == dim + 1;
  for (int d = 0; ok && d < dim; ++d) ok = header[d] == axes[d];
  if (ok && int(header.size()) == dim + 1) ok = header[dim] == "w";
  if (!ok)
    throw ConfigError(key, where + " line " + std::to_string(line_number) + ": expected the header '" +
                               expected + "' or '" + expected + ",w' for dim " + std::to_string(dim) +
                               " (got '" + line + "')");
  const int columns = int(header.size());
  std::vector<double> values;
  while (std::getline(in, line)) {
    ++line_number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const auto fields = split(line);
    if (int(fields.size()) != columns)
      throw ConfigError(key, where + " line " + std::to_string(line_number) + ": expected " +
                                 std::to_string(columns) + " values, got " + std::to_string(fields.size()));
    for (const auto& f : fields) {
      double v = 0;
      if (!parse_finite(f, v))
        throw ConfigError(key, where + " line " + std::to_string(line_number) + ": '" + f +
                                   "' is not a finite number");
      values.push_back(v);
    }
  }
  const std::size_t n = values.size() / columns;
  if (n == 0) throw ConfigError(key, where + " holds no particles");
  ParticleData data;
  data.positions = PointView<Kokkos::HostSpace>("kmdflow::particle_file::positions", n, dim);
  data.weights = ScalarView<Kokkos::HostSpace>("kmdflow::particle_file::weights", n);
  data.file_had_weights = columns == dim + 1;
  for (std::size_t i = 0; i < n; ++i) {
    for (int d = 0; d < dim; ++d) data.positions(i, d) = wrap_unit(values[i * columns + d]);
    data.weights(i) = data.file_had_weights ? values[i * columns + dim] : 1.0;
  }
  return data;
}

/// An .npy particle file: (N, d) or (N, d + 1) with weights last; (N,) in 1D.
ParticleData read_npy_particles(const std::string& path, int dim, const std::string& key) {
  NpyArray array;
  try {
    array = read_npy(path);
  } catch (const std::exception& e) {
    throw ConfigError(key, "'" + path + "' " + e.what());
  }
  const auto& shape = array.shape;
  const std::size_t columns = shape.size() == 1 && dim == 1 ? 1 : shape.size() == 2 ? shape[1] : 0;
  if (columns != std::size_t(dim) && columns != std::size_t(dim + 1))
    throw ConfigError(key, "'" + path + "' must hold an array of shape (N, " + std::to_string(dim) + ") or (N, " +
                               std::to_string(dim + 1) + ") with the weights last, for dim " + std::to_string(dim));
  const std::size_t n = shape[0];
  if (n == 0) throw ConfigError(key, "'" + path + "' holds no particles");
  ParticleData data;
  data.positions = PointView<Kokkos::HostSpace>("kmdflow::particle_file::positions", n, dim);
  data.weights = ScalarView<Kokkos::HostSpace>("kmdflow::particle_file::weights", n);
  data.file_had_weights = columns == std::size_t(dim + 1);
  for (std::size_t i = 0; i < n; ++i) {
    for (int d = 0; d < dim; ++d) {
      const double x = array.values[i * columns + d];
      if (!std::isfinite(x))
        throw ConfigError(key, "'" + path + "': particle " + std::to_string(i) +
                                   " (counting from 0) has a position that is not a finite number");
      data.positions(i, d) = wrap_unit(x);
    }
    data.weights(i) = data.file_had_weights ? array.values[i * columns + dim] : 1.0;
  }
  return data;
}

} // namespace

bool parse_finite(std::string_view field, double& value) {
  const auto b = field.find_first_not_of(" \t\r"), e = field.find_last_not_of(" \t\r");
  if (b == std::string_view::npos) return false;
  const char *first = field.data() + b, *last = field.data() + e + 1;
  const auto [end, ec] = std::from_chars(first, last, value);
  return ec == std::errc() && end == last && std::isfinite(value);
}

bool is_h5md_path(const std::string& path) {
  for (const char* ext : {".h5", ".hdf5", ".h5md"}) {
    const std::string e(ext);
    if (path.size() >= e.size() && path.compare(path.size() - e.size(), e.size(), e) == 0) return true;
  }
  return false;
}

ParticleData read_particles(const std::string& path, int dim, const std::string& key) {
  require_regular_file(key, path);
  ParticleData data;
  if (is_h5md_path(path)) {
    try {
      auto frame = read_h5md_last_frame(path);
      if (int(frame.positions.extent(1)) != dim)
        throw ConfigError(key, "'" + path + "' holds " + std::to_string(frame.positions.extent(1)) +
                                   "-dimensional positions, but dim is " + std::to_string(dim));
      if (frame.positions.extent(0) == 0) throw ConfigError(key, "'" + path + "' holds no particles");
      // As for CSV files: every coordinate a finite number (NaN reached the engines' bin sorts).
      for (std::size_t i = 0; i < frame.positions.extent(0); ++i)
        for (int d = 0; d < dim; ++d)
          if (!std::isfinite(frame.positions(i, d)))
            throw ConfigError(key, "'" + path + "': particle " + std::to_string(i) +
                                       " (counting from 0) has a position that is not a finite number");
      data.positions = frame.positions;
      data.file_had_weights = frame.masses.extent(0) > 0;
      data.weights = data.file_had_weights
                         ? frame.masses
                         : ScalarView<Kokkos::HostSpace>("kmdflow::particle_file::weights",
                                                         frame.positions.extent(0));
      if (!data.file_had_weights) Kokkos::deep_copy(data.weights, 1.0);
      for (std::size_t i = 0; i < data.positions.extent(0); ++i)
        for (int d = 0; d < dim; ++d) data.positions(i, d) = wrap_unit(data.positions(i, d));
    } catch (const ConfigError&) {
      throw;
    } catch (const std::exception& e) {
      throw ConfigError(key, "cannot read H5MD file '" + path + "': " + e.what());
    }
  } else if (is_npy_path(path)) {
    data = read_npy_particles(path, dim, key);
  } else {
    data = read_csv(path, dim, key);
  }
  double total = 0;
  for (std::size_t i = 0; i < data.weights.extent(0); ++i) {
    if (!(data.weights(i) > 0) || !std::isfinite(data.weights(i)))
      throw ConfigError(key, "'" + path + "': particle " + std::to_string(i) +
                                 " (counting from 0) has a weight that is not a finite number > 0");
    total += data.weights(i);
  }
  if (!std::isfinite(total))
    throw ConfigError(key, "'" + path + "': the weights' sum overflows a double (scale them down)");
  for (std::size_t i = 0; i < data.weights.extent(0); ++i) data.weights(i) /= total;
  return data;
}

void write_csv(const std::string& path, const std::string& header,
               const PointView<Kokkos::HostSpace>& values) {
  std::string text = header + "\n";
  text.reserve(values.extent(0) * values.extent(1) * 25 + header.size() + 1);
  char buffer[32];
  for (std::size_t i = 0; i < values.extent(0); ++i) {
    for (std::size_t d = 0; d < values.extent(1); ++d) {
      const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, values(i, d),
                                           std::chars_format::general, 17);
      if (d) text += ',';
      text.append(buffer, end);
    }
    text += '\n';
  }
  if (path == "-") {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    return;
  }
  write_file_atomically(path, text);
}

void write_table(const std::string& path, const std::string& header,
                 const PointView<Kokkos::HostSpace>& values) {
  if (is_npy_path(path)) write_file_atomically(path, npy_bytes(values));
  else write_csv(path, header, values);
}

} // namespace kmdflow
