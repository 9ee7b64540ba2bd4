"""`sweep`: a scenario over many values of some of its fields, resumable."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import InputError, Problem
from .common import EXIT_INTERRUPTED, EXIT_OK, OUTPUT_OPTIONS, SCENARIO_OPTIONS, arg, command, parse_overrides


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
    from ..sweep import make_sweep, run_sweep
    from ..sweep.report import PointProgress, print_sweep

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
