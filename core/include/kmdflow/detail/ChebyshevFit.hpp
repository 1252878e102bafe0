#pragma once
// Chebyshev interpolation on an interval, truncated where the coefficients reach the noise of the
// sampled function: shared by the kernel tables.

#include <Kokkos_Core.hpp>

#include <cmath>
#include <vector>

// Complete unrolling of short fixed loops inside pair kernels, so that the loop over pairs
// around them is the innermost one and vectorises.
#if defined(__CUDA_ARCH__) || defined(__HIP_DEVICE_COMPILE__)
#define KMDFLOW_UNROLL _Pragma("unroll")
#elif defined(__NVCC__) // the host pass of a CUDA build: neither pragma is understood by both tools
#define KMDFLOW_UNROLL
#elif defined(__clang__)
#define KMDFLOW_UNROLL _Pragma("clang loop unroll(full)")
#elif defined(__GNUC__)
#define KMDFLOW_UNROLL _Pragma("GCC unroll 64")
#else
#define KMDFLOW_UNROLL
#endif

namespace kmdflow::detail {

/// Clenshaw's recurrence for Σ_{k<n} c_k T_k(t), t ∈ [−1, 1]; Fixed > 0 fixes n at compile time
/// (fully unrolled, so that a loop around it can vectorise). Evaluated in the precision of t.
template <int Fixed = 0, class Real = double>
KOKKOS_INLINE_FUNCTION Real clenshaw(const double* c, int n, Real t) {
  if constexpr (Fixed > 0) n = Fixed;
  const Real two_t = 2 * t;
  Real b1 = 0, b2 = 0;
  KMDFLOW_UNROLL
  for (int k = (Fixed > 0 ? Fixed : n) - 1; k >= 1; --k) {
    const Real b0 = two_t * b1 - b2 + Real(c[k]);
    b2 = b1;
    b1 = b0;
  }
  return t * b1 - b2 + Real(c[0]);
}

/// Σ c_k T_k(t) with t = (2u − a − b)/(b − a), up to Terms coefficients, device callable.
template <int Terms> struct ChebyshevSeries {
  Kokkos::Array<double, Terms> c{};
  int terms = 0;
  double a = 0, b = 1;

  KOKKOS_INLINE_FUNCTION double operator()(double u) const {
    return clenshaw(c.data(), terms, (2 * u - a - b) / (b - a));
  }

  /// Interpolates f at Terms Chebyshev–Gauss nodes of [a, b]. The coefficients decay
  /// geometrically until they reach the ~1e-15 relative noise of f; the series stops there.
  template <class F> static ChebyshevSeries fit(F&& f, double a, double b) {
    ChebyshevSeries s;
    s.a = a, s.b = b;
    constexpr int n = Terms;
    std::vector<double> values(n);
    for (int j = 0; j < n; ++j) values[j] = f(a + (b - a) * (std::cos(M_PI * (j + 0.5) / n) + 1) / 2);
    double largest = 0;
    for (int k = 0; k < n; ++k) {
      double sum = 0;
      for (int j = 0; j < n; ++j) sum += values[j] * std::cos(M_PI * k * (j + 0.5) / n);
      s.c[k] = (k == 0 ? 1.0 : 2.0) * sum / n;
      largest = std::max(largest, std::abs(s.c[k]));
    }
    s.terms = n;
    for (int k = 1; k + 1 < n; ++k)
      if (std::abs(s.c[k]) < 1e-15 * largest && std::abs(s.c[k + 1]) < 1e-15 * largest) {
        s.terms = k;
        break;
      }
    for (int k = s.terms; k < n; ++k) s.c[k] = 0;
    return s;
  }
};

} // namespace kmdflow::detail

namespace kmdflow::detail {

/// A piecewise Chebyshev series of f(u) on [a, b]: Pieces equal intervals, each with at most Terms
/// coefficients (zero-padded). Short series keep the dependency chain of Clenshaw's recurrence
/// short, which is what bounds the speed of a pair kernel. With `radial` the pieces are equal in
/// √u (the table's variable is r where u = r²): finer near 0, for functions with a length scale.
template <int Pieces, int Terms> struct PiecewiseChebyshev {
  Kokkos::Array<double, Pieces * Terms> c{};
  double a = 0, b = 1; // the interval of the table's variable (u, or √u when radial)
  bool radial = false;
  int max_terms = 0; // the most any piece needed

  KOKKOS_INLINE_FUNCTION double operator()(double u) const {
    const double x = radial ? Kokkos::sqrt(u) : u;
    const double scaled = (x - a) * (Pieces / (b - a));
    int piece = int(scaled);
    piece = piece < 0 ? 0 : (piece >= Pieces ? Pieces - 1 : piece);
    return clenshaw<Terms>(&c[piece * Terms], Terms, 2 * (scaled - piece) - 1);
  }

  template <class F> static PiecewiseChebyshev fit(F&& f, double a, double b, bool radial = false) {
    PiecewiseChebyshev p;
    p.radial = radial;
    p.a = radial ? std::sqrt(a) : a, p.b = radial ? std::sqrt(b) : b;
    auto g = [&](double x) { return f(radial ? x * x : x); };
    const double width = (p.b - p.a) / Pieces;
    for (int piece = 0; piece < Pieces; ++piece) {
      const auto s = ChebyshevSeries<Terms>::fit(g, p.a + piece * width, p.a + (piece + 1) * width);
      for (int k = 0; k < Terms; ++k) p.c[piece * Terms + k] = s.c[k];
      p.max_terms = std::max(p.max_terms, s.terms);
    }
    return p;
  }
};

} // namespace kmdflow::detail
