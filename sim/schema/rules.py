"""The rules of a scenario that span several fields, checked before anything runs.

`rule_problems` yields (path, message, value) for each broken rule; the
scenario model raises them together as `RuleViolations`, so a user sees every
problem of a file at once.
"""

from __future__ import annotations

import math

from ..validation import NO_VALUE
from .outcome import Level, Signed, condition_leaves
from .params import date_range, mean_of

__all__ = ["MAX_EUM_ROUNDS", "MAX_PACKAGES", "MAX_RUNS", "MAX_SPAN_DAYS", "MAX_SPAN_YEARS", "rule_problems",
           "trust_pairs"]

MAX_SPAN_YEARS = 20
MAX_SPAN_DAYS = 7305
"""The latest summit date may be at most 20 years (7,305 days) after calendar.start: the
calendar is simulated week by week, and a longer one is a typo (9999-12-31), not a forecast."""
MAX_RUNS = 10**9
"""Replicates a run (or a sweep's point) may ask for: a billion, about an hour and a half on
two cores; more is a typo, not a forecast (intervals are already +-0.00003 there)."""
MAX_EUM_ROUNDS = 10_000
"""Rounds `sim eum --rounds` may ask for: the papers run a handful and the reference data
reach their fixed point within tens, while 10,000 rounds of one run take a few seconds;
more is a typo (a run of 10^9 rounds would never end)."""
MAX_PACKAGES = 1 << 20
"""The summit menu (the product of the issues' anchor counts) may hold at most this many
packages (1,048,576): the search visits every one per replicate."""


def trust_pairs(s) -> dict[frozenset, str]:
    """Every trust pair of the scenario, {frozenset({a, b}): dotted path of its entry}."""
    out: dict[frozenset, str] = {}
    entries = s.relations.trust_entries()
    for k, entry in enumerate(entries):
        path = "relations.trust" if not isinstance(s.relations.trust, list) else f"relations.trust.{k}"
        for a, b in entry.pairs():
            out.setdefault(frozenset((a, b)), path)
    return out


def rule_problems(s):
    """Yield (path, message, value) for every rule that spans several fields."""
    issues, agents = set(s.issues), set(s.agents)

    def agent_ref(path, name):
        if name not in agents:
            yield path, f"unknown agent; known: {', '.join(sorted(agents))}", name

    def issue_ref(path, name):
        if name not in issues:
            yield path, f"unknown issue; known: {', '.join(sorted(issues))}", name

    yield from _calendar_rules(s)
    for issue_name, issue in s.issues.items():
        if issue.status_quo not in issue.anchors.values():
            anchors = ", ".join(f"{label} {value:g}" for label, value in sorted(issue.anchors.items(),
                                                                                key=lambda kv: kv[1]))
            yield (f"issues.{issue_name}.status_quo", f"must be one of the issue's anchors ({anchors})",
                   issue.status_quo)
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
    yield from _relation_rules(s, agent_ref, issue_ref)
    yield from _summit_rules(s, agent_ref)
    yield from _stream_rules(s, agent_ref, issue_ref)
    parties = set(s.summit.parties)
    # a party misspelt is reported at summit.parties: an agent signing then is likely the party meant
    misspelt = any(p not in s.agents for p in parties)
    for cls in ("breakthrough", "substantive"):
        for path, c in condition_leaves(getattr(s.outcome, cls), f"outcome.{cls}"):
            if isinstance(c, Level):
                yield from issue_ref(f"{path}.issue", c.issue)
            elif isinstance(c, Signed):
                for j, name in enumerate(c.signed):
                    if name not in parties and not (misspelt and name in s.agents):
                        yield (f"{path}.signed.{j}", f"must be a summit party; parties: {', '.join(s.summit.parties)}",
                               name)
    if s.observed is not None and s.observed.earliest <= s.calendar.vantage:
        # an outcome known at the vantage is no forecast
        yield "observed.date", f"must be after calendar.vantage ({s.calendar.vantage})", str(s.observed.earliest)


def _calendar_rules(s):
    earliest, latest = date_range(s.summit.date)
    if s.calendar.vantage < s.calendar.start:
        yield "calendar.vantage", f"must not be before calendar.start ({s.calendar.start})", str(s.calendar.vantage)
    if s.calendar.vantage > latest:
        yield "calendar.vantage", f"must not be after the latest summit date ({latest})", str(s.calendar.vantage)
    if earliest <= s.calendar.start:
        yield "summit.date", f"must be after calendar.start ({s.calendar.start})", str(earliest)
    if (latest - s.calendar.start).days > MAX_SPAN_DAYS:
        yield "summit.date", (f"must be at most {MAX_SPAN_YEARS} years ({MAX_SPAN_DAYS:,} days) after "
                              f"calendar.start ({s.calendar.start})"), str(latest)
    menu = math.prod(len(issue.anchors) for issue in s.issues.values())
    if menu > MAX_PACKAGES:
        yield "issues", (f"the summit menu (every combination of the issues' anchors) would hold {menu:,} "
                         f"packages; at most {MAX_PACKAGES:,}"), NO_VALUE


def _relation_rules(s, agent_ref, issue_ref):
    entries = s.relations.trust_entries()
    seen: dict[frozenset, str] = {}
    for k, entry in enumerate(entries):
        path = "relations.trust" if not isinstance(s.relations.trust, list) else f"relations.trust.{k}"
        for j, name in enumerate(entry.between):
            yield from agent_ref(f"{path}.between.{j}", name)
        if len(set(entry.between)) != len(entry.between):
            yield f"{path}.between", "must name different agents", list(entry.between)
            continue
        for a, b in entry.pairs():
            pair = frozenset((a, b))
            if pair in seen:
                yield f"{path}.between", f"the pair {a}-{b} is already given by {seen[pair]}", list(entry.between)
            seen.setdefault(pair, path)
    for k, al in enumerate(s.relations.alliances):
        yield from agent_ref(f"relations.alliances.{k}.agent", al.agent)
        yield from agent_ref(f"relations.alliances.{k}.patron", al.patron)
        for j, i_name in enumerate(al.issues):
            yield from issue_ref(f"relations.alliances.{k}.issues.{j}", i_name)
        if al.agent == al.patron:
            yield f"relations.alliances.{k}.patron", "must differ from the agent", al.patron


def _summit_rules(s, agent_ref):
    summit, roles = s.summit, s.roles
    for j, name in enumerate(summit.parties):
        yield from agent_ref(f"summit.parties.{j}", name)
    if len(set(summit.parties)) != len(summit.parties):
        yield "summit.parties", "must name different agents", list(summit.parties)
    parties = set(summit.parties)
    for j, name in enumerate(summit.required or []):
        if name not in parties:
            yield f"summit.required.{j}", "must be a summit party", name
    if summit.required is not None and not summit.required:
        yield "summit.required", "must name at least one party (leave it out: every party is required)", []
    elif summit.required is not None and len(set(summit.required)) != len(summit.required):
        yield "summit.required", "must name different parties", list(summit.required)
    for name in summit.weights:
        if name not in parties:
            yield f"summit.weights.{name}", "weights are for summit parties only", name
    pairs = trust_pairs(s)
    ordered = [p for p in summit.parties if p in s.agents]  # an unknown party is its own error, once
    missing = [f"{a}-{b}" for k, a in enumerate(ordered) for b in ordered[k + 1:]
               if a != b and frozenset((a, b)) not in pairs]
    if missing:
        yield ("relations.trust", "every two summit parties need a trust entry; missing: " + ", ".join(missing)
               + " (list entries {between: [a, b], initial: ...}, or one entry between all the parties)", NO_VALUE)
    for j, name in enumerate(roles.veto):
        yield from agent_ref(f"roles.veto.{j}", name)
        if name in parties:
            yield f"roles.veto.{j}", "is a summit party already: a party's consent is needed anyway", name
    for j, m in enumerate(roles.mediators):
        yield from agent_ref(f"roles.mediators.{j}.agent", m.agent)
        if m.agent in parties:
            yield f"roles.mediators.{j}.agent", "a mediator is not a party to the deal", m.agent
    names = [m.agent for m in roles.mediators]
    if len(set(names)) != len(names) or len(set(roles.veto)) != len(roles.veto):
        yield "roles", "an agent is listed twice in one role", NO_VALUE


def _stream_rules(s, agent_ref, issue_ref):
    _, latest = date_range(s.summit.date)
    summit_misplaced = s.calendar.vantage > latest  # said once, at calendar.vantage: not again per event
    pairs = trust_pairs(s)

    def effects(path, effect_list):
        for k, e in enumerate(effect_list):
            if e.agent is not None:
                yield from agent_ref(f"{path}.{k}.agent", e.agent)
            if e.issue is not None:
                yield from issue_ref(f"{path}.{k}.issue", e.issue)
            if e.between is not None and frozenset(e.between) not in pairs:
                yield f"{path}.{k}.between", "is not a trust pair of relations.trust", list(e.between)

    names: dict[str, str] = {}
    for k, ev in enumerate(s.events):
        path = f"events.{k}"
        if ev.name in names:
            yield f"{path}.name", f"duplicates {names[ev.name]}", ev.name
        names[ev.name] = path
        if ev.date < s.calendar.start:
            yield f"{path}.date", f"is before calendar.start ({s.calendar.start})", str(ev.date)
        if ev.date > latest and not summit_misplaced:
            yield f"{path}.date", f"is after the latest summit date ({latest})", str(ev.date)
        yield from effects(f"{path}.effects", ev.effects)
    for k, inc in enumerate(s.incidents):
        path = f"incidents.{k}"
        if inc.name in names:
            yield f"{path}.name", f"duplicates {names[inc.name]}", inc.name
        names[inc.name] = path
        if inc.start is not None and not summit_misplaced and not s.calendar.start <= inc.start <= latest:
            yield (f"{path}.start", f"must lie between calendar.start ({s.calendar.start}) and the latest summit "
                   f"date ({latest})", str(inc.start))
        yield from effects(f"{path}.effects", inc.effects)
