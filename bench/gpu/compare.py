#!/usr/bin/env python3
"""Compares a GPU result with the CPU build's on the same input (scripts/gpu-check, step 2).

    compare.py CPU.csv GPU.csv TOLERANCE NAME               velocities: ||gpu - cpu|| / ||cpu||
    compare.py --summary CPU.json GPU.json TOLERANCE NAME   runs: the final energy (or loss)

Prints one line and exits with 1 when the difference exceeds the tolerance (or is not finite).
"""
import json
import sys

import numpy as np


def final_value(path):
    final = json.load(open(path))["final"]
    for key in ("energy", "loss"):
        if key in final:
            return key, float(final[key])
    raise KeyError(f"{path}: no final energy or loss")


def main(argv):
    summary = argv[:1] == ["--summary"]
    if summary:
        argv = argv[1:]
    cpu_path, gpu_path, tolerance, name = argv[0], argv[1], float(argv[2]), argv[3]
    if summary:
        key, cpu = final_value(cpu_path)
        _, gpu = final_value(gpu_path)
        difference = abs(gpu - cpu) / abs(cpu)
        what = f"final {key} {gpu:.12g} (CPU {cpu:.12g})"
    else:
        cpu = np.loadtxt(cpu_path, delimiter=",", skiprows=1, ndmin=2)
        gpu = np.loadtxt(gpu_path, delimiter=",", skiprows=1, ndmin=2)
        if cpu.shape != gpu.shape:
            print(f"  {name}: FAILED: shapes differ, CPU {cpu.shape}, GPU {gpu.shape}")
            return 1
        difference = np.linalg.norm(gpu - cpu) / np.linalg.norm(cpu)
        what = f"{cpu.shape[0]} velocities"
    ok = bool(np.isfinite(difference) and difference <= tolerance)
    print(f"  {name}: {what}: difference {difference:.2e} (tolerance {tolerance:.0e}) {'ok' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
