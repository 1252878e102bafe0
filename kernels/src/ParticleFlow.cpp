#include <kmdflow/DirectEngine1D.hpp>
#include <kmdflow/EwaldEngine.hpp>
#include <kmdflow/SpectralEngine.hpp>
#include <kmdflow/ParticleFlow.hpp>
#include <kmdflow/SortedEngine1D.hpp>

#include <cmath>
#include <limits>
#include <stdexcept>

namespace kmdflow {

ForceMethod parse_force_method(const std::string& name) {
  if (name == "auto") return ForceMethod::automatic;
  if (name == "direct") return ForceMethod::direct;
  if (name == "sorted") return ForceMethod::sorted;
  if (name == "spectral") return ForceMethod::spectral;
  throw std::invalid_argument("unknown force method '" + name + "'");
}

namespace {
bool sorted_applies(const Kernel& kernel) {
  const auto* sobolev = kernel.get_if<SobolevKernel>();
  return sobolev && SortedEngine1D<>::applies(*sobolev);
}
bool spectral_applies(const Kernel& kernel, std::size_t points, double tolerance) {
  try {
    (void)choose_spectral_parameters(kernel, points, tolerance);
    return true;
  } catch (const std::invalid_argument&) {
    return false;
  }
}
} // namespace

ForceMethod resolve_force_method(ForceMethod method, const Kernel& kernel, std::size_t points, double tolerance) {
  if (method == ForceMethod::automatic) {
    if (sorted_applies(kernel)) return ForceMethod::sorted;
    // Where the spectral engine (at the default tolerance) overtakes the direct one, on CPUs.
    const std::size_t crossover = kernel.dim() == 1 ? 200 : kernel.dim() == 2 ? 300 : 500;
    return points >= crossover && spectral_applies(kernel, points, tolerance) ? ForceMethod::spectral : ForceMethod::direct;
  }
  if (method == ForceMethod::sorted && !sorted_applies(kernel))
    throw std::invalid_argument(kernel.get_if<SobolevKernel>()
                                    ? "the sorted engine needs d = 1 and an integer s in 1...4; use direct (or auto)"
                                    : "the sorted engine is for the Sobolev kernel only; use direct, spectral or auto");
  return method;
}

std::string to_string(ForceMethod method) {
  switch (method) {
  case ForceMethod::automatic: return "auto";
  case ForceMethod::direct: return "direct";
  case ForceMethod::sorted: return "sorted";
  case ForceMethod::spectral: return "spectral";
  }
  return "?";
}

Precision parse_precision(const std::string& name) {
  if (name == "double") return Precision::fp64;
  if (name == "float") return Precision::fp32;
  throw std::invalid_argument("unknown precision '" + name + "' (double, float)");
}

std::string to_string(Precision precision) { return precision == Precision::fp32 ? "float" : "double"; }

FftPlanning parse_fft_planning(const std::string& name) {
  if (name == "auto") return FftPlanning::automatic;
  if (name == "estimate") return FftPlanning::estimate;
  if (name == "measure") return FftPlanning::measure;
  throw std::invalid_argument("unknown FFT planning '" + name + "' (auto, estimate, measure)");
}

std::unique_ptr<InteractionEngine> make_engine(ForceMethod method, const Kernel& kernel, const Target& target,
                                               std::size_t particle_count, double tolerance, Precision precision,
                                               FftPlanning fft_planning) {
  const std::size_t atom_count = target.sample_positions().data() ? target.sample_positions().extent(0) : 0;
  method = resolve_force_method(method, kernel, particle_count + atom_count, tolerance);
  if (precision == Precision::fp32 && method != ForceMethod::direct)
    throw std::invalid_argument("precision \"float\" is available with the direct engine only (the " +
                                to_string(method) + " engine computes in double)");
  const ExecutionSpace space;
  const auto& atoms = target.sample_positions();
  const auto& atom_weights = target.sample_weights();
  switch (method) {
  case ForceMethod::sorted:
    return std::make_unique<SortedEngine1D<>>(space, *kernel.get_if<SobolevKernel>(), particle_count, atoms,
                                              atom_weights);
  case ForceMethod::direct:
    // The Sobolev kernel in d = 1: pairs through its closed forms or tabulated split
    // (DirectEngine1D.hpp); otherwise the Ewald split or real-space pairs (EwaldEngine.hpp).
    if (const auto* sobolev = kernel.get_if<SobolevKernel>(); sobolev && kernel.dim() == 1)
      return std::make_unique<DirectEngine1D<>>(space, SobolevKernelEvaluator1D(*sobolev), particle_count, atoms,
                                                atom_weights, precision);
    if (kernel.dim() == 2)
      return std::make_unique<EwaldEngine<ExecutionSpace, 2>>(space, kernel, particle_count, atoms, atom_weights,
                                                              precision);
    if (kernel.dim() == 3)
      return std::make_unique<EwaldEngine<ExecutionSpace, 3>>(space, kernel, particle_count, atoms, atom_weights,
                                                              precision);
    return std::make_unique<EwaldEngine<ExecutionSpace, 1>>(space, kernel, particle_count, atoms, atom_weights,
                                                            precision);
  case ForceMethod::spectral: {
    auto parameters = choose_spectral_parameters(kernel, particle_count + atom_count, tolerance);
    parameters.fft_planning = fft_planning;
    if (kernel.dim() == 1)
      return std::make_unique<SpectralEngine<ExecutionSpace, 1>>(space, kernel, particle_count, parameters, atoms,
                                                                 atom_weights);
    if (kernel.dim() == 2)
      return std::make_unique<SpectralEngine<ExecutionSpace, 2>>(space, kernel, particle_count, parameters, atoms,
                                                                 atom_weights);
    return std::make_unique<SpectralEngine<ExecutionSpace, 3>>(space, kernel, particle_count, parameters, atoms,
                                                               atom_weights);
  }
  case ForceMethod::automatic: break;
  }
  throw std::logic_error("make_engine: unhandled method");
}

namespace detail {
// Σ_i w_i² (outside the constructor: CUDA's extended lambdas cannot live in constructors).
double sum_of_squares(const ConstScalarView<>& w) {
  double sum = 0;
  Kokkos::parallel_reduce(
      "kmdflow::flow::weight_squares", Kokkos::RangePolicy<ExecutionSpace>(0, w.extent(0)),
      KOKKOS_LAMBDA(std::size_t i, double& s) { s += w(i) * w(i); }, sum);
  return sum;
}
} // namespace detail

ParticleFlow::ParticleFlow(std::shared_ptr<const Kernel> kernel, std::shared_ptr<const Target> target,
                           ScalarView<> weights, std::unique_ptr<InteractionEngine> engine)
    : m_kernel(std::move(kernel)), m_target(std::move(target)), m_weights(std::move(weights)),
      m_engine(std::move(engine)) {
  if (!m_kernel->has_finite_self_energy()) {
    m_value_at_zero = std::numeric_limits<double>::infinity();
    return;
  }
  m_value_at_zero = m_kernel->value_at_zero();
  m_weight_squares = detail::sum_of_squares(m_weights);
  if (m_target->is_samples()) m_atom_squares = detail::sum_of_squares(m_target->sample_weights());
}

void ParticleFlow::set_weights(ScalarView<> weights) {
  m_weights = std::move(weights);
  if (std::isfinite(m_value_at_zero)) m_weight_squares = detail::sum_of_squares(m_weights);
}

void ParticleFlow::velocity(const ConstPointView<>& x, const PointView<>& v) {
  m_engine->velocities(x, m_weights, v);
  const auto& potential = m_target->potential();
  if (potential.empty()) return;
  // + ∇(G_s * ν)(x_i): the target attracts.
  const int dim = this->dim();
  Kokkos::parallel_for(
      "kmdflow::flow::target_velocity", Kokkos::RangePolicy<ExecutionSpace>(0, x.extent(0)),
      KOKKOS_LAMBDA(std::size_t i) {
        double xi[3] = {0, 0, 0}, g[3];
        for (int d = 0; d < dim; ++d) xi[d] = x(i, d);
        potential.gradient(xi, g);
        for (int d = 0; d < dim; ++d) v(i, d) += g[d];
      });
}

Energies ParticleFlow::energies(const ConstPointView<>& x, const ConstPointView<>& v) {
  Kokkos::Profiling::ScopedRegion region("kmdflow::flow::energies");
  Energies e;
  e.interaction_energy = m_engine->pair_energy(x, m_weights);
  const auto w = m_weights;
  const int dim = this->dim();
  const auto& potential = m_target->potential();
  double cross = 0;
  if (!potential.empty()) {
    Kokkos::parallel_reduce(
        "kmdflow::flow::target_energy", Kokkos::RangePolicy<ExecutionSpace>(0, x.extent(0)),
        KOKKOS_LAMBDA(std::size_t i, double& sum) {
          double xi[3] = {0, 0, 0};
          for (int d = 0; d < dim; ++d) xi[d] = x(i, d);
          sum += w(i) * potential.value(xi);
        },
        cross);
  }
  double dissipation = 0, max_speed2 = 0;
  Kokkos::parallel_reduce(
      "kmdflow::flow::dissipation", Kokkos::RangePolicy<ExecutionSpace>(0, x.extent(0)),
      KOKKOS_LAMBDA(std::size_t i, double& sum, double& largest) {
        double speed2 = 0;
        for (int d = 0; d < dim; ++d) speed2 += v(i, d) * v(i, d);
        sum += w(i) * speed2;
        if (speed2 > largest) largest = speed2;
      },
      dissipation, Kokkos::Max<double>(max_speed2));
  // The particles' sums: over the blocks of every process where they are split.
  double sums[3] = {cross, dissipation, m_weight_squares};
  if (m_sum) m_sum(sums, 3);
  if (m_max) m_max(&max_speed2, 1);
  if (!potential.empty()) e.interaction_energy += m_target->self_energy() - sums[0];
  else if (!m_target->is_samples()) e.interaction_energy += m_target->self_energy();
  const double diagonal = std::isinf(m_value_at_zero) ? m_value_at_zero
                                                      : 0.5 * (sums[2] + m_atom_squares) * m_value_at_zero;
  e.energy = e.interaction_energy + diagonal;
  e.dissipation = sums[1];
  e.max_speed = Kokkos::sqrt(max_speed2);
  return e;
}

} // namespace kmdflow
