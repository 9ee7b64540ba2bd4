"""Weighted convergence: positions drift toward the capability- and
salience-weighted mean of the others' positions, held back by resolve.

For agent i on issue k, with weights w_j = capability_j * salience_jk (the
summit parties p, q weigh each other's w by their trust t):

    pressure_ik = sum_{j != i} w_j (x_jk - x_ik) / sum_{j != i} w_j
    dx_ik = rate * [(1 - r_i)(1 - s_ik) pressure_ik + r_i (ideal_ik - x_ik)] + noise * e_ik

where r_i is resolve with audience costs and s_ik the agent's own salience:
an agent yields more on issues it cares less about. Positions then stay
within the agent's domestic bounds.

The step is one fused numba loop (numpy would make ~15 passes over the
arrays, three times the cost of drawing the normals); the random numbers are
drawn by numpy and passed in. Cost: O(n_agents * n_issues) per replicate and
week, since sum_{j != i} w_j (x_j - x_i) = S1 - x_i S0 with S0, S1 the sums
over all j.
"""

from __future__ import annotations

import numba
import numpy as np

from ..model import Model, State


class Convergence:
    def __init__(self, model: Model, n: int):
        self.parties = model.parties
        self.lower = np.ascontiguousarray(model.lower[:, :, 0])
        self.upper = np.ascontiguousarray(model.upper[:, :, 0])
        self.sums = np.empty((2, model.n_issues, n))
        self.new = np.empty((model.n_agents, model.n_issues, n))

    def step(self, state: State, day: float, resolve: np.ndarray, normals: np.ndarray) -> None:
        p, q = self.parties
        converge(
            state.position, state.ideal, state.salience, state.capability, resolve, state.trust,
            state.rate, state.noise, normals, self.lower, self.upper, p, q, self.sums, self.new,
        )


@numba.njit(cache=True, nogil=True)
def converge(x, ideal, sal, cap, resolve, trust, rate, noise, normals, lower, upper, p, q, sums, new):  # pragma: no cover - compiled
    """One week of convergence, in place on x (n_agents, n_issues, n); every agent
    moves from the positions at the start of the week. `sums` (2, n_issues, n) and
    `new` (shaped like x) are scratch. Inner loops run over the contiguous replicate axis."""
    A, I, n = x.shape
    s0 = sums[0]
    s1 = sums[1]
    s0[:] = 0.0
    s1[:] = 0.0
    for j in range(A):
        for k in range(I):
            for r in range(n):
                w = cap[j, r] * sal[j, k, r]
                s0[k, r] += w
                s1[k, r] += w * x[j, k, r]
    for i in range(A):
        party = i == p or i == q
        o = q if i == p else p
        for k in range(I):
            lo = lower[i, k]
            hi = upper[i, k]
            for r in range(n):
                xi = x[i, k, r]
                w_i = cap[i, r] * sal[i, k, r]
                pull = s1[k, r] - xi * s0[k, r]
                denom = s0[k, r] - w_i
                if party:
                    w_o = (trust[r] - 1.0) * cap[o, r] * sal[o, k, r]
                    pull += w_o * (x[o, k, r] - xi)
                    denom += w_o
                pressure = pull / denom if denom > 1e-12 else 0.0
                y = xi + rate[r] * ((1.0 - resolve[i, r]) * (1.0 - sal[i, k, r]) * pressure
                                    + resolve[i, r] * (ideal[i, k, r] - xi))
                y += noise[r] * normals[i, k, r]
                new[i, k, r] = min(max(y, lo), hi)
    x[:] = new
