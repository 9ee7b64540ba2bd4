"""Calibration knobs: the model's global constants, declared with priors, and set per replicate.

A knob names scenario fields by dotted path; a part may be `*` (every key or
list item there) or `{expr}`, the name an expression of the scenario gives
(`agents.{summit.parties[0]}.resolve`, the first party's resolve, whatever it
is called). A knob `set`s the fields to its value, or `shift`s what each
replicate drew by it (kept in the field's range), so cases that differ there
keep their differences. A knob spec file (`scenarios/history/knobs.yaml`)
declares each knob's prior (any distribution of the scenario language, with a
bounded support) and its grid.

`KnobSetting` applies a table of knob values to a run: replicate i takes row
i mod (number of rows), which depends only on i, so chunking, workers and
scenarios compared on the same seed see the same values.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import json
import re
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, ValidationError, field_validator, model_validator

from .errors import InputError, Problem
from .randomness import BLOCK_SIZE
from .schema import Dist, Name, Scenario
from .validation import Strict, problems_from

__all__ = ["KnobFile", "KnobSetting", "KnobSpec", "load_knobs", "make_grid", "prior_weights", "resolve_knob"]

MAX_GRID = 20_000
"""The largest grid (product of the knobs' levels) a calibration may tabulate."""


class KnobSpec(Strict):
    """One knob: the fields it acts on, how, its prior and its grid."""

    name: Name
    path: str = Field(min_length=1)
    kind: Literal["set", "shift"] = "set"
    prior: Dist
    levels: int | None = Field(default=None, ge=1, le=200)  # grid points evenly spaced over the prior's support
    values: list[float] | None = Field(default=None, min_length=1, max_length=200)  # or the grid itself
    description: str = ""

    @field_validator("path")
    @classmethod
    def _dotted(cls, path):  # what no scenario can resolve is the spec's, said once, not once a case
        try:
            _split(path)
        except ValueError:
            raise ValueError("must be a dotted path whose parts are names, `*` or a closed `{...}`") from None
        return path

    @field_validator("prior")
    @classmethod
    def _bounded(cls, prior):
        lo, hi = prior.support()
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise ValueError("must have a bounded support: the grid spans it (truncate a normal with low and high)")
        return prior

    @field_validator("values")
    @classmethod
    def _in_support(cls, values, info):  # here, not on the whole knob: the error names knobs.N.values
        prior = info.data.get("prior")  # absent when the prior itself was refused
        if values is not None and prior is not None:
            lo, hi = prior.support()
            if not all(lo <= v <= hi for v in values):
                raise ValueError(f"must lie in the prior's support [{lo:g}, {hi:g}]")
        return values

    @model_validator(mode="after")
    def _grid(self) -> KnobSpec:
        if (self.levels is None) == (self.values is None):
            raise ValueError("give exactly one of levels, values")
        return self

    def grid(self) -> np.ndarray:
        """The knob's grid values, ascending and distinct (`levels` over a support of one point,
        a fixed prior's, are that one point, not `levels` copies of it)."""
        if self.values is not None:
            return np.array(sorted(set(self.values)), dtype=float)
        lo, hi = self.prior.support()
        return np.unique(np.linspace(lo, hi, self.levels)) if self.levels > 1 else np.array([(lo + hi) / 2])


class KnobFile(Strict):
    """A knob spec file: the knobs, and how many replicates a case gets at each grid point."""

    knobs: list[KnobSpec] = Field(min_length=1)
    runs: int = Field(default=2048, ge=1, le=10**7)  # replicates per case and grid point
    seed: int = Field(default=1, ge=0)  # root seed of the tabulation (common random numbers)

    @model_validator(mode="after")
    def _distinct(self) -> KnobFile:
        names = [k.name for k in self.knobs]
        if len(set(names)) != len(names):
            raise ValueError(f"knob names must be distinct (got {names})")
        size = int(np.prod([len(k.grid()) for k in self.knobs], dtype=np.float64))
        if size > MAX_GRID:
            raise ValueError(f"the grid has {size:,} points; at most {MAX_GRID:,}")
        return self

    def digest(self) -> str:
        """SHA-256 of the validated spec (comments and spacing do not count)."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()


def load_knobs(path: str | Path) -> KnobFile:
    """Read and validate a knob spec file; every problem at once as an `InputError`."""
    from .arguments import check_path
    from .loading import not_this_kind, read_yaml
    from .yamlfile import not_a_mapping

    check_path(path, "a knob spec file")
    data = read_yaml(Path(path), "a knob spec")
    problem = not_a_mapping(str(path), "knobs spec", data) if not isinstance(data, dict) else \
        not_this_kind(data, str(path), "a knobs spec", "knobs")
    if problem is not None:
        raise InputError(problem)
    try:
        return KnobFile.model_validate(data)
    except ValidationError as exc:
        raise InputError([_by_name(p, data) for p in problems_from(exc, str(path))]) from None


def _by_name(problem: Problem, data: dict) -> Problem:
    """`problem` with its knob named as every later check names it (`knobs.margin.prior`), not by
    its place in the list (`knobs.0.prior`), where the knob has a name to go by."""
    parts = problem.path.split(".")
    knobs = data.get("knobs")
    if len(parts) < 2 or parts[0] != "knobs" or not parts[1].isdigit() or not isinstance(knobs, list):
        return problem
    k = int(parts[1])
    name = knobs[k].get("name") if k < len(knobs) and isinstance(knobs[k], dict) else None
    if not isinstance(name, str) or not name or sum(isinstance(x, dict) and x.get("name") == name
                                                    for x in knobs) > 1:
        return problem  # no name, or one two knobs share (itself an error): the place says which
    return dataclasses.replace(problem, path=".".join([parts[0], name, *parts[2:]]))


def make_grid(knobs: list[KnobSpec]) -> np.ndarray:
    """Every combination of the knobs' grid values, (n_points, n_knobs), the first knob slowest."""
    axes = np.meshgrid(*(k.grid() for k in knobs), indexing="ij")
    return np.stack([a.ravel() for a in axes], axis=1)


def prior_weights(knobs: list[KnobSpec], grid: np.ndarray) -> np.ndarray:
    """The prior's mass at each grid point (n_points,), summing to 1: the product of the
    knobs' densities, each grid a quadrature of its prior (independent priors)."""
    dens = np.ones(len(grid))
    for j, knob in enumerate(knobs):
        dens *= knob.prior.pdf(grid[:, j])
    total = dens.sum()
    if not total > 0:
        raise InputError(Problem("knobs", "", "the priors give the whole grid zero mass"))
    return dens / total


# --- Paths ------------------------------------------------------------------------


_PART = re.compile(r"\{[^{}]*\}|[^.{}]+")


def _split(path: str) -> list[str]:
    parts = _PART.findall(path)
    if "".join(f"{p}." for p in parts)[:-1] != path:
        raise ValueError(f"not a dotted path with optional {{...}} parts: {path!r}")
    return parts


def _evaluate(data: Any, expr: str) -> Any:
    """The value of `summit.parties[0]`-style `expr` in plain scenario data."""
    node = data
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", expr):
        if part.startswith("["):
            node = node[int(part[1:-1])]
        else:
            node = node[part]
    return node


def resolve_knob(knob: KnobSpec, scenario: Scenario, model) -> list[str]:
    """The internal parameter paths of `model` (compiled from `scenario`) that `knob` acts on;
    an `InputError` if none or if a `{...}` part does not name something."""
    data = scenario.model_dump(mode="json")
    pattern = []
    try:
        for part in _split(knob.path):
            if part.startswith("{"):
                value = _evaluate(data, part[1:-1])
                if not isinstance(value, str):
                    raise ValueError(f"{part} is {value!r}, not a name")
                pattern.append(value)
            else:
                pattern.append(part)
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise InputError(Problem(scenario.name, f"knobs.{knob.name}.path", f"cannot be resolved ({exc})",
                                 knob.path, True)) from None
    glob = ".".join(pattern)
    found = [path for path, spec in model.params.items()
             if any(_matches(source, glob) for source in _forms(spec.source))]
    if not found:
        raise InputError(Problem(scenario.name, f"knobs.{knob.name}.path",
                                 "names no number drawn per replicate", glob, True))
    return found


def _forms(source: str) -> tuple[str, ...]:
    """The field paths a knob may name a drawn number's `source` by: as the file writes it, and,
    for a field of `relations.trust` written as one entry, also as the one item of a list
    (`relations.trust.0.initial`), the same trust: so that `relations.trust.*.initial` reaches
    trust in every case of a set, however each writer wrote it."""
    parts = source.split(".")
    if parts[:2] == ["relations", "trust"] and len(parts) == 3:
        return source, f"relations.trust.0.{parts[2]}"
    return (source,)


def _matches(source: str, glob: str) -> bool:
    parts, want = source.split("."), glob.split(".")
    return len(parts) == len(want) and all(w == "*" or fnmatch.fnmatchcase(p, w) for p, w in zip(parts, want))


# --- Setting knobs in a run ---------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class KnobSetting:
    """Knob values for a run: `values` (n_rows, n_knobs); replicate i takes row i mod n_rows."""

    knobs: tuple[KnobSpec, ...]
    values: np.ndarray
    _targets: dict = field(default_factory=dict, repr=False)  # id(model) -> resolved paths per knob

    @classmethod
    def constant(cls, knobs, values) -> KnobSetting:
        """One row of knob values, `values` (n_knobs,), for every replicate."""
        return cls(tuple(knobs), np.asarray(values, dtype=float).reshape(1, -1))

    def __reduce__(self):
        """The knobs and values, not the cache of resolved paths: it holds weak references, which
        pickle refuses, so a setting used once could not be sent to spawned workers (a worker
        resolves the paths again for its own models)."""
        return type(self), (self.knobs, self.values)

    def apply(self, model, params: dict[str, np.ndarray], blocks) -> None:
        """Set or shift the knobs' parameters in a chunk's drawn `params` (each (n,)), in place."""
        rows = (blocks.first * BLOCK_SIZE + np.arange(blocks.size)) % len(self.values)
        for j, knob in enumerate(self.knobs):
            value = self.values[rows, j]
            for path in self.targets(model)[j]:
                spec = model.params[path]
                drawn = value if knob.kind == "set" else params[path] + value
                params[path] = np.clip(drawn, spec.low, spec.high)

    def targets(self, model) -> list[list[str]]:
        """Each knob's parameter paths in `model`, resolved once per model (several models take
        turns in a paired run, so each keeps its own; a weak reference tells a model that died
        from a new one at the same address)."""
        cached = self._targets.get(id(model))
        if cached is None or cached[0]() is not model:
            cached = (weakref.ref(model), [resolve_knob(k, model.scenario, model) for k in self.knobs])
            self._targets[id(model)] = cached
        return cached[1]

    def describe(self) -> dict:
        """The knobs, the rows and a digest of the values, as JSON-ready data."""
        return {"knobs": [k.model_dump(mode="json") for k in self.knobs], "rows": len(self.values),
                "digest": hashlib.sha256(json.dumps(self.values.tolist()).encode()).hexdigest()[:16]}
