#pragma once
// The spectral engine (DESIGN.md §4): O(N log N) velocities for any d and kernel at a chosen
// accuracy. A split kernel (KernelConcept.hpp) is summed through its Ewald split
// G = Σ_n h(x + n) + Σ_k L̂(k) e^{2πik·x}:
//   * long range: a type-1 NUFFT gives μ̂(k) = Σ_j q_j e^{−2πik·z_j} for |k|∞ ≤ K (spread to an
//     upsampled grid with the exponential-of-semicircle kernel, FFT, deconvolve), which is
//     multiplied by −2πik L̂(k) and brought back to the particles by d type-2 NUFFTs;
//   * short range: h is cut at r_c where it falls below the tolerance, and summed over the pairs
//     closer than r_c found with a cell list.
// A real-space kernel (the Gaussian) is smooth: the engine is then a pure NUFFT with its symbol.
// One tolerance (forces.tolerance) sets K, α, r_c, the kernel width and the grid
// (choose_spectral_parameters).

#include <kmdflow/InteractionEngine.hpp>
#include <kmdflow/Kernel.hpp>
#include <kmdflow/RealFft.hpp>
#include <kmdflow/detail/CellList.hpp>
#include <kmdflow/detail/ChebyshevFit.hpp>
#include <kmdflow/detail/Nufft.hpp>

#include <Kokkos_Complex.hpp>
#include <Kokkos_ScatterView.hpp>

#include <memory>
#include <string>

namespace kmdflow {

struct SpectralParameters {
  double tolerance = 1e-8;
  double z_cut = 0;  ///< both Ewald tails are cut at e^{−z_cut}
  double alpha = 0;  ///< the split parameter (0: no split, a pure NUFFT)
  double cutoff = 0; ///< r_c: h(r_c) ~ e^{−z_cut} (0: no short range)
  int modes = 0;     ///< K: |k|∞ ≤ K
  int width = 0;     ///< w: the spreading kernel covers w grid points per axis
  double beta = 0;   ///< of the kernel exp(β(√(1 − z²) − 1))
  double upsampling = 2; ///< σ: the grid has at least σ (2K + 1) points per axis
  int grid = 0;      ///< n_f points per axis
  int cells = 1;     ///< cells per axis of the cell list (1: all pairs)
  int cell_reach = 1; ///< neighbour cells per side: cells at least r_c / cell_reach wide
  FftPlanning fft_planning = FftPlanning::automatic; ///< how FFTW plans (RealFft.hpp)
};

/// The parameters for a tolerance on the relative velocity error and N points. A split kernel: the
/// upsampling (2, 1.5 or 1.25, with the kernel width and β that go with it) and the cut-off r_c
/// (hence α, K and the grid) that minimise a model of the evaluation time — short-range pairs
/// against spreading and FFTs — among those whose grid fits. A real-space kernel: K from the decay
/// of its symbol, the upsampling by the same model. std::invalid_argument when the grid would
/// exceed what the engine allows (a kernel too narrow for a pure NUFFT).
/// `upsampling` ∈ (1, 2] fixes σ instead (0: chosen).
SpectralParameters choose_spectral_parameters(const Kernel& kernel, std::size_t points, double tolerance,
                                              double upsampling = 0);
/// The Sobolev kernel's.
SpectralParameters choose_spectral_parameters(int dim, double s, std::size_t points, double tolerance);

namespace detail {

/// Per split kernel and split (α, r_c): the singular part and the short-range tables on [0, r_c²].
struct SpectralTables {
  SingularPart singular;
  bool finite_self_energy = true;
  PiecewiseChebyshev<32, 12> regular_gradient; // ∇(h − S) = x · B(r²)
  PiecewiseChebyshev<32, 12> regular_value;    // h − S
};
std::shared_ptr<const SpectralTables> spectral_tables(const Kernel& kernel, const SpectralParameters& parameters);

} // namespace detail

template <class ExecutionSpace, int Dim>
class SpectralEngine final : public InteractionEngine {
  static_assert(Kokkos::is_execution_space_v<ExecutionSpace>,
                "SpectralEngine: the first template argument must be a Kokkos execution space");
  static_assert(Dim >= 1 && Dim <= 3, "SpectralEngine: Dim must be 1, 2 or 3");

public:
  using memory_space = typename ExecutionSpace::memory_space;
  using Complex = Kokkos::complex<double>;

  SpectralEngine(const ExecutionSpace& space, const Kernel& kernel, std::size_t particle_count, double tolerance,
                 const PointView<>& atoms = {}, const ScalarView<>& atom_weights = {});
  /// With parameters chosen elsewhere (choose_spectral_parameters for N + the atoms, possibly
  /// with a fixed upsampling): for tests and studies of the parameters.
  SpectralEngine(const ExecutionSpace& space, const Kernel& kernel, std::size_t particle_count,
                 const SpectralParameters& parameters, const PointView<>& atoms = {},
                 const ScalarView<>& atom_weights = {});

  std::string name() const override { return "spectral"; }
  void velocities(const ConstPointView<>& x, const ConstScalarView<>& w, const PointView<>& v) override;
  double pair_energy(const ConstPointView<>& x, const ConstScalarView<>& w) override;
  /// A share on several processes: it spreads its particles (and, the first share, the atoms),
  /// sums the shares' Fourier coefficients with `sum_across` (so every share has μ̂ of all
  /// points), and interpolates and sums the short range for its rows only. Refused (false) for a
  /// part of [0, N) until set_sum_across has been called.
  bool set_target_rows(std::size_t begin, std::size_t end) override;
  void set_sum_across(SumAcross sum) override { m_sum_across = std::move(sum); }

  const SpectralParameters& spectral_parameters() const { return m_parameters; }
  nlohmann::json parameters() const override;

  /// μ̂(k) = Σ_j w_j e^{−2πik·x_j} of the given particles (type 1) into spectrum().
  void type1(const ConstPointView<>& x, const ConstScalarView<>& w);
  /// The long-range part alone (one type-1 and d type-2 transforms) into v: what FINUFFT is
  /// compared with.
  void transforms(const ConstPointView<>& x, const ConstScalarView<>& w, const PointView<>& v);
  const Kokkos::View<Complex*, memory_space>& spectrum() const { return m_spectrum; }
  int half_extent() const { return m_parameters.grid / 2 + 1; }

private:
  void load_points(const ConstPointView<>& x, const ConstScalarView<>& w);
  void transform_points(); // type 1 of the loaded points (cell list built)
  void long_range_velocities(const PointView<>& v, bool accumulate);
  int short_range_velocities(const PointView<>& v); // 1 + a coincident particle, or 0
  detail::ShareOfPoints<Kokkos::View<int*, memory_space>> share() const;

  ExecutionSpace m_space;
  SpectralParameters m_parameters;
  std::shared_ptr<const detail::SpectralTables> m_tables; // null: no short range
  bool m_singular_gradient;
  std::size_t m_particles = 0, m_atoms = 0;
  std::size_t m_begin = 0, m_end = 0; // the target rows (set_target_rows; all by default)
  SumAcross m_sum_across;             // set on several processes
  PointView<memory_space> m_points;              // particles, then atoms
  Kokkos::View<double*, memory_space> m_weights; // w_j, then −u_m
  Kokkos::View<double*, memory_space> m_grid;    // the real fine grid
  Kokkos::View<Complex*, memory_space> m_half, m_spectrum; // FFT buffer; μ̂ on the half grid (deconvolved)
  Kokkos::View<Complex*, memory_space> m_box; // μ̂ in the box |k|∞ ≤ K, packed (summed across processes)
  Kokkos::View<double*, memory_space> m_symbol;     // L̂ for k ≠ 0 as a function of |k|² (|k| in d = 1)
  Kokkos::View<double*, memory_space> m_correction; // 1/(n ψ̂(k)) for k = 0 … K
  double m_long_range_at_zero = 0;                  // Σ_{k≠0, |k|∞≤K} L̂(k)
  double m_constant = 0;                            // C (KernelConcept.hpp); 0 for a pure NUFFT
  detail::EsKernel m_es;
  std::unique_ptr<RealFft> m_fft;
  // Spreading: by slabs of the cell list on CPUs (detail::spread_by_slabs; m_slabs > 0), otherwise
  // through the ScatterView, allocated then (duplicated per thread on CPUs, atomic on GPUs).
  int m_slabs = 0;
  Kokkos::Experimental::ScatterView<double*, typename decltype(m_grid)::array_layout, ExecutionSpace> m_scatter;
  detail::CellList<memory_space> m_cells;
};

} // namespace kmdflow
