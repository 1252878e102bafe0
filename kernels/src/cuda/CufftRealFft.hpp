#pragma once
// cuFFT behind the RealFft interface, for device buffers. This translation unit needs only the
// CUDA toolkit (no Kokkos), so that scripts/test can compile it with nvcc on any machine where
// nvcc is installed, GPU or not.

#include <kmdflow/RealFft.hpp>

namespace kmdflow {

/// Plans D2Z and Z2D transforms on device buffers (`real`, `half` as for make_host_real_fft),
/// executed on `stream` (a cudaStream_t: the Kokkos execution space's, so that the transforms are
/// ordered with its kernels; null: the default stream).
std::unique_ptr<RealFft> make_cuda_real_fft(const std::vector<int>& dims, double* real,
                                            std::complex<double>* half, void* stream = nullptr);

} // namespace kmdflow
