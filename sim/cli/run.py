"""`run` and `validate`: one scenario's forecast, and checking files without running them."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import InputError, Problem
from ..model import CLASSES
from ..reporting import (
    as_written_missing,
    compiling_note,
    forecast_partial,
    left_out_phrase,
    plural,
    scenario_label,
    spread_noise,
)
from .common import (
    CALIBRATION_OPTION,
    EXIT_INPUT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    LIMIT_OPTIONS,
    MONTE_CARLO_OPTIONS,
    OUTPUT_OPTIONS,
    SCENARIO_OPTIONS,
    SCENARIO_ROOT_OPTION,
    arg,
    calibration_setting,
    check_limits,
    check_monte_carlo_options,
    chunk_workers,
    command,
    fmt,
    load_one,
    parse_overrides,
    said,
    say,
    show_warnings,
    stop_on_interrupt,
)
from .progress import progress_bar


@command(
    "run", "run a scenario's replicates, print the outcome table and write the results",
    arg("scenario", type=Path, help="scenario YAML file"),
    *SCENARIO_OPTIONS, *MONTE_CARLO_OPTIONS, CALIBRATION_OPTION, *OUTPUT_OPTIONS, *LIMIT_OPTIONS,
    arg("--report", action="store_true", help="also write DIR/report.html, the page `sim report DIR` makes"),
)
def cmd_run(args: argparse.Namespace) -> int:
    from ..limits import estimate
    from ..model import compile_model
    from ..montecarlo import resolve_settings, run
    from ..ownership import check_target
    from ..randomness import BLOCK_SIZE
    from ..results import ResultWriter, default_out_dir, read_inputs

    overrides = parse_overrides(args.overrides)
    check_monte_carlo_options(args)
    scenario = load_one(args.scenario, overrides)
    inputs = read_inputs(args.scenario)  # now: a file edited during the run is recorded as it was read
    knobs, note = calibration_setting(args, scenario, args.scenario)
    out = args.out if args.out is not None else default_out_dir(scenario.name)
    total = args.runs if args.runs is not None else scenario.monte_carlo.runs
    extra: dict[str, Any] = {"scenario_file": str(args.scenario)}
    if overrides:
        extra["overrides"] = dict(text.partition("=")[::2] for text in args.overrides)
    runs, _, blocks_per_chunk = resolve_settings(scenario, args.runs, args.seed, args.chunk_size)
    workers = chunk_workers(args, runs, blocks_per_chunk)
    work = estimate(compile_model(scenario), runs, blocks_per_chunk * BLOCK_SIZE, workers=workers)

    check_target(out, "run", force=args.force)  # its problems first, then the limits: before any folder is made
    limit = check_limits(args, work, "this run", out)
    raw_stopped = False
    # With a calibration the model as written runs too, on the same random numbers: the raw
    # model is always reported beside the calibrated one (null: Ctrl-C came before it finished).
    if knobs is not None:
        extra["as_written"] = None
    with ResultWriter(out, force=args.force) as writer, progress_bar(args, total * (2 if knobs else 1)) as progress:
        # held while the result is written too: a Ctrl-C then (a second one, or one as the work ended)
        # threw away the replicates that finished, "interrupted: nothing written"
        with stop_on_interrupt() as stop:
            result = run(scenario, runs=args.runs, seed=args.seed, chunk_size=args.chunk_size,
                         precision=args.precision, sink=writer.sink, progress=progress, knobs=knobs,
                         calibration=note, workers=workers, stop=stop, max_memory=limit)
            if knobs is not None and result.runs > 0 and not result.interrupted:
                extra["as_written"], raw_stopped = _as_written(scenario, result, args.chunk_size, stop, progress,
                                                               limit)
            if result.runs == 0:
                print("interrupted before any replicate finished: nothing written", file=sys.stderr)
                return EXIT_INTERRUPTED
            if raw_stopped:  # the command did not finish its work (as compare and explain say); the forecast is whole
                extra["interrupted"] = True
            # The page is written into the directory before it is put in place, so its manifest lists it.
            extra["notes"] = said()
            summary = writer.finish(result, extra, also=_report_page(out) if args.report else None, inputs=inputs)
    for warning in writer.warnings:
        say(f"warning: the report was not written: {warning}")

    page = {"report": str(out / "report.html")} if args.report and not writer.warnings else {}
    if args.json:
        print(json.dumps({**summary, "result_dir": str(out), **page}, indent=2, allow_nan=False))
    elif not args.quiet:
        print_summary(summary, out)
        if page:
            print(f"report: {page['report']}")
    if result.interrupted:
        without = ", without the model as written" if knobs is not None else ""
        print(f"interrupted: wrote {result.runs:,} of {plural(result.requested_runs, 'replicate')} to {out}{without}",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    if raw_stopped:
        print(f"interrupted: wrote the calibrated forecast, complete ({plural(result.runs, 'replicate')}), to "
              f"{out}, without the model as written", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_OK


def _as_written(scenario, result, chunk_size, stop, progress, max_memory) -> tuple[dict | None, bool]:
    """(the model as written on the calibrated run's replicates and seed: runs, classes and
    headline with their Monte Carlo intervals; whether it was interrupted, then None)."""
    from ..montecarlo import run
    from ..results import estimate_dict

    done = result.runs
    shifted = None if progress is None else (lambda n, _total: progress(done + n, 2 * done))
    raw = run(scenario, runs=done, seed=result.entropy, chunk_size=chunk_size, progress=shifted,
              workers=result.workers, stop=stop, max_memory=max_memory)
    if raw.interrupted:
        return None, True
    return {"runs": int(raw.runs), "seconds": round(float(raw.seconds), 6),
            "classes": {name: estimate_dict(e) for name, e in raw.estimates().items()},
            "headline": {name: estimate_dict(e) for name, e in raw.headline().items()}}, False


@command(
    "validate", "check scenario files without running them",
    arg("files", type=Path, nargs="+", metavar="FILE",
        help="scenario YAML files, or folders: every scenario file in each (as backtest DIR reads a folder)"),
    SCENARIO_ROOT_OPTION,
)
def cmd_validate(args: argparse.Namespace) -> int:
    from ..loading import load_scenario

    status, said = EXIT_OK, set()
    paths = []
    for path in args.files:
        try:
            paths += _scenario_files(path)
        except InputError as exc:
            for problem in exc.problems:
                print(f"error: {problem}", file=sys.stderr)
            status = EXIT_INPUT_ERROR
    for path in paths:
        try:
            scenario = load_scenario(path)
        except InputError as exc:
            new = [problem for problem in exc.problems if str(problem) not in said]
            for problem in new:  # a base that several files extend: its problems once
                print(f"error: {problem}", file=sys.stderr)
                said.add(str(problem))
            if not new:  # still a verdict on this file: no line at all read as neither ok nor bad
                sources = ", ".join(dict.fromkeys(str(problem.source) for problem in exc.problems))
                print(f"error: {path}: not valid: the problems above in {sources} are its problems too",
                      file=sys.stderr)
            status = EXIT_INPUT_ERROR
        else:
            show_warnings(scenario, path)  # and its notes
            _note_unscorable(scenario, path)
            print(f"ok: {path}")
    return status


def _scenario_files(path: Path) -> list[Path]:
    """`path`, or for a folder its *.yaml files that read like a scenario, in name order (a shared
    base and the cases alike; `backtest DIR` reads the same folder), with a note naming those
    that do not (a knobs spec), which are not checked; a folder holding none is an error."""
    from ..backtest import SCENARIO_KEYS, reads_like_scenario

    if not path.is_dir():
        return [path]
    files = sorted(path.glob("*.yaml"))
    kept = [file for file in files if reads_like_scenario(file)]
    keys = ", ".join(f"{key}:" for key in SCENARIO_KEYS[:-1]) + f" or {SCENARIO_KEYS[-1]}:"
    others = [file.name for file in files if file not in kept]
    if others:
        which = (f"{others[0]} is not a scenario file (no {keys} at its top level)" if len(others) == 1 else
                 f"{', '.join(others)} are not scenario files (no {keys} at their top level)")
        say(f"note: {Problem(str(path), '', f'{which}: not checked')}")
    if not kept:
        raise InputError(Problem(str(path), "", f"holds no scenario file (a *.yaml with {keys} at its top level)"))
    return kept


def _note_unscorable(scenario, path: Path) -> None:
    """What backtest and calibrate say of a valid scenario as a case: a note for a shared base's
    file (`_...`) that they would score as one, and for a case they refuse (its meeting is after
    today), with their reason: validate's `ok` alone read as "ready to score"."""
    from ..backtest import base_named_case, is_case_file, observed_after
    from ..loading import named_by_writer

    if is_case_file(path) and (note := base_named_case(path)) is not None:
        say(f"note: {note}")
    problem = observed_after(scenario, path)
    if problem is not None:
        (problem,) = named_by_writer([problem], path)  # the file that wrote `observed:`, a base's too
        say(f"note: {replace(problem, message=problem.message + '; backtest and calibrate refuse this case')}")


def print_summary(summary: dict, out: Path) -> None:
    """The outcome table, the headline, and how the run went, on stdout."""
    from rich.console import Console
    from rich.table import Table

    console = Console(file=sys.stdout, highlight=False)
    # a line of its own: a Table's title wraps at the table's width, which a long name passes
    console.print(f"{scenario_label(summary)}: outcome of the summit", markup=False, soft_wrap=True)
    table = Table()
    table.add_column("outcome")
    table.add_column("probability", justify="right")
    table.add_column("95 % interval", justify="right")
    spread = (summary.get("calibration") or {}).get("parameter_spread")
    raw = summary.get("as_written")
    if spread:
        table.add_column("knobs' 95 % range", justify="right")
    if raw:
        table.add_column("as written", justify="right")
    noisy = spread_noise(spread) if spread else {}
    for name in CLASSES:
        e = summary["classes"][name]
        cells = [name.replace("_", " "), fmt(e["p"]), f"[{fmt(e['low'])}, {fmt(e['high'])}]"]
        if spread:
            cells.append(f"[{fmt(spread[name]['low'])}, {fmt(spread[name]['high'])}]" + ("*" if noisy[name] else ""))
        if raw:
            cells.append(fmt(raw["classes"][name]["p"]))
        table.add_row(*cells)
    console.print(table)
    h = summary["headline"]["substantive_or_better"]
    line = f"P(substantive or better) = {fmt(h['p'])} [{fmt(h['low'])}, {fmt(h['high'])}]"
    if spread:
        s = spread["substantive_or_better"]
        line += f"; over the knobs' posterior [{fmt(s['low'])}, {fmt(s['high'])}]" + ("*" if noisy[
            "substantive_or_better"] else "")
    console.print(line)
    if any(noisy.values()):
        which = "; ".join(f"{name.replace('_', ' ')}: {why}" for name, why in noisy.items() if why)
        console.print(f"* within Monte Carlo noise ({which}): the knob settings' estimates differ by no more than "
                      "their replicates' noise, so the knobs may not move it at all; more --runs tell", soft_wrap=True)
    if raw:
        r = raw["headline"]["substantive_or_better"]
        took = f", {raw['seconds']:.2f} s more" if raw.get("seconds") is not None else ""
        same = plural(raw["runs"], "replicate")
        # each class with its interval here: in the table's column they would not fit 80 columns
        classes = ", ".join(f"{name.replace('_', ' ')} {fmt(e['p'])} [{fmt(e['low'])}, {fmt(e['high'])}]"
                            for name, e in ((name, raw["classes"][name]) for name in CLASSES))
        console.print(f"model as written (the scenario's own knob values, the same {same}{took}): {classes}; "
                      f"P(substantive or better) = {fmt(r['p'])} [{fmt(r['low'])}, {fmt(r['high'])}]", soft_wrap=True)
    elif as_written_missing(summary):
        console.print("model as written: not shown, interrupted before its pass finished", soft_wrap=True)
    if spread:
        cal = summary["calibration"]
        left = left_out_phrase(cal)
        fitted = cal.get("fitted_on") or {}
        on = (f": knobs fitted on the {fitted['cases']} cases of {fitted['source'] or 'another folder'}"
              if fitted.get("cases") else "")
        console.print(f"posterior predictive ({cal['file']}{on}, {cal['posterior']}{left}); first interval: Monte "
                      "Carlo error; second: the spread of P(class | knobs) over the posterior", soft_wrap=True)
    rate = summary["replicates_per_second"]
    notes = []
    if summary["stopped_early"]:
        notes.append(f"stopped early at precision {summary['precision']}")
    if forecast_partial(summary):  # not when only the model as written's pass was stopped (said above)
        notes.append(f"interrupted, {summary['requested_runs']:,} requested")
    speed = f", {rate:,.0f} replicates/s" if rate is not None else ""
    console.print(
        f"{plural(summary['runs'], 'replicate')}, seed entropy {summary['seed_entropy']}, "
        f"engine {_engine(summary)}, {summary['seconds']:.2f} s on {_processes(summary.get('workers', 1))}{speed}"
        + "".join(f"; {n}" for n in notes) + compiling_note(summary),
        soft_wrap=True,
    )
    console.print(f"results: {out}", soft_wrap=True)


def _engine(summary: dict) -> str:
    """`eum (paper, 2 rounds a week, q 1)`: the variant matters as much as the engine."""
    options = summary.get("engine_options")
    if not options:
        return summary["engine"]
    rounds = options["rounds_per_week"]
    return (f"{summary['engine']} ({options['variant']}, {rounds} round{'' if rounds == 1 else 's'} a week, "
            f"q {options['q']:g})")


def _processes(n: int) -> str:
    return "1 process" if n == 1 else f"{n} processes"


def _report_page(out: Path):
    def write(folder: Path) -> None:
        from ..report import write_run_page

        write_run_page(folder, out)

    return write
