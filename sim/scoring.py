"""Scoring probability forecasts of past meetings, and combining them.

Scores follow Brier (1950), "Verification of forecasts expressed in terms of
probability", and Gneiting & Raftery (2007), "Strictly proper scoring rules";
intervals on score differences are BCa bootstraps over cases (paired);
the forecast combination is a linear opinion pool (Clemen 1989, "Combining
forecasts") whose weight is fitted out of sample.
"""

from __future__ import annotations

import math

import numpy as np

from .estimate import Z95, wilson
from .rubric import SUBSTANTIVE_OR_BETTER

__all__ = ["BOOTSTRAP_SEED", "CLIP", "POOL_WEIGHTS", "RELIABILITY_BINS", "RESAMPLES", "bootstrap_difference",
           "brier_score", "discrimination", "discrimination_half_width", "log_score", "pool_out_of_sample",
           "pool_weight_monte_carlo", "reliability_table", "score_forecasts"]

CLIP = 1e-6
"""Probabilities are clipped to at least this in the log score: a model that gives an
observed class probability 0 scores -log(1e-6) = 13.8 on that case, not infinity."""
RESAMPLES = 2000
BOOTSTRAP_SEED = 20160601
RELIABILITY_BINS = (0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0)
POOL_WEIGHTS = np.linspace(0.0, 1.0, 21)
"""The weights on the model a linear pool with the base rate is fitted over."""


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


def bootstrap_difference(a: np.ndarray, b: np.ndarray, seed: int = BOOTSTRAP_SEED,
                         resamples: int = RESAMPLES, level: float = 0.95) -> tuple[float, float, float]:
    """Mean of a - b over cases, with a BCa bootstrap interval from resampling cases with
    replacement (paired: a case's two scores stay together; `scipy.stats.bootstrap`).
    Fewer than 3 cases, or differences that are all equal, give no interval (NaN)."""
    from scipy.stats import bootstrap

    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if d.size == 0:
        return math.nan, math.nan, math.nan
    if d.size < 3 or np.all(d == d[0]):
        return float(d.mean()), math.nan, math.nan
    res = bootstrap((d,), np.mean, n_resamples=resamples, confidence_level=level, method="BCa",
                    rng=np.random.default_rng(seed))
    low, high = res.confidence_interval
    return float(d.mean()), float(low), float(high)


def discrimination(p: np.ndarray, observed: np.ndarray) -> dict:
    """Mean forecast P(substantive or better) of the cases that were substantive or better,
    of the others, and the difference: does the forecast tell them apart? A mean over no
    case, and so the difference, is None (every case on one side: nothing to tell apart)."""
    sob = np.asarray(p)[:, list(SUBSTANTIVE_OR_BETTER)].sum(axis=1)
    hit = np.isin(observed, SUBSTANTIVE_OR_BETTER)
    pos = float(sob[hit].mean()) if hit.any() else None
    neg = float(sob[~hit].mean()) if (~hit).any() else None
    return {"positive_cases": int(hit.sum()), "other_cases": int((~hit).sum()), "mean_positive": pos,
            "mean_other": neg, "difference": None if pos is None or neg is None else pos - neg}


def discrimination_half_width(se: np.ndarray, observed: np.ndarray) -> float | None:
    """The half-width of the 95 % Monte Carlo interval of `discrimination`'s difference,
    bounded, from a bound `se` on each case's standard error of P(substantive or better):
    the cases share random numbers, so their errors may be correlated, and a group mean's
    standard error is at most the mean of its cases', the difference's at most the sum of
    the two. None where the difference is."""
    hit = np.isin(observed, SUBSTANTIVE_OR_BETTER)
    if hit.all() or not hit.any():
        return None
    se = np.asarray(se, dtype=float)
    return float(Z95 * (se[hit].mean() + se[~hit].mean()))


def pool_out_of_sample(model: np.ndarray, base: np.ndarray,
                       observed: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """The linear pool w model + (1 - w) base rate, each case's w fitted (by log score, on
    `POOL_WEIGHTS`) on the *other* cases only. `model` should itself be out of sample.
    Returns (pooled forecasts, each case's w, the w fitted on every case)."""
    y = np.asarray(observed, dtype=int)
    rows = np.arange(len(y))
    hit_m, hit_b = model[rows, y], base[rows, y]
    # (n_weights, n_cases): each case's log score under each weight
    loss = -np.log(np.maximum(POOL_WEIGHTS[:, None] * hit_m + (1 - POOL_WEIGHTS[:, None]) * hit_b, CLIP))
    total = loss.sum(axis=1)
    w_case = POOL_WEIGHTS[np.argmin(total[:, None] - loss, axis=0)]
    pooled = w_case[:, None] * model + (1 - w_case[:, None]) * base
    return pooled, w_case, float(POOL_WEIGHTS[np.argmin(total)])


def pool_weight_monte_carlo(counts: np.ndarray, runs: np.ndarray, base: np.ndarray, observed: np.ndarray,
                            seed: int = BOOTSTRAP_SEED, resamples: int = 200) -> tuple[float, float]:
    """The 95 % Monte Carlo interval of the pool's weight fitted on every case: a parametric
    bootstrap of the model's forecasts, each case's class counts redrawn from the multinomial
    of its `runs` replicates at the observed frequencies, the weight refitted each time."""
    counts, runs = np.asarray(counts, dtype=float), np.asarray(runs, dtype=float)
    rng = np.random.default_rng(seed)
    redrawn = rng.multinomial(runs.astype(np.int64), counts / runs[:, None], size=(resamples, len(runs)))
    weights = [pool_out_of_sample(c / runs[:, None], base, observed)[2] for c in redrawn]
    low, high = np.quantile(weights, [0.025, 0.975])
    return float(low), float(high)


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
