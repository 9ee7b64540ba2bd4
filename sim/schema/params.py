"""Numbers a scenario may write as distributions, and dates that may be uncertain.

A *param* is a plain number or one of the distributions below, drawn once per
replicate. Each distribution knows how to sample itself, its support, its mean
(`mean_value`), its density (`pdf`, for priors) and how to move its location
(`shifted`); the module functions `sample`,
`support`, `mean_of`, `shift_param` and `is_random` accept a plain number too,
so no caller needs a switch over types.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import AfterValidator, Discriminator, Field, Tag, model_validator

from ..validation import Strict

__all__ = [
    "Beta", "DateParam", "DateTriangular", "DateUniform", "Dist", "Fixed", "Name", "NonNegative", "Normal",
    "Param", "Probability", "Shift", "Triangular", "Uniform", "Unit", "date_range", "is_random", "mean_of", "within",
    "sample", "shift_param", "support",
]

Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]

# A truncated normal is drawn by rejection; the schema guarantees the window
# holds at least 1 % of the mass, so this many passes never run out in practice.
_MAX_PASSES = 10_000
_MIN_MASS = 0.01


class Fixed(Strict):
    """A number written as a distribution: always `value`."""

    dist: Literal["fixed"]
    value: float

    def sample(self, rng, size) -> np.ndarray:
        return np.full(size, self.value)

    def support(self) -> tuple[float, float]:
        return self.value, self.value

    def mean_value(self) -> float:
        return self.value

    def shifted(self, delta: float, lo: float, hi: float) -> dict:
        return {"dist": "fixed", "value": _clip(self.value + delta, lo, hi)}

    def pdf(self, x) -> np.ndarray:
        """A point mass: 1 at `value`, 0 elsewhere (for priors on a grid)."""
        return np.where(np.asarray(x, dtype=float) == self.value, 1.0, 0.0)


class Uniform(Strict):
    dist: Literal["uniform"]
    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if not self.low < self.high:
            raise ValueError("low must be below high")
        return self

    def sample(self, rng, size) -> np.ndarray:
        return rng.uniform(self.low, self.high, size)

    def support(self) -> tuple[float, float]:
        return self.low, self.high

    def mean_value(self) -> float:
        return (self.low + self.high) / 2

    def shifted(self, delta: float, lo: float, hi: float) -> dict | float:
        low, high = _clip(self.low + delta, lo, hi), _clip(self.high + delta, lo, hi)
        return {"dist": "uniform", "low": low, "high": high} if low < high else low

    def pdf(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        return np.where((x >= self.low) & (x <= self.high), 1.0 / (self.high - self.low), 0.0)


class Normal(Strict):
    """Normal(mean, sd), truncated to [low, high] where those are given."""

    dist: Literal["normal"]
    mean: float
    sd: float = Field(gt=0)
    low: float | None = None
    high: float | None = None

    @model_validator(mode="after")
    def _window(self) -> Normal:
        lo, hi = self.support()
        if not lo < hi:
            raise ValueError("low must be below high")
        # Drawn by rejection, so the window must hold a fair share of the mass.
        cdf = lambda x: 0.5 * (1 + math.erf((x - self.mean) / (self.sd * math.sqrt(2))))  # noqa: E731
        mass = cdf(hi) - cdf(lo)
        if not mass >= _MIN_MASS:
            raise ValueError(
                f"the window [low, high] holds only {mass:.2%} of this normal's mass "
                "(need at least 1%); move the mean or use a uniform or beta"
            )
        return self

    def sample(self, rng, size) -> np.ndarray:
        lo, hi = self.support()
        out = rng.normal(self.mean, self.sd, size)
        bad = (out < lo) | (out > hi)
        for _ in range(_MAX_PASSES):
            n_bad = int(bad.sum())
            if n_bad == 0:
                return out
            out[bad] = rng.normal(self.mean, self.sd, n_bad)
            bad = (out < lo) | (out > hi)
        raise RuntimeError(f"truncated normal {self!r} rejected too many draws")

    def support(self) -> tuple[float, float]:
        return (-math.inf if self.low is None else self.low), (math.inf if self.high is None else self.high)

    def mean_value(self) -> float:
        """The untruncated mean: close enough for the checks that use it."""
        return self.mean

    def shifted(self, delta: float, lo: float, hi: float) -> dict:
        out: dict[str, Any] = {"dist": "normal", "mean": self.mean + delta, "sd": self.sd}
        for side in ("low", "high"):
            if getattr(self, side) is not None:
                out[side] = _clip(getattr(self, side) + delta, lo, hi)
        return out

    def pdf(self, x) -> np.ndarray:
        """The truncated normal's density (renormalised over the window)."""
        x = np.asarray(x, dtype=float)
        lo, hi = self.support()
        z = (x - self.mean) / self.sd
        cdf = lambda v: 0.5 * (1 + math.erf((v - self.mean) / (self.sd * math.sqrt(2))))  # noqa: E731
        mass = cdf(hi) - cdf(lo)
        dens = np.exp(-0.5 * z * z) / (self.sd * math.sqrt(2 * math.pi)) / mass
        return np.where((x >= lo) & (x <= hi), dens, 0.0)


class Beta(Strict):
    """Beta on [0, 1] given by its mean and standard deviation."""

    dist: Literal["beta"]
    mean: float = Field(gt=0, lt=1)
    sd: float = Field(ge=1e-6)  # its square divides: a smaller sd is a fixed number

    @model_validator(mode="after")
    def _feasible(self) -> Beta:
        limit = math.sqrt(self.mean * (1 - self.mean))
        if self.sd >= limit:
            raise ValueError(f"sd must be below sqrt(mean*(1-mean)) = {limit:.4g} for a beta")
        return self

    def sample(self, rng, size) -> np.ndarray:
        nu = self.mean * (1 - self.mean) / self.sd**2 - 1
        return rng.beta(self.mean * nu, (1 - self.mean) * nu, size)

    def support(self) -> tuple[float, float]:
        return 0.0, 1.0

    def mean_value(self) -> float:
        return self.mean

    def shifted(self, delta: float, lo: float, hi: float) -> dict:
        """The mean moves (kept in [0.01, 0.99]); the sd shrinks if it must."""
        mean = float(min(max(self.mean + delta, 0.01), 0.99))
        sd = float(min(self.sd, 0.9 * math.sqrt(mean * (1 - mean))))
        return {"dist": "beta", "mean": round(mean, 10), "sd": sd}

    def pdf(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        nu = self.mean * (1 - self.mean) / self.sd**2 - 1
        a, b = self.mean * nu, (1 - self.mean) * nu
        log_norm = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
        inside = (x > 0) & (x < 1)
        safe = np.where(inside, x, 0.5)
        return np.where(inside, np.exp(log_norm + (a - 1) * np.log(safe) + (b - 1) * np.log1p(-safe)), 0.0)


class Triangular(Strict):
    dist: Literal["triangular"]
    low: float
    mode: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> Triangular:
        if not (self.low <= self.mode <= self.high and self.low < self.high):
            raise ValueError("need low <= mode <= high and low < high")
        return self

    def sample(self, rng, size) -> np.ndarray:
        return rng.triangular(self.low, self.mode, self.high, size)

    def support(self) -> tuple[float, float]:
        return self.low, self.high

    def mean_value(self) -> float:
        return (self.low + self.mode + self.high) / 3

    def shifted(self, delta: float, lo: float, hi: float) -> dict | float:
        low, mode, high = (_clip(v + delta, lo, hi) for v in (self.low, self.mode, self.high))
        return {"dist": "triangular", "low": low, "mode": mode, "high": high} if low < high else low

    def pdf(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        a, c, b = self.low, self.mode, self.high
        up = np.where(c > a, 2 * (x - a) / ((b - a) * max(c - a, 1e-300)), 0.0)
        down = np.where(b > c, 2 * (b - x) / ((b - a) * max(b - c, 1e-300)), 0.0)
        dens = np.where(x < c, up, np.where(x > c, down, 2 / (b - a)))
        return np.where((x >= a) & (x <= b), dens, 0.0)


Dist = Annotated[Fixed | Uniform | Normal | Beta | Triangular, Field(discriminator="dist")]
_DISTS = (Fixed, Uniform, Normal, Beta, Triangular)


def _number_or_dist(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, (dict, *_DISTS)):
        return "dist"
    return None


MAX_MAGNITUDE = 1e100
"""No number of a param (nor a distribution's mean, sd or end) may exceed this in size,
so that sums and products of draws stay finite (float64 overflows near 1e308)."""


def _finite_range(param):
    numbers = [param] if isinstance(param, (int, float)) else [
        v for v in param.model_dump().values() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if any(abs(v) > MAX_MAGNITUDE for v in numbers):
        raise ValueError(f"numbers must lie within [-{MAX_MAGNITUDE:g}, {MAX_MAGNITUDE:g}] so that draws and "
                         "their sums stay finite")
    return param


Param = Annotated[
    Annotated[float, Tag("number")] | Annotated[Dist, Tag("dist")],
    Discriminator(
        _number_or_dist,
        custom_error_type="number_or_dist",
        custom_error_message="must be a number or a distribution such as {dist: beta, mean: 0.5, sd: 0.1}",
    ),
    AfterValidator(_finite_range),
]
"""A number, or a distribution drawn once per replicate (per occurrence for incidents)."""


# --- Functions over params (a plain number or a distribution) ----------------------


def is_random(param) -> bool:
    """True if drawing `param` consumes random numbers."""
    return isinstance(param, (Uniform, Normal, Beta, Triangular))


def sample(param, rng: np.random.Generator | None, size) -> np.ndarray:
    """Draw `param` with shape `size` (float64). Numbers and `fixed` draw nothing."""
    if isinstance(param, (int, float)):
        return np.full(size, float(param))
    return param.sample(rng, size)


def support(param) -> tuple[float, float]:
    """The smallest interval holding every value `param` can take."""
    if isinstance(param, (int, float)):
        return float(param), float(param)
    return param.support()


def mean_of(param) -> float:
    """The mean of a parameter."""
    return float(param) if isinstance(param, (int, float)) else param.mean_value()


def shift_param(param, delta: float, lo: float = 0.0, hi: float = 1.0):
    """`param` moved by `delta`, as plain data, kept within [lo, hi]."""
    if isinstance(param, (int, float)):
        return _clip(param + delta, lo, hi)
    return param.shifted(delta, lo, hi)


def _clip(x: float, lo: float, hi: float) -> float:
    return float(min(max(x, lo), hi))


def within(lo: float, hi: float, *, above: bool = False):
    """A param's check: every value it can take in [lo, hi], or in (lo, hi] with `above`."""
    left = "(" if above else "["

    def check(param):
        p_lo, p_hi = support(param)
        if p_lo < lo or (above and p_lo <= lo) or p_hi > hi:
            if isinstance(param, (int, float)):
                raise ValueError(f"must be in {left}{lo:g}, {hi:g}]")
            raise ValueError(
                f"distribution must stay within {left}{lo:g}, {hi:g}] "
                f"(its support is [{p_lo:g}, {p_hi:g}]; truncate a normal with low/high)"
            )
        return param

    return AfterValidator(check)


Unit = Annotated[Param, within(0.0, 1.0)]
Probability = Unit
Shift = Annotated[Param, within(-1.0, 1.0)]
NonNegative = Annotated[Param, within(0.0, math.inf)]


# --- Dates -------------------------------------------------------------------


class DateUniform(Strict):
    dist: Literal["uniform"]
    low: dt.date
    high: dt.date

    @model_validator(mode="after")
    def _ordered(self) -> DateUniform:
        if not self.low < self.high:
            raise ValueError("low must be before high")
        return self


class DateTriangular(Strict):
    dist: Literal["triangular"]
    low: dt.date
    mode: dt.date
    high: dt.date

    @model_validator(mode="after")
    def _ordered(self) -> DateTriangular:
        if not (self.low <= self.mode <= self.high and self.low < self.high):
            raise ValueError("need low <= mode <= high and low < high")
        return self


DateParam = dt.date | Annotated[DateUniform | DateTriangular, Field(discriminator="dist")]


def date_range(value: DateParam) -> tuple[dt.date, dt.date]:
    if isinstance(value, dt.date):
        return value, value
    return value.low, value.high
