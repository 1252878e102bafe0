#include <kmdflow/Config.hpp>
#include <kmdflow/app/Commands.hpp>

#include <cstdlib>
#include <filesystem>
#include <spawn.h>
#include <sys/wait.h>
#include <vector>

extern char** environ;

namespace kmdflow::app {

int plot_command(const std::string& run_dir, bool quiet) {
  if (!std::filesystem::exists(std::filesystem::path(run_dir) / "series.csv"))
    throw ConfigError(run_dir, "is not a kmdflow run directory (no series.csv)");
  const char* overridden = std::getenv("KMDFLOW_PLOT_SCRIPT");
  const std::string script = overridden ? overridden : KMDFLOW_PLOT_SCRIPT;
  const char* python = std::getenv("KMDFLOW_PYTHON");
  std::vector<std::string> args{python ? python : "python3", script, run_dir};
  if (quiet) args.push_back("--quiet");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid;
  if (posix_spawnp(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) return 1;
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

} // namespace kmdflow::app
