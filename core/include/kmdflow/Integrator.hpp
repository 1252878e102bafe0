#pragma once
// Explicit Runge–Kutta integrators for dx/dt = v(x) on T^d (DESIGN.md §4): Euler, RK4, SSP-RK3
// and the adaptive Dormand–Prince RK45 with error control. Stages are formed from unwrapped
// increments and wrapped back into [0, 1)^d.

#include <kmdflow/Types.hpp>

#include <functional>
#include <string>
#include <vector>

namespace kmdflow {

enum class IntegratorKind { euler, rk4, rk45, ssprk3 };
IntegratorKind parse_integrator(const std::string& name); ///< throws std::invalid_argument
std::string to_string(IntegratorKind kind);

class Integrator {
public:
  /// v = rhs(x): the velocity field.
  using Rhs = std::function<void(const ConstPointView<>&, const PointView<>&)>;

  struct Step {
    double taken = 0; ///< the step actually taken
    double next = 0;  ///< the step to try next
  };

  /// rtol, atol: rk45's tolerance on each step's displacement, ‖error‖ ≤ atol + rtol ‖Δx‖ (RMS
  /// over particles; lengths in units of the torus period).
  Integrator(IntegratorKind kind, Rhs rhs, std::size_t count, int dim, double rtol = 1e-6,
             double atol = 1e-12);

  IntegratorKind kind() const { return m_kind; }
  /// Whether states live on the torus (wrapped into [0, 1) after each stage; the default) or in
  /// R^n (the ReLU model's parameters).
  void set_periodic(bool periodic) { m_periodic = periodic; }
  bool adaptive() const { return m_kind == IntegratorKind::rk45; }

  /// Sums `count` doubles in place across the processes that integrate the blocks of one state
  /// (an MPI reduction giving every process the same sums: Processes.hpp).
  using SumAcross = std::function<void(double* values, std::size_t count)>;
  /// For a state split across processes, each stepping its own block: rk45's error norm is then
  /// the norm over the whole state, so that every process accepts, rejects and sizes its steps
  /// alike. Each must call step() together.
  void set_sum_across(SumAcross sum) { m_sum = std::move(sum); }

  /// Advances x and t by one step of at most min(dt, t_stop − t). Fixed-step methods return the
  /// configured dt as `next`; rk45 retries rejected steps and proposes its next step.
  Step step(const PointView<>& x, double& t, double dt, double t_stop);

  /// v(x) at the current state: from the last step where the method has it (RK45 evaluates it
  /// anyway), else evaluated now. Valid until the next step.
  const PointView<>& velocity(const PointView<>& x);
  /// Tells the integrator that x changed outside step(): the cached velocity is stale.
  void invalidate() { m_velocity_valid = false; }

  /// What a checkpoint keeps to continue bit for bit: the counters, and the velocity at the
  /// current state where the next step would reuse it (rk45's last stage; null otherwise).
  struct Counters {
    long accepted = 0, rejected = 0, evaluations = 0;
  };
  Counters counters() const { return {m_accepted, m_rejected, m_evaluations}; }
  const PointView<>* cached_velocity() const { return m_velocity_valid ? &m_velocity : nullptr; }
  /// Restores counters and (if not null) the cached velocity, host values row major N × dim.
  void restore(const Counters& counters, const std::vector<double>* velocity);
  /// For a state whose block changed (particles moved between processes after a step): buffers
  /// for `count` rows, and the cached velocity of the new rows (host values, row major) where not
  /// null — otherwise none.
  void resize(std::size_t count, const std::vector<double>* velocity);

  long accepted_steps() const { return m_accepted; }
  long rejected_steps() const { return m_rejected; }
  long evaluations() const { return m_evaluations; }

private:
  void allocate(std::size_t count, int dim);
  /// x + h Σ_{j<stage} a_{stage,j} k_j into the stage positions.
  void form_stage(const PointView<>& x, double h, int stage);
  void evaluate(const ConstPointView<>& x, int stage);

  IntegratorKind m_kind;
  Rhs m_rhs;
  SumAcross m_sum;
  double m_rtol, m_atol;
  Kokkos::View<double***, Kokkos::LayoutRight, MemorySpace> m_stages; // k_j(i, d)
  PointView<> m_stage_positions, m_velocity;
  bool m_velocity_valid = false;
  bool m_periodic = true;
  long m_accepted = 0, m_rejected = 0, m_evaluations = 0;
};

} // namespace kmdflow
