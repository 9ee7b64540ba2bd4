"""A probability estimated from replicates, with its Wilson 95 % interval."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import InputError, Problem

__all__ = ["Z95", "Estimate", "weighted_quantiles", "wilson"]

Z95 = 1.959963984540054
"""The standard normal's 97.5 % quantile: two-sided 95 % intervals."""


@dataclass(frozen=True)
class Estimate:
    """A probability with its Wilson 95 % interval, from `count` of `n` replicates."""

    p: float
    low: float
    high: float
    count: int
    n: int

    def as_dict(self) -> dict:
        """`p`, `low`, `high` and `count` as JSON-ready data (the `n` is the result's, said once)."""
        return {"p": self.p, "low": self.low, "high": self.high, "count": self.count}


def wilson(count: int, n: int, z: float = Z95) -> Estimate:
    """Wilson score interval for a binomial proportion (exact at the 0 and n edges); with
    `n` 0, p is NaN and the interval [0, 1]. A count outside [0, n], or a count or `n` that is
    not a whole number (numpy's included), is an `InputError`."""
    problems = [Problem("wilson", name, "must be a whole number >= 0", value, True) for name, value in
                (("n", n), ("count", count)) if isinstance(value, bool) or not isinstance(value, (int, np.integer))
                or value < 0]
    if not (isinstance(z, (int, float, np.integer, np.floating)) and not isinstance(z, bool) and 0 < z < math.inf):
        # a negative z gave an interval whose low was above its high
        problems.append(Problem("wilson", "z", f"must be a number above 0 (the normal quantile: {Z95} for 95 %)",
                                z, True))
    if problems:
        raise InputError(problems)
    if not count <= n:
        raise InputError(Problem("wilson", "count", f"must be from 0 to n ({n})", count, True))
    count, n = int(count), int(n)  # numpy's pass, but an Estimate holds plain numbers (json refuses np.int64)
    if n <= 0:
        return Estimate(math.nan, 0.0, 1.0, count, n)
    p = count / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    low = 0.0 if count == 0 else max(0.0, centre - half)
    high = 1.0 if count == n else min(1.0, centre + half)
    return Estimate(p, low, high, count, n)


def weighted_quantiles(x: np.ndarray, w: np.ndarray, qs) -> list[float]:
    """Quantiles of the discrete distribution putting mass w on values x."""
    x, w = np.asarray(x, dtype=float), np.asarray(w, dtype=float)
    order = np.argsort(x, kind="stable")
    cum = np.cumsum(w[order])
    return [float(x[order][min(np.searchsorted(cum, q * cum[-1], side="left"), len(x) - 1)]) for q in qs]
