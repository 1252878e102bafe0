#!/usr/bin/env python3
"""Scaling of the spectral engine (issue 4): time per velocity evaluation against N at a
tolerance, the fitted log-log slope for N >= 1e5, the peak memory per particle, and a log-log
plot (bench/spectral_scaling.png).

    scripts/env python3 bench/spectral_scaling.py [--tolerance 1e-6] [--plot bench/spectral_scaling.png]
"""

import argparse
import json
import os
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("KMDFLOW_BUILD_DIR", os.path.join(ROOT, "build"))
BENCH = os.path.join(BUILD, "bench", "bench_spectral_engine")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tolerance", type=float, default=1e-6)
    parser.add_argument("--plot", default=os.path.join(ROOT, "bench", "spectral_scaling.png"))
    parser.add_argument("--memory-sizes", default="100000,1000000")
    args = parser.parse_args()
    report = json.loads(subprocess.run(
        [BENCH, "--benchmark_filter=(Spectral[123]D|Crossover[123]DDirect)/", "--tolerance", str(args.tolerance),
         "--benchmark_format=json"], check=True, capture_output=True, text=True).stdout)
    threads = report["context"].get("kokkos_threads", "?")
    spectral, direct = {}, {}
    for b in report["benchmarks"]:
        name = b["run_name"]
        dim = int(name.split("D")[0][-1])
        n = int(name.split("N:")[1].split("/")[0])
        (direct if "Direct" in name else spectral).setdefault(dim, []).append((n, b["real_time"] / 1e3, b.get("K"), b.get("grid")))
    print(f"spectral engine, tolerance {args.tolerance:g}, {threads} threads (s = 1.5 in d = 1, s = 1 in d = 2, 3)")
    print(f"{'d':>2} {'N':>9} {'time':>11} {'per particle':>13} {'K':>8} {'grid':>8}")
    slopes = {}
    for dim in sorted(spectral):
        rows = sorted(spectral[dim])
        for n, t, K, grid in rows:
            print(f"{dim:>2} {n:>9} {t * 1e3:>8.1f} ms {t / n * 1e6:>10.2f} us {int(K):>8} {int(grid):>8}")
        large = [(n, t) for n, t, _, _ in rows if n >= 100000]
        if len(large) >= 2:
            slopes[dim] = np.polyfit(np.log([n for n, _ in large]), np.log([t for _, t in large]), 1)[0]
            print(f"   d = {dim}: fitted log-log slope for N >= 1e5: {slopes[dim]:.3f}")
    print("peak memory (one evaluation, RSS above the start of the run):")
    for dim in (1, 2, 3):
        for n in [int(v) for v in args.memory_sizes.split(",")]:
            out = subprocess.run([BENCH, "--tolerance", str(args.tolerance), "--peak-memory", str(dim), str(n)],
                                 check=True, capture_output=True, text=True).stdout
            m = json.loads(out.strip().splitlines()[-1])
            per = (m["peak_rss_bytes"] - m["before_bytes"]) / n
            print(f"   d = {dim}, N = {n:>8}: {per:8.0f} bytes per particle")
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for dim in sorted(spectral):
        rows = sorted(spectral[dim])
        label = f"spectral, d = {dim}" + (f" (slope {slopes[dim]:.2f} for N ≥ 1e5)" if dim in slopes else "")
        ax.loglog([r[0] for r in rows], [r[1] for r in rows], "o-", color=f"C{dim - 1}", label=label)
        if dim in direct:
            d_rows = sorted(direct[dim])
            ax.loglog([r[0] for r in d_rows], [r[1] for r in d_rows], "x--", color=f"C{dim - 1}", alpha=0.6,
                      label=f"direct, d = {dim}")
    ax.set_xlabel("N")
    ax.set_ylabel("seconds per velocity evaluation")
    ax.set_title(f"spectral engine at tolerance {args.tolerance:g}, {threads} threads")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(args.plot, dpi=90)
    print(f"plot: {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
