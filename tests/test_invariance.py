"""Invariances the forecast must have by construction (README, "Invariances"): it carries the
evidence in a scenario, not the model's structure.

Exact, on drawn scenarios: an issue nobody cares about, an agent with no weight, renaming agents
and issues, and listing in another order whatever the model does not read the order of (the
parties and roles among it) change no replicate: its class, its deal, its summit day, the
positions. Exact at the summit, positions fixed, on drawn scenarios: less resolve or loss
aversion, more trust or a lower bar never removes an acceptable package; on one issue, moving one
of two parties toward the other never removes the deal under the README's conditions, each of
which a file in tests/data/monotone/ shows is needed. Statistical (slow, paired replicates):
quiet time added before anything happens, and moving a party toward the other or lowering its
resolve, never lower P(a deal) beyond Monte Carlo error.
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
from pathlib import Path

import numpy as np
import pytest
from conftest import run_replicates, scenario_of, small_dict, state_of
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sim.canonical import inputs_hash, make_canon
from sim.loading import load_scenario
from sim.schema import Scenario
from sim.strategies import scenario_dicts
from sim.strategies.references import rename
from sim.timeline import apply_effect

BASELINE = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.yaml"
RUNS = 2048


def _outcomes(data: dict, seed: int = 7, runs: int = RUNS) -> np.ndarray:
    return run_replicates(scenario_of(data), runs=runs, seed=seed).outcome


def _plain(data: dict) -> dict:
    """A drawn scenario as validated data (dates as dates), so it can be edited and validated again."""
    return Scenario.model_validate(data).model_dump(mode="python", exclude_defaults=True)


# --- Renaming and reordering ------------------------------------------------------------------
# Renamed by `sim.strategies.references.rename`: every field that names an agent or an issue is in
# its one table, which tests/test_references.py checks against the schema.


def _reordered(data: dict, perm) -> dict:
    """The same scenario with every list and mapping whose order the model says does not matter
    listed in the order `perm` gives (a list of the items in, a list out): the issues, their
    anchors, the agents, their stances and elections, `summit.parties`, `required` and `weights`,
    the veto players and mediators (whose shares of trust and margin compose in the order written:
    a rounding error at most, which 60,000 replicates of two mediators never showed), the trust entries and the agents each names, the alliances and
    their issues, the events, the incidents, the rubric's conditions (in each class and each any
    and all) and its `signed` lists. None of these orders
    is read by the model: the engine works in canonical order (`sim.canonical`), parties and veto
    players are sorted into it, events run by date then name, incidents by name, and the summit
    has no proposer (every package is weighed at once, ties to the first in menu order, the menu
    ordered by the anchors' levels), and a rubric's any and all read no order.

    Left as written: the effects of one event or incident, whose order matters (they draw from
    their stream and apply one after another, each clipped to its bounds)."""
    d = copy.deepcopy(data)
    d["issues"] = {k: {**v, "anchors": dict(perm(v["anchors"].items()))} for k, v in perm(d["issues"].items())}
    agents = {}
    for name, agent in perm(d["agents"].items()):
        agent = {**agent, "issues": dict(perm(agent["issues"].items()))}
        if "elections" in agent:
            agent["elections"] = perm(agent["elections"])
        agents[name] = agent
    d["agents"] = agents
    trust = d["relations"]["trust"]
    for entry in trust if isinstance(trust, list) else [trust]:
        entry["between"] = perm(entry["between"])
    if isinstance(trust, list):
        d["relations"]["trust"] = perm(trust)
    if "alliances" in d["relations"]:
        for al in d["relations"]["alliances"]:
            al["issues"] = perm(al["issues"])
        d["relations"]["alliances"] = perm(d["relations"]["alliances"])
    s = d["summit"]
    for key in ("parties", "required"):
        if key in s:
            s[key] = perm(s[key])
    if "weights" in s:
        s["weights"] = dict(perm(s["weights"].items()))
    roles = d.get("roles", {})
    for key in ("veto", "mediators"):
        if key in roles:
            roles[key] = perm(roles[key])
    for key in ("events", "incidents"):
        if key in d:
            d[key] = perm(d[key])

    def conditions(items: list) -> list:
        for c in items:
            if "signed" in c:
                c["signed"] = perm(c["signed"])
            for key in ("all", "any"):
                if key in c:
                    c[key] = conditions(c[key])
        return perm(items)

    for cls in ("breakthrough", "substantive"):
        d["outcome"][cls] = conditions(d["outcome"][cls])
    return d


def _reversed(data: dict) -> dict:
    """Every order that does not matter reversed."""
    return _reordered(data, lambda items: list(reversed(list(items))))


def _shuffled(data: dict, draw) -> dict:
    """Every order that does not matter drawn (`draw`: hypothesis's `st.data()`)."""
    return _reordered(data, lambda items: list(draw.draw(st.permutations(list(items)))))


def _open_summit(data: dict) -> dict:
    """`data` with deals within reach: no domestic bounds, no `walk_away`, no cancellation, and a
    deviation of 0.2 on the summit day so the chosen package varies. Most drawn scenarios end every
    replicate alike (each collapses, or never strikes a deal; 94 % saw one package at most), which
    leaves the summit, where the parties' order could matter, untested."""
    d = copy.deepcopy(data)
    for agent in d["agents"].values():
        agent.pop("walk_away", None)
        for stance in agent["issues"].values():
            stance.pop("bounds", None)
    d["summit"]["cancellation"] = {"base_probability": 0.0, "trust_below": 0.0}
    d["dynamics"] = {**d.get("dynamics", {}), "noise": 0.2}
    return d


def _renaming_and_reordering_changes_nothing(data: dict, draw) -> None:
    """Every agent and issue of a drawn scenario renamed (so their sorted order changes) and
    everything whose order does not matter listed in a drawn order (`_shuffled`): every
    replicate ends the same."""
    data = _plain(data)
    if draw.draw(st.booleans(), label="open the summit"):
        data = _open_summit(data)
    new_agents = draw.draw(st.permutations([f"x{k}" for k in range(len(data["agents"]))]))
    new_issues = draw.draw(st.permutations([f"y{k}" for k in range(len(data["issues"]))]))
    renamed = rename(data, dict(zip(data["agents"], new_agents)), dict(zip(data["issues"], new_issues)))
    shuffled = _shuffled(renamed, draw)
    # --hypothesis-show-statistics: how often the orders the engine could trip on really move
    event(f"summit.parties reordered: {shuffled['summit']['parties'] != renamed['summit']['parties']}")
    event(f"agents reordered: {list(shuffled['agents']) != list(renamed['agents'])}")
    # the inputs hash, by which a posterior knows its fitted cases, ignores what the model ignores
    assert inputs_hash(scenario_of(shuffled)) == inputs_hash(scenario_of(data))
    before = run_replicates(scenario_of(data), runs=RUNS, seed=7)
    event(f"classes seen: {len(set(before.outcome.tolist()))}")
    event(f"deals seen: {min(len(set(before.package.tolist())), 3)}{'+' * (len(set(before.package.tolist())) >= 3)}")
    # the class alone is the same in every replicate of most drawn scenarios (all collapse, or no
    # deal is ever struck): the chosen package, the summit day and every agent's position on it,
    # in canonical order, are compared too
    after = run_replicates(scenario_of(shuffled), runs=RUNS, seed=7)
    assert before.same_as(after)


@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow])
@given(scenario_dicts(max_events=2, max_incidents=1), st.data())
def test_renaming_and_reordering_agents_and_issues_changes_nothing(data, draw):
    """Every agent and issue renamed (so their sorted order changes) and every listing whose order
    does not matter (the parties and roles among them) drawn anew: every replicate ends the same."""
    _renaming_and_reordering_changes_nothing(data, draw)


def _twinned(data: dict, draw) -> dict:
    """`data` with a twin of one of its agents: a copy in every role and relation, with its stances
    on two issues swapped where it has two, so that only which issue each stance is on tells the
    two apart (or nothing does). Such twins were ranked by name, and renaming swapped their random
    numbers; drawn scenarios almost never hold them by chance."""
    d = copy.deepcopy(data)
    x = draw.draw(st.sampled_from(sorted(d["agents"])), label="twinned agent")
    twin = next(name for name in ("twin", "twin_1", "twin_2", "twin_3") if name not in d["agents"])
    agent = copy.deepcopy(d["agents"][x])
    d["agents"][twin] = agent
    held = sorted(agent["issues"])
    if held and draw.draw(st.booleans(), label="twin issues"):
        # an issue copied (its weight split in two), on which x and its twin hold each other's
        # positions: only whom each stance is on tells x from the twin, and the issues apart
        i = draw.draw(st.sampled_from(held), label="copied issue")
        copied = next(name for name in ("copy", "copy_1", "copy_2") if name not in d["issues"])
        d["issues"][copied] = copy.deepcopy(d["issues"][i])
        other = draw.draw(st.sampled_from(sorted(d["issues"][i]["anchors"].values())), label="other position")
        for spec in d["agents"].values():
            if i in spec["issues"]:
                spec["issues"][i]["salience"] /= 2
                spec["issues"][copied] = copy.deepcopy(spec["issues"][i])
        for name, (on_i, on_copy) in ((x, (None, other)), (twin, (other, None))):
            stances = d["agents"][name]["issues"]
            written = stances[i]["position"]
            stances[i] = {**stances[i], "position": written if on_i is None else on_i}
            stances[copied] = {**stances[copied], "position": written if on_copy is None else on_copy}
            for stance in (stances[i], stances[copied]):
                stance.pop("bounds", None)
    elif len(held) >= 2:  # stances on two issues swapped: twins where those issues are alike
        i, j = draw.draw(st.permutations(held), label="swapped stances")[:2]
        agent["issues"][i], agent["issues"][j] = agent["issues"][j], agent["issues"][i]
    summit = d["summit"]
    for key in ("parties", "required"):
        if x in (summit.get(key) or ()):
            summit[key] = [*summit[key], twin]
    if x in summit.get("weights", {}):
        summit["weights"][twin] = copy.deepcopy(summit["weights"][x])
    roles = d.get("roles", {})
    if x in roles.get("veto", ()):
        roles["veto"] = [*roles["veto"], twin]
    roles.get("mediators", []).extend([{**copy.deepcopy(m), "agent": twin}
                                       for m in roles.get("mediators", []) if m["agent"] == x])
    relations = d.get("relations", {})
    trust = relations.get("trust")
    if isinstance(trust, list):  # entries of their own: the twin's copies, with the same others
        mine = [entry for entry in trust if x in entry["between"]]
        trust.extend([{**copy.deepcopy(entry), "between": [twin if name == x else name for name in entry["between"]]}
                      for entry in mine])
        if mine:  # and one between the two (summit parties each need one)
            trust.append({**copy.deepcopy(mine[0]), "between": [x, twin]})
    elif trust and x in trust["between"]:  # one entry among all it names
        trust["between"] = [*trust["between"], twin]
    relations.get("alliances", []).extend(
        [{**copy.deepcopy(al), **{role: twin for role in ("agent", "patron") if al[role] == x}}
         for al in relations.get("alliances", []) if x in (al["agent"], al["patron"])])
    return d


@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow])
@given(scenario_dicts(max_events=2, max_incidents=1), st.data())
def test_renaming_a_scenario_with_twins_changes_nothing(data, draw):
    """The renaming property on drawn scenarios given twins (`_twinned`)."""
    _renaming_and_reordering_changes_nothing(_twinned(_plain(data), draw), draw)


def test_listing_the_rubrics_conditions_in_another_order_changes_nothing():
    """A deal is a breakthrough if *any* breakthrough condition holds: their order is no part of the
    model. Two issues alike in every respect (anchors 0, 0.5, 1, status quo 0, both agents the same
    stance on each) but the rubric, `a >= 1` or `b >= 0.5`. sim.canonical ranked them by the rubric
    paths, which held each condition's index in its list: listed the other way round, a and b traded
    labels (and so their deviations on the summit day), and 145 of 1,024 replicates (seed 0) ended in
    another class, breakthrough 285 vs 302."""
    issue = {"anchors": {"lo": 0.0, "mid": 0.5, "hi": 1.0}, "status_quo": 0.0}
    stances = lambda x: {"a": {"position": x, "salience": 0.5}, "b": {"position": x, "salience": 0.5}}  # noqa: E731
    start = dt.date(2020, 1, 1)
    conditions = [{"issue": "a", "at_least": 1.0}, {"issue": "b", "at_least": 0.5}]

    def scenario(breakthrough: list) -> dict:
        return {"name": "rubric_order", "calendar": {"start": start, "vantage": start},
                "issues": {"a": issue, "b": issue},
                "agents": {"p": {"capability": 1.0, "resolve": 0.5, "issues": stances(1.0)},
                           "q": {"capability": 1.0, "resolve": 0.5, "issues": stances(0.25)}},
                "relations": {"trust": {"between": ["p", "q"], "initial": 1.0}},
                "summit": {"parties": ["p", "q"], "date": dt.date(2020, 1, 2),
                           "cancellation": {"base_probability": 0.0}},
                "outcome": {"breakthrough": breakthrough, "substantive": [{"issue": "a", "at_least": 0.0}]}}

    listed = _outcomes(scenario(conditions), seed=0, runs=1024)
    assert len(set(listed.tolist())) > 1  # the classes vary: there is something for the order to change
    assert np.array_equal(listed, _outcomes(scenario(conditions[::-1]), seed=0, runs=1024))


EUM = {"engines": ("eum",), "weights": True}


@settings(max_examples=15, suppress_health_check=[HealthCheck.too_slow])
@given(scenario_dicts(max_events=2, max_incidents=1, **EUM), st.data())
def test_under_eum_renaming_and_reordering_agents_and_issues_changes_nothing(data, draw):
    """The same under the eum engine (every variant and setting), with Nash weights on the parties."""
    _renaming_and_reordering_changes_nothing(data, draw)


@pytest.mark.slow
@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(scenario_dicts(**EUM), st.data())
def test_under_eum_renaming_and_reordering_many_drawn_scenarios_changes_nothing(data, draw):
    """The property above on more and larger drawn scenarios."""
    _renaming_and_reordering_changes_nothing(data, draw)


def test_renaming_the_baselines_agents_and_issues_changes_nothing():
    """The baseline with Japan and Russia, the islands and energy renamed, and every listing whose
    order does not matter reversed: every replicate the same."""
    data = load_scenario(BASELINE).model_dump(mode="python", exclude_defaults=True)
    renamed = rename(data, {"japan": "zz_tokyo", "russia": "aa_moscow", "g7": "m_group"},
                      {"islands": "zz_land", "energy": "a_power"})
    assert np.array_equal(_outcomes(data, runs=8192), _outcomes(_reversed(renamed), runs=8192))
    assert inputs_hash(scenario_of(_reversed(renamed))) == inputs_hash(scenario_of(data))


def test_the_inputs_hash_ignores_the_words_and_the_own_names_of_events_incidents_and_anchors():
    """A case reworded (a description, an event's source sentence) or with an event, an incident,
    an election or an anchor called otherwise is the same meeting: one inputs hash, by which a
    posterior knows it is a fitted case (it was forecast in sample as a new meeting)."""
    data = load_scenario(BASELINE).model_dump(mode="python", exclude_defaults=True)
    other = copy.deepcopy(data)
    for agent in other["agents"].values():
        agent["description"] = "reworded"
    for issue in other["issues"].values():
        issue["description"] = "reworded"
        issue["anchors"] = {f"a{k}": v for k, v in enumerate(issue["anchors"].values())}
    for k, ev in enumerate(other["events"]):
        ev.update(name=f"event_{k}", source="another sentence")
    for k, inc in enumerate(other.get("incidents", [])):
        inc.update(name=f"incident_{k}", description="reworded")
    for agent in other["agents"].values():
        for k, election in enumerate(agent.get("elections", [])):
            election.update(name=f"vote_{k}", source="another sentence")
    assert other != data
    assert inputs_hash(scenario_of(other)) == inputs_hash(scenario_of(data))


@pytest.mark.parametrize("change", ["capability", "effect order", "anchor level", "party", "weight"])
def test_the_inputs_hash_changes_with_any_number_or_order_the_model_reads(change):
    """The inputs hash ignores names and the orders the model does not read, and nothing else: a
    number, a party, or the order of one event's effects (which apply one after another) makes
    another hash, as it may make other replicates."""
    data = load_scenario(BASELINE).model_dump(mode="python", exclude_defaults=True)
    other = copy.deepcopy(data)
    if change == "capability":
        other["agents"]["g7"]["capability"] = 0.31
    elif change == "effect order":
        event_ = next(e for e in other["events"] if len(e["effects"]) > 1)
        event_["effects"].reverse()
    elif change == "anchor level":
        anchors = other["issues"]["islands"]["anchors"]
        anchors["joint_activity"] += 0.01
    elif change == "party":  # a deal that needs only Japan's signature: another summit, the same names
        other["summit"]["required"] = ["japan"]
    else:
        other["summit"]["weights"] = {p: 1.0 + (k == 0) for k, p in enumerate(other["summit"]["parties"])}
    assert inputs_hash(scenario_of(other)) != inputs_hash(scenario_of(data))


# --- Inert issues and agents ------------------------------------------------------------------


def _same_where_shared(data: dict, other: dict) -> None:
    """`data` and `other` (which adds an entity) run alike, replicate for replicate: the class,
    the summit day, the chosen package's level on every issue both have, and every shared agent's
    position on every shared issue. The class alone is the same in every replicate of most drawn
    scenarios, and so could not tell."""
    a = run_replicates(scenario_of(data), runs=RUNS, seed=7)
    b = run_replicates(scenario_of(other), runs=RUNS, seed=7)
    ma, mb = a.result.model, b.result.model
    assert np.array_equal(a.outcome, b.outcome) and np.array_equal(a.summit_day, b.summit_day)
    assert np.array_equal(a.package < 0, b.package < 0)
    issues = [i for i in ma.issues if i in mb.issues]
    agents = [g for g in ma.agents if g in mb.agents]
    levels = lambda reps, m: np.where(reps.package[:, None] < 0, np.nan, m.packages[reps.package][:, [m.issues.index(i) for i in issues]])  # noqa: E731
    assert np.array_equal(levels(a, ma), levels(b, mb), equal_nan=True)
    # An inert issue or agent already there (nothing weighs or names it) has the added one's role
    # and may trade labels, so random numbers, with it: its positions are left out. They change no
    # outcome.
    from sim.canonical import _is_inert_agent, _is_inert_issue

    s = ma.scenario
    issues = [i for i in issues if not _is_inert_issue(s, i)]
    agents = [g for g in agents if not _is_inert_agent(s, g)]
    at = lambda reps, m: reps.position[:, [m.agents.index(g) for g in agents]][:, :, [m.issues.index(i) for i in issues]]  # noqa: E731
    assert np.array_equal(at(a, ma), at(b, mb))
    event(f"deals seen: {min(len(set(a.package.tolist())), 3)}")


@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow])
@given(scenario_dicts(max_events=2, max_incidents=1), st.floats(0.0, 1.0), st.integers(2, 3), st.booleans())
def test_an_issue_nobody_cares_about_changes_nothing(data, level, anchors, open_summit):
    """A new issue on which every agent stands at the same level with salience 0: the same outcomes,
    deals (on the other issues) and positions."""
    data = _open_summit(_plain(data)) if open_summit else _plain(data)
    null = copy.deepcopy(data)
    values = [k / (anchors - 1) for k in range(anchors)]
    null["issues"]["zz_null"] = {"anchors": {f"a{k}": v for k, v in enumerate(values)}, "status_quo": values[0]}
    for agent in null["agents"].values():
        agent["issues"]["zz_null"] = {"position": level, "salience": 0.0}
    _same_where_shared(data, null)


@settings(max_examples=8, suppress_health_check=[HealthCheck.too_slow])
@given(scenario_dicts(max_agents=3, max_issues=2, max_events=2, max_incidents=1, **EUM), st.floats(0.0, 1.0))
def test_under_eum_an_issue_nobody_cares_about_changes_nothing(data, level):
    """The null issue under eum too, which the README does not except (only a capability-0
    agent is not inert there): the EUM's rounds run issue by issue, and an issue with every
    agent at one level moves no one, and no one else for it."""
    data = _plain(data)
    null = copy.deepcopy(data)
    null["issues"]["zz_null"] = {"anchors": {"a0": 0.0, "a1": 1.0}, "status_quo": 0.0}
    for agent in null["agents"].values():
        agent["issues"]["zz_null"] = {"position": level, "salience": 0.0}
    _same_where_shared(data, null)


def test_an_inert_issue_added_beside_one_that_only_an_alliance_weighs_changes_nothing():
    """Found while strengthening the property above to compare positions. Issue b, anchors 0 and 1,
    status quo 0, salience 0 for both parties, but p is q's client on b (cost 1), so p values b's
    level by q's position there: the alliance's cost weighs b at the summit (the alliance term of
    sim.summit.package_values is not salience-weighted). sim.canonical called b inert (salience 0
    everywhere), so zz_null (anchors 0 and 1, status quo 0, salience 0) shared its role, ranked before
    it and took its label: 512 of 1,024 replicates (seed 7) ended in another class."""
    start = dt.date(1950, 1, 1)
    stance = lambda a, b: {"a": {"position": a, "salience": 1.0}, "b": {"position": b, "salience": 0.0}}  # noqa: E731
    data = {"name": "inert", "calendar": {"start": start, "vantage": start},
            "issues": {i: {"anchors": {"lo": 0.0, "hi": 1.0}, "status_quo": 0.0} for i in ("a", "b")},
            "agents": {"p": {"capability": 1.0, "resolve": 0.0, "issues": stance(1.0, 0.0)},
                       "q": {"capability": 1.0, "resolve": 0.0, "issues": stance(1.0, 0.5)}},
            "relations": {"trust": {"between": ["p", "q"], "initial": 1.0},
                          "alliances": [{"agent": "p", "patron": "q", "issues": ["b"], "pull": 0.0, "cost": 1.0}]},
            "summit": {"parties": ["p", "q"], "date": dt.date(1950, 1, 2), "cancellation": {"base_probability": 0.0}},
            "outcome": {"breakthrough": [{"issue": "b", "at_least": 1.0}],
                        "substantive": [{"issue": "a", "at_least": 1.0}]}}
    null = copy.deepcopy(data)
    null["issues"]["zz_null"] = {"anchors": {"x": 0.0, "y": 1.0}, "status_quo": 0.0}
    for agent in null["agents"].values():
        agent["issues"]["zz_null"] = {"position": 0.0, "salience": 0.0}
    outcomes = _outcomes(data, runs=1024)
    assert len(set(outcomes.tolist())) > 1  # breakthrough or substantive, by the day's deviations
    assert np.array_equal(outcomes, _outcomes(null, runs=1024))


@pytest.mark.parametrize("how", ["incident", "knob"])
def test_an_agent_whose_every_salience_falls_to_0_keeps_caring_about_what_it_did(how):
    """Found by the property above: an incident taking an agent's only salient issue to 0 (or a
    knob setting every salience to 0) spread its attention evenly over all issues, a null issue
    included, so adding one changed outcomes. The agent keeps caring about what it cared about:
    the issue (the limit of smaller shifts), or its mean saliences."""
    from sim.knobs import KnobSetting, KnobSpec

    data = small_dict()
    south = data["agents"]["south"]["issues"]
    south["land"]["salience"], south["trade"]["salience"] = 1.0, 0.0
    knobs = None
    if how == "incident":
        data["incidents"] = [{"name": "wipe", "rate_per_month": 2.0,
                              "effects": [{"target": "salience", "agent": "south", "issue": "land", "shift": -1.0}]}]
    else:
        knob = KnobSpec.model_validate({"name": "k", "path": "agents.south.issues.*.salience", "kind": "set",
                                        "prior": {"dist": "uniform", "low": 0.0, "high": 1.0}, "values": [0.0]})
        knobs = KnobSetting.constant([knob], [0.0])
    null = copy.deepcopy(data)
    null["issues"]["zz_null"] = {"anchors": {"a": 0.0, "b": 1.0}, "status_quo": 0.0}
    for agent in null["agents"].values():
        agent["issues"]["zz_null"] = {"position": 0.5, "salience": 0.0}
    with_null = run_replicates(scenario_of(null), runs=RUNS, seed=7, knobs=knobs).outcome
    assert np.array_equal(run_replicates(scenario_of(data), runs=RUNS, seed=7, knobs=knobs).outcome, with_null)
    # and the saliences themselves: all on land, none on the null issue
    model, state, _ = state_of(scenario_of(null), knobs=knobs)
    a, land = model.agents.index("south"), model.issues.index("land")
    if how == "incident":
        effect = model.incidents[0].effects[0]
        apply_effect(model, state, effect, slice(None), np.full(state.salience.shape[-1], effect.shift))
    expected = np.zeros(model.n_issues)
    expected[land] = 1.0
    assert np.array_equal(state.salience[a], np.repeat(expected[:, None], state.salience.shape[-1], axis=1))


@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow])
@given(scenario_dicts(max_events=2, max_incidents=1), st.data())
def test_an_agent_with_no_weight_changes_nothing(data, draw):
    """A new agent with capability 0 and no role or alliance (it may trust someone): the same
    outcomes, deals and positions."""
    data = _plain(data)
    if draw.draw(st.booleans(), label="open the summit"):
        data = _open_summit(data)
    null = copy.deepcopy(data)
    null["agents"]["zz_null"] = {
        "capability": 0.0, "resolve": draw.draw(st.floats(0.0, 1.0)),
        "issues": {i: {"position": draw.draw(st.floats(0.0, 1.0)), "salience": 1.0 if k == 0 else 0.0}
                   for k, i in enumerate(data["issues"])}}
    if draw.draw(st.booleans()):
        trust = null["relations"]["trust"]
        entries = trust if isinstance(trust, list) else [trust]
        friend = draw.draw(st.sampled_from(sorted(data["agents"])))
        null["relations"]["trust"] = [*entries, {"between": [friend, "zz_null"], "initial": draw.draw(st.floats(0, 1))}]
    _same_where_shared(data, null)


def test_a_null_agent_beside_an_agent_of_no_capability_that_an_incident_names_changes_nothing(monkeypatch):
    """Found by the property above in CI: an agent of capability 0 that only an incident names
    (a_2) is not inert, but had the role of the inert ones (a_3, and the added null agent); the
    null agent, ranked before it, took its rank and so its random numbers, and its positions
    changed. An inert agent now shares no group with one that acts."""
    lo = dt.date(1950, 1, 1)
    flat = {"a": {"position": 0.0, "salience": 1.0}, "a_1": {"position": 0.0, "salience": 0.0}}
    data = {"name": "a", "calendar": {"start": lo, "vantage": lo},
            "issues": {i: {"anchors": {"a": 0.0, "a_1": 1.0}, "status_quo": 0.0} for i in ("a", "a_1")},
            "agents": {"a": {"capability": 0.0, "resolve": 0.0, "issues": copy.deepcopy(flat)},
                       "a_1": {"capability": 0.0, "resolve": 0.0, "issues": copy.deepcopy(flat)},
                       "a_2": {"capability": 0.0, "resolve": 1.0,
                               "issues": {"a": {"position": 0.0, "salience": 0.0},
                                          "a_1": {"position": 0.0, "salience": 1.0}}},
                       "a_3": {"capability": 0.0, "resolve": 0.0, "issues": copy.deepcopy(flat)}},
            "relations": {"trust": {"between": ["a_1", "a"], "initial": 0.0}},
            "summit": {"parties": ["a", "a_1"], "date": dt.date(1950, 1, 2),
                       "cancellation": {"base_probability": 0.0, "trust_below": 0.0}},
            "outcome": {"breakthrough": [{"issue": "a", "at_least": 0.0}],
                        "substantive": [{"issue": "a", "at_least": 0.0}]},
            "incidents": [{"name": "a", "rate_per_month": 0.0,
                           "effects": [{"target": "position", "agent": "a_2", "issue": "a", "shift": 0.0}]}]}
    null = copy.deepcopy(data)
    null["agents"]["zz_null"] = {"capability": 0.0, "resolve": 0.0, "issues": copy.deepcopy(flat)}
    monkeypatch.setitem(globals(), "event", lambda *args: None)  # hypothesis's statistics: none outside a test
    _same_where_shared(data, null)


def test_a_null_agent_beside_agents_of_no_weight_changes_nothing():
    """Found by the property above in CI: with every capability 0, the null agent's stances took
    part in ranking two issues of the same role, so the issues swapped random streams."""
    start = dt.date(1950, 1, 1)
    issues = {"a": {"anchors": {"a": 0.5, "a_1": 0.0}, "status_quo": 0.5},
              "a_1": {"anchors": {"a": 0.5, "a_1": 0.0}, "status_quo": 0.5}}
    stance = lambda xa, sa, xb, sb: {"a": {"position": xa, "salience": sa}, "a_1": {"position": xb, "salience": sb}}  # noqa: E731
    agents = {"a": stance(0.0, 0.0, 0.0, 1.0), "a_1": stance(0.0, 1.0, 0.0, 0.0), "a_2": stance(0.25, 1.0, 1.0, 0.0)}
    data = {"name": "a", "calendar": {"start": start, "vantage": start}, "issues": issues,
            "agents": {k: {"capability": 0.0, "resolve": 0.0, "issues": v} for k, v in agents.items()},
            "relations": {"trust": [{"between": list(p), "initial": 0.0}
                                    for p in (("a", "a_1"), ("a", "a_2"), ("a_1", "a_2"))]},
            "summit": {"parties": ["a", "a_1", "a_2"], "date": dt.date(1950, 1, 2),
                       "cancellation": {"base_probability": 0.0, "trust_below": 0.0},
                       "bargaining": {"margin": {"dist": "uniform", "low": 0.0, "high": 0.3}, "loss_aversion": 1.0,
                                      "credibility": 0.0}},
            "outcome": {"breakthrough": [{"issue": "a", "at_least": 0.0}], "substantive": [{"issue": "a", "at_least": 0.0}]},
            "monte_carlo": {"runs": 1, "seed": 0, "chunk_size": 1}}
    data = _plain(data)
    null = copy.deepcopy(data)
    null["agents"]["zz_null"] = {"capability": 0.0, "resolve": 0.0, "issues": stance(0.0, 1.0, 0.0, 0.0)}
    assert np.array_equal(_outcomes(data), _outcomes(null))


TWINS = Path(__file__).parent / "data" / "twins"


def _twins(name: str) -> dict:
    from sim.yamlfile import read_yaml_file

    return read_yaml_file(TWINS / f"{name}.yaml")


@pytest.mark.parametrize("name, agents, issues", [
    ("agent_swap", {"p": "q", "q": "p"}, {}),
    ("trust_swap", {"p": "q", "q": "p"}, {}),
    ("alliance_swap", {"p": "q", "q": "p"}, {}),
    ("issue_swap", {}, {"a": "b", "b": "a"}),
    ("trust_ring", {"p": "q", "q": "p"}, {}),
    ("alliance_ring", {"p": "q", "q": "p"}, {}),
    ("stance_ring", {"a1": "a2", "a2": "a1"}, {}),
    ("cycles", {"c0": "c6", "c6": "c0"}, {}),
])
def test_twins_that_differ_only_in_whom_or_what_they_stand_by_keep_their_random_numbers_renamed(name, agents, issues):
    """Found by a long hunt with the renaming property: two agents (or issues) of one role with
    the same numbers, told apart only by which agent or issue each stands to (p holds 0.2 on a and
    0.9 on b, q the other way; whom each trusts; its alliance's pull), were ranked by name, since
    their keys named their partners by role alone. Renamed, they swapped random numbers: up to
    1,023 of 2,048 replicates ended in another class. Ties are now broken by the partners' ranks
    first (`sim.canonical`), and only twins alike in every respect go by name.

    The rings (`*_ring.yaml`) were found by the next hunt: twins told apart only by how they stand
    to one another (a ring of trusts or alliances among alike agents), or by a ring of stances
    through alike issues, which refinement alone cannot break; each twin is now set apart in turn."""
    data = _twins(name)
    renamed = rename(data, {a: agents.get(a, a) for a in data["agents"]}, {i: issues.get(i, i) for i in data["issues"]})
    assert inputs_hash(scenario_of(renamed)) == inputs_hash(scenario_of(data))
    before = run_replicates(scenario_of(data), runs=RUNS, seed=7)
    after = run_replicates(scenario_of(renamed), runs=RUNS, seed=7)
    assert before.same_as(after)


@pytest.mark.parametrize("name", ["trust_ring", "alliance_ring", "stance_ring", "cycles"])
@settings(max_examples=15, deadline=None)
@given(draw=st.data())
def test_every_renaming_of_a_ring_of_twins_is_one_meeting(name, draw):
    """Any renaming of a ring's agents and issues (not only the swap its file was found with) has
    one inputs hash: the labelling kept does not depend on which twin the names put first."""
    data = _twins(name)
    agents = draw.draw(st.permutations(sorted(data["agents"])), label="agents")
    issues = draw.draw(st.permutations(sorted(data["issues"])), label="issues")
    renamed = rename(data, dict(zip(sorted(data["agents"]), agents)), dict(zip(sorted(data["issues"]), issues)))
    assert inputs_hash(scenario_of(renamed)) == inputs_hash(scenario_of(data))


@st.composite
def _rings(draw) -> dict:
    """Rings of alike parties that refinement cannot split: one or two rings (of 2 to 5, like
    cycles.yaml), trust by distance round the ring (0.5 between rings), maybe an alliance from each
    member to the next but `step`, maybe stances through alike issues in a ring (member k holds 0.9
    on issues k + j for j in `hot`), maybe an event or the rubric naming some members."""
    sizes = draw(st.sampled_from([[3], [4], [5], [3, 3], [2, 4], [3, 4], [2, 2, 2]]), label="ring sizes")
    names = [[f"c{r}_{k}" for k in range(n)] for r, n in enumerate(sizes)]
    members = [name for ring in names for name in ring]
    level = {d: draw(st.sampled_from([0.1, 0.5, 0.9]), label=f"trust at distance {d}") for d in range(1, max(sizes))}
    n_issues = sizes[0] if len(sizes) == 1 and draw(st.booleans(), label="stance ring") else 1
    hot = draw(st.sets(st.integers(0, n_issues - 1), max_size=n_issues - 1), label="hot") if n_issues > 1 else set()
    issues = [f"i{j}" for j in range(n_issues)]
    salience = [1.0 / n_issues] * (n_issues - 1) + [1.0 - (n_issues - 1) / n_issues]
    start = dt.date(2020, 1, 1)
    data = {"name": "rings", "calendar": {"start": start, "vantage": start},
            "issues": {i: {"anchors": {"lo": 0.0, "hi": 1.0}, "status_quo": 0.0} for i in issues},
            "agents": {name: {"capability": 1.0, "resolve": 0.3,
                              "issues": {i: {"position": 0.9 if (j - k) % len(ring) in hot else 0.6,
                                             "salience": salience[j]} for j, i in enumerate(issues)}}
                       for ring in names for k, name in enumerate(ring)},
            "relations": {"trust": [], "alliances": []},
            "summit": {"parties": members, "date": dt.date(2020, 3, 1), "cancellation": {"base_probability": 0.0}},
            "outcome": {"breakthrough": [{"issue": "i0", "at_least": 1.0}],
                        "substantive": [{"issue": "i0", "at_least": 0.5}]}}
    where = {name: (r, k) for r, ring in enumerate(names) for k, name in enumerate(ring)}
    for x, y in ((x, y) for n, x in enumerate(members) for y in members[n + 1:]):
        (rx, kx), (ry, ky) = where[x], where[y]
        distance = min((kx - ky) % sizes[rx], (ky - kx) % sizes[rx])
        data["relations"]["trust"].append({"between": [x, y], "initial": level[distance] if rx == ry else 0.5})
    step = draw(st.sampled_from([0, 1, 2]), label="alliance step")
    for ring in names:
        if 0 < step < len(ring):
            data["relations"]["alliances"] += [{"agent": name, "patron": ring[(k + step) % len(ring)],
                                                "issues": ["i0"], "pull": 0.3, "cost": 0.2}
                                               for k, name in enumerate(ring)]
    if draw(st.booleans(), label="an event names a member"):
        data["events"] = [{"name": "e", "date": dt.date(2020, 1, 5), "source": "x",
                           "effects": [{"target": "resolve", "agent": draw(st.sampled_from(members)), "shift": 0.1}]}]
    if draw(st.booleans(), label="the rubric names members"):
        signed = draw(st.lists(st.sampled_from(members), min_size=1, max_size=3, unique=True))
        data["outcome"]["substantive"].append({"all": [{"signed": signed}, {"issue": "i0", "at_least": 0.5}]})
    return data


@settings(max_examples=15, deadline=None)
@given(_rings(), st.data())
def test_every_renaming_of_drawn_rings_of_twins_is_one_meeting(data, draw):
    """The property above on drawn rings (`_rings`): one ring or several alike ones, through trusts,
    alliances and stances, some members named by an event or the rubric."""
    agents = draw.draw(st.permutations([f"x{k}" for k in range(len(data["agents"]))]), label="agents")
    issues = draw.draw(st.permutations([f"y{k}" for k in range(len(data["issues"]))]), label="issues")
    renamed = rename(data, dict(zip(data["agents"], agents)), dict(zip(data["issues"], issues)))
    shuffled = _shuffled(renamed, draw)
    assert inputs_hash(scenario_of(shuffled)) == inputs_hash(scenario_of(data))


@settings(max_examples=15, deadline=None)
@given(_rings(), st.data())
def test_a_null_agent_or_issue_beside_drawn_rings_of_twins_changes_nothing(data, draw):
    """The null-entity properties on drawn rings, where the hunt found both broken: an agent of
    capability 0 and no role (its own stances, trusting some members) or an issue everyone holds
    at one level with salience 0, added, leaves every replicate's class, summit day, deal and
    every other entity's positions as they were, label by label (in the engine's order: a ring's
    rotations are one scenario, and the null agent may tell them apart)."""
    added = copy.deepcopy(data)
    if draw.draw(st.booleans(), label="a null agent (else a null issue)"):
        added["agents"]["zz_null"] = {"capability": 0.0, "resolve": 0.5, "issues": {
            i: {"position": draw.draw(st.sampled_from([0.0, 0.3, 0.9]), label=f"null agent on {i}"),
                "salience": 1.0 / len(data["issues"])} for i in data["issues"]}}
        trusted = draw.draw(st.lists(st.sampled_from(sorted(data["agents"])), max_size=3, unique=True), label="trusts")
        added["relations"]["trust"] += [{"between": ["zz_null", name], "initial": 0.7} for name in trusted]
    else:
        added["issues"]["zz_null"] = {"anchors": {"lo": 0.0, "hi": 1.0}, "status_quo": 0.0}
        for agent in added["agents"].values():
            agent["issues"]["zz_null"] = {"position": 0.0, "salience": 0.0}
    a = run_replicates(scenario_of(data), runs=256, seed=7)
    b = run_replicates(scenario_of(added), runs=256, seed=7)
    assert np.array_equal(a.outcome, b.outcome) and np.array_equal(a.summit_day, b.summit_day)
    ma, mb = a.result.model, b.result.model
    agents = [k for k, g in enumerate(mb.agents) if g != "zz_null"]
    issues = [k for k, i in enumerate(mb.issues) if i != "zz_null"]
    assert np.array_equal(ma.packages[a.package], mb.packages[b.package][:, issues])
    assert np.array_equal(a.position, b.position[:, agents][:, :, issues])


_STANCES = {f"i{k}": {"position": 0.1 * k, "salience": 0.2} for k in range(5)}
_CARES = {"a": {"position": 0.3, "salience": 0.5}, "b": {"position": 0.2, "salience": 0.5}}


@pytest.mark.parametrize("name, issues, trusts", [
    ("stance_ring", _STANCES, []), ("cycles", _CARES, []), ("cycles", _CARES, ["c7"]),
    ("cycles", _CARES, ["c0", "c6"]),
])
def test_a_null_agent_beside_a_ring_of_twins_chooses_no_other_labelling(name, issues, trusts):
    """Which labelling of a ring is kept is decided on the scenario without its inert entities
    first, so an agent of capability 0 and no role, holding its own stances on the ring's issues
    or trusting some of its agents, leaves every replicate's class, summit day and deal as they
    were, and every other agent's positions label by label (in the engine's order). A ring is
    symmetric (a rotation of its names is the same scenario), and the null agent, which may tell
    the rotations apart, may choose which of them the names take, so they are not compared by
    name."""
    data = _twins(name)
    added = copy.deepcopy(data)
    added["agents"]["zz_null"] = {"capability": 0.0, "resolve": 0.5, "issues": issues}
    trust = added["relations"]["trust"]
    added["relations"]["trust"] = [*(trust if isinstance(trust, list) else [trust]),
                                   *({"between": ["zz_null", c], "initial": 0.7} for c in trusts)]
    a = run_replicates(scenario_of(data), runs=RUNS, seed=7)
    b = run_replicates(scenario_of(added), runs=RUNS, seed=7)
    assert np.array_equal(a.outcome, b.outcome) and np.array_equal(a.summit_day, b.summit_day)
    ma, mb = a.result.model, b.result.model
    assert np.array_equal(ma.packages[a.package], mb.packages[b.package])
    others = np.delete(b.position, mb.agents.index("zz_null"), axis=1)
    assert np.array_equal(a.position, others)  # the other agents' positions, label by label
    assert len({tuple(row) for row in a.position[:, 0, :].round(6)}) > RUNS // 2  # positions move: the test can tell


def _rings_of_alike_parties(sizes: list[int]) -> dict:
    """Parties alike in every number, trusting 0.9 round rings of `sizes` and 0.5 across: no
    refinement tells any apart, and the rings have many symmetries."""
    names = [f"g{k:02d}" for k in range(sum(sizes))]
    ring, start = set(), 0
    for n in sizes:
        ring |= {frozenset((names[start + k], names[start + (k + 1) % n])) for k in range(n)}
        start += n
    data = _twins("cycles")
    stance = data["agents"]["c0"]
    data["agents"] = {**{name: copy.deepcopy(stance) for name in names}, "u": data["agents"]["u"]}
    data["relations"]["trust"] = [{"between": [x, y], "initial": 0.9 if frozenset((x, y)) in ring else 0.5}
                                  for k, x in enumerate(names) for y in names[k + 1:]]
    data["summit"]["parties"] = names
    return data


def test_the_ring_search_prunes_by_the_symmetries_it_finds(monkeypatch):
    """Found by the hunt after the rings: with only two-name swaps pruned, the search met about one
    labelling per symmetry of the scenario, (2 x 5)^3 x 3! for three rings of five alike parties:
    157 s for one scenario. Two labellings with one key give a symmetry, and a branch one of them
    maps onto a branch already tried is skipped, so it meets a few. Counted, not timed."""
    from sim.canonical import _Labeller

    leaves = []
    leaf = _Labeller._leaf
    monkeypatch.setattr(_Labeller, "_leaf", lambda self, colour: leaves.append(1) or leaf(self, colour))
    data = _rings_of_alike_parties([5, 5, 5])
    make_canon(scenario_of(data))
    assert 0 < len(leaves) <= 60, len(leaves)
    names = sorted(data["agents"])
    shuffled = dict(zip(names, reversed(names)))
    assert inputs_hash(scenario_of(rename(data, shuffled, {}))) == inputs_hash(scenario_of(data))


def test_a_null_agent_caring_about_an_inert_issue_leaves_it_inert(monkeypatch):
    """Found by the same hunt: a null agent (capability 0, no role) giving salience 1 to an issue
    nobody else weighs made that issue count as weighed. It then shared the role of an issue that
    only an alliance makes matter, took its rank and its random numbers: 523 of 1,024 replicates
    changed class. An inert agent's saliences weigh nothing and are not counted."""
    data = _twins("null_agent_wakes_issue")
    null = copy.deepcopy(data)
    null["agents"]["zz_null"] = {"capability": 0.0, "resolve": 0.0,
                                 "issues": {i: {"position": 0.0, "salience": 1.0 if i == "z" else 0.0}
                                            for i in data["issues"]}}
    monkeypatch.setitem(globals(), "event", lambda *args: None)  # hypothesis's statistics: none outside a test
    _same_where_shared(data, null)


@pytest.mark.parametrize("name", ["null_issue_beside_twins", "trust_ring"])
def test_an_issue_nobody_cares_about_beside_twins_changes_nothing(name):
    """Found by the hunt after the rings: an issue on which every agent stands at 0.0 with salience
    0, added beside twins that refinement tells apart (p holds 0.2 on a and 0.9 on b, q the other
    way) or beside a ring, moved their labels, so their random numbers: 462 of 1,024 replicates of
    the first ended in another class. The property on drawn scenarios misses it: they seldom hold
    twins. Compared label by label (in the engine's order, without the null issue), as a ring's
    rotations are one scenario. Colours now start from, and refine on, what the scenario without
    its inert entities says."""
    data = _twins(name)
    null = copy.deepcopy(data)
    null["issues"]["zz_null"] = {"anchors": {"lo": 0.0, "hi": 1.0}, "status_quo": 0.0}
    for agent in null["agents"].values():
        agent["issues"]["zz_null"] = {"position": 0.0, "salience": 0.0}
    a = run_replicates(scenario_of(data), runs=RUNS, seed=7)
    b = run_replicates(scenario_of(null), runs=RUNS, seed=7)
    ma, mb = a.result.model, b.result.model
    shared = [k for k, i in enumerate(mb.issues) if i != "zz_null"]
    assert len({tuple(row) for row in a.position[:, 0, :].round(6)}) > RUNS // 2  # positions move: the test can tell
    assert np.array_equal(a.outcome, b.outcome) and np.array_equal(a.summit_day, b.summit_day)
    assert np.array_equal(ma.packages[a.package], mb.packages[b.package][:, shared])
    assert np.array_equal(a.position, b.position[:, :, shared])


def _with_null(data: dict, draw) -> tuple[dict, str]:
    """`data` with a null entity added: an agent of capability 0 and no role or alliance (its own
    stances, each drawn from a few levels so that it may hold a twin issue and its copy alike or
    apart; maybe trusting some agents, a twin among them), or an issue every agent holds at one
    level with salience 0. A scenario whose trust is one entry among all it names may name the null
    agent there too. Returns the scenario and the null entity's kind ("agent" or "issue")."""
    d = copy.deepcopy(data)
    issues = sorted(d["issues"])
    if draw.draw(st.booleans(), label="a null agent (else a null issue)"):
        cared = draw.draw(st.sampled_from([None, *issues]), label="the null agent's one salient issue (None: all)")
        d["agents"]["zz_null"] = {
            "capability": 0.0, "resolve": draw.draw(st.sampled_from([0.0, 0.5, 1.0]), label="null resolve"),
            "issues": {i: {"position": draw.draw(st.sampled_from([0.0, 0.3, 0.9]), label=f"null agent on {i}"),
                           "salience": (1.0 / len(issues)) if cared is None else float(i == cared)} for i in issues}}
        trust = d["relations"]["trust"]
        if isinstance(trust, dict) and draw.draw(st.booleans(), label="the null agent in the one trust entry"):
            trust["between"] = [*trust["between"], "zz_null"]  # trusting all it names, at that level
            return d, "agent"
        trusted = draw.draw(st.lists(st.sampled_from(sorted(data["agents"])), max_size=3, unique=True),
                            label="the null agent trusts")
        if trusted:
            d["relations"]["trust"] = [*(trust if isinstance(trust, list) else [trust]),
                                       *({"between": ["zz_null", name],
                                          "initial": draw.draw(st.sampled_from([0.2, 0.7]), label="null trust")}
                                         for name in trusted)]
        return d, "agent"
    n = draw.draw(st.integers(2, 3), label="null issue anchors")
    values = [k / (n - 1) for k in range(n)]
    d["issues"]["zz_null"] = {"anchors": {f"a{k}": v for k, v in enumerate(values)},
                              "status_quo": draw.draw(st.sampled_from(values), label="null status quo")}
    level = draw.draw(st.sampled_from([0.0, 0.5, 1.0]), label="null issue level")
    for agent in d["agents"].values():
        agent["issues"]["zz_null"] = {"position": level, "salience": 0.0}
    return d, "issue"


def _same_label_by_label(data: dict, added: dict) -> None:
    """`added` (`data` with null entities) runs like `data`, replicate for replicate: the class,
    the summit day, whether there is a deal, and label by label (in the engine's order, without
    the added entities) the deal's levels and every other agent's positions. Not by name: twins
    that swap without changing `data` are one scenario, and a null agent that tells them apart may
    choose which of them the names take. An inert entity already in `data` may trade labels, so
    random numbers, with the added one: its positions are left out (as in `_same_where_shared`)."""
    from sim.canonical import _is_inert_agent, _is_inert_issue

    a = run_replicates(scenario_of(data), runs=RUNS, seed=7)
    b = run_replicates(scenario_of(added), runs=RUNS, seed=7)
    ma, mb = a.result.model, b.result.model
    assert np.array_equal(a.outcome, b.outcome) and np.array_equal(a.summit_day, b.summit_day)
    assert np.array_equal(a.package < 0, b.package < 0)
    agents = [k for k, g in enumerate(mb.agents) if g in ma.agents]  # b's agents but the added, in b's order
    issues = [k for k, i in enumerate(mb.issues) if i in ma.issues]
    assert len(agents) == len(ma.agents) and len(issues) == len(ma.issues)
    deal = a.package >= 0
    assert np.array_equal(ma.packages[a.package[deal]], mb.packages[b.package[deal]][:, issues])
    s = ma.scenario
    live_agents = [k for k, g in enumerate(ma.agents) if not _is_inert_agent(s, g)]
    live_issues = [k for k, i in enumerate(ma.issues) if not _is_inert_issue(s, i)]
    before = a.position[:, live_agents][:, :, live_issues]
    after = b.position[:, [agents[k] for k in live_agents]][:, :, [issues[k] for k in live_issues]]
    assert np.array_equal(before, after)
    event(f"deals seen: {min(len(set(a.package.tolist())), 3)}")


def _null_beside_twins(data: dict, draw, times: int = 1) -> None:
    """`data` given twins (`_twinned`, `times` over: twins of twins), maybe its summit opened, then
    a null entity (`_with_null`): it changes nothing, label by label."""
    for _ in range(times):
        data = _twinned(data, draw)
    if draw.draw(st.booleans(), label="open the summit"):
        data = _open_summit(data)
    added, kind = _with_null(data, draw)
    event(f"null {kind}")
    _same_label_by_label(data, added)


def _renaming_twins_beside_a_null(data: dict, draw, times: int = 1) -> None:
    """The renaming property on `data` given twins (`times` over) and a null entity."""
    for _ in range(times):
        data = _twinned(data, draw)
    added, kind = _with_null(data, draw)
    event(f"null {kind}")
    _renaming_and_reordering_changes_nothing(added, draw)


@settings(max_examples=20, suppress_health_check=[HealthCheck.too_slow])
@given(scenario_dicts(max_events=2, max_incidents=1), st.data())
def test_a_null_agent_or_issue_beside_drawn_twins_changes_nothing(data, draw):
    """The null-entity properties on drawn scenarios given twins (`_twinned`: an agent copied in
    every role and relation, maybe with stances swapped on a copied issue), which they seldom hold
    by chance: a null agent (maybe holding a twin issue and its copy apart, maybe trusting a twin)
    or a null issue added leaves every replicate's class, summit day and deal, and every other
    entity's positions, as they were, label by label."""
    _null_beside_twins(_plain(data), draw)


@settings(max_examples=20, suppress_health_check=[HealthCheck.too_slow])
@given(scenario_dicts(max_events=2, max_incidents=1), st.data())
def test_renaming_a_scenario_with_twins_and_a_null_entity_changes_nothing(data, draw):
    """The renaming property on drawn scenarios given twins (`_twinned`) and a null agent or issue
    (`_with_null`), which may tell the twins apart where nothing else does."""
    _renaming_twins_beside_a_null(_plain(data), draw)


@settings(max_examples=6, suppress_health_check=[HealthCheck.too_slow])
@given(scenario_dicts(max_agents=3, max_issues=2, max_events=1, max_incidents=1, **EUM), st.data())
def test_under_eum_renaming_a_scenario_with_twins_and_a_null_entity_changes_nothing(data, draw):
    """The same under the eum engine (smaller scenarios: its rounds cost more), where a null agent
    is not inert (it takes part in the rounds), but renaming must still change nothing."""
    _renaming_twins_beside_a_null(_plain(data), draw)


@pytest.mark.slow
@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(scenario_dicts(), st.data())
def test_a_null_agent_or_issue_beside_many_drawn_twins_of_twins_changes_nothing(data, draw):
    """The null-entity property above on more and larger drawn scenarios, given twins twice over
    (three alike agents, or two pairs, maybe on copied issues)."""
    _null_beside_twins(_plain(data), draw, times=2)


@pytest.mark.slow
@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(scenario_dicts(), st.data())
def test_renaming_many_drawn_scenarios_with_twins_of_twins_and_a_null_entity_changes_nothing(data, draw):
    """The renaming property above on more and larger drawn scenarios, given twins twice over."""
    _renaming_twins_beside_a_null(_plain(data), draw, times=2)


@pytest.mark.slow
@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(scenario_dicts(**EUM), st.data())
def test_under_eum_renaming_many_drawn_scenarios_with_twins_and_a_null_entity_changes_nothing(data, draw):
    """The eum renaming property above on larger drawn scenarios."""
    _renaming_twins_beside_a_null(_plain(data), draw)

def test_renaming_twins_that_only_a_null_agent_tells_apart_is_one_meeting():
    """Found by the hunt after the rings: p, q, r, s alike in two pairs, and a null agent that
    trusts p. Without the null agent p and q swap, so only p (by name) is set apart; renamed p <->
    q, the other is, and the null agent's trust lands on another label: another inputs hash, and
    its positions differed in 2,023 of 2,048 replicates. Only twins that swap in the whole
    scenario are now set apart once for all."""
    data = _twins("pairs_null_trust")
    renamed = rename(data, {a: {"p": "q", "q": "p"}.get(a, a) for a in data["agents"]}, {i: i for i in data["issues"]})
    before = run_replicates(scenario_of(data), runs=RUNS, seed=7)
    after = run_replicates(scenario_of(renamed), runs=RUNS, seed=7)
    assert before.same_as(after)
    assert inputs_hash(scenario_of(renamed)) == inputs_hash(scenario_of(data))


@pytest.mark.parametrize("change", ["listed in another order", "reworded"])
def test_twins_elections_listed_in_another_order_or_reworded_change_nothing(change):
    """Found by the hunt after the rings: two twins told apart by refinement, each facing the same
    two elections. An agent's elections are a list whose order the model does not read, and an
    election's source sentence is prose, yet either changed swapped the twins' labels: 749 of 2,048
    replicates ended in another class, and the inputs hash changed. An agent's numbers now hold
    its elections sorted, without their sources."""
    data = _twins("elections_order")
    other = copy.deepcopy(data)
    if change == "reworded":
        other["agents"]["q"]["elections"][0]["source"] = "another sentence"
    else:
        other["agents"]["q"]["elections"].reverse()
    before = run_replicates(scenario_of(data), runs=RUNS, seed=7)
    after = run_replicates(scenario_of(other), runs=RUNS, seed=7)
    assert before.same_as(after)
    assert inputs_hash(scenario_of(other)) == inputs_hash(scenario_of(data))


def test_an_effects_trust_pair_written_the_other_way_round_is_one_meeting():
    """Found by the hunt: a trust effect's `between: [south, north]` gave the replicates of
    `[north, south]` (a trust pair has no direction) but another inputs hash, so a case copied
    with its pair written the other way was not known for the fitted case it is."""
    data = small_dict()
    data["events"][0]["effects"] = [{"target": "trust", "between": ["north", "south"],
                                     "shift": {"dist": "normal", "mean": -0.2, "sd": 0.1, "low": -0.5, "high": 0.2}}]
    other = copy.deepcopy(data)
    other["events"][0]["effects"][0]["between"] = ["south", "north"]
    assert inputs_hash(scenario_of(other)) == inputs_hash(scenario_of(data))
    assert run_replicates(scenario_of(data), runs=RUNS, seed=7).same_as(run_replicates(scenario_of(other), runs=RUNS, seed=7))


def test_a_nash_weight_of_1_written_out_is_the_default_in_the_inputs_hash():
    """Two identical parties, one with its weight of 1.0 written out: the same meeting renamed had
    another inputs hash, since the written 1.0 landed on whichever label the names gave."""
    data = _twins("weight_one")
    renamed = rename(data, {"a": "b", "b": "a"}, {"i": "i"})
    assert inputs_hash(scenario_of(renamed)) == inputs_hash(scenario_of(data))
    unwritten = copy.deepcopy(data)
    del unwritten["summit"]["weights"]
    assert inputs_hash(scenario_of(unwritten)) == inputs_hash(scenario_of(data))
    heavier = copy.deepcopy(data)
    heavier["summit"]["weights"] = {"b": 2.0}
    assert inputs_hash(scenario_of(heavier)) != inputs_hash(scenario_of(data))


def test_under_eum_an_agent_of_no_capability_is_not_inert():
    """Not a law under eum, and pinned so that a change is noticed (README, "Invariances"): the
    expected-utility rounds include every agent, so one of capability 0 and no role still moves
    the others. Found by a long hunt that ran the null-agent property under both engines."""
    data = small_dict()
    data["dynamics"] = {"engine": "eum"}
    null = copy.deepcopy(data)
    null["agents"]["zz_null"] = {"capability": 0.0, "resolve": 0.0,
                                 "issues": {"land": {"position": 0.0, "salience": 1.0},
                                            "trade": {"position": 0.0, "salience": 0.0}}}
    before = run_replicates(scenario_of(data), runs=RUNS, seed=7).counts
    after = run_replicates(scenario_of(null), runs=RUNS, seed=7).counts
    assert after[2] - before[2] > 500, (before, after)  # talk fest: 10 of 2,048, then 989


# --- Quiet time ---------------------------------------------------------------------------------


def _earlier(data: dict, days: int) -> dict:
    d = copy.deepcopy(data)
    d["calendar"]["start"] = d["calendar"]["start"] - dt.timedelta(days=days)
    return d


def test_quiet_time_before_the_baseline_changes_nothing():
    """The baseline started 100, 365 or 1,000 days earlier (nothing happens in between): the same
    outcome in every replicate."""
    data = load_scenario(BASELINE).model_dump(mode="python", exclude_defaults=True)
    reference = _outcomes(data, runs=8192)
    for days in (100, 365, 1000):
        assert np.array_equal(reference, _outcomes(_earlier(data, days), runs=8192)), days


@pytest.mark.parametrize("start", [dt.date(1950, 1, 1) + dt.timedelta(days=k) for k in range(7)])
def test_the_ticks_are_the_same_sundays_whatever_the_start(start):
    """Found by the slow property below in CI: a start on a Sunday was not a tick, but that
    Sunday became one once the start moved earlier, so an incident arriving on it took effect a
    week later in one calendar than in the other."""
    from sim.model import tick_days

    horizon = 30
    sundays = {start + dt.timedelta(days=d) for d in tick_days(start, horizon)}
    assert all(day.weekday() == 6 for day in sundays) and len(sundays) == sum(
        (start + dt.timedelta(days=d)).weekday() == 6 for d in range(horizon + 1))
    for days in (1, 6, 7, 100):
        earlier = start - dt.timedelta(days=days)
        assert {earlier + dt.timedelta(days=d) for d in tick_days(earlier, horizon + days)
                if d >= days} == sundays


def test_an_incident_on_a_sunday_start_takes_effect_as_if_the_calendar_began_earlier():
    """The CI counterexample: start = vantage on a Sunday, the summit the next two days, an
    incident cancelling at 1 a month: starting a day earlier changes no replicate."""
    data = small_dict()
    data["calendar"] = {"start": dt.date(1950, 1, 1), "vantage": dt.date(1950, 1, 1)}
    data["summit"]["date"] = {"dist": "uniform", "low": dt.date(1950, 1, 2), "high": dt.date(1950, 1, 3)}
    data["events"] = []
    data["incidents"] = [{"name": "stop", "rate_per_month": 1.0, "effects": [{"target": "cancel", "probability": 1.0}]}]
    assert np.array_equal(_outcomes(data, runs=8192), _outcomes(_earlier(data, 1), runs=8192))


@pytest.mark.slow
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario_dicts(max_events=3, max_incidents=2), st.integers(1, 700))
def test_quiet_time_before_anything_happens_changes_no_probability(data, days):
    """A drawn scenario started `days` earlier, with nothing in the added time (no election window
    open at the old start): no class probability moves beyond 4 paired standard errors."""
    data = _plain(data)
    start = data["calendar"]["start"]
    for agent in data["agents"].values():  # an election window open at the old start is not quiet time: dropped
        if "elections" in agent:         # (rejecting such examples with assume() failed hypothesis's health check)
            agent["elections"] = [e for e in agent["elections"]
                                  if e["date"] - dt.timedelta(days=e.get("window_days", 60)) >= start]
    a = run_replicates(scenario_of(data), runs=8192, seed=3).outcome
    b = run_replicates(scenario_of(_earlier(data, days)), runs=8192, seed=3).outcome
    for cls in range(4):
        d = (b == cls).astype(float) - (a == cls).astype(float)
        se = d.std(ddof=1) / np.sqrt(len(d))
        assert abs(d.mean()) <= 4 * se + 1e-12, (cls, d.mean(), se)


# --- Monotone ---------------------------------------------------------------------------------


def _deal_difference(a: Scenario, b: Scenario, runs: int = 40_000, seed: int = 11) -> tuple[float, float]:
    """P(deal) under b minus under a, paired, and its standard error."""
    x = (run_replicates(a, runs=runs, seed=seed).package >= 0).astype(float)
    y = (run_replicates(b, runs=runs, seed=seed).package >= 0).astype(float)
    d = y - x
    return float(d.mean()), float(d.std(ddof=1) / np.sqrt(len(d)))


def _toward(data: dict, mover: str, other: str, share: float) -> dict:
    """`mover`'s position on every issue moved a share of the way to `other`'s (means, for drawn ones)."""
    from sim.schema import mean_of, shift_param

    d = copy.deepcopy(data)
    scenario = scenario_of(d)
    for issue, stance in scenario.agents[mover].issues.items():
        target = mean_of(scenario.agents[other].issues[issue].position)
        here = mean_of(stance.position)
        lo, hi = stance.bounds
        d["agents"][mover]["issues"][issue]["position"] = shift_param(stance.position, share * (target - here), lo, hi)
    return d


@settings(max_examples=60)
@given(st.data())
def test_at_the_summit_less_resolve_or_loss_aversion_never_removes_an_acceptable_package(draw):
    """Per replicate, with the positions fixed: lowering a party's resolve or the loss aversion
    keeps every package it accepted acceptable (exact)."""
    from conftest import state_of

    from sim.summit import package_values, record_summit

    data = small_dict()
    model, state, _ = state_of(scenario_of(data), seed=draw.draw(st.integers(0, 50)))
    state.summit_day[:] = 40
    record_summit(model, state, np.arange(state.n))
    x, trust = state.at_summit, state.summit_trust

    def accepted() -> np.ndarray:
        v = package_values(model, state, x, trust)  # (deciders, issues, anchors, n)
        menu = np.array(np.meshgrid(*(np.arange(len(a)) for a in model.issue_anchors), indexing="ij"))
        menu = menu.reshape(model.n_issues, -1).T
        total = sum(v[:, k, menu[:, k], :] for k in range(model.n_issues))  # (deciders, packages, n)
        return total >= state.margin[None, None, :]

    before = accepted()
    party = model.parties[draw.draw(st.integers(0, 1))]
    state.summit_resolve[party] *= draw.draw(st.floats(0.0, 1.0))
    state.loss_aversion[:] = 1.0 + (state.loss_aversion - 1.0) * draw.draw(st.floats(0.0, 1.0))
    assert not np.any(before & ~accepted())


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.floats(0.0, 1.0),
       st.sampled_from([0.0, 0.5, 1.0]), st.floats(0.0, 0.2), st.floats(1.0, 4.0))
def test_on_one_issue_moving_a_party_toward_the_other_never_removes_the_deal(x, y, share, credibility, sq, margin,
                                                                              loss):
    """Two parties, one issue, nothing happening, positions as written (no deviation on the day):
    party a moved a share of the way to b never turns a replicate with a deal into one without
    (exact; the README gives the argument)."""
    def scenario(position: float) -> dict:
        return {"name": "one", "calendar": {"start": dt.date(2020, 1, 1), "vantage": dt.date(2020, 1, 1)},
                "issues": {"i": {"anchors": {"lo": 0.0, "mid": 0.5, "hi": 1.0}, "status_quo": sq}},
                "agents": {"a": {"capability": 1.0, "resolve": 0.5, "issues": {"i": {"position": position,
                                                                                      "salience": 1.0}}},
                           "b": {"capability": 1.0, "resolve": 0.5, "issues": {"i": {"position": y, "salience": 1.0}}}},
                "relations": {"trust": {"between": ["a", "b"], "initial": 0.6}},
                "summit": {"parties": ["a", "b"], "date": dt.date(2020, 2, 1),
                           "cancellation": {"base_probability": 0.0},
                           "bargaining": {"margin": margin, "loss_aversion": loss, "credibility": credibility}},
                "dynamics": {"noise": 0.0},
                "outcome": {"breakthrough": [{"issue": "i", "at_least": 1.0}],
                            "substantive": [{"issue": "i", "at_least": 0.5}]}}

    before = run_replicates(scenario_of(scenario(x)), runs=1024, seed=5).package >= 0
    after = run_replicates(scenario_of(scenario(x + share * (y - x))), runs=1024, seed=5).package >= 0
    assert not np.any(before & ~after)


def _at_the_summit(data: dict, seed: int):
    """(model, state, blocks): one chunk of `data` run to its summit and settled, then its positions
    with that day's deviation held fixed (noise 0, so `bargain` settles it again on other numbers
    alike) and no replicate called off, so that every replicate's deal counts."""
    from sim.timeline import run_timeline

    model, state, blocks = state_of(scenario_of(data), seed=seed)
    run_timeline(model, state, blocks)
    state.noise[:] = 0.0
    state.called_off[:] = False
    return model, state, blocks


def _scattered(model, state, seed: int) -> None:
    """Every number the summit reads, drawn afresh per replicate over its range: positions (within
    bounds), resolve on the day, trust, walk_away, margin, loss aversion, credibility, alliance costs
    and the mediators' shares. Left as drawn, most scenarios strike no deal or the same one in
    every replicate, which leaves the properties little to test."""
    rng = np.random.default_rng(seed)

    def draw(a: np.ndarray, lo: float, hi: float) -> None:
        a[...] = rng.uniform(lo, hi, a.shape)

    draw(state.at_summit, 0.0, 1.0)
    np.clip(state.at_summit, model.lower, model.upper, out=state.at_summit)
    for a, lo, hi in ((state.summit_resolve, 0.0, 1.0), (state.summit_trust, 0.0, 1.0), (state.walk_away, -0.3, 0.3),
                      (state.margin, 0.0, 0.1), (state.loss_aversion, 1.0, 4.0), (state.credibility, 0.0, 1.0),
                      (state.alliance_cost, 0.0, 2.0), (state.mediator_trust, 0.0, 1.0),
                      (state.mediator_margin, 0.0, 1.0)):
        draw(a, lo, hi)


def _menu(model, state) -> tuple[np.ndarray, np.ndarray]:
    """(value, accepts), each (deciders, packages, n), the menu in its order, by brute force: each
    decider's value of each package (with the mediators' trust), and whether it accepts it as
    `bargain` decides (at least the margin the mediators leave plus walk_away, every level within
    the decider's bounds)."""
    from sim.summit import package_values

    trust, margin = state.summit_trust.copy(), state.margin.copy()
    for m, _ in enumerate(model.mediators):
        trust += state.mediator_trust[m] * (1.0 - trust)
        margin *= 1.0 - state.mediator_margin[m]
    values = package_values(model, state, state.at_summit, trust)
    menu = np.array(list(itertools.product(*(range(len(a)) for a in model.issue_anchors))))  # (packages, issues)
    total = sum(values[:, k, menu[:, k], :] for k in range(model.n_issues))  # issue by issue, as `settle` adds
    deciders = list(model.deciders)
    inside = np.ones((len(deciders), len(menu)), dtype=bool)
    for k, anchors in enumerate(model.issue_anchors):
        level = anchors[menu[:, k]]
        inside &= (level >= model.lower[deciders, k] - 1e-12) & (level <= model.upper[deciders, k] + 1e-12)
    return total, inside[:, :, None] & (total >= margin + state.walk_away[deciders][:, None, :])


def _acceptable(model, state) -> np.ndarray:
    """(deciders, packages, n) bool: whether each decider accepts each package (`_menu`)."""
    return _menu(model, state)[1]


def _deal(model, state, blocks) -> np.ndarray:
    """`bargain` on a copy of `state`: each replicate's package (-1: none), checked against
    `_menu`: a deal exactly where some package is accepted by every decider it needs, the one
    with the largest Nash product of the required parties' surpluses among those (to rounding),
    and the parties that sign it those that accept it."""
    from sim.summit import bargain

    settled = copy.deepcopy(state)
    bargain(model, settled, blocks)
    package, (value, ok) = settled.package, _menu(model, state)
    needed = np.concatenate([model.required, np.ones(len(model.veto), dtype=bool)])
    possible = ok[needed].all(axis=0)  # (packages, n)
    assert np.array_equal(package >= 0, possible.any(axis=0))
    r = np.flatnonzero(package >= 0)
    assert np.array_equal(settled.signed[:, r], ok[: len(model.parties), package[r], r])
    parties = np.flatnonzero(model.required)
    surplus = value[parties] - state.walk_away[[model.parties[p] for p in parties]][:, None, :]
    weight = state.weights[parties][:, None, :]
    plain = np.all(weight == 1.0, axis=0)  # (1, n): the product itself, else the sum of weighted logs
    score = np.where(plain, np.prod(surplus, axis=0), np.sum(weight * np.log(np.maximum(surplus, 1e-300)), axis=0))
    best = np.where(possible, score, -np.inf).max(axis=0)
    assert np.all(score[package[r], r] >= best[r] - 1e-9 * np.maximum(1.0, np.abs(best[r])))
    return package


@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow])
@given(scenario_dicts(max_events=2, max_incidents=1, engines=("convergence", "eum"), weights=True), st.data())
def test_on_drawn_scenarios_less_resolve_or_loss_aversion_never_removes_an_acceptable_package(data, draw):
    """Per replicate, with the positions fixed, on drawn scenarios (veto players, mediators,
    optional parties, walk_away, bounds, alliances, several issues, either engine): lowering a
    decider's resolve on the day or the loss aversion keeps every package each decider accepted
    acceptable, so no replicate loses its deal (exact)."""
    model, state, blocks = _at_the_summit(_open_summit(data) if draw.draw(st.booleans()) else data,
                                          draw.draw(st.integers(0, 50)))
    if draw.draw(st.booleans()):
        _scattered(model, state, draw.draw(st.integers(0, 50)))
    before, deal = _acceptable(model, state), _deal(model, state, blocks)
    decider = draw.draw(st.sampled_from(model.deciders))
    state.summit_resolve[decider] *= draw.draw(st.floats(0.0, 1.0))
    state.loss_aversion[:] = 1.0 + (state.loss_aversion - 1.0) * draw.draw(st.floats(0.0, 1.0))
    after = _acceptable(model, state)
    event(f"replicates with a deal: {np.mean(deal >= 0):.1f}")
    event(f"a package became acceptable: {np.any(after & ~before)}")
    assert not np.any(before & ~after)
    assert not np.any((deal >= 0) & (_deal(model, state, blocks) < 0))


@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow])
@given(scenario_dicts(max_events=2, max_incidents=1, engines=("convergence", "eum"), weights=True), st.data())
def test_at_the_summit_more_trust_or_a_lower_bar_never_removes_an_acceptable_package(data, draw):
    """Per replicate, with the positions fixed, on drawn scenarios: more trust, less credibility
    asked of promises, a lower margin or walk_away, or mediators closing more of the gaps to full
    trust and to no margin, keep every package each decider accepted acceptable, so no replicate
    loses its deal (exact)."""
    model, state, blocks = _at_the_summit(_open_summit(data) if draw.draw(st.booleans()) else data,
                                          draw.draw(st.integers(0, 50)))
    if draw.draw(st.booleans()):
        _scattered(model, state, draw.draw(st.integers(0, 50)))
    before, deal = _acceptable(model, state), _deal(model, state, blocks)

    def toward(a: np.ndarray, end: float) -> None:
        a += draw.draw(st.floats(0.0, 1.0)) * (end - a)

    toward(state.summit_trust, 1.0)
    toward(state.credibility, 0.0)
    toward(state.margin, 0.0)
    toward(state.mediator_trust, 1.0)
    toward(state.mediator_margin, 1.0)
    toward(state.walk_away[draw.draw(st.sampled_from(model.deciders))], -1.0)
    assert not np.any(before & ~_acceptable(model, state))
    assert not np.any((deal >= 0) & (_deal(model, state, blocks) < 0))


def _one_issue_moved(model, state, mover: int, other: int, share: float) -> None:
    """`mover` moved a share of the way to `other` on the one issue, per replicate, within its bounds."""
    x, y = state.at_summit[mover, 0], state.at_summit[other, 0]
    state.at_summit[mover, 0] = np.clip(x + share * (y - x), np.minimum(x, y), np.maximum(x, y)).clip(
        model.lower[mover, 0], model.upper[mover, 0])


@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow])
@given(scenario_dicts(max_issues=1, max_parties=2, max_events=2, max_incidents=1, engines=("convergence", "eum")),
       st.data())
def test_on_one_issue_moving_a_party_toward_the_other_never_removes_the_deal_on_drawn_scenarios(data, draw):
    """Two required parties on one issue, positions fixed, beside veto players, mediators and
    agents who are not parties, under either engine, with the same resolve and salience on the day,
    the mover's walk_away no more than the other's and no alliance on the issue (README,
    "Invariances"): the mover moved a share of the way to the other never loses a replicate's
    deal (exact)."""
    data = _open_summit(data) if draw.draw(st.booleans()) else data
    data["relations"].pop("alliances", None)
    model, state, blocks = _at_the_summit(data, draw.draw(st.integers(0, 50)))
    if draw.draw(st.booleans()):
        _scattered(model, state, draw.draw(st.integers(0, 50)))
    mover, other = draw.draw(st.permutations(model.parties))
    state.summit_resolve[mover] = state.summit_resolve[other]
    state.summit_salience[mover] = state.summit_salience[other]
    state.walk_away[mover] = np.minimum(state.walk_away[mover], state.walk_away[other])
    deal = _deal(model, state, blocks)
    _one_issue_moved(model, state, mover, other, draw.draw(st.floats(0.0, 1.0)))
    event(f"replicates with a deal: {np.mean(deal >= 0):.1f}")
    assert not np.any((deal >= 0) & (_deal(model, state, blocks) < 0))


MONOTONE = Path(__file__).parent / "data" / "monotone"


@pytest.mark.parametrize("name, moved", [("walk_away", {"i": 0.64}), ("alliance", {"i": 0.5}), ("optional", {"i": 0.2}),
                                         ("resolve", {"i": 0.7}), ("two_issues", {"i": 0.284, "j": 0.9})])
def test_moving_toward_the_other_can_lose_the_deal_outside_the_conditions_of_the_exact_claim(name, moved):
    """Two parties, nothing happening, no deviation: the mover m moved toward the other loses the
    deal in every replicate when its walk_away is the higher, when the other is allied on the
    issue, when the other is not required, when the other concedes a level on m's side and m is
    the more resolute, or on two issues (tests/data/monotone/, each file says why; README,
    "Invariances")."""
    from sim.yamlfile import read_yaml_file

    data = read_yaml_file(MONOTONE / f"{name}.yaml")
    moved_data = copy.deepcopy(data)
    for issue, position in moved.items():
        moved_data["agents"]["m"]["issues"][issue]["position"] = position
    assert np.all(run_replicates(scenario_of(data), runs=256, seed=5).package >= 0)
    assert np.all(run_replicates(scenario_of(moved_data), runs=256, seed=5).package < 0)


def test_on_one_issue_a_mover_as_resolute_as_the_other_keeps_the_deal_it_concedes_on():
    """tests/data/monotone/resolve.yaml with m as resolute as the other: the other concedes a level
    on m's side, and m moved onto its position makes the same concession at the same weight, so
    the deal is kept (the exact claim, where the other's level is not on its side)."""
    from sim.yamlfile import read_yaml_file

    data = read_yaml_file(MONOTONE / "resolve.yaml")
    data["agents"]["m"]["resolve"] = data["agents"]["o"]["resolve"]
    moved_data = copy.deepcopy(data)
    moved_data["agents"]["m"]["issues"]["i"]["position"] = 0.7
    for d in (data, moved_data):
        assert np.all(run_replicates(scenario_of(d), runs=256, seed=5).package >= 0)

@pytest.mark.slow
@pytest.mark.parametrize("mover", ["japan", "russia"])
def test_on_the_baseline_moving_a_party_toward_the_other_never_lowers_the_chance_of_a_deal(mover):
    """Japan or Russia moved a quarter and half the way to the other's positions on every issue:
    P(deal) does not fall beyond 3 paired standard errors (40,000 replicates, one seed)."""
    data = load_scenario(BASELINE).model_dump(mode="json", exclude_defaults=True)
    other = "russia" if mover == "japan" else "japan"
    base = scenario_of(data)
    for share in (0.25, 0.5):
        diff, se = _deal_difference(base, scenario_of(_toward(data, mover, other, share)))
        assert diff >= -3 * se, (mover, share, diff, se)


@pytest.mark.slow
@pytest.mark.parametrize("mover", ["japan", "russia"])
def test_on_the_baseline_lowering_a_partys_resolve_never_lowers_the_chance_of_a_deal(mover):
    """Japan's or Russia's resolve lowered by 0.2: P(deal) does not fall beyond 3 paired standard errors."""
    from sim.schema import shift_param

    data = load_scenario(BASELINE).model_dump(mode="json", exclude_defaults=True)
    base = scenario_of(data)
    data["agents"][mover]["resolve"] = shift_param(base.agents[mover].resolve, -0.2)
    diff, se = _deal_difference(base, scenario_of(data))
    assert diff >= -3 * se, (mover, diff, se)


@pytest.mark.slow
def test_a_pliable_party_also_follows_bad_news_further():
    """Not a law of the whole model, and pinned so that a change to it is noticed: in small.yaml,
    where trust keeps falling (a clash every two months), a less resolute north follows its patron
    away from south further, and P(deal) falls (README, "Invariances")."""
    from sim.schema import shift_param

    data = small_dict()
    base = scenario_of(data)
    data["agents"]["north"]["resolve"] = shift_param(base.agents["north"].resolve, -0.2)
    diff, se = _deal_difference(base, scenario_of(data))
    assert diff < -3 * se
    data["incidents"] = []
    quiet = copy.deepcopy(data)
    quiet["agents"]["north"]["resolve"] = base.agents["north"].resolve.model_dump()
    diff, se = _deal_difference(scenario_of(quiet), scenario_of(data))
    assert diff >= -3 * se  # without the bad news, lowering resolve does not lower P(deal)
