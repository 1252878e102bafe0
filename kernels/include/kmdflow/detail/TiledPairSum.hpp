#pragma once
// out(i) = Σ_p q(p) · op(t(i), z(p), i, p) over all sources p, for every target i: a team kernel
// that stages tiles of sources in scratch memory (one tile serves a block of targets, so the
// sources stream through cache once per block on CPUs and through shared memory on GPUs).

#include <Kokkos_Core.hpp>

// Lets the compiler vectorise a host reduction loop (strict IEEE otherwise forbids reordering).
#if defined(KOKKOS_ENABLE_OPENMP) && !defined(__CUDA_ARCH__) && !defined(__HIP_DEVICE_COMPILE__)
#define KMDFLOW_PRAGMA(x) _Pragma(#x)
#define KMDFLOW_SIMD_REDUCTION(...) KMDFLOW_PRAGMA(omp simd reduction(+ : __VA_ARGS__))
#else
#define KMDFLOW_SIMD_REDUCTION(...)
#endif

namespace kmdflow::detail {

/// Pair operations for tiled_pair_sum made of a function of the difference t − z: f(t − z), and
/// the same with the diagonal i = p left out. Named functors rather than lambdas, so that they can
/// be built inside generic lambdas (CUDA's extended lambdas cannot).
/// The difference is formed in double and then rounded to f's precision (F::value_type), so that
/// close pairs keep their relative accuracy in float too.
template <class F> struct OfDifference {
  using Real = typename F::value_type;
  F f;
  KOKKOS_FUNCTION Real operator()(double t, double z, int, int) const { return f(Real(t - z)); }
};
template <class F> struct OfDifferenceOffDiagonal {
  using Real = typename F::value_type;
  F f;
  KOKKOS_FUNCTION Real operator()(double t, double z, int i, int p) const {
    return i == p ? Real(0) : f(Real(t - z));
  }
};

/// Real (double or float) is the precision of the pair evaluations: op returns Real, the weights
/// are rounded to it, each thread sums one tile of sources in it, and the tiles' sums accumulate
/// in double. Positions stay in double (op gets them so).
template <class Real = double, class ExecutionSpace, class TargetView, class SourceView, class WeightView,
          class OutputView, class PairOp>
void tiled_pair_sum(const ExecutionSpace& space, const char* label, const TargetView& targets,
                    const SourceView& sources, const WeightView& weights, const OutputView& out,
                    PairOp op) {
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
  const int block = on_host ? 64 : team_size;      // targets per team
  const int tile = on_host ? 1024 : 2 * team_size; // sources per scratch tile
  constexpr int unroll = on_host ? 4 : 1;           // targets per thread and pass
  const int league = (n_targets + block - 1) / block;
  const std::size_t bytes = Scratch::shmem_size(tile) + Tile::shmem_size(tile) + Scratch::shmem_size(block);

  Kokkos::parallel_for(
      label, Policy(space, league, team_size).set_scratch_size(0, Kokkos::PerTeam(bytes)),
      KOKKOS_LAMBDA(const Member& team) {
        const PairOp& pair = op; // captured here, not first inside `if constexpr` (nvcc)
        Scratch z(team.team_scratch(0), tile);
        Tile q(team.team_scratch(0), tile);
        Scratch acc(team.team_scratch(0), block);
        const int i0 = team.league_rank() * block;
        const int i1 = (i0 + block < n_targets) ? i0 + block : n_targets;
        Kokkos::parallel_for(Kokkos::TeamThreadRange(team, i1 - i0), [&](int k) { acc(k) = 0; });
        for (int p0 = 0; p0 < n_sources; p0 += tile) {
          const int np = (p0 + tile < n_sources) ? tile : n_sources - p0;
          team.team_barrier();
          Kokkos::parallel_for(Kokkos::TeamThreadRange(team, np), [&](int p) {
            z(p) = sources(p0 + p);
            q(p) = Real(weights(p0 + p));
          });
          team.team_barrier();
          // Each thread takes `unroll` targets at once: independent accumulation chains that hide
          // the latency of the kernel evaluation, each source read once for all of them.
          Kokkos::parallel_for(Kokkos::TeamThreadRange(team, (i1 - i0 + unroll - 1) / unroll), [&](int b) {
            const int k0 = b * unroll;
            double t[unroll];
            Real s[unroll];
            int i[unroll];
            for (int u = 0; u < unroll; ++u) {
              i[u] = i0 + (k0 + u < i1 - i0 ? k0 + u : k0); // repeat a valid target past the end
              t[u] = targets(i[u]);
              s[u] = 0;
            }
            if constexpr (unroll == 4) {
              Real s0 = 0, s1 = 0, s2 = 0, s3 = 0;
              KMDFLOW_SIMD_REDUCTION(s0, s1, s2, s3)
              for (int p = 0; p < np; ++p) {
                const double zp = z(p);
                const Real qp = q(p);
                s0 += qp * pair(t[0], zp, i[0], p0 + p);
                s1 += qp * pair(t[1], zp, i[1], p0 + p);
                s2 += qp * pair(t[2], zp, i[2], p0 + p);
                s3 += qp * pair(t[3], zp, i[3], p0 + p);
              }
              s[0] = s0, s[1] = s1, s[2] = s2, s[3] = s3;
            } else {
              for (int p = 0; p < np; ++p)
                for (int u = 0; u < unroll; ++u) s[u] += q(p) * pair(t[u], z(p), i[u], p0 + p);
            }
            for (int u = 0; u < unroll && k0 + u < i1 - i0; ++u) acc(k0 + u) += double(s[u]);
          });
        }
        team.team_barrier();
        Kokkos::parallel_for(Kokkos::TeamThreadRange(team, i1 - i0),
                             [&](int k) { out(i0 + k) = acc(k); });
      });
}

} // namespace kmdflow::detail
