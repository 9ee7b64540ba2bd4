"""Time the EUM on one core: single runs, then the Monte Carlo cases with targets.

    python benchmarks/bench_eum.py [--repeat N] [--quick]

Each case runs N times (default 5) after a warm-up (compilation, or loading numba's
cache); it prints the best and median wall-clock seconds and replicates/s at the best.
Salience sd 0.05, 10 rounds, seed 2011.  Targets on a two-core machine: EU example,
10^5 replicates, < 1.5 s; Sultan (17 actors), 10^4 replicates, < 0.5 s; the baseline
scenario with `dynamics.engine: eum` (the EUM as the weekly rule: one round a week on
each of its three issues, about 100 rounds per replicate), 10^5 replicates, < 2 s
(`sim.run` on one worker, the whole forecast: timeline, summit and classes included).  Timings on a
shared machine are noisy: read the best.

Exactness fixes part of the cost: the replication calls the C library's pow, whose result
no vectorised or faster pow reproduces bit for bit, so the kernel calls it too.  The
column "pow floor" is the number of pow calls the case makes (counted by the kernel, in
an untimed run) times the time of one pow (measured below in a compiled loop on kernel-like
arguments): no exact kernel can beat it.  The published Python replication takes 1.6 s
(EU) and 43 s (Sultan) for one run.
"""

import os

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy and numba are imported, or it is too late

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numba  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a source tree without installing

import sim.eum.run as eum_run  # noqa: E402
from sim import Scenario, load_scenario, run  # noqa: E402
from sim.eum import load_actors_csv, run_eum, run_eum_monte_carlo  # noqa: E402

DATA = ROOT / "tests" / "data" / "eum"
SEED = 2011
CASES = [  # (data set, replicates, target seconds)
    ("ExampleActors", 100_000, 1.5),
    ("Sultan", 10_000, 0.5),
]
BASELINE = ROOT / "scenarios" / "baseline.yaml"
ENGINE_CASE = ("baseline, dynamics.engine=eum", 100_000, 2.0)


def _baseline_under_eum() -> Scenario:
    """The baseline with `--set dynamics.engine=eum`."""
    data = load_scenario(BASELINE).model_dump(mode="python", exclude_defaults=True)
    data.setdefault("dynamics", {})["engine"] = "eum"
    return Scenario.model_validate(data)


def _times(fn, repeat: int) -> list[float]:
    fn()  # warm-up: compile, or load the cache
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


@numba.njit(cache=False, nogil=True, error_model="numpy")
def _pows(base, r, out):  # pragma: no cover - compiled
    for i in range(base.size):
        out[i] = base[i] ** r[i]


def _pow_seconds(repeat: int) -> float:
    """Seconds per call of the C library's pow as the kernel calls it: bases in (0, 1),
    exponents in [0.5, 2] (the risk exponents' range); the best of ``repeat``."""
    rng = np.random.default_rng(SEED)
    base, r = rng.uniform(0.0, 1.0, 1_000_000), rng.uniform(0.5, 2.0, 1_000_000)
    out = np.empty_like(base)
    return min(_times(lambda: _pows(base, r, out), repeat)) / base.size


def _pow_calls(fn) -> int:
    """The pow calls of fn(), summed over every kernel run it makes."""
    calls, kernel = [], eum_run.run_batch
    eum_run.run_batch = lambda *args: calls.append(kernel(*args))
    try:
        fn()
    finally:
        eum_run.run_batch = kernel
    return sum(calls)


def _row(name: str, runs: int, times: list[float], calls: int, per_pow: float, target: float, quick: bool) -> str:
    best = min(times)
    verdict = "" if quick else f"< {target} s: {'met' if best < target else 'missed'}"
    return (f"{name + f', {runs:,} replicates':<50} {best:8.2f} {statistics.median(times):9.2f} "
            f"{runs / best:13,.0f} {calls:>12,} {calls * per_pow:6.2f} s  {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, metavar="N", help="timed runs per case (default 5)")
    parser.add_argument("--quick", action="store_true", help="a tenth of the replicates, no targets")
    args = parser.parse_args()
    print(f"numpy {np.__version__}, one thread; salience sd 0.05, 10 rounds, seed {SEED}, "
          f"best and median of {args.repeat}")
    for name, _, _ in CASES:
        a = load_actors_csv(DATA / f"{name}.csv")
        times = _times(lambda a=a: run_eum(a.capability, a.position, a.salience, rounds=10), args.repeat)
        print(f"{name}: one 10-round run {min(times) * 1e3:.2f} ms")
    per_pow = _pow_seconds(args.repeat)
    print(f"the C library's pow: {per_pow * 1e9:.1f} ns a call")
    print(f"\n{'case':<50} {'best s':>8} {'median s':>9} {'replicates/s':>13} {'pow calls':>12} {'floor':>8}  target")
    for name, runs, target in CASES:
        runs //= 10 if args.quick else 1
        a = load_actors_csv(DATA / f"{name}.csv")
        case = lambda a=a, runs=runs: run_eum_monte_carlo(a, SEED, runs, salience_sd=0.05)
        times = _times(case, args.repeat)
        print(_row(name, runs, times, _pow_calls(case), per_pow, target, args.quick))
    name, runs, target = ENGINE_CASE
    runs //= 10 if args.quick else 1
    scenario = _baseline_under_eum()
    case = lambda: run(scenario, runs=runs, seed=SEED, workers=1)
    times = _times(case, args.repeat)
    print(_row(name, runs, times, _pow_calls(case), per_pow, target, args.quick))

if __name__ == "__main__":
    main()
