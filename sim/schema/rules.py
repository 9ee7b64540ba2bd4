"""The rules of a scenario that span several fields, checked before anything runs.

`rule_problems` yields (path, message, value) for each broken rule; the
scenario model raises them together as `RuleViolations`, so a user sees every
problem of a file at once.
"""

from __future__ import annotations

import math

from ..validation import NO_VALUE
from .params import date_range, mean_of

__all__ = ["MAX_PACKAGES", "MAX_SPAN_DAYS", "MAX_SPAN_YEARS", "rule_problems"]

MAX_SPAN_YEARS = 20
MAX_SPAN_DAYS = 7305
"""The latest summit date may be at most 20 years (7,305 days) after calendar.start: the
calendar is simulated week by week, and days are stored as int16."""
MAX_PACKAGES = 32_767
"""The summit menu (the product of the issues' anchor counts) may hold at most this many
packages: a deal is stored as an int16 index into it, -1 for none."""


def rule_problems(s):
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
            yield f"{base}.issues", f"missing issues: {', '.join(sorted(missing))}", NO_VALUE
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
    if (latest - s.calendar.start).days > MAX_SPAN_DAYS:
        yield "summit.date", (f"must be at most {MAX_SPAN_YEARS} years ({MAX_SPAN_DAYS:,} days) after "
                              f"calendar.start ({s.calendar.start})"), str(latest)
    menu = math.prod(len(issue.anchors) for issue in s.issues.values())
    if menu > MAX_PACKAGES:
        yield "issues", (f"the summit menu (every combination of the issues' anchors) would hold {menu:,} "
                         f"packages; at most {MAX_PACKAGES:,}"), NO_VALUE

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
