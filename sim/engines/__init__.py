"""Weekly diplomacy rules. Each engine moves every replicate's positions one week.

An engine is built once per chunk (`make_engine(model, n)`, so it can keep
scratch arrays) and called by the timeline's diplomacy process as
`engine.step(state, day, resolve, normals)`: `resolve` (n_agents, n) is each
agent's resolve with audience costs added, `normals` (n_agents, n_issues, n)
standard normal draws from the `diplomacy` stream. Register new engines in
`ENGINES`; the scenario's `dynamics.engine` names one.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from ..model import Model, State
from .convergence import Convergence
from .expected_utility import ExpectedUtility

__all__ = ["ENGINES", "Engine", "make_engine"]


class Engine(Protocol):
    def step(self, state: State, day: float, resolve: np.ndarray, normals: np.ndarray) -> None: ...


ENGINES = {"convergence": Convergence, "eum": ExpectedUtility}


def make_engine(model: Model, n: int) -> Engine:
    return ENGINES[model.engine](model, n)
