#pragma once
// Any registered kernel family behind one value type (DESIGN.md §5): what the configuration, the
// flow, the targets and the engines' factories hold. Engines and potentials ask it through the
// concepts of KernelConcept.hpp (visit), never by family.
//
// Registering a family: its file (a class modelling TorusKernel and SplitKernel or
// RealSpaceKernel, with `family`, `config_keys` and `from_config`), and one entry in KernelFamilies.

#include <kmdflow/BesselKernel.hpp>
#include <kmdflow/GaussianKernel.hpp>
#include <kmdflow/SobolevKernel.hpp>

#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace kmdflow {

/// The registered kernel families; the first is the default.
using KernelFamilies = std::variant<SobolevKernel, GaussianKernel, BesselKernel>;

/// Calls f(std::type_identity<K>{}) for every registered family K, in order.
template <class F> void for_each_kernel_family(F&& f) {
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (f(std::type_identity<std::variant_alternative_t<I, KernelFamilies>>{}), ...);
  }(std::make_index_sequence<std::variant_size_v<KernelFamilies>>{});
}

class Kernel {
public:
  template <class K>
    requires TorusKernel<K> && std::is_constructible_v<KernelFamilies, K>
  Kernel(K kernel) : m_kernel(std::move(kernel)) {} // NOLINT: implicit, so that a family converts

  /// Calls f(const K&) with the family's type.
  template <class F> decltype(auto) visit(F&& f) const { return std::visit(std::forward<F>(f), m_kernel); }
  /// The family's object, or null.
  template <class K> const K* get_if() const { return std::get_if<K>(&m_kernel); }

  const char* family() const;
  int dim() const;
  double symbol(double k2) const;     ///< k̂(k), |k|² = k2 > 0
  double symbol_at_zero() const;      ///< k̂(0)
  bool has_finite_self_energy() const;
  double value_at_zero() const;
  bool has_singular_gradient() const;
  /// {"type": family, its parameters}: for the records and the plots.
  nlohmann::json parameters() const;
  /// One line for people: "Sobolev s = 1", "Gaussian σ = 0.1", "Bessel s = 1, λ = 2".
  std::string description() const;

private:
  KernelFamilies m_kernel;
};

/// The names of the registered families ("sobolev", "gaussian", "bessel").
std::vector<std::string> kernel_family_names();

/// The kernel of a resolved configuration (its `kernel` block, and `s` for the Sobolev kernel).
/// std::invalid_argument when the family refuses its parameters.
Kernel make_kernel(const nlohmann::json& config);

} // namespace kmdflow
