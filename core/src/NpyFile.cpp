#include <kmdflow/NpyFile.hpp>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace kmdflow {

namespace {

/// The value of `key` in the header's Python dict literal, e.g. "'<f8'" or "(3, 2)".
std::string dict_value(const std::string& header, const std::string& key) {
  const auto at = header.find("'" + key + "'");
  if (at == std::string::npos) throw std::runtime_error("its header has no '" + key + "'");
  auto begin = header.find(':', at);
  if (begin == std::string::npos) throw std::runtime_error("its header is damaged");
  begin = header.find_first_not_of(' ', begin + 1);
  const char open = header[begin];
  const auto end = open == '(' ? header.find(')', begin) + 1
                   : open == '\'' ? header.find('\'', begin + 1) + 1
                                  : header.find_first_of(",}", begin);
  if (end == std::string::npos || end == 0) throw std::runtime_error("its header is damaged");
  return header.substr(begin, end - begin);
}

std::vector<std::size_t> parse_shape(const std::string& text) {
  std::vector<std::size_t> shape;
  std::size_t i = 1;
  while (i < text.size()) {
    i = text.find_first_of("0123456789)", i);
    if (i == std::string::npos || text[i] == ')') break;
    std::size_t used = 0;
    shape.push_back(std::stoull(text.substr(i), &used));
    i += used;
  }
  return shape;
}

template <class T> void convert(const char* bytes, std::size_t count, std::vector<double>& out) {
  out.resize(count);
  for (std::size_t i = 0; i < count; ++i) {
    T v;
    std::memcpy(&v, bytes + i * sizeof(T), sizeof(T));
    out[i] = double(v);
  }
}

} // namespace

bool is_npy_path(const std::string& path) { return path.size() > 4 && path.compare(path.size() - 4, 4, ".npy") == 0; }

NpyArray read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot be read");
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  static const char magic[] = "\x93NUMPY";
  if (bytes.size() < 10 || bytes.compare(0, 6, magic, 6) != 0) throw std::runtime_error("is not an .npy file");
  const int major = static_cast<unsigned char>(bytes[6]);
  std::size_t header_length = 0, offset = 0;
  if (major == 1) {
    header_length = static_cast<unsigned char>(bytes[8]) | (std::size_t(static_cast<unsigned char>(bytes[9])) << 8);
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) throw std::runtime_error("is truncated");
    for (int b = 0; b < 4; ++b) header_length |= std::size_t(static_cast<unsigned char>(bytes[8 + b])) << (8 * b);
    offset = 12;
  } else {
    throw std::runtime_error("has .npy format version " + std::to_string(major) + " (1 to 3 are read)");
  }
  if (bytes.size() < offset + header_length) throw std::runtime_error("is truncated");
  const std::string header = bytes.substr(offset, header_length);
  const std::string descr = dict_value(header, "descr");
  const bool fortran = dict_value(header, "fortran_order") == "True";
  NpyArray array;
  array.shape = parse_shape(dict_value(header, "shape"));
  // The element count, checked against the body's size before anything is multiplied out (a
  // damaged shape must not overflow into a small count).
  const std::size_t body_bytes = bytes.size() - offset - header_length;
  std::size_t count = 1;
  for (std::size_t extent : array.shape) {
    if (extent != 0 && count > body_bytes / extent) throw std::runtime_error("is truncated (or its shape is damaged)");
    count *= extent;
  }
  const std::string type = descr.size() == 5 ? descr.substr(1, 3) : "";
  const char order = type.empty() ? '?' : type[0];
  const std::string kind = type.empty() ? "" : type.substr(1);
  if (order == '>') throw std::runtime_error("holds big-endian numbers (" + descr + "): save it as '<f8'");
  std::size_t size = kind == "f8" || kind == "i8" ? 8 : kind == "f4" || kind == "i4" ? 4 : 0;
  if (size == 0 || (order != '<' && order != '|' && order != '='))
    throw std::runtime_error("holds dtype " + descr + " (float64, float32, int64 or int32 are read)");
  const char* body = bytes.data() + offset + header_length;
  if (body_bytes / size < count)
    throw std::runtime_error("is truncated: its shape needs " + std::to_string(count * size) + " bytes of data");
  if (kind == "f8") convert<double>(body, count, array.values);
  if (kind == "f4") convert<float>(body, count, array.values);
  if (kind == "i8") convert<std::int64_t>(body, count, array.values);
  if (kind == "i4") convert<std::int32_t>(body, count, array.values);
  if (fortran && array.shape.size() == 2) {
    const std::size_t rows = array.shape[0], columns = array.shape[1];
    std::vector<double> c_order(count);
    for (std::size_t i = 0; i < rows; ++i)
      for (std::size_t j = 0; j < columns; ++j) c_order[i * columns + j] = array.values[j * rows + i];
    array.values.swap(c_order);
  } else if (fortran && array.shape.size() > 2) {
    throw std::runtime_error("is a Fortran-ordered array of more than 2 dimensions");
  }
  return array;
}

std::string npy_bytes(const PointView<Kokkos::HostSpace>& values) {
  const std::size_t rows = values.extent(0), columns = values.extent(1);
  std::string header = "{'descr': '<f8', 'fortran_order': False, 'shape': (" + std::to_string(rows) + ", " +
                       std::to_string(columns) + "), }";
  // Magic, version, header length, then the header padded with spaces to a multiple of 64 bytes
  // and ended by a newline.
  const std::size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string bytes("\x93NUMPY\x01\x00", 8);
  bytes += char(header.size() & 0xff);
  bytes += char(header.size() >> 8);
  bytes += header;
  bytes.reserve(bytes.size() + rows * columns * 8);
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t j = 0; j < columns; ++j) {
      const double v = values(i, j);
      bytes.append(reinterpret_cast<const char*>(&v), sizeof v);
    }
  return bytes;
}

} // namespace kmdflow
