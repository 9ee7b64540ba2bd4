"""`sweep`: a scenario over many values of some of its fields, resumable."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import InputError
from .common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    LIMIT_OPTIONS,
    SCENARIO_OPTIONS,
    arg,
    check_limits,
    command,
    count,
    option_problems,
    output_options,
    parse_overrides,
    said,
    say,
    show_warnings,
    stop_on_interrupt,
    task_workers,
    workers_rules,
)
from .progress import step_progress


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
    arg("--runs", type=count, metavar="R", help="replicates per point (default: the scenario's monte_carlo.runs)"),
    arg("--seed", type=int, metavar="S", help="root seed of every point (default: the scenario's, else fresh)"),
    arg("--workers", type=int, metavar="N",
        help="local worker processes, at most one a task (default: the usable cores, capped so that each has "
             "32 blocks of 1,024 replicates to run, 256 where processes are spawned rather than forked)"),
    arg("--scheduler", metavar="ADDRESS", help="run on the Dask cluster at ADDRESS, e.g. tcp://host:8786"),
    arg("--fresh", action="store_true", help="discard the sweep's finished points and start over"),
    *output_options("results/<scenario>/sweep-<key>, <key> naming the sweep, so that rerunning the same "
                    "command resumes it"), *LIMIT_OPTIONS,
)
def cmd_sweep(args: argparse.Namespace) -> int:
    from ..limits import add_output, estimate_output
    from ..randomness import blocks_for
    from ..sweep import make_sweep
    from ..sweep.driver import SWEEP_NAMES, default_sweep_dir, estimate_sweep, prepare_sweep, run_prepared, sweep_points
    from ..sweep.execute import check_scheduler
    from ..sweep.report import print_sweep
    from ..sweep.spec import sweep_notes

    overrides = parse_overrides(args.overrides)
    problems = option_problems(workers_rules(args))
    if problems:
        raise InputError(problems)
    sweep = make_sweep(args.scenario, args.vary, args.spec, design=args.design, points=args.points,
                       runs=args.runs, seed=args.seed, renormalise=args.renormalise, overrides=overrides)
    show_warnings(sweep.scenario, sweep.scenario_file, overrides)
    points = sweep_points(sweep)
    if args.scheduler is not None:
        check_scheduler(args.scheduler)  # before the points are validated, and the directory claimed
        workers = 1  # in this process: the points run on the cluster
    else:
        workers = task_workers(args, points, blocks_for(sweep.runs), note=False)
    limit = check_limits(args, add_output(estimate_sweep(sweep, workers), estimate_output(points, len(sweep.factors))),
                         f"this sweep ({points:,} points, one running on each worker)",
                         args.out or default_sweep_dir(sweep), names=SWEEP_NAMES)
    with stop_on_interrupt() as stop:
        ready = prepare_sweep(sweep, out=args.out, workers=args.workers, scheduler=args.scheduler, fresh=args.fresh,
                              force=args.force, stop=stop, max_memory=limit)
        # Notes about the work once nothing can refuse it: a sweep refused prints its errors only.
        for note in sweep_notes(sweep):
            say(f"note: {note}")
        if args.scheduler is None:
            task_workers(args, points, blocks_for(sweep.runs))
        with step_progress(args, "points") as progress:
            result = run_prepared(ready, progress=progress, stop=stop, notes=said())
    if args.json:
        print(json.dumps(result.summary, indent=2, allow_nan=False))
    elif not args.quiet:
        print_sweep(result)
    for warning in (result.analysis or {}).get("warnings", []):
        say(f"warning: {warning}")
    if result.interrupted:
        print(f"interrupted: {len(result.rows):,} of {result.n_points:,} points kept in {result.out}; "
              "rerun the same command to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_OK

