"""`backtest` and `calibrate`: how good the forecasts of past meetings were, and the knobs fitted on them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import InputError, Problem, RunError, hold_interrupts
from .common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    LIMIT_OPTIONS,
    SCENARIO_OPTIONS,
    arg,
    blame_overrides,
    check_limits,
    command,
    count,
    load_calibration,
    note_unread_knobs,
    option_problems,
    output_options,
    output_path,
    parse_overrides,
    runs_rules,
    say,
    show_warnings,
    stop_on_interrupt,
    task_workers,
    workers_rules,
    write_and_show,
)
from .progress import step_progress

BACKTEST_OPTIONS = (
    arg("--meetings", type=Path, metavar="CSV",
        help="coded meetings (columns date, outcome) for the base-rate reference (default: the one CSV in DIR; "
             "with none, the cases' own earlier outcomes)"),
    arg("--resamples", type=int, default=2000, metavar="N",
        help="bootstrap resamples of the cases for the intervals of score differences, 100 to "
             "1,000,000 (default: 2000)"),
)

MAX_RESAMPLES = 1_000_000
"""The bootstrap holds every resample of the cases in memory at once (a 10^9 ran every case,
then died of MemoryError before the summary); beyond 10^6 the intervals move in the fourth digit."""


def _history_inputs(args: argparse.Namespace):
    """(cases, meetings or None, meetings path or None) of `backtest` and `calibrate`; every bad option at once."""
    from ..backtest import base_named_case, left_out, load_cases, load_meetings

    overrides = parse_overrides(args.overrides)
    rules = [*runs_rules(getattr(args, "runs", None)),
             ("--seed", getattr(args, "seed", None), lambda v: v >= 0, "must be >= 0"),
             ("--resamples", args.resamples, lambda v: v >= 100, "must be >= 100"),
             ("--resamples", args.resamples, lambda v: v < 100 or v <= MAX_RESAMPLES,
              f"must be at most {MAX_RESAMPLES:,}"),
             *workers_rules(args)]
    problems = option_problems(rules)
    meetings_path = args.meetings
    if meetings_path is None and args.directory.is_dir():
        found = sorted(args.directory.glob("*.csv"))
        if len(found) == 1:
            meetings_path = found[0]
        elif len(found) > 1:
            problems.append(Problem("--meetings", "", f"is needed: {args.directory} holds {len(found)} CSV files, "
                                    "not one"))
    elif meetings_path is not None and meetings_path.is_dir():  # the file reader would not name the option
        problems.append(Problem("--meetings", "", "is a directory: give the CSV of coded meetings (columns date, "
                                "outcome)", str(meetings_path), True))
    if problems:
        raise InputError(problems)
    try:
        cases = load_cases(args.directory, overrides or None)
    except InputError as exc:  # as `run --set`: the files do not hold a value the option gave
        raise blame_overrides(exc, overrides) from None
    for path in left_out(args.directory):
        note = Problem(str(path), "", "has no `observed:` block, so it is not a case: left out of the backtest and "
                                      "the calibration")
        say(f"note: {note}")
    for case in cases:  # a shared base's name, a case's block: a template's placeholder outcome would be scored
        if (note := base_named_case(case.path)) is not None:
            say(f"note: {note}")
    for case in cases:
        show_warnings(case.scenario, case.path, overrides)
    meetings = load_meetings(meetings_path) if meetings_path is not None else None
    return cases, meetings, meetings_path


def check_posterior_target(path: Path, out: Path) -> None:
    """`--write` may create a file or replace a posterior sim wrote that nobody edited since,
    outside every result directory, the calibration's own `out` included."""
    from ..io import check_can_create
    from ..ownership import check_outside_results
    from ..posterior import written_by_sim

    check_outside_results(path, "--write")
    if out.resolve() in path.resolve().parents:
        raise InputError(Problem("--write", "", f"is inside the calibration's own directory {out}, which holds "
                                 "its posterior.json already; write the copy outside it", str(path), True))
    if path.is_dir():
        raise InputError(Problem("--write", "", "is a directory; name a file", str(path), True))
    if path.exists() and not written_by_sim(path):
        raise InputError(Problem("--write", "", "was not written by sim (or was edited since): refusing to replace "
                                 "it; choose a new path", str(path), True))
    if not path.exists() and not path.parent.is_dir():
        raise InputError(Problem("--write", "", "its folder does not exist", str(path), True))
    denied = check_can_create(path)  # found now, not after the calibration's minutes
    if denied is not None:
        raise InputError(Problem("--write", "", f"cannot write a file there ({denied.strerror or denied})", str(path),
                                 True))


@command(
    "backtest", "forecast every scenario of DIR that has an observed: block (as written and, with --calibration, "
                "posterior predictive) and score the forecasts against the base rate of earlier meetings",
    arg("directory", type=Path, metavar="DIR", help="directory of scenarios; the cases have an observed: block"),
    *SCENARIO_OPTIONS,
    arg("--calibration", type=Path, metavar="POSTERIOR",
        help="a posterior.json from `sim calibrate`: also score the posterior predictive forecasts (a case the "
             "posterior was fitted on is forecast from the posterior refitted without it)"),
    arg("--runs", type=count, metavar="N", help="replicates per case (default: each scenario's monte_carlo.runs)"),
    arg("--seed", type=int, metavar="S", help="root seed of every case (default: each scenario's own)"),
    arg("--workers", type=int, metavar="N",
        help="processes each case runs on, this one included; the forecasts do not depend on it (default: the "
             "cores this process may use, capped by the case's replicates)"),
    *BACKTEST_OPTIONS, *output_options("results/backtest/<run-id>"), *LIMIT_OPTIONS,
)
def cmd_backtest(args: argparse.Namespace) -> int:
    from ..backtest_store import CASES_FILE, CaseStore
    from ..limits import estimate_output
    from ..ownership import claim_in_place
    from ..results import default_out_dir

    posterior = load_calibration(args)
    cases, meetings, meetings_path = _history_inputs(args)
    if posterior is not None:
        _check_knobs(posterior, cases, args.calibration)
    limit = _check_case_limits(args, cases, args.runs, args.workers)
    check_limits(args, estimate_output(), "this backtest", args.out or Path("results"))
    out = args.out if args.out is not None else default_out_dir("backtest")
    # Written in place, like a sweep: each finished case is kept in cases.json at once,
    # and a rerun into the same directory runs only the cases not kept yet. A new directory
    # in which no case was kept (an input error found in a case, an interrupt before the
    # first finished) is given back, not left holding only a manifest.
    # Held: a Ctrl-C raised as `enter_context` went on to record the claim's release left the claim
    # to be given back only when the garbage collector closed it, if ever (a reference kept in a
    # traceback kept the directory, the lock and the folders made for them)
    with hold_interrupts():
        state = args.resources.enter_context(claim_in_place(out, "backtest", (CASES_FILE, *BACKTEST_OUTPUTS),
                                                            force=args.force, release_unused=True))
    store = CaseStore(out, args.runs, args.seed, posterior)
    _note_unseeded(args, cases)
    return _backtest_into(args, out, state, store, cases, meetings, meetings_path, posterior, limit)


def _note_unseeded(args: argparse.Namespace, cases: list) -> None:
    """Say so when cases have no `monte_carlo.seed` (and no --seed): they draw fresh random
    numbers each backtest, so their scores move a little from one backtest to the next."""
    if args.seed is not None:
        return
    unseeded = [case.name for case in cases if case.scenario.monte_carlo.seed is None]
    if unseeded:
        shown = ", ".join(unseeded[:5]) + (f" and {len(unseeded) - 5} more" if len(unseeded) > 5 else "")
        say(f"note: {len(unseeded)} of {len(cases)} cases have no monte_carlo.seed ({shown}): they draw fresh "
            "random numbers each backtest, so their scores vary slightly between backtests (their seeds are "
            "in summary.json; --seed S fixes every case's)")


def _backtest_into(args: argparse.Namespace, out: Path, state: str, store, cases: list, meetings,
                   meetings_path, posterior, max_memory: int | None = None) -> int:
    from ..backtest import run_backtest, summarise_backtest
    from ..backtest_report import plot_reliability, print_backtest

    kept = store.load(cases) if state == "own" else {}
    if len(kept) < len(cases):  # no stale whole summary beside a backtest that may yet stop short
        for name in BACKTEST_OUTPUTS:
            (out / name).unlink(missing_ok=True)
    with stop_on_interrupt() as stop:  # held while the summary is written: a second Ctrl-C cannot cut it short
        with step_progress(args, "cases", every=0.0) as progress:
            result = run_backtest(cases, meetings, runs=args.runs, seed=args.seed, posterior=posterior,
                                  progress=progress, workers=args.workers, stop=stop, kept=kept, keep=store.keep,
                                  max_memory=max_memory)
        if not result.cases:  # the claim gives back the new directory it made for nothing
            print("interrupted before any case finished: nothing kept", file=sys.stderr)
            return EXIT_INTERRUPTED
        summary = summarise_backtest(result, resamples=args.resamples)
        summary.update(directory=str(args.directory), meetings=None if meetings_path is None else str(meetings_path),
                       calibration=None if args.calibration is None else str(args.calibration),
                       overrides=args.overrides)
        plots = {"reliability.png": plot_reliability} if result.complete else {}
        write_and_show(args, out, summary, plots, print_backtest, in_place=True)
    if not result.complete:
        print(f"interrupted: {len(result.cases)} of {result.cases_total} cases kept in {out} (summary.json scores "
              f"only those, marked incomplete); rerun the same command with --out {out} to finish it",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_OK


BACKTEST_OUTPUTS = ("summary.json", "reliability.png")
"""What a backtest derives from its kept cases (cases.json) when it ends."""


@command(
    "calibrate", "fit the knobs declared in a spec file (the model's global constants) to the observed classes "
                 "of DIR's cases: a posterior on their grid, resumable, with leave-one-out scores",
    arg("directory", type=Path, metavar="DIR", help="directory of scenarios; the cases have an observed: block"),
    arg("--knobs", type=Path, metavar="SPEC", required=True,
        help="the knob spec: each knob's dotted path, prior and grid (scenarios/history/knobs.yaml)"),
    *SCENARIO_OPTIONS,
    arg("--workers", type=int, metavar="N",
        help="local worker processes, at most one a task (default: the usable cores, capped so that each has "
             "32 blocks of 1,024 replicates to run, 256 where processes are spawned rather than forked)"),
    arg("--scheduler", metavar="ADDRESS", help="run on the Dask cluster at ADDRESS, e.g. tcp://host:8786"),
    arg("--fresh", action="store_true", help="discard the finished points and start over"),
    arg("--write", type=output_path, metavar="FILE",
        help="also copy the posterior to FILE, which must not exist or be a posterior sim wrote"),
    *BACKTEST_OPTIONS, *output_options("results/calibrate/<key of the knobs and cases>: rerunning resumes"),
    *LIMIT_OPTIONS,
)
def cmd_calibrate(args: argparse.Namespace) -> int:
    from ..backtest_report import plot_posterior, plot_reliability, print_calibration
    from ..calibrate import (
        calibration_key,
        check_knobs,
        check_priors,
        prior_warnings,
        run_calibration,
        summarise_calibration,
    )
    from ..knobs import load_knobs, make_grid
    from ..limits import estimate_output
    from ..ownership import check_target, from_here
    from ..randomness import blocks_for
    from ..sweep.execute import check_scheduler

    spec = load_knobs(args.knobs)
    check_priors(spec, str(args.knobs))
    for problem in prior_warnings(spec, str(args.knobs)):
        say(f"warning: {problem}")
    cases, meetings, meetings_path = _history_inputs(args)
    check_knobs(cases, spec, str(args.knobs))  # before the note about --workers: refused work gets none
    out = args.out if args.out is not None else Path("results") / "calibrate" / calibration_key(spec, cases)
    if args.write is not None:
        check_posterior_target(args.write, out)
    check_target(out, "calibrate", force=args.force)  # before minutes of work
    if args.scheduler is not None:
        check_scheduler(args.scheduler)
        # this process's share: the cases run on the cluster; a calibration's points keep no trajectories
        limit = _check_case_limits(args, cases, spec.runs, 1, trajectories=False)
    else:
        workers = task_workers(args, len(cases) * len(make_grid(spec.knobs)), blocks_for(spec.runs))
        limit = _check_case_limits(args, cases, spec.runs, workers, exact=True, trajectories=False)
    check_limits(args, estimate_output(len(cases) * len(make_grid(spec.knobs)), 2 + len(spec.knobs)),
                 "this calibration", out)
    # Held while the posterior and the summary are written, as in a backtest: a Ctrl-C once
    # every point has finished no longer ends the command with the points kept but nothing
    # derived from them (and a message saying nothing was written).
    with stop_on_interrupt() as stop:
        with step_progress(args, "points") as progress:
            cal = run_calibration(cases, spec, out, workers=args.workers, scheduler=args.scheduler,
                                  fresh=args.fresh, progress=progress, source=str(args.directory),
                                  force=args.force, stop=stop, knobs_file=str(args.knobs), max_memory=limit)
        if not cal.complete:
            print(f"interrupted: {cal.points_done:,} of {cal.points_total:,} points kept in {out}; "
                  "rerun the same command to resume", file=sys.stderr)  # stdout is the summary's (--json)
            return EXIT_INTERRUPTED
        summary = summarise_calibration(cal, cases, meetings, resamples=args.resamples)
        summary.update(directory=str(args.directory), knobs_file=str(args.knobs),
                       meetings=None if meetings_path is None else str(meetings_path), overrides=args.overrides)
        try:
            cal.posterior.write(out / "posterior.json")
        except OSError as exc:  # a full disk: the points are kept, and a rerun writes what they make
            raise RunError(f"cannot write results to {out}: {exc.strerror or exc}; {cal.points_done:,} of "
                           f"{cal.points_total:,} points are kept there: rerun the same command to resume once "
                           "there is room") from None
        summary["posterior_file"] = from_here(out / "posterior.json")  # `--out .` is absolute by now
        if args.write is not None:
            write_posterior_copy(cal.posterior, args.write, out)
            summary["posterior_copy"] = str(args.write)
        write_and_show(args, out, summary, {"posterior.png": plot_posterior, "reliability.png": plot_reliability},
                       print_calibration, in_place=True)
    return EXIT_OK


def write_posterior_copy(posterior, path: Path, out: Path) -> None:
    """Write `--write`'s copy of `posterior` (the calibration is kept in `out`), under the copy's
    lock, as every writer of a file beside its target: a second command writing it meanwhile is
    refused, and the temp file of a copy whose writer was killed is known as stale and removed
    (`locks.clean_stale`, with the folder's other stale entries). Any failure is a `RunError` that
    says the calibration is kept: the minutes it took are not lost."""
    from ..io import write_json_atomic
    from ..locks import clean_stale, lock_target
    from ..posterior import written_by_sim

    cannot = f"cannot write the posterior's copy {path}"
    kept = f"the calibration is kept in {out}: rerun the same command"
    try:
        with lock_target(path, "--write", "a file"):
            clean_stale(path.parent, held=path)
            if path.exists() and not written_by_sim(path):  # saved there since it was checked
                raise RunError(f"{cannot}: it was not written by sim (made while the calibration ran?), so it is "
                               f"not replaced; {kept} with another --write to write it")
            write_json_atomic(path, posterior.file_data())  # the lock is held: not `posterior.write`
    except InputError as exc:  # another command writes it now, or the folder takes no lock file any more
        raise RunError(f"{cannot}: {exc.problems[0].message}; {kept} to write it") from None
    except OSError as exc:  # the folder changed since it was checked, or the disk filled
        raise RunError(f"{cannot}: {exc.strerror or exc}; {kept} to write it") from None


def _check_knobs(posterior, cases: list, path: Path) -> None:
    """Every knob of `posterior` (read from `path`) must name a number of every case, found before
    the first case runs (it was found when the case's calibrated run began, the earlier cases'
    minutes spent); every case's problems at once, each naming the case's file. A knob a case's
    engine never reads gets a note (`note_unread_knobs`)."""
    from ..calibrate import name_what_is_missing

    problems = []
    for case in cases:
        try:
            posterior.check_applies(case.scenario, str(case.path), path)
        except InputError as exc:
            problems += name_what_is_missing(exc.problems, case.scenario)
    if problems:
        raise InputError(problems)
    note_unread_knobs(posterior, [(case.scenario, case.name) for case in cases], path, cases=len(cases))


def _check_case_limits(args: argparse.Namespace, cases: list, runs: int | None, workers: int | None,
                       exact: bool = False, trajectories: bool = True) -> int | None:
    """Refuse before anything runs if one case, on the processes that will run it at once,
    would need more memory than allowed: `workers` (None: the default) capped by the case's
    chunks (a backtest's `run`), or with `exact` exactly `workers` (a calibration's
    tasks, which hold a chunk each); with `trajectories`, keeping the fan chart's (a backtest's
    `run` does, a calibration's points do not). Returns the memory limit they were held to
    (`check_limits`), for the library's runs of the cases."""
    from ..calibrate import CALIBRATION_NAMES  # a case's chunk size is its file's, backtest or calibration
    from ..limits import estimate
    from ..model import compile_model
    from ..montecarlo import check_workers, count_chunks, resolve_settings
    from ..randomness import BLOCK_SIZE, blocks_for

    limits = []
    for case in cases:
        n, _, blocks = resolve_settings(case.scenario, runs, 0, None)
        processes = workers if exact else check_workers(workers, blocks_for(n), count_chunks(n, blocks))
        limits.append(check_limits(args, estimate(compile_model(case.scenario), n, blocks * BLOCK_SIZE, write=False,
                                                  workers=processes, trajectories=trajectories),
                                   f"the case {case.path}", names=CALIBRATION_NAMES))
    known = [limit for limit in limits if limit is not None]
    return min(known) if known else None
