#include <kmdflow/RealFft.hpp>

#include <fftw3.h>

#include <mutex>
#include <stdexcept>

namespace kmdflow {

namespace {

// FFTW's planner is not thread safe, and its threads must be initialised once.
std::mutex& planner_mutex() {
  static std::mutex mutex;
  return mutex;
}

class FftwRealFft final : public RealFft {
public:
  FftwRealFft(const std::vector<int>& dims, double* real, std::complex<double>* half, int threads) {
    std::lock_guard<std::mutex> lock(planner_mutex());
    static const bool initialised = fftw_init_threads() != 0;
    if (!initialised) throw std::runtime_error("FFTW: cannot initialise its threads");
    fftw_plan_with_nthreads(threads);
    auto* complex = reinterpret_cast<fftw_complex*>(half);
    const int rank = int(dims.size());
    m_forward = fftw_plan_dft_r2c(rank, dims.data(), real, complex, FFTW_ESTIMATE);
    m_inverse = fftw_plan_dft_c2r(rank, dims.data(), complex, real, FFTW_ESTIMATE);
    if (!m_forward || !m_inverse) throw std::runtime_error("FFTW: planning failed");
  }
  ~FftwRealFft() override {
    std::lock_guard<std::mutex> lock(planner_mutex());
    fftw_destroy_plan(m_forward);
    fftw_destroy_plan(m_inverse);
  }
  void forward() override { fftw_execute(m_forward); }
  void inverse() override { fftw_execute(m_inverse); }
  const char* library() const override { return "FFTW"; }

private:
  fftw_plan m_forward = nullptr, m_inverse = nullptr;
};

} // namespace

std::unique_ptr<RealFft> make_host_real_fft(const std::vector<int>& dims, double* real,
                                            std::complex<double>* half, int threads) {
  return std::make_unique<FftwRealFft>(dims, real, half, threads);
}

const char* fftw_version_string() { return fftw_version; }

} // namespace kmdflow
