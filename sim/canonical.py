"""Canonical order and labels of agents and issues: what an entity *is*, not what it is called.

Random streams are keyed by these labels, and arrays are laid out in this
order, so a forecast does not change, to the bit, when agents or issues are
renamed or listed in another order, or when an inert agent or issue (one with
no weight) is added: each entity keeps its random numbers.

An entity's label is the hash of its *role* in the scenario (for an agent:
summit party, required signatory, veto player, mediator, patron or client in
an alliance, with whom it has trust, with no weight at all; for an issue: its anchors, its status quo,
whether anything weighs or names it), plus its rank among the entities with the same
role. Within such a group the rank follows everything else about the entity
(its numbers, the events that name it, where it stands in the rubric, not in
what order the rubric lists its conditions), then which entities it stands to,
by their colours (twins: p holds 0.2 on a and 0.9 on b, q the other way round;
`_Labeller`), then, for twins told apart only by how they stand to one another (a
ring of trusts, alliances or stances), by the labelling that dumps smallest when
each is set apart in turn; then its name, which decides only among entities that
swap without changing the scenario, so swapping them changes nothing.

Because the role, not the numbers or the events, makes the label, a sweep, a counterfactual or an attribution that
changes a number or removes an event keeps every entity's random numbers
(common random numbers), except in the rare group of entities that share a
role and then differ only there.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from .schema import (
    DESCRIPTIVE,
    AllOf,
    AnyOf,
    Election,
    Event,
    Fixed,
    Incident,
    Issue,
    Level,
    Scenario,
    condition_leaves,
)
from .schema.references import ORDERLESS, PROSE, REFERENCES
from .schema.summit import Summit

_OWN_NAMES = {(Event, "name"), (Incident, "name"), (Election, "name")}
"""Names an entry gives itself, which nothing refers to (`schema.references.NOT_REFERENCES`)."""

__all__ = ["Canon", "inputs_hash", "make_canon"]


class Canon:
    """Agents and issues in canonical order, with their labels."""

    def __init__(self, agents: list[str], issues: list[str], agent_labels: dict[str, str],
                 issue_labels: dict[str, str]):
        self.agents = tuple(agents)
        self.issues = tuple(issues)
        self.agent_label = agent_labels
        self.issue_label = issue_labels

    def key(self, path: str) -> str:
        """`path` with agent and issue names replaced by their labels: a random stream's key."""
        return ".".join(self.agent_label.get(p) or self.issue_label.get(p) or p for p in path.split("."))


def make_canon(s: Scenario) -> Canon:
    inert = frozenset(a for a in s.agents if _is_inert_agent(s, a))
    issue_sig = {i: _digest(_issue_role(s, i, inert)) for i in s.issues}
    agent_sig = {a: _digest(_agent_role(s, a, issue_sig, None, inert)) for a in s.agents}
    agent_sig = {a: _digest(_agent_role(s, a, issue_sig, agent_sig, inert)) for a in s.agents}
    numbers = {"issue": {i: _issue_numbers(s, i, issue_sig, agent_sig, inert) for i in s.issues},
               "agent": {a: _agent_numbers(s, a, issue_sig, inert) for a in s.agents}}
    labeller = _Labeller(s, inert, {"issue": issue_sig, "agent": agent_sig}, numbers)
    # Colours start from what the scenario without its inert entities says (an agent's stances on
    # inert issues left out), so that a null issue added beside twins changes no colour, hence
    # neither the order of twins split by refinement nor which group is set apart first.
    core_numbers = numbers if not labeller.inert_issues else {
        "issue": numbers["issue"],
        "agent": {a: _agent_numbers(s, a, issue_sig, inert, labeller.inert_issues) for a in s.agents}}
    colour = labeller.search({kind: {name: (_digest([labeller.sig[kind][name], core_numbers[kind][name]]),)
                                     for name in numbers[kind]} for kind in ("issue", "agent")})
    (issue_order, issue_labels), (agent_order, agent_labels) = (labeller.rank(colour, kind)
                                                                for kind in ("issue", "agent"))
    return Canon(agent_order, issue_order, agent_labels, issue_labels)


Colours = dict[str, dict[str, tuple[str, ...]]]
"""Each entity's colour by kind ("agent", "issue") and name: the path of its group through the
refinement, so that a group split, or one of its members set apart, keeps its place in the order
among the others (its members' ranks stay within the group's)."""


class _Labeller:
    """Ranks twins: entities of one role with the same numbers, told apart (if at all) only by
    which entities they stand to. p holds 0.2 on a and 0.9 on b, q the other way round, a and b
    alike: ranked by name, renaming swapped their random numbers.

    Each entity gets a colour, at first its role and numbers. Colour refinement gives each twin
    the colour of its partners (`_agent_partners`, `_issue_partners`: how it stands to every
    other entity, each named by colour) until no group of twins splits further. Twins that are
    still alike then either are interchangeable (swapping their names leaves the scenario as it
    was: they go by name, and it does not matter) or stand in a ring among themselves (trusts
    p-q 0.1, q-r 0.9, r-s 0.1, s-p 0.9 among four alike parties), which refinement cannot break.
    Then each twin of the first such group in turn is set apart and the refinement and search go
    on from there; of the labellings this finds, the one whose scenario, named by label, dumps
    smallest wins (without its inert entities first, so that adding a null agent or issue does
    not choose another). Interchangeable twins are set apart once for all of them, so twins alike
    in every respect cost one branch, not a factorial; and two labellings with one key give a
    symmetry of the scenario, by which branches that mirror one already tried are skipped (as
    nauty does), so a ring of 16 alike parties meets 4 labellings, not thousands."""

    def __init__(self, s: Scenario, inert: frozenset[str], sig: dict[str, dict[str, str]],
                 numbers: dict[str, dict[str, str]]):
        self.s, self.inert, self.sig, self.numbers = s, inert, sig, numbers
        self.inert_issues = frozenset(i for i in s.issues if _is_inert_issue(s, i, inert))
        self._swaps: dict[tuple[str, str, str, bool], bool] = {}
        self._core: tuple[Scenario, Any] | None = None
        self._named: dict[bool, str] = {}  # the dump of the (core) scenario, named by its names

    @functools.cached_property
    def plain(self) -> Any:
        """The scenario's plain data, as `inputs_hash` reads it: dumped only for a search."""
        return self.s.model_dump(mode="json", exclude=set(DESCRIPTIVE))

    def search(self, colour: Colours) -> Colours:
        """The refined colours of the labelling chosen from `colour`."""
        colour = self.refine(colour)
        if self._ring(colour) is None:  # every group refinement left is of interchangeable twins: no search
            return colour
        self._seen: dict[tuple[str, str], dict[str, dict[str, str]]] = {}  # a key's first labelling
        self._symmetries: list[dict[str, dict[str, str]]] = []
        return self._search(colour, ())[1]

    def _search(self, colour: Colours, apart: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], Colours]:
        """(key, colours) of the labelling kept below the node where the entities `apart` (kind,
        name) were set apart, in that order."""
        colour = self.refine(colour)
        if (cell := self._ring(colour)) is None:
            return self._leaf(colour), colour
        kind, members = cell
        best, tried = None, []
        # Set apart one of each set of twins that swap in the whole scenario (those that swap only
        # without its inert entities would give labellings that a null agent tells apart, and
        # which of them came first would go by name), and none that a symmetry found so far, which
        # fixes every entity set apart above, maps onto one already tried: its labellings are
        # that one's, renamed. Without this, a ring of 16 alike parties took seconds, and three
        # rings of 5, minutes.
        for member in self._apart(kind, members, False):
            if tried and self._orbit(kind, member, apart) & set(tried):
                continue
            tried.append(member)
            trial = {k: dict(v) for k, v in colour.items()}
            trial[kind][member] = (*trial[kind][member], "set apart")
            leaf = self._search(trial, (*apart, (kind, member)))
            if best is None or leaf[0] < best[0]:
                best = leaf
        return best

    def _leaf(self, colour: Colours) -> tuple[str, str]:
        """The key of a labelling; one that gave a key met before is a symmetry of the scenario
        (the map from each name to the name that had its label then), kept for pruning."""
        labels = {kind: self.rank(colour, kind)[1] for kind in ("issue", "agent")}
        key = self._key(labels)
        if (first := self._seen.get(key)) is None:
            self._seen[key] = labels
        else:
            named = {kind: {label: name for name, label in first[kind].items()} for kind in first}
            symmetry = {kind: {name: named[kind][label] for name, label in labels[kind].items()} for kind in labels}
            if any(name != image for kind in symmetry for name, image in symmetry[kind].items()):
                self._symmetries.append(symmetry)
        return key

    def _orbit(self, kind: str, member: str, apart: tuple[tuple[str, str], ...]) -> set[str]:
        """`member` and its images under the symmetries found that fix every entity in `apart`."""
        fixing = [g for g in self._symmetries if all(g[k][name] == name for k, name in apart)]
        orbit, todo = {member}, [member]
        while todo:
            name = todo.pop()
            for g in fixing:
                if (image := g[kind][name]) not in orbit:
                    orbit.add(image)
                    todo.append(image)
        return orbit

    def refine(self, colour: Colours) -> Colours:
        """`colour` refined until no group of twins splits: each member of a group extends its
        colour by its partners' (singletons keep theirs, which nothing can split)."""
        s, inert, inert_issues = self.s, self.inert, self.inert_issues
        while True:
            size = {kind: Counter(colour[kind].values()) for kind in colour}
            flat = {kind: {name: "/".join(c) for name, c in colour[kind].items()} for kind in colour}
            new = {"issue": {i: (*c, _digest(_issue_partners(s, i, flat["issue"], flat["agent"], inert)))
                             if size["issue"][c] > 1 else c for i, c in colour["issue"].items()},
                   "agent": {a: (*c, _digest(_agent_partners(s, a, flat["issue"], flat["agent"],
                                                                      inert, inert_issues)))
                             if size["agent"][c] > 1 else c for a, c in colour["agent"].items()}}
            if sum(len(set(new[kind].values())) for kind in new) == sum(len(size[kind]) for kind in size):
                return colour
            colour = new

    def rank(self, colour: Colours, kind: str) -> tuple[list[str], dict[str, str]]:
        """Entities of `kind` ordered by role, numbers, colour, then (interchangeable twins) name;
        each labelled by its role and its rank among those of that role."""
        sig = self.sig[kind]
        order = sorted(sig, key=lambda name: (sig[name], self.numbers[kind][name], colour[kind][name], name))
        labels, seen = {}, defaultdict(int)
        for name in order:
            labels[name] = f"{sig[name]}.{seen[sig[name]]}"
            seen[sig[name]] += 1
        return order, labels

    def _ring(self, colour: Colours) -> tuple[str, list[str]] | None:
        """The first group of twins (by kind and colour, not name) that are not all interchangeable
        in the scenario without its inert entities (core True); once there is none, the first
        that are not in the whole scenario (core False). The inert entities do not change which
        groups the first phase sets apart, so they cannot reach another labelling of the rest."""
        cells = defaultdict(list)
        for kind in ("issue", "agent"):
            for name, c in colour[kind].items():
                cells[kind, c].append(name)
        for core in (True, False):
            for (kind, _), members in sorted(cells.items()):
                if len(members) > 1 and len(self._apart(kind, members, core)) > 1:
                    return kind, members
        return None

    def _apart(self, kind: str, members: list[str], core: bool) -> list[str]:
        """One of each set of interchangeable `members`, to be set apart in turn."""
        ones: list[str] = []
        for name in sorted(members):
            if not any(self._swaps_nothing(kind, one, name, core) for one in ones):
                ones.append(name)
        return ones

    def _swaps_nothing(self, kind: str, a: str, b: str, core: bool) -> bool:
        """Whether swapping the names `a` and `b` leaves the scenario as it was (core: the scenario
        without its inert entities, where these are swapped with nothing). First the partners of
        each, which must then match (`a`'s, the two names swapped, are `b`'s): most pairs of a
        ring differ there, and a whole dump per pair made a ring of 16 parties take a second."""
        if (kind, a, b, core) not in self._swaps:
            scenario, plain = self._core_scenario() if core else (self.s, self.plain)
            names = {"agent": {n: n for n in scenario.agents}, "issue": {n: n for n in scenario.issues}}
            if a not in names[kind] or b not in names[kind]:
                return True
            swapped = {**names, kind: {**names[kind], a: b, b: a}}
            partners = _agent_partners if kind == "agent" else _issue_partners
            extra = (self.inert, self.inert_issues) if kind == "agent" else (self.inert,)
            alike = (partners(self.s, a, swapped["issue"], swapped["agent"], *extra)
                     == partners(self.s, b, names["issue"], names["agent"], *extra))
            if alike and core not in self._named:
                self._named[core] = _dump(_canonical(scenario, plain, names))
            self._swaps[kind, a, b, core] = alike and _dump(_canonical(scenario, plain, swapped)) == self._named[core]
        return self._swaps[kind, a, b, core]

    def _key(self, labels: dict[str, dict[str, str]]) -> tuple[str, str]:
        """The scenario named by `labels`: without its inert agents and issues, then whole."""
        core, plain = self._core_scenario()
        return (_dump(_canonical(core, plain, labels)), _dump(_canonical(self.s, self.plain, labels)))

    def _core_scenario(self) -> tuple[Scenario, Any]:
        """The scenario without its inert agents and issues (as it was before they were added),
        and its plain data; the scenario itself if that does not validate."""
        if self._core is None:
            inert_issues = self.inert_issues
            data = self.s.model_dump(mode="json")
            data["issues"] = {i: v for i, v in data["issues"].items() if i not in inert_issues}
            data["agents"] = {a: {**v, "issues": {i: st for i, st in v["issues"].items() if i not in inert_issues}}
                              for a, v in data["agents"].items() if a not in self.inert}
            trust = data["relations"]["trust"]
            entries = [{**t, "between": [a for a in t["between"] if a not in self.inert]}
                       for t in (trust if isinstance(trust, list) else [trust])]
            data["relations"]["trust"] = [t for t in entries if len(t["between"]) >= 2]
            try:
                core = Scenario.model_validate(data)
            except ValueError:
                core = self.s
            self._core = core, core.model_dump(mode="json", exclude=set(DESCRIPTIVE))
        return self._core


def _agent_partners(s: Scenario, agent: str, issue_labels: dict[str, str], agent_labels: dict[str, str],
                    inert: frozenset[str], inert_issues: frozenset[str]) -> str:
    """How an agent stands to the other entities, each named by its current colour: its stances by
    issue (not on inert issues: a null issue added beside twins changed their colours, so their
    order), whom it trusts and how much, its alliances, the effects that name it and the rubric's
    signed conditions that name it with whom."""
    stances = sorted((issue_labels[i], json.dumps(stance.model_dump(mode="json"), sort_keys=True))
                     for i, stance in s.agents[agent].issues.items() if i not in inert_issues)
    trust = sorted((sorted(agent_labels[b] for b in pair if b != agent),
                    json.dumps(entry.model_dump(mode="json", exclude={"between"}), sort_keys=True))
                   for entry in s.relations.trust_entries() for pair in entry.pairs()
                   if agent in pair and not inert.intersection(pair))
    return json.dumps([stances, trust, _alliances(s, issue_labels, agent_labels, agent=agent),
                       _effects(s, issue_labels, agent_labels, agent=agent),
                       sorted([cls, sorted(agent_labels[a] for a in c.signed)] for cls, c in _leaves(s)
                              if agent in getattr(c, "signed", ()))], sort_keys=True)


def _issue_partners(s: Scenario, issue: str, issue_labels: dict[str, str], agent_labels: dict[str, str],
                    inert: frozenset[str]) -> str:
    """How an issue stands to the other entities, each named by its current colour: the agents'
    stances on it, the alliances over it, the effects that name it and its place in the rubric."""
    stances = sorted((agent_labels[a], json.dumps(spec.issues[issue].model_dump(mode="json"), sort_keys=True))
                     for a, spec in s.agents.items() if issue in spec.issues and a not in inert)
    rubric = sorted(json.dumps([cls, _shape(getattr(s.outcome, cls), "any", c, issue_labels, agent_labels)])
                    for cls, c in _leaves(s) if isinstance(c, Level) and c.issue == issue)
    return json.dumps([stances, _alliances(s, issue_labels, agent_labels, issue=issue),
                       _effects(s, issue_labels, agent_labels, issue=issue), rubric], sort_keys=True)


def _alliances(s: Scenario, issue_labels: dict[str, str], agent_labels: dict[str, str], *,
               agent: str | None = None, issue: str | None = None) -> list:
    """Every alliance with `agent` as client or patron, or over `issue`: its numbers, its client's
    and patron's labels (`agent` itself marked), its issues' labels."""
    mark = lambda name: "self" if name == agent else agent_labels[name]  # noqa: E731
    return sorted([mark(al.agent), mark(al.patron), sorted(issue_labels[i] for i in al.issues),
                   json.dumps(al.model_dump(mode="json", exclude={"agent", "patron", "issues"}), sort_keys=True)]
                  for al in s.relations.alliances
                  if (agent is not None and agent in (al.agent, al.patron))
                  or (issue is not None and issue in al.issues))


def _effects(s: Scenario, issue_labels: dict[str, str], agent_labels: dict[str, str], *,
             agent: str | None = None, issue: str | None = None) -> list:
    """(stream, effect index, the agents and issue it names by label) of every event and incident
    effect naming `agent` or `issue`: which entities one shock moves together."""
    return sorted([kind, name, k, sorted(agent_labels[a] for a in _agents_of(e)),
                   issue_labels[e.issue] if e.issue else ""]
                  for kind, name, k, e in _effects_naming(s, agent=agent, issue=issue))


def inputs_hash(scenario: Scenario) -> str:
    """SHA-256 of the meeting a scenario describes, whatever it calls things, in whatever order
    it lists them and however it words them: its inputs without the `DESCRIPTIVE` fields (name,
    title, source, observed, monte_carlo), its prose (`PROSE`: descriptions, an event's source
    sentence) and the names events, incidents, elections and anchors give themselves; every
    agent and issue named by its canonical label; every mapping, and every list whose order the
    model does not read (`ORDERLESS`), sorted. Two scenarios with one inputs hash are one model:
    with the same names of events, incidents and elections (whose random streams are keyed by
    them, and which order the events of one day) they give the same replicates, to the bit
    (tests/test_invariance.py); renamed, the same forecast up to Monte Carlo error.

    A posterior keeps its cases' inputs hashes (`sim.posterior`), and a backtest refuses two
    cases with one: a fitted case copied under another name, reworded, with its agents renamed
    or its entries listed in another order, is still that meeting and is left out of its own
    forecast, not forecast in sample as a new one."""
    canon = make_canon(scenario)
    labels = {"agent": canon.agent_label, "issue": canon.issue_label}
    data = _canonical(scenario, scenario.model_dump(mode="json", exclude=set(DESCRIPTIVE)), labels)
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _canonical(model: Any, plain: Any, labels: dict[str, dict[str, str]]) -> Any:
    """`plain` (the JSON dump of `model`) with names replaced by labels and `ORDERLESS` lists sorted."""
    if isinstance(model, BaseModel) and isinstance(plain, dict):
        out = {}
        for key, value in plain.items():
            field = (type(model), key)
            if field in PROSE or field in _OWN_NAMES:
                continue
            value = _canonical(getattr(model, key), value, labels)  # the names still as written inside
            if field == (Issue, "anchors"):  # their names are their own: the menu reads the levels
                value = sorted(value.values())
            if field == (Summit, "weights"):  # a weight of 1 written out is the default, unwritten
                value = {name: weight for name, weight in value.items() if _weight_json(weight) != 1.0}
            if field in REFERENCES:
                value = _relabel(value, labels[REFERENCES[field]])
            if field in ORDERLESS and isinstance(value, list):
                value = sorted(value, key=lambda item: json.dumps(item, sort_keys=True))
            out[key] = value
        return out
    if isinstance(model, Mapping) and isinstance(plain, dict):
        return {key: _canonical(model[key], value, labels) for key, value in plain.items()}
    if isinstance(model, (list, tuple)) and isinstance(plain, list):
        return [_canonical(m, value, labels) for m, value in zip(model, plain)]
    return plain


def _relabel(value: Any, label: dict[str, str]) -> Any:
    """A name, a list of names or a mapping keyed by names, with each name's label (None: unset)."""
    if value is None:
        return None
    if isinstance(value, str):
        return label[value]
    if isinstance(value, list):
        return [label[name] for name in value]
    return {label[name]: item for name, item in value.items()}


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _leaves(s: Scenario):
    """(class, condition) of every level and signed condition of the rubric."""
    for cls in ("breakthrough", "substantive"):
        for _, c in condition_leaves(getattr(s.outcome, cls), cls):
            yield cls, c


def _is_zero(param) -> bool:
    return (isinstance(param, (int, float)) and param == 0) or (isinstance(param, Fixed) and param.value == 0)


def _streams_naming(s: Scenario, *, agent: str | None = None, issue: str | None = None) -> list:
    """(stream, effect index, target) of every event and incident effect naming the entity."""
    return sorted((kind, name, k, e.target) for kind, name, k, e in _effects_naming(s, agent=agent, issue=issue))


def _effects_naming(s: Scenario, *, agent: str | None = None, issue: str | None = None):
    """(kind, stream name, effect index, effect) of every event and incident effect naming
    `agent` (as its agent or in its `between`) or `issue`."""
    for kind, streams in (("event", s.events), ("incident", s.incidents)):
        for stream in streams:
            for k, e in enumerate(stream.effects):
                if (agent is not None and agent in _agents_of(e)) or (issue is not None and e.issue == issue):
                    yield kind, stream.name, k, e


def _agents_of(effect) -> list[str]:
    return [*([effect.agent] if effect.agent else []), *(effect.between or ())]


def _issue_role(s: Scenario, issue: str, inert: frozenset[str]) -> list:
    spec = s.issues[issue]
    return ["issue", sorted(spec.anchors.values()), spec.status_quo, _is_inert_issue(s, issue, inert)]


def _is_inert_issue(s: Scenario, issue: str, inert: frozenset[str] | None = None) -> bool:
    """An issue nothing weighs or reads: salience 0 for every agent but the inert ones (`inert`:
    their saliences weigh nothing; None: found here), in no alliance (whose cost weighs an issue
    at the summit whatever its salience), named by no rubric condition, event or incident. An issue
    added so does not share a role with one that only an alliance, the rubric or an event makes
    matter, so it cannot take that one's label, and random numbers; nor does a null agent that
    cares about it make it weighed."""
    if inert is None:
        inert = frozenset(a for a in s.agents if _is_inert_agent(s, a))
    return (all(_is_zero(a.issues[issue].salience) for name, a in s.agents.items()
                if issue in a.issues and name not in inert)
            and not any(issue in al.issues for al in s.relations.alliances)
            and not any(isinstance(c, Level) and c.issue == issue for _, c in _leaves(s))
            and not _streams_naming(s, issue=issue))


def _is_inert_agent(s: Scenario, agent: str) -> bool:
    """An agent no other entity can feel: capability 0 (nobody's position moves toward it), not
    at the summit in any role, in no alliance, named by no event, incident or rubric condition.
    Its stances and trusts are left out of the other entities' ranks, so adding it moves nobody's
    random numbers."""
    summit, roles = s.summit, s.roles
    signed = any(agent in getattr(c, "signed", ()) for _, c in _leaves(s))
    return (_is_zero(s.agents[agent].capability) and agent not in summit.parties and agent not in roles.veto
            and not any(m.agent == agent for m in roles.mediators)
            and not any(agent in (al.agent, al.patron) for al in s.relations.alliances)
            and not _streams_naming(s, agent=agent) and not signed)


def _agent_role(s: Scenario, agent: str, issue_sig: dict[str, str], first: dict[str, str] | None,
                inert: frozenset[str]) -> list:
    """The agent's role; with `first` (the first round's signatures) also its partners' roles."""
    summit, roles = s.summit, s.roles
    other = (lambda name: first[name]) if first is not None else (lambda name: "")
    party = agent in summit.parties
    clients = sorted((sorted(issue_sig[i] for i in al.issues), other(al.patron))
                     for al in s.relations.alliances if al.agent == agent)
    patrons = sorted((sorted(issue_sig[i] for i in al.issues), other(al.agent))
                     for al in s.relations.alliances if al.patron == agent)
    trusted = sorted(other(b) for entry in s.relations.trust_entries() for pair in entry.pairs()
                     if agent in pair for b in pair if b != agent and b not in inert)
    role = ["agent", party, party and agent in (summit.required or summit.parties), agent in roles.veto,
            any(m.agent == agent for m in roles.mediators), _is_zero(s.agents[agent].capability), clients, patrons,
            trusted]
    # An inert agent shares no group with one that acts (an agent of capability 0 that an incident
    # names has the same role otherwise): added beside it, a null agent took its rank, so its
    # random numbers. Marked on inert agents only, so that every other agent's label stays.
    return [*role, "inert"] if agent in inert else role


def _agent_numbers(s: Scenario, agent: str, issue_sig: dict[str, str], inert: frozenset[str],
                   skip: frozenset[str] = frozenset()) -> str:
    """Everything else about the agent, without names: its ranking key within its role (its
    stances on the issues `skip` left out)."""
    data = s.agents[agent].model_dump(mode="json", exclude={"description"})
    data["issues"] = sorted((issue_sig[i], json.dumps(stance, sort_keys=True)) for i, stance in data["issues"].items()
                            if i not in skip)
    # The lists the model reads in no order, sorted; an election's source sentence (prose) left out:
    # listed otherwise or reworded, twins' elections swapped their ranks, so their random numbers.
    data["elections"] = sorted(({k: v for k, v in e.items() if k != "source"} for e in data["elections"]),
                               key=lambda e: json.dumps(e, sort_keys=True))
    data["mediator"] = sorted((m.model_dump(mode="json", exclude={"agent"}) for m in s.roles.mediators
                               if m.agent == agent), key=lambda m: json.dumps(m, sort_keys=True))
    data["weight"] = _weight_json(s.summit.weights.get(agent, 1.0))
    data["trust"] = sorted(json.dumps(entry.model_dump(mode="json", exclude={"between"}), sort_keys=True)
                           for entry in s.relations.trust_entries()
                           if any(agent in pair and not inert.intersection(pair) for pair in entry.pairs()))
    data["signed"] = sorted(cls for cls, c in _leaves(s)
                            if agent in getattr(c, "signed", ()))
    data["streams"] = _streams_naming(s, agent=agent)
    return json.dumps(data, sort_keys=True)


def _weight_json(weight: Any) -> Any:
    """A Nash weight as plain data, a fixed one as its number: `{dist: fixed, value: 1}`, `1` and
    no entry are one weight, so they rank a party and hash a scenario alike."""
    if isinstance(weight, BaseModel):
        weight = weight.model_dump(mode="json")
    if isinstance(weight, dict) and weight.get("dist") == "fixed":
        weight = weight["value"]
    return weight


def _issue_numbers(s: Scenario, issue: str, issue_sig: dict[str, str], agent_sig: dict[str, str],
                   inert: frozenset[str]) -> str:
    """Everything else about the issue, without names: its ranking key within its role."""
    stances = sorted((agent_sig[a], json.dumps(spec.issues[issue].model_dump(mode="json"), sort_keys=True))
                     for a, spec in s.agents.items() if issue in spec.issues and a not in inert)
    rubric = sorted(json.dumps([cls, _shape(getattr(s.outcome, cls), "any", c, issue_sig, agent_sig)])
                    for cls, c in _leaves(s)
                    if isinstance(c, Level) and c.issue == issue)
    allied = sorted(json.dumps(al.model_dump(mode="json", exclude={"agent", "patron", "issues"}), sort_keys=True)
                    for al in s.relations.alliances if issue in al.issues)
    return json.dumps([stances, rubric, allied, _streams_naming(s, issue=issue)], sort_keys=True)


def _shape(conditions: list, kind: str, mark: Level, issue_sig: dict[str, str], agent_sig: dict[str, str]) -> str:
    """A class's conditions (`kind`: any or all of them) as a tree without names or order: each
    level condition as its issue's role and bounds, `mark` (the issue being ranked) flagged; each
    signed condition as its parties' roles; the branches of an any or all sorted. Where an issue
    stands in the rubric ranks it, but not the order the conditions are listed in (an index in the
    list did: listing them in another order swapped two issues' random numbers)."""
    parts = []
    for c in conditions:
        if isinstance(c, AllOf):
            parts.append(_shape(c.all, "all", mark, issue_sig, agent_sig))
        elif isinstance(c, AnyOf):
            parts.append(_shape(c.any, "any", mark, issue_sig, agent_sig))
        elif isinstance(c, Level):
            parts.append(json.dumps(["level", issue_sig.get(c.issue, ""), list(c.bounds()), c is mark]))
        else:
            parts.append(json.dumps(["signed", sorted(agent_sig.get(a, "") for a in c.signed)]))
    return json.dumps([kind, sorted(parts)])
