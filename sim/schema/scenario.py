"""The scenario file's models: everything a user can write in a scenario YAML.

Declared strictly (unknown keys are errors) with bounds on every number; the
rules that span several fields are in `rules`. The rest of the package trusts
what these models let through.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Annotated, Literal

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from ..validation import RuleViolations, Strict
from .outcome import Observed, Outcome
from .params import Name, NonNegative, Param, Probability, Shift, Unit, support, within
from .rules import MAX_RUNS, rule_problems
from .summit import Roles, Summit

__all__ = ["Agent", "Alliance", "Calendar", "Dynamics", "Effect", "Election", "Event", "Incident", "Issue",
           "DESCRIPTIVE", "MonteCarlo", "Relations", "Scenario", "Stance", "Trust", "scenario_hash"]

CHANGED = {
    "reservation": "no longer used: a party accepts a package when it beats no deal (the status quo, plus "
                   "walk_away) by summit.bargaining.margin, a constant fitted on history; remove it",
    "noise": "now the sd of each position's unmodelled deviation on the summit day, not a weekly drift; "
             "it is a calibration knob: leave it out unless you mean to override the fitted value",
}
"""Fields still accepted whose meaning changed, and what they mean now (a warning says so)."""


class Calendar(Strict):
    """`start`: the date the agents' positions describe (time 0 of the calendar).
    `vantage`: the date of knowledge; nothing after it may be written as known."""

    start: dt.date
    vantage: dt.date


class Issue(Strict):
    """A scale in [0, 1]; `anchors` name its points and are the summit's menu."""

    description: str = ""
    anchors: dict[Name, Annotated[float, Field(ge=0, le=1)]] = Field(min_length=2)  # each named where it is wrong
    status_quo: float = Field(ge=0, le=1)

    @model_validator(mode="after")
    def _anchors(self) -> Issue:
        if len(set(self.anchors.values())) != len(self.anchors):
            raise ValueError(f"anchors must be distinct (got {dict(self.anchors)})")
        return self


class Stance(Strict):
    """An agent's stance on one issue."""

    position: Unit  # ideal point on the issue's scale
    salience: Unit  # share of the agent's attention; an agent's saliences sum to 1
    bounds: tuple[float, float] = (0.0, 1.0)  # domestic limits the agent cannot move past

    @model_validator(mode="after")
    def _bounds(self) -> Stance:
        lo, hi = self.bounds
        if not 0 <= lo <= hi <= 1:
            raise ValueError(f"bounds must satisfy 0 <= low <= high <= 1 (got {list(self.bounds)})")
        p_lo, p_hi = support(self.position)
        if p_lo < lo or p_hi > hi:
            got = f"{p_lo:g}" if p_lo == p_hi else f"a distribution over [{p_lo:g}, {p_hi:g}]"
            raise ValueError(f"position must lie within bounds {list(self.bounds)} (got {got})")
        return self


class Election(Strict):
    """A domestic election: audience costs stiffen the agent as it nears."""

    name: Name
    date: dt.date
    audience_cost: Unit  # added resolve (share of the remaining flexibility) on election day
    window_days: int = Field(default=60, gt=0, le=365)  # how long before the vote the cost ramps up
    source: str = ""


class Agent(Strict):
    capability: NonNegative  # power brought to bear, any unit shared by all agents
    resolve: Unit  # resistance to moving and to conceding, 0 = pliable, 1 = immovable
    issues: dict[Name, Stance]
    walk_away: Shift = 0.0  # utility gained (+) or lost (-) by leaving with no deal, beyond the status quo
    reservation: Unit | None = None  # no longer used (a warning says so); accepted so old files stay valid
    elections: list[Election] = []
    description: str = ""


class Trust(Strict):
    """Trust between two agents, or between every two of a group (each pair its own)."""

    between: list[Name]
    initial: Unit
    weekly_recovery: Unit = 0.0  # share of the gap to `initial` recovered each week

    @field_validator("between", mode="before")
    @classmethod
    def _pairs(cls, value):
        if isinstance(value, (list, tuple)) and len(value) < 2:
            raise ValueError(f"trust is between two agents, or every two of a group (got {len(value)})")
        return value

    def pairs(self) -> list[tuple[str, str]]:
        """Every unordered pair of `between`, in the order written."""
        return [(a, b) for k, a in enumerate(self.between) for b in self.between[k + 1:]]


class Alliance(Strict):
    """A patron's pull on an agent's position on some issues, and the cost of deviating."""

    agent: Name
    patron: Name
    issues: list[Name] = Field(min_length=1)
    pull: Unit  # share of the gap to the patron's position closed each week
    cost: NonNegative  # utility lost per unit of deviation of a deal from the patron's position


def _one_or_list(value) -> str | None:
    return "trust-list" if isinstance(value, list) else "trust-one" if isinstance(value, (dict, Trust)) else None


class Relations(Strict):
    # one entry, or a list: each pair of parties needs one
    trust: Annotated[Annotated[Trust, Tag("trust-one")] | Annotated[list[Trust], Tag("trust-list")],
                     Discriminator(_one_or_list, custom_error_type="trust",
                                   custom_error_message="must be {between: [a, b], initial: ...} or a list of them")]
    alliances: list[Alliance] = []

    def trust_entries(self) -> list[Trust]:
        return self.trust if isinstance(self.trust, list) else [self.trust]


class Effect(Strict):
    """What an event or incident does to the state of a replicate.

    target: position | ideal | salience (need agent and issue), capability |
    resolve (need agent), trust, cancel (the visit is called off with
    `probability`).
    """

    target: Literal["position", "ideal", "salience", "capability", "resolve", "trust", "cancel"]
    agent: Name | None = None
    issue: Name | None = None
    between: tuple[Name, Name] | None = None  # trust only: one pair (default: every trust pair)
    shift: Shift = 0.0
    probability: Probability = 1.0

    @model_validator(mode="after")
    def _fields(self) -> Effect:
        needs_agent = self.target in ("position", "ideal", "salience", "capability", "resolve")
        needs_issue = self.target in ("position", "ideal", "salience")
        if needs_agent and self.agent is None:
            raise ValueError(f"target {self.target!r} needs an agent")
        if not needs_agent and self.agent is not None:
            raise ValueError(f"target {self.target!r} takes no agent (got {self.agent!r})")
        if needs_issue and self.issue is None:
            raise ValueError(f"target {self.target!r} needs an issue")
        if not needs_issue and self.issue is not None:
            raise ValueError(f"target {self.target!r} takes no issue (got {self.issue!r})")
        if self.between is not None and self.target != "trust":
            raise ValueError(f"between applies to target 'trust' only (got target {self.target!r})")
        if self.target == "cancel" and self.shift != 0.0:
            raise ValueError("target 'cancel' takes a probability, not a shift")
        return self


class Event(Strict):
    """A scheduled event: it happens on `date` with `probability`."""

    name: Name
    date: dt.date
    probability: Probability = 1.0
    effects: list[Effect] = []
    source: str = Field(min_length=1)  # the sentence of the source this event encodes


class Incident(Strict):
    """A random stream of unscheduled events (Poisson arrivals)."""

    name: Name
    rate_per_month: NonNegative  # expected arrivals per 30.44 days, drawn once per replicate
    effects: list[Effect] = Field(min_length=1)  # shifts are drawn afresh for each arrival
    start: dt.date | None = None  # defaults to the vantage date
    description: str = ""


class Dynamics(Strict):
    """The weekly diplomacy rule (engine) and its parameters.

    `rate` is used by `convergence`; `variant`, `rounds_per_week` and `q` by `eum`
    (the expected-utility model); `noise` by both: the sd of each position's
    unmodelled deviation on the summit day (a calibration knob).
    """

    engine: Literal["convergence", "eum"] = "convergence"
    rate: Unit = 0.2  # share of the pressure gap an agent closes per week
    noise: Annotated[Param, within(0.0, 1.0)] = 0.03  # sd of each position's deviation on the summit day
    variant: Literal["scholz", "paper"] = "scholz"  # eum: the replication, or the papers' rules
    rounds_per_week: int = Field(default=1, ge=1, le=20)  # eum: challenge rounds per week
    q: float = Field(default=1.0, ge=0, le=1)  # eum: probability that the status quo holds


class MonteCarlo(Strict):
    runs: int = Field(default=100_000, ge=1, le=MAX_RUNS)
    seed: int | None = Field(default=None, ge=0)
    chunk_size: int = Field(default=8192, ge=1, le=10**7)


class Scenario(Strict):
    """A validated scenario (README, "Scenario file reference"): what `load_scenario` and
    `parse_scenario` return and `run` takes. Frozen; unknown keys, NaN and booleans where
    numbers belong are errors. `Scenario.model_validate(data)` validates plain data and raises
    pydantic's `ValidationError`; the loaders turn that into an `InputError`."""

    name: Name
    title: str = ""
    source: str = ""
    calendar: Calendar
    issues: dict[Name, Issue] = Field(min_length=1)
    agents: dict[Name, Agent] = Field(min_length=2)
    relations: Relations
    summit: Summit
    dynamics: Dynamics = Dynamics()
    events: list[Event] = []
    incidents: list[Incident] = []
    roles: Roles = Roles()
    outcome: Outcome
    monte_carlo: MonteCarlo = MonteCarlo()
    observed: Observed | None = None  # backtests only: the coded outcome of the meeting
    def changed_fields(self) -> list[tuple[str, str]]:
        """(dotted path, new meaning) of every field given whose meaning changed (README, "Changes")."""
        out = [(f"agents.{name}.reservation", CHANGED["reservation"])
               for name, agent in self.agents.items() if agent.reservation is not None]
        if "noise" in self.dynamics.model_fields_set:
            out.append(("dynamics.noise", CHANGED["noise"]))
        return out

    @model_validator(mode="after")
    def _cross_field_rules(self) -> Scenario:
        problems = list(rule_problems(self))
        if problems:
            raise RuleViolations(problems)
        return self


DESCRIPTIVE = frozenset({"name", "title", "source", "observed", "monte_carlo"})
"""Top-level fields that change no replicate's outcome (`monte_carlo`'s runs and seed choose
which replicates are drawn, not what any one of them gives)."""


def scenario_hash(scenario: Scenario) -> str:
    """SHA-256 of the validated scenario's canonical JSON (comments and the order of a block's
    fields do not count; the order of named entries, agents, issues and anchors, does:
    `sim.loading.scenario_hash`)."""
    # `observed` is not an input of the model: a backtest case hashes like its scenario; nor is
    # `monte_carlo.chunk_size`, which changes no number (a case run at another chunk size is that case)
    canonical = scenario.model_dump_json(exclude_defaults=False, exclude={"observed": True,
                                                                          "monte_carlo": {"chunk_size"}})
    return hashlib.sha256(canonical.encode()).hexdigest()
