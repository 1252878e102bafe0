#include <kmdflow/RealFft.hpp>

#include <fftw3.h>

#include <chrono>
#include <mutex>
#include <stdexcept>

namespace kmdflow {

namespace {

// FFTW's planner is not thread safe, and its threads must be initialised once.
std::mutex& planner_mutex() {
  static std::mutex mutex;
  return mutex;
}

bool measure_pays(const std::vector<int>& dims) {
  double points = 1;
  for (int n : dims) points *= n;
  return dims.size() >= 2 && points >= double(1 << 21);
}

class FftwRealFft final : public RealFft {
public:
  FftwRealFft(const std::vector<int>& dims, double* real, std::complex<double>* half, int threads,
              FftPlanning planning) {
    const auto begin = std::chrono::steady_clock::now();
    std::lock_guard<std::mutex> lock(planner_mutex());
    static const bool initialised = fftw_init_threads() != 0;
    if (!initialised) throw std::runtime_error("FFTW: cannot initialise its threads");
    fftw_plan_with_nthreads(threads);
    auto* complex = reinterpret_cast<fftw_complex*>(half);
    const int rank = int(dims.size());
    auto plan = [&](double* r, fftw_complex* c, unsigned flags) {
      m_forward = fftw_plan_dft_r2c(rank, dims.data(), r, c, flags);
      m_inverse = fftw_plan_dft_c2r(rank, dims.data(), c, r, flags);
    };
    m_measured = planning == FftPlanning::measure || (planning == FftPlanning::automatic && measure_pays(dims));
    if (m_measured) {
      // FFTW_MEASURE overwrites the arrays it times: measure on scratch buffers (the wisdom stays in
      // the process), then plan the caller's buffers from that wisdom alone.
      std::size_t points = 1;
      for (int d = 0; d + 1 < rank; ++d) points *= std::size_t(dims[d]);
      const std::size_t half_points = points * std::size_t(dims[rank - 1] / 2 + 1);
      points *= std::size_t(dims[rank - 1]);
      const std::unique_ptr<double, void (*)(void*)> scratch_real(fftw_alloc_real(points), fftw_free);
      const std::unique_ptr<fftw_complex, void (*)(void*)> scratch_half(fftw_alloc_complex(half_points), fftw_free);
      if (!scratch_real || !scratch_half) throw std::runtime_error("FFTW: no memory for measuring a plan");
      plan(scratch_real.get(), scratch_half.get(), FFTW_MEASURE);
      destroy();
      plan(real, complex, FFTW_MEASURE | FFTW_WISDOM_ONLY);
      if (!m_forward || !m_inverse) { // the buffers' alignment differs from the scratch buffers'
        destroy();
        m_measured = false;
      }
    }
    if (!m_measured) plan(real, complex, FFTW_ESTIMATE);
    if (!m_forward || !m_inverse) throw std::runtime_error("FFTW: planning failed");
    m_plan_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  }
  ~FftwRealFft() override {
    std::lock_guard<std::mutex> lock(planner_mutex());
    destroy();
  }
  void forward() override { fftw_execute(m_forward); }
  void inverse() override { fftw_execute(m_inverse); }
  const char* library() const override { return "FFTW"; }
  const char* planning() const override { return m_measured ? "measure" : "estimate"; }
  double plan_seconds() const override { return m_plan_seconds; }

private:
  void destroy() { // with the planner's lock held
    if (m_forward) fftw_destroy_plan(m_forward);
    if (m_inverse) fftw_destroy_plan(m_inverse);
    m_forward = m_inverse = nullptr;
  }
  fftw_plan m_forward = nullptr, m_inverse = nullptr;
  bool m_measured = false;
  double m_plan_seconds = 0;
};

} // namespace

std::unique_ptr<RealFft> make_host_real_fft(const std::vector<int>& dims, double* real,
                                            std::complex<double>* half, int threads, FftPlanning planning) {
  return std::make_unique<FftwRealFft>(dims, real, half, threads, planning);
}

const char* fftw_version_string() { return fftw_version; }

} // namespace kmdflow
