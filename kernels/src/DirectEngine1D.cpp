#include <kmdflow/DirectEngine1D.hpp>
#include <kmdflow/detail/TiledPairSum.hpp>

#include <stdexcept>

namespace kmdflow {

namespace {

// sources(first + j) = x(j); velocity and energy weights a·w(j) and b·w(j).
template <class ExecutionSpace, class Sources, class Weights, class X, class W>
void load_points(const ExecutionSpace& space, const char* label, const Sources& sources, const Weights& velocity,
                 const Weights& energy, std::size_t first, const X& x, const W& w, double a, double b) {
  Kokkos::parallel_for(
      label, Kokkos::RangePolicy<ExecutionSpace>(space, 0, x.extent(0)), KOKKOS_LAMBDA(std::size_t j) {
        sources(first + j, 0) = x(j, 0);
        velocity(first + j) = a * w(j);
        energy(first + j) = b * w(j);
      });
}

// a·w, a new view.
template <class ExecutionSpace, class W>
Kokkos::View<double*, typename ExecutionSpace::memory_space> scaled(const ExecutionSpace& space, const char* label,
                                                                   const W& w, double a) {
  Kokkos::View<double*, typename ExecutionSpace::memory_space> out(label, w.extent(0));
  Kokkos::parallel_for(
      label, Kokkos::RangePolicy<ExecutionSpace>(space, 0, w.extent(0)), KOKKOS_LAMBDA(std::size_t m) { out(m) = a * w(m); });
  return out;
}

// G(dx) between atoms, the diagonal left out (the atoms' own energy).
struct AtomPairValue {
  SobolevKernelEvaluator1D kernel;
  KOKKOS_FUNCTION Kokkos::Array<double, 1> operator()(const Kokkos::Array<double, 1>& dx, int i, int p) const {
    return {i == p ? 0.0 : kernel.value(dx[0])};
  }
};

// Σ_m q_m row_m.
template <class ExecutionSpace, class Q, class Rows>
double weighted_sum(const ExecutionSpace& space, const char* label, const Q& q, const Rows& rows, std::size_t n) {
  double sum = 0;
  Kokkos::parallel_reduce(
      label, Kokkos::RangePolicy<ExecutionSpace>(space, 0, n),
      KOKKOS_LAMBDA(std::size_t m, double& s) { s += q(m) * rows(m, 0); }, sum);
  return sum;
}

} // namespace

template <class ExecutionSpace>
DirectEngine1D<ExecutionSpace>::DirectEngine1D(const ExecutionSpace& space,
                                               const SobolevKernelEvaluator1D& kernel,
                                               std::size_t particle_count, const PointView<>& atoms,
                                               const ScalarView<>& atom_weights, Precision precision)
    : m_space(space), m_kernel(kernel), m_particles(particle_count),
      m_atoms(atoms.data() ? atoms.extent(0) : 0), m_precision(precision), m_begin(0), m_end(particle_count) {
  if (m_atoms != (atom_weights.data() ? atom_weights.extent(0) : 0))
    throw std::invalid_argument("DirectEngine1D: one weight per atom is needed");
  const std::size_t total = m_particles + m_atoms;
  auto alloc = [&](const std::string& label) {
    return Kokkos::View<double*, memory_space>(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, label), total);
  };
  m_sources = PointView<memory_space>(
      Kokkos::view_alloc(space, Kokkos::WithoutInitializing, std::string("kmdflow::direct::sources")), total, 1);
  m_velocity_weights = alloc("kmdflow::direct::velocity_weights");
  m_energy_weights = alloc("kmdflow::direct::energy_weights");
  m_rows = PointView<memory_space>(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, std::string("kmdflow::direct::rows")),
                                   std::max(m_particles, m_atoms), 1);
  if (m_atoms == 0) return;
  load_points(space, "kmdflow::direct::load_atoms", m_sources, m_velocity_weights, m_energy_weights, m_particles,
              atoms, atom_weights, 1.0, -1.0);
  // The atoms' own energy ½ Σ_{m≠n} u_m u_n G(y_m − y_n) is a constant of the run.
  const auto half_u = scaled(space, "kmdflow::direct::half_atom_weights", atom_weights, 0.5);
  detail::tiled_pair_sum<1, 1, double, 4>(space, "kmdflow::direct::atom_energy", atoms, atoms, half_u, m_rows,
                                          AtomPairValue{m_kernel});
  m_atom_energy = weighted_sum(space, "kmdflow::direct::atom_energy_sum", atom_weights, m_rows, m_atoms);
}

template <class ExecutionSpace>
void DirectEngine1D<ExecutionSpace>::load_sources(const ConstPointView<>& x, const ConstScalarView<>& w) {
  if (x.extent(0) != m_particles || w.extent(0) != m_particles)
    throw std::invalid_argument("DirectEngine1D: particle count differs from the engine's");
  load_points(m_space, "kmdflow::direct::load_particles", m_sources, m_velocity_weights, m_energy_weights, 0, x, w,
              -1.0, 0.5);
}

template <class ExecutionSpace>
bool DirectEngine1D<ExecutionSpace>::set_target_rows(std::size_t begin, std::size_t end) {
  if (begin > end || end > m_particles) throw std::invalid_argument("DirectEngine1D: target rows outside [0, N)");
  m_begin = begin, m_end = end;
  return true;
}

template <class ExecutionSpace>
void DirectEngine1D<ExecutionSpace>::velocities(const ConstPointView<>& x,
                                                const ConstScalarView<>& w, const PointView<>& v) {
  Kokkos::Profiling::ScopedRegion region("kmdflow::direct::velocities");
  load_sources(x, w);
  const auto rows = std::make_pair(m_begin, m_end);
  const auto targets = Kokkos::subview(x, rows, Kokkos::ALL);
  const auto out = Kokkos::subview(v, rows, Kokkos::ALL);
  // G'(0) = 0, so the self term needs no exclusion.
  auto run = [&](auto derivative) {
    using Real = typename decltype(derivative)::value_type;
    detail::tiled_pair_sum<1, 1, Real, 4>(m_space, "kmdflow::direct::velocity", targets, m_sources,
                                          m_velocity_weights, out,
                                          detail::OfDifference<decltype(derivative)>{derivative});
  };
  if (m_precision == Precision::fp32) m_kernel.with_derivative<float>(run);
  else m_kernel.with_derivative<double>(run);
}

template <class ExecutionSpace>
double DirectEngine1D<ExecutionSpace>::pair_energy(const ConstPointView<>& x, const ConstScalarView<>& w) {
  Kokkos::Profiling::ScopedRegion region("kmdflow::direct::pair_energy");
  load_sources(x, w);
  const auto block = std::make_pair(m_begin, m_end);
  const auto rows = Kokkos::subview(m_rows, std::make_pair(std::size_t(0), m_end - m_begin), Kokkos::ALL);
  const auto targets = Kokkos::subview(x, block, Kokkos::ALL);
  auto run = [&](auto value) {
    using Real = typename decltype(value)::value_type;
    detail::tiled_pair_sum<1, 1, Real, 4>(m_space, "kmdflow::direct::energy_rows", targets, m_sources,
                                          m_energy_weights, rows,
                                          detail::OfDifferenceOffDiagonal<decltype(value)>{value}, int(m_begin));
  };
  if (m_precision == Precision::fp32) m_kernel.with_value<float>(run);
  else m_kernel.with_value<double>(run);
  return weighted_sum(m_space, "kmdflow::direct::energy_sum", Kokkos::subview(w, block), rows, m_end - m_begin) +
         (m_begin == 0 ? m_atom_energy : 0.0);
}

template class DirectEngine1D<kmdflow::ExecutionSpace>;

} // namespace kmdflow
