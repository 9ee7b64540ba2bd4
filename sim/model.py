"""The scenario compiled for the engine: canonical order, days, and batch state.

`compile_model` turns a validated `Scenario` into a `Model` of plain numbers
and parameter specs, with agents, issues and incident streams in sorted order
and events in date order, so the order a file lists them in changes nothing.
`draw_state` draws one chunk's `State`: the arrays, shaped
(n_agents, n_issues, n_replicates), that the timeline's processes update.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from .distributions import is_random, sample
from .randomness import Blocks
from .schema import DateTriangular, DateUniform, Effect, Scenario

__all__ = ["CLASSES", "Model", "State", "compile_model", "draw_state"]

CLASSES = ("breakthrough", "substantive", "talk_fest", "collapse")
BREAKTHROUGH, SUBSTANTIVE, TALK_FEST, COLLAPSE = range(4)


@dataclass(frozen=True)
class CompiledEffect:
    target: str
    agent: int  # index, -1 where the target takes none
    issue: int
    shift: object  # Param: a number or a distribution
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
    audience_cost: object
    path: str


@dataclass(frozen=True)
class Alliance:
    agent: int
    patron: int
    issues: tuple[int, ...]
    pull: object
    cost: object
    path: str


@dataclass(frozen=True)
class Model:
    """A scenario as plain numbers and parameter specs, in canonical order."""

    name: str
    agents: tuple[str, ...]
    issues: tuple[str, ...]
    parties: tuple[int, int]  # summit parties, agent indices in sorted order
    params: dict[str, object]  # path -> Param, every per-replicate number
    lower: np.ndarray  # (n_agents, n_issues, 1) domestic bounds
    upper: np.ndarray
    elections: tuple[Election, ...]
    alliances: tuple[Alliance, ...]
    events: tuple[CompiledEvent, ...]
    incidents: tuple[CompiledIncident, ...]
    summit_days: tuple  # ("fixed", d) | ("uniform", lo, hi) | ("triangular", lo, mode, hi)
    horizon: int  # latest possible summit day
    trust_below: float
    engine: str
    engine_options: dict  # the engine's own settings (eum: variant, rounds_per_week, q)
    packages: np.ndarray  # (n_packages, n_issues) the summit menu
    package_class: np.ndarray  # (n_packages,) outcome class of each package
    package_names: tuple[str, ...]
    issue_anchors: tuple[np.ndarray, ...]  # per issue, its anchors ascending (menu order)
    start_date: object = None
    anchors: dict = field(default_factory=dict)

    @property
    def n_agents(self) -> int:
        return len(self.agents)

    @property
    def n_issues(self) -> int:
        return len(self.issues)

    @property
    def weeks(self) -> int:
        return self.horizon // 7 + 1


def compile_model(s: Scenario) -> Model:
    agents = tuple(sorted(s.agents))
    issues = tuple(sorted(s.issues))
    a_idx = {a: k for k, a in enumerate(agents)}
    i_idx = {i: k for k, i in enumerate(issues)}
    day = lambda d: (d - s.calendar.start).days

    params: dict[str, object] = {}
    lower = np.zeros((len(agents), len(issues), 1))
    upper = np.ones((len(agents), len(issues), 1))
    elections = []
    for a in agents:
        agent = s.agents[a]
        for name in ("capability", "resolve", "reservation"):
            params[f"agents.{a}.{name}"] = getattr(agent, name)
        for i in issues:
            stance = agent.issues[i]
            params[f"agents.{a}.issues.{i}.position"] = stance.position
            params[f"agents.{a}.issues.{i}.salience"] = stance.salience
            lower[a_idx[a], i_idx[i], 0], upper[a_idx[a], i_idx[i], 0] = stance.bounds
        for e in sorted(agent.elections, key=lambda e: e.name):
            path = f"agents.{a}.elections.{e.name}.audience_cost"
            params[path] = e.audience_cost
            elections.append(Election(a_idx[a], day(e.date), e.window_days, e.audience_cost, path))

    trust = s.relations.trust
    params["relations.trust.initial"] = trust.initial
    params["relations.trust.weekly_recovery"] = trust.weekly_recovery
    alliances = []
    for al in sorted(s.relations.alliances, key=lambda al: (al.agent, al.patron)):
        path = f"relations.alliances.{al.agent}.{al.patron}"
        params[f"{path}.pull"], params[f"{path}.cost"] = al.pull, al.cost
        alliances.append(
            Alliance(a_idx[al.agent], a_idx[al.patron], tuple(sorted(i_idx[i] for i in al.issues)),
                     al.pull, al.cost, path)
        )

    def effects(effect_list: list[Effect]) -> tuple[CompiledEffect, ...]:
        return tuple(
            CompiledEffect(e.target, a_idx.get(e.agent, -1), i_idx.get(e.issue, -1), e.shift, e.probability)
            for e in effect_list
        )

    events = tuple(
        CompiledEvent(ev.name, day(ev.date), ev.probability, effects(ev.effects))
        for ev in sorted(s.events, key=lambda ev: (ev.date, ev.name))
    )
    for ev in events:
        params[f"events.{ev.name}.probability"] = ev.probability
    incidents = tuple(
        CompiledIncident(inc.name, inc.rate_per_month,
                         day(inc.start or s.calendar.vantage), effects(inc.effects))
        for inc in sorted(s.incidents, key=lambda inc: inc.name)
    )
    for inc in incidents:
        params[f"incidents.{inc.name}.rate_per_month"] = inc.rate_per_month

    params["summit.cancellation.base_probability"] = s.summit.cancellation.base_probability
    params["dynamics.rate"] = s.dynamics.rate
    params["dynamics.noise"] = s.dynamics.noise

    date = s.summit.date
    if isinstance(date, DateUniform):
        summit_days = ("uniform", day(date.low), day(date.high))
    elif isinstance(date, DateTriangular):
        summit_days = ("triangular", day(date.low), day(date.mode), day(date.high))
    else:
        summit_days = ("fixed", day(date))

    grids = [sorted(s.issues[i].anchors.items(), key=lambda kv: kv[1]) for i in issues]
    combos = list(itertools.product(*grids))
    packages = np.array([[v for _, v in combo] for combo in combos])
    package_names = tuple("/".join(k for k, _ in combo) for combo in combos)

    return Model(
        name=s.name,
        agents=agents,
        issues=issues,
        parties=tuple(sorted(a_idx[p] for p in s.summit.parties)),
        params=params,
        lower=lower,
        upper=upper,
        elections=tuple(elections),
        alliances=tuple(alliances),
        events=events,
        incidents=incidents,
        summit_days=summit_days,
        horizon=summit_days[-1],
        trust_below=s.summit.cancellation.trust_below,
        engine=s.dynamics.engine,
        engine_options={"variant": s.dynamics.variant, "rounds_per_week": s.dynamics.rounds_per_week,
                        "q": s.dynamics.q},
        packages=packages,
        package_class=classify_packages(packages, issues, s),
        package_names=package_names,
        issue_anchors=tuple(np.array([v for _, v in grid]) for grid in grids),
        start_date=s.calendar.start,
        anchors={i: dict(s.issues[i].anchors) for i in issues},
    )


def classify_packages(packages: np.ndarray, issues: tuple[str, ...], s: Scenario) -> np.ndarray:
    """The outcome class of each package (n_packages, n_issues) under `s.outcome`."""

    def holds(conditions) -> np.ndarray:
        hit = np.zeros(len(packages), dtype=bool)
        for c in conditions:
            level = packages[:, issues.index(c.issue)]
            hit |= level >= c.at_least if c.at_least is not None else level <= c.at_most
        return hit

    out = np.full(len(packages), TALK_FEST, dtype=np.uint8)
    out[holds(s.outcome.substantive)] = SUBSTANTIVE
    out[holds(s.outcome.breakthrough)] = BREAKTHROUGH
    return out


@dataclass
class State:
    """The state of one chunk of replicates; the replicate axis is last.

    position, ideal, salience: (n_agents, n_issues, n)  positions on [0, 1] scales
    capability, resolve, reservation: (n_agents, n)
    trust, trust_initial, trust_recovery, rate, noise, cancel_base: (n,)
    event_probability: (n_events, n), incident_rate: (n_incidents, n) per month
    audience: (n_elections, n)  audience cost of each election
    alliance_pull, alliance_cost: (n_alliances, n)
    summit_day: (n,) int  days from calendar start
    cancelled: (n,) bool  called off by an event or incident
    outcome: (n,) uint8 class codes, package: (n,) int16 (-1: no deal)
    at_summit: (n_agents, n_issues, n) positions when the summit met
    summit_reservation: (2, n) the parties' reservations then, with audience costs
    summit_salience: (2, n_issues, n) the parties' saliences then
    called_off: (n,) bool  the visit was cancelled, or trust had fallen too low
    """

    position: np.ndarray
    ideal: np.ndarray
    salience: np.ndarray
    capability: np.ndarray
    resolve: np.ndarray
    reservation: np.ndarray
    trust: np.ndarray
    trust_initial: np.ndarray
    trust_recovery: np.ndarray
    rate: np.ndarray
    noise: np.ndarray
    cancel_base: np.ndarray
    event_probability: np.ndarray
    incident_rate: np.ndarray
    audience: np.ndarray
    alliance_pull: np.ndarray
    alliance_cost: np.ndarray
    summit_day: np.ndarray
    cancelled: np.ndarray
    outcome: np.ndarray
    package: np.ndarray
    at_summit: np.ndarray
    summit_reservation: np.ndarray
    summit_salience: np.ndarray
    called_off: np.ndarray

    @property
    def n(self) -> int:
        return self.trust.shape[0]


def draw_params(model: Model, blocks: Blocks) -> dict[str, np.ndarray]:
    """Every parameter as an (n,) array; each random one on its own keyed stream."""
    out = {}
    for path, param in model.params.items():
        if is_random(param):
            rngs = blocks.rngs("parameters", path)
            out[path] = blocks.draw(rngs, lambda rng, size, sl, p=param: sample(p, rng, size))
        else:
            out[path] = sample(param, None, blocks.size)
    return out


def draw_summit_days(model: Model, blocks: Blocks) -> np.ndarray:
    kind, *days = model.summit_days
    if kind == "fixed":
        return np.full(blocks.size, days[0], dtype=np.int64)
    rngs = blocks.rngs("summit", "date")
    if kind == "uniform":
        lo, hi = days
        return blocks.draw(rngs, lambda rng, size, sl: rng.integers(lo, hi + 1, size), dtype=np.int64)
    lo, mode, hi = days
    # Whole days: the triangular on [lo, hi + 1) floored puts equal mass per day at the ends.
    return blocks.draw(
        rngs, lambda rng, size, sl: np.floor(rng.triangular(lo, mode + 0.5, hi + 1, size)), dtype=np.int64
    )


def draw_state(model: Model, blocks: Blocks) -> State:
    p = draw_params(model, blocks)
    n, A, I = blocks.size, model.n_agents, model.n_issues

    def stack(fmt: str) -> np.ndarray:
        return np.stack([np.stack([p[fmt.format(a=a, i=i)] for i in model.issues]) for a in model.agents])

    ideal = np.clip(stack("agents.{a}.issues.{i}.position"), model.lower, model.upper)
    salience = np.clip(stack("agents.{a}.issues.{i}.salience"), 0.0, None)
    total = salience.sum(axis=1, keepdims=True)
    salience = np.divide(salience, total, out=np.full_like(salience, 1 / I), where=total > 0)
    per_agent = lambda name: np.stack([p[f"agents.{a}.{name}"] for a in model.agents])

    return State(
        position=ideal.copy(),
        ideal=ideal,
        salience=salience,
        capability=per_agent("capability"),
        resolve=per_agent("resolve"),
        reservation=per_agent("reservation"),
        trust=p["relations.trust.initial"].copy(),
        trust_initial=p["relations.trust.initial"],
        trust_recovery=p["relations.trust.weekly_recovery"],
        rate=p["dynamics.rate"],
        noise=p["dynamics.noise"],
        cancel_base=p["summit.cancellation.base_probability"],
        event_probability=_rows(p, [f"events.{e.name}.probability" for e in model.events], n),
        incident_rate=_rows(p, [f"incidents.{i.name}.rate_per_month" for i in model.incidents], n),
        audience=_rows(p, [e.path for e in model.elections], n),
        alliance_pull=_rows(p, [f"{al.path}.pull" for al in model.alliances], n),
        alliance_cost=_rows(p, [f"{al.path}.cost" for al in model.alliances], n),
        summit_day=draw_summit_days(model, blocks),
        cancelled=np.zeros(n, dtype=bool),
        outcome=np.full(n, TALK_FEST, dtype=np.uint8),
        package=np.full(n, -1, dtype=np.int16),
        at_summit=np.zeros((A, model.n_issues, n)),
        summit_reservation=np.zeros((2, n)),
        summit_salience=np.zeros((2, model.n_issues, n)),
        called_off=np.zeros(n, dtype=bool),
    )


def _rows(params: dict[str, np.ndarray], paths: list[str], n: int) -> np.ndarray:
    """Stack parameters into (len(paths), n); an empty list gives (0, n)."""
    return np.stack([params[path] for path in paths]) if paths else np.zeros((0, n))
