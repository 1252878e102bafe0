// cuFFT behind the RealFft interface. This translation unit needs only the CUDA toolkit (no
// Kokkos), so that scripts/test can compile it with nvcc on any machine where nvcc is installed.
#include <kmdflow/RealFft.hpp>

#include <cuda_runtime_api.h>
#include <cufft.h>

#include <stdexcept>
#include <string>

namespace kmdflow {

namespace {

void check(cufftResult status, const char* what) {
  if (status != CUFFT_SUCCESS)
    throw std::runtime_error(std::string("cuFFT: ") + what + " failed (status " + std::to_string(int(status)) + ")");
}

class CufftRealFft final : public RealFft {
public:
  CufftRealFft(const std::vector<int>& dims, double* real, std::complex<double>* half, cudaStream_t stream)
      : m_real(real), m_half(reinterpret_cast<cufftDoubleComplex*>(half)) {
    std::vector<int> n(dims.begin(), dims.end());
    const int rank = int(n.size());
    check(cufftPlanMany(&m_forward, rank, n.data(), nullptr, 1, 0, nullptr, 1, 0, CUFFT_D2Z, 1), "planning D2Z");
    check(cufftPlanMany(&m_inverse, rank, n.data(), nullptr, 1, 0, nullptr, 1, 0, CUFFT_Z2D, 1), "planning Z2D");
    check(cufftSetStream(m_forward, stream), "setting the D2Z stream");
    check(cufftSetStream(m_inverse, stream), "setting the Z2D stream");
  }
  ~CufftRealFft() override {
    cufftDestroy(m_forward);
    cufftDestroy(m_inverse);
  }
  void forward() override { check(cufftExecD2Z(m_forward, m_real, m_half), "D2Z"); }
  void inverse() override { check(cufftExecZ2D(m_inverse, m_half, m_real), "Z2D"); }
  const char* library() const override { return "cuFFT"; }

private:
  double* m_real;
  cufftDoubleComplex* m_half;
  cufftHandle m_forward = 0, m_inverse = 0;
};

} // namespace

std::string cufft_version_string() {
  int version = 0;
  cufftGetVersion(&version);
  return "cuFFT " + std::to_string(version);
}

std::string cuda_device_name() {
  int device = 0;
  cudaDeviceProp properties{};
  if (cudaGetDevice(&device) != cudaSuccess || cudaGetDeviceProperties(&properties, device) != cudaSuccess)
    return "unknown CUDA device";
  return properties.name;
}

std::unique_ptr<RealFft> make_cuda_real_fft(const std::vector<int>& dims, double* real,
                                            std::complex<double>* half, void* stream) {
  return std::make_unique<CufftRealFft>(dims, real, half, static_cast<cudaStream_t>(stream));
}

} // namespace kmdflow
