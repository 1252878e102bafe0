#pragma once
// out(i, c) = Σ_p q(p) · op(t_i − z_p, i, p)[c] over all sources p, for points in d dimensions and
// C output components: the team kernel of TiledPairSum.hpp generalised (scratch tiles of
// sources, two targets per host thread for independent accumulation chains).

#include <kmdflow/detail/ChebyshevFit.hpp>
#include <kmdflow/detail/TiledPairSum.hpp>

namespace kmdflow::detail {

/// Real (double or float) is the precision of op's results (Kokkos::Array<Real, Components>): the
/// weights are rounded to it and each thread sums one tile in it; the differences t_i − z_p that
/// op gets are formed in double, and the tiles' sums accumulate in double.
template <int Dim, int Components, class Real = double, class ExecutionSpace, class TargetView,
          class SourceView, class WeightView, class OutputView, class PairOp>
void tiled_pair_sum_nd(const ExecutionSpace& space, const char* label, const TargetView& targets,
                       const SourceView& sources, const WeightView& weights,
                       const OutputView& out, PairOp op) {
  using Policy = Kokkos::TeamPolicy<ExecutionSpace>;
  using Member = typename Policy::member_type;
  using Scratch = Kokkos::View<double*, typename ExecutionSpace::scratch_memory_space,
                               Kokkos::MemoryTraits<Kokkos::Unmanaged>>;
  using Tile = Kokkos::View<Real*, typename ExecutionSpace::scratch_memory_space,
                            Kokkos::MemoryTraits<Kokkos::Unmanaged>>;
  constexpr bool on_host = Kokkos::SpaceAccessibility<
      Kokkos::HostSpace, typename ExecutionSpace::memory_space>::accessible;
  const int n_targets = int(targets.extent(0)), n_sources = int(sources.extent(0));
  if (n_targets == 0) return;
  const int team_size = on_host ? 1 : 128;
  const int block = on_host ? 64 : team_size;
  const int tile = on_host ? 512 : team_size;
  constexpr int unroll = on_host ? 2 : 1;
  static_assert(Components <= 3 && unroll <= 2, "tiled_pair_sum_nd: at most 2 targets x 3 components");
  const int league = (n_targets + block - 1) / block;
  const std::size_t bytes =
      Dim * Scratch::shmem_size(tile) + Tile::shmem_size(tile) + Components * Scratch::shmem_size(block);

  Kokkos::parallel_for(
      label, Policy(space, league, team_size).set_scratch_size(0, Kokkos::PerTeam(bytes)),
      KOKKOS_LAMBDA(const Member& team) {
        Scratch z[Dim];
        for (int d = 0; d < Dim; ++d) z[d] = Scratch(team.team_scratch(0), tile);
        Tile q(team.team_scratch(0), tile);
        Scratch acc[Components];
        for (int c = 0; c < Components; ++c) acc[c] = Scratch(team.team_scratch(0), block);
        const int i0 = team.league_rank() * block;
        const int i1 = (i0 + block < n_targets) ? i0 + block : n_targets;
        Kokkos::parallel_for(Kokkos::TeamThreadRange(team, i1 - i0), [&](int k) {
          for (int c = 0; c < Components; ++c) acc[c](k) = 0;
        });
        for (int p0 = 0; p0 < n_sources; p0 += tile) {
          const int np = (p0 + tile < n_sources) ? tile : n_sources - p0;
          team.team_barrier();
          Kokkos::parallel_for(Kokkos::TeamThreadRange(team, np), [&](int p) {
            for (int d = 0; d < Dim; ++d) z[d](p) = sources(p0 + p, d);
            q(p) = Real(weights(p0 + p));
          });
          team.team_barrier();
          Kokkos::parallel_for(Kokkos::TeamThreadRange(team, (i1 - i0 + unroll - 1) / unroll), [&](int b) {
            const int k0 = b * unroll;
            double t[unroll][Dim];
            int i[unroll];
            for (int u = 0; u < unroll; ++u) {
              i[u] = i0 + (k0 + u < i1 - i0 ? k0 + u : k0);
              for (int d = 0; d < Dim; ++d) t[u][d] = targets(i[u], d);
            }
            // Named accumulators (at most two targets × three components): GCC vectorises a
            // reduction over scalars, not over an array section inside a lambda.
            Real s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0;
            KMDFLOW_SIMD_REDUCTION(s0, s1, s2, s3, s4, s5)
            for (int p = 0; p < np; ++p) {
              const Real qp = q(p);
              KMDFLOW_UNROLL
              for (int u = 0; u < unroll; ++u) {
                Kokkos::Array<double, Dim> dx;
                KMDFLOW_UNROLL
                for (int d = 0; d < Dim; ++d) dx[d] = t[u][d] - z[d](p);
                const auto value = op(dx, i[u], p0 + p);
                if (u == 0) {
                  s0 += qp * value[0];
                  if constexpr (Components > 1) s1 += qp * value[1];
                  if constexpr (Components > 2) s2 += qp * value[2];
                } else {
                  s3 += qp * value[0];
                  if constexpr (Components > 1) s4 += qp * value[1];
                  if constexpr (Components > 2) s5 += qp * value[2];
                }
              }
            }
            const double s[6] = {double(s0), double(s1), double(s2), double(s3), double(s4), double(s5)};
            for (int u = 0; u < unroll && k0 + u < i1 - i0; ++u)
              for (int c = 0; c < Components; ++c) acc[c](k0 + u) += s[3 * u + c];
          });
        }
        team.team_barrier();
        Kokkos::parallel_for(Kokkos::TeamThreadRange(team, i1 - i0), [&](int k) {
          for (int c = 0; c < Components; ++c) out(i0 + k, c) = acc[c](k);
        });
      });
}

} // namespace kmdflow::detail
