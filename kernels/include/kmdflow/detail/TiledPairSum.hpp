#pragma once
// out(i) = Σ_p q(p) · op(t(i), z(p), i, p) over all sources p, for every target i: a team kernel
// that stages tiles of sources in scratch memory (one tile serves a block of targets, so the
// sources stream through cache once per block on CPUs and through shared memory on GPUs).

#include <Kokkos_Core.hpp>

namespace kmdflow::detail {

template <class ExecutionSpace, class TargetView, class SourceView, class WeightView,
          class OutputView, class PairOp>
void tiled_pair_sum(const ExecutionSpace& space, const char* label, const TargetView& targets,
                    const SourceView& sources, const WeightView& weights, const OutputView& out,
                    PairOp op) {
  using Policy = Kokkos::TeamPolicy<ExecutionSpace>;
  using Member = typename Policy::member_type;
  using Scratch = Kokkos::View<double*, typename ExecutionSpace::scratch_memory_space,
                               Kokkos::MemoryTraits<Kokkos::Unmanaged>>;
  constexpr bool on_host = Kokkos::SpaceAccessibility<
      Kokkos::HostSpace, typename ExecutionSpace::memory_space>::accessible;
  const int n_targets = int(targets.extent(0)), n_sources = int(sources.extent(0));
  if (n_targets == 0) return;
  const int team_size = on_host ? 1 : 128;
  const int block = on_host ? 64 : team_size;      // targets per team
  const int tile = on_host ? 1024 : 2 * team_size; // sources per scratch tile
  const int league = (n_targets + block - 1) / block;
  const std::size_t bytes = 2 * Scratch::shmem_size(tile) + Scratch::shmem_size(block);

  Kokkos::parallel_for(
      label, Policy(space, league, team_size).set_scratch_size(0, Kokkos::PerTeam(bytes)),
      KOKKOS_LAMBDA(const Member& team) {
        Scratch z(team.team_scratch(0), tile), q(team.team_scratch(0), tile),
            acc(team.team_scratch(0), block);
        const int i0 = team.league_rank() * block;
        const int i1 = (i0 + block < n_targets) ? i0 + block : n_targets;
        Kokkos::parallel_for(Kokkos::TeamThreadRange(team, i1 - i0), [&](int k) { acc(k) = 0; });
        for (int p0 = 0; p0 < n_sources; p0 += tile) {
          const int np = (p0 + tile < n_sources) ? tile : n_sources - p0;
          team.team_barrier();
          Kokkos::parallel_for(Kokkos::TeamThreadRange(team, np), [&](int p) {
            z(p) = sources(p0 + p);
            q(p) = weights(p0 + p);
          });
          team.team_barrier();
          Kokkos::parallel_for(Kokkos::TeamThreadRange(team, i1 - i0), [&](int k) {
            const int i = i0 + k;
            const double ti = targets(i);
            double sum = 0;
            for (int p = 0; p < np; ++p) sum += q(p) * op(ti, z(p), i, p0 + p);
            acc(k) += sum;
          });
        }
        team.team_barrier();
        Kokkos::parallel_for(Kokkos::TeamThreadRange(team, i1 - i0),
                             [&](int k) { out(i0 + k) = acc(k); });
      });
}

} // namespace kmdflow::detail
