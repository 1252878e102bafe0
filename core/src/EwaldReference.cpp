#include <kmdflow/detail/EwaldReference.hpp>

namespace kmdflow::detail {

std::vector<std::array<int, 3>> half_space_wavevectors(int dim, double k_cut2) {
  std::vector<std::array<int, 3>> wavevectors;
  if (!(k_cut2 >= 1)) return wavevectors;
  const int k_max = int(std::floor(std::sqrt(k_cut2)));
  const int ky_max = dim >= 2 ? k_max : 0, kz_max = dim >= 3 ? k_max : 0;
  for (int kx = 0; kx <= k_max; ++kx)
    for (int ky = -ky_max; ky <= ky_max; ++ky)
      for (int kz = -kz_max; kz <= kz_max; ++kz) {
        // Half space: the first non-zero component is positive.
        const bool upper = kx > 0 || (kx == 0 && (ky > 0 || (ky == 0 && kz > 0)));
        const double k2 = double(kx) * kx + double(ky) * ky + double(kz) * kz;
        if (upper && k2 <= k_cut2) wavevectors.push_back({kx, ky, kz});
      }
  return wavevectors;
}

} // namespace kmdflow::detail
