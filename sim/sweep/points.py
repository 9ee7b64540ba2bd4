"""The scenario of every point of a sweep, built and checked before anything runs.

`check_factors` tries each factor alone at both ends of its range, so that a
path naming no number, or a range the field does not allow, is reported
against the option that gave it, and refuses factors that cannot move a point
(two paths naming one number, `events.talks.probability` and
`events.0.probability`; the Monte Carlo settings, which the sweep sets itself); `make_point_scenarios` then builds and
validates every point's scenario. A varied salience can renormalise the
agent's other saliences (`point_overrides`).
"""

from __future__ import annotations

import re
import threading
from typing import Any

import numpy as np
from pydantic import ValidationError

from ..errors import InputError, Problem
from ..loading import parse_scenario
from ..paths import child_key, default_mappings, field_keys, known_children, overlap
from ..schema import Scenario
from .design import MORRIS_LEVELS
from .spec import Factor, Sweep

__all__ = ["INERT", "check_factors", "make_point_scenarios", "point_overrides", "point_scenario"]

SHOWN_POINT_PROBLEMS = 5
"""Points whose problems are listed before the rest are summarised in one line."""

_SALIENCE = re.compile(r"^agents\.([^.]+)\.issues\.([^.]+)\.salience$")
INERT = {"monte_carlo": "the sweep sets the runs and the seed of every point itself (--runs, --seed) and "
                        "chunking changes no replicate"}
"""Top-level scenario fields that no point's results depend on, and why."""


def check_factors(sweep: Sweep) -> None:
    """Each factor alone at its LO and HI (the other fields as in the file): a path
    that names no number, or a range the field does not allow, is an `InputError`
    against the option (or spec entry) that gave it; every factor's problems at once."""
    source = str(sweep.scenario_file)
    problems = _alias_problems(sweep)
    for factor, label in zip(sweep.factors, sweep.labels):
        found = _path_problems(sweep, factor, label) or _salience_problems(sweep, factor, label)
        for value in () if found else dict.fromkeys((factor.low, factor.high)):
            try:
                _point_scenario(sweep, {factor.path: value}, source)
            except InputError as exc:
                found += [Problem(label, p.path, p.message, p.value, p.has_value) for p in exc.problems]
        problems += found or _between_problems(sweep, factor, label, source)
    if problems:
        raise InputError(_unique(problems))


def _between_problems(sweep: Sweep, factor: Factor, label: str, source: str) -> list[Problem]:
    """A field that takes LO and HI but not the numbers a design puts between them (a whole
    number, `dynamics.rounds_per_week`, under lhs or sobol, which draw any number, or morris,
    whose levels split the range in thirds): one problem naming the factor, tried at one such
    number, where every point would have been refused on a line of its own, none saying why."""
    if sweep.design == "grid" or not factor.low < factor.high:
        return []  # a grid's levels are the user's, each checked with its point
    span = factor.high - factor.low
    inside = ([factor.low + span * k / (MORRIS_LEVELS - 1) for k in range(1, MORRIS_LEVELS - 1)]
              if sweep.design == "morris" else [factor.low + span * 0.382])  # not a round share of the range
    for value in inside:
        try:
            _point_scenario(sweep, {factor.path: value}, source)
        except InputError as exc:
            p = exc.problems[0]
            return [Problem(label, p.path, f"{p.message}: the {sweep.design} design draws numbers between "
                            f"{factor.low:g} and {factor.high:g} that the field refuses (here {value:.4g}); vary "
                            "it on a grid whose levels it takes (PATH=LO:HI:N)")]
    return []


def make_point_scenarios(sweep: Sweep, values: np.ndarray, stop: threading.Event | None = None) -> list[Scenario]:
    """The validated scenario of every point, `values` (n_points, n_factors): first
    `check_factors`, then every point. Raises `InputError` listing every problem, and
    `KeyboardInterrupt` once `stop` is set (a Ctrl-C: a million points take half an hour
    to validate, and nothing has been written yet)."""
    check_factors(sweep)
    source = str(sweep.scenario_file)
    scenarios, bad, problems = [], [], []
    for i, row in enumerate(values):
        if stop is not None and stop.is_set():
            raise KeyboardInterrupt
        point = dict(zip(sweep.names, map(float, row)))
        try:
            scenarios.append(_point_scenario(sweep, point, source))
        except InputError as exc:
            bad.append((i, point, exc.problems))
    for i, point, found in bad[:SHOWN_POINT_PROBLEMS]:
        where = f"point {i} ({', '.join(f'{p}={v:g}' for p, v in point.items())})"
        problems += [Problem(where, p.path, p.message, p.value, p.has_value) for p in found]
    if len(bad) > SHOWN_POINT_PROBLEMS:
        problems.append(Problem("sweep", "", f"and {len(bad) - SHOWN_POINT_PROBLEMS:,} more invalid points "
                                f"of {len(values):,}"))
    if problems:
        raise InputError(problems)
    return scenarios


def point_scenario(sweep: Sweep, point: dict[str, float]) -> Scenario:
    """The validated scenario of one point {path: value} (an `InputError` if invalid)."""
    return _point_scenario(sweep, point, str(sweep.scenario_file))


def point_overrides(sweep: Sweep, point: dict[str, float]) -> dict[str, Any]:
    """The overrides that make a point's scenario: its values, and with `renormalise`
    the agents' other saliences rescaled so that each agent's still sum to 1."""
    overrides: dict[str, Any] = dict(point)
    if not sweep.renormalise:
        return overrides
    varied: dict[str, dict[str, float]] = {}
    for path, value in point.items():
        m = _SALIENCE.match(path)
        if m:
            varied.setdefault(m.group(1), {})[m.group(2)] = value
    for agent, chosen in varied.items():
        stances = sweep.base["agents"][agent]["issues"]
        others = {i: st.get("salience") for i, st in stances.items() if i not in chosen}
        rest = 1.0 - sum(chosen.values())
        total = sum(others.values())
        if rest < -1e-12:
            raise InputError(Problem("--renormalise", f"agents.{agent}.issues",
                                     "the varied saliences sum to more than 1", round(1 - rest, 6), True))
        if total <= 0:
            if rest > 1e-12:
                raise InputError(Problem("--renormalise", f"agents.{agent}.issues",
                                         "the other saliences are all 0: nothing to rescale", others, True))
            continue
        for issue, s in others.items():
            overrides[f"agents.{agent}.issues.{issue}.salience"] = s * rest / total
    return overrides


def _path_problems(sweep: Sweep, factor: Factor, label: str) -> list[Problem]:
    """A factor's path must name a number, or a distribution (which the sweep's numbers
    replace), in the scenario with its defaults filled in."""
    node: Any = sweep.base
    parts = factor.path.split(".")
    for k, part in enumerate(parts):
        key = child_key(node, part)
        if key is None and _default_entry(parts, k, node):
            return []  # a party's Nash weight left at 1: the sweep's numbers set it
        if key is None:
            known = known_children(node, part)
            where = ".".join(factor.path.split(".")[:k]) or "the scenario"
            return [Problem(label, factor.path, f"no such field in {sweep.scenario_file}; under {where}: {known}")]
        node = node[key]
    if _is_number(node) or (isinstance(node, dict) and "dist" in node
                            and all(_is_number(v) or v is None for k, v in node.items() if k != "dist")):
        return []
    return [Problem(label, factor.path, "must name a number, or a distribution of numbers", node, True)]


def _default_entry(parts: list[str], k: int, node: Any) -> bool:
    """Whether part `k`, the last, of a path names a key a mapping left empty by default
    (`summit.weights.north`) does not write: a value the path may set all the same."""
    return k == len(parts) - 1 and isinstance(node, dict) and ".".join(parts[:k]) in default_mappings()


def _keys_of(base: dict, path: str) -> tuple | None:
    """`field_keys` of a path that exists in `base`, or names a key of a mapping left empty by
    default (as written); None otherwise."""
    keys = field_keys(base, path, strict=True)
    if keys is None and ".".join(path.split(".")[:-1]) in default_mappings():
        keys = field_keys(base, path)
    return keys


def _alias_problems(sweep: Sweep) -> list[Problem]:
    """Factors that cannot move a point: one naming a field another names too (or a part of
    it), or one that `set:` (--set) fixes, by any spelling; and one naming a field no point's
    results depend on (`INERT`)."""
    problems, seen = [], {}
    fixed = {keys: path for path in sweep.fixed if (keys := _keys_of(sweep.base, path)) is not None}
    for factor, label in zip(sweep.factors, sweep.labels):
        keys = _keys_of(sweep.base, factor.path)
        if keys is None:  # no such field: `_path_problems` says so
            continue
        path = ".".join(map(str, keys))
        if keys[0] in INERT:
            problems.append(Problem(label, factor.path, f"varying it changes no result: {INERT[keys[0]]}"))
            continue
        clash = next((written for other, written in fixed.items() if overlap(keys, other)), None)
        if clash is not None:
            problems.append(Problem(label, factor.path, f"is also fixed by --set (or the spec's set:) {clash}: every "
                                    "point would override it; fix it or vary it, not both"))
            continue
        other = next((o for o in seen if overlap(keys, o)), None)
        if other is None:
            seen[keys] = label
        elif overlap(keys, other) == "same":
            problems.append(Problem(label, factor.path, f"names the same number as {seen[other]} (both are {path}): "
                                    "vary each field once"))
        else:
            inner, outer = (other, keys) if len(other) > len(keys) else (keys, other)
            problems.append(Problem(label, factor.path, f"overlaps {seen[other]} ({'.'.join(map(str, inner))} is part "
                                    f"of {'.'.join(map(str, outer))}): vary a field or a part of it, not both"))
    return problems


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _salience_problems(sweep: Sweep, factor: Factor, label: str) -> list[Problem]:
    """A salience varied without renormalising breaks the sum-to-1 rule at almost every
    point; and renormalising needs the other saliences to be numbers."""
    m = _SALIENCE.match(factor.path)
    if not m:
        return []
    agent, issue = m.groups()
    stances = sweep.base["agents"][agent]["issues"]  # the path exists: `_path_problems`
    if not sweep.renormalise:
        return [Problem(label, factor.path, "an agent's saliences must sum to 1; add --renormalise (or "
                        "`renormalise: true` in a spec) to rescale the agent's other saliences in proportion")]
    return [Problem(label, f"agents.{agent}.issues.{other}.salience", "renormalising needs the other "
                    "saliences to be numbers, not distributions", st["salience"], True)
            for other, st in stances.items() if other != issue and not _is_number(st["salience"])]


def _point_scenario(sweep: Sweep, point: dict[str, float], source: str) -> Scenario:
    """One point's scenario: the fast path validates plain data; on failure the data
    goes through `parse_scenario` for its one-line-per-problem report."""
    data = _with_values(sweep.base, point_overrides(sweep, point))
    try:
        return Scenario.model_validate(data)
    except ValidationError:
        pass
    parse_scenario(data, source=source)
    raise AssertionError("a scenario failed validation once and passed it the second time")


def _with_values(base: dict, overrides: dict[str, Any]) -> dict:
    """`base` with each dotted path set, resolved as `paths.apply_overrides` resolves it
    (every path is known to exist: `_path_problems`). Only the containers along the
    paths are copied; the rest is shared with `base`, which nothing mutates."""
    data = dict(base)
    for dotted, value in overrides.items():
        node: Any = data
        parts = dotted.split(".")
        for part in parts[:-1]:
            key = child_key(node, part)
            node[key] = child = dict(node[key]) if isinstance(node[key], dict) else list(node[key])
            node = child
        key = child_key(node, parts[-1])
        node[parts[-1] if key is None else key] = value  # None: a key a default-empty mapping lacks
    return data


def _unique(problems: list[Problem]) -> list[Problem]:
    """The problems in order, each once (a factor's LO and HI can break the same rule)."""
    return list({str(p): p for p in problems}.values())
