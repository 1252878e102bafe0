#pragma once
// Where a result came from (issue 18): the source (git commit, whether the tree was changed),
// the build (compiler, flags), the libraries, the machine (backend, device, threads, host). Runs
// record it in config.json's kmdflow block and trajectory.h5's /parameters; `kmdflow info` shows it.

#include <nlohmann/json.hpp>

#include <string>

namespace kmdflow::app {

/// version, git_commit, git_tree ("clean", "dirty" or "unknown"), compiler, build_type,
/// cxx_flags, kokkos, fft, hdf5, mpi, backend, device, threads, openmp_wait (the OpenMP runtime's
/// wait settings: GOMP_SPINCOUNT=3000 KMP_BLOCKTIME=1 unless the user set them), host.
nlohmann::json provenance();

/// The author of a run: KMDFLOW_AUTHOR, else the config's `author`, else the login name.
std::string author_of(const nlohmann::json& config);

} // namespace kmdflow::app
