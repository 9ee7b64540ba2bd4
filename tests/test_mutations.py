"""Property tests of a user's own scenario (README, "Library use and property tests"):
`sim.strategies.mutations_of` breaks one thing in a given scenario, a file that extends a base
included, and loading what it gives either succeeds or raises `InputError`, never a traceback."""

from __future__ import annotations

import collections
import copy
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import every_reference_dict, small_dict
from hypothesis import event, given, settings
from hypothesis import strategies as st

from sim import InputError, load_scenario, parse_scenario
from sim.strategies import MUTATIONS, mutated_scenario_dicts, mutations_of
from sim.strategies.mutations import _dangling_sites, _key_sites, _parent, _plain_data
from sim.strategies.references import name_sites, rename_at

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
FILES = ["scenarios/baseline.yaml", "scenarios/history/sochi_2016.yaml", "tests/data/small.yaml"]


def _outcome(data: dict) -> str:
    """"loads" or "refused": anything but an `InputError` fails the test."""
    try:
        parse_scenario(yaml.safe_dump(data), source="mutant.yaml")
    except InputError as exc:
        assert exc.problems and all(str(p) for p in exc.problems)
        return "refused"
    return "loads"


@pytest.mark.parametrize("name", [pytest.param(name, marks=pytest.mark.slow) if name.startswith("scenarios/") else name
                                  for name in FILES])  # the repository's own files (10 s) under slow
def test_every_mutation_of_a_users_scenario_loads_or_is_one_clear_input_error(name):
    """Each kind of mutation of the baseline, of a history case that extends `_base.yaml` and of
    the small test scenario occurs, and each mutant loads or raises InputError; most are refused
    (the mutations are not trivial), and each kind is refused at least once."""
    strategies = {kind: mutations_of(ROOT / name, kinds=(kind,)) for kind in MUTATIONS}
    seen: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)

    @settings(max_examples=20 * len(MUTATIONS), database=None)
    @given(st.sampled_from(MUTATIONS).flatmap(lambda kind: st.tuples(st.just(kind), strategies[kind])))
    def check(drawn):
        kind, data = drawn
        outcome = _outcome(data)
        event(f"{kind}: {outcome}")
        seen[kind][outcome] += 1

    check()
    assert set(seen) == set(MUTATIONS), seen
    refused = sum(c["refused"] for c in seen.values())
    assert refused > 0.6 * sum(sum(c.values()) for c in seen.values()), seen
    assert all(c["refused"] for c in seen.values()), seen


@pytest.mark.parametrize("name", FILES)
def test_the_data_mutated_is_the_scenario_itself(name):
    """Unmutated, the plain data `mutations_of` starts from loads back to the scenario it came
    from, so every mutation is one change to the user's own scenario."""
    scenario = load_scenario(ROOT / name)
    data = _plain_data(scenario)
    assert isinstance(data["calendar"]["vantage"], dt.date)
    assert parse_scenario(yaml.safe_dump(data)) == scenario


def test_a_scenario_object_and_its_file_give_the_same_resolved_data_with_dates():
    """`mutations_of` of a `Scenario` mutates the resolved scenario (the base a file extends
    merged in), dates as dates, as `yaml.safe_load` gives a file's: an event moved after the
    summit of a scenario whose summit date is a window moves it past the window's end."""
    scenario = load_scenario(ROOT / "scenarios/history/sochi_2016.yaml")

    @settings(max_examples=20, database=None)
    @given(mutations_of(scenario, kinds=("event_after_summit",)))
    def check(data):
        assert "extends" not in data and data["name"] == "sochi_2016"
        assert isinstance(data["calendar"]["start"], dt.date)
        date = data["summit"]["date"]
        latest = date if isinstance(date, dt.date) else date["high"]
        assert any(isinstance(e["date"], dt.date) and e["date"] > latest for e in data["events"])
        with pytest.raises(InputError):
            parse_scenario(yaml.safe_dump(data))

    check()


def test_a_scenario_without_events_incidents_or_alliances_is_mutated_too():
    """A bare scenario (no events, incidents, alliances, a fixed summit date) gets every kind of
    mutation; moving an event after the summit adds one, after the summit's date."""
    bare = small_dict()
    for key in ("events", "incidents"):
        del bare[key]
    del bare["relations"]["alliances"]
    bare["summit"]["date"] = dt.date(2020, 3, 1)
    scenario = parse_scenario(yaml.safe_dump(bare))
    seen: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    strategies = {kind: mutations_of(scenario, kinds=(kind,)) for kind in MUTATIONS}

    @settings(max_examples=10 * len(MUTATIONS), database=None)
    @given(st.sampled_from(MUTATIONS).flatmap(lambda kind: st.tuples(st.just(kind), strategies[kind])))
    def check(drawn):
        kind, data = drawn
        if kind == "event_after_summit":  # the one change: an event added
            assert "alliances" not in data["relations"] and "incidents" not in data
            assert [e["date"] > dt.date(2020, 3, 1) for e in data["events"]] == [True]
        seen[kind][_outcome(data)] += 1

    check()
    assert set(seen) == set(MUTATIONS) and all(c["refused"] for c in seen.values()), seen


@pytest.mark.parametrize("name", ["scenarios/tutorial/fisheries.yaml", "tests/data/small.yaml"])
def test_every_salience_sum_mutant_is_refused(name):
    """A salience_sum mutant is what its kind says, saliences that no longer sum to 1: the
    salience it sets is never the one written (the fisheries' 1.0 for a minister with one issue,
    a boundary hypothesis draws often) nor within the schema's 1e-6 of it, so none loads."""

    @settings(max_examples=300, database=None)
    @given(mutations_of(ROOT / name, kinds=("salience_sum",)))
    def check(data):
        assert _outcome(data) == "refused"

    check()


@pytest.mark.parametrize("name", ["scenarios/tutorial/fisheries.yaml", "tests/data/small.yaml"])
def test_every_place_an_unknown_key_is_added_refuses_a_key_whatever_its_value(name):
    """unknown_key adds a key only where the schema refuses one: a key added at any place it may
    choose, with a value valid almost anywhere (0.25), is refused. An issue's `anchors` name
    their own keys, so a new anchor of 0.25 (hypothesis's junk draws such floats) was a valid
    file under this kind's name."""
    data = _plain_data(load_scenario(ROOT / name))
    for path in _key_sites(data):
        mutant = copy.deepcopy(data)
        _parent(mutant, path + ("added_x",))["added_x"] = 0.25
        assert _outcome(mutant) == "refused", path


@pytest.mark.parametrize("name", ["scenarios/tutorial/fisheries.yaml", "tests/data/small.yaml"])
def test_only_a_deletion_or_a_replacement_may_load(name):
    """The README's word: most mutations are refused, but a deletion (of an optional field) or a
    replacement (by junk valid where it lands) may load; a mutant of any other kind never does."""
    kinds = tuple(k for k in MUTATIONS if k not in ("delete", "replace"))

    @settings(max_examples=300, database=None)
    @given(mutations_of(ROOT / name, kinds=kinds))
    def check(data):
        assert _outcome(data) == "refused"

    check()


def test_an_event_after_the_summit_is_made_from_dates_written_as_text():
    """A scenario's plain data with its dates as text (as `yaml.safe_load(sim.dump_scenario(s))`
    gives them) still gets its event moved after the summit: the mutation raised TypeError."""
    from sim.strategies.mutations import _event_after_summit

    text = small_dict()
    text["calendar"] = {"start": "2020-01-01", "vantage": "2020-01-01"}
    text["summit"]["date"] = {"dist": "uniform", "low": "2020-03-01", "high": "2020-03-20"}

    @settings(max_examples=10, database=None)
    @given(st.data())
    def check(data):
        mutant = yaml.safe_load(yaml.safe_dump(text))
        _event_after_summit(data.draw, mutant, "event_after_summit")
        assert min(dt.date.fromisoformat(str(e["date"])) for e in mutant["events"]
                   if str(e["date"]) > "2020-03-20") > dt.date(2020, 3, 20)

    check()


NAMED = {"small": "tests/data/small.yaml", "every reference": None, "camp david": "scenarios/examples/camp_david_1978.yaml",
         "copenhagen": "scenarios/examples/copenhagen_2009.yaml", "baseline": "scenarios/baseline.yaml"}


@pytest.mark.parametrize("case", [pytest.param(case, marks=pytest.mark.slow) if case in ("copenhagen", "baseline")
                                  else case for case in NAMED])  # under slow: 8 s
@pytest.mark.parametrize("kind", ["unknown_agent", "unknown_issue"])
def test_an_unknown_name_mutation_may_break_any_reference_and_each_is_refused(case, kind):
    """An unknown agent (issue) may be written in any field that names one, summit.required,
    weights, the veto, `signed` and an agent's stances among them, and each such mutant (every
    one, not a sample) is refused: it is the dangling reference its kind says."""
    scenario = parse_scenario(yaml.safe_dump(every_reference_dict())) if NAMED[case] is None else (
        load_scenario(ROOT / NAMED[case]))
    data = _plain_data(scenario)
    sites = _dangling_sites(data, kind)
    references = {(s.path, s.is_key) for s in name_sites(scenario, data)
                  if s.kind == kind.removeprefix("unknown_") and not s.is_definition}
    assert references <= set(sites), sorted(references - set(sites))
    for path, is_key in sites:
        mutant = copy.deepcopy(data)
        rename_at(mutant, path, is_key, "nobody_x")
        assert _outcome(mutant) == "refused", path


@settings(max_examples=100, database=None)
@given(mutated_scenario_dicts(kinds=("unknown_agent", "unknown_issue"), engines=("convergence", "eum"), weights=True))
def test_every_drawn_unknown_name_mutant_is_refused(data):
    """Drawn scenarios name agents and issues in every field, and some draw an agent nothing
    names: every unknown-agent or unknown-issue mutant of one is refused, none loads."""
    assert _outcome(data) == "refused"


def test_an_agent_named_nowhere_is_not_made_an_unknown_agent_by_renaming_it():
    """An agent that nothing names (no party, role, trust entry or effect): renaming its own key
    leaves no reference dangling and the scenario loads, so the unknown-agent mutation does not
    offer it, while it still renames the definitions of agents that are named."""
    data = small_dict()
    data["agents"]["bystander"] = copy.deepcopy(data["agents"]["patron"])
    sites = [path for path, _ in _dangling_sites(data, "unknown_agent")]
    assert ("agents", "north") in sites and ("agents", "patron") in sites
    assert ("agents", "bystander") not in sites
    assert not any("bystander" in path for path in sites)


BAD = {
    "a number": (42, "mutations_of: scenario: must be a Scenario or the path of a scenario file"),
    "a dict": (small_dict(), "mutations_of: scenario: must be a Scenario or the path of a scenario file"),
    "a missing file": ("no/such/scenario.yaml", "no/such/scenario.yaml"),
    "a scenario changed after validation": (
        load_scenario(ROOT / "tests/data/small.yaml").model_copy(update={"monte_carlo": {"runs": 10}}),
        "mutations_of: scenario: was changed after it was validated"),
    "one kind as text": ("tests/data/small.yaml", "mutations_of: kinds: must be a non-empty tuple"),
}


@pytest.mark.parametrize("case", BAD, ids=lambda c: c.replace(" ", "-"))
def test_a_bad_argument_to_mutations_of_is_one_clear_input_error_when_it_is_made(case, monkeypatch):
    """Not a scenario, a file that cannot be read, a kind given as text: an `InputError` naming
    the argument when the strategy is made, not from inside hypothesis's first draw."""
    monkeypatch.chdir(ROOT)
    value, message = BAD[case]
    kinds = "delete" if case == "one kind as text" else MUTATIONS
    with pytest.raises(InputError, match=message):
        mutations_of(value, kinds=kinds)


def test_the_readmes_mutations_of_example_passes_as_a_users_test(tmp_path):
    """The README's property test of a user's own scenario (the `python` block that uses
    `mutations_of`) passes when pytest runs it as a user's test file would be run."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Library use and property tests"):readme.index("## Changes: why old results")]
    blocks = [block[:block.index("```")] for block in section.split("```python")[1:]]
    (code,) = [block for block in blocks if "mutations_of" in block]
    assert '"scenarios/baseline.yaml"' in code and "deadline=None" in code and "def test_" in code
    code = code.replace('"scenarios/baseline.yaml"', repr(str(ROOT / "scenarios" / "baseline.yaml")))
    test = tmp_path / "test_mine.py"
    test.write_text(code.replace("settings(deadline=None)", "settings(deadline=None, max_examples=20)"))
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
                           "--hypothesis-show-statistics", str(test)], cwd=tmp_path, env=ENV, capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout and "mutation: " in done.stdout, done.stdout
