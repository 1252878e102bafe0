#!/usr/bin/env python3
"""A run's trajectory for tools that read neither H5MD nor kmdflow's files (README "Outputs").

    python3 -m kmdflow.convert RUN_DIR --to xyz|npz [--out FILE]   (or: kmdflow convert ...)

xyz  extended XYZ (OVITO, ASE, VMD): one block per frame, N particles with their position padded
     to 3 coordinates (d < 3: zeros) and their weight (or ReLU mass); the comment line holds the
     unit periodic cell (Lattice, pbc per axis), the time and the step. The PDE has no particles:
     refused.
npz  numpy's zip of arrays: time, step, and positions (frames, N, d) and weights (N,), or masses
     (frames, N) for ReLU runs, or density (frames, n, ..., n) for PDE runs; plus the resolved
     configuration as JSON text (config).

Writes RUN_DIR/trajectory.xyz or .npz unless --out; the file is written whole under a temporary
name, then renamed.
"""

import argparse
import json
import os
import sys

import h5py
import numpy as np


def frames(run_dir):
    """The trajectory's contents as arrays (see the module's docstring)."""
    path = os.path.join(run_dir, "trajectory.h5")
    if not os.path.exists(path) and not os.path.exists(path + ".part"):
        raise ValueError("no trajectory.h5")
    with open(os.path.join(run_dir, "config.json")) as handle:
        config = json.load(handle)
    data = {"config": json.dumps(config)}
    from .plot import trajectory  # the .part of a run that stopped on a failed write too

    with trajectory(run_dir) as f:
        if "fields/density" in f:
            data["density"] = f["fields/density/value"][()]
            data["time"] = f["fields/density/time"][()]
            data["step"] = f["fields/density/step"][()]
            return data
        group = f["particles/all"]
        data["positions"] = group["position/value"][()]
        data["time"] = group["position/time"][()]
        data["step"] = group["position/step"][()]
        mass = group["mass"]
        if isinstance(mass, h5py.Group):
            data["masses"] = mass["value"][()]
        else:
            data["weights"] = mass[()]
    return data


def write_xyz(data, path):
    if "positions" not in data:
        raise ValueError("a PDE run has no particles to write as XYZ: use --to npz")
    positions = data["positions"]
    frames_, n, dim = positions.shape
    lattice = "1 0 0 0 1 0 0 0 1"
    pbc = " ".join("T" if a < dim else "F" for a in range(3)) if "weights" in data else "F F F"
    with open(path, "w") as handle:
        for k in range(frames_):
            weight = data["weights"] if "weights" in data else data["masses"][k]
            handle.write(f"{n}\n")
            handle.write(f'Lattice="{lattice}" Properties=species:S:1:pos:R:3:weight:R:1 '
                         f'Time={data["time"][k]:.17g} Step={int(data["step"][k])} pbc="{pbc}"\n')
            padded = np.zeros((n, 3))
            padded[:, :min(dim, 3)] = positions[k][:, :3]
            for i in range(n):
                handle.write(f"X {padded[i, 0]:.17g} {padded[i, 1]:.17g} {padded[i, 2]:.17g} {weight[i]:.17g}\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--to", required=True, choices=["xyz", "npz"])
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    out = args.out or os.path.join(args.run_dir, f"trajectory.{args.to}")
    try:
        data = frames(args.run_dir)
        # numpy appends .npz to names without it: stage under a name that keeps the suffix.
        staged = out + ".part." + args.to
        if args.to == "xyz":
            write_xyz(data, staged)
        else:
            np.savez(staged, **data)
        os.replace(staged, out)
    except (OSError, ValueError, KeyError) as error:
        for leftover in (out + ".part." + args.to,):
            if os.path.exists(leftover):
                os.remove(leftover)
        print(f"error: {args.run_dir}: {error}", file=sys.stderr)
        return 2
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
