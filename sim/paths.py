"""Dotted paths into a scenario's plain data (`agents.japan.resolve.mean`,
`events.talks.probability`): setting them (`--set`, a file's `set:`), and telling
whether two name the same field or a field and a part of it. List items are named by
index or by their `name`."""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel

from .errors import InputError, Problem
from .schema import Scenario
from .schema.scenario import CHANGED

RETIRED = frozenset(key for key, meaning in CHANGED.items() if meaning.startswith("no longer used"))
"""Fields still accepted that nothing reads: not offered where a path names no field."""

__all__ = ["apply_overrides", "check_overlaps", "child_key", "child_names", "default_blocks", "default_mappings",
           "field_keys", "known_children", "overlap"]


def apply_overrides(data: dict, overrides: dict[str, Any], source: str, option: str = "--set") -> dict:
    """Set dotted paths in a plain-data scenario. Every part but the last must
    exist (list items by index or by their `name`), except a block the schema
    defaults (`summit.bargaining`, `dynamics`, ...) or a mapping it leaves empty
    (`summit.weights`), which is created; the last may be a key the file left at its
    default. A problem names `option`, what gave the paths."""
    data = copy.deepcopy(data)
    problems = []
    for dotted, value in overrides.items():
        node: Any = data
        parts = dotted.split(".")
        for k, part in enumerate(parts):
            last = k == len(parts) - 1
            key = child_key(node, part)
            if key is None and last and isinstance(node, dict):
                key = part  # a field left at its default; the schema still refuses unknown keys
            elif key is None and isinstance(node, dict) and ".".join(parts[: k + 1]) in default_blocks() | \
                    default_mappings():
                node[part] = {}  # a block left at its defaults, or a mapping left empty
                key = part
            if key is None:
                where = ".".join(parts[:k]) or "the scenario"
                known = known_children(node, part)
                problems.append(Problem(option, dotted, f"no such field in {source}; under {where}: {known}",
                                        part, True))
                break
            if last:
                node[key] = value
            else:
                node = node[key]
    if problems:
        raise InputError(problems)
    return data


def check_overlaps(data: dict, overrides: dict[str, Any], option: str = "--set", prefix: str = "") -> None:
    """Refuse two `overrides` that set one field (`events.talks.probability` and
    `events.0.probability`) or a field and a part of it (`monte_carlo` and `monte_carlo.runs`):
    the later one silently won, and which was meant cannot be known. Problems name `option`
    (an option, or the file holding the mapping) and each path after `prefix` (`set.`)."""
    seen: dict[tuple, str] = {}
    problems = []
    for dotted in overrides:
        keys = field_keys(data, dotted)
        clash = next(((other, written) for other, written in seen.items() if overlap(keys, other)), None)
        if clash is not None:
            why = ("names the same field as" if overlap(keys, clash[0]) == "same" else
                   "overlaps (a field and a part of it)")
            problems.append(Problem(option, prefix + dotted, f"{why} {prefix}{clash[1]}: set each field once"))
        else:
            seen[keys] = dotted
    if problems:
        raise InputError(problems)


def field_keys(data: Any, dotted: str, strict: bool = False) -> tuple | None:
    """The keys of the field dotted path `dotted` addresses in `data`, each list item by its
    index (`events.talks.probability` -> ("events", 0, "probability")): two spellings of one
    field give the same keys. A part that is absent stays as written, or with `strict` the
    answer is None."""
    keys, node = [], data
    for part in dotted.split("."):
        key = child_key(node, part)
        if key is None and strict:
            return None
        keys.append(part if key is None else key)
        node = None if key is None else node[key]
    return tuple(keys)


def overlap(a: tuple, b: tuple) -> str | None:
    """How the fields with keys `a` and `b` (`field_keys`) overlap: "same", "nested" (one is
    a part of the other) or None."""
    n = min(len(a), len(b))
    if a[:n] != b[:n]:
        return None
    return "same" if len(a) == len(b) else "nested"


def default_blocks(model: type[BaseModel] = Scenario, prefix: str = "") -> set[str]:
    """Dotted paths of the blocks a scenario may leave out (their defaults are models)."""
    return _defaults_where(model, prefix, lambda default: isinstance(default, BaseModel))


def default_mappings(model: type[BaseModel] = Scenario, prefix: str = "") -> set[str]:
    """Dotted paths of the mappings a scenario may leave out, empty by default: `summit.weights`,
    whose keys (a party's Nash weight, 1 unless written) `--set` and a sweep may name though
    the file writes none."""
    return _defaults_where(model, prefix, lambda default: isinstance(default, dict))


def _defaults_where(model: type[BaseModel], prefix: str, keep) -> set[str]:
    """Dotted paths of the fields of `model` and of its blocks, at any depth, whose default `keep`s."""
    out = set()
    for name, info in model.model_fields.items():
        if keep(info.default):
            out.add(prefix + name)
        kind = info.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            out |= _defaults_where(kind, f"{prefix}{name}.", keep)
    return out


def child_names(node: Any) -> list:
    """What a dotted path may name under `node`: a mapping's keys, a list's items by `name`
    (or by index where they have none)."""
    if isinstance(node, dict):
        return list(node)
    if isinstance(node, list):
        return [item.get("name", k) if isinstance(item, dict) else k for k, item in enumerate(node)]
    return []


def known_children(node: Any, part: str) -> str:
    """What a dotted path may name under `node`, for a message about `part`, which names none of
    them: "north, south" ("...; did you mean north?" for a slip from one), or for a list whose
    items have no name but an agent (a mediator, an alliance) named by that agent, "0 (0 is the
    item of agent north: ...)", since "list items by name" reads as if the agent named it."""
    import difflib

    names = [str(name) for name in child_names(node)
             if not (isinstance(node, dict) and name in RETIRED and node[name] is None)]  # a default, unread
    known = ", ".join(names) or "none"
    if isinstance(node, list):
        hits = [str(k) for k, item in enumerate(node)
                if isinstance(item, dict) and "name" not in item and item.get("agent") == part]
        if hits:
            return known + (f" ({' and '.join(hits)} {'is the item' if len(hits) == 1 else 'are the items'} of "
                            f"agent {part}: items without a name go by their index)")
    close = difflib.get_close_matches(part, names, n=1, cutoff=0.6)  # as a misspelt key gets its field
    return known + (f"; did you mean {close[0]}?" if close else "")


def child_key(node: Any, part: str):
    """The key of dotted-path part `part` under `node`: a mapping's key, or a list's
    index given as a number or as the `name` of one of its items; None if absent."""
    if isinstance(node, dict):
        return part if part in node else None
    if isinstance(node, list):
        if part.isdigit() and int(part) < len(node):
            return int(part)
        for k, item in enumerate(node):
            if isinstance(item, dict) and item.get("name") == part:
                return k
    return None
