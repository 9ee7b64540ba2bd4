"""`eum`: the expected-utility model on an actors CSV, once or as a Monte Carlo.

The work is refused up front when its memory would exceed what is available
(`limits.estimate_eum`), and it runs on a worker thread while this one waits: the
compiled kernels release the GIL but return to Python only when their call ends, so
without the wait a Ctrl-C (or SIGTERM) would be heard only then."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..errors import InputError, Problem
from ..reporting import compiling_note, plural
from ..schema.rules import MAX_EUM_ROUNDS
from .common import (
    EXIT_OK,
    LIMIT_OPTIONS,
    arg,
    command,
    count,
    fmt,
    option_problems,
    runs_rules,
)
from .progress import progress_bar, step_progress

ROUNDS_PROGRESS_AT = 300
"""Actors from which a single run shows its rounds' progress on a terminal: a round is
O(n^3): 0.2 s at 300 actors, 1.6 s at 600, minutes at thousands."""

VARIANT_NAMES = ("scholz", "paper")
"""`sim.eum.VARIANTS`, named here so that building the parser does not import the compiled
EUM kernels (a third of a second of every command's start-up); a test keeps them equal."""


@command(
    "eum", "run the expected-utility model on an actors CSV; with --runs, a Monte Carlo over perturbed inputs",
    arg("actors", type=Path, metavar="ACTORS.csv",
        help="comma-separated UTF-8 file with columns Actor, Capability (>= 0), Position (any scale), "
             "Salience (0 to 1), one row per actor"),
    arg("--rounds", type=int, default=10, metavar="N",
        help=f"bargaining rounds, 1 to {MAX_EUM_ROUNDS:,} (default: 10)"),
    arg("--variant", choices=VARIANT_NAMES, default="scholz",
        help="scholz: the Scholz et al. replication, quirks included; paper: our reading of the papers"),
    arg("--q", type=float, default=1.0, metavar="Q",
        help="probability that the status quo holds, in [0, 1] (default: 1)"),
    arg("--json", action="store_true",
        help="print the file, variant and q, the rounds (and the Monte Carlo summary) as JSON, nothing else"),
    arg("--runs", type=count, metavar="N", help="Monte Carlo replicates of perturbed inputs (default: none)"),
    arg("--salience-sd", type=float, metavar="S", help="sd of the normal noise on each salience, clipped to [0, 1]"),
    arg("--capability-sd", type=float, metavar="S", help="sd of the normal noise on each capability, clipped at 0"),
    arg("--position-sd", type=float, metavar="S",
        help="sd of the normal noise on each position, clipped to the initial range"),
    arg("--seed", type=int, metavar="K", help="root seed of the perturbations (default: fresh entropy, printed)"),
    arg("--threshold", type=float, metavar="T", help="also report P(final median >= T) with its 95 %% interval"),
    arg("--chunk-size", type=count, metavar="K", help="replicates per batch; trades memory for speed only"),
    arg("--progress", action="store_true",
        help="show progress on stderr: the run's rounds (by default only on a terminal, from "
             f"{ROUNDS_PROGRESS_AT} actors), then the Monte Carlo's replicates (by default only on a "
             "terminal, from 50,000 replicates or 20 actors)"),
    *(a for a in LIMIT_OPTIONS if "--max-memory" in a[0]),
)
def cmd_eum(args: argparse.Namespace) -> int:
    from ..eum import load_actors_csv
    from ..eum.summary import summarise_monte_carlo, summarise_run

    mc_options = {"--salience-sd": args.salience_sd, "--capability-sd": args.capability_sd,
                  "--position-sd": args.position_sd, "--seed": args.seed, "--threshold": args.threshold,
                  "--chunk-size": args.chunk_size}
    rules = (
        ("--rounds", args.rounds, lambda v: v >= 1, "must be >= 1"),
        ("--rounds", args.rounds, lambda v: v < 1 or v <= MAX_EUM_ROUNDS, f"must be at most {MAX_EUM_ROUNDS:,}"),
        ("--q", args.q, lambda v: 0 <= v <= 1, "must be in [0, 1]"),
        *runs_rules(args.runs),
        *((name, mc_options[name], lambda v: math.isfinite(v) and v >= 0, "must be a finite number >= 0")
          for name in ("--salience-sd", "--capability-sd", "--position-sd")),
        ("--seed", args.seed, lambda v: v >= 0, "must be >= 0"),
        ("--threshold", args.threshold, math.isfinite, "must be a finite number"),
        ("--chunk-size", args.chunk_size, lambda v: v >= 1, "must be >= 1"),
    )
    problems = option_problems(rules)
    if args.runs is None:  # silently ignoring a Monte Carlo option would mislead
        problems += [Problem(name, "", "applies only with --runs N", value, not isinstance(value, bool))
                     for name, value in mc_options.items() if value is not None]
    try:
        actors = load_actors_csv(args.actors)  # a FIFO, a device or a file above 8 MiB is refused unread
    except InputError as exc:
        problems += exc.problems
    if problems:
        raise InputError(problems)
    limit = _check_memory(args, len(actors.names))

    # One display at a time (rich allows no two): the run's rounds, then the replicates.
    with _rounds_progress(args, len(actors.names)) as on_round:
        report = _interruptible(summarise_run, actors, rounds=args.rounds, variant=args.variant, q=args.q,
                                progress=on_round, max_memory=limit)
    if args.runs is not None:
        with progress_bar(args, args.runs, large=len(actors.names) >= 20) as progress:
            report["monte_carlo"] = _interruptible(
                summarise_monte_carlo, actors, runs=args.runs, rounds=args.rounds, variant=args.variant, q=args.q,
                seed=args.seed, salience_sd=args.salience_sd or 0.0, capability_sd=args.capability_sd or 0.0,
                position_sd=args.position_sd or 0.0, threshold=args.threshold, chunk_size=args.chunk_size,
                progress=progress, max_memory=limit)
    if args.json:  # the settings first, as the text's first line: a saved file says which model it ran
        report = {"actors": str(args.actors), "variant": args.variant, "q": args.q, **report}
        print(json.dumps(report, indent=2, allow_nan=False))
    else:
        _print_eum(report, args, fresh_seed=args.seed is None)
    return EXIT_OK


@contextlib.contextmanager
def _rounds_progress(args: argparse.Namespace, n_actors: int) -> Iterator[Callable[[int, int], None] | None]:
    """A `progress(done, rounds)` callback for the run's rounds, or None: wanted with
    --progress, else on a terminal from `ROUNDS_PROGRESS_AT` actors (`progress.wanted`)."""
    if not args.progress and n_actors < ROUNDS_PROGRESS_AT:
        yield None
        return
    with step_progress(args, "rounds") as steps:
        if steps is not None:
            steps.start(args.rounds, 0)
        yield None if steps is None else (lambda done, rounds: steps.advance(1))


def _check_memory(args: argparse.Namespace, n_actors: int) -> int | None:
    """Refuse a run whose estimated memory exceeds --max-memory, else the memory available.
    Returns the limit it was held to, for the library's own check (`limits.check_resources`)."""
    from ..eum import default_chunk_size
    from ..limits import check_resources, estimate_eum

    chunk = args.chunk_size if args.chunk_size is not None else default_chunk_size(n_actors)
    work = estimate_eum(n_actors, args.rounds, args.runs, chunk, args.variant)
    return check_resources(work, what="this eum run", max_memory=args.max_memory)


def _interruptible(func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """`func(*args, **kwargs)` on a worker thread, this (the main) thread waiting for it in
    short joins, so that Ctrl-C and SIGTERM interrupt the wait at once (`cli.main` then exits
    130, nothing printed). The interrupted worker is a daemon, abandoned: its result is
    never used and it ends with the process."""
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["value"] = func(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - re-raised below, in the main thread
            outcome["error"] = exc

    worker = threading.Thread(target=work, name="sim-eum", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(0.1)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _print_eum(report: dict, args: argparse.Namespace, fresh_seed: bool) -> None:
    """Per round the median, the mean and who moved where; then the Monte Carlo summary."""
    rounds = report["rounds"]
    names = list(rounds[0]["positions"])
    width = max(map(len, names))
    print(f"{args.actors}: {len(names)} actors, {plural(args.rounds, 'round')}, variant {args.variant}, "
          f"q {args.q:g}")
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
    sds = (mc["salience_sd"], mc["capability_sd"], mc["position_sd"])
    start = rounds[0]["positions"].values()
    moot = sds[2] > 0 and max(start) == min(start)  # clipped to a range of width 0: no noise at all
    position = f"position sd {sds[2]:g}" + (" (no effect: positions are clipped to their initial range, here one point)"
                                             if moot else "")
    same = (": no perturbation, every replicate is the run above"
            if not any(sds[:2]) and (not sds[2] or moot) else "")
    print(f"Monte Carlo, final median after round {args.rounds} (salience sd {sds[0]:g}, "
          f"capability sd {sds[1]:g}, {position}{same}):")
    interval = (f" [{fm['low']:.3f}, {fm['high']:.3f}] (95 %)" if fm["low"] is not None
                else " (one replicate: no interval)")
    print(f"  mean {fm['mean']:.3f}{interval}, sd {fm['sd']:.3f}; quantiles 0.05 {qs['0.05']:.3f}, "
          f"0.5 {qs['0.5']:.3f}, 0.95 {qs['0.95']:.3f}")
    if "p_at_least" in mc:
        e = mc["p_at_least"]
        print(f"  P(final median >= {e['threshold']:g}) = {fmt(e['estimate'])} "
              f"[{fmt(e['low'])}, {fmt(e['high'])}] (Wilson 95 %)")
    rate = mc["replicates_per_second"]
    speed = "" if rate is None else f", {rate:,.0f} replicates/s" if rate >= 10 else f", {rate:.2g} replicates/s"
    again = f" (fresh entropy; --seed {mc['seed']} repeats this run)" if fresh_seed else ""
    print(f"{plural(mc['runs'], 'replicate')}, seed entropy {mc['seed']}{again}, {mc['seconds']:.2f} s{speed}"
          f"{compiling_note(mc)}")
