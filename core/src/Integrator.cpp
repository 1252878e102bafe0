#include <kmdflow/Integrator.hpp>

#include <Kokkos_Profiling_ScopedRegion.hpp>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace kmdflow {

namespace {

constexpr int max_stages = 7;

struct Tableau {
  int stages;
  double a[max_stages][max_stages];
  double b[max_stages];
  double e[max_stages]; // b − b̂ of the embedded pair (rk45)
};

// Butcher tableaux. SSP-RK3 is written in increment form (c = 0, 1, ½; b = 1/6, 1/6, 2/3), which
// is equivalent to the Shu–Osher convex combinations but never averages wrapped positions.
const Tableau& tableau(IntegratorKind kind) {
  static const Tableau euler{1, {{0}}, {1}, {0}};
  static const Tableau rk4{4,
                           {{0}, {0.5}, {0, 0.5}, {0, 0, 1}},
                           {1.0 / 6, 1.0 / 3, 1.0 / 3, 1.0 / 6},
                           {0}};
  static const Tableau ssprk3{3, {{0}, {1}, {0.25, 0.25}}, {1.0 / 6, 1.0 / 6, 2.0 / 3}, {0}};
  static const Tableau dopri5{
      7,
      {{0},
       {1.0 / 5},
       {3.0 / 40, 9.0 / 40},
       {44.0 / 45, -56.0 / 15, 32.0 / 9},
       {19372.0 / 6561, -25360.0 / 2187, 64448.0 / 6561, -212.0 / 729},
       {9017.0 / 3168, -355.0 / 33, 46732.0 / 5247, 49.0 / 176, -5103.0 / 18656},
       {35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84}},
      {35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84, 0},
      {71.0 / 57600, 0, -71.0 / 16695, 71.0 / 1920, -17253.0 / 339200, 22.0 / 525, -1.0 / 40}};
  switch (kind) {
  case IntegratorKind::euler: return euler;
  case IntegratorKind::rk4: return rk4;
  case IntegratorKind::ssprk3: return ssprk3;
  case IntegratorKind::rk45: return dopri5;
  }
  throw std::logic_error("unknown integrator");
}

// out = x + Σ_{j<count} c_j k_j, wrapped into [0, 1)^d on the torus: a stage's positions, or the
// step's result (out = x).
template <class Stages>
void add_stages(const char* label, const PointView<>& x, const Stages& k, const Kokkos::Array<double, max_stages>& c,
                int count, bool periodic, const PointView<>& out) {
  const int dim = int(x.extent(1));
  Kokkos::parallel_for(
      label, Kokkos::RangePolicy<ExecutionSpace>(0, x.extent(0)), KOKKOS_LAMBDA(std::size_t i) {
        for (int d = 0; d < dim; ++d) {
          double increment = 0;
          for (int j = 0; j < count; ++j) increment += c[j] * k(j, i, d);
          out(i, d) = periodic ? wrap_unit(x(i, d) + increment) : x(i, d) + increment;
        }
      });
}

} // namespace

IntegratorKind parse_integrator(const std::string& name) {
  if (name == "euler") return IntegratorKind::euler;
  if (name == "rk4") return IntegratorKind::rk4;
  if (name == "rk45") return IntegratorKind::rk45;
  if (name == "ssprk3") return IntegratorKind::ssprk3;
  throw std::invalid_argument("unknown integrator '" + name + "'");
}

std::string to_string(IntegratorKind kind) {
  switch (kind) {
  case IntegratorKind::euler: return "euler";
  case IntegratorKind::rk4: return "rk4";
  case IntegratorKind::rk45: return "rk45";
  case IntegratorKind::ssprk3: return "ssprk3";
  }
  return "?";
}

Integrator::Integrator(IntegratorKind kind, Rhs rhs, std::size_t count, int dim, double rtol,
                       double atol)
    : m_kind(kind), m_rhs(std::move(rhs)), m_rtol(rtol), m_atol(atol) {
  allocate(count, dim);
}

void Integrator::allocate(std::size_t count, int dim) {
  const int stages = tableau(m_kind).stages;
  m_stages = decltype(m_stages)(
      Kokkos::view_alloc(Kokkos::WithoutInitializing, std::string("kmdflow::integrator::stages")),
      stages, count, dim);
  m_stage_positions = PointView<>(Kokkos::view_alloc(Kokkos::WithoutInitializing,
                                                     std::string("kmdflow::integrator::stage_x")),
                                  count, dim);
  m_velocity = PointView<>(Kokkos::view_alloc(Kokkos::WithoutInitializing,
                                              std::string("kmdflow::integrator::velocity")),
                           count, dim);
}

void Integrator::resize(std::size_t count, const std::vector<double>* velocity) {
  if (count != m_velocity.extent(0)) {
    const int dim = int(m_velocity.extent(1));
    // The old buffers go before the new ones come.
    m_stages = decltype(m_stages)();
    m_stage_positions = m_velocity = PointView<>();
    allocate(count, dim);
  }
  restore(counters(), velocity);
}

void Integrator::evaluate(const ConstPointView<>& x, int stage) {
  Kokkos::Profiling::ScopedRegion region("kmdflow::integrator::evaluate");
  m_rhs(x, Kokkos::subview(m_stages, stage, Kokkos::ALL, Kokkos::ALL));
  ++m_evaluations;
}

// stage_x = wrap(x + h Σ_{j<stage} a[stage][j] k_j)
void Integrator::form_stage(const PointView<>& x, double h, int stage) {
  const Tableau& t = tableau(m_kind);
  Kokkos::Array<double, max_stages> a{};
  for (int j = 0; j < stage; ++j) a[j] = h * t.a[stage][j];
  add_stages("kmdflow::integrator::stage", x, m_stages, a, stage, m_periodic, m_stage_positions);
}

Integrator::Step Integrator::step(const PointView<>& x, double& t, double dt, double t_stop) {
  if (!(dt > 0)) throw std::invalid_argument("Integrator::step: dt must be > 0");
  Kokkos::Profiling::ScopedRegion region("kmdflow::integrator::step");
  const Tableau& tab = tableau(m_kind);
  const auto k = m_stages;
  const int dim = int(x.extent(1));
  const std::size_t n = x.extent(0);
  double h = std::min(dt, t_stop - t);
  // A step that would leave a sliver before t_stop is stretched to reach it.
  if (t + h * (1 + 1e-10) >= t_stop) h = t_stop - t;
  bool shortened = h < dt; // to land on t_stop: not a reason to shrink the next step
  for (;;) {
    if (m_velocity_valid) Kokkos::deep_copy(Kokkos::subview(k, 0, Kokkos::ALL, Kokkos::ALL), m_velocity);
    else evaluate(x, 0);
    for (int stage = 1; stage < tab.stages; ++stage) {
      form_stage(x, h, stage);
      evaluate(m_stage_positions, stage);
    }
    // The increment h Σ b_j k_j and, for rk45, the error estimate h Σ e_j k_j.
    Kokkos::Array<double, max_stages> b{}, e{};
    for (int j = 0; j < tab.stages; ++j) b[j] = h * tab.b[j], e[j] = h * tab.e[j];
    const int stages = tab.stages;
    const bool periodic = m_periodic;
    if (!adaptive()) {
      add_stages("kmdflow::integrator::update", x, k, b, stages, periodic, x);
      t = (h == t_stop - t) ? t_stop : t + h;
      m_velocity_valid = false;
      ++m_accepted;
      return {h, dt};
    }
    // Dormand–Prince: the 7th stage is already f(x_new) (first same as last).
    double error2 = 0, displacement2 = 0;
    Kokkos::parallel_reduce(
        "kmdflow::integrator::error", Kokkos::RangePolicy<ExecutionSpace>(0, n),
        KOKKOS_LAMBDA(std::size_t i, double& err, double& disp) {
          for (int d = 0; d < dim; ++d) {
            double increment = 0, error = 0;
            for (int j = 0; j < stages; ++j) {
              increment += b[j] * k(j, i, d);
              error += e[j] * k(j, i, d);
            }
            err += error * error;
            disp += increment * increment;
          }
        },
        error2, displacement2);
    // The RMS over the whole state: with a sum across processes, over every block.
    double sums[3] = {error2, displacement2, double(n * dim)};
    if (m_sum) m_sum(sums, 3);
    const double scale = sums[2];
    const double error = std::sqrt(sums[0] / scale) / (m_atol + m_rtol * std::sqrt(sums[1] / scale));
    if (!std::isfinite(error)) throw std::runtime_error("rk45: the error estimate is not finite");
    const double factor = std::clamp(0.9 * std::pow(std::max(error, 1e-10), -0.2), 0.2, 5.0);
    if (error <= 1) {
      // Accept: the last stage was evaluated at wrap(x + h Σ a_7j k_j) = x_new.
      Kokkos::deep_copy(x, m_stage_positions);
      Kokkos::deep_copy(m_velocity, Kokkos::subview(k, stages - 1, Kokkos::ALL, Kokkos::ALL));
      m_velocity_valid = true;
      t = (h == t_stop - t) ? t_stop : t + h;
      ++m_accepted;
      return {h, shortened ? std::max(dt, h * factor) : h * factor};
    }
    ++m_rejected;
    shortened = false;
    h *= std::max(0.2, factor);
    if (h < 1e-14 * std::max(1.0, std::abs(t)))
      throw std::runtime_error("rk45: the step size fell below 1e-14 (the flow is too stiff or "
                               "singular here)");
    m_velocity_valid = true; // k_0 is still f(x): reuse it
    Kokkos::deep_copy(m_velocity, Kokkos::subview(k, 0, Kokkos::ALL, Kokkos::ALL));
  }
}

void Integrator::restore(const Counters& counters, const std::vector<double>* velocity) {
  m_accepted = counters.accepted, m_rejected = counters.rejected, m_evaluations = counters.evaluations;
  m_velocity_valid = velocity != nullptr;
  if (!velocity) return;
  if (velocity->size() != m_velocity.size())
    throw std::invalid_argument("Integrator::restore: the velocity does not match the state's size");
  auto host = Kokkos::create_mirror_view(m_velocity);
  std::copy(velocity->begin(), velocity->end(), host.data());
  Kokkos::deep_copy(m_velocity, host);
}

const PointView<>& Integrator::velocity(const PointView<>& x) {
  if (!m_velocity_valid) {
    Kokkos::Profiling::ScopedRegion region("kmdflow::integrator::evaluate");
    m_rhs(x, m_velocity);
    ++m_evaluations;
    m_velocity_valid = true;
  }
  return m_velocity;
}

} // namespace kmdflow
