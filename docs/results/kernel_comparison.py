#!/usr/bin/env python3
"""The same flow under three kernels: the Sobolev kernel (s = 1), the Bessel potential and the
Gaussian kernel, in d = 1 and 2, from one initial blob towards one target density bounded below.
Each kernel's own energy E(t)/E(0), and the distance of every snapshot to the target in one common
norm, the energy distance D = ‖μ_N − ν‖ in Ḣ^{−(d+1)/2} (`kmdflow eval` with s = (d+1)/2),
measured the same way for every kernel.

    scripts/env python3 docs/results/kernel_comparison.py [--kmdflow build/apps/kmdflow] [--out runs/kernels]

Writes docs/results/kernels.png, kernels.csv, and the d = 2 particle snapshots of the Sobolev and
Gaussian flows (kernels_d2_sobolev.png, kernels_d2_gaussian.png, from `kmdflow plot`); the text
of docs/results/kernels.md is written by hand from these numbers.
"""
import argparse
import csv
import json
import os
import shutil
import subprocess

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PI = 3.141592653589793

# One target density bounded below (1 − 0.9 cos, min 0.1: the Sobolev s = 1 flow converges
# exponentially), one initial blob where the target is thinnest.
CASES = {
    1: {"target": {"type": "fourier", "modes": [{"k": 1, "amplitude": 0.9, "phase": PI}]},
        "initial": {"type": "wrapped_gaussians", "components": [{"weight": 1, "center": 0.0, "sigma": 0.03}],
                    "sampling": "quantile"},
        "particles": {"count": 1000, "seed": 1}, "t_end": 100},
    2: {"target": {"type": "fourier", "modes": [{"k": [1, 1], "amplitude": 0.9, "phase": PI}]},
        "initial": {"type": "wrapped_gaussians", "components": [{"weight": 1, "center": [0.0, 0.0], "sigma": 0.05}],
                    "sampling": "quantile"},
        "particles": {"count": 1024, "seed": 1}, "t_end": 50},
}
KERNELS = [
    ("Sobolev s = 1", {"s": 1}),
    ("Bessel s = 1, λ = 10", {"kernel": {"type": "bessel", "s": 1, "lambda": 10}}),
    ("Gaussian σ = 0.1", {"kernel": {"type": "gaussian", "sigma": 0.1}}),
]


def run(kmdflow, config, directory):
    path = directory + ".json"
    with open(path, "w") as f:
        json.dump(config, f)
    subprocess.run([kmdflow, "run", path, "--out", directory, "--force"], check=True, stdout=subprocess.DEVNULL)


def series(directory):
    with open(os.path.join(directory, "series.csv")) as f:
        rows = list(csv.DictReader(f))
    return np.array([float(r["t"]) for r in rows]), np.array([float(r["energy"]) for r in rows])


def distances(kmdflow, dim, target, directory):
    """The energy distance of every snapshot to the target, through `kmdflow eval`."""
    config = os.path.join(directory, "distance.json")
    with open(config, "w") as f:
        json.dump({"dim": dim, "s": (dim + 1) / 2, "target": target, "forces": {"method": "direct"}}, f)
    with h5py.File(os.path.join(directory, "trajectory.h5")) as f:
        frames = f["/particles/all/position/value"][:]
        times = f["/particles/all/position/time"][:]
    result = []
    for x, t in zip(frames, times):
        points = os.path.join(directory, "frame.csv")
        np.savetxt(points, x, delimiter=",", header=",".join("xyz"[:dim]), comments="")
        out = subprocess.run([kmdflow, "eval", config, "--positions", points, "--out", os.path.join(directory, "v.csv")],
                             check=True, capture_output=True, text=True).stdout
        result.append((t, np.sqrt(2 * max(json.loads(out)["energy"], 0.0))))
    return np.array(result)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kmdflow", default="build/apps/kmdflow")
    parser.add_argument("--out", default="runs/kernels")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    table = []
    for row, (dim, case) in enumerate(CASES.items()):
        for (label, kernel), colour in zip(KERNELS, ["C0", "C2", "C3"]):
            config = {"dim": dim, "target": case["target"], "initial": case["initial"], "particles": case["particles"],
                      "time": {"t_end": case["t_end"], "dt": 0.01, "integrator": "rk45"},
                      "output": {"snapshot_every": case["t_end"] / 50, "series_every": case["t_end"] / 100,
                                 "series_per_decade": 10, "plots": False}}
            config.update(json.loads(json.dumps(kernel)))
            name = f"d{dim}-{label.split()[0].lower()}"
            directory = os.path.join(args.out, name)
            run(args.kmdflow, config, directory)
            t, energy = series(directory)
            d = distances(args.kmdflow, dim, case["target"], directory)
            if dim == 2 and not label.startswith("Bessel"):
                subprocess.run([args.kmdflow, "plot", directory], check=True, stdout=subprocess.DEVNULL)
                shutil.copy(os.path.join(directory, "density.png"), os.path.join(HERE, f"kernels_{name.replace('-', '_')}.png"))
            if np.all(np.isfinite(energy)):
                positive = (t > 0) & (energy > 0)
                axes[row, 0].loglog(t[positive], energy[positive] / energy[0], color=colour, label=label)
            else:  # 2s = d: k(0) and the full energy are infinite
                axes[row, 0].plot([], [], color=colour, label=label + " (energy infinite: 2s = d)")
            axes[row, 1].semilogy(d[:, 0], d[:, 1], "o-", ms=3, color=colour, label=label)
            late = d[d[:, 0] >= 0.8 * case["t_end"], 1]
            table.append({"d": dim, "kernel": label, "N": case["particles"]["count"], "t_end": case["t_end"],
                          "D(0)": d[0, 1], "D(t_end/10)": d[np.argmin(np.abs(d[:, 0] - case["t_end"] / 10)), 1],
                          "D(t_end)": d[-1, 1], "D late spread": (late.max() - late.min()) / late.mean(),
                          "E(t_end)/E(0)": energy[-1] / energy[0] if np.isfinite(energy[0]) else float("nan")})
        axes[row, 0].set(xlabel="t", ylabel="E(t)/E(0), each kernel's own energy", title=f"d = {dim}")
        axes[row, 1].set(xlabel="t", ylabel=f"energy distance to ν (Ḣ^-{(dim + 1) / 2:g})",
                         title=f"d = {dim}, N = {case['particles']['count']}: one common norm")
        for ax in axes[row]:
            ax.legend(fontsize=8)
            ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(HERE, "kernels.png"), dpi=110)
    with open(os.path.join(HERE, "kernels.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows(table)
    for r in table:
        print(f"d = {r['d']}, {r['kernel']:28s} D: {r['D(0)']:.3e} -> {r['D(t_end/10)']:.3e} (t_end/10) -> "
              f"{r['D(t_end)']:.3e}; own energy {r['E(t_end)/E(0)']:.2e} of its start")


if __name__ == "__main__":
    main()
