"""Weekly diplomacy rules. Each engine moves every replicate's positions one week.

An engine is built once per chunk (`make_engine(model, n)`, so it can keep
scratch arrays). The timeline calls `engine.start(state, resolve)` once, before
the first day, then `engine.step(state, day, resolve)` at every weekly tick:
`resolve` (n_agents, n) is each agent's resolve with that day's audience costs
added. Engines draw no random numbers: what is unmodelled enters as the
positions' deviation on the summit day (`sim.summit`). Register new engines in
`ENGINES`; the scenario's `dynamics.engine` names one.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from ..model import Model
from ..state import State
from .convergence import Convergence
from .expected_utility import ExpectedUtility

__all__ = ["ENGINES", "Engine", "make_engine"]


class Engine(Protocol):
    def start(self, state: State, resolve: np.ndarray) -> None: ...

    def step(self, state: State, day: float, resolve: np.ndarray) -> None: ...


ENGINES = {"convergence": Convergence, "eum": ExpectedUtility}


def make_engine(model: Model, n: int) -> Engine:
    return ENGINES[model.engine](model, n)
