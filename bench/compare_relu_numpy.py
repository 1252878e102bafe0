#!/usr/bin/env python3
"""The ReLU pair kernel (issue 6) against a vectorised numpy implementation of the same sums, in the
same run: V(w_i) and ∇V(w_i) for N students against N students and M = 10 teacher neurons on
S^2 (N² + NM pair evaluations), pair evaluations per second and the ratio of medians.

    scripts/env python3 bench/compare_relu_numpy.py [--sizes 1000,4000,10000] [--repetitions 3]
"""

import argparse
import json
import os
import subprocess
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("KMDFLOW_BUILD_DIR", os.path.join(ROOT, "build"))
BENCH = os.path.join(BUILD, "bench", "bench_relu_kernel")


def numpy_first_variation(w, a, v, b, block=512):
    """V_i = (1/N) Σ_j a_j k(w_i, w_j) − (1/M) Σ_m b_m k(w_i, v_m) and its gradient in w_i,
    k(u, v) = |u||v| J(cos∠)/(2π(d+1)), ∇_u k = [√(1−c²)|v| u/|u| + (π − arccos c) v]/(2π(d+1))."""
    n, dim = w.shape
    m = v.shape[0]
    C = 1.0 / (2 * np.pi * dim)
    points = np.vstack([w, v])
    weights = np.concatenate([a / n, -b / m])
    norms = np.linalg.norm(points, axis=1)
    V = np.empty(n)
    grad = np.empty((n, dim))
    for start in range(0, n, block):
        p = w[start:start + block]
        pn = norms[start:min(start + block, n)]
        c = np.clip((p @ points.T) / np.outer(pn, norms), -1.0, 1.0)
        angle = np.pi - np.arccos(c)
        sine = np.sqrt(1.0 - c * c)
        qn = weights * norms
        V[start:start + block] = C * pn * ((sine + angle * c) @ qn)
        gu = sine @ qn
        grad[start:start + block] = C * (gu[:, None] * p / pn[:, None] + (angle * weights) @ points)
    return V, grad


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,3000,10000")
    parser.add_argument("--repetitions", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    report = json.loads(subprocess.run(
        [BENCH, "--benchmark_filter=ReluPairs/N:(" + "|".join(map(str, sizes)) + ")/",
         "--benchmark_format=json", f"--benchmark_repetitions={args.repetitions}",
         "--benchmark_report_aggregates_only=true", "--benchmark_min_time=0.5s"],
        check=True, capture_output=True, text=True).stdout)
    kmdflow = {}
    for row in report["benchmarks"]:
        if row.get("aggregate_name") == "median":
            n = int(row["run_name"].split("N:")[1].split("/")[0])
            kmdflow[n] = row["real_time"] / 1e3
    threads = report["context"].get("kokkos_threads", "?")
    print(f"ReLU pair kernel (V and grad V), d = 2, M = 10: kmdflow ({threads} threads) against numpy "
          f"{np.__version__}, medians of {args.repetitions}")
    print(f"{'N':>7} {'kmdflow':>11} {'numpy':>11} {'kmdflow pairs/s':>16} {'numpy pairs/s':>14} {'ratio':>6} {'max diff':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            path = os.path.join(tmp, f"relu{n}.txt")
            subprocess.run([BENCH, "--dump", path, str(n)], check=True)
            with open(path) as f:
                n_, m, d = (int(x) for x in f.readline().split())
                lines = f.read().splitlines()
            state = np.array([line.split() for line in lines[:n_]], dtype=float)
            teacher = np.array([line.split() for line in lines[n_:]], dtype=float)
            w, a = state[:, :d + 1], state[:, d + 1]
            V_ref, grad_ref = state[:, d + 2], state[:, d + 3:d + 4 + d]
            v, b = teacher[:, :d + 1], teacher[:, d + 1]
            times = []
            for _ in range(args.repetitions):
                start = time.perf_counter()
                V, grad = numpy_first_variation(w, a, v, b)
                times.append(time.perf_counter() - start)
            numpy_time = float(np.median(times))
            diff = max(np.abs(V - V_ref).max() / np.abs(V_ref).max(), np.abs(grad - grad_ref).max() / np.abs(grad_ref).max())
            pairs = n * (n + m)
            print(f"{n:>7} {kmdflow[n] * 1e3:>8.2f} ms {numpy_time * 1e3:>8.2f} ms {pairs / kmdflow[n]:>16.3e} "
                  f"{pairs / numpy_time:>14.3e} {numpy_time / kmdflow[n]:>6.1f} {diff:>9.1e}")


if __name__ == "__main__":
    main()
