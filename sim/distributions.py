"""Drawing the scenario's parameters: a number or a distribution, as an array.

`sample` is the only place a `schema` distribution meets a generator; the
engine sees the arrays it returns.
"""

from __future__ import annotations

import numpy as np

from .schema import Beta, Fixed, Normal, Triangular, Uniform

__all__ = ["is_random", "sample"]

# A truncated normal is drawn by rejection; the schema guarantees the window
# holds enough mass that this loop ends after a few passes.
_MAX_PASSES = 10_000


def is_random(param) -> bool:
    """True if drawing `param` consumes random numbers."""
    return isinstance(param, (Uniform, Normal, Beta, Triangular))


def sample(param, rng: np.random.Generator, size) -> np.ndarray:
    """Draw `param` with shape `size` (float64). Numbers and `fixed` draw nothing."""
    if isinstance(param, (int, float)):
        return np.full(size, float(param))
    if isinstance(param, Fixed):
        return np.full(size, param.value)
    if isinstance(param, Uniform):
        return rng.uniform(param.low, param.high, size)
    if isinstance(param, Beta):
        nu = param.mean * (1 - param.mean) / param.sd**2 - 1
        return rng.beta(param.mean * nu, (1 - param.mean) * nu, size)
    if isinstance(param, Triangular):
        if param.low == param.mode == param.high:
            return np.full(size, param.low)
        return rng.triangular(param.low, param.mode, param.high, size)
    if isinstance(param, Normal):
        return _truncated_normal(param, rng, size)
    raise TypeError(f"not a parameter: {param!r}")


def _truncated_normal(param: Normal, rng: np.random.Generator, size) -> np.ndarray:
    lo = -np.inf if param.low is None else param.low
    hi = np.inf if param.high is None else param.high
    out = rng.normal(param.mean, param.sd, size)
    bad = (out < lo) | (out > hi)
    for _ in range(_MAX_PASSES):
        n_bad = int(bad.sum())
        if n_bad == 0:
            return out
        out[bad] = rng.normal(param.mean, param.sd, n_bad)
        bad = (out < lo) | (out > hi)
    raise RuntimeError(f"truncated normal {param!r} rejected too many draws")
