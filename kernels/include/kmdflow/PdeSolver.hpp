#pragma once
// The mean-field PDE (DESIGN.md §4): ∂_t ρ + ∇·(ρ v) = 0, v = −∇φ, φ = k * (ρ − ν), on an n^d
// grid of cell averages of T^d, for any kernel k (Kernel.hpp).
//
//   * φ at the cell centres spectrally: one r2c FFT of ρ, φ̂(k) = k̂(k) (ρ̂(k) − ν̂(k)) (k the
//     aliased wavevector of the grid), one c2r FFT back;
//   * face velocities u = −(φ_{c+1} − φ_c)/h (second order at the face), fluxes u·ρ_face with ρ_face
//     the upwind MUSCL reconstruction, slopes limited by the monotonised-central limiter;
//   * SSP-RK3 (Shu–Osher) in time.
//
// The scheme is conservative (mass to round-off) and positivity preserving when the CFL number
// dt/h · Σ_axes max|u| is at most ½: the two reconstructed face values of a cell sum to twice its
// average and are non-negative, so the outflow of an Euler stage is at most 2 dt/h Σ max|u| ρ_c.
// Summation by parts gives dE/dt = −h^d Σ_faces u² ρ_face ≤ 0 for the semi-discrete energy
// E = ½ Σ_k k̂(k) |ρ̂ − ν̂|².
//
// The step is min(the caller's, the CFL step, the linear stability step 2.5·cfl/(max ρ · Λ)) with
// Λ the largest rate of the linearised operator ε ↦ ∇_h·(∇_h k*ε) (it matters for the Sobolev
// kernel with s < 1, where the flow is diffusive of order 2 − 2s).

#include <kmdflow/Density.hpp>
#include <kmdflow/Kernel.hpp>
#include <kmdflow/RealFft.hpp>
#include <kmdflow/Types.hpp>

#include <Kokkos_Complex.hpp>

#include <memory>
#include <string>
#include <vector>

namespace kmdflow {

/// What the PDE reports at an output time.
struct PdeDiagnostics {
  double energy = 0;      ///< ½ Σ_k k̂(k) |ρ̂ − ν̂|²
  double dissipation = 0; ///< h^d Σ_faces ρ̄_face u² (ρ̄ the mean of the two cells)
  double max_speed = 0;   ///< max over faces |u|
  double mass = 0;        ///< h^d Σ ρ
  double minimum = 0;     ///< min ρ
  double maximum = 0;     ///< max ρ
};

/// The cell averages of a density on the n^d grid (row major, cell (i_0 … i_{d−1}) covering
/// Π [i_a/n, (i_a + 1)/n)), exact for the Fourier modes the grid resolves (|k_a| < n/2): the
/// modes of ρ̂ above 1e-16 of the largest, each times Π sinc(πk_a/n), by one inverse FFT.
/// `dropped` (if not null) receives the largest |ρ̂(k)| left out because a |k_a| ≥ n/2.
std::vector<double> cell_averages(const Density& density, int n, double* dropped = nullptr);

class PdeSolver {
public:
  virtual ~PdeSolver() = default;
  virtual int dim() const = 0;
  virtual int grid() const = 0;
  /// Advances by one SSP-RK3 step of length min(dt_max, the stable step); returns that length.
  virtual double step(double dt_max) = 0;
  /// The stable step for the current density (CFL and linear stability, see above).
  virtual double stable_step() = 0;
  virtual PdeDiagnostics diagnostics() = 0;
  /// The cell averages (host copy, row major).
  virtual std::vector<double> density() const = 0;
  virtual void set_density(const std::vector<double>& cell_averages) = 0;
  /// The FFT library ("fftw-…", "cuFFT").
  virtual std::string fft_library() const = 0;
  /// Counts for the benchmarks: stages taken and FFTs performed.
  virtual long stages() const = 0;
  /// Sets the stage counter (a run resumed from a checkpoint counts on).
  virtual void set_stages(long stages) = 0;
  /// One forward and one inverse FFT of the solver's grid (the cost unit of the benchmark).
  virtual void fft_pair() = 0;
};

/// A solver for the kernel k on an n^d grid, n even ≥ 8, with initial and target cell averages
/// (size n^d, the target's mean must equal the initial mass for the flow to have an equilibrium).
/// `cfl` ∈ (0, 1]; ≤ ½ guarantees positivity.
std::unique_ptr<PdeSolver> make_pde_solver(const Kernel& kernel, int n, const std::vector<double>& initial,
                                           const std::vector<double>& target, double cfl);
/// The Sobolev kernel G_s's.
std::unique_ptr<PdeSolver> make_pde_solver(int dim, int n, double s, const std::vector<double>& initial,
                                           const std::vector<double>& target, double cfl);

namespace detail {
/// As make_pde_solver; `sweeps` false: the finite-volume update cell by cell, as on GPUs, also on
/// the host (where it is done by row sweeps otherwise). For tests.
std::unique_ptr<PdeSolver> make_pde_solver(const Kernel& kernel, int n, const std::vector<double>& initial,
                                           const std::vector<double>& target, double cfl, bool sweeps);
} // namespace detail

} // namespace kmdflow
