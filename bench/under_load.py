#!/usr/bin/env python3
"""Runs examples on an idle machine and beside a CPU hog (one `yes`-like process per --hogs),
with kmdflow's default OpenMP settings, with the OpenMP runtime's own spin count (what kmdflow
did before it shortened it: GOMP_SPINCOUNT=300000, KMP_BLOCKTIME=200) and with --threads 1, and
prints wall times (medians) and the ratios that matter: loaded default / loaded one thread, and
idle default / idle runtime default.

    scripts/env python3 bench/under_load.py [--repetitions 3] [--examples default,relu_d2,...]
"""
import argparse
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.environ.get("KMDFLOW_BINARY", os.path.join(REPO, "build", "apps", "kmdflow"))

# Each example as it ships, shortened where a full run takes minutes (the step count is what
# matters here: many short kernels).
EXAMPLES = {
    "default": ["run", "--set", "time.t_end=2"],
    "s2_perturbed": ["run", os.path.join(REPO, "examples", "s2_perturbed.json"), "--set", "time.t_end=200"],
    "wrapped_gaussian_target": ["run", os.path.join(REPO, "examples", "wrapped_gaussian_target.json"),
                                "--set", "time.t_end=2"],
    "samples_target": ["run", os.path.join(REPO, "examples", "samples_target.json")],
    "fractional_s": ["run", os.path.join(REPO, "examples", "fractional_s.json")],
    "gaussian_mixture_2d": ["run", os.path.join(REPO, "examples", "gaussian_mixture_2d.json")],
    "pde_gaussian_mixture_2d": ["run", os.path.join(REPO, "examples", "pde_gaussian_mixture_2d.json")],
    "relu_d2": ["run", os.path.join(REPO, "examples", "relu_d2.json")],
    "bessel_kernel": ["run", os.path.join(REPO, "examples", "bessel_kernel.json")],
}

RUNTIME_DEFAULTS = {"GOMP_SPINCOUNT": "300000", "KMP_BLOCKTIME": "200"}


def hog():
    while True:
        pass


def timed(arguments, environment, threads, out):
    command = [BINARY] + (["--threads", str(threads)] if threads else []) + arguments + [
        "--out", out, "--force", "--set", "output.plots=false"]
    env = dict(os.environ)
    for key in ("GOMP_SPINCOUNT", "KMP_BLOCKTIME", "OMP_WAIT_POLICY"):
        env.pop(key, None)
    env.update(environment)
    start = time.perf_counter()
    result = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed: {result.stderr.strip()}")
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--runtime-repetitions", type=int, default=1,
                        help="repetitions of the runtime's own spinning (slow when loaded; default 1)")
    parser.add_argument("--hogs", type=int, default=1, help="busy processes while loaded (default 1)")
    parser.add_argument("--examples", default=",".join(EXAMPLES))
    options = parser.parse_args()
    names = options.examples.split(",")
    variants = [("default", {}, 0), ("runtime spin", RUNTIME_DEFAULTS, 0), ("1 thread", {}, 1)]
    figures = {}
    with tempfile.TemporaryDirectory() as scratch:
        for load in ("idle", "loaded"):
            hogs = [multiprocessing.Process(target=hog, daemon=True) for _ in range(options.hogs if load == "loaded" else 0)]
            for h in hogs:
                h.start()
            try:
                for name in names:
                    for label, environment, threads in variants:
                        count = options.runtime_repetitions if environment else options.repetitions
                        times = [timed(EXAMPLES[name], environment, threads, os.path.join(scratch, "run"))
                                 for _ in range(count)]
                        figures[(load, name, label)] = statistics.median(times)
                        print(f"{load:6} {name:24} {label:12} {figures[(load, name, label)]:8.2f} s", flush=True)
            finally:
                for h in hogs:
                    h.terminate()
    print(f"\nmedians of {options.repetitions} ({options.runtime_repetitions} for the runtime's spinning), "
          f"{os.cpu_count()} cores, {options.hogs} busy process(es) when loaded\n")
    print("| example | idle: default | idle: runtime spin | idle: 1 thread | loaded: default | loaded: runtime spin "
          "| loaded: 1 thread | loaded default / loaded 1 thread | idle default / idle runtime spin |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in names:
        f = lambda load, label: figures[(load, name, label)]
        print(f"| {name} | {f('idle', 'default'):.2f} | {f('idle', 'runtime spin'):.2f} | {f('idle', '1 thread'):.2f} "
              f"| {f('loaded', 'default'):.2f} | {f('loaded', 'runtime spin'):.2f} | {f('loaded', '1 thread'):.2f} "
              f"| **{f('loaded', 'default') / f('loaded', '1 thread'):.2f}** "
              f"| {f('idle', 'default') / f('idle', 'runtime spin'):.2f} |")


if __name__ == "__main__":
    main()
