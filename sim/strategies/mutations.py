"""Scenario dicts with one thing broken, for fuzzing the loader: `mutated_scenario_dicts` breaks
drawn scenarios, `mutations_of` a given one (a user's own file, its `extends` base merged in)."""

from __future__ import annotations

import copy
import datetime as dt
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import event
from hypothesis import strategies as st
from pydantic import TypeAdapter

from ..arguments import check_scenario
from ..errors import InputError, Problem
from ..loading import load_scenario
from ..schema import Param, Scenario
from ..schema.params import mean_of
from .references import DEFINITIONS, name_sites, rename_at
from .scenarios import _num, _scenario_dicts, check_options, names

__all__ = ["MUTATIONS", "mutated_scenario_dicts", "mutations_of"]


def _paths(node: Any, prefix: tuple = ()):
    """Every (path, value) below `node`, paths as tuples of keys and indices."""
    if isinstance(node, dict):
        items = node.items()
    elif isinstance(node, list):
        items = enumerate(node)
    else:
        return
    for key, value in items:
        yield prefix + (key,), value
        yield from _paths(value, prefix + (key,))


def _parent(data: dict, path: tuple):
    node = data
    for key in path[:-1]:
        node = node[key]
    return node


_JUNK = st.one_of(
    st.text(max_size=6),
    st.lists(st.integers(-3, 3), max_size=3),
    st.none(),
    st.booleans(),
    st.sampled_from([-1.5, -1e-9, 1.0000001, 2, 1e9, -1e9, 10**30, math.inf, -math.inf, math.nan]),
    st.floats(),
    st.dictionaries(names(), st.integers(), max_size=2),
    st.sampled_from(["2020-13-45", "yesterday", "", "{dist: beta}"]),
)
_BROKEN_DISTRIBUTIONS = [
    {"dist": "beta", "mean": 0.5, "sd": 0.6},
    {"dist": "beta", "mean": 1.0, "sd": 0.1},
    {"dist": "uniform", "low": 0.7, "high": 0.3},
    {"dist": "normal", "mean": 5.0, "sd": 0.1, "low": 0.0, "high": 1.0},
    {"dist": "normal", "mean": 0.5, "sd": 0.0},
    {"dist": "triangular", "low": 0.2, "mode": 0.9, "high": 0.5},
    {"dist": "gamma", "shape": 2.0},
    {"dist": "fixed"},
    {"mean": 0.5, "sd": 0.1},
]


def _delete(draw, data: dict, kind: str) -> None:
    path = draw(st.sampled_from([p for p, _ in _paths(data)]))
    del _parent(data, path)[path[-1]]


def _unknown_key(draw, data: dict, kind: str) -> None:
    node = data
    for key in draw(st.sampled_from(_key_sites(data))):
        node = node[key]
    key = draw(names())
    node[key + "_unknown" if key in node else key] = draw(_JUNK)


def _key_sites(data: dict) -> list[tuple]:
    """The paths of the mappings `_unknown_key` may add a key to: every one but an issue's
    `anchors`, whose keys are the user's own names, so that a new anchor with a number of the
    junk in [0, 1] is a valid file (a bigger menu), not the unknown key its kind says. (Agents,
    issues, stances and weights name their keys too, but a new one refers to nothing, or is
    not a mapping: the schema refuses it whatever the junk.)"""
    return [()] + [p for p, v in _paths(data)
                   if isinstance(v, dict) and not (len(p) == 3 and p[0] == "issues" and p[2] == "anchors")]


def _replace(draw, data: dict, kind: str) -> None:
    path = draw(st.sampled_from([p for p, _ in _paths(data)]))
    _parent(data, path)[path[-1]] = draw(_JUNK)


def _unknown_name(draw, data: dict, kind: str) -> None:
    """One reference to an agent (or issue) renamed to a name that does not exist, or the agent's
    (issue's) own key renamed so that its references break: a dangling reference, which the
    loader must refuse."""
    defined = data[DEFINITIONS[_NAME_KINDS[kind]]]
    path, is_key = draw(st.sampled_from(_dangling_sites(data, kind)))
    new = draw(names()) + "_x"
    while new in defined:
        new += "x"
    rename_at(data, path, is_key, new)


_NAME_KINDS = {"unknown_agent": "agent", "unknown_issue": "issue"}


def _dangling_sites(data: dict, kind: str) -> list[tuple[tuple, bool]]:
    """(path, is_key) of every name `_unknown_name` may rename to leave a reference dangling: each
    place the valid `data` names an agent (issue), in any field of `references.REFERENCES`, and
    the definitions of those named anywhere. A definition named nowhere is left out: renamed, it
    is the same scenario under another name, which loads, not the dangling reference its kind
    (and its hypothesis `event`) says."""
    sites = [s for s in name_sites(Scenario.model_validate(data), data) if s.kind == _NAME_KINDS[kind]]
    referenced = {s.name for s in sites if not s.is_definition}
    return [(s.path, s.is_key) for s in sites if not s.is_definition or s.name in referenced]


def _as_date(value: Any) -> dt.date:
    """A date as `yaml.safe_load` gives it: a date, or text when the YAML quoted it
    (`yaml.safe_load(sim.dump_scenario(s))` gives every date as text)."""
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def _event_after_summit(draw, data: dict, kind: str) -> None:
    date = data["summit"]["date"]
    latest = _as_date(date if isinstance(date, (dt.date, str)) else date["high"])
    later = latest + dt.timedelta(days=draw(st.integers(1, 400)))
    if data.get("events"):
        data["events"][draw(st.integers(0, len(data["events"]) - 1))]["date"] = later
    else:
        data["events"] = [{"name": "late_event", "date": later, "source": "mutation"}]


def _salience_sum(draw, data: dict, kind: str) -> None:
    """One salience set to another number, so that the agent's saliences no longer sum to 1.
    A number in [0, 1] within a hair of the salience written (its mean, where drawn) would
    leave the sum within the schema's 1e-6 of 1, a valid file under this kind's name: hypothesis
    draws 0, 1 and the constants of the source often, so such a number is moved half the scale
    away instead."""
    stances = data["agents"][draw(st.sampled_from(sorted(data["agents"])))]["issues"]
    issue = draw(st.sampled_from(sorted(stances)))
    new = draw(st.one_of(_num(0.0, 1.0), st.sampled_from([-0.1, 1.5])))
    written = mean_of(_PARAM.validate_python(stances[issue]["salience"]))
    if abs(new - written) < _SALIENCE_APART:
        new = written + 0.5 if written <= 0.5 else written - 0.5
    stances[issue]["salience"] = new


_PARAM = TypeAdapter(Param)
_SALIENCE_APART = 1e-3  # far above the schema's 1e-6, and above the rounding of a sum of a few numbers


def _distribution(draw, data: dict, kind: str) -> None:
    dist_paths = [p for p, v in _paths(data) if isinstance(v, dict) and "dist" in v]
    if not dist_paths:
        dist_paths = [p for p, v in _paths(data) if isinstance(v, float)]
    path = draw(st.sampled_from(dist_paths))
    _parent(data, path)[path[-1]] = draw(st.sampled_from(_BROKEN_DISTRIBUTIONS))


_MUTATE: dict[str, Callable[[Any, dict, str], None]] = {
    "delete": _delete, "unknown_key": _unknown_key, "replace": _replace, "unknown_agent": _unknown_name,
    "unknown_issue": _unknown_name, "event_after_summit": _event_after_summit, "salience_sum": _salience_sum,
    "distribution": _distribution,
}
MUTATIONS = tuple(_MUTATE)
"""The kinds of mutation `mutated_scenario_dicts` makes."""


def _check_kinds(func: str, kinds: Any) -> None:
    """`kinds`, an argument of the strategy `func`: a non-empty tuple (or list) of names from `MUTATIONS`."""
    if isinstance(kinds, (str, bytes)) or not isinstance(kinds, (tuple, list)) or not kinds:
        raise InputError(Problem(func, "kinds", "must be a non-empty tuple of mutation kinds, "
                                 f"e.g. ('delete',); kinds: {', '.join(MUTATIONS)}", kinds, True))
    unknown = [k for k in kinds if k not in _MUTATE]
    if unknown:
        raise InputError(Problem(func, "kinds", "unknown mutation kind; kinds: " + ", ".join(MUTATIONS),
                                 unknown[0], True))


def mutated_scenario_dicts(kinds: tuple[str, ...] = MUTATIONS, engines: tuple[str, ...] = ("convergence",),
                           weights: bool = False, observed: bool = False) -> st.SearchStrategy[dict]:
    """A valid scenario dict with one random mutation: a key deleted, an unknown key
    added, a value replaced by junk (string, list, None, out-of-range or non-finite
    number), a reference renamed to an unknown agent or issue, an event moved after
    the summit, saliences that no longer sum to 1, a broken distribution. The result
    may still be valid (deleting an optional key, or junk that is valid where it lands:
    text for an event's `source`, `[]` for its `effects`); the other kinds never are. Loading it
    (`sim.parse_scenario(data)`) must either succeed or raise `InputError`.
    `kinds`: a non-empty tuple of names from `MUTATIONS`; `engines`, `weights`, `observed`:
    what the valid dict may hold, as for `scenario_dicts` (default: a `convergence` scenario
    without `summit.weights` or `observed`)."""
    _check_kinds("mutated_scenario_dicts", kinds)
    check_options("mutated_scenario_dicts", engines=engines, weights=weights, observed=observed)
    return _mutated_scenario_dicts(tuple(kinds), tuple(engines), weights, observed)


@st.composite
def _mutated_scenario_dicts(draw, kinds: tuple[str, ...], engines: tuple[str, ...], weights: bool,
                            observed: bool) -> dict:
    valid = _scenario_dicts(max_agents=3, max_issues=2, max_events=2, max_incidents=1, max_parties=3,
                            engines=engines, weights=weights, observed=observed)
    data = copy.deepcopy(draw(valid))
    kind = draw(st.sampled_from(kinds))
    _MUTATE[kind](draw, data, kind)
    return data


def mutations_of(scenario: Scenario | str | Path, kinds: tuple[str, ...] = MUTATIONS) -> st.SearchStrategy[dict]:
    """Your own scenario with one random mutation, of the kinds `mutated_scenario_dicts` makes:
    for the property "every one-field mutation of MY scenario loads or raises `InputError`".
    `scenario`: a `Scenario` or the path of a scenario file (read when the strategy is made; a
    file that `extends` a base, `include`s files or `set`s fields is mutated as it resolves, the
    base merged in). Each draw is a fresh plain dict, as `yaml.safe_load` gives a file: what the
    scenario sets (not the defaults), dates as dates; load it with
    `sim.parse_scenario(data)`. Each draw records its kind as a hypothesis
    `event` (`pytest --hypothesis-show-statistics` counts them). `kinds`: as for
    `mutated_scenario_dicts`."""
    if isinstance(scenario, (str, Path)):
        scenario = load_scenario(scenario)
    elif isinstance(scenario, Scenario):
        check_scenario(scenario, "mutations_of: scenario")
    else:
        raise InputError(Problem("mutations_of", "scenario", "must be a Scenario or the path of a scenario file "
                                 "(a dict: sim.parse_scenario(data) reads one)", scenario, True))
    _check_kinds("mutations_of", kinds)
    return _mutations_of(_plain_data(scenario), tuple(kinds))


def _plain_data(scenario: Scenario) -> dict:
    """What the scenario sets, as `yaml.safe_load` gives a file: the JSON dump's plain types
    (lists, not tuples), but each date a `datetime.date` (as the Python dump has it), not text."""
    def merge(python: Any, plain: Any) -> Any:
        if isinstance(python, dt.date):
            return python
        if isinstance(plain, dict):
            return {key: merge(p, value) for p, (key, value) in zip(python.values(), plain.items())}
        if isinstance(plain, list):
            return [merge(p, value) for p, value in zip(python, plain)]
        return plain

    return merge(scenario.model_dump(exclude_unset=True), scenario.model_dump(mode="json", exclude_unset=True))


@st.composite
def _mutations_of(draw, valid: dict, kinds: tuple[str, ...]) -> dict:
    data = copy.deepcopy(valid)
    kind = draw(st.sampled_from(kinds))
    event(f"mutation: {kind}")
    _MUTATE[kind](draw, data, kind)
    return data
