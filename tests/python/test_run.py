"""kmdflow.run and kmdflow.open_run: the run directory of `kmdflow run` (DESIGN.md §7) made in
this process, read back as arrays."""

import json
import os

import numpy as np
import pytest

import kmdflow


def test_particle_run_and_open_run(tmp_path):
    config = {"dim": 1, "s": 1, "particles": {"count": 200, "seed": 4},
              "initial": {"type": "fourier", "modes": [{"k": 1, "amplitude": 0.5}]},
              "time": {"t_end": 2, "dt": 0.01, "integrator": "rk4"},
              "output": {"plots": False, "snapshot_every": 0.5}}
    run = kmdflow.run(config, out=tmp_path / "r")
    assert run.summary["status"] == "completed"
    series = run.series
    assert list(series) == ["step", "t", "energy", "interaction_energy", "dissipation", "max_speed", "wall_s"]
    assert series["t"][-1] == 2.0
    assert np.all(np.diff(series["energy"]) <= 1e-15)  # a gradient flow
    # s = 1 towards uniform: every mode decays at rate 1, the energy at rate 2 (DESIGN.md §2).
    assert run.summary["energy_decay"]["exponential_rate"] == pytest.approx(2.0, rel=0.05)
    x = run.positions(-1)
    assert x.shape == (200, 1)
    assert np.allclose(run.times, [0, 0.5, 1, 1.5, 2])
    assert run.weights.shape == (200,)
    # The final frame's energy, recomputed by a Model of the same configuration.
    e = kmdflow.Model.from_config(config).energy(x, weights=run.weights)
    assert e["energy"] == pytest.approx(series["energy"][-1], rel=1e-12)
    again = kmdflow.open_run(run.dir)
    assert again.config["particles"]["count"] == 200
    assert np.array_equal(again.positions(0), run.positions(0))
    # An existing directory is refused unless force=True, as on the command line.
    with pytest.raises(kmdflow.ConfigError, match="exists"):
        kmdflow.run(config, out=tmp_path / "r")
    assert kmdflow.run(config, out=tmp_path / "r", force=True, overrides={"time.t_end": 1}).series["t"][-1] == 1.0


def test_pde_and_relu_runs_from_a_file(tmp_path):
    with open(tmp_path / "pde.json", "w") as handle:
        json.dump({"dim": 1, "s": 1, "solver": "pde", "pde": {"grid": 128},
                   "initial": {"type": "fourier", "modes": [{"k": 1, "amplitude": 0.5}]},
                   "time": {"t_end": 1, "dt": 0.02}, "output": {"plots": False}}, handle)
    pde = kmdflow.run(tmp_path / "pde.json", out=tmp_path / "pde")
    rho = pde.density(-1)
    assert rho.shape == (128,)
    assert rho.mean() == pytest.approx(1.0, abs=1e-13)  # mass conserved
    with pytest.raises(kmdflow.ConfigError, match="holds no density"):
        kmdflow.run({"dim": 1, "particles": {"count": 10}, "time": {"t_end": 0.1}, "output": {"plots": False}},
                    out=tmp_path / "p").density()
    relu = kmdflow.run({"model": "relu", "dim": 1, "particles": {"count": 16, "seed": 3},
                        "time": {"t_end": 1, "dt": 0.1}, "output": {"plots": False}}, out=tmp_path / "relu")
    assert relu.positions().shape == (16, 2)
    assert relu.series["energy"][-1] <= relu.series["energy"][0]


def test_bad_runs_are_refused_before_anything_is_written(tmp_path):
    with pytest.raises(kmdflow.ConfigError, match="time.t_end"):
        kmdflow.run({"dim": 1, "time": {"t_end": -1}}, out=tmp_path / "bad")
    assert not os.path.exists(tmp_path / "bad")
    with pytest.raises(kmdflow.ConfigError, match="not a kmdflow run directory"):
        kmdflow.open_run(tmp_path)
    with pytest.raises(kmdflow.ConfigError, match="cannot read"):
        kmdflow.run(tmp_path / "missing.json")
