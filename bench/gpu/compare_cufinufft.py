#!/usr/bin/env python3
"""cuFINUFFT doing the spectral engine's transforms, for scripts/gpu-check (step 4).

    compare_cufinufft.py --spectral DIR/spectral.json [--tolerance 1e-6] [--repetitions 5] --out FILE.json

For each (d, N) of the spectral benchmark's Transforms rows (kmdflow's long-range part: one
type-1 NUFFT of N points to (2K+1)^d modes and d type-2 NUFFTs back, K chosen by the engine for the
tolerance), cuFINUFFT (PyPI cufinufft, double precision, upsampling 2, same tolerance and modes)
does one type-1 and d type-2 transforms of N iid uniform points already on the GPU: setpts (its
bin sort) and execute of both plans, plans made once outside the timing as kmdflow's are. Writes
[{dim, n, modes, seconds}] (medians) to FILE and prints the ratio kmdflow / cuFINUFFT.
"""
import argparse
import json
import statistics
import sys
import time


def cufinufft_time(dim, n, modes, tolerance, repetitions):
    import cupy as cp
    import cufinufft

    rng = cp.random.default_rng(1)
    x = [rng.uniform(-cp.pi, cp.pi, n) for _ in range(dim)]
    c = cp.full(n, 1.0 / n, dtype=cp.complex128)
    shape = (modes,) * dim
    type1 = cufinufft.Plan(1, shape, eps=tolerance, isign=-1, dtype="complex128", upsampfac=2.0)
    type2 = cufinufft.Plan(2, shape, eps=tolerance, isign=1, dtype="complex128", upsampfac=2.0)
    times = []
    for _ in range(repetitions + 1):
        cp.cuda.Device().synchronize()
        start = time.perf_counter()
        type1.setpts(*x)
        f = type1.execute(c)
        type2.setpts(*x)
        for _ in range(dim):
            type2.execute(f)
        cp.cuda.Device().synchronize()
        times.append(time.perf_counter() - start)
    del type1, type2, x, c
    cp.get_default_memory_pool().free_all_blocks()
    return statistics.median(times[1:])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spectral", required=True, help="the spectral benchmark's JSON (Google Benchmark)")
    parser.add_argument("--tolerance", type=float, default=1e-6)
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    import cufinufft

    rows, ours = [], {}
    for b in json.load(open(args.spectral))["benchmarks"]:
        if b.get("aggregate_name", "median") != "median" or not b["run_name"].startswith("Transforms"):
            continue
        kind, rest = b["run_name"].split("/", 1)
        dim, n = int(kind[-2]), int(rest.split("N:")[1].split("/")[0])
        ours[(dim, n)] = (b["real_time"] / 1e3, 2 * int(b["K"]) + 1)
    print(f"  cuFINUFFT {cufinufft.__version__}, tolerance {args.tolerance:g}, medians of {args.repetitions}")
    for (dim, n), (t_ours, modes) in sorted(ours.items()):
        seconds = cufinufft_time(dim, n, modes, args.tolerance, args.repetitions)
        rows.append({"dim": dim, "n": n, "modes": modes, "seconds": seconds})
        print(f"  d = {dim}, N = {n:.0e}, {modes}^{dim} modes: kmdflow {t_ours * 1e3:.2f} ms, "
              f"cuFINUFFT {seconds * 1e3:.2f} ms, ratio {t_ours / seconds:.2f}")
    json.dump(rows, open(args.out, "w"), indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
