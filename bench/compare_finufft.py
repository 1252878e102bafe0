#!/usr/bin/env python3
"""The spectral engine's transforms against FINUFFT doing the same work, same run (issue 4).

    scripts/env python3 bench/compare_finufft.py [--sizes 1000000] [--tolerance 1e-6] [--repetitions 3]

For each d = 1, 2, 3 and N: bench_spectral_engine times kmdflow's long-range part (one type-1
NUFFT of N points to (2K+1)^d modes, the multiplication, and d type-2 NUFFTs back) and its whole
velocity evaluation, with K chosen by the engine for the tolerance; FINUFFT (the PyPI package,
same threads, upsampling 2, same tolerance, same modes) times one nufft{d}d1 and d nufft{d}d2 on
the same number of iid uniform points. The ratio kmdflow/FINUFFT compares the transforms.
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("KMDFLOW_BUILD_DIR", os.path.join(ROOT, "build"))


def finufft_time(dim, n, modes, tolerance, threads, repetitions):
    import finufft

    rng = np.random.default_rng(1)
    x = [rng.uniform(-np.pi, np.pi, n) for _ in range(dim)]
    c = np.full(n, 1.0 / n, dtype=complex)
    shape = (modes,) * dim
    opts = dict(eps=tolerance, nthreads=threads, upsampfac=2.0)
    type1 = {1: finufft.nufft1d1, 2: finufft.nufft2d1, 3: finufft.nufft3d1}[dim]
    type2 = {1: finufft.nufft1d2, 2: finufft.nufft2d2, 3: finufft.nufft3d2}[dim]
    times = []
    for _ in range(repetitions + 1):
        t0 = time.perf_counter()
        f = type1(*x, c, shape, isign=-1, **opts)
        for _ in range(dim):
            type2(*x, f, isign=1, **opts)
        times.append(time.perf_counter() - t0)
    return float(np.median(times[1:]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000")
    parser.add_argument("--tolerance", type=float, default=1e-6)
    parser.add_argument("--repetitions", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(",")]
    try:
        import finufft  # noqa: F401
    except ImportError:
        print("error: finufft is not installed (scripts/setup installs it from PyPI)", file=sys.stderr)
        return 2
    filter_ = "(Spectral|Transforms)[123]D/N:(" + "|".join(str(n) for n in sizes) + ")/"
    report = json.loads(subprocess.run(
        [os.path.join(BUILD, "bench", "bench_spectral_engine"), f"--benchmark_filter={filter_}",
         "--tolerance", str(args.tolerance), f"--benchmark_repetitions={args.repetitions}",
         "--benchmark_report_aggregates_only=true", "--benchmark_format=json"],
        check=True, capture_output=True, text=True).stdout)
    threads = int(report["context"].get("kokkos_threads", 1))
    results = {}
    for b in report["benchmarks"]:
        if b.get("aggregate_name") == "median" or (args.repetitions == 1 and b.get("run_type") == "iteration"):
            kind, rest = b["run_name"].split("/", 1)
            dim = int(kind[-2])
            n = int(rest.split("N:")[1].split("/")[0])
            results.setdefault((dim, n), {})[kind[:-2]] = (b["real_time"] / 1e3, int(b["K"]), int(b["grid"]))
    print(f"kmdflow spectral engine vs FINUFFT {__import__('finufft').__version__}, tolerance {args.tolerance:g}, "
          f"{threads} threads, medians of {args.repetitions}")
    print(f"{'d':>2} {'N':>9} {'modes':>14} {'grid':>6} {'kmdflow transforms':>19} {'FINUFFT':>9} {'ratio':>6} "
          f"{'kmdflow velocity':>17}")
    for (dim, n), r in sorted(results.items()):
        t_transforms, K, grid = r["Transforms"]
        t_total = r["Spectral"][0]
        modes = 2 * K + 1
        t_finufft = finufft_time(dim, n, modes, args.tolerance, threads, args.repetitions)
        print(f"{dim:>2} {n:>9} {f'{modes}^{dim}':>14} {grid:>6} {t_transforms * 1e3:>16.1f} ms {t_finufft * 1e3:>6.1f} ms "
              f"{t_transforms / t_finufft:>6.2f} {t_total * 1e3:>14.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
