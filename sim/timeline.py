"""The calendar: one SimPy environment per chunk, its processes updating every
replicate of the chunk at once.

Time is in days from the scenario's `calendar.start`; the weekly ticks fall on
the calendar's Sundays (`Model.ticks`), so where the calendar starts moves no
tick. Processes: scheduled events (on their dates), incidents (at the ticks,
from arrivals drawn in advance), diplomacy (at the ticks, the engine, which
also carries the alliances' pull), trust recovery (at the ticks), and the
summit (on each replicate's summit day). Things on the same day happen in the
order of `PHASE`, so the order of process creation never matters. Before the
first day the engine notes the pressures the agents stand under (`start`), so
that a calendar with nothing happening leaves every position where it is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import simpy

from .engines import make_engine
from .model import CompiledEffect, Model
from .randomness import Blocks
from .schema import is_random, sample
from .state import State
from .summit import audience_pressure, bargain, record_summit

__all__ = ["PHASE", "run_timeline"]

# Fractions of a day: within a day, events come first and the summit last.
PHASE = {"events": 0.0, "incidents": 0.1, "diplomacy": 0.2, "trust": 0.4, "record": 0.5, "summit": 0.9}
DAYS_PER_MONTH = 30.4375


def run_timeline(model: Model, state: State, blocks: Blocks, trajectory: np.ndarray | None = None) -> None:
    """Run the calendar for one chunk, in place. `trajectory`, if given, has shape
    (model.weeks, n_agents, n_issues, k) and receives the first k replicates' weekly positions."""
    env = simpy.Environment()
    engine = make_engine(model, blocks.size)
    engine.start(state, _resolve(model, state, 0))
    env.process(scheduled_events(env, model, state, blocks))
    env.process(incidents(env, model, state, blocks))
    env.process(diplomacy(env, model, state, engine))
    env.process(trust_recovery(env, model, state))
    if trajectory is not None:
        env.process(record_trajectory(env, model, state, trajectory))
    env.process(summit(env, model, state, blocks))
    env.run()
    bargain(model, state, blocks)


def _at(env: simpy.Environment, day: float, phase: str) -> simpy.Timeout:
    return env.timeout(max(0.0, day + PHASE[phase] - env.now))


def _resolve(model: Model, state: State, day: int) -> np.ndarray:
    """Resolve with the audience costs of `day` added, (n_agents, n)."""
    audience = audience_pressure(model, state, day)
    return state.resolve + (1.0 - state.resolve) * audience if audience.any() else state.resolve


def _incident_ticks(model: Model) -> list[int]:
    """The weekly ticks, and the latest summit day if it falls after the last one, so
    that every arrival up to it takes effect on or after its own day."""
    ticks = list(model.ticks)
    return ticks + [model.horizon] if not ticks or ticks[-1] != model.horizon else ticks


# --- Effects -------------------------------------------------------------------


def apply_effect(model: Model, state: State, effect: CompiledEffect, idx, amount) -> None:
    """Apply `amount` (shifts, or for `cancel` booleans) in replicates `idx`, an index
    array or a slice. An index array may repeat a replicate: its shifts add up."""
    a, i = effect.agent, effect.issue
    if effect.target == "cancel":
        if isinstance(idx, slice):
            state.cancelled[idx] |= amount
        else:  # a repeated index must not let a later False undo an earlier True
            state.cancelled[idx[amount]] = True
        return
    lo, hi = 0.0, 1.0
    if effect.target in ("position", "ideal"):
        values = (state.position if effect.target == "position" else state.ideal)[a, i]
        lo, hi = model.lower[a, i, 0], model.upper[a, i, 0]
    elif effect.target == "salience":
        values, hi = state.salience[a, i], np.inf
    elif effect.target == "capability":
        values, hi = state.capability[a], np.inf
    elif effect.target == "resolve":
        values = state.resolve[a]
    else:  # trust, in each pair it names: the schema admits no other target
        for p in effect.pairs:
            _shift(state.trust[p], idx, amount, 0.0, 1.0)
        return
    _shift(values, idx, amount, lo, hi)
    if effect.target == "salience":
        sal = state.salience[a][:, idx]
        total = sal.sum(axis=0)
        # A total of 0: the shift took issue i to 0 and every other issue was at 0 already, so
        # the agent cared only about i: it still does (the limit of smaller shifts), rather than
        # spreading its attention evenly over issues it never weighed.
        only_i = np.zeros_like(sal)
        only_i[i] = 1.0
        state.salience[a][:, idx] = np.divide(sal, total, out=only_i, where=total > 0)


def _shift(values: np.ndarray, idx, amount, lo: float, hi: float) -> None:
    """values[idx] += amount, clipped to [lo, hi]; a repeated index adds up."""
    if isinstance(idx, slice):
        values[idx] += amount
    else:
        np.add.at(values, idx, amount)
    values[idx] = np.clip(values[idx], lo, hi)


def _draw_effect(effect: CompiledEffect, rng: np.random.Generator, size):
    """One draw of an effect: the shift (or, for `cancel`, whether it cancels)."""
    if effect.target == "cancel":
        return rng.random(size) < sample(effect.probability, rng, size)
    shift = sample(effect.shift, rng, size)
    if is_random(effect.probability) or effect.probability != 1.0:
        shift = np.where(rng.random(size) < sample(effect.probability, rng, size), shift, 0.0)
    return shift


def _consumes(effect: CompiledEffect) -> bool:
    return effect.target == "cancel" or is_random(effect.shift) or is_random(effect.probability) \
        or effect.probability != 1.0


# --- Processes -------------------------------------------------------------------


def scheduled_events(env, model: Model, state: State, blocks: Blocks):
    """Each event happens in a replicate with its probability; its random shifts
    are drawn once per replicate, from the event's own stream."""
    everyone = slice(None)
    for k, event in enumerate(model.events):
        yield _at(env, event.day, "events")
        rngs = blocks.rngs("events", event.name)
        prob = state.event_probability[k]
        happens = blocks.draw(rngs, lambda rng, size, sl, prob=prob: rng.random(size) < prob[sl], dtype=bool)
        for effect in event.effects:
            if _consumes(effect):
                amount = blocks.draw(rngs, lambda rng, size, sl, e=effect: _draw_effect(e, rng, size),
                                     dtype=bool if effect.target == "cancel" else np.float64)
            else:
                amount = sample(effect.shift, None, ())
            if effect.target == "cancel":
                apply_effect(model, state, effect, everyone, happens & amount)
            else:
                apply_effect(model, state, effect, everyone, np.where(happens, amount, 0.0))


@dataclass(frozen=True)
class Arrivals:
    """One incident stream's arrivals in a chunk, in tick order: those of tick t
    (1-based) are [tick_start[t], tick_start[t + 1]) of `replicate` and of each
    effect's `amounts` (shifts, or for `cancel` booleans)."""

    tick_start: np.ndarray
    replicate: np.ndarray
    amounts: list[np.ndarray]


def draw_arrivals(model: Model, state: State, blocks: Blocks, k: int) -> Arrivals:
    """One incident stream's Poisson arrivals over [start, horizon].

    Drawn per block: the count per replicate, then each arrival's day (whole
    days) and its own effect draws. An arrival takes effect at the first
    incident tick on or after its day.
    """
    incident = model.incidents[k]
    tick_of_day = _tick_of_day(model)
    n_ticks = len(_incident_ticks(model))
    span = model.horizon + 1 - incident.start_day
    reps, ticks, amounts = [], [], [[] for _ in incident.effects]
    for rng, sl in zip(blocks.rngs("incidents", incident.name), blocks.slices()):
        counts = rng.poisson(state.incident_rate[k, sl] * (span / DAYS_PER_MONTH))
        m = int(counts.sum())
        reps.append(np.repeat(np.arange(sl.start, sl.stop), counts))
        days = np.floor(rng.uniform(incident.start_day, model.horizon + 1, m))
        ticks.append(tick_of_day[days.astype(np.intp)])
        for effect, parts in zip(incident.effects, amounts):
            parts.append(_draw_effect(effect, rng, m) if _consumes(effect) else sample(effect.shift, None, m))
    tick = np.concatenate(ticks)
    order = np.argsort(tick, kind="stable")  # a radix sort: the ticks are int16
    tick_start = np.zeros(n_ticks + 2, dtype=np.intp)  # arrivals before each tick, in tick order
    np.cumsum(np.bincount(tick, minlength=n_ticks + 2)[: n_ticks + 1], out=tick_start[1:])
    return Arrivals(tick_start, np.concatenate(reps)[order], [np.concatenate(p)[order] for p in amounts])


def _tick_of_day(model: Model) -> np.ndarray:
    """(horizon + 1,) int16: for each day, 1 + the index of the first incident tick on or
    after it (the tick at which an arrival that day takes effect)."""
    tick_day = np.array(_incident_ticks(model), dtype=float)
    return (np.searchsorted(tick_day, np.arange(model.horizon + 1), side="left") + 1).astype(np.int16)


def incidents(env, model: Model, state: State, blocks: Blocks):
    arrivals = [draw_arrivals(model, state, blocks, k) for k in range(len(model.incidents))]
    for tick, day in enumerate(_incident_ticks(model), start=1):
        yield _at(env, day, "incidents")
        for incident, arr in zip(model.incidents, arrivals):
            lo, hi = arr.tick_start[tick], arr.tick_start[tick + 1]
            if lo == hi:
                continue
            idx = arr.replicate[lo:hi]
            for effect, amount in zip(incident.effects, arr.amounts):
                apply_effect(model, state, effect, idx, amount[lo:hi])


def diplomacy(env, model: Model, state: State, engine):
    """Every tick the engine moves every replicate's positions one week."""
    for day in model.ticks:
        yield _at(env, day, "diplomacy")
        engine.step(state, day, _resolve(model, state, day))


def trust_recovery(env, model: Model, state: State):
    """Trust drifts back toward its initial level, a share a week."""
    if not model.pairs:
        return
    for day in model.ticks:
        yield _at(env, day, "trust")
        state.trust += state.trust_recovery * (state.trust_initial - state.trust)
        np.clip(state.trust, 0.0, 1.0, out=state.trust)


def record_trajectory(env, model: Model, state: State, trajectory: np.ndarray):
    """Keep the first replicates' positions at the start and at the end of every week."""
    k = trajectory.shape[-1]
    trajectory[0] = state.position[..., :k]
    for week, day in enumerate(model.ticks, start=1):
        yield _at(env, day, "record")
        trajectory[week] = state.position[..., :k]


def summit(env, model: Model, state: State, blocks: Blocks):
    """Each replicate meets on its own summit day, unless the visit is called off.

    The state changes only on change days (event days and ticks), so the
    summits of all days from one change day to the next see the same state and
    are recorded together, at the end of the change day.
    """
    rngs = blocks.rngs("summit", "cancel")
    base = blocks.draw(rngs, lambda rng, size, sl: rng.random(size) < state.cancel_base[sl], dtype=bool)
    changes = np.array(sorted({0, *(e.day for e in model.events), *_incident_ticks(model)}))
    epoch = np.searchsorted(changes, state.summit_day, side="right") - 1
    order = np.argsort(epoch, kind="stable")
    epochs, starts = np.unique(epoch[order], return_index=True)
    ends = np.append(starts[1:], len(order))
    for e, lo, hi in zip(epochs, starts, ends):
        yield _at(env, changes[e], "summit")
        idx = order[lo:hi]
        state.cancelled[idx] |= base[idx]
        record_summit(model, state, idx)
