#!/usr/bin/env python3
"""kmdflow's velocities inside a PyTorch loop: the particles live in a torch tensor, kmdflow reads
them through DLPack (no copy on the CPU) and its velocities come back as a tensor; the step is
torch's. Needs torch (pip install torch); CPU tensors in this build.

    scripts/env python3 examples/python/torch_loop.py [--n 4096]
"""
import argparse

import numpy as np
import torch

import kmdflow

parser = argparse.ArgumentParser()
parser.add_argument("--n", type=int, default=4096)
args = parser.parse_args()

model = kmdflow.Model(dim=2, s=1.5, target={"type": "fourier", "modes": [{"k": [1, 1], "amplitude": 0.5}]})
x = torch.rand(args.n, 2, dtype=torch.float64)
first = model.energy(x)["energy"]
for step in range(100):
    v = torch.from_dlpack(model.velocities(x))          # numpy array -> tensor, no copy
    x = torch.remainder(x + 0.05 * v, 1.0)
last = model.energy(x)["energy"]
print(f"energy {first:.3e} -> {last:.3e} over 100 steps of torch tensors")
assert last < first and np.isfinite(last)
