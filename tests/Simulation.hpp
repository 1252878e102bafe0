#pragma once
// Runs a configuration through the same wiring as `kmdflow run` (without files) and records the
// energies: the tests' window onto whole simulations.

#include <kmdflow/Integrator.hpp>
#include <kmdflow/app/Setup.hpp>

#include <cmath>
#include <complex>
#include <functional>
#include <vector>

namespace kmdflow::test {

struct Record {
  std::vector<double> t, energy, interaction, dissipation;
};

/// Integrates `config` (raw JSON, resolved here) and records energies at the given times;
/// `observe(t, positions, weights)` (host views) is called there too, if given.
using Observer = std::function<void(double, const PointView<Kokkos::HostSpace>&, const ScalarView<Kokkos::HostSpace>&)>;
inline Record simulate(const nlohmann::json& config, const std::vector<double>& times, const Observer& observe = {}) {
  const auto setup = app::make_particle_setup(resolve_config(config, 1));
  auto flow = app::make_flow(setup, setup.weights);
  const auto& c = setup.config;
  const std::size_t n = setup.positions.extent(0);
  const int dim = c["dim"];
  PointView<> x("test::x", n, dim);
  Kokkos::deep_copy(x, setup.positions);
  Integrator integrator(parse_integrator(c["time"]["integrator"]),
                        [&](const ConstPointView<>& y, const PointView<>& v) { flow->velocity(y, v); }, n, dim,
                        c["time"]["rtol"], c["time"]["atol"]);
  Record record;
  double t = 0, dt = c["time"]["dt"];
  for (double target : times) {
    while (t < target) dt = integrator.step(x, t, dt, target).next;
    const auto e = flow->energies(x, integrator.velocity(x));
    record.t.push_back(t);
    record.energy.push_back(e.energy);
    record.interaction.push_back(e.interaction_energy);
    record.dissipation.push_back(e.dissipation);
    if (observe) observe(t, Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x), setup.weights);
  }
  return record;
}

/// μ̂(k) = Σ_i w_i e^{−2πik·x_i}.
inline std::complex<double> fourier_moment(const PointView<Kokkos::HostSpace>& x,
                                           const ScalarView<Kokkos::HostSpace>& w, const std::array<int, 3>& k) {
  std::complex<double> sum = 0;
  for (std::size_t i = 0; i < x.extent(0); ++i) {
    double phase = 0;
    for (std::size_t d = 0; d < x.extent(1); ++d) phase += k[d] * x(i, d);
    sum += w(i) * std::polar(1.0, -2 * M_PI * phase);
  }
  return sum;
}

/// Least-squares slope of y against x.
inline double fitted_slope(const std::vector<double>& x, const std::vector<double>& y) {
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  const double n = double(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) sx += x[i], sy += y[i], sxx += x[i] * x[i], sxy += x[i] * y[i];
  return (n * sxy - sx * sy) / (n * sxx - sx * sx);
}

inline std::vector<double> logspace(double a, double b, int n) {
  std::vector<double> v;
  for (int i = 0; i < n; ++i) v.push_back(a * std::pow(b / a, double(i) / (n - 1)));
  return v;
}

} // namespace kmdflow::test
