"""`backtest` and `calibrate`: how good the forecasts of past meetings were, and the knobs fitted on them."""

from __future__ import annotations

import argparse
import math
import tempfile
from pathlib import Path

from ..errors import InputError, Problem
from .common import (LIMIT_OPTIONS, SCENARIO_OPTIONS, arg, check_limits, claim_output, command, output_options,
                     parse_overrides, progress_bar, write_and_show)


BACKTEST_OPTIONS = (
    arg("--meetings", type=Path, metavar="CSV",
        help="coded meetings (columns date, outcome) for the base-rate reference (default: the one CSV in DIR)"),
    arg("--resamples", type=int, default=2000, metavar="N",
        help="bootstrap resamples of the cases for the intervals of score differences (default: 2000)"),
)


def _backtest_inputs(args: argparse.Namespace):
    """(cases, meetings, meetings path) of `backtest` and `calibrate`; every bad option at once."""
    from ..backtest import load_cases, load_meetings

    overrides = parse_overrides(args.overrides)
    rules = [("--runs", args.runs, lambda v: v >= 1, "must be >= 1"),
             ("--seed", args.seed, lambda v: v >= 0, "must be >= 0"),
             ("--resamples", args.resamples, lambda v: v >= 100, "must be >= 100")]
    for name in ("score_runs", "score_seed"):
        if hasattr(args, name):
            rules.append((f"--{name.replace('_', '-')}", getattr(args, name),
                          (lambda v: v >= 1) if name == "score_runs" else (lambda v: v >= 0),
                          "must be >= 1" if name == "score_runs" else "must be >= 0"))
    problems = [Problem(name, "", rule, value, True) for name, value, ok, rule in rules
                if value is not None and not ok(value)]
    meetings_path = args.meetings
    if meetings_path is None and args.directory.is_dir():
        found = sorted(args.directory.glob("*.csv"))
        if len(found) == 1:
            meetings_path = found[0]
        else:
            problems.append(Problem("--meetings", "", f"is needed: {args.directory} holds {len(found)} CSV files, "
                                    "not one"))
    if problems:
        raise InputError(problems)
    _check_yaml_files(args.directory)
    cases = load_cases(args.directory, overrides or None)
    meetings = load_meetings(meetings_path) if meetings_path is not None else []
    return cases, meetings, meetings_path


@command(
    "backtest", "forecast every scenario of DIR that has an observed: block and score the forecasts "
                "against the base rate of earlier meetings and a uniform forecast",
    arg("directory", type=Path, metavar="DIR", help="directory of scenarios; the cases have an observed: block"),
    *SCENARIO_OPTIONS,
    arg("--runs", type=int, metavar="N", help="replicates per case (default: each scenario's monte_carlo.runs)"),
    arg("--seed", type=int, metavar="S", help="root seed of every case (default: each scenario's own)"),
    *BACKTEST_OPTIONS, *output_options("results/backtest/<run-id>"), *LIMIT_OPTIONS,
)
def cmd_backtest(args: argparse.Namespace) -> int:
    from ..backtest import run_backtest, summarise_backtest
    from ..backtest_report import plot_reliability, print_backtest
    from ..results import default_out_dir

    cases, meetings, meetings_path = _backtest_inputs(args)
    _check_case_limits(args, cases, args.runs)
    out = claim_output(args, "backtest", default_out_dir("backtest"))
    result = run_backtest(cases, meetings, runs=args.runs, seed=args.seed)
    summary = summarise_backtest(result, resamples=args.resamples)
    summary.update(directory=str(args.directory), meetings=str(meetings_path), overrides=args.overrides)
    return write_and_show(args, out, summary, {"reliability.png": plot_reliability}, print_backtest)


@command(
    "calibrate", "fit the declared global knobs to the observed classes of DIR's cases by maximum likelihood "
                 "on a grid, with leave-one-out scores, and write them as an include file",
    arg("directory", type=Path, metavar="DIR", help="directory of scenarios; the cases have an observed: block"),
    *SCENARIO_OPTIONS,
    arg("--runs", type=int, default=2048, metavar="N",
        help="replicates per case and grid point (default: 2048)"),
    arg("--seed", type=int, default=1, metavar="S",
        help="root seed of every grid point (common random numbers; default: 1)"),
    arg("--score-runs", type=int, default=20_000, metavar="N",
        help="replicates per case for the scores before and after (default: 20000)"),
    arg("--score-seed", type=int, metavar="S", help="seed of the scoring runs (default: each scenario's own)"),
    arg("--write", type=Path, metavar="FILE",
        help="also write the include file of fitted values to FILE, a new file or one `sim calibrate` wrote "
             "and nobody edited since (default: only calibration.yaml in the result directory)"),
    *BACKTEST_OPTIONS, *output_options("results/calibrate/<run-id>"), *LIMIT_OPTIONS,
)
def cmd_calibrate(args: argparse.Namespace) -> int:
    import datetime as dt

    from ..backtest import run_backtest
    from ..backtest_report import plot_profile, plot_reliability, print_calibration
    from ..calibrate import KNOBS, knob_overrides_common, run_calibration, summarise_calibration, write_calibration
    from ..ownership import check_file_target
    from ..results import default_out_dir

    cases, meetings, meetings_path = _backtest_inputs(args)
    knob_overrides_common(cases, KNOBS, [k.default for k in KNOBS])  # before minutes of work
    if args.write is not None:
        check_file_target(args.write, "calibrate", force=args.force)
    _check_case_limits(args, cases, max(args.runs, args.score_runs))
    out = claim_output(args, "calibrate", default_out_dir("calibrate"))
    total = len(cases) * math.prod(len(k.grid) for k in KNOBS)
    with progress_bar(args, total) as progress:
        cal = run_calibration(cases, KNOBS, runs=args.runs, seed=args.seed, score_runs=args.score_runs,
                              score_seed=args.score_seed, progress=progress)
    before = run_backtest(cases, meetings, runs=args.score_runs, seed=args.score_seed)
    summary = summarise_calibration(cal, before, resamples=args.resamples)
    write = args.write  # None: the fitted include goes to the result directory only
    m = summary["mean_scores"]
    header = [
        f"Fitted by `python -m sim calibrate {args.directory}` on {dt.date.today().isoformat()}: "
        f"{len(cases)} cases, {len(cal.grid)} grid points,",
        f"{cal.runs:,} replicates a point, seed {cal.seed}. Knobs: "
        + ", ".join(f"{k} = {v:g}" for k, v in cal.values().items()) + ".",
        f"Mean log score: as written {m['model']['log']:.3f}, calibrated (leave-one-out) {m['calibrated']['log']:.3f}, "
        f"base rate {m['base_rate']['log']:.3f}.",
        "Include it in a scenario with `include: PATH` (relative to the scenario); its values replace the file's.",
    ]
    with tempfile.TemporaryDirectory() as scratch:
        written = write_calibration(Path(scratch) / "calibration.yaml", cal, cases, header)
        text = (Path(scratch) / "calibration.yaml").read_text(encoding="utf-8")
    if write is not None:
        _write_include(write, text, args.force, out.run_id)
    summary["calibration"].update(written=written, write_path=None if write is None else str(write))
    summary.update(directory=str(args.directory), meetings=str(meetings_path), overrides=args.overrides)
    return write_and_show(args, out, summary, {"reliability.png": plot_reliability, "profile.png": plot_profile},
                           print_calibration, {"calibration.yaml": text})


def _write_include(path: Path, text: str, force: bool, run_id: str) -> None:
    """`calibrate --write FILE`: checked again under a lock (minutes have passed), then
    written with sim's manifest in its first line (`ownership.write_owned_text`)."""
    from ..ownership import check_file_target, lock_target, write_owned_text

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with lock_target(path, "--write"):
            check_file_target(path, "calibrate", force=force)
            write_owned_text(path, text, "calibrate", run_id)
    except OSError as exc:
        raise InputError(Problem("--write", "", f"cannot write there ({exc.strerror or exc})", str(path), True)) from None


def _check_yaml_files(directory: Path) -> None:
    """Every YAML file of a backtest directory through sim's safe loader first: the
    backtest's search for cases reads them with PyYAML's own (see `sim.yamlfile`)."""
    from ..yamlfile import read_yaml_file

    problems = []
    for path in sorted(directory.glob("*.yaml")) if directory.is_dir() else ():
        try:
            read_yaml_file(path)
        except InputError as exc:
            problems += exc.problems
    if problems:
        raise InputError(problems)


def _check_case_limits(args: argparse.Namespace, cases: list, runs: int | None) -> None:
    """Refuse before anything runs if one case would need more memory than allowed."""
    from ..limits import estimate
    from ..model import compile_model
    from ..montecarlo import resolve_settings
    from ..randomness import BLOCK_SIZE

    for case in cases:
        n, _, blocks = resolve_settings(case.scenario, runs, 0, None)
        check_limits(args, estimate(compile_model(case.scenario), n, blocks * BLOCK_SIZE, write=False),
                     f"the case {case.path}")
