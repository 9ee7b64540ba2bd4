"""The table of where a scenario names an agent or an issue (`sim.strategies.references`): it
lists every field of the schema that holds such names, and a rename through it of any agent or
issue of any scenario gives the same scenario, which forecasts the same."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Union, get_args, get_origin, get_type_hints

import numpy as np
import pytest
import yaml
from conftest import every_reference_dict
from pydantic import BaseModel

import sim
from sim import InputError, load_scenario, parse_scenario
from sim.schema import Name, Scenario, Signed, Trust
from sim.strategies.mutations import _plain_data
from sim.strategies.references import NOT_REFERENCES, REFERENCES, name_sites, rename

ROOT = Path(__file__).resolve().parents[1]
RUNS = 1024


def _name_fields() -> dict[tuple[type[BaseModel], str], set[str]]:
    """{(model, field): where the field holds names ("text", "item", "key", "mapping value")} for every field of
    every model the scenario schema reaches: read from the annotations, not from the table."""
    out: dict[tuple[type[BaseModel], str], set[str]] = {}
    seen: set[type] = set()

    def visit(tp, field, where):
        if tp == Name:
            out.setdefault(field, set()).add(where)
        elif get_origin(tp) is Annotated:
            visit(get_args(tp)[0], field, where)
        elif isinstance(tp, type) and issubclass(tp, BaseModel):
            model(tp)
        elif get_origin(tp) is dict:
            key, value = get_args(tp)
            visit(key, field, "key")
            visit(value, field, "mapping value")
        elif get_origin(tp) in (list, tuple):
            for arg in get_args(tp):
                visit(arg, field, "item")
        elif get_origin(tp) is Union or type(tp).__name__ == "UnionType":
            for arg in get_args(tp):
                visit(arg, field, where)

    def model(cls):
        if cls not in seen:
            seen.add(cls)
            hints = get_type_hints(cls, include_extras=True)
            for name in cls.model_fields:
                visit(hints[name], (cls, name), "text")

    model(Scenario)
    return out


def test_every_field_of_the_schema_that_holds_names_is_in_the_table():
    """Each schema field typed `Name` (the text, a list's items, a mapping's keys) is either a
    reference to an agent or issue (`REFERENCES`) or a name of its own (`NOT_REFERENCES`): a field
    added to the schema fails here until the table says which. No mapping holds names as values,
    which `name_sites` would not find."""
    fields = _name_fields()
    assert {(Scenario, "agents"), (Signed, "signed"), (Trust, "between")} <= set(fields)  # nested models reached
    assert set(REFERENCES).isdisjoint(NOT_REFERENCES)
    assert set(fields) == set(REFERENCES) | NOT_REFERENCES, {
        "in the schema, not the table": sorted(f"{m.__name__}.{n}" for m, n in set(fields) - set(REFERENCES)
                                               - NOT_REFERENCES),
        "in the table, not the schema": sorted(f"{m.__name__}.{n}" for m, n in (set(REFERENCES) | NOT_REFERENCES)
                                               - set(fields))}
    assert not any("mapping value" in where for where in fields.values()), fields


def test_the_scenario_with_every_reference_has_every_reference():
    """The test scenario that names agents and issues in every field of the table does."""
    data = every_reference_dict()
    assert {site.field for site in name_sites(Scenario.model_validate(data), data)} == set(REFERENCES)


def _loads(path: Path) -> bool:
    try:
        load_scenario(path)
    except InputError:
        return False  # a sweep or knob spec, not a scenario
    return True


SCENARIOS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "scenarios").rglob("*.yaml") if _loads(p))
DEFAULT_RUN = ("scenarios/baseline.yaml", "scenarios/tutorial/", "scenarios/examples/")
"""Files renamed in the default run (4 s): the baseline, the tutorial, and the examples, which use
the veto, `required`, mediators and `signed`; the history and the rest (8 s) under slow."""


def _renamings(scenario: Scenario) -> list[tuple[dict, dict]]:
    """Each agent and each issue renamed alone, to a name that moves it to the front of the
    canonical (sorted) order, or to the back if it is first; then all of them at once, reversed."""
    out = []
    for kind, names in (("agents", list(scenario.agents)), ("issues", list(scenario.issues))):
        for name in names:
            new = f"zz_{name}" if name == min(names) else f"a0_{name}"
            out.append(({name: new}, {}) if kind == "agents" else ({}, {name: new}))
    agents, issues = list(scenario.agents), list(scenario.issues)
    out.append((dict(zip(agents, reversed(agents))), dict(zip(issues, reversed(issues)))))
    return out


@pytest.mark.parametrize("name", [name if name.startswith(DEFAULT_RUN) else pytest.param(name, marks=pytest.mark.slow)
                                  for name in SCENARIOS] + ["every reference"])
def test_renaming_an_agent_or_an_issue_changes_no_forecast(name):
    """Every agent and every issue of each scenario renamed, one at a time, then all swapped at
    once: the data loads (no reference left dangling), names the new agents and issues, and
    forecasts the same class counts at the same seed (the model works in canonical order, so a
    name is only a label)."""
    if name == "every reference":
        scenario = parse_scenario(yaml.safe_dump(every_reference_dict()))
    else:
        scenario = load_scenario(ROOT / name)
    data = _plain_data(scenario)
    assert isinstance(data["calendar"]["start"], dt.date)
    expected = sim.run(scenario, runs=RUNS, seed=1).counts
    for agents, issues in _renamings(scenario):
        renamed = parse_scenario(yaml.safe_dump(rename(data, agents, issues)), source=f"{name} renamed")
        assert set(renamed.agents) == {agents.get(a, a) for a in scenario.agents}
        assert set(renamed.issues) == {issues.get(i, i) for i in scenario.issues}
        counts = sim.run(renamed, runs=RUNS, seed=1).counts
        assert np.array_equal(counts, expected), (agents, issues, counts, expected)


def test_a_rename_keeps_each_mapping_in_the_order_written():
    """A renamed agent or issue keeps its place among the agents, the issues, each agent's stances
    and the weights (the order of named entries is part of a scenario's hash); the data given is
    not changed."""
    data = every_reference_dict()
    renamed = rename(data, {"north": "zz_north"}, {"land": "zz_land"})
    assert list(renamed["agents"]) == ["zz_north", "south", "patron", "broker"]
    assert list(renamed["issues"]) == ["zz_land", "trade"]
    assert list(renamed["agents"]["south"]["issues"]) == ["zz_land", "trade"]
    assert list(renamed["summit"]["weights"]) == ["zz_north", "south"]
    assert data == every_reference_dict()  # the data renamed is a copy


@pytest.mark.parametrize("agents, issues, message", [
    ({"nobody": "x"}, {}, "rename: agents: renames no agent of the scenario; agents: north, south, patron, broker "
                          "(got 'nobody')"),
    ({"north": "south"}, {}, "rename: agents: gives two agents one name"),
    ({}, {"land": "trade"}, "rename: issues: gives two issues one name"),
], ids=["unknown", "agents-merged", "issues-merged"])
def test_a_rename_that_is_not_one_is_an_input_error(agents, issues, message):
    """Renaming a name the scenario does not define, or two names to one (which would merge two
    agents' entries into one: another scenario), is refused rather than done silently."""
    with pytest.raises(InputError) as caught:
        rename(every_reference_dict(), agents, issues)
    assert str(caught.value.problems[0]).startswith(message), str(caught.value.problems[0])
