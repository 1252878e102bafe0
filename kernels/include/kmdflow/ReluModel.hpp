#pragma once
// Two-layer ReLU networks on their population loss (DESIGN.md §2, §4): for inputs x uniform on
// S^d ⊂ R^{d+1}, E_x[σ(u·x) σ(v·x)] = k(u, v) = ‖u‖‖v‖ J(cos∠(u, v)) / (2π(d+1)),
// J(c) = √(1 − c²) + (π − arccos c) c, so the loss of f = (1/N) Σ a_i σ(w_i·x) against a teacher
// f* = (1/M) Σ b_m σ(v_m·x) is, with no sampling of data,
//   L = ½ [ (1/N²) Σ_ij a_i a_j k(w_i, w_j) − (2/NM) Σ_im a_i b_m k(w_i, v_m) + (1/M²) Σ_mn b_m b_n k(v_m, v_n) ].
// With V(w) = (1/N) Σ_j a_j k(w, w_j) − (1/M) Σ_m b_m k(w, v_m) (the first variation):
//   parameters form (time scaled by N):  a_i' = −V(w_i),  w_i' = −a_i ∇V(w_i);
//   WFR form, θ_i ∈ S^d, μ = (1/N) Σ m_i δ_{θ_i}:  θ_i' = −∇_S V(θ_i),  m_i' = −2 m_i V(θ_i).
// k is positively homogeneous of degree 1 in each argument, so a teacher neuron (v, b) is the
// atom (v/‖v‖, b‖v‖) of the target measure in either form, and with a_i = ‖w_i‖ the forms coincide
// (m_i = a_i‖w_i‖, θ_i = w_i/‖w_i‖).
//
// State of N neurons: a view N × (d+2); columns 0 … d hold w_i (or θ_i), column d+1 holds a_i (or
// m_i). Pair sums are O(N² + NM) Kokkos kernels; ∇_u k = [√(1−c²) ‖v‖ u/‖u‖ + (π − arccos c) v]/(2π(d+1)).

#include <kmdflow/Types.hpp>

#include <string>

namespace kmdflow {

/// J(c) = √(1 − c²) + (π − arccos c) c, c clamped to [−1, 1].
KOKKOS_INLINE_FUNCTION double relu_j(double c);

/// arccos to double precision, branch free (fdlibm's rational approximation of asin): the pair
/// kernels' hot path, which vectorises where the library's acos does not.
KOKKOS_INLINE_FUNCTION double fast_acos(double c) {
  constexpr double pS0 = 1.66666666666666657415e-01, pS1 = -3.25565818622400915405e-01,
                   pS2 = 2.01212532134862925881e-01, pS3 = -4.00555345006794114027e-02,
                   pS4 = 7.91534994289814532176e-04, pS5 = 3.47933107596021167570e-05,
                   qS1 = -2.40339491173441421878e+00, qS2 = 2.02094576023350569471e+00,
                   qS3 = -6.88283971605453293030e-01, qS4 = 7.70381505559019352791e-02;
  constexpr double pi = 3.14159265358979323846;
  const double ax = Kokkos::fabs(c);
  const bool small = ax <= 0.5;
  const double z = small ? ax * ax : 0.5 * (1 - ax);
  const double s = small ? ax : Kokkos::sqrt(z);
  const double p = z * (pS0 + z * (pS1 + z * (pS2 + z * (pS3 + z * (pS4 + z * pS5)))));
  const double q = 1 + z * (qS1 + z * (qS2 + z * (qS3 + z * qS4)));
  const double asin_s = s + s * (p / q);
  const double acos_ax = small ? 0.5 * pi - asin_s : 2 * asin_s; // arccos |c|
  return c >= 0 ? acos_ax : pi - acos_ax;
}

KOKKOS_INLINE_FUNCTION double relu_j(double c) {
  c = c > 1 ? 1 : (c < -1 ? -1 : c);
  return Kokkos::sqrt(1 - c * c) + (3.14159265358979323846 - fast_acos(c)) * c;
}

enum class ReluForm { parameters, wfr };
ReluForm parse_relu_form(const std::string& name); ///< "parameters" | "wfr"

/// What a run reports.
struct ReluDiagnostics {
  double loss = 0;
  double dissipation = 0; ///< −dL/dt: (1/N) Σ (V² + a²|∇V|²), or (1/N) Σ m (2V² + |∇_S V|²)
  double max_speed = 0;   ///< max over neurons of |w'| (or |θ'|)
  double mass = 0;        ///< (1/N) Σ a‖w‖ (or (1/N) Σ m)
};

class ReluModel {
public:
  /// d: the sphere S^d (inputs in R^{d+1}); teacher: M × (d+1) neurons v_m with output weights b_m.
  ReluModel(int d, ReluForm form, const PointView<Kokkos::HostSpace>& teacher,
            const ScalarView<Kokkos::HostSpace>& teacher_weights);

  int dim() const { return m_d; }
  ReluForm form() const { return m_form; }
  std::size_t teacher_count() const { return m_teacher.extent(0); }

  /// The state's time derivative (same shape, N × (d+2)).
  void velocity(const ConstPointView<>& state, const PointView<>& v);
  /// V(w_i) and ∇V(w_i) (∇_S V(θ_i) in the WFR form) for every neuron.
  void first_variation(const ConstPointView<>& state, const ScalarView<>& V, const PointView<>& grad);
  double loss(const ConstPointView<>& state);
  ReluDiagnostics diagnostics(const ConstPointView<>& state);
  /// After a step: WFR directions back onto the sphere, masses ≥ 0 (round-off of the integrator).
  void project(const PointView<>& state) const;
  /// ½ (1/M²) Σ b_m b_n k(v_m, v_n): the loss of the zero network.
  double teacher_loss() const { return m_teacher_loss; }

private:

  int m_d;
  ReluForm m_form;
  PointView<> m_teacher;      // M × (d+1)
  ScalarView<> m_teacher_weights;
  double m_teacher_loss = 0;
  ScalarView<> m_V, m_self;
  PointView<> m_grad;
};

/// Quasi-uniform points on S^d: equally spaced (d = 1), a Fibonacci lattice (d = 2), otherwise
/// iid uniform from the seed. Host, n × (d+1).
PointView<Kokkos::HostSpace> sphere_points(int d, std::size_t n, bool quasi_uniform, std::uint64_t seed);

} // namespace kmdflow
