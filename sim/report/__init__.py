"""`sim report`: one self-contained HTML page from result directories already on disk.

    from sim.report import make_report
    page = make_report(["results/baseline/<run-id>", "results/explain/<run-id>"], "baseline.html")

The page holds the question and the answer with its intervals, the fan chart
with the events marked, the assumptions with the comments written beside them
in the scenario files, what moved the answer (explain, compare, sweep), how
good such forecasts have been (backtest, calibrate) and how to reproduce each
result. It needs no network when opened: the styles are inline, the figures
are SVG in `data:` URIs, it has no script, and its Content-Security-Policy
forbids loading anything. The page is rendered with Jinja2
(`templates/report.html.j2`) from the views of `sim.report.page` and
`sim.report.analyses`; nothing is rerun.

A page written outside a result directory starts with an HTML comment holding
sim's manifest (`sim.ownership.write_owned_text`), so `sim report` rewrites its
own page and never a file it did not make. `run --report` writes the page into
the run's directory before it is put in place (`report_on_commit`), so the
directory's manifest lists it.
"""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

from ..errors import InputError, Problem, hold_interrupts
from .collect import KINDS, Result, collect, read_result
from .trail import malformed_fields

__all__ = ["COMMAND", "REPORT_NAME", "make_report", "render_report", "write_run_page"]

COMMAND = "report"
REPORT_NAME = "report.html"
"""The page's name inside a run's directory (`run --report`)."""


def render_report(results: list[Result], made: str | None = None, folder: str | Path | None = None) -> str:
    """The page of `results` (from `collect`) as HTML text, to be kept in `folder` (None: the
    current one), which its reproduction commands and directories are named from."""
    import jinja2

    from ..io import utc_now
    from .page import versions

    env = jinja2.Environment(loader=jinja2.PackageLoader("sim.report", "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=False, lstrip_blocks=False)
    context = _context(results, folder)
    return env.get_template("report.html.j2").render(**context, made=made or utc_now(), versions=versions())


def _context(results: list[Result], folder: str | Path | None = None) -> dict[str, Any]:
    from .analyses import (
        backtest_view,
        calibration_view,
        comparison_view,
        explanation_view,
        sweep_view,
    )
    from .page import assumptions_view, command_of, reproduction_view, run_view, shared_views, shown_source

    def views(make, kind: str) -> list[dict[str, Any]]:
        """The views of the directories of `kind`, each with the command that made it: every
        figure names it."""
        out = []
        for k, r in enumerate(of[kind]):
            view = make(r, k)
            view["command"] = command_of(r)
            if isinstance(view.get("scores"), dict):  # a calibration's scores are drawn like a backtest's
                view["scores"]["command"] = view["command"]
            out.append(view)
        return out

    of = {kind: [r for r in results if r.kind == kind] for kind in KINDS}
    runs = views(run_view, "run")
    assumptions = [{"name": r.name, **assumptions_view(r)} for r in of["run"]]
    for run, view in zip(of["run"], assumptions):
        for file in view["files"]:
            file["shown"] = shown_source(file["source"], run, folder)
    shared = shared_views(of["run"], assumptions)  # a base several runs read alike: listed once
    explains = views(explanation_view, "explain")
    compares = views(comparison_view, "compare")
    sweeps = views(sweep_view, "sweep")
    backtests = views(backtest_view, "backtest")
    calibrations = views(calibration_view, "calibrate")
    first = of["run"][0] if of["run"] else None
    scenario = next((r.summary.get("scenario") for r in results if r.summary.get("scenario")), None)
    question = first.title if first is not None else None
    toc = [(run["id"], "The answer" + (f": {run['name']}" if len(runs) > 1 else "")) for run in runs] or \
        [("answer", "The answer")]
    if explains or compares or sweeps:
        toc.append(("moved", "What moved the answer"))
    if backtests or calibrations:
        toc.append(("record", "How good such forecasts have been"))
    toc += [(f"assumptions{k}", "Assumptions" + (f": {a['name']}" if len(assumptions) > 1 else ""))
            for k, a in enumerate(assumptions)]
    toc += [(s["id"], f"Assumptions shared by {len(s['runs'])} runs: {s['name']}") for s in shared]
    toc.append(("reproduction", "Reproduction"))
    return {"title": question or f"Forecast: {scenario or 'sim results'}", "question": question,
            "source": first.source if first is not None else None, "results": results, "runs": runs,
            "assumptions": assumptions, "shared": shared, "explains": explains, "compares": compares, "sweeps": sweeps,
            "backtests": backtests, "calibrations": calibrations, "toc": toc,
            # a posterior predictive forecast on the page: the analyses of the model as written say they are
            "calibrated_page": any(v.get("calibration") for v in runs) or any(v.get("posterior")
                                                                             for v in explains + compares),
            "reproduction": [reproduction_view(r, folder) for r in results]}


def make_report(dirs: list[str | Path], out: str | Path | None = None, *, force: bool = False,
                made: str | None = None) -> Path:
    """Write the page of result directories `dirs` to `out` (default: beside the first
    directory, `<DIR>.html`); return its path. `out` must be new or a page sim wrote
    (`force`: any file another sim command wrote), and not inside a result directory."""
    from ..locks import cannot_write, clean_stale, lock_target
    from ..ownership import check_file_target, make_parents, new_run_id, remove_made, write_owned_text

    if not dirs:
        raise InputError(Problem("sim report", "", "needs at least one result directory"))
    results = collect(dirs)
    target = Path(out) if out is not None else _default_out(Path(dirs[0]))
    check_file_target(target, COMMAND, force=force, label="--out")
    folders: list[Path] = []
    try:
        with hold_interrupts():  # a Ctrl-C raised as `make_parents` returned lost the list of the folders it made
            folders = make_parents(target)
        # Held from the check to the write: a second `sim report` to the same page is refused at
        # once, and a file that appeared while the page was rendered is not replaced.
        with lock_target(target, "--out", "a page"):
            clean_stale(target.parent, held=target)  # a page whose writer was killed left its temp file
            with malformed_fields():  # a hand-edited summary fails here, before anything is written
                html = render_report(results, made, target.parent)
            check_file_target(target, COMMAND, force=force, label="--out")
            # The manifest comment opens on the first line and closes on the second, before the doctype.
            write_owned_text(target, "-->\n" + html, COMMAND, new_run_id(), comment="<!--")
    except InputError:
        remove_made(folders)
        raise
    except OSError as exc:
        from ..errors import RunError

        remove_made(folders)
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR):  # a place sim may not write: input
            raise cannot_write("--out", target, exc, "a page") from None
        raise RunError(f"cannot write {target}: {exc.strerror or exc}") from None
    except BaseException:  # Ctrl-C: the page is absent, and so are the folders made for it
        remove_made(folders)
        raise
    return target


def _default_out(first: Path) -> Path:
    first = first.resolve()
    return first.parent / f"{first.name}.html"


def write_run_page(folder: Path, shown: str | Path | None = None) -> None:
    """Write `report.html` of the run whose files are in `folder` (a `ResultWriter`'s temp
    directory, just before it is put in place: so the page is listed in the run's manifest)
    naming the run `shown` (where it will be)."""
    result = read_result(folder, kind="run")
    result.path = Path(shown) if shown is not None else Path(folder)
    result.made_in = Path.cwd()  # the run is this process's: its manifest, which would say so, is not written yet
    (Path(folder) / REPORT_NAME).write_text(render_report([result], folder=result.path), encoding="utf-8")
