"""kmdflow convert: a run's trajectory as extended XYZ and as .npz, the same numbers as
trajectory.h5; the PDE's density to .npz only; a converted run directory still replaced by --force."""

import os
import subprocess

import h5py
import numpy as np
import pytest

BINARY = os.environ.get("KMDFLOW_BINARY")
pytestmark = pytest.mark.skipif(BINARY is None, reason="KMDFLOW_BINARY not set (ctest sets it)")


def kmdflow(*args, cwd):
    return subprocess.run([BINARY, *args], cwd=cwd, capture_output=True, text=True)


def read_xyz(path):
    """Frames of an extended XYZ file: (comment, rows of floats)."""
    lines = open(path).read().splitlines()
    frames, k = [], 0
    while k < len(lines):
        n = int(lines[k])
        rows = np.array([[float(v) for v in line.split()[1:]] for line in lines[k + 2:k + 2 + n]])
        frames.append((lines[k + 1], rows))
        k += 2 + n
    return frames


def test_particles_to_xyz_and_npz(tmp_path):
    r = kmdflow("run", "--set", "dim=2", "--set", "initial.type=uniform", "--set", "particles.count=49",
                "--set", "time.t_end=0.2",
                "--set", "output.plots=false", "--set", "output.snapshot_every=0.1", "--out", "run", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    with h5py.File(tmp_path / "run" / "trajectory.h5") as f:
        x = f["particles/all/position/value"][()]
        t = f["particles/all/position/time"][()]
        w = f["particles/all/mass"][()]
    assert kmdflow("convert", "run", "--to", "xyz", cwd=tmp_path).returncode == 0
    frames = read_xyz(tmp_path / "run" / "trajectory.xyz")
    assert len(frames) == len(t) == 3
    for k, (comment, rows) in enumerate(frames):
        assert 'Lattice="1 0 0 0 1 0 0 0 1"' in comment and 'pbc="T T F"' in comment
        assert f"Time={t[k]:.17g}" in comment
        assert np.array_equal(rows[:, :2], x[k]) and np.all(rows[:, 2] == 0) and np.array_equal(rows[:, 3], w)
    assert kmdflow("convert", "run", "--to", "npz", "--out", "t.npz", cwd=tmp_path).returncode == 0
    data = np.load(tmp_path / "t.npz")
    assert np.array_equal(data["positions"], x) and np.array_equal(data["time"], t)
    assert np.array_equal(data["weights"], w)
    # kmdflow's own files: --force still replaces the directory.
    assert kmdflow("run", "--set", "time.t_end=0.1", "--set", "output.plots=false", "--out", "run", "--force",
                   cwd=tmp_path).returncode == 0


def test_pde_to_npz_not_xyz(tmp_path):
    r = kmdflow("run", "--set", "solver=pde", "--set", "pde.grid=64", "--set", "time.t_end=0.1",
                "--set", "output.plots=false", "--out", "pde", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert kmdflow("convert", "pde", "--to", "npz", cwd=tmp_path).returncode == 0
    data = np.load(tmp_path / "pde" / "trajectory.npz")
    assert data["density"].shape[1:] == (64,)
    bad = kmdflow("convert", "pde", "--to", "xyz", cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.startswith("error: ") and "npz" in bad.stderr
    assert not os.path.exists(tmp_path / "pde" / "trajectory.xyz")
    assert kmdflow("convert", "nowhere", "--to", "npz", cwd=tmp_path).returncode == 2
    assert kmdflow("convert", "pde", "--to", "pdb", cwd=tmp_path).returncode == 2
