#pragma once
// Checkpoints of a run (DESIGN.md §7, `kmdflow run --resume`): a small JSON record (clocks,
// counters, the configuration) and named arrays of doubles stored bit for bit, in one HDF5 file
// with a checksum (Fletcher-32) on every dataset, so that a damaged file is refused rather than
// resumed from.
//
// A checkpoint is written as NAME.part, fsync'ed, and renamed over NAME after the previous NAME
// has been renamed to the `previous` name: a run killed at any moment leaves at least one
// complete checkpoint under a final name (once one was written).

#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace kmdflow {

struct Checkpoint {
  nlohmann::json record = nlohmann::json::object(); ///< finite numbers, strings, the configuration
  std::map<std::string, std::vector<double>> arrays; ///< exact values (t, step sizes, states)

  /// The array `name`; std::runtime_error naming it if it is missing or not `size` long (any
  /// size when `size` is -1).
  const std::vector<double>& array(const std::string& name, long size = -1) const;
};

/// Where write_checkpoint stands, for fault injection in tests: "written" (NAME.part complete,
/// not yet synced) and "rotated" (the old NAME renamed to `previous`, NAME.part not yet renamed).
using CheckpointHook = std::function<void(const char* point, const std::filesystem::path& staged)>;

/// Writes `checkpoint` to `path` as above; the checkpoint that was at `path` becomes `previous`.
void write_checkpoint(const Checkpoint& checkpoint, const std::filesystem::path& path,
                      const std::filesystem::path& previous, const CheckpointHook& hook = {});

/// Reads a checkpoint; std::runtime_error saying what is wrong (not HDF5, a dataset missing, a
/// checksum mismatch) otherwise.
Checkpoint read_checkpoint(const std::filesystem::path& path);

/// fsync() of a file or a directory (std::runtime_error naming it on failure).
void sync_path(const std::filesystem::path& path);

} // namespace kmdflow
