"""Benchmark the summit of a large multilateral menu: 5 parties bargaining over 6 issues of
4 anchors each (4,096 packages), one core.

    python benchmarks/bench_summit.py [--runs 100000] [--repeat 5]

Prints, best and median of `--repeat` runs in this process (after a warm-up that loads the
numba cache): the whole model (`sim.run`) in replicates per second, and the summit alone
(valuing the anchors, then the compiled search of the menu) per replicate. The target
(issue 10) is 20,000 replicates a second for the whole run.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy is imported

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a source tree without installing

from sim import run  # noqa: E402
from sim.schema import Scenario  # noqa: E402

PARTIES, ISSUES, ANCHORS = 5, 6, 4


def make_scenario() -> Scenario:
    """Five parties with drawn positions and saliences over six 4-anchor issues, a mediator and
    a veto player, a trust group, an incident stream: a multilateral summit of the largest
    menu the benchmark's target names."""
    rng = np.random.default_rng(2026)
    issues = {f"i{k}": {"anchors": {f"a{j}": j / (ANCHORS - 1) for j in range(ANCHORS)}, "status_quo": 0.0}
              for k in range(ISSUES)}

    def agent(capability: float) -> dict:
        sal = rng.dirichlet(np.ones(ISSUES))
        sal = np.round(sal, 6)
        sal[-1] = round(1.0 - sal[:-1].sum(), 6)
        return {"capability": capability, "resolve": {"dist": "beta", "mean": 0.5, "sd": 0.1},
                "issues": {f"i{k}": {"position": {"dist": "uniform", "low": float(lo), "high": float(lo) + 0.3},
                                     "salience": float(sal[k])}
                           for k, lo in enumerate(rng.uniform(0.0, 0.7, ISSUES))}}

    parties = [f"p{k}" for k in range(PARTIES)]
    agents = {p: agent(1.0) for p in parties}
    agents["mediator"] = agent(0.5)
    agents["parliament"] = agent(0.8)
    return Scenario.model_validate({
        "name": "multilateral", "calendar": {"start": "2020-01-01", "vantage": "2020-01-01"},
        "issues": issues, "agents": agents,
        "relations": {"trust": {"between": parties, "initial": {"dist": "beta", "mean": 0.6, "sd": 0.1}}},
        "summit": {"parties": parties, "date": "2020-03-01", "cancellation": {"base_probability": 0.05},
                   "bargaining": {"margin": 0.02, "loss_aversion": 1.5, "credibility": 0.5}},
        "roles": {"mediators": [{"agent": "mediator", "trust": 0.2, "margin": 0.3}], "veto": ["parliament"]},
        "incidents": [{"name": "spat", "rate_per_month": 0.5, "effects": [{"target": "trust", "shift": -0.03}]}],
        "outcome": {"breakthrough": [{"all": [{"issue": "i0", "at_least": 1.0}, {"issue": "i1", "at_least": 1.0}]}],
                    "substantive": [{"any": [{"issue": f"i{k}", "at_least": 2 / 3} for k in range(ISSUES)]}]},
    })


def time_summit(scenario: Scenario, runs: int) -> float:
    """Seconds for the summits of `runs` replicates alone (anchor values and the menu search)."""
    from sim.model import compile_model
    from sim.randomness import BLOCK_SIZE, Blocks
    from sim.state import draw_state
    from sim.summit import bargain, record_summit

    model = compile_model(scenario)
    total = 0.0
    for first in range(0, -(-runs // BLOCK_SIZE), 8):
        blocks = Blocks(1, first, 8)
        state = draw_state(model, blocks)
        record_summit(model, state, np.arange(state.n))
        started = time.perf_counter()
        bargain(model, state, blocks)
        total += time.perf_counter() - started
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    scenario = make_scenario()
    run(scenario, runs=1024, seed=1)  # warm-up
    whole, summit, deals = [], [], 0.0
    for k in range(args.repeat):
        result = run(scenario, runs=args.runs, seed=k)
        whole.append(result.seconds)
        deals = result.deals / result.runs
        summit.append(time_summit(scenario, args.runs))
    rate = lambda s: args.runs / s  # noqa: E731
    print(f"{PARTIES} parties, {ISSUES} issues x {ANCHORS} anchors = {ANCHORS ** ISSUES:,} packages, "
          f"a mediator and a veto player; {args.runs:,} replicates, {args.repeat} repeats, one core")
    print(f"whole run:   best {min(whole):.3f} s ({rate(min(whole)):,.0f} replicates/s), "
          f"median {statistics.median(whole):.3f} s ({rate(statistics.median(whole)):,.0f}/s); target 20,000/s")
    print(f"summit only: best {min(summit):.3f} s ({min(summit) / args.runs * 1e6:.1f} us a replicate), "
          f"median {statistics.median(summit):.3f} s")
    print(f"P(deal) {deals:.3f}")


if __name__ == "__main__":
    main()
