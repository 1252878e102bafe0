#pragma once
// Trajectories in the H5MD layout (DESIGN.md §7): /particles/all/position/{value[frame][i][dim],
// time, step}, the weights in /particles/all/mass, static fields under /fields. The file is
// written as `NAME.part`, flushed after every frame, and renamed to NAME by close().

#include <kmdflow/Types.hpp>

#include <array>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace kmdflow {

class H5mdWriter {
public:
  H5mdWriter(std::filesystem::path path, int dim, const ScalarView<Kokkos::HostSpace>& weights,
             const std::string& creator_version);
  /// A file of fields only (the PDE): no /particles group.
  H5mdWriter(std::filesystem::path path, int dim, const std::string& creator_version);
  enum Geometry { sphere };
  /// Particles on the unit sphere of R^dim with time-dependent masses (the ReLU model's neurons):
  /// /particles/all/mass/{value[frame][i], time, step}, box boundary "none".
  H5mdWriter(std::filesystem::path path, int dim, std::size_t count, const std::string& creator_version, Geometry);
  /// Appends one frame of positions and masses (files made with the sphere constructor).
  void append_frame(long step, double time, const PointView<Kokkos::HostSpace>& positions,
                    const ScalarView<Kokkos::HostSpace>& masses);
  ~H5mdWriter(); // closes (and renames) if still open
  H5mdWriter(const H5mdWriter&) = delete;
  H5mdWriter& operator=(const H5mdWriter&) = delete;

  /// Appends one frame of positions (N × dim, host).
  void append_frame(long step, double time, const PointView<Kokkos::HostSpace>& positions);
  /// A time-independent field on a regular grid covering [0, 1)^d: /fields/NAME/value.
  void write_static_field(const std::string& name, const std::vector<std::size_t>& shape,
                          const std::vector<double>& values);
  /// Appends one frame of a time-dependent field on a regular grid of cell centres:
  /// /fields/NAME/{value[frame][shape...], time, step}.
  void append_field_frame(const std::string& name, const std::vector<std::size_t>& shape, long step,
                          double time, const std::vector<double>& values);
  void close();
  long frames() const { return m_frames; }

private:
  std::filesystem::path m_path;
  int m_dim;
  std::size_t m_count;
  long m_frames = 0;
  std::string m_version;
  long long m_file = -1, m_value = -1, m_time = -1, m_step = -1;
  long long m_mass_value = -1, m_mass_time = -1, m_mass_step = -1;
  struct FieldSeries {
    long long value = -1, time = -1, step = -1;
    std::vector<std::size_t> shape;
    long frames = 0;
  };
  std::map<std::string, FieldSeries> m_fields;
  void write_header();
};

struct H5mdFrame {
  PointView<Kokkos::HostSpace> positions;
  ScalarView<Kokkos::HostSpace> masses; ///< empty if the file has none
  double time = 0;
  long step = 0;
};

/// The last frame of /particles/all/position/value (std::runtime_error on failure).
H5mdFrame read_h5md_last_frame(const std::string& path);

/// Every frame of /particles/all/position (masses left empty).
std::vector<H5mdFrame> read_h5md_frames(const std::string& path);

struct H5mdFieldFrame {
  std::vector<double> values; ///< row major over `shape`
  double time = 0;
  long step = 0;
};
struct H5mdField {
  std::vector<std::size_t> shape;
  std::vector<H5mdFieldFrame> frames;
};
/// Every frame of the time-dependent field /fields/NAME.
H5mdField read_h5md_field(const std::string& path, const std::string& name);

} // namespace kmdflow
