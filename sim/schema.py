"""The scenario file: its pydantic schema, loading and error reporting.

Everything a user can write in a scenario YAML is declared here, strictly
(unknown keys are errors), with bounds on every number. The rest of the
package trusts what this module lets through; `load_scenario` turns any
problem into an `InputError` listing every problem at once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    model_validator,
)

from .errors import InputError, Problem

__all__ = [
    "Agent",
    "Beta",
    "Dist",
    "Effect",
    "Event",
    "Fixed",
    "Incident",
    "Normal",
    "Observed",
    "Param",
    "Scenario",
    "Triangular",
    "Uniform",
    "dump_scenario",
    "load_scenario",
    "parse_scenario",
    "scenario_hash",
]

Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


# --- Distributions -----------------------------------------------------------


class Fixed(Strict):
    """A number written as a distribution: always `value`."""

    dist: Literal["fixed"]
    value: float


class Uniform(Strict):
    dist: Literal["uniform"]
    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if not self.low < self.high:
            raise ValueError("low must be below high")
        return self


class Normal(Strict):
    """Normal(mean, sd), truncated to [low, high] where those are given."""

    dist: Literal["normal"]
    mean: float
    sd: float = Field(gt=0)
    low: float | None = None
    high: float | None = None

    @model_validator(mode="after")
    def _window(self) -> Normal:
        lo = -math.inf if self.low is None else self.low
        hi = math.inf if self.high is None else self.high
        if not lo < hi:
            raise ValueError("low must be below high")
        # Drawn by rejection, so the window must hold a fair share of the mass.
        cdf = lambda x: 0.5 * (1 + math.erf((x - self.mean) / (self.sd * math.sqrt(2))))
        mass = cdf(hi) - cdf(lo)
        if mass < 0.01:
            raise ValueError(
                f"the window [low, high] holds only {mass:.2%} of this normal's mass "
                "(need at least 1%); move the mean or use a uniform or beta"
            )
        return self


class Beta(Strict):
    """Beta on [0, 1] given by its mean and standard deviation."""

    dist: Literal["beta"]
    mean: float = Field(gt=0, lt=1)
    sd: float = Field(gt=0)

    @model_validator(mode="after")
    def _feasible(self) -> Beta:
        limit = math.sqrt(self.mean * (1 - self.mean))
        if self.sd >= limit:
            raise ValueError(
                f"sd must be below sqrt(mean*(1-mean)) = {limit:.4g} for a beta"
            )
        return self


class Triangular(Strict):
    dist: Literal["triangular"]
    low: float
    mode: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> Triangular:
        if not (self.low <= self.mode <= self.high and self.low < self.high):
            raise ValueError("need low <= mode <= high and low < high")
        return self


Dist = Annotated[Union[Fixed, Uniform, Normal, Beta, Triangular], Field(discriminator="dist")]


def _number_or_dist(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, dict) or isinstance(value, (Fixed, Uniform, Normal, Beta, Triangular)):
        return "dist"
    return None


Param = Annotated[
    Union[Annotated[float, Tag("number")], Annotated[Dist, Tag("dist")]],
    Discriminator(
        _number_or_dist,
        custom_error_type="number_or_dist",
        custom_error_message="must be a number or a distribution such as "
        "{dist: beta, mean: 0.5, sd: 0.1}",
    ),
]
"""A number, or a distribution drawn once per replicate (per occurrence for incidents)."""


def support(param: float | Fixed | Uniform | Normal | Beta | Triangular) -> tuple[float, float]:
    """The smallest interval holding every value `param` can take."""
    if isinstance(param, (int, float)):
        return float(param), float(param)
    if isinstance(param, Fixed):
        return param.value, param.value
    if isinstance(param, Beta):
        return 0.0, 1.0
    if isinstance(param, Normal):
        lo = -math.inf if param.low is None else param.low
        hi = math.inf if param.high is None else param.high
        return lo, hi
    return param.low, param.high


def mean_of(param: float | Fixed | Uniform | Normal | Beta | Triangular) -> float:
    """The mean of a parameter (the truncated normal's untruncated mean is close enough
    for the checks that use this)."""
    if isinstance(param, (int, float)):
        return float(param)
    if isinstance(param, Fixed):
        return param.value
    if isinstance(param, (Beta, Normal)):
        return param.mean
    if isinstance(param, Uniform):
        return (param.low + param.high) / 2
    return (param.low + param.mode + param.high) / 3


def _within(lo: float, hi: float):
    def check(param):
        p_lo, p_hi = support(param)
        if p_lo < lo or p_hi > hi:
            if isinstance(param, (int, float)):
                raise ValueError(f"must be in [{lo:g}, {hi:g}]")
            raise ValueError(
                f"distribution must stay within [{lo:g}, {hi:g}] "
                f"(its support is [{p_lo:g}, {p_hi:g}]; truncate a normal with low/high)"
            )
        return param

    return AfterValidator(check)


Unit = Annotated[Param, _within(0.0, 1.0)]
Probability = Unit
Shift = Annotated[Param, _within(-1.0, 1.0)]
NonNegative = Annotated[Param, _within(0.0, math.inf)]


# --- Dates -------------------------------------------------------------------


class DateUniform(Strict):
    dist: Literal["uniform"]
    low: dt.date
    high: dt.date

    @model_validator(mode="after")
    def _ordered(self) -> DateUniform:
        if not self.low < self.high:
            raise ValueError("low must be before high")
        return self


class DateTriangular(Strict):
    dist: Literal["triangular"]
    low: dt.date
    mode: dt.date
    high: dt.date

    @model_validator(mode="after")
    def _ordered(self) -> DateTriangular:
        if not (self.low <= self.mode <= self.high and self.low < self.high):
            raise ValueError("need low <= mode <= high and low < high")
        return self


DateParam = Union[
    dt.date, Annotated[Union[DateUniform, DateTriangular], Field(discriminator="dist")]
]


def date_range(value: DateParam) -> tuple[dt.date, dt.date]:
    if isinstance(value, dt.date):
        return value, value
    return value.low, value.high


# --- The scenario --------------------------------------------------------------


class Calendar(Strict):
    """`start`: the date the agents' positions describe (time 0 of the calendar).
    `vantage`: the date of knowledge; nothing after it may be written as known."""

    start: dt.date
    vantage: dt.date


class Issue(Strict):
    """A scale in [0, 1]; `anchors` name its points and are the summit's menu."""

    description: str = ""
    anchors: dict[Name, float] = Field(min_length=2)
    status_quo: float = Field(ge=0, le=1)

    @model_validator(mode="after")
    def _anchors(self) -> Issue:
        bad = {k: v for k, v in self.anchors.items() if not 0 <= v <= 1}
        if bad:
            raise ValueError(f"anchors must lie in [0, 1] (got {bad})")
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
            raise ValueError(
                f"position must lie within bounds {list(self.bounds)} (got support [{p_lo:g}, {p_hi:g}])"
            )
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
    resolve: Unit  # resistance to moving away from its ideal, 0 = pliable, 1 = immovable
    reservation: Unit  # utility below which the agent accepts no summit deal
    issues: dict[Name, Stance]
    elections: list[Election] = []
    description: str = ""


class Trust(Strict):
    between: tuple[Name, Name]
    initial: Unit
    weekly_recovery: Unit = 0.0  # share of the gap to `initial` recovered each week


class Alliance(Strict):
    """A patron's pull on an agent's position on some issues, and the cost of deviating."""

    agent: Name
    patron: Name
    issues: list[Name] = Field(min_length=1)
    pull: Unit  # share of the gap to the patron's position closed each week
    cost: NonNegative  # utility lost per unit of deviation of a deal from the patron's position


class Relations(Strict):
    trust: Trust
    alliances: list[Alliance] = []


class Effect(Strict):
    """What an event or incident does to the state of a replicate.

    target: position | ideal | salience (need agent and issue), capability |
    resolve (need agent), trust, cancel (the visit is called off with
    `probability`).
    """

    target: Literal["position", "ideal", "salience", "capability", "resolve", "trust", "cancel"]
    agent: Name | None = None
    issue: Name | None = None
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


class Cancellation(Strict):
    base_probability: Probability  # domestic shocks etc. not modelled otherwise
    trust_below: float = Field(default=0.0, ge=0, le=1)  # visit called off below this trust


class Summit(Strict):
    parties: tuple[Name, Name]
    date: DateParam
    cancellation: Cancellation


class Dynamics(Strict):
    """The weekly diplomacy rule (engine) and its parameters.

    `rate` is used by `convergence`; `variant`, `rounds_per_week` and `q` by `eum`
    (the expected-utility model); `noise` by both.
    """

    engine: Literal["convergence", "eum"] = "convergence"
    rate: Unit = 0.2  # share of the pressure gap an agent closes per week
    noise: NonNegative = 0.01  # sd of the weekly random drift of each position
    variant: Literal["scholz", "paper"] = "scholz"  # eum: the replication, or the papers' rules
    rounds_per_week: int = Field(default=1, ge=1, le=20)  # eum: challenge rounds per week
    q: float = Field(default=1.0, ge=0, le=1)  # eum: probability that the status quo holds


class Condition(Strict):
    """The deal's level on one issue is at least / at most a value."""

    issue: Name
    at_least: float | None = Field(default=None, ge=0, le=1)
    at_most: float | None = Field(default=None, ge=0, le=1)

    @model_validator(mode="after")
    def _one(self) -> Condition:
        if (self.at_least is None) == (self.at_most is None):
            raise ValueError("give exactly one of at_least, at_most")
        return self


class Outcome(Strict):
    """A deal is a breakthrough if any breakthrough condition holds, else
    substantive if any substantive condition holds, else a talk fest."""

    breakthrough: list[Condition] = Field(min_length=1)
    substantive: list[Condition] = Field(min_length=1)


class Observed(Strict):
    """What happened at the meeting, for backtests (`run` ignores it): the coded
    class (DESIGN section 2), the meeting's date (the planned date for a
    cancelled visit) and where the coding comes from."""

    outcome: Literal["breakthrough", "substantive", "talk_fest", "collapse"]
    date: dt.date
    source: str = Field(min_length=1)
    note: str = ""


class MonteCarlo(Strict):
    runs: int = Field(default=100_000, ge=1, le=10**9)
    seed: int | None = Field(default=None, ge=0)
    chunk_size: int = Field(default=8192, ge=1, le=10**7)


class Scenario(Strict):
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
    outcome: Outcome
    monte_carlo: MonteCarlo = MonteCarlo()
    observed: Observed | None = None  # backtests only: the coded outcome of the meeting

    @model_validator(mode="after")
    def _cross_field_rules(self) -> Scenario:
        problems = list(_rule_problems(self))
        if problems:
            raise RuleViolations(problems)
        return self


class RuleViolations(ValueError):
    """Cross-field problems, each with its own path; unpacked by `parse_scenario`."""

    def __init__(self, problems: list[tuple[str, str, Any]]):
        self.problems = problems
        super().__init__("; ".join(f"{p}: {m}" for p, m, _ in problems))


_NO_VALUE = object()


def _rule_problems(s: Scenario):
    """Yield (path, message, value) for every rule that spans several fields."""
    issues, agents = set(s.issues), set(s.agents)

    def agent_ref(path, name):
        if name not in agents:
            yield path, f"unknown agent; known: {', '.join(sorted(agents))}", name

    def issue_ref(path, name):
        if name not in issues:
            yield path, f"unknown issue; known: {', '.join(sorted(issues))}", name

    earliest, latest = date_range(s.summit.date)
    if s.calendar.vantage < s.calendar.start:
        yield "calendar.vantage", f"must not be before calendar.start ({s.calendar.start})", str(s.calendar.vantage)
    if s.calendar.vantage > latest:
        yield "calendar.vantage", f"must not be after the latest summit date ({latest})", str(s.calendar.vantage)

    for issue_name, issue in s.issues.items():
        if issue.status_quo not in issue.anchors.values():
            yield f"issues.{issue_name}.status_quo", "must be one of the issue's anchors", issue.status_quo

    for a_name, agent in s.agents.items():
        base = f"agents.{a_name}"
        missing = issues - set(agent.issues)
        if missing:
            yield f"{base}.issues", f"missing issues: {', '.join(sorted(missing))}", _NO_VALUE
        for i_name in agent.issues:
            yield from issue_ref(f"{base}.issues.{i_name}", i_name)
        sal = [mean_of(st.salience) for st in agent.issues.values()]
        if abs(sum(sal) - 1) > 1e-6:
            yield f"{base}.issues", "saliences must sum to 1 (their means, where drawn)", round(sum(sal), 6)

    a, b = s.relations.trust.between
    yield from agent_ref("relations.trust.between.0", a)
    yield from agent_ref("relations.trust.between.1", b)
    if a == b:
        yield "relations.trust.between", "must name two different agents", [a, b]
    for k, al in enumerate(s.relations.alliances):
        yield from agent_ref(f"relations.alliances.{k}.agent", al.agent)
        yield from agent_ref(f"relations.alliances.{k}.patron", al.patron)
        for j, i_name in enumerate(al.issues):
            yield from issue_ref(f"relations.alliances.{k}.issues.{j}", i_name)
        if al.agent == al.patron:
            yield f"relations.alliances.{k}.patron", "must differ from the agent", al.patron

    p, q = s.summit.parties
    yield from agent_ref("summit.parties.0", p)
    yield from agent_ref("summit.parties.1", q)
    if p == q:
        yield "summit.parties", "must name two different agents", [p, q]
    if set(s.summit.parties) != set(s.relations.trust.between):
        yield "relations.trust.between", "must name the summit's parties", list(s.relations.trust.between)
    if earliest <= s.calendar.start:
        yield "summit.date", f"must be after calendar.start ({s.calendar.start})", str(earliest)

    def effects(path, effect_list):
        for k, e in enumerate(effect_list):
            if e.agent is not None:
                yield from agent_ref(f"{path}.{k}.agent", e.agent)
            if e.issue is not None:
                yield from issue_ref(f"{path}.{k}.issue", e.issue)

    names: dict[str, str] = {}
    for k, ev in enumerate(s.events):
        path = f"events.{k}"
        if ev.name in names:
            yield f"{path}.name", f"duplicates {names[ev.name]}", ev.name
        names[ev.name] = path
        if ev.date < s.calendar.start:
            yield f"{path}.date", f"is before calendar.start ({s.calendar.start})", str(ev.date)
        if ev.date > latest:
            yield f"{path}.date", f"is after the latest summit date ({latest})", str(ev.date)
        yield from effects(f"{path}.effects", ev.effects)
    for k, inc in enumerate(s.incidents):
        path = f"incidents.{k}"
        if inc.name in names:
            yield f"{path}.name", f"duplicates {names[inc.name]}", inc.name
        names[inc.name] = path
        if inc.start is not None and not s.calendar.start <= inc.start <= latest:
            yield f"{path}.start", "must lie between calendar.start and the latest summit date", str(inc.start)
        yield from effects(f"{path}.effects", inc.effects)

    for cls in ("breakthrough", "substantive"):
        for k, c in enumerate(getattr(s.outcome, cls)):
            yield from issue_ref(f"outcome.{cls}.{k}.issue", c.issue)

    if s.observed is not None and s.observed.date <= s.calendar.vantage:
        # an outcome known at the vantage is no forecast
        yield "observed.date", f"must be after calendar.vantage ({s.calendar.vantage})", str(s.observed.date)


# --- Loading -------------------------------------------------------------------


def load_scenario(path: str | Path, overrides: dict[str, Any] | None = None) -> Scenario:
    """Read and validate a scenario file; raise `InputError` listing every problem.

    `overrides` maps dotted paths (`agents.russia.resolve`) to values, applied to
    the YAML before validation, so they are checked like the file.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(Problem(str(path), "", f"cannot read file: {exc}")) from None
    return parse_scenario(text, source=str(path), overrides=overrides)


def parse_scenario(text: str, source: str = "<string>", overrides: dict[str, Any] | None = None) -> Scenario:
    """Validate scenario YAML text; `source` names it in error messages."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise InputError(Problem(source, "", f"invalid YAML: {where}{problem}")) from None
    if not isinstance(data, dict):
        raise InputError(
            Problem(source, "", "must be a YAML mapping of scenario keys", type(data).__name__, True)
        )
    data = derive_scenario_data(data, source)
    if overrides:
        data = apply_overrides(data, overrides, source)
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise InputError(list(_problems(exc, source))) from None


DERIVATION_KEYS = ("extends", "set", "remove_events", "include")
"""Keys of a derived scenario file, resolved before validation (`derive_scenario_data`)."""


def derive_scenario_data(data: dict, source: str, _seen: tuple[Path, ...] = ()) -> dict:
    """Resolve a derived scenario: `extends: PATH` (relative to `source`'s directory)
    loads a base file, whose top-level keys this file's other keys replace; then
    `remove_events: [name, ...]` drops events by name, `include: [FILE, ...]`
    applies files of dotted paths to values (`_apply_includes`), and `set:
    {dotted.path: value}` changes fields as `--set` does. Data without these keys is returned as
    it is. Problems name `source`; a chain of `extends` that loops is an error.
    """
    if not any(key in data for key in DERIVATION_KEYS):
        return data
    data = dict(data)
    extends, sets, removes, includes = (data.pop(key, None) for key in DERIVATION_KEYS)
    here = Path(source)
    seen = _seen or ((here.resolve(),) if here.is_file() else ())
    if extends is not None:
        data = {**_load_base(extends, source, seen), **data}
    if removes is not None:
        data = _remove_events(data, removes, source)
    if includes is not None:
        data = _apply_includes(data, includes, source)
    if sets is not None:
        if not isinstance(sets, dict) or not all(isinstance(k, str) for k in sets):
            raise InputError(Problem(source, "set", "must be a mapping of dotted paths to values, "
                                     "e.g. {agents.russia.resolve: 0.8}", sets, True))
        try:
            data = apply_overrides(data, sets, source)
        except InputError as exc:
            raise InputError([Problem(source, f"set.{p.path}", "no such field in the scenario"
                                      + (" it extends" if extends is not None else ""), p.value, p.has_value)
                              for p in exc.problems]) from None
    return data


def _load_base(extends: Any, source: str, seen: tuple[Path, ...]) -> dict:
    """The plain data of the file `extends` names, itself derived if it extends another."""
    if not isinstance(extends, str) or not extends.strip():
        raise InputError(Problem(source, "extends", "must be the path of a scenario file, "
                                 "relative to this file", extends, True))
    path = Path(source).parent / extends
    try:
        key = path.resolve()
        if key in seen:
            chain = " -> ".join(str(p) for p in (*seen, key))
            raise InputError(Problem(source, "extends", f"makes a cycle: {chain}", extends, True))
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InputError(Problem(source, "extends", f"cannot read {path}: {reason}", extends, True)) from None
    try:
        base = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InputError(Problem(source, "extends", f"{path} is not valid YAML{where}", extends, True)) from None
    if not isinstance(base, dict):
        raise InputError(Problem(source, "extends", f"{path} is not a YAML mapping of scenario keys",
                                 extends, True))
    return derive_scenario_data(base, str(path), (*seen, key))


def _apply_includes(data: dict, includes: Any, source: str) -> dict:
    """`include: [FILE, ...]` (relative to `source`'s directory): each file is a
    mapping of dotted paths to values (a `calibration.yaml`, say), applied in
    order as `--set` applies them, after `extends` and `remove_events` and
    before this file's own `set`."""
    names = [includes] if isinstance(includes, str) else includes
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n.strip() for n in names):
        raise InputError(Problem(source, "include", "must be a file name or a list of them, "
                                 "relative to this file", includes, True))
    for k, name in enumerate(names):
        where = "include" if isinstance(includes, str) else f"include.{k}"
        path = Path(source).parent / name
        try:
            values = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise InputError(Problem(source, where, f"cannot read {path}: {reason}", name, True)) from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise InputError(Problem(source, where, f"{path} is not valid YAML{at}", name, True)) from None
        if not isinstance(values, dict) or not all(isinstance(key, str) for key in values):
            raise InputError(Problem(source, where, f"{path} must be a mapping of dotted paths to values, "
                                     "e.g. {dynamics.noise: 0.02}", name, True))
        try:
            data = apply_overrides(data, values, source)
        except InputError as exc:
            raise InputError([Problem(str(path), p.path, "no such field in the scenario that includes it "
                                      f"({source})", p.value, p.has_value) for p in exc.problems]) from None
    return data


def _remove_events(data: dict, removes: Any, source: str) -> dict:
    events = data.get("events") or []
    if not isinstance(removes, list) or not all(isinstance(name, str) for name in removes):
        raise InputError(Problem(source, "remove_events", "must be a list of event names", removes, True))
    if not isinstance(events, list):
        return data  # the schema reports a malformed `events`
    known = [e.get("name") for e in events if isinstance(e, dict)]
    problems = [Problem(source, f"remove_events.{k}",
                        f"no such event; known: {', '.join(map(str, known)) or 'none'}", name, True)
                for k, name in enumerate(removes) if name not in known]
    if problems:
        raise InputError(problems)
    return {**data, "events": [e for e in events if not (isinstance(e, dict) and e.get("name") in removes)]}


def apply_overrides(data: dict, overrides: dict[str, Any], source: str) -> dict:
    """Set dotted paths in a plain-data scenario. Every part but the last must
    exist (list items by index or by their `name`); the last may be a key the file
    left at its default."""
    import copy

    data = copy.deepcopy(data)
    problems = []
    for dotted, value in overrides.items():
        node: Any = data
        parts = dotted.split(".")
        for k, part in enumerate(parts):
            last = k == len(parts) - 1
            key = child_key(node, part)
            if key is None and last and isinstance(node, dict):
                key = part  # a field left at its default; the schema still refuses unknown keys
            if key is None:
                problems.append(Problem("--set", dotted, f"no such field in {source}", part, True))
                break
            if last:
                node[key] = value
            else:
                node = node[key]
    if problems:
        raise InputError(problems)
    return data


def child_key(node: Any, part: str):
    """The key of dotted-path part `part` under `node`: a mapping's key, or a list's
    index given as a number or as the `name` of one of its items; None if absent."""
    if isinstance(node, dict):
        return part if part in node else None
    if isinstance(node, list):
        if part.isdigit() and int(part) < len(node):
            return int(part)
        for k, item in enumerate(node):
            if isinstance(item, dict) and item.get("name") == part:
                return k
    return None


_TAGS = {"number", "dist", "fixed", "uniform", "normal", "beta", "triangular",
         "function-after[_ordered(), DateUniform]", "function-after[_ordered(), DateTriangular]"}


def _problems(exc: ValidationError, source: str):
    for err in exc.errors(include_url=False):
        ctx_error = (err.get("ctx") or {}).get("error")
        if isinstance(ctx_error, RuleViolations):
            for path, message, value in ctx_error.problems:
                if value is _NO_VALUE:
                    yield Problem(source, path, message)
                else:
                    yield Problem(source, path, message, value, True)
            continue
        loc = [str(p) for p in err["loc"] if str(p) not in _TAGS and not str(p).startswith("function-")]
        message = err["msg"]
        if message.startswith("Value error, "):
            message = message[len("Value error, "):]
        if err["type"] == "extra_forbidden":
            message = "unknown key"
        elif err["type"] == "missing":
            yield Problem(source, ".".join(loc), "required field is missing")
            continue
        yield Problem(source, ".".join(loc), _lower_first(message), err.get("input"), True)


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def dump_scenario(scenario: Scenario) -> str:
    """The scenario as YAML that `parse_scenario` reads back to an equal object."""
    data = scenario.model_dump(mode="json", exclude_defaults=False)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def scenario_hash(scenario: Scenario) -> str:
    """SHA-256 of the validated scenario's canonical JSON (comments do not count)."""
    # `observed` is not an input of the model: a backtest case hashes like its scenario
    canonical = scenario.model_dump_json(exclude_defaults=False, exclude={"observed"})
    return hashlib.sha256(canonical.encode()).hexdigest()
