"""Reading scenario files: YAML, derivation (`extends`, `include`, `set`,
`remove_events`), overrides by dotted path, and validation into a `Scenario`.

`load_scenario` and `parse_scenario` turn any problem into an `InputError`
listing every problem at once, each naming the file and the field. YAML is read
by `sim.yamlfile` (duplicate keys, alias bombs, deep nesting and impossible
dates are errors). `extends` and `include` may only name YAML files inside the
scenario's tree: the folder above the scenario's own folder (so a counterfactual
can extend `../baseline.yaml`), or a folder given with `scenario_roots`
(`--scenario-root` on the command line); a file outside is never read.
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from .errors import InputError, Problem
from .schema import Scenario
from .validation import problems_from
from .yamlfile import load_yaml, not_a_mapping, read_text_file, read_yaml_file

__all__ = ["DERIVATION_KEYS", "YAML_SUFFIXES", "apply_overrides", "check_overlaps", "child_key", "derive_scenario_data",
           "dump_scenario", "field_keys", "load_scenario", "overlap", "parse_scenario", "read_yaml", "scenario_roots",
           "scenario_sources", "scenario_warnings"]

YAML_SUFFIXES = (".yaml", ".yml")
"""What a file named by `extends` or `include` must end with."""

_EXTRA_ROOTS: contextvars.ContextVar[tuple[Path, ...]] = contextvars.ContextVar("scenario_roots", default=())


@contextlib.contextmanager
def scenario_roots(*folders: str | Path) -> Iterator[None]:
    """Within the block, `extends` and `include` may also name files under `folders`."""
    token = _EXTRA_ROOTS.set(tuple(Path(f).resolve() for f in folders))
    try:
        yield
    finally:
        _EXTRA_ROOTS.reset(token)


def read_yaml(path: Path, what: str) -> Any:
    """The plain data of YAML file `path` (`what` it should be, unused by the safe loader's
    messages, which name the file and line); any problem is an `InputError`."""
    return read_yaml_file(path)


def scenario_sources(path: str | Path) -> list[tuple[Path, str]]:
    """The files a scenario is read from, in reading order, each with its role ("scenario",
    "extends", "include"): the file, then what it extends (recursively), then its includes.
    Files that cannot be read are left out (loading the scenario reports them)."""
    out: list[tuple[Path, str]] = []

    def visit(file: Path, role: str) -> None:
        if any(file == seen for seen, _ in out) or not file.is_file():
            return
        out.append((file, role))
        try:
            data = read_yaml_file(file)
        except InputError:
            return
        if not isinstance(data, dict):
            return
        if isinstance(data.get("extends"), str):
            visit((file.parent / data["extends"]).resolve(), "extends")
        includes = data.get("include")
        for name in [includes] if isinstance(includes, str) else includes if isinstance(includes, list) else []:
            if isinstance(name, str):
                visit((file.parent / name).resolve(), "include")

    visit(Path(path).resolve(), "scenario")
    return out


def load_scenario(path: str | Path, overrides: dict[str, Any] | None = None) -> Scenario:
    """Read and validate a scenario file; raise `InputError` listing every problem.

    `overrides` maps dotted paths (`agents.russia.resolve`) to values, applied to
    the YAML before validation, so they are checked like the file.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(Problem(str(path), "", "is a directory, not a scenario file"))
    return parse_scenario(read_text_file(path), source=str(path), overrides=overrides)


def parse_scenario(text: str, source: str = "<string>", overrides: dict[str, Any] | None = None) -> Scenario:
    """Validate scenario YAML text; `source` names it in error messages."""
    data = load_yaml(text, source)
    if not isinstance(data, dict):
        raise InputError(not_a_mapping(source, "scenario", data))
    data = derive_scenario_data(data, source)
    if overrides:
        check_overlaps(data, overrides)
        data = apply_overrides(data, overrides, source)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise InputError(problems_from(exc, source)) from None
    return scenario


def scenario_warnings(scenario: Scenario, source: str) -> list[Problem]:
    """A `Problem` for each field of `scenario` (read from `source`) whose meaning changed: a
    warning, not an error, so that every file that was valid stays valid."""
    return [Problem(source, path, message) for path, message in scenario.changed_fields()]


DERIVATION_KEYS = ("extends", "set", "remove_events", "include")
"""Keys of a derived scenario file, resolved before validation (`derive_scenario_data`)."""


def derive_scenario_data(data: dict, source: str, _seen: tuple[Path, ...] = (),
                         _roots: tuple[Path, ...] = ()) -> dict:
    """Resolve a derived scenario: `extends: PATH` (relative to `source`'s directory)
    loads a base file, whose top-level keys this file's other keys replace; then
    `remove_events: [name, ...]` drops events by name, `include: [FILE, ...]`
    applies files of dotted paths to values (`_apply_includes`), and `set:
    {dotted.path: value}` changes fields as `--set` does. Data without these keys is returned as
    it is. Problems name `source`; a chain of `extends` that loops is an error, and so is
    a file outside the scenario's tree (the folder above `source`'s folder, and the
    folders of `scenario_roots`), which is not read.
    """
    if not any(key in data for key in DERIVATION_KEYS):
        return data
    data = dict(data)
    extends, sets, removes, includes = (data.pop(key, None) for key in DERIVATION_KEYS)
    here = Path(source)
    seen = _seen or ((here.resolve(),) if here.is_file() else ())
    roots = _roots or (here.resolve().parent.parent, *_EXTRA_ROOTS.get())
    if extends is not None:
        data = {**_load_base(extends, source, seen, roots), **data}
    if removes is not None:
        data = _remove_events(data, removes, source)
    if includes is not None:
        data = _apply_includes(data, includes, source, roots)
    if sets is not None:
        if not isinstance(sets, dict) or not all(isinstance(k, str) for k in sets):
            raise InputError(Problem(source, "set", "must be a mapping of dotted paths to values, "
                                     "e.g. {agents.russia.resolve: 0.8}", sets, True))
        try:
            data = apply_overrides(data, sets, source)
        except InputError as exc:
            raise InputError([Problem(source, f"set.{p.path}", "no such field in the scenario"
                                      + (" it extends" if extends is not None else ""), p.value, p.has_value)
                              for p in exc.problems]) from None
    return data


def _resolve_inside(name: str, source: str, where: str, roots: tuple[Path, ...]) -> Path:
    """The file `name` (relative to `source`'s folder) names, if it is a YAML file
    inside one of `roots`; else an `InputError` (and the file is not read)."""
    path = Path(source).parent / name
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError, ValueError) as exc:
        raise InputError(Problem(source, where, f"cannot resolve the path ({exc})", name, True)) from None
    if resolved.suffix.lower() not in YAML_SUFFIXES:
        raise InputError(Problem(source, where, "must name a YAML file (.yaml or .yml)", name, True))
    if not any(resolved.is_relative_to(root) for root in roots):
        raise InputError(Problem(source, where, f"must name a file inside {roots[0]} (the folder above this "
                                 "scenario's); name another folder with --scenario-root", name, True))
    return path


def _read_derived(path: Path, source: str, where: str, name: str) -> Any:
    """The YAML data of a file named by `extends` or `include`; a problem reading it is
    reported against `source`'s field, naming the file and the line."""
    try:
        return load_yaml(read_text_file(path), str(path))
    except InputError as exc:
        p = exc.problems[0]
        if p.message.startswith("cannot read file: "):
            message = f"cannot read {path}: {p.message.removeprefix('cannot read file: ')}"
        elif p.message.startswith("is "):
            message = f"{path} {p.message}"
        else:
            at = f" at {p.path}" if p.path else ""
            message = f"{path} is not valid YAML{at}: {p.message.removeprefix('invalid YAML: ')}"
        raise InputError(Problem(source, where, message, name, True)) from None


def _load_base(extends: Any, source: str, seen: tuple[Path, ...], roots: tuple[Path, ...]) -> dict:
    """The plain data of the file `extends` names, itself derived if it extends another."""
    if not isinstance(extends, str) or not extends.strip():
        raise InputError(Problem(source, "extends", "must be the path of a scenario file, "
                                 "relative to this file", extends, True))
    path = _resolve_inside(extends, source, "extends", roots)
    key = path.resolve()
    if key in seen:
        chain = " -> ".join(str(p) for p in (*seen, key))
        raise InputError(Problem(source, "extends", f"makes a cycle: {chain}", extends, True))
    base = _read_derived(path, source, "extends", extends)
    if not isinstance(base, dict):
        raise InputError(Problem(source, "extends", f"{path} is not a YAML mapping of scenario keys",
                                 extends, True))
    unknown = [k for k in base if k not in Scenario.model_fields and k not in DERIVATION_KEYS]
    if unknown:
        shown = ", ".join(repr(str(k))[:40] for k in unknown[:3]) + (", ..." if len(unknown) > 3 else "")
        raise InputError(Problem(source, "extends", f"{path} is not a scenario file: unknown top-level "
                                 f"keys {shown}", extends, True))
    return derive_scenario_data(base, str(path), (*seen, key), roots)


def _apply_includes(data: dict, includes: Any, source: str, roots: tuple[Path, ...]) -> dict:
    """`include: [FILE, ...]` (relative to `source`'s directory): each file is a
    mapping of dotted paths to values (a `calibration.yaml`, say), applied in
    order as `--set` applies them, after `extends` and `remove_events` and
    before this file's own `set`."""
    names = [includes] if isinstance(includes, str) else includes
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n.strip() for n in names):
        raise InputError(Problem(source, "include", "must be a file name or a list of them, "
                                 "relative to this file", includes, True))
    for k, name in enumerate(names):
        where = "include" if isinstance(includes, str) else f"include.{k}"
        path = _resolve_inside(name, source, where, roots)
        values = _read_derived(path, source, where, name)
        if not isinstance(values, dict) or not all(isinstance(key, str) for key in values):
            raise InputError(Problem(source, where, f"{path} must be a mapping of dotted paths to values, "
                                     "e.g. {dynamics.noise: 0.02}", name, True))
        try:
            data = apply_overrides(data, values, source)
        except InputError as exc:
            raise InputError([Problem(str(path), p.path, "no such field in the scenario that includes it "
                                      f"({source})", p.value, p.has_value) for p in exc.problems]) from None
    return data


def _remove_events(data: dict, removes: Any, source: str) -> dict:
    events = data.get("events") or []
    if not isinstance(removes, list) or not all(isinstance(name, str) for name in removes):
        raise InputError(Problem(source, "remove_events", "must be a list of event names", removes, True))
    if not isinstance(events, list):
        return data  # the schema reports a malformed `events`
    known = [e.get("name") for e in events if isinstance(e, dict)]
    problems = [Problem(source, f"remove_events.{k}",
                        f"no such event; known: {', '.join(map(str, known)) or 'none'}", name, True)
                for k, name in enumerate(removes) if name not in known]
    if problems:
        raise InputError(problems)
    return {**data, "events": [e for e in events if not (isinstance(e, dict) and e.get("name") in removes)]}


def apply_overrides(data: dict, overrides: dict[str, Any], source: str) -> dict:
    """Set dotted paths in a plain-data scenario. Every part but the last must
    exist (list items by index or by their `name`), except a block the schema
    defaults (`summit.bargaining`, `dynamics`, ...), which is created; the last may
    be a key the file left at its default."""
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
            elif key is None and isinstance(node, dict) and ".".join(parts[: k + 1]) in default_blocks():
                node[part] = {}  # a block left at its defaults
                key = part
            if key is None:
                problems.append(Problem("--set", dotted, f"no such field in {source}", part, True))
                break
            if last:
                node[key] = value
            else:
                node = node[key]
    if problems:
        raise InputError(problems)
    return data


def check_overlaps(data: dict, overrides: dict[str, Any], option: str = "--set") -> None:
    """Refuse two `overrides` that set one field (`events.talks.probability` and
    `events.0.probability`) or a field and a part of it (`monte_carlo` and `monte_carlo.runs`):
    the later one silently won, and which was meant cannot be known."""
    seen: dict[tuple, str] = {}
    problems = []
    for dotted in overrides:
        keys = field_keys(data, dotted)
        clash = next(((other, written) for other, written in seen.items() if overlap(keys, other)), None)
        if clash is not None:
            why = ("names the same field as" if overlap(keys, clash[0]) == "same" else
                   "overlaps (a field and a part of it)")
            problems.append(Problem(option, dotted, f"{why} {clash[1]}: set each field once"))
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
    out = set()
    for name, info in model.model_fields.items():
        if isinstance(info.default, BaseModel):
            out.add(prefix + name)
        kind = info.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            out |= default_blocks(kind, f"{prefix}{name}.")
    return out


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


def dump_scenario(scenario: Scenario) -> str:
    """The scenario as YAML that `parse_scenario` reads back to an equal object."""
    data = scenario.model_dump(mode="json", exclude_defaults=False)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
