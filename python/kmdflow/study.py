"""The studies of the command line from Python, returning their tables (the CSVs' columns as
numpy arrays); every run stays a complete run directory under the study's directory.

    >>> import kmdflow.study
    >>> table = kmdflow.study.scaling("examples/scaling_1d.json", counts=[100, 1000], seeds=3, out="runs/sc")
    >>> table["N"], table["t"], table["distance"]
    >>> rates = kmdflow.study.rates(quick=True, out="runs/rates-q")
    >>> rates["quantity"], rates["measured"], rates["predicted"]
"""

import csv
import json
import os
import shutil
import subprocess

import numpy as np

from . import _core

__all__ = ["scaling", "rates", "read_table"]


def read_table(path):
    """A CSV table as a dict of columns: numbers as float arrays, text as lists of strings."""
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    columns = {}
    for k, name in enumerate(rows[0]):
        values = [row[k] for row in rows[1:]]
        try:
            columns[name] = np.array([float(v) if v != "" else np.nan for v in values])
        except ValueError:
            columns[name] = values
    return columns


def scaling(config, counts, seeds=1, out=None, overrides=None, force=False):
    """`kmdflow study scaling` in this process: the PDE once and the particle system for each N
    (and seed, for random samplings); returns scaling.csv's columns (N, t, distance,
    energy_particles, energy_pde, wall_s, seed). The study's directory (out, default
    runs/<config name>-scaling-<date>) also holds study.json and the plots."""
    if isinstance(overrides, dict):
        overrides = [f"{key}={json.dumps(value)}" for key, value in overrides.items()]
    if isinstance(config, dict):
        path, text = "", json.dumps(config)
        if out is None:
            raise ValueError("out: give the study directory for a configuration dict")
    else:
        path, text = os.fspath(config), ""
    if out is None:
        import time

        stem = os.path.splitext(os.path.basename(path))[0]
        out = os.path.join("runs", f"{stem}-scaling-{time.strftime('%Y%m%d-%H%M%S')}")
    code = _core.study_scaling(path, text, list(overrides or []), [int(n) for n in counts], int(seeds),
                               os.fspath(out), bool(force))
    if code != 0:
        raise RuntimeError(f"the scaling study failed (exit code {code}); see {out}")
    return read_table(os.path.join(out, "scaling.csv"))


def _binary():
    """The kmdflow command line: KMDFLOW_BINARY, else the build tree's (this package in
    build/python), else kmdflow on the PATH."""
    candidates = [os.environ.get("KMDFLOW_BINARY"),
                  os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "apps", "kmdflow"),
                  shutil.which("kmdflow")]
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise RuntimeError("the rates study runs the kmdflow command line, which was not found: set KMDFLOW_BINARY")


def rates(quick=True, out="runs/rates", families="1,2,3,4,5"):
    """`kmdflow study rates`: the cases of DESIGN.md §2, fitted against the theory; returns
    rates.csv's columns (case, solver, d, s, r, sigma, quantity, measured, predicted, rel_diff).
    quick: the reduced set (about 15 s on 2 cores), else all (minutes)."""
    command = [_binary(), "study", "rates", "--out", os.fspath(out), "--families", families]
    if quick:
        command.append("--quick")
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"the rates study failed: {result.stderr.strip()}")
    return read_table(os.path.join(out, "rates.csv"))
