#pragma once
// Closed-form solutions of the mean-field PDE, the oracles of the PDE tests and the rate studies.

#include <kmdflow/Density.hpp>

#include <vector>

namespace kmdflow {

/// The exact solution of the s = 1 flow towards the uniform target in d = 1 (DESIGN.md §2), as
/// cell averages on n cells [j/n, (j+1)/n) at time t, from an initial density ρ0 on T.
///
/// Along characteristics dρ/dt = −ρ(ρ − 1), so ρ = ρ0/(ρ0 + (1 − ρ0)e^{−t}), and the
/// characteristic X_t(y) from y has ∂_y X = ρ0/ρ = ρ0 (1 − e^{−t}) + e^{−t}:
///   X_t(y) = b(t) + F0(y)(1 − e^{−t}) + y e^{−t},
/// with the drift b of the characteristic from 0 fixed by ∫ v = 0 (v = −φ′ of a periodic φ):
///   b(t) = −A[(1 − e^{−t}) − ½(1 − e^{−2t})] − ½ B (1 − e^{−2t}),
///   A = ½ − ∫ y ρ0(y) dy,  B = ∫ F0 − ½.
/// The mass of a cell is F0(X_t⁻¹(edge₂)) − F0(X_t⁻¹(edge₁)), exactly.
std::vector<double> exact_s1_uniform_cell_averages(const Density& initial, int n, double t);

} // namespace kmdflow
