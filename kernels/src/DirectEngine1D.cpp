#include <kmdflow/DirectEngine1D.hpp>
#include <kmdflow/detail/TiledPairSum.hpp>

#include <stdexcept>

namespace kmdflow {

template <class ExecutionSpace>
DirectEngine1D<ExecutionSpace>::DirectEngine1D(const ExecutionSpace& space,
                                               const SobolevKernelEvaluator1D& kernel,
                                               std::size_t particle_count, const PointView<>& atoms,
                                               const ScalarView<>& atom_weights, Precision precision)
    : m_space(space), m_kernel(kernel), m_particles(particle_count),
      m_atoms(atoms.data() ? atoms.extent(0) : 0), m_precision(precision) {
  if (m_atoms != (atom_weights.data() ? atom_weights.extent(0) : 0))
    throw std::invalid_argument("DirectEngine1D: one weight per atom is needed");
  const std::size_t total = m_particles + m_atoms;
  auto alloc = [&](const std::string& label) {
    return Kokkos::View<double*, memory_space>(
        Kokkos::view_alloc(space, Kokkos::WithoutInitializing, label), total);
  };
  m_sources = alloc("kmdflow::direct::sources");
  m_velocity_weights = alloc("kmdflow::direct::velocity_weights");
  m_energy_weights = alloc("kmdflow::direct::energy_weights");
  m_rows = Kokkos::View<double*, memory_space>(
      Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kmdflow::direct::rows"),
      std::max(m_particles, m_atoms));
  if (m_atoms > 0) load_atoms(atoms, atom_weights);
}

template <class ExecutionSpace>
void DirectEngine1D<ExecutionSpace>::load_atoms(const PointView<>& atoms,
                                                const ScalarView<>& atom_weights) {
  const auto space = m_space;
  const auto n = m_particles;
  const auto sources = m_sources, vw = m_velocity_weights, ew = m_energy_weights;
  Kokkos::parallel_for(
      "kmdflow::direct::load_atoms", Kokkos::RangePolicy<ExecutionSpace>(space, 0, m_atoms),
      KOKKOS_LAMBDA(std::size_t m) {
        sources(n + m) = atoms(m, 0);
        vw(n + m) = atom_weights(m);
        ew(n + m) = -atom_weights(m);
      });
  // The atoms' own energy ½ Σ_{m≠n} u_m u_n G(y_m − y_n) is a constant of the run.
  Kokkos::View<double*, memory_space> half_u("kmdflow::direct::half_atom_weights", m_atoms);
  Kokkos::parallel_for(
      "kmdflow::direct::half_atom_weights", Kokkos::RangePolicy<ExecutionSpace>(space, 0, m_atoms),
      KOKKOS_LAMBDA(std::size_t m) { half_u(m) = 0.5 * atom_weights(m); });
  const auto y = Kokkos::subview(atoms, Kokkos::ALL, 0);
  const auto rows = m_rows;
  const auto evaluator = m_kernel;
  detail::tiled_pair_sum(space, "kmdflow::direct::atom_energy", y, y, half_u, rows,
                         KOKKOS_LAMBDA(double t, double z, int i, int p) {
                           return i == p ? 0.0 : evaluator.value(t - z);
                         });
  Kokkos::parallel_reduce(
      "kmdflow::direct::atom_energy_sum", Kokkos::RangePolicy<ExecutionSpace>(space, 0, m_atoms),
      KOKKOS_LAMBDA(std::size_t m, double& sum) { sum += atom_weights(m) * rows(m); },
      m_atom_energy);
}

template <class ExecutionSpace>
void DirectEngine1D<ExecutionSpace>::load_sources(const ConstPointView<>& x,
                                                  const ConstScalarView<>& w) {
  if (x.extent(0) != m_particles || w.extent(0) != m_particles)
    throw std::invalid_argument("DirectEngine1D: particle count differs from the engine's");
  const auto sources = m_sources, vw = m_velocity_weights, ew = m_energy_weights;
  Kokkos::parallel_for(
      "kmdflow::direct::load_particles", Kokkos::RangePolicy<ExecutionSpace>(m_space, 0, m_particles),
      KOKKOS_LAMBDA(std::size_t i) {
        sources(i) = x(i, 0);
        vw(i) = -w(i);
        ew(i) = 0.5 * w(i);
      });
}

template <class ExecutionSpace>
void DirectEngine1D<ExecutionSpace>::velocities(const ConstPointView<>& x,
                                                const ConstScalarView<>& w, const PointView<>& v) {
  Kokkos::Profiling::ScopedRegion region("kmdflow::direct::velocities");
  load_sources(x, w);
  // G'(0) = 0, so the self term needs no exclusion.
  auto run = [&](auto derivative) {
    using Real = typename decltype(derivative)::value_type;
    detail::tiled_pair_sum<Real>(m_space, "kmdflow::direct::velocity", Kokkos::subview(x, Kokkos::ALL, 0),
                                 m_sources, m_velocity_weights, Kokkos::subview(v, Kokkos::ALL, 0),
                                 detail::OfDifference<decltype(derivative)>{derivative});
  };
  if (m_precision == Precision::fp32) m_kernel.with_derivative<float>(run);
  else m_kernel.with_derivative<double>(run);
}

template <class ExecutionSpace>
double DirectEngine1D<ExecutionSpace>::pair_energy(const ConstPointView<>& x,
                                                   const ConstScalarView<>& w) {
  Kokkos::Profiling::ScopedRegion region("kmdflow::direct::pair_energy");
  load_sources(x, w);
  const auto rows = Kokkos::subview(m_rows, std::make_pair(std::size_t(0), m_particles));
  auto run = [&](auto value) {
    using Real = typename decltype(value)::value_type;
    detail::tiled_pair_sum<Real>(m_space, "kmdflow::direct::energy_rows", Kokkos::subview(x, Kokkos::ALL, 0),
                                 m_sources, m_energy_weights, rows,
                                 detail::OfDifferenceOffDiagonal<decltype(value)>{value});
  };
  if (m_precision == Precision::fp32) m_kernel.with_value<float>(run);
  else m_kernel.with_value<double>(run);
  double energy = 0;
  Kokkos::parallel_reduce(
      "kmdflow::direct::energy_sum", Kokkos::RangePolicy<ExecutionSpace>(m_space, 0, m_particles),
      KOKKOS_LAMBDA(std::size_t i, double& sum) { sum += w(i) * rows(i); }, energy);
  return energy + m_atom_energy;
}

template class DirectEngine1D<kmdflow::ExecutionSpace>;

} // namespace kmdflow
