#include <kmdflow/RealFft.hpp>
#include <kmdflow/app/Processes.hpp>
#include <kmdflow/app/Provenance.hpp>
#include <kmdflow/app/Setup.hpp>

#include <Kokkos_Core.hpp>
#include <hdf5.h>

#include <cstdlib>
#include <fstream>
#include <unistd.h>

#ifdef KMDFLOW_HAVE_MPI
#include <mpi.h>
#endif

namespace kmdflow::app {

// cmake/GitInfo.cmake, at build time.
extern const char* const git_commit;
extern const char* const git_tree;

namespace {

std::string host_name() {
  char name[256] = {};
  return gethostname(name, sizeof name - 1) == 0 ? name : "unknown";
}

/// The GPU's name in CUDA builds, else the CPU's model name (/proc/cpuinfo).
std::string device_name() {
#if defined(KOKKOS_ENABLE_CUDA)
  return cuda_device_name();
#else
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);)
    if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos)
      return line.substr(line.find_first_not_of(" \t", line.find(':') + 1));
  return "unknown CPU";
#endif
}

/// The OpenMP runtime's wait settings in effect (main.cpp shortens the spinning by default).
std::string openmp_wait() {
  std::string settings;
  for (const char* name : {"OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME"})
    if (const char* value = std::getenv(name)) settings += (settings.empty() ? "" : " ") + std::string(name) + "=" + value;
  return settings.empty() ? "runtime default" : settings;
}

std::string collapse_spaces(const std::string& text) {
  std::string out;
  for (char c : text)
    if (c != ' ' || (!out.empty() && out.back() != ' ')) out += c;
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

} // namespace

namespace {
/// The MPI library and the ranks this run has ("Open MPI v6.0.0, 4 ranks").
std::string mpi_text() {
#ifdef KMDFLOW_HAVE_MPI
  char library[MPI_MAX_LIBRARY_VERSION_STRING];
  int length = 0;
  MPI_Get_library_version(library, &length);
  std::string name(library, std::size_t(length));
  name = name.substr(0, name.find_first_of(",\n"));
  const int ranks = process_count();
  return name + ", " + std::to_string(ranks) + (ranks == 1 ? " rank" : " ranks");
#else
  return "none (one process)";
#endif
}
} // namespace

nlohmann::json provenance() {
  unsigned major = 0, minor = 0, release = 0;
  H5get_libversion(&major, &minor, &release);
  const std::string kokkos = std::to_string(KOKKOS_VERSION / 10000) + "." +
                             std::to_string((KOKKOS_VERSION / 100) % 100) + "." + std::to_string(KOKKOS_VERSION % 100);
#if defined(KOKKOS_ENABLE_CUDA)
  const std::string fft = cufft_version_string() + ", " + fftw_version_string();
#else
  const std::string fft = fftw_version_string();
#endif
  return {{"version", KMDFLOW_VERSION},
          {"git_commit", git_commit},
          {"git_tree", git_tree},
          {"compiler", KMDFLOW_COMPILER},
          {"build_type", KMDFLOW_BUILD_TYPE},
          {"cxx_flags", collapse_spaces(KMDFLOW_CXX_FLAGS)},
          {"kokkos", kokkos},
          {"fft", fft},
          {"hdf5", std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(release)},
          {"mpi", mpi_text()},
          {"backend", backend_name()},
          {"device", device_name()},
          {"threads", backend_threads()},
          {"openmp_wait", openmp_wait()},
          {"host", host_name()}};
}

std::string author_of(const nlohmann::json& config) {
  if (const char* author = std::getenv("KMDFLOW_AUTHOR"); author && *author) return author;
  if (config.contains("author")) return config["author"].get<std::string>();
  if (const char* user = std::getenv("USER"); user && *user) return user;
  return "unknown";
}

} // namespace kmdflow::app
