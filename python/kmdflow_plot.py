#!/usr/bin/env python3
"""Plots of a kmdflow run directory (DESIGN.md §7), written next to its results.

    python3 python/kmdflow_plot.py RUN_DIR [--quiet]      (or: ./kmdflow plot RUN_DIR)

energy.png   the full energy (where finite; else the interaction energy, on linear axes, beside)
             and the dissipation against t on log axes, with the theory's reference: e^{-2t} for s = 1, and the slope
             t^{-(s+r)/(s-1)} for s > 1 when the initial perturbation has a known regularity r
             (DESIGN.md §2).
density.png  the particle histogram at each snapshot against the target density (d = 1); the
             particles scattered over the target density (d = 2) or projected on (x, y) (d = 3).
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


GREEK = {"sigma": "σ", "lambda": "λ"}


def sobolev_order(config):
    """s for the Sobolev kernel (the default, whose order is the top-level `s`), else None."""
    if config.get("kernel", {}).get("type", "sobolev") != "sobolev":
        return None
    return float(config["s"])


def kernel_label(config):
    """The kernel for a title: "s = 1" for the Sobolev kernel, else its family and parameters."""
    s = sobolev_order(config)
    if s is not None:
        return f"s = {s:g}"
    kernel = config["kernel"]
    keys = sorted((k for k in kernel if k != "type"), key=lambda k: (k != "s", k))  # the order first
    parameters = ", ".join(f"{GREEK.get(k, k)} = {kernel[k]:g}" for k in keys)
    return f"{kernel['type']} kernel, {parameters}"


def order(config):
    """The kernel's order s where it has one (the Sobolev and Bessel kernels), else None."""
    s = sobolev_order(config)
    return s if s is not None else config.get("kernel", {}).get("s")


def add_reference(ax, plot, config, t, values, power_law):
    """The theory's decay (DESIGN.md §2, the Sobolev kernel) over the late-time window, anchored at
    its start; returns a title fragment with the fitted rate or exponent."""
    s = sobolev_order(config)
    if s is None:
        return ""
    mask = fit_window(t, values, 1 / 30 if power_law else 0.5)
    if mask.sum() < 2:
        return ""
    t0, v0, tt = t[mask][0], values[mask][0], t[mask]
    initial = config.get("initial", {})
    uniform_target = config.get("target", {}).get("type") == "uniform"
    if s == 1:
        plot(tt, v0 * np.exp(-2 * (tt - t0)), "k--", lw=1, label="$\\propto e^{-2t}$")
        rate = -np.polyfit(tt, np.log(values[mask]), 1)[0]
        theory = " (theory 2 near a uniform target)" if uniform_target else ""
        return f"fitted rate {rate:.3f}{theory}"
    if s > 1 and initial.get("type") == "perturbed" and uniform_target:
        r = float(initial["r"])
        exponent = (s + r) / (s - 1)
        plot(tt, v0 * (tt / t0) ** (-exponent), "k--", lw=1,
             label=f"$\\propto t^{{-{exponent:.3g}}}$ = $t^{{-(s+r)/(s-1)}}$, r = {r:g}")
        fitted = -np.polyfit(np.log(tt), np.log(values[mask]), 1)[0]
        return f"fitted exponent {fitted:.3f} (theory {exponent:.3f})"
    return ""


def plot_energy(run_dir, config, series):
    """The full energy on log axes where it is finite (2s > d); otherwise the interaction energy,
    which may be negative, on linear axes beside the dissipation on log axes."""
    s, dim = order(config), int(config["dim"])
    t = series["t"]
    energy, dissipation = series["energy"], series["dissipation"]
    finite = bool(np.all(np.isfinite(energy)))
    # Exponential decay for s ≤ 1, power laws for s > 1 and for the smooth (Gaussian) kernel.
    power_law = s is None or s > 1
    fig, axes = plt.subplots(1, 1 if finite else 2, figsize=(7 if finite else 11, 4.5))
    axes = np.atleast_1d(axes)
    log_plot = axes[0].loglog if power_law else axes[0].semilogy
    keep = (t > 0) if power_law else np.ones_like(t, dtype=bool)
    title = f"d = {dim}, {kernel_label(config)}"
    if finite:
        positive = keep & (energy > 0)
        name = "E_s" if sobolev_order(config) is not None else "E"
        log_plot(t[positive], energy[positive], label=f"energy ${name}(\\mu_N)$", color="C0")
        d_ok = keep & (dissipation > 0)
        log_plot(t[d_ok], dissipation[d_ok], label="dissipation $\\sum_i w_i |v_i|^2$", color="C1")
        fit = add_reference(axes[0], log_plot, config, t, energy, power_law)
    else:
        axes[0].plot(t, series["interaction_energy"], color="C0", label="interaction energy")
        axes[0].set_title("the full energy is infinite for 2s $\\leq$ d", fontsize=9)
        axes[0].set_xlabel("t")
        axes[0].legend(fontsize=8)
        axes[0].grid(True, alpha=0.3)
        d_plot = axes[1].loglog if power_law else axes[1].semilogy
        d_ok = keep & (dissipation > 0)
        d_plot(t[d_ok], dissipation[d_ok], label="dissipation $\\sum_i w_i |v_i|^2 = -dE/dt$", color="C1")
        fit = add_reference(axes[1], d_plot, config, t, dissipation, power_law)
        axes[1].set_xlabel("t")
        axes[1].legend(fontsize=8)
        axes[1].grid(True, which="both", alpha=0.3)
    if fit:
        title += ": " + fit
    axes[0].set_xlabel("t")
    if finite:
        axes[0].legend(fontsize=8)
        axes[0].grid(True, which="both", alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    path = os.path.join(run_dir, "energy.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def read_points(path, dim):
    """Points (and weights) of a CSV x[,y[,z]][,w] or H5MD file."""
    if path.endswith((".h5", ".hdf5", ".h5md")):
        with h5py.File(path, "r") as f:
            x = f["particles/all/position/value"][-1]
            w = f["particles/all/mass"][()] if "particles/all/mass" in f else None
        return x % 1.0, w
    data = np.genfromtxt(path, delimiter=",", names=True)
    names = data.dtype.names
    x = np.column_stack([data[n] for n in names[:dim]]) % 1.0
    w = data["w"] if "w" in names else None
    return x, w


def snapshots(run_dir):
    with h5py.File(os.path.join(run_dir, "trajectory.h5"), "r") as f:
        positions = f["particles/all/position/value"]
        times = f["particles/all/position/time"][()]
        weights = f["particles/all/mass"][()]
        target = f["fields/target_density/value"][()] if "fields/target_density" in f else None
        frames = len(times)
        chosen = sorted(set(np.linspace(0, frames - 1, min(frames, 6)).round().astype(int)))
        return [(times[k], positions[k]) for k in chosen], weights, target


def plot_density_1d(run_dir, config, shots, weights, target):
    n = len(weights)
    bins = int(min(200, max(20, math.sqrt(n))))
    fig, axes = plt.subplots(len(shots), 1, figsize=(7, 1.6 * len(shots) + 0.6), sharex=True)
    axes = np.atleast_1d(axes)
    samples = None
    if target is None and config["target"]["type"] == "samples":
        samples = read_points(config["target"]["path"], 1)
    for ax, (time, x) in zip(axes, shots):
        ax.hist(x[:, 0], bins=bins, range=(0, 1), weights=weights, density=True, color="C0", alpha=0.6,
                label="particles")
        if target is not None:
            grid = (np.arange(len(target)) + 0.5) / len(target)
            ax.plot(grid, target, "k", lw=1.2, label="target $\\nu$")
        elif samples is not None:
            hist, edges = np.histogram(samples[0][:, 0], bins=bins, range=(0, 1), weights=samples[1], density=True)
            ax.stairs(hist, edges, color="k", lw=1.0, label="target samples")
        ax.set_ylabel(f"t = {time:.3g}")
    axes[0].legend(fontsize=8, loc="upper right")
    axes[-1].set_xlabel("x")
    return fig


def plot_density_2d(run_dir, config, shots, weights, target, dim):
    """Scatter plots of the particles (the (x, y) projection in 3D) over the target density."""
    columns = min(3, len(shots))
    rows = (len(shots) + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(3.6 * columns, 3.6 * rows), squeeze=False)
    samples = None
    if config["target"]["type"] == "samples":
        samples = read_points(config["target"]["path"], dim)[0]
    rng = np.random.default_rng(0)
    for ax, (time, x) in zip(axes.flat, shots):
        if target is not None and dim == 2:
            ax.imshow(target.T, origin="lower", extent=(0, 1, 0, 1), cmap="Greys", alpha=0.8)
        if samples is not None:
            ax.scatter(samples[:, 0], samples[:, 1], s=3, c="0.6", marker="x", linewidths=0.5, label="target samples")
        shown = x if len(x) <= 4000 else x[rng.choice(len(x), 4000, replace=False)]
        ax.scatter(shown[:, 0], shown[:, 1], s=2, c="C0", label="particles")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_aspect("equal")
        ax.set_title(f"t = {time:.3g}", fontsize=9)
    for ax in list(axes.flat)[len(shots):]:
        ax.axis("off")
    return fig


def pde_snapshots(run_dir):
    with h5py.File(os.path.join(run_dir, "trajectory.h5"), "r") as f:
        values = f["fields/density/value"]
        times = f["fields/density/time"][()]
        target = f["fields/target_density/value"][()] if "fields/target_density" in f else None
        frames = len(times)
        chosen = sorted(set(np.linspace(0, frames - 1, min(frames, 6)).round().astype(int)))
        return [(times[k], values[k]) for k in chosen], target


def plot_pde_density(run_dir, config):
    """The PDE density against the target at snapshots: curves in 1D, images in 2D, the (x, y)
    marginal in 3D."""
    dim = int(config["dim"])
    shots, target = pde_snapshots(run_dir)
    n = shots[0][1].shape[0]
    if dim == 1:
        fig, ax = plt.subplots(figsize=(7, 3.6))
        grid = (np.arange(n) + 0.5) / n
        colours = plt.cm.viridis(np.linspace(0, 0.9, len(shots)))
        for (time, rho), colour in zip(shots, colours):
            ax.plot(grid, rho, color=colour, lw=1.2, label=f"t = {time:.3g}")
        if target is not None:
            ax.plot(grid, target, "k--", lw=1.2, label="target $\\nu$")
        ax.set_xlabel("x")
        ax.set_ylabel("density")
        ax.legend(fontsize=8, ncol=2)
    else:
        marginal = (lambda a: a) if dim == 2 else (lambda a: a.mean(axis=2))
        panels = shots + ([("target", target)] if target is not None else [])
        columns = min(4, len(panels))
        rows = (len(panels) + columns - 1) // columns
        fig, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 3.2 * rows), squeeze=False, layout="constrained")
        low = min(marginal(p[1]).min() for p in panels)
        high = max(marginal(p[1]).max() for p in panels)
        for ax, (time, rho) in zip(axes.flat, panels):
            image = ax.imshow(marginal(rho).T, origin="lower", extent=(0, 1, 0, 1), vmin=low, vmax=high, cmap="viridis")
            ax.set_title("target" if isinstance(time, str) else f"t = {time:.3g}", fontsize=9)
        for ax in list(axes.flat)[len(panels):]:
            ax.axis("off")
        fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.8)
    what = "PDE density" + (", (x, y) marginal" if dim == 3 else "")
    fig.suptitle(f"{what} (d = {dim}, {n}^{dim} cells, {kernel_label(config)})")
    if dim == 1:
        fig.tight_layout()
    path = os.path.join(run_dir, "density.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_study_scaling(study_dir, quiet):
    """Energy curves of every N against the PDE, distance against N at fixed times with fitted
    slopes, wall time against N."""
    with open(os.path.join(study_dir, "study.json")) as handle:
        study = json.load(handle)
    data = np.genfromtxt(os.path.join(study_dir, "scaling.csv"), delimiter=",", names=True)
    data = np.atleast_1d(data)
    counts = sorted(set(int(n) for n in data["N"]))
    written = []

    fig, ax = plt.subplots(figsize=(7, 4.5))
    pde = load_series(os.path.join(study_dir, "pde"))
    colours = plt.cm.plasma(np.linspace(0, 0.85, len(counts)))
    kind = study["energy_particles"]
    for n, colour in zip(counts, colours):
        series = load_series(os.path.join(study_dir, f"particles-{n}"))
        e = series["energy"] if kind == "full" else series["interaction_energy"]
        keep = (series["t"] > 0) & (e > 0)
        ax.loglog(series["t"][keep], e[keep], color=colour, lw=1.2, label=f"N = {n}")
    keep = (pde["t"] > 0) & (pde["energy"] > 0)
    ax.loglog(pde["t"][keep], pde["energy"][keep], "k--", lw=1.6, label="PDE")
    ax.set_xlabel("t")
    ax.set_ylabel(f"energy ({kind} for particles)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"particles against the mean-field PDE (d = {study['config']['dim']}, {kernel_label(study['config'])})")
    fig.tight_layout()
    written.append(os.path.join(study_dir, "energy.png"))
    fig.savefig(written[-1], dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    times = sorted(set(data["t"]))
    chosen = [times[int(k)] for k in sorted(set(np.linspace(0, len(times) - 1, min(5, len(times))).round().astype(int)))]
    for t, colour in zip(chosen, plt.cm.viridis(np.linspace(0, 0.9, len(chosen)))):
        rows = data[data["t"] == t]
        rows = rows[rows["distance"] > 0]
        if len(rows) == 0:
            continue
        label = f"t = {t:.3g}"
        if len(rows) >= 2:
            slope = np.polyfit(np.log(rows["N"]), np.log(rows["distance"]), 1)[0]
            label += f" (slope {slope:.2f})"
        ax.loglog(rows["N"], rows["distance"], "o-", color=colour, label=label)
    n = np.array(counts, dtype=float)
    first = data[data["t"] == chosen[0]]
    if len(first) and first["distance"].max() > 0:
        ax.loglog(n, first["distance"].max() * (n / n[0]) ** -0.5, "k:", lw=1, label="$N^{-1/2}$")
    ax.set_xlabel("N")
    ax.set_ylabel(f"$\\|\\mu_N - \\rho\\|_{{H^{{-{study['sigma']:g}}}}}$")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"distance to the PDE ({study['config']['initial']['sampling']} sampling)")
    fig.tight_layout()
    written.append(os.path.join(study_dir, "distance.png"))
    fig.savefig(written[-1], dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    last = data[data["t"] == times[-1]]
    ax.loglog(last["N"], last["wall_s"], "o-", label="particles")
    ax.set_xlabel("N")
    ax.set_ylabel(f"wall time to t = {times[-1]:.3g} (s)")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    written.append(os.path.join(study_dir, "wall.png"))
    fig.savefig(written[-1], dpi=110)
    plt.close(fig)
    if not quiet:
        for path in written:
            print(path)
    return 0


def plot_density(run_dir, config):
    dim = int(config["dim"])
    if config.get("solver") == "pde":
        return plot_pde_density(run_dir, config)
    shots, weights, target = snapshots(run_dir)
    if dim == 1:
        fig = plot_density_1d(run_dir, config, shots, weights, target)
        what = "particle density against the target"
    else:
        fig = plot_density_2d(run_dir, config, shots, weights, target, dim)
        what = "particles over the target density" if dim == 2 else "particles, (x, y) projection"
    fig.suptitle(f"{what} (d = {dim}, N = {len(weights)}, {kernel_label(config)})")
    fig.tight_layout()
    path = os.path.join(run_dir, "density.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_relu(run_dir, config, series):
    """ReLU network runs: the loss on log-log axes with the fitted late-time exponent, and the
    neurons against the teacher's atoms (d = 1: mass against angle over time; d = 2: the sphere
    with neurons sized by mass; d > 2: the first three coordinates)."""
    written = []
    t, loss = series["t"], series["energy"]
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    keep = (t > 0) & (loss > 0)
    ax.loglog(t[keep], loss[keep], "C0", lw=1.5, label="loss L")
    title = f"two-layer ReLU network, d = {config['dim']}, {config['relu']['form']} form"
    late = keep & (t >= t[-1] / 30)
    if late.sum() >= 3:
        slope, intercept = np.polyfit(np.log(t[late]), np.log(loss[late]), 1)
        ax.loglog(t[late], np.exp(intercept) * t[late] ** slope, "k--", lw=1, label=f"fit: t^{slope:.2f}")
        title += f"\nlate-time exponent {-slope:.2f}"
    ax.set_xlabel("t")
    ax.set_ylabel("population loss")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    written.append(os.path.join(run_dir, "energy.png"))
    fig.savefig(written[-1], dpi=110)
    plt.close(fig)

    teacher = np.atleast_2d(np.genfromtxt(os.path.join(run_dir, "teacher.csv"), delimiter=",", skip_header=1))
    d = int(config["dim"])
    with h5py.File(os.path.join(run_dir, "trajectory.h5"), "r") as f:
        positions = f["particles/all/position/value"][()]
        masses = f["particles/all/mass/value"][()]
        times = f["particles/all/position/time"][()]
    chosen = sorted(set(np.linspace(0, len(times) - 1, min(len(times), 5)).round().astype(int)))
    if d == 1:
        fig, ax = plt.subplots(figsize=(7.5, 4))
        colours = plt.cm.viridis(np.linspace(0, 0.9, len(chosen)))
        for k, colour in zip(chosen, colours):
            angle = np.arctan2(positions[k][:, 1], positions[k][:, 0])
            order = np.argsort(angle)
            ax.plot(angle[order], masses[k][order], ".-", color=colour, ms=3, lw=0.8, label=f"t = {times[k]:.3g}")
        teacher_angle = np.arctan2(teacher[:, 1], teacher[:, 0])
        ax.vlines(teacher_angle, 0, teacher[:, -1], colors="k", lw=2, label="teacher atoms (mass)")
        ax.set_xlabel("angle of the neuron's direction")
        ax.set_ylabel("neuron mass m_i")
        ax.set_yscale("symlog", linthresh=1e-3)
        ax.legend(fontsize=8)
    else:
        last = chosen[-1]
        fig = plt.figure(figsize=(10, 4.8))
        for column, k in enumerate([chosen[0], last]):
            ax = fig.add_subplot(1, 2, column + 1, projection="3d")
            u, v = np.mgrid[0:2 * np.pi:40j, 0:np.pi:20j]
            ax.plot_wireframe(np.cos(u) * np.sin(v), np.sin(u) * np.sin(v), np.cos(v), color="0.85", lw=0.3)
            m = np.abs(masses[k])
            size = 60 * m / max(m.max(), 1e-300)
            ax.scatter(positions[k][:, 0], positions[k][:, 1], positions[k][:, 2], s=size, c="C0", alpha=0.7, label="student")
            ax.scatter(teacher[:, 0], teacher[:, 1], teacher[:, 2], s=120, marker="*", c="C3", label="teacher")
            ax.set_title(f"t = {times[k]:.3g}" + ("" if d == 2 else " (first 3 coordinates)"), fontsize=9)
            ax.set_box_aspect((1, 1, 1))
            ax.legend(fontsize=7, loc="upper left")
    fig.suptitle(f"neurons (sized by mass) and the teacher, N = {positions.shape[1]}")
    fig.tight_layout()
    written.append(os.path.join(run_dir, "density.png"))
    fig.savefig(written[-1], dpi=110)
    plt.close(fig)
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    if os.path.exists(os.path.join(args.run_dir, "study.json")):
        try:
            return plot_study_scaling(args.run_dir, args.quiet)
        except (OSError, ValueError, KeyError) as error:
            print(f"error: {args.run_dir}: {error}", file=sys.stderr)
            return 2
    try:
        with open(os.path.join(args.run_dir, "config.json")) as handle:
            config = json.load(handle)
        series = load_series(args.run_dir)
    except (OSError, ValueError) as error:
        print(f"error: {args.run_dir}: {error}", file=sys.stderr)
        return 2
    if config.get("model") == "relu":
        written = plot_relu(args.run_dir, config, series)
    else:
        written = [plot_energy(args.run_dir, config, series), plot_density(args.run_dir, config)]
    if not args.quiet:
        for path in written:
            if path:
                print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
