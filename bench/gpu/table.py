#!/usr/bin/env python3
"""The timing table of scripts/gpu-check (step 3 and 4), in Markdown, from the JSON files the
benchmarks (Google Benchmark, medians of 5) and compare_cufinufft.py wrote into DIR.

    table.py DIR CARD
"""
import json
import os
import sys

# Peak rates (non-tensor FP64 and FP32, TFLOP/s, boost clock) of the cards the check runs on.
PEAKS = {"H100 80GB HBM3": (33.5, 66.9), "H100 SXM": (33.5, 66.9), "H100 PCIe": (25.6, 51.2),
         "H100 NVL": (30.0, 60.0), "H200": (33.5, 66.9)}
# Flops per interaction of the 1D closed forms (4s + 2: bench/direct_engine.cpp).
FLOPS_1D = {100: 6, 200: 10}


def load(directory, name):
    path = os.path.join(directory, name + ".json")
    if not os.path.exists(path):
        return []
    rows = json.load(open(path)).get("benchmarks", [])
    return [r for r in rows if r.get("aggregate_name", "median") == "median"]


def seconds(row):
    scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[row.get("time_unit", "ns")]
    return row["real_time"] * scale


def peak(card):
    for key, value in PEAKS.items():
        if key in card:
            return value
    return None


def line(what, size, row, rate, note=""):
    print(f"| {what} | {size} | {seconds(row) * 1e3:.3f} ms | {rate} | {note} |")


def name_of(row):
    return row.get("run_name", row["name"])


def main(directory, card):
    peaks = peak(card)
    print(f"kmdflow on {card}\n")
    print("| what | size | median | rate | note |")
    print("| --- | --- | --- | --- | --- |")
    for row in load(directory, "direct") + load(directory, "direct_nd"):
        name = name_of(row)
        rate = row.get("interactions_per_s", 0)
        fp32 = "Float" in name
        note = ""
        if name.startswith("DirectVelocities"):
            flops = FLOPS_1D.get(int(name.split("s100:")[1].split("/")[0]))
            if flops and peaks:
                fraction = rate * flops / (peaks[1 if fp32 else 0] * 1e12)
                note = f"{rate * flops / 1e12:.2f} TFLOP/s = {100 * fraction:.0f}% of {'FP32' if fp32 else 'FP64'} peak"
        line(f"{name.split('/')[0]} ({'FP32' if fp32 else 'FP64'})", name.split("/", 1)[1], row,
             f"{rate:.3g} interactions/s", note)
    for row in load(directory, "sorted"):
        line("sorted velocities", name_of(row).split("/", 1)[1], row, f"{row.get('particles_per_s', 0):.3g} particles/s")
    peer = {}
    peer_path = os.path.join(directory, "cufinufft.json")
    if os.path.exists(peer_path):
        peer = {(r["dim"], r["n"]): r["seconds"] for r in json.load(open(peer_path))}
    for row in load(directory, "spectral"):
        name = name_of(row)
        kind, n = name.split("/")[0], int(name.split("N:")[1].split("/")[0])
        dim = int(kind[-2])
        note = ""
        if kind.startswith("Transforms") and (dim, n) in peer:
            note = f"cuFINUFFT {peer[(dim, n)] * 1e3:.3f} ms: ratio {seconds(row) / peer[(dim, n)]:.2f}"
        if kind == "Spectral3D" and n == 100000000:
            note = f"goal <= 0.3 s: {'met' if seconds(row) <= 0.3 else 'not met'}"
        line(f"{kind} (tol 1e-6)", f"N = {n:.0e}", row, f"{row.get('particles_per_s', 0):.3g} particles/s", note)
    for row in load(directory, "pde"):
        name = name_of(row)
        line(f"PDE step {name.split('/')[0]}", name.split("/", 1)[1], row,
             f"stage = {row.get('stage_in_ffts', 0):.2f} FFT pairs")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
