#include <kmdflow/GaussianKernel.hpp>
#include <kmdflow/SpecialFunctions.hpp>

#include <cmath>
#include <stdexcept>

namespace kmdflow {

GaussianKernel::GaussianKernel(int dim, double sigma) : m_dim(dim), m_sigma(sigma) {
  if (dim < 1 || dim > 3) throw std::invalid_argument("dim must be 1, 2 or 3");
  if (!(sigma >= 1e-3) || !std::isfinite(sigma)) throw std::invalid_argument("sigma must be a finite number >= 1e-3");
  m_pair.inv_two_sigma2 = 1 / (2 * sigma * sigma);
  // Fourier modes: e^{−2π²σ²(K+1)²} below e^{−tail}; they cost one sine and cosine, so they are
  // taken wherever few suffice. Images per side otherwise: the first left out, at distance
  // ≥ ½ + M, is below e^{−tail}.
  const int modes = int(std::ceil(std::sqrt(tail / (2 * pi * pi)) / sigma));
  if (modes > max_modes) {
    m_pair.images = std::max(0, int(std::ceil(std::sqrt(2 * tail) * sigma - 0.5)));
  } else {
    m_pair.fourier = true;
    m_pair.modes = modes;
    const double scale = std::sqrt(2 * pi) * sigma;
    m_pair.f[0] = scale;
    for (int k = 1; k <= modes; ++k) m_pair.f[k] = 2 * scale * std::exp(-2 * pi * pi * sigma * sigma * k * k);
  }
}

double GaussianKernel::symbol(double k2) const {
  return std::pow(2 * pi * m_sigma * m_sigma, 0.5 * m_dim) * std::exp(-2 * pi * pi * m_sigma * m_sigma * k2);
}

double GaussianKernel::value_at_zero() const {
  const double origin[3] = {0, 0, 0};
  return reference_value(origin);
}


namespace {
// θ(y) and θ'(y) over every image within 10σ (e^{−50}) of y.
void theta(double y, double sigma, double& value, double& slope) {
  const int reach = int(std::ceil(10 * sigma)) + 1;
  value = slope = 0;
  for (int n = -reach; n <= reach; ++n) {
    const double z = y - n, e = std::exp(-z * z / (2 * sigma * sigma));
    value += e;
    slope -= z / (sigma * sigma) * e;
  }
}
} // namespace

double GaussianKernel::reference_value(const double* x) const {
  double product = 1;
  for (int a = 0; a < m_dim; ++a) {
    double v, s;
    theta(x[a] - std::round(x[a]), m_sigma, v, s);
    product *= v;
  }
  return product - symbol_at_zero(); // the mean removed (KernelConcept.hpp)
}

void GaussianKernel::reference_gradient(const double* x, double* gradient) const {
  double v[3], s[3];
  for (int a = 0; a < m_dim; ++a) theta(x[a] - std::round(x[a]), m_sigma, v[a], s[a]);
  for (int a = 0; a < m_dim; ++a) {
    gradient[a] = s[a];
    for (int b = 0; b < m_dim; ++b)
      if (b != a) gradient[a] *= v[b];
  }
}

double GaussianKernel::spectral_cutoff2(double tail) const { return tail / (2 * pi * pi * m_sigma * m_sigma); }

} // namespace kmdflow
