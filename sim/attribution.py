"""Attribution: what each scheduled event did to the forecast, and by how much.

`explain` removes each event in turn and pairs the scenario without it against
the scenario on the same replicates (`sim.comparison`); with `shapley=True` it also
shares the events' joint effect among them by their Shapley values (L. S.
Shapley, "A value for n-person games", 1953), exactly over every coalition up
to `EXACT_MAX_EVENTS` events, along sampled orders above. Pure functions.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numba.core.event import install_listener

from .arguments import check_callbacks, check_knobs
from .comparison import GROUPS, Comparison, Difference, paired_difference, paired_tables
from .errors import InputError, Problem
from .estimate import Z95, Estimate, wilson
from .io import utc_now
from .limits import check_memory, estimate_models
from .model import CLASSES, COLLAPSE, SUBSTANTIVE_OR_BETTER, Model, compile_model
from .montecarlo import (
    check_workers,
    compile_seconds_of,
    compile_timer,
    count_chunks,
    resolve_settings,
    simulate_chunks,
    simulate_variants,
)
from .progress import ReplicateProgress
from .randomness import BLOCK_SIZE, Blocks, blocks_for
from .schema import Scenario
from .schema.rules import MAX_RUNS

__all__ = [
    "EXACT_MAX_EVENTS",
    "SHAPLEY_BUDGET",
    "EventEffect",
    "Explanation",
    "Shapley",
    "explain",
    "remove_events",
    "shapley_plan",
    "shapley_values",
    "summarise_explanation",
]

METRICS = {"substantive_or_better": SUBSTANTIVE_OR_BETTER, "collapse": (COLLAPSE,)}
"""The outcomes `explain` attributes to events."""

EXACT_MAX_EVENTS = 12
"""Up to this many events, Shapley values enumerate every coalition (2**k runs a replicate)."""

SHAPLEY_BUDGET = 4_000_000
"""Default replicate-runs for Shapley values: about 40 s of the baseline on one core."""


# --- Explaining a forecast by its events -----------------------------------------------------


def remove_events(scenario: Scenario, names: set[str] | list[str]) -> Scenario:
    """The scenario without the named events, validated again."""
    names = set(names)
    unknown = names - {e.name for e in scenario.events}
    if unknown:
        raise ValueError(f"no such events: {', '.join(sorted(unknown))}")
    data = scenario.model_dump()
    data["events"] = [e for e in data["events"] if e["name"] not in names]
    return Scenario.model_validate(data)


@dataclass(frozen=True)
class EventEffect:
    """What removing one event does: A is the scenario, B the scenario without it."""

    name: str
    date: dt.date
    removed: Comparison

    def change(self, group: str) -> Difference:
        """P(group) without the event minus P(group) with it, paired: the removal's difference
        (A the scenario, B without the event); `effect` is the event's, the opposite sign."""
        return self.removed.difference(group)

    def effect(self, group: str) -> Difference:
        """The event's effect on `group` as the tables print it: P(group) with the event minus
        P(group) without it, paired (A the scenario without the event, B the scenario), which is
        `change` mirrored, bit for bit (`comparison.paired_difference`)."""
        self.removed.difference(group)  # an unknown group: the same InputError as `change`
        return paired_difference(self.removed.joint.T, GROUPS[group])


@dataclass(frozen=True)
class Shapley:
    """Shapley values of the events for P(substantive or better) and P(collapse).

    A replicate is a game: f_i(S) is 1 if replicate i ends in the outcome when only
    the events in S can happen (the others' probability set to 0 in that replicate,
    which leaves every random number of the rest unchanged, hence equals removing
    them). Each replicate's Shapley values are computed, exactly over all 2**k
    coalitions ("exact") or along one random order of the events per replicate
    ("sampled", Castro, Gomez and Tejada 2009, unbiased); the value is their mean
    over `runs` replicates and the interval comes from their spread, so for
    "sampled" it covers the sampling of orders too. Per replicate the values sum
    to f_i(all) - f_i(none), so their means sum to v(all) - v(none): held here in
    integers (`sums`, in units of 1 / (scale * runs)), exactly.
    """

    method: str  # "exact" | "sampled"
    events: tuple[str, ...]  # in date order
    dates: tuple[dt.date, ...]
    runs: int
    passes: int  # runs of the model per replicate: 2**k (exact) or k + 1 (sampled)
    scale: int  # k! (exact), 1 (sampled)
    sums: dict[str, np.ndarray]  # metric -> (k,) int64, sum over replicates of scale * value
    squares: dict[str, np.ndarray]  # metric -> (k,) float64, sum over replicates of value**2
    none_all: dict[str, np.ndarray]  # metric -> (2, 2) int64: replicates by (f(none), f(all))

    def values(self, metric: str) -> np.ndarray:
        """Each event's Shapley value (in `events`' order) for `metric`, "substantive_or_better"
        or "collapse"; they sum to `total(metric).diff`."""
        return self.sums[self._metric(metric)] / (self.scale * self.runs)

    def _metric(self, metric: str) -> str:
        """`metric` if the values were computed for it; else an `InputError` naming those that were
        (it was a KeyError)."""
        if not isinstance(metric, str) or metric not in self.sums:
            raise InputError(Problem("shapley", "metric", f"must be one of {', '.join(self.sums)}", metric, True))
        return metric

    def half_widths(self, metric: str) -> np.ndarray:
        """95 % half-widths of the values, from the per-replicate spread, adjusted as Bonett
        and Price adjust a paired difference (`comparison.Difference`): a +1 and a -1 are
        added to each event's per-replicate values (each in [-1, 1]) before the spread is
        taken over n + 2. Unadjusted, an event that changed the outcome in no replicate had
        the interval [0, 0], and one that changed it in a handful an interval too narrow."""
        n = self.runs
        second = (self.squares[self._metric(metric)] + 2.0) / (n + 2)  # the pseudo-values' squares: 1 + 1
        centre = self._centre(metric)
        return Z95 * np.sqrt(np.maximum(second - centre * centre, 0.0) / (n + 2))

    def intervals(self, metric: str) -> tuple[np.ndarray, np.ndarray]:
        """(low, high), the values' 95 % intervals: centred, as Bonett and Price centre a paired
        difference, on the mean of the values with the +1 and -1 added (`half_widths`), and kept in
        [-1, 1]; so one event's interval is its removal's (`total`), as its value is."""
        centre, half = self._centre(metric), self.half_widths(metric)
        return np.maximum(-1.0, centre - half), np.minimum(1.0, centre + half)

    def _centre(self, metric: str) -> np.ndarray:
        """The mean of each event's per-replicate values and of a +1 and a -1 (their sum is the values')."""
        return self.sums[self._metric(metric)] / (self.scale * (self.runs + 2))

    def total(self, metric: str) -> Difference:
        """v(all) - v(none), paired: what the values share out; 0 exactly without events (all
        and none are then one run of the model)."""
        table = np.zeros((len(CLASSES), len(CLASSES)), dtype=np.int64)
        table[:2, :2] = self.none_all[self._metric(metric)]  # class 0: outside the outcome, 1: inside
        return paired_difference(table, (1,), exact=not self.events)


@dataclass(frozen=True)
class Explanation:
    """What `explain` returns: the scenario's own forecast over `runs` replicates
    (`estimates()`), and per scheduled event what removing it changes (`effects`, each
    an `EventEffect`, whose `change(group)` is a paired difference), largest change in
    P(substantive or better) first; with `shapley`, the events' Shapley values."""

    scenario: str
    runs: int
    entropy: int
    seconds: float
    counts: np.ndarray  # (4,) classes of the scenario itself
    effects: list[EventEffect]  # largest change in P(substantive or better) first
    shapley: Shapley | None
    interrupted: bool = False  # stopped before all its replicates ran
    compile_seconds: float = 0.0  # numba compiling kernels (the first run after installing), left out of `seconds`

    def estimates(self) -> dict[str, Estimate]:
        """Each class of `sim.CLASSES`, then P(substantive or better), with its Wilson 95 % interval."""
        return {name: wilson(int(self.counts[list(cls)].sum()), self.runs) for name, cls in GROUPS.items()}


def explain(
    scenario: Scenario,
    *,
    runs: int | None = None,
    seed: int | None = None,
    chunk_size: int | None = None,
    shapley: bool = False,
    shapley_runs: int | None = None,
    shapley_method: str = "auto",
    progress: ReplicateProgress | None = None,
    knobs=None,
    workers: int | None = 1,
    stop: threading.Event | None = None,
    max_memory: int | None = None,
) -> Explanation:
    """Each scheduled event removed in turn, paired against the full scenario on the
    same `runs` replicates; with `shapley`, the events' Shapley values too
    (`shapley_plan` says how many replicates and which method by default). `knobs`
    (a knob setting, e.g. a posterior's) applies to every run. `workers` as for
    `montecarlo.run`; a `stop` ends the work early, and an explanation cut short is
    marked `interrupted` (its estimates are over the replicates it finished). `max_memory` as
    for `montecarlo.run`: the scenario and every removal hold a chunk at once."""
    runs, entropy, blocks_per_chunk = resolve_settings(scenario, runs, seed, chunk_size)
    check_knobs(knobs)
    check_callbacks(progress=progress, stop=stop)
    if not isinstance(shapley, (bool, np.bool_)):
        raise InputError(Problem("shapley", "", "must be True or False", shapley, True))
    events = sorted(scenario.events, key=lambda e: (e.date, e.name))
    plan = shapley_plan(len(events), runs, shapley_runs, shapley_method) if shapley else None
    chunks = max(count_chunks(runs, blocks_per_chunk), count_chunks(plan[1], blocks_per_chunk) if plan else 0)
    workers = check_workers(workers, (len(events) + 1) * blocks_for(runs), chunks)
    total = runs * (len(events) + 1) + (plan[1] * plan[2] if plan else 0)
    tick = _progress_counter(progress, total)
    started = time.perf_counter()

    full = compile_model(scenario)
    without = [compile_model(remove_events(scenario, {e.name})) for e in events]
    check_memory(estimate_models([full, *without], runs, blocks_per_chunk * BLOCK_SIZE, workers=workers,
                                 trajectories=False), "this explanation", max_memory)
    joints = np.zeros((len(events), len(CLASSES), len(CLASSES)), dtype=np.int64)
    counts = np.zeros(len(CLASSES), dtype=np.int64)
    compiling = compile_timer(full, entropy, knobs, workers)
    with install_listener("numba:compile", compiling):
        if events:
            for tables in paired_tables(full, without, entropy, runs, blocks_per_chunk, knobs, workers, stop):
                joints += tables
                tick(int(tables[0].sum()) * (len(events) + 1))
            counts = joints[0].sum(axis=1)
        else:
            for chunk in simulate_chunks(full, entropy, runs, blocks_per_chunk, knobs=knobs, workers=workers,
                                         stop=stop):
                counts += np.bincount(chunk.outcome, minlength=len(CLASSES))
                tick(len(chunk.outcome))
        done = int(counts.sum())

        seconds = time.perf_counter() - started - compile_seconds_of(compiling)
        effects = [EventEffect(e.name, e.date, Comparison(j, done, entropy, seconds)) for e, j in zip(events, joints)]
        if done:  # stopped before any replicate finished: no effect to rank
            effects.sort(key=lambda ef: (-abs(ef.change("substantive_or_better").diff),
                                         -abs(ef.change("collapse").diff), ef.name))
        values = None
        if plan is not None and done == runs:
            method, n, passes = plan
            values = shapley_values(full, entropy, n, method=method, blocks_per_chunk=blocks_per_chunk, tick=tick,
                                    knobs=knobs, workers=workers, stop=stop)
            if values.runs == 0:  # stopped before the first Shapley chunk finished: no values to show
                values = None
    interrupted = done < runs or (plan is not None and (values is None or values.runs < plan[1]))
    compile_seconds = compile_seconds_of(compiling)
    return Explanation(scenario.name, done, entropy, time.perf_counter() - started - compile_seconds, counts,
                       effects, values, interrupted, compile_seconds)


def shapley_plan(k: int, runs: int, shapley_runs: int | None = None, method: str = "auto") -> tuple[str, int, int]:
    """(method, replicates, runs of the model per replicate) for `k` events.

    "auto" is exact up to `EXACT_MAX_EVENTS` events, sampled above. Without
    `shapley_runs`, the replicates are `runs`, capped so the model runs about
    `SHAPLEY_BUDGET` replicates in all (at least one block).
    """
    if method == "auto":
        method = "exact" if k <= EXACT_MAX_EVENTS else "sampled"
    if method not in ("exact", "sampled"):
        raise InputError(Problem("shapley_method", "", "must be auto, exact or sampled", method, True))
    passes = 2**k if method == "exact" else k + 1
    if shapley_runs is None:
        shapley_runs = min(runs, max(BLOCK_SIZE, SHAPLEY_BUDGET // passes // BLOCK_SIZE * BLOCK_SIZE))
    if (isinstance(shapley_runs, bool) or not isinstance(shapley_runs, (int, np.integer))
            or not 1 <= shapley_runs <= MAX_RUNS):
        raise InputError(Problem("shapley_runs", "", f"must be a whole number from 1 to {MAX_RUNS:,}",
                                 shapley_runs, True))
    return method, shapley_runs, passes


def shapley_values(model: Model, entropy: int, runs: int, *, method: str = "exact",
                   blocks_per_chunk: int = 8, tick: Callable[[int], None] | None = None, knobs=None,
                   workers: int = 1, stop: threading.Event | None = None) -> Shapley:
    """The events' Shapley values on replicates [0, runs) (see `Shapley`); a `stop` ends
    them early, over the replicates finished (`Shapley.runs`)."""
    k = len(model.events)
    metric_classes = {m: np.isin(np.arange(len(CLASSES)), cls) for m, cls in METRICS.items()}
    sums = {m: np.zeros(k, dtype=np.int64) for m in METRICS}
    squares = {m: np.zeros(k) for m in METRICS}
    none_all = {m: np.zeros((2, 2), dtype=np.int64) for m in METRICS}
    if method == "exact":
        scale = math.factorial(k)
        coalitions = np.arange(2**k)
        weights = np.array([math.factorial(s) * math.factorial(k - s - 1) for s in range(k)], dtype=np.float64)
        popcount = np.array([bin(s).count("1") for s in range(2**k)])
    elif method == "sampled":
        scale = 1
    else:
        raise ValueError(f"method must be exact or sampled (got {method!r})")
    passes = 2**k if method == "exact" else k + 1
    if blocks_per_chunk * BLOCK_SIZE * passes > 1 << 26:  # bound the outcome table to 64 MiB
        blocks_per_chunk = max(1, (1 << 26) // (BLOCK_SIZE * passes))

    done = 0
    variants = _Coalitions(method, k)
    for start, outcome in simulate_variants(model, entropy, runs, blocks_per_chunk, variants, tick, knobs,
                                            workers, stop):
        keep = outcome.shape[1]
        done += keep
        if method == "sampled":  # the orders again, here: they depend on the blocks alone
            first = start // BLOCK_SIZE
            rank_kept = _random_ranks(Blocks(entropy, first, -(-keep // BLOCK_SIZE)), k)[:, :keep]
        for metric, inside in metric_classes.items():
            f = inside[outcome].astype(np.int8)  # (passes, keep)
            none_all[metric] += np.bincount(2 * f[0] + f[-1], minlength=4).reshape(2, 2)
            if k == 0:
                continue
            if method == "exact":
                phi = np.empty((k, keep), dtype=np.int64)
                for j in range(k):
                    without = coalitions[(coalitions >> j) & 1 == 0]
                    gain = (f[without | (1 << j)] - f[without]).astype(np.float64)
                    # Exact in float64: |integer sums| <= k! < 2**53 for k <= 18.
                    phi[j] = np.rint(weights[popcount[without]] @ gain).astype(np.int64)
            else:
                phi = (np.take_along_axis(f, rank_kept + 1, axis=0)
                       - np.take_along_axis(f, rank_kept, axis=0)).astype(np.int64)
            sums[metric] += phi.sum(axis=1)
            squares[metric] += ((phi / scale) ** 2).sum(axis=1)
    runs = done

    names = tuple(e.name for e in model.events)
    start = model.start_date
    dates = tuple(start + dt.timedelta(days=e.day) if start is not None else None for e in model.events)
    return Shapley(method, names, dates, runs, passes, scale, sums, squares, none_all)


@dataclass(frozen=True)
class _Coalitions:
    """A chunk's event masks for Shapley values: every coalition of the k events (exact),
    or each replicate's random order of them cut after 0 .. k events (sampled)."""

    method: str
    k: int

    def __call__(self, blocks: Blocks) -> list[np.ndarray]:
        if self.method == "exact":
            members = ((np.arange(2**self.k)[:, None] >> np.arange(self.k)) & 1).astype(bool)  # (2**k, k)
            return [row[:, None] for row in members]
        ranks = _random_ranks(blocks, self.k)  # (k, size): each replicate's order of the events
        return [ranks < m for m in range(self.k + 1)]


def _random_ranks(blocks: Blocks, k: int) -> np.ndarray:
    """(k, size) int: rank[e, i] is event e's place in replicate i's random order,
    drawn per block of replicates so the orders do not depend on chunking."""
    out = np.empty((k, blocks.size), dtype=np.int64)
    for rng, sl in zip(blocks.rngs("attribution", "orders"), blocks.slices()):
        out[:, sl] = rng.random((k, BLOCK_SIZE)).argsort(axis=0).argsort(axis=0)
    return out




def _progress_counter(progress: ReplicateProgress | None, total: int) -> Callable[[int], None]:
    done = 0

    def tick(n: int) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress(min(done, total), total)

    return tick


def _effect_of(effect: Difference) -> dict:
    """An event's effect (`EventEffect.effect`: A without the event, B with it) as JSON-ready data."""
    return {"p_with": effect.p_b, "p_without": effect.p_a, "diff": effect.diff, "low": effect.low,
            "high": effect.high, "exact": effect.exact}


def summarise_explanation(e: Explanation, scenario: Scenario, scenario_file: str | None = None) -> dict:
    """An explanation as JSON-ready data. Each event's `effect` holds, per outcome, what the
    tables print: P with the event (`p_with`) minus P without it (`p_without`), `diff`, with its
    paired interval; its `removed` entry the removal's comparison (A the scenario, B without the
    event: `diff` is P without minus P with, the opposite sign)."""
    from . import __version__
    from .schema import scenario_hash

    out = {
        "sim_version": __version__,
        "command": "explain",
        "scenario": e.scenario,
        "scenario_file": scenario_file,
        "scenario_hash": scenario_hash(scenario),
        "runs": e.runs,
        "seed_entropy": e.entropy,
        "seconds": round(e.seconds, 6),
        "compile_seconds": round(e.compile_seconds, 6),
        "classes": {name: est.as_dict() for name, est in e.estimates().items()},
        "events": [{"name": ef.name, "date": ef.date.isoformat(),
                    "effect": {g: _effect_of(ef.effect(g)) for g in GROUPS},
                    "removed": {g: ef.change(g).as_dict() for g in GROUPS}} for ef in e.effects],
        "shapley": None,
        "created": utc_now(),
    }
    s = e.shapley
    if s is not None:
        metrics = {}
        for metric in METRICS:
            values, (low, high) = s.values(metric), s.intervals(metric)
            counts = s.none_all[metric]
            metrics[metric] = {
                "no_events": wilson(int(counts[1].sum()), s.runs).as_dict(),
                "all_events": wilson(int(counts[:, 1].sum()), s.runs).as_dict(),
                "total": s.total(metric).as_dict(),
                "sum_of_values": float(s.sums[metric].sum() / (s.scale * s.runs)),
                "values": [{"name": name, "date": None if d is None else d.isoformat(), "value": float(v),
                            "low": float(lo), "high": float(hi)}
                           for name, d, v, lo, hi in zip(s.events, s.dates, values, low, high)],
            }
        out["shapley"] = {"method": s.method, "runs": s.runs, "runs_per_replicate": s.passes,
                          "events": len(s.events), "metrics": metrics}
    return out
