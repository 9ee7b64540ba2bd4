"""Weighted convergence: positions drift toward the capability- and
salience-weighted mean of the others' positions, held back by resolve, and
move only when something changes.

For agent i on issue k, with weights w_j = capability_j * salience_jk (two
agents with a trust pair weigh each other's w by their trust t), r_i resolve
with audience costs and s_ik the agent's own salience:

    pressure_ik = sum_{j != i} w_j (x_jk - x_ik) / sum_{j != i} w_j
    F_ik = rate * [(1 - r_i)(1 - s_ik) pressure_ik + r_i (ideal_ik - x_ik)]
           + sum over i's alliances on k of pull * (x_patron,k - x_ik)
    x_ik <- x_ik + F_ik - held_ik,   within the agent's domestic bounds

`held` is F at the start of the calendar (`start`): the positions a scenario
writes are where the agents stand now, under the pressures of now, so with
nothing happening nobody moves, however long the calendar runs. An event that
changes an ideal, a trust, a capability or a salience changes F, and the
agents move, a share `rate` of the way a week, toward the positions that
balance the new pressures; a shift of a position alone decays back. The
forecast depends on what happens, not on how long the clock runs (README,
"Invariances").

One fused numba loop; the innermost loops run over the contiguous replicate
axis. Cost: O(n_agents^2 * n_issues) per replicate and tick.
"""

from __future__ import annotations

import numba
import numpy as np

from ..model import Model
from ..state import State


class Convergence:
    def __init__(self, model: Model, n: int):
        self.pair_of = np.ascontiguousarray(model.pair_of)
        self.lower = np.ascontiguousarray(model.lower[:, :, 0])
        self.upper = np.ascontiguousarray(model.upper[:, :, 0])
        A, I = model.n_agents, model.n_issues
        self.ally_agent = np.array([al.agent for al in model.alliances], dtype=np.int64)
        self.ally_patron = np.array([al.patron for al in model.alliances], dtype=np.int64)
        self.ally_issue = np.zeros((len(model.alliances), I), dtype=np.bool_)
        for k, al in enumerate(model.alliances):
            self.ally_issue[k, list(al.issues)] = True
        self.force = np.empty((A, I, n))
        self.pull = np.empty(n)
        self.denom = np.empty(n)

    def _force(self, state: State, resolve: np.ndarray) -> np.ndarray:
        force_of(state.position, state.ideal, state.salience, state.capability, resolve, state.trust, self.pair_of,
                 state.rate, self.ally_agent, self.ally_patron, self.ally_issue, state.alliance_pull, self.force,
                 self.pull, self.denom)
        return self.force

    def start(self, state: State, resolve: np.ndarray) -> None:
        """Note the force each agent stands under now: the balance the calendar starts from."""
        state.held[...] = self._force(state, resolve)

    def step(self, state: State, day: float, resolve: np.ndarray) -> None:
        move(state.position, self._force(state, resolve), state.held, self.lower, self.upper)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def force_of(x, ideal, sal, cap, resolve, trust, pair_of, rate, ally_agent, ally_patron, ally_issue, ally_pull,
             force, pull, denom):  # pragma: no cover - compiled
    """F (see the module docstring) into `force` (n_agents, n_issues, n). The pressure sums
    w_j (x_j - x_i) term by term: the shortcut S1 - x_i S0 cancels catastrophically when
    one agent's weight dominates, and agents who agree must feel exactly no pressure."""
    A, I, n = x.shape
    for k in range(I):
        for i in range(A):
            pull[:] = 0.0
            denom[:] = 0.0
            for j in range(A):
                if j == i:
                    continue
                p = pair_of[i, j]
                if p >= 0:
                    for r in range(n):
                        w = cap[j, r] * sal[j, k, r] * trust[p, r]
                        pull[r] += w * (x[j, k, r] - x[i, k, r])
                        denom[r] += w
                else:
                    for r in range(n):
                        w = cap[j, r] * sal[j, k, r]
                        pull[r] += w * (x[j, k, r] - x[i, k, r])
                        denom[r] += w
            for r in range(n):
                d = denom[r]
                pressure = pull[r] / d if d > 1e-12 else 0.0
                ri = resolve[i, r]
                force[i, k, r] = rate[r] * ((1.0 - ri) * (1.0 - sal[i, k, r]) * pressure
                                            + ri * (ideal[i, k, r] - x[i, k, r]))
            for a in range(ally_agent.shape[0]):
                if ally_agent[a] == i and ally_issue[a, k]:
                    q = ally_patron[a]
                    for r in range(n):
                        force[i, k, r] += ally_pull[a, r] * (x[q, k, r] - x[i, k, r])


@numba.njit(cache=True, nogil=True)
def move(x, force, held, lower, upper):  # pragma: no cover - compiled
    """x <- x + (force - held), within the bounds, in place."""
    A, I, n = x.shape
    for i in range(A):
        for k in range(I):
            lo = lower[i, k]
            hi = upper[i, k]
            for r in range(n):
                y = x[i, k, r] + (force[i, k, r] - held[i, k, r])
                x[i, k, r] = min(max(y, lo), hi)
