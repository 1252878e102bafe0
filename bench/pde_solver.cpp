// The PDE solver (DESIGN.md §4, issue 5): time per SSP-RK3 stage on n^d grids, against the cost of
// the FFTs it performs. A stage is one forward and one inverse FFT (the potential) plus the
// finite-volume update; the step adds the CFL reductions. Reported: the stage time, one FFT's
// time (half of a forward + inverse pair on the same buffers, measured in the same run), and their
// ratio, "FFT equivalents per stage" (goal ≤ 3).
//
// Pde2DCellByCell and Pde3DCellByCell: the same with the update cell by cell as on GPUs (the host
// sweeps by rows otherwise), for the comparison.
//
//   build/bench/bench_pde_solver [--benchmark_filter=Pde2D] [--benchmark_repetitions=3]
#include "BenchUtilities.hpp"

#include <kmdflow/Density.hpp>
#include <kmdflow/PdeSolver.hpp>

#include <algorithm>
#include <vector>

using namespace kmdflow;

namespace {

template <int Dim> void pde_step(benchmark::State& state, bool sweeps = true) {
  const int n = int(state.range(0));
  // A smooth initial density (two modes) towards the uniform target, s = 1.
  FourierDensity initial(Dim, {{{1, Dim > 1 ? 1 : 0, 0}, 0.4, 0.2}, {{2, 0, Dim > 2 ? 1 : 0}, 0.2, 1.0}});
  auto solver = detail::make_pde_solver(SobolevKernel(Dim, 1.0), n, cell_averages(initial, n),
                                        cell_averages(UniformDensity(Dim), n), 0.5, sweeps);
  solver->step(1e-3); // warm-up (first touch, FFT plans)
  // One FFT: the median of 5 forward + inverse pairs, halved.
  std::vector<double> pairs;
  for (int i = 0; i < 5; ++i) pairs.push_back(bench::fenced_seconds([&] { solver->fft_pair(); }));
  std::nth_element(pairs.begin(), pairs.begin() + 2, pairs.end());
  const double fft = 0.5 * pairs[2];
  solver->step(1e-3); // the buffer the pairs overwrote is recomputed at every stage
  const long stages_before = solver->stages();
  const bench::RegionTimes phases;
  const double total = bench::time_iterations(state, [&] { solver->step(1e-3); });
  // A step computes 3 potentials (one per stage; the CFL step reuses the first).
  const double stages_per_step = double(solver->stages() - stages_before) / double(state.iterations());
  double cells = 1;
  for (int d = 0; d < Dim; ++d) cells *= n;
  state.counters["cells"] = cells;
  state.counters["fft_ms"] = fft * 1e3;
  state.counters["potentials_per_step"] = stages_per_step;
  // Per stage of SSP-RK3 (3 per step), everything of the step included.
  const double stage = total / double(state.iterations()) / 3;
  state.counters["stage_ms"] = stage * 1e3;
  state.counters["stage_in_ffts"] = stage / fft;
  phases.add_counters(state, "kmdflow::pde::");
}

} // namespace

static void Pde1D(benchmark::State& state) { pde_step<1>(state); }
static void Pde2D(benchmark::State& state) { pde_step<2>(state); }
static void Pde3D(benchmark::State& state) { pde_step<3>(state); }
// The finite-volume update cell by cell, as on GPUs (the host sweeps by rows otherwise).
static void Pde2DCellByCell(benchmark::State& state) { pde_step<2>(state, false); }
static void Pde3DCellByCell(benchmark::State& state) { pde_step<3>(state, false); }
BENCHMARK(Pde1D)->ArgName("n")->RangeMultiplier(4)->Range(1 << 10, 1 << 20)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(Pde2D)->ArgName("n")->RangeMultiplier(2)->Range(128, 2048)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(Pde3D)->ArgName("n")->RangeMultiplier(2)->Range(32, 256)->UseManualTime()->Unit(benchmark::kMillisecond);

BENCHMARK(Pde2DCellByCell)->ArgName("n")->Arg(2048)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(Pde3DCellByCell)->ArgName("n")->Arg(128)->UseManualTime()->Unit(benchmark::kMillisecond);

int main(int argc, char** argv) { return bench::run_main(argc, argv); }
