"""The command line: `python -m sim run|validate ...`.

Each subcommand is one function registered with `@command`, its arguments
declared beside it. Only sim's own errors are caught: an `InputError` prints
one `error:` line per problem and exits 2, a `RunError` exits 1; anything
else keeps its traceback, because it is a bug.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

from .errors import InputError, Problem, RunError
from .eum import VARIANTS
from .model import CLASSES

__all__ = ["main"]

EXIT_OK, EXIT_RUN_ERROR, EXIT_INPUT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130
PROGRESS_AT = 50_000
"""Runs from which a progress bar is shown on a terminal without `--progress`."""


# --- Registering subcommands ---------------------------------------------------------


def arg(*names: str, **options: Any) -> tuple[tuple[str, ...], dict[str, Any]]:
    """One argparse argument, declared as `add_argument` would take it."""
    return names, options


_COMMANDS: dict[str, tuple[str, tuple, Callable[[argparse.Namespace], int]]] = {}


def command(name: str, help: str, *args: tuple) -> Callable:
    """Register `func(args) -> exit status` as subcommand `name` with arguments `args`."""

    def register(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        _COMMANDS[name] = (help, args, func)
        return func

    return register


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors in the project's `error: ...` format (exit 2)."""

    def error(self, message: str):
        self.exit(EXIT_INPUT_ERROR, f"error: {self.prog}: {message}\n")


def make_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(prog="sim", description="Forecast diplomatic outcomes with agent-based Monte Carlo.")
    parser.add_argument("--version", action="version", version=f"sim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    for name, (help, args, func) in _COMMANDS.items():
        p = sub.add_parser(name, help=help, description=help)
        for names, options in args:
            p.add_argument(*names, **options)
        p.set_defaults(func=func)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = make_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed
        return exc.code if isinstance(exc.code, int) else EXIT_OK if exc.code is None else EXIT_INPUT_ERROR
    try:
        return args.func(args)
    except InputError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    except RunError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_RUN_ERROR
    except KeyboardInterrupt:
        print("interrupted: nothing written", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `sim ... | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_RUN_ERROR


# --- Shared options ----------------------------------------------------------------------

SCENARIO_OPTIONS = (
    arg("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE",
        help="override a scenario field before validation, e.g. --set agents.russia.resolve=0.7 "
             "(VALUE is read as YAML; repeatable)"),
)
MONTE_CARLO_OPTIONS = (
    arg("--runs", type=int, metavar="N", help="replicates to run (default: the scenario's monte_carlo.runs)"),
    arg("--seed", type=int, metavar="S", help="root seed (default: the scenario's, else fresh entropy)"),
    arg("--chunk-size", type=int, metavar="K", help="replicates per chunk; trades memory for speed only"),
    arg("--precision", type=float, metavar="X",
        help="stop once every class's 95 %% interval half-width is below X, in (0, 0.5)"),
)
OUTPUT_OPTIONS = (
    arg("--out", type=Path, metavar="DIR", help="result directory (default: results/<scenario>/<run-id>)"),
    arg("--json", action="store_true", help="print the summary as JSON on stdout, nothing else"),
    arg("--quiet", action="store_true", help="print nothing on stdout"),
    arg("--progress", action="store_true", help="always show a progress bar on stderr"),
)


def parse_overrides(texts: list[str]) -> dict[str, Any]:
    """`PATH=VALUE` strings as {path: value}, each value read as YAML."""
    overrides, problems = {}, []
    for text in texts:
        path, sep, value = text.partition("=")
        if not sep or not path.strip():
            problems.append(Problem("--set", "", "must be PATH=VALUE", text, True))
            continue
        try:
            overrides[path.strip()] = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            problems.append(Problem("--set", path.strip(),
                                    f"VALUE is not valid YAML ({exc.__class__.__name__})", value, True))
    if problems:
        raise InputError(problems)
    return overrides


def check_monte_carlo_options(args: argparse.Namespace) -> None:
    """Every bad option value at once, as an `InputError`."""
    rules = (
        ("--runs", args.runs, lambda v: v >= 1, "must be >= 1"),
        ("--seed", args.seed, lambda v: v >= 0, "must be >= 0"),
        ("--chunk-size", args.chunk_size, lambda v: v >= 1, "must be >= 1"),
        ("--precision", args.precision, lambda v: 0 < v < 0.5, "must be in (0, 0.5)"),
    )
    problems = [Problem(name, "", rule, value, True)
                for name, value, ok, rule in rules if value is not None and not ok(value)]
    if problems:
        raise InputError(problems)


@contextlib.contextmanager
def progress_bar(args: argparse.Namespace, total: int) -> Iterator[Callable[[int, int], None] | None]:
    """A `progress(done, total)` callback drawing a bar on stderr, or None when not wanted."""
    wanted = args.progress or (not args.quiet and total >= PROGRESS_AT and sys.stderr.isatty())
    if not wanted:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("replicates"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("run", total=total)
        yield lambda done, _total: bar.update(task, completed=done)


# --- Subcommands ------------------------------------------------------------------------------


@command(
    "run", "run a scenario's replicates, print the outcome table and write the results",
    arg("scenario", type=Path, help="scenario YAML file"),
    *SCENARIO_OPTIONS, *MONTE_CARLO_OPTIONS, *OUTPUT_OPTIONS,
)
def cmd_run(args: argparse.Namespace) -> int:
    from .montecarlo import run
    from .results import ResultWriter, default_out_dir
    from .schema import load_scenario

    overrides = parse_overrides(args.overrides)
    check_monte_carlo_options(args)
    scenario = load_scenario(args.scenario, overrides=overrides or None)
    out = args.out if args.out is not None else default_out_dir(scenario.name)
    total = args.runs if args.runs is not None else scenario.monte_carlo.runs
    extra: dict[str, Any] = {"scenario_file": str(args.scenario)}
    if overrides:
        extra["overrides"] = dict(text.partition("=")[::2] for text in args.overrides)

    with ResultWriter(out) as writer, progress_bar(args, total) as progress:
        result = run(scenario, runs=args.runs, seed=args.seed, chunk_size=args.chunk_size,
                     precision=args.precision, sink=writer.sink, progress=progress)
        if result.runs == 0:
            print("interrupted before any replicate finished: nothing written", file=sys.stderr)
            return EXIT_INTERRUPTED
        summary = writer.finish(result, extra)

    if args.json:
        print(json.dumps(summary, indent=2, allow_nan=False))
    elif not args.quiet:
        print_summary(summary, out)
    if result.interrupted:
        print(f"interrupted: wrote {result.runs:,} of {result.requested_runs:,} replicates to {out}",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_OK


@command(
    "validate", "check scenario files without running them",
    arg("files", type=Path, nargs="+", metavar="FILE", help="scenario YAML files"),
)
def cmd_validate(args: argparse.Namespace) -> int:
    from .schema import load_scenario

    status = EXIT_OK
    for path in args.files:
        try:
            load_scenario(path)
        except InputError as exc:
            for problem in exc.problems:
                print(f"error: {problem}", file=sys.stderr)
            status = EXIT_INPUT_ERROR
        else:
            print(f"ok: {path}")
    return status


@command(
    "eum", "run the expected-utility model on an actors CSV; with --runs, a Monte Carlo over perturbed inputs",
    arg("actors", type=Path, metavar="ACTORS.csv", help="CSV with columns Actor, Capability, Position, Salience"),
    arg("--rounds", type=int, default=10, metavar="N", help="bargaining rounds (default: 10)"),
    arg("--variant", choices=VARIANTS, default="scholz",
        help="scholz: the Scholz et al. replication, quirks included; paper: our reading of the papers"),
    arg("--q", type=float, default=1.0, metavar="Q",
        help="probability that the status quo holds, in [0, 1] (default: 1)"),
    arg("--json", action="store_true", help="print the rounds (and the Monte Carlo summary) as JSON, nothing else"),
    arg("--runs", type=int, metavar="N", help="Monte Carlo replicates of perturbed inputs (default: none)"),
    arg("--salience-sd", type=float, metavar="S", help="sd of the normal noise on each salience, clipped to [0, 1]"),
    arg("--capability-sd", type=float, metavar="S", help="sd of the normal noise on each capability, clipped at 0"),
    arg("--position-sd", type=float, metavar="S",
        help="sd of the normal noise on each position, clipped to the initial range"),
    arg("--seed", type=int, metavar="K", help="root seed of the perturbations (default: fresh entropy, printed)"),
    arg("--threshold", type=float, metavar="T", help="also report P(final median >= T) with its 95 %% interval"),
    arg("--chunk-size", type=int, metavar="K", help="replicates per batch; trades memory for speed only"),
)
def cmd_eum(args: argparse.Namespace) -> int:
    import numpy as np

    from .eum import load_actors_csv, run_eum, run_eum_monte_carlo, summarise_final_median
    from .montecarlo import wilson
    from .randomness import make_root_entropy

    mc_options = {"--salience-sd": args.salience_sd, "--capability-sd": args.capability_sd,
                  "--position-sd": args.position_sd, "--seed": args.seed, "--threshold": args.threshold,
                  "--chunk-size": args.chunk_size}
    rules = (
        ("--rounds", args.rounds, lambda v: v >= 1, "must be >= 1"),
        ("--q", args.q, lambda v: 0 <= v <= 1, "must be in [0, 1]"),
        ("--runs", args.runs, lambda v: v >= 1, "must be >= 1"),
        *((name, mc_options[name], lambda v: math.isfinite(v) and v >= 0, "must be a finite number >= 0")
          for name in ("--salience-sd", "--capability-sd", "--position-sd")),
        ("--seed", args.seed, lambda v: v >= 0, "must be >= 0"),
        ("--threshold", args.threshold, math.isfinite, "must be a finite number"),
        ("--chunk-size", args.chunk_size, lambda v: v >= 1, "must be >= 1"),
    )
    problems = [Problem(name, "", rule, value, True)
                for name, value, ok, rule in rules if value is not None and not ok(value)]
    if args.runs is None:  # silently ignoring a Monte Carlo option would mislead
        problems += [Problem(name, "", "applies only with --runs N", value, True)
                     for name, value in mc_options.items() if value is not None]
    try:
        actors = load_actors_csv(args.actors)
    except InputError as exc:
        problems += exc.problems
    else:
        repeated = sorted({name for name in actors.names if actors.names.count(name) > 1})
        if repeated:
            problems.append(Problem(str(args.actors), "Actor", "names must be unique", ", ".join(repeated), True))
    if problems:
        raise InputError(problems)

    run = run_eum(actors.capability, actors.position, actors.salience, rounds=args.rounds,
                  variant=args.variant, q=args.q)
    report: dict[str, Any] = {"rounds": [
        {"round": t, "median": float(run.median[t, 0]), "mean": float(run.mean[t, 0]),
         "positions": dict(zip(actors.names, run.positions[t, :, 0].tolist())),
         "risk": dict(zip(actors.names, run.risk[t, :, 0].tolist()))}
        for t in range(args.rounds + 1)
    ]}

    if args.runs is not None:
        seed = make_root_entropy(args.seed)  # the root of the "eum" stream's keyed blocks
        sds = {"salience_sd": args.salience_sd or 0.0, "capability_sd": args.capability_sd or 0.0,
               "position_sd": args.position_sd or 0.0}
        start = time.perf_counter()
        outcomes = run_eum_monte_carlo(actors, seed, args.runs, rounds=args.rounds, variant=args.variant,
                                       q=args.q, chunk_size=args.chunk_size, **sds)
        seconds = time.perf_counter() - start
        final = outcomes.median[-1]
        summary = summarise_final_median(final)
        mc: dict[str, Any] = {
            "runs": args.runs, "seed": seed, **sds,
            "final_median": {"mean": summary.mean, "sd": summary.sd, "quantiles": dict(zip(
                ("0.05", "0.5", "0.95"), np.quantile(final, [0.05, 0.5, 0.95]).tolist()))},
        }
        if args.threshold is not None:
            e = wilson(int(np.count_nonzero(final >= args.threshold)), args.runs)
            mc["p_at_least"] = {"threshold": args.threshold, "estimate": e.p, "low": e.low, "high": e.high}
        mc["seconds"] = seconds
        mc["replicates_per_second"] = args.runs / seconds if seconds > 0 else None
        report["monte_carlo"] = mc

    if args.json:
        print(json.dumps(report, indent=2, allow_nan=False))
    else:
        _print_eum(report, args, fresh_seed=args.seed is None)
    return EXIT_OK


def _print_eum(report: dict, args: argparse.Namespace, fresh_seed: bool) -> None:
    """Per round the median, the mean and who moved where; then the Monte Carlo summary."""
    rounds = report["rounds"]
    names = list(rounds[0]["positions"])
    width = max(map(len, names))
    print(f"{args.actors}: {len(names)} actors, {args.rounds} rounds, variant {args.variant}, q {args.q:g}")
    for before, now in zip([None, *rounds], rounds):
        print(f"round {now['round']:>2}: median {now['median']:.3f}, mean {now['mean']:.3f}")
        if before is None:
            continue
        moves = [(a, before["positions"][a], x) for a, x in now["positions"].items() if x != before["positions"][a]]
        for actor, old, new in moves:
            print(f"  {actor:<{width}}  {old:.3f} -> {new:.3f}")
        if not moves:
            print("  nobody moved")
    mc = report.get("monte_carlo")
    if mc is None:
        return
    fm, qs = mc["final_median"], mc["final_median"]["quantiles"]
    print(f"Monte Carlo, final median after round {args.rounds} (salience sd {mc['salience_sd']:g}, "
          f"capability sd {mc['capability_sd']:g}, position sd {mc['position_sd']:g}):")
    print(f"  mean {fm['mean']:.3f}, sd {fm['sd']:.3f}; quantiles 0.05 {qs['0.05']:.3f}, "
          f"0.5 {qs['0.5']:.3f}, 0.95 {qs['0.95']:.3f}")
    if "p_at_least" in mc:
        e = mc["p_at_least"]
        print(f"  P(final median >= {e['threshold']:g}) = {_fmt(e['estimate'])} "
              f"[{_fmt(e['low'])}, {_fmt(e['high'])}] (Wilson 95 %)")
    rate = mc["replicates_per_second"]
    speed = f", {rate:,.0f} replicates/s" if rate is not None else ""
    again = f" (fresh entropy; --seed {mc['seed']} repeats this run)" if fresh_seed else ""
    print(f"{mc['runs']:,} replicates, seed entropy {mc['seed']}{again}, {mc['seconds']:.2f} s{speed}")


PAIRED_OPTIONS = tuple(a for a in MONTE_CARLO_OPTIONS if "--precision" not in a[0])
"""--runs, --seed, --chunk-size: paired runs stop only at --runs."""


def _load_all(*loads: tuple[Path, dict[str, Any]]) -> list:
    """Load every (file, overrides) pair; report the problems of all of them at once."""
    from .schema import load_scenario

    scenarios, problems = [], []
    for path, overrides in loads:
        try:
            scenarios.append(load_scenario(path, overrides=overrides or None))
        except InputError as exc:
            problems += exc.problems
    if problems:
        raise InputError(problems)
    return scenarios


@command(
    "compare", "run two scenarios on the same random numbers and print B - A per outcome, paired",
    arg("a", type=Path, metavar="A.yaml", help="the reference scenario"),
    arg("b", type=Path, metavar="B.yaml", help="the scenario compared with it (same agents and issues)"),
    *SCENARIO_OPTIONS,
    arg("--set-a", dest="overrides_a", action="append", default=[], metavar="PATH=VALUE",
        help="override a field of A only (repeatable; --set changes both)"),
    arg("--set-b", dest="overrides_b", action="append", default=[], metavar="PATH=VALUE",
        help="override a field of B only, e.g. compare a file with itself changed (repeatable)"),
    *PAIRED_OPTIONS, *OUTPUT_OPTIONS,
)
def cmd_compare(args: argparse.Namespace) -> int:
    from .attribution_report import plot_comparison, print_comparison
    from .compare import compare, summarise_comparison
    from .results import default_out_dir

    both, only_a, only_b = (parse_overrides(t) for t in (args.overrides, args.overrides_a, args.overrides_b))
    check_monte_carlo_options(argparse.Namespace(**{**vars(args), "precision": None}))
    a, b = _load_all((args.a, {**both, **only_a}), (args.b, {**both, **only_b}))
    total = args.runs if args.runs is not None else a.monte_carlo.runs
    with progress_bar(args, 2 * total) as progress:
        result = compare(a, b, runs=args.runs, seed=args.seed, chunk_size=args.chunk_size,
                         progress=None if progress is None else (lambda done, n: progress(2 * done, 2 * n)),
                         names=(str(args.a), str(args.b)))
    summary = summarise_comparison(result, a, b, str(args.a), str(args.b))
    overrides = {"both": args.overrides, "a": args.overrides_a, "b": args.overrides_b}
    if any(overrides.values()):
        summary["overrides"] = {k: v for k, v in overrides.items() if v}
    out = args.out if args.out is not None else default_out_dir("compare")
    return _write_and_show(args, out, summary, {"compare.png": plot_comparison}, print_comparison)


@command(
    "explain", "what each scheduled event did to the forecast: removed one at a time (paired), "
               "and with --shapley each event's Shapley share",
    arg("scenario", type=Path, help="scenario YAML file"),
    *SCENARIO_OPTIONS, *PAIRED_OPTIONS,
    arg("--shapley", action="store_true",
        help="also Shapley values over the events (exact up to 12 events, sampled orders above)"),
    arg("--shapley-runs", type=int, metavar="N",
        help="replicates for the Shapley values (default: --runs, capped at about 4 million model runs)"),
    *OUTPUT_OPTIONS,
)
def cmd_explain(args: argparse.Namespace) -> int:
    from .attribution_report import plot_explanation, plot_shapley, print_explanation
    from .attribution import explain, shapley_plan, summarise_explanation
    from .results import default_out_dir

    overrides = parse_overrides(args.overrides)
    check_monte_carlo_options(argparse.Namespace(**{**vars(args), "precision": None}))
    if args.shapley_runs is not None and (args.shapley_runs < 1 or not args.shapley):
        rule = "must be >= 1" if args.shapley_runs < 1 else "applies only with --shapley"
        raise InputError(Problem("--shapley-runs", "", rule, args.shapley_runs, True))
    (scenario,) = _load_all((args.scenario, overrides))
    runs = args.runs if args.runs is not None else scenario.monte_carlo.runs
    k = len(scenario.events)
    total = runs * (k + 1)
    if args.shapley:
        _, n, passes = shapley_plan(k, runs, args.shapley_runs)
        total += n * passes
    with progress_bar(args, total) as progress:
        result = explain(scenario, runs=args.runs, seed=args.seed, chunk_size=args.chunk_size,
                         shapley=args.shapley, shapley_runs=args.shapley_runs,
                         progress=None if progress is None else (lambda done, n: progress(done, total)))
    summary = summarise_explanation(result, scenario, str(args.scenario))
    if overrides:
        summary["overrides"] = args.overrides
    out = args.out if args.out is not None else default_out_dir("explain")
    plots = {"explain.png": plot_explanation}
    if args.shapley:
        plots["shapley.png"] = plot_shapley
    return _write_and_show(args, out, summary, plots, print_explanation)


@command(
    "sweep", "run a scenario over a grid or sample of parameter values (resumable), with Sobol or "
             "Morris sensitivity",
    arg("scenario", type=Path, nargs="?", help="scenario YAML file (default: the --spec file's scenario)"),
    arg("--vary", action="append", default=[], metavar="PATH=LO:HI[:N]",
        help="vary a field from LO to HI, in N grid levels (repeatable), e.g. agents.russia.resolve=0.5:0.9:5"),
    arg("--spec", type=Path, metavar="FILE", help="a sweep YAML file (scenarios/sweeps/) instead of --vary"),
    arg("--design", choices=("grid", "lhs", "sobol", "morris"),
        help="grid (default), lhs, sobol (with Sobol indices) or morris (elementary effects)"),
    arg("--points", type=int, metavar="K",
        help="lhs: points; sobol: base sample N, a power of 2 (N (d+2) points); morris: trajectories (K (d+1))"),
    arg("--renormalise", action="store_true",
        help="when a salience is varied, rescale the agent's other saliences so they still sum to 1"),
    *SCENARIO_OPTIONS,
    arg("--runs", type=int, metavar="R", help="replicates per point (default: the scenario's monte_carlo.runs)"),
    arg("--seed", type=int, metavar="S", help="root seed of every point (default: the scenario's, else fresh)"),
    arg("--workers", type=int, default=1, metavar="N", help="local worker processes (default: 1, this one)"),
    arg("--scheduler", metavar="ADDRESS", help="run on the Dask cluster at ADDRESS, e.g. tcp://host:8786"),
    arg("--fresh", action="store_true", help="discard the sweep's finished points and start over"),
    *OUTPUT_OPTIONS,
)
def cmd_sweep(args: argparse.Namespace) -> int:
    from .sweep import make_sweep, run_sweep
    from .sweep.report import PointProgress, print_sweep

    overrides = parse_overrides(args.overrides)
    rules = (("--workers", args.workers, lambda v: v >= 1, "must be >= 1"),
             ("--scheduler", args.scheduler, lambda v: args.workers == 1, "runs on the cluster's workers: "
              "drop --workers"))
    problems = [Problem(name, "", rule, value, True) for name, value, ok, rule in rules
                if value is not None and not ok(value)]
    if problems:
        raise InputError(problems)
    sweep = make_sweep(args.scenario, args.vary, args.spec, design=args.design, points=args.points,
                       runs=args.runs, seed=args.seed, renormalise=args.renormalise, overrides=overrides)
    wanted = args.progress or (not args.quiet and not args.json and sys.stderr.isatty())
    with PointProgress() as progress:
        result = run_sweep(sweep, out=args.out, workers=args.workers, scheduler=args.scheduler,
                           fresh=args.fresh, progress=progress if wanted else None)
    if args.json:
        print(json.dumps(result.summary, indent=2, allow_nan=False))
    elif not args.quiet:
        print_sweep(result)
    if result.interrupted:
        print(f"interrupted: {len(result.rows):,} of {result.n_points:,} points kept in {result.out}; "
              "rerun the same command to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_OK


BACKTEST_OPTIONS = (
    arg("--meetings", type=Path, metavar="CSV",
        help="coded meetings (columns date, outcome) for the base-rate reference (default: the one CSV in DIR)"),
    arg("--resamples", type=int, default=2000, metavar="N",
        help="bootstrap resamples of the cases for the intervals of score differences (default: 2000)"),
)


def _backtest_inputs(args: argparse.Namespace):
    """(cases, meetings, meetings path) of `backtest` and `calibrate`; every bad option at once."""
    from .backtest import load_cases, load_meetings

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
    *BACKTEST_OPTIONS, *OUTPUT_OPTIONS,
)
def cmd_backtest(args: argparse.Namespace) -> int:
    from .backtest import run_backtest, summarise_backtest
    from .backtest_report import plot_reliability, print_backtest
    from .results import default_out_dir

    cases, meetings, meetings_path = _backtest_inputs(args)
    result = run_backtest(cases, meetings, runs=args.runs, seed=args.seed)
    summary = summarise_backtest(result, resamples=args.resamples)
    summary.update(directory=str(args.directory), meetings=str(meetings_path), overrides=args.overrides)
    out = args.out if args.out is not None else default_out_dir("backtest")
    return _write_and_show(args, out, summary, {"reliability.png": plot_reliability}, print_backtest)


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
        help="the include file of fitted values (default: DIR/calibrated/calibration.yaml)"),
    *BACKTEST_OPTIONS, *OUTPUT_OPTIONS,
)
def cmd_calibrate(args: argparse.Namespace) -> int:
    import datetime as dt

    from .backtest import run_backtest
    from .backtest_report import plot_profile, plot_reliability, print_calibration
    from .calibrate import KNOBS, knob_overrides_common, run_calibration, summarise_calibration, write_calibration
    from .results import default_out_dir

    cases, meetings, meetings_path = _backtest_inputs(args)
    knob_overrides_common(cases, KNOBS, [k.default for k in KNOBS])  # before minutes of work
    total = len(cases) * math.prod(len(k.grid) for k in KNOBS)
    with progress_bar(args, total) as progress:
        cal = run_calibration(cases, KNOBS, runs=args.runs, seed=args.seed, score_runs=args.score_runs,
                              score_seed=args.score_seed, progress=progress)
    before = run_backtest(cases, meetings, runs=args.score_runs, seed=args.score_seed)
    summary = summarise_calibration(cal, before, resamples=args.resamples)
    write = args.write if args.write is not None else args.directory / "calibrated" / "calibration.yaml"
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
    written = write_calibration(write, cal, cases, header)
    summary["calibration"].update(written=written, write_path=str(write))
    summary.update(directory=str(args.directory), meetings=str(meetings_path), overrides=args.overrides)
    out = args.out if args.out is not None else default_out_dir("calibrate")
    return _write_and_show(args, out, summary, {"reliability.png": plot_reliability, "profile.png": plot_profile},
                           print_calibration, {"calibration.yaml": write.read_text(encoding="utf-8")})


# --- Output ----------------------------------------------------------------------------------


def _write_and_show(args: argparse.Namespace, out: Path, summary: dict, plots: dict,
                    show: Callable[[dict, Path], None], files: dict[str, str] | None = None) -> int:
    """The tail of the commands whose result is a summary with pictures: write the
    directory atomically, then print the summary as JSON (`--json`) or as tables."""
    from .results import write_result_dir

    write_result_dir(out, summary, plots, files)
    if args.json:
        print(json.dumps(summary, indent=2, allow_nan=False))
    elif not args.quiet:
        show(summary, out)
    return EXIT_OK


def print_summary(summary: dict, out: Path) -> None:
    """The outcome table, the headline, and how the run went, on stdout."""
    from rich.console import Console
    from rich.table import Table

    console = Console(file=sys.stdout, highlight=False)
    table = Table(title=f"{summary['scenario']}: outcome of the summit", title_justify="left")
    table.add_column("outcome")
    table.add_column("probability", justify="right")
    table.add_column("95 % interval", justify="right")
    for name in CLASSES:
        e = summary["classes"][name]
        table.add_row(name.replace("_", " "), _fmt(e["p"]), f"[{_fmt(e['low'])}, {_fmt(e['high'])}]")
    console.print(table)
    h = summary["headline"]["substantive_or_better"]
    console.print(f"P(substantive or better) = {_fmt(h['p'])} [{_fmt(h['low'])}, {_fmt(h['high'])}]")
    rate = summary["replicates_per_second"]
    notes = []
    if summary["stopped_early"]:
        notes.append(f"stopped early at precision {summary['precision']}")
    if summary["interrupted"]:
        notes.append(f"interrupted, {summary['requested_runs']:,} requested")
    speed = f", {rate:,.0f} replicates/s" if rate is not None else ""
    console.print(
        f"{summary['runs']:,} replicates, seed entropy {summary['seed_entropy']}, "
        f"engine {summary['engine']}, {summary['seconds']:.2f} s{speed}" + "".join(f"; {n}" for n in notes),
        soft_wrap=True,
    )
    console.print(f"results: {out}", soft_wrap=True)


def _fmt(p: float | None) -> str:
    return "n/a" if p is None else f"{p:.3f}"


if __name__ == "__main__":
    raise SystemExit(main())
