"""Time the EUM kernel on one core: single runs, then 10^4 and 10^5 Monte Carlo replicates.

    python benchmarks/bench_eum.py [--quick]

Targets: 10^4 replicates of the EU example under 2 s, of Sultan under 10 s.  The
reference replication takes 1.6 s (EU) and 43 s (Sultan) for one run.
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy is imported, or it is too late

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a source tree without installing

from sim.eum import default_chunk_size, load_actors_csv, run_eum, run_eum_monte_carlo  # noqa: E402

DATA_DIRS = [ROOT / "tests" / "data" / "eum", ROOT.parent / "shared" / "data" / "eum"]
CHUNKS = (64, 128, 256, 512, 1024, 2048, 4096, 8192)
SEED = 2011


def _data(name: str) -> Path:
    for folder in DATA_DIRS:
        if (folder / name).is_file():
            return folder / name
    sys.exit(f"error: {name} not found in {', '.join(map(str, DATA_DIRS))}")


def _best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the 10^5 runs")
    args = parser.parse_args()
    print(f"numpy {np.__version__}, one thread; salience sd 0.05, 10 rounds, seed {SEED}")
    for name in ("ExampleActors.csv", "Sultan.csv"):
        actors = load_actors_csv(_data(name))
        n = len(actors.names)
        single = _best_of(lambda: run_eum(actors.capability, actors.position, actors.salience), 5)
        print(f"\n{name} ({n} actors): single 10-round run {single * 1e3:.2f} ms (best of 5)")

        def mc(size, chunk):
            return run_eum_monte_carlo(actors, SEED, size, salience_sd=0.05,
                                       chunk_size=chunk)

        sweep = {chunk: _best_of(lambda: mc(10_000, chunk), 3) for chunk in CHUNKS}
        print("  10^4 replicates by chunk size: "
              + ", ".join(f"{c}: {t:.2f} s" for c, t in sweep.items()))
        default = default_chunk_size(n)
        best = min(sweep, key=sweep.get)
        sizes = (10_000,) if args.quick else (10_000, 100_000)
        for size in sizes:
            seconds = sweep[default] if size == 10_000 else _best_of(lambda: mc(size, default), 1)
            print(f"  {size:>7,} replicates, chunk {default} (default): {seconds:6.2f} s, "
                  f"{size / seconds:9,.0f} replicates/s")
        print(f"  fastest chunk measured: {best} ({sweep[best]:.2f} s for 10^4)")


if __name__ == "__main__":
    main()
