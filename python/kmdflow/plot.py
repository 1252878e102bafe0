#!/usr/bin/env python3
"""Plots of a kmdflow run directory (DESIGN.md §7), written next to its results.

    python3 -m kmdflow.plot RUN_DIR [--quiet]      (or: ./kmdflow plot RUN_DIR)

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
import matplotlib.ticker  # noqa: E402
import h5py  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def load_series(run_dir):
    data = np.genfromtxt(os.path.join(run_dir, "series.csv"), delimiter=",", names=True)
    return np.atleast_1d(data)


def trajectory(run_dir):
    """The run's trajectory.h5, or where a run stopped on a failed write, its trajectory.h5.part
    (a complete SWMR file up to the last frame written)."""
    path = os.path.join(run_dir, "trajectory.h5")
    if not os.path.exists(path) and os.path.exists(path + ".part"):
        return h5py.File(path + ".part", "r", swmr=True)
    return h5py.File(path, "r")


def save(fig, path, tight=True):
    """Writes a figure (laid out tight unless it uses constrained layout) and closes it."""
    if tight:
        fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


GREEK = {"sigma": "σ", "lambda": "λ"}


def sobolev_order(config):
    """s for the Sobolev kernel (the default, whose order is the top-level `s`), else None."""
    if config.get("kernel", {}).get("type", "sobolev") != "sobolev":
        return None
    return float(config["s"])


def power_law_decay(config):
    """Whether the energy decays like a power law and is plotted on log-log axes: s > 1 for the
    Sobolev and Bessel kernels (for s ≤ 1 every mode decays at a rate bounded below: exponential),
    always for the Gaussian kernel (the same rule as the default log-spaced outputs of a run)."""
    s = order(config)
    return s is None or s > 1


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


def decay_fit(run_dir):
    """summary.json's late-time fit (energy_decay), the one source of the fitted and predicted
    values that the plot draws; None for runs that predate it or did not finish a row."""
    try:
        with open(os.path.join(run_dir, "summary.json")) as handle:
            fit = json.load(handle).get("energy_decay")
    except (OSError, ValueError):
        return None
    return fit if fit and "quantity" in fit else None


def add_fit_and_theory(plot, t, values, fit, power_law):
    """The fitted decay over its window and the theory's (DESIGN.md §2, where it gives one),
    anchored at the window's start; returns the title fragment and the record for plots.json."""
    record = {"quantity": fit["quantity"], "fit": None, "theory": None}
    kind, key, window_key = (("power_law", "power_law_exponent", "power_law_window") if power_law
                             else ("exponential", "exponential_rate", "exponential_window"))
    value, window = fit.get(key), fit[window_key]
    mask = (t >= window[0]) & (t <= window[1]) & np.isfinite(values) & (values > 0) & (t > 0)
    if value is None or mask.sum() < 2:
        return "", record
    tt, log_v = t[mask], np.log(values[mask])
    shape = np.log(tt) if power_law else tt
    intercept = np.mean(log_v + value * shape)  # the least-squares intercept for the fitted slope
    name = {"energy": "energy", "dissipation": "dissipation"}[fit["quantity"]]
    if power_law:
        label = f"fit: $\\propto t^{{-{value:.3g}}}$, t ∈ [{window[0]:.3g}, {window[1]:.3g}]"
    else:
        label = f"fit: $\\propto e^{{-{value:.3g}t}}$, t ∈ [{window[0]:.3g}, {window[1]:.3g}]"
    plot(tt, np.exp(intercept - value * shape), ":", color="C3", lw=1.6, label=label)
    record["fit"] = {"kind": kind, "value": value, "window": window}
    title = f"fitted {'exponent' if power_law else 'rate'} of the {name} {value:.3f}"
    predicted = fit.get("predicted_exponent" if power_law else "predicted_rate")
    if predicted is not None:
        t0, v0 = tt[0], values[mask][0]
        reference = v0 * ((tt / t0) ** -predicted if power_law else np.exp(-predicted * (tt - t0)))
        formula = (f"t^{{-{predicted:.3g}}}" if power_law else "e^{-2 \\min \\nu\\, t}"
                   if fit["theory"].startswith("late-time") else f"e^{{-{predicted:.3g}t}}")
        plot(tt, reference, "k--", lw=1, label=f"theory: $\\propto {formula}$ ({fit['theory'].split(' (DESIGN')[0]})")
        record["theory"] = {"kind": kind, "value": predicted, "source": fit["theory"]}
        late = fit["theory"].startswith("late-time")
        title += f" (theory{' as t → ∞' if late else ''} {predicted:.3g})"
    return title, record


def plot_energy(run_dir, config, series):
    """The full energy on log axes where it is finite (2s > d); otherwise the interaction energy,
    which may be negative, on linear axes beside the dissipation on log axes. The fitted decay and
    the theory's are summary.json's energy_decay; returns the path and the record for plots.json."""
    dim = int(config["dim"])
    pde = config.get("solver") == "pde"
    t = series["t"]
    energy, dissipation = series["energy"], series["dissipation"]
    finite = bool(np.all(np.isfinite(energy)))
    power_law = power_law_decay(config)
    fig, axes = plt.subplots(1, 1 if finite else 2, figsize=(7.5 if finite else 12, 4.8))
    axes = np.atleast_1d(axes)
    log_plot = axes[0].loglog if power_law else axes[0].semilogy
    keep = (t > 0) if power_law else np.ones_like(t, dtype=bool)
    title = f"d = {dim}, {kernel_label(config)}" + (", PDE" if pde else "")
    measure = "\\rho" if pde else "\\mu_N"
    sum_form = "\\int \\rho |v|^2" if pde else "\\sum_i w_i |v_i|^2"
    fit = decay_fit(run_dir)
    record = {"quantity": None, "fit": None, "theory": None}
    if finite:
        positive = keep & (energy > 0)
        name = "E_s" if sobolev_order(config) is not None else "E"
        log_plot(t[positive], energy[positive], label=f"energy ${name}({measure})$", color="C0")
        d_ok = keep & (dissipation > 0)
        log_plot(t[d_ok], dissipation[d_ok], label=f"dissipation ${sum_form}$", color="C1")
        fitted = (energy if fit and fit["quantity"] == "energy" else dissipation)
        fragment, record = add_fit_and_theory(log_plot, t, fitted, fit, power_law) if fit else ("", record)
    else:
        axes[0].plot(t, series["interaction_energy"], color="C0", label="interaction energy")
        axes[0].set_title("the full energy is infinite for 2s $\\leq$ d", fontsize=9)
        axes[0].set_xlabel("t")
        axes[0].legend(fontsize=8)
        axes[0].grid(True, alpha=0.3)
        d_plot = axes[1].loglog if power_law else axes[1].semilogy
        d_ok = keep & (dissipation > 0)
        d_plot(t[d_ok], dissipation[d_ok], label=f"dissipation ${sum_form} = -dE/dt$", color="C1")
        fragment, record = add_fit_and_theory(d_plot, t, dissipation, fit, power_law) if fit else ("", record)
        axes[1].set_xlabel("t")
        axes[1].legend(fontsize=8)
        axes[1].grid(True, which="both", alpha=0.3)
    if fragment:
        title += ":\n" + fragment
    axes[0].set_xlabel("t")
    if finite:
        axes[0].legend(fontsize=8)
        axes[0].grid(True, which="both", alpha=0.3)
    fig.suptitle(title, fontsize=11)
    path = save(fig, os.path.join(run_dir, "energy.png"))
    record["axes"] = "log-log" if power_law else "semi-log"
    return path, record


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


def choose_frames(times, count, log_spaced):
    """Up to `count` frames: evenly spaced in their index, or (log_spaced, for runs plotted on
    log-log axes) the first frame and those nearest to log-spaced times up to the last."""
    frames = len(times)
    if not log_spaced or frames <= count:
        return sorted(set(np.linspace(0, frames - 1, min(frames, count)).round().astype(int)))
    positive = np.flatnonzero(times > 0)
    wanted = np.geomspace(times[positive[0]], times[-1], count - 1)
    chosen = {0} | {int(positive[np.argmin(np.abs(np.log(times[positive]) - np.log(w)))]) for w in wanted}
    return sorted(chosen)


def snapshots(run_dir, log_spaced):
    with trajectory(run_dir) as f:
        positions = f["particles/all/position/value"]
        times = f["particles/all/position/time"][()]
        weights = f["particles/all/mass"][()]
        target = f["fields/target_density/value"][()] if "fields/target_density" in f else None
        chosen = choose_frames(times, 6, log_spaced)
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


def pde_snapshots(run_dir, log_spaced):
    with trajectory(run_dir) as f:
        values = f["fields/density/value"]
        times = f["fields/density/time"][()]
        target = f["fields/target_density/value"][()] if "fields/target_density" in f else None
        chosen = choose_frames(times, 6, log_spaced)
        return [(times[k], values[k]) for k in chosen], target


def plot_pde_density(run_dir, config):
    """The PDE density ρ against the target ν at snapshots: curves in 1D, images in 2D and the
    (x, y) marginal in 3D, each image on its own colour scale (a blob's peak would flatten the
    later frames on a shared one); returns the path and the record for plots.json."""
    dim = int(config["dim"])
    log_spaced = power_law_decay(config)
    shots, target = pde_snapshots(run_dir, log_spaced)
    n = shots[0][1].shape[0]
    record = {"frames": [float(time) for time, _ in shots], "spacing": "log" if log_spaced else "even"}
    if dim == 1:
        fig, ax = plt.subplots(figsize=(7, 3.6))
        grid = (np.arange(n) + 0.5) / n
        colours = plt.cm.viridis(np.linspace(0, 0.9, len(shots)))
        for (time, rho), colour in zip(shots, colours):
            ax.plot(grid, rho, color=colour, lw=1.2, label=f"$\\rho$, t = {time:.3g}")
        if target is not None:
            ax.plot(grid, target, "k--", lw=1.2, label="target $\\nu$")
        ax.set_xlabel("x")
        ax.set_ylabel("density")
        ax.legend(fontsize=8, ncol=2)
    else:
        marginal = (lambda a: a) if dim == 2 else (lambda a: a.mean(axis=2))
        panels = shots + ([("target ν", target)] if target is not None else [])
        columns = min(4, len(panels))
        rows = (len(panels) + columns - 1) // columns
        fig, axes = plt.subplots(rows, columns, figsize=(3.4 * columns, 3.1 * rows), squeeze=False, layout="constrained")
        scales = []
        for ax, (time, rho) in zip(axes.flat, panels):
            image = ax.imshow(marginal(rho).T, origin="lower", extent=(0, 1, 0, 1), cmap="viridis")
            scales.append([float(v) for v in image.get_clim()])
            fig.colorbar(image, ax=ax, shrink=0.8)
            ax.set_title(time if isinstance(time, str) else f"$\\rho$ at t = {time:.3g}", fontsize=9)
        for ax in list(axes.flat)[len(panels):]:
            ax.axis("off")
        record["colour_scales"] = scales
    what = "PDE density" + (", (x, y) marginal" if dim == 3 else "")
    fig.suptitle(f"{what} (d = {dim}, {n}^{dim} cells, {kernel_label(config)})")
    path = save(fig, os.path.join(run_dir, "density.png"), tight=dim == 1)  # 2D, 3D: constrained layout
    return path, record


def plot_study_scaling(study_dir, quiet):
    """Energy curves of every N against the PDE; the distance against N at fixed times (the mean
    over seeds with their standard deviation as error bars) with fitted slopes and the sampling's
    predicted slope at t = 0; the wall time against N with an N log N reference."""
    with open(os.path.join(study_dir, "study.json")) as handle:
        study = json.load(handle)
    data = np.genfromtxt(os.path.join(study_dir, "scaling.csv"), delimiter=",", names=True)
    data = np.atleast_1d(data)
    counts = sorted(set(int(n) for n in data["N"]))
    written, record = [], {}

    fig, ax = plt.subplots(figsize=(7.5, 4.8))
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
    written.append(save(fig, os.path.join(study_dir, "energy.png")))

    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    times = sorted(set(data["t"]))
    chosen = [times[int(k)] for k in sorted(set(np.linspace(0, len(times) - 1, min(5, len(times))).round().astype(int)))]
    sampling = study.get("sampling", study["config"]["initial"]["sampling"])
    seeds = int(study.get("seeds", 1))
    curves = []
    for t, colour in zip(chosen, plt.cm.viridis(np.linspace(0, 0.9, len(chosen)))):
        rows = data[(data["t"] == t) & (data["distance"] > 0)]
        ns = sorted(set(int(n) for n in rows["N"]))
        if not ns:
            continue
        mean = np.array([rows["distance"][rows["N"] == n].mean() for n in ns])
        sd = np.array([rows["distance"][rows["N"] == n].std(ddof=1) if (rows["N"] == n).sum() > 1 else 0.0 for n in ns])
        label = f"t = {t:.3g}"
        slope = None
        if len(ns) >= 2:
            slope = float(np.polyfit(np.log(ns), np.log(mean), 1)[0])
            label += f" (slope {slope:.2f})"
        ax.errorbar(ns, mean, yerr=sd if seeds > 1 else None, fmt="o-", color=colour, capsize=3, ms=4, label=label)
        curves.append({"t": float(t), "N": ns, "mean": mean.tolist(), "sd": sd.tolist(), "slope": slope})
    ax.set_xscale("log")
    ax.set_yscale("log")
    n = np.array(counts, dtype=float)
    predicted = study.get("predicted_slope_t0")
    if predicted is not None and curves and curves[0]["t"] == 0 and len(curves[0]["mean"]) >= 1:
        anchor = curves[0]["mean"][0] * (n / curves[0]["N"][0]) ** predicted
        ax.plot(n, anchor, "k:", lw=1.2, label=f"theory at t = 0, {sampling} sampling: $N^{{{predicted:.3g}}}$")
    ax.set_xlabel("N")
    ax.set_ylabel(f"$\\|\\mu_N - \\rho\\|_{{H^{{-{study['sigma']:g}}}}}$" + (f" (mean ± sd, {seeds} seeds)" if seeds > 1 else ""))
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"distance to the PDE ({sampling} sampling)")
    written.append(save(fig, os.path.join(study_dir, "distance.png")))
    record["distance.png"] = {"curves": curves, "predicted_slope_t0": predicted, "sampling": sampling, "seeds": seeds}

    fig, ax = plt.subplots(figsize=(6.5, 4.3))
    last = data[data["t"] == times[-1]]
    ns = sorted(set(int(v) for v in last["N"]))
    wall = np.array([np.median(last["wall_s"][last["N"] == v]) for v in ns])
    ax.loglog(ns, wall, "o-", label="particles" + (f" (median of {seeds} seeds)" if seeds > 1 else ""))
    ns_f = np.array(ns, dtype=float)
    reference = wall[-1] * (ns_f * np.log(ns_f)) / (ns_f[-1] * np.log(ns_f[-1]))
    ax.loglog(ns_f, reference, "k--", lw=1, label="$\\propto N \\log N$")
    # Ticks at the counts run and at 1, 2, 5 × 10^k seconds.
    ax.set_xticks(ns_f, [f"{v:g}" for v in ns])
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.yaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1, 2, 5)))
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("N")
    ax.set_ylabel(f"wall time to t = {times[-1]:.3g} (s)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    threads = set()
    for v in ns:
        try:
            with open(os.path.join(study_dir, f"particles-{v}", "summary.json")) as handle:
                threads.add(json.load(handle).get("threads"))
        except (OSError, ValueError):
            pass
    count = next(iter(threads)) if len(threads) == 1 else None
    used = (f"{count} thread{'' if count == 1 else 's'}" if count is not None
            else "threads chosen per N: see each run's summary.json")
    ax.set_title(f"wall time ({used}, {study['kmdflow']['backend']})", fontsize=10)
    written.append(save(fig, os.path.join(study_dir, "wall.png")))
    record["wall.png"] = {"N": ns, "wall_s": wall.tolist(), "reference": "N log N"}
    write_record(study_dir, record)
    if not quiet:
        for path in written:
            print(path)
    return 0


def plot_density(run_dir, config):
    dim = int(config["dim"])
    if config.get("solver") == "pde":
        return plot_pde_density(run_dir, config)
    log_spaced = power_law_decay(config)
    shots, weights, target = snapshots(run_dir, log_spaced)
    if dim == 1:
        fig = plot_density_1d(run_dir, config, shots, weights, target)
        what = "particle density against the target"
    else:
        fig = plot_density_2d(run_dir, config, shots, weights, target, dim)
        what = "particles over the target density" if dim == 2 else "particles, (x, y) projection"
    fig.suptitle(f"{what} (d = {dim}, N = {len(weights)}, {kernel_label(config)})")
    path = save(fig, os.path.join(run_dir, "density.png"))
    return path, {"frames": [float(time) for time, _ in shots], "spacing": "log" if log_spaced else "even"}


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
    # summary.json's loss_decay: the same exponent over the same window as the summary.
    try:
        with open(os.path.join(run_dir, "summary.json")) as handle:
            fit = json.load(handle).get("loss_decay", {})
    except (OSError, ValueError):
        fit = {}
    exponent, window = fit.get("power_law_exponent"), fit.get("power_law_window", [t[-1] / 30, t[-1]])
    late = keep & (t >= window[0]) & (t <= window[1])
    record = {"quantity": "loss", "fit": None, "theory": None, "axes": "log-log"}
    if exponent is not None and late.sum() >= 2:
        intercept = np.mean(np.log(loss[late]) + exponent * np.log(t[late]))
        ax.loglog(t[late], np.exp(intercept) * t[late] ** -exponent, ":", color="C3", lw=1.6,
                  label=f"fit: $\\propto t^{{-{exponent:.3g}}}$, t ∈ [{window[0]:.3g}, {window[1]:.3g}]")
        caveat = ("the linear theory needs the initialisation's regularity r: kmdflow study relu-rates"
                  if "density" in config["relu"]["teacher"] else "a teacher of atoms lies outside the linear theory")
        title += f"\nfitted late-time exponent of the loss {exponent:.3f}\n({caveat})"
        record["fit"] = {"kind": "power_law", "value": exponent, "window": window}
    ax.set_xlabel("t")
    ax.set_ylabel("population loss")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    written.append(save(fig, os.path.join(run_dir, "energy.png")))

    teacher = np.atleast_2d(np.genfromtxt(os.path.join(run_dir, "teacher.csv"), delimiter=",", skip_header=1))
    d = int(config["dim"])
    with trajectory(run_dir) as f:
        positions = f["particles/all/position/value"][()]
        masses = f["particles/all/mass/value"][()]
        times = f["particles/all/position/time"][()]
    chosen = choose_frames(times, 5, True)
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
    written.append(save(fig, os.path.join(run_dir, "density.png")))
    write_record(run_dir, {"energy.png": record,
                           "density.png": {"frames": [float(times[k]) for k in chosen], "spacing": "log"}})
    return written


def write_record(directory, record):
    """plots.json beside the figures: what each one draws (fitted and theory values, windows,
    frames), so that tests and scripts can check a figure without reading pixels."""
    path = os.path.join(directory, "plots.json")
    with open(path + ".part", "w") as handle:
        json.dump(record, handle, indent=1, ensure_ascii=False)
        handle.write("\n")
    os.replace(path + ".part", path)


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
        (energy, energy_record), (density, density_record) = (plot_energy(args.run_dir, config, series),
                                                              plot_density(args.run_dir, config))
        written = [energy, density]
        write_record(args.run_dir, {"energy.png": energy_record, "density.png": density_record})
    if not args.quiet:
        for path in written:
            if path:
                print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
