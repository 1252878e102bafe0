"""kmdflow.relu.Model: the teacher is a stationary zero-loss student, the zero network has the
teacher's loss, the velocities are the flow's (dL/dt = −dissipation along them), and they are
`kmdflow eval`'s for the same neurons."""

import json
import os
import subprocess

import numpy as np
import pytest

import kmdflow
import kmdflow.relu

BINARY = os.environ.get("KMDFLOW_BINARY")


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_teacher_and_zero_network(dim):
    net = kmdflow.relu.Model(dim=dim, teacher={"count": 4, "seed": 2})
    teacher = net.teacher
    assert teacher.shape == (4, dim + 2)
    assert net.loss(teacher) < 1e-14 * net.teacher_loss
    assert np.abs(net.velocities(teacher)).max() < 1e-12
    zero = teacher.copy()
    zero[:, -1] = 0
    assert net.loss(zero) == pytest.approx(net.teacher_loss, rel=1e-14)


@pytest.mark.parametrize("form", ["wfr", "parameters"])
def test_loss_falls_at_the_rate_of_the_dissipation(form):
    # dL/dt = Σ ∂L/∂state · state' = −dissipation: a central difference along the velocities.
    net = kmdflow.relu.Model(dim=2, teacher={"count": 3, "seed": 5}, form=form)
    rng = np.random.default_rng(7)
    theta = rng.normal(size=(20, 3))
    theta /= np.linalg.norm(theta, axis=1)[:, None]
    state = np.c_[theta, rng.random(20) * 0.2]
    v = net.velocities(state)
    h = 1e-6
    slope = (net.loss(state + h * v) - net.loss(state - h * v)) / (2 * h)
    dissipation = net.diagnostics(state)["dissipation"]
    assert slope == pytest.approx(-dissipation, rel=1e-5)


@pytest.mark.skipif(BINARY is None, reason="KMDFLOW_BINARY not set (ctest sets it)")
def test_same_as_eval(tmp_path):
    teacher = np.c_[np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0.6, 0.8]]), [1.0, 0.5, 0.25]]
    np.savetxt(tmp_path / "teacher.csv", teacher, delimiter=",", header="x0,x1,x2,m", comments="", fmt="%.17g")
    rng = np.random.default_rng(3)
    theta = rng.normal(size=(16, 3))
    theta /= np.linalg.norm(theta, axis=1)[:, None]
    state = np.c_[theta, rng.random(16)]
    np.savetxt(tmp_path / "student.csv", state, delimiter=",", header="x0,x1,x2,m", comments="", fmt="%.17g")
    with open(tmp_path / "relu.json", "w") as handle:
        json.dump({"model": "relu", "dim": 2, "relu": {"teacher": {"path": "teacher.csv"}}}, handle)
    result = subprocess.run([BINARY, "eval", "relu.json", "--positions", "student.csv", "--out", "v.csv"],
                            cwd=tmp_path, capture_output=True, text=True, check=True)
    reference = np.loadtxt(tmp_path / "v.csv", delimiter=",", skiprows=1)
    net = kmdflow.relu.Model(dim=2, teacher=teacher)
    assert np.abs(net.velocities(state) - reference).max() <= 1e-13 * np.abs(reference).max()
    assert net.loss(state) == pytest.approx(json.loads(result.stdout)["energy"], rel=1e-13)
    assert np.allclose(net.teacher[:, :3], teacher[:, :3])  # unit directions kept


def test_bad_states():
    net = kmdflow.relu.Model(dim=1, teacher={"count": 3, "seed": 1})
    with pytest.raises(kmdflow.ConfigError, match="state: must be a float64 host array of shape"):
        net.loss(np.zeros((4, 2)))
    with pytest.raises(kmdflow.ConfigError, match="mass must be >= 0"):
        net.loss(np.array([[1.0, 0.0, -1.0]]))
    with pytest.raises(kmdflow.ConfigError, match="relu.teacher.count"):
        kmdflow.relu.Model(dim=1, teacher={"count": 0})
