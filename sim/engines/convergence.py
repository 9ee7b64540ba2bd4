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
drawn by numpy and passed in. Cost: O(n_agents^2 * n_issues) per replicate
and week, a few nanoseconds per agent and issue for the handful of agents a
scenario has.
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
        self.new = np.empty((model.n_agents, model.n_issues, n))
        self.pull = np.empty(n)
        self.denom = np.empty(n)

    def step(self, state: State, day: float, resolve: np.ndarray, normals: np.ndarray) -> None:
        p, q = self.parties
        converge(
            state.position, state.ideal, state.salience, state.capability, resolve, state.trust,
            state.rate, state.noise, normals, self.lower, self.upper, p, q, self.new, self.pull, self.denom,
        )
        # The new positions become the state; the old array is next week's scratch.
        state.position, self.new = self.new, state.position


@numba.njit(cache=True, nogil=True, error_model="numpy")
def converge(x, ideal, sal, cap, resolve, trust, rate, noise, normals, lower, upper, p, q, new, pull, denom):  # pragma: no cover - compiled
    """One week of convergence from x (n_agents, n_issues, n) into `new` (shaped
    like x): every agent moves from the positions at the start of the week.
    `pull` and `denom` (n,) are scratch. The pressure sums w_j (x_j - x_i) term by
    term: the shortcut S1 - x_i S0 cancels catastrophically when one agent's
    weight dominates, and agents who agree must feel exactly no pressure. Every
    innermost loop runs over the contiguous replicate axis, so it vectorises."""
    A, I, n = x.shape
    for i in range(A):
        party = i == p or i == q
        o = q if i == p else p  # the other party, if i is one
        for k in range(I):
            pull[:] = 0.0
            denom[:] = 0.0
            for j in range(A):
                if j == i:
                    continue
                if party and j == o:  # the parties weigh each other by trust
                    for r in range(n):
                        w = cap[j, r] * sal[j, k, r] * trust[r]
                        pull[r] += w * (x[j, k, r] - x[i, k, r])
                        denom[r] += w
                else:
                    for r in range(n):
                        w = cap[j, r] * sal[j, k, r]
                        pull[r] += w * (x[j, k, r] - x[i, k, r])
                        denom[r] += w
            lo = lower[i, k]
            hi = upper[i, k]
            for r in range(n):
                xi = x[i, k, r]
                pressure = pull[r] / denom[r] if denom[r] > 1e-12 else 0.0
                y = xi + rate[r] * ((1.0 - resolve[i, r]) * (1.0 - sal[i, k, r]) * pressure
                                    + resolve[i, r] * (ideal[i, k, r] - xi))
                y += noise[r] * normals[i, k, r]
                new[i, k, r] = min(max(y, lo), hi)
