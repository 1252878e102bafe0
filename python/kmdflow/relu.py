"""Two-layer ReLU networks on the sphere S^d as Wasserstein–Fisher–Rao flows (DESIGN.md §2, §4;
README "Two-layer ReLU networks"), from Python.

    >>> import numpy as np, kmdflow.relu
    >>> net = kmdflow.relu.Model(dim=2, teacher={"count": 3, "seed": 5})
    >>> state = np.c_[directions, masses]            # (N, d+2): θ_i on S^d, m_i >= 0 (WFR form)
    >>> net.loss(state), net.velocities(state)       # velocities: (θ_i', m_i'), the WFR flow
"""

import json
import os

from . import _core

__all__ = ["Model"]


class Model:
    """The population loss of a width-N network against a teacher, for inputs uniform on S^d,
    and its gradient flow.

    Model(dim, teacher=None, form="wfr")
      dim      the sphere S^d, 1 ≤ d ≤ 15 (inputs in R^{d+1})
      teacher  a dict as the config's relu.teacher block ({"count": 3, "seed": 5}: random atoms;
               {"density": {"type": "uniform"}, "count": 1000}: a positive density by quadrature;
               {"path": "teacher.csv"}), or an array (M, d+2) of directions and masses
      form     "wfr": states are directions θ_i (normalised here) and masses m_i ≥ 0;
               "parameters": states are the first-layer weights w_i and output weights a_i
    """

    def __init__(self, dim, teacher=None, form="wfr"):
        relu = {"form": form}
        array = None
        if isinstance(teacher, dict):
            relu["teacher"] = teacher
        elif teacher is not None:
            array = teacher
        config = {"model": "relu", "dim": dim, "relu": relu}
        self._net = _core.ReluNet(json.dumps(config), os.getcwd(), array)
        self.dim = dim
        self.form = form

    @property
    def teacher(self):
        """The teacher's atoms, (M, d+2): directions and masses."""
        return self._net.teacher

    @property
    def teacher_loss(self):
        """The loss of the zero network, ½ (1/M²) Σ b_m b_n k(v_m, v_n)."""
        return self._net.teacher_loss

    def loss(self, state):
        """The population loss of the network `state` (N, d+2)."""
        return self._net.diagnostics(state)["loss"]

    def diagnostics(self, state):
        """{"loss", "dissipation": −dL/dt, "max_speed"} of the state."""
        return self._net.diagnostics(state)

    def velocities(self, state):
        """The state's time derivative under the flow, (N, d+2): (θ_i', m_i') in the WFR form (the
        tangential velocity and the mass rate), (w_i', a_i') in the parameters form."""
        return self._net.velocities(state)
