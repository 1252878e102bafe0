#include <kmdflow/Config.hpp>
#include <kmdflow/app/Commands.hpp>

#include <cstdlib>
#include <filesystem>
#include <spawn.h>
#include <sys/wait.h>
#include <vector>

extern char** environ;

namespace kmdflow::app {

namespace {

int spawn(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid;
  if (posix_spawnp(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) return 1;
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

std::string python() {
  const char* python = std::getenv("KMDFLOW_PYTHON");
  return python ? python : "python3";
}

} // namespace

int study_relu_rates_command(bool quick, const std::string& out, const std::string& dims) {
  std::string dir = out.empty() ? "runs/relu-rates" : out;
  for (char c : dims)
    if (!(c == ',' || (c >= '1' && c <= '3'))) throw ConfigError("--dims", "must list dimensions among 1, 2, 3 (e.g. 1,2)");
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  std::vector<std::string> args{python(), KMDFLOW_RELU_RATES_SCRIPT, "--kmdflow", self, "--out", dir, "--dims", dims};
  if (quick) args.push_back("--quick");
  return spawn(args);
}

int study_rates_command(bool quick, const std::string& out, const std::string& families) {
  if (out.empty()) throw ConfigError("--out", "give the study directory (--out DIR)");
  for (char c : families)
    if (!(c == ',' || (c >= '1' && c <= '5'))) throw ConfigError("--families", "must list families among 1 ... 5 (e.g. 1,2)");
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  std::vector<std::string> args{python(), KMDFLOW_RATES_SCRIPT, "--kmdflow", self, "--out", out, "--families", families};
  if (quick) args.push_back("--quick");
  return spawn(args);
}

int plot_command(const std::string& run_dir, bool quiet) {
  const std::filesystem::path dir(run_dir);
  if (!std::filesystem::exists(dir / "series.csv") && !std::filesystem::exists(dir / "study.json"))
    throw ConfigError(run_dir, "is not a kmdflow run or study directory (no series.csv, no study.json)");
  const char* overridden = std::getenv("KMDFLOW_PLOT_SCRIPT");
  const std::string script = overridden ? overridden : KMDFLOW_PLOT_SCRIPT;
  std::vector<std::string> args{python(), script, run_dir};
  if (quiet) args.push_back("--quiet");
  return spawn(args);
}

} // namespace kmdflow::app
