"""Several MPI ranks against one process: an engine's time per step on 2 ranks × 1 thread against
1 rank × 2 threads and 1 × 1 (the same cores), d = 1, 2, 3, and the bytes each rank sends and
receives per evaluation. Run inside the environment after scripts/build:

    scripts/env python3 bench/ranks.py [--method direct|sorted|spectral] [--repeats 3]

Each configuration runs rk4 steps of N iid particles (no outputs but the series); the time per step
is the median over the repeats of the median step (the wall-clock differences of the series' rows:
the setup, and the sorted engine's one move of the particles to their slabs after the first step,
excluded). The direct engine runs N = 8000, 3000, 2000 (d = 1, 2, 3), the sorted engine
N = 10⁶ and 10⁷ (d = 1, s = 1), the spectral engine N = 10⁶ at tolerance 1e-6 (s = 1.5)."""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile

import numpy as np

BINARY = os.environ.get("KMDFLOW_BINARY", os.path.join(os.path.dirname(__file__), "..", "build", "apps", "kmdflow"))
MPIEXEC = shutil.which("mpirun")
LAUNCH = ["--allow-run-as-root", "--oversubscribe", "--bind-to", "none"]
SIZES = {"direct": [(1, 8000), (2, 3000), (3, 2000)], "sorted": [(1, 10**6), (1, 10**7)],
         "spectral": [(1, 10**6), (2, 10**6), (3, 10**6)]}
FORCES = {"direct": {"method": "direct"}, "sorted": {"method": "sorted"},
          "spectral": {"method": "spectral", "tolerance": 1e-6}}
STEPS = {"direct": 4, "sorted": 4, "spectral": 1}


def step_time(method, dim, n, ranks, threads, work):
    steps = STEPS[method]
    config = {"dim": dim, "s": 1.0 if method == "sorted" else 1.5, "particles": {"count": n, "seed": 1}, "forces": FORCES[method],
              "initial": {"type": "uniform", "sampling": "iid"},
              "time": {"t_end": steps * 0.01, "dt": 0.01, "integrator": "rk4"},
              "output": {"plots": False, "series_every": 0.01, "snapshot_every": 1.0}}
    path = os.path.join(work, "c.json")
    with open(path, "w") as f:
        json.dump(config, f)
    out = os.path.join(work, f"r{dim}-{ranks}-{threads}")
    command = [BINARY, "run", path, "--out", out, "--force"]
    if ranks > 1:
        command = [MPIEXEC, *LAUNCH, "-np", str(ranks), *command]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), KMDFLOW_LOADAVG="/dev/null", OMP_PROC_BIND="false",
               OMPI_MCA_btl="self,sm", OMPI_MCA_pml="ob1",  # as ./kmdflow --ranks: shared memory
               KMDFLOW_MPI_TRAFFIC="1")  # each rank says what it sent (the sorted engine's exchanges)
    result = subprocess.run(command, check=True, capture_output=True, env=env, text=True)
    # Bytes per rank per evaluation, sent by the sample sort and by the moves to the slabs: over the
    # whole run (the first step's evaluations, before the particles moved to their slabs, included).
    traffic = re.findall(r"sent (\d+) bytes in (\d+) evaluations \(\d+ in the first, (\d+) in the last\) and "
                         r"(\d+) bytes moving", result.stderr)
    sent = statistics.mean((int(total) + int(moves)) / max(int(evaluations), 1)
                           for total, evaluations, _, moves in traffic) if traffic else None
    wall = np.genfromtxt(os.path.join(out, "series.csv"), delimiter=",", names=True)["wall_s"]
    with open(os.path.join(out, "config.json")) as f:
        parameters = json.load(f)["kmdflow"].get("engine_parameters", {})
    return statistics.median(np.diff(wall)), parameters, sent


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--method", choices=sorted(SIZES), default="direct")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"{args.method} engine; {os.cpu_count()} cores; median of {args.repeats}; rk4: 4 velocity evaluations "
          f"and 1 energy per step")
    print(f"{'d':>2} {'N':>8} {'1×1 s/step':>11} {'1×2 s/step':>11} {'2×1 s/step':>11} {'2×1 vs 1×2':>11} "
          f"{'efficiency':>10} {'bytes sent+received/rank/eval':>30}")
    with tempfile.TemporaryDirectory() as work:
        for dim, n in SIZES[args.method]:
            t = {}
            for ranks, threads in ((1, 1), (1, 2), (2, 1)):
                runs = [step_time(args.method, dim, n, ranks, threads, work) for _ in range(args.repeats)]
                t[ranks, threads] = statistics.median(time for time, _, _ in runs)
                parameters, measured = runs[-1][1], runs[-1][2]
            # Each rank owns a block of the particles (N/2). The direct and spectral engines: the
            # ranks exchange their blocks' positions (8·N/2·d bytes each way; the weights once per
            # run); the spectral engine's ranks also sum their Fourier coefficients (an Allreduce of
            # the box |k|∞ ≤ K of the half grid, (2K+1)^(d-1)(K+1) complex values, sent and received
            # once each on 2 ranks). The sorted engine's sample sort: each rank sends the other the
            # particles it holds in the other's slab (position and weight) and gets their velocities
            # back (24 bytes each), after an Allgather of 1024 samples per rank (where the cuts are
            # drawn) and the counts; the slabs' scan is one Allreduce of 2·2·(2s) doubles. Until the
            # first step ends the ranks hold blocks of ids (about N/4 of each in the other's slab);
            # then each particle moves to the rank of its slab (24 bytes: id, weight, position), and
            # only those that cross a cut travel: measured (KMDFLOW_MPI_TRAFFIC), over the run.
            if args.method == "sorted":
                received = sent = measured + 8 * 1024 + 8 + 2 * 8 * 2 * 2 * 2
            else:
                received = sent = 8 * (n // 2) * dim
            if "modes" in parameters:
                K = parameters["modes"]
                sent += 16 * (2 * K + 1) ** (dim - 1) * (K + 1)
                received += 16 * (2 * K + 1) ** (dim - 1) * (K + 1)
            print(f"{dim:>2} {n:>8} {t[1, 1]:>11.3f} {t[1, 2]:>11.3f} {t[2, 1]:>11.3f} {t[1, 2] / t[2, 1]:>10.2f}× "
                  f"{t[1, 1] / (2 * t[2, 1]):>9.0%} {received + sent:>30,}")


if __name__ == "__main__":
    main()
