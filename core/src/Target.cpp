#include <kmdflow/SpecialFunctions.hpp>
#include <kmdflow/Target.hpp>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace kmdflow {

FourierPotential::FourierPotential(const Kernel& kernel, const Density& density)
    : m_dim(density.dim()) {
  auto wavevectors = density.spectrum(1e-17);
  if (wavevectors.empty()) return;
  const int dim = m_dim;
  auto norm2 = [dim](const Wavevector& k) {
    double s = 0;
    for (int d = 0; d < dim; ++d) s += double(k[d]) * k[d];
    return s;
  };
  auto coefficient = [&](const Wavevector& k) {
    const std::complex<double> c = kernel.symbol(norm2(k)) * density.fourier_coefficient(k);
    return Complex(c.real(), c.imag());
  };
  if (dim == 1) {
    // Dense 1…K for Horner's scheme.
    int K = 0;
    for (const auto& k : wavevectors) K = std::max(K, k[0]);
    m_modes = K;
    m_value_coefficients = decltype(m_value_coefficients)("kmdflow::FourierPotential::value", K);
    m_gradient_coefficients = decltype(m_gradient_coefficients)("kmdflow::FourierPotential::gradient", K);
    auto v = Kokkos::create_mirror_view(m_value_coefficients);
    auto g = Kokkos::create_mirror_view(m_gradient_coefficients);
    for (int k = 1; k <= K; ++k) {
      v(k - 1) = coefficient({k, 0, 0});
      g(k - 1) = v(k - 1) * Complex(0, 2 * pi * k);
    }
    Kokkos::deep_copy(m_value_coefficients, v);
    Kokkos::deep_copy(m_gradient_coefficients, g);
    return;
  }
  if (int(wavevectors.size()) > max_modes)
    throw std::invalid_argument("the target's Fourier potential would need " + std::to_string(wavevectors.size()) +
                                " modes (at most " + std::to_string(max_modes) + " in d = " + std::to_string(dim) +
                                "): its features are too narrow");
  // Rows: sorted so that runs share their outer components and the last one increases by 1.
  std::sort(wavevectors.begin(), wavevectors.end());
  std::vector<std::array<int, 5>> rows;
  for (std::size_t m = 0; m < wavevectors.size(); ++m) {
    const auto& k = wavevectors[m];
    for (int d = 0; d < dim; ++d) m_k_max = std::max(m_k_max, std::abs(k[d]));
    bool continues = !rows.empty();
    if (continues) {
      const auto& r = rows.back();
      for (int d = 0; d < dim - 1; ++d) continues = continues && r[d] == k[d];
      continues = continues && k[dim - 1] == r[2] + r[3];
    }
    if (continues) ++rows.back()[3];
    else rows.push_back({k[0], dim == 3 ? k[1] : 0, k[dim - 1], 1, int(m)});
  }
  if (m_k_max > max_modes_per_axis)
    throw std::invalid_argument("the target's Fourier potential needs more than " +
                                std::to_string(max_modes_per_axis) + " modes per axis");
  m_modes = int(wavevectors.size());
  m_rows = decltype(m_rows)("kmdflow::FourierPotential::rows", rows.size());
  m_value_coefficients = decltype(m_value_coefficients)("kmdflow::FourierPotential::value", m_modes);
  auto r = Kokkos::create_mirror_view(m_rows);
  auto v = Kokkos::create_mirror_view(m_value_coefficients);
  for (std::size_t i = 0; i < rows.size(); ++i)
    for (int c = 0; c < 5; ++c) r(i, c) = rows[i][c];
  for (int m = 0; m < m_modes; ++m) v(m) = coefficient(wavevectors[m]);
  Kokkos::deep_copy(m_rows, r);
  Kokkos::deep_copy(m_value_coefficients, v);
}

Target::Target(std::shared_ptr<const Density> density, const Kernel& kernel)
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
