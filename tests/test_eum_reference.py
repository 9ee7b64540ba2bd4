"""The compiled ``scholz`` kernels against a plain-Python transcription of the replication.

The oracle below is written in the replication's order of operations (its loops, its
left-to-right sums over actors in file order, its expressions, Python's own ``**`` and
set), slow and readable; it reproduces the ten recorded data sets to the bit.  The
compiled single-run kernel must equal it bit for bit on generated data sets (discrete
scales, ties, actors converging on one position), and the batched kernel must equal the
single-run kernel replicate by replicate.  Equality is exact throughout
(``np.array_equal``): no tolerance.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.eum import load_actors_csv, run_eum
from sim.eum.batch import TILE
from sim.eum.replication import set_order

DATA = Path(__file__).resolve().parent / "data" / "eum"
SETS = ["ExampleActors", "Sultan"] + [f"order/pub{k}" for k in (10, 12, 18, 22, 26, 30, 38, 54)]


def recorded(name: str) -> list[dict]:
    """The replication's recorded rounds 0..10 for data set ``name``."""
    path = DATA / Path(name).parent / f"expected_{Path(name).name}_10rounds.json"
    return json.loads(path.read_text(encoding="utf-8"))["rounds"]


# --- the oracle ---------------------------------------------------------------------------


def oracle(c, x, s, rounds, q=1.0):
    """The replication's run as lists: (positions, risk, median, mean) per round 0..rounds.

    Where the replication divides by zero it follows sim.eum's documented choices:
    R = 0 counts as 1, no votes give probability 0, equal dangers give r = 1, no weight
    gives the plain mean.  The all-triples denominator is computed once per stage, not
    once per probability as the replication does: the same sum in the same order.
    """
    c, x, s = [float(v) for v in c], [float(v) for v in x], [float(v) for v in s]
    span = (max(x) - min(x)) or 1.0
    r = [1.0] * len(x)
    out = [(list(x), list(r), _median(c, s, x, span), _mean(c, s, x))]
    for _ in range(rounds):
        r = _risk(c, s, x, span, q)
        x = [_best_offer(c, s, x, span, q, r, i) for i in range(len(x))]
        out.append((list(x), list(r), _median(c, s, x, span), _mean(c, s, x)))
    return out


def _compare(c, s, x, span, a, p, q_, risk):
    """a's vote for position p over q_ (the replication's Actor.compare)."""
    return c[a] * s[a] * ((abs(x[a] - q_) / span) ** risk - (abs(x[a] - p) / span) ** risk)


def _all_votes(c, s, x, span, r):
    total = 0.0
    for a in range(len(x)):
        for b in range(len(x)):
            for k in range(len(x)):
                total += abs(_compare(c, s, x, span, a, x[b], x[k], r[a]))
    return total


def _probability(c, s, x, span, r, total, xi, xj):
    if xi == xj:
        return 0.0
    support = 0.0
    for a in range(len(x)):
        support += max(0, _compare(c, s, x, span, a, xi, xj, r[a]))
    return support / total if total > 0 else 0.0


def _challenge(c, s, x, span, q, r, total, k, i, j):
    """EU_k(i -> j): the expected utility of i challenging j, as k sees it."""
    p = _probability(c, s, x, span, r, total, x[i], x[j])
    u_success = 2 - 4 * (0.5 - 0.5 * abs(x[i] - x[j]) / span) ** r[k]
    u_failure = 2 - 4 * (0.5 + 0.5 * abs(x[i] - x[j]) / span) ** r[k]
    u_status_quo = 2 - 4 * (0.5 ** r[k])
    eu_resist = s[j] * (p * u_success + (1 - p) * u_failure)
    eu_not_resist = (1 - s[j]) * u_success
    return eu_resist + eu_not_resist - q * u_status_quo


def _risk(c, s, x, span, q):
    ones = [1.0] * len(x)
    total = _all_votes(c, s, x, span, ones)
    danger = []
    for a in range(len(x)):
        level = 0.0
        for o in range(len(x)):
            if o != a:
                level += _challenge(c, s, x, span, q, ones, total, a, o, a)
        danger.append(level)
    hi, lo = max(danger), min(danger)
    if hi == lo:
        return ones
    return [(1 - rel / 3.0) / (1 + rel / 3.0) for rel in ((2 * d - hi - lo) / (hi - lo) for d in danger)]


def _best_offer(c, s, x, span, q, r, i):
    total = _all_votes(c, s, x, span, r)
    confrontations, compromises = [], []
    for j in range(len(x)):
        if x[i] == x[j]:
            continue
        eu_ij = _challenge(c, s, x, span, q, r, total, i, i, j)
        eu_ji = _challenge(c, s, x, span, q, r, total, i, j, i)
        if eu_ji > eu_ij > 0:
            confrontations.append((abs(x[i] - x[j]), x[j]))
        elif eu_ji > 0 > eu_ij and eu_ji > abs(eu_ij):
            key = (abs(eu_ij) * x[i] + abs(eu_ji) * x[j]) / (abs(eu_ij) + abs(eu_ji))
            compromises.append((key, x[i] + (x[j] - x[i]) * abs(eu_ij / eu_ji)))
    for offers in (confrontations, compromises):
        if offers:
            return min(offers, key=lambda offer: offer[0])[1]  # min keeps the first of equals
    return x[i]


def _median(c, s, x, span):
    candidates = list({position for position in x})
    median = candidates[0]
    for position in candidates[1:]:
        votes = 0.0
        for a in range(len(x)):
            votes += _compare(c, s, x, span, a, position, median, 1.0)
        if votes > 0:
            median = position
    return median


def _mean(c, s, x):
    top = bottom = 0.0
    for a in range(len(x)):
        top += c[a] * s[a] * x[a]
        bottom += c[a] * s[a]
    if bottom > 0:
        return top / bottom
    plain = 0.0
    for value in x:
        plain += value
    return plain / len(x)


def _as_arrays(history):
    return tuple(np.array([h[f] for h in history]) for f in range(4))


# --- generated data sets -------------------------------------------------------------------

SCALES = [(4.0, 7.0, 10.0), (0.0, 1.0), (0.0, 0.25, 0.5, 0.75, 1.0), tuple(float(v) for v in range(1, 8)),
          (0.35, 0.4, 0.45, 1.0), (-3.0, 0.0, 2.5)]
discrete = st.sampled_from([0.0, 0.1, 0.2, 0.25, 0.5, 0.75, 1.0])


@st.composite
def data_sets(draw, max_actors=7):
    """(capability, position, salience) lists: discrete or continuous scales, ties,
    repeated (capability, salience) pairs, and sometimes most actors on one position."""
    n = draw(st.integers(2, max_actors))
    scale = draw(st.sampled_from(SCALES))
    continuous = st.floats(min(scale), max(scale), allow_subnormal=False)
    position = draw(st.lists(st.sampled_from(scale) | continuous, min_size=n, max_size=n))
    if draw(st.booleans()):  # converging: most actors already share one position
        spot = draw(st.sampled_from(position))
        position = [spot if k < n - 2 else p for k, p in enumerate(position)]
    capability = draw(st.lists(discrete | st.floats(0, 200, allow_subnormal=False), min_size=n, max_size=n))
    salience = draw(st.lists(discrete | st.floats(0, 1, allow_subnormal=False), min_size=n, max_size=n))
    return capability, position, salience


# --- tests -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SETS)
def test_oracle_reproduces_the_recorded_rounds_to_the_bit(name):
    """The plain-Python oracle gives every recorded position, exponent (Sultan records none), median and mean exactly."""
    actors = load_actors_csv(DATA / f"{name}.csv")
    history = oracle(actors.capability, actors.position, actors.salience, 10)
    for rec in recorded(name):
        positions, risk, median, mean = history[rec["round"]]
        assert positions == [rec["positions"][a] for a in actors.names]
        assert risk == [rec.get("risk_r_used_this_round", dict(zip(actors.names, risk)))[a] for a in actors.names]
        assert (median, mean) == (rec["median_position"], rec["mean_position"])


@settings(max_examples=300, deadline=None)
@given(data_sets(), st.sampled_from([1.0, 1.0, 0.5, 0.0]))
def test_single_run_kernel_equals_the_oracle_bit_for_bit(data, q):
    """On generated data sets the compiled single-run kernel equals the oracle exactly, every round."""
    c, x, s = data
    run = run_eum(c, x, s, rounds=6, q=q)  # one replicate: the single-run kernel
    want = _as_arrays(oracle(c, x, s, 6, q))
    got = (run.positions[..., 0], run.risk[..., 0], run.median[:, 0], run.mean[:, 0])
    for field, ours, theirs in zip(("positions", "risk", "median", "mean"), got, want):
        assert np.array_equal(ours, theirs), field


@settings(max_examples=50, deadline=None)
@given(st.lists(data_sets(max_actors=6), min_size=1, max_size=3), st.integers(1, 2 * TILE + 3),
       st.sampled_from([1.0, 0.5]))
def test_batched_kernel_equals_the_single_run_kernel_replicate_by_replicate(sets, size, q):
    """Replicates of mixed data sets, over several tiles, each equal the single-run kernel's run exactly."""
    n = min(len(d[0]) for d in sets)
    c, x, s = (np.array([sets[k % len(sets)][f][:n] for k in range(size)]).T for f in range(3))
    s = s * (1 - np.arange(size) / (4 * size))  # every replicate its own run, some at a fixed point
    batch = run_eum(c, x, s, rounds=5, q=q)
    for k in range(size):
        one = run_eum(c[:, k], x[:, k], s[:, k], rounds=5, q=q)
        for field in ("positions", "risk", "median", "mean"):
            assert np.array_equal(getattr(batch, field)[..., k], getattr(one, field)[..., 0]), (k, field)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([0.0, -0.0, 1.0, -1.0, 2.0, 4.0, 7.0, 10.0, 13.9, 0.35, 2.0**61, 1e300])
                | st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=40))
def test_set_order_is_cpythons(values):
    """set_order lists the distinct values in the order Python iterates a set of them."""
    order = np.empty(len(values), np.int64)
    count = set_order(np.array(values), order)
    got = [values[i] for i in order[:count]]
    want = list({v for v in values})
    assert [(v, math.copysign(1, v)) for v in got] == [(v, math.copysign(1, v)) for v in want]
