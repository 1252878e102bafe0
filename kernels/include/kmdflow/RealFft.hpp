#pragma once
// Real-to-complex and complex-to-real FFTs on a periodic d-dimensional grid, behind one interface:
// FFTW on the host, cuFFT on NVIDIA GPUs (kernels/src/cuda/CufftRealFft.cu); detail/FftBackend.hpp
// chooses between them.
// Grids are row major; the complex half array keeps n_{d−1}/2 + 1 entries in its last dimension.

#include <array>
#include <complex>
#include <memory>
#include <string>
#include <vector>

namespace kmdflow {

class RealFft {
public:
  virtual ~RealFft() = default;
  /// complex(k) = Σ_g real(g) e^{−2πi k·g/n}, on the buffers the transform was planned with.
  virtual void forward() = 0;
  /// real(g) = Σ_k complex(k) e^{+2πi k·g/n} (unnormalised); the complex buffer is overwritten.
  virtual void inverse() = 0;
  virtual const char* library() const = 0;
  /// "estimate", "measure" (FFTW), or "library" (cuFFT plans itself).
  virtual const char* planning() const { return "library"; }
  /// Seconds spent planning.
  virtual double plan_seconds() const { return 0; }
};

/// How hard FFTW plans. `estimate`: at once, from heuristics. `measure`: by timing candidate
/// algorithms (FFTW_MEASURE) — seconds for large grids, paid once per size and process (FFTW keeps
/// the wisdom), for transforms up to 4× faster (3D grids of 512³: 1.78 s → 0.42 s on 2 cores).
/// `automatic`: measure where that pays within a few evaluations — d ≥ 2 and at least 2²¹ points.
enum class FftPlanning { automatic, estimate, measure };

/// FFTW3 (with its OpenMP threads), planned once on the given buffers, which must outlive the
/// object: `real` holds Π n_d doubles, `half` Π_{d<last} n_d (n_last/2 + 1) complex numbers. The
/// buffers' contents are kept: measuring happens on scratch buffers of the same size.
std::unique_ptr<RealFft> make_host_real_fft(const std::vector<int>& dims, double* real,
                                            std::complex<double>* half, int threads,
                                            FftPlanning planning = FftPlanning::estimate);

/// cuFFT (kernels/src/cuda/CufftRealFft.cu, compiled in CUDA builds only): D2Z and Z2D transforms
/// on device buffers (`real`, `half` as above), executed on `stream` (a cudaStream_t: the Kokkos
/// execution space's, so that the transforms are ordered with its kernels; null: the default stream).
std::unique_ptr<RealFft> make_cuda_real_fft(const std::vector<int>& dims, double* real,
                                            std::complex<double>* half, void* stream = nullptr);

/// The FFTW version string ("fftw-3.3.10-…").
const char* fftw_version_string();

/// CUDA builds only (CufftRealFft.cu): "cuFFT <version>" and the current GPU's name.
std::string cufft_version_string();
std::string cuda_device_name();

} // namespace kmdflow
