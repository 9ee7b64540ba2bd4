"""Weighted convergence: positions drift toward the capability- and
salience-weighted mean of the others' positions, held back by resolve.

For agent i on issue k, with weights w_j = capability_j * salience_jk (the
summit parties' weight on each other scaled by their trust):

    pressure_ik = sum_{j != i} w_j (x_jk - x_ik) / sum_{j != i} w_j
    dx_ik = rate * [(1 - r_i)(1 - s_ik) pressure_ik + r_i (ideal_ik - x_ik)] + noise * e_ik

where r_i is resolve with audience costs and s_ik the agent's own salience:
an agent yields more on issues it cares less about. Positions stay within
the agent's domestic bounds. Cost: O(n_agents * n_issues) per replicate and
week, since sum_{j != i} w_j (x_j - x_i) = S1 - x_i S0 with S0, S1 the sums over all j.
"""

from __future__ import annotations

import numpy as np

from ..model import Model, State


class Convergence:
    def __init__(self, model: Model, n: int):
        self.model = model
        A, I = model.n_agents, model.n_issues
        self.w = np.empty((A, I, n))
        self.pull = np.empty((A, I, n))
        self.denom = np.empty((A, I, n))
        self.tmp = np.empty((A, I, n))
        self.s0 = np.empty((I, n))
        self.s1 = np.empty((I, n))

    def step(self, state: State, day: float, resolve: np.ndarray, normals: np.ndarray) -> None:
        x, sal = state.position, state.salience
        w, pull, denom, tmp = self.w, self.pull, self.denom, self.tmp
        np.multiply(state.capability[:, None, :], sal, out=w)
        np.sum(w, axis=0, out=self.s0)
        np.multiply(w, x, out=tmp)
        np.sum(tmp, axis=0, out=self.s1)
        np.multiply(x, self.s0, out=pull)
        np.subtract(self.s1, pull, out=pull)  # sum_{j != i} w_j (x_j - x_i)
        np.subtract(self.s0, w, out=denom)  # sum_{j != i} w_j

        # The parties weigh each other by trust: replace w_q by trust * w_q.
        p, q = self.model.parties
        scale = state.trust - 1.0
        for a, b in ((p, q), (q, p)):
            pull[a] += scale * w[b] * (x[b] - x[a])
            denom[a] += scale * w[b]

        np.divide(pull, denom, out=pull, where=denom > 1e-12)
        pull[denom <= 1e-12] = 0.0

        # dx = rate * [(1 - r)(1 - s) pressure + r (ideal - x)] + noise * e
        np.subtract(1.0, sal, out=tmp)
        tmp *= (1.0 - resolve)[:, None, :]
        pull *= tmp
        np.subtract(state.ideal, x, out=tmp)
        tmp *= resolve[:, None, :]
        pull += tmp
        pull *= state.rate
        x += pull
        np.multiply(normals, state.noise, out=tmp)
        x += tmp
        np.clip(x, self.model.lower, self.model.upper, out=x)
