#pragma once
// An HDF5 identifier closed at the end of its scope (the core's own .cpp files only): an error
// between opening and closing leaves no handle open, so that the file can still be closed.

#include <hdf5.h>

#include <stdexcept>
#include <string>

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

} // namespace kmdflow::detail
