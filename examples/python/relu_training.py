#!/usr/bin/env python3
"""Training a wide two-layer ReLU network as a Wasserstein–Fisher–Rao flow (DESIGN.md §2): 200
neurons on S^2 learn a teacher of three neurons, with kmdflow.relu's velocities inside a numpy
loop (directions moved and renormalised, masses multiplied); plots the loss and the neurons.

    scripts/env python3 examples/python/relu_training.py [--n 200] [--steps 2000] [--out relu.png]
"""
import argparse

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import kmdflow.relu  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--n", type=int, default=200)
parser.add_argument("--steps", type=int, default=2000)
parser.add_argument("--out", default="relu.png")
args = parser.parse_args()

net = kmdflow.relu.Model(dim=2, teacher={"count": 3, "seed": 5})
rng = np.random.default_rng(1)
theta = rng.normal(size=(args.n, 3))
theta /= np.linalg.norm(theta, axis=1)[:, None]
state = np.c_[theta, np.full(args.n, 0.1)]               # directions and masses (WFR form)
dt, losses = 0.5, []
for step in range(args.steps):
    v = net.velocities(state)
    state[:, :3] += dt * v[:, :3]                        # move on the sphere ...
    state[:, :3] /= np.linalg.norm(state[:, :3], axis=1)[:, None]
    state[:, 3] *= np.exp(dt * v[:, 3] / np.maximum(state[:, 3], 1e-300))  # ... and reweigh (m' = m·rate)
    losses.append(net.loss(state))

fig = plt.figure(figsize=(10, 4))
ax = fig.add_subplot(1, 2, 1)
ax.loglog(dt * np.arange(1, args.steps + 1), losses)
ax.set_xlabel("t")
ax.set_ylabel("population loss")
ax = fig.add_subplot(1, 2, 2, projection="3d")
ax.scatter(*state[:, :3].T, s=400 * state[:, 3] / state[:, 3].max(), alpha=0.6, label="student (sized by mass)")
ax.scatter(*net.teacher[:, :3].T, s=300, marker="*", c="C3", edgecolors="k", depthshade=False, label="teacher")
ax.legend(fontsize=7)
fig.tight_layout()
fig.savefig(args.out, dpi=90)
print(f"loss {losses[0]:.3e} -> {losses[-1]:.3e} (zero network {net.teacher_loss:.3e}); plot: {args.out}")
