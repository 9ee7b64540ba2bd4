"""Monte Carlo: counts, reproducibility, independence from chunking and run length,
common random numbers, Wilson intervals and early stopping."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import run_replicates, scenario_of, small_dict
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.estimate import Z95, wilson
from sim.model import CLASSES
from sim.montecarlo import run
from sim.randomness import BLOCK_SIZE
from sim.strategies import scenarios

SMALL = scenario_of(small_dict())


def test_class_probabilities_sum_to_one():
    """The four outcome classes partition the replicates: counts sum to runs, probabilities to 1."""
    result = run(SMALL, runs=3000, seed=3)
    assert result.runs == 3000 and int(result.counts.sum()) == 3000
    assert math.isclose(sum(e.p for e in result.estimates().values()), 1.0, rel_tol=1e-12)
    head = result.headline()
    assert math.isclose(head["substantive_or_better"].p + head["talk_fest"].p + head["collapse"].p, 1.0)


@settings(max_examples=50)
@given(scenarios())
def test_any_valid_scenario_runs_and_its_classes_sum_to_one(scenario):
    """Every valid scenario runs, and its four class counts sum to the number of runs."""
    reps = run_replicates(scenario, runs=300, seed=0)
    assert reps.result.runs == 300 == len(reps.outcome)
    assert int(reps.counts.sum()) == 300
    assert np.array_equal(reps.counts, np.bincount(reps.outcome, minlength=len(CLASSES)))
    assert np.all(reps.outcome < len(CLASSES))
    assert np.all(np.isfinite(reps.position))


def test_same_seed_gives_identical_replicates():
    """Two runs with the same seed give identical counts and per-replicate outputs."""
    a = run_replicates(SMALL, runs=3000, seed=11)
    b = run_replicates(SMALL, runs=3000, seed=11)
    assert np.array_equal(a.counts, b.counts)
    assert a.same_as(b)
    assert a.result.entropy == b.result.entropy == 11


def test_different_seed_gives_different_replicates():
    """Another seed gives other per-replicate outcomes."""
    a = run_replicates(SMALL, runs=3000, seed=11)
    b = run_replicates(SMALL, runs=3000, seed=12)
    assert not np.array_equal(a.summit_day, b.summit_day)
    assert not np.array_equal(a.position, b.position)
    assert not np.array_equal(a.outcome, b.outcome)


@pytest.mark.parametrize("chunk_size", [3000, 50_000])
def test_chunk_size_changes_nothing(chunk_size):
    """Per-replicate outputs are identical whatever the chunk size."""
    ref = run_replicates(SMALL, runs=7000, seed=5, chunk_size=1024)
    other = run_replicates(SMALL, runs=7000, seed=5, chunk_size=chunk_size)
    assert ref.same_as(other)
    assert np.array_equal(ref.counts, other.counts)


def test_replicate_does_not_depend_on_number_of_runs():
    """Replicate i's outputs are the same whether 1,500 or 5,000 replicates are run."""
    short = run_replicates(SMALL, runs=1500, seed=9)
    long = run_replicates(SMALL, runs=5000, seed=9)
    assert len(short.outcome) == 1500 and len(long.outcome) == 5000
    assert np.array_equal(short.outcome, long.outcome[:1500])
    assert np.array_equal(short.package, long.package[:1500])
    assert np.array_equal(short.position, long.position[:1500])


def _with_second_event_and_incident(d: dict) -> dict:
    d["events"].append({"name": "forum", "date": "2020-02-20", "probability": 0.5, "source": "test",
                        "effects": [{"target": "position", "agent": "south", "issue": "land",
                                     "shift": {"dist": "uniform", "low": 0.0, "high": 0.2}}]})
    d["incidents"].append({"name": "protest", "rate_per_month": 1.0,
                           "effects": [{"target": "salience", "agent": "north", "issue": "trade",
                                        "shift": {"dist": "uniform", "low": -0.1, "high": 0.1}}]})
    return d


def _reversed(d: dict) -> dict:
    """The same scenario with every listing in reverse order."""
    rev = lambda m: dict(reversed(list(m.items())))
    d["issues"] = rev({k: {**v, "anchors": rev(v["anchors"])} for k, v in d["issues"].items()})
    d["agents"] = rev({k: {**v, "issues": rev(v["issues"])} for k, v in d["agents"].items()})
    d["events"] = list(reversed(d["events"]))
    d["incidents"] = list(reversed(d["incidents"]))
    d["outcome"] = {k: list(reversed(v)) for k, v in reversed(list(d["outcome"].items()))}
    return d


def test_listing_order_changes_nothing():
    """Listing agents, issues, anchors, events and incidents in another order changes no replicate."""
    base = _with_second_event_and_incident(small_dict())
    reordered = _reversed(_with_second_event_and_incident(small_dict()))
    assert list(reordered["agents"]) != list(base["agents"])
    a = run_replicates(scenario_of(base), runs=3000, seed=2)
    b = run_replicates(scenario_of(reordered), runs=3000, seed=2)
    assert a.same_as(b)


def test_party_order_changes_nothing():
    """Naming the summit parties (and the trust pair) in the other order changes no replicate."""
    base = small_dict()
    swapped = small_dict()
    swapped["summit"]["parties"] = ["south", "north"]
    swapped["relations"]["trust"]["between"] = ["south", "north"]
    a = run_replicates(scenario_of(base), runs=3000, seed=2)
    b = run_replicates(scenario_of(swapped), runs=3000, seed=2)
    assert a.same_as(b)


_THRESHOLD_RUNS = 2048
_THRESHOLD_CACHE: dict = {}


def _substantive_or_better(land: float, trade: float) -> np.ndarray:
    key = (land, trade)
    if key not in _THRESHOLD_CACHE:
        d = small_dict()
        d["outcome"]["substantive"] = [{"issue": "land", "at_least": land},
                                       {"issue": "trade", "at_least": trade}]
        _THRESHOLD_CACHE[key] = run_replicates(scenario_of(d), runs=_THRESHOLD_RUNS,
                                               seed=4).substantive_or_better
    return _THRESHOLD_CACHE[key]


_level = st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0]) | st.floats(0.0, 1.0)


@settings(max_examples=20)
@given(_level, _level, _level, _level)
def test_stricter_substantive_threshold_never_raises_substantive_or_better(l1, l2, t1, t2):
    """Raising the substantive thresholds never turns a replicate into substantive-or-better (same seed)."""
    loose = _substantive_or_better(min(l1, l2), min(t1, t2))
    strict = _substantive_or_better(max(l1, l2), max(t1, t2))
    assert not np.any(strict & ~loose)
    assert strict.sum() <= loose.sum()


# --- Wilson intervals ---------------------------------------------------------------


def test_wilson_hand_computed_case():
    """wilson(5, 10) with z = 1.96 gives the textbook interval (0.2366, 0.7634)."""
    # z^2/n = 0.38416, centre = (0.5 + 0.19208) / 1.38416 = 0.5,
    # half = 1.96 / 1.38416 * sqrt(0.025 + 0.009604) = 1.416021 * 0.186021 = 0.263410.
    e = wilson(5, 10, z=1.96)
    assert e.p == 0.5 and e.count == 5 and e.n == 10
    assert e.low == pytest.approx(0.236590, abs=2e-6)
    assert e.high == pytest.approx(0.763410, abs=2e-6)


def test_wilson_asymmetric_case():
    """wilson(81, 263) matches the interval computed by hand from the score formula."""
    # p = 0.307985, z^2/n = 0.014607; centre = (p + z^2/2n) / (1 + z^2/n) = 0.310744,
    # half = z / (1 + z^2/n) * sqrt(p(1-p)/n + z^2/4n^2) = 0.055465.
    e = wilson(81, 263)
    assert e.low == pytest.approx(0.2553, abs=5e-4)
    assert e.high == pytest.approx(0.3662, abs=5e-4)


def test_wilson_edges_are_exact():
    """At 0 of n the interval starts at exactly 0, at n of n it ends at exactly 1."""
    zero, full = wilson(0, 10), wilson(10, 10)
    z2 = Z95 ** 2
    assert zero.low == 0.0 and zero.high == pytest.approx(z2 / (10 + z2), rel=1e-12)
    assert full.high == 1.0 and full.low == pytest.approx(10 / (10 + z2), rel=1e-12)
    assert zero.p == 0.0 and full.p == 1.0


@settings(max_examples=200)
@given(st.integers(1, 10**7).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_interval_holds_the_estimate(count_n):
    """The Wilson interval lies in [0, 1] and contains the observed proportion."""
    count, n = count_n
    e = wilson(count, n)
    assert 0.0 <= e.low <= e.p <= e.high <= 1.0


# --- Early stopping -----------------------------------------------------------------


def test_precision_stops_early_at_a_block_boundary_whatever_the_chunk_size():
    """With --precision the run stops at the first block where every interval is narrow enough,
    and the replicates kept are the same whatever the chunk size."""
    precision = 0.005
    results = [run_replicates(SMALL, runs=60_000, seed=6, chunk_size=c, precision=precision)
               for c in (1024, 8192, 50_000)]
    first = results[0]
    n = first.result.runs
    assert first.result.stopped_early and n < 60_000 and n % BLOCK_SIZE == 0
    for other in results[1:]:
        assert other.result.runs == n and other.result.stopped_early
        assert other.same_as(first)
        assert np.array_equal(other.counts, first.counts)
    # Narrow enough at n, not at the block before.
    half = lambda counts, m: max((wilson(int(k), m).high - wilson(int(k), m).low) / 2 for k in counts)
    assert half(first.counts, n) < precision
    before = np.bincount(first.outcome[: n - BLOCK_SIZE], minlength=len(CLASSES))
    assert half(before, n - BLOCK_SIZE) >= precision
    # And the same replicates as a run of exactly n.
    assert run_replicates(SMALL, runs=n, seed=6).same_as(first)


@pytest.mark.parametrize("count, n", [(0, 10), (3, 10), (10, 10), (512, 1024), (1, 100_000), (99_999, 100_000)])
def test_wilson_interval_equals_scipys(count, n):
    """Our Wilson interval (kept for the early-stopping loop) equals scipy's binomtest's."""
    from scipy.stats import binomtest

    ours = wilson(count, n)
    ci = binomtest(count, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert (ours.low, ours.high) == pytest.approx((ci.low, ci.high), abs=1e-12)
