#!/usr/bin/env python3
"""The direct engine against a vectorised numpy direct sum, same input, same run (DESIGN.md §6).

    scripts/env python3 bench/compare_direct_numpy.py [--sizes 1024,2048,4096,8192] [--repetitions 5]

Writes the positions to a CSV file that both read, times numpy (median of the repetitions) and
bench_direct_engine (Google Benchmark, median of its repetitions), checks that the two agree
(velocities from `kmdflow eval` with the direct engine), and prints a table with the ratio.
numpy evaluates the same closed form, G_s'(x) = (-1)^{s+1} B_{2s-1}({x})/(2s-1)!, in row blocks
of 512 so that memory stays bounded.
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

# G_s' as a polynomial in y = {x} (lowest degree first), for s = 1, 2.
DERIVATIVE = {1: [-0.5, 1.0], 2: [0.0, -1.0 / 12, 0.25, -1.0 / 6]}  # s = 2: -B_3(y)/6, B_3 = y^3 - 3y^2/2 + y/2


def numpy_velocities(x, w, s, block=512):
    coefficients = DERIVATIVE[s]
    v = np.empty_like(x)
    for start in range(0, len(x), block):
        d = x[start:start + block, None] - x[None, :]
        y = d - np.floor(d)
        g = np.zeros_like(y)
        for c in reversed(coefficients):
            g = g * y + c
        g[d == 0] = 0.0
        v[start:start + block] = -(g @ w)
    return v


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1024,2048,4096,8192,16384")
    parser.add_argument("--repetitions", type=int, default=5)
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(",")]

    # Check the closed form used here against the kernel's: G_2'(y) = -B_3(y)/3!.
    y = np.linspace(0.01, 0.99, 7)
    b3 = y**3 - 1.5 * y**2 + 0.5 * y
    assert np.allclose(np.polyval(DERIVATIVE[2][::-1], y), -b3 / 6)

    work = tempfile.mkdtemp(prefix="kmdflow-bench-")
    rng = np.random.default_rng(2024)
    x_all = rng.random(max(sizes))
    positions = os.path.join(work, "positions.csv")
    np.savetxt(positions, x_all, header="x", comments="", fmt="%.17g")

    # kmdflow, in one Google Benchmark run.
    filter_ = "DirectVelocities/s100:(100|200)/N:(" + "|".join(str(n) for n in sizes) + ")/"
    bench = subprocess.run(
        [os.path.join(BUILD, "bench", "bench_direct_engine"), "--positions", positions,
         f"--benchmark_filter={filter_}", f"--benchmark_repetitions={args.repetitions}",
         "--benchmark_report_aggregates_only=true", "--benchmark_format=json"],
        check=True, capture_output=True, text=True)
    report = json.loads(bench.stdout)
    threads = report["context"].get("kokkos_threads", "?")
    medians = {}
    for b in report["benchmarks"]:
        # The median over repetitions (a single run reports no aggregates).
        if b.get("aggregate_name") == "median" or (args.repetitions == 1 and b.get("run_type") == "iteration"):
            s = int(b["run_name"].split("s100:")[1].split("/")[0]) // 100
            n = int(b["run_name"].split("N:")[1].split("/")[0])
            medians[(s, n)] = b["real_time"] / 1e3  # ms -> s

    rows = []
    for s in (1, 2):
        for n in sizes:
            x = x_all[:n]
            w = np.full(n, 1.0 / n)
            numpy_velocities(x[:64], w[:64], s)
            times = []
            for _ in range(args.repetitions):
                t0 = time.perf_counter()
                v_numpy = numpy_velocities(x, w, s)
                times.append(time.perf_counter() - t0)
            t_numpy = float(np.median(times))
            # Agreement: kmdflow's direct engine on the same file.
            sub = os.path.join(work, f"x{n}.csv")
            np.savetxt(sub, x, header="x", comments="", fmt="%.17g")
            config = os.path.join(work, f"s{s}.json")
            with open(config, "w") as handle:
                json.dump({"dim": 1, "s": s, "forces": {"method": "direct"}}, handle)
            out = os.path.join(work, f"v{n}.csv")
            subprocess.run([os.path.join(BUILD, "apps", "kmdflow"), "eval", config, "--positions", sub,
                            "--out", out], check=True, capture_output=True)
            v_kmdflow = np.loadtxt(out, skiprows=1)
            error = np.linalg.norm(v_kmdflow - v_numpy) / np.linalg.norm(v_numpy)
            t_k = medians[(s, n)]
            rows.append((s, n, t_k, n * n / t_k, t_numpy, t_numpy / t_k, error))

    print(f"direct engine vs numpy, same positions, {threads} threads "
          f"(numpy: {np.__version__}, medians of {args.repetitions})")
    print(f"{'s':>2} {'N':>6} {'kmdflow [ms]':>13} {'interactions/s':>15} {'numpy [ms]':>11} "
          f"{'ratio':>7} {'rel. diff':>10}")
    for s, n, t_k, rate, t_n, ratio, error in rows:
        print(f"{s:>2} {n:>6} {t_k * 1e3:>13.3f} {rate:>15.3e} {t_n * 1e3:>11.2f} {ratio:>7.1f} {error:>10.1e}")
    bad = [r for r in rows if r[6] > 1e-12]
    if bad:
        print("error: kmdflow and numpy disagree", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
