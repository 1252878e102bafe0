"""Memory per particle: the peak resident memory of one-step runs at two particle counts, for the
engines that reach large N (sorted in 1D; spectral at tolerance 1e-6 in d = 1, 2, 3), and the
largest N that this footprint fits in a GPU's memory. Run inside the environment after scripts/build:

    scripts/env python3 bench/memory.py [--sizes 250000 1000000] [--case spectral:3 ...]

Each run is a child process (its peak resident set size from getrusage); the slope between the two
sizes is the bytes per particle. The spectral engine's grid grows with N (at a fixed tolerance
K ∝ N^{1/d}) up to its cap (16 grid points per particle, at least 2²⁴, 8192², 512³ and at most
2²⁸, 16384², 640³ points): where both sizes have the same grid, the slope is the particles' own
bytes and the grid is a fixed cost; where the grid grew, the slope includes it. On a GPU the
engines' views live in device memory and the same buffers are allocated, so the slope is the
estimate of device bytes per particle (cuFFT's work area, about the size of the grid, comes on
top)."""

import argparse
import json
import os
import resource
import subprocess
import tempfile

BINARY = os.environ.get("KMDFLOW_BINARY", os.path.join(os.path.dirname(__file__), "..", "build", "apps", "kmdflow"))
CASES = {"sorted:1": ("sorted", 1, 1.0), "spectral:1": ("spectral", 1, 1.5), "spectral:2": ("spectral", 2, 1.5),
         "spectral:3": ("spectral", 3, 1.5)}
GPU_MEMORY = {"H100 (80 GB)": 80e9, "H200 (141 GB)": 141e9}


def peak_bytes(method, dim, s, n, work):
    forces = {"method": method} if method == "sorted" else {"method": method, "tolerance": 1e-6,
                                                              "fft_planning": "estimate"}
    config = {"dim": dim, "s": s, "particles": {"count": n, "seed": 1}, "forces": forces,
              "initial": {"type": "uniform", "sampling": "iid"},
              "time": {"t_end": 0.01, "dt": 0.01, "integrator": "rk4"},
              "output": {"plots": False, "series_every": 0.01, "snapshot_every": 1.0}}
    path = os.path.join(work, "c.json")
    with open(path, "w") as f:
        json.dump(config, f)
    out = os.path.join(work, f"{method}{dim}-{n}")
    # A fresh interpreter per run, so that RUSAGE_CHILDREN sees that run alone.
    probe = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, capture_output=True); "
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    result = subprocess.run(["python3", "-c", probe, BINARY, "run", path, "--out", out, "--force"],
                            check=True, capture_output=True, text=True)
    with open(os.path.join(out, "config.json")) as f:
        parameters = json.load(f)["kmdflow"].get("engine_parameters", {})
    return 1024 * int(result.stdout), parameters


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs=2, default=[250000, 1000000])
    parser.add_argument("--case", choices=sorted(CASES), nargs="+", default=list(CASES))
    args = parser.parse_args()
    small, large = args.sizes
    gpus = list(GPU_MEMORY)
    print(f"peak resident memory of one rk4 step; N = {small:,} and {large:,}")
    print(f"{'engine':>8} {'d':>2} {'MB at N1':>9} {'MB at N2':>9} {'grid at N1':>11} {'grid at N2':>11} "
          f"{'bytes/particle':>15} "
          + " ".join(f"{'largest N, ' + g:>24}" for g in gpus))
    with tempfile.TemporaryDirectory() as work:
        for case in args.case:
            method, dim, s = CASES[case]
            a, first = peak_bytes(method, dim, s, small, work)
            b, second = peak_bytes(method, dim, s, large, work)
            per = (b - a) / (large - small)
            # The largest N: the footprint at N2 grown by the slope (a bound where the grid grew).
            fits = " ".join(f"{large + (GPU_MEMORY[g] - b) / per:>24.2e}" for g in gpus)
            grids = [f"{p['grid']}^{dim}" if "grid" in p else "-" for p in (first, second)]
            print(f"{method:>8} {dim:>2} {a / 1e6:>9.0f} {b / 1e6:>9.0f} {grids[0]:>11} {grids[1]:>11} "
                  f"{per:>15.0f} {fits}", flush=True)


if __name__ == "__main__":
    main()
