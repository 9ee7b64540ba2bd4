"""The scenario compiled for the engine: canonical order, days, parameters and the menu.

`compile_model` turns a validated `Scenario` into a `Model` of plain numbers
and parameter specs. Agents and issues are in canonical order (`sim.canonical`)
and every random parameter carries a stream key made of canonical labels, so
neither the order a file lists things in nor their names change a number.
Weekly ticks fall on the calendar's Sundays, so moving `calendar.start` moves
no tick. `sim.state.draw_state` draws a chunk's state from the model.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field

import numpy as np

from .canonical import Canon, make_canon
from .rubric import (
    BREAKTHROUGH,
    CLASSES,
    COLLAPSE,
    SUBSTANTIVE,
    SUBSTANTIVE_OR_BETTER,
    TALK_FEST,
    Rubric,
    compile_rubric,
)
from .schema import DateTriangular, DateUniform, Effect, Scenario
from .schema.rules import MAX_PACKAGES
from .schema.summit import MAX_WEIGHT

__all__ = ["BREAKTHROUGH", "CLASSES", "COLLAPSE", "SUBSTANTIVE", "SUBSTANTIVE_OR_BETTER", "TALK_FEST",
           "CompiledEffect", "Model", "ParamSpec", "compile_model", "tick_days"]



@dataclass(frozen=True)
class ParamSpec:
    """One per-replicate number: where it comes from and how it is drawn."""

    param: object  # a number or a schema distribution
    key: str  # its random stream's key: the path with canonical labels for names
    source: str  # the dotted path of the scenario field it comes from (what a knob names)
    low: float  # the range it must stay in
    high: float


@dataclass(frozen=True)
class CompiledEffect:
    target: str
    agent: int  # index, -1 where the target takes none
    issue: int
    pairs: tuple[int, ...]  # trust: the pairs it moves
    shift: object  # a number or a distribution
    probability: object


@dataclass(frozen=True)
class CompiledEvent:
    name: str
    day: int
    probability: object
    effects: tuple[CompiledEffect, ...]


@dataclass(frozen=True)
class CompiledIncident:
    name: str
    rate_per_month: object
    start_day: int
    effects: tuple[CompiledEffect, ...]


@dataclass(frozen=True)
class Election:
    agent: int
    day: int
    window_days: int
    path: str


@dataclass(frozen=True)
class Alliance:
    agent: int
    patron: int
    issues: tuple[int, ...]
    path: str  # params "{path}.pull" and "{path}.cost"


@dataclass(frozen=True)
class Model:
    """A scenario as plain numbers and parameter specs, in canonical order."""

    name: str
    agents: tuple[str, ...]
    issues: tuple[str, ...]
    canon: Canon
    params: dict[str, ParamSpec]  # internal path -> spec, every per-replicate number
    lower: np.ndarray  # (n_agents, n_issues, 1) domestic bounds
    upper: np.ndarray
    status_quo: np.ndarray  # (n_issues,) the level each issue stays at without a deal
    parties: tuple[int, ...]  # summit parties (agent indices, canonical order)
    required: np.ndarray  # (n_parties,) bool: a deal needs this party's signature
    veto: tuple[int, ...]  # agents who must accept but sign nothing
    pairs: tuple[tuple[int, int], ...]  # trust pairs (i < j)
    pair_of: np.ndarray  # (n_agents, n_agents) int: the pair index of two agents, -1 for none
    mediators: tuple[tuple[int, str], ...]  # (agent, params path prefix)
    elections: tuple[Election, ...]
    alliances: tuple[Alliance, ...]
    events: tuple[CompiledEvent, ...]
    incidents: tuple[CompiledIncident, ...]
    summit_days: tuple  # ("fixed", d) | ("uniform", lo, hi) | ("triangular", lo, mode, hi)
    horizon: int  # latest possible summit day
    ticks: tuple[int, ...]  # days of the weekly diplomacy ticks (the calendar's Sundays)
    trust_below: float
    engine: str
    engine_options: dict  # the engine's own settings (eum: variant, rounds_per_week, q)
    packages: np.ndarray  # (n_packages, n_issues) the summit menu
    package_names: tuple[str, ...]
    issue_anchors: tuple[np.ndarray, ...]  # per issue, its anchors ascending (menu order)
    rubric: Rubric
    scenario: Scenario | None = None  # what it was compiled from (knobs resolve paths in it)
    start_date: dt.date | None = None
    anchors: dict = field(default_factory=dict)

    @property
    def n_agents(self) -> int:
        return len(self.agents)

    @property
    def n_issues(self) -> int:
        return len(self.issues)

    @property
    def weeks(self) -> int:
        """Points of a weekly trajectory: the start, then every tick."""
        return len(self.ticks) + 1

    @property
    def package_class(self) -> np.ndarray:
        return self.rubric.package_class

    @property
    def deciders(self) -> tuple[int, ...]:
        """Everyone whose acceptance a deal needs or asks: the parties, then the veto players."""
        return self.parties + self.veto


def tick_days(start: dt.date, horizon: int) -> tuple[int, ...]:
    """Days (from `start`) of the Sundays in [0, horizon]: ticks that do not move with `start`
    (a start on a Sunday is a tick, as that Sunday is once the start moves earlier)."""
    first = (6 - start.weekday()) % 7
    return tuple(range(first, horizon + 1, 7))


def compile_model(s: Scenario) -> Model:
    canon = make_canon(s)
    agents, issues = canon.agents, canon.issues
    a_idx = {a: k for k, a in enumerate(agents)}
    day = lambda d: (d - s.calendar.start).days  # noqa: E731
    params: dict[str, ParamSpec] = {}

    def add(path: str, param, source: str, lo: float, hi: float, key: str | None = None) -> None:
        params[path] = ParamSpec(param, key if key is not None else path, source, lo, hi)

    lower, upper, elections = _compile_agents(s, canon, add, day)
    pairs, pair_of = _compile_trust(s, canon, add)
    alliances = _compile_alliances(s, canon, add)
    events, incidents = _compile_streams(s, canon, add, day, pair_of, len(pairs))
    summit = s.summit
    add("summit.cancellation.base_probability", summit.cancellation.base_probability,
        "summit.cancellation.base_probability", 0.0, 1.0)
    for name, lo, hi in (("margin", 0.0, 1.0), ("loss_aversion", 1.0, 10.0), ("credibility", 0.0, 1.0)):
        add(f"summit.bargaining.{name}", getattr(summit.bargaining, name), f"summit.bargaining.{name}", lo, hi)
    add("dynamics.rate", s.dynamics.rate, "dynamics.rate", 0.0, 1.0)
    add("dynamics.noise", s.dynamics.noise, "dynamics.noise", 0.0, 1.0)
    mediators = []
    for k, m in enumerate(s.roles.mediators):
        prefix = f"roles.mediators.{m.agent}"
        for name in ("trust", "margin"):
            add(f"{prefix}.{name}", getattr(m, name), f"roles.mediators.{k}.{name}", 0.0, 1.0,
                key=f"roles.mediators.{canon.agent_label[m.agent]}.{name}")
        mediators.append((a_idx[m.agent], prefix))

    for party in summit.parties:  # drawn per replicate: a knob, or a distribution, can move them
        add(f"summit.weights.{party}", summit.weights.get(party, 1.0), f"summit.weights.{party}", 1e-6, MAX_WEIGHT,
            key=f"summit.weights.{canon.agent_label[party]}")

    summit_days = _summit_days(summit.date, day)
    horizon = summit_days[-1]
    parties = tuple(sorted(a_idx[p] for p in summit.parties))
    required = set(summit.required or summit.parties)
    packages, names, anchors = _menu(s, issues)
    party_names = tuple(agents[k] for k in parties)
    return Model(
        name=s.name, agents=agents, issues=issues, canon=canon, params=params, lower=lower, upper=upper,
        status_quo=np.array([s.issues[i].status_quo for i in issues]),
        parties=parties, required=np.array([agents[k] in required for k in parties]),
        veto=tuple(sorted(a_idx[v] for v in s.roles.veto)), pairs=pairs, pair_of=pair_of,
        mediators=tuple(mediators), elections=elections, alliances=alliances, events=events, incidents=incidents,
        summit_days=summit_days, horizon=horizon, ticks=tick_days(s.calendar.start, horizon),
        trust_below=summit.cancellation.trust_below, engine=s.dynamics.engine,
        engine_options={"variant": s.dynamics.variant, "rounds_per_week": s.dynamics.rounds_per_week,
                        "q": s.dynamics.q},
        packages=packages, package_names=names, issue_anchors=anchors,
        rubric=compile_rubric(s.outcome, packages, issues, party_names), scenario=s,
        start_date=s.calendar.start, anchors={i: dict(s.issues[i].anchors) for i in issues},
    )


def _compile_agents(s: Scenario, canon: Canon, add, day):
    agents, issues = canon.agents, canon.issues
    lower = np.zeros((len(agents), len(issues), 1))
    upper = np.ones((len(agents), len(issues), 1))
    elections = []
    for a_k, a in enumerate(agents):
        agent, label = s.agents[a], canon.agent_label[a]
        add(f"agents.{a}.capability", agent.capability, f"agents.{a}.capability", 0.0, np.inf,
            key=f"agents.{label}.capability")
        add(f"agents.{a}.resolve", agent.resolve, f"agents.{a}.resolve", 0.0, 1.0, key=f"agents.{label}.resolve")
        add(f"agents.{a}.walk_away", agent.walk_away, f"agents.{a}.walk_away", -1.0, 1.0,
            key=f"agents.{label}.walk_away")
        for i_k, i in enumerate(issues):
            stance, where = agent.issues[i], f"agents.{a}.issues.{i}"
            lo, hi = stance.bounds
            key = f"agents.{label}.issues.{canon.issue_label[i]}"
            add(f"{where}.position", stance.position, f"{where}.position", lo, hi, key=f"{key}.position")
            add(f"{where}.salience", stance.salience, f"{where}.salience", 0.0, 1.0, key=f"{key}.salience")
            lower[a_k, i_k, 0], upper[a_k, i_k, 0] = lo, hi
        for e in sorted(agent.elections, key=lambda e: e.name):
            path = f"agents.{a}.elections.{e.name}.audience_cost"
            add(path, e.audience_cost, path, 0.0, 1.0, key=f"agents.{label}.elections.{e.name}.audience_cost")
            elections.append(Election(a_k, day(e.date), e.window_days, path))
    return lower, upper, tuple(elections)


def _compile_trust(s: Scenario, canon: Canon, add):
    a_idx = {a: k for k, a in enumerate(canon.agents)}
    listed = isinstance(s.relations.trust, list)
    found = sorted((*sorted((a_idx[a], a_idx[b])), k, entry)
                   for k, entry in enumerate(s.relations.trust_entries()) for a, b in entry.pairs())
    pair_of = np.full((len(canon.agents),) * 2, -1, dtype=np.int64)
    for p, (i, j, k, entry) in enumerate(found):
        source = f"relations.trust.{k}" if listed else "relations.trust"
        path = f"relations.trust.{canon.agents[i]}.{canon.agents[j]}"
        key = f"relations.trust.{canon.agent_label[canon.agents[i]]}.{canon.agent_label[canon.agents[j]]}"
        add(f"{path}.initial", entry.initial, f"{source}.initial", 0.0, 1.0, key=f"{key}.initial")
        add(f"{path}.weekly_recovery", entry.weekly_recovery, f"{source}.weekly_recovery", 0.0, 1.0,
            key=f"{key}.weekly_recovery")
        pair_of[i, j] = pair_of[j, i] = p
    return tuple((i, j) for i, j, _, _ in found), pair_of


def _compile_alliances(s: Scenario, canon: Canon, add) -> tuple[Alliance, ...]:
    a_idx = {a: k for k, a in enumerate(canon.agents)}
    i_idx = {i: k for k, i in enumerate(canon.issues)}
    out = []
    for k, al in enumerate(s.relations.alliances):
        path = f"relations.alliances.{al.agent}.{al.patron}"
        key = f"relations.alliances.{canon.agent_label[al.agent]}.{canon.agent_label[al.patron]}"
        add(f"{path}.pull", al.pull, f"relations.alliances.{k}.pull", 0.0, 1.0, key=f"{key}.pull")
        add(f"{path}.cost", al.cost, f"relations.alliances.{k}.cost", 0.0, np.inf, key=f"{key}.cost")
        out.append(Alliance(a_idx[al.agent], a_idx[al.patron], tuple(sorted(i_idx[i] for i in al.issues)), path))
    return tuple(sorted(out, key=lambda al: (al.agent, al.patron)))


def _compile_streams(s: Scenario, canon: Canon, add, day, pair_of: np.ndarray, n_pairs: int):
    a_idx = {a: k for k, a in enumerate(canon.agents)}
    i_idx = {i: k for k, i in enumerate(canon.issues)}

    def effects(effect_list: list[Effect]) -> tuple[CompiledEffect, ...]:
        out = []
        for e in effect_list:
            pairs: tuple[int, ...] = ()
            if e.target == "trust":
                pairs = (int(pair_of[a_idx[e.between[0]], a_idx[e.between[1]]]),) if e.between else \
                    tuple(range(n_pairs))
            out.append(CompiledEffect(e.target, a_idx.get(e.agent, -1), i_idx.get(e.issue, -1), pairs, e.shift,
                                      e.probability))
        return tuple(out)

    events = tuple(CompiledEvent(ev.name, day(ev.date), ev.probability, effects(ev.effects))
                   for ev in sorted(s.events, key=lambda ev: (ev.date, ev.name)))
    for ev in events:
        add(f"events.{ev.name}.probability", ev.probability, f"events.{ev.name}.probability", 0.0, 1.0)
    incidents = tuple(CompiledIncident(inc.name, inc.rate_per_month, day(inc.start or s.calendar.vantage),
                                       effects(inc.effects))
                      for inc in sorted(s.incidents, key=lambda inc: inc.name))
    for inc in incidents:
        add(f"incidents.{inc.name}.rate_per_month", inc.rate_per_month, f"incidents.{inc.name}.rate_per_month",
            0.0, np.inf)
    return events, incidents


def _summit_days(date, day) -> tuple:
    if isinstance(date, DateUniform):
        return ("uniform", day(date.low), day(date.high))
    if isinstance(date, DateTriangular):
        return ("triangular", day(date.low), day(date.mode), day(date.high))
    return ("fixed", day(date))


def _menu(s: Scenario, issues: tuple[str, ...]):
    """Every combination of the issues' anchors, (n_packages, n_issues), with names; first issue
    slowest. The menu is in canonical order (ties in the summit's search go to the first), but a
    name joins the anchors in the order the file lists its issues, so that a reader can read it and
    a role change, which can reorder the canonical issues, does not rename a deal."""
    grids = [sorted(s.issues[i].anchors.items(), key=lambda kv: kv[1]) for i in issues]
    size = int(np.prod([len(g) for g in grids], dtype=np.float64))
    if size > MAX_PACKAGES:
        from .errors import InputError, Problem

        raise InputError(Problem(s.name, "issues", f"the summit menu (the product of the issues' anchor counts) "
                                 f"may hold at most {MAX_PACKAGES:,} packages", size, True))
    combos = list(itertools.product(*grids))
    packages = np.array([[v for _, v in combo] for combo in combos], dtype=float).reshape(-1, len(issues))
    written = [issues.index(i) for i in s.issues]
    names = tuple("/".join(combo[j][0] for j in written) for combo in combos)
    return packages, names, tuple(np.array([v for _, v in grid]) for grid in grids)
