"""Where a scenario names an agent or an issue: one table of the schema's fields that refer to
one by name, so that a mutation can break any one reference (`unknown_agent`, `unknown_issue`)
and a rename can change every one (tests that renaming changes no forecast).

The schema's `Name` type does not say what a name refers to (an event's own name is a `Name`
too), hence the table; `tests/test_references.py` fails when a schema field holding names is in
neither `REFERENCES` nor `NOT_REFERENCES`: a field added to the schema is added here.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import NamedTuple

from pydantic import BaseModel

from ..errors import InputError, Problem
from .outcome import AllOf, AnyOf, Level, Outcome, Signed
from .scenario import Agent, Alliance, Effect, Election, Event, Incident, Issue, Relations, Scenario, Trust
from .summit import Mediator, Roles, Summit

__all__ = ["DEFINITIONS", "NOT_REFERENCES", "ORDERLESS", "PROSE", "REFERENCES", "Site", "name_sites", "rename",
           "rename_at"]

DEFINITIONS = {"agent": "agents", "issue": "issues"}
"""Each kind of name and the top-level table whose keys define the names of that kind."""

REFERENCES: dict[tuple[type[BaseModel], str], str] = {
    (Scenario, "agents"): "agent",  # the definitions (keys)
    (Summit, "parties"): "agent",
    (Summit, "required"): "agent",
    (Summit, "weights"): "agent",  # keys
    (Roles, "veto"): "agent",
    (Mediator, "agent"): "agent",
    (Trust, "between"): "agent",
    (Alliance, "agent"): "agent",
    (Alliance, "patron"): "agent",
    (Effect, "agent"): "agent",
    (Effect, "between"): "agent",
    (Signed, "signed"): "agent",
    (Scenario, "issues"): "issue",  # the definitions (keys)
    (Agent, "issues"): "issue",  # keys: the agent's stance on each issue
    (Alliance, "issues"): "issue",
    (Effect, "issue"): "issue",
    (Level, "issue"): "issue",
}
"""(model, field) of every field whose names (the keys of a mapping, the items of a list, or the
text itself) are those of agents or issues, and which kind."""

NOT_REFERENCES = {(Scenario, "name"), (Issue, "anchors"), (Election, "name"), (Event, "name"), (Incident, "name")}
"""(model, field) of the fields holding names that are their own, not an agent's or an issue's."""

PROSE = {(Agent, "description"), (Issue, "description"), (Incident, "description"), (Event, "source"),
         (Election, "source")}
"""(model, field) of the text that documents a scenario (a description, the sentence of the
source an event or election encodes) and that no number of the model reads. With
`NOT_REFERENCES`' own names of events, incidents, elections and anchors, `sim.canonical.
inputs_hash` leaves it out: a case reworded is the same meeting."""

ORDERLESS = {
    (Agent, "elections"), (Relations, "trust"), (Trust, "between"), (Effect, "between"), (Relations, "alliances"),
    (Alliance, "issues"),
    (Summit, "parties"), (Summit, "required"), (Roles, "veto"), (Roles, "mediators"),
    (Scenario, "events"), (Scenario, "incidents"),
    (Outcome, "breakthrough"), (Outcome, "substantive"), (AllOf, "all"), (AnyOf, "any"), (Signed, "signed"),
}
"""(model, field) of the lists whose order the model does not read (the engine works in canonical
order, `sim.canonical`; events run by date then name, incidents by name; the summit has no
proposer; a rubric's `any` and `all` read no order; an effect's `between` is a trust pair, which has
no direction). No mapping's order is read either. The
effects of one event or incident are not here: they apply one after another. `sim.canonical.
inputs_hash` ignores these orders; tests/test_invariance.py lists them in drawn orders and checks
that no replicate changes, and neither does the hash."""


class Site(NamedTuple):
    """One place a scenario's plain data names an agent or an issue."""

    kind: str  # "agent" or "issue"
    name: str
    path: tuple  # the keys and indices down to it
    is_key: bool  # the name is that mapping's key (the last of `path`), not a value
    field: tuple[type[BaseModel], str]  # the entry of `REFERENCES` that says so

    @property
    def is_definition(self) -> bool:
        return self.path == (DEFINITIONS[self.kind], self.name)


def name_sites(scenario: Scenario, data: dict) -> Iterator[Site]:
    """Every place the plain data `data` of `scenario` (what `yaml.safe_load` gives its file, or
    what a strategy drew) names an agent or an issue, the definitions included. The validated
    `scenario` says which model each block is (a condition, one trust entry or a list of them),
    which the plain data leaves to the reader."""
    yield from _sites(scenario, data, ())


def _sites(model, plain, path: tuple) -> Iterator[Site]:
    if isinstance(model, BaseModel) and isinstance(plain, dict):
        for key, value in plain.items():
            field = (type(model), key)
            kind = REFERENCES.get(field)
            if kind is not None:
                if isinstance(value, dict):
                    yield from (Site(kind, name, path + (key, name), True, field) for name in value)
                elif isinstance(value, list):
                    yield from (Site(kind, name, path + (key, j), False, field) for j, name in enumerate(value))
                elif isinstance(value, str):
                    yield Site(kind, value, path + (key,), False, field)
            yield from _sites(getattr(model, key), value, path + (key,))
    elif isinstance(model, Mapping) and isinstance(plain, dict):
        for key, value in plain.items():
            yield from _sites(model[key], value, path + (key,))
    elif isinstance(model, (list, tuple)) and isinstance(plain, list):
        for k, (m, value) in enumerate(zip(model, plain)):
            yield from _sites(m, value, path + (k,))


def rename_at(data: dict, path: tuple, is_key: bool, new: str) -> None:
    """Rename, in place, the one name at `path` of `data` to `new`."""
    if is_key:
        _rename_keys(_node(data, path[:-1]), {path[-1]: new})
    else:
        _node(data, path[:-1])[path[-1]] = new


def _node(data: dict, path: tuple):
    for key in path:
        data = data[key]
    return data


def _rename_keys(mapping: dict, new: Mapping[str, str]) -> None:
    """Every key of `mapping` renamed at once (a swap {a: b, b: a} is no clash), each entry in its place."""
    items = list(mapping.items())
    mapping.clear()
    mapping.update((new.get(key, key), value) for key, value in items)


def rename(data: dict, agents: Mapping[str, str] | None = None, issues: Mapping[str, str] | None = None) -> dict:
    """A copy of the valid plain data `data` with agents and issues renamed ({old: new}, a
    permutation allowed) wherever they are named: the same scenario under other names, each
    mapping's entries in the order written. An old name that is not the scenario's, or a new one
    that two would share, is an `InputError`."""
    new = {"agent": dict(agents or {}), "issue": dict(issues or {})}
    for kind, argument in (("agent", "agents"), ("issue", "issues")):
        defined = list(data[DEFINITIONS[kind]])
        after = [new[kind].get(name, name) for name in defined]
        unknown = sorted(set(new[kind]) - set(defined))
        if unknown:
            raise InputError(Problem("rename", argument, f"renames no {kind} of the scenario; "
                                     f"{argument}: {', '.join(defined)}", unknown[0], True))
        if len(set(after)) != len(after):  # two entries would merge into one: another scenario
            raise InputError(Problem("rename", argument, f"gives two {argument} one name", new[kind], True))
    out = copy.deepcopy(data)
    sites = list(name_sites(Scenario.model_validate(data), data))
    # values first, then keys inner before outer (a path to an inner key holds the outer keys'
    # old names), and every key of a mapping at once (so a swap {a: b, b: a} never clashes)
    for site in sites:
        if not site.is_key and site.name in new[site.kind]:
            rename_at(out, site.path, False, new[site.kind][site.name])
    done: set[tuple] = set()
    for site in sorted((s for s in sites if s.is_key), key=lambda s: -len(s.path)):
        if site.path[:-1] not in done:
            done.add(site.path[:-1])
            _rename_keys(_node(out, site.path[:-1]), new[site.kind])
    return out
