"""What a sweep varies: the sweep spec, from `--vary` options or a YAML file.

A sweep is read from `--vary PATH=LO:HI[:N]` options or from a YAML file
(`scenarios/sweeps/`), validated strictly like a scenario, and resolved into a
`Sweep`: the base scenario's data, the factors, the design and the Monte Carlo
settings. Problems name the option, or the file entry, that gave the value.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, ValidationError

from ..errors import InputError, Problem, map_all
from ..loading import load_scenario, not_this_kind, unread_in_scenario
from ..schema import Scenario, scenario_hash
from ..schema.rules import MAX_RUNS
from ..validation import Strict, problems_from
from ..yamlfile import not_a_mapping, read_yaml_file

__all__ = ["DESIGNS", "Factor", "Sweep", "SweepSpec", "load_sweep_spec", "make_sweep", "parse_vary",
           "resolve_sweep", "sweep_notes", "validate_spec"]

DESIGNS = ("grid", "lhs", "sobol", "morris")
MAX_POINTS = 1_000_000


class Factor(Strict):
    """One varied field: a dotted path into the scenario and its range."""

    path: str = Field(min_length=1)
    low: float
    high: float
    levels: int | None = Field(default=None, ge=1, le=10_000)  # grid only


class SweepSpec(Strict):
    """A sweep as written in a spec file (or assembled from the command line)."""

    scenario: str | None = None  # relative to the spec file
    design: Literal["grid", "lhs", "sobol", "morris"] = "grid"
    points: int | None = Field(default=None, ge=1, le=MAX_POINTS)  # lhs points; sobol N; morris trajectories
    runs: int | None = Field(default=None, ge=1, le=MAX_RUNS)  # replicates per point
    seed: int | None = Field(default=None, ge=0)
    renormalise: bool = False  # rescale an agent's other saliences when one of them is varied
    set: dict[str, Any] = {}  # fixed overrides of the base scenario, as --set
    vary: list[Factor] = Field(min_length=1)


@dataclass(frozen=True)
class _Words:
    """How a factor's parts are written where it came from: `--vary PATH=LO:HI[:N]` on the command
    line, or a spec file's `path`, `low`, `high` and `levels` keys (a message tells the user what
    to write where they wrote it)."""

    low: str
    high: str
    fix: str  # where a field is fixed instead of varied
    options: bool  # the factors came from --vary options

    def given(self, f: Factor) -> str | dict:
        """A factor's range as the user gave it: '0:0.2:3' after --vary PATH=, or the file's
        {low: 0, high: 0.2, levels: 3}."""
        if self.options:
            return ":".join(f"{x:g}" for x in (f.low, f.high, *(() if f.levels is None else (f.levels,))))
        return {"low": f.low, "high": f.high, **({} if f.levels is None else {"levels": f.levels})}


_OPTION_WORDS = _Words("LO", "HI", "--set", True)
_FILE_WORDS = _Words("low", "high", "set:", False)


def _spec_rules(spec: SweepSpec, options: bool = False):
    """Yield (path, message, value) for every rule that spans fields of a spec; `options`: the
    factors came from --vary options (else from a spec file), which the messages' words follow."""
    w = _OPTION_WORDS if options else _FILE_WORDS
    seen: dict[str, int] = {}
    for k, f in enumerate(spec.vary):
        if f.path in seen:
            yield f"vary.{k}.path", f"duplicates vary.{seen[f.path]}", f.path
        else:
            for other, j in seen.items():  # one field inside the other: a point could set only one of them
                if f.path.startswith(other + ".") or other.startswith(f.path + "."):
                    yield f"vary.{k}.path", f"overlaps vary.{j} ({other}): vary a field or a part of it, not both", \
                        f.path
        seen.setdefault(f.path, k)
        if f.low > f.high:
            yield f"vary.{k}", f"{w.low} must not be above {w.high}", f"{f.low:g} > {f.high:g}"
        elif spec.design == "grid" and f.levels is not None and f.levels > 1 and f.low == f.high:
            yield f"vary.{k}", f"{w.low} == {w.high} allows one level only", f.levels
        elif spec.design == "grid" and f.levels == 1 and f.low < f.high:
            yield (f"vary.{k}", f"one level runs {w.low} ({f.low:g}) only, never {w.high}: give 2 or more levels, "
                   f"or fix the field {'with' if options else 'under'} {w.fix}", w.given(f))
        elif spec.design != "grid" and f.low == f.high:
            yield f"vary.{k}", f"the {spec.design} design needs {w.low} < {w.high}", f"{f.low:g}"
        if spec.design == "grid" and f.levels is None:
            yield (f"vary.{k}", "the grid design needs a number of levels: "
                   + ("write PATH=LO:HI:N" if options else "add levels (2 or more) to the factor"), w.given(f))
        if spec.design != "grid" and f.levels is not None:
            yield (f"vary.{k}.levels", f"a number of levels applies to the grid design only; with {spec.design} "
                   + ("write PATH=LO:HI and give the size with --points" if options else
                      "a factor has path, low and high only, and the spec's points gives the size"), f.levels)
    if spec.design == "grid":
        if spec.points is not None:
            yield "points", "applies to lhs, sobol and morris; a grid's size is the product of its levels", spec.points
        size = math.prod(f.levels or 1 for f in spec.vary)
        if size > MAX_POINTS:
            yield "vary", f"the grid has more than {MAX_POINTS:,} points", size
    elif spec.points is None:
        yield "points", f"the {spec.design} design needs a number of points", None
    elif spec.design == "sobol" and spec.points & (spec.points - 1):
        yield "points", "must be a power of 2 for the sobol design (its base sample N)", spec.points
    elif spec.design == "morris" and spec.points < 2:
        yield "points", "the morris design needs at least 2 trajectories", spec.points


def validate_spec(data: Any, source: str, origin: dict[str, str] | None = None) -> SweepSpec:
    """A `SweepSpec` from plain data; every problem at once, as an `InputError`.

    `origin` maps a path prefix of the data to the label a problem there is
    reported under (the command-line option that gave it); the rest are `source`'s.
    """
    if not isinstance(data, dict):
        raise InputError(not_a_mapping(source, "sweep", data))
    if (problem := not_this_kind(data, source, "a sweep spec", "vary")) is not None:
        raise InputError(problem)
    try:
        spec = SweepSpec.model_validate(data)
    except ValidationError as exc:
        raise InputError([_relabel(problem, origin) for problem in problems_from(exc, source)]) from None
    options = "vary" in (origin or {})  # the factors came from --vary options, not from a file
    problems = [_relabel(Problem(source, path, message, value, value is not None), origin)
                for path, message, value in _spec_rules(spec, options)]
    if problems:
        raise InputError(problems)
    return spec



def _relabel(problem: Problem, origin: dict[str, str] | None) -> Problem:
    """Report a problem under the option that gave the value, when one did."""
    if not origin:
        return problem
    parts = problem.path.split(".") if problem.path else []
    for n in range(len(parts), 0, -1):
        label = origin.get(".".join(parts[:n]))
        if label is not None:
            return Problem(label, ".".join(parts[n:]), problem.message, problem.value, problem.has_value)
    return problem


def parse_vary(text: str) -> dict:
    """`PATH=LO:HI[:N]` as a factor's plain data; a malformed text is an `InputError`."""
    path, sep, rng = text.partition("=")
    parts = rng.split(":")
    problem = Problem("--vary", "", "must be PATH=LO:HI:N (grid) or PATH=LO:HI (lhs, sobol, morris)", text, True)
    if not sep or not path.strip() or len(parts) not in (2, 3):
        raise InputError(problem)
    try:
        low, high = float(parts[0]), float(parts[1])
        levels = int(parts[2]) if len(parts) == 3 else None
    except ValueError:
        raise InputError(problem) from None
    data: dict[str, Any] = {"path": path.strip(), "low": low, "high": high}
    if levels is not None:
        data["levels"] = levels
    return data


def load_sweep_spec(path: str | Path) -> tuple[dict, str]:
    """A spec file's plain data and its source name; unreadable or bad YAML is an `InputError`."""
    path = Path(path)
    if path.is_dir():
        raise InputError(Problem(str(path), "", "is a directory, not a sweep file"))
    return read_yaml_file(path), str(path)


# --- The resolved sweep ------------------------------------------------------------------


@dataclass(frozen=True)
class Sweep:
    """A validated sweep: the base scenario and what to do with it."""

    scenario_file: Path
    base: dict  # the scenario's plain data, fixed overrides applied
    scenario: Scenario  # the base, validated
    factors: tuple[Factor, ...]
    labels: tuple[str, ...]  # per factor, the option or spec entry that gave it (for messages)
    design: str
    points: int | None
    runs: int  # replicates per point
    seed: int | None  # None: fresh entropy, chosen once and kept in the store
    renormalise: bool
    fixed: tuple[str, ...] = ()  # the paths `set:` (or --set) fixes, as written
    overrides: dict[str, Any] = field(default_factory=dict)  # `set:` and --set: path -> value, for sweep.json

    @property
    def names(self) -> list[str]:
        return [f.path for f in self.factors]

    @property
    def bounds(self) -> np.ndarray:
        """(n_factors, 2) the factors' [low, high]."""
        return np.array([[f.low, f.high] for f in self.factors], dtype=float)

    def identity(self) -> dict:
        """What makes two sweeps the same sweep (a resume, not a new one)."""
        return {
            "scenario_hash": scenario_hash(self.scenario),
            "factors": [f.model_dump() for f in self.factors],
            "design": self.design,
            "points": self.points,
            "runs": self.runs,
            "seed": self.seed,
            "renormalise": self.renormalise,
        }

    def key(self) -> str:
        """12 hex digits naming this sweep's default result directory."""
        text = json.dumps(self.identity(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


def resolve_sweep(spec: SweepSpec, *, spec_source: str | None, scenario: Path | None,
                  labels: list[str], set_option: str | None = None) -> Sweep:
    """Load the base scenario (the positional argument, else the spec's `scenario:`,
    relative to the spec file) with the spec's fixed overrides; a problem at a field they gave
    names `set_option` beside the scenario (by default `set: in SPEC`, or `--set` without a spec)."""
    named = scenario is None  # by the spec's `scenario:`, which a file it cannot read is reported at
    if scenario is None:
        if spec.scenario is None:
            raise InputError(Problem(spec_source or "sweep", "scenario",
                                     "no scenario: give SCENARIO or `scenario:` in the spec"))
        scenario = Path(spec.scenario)
        if spec_source is not None and not scenario.is_absolute():
            scenario = Path(spec_source).parent / scenario
    try:
        option = set_option or ("--set" if spec_source is None else f"set: in {spec_source}")
        base_scenario = load_scenario(scenario, overrides=spec.set or None, option=option)
    except InputError as exc:
        p = exc.problems[0]
        if named and spec_source is not None and p.path == "" and p.message.startswith("cannot read file: "):
            raise InputError(Problem(spec_source, "scenario", f"cannot read {scenario}: "
                                     f"{p.message.removeprefix('cannot read file: ')}", spec.scenario, True)) from None
        if named and spec_source is not None and p.path == "" and p.message.startswith("is a directory"):
            raise InputError(Problem(spec_source, "scenario", "names a directory, not a scenario file; name a "
                                     "scenario file in it", spec.scenario, True)) from None
        raise
    # The validated scenario's own data (defaults filled in, any `extends:` resolved)
    # is what the points override: it reads back to an equal scenario.
    base = base_scenario.model_dump(mode="json")
    mc = base_scenario.monte_carlo
    return Sweep(
        scenario_file=scenario,
        base=base,
        scenario=base_scenario,
        factors=tuple(spec.vary),
        labels=tuple(labels),
        design=spec.design,
        points=spec.points,
        runs=spec.runs if spec.runs is not None else mc.runs,
        seed=spec.seed if spec.seed is not None else mc.seed,
        renormalise=spec.renormalise,
        fixed=tuple(spec.set or {}),
        overrides=dict(spec.set or {}),
    )


def make_sweep(scenario: Path | None, vary: list[str], spec_file: Path | None, *, design: str | None = None,
               points: int | None = None, runs: int | None = None, seed: int | None = None,
               renormalise: bool = False, overrides: dict[str, Any] | None = None) -> Sweep:
    """The sweep the command line asks for: `--vary` texts or a `--spec` file, with the
    other options taking precedence over the file's values. Problems are reported
    against the option, or the file entry, that gave the value."""
    origin: dict[str, str] = {}
    if spec_file is not None:
        if vary:
            raise InputError(Problem("--vary", "", "give the factors with --vary or in --spec FILE, not both"))
        data, source = load_sweep_spec(spec_file)
        if not isinstance(data, dict):
            validate_spec(data, source)
        labels = [f"{source}: vary.{k}" for k in range(len(data.get("vary") or []))]
    else:
        if not vary:
            raise InputError(Problem("sweep", "", "nothing to vary: give --vary PATH=LO:HI[:N] "
                                     "(repeatable) or --spec FILE"))
        factors = map_all(parse_vary, vary)
        source, data = "command line", {"vary": factors}
        labels = [f"--vary {text}" for text in vary]
        # `points` missing (lhs, sobol, morris) is the option's to give: "--points: ... needs a number of points"
        origin.update({"vary": "--vary", "points": "--points",
                       **{f"vary.{k}": label for k, label in enumerate(labels)}})
    for key, value in (("design", design), ("points", points), ("runs", runs), ("seed", seed)):
        if value is not None:
            data[key], origin[key] = value, f"--{key}"
    if renormalise:
        data["renormalise"], origin["renormalise"] = True, "--renormalise"
    if overrides and isinstance(data.get("set") or {}, dict):  # a bad `set:` is reported by validation
        data["set"] = {**(data.get("set") or {}), **overrides}
    spec = validate_spec(data, source, origin)
    # the fixed overrides are the spec's `set:` and --set together: a problem names both where both gave some
    set_option = None if spec_file is None or not overrides else f"set: in {source}, or --set"
    return resolve_sweep(spec, spec_source=source if spec_file is not None else None, scenario=scenario,
                         labels=labels, set_option=set_option)


def sweep_notes(sweep: Sweep) -> list[Problem]:
    """A note for each factor the scenario's engine never reads (`loading.unread_in_scenario`:
    `dynamics.rate` under eum, an eum setting under convergence, under eum a field of an event's or
    incident's effect on an ideal), named by the spec entry or the --vary option that gave it: its
    values change nothing, so the points differ only by the other factors (and a sensitivity design
    gives it nothing to measure), which the results do not say."""
    return [Problem(label, "", f"{factor.path} {why}, so varying it changes nothing")
            for factor, label in zip(sweep.factors, sweep.labels)
            if (why := unread_in_scenario(factor.path, sweep.scenario, "the scenario's")) is not None]
