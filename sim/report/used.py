"""Which values of a run's scenario files the run did not use, by its `inputs/resolved.yaml`.

A derived scenario (`extends:` with `remove_events:`, `set:`, `include:`, or a top-level key
of its own that replaces the base's whole key) and `--set` make a run use values other than
those its files write. `inputs/resolved.yaml` is the scenario as the run validated it; a value
of a file that it does not hold at the same place (an event removed, a field replaced) was not
used. List items are matched by `name` where they have one (an event removed before another
moves that one up a place), else by index; values are compared as data (a date and its ISO
text, 1 and 1.0 are the same). Why a value was not used is read from the files themselves,
in the order sim applies them (`sim.loading.derive_scenario_data`): for each file from the
deepest base up, its own keys, its `remove_events:`, its includes and its `set:`; then `--set`.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..loading import DERIVATION_KEYS
from .collect import Input
from .comments import format_value

__all__ = ["NotUsed", "not_used_rows"]

_MISSING = object()


@dataclass(frozen=True)
class NotUsed:
    """Why one value of a file was not used by the run."""

    cause: str  # "removed by remove_events in derived.yaml", "replaced by set: in derived.yaml"; "" if not known
    used: str | None  # the value the run used there, as text; None where the scenario holds none
    shown: bool = True  # False for a value inside an item that already says so (a removed event's fields)

    @property
    def text(self) -> str:
        parts = [self.cause] if self.cause else []
        if self.used is not None:
            parts.append(f"the run used {self.used}")
        elif not self.cause:
            parts.append("not in the scenario the run used")
        return "; ".join(parts)


@dataclass
class _Write:
    order: int
    keys: tuple[str, ...]
    cause: str


def not_used_rows(inputs: list[Input], resolved: Any, overrides: dict[str, Any]) -> dict[tuple[str, str], NotUsed]:
    """{(input file, row path): NotUsed} of the values (and groups) of `inputs` that the
    resolved scenario `resolved` (plain data) does not hold; `overrides` are the `--set` paths."""
    if not isinstance(resolved, dict):
        return {}
    writes, own_order = _writes(inputs, resolved, overrides)
    out: dict[tuple[str, str], NotUsed] = {}
    for item in inputs:
        data = item.parsed.data if item.parsed is not None else None
        if not isinstance(data, dict):
            continue
        for row in item.parsed.rows:
            parts = row.path.split(".")
            if item.role != "include" and parts[0] in DERIVATION_KEYS:
                if parts[0] != "set" or len(parts) == 1:
                    continue  # extends:, include:, remove_events: say how, they hold no value of the scenario
                order, parts, mirror = own_order.get((item.file, "set"), 0), parts[1:], None
            elif item.role == "include":
                order, mirror = own_order.get((item.file, "include"), 0), None
            else:
                order, mirror = own_order.get((item.file, "own"), 0), data
            value, keys = _locate(resolved, parts, mirror)
            if row.value is None and value is not _MISSING:
                continue  # a group the scenario holds: its values say for themselves
            if value is not _MISSING and _plain(value) == _plain(row.raw):
                continue
            cause = next((w.cause for w in reversed(writes) if w.order > order and _overlap(w.keys, keys)), "")
            used = None if value is _MISSING or row.value is None else _shorten(format_value(value))
            out[(item.file, row.path)] = NotUsed(cause, used)
    return _hide_inside_groups(out)


def _hide_inside_groups(out: dict[tuple[str, str], NotUsed]) -> dict[tuple[str, str], NotUsed]:
    """A value inside a group marked for the same cause is marked without saying it again."""
    for (file, path), why in out.items():
        parts = path.split(".")
        for k in range(1, len(parts)):
            above = out.get((file, ".".join(parts[:k])))
            if above is not None and above.shown and above.cause == why.cause and why.used is None:
                out[(file, path)] = NotUsed(why.cause, None, shown=False)
                break
    return out


def _writes(inputs: list[Input], resolved: dict, overrides: dict[str, Any]
            ) -> tuple[list[_Write], dict[tuple[str, str], int]]:
    """What each file writes, in the order sim applies it, and the order of each file's own
    keys (`own`), its `set:` and (for an included file) its values (`include`)."""
    chain = [i for i in inputs if i.role in ("scenario", "extends") and isinstance(_data(i), dict)]
    included = [i for i in inputs if i.role == "include" and isinstance(_data(i), dict)]
    writes: list[_Write] = []
    orders: dict[tuple[str, str], int] = {}
    order = 0
    for item in reversed(chain):  # the deepest base first
        data, name = _data(item), Path(item.source).name or item.file
        order += 1
        orders[(item.file, "own")] = order
        writes += [_Write(order, (str(key),), f"replaced by {key}: in {name}") for key in data
                   if key not in DERIVATION_KEYS]
        order += 1
        removes = data.get("remove_events")
        writes += [_Write(order, ("events", str(event)), f"removed by remove_events in {name}")
                   for event in (removes if isinstance(removes, list) else [])]
        includes = data.get("include")
        for include in [includes] if isinstance(includes, str) else includes if isinstance(includes, list) else []:
            found = _included(item, str(include), included)
            if found is None:
                continue
            order += 1
            orders[(found.file, "include")] = order
            writes += [_Write(order, _locate(resolved, str(key).split("."))[1],
                              f"replaced by include {Path(found.source).name or found.file}") for key in _data(found)]
        order += 1
        orders[(item.file, "set")] = order
        sets = data.get("set")
        writes += [_Write(order, _locate(resolved, str(key).split("."))[1], f"replaced by set: in {name}")
                   for key in (sets if isinstance(sets, dict) else {})]
    order += 1
    writes += [_Write(order, _locate(resolved, str(key).split("."))[1], "replaced by --set") for key in overrides]
    return writes, orders


def _data(item: Input) -> Any:
    return item.parsed.data if item.parsed is not None else None


def _included(item: Input, name: str, included: list[Input]) -> Input | None:
    """The input file that `item`'s `include:` entry `name` names."""
    wanted = os.path.normpath(Path(item.source).parent / name)
    found = next((i for i in included if os.path.normpath(i.source) == wanted), None)
    return found or next((i for i in included if Path(i.source).name == Path(name).name), None)


def _locate(node: Any, parts: list[str], mirror: Any = None) -> tuple[Any, tuple[str, ...]]:
    """The value at dotted-path `parts` in the resolved scenario (`_MISSING` if it holds none)
    and the path with every named list item by its name. `mirror` is the file's data the path
    was read from: an item it names by index is found by the `name` it has there."""
    keys: list[str] = []
    for k, part in enumerate(parts):
        name = None
        if isinstance(mirror, list) and part.isdigit() and int(part) < len(mirror):
            item = mirror[int(part)]
            name = item.get("name") if isinstance(item, dict) and isinstance(item.get("name"), str) else None
        mirror = _child(mirror, part)
        if isinstance(node, list):
            if name is not None:
                index = next((j for j, v in enumerate(node) if isinstance(v, dict) and v.get("name") == name), None)
            elif part.isdigit() and int(part) < len(node):
                index = int(part)
            else:
                index = next((j for j, v in enumerate(node) if isinstance(v, dict) and v.get("name") == part), None)
            if index is None:
                return _MISSING, (*keys, name or part, *parts[k + 1:])
            node = node[index]
            named = node.get("name") if isinstance(node, dict) else None
            keys.append(named if isinstance(named, str) else str(index))
        elif isinstance(node, dict) and part in node:
            node = node[part]
            keys.append(part)
        else:
            return _MISSING, (*keys, *parts[k:])
    return node, tuple(keys)


def _shorten(text: str, width: int = 80) -> str:
    return text if len(text) <= width else text[: width - 1].rstrip() + "\u2026"


def _child(node: Any, part: str) -> Any:
    if isinstance(node, dict):
        return node.get(part)
    if isinstance(node, list) and part.isdigit() and int(part) < len(node):
        return node[int(part)]
    return None


def _overlap(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Whether one path is the other or a part of it."""
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def _plain(value: Any) -> Any:
    """A value as data to compare: mappings and lists of plain values, numbers as floats, dates as ISO text."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)
