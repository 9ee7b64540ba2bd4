"""Calibration: knob specs and their paths, knob settings in a run, the posterior on the grid and its
leave-one-out refits, and `sim calibrate` -> `sim backtest --calibration` -> `sim run --calibration`
on cases whose agents are not called japan and russia."""

from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import scenario_of, small_dict

from sim import run
from sim.backtest import load_cases
from sim.calibrate import loo_forecasts, run_calibration, smoothed, summarise_calibration
from sim.cli import main
from sim.errors import InputError
from sim.knobs import KnobFile, KnobSetting, KnobSpec, load_knobs, make_grid, prior_weights, resolve_knob
from sim.model import SUBSTANTIVE_OR_BETTER, compile_model
from sim.posterior import Posterior, load_posterior, systematic_rows

CASES = Path(__file__).parent / "data" / "cases"
ROOT = Path(__file__).resolve().parents[1]
HISTORY = ROOT / "scenarios" / "history"
UNIFORM = {"dist": "uniform", "low": 0.0, "high": 0.2}


def _knob(path: str, **extra) -> KnobSpec:
    grid = {} if "values" in extra else {"levels": 3}
    return KnobSpec.model_validate({"name": "k", "path": path, "prior": UNIFORM, **grid, **extra})


# --- Specs and paths ---------------------------------------------------------------------


@pytest.mark.parametrize("spec, word", [
    ({"prior": UNIFORM}, "exactly one of levels, values"),
    ({"prior": UNIFORM, "levels": 3, "values": [0.1]}, "exactly one of levels, values"),
    ({"prior": {"dist": "normal", "mean": 0, "sd": 1}, "levels": 3}, "bounded support"),
    ({"prior": UNIFORM, "values": [0.5]}, "support"),
])
def test_a_bad_knob_is_refused_with_the_rule(spec, word):
    """A knob needs a grid (levels or values, inside the prior's support) and a bounded prior."""
    with pytest.raises(Exception) as err:
        KnobSpec.model_validate({"name": "k", "path": "dynamics.noise", **spec})
    assert word in str(err.value)


def test_an_unbounded_prior_is_named_by_its_own_path(tmp_path):
    """knobs.m.prior, showing the prior, not knobs.m showing the whole knob cut short; the knob
    named by its name, as every later check names it, not by its place in the list."""
    path = tmp_path / "k.yaml"
    path.write_text("knobs:\n  - {name: m, path: dynamics.noise, prior: {dist: normal, mean: 0.1, sd: 0.05}, "
                    "levels: 3}\n")
    with pytest.raises(InputError) as err:
        load_knobs(path)
    (problem,) = err.value.problems
    assert problem.path == "knobs.m.prior" and "bounded support" in problem.message
    assert problem.value == {"dist": "normal", "mean": 0.1, "sd": 0.05}


@pytest.mark.parametrize("knob, field, words, value", [
    ("values: [0.1, 1.5]", "knobs.m.values", "must lie in the prior's support [0, 1]", [0.1, 1.5]),
    ("levels: 3, path: 'agents.{summit.parties[1].resolve'", "knobs.m.path", "must be a dotted path",
     "agents.{summit.parties[1].resolve"),
])
def test_a_knob_value_or_path_problem_is_named_by_its_own_field_once(tmp_path, capsys, knob, field, words, value):
    """A grid value outside the prior's support: knobs.m.values showing the values, not knobs.m
    showing the whole knob cut short before the value at fault. A path that is not a dotted path
    (a brace left open): one line naming the spec's field, not one per case naming the case files."""
    spec = tmp_path / "k.yaml"
    path = "" if "path:" in knob else "path: dynamics.noise, "
    spec.write_text(f"knobs:\n  - {{name: m, {path}prior: {{dist: uniform, low: 0, high: 1}}, {knob}}}\n")
    with pytest.raises(InputError) as err:
        load_knobs(spec)
    (problem,) = err.value.problems
    assert (problem.source, problem.path, problem.value) == (str(spec), field, value) and words in problem.message
    assert main(["calibrate", str(CASES), "--knobs", str(spec), "--out", str(tmp_path / "o")]) == 2
    assert len(capsys.readouterr().err.splitlines()) == 1 and not (tmp_path / "o").exists()


def test_a_knob_file_problem_names_the_file_and_field(tmp_path):
    """`load_knobs` reports every problem with the file and the dotted path."""
    path = tmp_path / "k.yaml"
    path.write_text("knobs:\n  - {name: a, path: dynamics.noise, prior: {dist: uniform, low: 0, high: 1}, levls: 3}\n")
    with pytest.raises(InputError) as err:
        load_knobs(path)
    assert any(p.source == str(path) and p.path == "knobs.a.levls" for p in err.value.problems)
    path.write_text("knobs:\n  - {path: dynamics.noise, prior: {dist: uniform, low: 0, high: 1}, levels: 3}\n"
                    "  - {name: a, path: summit.bargaining.margin, prior: {dist: uniform, low: 0, high: 1}, levls: 3}\n"
                    "  - {name: a, path: dynamics.rate, prior: {dist: uniform, low: 0, high: 1}, levels: 3}\n")
    with pytest.raises(InputError) as err:  # a knob without a name, or with one two share: by its place
        load_knobs(path)
    paths = {p.path for p in err.value.problems}
    assert {"knobs.0.name", "knobs.1.levls"} <= paths and not any(p.startswith("knobs.a") for p in paths), paths


def test_a_prior_of_zero_density_on_its_grid_is_refused_before_anything_runs(tmp_path, capsys):
    """A grid where the prior has no density (a triangular's mode-0 end): one line naming the spec
    file and the knob, exit 2, no result directory (it was found after every point had run)."""
    spec = tmp_path / "k.yaml"
    spec.write_text("knobs:\n  - {name: margin, path: summit.bargaining.margin, "
                    "prior: {dist: triangular, low: 0, mode: 0, high: 0.2}, values: [0.2]}\n")
    assert main(["calibrate", str(CASES), "--knobs", str(spec), "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err == (f"error: {spec}: knobs.margin.prior: gives every point of the knob's grid "
                                       "zero density, so it has no posterior; choose levels or values where the "
                                       "prior has mass (got [0.2])\n")
    assert not (tmp_path / "o").exists()


def test_a_grid_that_misrepresents_its_prior_is_warned_about(tmp_path, capsys):
    """Three levels over [0, 1] for a beta(mean 0.1, sd 0.05) put the prior's mass at 0.5: a warning
    says so; the committed spec's grids and a fine enough grid for the beta raise none."""
    from sim.calibrate import prior_warnings

    beta = {"dist": "beta", "mean": 0.1, "sd": 0.05}
    coarse = KnobFile.model_validate({"knobs": [{"name": "m", "path": "summit.bargaining.margin", "prior": beta,
                                                 "levels": 3}]})
    (problem,) = prior_warnings(coarse, "k.yaml")
    assert str(problem).startswith("k.yaml: knobs.m: its grid gives the prior mean 0.5 and sd 0, where the "
                                   "prior has 0.1 and 0.05")
    fine = coarse.model_copy(update={"knobs": [coarse.knobs[0].model_copy(update={"levels": 41})]})
    assert prior_warnings(fine) == []
    for spec in (CASES / "knobs.yaml", Path(__file__).resolve().parents[1] / "scenarios" / "history" / "knobs.yaml"):
        assert prior_warnings(load_knobs(spec)) == []


def test_the_grid_is_every_combination_first_knob_slowest_and_the_prior_sums_to_one():
    """Three by two values: six points, in order; a uniform prior gives them equal mass."""
    knobs = [_knob("dynamics.noise"), _knob("dynamics.rate", values=[0.1, 0.05])]
    grid = make_grid(knobs)
    assert grid.tolist() == [[0.0, 0.05], [0.0, 0.1], [0.1, 0.05], [0.1, 0.1], [0.2, 0.05], [0.2, 0.1]]
    assert prior_weights(knobs, grid) == pytest.approx(np.full(6, 1 / 6))


def test_a_normal_prior_weighs_its_grid_by_its_density():
    """The prior mass at a grid point follows the truncated normal's density."""
    knob = KnobSpec.model_validate({"name": "l", "path": "summit.bargaining.loss_aversion", "levels": 4,
                                    "prior": {"dist": "normal", "mean": 2.25, "sd": 0.75, "low": 1, "high": 4}})
    w = prior_weights([knob], make_grid([knob]))
    dens = np.exp(-0.5 * ((np.array([1.0, 2.0, 3.0, 4.0]) - 2.25) / 0.75) ** 2)
    assert w == pytest.approx(dens / dens.sum())


def test_knob_paths_take_wildcards_and_roles_not_names():
    """`*` matches every agent; `{summit.parties[1]}` the second party, whatever it is called."""
    scenario = scenario_of(small_dict())
    model = compile_model(scenario)
    assert sorted(resolve_knob(_knob("agents.*.resolve"), scenario, model)) == \
        ["agents.north.resolve", "agents.patron.resolve", "agents.south.resolve"]
    assert resolve_knob(_knob("agents.{summit.parties[1]}.resolve"), scenario, model) == ["agents.south.resolve"]
    assert resolve_knob(_knob("relations.trust.initial"), scenario, model) == ["relations.trust.north.south.initial"]


def test_one_knob_path_reaches_trust_written_as_a_mapping_or_as_a_list():
    """`relations.trust` may be one entry or a list of them, the same trust either way: a knob over
    every entry's `initial` (`relations.trust.*.initial`) resolves in a case of either form, as a
    spec fitted on cases by several writers needs."""
    data = small_dict()
    as_list = {**data, "relations": {**data["relations"], "trust": [data["relations"]["trust"]]}}
    for case in (as_list, data):
        scenario = scenario_of(case)
        assert resolve_knob(_knob("relations.trust.*.initial"), scenario, compile_model(scenario)) == \
            ["relations.trust.north.south.initial"]


@pytest.mark.parametrize("path", ["agents.nobody.resolve", "agents.{summit.parties[5]}.resolve",
                                  "summit.cancellation.trust_below"])
def test_a_knob_that_names_no_drawn_number_is_an_input_error(path):
    """A path to nothing, an index past the list, or a field that is not drawn per replicate: an error."""
    scenario = scenario_of(small_dict())
    with pytest.raises(InputError):
        resolve_knob(_knob(path), scenario, compile_model(scenario))


# --- Settings in a run ---------------------------------------------------------------------


def test_a_constant_setting_equals_writing_the_value_in_the_file():
    """`set` to a value gives exactly the run of the scenario with that value written in."""
    data = small_dict()
    knobs = [_knob("summit.bargaining.margin")]
    a = run(scenario_of(data), runs=3000, seed=4, knobs=KnobSetting.constant(knobs, [0.07]))
    data["summit"]["bargaining"] = {"margin": 0.07}
    b = run(scenario_of(data), runs=3000, seed=4)
    assert a.counts.tolist() == b.counts.tolist()


def test_a_shift_moves_every_draw_and_stays_in_range():
    """`shift` adds to each replicate's draw and clips it to the field's range."""
    from sim.randomness import Blocks
    from sim.state import draw_params

    scenario = scenario_of(small_dict())
    model = compile_model(scenario)
    blocks = Blocks(1, 0, 1)
    before = draw_params(model, blocks)["agents.north.resolve"]
    setting = KnobSetting.constant([_knob("agents.north.resolve", kind="shift")], [0.4])
    after = draw_params(model, blocks, setting)["agents.north.resolve"]
    assert after == pytest.approx(np.minimum(before + 0.4, 1.0))


def test_levels_over_a_fixed_prior_are_one_grid_point():
    """`levels: 3` over a fixed prior made three identical grid points: three times the work
    for one point, and a grid size that overstated it."""
    knob = KnobSpec.model_validate({"name": "k", "path": "dynamics.noise", "prior": {"dist": "fixed", "value": 0.1},
                                    "levels": 3})
    assert knob.grid().tolist() == [0.1]
    assert make_grid([knob, _knob("summit.bargaining.margin")]).shape == (3, 2)


def test_rows_of_a_setting_cycle_over_replicates_whatever_the_chunk_size():
    """Replicate i takes row i mod rows: the same counts at any chunk size."""
    setting = KnobSetting((_knob("summit.bargaining.margin"),), np.array([[0.0], [0.2], [0.05]]))
    scenario = scenario_of(small_dict())
    a = run(scenario, runs=5000, seed=2, chunk_size=1024, knobs=setting)
    b = run(scenario, runs=5000, seed=2, chunk_size=4096, knobs=setting)
    assert a.counts.tolist() == b.counts.tolist()
    assert a.row_counts.sum(axis=1).tolist() == [1667, 1667, 1666]


def test_the_knobs_range_is_over_distinct_settings_not_noisy_rows():
    """The range depends on which knob values each replicate gets, not on how many rows carry
    them: 256 rows alternating two values give every replicate what 2 rows give it, and the
    same range (row by row, 4 replicates a row, it was mostly Monte Carlo noise, and
    differed). One value in every row: a range 0 wide."""
    knob = _knob("summit.bargaining.margin")
    two = KnobSetting((knob,), np.array([[0.0], [0.2]]))
    many = KnobSetting((knob,), np.tile(two.values, (128, 1)))
    a = run(scenario_of(small_dict()), runs=1024, seed=3, knobs=two)
    b = run(scenario_of(small_dict()), runs=1024, seed=3, knobs=many)
    assert a.counts.tolist() == b.counts.tolist()
    for classes in ((1,), (2,), (0, 1)):
        x, y = a.parameter_spread(classes), b.parameter_spread(classes)
        assert (x["low"], x["high"], x["sd"], x["settings"]) == (y["low"], y["high"], y["sd"], y["settings"])
    assert b.parameter_spread((1,))["high"] > b.parameter_spread((1,))["low"]  # the margin moves substantive
    assert (b.parameter_spread((1,))["rows"], b.parameter_spread((1,))["settings"]) == (256, 2)
    one = run(scenario_of(small_dict()), runs=1024, seed=3, knobs=KnobSetting((knob,), np.zeros((256, 1))))
    flat = one.parameter_spread((1,))
    assert flat["low"] == flat["high"] and flat["sd"] == 0 and flat["settings"] == 1


def test_the_knobs_range_says_whether_the_settings_differ_by_more_than_monte_carlo_noise():
    """The method of moments removes the Monte Carlo part of the range on average only: with a
    few hundred replicates a setting, a class the knobs do not move still shows a range. Its
    `homogeneity_p` is Pearson's chi-square test of one probability for all settings (the
    p-value scipy's contingency-table test gives on the settings' counts): tiny for a class the
    margin moves, and 1 for settings whose counts agree exactly."""
    import dataclasses

    from scipy.stats import chi2_contingency

    knob = _knob("summit.bargaining.margin")
    setting = KnobSetting((knob,), np.linspace(0.0, 0.2, 16)[:, None])
    result = run(scenario_of(small_dict()), runs=4096, seed=3, knobs=setting)
    assert result.parameter_spread((1,))["homogeneity_p"] < 1e-6  # the margin moves substantive
    for classes in ((1,), (3,), (0, 1)):
        counts = result.row_counts[:, list(classes)].sum(axis=1)
        table = np.stack([counts, result.row_counts.sum(axis=1) - counts], axis=1)
        if table.min(axis=0).max() == 0:
            continue
        expected = chi2_contingency(table, correction=False).pvalue
        assert result.parameter_spread(classes)["homogeneity_p"] == pytest.approx(expected, rel=1e-9), classes
    same = dataclasses.replace(result, row_counts=np.tile(result.row_counts[:1], (16, 1)),
                               counts=result.row_counts[0] * 16, runs=int(result.row_counts[0].sum()) * 16)
    assert same.parameter_spread((1,))["homogeneity_p"] == 1.0


def test_a_knobs_range_within_monte_carlo_noise_is_marked_in_the_table_and_the_page(tmp_path, capsys):
    """The baseline's collapse (the visit called off) does not depend on the fitted knobs: at
    20,000 replicates (about 270 a knob setting) its range is not 0 wide, but the settings differ
    by no more than noise, and the table marks it with a `*` and says why; substantive or better,
    which the knobs move, is not marked. The report page says so beside the range."""
    from sim.cli import main

    out = tmp_path / "cal"
    assert main(["run", str(ROOT / "scenarios" / "baseline.yaml"), "--calibration", str(HISTORY / "posterior.json"), "--runs", "20000",
                 "--seed", "7", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    spread = json.loads((out / "summary.json").read_text())["calibration"]["parameter_spread"]
    assert spread["collapse"]["homogeneity_p"] >= 0.05 and spread["collapse"]["high"] > spread["collapse"]["low"]
    assert spread["substantive_or_better"]["homogeneity_p"] < 1e-6
    (row,) = [line for line in printed.splitlines() if line.startswith("│ collapse")]
    assert row.split("│")[4].strip().endswith("]*")
    (sub,) = [line for line in printed.splitlines() if line.startswith("│ substantive ")]
    assert not sub.split("│")[4].strip().endswith("*")
    assert (f"* within Monte Carlo noise (collapse: homogeneity test p {spread['collapse']['homogeneity_p']:.2f} over "
            f"{spread['collapse']['settings']} knob settings)") in printed
    assert main(["report", str(out), "--out", str(tmp_path / "page.html")]) == 0
    assert "(within Monte Carlo noise: homogeneity test p" in (tmp_path / "page.html").read_text()


# --- The posterior ---------------------------------------------------------------------------


def _posterior(loglik: np.ndarray) -> Posterior:
    knob = _knob("dynamics.noise")
    grid = make_grid([knob])
    return Posterior((knob,), grid, prior_weights([knob], grid), loglik, ("a", "b", "c"), ("ha", "hb", "hc"), {})


def test_grid_edge_is_flagged_only_where_the_grid_has_an_inside():
    """A median on the outermost of three levels says the range may be too narrow; with two
    levels the median is always on one of them, and the flag said nothing."""
    def edge(values, loglik):
        grid = np.array([[v] for v in values])
        post = Posterior((_knob("dynamics.noise"),), grid, np.full(len(values), 1 / len(values)),
                         np.array([[v] for v in loglik]), ("a",), ("ha",), {})
        return post.summary()["k"]["at_grid_edge"]

    assert edge([0.0, 0.1, 0.2], [-1.0, -1.0, 0.0])
    assert not edge([0.0, 0.1, 0.2], [-1.0, 0.0, -1.0])
    assert not edge([0.0, 0.2], [-1.0, 0.0])


def test_leaving_a_case_out_is_the_posterior_of_the_others():
    """The weights without case k equal the posterior computed from the other cases alone."""
    rng = np.random.default_rng(1)
    loglik = np.log(rng.uniform(0.05, 0.9, (3, 3)))
    post = _posterior(loglik)
    others = _posterior(loglik[:, [0, 2]])
    assert post.weights(without=1) == pytest.approx(others.weights())
    assert post.weights().sum() == pytest.approx(1.0)


def test_systematic_rows_follow_the_weights_without_random_numbers():
    """Each point appears floor or ceil of draws x weight times, the same every call."""
    w = np.array([0.5, 0.25, 0.125, 0.125])
    rows = systematic_rows(w, 16)
    assert np.bincount(rows, minlength=4).tolist() == [8, 4, 2, 2]
    assert np.array_equal(rows, systematic_rows(w, 16))


def test_the_posterior_file_round_trips(tmp_path):
    """A posterior written and read back gives the same weights and summary."""
    post = _posterior(np.log(np.full((3, 3), 0.3)))
    post.write(tmp_path / "p.json")
    back = load_posterior(tmp_path / "p.json")
    assert back.weights() == pytest.approx(post.weights()) and back.summary() == post.summary()


def test_a_posterior_digest_is_of_its_content_and_is_the_one_its_file_carries(tmp_path):
    """`digest()` is what `write` stores beside the content; another content, another digest."""
    post = _posterior(np.log(np.full((3, 3), 0.3)))
    post.write(tmp_path / "p.json")
    assert json.loads((tmp_path / "p.json").read_text())["digest"] == post.digest()
    assert _posterior(np.log(np.full((3, 3), 0.2))).digest() != post.digest()


def test_a_posterior_edited_to_a_value_outside_its_knobs_grid_is_refused(tmp_path):
    """A grid value beyond the knob's declared grid would run clipped to the field's bounds."""
    _posterior(np.log(np.full((3, 3), 0.3))).write(tmp_path / "p.json")
    data = json.loads((tmp_path / "p.json").read_text())
    data["grid"][0][0] = 5.0
    (tmp_path / "p.json").write_text(json.dumps(data))
    with pytest.raises(InputError, match="grid values of knob"):
        load_posterior(tmp_path / "p.json")


def test_a_file_that_is_not_a_posterior_is_an_input_error(tmp_path):
    """Any other JSON (or none) is refused with one line naming the file."""
    (tmp_path / "p.json").write_text(json.dumps({"format": "something else"}))
    with pytest.raises(InputError) as err:
        load_posterior(tmp_path / "p.json")
    assert str(tmp_path / "p.json") in str(err.value)


@pytest.mark.parametrize("content, words", [
    ("[1, 2]", "is not a posterior written by `sim calibrate` (holds a JSON list, not an object)"),
    ('"posterior"', "holds a JSON str, not an object"),
    (None, "does not exist: expected a posterior.json written by `sim calibrate`"),
])
def test_a_posterior_that_is_not_a_json_object_or_is_missing_is_one_line(tmp_path, content, words):
    """JSON that is not an object is refused like any other non-posterior, not an AttributeError traceback; a
    missing file says that it does not exist, not that it is not a posterior."""
    if content is not None:
        (tmp_path / "p.json").write_text(content)
    with pytest.raises(InputError) as err:
        load_posterior(tmp_path / "p.json")
    assert str(err.value).startswith(f"{tmp_path / 'p.json'}: ") and words in str(err.value)


def _edit(data: dict, field: str, value) -> None:
    node = data
    *parents, last = field.split(".")
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    node[int(last) if isinstance(node, list) else last] = value


@pytest.mark.parametrize("field, value", [
    ("grid.0.0", float("nan")), ("grid.1.0", float("inf")), ("prior.0", float("inf")), ("prior", [0.0, 0.0, 0.0]),
    ("scenario_hashes", ["h0", "h1"]), ("cases", "abc"), ("scenario_hashes", [1, 2, 3]), ("meta", [["a", "b"]]),
])
def test_a_hand_edited_posterior_is_an_input_error(tmp_path, field, value):
    """A grid or prior that is not finite, a prior of no mass, cases and hashes that do not pair
    up (a case without its hash would be forecast in sample): refused naming the file, not a
    traceback from json or nan forecasts later."""
    _posterior(np.log(np.full((3, 3), 0.3))).write(tmp_path / "p.json")
    data = json.loads((tmp_path / "p.json").read_text())
    _edit(data, field, value)
    (tmp_path / "p.json").write_text(json.dumps(data))
    with pytest.raises(InputError) as err:
        load_posterior(tmp_path / "p.json")
    assert str(tmp_path / "p.json") in str(err.value)


def test_a_scenario_that_was_fitted_is_forecast_leave_one_out():
    """`setting` recognises a fitted case by its inputs and drops it from the posterior."""
    cases = load_cases(CASES)
    post = Posterior((_knob("dynamics.noise"),), np.array([[0.0], [0.1], [0.2]]), np.full(3, 1 / 3),
                     np.log(np.full((3, len(cases)), 0.3)), tuple(c.name for c in cases),
                     tuple(__import__("sim").scenario_hash(c.scenario) for c in cases), {})
    _, note = post.setting(cases[2].scenario)
    assert note["posterior"] == "leave-one-out" and note["left_out"] == cases[2].name
    _, note = post.setting(scenario_of(small_dict()))
    assert note["posterior"] == "all cases"


def test_a_fitted_case_renamed_or_retitled_is_known_by_its_inputs_and_left_out():
    """A renamed copy of a fitted case matched neither its scenario hash (which counts the name)
    nor its name, so it was forecast from the posterior fitted on itself, in sample, and said
    "all cases". The posterior keeps each case's `inputs_hash` (no name, title, source or
    seed): a copy renamed, retitled or run with other runs is that case, left out, known by its
    inputs. A changed model input under a new name is a new meeting."""
    from sim.loading import load_scenario

    post = load_posterior(HISTORY / "posterior.json")
    case = load_scenario(HISTORY / "moscow_1956.yaml")
    mc = case.monte_carlo.model_copy(update={"runs": 2000, "seed": 5})
    for copy_ in (case.model_copy(update={"name": "moscow_1956_copy"}),
                  case.model_copy(update={"name": "another", "title": "Another title", "monte_carlo": mc})):
        _, note = post.setting(copy_)
        assert (note["posterior"], note["left_out"], note["left_out_by"]) == ("leave-one-out", "moscow_1956",
                                                                               "inputs")
    other = case.model_copy(update={"name": "new_meeting", "calendar": case.calendar.model_copy(
        update={"vantage": case.calendar.vantage.replace(day=16)})})
    assert post.setting(other)[1]["posterior"] == "all cases"


def test_a_fitted_case_with_its_agents_renamed_and_reordered_is_still_left_out():
    """The inputs hash counted the agents' and issues' names and the order they were written in,
    which change no replicate: a fitted case copied under a new name with Japan called Nippon, or
    its agents listed in another order, was a new meeting, forecast from the posterior fitted on
    itself. It is now known by its inputs, under any names and in any order the model ignores."""
    from sim.loading import load_scenario
    from sim.strategies.references import rename

    post = load_posterior(HISTORY / "posterior.json")
    data = load_scenario(HISTORY / "moscow_1956.yaml").model_dump(mode="python", exclude_defaults=True)
    renamed = rename(data, {name: f"{name}_x" for name in data["agents"]},
                     {name: f"{name}_y" for name in data["issues"]})
    renamed = {**renamed, "name": "a_copy", "agents": dict(reversed(renamed["agents"].items())),
               "summit": {**renamed["summit"], "parties": renamed["summit"]["parties"][::-1]}}
    _, note = post.setting(scenario_of(renamed))
    assert (note["posterior"], note["left_out"], note["left_out_by"]) == ("leave-one-out", "moscow_1956", "inputs")


def test_a_fitted_case_reworded_under_another_name_is_still_left_out():
    """An outside forecaster's copy of tokyo_1993 with one description shortened, under another
    name, was forecast "all cases", in sample: the inputs hash counted the words."""
    from sim.loading import load_scenario

    post = load_posterior(HISTORY / "posterior.json")
    case = load_scenario(HISTORY / "tokyo_1993.yaml")
    agents = {name: agent.model_copy(update={"description": "Hosokawa."}) for name, agent in case.agents.items()}
    _, note = post.setting(case.model_copy(update={"name": "mine", "agents": agents}))
    assert (note["posterior"], note["left_out"], note["left_out_by"]) == ("leave-one-out", "tokyo_1993", "inputs")


def test_a_posterior_with_the_first_inputs_hashes_still_knows_a_renamed_copy(tmp_path):
    """A posterior written with the first inputs hashes (key `input_hashes`, which counted names
    and order) still knows a fitted case copied under another name as that case."""
    import json

    from sim.loading import load_scenario
    from sim.posterior import _legacy_inputs_hash

    data = json.loads((HISTORY / "posterior.json").read_text())
    cases = {c.name: c.scenario for c in load_cases(HISTORY)}
    data["input_hashes"] = [_legacy_inputs_hash(cases[name]) for name in data.pop("inputs_hashes")
                            and data["cases"]]
    (tmp_path / "old.json").write_text(json.dumps(data))
    post = load_posterior(tmp_path / "old.json")
    assert post.input_hashes is None and post.legacy_input_hashes is not None
    copy_ = load_scenario(HISTORY / "moscow_1956.yaml").model_copy(update={"name": "moscow_1956_copy"})
    _, note = post.setting(copy_)
    assert (note["posterior"], note["left_out"], note["left_out_by"]) == ("leave-one-out", "moscow_1956", "inputs")


def test_a_fitted_case_with_other_inputs_but_its_name_is_still_left_out(tmp_path, capsys):
    """Run with another seed or title (hash differs), a fitted case was forecast from the
    posterior fitted on it (in sample), silently; it is left out, and the note says how it was known."""
    cases = load_cases(CASES)
    post = Posterior((_knob("dynamics.noise"),), np.array([[0.0], [0.1], [0.2]]), np.full(3, 1 / 3),
                     np.log(np.full((3, len(cases)), 0.3)), tuple(c.name for c in cases),
                     tuple(__import__("sim").scenario_hash(c.scenario) for c in cases), {})
    _, note = post.setting(cases[2].scenario)
    assert note["left_out_by"] == "inputs"
    # another chunk size changes no number: still the case's inputs
    mc = cases[2].scenario.monte_carlo.model_copy(update={"chunk_size": 1024})
    _, note = post.setting(cases[2].scenario.model_copy(update={"monte_carlo": mc}))
    assert note["left_out_by"] == "inputs"
    changed = cases[2].scenario.model_copy(update={"title": "another title"})
    _, note = post.setting(changed)
    assert (note["posterior"], note["left_out"], note["left_out_by"]) == ("leave-one-out", cases[2].name, "name")
    post.write(tmp_path / "p.json")
    assert main(["run", str(CASES / "c1.yaml"), "--calibration", str(tmp_path / "p.json"), "--runs", "1024",
                 "--set", "monte_carlo.seed=5", "--out", str(tmp_path / "r"), "--report"]) == 0
    assert "refitted without c1 (known by its name: its inputs differ" in capsys.readouterr().out
    # explain and compare said only "refitted without c1", as if the fitted case itself ran; so did the pages
    for command in (["explain", str(CASES / "c1.yaml")], ["compare", str(CASES / "c1.yaml"), str(CASES / "c2.yaml")]):
        assert main([*command, "--calibration", str(tmp_path / "p.json"), "--runs", "1024", "--set",
                     "monte_carlo.seed=5", "--out", str(tmp_path / command[0])]) == 0
        assert "refitted without c1 (known by its name: its inputs differ" in " ".join(capsys.readouterr().out.split())
        assert main(["report", str(tmp_path / command[0]), "--out", str(tmp_path / f"{command[0]}.html"), "--quiet"]) == 0
    for page in (tmp_path / "r" / "report.html", tmp_path / "explain.html", tmp_path / "compare.html"):
        page = " ".join(page.read_text(encoding="utf-8").split())
        assert "refitted without c1 (known by its name: its inputs differ from the fitted case&#39;s)" in page


# --- Fitting --------------------------------------------------------------------------------


def test_calibration_finds_the_margin_that_generated_the_outcomes(tmp_path):
    """Cases drawn from the model at margin 0.05 put the posterior's median there (fixed seed)."""
    truth, rng = 0.05, np.random.default_rng(11)
    root = tmp_path / "cases"
    root.mkdir()
    for k in range(40):
        data = small_dict()
        data["name"] = f"case_{k}"
        data["agents"]["south"]["issues"]["trade"]["position"] = float(rng.uniform(0.6, 1.0))
        forecast = run(scenario_of({**copy.deepcopy(data), "summit": {**data["summit"], "bargaining":
                                                                          {"margin": truth}}}), runs=512, seed=k)
        outcome = ["breakthrough", "substantive", "talk_fest", "collapse"][
            int(rng.choice(4, p=forecast.counts / forecast.runs))]
        data["observed"] = {"outcome": outcome, "date": "2020-03-15", "source": "drawn from the model"}
        data["monte_carlo"] = {"runs": 512, "seed": 1}
        (root / f"case_{k}.yaml").write_text(yaml.safe_dump(data))
    spec = KnobFile.model_validate({"runs": 512, "seed": 3, "knobs": [
        {"name": "margin", "path": "summit.bargaining.margin", "prior": {"dist": "uniform", "low": 0, "high": 0.2},
         "levels": 5}]})
    cal = run_calibration(load_cases(root), spec, tmp_path / "cal")
    post = cal.posterior.summary()["margin"]
    assert post["median"] == truth and post["q025"] <= truth <= post["q975"] and post["sd"] < 0.04


def test_the_table_forecasts_are_the_reweighted_smoothed_frequencies(tmp_path):
    """Leave-one-out forecasts from the table: sum over points of w_-k(point) P(point, case k)."""
    cases = load_cases(CASES)
    cal = run_calibration(cases, load_knobs(CASES / "knobs.yaml"), tmp_path / "cal")
    held, inside = loo_forecasts(cal)
    probs = smoothed(cal.counts)
    k = 3
    assert held[k] == pytest.approx(cal.posterior.weights(without=k) @ probs[:, k])
    assert inside.sum(axis=1) == pytest.approx(np.ones(len(cases)))


def test_the_fits_discrimination_carries_a_bound_on_its_monte_carlo_error(tmp_path):
    """1.96 x (each side's mean, over its cases, of the leave-one-out posterior mixture of the
    points' binomial standard errors of P(substantive or better)), summed."""
    cases = load_cases(CASES)
    cal = run_calibration(cases, load_knobs(CASES / "knobs.yaml"), tmp_path / "cal")
    summary = summarise_calibration(cal, cases, None, resamples=200)
    sob = cal.counts[..., list(SUBSTANTIVE_OR_BETTER)].sum(axis=-1) / cal.counts.sum(axis=-1)
    se = np.sqrt(sob * (1 - sob) / cal.runs)  # (n_points, n_cases)
    held = np.array([cal.posterior.weights(without=k) @ se[:, k] for k in range(len(cases))])
    hit = np.isin([c.observed for c in cases], SUBSTANTIVE_OR_BETTER)
    assert 0 < hit.sum() < len(cases)
    d = summary["discrimination"]["calibrated"]
    assert d["difference_mc_half_width"] == pytest.approx(1.959964 * (held[hit].mean() + held[~hit].mean()))


def test_an_interrupted_calibration_resumes_with_every_point_once(tmp_path):
    """A calibration's points are kept as they finish; rerunning the same one runs none again."""
    cases = load_cases(CASES)
    spec = load_knobs(CASES / "knobs.yaml")
    first = run_calibration(cases, spec, tmp_path / "cal")
    again = run_calibration(cases, spec, tmp_path / "cal")
    assert np.array_equal(first.counts, again.counts)
    assert again.points_done == again.points_total == len(cases) * 9


def test_a_calibration_killed_while_drawing_its_pictures_is_resumed_by_a_rerun(tmp_path, capsys, monkeypatch):
    """A calibrate killed (SIGKILL: no cleanup) while it draws posterior.png leaves only files
    a rerun knows for its own temp files: the rerun resumes the directory, not refuses it."""
    import matplotlib.figure

    out, killed = tmp_path / "o", tmp_path / "killed"
    draw = matplotlib.figure.Figure.savefig

    def killed_while_drawing(self, fname, *args, **kwargs):
        draw(self, fname, *args, **kwargs)
        if not killed.exists():  # what the directory holds at this moment is what a kill leaves
            shutil.copytree(out, killed)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", killed_while_drawing)
    args = ["calibrate", str(CASES), "--knobs", str(CASES / "knobs.yaml"), "--workers", "1", "--quiet"]
    assert main([*args, "--out", str(out)]) == 0
    assert main([*args, "--out", str(killed)]) == 0, capsys.readouterr().err
    assert sorted(p.name for p in killed.iterdir()) == sorted(p.name for p in out.iterdir())


def test_a_calibration_on_two_processes_tabulates_the_counts_of_one(tmp_path):
    """Each case at each grid point (a knob setting sent to a worker) counts the same outcomes
    on 2 local processes as in this one, and so gives the same posterior."""
    cases, spec = load_cases(CASES), load_knobs(CASES / "knobs.yaml")
    one = run_calibration(cases, spec, tmp_path / "one", workers=1)
    two = run_calibration(cases, spec, tmp_path / "two", workers=2)
    assert (one.backend, two.backend, two.workers) == ("sequential", "processes", 2)
    np.testing.assert_array_equal(one.counts, two.counts)
    np.testing.assert_array_equal(one.posterior.loglik, two.posterior.loglik)


def test_a_rerun_says_its_points_were_kept_not_run_in_no_time(tmp_path, capsys):
    """Rerunning a finished calibration prints '0 s' with how many points were kept, and records it."""
    args = ["calibrate", str(CASES), "--knobs", str(CASES / "knobs.yaml"), "--out", str(tmp_path / "o"), "--workers",
            "1"]
    assert main(args) == 0
    assert "kept from an earlier run" not in capsys.readouterr().out
    assert main(args) == 0
    assert "(54 of the 54 points kept from an earlier run)" in capsys.readouterr().out
    assert json.loads((tmp_path / "o" / "summary.json").read_text())["calibration"]["points_resumed"] == 54


def test_points_computed_by_other_model_code_are_not_resumed(tmp_path, monkeypatch, capsys):
    """A calibration kept by other model code is refused, not resumed into a posterior that
    would carry the running code's digest over the old code's counts; --fresh recomputes it."""
    import sim.calibrate

    cases, spec, out = load_cases(CASES), load_knobs(CASES / "knobs.yaml"), tmp_path / "cal"
    monkeypatch.setattr(sim.calibrate, "model_digest", lambda: "0123456789abcdef")
    run_calibration(cases, spec, out)
    monkeypatch.undo()
    with pytest.raises(InputError, match=r"other model code \(0123456789abcdef; the running code is "):
        run_calibration(cases, spec, out)
    again = run_calibration(cases, spec, out, fresh=True)
    assert again.complete and again.posterior.meta["model_digest"] == sim.calibrate.model_digest()
    spec_file = tmp_path / "k.yaml"
    spec_file.write_text((CASES / "knobs.yaml").read_text().replace("runs: 1024", "runs: 512"))
    assert main(["calibrate", str(CASES), "--knobs", str(spec_file), "--out", str(out), "--quiet"]) == 2
    assert "holds a different calibration (other knobs, cases, runs or seed)" in capsys.readouterr().err


# --- The commands, end to end ---------------------------------------------------------------------


def test_a_calibration_in_the_current_folder_names_no_folder_above_it(tmp_path, monkeypatch, capsys):
    """`calibrate --out .` (the folder itself, which sim names absolutely to lock it) records its
    posterior as `posterior.json`, named from the folder the command ran in as every path of a
    summary is: the absolute path put the user's home folder into shared results."""
    cases = tmp_path / "cases"
    shutil.copytree(CASES, cases)
    (tmp_path / "cal").mkdir()
    monkeypatch.chdir(tmp_path / "cal")
    assert main(["calibrate", "../cases", "--knobs", "../cases/knobs.yaml", "--out", ".", "--write", "../post.json",
                 "--quiet", "--workers", "1"]) == 0
    text = (tmp_path / "cal" / "summary.json").read_text(encoding="utf-8")
    summary = json.loads(text)
    assert (summary["posterior_file"], summary["posterior_copy"]) == ("posterior.json", "../post.json")
    assert str(tmp_path) not in text


def test_calibrate_says_where_it_copied_the_posterior(tmp_path, capsys, monkeypatch):
    """With --write FILE the closing lines name the copy beside the result's own posterior, as the
    README's walk-through (`--write DIR/posterior.json`, then `backtest DIR --calibration
    DIR/posterior.json`) needs: the copy was written without a word. (Run from tmp_path: a path
    is printed as named from the current folder where the two share one below the root.)"""
    monkeypatch.chdir(tmp_path)
    assert main(["calibrate", str(CASES), "--knobs", str(CASES / "knobs.yaml"), "--out", "cal",
                 "--write", "post.json", "--workers", "1"]) == 0
    assert "posterior: cal/posterior.json, copied to post.json\n" in capsys.readouterr().out
    assert (tmp_path / "post.json").is_file()


def test_calibrate_then_backtest_then_run_with_the_posterior(tmp_path, capsys):
    """On cases with agents north and south: calibrate writes a posterior; backtest scores the
    leave-one-out posterior predictive beside the raw model and the pool; run reports both intervals."""
    cases = tmp_path / "cases"
    shutil.copytree(CASES, cases)
    out = tmp_path / "cal"
    assert main(["calibrate", str(cases), "--knobs", str(cases / "knobs.yaml"), "--out", str(out), "--quiet",
                 "--workers", "200"]) == 0
    assert capsys.readouterr().err == "note: --workers 200: the work is 4 tasks, so 4 processes run it\n"
    posterior = out / "posterior.json"
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["calibration"]["backend"], summary["calibration"]["workers"]) == ("processes", 4)
    assert summary["subject"] == "calibrated" and set(summary["calibration"]["posterior"]) == {"margin", "south_resolve"}
    assert (out / "posterior.png").stat().st_size > 0 and (out / "points.csv").is_file()
    for case in summary["cases"]:  # every printed probability has its Monte Carlo interval
        for name in ("calibrated", "calibrated_in_sample"):
            for c, (low, high) in case["intervals"][name].items():
                assert 0 <= low <= case["forecasts"][name][c] <= high <= 1 and high - low < 0.2

    bt = tmp_path / "bt"
    assert main(["backtest", str(cases), "--calibration", str(posterior), "--out", str(bt), "--runs", "2048"]) == 0
    text = capsys.readouterr().out
    assert "leave-one-out" in text and "pool" in text and "as written" in text
    result = json.loads((bt / "summary.json").read_text())
    assert {"model", "calibrated", "pooled", "base_rate", "uniform"} <= set(result["mean_scores"])
    low, high = result["pool"]["weight_on_model_all_cases_mc95"]
    assert 0 <= low <= high <= 1 and f"(Monte Carlo 95 % {low:.2f}-{high:.2f})" in text
    assert all(c["calibration"]["posterior"] == "leave-one-out" for c in result["cases"])

    ran = tmp_path / "run"
    assert main(["run", str(cases / "c1.yaml"), "--calibration", str(posterior), "--runs", "4096",
                 "--out", str(ran)]) == 0
    text = capsys.readouterr().out
    assert "knobs' 95 % range" in text and "refitted without c1" in text
    cal = json.loads((ran / "summary.json").read_text())["calibration"]
    assert cal["left_out"] == "c1" and cal["parameter_spread"]["substantive_or_better"]["low"] is not None
    assert "warning" not in capsys.readouterr().err  # fitted by the running code: not stale

    # The same posterior as if fitted by other model code: applying it warns, naming the refit.
    data = json.loads(posterior.read_text())
    data.pop("digest")
    data["meta"]["model_digest"] = "0123456789abcdef"
    (tmp_path / "old.json").write_text(json.dumps(data))
    assert main(["run", str(cases / "c1.yaml"), "--calibration", str(tmp_path / "old.json"), "--runs", "2048",
                 "--out", str(tmp_path / "run_old"), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "warning:" in err and "other model code (0123456789abcdef)" in err and "sim calibrate" in err
    assert main(["backtest", str(cases), "--calibration", str(tmp_path / "old.json"), "--runs", "1024",
                 "--out", str(tmp_path / "bt_old"), "--quiet"]) == 0
    assert "other model code" in capsys.readouterr().err


def test_a_posterior_edited_since_calibrate_wrote_it_is_applied_with_a_warning(tmp_path, capsys):
    """A posterior whose digest no longer matches its content (log likelihoods edited by hand, or
    its model digest, which the stale-model warning reads) was applied in silence and reported as
    knobs fitted on its cases: one warning line says so. A file without a digest (written before
    sim wrote one) is not called edited."""
    small = Path(__file__).parent / "data" / "small.yaml"
    post = _posterior(np.log(np.full((3, 3), 0.3)))
    post = Posterior(post.knobs, post.grid, post.prior, post.loglik, post.cases, post.hashes,
                     {"model_digest": __import__("sim.provenance").provenance.model_digest()})
    post.write(tmp_path / "p.json")
    data = json.loads((tmp_path / "p.json").read_text())
    data["loglik"][0][0] = 0.0
    (tmp_path / "edited.json").write_text(json.dumps(data))
    data.pop("digest")
    (tmp_path / "undigested.json").write_text(json.dumps(data))
    for name, warned in (("p.json", False), ("edited.json", True), ("undigested.json", False)):
        assert main(["run", str(small), "--runs", "1024", "--calibration", str(tmp_path / name),
                     "--out", str(tmp_path / f"out-{name}"), "--quiet"]) == 0
        lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
        assert lines == ([f"warning: {tmp_path / name}: was edited since `sim calibrate` wrote it (its digest does "
                          "not match its content): its knob values are not those a calibration found"]
                         if warned else []), lines


def test_calibrate_refuses_knobs_a_case_does_not_have(tmp_path, capsys):
    """A knob that names no drawn number in some cases: exit 2, one line per such case, nothing
    run, saying which part of the path the case lacks (an agent named by name, where its role
    would name it in every case); in every case (a misspelt path, or an agent no case has), one
    line naming the spec, not one a case. No note (--workers beyond the tasks) comes first about work that never runs."""
    cases = tmp_path / "cases"
    shutil.copytree(CASES, cases)
    (cases / "_west.yaml").write_text((CASES / "_base.yaml").read_text().replace("south", "west"))
    (cases / "c1.yaml").write_text((CASES / "c1.yaml").read_text().replace("south", "west")
                                   .replace("_base.yaml", "_west.yaml"))
    spec = tmp_path / "k.yaml"
    spec.write_text("knobs:\n  - {name: a, path: agents.japan.resolve, prior: {dist: uniform, low: 0, high: 1}, "
                    "levels: 2}\n  - {name: b, path: agents.south.resolve, prior: {dist: uniform, low: 0, high: 1}, "
                    "levels: 2}\n")
    assert main(["calibrate", str(cases), "--knobs", str(spec), "--workers", "64", "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"error: {spec}: knobs.a.path: names no number drawn per replicate in any of the 6 cases: the first, c1, "
        "has no agent japan (its agents: north, west); name an agent by its role, as "
        "agents.{summit.parties[0]}.resolve does (got 'agents.japan.resolve')",
        f"error: {cases / 'c1.yaml'}: knobs.b.path: names no number drawn per replicate: the scenario has no agent "
        "south (its agents: north, west); name an agent by its role, as agents.{summit.parties[0]}.resolve does "
        "(got 'agents.south.resolve')"]
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("path, form, hint", [
    ("relations.trust.1.initial", "trust: {between: [north, south], initial: 0.5}",
     "list of trust entries at relations.trust: it is one entry there, whose fields are named "
     "relations.trust.initial"),
    ("relations.trust.initial", "trust: [{between: [north, south], initial: 0.5}]",
     "single trust entry at relations.trust: it is a list there, whose entries' fields are named "
     "relations.trust.*.initial"),
])
def test_a_trust_knob_of_the_other_form_says_how_the_cases_write_trust(tmp_path, capsys, path, form, hint):
    """`relations.trust` may be one entry or a list of them; a knob path written for a list's
    second entry, or for one entry where the cases write a list, names nothing, and the error says
    so and names the path that works, rather than only "names no number drawn per replicate" of a
    field every case writes. (`relations.trust.*.initial` reaches both forms.)"""
    cases = tmp_path / "cases"
    shutil.copytree(CASES, cases)
    base = cases / "_base.yaml"
    base.write_text(base.read_text().replace("trust: {between: [north, south], initial: 0.5}", form))
    spec = tmp_path / "k.yaml"
    spec.write_text(f"knobs:\n  - {{name: t, path: '{path}', kind: shift, prior: {{dist: uniform, low: -0.1, "
                    "high: 0.1}, levels: 2}\n")
    assert main(["calibrate", str(cases), "--knobs", str(spec), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "names no number drawn per replicate in any of the 6 cases: the first, c1, has no " + hint in err, err


def test_a_posterior_whose_knobs_name_other_agents_is_refused_naming_both_files(tmp_path, capsys):
    """A posterior fitted with a knob path naming agents (agents.south.resolve) applied to a
    scenario without them: one line naming the scenario's file, the knob and the posterior's
    file, exit 2, before anything runs."""
    spec = tmp_path / "k.yaml"
    spec.write_text((CASES / "knobs.yaml").read_text().replace("agents.{summit.parties[0]}.resolve",
                                                              "agents.south.resolve"))
    assert main(["calibrate", str(CASES), "--knobs", str(spec), "--out", str(tmp_path / "cal"), "--quiet"]) == 0
    posterior = tmp_path / "cal" / "posterior.json"
    baseline = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.yaml"
    assert main(["run", str(baseline), "--calibration", str(posterior), "--runs", "1024",
                 "--out", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err == (f"error: {baseline}: knobs.south_resolve.path: names no number drawn per "
                                       f"replicate: a knob of the posterior {posterior}; the scenario has no agent "
                                       "south (its agents: g7, japan, russia, usa); name an agent by its role, as "
                                       "agents.{summit.parties[0]}.resolve does (got 'agents.south.resolve')\n")
    assert not (tmp_path / "run").exists()
    other = baseline.parent / "counterfactuals" / "no_g7_declaration.yaml"
    assert main(["compare", str(baseline), str(other), "--calibration", str(posterior), "--runs", "1024",
                 "--out", str(tmp_path / "cmp")]) == 2
    err = capsys.readouterr().err.splitlines()  # both sides' problems, not only A's
    assert [line.split(": ")[1] for line in err] == [str(baseline), str(other)]


def test_a_backtest_names_the_agent_a_case_lacks_for_a_knob_of_the_posterior(tmp_path, capsys):
    """A posterior whose knob names an agent by name (agents.south.resolve), applied to a folder in
    which one case calls that agent otherwise: one line naming that case's file, the knob, the
    missing agent and the case's agents, with the role that names the agent in every case, exit 2."""
    spec = tmp_path / "k.yaml"
    spec.write_text((CASES / "knobs.yaml").read_text().replace("agents.{summit.parties[0]}.resolve",
                                                              "agents.south.resolve"))
    assert main(["calibrate", str(CASES), "--knobs", str(spec), "--out", str(tmp_path / "cal"), "--quiet"]) == 0
    cases = tmp_path / "cases"
    shutil.copytree(CASES, cases)
    (cases / "_west.yaml").write_text((CASES / "_base.yaml").read_text().replace("south", "west"))
    (cases / "c1.yaml").write_text((CASES / "c1.yaml").read_text().replace("south", "west")
                                   .replace("_base.yaml", "_west.yaml"))
    posterior = tmp_path / "cal" / "posterior.json"
    assert main(["backtest", str(cases), "--calibration", str(posterior), "--runs", "1024",
                 "--out", str(tmp_path / "bt")]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"error: {cases / 'c1.yaml'}: knobs.south_resolve.path: names no number drawn per replicate: a knob of the "
        f"posterior {posterior}; the scenario has no agent south (its agents: north, west); name an agent by its "
        "role, as agents.{summit.parties[0]}.resolve does (got 'agents.south.resolve')"]
    assert not (tmp_path / "bt").exists()


def test_compare_and_explain_take_a_posterior(tmp_path, capsys):
    """compare and explain run posterior predictive: each scenario its own posterior (leave-one-out
    for a fitted case), on the same random numbers."""
    cases = load_cases(CASES)
    cal = run_calibration(cases, load_knobs(CASES / "knobs.yaml"), tmp_path / "cal")
    cal.posterior.write(tmp_path / "p.json")
    assert main(["compare", str(CASES / "c1.yaml"), str(CASES / "c2.yaml"), "--calibration", str(tmp_path / "p.json"),
                 "--runs", "2048", "--out", str(tmp_path / "cmp"), "--quiet"]) == 0
    summary = json.loads((tmp_path / "cmp" / "summary.json").read_text())
    assert summary["calibration"]["a"]["left_out"] == "c1" and summary["calibration"]["b"]["left_out"] == "c2"
    assert main(["explain", str(CASES / "c1.yaml"), "--calibration", str(tmp_path / "p.json"), "--runs", "2048",
                 "--out", str(tmp_path / "ex"), "--quiet"]) == 0
    assert json.loads((tmp_path / "ex" / "summary.json").read_text())["calibration"]["posterior"] == "leave-one-out"


def test_a_calibration_stopped_midway_keeps_its_points_and_resumes(tmp_path, monkeypatch):
    """A stop (the CLI's Ctrl-C) after 20 points: the points finished by then are kept; the
    rerun runs only the rest and gives the same counts as a calibration that was never stopped."""
    import threading

    from sim.sweep.store import SweepStore

    cases = load_cases(CASES)
    spec = load_knobs(CASES / "knobs.yaml")
    commit, calls, stop = SweepStore.commit, {"n": 0}, threading.Event()

    def stop_after_20(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 20:
            stop.set()
        return commit(self, *args, **kwargs)

    monkeypatch.setattr(SweepStore, "commit", stop_after_20)
    stopped = run_calibration(cases, spec, tmp_path / "cal", stop=stop)
    # the task in hand when the stop came finishes and is kept: points come in tasks of several
    assert stopped.interrupted and 20 <= stopped.points_done == calls["n"] < stopped.points_total
    assert not stopped.complete
    monkeypatch.setattr(SweepStore, "commit", commit)
    resumed = run_calibration(cases, spec, tmp_path / "cal")
    assert resumed.complete
    assert np.array_equal(resumed.counts, run_calibration(cases, spec, tmp_path / "fresh").counts)


def test_an_interrupted_calibrate_json_keeps_stdout_for_json(tmp_path, capsys, monkeypatch):
    """With --json, stdout holds JSON or nothing: the 'interrupted' line goes to stderr, exit 130."""
    import sim.calibrate

    real = sim.calibrate.run_calibration

    def stopped_at_once(*args, stop=None, **kwargs):
        stop.set()
        return real(*args, stop=stop, **kwargs)

    monkeypatch.setattr(sim.calibrate, "run_calibration", stopped_at_once)
    assert main(["calibrate", str(CASES), "--knobs", str(CASES / "knobs.yaml"), "--out", str(tmp_path / "o"),
                 "--workers", "1", "--json"]) == 130
    captured = capsys.readouterr()
    assert captured.out == "" and "interrupted: " in captured.err


def test_a_ctrl_c_after_the_last_point_still_writes_the_whole_calibration(tmp_path, capsys, monkeypatch):
    """Ctrl-C while the summary is made, every point finished: the posterior and summary are
    written, not 'interrupted: nothing written' beside the kept points; the status is 130, as for
    any command whose Ctrl-C came after its work was done (a script must see it)."""
    import os
    import signal

    import sim.calibrate

    real = sim.calibrate.summarise_calibration

    def interrupted_while_summarising(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)
        return real(*args, **kwargs)

    monkeypatch.setattr(sim.calibrate, "summarise_calibration", interrupted_while_summarising)
    out = tmp_path / "o"
    assert main(["calibrate", str(CASES), "--knobs", str(CASES / "knobs.yaml"), "--out", str(out),
                 "--workers", "1", "--quiet"]) == 130
    err = capsys.readouterr().err
    assert "nothing written" not in err and "interrupted: too late to stop the command, which had done its work" in err
    assert (out / "posterior.json").is_file() and (out / "summary.json").is_file()


@pytest.mark.slow  # a subprocess and its signals or workers: seconds; CI runs it (-m slow)
def test_sigterm_to_the_whole_process_group_is_an_interrupt_not_a_dead_worker(tmp_path):
    """`timeout`, a batch scheduler or kill -TERM -PGID signal the workers with the parent: the
    calibration stops as for Ctrl-C (exit 130, points kept), not 'a worker process died' (exit
    1) with the pool thread's InvalidStateError traceback."""
    import os
    import signal
    import sqlite3
    import subprocess
    import sys
    import time

    spec = tmp_path / "k.yaml"
    spec.write_text((CASES / "knobs.yaml").read_text().replace("runs: 1024", "runs: 65536"))
    out = tmp_path / "o"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]) + os.pathsep
           + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-m", "sim", "calibrate", str(CASES), "--knobs", str(spec), "--out",
                             str(out), "--workers", "2", "--quiet"], cwd=tmp_path, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def committed() -> int:
        try:
            con = sqlite3.connect(f"file:{out / 'sweep.sqlite'}?mode=ro", uri=True, timeout=5)
            try:
                return con.execute("SELECT COUNT(*) FROM results").fetchone()[0]
            finally:
                con.close()
        except sqlite3.Error:
            return 0

    deadline = time.monotonic() + 60
    while committed() < 1:
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, "no point committed within 60 s"
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "worker process died" not in err and "interrupted: " in err


def test_a_knob_the_cases_say_nothing_about_is_flagged_as_its_prior(tmp_path, capsys):
    """Every agent's capability set alike changes no outcome: its posterior is exactly its prior,
    and the table says so (the posterior mean and sd alone cannot show it: the prior's sd is not printed)."""
    spec = tmp_path / "k.yaml"
    spec.write_text((CASES / "knobs.yaml").read_text() + "  - name: capability\n    path: agents.*.capability\n"
                    "    prior: {dist: uniform, low: 1, high: 3}\n    levels: 2\n")
    assert main(["calibrate", str(CASES), "--knobs", str(spec), "--out", str(tmp_path / "o"), "--workers", "1"]) == 0
    out = capsys.readouterr().out
    marginals = json.loads((tmp_path / "o" / "summary.json").read_text())["calibration"]["marginals"]
    assert marginals["capability"]["moved_from_prior"] == pytest.approx(0, abs=1e-9)
    assert marginals["margin"]["moved_from_prior"] > 0.05
    flagged = [line for line in out.splitlines() if "as the prior: the cases do not tell it" in line]
    assert len(flagged) == 1 and "capability" in flagged[0]


def test_the_knob_table_prints_rounding_noise_as_zero(tmp_path, capsys):
    """A prior symmetric about 0 on a 3 x 3 grid has mean 0 up to rounding (-4e-19): printed 0."""
    spec = tmp_path / "k.yaml"
    spec.write_text((CASES / "knobs.yaml").read_text().replace("low: -0.2, high: 0.2", "low: -0.1, high: 0.1"))
    assert main(["calibrate", str(CASES), "--knobs", str(spec), "--out", str(tmp_path / "o")]) == 0
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert 0 < abs(summary["calibration"]["posterior"]["south_resolve"]["prior_mean"]) < 1e-15  # the noise
    (row,) = [line for line in capsys.readouterr().out.splitlines() if line.startswith("│ south_resolve")]
    assert row.split("│")[2].strip() == "0" and "e-" not in row


def test_one_case_says_its_leave_one_out_is_the_prior_and_fits_no_pool(tmp_path, capsys):
    """With one case the posterior without it is the prior, and the pool's weight has no other
    case to be fitted on (it came out 0, the base rate, as if fitted): both are said, no pool."""
    one = tmp_path / "one"
    one.mkdir()
    shutil.copy(CASES / "_base.yaml", one)
    shutil.copy(CASES / "c1.yaml", one)
    assert main(["calibrate", str(one), "--knobs", str(CASES / "knobs.yaml"), "--out", str(tmp_path / "cal"),
                 "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "one case: its leave-one-out forecast is the prior predictive" in out and " 1 cases " not in out
    assert main(["backtest", str(one), "--calibration", str(tmp_path / "cal" / "posterior.json"), "--runs", "1024",
                 "--out", str(tmp_path / "bt")]) == 0
    out = capsys.readouterr().out
    assert "no pool with the base rate" in out and "mean scores over 1 case (" in out and "\n1 case, " in out
    summary = json.loads((tmp_path / "bt" / "summary.json").read_text())
    assert summary["pool"] is None and "pooled" not in summary["mean_scores"]


def test_a_posterior_whose_knob_names_nothing_in_the_scenario_names_its_file(tmp_path, capsys):
    """run, compare, explain and backtest with a posterior whose knob path is not in the scenario:
    one line per scenario naming its file (it named the scenario's name, no file), exit 2, no output."""
    post = Posterior((_knob("agents.nobody.resolve"),), np.array([[0.0], [0.1], [0.2]]), np.full(3, 1 / 3),
                     np.zeros((3, 1)), ("x",), ("0" * 64,), {})
    post.write(tmp_path / "p.json")
    small = Path(__file__).parent / "data" / "small.yaml"
    for argv in (["run", str(small)], ["compare", str(small), str(small)], ["explain", str(small)],
                 ["backtest", str(CASES)]):
        assert main([*argv, "--calibration", str(tmp_path / "p.json"), "--runs", "1024",
                     "--out", str(tmp_path / argv[0])]) == 2
        lines = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("warning: ")]
        where = ([f"{CASES / f'c{k}.yaml'}:" for k in range(1, 7)] if argv[0] == "backtest" else
                 [f"{small}:"])  # compare: both sides are one file, with one problem, said once
        assert [line.split(" ")[1] for line in lines] == where, lines
        assert all("knobs.k.path" in line and f"a knob of the posterior {tmp_path / 'p.json'}" in line
                   for line in lines)
        assert not (tmp_path / argv[0]).exists()


@pytest.mark.parametrize("knobs, line", [
    ("  - {name: m, path: summit.bargaining.margin, prior: {dist: uniform, low: 0, high: 5}, levels: 3}\n",
     "knobs.m: sets summit.bargaining.margin, which must be in [0, 1], to values from 0 to 5 (got [0.0, 5.0])"),
    ("  - {name: a, path: summit.bargaining.margin, prior: {dist: uniform, low: 0, high: 1}, levels: 2}\n"
     "  - {name: b, path: summit.bargaining.margin, prior: {dist: uniform, low: 0, high: 1}, levels: 2}\n",
     "knobs.b.path: acts on summit.bargaining.margin, as the knob a does (got 'summit.bargaining.margin')"),
])
def test_a_knob_clipped_or_undone_in_every_case_is_one_line_naming_the_spec(tmp_path, capsys, knobs, line):
    """A grid beyond the field's bounds, or two knobs on one number, is the spec's mistake: it was
    one line a case, each naming the case's file (six lines for the test cases, none naming the
    file to fix). One line, naming the spec."""
    spec = tmp_path / "k.yaml"
    spec.write_text("knobs:\n" + knobs)
    assert main(["calibrate", str(CASES), "--knobs", str(spec), "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err == f"error: {spec}: {line}\n"
    assert not (tmp_path / "o").exists()


def test_knobs_that_would_be_clipped_or_undone_are_refused_before_anything_runs():
    """A `set` knob whose grid leaves the field's bounds would run clipped values and report a
    posterior over values that never ran; two knobs on one number: the later undoes the earlier."""
    from sim.calibrate import check_knobs

    cases = load_cases(CASES)
    wide = KnobSpec(name="m", path="summit.bargaining.margin", prior={"dist": "uniform", "low": 0.0, "high": 5.0},
                    levels=3)
    with pytest.raises(InputError, match=r"knobs.m: sets summit.bargaining.margin, which must be in \[0, 1\]"):
        check_knobs(cases, KnobFile(knobs=[wide], runs=64))
    twice = [KnobSpec(name=n, path="summit.bargaining.margin", prior=UNIFORM, levels=2) for n in ("a", "b")]
    with pytest.raises(InputError, match="knobs.b.path: acts on summit.bargaining.margin, as the knob a does"):
        check_knobs(cases, KnobFile(knobs=twice, runs=64))
    check_knobs(cases, KnobFile(knobs=twice[:1], runs=64))


def test_the_model_digest_ignores_comments_docstrings_and_spacing_not_code():
    """A posterior goes stale when the model's code changes, not when its comments do."""
    from sim.provenance import code_text

    a = 'def f(x):\n    """Doc."""\n    return x + 1  # one more\n'
    b = '# a header\n\ndef f(x):\n    """Another doc,\n    on two lines."""\n\n    return x + 1\n'
    c = 'def f(x):\n    """Doc."""\n    return x + 2  # one more\n'
    assert code_text(a) == code_text(b) != code_text(c)
    assert code_text('s = "# not a comment"  # a comment\n') == 's = "# not a comment"'


def test_the_committed_history_posterior_was_fitted_by_this_models_code():
    """The README's calibrated figures come from scenarios/history/posterior.json: when the model's
    code changes, refit it (16 s) in the same commit, and check whether its log-likelihoods moved."""
    path = Path(__file__).resolve().parents[1] / "scenarios" / "history" / "posterior.json"
    assert load_posterior(path).staleness(path) is None, (
        "the model's code changed since scenarios/history/posterior.json was fitted: run `python -m sim calibrate "
        "scenarios/history/ --knobs scenarios/history/knobs.yaml --write NEW.json`, compare its loglik with the "
        "committed file's (equal: the change moved no number), then replace the file")


def test_parameter_spread_of_classes_that_do_not_exist_is_an_input_error():
    """`parameter_spread` takes positions in sim.CLASSES; another number is a clear error, not an IndexError."""
    result = run(scenario_of(small_dict()), runs=1024, seed=1)
    for classes in ((0, 5), (), (-1,), ("substantive",)):
        with pytest.raises(InputError, match="must be positions 0 to 3"):
            result.parameter_spread(classes)
    assert result.parameter_spread((1, 2)) is None  # without knobs: no spread


def test_a_calibrated_run_reports_the_model_as_written_beside_it(tmp_path, capsys, monkeypatch):
    """`run --calibration` prints, writes and shows on its page the raw model too: the
    scenario's own knob values on the same replicates and seed, exactly a plain run's counts.
    Ctrl-C while the raw model runs keeps the calibrated forecast, exit 130."""
    cases = load_cases(CASES)
    cal = run_calibration(cases, load_knobs(CASES / "knobs.yaml"), tmp_path / "cal")
    posterior = tmp_path / "p.json"
    cal.posterior.write(posterior)
    ran = tmp_path / "run"
    assert main(["run", str(CASES / "c1.yaml"), "--calibration", str(posterior), "--runs", "3000",
                 "--out", str(ran), "--report"]) == 0
    text = capsys.readouterr().out
    assert "as written" in text and "model as written (the scenario's own knob values, the same 3,000" in text
    summary = json.loads((ran / "summary.json").read_text())
    # each class of the model as written with its interval, as every probability printed (the column gave p alone)
    line = next(line for line in text.splitlines() if line.startswith("model as written ("))
    for name, e in summary["as_written"]["classes"].items():
        assert f"{name.replace('_', ' ')} {e['p']:.3f} [{e['low']:.3f}, {e['high']:.3f}]" in line, line
    plain = tmp_path / "plain"
    assert main(["run", str(CASES / "c1.yaml"), "--runs", "3000", "--seed", str(summary["seed_entropy"]),
                 "--out", str(plain), "--quiet"]) == 0
    raw = json.loads((plain / "summary.json").read_text())
    assert summary["as_written"]["runs"] == 3000
    assert summary["as_written"]["classes"] == raw["classes"] and summary["as_written"]["headline"] == raw["headline"]
    assert "as_written" not in raw  # a plain run has nothing beside it
    page = (ran / "report.html").read_text()
    assert "Model as written" in page and "The model as written (the scenario's own knob values" in page

    import sim.montecarlo

    real = sim.montecarlo.run

    def raw_interrupted(*args, **kwargs):  # the second run, the raw model's, is stopped at once
        if kwargs.get("knobs") is None:
            kwargs["stop"].set()
        return real(*args, **kwargs)

    monkeypatch.setattr(sim.montecarlo, "run", raw_interrupted)
    stopped = tmp_path / "stopped"
    assert main(["run", str(CASES / "c1.yaml"), "--calibration", str(posterior), "--runs", "3000",
                 "--chunk-size", "1024", "--out", str(stopped)]) == 130
    err = capsys.readouterr().err
    assert "wrote the calibrated forecast" in err and "without the model as written" in err
    summary = json.loads((stopped / "summary.json").read_text())
    assert summary["runs"] == 3000 and summary["as_written"] is None


def test_a_calibrated_run_stopped_before_the_model_as_written_says_so_everywhere(tmp_path, capsys, monkeypatch):
    """Ctrl-C during a calibrated run's first pass (its own replicates) or its second (the model
    as written): summary.json's `as_written` is null, and stderr, the printed summary and the
    report page say the model as written is missing (the first case wrote no `as_written` and
    said nothing of it; the page said nothing in either). Both are `interrupted: true`: the command
    did not finish the work asked of it, as compare's and explain's say (the second case wrote
    false); but only the first is a partial forecast: after the second, the calibrated figures are
    whole, and the printed summary, the page and the plot's title do not call them interrupted."""
    import matplotlib.figure

    import sim.montecarlo

    cases = load_cases(CASES)
    cal = run_calibration(cases, load_knobs(CASES / "knobs.yaml"), tmp_path / "cal")
    posterior = tmp_path / "p.json"
    cal.posterior.write(posterior)
    real = sim.montecarlo.run

    def first_pass_stopped(*args, **kwargs):  # the calibrated pass stops after its first chunk
        if kwargs.get("knobs") is not None:
            sink, stop = kwargs["sink"], kwargs["stop"]
            kwargs["sink"] = lambda *a, **k: (sink(*a, **k), stop.set())[0]
        return real(*args, **kwargs)

    titles = []
    real_savefig = matplotlib.figure.Figure.savefig
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", lambda fig, *a, **k: (
        titles.append(fig.axes[0].get_title()), real_savefig(fig, *a, **k))[1])
    monkeypatch.setattr(sim.montecarlo, "run", first_pass_stopped)
    assert main(["run", str(CASES / "c1.yaml"), "--calibration", str(posterior), "--runs", "3000",
                 "--chunk-size", "1024", "--out", str(tmp_path / "first"), "--report"]) == 130
    captured = capsys.readouterr()
    assert "interrupted: wrote 1,024 of 3,000 replicates" in captured.err and "without the model as written" in captured.err
    assert "model as written: not shown, interrupted before its pass finished" in captured.out
    assert "; interrupted, 3,000 requested" in captured.out
    assert ", interrupted" in titles[0]  # the outcomes plot, drawn first
    monkeypatch.setattr(sim.montecarlo, "run", real)  # else the first pass stops again, inside the second's wrapper
    _stop_the_raw_pass(monkeypatch, sim.montecarlo, "run")
    titles.clear()
    assert main(["run", str(CASES / "c1.yaml"), "--calibration", str(posterior), "--runs", "3000",
                 "--chunk-size", "1024", "--out", str(tmp_path / "second"), "--report"]) == 130
    captured = capsys.readouterr()
    assert "model as written: not shown" in captured.out and "interrupted, 3,000 requested" not in captured.out
    assert captured.err.splitlines()[-1] == (f"interrupted: wrote the calibrated forecast, complete (3,000 "
                                             f"replicates), to {tmp_path / 'second'}, without the model as written")
    assert "interrupted" not in titles[0]
    for name, page in (("first", "interrupted: 1,024 of 3,000 replicates finished; the model as written was not run "
                                 "to the end"),
                       ("second", "interrupted: the model as written was not run to the end")):
        summary = json.loads((tmp_path / name / "summary.json").read_text())
        assert "as_written" in summary and summary["as_written"] is None and summary["interrupted"] is True
        text = (tmp_path / name / "report.html").read_text()
        assert page in text and "of 3,000 replicates finished" not in text.replace(page, ""), name


def test_only_a_forecast_stopped_before_its_replicates_is_partial():
    """`interrupted` says the command did not finish its work; `forecast_partial` whether its own
    figures are short: not when only the model as written (or an explain's Shapley values) was
    stopped, nor when a run stopped early at its precision before its as-written pass was stopped."""
    from sim.reporting import forecast_partial

    def summary(runs, interrupted, stopped_early=False):
        return {"runs": runs, "requested_runs": 3000, "interrupted": interrupted, "stopped_early": stopped_early,
                "as_written": None}

    assert forecast_partial(summary(1024, True))
    assert not forecast_partial(summary(3000, True))
    assert not forecast_partial(summary(1024, True, stopped_early=True))
    assert not forecast_partial(summary(3000, False)) and not forecast_partial({})


def test_a_calibrated_compare_reports_the_model_as_written_beside_it(tmp_path, capsys, monkeypatch):
    """`compare --calibration` also prints, writes and shows the raw comparison: exactly a plain
    compare on the same replicates and seed. Ctrl-C during that pass keeps the calibrated one."""
    cases = load_cases(CASES)
    cal = run_calibration(cases, load_knobs(CASES / "knobs.yaml"), tmp_path / "cal")
    posterior = tmp_path / "p.json"
    cal.posterior.write(posterior)
    a, b = str(CASES / "c1.yaml"), str(CASES / "c2.yaml")
    assert main(["compare", a, b, "--calibration", str(posterior), "--runs", "2048", "--out", str(tmp_path / "cmp")]) == 0
    assert "model as written (each scenario's own knob values, the same 2,048 replicates)" in capsys.readouterr().out
    summary = json.loads((tmp_path / "cmp" / "summary.json").read_text())
    assert main(["compare", a, b, "--runs", "2048", "--seed", str(summary["seed_entropy"]), "--out",
                 str(tmp_path / "plain"), "--quiet"]) == 0
    plain = json.loads((tmp_path / "plain" / "summary.json").read_text())
    assert summary["as_written"] == {"runs": 2048, "headline": plain["headline"]}
    assert main(["report", str(tmp_path / "cmp"), "--out", str(tmp_path / "page.html")]) == 0
    assert "The model as written (each scenario" in (tmp_path / "page.html").read_text()

    import sim.comparison

    real = sim.comparison.compare

    def raw_interrupted(*args, **kwargs):
        if kwargs.get("knobs") is None:
            kwargs["stop"].set()
        return real(*args, **kwargs)

    monkeypatch.setattr(sim.comparison, "compare", raw_interrupted)
    assert main(["compare", a, b, "--calibration", str(posterior), "--runs", "2048", "--chunk-size", "1024",
                 "--out", str(tmp_path / "stopped")]) == 130
    assert "without the model as written" in capsys.readouterr().err
    summary = json.loads((tmp_path / "stopped" / "summary.json").read_text())
    assert summary["runs"] == 2048 and summary["as_written"] is None and summary["interrupted"] is True


def test_a_calibrated_explain_reports_the_removals_as_written_beside_it(tmp_path, capsys):
    """`explain --calibration` also gives each removal's effect in the model as written: exactly
    a plain explain's, on the same replicates and seed, in the table, summary.json and the page."""
    cases = load_cases(CASES)
    cal = run_calibration(cases, load_knobs(CASES / "knobs.yaml"), tmp_path / "cal")
    posterior = tmp_path / "p.json"
    cal.posterior.write(posterior)
    case = str(Path(__file__).parent / "data" / "small.yaml")  # not a fitted case, and it has an event
    assert main(["explain", case, "--calibration", str(posterior), "--runs", "2048", "--out", str(tmp_path / "ex")]) == 0
    assert "as written: the model with the scenario's own knob values, on the same 2,048" in capsys.readouterr().out
    summary = json.loads((tmp_path / "ex" / "summary.json").read_text())
    assert main(["explain", case, "--runs", "2048", "--seed", str(summary["seed_entropy"]), "--out",
                 str(tmp_path / "plain"), "--quiet"]) == 0
    plain = json.loads((tmp_path / "plain" / "summary.json").read_text())
    assert summary["as_written"]["classes"] == plain["classes"] and plain["events"]
    assert summary["as_written"]["events"] == [{"name": e["name"], "effect": e["effect"], "removed": e["removed"]}
                                               for e in plain["events"]]
    assert main(["report", str(tmp_path / "ex"), "--out", str(tmp_path / "page.html")]) == 0
    assert "As written: effect on P(substantive or better)" in (tmp_path / "page.html").read_text()


def test_a_calibrated_explain_table_printed_to_a_file_cuts_no_number(capsys, monkeypatch):
    """With the as-written column the events table is wider than 120 columns; printed to a file
    or a pipe it is printed whole (rich cut the dates and intervals to "2016-…" and "-0.…")."""
    from sim.attribution_report import print_explanation

    monkeypatch.delenv("COLUMNS", raising=False)
    removed = {"p_a": 0.1, "p_b": 0.1782, "diff": 0.0782, "low": 0.0724, "high": 0.0841, "exact": False}
    estimate = {"p": 0.0995, "low": 0.0931, "high": 0.1062}
    events = [{"name": f"a_rather_long_event_name_{k}", "date": "2016-05-25",
               "removed": {"substantive_or_better": removed, "collapse": removed}} for k in range(3)]
    classes = {"substantive_or_better": estimate, "collapse": estimate}
    print_explanation({"scenario": "s", "runs": 8192, "seed_entropy": 1, "seconds": 1.0, "classes": classes,
                       "events": events, "shapley": None, "calibration": {"file": "p.json", "posterior": "all cases"},
                       "as_written": {"runs": 8192, "classes": classes, "events": events}}, None)
    out = capsys.readouterr().out
    assert "…" not in out
    assert out.count("-0.0782 [-0.0841, -0.0724]") == 9 and out.count("2016-05-25") == 3


def test_a_knob_set_on_the_command_line_with_a_calibration_gets_a_note(tmp_path, capsys):
    """--set (or --set-a, --set-b) of a knob the posterior draws changes only the model as
    written: a note says so (the calibrated forecast silently ignored the value)."""
    cases = load_cases(CASES)
    cal = run_calibration(cases, load_knobs(CASES / "knobs.yaml"), tmp_path / "cal")
    posterior = tmp_path / "p.json"
    cal.posterior.write(posterior)
    knob = cal.posterior.knobs[0].path
    small = str(Path(__file__).parent / "data" / "small.yaml")
    assert main(["run", small, "--calibration", str(posterior), "--set", f"{knob}=0.05", "--runs", "1024",
                 "--out", str(tmp_path / "run"), "--quiet"]) == 0
    assert (f"note: --set {knob}: is a knob of {posterior}, which draws it from the posterior: the value given "
            "changes only the model as written") in capsys.readouterr().err
    assert main(["compare", small, small, "--set-b", f"{knob}=0.05", "--calibration", str(posterior), "--runs", "1024",
                 "--out", str(tmp_path / "cmp"), "--quiet"]) == 0
    assert capsys.readouterr().err.count(f"note: --set-b {knob}: is a knob of") == 1
    assert main(["run", small, "--set", f"{knob}=0.05", "--runs", "1024", "--out", str(tmp_path / "plain"),
                 "--quiet"]) == 0
    assert "note:" not in capsys.readouterr().err  # without a calibration the value is the model's


def test_the_knob_note_resolves_roles_and_wildcards_in_the_scenario(tmp_path, capsys):
    """A knob written by role (`agents.{summit.parties[1]}.resolve`) is the party's own field in the
    scenario run: --set of that field gets the note, --set of the other party's does not."""
    spec = tmp_path / "knobs.yaml"
    spec.write_text("runs: 1024\nseed: 7\nknobs:\n  - name: second_resolve\n"
                    "    path: agents.{summit.parties[1]}.resolve\n    kind: set\n"
                    "    prior: {dist: uniform, low: 0.4, high: 0.8}\n    levels: 2\n")
    cal = run_calibration(load_cases(CASES), load_knobs(spec), tmp_path / "cal")
    posterior = tmp_path / "p.json"
    cal.posterior.write(posterior)
    small = str(Path(__file__).parent / "data" / "small.yaml")  # parties [north, south]
    for path, noted in (("agents.south.resolve", True), ("agents.north.resolve", False)):
        assert main(["run", small, "--calibration", str(posterior), "--set", f"{path}=0.5", "--runs", "1024",
                     "--out", str(tmp_path / path), "--quiet"]) == 0
        assert (f"note: --set {path}: is a knob of" in capsys.readouterr().err) == noted, path


def _stop_the_raw_pass(monkeypatch, module, name: str) -> None:
    """Make `module.name` (compare, explain) stop at once when it runs the model as written (no knobs)."""
    real = getattr(module, name)

    def stopped(*args, **kwargs):
        if kwargs.get("knobs") is None:
            kwargs["stop"].set()
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, stopped)


def test_a_report_of_compare_and_explain_stopped_before_the_model_as_written_says_so(tmp_path, capsys, monkeypatch):
    """`sim report` of a calibrated compare or explain interrupted before its raw pass finished
    (`as_written` null) is a page saying the model as written was not run to the end, not an
    error calling the summary malformed; its calibrated figures are whole, so the page does not
    count them as if they were short ("2,048 of 2,048 replicates finished"), as run's does not."""
    import sim.attribution
    import sim.comparison

    cases = load_cases(CASES)
    cal = run_calibration(cases, load_knobs(CASES / "knobs.yaml"), tmp_path / "cal")
    posterior = tmp_path / "p.json"
    cal.posterior.write(posterior)
    small = str(Path(__file__).parent / "data" / "small.yaml")
    _stop_the_raw_pass(monkeypatch, sim.comparison, "compare")
    _stop_the_raw_pass(monkeypatch, sim.attribution, "explain")
    assert main(["compare", small, small, "--set-b", "summit.bargaining.margin=0.1", "--calibration", str(posterior),
                 "--runs", "2048", "--chunk-size", "1024", "--out", str(tmp_path / "cmp"), "--quiet"]) == 130
    assert main(["explain", small, "--calibration", str(posterior), "--runs", "2048", "--chunk-size", "1024",
                 "--out", str(tmp_path / "ex"), "--quiet"]) == 130
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("interrupted:")]
    assert [line.endswith(f"to {tmp_path / name}, without the model as written") for line, name
            in zip(err, ("cmp", "ex"))] == [True, True], err  # it read "without the model as written to DIR"
    for name in ("cmp", "ex"):
        assert json.loads((tmp_path / name / "summary.json").read_text())["as_written"] is None
        page = tmp_path / f"{name}.html"
        assert main(["report", str(tmp_path / name), "--out", str(page)]) == 0, capsys.readouterr().err
        text = page.read_text()
        assert "Interrupted: the model as written was not run to the end." in text, name
        assert "replicates finished" not in text, name


def test_calibrated_compare_and_explain_say_so_in_their_output(tmp_path, capsys):
    """Their tables say which posterior the knobs came from (they read like the model as
    written before); a compare of two fitted cases says each side drew its own refit."""
    cases = load_cases(CASES)
    cal = run_calibration(cases, load_knobs(CASES / "knobs.yaml"), tmp_path / "cal")
    posterior = tmp_path / "p.json"
    cal.posterior.write(posterior)
    assert main(["compare", str(CASES / "c1.yaml"), str(CASES / "c2.yaml"), "--calibration", str(posterior),
                 "--runs", "1024", "--out", str(tmp_path / "cmp")]) == 0
    out = capsys.readouterr().out
    assert (f"posterior predictive ({posterior}; A: leave-one-out, refitted without c1; B: leave-one-out, refitted "
            "without c2): each side draws its own posterior's knob values") in out
    small = Path(__file__).parent / "data" / "small.yaml"  # not a fitted case: the whole posterior, both sides
    assert main(["compare", str(small), str(small), "--set-b", "summit.bargaining.margin=0.1",
                 "--calibration", str(posterior), "--runs", "1024", "--out", str(tmp_path / "same")]) == 0
    assert f"({posterior}, all cases): both sides draw the same rows of knob values" in capsys.readouterr().out
    assert main(["explain", str(CASES / "c1.yaml"), "--calibration", str(posterior), "--runs", "1024",
                 "--out", str(tmp_path / "ex")]) == 0
    assert f"posterior predictive ({posterior}, leave-one-out, refitted without c1)" in capsys.readouterr().out


def test_a_calibrated_chart_says_so_in_its_title(tmp_path, monkeypatch):
    """compare.png and outcomes.png of a calibrated result name the posterior in their title,
    so that a copied chart cannot pass for the model as written."""
    import matplotlib.axes
    import matplotlib.figure

    from sim.attribution_report import plot_comparison
    from sim.plots import plot_outcomes

    titles = []
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", lambda self, *a, **k: None)
    for cls, name in ((matplotlib.figure.Figure, "suptitle"), (matplotlib.axes.Axes, "set_title")):
        original = getattr(cls, name)
        monkeypatch.setattr(cls, name,
                            lambda self, text, *a, _f=original, **k: titles.append(text) or _f(self, text, *a, **k))
    note = {"file": "fits/posterior.json", "posterior": "all cases"}
    entry = {"p_a": 0.5, "p_b": 0.5, "diff": 0.0, "low": 0.0, "high": 0.0, "unpaired_half_width": 0.01,
             "narrowing": None, "p_a_interval": [0.4, 0.6], "p_b_interval": [0.4, 0.6]}
    plot_comparison({"command": "compare", "a": {"scenario": "a"}, "b": {"scenario": "b"}, "runs": 10,
                     "seed_entropy": 1, "calibration": {"a": note, "b": note},
                     "classes": dict.fromkeys(("breakthrough", "substantive", "talk_fest", "collapse"), entry),
                     "headline": {"substantive_or_better": entry}}, tmp_path / "c.png")
    estimate = {"p": 0.25, "low": 0.2, "high": 0.3}
    plot_outcomes({"scenario": "s", "runs": 10, "seed_entropy": 1, "calibration": note,
                   "classes": dict.fromkeys(("breakthrough", "substantive", "talk_fest", "collapse"), estimate)},
                  tmp_path / "o.png")
    assert sum("posterior predictive (posterior.json)" in t for t in titles) == 2, titles


@pytest.mark.parametrize("content, words", [
    (None, "does not exist"), ("dir", "is a directory"), ("[1, 2]", "holds a JSON list, not an object"),
    ('"posterior"', "holds a JSON str"), ('{"format": "sim-posterior/1"}', ": knobs: is missing"),
    ('{"format": "sim-posterior/1", "knobs": [{"name": "m", "path": "dynamics.noise", "levels": 2, "prior": '
     '{"dist": "uniform", "low": 1, "high": 0}}]}', ": knobs.0.prior: low must be below high"),
    ('{"format": "sim-posterior/1", "knobs": {"name": "m"}}', ": knobs: must be a list in brackets"),
])
@pytest.mark.parametrize("command", ["run", "compare"])
def test_calibration_that_is_not_a_posterior_is_one_error_line(tmp_path, capsys, content, words, command):
    """--calibration naming no file, a folder, or JSON that is not a posterior's object: exit 2,
    one `error:` line naming the file (a list or a string was an AttributeError traceback;
    compare said it twice, once for each side)."""
    posterior = tmp_path / "p.json"
    if content == "dir":
        posterior.mkdir()
    elif content is not None:
        posterior.write_text(content, encoding="utf-8")
    small = Path(__file__).parent / "data" / "small.yaml"
    scenarios = [str(small)] * (2 if command == "compare" else 1)
    assert main([command, *scenarios, "--runs", "1024", "--calibration", str(posterior),
                 "--out", str(tmp_path / "out")]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"error: {posterior}") and words in line, line
    assert not (tmp_path / "out").exists()


def test_a_knobs_spec_or_scenario_given_as_the_posterior_says_what_it_is(tmp_path, capsys):
    """--calibration knobs.yaml (the spec, not the posterior fitted from it) or a scenario: one line
    saying what the file looks like, not a JSON parser's 'Expecting value: line 1 column 1'."""
    small = Path(__file__).parent / "data" / "small.yaml"
    for wrong, kind in ((CASES / "knobs.yaml", "a knobs spec, for `calibrate --knobs`"),
                        (small, "a scenario file, for `run`")):
        assert main(["run", str(small), "--runs", "1024", "--calibration", str(wrong),
                     "--out", str(tmp_path / "out")]) == 2
        assert capsys.readouterr().err == (f"error: {wrong}: is not a posterior written by `sim calibrate`: it looks "
                                           f"like {kind}\n")
    assert not (tmp_path / "out").exists()


def test_within_noise_flags_are_holm_corrected_over_the_ranges_shown_together():
    """Five ranges shown at once are five tests: a class no knob moves, tested at 0.05 alone,
    would be called moved in about one table of four (the fisheries tutorial's collapse gave p
    0.026). Holm's step-down correction multiplies the smallest p by 5, the next by 4, and so on
    (never below the one before): 0.026, fourth smallest, becomes 0.052, noise, while 0.01,
    third, becomes 0.03 and stays a difference; a p of None (a result older than the test) or a range 0 wide
    is never called noise."""
    from sim.reporting import spread_noise

    def spread(p, low=0.1, high=0.2):
        return {"homogeneity_p": p, "low": low, "high": high, "settings": 73}

    shown = {"breakthrough": spread(1e-9), "substantive": spread(0.01), "talk_fest": spread(0.026),
             "collapse": spread(0.6), "substantive_or_better": spread(1e-7)}
    noise = spread_noise(shown)
    assert noise["breakthrough"] is None and noise["substantive_or_better"] is None
    assert noise["substantive"] is None  # 0.01 x 3 = 0.03: still a difference
    assert noise["talk_fest"] == ("homogeneity test p 0.03 over 73 knob settings, 0.05 after Holm's correction "
                                  "for 5 tests")  # 0.026 x 2 = 0.052
    assert noise["collapse"] == "homogeneity test p 0.60 over 73 knob settings"  # 0.6 x 1: unchanged
    alone = spread_noise({"talk_fest": spread(0.026)})
    assert alone == {"talk_fest": None}  # one test: no correction, 0.026 < 0.05
    assert spread_noise({"a": spread(None), "b": spread(0.9, 0.2, 0.2)}) == {"a": None, "b": None}
    # step-down: a corrected p never falls below the one before it
    monotone = spread_noise({"a": spread(0.03), "b": spread(0.04)})
    assert monotone["a"].endswith(", 0.06 after Holm's correction for 2 tests")
    assert monotone["b"].endswith(", 0.06 after Holm's correction for 2 tests")  # max(0.06, 0.04 x 1)


def test_a_compare_of_a_fitted_case_and_its_edit_draws_one_posterior_and_says_so(tmp_path, capsys):
    """`compare c1 c1 --set-b ...`: both sides leave c1 out (B known by its name), so both draw the
    same knob rows; neither the table nor the report may say B - A includes a change of posterior."""
    cases = load_cases(CASES)
    cal = run_calibration(cases, load_knobs(CASES / "knobs.yaml"), tmp_path / "cal")
    posterior = tmp_path / "p.json"
    cal.posterior.write(posterior)
    c1 = str(CASES / "c1.yaml")
    assert main(["compare", c1, c1, "--set-b", "summit.cancellation.base_probability=0.06", "--calibration",
                 str(posterior),
                 "--runs", "1024", "--out", str(tmp_path / "cmp")]) == 0
    out = capsys.readouterr().out
    assert "change of posterior" not in out
    assert "both sides draw the same rows of knob values" in out
    page = tmp_path / "cmp.html"
    assert main(["report", str(tmp_path / "cmp"), "--out", str(page)]) == 0, capsys.readouterr().err
    text = page.read_text()
    assert "change of posterior" not in text
    assert "on the same knob draws" in text


def test_a_knob_naming_nothing_in_the_only_case_is_the_specs_mistake(tmp_path, capsys):
    """One case, a misspelt knob path: the line names the spec, which holds knobs.m.path, not the case."""
    cases = tmp_path / "cases"
    cases.mkdir()
    for name in ("_base.yaml", "c1.yaml"):
        shutil.copy(CASES / name, cases / name)
    spec = tmp_path / "k.yaml"
    spec.write_text("knobs:\n  - {name: m, path: summit.bargainin.margin, prior: {dist: uniform, low: 0, high: 0.2}, "
                    "levels: 2}\n")
    assert main(["calibrate", str(cases), "--knobs", str(spec), "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"error: {spec}: knobs.m.path: names no number drawn per replicate in the one case, c1 "
        "(got 'summit.bargainin.margin')"]


def test_the_report_does_not_call_a_posterior_fitted_on_other_cases_leave_one_out(tmp_path, capsys):
    """Cases the posterior was not fitted on are forecast from all of it: the terminal says
    "posterior fitted on other cases", and so must the report page, not "leave one out"."""
    cal = run_calibration(load_cases(CASES), load_knobs(CASES / "knobs.yaml"), tmp_path / "cal")
    posterior = tmp_path / "p.json"
    cal.posterior.write(posterior)
    other = tmp_path / "other"
    shutil.copytree(CASES, other)
    for path in other.glob("c*.yaml"):  # other meetings: names and dates the posterior never saw (a renamed
        text = path.read_text().replace(f"name: {path.stem}", f"name: other_{path.stem}")  # copy is the case)
        path.write_text(text.replace("vantage: 200", "vantage: 199").replace("start: 200", "start: 199"))
    assert main(["backtest", str(other), "--calibration", str(posterior), "--runs", "1024",
                 "--out", str(tmp_path / "bt"), "--quiet"]) == 0
    page = tmp_path / "bt.html"
    assert main(["report", str(tmp_path / "bt"), "--out", str(page)]) == 0, capsys.readouterr().err
    text = page.read_text()
    assert "leave one out" not in text and "leave-one-out" not in text
    assert "the calibrated model (posterior fitted on other cases)" in text
    assert ">pooled<" not in text and "pool of the calibrated model and the base rate" in text  # a name, not a key


def test_a_posterior_written_beside_other_files_holds_its_lock(tmp_path, monkeypatch):
    """`Posterior.write` wrote its temp file beside the target without the target's lock, which
    every other writer there holds: a sim command starting in the folder took the temp file for
    a killed writer's, removed it, and the write failed. The lock is held while it writes (a
    second writer is refused), and inside a result directory, its writer's, no lock file is made."""
    import sim.io
    from sim.locks import MANIFEST, clean_stale, lock_target

    post = load_posterior(HISTORY / "posterior.json")
    seen = []
    real = sim.io.os.replace

    def replace(src, dst):  # a command starting in the folder as the file is being written
        seen.append(clean_stale(tmp_path))
        return real(src, dst)

    monkeypatch.setattr(sim.io.os, "replace", replace)
    post.write(tmp_path / "p.json")
    assert seen == [[]] and load_posterior(tmp_path / "p.json").digest() == post.digest()
    with lock_target(tmp_path / "p.json", "--write", "a file"), pytest.raises(InputError) as err:
        post.write(tmp_path / "p.json")
    assert "another sim command is writing there now" in str(err.value)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / MANIFEST).write_text("{}")
    monkeypatch.setattr(sim.io.os, "replace", real)
    with lock_target(tmp_path / "run" / "posterior.json", "--write", "a file"):  # held by the run's writer
        post.write(tmp_path / "run" / "posterior.json")
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [MANIFEST, "posterior.json"]


# --- Damaged knob specs and posteriors (hostile files) ---------------------------------------------


@pytest.mark.parametrize("path", ["agents.{summit.mediator}.resolve", "agents.{summit.parties[5]}.resolve"])
def test_a_knob_role_that_resolves_to_nothing_is_said_as_written_not_cut_at_its_dots(tmp_path, capsys, path):
    """A role the cases do not have (summit.mediator, a party index past the end): the line named
    the path's own pieces, cut at the dots inside the braces, as an agent ('has no agent {summit')
    and a role to use ('agents.{summit.parties[0]}.mediator}.resolve'). One line naming the spec,
    the knob's path field and the path as written."""
    spec = tmp_path / "k.yaml"
    spec.write_text(f"knobs:\n  - {{name: m, path: '{path}', kind: shift, prior: {{dist: uniform, low: -0.1, "
                    "high: 0.1}, levels: 2}\n")
    assert main(["calibrate", str(CASES), "--knobs", str(spec), "--out", str(tmp_path / "o")]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"error: {spec}: knobs.m.path: cannot be resolved") and line.endswith(f"(got '{path}')")
    assert "in any of the 6 cases" in line and "{summit (" not in line and "does" not in line, line
    assert not (tmp_path / "o").exists()


def _write_edited(tmp_path, edit) -> Path:
    """A posterior on dynamics.noise (three points, cases a, b, c) with `edit` applied to its file's data."""
    path = tmp_path / "p.json"
    _posterior(np.log(np.full((3, 3), 0.3))).write(path)
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("edit, words", [
    (lambda d: d.update(prior=[2 * p for p in d["prior"]]), "prior: must sum to 1 (the prior mass over the grid) "
                                                            "(got a sum of 2)"),
    (lambda d: d.update(prior=[p / 2 for p in d["prior"]]), "prior: must sum to 1 (the prior mass over the grid) "
                                                            "(got a sum of 0.5)"),
    (lambda d: d.update(prior=[1e308] * 3), "prior: must sum to 1 (the prior mass over the grid) (got a sum of inf)"),
    (lambda d: d["loglik"][1].__setitem__(2, 0.5), "loglik.1.2: must be a log probability, from -745 to 0 "
                                                   "(got 0.5)"),
    (lambda d: d.update(loglik=[[-1e308] * 3] * 3), "loglik.0.0: must be a log probability, from -745 to 0 "
                                                    "(got -1e+308)"),
])
@pytest.mark.parametrize("command", ["run", "compare", "explain", "backtest"])
def test_a_posterior_whose_numbers_are_no_probabilities_is_one_line(tmp_path, capsys, edit, words, command):
    """A prior that does not sum to 1 was taken as it was: the forecast's note gave each knob's
    prior mean from it (twice the knob's for a prior summing to 2); one whose sum, or whose log
    likelihoods' sum, is beyond the floats' range made nan weights and a traceback after the run
    (exit 1, "Out of range float values are not JSON compliant"); a log likelihood above 0 (a
    probability above 1) was used. One line naming the file, the field and the value, exit 2,
    nothing written."""
    path = _write_edited(tmp_path, edit)
    small = Path(__file__).parent / "data" / "small.yaml"
    argv = {"run": [str(small)], "compare": [str(small), str(small)], "explain": [str(small)],
            "backtest": [str(CASES)]}[command]
    assert main([command, *argv, "--calibration", str(path), "--runs", "1024", "--out", str(tmp_path / "o")]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("warning: ")]
    assert lines == [f"error: {path}: {words}"]
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("edit, words", [
    (lambda d: d.update(cases=[d["cases"][0]] * 3), "cases must name each case once ('a' twice)"),
    (lambda d: d.update(grid=[d["grid"][0]] * 3), "the grid must hold each point once ([0.0] twice)"),
])
def test_load_posterior_refuses_a_case_or_a_point_written_twice(tmp_path, edit, words):
    """Two cases of one name are one case to leave out (a forecast of it would be left out of the
    wrong refit); two grid points alike weigh that point twice in the prior. calibrate writes neither."""
    path = _write_edited(tmp_path, edit)
    with pytest.raises(InputError, match=re.escape(words)):
        load_posterior(path)


def test_load_posterior_refuses_a_prior_that_does_not_sum_to_one(tmp_path):
    """The library's reader takes a prior summing to 2, whose summary() gives each knob twice its prior mean."""
    path = _write_edited(tmp_path, lambda d: d.update(prior=[2 * p for p in d["prior"]]))
    with pytest.raises(InputError):
        load_posterior(path)


def test_a_refused_calibration_leaves_the_directorys_manifest_as_it_was(tmp_path, capsys, monkeypatch):
    """Another calibration into a calibration's --out is refused; it rewrote the manifest's
    `created` and, run from another folder, its `ran_in`, from which the report rebuilds the first
    calibration's command: that command then started in the wrong folder."""
    out = tmp_path / "o"
    argv = ["calibrate", str(CASES), "--knobs", str(CASES / "knobs.yaml"), "--out", str(out), "--workers", "1",
            "--quiet"]
    assert main(argv) == 0
    manifest = (out / ".sim-manifest.json").read_bytes()
    knobs = yaml.safe_load((CASES / "knobs.yaml").read_text(encoding="utf-8"))
    knobs["runs"] //= 2
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "k.yaml").write_text(yaml.safe_dump(knobs), encoding="utf-8")
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert main([*argv[:3], "k.yaml", *argv[4:]]) == 2
    assert "holds a different calibration" in capsys.readouterr().err
    assert (out / ".sim-manifest.json").read_bytes() == manifest


def test_a_disk_that_fills_as_the_posterior_is_written_is_one_line_and_the_rerun_finishes(tmp_path, capsys,
                                                                                           monkeypatch):
    """posterior.json that cannot be written once every point is kept (a full disk) was an OSError
    traceback: one `error:` line naming the directory and the cause, exit 1 (a run failure), and
    the points kept, which the same command then turns into the whole calibration."""
    argv = ["calibrate", str(CASES), "--knobs", str(CASES / "knobs.yaml"), "--out", str(tmp_path / "o"),
            "--workers", "1", "--quiet"]

    def full(self, path):
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(Posterior, "write", full)
        assert main(argv) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"error: cannot write results to {tmp_path / 'o'}: No space left on device; ") and \
        "54 of 54 points are kept there" in line, line
    assert not (tmp_path / "o" / "posterior.json").exists()
    assert main(argv) == 0 and load_posterior(tmp_path / "o" / "posterior.json").cases


def test_load_posterior_refuses_a_prior_written_as_strings(tmp_path):
    """A prior entry of the wrong JSON type ("0.5", a string) is read as the number 0.5, with only the
    'edited' warning; a wrong type is refused everywhere else in the file."""
    path = _write_edited(tmp_path, lambda d: d["prior"].__setitem__(0, str(d["prior"][0])))
    with pytest.raises(InputError):
        load_posterior(path)
