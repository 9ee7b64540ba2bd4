"""A library function's arguments checked where they enter: the wrong kind of object (a path
where a `Scenario` belongs, the pair `Posterior.setting` returns where its knob setting does)
is an `InputError` saying what to pass, not an AttributeError from deep inside the model."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from pydantic import ValidationError
from pydantic_core import PydanticSerializationError

from .errors import InputError, Problem
from .schema import Scenario
from .validation import problems_from

__all__ = ["check_callbacks", "check_knobs", "check_path", "check_scenario", "is_number", "plain_values"]


def check_scenario(scenario: Any, name: str = "scenario") -> None:
    """Refuse anything but a validated `Scenario` (a path, YAML text, a dict), and a Scenario
    changed since it was validated: pydantic's `model_copy(update=...)` and `model_construct`, or
    a dict inside it changed in place, skip validation, and the model then failed deep inside
    (AttributeError: 'dict' object has no attribute 'runs'; KeyError for an unknown agent).
    Validated again here (a few milliseconds for the baseline), each problem is named as a
    loaded file's would be, under `name`."""
    if not isinstance(scenario, Scenario):
        raise InputError(Problem(name, "", "must be a Scenario: sim.load_scenario(path) reads a file, "
                                 "sim.parse_scenario(text) YAML text", scenario, True))
    try:
        again = Scenario.model_validate(scenario.model_dump(warnings=False))
    except ValidationError as exc:
        raise InputError(problems_from(exc, name)) from None
    except PydanticSerializationError:
        again = None
    if again != scenario:  # valid data, but not in the types validation makes (a dict for a block)
        raise InputError(Problem(name, "", "was changed after it was validated (model_copy(update=...) and "
                                 "model_construct do not validate): build a variant with "
                                 "sim.load_scenario(path, overrides={...}) or Scenario.model_validate(data)"))


def check_knobs(knobs: Any, name: str = "knobs") -> None:
    """`knobs` must be None or a knob setting (anything with `apply`, `state.KnobApplier`): a
    posterior, or the (setting, note) pair its `setting` returns, is refused saying so."""
    if knobs is None or callable(getattr(knobs, "apply", None)):
        return
    if isinstance(knobs, tuple) and len(knobs) == 2 and callable(getattr(knobs[0], "apply", None)):
        rule = "must be a knob setting, not the (setting, note) pair: knobs, note = posterior.setting(scenario)"
    else:
        rule = "must be a knob setting (knobs, note = sim.load_posterior(path).setting(scenario)) or None"
    raise InputError(Problem(name, "", rule, knobs, True))


def is_number(value: Any) -> bool:
    """A real number, numpy's included; not a boolean, not text."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def check_callbacks(**callbacks: Any) -> None:
    """The hooks a run calls as it goes, checked before any replicate runs: `sink` and
    `progress` None or callable, `stop` None or an event (anything with `is_set`, e.g. a
    `threading.Event`), `calibration` None or a dict. A wrong one was a TypeError or an
    AttributeError from inside the first chunk, or from `ResultWriter.finish` after the
    whole run; every wrong one is named at once."""
    problems = []
    for name, value in callbacks.items():
        if value is None:
            continue
        if name == "stop":
            ok = callable(getattr(value, "is_set", None))
            rule = "must be a threading.Event (anything with is_set()) or None"
        elif name == "calibration":
            ok, rule = isinstance(value, dict), "must be a dict (the note posterior.setting(scenario) returns) or None"
        else:
            ok, rule = callable(value), "must be a function or None"
        if not ok:
            problems.append(Problem(name, "", rule, value, True))
    if problems:
        raise InputError(problems)


def check_path(path: Any, what: str, name: str = "path") -> None:
    """`path` must be a str or a path-like object (`what` says of what): None or a number
    was a TypeError from pathlib."""
    if isinstance(path, bool) or not isinstance(path, (str, os.PathLike)):
        raise InputError(Problem(name, "", f"must be the path of {what} (a str or a pathlib.Path)", path, True))


def plain_values(value: Any) -> Any:
    """`value` with every numpy scalar (and 0-d array) inside dicts and lists made the Python
    number it holds: override values computed with numpy (`np.arange(..., dtype=np.float32)`,
    `np.int64(1)`) are read as the numbers they are; the schema, which takes no numpy type but
    `np.float64` (a float), refused them as "must be a number (got 0.5)"."""
    if isinstance(value, dict):
        return {key: plain_values(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(plain_values(item) for item in value)
    if isinstance(value, np.generic) or (isinstance(value, np.ndarray) and value.ndim == 0):
        return value.item()
    return value
