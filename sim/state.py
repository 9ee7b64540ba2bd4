"""The state of a chunk of replicates, and drawing it from the model.

`draw_state` draws every parameter of a chunk on its own keyed stream (so a
replicate's numbers depend only on the seed, its block and the parameter's
canonical key), applies calibration knobs if any, and lays the arrays out
(n_agents, n_issues, n_replicates), the replicate axis last and contiguous.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Protocol

import numpy as np

from .model import TALK_FEST, Model
from .randomness import Blocks
from .schema import is_random, mean_of, sample

__all__ = ["KnobApplier", "State", "draw_params", "draw_state"]


class KnobApplier(Protocol):
    """Something that sets calibration knobs in a chunk's drawn parameters (`sim.knobs`)."""

    def apply(self, model: Model, params: dict[str, np.ndarray], blocks: Blocks) -> None: ...


@dataclass
class State:
    """The state of one chunk of replicates; the replicate axis is last.

    position, ideal, held, salience: (n_agents, n_issues, n) on the issues' [0, 1]
        scales; `ideal` is what an agent would stand for without the others'
        pressure, `held` the pressure it stood under at the start (the engine's)
    capability, resolve, walk_away: (n_agents, n)
    trust, trust_initial, trust_recovery: (n_pairs, n)
    rate, noise, margin, loss_aversion, credibility, cancel_base: (n,)
    event_probability: (n_events, n); incident_rate: (n_incidents, n) per month
    audience: (n_elections, n); alliance_pull, alliance_cost: (n_alliances, n)
    mediator_trust, mediator_margin: (n_mediators, n); weights: (n_parties, n) Nash bargaining weights
    summit_day: (n,) days from calendar start; cancelled: (n,) called off by an event or incident
    outcome: (n,) uint8 class codes; package: (n,) int64 (-1: no deal); signed: (n_parties, n)
    at_summit: (n_agents, n_issues, n) positions on the summit day, with their deviation
    summit_salience: (n_agents, n_issues, n); summit_resolve: (n_agents, n) with audience costs;
    summit_trust: (n_pairs, n); called_off: (n,) cancelled, or trust too low on the day
    """

    position: np.ndarray
    ideal: np.ndarray
    held: np.ndarray
    salience: np.ndarray
    capability: np.ndarray
    resolve: np.ndarray
    walk_away: np.ndarray
    trust: np.ndarray
    trust_initial: np.ndarray
    trust_recovery: np.ndarray
    rate: np.ndarray
    noise: np.ndarray
    margin: np.ndarray
    loss_aversion: np.ndarray
    credibility: np.ndarray
    cancel_base: np.ndarray
    event_probability: np.ndarray
    incident_rate: np.ndarray
    audience: np.ndarray
    alliance_pull: np.ndarray
    alliance_cost: np.ndarray
    mediator_trust: np.ndarray
    mediator_margin: np.ndarray
    weights: np.ndarray
    summit_day: np.ndarray
    cancelled: np.ndarray
    outcome: np.ndarray
    package: np.ndarray
    signed: np.ndarray
    at_summit: np.ndarray
    summit_salience: np.ndarray
    summit_resolve: np.ndarray
    summit_trust: np.ndarray
    called_off: np.ndarray

    @property
    def n(self) -> int:
        return self.rate.shape[0]

    def copy(self) -> State:
        """A deep copy: every array copied."""
        return State(**{f.name: getattr(self, f.name).copy() for f in fields(self)})


def draw_params(model: Model, blocks: Blocks, knobs: KnobApplier | None = None) -> dict[str, np.ndarray]:
    """Every parameter as an (n,) array, each random one on its own keyed stream; then the knobs."""
    out = {}
    for path, spec in model.params.items():
        if is_random(spec.param):
            rngs = blocks.rngs("parameters", spec.key)
            out[path] = blocks.draw(rngs, lambda rng, size, sl, p=spec.param: sample(p, rng, size))
        else:
            out[path] = sample(spec.param, None, blocks.size)
    if knobs is not None:
        knobs.apply(model, out, blocks)
    return out


def draw_summit_days(model: Model, blocks: Blocks) -> np.ndarray:
    kind, *days = model.summit_days
    if kind == "fixed":
        return np.full(blocks.size, days[0], dtype=np.int64)
    rngs = blocks.rngs("summit", "date")
    if kind == "uniform":
        lo, hi = days
        return blocks.draw(rngs, lambda rng, size, sl: rng.integers(lo, hi + 1, size), dtype=np.int64)
    lo, mode, hi = days
    # Whole days: the triangular on [lo, hi + 1) floored puts equal mass per day at the ends.
    return blocks.draw(
        rngs, lambda rng, size, sl: np.floor(rng.triangular(lo, mode + 0.5, hi + 1, size)), dtype=np.int64
    )


def draw_state(model: Model, blocks: Blocks, knobs: KnobApplier | None = None) -> State:
    p = draw_params(model, blocks, knobs)
    n, A, I = blocks.size, model.n_agents, model.n_issues

    def stack(field: str) -> np.ndarray:
        return np.stack([np.stack([p[f"agents.{a}.issues.{i}.{field}"] for i in model.issues])
                         for a in model.agents])

    def rows(paths: list[str]) -> np.ndarray:
        return np.stack([p[path] for path in paths]) if paths else np.zeros((0, n))

    position = np.clip(stack("position"), model.lower, model.upper)
    salience = np.clip(stack("salience"), 0.0, None)
    total = salience.sum(axis=1, keepdims=True)
    # A replicate that drew 0 on every issue gets the agent's mean saliences (which sum to 1),
    # not an even spread: that would give weight to issues nobody cares about.
    fallback = np.zeros_like(salience)
    if not (total > 0).all():  # rare (a knob setting every salience to 0): the means only then
        fallback[...] = np.array([[mean_of(model.params[f"agents.{a}.issues.{i}.salience"].param)
                                   for i in model.issues] for a in model.agents])[:, :, None]
    salience = np.divide(salience, total, out=fallback, where=total > 0)
    per_agent = lambda name: rows([f"agents.{a}.{name}" for a in model.agents])  # noqa: E731
    pair_paths = [f"relations.trust.{model.agents[i]}.{model.agents[j]}" for i, j in model.pairs]
    trust = rows([f"{path}.initial" for path in pair_paths])
    n_parties = len(model.parties)
    return State(
        position=position, ideal=position.copy(), held=np.zeros_like(position), salience=salience,
        capability=per_agent("capability"), resolve=per_agent("resolve"), walk_away=per_agent("walk_away"),
        trust=trust.copy(), trust_initial=trust,
        trust_recovery=rows([f"{path}.weekly_recovery" for path in pair_paths]),
        rate=p["dynamics.rate"], noise=p["dynamics.noise"], margin=p["summit.bargaining.margin"],
        loss_aversion=p["summit.bargaining.loss_aversion"], credibility=p["summit.bargaining.credibility"],
        cancel_base=p["summit.cancellation.base_probability"],
        event_probability=rows([f"events.{e.name}.probability" for e in model.events]),
        incident_rate=rows([f"incidents.{i.name}.rate_per_month" for i in model.incidents]),
        audience=rows([e.path for e in model.elections]),
        alliance_pull=rows([f"{al.path}.pull" for al in model.alliances]),
        alliance_cost=rows([f"{al.path}.cost" for al in model.alliances]),
        mediator_trust=rows([f"{prefix}.trust" for _, prefix in model.mediators]),
        mediator_margin=rows([f"{prefix}.margin" for _, prefix in model.mediators]),
        weights=rows([f"summit.weights.{model.agents[k]}" for k in model.parties]),
        summit_day=draw_summit_days(model, blocks), cancelled=np.zeros(n, dtype=bool),
        outcome=np.full(n, TALK_FEST, dtype=np.uint8), package=np.full(n, -1, dtype=np.int64),
        signed=np.zeros((n_parties, n), dtype=bool), at_summit=np.zeros((A, I, n)),
        summit_salience=np.zeros((A, I, n)), summit_resolve=np.zeros((A, n)), summit_trust=np.zeros_like(trust),
        called_off=np.zeros(n, dtype=bool),
    )
