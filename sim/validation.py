"""Validation at the boundary: the strict pydantic base and pydantic's errors in the project's words.

Every file a user writes (a scenario, a sweep spec, a knob spec) is a `Strict`
model: unknown keys are errors, NaN and infinity are refused, and a boolean is
never read as a number (pydantic alone would take `runs: true` as 1).
`problems_from` turns a `ValidationError` into `Problem`s that name the
file, the dotted path of the field, the rule and the value given; rules that
span several fields raise `RuleViolations`, which it unpacks path by path.
"""

from __future__ import annotations

import functools
import re
import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from .errors import Problem

__all__ = ["NO_VALUE", "RuleViolations", "Strict", "problems_from"]

NO_VALUE = object()
"""The value of a rule problem that has no single value to show."""


class Strict(BaseModel):
    """Unknown keys are errors; values are frozen; NaN and infinity are refused; a
    boolean where a number is expected is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _no_boolean_numbers(cls, data: Any) -> Any:
        if isinstance(data, dict):
            problems = []
            for name, annotation in _number_fields(cls):
                value = data.get(name)
                if isinstance(value, (bool, list, tuple, dict)):  # the rest cannot hold a boolean
                    problems += [(path, _BOOL_MESSAGE, v) for path, v in _booleans(annotation, value, name)]
            if problems:
                raise RuleViolations(problems)
        return data


_BOOL_MESSAGE = ("YAML read this as a boolean (yes/no/on/off/true/false are booleans in YAML) where a number "
                 "is expected; write a number")


@functools.cache
def _number_fields(cls: type[BaseModel]) -> tuple[tuple[str, Any], ...]:
    """(key, annotation) of the fields of `cls` where pydantic would take a boolean for a number."""
    return tuple((f.alias or name, f.annotation) for name, f in cls.model_fields.items()
                 if _takes_numbers(f.annotation))


def _strip(tp: Any) -> Any:
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    return tp


def _is_union(tp: Any) -> bool:
    return get_origin(tp) in (Union, types.UnionType)


def _takes_numbers(tp: Any) -> bool:
    tp = _strip(tp)
    if tp in (int, float):
        return True
    if _is_union(tp):
        members = [_strip(a) for a in get_args(tp)]
        return bool not in members and any(_takes_numbers(a) for a in members)
    if get_origin(tp) in (list, tuple, dict):
        return any(_takes_numbers(a) for a in get_args(tp) if a is not Ellipsis)
    return False


def _booleans(tp: Any, value: Any, path: str):
    """(path, value) of each boolean in `value` where `tp` wants a number."""
    tp = _strip(tp)
    if isinstance(value, bool):
        if _takes_numbers(tp) and get_origin(tp) not in (list, tuple, dict):
            yield path, value
        return
    if _is_union(tp):
        for member in get_args(tp):
            if get_origin(_strip(member)) in (list, tuple, dict):
                yield from _booleans(member, value, path)
                return
        return
    origin, args = get_origin(tp), get_args(tp)
    if origin is dict and isinstance(value, dict) and len(args) == 2:
        for key, item in value.items():
            yield from _booleans(args[1], item, f"{path}.{key}")
    elif origin in (list, tuple) and isinstance(value, (list, tuple)) and args:
        for k, item in enumerate(value):
            member = args[0] if origin is list or (len(args) == 2 and args[1] is Ellipsis) else \
                (args[k] if k < len(args) else None)
            if member is not None:
                yield from _booleans(member, item, f"{path}.{k}")


class RuleViolations(ValueError):
    """Cross-field problems, each with its own path: (path, message, value or NO_VALUE)."""

    def __init__(self, problems: list[tuple[str, str, Any]]):
        self.problems = problems
        super().__init__("; ".join(f"{p}: {m}" for p, m, _ in problems))


# Pydantic's names for the members of a union, which are not part of a user's path.
_TAGS = {"number", "dist", "fixed", "uniform", "normal", "beta", "triangular", "str", "int", "float", "date",
         "list[...]", "tuple[...]", "dict[...]"}
_TAG_PREFIXES = ("function-", "literal[", "cond-", "trust-", "tagged-union[", "list[", "tuple[", "dict[")
# A member of a union that wants a mapping, or a scalar: when the value given is of the
# other shape, that member's error says only "not this shape" and is dropped if another
# member's error at the same path says what is wrong.
_MAPPING_TYPES = {"model_attributes_type", "model_type", "dict_type"}
# Errors whose place ends in a key the user wrote (or should have written), not a union's member.
_KEY_ERRORS = {"extra_forbidden", "missing"}
# pydantic's words for a date it cannot read ("invalid character in year") do not say what a date looks like
_DATE_ERRORS = {"date_type", "date_parsing", "date_from_datetime_parsing", "date_from_datetime_inexact"}


def problems_from(exc: ValidationError, source: str) -> list[Problem]:
    """One `Problem` per error of `exc`, in the project's wording, naming `source`."""
    out: list[Problem] = []
    for err in _one_member(exc.errors(include_url=False)):
        ctx_error = (err.get("ctx") or {}).get("error")
        loc = _user_path(err["loc"])
        if err["type"] in _KEY_ERRORS and err["loc"]:
            # the last place is the key itself, never a union's member: an unknown key named
            # `beta` or `normal` (a member's name) was left out, and the error named its parent
            loc = [*_user_path(err["loc"][:-1]), str(err["loc"][-1])]
        if isinstance(ctx_error, RuleViolations):  # paths relative to the model that raised it
            out += [Problem(source, ".".join([*loc, path]), message) if value is NO_VALUE
                    else Problem(source, ".".join([*loc, path]), message, value, True)
                    for path, message, value in ctx_error.problems]
            continue
        if loc and loc[-1] == "[key]":  # a mapping's key: name the mapping, not pydantic's index
            loc = loc[:-2]
            if isinstance(err.get("input"), bool):
                word = "true (from yes, on or true)" if err["input"] else "false (from no, off or false)"
                out.append(Problem(source, ".".join(loc), f"YAML read a key as the boolean {word}; quote it "
                                   "to mean the word, e.g. 'no': 0.0", err["input"], True))
                continue
            if err["type"] == "string_type":  # agents: {2: ...}, anchors: {2020-01-01: ...}
                out.append(Problem(source, ".".join(loc), "a name must be text (lowercase letters, digits and _, "
                                   f"starting with a letter), not a {_yaml_kind(err['input'])}", err["input"], True))
                continue
        if err["type"] == "invalid_key":  # YAML read `{runs: 20,000}` as runs: 20 and a key 000 (the number 0)
            out.append(Problem(source, ".".join(loc[:-1]), "has a number where a key was expected; in a {...} "
                               "mapping a comma in a number starts a new key: write 20000 or 20_000, not 20,000",
                               err["input"], True))
            continue
        problem = _problem(err, source, ".".join(loc), _root_model(exc.title))
        if problem not in out:  # bounds: [] is missing two entries, and is said once
            out.append(problem)
    return out


# What a scenario's required blocks look like, for a writer starting from an empty file
# (scenarios/tutorial/fisheries.yaml is the README's smallest whole scenario).
_BLOCK_EXAMPLES = {
    "calendar": "e.g. calendar: {start: 2024-03-01, vantage: 2024-03-01}",
    "issues": "e.g. issues: {quota: {anchors: {none: 0.0, pilot: 0.4, joint: 1.0}, status_quo: 0.0}}",
    "agents": "each with a capability, a resolve and, per issue, a position and a salience, as in "
              "scenarios/tutorial/fisheries.yaml",
    "relations": "e.g. relations: {trust: {between: [north, south], initial: 0.5}} (every two summit parties need "
                 "a trust entry)",
    "summit": "e.g. summit: {parties: [north, south], date: 2024-06-12, cancellation: {base_probability: 0.03}}",
    "outcome": "e.g. outcome: {breakthrough: [{issue: quota, at_least: 1.0}], substantive: [{issue: quota, "
               "at_least: 0.4}]}",
}


def _root_model(title: str) -> type[BaseModel] | None:
    """The `Strict` model a `ValidationError` titled `title` validated, if there is one by that name."""
    todo, seen = [Strict], set()
    while todo:
        cls = todo.pop()
        if cls.__name__ == title:
            return cls
        seen.add(cls)
        todo += [sub for sub in cls.__subclasses__() if sub not in seen]
    return None


def _types(tp: Any) -> list:
    """`tp` without `Annotated`, its unions spread into their members."""
    tp = _strip(tp)
    return [m for a in get_args(tp) for m in _types(a)] if _is_union(tp) else [tp]


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _item_models(tp: Any) -> list[type[BaseModel]]:
    """The models an item of `tp` may be, where `tp` is a mapping of named items (`dict[str, Stance]`)."""
    args = get_args(tp)
    return [m for m in _types(args[1]) if _is_model(m)] if get_origin(tp) is dict and len(args) == 2 else []


def _fields(model: type[BaseModel]) -> set[str]:
    """The keys a file may write for `model`'s fields (an alias where the field has one)."""
    return {f.alias or name for name, f in model.model_fields.items()}


def _models_at(root: type[BaseModel], loc: tuple) -> list[type[BaseModel]]:
    """The models that can stand at `loc` (pydantic's error location) under `root`."""
    return [tp for tp in _types_at(root, loc) if _is_model(tp)]


def _types_at(root: type[BaseModel], loc: tuple) -> list:
    """The types (models, dicts, lists) that can stand at `loc` under `root`. A union
    member's name in `loc` (`dist`, `beta`, `trust-one`) that leads nowhere is passed over."""
    current: list = [root]
    for part in loc:
        after = []
        for tp in current:
            origin, args = get_origin(tp), get_args(tp)
            if _is_model(tp):
                field = next((f for name, f in tp.model_fields.items() if part in (name, f.alias)), None)
                after += _types(field.annotation) if field is not None else []
            elif origin is dict and len(args) == 2:
                after += _types(args[1])
            elif origin in (list, tuple) and isinstance(part, int) and args:
                after += _types(args[0] if origin is list or args[-1] is Ellipsis else args[min(part, len(args) - 1)])
        useful = [tp for tp in after if get_origin(tp) in (dict, list, tuple) or _is_model(tp)]
        current = current if not useful and _is_tag(part) else useful
    return current


def _misplaced_field(root: type[BaseModel] | None, loc: tuple) -> str | None:
    """The field name `loc[-1]` is, where it stands as the name of an item of a mapping of
    named items (`issues: {status_quo: 0.0}`, one indentation too far left): None if it is not one."""
    if root is None or not loc:
        return None
    if any(loc[-1] in _fields(model) for tp in _types_at(root, tuple(loc[:-1])) for model in _item_models(tp)):
        return str(loc[-1])
    return None


def _did_you_mean(root: type[BaseModel] | None, loc: tuple) -> str:
    """"; did you mean salience?" when an unknown key is one slip from a field allowed there."""
    import difflib

    if root is None or not loc:
        return ""
    known = {key for model in _models_at(root, tuple(loc[:-1])) for key in _fields(model)}
    close = difflib.get_close_matches(str(loc[-1]), sorted(known), n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""


def _class_left_over(path: str) -> str:
    """"; outcome: names only ..." for `outcome.talk_fest` or `outcome.collapse`: the two classes no
    condition defines, which a writer who sees four classes may try to write."""
    if path not in ("outcome.talk_fest", "outcome.collapse"):
        return ""
    return ("; outcome: takes only breakthrough and substantive: a deal that meets neither is a talk fest, and a "
            "collapse is the meeting called off (a cancellation, or trust below summit.cancellation.trust_below)")


def _item_of_a_mapping(root: type[BaseModel] | None, loc: tuple, value: Any) -> str:
    """"; is it one of the issues? indent it under agents.korea.issues" when an unknown key holds
    what an item of a mapping beside it holds (`history: {position: 0.3, salience: 0.2}` one
    indentation too far left, out of the agent's `issues:`)."""
    if root is None or not loc or not isinstance(value, dict) or not value:
        return ""
    for model in _models_at(root, tuple(loc[:-1])):
        for name, field in model.model_fields.items():
            if any(set(value) <= _fields(item) for item in _item_models(field.annotation)):
                where = ".".join(map(str, (*loc[:-1], field.alias or name)))
                return f"; is it one of the {field.alias or name}? indent it under {where}"
    return ""


def _yaml_kind(value: Any) -> str:
    """What YAML read `value` as, in a user's words."""
    import datetime as dt

    if value is None:
        return "null (~ or nothing)"
    if isinstance(value, dt.date):
        return "date"
    return "number" if isinstance(value, (int, float)) else type(value).__name__


_NAME_PATTERN = r"^[a-z][a-z0-9_]*$"


def _is_tag(part: Any) -> bool:
    text = str(part)
    return text in _TAGS or text.startswith(_TAG_PREFIXES)


def _user_path(loc: tuple) -> list[str]:
    """`loc` without pydantic's union member names. `date` is also a field's name
    (`events.0.date`, `summit.date`): it is a member's name only right after a field `date`,
    as in `summit.date` (a date or a distribution of dates) -> ('summit', 'date', 'date')."""
    return [str(p) for k, p in enumerate(loc)
            if not (_is_tag(p) and (p != "date" or (k > 0 and loc[k - 1] == "date")))]


def _one_member(errors: list[dict]) -> list[dict]:
    """`errors` without the members of a union that only say the value has the other shape
    (a mapping or a list where a date was wanted, or text where a mapping was), when another member's
    error at the same place, or inside it, says what is wrong with it."""
    def shape_only(err: dict) -> bool:
        if isinstance(err.get("input"), (dict, list, tuple)):  # a scalar member refusing a mapping or a list
            return err["type"] not in _MAPPING_TYPES and err["type"].endswith(("_type", "_parsing"))
        return err["type"] in _MAPPING_TYPES    # a mapping member refusing a scalar

    paths = [tuple(_user_path(err["loc"])) for err in errors]
    keep = []
    for err, path in zip(errors, paths):
        if shape_only(err) and any(not shape_only(other) and where[:len(path)] == path
                                   for other, where in zip(errors, paths)):
            continue
        keep.append(err)
    return keep


def _problem(err: dict, source: str, path: str, root: type[BaseModel] | None = None) -> Problem:
    kind, value = err["type"], err.get("input")
    if kind == "missing" and isinstance(value, (list, tuple)) and path.rpartition(".")[2].isdigit():
        # a pair such as bounds: [0.7]: pydantic names the missing entry, "bounds.1: field required"
        return Problem(source, path.rpartition(".")[0], "too few entries", value, True)
    if kind == "missing":
        example = _BLOCK_EXAMPLES.get(path) if root is not None and root.__name__ == "Scenario" else None
        return Problem(source, path, "required field is missing" + (f"; {example}" if example else ""))
    if kind == "tuple_type":  # "a valid tuple" is Python's word; in YAML it is a list
        return Problem(source, path, "must be a list in brackets, [a, b]", value, True)
    if kind == "extra_forbidden" and value is None:  # {between: a, b} reads as between: a and a key b
        return Problem(source, path, "unknown key, with no value (in a {...} mapping a comma starts a new key: "
                       "write a list in brackets, [a, b])")
    if kind == "extra_forbidden":
        hint = (_class_left_over(path) or _did_you_mean(root, err["loc"])
                or _item_of_a_mapping(root, err["loc"], value))
        return Problem(source, path, f"unknown key{hint}", value, True)
    if kind in ("float_parsing", "int_parsing") and isinstance(value, str):
        # pydantic: "input should be a valid number, unable to parse string as a number"
        what = "a whole number" if kind == "int_parsing" else "a number"
        if path.endswith(("status_quo", "at_least", "at_most", "between")):
            what += " (the value of one of the issue's anchors, not its name)"
        return Problem(source, path, f"must be {what}", value, True)
    bound = {"less_than_equal": ("le", "at most"), "greater_than_equal": ("ge", "at least"),
             "less_than": ("lt", "below"), "greater_than": ("gt", "above")}.get(kind)
    ctx = err.get("ctx") or {}
    if bound is not None and bound[0] in ctx:  # pydantic: "input should be less than or equal to 1"
        limit = ctx[bound[0]]
        percent = (kind == "less_than_equal" and limit == 1 and isinstance(value, (int, float))
                   and 2 <= value <= 100)
        return Problem(source, path, f"must be {bound[1]} {limit:g}" + (
            "; levels, shares and probabilities are fractions: write 0.5, not 50" if percent else ""), value, True)
    if kind == "literal_error" and "expected" in ctx:  # pydantic: "input should be 'convergence' or 'eum'"
        import difflib

        options = re.findall(r"'([^']*)'", str(ctx["expected"]))
        close = difflib.get_close_matches(str(value), options, n=1, cutoff=0.6) if isinstance(value, str) else []
        return Problem(source, path, f"must be {ctx['expected']}" + (f"; did you mean {close[0]}?" if close else ""),
                       value, True)
    plain = {"string_type": "must be text", "float_type": "must be a number", "int_type": "must be a whole number",
             "finite_number": "must be a finite number, not .nan or .inf"}.get(kind)
    if plain is not None:  # pydantic: "input should be a valid string"
        return Problem(source, path, plain, value, True)
    if kind == "list_type":  # pydantic: "input should be a valid list"
        return Problem(source, path, "must be a list in brackets, [a, b, ...]", value, True)
    if kind == "string_pattern_mismatch" and (err.get("ctx") or {}).get("pattern") == _NAME_PATTERN:
        return Problem(source, path, "a name must be lowercase letters, digits and _, starting with a letter",
                       value, True)
    if isinstance(value, bool) and kind in ("string_type", "float_type", "int_type", "number_or_dist",
                                            "float_parsing", "int_parsing"):
        return Problem(source, path, f"YAML read {str(value).lower()!r} as a boolean (yes/no/on/off/true/false "
                       "are booleans in YAML); quote it if you meant text, or write a number", value, True)
    if kind in _DATE_ERRORS and not isinstance(value, (dict, list, tuple)):
        return Problem(source, path, "must be a date written YYYY-MM-DD, e.g. 2018-06-12", value, True)
    if kind == "union_tag_invalid":  # pydantic: "input tag 'gamma' found using 'dist' does not match ..."
        known = ", ".join(t.strip(" '") for t in str(ctx.get("expected_tags", "")).split(","))
        return Problem(source, f"{path}.dist" if path else "dist", f"unknown distribution; known: {known}",
                       ctx.get("tag", value), True)
    if kind == "union_tag_not_found":  # pydantic: "unable to extract tag using discriminator 'dist'"
        return Problem(source, path, "a distribution needs `dist:`, naming which, e.g. {dist: uniform, low: ..., "
                       "high: ...}", value, True)
    if kind in _MAPPING_TYPES and err["loc"] and str(err["loc"][-1]).startswith("tagged-union[") and \
            path.endswith("date"):
        return Problem(source, path, "must be a date written YYYY-MM-DD or a distribution of dates, e.g. "
                       "{dist: uniform, low: 2018-06-01, high: 2018-06-30}", value, True)
    if kind in _MAPPING_TYPES and not isinstance(value, dict) and (field := _misplaced_field(root, err["loc"])):
        plural = path.rpartition(".")[0].rpartition(".")[2]  # `issues`: every key under it names an issue
        noun = plural[:-1] if plural.endswith("s") else "item"
        article = "an" if noun[0] in "aeiou" else "a"
        return Problem(source, path, f"is written as {article} {noun} of its own, but {field} is a field of each "
                       f"{noun}: indent it under its {noun}, as far as the fields beside it", value, True)
    if kind in _MAPPING_TYPES:  # pydantic: "input should be a valid dictionary or instance of Calendar"
        return Problem(source, path, "must be a mapping {key: value, ...}", value, True)
    limit = ctx.get("min_length" if kind == "too_short" else "max_length")
    # pydantic: "... at least 1 item after validation, not 0"
    if kind in ("too_short", "too_long") and limit is not None:
        return Problem(source, path, f"must have {'at least' if kind == 'too_short' else 'at most'} {limit} "
                       f"{'entry' if limit == 1 else 'entries'}", value, True)
    message = err["msg"].removeprefix("Value error, ")
    return Problem(source, path, message[:1].lower() + message[1:], value, True)
