"""The calendar: scheduled events, incidents, the diplomacy engine and the alliance pull.

Tests of a timeline read its log where they can: the weekly trajectory of positions
(row 0 the start, row w after the w-th tick) says what happened when."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import yaml
from conftest import run_replicates, scenario_of, small_dict, state_of
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.engines.convergence import Convergence
from sim.errors import InputError
from sim.loading import parse_scenario
from sim.model import COLLAPSE
from sim.strategies import scenarios
from sim.timeline import run_timeline


def _tiny(**changes) -> dict:
    """Three agents, two issues, a summit 30 days after the start, nothing random."""
    d = {
        "name": "tiny",
        "calendar": {"start": "2020-01-01", "vantage": "2020-01-01"},
        "issues": {"land": {"anchors": {"none": 0.0, "all": 1.0}, "status_quo": 0.0},
                   "trade": {"anchors": {"none": 0.0, "deal": 1.0}, "status_quo": 0.0}},
        "agents": {
            "ally": {"capability": 1.0, "resolve": 0.3,
                     "issues": {"land": {"position": 0.2, "salience": 0.5},
                                "trade": {"position": 0.0, "salience": 0.5}}},
            "other": {"capability": 2.0, "resolve": 0.5,
                      "issues": {"land": {"position": 0.9, "salience": 0.7},
                                 "trade": {"position": 0.6, "salience": 0.3}}},
            "patron": {"capability": 3.0, "resolve": 0.8,
                       "issues": {"land": {"position": 0.5, "salience": 0.1},
                                  "trade": {"position": 1.0, "salience": 0.9}}},
        },
        "relations": {"trust": {"between": ["ally", "other"], "initial": {"dist": "uniform", "low": 0.3,
                                                                          "high": 0.7}}},
        "summit": {"parties": ["ally", "other"], "date": "2020-01-31",
                   "cancellation": {"base_probability": 0.0, "trust_below": 0.0}},
        "dynamics": {"rate": 0.2, "noise": 0.0},
        "outcome": {"breakthrough": [{"issue": "land", "at_least": 1.0}],
                    "substantive": [{"issue": "trade", "at_least": 1.0}]},
        "monte_carlo": {"runs": 1024, "seed": 1},
    }
    d.update(changes)
    return d


def _run(data: dict, seed: int = 1, trajectory: bool = False):
    """Run one block's timeline; returns (model, state, trajectory or None)."""
    model, state, blocks = state_of(scenario_of(data), seed=seed)
    traj = None
    if trajectory:
        traj = np.zeros((model.weeks, model.n_agents, model.n_issues, state.n), dtype=np.float32)
    run_timeline(model, state, blocks, traj)
    return model, state, traj


# --- Events and incidents -------------------------------------------------------------


def test_event_with_probability_zero_changes_nothing():
    """An event with probability 0 leaves every replicate as if the event were not in the scenario."""
    with_event = small_dict()
    with_event["events"][0]["probability"] = 0.0
    with_event["events"][0]["effects"].append({"target": "cancel", "probability": 1.0})
    without = small_dict()
    without["events"] = []
    a = run_replicates(scenario_of(with_event), runs=3000, seed=8)
    b = run_replicates(scenario_of(without), runs=3000, seed=8)
    assert a.same_as(b)


def test_other_events_do_not_shift_an_events_random_numbers():
    """Adding an event leaves the draws of the other events unchanged (each has its own stream)."""
    base = small_dict()
    base["events"][0]["effects"] = [{"target": "position", "agent": "north", "issue": "trade",
                                     "shift": {"dist": "uniform", "low": -0.2, "high": 0.0}}]
    base["dynamics"] = {"rate": 0.0, "noise": 0.0}
    base["incidents"] = []
    base["relations"]["alliances"] = []
    more = small_dict()
    more.update({k: base[k] for k in ("dynamics", "incidents", "relations")})
    more["events"] = [{"name": "aaa_first", "date": "2020-01-15", "probability": 0.5, "source": "test",
                       "effects": [{"target": "resolve", "agent": "south",
                                    "shift": {"dist": "uniform", "low": 0.0, "high": 0.1}}]},
                      base["events"][0]]
    _, a, _ = _run(base)
    _, b, _ = _run(more)
    assert np.array_equal(a.position, b.position)


def test_certain_trust_shift_moves_trust_by_exactly_the_shift():
    """An event with probability 1 and a trust shift moves every replicate's trust by exactly that shift."""
    data = _tiny(events=[{"name": "meeting", "date": "2020-01-10", "probability": 1.0, "source": "test",
                          "effects": [{"target": "trust", "shift": 0.1}]}])
    model, state, _ = _run(data)
    assert not np.all(state.trust_initial[0] == state.trust_initial[0, 0])  # drawn, so the check is per replicate
    assert np.array_equal(state.trust, np.clip(state.trust_initial + 0.1, 0.0, 1.0))
    assert state.trust.shape == (1, state.n)  # one trust pair


def test_certain_trust_shift_decides_cancellation():
    """Trust starting just under the cancellation threshold: a certain +0.1 shift saves every visit."""
    base = _tiny()
    base["relations"]["trust"]["initial"] = 0.3
    base["summit"]["cancellation"]["trust_below"] = 0.35
    shifted = _tiny(events=[{"name": "meeting", "date": "2020-01-10", "probability": 1.0, "source": "test",
                             "effects": [{"target": "trust", "shift": 0.1}]}])
    shifted["relations"] = base["relations"]
    shifted["summit"] = base["summit"]
    _, without, _ = _run(base)
    _, with_event, _ = _run(shifted)
    assert np.all(without.outcome == COLLAPSE)
    assert not np.any(with_event.outcome == COLLAPSE)


def test_incidents_with_rate_zero_change_nothing():
    """An incident stream with rate 0 leaves every replicate as if the stream were not in the scenario."""
    zero = small_dict()
    zero["incidents"][0]["rate_per_month"] = 0.0
    none = small_dict()
    none["incidents"] = []
    a = run_replicates(scenario_of(zero), runs=3000, seed=8)
    b = run_replicates(scenario_of(none), runs=3000, seed=8)
    assert a.same_as(b)


def test_incidents_lower_trust():
    """A frequent incident stream with a negative trust shift lowers trust in every replicate it hits."""
    data = _tiny(incidents=[{"name": "clash", "rate_per_month": 3.0,
                             "effects": [{"target": "trust", "shift": -0.05}]}])
    _, state, _ = _run(data)
    hit = state.trust < state.trust_initial
    assert hit.mean() > 0.9
    assert np.all(state.trust <= state.trust_initial)


def test_incident_never_takes_effect_before_its_start():
    """An incident stream starting after the last weekly tick changes nothing up to that tick,
    and takes effect on the summit day."""
    data = _tiny()
    data["summit"]["date"] = "2020-02-04"  # day 34; ticks on the Sundays: days 4, 11, 18, 25, 32
    data["dynamics"] = {"rate": 0.0, "noise": 0.0}
    data["incidents"] = [{"name": "late", "rate_per_month": 5.0, "start": "2020-02-03",  # day 33
                          "effects": [{"target": "position", "agent": "ally", "issue": "land", "shift": 0.01}]}]
    model, state, traj = _run(data, trajectory=True)
    ally, land = model.agents.index("ally"), model.issues.index("land")
    assert model.ticks == (4, 11, 18, 25, 32)
    assert np.all(traj[:, ally, land, :] == np.float32(0.2))
    assert np.any(state.position[ally, land] > 0.2)


def test_scenario_that_loads_also_runs_when_vantage_is_after_the_summit():
    """A vantage after the latest summit date is rejected when the scenario loads, naming the field;
    one on that date loads and runs. (This test accepted either a rejection or a run, and the
    rejection always came: it ran nothing.)"""
    data = small_dict()
    data["calendar"]["vantage"] = "2020-06-01"
    with pytest.raises(InputError, match="must not be after the latest summit date") as err:
        parse_scenario(yaml.safe_dump(data))
    assert [p.path for p in err.value.problems] == ["calendar.vantage"]
    data["calendar"]["vantage"] = "2020-04-01"  # the small scenario's summit: 1 March to 1 April
    reps = run_replicates(parse_scenario(yaml.safe_dump(data)), runs=1024, seed=1)
    assert reps.result.runs == 1024 == int(reps.counts.sum())


def test_trust_recovery_is_a_share():
    """A weekly trust recovery above 1 (an overshoot) is rejected when the scenario loads."""
    data = _tiny()
    data["relations"]["trust"]["weekly_recovery"] = 1.8
    with pytest.raises(InputError):
        parse_scenario(yaml.safe_dump(data))


def test_trust_stays_within_unit_interval():
    """Trust stays within [0, 1] in every replicate, with full weekly recovery and harsh incidents."""
    data = _tiny()
    data["summit"]["date"] = "2020-03-04"
    data["relations"]["trust"]["weekly_recovery"] = 1.0
    data["incidents"] = [{"name": "clash", "rate_per_month": 2.0,
                          "effects": [{"target": "trust", "shift": -0.2}]}]
    _, state, _ = _run(data)
    assert np.all((state.trust >= 0.0) & (state.trust <= 1.0))


@settings(max_examples=20)
@given(scenarios(max_events=2, max_incidents=2))
def test_trust_stays_within_unit_interval_for_drawn_scenarios(scenario):
    """Trust stays within [0, 1] in every replicate of drawn scenarios (recovery shares within [0, 1])."""
    _, state, _ = _run(scenario.model_dump(mode="json"), seed=5)
    assert np.all((state.trust >= 0.0) & (state.trust <= 1.0))


# --- The diplomacy engine -------------------------------------------------------------


@settings(max_examples=30)
@given(scenarios(max_events=2, max_incidents=1))
def test_positions_stay_within_domestic_bounds(scenario):
    """Every agent's position stays within its domestic bounds every week, whatever the scenario."""
    model, state, traj = _run(scenario.model_dump(mode="json"), seed=3, trajectory=True)
    eps = 1e-6  # the trajectory is float32
    assert np.all(traj >= model.lower[None] - eps) and np.all(traj <= model.upper[None] + eps)
    assert np.all(state.position >= model.lower) and np.all(state.position <= model.upper)


@settings(max_examples=60)
@given(st.data())
def test_engine_step_keeps_positions_within_bounds(data):
    """One engine step after any change of ideals, rate and resolve leaves positions within bounds."""
    model, state, _ = state_of(scenario_of(small_dict()), seed=data.draw(st.integers(0, 5)))
    lo = np.array(data.draw(st.lists(st.floats(0, 0.5), min_size=6, max_size=6))).reshape(3, 2, 1)
    hi = lo + np.array(data.draw(st.lists(st.floats(0, 0.5), min_size=6, max_size=6))).reshape(3, 2, 1)
    model = dataclasses.replace(model, lower=lo, upper=hi)
    state.position[:] = np.clip(state.position, lo, hi)
    state.rate[:] = data.draw(st.floats(0.0, 1.0))
    resolve = np.full((model.n_agents, state.n), data.draw(st.floats(0.0, 1.0)))
    engine = Convergence(model, state.n)
    engine.start(state, resolve)
    rng = np.random.default_rng(data.draw(st.integers(0, 1000)))
    state.ideal += rng.normal(0, data.draw(st.floats(0.0, 5.0)), state.ideal.shape)
    engine.step(state, 7.0, resolve)
    assert np.all(state.position >= lo) and np.all(state.position <= hi)


@settings(max_examples=30)
@given(st.floats(0.0, 1.0), st.lists(st.floats(0.0, 5.0), min_size=3, max_size=3),
       st.floats(0.0, 1.0))
def test_no_noise_and_agreement_means_nothing_moves(x, capabilities, rate):
    """With no noise and every agent at the same position on every issue, no position moves."""
    data = _tiny()
    data["dynamics"] = {"rate": rate, "noise": 0.0}
    for agent, cap in zip(("ally", "other", "patron"), capabilities):
        data["agents"][agent]["capability"] = cap
        for stance in data["agents"][agent]["issues"].values():
            stance["position"] = x
    data["relations"]["alliances"] = [{"agent": "ally", "patron": "patron", "issues": ["trade"],
                                       "pull": 0.3, "cost": 0.1}]
    model, state, traj = _run(data, trajectory=True)
    np.testing.assert_allclose(state.position, x, rtol=0, atol=1e-12)
    np.testing.assert_allclose(traj, np.float32(x), rtol=0, atol=0)


def test_agreement_at_a_half_is_exactly_still():
    """With no noise and every agent at 0.5 (exact in binary), positions stay exactly at 0.5."""
    data = _tiny()
    for agent in data["agents"].values():
        for stance in agent["issues"].values():
            stance["position"] = 0.5
    _, state, _ = _run(data)
    assert np.all(state.position == 0.5)


def _patron_moves(**dynamics) -> dict:
    """_tiny with an alliance on trade, the ally at 0.4, the patron at 1.0, and the patron's
    position moved to 0.7 on day 2 (before the first tick, day 4)."""
    data = _tiny()
    data["dynamics"] = {"rate": 0.0, "noise": 0.0, **dynamics}
    data["agents"]["ally"]["issues"]["trade"]["position"] = 0.4
    data["relations"]["alliances"] = [{"agent": "ally", "patron": "patron", "issues": ["trade"],
                                       "pull": 0.1, "cost": 0.0}]
    data["events"] = [{"name": "patron_softens", "date": "2020-01-03", "source": "test",
                       "effects": [{"target": "position", "agent": "patron", "issue": "trade", "shift": -0.3}]}]
    return data


def test_alliance_pull_makes_the_ally_follow_the_patron():
    """When the patron moves, the ally follows a share `pull` of the remaining way each week,
    to where it keeps its old distance from the patron; nothing else moves."""
    model, state, traj = _run(_patron_moves(), trajectory=True)
    ally, patron = model.agents.index("ally"), model.agents.index("patron")
    trade, land = model.issues.index("trade"), model.issues.index("land")
    weeks = np.arange(model.weeks)  # row 0: the start, before the event
    np.testing.assert_allclose(traj[1:, ally, trade, 0], 0.1 + 0.3 * 0.9 ** weeks[1:], atol=1e-6)
    assert np.all(traj[1:, patron, trade, :] == np.float32(0.7))  # the patron stays where the event put it
    assert np.all(state.position[ally, land] == 0.2)  # the ally does not move on other issues


def test_nothing_moves_until_something_happens():
    """The log of positions: unchanged at every tick before the event, moving after it."""
    data = _patron_moves(rate=0.2)
    data["events"][0]["date"] = "2020-01-20"  # day 19: after the ticks of days 4, 11 and 18
    model, state, traj = _run(data, trajectory=True)
    ticks = np.array((0,) + model.ticks)
    before, after = ticks <= 18, ticks > 19
    assert np.all(traj[before] == traj[0])
    assert np.all(np.any(traj[after] != traj[0], axis=(1, 2)))


def test_a_shift_of_ideal_moves_the_equilibrium_and_a_shift_of_position_decays():
    """Without pressure from others (capability 0), an agent pushed off its position returns
    toward it; one whose ideal moved goes to the new ideal."""
    data = _tiny()
    data["dynamics"] = {"rate": 0.5, "noise": 0.0}
    for agent in data["agents"].values():
        agent["capability"] = 0.0
        agent["resolve"] = 1.0
    data["events"] = [{"name": "shock", "date": "2020-01-02", "source": "test", "effects": [
        {"target": "position", "agent": "ally", "issue": "land", "shift": 0.4},
        {"target": "ideal", "agent": "other", "issue": "land", "shift": -0.4}]}]
    model, state, traj = _run(data, trajectory=True)
    ally, other, land = model.agents.index("ally"), model.agents.index("other"), model.issues.index("land")
    np.testing.assert_allclose(traj[1:, ally, land, 0], 0.2 + 0.4 * 0.5 ** np.arange(1, model.weeks), atol=1e-6)
    np.testing.assert_allclose(traj[1:, other, land, 0], 0.5 + 0.4 * 0.5 ** np.arange(1, model.weeks), atol=1e-6)


def test_effects_of_two_arrivals_in_one_replicate_add_up():
    """Two arrivals in the same replicate in one week both count: shifts add, and a
    cancelling arrival is not undone by a non-cancelling one listed after it."""
    from sim.model import CompiledEffect
    from sim.timeline import apply_effect

    model, state, _ = state_of(scenario_of(small_dict()))
    state.trust[:] = 0.5
    idx = np.array([3, 3, 5])
    apply_effect(model, state, CompiledEffect("trust", -1, -1, (0,), 0.0, 1.0), idx, np.array([0.1, 0.2, -0.1]))
    assert state.trust[0, 3] == pytest.approx(0.8) and state.trust[0, 5] == pytest.approx(0.4)
    state.cancelled[:] = False
    apply_effect(model, state, CompiledEffect("cancel", -1, -1, (), 0.0, 1.0), idx, np.array([True, False, False]))
    assert state.cancelled[3] and not state.cancelled[5] and state.cancelled.sum() == 1
