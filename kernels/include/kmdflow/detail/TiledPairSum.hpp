#pragma once
// out(i, c) = Σ_p q(p) · op(t_i − z_p, i, p)[c] over all sources p, for every target i: a team
// kernel that stages tiles of sources in scratch memory (one tile serves a block of targets, so the
// sources stream through cache once per block on CPUs and through shared memory on GPUs). The
// direct engines' pair sums in every dimension.

#include <kmdflow/detail/ChebyshevFit.hpp>

#include <Kokkos_Core.hpp>

// Lets the compiler vectorise a host reduction loop (strict IEEE otherwise forbids reordering).
#if defined(KOKKOS_ENABLE_OPENMP) && !defined(__CUDA_ARCH__) && !defined(__HIP_DEVICE_COMPILE__)
#define KMDFLOW_PRAGMA(x) _Pragma(#x)
#define KMDFLOW_SIMD_REDUCTION(...) KMDFLOW_PRAGMA(omp simd reduction(+ : __VA_ARGS__))
#else
#define KMDFLOW_SIMD_REDUCTION(...)
#endif

namespace kmdflow::detail {

/// Pair operations of one coordinate made of a function of the difference: f(dx), and the same
/// with the diagonal i = p left out. Named functors rather than lambdas, so that they can be built
/// inside generic lambdas (CUDA's extended lambdas cannot). The difference is formed in double
/// and then rounded to f's precision (F::value_type), so that close pairs keep their relative
/// accuracy in float too.
template <class F> struct OfDifference {
  using Real = typename F::value_type;
  F f;
  KOKKOS_FUNCTION Kokkos::Array<Real, 1> operator()(const Kokkos::Array<double, 1>& dx, int, int) const {
    return {f(Real(dx[0]))};
  }
};
template <class F> struct OfDifferenceOffDiagonal {
  using Real = typename F::value_type;
  F f;
  KOKKOS_FUNCTION Kokkos::Array<Real, 1> operator()(const Kokkos::Array<double, 1>& dx, int i, int p) const {
    return {i == p ? Real(0) : f(Real(dx[0]))};
  }
};

/// op gets the target's index plus `first_target` (targets that are rows [first, …) of the sources:
/// a process's share of the particles) and the source's index, so that i == p is still the diagonal.
/// Real (double or float) is the precision of op's results (Kokkos::Array<Real, Components>): the
/// weights are rounded to it and each thread sums one tile in it; the differences t_i − z_p that op
/// gets are formed in double, and the tiles' sums accumulate in double. Each host thread takes
/// Unroll targets at once (independent accumulation chains that hide the latency of the pair
/// evaluation, each source read once for all of them): 4 suits cheap one-component pairs, 2 the
/// rest; the scratch tile is 256 × Unroll sources.
template <int Dim, int Components, class Real = double, int Unroll = 2, class ExecutionSpace, class TargetView,
          class SourceView, class WeightView, class OutputView, class PairOp>
void tiled_pair_sum(const ExecutionSpace& space, const char* label, const TargetView& targets,
                    const SourceView& sources, const WeightView& weights, const OutputView& out, PairOp op,
                    int first_target = 0) {
  using Policy = Kokkos::TeamPolicy<ExecutionSpace>;
  using Member = typename Policy::member_type;
  using Scratch = Kokkos::View<double*, typename ExecutionSpace::scratch_memory_space,
                               Kokkos::MemoryTraits<Kokkos::Unmanaged>>;
  using Tile = Kokkos::View<Real*, typename ExecutionSpace::scratch_memory_space,
                            Kokkos::MemoryTraits<Kokkos::Unmanaged>>;
  constexpr bool on_host = Kokkos::SpaceAccessibility<
      Kokkos::HostSpace, typename ExecutionSpace::memory_space>::accessible;
  constexpr int unroll = on_host ? Unroll : 1;
  static_assert(unroll * Components <= 6 && (Unroll == 2 || Unroll == 4),
                "tiled_pair_sum: at most 6 accumulators per thread (4 targets × 1 or 2 targets × 3 components)");
  const int n_targets = int(targets.extent(0)), n_sources = int(sources.extent(0));
  if (n_targets == 0) return;
  const int team_size = on_host ? 1 : 128;
  const int block = on_host ? 64 : team_size; // targets per team
  const int tile = on_host ? 256 * Unroll : (Unroll / 2) * team_size;
  const int league = (n_targets + block - 1) / block;
  const std::size_t bytes =
      Dim * Scratch::shmem_size(tile) + Tile::shmem_size(tile) + Components * Scratch::shmem_size(block);

  Kokkos::parallel_for(
      label, Policy(space, league, team_size).set_scratch_size(0, Kokkos::PerTeam(bytes)),
      KOKKOS_LAMBDA(const Member& team) {
        const PairOp& pair = op; // captured here, not first inside `if constexpr` (nvcc)
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
              i[u] = i0 + (k0 + u < i1 - i0 ? k0 + u : k0); // repeat a valid target past the end
              for (int d = 0; d < Dim; ++d) t[u][d] = targets(i[u], d);
            }
            // Named accumulators, slot u·Components + c: GCC vectorises a reduction over scalars,
            // not over an array section inside a lambda.
            Real s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0;
            KMDFLOW_SIMD_REDUCTION(s0, s1, s2, s3, s4, s5)
            for (int p = 0; p < np; ++p) {
              const Real qp = q(p);
              KMDFLOW_UNROLL
              for (int u = 0; u < unroll; ++u) {
                Kokkos::Array<double, Dim> dx;
                KMDFLOW_UNROLL
                for (int d = 0; d < Dim; ++d) dx[d] = t[u][d] - z[d](p);
                const auto value = pair(dx, first_target + i[u], p0 + p);
                KMDFLOW_UNROLL
                for (int c = 0; c < Components; ++c) {
                  const int slot = u * Components + c;
                  const Real term = qp * value[c];
                  if (slot == 0) s0 += term;
                  else if (slot == 1) s1 += term;
                  else if (slot == 2) s2 += term;
                  else if (slot == 3) s3 += term;
                  else if (slot == 4) s4 += term;
                  else s5 += term;
                }
              }
            }
            const double s[6] = {double(s0), double(s1), double(s2), double(s3), double(s4), double(s5)};
            for (int u = 0; u < unroll && k0 + u < i1 - i0; ++u)
              for (int c = 0; c < Components; ++c) acc[c](k0 + u) += s[u * Components + c];
          });
        }
        team.team_barrier();
        Kokkos::parallel_for(Kokkos::TeamThreadRange(team, i1 - i0), [&](int k) {
          for (int c = 0; c < Components; ++c) out(i0 + k, c) = acc[c](k);
        });
      });
}

} // namespace kmdflow::detail
