"""The baseline at a fixed seed against a committed summary.

When the model changes on purpose, regenerate the file deliberately:
    SIM_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py
and say in the commit message why the numbers moved.
"""

import json
import os
from pathlib import Path

import numpy as np

from sim import CLASSES, load_scenario, run

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).parent / "data" / "golden_baseline.json"
RUNS, SEED = 20_000, 20160601


def test_baseline_matches_the_committed_summary():
    """The baseline's class counts and top deals at seed 20160601 are exactly the committed ones."""
    result = run(load_scenario(ROOT / "scenarios" / "baseline.yaml"), runs=RUNS, seed=SEED)
    observed = {
        "runs": RUNS,
        "seed": SEED,
        "counts": dict(zip(CLASSES, map(int, result.counts))),
        "package_counts": [int(k) for k in result.package_counts],
    }
    if os.environ.get("SIM_UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(observed, indent=1) + "\n")
    expected = json.loads(GOLDEN.read_text())
    assert observed == expected
    assert np.isclose(sum(observed["counts"].values()), RUNS)
