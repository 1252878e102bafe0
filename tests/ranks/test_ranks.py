"""kmdflow on several MPI ranks (README, "Several processes") against the same command on one
process: eval's velocities and energies, a run's series and final positions, in d = 1, 2, 3 and on
P = 1…4 ranks (oversubscribed on small machines), a rank left without particles; bad input, the
engines and models that run on one process only, a failure on one rank and a stop by signal, each
ending every rank at once with one `error:` line.

Every process runs one thread, so that a velocity row of the direct engine in 1D is the same sum
whichever rank computes it (they agree bit for bit); in 2D and 3D its ranks sum the long range's
structure factors, the spectral engine's ranks their Fourier coefficients, the sorted engine's ranks
scan their slabs' power sums, and energies are sums over the ranks' shares: equal to the single
process's up to summation order (≤ 1e-12 relative)."""

import json
import os
import re
import signal
import subprocess
import time

import h5py
import numpy as np
import pytest

BINARY = os.environ.get("KMDFLOW_BINARY")
MPIEXEC = os.environ.get("MPIEXEC")
pytestmark = pytest.mark.skipif(not BINARY or not MPIEXEC, reason="KMDFLOW_BINARY and MPIEXEC not set (ctest sets them)")
LAUNCH = ["--allow-run-as-root", "--oversubscribe", "--bind-to", "none"]
# Shared memory only, as ./kmdflow --ranks sets it (probing the network transports costs a second
# per start).
ENV = dict(os.environ, OMP_NUM_THREADS="1", KOKKOS_DISABLE_WARNINGS="1", KMDFLOW_LOADAVG="/dev/null",
           OMPI_MCA_btl="self,sm", OMPI_MCA_pml="ob1")


def kmdflow(*args, ranks=None, cwd, env=None, timeout=120):
    command = [BINARY, *args] if ranks is None else [MPIEXEC, *LAUNCH, "-np", str(ranks), BINARY, *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env or ENV, timeout=timeout)


def config(dim, count=240, **extra):
    c = {"dim": dim, "s": 1.5 if dim > 1 else 1.0, "particles": {"count": count, "seed": 3},
         "forces": {"method": "direct"},
         "initial": {"type": "fourier", "modes": [{"k": [1] + [0] * (dim - 1), "amplitude": 0.4}], "sampling": "iid"},
         "time": {"t_end": 0.3, "dt": 0.05, "integrator": "rk4"},
         "output": {"plots": False, "snapshot_every": 0.1, "series_every": 0.05}}
    c.update(extra)
    return c


def write(path, value):
    path.write_text(json.dumps(value))
    return str(path)


def relative(a, b):
    return np.abs(a - b).max() / max(np.abs(b).max(), 1e-300)


def eval_on_one_process(tmp_path, cfg, dim, atoms, particles, seed, place=lambda u: u):
    """Writes random atoms.csv and x.csv (uniform weights; the particles at place(uniform)) and
    evaluates x.csv on one process: its velocities and eval's JSON."""
    rng = np.random.default_rng(seed)
    header = ",".join("xyz"[:dim]) + ",w"
    for name, count, where in (("atoms.csv", atoms, lambda u: u), ("x.csv", particles, place)):
        np.savetxt(tmp_path / name, np.column_stack([where(rng.random((count, dim))), np.full(count, 1 / count)]),
                   delimiter=",", header=header, comments="")
    one = kmdflow("eval", cfg, "--positions", "x.csv", "--out", "v1.csv", cwd=tmp_path)
    assert one.returncode == 0, one.stderr
    return np.loadtxt(tmp_path / "v1.csv", delimiter=",", skiprows=1, ndmin=2), json.loads(one.stdout)


def check_eval_on_ranks(tmp_path, cfg, v1, e1, all_ranks, exact=False):
    """Evaluates x.csv on each number of ranks: the velocities v1 of one process (bit for bit where
    exact, else to 1e-12 in norm), the same engine, on those ranks, and its energies to 1e-12."""
    for ranks in all_ranks:
        out = f"v{ranks}r.csv"
        r = kmdflow("eval", cfg, "--positions", "x.csv", "--out", out, ranks=ranks, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        v = np.loadtxt(tmp_path / out, delimiter=",", skiprows=1, ndmin=2)
        if exact:
            np.testing.assert_array_equal(v, v1)
        else:
            assert np.linalg.norm(v - v1) <= 1e-12 * np.linalg.norm(v1), ranks
        e = json.loads(r.stdout)
        assert e["engine"] == e1["engine"] and e.get("engine_parameters", {}).get("ranks", 1) == ranks
        for key in ("interaction_energy", "dissipation"):
            assert e[key] == pytest.approx(e1[key], rel=1e-12, abs=1e-300), (ranks, key)


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_eval_on_ranks_matches_one_process(tmp_path, dim):
    # A samples target: its atoms are sources too. It asks for a bounded gradient, s ≥ (d+1)/2.
    cfg = write(tmp_path / "c.json", config(dim, s=(dim + 1) / 2,
                                            target={"type": "samples", "path": str(tmp_path / "atoms.csv")}))
    v1, e1 = eval_on_one_process(tmp_path, cfg, dim, atoms=50, particles=333, seed=dim)
    # In 1D the pair sums alone (bit for bit); in 2D, 3D the long range's structure factors too,
    # summed across the ranks.
    check_eval_on_ranks(tmp_path, cfg, v1, e1, (1, 2, 3, 4), exact=dim == 1)


@pytest.mark.parametrize("dim,s", [(1, 1.0), (2, 1.5), (2, 1.0), (3, 2.0)])
def test_spectral_eval_on_ranks_matches_one_process(tmp_path, dim, s):
    # The spectral engine's shares: each rank spreads its particles (rank 0 the atoms too), the
    # ranks sum their Fourier coefficients (an Allreduce), each interpolates its rows. The sum's
    # order differs from one process's, so the velocities agree to rounding, not bit for bit.
    # A samples target (its atoms spread by rank 0) where its s allows one, s ≥ (d+1)/2; else the
    # uniform target, with the singular short range of s < (d+1)/2.
    target = {"type": "samples", "path": str(tmp_path / "atoms.csv")} if s >= (dim + 1) / 2 else {"type": "uniform"}
    cfg = write(tmp_path / "c.json", config(dim, s=s, forces={"method": "spectral", "tolerance": 1e-8}, target=target))
    v1, e1 = eval_on_one_process(tmp_path, cfg, dim, atoms=200, particles=3001, seed=10 + dim)
    assert e1["engine"] == "spectral"
    check_eval_on_ranks(tmp_path, cfg, v1, e1, (2, 3, 4))


@pytest.mark.parametrize("s,place,all_ranks", [
    (1.0, lambda u: u, (2, 3, 4)),
    (2.0, lambda u: u, (3,)),
    (1.0, lambda u: 0.6 + 0.05 * u, (3,)),                 # crowded into a twentieth of the torus
    (1.0, lambda u: 0.3 + 0.125 * np.floor(3 * u), (4,)),  # three coincident groups: a rank left empty
], ids=["uniform", "s=2", "crowded", "coincident"])
def test_sorted_eval_on_ranks_matches_one_process(tmp_path, s, place, all_ranks):
    # The sorted engine's shares are slabs of the torus (quantiles of the points, the same on every
    # rank): each rank sorts its slab's points, the ranks scan their power sums (one Allreduce), and
    # rank 0 collects the rows each lists. Sums added across slabs in another order: rounding.
    cfg = write(tmp_path / "c.json", config(1, s=s, forces={"method": "sorted"},
                                            target={"type": "samples", "path": str(tmp_path / "atoms.csv")}))
    v1, e1 = eval_on_one_process(tmp_path, cfg, 1, atoms=100, particles=3001, seed=20, place=place)
    assert e1["engine"] == "sorted"
    check_eval_on_ranks(tmp_path, cfg, v1, e1, all_ranks)


@pytest.mark.parametrize("method", ["direct", "sorted", "spectral"])
def test_messages_in_pieces(tmp_path, method):
    # MPI counts are ints: buffers beyond 2^30 elements go in pieces. Here the pieces are 7 elements
    # (KMDFLOW_TEST_MPI_CHUNK): the same velocities as in one piece each.
    cfg = write(tmp_path / "c.json", config(1, forces={"method": method}))
    v1, _ = eval_on_one_process(tmp_path, cfg, 1, atoms=10, particles=500, seed=30)
    r = kmdflow("eval", cfg, "--positions", "x.csv", "--out", "v.csv", ranks=3, cwd=tmp_path,
                env=dict(ENV, KMDFLOW_TEST_MPI_CHUNK="7"))
    assert r.returncode == 0, r.stderr
    v = np.loadtxt(tmp_path / "v.csv", delimiter=",", skiprows=1, ndmin=2)
    assert np.linalg.norm(v - v1) <= 1e-12 * np.linalg.norm(v1)


@pytest.mark.parametrize("method,dim", [("direct", 2), ("spectral", 1)])
def test_a_run_with_messages_in_pieces(tmp_path, method, dim):
    # The initial blocks, each evaluation's positions, the frames and the energies' sums, in
    # pieces of 7 elements: the run of one process.
    cfg = write(tmp_path / "c.json", config(dim, count=100, forces={"method": method, "tolerance": 1e-10}))
    assert kmdflow("run", cfg, "--out", "one", cwd=tmp_path).returncode == 0
    r = kmdflow("run", cfg, "--out", "three", ranks=3, cwd=tmp_path, env=dict(ENV, KMDFLOW_TEST_MPI_CHUNK="7"))
    assert r.returncode == 0, r.stderr
    check_run_matches(tmp_path, "one", "three", 1e-11)


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_run_on_ranks_matches_one_process(tmp_path, dim):
    cfg = write(tmp_path / "c.json", config(dim))
    assert kmdflow("run", cfg, "--out", "one", cwd=tmp_path).returncode == 0
    series = np.genfromtxt(tmp_path / "one/series.csv", delimiter=",", names=True)
    with h5py.File(tmp_path / "one/trajectory.h5") as f:
        final = f["particles/all/position/value"][-1]
    for ranks in (2, 3, 4):
        r = kmdflow("run", cfg, "--out", f"p{ranks}", ranks=ranks, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        s = np.genfromtxt(tmp_path / f"p{ranks}/series.csv", delimiter=",", names=True)
        for key in ("energy", "interaction_energy", "dissipation", "max_speed"):
            if np.all(np.isfinite(series[key])):
                assert relative(s[key], series[key]) <= 1e-12, (ranks, key)
        with h5py.File(tmp_path / f"p{ranks}/trajectory.h5") as f:
            assert np.abs(f["particles/all/position/value"][-1] - final).max() <= 1e-12
        recorded = json.loads((tmp_path / f"p{ranks}/config.json").read_text())["kmdflow"]
        assert recorded["mpi"].endswith(f"{ranks} ranks") and recorded["engine_parameters"]["ranks"] == ranks
        # Only rank 0 writes: one run directory, its files once.
        assert sorted(os.listdir(tmp_path / f"p{ranks}")) == sorted(os.listdir(tmp_path / "one"))


def test_a_rank_without_particles(tmp_path):
    cfg = write(tmp_path / "c.json", config(2, count=3))
    assert kmdflow("run", cfg, "--out", "one", cwd=tmp_path).returncode == 0
    r = kmdflow("run", cfg, "--out", "four", ranks=4, cwd=tmp_path)  # rank 3 owns no particle
    assert r.returncode == 0, r.stderr
    a = np.genfromtxt(tmp_path / "one/series.csv", delimiter=",", names=True)
    b = np.genfromtxt(tmp_path / "four/series.csv", delimiter=",", names=True)
    assert relative(b["interaction_energy"], a["interaction_energy"]) <= 1e-12


def one_error_line(result):
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    return errors[0]


@pytest.mark.parametrize("overrides, key", [
    (["--set", "s=-1"], "s"),
    (["--set", "solver=pde"], "solver"),
])
def test_refusals_end_every_rank(tmp_path, overrides, key):
    cfg = write(tmp_path / "c.json", config(1))
    r = kmdflow("run", cfg, "--out", "refused", *overrides, ranks=3, cwd=tmp_path)
    assert r.returncode == 2
    assert one_error_line(r).startswith(f"error: {key}: ")
    assert not (tmp_path / "refused").exists()


def test_relu_model_runs_on_one_process(tmp_path):
    cfg = write(tmp_path / "c.json", {"model": "relu", "dim": 2, "particles": {"count": 50},
                                      "time": {"t_end": 0.1}, "output": {"plots": False}})
    r = kmdflow("run", cfg, "--out", "relu", ranks=2, cwd=tmp_path)
    assert r.returncode == 2 and one_error_line(r).startswith("error: model: ")


def test_a_rank_that_cannot_build_its_engine_stops_all(tmp_path):
    cfg = write(tmp_path / "c.json", config(2))
    start = time.monotonic()
    r = kmdflow("run", cfg, "--out", "failed", ranks=3, cwd=tmp_path,
                env=dict(ENV, KMDFLOW_TEST_FAIL_RANK="2"), timeout=60)
    assert time.monotonic() - start < 30
    assert r.returncode == 1
    assert "rank 2" in one_error_line(r)
    assert not (tmp_path / "failed").exists()


@pytest.mark.parametrize("command", ["run", "eval"])
def test_bad_input_on_one_rank_is_bad_input(tmp_path, command):
    # A file that only rank 1 cannot read (KMDFLOW_TEST_FAIL_RANK=1:input stands in for it): every
    # rank stops, one error line naming the key and the rank, exit 2, nothing written.
    cfg = write(tmp_path / "c.json", config(2))
    env = dict(ENV, KMDFLOW_TEST_FAIL_RANK="1:input")
    if command == "run":
        r = kmdflow("run", cfg, "--out", "bad", ranks=3, cwd=tmp_path, env=env, timeout=60)
    else:
        np.savetxt(tmp_path / "x.csv", np.random.default_rng(1).random((50, 2)), delimiter=",", header="x,y",
                   comments="")
        r = kmdflow("eval", cfg, "--positions", "x.csv", "--out", "bad.csv", ranks=3, cwd=tmp_path, env=env,
                    timeout=60)
    assert r.returncode == 2, r.stderr
    assert one_error_line(r).startswith("error: target.path: rank 1: ")
    assert not (tmp_path / "bad").exists() and not (tmp_path / "bad.csv").exists()


@pytest.mark.parametrize("dim,method", [(2, "spectral"), (1, "sorted")])
def test_run_on_ranks_matches_one_process_beyond_direct(tmp_path, dim, method):
    forces = {"method": method, "tolerance": 1e-8} if method == "spectral" else {"method": method}
    cfg = write(tmp_path / "c.json", config(dim, count=2000, forces=forces))
    assert kmdflow("run", cfg, "--out", "one", cwd=tmp_path).returncode == 0
    series = np.genfromtxt(tmp_path / "one/series.csv", delimiter=",", names=True)
    r = kmdflow("run", cfg, "--out", "two", ranks=2, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    s = np.genfromtxt(tmp_path / "two/series.csv", delimiter=",", names=True)
    for key in ("energy", "interaction_energy", "dissipation", "max_speed"):
        assert relative(s[key], series[key]) <= 1e-11, key
    with h5py.File(tmp_path / "one/trajectory.h5") as a, h5py.File(tmp_path / "two/trajectory.h5") as b:
        assert np.abs(a["particles/all/position/value"][-1] - b["particles/all/position/value"][-1]).max() <= 1e-12


@pytest.mark.parametrize("method", ["direct", "spectral"])
def test_a_failure_on_one_rank_mid_run_stops_all(tmp_path, method):
    # The spectral engine's ranks meet in a collective inside each evaluation: a failure on one
    # must still end every rank, not leave them waiting.
    cfg = write(tmp_path / "c.json", config(2, forces={"method": method}))
    r = kmdflow("run", cfg, "--out", "failed", ranks=3, cwd=tmp_path,
                env=dict(ENV, KMDFLOW_TEST_FAIL_RANK="1:9"), timeout=60)
    assert r.returncode == 1
    assert "rank 1" in one_error_line(r)
    summary = json.loads((tmp_path / "failed/summary.json").read_text())
    assert summary["status"] == "failed" and "rank 1" in summary["message"]
    # What it wrote stays consistent: the series up to where it stopped.
    series = np.genfromtxt(tmp_path / "failed/series.csv", delimiter=",", names=True)
    assert series["t"][-1] <= summary["stopped_at"]["t"] + 1e-12


def test_a_signal_stops_the_run_cleanly(tmp_path):
    # SIGUSR1 to mpirun, which forwards it: what ./kmdflow --ranks sends on SIGINT and SIGTERM.
    cfg = write(tmp_path / "c.json", config(2, count=2000, time={"t_end": 1000, "dt": 0.05, "integrator": "rk4"}))
    p = subprocess.Popen([MPIEXEC, *LAUNCH, "-np", "2", BINARY, "run", cfg, "--out", "stopped"], cwd=tmp_path,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    deadline = time.monotonic() + 60
    while not (tmp_path / "stopped/series.csv.part").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)
    p.send_signal(signal.SIGUSR1)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 1, err
    summary = json.loads((tmp_path / "stopped/summary.json").read_text())
    assert summary["status"] == "interrupted"  # and mpirun has ended: every rank with it


def final_positions(run_dir):
    return all_positions(run_dir)[-1]


def all_positions(run_dir):
    with h5py.File(run_dir / "trajectory.h5") as f:
        return f["particles/all/position/value"][:]


def check_run_matches(tmp_path, one, other, rtol):
    a = np.genfromtxt(tmp_path / one / "series.csv", delimiter=",", names=True)
    b = np.genfromtxt(tmp_path / other / "series.csv", delimiter=",", names=True)
    assert len(a) == len(b)
    for key in ("energy", "interaction_energy", "dissipation", "max_speed"):
        if np.all(np.isfinite(a[key])):
            assert relative(b[key], a[key]) <= rtol, key
    # Every frame's positions, by id.
    a, b = all_positions(tmp_path / one), all_positions(tmp_path / other)
    assert a.shape == b.shape and np.abs(b - a).max() <= 1e-12


def test_sorted_run_from_one_slab(tmp_path):
    # Every particle starts in a twentieth of the torus (one rank's block of ids, but the slabs
    # follow the points), then spreads over all of it: rows cross between ranks at every step.
    rng = np.random.default_rng(5)
    count = 1500
    np.savetxt(tmp_path / "x.csv", np.column_stack([0.3 + 0.05 * rng.random(count), np.full(count, 1 / count)]),
               delimiter=",", header="x,w", comments="")
    cfg = write(tmp_path / "c.json", config(1, forces={"method": "sorted"}, initial={"type": "file", "path": "x.csv"}))
    assert kmdflow("run", cfg, "--out", "one", cwd=tmp_path).returncode == 0
    for ranks, chunk in ((2, None), (3, None), (3, "7")):
        out = f"p{ranks}" + (f"c{chunk}" if chunk else "")
        env = dict(ENV, KMDFLOW_MPI_TRAFFIC="1", **({"KMDFLOW_TEST_MPI_CHUNK": chunk} if chunk else {}))
        r = kmdflow("run", cfg, "--out", out, ranks=ranks, cwd=tmp_path, env=env)  # chunk: pieces of 7
        assert r.returncode == 0, r.stderr
        check_run_matches(tmp_path, "one", out, 1e-11)
        # The particles moved to their slabs after the first step; on 3 ranks, as the cluster
        # widened across the fixed cuts, again, and the slabs, grown unequal, were cut anew (on 2
        # the median cut stays put: in 1D the flow keeps the particles' order).
        moves = re.findall(r"\((\d+) moves, (\d+) with new cuts\)", r.stderr)
        assert len(moves) == ranks and all(int(m) >= 1 for m, _ in moves), r.stderr
        if ranks == 3:
            assert all(int(m) > 1 and int(c) >= 1 for m, c in moves), r.stderr
    assert np.ptp(final_positions(tmp_path / "one")) > 0.25  # five times as wide: across the slabs


def test_sorted_particles_stay_in_their_slabs(tmp_path):
    # After each step every particle moves, with its id, weight and state, to the rank whose slab
    # holds it: from then on the sample sort sends only the particles that cross a cut within a
    # step — a few of 4000 here, against about N/4 for blocks of ids (16 bytes out, 8 back each).
    cfg = write(tmp_path / "c.json", config(1, count=4000, forces={"method": "sorted"}))
    assert kmdflow("run", cfg, "--out", "one", cwd=tmp_path).returncode == 0
    r = kmdflow("run", cfg, "--out", "two", ranks=2, cwd=tmp_path, env=dict(ENV, KMDFLOW_MPI_TRAFFIC="1"))
    assert r.returncode == 0, r.stderr
    check_run_matches(tmp_path, "one", "two", 1e-11)
    traffic = re.findall(r"rank (\d) sent (\d+) bytes in (\d+) evaluations \((\d+) in the first, (\d+) in the last\) "
                         r"and (\d+) bytes moving", r.stderr)
    assert len(traffic) == 2, r.stderr
    for rank, total, evaluations, first, last, moves in traffic:
        # 7 diagnostics (a velocity, which the next step reuses, and a pair energy), 6 rk4 steps of 3 more.
        assert int(evaluations) == 7 * 2 + 6 * 3
        assert int(first) >= 0.8 * 24 * 4000 / 4  # ids unrelated to positions: half of a block
        assert int(last) <= 0.02 * int(first)
        assert 0 < int(moves) <= 1.5 * 24 * 4000 / 4  # id, weight, x (rk4 caches no velocity)


def test_a_sorted_run_with_ranks_left_without_particles(tmp_path):
    # 3 particles on 4 ranks: rank 3 owns none, and the slabs of the sample sort hold 0 or 1.
    cfg = write(tmp_path / "c.json", config(1, count=3, forces={"method": "sorted"}))
    assert kmdflow("run", cfg, "--out", "one", cwd=tmp_path).returncode == 0
    r = kmdflow("run", cfg, "--out", "four", ranks=4, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    check_run_matches(tmp_path, "one", "four", 1e-12)


@pytest.mark.parametrize("method,dim", [("direct", 2), ("sorted", 1)])
def test_a_killed_run_resumes_on_other_ranks(tmp_path, method, dim):
    # rk45 on 2 ranks (its error norm summed over the blocks), killed after step 5, resumed on 3
    # ranks from its checkpoint (the whole state, and the velocity rk45 reuses, gathered by id
    # where the sorted engine's particles moved to the ranks of their slabs): the run of one
    # process without interruption, to round-off.
    cfg = write(tmp_path / "c.json", config(dim, count=300, forces={"method": method},
                                            time={"t_end": 0.6, "dt": 0.05, "integrator": "rk45"},
                                            output={"plots": False, "snapshot_every": 0.1, "series_every": 0.05,
                                                    "checkpoint_every": 0.1}))
    assert kmdflow("run", cfg, "--out", "one", cwd=tmp_path).returncode == 0
    killed = kmdflow("run", cfg, "--out", "two", ranks=2, cwd=tmp_path, env=dict(ENV, KMDFLOW_FAULT="after-step:5"))
    assert killed.returncode != 0 and (tmp_path / "two/checkpoint.h5").exists()
    r = kmdflow("run", "--resume", "two", ranks=3, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    summary = json.loads((tmp_path / "two/summary.json").read_text())
    assert summary["status"] == "completed" and summary["particles"] == 300
    check_run_matches(tmp_path, "one", "two", 1e-11)
