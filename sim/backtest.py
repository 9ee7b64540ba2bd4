"""Backtests: the model's forecasts of past meetings, scored against honest references.

A case is a scenario with an `observed:` block (the coded class of a meeting
that has happened). `run_backtest` forecasts every case and sets beside each
forecast two references a forecaster would have had at the case's vantage: the
base rate of the classes among the meetings before it (`base_rate_forecast`,
no look-ahead) and the uniform forecast. `summarise_backtest` gives the mean
multi-class Brier and log scores with bootstrap intervals on the differences,
and the tables of a reliability diagram (`sim.backtest_report` draws it).
Scores follow Brier (1950), "Verification of forecasts expressed in terms of
probability", and Gneiting & Raftery (2007), "Strictly proper scoring rules".
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from .errors import InputError, Problem
from .model import CLASSES
from .montecarlo import run, wilson
from .loading import load_scenario
from .schema import Scenario

__all__ = [
    "CLIP",
    "Backtest",
    "Case",
    "Meeting",
    "base_rate_forecast",
    "bootstrap_difference",
    "brier_score",
    "find_cases",
    "load_cases",
    "load_meetings",
    "log_score",
    "parse_meeting_date",
    "reliability_table",
    "run_backtest",
    "score_forecasts",
    "summarise_backtest",
]

CLIP = 1e-6
"""Probabilities are clipped to at least this in the log score: a model that gives an
observed class probability 0 scores -log(1e-6) = 13.8 on that case, not infinity."""
UNIFORM = np.full(len(CLASSES), 1.0 / len(CLASSES))
RESAMPLES = 2000
BOOTSTRAP_SEED = 20160601
RELIABILITY_BINS = (0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0)
REFERENCES = ("base_rate", "uniform")


# --- Scores -----------------------------------------------------------------------------


def brier_score(p: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """Multi-class Brier score of each forecast, sum_k (p_k - y_k)^2, in [0, 2] (0 best).

    p: (n_cases, n_classes) probabilities; observed: (n_cases,) class indices.
    """
    p = np.atleast_2d(np.asarray(p, dtype=float))
    y = np.zeros_like(p)
    y[np.arange(len(p)), np.asarray(observed, dtype=int)] = 1.0
    return ((p - y) ** 2).sum(axis=1)


def log_score(p: np.ndarray, observed: np.ndarray, clip: float = CLIP) -> np.ndarray:
    """Log score of each forecast, -ln p(observed class), p clipped to at least `clip` (0 best)."""
    p = np.atleast_2d(np.asarray(p, dtype=float))
    return -np.log(np.maximum(p[np.arange(len(p)), np.asarray(observed, dtype=int)], clip))


def score_forecasts(p: np.ndarray, observed: np.ndarray) -> dict[str, np.ndarray]:
    """Per-case Brier and log scores, as {"brier": (n,), "log": (n,)}."""
    return {"brier": brier_score(p, observed), "log": log_score(p, observed)}


def bootstrap_difference(a: np.ndarray, b: np.ndarray, rng: np.random.Generator,
                         resamples: int = RESAMPLES, level: float = 0.95) -> tuple[float, float, float]:
    """Mean of a - b over cases, with a percentile bootstrap interval from resampling
    cases with replacement (paired: a case's two scores stay together)."""
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if d.size == 0:
        return math.nan, math.nan, math.nan
    idx = rng.integers(0, d.size, size=(resamples, d.size))
    means = d[idx].mean(axis=1)
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(d.mean()), float(low), float(high)


# --- The reference: base rates of earlier meetings ------------------------------------------


@dataclass(frozen=True)
class Meeting:
    """One coded meeting: the day its outcome was known (its last day) and its class."""

    date: dt.date
    outcome: int  # index into CLASSES
    label: str  # the date as the table writes it


_DATE = re.compile(r"^\s*(\d{4})-(\d{2})(?:-(\d{2})(?:/(\d{2}))?)?")


def parse_meeting_date(text: str) -> dt.date:
    """The last day a meeting's outcome could be unknown: '1973-10-07/10' -> 1973-10-10;
    a month alone ('2012-12 (planned)') -> its last day, so that a meeting counts as
    earlier than a vantage only if it surely was."""
    m = _DATE.match(text)
    if m is None:
        raise ValueError(f"not a date like 2016-05-06, 1973-10-07/10 or 2012-12 (got {text!r})")
    year, month = int(m[1]), int(m[2])
    if m[3] is None:
        nxt = dt.date(year + month // 12, month % 12 + 1, 1)
        return nxt - dt.timedelta(days=1)
    return dt.date(year, month, int(m[4] or m[3]))


def load_meetings(path: str | Path) -> list[Meeting]:
    """The coded meetings of a CSV with columns `date` and `outcome` (class names in any case)."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(Problem(str(path), "", f"cannot read meetings: {exc}")) from None
    meetings, problems = [], []
    for k, row in enumerate(rows, start=2):  # line 1 is the header
        try:
            date = parse_meeting_date(row.get("date") or "")
        except ValueError as exc:
            problems.append(Problem(str(path), f"line {k}.date", str(exc)))
            continue
        outcome = (row.get("outcome") or "").strip().lower()
        if outcome not in CLASSES:
            problems.append(Problem(str(path), f"line {k}.outcome", f"must be one of {', '.join(CLASSES)}",
                                    row.get("outcome"), True))
            continue
        meetings.append(Meeting(date, CLASSES.index(outcome), row["date"].strip()))
    if not rows:
        problems.append(Problem(str(path), "", "holds no meetings (need columns date, outcome)"))
    if problems:
        raise InputError(problems)
    return meetings


def base_rate_forecast(meetings: list[Meeting], before: dt.date, prior: float = 1.0) -> np.ndarray:
    """The classes' frequencies among meetings whose outcome was known before `before`,
    smoothed by a symmetric Dirichlet(prior, ...) prior: (n_k + prior) / (n + K prior).
    With no earlier meeting it is the uniform forecast."""
    counts = np.zeros(len(CLASSES))
    for m in meetings:
        if m.date < before:
            counts[m.outcome] += 1
    return (counts + prior) / (counts.sum() + prior * len(CLASSES))


# --- Cases -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    path: Path
    scenario: Scenario

    @property
    def name(self) -> str:
        return self.scenario.name

    @property
    def observed(self) -> int:
        return CLASSES.index(self.scenario.observed.outcome)


def find_cases(directory: str | Path) -> list[Path]:
    """The YAML files of `directory` (sorted) whose top level has an `observed:` key;
    others (a shared `_base.yaml`, a `calibration.yaml`) are not cases."""
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError(Problem(str(directory), "", "is not a directory of scenarios"))
    paths = []
    for path in sorted(directory.glob("*.yaml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            data = {"observed": None}  # let load_scenario report it properly
        if isinstance(data, dict) and "observed" in data:
            paths.append(path)
    if not paths:
        raise InputError(Problem(str(directory), "", "holds no scenario with an `observed:` block"))
    return paths


def load_cases(directory: str | Path, overrides: dict[str, Any] | None = None) -> list[Case]:
    """Every case of `directory`, validated; every problem of every file at once."""
    cases, problems = [], []
    for path in find_cases(directory):
        try:
            scenario = load_scenario(path, overrides=overrides)
        except InputError as exc:
            problems += exc.problems
            continue
        if scenario.observed is None:
            problems.append(Problem(str(path), "observed", "must be an observed outcome, not empty"))
            continue
        cases.append(Case(path, scenario))
    if problems:
        raise InputError(problems)
    names = [c.name for c in cases]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InputError(Problem(str(directory), "name", "cases must have distinct names", ", ".join(repeated), True))
    return sorted(cases, key=lambda c: (c.scenario.observed.date, c.name))


# --- Running ---------------------------------------------------------------------------


@dataclass
class Backtest:
    """Forecasts of every case, shapes (n_cases, n_classes), rows in case order."""

    cases: list[Case]
    counts: np.ndarray  # replicates per class
    runs: np.ndarray  # (n_cases,) replicates per case
    entropy: list[int]  # root seed entropy per case
    base_rate: np.ndarray
    uniform: np.ndarray
    seconds: float

    @property
    def model(self) -> np.ndarray:
        return self.counts / self.runs[:, None]

    @property
    def observed(self) -> np.ndarray:
        return np.array([c.observed for c in self.cases], dtype=int)

    def forecasts(self) -> dict[str, np.ndarray]:
        return {"model": self.model, "base_rate": self.base_rate, "uniform": self.uniform}


def run_backtest(cases: list[Case], meetings: list[Meeting], runs: int | None = None, seed: int | None = None,
                 progress: Callable[[int, int], None] | None = None) -> Backtest:
    """Forecast every case (`runs` and `seed` default to each scenario's own) and its
    references; the base rate of a case counts the meetings known before its vantage."""
    counts, n_runs, entropy = [], [], []
    started = time.perf_counter()
    for k, case in enumerate(cases):
        result = run(case.scenario, runs=runs, seed=seed)
        counts.append(result.counts.astype(float))
        n_runs.append(result.runs)
        entropy.append(int(result.entropy))
        if progress is not None:
            progress(k + 1, len(cases))
    base = np.array([base_rate_forecast(meetings, c.scenario.calendar.vantage) for c in cases])
    return Backtest(cases, np.array(counts), np.array(n_runs, dtype=float), entropy, base,
                    np.tile(UNIFORM, (len(cases), 1)), time.perf_counter() - started)


def summarise_backtest(bt: Backtest, resamples: int = RESAMPLES, bootstrap_seed: int = BOOTSTRAP_SEED,
                       forecasts: dict[str, np.ndarray] | None = None, subject: str = "model") -> dict:
    """Per case the forecasts and scores; per forecaster the mean scores; for every
    other forecaster the subject's mean score minus its, with a 95 % bootstrap interval.
    `forecasts` replaces bt.forecasts() (e.g. to add a calibrated model)."""
    forecasts = bt.forecasts() if forecasts is None else forecasts
    y = bt.observed
    scores = {name: score_forecasts(p, y) for name, p in forecasts.items()}
    cases = []
    for k, case in enumerate(bt.cases):
        obs = case.scenario.observed
        cases.append({
            "name": case.name,
            "file": str(case.path),
            "vantage": case.scenario.calendar.vantage.isoformat(),
            "date": obs.date.isoformat(),
            "observed": obs.outcome,
            "source": obs.source,
            "runs": int(bt.runs[k]),
            "seed_entropy": bt.entropy[k],
            "forecasts": {name: dict(zip(CLASSES, map(float, p[k]))) for name, p in forecasts.items()},
            "scores": {name: {s: float(v[k]) for s, v in sc.items()} for name, sc in scores.items()},
        })
    means = {name: {s: float(v.mean()) for s, v in sc.items()} for name, sc in scores.items()}
    differences = {}
    for ref in (r for r in forecasts if r != subject):
        rng = np.random.default_rng(bootstrap_seed)  # the same resamples for every reference
        differences[ref] = {}
        for s in ("brier", "log"):
            mean, low, high = bootstrap_difference(scores[subject][s], scores[ref][s], rng, resamples)
            differences[ref][s] = {"mean": mean, "low": low, "high": high}
    return {
        "n_cases": len(bt.cases),
        "observed_counts": dict(zip(CLASSES, map(int, np.bincount(y, minlength=len(CLASSES))))),
        "cases": cases,
        "mean_scores": means,
        "subject": subject,
        "differences": differences,
        "bootstrap": {"resamples": resamples, "seed": bootstrap_seed, "level": 0.95,
                      "method": "percentile, cases resampled with replacement"},
        "log_score_clip": CLIP,
        "base_rate": "classes of the meetings in the table known before each case's vantage, "
                     "Dirichlet(1, 1, 1, 1) prior",
        "reliability_bins": list(RELIABILITY_BINS),
        "reliability": {name: reliability_table(p, y) for name, p in forecasts.items()},
        "seconds": round(bt.seconds, 3),
    }


# --- Reliability -----------------------------------------------------------------------------


def reliability_table(p: np.ndarray, observed: np.ndarray, bins: tuple[float, ...] = RELIABILITY_BINS) -> list[dict]:
    """Pool every (case, class) probability, bin them, and give per bin the count, the
    mean forecast and the observed frequency with its Wilson 95 % interval."""
    p = np.asarray(p, dtype=float)
    y = np.zeros_like(p)
    y[np.arange(len(p)), observed] = 1.0
    flat_p, flat_y = p.ravel(), y.ravel()
    which = np.clip(np.searchsorted(bins, flat_p, side="right") - 1, 0, len(bins) - 2)
    rows = []
    for b in range(len(bins) - 1):
        sel = which == b
        n = int(sel.sum())
        if n == 0:
            continue
        e = wilson(int(flat_y[sel].sum()), n)
        rows.append({"low": bins[b], "high": bins[b + 1], "n": n, "mean_forecast": float(flat_p[sel].mean()),
                     "observed": e.p, "observed_low": e.low, "observed_high": e.high})
    return rows
