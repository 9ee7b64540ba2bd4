"""Time `sim.canonical.make_canon` (the labels that key every random stream) on the baseline and
on the hardest scenarios for it: parties alike in every number whose trusts form symmetric
shapes that colour refinement cannot split, so the labeller sets members apart and searches.

    python benchmarks/bench_canon.py [--repeat N]

For each case: the parties, how many labellings the search met (leaves), and the best and median
wall-clock seconds of N calls (default 5). Before the search pruned by the symmetries it finds,
three rings of five took 157 s and a ring of 16, 5 s (the hunt that found it, December 2026).
Timings on a shared machine are noisy: read the best.
"""

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sim import load_scenario  # noqa: E402
from sim.canonical import _Labeller, make_canon  # noqa: E402
from sim.schema import Scenario  # noqa: E402
from sim.yamlfile import read_yaml_file  # noqa: E402


def alike(trust: dict[tuple[int, int], float], n: int) -> Scenario:
    """`n` parties alike in every number (tests/data/twins/cycles.yaml's), trusting each other
    `trust[i, j]`, else 0.5."""
    data = read_yaml_file(ROOT / "tests" / "data" / "twins" / "cycles.yaml")
    names = [f"g{k:02d}" for k in range(n)]
    data["agents"] = {**{name: copy.deepcopy(data["agents"]["c0"]) for name in names}, "u": data["agents"]["u"]}
    data["relations"]["trust"] = [{"between": [names[i], names[j]], "initial": trust.get((i, j), 0.5)}
                                  for i in range(n) for j in range(i + 1, n)]
    data["summit"]["parties"] = names
    return Scenario.model_validate(data)


def rings(*sizes: int) -> Scenario:
    trust, start = {}, 0
    for n in sizes:
        for k in range(n):
            i, j = sorted((start + k, start + (k + 1) % n))
            trust[i, j] = 0.9
        start += n
    return alike(trust, sum(sizes))


def petersen() -> Scenario:
    edges = [(i, (i + 1) % 5) for i in range(5)] + [(5 + i, 5 + (i + 2) % 5) for i in range(5)]
    edges += [(i, i + 5) for i in range(5)]
    return alike({tuple(sorted(e)): 0.9 for e in edges}, 10)


def rook(k: int) -> Scenario:
    cells = [(r, c) for r in range(k) for c in range(k)]
    return alike({(i, j): 0.9 for i in range(k * k) for j in range(i + 1, k * k)
                  if cells[i][0] == cells[j][0] or cells[i][1] == cells[j][1]}, k * k)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    cases = {"baseline.yaml": load_scenario(ROOT / "scenarios" / "baseline.yaml"),
             "ring of 16": rings(16), "two rings of 8": rings(8, 8), "three rings of 5": rings(5, 5, 5),
             "Petersen graph": petersen(), "4 x 4 rook graph": rook(4)}
    leaf = _Labeller._leaf
    met = [0]

    def counted(self, colour):
        met[0] += 1
        return leaf(self, colour)

    _Labeller._leaf = counted
    print(f"{'case':>18} {'agents':>6} {'leaves':>6} {'best s':>8} {'median s':>8}")
    for name, scenario in cases.items():
        times = []
        for _ in range(args.repeat):
            met[0] = 0
            start = time.perf_counter()
            make_canon(scenario)
            times.append(time.perf_counter() - start)
        print(f"{name:>18} {len(scenario.agents):>6} {met[0]:>6} {min(times):>8.3f} {statistics.median(times):>8.3f}")


if __name__ == "__main__":
    main()
