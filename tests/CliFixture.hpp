#pragma once
// A fixture for tests of the command line: a scratch directory per test, files in it, and the
// kmdflow binary run there with its exit code, stdout and stderr.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace kmdflow_test {

struct Result {
  int code; ///< the exit code; -1 if the process was killed by a signal
  std::string out, err;
};

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class CliFixture : public ::testing::Test {
protected:
  void SetUp() override {
    m_dir = std::filesystem::path(testing::TempDir()) /
            ("kmdflow_cli_" + std::to_string(getpid()) + "_" +
             testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(m_dir);
    std::filesystem::create_directories(m_dir);
  }
  void TearDown() override { std::filesystem::remove_all(m_dir); }

  std::filesystem::path file(const std::string& name, const std::string& content) {
    const auto p = m_dir / name;
    std::ofstream(p) << content;
    return p;
  }

  /// Runs `kmdflow ARGS` in the scratch directory; `environment`: assignments put before it. The
  /// machine reads as idle (KMDFLOW_LOADAVG=/dev/null: no busy-machine note on stderr, whatever
  /// else runs) unless `environment` says otherwise.
  Result kmdflow(const std::string& args, const std::string& environment = "") {
    const auto out = m_dir / "stdout.txt", err = m_dir / "stderr.txt";
    const std::string command = "cd '" + m_dir.string() + "' && OMP_PROC_BIND=false KMDFLOW_LOADAVG=/dev/null " +
                                environment + " '" +
                                KMDFLOW_BINARY "' " + args + " > '" + out.string() + "' 2> '" + err.string() + "'";
    const int status = std::system(command.c_str());
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(out), slurp(err)};
  }

  std::filesystem::path m_dir;
};

} // namespace kmdflow_test
