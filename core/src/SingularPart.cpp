#include <kmdflow/KernelConcept.hpp>

#include <cmath>

namespace kmdflow {

// Term by term, in the form of DESIGN.md §1 (c r^p; c_m r^{2m} ln r), so that a one-term part
// evaluates exactly as the Sobolev kernel's closed forms.
double SingularPart::value(double r) const {
  double sum = 0;
  for (int j = 0; j < power_terms; ++j) sum += power[j] * std::pow(r, exponent + 2 * j);
  for (int j = 0; j < log_terms; ++j) sum += log[j] * std::pow(r, 2 * (log_power + j)) * std::log(r);
  return sum;
}

double SingularPart::gradient_factor(double r) const {
  double sum = 0;
  for (int j = 0; j < power_terms; ++j) {
    const double p = exponent + 2 * j;
    sum += power[j] * p * std::pow(r, p - 2);
  }
  for (int j = 0; j < log_terms; ++j) {
    const int m = log_power + j;
    sum += log[j] * std::pow(r, 2 * m - 2) * (2 * m * std::log(r) + 1);
  }
  return sum;
}

} // namespace kmdflow
