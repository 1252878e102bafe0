#include <kmdflow/KernelConcept.hpp>

#include <cmath>

namespace kmdflow {

// Term by term, in the form of DESIGN.md §1 (c r^p; c_m r^{2m} ln r), so that a one-term part
// evaluates exactly as the Sobolev kernel's closed forms.
namespace {
// The bracket of S (the sums without e^{−κr²}) and its derivative over r.
double bracket(const SingularPart& s, double r) {
  double sum = 0;
  for (int j = 0; j < s.power_terms; ++j) sum += s.power[j] * std::pow(r, s.exponent + 2 * j);
  for (int j = 0; j < s.log_terms; ++j) sum += s.log[j] * std::pow(r, 2 * (s.log_power + j)) * std::log(r);
  return sum;
}
double bracket_gradient_factor(const SingularPart& s, double r) {
  double sum = 0;
  for (int j = 0; j < s.power_terms; ++j) {
    const double p = s.exponent + 2 * j;
    sum += s.power[j] * p * std::pow(r, p - 2);
  }
  for (int j = 0; j < s.log_terms; ++j) {
    const int m = s.log_power + j;
    sum += s.log[j] * std::pow(r, 2 * m - 2) * (2 * m * std::log(r) + 1);
  }
  return sum;
}
} // namespace

double SingularPart::value(double r) const {
  if (decay == 0) return bracket(*this, r);
  return std::exp(-decay * r * r) * bracket(*this, r);
}

double SingularPart::gradient_factor(double r) const {
  if (decay == 0) return bracket_gradient_factor(*this, r);
  return std::exp(-decay * r * r) * (bracket_gradient_factor(*this, r) - 2 * decay * bracket(*this, r));
}

} // namespace kmdflow
