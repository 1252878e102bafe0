#include <kmdflow/AtomicFile.hpp>
#include <kmdflow/Checkpoint.hpp>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <stdexcept>
#include <unistd.h>

namespace kmdflow {

namespace fs = std::filesystem;

namespace {

fs::path staging_name(const fs::path& path) {
  auto staged = path;
  staged += ".part";
  return staged;
}

fs::path directory_of(const fs::path& path) { return path.parent_path().empty() ? fs::path(".") : path.parent_path(); }

[[noreturn]] void failed(const char* what, const fs::path& path, int error) {
  throw std::runtime_error(std::string(what) + " '" + path.string() + "' failed (" + std::strerror(error) + ")");
}

void flush_and_sync(std::FILE* file, const fs::path& path) {
  if (std::fflush(file) != 0) failed("writing", path, errno);
  if (::fsync(fileno(file)) != 0 && errno != EINVAL) failed("syncing", path, errno);
}

} // namespace

void write_file_atomically(const fs::path& path, const std::string& content) {
  const auto staged = staging_name(path);
  std::FILE* file = std::fopen(staged.c_str(), "wb");
  if (!file) failed("writing", staged, errno);
  const bool written = std::fwrite(content.data(), 1, content.size(), file) == content.size();
  const int error = errno;
  try {
    if (!written) failed("writing", staged, error);
    flush_and_sync(file, staged);
  } catch (...) {
    std::fclose(file);
    fs::remove(staged);
    throw;
  }
  if (std::fclose(file) != 0) failed("writing", staged, errno);
  fs::rename(staged, path);
  sync_path(directory_of(path));
}

fs::path staged_or_final(const fs::path& path) {
  if (fs::is_regular_file(staging_name(path))) return staging_name(path);
  if (fs::is_regular_file(path)) return path;
  return {};
}

StagedFile::StagedFile(fs::path path) : m_path(std::move(path)) {
  m_fd = ::open(staging_name(m_path).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (m_fd < 0) failed("writing", staging_name(m_path), errno);
}

StagedFile::StagedFile(fs::path path, std::uintmax_t keep) : m_path(std::move(path)) {
  const fs::path staged = staging_name(m_path), existing = staged_or_final(m_path);
  if (existing.empty()) throw std::runtime_error("'" + m_path.string() + "' is missing");
  if (fs::file_size(existing) < keep)
    throw std::runtime_error("'" + existing.string() + "' holds " + std::to_string(fs::file_size(existing)) +
                             " bytes, fewer than the " + std::to_string(keep) + " the checkpoint recorded");
  if (existing != staged) fs::rename(existing, staged);
  m_fd = ::open(staged.c_str(), O_WRONLY | O_CLOEXEC);
  if (m_fd < 0) failed("writing", staged, errno);
  if (::ftruncate(m_fd, off_t(keep)) != 0 || ::lseek(m_fd, off_t(keep), SEEK_SET) < 0) {
    const int error = errno;
    ::close(m_fd);
    m_fd = -1;
    failed("truncating", staged, error);
  }
  m_bytes = keep;
}

StagedFile::~StagedFile() {
  try {
    commit();
  } catch (...) {
  }
}

void StagedFile::write_line(const std::string& line) {
  const std::string text = line + '\n';
  for (std::size_t done = 0; done < text.size();) {
    const ssize_t n = ::write(m_fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      // A full disk: the partial line goes, so that the file still ends with a whole row.
      const int error = n < 0 ? errno : ENOSPC;
      if (::ftruncate(m_fd, off_t(m_bytes)) == 0) ::lseek(m_fd, off_t(m_bytes), SEEK_SET);
      m_failed = true;
      failed("writing", staging_name(m_path), error);
    }
    done += std::size_t(n);
  }
  m_bytes += text.size();
}

void StagedFile::sync() {
  if (::fsync(m_fd) != 0 && errno != EINVAL) failed("syncing", staging_name(m_path), errno);
}

void StagedFile::commit() {
  if (m_fd < 0) return;
  const int fd = m_fd;
  m_fd = -1;
  const fs::path staged = staging_name(m_path);
  const int synced = ::fsync(fd) == 0 || errno == EINVAL ? 0 : errno;
  if (::close(fd) != 0 && !synced) failed("writing", staged, errno);
  if (synced) failed("syncing", staged, synced);
  // A file that a write failed on stays NAME.part: a final name means complete.
  if (m_failed) throw std::runtime_error("'" + staged.string() + "' is incomplete (a write failed)");
  fs::rename(staged, m_path);
  sync_path(directory_of(m_path));
}

} // namespace kmdflow
