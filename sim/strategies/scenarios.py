"""Strategies that draw valid scenarios: plain data (`scenario_dicts`) and `Scenario`
objects (`scenarios`), with their parts (`names`, `params`, `effects`)."""

from __future__ import annotations

import datetime as dt
import functools
import math
import string
import sys
from typing import Any

from hypothesis import strategies as st

from ..arguments import is_number
from ..errors import InputError, Problem
from ..schema import Scenario
from ..schema.params import MAX_MAGNITUDE

__all__ = ["effects", "names", "params", "scenario_dicts", "scenarios"]

_FIRST = string.ascii_lowercase
_REST = string.ascii_lowercase + string.digits + "_"


MAX_NAME = 64
"""The schema's longest name."""


def check_count(func: str, name: str, value: Any, low: int, high: int | None = None, why: str = "") -> None:
    """`value`, the argument `name` of the strategy `func`, must be a whole number in [low, high]: else an
    `InputError` saying so when the strategy is made, not an error from inside hypothesis when it draws."""
    if not (isinstance(value, int) and not isinstance(value, bool) and value >= low
            and (high is None or value <= high)):
        rule = f"must be a whole number >= {low}" if high is None else f"must be a whole number from {low} to {high}"
        raise InputError(Problem(func, name, rule + why, value, True))


def names(max_size: int = 8) -> st.SearchStrategy[str]:
    """Names the schema accepts: ^[a-z][a-z0-9_]*$, 1 to `max_size` (at most 64) characters."""
    check_count("names", "max_size", max_size, 1, MAX_NAME, " (the schema's longest name)")
    return _names(max_size)


@functools.cache
def _names(max_size: int) -> st.SearchStrategy[str]:
    return st.builds(
        lambda head, tail: head + tail,
        st.sampled_from(_FIRST),
        st.text(alphabet=_REST, max_size=max(0, max_size - 1)),
    )


def _distinct_names(draw, n: int, max_size: int = 8) -> list[str]:
    """n distinct names (repeats get a numeric suffix, so nothing is rejected)."""
    out: list[str] = []
    for name in draw(st.lists(names(max_size), min_size=n, max_size=n)):
        base, k = name, 1
        while name in out:
            name, k = f"{base}_{k}", k + 1
        out.append(name)
    return out


@functools.lru_cache(maxsize=1024)
def _num(lo: float, hi: float) -> st.SearchStrategy[float]:
    # Subnormals are left out unless the window holds nothing else (params(1e-310, 1e-310)):
    # hypothesis would then have no number to draw, and failed inside its first draw.
    only_subnormal = not (lo <= 0.0 <= hi or max(abs(lo), abs(hi)) >= sys.float_info.min)
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False, allow_subnormal=only_subnormal)


def _ordered_pair(draw, lo: float, hi: float) -> tuple[float, float]:
    """low < high inside [lo, hi], not absurdly close (falls back to the whole window)."""
    a, b = sorted((draw(_num(lo, hi)), draw(_num(lo, hi))))
    if b - a < 1e-3 * (hi - lo):
        a, b = lo, hi
    return a, b


_FRACTION = st.floats(0.01, 1.0)
_BETA_MEAN = st.floats(0.05, 0.95)
_BETA_SD_SHARE = st.floats(0.05, 0.9)


@st.composite
def _uniform(draw, lo: float, hi: float) -> dict:
    a, b = _ordered_pair(draw, lo, hi)
    return {"dist": "uniform", "low": a, "high": b}


@st.composite
def _normal(draw, lo: float, hi: float) -> dict:
    a, b = _ordered_pair(draw, lo, hi)
    mean = draw(_num(a, b))
    # mean inside the window and sd <= its width: at least ~19 % of the mass inside. The sd is
    # a number of the scenario too, so no more than the schema's 1e100 (a window of
    # params(-1e100, 1e100) is twice that; half its width keeps ~48 % of the mass inside).
    sd = min((b - a) * draw(_FRACTION), MAX_MAGNITUDE)
    return {"dist": "normal", "mean": mean, "sd": sd, "low": a, "high": b}


@st.composite
def _triangular(draw, lo: float, hi: float) -> dict:
    a, b = _ordered_pair(draw, lo, hi)
    return {"dist": "triangular", "low": a, "mode": draw(_num(a, b)), "high": b}


@st.composite
def _beta(draw) -> dict:
    mean = draw(_BETA_MEAN)
    sd = draw(_BETA_SD_SHARE) * math.sqrt(mean * (1 - mean))
    return {"dist": "beta", "mean": mean, "sd": sd}


def params(lo: float = 0.0, hi: float = 1.0) -> st.SearchStrategy[Any]:
    """A scenario parameter whose every possible value lies in [lo, hi]: a number, or a
    `fixed`, `uniform`, truncated `normal` (with a fair share of its mass inside its
    window), `beta` (when [0, 1] fits in the window; mean/sd feasible) or `triangular`.
    `lo` and `hi` are numbers within the schema's +-1e100, lo <= hi."""
    for name, value in (("lo", lo), ("hi", hi)):
        if not (is_number(value) and math.isfinite(value) and abs(value) <= MAX_MAGNITUDE):
            raise InputError(Problem("params", name, "must be a finite number within +-1e100 (the schema's "
                                     "bound)", value, True))
    if lo > hi:
        raise InputError(Problem("params", "hi", f"must be >= lo ({lo}): params(lo, hi) draws values in "
                                 "[lo, hi]", hi, True))
    return _params(float(lo), float(hi))


@functools.lru_cache(maxsize=256)
def _params(lo: float, hi: float) -> st.SearchStrategy[Any]:
    number = _num(lo, hi)
    fixed = number.map(lambda v: {"dist": "fixed", "value": v})
    if lo == hi:
        return st.one_of(number, fixed)
    options = [number, fixed, _uniform(lo, hi), _normal(lo, hi), _triangular(lo, hi)]
    if lo <= 0.0 and hi >= 1.0:
        options.append(_beta())
    return st.one_of(*options)


_AGENT_TARGETS = ("position", "ideal", "salience", "capability", "resolve")
_ISSUE_TARGETS = ("position", "ideal", "salience")


def _effect(draw, agent_names, issue_names) -> dict:
    target = draw(_TARGETS)
    out: dict[str, Any] = {"target": target}
    if target in _AGENT_TARGETS:
        out["agent"] = draw(st.sampled_from(agent_names))
    if target in _ISSUE_TARGETS:
        out["issue"] = draw(st.sampled_from(issue_names))
    if target != "cancel":
        out["shift"] = draw(params(-1.0, 1.0))
    if target == "cancel" or draw(st.booleans()):
        out["probability"] = draw(params(0.0, 1.0))
    return out


_TARGETS = st.sampled_from(("position", "ideal", "salience", "capability", "resolve", "trust", "cancel"))


def effects(agent_names: list[str], issue_names: list[str]) -> st.SearchStrategy[dict]:
    """One effect of an event or incident, on existing agents and issues (non-empty lists of names)."""
    for name, value in (("agent_names", agent_names), ("issue_names", issue_names)):
        if (isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)) or not value
                or not all(isinstance(v, str) for v in value)):
            raise InputError(Problem("effects", name, "must be a non-empty list of names, e.g. ['north', 'south']",
                                     value, True))
    return _effects(list(agent_names), list(issue_names))


@st.composite
def _effects(draw, agent_names: list[str], issue_names: list[str]) -> dict:
    return _effect(draw, agent_names, issue_names)


def _date_between(lo: dt.date, hi: dt.date) -> st.SearchStrategy[dt.date]:
    return st.integers(0, (hi - lo).days).map(lambda d: lo + dt.timedelta(days=d))


def _saliences(draw, n: int) -> list[float]:
    """n numbers in [0, 1] summing to 1 (to rounding, well inside the schema's 1e-6)."""
    weights = draw(st.lists(st.integers(0, 10), min_size=n, max_size=n))
    if sum(weights) == 0:
        weights[draw(st.integers(0, n - 1))] = 1
    total = sum(weights)
    out = [w / total for w in weights[:-1]]
    out.append(min(1.0, max(0.0, 1.0 - sum(out))))
    return out


def _summit_date(draw, start: dt.date):
    """(date param, earliest, latest): a date 1-120 days after `start`, fixed or drawn."""
    earliest = start + dt.timedelta(days=draw(st.integers(1, 120)))
    kind = draw(st.sampled_from(("fixed", "uniform", "triangular")))
    if kind == "fixed":
        return earliest, earliest, earliest
    latest = earliest + dt.timedelta(days=draw(st.integers(1, 30)))
    date: dict[str, Any] = {"dist": kind, "low": earliest, "high": latest}
    if kind == "triangular":
        date = {"dist": kind, "low": earliest, "mode": draw(_date_between(earliest, latest)), "high": latest}
    return date, earliest, latest


def _issues(draw, issue_names: list[str]) -> dict:
    issues = {}
    for name in issue_names:
        k = draw(st.integers(2, 3))
        values = list(dict.fromkeys(draw(st.lists(_num(0.0, 1.0), min_size=k, max_size=k))))
        for spare in (0.0, 1.0):
            if len(values) < 2 and spare not in values:
                values.append(spare)
        labels = _distinct_names(draw, len(values), 6)
        issues[name] = {"anchors": dict(zip(labels, values)), "status_quo": draw(st.sampled_from(values))}
    return issues


def _agent(draw, issue_names: list[str], start: dt.date, earliest: dt.date) -> dict:
    stances = {}
    for i, sal in zip(issue_names, _saliences(draw, len(issue_names))):
        stance: dict[str, Any] = {}
        lo, hi = 0.0, 1.0
        if draw(st.booleans()):
            lo, hi = sorted((draw(_num(0.0, 1.0)), draw(_num(0.0, 1.0))))
            stance["bounds"] = [lo, hi]
        stance["position"] = draw(params(lo, hi))
        stance["salience"] = sal
        stances[i] = stance
    agent: dict[str, Any] = {"capability": draw(params(0.0, 5.0)), "resolve": draw(params(0.0, 1.0)),
                             "issues": stances}
    if draw(st.booleans()):
        agent["walk_away"] = draw(params(-0.3, 0.3))
    if draw(st.booleans()):
        agent["elections"] = [{"name": draw(names()),
                               "date": draw(_date_between(start, earliest + dt.timedelta(days=60))),
                               "audience_cost": draw(params(0.0, 1.0)), "window_days": draw(st.integers(1, 365))}]
    return agent


def _relations(draw, agent_names: list[str], parties: list[str], issue_names: list[str]) -> dict:
    """Trust between the parties (one group entry, or a pair a list item) and maybe an alliance."""
    if len(parties) == 2 or draw(st.booleans()):
        between = list(parties) if draw(st.booleans()) else list(reversed(parties))
        trust: Any = {"between": between, "initial": draw(params(0.0, 1.0))}
        if draw(st.booleans()):
            trust["weekly_recovery"] = draw(params(0.0, 1.0))
    else:
        trust = [{"between": [a, b], "initial": draw(params(0.0, 1.0))}
                 for k, a in enumerate(parties) for b in parties[k + 1:]]
    relations: dict[str, Any] = {"trust": trust}
    if draw(st.booleans()):
        ally, patron = draw(st.permutations(agent_names))[:2]
        relations["alliances"] = [{
            "agent": ally, "patron": patron,
            "issues": draw(st.lists(st.sampled_from(issue_names), min_size=1, max_size=len(issue_names), unique=True)),
            "pull": draw(params(0.0, 1.0)), "cost": draw(params(0.0, 2.0))}]
    return relations


def _streams(draw, agent_names, issue_names, in_window, max_events: int, max_incidents: int):
    n_events = draw(st.integers(0, max_events))
    n_incidents = draw(st.integers(0, max_incidents))
    stream_names = _distinct_names(draw, n_events + n_incidents)
    events = [{"name": stream_names[k], "date": draw(in_window), "probability": draw(params(0.0, 1.0)),
               "effects": [_effect(draw, agent_names, issue_names) for _ in range(draw(st.integers(0, 2)))],
               "source": "drawn by sim.strategies"} for k in range(n_events)]
    incidents = []
    for k in range(n_incidents):
        incident: dict[str, Any] = {"name": stream_names[n_events + k], "rate_per_month": draw(params(0.0, 3.0)),
                                    "effects": [_effect(draw, agent_names, issue_names)
                                                for _ in range(draw(st.integers(1, 2)))]}
        if draw(st.booleans()):
            incident["start"] = draw(in_window)
        incidents.append(incident)
    return events, incidents


def _conditions(draw, issue_names: list[str], parties: list[str], depth: int = 0) -> list:
    """One to two rubric conditions: levels and bands, sometimes `signed`, nested all/any."""
    out = []
    for _ in range(draw(st.integers(1, 2))):
        kind = draw(st.sampled_from(("at_least", "at_most", "between", "signed", "all", "any")
                                    if depth < 2 else ("at_least", "at_most", "between")))
        if kind in ("all", "any"):
            out.append({kind: _conditions(draw, issue_names, parties, depth + 1)})
        elif kind == "signed":
            out.append({"signed": draw(st.lists(st.sampled_from(parties), min_size=1, max_size=2, unique=True))})
        elif kind == "between":
            out.append({"issue": draw(st.sampled_from(issue_names)), "between": list(_ordered_pair(draw, 0.0, 1.0))})
        else:
            out.append({"issue": draw(st.sampled_from(issue_names)), kind: draw(_num(0.0, 1.0))})
    return out


MAX_ISSUES = 12
"""3 anchors an issue: 3**12 packages fit the schema's menu of at most 1,048,576, 3**13 do not."""


_ENGINES = ("convergence", "eum")  # what `scenario_dicts(engines=...)` can draw (`dynamics.engine`)


def _engines_rule(value: Any) -> str | None:
    if (isinstance(value, (str, bytes)) or not isinstance(value, (tuple, list)) or not value
            or not all(isinstance(e, str) for e in value)):
        return f"must be a non-empty tuple of engine names, e.g. ('convergence', 'eum'); engines: {', '.join(_ENGINES)}"
    unknown = [e for e in value if e not in _ENGINES]
    if unknown:
        return f"unknown engine {unknown[0]!r}; engines: {', '.join(_ENGINES)}"
    if len(set(value)) != len(value):
        return "must name each engine once"
    return None


def _flag_rule(value: Any) -> str | None:
    return None if isinstance(value, bool) else "must be True or False"


# Keyed by keywords, not string literals, as are the opt-in keys drawn below: hypothesis also draws
# the short string literals of the local modules loaded, so a new one in sim.strategies would
# change what a seeded test of the default strategies draws.
_OPTION_RULES = dict(engines=_engines_rule, weights=_flag_rule, observed=_flag_rule)


def check_options(func: str, **options: Any) -> None:
    """The opt-in arguments of `scenario_dicts` (and of the strategies built on it: `engines`,
    `weights`, `observed`), checked when the strategy is made."""
    for name, value in options.items():
        rule = _OPTION_RULES[name](value)
        if rule is not None:
            raise InputError(Problem(func, name, rule, value, True))


def check_sizes(func: str, max_agents: Any, max_issues: Any, max_events: Any, max_incidents: Any,
                max_parties: Any) -> None:
    """The size arguments of `scenario_dicts` (and of the strategies built on it), checked when the
    strategy is made."""
    check_count(func, "max_agents", max_agents, 2)
    check_count(func, "max_issues", max_issues, 1, MAX_ISSUES,
                " (issues of 3 anchors: a larger menu is over the schema's 1,048,576 packages)")
    check_count(func, "max_events", max_events, 0)
    check_count(func, "max_incidents", max_incidents, 0)
    check_count(func, "max_parties", max_parties, 2)


def scenario_dicts(max_agents: int = 4, max_issues: int = 3, max_events: int = 4,
                   max_incidents: int = 2, max_parties: int = 3, engines: tuple[str, ...] = ("convergence",),
                   weights: bool = False, observed: bool = False) -> st.SearchStrategy[dict]:
    """A scenario as plain data (as `yaml.safe_load` gives it) that the schema accepts.

    Small: 2..max_agents agents, 2..max_parties of them summit parties (some
    optional), maybe a veto player and a mediator among the others, 1..max_issues
    issues of 2-3 anchors, a summit 1-120 days after the start (a drawn date's window
    ends up to 30 days later), elections, alliances, up to max_events events (every
    effect target) and max_incidents incident streams, rubrics with bands, `signed`
    and nested `all`/`any`, and `monte_carlo` defaults of 1 to 2,048 runs.

    `engines`: the `dynamics.engine`s to draw from, a non-empty tuple of "convergence"
    and "eum". The default, `("convergence",)`, draws every scenario under the
    `convergence` engine (whose invariances the README states), exactly as before the
    argument existed: a seeded test draws what it drew. With `"eum"` among them, each
    scenario picks one; an `eum` scenario always has a `dynamics` block naming it, with
    (each maybe left to its default) `variant` scholz or paper, `rounds_per_week` 1 to
    20, `q` in [0, 1] and `noise`, and no `rate` (which `eum` does not read).
    `weights=True`: maybe `summit.weights`, Nash bargaining weights in (0, 1e6] for
    some parties (numbers, or distributions within [0.05, 20]). `observed=True`: maybe
    an `observed` block (a coded outcome, a date or a window of dates after the
    vantage, a source), which `run` ignores. Never drawn:
    the `eum` engine, `summit.weights` or `observed` unless asked for, and the
    file-level keys (`extends`, `include`, `set`).
    """
    check_sizes("scenario_dicts", max_agents, max_issues, max_events, max_incidents, max_parties)
    check_options("scenario_dicts", engines=engines, weights=weights, observed=observed)
    engines = tuple(engines)
    return _scenario_dicts(max_agents, max_issues, max_events, max_incidents, max_parties, engines, weights, observed)


_WEIGHT = st.one_of(st.just(1.0), st.floats(0.0, 1e6, exclude_min=True, allow_subnormal=False),
                    params(0.05, 20.0))  # a distribution: drawn once a replicate


def _dynamics(draw, engines: tuple[str, ...]) -> dict | None:
    """The `dynamics` block (None: left out). Under `("convergence",)` the draws of old, exactly."""
    engine = "convergence" if engines == ("convergence",) else draw(st.sampled_from(engines))
    if engine == "convergence":
        if draw(st.booleans()):
            return {"engine": "convergence", "rate": draw(params(0.0, 1.0)), "noise": draw(params(0.0, 0.1))}
        return None
    out: dict[str, Any] = {"engine": "eum"}
    if draw(st.booleans()):
        out.update(variant=draw(st.sampled_from(("scholz", "paper"))))
    if draw(st.booleans()):
        out.update(rounds_per_week=draw(st.integers(1, 20)))
    if draw(st.booleans()):
        out.update(q=draw(_num(0.0, 1.0)))
    if draw(st.booleans()):
        out["noise"] = draw(params(0.0, 0.1))
    return out


def _observed(draw, vantage: dt.date, latest: dt.date) -> dict:
    """An `observed` block: a class, and a date or a window after the vantage (up to 60 days after
    the latest summit date)."""
    after = _date_between(vantage + dt.timedelta(days=1), latest + dt.timedelta(days=60))
    date: Any = draw(after)
    if draw(st.booleans()):
        date = sorted((date, draw(after)))
    out = {"outcome": draw(st.sampled_from(("breakthrough", "substantive", "talk_fest", "collapse"))),
           "date": date, "source": "drawn by sim.strategies"}
    if draw(st.booleans()):
        out.update(note="drawn by sim.strategies")
    return out


@st.composite
def _scenario_dicts(draw, max_agents: int, max_issues: int, max_events: int, max_incidents: int,
                    max_parties: int, engines: tuple[str, ...] = ("convergence",), weights: bool = False,
                    observed: bool = False) -> dict:
    issue_names = _distinct_names(draw, draw(st.integers(1, max_issues)))
    agent_names = _distinct_names(draw, draw(st.integers(2, max_agents)))
    start = draw(_date_between(dt.date(1950, 1, 1), dt.date(2040, 1, 1)))
    summit_date, earliest, latest = _summit_date(draw, start)
    in_window = _date_between(start, earliest)

    order = draw(st.permutations(agent_names))
    parties = list(order[: draw(st.integers(2, min(max_parties, len(agent_names))))])
    others = [a for a in order if a not in parties]
    summit: dict[str, Any] = {
        "parties": parties, "date": summit_date,
        "cancellation": {"base_probability": draw(params(0.0, 1.0)), "trust_below": draw(_num(0.0, 1.0))}}
    if len(parties) > 2 and draw(st.booleans()):
        summit["required"] = parties[:2]
    if draw(st.booleans()):
        summit["bargaining"] = {"margin": draw(params(0.0, 0.3)), "loss_aversion": draw(params(1.0, 4.0)),
                                "credibility": draw(params(0.0, 1.0))}
    if weights and draw(st.booleans()):  # opt-in: no draw at all by default, so old draws stay the same
        weighted = draw(st.lists(st.sampled_from(parties), min_size=1, max_size=len(parties), unique=True))
        summit.update(weights={p: draw(_WEIGHT) for p in weighted})
    roles: dict[str, Any] = {}
    if others and draw(st.booleans()):
        roles["veto"] = [others[0]]
    if len(others) > 1 and draw(st.booleans()):
        roles["mediators"] = [{"agent": others[1], "trust": draw(params(0.0, 1.0)), "margin": draw(params(0.0, 1.0))}]
    events, incidents = _streams(draw, agent_names, issue_names, in_window, max_events, max_incidents)
    out: dict[str, Any] = {
        "name": draw(names()),
        "calendar": {"start": start, "vantage": draw(in_window)},
        "issues": _issues(draw, issue_names),
        "agents": {a: _agent(draw, issue_names, start, earliest) for a in agent_names},
        "relations": _relations(draw, agent_names, parties, issue_names),
        "summit": summit,
        "outcome": {"breakthrough": _conditions(draw, issue_names, parties),
                    "substantive": _conditions(draw, issue_names, parties)},
        "monte_carlo": {"runs": draw(st.integers(1, 2048)), "seed": draw(st.integers(0, 2**32)),
                        "chunk_size": draw(st.integers(1, 4096))},
    }
    if roles:
        out["roles"] = roles
    dynamics = _dynamics(draw, engines)
    if dynamics is not None:
        out["dynamics"] = dynamics
    if events:
        out["events"] = events
    if incidents:
        out["incidents"] = incidents
    if observed and draw(st.booleans()):
        out["observed"] = _observed(draw, out["calendar"]["vantage"], latest)
    return out


def scenarios(max_agents: int = 4, max_issues: int = 3, max_events: int = 4,
              max_incidents: int = 2, max_parties: int = 3, engines: tuple[str, ...] = ("convergence",),
              weights: bool = False, observed: bool = False) -> st.SearchStrategy[Scenario]:
    """Validated `Scenario` objects drawn by `scenario_dicts` (the same arguments)."""
    check_sizes("scenarios", max_agents, max_issues, max_events, max_incidents, max_parties)
    check_options("scenarios", engines=engines, weights=weights, observed=observed)
    engines = tuple(engines)
    return _scenario_dicts(max_agents, max_issues, max_events, max_incidents, max_parties, engines, weights,
                           observed).map(Scenario.model_validate)
