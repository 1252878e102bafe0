#!/usr/bin/env python3
"""Particles against the mean-field PDE (DESIGN.md §2): the same initial density run as N
quantile particles and as the PDE on a grid, both through kmdflow.run; plots both energies and
the final particle histogram over the PDE's density.

    scripts/env python3 examples/python/particles_vs_pde.py [--n 5000] [--out runs/pvp]
"""
import argparse
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import kmdflow  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--n", type=int, default=5000)
parser.add_argument("--t-end", type=float, default=3.0)
parser.add_argument("--out", default="runs/pvp")
args = parser.parse_args()

common = {"dim": 1, "s": 1,
          "initial": {"type": "fourier", "modes": [{"k": 1, "amplitude": 0.6}, {"k": 3, "amplitude": 0.25}],
                      "sampling": "quantile"},
          "time": {"t_end": args.t_end}, "output": {"plots": False}}
particles = kmdflow.run(dict(common, particles={"count": args.n}), out=os.path.join(args.out, "particles"), force=True)
pde = kmdflow.run(dict(common, solver="pde", pde={"grid": 1024}), out=os.path.join(args.out, "pde"), force=True)

fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
for run, label in ((particles, f"{args.n} particles"), (pde, "PDE")):
    left.semilogy(run.series["t"], run.series["energy"], label=label)
left.set_xlabel("t")
left.legend()
rho = pde.density(-1)
right.hist(particles.positions(-1)[:, 0], bins=60, density=True, alpha=0.6, label="particles")
right.plot((np.arange(rho.size) + 0.5) / rho.size, rho, "k", label="PDE density")
right.legend()
fig.tight_layout()
fig.savefig(os.path.join(args.out, "particles_vs_pde.png"), dpi=90)
gap = abs(particles.series["energy"][-1] / pde.series["energy"][-1] - 1)
print(f"final energies: particles {particles.series['energy'][-1]:.4e}, PDE {pde.series['energy'][-1]:.4e} "
      f"(relative gap {gap:.2%}); plot: {args.out}/particles_vs_pde.png")
