#pragma once
// Outputs appear under their final name only once complete (DESIGN.md §7): written under a
// temporary name in the same directory, then renamed.

#include <filesystem>
#include <fstream>
#include <string>

namespace kmdflow {

/// Writes `content` to `path` atomically.
void write_file_atomically(const std::filesystem::path& path, const std::string& content);

/// A text file written incrementally under `path.part`, renamed to `path` by commit(). Rows are
/// flushed as they are written, so a crash leaves a readable `.part` file.
class StagedFile {
public:
  explicit StagedFile(std::filesystem::path path);
  ~StagedFile(); // commits if still open
  StagedFile(const StagedFile&) = delete;
  StagedFile& operator=(const StagedFile&) = delete;

  void write_line(const std::string& line);
  void commit();
  const std::filesystem::path& path() const { return m_path; }

private:
  std::filesystem::path m_path;
  std::ofstream m_out;
};

} // namespace kmdflow
