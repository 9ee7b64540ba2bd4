"""A library function's arguments checked where they enter: the wrong kind of object (a path
where a `Scenario` belongs, the pair `Posterior.setting` returns where its knob setting does)
is an `InputError` saying what to pass, not an AttributeError from deep inside the model."""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import InputError, Problem
from .schema import Scenario

__all__ = ["check_knobs", "check_scenario", "is_number"]


def check_scenario(scenario: Any, name: str = "scenario") -> None:
    """Refuse anything but a validated `Scenario` (a path, YAML text, a dict)."""
    if not isinstance(scenario, Scenario):
        raise InputError(Problem(name, "", "must be a Scenario: sim.load_scenario(path) reads a file, "
                                 "sim.parse_scenario(text) YAML text", scenario, True))


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
