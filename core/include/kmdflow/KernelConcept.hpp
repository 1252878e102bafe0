#pragma once
// The seam between the model's kernels and the engines (DESIGN.md §5): what an engine, a target
// potential or the PDE may ask of a kernel k on T^d. Each kernel family (SobolevKernel.hpp,
// BesselKernel.hpp, GaussianKernel.hpp) models these concepts in its own file; Kernel.hpp
// registers the families. Nothing downstream of this header names a family or its parameters.
//
//   TorusKernel      the Fourier symbol k̂(k), the value at the origin, a host reference k(x)
//   SplitKernel      kernels singular at the origin: the pieces of an Ewald split at a parameter α,
//                    k(x) = Σ_n h(x + n) + Σ_k L̂(k) e^{2πik·x}, h = S + (smooth) near 0
//   RealSpaceKernel  smooth kernels whose exact periodic value an engine evaluates pair by pair
//                    (a device functor), with a symbol that decays fast enough for a pure NUFFT

#include <Kokkos_Core.hpp>
#include <nlohmann/json.hpp>

#include <array>
#include <limits>
#include <concepts>

namespace kmdflow {

/// Parameters of an Ewald split (DESIGN.md §3).
struct EwaldParameters {
  double alpha = 1.0 / 80;      ///< split parameter: the real-space part decays like e^{−r²/4α}
  double tail_exponent = 46.0;  ///< terms below e^{−tail_exponent} are dropped (both spaces)
  bool long_range_modes = true; ///< enumerate the long-range wavevectors (false: engines that sum them their own way)
};

/// The part of a kernel that is not smooth in r² at the origin (DESIGN.md §1),
///   S(r) = e^{−κr²} [Σ_j a_j r^{p + 2j} + ln r · Σ_j b_j r^{2m + 2j}],
/// empty for kernels that are smooth there. The Sobolev kernel has one term (c r^{2s−d}, or
/// c_m r^{2m} ln r) and κ = 0; the Bessel potential a few (its expansion in powers of λ²), damped
/// by e^{−κr²} so that S stays as small as the kernel where λr is large. Engines subtract it
/// analytically and tabulate the smooth remainder, in r² (κ = 0) or in r (a kernel with a length
/// scale, κ > 0).
struct SingularPart {
  static constexpr int max_terms = 16;
  int power_terms = 0; ///< number of a_j
  double exponent = 0; ///< p
  Kokkos::Array<double, max_terms> power{};
  int log_terms = 0;   ///< number of b_j
  int log_power = 0;   ///< m
  Kokkos::Array<double, max_terms> log{};
  double decay = 0;    ///< κ

  bool empty() const { return power_terms == 0 && log_terms == 0; }
  /// S(r), r > 0.
  double value(double r) const;
  /// S'(r)/r, r > 0: ∇S(x) = x · gradient_factor(|x|).
  double gradient_factor(double r) const;
};

/// A numeric parameter of a kernel family's `kernel` block (DESIGN.md §7), with its valid range.
struct KernelParameter {
  const char* name;   ///< the key
  const char* rule;   ///< what the error says: "must be a number >= 1e-3 (the width σ)"
  double minimum;     ///< the smallest valid value
  bool exclusive;     ///< the minimum itself is invalid
  double maximum = std::numeric_limits<double>::infinity(); ///< the largest valid value
};

/// A kernel on T^d, d ∈ {1, 2, 3}: host side, copyable. Its configuration: the keys of its
/// `kernel` block (config_keys, validated by Config.cpp) and from_config(resolved configuration).
/// The engines and every energy work with the kernel less its mean, k − k̂(0): the constant moves
/// nobody and, between probability measures (μ̂(0) = ν̂(0) = 1), adds nothing to ½‖μ − ν‖²_k, but
/// kept in, it would cancel between the energy's parts (k̂(0) = λ^{−2s} for the Bessel potential
/// at small λ). value_at_zero and reference_value are of k − k̂(0).
template <class K>
concept TorusKernel = std::copy_constructible<K> && requires(const K& k, double k2, const double* x, double* g,
                                                             const nlohmann::json& config) {
  { K::family } -> std::convertible_to<const char*>; ///< its name in the configuration ("sobolev", ...)
  { K::config_keys.size() } -> std::convertible_to<std::size_t>;
  { K::from_config(config) } -> std::same_as<K>;
  { k.dim() } -> std::same_as<int>;
  { k.symbol(k2) } -> std::same_as<double>;          ///< k̂(k) at |k|² = k2 > 0
  { k.symbol_at_zero() } -> std::same_as<double>;    ///< k̂(0), the mean (for the records)
  { k.has_finite_self_energy() } -> std::same_as<bool>; ///< k(0) finite
  { k.value_at_zero() } -> std::same_as<double>;     ///< (k − k̂(0))(0), where finite
  { k.has_singular_gradient() } -> std::same_as<bool>;  ///< |∇k| unbounded at 0
  { k.reference_value(x) } -> std::same_as<double>;  ///< (k − k̂(0))(x), x not a lattice point (slow)
  { k.reference_gradient(x, g) };                    ///< ∇k(x), 0 at lattice points
  { k.parameters() } -> std::same_as<nlohmann::json>; ///< {"type": family, parameters...}
};

/// A kernel with an Ewald split: k(x) − k̂(0) = Σ_n h(|x + n|) + Σ_{k≠0} L̂(k) e^{2πik·x} + C at the
/// split parameter of with_split(α, tail), C = long_range_symbol(0) = L̂(0) − k̂(0) (−α^s/Γ(s+1)
/// for the Sobolev kernel); h = S + (smooth in r²) near 0, with S = singular_part().
template <class K>
concept SplitKernel = TorusKernel<K> && requires(const K& k, double alpha, double tail, double u) {
  { k.singular_part() } -> std::same_as<SingularPart>;
  { k.with_split(alpha, tail) } -> std::same_as<K>; ///< the same kernel split at α (no wavevector list)
  { k.ewald_parameters() } -> std::convertible_to<EwaldParameters>;
  { k.short_range_value(u) } -> std::same_as<double>;                   ///< h, at r² = u > 0
  { k.short_range_gradient_factor(u) } -> std::same_as<double>;         ///< ∇h(x) = x · factor
  { k.short_range_regular_value(u) } -> std::same_as<double>;           ///< h − S, smooth in u ≥ 0
  { k.short_range_regular_gradient_factor(u) } -> std::same_as<double>; ///< ∇(h − S) = x · factor
  { k.long_range_symbol(u) } -> std::same_as<double>; ///< L̂(k) at |k|² = u > 0; u = 0: the constant C
  /// |k|² beyond which L̂ falls below e^{−tail} (relative), for a split at α.
  { k.long_range_cutoff2(alpha, tail) } -> std::same_as<double>;
};

/// A smooth kernel that engines evaluate exactly pair by pair: K::PairFunctor is device callable,
/// with value(y) and gradient(y) (templated on the dimension and the precision) of k itself (its
/// mean included: the engines subtract k̂(0)) at a coordinate difference y ∈ (−1, 1)^d, periodic
/// images included.
template <class K>
concept RealSpaceKernel = TorusKernel<K> && requires(const K& k, double tail) {
  typename K::PairFunctor;
  { k.pair_functor() } -> std::same_as<typename K::PairFunctor>;
  /// |k|² beyond which the symbol falls below e^{−tail} of its value at 0 (a pure NUFFT's modes).
  { k.spectral_cutoff2(tail) } -> std::same_as<double>;
};

} // namespace kmdflow
