"""The scenario file: what is rejected, how problems are reported, and round trips."""

from __future__ import annotations

import datetime as dt
import math

import pytest
import yaml
from conftest import small_dict
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from sim.errors import InputError
from sim.loading import dump_scenario, load_scenario, parse_scenario
from sim.schema import Param, Scenario, support
from sim.strategies import mutated_scenario_dicts, params, scenario_dicts, scenarios


def _set(path: str, value):
    def mutate(d):
        *parents, last = path.split(".")
        node = d
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return mutate


def _delete(path: str):
    def mutate(d):
        *parents, last = path.split(".")
        node = d
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        del node[last]
    return mutate


def _problems(text: str) -> list:
    with pytest.raises(InputError) as info:
        parse_scenario(text, source="case.yaml")
    assert info.value.problems, "an InputError must carry at least one problem"
    return info.value.problems


def _problems_of(mutate) -> list:
    d = small_dict()
    mutate(d)
    return _problems(yaml.safe_dump(d))


_NO_VALUE = object()

# (case, mutation of small.yaml, expected path, expected value or _NO_VALUE, word in the message)
INVALID = [
    ("unknown key", _set("agents.north.colour", "red"), "agents.north.colour", "red", "unknown key"),
    ("unknown top-level key", _set("budget", 3), "budget", 3, "unknown key"),
    # named as pydantic names a union's members (beta, normal, ...), which leave the path: not these keys
    ("unknown key named as a distribution", _set("beta", 3), "beta", 3, "unknown key"),
    ("unknown agent key named as a type", _set("agents.north.normal", 3), "agents.north.normal", 3, "unknown key"),
    ("unknown key in a distribution named as one",
     _set("agents.north.resolve", {"dist": "beta", "mean": 0.5, "sd": 0.1, "uniform": 1}),
     "agents.north.resolve.uniform", 1, "unknown key"),
    ("wrong type", _set("agents.north.capability", "strong"), "agents.north.capability", "strong", "number"),
    ("wrong type: bool", _set("agents.north.capability", True), "agents.north.capability", True, "number"),
    ("wrong type: list", _set("summit.cancellation.trust_below", [0.1]),
     "summit.cancellation.trust_below", [0.1], "number"),
    ("probability above 1", _set("events.0.probability", 1.5), "events.0.probability", 1.5, "[0, 1]"),
    ("probability below 0", _set("summit.cancellation.base_probability", -0.1),
     "summit.cancellation.base_probability", -0.1, "[0, 1]"),
    ("probability infinite", _set("events.0.probability", math.inf), "events.0.probability", math.inf, "finite"),
    ("salience not summing to 1", _set("agents.north.issues.land.salience", 0.8),
     "agents.north.issues", 1.1, "sum to 1"),
    ("event after the summit", _set("events.0.date", dt.date(2020, 5, 1)),
     "events.0.date", "2020-05-01", "after"),
    ("event before the calendar", _set("events.0.date", dt.date(2019, 5, 1)),
     "events.0.date", "2019-05-01", "before"),
    ("unknown agent in an alliance", _set("relations.alliances.0.patron", "nobody"),
     "relations.alliances.0.patron", "nobody", "unknown agent"),
    ("unknown agent in an effect",
     _set("incidents.0.effects.0", {"target": "resolve", "agent": "west", "shift": 0.1}),
     "incidents.0.effects.0.agent", "west", "unknown agent"),
    ("unknown summit party", _set("summit.parties", ["north", "east"]), "summit.parties.1", "east", "unknown agent"),
    ("unknown issue in the outcome", _set("outcome.substantive.0.issue", "fish"),
     "outcome.substantive.0.issue", "fish", "unknown issue"),
    ("unknown issue in an alliance", _set("relations.alliances.0.issues", ["fish"]),
     "relations.alliances.0.issues.0", "fish", "unknown issue"),
    ("beta sd too large", _set("agents.north.resolve", {"dist": "beta", "mean": 0.5, "sd": 0.6}),
     "agents.north.resolve", {"dist": "beta", "mean": 0.5, "sd": 0.6}, "sd"),
    ("uniform low above high", _set("relations.trust.initial", {"dist": "uniform", "low": 0.7, "high": 0.3}),
     "relations.trust.initial", {"dist": "uniform", "low": 0.7, "high": 0.3}, "low"),
    ("normal with no mass in its window",
     _set("events.0.effects.0.shift", {"dist": "normal", "mean": 5.0, "sd": 0.1, "low": -0.1, "high": 0.2}),
     "events.0.effects.0.shift", {"dist": "normal", "mean": 5.0, "sd": 0.1, "low": -0.1, "high": 0.2}, "mass"),
    ("distribution leaving [0, 1]", _set("agents.south.resolve", {"dist": "uniform", "low": 0.5, "high": 1.5}),
     "agents.south.resolve", {"dist": "uniform", "low": 0.5, "high": 1.5}, "within"),
    ("position outside its bounds", _set("agents.south.issues.land.position", 0.8),
     "agents.south.issues.land", _NO_VALUE, "bounds"),
    ("missing required field", _delete("agents.south.resolve"),
     "agents.south.resolve", _NO_VALUE, "missing"),
    ("missing source of an event", _delete("events.0.source"), "events.0.source", _NO_VALUE, "missing"),
    ("bad name", _set("events.0.name", "Talks!"), "events.0.name", "Talks!", "lowercase letters"),
    ("no trust between the summit's parties",
     _set("relations.trust.between", ["north", "patron"]),
     "relations.trust", _NO_VALUE, "north-south"),
    ("one party", _set("summit.parties", ["north"]), "summit.parties", ["north"], "at least 2 parties"),
    ("trust between one agent", _set("relations.trust.between", ["north"]), "relations.trust.between", ["north"],
     "two agents"),
    ("veto player who is a party", _set("roles", {"veto": ["north"]}), "roles.veto.0", "north", "party already"),
    ("mediator unknown", _set("roles", {"mediators": [{"agent": "east"}]}), "roles.mediators.0.agent", "east",
     "unknown agent"),
    ("rubric between the wrong way round", _set("outcome.substantive", [{"issue": "land", "between": [0.9, 0.1]}]),
     "outcome.substantive.0", _NO_VALUE, "between"),
    ("rubric signed by a non-party", _set("outcome.breakthrough", [{"all": [{"signed": ["patron"]}]}]),
     "outcome.breakthrough.0.all.0.signed.0", "patron", "summit party"),
    ("rubric condition of unknown shape", _set("outcome.breakthrough", [{"neither": 1}]),
     "outcome.breakthrough.0", {"neither": 1}, "must be a condition"),
    ("anchors read as booleans", _set("issues.trade.anchors", {False: 0.0, True: 1.0}), "issues.trade.anchors",
     False, "quote it"),
    # a pair is a list in YAML: not "a valid tuple", nor "bounds.1: required field is missing"
    ("bounds a number", _set("agents.south.issues.land.bounds", 0.7), "agents.south.issues.land.bounds", 0.7,
     "must be a list in brackets"),
    ("bounds of one number", _set("agents.south.issues.land.bounds", [0.7]), "agents.south.issues.land.bounds",
     [0.7], "too few entries"),
    ("trust effect between one agent", _set("events.0.effects.0", {"target": "trust", "between": "north"}),
     "events.0.effects.0.between", "north", "must be a list in brackets"),
]


def test_an_empty_pair_is_one_problem():
    """`bounds: []` lacks both entries: one line saying so, not one per missing entry."""
    problems = _problems_of(_set("agents.south.issues.land.bounds", []))
    assert [str(p) for p in problems] == ["case.yaml: agents.south.issues.land.bounds: too few entries (got [])"]


@pytest.mark.parametrize("case, mutate, path, value, word", INVALID, ids=[c[0] for c in INVALID])
def test_invalid_input_is_reported_at_its_path(case, mutate, path, value, word):
    """Each kind of invalid input raises InputError naming the field's path, the value given and what is wrong."""
    problems = _problems_of(mutate)
    at_path = [p for p in problems if p.path == path]
    assert at_path, f"no problem at {path!r}; got {[str(p) for p in problems]}"
    assert any(word.lower() in p.message.lower() for p in at_path), [str(p) for p in at_path]
    assert all(p.source == "case.yaml" for p in problems)
    if value is not _NO_VALUE:
        assert any(p.has_value and p.value == value for p in at_path), [str(p) for p in at_path]


NAN_CASES = [
    ("probability", "events.0.probability"),
    ("position", "agents.north.issues.land.position"),
    ("salience", "agents.north.issues.land.salience"),
]


# (case, mutation of small.yaml, the one problem expected, as printed after "case.yaml: ")
ONE_LINE = [
    ("summit date in words", _set("summit.date", "12 June 2018"),
     "summit.date: must be a date written YYYY-MM-DD, e.g. 2018-06-12 (got '12 June 2018')"),
    ("summit date with a time", _set("summit.date", dt.datetime(2020, 3, 2, 9)),
     "summit.date: must be a date written YYYY-MM-DD, e.g. 2018-06-12 (got 2020-03-02 09:00:00)"),
    ("summit dates the wrong way round",
     _set("summit.date", {"dist": "uniform", "low": dt.date(2020, 4, 1), "high": dt.date(2020, 3, 1)}),
     "summit.date: low must be before high (got {'dist': 'uniform', 'high': 2020-03-01, 'low': 2020-04-01})"),
    ("event date day first", _set("events.0.date", "01/02/2020"),
     "events.0.date: event talks: must be a date written YYYY-MM-DD, e.g. 2018-06-12 (got '01/02/2020')"),
    ("event date without zeros", _set("events.0.date", "2020-2-1"),
     "events.0.date: event talks: must be a date written YYYY-MM-DD, e.g. 2018-06-12 (got '2020-2-1')"),
    ("a comma in a number in a flow mapping", _set("monte_carlo", {"runs": 20, 0: None}),
     "monte_carlo: has a number where a key was expected; in a {...} mapping a comma in a number starts a new "
     "key: write 20000 or 20_000, not 20,000 (got 0)"),
    ("anchor above 1", _set("issues.land.anchors.all", 1.8),
     "issues.land.anchors.all: must be at most 1 (got 1.8)"),
    ("a party's name misspelled", _set("summit.parties", ["north", "sout"]),
     "summit.parties.1: unknown agent; known: north, patron, south (got 'sout')"),
    ("a summit before the vantage, events after it",  # the events' lines would only repeat the summit's
     lambda d: (_set("calendar.vantage", dt.date(2020, 1, 15))(d), _set("summit.date", dt.date(2020, 1, 10))(d)),
     "calendar.vantage: must not be after the latest summit date (2020-01-10) (got '2020-01-15')"),
    ("position outside its bounds", _set("agents.south.issues.land.position", 0.8),
     "agents.south.issues.land: position must lie within bounds [0.0, 0.5] (got 0.8)"),
    ("a drawn position reaching outside its bounds",
     _set("agents.south.issues.land.position", {"dist": "uniform", "low": 0.2, "high": 0.7}),
     "agents.south.issues.land: position must lie within bounds [0.0, 0.5] (got a distribution over [0.2, 0.7])"),
    ("an unknown distribution", _set("agents.south.resolve", {"dist": "gamma", "mean": 0.5, "sd": 0.1}),
     ("agents.south.resolve.dist: unknown distribution; known: fixed, uniform, normal, beta, triangular "
      "(got 'gamma')")),
    ("a distribution without dist", _set("agents.south.resolve", {"mean": 0.5, "sd": 0.1}),
     ("agents.south.resolve: a distribution needs `dist:`, naming which, e.g. {dist: uniform, low: ..., high: ...} "
      "(got {'mean': 0.5, 'sd': 0.1})")),
    ("an unknown distribution of dates", _set("summit.date", {"dist": "normal", "mean": dt.date(2020, 3, 1)}),
     "summit.date.dist: unknown distribution; known: uniform, triangular (got 'normal')"),
    ("two dates as a list", _set("summit.date", [dt.date(2020, 3, 1), dt.date(2020, 3, 9)]),
     ("summit.date: must be a date written YYYY-MM-DD or a distribution of dates, e.g. {dist: uniform, low: "
      "2018-06-01, high: 2018-06-30} (got [2020-03-01, 2020-03-09])")),
    ("a block as a number", _set("summit.cancellation", 0.05),
     "summit.cancellation: must be a mapping {key: value, ...} (got 0.05)"),
    ("a mapping as a list", _set("issues.land.anchors", [0.0, 0.5, 1.0]),
     "issues.land.anchors: must be a mapping {key: value, ...} (got [0.0, 0.5, 1.0])"),
    ("an empty rubric", _set("outcome.substantive", []), "outcome.substantive: must have at least 1 entry (got [])"),
    ("a required party named twice", _set("summit.required", ["north", "north"]),
     "summit.required: must name different parties (got ['north', 'north'])"),
    ("no required party", _set("summit.required", []),  # it meant every party, silently
     "summit.required: must name at least one party (leave it out: every party is required) (got [])"),
    ("one anchor", _set("issues.land.anchors", {"none": 0.0}),
     "issues.land.anchors: must have at least 2 entries (got {'none': 0.0})"),
    ("a name with a capital", _set("name", "Small"),
     "name: a name must be lowercase letters, digits and _, starting with a letter (got 'Small')"),
    ("an anchor named by a number", _set("issues.land.anchors", {0: 0.0, "all": 1.0}),
     ("issues.land.anchors: a name must be text (lowercase letters, digits and _, starting with a letter), not a "
      "number (got 0)")),
]


@pytest.mark.parametrize("case, mutate, line", ONE_LINE, ids=[c[0] for c in ONE_LINE])
def test_a_mistake_is_one_line_at_the_field_it_names(case, mutate, line):
    """A wrongly written date, or a value a rule quotes itself, gives one line at the field's own path: no
    second line from another member of a union, no pydantic member names, the value shown once."""
    assert [str(p) for p in _problems_of(mutate)] == [f"case.yaml: {line}"]


def test_a_list_without_brackets_in_a_flow_mapping_says_so():
    """`{between: north, south, initial: 0.5}` makes `south` a key without a value: its line says why."""
    trust = yaml.safe_load("{between: north, south, initial: 0.5}")
    assert trust == {"between": "north", "south": None, "initial": 0.5}
    assert "case.yaml: relations.trust.south: unknown key, with no value (in a {...} mapping a comma starts a new " \
           "key: write a list in brackets, [a, b])" in [str(p) for p in _problems_of(_set("relations.trust", trust))]


@pytest.mark.parametrize("what, path", NAN_CASES, ids=[c[0] for c in NAN_CASES])
def test_nan_is_rejected(what, path):
    """A NaN (`.nan` in YAML) where a number in [0, 1] is expected raises InputError."""
    problems = _problems_of(_set(path, math.nan))
    assert any(p.path.startswith(path.rsplit(".", 1)[0]) for p in problems)


def test_bad_yaml_is_reported_with_its_line():
    """Text that is not YAML raises InputError for the whole file, naming the line."""
    problems = _problems("name: small\nissues: [unclosed\n")
    assert len(problems) == 1
    assert problems[0].path == "" and "invalid YAML" in problems[0].message
    assert "line" in problems[0].message


def test_a_yaml_list_is_not_a_scenario():
    """A YAML document that is not a mapping raises InputError."""
    problems = _problems("- a\n- b\n")
    assert problems[0].path == "" and "mapping" in problems[0].message


@pytest.mark.parametrize("text, words", [
    ("runs: 2048\nknobs: []\n", "it looks like a knobs spec, for `calibrate --knobs`"),
    ('{"format": 1, "knobs": [], "grid": [], "loglik": []}\n', "it looks like a posterior (JSON), for `--calibration`"),
    ("scenario: a.yaml\nvary: []\n", "it looks like a sweep spec, for `sweep --spec`"),
    ("dynamics.rate: 0.3\n", "it looks like a file of dotted paths to values, for a scenario's `include:`"),
    ("Name: x\n", "('Name') is a scenario's (name, title, source, calendar,"),
])
def test_another_kind_of_file_is_one_line_saying_what_it_looks_like(text, words):
    """A YAML mapping without a single scenario key (a knobs or sweep spec, an included file) is one line
    for the whole file, not one line a missing field."""
    (problem,) = _problems(text)
    assert problem.path == "" and problem.message.startswith("is not a scenario file: none of its top-level keys")
    assert words in problem.message


def test_several_field_problems_are_all_reported():
    """Every field-level problem in one file is reported, not only the first."""
    d = small_dict()
    _set("agents.north.colour", "red")(d)
    _set("agents.south.capability", "strong")(d)
    _set("events.0.probability", 1.5)(d)
    _delete("agents.patron.resolve")(d)
    paths = {p.path for p in _problems(yaml.safe_dump(d))}
    assert {"agents.north.colour", "agents.south.capability", "events.0.probability",
            "agents.patron.resolve"} <= paths


def test_several_cross_field_problems_are_all_reported():
    """Every rule spanning several fields is checked and each broken one reported."""
    d = small_dict()
    _set("relations.alliances.0.patron", "nobody")(d)
    _set("outcome.substantive.0.issue", "fish")(d)
    _set("events.0.date", dt.date(2020, 5, 1))(d)
    _set("agents.north.issues.land.salience", 0.8)(d)
    paths = {p.path for p in _problems(yaml.safe_dump(d))}
    assert {"relations.alliances.0.patron", "outcome.substantive.0.issue", "events.0.date",
            "agents.north.issues"} <= paths


def test_small_scenario_loads(small_path):
    """The test scenario is valid."""
    s = load_scenario(small_path)
    assert s.name == "small" and set(s.agents) == {"north", "south", "patron"}


def test_unreadable_file_is_an_input_error(tmp_path):
    """A missing file raises InputError, not OSError."""
    with pytest.raises(InputError):
        load_scenario(tmp_path / "nope.yaml")


def test_override_applies(small_path):
    """An override sets the field at its dotted path before validation."""
    s = load_scenario(small_path, overrides={"agents.north.resolve": 0.7})
    assert s.agents["north"].resolve == 0.7
    s = load_scenario(small_path, overrides={"events.talks.probability": 0.25})
    assert s.events[0].probability == 0.25


def test_override_of_unknown_path_is_an_input_error(small_path):
    """An override naming a field that does not exist raises InputError naming that path."""
    with pytest.raises(InputError) as info:
        load_scenario(small_path, overrides={"agents.nobody.resolve": 0.7})
    assert [p.path for p in info.value.problems] == ["agents.nobody.resolve"]


def test_override_with_invalid_value_is_validated(small_path):
    """An override's value is checked like the file's: out of range raises InputError at its path."""
    with pytest.raises(InputError) as info:
        load_scenario(small_path, overrides={"agents.north.resolve": 1.7})
    assert any(p.path == "agents.north.resolve" and p.value == 1.7 for p in info.value.problems)


@settings(max_examples=60)
@given(scenarios())
def test_dump_then_reload_gives_an_equal_scenario(scenario):
    """Dumping a valid scenario to YAML and reading it back gives an equal scenario."""
    assert parse_scenario(dump_scenario(scenario)) == scenario


# Text that PyYAML writes plain but sim's loader reads as a number (YAML 1.2's 1e6, 0o17),
# and YAML's own line breaks beside the newline (NEL, the Unicode line and paragraph separators).
TEXTS = ["1e100", "1e-3", "-2E5", "0o17", "1_000.5e3", "a\x85b", "\x85", "line\u2028two", "para\u2029", "é\x85ü"]


@pytest.mark.parametrize("text", TEXTS, ids=[repr(t) for t in TEXTS])
@pytest.mark.parametrize("field", ["title", "source", "agents.north.description", "events.0.source"])
def test_dump_then_reload_keeps_any_text(small_path, text, field):
    """Text a user writes in a title, a source or a description comes back as the same text,
    never as a number the scenario then refuses, nor with a line break changed."""
    scenario = load_scenario(small_path, overrides={field: text})
    assert parse_scenario(dump_scenario(scenario)) == scenario


@settings(max_examples=200)
@given(st.text(max_size=8))
def test_dump_then_reload_keeps_drawn_text(small_path, text):
    """The same for drawn text (every character YAML can hold)."""
    try:
        scenario = load_scenario(small_path, overrides={"title": text})
    except InputError:  # a control character YAML cannot hold
        return
    assert parse_scenario(dump_scenario(scenario)) == scenario


@settings(max_examples=60)
@given(scenario_dicts())
def test_drawn_scenario_dicts_survive_yaml(data):
    """A drawn scenario dict written as YAML loads to the same scenario as the dict."""
    assert parse_scenario(yaml.safe_dump(data)) == Scenario.model_validate(data)


@settings(max_examples=150)
@given(mutated_scenario_dicts())
def test_mutated_scenarios_fail_only_with_input_error(data):
    """Loading a scenario with one random mutation either succeeds or raises InputError, nothing else."""
    text = yaml.safe_dump(data)
    try:
        parse_scenario(text, source="fuzz.yaml")
    except InputError as exc:
        assert exc.problems and all(str(p) for p in exc.problems)


EVERYTHING = {"engines": ("convergence", "eum"), "weights": True, "observed": True}


@settings(max_examples=50)
@given(scenario_dicts(**EVERYTHING))
def test_drawn_eum_scenarios_with_weights_and_observed_survive_yaml(data):
    """The same with eum scenarios, summit.weights and observed blocks among those drawn."""
    assert parse_scenario(yaml.safe_dump(data)) == Scenario.model_validate(data)


@settings(max_examples=100)
@given(mutated_scenario_dicts(**EVERYTHING))
def test_mutated_eum_scenarios_with_weights_and_observed_fail_only_with_input_error(data):
    """The loader fuzzed from eum scenarios, summit.weights and observed blocks too."""
    try:
        parse_scenario(yaml.safe_dump(data), source="fuzz.yaml")
    except InputError as exc:
        assert exc.problems and all(str(p) for p in exc.problems)


@settings(max_examples=100)
@given(params(-0.5, 2.0))
def test_drawn_params_stay_in_their_window(param):
    """A parameter drawn by `params(lo, hi)` validates and never leaves [lo, hi]."""
    value = TypeAdapter(Param).validate_python(param)
    lo, hi = support(value)
    assert -0.5 <= lo <= hi <= 2.0


@pytest.mark.parametrize("lo, hi", [(-1e100, 1e100), (-1e100, 0.0), (0.0, 1e100), (1e-310, 1e-310), (0.0, 1e-310)])
def test_drawn_params_validate_at_the_edges_of_the_windows_params_accepts(lo, hi):
    """`params(lo, hi)` takes any lo <= hi within the schema's +-1e100, and every draw validates
    and stays in [lo, hi] there too: a normal over the whole range has an sd the schema takes
    (not one above 1e100), and a window of subnormal numbers draws them (rather than failing
    inside hypothesis with an empty choice)."""

    @settings(max_examples=200, database=None)
    @given(params(lo, hi))
    def check(param):
        value = TypeAdapter(Param).validate_python(param)
        low, high = support(value)
        assert lo <= low <= high <= hi

    check()


def test_rule_messages_name_what_would_be_right():
    """A status quo off the anchors lists the anchors; an incident's start outside the calendar
    names the dates; a misspelt party is one problem, at summit.parties, not a second one
    blaming the party's right name where it signs."""
    problems = _problems_of(lambda d: d["issues"]["land"].update(status_quo=0.3))
    assert [p.message for p in problems] == ["must be one of the issue's anchors (none 0, some 0.5, all 1)"]

    def early_incident(d):
        d["incidents"][0]["start"] = dt.date(2019, 1, 1)
    (problem,) = _problems_of(early_incident)
    assert problem.path == "incidents.0.start" and "(2020-01-01)" in problem.message and "(2020-04-01)" in problem.message

    def misspelt(d):
        d["summit"]["parties"] = ["north", "sotuh"]
        d["outcome"]["substantive"] = [{"signed": ["north", "south"]}]
    problems = _problems_of(misspelt)
    assert [p.path for p in problems] == ["summit.parties.1"], problems
