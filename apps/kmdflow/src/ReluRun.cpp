// model "relu": the training dynamics of a wide two-layer ReLU network on its population loss
// (DESIGN.md §2, §4), run and evaluated with the same commands and run directory as the particle
// flows. Neuron files are CSV with the header x0,…,xd,m: directions θ and masses m (the WFR
// picture; in the parameters form a neuron (θ, m) starts as w = √m θ, a = √m, or a = ±√m signed).

#include <kmdflow/AtomicFile.hpp>
#include <kmdflow/H5md.hpp>
#include <kmdflow/NpyFile.hpp>
#include <kmdflow/Integrator.hpp>
#include <kmdflow/ParticleFile.hpp>
#include <kmdflow/ReluModel.hpp>
#include <kmdflow/Sampling.hpp>
#include <kmdflow/app/Commands.hpp>
#include <kmdflow/app/RunSupport.hpp>
#include <kmdflow/app/Setup.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <random>
#include <sstream>

namespace kmdflow::app {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr double pi = 3.14159265358979323846;

/// The values of a neuron file in .npy form: an array of shape (neurons, d + 2), every value finite.
std::vector<double> read_neuron_array(const std::string& path, int d, const std::string& key, std::size_t& rows) {
  NpyArray array;
  try {
    array = read_npy(path);
  } catch (const std::exception& e) {
    throw ConfigError(key, "'" + path + "' " + e.what());
  }
  if (array.shape.size() != 2 || array.shape[1] != std::size_t(d + 2))
    throw ConfigError(key, "'" + path + "' must hold an array of shape (neurons, d + 2 = " + std::to_string(d + 2) +
                               ") (columns x0,…,xd,m)");
  rows = array.shape[0];
  for (std::size_t i = 0; i < array.values.size(); ++i)
    if (!std::isfinite(array.values[i]))
      throw ConfigError(key, "'" + path + "' row " + std::to_string(i / (d + 2) + 1) + ": a value is not a finite number");
  return std::move(array.values);
}

/// A neuron file: header x0,…,xd,m, one neuron per row (or an .npy array of those columns);
/// directions are normalised.
void read_neurons(const std::string& path, int d, const std::string& key, PointView<Kokkos::HostSpace>& directions,
                  ScalarView<Kokkos::HostSpace>& masses, bool allow_negative) {
  require_regular_file(key, path);
  std::vector<double> values;
  std::size_t rows = 0;
  if (is_npy_path(path)) {
    values = read_neuron_array(path, d, key, rows);
  } else {
    std::ifstream in(path);
    if (!in) throw ConfigError(key, "cannot read '" + path + "'");
    std::string line, expected;
    for (int a = 0; a <= d; ++a) expected += "x" + std::to_string(a) + ",";
    expected += "m";
    std::getline(in, line);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line != expected)
      throw ConfigError(key, "'" + path + "' must start with the header " + expected + " (d = " + std::to_string(d) + ")");
    while (std::getline(in, line)) {
      if (line.empty() || line == "\r") continue;
      std::stringstream ss(line);
      std::string field;
      int count = 0;
      while (std::getline(ss, field, ',')) {
        // The whole field a number (std::stod took "1.5abc" for 1.5), NaN and overflow refused.
        if (!field.empty() && field.back() == '\r') field.pop_back();
        double v = 0;
        if (!parse_finite(field, v))
          throw ConfigError(key, "'" + path + "' row " + std::to_string(rows + 1) + ": '" + field +
                                     "' is not a finite number");
        values.push_back(v);
        ++count;
      }
      if (count != d + 2)
        throw ConfigError(key, "'" + path + "' row " + std::to_string(rows + 1) + " has " + std::to_string(count) +
                                   " fields, expected " + std::to_string(d + 2));
      ++rows;
    }
  }
  if (rows == 0) throw ConfigError(key, "'" + path + "' holds no neurons");
  directions = PointView<Kokkos::HostSpace>("kmdflow::relu::directions", rows, d + 1);
  masses = ScalarView<Kokkos::HostSpace>("kmdflow::relu::masses", rows);
  for (std::size_t i = 0; i < rows; ++i) {
    double n2 = 0;
    for (int a = 0; a <= d; ++a) n2 += values[i * (d + 2) + a] * values[i * (d + 2) + a];
    if (!(n2 > 0) || !std::isfinite(n2)) throw ConfigError(key, "'" + path + "' row " + std::to_string(i + 1) + ": a zero or non-finite direction");
    for (int a = 0; a <= d; ++a) directions(i, a) = values[i * (d + 2) + a] / std::sqrt(n2);
    masses(i) = values[i * (d + 2) + d + 1];
    if (!std::isfinite(masses(i)) || (!allow_negative && masses(i) < 0))
      throw ConfigError(key, "'" + path + "' row " + std::to_string(i + 1) + ": the mass must be a finite number >= 0");
  }
}

} // namespace

ReluSetup make_relu_setup(const json& resolved) {
  ReluSetup setup;
  setup.config = setup.resolved = resolved;
  json& c = setup.config;
  const int d = c["dim"];
  const json& r = c["relu"];
  const json& teacher = r["teacher"];
  const std::uint64_t seed = c["particles"]["seed"].get<std::uint64_t>();
  // The teacher: M atoms (directions, masses).
  if (teacher.contains("path")) {
    read_neurons(teacher["path"], d, "relu.teacher.path", setup.teacher, setup.teacher_weights, true);
  } else if (teacher.contains("density")) {
    const std::size_t M = teacher["count"];
    setup.teacher = sphere_points(d, M, true, seed ^ 0x7eac4e7ULL);
    setup.teacher_weights = ScalarView<Kokkos::HostSpace>("kmdflow::relu::teacher_weights", M);
    const json& density = teacher["density"];
    std::vector<double> axis(d + 1, 0.0);
    double a = 0;
    if (density["type"] == "cosine") {
      a = density["amplitude"];
      double n2 = 0;
      for (int k = 0; k <= d; ++k) n2 += std::pow(axis[k] = density["axis"][k].get<double>(), 2);
      for (auto& v : axis) v /= std::sqrt(n2);
    }
    // Quadrature weights of ν̄ = 1 + a θ·e at quasi-uniform atoms, normalised to total mass 1.
    double total = 0;
    for (std::size_t m = 0; m < M; ++m) {
      double dot = 0;
      for (int k = 0; k <= d; ++k) dot += setup.teacher(m, k) * axis[k];
      total += setup.teacher_weights(m) = 1 + a * dot;
    }
    for (std::size_t m = 0; m < M; ++m) setup.teacher_weights(m) *= double(M) / total;
  } else {
    const std::size_t M = teacher["count"];
    setup.teacher = sphere_points(d, M, false, teacher["seed"].get<std::uint64_t>());
    setup.teacher_weights = ScalarView<Kokkos::HostSpace>("kmdflow::relu::teacher_weights", M);
    std::mt19937_64 rng(teacher["seed"].get<std::uint64_t>() ^ 0x3a55e5ULL);
    // Uniform in [0.5, 1.5) from uniform01: portable, as std::uniform_real_distribution is not.
    for (std::size_t m = 0; m < M; ++m) setup.teacher_weights(m) = 0.5 + uniform01(rng);
  }
  // The student, as directions and masses.
  PointView<Kokkos::HostSpace> directions;
  ScalarView<Kokkos::HostSpace> masses;
  if (c["initial"]["type"] == "file") {
    read_neurons(c["initial"]["path"], d, "initial.path", directions, masses, r["signed"].get<bool>());
    // The file's neurons are the run's: a count given besides is replaced (and said so).
    if (c["particles"].contains("count") && c["particles"]["count"].get<std::size_t>() != directions.extent(0))
      std::fprintf(stderr, "kmdflow: particles.count %s replaced by the %zu neurons of '%s'\n",
                   c["particles"]["count"].dump().c_str(), directions.extent(0),
                   c["initial"]["path"].get<std::string>().c_str());
    c["particles"]["count"] = directions.extent(0);
  } else {
    const std::size_t N = c["particles"]["count"];
    // The state N × (d + 2) with its stages, and the model's per-neuron arrays.
    const int stages = c["time"]["integrator"] == "euler" ? 1 : c["time"]["integrator"] == "rk4" ? 4 : 7;
    require_memory("particles.count", 8.0 * double(N) * (d + 2) * (stages + 7), std::to_string(N) + " neurons");
    const std::string sampling = c["initial"]["sampling"];
    directions = sphere_points(d, N, sampling == "lattice" || sampling == "quantile", seed);
    masses = ScalarView<Kokkos::HostSpace>("kmdflow::relu::masses", N);
    Kokkos::deep_copy(masses, r["init_mass"].get<double>());
  }
  const std::size_t N = directions.extent(0);
  const bool wfr = r["form"] == "wfr", signed_weights = r["signed"].get<bool>();
  setup.state = PointView<Kokkos::HostSpace>("kmdflow::relu::state", N, d + 2);
  std::mt19937_64 signs(seed ^ 0x51611edULL);
  for (std::size_t i = 0; i < N; ++i) {
    const double m = masses(i), root = std::sqrt(std::abs(m));
    const double sign = m < 0 ? -1.0 : (signed_weights && c["initial"]["type"] != "file" && (signs() & 1) ? -1.0 : 1.0);
    for (int a = 0; a <= d; ++a) setup.state(i, a) = wfr ? directions(i, a) : root * directions(i, a);
    setup.state(i, d + 1) = wfr ? m : sign * root;
  }
  c["s"] = 0.5 * (d + 3); // the Sobolev correspondence, for the records
  return setup;
}

namespace {

/// θ_i and m_i of a state in either form.
void directions_and_masses(const PointView<Kokkos::HostSpace>& state, bool wfr, PointView<Kokkos::HostSpace>& theta,
                           ScalarView<Kokkos::HostSpace>& mass) {
  const std::size_t N = state.extent(0);
  const int D = int(state.extent(1)) - 1;
  for (std::size_t i = 0; i < N; ++i) {
    double n2 = 0;
    for (int a = 0; a < D; ++a) n2 += state(i, a) * state(i, a);
    const double norm = std::sqrt(n2), inv = norm > 0 ? 1 / norm : 0.0;
    for (int a = 0; a < D; ++a) theta(i, a) = state(i, a) * inv;
    mass(i) = wfr ? state(i, D) : state(i, D) * norm;
  }
}

/// A two-layer ReLU network's neurons under the training dynamics of ReluModel, stepped by a
/// Runge–Kutta integrator; frames hold directions on S^d and masses (the WFR picture).
class ReluRun final : public DiagnosedRun<ReluDiagnostics> {
public:
  explicit ReluRun(const ReluSetup& setup)
      : DiagnosedRun(setup.config, "kmdflow::relu::state", setup.state.extent(0),
                      setup.config["dim"].get<int>() + 2),
        m_setup(setup), m_d(setup.config["dim"]), m_wfr(setup.config["relu"]["form"] == "wfr"),
        m_model(m_d, parse_relu_form(setup.config["relu"]["form"]), setup.teacher, setup.teacher_weights),
        m_theta("kmdflow::relu::theta", m_x.extent(0), m_d + 1), m_mass("kmdflow::relu::mass", m_x.extent(0)) {
    Kokkos::deep_copy(m_x, setup.state);
    m_integrator.set_periodic(false);
  }

  std::string engine() const override { return "relu-direct"; }
  json engine_record() const override { return {{"teacher_loss", m_model.teacher_loss()}}; }
  H5mdParticles trajectory_layout() const override { return H5mdParticles::sphere(m_d + 1, m_x.extent(0)); }

  // The teacher's atoms (θ, mass), for the plots and for re-use as a neuron file.
  void write_static(const fs::path& dir, H5mdWriter&) override {
    const auto& teacher = m_setup.teacher;
    StagedFile csv(dir / "teacher.csv");
    std::string header;
    for (int a = 0; a <= m_d; ++a) header += "x" + std::to_string(a) + ",";
    csv.write_line(header + "m");
    for (std::size_t m = 0; m < teacher.extent(0); ++m) {
      double n2 = 0;
      for (int a = 0; a <= m_d; ++a) n2 += teacher(m, a) * teacher(m, a);
      std::string row;
      for (int a = 0; a <= m_d; ++a) row += number(teacher(m, a) / std::sqrt(n2)) + ",";
      csv.write_line(row + number(m_setup.teacher_weights(m) * std::sqrt(n2)));
    }
    csv.commit();
  }

  void advance(double& t, double t_stop, double tolerance) override {
    IntegratorRun::advance(t, t_stop, tolerance);
    m_model.project(m_x);
    m_integrator.invalidate();
  }

  SeriesRow diagnose() override {
    m_last = m_model.diagnostics(m_x);
    if (!m_first) m_first = m_last;
    if (!std::isfinite(m_last.loss)) throw std::runtime_error("the loss became non-finite");
    return {m_last.loss, m_last.loss, m_last.dissipation, m_last.max_speed};
  }
  void write_frame(H5mdWriter& trajectory, long step, double t) override {
    directions_and_masses(state_on_host(), m_wfr, m_theta, m_mass);
    trajectory.append_frame(step, t, m_theta, m_mass);
  }

  void summarise(json& summary) const override {
    IntegratorRun::summarise(summary);
    summary["neurons"] = m_x.extent(0);
    summary["teacher_neurons"] = m_setup.teacher.extent(0);
    summary["teacher_loss"] = m_model.teacher_loss();
    auto diagnostics_json = [](const ReluDiagnostics& e) {
      return json{{"loss", e.loss}, {"dissipation", e.dissipation}, {"max_speed", e.max_speed}, {"mass", e.mass}};
    };
    if (m_first) {
      summary["initial"] = diagnostics_json(*m_first);
      summary["final"] = diagnostics_json(m_last);
    }
  }
  std::string description() const override {
    return format("relu %s, %zu neurons, teacher %zu, d = %d", m_wfr ? "wfr" : "parameters", m_x.extent(0),
                  m_setup.teacher.extent(0), m_d);
  }
  std::vector<std::string> report() const override {
    if (!m_first) return {};
    return {format("  loss: %.4e -> %.4e (zero network: %.4e)", m_first->loss, m_last.loss, m_model.teacher_loss())};
  }
  // The linear theory's exponent (s + r)/(s − 1) with s = (d+3)/2 needs a teacher density and a
  // near initialisation of known r, so the fit quotes none (energy_decay_fit, model relu).
  std::string decay_key() const override { return "loss_decay"; }

private:
  void velocity(const ConstPointView<>& x, const PointView<>& v) override { m_model.velocity(x, v); }

  const ReluSetup& m_setup;
  int m_d;
  bool m_wfr;
  ReluModel m_model;
  PointView<Kokkos::HostSpace> m_theta;
  ScalarView<Kokkos::HostSpace> m_mass;
};

} // namespace

int run_relu(const ReluSetup& setup, const fs::path& dir, bool quiet, bool force, const ResumeFrom* resume) {
  return run_model<ReluRun>(setup, dir, quiet, force, resume);
}

int eval_relu(const json& resolved, const std::string& positions, const fs::path& out) {
  json config = resolved;
  config["initial"] = {{"type", "file"}, {"path", positions}};
  config["particles"].erase("count");
  // The file is read in the WFR picture: directions and masses (tangential velocity, mass rate).
  config["relu"]["form"] = "wfr";
  config["relu"]["signed"] = false;
  ReluSetup setup;
  try {
    setup = make_relu_setup(config);
  } catch (const ConfigError& e) {
    // The neurons come from --positions here, not from the config's initial.path.
    if (e.key() != "initial.path") throw;
    throw ConfigError("--positions", std::string(e.what()).substr(e.key().size() + 2));
  }
  const int d = resolved["dim"];
  ReluModel model(d, ReluForm::wfr, setup.teacher, setup.teacher_weights);
  const std::size_t N = setup.state.extent(0);
  auto x = Kokkos::create_mirror_view_and_copy(MemorySpace(), setup.state);
  PointView<> v("kmdflow::eval::velocities", N, d + 2);
  model.velocity(x, v);
  const auto e = model.diagnostics(x);
  auto v_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v);
  std::string header;
  for (int a = 0; a <= d; ++a) header += "v" + std::to_string(a) + ",";
  write_table(out.string(), header + "dm", v_host);
  // --out -: the velocities on standard output, the loss on standard error.
  (out == "-" ? std::cerr : std::cout)
      << json{{"energy", e.loss},
              {"interaction_energy", e.loss},
              {"dissipation", e.dissipation},
              {"neurons", N},
              {"engine", "relu-direct"},
              {"engine_parameters", {{"form", "wfr"}, {"teacher_atoms", setup.teacher.extent(0)}}}}
             .dump()
      << std::endl;
  return 0;
}

} // namespace kmdflow::app
