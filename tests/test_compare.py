"""Counterfactuals and attribution (`sim.comparison`, `sim.attribution`): paired comparisons,
event removal, Shapley values, derived scenario files, and the `compare` and `explain` commands."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import hypothesis
import numpy as np
import pytest
import yaml
from conftest import run_replicates, scenario_of, small_dict
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import cli
from sim.attribution import explain, remove_events, shapley_plan, shapley_values
from sim.comparison import GROUPS, check_pairable, compare, paired_difference
from sim.errors import InputError
from sim.loading import load_scenario, parse_scenario
from sim.model import CLASSES, compile_model
from sim.strategies import params, scenario_dicts

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "tests" / "data" / "small.yaml"
BASELINE = ROOT / "scenarios" / "baseline.yaml"
COUNTERFACTUALS = sorted((ROOT / "scenarios" / "counterfactuals").glob("*.yaml"))
FIGURES = ("p_a", "p_b", "diff", "low", "high", "paired_half_width", "unpaired_half_width", "narrowing")


def small_with_events(*events: dict) -> dict:
    data = small_dict()
    data["events"] = data["events"] + list(events)
    return data


def event(name: str, probability=1.0, effects=None, date="2020-02-10") -> dict:
    return {"name": name, "date": date, "probability": probability, "source": "test",
            "effects": effects if effects is not None else [{"target": "trust", "shift": 0.1}]}


# --- Paired differences -----------------------------------------------------------------------


def test_self_comparison_is_exactly_zero():
    """A scenario compared with itself differs by exactly 0, with the interval [0, 0]."""
    s = scenario_of(small_dict())
    c = compare(s, s, runs=3000, seed=5)
    assert np.count_nonzero(c.joint - np.diag(np.diag(c.joint))) == 0
    for name, d in c.differences().items():
        assert (d.diff, d.low, d.high, d.paired_half_width) == (0.0, 0.0, 0.0, 0.0), name
        assert d.p_a == d.p_b


def test_the_joint_table_holds_each_scenarios_own_counts():
    """The rows and columns of the joint table are exactly each scenario's run on its own."""
    a = scenario_of(small_dict())
    b = scenario_of(small_with_events(event("boost", effects=[{"target": "trust", "shift": 0.2}])))
    c = compare(a, b, runs=2500, seed=3, chunk_size=1024)
    assert c.joint.sum(axis=1).tolist() == run_replicates(a, runs=2500, seed=3).counts.tolist()
    assert c.joint.sum(axis=0).tolist() == run_replicates(b, runs=2500, seed=3).counts.tolist()
    assert np.array_equal(c.joint, compare(a, b, runs=2500, seed=3, chunk_size=8192).joint)


def test_paired_interval_is_bonett_prices_over_the_per_replicate_differences():
    """diff is the mean of d_i = [B_i in class] - [A_i in class]; the interval is Bonett and
    Price's adjusted Wald interval on the gained and lost counts, which, with many changed
    replicates, is close to the plain mean +- 1.96 sd / sqrt(n)."""
    a = scenario_of(small_dict())
    b = scenario_of(small_with_events(event("chill", effects=[{"target": "trust", "shift": -0.15}])))
    ra, rb = run_replicates(a, runs=4000, seed=9), run_replicates(b, runs=4000, seed=9)
    c = compare(a, b, runs=4000, seed=9)
    assert not c.same
    for name, classes in GROUPS.items():
        d_i = np.isin(rb.outcome, classes).astype(float) - np.isin(ra.outcome, classes)
        d = c.difference(name)
        assert d.diff == pytest.approx(d_i.mean(), abs=1e-15)
        g, lost = int((d_i > 0).sum()), int((d_i < 0).sum())
        assert (d.gained, d.lost) == (g, lost)
        p_g, p_l = (g + 1) / 4002, (lost + 1) / 4002
        half = 1.959963984540054 * math.sqrt((p_g + p_l - (p_g - p_l) ** 2) / 4002)
        assert (d.low, d.high) == pytest.approx((p_g - p_l - half, p_g - p_l + half), abs=1e-15)
        if g + lost >= 100:
            assert d.paired_half_width == pytest.approx(1.959963984540054 * d_i.std(ddof=1) / math.sqrt(4000),
                                                        rel=0.02)


def test_the_paired_interval_is_the_published_bonett_price_interval():
    """Known answer from an implementation of its own: statpsych's ci.prop.ps(.05, 12, 4, 26, 6)
    (Bonett and Price 2012) is 0.44, SE 0.09448809, [0.2548067, 0.6251933], for 12 pairs out of the
    outcome under both, 4 in it under A only, 26 under B only and 6 under both; `diff` stays the
    plain (26 - 4) / 48."""
    joint = np.zeros((4, 4), dtype=np.int64)
    joint[2, 2], joint[1, 2], joint[2, 1], joint[1, 1] = 12, 4, 26, 6
    d = paired_difference(joint, (1,))
    assert (d.gained, d.lost, d.diff) == (26, 4, 22 / 48)
    assert (d.low, d.high) == pytest.approx((0.2548067, 0.6251933), abs=5e-8)
    assert d.paired_half_width == pytest.approx(1.959963984540054 * 0.09448809, abs=5e-8)


@pytest.mark.parametrize("n, p_gain, p_loss", [(2000, 0.0005, 0.0), (2000, 0.002, 0.0005), (20000, 0.0002, 0.0),
                                               (500, 0.05, 0.02), (20000, 0.005, 0.001)])
def test_the_paired_interval_covers_the_true_difference_where_few_replicates_change(n, p_gain, p_loss):
    """Over 4,000 simulated tables, the 95 % interval holds the true P(B) - P(A) at least 93 %
    of the time, also where a handful of replicates change outcome (the plain Wald interval
    of the per-replicate differences covered it 63 % of the time at n 2,000, one gain in 2,000)."""
    rng = np.random.default_rng(20120101)
    counts = rng.multinomial(n, [p_gain, p_loss, 1 - p_gain - p_loss], size=4000)
    covered = 0
    for g, lost, _ in counts:
        joint = np.zeros((4, 4), dtype=np.int64)
        joint[2, 1], joint[1, 2], joint[2, 2] = g, lost, n - g - lost
        d = paired_difference(joint, (1,))
        covered += d.low <= p_gain - p_loss <= d.high
    assert covered / 4000 >= 0.93


def test_only_one_model_compared_with_itself_is_exactly_zero():
    """Two different models that no replicate tells apart get an interval around 0, not
    [0, 0]: a finite sample cannot show that B changes nothing. One model is exact."""
    s = scenario_of(small_dict())
    quiet = scenario_of(small_with_events(event("never", probability=0.0)))
    c = compare(s, quiet, runs=2000, seed=5)
    d = c.difference("substantive_or_better")
    assert (d.diff, d.gained, d.lost, d.exact) == (0.0, 0, 0, False)
    assert d.low < 0 < d.high < 0.002
    assert compare(s, s, runs=2000, seed=5).difference("substantive_or_better").exact
    with pytest.raises(ValueError):
        paired_difference(np.array([[1, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]), (1,), exact=True)


class _Applier:
    """A knob applier that is not a `KnobSetting` (the `state.KnobApplier` protocol: `apply` alone),
    cancelling the summit in every replicate of a model named `name`."""

    def __init__(self, name: str | None = None):
        self.name = name

    def apply(self, model, params, blocks) -> None:
        if model.name == self.name:
            params["summit.cancellation.base_probability"] = np.ones_like(
                params["summit.cancellation.base_probability"])


def test_knob_appliers_of_any_kind_never_break_a_finished_comparison():
    """A pair of knob appliers that are not `KnobSetting`s, on a scenario compared with itself,
    gives a comparison, not an AttributeError after every replicate ran; one applier given to both
    sides is one setting (exact), two that cannot be compared are not; and an applier that treats
    two models of one scenario differently (by name) gives what the replicates show, not a
    ValueError claiming they cannot differ."""
    s = scenario_of(small_dict())
    same = _Applier()
    assert compare(s, s, runs=1000, seed=4, knobs=(same, same)).difference("collapse").exact
    assert not compare(s, s, runs=1000, seed=4, knobs=(_Applier(), _Applier())).difference("collapse").exact
    renamed = scenario_of({**small_dict(), "name": "renamed"})
    c = compare(s, renamed, runs=1000, seed=4, knobs=_Applier("renamed"))
    d = c.difference("collapse")
    assert not d.exact and d.gained > 0 and d.low < d.diff < d.high


@st.composite
def scenario_pairs(draw):
    """(A, B, runs, seed): B is A with one event probability, one position or its cancellation
    (a new base probability, no trust threshold) changed, so both have the same agents and
    issues. With only the first two, 96 % of the pairs ended alike in every replicate (a
    symmetric joint table, which a comparison that ignored the order of A and B would pass); the
    cancellation moves replicates between collapse and the rest."""
    a = draw(scenario_dicts(max_agents=3, max_issues=2, max_events=3, max_incidents=1))
    b = copy.deepcopy(a)
    change = draw(st.sampled_from(["event", "position", "cancellation"]))
    if change == "cancellation":
        b["summit"]["cancellation"] = {"base_probability": draw(params(0.0, 1.0)), "trust_below": 0.0}
    elif change == "event" and b.get("events"):
        ev = draw(st.sampled_from(b["events"]))
        ev["probability"] = draw(params(0.0, 1.0))
    else:
        agent = draw(st.sampled_from(sorted(b["agents"])))
        issue = draw(st.sampled_from(sorted(b["agents"][agent]["issues"])))
        stance = b["agents"][agent]["issues"][issue]
        lo, hi = stance.get("bounds", [0.0, 1.0])
        stance["position"] = draw(params(lo, hi))
    return scenario_of(a), scenario_of(b), draw(st.integers(1, 2500)), draw(st.integers(0, 2**32))


@settings(max_examples=25)
@given(scenario_pairs())
def test_compare_b_a_is_exactly_the_negative_of_compare_a_b(pair):
    """Swapping A and B negates every difference and mirrors every interval, bit for bit."""
    a, b, runs, seed = pair
    ab, ba = compare(a, b, runs=runs, seed=seed), compare(b, a, runs=runs, seed=seed)
    hypothesis.event(f"asymmetric joint: {not np.array_equal(ab.joint, ab.joint.T)}")
    assert np.array_equal(ab.joint, ba.joint.T)
    for name in GROUPS:
        x, y = ab.difference(name), ba.difference(name)
        assert y.diff == -x.diff and y.low == -x.high and y.high == -x.low
        assert (y.p_a, y.p_b) == (x.p_b, x.p_a)
        assert (y.paired_half_width, y.unpaired_half_width, y.narrowing) == \
            (x.paired_half_width, x.unpaired_half_width, x.narrowing)
        assert (y.gained, y.lost) == (x.lost, x.gained)


def test_paired_difference_edge_cases():
    """One replicate gives an interval most of the range wide; an empty table is refused."""
    joint = np.zeros((4, 4), dtype=np.int64)
    joint[2, 1] = 1
    d = paired_difference(joint, (1,))
    assert d.diff == 1.0 and d.high == 1.0 and d.low < -0.5
    with pytest.raises(ValueError):
        paired_difference(np.zeros((4, 4)), (0,))


def test_an_outcome_that_never_happens_in_either_has_an_unpaired_interval_and_no_narrowing():
    """No replicate has it under A or under B: the unpaired half-width was 0 ("+- 0.0000", as if
    two independent runs knew the difference exactly, and no ratio to show). Adjusted as the
    paired one is (one success and one failure added, Agresti and Caffo), it is as wide as the
    paired interval: pairing gains nothing where nothing happens, 1.0x."""
    from sim.attribution_report import _narrowing

    joint = np.zeros((4, 4), dtype=np.int64)
    joint[1, 1], joint[2, 2] = 700, 300
    d = paired_difference(joint, (0,))
    assert d.diff == 0.0 and d.unpaired_half_width > 0 and d.paired_half_width > 0
    assert d.narrowing == pytest.approx(1.0, abs=1e-3)
    assert _narrowing(d.as_dict()) == "1.0x"


@pytest.mark.parametrize("path", COUNTERFACTUALS, ids=lambda p: p.stem)
def test_pairing_narrows_the_interval_against_the_baseline(path, capsys):
    """For the baseline against each counterfactual, the paired interval of P(substantive
    or better) is narrower than the unpaired one; per class, pairing narrows it exactly
    where the two scenarios' outcomes are positively correlated (ratios printed)."""
    base, other = load_scenario(BASELINE), load_scenario(path)
    c = compare(base, other, runs=16384, seed=11)
    n = c.runs
    ratios = {}
    for name, classes in GROUPS.items():
        d = c.difference(name)
        inside = list(classes)
        cov = c.joint[np.ix_(inside, inside)].sum() / n - d.p_a * d.p_b
        ratios[name] = d.narrowing
        if abs(cov) > 1e-3 and d.paired_half_width > 0:
            assert (d.paired_half_width < d.unpaired_half_width) == (cov > 0), name
    with capsys.disabled():
        shown = ", ".join(f"{k} {'inf (paired width 0)' if r is None else f'{r:.2f}x'}" for k, r in ratios.items())
        print(f"\n{path.stem}: unpaired/paired interval width: {shown}")
    headline = c.difference("substantive_or_better")
    assert headline.diff != 0
    assert headline.paired_half_width < headline.unpaired_half_width


# --- Refusing unpairable scenarios ---------------------------------------------------------------


def test_unpairable_scenarios_are_refused_one_problem_per_kind_of_difference():
    """Different agents, issues or issue anchors are refused, naming both files: one line for
    the agents, listing each side's own once, one for the issues, one per issue's anchors."""
    a = small_dict()
    b = small_dict()
    b["agents"]["ally"] = copy.deepcopy(b["agents"]["patron"])
    b["agents"]["rival"] = copy.deepcopy(b["agents"]["patron"])
    a["agents"]["umpire"] = copy.deepcopy(a["agents"]["patron"])
    b["issues"]["land"]["anchors"]["half"] = 0.25
    with pytest.raises(InputError) as info:
        check_pairable(scenario_of(a), scenario_of(b), "a.yaml", "b.yaml")
    lines = [str(p) for p in info.value.problems]
    assert len(lines) == 2, lines
    assert lines[0] == ("a.yaml vs b.yaml: agents: differ: only in a.yaml: umpire; only in b.yaml: ally, rival; "
                        "pairing needs the same agents and issues (their random streams must line up)")
    assert lines[1].startswith("a.yaml vs b.yaml: issues.land.anchors: differ")
    assert "half: 0.25" in lines[1]


# --- Explaining by events -------------------------------------------------------------------------


@pytest.mark.parametrize("runs", [20, 2048])
def test_one_events_shapley_interval_is_its_removals(runs):
    """With one event, its Shapley value, the values' total and the event's removal effect are the
    same number (v(all) - v(none) on the same replicates), and so are their intervals (to rounding):
    the Shapley interval is centred where Bonett and Price centre the paired one, and kept in [-1, 1]."""
    from sim.attribution import summarise_explanation

    s = scenario_of(small_with_events(event("walkout", effects=[{"target": "cancel", "probability": 0.6}])))
    s = remove_events(s, {e.name for e in s.events} - {"walkout"})
    out = summarise_explanation(explain(s, runs=runs, seed=3, shapley=True), s)
    for metric in ("substantive_or_better", "collapse"):
        removed = out["events"][0]["removed"][metric]
        value = out["shapley"]["metrics"][metric]["values"][0]
        total = out["shapley"]["metrics"][metric]["total"]
        assert value["value"] == -removed["diff"] == total["diff"] != 0
        assert (-removed["high"], -removed["low"]) == (total["low"], total["high"])
        assert (value["low"], value["high"]) == pytest.approx((total["low"], total["high"]), rel=0, abs=1e-14)


def test_without_events_the_shapley_total_is_zero_exactly():
    """No events: v(all) and v(none) are one run of the model, so the total the values share out
    is 0 with the interval [0, 0], not an interval estimated as if two models might differ."""
    from sim.attribution import summarise_explanation

    data = small_dict()
    data["events"] = []
    s = scenario_of(data)
    out = summarise_explanation(explain(s, runs=1024, seed=3, shapley=True), s)
    for metric in out["shapley"]["metrics"].values():
        total = metric["total"]
        assert total["exact"] and (total["diff"], total["low"], total["high"]) == (0.0, 0.0, 0.0)


def test_removing_an_event_of_probability_zero_changes_nothing():
    """An event that never happens leaves every replicate's outcome as it was: removing it
    changes nothing in any replicate (diff 0; the interval, from a finite sample of two
    different models, is narrow around 0), and its Shapley value is exactly 0."""
    effects = [{"target": "trust", "shift": 0.3}, {"target": "salience", "agent": "north", "issue": "land",
                                                   "shift": 0.2}, {"target": "cancel", "probability": 0.5}]
    s = scenario_of(small_with_events(event("never", probability=0.0, effects=effects)))
    c = compare(s, remove_events(s, {"never"}), runs=4096, seed=2)
    assert np.count_nonzero(c.joint - np.diag(np.diag(c.joint))) == 0
    assert all(d.diff == 0.0 and -0.001 < d.low < 0 < d.high < 0.001 for d in c.differences().values())
    e = explain(s, runs=4096, seed=2, shapley=True)
    (row,) = [ef for ef in e.effects if ef.name == "never"]
    assert np.array_equal(row.removed.joint, c.joint)
    k = e.shapley.events.index("never")
    assert all(e.shapley.sums[m][k] == 0 for m in e.shapley.sums)
    # 0 in every replicate of a finite sample is not 0 for certain: about 3 / n each side
    assert all(0 < e.shapley.half_widths(m)[k] < 3 / 4096 for m in e.shapley.sums)


def test_each_removal_is_the_comparison_with_the_scenario_without_it():
    """explain's row for an event is exactly `compare(scenario, scenario without it)`, and
    the rows come largest change in P(substantive or better) first."""
    s = scenario_of(small_with_events(event("thaw", 0.7), event("spat", 0.5, [{"target": "trust",
                                                                               "shift": -0.2}])))
    e = explain(s, runs=3072, seed=4)
    for ef in e.effects:
        assert np.array_equal(ef.removed.joint, compare(s, remove_events(s, {ef.name}), runs=3072, seed=4).joint)
    sizes = [abs(ef.change("substantive_or_better").diff) for ef in e.effects]
    assert sizes == sorted(sizes, reverse=True)
    assert e.counts.tolist() == run_replicates(s, runs=3072, seed=4).counts.tolist()


def test_an_events_effect_is_the_comparison_of_the_scenario_without_it_against_it():
    """`EventEffect.effect(group)` is the event's effect as the tables print it, P with it - P
    without it: exactly `compare(without, scenario)`, the removal (`change`) mirrored, so that a
    library user need not flip the sign of `change` (P without - P with) to read an effect."""
    s = scenario_of(small_with_events(event("thaw", 0.7)))
    e = explain(s, runs=3072, seed=4)
    (thaw,) = [ef for ef in e.effects if ef.name == "thaw"]
    back = compare(remove_events(s, {"thaw"}), s, runs=3072, seed=4)
    for group in GROUPS:
        effect, change = thaw.effect(group), thaw.change(group)
        assert effect == back.difference(group)
        assert (effect.diff, effect.low, effect.high, effect.p_a, effect.p_b) == (
            -change.diff, -change.high, -change.low, change.p_b, change.p_a)
    assert thaw.effect("substantive_or_better").diff != 0
    with pytest.raises(InputError, match="must be one of"):
        thaw.effect("deal")


def test_a_counterfactual_file_gives_the_same_figures_as_explain():
    """no_matua_base.yaml (the baseline minus one event) is explain's row for that event."""
    base = load_scenario(BASELINE)
    derived = load_scenario(ROOT / "scenarios" / "counterfactuals" / "no_matua_base.yaml")
    assert derived.events == remove_events(base, {"matua_base_plan"}).events
    c = compare(base, derived, runs=2048, seed=8)
    assert np.array_equal(c.joint, compare(base, remove_events(base, {"matua_base_plan"}), runs=2048,
                                           seed=8).joint)


@pytest.mark.parametrize("method", ["exact", "sampled"])
def test_shapley_values_are_efficient(method):
    """The Shapley values sum to P(all events) - P(no events), exactly (held in integers),
    and those two are exactly the runs of the scenario and of it without its events."""
    s = scenario_of(small_with_events(event("thaw", 0.7), event("spat", 0.5, [{"target": "trust",
                                                                               "shift": -0.2}])))
    runs = 3000
    sh = shapley_values(compile_model(s), 6, runs, method=method, blocks_per_chunk=2)
    every = run_replicates(s, runs=runs, seed=6).counts
    none = run_replicates(remove_events(s, {e.name for e in s.events}), runs=runs, seed=6).counts
    for metric, classes in (("substantive_or_better", [0, 1]), ("collapse", [3])):
        all_count, none_count = int(every[classes].sum()), int(none[classes].sum())
        assert int(sh.none_all[metric][:, 1].sum()) == all_count
        assert int(sh.none_all[metric][1].sum()) == none_count
        assert int(sh.sums[metric].sum()) == sh.scale * (all_count - none_count)
        assert sh.values(metric).sum() == pytest.approx(sh.total(metric).diff, abs=1e-12)
    assert sh.passes == (2**3 if method == "exact" else 4)


def test_shapley_values_are_symmetric_for_identical_events():
    """Two events that do the same thing on the same day get exactly the same value."""
    twin = [{"target": "trust", "shift": 0.15}, {"target": "position", "agent": "south", "issue": "land",
                                                "shift": 0.2}]
    s = scenario_of(small_with_events(event("twin_a", effects=twin), event("twin_b", effects=twin)))
    sh = shapley_values(compile_model(s), 12, 4096, method="exact")
    a, b = sh.events.index("twin_a"), sh.events.index("twin_b")
    for metric in sh.sums:
        assert sh.sums[metric][a] == sh.sums[metric][b]
    assert sh.sums["substantive_or_better"][a] != 0  # the test has teeth


def test_sampled_shapley_agrees_with_exact_within_its_interval():
    """Sampled orders estimate the exact values without bias: within 4 of their standard
    errors, and the orders do not depend on the chunk size."""
    s = scenario_of(small_with_events(event("thaw", 0.7), event("spat", 0.5, [{"target": "trust",
                                                                               "shift": -0.2}])))
    model = compile_model(s)
    exact = shapley_values(model, 21, 8192, method="exact")
    sampled = shapley_values(model, 21, 8192, method="sampled", blocks_per_chunk=3)
    again = shapley_values(model, 21, 8192, method="sampled", blocks_per_chunk=8)
    for metric in exact.sums:
        assert np.array_equal(sampled.sums[metric], again.sums[metric])
        gap = np.abs(sampled.values(metric) - exact.values(metric))
        assert np.all(gap <= 4 * sampled.half_widths(metric) / 1.96 + 1e-12)


def test_shapley_plan_is_exact_up_to_twelve_events_and_within_budget():
    """Exact enumeration up to 12 events, sampled orders above; default replicates capped."""
    assert shapley_plan(3, 100_000) == ("exact", 100_000, 8)
    assert shapley_plan(12, 100_000) == ("exact", 1024, 4096)
    assert shapley_plan(15, 100_000) == ("sampled", 100_000, 16)
    assert shapley_plan(15, 10**7)[1] * 16 <= 4_000_000
    assert shapley_plan(15, 100, shapley_runs=50, method="exact") == ("exact", 50, 2**15)
    for bad in (0, 10**9 + 1, 2.5, True):  # as many replicates as a run may have, at most
        with pytest.raises(InputError, match="shapley_runs"):
            shapley_plan(15, 100, shapley_runs=bad)


# --- Derived scenario files --------------------------------------------------------------------------


def write(path: Path, data) -> Path:
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path


def test_extends_set_and_remove_events_derive_a_scenario(tmp_path):
    """A derived file is its base with the other top-level keys replaced, events removed
    and fields set, exactly as if the change had been written into a copy."""
    write(tmp_path / "base.yaml", small_dict())
    (tmp_path / "sub").mkdir()
    derived = write(tmp_path / "sub" / "d.yaml", {
        "extends": "../base.yaml", "name": "derived", "remove_events": ["talks"],
        "set": {"agents.south.resolve": 0.9, "incidents.clash.rate_per_month": 0.1},
    })
    expect = small_dict()
    expect.update(name="derived", events=[])
    expect["agents"]["south"]["resolve"] = 0.9
    expect["incidents"][0]["rate_per_month"] = 0.1
    assert load_scenario(derived) == scenario_of(expect)


def test_counterfactual_files_are_small_changes_of_the_baseline():
    """Each counterfactual validates, says its question in a leading comment, extends the
    baseline (directly or through another counterfactual) and can be paired with it."""
    assert len(COUNTERFACTUALS) >= 5
    base = load_scenario(BASELINE)
    for path in COUNTERFACTUALS:
        text = path.read_text()
        assert text.startswith("# Counterfactual:"), path.name
        data = yaml.safe_load(text)
        assert set(data) <= {"extends", "name", "title", "set", "remove_events"}, path.name
        s = load_scenario(path)
        assert s.name == path.stem
        check_pairable(base, s)
        assert s != base.model_copy(update={"name": s.name, "title": s.title})


DERIVATION_ERRORS = {  # case: (derived file's extra keys, expected path, words in the message)
    "unknown event": ({"remove_events": ["talks", "nope"]}, "remove_events.1", "no such event; known: talks"),
    "remove not a list": ({"remove_events": "talks"}, "remove_events", "must be a list of event names"),
    "unknown set path": ({"set": {"agents.nobody.resolve": 0.5}}, "set.agents.nobody.resolve", "no such field"),
    "set not a mapping": ({"set": ["x"]}, "set", "must be a mapping"),
    "set breaks a rule": ({"set": {"events.talks.probability": 1.5}}, "events.0.probability", "must be in"),
    "missing base": ({"extends": "missing.yaml"}, "extends", "cannot read"),
    "base not a mapping": ({"extends": "list.yaml"}, "extends", "is not a YAML mapping"),
    "base bad YAML": ({"extends": "broken.yaml"}, "extends", "is not valid YAML"),
    "extends not a path": ({"extends": 3}, "extends", "must be the path of a scenario file"),
    "missing include": ({"include": "missing.yaml"}, "include", "missing.yaml: No such file or directory"),
    "set one field twice": ({"set": {"events.talks.probability": 0.5, "events.0.probability": 0.6}},
                            "set.events.0.probability", "names the same field as set.events.talks.probability"),
    "set a field and a part": ({"set": {"monte_carlo": {"runs": 10}, "monte_carlo.runs": 5}}, "set.monte_carlo.runs",
                               "overlaps (a field and a part of it) set.monte_carlo: set each field once"),
    "set no field": ({"set": {"bogus": 1}}, "set.bogus", "no such field in a scenario"),
    "set a derivation key": ({"set": {"include": "x.yaml"}}, "set.include", "is not a field: write `include:`"),
}


@pytest.mark.parametrize("case", DERIVATION_ERRORS)
def test_derivation_errors_name_the_derived_file(tmp_path, case):
    """Problems of a derived file name it, with the path of the key at fault."""
    extra, path, words = DERIVATION_ERRORS[case]
    write(tmp_path / "base.yaml", small_dict())
    write(tmp_path / "list.yaml", "- 1\n- 2\n")
    write(tmp_path / "broken.yaml", "name: [x\n")
    derived = write(tmp_path / "derived.yaml", {"extends": "base.yaml", "name": "derived", **extra})
    with pytest.raises(InputError) as info:
        load_scenario(derived)
    lines = [str(p) for p in info.value.problems]
    assert any(line.startswith(f"{derived}: {path}: ") and words in line for line in lines), lines


def test_an_unknown_event_to_remove_is_reported_with_the_files_other_problems(tmp_path):
    """A derived file with a misspelt `remove_events` name, a misspelt `set` key and a value out
    of range: every problem at once (the README: "the problems of a file are reported
    together"), not the misspelt event alone, then the next on the next try."""
    write(tmp_path / "base.yaml", small_dict())
    derived = write(tmp_path / "derived.yaml", {"extends": "base.yaml", "name": "derived",
                                                "remove_events": ["talk"],
                                                "set": {"agents.south.resolve": 1.5}})
    with pytest.raises(InputError) as info:
        load_scenario(derived)
    assert [str(p) for p in info.value.problems] == [
        f"{derived}: remove_events.0: no such event; known: talks (got 'talk')",
        f"{derived}: agents.south.resolve: must be in [0, 1] (got 1.5)"]
    write(derived, {"extends": "base.yaml", "name": "derived", "remove_events": ["talk"],
                    "set": {"agents.nobody.resolve": 0.5}})
    with pytest.raises(InputError) as info:
        load_scenario(derived)
    assert [p.path for p in info.value.problems] == ["remove_events.0", "set.agents.nobody.resolve"]


def test_a_set_that_is_not_a_mapping_gives_an_example_from_the_scenario(tmp_path):
    """`set:` written as a list is one error whose example names an agent of the scenario it
    derives (small.yaml's north), not the baseline's russia."""
    write(tmp_path / "base.yaml", small_dict())
    derived = write(tmp_path / "derived.yaml", {"extends": "base.yaml", "name": "derived",
                                                "set": ["agents.north.resolve", 0.3]})
    with pytest.raises(InputError) as info:
        load_scenario(derived)
    (problem,) = info.value.problems
    assert problem.path == "set" and "e.g. {agents.north.resolve: 0.8}" in problem.message, problem.message


def test_a_cycle_of_extends_is_an_error(tmp_path):
    """a extends b extends a: refused, naming the chain, not a recursion error."""
    write(tmp_path / "a.yaml", {"extends": "b.yaml", "name": "a"})
    write(tmp_path / "b.yaml", {"extends": "a.yaml", "name": "b"})
    with pytest.raises(InputError) as info:
        load_scenario(tmp_path / "a.yaml")
    (problem,) = info.value.problems
    assert problem.path == "extends" and "makes a cycle" in problem.message
    assert str(tmp_path / "a.yaml") in problem.message


@pytest.mark.parametrize("content, path, words", [
    ("events.talks.probability: 0.5\nevents.0.probability: 0.6\n", "events.0.probability",
     "names the same field as events.talks.probability: set each field once (included by "),
    ("agents.south.resolve: 0.4\nagents.south.resolve.mean: 0.3\n", "agents.south.resolve.mean",
     "overlaps (a field and a part of it) agents.south.resolve"),
    ("bogus.x: 1\n", "bogus.x", "no such field in a scenario"),
])
def test_an_included_file_follows_the_rules_of_set(tmp_path, content, path, words):
    """An included file that sets one field twice, a field and a part of it, or no field of a scenario: one
    line naming the included file, the path and the file that includes it."""
    write(tmp_path / "base.yaml", small_dict())
    write(tmp_path / "inc.yaml", content)
    derived = write(tmp_path / "derived.yaml", {"extends": "base.yaml", "name": "derived", "include": "inc.yaml"})
    with pytest.raises(InputError) as info:
        load_scenario(derived)
    (line,) = [str(p) for p in info.value.problems]
    assert line.startswith(f"{tmp_path / 'inc.yaml'}: {path}: ") and words in line, line
    assert str(derived) in line


@pytest.mark.parametrize("include", ["derived.yaml", "base.yaml", "other.yaml"])
def test_an_included_scenario_file_is_refused_so_includes_cannot_loop(tmp_path, include):
    """A file that includes itself, or includes a scenario file (one with `extends:` or `include:`), is one
    line saying to use `extends`, not an `unknown key` error nor a loop."""
    write(tmp_path / "base.yaml", {**small_dict(), "include": "other.yaml"})
    write(tmp_path / "other.yaml", {"include": "derived.yaml"})
    derived = write(tmp_path / "derived.yaml", {"extends": "base.yaml", "name": "derived", "include": include})
    with pytest.raises(InputError) as info:
        load_scenario(derived)
    (line,) = [str(p) for p in info.value.problems]
    assert "is a scenario file (it has `include:`)" in line and "use extends" in line, line


def test_paths_are_relative_to_the_file_that_names_them_through_a_chain_of_extends(tmp_path):
    """top extends mid (another folder), which extends base and includes a file beside mid: each path is
    resolved from the file that names it, and the fields set down the chain all arrive."""
    write(tmp_path / "base.yaml", small_dict())
    (tmp_path / "lib").mkdir()
    (tmp_path / "cases").mkdir()
    write(tmp_path / "lib" / "rate.yaml", "dynamics.rate: 0.25\n")
    write(tmp_path / "lib" / "mid.yaml", {"extends": "../base.yaml", "name": "mid", "include": "rate.yaml",
                                          "set": {"agents.south.resolve": 0.7}})
    top = write(tmp_path / "cases" / "top.yaml", {"extends": "../lib/mid.yaml", "name": "top",
                                                  "set": {"agents.south.resolve": 0.8}})
    s = load_scenario(top)
    assert (s.name, s.dynamics.rate, s.agents["south"].resolve) == ("top", 0.25, 0.8)


def test_a_problem_names_the_file_that_wrote_the_field(tmp_path):
    """A bad value in a base is reported against the base (by a path without `..`), not against a file that
    extends it and never mentions that field; a value from an included file against that file; a rule broken
    by a file's `set:` against that file; a field the derived file writes whole hides the base's value."""
    bad = small_dict()
    bad["agents"]["south"]["resolve"] = 1.5
    bad["dynamics"] = {"rate": 0.2}
    write(tmp_path / "base.yaml", bad)
    (tmp_path / "cases").mkdir()
    write(tmp_path / "cases" / "rate.yaml", "dynamics.rate: 1.2\n")
    derived = write(tmp_path / "cases" / "d.yaml", {"extends": "../base.yaml", "name": "d", "include": "rate.yaml",
                                                   "set": {"agents.north.issues.land.salience": 0.6}})
    with pytest.raises(InputError) as info:
        load_scenario(derived)
    assert sorted(str(p) for p in info.value.problems) == sorted([
        f"{tmp_path / 'base.yaml'}: agents.south.resolve: must be in [0, 1] (got 1.5)",
        f"{tmp_path / 'cases' / 'rate.yaml'}: dynamics.rate: must be in [0, 1] (got 1.2)"])
    good = small_dict()["agents"]
    fixed = write(tmp_path / "cases" / "e.yaml", {"extends": "../base.yaml", "name": "e", "agents": good,
                                                 "set": {"agents.north.issues.land.salience": 0.6}})
    with pytest.raises(InputError) as info:
        load_scenario(fixed)
    assert [str(p) for p in info.value.problems] == [
        f"{fixed}: agents.north.issues: saliences must sum to 1 (their means, where drawn) (got 0.9)"]


def test_parse_scenario_resolves_extends_from_the_current_directory(tmp_path, monkeypatch):
    """Text without a file resolves `extends` relative to the current directory."""
    write(tmp_path / "base.yaml", small_dict())
    monkeypatch.chdir(tmp_path)
    assert parse_scenario("extends: base.yaml\nname: other\n").name == "other"


# --- The commands -------------------------------------------------------------------------------------


def main_json(capsys, *argv: str) -> dict:
    assert cli.main(list(argv)) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def test_cli_compare_json_and_result_directory(tmp_path, capsys):
    """`compare --json` prints per class p_a, p_b and `diff` with its interval, and writes
    summary.json and compare.png; --set-b changes B only, --set both."""
    out = tmp_path / "cmp"
    s = main_json(capsys, "compare", str(SMALL), str(SMALL), "--runs", "2048", "--seed", "3", "--json",
                  "--set-b", "events.talks.probability=0", "--out", str(out))
    assert set(s["classes"]) == set(CLASSES)
    for entry in (*s["classes"].values(), *s["headline"].values()):
        assert {"p_a", "p_b", "diff", "low", "high", "unpaired_half_width", "narrowing"} <= set(entry)
    assert s["headline"]["substantive_or_better"]["diff"] < 0
    assert s["runs"] == 2048 and s["seed_entropy"] == 3
    assert sorted(p.name for p in out.iterdir()) == [".sim-manifest.json", "compare.png", "summary.json"]
    assert json.loads((out / "summary.json").read_text())["classes"] == s["classes"]

    same = main_json(capsys, "compare", str(SMALL), str(SMALL), "--runs", "2048", "--json",
                     "--set", "events.talks.probability=0", "--out", str(tmp_path / "same"))
    assert all(e["diff"] == 0 and e["low"] == e["high"] == 0 for e in same["classes"].values())


def test_cli_compare_prints_the_table(tmp_path, capsys):
    """Without --json: the table with P(A), P(B), B - A, the paired interval and the narrowing."""
    assert cli.main(["compare", str(SMALL), str(SMALL), "--runs", "1024", "--out", str(tmp_path / "c")]) == 0
    out = capsys.readouterr().out
    flat = " ".join(out.split())  # the title wraps at the console's width
    for words in ("P(A)", "P(B)", "B - A", "paired", "narrower", "[0, 0] exactly", "substantive or better",
                  "1,024 replicates of each", "95 % Monte Carlo interval, Wilson", "A: small (side A)"):
        assert words in flat
    summary = json.loads((tmp_path / "c" / "summary.json").read_text())
    for e in (*summary["classes"].values(), summary["headline"]["substantive_or_better"]):
        for side in ("a", "b"):  # every P printed with its interval, as `run` prints it
            low, high = e[f"p_{side}_interval"]
            assert f"{e[f'p_{side}']:.3f} [{low:.3f}, {high:.3f}]" in out
    assert max(len(line) for line in out.splitlines() if "│" in line) <= 120


def test_cli_compare_refuses_unpairable_scenarios(tmp_path, capsys):
    """Scenarios with different agents exit 2 with one line naming the agents only one has, and write nothing."""
    data = small_dict()
    data["agents"]["ally"] = copy.deepcopy(data["agents"]["patron"])
    other = write(tmp_path / "other.yaml", data)
    status = cli.main(["compare", str(SMALL), str(other), "--runs", "1024", "--out", str(tmp_path / "out")])
    assert status == 2
    err = capsys.readouterr().err
    assert err.strip() == (f"error: {SMALL} vs {other}: agents: differ: only in {other}: ally; pairing needs the "
                           "same agents and issues (their random streams must line up)")
    assert not (tmp_path / "out").exists()


def test_cli_compare_of_unrelated_scenarios_says_so_in_one_line_per_kind(tmp_path, capsys):
    """Two scenarios of different summits differ in every agent and issue: one line for the
    agents and one for the issues, each naming every agent or issue once, not a line for each."""
    camp_david = ROOT / "scenarios" / "examples" / "camp_david_1978.yaml"
    status = cli.main(["compare", str(BASELINE), str(camp_david), "--runs", "1000", "--out", str(tmp_path / "out")])
    assert status == 2
    err = capsys.readouterr().err.splitlines()
    errors = [line for line in err if line.startswith("error: ")]
    assert errors == err  # only the refusal: no note on how the two would have been paired
    why = "; pairing needs the same agents and issues (their random streams must line up)"
    assert errors == [
        f"error: {BASELINE} vs {camp_david}: agents: differ: only in {BASELINE}: g7, japan, russia; only in "
        f"{camp_david}: arab_states, egypt, israel, knesset{why}",
        f"error: {BASELINE} vs {camp_david}: issues: differ: only in {BASELINE}: energy, islands, sanctions; only in "
        f"{camp_david}: palestinians, peace, sinai{why}"]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("argv, words", [
    (["--set", "agents.north.resolve=2"], "agents.north.resolve"),
    (["--set", "nonsense"], "must be PATH=VALUE"),
    (["--set-b", "agents.nobody.resolve=0.5"], "error: --set-b: agents.nobody.resolve: no such field"),
    (["--set-b", "summit.bargaining.margin=2"],
     f"error: {SMALL} (scenario B, --set-b): summit.bargaining.margin: must be in [0, 1] (got 2)"),
    (["--set-a", "margin"], "error: --set-a: must be PATH=VALUE (got 'margin')"),
    (["--runs", "0"], "--runs: must be >= 1"),
    (["--runs", "10" + "0" * 22], "--runs: must be at most 1,000,000,000"),  # once waited forever
])
def test_cli_compare_bad_options_exit_2(tmp_path, capsys, argv, words):
    """Bad overrides and options are input errors: exit 2, no traceback, nothing written."""
    assert cli.main(["compare", str(SMALL), str(SMALL), *argv, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_cli_compare_says_on_which_side_a_problem_is(tmp_path, capsys):
    """A and B are often one file: a problem of --set is reported once for each side, naming it
    and the option, as `run` names --set; so is one of --set-b at a list item given by its name."""
    argv = ["compare", str(SMALL), str(SMALL), "--set", "summit.bargaining.margin=2", "--out", str(tmp_path / "o")]
    assert cli.main(argv) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"error: {SMALL} (scenario {side}, --set): summit.bargaining.margin: must be in [0, 1] (got 2)"
        for side in "AB"]
    argv = ["compare", str(SMALL), str(SMALL), "--set-b", "events.talks.date=2020-05-01", "--out", str(tmp_path / "o")]
    assert cli.main(argv) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"error: {SMALL} (scenario B, --set-b): events.0.date: event talks: is after the latest summit date "
        "(2020-04-01) (got '2020-05-01')"]


def test_cli_compare_notes_that_b_monte_carlo_settings_are_not_used(tmp_path, capsys):
    """Both sides run on A's monte_carlo: settings; a B asking for others is told so on stderr,
    once per field not set by an option, and nothing is said when they agree or an option decides."""
    data = small_dict()
    data["monte_carlo"] = {**data.get("monte_carlo", {}), "runs": 1024, "seed": 7}
    b = write(tmp_path / "b.yaml", data)
    base = ["compare", str(SMALL), str(b), "--quiet"]
    assert cli.main([*base, "--runs", "1024", "--out", str(tmp_path / "o1")]) == 0
    err = capsys.readouterr().err
    assert "note: B's monte_carlo: (seed 7) is not used: both sides run on A's settings" in err, err
    summary = json.loads((tmp_path / "o1" / "summary.json").read_text())
    assert summary["seed_entropy"] != 7
    assert cli.main([*base, "--runs", "1024", "--seed", "3", "--out", str(tmp_path / "o2")]) == 0
    assert "note:" not in capsys.readouterr().err


def test_cli_explain_json_and_pictures(tmp_path, capsys):
    """`explain --shapley --json` lists each event's removal and the Shapley values, which
    sum to the total; explain.png and shapley.png are written."""
    data = small_with_events(event("thaw", 0.7))
    path = write(tmp_path / "two.yaml", data)
    out = tmp_path / "ex"
    s = main_json(capsys, "explain", str(path), "--runs", "2048", "--seed", "1", "--shapley", "--json",
                  "--out", str(out))
    assert [e["name"] for e in s["events"]] and all("diff" in e["removed"]["substantive_or_better"]
                                                    for e in s["events"])
    sh = s["shapley"]
    assert sh["method"] == "exact" and sh["runs"] == 2048 and sh["runs_per_replicate"] == 4
    for metric in ("substantive_or_better", "collapse"):
        m = sh["metrics"][metric]
        assert sum(v["value"] for v in m["values"]) == pytest.approx(m["total"]["diff"], abs=1e-12)
    assert sorted(p.name for p in out.iterdir()) == [".sim-manifest.json", "explain.png", "shapley.png",
                                                      "summary.json"]


def test_explains_summary_gives_each_events_effect_with_the_sign_the_table_prints(tmp_path, capsys):
    """The table and the charts show an event's effect, P with it - P without it; summary.json's
    `removed` holds the removal's difference, the opposite sign, which a script reading `diff` took
    for the effect. Each event also carries `effect`: P with it (`p_with`) - P without it (`p_without`)
    and its paired interval, per outcome, as printed: the same numbers as running the scenario
    without the event (`compare` of the scenario and its removal, B - A mirrored)."""
    data = small_with_events(event("thaw", 0.7))
    path = write(tmp_path / "two.yaml", data)
    s = main_json(capsys, "explain", str(path), "--runs", "2048", "--seed", "1", "--json", "--out",
                  str(tmp_path / "ex"))
    without = write(tmp_path / "without.yaml", {**data, "events": [e for e in data["events"] if e["name"] != "thaw"]})
    c = main_json(capsys, "compare", str(path), str(without), "--runs", "2048", "--seed", "1", "--json", "--out",
                  str(tmp_path / "c"))
    (thaw,) = [e for e in s["events"] if e["name"] == "thaw"]
    for group in ("substantive_or_better", "collapse"):
        effect, removal = thaw["effect"][group], c["headline"][group]
        assert effect["diff"] == -removal["diff"] != 0
        assert (effect["low"], effect["high"]) == (-removal["high"], -removal["low"])
        assert (effect["p_with"], effect["p_without"]) == (removal["p_a"], removal["p_b"])
        assert effect["diff"] == pytest.approx(effect["p_with"] - effect["p_without"], abs=1e-12)
    assert cli.main(["explain", str(path), "--runs", "2048", "--seed", "1", "--out", str(tmp_path / "ex2")]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if "│ thaw" in line)
    assert f"{thaw['effect']['substantive_or_better']['diff']:+.4f}" in row


def test_cli_explain_prints_the_tables(tmp_path, capsys):
    """Without --json: the removal table, and with --shapley the Shapley table and how it was computed."""
    argv = ["explain", str(SMALL), "--runs", "1024", "--shapley", "--set", "events.talks.probability=0.5",
            "--out", str(tmp_path / "e")]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    for words in ("Each event removed", "talks", "Shapley values", "exact over all 2^1 = 2 coalitions",
                  "all - none", "1,024 replicates per removal", "(1,024 replicates; 95 % Monte Carlo intervals"):
        assert words in out
    summary = json.loads((tmp_path / "e" / "summary.json").read_text())
    c = summary["classes"]
    assert f"P(substantive or better) = {shown(c['substantive_or_better'])}" in out
    assert f"P(collapse) = {shown(c['collapse'])}" in out
    for metric in ("substantive_or_better", "collapse"):
        m = summary["shapley"]["metrics"][metric]
        assert shown(m["no_events"]) in _row(out, "no events") and shown(m["all_events"]) in _row(out, "all events")


def test_cli_explain_of_a_scenario_without_events_says_there_is_nothing_to_attribute(tmp_path, capsys):
    """A scenario with no scheduled events (as many of scenarios/history) prints its forecast and
    why nothing is attributed, not empty tables; the summary and the picture are still written."""
    data = small_dict()
    data["events"] = []
    path = write(tmp_path / "quiet.yaml", data)
    assert cli.main(["explain", str(path), "--runs", "1024", "--shapley", "--out", str(tmp_path / "e")]) == 0
    out = capsys.readouterr().out
    assert "with no scheduled events (1,024 replicates" in out and "nothing to attribute" in out
    assert "Each event removed" not in out and "Shapley values" not in out and "┏" not in out
    assert "1,024 replicates, seed entropy" in out and "per removal" not in out and "results: " in out
    assert (tmp_path / "e" / "summary.json").exists() and (tmp_path / "e" / "explain.png").exists()


def test_cli_explain_names_the_events_whose_removal_changed_no_replicate(tmp_path, capsys):
    """An event that never fires (probability 0) or whose effect reaches nothing the outcome
    depends on changes no replicate when removed: its row reads +0.000 with an interval only
    as wide as the replicates allow, which reads like a small estimated effect. explain says
    which events changed no replicate at all, and not the event that did change some."""
    data = small_with_events(event("never", probability=0.0), event("idle", effects=[{"target": "trust", "shift": 0.0}]))
    path = write(tmp_path / "s.yaml", data)
    assert cli.main(["explain", str(path), "--runs", "1024", "--out", str(tmp_path / "e")]) == 0
    out = capsys.readouterr().out
    summary = json.loads((tmp_path / "e" / "summary.json").read_text())
    moved = [ev["name"] for ev in summary["events"]
             if any(d["gained"] or d["lost"] for d in ev["removed"].values())]
    assert moved == ["talks"], summary["events"]  # the small scenario's own event does move some
    note = next(line for line in out.splitlines() if "changed no replicate" in line)
    assert "never" in note and "idle" in note and "talks" not in note, note
    assert note.startswith(("idle and never: removing each", "never and idle: removing each")), note


@pytest.mark.parametrize("n_events, phrase", [(1, "with its one scheduled event"),
                                               (2, "with both scheduled events"),
                                               (3, "with all 3 scheduled events")])
def test_cli_explain_counts_its_events_and_replicates_in_words(n_events, phrase, tmp_path, capsys):
    """The headline names the events as one would say them ("both", never "all 2"), and a count
    of one replicate is singular in every line of explain and of compare."""
    data = small_with_events(*(event(f"extra{k}") for k in range(n_events - 1)))
    path = write(tmp_path / "s.yaml", data)
    assert cli.main(["explain", str(path), "--runs", "1", "--shapley", "--out", str(tmp_path / "e")]) == 0
    out = capsys.readouterr().out
    assert f"{phrase} (1 replicate; 95 % Monte Carlo intervals" in out, out
    assert "1 replicate per removal" in out and "1 replicate x " in out, out
    assert "1 replicates" not in out and "all 1 " not in out and "all 2 " not in out, out
    assert cli.main(["compare", str(path), str(path), "--set-b", "summit.bargaining.margin=0.1", "--runs", "1",
                     "--out", str(tmp_path / "c")]) == 0
    out = capsys.readouterr().out
    assert "same 1 replicate, paired" in out and "1 replicate of each" in out, out
    assert "1 replicates" not in out, out


def shown(e: dict) -> str:
    """A probability with its interval, as `run` prints it."""
    return f"{e['p']:.3f} [{e['low']:.3f}, {e['high']:.3f}]"


def _row(text: str, label: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(f"│ {label} "))


@pytest.mark.parametrize("argv, words", [
    (["--shapley-runs", "100"], "--shapley-runs: applies only with --shapley"),
    (["--shapley", "--shapley-runs", "0"], "--shapley-runs: must be >= 1"),
    (["--shapley", "--shapley-runs", "1e10"], "--shapley-runs: must be at most 1,000,000,000"),  # ran for days
    (["--set", "events.nope.probability=0"], "no such field"),
])
def test_cli_explain_bad_options_exit_2(tmp_path, capsys, argv, words):
    assert cli.main(["explain", str(SMALL), "--runs", "1024", *argv, "--out", str(tmp_path / "o")]) == 2
    assert words in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_cli_explain_reports_every_bad_size_at_once(tmp_path, capsys):
    """A bad --runs and a bad --shapley-runs are both reported, not the first alone."""
    argv = ["explain", str(SMALL), "--runs", "0", "--shapley", "--shapley-runs", "1e10", "--out", str(tmp_path / "o")]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "--runs: must be >= 1" in err and "--shapley-runs: must be at most 1,000,000,000" in err
    assert not (tmp_path / "o").exists()


def test_cli_validate_accepts_every_counterfactual(capsys):
    """`sim validate scenarios/counterfactuals/*.yaml` passes."""
    assert cli.main(["validate", *map(str, COUNTERFACTUALS)]) == 0
    assert capsys.readouterr().out.count("ok: ") == len(COUNTERFACTUALS)


@pytest.mark.slow
def test_explain_baseline_shapley_sums_to_the_total():
    """The baseline's 15 events: sampled Shapley values at the default plan are efficient.
    (How long it takes is the README's to report, not a test's to assert.)"""
    e = explain(load_scenario(BASELINE), shapley=True)
    sh = e.shapley
    assert sh.method == "sampled" and len(sh.events) == 15
    for metric in sh.sums:
        c = sh.none_all[metric]
        assert int(sh.sums[metric].sum()) == int(c[:, 1].sum()) - int(c[1].sum())


def test_two_sides_of_one_name_are_told_apart_in_the_table(tmp_path, capsys):
    """A counterfactual that kept its base's `name` (or one file with --set-b): the table says
    which side is which, by file or by side, not "A: x  B: x"."""
    from sim.attribution_report import _sides

    same = {"a": {"scenario": "x", "file": "a.yaml"}, "b": {"scenario": "x", "file": "b.yaml"}}
    assert _sides(same) == ("x (a.yaml)", "x (b.yaml)")
    one_file = {"a": {"scenario": "x", "file": "a.yaml"}, "b": {"scenario": "x", "file": "a.yaml"}}
    assert _sides(one_file) == ("x (side A)", "x (side B)")
    assert _sides({"a": {"scenario": "x"}, "b": {"scenario": "y"}}) == ("x", "y")
    set_b = {**one_file, "overrides": {"b": ["dynamics.engine=eum"]}}
    assert _sides(set_b) == ("x (as is)", "x (--set-b dynamics.engine=eum)")


@pytest.mark.parametrize("command", ["explain", "compare"])
def test_stopped_before_any_replicate_exits_130_and_writes_nothing(command, tmp_path, capsys, monkeypatch):
    """Ctrl-C before the first chunk finishes: exit 130, no result directory, no traceback
    (explain used to rank its zero-replicate effects and fail)."""
    import contextlib
    import threading

    @contextlib.contextmanager
    def pressed_at_once():
        stop = threading.Event()
        stop.set()
        yield stop

    monkeypatch.setattr("sim.cli.paired.stop_on_interrupt", pressed_at_once)
    s = scenario_of(small_with_events(event("thaw", 0.7)))
    assert explain(s, runs=2048, seed=1, stop=pressed_at_once().__enter__()).runs == 0
    out = tmp_path / "out"
    files = [str(SMALL)] * (2 if command == "compare" else 1)
    assert cli.main([command, *files, "--runs", "2048", "--out", str(out)]) == 130
    assert "nothing written" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_explain_stopped_as_the_shapley_values_begin_has_none_and_says_so():
    """A stop that lands between the removals and the first Shapley chunk keeps the removals,
    marks the explanation interrupted and holds no Shapley values (not values over 0
    replicates, which divided by zero)."""
    import threading

    s = scenario_of(small_with_events(event("thaw", 0.7), event("spat", 0.5)))
    stop = threading.Event()

    def progress(done, total):
        if done >= 2048 * 3:  # the scenario and its two removals: the Shapley values come next
            stop.set()

    e = explain(s, runs=2048, seed=1, shapley=True, progress=progress, stop=stop)
    assert e.runs == 2048 and e.shapley is None and e.interrupted
    assert len(e.effects) == len(s.events)


def test_compare_warns_when_b_changes_nothing(tmp_path, capsys):
    """A counterfactual that restates its base (a new name, a `set:` to the value it had):
    a warning that every difference will be 0; a real change runs without one."""
    base = yaml.safe_load(SMALL.read_text(encoding="utf-8"))
    same = tmp_path / "same.yaml"
    same.write_text(yaml.safe_dump({"extends": str(SMALL), "name": "restated", "title": "no change",
                                    "set": {"agents.south.resolve": base["agents"]["south"]["resolve"]}}),
                    encoding="utf-8")
    argv = ["compare", str(SMALL), str(same), "--runs", "1024", "--quiet", "--scenario-root", str(SMALL.parent)]
    assert cli.main([*argv, "--out", str(tmp_path / "c1")]) == 0
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"warning: A ({SMALL}) and B ({same}) are the same scenario once loaded")
    assert cli.main([*argv, "--set-b", "events.talks.probability=0", "--out", str(tmp_path / "c2")]) == 0
    assert capsys.readouterr().err == ""


def test_shapley_values_of_a_scenario_without_events_are_not_computed(tmp_path, capsys):
    """--shapley on a scenario that schedules no events: a one-line note, no Shapley pass and
    no empty shapley.png; the explanation itself is written as without --shapley."""
    case = Path(__file__).parent / "data" / "cases" / "c1.yaml"
    out = tmp_path / "ex"
    assert cli.main(["explain", str(case), "--shapley", "--runs", "1024", "--out", str(out)]) == 0
    assert "note: --shapley:" in capsys.readouterr().err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["shapley"] is None and not (out / "shapley.png").exists()


def test_compare_says_which_agents_draw_other_random_numbers_under_b(tmp_path, capsys):
    """Random numbers follow an agent's role and rank, not its name (renaming changes nothing),
    so a B that makes an agent a summit party shares none of its draws with A: compare says
    which. A B that changes only a number keeps every role, and says nothing of the kind."""
    small = str(ROOT / "tests" / "data" / "small.yaml")
    trust = "relations.trust={between: [north, south, patron], initial: 0.5}"
    assert cli.main(["compare", small, small, "--set", trust, "--set-b", "summit.parties=[north, south, patron]",
                     "--runs", "1024", "--out", str(tmp_path / "roles"), "--quiet"]) == 0
    err = capsys.readouterr().err
    (note,) = [line for line in err.splitlines() if "other random numbers" in line]
    assert note.startswith("note: north, south, patron draw other random numbers under B than under A")
    assert cli.main(["compare", small, small, "--set-b", "agents.north.resolve=0.5", "--runs", "1024",
                     "--out", str(tmp_path / "number"), "--quiet"]) == 0
    assert "other random numbers" not in capsys.readouterr().err


def test_a_mediator_switched_off_keeps_the_pairing_that_removing_it_loses(tmp_path, capsys):
    """The README's advice for "what if nobody mediated": a mediator with trust entries toward every
    agent (Camp David's United States) removed from its role takes every agent's draws with it; kept
    in the role with `trust: 0` and `margin: 0` it keeps them. The narrowing the README quotes for
    each is what `compare` gives."""
    scenario = str(ROOT / "scenarios" / "examples" / "camp_david_1978.yaml")
    text = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    narrower = {}
    for key, setting in (("removed", "roles.mediators=[]"),
                         ("off", "roles.mediators=[{agent: usa, trust: 0, margin: 0}]")):
        out = tmp_path / key
        assert cli.main(["compare", scenario, scenario, "--set-b", setting, "--out", str(out), "--quiet"]) == 0
        err = capsys.readouterr().err
        assert ("draw other random numbers under B" in err) == (key == "removed"), err
        summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
        assert summary["runs"] == 20000
        narrower[key] = summary["headline"]["substantive_or_better"]["narrowing"]
        assert f"`--set-b '{setting}'`" in text
    assert narrower["off"] > 4 * narrower["removed"], narrower
    assert (f"`--set-b 'roles.mediators=[]'` leaves the paired interval of P(substantive or better) "
            f"{narrower['removed']:.1f} times narrower than the unpaired one, `--set-b 'roles.mediators=[{{agent: "
            f"usa, trust: 0, margin: 0}}]'` {narrower['off']:.1f} times") in text, narrower


def test_the_compare_chart_title_fits_when_the_sides_are_named_by_their_files(tmp_path, monkeypatch):
    """A counterfactual that keeps its base's `name` is told apart by its file in the chart's
    title (`ceasefire_talks (ceasefire/no_offensive.yaml) against ...`): the title wraps inside
    compare.png instead of running off both edges."""
    import matplotlib.figure
    from test_plots import texts_outside

    from sim.attribution_report import plot_comparison

    seen = {}
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", lambda fig, path, **o: seen.update(outside=texts_outside(fig)))
    entry = {"p_a": 0.5, "p_b": 0.5, "diff": 0.0, "low": 0.0, "high": 0.0, "unpaired_half_width": 0.01,
             "narrowing": None, "p_a_interval": [0.4, 0.6], "p_b_interval": [0.4, 0.6]}
    plot_comparison({"command": "compare", "runs": 5000, "seed_entropy": 11,
                     "a": {"scenario": "ceasefire_talks", "file": "ceasefire/ceasefire.yaml"},
                     "b": {"scenario": "ceasefire_talks", "file": "ceasefire/no_offensive.yaml"},
                     "classes": dict.fromkeys(CLASSES, entry), "headline": {"substantive_or_better": entry}},
                    tmp_path / "compare.png")
    assert seen["outside"] == []


def test_the_compare_chart_legend_hides_no_bar_label(tmp_path, monkeypatch):
    """compare.png's legend keeps clear of the bars' value labels: a B near 0.86 had its label
    under the legend, where two long side names (files) widen it."""
    import matplotlib.figure
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from sim.attribution_report import plot_comparison

    seen = {}

    def save(fig, path, **options):
        FigureCanvasAgg(fig)
        fig.draw_without_rendering()
        renderer = fig.canvas.get_renderer()
        left = fig.axes[0]
        legend = left.get_legend().get_window_extent(renderer)
        seen["hidden"] = [t.get_text() for t in left.texts if t.get_window_extent(renderer).overlaps(legend)]

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", save)
    classes = {c: {"p_a": p, "p_b": q, "diff": q - p, "low": q - p - 0.01, "high": q - p + 0.01,
                   "unpaired_half_width": 0.02, "narrowing": 1.8, "p_a_interval": [p - 0.01, p + 0.01],
                   "p_b_interval": [q - 0.01, q + 0.01]}
               for c, p, q in zip(CLASSES, (0.0, 0.752, 0.0, 0.248), (0.0, 0.856, 0.0, 0.143))}
    plot_comparison({"command": "compare", "runs": 2000, "seed_entropy": 11,
                     "a": {"scenario": "ceasefire_talks", "file": "ceasefire/ceasefire.yaml"},
                     "b": {"scenario": "ceasefire_talks", "file": "ceasefire/no_offensive.yaml"},
                     "classes": classes, "headline": {"substantive_or_better": classes["substantive"]}},
                    tmp_path / "compare.png")
    assert seen["hidden"] == []


def test_cli_explain_names_events_that_move_p_breakthrough_more_than_its_table_shows(tmp_path, capsys):
    """The table's P(substantive or better) counts a breakthrough and a substantive deal alike:
    in an analyst's Singapore 2018 scenario Punggye-ri's demolition moves P(breakthrough) by
    about +0.30 and P(substantive or better) by +0.004, and the table alone said the event hardly
    mattered. explain names such events, with their effect on P(breakthrough) and its interval."""
    path = Path(__file__).parent / "data" / "singapore_2018.yaml"
    assert cli.main(["explain", str(path), "--runs", "4096", "--out", str(tmp_path / "e")]) == 0
    out = capsys.readouterr().out
    summary = json.loads((tmp_path / "e" / "summary.json").read_text(encoding="utf-8"))
    effects = {ev["name"]: ev["effect"] for ev in summary["events"]}
    b, s = effects["punggye_ri_demolition"]["breakthrough"], effects["punggye_ri_demolition"]["substantive_or_better"]
    assert b["diff"] > 0.2 and abs(s["diff"]) < 0.05 and b["low"] > 0  # the case this test is about
    line = next(line for line in out.splitlines() if "P(breakthrough)" in line)
    assert f"punggye_ri_demolition {b['diff']:+.4f} [{b['low']:+.4f}, {b['high']:+.4f}]" in line, line


def test_explain_names_only_events_whose_hidden_shift_is_larger_than_what_the_table_shows():
    """An event that moves P(breakthrough) a little more than P(substantive or better) because
    its deals are all breakthroughs (Camp David's invitation: +0.011 against +0.008, substantive
    -0.003) hides nothing and is not named; one that trades substantive deals for breakthroughs
    (Punggye-ri: +0.30 against +0.004, substantive -0.29) is, with its effect's interval; one
    whose shift is under a percentage point (Camp David's expelled mission) is not."""
    from sim.reporting import breakthrough_shifts

    def removed(b, s, sob):  # a removal's comparison: B - A = P without - P with, the effect's opposite
        return {k: {"diff": -v, "low": -v - 0.002, "high": -v + 0.002}
                for k, v in (("breakthrough", b), ("substantive", s), ("substantive_or_better", sob))}

    events = [{"name": "invitation", "removed": removed(0.011, -0.003, 0.008)},
              {"name": "demolition", "removed": removed(0.30, -0.29, 0.004)},
              {"name": "noise", "removed": {**removed(0.001, -0.02, 0.001),
                                            "breakthrough": {"diff": -0.001, "low": -0.003, "high": 0.001}}},
              {"name": "small", "removed": removed(-0.0054, 0.0030, -0.0024)}]  # Camp David's expelled mission
    (name, effect), = breakthrough_shifts(events)
    assert name == "demolition" and effect["diff"] == pytest.approx(0.30)
    assert effect["low"] == pytest.approx(0.298) and effect["high"] == pytest.approx(0.302)
