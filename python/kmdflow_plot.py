#!/usr/bin/env python3
"""Plots of a kmdflow run directory (DESIGN.md §7), written next to its results.

    python3 python/kmdflow_plot.py RUN_DIR [--quiet]      (or: ./kmdflow plot RUN_DIR)

energy.png   the full energy (where finite; else the interaction energy) and the dissipation
             against t on log axes, with the theory's reference: e^{-2t} for s = 1, and the slope
             t^{-(s+r)/(s-1)} for s > 1 when the initial perturbation has a known regularity r
             (DESIGN.md §2).
density.png  the particle histogram at each snapshot against the target density (d = 1).
"""

import argparse
import json
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import h5py  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def load_series(run_dir):
    data = np.genfromtxt(os.path.join(run_dir, "series.csv"), delimiter=",", names=True)
    return np.atleast_1d(data)


def fit_window(t, values, fraction):
    """Rows with t >= fraction * t_end where the quantity is positive and finite."""
    return (t >= fraction * t[-1]) & np.isfinite(values) & (values > 0) & (t > 0)


def plot_energy(run_dir, config, series):
    s, dim = float(config["s"]), int(config["dim"])
    t = series["t"]
    energy = series["energy"]
    finite = np.all(np.isfinite(energy))
    label = "energy $E_s(\\mu_N)$" if finite else "interaction energy"
    if not finite:
        energy = series["interaction_energy"]
    dissipation = series["dissipation"]
    power_law = s > 1
    fig, ax = plt.subplots(figsize=(7, 4.5))
    plot = ax.loglog if power_law else ax.semilogy
    positive = (energy > 0) & ((t > 0) if power_law else True)
    plot(t[positive], energy[positive], label=label, color="C0")
    if not np.all(energy > 0):
        ax.text(0.02, 0.02, "non-positive values not shown", transform=ax.transAxes, fontsize=8)
    dpos = (dissipation > 0) & ((t > 0) if power_law else True)
    plot(t[dpos], dissipation[dpos], label="dissipation $\\sum_i w_i |v_i|^2$", color="C1")

    # The theory's reference line, anchored where the late-time window starts.
    # Late-time windows: the second half in t for exponential decay, the last 1.5 decades of t
    # for power laws (the same windows as summary.json's energy_decay).
    mask = fit_window(t, energy, 1 / 30 if power_law else 0.5)
    if mask.sum() >= 2:
        t0, e0 = t[mask][0], energy[mask][0]
        tt = t[mask]
        initial = config.get("initial", {})
        if s == 1:
            plot(tt, e0 * np.exp(-2 * (tt - t0)), "k--", lw=1, label="$\\propto e^{-2t}$ (s = 1)")
            rate = -np.polyfit(tt, np.log(energy[mask]), 1)[0]
            ax.set_title(f"d = {dim}, s = {s:g}: fitted rate {rate:.3f} (theory 2 near equilibrium)")
        elif s > 1 and initial.get("type") == "perturbed":
            r = float(initial["r"])
            exponent = (s + r) / (s - 1)
            plot(tt, e0 * (tt / t0) ** (-exponent), "k--", lw=1,
                 label=f"$\\propto t^{{-{exponent:.3g}}}$ = $t^{{-(s+r)/(s-1)}}$, r = {r:g}")
            fitted = -np.polyfit(np.log(tt), np.log(energy[mask]), 1)[0]
            ax.set_title(f"d = {dim}, s = {s:g}: fitted exponent {fitted:.3f} (theory {exponent:.3f})")
        else:
            ax.set_title(f"d = {dim}, s = {s:g}")
    ax.set_xlabel("t")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    path = os.path.join(run_dir, "energy.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def target_histogram(config, bins):
    """The samples target as a histogram (density targets are stored in the trajectory)."""
    from csv import reader

    path = config["target"]["path"]
    if path.endswith((".h5", ".hdf5", ".h5md")):
        with h5py.File(path, "r") as f:
            x = f["particles/all/position/value"][-1][:, 0]
            w = f["particles/all/mass"][()] if "particles/all/mass" in f else None
    else:
        with open(path) as handle:
            rows = list(reader(handle))
        header, rows = rows[0], [r for r in rows[1:] if r]
        x = np.array([float(r[0]) for r in rows]) % 1.0
        w = np.array([float(r[-1]) for r in rows]) if header[-1].strip() == "w" else None
    hist, edges = np.histogram(x, bins=bins, range=(0, 1), weights=w, density=True)
    return hist, edges


def plot_density(run_dir, config):
    if int(config["dim"]) != 1:
        return None
    with h5py.File(os.path.join(run_dir, "trajectory.h5"), "r") as f:
        positions = f["particles/all/position/value"]
        times = f["particles/all/position/time"][()]
        weights = f["particles/all/mass"][()]
        target = f["fields/target_density/value"][()] if "fields/target_density" in f else None
        frames = len(times)
        chosen = sorted(set(np.linspace(0, frames - 1, min(frames, 6)).round().astype(int)))
        snapshots = [(times[k], positions[k][:, 0]) for k in chosen]
    n = len(weights)
    bins = int(min(200, max(20, math.sqrt(n))))
    fig, axes = plt.subplots(len(snapshots), 1, figsize=(7, 1.6 * len(snapshots) + 0.6), sharex=True)
    axes = np.atleast_1d(axes)
    for ax, (time, x) in zip(axes, snapshots):
        ax.hist(x, bins=bins, range=(0, 1), weights=weights, density=True, color="C0", alpha=0.6,
                label="particles")
        if target is not None:
            grid = (np.arange(len(target)) + 0.5) / len(target)
            ax.plot(grid, target, "k", lw=1.2, label="target $\\nu$")
        elif config["target"]["type"] == "samples":
            hist, edges = target_histogram(config, bins)
            ax.stairs(hist, edges, color="k", lw=1.0, label="target samples")
        ax.set_ylabel(f"t = {time:.3g}")
    axes[0].legend(fontsize=8, loc="upper right")
    axes[-1].set_xlabel("x")
    fig.suptitle(f"particle density against the target (N = {n}, s = {float(config['s']):g})")
    fig.tight_layout()
    path = os.path.join(run_dir, "density.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    try:
        with open(os.path.join(args.run_dir, "config.json")) as handle:
            config = json.load(handle)
        series = load_series(args.run_dir)
    except (OSError, ValueError) as error:
        print(f"error: {args.run_dir}: {error}", file=sys.stderr)
        return 2
    written = [plot_energy(args.run_dir, config, series), plot_density(args.run_dir, config)]
    if not args.quiet:
        for path in written:
            if path:
                print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
