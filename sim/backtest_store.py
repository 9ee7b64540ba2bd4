"""The cases a backtest has finished, kept in its result directory so that an interrupted
backtest resumes where it stopped.

`cases.json` holds one record a finished case: its outcome counts, replicates and seed
entropy, and what made them (the scenario's hash, --runs, --seed, the posterior's
digest). It is rewritten atomically as each case finishes, so a kill at any moment
leaves it whole. A rerun reuses a record only where all of that is the same, so a
resumed backtest holds the numbers an uninterrupted one would have.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .backtest import Case, CaseRun
from .errors import RunError
from .io import utc_now, write_json_atomic
from .model import CLASSES
from .provenance import model_digest
from .schema import scenario_hash

__all__ = ["CASES_FILE", "CaseStore"]

CASES_FILE = "cases.json"
FORMAT = "sim-backtest-cases/1"


class CaseStore:
    """The finished cases of one backtest's directory `out`, for the settings `runs`,
    `seed` (the options as given: None is each scenario's own) and `posterior`."""

    def __init__(self, out: Path, runs: int | None, seed: int | None, posterior=None):
        self.path = Path(out) / CASES_FILE
        # The model's code too: a case kept by other code is run again, not mixed into one summary.
        self.settings = {"runs": runs, "seed": seed, "posterior": None if posterior is None else posterior.digest(),
                         "model": model_digest()}
        self.records: dict[str, dict] = {}

    def identity(self, case: Case) -> dict:
        return {"scenario_hash": scenario_hash(case.scenario), **self.settings}

    def load(self, cases: list[Case]) -> dict[str, CaseRun]:
        """The kept forecasts of `cases` made with these settings; the other records are
        dropped (an unreadable file keeps nothing: every case runs again)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            records = data["cases"] if data.get("format") == FORMAT else []
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            records = []
        wanted = {c.name: self.identity(c) for c in cases}
        kept: dict[str, CaseRun] = {}
        for record in records if isinstance(records, list) else []:
            try:
                name = record["name"]
                if name in kept or wanted.get(name) != record["identity"]:
                    continue
                forecast = _forecast(record)
            except (KeyError, TypeError, ValueError):
                continue
            if (forecast.calibrated_counts is None) == (self.settings["posterior"] is None):
                kept[name], self.records[name] = forecast, record
        return kept

    def keep(self, case: Case, forecast: CaseRun) -> None:
        """Add a finished case and rewrite the file atomically."""
        self.records[case.name] = {
            "name": case.name, "identity": self.identity(case), "runs": forecast.runs,
            "entropy": forecast.entropy, "counts": [int(n) for n in forecast.counts],
            "calibrated_counts": None if forecast.calibrated_counts is None
            else [int(n) for n in forecast.calibrated_counts],
            "calibration": forecast.calibration, "seconds": round(forecast.seconds, 6), "finished": utc_now()}
        try:
            write_json_atomic(self.path, {"format": FORMAT, "cases": list(self.records.values())})
        except OSError as exc:
            raise RunError(f"cannot keep the finished case {case.name} in {self.path}: {exc.strerror or exc}") from None


def _forecast(record: dict) -> CaseRun:
    """The forecast a record keeps; a `ValueError` where it is not one sim wrote (a hand edit):
    that case is run again rather than scored from impossible counts."""
    runs = record["runs"]
    if not isinstance(runs, int) or isinstance(runs, bool) or runs < 1:
        raise ValueError("runs is not a positive integer")
    counts = _counts(record["counts"], runs)
    calibrated = record.get("calibrated_counts")
    calibration = record.get("calibration")
    if calibrated is not None:
        calibrated = _counts(calibrated, runs)
    if (calibrated is None) != (calibration is None) or not (calibration is None or isinstance(calibration, dict)):
        raise ValueError("calibrated counts without their calibration, or the other way round")
    return CaseRun(counts, runs, int(record["entropy"]), calibrated, calibration, float(record.get("seconds", 0.0)))


def _counts(values, runs: int) -> np.ndarray:
    """Counts of the classes: one non-negative integer a class, adding up to `runs`."""
    if (not isinstance(values, list) or len(values) != len(CLASSES)
            or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in values)
            or sum(values) != runs):
        raise ValueError("counts are not one count a class adding up to the runs")
    return np.array(values, dtype=float)
