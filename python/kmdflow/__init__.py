"""kmdflow from Python: the engines, runs and studies of the command line.

Particles x_i on the torus T^d descend ½‖μ_N − ν‖² in a kernel's norm (the Sobolev norm Ḣ^{-s} by
default), each with velocity −∇k * (μ_N − ν). The same engines as `kmdflow run` and `kmdflow eval`
(exact direct sums, the O(N log N) sorted engine in 1D, the NUFFT/Ewald spectral engine):

    >>> import numpy as np, kmdflow
    >>> m = kmdflow.Model(dim=2, s=1.5)                     # towards the uniform density
    >>> x = np.random.default_rng(0).random((1000, 2))
    >>> v = m.velocities(x)                                  # (1000, 2), x read in place
    >>> m.energy(x)["energy"]
    >>> r = kmdflow.run({"dim": 1, "s": 1, "time": {"t_end": 1}}, out="runs/py")
    >>> r.series["energy"], r.summary["status"], r.positions(-1)

Configuration dicts take the keys of the config files (DESIGN.md §7, README "Configuration").
Bad input raises kmdflow.ConfigError (a ValueError) with the command line's one-line message.
Threads: kmdflow.set_threads(n) before the first computation, else OMP_NUM_THREADS, else all cores.
"""

import csv
import json
import os
import time

# The OpenMP runtime reads its wait policy when it loads: spin briefly at barriers, as the command
# line does (README, "On a shared machine"), unless the user chose otherwise.
if not any(name in os.environ for name in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")):
    os.environ["GOMP_SPINCOUNT"] = "3000"
    os.environ["KMP_BLOCKTIME"] = "1"
os.environ.setdefault("OMP_PROC_BIND", "false")

import atexit  # noqa: E402

import numpy as np  # noqa: E402

try:
    from . import _core
    from ._core import ConfigError
except ImportError:  # the plots and the study scripts (kmdflow.plot, ...) run without it
    _core = None

    class ConfigError(ValueError):
        """Bad input (the command line's one-line message)."""

__version__ = _core.__version__ if _core else "0.1.0"
__all__ = ["Model", "Run", "ConfigError", "run", "open_run", "set_threads", "threads", "__version__"]

if _core:
    atexit.register(_core.finalize)
else:

    class _Missing:
        """Stands in for the extension where it was not built: says so on first use."""

        def __getattr__(self, name):
            raise ImportError("kmdflow's extension kmdflow._core is not built here: run scripts/build "
                              "(or pip install .)")

    _core = _Missing()


def set_threads(n):
    """Host threads for every computation of this process; before the first one."""
    _core.set_threads(int(n))


def threads():
    """The host threads kmdflow computes with (starts the runtime if needed)."""
    return _core.threads()


def _config_text(config):
    """A configuration (a dict, or the path of a JSON file) as JSON text, and the directory its
    relative paths are relative to."""
    if isinstance(config, (str, os.PathLike)):
        path = os.fspath(config)
        try:
            with open(path) as handle:
                text = handle.read()
        except OSError as error:
            raise ConfigError(f"{path}: cannot read the configuration ({error.strerror})") from None
        return text, os.path.dirname(os.path.abspath(path))
    if not isinstance(config, dict):
        raise ConfigError(f"config: must be a dict or the path of a JSON file (got {type(config).__name__})")
    return json.dumps(config), os.getcwd()


class Model:
    """The velocities and energies of weighted particles under one configuration's kernel, target
    and engine: kmdflow eval without files.

    Model(dim, s=None, target=None, kernel=None, forces=None, precision="double")
      dim        1, 2 or 3 (the torus T^d)
      s          the order of the Sobolev kernel (default 1; the Bessel kernel's s may come here too)
      target     dict as the config's target block, e.g. {"type": "fourier", "modes": [...]}
      kernel     dict as the config's kernel block, e.g. {"type": "gaussian", "sigma": 0.1}
      forces     dict as the config's forces block, e.g. {"method": "spectral", "tolerance": 1e-10}
      precision  "double", or "float" for the direct engine's pair sums
    """

    def __init__(self, dim, s=None, target=None, kernel=None, forces=None, precision="double"):
        config = {"dim": dim, "precision": precision}
        if s is not None:
            config["s"] = s
        for key, block in (("target", target), ("kernel", kernel), ("forces", forces)):
            if block is not None:
                config[key] = block
        self._init(json.dumps(config), os.getcwd())

    def _init(self, text, base_dir):
        self._model = _core.Model(text, base_dir)
        self.dim = self._model.dim

    @classmethod
    def from_config(cls, config):
        """The model a configuration describes (a dict, or the path of a config file): its kernel,
        target, forces and precision."""
        model = cls.__new__(cls)
        model._init(*_config_text(config))
        return model

    @property
    def config(self):
        """The resolved configuration (every default filled in)."""
        return json.loads(self._model.config_json)

    @property
    def engine(self):
        """The engine of the last evaluation ("sorted", "direct", "spectral"; "" before one)."""
        return self._model.engine

    @property
    def engine_parameters(self):
        """The engine's parameters (grid, cutoff, tolerance, ...) of the last evaluation."""
        return json.loads(self._model.engine_parameters_json)

    def velocities(self, x, weights=None, out=None):
        """v_i = dx_i/dt = −∇(k * (μ_N − ν))(x_i) as a new float64 array of x's shape, or written
        into `out` (a C-contiguous float64 array of that shape where x lives, not x) and returned.

        x: float64 array (N, d), or (N,) for d = 1, every coordinate in [0, 1): numpy, or any
        DLPack producer (PyTorch, CuPy, JAX); C-contiguous arrays are read in place. The result is
        the same kind of array as x (numpy for numpy and unknown host producers) on the same
        device: in kmdflow's CUDA build, GPU arrays are read and answered on the GPU
        (kmdflow._core.execution_space == "Cuda"); a CPU build refuses them. weights: None (1/N
        each) or N positive numbers (host or GPU), normalised to sum 1."""
        return self._model.velocities(x, weights, out)

    def energy(self, x, weights=None):
        """{"energy": ½‖μ_N − ν‖² (None where infinite, 2s ≤ d), "interaction_energy": without the
        diagonal, "dissipation": Σ w_i |v_i|², "max_speed": max |v_i|}."""
        return self._model.energy(x, weights)

    def __repr__(self):
        c = self.config
        kernel = c["kernel"]["type"]
        order = f", s={c['s']:g}" if "s" in c else ""
        return f"kmdflow.Model(dim={c['dim']}{order}, kernel={kernel!r}, target={c['target']['type']!r})"


class Run:
    """A run directory (DESIGN.md §7): its configuration, series, summary and frames.

    .dir        the directory
    .config     config.json (dict)
    .summary    summary.json (dict; None while a run is unfinished)
    .series     series.csv as a dict of numpy arrays: t, energy, interaction_energy, ...
    .times      the times of the trajectory's frames
    .positions(frame=-1)   particle positions (N, d) (ReLU runs: neuron directions (N, d+1))
    .weights    particle weights (N,) (ReLU runs: the masses of the last frame)
    .density(frame=-1)     the PDE's density on its grid (solver "pde")
    """

    def __init__(self, path):
        self.dir = os.fspath(path)
        if not os.path.isfile(os.path.join(self.dir, "config.json")):
            raise ConfigError(f"{self.dir}: is not a kmdflow run directory (no config.json)")
        with open(os.path.join(self.dir, "config.json")) as handle:
            self.config = json.load(handle)

    @property
    def summary(self):
        try:
            with open(os.path.join(self.dir, "summary.json")) as handle:
                return json.load(handle)
        except FileNotFoundError:
            return None

    @property
    def series(self):
        with open(os.path.join(self.dir, "series.csv")) as handle:
            rows = list(csv.reader(handle))
        names, values = rows[0], np.array(rows[1:], dtype=float).reshape(-1, len(rows[0]))
        return {name: values[:, k] for k, name in enumerate(names)}

    def _trajectory(self):
        import h5py  # only where frames are read

        path = os.path.join(self.dir, "trajectory.h5")
        if not os.path.exists(path) and os.path.exists(path + ".part"):
            return h5py.File(path + ".part", "r", swmr=True)
        return h5py.File(path, "r")

    @property
    def times(self):
        with self._trajectory() as f:
            group = "fields/density" if "fields/density" in f else "particles/all/position"
            return f[group + "/time"][()]

    def positions(self, frame=-1):
        with self._trajectory() as f:
            return f["particles/all/position/value"][frame]

    @property
    def weights(self):
        import h5py

        with self._trajectory() as f:
            mass = f["particles/all/mass"]
            return mass["value"][-1] if isinstance(mass, h5py.Group) else mass[()]

    def density(self, frame=-1):
        with self._trajectory() as f:
            if "fields/density" not in f:
                raise ConfigError(f"{self.dir}: holds no density (a particle run: use positions())")
            return f["fields/density/value"][frame]

    def __repr__(self):
        status = (self.summary or {}).get("status", "unfinished")
        return f"kmdflow.Run({self.dir!r}, {status})"


def run(config, out=None, overrides=None, force=False):
    """Runs a configuration as `kmdflow run` does (in this process) and returns its Run.

    config: a dict (paths in it relative to the current directory) or a config file's path.
    out: the run directory (default: the config's output.dir, else runs/<name>-<date>-<time>).
    overrides: {"key.path": value} or ["key.path=value", ...], as --set.
    force: replace an existing run directory (only what kmdflow wrote, as --force)."""
    if isinstance(overrides, dict):
        overrides = [f"{key}={json.dumps(value)}" for key, value in overrides.items()]
    overrides = list(overrides or [])
    if isinstance(config, dict):
        path, text, raw = "", json.dumps(config), config
    else:
        path, text = os.fspath(config), ""
        raw = json.loads(_config_text(path)[0])
    if out is None:
        # As the command line chooses: output.dir, else runs/<config name>-<date>-<time>.
        stem = os.path.splitext(os.path.basename(path))[0] if path else "python"
        out = raw.get("output", {}).get("dir") or os.path.join("runs", f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}")
    code = _core.run(path, text, overrides, os.fspath(out), bool(force))
    if code != 0:
        raise RuntimeError(f"the run failed (exit code {code}); see {out}/summary.json and run.log")
    return Run(out)


def open_run(path):
    """The Run of an existing run directory."""
    return Run(path)

from . import relu, study  # noqa: E402,F401  (kmdflow.relu.Model, kmdflow.study.scaling, ...)
