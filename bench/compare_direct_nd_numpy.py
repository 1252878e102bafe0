#!/usr/bin/env python3
"""The direct engine in d = 2, 3 against numpy evaluating the same Ewald split, same run.

    scripts/env python3 bench/compare_direct_nd_numpy.py [--sizes 1024,4096] [--repetitions 3]

bench_direct_engine_nd --dump-tables writes the engine's tables (the piecewise Chebyshev series
of the smooth short-range part, the wavevectors and symbols of the long-range part); numpy then
evaluates exactly the same sums, vectorised (blocks of targets for the pairs, blocks of
particles for the structure factors). Positions are shared through a CSV file, the velocities
are compared (kmdflow's through `kmdflow eval`), and both sides are timed (medians).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("KMDFLOW_BUILD_DIR", os.path.join(ROOT, "build"))


def singular_gradient(table, u):
    """S'(r)/r as a function of u = r²."""
    c, p = table["singular"]["c"], table["singular"]["exponent"]
    if table["singular"]["log_case"]:
        m = table["singular"]["log_power"]
        return c / u if m == 0 else c * u ** (m - 1) * (m * np.log(u) + 1)
    return c * p * u ** (0.5 * p - 1)


def regular_gradient(table, u):
    g = table["regular_gradient"]
    pieces, terms = g["pieces"], g["terms"]
    coefficients = np.array(g["c"]).reshape(pieces, terms)
    scaled = (u - g["a"]) * (pieces / (g["b"] - g["a"]))
    piece = np.clip(scaled.astype(int), 0, pieces - 1)
    t = 2 * (scaled - piece) - 1
    b1 = np.zeros_like(u)
    b2 = np.zeros_like(u)
    for k in range(terms - 1, 0, -1):
        b1, b2 = 2 * t * b1 - b2 + coefficients[piece, k], b1
    return t * b1 - b2 + coefficients[piece, 0]


def numpy_velocities(table, x, w, block=256):
    n, dim = x.shape
    v = np.zeros_like(x)
    # Short range: minimum images with r < 1/2.
    for start in range(0, n, block):
        dx = x[start:start + block, None, :] - x[None, :, :]
        dx -= np.round(dx)
        u = np.sum(dx * dx, axis=2)
        inside = (u > 0) & (u < 0.25)
        uu = np.where(inside, u, 0.125)
        factor = np.where(inside, singular_gradient(table, uu) + regular_gradient(table, uu), 0.0)
        v[start:start + block] = -np.einsum("ijd,ij,j->id", dx, factor, w)
    # Long range: structure factors over the half space, then back at every particle.
    k = np.array(table["wavevectors"], dtype=float)[:, :dim]
    symbols = np.array(table["symbols"])
    rho = np.zeros(len(k), dtype=complex)
    for start in range(0, n, block):
        rho += np.exp(-2j * np.pi * (x[start:start + block] @ k.T)).T @ w[start:start + block]
    for start in range(0, n, block):
        e = np.exp(2j * np.pi * (x[start:start + block] @ k.T))
        c = symbols * (e * rho).imag
        v[start:start + block] += 2 * np.pi * (c @ k)
    return v


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1024,4096")
    parser.add_argument("--repetitions", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(",")]
    work = tempfile.mkdtemp(prefix="kmdflow-bench-nd-")
    bench = os.path.join(BUILD, "bench", "bench_direct_engine_nd")
    subprocess.run([bench, "--dump-tables", work], check=True)
    filter_ = "Direct(2|3)D/s100:(100|250)/N:(" + "|".join(str(n) for n in sizes) + ")/"
    report = json.loads(subprocess.run(
        [bench, f"--benchmark_filter={filter_}", f"--benchmark_repetitions={args.repetitions}",
         "--benchmark_report_aggregates_only=true", "--benchmark_format=json"],
        check=True, capture_output=True, text=True).stdout)
    threads = report["context"].get("kokkos_threads", "?")
    medians = {}
    for b in report["benchmarks"]:
        # The median over repetitions (a single run reports no aggregates).
        if b.get("aggregate_name") == "median" or (args.repetitions == 1 and b.get("run_type") == "iteration"):
            name = b["run_name"]
            dim = int(name[6])
            s100 = int(name.split("s100:")[1].split("/")[0])
            n = int(name.split("N:")[1].split("/")[0])
            medians[(dim, s100, n)] = b["real_time"] / 1e3

    rng = np.random.default_rng(5)
    rows = []
    for dim in (2, 3):
        for s100 in (100, 250):
            with open(os.path.join(work, f"tables_d{dim}_s{s100}.json")) as handle:
                table = json.load(handle)
            for n in sizes:
                x = rng.random((n, dim))
                w = np.full(n, 1.0 / n)
                times = []
                for _ in range(args.repetitions):
                    t0 = time.perf_counter()
                    v_numpy = numpy_velocities(table, x, w)
                    times.append(time.perf_counter() - t0)
                positions = os.path.join(work, f"x_{dim}_{n}.csv")
                np.savetxt(positions, x, delimiter=",", header=",".join("xyz"[:dim]), comments="", fmt="%.17g")
                config = os.path.join(work, f"c_{dim}_{s100}.json")
                with open(config, "w") as handle:
                    json.dump({"dim": dim, "s": s100 / 100}, handle)
                out = os.path.join(work, f"v_{dim}_{s100}_{n}.csv")
                subprocess.run([os.path.join(BUILD, "apps", "kmdflow"), "eval", config, "--positions", positions,
                                "--out", out], check=True, capture_output=True)
                v_kmdflow = np.loadtxt(out, delimiter=",", skiprows=1)
                error = np.linalg.norm(v_kmdflow - v_numpy) / np.linalg.norm(v_numpy)
                t_k = medians[(dim, s100, n)]
                rows.append((dim, s100 / 100, n, t_k, n * n / t_k, float(np.median(times)), error))
    print(f"direct engine (d = 2, 3) vs numpy, same Ewald split, {threads} threads, medians of {args.repetitions}")
    print(f"{'d':>2} {'s':>5} {'N':>6} {'kmdflow [ms]':>13} {'interactions/s':>15} {'numpy [ms]':>11} {'ratio':>7} {'rel. diff':>10}")
    for dim, s, n, t_k, rate, t_n, error in rows:
        print(f"{dim:>2} {s:>5.2f} {n:>6} {t_k * 1e3:>13.2f} {rate:>15.3e} {t_n * 1e3:>11.1f} {t_n / t_k:>7.1f} {error:>10.1e}")
    return 1 if any(r[6] > 1e-12 for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
