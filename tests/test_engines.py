"""The weekly diplomacy engines: each is a function over the whole batch, and
the scenario's `dynamics.engine` picks one without touching the rest."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from conftest import run_replicates, scenario_of, small_dict, state_of
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sim.engines import ENGINES, make_engine
from sim.eum import step_eum
from sim.loading import load_scenario
from sim.model import CLASSES, compile_model
from sim.strategies import scenario_dicts, scenarios

BASELINE = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.yaml"


def _eum_dict(variant="scholz", rounds=1):
    data = small_dict()
    data["dynamics"] = {"engine": "eum", "variant": variant, "rounds_per_week": rounds, "noise": 0.0}
    return data


@pytest.mark.parametrize("variant", ["scholz", "paper"])
@pytest.mark.parametrize("rounds", [1, 3])
def test_eum_engine_moves_each_issue_as_the_eum_does(variant, rounds):
    """With no resolve, a week of the eum engine is `rounds` EUM rounds on each issue, with
    saliences rescaled so each agent's top issue has salience 1 (then the alliance's pull)."""
    model, state, _ = state_of(scenario_of(_eum_dict(variant, rounds)))
    state.position[:] = np.random.default_rng(3).random(state.position.shape)
    start = state.position.copy()
    top = state.salience.max(axis=1, keepdims=True)
    salience = state.salience / top
    engine = make_engine(model, state.n)
    engine.start(state, np.zeros_like(state.resolve))
    engine.step(state, 7.0, np.zeros_like(state.resolve))

    for k in range(model.n_issues):
        x = start[:, k, :]
        span = start[:, k, :].max(axis=0) - start[:, k, :].min(axis=0)
        for _ in range(rounds):
            x, _ = step_eum(x, state.capability, salience[:, k, :], span, variant=variant)
        for a, al in enumerate(model.alliances):
            if k in al.issues:
                x[al.agent] += state.alliance_pull[a] * (x[al.patron] - x[al.agent])
        expected = np.clip(x, model.lower[:, k], model.upper[:, k])
        np.testing.assert_allclose(state.position[:, k, :], expected, rtol=0, atol=1e-12)


def test_resolve_damps_the_eum_move():
    """An agent with resolve r goes a share 1 - r of the way the EUM proposes."""
    model, state, _ = state_of(scenario_of(_eum_dict()))
    state.position[:] = np.random.default_rng(4).random(state.position.shape)
    free, stiff = state.position.copy(), state.position.copy()
    for resolve in (0.0, 0.75):
        state.position[:] = stiff
        engine = make_engine(model, state.n)
        engine.start(state, np.full_like(state.resolve, resolve))
        engine.step(state, 7.0, np.full_like(state.resolve, resolve))
        if resolve == 0.0:
            free_move = state.position - free
    inside = (state.position > model.lower + 1e-9) & (state.position < model.upper - 1e-9)
    inside[model.alliances[0].agent] = False  # the alliance's pull comes on top of the damped move
    inside &= (free + free_move > model.lower) & (free + free_move < model.upper)
    np.testing.assert_allclose((state.position - stiff)[inside], 0.25 * free_move[inside], atol=1e-12)


def test_every_engine_is_registered_and_named_in_the_summary():
    """Both engines run the small scenario, and the result says which engine it used."""
    assert set(ENGINES) == {"convergence", "eum"}
    for engine in ENGINES:
        data = small_dict()
        data["dynamics"] = {"engine": engine}
        reps = run_replicates(scenario_of(data), runs=2048, seed=1)
        assert reps.result.model.engine == engine
        assert reps.counts.sum() == 2048


def test_eum_results_do_not_depend_on_chunk_size():
    """Under the eum engine too, the per-replicate outcomes are identical for any chunk size."""
    scenario = scenario_of(_eum_dict())
    a = run_replicates(scenario, runs=3000, seed=9, chunk_size=1024)
    b = run_replicates(scenario, runs=3000, seed=9, chunk_size=4096)
    assert a.same_as(b)


def test_baseline_runs_under_both_engines():
    """The baseline runs under convergence and under eum, and the probabilities sum to 1."""
    for engine in ("convergence", "eum"):
        scenario = load_scenario(BASELINE, overrides={"dynamics.engine": engine})
        reps = run_replicates(scenario, runs=2048, seed=20160601)
        assert compile_model(scenario).engine == engine
        assert math.isclose(sum(e.p for e in reps.result.estimates().values()), 1.0)


@pytest.mark.slow
def test_widening_russias_islands_bound_does_not_lower_the_baseline_forecast():
    """Letting Russia concede up to all four islands does not lower P(substantive or better)
    on the baseline beyond sampling error (paired replicates, 3 paired standard errors)."""
    runs = 50_000
    base = run_replicates(load_scenario(BASELINE), runs=runs, seed=20160601)
    wide = run_replicates(
        load_scenario(BASELINE, overrides={"agents.russia.issues.islands.bounds": [0.0, 1.0]}),
        runs=runs, seed=20160601)
    diff = wide.substantive_or_better.astype(float) - base.substantive_or_better.astype(float)
    se = diff.std(ddof=1) / math.sqrt(runs)
    assert diff.mean() >= -3 * se, (diff.mean(), se)


@pytest.mark.slow
def test_the_readme_engine_table_is_what_the_engines_give():
    """README, "Engines compared": each engine's row (100,000 replicates, seed 20160601) is the
    baseline's classes, headline interval and most frequent deal's share as printed."""
    import re

    from sim import run
    from sim.results import summarise_deals

    readme = (BASELINE.parents[1] / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(convergence|eum)`(?:, `(scholz|paper)`)? \| (.+) \|$", readme, re.MULTILINE)
    assert len(rows) == 3
    for engine, variant, cells in rows:
        overrides = {"dynamics.engine": engine, **({"dynamics.variant": variant} if variant else {})}
        result = run(load_scenario(BASELINE, overrides=overrides), runs=100_000, seed=20160601, workers=1)
        h = result.headline()["substantive_or_better"]
        top = summarise_deals(result, top=1)[0]["p"]
        printed = [*(f"{e.p:.3f}" for e in result.estimates().values()), f"{h.p:.3f} [{h.low:.3f}, {h.high:.3f}]"]
        assert cells.split(" | ")[:5] == printed, (engine, variant)
        assert cells.endswith(f"({top:.3f})"), (engine, variant, top)


def test_a_run_under_eum_names_its_variant_and_rounds(tmp_path, capsys):
    """`sim run` under the eum engine prints the variant, rounds a week and q beside the engine,
    and summary.json keeps them: two variants' results are not told apart by "engine eum" alone."""
    import json

    from sim.cli import main

    path = tmp_path / "s.yaml"
    data = _eum_dict("paper", 2)
    path.write_text(json.dumps(data, default=str), encoding="utf-8")
    assert main(["run", str(path), "--runs", "1024", "--seed", "1", "--out", str(tmp_path / "out")]) == 0
    assert "engine eum (paper, 2 rounds a week, q 1), " in capsys.readouterr().out
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert summary["engine"] == "eum"
    assert summary["engine_options"] == {"variant": "paper", "rounds_per_week": 2, "q": 1.0}


def test_eum_settings_under_the_convergence_engine_are_a_warning(tmp_path, capsys):
    """`--set dynamics.variant=paper` without `dynamics.engine=eum` changes nothing: `run` says so
    on stderr, naming the field, and still runs; with the eum engine, or without eum settings, no warning
    (under eum, only the notes that the baseline's own dynamics.rate, and its two events' moves of
    Russia's ideal, change nothing)."""
    from sim.cli import main

    out = tmp_path / "out"
    assert main(["run", str(BASELINE), "--set", "dynamics.variant=paper", "--set", "dynamics.q=0.5",
                 "--runs", "1024", "--seed", "1", "--out", str(out / "a"), "--quiet"]) == 0
    lines = capsys.readouterr().err.splitlines()
    assert lines == [f"warning: {BASELINE} (--set): dynamics.{name}: is read only by the eum engine; this scenario's engine "
                     "is convergence, so it changes nothing (set dynamics.engine: eum to use it)"
                     for name in ("variant", "q")]
    eum_notes = [_rate_note(BASELINE, 0.1),
                 *(_ideal_note(BASELINE, f"events.{k}.effects.{j}", f"event {name} ({day})", "russia", "islands")
                   for k, j, name, day in ((6, 0, "lavrov_interview", "2016-05-24"),
                                           (7, 1, "surovikin_rearmament", "2016-05-25")))]
    for sets, said in ((["dynamics.engine=eum", "dynamics.variant=paper"], eum_notes), ([], [])):
        assert main(["run", str(BASELINE), *(a for s in sets for a in ("--set", s)), "--runs", "1024", "--seed", "1",
                     "--out", str(out / str(len(sets))), "--quiet"]) == 0
        assert capsys.readouterr().err.splitlines() == said


def _ideal_note(path, where, what, agent, issue) -> str:
    return (f"note: {path}: {where}: {what} moves {agent}'s ideal on {issue}, which only the convergence engine reads "
            "(its pull back toward the ideal); this scenario's engine is eum, which moves positions by the EUM rounds "
            "and reads an ideal only as the starting position, so it changes nothing")


def _rate_note(path, rate) -> str:
    return (f"note: {path}: dynamics.rate: is read only by the convergence engine; this scenario's engine is eum, "
            f"whose pace is dynamics.rounds_per_week (EUM rounds a week), so it changes nothing (got {rate})")


def test_a_rate_given_to_the_eum_engine_gets_a_note(tmp_path, capsys):
    """The eum engine never reads `dynamics.rate`: a scenario that gives one (in the file or by
    --set, which the note names as an error would) and runs eum gets a note saying so, from validate
    and from every command, once each; the default rate, or a rate under convergence, gets none."""
    import json

    from sim.cli import main

    cases = {"file": ({"engine": "eum", "rate": 0.3}, [], True),
             "set": ({"engine": "eum"}, ["--set", "dynamics.rate=0.3"], True),
             "default": ({"engine": "eum"}, [], False),
             "convergence": ({"rate": 0.3}, [], False)}
    for name, (dynamics, sets, noted) in cases.items():
        data = small_dict()
        data["dynamics"] = dynamics
        path = tmp_path / f"{name}.yaml"
        path.write_text(json.dumps(data, default=str), encoding="utf-8")
        commands = [["validate", str(path)] if not sets else None,
                    ["run", str(path), *sets, "--runs", "1024", "--out", str(tmp_path / name / "run"), "--quiet"],
                    ["compare", str(path), str(path), *sets, "--set-b", "summit.bargaining.margin=0.1", "--runs",
                     "1024", "--out", str(tmp_path / name / "cmp"), "--quiet"]]
        for argv in filter(None, commands):
            assert main(argv) == 0, argv
            said = [_rate_note(f"{path} (--set)" if sets else path, 0.3)] if noted else []
            assert capsys.readouterr().err.splitlines() == said, argv


def _sweep_note(label, path, reader, engine) -> str:
    pace = ", whose pace is dynamics.rounds_per_week (EUM rounds a week)" if path == "dynamics.rate" else ""
    return (f"note: {label}: {path} is read only by the {reader} engine; the scenario's engine is {engine}{pace}, "
            "so varying it changes nothing")


def test_a_sweep_of_a_field_its_engine_never_reads_gets_a_note(tmp_path, capsys):
    """A sweep (grid, sobol or morris) that varies `dynamics.rate` of a scenario run under eum
    (the file says so, or the spec's `set:` or --set), or an eum setting under convergence, would
    give points that differ by nothing that factor does: one note, naming the spec entry or the
    --vary option, the field and why; a field the engine reads gets none."""
    import json

    from sim.cli import main

    eum = small_dict()
    eum["dynamics"] = {"engine": "eum"}
    eum_file = tmp_path / "eum.yaml"
    eum_file.write_text(json.dumps(eum, default=str), encoding="utf-8")
    small = Path(__file__).parent / "data" / "small.yaml"
    margin = {"path": "summit.bargaining.margin", "low": 0.0, "high": 0.2}

    def spec(name, vary, **more):
        path = tmp_path / f"{name}.yaml"
        path.write_text(json.dumps({"scenario": str(small), "runs": 1024, "seed": 1, "vary": vary, **more}),
                        encoding="utf-8")
        return path

    rate = {"path": "dynamics.rate", "low": 0.1, "high": 0.3}
    grid = spec("grid", [{**rate, "levels": 2}], set={"dynamics.engine": "eum"})
    sobol = spec("sobol", [margin, rate], design="sobol", points=2)
    morris = spec("morris", [rate, margin], design="morris", points=2)
    q = spec("q", [{"path": "dynamics.q", "low": 0.5, "high": 1.0, "levels": 2}])
    cases = [(["--spec", str(grid)], [_sweep_note(f"{grid}: vary.0", "dynamics.rate", "convergence", "eum")]),
             (["--spec", str(sobol), "--set", "dynamics.engine=eum"],
              [_sweep_note(f"{sobol}: vary.1", "dynamics.rate", "convergence", "eum")]),
             (["--spec", str(morris), "--set", "dynamics.engine=eum"],
              [_sweep_note(f"{morris}: vary.0", "dynamics.rate", "convergence", "eum")]),
             ([str(eum_file), "--vary", "dynamics.rate=0.1:0.3:2", "--runs", "1024"],
              [_sweep_note("--vary dynamics.rate=0.1:0.3:2", "dynamics.rate", "convergence", "eum")]),
             (["--spec", str(q)], [_sweep_note(f"{q}: vary.0", "dynamics.q", "eum", "convergence")]),
             (["--spec", str(sobol)], []),  # convergence reads the rate
             (["--spec", str(q), "--set", "dynamics.engine=eum"], [])]
    for k, (argv, said) in enumerate(cases):
        assert main(["sweep", *argv, "--quiet", "--out", str(tmp_path / f"out{k}")]) == 0, argv
        assert [line for line in capsys.readouterr().err.splitlines() if line.startswith("note:")] == said, argv


def test_a_posterior_knob_its_engine_never_reads_gets_a_note(tmp_path, capsys):
    """A posterior whose knob sets `dynamics.rate`, applied (--calibration) to a scenario run under
    eum, draws a rate the engine never reads: run, compare and explain say so, once a command,
    naming the posterior, the knob and the scenario; under convergence, or for a knob the engine
    reads (noise), no note."""
    import json

    from sim.cli import main
    from sim.knobs import KnobSpec, make_grid, prior_weights
    from sim.posterior import Posterior
    from sim.provenance import model_digest

    knobs = [KnobSpec.model_validate({"name": name, "path": f"dynamics.{name}", "levels": 2,
                                      "prior": {"dist": "uniform", "low": 0.05, "high": 0.2}})
             for name in ("rate", "noise")]
    grid = make_grid(knobs)
    posterior = tmp_path / "p.json"
    Posterior(tuple(knobs), grid, prior_weights(knobs, grid), np.zeros((len(grid), 0)), (), (),
              {"model_digest": model_digest()}).write(posterior)
    data = small_dict()
    data["dynamics"] = {"engine": "eum"}
    eum = tmp_path / "eum.yaml"
    eum.write_text(json.dumps(data, default=str), encoding="utf-8")
    small = Path(__file__).parent / "data" / "small.yaml"
    note = (f"note: {posterior}: knob rate: dynamics.rate is read only by the convergence engine; the scenario's "
            "engine is eum, whose pace is dynamics.rounds_per_week (EUM rounds a week), so this knob changes "
            f"nothing in {{}}")
    cases = [(["run", str(eum)], [note.format(eum)]),
             (["run", str(small), "--set", "dynamics.engine=eum"], [note.format(small)]),
             (["compare", str(eum), str(eum), "--set-b", "summit.bargaining.margin=0.1"], [note.format(eum)]),
             (["compare", str(small), str(eum)], [note.format(eum)]),
             (["explain", str(eum)], [note.format(eum)]),
             (["run", str(small)], [])]
    for k, (argv, said) in enumerate(cases):
        assert main([*argv, "--calibration", str(posterior), "--runs", "1024", "--quiet",
                     "--out", str(tmp_path / f"out{k}")]) == 0, argv
        assert capsys.readouterr().err.splitlines() == said, argv
    # a backtest counts its cases in one line, not a line a case
    assert main(["backtest", str(Path(__file__).parent / "data" / "cases"), "--set", "dynamics.engine=eum",
                 "--calibration", str(posterior), "--runs", "1024", "--quiet", "--out", str(tmp_path / "bt")]) == 0
    assert [line for line in capsys.readouterr().err.splitlines() if "knob" in line] == [
        note.format("6 of 6 cases (c1, c2, c3, c4, c5 and 1 more)")]


def _with_ideal_moves(engine: str | None, moved: bool = True) -> dict:
    data = small_dict()
    if engine is not None:
        data["dynamics"] = {"engine": engine}
    # without the moves, the event keeps its other effect (which the test's runs must still see)
    ideal = [{"target": "ideal", "agent": "south", "issue": "land",
              "shift": {"dist": "uniform", "low": 0.3, "high": 0.5}}] if moved else []
    data["events"].append({"name": "rethink", "date": "2020-01-20", "probability": 0.7, "source": "made up",
                           "effects": [*ideal, {"target": "trust", "shift": 0.05}]})
    if moved:
        data["incidents"].append({"name": "drift", "rate_per_month": 2.0,
                                  "effects": [{"target": "ideal", "agent": "north", "issue": "trade", "shift": -0.2}]})
    return data


def test_under_eum_a_move_of_an_ideal_changes_nothing_and_gets_a_note(tmp_path, capsys):
    """Under eum nothing reads an agent's ideal after the start (the engine moves positions by the
    EUM rounds; the ideal is only where the agent starts): an event's or incident's effect on an
    ideal changes no replicate, and the scenario gets a note for each, naming the event (and its
    date) or incident. Under convergence the same moves change the forecast, and get none."""
    import json

    from sim.cli import main

    def same(engine):
        return run_replicates(scenario_of(_with_ideal_moves(engine)), runs=2048, seed=5).same_as(
            run_replicates(scenario_of(_with_ideal_moves(engine, moved=False)), runs=2048, seed=5))

    assert same("eum") and not same(None)
    path = tmp_path / "eum.yaml"
    path.write_text(json.dumps(_with_ideal_moves("eum"), default=str), encoding="utf-8")
    assert main(["validate", str(path)]) == 0
    assert capsys.readouterr().err.splitlines() == [
        _ideal_note(path, "events.1.effects.0", "event rethink (2020-01-20)", "south", "land"),
        _ideal_note(path, "incidents.1.effects.0", "incident drift", "north", "trade")]
    path.write_text(json.dumps(_with_ideal_moves(None), default=str), encoding="utf-8")
    assert main(["validate", str(path)]) == 0
    assert "note:" not in capsys.readouterr().err


def test_a_name_ending_in_s_takes_a_bare_apostrophe_in_the_notes(tmp_path, capsys):
    """An agent named `separatists` is "separatists' ideal", never "separatists's ideal", in the
    note of each move of an ideal and in the note of a sweep factor on such an event (one helper,
    `reporting.possessive`, for every name that takes 's)."""
    import json

    from sim.cli import main
    from sim.reporting import possessive

    assert [possessive(name) for name in ("separatists", "south", "g7", "Swiss", "HAMAS")] == [
        "separatists'", "south's", "g7's", "Swiss'", "HAMAS'"]
    data = json.loads(json.dumps(_with_ideal_moves("eum"), default=str).replace('"south"', '"separatists"'))
    path = tmp_path / "eum.yaml"
    path.write_text(json.dumps(data), encoding="utf-8")
    assert main(["validate", str(path)]) == 0
    err = capsys.readouterr().err
    assert "event rethink (2020-01-20) moves separatists' ideal on land, " in err and "'s ideal" in err, err
    assert "separatists's" not in err, err
    data["incidents"] = data["incidents"][:1]  # rethink's effects alone: its probability moves only an ideal
    data["events"][-1]["effects"] = data["events"][-1]["effects"][:1]
    path.write_text(json.dumps(data), encoding="utf-8")
    assert main(["sweep", str(path), "--vary", "events.rethink.probability=0.1:0.9:2", "--runs", "1024",
                 "--quiet", "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert "whose every effect moves an ideal (separatists' on land)" in err, err
    assert "separatists's" not in err, err


def _effect_note(label, path, what, agent, issue, engine="eum") -> str:
    return (f"note: {label}: {path} is part of the effect by which {what} moves {agent}'s ideal on {issue}, which "
            "only the convergence engine reads (its pull back toward the ideal); the scenario's engine is eum, which "
            "moves positions by the EUM rounds and reads an ideal only as the starting position, so varying it "
            "changes nothing")


def test_a_sweep_of_a_move_of_an_ideal_under_eum_gets_a_note(tmp_path, capsys):
    """Under eum an effect that moves an ideal changes no replicate, so a factor on any of its
    fields (the event or incident by name or index, the effect by index, a distribution or a part
    of one) gives points that differ by nothing it does: one note, naming the --vary option, the
    path and why, and the points' counts are indeed equal. The same factor under convergence, or a
    factor on the event's other effect (trust), gets none."""
    import csv
    import json

    from sim.cli import main

    paths = {name: tmp_path / f"{name}.yaml" for name in ("eum", "convergence")}
    for name, path in paths.items():
        path.write_text(json.dumps(_with_ideal_moves(name), default=str), encoding="utf-8")
    event, incident = "event rethink (2020-01-20)", "incident drift"
    cases = [("eum", "events.rethink.effects.0.shift=0.1:0.6:2", (event, "south", "land")),
             ("eum", "events.1.effects.0.shift.high=0.5:0.9:2", (event, "south", "land")),
             ("eum", "events.rethink.effects.0.probability=0.2:1:2", (event, "south", "land")),
             ("eum", "incidents.drift.effects.0.shift=-0.4:0.4:2", (incident, "north", "trade")),
             ("eum", "events.rethink.effects.1.shift=-0.2:0.2:2", None),  # a trust effect: eum reads it
             ("convergence", "events.rethink.effects.0.shift=0.1:0.6:2", None),
             ("convergence", "incidents.1.effects.0.shift=-0.4:0.4:2", None)]
    for k, (engine, vary, noted) in enumerate(cases):
        out = tmp_path / f"out{k}"
        assert main(["sweep", str(paths[engine]), "--vary", vary, "--runs", "1024", "--seed", "3", "--quiet",
                     "--out", str(out)]) == 0, vary
        said = [_effect_note(f"--vary {vary}", vary.partition("=")[0], *noted)] if noted else []
        assert [line for line in capsys.readouterr().err.splitlines() if line.startswith("note: --vary")] == said, vary
        with open(out / "points.csv", encoding="utf-8") as f:
            rows = [{key: v for key, v in row.items() if key.endswith("_count")} for row in csv.DictReader(f)]
        assert len(rows) == 2 and rows[0], rows
        assert (rows[0] == rows[1]) == (noted is not None), (vary, rows)


def test_a_knob_cannot_name_a_field_of_an_effect(tmp_path, capsys):
    """A knob acts on the numbers drawn once per replicate (`model.params`), which an effect's
    shift or probability is not: a posterior whose knob names one is refused with an error (no
    flat forecast for a note to explain), under either engine."""
    import json

    from sim.cli import main
    from sim.knobs import KnobSpec, make_grid, prior_weights
    from sim.posterior import Posterior
    from sim.provenance import model_digest

    knobs = [KnobSpec.model_validate({"name": "move", "path": "events.rethink.effects.0.shift", "levels": 2,
                                      "prior": {"dist": "uniform", "low": 0.1, "high": 0.5}})]
    grid = make_grid(knobs)
    posterior = tmp_path / "p.json"
    Posterior(tuple(knobs), grid, prior_weights(knobs, grid), np.zeros((len(grid), 0)), (), (),
              {"model_digest": model_digest()}).write(posterior)
    for engine in ("eum", None):
        path = tmp_path / f"{engine}.yaml"
        path.write_text(json.dumps(_with_ideal_moves(engine), default=str), encoding="utf-8")
        assert main(["run", str(path), "--calibration", str(posterior), "--runs", "1024", "--quiet",
                     "--out", str(tmp_path / f"out-{engine}")]) == 2
        err = capsys.readouterr().err
        assert "knobs.move.path: names no number drawn per replicate" in err, err
        assert "knob move:" not in err, err


def test_unread_in_scenario_names_the_moves_of_ideals_by_any_spelling():
    """The one rule of what a scenario's engine never reads: its `dynamics` fields (as
    `unread_by_engine`) and, under eum, any field of an effect on an ideal, the event or incident
    named by name or index; nothing that names no effect's field, nor anything under convergence."""
    from sim.loading import unread_by_engine, unread_in_scenario

    eum, convergence = scenario_of(_with_ideal_moves("eum")), scenario_of(_with_ideal_moves(None))
    rethink = "is part of the effect by which event rethink (2020-01-20) moves south's ideal on land, "
    for path in ("events.rethink.effects.0.shift", "events.1.effects.0.shift.low", "events.rethink.effects.0.probability"):
        assert unread_in_scenario(path, eum).startswith(rethink), path
        assert unread_in_scenario(path, eum).endswith("; this scenario's engine is eum, which moves positions by the "
                                                      "EUM rounds and reads an ideal only as the starting position")
        assert unread_in_scenario(path, convergence) is None, path
    assert "incident drift moves north's ideal on trade" in unread_in_scenario("incidents.1.effects.0.shift", eum)
    for path in ("events.rethink.effects.1.shift", "events.rethink.effects.0", "events.rethink.effects.2.shift",
                 "events.nosuch.effects.0.shift", "events.rethink.probability", "incidents.clash.effects.0.shift",
                 "agents.south.issues.land.position", "dynamics.noise"):
        assert unread_in_scenario(path, eum) is None, path
    assert unread_in_scenario("dynamics.rate", eum, "the scenario's") == unread_by_engine("dynamics.rate", "eum",
                                                                                          "the scenario's")
    assert unread_in_scenario("dynamics.q", convergence) == unread_by_engine("dynamics.q", "convergence")


def test_when_or_how_often_only_moves_of_ideals_come_changes_nothing_under_eum(tmp_path, capsys):
    """Under eum the date or probability of an event whose every effect moves an ideal, or the
    rate or start of such an incident, changes no replicate (its effects change none): a sweep
    factor on one gets a note, and the points are indeed equal. An event with another effect
    (rethink's trust), or the same factor under convergence, gets none."""
    import csv
    import json

    from sim.cli import main
    from sim.loading import unread_in_scenario

    def scenario(engine):
        data = _with_ideal_moves(engine)
        data["events"].append({"name": "pivot", "date": "2020-01-25", "probability": 0.5, "source": "made up",
                               "effects": [{"target": "ideal", "agent": "north", "issue": "land", "shift": -0.3}]})
        return data

    eum, convergence = scenario_of(scenario("eum")), scenario_of(scenario("convergence"))
    for path in ("events.pivot.probability", "events.2.date", "incidents.drift.rate_per_month",
                 "incidents.drift.rate_per_month.high", "incidents.1.start"):
        assert unread_in_scenario(path, eum) is not None, path
        assert unread_in_scenario(path, convergence) is None, path
    for path in ("events.rethink.probability", "events.nobody.probability", "events.pivot.bogus", "events.pivot"):
        assert unread_in_scenario(path, eum) is None, path
    assert unread_in_scenario("incidents.drift.rate_per_month", eum, "the scenario's") == (
        "is a field of incident drift, whose every effect moves an ideal (north's on trade), which only the "
        "convergence engine reads (its pull back toward the ideal); the scenario's engine is eum, which moves "
        "positions by the EUM rounds and reads an ideal only as the starting position")

    path = tmp_path / "eum.yaml"
    path.write_text(json.dumps(scenario("eum"), default=str), encoding="utf-8")
    for k, (vary, noted) in enumerate((("events.pivot.probability=0.1:0.9:2", True),
                                       ("events.rethink.probability=0.1:0.9:2", False))):
        out = tmp_path / f"out{k}"
        assert main(["sweep", str(path), "--vary", vary, "--runs", "1024", "--seed", "3", "--quiet",
                     "--out", str(out)]) == 0, vary
        notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note: --vary")]
        assert len(notes) == noted and all("event pivot (2020-01-25), whose every effect moves an ideal" in line
                                           and line.endswith("so varying it changes nothing") for line in notes), notes
        with open(out / "points.csv", encoding="utf-8") as f:
            rows = [{key: v for key, v in row.items() if key.endswith("_count")} for row in csv.DictReader(f)]
        assert (rows[0] == rows[1]) == noted, (vary, rows)


def test_a_knob_on_when_only_moves_of_ideals_come_gets_a_note_under_eum(tmp_path, capsys):
    """A posterior knob on the probability of an event whose every effect moves an ideal draws a
    value that changes nothing under eum: the run says so, naming the knob and the scenario."""
    import json

    from sim.cli import main
    from sim.knobs import KnobSpec, make_grid, prior_weights
    from sim.posterior import Posterior
    from sim.provenance import model_digest

    knobs = [KnobSpec.model_validate({"name": "p", "path": "events.pivot.probability", "levels": 2,
                                      "prior": {"dist": "uniform", "low": 0.1, "high": 0.9}})]
    grid = make_grid(knobs)
    posterior = tmp_path / "p.json"
    Posterior(tuple(knobs), grid, prior_weights(knobs, grid), np.zeros((len(grid), 0)), (), (),
              {"model_digest": model_digest()}).write(posterior)
    for engine, noted in (("eum", True), ("convergence", False)):
        data = _with_ideal_moves(engine)
        data["events"].append({"name": "pivot", "date": "2020-01-25", "probability": 0.5, "source": "made up",
                               "effects": [{"target": "ideal", "agent": "north", "issue": "land", "shift": -0.3}]})
        path = tmp_path / f"{engine}.yaml"
        path.write_text(json.dumps(data, default=str), encoding="utf-8")
        assert main(["run", str(path), "--calibration", str(posterior), "--runs", "1024", "--quiet",
                     "--out", str(tmp_path / engine)]) == 0
        line = (f"note: {posterior}: knob p: events.pivot.probability is a field of event pivot (2020-01-25), whose "
                "every effect moves an ideal (north's on land), which only the convergence engine reads (its pull "
                "back toward the ideal); the scenario's engine is eum, which moves positions by the EUM rounds and "
                f"reads an ideal only as the starting position, so this knob changes nothing in {path}")
        assert (line in capsys.readouterr().err.splitlines()) == noted


# --- Drawn eum scenarios ------------------------------------------------------------------------

EUM = {"engines": ("eum",), "weights": True, "observed": True}
"""What `sim.strategies` draws for the eum engine: every eum setting, Nash weights, an observed block."""


def _runs_and_sums_to_one(scenario, runs: int = 300) -> None:
    reps = run_replicates(scenario, runs=runs, seed=0)
    assert scenario.dynamics.engine == "eum" and compile_model(scenario).engine == "eum"
    assert reps.result.runs == runs == len(reps.outcome) == int(reps.counts.sum())
    assert np.array_equal(reps.counts, np.bincount(reps.outcome, minlength=len(CLASSES)))
    assert math.isclose(sum(e.p for e in reps.result.estimates().values()), 1.0, rel_tol=1e-12)
    assert np.all(np.isfinite(reps.position))


@settings(max_examples=15, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(max_events=2, max_incidents=1, **EUM))
def test_every_drawn_eum_scenario_runs_and_its_classes_sum_to_one(scenario):
    """Every eum scenario the strategies draw validates and runs; its class counts sum to the runs."""
    _runs_and_sums_to_one(scenario)


@pytest.mark.slow
@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(**EUM))
def test_many_drawn_eum_scenarios_run_and_their_classes_sum_to_one(scenario):
    """The property above on more and larger drawn scenarios."""
    _runs_and_sums_to_one(scenario, runs=500)


def _same_whatever_the_chunk_size(data: dict, seed: int, chunk_size: int, runs: int) -> None:
    scenario = scenario_of(data)
    one = run_replicates(scenario, runs=runs, seed=seed, chunk_size=runs)
    again = run_replicates(scenario, runs=runs, seed=seed, chunk_size=runs)
    chunked = run_replicates(scenario, runs=runs, seed=seed, chunk_size=chunk_size)
    event(f"chunks: {len(range(0, runs, chunked.result.chunk_size))}")
    assert np.array_equal(one.counts, again.counts) and one.same_as(again)
    assert np.array_equal(one.counts, chunked.counts) and one.same_as(chunked)


@settings(max_examples=5, suppress_health_check=[HealthCheck.too_slow])  # 50 more under slow, below
@given(scenario_dicts(max_events=2, max_incidents=1, **EUM), st.integers(0, 2**32), st.integers(1, 2048))
def test_under_eum_the_same_seed_gives_the_same_counts_whatever_the_chunk_size(data, seed, chunk_size):
    """A drawn eum scenario run twice in one chunk and once in chunks of `chunk_size` (rounded up to
    whole blocks: one or two of 1,024, so 2,100 runs always take two chunks or more; 800 runs, as
    before, fit in one chunk whatever the chunk size): the same counts, and every replicate's
    outputs the same."""
    _same_whatever_the_chunk_size(data, seed, chunk_size, runs=2100)


@pytest.mark.slow
@settings(max_examples=50, suppress_health_check=[HealthCheck.too_slow])
@given(scenario_dicts(**EUM), st.integers(0, 2**32), st.integers(1, 5000))
def test_under_eum_many_drawn_scenarios_give_the_same_counts_whatever_the_chunk_size(data, seed, chunk_size):
    """The property above on more and larger drawn scenarios."""
    _same_whatever_the_chunk_size(data, seed, chunk_size, runs=4000)
