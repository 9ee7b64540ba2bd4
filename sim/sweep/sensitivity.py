"""Which varied parameters move an output: Sobol indices and Morris elementary effects.

Pure functions over plain arrays, each the analysis of its sampler in
`design`: `analyse_sobol` takes the outputs of a `sample_sobol` design in its
order, `analyse_morris` the points and outputs of a `sample_morris` design.
The output here is P(substantive or better) at each point; its Monte Carlo
error (common random numbers keep it small between points) adds a little to
the estimated variance, so indices of inert parameters sit near, not at, 0.
"""

from __future__ import annotations

import math

import numpy as np

from .design import MORRIS_LEVELS, _problem, _salib

__all__ = ["analyse_morris", "analyse_sobol", "make_analysis_seed"]

RESAMPLES = 1000
"""Bootstrap resamples for the confidence intervals."""
ANALYSIS_SPAWN_KEY = (0x5EEA,)


def make_analysis_seed(entropy: int) -> int:
    """A positive int for SALib's bootstrap (SALib ignores a seed of 0, `if seed:`)."""
    return int(np.random.SeedSequence(entropy, spawn_key=ANALYSIS_SPAWN_KEY).generate_state(1)[0]) + 1


def analyse_sobol(names: list[str], bounds: np.ndarray, y: np.ndarray, seed: int,
                  conf_level: float = 0.95) -> dict[str, dict[str, float]]:
    """First-order (S1) and total (ST) Sobol indices of each factor, with bootstrap
    confidence half-widths (S1_conf, ST_conf), from the outputs `y` (n * (d + 2),) of
    `design.sample_sobol` (Saltelli et al. 2010; Jansen's estimator for ST; SALib).

    An output that does not vary has every index 0.
    """
    y = np.asarray(y, dtype=float)
    if np.ptp(y) == 0:
        return {name: {"S1": 0.0, "S1_conf": 0.0, "ST": 0.0, "ST_conf": 0.0} for name in names}
    sobol = _salib("analyze.sobol", "sobol")
    si = sobol.analyze(_problem(bounds), y, calc_second_order=False, num_resamples=RESAMPLES,
                       conf_level=conf_level, seed=seed)
    return {name: {key: _finite(si[key][k]) for key in ("S1", "S1_conf", "ST", "ST_conf")}
            for k, name in enumerate(names)}


def analyse_morris(names: list[str], bounds: np.ndarray, x: np.ndarray, y: np.ndarray, seed: int,
                   levels: int = MORRIS_LEVELS, conf_level: float = 0.95) -> dict[str, dict[str, float]]:
    """Morris elementary effects of each factor: mean (mu), mean of absolute values
    (mu_star, the screening measure, with a bootstrap half-width mu_star_conf) and sd
    (sigma: non-linearity or interactions), as changes of the output per the factor's
    whole range [low, high] (Morris 1991; Campolongo et al. 2007; SALib)."""
    morris = _salib("analyze.morris", "morris")
    rng = np.random.default_rng(seed)
    si = morris.analyze(_problem(bounds), np.asarray(x, dtype=float), np.asarray(y, dtype=float),
                        num_resamples=RESAMPLES, conf_level=conf_level, num_levels=levels, seed=rng)
    return {name: {key: _finite(si[key][k]) for key in ("mu", "mu_star", "mu_star_conf", "sigma")}
            for k, name in enumerate(names)}


def _finite(v) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None
