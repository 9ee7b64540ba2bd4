"""Validation at the boundary: the strict pydantic base and pydantic's errors in the project's words.

Every file a user writes (a scenario, a sweep spec, a knob spec) is a `Strict`
model: unknown keys are errors, NaN and infinity are refused, nothing is
coerced. `problems_from` turns a `ValidationError` into `Problem`s that name the
file, the dotted path of the field, the rule and the value given; rules that
span several fields raise `RuleViolations`, which it unpacks path by path.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import Problem

__all__ = ["NO_VALUE", "RuleViolations", "Strict", "problems_from"]

NO_VALUE = object()
"""The value of a rule problem that has no single value to show."""


class Strict(BaseModel):
    """Unknown keys are errors; values are frozen; NaN and infinity are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class RuleViolations(ValueError):
    """Cross-field problems, each with its own path: (path, message, value or NO_VALUE)."""

    def __init__(self, problems: list[tuple[str, str, Any]]):
        self.problems = problems
        super().__init__("; ".join(f"{p}: {m}" for p, m, _ in problems))


# Pydantic's names for the members of a union, which are not part of a user's path.
_TAGS = {"number", "dist", "fixed", "uniform", "normal", "beta", "triangular", "str", "int", "float", "date",
         "list[...]", "tuple[...]", "dict[...]"}
_TAG_PREFIXES = ("function-", "literal[", "cond-", "trust-")


def problems_from(exc: ValidationError, source: str) -> list[Problem]:
    """One `Problem` per error of `exc`, in the project's wording, naming `source`."""
    out: list[Problem] = []
    for err in exc.errors(include_url=False):
        ctx_error = (err.get("ctx") or {}).get("error")
        if isinstance(ctx_error, RuleViolations):
            out += [Problem(source, path, message) if value is NO_VALUE else Problem(source, path, message, value, True)
                    for path, message, value in ctx_error.problems]
            continue
        loc = [str(p) for p in err["loc"] if not _is_tag(p)]
        if loc and loc[-1] == "[key]":  # a mapping's key: name the mapping, not pydantic's index
            loc = loc[:-2]
            if isinstance(err.get("input"), bool):
                word = "true (from yes, on or true)" if err["input"] else "false (from no, off or false)"
                out.append(Problem(source, ".".join(loc), f"YAML read a key as the boolean {word}; quote it "
                                   "to mean the word, e.g. 'no': 0.0", err["input"], True))
                continue
        out.append(_problem(err, source, ".".join(loc)))
    return out


def _is_tag(part: Any) -> bool:
    text = str(part)
    return text in _TAGS or text.startswith(_TAG_PREFIXES)


def _problem(err: dict, source: str, path: str) -> Problem:
    kind, value = err["type"], err.get("input")
    if kind == "missing":
        return Problem(source, path, "required field is missing")
    if kind == "extra_forbidden":
        return Problem(source, path, "unknown key", value, True)
    if isinstance(value, bool) and kind in ("string_type", "float_type", "int_type", "number_or_dist",
                                            "float_parsing", "int_parsing"):
        return Problem(source, path, f"YAML read {str(value).lower()!r} as a boolean (yes/no/on/off/true/false "
                       "are booleans in YAML); quote it if you meant text, or write a number", value, True)
    message = err["msg"].removeprefix("Value error, ")
    return Problem(source, path, message[:1].lower() + message[1:], value, True)
