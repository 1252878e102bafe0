#pragma once
// The Ewald split as engines use it (DESIGN.md §3; KernelConcept.hpp's SplitKernel): the minimum
// image, the tables of a split kernel's smooth short-range remainder (cached per kernel and split),
// and the assembly of a pair energy from the split's parts.

#include <kmdflow/Kernel.hpp>

#include <Kokkos_Core.hpp>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

namespace kmdflow::detail {

/// The minimum image of a coordinate difference dx ∈ (−1, 1), branch free.
KOKKOS_INLINE_FUNCTION double minimum_image(double dx) {
  return dx - (Kokkos::fabs(dx) > 0.5 ? Kokkos::copysign(1.0, dx) : 0.0);
}

/// A kernel's identity, for the table caches: dimension, family and parameters.
inline std::string kernel_key(const Kernel& kernel) {
  return std::to_string(kernel.dim()) + kernel.parameters().dump();
}

/// The tables for `key`: built by build() on first use, shared afterwards (thread safe). One
/// cache per table type.
template <class Tables, class Build> std::shared_ptr<const Tables> cached_tables(const std::string& key, Build&& build) {
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<const Tables>> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto& slot = cache[key];
  if (!slot) slot = std::make_shared<const Tables>(build());
  return slot;
}

/// ½ Σ_{p≠q} q_p q_q (k − k̂(0))(x_p − x_q) from the parts of a split: the short-range pair sum, the
/// long range ½ Σ_{k≠0} L̂ |ρ̂|² less its diagonal ½ (Σ_{k≠0} L̂) Σ q², and the constant term
/// ½ C ((Σ q)² − Σ q²).
inline double split_pair_energy(double short_range, double long_range, double long_range_at_zero, double constant,
                                double sum_q, double sum_q2) {
  long_range -= 0.5 * long_range_at_zero * sum_q2;
  const double constant_term = constant * 0.5 * (sum_q * sum_q - sum_q2);
  return short_range + long_range + constant_term;
}

/// Σ_j q_j and Σ_j q_j².
template <class ExecutionSpace, class Weights>
std::pair<double, double> weight_sums(const ExecutionSpace& space, const char* label, const Weights& weights) {
  double sum_q = 0, sum_q2 = 0;
  Kokkos::parallel_reduce(
      label, Kokkos::RangePolicy<ExecutionSpace>(space, 0, weights.extent(0)),
      KOKKOS_LAMBDA(std::size_t j, double& a, double& b) {
        a += weights(j);
        b += weights(j) * weights(j);
      },
      sum_q, sum_q2);
  return {sum_q, sum_q2};
}

} // namespace kmdflow::detail
