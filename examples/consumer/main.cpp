// The velocities and energy of N equally spaced particles on the circle towards the uniform
// density, s = 1, through an installed kmdflow: stationary, with energy 1/(24 N²) (DESIGN.md §2).
// Exit code 0 when both hold.
#include <kmdflow/Density.hpp>
#include <kmdflow/Kernel.hpp>
#include <kmdflow/ParticleFlow.hpp>
#include <kmdflow/SobolevKernel.hpp>
#include <kmdflow/Target.hpp>

#include <cmath>
#include <cstdio>
#include <memory>

int main(int argc, char* argv[]) {
  Kokkos::ScopeGuard kokkos(argc, argv);
  using namespace kmdflow;
  const std::size_t n = 1000;
  auto kernel = std::make_shared<const Kernel>(SobolevKernel(1, 1.0));
  auto target = std::make_shared<const Target>(std::make_shared<const UniformDensity>(1), *kernel);
  ScalarView<> weights("weights", n);
  Kokkos::deep_copy(weights, 1.0 / n);
  ParticleFlow flow(kernel, target, weights, make_engine(ForceMethod::automatic, *kernel, *target, n));
  PointView<> x("x", n, 1), v("v", n, 1);
  auto x_host = Kokkos::create_mirror_view(x);
  for (std::size_t i = 0; i < n; ++i) x_host(i, 0) = (i + 0.5) / n;
  Kokkos::deep_copy(x, x_host);
  flow.velocity(x, v);
  const Energies e = flow.energies(x, v);
  const double expected = 1.0 / (24.0 * n * n);
  std::printf("engine %s: max |v| = %.3g, energy %.6e (1/(24 N^2) = %.6e)\n", flow.engine().name().c_str(), e.max_speed,
              e.energy, expected);
  // The energy is the pair sum plus the diagonal ½ Σ w_i² G(0) = 1/(24 N), which nearly cancel:
  // round-off of N terms of that size, N u / (24 N) per term summed, bounds the error by N u / 24.
  const double bound = n * 0x1p-52 / 24;
  return e.max_speed < 1e-12 && std::abs(e.energy - expected) <= bound ? 0 : 1;
}
