"""Benchmark a sweep: a 100-point grid at 20,000 replicates a point on 2 workers
(DESIGN section 7: under 2 minutes on this 2-core machine).

    python benchmarks/bench_sweep.py [SCENARIO] [--runs 20000] [--workers 2] [--levels 10]

The grid is Russia's mean resolve x the mean initial trust (10 x 10 levels).
Each measurement starts from an empty result directory, in a fresh process pool,
so the figures include the workers' start-up (spawn, imports, numba's cached
kernel). Reported:

- seconds: the whole sweep, and its phases (`sim.sweep.driver.TIMING`):
  validating every point's scenario, the workers' start-up, running (start-up,
  simulation, SQLite commits, up to the last result), exporting (CSV, plots);
- simulation: summed over the points (what the workers are for; it includes
  each worker's first load of numba's cached kernel);
- overhead per point: (seconds x workers - simulation) / points, all worker
  time not spent simulating, spread over the points;
- dispatch: the workers' idle time between consecutive tasks (shipping a task
  and its result, the parent's commits), per task and as a share of a task's
  simulation: the cost the task size is chosen to keep under 1 %.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default=str(ROOT / "scenarios" / "baseline.yaml"))
    parser.add_argument("--runs", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--levels", type=int, default=10, help="levels per factor (points: levels squared)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from sim.sweep import make_sweep, run_sweep

    n = args.levels
    sweep = make_sweep(Path(args.scenario), [f"agents.russia.resolve.mean=0.5:0.9:{n}",
                                             f"relations.trust.initial.mean=0.25:0.55:{n}"],
                       None, runs=args.runs, seed=20160601)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        result = run_sweep(sweep, out=Path(tmp) / "sweep", workers=args.workers)
        seconds = time.perf_counter() - started
    points, workers = len(result.rows), max(1, result.workers)
    t = result.timing
    tasks = result.tasks
    gap_per_task = t["dispatch_gap"] / max(1, tasks - workers)
    figures = {
        "points": points,
        "runs_per_point": args.runs,
        "workers": workers,
        "seconds": round(seconds, 2),
        **{f"{k}_seconds": round(v, 3) for k, v in t.items()},
        "simulation_per_point_seconds": round(t["compute"] / points, 4),
        "overhead_per_point_seconds": round((seconds * workers - t["compute"]) / points, 4),
        "dispatch_gap_per_task_seconds": round(gap_per_task, 5),
        "dispatch_share_of_task": round(gap_per_task / (t["compute"] / tasks), 5),
        "replicates_per_second": round(points * args.runs / seconds),
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"{points} points x {args.runs:,} replicates on {workers} workers: {seconds:.1f} s "
          f"(target: under 120 s), {figures['replicates_per_second']:,} replicates/s")
    print(f"phases: validate {t['validate']:.2f} s, workers' start-up {t['startup']:.2f} s, running "
          f"{t['running']:.2f} s (start-up to last result), export and plots {t['export']:.2f} s")
    print(f"simulation {t['compute']:.1f} s summed over workers ({t['compute'] / points * 1000:.0f} ms a point)")
    print(f"overhead per point: {figures['overhead_per_point_seconds'] * 1000:.1f} ms all told "
          f"(start-up, export, plots, the last task's wait included)")
    print(f"dispatch: {gap_per_task * 1000:.2f} ms idle between tasks per task, "
          f"{figures['dispatch_share_of_task']:.2%} of a task's simulation ({tasks} tasks)")

if __name__ == "__main__":
    main()
