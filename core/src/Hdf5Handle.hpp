#pragma once
// HDF5 helpers of the core's own .cpp files: an identifier closed at the end of its scope (an
// error between opening and closing leaves no handle open, so that the file can still be closed),
// and a group's link names.

#include <hdf5.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace kmdflow::detail {

class Hdf5Handle {
public:
  /// Throws std::runtime_error("HDF5: cannot <what>") if `id` is negative.
  Hdf5Handle(hid_t id, herr_t (*close)(hid_t), const std::string& what) : m_id(id), m_close(close) {
    if (id < 0) throw std::runtime_error("HDF5: cannot " + what);
  }
  ~Hdf5Handle() {
    if (m_id >= 0) m_close(m_id);
  }
  Hdf5Handle(Hdf5Handle&& other) noexcept : m_id(other.m_id), m_close(other.m_close) { other.m_id = -1; }
  Hdf5Handle(const Hdf5Handle&) = delete;
  Hdf5Handle& operator=(const Hdf5Handle&) = delete;
  operator hid_t() const { return m_id; }

private:
  hid_t m_id;
  herr_t (*m_close)(hid_t);
};

/// The names of the links in a group, in name order.
inline std::vector<std::string> link_names(hid_t group) {
  std::vector<std::string> names;
  H5Literate2(
      group, H5_INDEX_NAME, H5_ITER_INC, nullptr,
      [](hid_t, const char* name, const H5L_info2_t*, void* out) -> herr_t {
        static_cast<std::vector<std::string>*>(out)->push_back(name);
        return 0;
      },
      &names);
  return names;
}

} // namespace kmdflow::detail
