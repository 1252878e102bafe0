#include <kmdflow/ReluModel.hpp>
#include <kmdflow/Sampling.hpp>

#include <Kokkos_Profiling_ScopedRegion.hpp>

#include <cmath>
#include <random>
#include <stdexcept>

namespace kmdflow {

namespace {
constexpr double pi = 3.14159265358979323846;
constexpr int max_components = 16; // d ≤ 15
} // namespace

ReluForm parse_relu_form(const std::string& name) {
  if (name == "parameters") return ReluForm::parameters;
  if (name == "wfr") return ReluForm::wfr;
  throw std::invalid_argument("unknown ReLU form '" + name + "' (parameters, wfr)");
}

ReluModel::ReluModel(int d, ReluForm form, const PointView<Kokkos::HostSpace>& teacher,
                     const ScalarView<Kokkos::HostSpace>& teacher_weights)
    : m_d(d), m_form(form) {
  if (d < 1 || d + 1 > max_components) throw std::invalid_argument("ReluModel: d must be in 1 … 15");
  if (int(teacher.extent(1)) != d + 1 || teacher_weights.extent(0) != teacher.extent(0))
    throw std::invalid_argument("ReluModel: the teacher needs M × (d+1) neurons and M weights");
  m_teacher = PointView<>("kmdflow::relu::teacher", teacher.extent(0), d + 1);
  m_teacher_weights = ScalarView<>("kmdflow::relu::teacher_weights", teacher.extent(0));
  Kokkos::deep_copy(m_teacher, teacher);
  Kokkos::deep_copy(m_teacher_weights, teacher_weights);
  // ½ (1/M²) Σ b_m b_n k(v_m, v_n), on the host (M is small).
  const std::size_t M = teacher.extent(0);
  const double C = 1 / (2 * pi * (d + 1));
  double sum = 0;
  for (std::size_t m = 0; m < M; ++m)
    for (std::size_t n = 0; n < M; ++n) {
      double dot = 0, nm = 0, nn = 0;
      for (int a = 0; a <= d; ++a) {
        dot += teacher(m, a) * teacher(n, a);
        nm += teacher(m, a) * teacher(m, a);
        nn += teacher(n, a) * teacher(n, a);
      }
      nm = std::sqrt(nm), nn = std::sqrt(nn);
      if (nm > 0 && nn > 0) sum += teacher_weights(m) * teacher_weights(n) * C * nm * nn * relu_j(dot / (nm * nn));
    }
  m_teacher_loss = M ? 0.5 * sum / double(M * M) : 0.0;
}

namespace {

#if defined(KOKKOS_ENABLE_OPENMP) && !defined(__CUDA_ARCH__)
#define KMDFLOW_SIMD_REDUCTION _Pragma("omp simd reduction(+ : gu, student, g0, g1, g2, g3)")
#else
#define KMDFLOW_SIMD_REDUCTION
#endif

// The sums over sources j ∈ [begin, end) for target i, with D ≤ 4 components known at compile time
// (the common d ≤ 3): unit vectors û_j (SoA, one row per component), q̃_j = weight·norm. Returns
// Σ q̃ J(c) and accumulates Σ q̃ √(1−c²) and Σ q̃ (π − arccos c) û_j.
template <int D, class Units, class Weights>
KOKKOS_INLINE_FUNCTION double pair_block(const double* u, const Units& units, const Weights& q, std::size_t begin,
                                         std::size_t end, double& gu_out, double* g_out) {
  constexpr double pi = 3.14159265358979323846;
  double gu = 0, student = 0, g0 = 0, g1 = 0, g2 = 0, g3 = 0;
  const double u0 = u[0], u1 = D > 1 ? u[1] : 0.0, u2 = D > 2 ? u[2] : 0.0, u3 = D > 3 ? u[3] : 0.0;
  KMDFLOW_SIMD_REDUCTION
  for (std::size_t j = begin; j < end; ++j) {
    const double x0 = units(0, j), x1 = D > 1 ? units(1, j) : 0.0, x2 = D > 2 ? units(2, j) : 0.0,
                 x3 = D > 3 ? units(3, j) : 0.0;
    double c = u0 * x0 + u1 * x1 + u2 * x2 + u3 * x3;
    c = c > 1 ? 1 : (c < -1 ? -1 : c);
    const double angle = pi - fast_acos(c), sine = Kokkos::sqrt(1 - c * c), w = q(j);
    student += w * (sine + angle * c);
    gu += w * sine;
    const double f = w * angle;
    g0 += f * x0;
    g1 += f * x1;
    g2 += f * x2;
    g3 += f * x3;
  }
  gu_out += gu;
  g_out[0] += g0;
  if (D > 1) g_out[1] += g1;
  if (D > 2) g_out[2] += g2;
  if (D > 3) g_out[3] += g3;
  return student;
}

template <class Units, class Weights>
KOKKOS_INLINE_FUNCTION double pair_block_any(int D, const double* u, const Units& units, const Weights& q,
                                             std::size_t begin, std::size_t end, double& gu, double* g) {
  constexpr double pi = 3.14159265358979323846;
  double student = 0;
  for (std::size_t j = begin; j < end; ++j) {
    double c = 0;
    for (int a = 0; a < D; ++a) c += u[a] * units(a, j);
    c = c > 1 ? 1 : (c < -1 ? -1 : c);
    const double angle = pi - fast_acos(c), sine = Kokkos::sqrt(1 - c * c), w = q(j);
    student += w * (sine + angle * c);
    gu += w * sine;
    for (int a = 0; a < D; ++a) g[a] += w * angle * units(a, j);
  }
  return student;
}

// Σ_j (1/N) q_j k(p_i, p_j) − Σ_m (1/M) r_m k(p_i, t_m) and its gradient in p_i (tangential in the
// WFR form), plus the student part (1/N) Σ_j q_j k(p_i, p_j) for the loss.
void pair_sums(int d, bool wfr, const PointView<>& teacher, const ScalarView<>& r, const ConstPointView<>& state,
               const ScalarView<>& V, const PointView<>& grad, const ScalarView<>& self_part) {
  const std::size_t N = state.extent(0), M = teacher.extent(0);
  const int D = d + 1;
  if (int(state.extent(1)) != D + 1) throw std::invalid_argument("ReluModel: the state must be N × (d+2)");
  const double C = 1 / (2 * pi * D);
  const double inv_n = N ? 1.0 / double(N) : 0.0, inv_m = M ? 1.0 / double(M) : 0.0;
  // Sources (students, then the teacher) as unit vectors, component-major, and q̃ = weight × norm.
  Kokkos::View<double**, Kokkos::LayoutRight, MemorySpace> units(
      Kokkos::view_alloc(Kokkos::WithoutInitializing, std::string("kmdflow::relu::units")), D, N + M);
  ScalarView<> q(Kokkos::view_alloc(Kokkos::WithoutInitializing, std::string("kmdflow::relu::q")), N + M);
  ScalarView<> norms(Kokkos::view_alloc(Kokkos::WithoutInitializing, std::string("kmdflow::relu::norms")), N);
  Kokkos::parallel_for(
      "kmdflow::relu::sources", Kokkos::RangePolicy<ExecutionSpace>(0, N + M), KOKKOS_LAMBDA(std::size_t j) {
        const bool student = j < N;
        const std::size_t m = student ? 0 : j - N;
        double n2 = 0;
        for (int a = 0; a < D; ++a) {
          const double x = student ? state(j, a) : teacher(m, a);
          n2 += x * x;
        }
        const double norm = Kokkos::sqrt(n2), inv = norm > 0 ? 1 / norm : 0.0;
        for (int a = 0; a < D; ++a) units(a, j) = (student ? state(j, a) : teacher(m, a)) * inv;
        q(j) = student ? state(j, D) * inv_n * norm : -r(m) * inv_m * norm;
        if (student) norms(j) = norm;
      });
  Kokkos::parallel_for(
      "kmdflow::relu::pair_sums", Kokkos::RangePolicy<ExecutionSpace>(0, N), KOKKOS_LAMBDA(std::size_t i) {
        double u[max_components];
        for (int a = 0; a < D; ++a) u[a] = units(a, i);
        const double ni = norms(i);
        // Σ q̃ J(c) over students and over the teacher; Σ q̃ √(1−c²); Σ q̃ (π − arccos c) û_j.
        double g[max_components], gu = 0, student = 0, target = 0;
        for (int a = 0; a < D; ++a) g[a] = 0;
        switch (D) {
        case 2:
          student = pair_block<2>(u, units, q, 0, N, gu, g);
          target = pair_block<2>(u, units, q, N, N + M, gu, g);
          break;
        case 3:
          student = pair_block<3>(u, units, q, 0, N, gu, g);
          target = pair_block<3>(u, units, q, N, N + M, gu, g);
          break;
        case 4:
          student = pair_block<4>(u, units, q, 0, N, gu, g);
          target = pair_block<4>(u, units, q, N, N + M, gu, g);
          break;
        default:
          student = pair_block_any(D, u, units, q, 0, N, gu, g);
          target = pair_block_any(D, u, units, q, N, N + M, gu, g);
        }
        V(i) = C * ni * (student + target);
        self_part(i) = C * ni * student;
        // ∇_p V = C [gu û + g]; on the sphere its tangential part.
        double radial = 0;
        for (int a = 0; a < D; ++a) {
          g[a] = C * (gu * u[a] + g[a]);
          radial += g[a] * u[a];
        }
        for (int a = 0; a < D; ++a) grad(i, a) = wfr ? g[a] - radial * u[a] : g[a];
      });
}

} // namespace

void ReluModel::first_variation(const ConstPointView<>& state, const ScalarView<>& V, const PointView<>& grad) {
  Kokkos::Profiling::ScopedRegion region("kmdflow::relu::first_variation");
  if (m_self.extent(0) != state.extent(0))
    m_self = ScalarView<>(Kokkos::view_alloc(Kokkos::WithoutInitializing, std::string("kmdflow::relu::self")),
                          state.extent(0));
  pair_sums(m_d, m_form == ReluForm::wfr, m_teacher, m_teacher_weights, state, V, grad, m_self);
}

void ReluModel::velocity(const ConstPointView<>& state, const PointView<>& v) {
  Kokkos::Profiling::ScopedRegion region("kmdflow::relu::velocities");
  const std::size_t N = state.extent(0);
  if (m_V.extent(0) != N) {
    m_V = ScalarView<>(Kokkos::view_alloc(Kokkos::WithoutInitializing, std::string("kmdflow::relu::V")), N);
    m_grad = PointView<>(Kokkos::view_alloc(Kokkos::WithoutInitializing, std::string("kmdflow::relu::grad")), N,
                         m_d + 1);
  }
  first_variation(state, m_V, m_grad);
  const auto V = m_V;
  const auto grad = m_grad;
  const int D = m_d + 1;
  const bool wfr = m_form == ReluForm::wfr;
  Kokkos::parallel_for(
      "kmdflow::relu::velocity", Kokkos::RangePolicy<ExecutionSpace>(0, N), KOKKOS_LAMBDA(std::size_t i) {
        const double q = state(i, D);
        for (int a = 0; a < D; ++a) v(i, a) = wfr ? -grad(i, a) : -q * grad(i, a);
        v(i, D) = wfr ? -2 * q * V(i) : -V(i);
      });
}

double ReluModel::loss(const ConstPointView<>& state) { return diagnostics(state).loss; }

ReluDiagnostics ReluModel::diagnostics(const ConstPointView<>& state) {
  Kokkos::Profiling::ScopedRegion region("kmdflow::relu::diagnostics");
  const std::size_t N = state.extent(0);
  // Written in full by first_variation.
  ScalarView<> V(Kokkos::view_alloc(Kokkos::WithoutInitializing, std::string("kmdflow::relu::V")), N);
  PointView<> grad(Kokkos::view_alloc(Kokkos::WithoutInitializing, std::string("kmdflow::relu::grad")), N, m_d + 1);
  first_variation(state, V, grad);
  const auto self = m_self;
  const int D = m_d + 1;
  const bool wfr = m_form == ReluForm::wfr;
  double cross = 0, dissipation = 0, mass = 0, speed = 0;
  // (1/N) Σ q_i (Vs_i − 2 Vt_i) with Vt = Vs − V.
  Kokkos::parallel_reduce(
      "kmdflow::relu::diagnostic_sums", Kokkos::RangePolicy<ExecutionSpace>(0, N),
      KOKKOS_LAMBDA(std::size_t i, double& loss_sum, double& diss, double& m) {
        const double q = state(i, D);
        loss_sum += q * (2 * V(i) - self(i));
        double g2 = 0, n2 = 0;
        for (int a = 0; a < D; ++a) {
          g2 += grad(i, a) * grad(i, a);
          n2 += state(i, a) * state(i, a);
        }
        diss += wfr ? q * (2 * V(i) * V(i) + g2) : V(i) * V(i) + q * q * g2;
        m += wfr ? q : q * Kokkos::sqrt(n2);
      },
      cross, dissipation, mass);
  Kokkos::parallel_reduce(
      "kmdflow::relu::max_speed", Kokkos::RangePolicy<ExecutionSpace>(0, N),
      KOKKOS_LAMBDA(std::size_t i, double& s) {
        const double q = state(i, D);
        double g2 = 0;
        for (int a = 0; a < D; ++a) g2 += grad(i, a) * grad(i, a);
        s = Kokkos::fmax(s, Kokkos::sqrt(g2) * (wfr ? 1.0 : Kokkos::fabs(q)));
      },
      Kokkos::Max<double>(speed));
  const double inv_n = N ? 1.0 / double(N) : 0.0;
  ReluDiagnostics out;
  // L = ½[S_ss − 2 S_st + S_tt], S_ss − 2S_st = (1/N) Σ q (Vs − 2Vt) = (1/N) Σ q (2V − Vs).
  out.loss = 0.5 * cross * inv_n + m_teacher_loss;
  out.dissipation = dissipation * inv_n;
  out.mass = mass * inv_n;
  out.max_speed = speed;
  return out;
}

void ReluModel::project(const PointView<>& state) const {
  if (m_form != ReluForm::wfr) return;
  Kokkos::Profiling::ScopedRegion region("kmdflow::relu::projection");
  const int D = m_d + 1;
  Kokkos::parallel_for(
      "kmdflow::relu::project", Kokkos::RangePolicy<ExecutionSpace>(0, state.extent(0)), KOKKOS_LAMBDA(std::size_t i) {
        double n2 = 0;
        for (int a = 0; a < D; ++a) n2 += state(i, a) * state(i, a);
        const double inv = n2 > 0 ? 1 / Kokkos::sqrt(n2) : 0.0;
        for (int a = 0; a < D; ++a) state(i, a) *= inv;
        state(i, D) = Kokkos::fmax(state(i, D), 0.0);
      });
}

PointView<Kokkos::HostSpace> sphere_points(int d, std::size_t n, bool quasi_uniform, std::uint64_t seed) {
  PointView<Kokkos::HostSpace> x("kmdflow::relu::sphere_points", n, d + 1);
  if (quasi_uniform && d == 1) {
    for (std::size_t i = 0; i < n; ++i) {
      const double t = 2 * pi * (double(i) + 0.5) / double(n);
      x(i, 0) = std::cos(t), x(i, 1) = std::sin(t);
    }
    return x;
  }
  if (quasi_uniform && d == 2) {
    // Fibonacci lattice: equal-area bands in z, golden-angle steps in longitude.
    const double golden = pi * (3 - std::sqrt(5.0));
    for (std::size_t i = 0; i < n; ++i) {
      const double z = 1 - 2 * (double(i) + 0.5) / double(n), r = std::sqrt(std::max(0.0, 1 - z * z));
      x(i, 0) = r * std::cos(golden * double(i)), x(i, 1) = r * std::sin(golden * double(i)), x(i, 2) = z;
    }
    return x;
  }
  std::mt19937_64 rng(seed); // the engine is specified by the standard; the normal draw is ours
  for (std::size_t i = 0; i < n; ++i) {
    double n2 = 0;
    do {
      n2 = 0;
      for (int a = 0; a <= d; ++a) n2 += (x(i, a) = standard_normal(rng)) * x(i, a);
    } while (n2 < 1e-20);
    const double inv = 1 / std::sqrt(n2);
    for (int a = 0; a <= d; ++a) x(i, a) *= inv;
  }
  return x;
}

} // namespace kmdflow
