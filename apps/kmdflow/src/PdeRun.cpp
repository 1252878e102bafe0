// `kmdflow run` with solver "pde": the mean-field PDE on a grid (DESIGN.md §4), with the same run
// directory as a particle run (DESIGN.md §7): the density frames in /fields/density.

#include <kmdflow/H5md.hpp>
#include <kmdflow/PdeSolver.hpp>
#include <kmdflow/app/Commands.hpp>
#include <kmdflow/app/RunSupport.hpp>
#include <kmdflow/app/Setup.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

namespace kmdflow::app {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

/// The density on an n^d grid under the mean-field PDE's finite-volume scheme.
class PdeRun final : public RunModel {
public:
  explicit PdeRun(const PdeSetup& setup)
      : m_setup(setup), m_dim(setup.config["dim"]), m_dt_max(setup.config["time"]["dt"]),
        m_solver(make_pde_solver(*setup.kernel, setup.grid, setup.initial_cells, setup.target_cells,
                                 setup.config["pde"]["cfl"])),
        m_shape(m_dim, std::size_t(setup.grid)) {}

  std::string engine() const override { return "pde"; }
  json engine_record() const override {
    return {{"engine_parameters",
             {{"grid", m_setup.grid},
              {"scheme", "finite volume, MUSCL (MC limiter), SSP-RK3"},
              {"fft", m_solver->fft_library()}}}};
  }
  H5mdParticles trajectory_layout() const override { return {}; }
  void write_static(const fs::path&, H5mdWriter& trajectory) override {
    trajectory.write_static_field("target_density", m_shape, m_setup.target_cells);
  }

  std::optional<double> target_minimum() const override { return m_setup.target->minimum(); }

  bool lands_on_outputs() const override { return true; }
  void advance(double& t, double t_stop, double tolerance) override {
    const double taken = m_solver->step(std::min(m_dt_max, t_stop - t));
    t = std::abs(t + taken - t_stop) <= tolerance ? t_stop : t + taken;
  }

  SeriesRow diagnose() override {
    m_last = m_solver->diagnostics();
    if (!m_first) m_first = m_last;
    m_lowest = std::min(m_lowest, m_last.minimum);
    if (!std::isfinite(m_last.energy) || !std::isfinite(m_last.dissipation))
      throw std::runtime_error("the energy became non-finite");
    // A density has no diagonal: the full and the interaction energy coincide.
    return {m_last.energy, m_last.energy, m_last.dissipation, m_last.max_speed};
  }
  void write_frame(H5mdWriter& trajectory, long step, double t) override {
    trajectory.append_field_frame("density", m_shape, step, t, m_solver->density());
  }

  void summarise(json& summary) const override {
    summary["stages"] = m_solver->stages();
    summary["grid"] = m_setup.grid;
    auto diagnostics_json = [](const PdeDiagnostics& d) {
      return json{{"energy", d.energy},          {"interaction_energy", d.energy}, {"dissipation", d.dissipation},
                  {"max_speed", d.max_speed},    {"mass", d.mass},                 {"min_density", d.minimum},
                  {"max_density", d.maximum}};
    };
    if (m_first) {
      summary["initial"] = diagnostics_json(*m_first);
      summary["final"] = diagnostics_json(m_last);
      summary["mass_drift"] = m_last.mass - m_first->mass;
      summary["min_density"] = m_lowest;
    }
  }
  std::string description() const override { return format("pde, %d^%d grid", m_setup.grid, m_dim); }
  std::vector<std::string> report() const override {
    if (!m_first) return {};
    return {format("  energy: %.4e -> %.4e, mass drift %.1e", m_first->energy, m_last.energy,
                   m_last.mass - m_first->mass)};
  }

  void save(Checkpoint& checkpoint) override {
    checkpoint.arrays["density"] = m_solver->density();
    checkpoint.arrays["stages"] = {double(m_solver->stages())};
    checkpoint.arrays["first_row"] = row_values(m_first.value());
    checkpoint.arrays["last_row"] = row_values(m_last);
    checkpoint.arrays["lowest_density"] = {m_lowest};
  }
  void restore(const Checkpoint& checkpoint) override {
    m_solver->set_density(checkpoint.array("density", long(m_setup.initial_cells.size())));
    m_solver->set_stages(long(checkpoint.array("stages", 1)[0]));
    m_first = row_from<PdeDiagnostics>(checkpoint, "first_row");
    m_last = row_from<PdeDiagnostics>(checkpoint, "last_row");
    m_lowest = checkpoint.array("lowest_density", 1)[0];
  }

private:
  const PdeSetup& m_setup;
  int m_dim;
  double m_dt_max;
  std::unique_ptr<PdeSolver> m_solver;
  std::vector<std::size_t> m_shape;
  std::optional<PdeDiagnostics> m_first;
  PdeDiagnostics m_last;
  double m_lowest = std::numeric_limits<double>::infinity(); ///< over the rows
};

} // namespace

int run_pde(const PdeSetup& setup, const fs::path& dir, bool quiet, bool force, const ResumeFrom* resume) {
  return run_model<PdeRun>(setup, dir, quiet, force, resume);
}

} // namespace kmdflow::app
