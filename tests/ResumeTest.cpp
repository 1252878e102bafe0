// Checkpoints and `kmdflow run --resume` (issue 18, DESIGN.md §7): a run killed (SIGKILL, as a
// node loss), stopped by SIGTERM (a batch system's time limit) or killed while it writes a
// checkpoint, and resumed any number of times, gives the same series.csv values and trajectory
// frames as the uninterrupted run, bit for bit; what cannot be continued is refused with one
// error line and nothing changed.
#include "CliFixture.hpp"

#include <gtest/gtest.h>
#include <hdf5.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <cstring>
#include <sys/resource.h>
#include <fcntl.h>
#include <filesystem>
#include <map>
#include <thread>
#include <sstream>
#include <sys/file.h>
#include <vector>

namespace fs = std::filesystem;
using nlohmann::json;
using kmdflow_test::Result;
using kmdflow_test::slurp;

namespace {

class Resume : public kmdflow_test::CliFixture {
protected:
  static bool killed(const Result& r) { return r.code == -1 || r.code == 128 + 9; }

  /// Runs CONFIG into `dir`, stopped by each fault in turn (KMDFLOW_FAULT) and resumed after
  /// each; the last resumption runs to the end.
  void run_with_stops(const std::string& config, const std::string& dir, const std::vector<std::string>& faults) {
    for (std::size_t i = 0; i < faults.size(); ++i) {
      const bool term = faults[i].rfind("term-", 0) == 0;
      const auto r = kmdflow(i == 0 ? "run " + config + " --out " + dir : "run --resume " + dir,
                             "KMDFLOW_FAULT=" + faults[i]);
      if (term) {
        ASSERT_EQ(r.code, 1) << faults[i] << ": " << r.err;
        EXPECT_NE(r.err.find("interrupted"), std::string::npos) << r.err;
      } else {
        ASSERT_TRUE(killed(r)) << faults[i] << ": exit " << r.code << " " << r.err;
      }
    }
    const auto last = kmdflow("run --resume " + dir);
    ASSERT_EQ(last.code, 0) << last.err;
  }

  /// series.csv without its wall_s column.
  std::string series_values(const std::string& dir) {
    std::stringstream in(slurp(m_dir / dir / "series.csv")), out;
    for (std::string line; std::getline(in, line);) out << line.substr(0, line.rfind(',')) << '\n';
    return out.str();
  }

  /// Every dataset of doubles under the trajectory's time series, as bytes.
  std::map<std::string, std::string> frames(const std::string& dir) {
    std::map<std::string, std::string> sets;
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    const hid_t file = H5Fopen((m_dir / dir / "trajectory.h5").c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    EXPECT_GE(file, 0) << dir;
    if (file < 0) return sets;
    for (const char* group : {"/particles/all/position", "/particles/all/mass", "/fields/density", "/observables/energy",
                              "/observables/dissipation", "/observables/max_speed"}) {
      for (const char* name : {"/value", "/time", "/step"}) {
        const std::string path = std::string(group) + name;
        if (H5Lexists(file, group, H5P_DEFAULT) <= 0 || H5Lexists(file, path.c_str(), H5P_DEFAULT) <= 0) continue;
        const hid_t set = H5Dopen2(file, path.c_str(), H5P_DEFAULT);
        const hid_t space = H5Dget_space(set);
        const hssize_t count = H5Sget_simple_extent_npoints(space);
        std::vector<double> values(static_cast<std::size_t>(count));
        H5Dread(set, std::string(name) == "/step" ? H5T_NATIVE_LONG : H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL,
                H5P_DEFAULT, values.data());
        sets[path] = std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(double));
        H5Sclose(space);
        H5Dclose(set);
      }
    }
    H5Fclose(file);
    return sets;
  }

  void expect_identical(const std::string& reference, const std::string& resumed, const std::string& what) {
    const auto a = series_values(reference), b = series_values(resumed);
    EXPECT_GT(std::count(a.begin(), a.end(), '\n'), 5) << what;
    EXPECT_EQ(a, b) << what;
    const auto fa = frames(reference), fb = frames(resumed);
    EXPECT_FALSE(fa.empty()) << what;
    EXPECT_EQ(fa.size(), fb.size()) << what;
    for (const auto& [name, bytes] : fa) {
      ASSERT_TRUE(fb.count(name)) << what << " " << name;
      EXPECT_TRUE(bytes == fb.at(name)) << what << ": " << name << " differs";
    }
    const auto sa = json::parse(slurp(m_dir / reference / "summary.json"));
    const auto sb = json::parse(slurp(m_dir / resumed / "summary.json"));
    EXPECT_EQ(sb["status"], "completed") << what;
    for (const char* key : {"steps", "frames", "final", "rejected_steps", "force_evaluations", "stages"})
      EXPECT_EQ(sa.value(key, json()), sb.value(key, json())) << what << ": summary " << key;
    EXPECT_TRUE(sb.contains("resumptions")) << what;
    // A completed run keeps no checkpoint, and no staged file.
    for (const auto& entry : fs::directory_iterator(m_dir / resumed)) {
      const std::string name = entry.path().filename().string();
      EXPECT_EQ(name.find("checkpoint"), std::string::npos) << what << ": " << name;
      EXPECT_EQ(name.find(".part"), std::string::npos) << what << ": " << name;
    }
  }
};

// Every kind of run and integrator: particles with each engine (rk45 with its cached last stage
// and adaptive step among them), the PDE, ReLU networks in both forms.
TEST_F(Resume, StoppedRunsContinueBitForBit) {
  const std::string common = R"("output": {"plots": false, "checkpoint_every": 0.025, "snapshot_every": 0.02})";
  const std::map<std::string, std::string> configs = {
      {"spectral_rk45", R"({"dim": 2, "s": 1.5, "particles": {"count": 256, "seed": 3},
        "initial": {"type": "fourier", "modes": [{"k": [1, 0], "amplitude": 0.5}]},
        "forces": {"method": "spectral"}, "time": {"t_end": 0.2, "dt": 0.05, "integrator": "rk45", "rtol": 1e-9},
        )" + common + "}"},
      {"sorted_rk4", R"({"dim": 1, "s": 1, "particles": {"count": 300, "seed": 4},
        "initial": {"type": "fourier", "modes": [{"k": 1, "amplitude": 0.5}]},
        "forces": {"method": "sorted"}, "time": {"t_end": 0.2, "dt": 0.004, "integrator": "rk4"}, )" + common + "}"},
      {"direct_ssprk3_3d", R"({"dim": 3, "s": 2.5, "particles": {"count": 125, "seed": 5},
        "forces": {"method": "direct"}, "time": {"t_end": 0.2, "dt": 0.005, "integrator": "ssprk3"}, )" + common +
                                  "}"},
      {"pde", R"({"dim": 2, "s": 1, "solver": "pde", "pde": {"grid": 32},
        "initial": {"type": "fourier", "modes": [{"k": [1, 1], "amplitude": 0.5}]},
        "time": {"t_end": 0.2, "dt": 0.005}, )" + common + "}"},
      {"relu_wfr", R"({"model": "relu", "dim": 2, "particles": {"count": 64, "seed": 6},
        "relu": {"form": "wfr", "teacher": {"count": 5, "seed": 2}},
        "time": {"t_end": 0.2, "dt": 0.01, "integrator": "rk45"}, )" + common + "}"},
      {"relu_parameters", R"({"model": "relu", "dim": 1, "particles": {"count": 40, "seed": 7},
        "relu": {"form": "parameters", "teacher": {"count": 3, "seed": 1}},
        "time": {"t_end": 0.2, "dt": 0.002, "integrator": "euler"}, )" + common + "}"},
  };
  for (const auto& [name, config] : configs) {
    SCOPED_TRACE(name);
    file(name + ".json", config);
    const auto reference = kmdflow("run " + name + ".json --out " + name + "_reference");
    ASSERT_EQ(reference.code, 0) << reference.err;
    const long steps = json::parse(slurp(m_dir / (name + "_reference") / "summary.json"))["steps"];
    ASSERT_GT(steps, 12) << "too few steps to stop twice";
    // Killed twice and stopped by SIGTERM once, between checkpoints, then run to the end.
    run_with_stops(name + ".json", name + "_stopped",
                   {"after-step:" + std::to_string(steps / 3), "term-after-step:" + std::to_string(steps / 2),
                    "after-step:" + std::to_string(3 * steps / 4)});
    expect_identical(name + "_reference", name + "_stopped", name);
    const auto summary = json::parse(slurp(m_dir / (name + "_stopped") / "summary.json"));
    EXPECT_EQ(summary["resumptions"].size(), 3u);
  }
}

// SIGKILL inside a checkpoint write: with the staged file complete, torn in half, or between the
// two renames. The run resumes from a checkpoint that is whole and ends as the uninterrupted one.
TEST_F(Resume, KilledWhileWritingACheckpoint) {
  file("run.json", R"({"dim": 1, "s": 1, "particles": {"count": 200, "seed": 4},
    "initial": {"type": "fourier", "modes": [{"k": 1, "amplitude": 0.5}]},
    "time": {"t_end": 0.3, "dt": 0.01, "integrator": "rk45"},
    "output": {"plots": false, "checkpoint_every": 0.05}})");
  ASSERT_EQ(kmdflow("run run.json --out reference").code, 0);
  for (const std::string point : {"written", "torn", "rotated"}) {
    SCOPED_TRACE(point);
    const std::string dir = "killed_" + point;
    run_with_stops("run.json", dir, {"checkpoint:3:" + point});
    expect_identical("reference", dir, point);
  }
}

// Checkpoints by wall time (output.checkpoint_wall), here after every step: a run killed after
// step 5 resumes from step 5.
TEST_F(Resume, WallClockCheckpoints) {
  file("run.json", R"({"dim": 1, "s": 1.5, "particles": {"count": 150, "seed": 2},
    "time": {"t_end": 0.1, "dt": 0.005}, "output": {"plots": false, "checkpoint_every": 1e9, "checkpoint_wall": 1e-9}})");
  ASSERT_EQ(kmdflow("run run.json --out reference").code, 0);
  run_with_stops("run.json", "stopped", {"after-step:5"});
  expect_identical("reference", "stopped", "wall");
  const auto summary = json::parse(slurp(m_dir / "stopped" / "summary.json"));
  EXPECT_EQ(summary["resumptions"][0]["step"], 5);
}

// A run started on a machine with more cores than this one (its recorded thread count edited to
// 4096) resumes on this machine's cores, with the warning that the continuation is not
// bit-identical.
TEST_F(Resume, OnFewerCoresUsesAllOfThem) {
  file("run.json", R"({"dim": 2, "s": 1.5, "initial": {"type": "uniform", "sampling": "iid"},
    "particles": {"count": 100, "seed": 2}, "time": {"t_end": 0.1, "dt": 0.005},
    "output": {"plots": false, "checkpoint_every": 0.02}})");
  ASSERT_TRUE(killed(kmdflow("--threads 1 run run.json --out big", "KMDFLOW_FAULT=after-step:9")));
  auto config = json::parse(slurp(m_dir / "big" / "config.json"));
  config["kmdflow"]["threads"] = 4096;
  file("big/config.json", config.dump(2));
  const auto r = kmdflow("run --resume big");
  ASSERT_EQ(r.code, 0) << r.err;
  const int cores = int(std::thread::hardware_concurrency());
  EXPECT_EQ(json::parse(slurp(m_dir / "big" / "summary.json"))["threads"], cores);
  if (cores > 1) {
    EXPECT_NE(r.err.find("will not be bit-identical"), std::string::npos) << r.err;
  }
}

// A write that fails (a full disk; here a file size limit, which fails writes as a full disk
// does): exit 1, one error line naming the file and the reason, summary.json says where the run
// stopped, series.csv ends with a whole row, the trajectory stays trajectory.h5.part; once there
// is room again, --resume continues it bit for bit.
TEST_F(Resume, FullDiskFailsCleanlyAndResumes) {
  file("run.json", R"({"dim": 2, "s": 1.5, "particles": {"count": 324, "seed": 4},
    "initial": {"type": "fourier", "modes": [{"k": [1, 0], "amplitude": 0.5}]}, "forces": {"method": "spectral"},
    "time": {"t_end": 0.5, "dt": 0.01, "integrator": "rk45"},
    "output": {"plots": false, "snapshot_every": 0.005, "checkpoint_every": 0.05}})");
  ASSERT_EQ(kmdflow("run run.json --out reference").code, 0);
  // 400 KiB per file, inherited by the child processes, with SIGXFSZ ignored so that writes fail
  // with EFBIG: the target density (128² doubles) and a few dozen frames fit, not all 100.
  Result full;
  {
    rlimit saved{};
    getrlimit(RLIMIT_FSIZE, &saved);
    rlimit limit = saved;
    limit.rlim_cur = 400 * 1024;
    const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
    ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &limit), 0);
    full = kmdflow("run run.json --out full");
    setrlimit(RLIMIT_FSIZE, &saved);
    std::signal(SIGXFSZ, old_handler);
  }
  EXPECT_EQ(full.code, 1) << full.err;
  EXPECT_EQ(std::count(full.err.begin(), full.err.end(), '\n'), 1) << full.err;
  EXPECT_NE(full.err.find("trajectory.h5.part"), std::string::npos) << full.err;
  EXPECT_NE(full.err.find("File too large"), std::string::npos) << full.err;
  const auto summary = json::parse(slurp(m_dir / "full" / "summary.json"));
  EXPECT_EQ(summary["status"], "failed");
  EXPECT_GT(summary["stopped_at"]["step"].get<long>(), 10);
  EXPECT_TRUE(fs::exists(m_dir / "full" / "trajectory.h5.part"));
  EXPECT_FALSE(fs::exists(m_dir / "full" / "trajectory.h5"));
  std::stringstream rows(slurp(m_dir / "full" / "series.csv"));
  for (std::string row; std::getline(rows, row);) EXPECT_EQ(std::count(row.begin(), row.end(), ','), 6) << row;
  // kmdflow plot shows the stopped run from its trajectory.h5.part.
  const auto plotted = kmdflow("plot full");
  EXPECT_EQ(plotted.code, 0) << plotted.err;
  EXPECT_TRUE(fs::exists(m_dir / "full" / "density.png"));
  const auto resumed = kmdflow("run --resume full");
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  expect_identical("reference", "full", "full disk");
}

// What --resume cannot continue: one error line naming what is wrong, exit 2, nothing changed.
TEST_F(Resume, RefusesWhatItCannotContinue) {
  file("run.json", R"({"dim": 1, "s": 1, "particles": {"count": 100, "seed": 4},
    "time": {"t_end": 0.3, "dt": 0.01}, "output": {"plots": false, "checkpoint_every": 0.05}})");
  auto listing = [&](const std::string& dir) {
    std::map<std::string, std::string> files;
    for (const auto& entry : fs::directory_iterator(m_dir / dir))
      files[entry.path().filename().string()] = slurp(entry.path());
    return files;
  };
  auto refused = [&](const std::string& args, const std::string& expect, const std::string& dir) {
    const auto before = dir.empty() ? decltype(listing(dir)){} : listing(dir);
    const auto r = kmdflow(args);
    EXPECT_EQ(r.code, 2) << args << "\n" << r.err;
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find(expect), std::string::npos) << "expected '" << expect << "' in: " << r.err;
    if (!dir.empty()) {
      EXPECT_TRUE(before == listing(dir)) << args << ": the directory changed";
    }
  };
  ASSERT_TRUE(killed(kmdflow("run run.json --out stopped", "KMDFLOW_FAULT=after-step:17")));
  ASSERT_TRUE(fs::exists(m_dir / "stopped" / "checkpoint.h5"));
  ASSERT_TRUE(fs::exists(m_dir / "stopped" / "checkpoint.prev.h5"));

  // config.json edited since the checkpoint.
  const std::string original = slurp(m_dir / "stopped" / "config.json");
  auto edited = json::parse(original);
  edited["time"]["t_end"] = 0.6;
  file("stopped/config.json", edited.dump(2));
  refused("run --resume stopped", "time.t_end", "stopped");
  file("stopped/config.json", original);

  // Both checkpoints damaged; then only the newest: the previous one is used.
  const std::string newest = slurp(m_dir / "stopped" / "checkpoint.h5");
  const std::string previous = slurp(m_dir / "stopped" / "checkpoint.prev.h5");
  // One flipped bit in the record's text, which the file's checksum covers.
  auto corrupt = [&](const std::string& name, const std::string& bytes) {
    std::string damaged = bytes;
    const auto at = damaged.find("\"format\"");
    ASSERT_NE(at, std::string::npos);
    damaged[at + 2] ^= 1;
    file("stopped/" + name, damaged);
  };
  corrupt("checkpoint.h5", newest);
  corrupt("checkpoint.prev.h5", previous);
  refused("run --resume stopped", "no valid checkpoint", "stopped");
  file("stopped/checkpoint.h5", newest.substr(0, newest.size() / 3)); // truncated
  refused("run --resume stopped", "checkpoint.h5", "stopped");

  // Locked by a live run.
  file("stopped/checkpoint.prev.h5", previous);
  {
    const int fd = ::open((m_dir / "stopped" / "run.log").c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::flock(fd, LOCK_EX), 0);
    const auto r = kmdflow("run --resume stopped");
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_NE(r.err.find("in use"), std::string::npos) << r.err;
    ::close(fd);
  }
  const auto resumed = kmdflow("run --resume stopped");
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("warning: checkpoint.h5"), std::string::npos) << resumed.err;
  EXPECT_EQ(json::parse(slurp(m_dir / "stopped" / "summary.json"))["resumptions"][0]["from"], "checkpoint.prev.h5");

  // A completed run, a directory that is no run, a file, a run without a checkpoint, options
  // that --resume does not take.
  refused("run --resume stopped", "completed", "stopped");
  fs::create_directories(m_dir / "plain");
  refused("run --resume plain", "no config.json", "plain");
  refused("run --resume run.json", "not a directory", "");
  ASSERT_TRUE(killed(kmdflow("run run.json --out early", "KMDFLOW_FAULT=after-step:2")));
  refused("run --resume early", "no checkpoint", "early");
  refused("run --resume early --out other", "--out", "early");
  refused("run run.json --resume early", "--resume", "early");
}

} // namespace
