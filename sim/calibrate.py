"""Calibration: fit a few declared global parameters (knobs) to the observed
classes of past meetings, by maximum likelihood on a grid, with leave-one-out
cross-validation so that the score reported is out of sample.

The likelihood of a knob setting is the product over cases of P_model(observed
class), each estimated by Monte Carlo. Every grid point runs every case on the
same seed (common random numbers), so the estimated likelihood surface is
smooth enough for a grid search; probabilities are smoothed as
(count + 1/2) / (runs + 2) so that a class never seen in the replicates still
has a finite likelihood. The fitted values are written as a file of dotted
paths that a scenario can `include:`.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from .backtest import Backtest, Case, summarise_backtest
from .errors import InputError, Problem
from .io import atomic_write_text
from .model import CLASSES
from .montecarlo import run
from .loading import apply_overrides
from .schema import Scenario, shift_param

__all__ = [
    "KNOBS",
    "Calibration",
    "Knob",
    "fit",
    "knob_overrides",
    "leave_one_out",
    "log_likelihood",
    "make_grid",
    "profile",
    "run_calibration",
    "shift_param",
    "summarise_calibration",
    "tabulate",
    "with_knobs",
    "write_calibration",
]

SMOOTHING = 0.5
"""Added to each class's count (and 2 to the runs) before taking the log likelihood."""


@dataclass(frozen=True)
class Knob:
    """One global parameter: its name, the field it acts on, the grid it is searched
    on, and the value the scenarios are written with (`default`).

    kind "set": the field at `path` is set to the value. kind "shift": the value is
    added to the field at `path` (a number, or the location of a distribution, kept
    within [0, 1]), so cases that differ there keep their differences."""

    name: str
    kind: str
    path: str
    grid: tuple[float, ...]
    default: float
    description: str

    def overrides(self, scenario: Scenario, value: float) -> dict[str, Any]:
        """The dotted path and plain value that set this knob to `value` in `scenario`."""
        if self.kind == "set":
            return {self.path: float(value)}
        if self.kind == "shift":
            return {self.path: shift_param(_field(scenario, self.path), value)}
        raise ValueError(f"unknown knob kind {self.kind!r}")


def _has_field(scenario: Scenario, path: str) -> bool:
    try:
        _field(scenario, path)
    except (KeyError, AttributeError, TypeError):
        return False
    return True


def _field(scenario: Scenario, path: str):
    node: Any = scenario
    for part in path.split("."):
        node = node[part] if isinstance(node, dict) else getattr(node, part)
    return node


KNOBS = (
    Knob("noise", "set", "dynamics.noise", (0.01, 0.02, 0.04, 0.08, 0.16), 0.01,
         "dynamics.noise: sd of each position's weekly random drift, how unpredictable diplomacy is "
         "(on the 0-1 scales)"),
    Knob("japan_reservation", "shift", "agents.japan.reservation",
         (-0.5, -0.4, -0.3, -0.25, -0.2, -0.15, -0.1, -0.05, 0.0, 0.05, 0.1), 0.0,
         "added to Japan's reservation utility: how good a package must be for Tokyo to sign"),
    Knob("russia_reservation", "shift", "agents.russia.reservation",
         (-0.1, -0.05, 0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3), 0.0,
         "added to Russia's reservation utility: how good a package must be for Moscow to sign"),
)
"""The declared knobs of `sim calibrate`. The weekly drift noise plays the part of the
outcome thresholds' softness: the thresholds are hard in this model (a deal's level
meets a condition or not), and the drift is what spreads the positions a summit starts
from, so it sets how sure the model is. The two parties' reservation utilities decide
whether any package clears both sides (a deal or a talk fest) and which (a transfer of
islands, or less). The trust floor below which a visit collapses was tried and left
out: its likelihood profile on the history cases is flat (within 1.1 log units over
0.05-0.3)."""




def knob_overrides(scenario: Scenario, knobs: tuple[Knob, ...], values) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for knob, value in zip(knobs, values):
        out.update(knob.overrides(scenario, float(value)))
    return out


def with_knobs(scenario: Scenario, knobs: tuple[Knob, ...], values, source: str = "<calibration>") -> Scenario:
    """`scenario` with the knobs set to `values`, validated again."""
    data = scenario.model_dump(mode="json")
    data = apply_overrides(data, knob_overrides(scenario, knobs, values), source)
    return Scenario.model_validate(data)


def make_grid(knobs: tuple[Knob, ...]) -> np.ndarray:
    """Every combination of the knobs' grid values, (n_points, n_knobs), first knob slowest."""
    return np.array(list(itertools.product(*(k.grid for k in knobs))), dtype=float).reshape(-1, len(knobs))


# --- The likelihood on a grid ------------------------------------------------------------


def tabulate(scenarios: list[Scenario], knobs: tuple[Knob, ...], grid: np.ndarray, runs: int, seed: int,
             progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """Class counts of every scenario at every grid point, (n_points, n_scenarios, n_classes),
    all on one seed (common random numbers)."""
    counts = np.zeros((len(grid), len(scenarios), len(CLASSES)))
    total = len(grid) * len(scenarios)
    for g, values in enumerate(grid):
        for k, scenario in enumerate(scenarios):
            counts[g, k] = run(with_knobs(scenario, knobs, values), runs=runs, seed=seed).counts
            if progress is not None:
                progress(g * len(scenarios) + k + 1, total)
    return counts


def log_likelihood(counts: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """ln P(observed class) per grid point and case, (n_points, n_cases), from counts
    (n_points, n_cases, n_classes) smoothed as (count + 1/2) / (runs + 2)."""
    runs = counts.sum(axis=-1)
    hit = np.take_along_axis(counts, np.asarray(observed, dtype=int)[None, :, None], axis=-1)[..., 0]
    return np.log((hit + SMOOTHING) / (runs + SMOOTHING * counts.shape[-1]))


def fit(loglik: np.ndarray, use: np.ndarray | None = None) -> int:
    """The grid point maximising the summed log likelihood of the cases in `use`
    (a boolean mask; default all). Ties: the first point."""
    use = np.ones(loglik.shape[1], dtype=bool) if use is None else np.asarray(use, dtype=bool)
    return int(np.argmax(loglik[:, use].sum(axis=1)))


def leave_one_out(loglik: np.ndarray) -> np.ndarray:
    """For each case, the grid point fitted on all the other cases, (n_cases,)."""
    total = loglik.sum(axis=1)
    return np.argmax(total[:, None] - loglik, axis=0)


# --- The whole calibration ----------------------------------------------------------------


@dataclass
class Calibration:
    knobs: tuple[Knob, ...]
    grid: np.ndarray  # (n_points, n_knobs)
    counts: np.ndarray  # (n_points, n_cases, n_classes) at `runs` replicates
    loglik: np.ndarray  # (n_points, n_cases)
    fitted: int  # grid index fitted on every case
    loo: np.ndarray  # (n_cases,) grid index fitted without each case
    runs: int
    seed: int
    in_sample: np.ndarray  # (n_cases, n_classes) forecasts at the full fit, `score_runs` replicates
    held_out: np.ndarray  # (n_cases, n_classes) each case at its leave-one-out fit
    score_runs: int
    seconds: float

    def values(self, g: int | None = None) -> dict[str, float]:
        g = self.fitted if g is None else g
        return {k.name: float(v) for k, v in zip(self.knobs, self.grid[g])}

    def at_edge(self) -> list[str]:
        """Knobs whose fitted value is an end of their grid (the optimum may lie beyond)."""
        return [k.name for k, v in zip(self.knobs, self.grid[self.fitted])
                if len(k.grid) > 1 and v in (min(k.grid), max(k.grid))]


def run_calibration(cases: list[Case], knobs: tuple[Knob, ...] = KNOBS, runs: int = 2048, seed: int = 1,
                    score_runs: int = 20_000, score_seed: int | None = None,
                    progress: Callable[[int, int], None] | None = None) -> Calibration:
    """Tabulate the likelihood on the knobs' grid, fit on all cases and leave each out in
    turn, then forecast each case at its fits with `score_runs` replicates (on
    `score_seed`, default each scenario's own) for scoring."""
    started = time.perf_counter()
    scenarios = [c.scenario for c in cases]
    knob_overrides_common(cases, knobs, [k.default for k in knobs])  # fail before minutes of work
    grid = make_grid(knobs)
    observed = np.array([c.observed for c in cases])
    counts = tabulate(scenarios, knobs, grid, runs, seed, progress)
    loglik = log_likelihood(counts, observed)
    fitted, loo = fit(loglik), leave_one_out(loglik)

    def forecast(scenario: Scenario, g: int) -> np.ndarray:
        result = run(with_knobs(scenario, knobs, grid[g]), runs=score_runs, seed=score_seed)
        return result.counts / result.runs

    in_sample = np.array([forecast(s, fitted) for s in scenarios])
    held_out = np.array([in_sample[k] if g == fitted else forecast(s, g)
                         for k, (s, g) in enumerate(zip(scenarios, loo))])
    return Calibration(knobs, grid, counts, loglik, fitted, loo, runs, seed, in_sample, held_out,
                       score_runs, time.perf_counter() - started)


def knob_overrides_common(cases: list[Case], knobs: tuple[Knob, ...], values) -> dict[str, Any]:
    """The dotted paths and values that set the knobs in every case, which must agree
    (else no single file can carry them): an `InputError` names the first disagreement,
    or every case that lacks a knob's field."""
    missing = [Problem(str(case.path), knob.path, f"is needed by the knob {knob.name!r} of `sim calibrate`")
               for case in cases for knob in knobs if not _has_field(case.scenario, knob.path)]
    if missing:
        raise InputError(missing)
    common: dict[str, Any] | None = None
    first = None
    for case in cases:
        over = knob_overrides(case.scenario, knobs, values)
        if common is None:
            common, first = over, case
            continue
        for path, value in over.items():
            if common.get(path) != value:
                raise InputError(Problem(
                    str(case.path), path,
                    f"differs from {first.path} once calibrated ({common.get(path)!r}), so one include file "
                    "cannot carry it: write the same value in every case, or fit without this knob", value, True))
    return common or {}


def write_calibration(path: str | Path, cal: Calibration, cases: list[Case], header: list[str]) -> dict[str, Any]:
    """Write the fitted values as an include file (dotted paths to values), atomically;
    returns the mapping written."""
    path = Path(path)
    values = knob_overrides_common(cases, cal.knobs, cal.grid[cal.fitted])
    lines = [f"# {line}" if line else "#" for line in header]
    body = yaml.safe_dump(values, sort_keys=False, default_flow_style=None, width=100)
    text = "\n".join(lines) + "\n" + body
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, text)
    except OSError as exc:
        raise InputError(Problem("--write", "", f"cannot write there ({exc.strerror or exc})", str(path), True)) from None
    return values


def profile(cal: Calibration) -> dict[str, list[dict]]:
    """Per knob and grid value, the best summed log likelihood over the other knobs."""
    total = cal.loglik.sum(axis=1)
    out = {}
    for j, knob in enumerate(cal.knobs):
        out[knob.name] = [{"value": float(v), "loglik": float(total[cal.grid[:, j] == v].max())} for v in knob.grid]
    return out


def summarise_calibration(cal: Calibration, before: Backtest, written: dict[str, Any] | None = None,
                          write_path: str | None = None, **options) -> dict:
    """The backtest summary with the calibrated forecasts as the subject: per case the
    forecasts as written (`model`), at the leave-one-out fit (`calibrated`), at the fit on
    all cases (`calibrated_in_sample`, not out of sample) and the references; then the fit."""
    forecasts = {"calibrated": cal.held_out, "model": before.model, "calibrated_in_sample": cal.in_sample,
                 "base_rate": before.base_rate, "uniform": before.uniform}
    summary = summarise_backtest(before, forecasts=forecasts, subject="calibrated", **options)
    for k, case in enumerate(summary["cases"]):
        case["loo_fit"] = cal.values(int(cal.loo[k]))
    summary["calibration"] = {
        "knobs": describe_knobs(cal.knobs),
        "fitted": cal.values(),
        "at_grid_edge": cal.at_edge(),
        "grid_points": int(len(cal.grid)),
        "runs_per_point": cal.runs,
        "seed": cal.seed,
        "score_runs": cal.score_runs,
        "smoothing": f"P = (count + {SMOOTHING}) / (runs + {SMOOTHING * len(CLASSES):g}) in the likelihood",
        "loglik_fitted": float(cal.loglik[cal.fitted].sum()),
        "profile": profile(cal),
        "written": written,
        "write_path": write_path,
        "seconds": round(cal.seconds, 3),
    }
    return summary


def describe_knobs(knobs: tuple[Knob, ...]) -> list[dict]:
    return [{"name": k.name, "kind": k.kind, "path": k.path, "grid": list(k.grid),
             "default": k.default, "description": k.description} for k in knobs]
