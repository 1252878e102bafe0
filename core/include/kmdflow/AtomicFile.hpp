#pragma once
// Outputs appear under their final name only once complete (DESIGN.md §7): written under a
// temporary name in the same directory, synced to the disk, then renamed.

#include <cstdint>
#include <filesystem>
#include <string>

namespace kmdflow {

/// Writes `content` to `path` atomically (PATH.part, fsync, rename).
void write_file_atomically(const std::filesystem::path& path, const std::string& content);

/// A text file written incrementally under `path.part`, renamed to `path` by commit(). Rows are
/// flushed as they are written, so a crash leaves a readable `.part` file; a failed write (a full
/// disk) throws, naming the file and the reason.
class StagedFile {
public:
  explicit StagedFile(std::filesystem::path path);
  /// Continues the file from its first `keep` bytes, which must end a line: PATH.part, or PATH
  /// (moved back to PATH.part). Throws if neither holds that many bytes.
  StagedFile(std::filesystem::path path, std::uintmax_t keep);
  ~StagedFile(); // commits if still open
  StagedFile(const StagedFile&) = delete;
  StagedFile& operator=(const StagedFile&) = delete;

  void write_line(const std::string& line);
  /// Flushes and fsyncs what was written.
  void sync();
  /// Bytes written so far (the file's size).
  std::uintmax_t bytes() const { return m_bytes; }
  /// Syncs, closes and renames to NAME; throws (leaving NAME.part) if a write had failed.
  void commit();
  const std::filesystem::path& path() const { return m_path; }

private:
  std::filesystem::path m_path;
  int m_fd = -1;
  bool m_failed = false; ///< a write failed: commit() leaves NAME.part
  std::uintmax_t m_bytes = 0;
};

/// Where a staged file of `path` is: PATH.part if it exists, else PATH (empty if neither).
std::filesystem::path staged_or_final(const std::filesystem::path& path);

} // namespace kmdflow
