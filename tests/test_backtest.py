"""Backtests: the scores against known values, the no-look-ahead base rate, the
history cases, the `observed:` and `include:` keys, and `sim backtest`."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import SMALL, small_dict

from sim import CLASSES, SUBSTANTIVE_OR_BETTER, load_scenario, run
from sim.backtest import Meeting, base_rate_forecast, find_cases, load_cases, load_meetings, parse_meeting_date
from sim.cli import main
from sim.errors import InputError, Problem
from sim.knobs import KnobSpec
from sim.loading import parse_scenario
from sim.ownership import directory_owner
from sim.posterior import Posterior
from sim.provenance import model_digest
from sim.schema import scenario_hash
from sim.scoring import (
    CLIP,
    bootstrap_difference,
    brier_score,
    discrimination,
    log_score,
    pool_out_of_sample,
    pool_weight_monte_carlo,
    reliability_table,
)

ROOT = Path(__file__).resolve().parents[1]
HISTORY = ROOT / "scenarios" / "history"
LATER = ROOT / "scenarios" / "later"
B, S, T, C = range(4)


# --- Scores ---------------------------------------------------------------------------------


@pytest.mark.parametrize("p, y, brier", [
    ([0, 0, 1, 0], T, 0.0),                     # certain and right
    ([1, 0, 0, 0], T, 2.0),                     # certain and wrong: the maximum
    ([0.25] * 4, S, 0.75),                      # uniform: 0.75^2 + 3 * 0.25^2
    ([0.1, 0.2, 0.6, 0.1], T, 0.22),            # 0.01 + 0.04 + 0.16 + 0.01
    ([0.1, 0.2, 0.6, 0.1], C, 1.22),            # 0.01 + 0.04 + 0.36 + 0.81
])
def test_brier_score_of_hand_made_forecasts(p, y, brier):
    """The multi-class Brier score is sum_k (p_k - y_k)^2, from 0 (certain, right) to 2 (certain, wrong)."""
    assert brier_score(np.array([p]), np.array([y]))[0] == pytest.approx(brier, abs=1e-12)


@pytest.mark.parametrize("p, y, score", [
    ([0.1, 0.2, 0.6, 0.1], T, -math.log(0.6)),
    ([0.25] * 4, B, math.log(4)),
    ([0, 0, 1, 0], T, 0.0),
    ([0, 0, 1, 0], C, -math.log(CLIP)),         # p = 0 is clipped to 1e-6: 13.8, not infinity
])
def test_log_score_of_hand_made_forecasts(p, y, score):
    """The log score is -ln p(observed), with p clipped to at least 1e-6."""
    assert log_score(np.array([p]), np.array([y]))[0] == pytest.approx(score, rel=1e-12)


def test_scores_are_per_case():
    """Several forecasts at once give one score per case, in order."""
    p = np.array([[0.25] * 4, [0, 0, 1, 0]])
    assert brier_score(p, np.array([0, 2])).tolist() == pytest.approx([0.75, 0.0])
    assert log_score(p, np.array([0, 2])).tolist() == pytest.approx([math.log(4), 0.0])


def test_bootstrap_of_a_constant_difference_gives_no_interval():
    """Identical per-case differences have no sampling spread: the mean, and no interval (NaN)."""
    mean, low, high = bootstrap_difference(np.full(12, 0.3), np.full(12, 0.1), seed=1)
    assert mean == pytest.approx(0.2) and math.isnan(low) and math.isnan(high)


def test_bootstrap_interval_brackets_the_mean_and_repeats_with_its_seed():
    """The BCa interval holds the mean difference, and the same seed gives the same interval."""
    rng = np.random.default_rng(0)
    a, b = rng.random(20), rng.random(20)
    first = bootstrap_difference(a, b, seed=5)
    assert first[1] < first[0] < first[2]
    assert bootstrap_difference(a, b, seed=5) == first


def test_bootstrap_agrees_with_a_plain_percentile_bootstrap_on_symmetric_data():
    """On many symmetric differences BCa, a hand-written percentile bootstrap and the normal
    interval agree to 0.003 (they differ by about 0.001 here; the interval is 0.058 wide, and a
    90 % interval in its place would be off by 0.004, which the old tolerance of 0.01 let pass)."""
    rng = np.random.default_rng(3)
    d = rng.normal(0.1, 0.2, 200)
    mean, low, high = bootstrap_difference(d, np.zeros_like(d), seed=1, resamples=4000)
    means = d[rng.integers(0, d.size, (4000, d.size))].mean(axis=1)
    assert (low, high) == pytest.approx(tuple(np.quantile(means, [0.025, 0.975])), abs=0.003)
    se = d.std(ddof=1) / math.sqrt(d.size)
    assert (low, high) == pytest.approx((mean - 1.959964 * se, mean + 1.959964 * se), abs=0.003)


def test_bootstrap_is_paired():
    """A case's two scores stay together: scores that vary a lot from case to case but differ by
    about 0.1 on each give a narrow interval around 0.1 (resampled apart, it would be ~0.2 wide)."""
    rng = np.random.default_rng(4)
    b = rng.uniform(0.0, 2.0, 40)
    a = b + 0.1 + rng.normal(0.0, 0.01, 40)
    mean, low, high = bootstrap_difference(a, b, seed=2)
    assert low < mean < high and low > 0.09 and high < 0.11


def test_discrimination_compares_the_substantive_meetings_with_the_others():
    """Mean P(substantive or better) of the cases that were, minus that of the others."""
    p = np.array([[0.1, 0.5, 0.3, 0.1], [0.0, 0.2, 0.7, 0.1], [0.3, 0.3, 0.3, 0.1]])
    d = discrimination(p, np.array([S, T, B]))
    assert (d["mean_positive"], d["mean_other"], d["difference"]) == pytest.approx((0.6, 0.2, 0.4))


def test_the_pool_weight_of_each_case_is_fitted_without_it():
    """Leaving a case out can change its weight; the weight never uses the case's own outcome."""
    model = np.array([[0.7, 0.1, 0.1, 0.1]] * 5 + [[0.1, 0.1, 0.7, 0.1]])
    base = np.full((6, 4), 0.25)
    observed = np.array([B, B, B, B, B, B])
    pooled, w_case, w_all = pool_out_of_sample(model, base, observed)
    assert w_all == 1.0 and np.all(w_case[:5] == 1.0)
    assert w_case[5] == 1.0  # fitted on the five others, where the model was right
    flipped = observed.copy()
    flipped[5] = T
    assert pool_out_of_sample(model, base, flipped)[1][5] == w_case[5]  # its own outcome does not enter
    assert pooled == pytest.approx(w_case[:, None] * model + (1 - w_case[:, None]) * base)
    # Every weight above is 1, which a pool fitted on every case (its own included) gives too. Two
    # cases that pull opposite ways tell them apart: the model right on one, badly wrong on the other.
    two = np.array([[0.7, 0.1, 0.1, 0.1], [0.01, 0.01, 0.97, 0.01]])
    _, w_two, w_both = pool_out_of_sample(two, np.full((2, 4), 0.25), np.array([B, B]))
    assert w_two.tolist() == [0.0, 1.0] and 0.0 < w_both < 1.0
    # and on drawn cases, each case's weight is the one fitted on the others alone
    rng = np.random.default_rng(8)
    model, base = rng.dirichlet(np.ones(4), size=12), rng.dirichlet(np.full(4, 5.0), size=12)
    observed = rng.integers(0, 4, 12)
    w_case = pool_out_of_sample(model, base, observed)[1]
    others = [pool_out_of_sample(np.delete(model, k, 0), np.delete(base, k, 0), np.delete(observed, k))[2]
              for k in range(12)]
    assert w_case.tolist() == others and len(set(others)) > 1


def test_the_pool_weights_monte_carlo_interval_narrows_with_replicates_and_holds_the_fitted_weight():
    """Redrawing the model's counts from their multinomial and refitting: with few replicates
    the weight wanders; with many it stays at the weight fitted on the expected forecasts."""
    rng = np.random.default_rng(3)
    p = rng.dirichlet(np.ones(4), size=30)
    observed = np.array([rng.choice(4, p=row) for row in p])
    base = np.full((30, 4), 0.25)
    w_true = pool_out_of_sample(p, base, observed)[2]
    intervals = {}
    for runs in (20, 10**6):
        counts = np.rint(p * runs)
        n = counts.sum(axis=1)
        intervals[runs] = pool_weight_monte_carlo(counts, n, base, observed, seed=1, resamples=100)
        assert intervals[runs] == pool_weight_monte_carlo(counts, n, base, observed, seed=1, resamples=100)
    assert intervals[10**6][0] <= w_true <= intervals[10**6][1] and intervals[10**6][1] - intervals[10**6][0] <= 0.05
    assert intervals[20][1] - intervals[20][0] > intervals[10**6][1] - intervals[10**6][0]


def test_reliability_table_pools_every_case_and_class():
    """Each (case, class) probability falls in one bin; observed frequencies are the share of hits."""
    p = np.array([[0.05, 0.05, 0.85, 0.05], [0.05, 0.15, 0.75, 0.05]])
    rows = reliability_table(p, np.array([T, S]))
    assert sum(r["n"] for r in rows) == 8
    by_bin = {(r["low"], r["high"]): r for r in rows}
    assert by_bin[(0.0, 0.1)]["n"] == 5 and by_bin[(0.0, 0.1)]["observed"] == 0.0
    assert by_bin[(0.1, 0.3)]["observed"] == 1.0  # the 0.15 substantive happened
    assert by_bin[(0.7, 0.9)]["observed"] == 0.5 and by_bin[(0.7, 0.9)]["mean_forecast"] == pytest.approx(0.8)


# --- The base-rate reference ------------------------------------------------------------------


def _meeting(date: str, outcome: int) -> Meeting:
    return Meeting(parse_meeting_date(date), outcome, date)


def test_base_rate_uses_only_meetings_known_before_the_date():
    """Meetings known on or after the date change nothing; those before count, with a Dirichlet(1,1,1,1) prior."""
    before = dt.date(1991, 4, 20)
    known = [_meeting("1956-10-19", B), _meeting("1973-10-07/10", T), _meeting("1991-04-16/19", S)]
    not_yet = [_meeting("1991-04-20", C), _meeting("1991-04-18/21", C), _meeting("1992-01-01", T)]
    expected = np.array([1 + 1, 1 + 1, 1 + 1, 0 + 1]) / (3 + 4)
    assert base_rate_forecast(known, before) == pytest.approx(expected)
    assert base_rate_forecast(known + not_yet, before) == pytest.approx(expected)
    assert base_rate_forecast(not_yet + known, before) == pytest.approx(expected)


def test_base_rate_with_no_earlier_meeting_is_uniform():
    """The uniform prior keeps the earliest case defined."""
    assert base_rate_forecast([_meeting("2000-01-01", T)], dt.date(1999, 1, 1)) == pytest.approx([0.25] * 4)
    assert base_rate_forecast([], dt.date(1999, 1, 1)) == pytest.approx([0.25] * 4)


@pytest.mark.parametrize("text, date", [
    ("2016-05-06", dt.date(2016, 5, 6)),
    ("1973-10-07/10", dt.date(1973, 10, 10)),          # a multi-day meeting: known on its last day
    ("1992-09-13 (planned)", dt.date(1992, 9, 13)),
    ("2012-12 (planned)", dt.date(2012, 12, 31)),      # a month alone: its last day, no look-ahead
    ("2015-11 (Antalya G20)", dt.date(2015, 11, 30)),
])
def test_meeting_dates_are_read_as_the_day_the_outcome_was_known(text, date):
    assert parse_meeting_date(text) == date


def test_a_date_that_is_not_one_is_refused():
    with pytest.raises(ValueError, match="not a date"):
        parse_meeting_date("autumn 2014")


@pytest.mark.parametrize("text, date", [
    ("2000-01-28/02-03", dt.date(2000, 2, 3)),          # ISO 8601's ranges across a month
    ("2000-01-28/2000-02-03", dt.date(2000, 2, 3)),
    ("2000-12-30/2001-01-02 (New Year)", dt.date(2001, 1, 2)),
])
def test_a_range_across_a_month_is_known_on_its_last_day(text, date):
    assert parse_meeting_date(text) == date


@pytest.mark.parametrize("text, message", [
    ("2000-01-01 to 2000-03-01", "not a date like"),   # was read as 2000-01-01: two months early
    ("2000-01-01..2000-02-01", "not a date like"),
    ("2000-01-28/03", "must end on or after its first day"),
    ("2000-02-30", "not a date that exists"),
    ("2000-13", "month must be in 1..12"),              # was read as 2001-01-31
])
def test_a_date_that_could_be_misread_is_refused_with_its_text(text, message):
    with pytest.raises(ValueError, match=message) as err:
        parse_meeting_date(text)
    assert repr(text) in str(err.value)


@pytest.mark.parametrize("rows, where, message", [
    ("2001-01-01,TALK_FEST\n2001-01-01,TALK_FEST\n", "line 3", "repeats line 2"),
    ("2099-01-01,TALK_FEST\n", "line 2.date", "is after today (2026-12-06)"),
    ("2001-01-01,\n", "line 2.outcome", "(got nothing)"),
    # a quote never closed swallows the lines after it into one cell, which read as a bad outcome
    ("1993-10-11,talk_fest\n2000-09-03,\"talk_fest\n2001-03-25,substantive\n", "line 3",
     "opens a quote (\") that runs to line 4: a quote left open takes in the lines after it"),
])
def test_a_meetings_line_that_would_skew_the_base_rate_is_refused(tmp_path, rows, where, message):
    """A repeated line would count a meeting twice; a meeting after today has no known outcome."""
    table = tmp_path / "m.csv"
    table.write_text("date,outcome\n" + rows)
    with pytest.raises(InputError) as err:
        load_meetings(table, today=dt.date(2026, 12, 6))
    (problem,) = err.value.problems
    assert problem.path == where and message in str(problem)


def test_a_meetings_table_naming_a_column_twice_is_refused(tmp_path):
    table = tmp_path / "m.csv"
    table.write_text("date,outcome,date\n2001-01-01,TALK_FEST,1999-01-01\n")
    with pytest.raises(InputError, match="names the column date more than once"):
        load_meetings(table)


def test_a_meetings_table_with_capitalised_names_crlf_and_empty_lines_is_read(tmp_path):
    table = tmp_path / "m.csv"
    table.write_bytes(b"\xef\xbb\xbfDate,Outcome,Place\r\n2001-01-01,talk_fest,Tokyo\r\n,,\r\n"
                      b"2001-01-01,talk_fest,Moscow\r\n2001-01-02,Talk fest,Kyoto\r\n2001-01-03, talk-fest ,Nara\r\n")
    assert [(m.date, m.outcome) for m in load_meetings(table)] == [(dt.date(2001, 1, 1), T)] * 2 + [
        (dt.date(2001, 1, 2), T), (dt.date(2001, 1, 3), T)]


def test_the_shipped_table_holds_the_thirty_coded_meetings():
    """1 breakthrough, 6 substantive, 20 talk fests, 3 collapses, 1956 to May 2016."""
    meetings = load_meetings(HISTORY / "summits_until_2016-05.csv")
    assert len(meetings) == 30
    assert np.bincount([m.outcome for m in meetings], minlength=4).tolist() == [1, 6, 20, 3]
    assert min(m.date for m in meetings).year == 1956 and max(m.date for m in meetings) < dt.date(2016, 6, 1)


def test_a_malformed_meetings_table_reports_every_bad_line(tmp_path):
    bad = tmp_path / "m.csv"
    bad.write_text("date,outcome\n2001-01-01,TALK_FEST\nsoon,TALK_FEST\n2002-02-02,maybe\n")
    with pytest.raises(InputError) as err:
        load_meetings(bad)
    assert [p.path for p in err.value.problems] == ["line 3.date", "line 4.outcome"]


def test_a_meetings_table_from_a_spreadsheet_is_read(tmp_path):
    """A UTF-8 byte-order mark and spaces around the header's names are skipped."""
    table = tmp_path / "m.csv"
    table.write_bytes("\ufeffdate , outcome,notes\n2001-01-01,TALK_FEST,x\n".encode())
    assert [(m.date, m.outcome) for m in load_meetings(table)] == [(dt.date(2001, 1, 1), 2)]


@pytest.mark.parametrize(("text", "expected"), [
    ("when,outcome\n2001-01-01,TALK_FEST\n", ("has no column date (need columns date, outcome on the first "
                                                "line; the header is 'when', 'outcome')")),
    ("day,result\n", "has no column date or outcome"),
    ("", "has no column date or outcome (need columns date, outcome on the first line; the file is empty)"),
])
def test_a_meetings_table_without_its_columns_names_them(tmp_path, text, expected):
    """A header without `date` or `outcome` is one problem naming the missing columns, not one per line."""
    table = tmp_path / "m.csv"
    table.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_meetings(table)
    (problem,) = err.value.problems
    assert str(problem).startswith(f"{table}: ") and expected in str(problem)


# --- The history cases ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def history_cases():
    return load_cases(HISTORY)


def test_every_history_case_validates_and_predates_its_meeting(history_cases):
    """At least the twelve required meetings, each a vantage before its meeting, dates in order."""
    names = {c.name for c in history_cases}
    required = {"moscow_1973", "tokyo_1991", "tokyo_1993", "krasnoyarsk_1997", "kawana_1998", "moscow_1998",
                "tokyo_2000", "irkutsk_2001", "moscow_2003", "tokyo_2005", "moscow_2013", "sochi_2016"}
    assert required <= names and len(history_cases) >= 12
    for case in history_cases:
        s = case.scenario
        assert s.calendar.vantage < s.observed.earliest
        assert case.path.name != "_base.yaml"
    dates = [c.scenario.observed.earliest for c in history_cases]
    assert dates == sorted(dates)


def test_every_history_case_matches_the_coded_table(history_cases):
    """Each case's observed class is the table's class for the meeting on that date (or month, if planned)."""
    meetings = load_meetings(HISTORY / "summits_until_2016-05.csv")
    for case in history_cases:
        obs = case.scenario.observed
        same = [m for m in meetings if m.label.startswith(obs.earliest.isoformat()[:7])]
        assert CLASSES[case.observed] in {CLASSES[m.outcome] for m in same}, case.name


def test_history_cases_leave_the_knobs_to_calibration(history_cases):
    """No case writes a knob (the bargaining constants, the noise) or a field whose meaning changed;
    the dynamics and the trust floor are the same in every case."""
    first = history_cases[0].scenario
    for case in history_cases:
        s = case.scenario
        assert not s.summit.bargaining.model_fields_set, case.name
        assert "noise" not in s.dynamics.model_fields_set, case.name
        assert s.changed_fields() == [], case.name
        assert s.dynamics == first.dynamics, case.name
        assert s.summit.cancellation.trust_below == first.summit.cancellation.trust_below


def test_the_base_rate_of_each_history_case_counts_only_earlier_meetings(history_cases):
    """The earliest case gets the uniform forecast; the 2016 one counts the 29 meetings before it."""
    meetings = load_meetings(HISTORY / "summits_until_2016-05.csv")
    first, last = history_cases[0], history_cases[-1]
    assert base_rate_forecast(meetings, first.scenario.calendar.vantage) == pytest.approx([0.25] * 4)
    n_before = sum(m.date < last.scenario.calendar.vantage for m in meetings)
    assert n_before == 29  # all but Sochi, 6 May 2016, itself
    assert base_rate_forecast(meetings, last.scenario.calendar.vantage)[T] == pytest.approx((19 + 1) / (29 + 4))


# --- The later cases (out of time, never fitted) ----------------------------------------------


def test_every_later_file_is_a_case_with_an_observed_block():
    """Each YAML file of scenarios/later/ loads (by loading alone, no simulation) and has an
    `observed:` block, so none is silently skipped by `backtest`."""
    files = sorted(LATER.glob("*.yaml"))
    assert len(files) >= 8 and find_cases(LATER) == files
    cases = load_cases(LATER)
    assert [c.path for c in sorted(cases, key=lambda c: c.path)] == files
    assert all(c.scenario.observed is not None and c.scenario.observed.source for c in cases)


def test_the_later_cases_follow_the_protocol_and_the_history_structure(history_cases):
    """Vantages after the baseline's (2016-06-01), 28 days before each meeting (rule A2); no knob
    written; dynamics, trust floor, issues and rubric those of the 2016 history case."""
    sochi = next(c.scenario for c in history_cases if c.name == "sochi_2016")
    for case in load_cases(LATER):
        s = case.scenario
        assert s.calendar.vantage > dt.date(2016, 6, 1), case.name
        assert s.observed.earliest - s.calendar.vantage == dt.timedelta(days=28), case.name
        assert not s.summit.bargaining.model_fields_set, case.name
        assert "noise" not in s.dynamics.model_fields_set, case.name
        assert s.changed_fields() == [], case.name
        assert s.dynamics == sochi.dynamics, case.name
        assert s.summit.cancellation.trust_below == sochi.summit.cancellation.trust_below, case.name
        assert s.issues == sochi.issues and s.outcome == sochi.outcome, case.name


def test_find_cases_takes_only_files_with_an_observed_block(tmp_path):
    (tmp_path / "_base.yaml").write_text(SMALL.read_text())
    (tmp_path / "b.yaml").write_text(SMALL.read_text() + _observed("talk_fest", "2020-03-01"))
    (tmp_path / "notes.txt").write_text("observed: nothing")
    assert [p.name for p in find_cases(tmp_path)] == ["b.yaml"]


# --- observed: and include: in the schema ----------------------------------------------------


def _observed(outcome: str, date: str) -> str:
    return f"observed: {{outcome: {outcome}, date: {date}, source: 'a test'}}\n"


def test_run_ignores_the_observed_block():
    """The same scenario with and without `observed:` gives the same counts and hash."""
    text = SMALL.read_text()
    plain, case = parse_scenario(text), parse_scenario(text + _observed("collapse", "2020-03-01"))
    assert case.observed.outcome == "collapse"
    assert scenario_hash(plain) == scenario_hash(case)
    assert run(plain, runs=2048, seed=3).counts.tolist() == run(case, runs=2048, seed=3).counts.tolist()


@pytest.mark.parametrize("block, path", [
    ("observed: {outcome: success, date: 2020-03-01, source: x}\n", "observed.outcome"),
    ("observed: {outcome: talk_fest, date: 2019-12-31, source: x}\n", "observed.date"),   # before the vantage
    ("observed: {outcome: talk_fest, date: 2020-03-01}\n", "observed.source"),
])
def test_a_bad_observed_block_is_refused(block, path):
    with pytest.raises(InputError) as err:
        parse_scenario(SMALL.read_text() + block)
    assert path in [p.path for p in err.value.problems]


@pytest.mark.parametrize("date", ["1991-04-16/19", "April 1991", "[2020-03-01]", "[2020-03-01, 2020-03-02, 2020-03-03]"])
def test_an_observed_date_of_another_form_is_one_line_saying_both_forms(date):
    """A date written as the meetings table may write it (a '/' range) or otherwise malformed:
    one error, naming both forms a case may use, not one line for each member of the union."""
    with pytest.raises(InputError) as err:
        parse_scenario(SMALL.read_text() + _observed("talk_fest", date))
    (problem,) = err.value.problems
    assert problem.path == "observed.date"
    assert "a date (YYYY-MM-DD) or [earliest, latest]" in str(problem), str(problem)


@pytest.mark.parametrize("outcome", ["Talk fest", "talk-fest", "talk fest"])
def test_an_observed_class_spelt_as_the_meetings_table_may_spell_it_names_the_spelling_a_case_takes(
        outcome, tmp_path, capsys):
    """The meetings CSV takes 'Talk fest' and 'talk-fest'; a case's `observed.outcome` takes
    `talk_fest` only, and the one error line says so: the file, the field, the value and that
    spelling."""
    path = tmp_path / "case.yaml"
    path.write_text(SMALL.read_text() + _observed(f"'{outcome}'", "2020-03-01"))
    assert main(["validate", str(path)]) == 2
    assert capsys.readouterr().err == (f"error: {path}: observed.outcome: must be 'breakthrough', 'substantive', "
                                       f"'talk_fest' or 'collapse'; did you mean talk_fest? (got '{outcome}')\n")


def test_a_case_observed_after_today_is_refused(tmp_path):
    """A meeting that has not happened has no observed class to score."""
    (tmp_path / "a.yaml").write_text(SMALL.read_text() + _observed("talk_fest", "2020-03-01"))
    with pytest.raises(InputError) as err:
        load_cases(tmp_path, today=dt.date(2020, 2, 29))
    (problem,) = err.value.problems
    assert problem.path == "observed.date" and "is after today (2020-02-29)" in str(problem)
    assert [c.name for c in load_cases(tmp_path, today=dt.date(2020, 3, 1))] == [load_scenario(SMALL).name]


def test_include_applies_a_file_of_dotted_paths(tmp_path):
    """`include:` sets the named fields, in order, before this file's own `set:`."""
    data = small_dict()
    data["dynamics"] = {"noise": 0.01}
    data["include"] = ["a.yaml", "b.yaml"]
    data["set"] = {"agents.south.resolve": 0.6}
    (tmp_path / "a.yaml").write_text("dynamics.noise: 0.03\nagents.south.resolve: 0.9\n")
    (tmp_path / "b.yaml").write_text("dynamics.noise: 0.05\n")
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(data))
    s = load_scenario(tmp_path / "s.yaml")
    assert s.dynamics.noise == 0.05 and s.agents["south"].resolve == 0.6


@pytest.mark.parametrize("include, content, message", [
    ("missing.yaml", None, "cannot read"),
    ("inc.yaml", "agents.nobody.resolve: 0.5\n", "no such field"),
    ("inc.yaml", "- a list\n", "mapping of dotted paths"),
])
def test_a_bad_include_is_one_error_line(tmp_path, include, content, message):
    data = small_dict()
    data["include"] = include
    if content is not None:
        (tmp_path / include).write_text(content)
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(InputError) as err:
        load_scenario(tmp_path / "s.yaml")
    assert len(err.value.problems) == 1 and message in str(err.value)


# --- The command -------------------------------------------------------------------------------


def _tiny_history(tmp_path: Path, cases: int = 2) -> Path:
    d = tmp_path / "hist"
    d.mkdir()
    for name, outcome, margin in (("a", "substantive", 0.0), ("b", "talk_fest", 0.3), ("c", "collapse", 0.1))[:cases]:
        data = small_dict()
        data["name"] = name
        data["summit"]["bargaining"] = {"margin": margin}
        data["observed"] = {"outcome": outcome, "date": "2020-03-15", "source": "made up for tests"}
        (d / f"{name}.yaml").write_text(yaml.safe_dump(data))
    (d / "meetings.csv").write_text("date,outcome\n2019-01-01,TALK_FEST\n2019-06-01,COLLAPSE\n")
    return d


def test_cases_without_a_seed_are_noted_unless_seed_is_given(tmp_path, capsys):
    """A case without monte_carlo.seed draws fresh random numbers each backtest, so its scores
    move between backtests: a note says which cases; --seed fixes them all, and no note."""
    d = _tiny_history(tmp_path)
    data = yaml.safe_load((d / "b.yaml").read_text())
    del data["monte_carlo"]["seed"]
    (d / "b.yaml").write_text(yaml.safe_dump(data))
    assert main(["backtest", str(d), "--runs", "1024", "--out", str(tmp_path / "o1"), "--quiet"]) == 0
    assert "note: 1 of 2 cases have no monte_carlo.seed (b)" in capsys.readouterr().err
    assert main(["backtest", str(d), "--runs", "1024", "--seed", "3", "--out", str(tmp_path / "o2"), "--quiet"]) == 0
    assert "note:" not in capsys.readouterr().err


def test_a_shared_base_with_an_observed_block_is_noted_as_a_case(tmp_path, capsys):
    """A `_`-named file is a shared base, meant not to be a case; one that writes an `observed:`
    block (a template the cases were to fill) is scored as a meeting all the same, its
    placeholder outcome and date among the scores. A note says so, naming the file."""
    d = _tiny_history(tmp_path)
    base = {**small_dict(), "name": "shared", "observed": {"outcome": "talk_fest", "date": "2020-03-15",
                                                           "source": "template"}}
    (d / "_base.yaml").write_text(yaml.safe_dump(base))
    assert main(["backtest", str(d), "--runs", "1024", "--seed", "3", "--out", str(tmp_path / "o"), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert err == (f"note: {d / '_base.yaml'}: observed: makes this file a case, scored with the others, though "
                   "its name starts with `_`, as a shared base's does; if it is a base, move its `observed:` block "
                   "into the cases\n"), err
    assert json.loads((tmp_path / "o" / "summary.json").read_text())["n_cases"] == 3


def test_a_scenario_left_out_of_the_cases_for_want_of_observed_is_noted(tmp_path, capsys):
    """A scenario file in the cases' folder without an `observed:` block is not a case; one that
    reads like a case (not a shared `_base.yaml`, not a knobs spec or a note) gets a note, so that
    a forgotten block does not quietly shrink the backtest. The scores are those of the others."""
    d = _tiny_history(tmp_path, cases=3)
    data = yaml.safe_load((d / "c.yaml").read_text())
    del data["observed"]
    (d / "c.yaml").write_text(yaml.safe_dump(data))
    (d / "_base.yaml").write_text(yaml.safe_dump(small_dict()))
    (d / "knobs.yaml").write_text(yaml.safe_dump({"runs": 1024, "knobs": []}))
    assert main(["backtest", str(d), "--runs", "1024", "--seed", "3", "--out", str(tmp_path / "o"), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert err == (f"note: {d / 'c.yaml'}: has no `observed:` block, so it is not a case: left out of the backtest "
                   "and the calibration\n"), err
    assert json.loads((tmp_path / "o" / "summary.json").read_text())["n_cases"] == 2


def test_backtest_command_prints_scores_and_writes_summary_and_picture(tmp_path, capsys):
    d = _tiny_history(tmp_path)
    out = tmp_path / "out"
    assert main(["backtest", str(d), "--runs", "2048", "--seed", "4", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "base rate" in text and "uniform" in text
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_cases"] == 2 and (out / "reliability.png").stat().st_size > 0
    base = summary["cases"][0]["forecasts"]["base_rate"]
    assert [base[c] for c in CLASSES] == pytest.approx([1 / 6, 1 / 6, 2 / 6, 2 / 6])
    m = summary["mean_scores"]
    assert m["uniform"]["brier"] == pytest.approx(0.75) and m["uniform"]["log"] == pytest.approx(math.log(4))
    model = np.array([[c["forecasts"]["model"][k] for k in CLASSES] for c in summary["cases"]])
    assert m["model"]["brier"] == pytest.approx(brier_score(model, np.array([S, T])).mean())
    assert summary["complete"] is True and summary["cases_total"] == 2 and summary["missing_cases"] == []
    # the discrimination's Monte Carlo bound: 1.96 x (mean binomial se of each side), summed
    p = model[:, list(SUBSTANTIVE_OR_BETTER)].sum(axis=1)
    se = np.sqrt(p * (1 - p) / 2048)
    assert summary["discrimination"]["model"]["difference_mc_half_width"] == pytest.approx(1.959964 * se.sum())
    assert "Monte Carlo 95 %: +-" in " ".join(text.split())


def test_backtest_prints_each_forecast_with_its_monte_carlo_interval(tmp_path, capsys):
    """Every model probability in the case table carries its Wilson 95 % interval, and the
    table says how many replicates; summary.json holds the same intervals."""
    from sim.estimate import wilson

    d = _tiny_history(tmp_path)
    assert main(["backtest", str(d), "--runs", "2048", "--seed", "4", "--out", str(tmp_path / "o")]) == 0
    text = capsys.readouterr().out
    assert "Monte Carlo 95 % intervals (Wilson, 2,048 replicates a case)" in " ".join(text.split())
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    for case in summary["cases"]:
        for c in CLASSES:
            p, (low, high) = case["forecasts"]["model"][c], case["intervals"]["model"][c]
            e = wilson(round(p * 2048), 2048)
            assert (low, high) == pytest.approx((e.low, e.high))
            assert f"[{low:.2f}, {high:.2f}]" in text
    assert max(len(line) for line in text.splitlines() if "│" in line) <= 120  # the tables fit


class _PressCtrlC:
    """Wraps `sim.backtest.run_case`: after the `after`-th case finishes, send this process
    SIGINT, as Ctrl-C would (the CLI's handler asks the backtest to stop)."""

    def __init__(self, after: int):
        import sim.backtest

        self.after, self.calls, self.run_case = after, 0, sim.backtest.run_case

    def __call__(self, *args, **kwargs):
        import os
        import signal

        forecast = self.run_case(*args, **kwargs)
        self.calls += 1
        if self.calls == self.after:
            os.kill(os.getpid(), signal.SIGINT)
        return forecast


def test_an_interrupted_backtest_keeps_its_finished_cases_and_a_rerun_resumes(tmp_path, capsys, monkeypatch):
    """Ctrl-C after the first of three cases: exit 130, that case kept and scored in a summary
    marked incomplete (printed so too); the same command again runs only the other two and
    ends with the numbers of a backtest never interrupted."""
    import sim.backtest

    d = _tiny_history(tmp_path, cases=3)
    argv = ["backtest", str(d), "--runs", "2048", "--seed", "4", "--workers", "1"]
    out = tmp_path / "out"
    press = _PressCtrlC(after=1)
    monkeypatch.setattr(sim.backtest, "run_case", press)
    assert main([*argv, "--out", str(out)]) == 130
    captured = capsys.readouterr()
    assert "interrupted: 1 of 3 cases kept in" in captured.err and "Traceback" not in captured.err
    assert "INCOMPLETE (interrupted: 1 of 3 cases finished)" in captured.out
    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"] is False and summary["n_cases"] == 1 and summary["cases_total"] == 3
    assert summary["missing_cases"] == ["b", "c"] and [c["name"] for c in summary["cases"]] == ["a"]
    assert not (out / "reliability.png").exists()  # no picture of a part passed off as the whole
    assert directory_owner(out) == "backtest"
    assert press.calls == 1  # the case in hand when the signal came was never started
    from sim.report import make_report

    page = make_report([out], tmp_path / "page.html").read_text(encoding="utf-8")
    assert "Incomplete: interrupted, 1 of 3 cases finished" in page  # the report says so too

    ran = []
    monkeypatch.setattr(sim.backtest, "run_case", lambda case, *a, **k: ran.append(case.name) or press.run_case(
        case, *a, **k))
    assert main([*argv, "--out", str(out), "--json"]) == 0
    resumed = json.loads(capsys.readouterr().out)
    assert ran == ["b", "c"] and resumed["complete"] is True and resumed["cases_resumed"] == 1
    assert main([*argv, "--out", str(tmp_path / "whole"), "--quiet"]) == 0
    whole = json.loads((tmp_path / "whole" / "summary.json").read_text())
    assert resumed["cases"] == whole["cases"] and resumed["mean_scores"] == whole["mean_scores"]
    assert resumed["differences"] == whole["differences"] and (out / "reliability.png").exists()


def test_a_rerun_with_other_settings_keeps_none_of_the_earlier_cases(tmp_path, capsys, monkeypatch):
    """Kept cases are reused only for the same scenario, --runs, --seed and posterior: another
    seed on the same --out runs every case again."""
    d = _tiny_history(tmp_path)
    out = tmp_path / "out"
    assert main(["backtest", str(d), "--runs", "1024", "--seed", "4", "--out", str(out), "--quiet"]) == 0
    assert main(["backtest", str(d), "--runs", "1024", "--seed", "5", "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["cases_resumed"] == 0 and summary["complete"] is True
    assert {c["seed_entropy"] for c in summary["cases"]} == {5}


@pytest.mark.parametrize("field, value", [
    ("counts", [-100, 100, 1024, 0]), ("counts", [1, 2]), ("counts", [0.5, 0.5, 1023, 0]), ("runs", True),
    ("calibrated_counts", [1, 2]), ("calibrated_counts", [-1024, 1024, 512, 512]), ("calibration", "x"),
])
def test_a_hand_edited_kept_case_is_run_again(tmp_path, capsys, field, value):
    """A record of cases.json edited into counts no run makes (negative, fractional, of the wrong
    length, not adding up; calibrated counts alike) is not reused: that case runs again and the
    summary is the one of an untouched directory (it was a traceback, or scored negative counts)."""
    d = _tiny_history(tmp_path)
    argv = ["backtest", str(d), "--runs", "1024", "--seed", "4", "--workers", "1", "--calibration"]
    posterior = tmp_path / "p.json"
    cases = load_cases(d)
    Posterior((KnobSpec.model_validate({"name": "k", "path": "dynamics.noise", "prior": {
        "dist": "uniform", "low": 0.0, "high": 0.2}, "levels": 2}),), np.array([[0.0], [0.2]]), np.full(2, 0.5),
        np.zeros((2, 1)), ("elsewhere",), ("h",), {"model_digest": model_digest()}).write(posterior)
    argv.append(str(posterior))
    out = tmp_path / "out"
    assert main([*argv, "--out", str(out), "--quiet"]) == 0
    whole = json.loads((out / "summary.json").read_text())
    data = json.loads((out / "cases.json").read_text())
    data["cases"][0][field] = value
    (out / "cases.json").write_text(json.dumps(data))
    capsys.readouterr()
    assert main([*argv, "--out", str(out), "--json"]) == 0, capsys.readouterr().err
    again = json.loads(capsys.readouterr().out)
    assert again["cases_resumed"] == len(cases) - 1
    assert again["cases"] == whole["cases"] and again["mean_scores"] == whole["mean_scores"]


def test_a_case_known_to_the_posterior_only_by_its_name_is_said(tmp_path, capsys):
    """A case edited since the calibration (its inputs' hash is not the fitted one's) is still left
    out by its name, as `run` does, which says so; the backtest said nothing, so a case changed
    after the fit was scored against a likelihood of its old inputs without a word. Now the
    summary keeps how each case was known and a line names those known by name only."""
    from sim import scenario_hash

    d = _tiny_history(tmp_path)
    a, b = load_cases(d)
    posterior = tmp_path / "p.json"
    Posterior((KnobSpec.model_validate({"name": "k", "path": "dynamics.noise", "prior": {
        "dist": "uniform", "low": 0.0, "high": 0.2}, "levels": 2}),), np.array([[0.0], [0.2]]), np.full(2, 0.5),
        np.zeros((2, 2)), ("a", "b"), (scenario_hash(a.scenario), "an old hash of b"),
        {"model_digest": model_digest()}).write(posterior)
    out = tmp_path / "out"
    assert main(["backtest", str(d), "--runs", "1024", "--calibration", str(posterior), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    cases = json.loads((out / "summary.json").read_text())["cases"]
    assert [c["calibration"]["left_out_by"] for c in cases] == ["inputs", "name"]
    assert ("calibrated: refitted without b, known to the posterior by its name only (its inputs differ from the "
            "fitted case's)") in " ".join(text.split())


def test_a_case_known_to_the_posterior_under_another_name_is_said(tmp_path, capsys):
    """A case with the model inputs of a fitted case under another name (an outside writer's copy
    of a history case) is forecast from the posterior refitted without that case, which only the
    summary said: the terminal called it 'posterior fitted on other cases' at most. A line names
    the case and the fitted case it was taken for, so a forecaster knows their case is no new one."""
    from sim.canonical import inputs_hash

    d = _tiny_history(tmp_path)
    a, b = load_cases(d)
    posterior = tmp_path / "p.json"
    Posterior((KnobSpec.model_validate({"name": "k", "path": "dynamics.noise", "prior": {
        "dist": "uniform", "low": 0.0, "high": 0.2}, "levels": 2}),), np.array([[0.0], [0.2]]), np.full(2, 0.5),
        np.zeros((2, 2)), ("kawana", "b"), ("an old hash of kawana", "an old hash of b"),
        {"model_digest": model_digest()}, input_hashes=(inputs_hash(a.scenario), inputs_hash(b.scenario))
    ).write(posterior)
    out = tmp_path / "out"
    assert main(["backtest", str(d), "--runs", "1024", "--calibration", str(posterior), "--out", str(out)]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert [c["calibration"]["left_out"] for c in json.loads((out / "summary.json").read_text())["cases"]] == [
        "kawana", "b"]
    assert ("calibrated: a has the model inputs of the fitted case kawana, and is forecast from the posterior "
            "refitted without it") in text, text
    assert "b has the model inputs" not in text


def test_a_posterior_knob_naming_nothing_is_refused_before_any_case_runs(tmp_path, capsys, monkeypatch):
    """A posterior whose knob names no number of a case: exit 2 naming each case and the knob,
    no case run and no directory (it was found when the first case's calibrated run began,
    leaving a result directory of a manifest alone)."""
    import sim.backtest

    ran = []
    monkeypatch.setattr(sim.backtest, "run_case", lambda *a, **k: ran.append(a))
    d = _tiny_history(tmp_path)
    posterior = tmp_path / "p.json"
    Posterior((KnobSpec.model_validate({"name": "k", "path": "no.such.path", "prior": {
        "dist": "uniform", "low": 0.0, "high": 0.2}, "levels": 2}),), np.array([[0.0], [0.2]]), np.full(2, 0.5),
        np.zeros((2, 1)), ("elsewhere",), ("h",), {"model_digest": model_digest()}).write(posterior)
    out = tmp_path / "out"
    assert main(["backtest", str(d), "--runs", "1024", "--calibration", str(posterior), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [f"error: {d / case}.yaml: knobs.k.path: names no number drawn per replicate: a knob "
                                f"of the posterior {posterior} (got 'no.such.path')" for case in ("a", "b")]
    assert ran == [] and not out.exists()


def test_an_error_in_the_first_case_leaves_no_directory(tmp_path, capsys, monkeypatch):
    """An error raised before any case was kept (here an input error of the first case) leaves
    no result directory of a manifest alone; an empty directory given as --out stays, empty."""
    import sim.backtest

    def bad(*args, **kwargs):
        raise InputError(Problem("a.yaml", "summit", "made up for the test"))

    monkeypatch.setattr(sim.backtest, "run_case", bad)
    d = _tiny_history(tmp_path)
    assert main(["backtest", str(d), "--runs", "1024", "--out", str(tmp_path / "out")]) == 2
    assert not (tmp_path / "out").exists()
    (tmp_path / "empty").mkdir()
    assert main(["backtest", str(d), "--runs", "1024", "--out", str(tmp_path / "empty")]) == 2
    assert list((tmp_path / "empty").iterdir()) == []
    assert "made up for the test" in capsys.readouterr().err


def test_ctrl_c_before_any_case_finished_leaves_nothing(tmp_path, capsys, monkeypatch):
    """Interrupted inside the first case: exit 130, 'nothing kept', and no directory left behind."""
    import sim.backtest

    def interrupted(*args, **kwargs):
        import os
        import signal

        os.kill(os.getpid(), signal.SIGINT)  # and return None, as `run_case` does when stopped inside a case

    monkeypatch.setattr(sim.backtest, "run_case", interrupted)
    d = _tiny_history(tmp_path)
    assert main(["backtest", str(d), "--runs", "1024", "--out", str(tmp_path / "out")]) == 130
    assert "interrupted before any case finished: nothing kept" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_backtest_progress_shows_each_case(tmp_path, capsys):
    """--progress off a terminal prints a line on stderr as each case finishes."""
    d = _tiny_history(tmp_path)
    assert main(["backtest", str(d), "--runs", "1024", "--out", str(tmp_path / "o"), "--quiet", "--progress"]) == 0
    err = capsys.readouterr().err
    assert "cases: 1 of 2 (50 %)" in err and "cases: 2 of 2 (100 %)" in err


@pytest.mark.slow  # a subprocess and its signals or workers: seconds; CI runs it (-m slow)
def test_sigint_to_a_backtest_process_keeps_the_finished_cases(tmp_path):
    """`python -m sim backtest` sent SIGINT once its first case is done (its progress line says
    so): exit 130, no traceback, the first case kept in a summary marked incomplete."""
    import os
    import signal
    import subprocess
    import sys

    d = _tiny_history(tmp_path, cases=3)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-m", "sim", "backtest", str(d), "--runs", "600000", "--seed", "1",
                             "--workers", "1", "--out", str(out), "--progress", "--quiet"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if line.startswith("cases: 1 of 3"):
            proc.send_signal(signal.SIGINT)
            break
    _, rest = proc.communicate(timeout=120)
    err = "".join(lines) + rest
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted: " in err and "of 3 cases kept" in err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"] is False and summary["cases_total"] == 3 and summary["cases"][0]["name"] == "a"
    kept = json.loads((out / "cases.json").read_text())["cases"]
    assert [c["name"] for c in kept] == [c["name"] for c in summary["cases"]]


@pytest.mark.parametrize("argv, text", [
    (["--runs", "0"], "--runs: must be >= 1"),
    (["--resamples", "5"], "--resamples: must be >= 100"),
    (["--resamples", "1000000000"], "--resamples: must be at most 1,000,000"),
])
def test_backtest_command_refuses_bad_options(tmp_path, capsys, argv, text):
    d = _tiny_history(tmp_path)
    assert main(["backtest", str(d), *argv]) == 2
    assert text in capsys.readouterr().err


def test_backtest_command_needs_cases(tmp_path, capsys):
    (tmp_path / "m.csv").write_text("date,outcome\n2019-01-01,TALK_FEST\n")
    assert main(["backtest", str(tmp_path)]) == 2
    assert "no scenario with an `observed:` block" in capsys.readouterr().err


def test_the_calibrated_label_says_how_the_posterior_relates_to_the_cases():
    """Leave-one-out only where each case was fitted; cases the posterior never saw are
    forecast from a posterior fitted on other cases, and the label says so."""
    from sim.backtest_report import _label

    def summary(*kinds):
        return {"cases": [{"calibration": {"posterior": k}} for k in kinds]}

    assert _label(summary("leave-one-out", "leave-one-out"), "calibrated") == "model, calibrated (leave-one-out)"
    assert _label(summary("all cases", "all cases"), "calibrated") == \
        "model, calibrated (posterior fitted on other cases)"
    assert "where fitted" in _label(summary("all cases", "leave-one-out"), "calibrated")
    assert _label(summary("all cases"), "base_rate") == "base rate (earlier meetings)"


def test_discrimination_of_cases_all_on_one_side_is_none_and_the_summary_is_json(tmp_path, capsys):
    """Every case substantive or better: nothing to tell apart, so no difference (not NaN,
    which JSON cannot hold: the summary was once never written)."""
    d = discrimination(np.full((3, 4), 0.25), np.array([0, 1, 1]))
    assert d["mean_other"] is None and d["difference"] is None and d["mean_positive"] == 0.5
    json.dumps(d, allow_nan=False)


def test_cases_kept_by_other_model_code_are_run_again(tmp_path, capsys, monkeypatch):
    """A backtest resumed after the model's code changed runs every case again rather than
    mixing forecasts of two models in one summary."""
    import sim.backtest_store

    d = _tiny_history(tmp_path)
    out = tmp_path / "out"
    argv = ["backtest", str(d), "--runs", "1024", "--seed", "4", "--workers", "1", "--out", str(out), "--json"]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["cases_resumed"] == 0
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["cases_resumed"] == len(load_cases(d))
    monkeypatch.setattr(sim.backtest_store, "model_digest", lambda: "0123456789abcdef")
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["cases_resumed"] == 0


def test_a_backtests_forecasts_do_not_depend_on_the_workers_or_the_chunk_size():
    """Each case's counts are the same on 1 or 2 processes and whatever its monte_carlo.chunk_size."""
    from sim.backtest import run_backtest

    directory = Path(__file__).parent / "data" / "cases"
    one = run_backtest(load_cases(directory), None, runs=3000, seed=4, workers=1)
    two = run_backtest(load_cases(directory, overrides={"monte_carlo.chunk_size": 1024}), None, runs=3000, seed=4,
                       workers=2)
    assert [c.name for c in one.cases] == [c.name for c in two.cases] and len(one.cases) == 6
    np.testing.assert_array_equal(one.counts, two.counts)


def test_a_directory_given_as_meetings_is_named_as_the_option(tmp_path, capsys):
    """`--meetings scenarios` said "scenarios: is a directory, not a regular file", naming no option."""
    cases = Path(__file__).parent / "data" / "cases"
    assert main(["backtest", str(cases), "--meetings", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.strip() == (f"error: --meetings: is a directory: give the CSV of coded meetings "
                                               f"(columns date, outcome) (got '{tmp_path}')")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("n_cases, reason", [(2, "fewer than 3 cases"), (5, "the same difference on every case")])
def test_a_missing_score_interval_gives_its_real_reason(n_cases, reason):
    """A pool whose weight is 1 on every case scores exactly as the calibrated model: the
    bootstrap has nothing to resample, on 5 cases as on 2; the table must not blame too few cases."""
    from rich.console import Console

    from sim.backtest_report import _score_table

    nothing = {"mean": 0.0, "low": None, "high": None}
    summary = {"n_cases": n_cases, "subject": "calibrated",
               "mean_scores": {"calibrated": {"brier": 0.2, "log": 0.4}, "pooled": {"brier": 0.2, "log": 0.4}},
               "differences": {"pooled": {"brier": nothing, "log": nothing}}}
    console = Console(width=300, record=True)
    console.print(_score_table(summary, ["calibrated", "pooled"]))
    text = console.export_text()
    assert f"(no interval: {reason})" in text


def test_a_bad_shared_base_is_one_error_line_not_one_per_case(tmp_path, capsys):
    """Every case extends the same `_base.yaml`: its one bad field is one line, not one per case."""
    d = _tiny_history(tmp_path, cases=3)
    base = small_dict()
    base["dynamics"] = {"rate": 5}
    (d / "_base.yaml").write_text(yaml.safe_dump(base))
    for name in "abc":
        data = yaml.safe_load((d / f"{name}.yaml").read_text())
        (d / f"{name}.yaml").write_text(yaml.safe_dump({"extends": "_base.yaml", **data}))
    assert main(["backtest", str(d), "--runs", "1024", "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {d / '_base.yaml'}: dynamics.rate: must be in [0, 1] (got 5)\n", err


def test_a_case_copied_under_another_name_is_refused_naming_both_files(tmp_path, capsys):
    """Two files with the same model inputs (one renamed and retitled, its agents called otherwise)
    are one meeting: counted twice, it would weigh twice in the scores and in a calibration, and a
    leave-one-out forecast of one would be fitted on the other. Refused, as a repeated line of the
    meetings table is, naming both files; nothing is run or written."""
    d = _tiny_history(tmp_path)
    data = yaml.safe_load((d / "a.yaml").read_text())
    text = yaml.safe_dump({**data, "name": "z", "title": "another title"}).replace("north", "tokyo")
    (d / "z.yaml").write_text(text)
    for command in (["backtest", str(d), "--runs", "1024"],
                    ["calibrate", str(d), "--knobs", str(Path(__file__).parent / "data" / "cases" / "knobs.yaml")]):
        assert main([*command, "--out", str(tmp_path / "o"), "--quiet"]) == 2
        err = capsys.readouterr().err
        assert err == (f"error: {d / 'z.yaml'}: name: is another name for the case {d / 'a.yaml'}: the two have the "
                       "same model inputs, so one meeting would count twice in the scores and the fit; delete one "
                       "(got 'z')\n"), err
        assert not (tmp_path / "o").exists()


def test_two_cases_of_one_name_are_refused_naming_both_files(tmp_path, capsys):
    """The error names the files that share a name, not only their folder: which one to rename?"""
    d = _tiny_history(tmp_path)
    (d / "z.yaml").write_text((d / "a.yaml").read_text())
    assert main(["backtest", str(d), "--runs", "1024", "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err == (f"error: {d / 'z.yaml'}: name: is also the name of the case {d / 'a.yaml'}: cases must have "
                   "distinct names (got 'a')\n"), err


def test_a_resumed_backtest_says_how_many_cases_it_kept(tmp_path, capsys):
    """As calibrate says how many points an earlier run left: the time printed is this run's only."""
    from sim.backtest_report import print_backtest

    d = _tiny_history(tmp_path)
    assert main(["backtest", str(d), "--runs", "1024", "--seed", "3", "--out", str(tmp_path / "o"), "--quiet"]) == 0
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    capsys.readouterr()
    print_backtest(summary, tmp_path / "o")
    assert "kept from an earlier run" not in capsys.readouterr().out
    summary["cases_resumed"] = 1
    print_backtest(summary, tmp_path / "o")
    assert "s (1 of the 2 cases kept from an earlier run); base rate:" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["backtest", "calibrate"])
def test_a_bad_set_value_is_blamed_on_the_option_not_on_the_case_files(tmp_path, capsys, command):
    """As `run --set` does: the files do not hold the value, the command line does."""
    d = _tiny_history(tmp_path)
    (tmp_path / "k.yaml").write_text(yaml.safe_dump({"runs": 256, "knobs": [
        {"name": "m", "path": "summit.bargaining.margin", "prior": {"dist": "uniform", "low": 0, "high": 0.2},
         "levels": 2}]}))
    extra = ["--knobs", str(tmp_path / "k.yaml")] if command == "calibrate" else ["--runs", "1024"]
    assert main([command, str(d), *extra, "--set", "dynamics.rate=5", "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err == "".join(f"error: {d / n}.yaml (--set): dynamics.rate: must be in [0, 1] (got 5)\n" for n in "ab"), err
