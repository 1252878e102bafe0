#pragma once
// Trajectories in the H5MD layout (DESIGN.md §7): /particles/all/position/{value[frame][i][dim],
// time, step}, the weights in /particles/all/mass, static fields under /fields. The file is
// written as `NAME.part`, flushed after every frame, and renamed to NAME by close().
//
// Frames are written in HDF5's SWMR mode (single writer, multiple readers; the HDF5 1.10 file
// format): metadata reaches the file in an order that keeps it consistent whenever the writer
// dies, so a killed run's trajectory can be read (by a SWMR reader: h5py.File(..., swmr=True))
// and continued. Everything but frames and rows (groups, static fields, parameters, the series
// themselves) is written before the first frame.

#include <kmdflow/Types.hpp>

#include <array>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace kmdflow {

/// What /particles/all of a trajectory holds: nothing (a file of fields only, the PDE), particles
/// on the torus [0, 1)^dim with time-independent weights, or particles on the unit sphere of R^dim
/// with a mass per frame (the ReLU model's neurons).
struct H5mdParticles {
  enum class Box { none, torus, sphere };
  Box box = Box::none;
  int dim = 0;
  std::size_t count = 0;
  ScalarView<Kokkos::HostSpace> weights; ///< torus: /particles/all/mass[i]

  /// Box boundary "periodic", edges 1 (a time-dependent element, a row per frame, as MDAnalysis
  /// reads it); the weights as the dataset /particles/all/mass.
  static H5mdParticles torus(int dim, const ScalarView<Kokkos::HostSpace>& weights) {
    return {Box::torus, dim, weights.extent(0), weights};
  }
  /// Box boundary "none"; /particles/all/mass/{value[frame][i], time, step}.
  static H5mdParticles sphere(int dim, std::size_t count) { return {Box::sphere, dim, count, {}}; }
};

class H5mdWriter {
public:
  H5mdWriter(std::filesystem::path path, const H5mdParticles& particles, const std::string& creator_version);
  /// Continues a trajectory that this class wrote (NAME.part, or NAME, which is moved back to
  /// NAME.part) from its first `frames` frames and `rows` rows of observables: every time series
  /// is cut to that length. std::runtime_error if the file cannot be opened or holds fewer.
  H5mdWriter(std::filesystem::path path, long frames, long rows);
  ~H5mdWriter(); // closes (and renames) if still open
  H5mdWriter(const H5mdWriter&) = delete;
  H5mdWriter& operator=(const H5mdWriter&) = delete;

  /// Appends one frame of positions (N × dim, host).
  void append_frame(long step, double time, const PointView<Kokkos::HostSpace>& positions);
  /// Appends one frame of positions and masses (sphere files).
  void append_frame(long step, double time, const PointView<Kokkos::HostSpace>& positions,
                    const ScalarView<Kokkos::HostSpace>& masses);
  /// A time-independent field on a regular grid covering [0, 1)^d: /fields/NAME/value.
  void write_static_field(const std::string& name, const std::vector<std::size_t>& shape,
                          const std::vector<double>& values);
  /// Appends one frame of a time-dependent field on a regular grid of cell centres:
  /// /fields/NAME/{value[frame][shape...], time, step}.
  void append_field_frame(const std::string& name, const std::vector<std::size_t>& shape, long step,
                          double time, const std::vector<double>& values);
  /// Creates the time series /fields/NAME (cell averages, frames of `shape`) before the first
  /// frame (append_field_frame does so for its first frame if the series is not yet declared).
  void declare_field(const std::string& name, const std::vector<std::size_t>& shape);
  /// /h5md/author's name, and /parameters with one string attribute per entry.
  void write_parameters(const std::string& author, const std::vector<std::pair<std::string, std::string>>& parameters);
  /// Appends one row of scalar observables: /observables/NAME/{value[row], time, step} (H5MD).
  /// Not flushed (rows can be many): frames, sync() and close() flush.
  void append_observables(long step, double time, const std::vector<std::pair<std::string, double>>& values);
  /// Flushes HDF5's buffers and fsyncs the file.
  void sync();
  /// Closes the file and renames it to NAME; throws (leaving NAME.part) if a write had failed.
  void close();
  long frames() const { return m_frames; }

private:
  // An H5MD time-dependent element: the group's datasets value[frame][shape...], time, step.
  struct FrameSeries {
    long long value = -1, time = -1, step = -1;
    std::vector<std::size_t> shape;
    long frames = 0;
    void create(long long group, std::vector<std::size_t> frame_shape);
    /// Opens the series of `group` and cuts it to `keep` frames.
    void reopen(long long group, long keep);
    void append(const double* values, long step, double time);
    void close();
  };

  std::filesystem::path m_path;
  int m_dim;
  std::size_t m_count;
  long m_frames = 0;
  long long m_file = -1;
  FrameSeries m_positions, m_masses, m_edges;
  std::map<std::string, FrameSeries> m_fields, m_observables;
  bool m_failed = false; ///< a write failed: close() leaves the file as NAME.part
  bool m_swmr = false;   ///< in SWMR mode: no new objects
  void start_swmr();
  /// Before the first frame: starts SWMR writing.
  void begin_frames();
  void declare_series(const std::string& parent, const std::string& name, const std::vector<std::size_t>& shape,
                      const char* grid);
  void write_particles(const H5mdParticles& particles);
  long long open_fields();
  /// Runs a write; an exception marks the file as failed.
  template <class F> void guarded(F&& write) {
    try {
      write();
    } catch (const std::exception& e) {
      m_failed = true;
      throw std::runtime_error(std::string(e.what()) + " in '" + m_path.string() + ".part'");
    }
  }
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
