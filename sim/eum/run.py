"""Running the EUM: one run, one round, a Monte Carlo over perturbed inputs, its summary.

Inputs are checked here, once; then ``scholz`` runs on the compiled kernels
(``replication.run_single`` for one replicate, ``batch.run_batch`` for many, bit-for-bit
equal) and ``paper`` on numpy (``paper.step_paper``).  The Monte Carlo draws its
perturbations from the project's keyed random streams, block by block, so a seed gives
the same replicates whatever the chunk size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError, Problem
from ..randomness import BLOCK_SIZE, Blocks
from .actors import MAGNITUDE, Actors
from .batch import run_batch
from .paper import step_paper, weighted_mean, weighted_median
from .replication import run_single

__all__ = ["VARIANTS", "MedianSummary", "Outcomes", "Trajectory", "advance_eum", "default_chunk_size",
           "perturb_inputs", "run_eum", "run_eum_monte_carlo", "step_eum", "summarise_final_median"]

VARIANTS = ("scholz", "paper")
HALF = np.float64(0.5)
"""The status quo's 0.5, handed to the kernels at run time: seen as a constant, LLVM would
turn 0.5 ** r into exp2(-r), which is not the C pow the replication calls."""


@dataclass(frozen=True, eq=False)
class Trajectory:
    """One run; index 0 is the start and index t the state after round t.

    positions, risk: ``(rounds + 1, n_actors, n_replicates)``; ``risk[t]`` holds the
    exponents used during round t (all ones at t = 0).  median, mean:
    ``(rounds + 1, n_replicates)``, the w-weighted median and mean of ``positions[t]``.
    """

    positions: np.ndarray
    risk: np.ndarray
    median: np.ndarray
    mean: np.ndarray


@dataclass(frozen=True, eq=False)
class Outcomes:
    """Monte Carlo outcomes without positions: median, mean ``(rounds + 1, n_replicates)``."""

    median: np.ndarray
    mean: np.ndarray


@dataclass(frozen=True)
class MedianSummary:
    """The final median over replicates, with standard errors of the mean and fraction."""

    n: int
    mean: float
    sd: float
    se_mean: float
    min: float
    max: float
    threshold: float | None
    frac_at_least: float | None  # fraction of replicates with median >= threshold
    se_frac: float | None


def run_eum(capability, position, salience, *, rounds=10, variant="scholz", q=1.0, progress=None) -> Trajectory:
    """Run ``rounds`` rounds from the given inputs, each ``(n_actors,)`` or ``(n_actors, n_replicates)``.

    Inputs broadcast against each other; 1-D inputs give one replicate.  R, the range
    of the initial positions, is taken per replicate and fixed for the run.  variant:
    "scholz" or "paper" (see ``sim.eum``); q: probability that the status quo holds.
    ``progress(done, rounds)``, if given, is called after each round of a single run
    (thousands of actors take minutes a round: O(n^3)); it changes no result.
    """
    check_options("run_eum", variant, rounds, q)
    c, x, s = _as_batch(capability, position, salience)
    n, size = x.shape
    positions = np.empty((rounds + 1, n, size))
    risk = np.empty_like(positions)
    median, mean = np.empty((rounds + 1, size)), np.empty((rounds + 1, size))
    if variant == "paper":
        _run_paper(c, x, s, rounds, q, positions, risk, median, mean, progress if size == 1 else None)
    elif size == 1:
        one = [a[:, 0].copy() for a in (c, s, x)]  # x is moved in place
        span, record = float(_span(x)[0]), (positions[:, :, 0], risk[:, :, 0], median[:, 0], mean[:, 0])
        if progress is None:
            run_single(*one, span, 0, rounds, float(q), HALF, *record)
        else:  # a call a round, to be heard between them
            for t in range(rounds + 1):
                run_single(*one, span, t, t, float(q), HALF, *record)
                if t:
                    progress(t, rounds)
    else:
        run_batch(c, s, x.copy(), _span(x), rounds, float(q), HALF, positions, risk, median, mean)
    return Trajectory(positions, risk, median, mean)


def _run_paper(c, x, s, rounds, q, positions, risk, median, mean, progress=None):
    """As `run_batch`, in numpy: positions and risk with a leading dimension of 0 record nothing."""
    w, span, r = c * s, _span(x), np.ones_like(x)
    record = positions.shape[0] > 0
    for t in range(rounds + 1):
        if t:
            x, r = step_paper(x, w, s, span, q)
        if record:
            positions[t], risk[t] = x, r
        median[t] = weighted_median(x, w)
        mean[t] = weighted_mean(x, w)
        if t and progress is not None:
            progress(t, rounds)


def step_eum(position, capability, salience, position_range, *, variant="scholz", q=1.0):
    """One round: every actor takes its best offer, all at once.

    position, capability, salience: ``(n_actors, n_replicates)``; position_range: scalar
    or ``(n_replicates,)``, the range R of the initial positions (fixed over a run;
    positions farther apart than R count as R apart).  Returns
    ``(new_position, risk)``, both ``(n_actors, n_replicates)``, risk being the
    exponents this round used.
    """
    check_options("step_eum", variant, 1, q)
    x, c, s = (_writable(a) for a in (position, capability, salience))
    span = _writable(np.broadcast_to(np.asarray(position_range, dtype=float), x.shape[1:]))
    if variant == "paper":
        return step_paper(x, c * s, s, span, q)
    positions = np.empty((2,) + x.shape)
    risk = np.empty_like(positions)
    none = np.empty((0, x.shape[1]))
    run_batch(c, s, x.copy(), span, 1, float(q), HALF, positions, risk, none, none)
    return positions[1], risk[1]


def advance_eum(position, capability, salience, position_range, rounds, *, variant="scholz", q=1.0):
    """The positions ``(n_actors, n_replicates)`` after ``rounds`` rounds; arguments as step_eum."""
    check_options("advance_eum", variant, rounds, q)
    if variant == "paper" or rounds == 0:
        for _ in range(rounds):
            position, _ = step_eum(position, capability, salience, position_range, variant=variant, q=q)
        return np.array(position, dtype=float)
    x = np.array(position, dtype=float, order="C")  # a copy: the kernel moves it in place
    span = _writable(np.broadcast_to(np.asarray(position_range, dtype=float), x.shape[1:]))
    c, s = _writable(capability), _writable(salience)
    none = np.empty((0,) + x.shape)
    run_batch(c, s, x, span, rounds, float(q), HALF, none, none, none[:, 0], none[:, 0])
    return x


def check_options(where: str, variant, rounds, q) -> None:
    """The variant, rounds and q of a run, checked (`where`: the function refusing them)."""
    problems = []
    if variant not in VARIANTS:
        problems.append(Problem(where, "variant", f"must be one of {VARIANTS}", variant, True))
    if not isinstance(rounds, (int, np.integer)) or rounds < 0:
        problems.append(Problem(where, "rounds", "must be an integer >= 0", rounds, True))
    if not (np.isfinite(q) and 0 <= q <= 1):
        problems.append(Problem(where, "q", "must be in [0, 1]", q, True))
    if problems:
        raise InputError(problems)


def check_counts(where: str, counts: dict) -> None:
    """Counts of a Monte Carlo (replicates, chunk size), each an integer >= 1."""
    problems = [Problem(where, name, "must be an integer >= 1", value, True) for name, value in counts.items()
                if not isinstance(value, (int, np.integer)) or value < 1]
    if problems:
        raise InputError(problems)


def _span(x: np.ndarray) -> np.ndarray:
    return _writable(x.max(axis=0) - x.min(axis=0))


def _writable(a) -> np.ndarray:
    """a as a C-contiguous, writable float array: the one layout the kernels are compiled
    for (a read-only view, from broadcast_to, would compile them once more)."""
    return np.require(np.asarray(a, dtype=float), requirements=("C", "W"))


def _as_batch(capability, position, salience):
    """The inputs as C-contiguous ``(n_actors, n_replicates)`` arrays, checked."""
    arrays = [np.asarray(a, dtype=float) for a in (capability, position, salience)]
    arrays = [a[:, None] if a.ndim == 1 else a for a in arrays]
    problems = [Problem("run_eum", name, "must be (n_actors,) or (n_actors, n_replicates)", a.shape, True)
                for name, a in zip(("capability", "position", "salience"), arrays) if a.ndim != 2]
    if problems:
        raise InputError(problems)
    try:
        shape = np.broadcast_shapes(*(a.shape for a in arrays))
    except ValueError:
        raise InputError(Problem("run_eum", "", "inputs must have matching shapes",
                                 [a.shape for a in arrays], True)) from None
    c, x, s = (_writable(np.broadcast_to(a, shape)) for a in arrays)
    checks = [("capability", c, (c >= 0) & (c <= MAGNITUDE), f"must be between 0 and {MAGNITUDE:g}"),
              ("salience", s, (s >= 0) & (s <= 1), "must be between 0 and 1"),
              ("position", x, np.abs(x) <= MAGNITUDE, f"must be between {-MAGNITUDE:g} and {MAGNITUDE:g}")]
    problems = [Problem("run_eum", name, rule, a[~ok].flat[0], True) for name, a, ok, rule in checks
                if not ok.all()]
    if shape[0] < 2:
        problems.append(Problem("run_eum", "", "needs at least two actors", shape[0], True))
    if shape[1] < 1:
        problems.append(Problem("run_eum", "", "needs at least one replicate", shape[1], True))
    if problems:
        raise InputError(problems)
    return c, x, s


def perturb_inputs(actors: Actors, blocks: Blocks, salience_sd=0.0, capability_sd=0.0, position_sd=0.0):
    """Perturbed inputs for the replicates of ``blocks``: (capability, position, salience),
    each ``(n_actors, blocks.size)``.

    Each value becomes clip(x + Normal(0, sd), lo, hi): capability in [0, 1e100], position within
    the initial [min, max], salience in [0, 1].  Each quantity draws from its own key of
    the "eum" stream, block by block: replicate i's noise depends on the seed, i and the
    quantity only, not on the chunk size nor on the other sds.
    """
    sds = {"salience_sd": salience_sd, "capability_sd": capability_sd, "position_sd": position_sd}
    problems = [Problem("perturb_inputs", k, "must be a finite number >= 0", v, True)
                for k, v in sds.items() if not (np.isfinite(v) and v >= 0)]
    if problems:
        raise InputError(problems)
    x0 = actors.position
    quantities = (("capability", actors.capability, capability_sd, 0.0, MAGNITUDE),
                  ("position", x0, position_sd, x0.min(), x0.max()),
                  ("salience", actors.salience, salience_sd, 0.0, 1.0))
    out = []
    for key, value, sd, lo, hi in quantities:
        value = np.repeat(value[:, None], blocks.size, axis=1)
        if sd > 0:
            noise = blocks.draw(blocks.rngs("eum", key), lambda rng, size, sl: rng.standard_normal(size),
                                shape=(len(actors.names),))
            with np.errstate(over="ignore"):  # a huge sd overflows to +-inf, which the clip sends to a bound
                value = np.clip(value + sd * noise, lo, hi)
        out.append(value)
    return tuple(out)


def run_eum_monte_carlo(actors: Actors, entropy: int, n: int, *, salience_sd=0.0, capability_sd=0.0,
                        position_sd=0.0, rounds=10, variant="scholz", q=1.0, chunk_size=None,
                        progress=None) -> Outcomes:
    """``n`` replicates of perturbed inputs (``perturb_inputs``) drawn from root ``entropy``.

    Replicates run ``chunk_size`` at a time, rounded up to whole blocks of
    ``BLOCK_SIZE``; that bounds memory and changes no result.  ``progress(done, n)``, if
    given, is called after each chunk.  Returns median and mean per round, ``(rounds + 1, n)``.
    """
    if chunk_size is None:
        chunk_size = default_chunk_size(len(actors.names))
    check_counts("run_eum_monte_carlo", {"n": n, "chunk_size": chunk_size})
    median, mean = np.empty((rounds + 1, n)), np.empty((rounds + 1, n))
    per_chunk, total = -(-chunk_size // BLOCK_SIZE), -(-n // BLOCK_SIZE)
    for first in range(0, total, per_chunk):
        blocks = Blocks(entropy, first, min(per_chunk, total - first))
        start = first * BLOCK_SIZE
        stop = min(n, start + blocks.size)
        inputs = perturb_inputs(actors, blocks, salience_sd, capability_sd, position_sd)
        c, x, s = (a[:, :stop - start] for a in inputs)
        run = _outcomes(c, x, s, rounds, variant, q)
        median[:, start:stop], mean[:, start:stop] = run.median, run.mean
        if progress is not None:
            progress(stop, n)
    return Outcomes(median, mean)


def _outcomes(c, x, s, rounds, variant, q) -> Outcomes:
    """Median and mean per round of a batch, without keeping the positions."""
    check_options("run_eum_monte_carlo", variant, rounds, q)
    c, x, s = _as_batch(c, x, s)
    median, mean = np.empty((rounds + 1, x.shape[1])), np.empty((rounds + 1, x.shape[1]))
    none = np.empty((0,) + x.shape)  # no positions kept: (rounds + 1, n_actors, chunk) of them could be gigabytes
    if variant == "paper":
        _run_paper(c, x, s, rounds, q, none, none, median, mean)
    else:
        run_batch(c, s, x.copy(), _span(x), rounds, float(q), HALF, none, none, median, mean)
    return Outcomes(median, mean)


def default_chunk_size(n_actors: int) -> int:
    """Replicates per chunk: whole blocks keeping the perturbed inputs near 4 MB, 1 to 64 blocks."""
    return BLOCK_SIZE * int(np.clip(2**19 // (3 * n_actors * BLOCK_SIZE), 1, 64))


def summarise_final_median(median: np.ndarray, threshold: float | None = None) -> MedianSummary:
    """Summarise final medians ``(n_replicates,)`` (or a ``(rounds + 1, n_replicates)`` history)."""
    final = np.asarray(median, dtype=float)
    final = final[-1] if final.ndim == 2 else final
    n = final.size
    sd = float(final.std(ddof=1)) if n > 1 else 0.0
    frac = se_frac = None
    if threshold is not None:
        frac = float(np.mean(final >= threshold))
        se_frac = float(np.sqrt(frac * (1 - frac) / n))
    return MedianSummary(n, float(final.mean()), sd, float(sd / np.sqrt(n)), float(final.min()),
                         float(final.max()), threshold, frac, se_frac)
