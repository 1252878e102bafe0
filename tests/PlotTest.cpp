// kmdflow plot draws what summary.json fits and what DESIGN.md §2 predicts, and nothing else: the
// figures' records in plots.json (fitted value and window, the theory's value, the quantity, the
// frames shown) are checked against summary.json and against the theory computed here.

#include "CliFixture.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <numbers>

namespace fs = std::filesystem;
using nlohmann::json;
using kmdflow_test::slurp;

namespace {

class Plots : public kmdflow_test::CliFixture {
protected:
  /// Runs CONFIG with its plots and returns {summary.json, plots.json}.
  std::pair<json, json> run_and_plot(const std::string& name, const std::string& config) {
    file(name + ".json", config);
    const auto r = kmdflow("run " + name + ".json --out " + name);
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("energy.png"), std::string::npos) << r.out << r.err;
    return {json::parse(slurp(m_dir / name / "summary.json")), json::parse(slurp(m_dir / name / "plots.json"))};
  }
};

/// The fitted value and window drawn are summary.json's, for the quantity it names.
void expect_same_fit(const json& summary, const json& figure, const std::string& kind) {
  const json& fit = summary["energy_decay"];
  EXPECT_EQ(figure["quantity"], fit["quantity"]);
  ASSERT_TRUE(figure["fit"].is_object()) << figure.dump();
  EXPECT_EQ(figure["fit"]["kind"], kind);
  const std::string key = kind == "power_law" ? "power_law_exponent" : "exponential_rate";
  EXPECT_EQ(figure["fit"]["value"].get<double>(), fit[key].get<double>());
  EXPECT_EQ(figure["fit"]["window"], fit[kind == "power_law" ? "power_law_window" : "exponential_window"]);
}

/// The 1D wrapped normal mixture Σ w_m Σ_n N(x − c_m − n; σ_m), its minimum on a fine grid.
double mixture_minimum(const std::vector<std::array<double, 3>>& components) {
  double lowest = INFINITY;
  for (int i = 0; i <= 100000; ++i) {
    const double x = i / 100000.0;
    double value = 0;
    for (const auto& [w, c, sigma] : components)
      for (int n = -3; n <= 3; ++n)
        value += w * std::exp(-0.5 * std::pow((x - c - n) / sigma, 2)) / (sigma * std::sqrt(2 * std::numbers::pi));
    lowest = std::min(lowest, value);
  }
  return lowest;
}

} // namespace

// s = 1 towards the uniform target: the theory's rate 2 (every mode decays at rate 1), drawn and
// recorded, and the fitted rate within the linear regime's reach of it.
TEST_F(Plots, UniformTargetAtSOneDrawsTheRateTwo) {
  const auto [summary, plots] = run_and_plot("uniform", R"({"dim": 1, "s": 1,
    "initial": {"type": "fourier", "modes": [{"k": 1, "amplitude": 0.3}]}, "particles": {"count": 2000},
    "time": {"t_end": 4, "dt": 0.01, "integrator": "rk4"}})");
  const json& figure = plots["energy.png"];
  expect_same_fit(summary, figure, "exponential");
  EXPECT_EQ(figure["quantity"], "energy");
  EXPECT_EQ(figure["axes"], "semi-log");
  ASSERT_TRUE(figure["theory"].is_object());
  EXPECT_EQ(figure["theory"]["value"].get<double>(), 2.0);
  EXPECT_NEAR(figure["fit"]["value"].get<double>(), 2.0, 0.05);
  EXPECT_EQ(plots["density.png"]["spacing"], "even");
}

// s = 1 towards a mixture: the theory's late-time rate is 2 min ν (DESIGN.md §2), not 2.
TEST_F(Plots, NonUniformTargetAtSOneDrawsTwiceTheMinimum) {
  const auto [summary, plots] = run_and_plot("mixture", R"({"dim": 1, "s": 1,
    "target": {"type": "wrapped_gaussians", "components": [{"weight": 0.6, "center": 0.3, "sigma": 0.1},
                                                           {"weight": 0.4, "center": 0.7, "sigma": 0.15}]},
    "particles": {"count": 1000}, "time": {"t_end": 2, "dt": 0.01, "integrator": "rk4"}})");
  const json& figure = plots["energy.png"];
  expect_same_fit(summary, figure, "exponential");
  const double predicted = 2 * mixture_minimum({{{0.6, 0.3, 0.1}}, {{0.4, 0.7, 0.15}}});
  ASSERT_TRUE(figure["theory"].is_object());
  EXPECT_NEAR(figure["theory"]["value"].get<double>(), predicted, 1e-6 * predicted);
  EXPECT_EQ(summary["energy_decay"]["predicted_rate"].get<double>(), figure["theory"]["value"].get<double>());
  EXPECT_NE(figure["theory"]["source"].get<std::string>().find("late-time"), std::string::npos);
}

// Where 2s ≤ d the energy is infinite: summary and plot both fit the dissipation, and say so.
TEST_F(Plots, InfiniteEnergyFitsTheDissipationInBoth) {
  const auto [summary, plots] = run_and_plot("coulomb", R"({"dim": 2, "s": 1,
    "initial": {"type": "fourier", "modes": [{"k": [1, 0], "amplitude": 0.3}], "sampling": "lattice"},
    "particles": {"count": 1024}, "time": {"t_end": 2, "dt": 0.02, "integrator": "rk4"}})");
  EXPECT_EQ(summary["energy_decay"]["quantity"], "dissipation");
  expect_same_fit(summary, plots["energy.png"], "exponential");
  // The dissipation decays at the energy's rate: 2 near the uniform target.
  EXPECT_NEAR(plots["energy.png"]["fit"]["value"].get<double>(), 2.0, 0.15);
  EXPECT_EQ(plots["energy.png"]["theory"]["value"].get<double>(), 2.0);
}

// s = 2 from a perturbation of regularity r = 1: the exponent (s + r)/(s − 1) = 3 on log-log
// axes, and density frames at log-spaced times by default.
TEST_F(Plots, PowerLawRunsDrawTheExponentAndLogSpacedFrames) {
  const auto [summary, plots] = run_and_plot("s2", R"({"dim": 1, "s": 2,
    "initial": {"type": "perturbed", "r": 1, "modes": 64, "rho_min": 0.9, "sampling": "quantile"},
    "particles": {"count": 1024, "seed": 3}, "time": {"t_end": 2000, "dt": 1, "integrator": "rk45", "rtol": 1e-8}})");
  const json& figure = plots["energy.png"];
  expect_same_fit(summary, figure, "power_law");
  EXPECT_EQ(figure["axes"], "log-log");
  EXPECT_EQ(figure["theory"]["value"].get<double>(), 3.0);
  EXPECT_NEAR(figure["fit"]["value"].get<double>(), 3.0, 0.1);
  const auto frames = plots["density.png"]["frames"].get<std::vector<double>>();
  EXPECT_EQ(plots["density.png"]["spacing"], "log");
  ASSERT_EQ(frames.size(), 6u);
  EXPECT_EQ(frames.front(), 0.0);
  EXPECT_EQ(frames.back(), 2000.0);
  EXPECT_LE(frames[1], 10.0); // the early dynamics are shown, not five frames of the flat tail
  for (std::size_t k = 2; k < frames.size(); ++k) EXPECT_GT(frames[k] / frames[k - 1], 2.5) << k;
}

// No theory line where DESIGN.md §2 gives none: a samples target, s < 1, the Gaussian kernel.
TEST_F(Plots, NoTheoryLineWhereTheTheoryIsSilent) {
  file("samples.csv", "x\n0.1\n0.2\n0.25\n0.6\n0.65\n0.9\n");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"samples", R"({"dim": 1, "s": 1, "target": {"type": "samples", "path": "samples.csv"},
        "particles": {"count": 300}, "time": {"t_end": 1, "dt": 0.01}})"},
      {"fractional", R"({"dim": 1, "s": 0.75, "initial": {"type": "fourier", "modes": [{"k": 1, "amplitude": 0.3}]},
        "particles": {"count": 300}, "time": {"t_end": 1, "dt": 0.01}})"},
      {"gaussian", R"({"dim": 1, "kernel": {"type": "gaussian", "sigma": 0.1},
        "initial": {"type": "fourier", "modes": [{"k": 1, "amplitude": 0.3}]},
        "particles": {"count": 300}, "time": {"t_end": 20, "dt": 0.05}})"},
  };
  for (const auto& [name, config] : cases) {
    const auto [summary, plots] = run_and_plot(name, config);
    EXPECT_TRUE(plots["energy.png"]["theory"].is_null()) << name;
    EXPECT_FALSE(summary["energy_decay"].contains("predicted_rate")) << name;
    EXPECT_FALSE(summary["energy_decay"].contains("predicted_exponent")) << name;
    expect_same_fit(summary, plots["energy.png"], name == "gaussian" ? "power_law" : "exponential");
  }
}
