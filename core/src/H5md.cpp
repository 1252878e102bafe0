#include <kmdflow/Checkpoint.hpp>
#include <kmdflow/H5md.hpp>

#include "Hdf5Handle.hpp"

#include <hdf5.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <unistd.h>

namespace kmdflow {

namespace {

// HDF5's clean-up at exit asserts on a file whose close failed (a full disk): kmdflow closes its
// files itself, so HDF5 is told not to. This runs before main, before any other HDF5 call.
const bool hdf5_without_atexit = H5dont_atexit() >= 0;

// HDF5 prints its own error stacks unless told not to; errors become exceptions here.
void quiet_hdf5() {
  static const bool once = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)once;
  (void)hdf5_without_atexit;
}

/// The operating system's reason in HDF5's error stack ("No space left on device"), if any.
std::string system_reason() {
  std::string reason;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_DOWNWARD,
      [](unsigned, const H5E_error2_t* error, void* data) -> herr_t {
        const std::string text = error->desc ? error->desc : "";
        const std::string mark = "error message = '";
        if (const auto at = text.find(mark); at != std::string::npos) {
          const auto end = text.find('\'', at + mark.size());
          *static_cast<std::string*>(data) = text.substr(at + mark.size(), end - at - mark.size());
        }
        return 0;
      },
      &reason);
  return reason;
}

[[noreturn]] void fail(const char* what) {
  const std::string reason = system_reason();
  throw std::runtime_error(std::string("HDF5: cannot ") + what + (reason.empty() ? "" : " (" + reason + ")"));
}

hid_t check(hid_t id, const char* what) {
  if (id < 0) fail(what);
  return id;
}
void check(herr_t status, const char* what, int) {
  if (status < 0) fail(what);
}

using Handle = detail::Hdf5Handle;

/// A group created (or opened) for the scope.
Handle group_handle(hid_t parent, const char* name, bool create = true) {
  return Handle(create ? H5Gcreate2(parent, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)
                       : H5Gopen2(parent, name, H5P_DEFAULT),
                H5Gclose, std::string(create ? "create " : "open ") + name);
}

void string_attribute(hid_t object, const char* name, const std::string& value) {
  const Handle type(H5Tcopy(H5T_C_S1), H5Tclose, "make a string type");
  H5Tset_size(type, value.size() + 1);
  const Handle space(H5Screate(H5S_SCALAR), H5Sclose, "make a dataspace");
  const Handle attr(H5Acreate2(object, name, type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose, name);
  check(H5Awrite(attr, type, value.c_str()), name, 0);
}

void string_array_attribute(hid_t object, const char* name, const std::vector<std::string>& values) {
  std::size_t width = 1;
  for (const auto& v : values) width = std::max(width, v.size() + 1);
  std::vector<char> buffer(width * values.size(), '\0');
  for (std::size_t i = 0; i < values.size(); ++i) std::copy(values[i].begin(), values[i].end(), &buffer[i * width]);
  const Handle type(H5Tcopy(H5T_C_S1), H5Tclose, "make a string type");
  H5Tset_size(type, width);
  const hsize_t dims[1] = {values.size()};
  const Handle space(H5Screate_simple(1, dims, nullptr), H5Sclose, "make a dataspace");
  const Handle attr(H5Acreate2(object, name, type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose, name);
  check(H5Awrite(attr, type, buffer.data()), name, 0);
}

template <class T>
void array_attribute(hid_t object, const char* name, hid_t type, const std::vector<T>& values) {
  const hsize_t dims[1] = {values.size()};
  const Handle space(values.size() == 1 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, dims, nullptr), H5Sclose,
                     "make a dataspace");
  const Handle attr(H5Acreate2(object, name, type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose, name);
  check(H5Awrite(attr, type, values.data()), name, 0);
}

// An extendible dataset of frames: dims {0, rest...}, chunked one frame at a time.
hid_t create_time_series(hid_t group, const char* name, hid_t type, std::vector<hsize_t> rest) {
  std::vector<hsize_t> dims{0}, max{H5S_UNLIMITED}, chunk{1};
  for (auto r : rest) {
    dims.push_back(r);
    max.push_back(r);
    chunk.push_back(std::max<hsize_t>(1, std::min<hsize_t>(r, 1 << 18)));
  }
  if (rest.empty()) chunk[0] = 256;
  const Handle space(H5Screate_simple(int(dims.size()), dims.data(), max.data()), H5Sclose, "make a dataspace");
  const Handle props(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, "make properties");
  H5Pset_chunk(props, int(chunk.size()), chunk.data());
  return check(H5Dcreate2(group, name, type, space, H5P_DEFAULT, props, H5P_DEFAULT), name);
}

// Extends a time series by one frame and writes it.
void append_to(hid_t set, hid_t type, const void* data, std::vector<hsize_t> rest, hsize_t frame) {
  std::vector<hsize_t> size{frame + 1}, start{frame}, count{1};
  for (auto r : rest) {
    size.push_back(r);
    start.push_back(0);
    count.push_back(r);
  }
  check(H5Dset_extent(set, size.data()), "extend a dataset", 0);
  const Handle file_space(H5Dget_space(set), H5Sclose, "read a dataspace");
  H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr);
  const Handle memory_space(H5Screate_simple(int(count.size()), count.data(), nullptr), H5Sclose, "make a dataspace");
  check(H5Dwrite(set, type, memory_space, file_space, H5P_DEFAULT, data), "write a frame", 0);
}

// A time-independent dataset of doubles (H5MD §"time-independent"), written at once.
void write_dataset(hid_t group, const char* name, const std::vector<hsize_t>& dims, const double* values,
                   const char* what) {
  const Handle space(H5Screate_simple(int(dims.size()), dims.data(), nullptr), H5Sclose, "make a dataspace");
  const Handle set(H5Dcreate2(group, name, H5T_NATIVE_DOUBLE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose,
                   what);
  check(H5Dwrite(set, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values), ("write " + std::string(what)).c_str(),
        0);
}

/// Trajectories are written in the HDF5 1.10 format (readable by HDF5 ≥ 1.10, h5py's wheels
/// included), which SWMR writing needs; without HDF5's file locks, which some cluster file
/// systems refuse (run.log's lock keeps a second kmdflow away).
Handle trajectory_access() {
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, "make file access properties");
  H5Pset_libver_bounds(fapl, H5F_LIBVER_V110, H5F_LIBVER_V110);
  H5Pset_file_locking(fapl, false, true);
  return fapl;
}

std::filesystem::path staging_name(const std::filesystem::path& path) {
  auto p = path;
  p += ".part";
  return p;
}

} // namespace

void H5mdWriter::FrameSeries::create(long long group, std::vector<std::size_t> frame_shape) {
  shape = std::move(frame_shape);
  const std::vector<hsize_t> rest(shape.begin(), shape.end());
  value = create_time_series(group, "value", H5T_NATIVE_DOUBLE, rest);
  time = create_time_series(group, "time", H5T_NATIVE_DOUBLE, {});
  step = create_time_series(group, "step", H5T_NATIVE_LONG, {});
}

void H5mdWriter::FrameSeries::reopen(long long group, long keep) {
  value = check(H5Dopen2(group, "value", H5P_DEFAULT), "open a series' values");
  time = check(H5Dopen2(group, "time", H5P_DEFAULT), "open a series' times");
  step = check(H5Dopen2(group, "step", H5P_DEFAULT), "open a series' steps");
  const hid_t space = H5Dget_space(value);
  std::vector<hsize_t> dims(std::max(1, H5Sget_simple_extent_ndims(space)));
  H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  H5Sclose(space);
  if (dims[0] < hsize_t(keep))
    throw std::runtime_error("a time series holds " + std::to_string(dims[0]) + " frames, fewer than " +
                             std::to_string(keep));
  shape.assign(dims.begin() + 1, dims.end());
  dims[0] = hsize_t(keep);
  const hsize_t length[1] = {hsize_t(keep)};
  check(H5Dset_extent(value, dims.data()), "cut a series", 0);
  check(H5Dset_extent(time, length), "cut a series' times", 0);
  check(H5Dset_extent(step, length), "cut a series' steps", 0);
  frames = keep;
}

void H5mdWriter::FrameSeries::append(const double* values, long step_number, double t) {
  const hsize_t frame = hsize_t(frames);
  append_to(value, H5T_NATIVE_DOUBLE, values, std::vector<hsize_t>(shape.begin(), shape.end()), frame);
  append_to(time, H5T_NATIVE_DOUBLE, &t, {}, frame);
  append_to(step, H5T_NATIVE_LONG, &step_number, {}, frame);
  ++frames;
}

void H5mdWriter::FrameSeries::close() {
  if (value < 0) return;
  H5Dclose(value);
  H5Dclose(time);
  H5Dclose(step);
  value = time = step = -1;
}

H5mdWriter::H5mdWriter(std::filesystem::path path, const H5mdParticles& particles, const std::string& creator_version)
    : m_path(std::move(path)), m_dim(particles.dim), m_count(particles.count) {
  quiet_hdf5();
  m_file = check(H5Fcreate(staging_name(m_path).c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, trajectory_access()),
                 ("create " + staging_name(m_path).string()).c_str());
  guarded([&] {
    const Handle h5md = group_handle(m_file, "h5md");
    array_attribute<int>(h5md, "version", H5T_NATIVE_INT, {1, 1});
    string_attribute(group_handle(h5md, "author"), "name", "kmdflow user");
    const Handle creator = group_handle(h5md, "creator");
    string_attribute(creator, "name", "kmdflow");
    string_attribute(creator, "version", creator_version);
    if (particles.box != H5mdParticles::Box::none) write_particles(particles);
    check(H5Fflush(m_file, H5F_SCOPE_GLOBAL), "flush the file", 0);
  });
}

namespace {
bool is_group(hid_t file, const char* path) {
  H5O_info2_t info;
  return H5Lexists(file, path, H5P_DEFAULT) > 0 &&
         H5Oget_info_by_name3(file, path, &info, H5O_INFO_BASIC, H5P_DEFAULT) >= 0 && info.type == H5O_TYPE_GROUP;
}
} // namespace

H5mdWriter::H5mdWriter(std::filesystem::path path, long frames, long rows) : m_path(std::move(path)), m_dim(0), m_count(0) {
  quiet_hdf5();
  // The file a killed run left is consistent (SWMR) but marked as open for writing, which only a
  // SWMR reader accepts: its objects are copied into a new file, whose series are then cut.
  const auto staged = staging_name(m_path);
  const auto source = std::filesystem::is_regular_file(staged) ? staged : m_path;
  if (!std::filesystem::is_regular_file(source)) throw std::runtime_error("'" + m_path.string() + "' is missing");
  auto copy = staged;
  copy += ".part";
  {
    const hid_t old = H5Fopen(source.c_str(), H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, trajectory_access());
    if (old < 0) throw std::runtime_error("'" + source.string() + "' cannot be opened (damaged)");
    const Handle old_file(old, H5Fclose, "open " + source.string());
    const std::vector<std::string> names = detail::link_names(old_file);
    const Handle fresh(H5Fcreate(copy.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, trajectory_access()), H5Fclose,
                       "create " + copy.string());
    for (const auto& name : names)
      check(H5Ocopy(old_file, name.c_str(), fresh, name.c_str(), H5P_DEFAULT, H5P_DEFAULT),
            ("copy /" + name + " of " + source.string()).c_str(), 0);
  }
  m_file = check(H5Fopen(copy.c_str(), H5F_ACC_RDWR, trajectory_access()), ("open " + copy.string()).c_str());
  try {
    auto reopen_group = [&](FrameSeries& series, const char* name) {
      series.reopen(group_handle(m_file, name, false), frames);
    };
    if (is_group(m_file, "/particles/all/position")) {
      reopen_group(m_positions, "/particles/all/position");
      m_count = m_positions.shape.at(0);
      m_dim = int(m_positions.shape.at(1));
    }
    if (is_group(m_file, "/particles/all/mass")) reopen_group(m_masses, "/particles/all/mass");
    // Files written before the edges were time dependent hold them as a plain dataset: left as is.
    if (is_group(m_file, "/particles/all/box/edges")) reopen_group(m_edges, "/particles/all/box/edges");
    // The time series under /fields (cut to `frames`) and /observables (cut to `rows`).
    auto reopen_all = [&](const char* parent, std::map<std::string, FrameSeries>& series, long keep) {
      if (!is_group(m_file, parent)) return;
      for (const auto& name : detail::link_names(group_handle(m_file, parent, false))) {
        const std::string path = std::string(parent) + "/" + name;
        if (H5Lexists(m_file, (path + "/time").c_str(), H5P_DEFAULT) <= 0) continue; // time independent
        series[name].reopen(group_handle(m_file, path.c_str(), false), keep);
      }
    };
    reopen_all("/fields", m_fields, frames);
    reopen_all("/observables", m_observables, rows);
    check(H5Fflush(m_file, H5F_SCOPE_GLOBAL), "flush the file", 0);
    std::filesystem::rename(copy, staged);
    if (source != staged) std::filesystem::remove(source);
  } catch (...) {
    for (auto& [name, f] : m_fields) f.close();
    for (auto& [name, f] : m_observables) f.close();
    m_masses.close();
    m_edges.close();
    m_positions.close();
    H5Fclose(m_file);
    m_file = -1;
    std::filesystem::remove(copy);
    throw;
  }
  m_frames = frames;
  start_swmr();
}

void H5mdWriter::start_swmr() {
  check(H5Fstart_swmr_write(m_file), "start SWMR writing", 0);
  m_swmr = true;
}

void H5mdWriter::declare_series(const std::string& parent, const std::string& name,
                                const std::vector<std::size_t>& shape, const char* grid) {
  if (m_swmr) throw std::logic_error("H5mdWriter: series must be declared before the first frame");
  auto& map = parent == "fields" ? m_fields : m_observables;
  if (map.count(name)) return;
  guarded([&] {
    const Handle top = group_handle(m_file, parent.c_str(), H5Lexists(m_file, parent.c_str(), H5P_DEFAULT) <= 0);
    const Handle group = group_handle(top, name.c_str());
    if (grid) string_attribute(group, "grid", grid);
    FrameSeries series;
    series.create(group, shape);
    map.emplace(name, series);
  });
}

void H5mdWriter::write_parameters(const std::string& author,
                                  const std::vector<std::pair<std::string, std::string>>& parameters) {
  if (m_swmr) throw std::logic_error("H5mdWriter: parameters must be written before the first frame");
  guarded([&] {
    {
      const Handle group = group_handle(m_file, "/h5md/author", false);
      H5Adelete(group, "name");
      string_attribute(group, "name", author);
    }
    const Handle p = group_handle(m_file, "parameters", H5Lexists(m_file, "parameters", H5P_DEFAULT) <= 0);
    for (const auto& [name, value] : parameters) {
      if (H5Aexists(p, name.c_str()) > 0) H5Adelete(p, name.c_str());
      string_attribute(p, name.c_str(), value);
    }
    check(H5Fflush(m_file, H5F_SCOPE_GLOBAL), "flush the file", 0);
  });
}

void H5mdWriter::append_observables(long step, double time, const std::vector<std::pair<std::string, double>>& values) {
  for (const auto& [name, value] : values) {
    if (!m_observables.count(name)) declare_series("observables", name, {}, nullptr);
    guarded([&] { m_observables.at(name).append(&value, step, time); });
  }
}

void H5mdWriter::sync() {
  if (m_file < 0) return;
  check(H5Fflush(m_file, H5F_SCOPE_GLOBAL), "flush the trajectory", 0);
  sync_path(staging_name(m_path));
}

void H5mdWriter::write_particles(const H5mdParticles& particles) {
  const bool torus = particles.box == H5mdParticles::Box::torus;
  if (torus && particles.weights.extent(0) != m_count)
    throw std::invalid_argument("H5mdWriter: the weights do not match the particle count");
  const Handle group = group_handle(m_file, "particles");
  const Handle all = group_handle(group, "all");
  {
    const Handle box = group_handle(all, "box");
    array_attribute<int>(box, "dimension", H5T_NATIVE_INT, {m_dim});
    string_array_attribute(box, "boundary", std::vector<std::string>(m_dim, torus ? "periodic" : "none"));
    if (torus) {
      // The unit cell [0, 1)^d, as a time-dependent element beside each frame of positions (H5MD 1.1
      // allows either form; MDAnalysis reads only this one: box/edges/value[frame]).
      m_edges.create(group_handle(box, "edges"), {std::size_t(m_dim)});
    } else {
      string_attribute(box, "kmdflow_geometry",
                       "unit sphere S^" + std::to_string(m_dim - 1) + " in R^" + std::to_string(m_dim));
    }
  }
  if (torus) {
    // The particle weights are time independent: a plain dataset.
    write_dataset(all, "mass", {m_count}, particles.weights.data(), "mass");
  } else {
    m_masses.create(group_handle(all, "mass"), {m_count});
  }
  m_positions.create(group_handle(all, "position"), {m_count, std::size_t(m_dim)});
}

H5mdWriter::~H5mdWriter() {
  try {
    close();
  } catch (...) {
  }
}

void H5mdWriter::append_frame(long step, double time, const PointView<Kokkos::HostSpace>& positions) {
  if (m_positions.value < 0) throw std::logic_error("H5mdWriter: a fields-only file has no particle frames");
  if (positions.extent(0) != m_count || int(positions.extent(1)) != m_dim)
    throw std::invalid_argument("H5mdWriter: frame shape differs from the file's");
  begin_frames();
  guarded([&] {
    m_positions.append(positions.data(), step, time);
    if (m_edges.value >= 0) {
      const std::vector<double> edges(m_dim, 1.0);
      m_edges.append(edges.data(), step, time);
    }
    m_frames = std::max(m_frames, m_positions.frames);
    check(H5Fflush(m_file, H5F_SCOPE_GLOBAL), "flush the file", 0);
  });
}

void H5mdWriter::append_frame(long step, double time, const PointView<Kokkos::HostSpace>& positions,
                              const ScalarView<Kokkos::HostSpace>& masses) {
  if (m_masses.value < 0) throw std::logic_error("H5mdWriter: this file's masses are not time dependent");
  if (masses.extent(0) != m_count) throw std::invalid_argument("H5mdWriter: mass count differs from the file's");
  begin_frames();
  guarded([&] { m_masses.append(masses.data(), step, time); });
  append_frame(step, time, positions);
}

long long H5mdWriter::open_fields() {
  if (H5Lexists(m_file, "fields", H5P_DEFAULT) <= 0) group_handle(m_file, "fields");
  return check(H5Gopen2(m_file, "fields", H5P_DEFAULT), "open /fields");
}

void H5mdWriter::write_static_field(const std::string& name, const std::vector<std::size_t>& shape,
                                    const std::vector<double>& values) {
  if (m_swmr) throw std::logic_error("H5mdWriter: static fields must be written before the first frame");
  guarded([&] {
    const Handle fields(open_fields(), H5Gclose, "open /fields");
    const Handle group = group_handle(fields, name.c_str());
    write_dataset(group, "value", std::vector<hsize_t>(shape.begin(), shape.end()), values.data(), "field");
    string_attribute(group, "grid", "cell centres (i + 1/2)/n of [0, 1)^d");
    check(H5Fflush(m_file, H5F_SCOPE_GLOBAL), "flush the file", 0);
  });
}

void H5mdWriter::append_field_frame(const std::string& name, const std::vector<std::size_t>& shape, long step,
                                    double time, const std::vector<double>& values) {
  std::size_t size = 1;
  for (auto n : shape) size *= n;
  if (values.size() != size) throw std::invalid_argument("H5mdWriter: field values do not fill the shape");
  if (!m_fields.count(name)) declare_field(name, shape);
  FrameSeries& f = m_fields.at(name);
  if (f.shape != shape) throw std::invalid_argument("H5mdWriter: field shape differs from its first frame");
  begin_frames();
  guarded([&] {
    f.append(values.data(), step, time);
    m_frames = std::max(m_frames, f.frames);
    check(H5Fflush(m_file, H5F_SCOPE_GLOBAL), "flush the file", 0);
  });
}

void H5mdWriter::declare_field(const std::string& name, const std::vector<std::size_t>& shape) {
  declare_series("fields", name, shape, "cell averages over the cells [i/n, (i+1)/n) of [0, 1)^d");
}

void H5mdWriter::begin_frames() {
  if (!m_swmr) guarded([&] { start_swmr(); });
}

void H5mdWriter::close() {
  if (m_file < 0) return;
  for (auto& [name, f] : m_fields) f.close();
  m_fields.clear();
  for (auto& [name, f] : m_observables) f.close();
  m_observables.clear();
  m_masses.close();
  m_edges.close();
  m_positions.close();
  // On the disk before it takes its final name.
  bool closed = H5Fflush(m_file, H5F_SCOPE_GLOBAL) >= 0;
  try {
    sync_path(staging_name(m_path));
  } catch (const std::runtime_error&) {
    closed = false;
  }
  closed = H5Fclose(m_file) >= 0 && closed;
  m_file = -1;
  // A file that a write failed on (a full disk) stays NAME.part: a final name means complete.
  if (!closed || m_failed)
    throw std::runtime_error("'" + staging_name(m_path).string() + "' is incomplete (a write failed)");
  std::filesystem::rename(staging_name(m_path), m_path);
}

namespace {

/// Throws if `bytes` exceed the machine's physical memory: a file that declares 10¹² particles is
/// refused with the figure, not by the out-of-memory killer.
void require_memory(hsize_t bytes, const std::string& what) {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page <= 0) return;
  const double have = double(pages) * double(page);
  if (double(bytes) > have) {
    char figures[96];
    std::snprintf(figures, sizeof figures, " would need %.3g GB, more than the %.3g GB", double(bytes) / 1e9, have / 1e9);
    throw std::runtime_error(what + figures + " of memory this machine has");
  }
}

} // namespace

H5mdFrame read_h5md_last_frame(const std::string& path) {
  quiet_hdf5();
  const hid_t file = check(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), "open the file");
  H5mdFrame frame;
  try {
    const hid_t set = check(H5Dopen2(file, "/particles/all/position/value", H5P_DEFAULT),
                            "find /particles/all/position/value");
    const hid_t space = H5Dget_space(set);
    hsize_t dims[3] = {0, 0, 0};
    if (H5Sget_simple_extent_ndims(space) != 3)
      throw std::runtime_error("/particles/all/position/value is not [frame][i][dim]");
    H5Sget_simple_extent_dims(space, dims, nullptr);
    if (dims[0] == 0) throw std::runtime_error("/particles/all/position/value has no frames");
    if (dims[2] < 1 || dims[2] > 3)
      throw std::runtime_error("/particles/all/position/value has " + std::to_string(dims[2]) +
                               " coordinates per particle (1, 2 or 3 expected)");
    require_memory(dims[1] * dims[2] * sizeof(double), "its last frame of positions");
    frame.positions = PointView<Kokkos::HostSpace>("kmdflow::h5md::positions", dims[1], dims[2]);
    const hsize_t start[3] = {dims[0] - 1, 0, 0}, count[3] = {1, dims[1], dims[2]};
    H5Sselect_hyperslab(space, H5S_SELECT_SET, start, nullptr, count, nullptr);
    const hid_t memory = H5Screate_simple(3, count, nullptr);
    check(H5Dread(set, H5T_NATIVE_DOUBLE, memory, space, H5P_DEFAULT, frame.positions.data()), "read positions", 0);
    H5Sclose(memory);
    H5Sclose(space);
    H5Dclose(set);
    if (H5Lexists(file, "/particles/all/mass", H5P_DEFAULT) > 0) {
      H5O_info2_t info;
      H5Oget_info_by_name3(file, "/particles/all/mass", &info, H5O_INFO_BASIC, H5P_DEFAULT);
      // Time independent (a dataset [N]) or time dependent (a group with value[frame][N]).
      const bool is_group = info.type == H5O_TYPE_GROUP;
      const hid_t mass = check(H5Dopen2(file, is_group ? "/particles/all/mass/value" : "/particles/all/mass", H5P_DEFAULT), "open mass");
      const hid_t mspace = H5Dget_space(mass);
      hsize_t mdims[2] = {0, 0};
      const int rank = H5Sget_simple_extent_ndims(mspace);
      if (rank != (is_group ? 2 : 1)) {
        H5Sclose(mspace);
        H5Dclose(mass);
        throw std::runtime_error(std::string("/particles/all/mass") + (is_group ? "/value is not [frame][i]" : " is not [i]"));
      }
      H5Sget_simple_extent_dims(mspace, mdims, nullptr);
      if (rank == 2 && mdims[0] == 0) throw std::runtime_error("/particles/all/mass/value has no frames");
      const hsize_t n = rank == 2 ? mdims[1] : mdims[0];
      if (n != dims[1]) throw std::runtime_error("/particles/all/mass has a different particle count");
      frame.masses = ScalarView<Kokkos::HostSpace>("kmdflow::h5md::masses", n);
      if (rank == 2) {
        const hsize_t mstart[2] = {mdims[0] - 1, 0}, mcount[2] = {1, n};
        H5Sselect_hyperslab(mspace, H5S_SELECT_SET, mstart, nullptr, mcount, nullptr);
      }
      const hsize_t mcount1[1] = {n};
      const hid_t mmemory = H5Screate_simple(1, mcount1, nullptr);
      check(H5Dread(mass, H5T_NATIVE_DOUBLE, mmemory, mspace, H5P_DEFAULT, frame.masses.data()), "read mass", 0);
      H5Sclose(mmemory);
      H5Sclose(mspace);
      H5Dclose(mass);
    }
  } catch (...) {
    H5Fclose(file);
    throw;
  }
  H5Fclose(file);
  return frame;
}

namespace {

// Reads a whole dataset of doubles or longs; returns its dimensions.
template <class T>
std::vector<hsize_t> read_all(hid_t file, const std::string& name, hid_t type, std::vector<T>& out) {
  const hid_t set = check(H5Dopen2(file, name.c_str(), H5P_DEFAULT), ("find " + name).c_str());
  const hid_t space = H5Dget_space(set);
  std::vector<hsize_t> dims(std::max(1, H5Sget_simple_extent_ndims(space)), 1);
  H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  std::size_t size = 1;
  for (auto d : dims) size *= d;
  out.resize(size);
  herr_t status = size ? H5Dread(set, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) : 0;
  H5Sclose(space);
  H5Dclose(set);
  check(status, ("read " + name).c_str(), 0);
  return dims;
}

template <class F> auto with_file(const std::string& path, F&& f) {
  quiet_hdf5();
  const hid_t file = check(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), ("open " + path).c_str());
  try {
    auto result = f(file);
    H5Fclose(file);
    return result;
  } catch (...) {
    H5Fclose(file);
    throw;
  }
}

} // namespace

std::vector<H5mdFrame> read_h5md_frames(const std::string& path) {
  return with_file(path, [](hid_t file) {
    std::vector<double> values, times;
    std::vector<long> steps;
    const auto dims = read_all(file, "/particles/all/position/value", H5T_NATIVE_DOUBLE, values);
    read_all(file, "/particles/all/position/time", H5T_NATIVE_DOUBLE, times);
    read_all(file, "/particles/all/position/step", H5T_NATIVE_LONG, steps);
    if (dims.size() != 3 || times.size() != dims[0] || steps.size() != dims[0])
      throw std::runtime_error("/particles/all/position is not value[frame][i][dim] with time and step");
    std::vector<H5mdFrame> frames(dims[0]);
    for (std::size_t f = 0; f < dims[0]; ++f) {
      frames[f].positions = PointView<Kokkos::HostSpace>("kmdflow::h5md::positions", dims[1], dims[2]);
      std::copy_n(values.data() + f * dims[1] * dims[2], dims[1] * dims[2], frames[f].positions.data());
      frames[f].time = times[f];
      frames[f].step = steps[f];
    }
    return frames;
  });
}

H5mdField read_h5md_field(const std::string& path, const std::string& name) {
  return with_file(path, [&](hid_t file) {
    std::vector<double> values, times;
    std::vector<long> steps;
    const std::string group = "/fields/" + name;
    const auto dims = read_all(file, group + "/value", H5T_NATIVE_DOUBLE, values);
    read_all(file, group + "/time", H5T_NATIVE_DOUBLE, times);
    read_all(file, group + "/step", H5T_NATIVE_LONG, steps);
    if (dims.size() < 2 || times.size() != dims[0] || steps.size() != dims[0])
      throw std::runtime_error(group + " is not a time series value[frame][...] with time and step");
    H5mdField field;
    field.shape.assign(dims.begin() + 1, dims.end());
    std::size_t size = 1;
    for (auto n : field.shape) size *= n;
    for (std::size_t f = 0; f < dims[0]; ++f)
      field.frames.push_back({std::vector<double>(values.begin() + f * size, values.begin() + (f + 1) * size),
                              times[f], steps[f]});
    return field;
  });
}

} // namespace kmdflow
