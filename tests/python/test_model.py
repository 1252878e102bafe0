"""kmdflow.Model against closed forms (DESIGN.md §2) and against `kmdflow eval` (the same engines
through the command line), its input checks, and zero-copy input."""

import json
import os
import subprocess

import numpy as np
import pytest

import kmdflow

BINARY = os.environ.get("KMDFLOW_BINARY")


def test_equally_spaced_points_are_stationary_with_the_floor_energy():
    # N equally spaced points, s = 1: v = 0 and E = 1/(24 N²) (DESIGN.md §2).
    n = 100
    x = (np.arange(n) + 0.5) / n
    m = kmdflow.Model(dim=1, s=1)
    v = m.velocities(x)
    assert v.shape == (n,)
    assert np.abs(v).max() < 1e-15
    e = m.energy(x)
    assert e["energy"] == pytest.approx(1 / (24 * n * n), abs=1e-15)
    # Without the diagonal ½ Σ w_i² G(0) = 1/(24 N) (G(0) = 1/12).
    assert e["interaction_energy"] == pytest.approx(1 / (24 * n * n) - 1 / (24 * n), abs=1e-15)
    assert e["dissipation"] < 1e-28
    assert m.engine == "sorted"


def test_two_weighted_particles():
    # s = 1 in 1D: G'(x) = {x} − ½ (B_1, DESIGN.md §3), weights ¼, ¾ (normalised from 1, 3):
    # v_0 = −w_1 G'(x_0 − x_1) = −¾ ({−½} − ½) = 0 and v_1 = −¼ ({½} − ½) = 0; at 0.25 and 0.5,
    # v_0 = −¾ ({−¼} − ½) = −3/16 and v_1 = −¼ ({¼} − ½) = 1/16 (the uniform target adds none).
    m = kmdflow.Model(dim=1, s=1)
    v = m.velocities(np.array([[0.25], [0.75]]), weights=np.array([1.0, 3.0]))
    assert np.abs(v).max() < 1e-15
    v = m.velocities(np.array([[0.25], [0.5]]), weights=np.array([1.0, 3.0]))
    assert v[0, 0] == pytest.approx(-3 / 16, rel=1e-14)
    assert v[1, 0] == pytest.approx(1 / 16, rel=1e-14)


def eval_csv(tmp_path, config, x, weights=None):
    """`kmdflow eval` on the same points: velocities and the printed energies."""
    with open(tmp_path / "model.json", "w") as handle:
        json.dump(config, handle)
    columns = ["x", "y", "z"][: x.shape[1]] + (["w"] if weights is not None else [])
    data = x if weights is None else np.c_[x, weights]
    np.savetxt(tmp_path / "points.csv", data, delimiter=",", header=",".join(columns), comments="", fmt="%.17g")
    result = subprocess.run([BINARY, "eval", "model.json", "--positions", "points.csv", "--out", "v.csv"],
                            cwd=tmp_path, capture_output=True, text=True, check=True)
    v = np.loadtxt(tmp_path / "v.csv", delimiter=",", skiprows=1, ndmin=2)
    return v, json.loads(result.stdout)


@pytest.mark.skipif(BINARY is None, reason="KMDFLOW_BINARY not set (ctest sets it)")
@pytest.mark.parametrize("dim,s,method", [(1, 1, "sorted"), (1, 0.75, "direct"), (1, 2, "spectral"),
                                          (2, 1.5, "direct"), (2, 1.5, "spectral"), (3, 2, "direct"),
                                          (3, 1, "spectral")])
def test_same_as_the_command_line(tmp_path, dim, s, method):
    target = {"type": "fourier", "modes": [{"k": [1] + [0] * (dim - 1), "amplitude": 0.4}]}
    config = {"dim": dim, "s": s, "target": target, "forces": {"method": method}}
    rng = np.random.default_rng(dim * 10 + int(4 * s))
    x = rng.random((300, dim))
    w = rng.random(300) + 0.5
    model = kmdflow.Model.from_config(config)
    v = model.velocities(x, weights=w)
    reference, energies = eval_csv(tmp_path, config, x, w)
    # The same engine on the same points; the CSV round trip keeps 17 digits. Thread counts may
    # differ (sums in another order): agreement to round-off of the velocities' scale.
    scale = np.abs(reference).max()
    assert np.abs(v - reference).max() <= 1e-12 * scale
    e = model.energy(x, weights=w)
    assert e["interaction_energy"] == pytest.approx(energies["interaction_energy"], rel=1e-10, abs=1e-14)
    assert e["dissipation"] == pytest.approx(energies["dissipation"], rel=1e-10)
    assert model.engine == energies["engine"] == method


def test_input_is_read_in_place():
    m = kmdflow.Model(dim=2, s=1.5, forces={"method": "direct"})
    x = np.random.default_rng(1).random((500, 2))
    m.velocities(x)
    assert m._model._input_address == x.ctypes.data  # the engine read numpy's own buffer
    strided = np.random.default_rng(2).random((500, 4))[:, ::2]  # not contiguous: copied
    v = m.velocities(strided)
    assert m._model._input_address != strided.ctypes.data
    assert np.array_equal(v, m.velocities(np.ascontiguousarray(strided)))


def test_bad_input_is_a_config_error_with_the_command_lines_message():
    m = kmdflow.Model(dim=2, s=1.5)
    x = np.random.default_rng(3).random((10, 2))
    cases = [
        (x.astype(np.float32), "x: must be a float64 array (got float32)"),
        (x[:, :1], "x: must have shape (N, 2)"),
        (x + 1, "lies outside the torus"),
        (np.where(np.arange(20).reshape(10, 2) == 5, np.nan, x), "lies outside the torus"),
        (np.zeros((0, 2)), "holds no particles"),
    ]
    for bad, message in cases:
        with pytest.raises(kmdflow.ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
            m.velocities(bad)
    with pytest.raises(kmdflow.ConfigError, match="weights"):
        m.velocities(x, weights=-np.ones(10))
    with pytest.raises(kmdflow.ConfigError, match="weights"):
        m.velocities(x, weights=np.ones(3))
    # Coincident particles where the kernel's gradient is unbounded (2s < d + 1), as eval refuses.
    with pytest.raises(kmdflow.ConfigError, match="x: particles"):
        kmdflow.Model(dim=2, s=1).velocities(np.array([[0.1, 0.2], [0.1, 0.2], [0.5, 0.5]]))
    assert issubclass(kmdflow.ConfigError, ValueError)


@pytest.mark.skipif(BINARY is None, reason="KMDFLOW_BINARY not set (ctest sets it)")
def test_bad_configurations_say_what_the_command_line_says(tmp_path):
    for config in ({"dim": 4}, {"dim": 2, "s": -1}, {"dim": 1, "forces": {"method": "magic"}},
                   {"dim": 1, "target": {"type": "uniform", "sigma": 1}}):
        with pytest.raises(kmdflow.ConfigError) as error:
            kmdflow.Model.from_config(config)
        with open(tmp_path / "bad.json", "w") as handle:
            json.dump(config, handle)
        cli = subprocess.run([BINARY, "eval", "bad.json", "--positions", "none.csv"], cwd=tmp_path,
                             capture_output=True, text=True)
        assert cli.returncode == 2
        assert cli.stderr.strip() == f"error: {error.value}"


def test_threads_are_fixed_once_running():
    kmdflow.Model(dim=1, s=1).velocities(np.array([0.1, 0.6]))
    running = kmdflow.threads()
    assert running >= 1
    kmdflow.set_threads(running)  # the same: fine
    with pytest.raises(RuntimeError, match="set them before the first computation"):
        kmdflow.set_threads(running + 1)


@pytest.mark.parametrize("dim,s,method", [(1, 0.75, "direct"), (1, 0.75, "spectral"), (2, 1, "spectral"),
                                          (2, 1, "direct"), (3, 1, "spectral")])
def test_coincident_particles_are_named_for_every_engine(dim, s, method):
    # 2s < d + 1: the gradient is unbounded where two particles meet (eval refuses them so).
    x = np.random.default_rng(5).random((400, dim))
    x[7] = x[3]
    with pytest.raises(kmdflow.ConfigError, match="x: particles 3 and 7 coincide"):
        kmdflow.Model(dim=dim, s=s, forces={"method": method}).velocities(x)


def test_out_and_dlpack_producers():
    m = kmdflow.Model(dim=2, s=1.5, forces={"method": "direct"})
    x = np.random.default_rng(6).random((300, 2))
    v = m.velocities(x)
    out = np.full_like(x, np.nan)
    assert m.velocities(x, out=out) is out
    assert np.array_equal(out, v)
    for bad in (np.empty((300, 3)), np.empty((300, 2), dtype=np.float32), np.empty((2, 300)).T, x):
        with pytest.raises(kmdflow.ConfigError, match="out"):
            m.velocities(x, out=bad)

    class Producer:
        """Only the DLPack protocol (as PyTorch, CuPy and JAX arrays offer it)."""

        def __init__(self, array):
            self.array = array

        def __dlpack__(self, **kwargs):
            return self.array.__dlpack__(**kwargs)

        def __dlpack_device__(self):
            return self.array.__dlpack_device__()

    assert np.array_equal(m.velocities(Producer(x)), v)
    assert m._model._input_address == x.ctypes.data  # read in place through DLPack too


@pytest.mark.parametrize("dim,s,method", [(1, 1, "sorted"), (1, 1.5, "direct"), (2, 1.5, "spectral"), (3, 1, "direct")])
def test_the_gpu_arrays_path_on_the_host(dim, s, method):
    # The path GPU arrays take in the CUDA build (read in place as the engines' memory, strided
    # input copied by a Kokkos kernel, results allocated there and returned through DLPack, weights
    # copied to the host, checks by a parallel reduction), exercised here where the engines' memory
    # is the host's: the same numbers as the host path. (On a GPU: tests/python/test_gpu_arrays.py.)
    m = kmdflow.Model(dim=dim, s=s, forces={"method": method})
    x = np.random.default_rng(dim).random((700, dim))
    w = np.random.default_rng(9).random(700) + 0.5
    v, vw, e = m.velocities(x), m.velocities(x, weights=w), m.energy(x)
    # The same values for the exact engines; the spectral engine spreads with atomics (its last
    # digits change from call to call).
    tolerance = 1e-13 if method == "spectral" else 0

    def same(a, b):
        return np.abs(np.from_dlpack(a) - b).max() <= tolerance * np.abs(b).max()

    kmdflow._core._host_arrays_take_the_device_path(True)
    try:
        d = m.velocities(x)
        assert not isinstance(d, np.ndarray) and hasattr(d, "__dlpack__")  # an array-API object
        assert same(d, v)
        assert m._model._input_address == x.ctypes.data
        wide = np.zeros((700, 2 * dim))
        wide[:, ::2] = x
        assert same(m.velocities(wide[:, ::2]), v)
        assert m._model._input_address not in (x.ctypes.data, wide.ctypes.data)  # strided: copied
        out = np.full_like(x, np.nan)
        assert m.velocities(x, out=out) is out and same(out, v)
        assert same(m.velocities(x, weights=w), vw)
        assert m.energy(x)["dissipation"] == pytest.approx(e["dissipation"], rel=10 * tolerance, abs=0)
        bad = x.copy()
        bad[5, -1] = np.nan
        with pytest.raises(kmdflow.ConfigError, match="x: particle 5 .* outside the torus"):
            m.velocities(bad)
    finally:
        kmdflow._core._host_arrays_take_the_device_path(False)


def test_what_is_not_an_array_is_refused():
    m = kmdflow.Model(dim=2, s=1.5)
    for bad in ("positions", None, [[0.1, 0.2]], 3.0):
        with pytest.raises(kmdflow.ConfigError, match="x: must be an array"):
            m.velocities(bad)
