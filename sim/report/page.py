"""What the page shows, as plain data for the template: the question and the answer of each
run, its fan chart and assumptions, and the reproduction block of every directory.

The views of what moved the answer and of past performance are in
`sim.report.analyses`. Numbers are formatted here, once; each headline number
also keeps its exact value (`value`) for the page's `data-value` attribute, so
that a test can read it back from the DOM.
"""

from __future__ import annotations

import os
import shlex
from collections import Counter
from pathlib import Path
from typing import Any

from ..model import CLASSES
from ..ownership import seen_from
from ..plots import CLASS_LABELS
from ..reporting import as_written_missing, fmt_estimate, fmt_p, forecast_partial, left_out_phrase, spread_noise
from .collect import Input, Result
from .comments import Row, format_value
from .used import NotUsed, not_used_rows

__all__ = ["assumptions_view", "calibration_file", "count", "deal_class", "interval", "reproduction_view", "run_view",
           "shared_views", "shown_source", "versions"]

GROUP_LABELS = {**CLASS_LABELS, "substantive_or_better": "Substantive or better"}
HEADLINE = ("substantive_or_better", "talk_fest", "collapse")
SECTION_TITLES = {"agents": "Agents", "issues": "Issues", "events": "Events", "incidents": "Incidents",
                  "relations": "Relations", "summit": "The summit", "outcome": "How outcomes are classed",
                  "calendar": "Calendar", "dynamics": "Dynamics", "monte_carlo": "Monte Carlo", "roles": "Roles",
                  "set": "Values set by this case", "observed": "What was observed"}


def interval(e: dict | None, signed: bool = False) -> str:
    """`[low, high]` of an estimate, three places (four and signed for differences)."""
    if e is None or e.get("low") is None:
        return "n/a"
    f = (lambda v: "0" if v == 0 else f"{v:+.4f}") if signed else fmt_p
    return f"[{f(e['low'])}, {f(e['high'])}]"


def count(n: int | None) -> str:
    """A count of replicates with thousands separators ("" for none), formatted here where it is
    read (a malformed summary fails on the field that is wrong, not later in the template)."""
    return "" if n is None else f"{n:,}"


# --- A run ------------------------------------------------------------------------------------


def _spread_texts(spreads: dict[str, dict]) -> dict[str, str]:
    """Each class's knobs' range as an interval, saying so where it is within Monte Carlo noise."""
    noise = spread_noise(spreads)
    return {name: interval(spread) + (f" (within Monte Carlo noise: {noise[name]})" if noise[name] else "")
            for name, spread in spreads.items()}


def run_view(result: Result, index: int) -> dict[str, Any]:
    """The answer of one run: headline, class table, deals, fan chart, events."""
    from .figures import fan_chart, outcome_bars

    s = result.summary
    spread = (s.get("calibration") or {}).get("parameter_spread") or None
    spread_text = _spread_texts(spread) if spread else {}
    headline = []
    for name in HEADLINE:
        e = s["headline"][name]
        item = {"name": name, "label": GROUP_LABELS[name], "p": e["p"], "low": e["low"], "high": e["high"],
                "text": fmt_p(e["p"]), "low_text": fmt_p(e["low"]), "high_text": fmt_p(e["high"]),
                "interval": interval(e), "spread": None}
        if spread:
            item["spread"] = {"low": spread[name]["low"], "high": spread[name]["high"],
                              "text": spread_text[name]}
        headline.append(item)
    classes = [{"name": c, "label": CLASS_LABELS[c], "p": s["classes"][c]["p"], "text": fmt_p(s["classes"][c]["p"]),
                "interval": interval(s["classes"][c]), "count": count(s["classes"][c].get("count")),
                "spread": spread_text.get(c),
                "raw": _raw(s, "classes", c)} for c in CLASSES]
    fan = None
    if result.trajectory:
        fan = fan_chart(result.trajectory, s.get("parties", []), s.get("events", []), result.summit_days,
                        s.get("issues"))
    return {
        "id": f"run{index}", "index": index, "name": result.name, "path": str(result.path), "summary": s,
        "title": result.title or s.get("scenario"), "source": result.source, "headline": headline,
        "classes": classes, "calibration": _calibration_note(s.get("calibration")), "outcomes": outcome_bars(s),
        "as_written": _raw(s, "headline", "substantive_or_better"),
        "as_written_runs": count((s.get("as_written") or {}).get("runs")),
        "deals": _deals(s), "fan": fan, "events": _events(s), "summit": _summit(result),
        "notes": result.notes, "stopped": _stopped(s),
    }


def _raw(s: dict, group: str, name: str) -> str | None:
    """The model as written (a calibrated run's raw model), "0.483 [0.480, 0.486]"; None without."""
    raw = s.get("as_written")
    if not raw:
        return None
    e = raw[group][name]
    return fmt_estimate(e["p"], e["low"], e["high"])


def _calibration_note(cal: dict | None) -> dict | None:
    if not cal:
        return None
    left = left_out_phrase(cal)
    knobs = [{"name": k, "mean": f"{v['mean']:.3g}", "interval": f"[{v['q025']:.3g}, {v['q975']:.3g}]"}
             for k, v in (cal.get("knobs") or {}).items()]
    return {"file": cal.get("file"), "posterior": f"{cal.get('posterior', '')}{left}", "draws": cal.get("draws"),
            "knobs": knobs}


def deal_class(deal: dict) -> str:
    """A deal's class as its replicates were classed (summary.json's `classes`: replicates per
    class), each class with its share where they differ; a summary older than `classes` gives
    `class` alone (then the package's class were every party to sign)."""
    classes = sorted((deal.get("classes") or {}).items(), key=lambda kv: -kv[1])  # most first, then as read
    if not classes:
        return CLASS_LABELS.get(deal["class"], deal["class"])
    if len(classes) == 1:
        return CLASS_LABELS.get(classes[0][0], classes[0][0])
    total = sum(n for _, n in classes)
    parts = [f"{CLASS_LABELS.get(c, c)} ({fmt_p(n / total)})" for c, n in classes]
    return ", ".join(parts[:1] + [part[0].lower() + part[1:] for part in parts[1:]])


def _deals(s: dict) -> list[dict]:
    issues = s.get("issues", [])
    out = []
    for d in s.get("deals", []):
        names = d["package"].split("/")
        named = len(names) == len(issues)
        levels = [f"{issue}: {names[k] + ' ' if named else ''}({d['levels'][issue]:g})"
                  for k, issue in enumerate(issues) if issue in d["levels"]]
        out.append({"package": d["package"], "class": deal_class(d),
                    "levels": "; ".join(levels), "p": fmt_p(d["p"]), "interval": interval(d)})
    return out


def _events(s: dict) -> list[dict]:
    return [{"number": k, "name": ev["name"], "date": ev.get("date") or f"day {ev.get('day')}"}
            for k, ev in enumerate(s.get("events", []), 1)]


def _summit(result: Result) -> str | None:
    import datetime as dt

    days, rows = result.summit_days, result.trajectory
    if not days or not rows:
        return None
    start = min(dt.date.fromisoformat(r["date"]) for r in rows if r["day"] == 0)
    lo, mid, hi = (start + dt.timedelta(days=d) for d in days)
    # every replicate's drawn day, a collapse's too: the meeting's date, or the one it was called off from
    if lo == hi:  # a fixed date: "between 2018-06-12 and 2018-06-12" read as a mistake
        return f"the summit was due on {lo} in at least 90 % of the replicates, whether it met or was called off"
    return (f"the summit was due between {lo} and {hi} in 90 % of the replicates (median {mid}), whether it met or "
            "was called off")


def _stopped(s: dict) -> str | None:
    parts = []
    partial = forecast_partial(s)  # `interrupted` alone may be the model as written's pass only
    if partial:
        parts.append(f"interrupted: {s['runs']:,} of {s.get('requested_runs', 0):,} replicates finished")
    elif s.get("stopped_early"):
        parts.append(f"stopped early at precision {s.get('precision')} after {s['runs']:,} replicates")
    if as_written_missing(s):
        parts.append(("" if partial else "interrupted: ") + "the model as written was not run to the end")
    return "; ".join(parts) or None


# --- Assumptions ----------------------------------------------------------------------------


MARKS_NAMED = 3
"""The source marks the count of cited values gives as examples, the scenario's most used first."""


def assumptions_view(result: Result) -> dict[str, Any]:
    """Every value of every scenario file the run read, with the comment written beside it; where
    the run wrote `inputs/resolved.yaml`, a value it did not use (a derived scenario removed or
    replaced it) is marked so, and not counted."""
    overrides = _overrides(result.summary.get("overrides"))
    resolved = result.resolved[0].parsed.data if result.resolved and result.resolved[0].parsed is not None else None
    unused = not_used_rows(result.inputs, resolved, overrides)
    bases = _base_events(result.inputs)
    files = [_file_view(item, overrides, unused, bases.get(item.file, {})) for item in result.inputs]
    total, marks = Counter(), Counter()
    for f in files:
        total.update(f["counts"])
        marks.update(f["marks"])
    return {"files": files, "counts": dict(total), "marks": [tag for tag, _ in marks.most_common(MARKS_NAMED)],
            "more_marks": len(marks) > MARKS_NAMED, "overrides": overrides, "notes": result.notes}


def shown_source(source: str, result: Result, folder: str | Path | None = None) -> str:
    """Where a scenario file a run read is, as the page names it: from the page's `folder`
    (None: the current one), as its directories and commands are (`seen_from`). A relative
    `source` starts where the run's command ran, and is left as written where that is not known."""
    if not source:
        return source
    if not os.path.isabs(source):
        if result.made_in is None:
            return source
        source = _read_from(source, result)
    return seen_from(source, Path(os.path.abspath(folder if folder is not None else os.curdir)))


def _read_from(source: str, result: Result) -> str:
    """Where the run read a scenario file `source`: a relative one (as a summary names it, from
    the folder the command ran in) joined to that folder where the manifest says which."""
    if os.path.isabs(source) or result.made_in is None:
        return source
    return os.path.normpath(os.path.join(result.made_in, source))


def _overrides(value: Any) -> dict[str, str]:
    """`--set` overrides as {path: value text}, whichever form the summary keeps them in."""
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    if isinstance(value, list):
        return dict(str(t).partition("=")[::2] for t in value)
    return {}


def _base_events(inputs: list[Input]) -> dict[str, dict[str, str]]:
    """{input file: {event name: the file name that writes it}} of the events each scenario
    file's bases hold (the nearest base that writes an event of that name), for the events
    its `remove_events:` removes."""
    chain = [i for i in inputs if i.role in ("scenario", "extends")]  # the scenario, then each base deeper
    out: dict[str, dict[str, str]] = {}
    for k, item in enumerate(chain):
        names: dict[str, str] = {}
        for base in chain[k + 1:]:
            data = base.parsed.data if base.parsed is not None else None
            events = data.get("events") if isinstance(data, dict) else None
            for event in events if isinstance(events, list) else []:
                name = event.get("name") if isinstance(event, dict) else None
                if isinstance(name, str):
                    names.setdefault(name, Path(base.source).name or base.file)
        out[item.file] = names
    return out


def _file_view(item: Input, overrides: dict[str, str], unused: dict[tuple[str, str], NotUsed],
               written: dict[str, str] | None = None) -> dict[str, Any]:
    view: dict[str, Any] = {"file": item.file, "source": item.source, "role": item.role, "sections": [],
                            "preamble": [], "loose": [], "counts": Counter(), "marks": Counter(), "error": None,
                            "shared": None, "replaced": []}  # set by `shared_views`
    if item.parsed is None:
        view["error"] = "the copy is missing from inputs/"
        return view
    parsed = item.parsed
    view["error"] = parsed.error and f"ruamel.yaml could not read it: {parsed.error}"
    view["preamble"], view["loose"] = list(parsed.preamble), parsed.loose
    sections: dict[str, dict] = {}
    current = None
    # an event's (or an election's) date is what its `source:` sentence reports: cited there
    sourced = {f"{row.path.rsplit('.', 1)[0]}.date" for row in parsed.rows if row.key == "source" and row.value}
    for row in parsed.rows:
        top = row.path.split(".", 1)[0]
        if row.depth == 0:
            key = top if row.value is None or top in SECTION_TITLES else ""
            if key not in sections:
                title = SECTION_TITLES.get(key, key.replace("_", " ").capitalize()) if key else "About the scenario"
                sections[key] = {"key": key or "about", "title": title, "rows": [], "comment": None, "after": []}
                view["sections"].append(sections[key])
            current = sections[key]
            if row.value is None:
                current["comment"] = row.comment
                current["after"] = list(row.comment.below)
                continue
        if top == "remove_events" and item.role != "include":
            if row.depth == 0:  # an edit of the base, not a value: shown as what it removes, not counted
                entry = _edit_view(_row_view(row, overrides, current["key"]), row, written or {})
                current["rows"].append(entry)
                view["counts"]["edits"] += len(entry["removes"])
            continue
        entry = _row_view(row, overrides, current["key"], unused.get((item.file, row.path)), row.path in sourced)
        current["rows"].append(entry)
        if row.counted and entry["unused"] is not None:
            view["counts"]["unused"] += 1
        elif row.counted:
            if entry["kind"] == "cited" and row.tags:  # not "its source", a date's `source:` sentence
                view["marks"].update(row.tags)
            view["counts"][entry["kind"]] += 1
            view["counts"]["values"] += 1
            view["counts"]["distributions"] += row.distribution
    return view


def _row_view(row: Row, overrides: dict[str, str], section: str, unused: NotUsed | None = None,
              sourced: bool = False) -> dict[str, Any]:
    """One row of a file's view; `sourced`: its value is cited by a `source:` sentence beside it."""
    tags = row.tags
    if not row.counted:
        kind = "text" if row.value is not None else "group"
    elif row.judgment:
        kind = "judgment"
    elif tags:
        kind = "cited"
    elif row.comment.beside:
        kind = "comment"
    elif sourced:
        kind, tags = "cited", ["its source"]
    else:
        kind = "none"
    inner = row.path.partition(".")[2] if row.path.startswith(section + ".") else row.path
    return {"path": row.path, "field": inner, "label": row.label or row.key, "key": row.key,
            "depth": row.depth, "value": row.value, "comment": row.comment, "tags": tags, "kind": kind,
            "distribution": row.distribution, "override": overrides.get(row.path),
            "unused": None if unused is None else {"text": unused.text, "tag": f"not used: {unused.text}",
                                                   "shown": unused.shown, "struck": True, "cause": unused.cause}}


def shared_views(runs: list[Result], views: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The base (or included) files that several runs of the page read alike (the same source,
    the same text: the history cases' `_base.yaml`), each listed once: its rows marked where some
    or all of those runs did not use them. Each run's view of such a file (in `views`, the
    `assumptions_view` of `runs` with their `name`) then says where it is listed (`shared`) and
    which of its values the run replaced (`replaced`); the run's counts are unchanged."""
    groups: dict[tuple[str, str], list[tuple[int, dict[str, Any]]]] = {}
    for k, (result, view) in enumerate(zip(runs, views)):
        for item, file in zip(result.inputs, view["files"]):
            if item.role in ("extends", "include") and item.parsed is not None and item.digest and file["sections"]:
                # one file named from two folders (`base.yaml`, `scenarios/base.yaml`) is one file
                groups.setdefault((_read_from(item.source, result), item.digest), []).append((k, file))
    out: list[dict[str, Any]] = []
    for (source, _), members in groups.items():
        if len({k for k, _ in members}) < 2:
            continue
        sid = f"shared{len(out)}"
        names = [views[k]["name"] for k, _ in members]
        own = [_own_file(runs[k]) for k, _ in members]
        first = members[0][1]
        sections = []
        for s, section in enumerate(first["sections"]):
            rows = []
            for r, row in enumerate(section["rows"]):
                marks = [m["sections"][s]["rows"][r]["unused"] for _, m in members]
                rows.append({**row, "override": None, "unused": _merged_unused(marks, names, own)})
            sections.append({**section, "rows": rows})
        for _, file in members:
            file["shared"] = {"id": sid, "runs": len(members)}
            file["replaced"] = [{"path": row["path"], "label": row["path"], "text": row["unused"]["text"]}
                                for section in file["sections"] for row in section["rows"]
                                if row["unused"] is not None and row["unused"]["shown"]]
        out.append({"id": sid, "name": Path(source).name or first["file"], "source": first.get("shown") or source,
                    "runs": [{"name": name, "id": f"assumptions{k}"} for name, (k, _) in zip(names, members)],
                    "file": {**first, "sections": sections, "shared": None, "replaced": []}})
    return out


def _own_file(result: Result) -> str:
    """The name of a run's scenario file (the one given to `run`)."""
    item = next((i for i in result.inputs if i.role == "scenario"), None)
    return Path(item.source).name if item is not None and item.source else ""


def _merged_unused(marks: list[dict | None], names: list[str], own: list[str]) -> dict[str, Any] | None:
    """One mark for a shared file's row from each run's (None where the run used it): struck
    through where no run used it, else saying which runs did not; a cause that names the run's
    own file is said once for all ("replaced by agents: in each run's own file")."""
    missed = [(name, _general(mark["cause"], file)) for mark, name, file in zip(marks, names, own) if mark]
    if not missed:
        return None
    n = len(marks)
    struck = len(missed) == n
    by_cause: dict[str, list[str]] = {}
    for name, cause in missed:
        by_cause.setdefault(cause or "not in the scenario the run used", []).append(name)
    head = f"not used by any of the {n} runs" if struck else f"not used by {len(missed)} of the {n} runs"
    if struck and len(by_cause) == 1:  # one reason for every run: said once
        why = next(iter(by_cause)).replace(_OWN, "each run's own file")
    else:
        why = "; ".join(f"{cause} ({', '.join(who)})" for cause, who in by_cause.items())
    return {"text": f"{head}: {why}", "tag": f"{head}: {why}", "struck": struck, "cause": why,
            "shown": any(mark["shown"] for mark in marks if mark)}


_OWN = "its own file"


def _general(cause: str, own: str) -> str:
    """A cause naming the run's own file `own`, said of any run ("replaced by agents: in its own file")."""
    suffix = f" in {own}"
    return f"{cause[: -len(suffix)]} in {_OWN}" if own and cause.endswith(suffix) else cause


def _edit_view(entry: dict[str, Any], row: Row, written: dict[str, str]) -> dict[str, Any]:
    """A `remove_events:` row: each event it removes, with the base's file that writes it."""
    names = row.raw if isinstance(row.raw, list) else [row.raw]
    removes = [{"event": format_value(name), "written": written.get(name) if isinstance(name, str) else None}
               for name in names]
    return {**entry, "kind": "edit", "removes": removes}


# --- Reproduction -----------------------------------------------------------------------------


def reproduction_view(result: Result, folder: str | Path | None = None) -> dict[str, Any]:
    """How to make this directory again, and what identifies it. The command's relative paths
    are as typed, from the folder it ran in; a reader pastes it where the page is, so `cd`
    is the line that goes from the page's `folder` (None: the current one) to that folder ("":
    none needed; None: the result does not say where it ran). The directory is named from
    the page's folder too, not from wherever `sim report` ran."""
    folder = Path(os.path.abspath(folder if folder is not None else os.curdir))
    cd = None if result.made_in is None else seen_from(result.made_in, folder)
    s, m = result.summary, result.manifest or {}
    hashes = [s.get("scenario_hash")] if s.get("scenario_hash") else []
    if result.kind == "compare":
        hashes = [s.get("a", {}).get("hash"), s.get("b", {}).get("hash")]
    # A calibration's seed is in its calibration block; a backtest's `calibration` is the
    # posterior's file name (a string), which has no seed to read.
    seed = s.get("seed_entropy")
    if seed is None and result.kind == "calibrate":
        seed = (s.get("calibration") or {}).get("seed_entropy")
    # What the command printed about its inputs when it made the directory (none before sim kept them).
    notes = s.get("notes")
    notes = [n for n in notes if isinstance(n, str)] if isinstance(notes, list) else []
    return {"kind": result.kind, "name": result.name, "path": seen_from(result.path, folder),
            "cd": None if cd is None else "" if cd == "." else f"cd {shlex.quote(cd)}", "command": command_of(result),
            "seed": seed, "hashes": [h for h in hashes if h], "version": s.get("sim_version", m.get("version")),
            "engine": s.get("engine"), "created": s.get("created", m.get("created")), "run_id": m.get("run_id"),
            "notes": notes}


def command_of(result: Result) -> str:
    """The command line that makes the same result (rebuilt from the summary: sim keeps no argv)."""
    s, kind = result.summary, result.kind
    q = shlex.quote
    seed = f" --seed {s['seed_entropy']}" if s.get("seed_entropy") is not None else ""
    sets = "".join(f" --set {q(f'{k}={v}')}" for k, v in _overrides(s.get("overrides")).items())
    posterior = calibration_file(result)
    cal = f" --calibration {q(posterior)}" if posterior else ""
    if kind == "run":
        return f"python -m sim run {q(str(s.get('scenario_file')))}{sets} --runs {s['runs']}{seed}{cal}"
    if kind == "explain":
        sh = s.get("shapley")
        extra = f" --shapley --shapley-runs {sh['runs']}" if sh else ""
        return f"python -m sim explain {q(str(s.get('scenario_file')))}{sets} --runs {s['runs']}{seed}{extra}{cal}"
    if kind == "compare":
        o = s.get("overrides") or {}
        sets = "".join(f" {flag} {q(t)}" for key, flag in (("both", "--set"), ("a", "--set-a"), ("b", "--set-b"))
                       for t in o.get(key, []))
        return (f"python -m sim compare {q(str(s['a'].get('file')))} {q(str(s['b'].get('file')))}{sets} "
                f"--runs {s['runs']}{seed}{cal}")
    if kind == "sweep":
        vary = "".join(f" --vary {q(_vary(f))}" for f in s.get("factors", []))
        points = f" --points {s['points']}" if s.get("points") else ""
        renorm = " --renormalise" if s.get("renormalise") else ""
        return (f"python -m sim sweep {q(str(s.get('scenario_file')))}{sets}{vary} --design {s.get('design')}"
                f"{points} --runs {s.get('runs')}{seed}{renorm}")
    if kind == "backtest":
        cal = s.get("calibration")
        cal = f" --calibration {q(cal)}" if isinstance(cal, str) else ""
        meet = f" --meetings {q(s['meetings'])}" if s.get("meetings") else ""
        return f"python -m sim backtest {q(str(s.get('directory')))}{sets}{meet}{cal}{_shared(s.get('cases', []))}"
    meet = f" --meetings {q(s['meetings'])}" if s.get("meetings") else ""
    return f"python -m sim calibrate {q(str(s.get('directory')))} --knobs {q(str(s.get('knobs_file')))}{sets}{meet}"


def calibration_file(result: Result) -> str | None:
    """The `--calibration` posterior a run, explain or compare was made with (None without one):
    a compare keeps a note per side, both from the same file."""
    cal = result.summary.get("calibration") if result.kind in ("run", "explain", "compare") else None
    if result.kind == "compare" and isinstance(cal, dict):
        cal = cal.get("a")
    return cal.get("file") if isinstance(cal, dict) and cal.get("file") else None


def _shared(cases: list[dict]) -> str:
    """`--runs N --seed S` where every case of a backtest ran with the same (as those options make them)."""
    out = ""
    for option, key in (("--runs", "runs"), ("--seed", "seed_entropy")):
        values = {c.get(key) for c in cases}
        if len(values) == 1 and None not in values:
            out += f" {option} {values.pop()}"
    return out


def _vary(factor: dict) -> str:
    levels = f":{factor['levels']}" if factor.get("levels") else ""
    return f"{factor['path']}={_exact(factor['low'])}:{_exact(factor['high'])}{levels}"


def _exact(value: float) -> str:
    """A number as the shortest text that reads back as it (`:g` kept six digits: 0.0123457 for
    0.0123456789, another sweep), a whole number without its `.0`."""
    value = float(value)
    return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)


def versions() -> dict[str, str]:
    """The versions of Python and the packages that made this page."""
    import platform
    from importlib import metadata

    from .. import __version__

    out = {"python": platform.python_version(), "sim": __version__}
    for name in ("numpy", "scipy", "numba", "pyarrow", "matplotlib", "jinja2", "ruamel.yaml"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out

