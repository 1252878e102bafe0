#include <kmdflow/Checkpoint.hpp>

#include "Hdf5Handle.hpp"

#include <hdf5.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <stdexcept>
#include <unistd.h>

namespace kmdflow {

namespace fs = std::filesystem;

const std::vector<double>& Checkpoint::array(const std::string& name, long size) const {
  const auto it = arrays.find(name);
  if (it == arrays.end()) throw std::runtime_error("the checkpoint has no array '" + name + "'");
  if (size >= 0 && it->second.size() != std::size_t(size))
    throw std::runtime_error("the checkpoint's array '" + name + "' holds " + std::to_string(it->second.size()) +
                             " values, not " + std::to_string(size));
  return it->second;
}

void sync_path(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("cannot open '" + path.string() + "' to sync it (" + std::strerror(errno) + ")");
  const int status = ::fsync(fd);
  const int error = errno;
  ::close(fd);
  // Some file systems cannot sync a directory (EINVAL): nothing to wait for there.
  if (status != 0 && error != EINVAL)
    throw std::runtime_error("cannot sync '" + path.string() + "' (" + std::strerror(error) + ")");
}

namespace {

using Handle = detail::Hdf5Handle;

void check(herr_t status, const std::string& what) {
  if (status < 0) throw std::runtime_error("HDF5: cannot " + what);
}

/// A one-dimensional dataset, chunked so that it carries a Fletcher-32 checksum.
void write_array(hid_t group, const std::string& name, hid_t type, const void* data, std::size_t size) {
  const hsize_t dims[1] = {size}, max[1] = {H5S_UNLIMITED};
  const hsize_t chunk[1] = {std::clamp<hsize_t>(size, 1, hsize_t(1) << 20)};
  Handle space(H5Screate_simple(1, dims, max), H5Sclose, "make a dataspace");
  Handle props(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, "make properties");
  check(H5Pset_chunk(props, 1, chunk), "chunk " + name);
  check(H5Pset_fletcher32(props), "checksum " + name);
  Handle set(H5Dcreate2(group, name.c_str(), type, space, H5P_DEFAULT, props, H5P_DEFAULT), H5Dclose,
             "create " + name);
  if (size) check(H5Dwrite(set, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), "write " + name);
}

template <class T> std::vector<T> read_array(hid_t group, const std::string& name, hid_t type) {
  Handle set(H5Dopen2(group, name.c_str(), H5P_DEFAULT), H5Dclose, "open " + name);
  Handle space(H5Dget_space(set), H5Sclose, "read the shape of " + name);
  if (H5Sget_simple_extent_ndims(space) != 1) throw std::runtime_error("'" + name + "' is not one-dimensional");
  hsize_t size = 0;
  H5Sget_simple_extent_dims(space, &size, nullptr);
  std::vector<T> values(size);
  if (size && H5Dread(set, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) < 0)
    throw std::runtime_error("'" + name + "' cannot be read (damaged: its checksum does not match)");
  return values;
}

} // namespace

void write_checkpoint(const Checkpoint& checkpoint, const fs::path& path, const fs::path& previous,
                      const CheckpointHook& hook) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  fs::path staged = path;
  staged += ".part";
  {
    Handle file(H5Fcreate(staged.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose,
                "create '" + staged.string() + "'");
    const std::string record = checkpoint.record.dump();
    write_array(file, "record", H5T_NATIVE_CHAR, record.data(), record.size());
    Handle group(H5Gcreate2(file, "arrays", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose, "create /arrays");
    for (const auto& [name, values] : checkpoint.arrays)
      write_array(group, name, H5T_NATIVE_DOUBLE, values.data(), values.size());
  }
  if (hook) hook("written", staged);
  sync_path(staged);
  if (fs::exists(path)) fs::rename(path, previous);
  if (hook) hook("rotated", staged);
  fs::rename(staged, path);
  sync_path(path.parent_path().empty() ? fs::path(".") : path.parent_path());
}

Checkpoint read_checkpoint(const fs::path& path) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  if (!fs::is_regular_file(path)) throw std::runtime_error("not a file");
  Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose, "open it (not an HDF5 file, or truncated)");
  Checkpoint checkpoint;
  const auto record = read_array<char>(file, "record", H5T_NATIVE_CHAR);
  try {
    checkpoint.record = nlohmann::json::parse(record.begin(), record.end());
  } catch (const nlohmann::json::exception&) {
    throw std::runtime_error("its record is not JSON");
  }
  if (!checkpoint.record.is_object()) throw std::runtime_error("its record is not a JSON object");
  Handle group(H5Gopen2(file, "arrays", H5P_DEFAULT), H5Gclose, "open /arrays");
  for (const auto& name : detail::link_names(group)) checkpoint.arrays[name] = read_array<double>(group, name, H5T_NATIVE_DOUBLE);
  return checkpoint;
}

} // namespace kmdflow
