"""Benchmark the main job: replicates per second, cost per agent-issue-week and
peak memory for 10^4 to 10^6 replicates of a scenario, against the
random-number floor (numpy drawing one standard normal per replicate, agent,
issue and week, from the engine's bit generator).

    python benchmarks/bench_run.py [SCENARIO] [--sizes 10000,100000,1000000] [--workers N]

Each size runs `--repeat` times, each in a fresh process (so peak memory is its
own; with workers, the parent's peak plus each child's) whose threads are pinned
to one; the first run of the engine in each process is a warm-up (numba's cache
load) that is not timed. With `--workers N` above 1, each size also runs on one
worker and the two are checked to be bit-identical (a digest of every replicate's
outcome, deal, summit day and positions, and of the fan chart's trajectories).
This machine is shared and noisy (the same run varies by up to 20 %), so the best
and the median are shown.

The floor was the engine's own cost once (it drew a weekly shock per agent and
issue); since noise became the summit-day deviation it draws far fewer numbers,
so the floor is now a yardstick of the same size as before, not a lower bound.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def measure(scenario: str, runs: int, chunk_size: int | None, workers: int) -> dict:
    import hashlib
    import resource

    import numpy as np

    from sim import load_scenario, run
    from sim.randomness import BIT_GENERATOR, BLOCK_SIZE

    s = load_scenario(scenario)
    run(s, runs=BLOCK_SIZE, seed=1)  # warm-up: numba's cached kernel, imports
    digest = hashlib.sha256()

    def sink(chunk) -> None:  # about 1 % of the run time
        for column in (chunk.outcome, chunk.package, chunk.summit_day, chunk.position):
            digest.update(np.ascontiguousarray(column).tobytes())

    result = run(s, runs=runs, seed=1, chunk_size=chunk_size, workers=workers, sink=sink)
    digest.update(result.trajectory.tobytes())
    m = result.model
    steps = len(m.ticks)
    draws = runs * m.n_agents * m.n_issues * steps

    # The floor: the same number of standard normals, from the engine's bit generator.
    rng = np.random.Generator(BIT_GENERATOR(np.random.SeedSequence(1)))
    buf = np.empty((m.n_agents, m.n_issues, BLOCK_SIZE))
    blocks = -(-runs // BLOCK_SIZE)
    started = time.perf_counter()
    for _ in range(blocks * steps):
        rng.standard_normal(out=buf)
    floor = time.perf_counter() - started

    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if workers > 1:  # the children's peaks (each at most the largest, which is what rusage gives)
        peak_kib += (workers - 1) * resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "runs": runs,
        "seconds": result.seconds,
        "replicates_per_second": runs / result.seconds,
        "ns_per_agent_issue_week": result.seconds / draws * 1e9,
        "floor_seconds": floor,
        "floor_ns_per_draw": floor / (blocks * steps * buf.size) * 1e9,
        "ratio_to_floor": result.seconds / floor,
        "peak_memory_mib": peak_kib / 1024,
        "agents": m.n_agents,
        "issues": m.n_issues,
        "weeks": steps,
        "chunk_size": result.chunk_size,
        "workers": result.workers,
        "digest": digest.hexdigest(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenario", nargs="?", default=str(ROOT / "scenarios" / "baseline.yaml"))
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--chunk-size", type=int, default=None)
    parser.add_argument("--workers", type=int, default=1,
                        help="processes a run uses (default 1); above 1, each size also runs on one, to compare")
    parser.add_argument("--repeat", type=int, default=3,
                        help="fresh processes per size; the best and the median are shown (default 3)")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.one is not None:
        print(json.dumps(measure(args.scenario, args.one, args.chunk_size, args.workers)))
        return 0

    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               NUMBA_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    print(f"{'runs':>9} {'workers':>7} {'best s':>7} {'median s':>8} {'repl/s':>9} {'ns/a-i-w':>9} {'floor s':>8} "
          f"{'x floor':>7} {'peak MiB':>9} {'same':>5}")
    worker_counts = [1, args.workers] if args.workers > 1 else [1]
    for size in (int(x) for x in args.sizes.split(",")):
        digests = {}
        for workers in worker_counts:
            cmd = [sys.executable, __file__, args.scenario, "--one", str(size), "--workers", str(workers)]
            if args.chunk_size:
                cmd += ["--chunk-size", str(args.chunk_size)]
            reps = []
            for _ in range(args.repeat):
                out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
                reps.append(json.loads(out.stdout.strip().splitlines()[-1]))
            digests[workers] = {x["digest"] for x in reps}
            same = "yes" if len(digests[workers] | digests[1]) == 1 else "NO"
            r = min(reps, key=lambda x: x["seconds"])  # the least disturbed run, as timeit reports
            median = statistics.median(x["seconds"] for x in reps)
            print(f"{r['runs']:>9,} {workers:>7} {r['seconds']:>7.2f} {median:>8.2f} "
                  f"{r['replicates_per_second']:>9,.0f} {r['ns_per_agent_issue_week']:>9.2f} "
                  f"{r['floor_seconds']:>8.2f} {r['ratio_to_floor']:>7.2f} "
                  f"{max(x['peak_memory_mib'] for x in reps):>9.0f} {same:>5}")
    print(f"({r['agents']} agents x {r['issues']} issues x {r['weeks']} weeks; chunk {r['chunk_size']}; "
          f"{args.repeat} runs a size, each in a fresh process: best and median shown, the other columns "
          f"from the best; floor = numpy standard normals from the engine's bit generator, one per "
          f"replicate-agent-issue-week, {r['floor_ns_per_draw']:.1f} ns each, timed in the same process on one "
          f"core; peak MiB = the largest over the runs of the parent's peak resident set plus, with workers, "
          f"each child's; same = every run's digest equals the one-worker runs')")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
