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
  const std::filesystem::path dir(run_dir);
  if (!std::filesystem::exists(dir / "series.csv") && !std::filesystem::exists(dir / "study.json"))
    throw ConfigError(run_dir, "is not a kmdflow run or study directory (no series.csv, no study.json)");
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
