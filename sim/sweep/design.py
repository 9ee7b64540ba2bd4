"""Where a sweep puts its points: a full grid, a Latin hypercube, a Saltelli-Sobol
sample for variance-based sensitivity, or Morris trajectories for screening.

Every sampler has the same shape, `sample_*(bounds, n, rng) -> (n_points,
n_factors)`, over plain arrays; `bounds` is (n_factors, 2) of [low, high].
The generator comes from the sweep's root entropy, so the seed names the
points as well as the replicates.
"""

from __future__ import annotations

import itertools

import numpy as np

from ..errors import InputError, Problem

__all__ = ["MORRIS_LEVELS", "design_size", "make_design", "make_design_rng", "sample_grid", "sample_lhs",
           "sample_morris", "sample_sobol"]

MORRIS_LEVELS = 4
"""Levels of the Morris grid (SALib's default; Morris 1991 used 4 to 8)."""
DESIGN_SPAWN_KEY = (0x5EE9,)
"""Spawn key of the design's generator under the root entropy; the replicates' streams
use three-part keys (`randomness.make_rng`), so the two never share numbers."""


def make_design_rng(entropy: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=DESIGN_SPAWN_KEY))


def sample_grid(bounds: np.ndarray, levels: list[int]) -> np.ndarray:
    """Every combination of `levels[k]` evenly spaced values of factor k, the first
    factor varying slowest. Values are rounded to 12 decimals so that 0.1 steps read
    as 0.1 in tables (the scenario gets exactly the rounded value)."""
    axes = [np.round(np.linspace(lo, hi, n), 12) for (lo, hi), n in zip(bounds, levels)]
    return np.array(list(itertools.product(*axes)), dtype=float).reshape(-1, len(levels))


def sample_lhs(bounds: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """A Latin hypercube of `n` points: each factor's range cut into `n` equal strata,
    one point in each, at a uniform place within it, strata paired at random across
    factors (McKay, Beckman and Conover 1979; `scipy.stats.qmc.LatinHypercube`)."""
    from scipy.stats import qmc

    unit = qmc.LatinHypercube(d=len(bounds), rng=rng).random(n)
    return qmc.scale(unit, bounds[:, 0], bounds[:, 1]) if np.all(bounds[:, 1] > bounds[:, 0]) else \
        bounds[:, 0] + unit * (bounds[:, 1] - bounds[:, 0])


def sample_sobol(bounds: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Saltelli's scheme on a scrambled Sobol' sequence: `n * (d + 2)` points for
    first-order and total indices (Saltelli et al. 2010; SALib.sample.sobol).
    `n` must be a power of 2."""
    sobol = _salib("sample.sobol", "sobol")
    return sobol.sample(_problem(bounds), n, calc_second_order=False, seed=rng)


def sample_morris(bounds: np.ndarray, n: int, rng: np.random.Generator,
                  levels: int = MORRIS_LEVELS) -> np.ndarray:
    """`n` one-at-a-time trajectories on a `levels`-level grid, `n * (d + 1)` points
    (Morris 1991, with Campolongo et al. 2007's step; SALib.sample.morris)."""
    morris = _salib("sample.morris", "morris")
    return morris.sample(_problem(bounds), n, num_levels=levels, seed=rng)


def design_size(design: str, n_factors: int, points: int | None, levels: list[int | None]) -> int:
    """How many points a design has."""
    if design == "grid":
        return int(np.prod([lv for lv in levels]))
    if design == "lhs":
        return int(points)
    if design == "sobol":
        return int(points) * (n_factors + 2)
    return int(points) * (n_factors + 1)


def make_design(design: str, bounds: np.ndarray, points: int | None, levels: list[int | None],
                entropy: int) -> np.ndarray:
    """The points of a sweep, (n_points, n_factors)."""
    if design == "grid":
        return sample_grid(bounds, levels)
    rng = make_design_rng(entropy)
    if design == "lhs":
        return sample_lhs(bounds, points, rng)
    if design == "sobol":
        return sample_sobol(bounds, points, rng)
    if design == "morris":
        return sample_morris(bounds, points, rng)
    raise ValueError(f"unknown design {design!r}")


def _problem(bounds: np.ndarray) -> dict:
    """SALib's problem dict; names do not matter to the samplers."""
    return {"num_vars": len(bounds), "names": [f"x{k}" for k in range(len(bounds))],
            "bounds": [[float(lo), float(hi)] for lo, hi in bounds]}


def _salib(module: str, design: str):
    import importlib

    try:
        return importlib.import_module(f"SALib.{module}")
    except ImportError:
        raise InputError(Problem("--design", "", "needs SALib: pip install 'sim[sensitivity]'", design, True)) \
            from None
