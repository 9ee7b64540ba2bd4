"""The summit: acceptance against no deal, the Nash bargaining pick, roles, and the no-deal and collapse cases."""

from __future__ import annotations

import copy
import itertools

import numpy as np
import pytest
from conftest import run_replicates, scenario_of, small_dict, state_of
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.model import BREAKTHROUGH, COLLAPSE, SUBSTANTIVE, TALK_FEST
from sim.summit import bargain, record_summit, settle


def _reference_settle(values, n_anchors, threshold, walk, in_bounds, needed, active, weight):
    """settle, written plainly over the whole menu, replicate by replicate: the oracle of the
    compiled kernel. weight (D, n): a replicate whose active weights are all 1 takes the product
    of the surpluses, any other the weighted sum of their logs."""
    D, I, W, n = values.shape
    menu = list(itertools.product(*(range(k) for k in n_anchors)))
    best, accepts = np.full(n, -1), np.zeros((D, n), dtype=bool)
    for r in range(n):
        top = -np.inf
        for p, digits in enumerate(menu):
            v = [sum(values[d, k, digits[k], r] for k in range(I)) if I else 0.0 for d in range(D)]
            ok_d = [all(in_bounds[d, k, digits[k]] for k in range(I)) and v[d] >= threshold[d, r] for d in range(D)]
            if not all(ok_d[d] for d in range(D) if needed[d]):
                continue
            if all(weight[d, r] == 1.0 for d in range(D) if active[d]):
                score = np.prod([v[d] - walk[d, r] for d in range(D) if active[d]])
            else:
                score = sum(weight[d, r] * np.log(max(v[d] - walk[d, r], 1e-300)) for d in range(D) if active[d])
            if score > top:
                top, best[r] = score, p
                accepts[:, r] = ok_d
    return best, accepts


@settings(max_examples=60)
@given(st.data())
def test_compiled_menu_search_equals_the_plain_reference(data):
    """The prefix-sum kernel picks the same package and acceptances as a plain loop over the menu,
    with weights of 1, fixed weights, or weights drawn per replicate (some replicates all 1)."""
    D = data.draw(st.integers(1, 3))
    n_anchors = np.array(data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=3)), dtype=np.int64)
    I, W, n = len(n_anchors), int(n_anchors.max()), data.draw(st.integers(1, 4))
    rng = np.random.default_rng(data.draw(st.integers(0, 10_000)))
    values = np.round(rng.normal(0, 0.3, (D, I, W, n)), 2)  # rounding makes ties, which must go to the first
    threshold = np.round(rng.uniform(-0.2, 0.3, (D, n)), 2)
    walk = np.minimum(threshold - 0.01, np.round(rng.uniform(-0.2, 0.2, (D, n)), 2))
    in_bounds = rng.random((D, I, W)) < 0.8
    needed = rng.random(D) < 0.8
    active = rng.random(D) < 0.7
    how = data.draw(st.sampled_from(["one", "fixed", "drawn"]))
    weight = {"one": np.ones((D, n)), "fixed": np.repeat(rng.uniform(0.5, 2, (D, 1)), n, axis=1),
              "drawn": np.where(rng.random((D, n)) < 0.5, 1.0, rng.uniform(0.5, 2, (D, n)))}[how]
    weight = np.where(active[:, None], weight, 0.0)
    best = np.full(n, -1, dtype=np.int64)
    accepts = np.zeros((D, n), dtype=bool)
    settle(values, n_anchors, threshold, walk, in_bounds, needed, active, weight, best, accepts)
    ref_best, ref_accepts = _reference_settle(values, n_anchors, threshold, walk, in_bounds, needed, active, weight)
    assert np.array_equal(best, ref_best)
    assert np.array_equal(accepts, ref_accepts)


def test_compiled_menu_search_equals_the_plain_reference_across_tiles():
    """The kernel works through the replicates a tile of 1,024 at a time, and the property above
    draws at most 4: here 2,053 replicates (two whole tiles and a part), each checked. The first
    tile has weights of 1 only, the second drawn weights only, the last both."""
    from sim.summit import _TILE

    rng = np.random.default_rng(17)
    D, n_anchors, n = 3, np.array([3, 2, 3], dtype=np.int64), 2 * _TILE + 5
    values = np.round(rng.normal(0, 0.3, (D, 3, 3, n)), 2)
    threshold = np.round(rng.uniform(-0.2, 0.3, (D, n)), 2)
    walk = np.minimum(threshold - 0.01, np.round(rng.uniform(-0.2, 0.2, (D, n)), 2))
    in_bounds = np.ones((D, 3, 3), dtype=bool)
    in_bounds[2, 0, 2] = False
    needed, active = np.array([True, True, False]), np.array([True, True, False])
    weight = np.vstack([np.ones((2, n)), np.zeros((1, n))])
    weight[:2, _TILE:] = rng.uniform(0.5, 2.0, (2, n - _TILE))
    weight[:2, 2 * _TILE + 2:] = 1.0
    best, accepts = np.full(n, -1, dtype=np.int64), np.zeros((D, n), dtype=bool)
    settle(values, n_anchors, threshold, walk, in_bounds, needed, active, weight, best, accepts)
    ref_best, ref_accepts = _reference_settle(values, n_anchors, threshold, walk, in_bounds, needed, active, weight)
    assert len(set(ref_best[_TILE:].tolist())) > 3 and -1 in ref_best[_TILE:]  # many packages, and no deal
    assert np.array_equal(best, ref_best) and np.array_equal(accepts, ref_accepts)


# --- A two-agent case with a closed form ------------------------------------------


def _two_agents(b_bounds=(0.0, 1.0), loss_aversion=1.0, credibility=0.0, trust=1.0, margin=0.05) -> dict:
    """Agent a wants x = 1, y = 0 (saliences 0.8, 0.2); b wants x = 0, y = 1 (0.4, 0.6); the status
    quo is (0, 0); resolve 0, no noise, nothing moves before the summit."""
    return {
        "name": "two",
        "calendar": {"start": "2020-01-01", "vantage": "2020-01-01"},
        "issues": {"x": {"anchors": {"none": 0.0, "half": 0.5, "full": 1.0}, "status_quo": 0.0},
                   "y": {"anchors": {"no": 0.0, "yes": 1.0}, "status_quo": 0.0}},
        "agents": {
            "a": {"capability": 1.0, "resolve": 0.0,
                  "issues": {"x": {"position": 1.0, "salience": 0.8}, "y": {"position": 0.0, "salience": 0.2}}},
            "b": {"capability": 1.0, "resolve": 0.0,
                  "issues": {"x": {"position": 0.0, "salience": 0.4, "bounds": list(b_bounds)},
                             "y": {"position": 1.0, "salience": 0.6}}},
        },
        "relations": {"trust": {"between": ["a", "b"], "initial": trust}},
        "summit": {"parties": ["a", "b"], "date": "2020-02-01",
                   "cancellation": {"base_probability": 0.0, "trust_below": 0.0},
                   "bargaining": {"margin": margin, "loss_aversion": loss_aversion, "credibility": credibility}},
        "dynamics": {"rate": 0.0, "noise": 0.0},
        "outcome": {"breakthrough": [{"issue": "x", "at_least": 1.0}],
                    "substantive": [{"issue": "y", "at_least": 1.0}]},
    }


def _settle(data: dict, cancelled: bool = False, trust: float | None = None):
    """The summit of one block, met on day 31 with the state as drawn."""
    model, state, blocks = state_of(scenario_of(data))
    if cancelled:
        state.cancelled[:] = True
    if trust is not None:
        state.trust[:] = trust
    state.summit_day[:] = 31
    record_summit(model, state, np.arange(state.n))
    bargain(model, state, blocks)
    return model, state


def _picked(model, state) -> set[str]:
    """The deals made, named by their levels as "x/y" (e.g. "full/yes"), or "none"."""
    names = {0.0: "none", 0.5: "half", 1.0: "full"}, {0.0: "no", 1.0: "yes"}
    x, y = model.issues.index("x"), model.issues.index("y")
    return {"none" if p < 0 else f"{names[0][model.packages[p, x]]}/{names[1][model.packages[p, y]]}"
            for p in state.package.tolist()}


def test_two_agent_pick_matches_hand_computation():
    """Gains and losses against no deal, weighed 1:1, margin 0.05: the Nash pick is the one computed by hand."""
    # Values against (0, 0), a: x 0.8 l, y -0.2 l; b: x -0.4 l, y 0.6 l.
    # (.5,1): a .2, b .4 -> (.2-0)(.4-0) = .08; (1,1): a .6, b .2 -> .12; (0,1) a -.2, (.5,0), (1,0) b < 0.
    model, state = _settle(_two_agents())
    assert _picked(model, state) == {"full/yes"}
    assert np.all(state.outcome == BREAKTHROUGH)


def test_loss_aversion_moves_the_pick_to_smaller_concessions():
    """Losses weighing 1.5 times gains: b's concession on x costs more and the pick is (half, yes)."""
    # (.5,1): a .4 - .3 = .1, b -.3 + .6 = .3 -> .03; (1,1): b -.6 + .6 = 0 < margin.
    model, state = _settle(_two_agents(loss_aversion=1.5))
    assert _picked(model, state) == {"half/yes"}
    assert np.all(state.outcome == SUBSTANTIVE)


def test_a_domestic_bound_excludes_packages_past_it():
    """When b cannot concede x above 0.5 the best package inside that bound is chosen."""
    model, state = _settle(_two_agents(b_bounds=(0.0, 0.5)))
    assert _picked(model, state) == {"half/yes"}


def test_distrust_discounts_promised_gains_until_no_deal_is_left():
    """With credibility 1 and trust 0.5, every gain counts half: no package beats no deal for both."""
    # (1,1): a .4 - .2 = .2, b -.4 + .3 = -.1; (.5,1): a .2 - .2 = 0 < margin.
    model, state = _settle(_two_agents(credibility=1.0, trust=0.5))
    assert _picked(model, state) == {"none"}
    assert np.all(state.outcome == TALK_FEST)


def test_no_acceptable_package_is_a_talk_fest():
    """When no package beats no deal by the margin for both parties, the meeting is a talk fest."""
    model, state = _settle(_two_agents(margin=0.9))
    assert np.all(state.package == -1)
    assert np.all(state.outcome == TALK_FEST)


def test_walking_away_worth_more_than_a_deal_blocks_it():
    """A party for which walking away is worth 0.5 accepts nothing worth less than 0.55."""
    data = _two_agents()
    data["agents"]["b"]["walk_away"] = 0.5
    model, state = _settle(data)
    assert _picked(model, state) == {"none"}


def test_resolve_raises_the_price_of_a_concession():
    """Resolve 0.5 makes b's losses weigh 1.5 times: the same pick as loss aversion 1.5 for b."""
    data = _two_agents()
    data["agents"]["b"]["resolve"] = 0.5
    model, state = _settle(data)
    assert _picked(model, state) == {"half/yes"}


def test_cancelled_visit_is_a_collapse():
    """A visit called off ends in collapse with no deal, even when a deal was available."""
    model, state = _settle(_two_agents(), cancelled=True)
    assert np.all(state.package == -1)
    assert np.all(state.outcome == COLLAPSE)


def test_trust_below_threshold_is_a_collapse():
    """Trust below the cancellation threshold at the summit ends in collapse."""
    data = _two_agents()
    data["summit"]["cancellation"]["trust_below"] = 0.1
    model, state = _settle(data, trust=0.05)
    assert np.all(state.outcome == COLLAPSE) and np.all(state.package == -1)


# --- Several parties and roles ---------------------------------------------------------------


def _three() -> dict:
    """_two_agents plus c, who wants y = 1 but x = 0.5, as a third party."""
    data = _two_agents()
    data["agents"]["c"] = {"capability": 1.0, "resolve": 0.0,
                           "issues": {"x": {"position": 0.5, "salience": 0.6}, "y": {"position": 1.0, "salience": 0.4}}}
    data["summit"]["parties"] = ["a", "b", "c"]
    data["relations"]["trust"]["between"] = ["a", "b", "c"]
    return data


def test_a_third_party_must_accept_and_enters_the_nash_product():
    """With c as a required party the product of three surpluses picks (half, yes), which c prefers."""
    # c: x value .6(.5 - |l - .5|): 0 -> 0, .5 -> .3, 1 -> 0; y .4 l. (.5,1): a .2, b .4, c .7 -> .056;
    # (1,1): a .6, b .2, c .4 -> .048.
    model, state = _settle(_three())
    assert _picked(model, state) == {"half/yes"}
    assert np.all(state.signed)


def test_an_optional_party_signs_only_what_it_accepts():
    """An optional party does not shape the pick; it signs the deal when the deal beats no deal for it."""
    data = _three()
    data["summit"]["required"] = ["a", "b"]
    data["agents"]["c"]["walk_away"] = 0.6  # c now needs 0.65: (1, 1) gives it 0.4
    model, state = _settle(data)
    assert _picked(model, state) == {"full/yes"}
    c = list(model.parties).index(model.agents.index("c"))
    assert not state.signed[c].any() and state.signed[[k for k in range(3) if k != c]].all()


def test_a_signed_condition_in_the_rubric_reads_who_signed():
    """A breakthrough that needs c's signature is not one when c does not sign."""
    data = _three()
    data["summit"]["required"] = ["a", "b"]
    data["agents"]["c"]["walk_away"] = 0.6
    data["outcome"]["breakthrough"] = [{"all": [{"issue": "x", "at_least": 1.0}, {"signed": ["c"]}]}]
    model, state = _settle(data)
    assert np.all(state.outcome == SUBSTANTIVE)


def test_a_veto_player_blocks_what_it_does_not_accept():
    """A veto player who loses on x blocks any x above the status quo; it signs nothing."""
    data = _two_agents()
    data["agents"]["v"] = {"capability": 1.0, "resolve": 0.0,
                           "issues": {"x": {"position": 0.0, "salience": 0.9}, "y": {"position": 1.0, "salience": 0.1}}}
    data["roles"] = {"veto": ["v"]}
    model, state = _settle(data)
    assert _picked(model, state) == {"none"}  # (0, 1) is the only package v accepts, and a rejects it
    assert state.signed.shape[0] == 2


def test_a_mediator_lowers_the_cost_of_agreeing():
    """A margin of 0.3 leaves no deal; a mediator removing two thirds of it brings back (1, 1)."""
    data = _two_agents(margin=0.3)
    model, state = _settle(data)
    assert _picked(model, state) == {"none"}
    data["agents"]["m"] = {"capability": 0.0, "resolve": 0.0,
                           "issues": {"x": {"position": 0.5, "salience": 0.5}, "y": {"position": 0.5, "salience": 0.5}}}
    data["roles"] = {"mediators": [{"agent": "m", "margin": 2 / 3}]}
    model, state = _settle(data)
    assert _picked(model, state) == {"full/yes"}


def test_a_mediator_restores_trust_at_the_table():
    """Distrust that kills every deal is offset by a mediator who closes the gap to full trust."""
    data = _two_agents(credibility=1.0, trust=0.5)
    data["agents"]["m"] = {"capability": 0.0, "resolve": 0.0,
                           "issues": {"x": {"position": 0.5, "salience": 0.5}, "y": {"position": 0.5, "salience": 0.5}}}
    data["roles"] = {"mediators": [{"agent": "m", "trust": 1.0}]}
    model, state = _settle(data)
    assert _picked(model, state) == {"full/yes"}


def test_two_parties_with_a_party_that_accepts_everything_leaves_the_others_pick():
    """A third party that gains whatever happens (walk_away -1) and weighs nothing leaves the dyad's pick."""
    data = _three()
    data["agents"]["c"]["walk_away"] = -1.0
    data["summit"]["weights"] = {"c": 1e-6}
    model, state = _settle(data)
    two_model, two_state = _settle(_two_agents())
    assert _picked(model, state) == _picked(two_model, two_state)


# --- Statistical ------------------------------------------------------------------


def test_widening_south_land_bound_does_not_lower_deals():
    """Widening south's land bound from [0, 0.5] to [0, 1] does not lower P(deal) beyond sampling
    error (paired, same seed, 20,000 runs, tolerance 3 paired standard errors)."""
    base = small_dict()
    wide = copy.deepcopy(base)
    wide["agents"]["south"]["issues"]["land"]["bounds"] = [0.0, 1.0]
    a = run_replicates(scenario_of(base), runs=20_000, seed=2016)
    b = run_replicates(scenario_of(wide), runs=20_000, seed=2016)
    diff = (b.package >= 0).astype(float) - (a.package >= 0).astype(float)
    se = diff.std(ddof=1) / np.sqrt(len(diff))
    assert diff.mean() >= -3 * max(se, 1e-12)
    assert (a.package >= 0).mean() == pytest.approx(0.91, abs=0.03)  # the test exercises deals


# --- Nash weights, fixed, drawn and moved by a knob ----------------------------------------
# In `_two_agents` the pick is full/yes at weights 1 (0.6 x 0.2 beats 0.2 x 0.4); weighted, it is
# half/yes once b's weight w passes ln 3 / ln 2 = 1.585 (ln .2 + w ln .4 = ln .6 + w ln .2).


def test_a_weight_on_the_party_that_concedes_less_moves_the_pick():
    data = _two_agents()
    data["summit"]["weights"] = {"b": 2.0}
    assert _picked(*_settle(data)) == {"half/yes"}
    data["summit"]["weights"] = {"b": 1.5}
    assert _picked(*_settle(data)) == {"full/yes"}


def test_a_weight_may_be_a_distribution_drawn_once_a_replicate():
    """Weights were numbers only, so a knob could not act on them and an analyst unsure of the
    balance of power could not say so. Drawn uniform in [1, 3], b's weight passes 1.585 in 70.75 %
    of replicates, which pick half/yes; the rest pick full/yes."""
    data = _two_agents()
    data["summit"]["weights"] = {"b": {"dist": "uniform", "low": 1.0, "high": 3.0}}
    model, state = _settle(data)
    share = np.mean(state.package == model.packages.tolist().index(
        [0.5 if i == "x" else 1.0 for i in model.issues]))
    assert abs(share - (3 - np.log(3) / np.log(2)) / 2) < 4 * np.sqrt(0.71 * 0.29 / state.n)
    assert _picked(model, state) == {"half/yes", "full/yes"}


def test_a_knob_on_a_partys_weight_by_its_role_moves_the_pick():
    """`summit.weights.{summit.parties[1]}` named no number drawn per replicate; it is one now."""
    from sim import run
    from sim.knobs import KnobSetting, KnobSpec

    knob = KnobSpec.model_validate({"name": "w", "path": "summit.weights.{summit.parties[1]}",
                                    "prior": {"dist": "uniform", "low": 0.5, "high": 3.0}, "levels": 3})
    scenario = scenario_of(_two_agents())
    for weight, deal in ((2.0, {"half/yes"}), (1.0, {"full/yes"})):
        result = run(scenario, runs=1024, seed=1, knobs=KnobSetting.constant((knob,), [weight]))
        assert {name for name, n in zip(result.model.package_names, result.package_counts) if n} == deal


@pytest.mark.parametrize("weight", [0.0, -1.0, 2e6, {"dist": "uniform", "low": 0.0, "high": 2.0}])
def test_a_weight_not_above_0_or_above_1e6_is_refused(weight):
    import yaml

    from sim import InputError, parse_scenario

    data = _two_agents()
    data["summit"]["weights"] = {"a": weight}
    with pytest.raises(InputError) as err:
        parse_scenario(yaml.safe_dump(data))
    assert "summit.weights.a" in str(err.value) and "(0, 1e+06]" in str(err.value)
