#!/usr/bin/env python3
"""The spectral engine against FINUFFT doing the same transforms, same run (issues 4 and 14).

    scripts/env python3 bench/compare_finufft.py [--sizes 1000000] [--tolerances 1e-6] [--dims 1,2,3]
                                                 [--repetitions 3] [--plot bench/compare_finufft.png]

For each d, N and tolerance, bench_spectral_engine times kmdflow's whole velocity evaluation and its
long-range part alone ("transforms": one type-1 NUFFT of N points to the (2K+1)^d modes the engine
chose, the multiplication, d type-2 NUFFTs back), each with its phases (spread, FFT, deconvolve,
multiply, interpolate, short range) and the memory it holds per particle. FINUFFT (the PyPI package,
same threads, same tolerance, same modes, same number of iid uniform points) does the same work
through its plan interface — plans made once, `setpts` on every evaluation since the points move,
one type-1 plan and one type-2 plan with n_trans = d — at its defaults (automatic upsampling, FFTW
plans estimated), at upsampling 2, and at automatic upsampling with FFTW plans measured
(`fftw = FFTW_MEASURE`, as kmdflow measures its own for large grids; planning is outside the timing
on both sides). Its best is the fastest of the three; the ratios are kmdflow / FINUFFT's best.
`--reuse rows.json --settings finufft_measure` re-times FINUFFT (that setting only) for the rows of
an earlier `--json` output; without --reuse, `--settings` leaves the others out (at N = 10⁷ FFTW's
measured planning of FINUFFT's grids ran past 30 minutes).
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("KMDFLOW_BUILD_DIR", os.path.join(ROOT, "build"))
PHASES = ["spread", "fft", "deconvolve", "multiply", "interpolate", "short_range"]


FFTW_MEASURE, FFTW_ESTIMATE = 0, 64  # fftw3.h's planner flags, FINUFFT's opts.fftw
SETTINGS = {"finufft_auto": (None, FFTW_ESTIMATE), "finufft_2": (2.0, FFTW_ESTIMATE),
            "finufft_measure": (None, FFTW_MEASURE)}


def finufft_time(dim, n, modes, tolerance, threads, repetitions, upsampling, fftw=FFTW_ESTIMATE):
    """Median seconds of one type-1 and d type-2 transforms through FINUFFT's plan interface."""
    import finufft

    rng = np.random.default_rng(1)
    x = [rng.uniform(-np.pi, np.pi, n) for _ in range(dim)]
    c = np.full(n, 1.0 / n, dtype=complex)
    shape = (modes,) * dim
    opts = dict(eps=tolerance, nthreads=threads, fftw=fftw)
    if upsampling is not None:
        opts["upsampfac"] = upsampling
    type1 = finufft.Plan(1, shape, n_trans=1, isign=-1, **opts)
    type2 = finufft.Plan(2, shape, n_trans=dim, isign=1, **opts)
    coefficients = np.empty((dim,) + shape, dtype=complex)
    times = []
    for _ in range(repetitions + 1):  # the first is a warm-up
        t0 = time.perf_counter()
        type1.setpts(*x)
        f = type1.execute(c)
        coefficients[:] = f  # stands for the multiplication by −2πik L̂(k)
        type2.setpts(*x)
        type2.execute(coefficients)
        times.append(time.perf_counter() - t0)
    return float(np.median(times[1:]))


def kmdflow_times(sizes, dims, tolerance, repetitions):
    """{(d, N): {"Spectral": counters, "Transforms": counters}} with real_time in seconds."""
    filter_ = "(Spectral|Transforms)[" + "".join(map(str, dims)) + "]D/N:(" + "|".join(map(str, sizes)) + ")/"
    report = json.loads(subprocess.run(
        [os.path.join(BUILD, "bench", "bench_spectral_engine"), f"--benchmark_filter={filter_}",
         "--tolerance", str(tolerance), f"--benchmark_repetitions={repetitions}",
         "--benchmark_report_aggregates_only=true", "--benchmark_format=json"],
        check=True, capture_output=True, text=True).stdout)
    results = {}
    for b in report["benchmarks"]:
        if b.get("aggregate_name") == "median" or (repetitions == 1 and b.get("run_type") == "iteration"):
            kind, rest = b["run_name"].split("/", 1)
            dim = int(kind[-2])
            n = int(rest.split("N:")[1].split("/")[0])
            entry = dict(b)
            entry["seconds"] = b["real_time"] / 1e3
            results.setdefault((dim, n), {})[kind[:-2]] = entry
    return results, int(report["context"].get("kokkos_threads", 1))


def plot(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"d={r['dim']}\nN={r['N']:.0e}\ntol {r['tolerance']:g}" for r in rows]
    fig, ax = plt.subplots(figsize=(2.2 + 1.9 * len(rows), 4.2))
    x = np.arange(len(rows))
    width = 0.16
    bottom = np.zeros(len(rows))
    colors = plt.get_cmap("tab10").colors
    for i, phase in enumerate(PHASES):
        values = np.array([r["phases"].get(phase, 0.0) for r in rows]) / np.array([r["finufft_best"] for r in rows])
        ax.bar(x - 1.5 * width, values, width, bottom=bottom, color=colors[i], label=f"kmdflow: {phase}")
        bottom += values
    ax.bar(x - 0.5 * width, [r["transforms"] / r["finufft_best"] for r in rows], width, color="0.55",
           label="kmdflow: transforms")
    ax.bar(x + 0.5 * width, [r["finufft_auto"] / r["finufft_best"] for r in rows], width, color="0.2",
           label="FINUFFT: automatic upsampling")
    ax.bar(x + 1.5 * width, [r["finufft_2"] / r["finufft_best"] for r in rows], width, color="0.8",
           edgecolor="0.2", label="FINUFFT: upsampling 2")
    ax.bar(x + 2.5 * width, [r["finufft_measure"] / r["finufft_best"] for r in rows], width, color="0.4",
           hatch="//", label="FINUFFT: automatic, FFTW_MEASURE")
    ax.axhline(1.0, color="k", lw=0.8)
    ax.axhline(1.3, color="k", lw=0.8, ls=":", label="goal, whole evaluation (1.3)")
    ax.axhline(0.8, color="k", lw=0.8, ls="--", label="goal, transforms (0.8)")
    ax.set_xticks(x, labels)
    ax.set_ylabel("time / FINUFFT's best transforms")
    ax.set_title("kmdflow's velocity evaluation (stacked phases) and transforms against FINUFFT")
    top = 2.2
    ax.set_ylim(0, top)
    for i, r in enumerate(rows):  # bars beyond the frame get their value
        for offset, key in ((0.5, "finufft_auto"), (1.5, "finufft_2"), (2.5, "finufft_measure")):
            value = r[key] / r["finufft_best"]
            if value > top:
                ax.text(x[i] + offset * width, top * 0.97, f"{value:.1f}", ha="center", va="top", fontsize=7,
                        rotation=90)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000")
    parser.add_argument("--tolerances", default="1e-6")
    parser.add_argument("--dims", default="1,2,3")
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--plot", default="", help="write the figure here (PNG)")
    parser.add_argument("--json", default="", help="write the rows here")
    parser.add_argument("--reuse", default="", help="kmdflow's figures from this --json output; FINUFFT re-timed")
    parser.add_argument("--settings", default=",".join(SETTINGS),
                        help="the FINUFFT settings to time (with --reuse, the others keep their reused figures)")
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(",")]
    dims = [int(d) for d in args.dims.split(",")]
    tolerances = [float(t) for t in args.tolerances.split(",")]
    if any(d not in (1, 2, 3) for d in dims):
        print("error: --dims takes 1, 2 and 3", file=sys.stderr)
        return 2
    try:
        import finufft
    except ImportError:
        print("error: finufft is not installed (scripts/setup installs it from PyPI)", file=sys.stderr)
        return 2
    rows = []
    threads = 1
    if args.reuse:
        with open(args.reuse) as f:
            rows = json.load(f)
        threads = rows[0].get("threads", 2) if rows else 1
    for tolerance in ([] if args.reuse else tolerances):
        results, threads = kmdflow_times(sizes, dims, tolerance, args.repetitions)
        for (dim, n), r in sorted(results.items()):
            whole, transforms = r["Spectral"], r["Transforms"]
            rows.append(dict(dim=dim, N=n, tolerance=tolerance, modes=2 * int(transforms["K"]) + 1,
                             grid=int(whole["grid"]), upsampling=whole.get("upsampling", 2.0), width=int(whole["width"]),
                             whole=whole["seconds"], transforms=transforms["seconds"],
                             phases={p: whole.get(p + "_ms", 0.0) / 1e3 for p in PHASES},
                             bytes_per_particle=whole.get("bytes_per_particle", float("nan")), threads=threads))
    timed = [key for key in args.settings.split(",") if key]
    if any(key not in SETTINGS for key in timed):
        print(f"error: --settings takes {', '.join(SETTINGS)}", file=sys.stderr)
        return 2
    for r in rows:
        for key, (upsampling, fftw) in SETTINGS.items():
            if key not in timed:
                r.setdefault(key, float("nan"))  # reused, or not timed (NaN: left out of the best)
                continue
            r[key] = finufft_time(r["dim"], r["N"], r["modes"], r["tolerance"], threads, args.repetitions, upsampling,
                                  fftw)
        r["finufft_best"] = min(r[key] for key in SETTINGS if not np.isnan(r[key]))
    print(f"kmdflow spectral engine vs FINUFFT {finufft.__version__} (plan interface), {threads} threads, "
          f"medians of {args.repetitions}; ratios against FINUFFT's best")
    print(f"{'d':>2} {'N':>9} {'tol':>6} {'modes':>10} {'grid':>8} {'σ':>4} {'w':>3} | {'FINUFFT auto':>12} "
          f"{'FINUFFT σ=2':>12} {'auto+MEASURE':>12} | {'transforms':>10} {'ratio':>5} | {'velocity':>9} {'ratio':>5} | "
          f"{'kB/particle':>11}")
    for r in rows:
        print(f"{r['dim']:>2} {r['N']:>9} {r['tolerance']:>6.0e} {str(r['modes']) + '^' + str(r['dim']):>10} "
              f"{r['grid']:>8} {r['upsampling']:>4.2f} {r['width']:>3} | {r['finufft_auto'] * 1e3:>9.0f} ms "
              f"{r['finufft_2'] * 1e3:>9.0f} ms {r['finufft_measure'] * 1e3:>9.0f} ms | {r['transforms'] * 1e3:>7.0f} ms {r['transforms'] / r['finufft_best']:>5.2f} | "
              f"{r['whole'] * 1e3:>6.0f} ms {r['whole'] / r['finufft_best']:>5.2f} | {r['bytes_per_particle'] / 1e3:>11.2f}")
    print("kmdflow phases of the velocity evaluation (ms):")
    print(f"{'d':>2} {'N':>9} {'tol':>6} " + " ".join(f"{p:>11}" for p in PHASES))
    for r in rows:
        print(f"{r['dim']:>2} {r['N']:>9} {r['tolerance']:>6.0e} " +
              " ".join(f"{r['phases'][p] * 1e3:>11.0f}" for p in PHASES))
    if args.plot:
        plot(rows, args.plot)
        print(f"wrote {args.plot}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
