"""examples/python/ run at small sizes, so that they cannot rot: each finishes, writes its plot,
and reports what theory says it should."""

import importlib.util
import os
import re
import subprocess
import sys

import pytest

EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "python")


def run(name, *args, cwd):
    result = subprocess.run([sys.executable, os.path.join(EXAMPLES, name), *args], cwd=cwd, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_flow(tmp_path):
    out = run("flow.py", "--n", "500", "--out", "flow.png", cwd=tmp_path)
    assert (tmp_path / "flow.png").exists()
    rate = float(re.search(r"fitted rate ([0-9.]+)", out).group(1))
    assert rate == pytest.approx(2.0, rel=0.05)  # s = 1 towards uniform: e^{-2t}


def test_particles_vs_pde(tmp_path):
    out = run("particles_vs_pde.py", "--n", "1000", "--t-end", "1", "--out", "pvp", cwd=tmp_path)
    assert (tmp_path / "pvp" / "particles_vs_pde.png").exists()
    gap = float(re.search(r"relative gap ([0-9.]+)%", out).group(1))
    assert gap < 2.0  # quantile particles follow the PDE (DESIGN.md §2)


def test_relu_training(tmp_path):
    out = run("relu_training.py", "--n", "60", "--steps", "200", "--out", "relu.png", cwd=tmp_path)
    assert (tmp_path / "relu.png").exists()
    first, last = map(float, re.search(r"loss ([0-9.e+-]+) -> ([0-9.e+-]+)", out).groups())
    assert last < 0.1 * first


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")
def test_torch_loop(tmp_path):
    assert "over 100 steps" in run("torch_loop.py", "--n", "512", cwd=tmp_path)
