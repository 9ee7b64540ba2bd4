"""sim used as a library (README, "Library use and property tests"): bad arguments are one clear
`InputError`, not an AttributeError from deep inside; every public name says what it is; the
README's example and sim.strategies' docstring example work as written."""

from __future__ import annotations

import ast
import inspect
import json
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import scenario_of, small_dict

import sim
from sim import (
    InputError,
    compare,
    dump_scenario,
    explain,
    load_posterior,
    load_replicates,
    load_scenario,
    parse_scenario,
    run,
    wilson,
)
from sim.yamlfile import dump_yaml

ROOT = Path(__file__).resolve().parents[1]
SMALL = scenario_of(small_dict())
POSTERIOR = ROOT / "scenarios" / "history" / "posterior.json"
ENV = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


@pytest.fixture(scope="module")
def setting():
    """The (knob setting, note) pair the README's `posterior.setting(scenario)` returns."""
    return load_posterior(POSTERIOR).setting(SMALL)


BAD_CALLS = {
    "a path for the scenario": (lambda k: run("scenarios/baseline.yaml"), "scenario: must be a Scenario"),
    "a dict for the scenario": (lambda k: run(small_dict(), runs=10), "scenario: must be a Scenario"),
    "the (setting, note) pair as knobs": (lambda k: run(SMALL, runs=10, knobs=k),
                                          "knobs: must be a knob setting, not the \\(setting, note\\) pair"),
    "the posterior as knobs": (lambda k: run(SMALL, runs=10, knobs=load_posterior(POSTERIOR)),
                               "knobs: must be a knob setting"),
    "a text precision": (lambda k: run(SMALL, runs=10, precision="0.01"), "precision: must be between 0 and 0.5"),
    "a spread level above 1": (lambda k: run(SMALL, runs=1024, knobs=k[0]).parameter_spread((0, 1), level=95),
                               "level: must be a share above 0 and at most 1"),
    "a path for compare's B": (lambda k: compare(SMALL, "b.yaml", runs=10), "b: must be a Scenario"),
    "two (setting, note) pairs to compare": (lambda k: compare(SMALL, SMALL, runs=10, knobs=(k, k)),
                                             "knobs.0: must be a knob setting, not the"),
    "an unknown group of a comparison": (lambda k: compare(SMALL, SMALL, runs=10).difference("deal"),
                                         "group: must be one of breakthrough, "),
    "a path to explain": (lambda k: explain("scenarios/baseline.yaml"), "scenario: must be a Scenario"),
    "the (setting, note) pair to explain": (lambda k: explain(SMALL, runs=10, knobs=k), "knobs: must be a knob"),
    "an unknown Shapley method": (lambda k: explain(SMALL, runs=10, shapley=True, shapley_method="monte_carlo"),
                                  "shapley_method: must be auto, exact or sampled \\(got 'monte_carlo'\\)"),
    "a Shapley run count of 0": (lambda k: explain(SMALL, runs=10, shapley=True, shapley_runs=0),
                                 "shapley_runs: must be a whole number from 1 to 1,000,000,000"),
    "a Shapley run count above the maximum": (lambda k: explain(SMALL, runs=10, shapley=True, shapley_runs=10**10),
                                              "shapley_runs: must be a whole number from 1 to 1,000,000,000"),
    "a path for the posterior's scenario": (lambda k: load_posterior(POSTERIOR).setting("baseline.yaml"),
                                            "scenario: must be a Scenario"),
    "--set strings as overrides": (lambda k: load_scenario(ROOT / "tests" / "data" / "small.yaml",
                                                           overrides=["agents.north.resolve=0.8"]),
                                   "overrides: must be a dict of dotted paths to values"),
    "a number as an override's path": (lambda k: parse_scenario("name: x", overrides={1: 0.8}),
                                       "overrides: each key must be a dotted path"),
    "no path to load": (lambda k: load_scenario(None), "path: must be the path of a scenario file"),
    "a list to parse": (lambda k: parse_scenario([small_dict()]),
                        "must be YAML text \\(a str\\) or plain data \\(a dict\\)"),
    "an object in plain data": (lambda k: parse_scenario({**small_dict(), "title": object()}),
                                "holds a value of type object, which no scenario file can"),
    "plain data holding itself": (lambda k: parse_scenario(_holding_itself()),
                                  "holds itself \\(a dict or list inside itself\\): a file cannot"),
    "a path to dump": (lambda k: dump_scenario("small.yaml"), "scenario: must be a Scenario"),
    "a count above n": (lambda k: wilson(5, 3), "wilson: count: must be from 0 to n \\(3\\) \\(got 5\\)"),
    "a negative count": (lambda k: wilson(-1, 3), "wilson: count: must be a whole number >= 0 \\(got -1\\)"),
    "a share as the count": (lambda k: wilson(1.5, 3), "wilson: count: must be a whole number >= 0 \\(got 1.5\\)"),
    "a text count": (lambda k: wilson("1", 3), "wilson: count: must be a whole number >= 0 \\(got '1'\\)"),
    "a negative n": (lambda k: wilson(0, -3), "wilson: n: must be a whole number >= 0 \\(got -3\\)"),
    "a negative z": (lambda k: wilson(3, 10, z=-1), "wilson: z: must be a number above 0 .* \\(got -1\\)"),
    "a text z": (lambda k: wilson(3, 10, z="1.96"), "wilson: z: must be a number above 0"),
    "a text to scenario_hash": (lambda k: sim.scenario_hash("scenarios/baseline.yaml"),
                                "scenario: must be a Scenario"),
    "a dict to scenario_hash": (lambda k: sim.scenario_hash(small_dict()), "scenario: must be a Scenario"),
    "a number as run's sink": (lambda k: run(SMALL, runs=10, sink=5), "sink: must be a function or None \\(got 5\\)"),
    "a number as run's progress": (lambda k: run(SMALL, runs=10, progress=5), "progress: must be a function or None"),
    "a flag as run's stop": (lambda k: run(SMALL, runs=10, stop=True), "stop: must be a threading.Event"),
    "the setting as run's calibration": (lambda k: run(SMALL, runs=10, knobs=k[0], calibration=k[0]),
                                         "calibration: must be a dict \\(the note posterior.setting"),
    "a number as compare's stop": (lambda k: compare(SMALL, SMALL, runs=10, stop=1), "stop: must be a threading.Event"),
    "a number as compare's progress": (lambda k: compare(SMALL, SMALL, runs=10, progress=1),
                                       "progress: must be a function or None"),
    "one label for compare's names": (lambda k: compare(SMALL, SMALL, runs=10, names="A"), "names: must be two labels"),
    "no labels for compare's names": (lambda k: compare(SMALL, SMALL, runs=10, names=None), "names: must be two labels"),
    "a number as explain's progress": (lambda k: explain(SMALL, runs=10, progress=3),
                                       "progress: must be a function or None"),
    "no path to load_knobs": (lambda k: sim.load_knobs(None), "path: must be the path of a knob spec file"),
    "no path to load_posterior": (lambda k: load_posterior(None), "path: must be the path of a posterior.json"),
    "a number as load_posterior's path": (lambda k: load_posterior(3), "path: must be the path of a posterior.json"),
    "no directory to load_replicates": (lambda k: load_replicates(None),
                                        "directory: must be the path of a run's result directory"),
    "no directory to a ResultWriter": (lambda k: __import__("sim.results").results.ResultWriter(None),
                                       "out: must be the path of the result directory to write"),
    "an unknown side's estimates of a comparison": (lambda k: compare(SMALL, SMALL, runs=10).estimates("B2"),
                                                       "estimates: side: must be 'a' or 'b' \\(got 'B2'\\)"),
    "an unknown metric of Shapley values": (lambda k: explain(SMALL, runs=1024, shapley=True).shapley.values("deal"),
                                            "shapley: metric: must be one of substantive_or_better, collapse"),
    "an unknown metric of Shapley intervals": (lambda k: explain(SMALL, runs=1024, shapley=True).shapley.intervals(1),
                                               "shapley: metric: must be one of"),
    "no rows of knob values": (lambda k: load_posterior(POSTERIOR).setting(SMALL, draws=0),
                               "setting: draws: must be a whole number from 1 to 1,048,576 \\(default 256\\)"),
    "a share of rows of knob values": (lambda k: load_posterior(POSTERIOR).setting(SMALL, draws=1.5),
                                       "setting: draws: must be a whole number"),
    "a text count of rows of knob values": (lambda k: load_posterior(POSTERIOR).setting(SMALL, draws="10"),
                                            "setting: draws: must be a whole number"),
    "a class named twice in a spread": (lambda k: run(SMALL, runs=1024, knobs=k[0]).parameter_spread((1, 1)),
                                        "parameter_spread: classes: must name each class once \\(got \\[1, 1\\]\\)"),
    "a flag for a class in a spread": (lambda k: run(SMALL, runs=1024, knobs=k[0]).parameter_spread((True,)),
                                       "parameter_spread: classes: must be positions 0 to 3"),
    "a text for explain's shapley": (lambda k: explain(SMALL, runs=10, shapley="no"),
                                     "shapley: must be True or False \\(got 'no'\\)"),
    "one class, not a tuple, in a spread": (lambda k: run(SMALL, runs=1024, knobs=k[0]).parameter_spread(1),
                                            "parameter_spread: classes: must be a tuple of positions"),
    "a 2-d array of classes in a spread": (lambda k: run(SMALL, runs=1024, knobs=k[0]).parameter_spread(
        np.array([[0, 1]])), "parameter_spread: classes: must be a tuple of positions"),
    "a calibration note without its knobs": (lambda k: run(SMALL, runs=10, calibration=k[1]),
                                             "calibration: describes a knob setting, but no knobs= were given"),
    "a size text as run's max_memory": (lambda k: run(SMALL, runs=10, max_memory="2GiB"),
                                        "max_memory: must be a whole number of bytes >= 1, or None"),
    "no bytes as compare's max_memory": (lambda k: compare(SMALL, SMALL, runs=10, max_memory=0),
                                         "max_memory: must be a whole number of bytes >= 1"),
    "a flag as explain's max_memory": (lambda k: explain(SMALL, runs=10, max_memory=True),
                                       "max_memory: must be a whole number of bytes >= 1"),
}

BAD_STRATEGIES = {
    "params' bounds the wrong way round": (lambda s: s.params(1, 0),
                                           ("params: hi: must be >= lo \\(1\\): params\\(lo, hi\\) draws values in "
                                            "\\[lo, hi\\] \\(got 0\\)")),
    "a text bound": (lambda s: s.params("0", 1), "params: lo: must be a finite number .* \\(got '0'\\)"),
    "a list bound": (lambda s: s.params([0], 1), "params: lo: must be a finite number"),
    "an infinite bound": (lambda s: s.params(0, float("inf")), "params: hi: must be a finite number"),
    "names of no characters": (lambda s: s.names(0), "names: max_size: must be a whole number from 1 to 64"),
    "names longer than the schema's": (lambda s: s.names(65), "names: max_size: must be a whole number from 1 to 64"),
    "one agent": (lambda s: s.scenarios(max_agents=1), "scenarios: max_agents: must be a whole number >= 2 \\(got 1\\)"),
    "one party": (lambda s: s.scenario_dicts(max_parties=1), "scenario_dicts: max_parties: must be a whole number >= 2"),
    "a negative event count": (lambda s: s.scenarios(max_events=-1), "scenarios: max_events: must be a whole number >= 0"),
    "a text issue count": (lambda s: s.scenarios(max_issues="3"), "scenarios: max_issues: must be a whole number from 1"),
    "a menu over the schema's": (lambda s: s.scenario_dicts(max_issues=13), "max_issues: .* 1,048,576 packages"),
    "no agents to affect": (lambda s: s.effects([], ["quota"]), "effects: agent_names: must be a non-empty list"),
    "a text for the agents": (lambda s: s.effects("north", ["quota"]), "effects: agent_names: must be a non-empty list"),
    "one kind as text": (lambda s: s.mutated_scenario_dicts("delete"),
                         "mutated_scenario_dicts: kinds: must be a non-empty tuple of mutation kinds"),
    "an unknown kind": (lambda s: s.mutated_scenario_dicts(("nope",)),
                        "mutated_scenario_dicts: kinds: unknown mutation kind; kinds: delete, .* \\(got 'nope'\\)"),
    "one engine as text": (lambda s: s.scenario_dicts(engines="eum"),
                           "scenario_dicts: engines: must be a non-empty tuple of engine names"),
    "no engines": (lambda s: s.scenarios(engines=()), "scenarios: engines: must be a non-empty tuple of engine names"),
    "an unknown engine": (lambda s: s.mutated_scenario_dicts(engines=("eum", "nash")),
                          "mutated_scenario_dicts: engines: unknown engine 'nash'; engines: convergence, eum"),
    "an engine twice": (lambda s: s.scenario_dicts(engines=["eum", "eum"]),
                        "scenario_dicts: engines: must name each engine once"),
    "a number for weights": (lambda s: s.scenario_dicts(weights=1), "scenario_dicts: weights: must be True or False"),
    "a text for observed": (lambda s: s.scenarios(observed="yes"), "scenarios: observed: must be True or False"),
}


@pytest.mark.parametrize("case", BAD_STRATEGIES, ids=lambda c: c.replace(" ", "-"))
def test_a_bad_argument_to_a_strategy_is_one_clear_input_error_when_it_is_made(case):
    """A strategy of sim.strategies given a bad argument raises `InputError` naming the strategy,
    the argument, the rule and the value when it is made, not a TypeError, a bare ValueError or
    hypothesis's error from inside the first draw."""
    import sim.strategies

    call, message = BAD_STRATEGIES[case]
    with pytest.raises(InputError, match=message) as info:
        call(sim.strategies)
    assert "\n" not in str(info.value)


def test_the_strategies_still_draw_with_their_arguments_at_the_edges():
    """What the checks let through draws valid data: the longest names, a point param, one kind."""
    from hypothesis import given, settings

    import sim.strategies as s

    @settings(max_examples=20, deadline=None)
    @given(s.names(64), s.params(0.5, 0.5), s.effects(("north",), ("quota",)),
           s.mutated_scenario_dicts(["delete"]), s.scenario_dicts(max_agents=2, max_events=0, max_incidents=0))
    def check(name, param, effect, mutated, data):
        assert 1 <= len(name) <= 64 and param in (0.5, {"dist": "fixed", "value": 0.5})
        assert effect.get("agent", "north") == "north" and isinstance(mutated, dict)
        assert len(data["agents"]) == 2 and "events" not in data

    check()


@pytest.mark.parametrize("case", BAD_CALLS, ids=lambda c: c.replace(" ", "-"))
def test_a_bad_argument_is_one_clear_input_error(case, setting):
    """A public function given the wrong kind of argument raises `InputError` naming the argument,
    the rule and the value (README: "library functions raise InputError for bad arguments")."""
    call, message = BAD_CALLS[case]
    with pytest.raises(InputError, match=message) as info:
        call(setting)
    assert "\n" not in str(info.value)


def test_knobs_are_one_setting_or_for_compare_a_pair(setting):
    """What the checks let through still runs: the setting alone, or for compare one setting for
    both sides or a pair (A's, B's)."""
    knobs, note = setting
    assert run(SMALL, runs=1024, seed=1, knobs=knobs, calibration=note).parameter_spread((0, 1)) is not None
    one = compare(SMALL, SMALL, runs=1024, seed=1, knobs=knobs)
    two = compare(SMALL, SMALL, runs=1024, seed=1, knobs=(knobs, knobs))
    assert (one.joint == two.joint).all() and one.difference("collapse").diff == 0
    assert compare(SMALL, SMALL, runs=1024, seed=1, knobs=(None, knobs)).joint.sum() == 1024


def test_callbacks_and_numpy_counts_that_the_checks_let_through_still_run():
    """An event, a progress function, a sink and a note go through; so does a worker count
    that is a numpy integer (`np.int64(2)` from numpy arithmetic was refused "(got 2)")."""
    import threading

    import numpy as np

    seen, chunks = [], []
    knobs, note = load_posterior(POSTERIOR).setting(SMALL)
    result = run(SMALL, runs=2048, seed=1, chunk_size=1024, stop=threading.Event(), knobs=knobs, calibration=note,
                 progress=lambda done, runs: seen.append(done), sink=chunks.append, workers=np.int64(2))
    assert result.counts.sum() == 2048 and seen == [1024, 2048] and len(chunks) == 2
    assert compare(SMALL, SMALL, runs=1024, seed=1, names=["a", "b"], workers=np.int32(1)).runs == 1024
    assert explain(SMALL, runs=1024, seed=1, shapley=np.bool_(False)).shapley is None


def test_load_replicates_of_a_path_without_replicates_is_an_input_error(tmp_path, monkeypatch):
    """A missing path, a directory that is not a run's, or the parquet file itself is an InputError
    that says which; without pandas, one that says how to install it (not a FileNotFoundError)."""
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "replicates.parquet").write_bytes(b"")
    (tmp_path / "empty").mkdir()
    for path, why in ((tmp_path / "nothing", "does not exist"),
                      (tmp_path / "empty", "is not a run's result directory: it holds no replicates.parquet"),
                      (tmp_path / "run" / "replicates.parquet",
                       "is a file; load_replicates takes the result directory")):
        with pytest.raises(InputError, match=re.escape(f"{path}: {why}")):
            load_replicates(path)
    monkeypatch.setitem(sys.modules, "pandas", None)  # `import pandas` raises ImportError
    with pytest.raises(InputError, match=re.escape("needs pandas: pip install 'sim[data]'")):
        load_replicates(tmp_path / "run")


def test_no_exported_function_shares_its_name_with_a_submodule():
    """`sim.compare` is the exported function whatever was imported before: a submodule of the
    same name, once imported (sim.explain imported it), replaced the package's attribute with
    the module. No exported name is a submodule's; the comparisons live in sim.comparison."""
    import importlib
    import pkgutil

    modules = {m.name for m in pkgutil.iter_modules(sim.__path__)}
    assert modules & set(sim.__all__) == set()
    importlib.import_module("sim.comparison")
    importlib.import_module("sim.attribution")
    assert inspect.isfunction(sim.compare) and sim.compare is sys.modules["sim.comparison"].compare
    code = "import sim; import sim.attribution; assert callable(sim.compare) and sim.compare.__name__ == 'compare'"
    done = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def _holding_itself() -> dict:
    data = small_dict()
    data["agents"]["north"]["again"] = data
    return data


def test_plain_data_is_parsed_as_the_file_holding_it_would_be():
    """`parse_scenario(data)` reads a dict as its file: text that reads as a number in YAML 1.2
    (`1e6`) stays text (`yaml.safe_dump`, which the README once used, wrote it plain and it came
    back a number, refused as a title), numpy numbers are the numbers they hold, and a problem is
    the same `InputError` the text gives."""
    data = small_dict()
    data["title"] = "1e6"
    data["agents"]["north"]["resolve"] = np.float32(0.5)
    scenario = parse_scenario(data)
    assert scenario.title == "1e6" and scenario.agents["north"].resolve == 0.5
    bad = small_dict()
    bad["agents"]["north"]["resolve"] = 2.0
    with pytest.raises(InputError) as from_data:
        parse_scenario(bad, source="mine")
    with pytest.raises(InputError) as from_text:
        parse_scenario(dump_yaml(bad), source="mine")
    assert str(from_data.value) == str(from_text.value)


def _public_members(obj):
    """`obj` and the public methods and properties its own class body defines."""
    yield obj.__name__, obj
    if inspect.isclass(obj):
        for name, member in vars(obj).items():
            if not name.startswith("_") and (inspect.isfunction(member) or isinstance(member, property)):
                yield f"{obj.__name__}.{name}", member


def test_every_public_name_and_what_it_returns_has_its_own_docstring():
    """help(sim) explains every name in sim.__all__ (but constants) and the classes its functions
    return: no docstring is missing, and none is the signature a dataclass writes for itself."""
    from sim.attribution import EventEffect, Explanation
    from sim.comparison import Comparison, Difference
    from sim.knobs import KnobFile, KnobSetting
    from sim.posterior import Posterior

    names = [getattr(sim, n) for n in sim.__all__ if n not in ("CLASSES", "SUBSTANTIVE_OR_BETTER", "__version__")]
    missing = []
    for obj in [*names, Comparison, Difference, EventEffect, Explanation, KnobFile, KnobSetting, Posterior]:
        for name, member in _public_members(obj):
            doc = (member.fget if isinstance(member, property) else member).__doc__ or ""
            if not doc.strip() or doc.startswith(f"{name}("):
                missing.append(name)
    assert missing == []


def test_the_strategies_docstring_example_passes_at_hypothesis_default_settings(tmp_path):
    """The property test sim.strategies shows, run as a user would (no profile, default deadline):
    the first run in a process loads compiled kernels (about 0.5 s), so the example says
    deadline=None; without it hypothesis calls the test flaky."""
    import sim.strategies

    lines = sim.strategies.__doc__.splitlines()
    example = textwrap.dedent("\n".join(line for line in lines[lines.index("") + 1:] if not line or line[:4] == "    "))
    assert "deadline=None" in example and "def test_" in example
    test = tmp_path / "test_user.py"
    test.write_text(example.replace("settings(deadline=None)", "settings(deadline=None, max_examples=5)"))
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
                           str(test)], cwd=tmp_path, env=ENV, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow
def test_the_readmes_library_example_prints_what_it_says(capsys, monkeypatch):
    """The code under "Library use and property tests" runs as written (from the repository's root)
    and prints the figures its comments quote."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Library use and property tests"):]
    code = section[section.index("```python") + len("```python"):section.index("```", section.index("```python") + 9)]
    monkeypatch.chdir(ROOT)
    exec(compile(code, "README.md", "exec"), {})  # noqa: S102 (the README's own code, as a reader runs it)
    printed = capsys.readouterr().out.splitlines()
    quoted = [line.split("#", 1)[1].strip() for line in code.splitlines() if line.startswith("print(")]
    assert len(printed) == len(quoted) == 2
    assert printed[0].startswith(quoted[0].split(", low=")[0] + ", low=")  # Estimate(p=0.47514, low=
    p, spread = printed[1].split(" ", 1)
    quoted_p, quoted_spread = quoted[1].split(", ", 1)
    assert p == quoted_p
    spread = ast.literal_eval(spread)
    for key in ("low", "high"):
        shown = re.search(rf"'{key}': ([0-9.]+)", quoted_spread).group(1)
        assert round(spread[key], len(shown) - 2) == float(shown)


def test_the_readmes_result_writer_example_writes_a_result_folder(tmp_path, monkeypatch, capsys):
    """The README's second library example (a ResultWriter's sink passed to run) writes the
    folder `run` writes, and what it prints is the summary's figure."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Library use and property tests"):]
    blocks = section.split("```python")[1:]
    code = blocks[1][:blocks[1].index("```")]
    assert '"results/mine/first"' in code
    code = code.replace('"results/mine/first"', repr(str(tmp_path / "first"))).replace("20_000", "2_048")
    monkeypatch.chdir(ROOT)
    exec(compile(code, "README.md", "exec"), {})  # noqa: S102 (the README's own code, as a reader runs it)
    summary = json.loads((tmp_path / "first" / "summary.json").read_text())
    assert capsys.readouterr().out.strip() == str(summary["headline"]["substantive_or_better"]["p"])
    for name in ("replicates.parquet", "outcomes.png", "fan.png", "inputs"):
        assert (tmp_path / "first" / name).exists(), name
    assert summary["runs"] == 2048 and summary["scenario_file"] == "scenarios/baseline.yaml"


def test_a_result_writer_refuses_what_is_not_a_run_or_a_dict_of_extras(tmp_path):
    """`writer.finish(result, extra)` with extras that are not a dict (a path where the README
    passes `{"scenario_file": path}`) or something that is not a RunResult is an InputError, not
    a ValueError from `dict()`; the writer then leaves the folder as it was."""
    from sim.results import ResultWriter

    out = tmp_path / "r"
    for result, extra, message in ((None, "scenarios/baseline.yaml", "extra: must be a dict"),
                                   (5, None, "result: must be the RunResult that run\\(\\) returned")):
        with pytest.raises(InputError, match=message), ResultWriter(out) as writer:
            ran = run(SMALL, runs=1024, seed=1, sink=writer.sink)
            writer.finish(ran if result is None else result, extra)
        assert not out.exists() or not any(out.iterdir())


def test_scenario_hash_ignores_the_order_of_fields_but_not_of_named_entries():
    """What `sim.scenario_hash`'s docstring says counts: a block's fields in another order hash
    the same; agents (or anchors) listed in another order hash differently, though the scenarios
    compare equal and run the same numbers (its docstring said that key order did not count)."""
    import yaml

    data = yaml.safe_load(dump_scenario(SMALL))
    fields = dict(reversed(list(data.items())))
    fields["agents"] = {name: dict(reversed(list(agent.items()))) for name, agent in data["agents"].items()}
    same = parse_scenario(yaml.safe_dump(fields, sort_keys=False))
    assert sim.scenario_hash(same) == sim.scenario_hash(SMALL)
    agents = {**data, "agents": dict(reversed(list(data["agents"].items())))}
    other = parse_scenario(yaml.safe_dump(agents, sort_keys=False))
    assert other == SMALL and sim.scenario_hash(other) != sim.scenario_hash(SMALL)
    assert (run(other, runs=1024, seed=1).counts == run(SMALL, runs=1024, seed=1).counts).all()
    doc = inspect.getdoc(sim.scenario_hash)
    assert "key order" not in doc and "agents, issues" in doc and "anchors" in doc


def test_a_comparisons_sides_are_a_and_b_in_either_case():
    """`Comparison.estimates("A")` (the default names are "A" and "B") gave B's figures: every side
    but "a" was taken for B. Now "A" is A, "B" is B."""
    b = parse_scenario(dump_scenario(SMALL), overrides={"summit.cancellation.base_probability": 0.5})
    c = compare(SMALL, b, runs=2048, seed=1)
    a_side, b_side = c.estimates("a")["collapse"].p, c.estimates("b")["collapse"].p
    assert a_side < b_side
    assert c.estimates("A")["collapse"].p == a_side and c.estimates("B")["collapse"].p == b_side


def test_scenario_dicts_draws_what_its_docstring_says():
    """`scenario_dicts`' docstring said "a summit 1-120 days after the start" (a drawn date's
    window ended up to 150 days after it) and "a few hundred to a few thousand runs" (1 to
    2,048), and did not say that no scenario uses the `eum` engine: what it says now holds."""
    import datetime as dt

    from hypothesis import given, settings

    import sim.strategies as s

    doc = inspect.getdoc(s.scenario_dicts)
    assert "1 to 2,048 runs" in doc and "up to 30 days later" in doc and "the `eum` engine" in doc

    @settings(max_examples=150, deadline=None, database=None)
    @given(s.scenario_dicts())
    def check(data):
        date, start = data["summit"]["date"], data["calendar"]["start"]
        earliest, latest = (date, date) if isinstance(date, dt.date) else (date["low"], date["high"])
        assert 1 <= (earliest - start).days <= 120 and (latest - earliest).days <= 30
        assert 1 <= data["monte_carlo"]["runs"] <= 2048
        assert data.get("dynamics", {}).get("engine", "convergence") == "convergence"
        assert "weights" not in data["summit"] and "observed" not in data

    check()


def test_scenario_dicts_draws_eum_weights_and_observed_when_asked_as_its_docstring_says():
    """With `engines`, `weights` and `observed`: each engine drawn, an eum scenario's settings in
    the schema's ranges and no `rate`, weights on parties only, an observed date after the vantage."""
    import datetime as dt

    from hypothesis import given, settings

    import sim.strategies as s
    from sim.schema import Scenario, support

    doc = " ".join(inspect.getdoc(s.scenario_dicts).split())
    assert "`rounds_per_week` 1 to 20, `q` in [0, 1]" in doc and "in (0, 1e6]" in doc and "after the vantage" in doc
    seen = set()

    @settings(max_examples=150, deadline=None, database=None)
    @given(s.scenario_dicts(engines=("convergence", "eum"), weights=True, observed=True))
    def check(data):
        scenario = Scenario.model_validate(data)
        dynamics = data.get("dynamics", {})
        seen.add(scenario.dynamics.engine)
        if scenario.dynamics.engine == "eum":
            assert dynamics["engine"] == "eum" and "rate" not in dynamics
            assert dynamics.get("variant", "scholz") in ("scholz", "paper")
            assert 1 <= dynamics.get("rounds_per_week", 1) <= 20 and 0 <= dynamics.get("q", 1.0) <= 1
        else:
            assert not {"variant", "rounds_per_week", "q"} & set(dynamics)
        weights = data["summit"].get("weights", {})
        assert set(weights) <= set(data["summit"]["parties"])
        assert all(0 < support(w)[0] and support(w)[1] <= 1e6 for w in scenario.summit.weights.values())
        if "observed" in data:
            date = data["observed"]["date"]
            assert min(date if isinstance(date, list) else [date]) > data["calendar"]["vantage"]
            assert isinstance(date, dt.date) or date[0] <= date[1]

    check()
    assert seen == {"convergence", "eum"}


def test_override_values_computed_with_numpy_are_the_numbers_they_hold():
    """A sweep in a user's loop passes numpy scalars: `np.float32(0.5)` or `np.int64(1)` as a
    resolve was refused "must be a number ... (got 0.5)" (only `np.float64`, a float, went
    through); now each is read as its number, inside a distribution too."""
    import numpy as np

    path = ROOT / "tests" / "data" / "small.yaml"
    agent = next(iter(SMALL.agents))
    for value in (np.float32(0.5), np.int64(1), np.array(0.25), {"dist": "uniform", "low": np.float32(0.25),
                                                                   "high": np.float16(0.75)}):
        plain = value.item() if hasattr(value, "item") else {k: getattr(v, "item", lambda v=v: v)()
                                                              for k, v in value.items()}
        assert (load_scenario(path, overrides={f"agents.{agent}.resolve": value})
                == load_scenario(path, overrides={f"agents.{agent}.resolve": plain}))


def _flooded(rate: float = 1e6):
    """tests/data/small.yaml with its incident stream arriving `rate` times a month."""
    data = small_dict()
    data["incidents"][0]["rate_per_month"] = rate
    return scenario_of(data)


@pytest.fixture
def no_replicates(monkeypatch):
    """Any replicate drawn fails the test: a refusal must come before the work."""
    import sim.montecarlo

    def drawn(*args, **kwargs):
        raise AssertionError("a replicate was drawn before the memory was checked")

    monkeypatch.setattr(sim.montecarlo, "draw_state", drawn)


@pytest.mark.parametrize("rate", [1e6, 1e100])
@pytest.mark.parametrize("call, what, largest", [
    (lambda s: run(s, runs=2000, seed=1), "this run", "incident arrivals"),
    (lambda s: compare(s, s, runs=2000, seed=1), "this comparison", "incident arrivals"),
    (lambda s: explain(s, runs=2000, seed=1, shapley=True), "this explanation", "incident arrivals"),
    (lambda s: run(s, runs=2000, seed=1, workers=2), "this run", "incident arrivals"),  # each process holds them
])
def test_work_beyond_the_memory_available_is_refused_before_it_starts(no_replicates, call, what, largest, rate):
    """An incident rate of 10^6 a month made `run` allocate about 23 GiB and raise MemoryError
    (10^100: numpy's "lam value too large"); run, compare and explain now refuse it with the
    figure, its largest part and the arguments to change, in no time and before any replicate."""
    started = time.perf_counter()
    with pytest.raises(InputError) as info:
        call(_flooded(rate))
    assert time.perf_counter() - started < 1
    (problem,) = info.value.problems
    text = str(problem)
    assert text.startswith(f"memory: {what} would need about ")
    assert f"(the largest part {largest}: " in text and "GiB available; " in text
    # small.yaml's chunks are one block already: a smaller chunk size cannot help, so it is not advised
    assert text.endswith("simplify the scenario (a chunk is one block of 1,024 replicates already), or pass a larger "
                         "max_memory= (bytes)")
    assert "--" not in text


def test_max_memory_caps_the_work_and_lets_it_past_the_memory_available(monkeypatch):
    """`max_memory=` bytes is the limit instead of the memory available: below the estimate the
    run is refused naming it, and above the memory available (here made 1 MiB) the work runs."""
    import sim.limits
    from sim.limits import BASE_PROCESS

    with pytest.raises(InputError) as info:
        run(SMALL, runs=1024, seed=1, max_memory=BASE_PROCESS + (1 << 19))
    assert str(info.value.problems[0]).startswith("max_memory: this run would need about ")
    # 1,024 replicates are one chunk of one block: a smaller chunk size cannot help, so it is not advised
    assert str(info.value.problems[0]).endswith("more than the 250.5 MiB allowed; simplify the scenario (a chunk is one "
                                                "block of 1,024 replicates already), or pass a larger max_memory= (bytes)")
    monkeypatch.setattr(sim.limits, "available_memory", lambda: 1 << 20)
    monkeypatch.setattr(sim.limits, "_resident", lambda: 0)
    with pytest.raises(InputError, match="^memory: this comparison would need"):
        compare(SMALL, SMALL, runs=1024, seed=1)
    assert compare(SMALL, SMALL, runs=1024, seed=1, max_memory=1 << 40).runs == 1024


def test_a_normal_run_is_unaffected_by_the_check():
    """The baseline-sized work passes the check, with the same numbers as under any limit it fits."""
    free = run(SMALL, runs=2048, seed=3)
    capped = run(SMALL, runs=2048, seed=3, max_memory=1 << 40)
    assert free.runs == 2048 and list(free.counts) == list(capped.counts)
    assert explain(SMALL, runs=1024, seed=3).runs == 1024


def test_the_command_line_says_its_options_and_lets_max_memory_through(tmp_path, capsys, monkeypatch):
    """The command line refuses with its own message (options, not arguments), unchanged; the
    library call after its check never refuses a second time, so --max-memory above the memory
    available still runs the work."""
    import yaml

    import sim.limits
    from sim.cli import main

    data = small_dict()
    data["incidents"][0]["rate_per_month"] = 1e6
    flooded = tmp_path / "flooded.yaml"
    flooded.write_text(yaml.safe_dump(data, sort_keys=False))
    for argv, what in ((["run", str(flooded)], "this run"), (["compare", str(flooded), str(flooded)], "this comparison"),
                       (["explain", str(flooded)], "this explanation")):
        assert main([*argv, "--out", str(tmp_path / "out"), "--runs", "2000"]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: memory: {what} would need about "), err
        assert err.rstrip().endswith("simplify the scenario (a chunk is one block of 1,024 replicates already), or "
                                     "raise --max-memory"), err
        assert "max_memory=" not in err and not (tmp_path / "out").exists()
    monkeypatch.setattr(sim.limits, "available_memory", lambda: 1 << 20)
    monkeypatch.setattr(sim.limits, "_resident", lambda: 0)
    small = ROOT / "tests" / "data" / "small.yaml"
    assert main(["run", str(small), "--runs", "1024", "--out", str(tmp_path / "r"), "--quiet"]) == 2
    assert "error: memory: this run would need" in capsys.readouterr().err
    for argv in (["run", str(small)], ["compare", str(small), str(small)], ["explain", str(small)]):
        out = tmp_path / argv[0]
        assert main([*argv, "--runs", "1024", "--max-memory", "1TiB", "--out", str(out), "--quiet"]) == 0
        assert "max_memory" not in capsys.readouterr().err


def test_a_smaller_chunk_is_advised_only_where_a_chunk_holds_more_than_one_block():
    """Lowering the chunk size helps only where a chunk holds several blocks of 1,024: with 8
    blocks a chunk, the refusal advises it; with one, it says why it does not."""
    flooded = _flooded()
    for chunk_size, advice in ((8192, "lower chunk_size=, simplify the scenario, or pass"),
                               (1024, "simplify the scenario (a chunk is one block of 1,024 replicates already), or "
                                      "pass")):
        with pytest.raises(InputError) as info:
            run(flooded, runs=8192, seed=1, chunk_size=chunk_size)
        assert advice in str(info.value.problems[0]), chunk_size


def test_with_workers_the_refusal_names_the_part_each_process_holds():
    """The worker processes' total repeats each one's parts: the refusal names the largest of
    those (here the incident arrivals), held in each process, not the total."""
    with pytest.raises(InputError) as info:
        run(_flooded(), runs=2000, seed=1, workers=2)
    text = str(info.value.problems[0])
    assert "(the largest part incident arrivals: " in text and " in each process), more than" in text
    assert "worker processes" not in text


def test_numpy_scalars_for_precision_and_draws_reach_summary_json_as_numbers(tmp_path):
    """`precision=np.float32(0.2)` and `setting(scenario, draws=np.int64(16))` pass the checks, so
    they must not fail at `writer.finish` after the whole run, with json's "Object of type float32
    is not JSON serializable": summary.json holds them as plain numbers."""
    import numpy as np

    from sim.results import ResultWriter

    knobs, note = load_posterior(POSTERIOR).setting(SMALL, draws=np.int64(16))
    with ResultWriter(tmp_path / "r") as writer:
        ran = run(SMALL, runs=4096, seed=1, precision=np.float32(0.2), knobs=knobs, calibration=note,
                  sink=writer.sink)
        summary = writer.finish(ran, {})
    written = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert written["precision"] == pytest.approx(0.2) and written["calibration"]["draws"] == 16
    assert type(summary["precision"]) is float and type(note["draws"]) is int and len(knobs.values) == 16


def test_wilson_of_numpy_counts_is_an_estimate_of_plain_numbers():
    """`wilson(np.int64(3), np.int64(10))` (counts from numpy arithmetic) gave an Estimate whose
    count was an np.int64, which `json.dumps(e.as_dict())` refused; its fields are plain numbers."""
    import numpy as np

    e = wilson(np.int64(3), np.uint32(10))
    assert (type(e.count), type(e.n), type(e.p)) == (int, int, float) and e == wilson(3, 10)
    json.dumps(e.as_dict())


CHANGED = {
    "model_copy with a dict for a block": (lambda: SMALL.model_copy(update={"monte_carlo": {"runs": 10}}),
                                           "was changed after it was validated"),
    "model_copy naming an unknown party": (
        lambda: SMALL.model_copy(update={"summit": SMALL.summit.model_copy(update={"parties": ["north", "ghost"]})}),
        "summit.parties.1: unknown agent; known: north, patron, south"),
}


@pytest.mark.parametrize("case", CHANGED, ids=lambda c: c.replace(" ", "-"))
@pytest.mark.parametrize("call", [lambda s: run(s, runs=1024, seed=1), lambda s: compare(SMALL, s, runs=1024, seed=1),
                                  lambda s: explain(s, runs=1024, seed=1),
                                  lambda s: load_posterior(POSTERIOR).setting(s)],
                         ids=["run", "compare", "explain", "setting"])
def test_a_scenario_changed_after_validation_is_an_input_error(case, call):
    """pydantic's `model_copy(update=...)` (and a dict inside a Scenario changed in place) skips
    validation: `run` of such a scenario failed deep in the model (AttributeError: 'dict' object has
    no attribute 'runs'; KeyError: 'ghost'). It is an InputError saying what is wrong, before any work."""
    make, message = CHANGED[case]
    with pytest.raises(InputError, match=f"^(scenario|b): {message}") as info:
        call(make())
    assert "\n" not in str(info.value)


def test_a_scenario_changed_in_place_is_refused_and_a_valid_variant_still_runs():
    """An agent deleted from a loaded scenario's `agents` dict is refused; `model_copy` with a
    valid block (a checked variant) runs as the same scenario loaded from a file would."""
    changed = scenario_of(small_dict())
    del changed.agents["patron"]
    with pytest.raises(InputError, match="^scenario: "):
        run(changed, runs=1024, seed=1)
    variant = SMALL.model_copy(update={"monte_carlo": SMALL.monte_carlo.model_copy(update={"runs": 1024})})
    assert list(run(variant, seed=1).counts) == list(run(SMALL, runs=1024, seed=1).counts)


def test_every_drawn_scenario_passes_the_check_of_a_changed_scenario():
    """Validating a Scenario again gives an equal one for every kind the strategies draw (eum,
    weights, observed), so the check refuses only what was changed after validation."""
    from hypothesis import given, settings

    import sim.strategies as s
    from sim.arguments import check_scenario

    @settings(max_examples=150, deadline=None, database=None)
    @given(s.scenarios(engines=("convergence", "eum"), weights=True, observed=True))
    def check(scenario):
        check_scenario(scenario)

    check()


def test_load_replicates_of_a_scenarios_results_folder_names_its_newest_run(tmp_path):
    """`sim run` writes results/<scenario>/<run-id>/; load_replicates("results/<scenario>") said only
    that the folder "holds no replicates.parquet". It now names the run folders' newest to pass."""
    for run_id in ("20260101T000000Z-aaaa", "20260102T000000Z-bbbb"):
        (tmp_path / run_id).mkdir()
        (tmp_path / run_id / "replicates.parquet").write_bytes(b"")
    (tmp_path / "notes").mkdir()
    with pytest.raises(InputError, match=re.escape(
            f"{tmp_path}: is not a run's result directory but holds 2 of them: pass one, e.g. the newest, "
            f"load_replicates('{tmp_path / '20260102T000000Z-bbbb'}')")):
        load_replicates(tmp_path)


def test_a_posteriors_setting_still_pickles_after_a_run_so_spawned_workers_take_it():
    """A knob setting caches each model's resolved paths under a weak reference, which pickle
    refuses: after one run (or the compile pass of any run with workers > 1) it could not be
    sent to spawned workers (a notebook, macOS, Windows), and `run(..., knobs=k, workers=2)` failed
    with "cannot pickle 'weakref.ReferenceType' object". The cache is left behind instead."""
    import pickle
    import threading

    knobs, note = load_posterior(POSTERIOR).setting(SMALL)
    alone = run(SMALL, runs=2048, seed=1, chunk_size=1024, knobs=knobs, calibration=note)
    copy = pickle.loads(pickle.dumps(knobs))
    assert copy.knobs == knobs.knobs and (copy.values == knobs.values).all()
    held = threading.Event()
    other = threading.Thread(target=held.wait, daemon=True)  # another thread: workers are spawned
    other.start()
    try:
        spawned = run(SMALL, runs=2048, seed=1, chunk_size=1024, knobs=knobs, calibration=note, workers=2)
    finally:
        held.set()
    assert spawned.workers == 2 and list(spawned.counts) == list(alone.counts)


def test_any_knob_setting_pickles_after_a_run():
    """The same for a setting made by hand (`KnobSetting.constant`): the cache of resolved paths is
    no part of a setting's pickle."""
    import pickle

    from sim.knobs import KnobSetting

    spec = load_posterior(POSTERIOR).knobs
    knobs = KnobSetting.constant(spec, [0.0] * len(spec))
    run(SMALL, runs=1024, seed=1, knobs=knobs)
    copy = pickle.loads(pickle.dumps(knobs))
    assert copy.knobs == knobs.knobs and (copy.values == knobs.values).all()
    assert list(run(SMALL, runs=1024, seed=1, knobs=copy).counts) == list(run(SMALL, runs=1024, seed=1,
                                                                                knobs=knobs).counts)


def test_a_bad_override_is_named_as_the_argument_the_library_was_given():
    """`load_scenario(path, overrides={"agents.nobody.resolve": 0.5})` said "--set: agents.nobody.
    resolve: no such field", naming a command-line option the caller never used; the library
    names its argument, `overrides`, and the command line still says --set."""
    path = ROOT / "tests" / "data" / "small.yaml"
    with pytest.raises(InputError, match=re.escape(f"overrides: agents.nobody.resolve: no such field in {path}")):
        load_scenario(path, overrides={"agents.nobody.resolve": 0.5})
    with pytest.raises(InputError, match="^overrides: events.0.probability: names the same field as "):
        parse_scenario(path.read_text(), overrides={"events.talks.probability": 0.1, "events.0.probability": 0.2})


def test_a_library_runs_calibration_note_names_the_model_that_fitted_the_posterior():
    """The command line's note (summary.json's `calibration`) records the posterior's model digest;
    `posterior.setting`'s, which a library user passes as `calibration=`, did not, so a result made
    from Python could not be told from one of a stale posterior. Both carry it now, and the README
    says how a library user asks what the command line warns about."""
    posterior = load_posterior(POSTERIOR)
    _, note = posterior.setting(SMALL)
    assert note["model_digest"] == posterior.meta["model_digest"] and note["model_digest"]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "posterior.staleness(path)" in readme and "posterior.edited" in readme


def test_a_spread_takes_an_array_of_classes_as_a_tuple():
    """`parameter_spread(np.array([0, 1]))` asked the array's truth (a ValueError); a 1-d array of
    positions is read as the tuple it holds."""
    knobs, note = load_posterior(POSTERIOR).setting(SMALL, draws=8)
    result = run(SMALL, runs=2048, seed=1, knobs=knobs, calibration=note)
    assert result.parameter_spread(np.array([0, 1])) == result.parameter_spread((0, 1))


def test_a_sink_that_edits_its_chunk_does_not_change_the_runs_counts():
    """The sink saw each chunk before the run counted it, so a sink that merged collapse into talk fest
    in its chunk ([0 3709 387 0] for [0 3709 50 337]) changed the run's own result."""
    def merge(chunk):
        chunk.outcome[chunk.outcome == 3] = 2

    plain = run(SMALL, runs=4096, seed=1)
    assert plain.counts[3] > 0
    assert list(run(SMALL, runs=4096, seed=1, sink=merge).counts) == list(plain.counts)
