#include <kmdflow/Kernel.hpp>

#include <cstdio>
#include <optional>
#include <stdexcept>

namespace kmdflow {

const char* Kernel::family() const {
  return visit([](const auto& k) -> const char* { return std::decay_t<decltype(k)>::family; });
}
int Kernel::dim() const { return visit([](const auto& k) { return k.dim(); }); }
double Kernel::symbol(double k2) const { return visit([&](const auto& k) { return k.symbol(k2); }); }
double Kernel::symbol_at_zero() const { return visit([](const auto& k) { return k.symbol_at_zero(); }); }
bool Kernel::has_finite_self_energy() const { return visit([](const auto& k) { return k.has_finite_self_energy(); }); }
double Kernel::value_at_zero() const { return visit([](const auto& k) { return k.value_at_zero(); }); }
bool Kernel::has_singular_gradient() const { return visit([](const auto& k) { return k.has_singular_gradient(); }); }
nlohmann::json Kernel::parameters() const { return visit([](const auto& k) { return k.parameters(); }); }

std::string Kernel::description() const {
  const auto p = parameters();
  std::string name = p["type"].get<std::string>();
  name[0] = char(std::toupper(name[0]));
  // The order first, then the other parameters (alphabetically: JSON objects are sorted).
  std::vector<std::string> keys;
  if (p.contains("s")) keys.push_back("s");
  for (const auto& [key, value] : p.items())
    if (key != "type" && key != "s") keys.push_back(key);
  std::string text;
  for (const auto& key : keys) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%s%s = %g", text.empty() ? " " : ", ",
                  key == "sigma" ? "σ" : key == "lambda" ? "λ" : key.c_str(), p[key].get<double>());
    text += buffer;
  }
  return name + text;
}

std::vector<std::string> kernel_family_names() {
  std::vector<std::string> names;
  for_each_kernel_family([&](auto family) { names.push_back(decltype(family)::type::family); });
  return names;
}

Kernel make_kernel(const nlohmann::json& config) {
  const std::string type = config.contains("kernel") ? config["kernel"]["type"].get<std::string>()
                                                     : std::string(std::variant_alternative_t<0, KernelFamilies>::family);
  std::optional<Kernel> kernel;
  for_each_kernel_family([&](auto family) {
    using K = typename decltype(family)::type;
    if (type == K::family) kernel.emplace(K::from_config(config));
  });
  if (!kernel) throw std::invalid_argument("unknown kernel type '" + type + "'");
  return *kernel;
}

} // namespace kmdflow
