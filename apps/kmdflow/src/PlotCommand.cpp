#include <kmdflow/Config.hpp>
#include <kmdflow/app/Commands.hpp>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <spawn.h>
#include <sys/wait.h>
#include <vector>

extern char** environ;

namespace kmdflow::app {

namespace {

namespace fs = std::filesystem;

/// The directory that holds the package kmdflow (its plots and studies): KMDFLOW_PYTHONPATH, else
/// beside the program: ../python in a build tree (build/apps/kmdflow), ../lib/kmdflow/python where
/// installed; empty where none holds it (python3 then finds an installed package, if any).
std::string package_dir() {
  if (const char* dir = std::getenv("KMDFLOW_PYTHONPATH")) return dir;
  const fs::path exe = fs::read_symlink("/proc/self/exe").parent_path();
  for (const fs::path& candidate : {exe / ".." / "python", exe / ".." / "lib" / "kmdflow" / "python"}) {
    std::error_code ec;
    if (fs::is_regular_file(candidate / "kmdflow" / "plot.py", ec)) return fs::weakly_canonical(candidate).string();
  }
  return "";
}

/// Runs python3 -m MODULE ARGS with the package on PYTHONPATH; the exit code.
int run_module(const std::string& module, const std::vector<std::string>& arguments) {
  const char* python = std::getenv("KMDFLOW_PYTHON");
  std::vector<std::string> args{python ? python : "python3", "-m", module};
  args.insert(args.end(), arguments.begin(), arguments.end());
  std::vector<std::string> environment;
  const std::string dir = package_dir();
  const char* old = std::getenv("PYTHONPATH");
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "PYTHONPATH=", 11) != 0) environment.emplace_back(*e);
  if (!dir.empty() || old) environment.push_back("PYTHONPATH=" + dir + (old && *old ? (dir.empty() ? "" : ":") + std::string(old) : ""));
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : environment) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid;
  if (posix_spawnp(&pid, argv[0], nullptr, nullptr, argv.data(), envp.data()) != 0) return 1;
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

std::string self() { return fs::read_symlink("/proc/self/exe").string(); }

} // namespace

int study_relu_rates_command(bool quick, const std::string& out, const std::string& dims) {
  std::string dir = out.empty() ? "runs/relu-rates" : out;
  for (char c : dims)
    if (!(c == ',' || (c >= '1' && c <= '3'))) throw ConfigError("--dims", "must list dimensions among 1, 2, 3 (e.g. 1,2)");
  std::vector<std::string> args{"--kmdflow", self(), "--out", dir, "--dims", dims};
  if (quick) args.push_back("--quick");
  return run_module("kmdflow.relu_rates", args);
}

int study_rates_command(bool quick, const std::string& out, const std::string& families) {
  if (out.empty()) throw ConfigError("--out", "give the study directory (--out DIR)");
  for (char c : families)
    if (!(c == ',' || (c >= '1' && c <= '5'))) throw ConfigError("--families", "must list families among 1 ... 5 (e.g. 1,2)");
  std::vector<std::string> args{"--kmdflow", self(), "--out", out, "--families", families};
  if (quick) args.push_back("--quick");
  return run_module("kmdflow.rates", args);
}

int plot_command(const std::string& run_dir, bool quiet) {
  const fs::path dir(run_dir);
  if (!fs::exists(dir / "series.csv") && !fs::exists(dir / "study.json"))
    throw ConfigError(run_dir, "is not a kmdflow run or study directory (no series.csv, no study.json)");
  std::vector<std::string> args{run_dir};
  if (quiet) args.push_back("--quiet");
  return run_module("kmdflow.plot", args);
}

int convert_command(const std::string& run_dir, const std::string& to, const std::string& out) {
  const fs::path dir(run_dir);
  if (!fs::is_regular_file(dir / "config.json"))
    throw ConfigError(run_dir, "is not a kmdflow run directory (no config.json)");
  std::vector<std::string> args{run_dir, "--to", to};
  if (!out.empty()) args.insert(args.end(), {"--out", out});
  return run_module("kmdflow.convert", args);
}

} // namespace kmdflow::app
