"""The summit: feasibility, the Nash bargaining pick, and the no-deal and collapse cases."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import run_replicates, scenario_of, small_dict, state_of
from sim.model import BREAKTHROUGH, COLLAPSE, SUBSTANTIVE, TALK_FEST
from sim.summit import feasible_packages, package_utility, resolve_summit, within_bounds
from sim.timeline import run_timeline


@functools.lru_cache(maxsize=None)
def _small_state(block: int, moved: bool):
    """small.yaml's model and the state of one block, drawn or after its timeline ran."""
    model, state, blocks = state_of(scenario_of(small_dict()), seed=17, first_block=block)
    if moved:
        run_timeline(model, state, blocks)
    return model, state


def _feasible(model, state) -> np.ndarray:
    idx = slice(None)
    utilities = [package_utility(model, state, p, idx) for p in model.parties]
    reservations = [state.reservation[p] for p in model.parties]
    return feasible_packages(model, utilities, reservations)


_widening = st.tuples(st.integers(0, 1), st.integers(0, 1), st.floats(0.0, 1.0), st.floats(0.0, 1.0))


@settings(max_examples=60)
@given(st.integers(0, 7), st.booleans(), st.lists(_widening, min_size=1, max_size=4))
def test_widening_a_bound_never_shrinks_the_feasible_set(block, moved, widenings):
    """Widening a party's domestic bound on an issue keeps every package that was feasible feasible."""
    model, state = _small_state(block, moved)
    lower, upper = model.lower.copy(), model.upper.copy()
    for party_k, issue, lo_share, hi_share in widenings:
        a = model.parties[party_k]
        lower[a, issue, 0] *= lo_share  # moves down toward 0
        upper[a, issue, 0] += (1.0 - upper[a, issue, 0]) * hi_share  # moves up toward 1
    wide = dataclasses.replace(model, lower=lower, upper=upper)
    before, after = _feasible(model, state), _feasible(wide, state)
    assert not np.any(before & ~after)


@settings(max_examples=40)
@given(st.integers(0, 7), st.booleans(), st.lists(
    st.tuples(st.integers(0, 1), st.integers(0, 1), st.floats(0.0, 1.0), st.floats(0.0, 1.0)),
    min_size=1, max_size=4))
def test_chosen_package_respects_bounds_and_is_the_nash_pick(block, moved, bounds):
    """The deal lies within both parties' bounds, is acceptable to both, and maximises the Nash product."""
    model, state = _small_state(block, moved)
    lower, upper = model.lower.copy(), model.upper.copy()
    for party_k, issue, x, y in bounds:
        a = model.parties[party_k]
        lower[a, issue, 0], upper[a, issue, 0] = min(x, y), max(x, y)
    model = dataclasses.replace(model, lower=lower, upper=upper)
    state = dataclasses.replace(state, outcome=state.outcome.copy(), package=state.package.copy(),
                                at_summit=state.at_summit.copy())
    idx = np.arange(state.n)
    resolve_summit(model, state, idx, day=0.95)  # before any election window: no audience costs

    deal = state.package >= 0
    chosen = state.package[deal].astype(np.int64)
    for p in model.parties:
        assert np.all(within_bounds(model, p)[chosen])
    utilities = [package_utility(model, state, p, idx) for p in model.parties]
    reservations = [state.reservation[p] for p in model.parties]
    ok = feasible_packages(model, utilities, reservations)
    cols = np.flatnonzero(deal)
    assert np.all(ok[chosen, cols])
    product = (utilities[0] - reservations[0]) * (utilities[1] - reservations[1])
    best = np.where(ok, product, -np.inf).max(axis=0)
    assert np.all(product[chosen, cols] == best[cols])
    # No deal only where nothing was feasible or the visit was called off.
    no_deal = ~deal
    assert np.all(~ok[:, no_deal].any(axis=0) | (state.outcome[no_deal] == COLLAPSE))


# --- A two-agent case with a closed form ------------------------------------------


def _two_agents(b_bounds=(0.0, 1.0), reservations=(0.3, 0.2)) -> dict:
    """Agent a wants x = 1, y = 0 (saliences 0.8, 0.2); agent b wants x = 0, y = 1 (0.4, 0.6)."""
    return {
        "name": "two",
        "calendar": {"start": "2020-01-01", "vantage": "2020-01-01"},
        "issues": {"x": {"anchors": {"none": 0.0, "half": 0.5, "full": 1.0}, "status_quo": 0.0},
                   "y": {"anchors": {"no": 0.0, "yes": 1.0}, "status_quo": 0.0}},
        "agents": {
            "a": {"capability": 1.0, "resolve": 1.0, "reservation": reservations[0],
                  "issues": {"x": {"position": 1.0, "salience": 0.8}, "y": {"position": 0.0, "salience": 0.2}}},
            "b": {"capability": 1.0, "resolve": 1.0, "reservation": reservations[1],
                  "issues": {"x": {"position": 0.0, "salience": 0.4, "bounds": list(b_bounds)},
                             "y": {"position": 1.0, "salience": 0.6}}},
        },
        "relations": {"trust": {"between": ["a", "b"], "initial": 0.5}},
        "summit": {"parties": ["a", "b"], "date": "2020-02-01",
                   "cancellation": {"base_probability": 0.0, "trust_below": 0.1}},
        "dynamics": {"rate": 0.0, "noise": 0.0},
        "outcome": {"breakthrough": [{"issue": "x", "at_least": 1.0}],
                    "substantive": [{"issue": "y", "at_least": 1.0}]},
    }


def _resolve(data: dict, cancelled: bool = False, trust: float | None = None):
    model, state, _ = state_of(scenario_of(data))
    if cancelled:
        state.cancelled[:] = True
    if trust is not None:
        state.trust[:] = trust
    resolve_summit(model, state, np.arange(state.n), day=31.9)
    return model, state


def test_two_agent_nash_pick_matches_hand_computation():
    """With known positions, saliences and reservations the Nash bargaining deal is the one computed by hand."""
    # u_a = 1 - 0.8|x - 1| - 0.2|y|, u_b = 1 - 0.4|x| - 0.6|1 - y|; reservations 0.3, 0.2.
    # (x, y): (0,0) .2/.4 no; (0,1) 0/1 no; (.5,0) .6/.2 -> .3*0 = 0; (.5,1) .4/.8 -> .1*.6 = .06;
    # (1,0) 1/0 no; (1,1) .8/.6 -> .5*.4 = .2.  The pick: x = 1, y = 1.
    model, state = _resolve(_two_agents())
    assert set(state.package.tolist()) == {model.package_names.index("full/yes")}
    assert np.all(state.outcome == BREAKTHROUGH)


def test_two_agent_pick_within_a_domestic_bound():
    """When b cannot concede x above 0.5, the hand-computed best package inside that bound is chosen."""
    # Only x <= 0.5 is allowed: (.5,0) -> 0, (.5,1) -> .06, the rest fail a reservation.
    model, state = _resolve(_two_agents(b_bounds=(0.0, 0.5)))
    assert set(state.package.tolist()) == {model.package_names.index("half/yes")}
    assert np.all(state.outcome == SUBSTANTIVE)


def test_no_feasible_package_is_a_talk_fest():
    """When no package meets both reservations the meeting is a talk fest with no deal."""
    model, state = _resolve(_two_agents(reservations=(0.99, 0.99)))
    assert np.all(state.package == -1)
    assert np.all(state.outcome == TALK_FEST)


def test_cancelled_visit_is_a_collapse():
    """A visit called off ends in collapse with no deal, even when a deal was available."""
    model, state = _resolve(_two_agents(), cancelled=True)
    assert np.all(state.package == -1)
    assert np.all(state.outcome == COLLAPSE)


def test_trust_below_threshold_is_a_collapse():
    """Trust below the cancellation threshold at the summit ends in collapse."""
    model, state = _resolve(_two_agents(), trust=0.05)
    assert np.all(state.outcome == COLLAPSE) and np.all(state.package == -1)


# --- Statistical ------------------------------------------------------------------


def test_widening_south_land_bound_does_not_lower_substantive_or_better():
    """Widening south's land bound from [0, 0.5] to [0, 1] does not lower P(substantive or better)
    beyond sampling error (paired, same seed, 20,000 runs, tolerance 3 paired standard errors)."""
    base = small_dict()
    wide = small_dict()
    wide["agents"]["south"]["issues"]["land"]["bounds"] = [0.0, 1.0]
    a = run_replicates(scenario_of(base), runs=20_000, seed=2016)
    b = run_replicates(scenario_of(wide), runs=20_000, seed=2016)
    diff = b.substantive_or_better.astype(float) - a.substantive_or_better.astype(float)
    se = diff.std(ddof=1) / np.sqrt(len(diff))
    assert diff.mean() >= -3 * se
    assert a.substantive_or_better.mean() == pytest.approx(0.92, abs=0.02)  # the test exercises deals
