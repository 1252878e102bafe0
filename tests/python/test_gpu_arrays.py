"""GPU arrays in kmdflow's CUDA build: CuPy arrays and PyTorch tensors on the GPU are read where they
live (no copy for C-contiguous float64), and the velocities come back on the same GPU as the same
kind of array, equal to those of the same positions given on the host. Run by scripts/gpu-check on a
GPU node (whose Python has CuPy and PyTorch); skipped in a CPU build."""

import numpy as np
import pytest

import kmdflow

pytestmark = pytest.mark.skipif(kmdflow._core.execution_space != "Cuda",
                                reason="a CPU build of kmdflow (GPU arrays need its CUDA build)")

# (dim, s, method, particles, tolerance): the exact engines give the host input's velocities to
# rounding (the same kernels run on the same values); the spectral engine spreads with atomics, so
# its summation order, and its last digits, change from call to call.
CASES = [(1, 1, "sorted", 20000, 1e-13), (1, 1.5, "direct", 3000, 1e-13), (2, 1.5, "direct", 2000, 1e-13),
         (2, 1.5, "spectral", 20000, 1e-10), (3, 1, "spectral", 20000, 1e-10)]


def positions(n, dim, seed=1):
    return np.random.default_rng(seed + dim).random((n, dim))


def close(a, b, tolerance):
    return np.abs(a - b).max() <= tolerance * np.abs(b).max()


@pytest.mark.parametrize("dim,s,method,n,tolerance", CASES)
def test_cupy_arrays_are_read_in_place_and_answered_on_the_gpu(dim, s, method, n, tolerance):
    cp = pytest.importorskip("cupy")
    m = kmdflow.Model(dim=dim, s=s, forces={"method": method})
    x = positions(n, dim)
    v = m.velocities(x)  # host input: copied to the GPU, answered on the host
    assert isinstance(v, np.ndarray)
    xd = cp.asarray(x)
    vd = m.velocities(xd)
    assert isinstance(vd, cp.ndarray) and vd.device.id == xd.device.id and vd.shape == x.shape
    assert m._model._input_address == xd.data.ptr  # the engine read CuPy's memory
    assert close(cp.asnumpy(vd), v, tolerance)
    # Into a GPU array of the caller's, from strided GPU input, with GPU weights.
    out = cp.full_like(xd, cp.nan)
    assert m.velocities(cp.asfortranarray(xd), out=out) is out
    assert close(cp.asnumpy(out), v, tolerance)
    w = np.random.default_rng(3).random(n) + 0.5
    assert close(cp.asnumpy(m.velocities(xd, weights=cp.asarray(w))), m.velocities(x, weights=w), tolerance)
    e, ed = m.energy(x), m.energy(xd)
    assert ed["dissipation"] == pytest.approx(e["dissipation"], rel=tolerance * 10)


def test_cupy_errors_name_the_particle():
    cp = pytest.importorskip("cupy")
    m = kmdflow.Model(dim=2, s=1.5)
    x = positions(500, 2)
    x[123, 1] = 1.0
    with pytest.raises(kmdflow.ConfigError, match="x: particle 123 .* outside the torus"):
        m.velocities(cp.asarray(x))
    with pytest.raises(kmdflow.ConfigError, match="out"):
        m.velocities(cp.asarray(positions(500, 2)), out=np.empty((500, 2)))  # a host out for GPU input


def test_torch_tensors_come_back_as_tensors_where_they_were():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("PyTorch sees no GPU")
    m = kmdflow.Model(dim=2, s=1, forces={"method": "direct"})
    x = positions(1500, 2)
    v = m.velocities(x)
    on_gpu = m.velocities(torch.from_numpy(x).cuda())
    assert isinstance(on_gpu, torch.Tensor) and on_gpu.is_cuda and on_gpu.dtype == torch.float64
    assert close(on_gpu.cpu().numpy(), v, 1e-13)
    on_host = m.velocities(torch.from_numpy(x))
    assert isinstance(on_host, torch.Tensor) and not on_host.is_cuda
    assert close(on_host.numpy(), v, 1e-13)
    # Written by PyTorch's stream just before: kmdflow waits for it.
    xt = torch.from_numpy(x).cuda() * 1.0
    assert close(m.velocities(xt).cpu().numpy(), v, 1e-13)
