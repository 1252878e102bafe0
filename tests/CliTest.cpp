// The command line contract (DESIGN.md §7): exit codes, one-line errors naming the key, no run
// directory for bad input, the files of a run, eval's output.
#include <kmdflow/H5md.hpp>

#include "CliFixture.hpp"

#include <gtest/gtest.h>
#include <hdf5.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <csignal>
#include <fcntl.h>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace fs = std::filesystem;
using nlohmann::json;
using kmdflow_test::Result;
using kmdflow_test::slurp;

namespace {

class Cli : public kmdflow_test::CliFixture {};

const char* small_run = R"({"dim": 1, "s": 1, "particles": {"count": 200, "seed": 4},
  "initial": {"type": "fourier", "modes": [{"k": 1, "amplitude": 0.5}]},
  "time": {"t_end": 0.5, "dt": 0.05}, "output": {"plots": false}})";

} // namespace

// Every kind of bad input: exit code 2, exactly one line on stderr starting with "error:" and
// naming the key or file, and no run directory.
TEST_F(Cli, BadInputIsRefusedWithOneLine) {
  struct Case {
    std::string config, set, expect;
  };
  const std::vector<Case> cases = {
      {R"({"dim": 1, "s": 1,)", "", "malformed JSON"},
      {R"({"dim": 1, "s": 1, "colour": "red"})", "", "colour"},
      {R"({"dim": 1, "s": 1, "time": {"t_end": 1, "dtt": 0.1}})", "", "time.dtt"},
      {R"({"dim": 1, "s": 0})", "", "s:"},
      {R"({"dim": 1, "s": -2})", "", "s:"},
      {R"({"dim": 4, "s": 1})", "", "dim"},
      {R"({"dim": 1, "s": 1, "particles": {"count": 0}})", "", "particles.count"},
      {R"({"dim": 1, "s": "one"})", "", "s:"},
      {R"({"dim": 1, "s": 1, "initial": {"type": "file", "path": "missing.csv"}})", "", "initial.path"},
      {R"({"dim": 1, "s": 1, "target": {"type": "samples", "path": "nowhere.csv"}})", "", "target.path"},
      {R"({"dim": 1, "s": 1, "time": {"dt": 0}})", "", "time.dt"},
      {R"({"dim": 1, "s": 1, "time": {"dt": -0.1}})", "", "time.dt"},
      {R"({"dim": 1, "s": 1})", "--set time.integrator=leapfrog", "time.integrator"},
      {R"({"dim": 1, "s": 1})", "--set particles.count=abc", "particles.count"},
      {R"({"dim": 1, "s": 0.5, "target": {"type": "samples", "path": "samples.csv"}})", "", "s:"},
      {R"({"dim": 1, "s": 1.5, "forces": {"method": "sorted"}})", "", "forces.method"},
      {R"({"dim": 1, "s": 1, "precision": "half"})", "", "precision"},
      {R"({"dim": 2, "s": 1, "forces": {"method": "spectral", "fft_planning": "patient"}})", "", "forces.fft_planning"},
      {R"({"dim": 1, "s": 1, "precision": "float"})", "", "precision"},
      {R"({"dim": 2, "s": 1, "precision": "float", "forces": {"method": "spectral"}})", "", "precision"},
      {R"({"dim": 1, "s": 1, "solver": "pde", "precision": "float"})", "", "precision"},
      {R"({"dim": 1, "s": 1, "initial": {"type": "fourier", "modes": [{"k": 1, "amplitude": 1.5}]}})", "", "initial.modes"},
      // Counts no run could reach: t + dt == t near t_end; rows or frames by the billion.
      {R"({"dim": 1, "s": 1, "time": {"t_end": 1e308, "dt": 1e-300}})", "", "time.dt"},
      {R"({"dim": 1, "s": 1, "time": {"t_end": 1, "dt": 1e-16}})", "", "time.dt"},
      {R"({"dim": 1, "s": 1, "output": {"series_every": 1e-300}})", "", "output.series_every"},
      {R"({"dim": 1, "s": 1, "output": {"snapshot_every": 1e-9}})", "", "output.snapshot_every"},
      {R"({"dim": 1, "s": 1, "output": {"checkpoint_every": 0}})", "", "output.checkpoint_every"},
      {R"({"dim": 1, "s": 1, "output": {"checkpoint_every": 1e-12}})", "", "output.checkpoint_every"},
      {R"({"dim": 1, "s": 1, "output": {"checkpoint_wall": -1}})", "", "output.checkpoint_wall"},
      {R"({"dim": 1, "s": 1, "output": {"checkpoint_wall": "often"}})", "", "output.checkpoint_wall"},
  };
  file("samples.csv", "x\n0.1\n0.5\n");
  for (const auto& c : cases) {
    const auto config = file("bad.json", c.config);
    const auto r = kmdflow("run bad.json --out run " + c.set);
    EXPECT_EQ(r.code, 2) << c.config << "\n" << r.err;
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find(c.expect), std::string::npos) << "expected '" << c.expect << "' in: " << r.err;
    EXPECT_FALSE(fs::exists(m_dir / "run")) << c.config;
  }
  const auto missing = kmdflow("run does-not-exist.json");
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.err.find("does-not-exist.json"), std::string::npos);
  EXPECT_EQ(kmdflow("frobnicate").code, 2);
}

namespace {

/// An HDF5 file with one dataset of doubles at `name` (groups made on the way), `dims` its shape;
/// chunked, so that a huge declared extent costs nothing on disk. `values`: the data, if any.
void write_h5(const fs::path& path, const std::string& name, const std::vector<hsize_t>& dims,
              const std::vector<double>& values, bool create = true) {
  const hid_t file = create ? H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT)
                            : H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(file, 0);
  const hid_t links = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(links, 1);
  const hid_t layout = H5Pcreate(H5P_DATASET_CREATE);
  std::vector<hsize_t> chunk(dims.size());
  for (std::size_t a = 0; a < dims.size(); ++a) chunk[a] = std::max<hsize_t>(1, std::min<hsize_t>(dims[a], 64));
  H5Pset_chunk(layout, int(dims.size()), chunk.data());
  const hid_t space = H5Screate_simple(int(dims.size()), dims.data(), nullptr);
  const hid_t set = H5Dcreate2(file, name.c_str(), H5T_NATIVE_DOUBLE, space, links, layout, H5P_DEFAULT);
  ASSERT_GE(set, 0);
  if (!values.empty()) H5Dwrite(set, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data());
  H5Dclose(set);
  H5Sclose(space);
  H5Pclose(layout);
  H5Pclose(links);
  H5Fclose(file);
}

} // namespace

// Particle files (initial.path, --positions) and numbers a tester would try (issue 18): each one
// refused with one error line naming the key or file, exit 2, no run directory.
TEST_F(Cli, BadParticleFilesAreRefused) {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  const std::string position = "/particles/all/position/value";
  write_h5(m_dir / "nan.h5", position, {1, 3, 2}, {0.1, 0.2, nan, 0.4, 0.5, 0.6});
  write_h5(m_dir / "inf.h5", position, {1, 2, 2}, {0.1, 0.2, 0.3, -inf});
  write_h5(m_dir / "empty.h5", position, {1, 0, 2}, {});
  write_h5(m_dir / "noframes.h5", position, {0, 3, 2}, {});
  write_h5(m_dir / "flat.h5", position, {3, 2}, {0, 0, 0, 0, 0, 0});
  write_h5(m_dir / "wide.h5", position, {1, 1, 4}, {0.1, 0.2, 0.3, 0.4});
  write_h5(m_dir / "huge.h5", position, {1, hsize_t(1) << 40, 2}, {});
  write_h5(m_dir / "mass3.h5", position, {1, 2, 2}, {0.1, 0.2, 0.3, 0.4});
  write_h5(m_dir / "mass3.h5", "/particles/all/mass", {1, 2, 2}, {1, 1, 1, 1}, false);
  write_h5(m_dir / "massinf.h5", position, {1, 2, 2}, {0.1, 0.2, 0.3, 0.4});
  write_h5(m_dir / "massinf.h5", "/particles/all/mass", {2}, {1, inf}, false);
  write_h5(m_dir / "masscount.h5", position, {1, 2, 2}, {0.1, 0.2, 0.3, 0.4});
  write_h5(m_dir / "masscount.h5", "/particles/all/mass", {3}, {1, 1, 1}, false);
  file("text.h5", "x,y\n0.1,0.2\n");
  // A real trajectory, cut in half.
  file("run.json", R"({"dim": 2, "s": 1, "particles": {"count": 196, "seed": 4},
    "time": {"t_end": 0.1, "dt": 0.05}, "output": {"plots": false}})");
  ASSERT_EQ(kmdflow("run run.json --out good").code, 0);
  const auto whole = fs::file_size(m_dir / "good" / "trajectory.h5");
  fs::copy_file(m_dir / "good" / "trajectory.h5", m_dir / "cut.h5");
  fs::resize_file(m_dir / "cut.h5", whole / 2);
  file("nan.csv", "x,y\n0.1,nan\n");
  file("overflow.csv", "x,y\n0.1,1e400\n");
  file("heavy.csv", "x,y,w\n0.1,0.2,1e308\n0.3,0.4,1e308\n");
  file("header.csv", "x,y\n");
  fs::create_directories(m_dir / "folder.csv");
  ASSERT_EQ(mkfifo((m_dir / "fifo.csv").c_str(), 0600), 0);

  const std::vector<std::pair<std::string, std::string>> files = {
      {"nan.h5", "particle 1 (counting from 0) has a position that is not a finite number"},
      {"inf.h5", "particle 1 (counting from 0) has a position"},
      {"empty.h5", "holds no particles"},
      {"noframes.h5", "no frames"},
      {"flat.h5", "not [frame][i][dim]"},
      {"wide.h5", "4 coordinates"},
      {"huge.h5", "GB of memory"},
      {"mass3.h5", "mass is not [i]"},
      {"massinf.h5", "particle 1 (counting from 0) has a weight"},
      {"masscount.h5", "different particle count"},
      {"text.h5", "cannot read H5MD file"},
      {"cut.h5", "cannot read H5MD file"},
      {"nan.csv", "'nan' is not a finite number"},
      {"overflow.csv", "'1e400' is not a finite number"},
      {"heavy.csv", "overflows"},
      {"header.csv", "holds no particles"},
      {"folder.csv", "a directory"},
      {"fifo.csv", "a FIFO"},
  };
  const auto refused = [&](const Result& r, const std::string& what, const std::string& expect) {
    EXPECT_EQ(r.code, 2) << what << "\n" << r.err;
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << what << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << what << ": " << r.err;
    EXPECT_NE(r.err.find(expect), std::string::npos) << what << ": expected '" << expect << "' in: " << r.err;
    EXPECT_FALSE(fs::exists(m_dir / "run")) << what;
  };
  for (const auto& [name, expect] : files) {
    file("bad.json", R"({"dim": 2, "s": 1, "initial": {"type": "file", "path": ")" + name + R"("},
      "time": {"t_end": 0.1, "dt": 0.05}, "output": {"plots": false}})");
    const auto r = kmdflow("run bad.json --out run");
    refused(r, name, expect);
    EXPECT_NE(r.err.find("initial.path"), std::string::npos) << r.err;
    const auto e = kmdflow("eval run.json --positions " + name + " --out v.csv");
    refused(e, "eval " + name, expect);
    EXPECT_NE(e.err.find("--positions"), std::string::npos) << e.err;
    EXPECT_FALSE(fs::exists(m_dir / "v.csv"));
  }

  // Numbers beyond a double: the file and line, or the key.
  file("big.json", "{\"dim\": 1, \"s\": 1,\n \"time\": {\"dt\": 1e400}}");
  refused(kmdflow("run big.json --out run"), "1e400 in the file", "big.json: the number 1e400 at line 2");
  refused(kmdflow("run run.json --out run --set time.dt=-1e999"), "1e999 in --set", "time.dt");
  // A neuron file with a number and letters.
  file("neurons.csv", "x0,x1,m\n1,0.5abc,1\n");
  file("relu.json", R"({"model": "relu", "dim": 1, "relu": {"teacher": {"path": "neurons.csv"}}})");
  refused(kmdflow("run relu.json --out run"), "neurons", "'0.5abc' is not a finite number");
}

TEST_F(Cli, RunWritesTheContractFiles) {
  file("run.json", small_run);
  const auto r = kmdflow("run run.json --out out --set particles.count=300");
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* name : {"config.json", "series.csv", "trajectory.h5", "summary.json"})
    EXPECT_TRUE(fs::exists(m_dir / "out" / name)) << name;
  for (const auto& entry : fs::directory_iterator(m_dir / "out"))
    EXPECT_NE(entry.path().extension(), ".part") << "a temporary file was left: " << entry.path();

  const auto series = slurp(m_dir / "out" / "series.csv");
  EXPECT_EQ(series.substr(0, series.find('\n')), "step,t,energy,interaction_energy,dissipation,max_speed,wall_s");
  const auto config = json::parse(slurp(m_dir / "out" / "config.json"));
  EXPECT_EQ(config["particles"]["count"], 300);
  EXPECT_EQ(config["particles"]["seed"], 4);
  EXPECT_EQ(config["time"]["integrator"], "rk4"); // a default, resolved
  EXPECT_EQ(config["kmdflow"]["engine"], "sorted");
  EXPECT_TRUE(config["kmdflow"].contains("backend"));
  const auto summary = json::parse(slurp(m_dir / "out" / "summary.json"));
  EXPECT_EQ(summary["status"], "completed");
  EXPECT_EQ(summary["steps"], 10);

  const auto frame = kmdflow::read_h5md_last_frame((m_dir / "out" / "trajectory.h5").string());
  EXPECT_EQ(frame.positions.extent(0), 300u);
  EXPECT_EQ(frame.positions.extent(1), 1u);
  EXPECT_NEAR(frame.masses(0), 1.0 / 300, 1e-15);

  // The resolved configuration runs again as it is, and gives the same result.
  const auto again = kmdflow("run out/config.json --out again");
  ASSERT_EQ(again.code, 0) << again.err;
  const auto a = slurp(m_dir / "out" / "series.csv"), b = slurp(m_dir / "again" / "series.csv");
  auto energies = [](const std::string& s) { // the energy column of the last row
    const auto last = s.substr(s.rfind('\n', s.size() - 2) + 1);
    std::stringstream row(last);
    std::string step, t, e;
    std::getline(row, step, ',');
    std::getline(row, t, ',');
    std::getline(row, e, ',');
    return e;
  };
  EXPECT_EQ(energies(a), energies(b));

  // An existing run directory is refused, and replaced with --force.
  const auto refused = kmdflow("run run.json --out out");
  EXPECT_EQ(refused.code, 2);
  EXPECT_NE(refused.err.find("--force"), std::string::npos);
  EXPECT_EQ(kmdflow("run run.json --out out --force").code, 0);
  // --force never deletes a directory that is not a run.
  fs::create_directories(m_dir / "precious");
  file("precious/notes.txt", "keep me");
  EXPECT_EQ(kmdflow("run run.json --out precious --force").code, 2);
  EXPECT_TRUE(fs::exists(m_dir / "precious" / "notes.txt"));
}

// --force replaces what kmdflow wrote and nothing else (issue 18: it deleted, recursively, any
// directory holding a config.json, a project's sources with it).
TEST_F(Cli, ForceReplacesOnlyWhatKmdflowWrote) {
  file("run.json", small_run);
  const auto refused_with = [&](const std::string& out, const std::string& named) {
    const auto r = kmdflow("run run.json --out " + out + " --force");
    EXPECT_EQ(r.code, 2) << out;
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find(named), std::string::npos) << r.err;
  };
  // A project folder that holds a config.json of its own.
  fs::create_directories(m_dir / "project" / "src");
  file("project/config.json", "{}");
  file("project/src/main.cpp", "int main() {}");
  refused_with("project", "'src'");
  EXPECT_TRUE(fs::exists(m_dir / "project" / "src" / "main.cpp"));
  EXPECT_TRUE(fs::exists(m_dir / "project" / "config.json"));

  // A run with the user's notes beside its files.
  ASSERT_EQ(kmdflow("run run.json --out a").code, 0);
  file("a/notes.txt", "keep me");
  refused_with("a", "'notes.txt'");
  EXPECT_TRUE(fs::exists(m_dir / "a" / "notes.txt"));
  EXPECT_TRUE(fs::exists(m_dir / "a" / "series.csv"));
  fs::remove(m_dir / "a" / "notes.txt");

  // A symbolic link inside a run is not followed, nor is --out given as a link.
  fs::create_directories(m_dir / "precious");
  file("precious/data.txt", "keep me");
  fs::create_directory_symlink(m_dir / "precious", m_dir / "a" / "link");
  refused_with("a", "'link'");
  fs::remove(m_dir / "a" / "link");
  fs::create_directory_symlink(m_dir / "a", m_dir / "alias");
  refused_with("alias", "symbolic link");
  EXPECT_TRUE(fs::exists(m_dir / "precious" / "data.txt"));

  // Nested run directories (a study's) and staged files are kmdflow's: replaced.
  ASSERT_EQ(kmdflow("run run.json --out a/particles-100").code, 0);
  file("a/series.csv.part", "");
  const auto replaced = kmdflow("run run.json --out a --force");
  EXPECT_EQ(replaced.code, 0) << replaced.err;
  EXPECT_FALSE(fs::exists(m_dir / "a" / "particles-100"));
  EXPECT_FALSE(fs::exists(m_dir / "a" / "series.csv.part"));
  EXPECT_TRUE(fs::exists(m_dir / "a" / "summary.json"));
  // A nested directory that is not a run is the user's.
  fs::create_directories(m_dir / "a" / "analysis");
  refused_with("a", "'analysis'");
  EXPECT_TRUE(fs::exists(m_dir / "a" / "analysis"));
}

TEST_F(Cli, EvalWritesVelocitiesAndPrintsEnergies) {
  file("model.json", R"({"dim": 1, "s": 1})");
  // Equally spaced points are stationary, with full energy 1/(24N²) (DESIGN.md §2).
  std::string csv = "x\n";
  for (int i = 0; i < 100; ++i) csv += std::to_string((i + 0.5) / 100) + "\n";
  file("lattice.csv", csv);
  const auto r = kmdflow("eval model.json --positions lattice.csv --out v.csv");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto result = json::parse(r.out);
  EXPECT_NEAR(result["energy"].get<double>(), 1.0 / (24.0 * 100 * 100), 1e-15);
  EXPECT_NEAR(result["interaction_energy"].get<double>(), 1.0 / 240000 - 1.0 / 2400, 1e-15);
  EXPECT_NEAR(result["dissipation"].get<double>(), 0.0, 1e-28);
  std::ifstream v(m_dir / "v.csv");
  std::string line;
  std::getline(v, line);
  EXPECT_EQ(line, "vx");
  int rows = 0;
  while (std::getline(v, line)) {
    EXPECT_NEAR(std::stod(line), 0.0, 1e-15);
    ++rows;
  }
  EXPECT_EQ(rows, 100);

  // The same in single precision (direct engine): each particle's sum of N float terms w_j G_ij,
  // |G| ≤ 1/12, errs by at most N u Σ|terms| ≤ N u / 12 (u = 2^-24), and the energy is half the
  // weighted mean of these sums: |error| ≤ N u / 24 ≈ 2.5e-7. (How close it comes depends on the
  // compiler's summation order: 5.8e-10 in the Release build, 1.2e-9 in the sanitizer build.)
  const auto f = kmdflow("eval model.json --positions lattice.csv --out vf.csv --set precision=float "
                         "--set forces.method=direct");
  ASSERT_EQ(f.code, 0) << f.err;
  EXPECT_NEAR(json::parse(f.out)["energy"].get<double>(), 1.0 / (24.0 * 100 * 100), 100 * 0x1p-24 / 24);
  std::ifstream vf(m_dir / "vf.csv");
  std::getline(vf, line);
  while (std::getline(vf, line)) EXPECT_NEAR(std::stod(line), 0.0, 1e-6);

  // Two particles with weights: v_0 = −w_1 G'(x_0 − x_1) = −¾ ({−0.5} − ½) = 0.
  file("pair.csv", "x,w\n0.25,1\n0.75,3\n");
  const auto pair = kmdflow("eval model.json --positions pair.csv");
  ASSERT_EQ(pair.code, 0) << pair.err;
  EXPECT_TRUE(fs::exists(m_dir / "pair-velocities.csv"));
  EXPECT_EQ(kmdflow("eval model.json --positions nothing.csv").code, 2);
  file("bad.csv", "x,y\n0.1,0.2\n");
  const auto bad = kmdflow("eval model.json --positions bad.csv");
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("header"), std::string::npos) << bad.err;
}

namespace {

/// An .npy file (format 1.0) written by hand from the format's specification: magic, version,
/// little-endian header length, the header dict padded with spaces to a multiple of 64 bytes.
std::string npy(const std::string& descr, bool fortran, const std::string& shape, const std::string& data) {
  std::string header = "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
                       ", 'shape': " + shape + ", }";
  header.append(63 - (10 + header.size()) % 64, ' ');
  header += '\n';
  return std::string("\x93NUMPY\x01\x00", 8) + char(header.size() & 0xff) + char(header.size() >> 8) + header + data;
}
template <class T> std::string bytes_of(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

} // namespace

// eval reads and writes NumPy .npy arrays: the same velocities as from the same points in CSV (to
// the bit for float64, to float32's rounding of the positions for a Fortran-ordered float32
// array), the output an (N, d) float64 array; the printed JSON names the engine and its
// parameters; bad arrays refused with one line naming --positions.
TEST_F(Cli, EvalReadsAndWritesNpy) {
  file("model.json", R"({"dim": 2, "s": 1.5, "forces": {"method": "direct"}})");
  const std::vector<double> x = {0.1, 0.2, 0.7, 0.3, 0.4, 0.9, 0.55, 0.05}; // 4 points, C order
  std::string csv = "x,y\n";
  for (int i = 0; i < 4; ++i) csv += std::to_string(x[2 * i]) + "," + std::to_string(x[2 * i + 1]) + "\n";
  file("points.csv", csv);
  file("points.npy", npy("<f8", false, "(4, 2)", bytes_of(x)));
  const auto from_csv = kmdflow("eval model.json --positions points.csv --out v.csv");
  const auto from_npy = kmdflow("eval model.json --positions points.npy");
  ASSERT_EQ(from_csv.code, 0) << from_csv.err;
  ASSERT_EQ(from_npy.code, 0) << from_npy.err;
  const auto result = json::parse(from_npy.out);
  EXPECT_EQ(result["engine"], "direct");
  EXPECT_EQ(result["particles"], 4);
  EXPECT_EQ(result["energy"], json::parse(from_csv.out)["energy"]);
  // The default output of an .npy input is an .npy file beside it: header, then 4 × 2 doubles.
  const std::string out = slurp(m_dir / "points-velocities.npy");
  ASSERT_GT(out.size(), 10u + 64);
  EXPECT_EQ(out.substr(0, 6), "\x93NUMPY");
  const std::size_t header = static_cast<unsigned char>(out[8]) | (static_cast<unsigned char>(out[9]) << 8);
  EXPECT_EQ((10 + header) % 64, 0u);
  EXPECT_NE(out.find("'descr': '<f8'"), std::string::npos);
  EXPECT_NE(out.find("'shape': (4, 2)"), std::string::npos);
  ASSERT_EQ(out.size(), 10 + header + 8 * 8);
  std::vector<double> v(8);
  std::memcpy(v.data(), out.data() + 10 + header, 64);
  std::ifstream in(m_dir / "v.csv");
  std::string line;
  std::getline(in, line);
  for (int i = 0; i < 4; ++i) {
    std::getline(in, line);
    const auto comma = line.find(',');
    EXPECT_EQ(v[2 * i], std::stod(line.substr(0, comma))) << i;
    EXPECT_EQ(v[2 * i + 1], std::stod(line.substr(comma + 1))) << i;
  }
  // Fortran order, float32: columns stored one after the other.
  std::vector<float> columns;
  for (int d = 0; d < 2; ++d)
    for (int i = 0; i < 4; ++i) columns.push_back(float(x[2 * i + d]));
  file("fortran.npy", npy("<f4", true, "(4, 2)", bytes_of(columns)));
  const auto f = kmdflow("eval model.json --positions fortran.npy --out -");
  ASSERT_EQ(f.code, 0) << f.err;
  std::stringstream rows(f.out);
  std::getline(rows, line);
  EXPECT_EQ(line, "vx,vy");
  for (int i = 0; i < 4; ++i) {
    std::getline(rows, line);
    const auto comma = line.find(',');
    // Positions moved by ≤ 2^-24 change velocities of size O(1) by O(2^-24 · max |G''|).
    EXPECT_NEAR(std::stod(line.substr(0, comma)), v[2 * i], 1e-4 * (1 + std::abs(v[2 * i]))) << i;
  }
  const std::vector<std::pair<std::string, std::string>> bad = {
      {npy(">f8", false, "(4, 2)", bytes_of(x)), "big-endian"},
      {npy("<f8", false, "(8,)", bytes_of(x)), "shape"},
      {npy("<f8", false, "(4, 2)", bytes_of(x).substr(0, 40)), "truncated"},
      {npy("<c16", false, "(2, 2)", bytes_of(x)), "dtype"},
      {npy("<f8", false, "(4, 2)", bytes_of(std::vector<double>{0.1, NAN, 0.7, 0.3, 0.4, 0.9, 0.55, 0.05})), "finite"},
      {"x,y\n0.1,0.2\n", "not an .npy file"},
  };
  for (const auto& [content, reason] : bad) {
    file("bad.npy", content);
    const auto b = kmdflow("eval model.json --positions bad.npy --out bad-v.npy");
    EXPECT_EQ(b.code, 2) << reason;
    EXPECT_NE(b.err.find("--positions"), std::string::npos) << b.err;
    EXPECT_NE(b.err.find(reason), std::string::npos) << b.err;
    EXPECT_EQ(std::count(b.err.begin(), b.err.end(), '\n'), 1) << b.err;
    EXPECT_FALSE(fs::exists(m_dir / "bad-v.npy"));
  }
}

// The default thread count: one thread for the small 1D problems whose steps are a few short
// kernels (the sorted engine with at most 6000 particles, counted in the file for initial.type
// file; the 1D PDE on at most 8192 cells), all cores otherwise; --threads wins.
TEST_F(Cli, DefaultThreadsFollowTheProblemSize) {
  const int cores = int(std::thread::hardware_concurrency());
  if (cores < 2 || std::getenv("OMP_NUM_THREADS")) GTEST_SKIP() << "needs 2 cores and no OMP_NUM_THREADS";
  std::string csv = "x\n";
  for (int i = 0; i < 100; ++i) csv += std::to_string((i + 0.3) / 100) + "\n";
  file("hundred.csv", csv);
  const std::string quick = R"("time": {"t_end": 0.02, "dt": 0.01}, "output": {"plots": false})";
  const std::vector<std::pair<std::string, int>> cases = {
      {R"({"dim": 1, "s": 1, "particles": {"count": 100}, )" + quick + "}", 1},
      {R"({"dim": 1, "s": 1, "initial": {"type": "file", "path": "hundred.csv"}, )" + quick + "}", 1},
      {R"({"dim": 1, "s": 1, "solver": "pde", "pde": {"grid": 256}, )" + quick + "}", 1},
      {R"({"dim": 1, "s": 1, "particles": {"count": 7000}, )" + quick + "}", cores},
      {R"({"dim": 2, "s": 1, "particles": {"count": 100}, )" + quick + "}", cores},
  };
  int k = 0;
  for (const auto& [config, threads] : cases) {
    file("t.json", config);
    const std::string out = "t" + std::to_string(k++);
    const auto r = kmdflow("run t.json --out " + out);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(json::parse(slurp(m_dir / out / "config.json"))["kmdflow"]["threads"], threads) << config;
  }
  file("t.json", cases[0].first); // a small 1D problem, on 2 threads when asked
  const auto r = kmdflow("--threads 2 run t.json --out forced");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(slurp(m_dir / "forced" / "config.json"))["kmdflow"]["threads"], 2);

  // A busy machine (other work leaves fewer idle cores than threads): a note on stderr
  // with the advice, not a different thread count; none where the user chose the threads.
  file("t.json", cases.back().first);
  const std::string busy = "KMDFLOW_LOADAVG=" + file("busy", std::to_string(cores - 0.5) + " 1.00 0.50 2/300 4242\n").string();
  const auto b = kmdflow("run t.json --out busy-run", busy);
  ASSERT_EQ(b.code, 0) << b.err;
  EXPECT_NE(b.err.find("note: the machine is busy"), std::string::npos) << b.err;
  EXPECT_EQ(json::parse(slurp(m_dir / "busy-run" / "config.json"))["kmdflow"]["threads"], cores);
  EXPECT_EQ(kmdflow("--threads 2 run t.json --out busy-chosen", busy).err.find("note:"), std::string::npos);
  const std::string idle = "KMDFLOW_LOADAVG=" + file("idle", "0.00 0.00 0.00 1/300 4242\n").string();
  EXPECT_EQ(kmdflow("run t.json --out idle-run", idle).err.find("note:"), std::string::npos);
}

TEST_F(Cli, DefaultExampleAndInfo) {
  const auto info = kmdflow("info --json", "env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT -u KMP_BLOCKTIME");
  ASSERT_EQ(info.code, 0) << info.err;
  const auto j = json::parse(info.out);
  EXPECT_TRUE(j.contains("kokkos"));
  EXPECT_GE(j["threads"].get<int>(), 1);
  EXPECT_EQ(j["licence"].get<std::string>().rfind("Apache-2.0", 0), 0u);
  EXPECT_TRUE(fs::exists(fs::path(KMDFLOW_SOURCE_DIR) / "LICENSE"));
  // The OpenMP runtime spins briefly by default (main.cpp), and as the user says where set.
  EXPECT_EQ(j["openmp_wait"], "GOMP_SPINCOUNT=3000 KMP_BLOCKTIME=1");
  EXPECT_EQ(json::parse(kmdflow("info --json", "OMP_WAIT_POLICY=active").out)["openmp_wait"], "OMP_WAIT_POLICY=active");
  // --help names the program, not the path it was built at; one thread is "1 thread".
  const auto help = kmdflow("--help");
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("kmdflow [OPTIONS]"), std::string::npos) << help.out;
  EXPECT_EQ(help.out.find(KMDFLOW_BINARY), std::string::npos) << help.out;
  EXPECT_NE(kmdflow("--threads 1 info").out.find("1 thread,"), std::string::npos);
  // The default example, shortened.
  const auto r = kmdflow("run --set time.t_end=0.1 --set output.plots=false --out default");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto config = json::parse(slurp(m_dir / "default" / "config.json"));
  EXPECT_EQ(config["particles"]["count"], 100000);
  EXPECT_NE(config["initial"]["type"], "uniform");
}

// A run stopped by a signal keeps complete files and says where it stopped (exit code 1).
TEST_F(Cli, InterruptedRunKeepsConsistentFiles) {
  file("long.json", R"({"dim": 1, "s": 1, "particles": {"count": 20000},
    "time": {"t_end": 1e6, "dt": 0.01}, "output": {"plots": false, "series_every": 0.1, "snapshot_every": 1}})");
  const pid_t child = fork();
  if (child == 0) {
    const std::string out = (m_dir / "out").string();
    const int null = open("/dev/null", O_WRONLY);
    dup2(null, 1), dup2(null, 2);
    execl(KMDFLOW_BINARY, "kmdflow", "run", (m_dir / "long.json").c_str(), "--out", out.c_str(), nullptr);
    _exit(127);
  }
  for (int i = 0; i < 100 && !fs::exists(m_dir / "out" / "series.csv.part"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  kill(child, SIGINT);
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_EQ(WEXITSTATUS(status), 1);
  const auto summary = json::parse(slurp(m_dir / "out" / "summary.json"));
  EXPECT_EQ(summary["status"], "interrupted");
  EXPECT_GT(summary["stopped_at"]["t"].get<double>(), 0.0);
  EXPECT_TRUE(fs::exists(m_dir / "out" / "series.csv"));
  EXPECT_GE(kmdflow::read_h5md_last_frame((m_dir / "out" / "trajectory.h5").string()).positions.extent(0), 20000u);
}

// Steps beyond the integrator's stability limit make the energy rise, which a gradient flow cannot
// do: the run stops there with exit 1, summary.json says why and where, the files are complete.
TEST_F(Cli, RisingEnergyStopsTheRun) {
  file("unstable.json", R"({"dim": 1, "s": 1, "particles": {"count": 100},
    "time": {"t_end": 1e301, "dt": 1e300, "integrator": "euler"}, "output": {"plots": false}})");
  const auto r = kmdflow("run unstable.json --out out");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("the energy rose"), std::string::npos) << r.err;
  const auto summary = json::parse(slurp(m_dir / "out" / "summary.json"));
  EXPECT_EQ(summary["status"], "failed");
  EXPECT_EQ(summary["stopped_at"]["step"], 1);
  std::ifstream series(m_dir / "out" / "series.csv");
  std::string line;
  int rows = 0;
  while (std::getline(series, line)) ++rows;
  EXPECT_EQ(rows, 3); // the header, t = 0 and the step where the energy rose
  // The same flow with a stable step completes.
  EXPECT_EQ(kmdflow("run unstable.json --out stable --set time.t_end=2 --set time.dt=0.1").code, 0);
}

// The command line does what one means (issue 20): switching a block's type drops the old
// type's keys, switching the solver its integrator (both said on stderr), a particle file gives
// the count, and eval --out - writes the velocities to stdout.
TEST_F(Cli, SetDoesWhatOneMeans) {
  file("p.csv", "x\n0.1\n0.2\n0.5\n0.7\n");
  const std::string quick = " --set time.t_end=0.1 --set output.plots=false";
  const auto from_file = kmdflow("run --set initial.type=file --set initial.path=p.csv --out f" + quick);
  ASSERT_EQ(from_file.code, 0) << from_file.err;
  EXPECT_NE(from_file.err.find("dropped initial.modes"), std::string::npos) << from_file.err;
  EXPECT_NE(from_file.err.find("particles.count 100000 replaced by the 4 particles"), std::string::npos)
      << from_file.err;
  EXPECT_EQ(json::parse(slurp(m_dir / "f" / "summary.json"))["particles"], 4);

  const auto uniform = kmdflow("run '" KMDFLOW_SOURCE_DIR "/examples/wrapped_gaussian_target.json' "
                               "--set target.type=uniform --out u" + quick);
  ASSERT_EQ(uniform.code, 0) << uniform.err;
  EXPECT_NE(uniform.err.find("dropped target.components"), std::string::npos) << uniform.err;
  EXPECT_EQ(json::parse(slurp(m_dir / "u" / "config.json"))["target"], json({{"type", "uniform"}}));

  // initial.sampling belongs to every density type: it survives a switch of initial.type.
  const auto lattice = kmdflow("run --set initial.sampling=lattice --set particles.count=64 --set dim=2 "
                               "--set initial.type=uniform --out l" + quick);
  ASSERT_EQ(lattice.code, 0) << lattice.err;
  EXPECT_EQ(lattice.err.find("initial.sampling"), std::string::npos) << lattice.err;
  EXPECT_EQ(json::parse(slurp(m_dir / "l" / "config.json"))["initial"]["sampling"], "lattice");
  file("iid.json", R"({"initial": {"type": "fourier", "modes": [{"k": 1, "amplitude": 0.3}], "sampling": "iid"}})");
  const auto kept = kmdflow("run iid.json --set initial.type=uniform --set particles.count=10 --out k" + quick);
  ASSERT_EQ(kept.code, 0) << kept.err;
  EXPECT_NE(kept.err.find("dropped initial.modes ("), std::string::npos) << kept.err;
  EXPECT_EQ(json::parse(slurp(m_dir / "k" / "config.json"))["initial"]["sampling"], "iid");

  const auto pde = kmdflow("run --set solver=pde --out p" + quick);
  ASSERT_EQ(pde.code, 0) << pde.err;
  EXPECT_NE(pde.err.find("time.integrator \"rk4\" dropped"), std::string::npos) << pde.err;
  // An integrator set in the same invocation is the user's: the PDE's refusal stands.
  EXPECT_EQ(kmdflow("run --set solver=pde --set time.integrator=rk4 --out q" + quick).code, 2);

  const auto to_stdout = kmdflow("eval '" KMDFLOW_SOURCE_DIR "/examples/default.json' --positions p.csv --out -");
  ASSERT_EQ(to_stdout.code, 0) << to_stdout.err;
  EXPECT_EQ(to_stdout.out.rfind("vx\n", 0), 0u) << to_stdout.out;
  EXPECT_EQ(std::count(to_stdout.out.begin(), to_stdout.out.end(), '\n'), 5) << to_stdout.out;
  EXPECT_TRUE(json::parse(to_stdout.err).contains("energy")) << to_stdout.err;
  EXPECT_FALSE(fs::exists(m_dir / "-"));
  // eval's errors about the particle file name --positions, for ReLU neurons too.
  for (const char* config : {"default.json", "relu_d2.json"}) {
    const auto missing = kmdflow(std::string("eval '" KMDFLOW_SOURCE_DIR "/examples/") + config + "' --positions none.csv");
    EXPECT_EQ(missing.code, 2) << config;
    EXPECT_EQ(missing.err.rfind("error: --positions: ", 0), 0u) << missing.err;
  }
}

// Requests that cannot fit in memory are refused before anything is allocated, with the
// estimate (issue 18), not ended by the out-of-memory killer.
TEST_F(Cli, RequestsBeyondMemoryAreRefusedUpFront) {
  const double memory = double(sysconf(_SC_PHYS_PAGES)) * double(sysconf(_SC_PAGE_SIZE));
  struct Case {
    std::string config, key;
    double bytes; // a lower bound of what the request needs
  };
  const std::vector<Case> cases = {
      {R"({"dim": 3, "s": 2, "particles": {"count": 2000000000}, "output": {"plots": false}})", "particles.count",
       2e9 * 3 * 8 * 8},
      {R"({"dim": 3, "s": 1, "solver": "pde", "pde": {"grid": 1250}, "initial": {"type": "uniform"}})", "pde.grid",
       1250.0 * 1250 * 1250 * 8 * 6},
      {R"({"model": "relu", "dim": 2, "particles": {"count": 2000000000}})", "particles.count", 2e9 * 4 * 8 * 8},
  };
  for (const auto& c : cases) {
    if (c.bytes < memory) continue; // a machine this large may run it
    file("big.json", c.config);
    const auto r = kmdflow("run big.json --out big");
    EXPECT_EQ(r.code, 2) << c.config << "\n" << r.err;
    EXPECT_EQ(r.err.rfind("error: " + c.key + ": ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find("GB of memory, more than the"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(m_dir / "big"));
  }
}

// Provenance (issue 18): config.json's kmdflow block and trajectory.h5's /h5md/author and
// /parameters say what ran, built how, where and when; /observables holds series.csv's energies.
TEST_F(Cli, RunsRecordWhereTheyCameFrom) {
  file("run.json", std::string(small_run).replace(1, 0, R"("author": "config author", )"));
  const auto r = kmdflow("run run.json --out out", "KMDFLOW_AUTHOR='Ada Lovelace'");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto config = json::parse(slurp(m_dir / "out" / "config.json"));
  const json& k = config["kmdflow"];
  for (const char* key : {"version", "git_commit", "git_tree", "compiler", "build_type", "cxx_flags", "kokkos", "fft",
                          "hdf5", "mpi", "backend", "device", "host", "started", "ended"})
    EXPECT_TRUE(k.contains(key) && k[key].is_string() && !k[key].get<std::string>().empty()) << key << ": " << k;
  EXPECT_GE(k["threads"].get<int>(), 1);
  EXPECT_TRUE(k["git_tree"] == "clean" || k["git_tree"] == "dirty" || k["git_tree"] == "unknown") << k["git_tree"];
  EXPECT_EQ(config["author"], "config author");

  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  const hid_t h5 = H5Fopen((m_dir / "out" / "trajectory.h5").c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(h5, 0);
  auto string_attribute = [&](const char* object, const char* name) {
    const hid_t attr = H5Aopen_by_name(h5, object, name, H5P_DEFAULT, H5P_DEFAULT);
    if (attr < 0) return std::string("<missing>");
    const hid_t type = H5Aget_type(attr);
    std::string value(H5Tget_size(type), '\0');
    H5Aread(attr, type, value.data());
    H5Tclose(type);
    H5Aclose(attr);
    return std::string(value.c_str());
  };
  EXPECT_EQ(string_attribute("/h5md/author", "name"), "Ada Lovelace"); // the environment first
  EXPECT_EQ(string_attribute("/parameters", "git_commit"), k["git_commit"].get<std::string>());
  EXPECT_EQ(string_attribute("/parameters", "host"), k["host"].get<std::string>());
  auto recorded = config;
  recorded.erase("kmdflow");
  EXPECT_EQ(json::parse(string_attribute("/parameters", "config")), recorded);
  // /observables/energy: series.csv's energy column, value for value.
  std::vector<double> energies;
  std::stringstream rows(slurp(m_dir / "out" / "series.csv"));
  std::string row;
  std::getline(rows, row);
  while (std::getline(rows, row)) energies.push_back(std::stod(row.substr(row.find(',', row.find(',') + 1) + 1)));
  const hid_t set = H5Dopen2(h5, "/observables/energy/value", H5P_DEFAULT);
  ASSERT_GE(set, 0);
  std::vector<double> observed(energies.size() + 1, -1.0);
  const hid_t space = H5Dget_space(set);
  EXPECT_EQ(H5Sget_simple_extent_npoints(space), hssize_t(energies.size()));
  H5Dread(set, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, observed.data());
  observed.pop_back();
  EXPECT_EQ(observed, energies);
  H5Sclose(space);
  H5Dclose(set);
  H5Fclose(h5);
  // Without KMDFLOW_AUTHOR, the config's author.
  ASSERT_EQ(kmdflow("run run.json --out second", "KMDFLOW_AUTHOR=").code, 0);
  const hid_t second = H5Fopen((m_dir / "second" / "trajectory.h5").c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(second, 0);
  const hid_t attr = H5Aopen_by_name(second, "/h5md/author", "name", H5P_DEFAULT, H5P_DEFAULT);
  char name[64] = {};
  const hid_t type = H5Aget_type(attr);
  H5Aread(attr, type, name);
  EXPECT_STREQ(name, "config author");
  H5Tclose(type);
  H5Aclose(attr);
  H5Fclose(second);
}

// A batch job's log (stderr not a terminal) gets a plain progress line every 30 s, here every step.
TEST_F(Cli, PlainProgressLinesInBatchLogs) {
  file("run.json", small_run);
  setenv("KMDFLOW_PROGRESS_SECONDS", "0", 1);
  const auto r = kmdflow("run run.json --out out");
  unsetenv("KMDFLOW_PROGRESS_SECONDS");
  ASSERT_EQ(r.code, 0) << r.err;
  std::stringstream lines(r.err);
  int count = 0;
  for (std::string line; std::getline(lines, line); ++count) {
    EXPECT_EQ(line.rfind("kmdflow: step " + std::to_string(count + 1) + ", t = ", 0), 0u) << line;
    EXPECT_NE(line.find("steps/s"), std::string::npos) << line;
    EXPECT_NE(line.find("eta"), std::string::npos) << line;
  }
  EXPECT_EQ(count, 10); // t_end 0.5, dt 0.05
  // run.log: the start, the same lines, the end; and a line for each checkpoint (every t_end/20
  // by default: after each of the 9 steps before the last).
  std::stringstream log(slurp(m_dir / "out" / "run.log"));
  std::vector<std::string> logged;
  int checkpoints = 0;
  for (std::string line; std::getline(log, line);) {
    const std::string text = line.substr(line.find("] ") + 2);
    if (text.rfind("checkpoint at step ", 0) == 0) ++checkpoints;
    else logged.push_back(text);
  }
  EXPECT_EQ(checkpoints, 9);
  ASSERT_EQ(logged.size(), 1u + 10u + 2u) << slurp(m_dir / "out" / "run.log");
  EXPECT_EQ(logged[0].rfind("kmdflow " KMDFLOW_VERSION ": ", 0), 0u) << logged[0];
  EXPECT_EQ(logged[1].rfind("kmdflow: step 1, t = ", 0), 0u) << logged[1];
  EXPECT_EQ(logged[11].rfind("kmdflow: 10 steps to t = 0.5", 0), 0u) << logged[11];
  // The default interval (30 s) prints nothing in a run this short.
  EXPECT_EQ(kmdflow("run run.json --out quiet").err, "");
  EXPECT_TRUE(fs::exists(m_dir / "quiet" / "run.log"));
}

TEST_F(Cli, TwoAndThreeDimensions) {
  file("model2.json", R"({"dim": 2, "s": 1.5})");
  file("points2.csv", "x,y,w\n0.1,0.2,1\n0.6,0.25,2\n0.4,0.9,1\n");
  const auto r = kmdflow("eval model2.json --positions points2.csv --out v2.csv");
  ASSERT_EQ(r.code, 0) << r.err;
  std::ifstream v(m_dir / "v2.csv");
  std::string header;
  std::getline(v, header);
  EXPECT_EQ(header, "vx,vy");
  const auto result = json::parse(r.out);
  EXPECT_TRUE(result["energy"].is_number()); // 2s > d: finite
  // Coincident particles where the velocity is unbounded: bad input, naming them.
  file("twins.csv", "x,y\n0.1,0.2\n0.5,0.5\n0.1,0.2\n");
  file("coulomb2.json", R"({"dim": 2, "s": 1})");
  const auto twins = kmdflow("eval coulomb2.json --positions twins.csv");
  EXPECT_EQ(twins.code, 2);
  EXPECT_NE(twins.err.find("particles 0 and 2 coincide"), std::string::npos) << twins.err;
  // 2s ≤ d: the full energy is infinite, reported as null.
  file("model3.json", R"({"dim": 3, "s": 1})");
  file("points3.csv", "x,y,z\n0.1,0.2,0.3\n0.6,0.25,0.8\n");
  const auto r3 = kmdflow("eval model3.json --positions points3.csv --out v3.csv");
  ASSERT_EQ(r3.code, 0) << r3.err;
  EXPECT_TRUE(json::parse(r3.out)["energy"].is_null());
  // Lattice samplings need N = n^d.
  file("bad2.json", R"({"dim": 2, "s": 1, "particles": {"count": 1000}, "initial": {"sampling": "lattice"}})");
  const auto bad = kmdflow("run bad2.json --out bad");
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("particles.count"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("961 or 1024"), std::string::npos) << bad.err;
  EXPECT_FALSE(fs::exists(m_dir / "bad"));
  // The spectral engine records the parameters it chose.
  file("spectral.json", R"({"dim": 2, "s": 1, "particles": {"count": 256}, "forces": {"method": "spectral", "tolerance": 1e-5,
    "fft_planning": "measure"}, "time": {"t_end": 0.05, "dt": 0.05}, "output": {"plots": false}})");
  const auto spec = kmdflow("run spectral.json --out spectral");
  ASSERT_EQ(spec.code, 0) << spec.err;
  const auto recorded = json::parse(slurp(m_dir / "spectral" / "config.json"));
  EXPECT_EQ(recorded["kmdflow"]["engine"], "spectral");
  EXPECT_EQ(recorded["kmdflow"]["engine_parameters"]["tolerance"], 1e-5);
  EXPECT_GT(recorded["kmdflow"]["engine_parameters"]["modes"].get<int>(), 0);
  EXPECT_EQ(recorded["kmdflow"]["engine_parameters"]["fft_planning"], "measure");
  const double upsampling = recorded["kmdflow"]["engine_parameters"]["upsampling"];
  EXPECT_TRUE(upsampling == 2.0 || upsampling == 1.5 || upsampling == 1.25) << upsampling;
  // A short 2D run writes the target density on a grid for the plots.
  file("run2.json", R"({"dim": 2, "s": 1, "particles": {"count": 64},
    "target": {"type": "wrapped_gaussians", "components": [{"center": [0.5, 0.5], "sigma": 0.2}]},
    "time": {"t_end": 0.1, "dt": 0.05}, "output": {"plots": false}})");
  const auto run = kmdflow("run run2.json --out run2");
  ASSERT_EQ(run.code, 0) << run.err;
  const auto frame = kmdflow::read_h5md_last_frame((m_dir / "run2" / "trajectory.h5").string());
  EXPECT_EQ(frame.positions.extent(1), 2u);
}

// solver "pde": the run directory of DESIGN.md §7 with /fields/density, mass conserved, the
// energy non-increasing; bad PDE input refused before anything is written.
TEST_F(Cli, PdeRun) {
  file("pde.json", R"({"dim": 1, "s": 1, "solver": "pde", "pde": {"grid": 128},
    "initial": {"type": "fourier", "modes": [{"k": 1, "amplitude": 0.5}]},
    "time": {"t_end": 1, "dt": 0.02}, "output": {"plots": false, "snapshot_every": 0.25}})");
  const auto r = kmdflow("run pde.json --out pde");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto field = kmdflow::read_h5md_field((m_dir / "pde" / "trajectory.h5").string(), "density");
  ASSERT_EQ(field.frames.size(), 5u);
  EXPECT_EQ(field.shape, std::vector<std::size_t>{128});
  EXPECT_DOUBLE_EQ(field.frames.back().time, 1.0);
  double mass = 0;
  for (double v : field.frames.back().values) mass += v / 128;
  EXPECT_NEAR(mass, 1.0, 1e-13);
  std::ifstream series(m_dir / "pde" / "series.csv");
  std::string line;
  std::getline(series, line);
  EXPECT_EQ(line, "step,t,energy,interaction_energy,dissipation,max_speed,wall_s");
  double previous = 1e300;
  int rows = 0;
  while (std::getline(series, line)) {
    const double energy = std::stod(line.substr(line.find(',', line.find(',') + 1) + 1));
    EXPECT_LE(energy, previous);
    previous = energy;
    ++rows;
  }
  EXPECT_GT(rows, 50);
  const auto summary = json::parse(slurp(m_dir / "pde" / "summary.json"));
  EXPECT_EQ(summary["status"], "completed");
  EXPECT_NEAR(summary["energy_decay"]["exponential_rate"].get<double>(), 2.0, 0.1);
  const std::vector<std::pair<std::string, std::string>> bad = {
      {R"({"dim": 1, "s": 1, "solver": "pde", "pde": {"grid": 7}})", "pde.grid"},
      {R"({"dim": 1, "s": 1, "solver": "pde", "pde": {"cfl": 2}})", "pde.cfl"},
      {R"({"dim": 1, "s": 1, "solver": "pde", "time": {"integrator": "rk4"}})", "time.integrator"},
      {R"({"dim": 1, "s": 1, "solver": "pde", "target": {"type": "samples", "path": "samples.csv"}})", "target.type"},
      {R"({"dim": 1, "s": 1, "solver": "pde", "pde": {"grid": 16},
          "initial": {"type": "wrapped_gaussians", "components": [{"center": [0.5], "sigma": 0.01}]}})", "pde.grid"},
  };
  file("samples.csv", "x\n0.1\n0.5\n");
  for (const auto& [config, key] : bad) {
    file("bad.json", config);
    const auto b = kmdflow("run bad.json --out bad");
    EXPECT_EQ(b.code, 2) << config;
    EXPECT_NE(b.err.find(key), std::string::npos) << b.err;
    EXPECT_EQ(std::count(b.err.begin(), b.err.end(), '\n'), 1) << b.err;
    EXPECT_FALSE(fs::exists(m_dir / "bad"));
  }
}

// `study scaling`: scaling.csv with the contract's columns; quantile points in d = 1, s = 1 sit at
// the H^{-1} distance of equally spaced points, 1/(√12 N), at every time (the flow is a
// rearrangement there), iid ones near N^{-1/2}.
TEST_F(Cli, StudyScaling) {
  file("scaling.json", R"({"dim": 1, "s": 1, "pde": {"grid": 512},
    "initial": {"type": "fourier", "modes": [{"k": 1, "amplitude": 0.5}], "sampling": "quantile"},
    "time": {"t_end": 1, "dt": 0.01}, "output": {"plots": false, "snapshot_every": 0.5}})");
  const auto r = kmdflow("study scaling scaling.json --counts 50,400 --out study");
  ASSERT_EQ(r.code, 0) << r.err;
  std::ifstream csv(m_dir / "study" / "scaling.csv");
  std::string line;
  std::getline(csv, line);
  EXPECT_EQ(line, "N,t,distance,energy_particles,energy_pde,wall_s,seed");
  int rows = 0;
  while (std::getline(csv, line)) {
    std::stringstream ss(line);
    std::vector<double> v;
    for (std::string f; std::getline(ss, f, ',');) v.push_back(std::stod(f));
    ASSERT_EQ(v.size(), 7u);
    EXPECT_NEAR(v[2], 1 / (std::sqrt(12.0) * v[0]), 2e-3 / (std::sqrt(12.0) * v[0])) << line;
    EXPECT_GE(v[3], v[4] * (1 - 1e-3)) << "the particle energy lies above the PDE's: " << line;
    ++rows;
  }
  EXPECT_EQ(rows, 6);
  const auto study = json::parse(slurp(m_dir / "study" / "study.json"));
  EXPECT_EQ(study["sigma"], 1.0);
  EXPECT_EQ(study["energy_particles"], "full");
  EXPECT_EQ(study["predicted_slope_t0"], -1.0); // N^{-σ/d} for quantile points
  EXPECT_EQ(study["seeds"], 1);
  EXPECT_TRUE(fs::exists(m_dir / "study" / "pde" / "trajectory.h5"));
  EXPECT_TRUE(fs::exists(m_dir / "study" / "particles-400" / "series.csv"));
  const auto missing = kmdflow("study scaling scaling.json --counts 0 --out other");
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.err.find("--counts"), std::string::npos) << missing.err;
  EXPECT_FALSE(fs::exists(m_dir / "other"));
  const auto no_seeds = kmdflow("study scaling scaling.json --counts 50 --seeds 0 --out other");
  EXPECT_EQ(no_seeds.code, 2);
  EXPECT_NE(no_seeds.err.find("--seeds"), std::string::npos) << no_seeds.err;
  EXPECT_FALSE(fs::exists(m_dir / "other"));
}

// `study scaling --seeds K` with iid points: K runs per N with consecutive seeds, their rows in
// scaling.csv, and the plot's record of the mean and standard deviation over seeds at each N with
// the iid sampling's predicted slope −1/2. At t = 0 the expected squared distance of N iid points
// in Ḣ^{-1} is (1/N) Σ_{k≠0} (1 − |ρ̂(k)|²)/(2πk)² (for ρ = 1 + 0.5 cos 2πx: (1/N)(1/12 − 0.125/(4π²))).
TEST_F(Cli, StudyScalingSeeds) {
  file("scaling.json", R"({"dim": 1, "s": 1, "pde": {"grid": 256}, "particles": {"seed": 7},
    "initial": {"type": "fourier", "modes": [{"k": 1, "amplitude": 0.5}], "sampling": "iid"},
    "time": {"t_end": 0.2, "dt": 0.01}, "output": {"snapshot_every": 0.1}})");
  const int seeds = 8;
  const auto r = kmdflow("study scaling scaling.json --counts 100,400 --seeds 8 --out study");
  ASSERT_EQ(r.code, 0) << r.err;
  for (int k = 1; k < seeds; ++k) EXPECT_TRUE(fs::exists(m_dir / "study" / ("particles-400-seed" + std::to_string(k))));
  std::ifstream csv(m_dir / "study" / "scaling.csv");
  std::string line;
  std::getline(csv, line);
  std::map<std::pair<long, long>, int> runs; // (N, seed) → rows
  std::map<long, std::vector<double>> initial; // N → distances at t = 0
  while (std::getline(csv, line)) {
    std::stringstream ss(line);
    std::vector<double> v;
    for (std::string f; std::getline(ss, f, ',');) v.push_back(std::stod(f));
    ASSERT_EQ(v.size(), 7u);
    ++runs[{long(v[0]), long(v[6])}];
    if (v[1] == 0) initial[long(v[0])].push_back(v[2]);
  }
  EXPECT_EQ(runs.size(), 2u * seeds);
  for (const auto& [key, rows] : runs) EXPECT_EQ(rows, 3) << key.first << " seed " << key.second;
  EXPECT_EQ(runs.begin()->first.second, 7); // the config's seed first
  const auto plots = json::parse(slurp(m_dir / "study" / "plots.json"));
  const json& distance = plots["distance.png"];
  EXPECT_EQ(distance["predicted_slope_t0"], -0.5);
  EXPECT_EQ(distance["seeds"], seeds);
  const json& first = distance["curves"][0];
  ASSERT_EQ(first["t"], 0.0);
  const double expected_sq = 1.0 / 12 - 0.125 / (4 * M_PI * M_PI);
  for (int i = 0; i < 2; ++i) {
    const long n = first["N"][i];
    const auto& d = initial[n];
    ASSERT_EQ(d.size(), std::size_t(seeds));
    double mean = 0, sq = 0;
    for (double x : d) mean += x / seeds, sq += x * x / seeds;
    EXPECT_NEAR(first["mean"][i].get<double>(), mean, 1e-12 * mean);
    double var = 0;
    for (double x : d) var += (x - mean) * (x - mean) / (seeds - 1);
    EXPECT_NEAR(first["sd"][i].get<double>(), std::sqrt(var), 1e-9 * mean);
    // E[distance²] = expected_sq / N. Each squared distance is a weighted sum of independent
    // χ²₂ modes, 61% of it in k = ±1, so nearly exponential: the mean of 8 has a relative spread
    // of about 0.35 and lies in [0.3, 3] times its expectation but for odds below 1e-3.
    EXPECT_GT(sq * n / expected_sq, 0.3) << n;
    EXPECT_LT(sq * n / expected_sq, 3.0) << n;
  }
}

// model "relu": the run directory (loss in series.csv, directions and time-dependent masses in
// the H5MD file, teacher.csv), eval on a neuron file (the teacher itself: zero loss, stationary),
// and its bad input.
TEST_F(Cli, ReluRunAndEval) {
  file("relu.json", R"({"model": "relu", "dim": 1, "particles": {"count": 32, "seed": 3},
    "relu": {"teacher": {"count": 3, "seed": 4}},
    "time": {"t_end": 50, "dt": 0.5}, "output": {"plots": false, "snapshot_every": 10}})");
  const auto r = kmdflow("run relu.json --out relu");
  ASSERT_EQ(r.code, 0) << r.err;
  std::ifstream series(m_dir / "relu" / "series.csv");
  std::string line;
  std::getline(series, line);
  EXPECT_EQ(line, "step,t,energy,interaction_energy,dissipation,max_speed,wall_s");
  double previous = 1e300, first = -1;
  while (std::getline(series, line)) {
    const double loss = std::stod(line.substr(line.find(',', line.find(',') + 1) + 1));
    if (first < 0) first = loss;
    EXPECT_LE(loss, previous * (1 + 1e-12));
    previous = loss;
  }
  EXPECT_LT(previous, 0.5 * first);
  const auto frame = kmdflow::read_h5md_last_frame((m_dir / "relu" / "trajectory.h5").string());
  ASSERT_EQ(frame.positions.extent(1), 2u);
  ASSERT_EQ(frame.masses.extent(0), 32u);
  for (std::size_t i = 0; i < 32; ++i) {
    EXPECT_NEAR(std::hypot(frame.positions(i, 0), frame.positions(i, 1)), 1.0, 1e-12);
    EXPECT_GE(frame.masses(i), 0.0);
  }
  // The teacher as the student: zero loss, zero velocities.
  const auto e = kmdflow("eval relu.json --positions relu/teacher.csv --out v.csv");
  ASSERT_EQ(e.code, 0) << e.err;
  EXPECT_NEAR(json::parse(e.out)["energy"].get<double>(), 0.0, 1e-14);
  std::ifstream v(m_dir / "v.csv");
  std::getline(v, line);
  EXPECT_EQ(line, "v0,v1,dm");
  while (std::getline(v, line)) {
    std::stringstream ss(line);
    for (std::string f; std::getline(ss, f, ',');) EXPECT_NEAR(std::stod(f), 0.0, 1e-13) << line;
  }
  const std::vector<std::pair<std::string, std::string>> bad = {
      {R"({"model": "relu", "dim": 2, "s": 1})", "s:"},
      {R"({"model": "relu", "dim": 16})", "dim"},
      {R"({"model": "relu", "dim": 2, "relu": {"signed": true}})", "relu.signed"},
      {R"({"model": "relu", "dim": 2, "relu": {"teacher": {"path": "bad.csv"}}})", "relu.teacher.path"},
      {R"({"model": "relu", "dim": 2, "target": {"type": "uniform"}})", "target"},
      {R"({"model": "relu", "dim": 2, "relu": {"form": "sgd"}})", "relu.form"},
  };
  file("bad.csv", "x,y,m\n1,0,1\n");
  for (const auto& [config, key] : bad) {
    file("badrelu.json", config);
    const auto b = kmdflow("run badrelu.json --out bad");
    EXPECT_EQ(b.code, 2) << config << "\n" << b.err;
    EXPECT_NE(b.err.find(key), std::string::npos) << b.err;
    EXPECT_EQ(std::count(b.err.begin(), b.err.end(), '\n'), 1) << b.err;
    EXPECT_FALSE(fs::exists(m_dir / "bad"));
  }
}

// `study rates --quick` (issue 7, all five families): the table files, the s = 1 rate towards
// uniform (2, PDE and particles) and the s = 2, r = 1 energy exponent (s+r)/(s−1) = 3, within 5%.
TEST_F(Cli, StudyRatesQuick) {
  const auto r = kmdflow("study rates --quick --out rates");
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  ASSERT_TRUE(fs::exists(m_dir / "rates" / "rates.md"));
  std::ifstream csv(m_dir / "rates" / "rates.csv");
  std::string line;
  std::getline(csv, line);
  EXPECT_EQ(line, "case,solver,d,s,r,sigma,quantity,measured,predicted,rel_diff");
  int checked = 0;
  while (std::getline(csv, line)) {
    const bool rate = line.rfind("1:uniform:near,", 0) == 0 && line.find("exponential rate") != std::string::npos;
    const bool exponent = line.rfind("2:s2:r1,pde,", 0) == 0 && line.find("energy exponent") != std::string::npos;
    if (!rate && !exponent) continue;
    // The last three fields: measured, predicted, rel_diff.
    std::vector<std::string> fields;
    std::stringstream ss(line);
    for (std::string f; std::getline(ss, f, ',');) fields.push_back(f);
    const double measured = std::stod(fields[fields.size() - 3]), predicted = std::stod(fields[fields.size() - 2]);
    EXPECT_NEAR(measured, predicted, 0.05 * predicted) << line;
    EXPECT_DOUBLE_EQ(predicted, rate ? 2.0 : 3.0) << line;
    ++checked;
  }
  EXPECT_EQ(checked, 3); // PDE and particles at s = 1, the PDE at s = 2
  // The family plots draw each fitted case's window and the theory's value from the same table.
  const auto plots = json::parse(slurp(m_dir / "rates" / "plots.json"));
  const json& family2 = plots["rates_family2.png"];
  EXPECT_EQ(family2["axes"], "log-log");
  bool found = false;
  for (const auto& fit : family2["fits"])
    if (fit["run"] == "f2_s2_r1") {
      found = true;
      EXPECT_EQ(fit["predicted"].get<double>(), 3.0);
      EXPECT_NEAR(fit["measured"].get<double>(), 3.0, 0.15);
      EXPECT_LT(fit["window"][0].get<double>(), fit["window"][1].get<double>());
    }
  EXPECT_TRUE(found) << family2.dump();
  for (const auto& fit : plots["rates_family1.png"]["fits"])
    if (fit["run"] == "f1_uniform_near") {
      EXPECT_EQ(fit["predicted"].get<double>(), 2.0);
    }
}

// The `kernel` block (DESIGN.md §7): bad input names the key; each family runs and evaluates.
TEST_F(Cli, KernelBlock) {
  struct Case {
    std::string config, expect;
  };
  const std::vector<Case> bad = {
      {R"({"dim": 1, "kernel": {"type": "laplace"}})", "kernel.type"},
      {R"({"dim": 1, "kernel": {"type": "gaussian"}})", "kernel.sigma"},
      {R"({"dim": 1, "kernel": {"type": "gaussian", "sigma": 1e-4}})", "kernel.sigma"},
      {R"({"dim": 1, "kernel": {"type": "gaussian", "sigma": 0.1, "s": 1}})", "kernel.s"},
      {R"({"dim": 1, "s": 1, "kernel": {"type": "gaussian", "sigma": 0.1}})", "s:"},
      {R"({"dim": 1, "s": 1, "kernel": {"type": "bessel", "s": 1, "lambda": 2}})", "s:"},
      {R"({"dim": 2, "kernel": {"type": "bessel", "s": 1}})", "kernel.lambda"},
      {R"({"dim": 2, "kernel": {"type": "bessel", "s": 1, "lambda": -1}})", "kernel.lambda"},
      {R"({"dim": 2, "kernel": {"type": "bessel", "s": 1, "lambda": 50}})", "kernel.lambda"},
      {R"({"dim": 2, "kernel": {"type": "bessel", "s": 0, "lambda": 1}})", "kernel.s"},
      {R"({"dim": 2, "kernel": {"type": "bessel", "s": 1.0000001, "lambda": 1}})", "kernel"},
      {R"({"dim": 1, "kernel": {"type": "bessel", "s": 0.5, "lambda": 1}, "target": {"type": "samples", "path": "samples.csv"}})",
       "kernel.s"},
      {R"({"dim": 1, "kernel": {"type": "gaussian", "sigma": 0.1}, "forces": {"method": "sorted"}})", "forces.method"},
      {R"({"dim": 3, "kernel": {"type": "gaussian", "sigma": 0.001}, "forces": {"method": "spectral"}, "particles": {"count": 1000}})",
       "forces.method"},
      {R"({"model": "relu", "kernel": {"type": "gaussian", "sigma": 0.1}})", "kernel"},
  };
  file("samples.csv", "x\n0.1\n0.5\n");
  for (const auto& c : bad) {
    file("bad.json", c.config);
    const auto r = kmdflow("run bad.json --out run");
    EXPECT_EQ(r.code, 2) << c.config << "\n" << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(r.err.rfind("error: " + c.expect, 0), 0u) << "expected 'error: " << c.expect << "' in: " << r.err;
    EXPECT_FALSE(fs::exists(m_dir / "run")) << c.config;
  }
  // The Bessel potential takes the top-level s as its order; --set KEY=null removes a key.
  file("order.json", R"({"dim": 1, "s": 1.5, "kernel": {"type": "bessel", "lambda": 3}, "particles": {"count": 50},
    "time": {"t_end": 0.1}, "output": {"plots": false}})");
  ASSERT_EQ(kmdflow("run order.json --out order").code, 0);
  const auto order = json::parse(slurp(m_dir / "order" / "config.json"));
  EXPECT_EQ(order["kernel"], json::parse(R"({"type": "bessel", "s": 1.5, "lambda": 3})"));
  EXPECT_FALSE(order.contains("s"));
  EXPECT_EQ(kmdflow("run order.json --out unset --set kernel.type=gaussian --set kernel.sigma=0.1 --set s=null "
                    "--set kernel.lambda=null").code, 0);
  // Each family through `run` and `eval`: the resolved block is recorded, the energy is finite
  // (k(0) is, for these parameters) and decreases.
  file("points.csv", "x,y\n0.1,0.2\n0.4,0.45\n0.8,0.7\n");
  for (const std::string kernel : {R"({"type": "gaussian", "sigma": 0.1})", R"({"type": "bessel", "s": 1.5, "lambda": 2})"}) {
    file("k.json", R"({"dim": 2, "kernel": )" + kernel + R"(, "particles": {"count": 100, "seed": 2},
      "initial": {"type": "wrapped_gaussians", "components": [{"center": [0.3, 0.3], "sigma": 0.1}]},
      "time": {"t_end": 0.5, "dt": 0.05}, "output": {"plots": false}})");
    const auto r = kmdflow("run k.json --out k --force");
    ASSERT_EQ(r.code, 0) << r.err;
    const auto config = json::parse(slurp(m_dir / "k" / "config.json"));
    EXPECT_EQ(config["kernel"], json::parse(kernel));
    EXPECT_FALSE(config.contains("s"));
    const auto summary = json::parse(slurp(m_dir / "k" / "summary.json"));
    EXPECT_LT(summary["final"]["energy"].get<double>(), summary["initial"]["energy"].get<double>()) << kernel;
    const auto e = kmdflow("eval k.json --positions points.csv --out v.csv");
    ASSERT_EQ(e.code, 0) << e.err;
    EXPECT_GT(json::parse(e.out)["energy"].get<double>(), 0) << kernel;
  }
}
