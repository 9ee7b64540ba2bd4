"""The expected-utility model (Bueno de Mesquita, as Scholz et al. replicate it)
as the weekly diplomacy rule.

Each week, on each issue separately, every agent plays `rounds_per_week`
rounds of the EUM (`sim.eum.advance_eum`: challenges, confrontations and
compromises, risk exponents recomputed each round; under `scholz` the compiled
kernel, all replicates of the chunk in one call) with its capability and
its salience on that issue, rescaled so that the agent's most salient issue
has salience 1 (the EUM reads salience per issue on [0, 1]; the scenario's
saliences are shares summing to 1). The move the EUM proposes is then damped by the
agent's resolve (with audience costs): the agent goes a share (1 - resolve) of
the way. Then the domestic bounds apply, as in `convergence` (there is no weekly
drift: `dynamics.noise` is the deviation on the summit day). The range R of each
issue, which scales the EUM's utilities, is the range of the agents' positions when
diplomacy starts, fixed thereafter.

Trust does not enter the EUM's rounds (it still decides cancellations and
credibility at the summit), and nothing pulls an agent back toward its ideal:
under this engine the ideal matters only as the starting position, and the
rounds run whether or not anything happens, so, unlike `convergence`, the
forecast depends on how many weeks the calendar runs (README, "Invariances").
The EUM costs O(n_agents^3) per issue, replicate and round, and about
3 n_agents^2 calls of the C library's `pow` (which the replication's exactness
requires), so runs are slower than under `convergence`.
"""

from __future__ import annotations

import numpy as np

from ..eum import advance_eum
from ..model import Model
from ..state import State


class ExpectedUtility:
    def __init__(self, model: Model, n: int):
        self.model = model
        self.variant = model.engine_options["variant"]
        self.rounds = model.engine_options["rounds_per_week"]
        self.q = model.engine_options["q"]
        self.range: np.ndarray | None = None  # (n_issues, n), fixed at the start
        self.target = np.empty((model.n_agents, model.n_issues, n))

    def start(self, state: State, resolve: np.ndarray) -> None:
        x = state.position
        self.range = x.max(axis=0) - x.min(axis=0)

    def step(self, state: State, day: float, resolve: np.ndarray) -> None:
        x = state.position
        # The EUM's salience is per issue on [0, 1] (1: the agent's top priority);
        # ours are shares summing to 1 over issues, so rescale by the largest.
        top = state.salience.max(axis=1, keepdims=True)
        salience = np.divide(state.salience, top, out=np.ones_like(state.salience), where=top > 0)
        # The issues side by side as replicates of one kernel call, (agents, issues x replicates):
        # each replicate's rounds depend on its own inputs alone, so this is bit for bit one call
        # an issue, without their per-call costs and copies of non-contiguous slices.
        agents, issues, n = x.shape
        moved = advance_eum(x.reshape(agents, issues * n), np.tile(state.capability, (1, issues)),
                            salience.reshape(agents, issues * n), self.range.reshape(issues * n), self.rounds,
                            variant=self.variant, q=self.q)
        self.target[...] = moved.reshape(agents, issues, n)
        self.target -= x
        self.target *= (1.0 - resolve)[:, None, :]
        x += self.target
        for k, al in enumerate(self.model.alliances):  # the patron's pull, after the rounds
            for i in al.issues:
                x[al.agent, i] += state.alliance_pull[k] * (x[al.patron, i] - x[al.agent, i])
        np.maximum(x, self.model.lower, out=x)
        np.minimum(x, self.model.upper, out=x)
