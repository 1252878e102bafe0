#include <kmdflow/SpecialFunctions.hpp>
#include <kmdflow/Target.hpp>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace kmdflow {

FourierPotential::FourierPotential(const SobolevKernel& kernel, const Density& density)
    : m_dim(density.dim()) {
  auto wavevectors = density.spectrum(1e-17);
  if (wavevectors.empty()) return;
  const int dim = m_dim;
  auto norm2 = [dim](const Wavevector& k) {
    double s = 0;
    for (int d = 0; d < dim; ++d) s += double(k[d]) * k[d];
    return s;
  };
  if (dim == 1) {
    // Dense 1…K for Horner's scheme.
    int K = 0;
    for (const auto& k : wavevectors) K = std::max(K, k[0]);
    wavevectors.clear();
    for (int k = 1; k <= K; ++k) wavevectors.push_back({k, 0, 0});
  }
  m_modes = int(wavevectors.size());
  m_wavevectors = decltype(m_wavevectors)("kmdflow::FourierPotential::wavevectors", m_modes);
  m_value_coefficients = decltype(m_value_coefficients)("kmdflow::FourierPotential::value", m_modes);
  m_gradient_coefficients =
      decltype(m_gradient_coefficients)("kmdflow::FourierPotential::gradient", m_modes);
  auto k_host = Kokkos::create_mirror_view(m_wavevectors);
  auto v_host = Kokkos::create_mirror_view(m_value_coefficients);
  auto g_host = Kokkos::create_mirror_view(m_gradient_coefficients);
  for (int m = 0; m < m_modes; ++m) {
    const auto& k = wavevectors[m];
    const std::complex<double> c = kernel.symbol(norm2(k)) * density.fourier_coefficient(k);
    for (int d = 0; d < 3; ++d) k_host(m, d) = k[d];
    v_host(m) = Complex(c.real(), c.imag());
    // d = 1: the gradient coefficient carries the factor 2πik; d ≥ 2: 2πi, times k·e per axis.
    const double factor = 2 * pi * (dim == 1 ? k[0] : 1);
    g_host(m) = Complex(-factor * c.imag(), factor * c.real());
  }
  Kokkos::deep_copy(m_wavevectors, k_host);
  Kokkos::deep_copy(m_value_coefficients, v_host);
  Kokkos::deep_copy(m_gradient_coefficients, g_host);
}

Target::Target(std::shared_ptr<const Density> density, const SobolevKernel& kernel)
    : m_density(std::move(density)), m_potential(kernel, *m_density) {
  if (m_density->dim() != kernel.dim())
    throw std::invalid_argument("the target density and the kernel differ in dimension");
  for (const auto& k : m_density->spectrum(1e-17)) {
    double k2 = 0;
    for (int d = 0; d < kernel.dim(); ++d) k2 += double(k[d]) * k[d];
    // ½ Σ_{k≠0} = Σ over the half space.
    m_self_energy += kernel.symbol(k2) * std::norm(m_density->fourier_coefficient(k));
  }
}

Target::Target(PointView<Kokkos::HostSpace> positions, ScalarView<Kokkos::HostSpace> weights) {
  const std::size_t m = positions.extent(0);
  if (m == 0) throw std::invalid_argument("a samples target needs at least one sample");
  if (weights.extent(0) != m) throw std::invalid_argument("one weight per sample is needed");
  double total = 0;
  for (std::size_t i = 0; i < m; ++i) {
    if (!(weights(i) > 0)) throw std::invalid_argument("sample weights must be > 0");
    total += weights(i);
  }
  m_sample_positions = PointView<>("kmdflow::Target::sample_positions", m, positions.extent(1));
  m_sample_weights = ScalarView<>("kmdflow::Target::sample_weights", m);
  auto w = Kokkos::create_mirror_view(m_sample_weights);
  for (std::size_t i = 0; i < m; ++i) w(i) = weights(i) / total;
  auto x = Kokkos::create_mirror_view(m_sample_positions);
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t d = 0; d < positions.extent(1); ++d) x(i, d) = wrap_unit(positions(i, d));
  Kokkos::deep_copy(m_sample_weights, w);
  Kokkos::deep_copy(m_sample_positions, x);
}

} // namespace kmdflow
