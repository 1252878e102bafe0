#include <kmdflow/AtomicFile.hpp>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace kmdflow {

namespace {
std::filesystem::path staging_name(const std::filesystem::path& path) {
  auto staged = path;
  staged += ".part";
  return staged;
}
} // namespace

void write_file_atomically(const std::filesystem::path& path, const std::string& content) {
  const auto staged = staging_name(path);
  {
    std::ofstream out(staged, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error("cannot write '" + staged.string() + "' (" + std::strerror(errno) + ")");
    out << content;
    out.flush();
    if (!out) throw std::runtime_error("writing '" + staged.string() + "' failed");
  }
  std::filesystem::rename(staged, path);
}

StagedFile::StagedFile(std::filesystem::path path) : m_path(std::move(path)) {
  m_out.open(staging_name(m_path), std::ios::trunc);
  if (!m_out)
    throw std::runtime_error("cannot write '" + staging_name(m_path).string() + "' (" +
                             std::strerror(errno) + ")");
}

StagedFile::~StagedFile() {
  try {
    commit();
  } catch (...) {
  }
}

void StagedFile::write_line(const std::string& line) {
  m_out << line << '\n';
  m_out.flush();
  if (!m_out) throw std::runtime_error("writing '" + staging_name(m_path).string() + "' failed");
}

void StagedFile::commit() {
  if (!m_out.is_open()) return;
  m_out.close();
  std::filesystem::rename(staging_name(m_path), m_path);
}

} // namespace kmdflow
