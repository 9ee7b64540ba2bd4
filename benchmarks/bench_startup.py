"""Benchmark start-up: the cost from the shell to the first replicate, and whole commands.

    python benchmarks/bench_startup.py [--repeat 5] [--runs 1000000]

Each line is the best of `--repeat` fresh processes (the machine is shared and noisy):

- the interpreter alone (`python -c pass`);
- to the first replicate, in phases, as `python -m sim run` takes them: the command
  line's modules (parser and subcommands), the scenario loaded and compiled, the
  engine's modules, and the first block of 1,024 replicates (which loads numba's
  cached kernels: the first run after installing or editing a kernel compiles them
  instead, about 20 s, once);
- `python -m sim --help`;
- `python -m sim run scenarios/baseline.yaml --quiet` as a whole process, for 1,024
  replicates and for `--runs` (default workers), with the run's own seconds from its
  summary.json, so that what is not the run (start-up, writing, plots) shows.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"

PHASES = f"""
import time
t0 = time.perf_counter()
import sim.cli
t1 = time.perf_counter()
from sim.loading import load_scenario
from sim.model import compile_model
model = compile_model(load_scenario({str(BASELINE)!r}))
t2 = time.perf_counter()
from sim.montecarlo import simulate_chunk
t3 = time.perf_counter()
simulate_chunk(model, 1, 1024, 0, 1)
t4 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2, t4 - t3)
"""


def best_of(repeat: int, cmd: list[str]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT)
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--runs", type=int, default=1_000_000)
    args = parser.parse_args()
    python = sys.executable

    interpreter = best_of(args.repeat, [python, "-c", "pass"])
    phases = []
    for _ in range(args.repeat):
        out = subprocess.run([python, "-c", PHASES], check=True, capture_output=True, text=True, cwd=ROOT)
        phases.append([float(x) for x in out.stdout.split()])
    phases.sort(key=sum)
    cli, scenario, engine, first = phases[0]
    print(f"{'interpreter (python -c pass)':<48} {interpreter:6.2f} s")
    print(f"{'to the first replicate, after the interpreter:':<48} {sum(phases[0]):6.2f} s")
    print(f"{'  command line (import sim.cli)':<48} {cli:6.2f} s")
    print(f"{'  scenario loaded and compiled':<48} {scenario:6.2f} s")
    print(f"{'  engine modules (montecarlo, timeline, summit)':<48} {engine:6.2f} s")
    print(f"{'  first block (numba cache load, 1,024 reps)':<48} {first:6.2f} s")
    print(f"{'python -m sim --help':<48} {best_of(args.repeat, [python, '-m', 'sim', '--help']):6.2f} s")
    with tempfile.TemporaryDirectory() as tmp:
        for runs in (1024, args.runs):
            wall, own = [], []
            for k in range(args.repeat if runs <= 100_000 else min(args.repeat, 3)):
                out = Path(tmp) / f"r{runs}-{k}"
                started = time.perf_counter()
                subprocess.run([python, "-m", "sim", "run", str(BASELINE), "--runs", str(runs), "--quiet",
                                "--out", str(out)], check=True, cwd=ROOT, env=dict(os.environ))
                wall.append(time.perf_counter() - started)
                own.append(json.loads((out / "summary.json").read_text())["seconds"])
            k = min(range(len(wall)), key=wall.__getitem__)
            label = f"python -m sim run baseline --runs {runs:,}"
            print(f"{label:<48} {wall[k]:6.2f} s (the run itself {own[k]:.2f} s)")
    print(f"(best of {args.repeat} fresh processes each; {os.cpu_count()} cores; the run of --runs uses the "
          "default workers)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
