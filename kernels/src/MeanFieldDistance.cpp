#include <kmdflow/Density.hpp>
#include <kmdflow/MeanFieldDistance.hpp>
#include <kmdflow/ParticleFlow.hpp>
#include <kmdflow/Target.hpp>
#include <kmdflow/detail/FftBackend.hpp>
#include <kmdflow/detail/HalfGrid.hpp>

#include <cmath>
#include <complex>
#include <stdexcept>

namespace kmdflow {

namespace {
constexpr double pi = 3.14159265358979323846;

// Cubic Lagrange weights on the nodes −1, 0, 1, 2 at t ∈ [0, 1).
KOKKOS_INLINE_FUNCTION void lagrange4(double t, double* w) {
  w[0] = -t * (t - 1) * (t - 2) / 6;
  w[1] = (t + 1) * (t - 1) * (t - 2) / 2;
  w[2] = -(t + 1) * t * (t - 2) / 2;
  w[3] = (t + 1) * t * (t - 1) / 6;
}
} // namespace

MeanFieldDistance::MeanFieldDistance(const Kernel& kernel, std::size_t particles, int n, double tolerance)
    : m_dim(kernel.dim()), m_n(n), m_kernel(std::make_shared<const Kernel>(kernel)) {
  if (!m_kernel->has_finite_self_energy())
    throw std::invalid_argument("MeanFieldDistance: the kernel must be finite at 0 (σ > d/2) for the distance to be "
                                "finite for particles");
  Target uniform(std::make_shared<UniformDensity>(m_dim), *m_kernel);
  m_engine = make_engine(resolve_force_method(ForceMethod::automatic, *m_kernel, particles, tolerance), *m_kernel,
                         uniform, particles, tolerance);
}

MeanFieldDistance::MeanFieldDistance(int dim, double sigma, std::size_t particles, int n, double tolerance)
    : MeanFieldDistance(SobolevKernel(dim, sigma), particles, n, tolerance) {}

MeanFieldDistance::~MeanFieldDistance() = default;

double MeanFieldDistance::squared(const PointView<Kokkos::HostSpace>& x_host, const ScalarView<Kokkos::HostSpace>& w_host,
                                  const std::vector<double>& cells) {
  const int d = m_dim, n = m_n, m = 2 * n;
  // Σ_{i,j} w_i w_j G(x_i − x_j): the engine's pair sum (i ≠ j) and the diagonal.
  auto x = Kokkos::create_mirror_view_and_copy(MemorySpace(), x_host);
  auto w = Kokkos::create_mirror_view_and_copy(MemorySpace(), w_host);
  double diagonal = 0;
  for (std::size_t i = 0; i < w_host.extent(0); ++i) diagonal += w_host(i) * w_host(i);
  const double particles = 2 * m_engine->pair_energy(x, w) + diagonal * m_kernel->value_at_zero();

  // ρ̂ from the cell averages.
  std::size_t size = 1, fine = 1;
  for (int a = 0; a < d; ++a) size *= std::size_t(n), fine *= std::size_t(m);
  const std::size_t half_size = detail::half_grid_size(d, n), fine_half = detail::half_grid_size(d, m);
  if (cells.size() != size) throw std::invalid_argument("MeanFieldDistance: the density needs n^d cell averages");
  const Kokkos::DefaultHostExecutionSpace host;
  std::vector<double> real(cells);
  std::vector<std::complex<double>> half(half_size);
  detail::make_real_fft(host, std::vector<int>(d, n), real.data(), half.data(), FftPlanning::estimate)->forward();
  std::vector<double> fine_real(fine);
  std::vector<std::complex<double>> fine_spectrum(fine_half, 0.0);
  double density_term = 0;
  for (std::size_t h = 0; h < half_size; ++h) {
    int k[3] = {0, 0, 0};
    detail::half_grid_wavevector(d, h, n, n, k);
    bool keep = true;
    double k2 = 0;
    std::complex<double> c = half[h] / double(size);
    for (int a = 0; a < d; ++a) {
      if (2 * std::abs(k[a]) >= n) keep = false; // the Nyquist modes carry no resolved information
      k2 += double(k[a]) * k[a];
      if (k[a] != 0) c /= std::sin(pi * k[a] / n) / (pi * k[a] / n);
      c *= std::polar(1.0, -pi * k[a] / n); // cell g is centred at (g + ½)/n
    }
    if (!keep || k2 == 0) continue; // the mean left out (KernelConcept.hpp): k̂ − k̂(0)
    const double symbol = m_kernel->symbol(k2);
    density_term += (k[d - 1] == 0 ? 1.0 : 2.0) * symbol * std::norm(c);
    std::size_t index = 0;
    for (int a = 0; a + 1 < d; ++a) index = index * std::size_t(m) + std::size_t((k[a] % m + m) % m);
    fine_spectrum[index * std::size_t(m / 2 + 1) + std::size_t(k[d - 1])] = symbol * c;
  }
  // ψ = k * ρ at the fine grid points g/m.
  detail::make_real_fft(host, std::vector<int>(d, m), fine_real.data(), fine_spectrum.data(), FftPlanning::estimate)
      ->inverse();

  // Σ_i w_i ψ(x_i) by tensor-product cubic interpolation.
  double cross = 0;
  const double* psi = fine_real.data();
  Kokkos::parallel_reduce(
      "kmdflow::distance::cross", Kokkos::RangePolicy<Kokkos::DefaultHostExecutionSpace>(0, x_host.extent(0)),
      [&](std::size_t i, double& sum) {
        double weights[3][4];
        int base[3] = {0, 0, 0};
        for (int a = 0; a < d; ++a) {
          const double u = x_host(i, a) * m;
          const double f = std::floor(u);
          base[a] = int(f);
          lagrange4(u - f, weights[a]);
        }
        auto node = [&](int a, int o) { return ((base[a] + o - 1) % m + m) % m; };
        double value = 0;
        if (d == 1) {
          for (int p = 0; p < 4; ++p) value += weights[0][p] * psi[node(0, p)];
        } else if (d == 2) {
          for (int p = 0; p < 4; ++p)
            for (int q = 0; q < 4; ++q)
              value += weights[0][p] * weights[1][q] * psi[std::size_t(node(0, p)) * m + node(1, q)];
        } else {
          for (int p = 0; p < 4; ++p)
            for (int q = 0; q < 4; ++q)
              for (int r = 0; r < 4; ++r)
                value += weights[0][p] * weights[1][q] * weights[2][r] *
                         psi[(std::size_t(node(0, p)) * m + node(1, q)) * m + node(2, r)];
        }
        sum += w_host(i) * value;
      },
      cross);
  return particles - 2 * cross + density_term;
}

} // namespace kmdflow
