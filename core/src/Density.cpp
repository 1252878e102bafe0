#include <kmdflow/Density.hpp>
#include <kmdflow/SpecialFunctions.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <random>
#include <sstream>
#include <stdexcept>

namespace kmdflow {

namespace {

// The representative of ±k in the half space whose first non-zero component is positive.
Wavevector half_space(Wavevector k) {
  for (int d = 0; d < 3; ++d) {
    if (k[d] > 0) return k;
    if (k[d] < 0) return {-k[0], -k[1], -k[2]};
  }
  return k;
}

double dot(const Wavevector& k, const double* x, int dim) {
  double s = 0;
  for (int d = 0; d < dim; ++d) s += k[d] * x[d];
  return s;
}

// Minimum of a function on T^d: a grid search, then golden-section refinement along each axis in
// turn around the best grid point. Precise to ~1e-12 for the smooth densities used here.
double minimum_on_torus(const std::function<double(const double*)>& f, int dim, int n) {
  double best[3] = {0, 0, 0}, best_value = f(best);
  const int n2 = dim >= 2 ? n : 1, n3 = dim >= 3 ? n : 1;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n2; ++j)
      for (int k = 0; k < n3; ++k) {
        const double x[3] = {double(i) / n, double(j) / n, double(k) / n};
        const double v = f(x);
        if (v < best_value) {
          best_value = v;
          std::copy(x, x + 3, best);
        }
      }
  const double golden = (std::sqrt(5.0) - 1) / 2;
  double width = 1.0 / n;
  for (int sweep = 0; sweep < 4; ++sweep) {
    for (int d = 0; d < dim; ++d) {
      double lo = best[d] - width, hi = best[d] + width;
      auto along = [&](double t) {
        double x[3] = {best[0], best[1], best[2]};
        x[d] = t;
        return f(x);
      };
      double a = hi - golden * (hi - lo), b = lo + golden * (hi - lo);
      double fa = along(a), fb = along(b);
      for (int it = 0; it < 80 && hi - lo > 1e-13; ++it) {
        if (fa < fb) {
          hi = b, b = a, fb = fa, a = hi - golden * (hi - lo), fa = along(a);
        } else {
          lo = a, a = b, fa = fb, b = lo + golden * (hi - lo), fb = along(b);
        }
      }
      const double t = 0.5 * (lo + hi), v = along(t);
      if (v < best_value) best_value = v, best[d] = t;
    }
    width *= 0.5;
  }
  return best_value;
}

// The minimum of a Fourier density in d = 2, 3: values on an M^d grid by three passes of
// partial sums over one axis at a time (O(M^d K) rather than O(M^d K^d)), then golden-section
// refinement of the best grid point.
double minimum_from_grid(const Density& rho, int dim, int K);

int grid_for_minimum(int dim, int max_mode) {
  if (dim == 1) return std::max(4096, 32 * max_mode);
  if (dim == 2) return std::clamp(16 * max_mode, 128, 1024);
  return std::clamp(8 * max_mode, 32, 96);
}

double normal_cdf_difference(double a, double b) { // Φ(b) − Φ(a), accurate in both tails
  constexpr double s = 0.70710678118654752440;
  if (a >= 0) return 0.5 * (std::erfc(a * s) - std::erfc(b * s));
  if (b <= 0) return 0.5 * (std::erfc(-b * s) - std::erfc(-a * s));
  return 1 - 0.5 * (std::erfc(-a * s) + std::erfc(b * s));
}

} // namespace

// ---- Density1D ---------------------------------------------------------------------------------

namespace {
double wrapped_normal(double y, double sigma);
double wrapped_normal_cumulative(double x, double c, double sigma);
} // namespace

double Density1D::value(double y) const {
  double v = 0;
  if (!b.empty()) {
    const std::complex<double> z = std::polar(1.0, 2 * pi * y);
    std::complex<double> sum = 0;
    for (std::size_t k = b.size() - 1; k >= 1; --k) sum = (sum + b[k]) * z;
    v += b[0].real() + 2 * sum.real();
  }
  for (std::size_t m = 0; m < w.size(); ++m) v += w[m] * wrapped_normal(y - c[m], sigma[m]);
  return v;
}

double Density1D::cumulative(double y) const {
  double f = 0;
  if (!b.empty()) {
    f += b[0].real() * y;
    for (std::size_t k = 1; k < b.size(); ++k)
      f += (b[k] * (std::polar(1.0, 2 * pi * double(k) * y) - 1.0)).imag() / (pi * double(k));
  }
  for (std::size_t m = 0; m < w.size(); ++m) f += w[m] * wrapped_normal_cumulative(y, c[m], sigma[m]);
  return f;
}

double Density1D::total() const {
  double t = b.empty() ? 0.0 : b[0].real();
  for (double wm : w) t += wm;
  return t;
}

double Density1D::quantile(double u) const {
  if (u <= 0) return 0.0;
  if (u >= 1) return std::nextafter(1.0, 0.0);
  const double target = u * total();
  const double tolerance = 4e-16 * std::max(1.0, total());
  double lo = 0, hi = 1, x = u;
  for (int it = 0; it < 200; ++it) {
    const double residual = cumulative(x) - target;
    if (residual > 0) hi = x;
    else lo = x;
    if (std::abs(residual) <= tolerance || hi - lo <= 4e-16) break;
    const double rho = value(x);
    double next = rho > 0 ? x - residual / rho : 0.5 * (lo + hi);
    if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
    x = next;
  }
  return std::min(x, std::nextafter(1.0, 0.0));
}

// ---- Density -----------------------------------------------------------------------------------

void Density::knothe_rosenblatt(const double* u, double* x) const {
  for (int axis = 0; axis < dim(); ++axis) x[axis] = conditional(x, axis).quantile(u[axis]);
}

Density1D UniformDensity::conditional(const double*, int) const {
  Density1D f;
  f.b = {1.0};
  return f;
}

double Density::quantile(double u) const {
  if (u <= 0) return 0.0;
  if (u >= 1) return std::nextafter(1.0, 0.0);
  double lo = 0, hi = 1, x = u;
  for (int it = 0; it < 200; ++it) {
    const double residual = cumulative(x) - u;
    if (residual > 0) hi = x;
    else lo = x;
    if (std::abs(residual) <= 4e-16 || hi - lo <= 4e-16) break;
    const double rho = value(&x);
    double next = rho > 0 ? x - residual / rho : 0.5 * (lo + hi);
    if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
    x = next;
  }
  return std::min(x, std::nextafter(1.0, 0.0));
}

std::complex<double> UniformDensity::fourier_coefficient(const Wavevector& k) const {
  return (k[0] == 0 && k[1] == 0 && k[2] == 0) ? 1.0 : 0.0;
}

// ---- FourierDensity ------------------------------------------------------------------------------

namespace {

double minimum_from_grid(const Density& rho, int dim, int K) {
  const auto& modes = static_cast<const FourierDensity&>(rho).modes();
  const int M = std::clamp(4 * K + 4, 32, dim == 2 ? 512 : 128);
  const int W = 2 * K + 1;
  const int n2 = dim >= 2 ? W : 1, n3 = dim >= 3 ? W : 1;
  // Dense coefficients c(k) over [−K, K]^d, both members of each ±k pair.
  std::vector<std::complex<double>> c(std::size_t(W) * n2 * n3, 0.0);
  auto at = [&](int k0, int k1, int k2) -> std::complex<double>& {
    return c[(std::size_t(k0 + K) * n2 + (dim >= 2 ? k1 + K : 0)) * n3 + (dim >= 3 ? k2 + K : 0)];
  };
  for (const auto& m : modes) {
    at(m.k[0], m.k[1], m.k[2]) += 0.5 * std::polar(m.amplitude, m.phase);
    at(-m.k[0], -m.k[1], -m.k[2]) += 0.5 * std::polar(m.amplitude, -m.phase);
  }
  std::vector<std::complex<double>> e(std::size_t(M) * W); // e^{2πik x_i}
  for (int i = 0; i < M; ++i)
    for (int k = -K; k <= K; ++k) e[std::size_t(i) * W + k + K] = std::polar(1.0, 2 * pi * k * double(i) / M);
  // Sum out the last axis, then the middle one, then the first.
  std::vector<std::complex<double>> a(std::size_t(W) * n2 * (dim >= 3 ? M : 1));
  const int m3 = dim >= 3 ? M : 1;
  for (int k0 = 0; k0 < W; ++k0)
    for (int k1 = 0; k1 < n2; ++k1)
      for (int l = 0; l < m3; ++l) {
        std::complex<double> sum = 0;
        if (dim >= 3)
          for (int k2 = 0; k2 < n3; ++k2) sum += c[(std::size_t(k0) * n2 + k1) * n3 + k2] * e[std::size_t(l) * W + k2];
        else sum = c[std::size_t(k0) * n2 + k1];
        a[(std::size_t(k0) * n2 + k1) * m3 + l] = sum;
      }
  std::vector<std::complex<double>> b(std::size_t(W) * M * m3);
  for (int k0 = 0; k0 < W; ++k0)
    for (int j = 0; j < M; ++j)
      for (int l = 0; l < m3; ++l) {
        std::complex<double> sum = 0;
        for (int k1 = 0; k1 < n2; ++k1) sum += a[(std::size_t(k0) * n2 + k1) * m3 + l] * e[std::size_t(j) * W + k1];
        b[(std::size_t(k0) * M + j) * m3 + l] = sum;
      }
  double best = 1e300, x_best[3] = {0, 0, 0};
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < M; ++j)
      for (int l = 0; l < m3; ++l) {
        std::complex<double> sum = 0;
        for (int k0 = 0; k0 < W; ++k0) sum += b[(std::size_t(k0) * M + j) * m3 + l] * e[std::size_t(i) * W + k0];
        const double v = 1 + sum.real();
        if (v < best) best = v, x_best[0] = double(i) / M, x_best[1] = double(j) / M, x_best[2] = double(l) / M;
      }
  // Refine around the best grid point, one axis at a time.
  const double golden = (std::sqrt(5.0) - 1) / 2;
  double width = 1.0 / M;
  for (int sweep = 0; sweep < 4; ++sweep, width *= 0.5)
    for (int d = 0; d < dim; ++d) {
      auto along = [&](double t) {
        double x[3] = {x_best[0], x_best[1], x_best[2]};
        x[d] = t;
        return rho.value(x);
      };
      double lo = x_best[d] - width, hi = x_best[d] + width;
      double p = hi - golden * (hi - lo), q = lo + golden * (hi - lo), fp = along(p), fq = along(q);
      for (int it = 0; it < 60 && hi - lo > 1e-12; ++it) {
        if (fp < fq) hi = q, q = p, fq = fp, p = hi - golden * (hi - lo), fp = along(p);
        else lo = p, p = q, fp = fq, q = lo + golden * (hi - lo), fq = along(q);
      }
      const double t = 0.5 * (lo + hi), v = along(t);
      if (v < best) best = v, x_best[d] = t;
    }
  return best;
}

} // namespace

FourierDensity::FourierDensity(int dim, std::vector<FourierMode> modes, std::string type)
    : m_dim(dim), m_modes(std::move(modes)), m_type(std::move(type)) {
  int max_mode = 1;
  for (const auto& m : m_modes) {
    for (int d = dim; d < 3; ++d)
      if (m.k[d] != 0) throw std::invalid_argument("a wavevector has more components than dim");
    if (m.k == Wavevector{0, 0, 0}) throw std::invalid_argument("a mode has k = 0");
    for (int d = 0; d < dim; ++d) max_mode = std::max(max_mode, std::abs(m.k[d]));
  }
  if (dim == 1) {
    m_dense.assign(max_mode + 1, 0.0);
    for (const auto& m : m_modes) {
      // a cos(2πkx + φ) = Re(a e^{iφ} e^{2πikx}), and for k < 0 the conjugate.
      const double sign = m.k[0] > 0 ? 1.0 : -1.0;
      m_dense[std::abs(m.k[0])] += 0.5 * m.amplitude * std::polar(1.0, sign * m.phase);
    }
  }
  if (dim == 1) {
    m_minimum = minimum_on_torus([this](const double* x) { return value(x); }, dim,
                                 grid_for_minimum(dim, max_mode));
  } else {
    m_minimum = minimum_from_grid(*this, dim, max_mode);
  }
  if (!(m_minimum > 0)) {
    std::ostringstream os;
    os << "the density 1 + Σ a cos(2πk·x + φ) must stay positive, but its minimum is "
       << m_minimum;
    throw std::invalid_argument(os.str());
  }
}

double FourierDensity::value(const double* x) const {
  if (m_dim == 1) {
    // Horner's scheme in z = e^{2πix}, stable on the unit circle.
    const std::complex<double> z = std::polar(1.0, 2 * pi * x[0]);
    std::complex<double> sum = 0;
    for (std::size_t k = m_dense.size() - 1; k >= 1; --k) sum = (sum + m_dense[k]) * z;
    return 1 + 2 * sum.real();
  }
  double v = 1;
  for (const auto& m : m_modes) v += m.amplitude * std::cos(2 * pi * dot(m.k, x, m_dim) + m.phase);
  return v;
}

std::complex<double> FourierDensity::fourier_coefficient(const Wavevector& k) const {
  if (k == Wavevector{0, 0, 0}) return 1.0;
  std::complex<double> c = 0;
  const Wavevector minus{-k[0], -k[1], -k[2]};
  for (const auto& m : m_modes) {
    if (m.k == k) c += 0.5 * m.amplitude * std::polar(1.0, m.phase);
    if (m.k == minus) c += 0.5 * m.amplitude * std::polar(1.0, -m.phase);
  }
  return c;
}

std::vector<Wavevector> FourierDensity::spectrum(double) const {
  std::vector<Wavevector> ks;
  for (const auto& m : m_modes) {
    const auto k = half_space(m.k);
    if (std::find(ks.begin(), ks.end(), k) == ks.end()) ks.push_back(k);
  }
  return ks;
}

double FourierDensity::cumulative(double x) const {
  double f = x;
  for (std::size_t k = 1; k < m_dense.size(); ++k) {
    // ∫_0^x 2 Re(c e^{2πiky}) dy = Im(c (e^{2πikx} − 1)) / (πk)
    const auto e = std::polar(1.0, 2 * pi * double(k) * x) - 1.0;
    f += (m_dense[k] * e).imag() / (pi * double(k));
  }
  return f;
}

Density1D FourierDensity::conditional(const double* prefix, int axis) const {
  // The modes that survive integrating out the later axes (k_j = 0 for j > axis), each
  // a cos(2π Σ_{j<axis} k_j x_j + 2π k_axis y + φ) = Re(a e^{iθ} e^{2πik_axis y}).
  Density1D f;
  if (m_dim == 1) {
    f.b = m_dense;
    f.b[0] = 1.0;
    return f;
  }
  int K = 0;
  for (const auto& m : m_modes)
    for (int d = 0; d < m_dim; ++d) K = std::max(K, std::abs(m.k[d]));
  // e^{2πimx_j} for m = −K…K on the earlier axes, by recurrence.
  std::vector<std::vector<std::complex<double>>> powers(axis, std::vector<std::complex<double>>(2 * K + 1));
  for (int j = 0; j < axis; ++j) {
    const auto z = std::polar(1.0, 2 * pi * prefix[j]);
    powers[j][K] = 1.0;
    for (int m = 1; m <= K; ++m) {
      powers[j][K + m] = powers[j][K + m - 1] * z;
      powers[j][K - m] = std::conj(powers[j][K + m]);
    }
  }
  f.b.assign(K + 1, 0.0);
  f.b[0] = 1.0;
  for (const auto& m : m_modes) {
    bool survives = true;
    for (int j = axis + 1; j < m_dim; ++j) survives = survives && m.k[j] == 0;
    if (!survives) continue;
    std::complex<double> phase = std::polar(m.amplitude, m.phase);
    for (int j = 0; j < axis; ++j) phase *= powers[j][K + m.k[j]];
    const int k = m.k[axis];
    if (k == 0) f.b[0] += phase.real();
    else if (k > 0) f.b[k] += 0.5 * phase;
    else f.b[-k] += 0.5 * std::conj(phase);
  }
  return f;
}

FourierDensity make_perturbed_density(int dim, double r, int max_mode, double rho_min,
                                      std::uint64_t seed) {
  if (max_mode < 1) throw std::invalid_argument("modes must be >= 1");
  if (!(rho_min > 0 && rho_min < 1)) throw std::invalid_argument("rho_min must lie in (0, 1)");
  std::mt19937_64 rng(seed);
  std::vector<FourierMode> modes;
  const int K = max_mode, ky = dim >= 2 ? K : 0, kz = dim >= 3 ? K : 0;
  for (int i = 0; i <= K; ++i)
    for (int j = -ky; j <= ky; ++j)
      for (int k = -kz; k <= kz; ++k) {
        const Wavevector q{i, j, k};
        if (half_space(q) != q || q == Wavevector{0, 0, 0}) continue;
        const double norm = std::sqrt(double(i) * i + double(j) * j + double(k) * k);
        // 53 random bits give a phase uniform on [0, 2π).
        const double phase = 2 * pi * double(rng() >> 11) * 0x1.0p-53;
        modes.push_back({q, std::pow(norm, -(r + 0.5 * dim)), phase});
      }
  // Scale so that min ρ0 = rho_min: min(1 + a S) = 1 + a min S.
  const FourierDensity unit(dim, [&] {
    auto small = modes;
    double total = 0;
    for (const auto& m : modes) total += m.amplitude;
    for (auto& m : small) m.amplitude *= 0.5 / total; // 1 + S/(2 Σ|a|) stays positive
    return small;
  }());
  double total = 0;
  for (const auto& m : modes) total += m.amplitude;
  const double min_s = (unit.minimum() - 1) * 2 * total; // min S
  const double a = (1 - rho_min) / -min_s;
  for (auto& m : modes) m.amplitude *= a;
  return FourierDensity(dim, std::move(modes), "perturbed");
}

// ---- WrappedGaussianMixture -----------------------------------------------------------------------

namespace {
constexpr double real_space_sigma_limit = 0.2; // above: Fourier series converge faster

// The 1D wrapped normal density of width σ at y.
double wrapped_normal(double y, double sigma) {
  if (sigma < real_space_sigma_limit) {
    const int n_max = int(std::ceil(9 * sigma)) + 1;
    double sum = 0;
    for (int n = -n_max; n <= n_max; ++n) {
      const double t = (y + n) / sigma;
      sum += std::exp(-0.5 * t * t);
    }
    return sum / (sigma * std::sqrt(2 * pi));
  }
  const int k_max = int(std::ceil(std::sqrt(40 / (2 * pi * pi * sigma * sigma))));
  double sum = 1;
  for (int k = 1; k <= k_max; ++k)
    sum += 2 * std::exp(-2 * pi * pi * sigma * sigma * k * k) * std::cos(2 * pi * k * y);
  return sum;
}

// ∫_0^x of the wrapped normal of width σ centred at c.
double wrapped_normal_cumulative(double x, double c, double sigma) {
  if (sigma < real_space_sigma_limit) {
    const int n_max = int(std::ceil(9 * sigma)) + 2;
    double sum = 0;
    for (int n = -n_max; n <= n_max; ++n)
      sum += normal_cdf_difference((n - c) / sigma, (x - c + n) / sigma);
    return sum;
  }
  const int k_max = int(std::ceil(std::sqrt(40 / (2 * pi * pi * sigma * sigma))));
  double sum = x;
  for (int k = 1; k <= k_max; ++k)
    sum += std::exp(-2 * pi * pi * sigma * sigma * k * k) *
           (std::sin(2 * pi * k * (x - c)) + std::sin(2 * pi * k * c)) / (pi * k);
  return sum;
}
} // namespace

WrappedGaussianMixture::WrappedGaussianMixture(int dim, std::vector<GaussianComponent> components)
    : m_dim(dim), m_components(std::move(components)) {
  if (m_components.empty()) throw std::invalid_argument("a mixture needs at least one component");
  double total = 0;
  for (const auto& c : m_components) {
    if (!(c.weight > 0)) throw std::invalid_argument("component weights must be > 0");
    if (!(c.sigma >= 1e-3))
      throw std::invalid_argument("component widths sigma must be >= 1e-3 (narrower ones need "
                                  "more than 10^3 Fourier modes per dimension)");
    total += c.weight;
  }
  for (auto& c : m_components) {
    c.weight /= total;
    for (int d = 0; d < dim; ++d) c.center[d] -= std::floor(c.center[d]);
  }
  double sigma_min = 1;
  for (const auto& c : m_components) sigma_min = std::min(sigma_min, c.sigma);
  m_minimum = minimum_on_torus([this](const double* x) { return value(x); }, dim,
                               grid_for_minimum(dim, int(std::ceil(1 / sigma_min))));
}

double WrappedGaussianMixture::value(const double* x) const {
  double v = 0;
  for (const auto& c : m_components) {
    double p = c.weight;
    for (int d = 0; d < m_dim; ++d) p *= wrapped_normal(x[d] - c.center[d], c.sigma);
    v += p;
  }
  return v;
}

std::complex<double> WrappedGaussianMixture::fourier_coefficient(const Wavevector& k) const {
  std::complex<double> sum = 0;
  double k2 = 0;
  for (int d = 0; d < m_dim; ++d) k2 += double(k[d]) * k[d];
  for (const auto& c : m_components) {
    double phase = 0;
    for (int d = 0; d < m_dim; ++d) phase += k[d] * c.center[d];
    sum += c.weight * std::exp(-2 * pi * pi * c.sigma * c.sigma * k2) *
           std::polar(1.0, -2 * pi * phase);
  }
  return sum;
}

std::vector<Wavevector> WrappedGaussianMixture::spectrum(double cutoff) const {
  double sigma_min = 1;
  for (const auto& c : m_components) sigma_min = std::min(sigma_min, c.sigma);
  const double k2_max = std::log(1 / cutoff) / (2 * pi * pi * sigma_min * sigma_min);
  const int K = int(std::floor(std::sqrt(k2_max)));
  const int ky = m_dim >= 2 ? K : 0, kz = m_dim >= 3 ? K : 0;
  std::vector<Wavevector> ks;
  for (int i = 0; i <= K; ++i)
    for (int j = -ky; j <= ky; ++j)
      for (int k = -kz; k <= kz; ++k) {
        const Wavevector q{i, j, k};
        if (half_space(q) != q || q == Wavevector{0, 0, 0}) continue;
        if (double(i) * i + double(j) * j + double(k) * k <= k2_max) ks.push_back(q);
      }
  return ks;
}

Density1D WrappedGaussianMixture::conditional(const double* prefix, int axis) const {
  // Each component is a product over axes: integrating the later ones out leaves 1, the earlier
  // ones reweight the components.
  Density1D f;
  for (const auto& c : m_components) {
    double weight = c.weight;
    for (int j = 0; j < axis; ++j) weight *= wrapped_normal(prefix[j] - c.center[j], c.sigma);
    f.w.push_back(weight);
    f.c.push_back(c.center[axis]);
    f.sigma.push_back(c.sigma);
  }
  return f;
}

double WrappedGaussianMixture::cumulative(double x) const {
  double f = 0;
  for (const auto& c : m_components)
    f += c.weight * wrapped_normal_cumulative(x, c.center[0], c.sigma);
  return f;
}

} // namespace kmdflow
