"""trajectory.h5 opened by the tools users already have: pyh5md (the H5MD reference reader) for
d = 1, 2, 3 and MDAnalysis' H5MD reader for d = 3, reading the same numbers kmdflow wrote. Both come
from PyPI (scripts/setup installs them where PyPI is reachable); without them the tests are skipped,
saying so."""

import os

import h5py
import numpy as np
import pytest

import kmdflow


def small_run(tmp_path, dim, name):
    config = {"dim": dim, "s": 1, "particles": {"count": 64, "seed": 3},
              "initial": {"type": "fourier", "modes": [{"k": [1] + [0] * (dim - 1), "amplitude": 0.4}],
                          "sampling": "iid"},
              "forces": {"method": "direct"},
              "time": {"t_end": 0.2, "dt": 0.05, "integrator": "rk4"},
              "output": {"plots": False, "snapshot_every": 0.1, "series_every": 0.05}}
    return kmdflow.run(config, out=tmp_path / name)


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_pyh5md_reads_positions_box_and_times(tmp_path, dim):
    pyh5md = pytest.importorskip("pyh5md", reason="pyh5md not installed (PyPI unreachable at setup)")
    run = small_run(tmp_path, dim, f"d{dim}")
    with pyh5md.File(os.path.join(run.dir, "trajectory.h5"), "r") as f:
        name = f["h5md/creator"].attrs["name"]
        assert (name.decode() if isinstance(name, bytes) else name) == "kmdflow"
        assert pyh5md.element(f["observables"], "interaction_energy").value.shape == (5,)
        group = f.particles_group("all")
        position = pyh5md.element(group, "position")
        assert position.element_type == "TimeElement" and position.value.shape == (3, 64, dim)
        np.testing.assert_array_equal(position.value[-1], run.positions(-1))
        np.testing.assert_array_equal(position.time[:], run.times)
        box = group["box"]
        assert box.attrs["dimension"] == dim
        assert [b.decode() if isinstance(b, bytes) else b for b in box.attrs["boundary"]] == ["periodic"] * dim
        edges = pyh5md.element(box, "edges")
        np.testing.assert_array_equal(edges.value[:], np.ones((3, dim)))
        np.testing.assert_array_equal(edges.step[:], position.step[:])


def test_mdanalysis_reads_a_3d_run(tmp_path):
    mda = pytest.importorskip("MDAnalysis", reason="MDAnalysis not installed (PyPI unreachable at setup)")
    run = small_run(tmp_path, 3, "d3")
    # kmdflow's lengths are in units of the torus period and its times are the flow's: no physical
    # units, so the file carries none and MDAnalysis is told not to convert (README, "Outputs").
    u = mda.Universe.empty(64, trajectory=True)
    u.load_new(os.path.join(run.dir, "trajectory.h5"), format="H5MD", convert_units=False)
    assert u.trajectory.n_frames == 3
    for frame, t in enumerate(run.times):
        ts = u.trajectory[frame]
        np.testing.assert_allclose(ts.positions, run.positions(frame), rtol=0, atol=1e-7)  # float32
        np.testing.assert_allclose(ts.dimensions, [1, 1, 1, 90, 90, 90])
        assert ts.data["time"] == pytest.approx(t)
    with h5py.File(os.path.join(run.dir, "trajectory.h5"), "r") as f:
        assert "unit" not in f["particles/all/position/value"].attrs
