#pragma once
// The interface every force engine implements (DESIGN.md §4): pair sums of ∇k and k − k̂(0) over
// the particles and, for a samples target, its atoms. Density targets enter through their Fourier
// potential in ParticleFlow, not here.

#include <kmdflow/Types.hpp>

#include <Kokkos_Profiling_ScopedRegion.hpp>
#include <nlohmann/json.hpp>

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace kmdflow {

class InteractionEngine {
public:
  virtual ~InteractionEngine() = default;
  virtual std::string name() const = 0;
  /// The parameters the engine chose (for the run's records); empty for the exact engines.
  virtual nlohmann::json parameters() const { return nlohmann::json::object(); }

  /// v_i = −Σ_{j≠i} w_j ∇G(x_i − x_j) + Σ_m u_m ∇G(x_i − y_m), for the N particles x with
  /// weights w and the engine's atoms y_m with weights u_m (none for a density target).
  virtual void velocities(const ConstPointView<>& x, const ConstScalarView<>& w,
                          const PointView<>& v) = 0;

  /// ½ Σ_{i≠j} w_i w_j G(x_i − x_j) − Σ_{i,m} w_i u_m G(x_i − y_m) + ½ Σ_{m≠n} u_m u_n G(y_m − y_n):
  /// the pair part of the interaction energy, every diagonal term excluded (DESIGN.md §1).
  virtual double pair_energy(const ConstPointView<>& x, const ConstScalarView<>& w) = 0;

  /// A process's share of the work (DistributedEngine, runs on several MPI ranks): velocities()
  /// then fills only the rows [begin, end) of v, still from every source, and pair_energy()
  /// returns the part of its sum whose first particle lies in [begin, end), plus, where begin is 0,
  /// the terms that belong to no particle (target atoms among themselves, the long range's
  /// constants), so that the parts of a partition of [0, N) add up to the whole. Returns false
  /// where the engine cannot split its work by rows (the sorted engine, which splits by position;
  /// the spectral engine until set_sum_across gave it a way to sum its shares).
  virtual bool set_target_rows(std::size_t begin, std::size_t end) { return false; }

  /// A process's share by position, for an engine that cannot split by rows (the sorted engine on
  /// several MPI ranks): the torus is cut into `shares` slabs holding about equally many points
  /// (the same cuts on every process, from the same positions), velocities() fills only the rows
  /// of the particles in slab `share`, which share_rows() then lists in increasing order, and
  /// pair_energy() returns the part of its sum that the slab's points own, the parts adding up to
  /// the whole. Needs set_sum_across (the slabs' sums are scanned across the processes); returns
  /// false where the engine has no such split.
  virtual bool set_position_share(int share, int shares) { return false; }
  /// The rows the last velocities() filled on a share by position of several (increasing).
  virtual std::vector<std::size_t> share_rows() const { return {}; }

  /// A share by slab whose points the caller brings (a sample sort across processes, each
  /// holding its own particles): velocities() and pair_energy() then take only the particles in
  /// [lo, hi) (any number up to the engine's count; v their rows), this process holding slab
  /// `share` of `shares` in increasing order of position (−∞ and +∞ bound the first and the last);
  /// the target's atoms in [lo, hi) are the engine's own. The slabs' pair energies add up to the
  /// whole. Needs set_sum_across; called before each evaluation (the cuts follow the points).
  /// Returns false where the engine has no such split.
  virtual bool set_slab(int share, int shares, double lo, double hi) { return false; }

  /// Sums `count` doubles across the processes that share the engine's work, in place, every one
  /// of them calling it with the same count (an MPI Allreduce: Processes.hpp).
  using SumAcross = std::function<void(double* values, std::size_t count)>;
  /// For an engine whose share needs more than its own rows (the direct engine's structure
  /// factors in 2D/3D, the spectral engine's Fourier coefficients, the sorted engine's slab sums):
  /// it sums them inside velocities() and pair_energy(), so that every process must call those
  /// together, and each reaches the sum before it can fail (its errors come after).
  virtual void set_sum_across(SumAcross sum) {}
};

} // namespace kmdflow
