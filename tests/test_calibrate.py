"""Calibration: knobs, the smoothed likelihood, the fit and leave-one-out, the include
file, and recovery of known parameters from outcomes the model itself generated."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from sim import load_scenario, run
from sim.backtest import Case
from sim.calibrate import (
    Knob,
    fit,
    knob_overrides_common,
    leave_one_out,
    log_likelihood,
    make_grid,
    run_calibration,
    shift_param,
    tabulate,
    with_knobs,
    write_calibration,
)
from sim.cli import main
from sim.errors import InputError
from sim.schema import Beta, Normal, Uniform

from conftest import scenario_of, small_dict

SOUTH = Knob("south_reservation", "shift", "agents.south.reservation",
             (-0.15, -0.1, -0.05, 0.0, 0.05, 0.1, 0.15), 0.0, "shift of south's reservation")
TRUST = Knob("trust_below", "set", "summit.cancellation.trust_below", (0.1, 0.15, 0.2, 0.25, 0.3, 0.35), 0.2,
             "the trust floor")


# --- Knobs -------------------------------------------------------------------------------------


def test_shift_moves_a_number_within_its_range():
    assert shift_param(0.3, 0.1) == pytest.approx(0.4)
    assert shift_param(0.95, 0.1) == 1.0 and shift_param(0.02, -0.1) == 0.0


def test_shift_moves_a_beta_mean_and_keeps_it_feasible():
    """A beta's mean moves; its sd shrinks only where the new mean needs it."""
    assert shift_param(Beta(dist="beta", mean=0.62, sd=0.06), -0.1) == {"dist": "beta", "mean": 0.52, "sd": 0.06}
    edge = shift_param(Beta(dist="beta", mean=0.9, sd=0.2), 0.2)
    assert edge["mean"] == 0.99 and edge["sd"] < math.sqrt(0.99 * 0.01)
    Beta(**edge)  # still a valid beta


def test_shift_moves_the_location_of_other_distributions():
    assert shift_param(Uniform(dist="uniform", low=0.2, high=0.4), 0.1) == pytest.approx(
        {"dist": "uniform", "low": 0.3, "high": 0.5})
    moved = shift_param(Normal(dist="normal", mean=0.5, sd=0.1, low=0.0, high=1.0), 0.2)
    assert moved["mean"] == pytest.approx(0.7) and (moved["low"], moved["high"]) == pytest.approx((0.2, 1.0))


def test_with_knobs_sets_and_shifts_and_validates_again():
    base = scenario_of(small_dict())
    changed = with_knobs(base, (SOUTH, TRUST), [-0.1, 0.3])
    assert changed.agents["south"].reservation == pytest.approx(0.2)
    assert changed.summit.cancellation.trust_below == 0.3
    assert changed.agents["north"] == base.agents["north"]


def test_make_grid_is_every_combination_first_knob_slowest():
    grid = make_grid((SOUTH, TRUST))
    assert grid.shape == (7 * 6, 2)
    assert grid[0].tolist() == [-0.15, 0.1] and grid[1].tolist() == [-0.15, 0.15] and grid[-1].tolist() == [0.15, 0.35]


# --- Likelihood, fit, leave-one-out ------------------------------------------------------------------


def test_log_likelihood_is_smoothed_by_half_a_count_per_class():
    """ln((count + 1/2) / (runs + 2)): a class never seen keeps a finite likelihood."""
    counts = np.array([[[0, 10, 80, 10]]], dtype=float)
    assert log_likelihood(counts, np.array([2]))[0, 0] == pytest.approx(math.log(80.5 / 102))
    assert log_likelihood(counts, np.array([0]))[0, 0] == pytest.approx(math.log(0.5 / 102))


def test_fit_picks_the_grid_point_of_largest_summed_likelihood():
    loglik = np.log(np.array([[0.5, 0.5, 0.1], [0.4, 0.4, 0.4], [0.9, 0.1, 0.1]]))
    assert fit(loglik) == 1
    assert fit(loglik, np.array([True, False, False])) == 2


def test_leave_one_out_fits_on_the_other_cases_only():
    """Case i's fit is the fit with i masked out; changing case i's own column never moves it."""
    rng = np.random.default_rng(2)
    loglik = np.log(rng.random((15, 9)))
    loo = leave_one_out(loglik)
    for i in range(9):
        mask = np.ones(9, dtype=bool)
        mask[i] = False
        assert loo[i] == fit(loglik, mask)
        other = loglik.copy()
        other[:, i] = np.log(rng.random(15))
        assert leave_one_out(other)[i] == loo[i]


# --- Recovering known parameters -----------------------------------------------------------------


def _variants() -> list:
    """Four small scenarios that differ in south's land position and the initial trust,
    with reservations where they bind (the class then depends on the knobs)."""
    out = []
    for land, trust in ((0.0, 0.4), (0.25, 0.5), (0.5, 0.4), (0.25, 0.6)):
        data = small_dict()
        data["agents"]["south"]["issues"]["land"]["position"] = land
        data["agents"]["north"]["reservation"] = {"dist": "beta", "mean": 0.5, "sd": 0.05}
        data["agents"]["south"]["reservation"] = {"dist": "beta", "mean": 0.6, "sd": 0.05}
        data["relations"]["trust"]["initial"] = {"dist": "uniform", "low": trust - 0.2, "high": trust + 0.2}
        out.append(scenario_of(data))
    return out


def test_calibration_recovers_the_parameters_that_generated_the_outcomes():
    """300 cases drawn from the model at known knob values (south's reservation shifted by
    -0.05, trust floor 0.25): the fit lands within one grid step (0.05) of both, for each of
    five independent synthetic data sets. Measured at this design: 50 of 50 data sets did."""
    knobs, truth = (SOUTH, TRUST), np.array([-0.05, 0.25])
    variants = _variants()
    # the truth: each variant's class probabilities from a large run on its own seed
    p_true = np.array([run(with_knobs(v, knobs, truth), runs=20_000, seed=99).counts / 20_000 for v in variants])
    assert (p_true[:, 1] > 0.3).all() and (p_true[:, 3] > 0.05).all()  # both knobs leave a trace
    grid = make_grid(knobs)
    counts = tabulate(variants, knobs, grid, runs=2048, seed=1)  # the fit's own seed: common to every point
    which = np.repeat(np.arange(len(variants)), 75)
    for data_seed in range(5):
        rng = np.random.default_rng(data_seed)
        observed = np.array([rng.choice(4, p=p_true[v]) for v in which])
        best = grid[fit(log_likelihood(counts[:, which], observed))]
        assert np.abs(best - truth) == pytest.approx([0, 0], abs=0.05 + 1e-9), (data_seed, best)


# --- The whole calibration and its include file ----------------------------------------------------


def _cases(tmp_path: Path) -> list[Case]:
    cases = []
    for k, (variant, outcome) in enumerate(zip(_variants()[:3], ("substantive", "talk_fest", "collapse"))):
        data = variant.model_dump(mode="json")
        data["name"] = f"case_{k}"
        data["observed"] = {"outcome": outcome, "date": "2020-03-15", "source": "made up for tests"}
        path = tmp_path / f"case_{k}.yaml"
        path.write_text(yaml.safe_dump(data))
        cases.append(Case(path, load_scenario(path)))
    return cases


def test_run_calibration_scores_each_case_at_its_leave_one_out_fit(tmp_path):
    cases = _cases(tmp_path)
    knobs = (Knob("south_reservation", "shift", "agents.south.reservation", (-0.1, 0.0, 0.1), 0.0, ""),)
    cal = run_calibration(cases, knobs, runs=1024, seed=2, score_runs=2048, score_seed=3)
    assert cal.counts.shape == (3, 3, 4) and cal.counts.sum(axis=-1).tolist() == [[1024] * 3] * 3
    for i in range(3):
        g = int(cal.loo[i])
        expected = run(with_knobs(cases[i].scenario, knobs, cal.grid[g]), runs=2048, seed=3).counts / 2048
        assert cal.held_out[i] == pytest.approx(expected)


def test_the_written_file_is_an_include_that_sets_the_fitted_values(tmp_path):
    cases = _cases(tmp_path)
    knobs = (SOUTH, TRUST)
    cal = run_calibration(cases, knobs, runs=1024, seed=2, score_runs=1024, score_seed=3)
    path = tmp_path / "calibrated" / "calibration.yaml"
    values = write_calibration(path, cal, cases, ["a test"])
    assert path.read_text().startswith("# a test\n")
    data = yaml.safe_load((tmp_path / "case_0.yaml").read_text())
    data["include"] = "calibrated/calibration.yaml"
    (tmp_path / "with.yaml").write_text(yaml.safe_dump(data))
    included = load_scenario(tmp_path / "with.yaml")
    fitted = with_knobs(cases[0].scenario, knobs, cal.grid[cal.fitted])
    assert included.agents["south"].reservation == fitted.agents["south"].reservation
    assert included.summit.cancellation.trust_below == fitted.summit.cancellation.trust_below == values[TRUST.path]


def test_knobs_that_differ_between_cases_cannot_be_one_include(tmp_path):
    """A shift of reservations the cases write differently has no single value to write."""
    cases = _cases(tmp_path)
    data = yaml.safe_load(cases[1].path.read_text())
    data["agents"]["south"]["reservation"] = 0.7
    cases[1].path.write_text(yaml.safe_dump(data))
    cases[1] = Case(cases[1].path, load_scenario(cases[1].path))
    with pytest.raises(InputError, match="differs from"):
        knob_overrides_common(cases, (SOUTH,), [0.05])
    assert knob_overrides_common(cases, (TRUST,), [0.3]) == {TRUST.path: 0.3}


def test_calibrate_command_refuses_cases_without_the_knobs_fields(tmp_path, capsys):
    """Checked before any run: every case must have the fields the declared knobs change."""
    _cases(tmp_path)
    (tmp_path / "m.csv").write_text("date,outcome\n2019-01-01,TALK_FEST\n")
    assert main(["calibrate", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "agents.japan.reservation: is needed by the knob 'japan_reservation'" in err
    assert not (tmp_path / "calibrated").exists()
