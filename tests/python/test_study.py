"""kmdflow.study: the scaling and rates studies from Python return their tables."""

import os

import numpy as np
import pytest

import kmdflow
import kmdflow.study


def test_scaling_quantile_points_sit_at_the_lattice_distance(tmp_path):
    # Quantile points in d = 1, s = 1: the H^-1 distance of N equally spaced points, 1/(√12 N), at
    # every time (the flow is a rearrangement there), as the command line's test says.
    config = {"dim": 1, "s": 1, "pde": {"grid": 512},
              "initial": {"type": "fourier", "modes": [{"k": 1, "amplitude": 0.5}], "sampling": "quantile"},
              "time": {"t_end": 1, "dt": 0.01}, "output": {"plots": False, "snapshot_every": 0.5}}
    table = kmdflow.study.scaling(config, counts=[50, 400], out=tmp_path / "sc")
    assert sorted(table) == ["N", "distance", "energy_particles", "energy_pde", "seed", "t", "wall_s"]
    assert len(table["N"]) == 6
    assert np.allclose(table["distance"], 1 / (np.sqrt(12) * table["N"]), rtol=2e-3)
    with pytest.raises(kmdflow.ConfigError, match="--counts"):
        kmdflow.study.scaling(config, counts=[1], out=tmp_path / "bad")
    assert not os.path.exists(tmp_path / "bad")


@pytest.mark.skipif(os.environ.get("KMDFLOW_BINARY") is None, reason="KMDFLOW_BINARY not set (ctest sets it)")
def test_rates_family_one(tmp_path):
    table = kmdflow.study.rates(quick=True, out=tmp_path / "rates", families="1")
    rows = [k for k, case in enumerate(table["case"])
            if case == "1:uniform:near" and table["quantity"][k] == "exponential rate γ"]
    assert len(rows) == 2  # the PDE and the particles
    for k in rows:
        assert table["predicted"][k] == 2.0
        assert table["measured"][k] == pytest.approx(2.0, rel=0.05)
