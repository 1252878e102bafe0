#!/usr/bin/env python3
"""The ReLU-network rate study (issue 6): WFR training towards a teacher with a positive density,
from initialisations near it (a mass perturbation of known Sobolev regularity r) and far from it,
and towards few-atom teachers; fits the late-time loss exponent and compares it with the linear
theory's (d+3+2r)/(d+1) = (s+r)/(s-1), s = (d+3)/2 (DESIGN.md §2).

    kmdflow study relu-rates [--quick] [--out DIR]      (runs this script)
    python3 -m kmdflow.relu_rates --kmdflow ./kmdflow --out DIR [--quick]

Writes DIR/relu_rates.csv (case,d,r,init,teacher,N,window,measured,predicted,rel_diff),
DIR/relu_rates.md and DIR/relu_rates.png; each run is a complete run directory DIR/<case>/.

The teacher's density is uniform on S^d, discretised by M atoms (equally spaced in d = 1, a
Fibonacci lattice in d = 2, iid in d = 3, fixed seeds); the near student sits on the same atoms
with masses 1 + eps g, g = sum over even l = 2..L of l^(-r-1/2) Z_l, Z_l a unit-norm zonal harmonic
about a random axis, eps such that min(1 + eps g) = 1/2 (odd l >= 3 are invisible to the loss).
"""

import argparse
import json
import os
import subprocess
import sys
import time
from math import comb

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy.special import eval_gegenbauer  # noqa: E402


def sphere_points(d, m, rng):
    if d == 1:
        t = 2 * np.pi * (np.arange(m) + 0.5) / m
        return np.c_[np.cos(t), np.sin(t)]
    if d == 2:
        i = np.arange(m)
        z = 1 - 2 * (i + 0.5) / m
        r = np.sqrt(1 - z * z)
        g = np.pi * (3 - np.sqrt(5))
        return np.c_[r * np.cos(g * i), r * np.sin(g * i), z]
    x = rng.normal(size=(m, d + 1))
    return x / np.linalg.norm(x, axis=1)[:, None]


def harmonic_dimension(d, l):
    return 2 if d == 1 else (2 * l + d - 1) * comb(l + d - 2, l) // (l + d - 1)


def perturbation(d, x, r, top, rng):
    g = np.zeros(len(x))
    for l in range(2, top + 1, 2):
        axis = rng.normal(size=d + 1)
        c = np.clip(x @ (axis / np.linalg.norm(axis)), -1, 1)
        if d == 1:
            z = np.sqrt(2) * np.cos(l * np.arccos(c))
        else:
            a = (d - 1) / 2
            z = eval_gegenbauer(l, a, c) / eval_gegenbauer(l, a, 1.0) * np.sqrt(harmonic_dimension(d, l))
        g += l ** (-r - 0.5) * z
    return 1 + 0.5 / (-g.min()) * g


def write_neurons(path, x, m):
    header = ",".join([f"x{k}" for k in range(x.shape[1])] + ["m"])
    np.savetxt(path, np.c_[x, m], delimiter=",", header=header, comments="", fmt="%.17g")


def fit(series_dir, window):
    data = np.genfromtxt(os.path.join(series_dir, "series.csv"), delimiter=",", names=True)
    t, e = data["t"], data["energy"]
    keep = (t >= window[0]) & (t <= window[1]) & (e > 0)
    if keep.sum() < 3:
        return float("nan")
    return float(-np.polyfit(np.log(t[keep]), np.log(e[keep]), 1)[0])


# (d, teacher atoms M, top harmonic L, t_end, fit window) per dimension; --quick shrinks them.
# The windows sit where the measured local exponent is flattest before the discrete, nonlinear late
# regime (where the loss decays more slowly than the linear theory says; see the README).
FULL = {1: (256, 64, 1000, (100, 1000)), 2: (400, 16, 1000, (10, 100)), 3: (400, 8, 1000, (10, 100))}
QUICK = {1: (128, 32, 300, (30, 300)), 2: (144, 8, 200, (10, 100)), 3: (128, 4, 200, (10, 100))}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kmdflow", required=True, help="the kmdflow command line to run")
    parser.add_argument("--out", required=True)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--dims", default="1,2,3")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    settings = QUICK if args.quick else FULL
    rows = []
    started = time.time()

    def run(case, config, window, d, r, init, teacher, n, predicted):
        directory = os.path.join(args.out, case)
        config_path = os.path.join(args.out, case + ".json")
        with open(config_path, "w") as handle:
            json.dump(config, handle, indent=1)
        before = time.time()
        result = subprocess.run([args.kmdflow, "run", config_path, "--out", directory, "--force"],
                                capture_output=True, text=True)
        if result.returncode != 0:
            print(f"error: {case}: {result.stderr.strip()}", file=sys.stderr)
            sys.exit(1)
        measured = fit(directory, window)
        rel = (measured - predicted) / predicted if predicted == predicted else float("nan")
        rows.append(dict(case=case, d=d, r=r, init=init, teacher=teacher, N=n, window=f"[{window[0]:g}, {window[1]:g}]",
                         measured=measured, predicted=predicted, rel_diff=rel))
        print(f"  {case:<22} measured {measured:6.3f}  predicted {predicted:6.3f}  ({time.time() - before:.0f} s)", flush=True)

    for d in [int(x) for x in args.dims.split(",")]:
        m, top, t_end, window = settings[d]
        rng = np.random.default_rng(10 + d)
        x = sphere_points(d, m, rng)
        teacher_path = os.path.abspath(os.path.join(args.out, f"teacher_d{d}.csv"))
        write_neurons(teacher_path, x, np.ones(m))
        base = {"model": "relu", "dim": d, "relu": {"form": "wfr", "teacher": {"path": teacher_path}},
                "time": {"t_end": t_end, "dt": 0.1, "integrator": "rk45", "rtol": 1e-8},
                "output": {"series_every": t_end / 100, "series_per_decade": 10, "snapshot_every": t_end / 5, "plots": False}}
        for r in (0.0, 1.0):
            student = os.path.abspath(os.path.join(args.out, f"student_d{d}_r{r:g}.csv"))
            write_neurons(student, x, perturbation(d, x, r, top, rng))
            config = json.loads(json.dumps(base))
            config["initial"] = {"type": "file", "path": student}
            run(f"d{d}_near_r{r:g}", config, window, d, r, "near", "uniform density", m, (d + 3 + 2 * r) / (d + 1))
        config = json.loads(json.dumps(base))
        config["initial"] = {"type": "uniform", "sampling": "iid"}
        config["particles"] = {"count": m, "seed": 1}
        config["relu"]["init_mass"] = 0.1
        run(f"d{d}_far", config, window, d, float("nan"), "far (iid uniform, mass 0.1)", "uniform density", m, float("nan"))
        config["relu"]["teacher"] = {"count": 3, "seed": 5}
        run(f"d{d}_three_atoms", config, window, d, float("nan"), "far (iid uniform, mass 0.1)", "3 atoms", m, float("nan"))

    with open(os.path.join(args.out, "relu_rates.csv"), "w") as handle:
        handle.write("case,d,r,init,teacher,N,window,measured,predicted,rel_diff\n")
        for row in rows:
            handle.write(",".join(str(row[k]) for k in ["case", "d", "r", "init", "teacher", "N"]) +
                         f",\"{row['window']}\",{row['measured']:.4f},{row['predicted']:.4f},{row['rel_diff']:.4f}\n")
    caveat = ("--quick: networks of 128-144 neurons and runs of t <= 300, short of the asymptotic window of the "
              "linear theory: measured exponents differ from it by tens of percent (e.g. d = 1, r = 1). Run without "
              "--quick for the comparison.") if args.quick else ""
    with open(os.path.join(args.out, "relu_rates.md"), "w") as handle:
        if caveat:
            handle.write(f"> {caveat}\n\n")
        handle.write("| case | d | r | start | teacher | N | window | measured exponent | (d+3+2r)/(d+1) | rel. diff |\n")
        handle.write("|---|---|---|---|---|---|---|---|---|---|\n")
        for row in rows:
            pred = f"{row['predicted']:.3f}" if row["predicted"] == row["predicted"] else "—"
            rel = f"{100 * row['rel_diff']:+.1f}%" if row["rel_diff"] == row["rel_diff"] else "—"
            r = f"{row['r']:g}" if row["r"] == row["r"] else "—"
            handle.write(f"| {row['case']} | {row['d']} | {r} | {row['init']} | {row['teacher']} | {row['N']} | "
                         f"{row['window']} | {row['measured']:.3f} | {pred} | {rel} |\n")
    plot(args.out, rows, settings, caveat)
    if caveat:
        print(f"  note: {caveat}")
    print(f"  results: {args.out}/relu_rates.csv, relu_rates.md, relu_rates.png ({time.time() - started:.0f} s)")


def plot(out, rows, settings, caveat):
    """The loss of every case against t, per dimension; each fitted case's fit window (the thick
    stretch) and, where the linear theory gives one, its slope through the window's start
    (dashed). plots.json records what is drawn."""
    dims = sorted(set(r["d"] for r in rows))
    fig, axes = plt.subplots(1, len(dims), figsize=(6.2 * len(dims), 4.8), squeeze=False)
    record = []
    for ax, d in zip(axes[0], dims):
        window = settings[d][3]
        for row in [r for r in rows if r["d"] == d]:
            data = np.genfromtxt(os.path.join(out, row["case"], "series.csv"), delimiter=",", names=True)
            keep = (data["t"] > 0) & (data["energy"] > 0)
            (curve,) = ax.loglog(data["t"][keep], data["energy"][keep], lw=1.2, label=f"{row['case']}: {row['measured']:.2f}"
                                 + (f" (theory {row['predicted']:.2f})" if row["predicted"] == row["predicted"] else ""))
            inside = keep & (data["t"] >= window[0]) & (data["t"] <= window[1])
            entry = {"case": row["case"], "window": list(window), "measured": row["measured"], "predicted": None}
            if inside.sum() >= 2:
                tt, ee = data["t"][inside], data["energy"][inside]
                ax.loglog(tt, ee, lw=4, alpha=0.3, color=curve.get_color())
                if row["predicted"] == row["predicted"]:
                    ax.loglog(tt, ee[0] * (tt / tt[0]) ** -row["predicted"], "k--", lw=1)
                    entry["predicted"] = row["predicted"]
            record.append(entry)
        ax.plot([], [], "k--", lw=1, label="theory (d+3+2r)/(d+1)")
        ax.plot([], [], color="0.5", lw=4, alpha=0.3, label="fit window")
        ax.set_title(f"d = {d}: loss against t, fitted exponents", fontsize=10)
        ax.set_xlabel("t")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    if caveat:
        fig.suptitle("--quick: short of the asymptotic window (differences of tens of percent expected)", fontsize=10)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "relu_rates.png"), dpi=100)
    plt.close(fig)
    with open(os.path.join(out, "plots.json"), "w") as handle:
        json.dump({"relu_rates.png": {"fits": record, "quick": bool(caveat)}}, handle, indent=1, ensure_ascii=False)
        handle.write("\n")


if __name__ == "__main__":
    main()
