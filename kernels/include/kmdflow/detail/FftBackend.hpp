#pragma once
// The one place that chooses the FFT library (RealFft.hpp): cuFFT on the CUDA backend, on the
// execution space's stream; FFTW with the space's threads everywhere else.

#include <kmdflow/RealFft.hpp>

#include <Kokkos_Core.hpp>

#include <complex>
#include <memory>
#include <type_traits>
#include <vector>

namespace kmdflow::detail {

/// Real-to-complex and complex-to-real transforms of an n_0 × … grid (`shape`) on buffers of the
/// space's memory: `real` with Π n_a doubles, `half` with the half grid (HalfGrid.hpp). FFTW plans
/// as `planning` says (RealFft.hpp); cuFFT chooses its own algorithms.
template <class ExecutionSpace>
std::unique_ptr<RealFft> make_real_fft(const ExecutionSpace& space, const std::vector<int>& shape, double* real,
                                       std::complex<double>* half,
                                       FftPlanning planning = FftPlanning::automatic) {
#if defined(KOKKOS_ENABLE_CUDA)
  if constexpr (std::is_same_v<ExecutionSpace, Kokkos::Cuda>)
    return make_cuda_real_fft(shape, real, half, space.cuda_stream());
#endif
  return make_host_real_fft(shape, real, half, space.concurrency(), planning);
}

} // namespace kmdflow::detail
