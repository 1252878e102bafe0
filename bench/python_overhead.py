#!/usr/bin/env python3
"""What Python costs on top of the engines (issue 15): kmdflow.Model.velocities on N points against
the C++ benchmark of the same engine, kernel, tolerance and N in the same run, and against the CSV
round trip through `kmdflow eval` (write the points, run the command, read the velocities back).

    scripts/env python3 bench/python_overhead.py [--n 1000000] [--repetitions 5]

Both sides on all cores (the same default thread count), uniform iid points, uniform target and
weights; medians of the repetitions (the C++ side: Google Benchmark's median of its repetitions).
"""

import argparse
import json
import os
import subprocess
import tempfile
import time

import numpy as np

import kmdflow

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get("KMDFLOW_BUILD_DIR", os.path.join(os.path.dirname(HERE), "build"))

# (label, dim, s, forces, C++ benchmark program, its filter): the C++ benchmarks' own settings
# (bench/sorted_engine.cpp: s = 1; bench/spectral_engine.cpp: s = 1.5 in 1D, 1 in 2D, 3D, tolerance
# 1e-6).
CASES = [
    ("sorted, d = 1, s = 1", 1, 1.0, {"method": "sorted"}, "bench_sorted_engine", "SortedVelocities/s:1/N:{n}/manual_time$"),
    ("spectral, d = 1, s = 1.5", 1, 1.5, {"method": "spectral", "tolerance": 1e-6}, "bench_spectral_engine",
     "Spectral1D/N:{n}/manual_time$"),
    ("spectral, d = 2, s = 1", 2, 1.0, {"method": "spectral", "tolerance": 1e-6}, "bench_spectral_engine",
     "Spectral2D/N:{n}/manual_time$"),
]


def cpp_median(program, pattern, n, repetitions):
    path = os.path.join(BUILD, "bench", program)
    result = subprocess.run([path, f"--benchmark_filter={pattern.format(n=n)}", f"--benchmark_repetitions={repetitions}",
                             "--benchmark_format=json", "--benchmark_report_aggregates_only=true"],
                            capture_output=True, text=True, check=True)
    for entry in json.loads(result.stdout)["benchmarks"]:
        if entry.get("aggregate_name") == "median":
            scale = {"ms": 1e-3, "us": 1e-6, "ns": 1e-9, "s": 1.0}[entry["time_unit"]]
            return entry["real_time"] * scale
    raise RuntimeError(f"{program}: no median for {pattern}")


def python_median(model, x, repetitions, out=None):
    model.velocities(x, out=out)  # warm-up: the engine is built and kept for this N
    times = []
    for _ in range(repetitions):
        start = time.perf_counter()
        model.velocities(x, out=out)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def csv_round_trip(config, x, repetitions):
    binary = os.path.join(BUILD, "apps", "kmdflow")
    times = []
    with tempfile.TemporaryDirectory() as directory:
        with open(os.path.join(directory, "model.json"), "w") as handle:
            json.dump(config, handle)
        header = ",".join("xyz"[: x.shape[1]])
        for _ in range(repetitions):
            start = time.perf_counter()
            np.savetxt(os.path.join(directory, "x.csv"), x, delimiter=",", header=header, comments="", fmt="%.17g")
            subprocess.run([binary, "eval", "model.json", "--positions", "x.csv", "--out", "v.csv"], cwd=directory,
                           check=True, capture_output=True)
            np.loadtxt(os.path.join(directory, "v.csv"), delimiter=",", skiprows=1)
            times.append(time.perf_counter() - start)
    return float(np.median(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000000)
    parser.add_argument("--repetitions", type=int, default=5)
    args = parser.parse_args()
    print(f"N = {args.n}, {kmdflow.threads()} threads, medians of {args.repetitions}")
    print("| engine | C++ benchmark (s) | Model.velocities(x) (s) | / C++ | Model.velocities(x, out=v) (s) | / C++ "
          "| CSV round trip via kmdflow eval (s) | round trip / Python |")
    print("|---|---|---|---|---|---|---|---|")
    for label, dim, s, forces, program, pattern in CASES:
        x = np.random.default_rng(12345).random((args.n, dim))
        model = kmdflow.Model(dim=dim, s=s, forces=forces)
        python = python_median(model, x, args.repetitions)
        into = python_median(model, x, args.repetitions, out=np.empty_like(x))
        cpp = cpp_median(program, pattern, args.n, args.repetitions)
        trip = csv_round_trip({"dim": dim, "s": s, "forces": forces}, x, max(1, args.repetitions // 2))
        print(f"| {label} | {cpp:.4f} | {python:.4f} | {python / cpp:.3f} | {into:.4f} | {into / cpp:.3f} | {trip:.2f} "
              f"| {trip / python:.0f} |", flush=True)


if __name__ == "__main__":
    main()
