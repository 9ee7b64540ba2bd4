"""Reading scenario files: YAML, derivation (`extends`, `include`, `set`,
`remove_events`), overrides by dotted path (`sim.paths`), and validation into a `Scenario`.

`load_scenario` and `parse_scenario` turn any problem into an `InputError`
listing every problem at once, each naming the file and the field. YAML is read
by `sim.yamlfile` (duplicate keys, alias bombs, deep nesting and impossible
dates are errors). `extends` and `include` may only name YAML files inside the
scenario's tree: the folder above the scenario's own folder (so a counterfactual
can extend `../baseline.yaml`), or a folder given with `scenario_roots`
(`--scenario-root` on the command line); a file outside is never read.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .arguments import plain_values
from .errors import InputError, Problem
from .paths import apply_overrides, check_overlaps, child_key, field_keys
from .reporting import possessive
from .schema import Effect, Event, Incident, Scenario, date_range
from .schema import scenario_hash as _scenario_hash
from .validation import problems_from
from .yamlfile import dump_yaml, load_yaml, not_a_mapping, read_text_file, read_yaml_file

__all__ = ["DERIVATION_KEYS", "ENGINE_ONLY", "YAML_SUFFIXES", "derive_scenario_data", "dump_scenario",
           "load_scenario", "looks_like", "named_by_writer", "not_this_kind", "parse_scenario", "read_yaml",
           "scenario_hash", "scenario_roots", "scenario_sources", "scenario_notes", "scenario_warnings",
           "unread_at_summit", "unread_by_engine", "unread_in_scenario"]

YAML_SUFFIXES = (".yaml", ".yml")
"""What a file named by `extends` or `include` must end with."""

_EXTRA_ROOTS: contextvars.ContextVar[tuple[Path, ...]] = contextvars.ContextVar("scenario_roots", default=())


@contextlib.contextmanager
def scenario_roots(*folders: str | Path) -> Iterator[None]:
    """Within the block, `extends` and `include` may also name files under `folders`."""
    token = _EXTRA_ROOTS.set(tuple(Path(f).resolve() for f in folders))
    try:
        yield
    finally:
        _EXTRA_ROOTS.reset(token)


def read_yaml(path: Path, what: str) -> Any:
    """The plain data of YAML file `path` (`what` it should be, unused by the safe loader's
    messages, which name the file and line); any problem is an `InputError`."""
    return read_yaml_file(path)


def scenario_sources(path: str | Path) -> list[tuple[Path, str]]:
    """The files a scenario is read from, in reading order, each with its role ("scenario",
    "extends", "include"): the file, then what it extends (recursively), then its includes.
    Files that cannot be read are left out (loading the scenario reports them)."""
    out: list[tuple[Path, str]] = []

    def visit(file: Path, role: str) -> None:
        if any(file == seen for seen, _ in out) or not file.is_file():
            return
        out.append((file, role))
        try:
            data = read_yaml_file(file)
        except InputError:
            return
        if not isinstance(data, dict):
            return
        if isinstance(data.get("extends"), str):
            visit((file.parent / data["extends"]).resolve(), "extends")
        includes = data.get("include")
        for name in [includes] if isinstance(includes, str) else includes if isinstance(includes, list) else []:
            if isinstance(name, str):
                visit((file.parent / name).resolve(), "include")

    visit(Path(path).resolve(), "scenario")
    return out


def load_scenario(path: str | Path, overrides: dict[str, Any] | None = None, *, option: str = "overrides") -> Scenario:
    """Read and validate a scenario file; raise `InputError` listing every problem.

    `overrides` maps dotted paths (`agents.russia.resolve`) to values, applied to
    the YAML before validation, so they are checked like the file. A problem with a
    path names `option`, the argument that gave it (the command line passes "--set").
    """
    if not isinstance(path, (str, Path)):
        raise InputError(Problem("path", "", "must be the path of a scenario file (a str or a pathlib.Path)",
                                 path, True))
    path = Path(path)
    if path.is_dir():
        raise InputError(Problem(str(path), "", "is a directory, not a scenario file; name a scenario file in it "
                                                "(validate, backtest and calibrate take a folder)"))
    return parse_scenario(read_text_file(path), source=str(path), overrides=overrides, option=option)


def parse_scenario(text: str | Mapping[str, Any], source: str = "<string>",
                   overrides: dict[str, Any] | None = None, *, option: str = "overrides") -> Scenario:
    """Validate scenario YAML text, or plain data (a dict, as `sim.strategies.scenario_dicts` and
    `mutations_of` draw it); `source` names it in error messages, `overrides` and `option` as for
    `load_scenario`. Plain data is read as the file holding it would be, with the same
    `InputError`s: written by `dump_yaml`, not `yaml.safe_dump`, whose YAML 1.1 writes the text
    `1e6` plain, to be read back as a number."""
    if isinstance(text, Mapping):
        text = _as_yaml(text, source)
    if not isinstance(text, (str, bytes)):
        raise InputError(Problem(source, "", "must be YAML text (a str) or plain data (a dict)", text, True))
    check_overrides(overrides)
    overrides = plain_values(overrides)  # numpy scalars from a user's loop: the numbers they hold
    data = load_yaml(text, source)
    if not isinstance(data, dict):
        raise InputError(not_a_mapping(source, "scenario", data))
    if "sim_version" in data:  # every command's summary.json; a run's shares agents, issues, events with a scenario
        raise InputError(Problem(source, "", "is the summary.json of a sim result, not a scenario file (a run's "
                                 "own scenario is copied to inputs/ beside it)"))
    if data and not any(key in Scenario.model_fields or key in DERIVATION_KEYS for key in data):
        raise InputError(Problem(source, "", _not_a_scenario(data)))
    origins: list[tuple[tuple[str, ...], str]] = []
    # a derived file's unknown `remove_events` names, reported with the problems found after them
    deferred: list[Problem] = []
    try:
        data = derive_scenario_data(data, source, _origins=origins, _deferred=deferred)
        if overrides:
            check_overlaps(data, overrides, option)
            data = apply_overrides(data, overrides, source, option)
            # by the field's keys, a list item by its index as a problem's path counts it, so that a
            # problem at `events.0.date` names `option` when it was set as `events.talks.date`
            origins += [(_keys(data, dotted), f"{source} ({option})") for dotted in overrides]
    except InputError as exc:
        raise InputError([*deferred, *exc.problems]) from None
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise InputError([*deferred, *(_named_item(_at_origin(p, origins, source), data)
                                       for p in problems_from(exc, source))]) from None
    if deferred:
        raise InputError(deferred)
    return scenario


def _named_item(problem: Problem, data: dict) -> Problem:
    """`problem` with the event or incident its path counts from 0 (`events.4.date`) named in its
    message, as the notes name them: a writer counting a file's events from 1 would look at the wrong one."""
    parts = problem.path.split(".")
    if len(parts) < 2 or parts[0] not in ("events", "incidents") or not parts[1].isdigit():
        return problem
    items = data.get(parts[0])
    item = items[int(parts[1])] if isinstance(items, list) and int(parts[1]) < len(items) else None
    name = item.get("name") if isinstance(item, dict) else None
    if not isinstance(name, str) or not name:
        return problem
    what = "event" if parts[0] == "events" else "incident"
    return Problem(problem.source, problem.path, f"{what} {name}: {problem.message}", problem.value,
                   problem.has_value)


def check_overrides(overrides: Any) -> None:
    """`overrides` must be None or a mapping of dotted paths (str) to values: a list of
    `PATH=VALUE` strings, as the command line takes them, is refused saying so."""
    if overrides is None:
        return
    if not isinstance(overrides, dict):
        raise InputError(Problem("overrides", "", "must be a dict of dotted paths to values, "
                                 "{'agents.russia.resolve': 0.8}", overrides, True))
    bad = [key for key in overrides if not isinstance(key, str) or not key]
    if bad:
        raise InputError([Problem("overrides", "", "each key must be a dotted path such as agents.russia.resolve",
                                  key, True) for key in bad])


def _example_path(data: Any) -> str:
    """A dotted path of the scenario `data`, for an error's example: its first agent's resolve
    (the reader's own names, not the baseline's), or a field every scenario may set."""
    agents = data.get("agents") if isinstance(data, dict) else None
    first = next(iter(agents), None) if isinstance(agents, dict) else None
    return f"agents.{first}.resolve" if isinstance(first, str) else "dynamics.rate"


def _keys(data: Any, dotted: str) -> tuple[str, ...]:
    """The parts of the field dotted path `dotted` names, each list item by its index, as text:
    as a problem's path writes them."""
    return tuple(str(k) for k in field_keys(data, dotted))


def _at_origin(problem: Problem, origins: list[tuple[tuple[str, ...], str]], source: str) -> Problem:
    """`problem` (found in the scenario `source` makes) named by the file that wrote the field:
    the last of `origins` (the fields each file wrote, in the order applied) at the problem's
    path, inside it or above it; a problem with a base's value names the base, not the file that
    extends it, which may not mention that field at all."""
    if not problem.path:
        return problem
    parts = tuple(problem.path.split("."))
    written = [file for keys, file in origins if keys[:len(parts)] == parts[:len(keys)]]
    if not written or written[-1] == source:
        return problem
    return Problem(os.path.normpath(written[-1]), problem.path, problem.message, problem.value, problem.has_value)


def named_by_writer(problems: list[Problem], path: str | Path, overrides: dict[str, Any] | None = None,
                    option: str = "overrides") -> list[Problem]:
    """`problems` found in the valid scenario at `path` (its warnings and notes) each named by the
    file that wrote its field, as `parse_scenario` names its errors: a base it extends, a file it
    includes, or `path (option)` for a field `overrides` gave. The files are read again for it; a
    scenario that no longer reads back keeps `path`."""
    source = str(path)
    origins: list[tuple[tuple[str, ...], str]] = []
    try:
        data = derive_scenario_data(load_yaml(read_text_file(path), source), source, _origins=origins)
        if overrides:
            data = apply_overrides(data, plain_values(overrides), source, option)
            origins += [(_keys(data, dotted), f"{source} ({option})") for dotted in overrides]
    except (InputError, OSError):  # the file changed since it was read: it still names the lines
        return problems
    return [_at_origin(p, origins, source) if p.source == source else p for p in problems]


_OTHER_FILES = {"loglik": "a posterior (JSON), for `--calibration`", "knobs": "a knobs spec, for `calibrate --knobs`",
                "vary": "a sweep spec, for `sweep --spec`"}
"""A key that tells which other kind of file sim reads a YAML file is, the first that matches
(a posterior holds its `knobs` too)."""


def looks_like(data: dict) -> str | None:
    """Which kind of sim's YAML files the mapping `data` looks like, in words, by its
    top-level keys; None if none."""
    if any(key in Scenario.model_fields or key in DERIVATION_KEYS for key in data):
        return "a scenario file, for `run`"
    kind = next((what for key, what in _OTHER_FILES.items() if key in data), None)
    if kind is None and data and all(isinstance(k, str) and "." in k for k in data):
        kind = "a file of dotted paths to values, for a scenario's `include:`"
    return kind


def not_this_kind(data: Any, source: str, what: str, key: str) -> Problem | None:
    """One line, instead of one for each missing and unknown key, when `data` (meant to be
    `what`, whose mark is the top-level `key`) lacks `key` and looks like another file."""
    if not isinstance(data, dict) or key in data or (kind := looks_like(data)) is None:
        return None
    return Problem(source, "", f"is not {what} (it has no `{key}:`); it looks like {kind}")


def _not_a_scenario(data: dict) -> str:
    """Why `data`, a mapping without one key of a scenario, is not a scenario: one line, not a
    line for each missing field."""
    shown = ", ".join(repr(str(k))[:40] for k in list(data)[:4]) + (", ..." if len(data) > 4 else "")
    kind = looks_like(data)
    return (f"is not a scenario file: none of its top-level keys ({shown}) is a scenario's"
            + (f"; it looks like {kind}" if kind else f" ({', '.join(Scenario.model_fields)})"))


ENGINE_ONLY = {"rate": "convergence", "variant": "eum", "rounds_per_week": "eum", "q": "eum"}
"""The fields of `dynamics` that one engine alone reads, each with that engine (`engine` and
`noise` every engine reads): what a scenario's note or warning, a sweep's note and a posterior's
note say changes nothing under another engine (`unread_by_engine`)."""

_INSTEAD = {("rate", "eum"): "whose pace is dynamics.rounds_per_week (EUM rounds a week)"}
"""What does the work of an engine-only field under another engine, where something does."""


def unread_by_engine(path: str, engine: str, whose: str = "this scenario's") -> str | None:
    """Why the scenario field at dotted `path` (a field of `dynamics`, or a part of one such as
    `dynamics.rate.mean`) is never read by `engine`, as the start of a message ("is read only by
    the convergence engine; this scenario's engine is eum, whose pace is ..."), which the caller
    ends with what that means ("so it changes nothing"); None when `engine` reads it. `whose`
    names the scenario in the message."""
    parts = path.split(".")
    if len(parts) < 2 or parts[0] != "dynamics" or (reader := ENGINE_ONLY.get(parts[1])) in (None, engine):
        return None
    instead = _INSTEAD.get((parts[1], engine))
    return f"is read only by the {reader} engine; {whose} engine is {engine}" + (f", {instead}" if instead else "")


def unread_in_scenario(path: str, scenario: Scenario, whose: str = "this scenario's") -> str | None:
    """Why `scenario`'s engine never reads the field at dotted `path` (list items by index or by
    name, as a sweep's factor or a knob's field writes it), as the start of a message that the
    caller ends with what that means, as `unread_by_engine`'s; None when the engine reads it. Two
    kinds: a field of `dynamics` that another engine alone reads (`unread_by_engine`), and under
    eum a field of an event's or incident's effect that moves an agent's ideal
    (`events.talks.effects.0.shift`, or a part of it), which that engine never reads after the
    start (`_unread_ideals`), or when or how often such effects come: a field of an event or
    incident whose every effect moves an ideal (`events.talks.probability`, an incident's rate). And,
    whatever the engine, what the summit never reads (`unread_at_summit`)."""
    if (why := unread_at_summit(path, scenario)) is not None:
        return why
    engine = scenario.dynamics.engine
    if (why := unread_by_engine(path, engine, whose)) is not None or engine != "eum":
        return why
    if (item := _item_field_at(path, scenario)) is not None:  # when or how often it happens
        what, effects = item
        if effects and all(effect.target == "ideal" for effect in effects):
            moves = "; ".join(f"{possessive(effect.agent)} on {effect.issue}" for effect in effects)
            return f"is a field of {what}, whose every effect moves an ideal ({moves}), {_ideal_unread(whose)}"
        return None
    found = _effect_at(path, scenario)
    if found is None or found[1].target != "ideal":
        return None
    what, effect = found
    return f"is part of the effect by which {_moves_ideal(what, effect)}, {_ideal_unread(whose)}"


def unread_at_summit(path: str, scenario: Scenario) -> str | None:
    """Why the summit never reads the field at dotted `path` (or a part of it), as the start of a
    message, as `unread_in_scenario`'s; None when it does. Two fields: the Nash weight of an
    optional party (`summit.weights.NAME`, NAME not in `summit.required`), since the product that
    picks the deal is over the required parties' surpluses alone; and the `walk_away` of an agent
    that is neither a summit party nor a veto player, since only they weigh a package against
    walking away (`sim.summit.bargain`). Either is read nowhere else: the replicates are the same
    whatever its value, and a writer who gave it one meant it to matter."""
    parts = path.split(".")
    summit = scenario.summit
    if len(parts) == 3 and parts[:2] == ["summit", "weights"]:
        name = parts[2]
        if name in summit.parties and name not in (summit.required or summit.parties):
            return (f"is the Nash weight of {name}, an optional party (not in summit.required): the Nash product "
                    "that picks the deal is over the required parties' surpluses alone")
    if len(parts) >= 3 and parts[0] == "agents" and parts[2] == "walk_away":
        name = parts[1]
        if name in scenario.agents and name not in summit.parties and name not in scenario.roles.veto:
            return (f"is what no deal gains or costs {name}, which is neither a summit party nor a veto player: only "
                    "they weigh a package against walking away")
    return None


def _unread_at_summit_given(scenario: Scenario, source: str) -> list[Problem]:
    """A note for each field the summit never reads (`unread_at_summit`) that the scenario gives a
    value (in the file or by --set; a default is not a choice)."""
    given = [(f"summit.weights.{name}", weight) for name, weight in scenario.summit.weights.items()]
    given += [(f"agents.{name}.walk_away", agent.walk_away) for name, agent in scenario.agents.items()
              if "walk_away" in agent.model_fields_set]
    notes = []
    for path, value in given:
        if (why := unread_at_summit(path, scenario)) is not None:
            shown = value if isinstance(value, (int, float)) else value.model_dump()
            notes.append(Problem(source, path, f"{why}, so it changes nothing", shown, True))
    return notes


def _item_field_at(path: str, scenario: Scenario) -> tuple[str, list[Effect]] | None:
    """(what names it, its effects) when dotted `path` names a field of an event or incident of
    `scenario` other than its effects (its date, probability, rate, start: when or how often its
    effects come), by index or by name; else None."""
    parts = path.split(".")
    if len(parts) < 3 or parts[2] == "effects" or (found := _item_at(parts, scenario)) is None:
        return None
    what, item = found
    return (what, list(item.effects)) if parts[2] in type(item).model_fields else None


def _effect_at(path: str, scenario: Scenario) -> tuple[str, Effect] | None:
    """(what names its event or incident, the effect) when dotted `path` names a field of an
    effect of an event or incident of `scenario` (or a part of one), else None. The event or
    incident is named by index or by name, the effect by index (`paths.child_key`)."""
    parts = path.split(".")
    if len(parts) < 5 or parts[2] != "effects" or parts[4] not in Effect.model_fields \
            or (found := _item_at(parts, scenario)) is None:
        return None
    what, item = found
    j = child_key(list(item.effects), parts[3])
    return None if j is None else (what, item.effects[j])


def _item_at(parts: list[str], scenario: Scenario) -> tuple[str, Event | Incident] | None:
    """(what names it, the event or incident) that dotted path `parts` starts with
    (`events.talks`, `incidents.0`: by name or by index, `paths.child_key`), else None."""
    if parts[0] not in ("events", "incidents"):
        return None
    items = scenario.events if parts[0] == "events" else scenario.incidents
    k = child_key([{"name": item.name} for item in items], parts[1])
    return None if k is None else (_named(items[k]), items[k])


def _named(item: Event | Incident) -> str:
    """An event as `event NAME (DATE)`, an incident as `incident NAME`, in notes."""
    return f"event {item.name} ({item.date})" if isinstance(item, Event) else f"incident {item.name}"


def _moves_ideal(what: str, effect: Effect) -> str:
    return f"{what} moves {possessive(effect.agent)} ideal on {effect.issue}"


def _ideal_unread(whose: str) -> str:
    """Why a move of an ideal changes nothing under eum, `whose` naming the scenario."""
    return (f"which only the convergence engine reads (its pull back toward the ideal); {whose} engine is eum, "
            "which moves positions by the EUM rounds and reads an ideal only as the starting position")


def _unread_given(scenario: Scenario, source: str, note: bool) -> list[Problem]:
    """A `Problem` for each field of `dynamics` given (in the file or by --set; not a default)
    that the scenario's engine never reads. `note`: those read only by the default engine
    (convergence), whose scenarios are meant to run under another by `--set dynamics.engine=...`,
    a note; else those read only by another engine, set for it and left behind, a warning."""
    dynamics = scenario.dynamics
    default = type(dynamics).model_fields["engine"].default
    problems = []
    for name, reader in ENGINE_ONLY.items():
        why = unread_by_engine(f"dynamics.{name}", dynamics.engine)
        if why is None or name not in dynamics.model_fields_set or (reader == default) != note:
            continue
        if note:
            value = getattr(dynamics, name)
            problems.append(Problem(source, f"dynamics.{name}", f"{why}, so it changes nothing",
                                    value if isinstance(value, (int, float, str)) else value.model_dump(), True))
        else:
            problems.append(Problem(source, f"dynamics.{name}", f"{why}, so it changes nothing (set dynamics.engine: "
                                    f"{reader} to use it)"))
    return problems


def scenario_warnings(scenario: Scenario, source: str) -> list[Problem]:
    """A `Problem` for each field of `scenario` (read from `source`) whose meaning changed: a
    warning, not an error, so that every file that was valid stays valid; and for each setting of
    the eum engine given to a scenario that runs another engine, which reads none of them."""
    problems = [Problem(source, path, message) for path, message in scenario.changed_fields()]
    return problems + _unread_given(scenario, source, note=False)


def scenario_notes(scenario: Scenario, source: str) -> list[Problem]:
    """What `validate` points out in a valid scenario because a first-time writer may not mean
    it: a veto player or mediator with no `relations.trust` entry toward a party is read as
    trusting it fully (in the pressure weights, and a veto player's discount of promised
    gains; README, "What the model leaves out"); a mediator whose two shares (trust,
    margin) are 0 does nothing as a mediator; an election whose audience cost starts
    after the latest summit date, or whose vote is before calendar.start, changes nothing; a
    `dynamics.rate` given (not the default) to a scenario that runs the eum engine, which never
    reads it (the mirror of the warning for eum settings under convergence, `scenario_warnings`,
    but a note: running a scenario written for convergence under eum by `--set
    dynamics.engine=eum` is meant); under eum, an event's or incident's move of an agent's
    ideal, which that engine never reads after the start; under any engine, a Nash weight of an
    optional party or a `walk_away` of an agent that decides nothing (`unread_at_summit`); a
    condition of the rubric that no anchor of its issue meets (`_unmet_conditions`)."""
    trusted = {frozenset(pair) for entry in scenario.relations.trust_entries() for pair in entry.pairs()}
    roles = [(f"roles.veto.{j}", name) for j, name in enumerate(scenario.roles.veto)]
    roles += [(f"roles.mediators.{j}.agent", m.agent) for j, m in enumerate(scenario.roles.mediators)]
    notes = []
    for path, name in roles:
        missing = [party for party in scenario.summit.parties if frozenset((name, party)) not in trusted]
        if not missing:
            continue
        # A mediator decides nothing: no promised gain of its own is discounted. A veto player's
        # are, by its mean trust over the parties, a party without an entry counting as 1 (`sim.summit`).
        if ".mediators." in path:
            why = "read as full trust (in the pressure weights)"
        else:
            why = "read as full trust (in the pressure weights and the discount of promised gains)"
        notes.append(Problem(source, path, f"has no relations.trust entry with {', '.join(missing)}: {why}", name,
                             True))
    for j, mediator in enumerate(scenario.roles.mediators):
        if mediator.trust == 0 and mediator.margin == 0:  # its only acts on the summit day (`sim.summit.bargain`)
            notes.append(Problem(source, f"roles.mediators.{j}", "closes no share of the trust gap and removes no "
                                 "share of the margin (its trust and margin are 0, their defaults), so as a mediator "
                                 "it changes nothing", mediator.agent, True))
    _, latest = date_range(scenario.summit.date)
    for name, agent in scenario.agents.items():
        for k, election in enumerate(agent.elections):
            opens = election.date - dt.timedelta(days=election.window_days)
            if election.date < scenario.calendar.start:
                notes.append(Problem(source, f"agents.{name}.elections.{k}.date",
                                     f"the vote is before calendar.start ({scenario.calendar.start}), so its audience "
                                     "cost is gone before the calendar starts: it changes nothing",
                                     str(election.date), True))
            elif opens > latest:  # the vote's date and its window: the item, named by the file that wrote either
                notes.append(Problem(source, f"agents.{name}.elections.{k}",
                                     f"its audience cost starts {election.window_days} "
                                     f"day{'s' if election.window_days != 1 else ''} before the vote, {opens}, "
                                     f"after the latest summit date ({latest}): it changes nothing",
                                     str(election.date), True))
    return (notes + _unmet_conditions(scenario, source) + _unread_at_summit_given(scenario, source)
            + _unread_given(scenario, source, note=True) + _unread_ideals(scenario, source))


def _unmet_conditions(scenario: Scenario, source: str) -> list[Problem]:
    """A note for each level condition of the rubric that no anchor of its issue meets: a
    package's level on an issue is one of its anchors, so the condition never holds (anchors
    edited after the rubric, a level written between two anchors), and a class that rests on it
    reads as a forecast of 0 with nothing saying why. With the rubric's own slack
    (`sim.rubric`), so that the note and the classes agree."""
    from .rubric import _TOL
    from .schema.outcome import Level, condition_leaves

    notes = []
    for cls in ("breakthrough", "substantive"):
        for path, leaf in condition_leaves(getattr(scenario.outcome, cls), f"outcome.{cls}"):
            if not isinstance(leaf, Level):
                continue
            lo, hi = leaf.bounds()
            anchors = sorted(scenario.issues[leaf.issue].anchors.values())
            if any(lo - _TOL <= a <= hi + _TOL for a in anchors):
                continue
            rule = (f"is at least {lo:g}" if leaf.at_least is not None else f"is at most {hi:g}"
                    if leaf.at_most is not None else f"lies in [{lo:g}, {hi:g}]")
            shown = ", ".join(f"{a:g}" for a in anchors)
            notes.append(Problem(source, path, f"no anchor of {leaf.issue} ({shown}) {rule}, so no package meets "
                                               "this condition: it never holds"))
    return notes


def _unread_ideals(scenario: Scenario, source: str) -> list[Problem]:
    """A note for each effect of an event or incident that moves an agent's ideal in a scenario
    whose engine is eum: only convergence reads the ideal after the start (its pull back toward
    it); eum moves positions by its rounds from where the agents start, so the move changes no
    replicate (`sim.engines.expected_utility`)."""
    if scenario.dynamics.engine != "eum":
        return []
    why = _ideal_unread("this scenario's") + ", so it changes nothing"
    named = [(f"events.{k}", _named(e), e.effects) for k, e in enumerate(scenario.events)]
    named += [(f"incidents.{k}", _named(i), i.effects) for k, i in enumerate(scenario.incidents)]
    return [Problem(source, f"{path}.effects.{j}", f"{_moves_ideal(name, effect)}, {why}")
            for path, name, effects in named for j, effect in enumerate(effects) if effect.target == "ideal"]


DERIVATION_KEYS = ("extends", "set", "remove_events", "include")
"""Keys of a derived scenario file, resolved before validation (`derive_scenario_data`)."""


def derive_scenario_data(data: dict, source: str, _seen: tuple[Path, ...] = (),
                         _roots: tuple[Path, ...] = (), _origins: list | None = None,
                         _deferred: list | None = None) -> dict:
    """Resolve a derived scenario: `extends: PATH` (relative to `source`'s directory)
    loads a base file, whose top-level keys this file's other keys replace; then
    `remove_events: [name, ...]` drops events by name, `include: [FILE, ...]`
    applies files of dotted paths to values (`_apply_includes`), and `set:
    {dotted.path: value}` changes fields as `--set` does. Data without these keys is returned as
    it is. Problems name `source`; a chain of `extends` that loops is an error, and so is
    a file outside the scenario's tree (the folder above `source`'s folder, and the
    folders of `scenario_roots`), which is not read. `_origins`, if given, receives which file
    wrote which field: (keys, file) in the order they were applied (`_at_origin`). `_deferred`, if
    given, receives the problems that need not stop the derivation (a `remove_events` name that
    is no event: the others are removed), so that the caller reports them with the problems
    found after them; without it they are raised at the end.
    """
    if _deferred is None:
        deferred: list[Problem] = []
        try:
            data = derive_scenario_data(data, source, _seen, _roots, _origins, deferred)
        except InputError as exc:
            raise InputError([*deferred, *exc.problems]) from None
        if deferred:
            raise InputError(deferred)
        return data
    origins = [] if _origins is None else _origins
    if not any(key in data for key in DERIVATION_KEYS):
        origins += [((str(key),), source) for key in data]
        return data
    data = dict(data)
    extends, sets, removes, includes = (data.pop(key, None) for key in DERIVATION_KEYS)
    here = Path(source)
    seen = _seen or ((here.resolve(),) if here.is_file() else ())
    roots = _roots or (here.resolve().parent.parent, *_EXTRA_ROOTS.get())
    own = [str(key) for key in data]
    if extends is not None:
        data = {**_load_base(extends, source, seen, roots, origins, _deferred), **data}
        # this file's keys replace the base's whole: what the base wrote under them no longer holds
        origins[:] = [(keys, file) for keys, file in origins if keys[0] not in own]
    origins += [((key,), source) for key in own]
    if removes is not None:
        data = _remove_events(data, removes, source, _deferred)
        # the events after a removed one move up: paths to events by index no longer hold
        origins[:] = [(keys, file) for keys, file in origins if keys[0] != "events" or len(keys) == 1]
    if includes is not None:
        data = _apply_includes(data, includes, source, roots, origins)
    if sets is not None:
        if not isinstance(sets, dict) or not all(isinstance(k, str) for k in sets):
            raise InputError(Problem(source, "set", "must be a mapping of dotted paths to values, "
                                     f"e.g. {{{_example_path(data)}: 0.8}}", sets, True))
        _check_dotted_paths(data, sets, source, "set.", "")
        try:
            data = apply_overrides(data, sets, source)
        except InputError as exc:
            raise InputError([Problem(source, f"set.{p.path}", "no such field in the scenario"
                                      + (" it extends" if extends is not None else "") + _known_names(p),
                                      p.value, p.has_value) for p in exc.problems]) from None
        origins += [(_keys(data, dotted), source) for dotted in sets]
    return data


def _resolve_inside(name: str, source: str, where: str, roots: tuple[Path, ...]) -> Path:
    """The file `name` (relative to `source`'s folder) names, if it is a YAML file
    inside one of `roots`; else an `InputError` (and the file is not read)."""
    path = Path(source).parent / name
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError, ValueError) as exc:
        raise InputError(Problem(source, where, f"cannot resolve the path ({exc})", name, True)) from None
    if resolved.suffix.lower() not in YAML_SUFFIXES:
        raise InputError(Problem(source, where, "must name a YAML file (.yaml or .yml)", name, True))
    if not any(resolved.is_relative_to(root) for root in roots):
        raise InputError(Problem(source, where, f"must name a file inside {roots[0]} (the folder above this "
                                 "scenario's); name another folder with --scenario-root", name, True))
    return path


def _read_derived(path: Path, source: str, where: str, name: str) -> Any:
    """The YAML data of a file named by `extends` or `include`; a problem reading it is
    reported against `source`'s field, naming the file and the line."""
    try:
        return load_yaml(read_text_file(path), str(path))
    except InputError as exc:
        p = exc.problems[0]
        if p.message.startswith("cannot read file: "):
            message = f"cannot read {path}: {p.message.removeprefix('cannot read file: ')}"
        elif p.message.startswith("is "):
            message = f"{path} {p.message}"
        else:
            at = f" at {p.path}" if p.path else ""
            message = f"{path} is not valid YAML{at}: {p.message.removeprefix('invalid YAML: ')}"
        raise InputError(Problem(source, where, message, name, True)) from None


def _load_base(extends: Any, source: str, seen: tuple[Path, ...], roots: tuple[Path, ...],
               origins: list, deferred: list) -> dict:
    """The plain data of the file `extends` names, itself derived if it extends another."""
    if not isinstance(extends, str) or not extends.strip():
        raise InputError(Problem(source, "extends", "must be the path of a scenario file, "
                                 "relative to this file", extends, True))
    path = _resolve_inside(extends, source, "extends", roots)
    key = path.resolve()
    if key in seen:
        chain = " -> ".join(str(p) for p in (*seen, key))
        raise InputError(Problem(source, "extends", f"makes a cycle: {chain}", extends, True))
    base = _read_derived(path, source, "extends", extends)
    if not isinstance(base, dict):
        raise InputError(Problem(source, "extends", f"{path} is not a YAML mapping of scenario keys",
                                 extends, True))
    unknown = [k for k in base if k not in Scenario.model_fields and k not in DERIVATION_KEYS]
    if unknown:
        shown = ", ".join(repr(str(k))[:40] for k in unknown[:3]) + (", ..." if len(unknown) > 3 else "")
        raise InputError(Problem(source, "extends", f"{path} is not a scenario file: unknown top-level "
                                 f"keys {shown}", extends, True))
    return derive_scenario_data(base, str(path), (*seen, key), roots, origins, deferred)


def _apply_includes(data: dict, includes: Any, source: str, roots: tuple[Path, ...], origins: list) -> dict:
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
        path = _resolve_inside(name, source, where, roots)
        values = _read_derived(path, source, where, name)
        if not isinstance(values, dict) or not all(isinstance(key, str) for key in values):
            raise InputError(Problem(source, where, f"{path} must be a mapping of dotted paths to values, "
                                     "e.g. {dynamics.noise: 0.02}", name, True))
        derivation = [key for key in DERIVATION_KEYS if key in values]
        if derivation:
            raise InputError(Problem(source, where, f"{path} is a scenario file (it has `{derivation[0]}:`), not a "
                                     "mapping of dotted paths to values; to build on a scenario, use extends", name,
                                     True))
        _check_dotted_paths(data, values, str(path), "", f" (included by {source})")
        try:
            data = apply_overrides(data, values, source)
        except InputError as exc:
            raise InputError([Problem(str(path), p.path, "no such field in the scenario that includes it "
                                      f"({source}){_known_names(p)}", p.value, p.has_value)
                              for p in exc.problems]) from None
        origins += [(_keys(data, dotted), str(path)) for dotted in values]
    return data


def _known_names(problem: Problem) -> str:
    """"; under agents: japan, russia", the names `apply_overrides`' problem lists where a path went astray."""
    _, sep, known = problem.message.partition("; under ")
    return f"; under {known}" if sep else ""


def _check_dotted_paths(data: dict, values: dict, source: str, prefix: str, context: str) -> None:
    """The rules of `--set` for a file's own mapping of dotted paths to values (a `set:` block, an
    included file): each path starts at a field of a scenario, and no two of them set one field,
    or a field and a part of it (`check_overlaps`). Problems name `source` and the path, with
    `prefix` (`set.`) and `context` (which file includes it)."""
    problems = [Problem(source, prefix + dotted, f"is not a field: write `{dotted}:` as a top-level key of a "
                        "scenario file" + context) if dotted in DERIVATION_KEYS else
                Problem(source, prefix + dotted, "no such field in a scenario; its fields are "
                        + ", ".join(Scenario.model_fields) + context)
                for dotted in values if dotted.split(".")[0] not in Scenario.model_fields]
    try:
        check_overlaps(data, values, source, prefix)
    except InputError as exc:
        problems += [Problem(p.source, p.path, p.message + context) for p in exc.problems]
    if problems:
        raise InputError(problems)


def _remove_events(data: dict, removes: Any, source: str, deferred: list) -> dict:
    """`data` without the events `removes` names; a name that is no event goes to `deferred`
    (the rest of the file is still checked, so that its problems are reported together)."""
    events = data.get("events") or []
    if not isinstance(removes, list) or not all(isinstance(name, str) for name in removes):
        raise InputError(Problem(source, "remove_events", "must be a list of event names", removes, True))
    if not isinstance(events, list):
        return data  # the schema reports a malformed `events`
    known = [e.get("name") for e in events if isinstance(e, dict)]
    deferred += [Problem(source, f"remove_events.{k}",
                         f"no such event; known: {', '.join(map(str, known)) or 'none'}", name, True)
                 for k, name in enumerate(removes) if name not in known]
    return {**data, "events": [e for e in events if not (isinstance(e, dict) and e.get("name") in removes)]}


def scenario_hash(scenario: Scenario) -> str:
    """SHA-256 (hex) of the validated scenario's canonical JSON: comments, the order of a
    block's fields (`name:` before or after `agents:`, `resolve:` before or after `issues:`),
    `observed` and `monte_carlo.chunk_size` do not count. The order in which agents, issues,
    anchors and list items are written does, although it changes no number: two `Scenario`s
    equal by `==` (dicts compare without order) can hash differently. The library's entry: a
    path, YAML text or a dict is an `InputError` saying how to make a `Scenario` (inside sim,
    `sim.schema.scenario_hash` trusts its argument)."""
    if not isinstance(scenario, Scenario):
        raise InputError(Problem("scenario", "", "must be a Scenario: sim.load_scenario(path) reads a file, "
                                 "sim.parse_scenario(text) YAML text", scenario, True))
    return _scenario_hash(scenario)


def _as_yaml(data: Mapping[str, Any], source: str) -> str:
    """Plain data as the text of a file holding it; a value no file could hold (an object, a set,
    a dict holding itself) is an `InputError` naming it."""
    import yaml

    try:
        return dump_yaml(plain_values(dict(data)))
    except RecursionError:
        raise InputError(Problem(source, "", "holds itself (a dict or list inside itself): a file cannot")) from None
    except yaml.YAMLError as exc:
        value = exc.args[-1] if exc.args else None
        kind = type(value).__name__
        raise InputError(Problem(source, "", f"holds a value of type {kind}, which no scenario file can",
                                 value, True)) from None


def dump_scenario(scenario: Scenario) -> str:
    """The scenario as YAML that `parse_scenario` reads back to an equal object (any text
    included: a title `1e6` is quoted, as `parse_scenario` reads YAML 1.2's numbers): the fields its
    files set, not the defaults (a default written out reads as a choice, and a field whose
    meaning changed would warn when it is read back)."""
    if not isinstance(scenario, Scenario):
        raise InputError(Problem("scenario", "", "must be a Scenario (sim.load_scenario(path) reads one)",
                                 scenario, True))
    data = scenario.model_dump(mode="json", exclude_unset=True)
    return dump_yaml(data)  # not yaml.safe_dump: its YAML 1.1 writes the text 1e6 plain, which reads as a number
