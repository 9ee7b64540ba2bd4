"""Bueno de Mesquita's expected-utility model (EUM), batched over Monte Carlo replicates.

Actors bargain over one issue; each round every actor weighs the offers of every other
actor and moves.  Arrays are ``(n_actors, n_replicates)``, replicate axis last, and one
call advances every replicate at once; the cost is O(n_actors^3) per replicate per round.

Two variants, side by side.  w_a = c_a s_a; R = range of the initial positions;
v_a(p, q) = w_a [(|x_a - q| / R)^r_a - (|x_a - p| / R)^r_a], a's vote for p over q;
e_ij = EU_i(i -> j) and e_ji = EU_i(j -> i), both as i sees them (exponent r_i):

=================  ==============================  ===================================
rule               ``scholz`` (the replication)    ``paper`` (our reading of the
                                                   papers)
=================  ==============================  ===================================
P(x_i over x_j)    sum_a max(0, v_a(x_i, x_j)) /   sum_a max(0, v_a(x_i, x_j)) /
                   sum_a sum_b sum_c |v_a(x_b,     sum_a |v_a(x_i, x_j)|, so
                   x_c)| (all triples: tiny        P_ij + P_ji = 1; 1/2 when nobody
                   probabilities)                  cares (the sum is 0)
capitulation       never (its condition, e_ji <    e_ji > 0 > e_ij, e_ji < |e_ij|:
                   |e_ji|, is always false)        i moves all the way to x_j
compromise chosen  the one minimising (|e_ij| x_i  the one needing the smallest move
                   + |e_ji| x_j)/(|e_ij|+|e_ji|)   |x_i - new position|
=================  ==============================  ===================================

Shared by both: the risk exponents (recomputed each round from every actor's danger,
with all exponents at 1 and the variant's own probability), the utilities, confrontation
(e_ji > e_ij > 0: move to x_j, the nearest x_j wins), the priority confrontation >
compromise > capitulation, and simultaneous moves.  ``scholz`` reproduces the
replication of Scholz, Calbert & Smith (2011) by J. McKibben-Sanders, quirks included,
to ~1e-14 (data in tests/data/eum; the model, stated exactly, in
shared/data/eum/README.md).  The ``paper`` rules are our reading of what the
replication's own comments say Scholz et al. (2011) and BDM (1994) intend: the pairwise
denominator; capitulation as a compromise whose concession |e_ij / e_ji| would reach 1
(the replication's condition has a typo); and "each actor chooses the offer that
requires him to change position the least", which we apply within each offer type,
keeping the replication's priority among types.

Cost: the numerator uses sum_a max(0, y_a) = (sum_a y_a + sum_a |y_a|) / 2, so the one
O(n^3) step is A[i, j] = sum_a |v_a(x_i, x_j)|; the all-triples denominator is then
sum_ij A[i, j], O(n^2), no sort needed.  Nothing loops over actors or replicates.

Cases the replication leaves undefined (it divides by zero): R = 0 (all actors agree)
gives no move and r = 1; equal dangers for every actor give r = 1; no weight at all
gives probability 0 (``scholz``) and an unweighted mean.  Ties among offers go to the
first actor in input order, as in the replication.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim.errors import InputError, Problem

__all__ = [
    "VARIANTS", "Actors", "MedianSummary", "Outcomes", "Trajectory", "default_chunk_size",
    "load_actors_csv", "perturb_inputs", "run_eum", "run_eum_monte_carlo", "step_eum",
    "summarise_final_median", "weighted_median",
]

VARIANTS = ("scholz", "paper")
COLUMNS = ("Actor", "Capability", "Position", "Salience")
_TIE_RTOL = 1e-12  # median costs this close (relative to sum w * range) are a tie


@dataclass(frozen=True, eq=False)
class Actors:
    """Actors of one issue: ``names`` (tuple), the rest float arrays ``(n_actors,)``."""

    names: tuple[str, ...]
    capability: np.ndarray
    position: np.ndarray
    salience: np.ndarray


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


def weighted_median(position: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """The position, among ``position``, minimising sum_a weight_a |position_a - p|.

    position, weight: ``(n_actors, n_replicates)``; returns ``(n_replicates,)``.  The
    replication scans candidates keeping the incumbent unless a challenger is strictly
    better, so the first minimiser wins; its scan order is Python set order, which we
    replace by input order.  Costs within 1e-12 (relative) count as tied.
    """
    cost = (weight[:, None, :] * np.abs(position[:, None, :] - position[None, :, :])).sum(axis=0)
    scale = weight.sum(axis=0) * (position.max(axis=0) - position.min(axis=0))
    best = cost <= cost.min(axis=0) + _TIE_RTOL * scale
    return np.take_along_axis(position, best.argmax(axis=0)[None, :], axis=0)[0]


def _weighted_mean(position: np.ndarray, weight: np.ndarray) -> np.ndarray:
    total = weight.sum(axis=0)
    mean = (weight * position).sum(axis=0) / np.where(total > 0, total, 1.0)
    return np.where(total > 0, mean, position.mean(axis=0))


def _probabilities(dn: np.ndarray, w: np.ndarray, r: np.ndarray | None, variant: str) -> np.ndarray:
    """P[i, j], the probability that x_i prevails over x_j, ``(n, n, N)``.

    Uses sum_a max(0, y_a) = (sum_a y_a + sum_a |y_a|) / 2 so the O(n^3) work is one
    symmetric sum A[i, j] = sum_a |v_a(x_i, x_j)|; and sum_{i,j} A[i, j] is the
    all-triples denominator.
    """
    wd = w[:, None, :] * (dn if r is None else dn ** r[:, None, :])  # wd[a, b] = w_a D[a, b]
    diff = np.subtract(wd[:, None, :, :], wd[:, :, None, :])  # the one O(n^3) array
    pairwise = np.abs(diff, out=diff).sum(axis=0)  # A[i, j]; in place: allocation dominates
    support = wd.sum(axis=0)
    num = 0.5 * ((support[None, :, :] - support[:, None, :]) + pairwise)
    np.maximum(num, 0.0, out=num)  # rounding may leave -1e-17 where the sum is 0
    if variant == "scholz":
        total = pairwise.sum(axis=(0, 1))
        return num / np.where(total > 0, total, np.inf)
    return np.divide(num, pairwise, out=np.full_like(num, 0.5), where=pairwise > 0)


def _expected_utilities(half, s, p, r, q):
    """(e_ij, e_ji): EU_i(i -> j) and EU_i(j -> i) seen by i with exponent r_i, ``(n, n, N)``.

    half = 0.5 |x_i - x_j| / R; s ``(n, N)``; p = P[i, j]; r ``(n, N)`` or None for 1.
    """
    u_win, u_lose = 0.5 - half, 0.5 + half
    if r is not None:
        np.power(u_win, r[:, None, :], out=u_win)
        np.power(u_lose, r[:, None, :], out=u_lose)
    for u in (u_win, u_lose):  # u = 2 - 4 u, in place (bit for bit the same)
        u *= -4.0
        u += 2.0
    # 2 - 4 * 0.5 ** 1 == 0: at r = 1 the status quo is worth nothing
    cost_sq = 0.0 if r is None else q * (2 - 4 * 0.5 ** r)[:, None, :]
    p_lose = 1 - p
    e_ij = _expected(p, p_lose, u_win, u_lose, s[None, :, :], cost_sq)
    e_ji = _expected(p.transpose(1, 0, 2), p_lose.transpose(1, 0, 2), u_win, u_lose,
                     s[:, None, :], cost_sq)
    return e_ij, e_ji


def _expected(p, p_lose, u_win, u_lose, s, cost_sq):
    """s (p u_win + (1 - p) u_lose) + (1 - s) u_win - cost_sq, in the replication's order."""
    e = p * u_win
    e += p_lose * u_lose
    e *= s
    e += (1 - s) * u_win
    e -= cost_sq
    return e


def _risk_exponents(half, dn, w, s, variant):
    """r_a ``(n, N)`` in [0.5, 2] from each actor's danger, every exponent set to 1."""
    p = _probabilities(dn, w, None, variant)
    _, e_ji = _expected_utilities(half, s, p, None, 1.0)  # q is moot: U_sq = 0 at r = 1
    n = s.shape[0]
    e_ji[np.arange(n), np.arange(n)] = 0.0  # an actor does not challenge itself
    danger = e_ji.sum(axis=1)
    hi, lo = danger.max(axis=0), danger.min(axis=0)
    spread = hi - lo
    rel = np.divide(2 * danger - hi - lo, spread, out=np.zeros_like(danger), where=spread > 0)
    return (1 - rel / 3.0) / (1 + rel / 3.0)


def _choose(mask, key, value):
    """Per receiver i, the offer j with the smallest key (first on ties): (any, value)."""
    j = np.where(mask, key, np.inf).argmin(axis=1)[:, None, :]
    return mask.any(axis=1), np.take_along_axis(value, j, axis=1)[:, 0, :]


def step_eum(position, capability, salience, position_range, *, variant="scholz", q=1.0):
    """One round: every actor takes its best offer, all at once.

    position, capability, salience: ``(n_actors, n_replicates)``; position_range: scalar
    or ``(n_replicates,)``, the range R of the initial positions (fixed over a run;
    positions farther apart than R count as R apart).  Returns
    ``(new_position, risk)``, both ``(n_actors, n_replicates)``, risk being the
    exponents this round used.
    """
    if variant not in VARIANTS:
        raise InputError(Problem("step_eum", "variant", f"must be one of {VARIANTS}", variant, True))
    x = np.asarray(position, dtype=float)
    s = np.asarray(salience, dtype=float)
    w = np.asarray(capability, dtype=float) * s
    r_range = np.broadcast_to(np.asarray(position_range, dtype=float), x.shape[1:])
    scale = np.where(r_range > 0, r_range, 1.0)
    dist = np.abs(x[:, None, :] - x[None, :, :])  # symmetric, dist[i, j] = |x_i - x_j|
    dn = np.minimum(dist / scale, 1.0)
    half = np.minimum(0.5 * dist / scale, 0.5)

    risk = _risk_exponents(half, dn, w, s, variant)
    p = _probabilities(dn, w, risk, variant)
    e_ij, e_ji = _expected_utilities(half, s, p, risk, q)

    offered = dist > 0
    ratio = np.abs(e_ij / np.where(e_ji != 0, e_ji, 1.0))
    x_i, x_j = x[:, None, :], np.broadcast_to(x[None, :, :], dist.shape)
    confront = offered & (e_ji > e_ij) & (e_ij > 0)
    giving = offered & (e_ji > 0) & (e_ij < 0)
    compromise = giving & (e_ji > np.abs(e_ij))
    comp_at = x_i + (x_j - x_i) * ratio
    if variant == "scholz":
        a_ij, a_ji = np.abs(e_ij), np.abs(e_ji)
        total = a_ij + a_ji
        comp_key = (a_ij * x_i + a_ji * x_j) / np.where(total > 0, total, 1.0)
    else:
        comp_key = np.abs(comp_at - x_i)

    has_c, to_c = _choose(confront, dist, x_j)
    has_m, to_m = _choose(compromise, comp_key, comp_at)
    new = np.where(has_c, to_c, np.where(has_m, to_m, x))
    if variant == "paper":
        has_k, to_k = _choose(giving & (e_ji < np.abs(e_ij)), dist, x_j)
        new = np.where(has_c | has_m, new, np.where(has_k, to_k, x))
    return new, risk


def _as_batch(capability, position, salience):
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
    c, x, s = (np.ascontiguousarray(np.broadcast_to(a, shape)) for a in arrays)
    checks = [("capability", c, (c >= 0) & np.isfinite(c), "must be finite and >= 0"),
              ("salience", s, (s >= 0) & (s <= 1), "must be between 0 and 1"),
              ("position", x, np.isfinite(x), "must be finite")]
    problems = [Problem("run_eum", name, rule, a[~ok].flat[0], True) for name, a, ok, rule in checks
                if not ok.all()]
    if shape[0] < 2:
        problems.append(Problem("run_eum", "", "needs at least two actors", shape[0], True))
    if problems:
        raise InputError(problems)
    return c, x, s


def run_eum(capability, position, salience, *, rounds=10, variant="scholz", q=1.0) -> Trajectory:
    """Run ``rounds`` rounds from the given inputs, each ``(n_actors,)`` or ``(n_actors, n_replicates)``.

    Inputs broadcast against each other; 1-D inputs give one replicate.  R, the range
    of the initial positions, is taken per replicate and fixed for the run.  variant:
    "scholz" or "paper" (module docstring); q: probability that the status quo holds.
    """
    if variant not in VARIANTS:
        raise InputError(Problem("run_eum", "variant", f"must be one of {VARIANTS}", variant, True))
    if not isinstance(rounds, (int, np.integer)) or rounds < 0:
        raise InputError(Problem("run_eum", "rounds", "must be an integer >= 0", rounds, True))
    c, x, s = _as_batch(capability, position, salience)
    w = c * s
    r_range = x.max(axis=0) - x.min(axis=0)
    positions = np.empty((rounds + 1,) + x.shape)
    risk = np.ones_like(positions)
    median = np.empty((rounds + 1, x.shape[1]))
    mean = np.empty_like(median)
    positions[0] = x
    for t in range(rounds + 1):
        if t:
            positions[t], risk[t] = step_eum(positions[t - 1], c, s, r_range, variant=variant, q=q)
        median[t] = weighted_median(positions[t], w)
        mean[t] = _weighted_mean(positions[t], w)
    return Trajectory(positions, risk, median, mean)


def perturb_inputs(actors: Actors, rng: np.random.Generator, n: int, salience_sd=0.0,
                   capability_sd=0.0, position_sd=0.0):
    """``n`` perturbed copies of the inputs: (capability, position, salience), each ``(n_actors, n)``.

    Each value becomes clip(x + Normal(0, sd), lo, hi): salience in [0, 1], capability
    >= 0, position within the initial [min, max].  Noise for all three is drawn every
    time, replicate by replicate, so a draw of n + m equals a draw of n then m, and
    changing one sd leaves the others' noise as it was.
    """
    sds = {"salience_sd": salience_sd, "capability_sd": capability_sd, "position_sd": position_sd}
    problems = [Problem("perturb_inputs", k, "must be a finite number >= 0", v, True)
                for k, v in sds.items() if not (np.isfinite(v) and v >= 0)]
    if not isinstance(n, (int, np.integer)) or n < 1:
        problems.append(Problem("perturb_inputs", "n", "must be an integer >= 1", n, True))
    if problems:
        raise InputError(problems)
    noise = rng.standard_normal((n, 3, len(actors.names)))  # replicate-major: chunk-proof
    x0 = actors.position
    c = np.clip(actors.capability[:, None] + capability_sd * noise[:, 1].T, 0.0, None)
    x = np.clip(x0[:, None] + position_sd * noise[:, 2].T, x0.min(), x0.max())
    s = np.clip(actors.salience[:, None] + salience_sd * noise[:, 0].T, 0.0, 1.0)
    return tuple(np.ascontiguousarray(a) for a in (c, x, s))


def run_eum_monte_carlo(actors: Actors, rng: np.random.Generator, n: int, *, salience_sd=0.0,
                        capability_sd=0.0, position_sd=0.0, rounds=10, variant="scholz",
                        q=1.0, chunk_size=None) -> Outcomes:
    """``n`` replicates of perturbed inputs, run ``chunk_size`` at a time to bound memory.

    Results do not depend on ``chunk_size``; by default it keeps the one
    ``(n_actors^3, chunk)`` temporary near 2^19 doubles (4 MB, cache-sized), which
    measured fastest: 512 for 10 actors, 128 for 17.  Returns median and mean per round.
    """
    if chunk_size is None:
        chunk_size = default_chunk_size(len(actors.names))
    problems = [Problem("run_eum_monte_carlo", name, "must be an integer >= 1", value, True)
                for name, value in (("n", n), ("chunk_size", chunk_size))
                if not isinstance(value, (int, np.integer)) or value < 1]
    if problems:
        raise InputError(problems)
    median, mean = np.empty((rounds + 1, n)), np.empty((rounds + 1, n))
    for start in range(0, n, chunk_size):
        stop = min(n, start + chunk_size)
        c, x, s = perturb_inputs(actors, rng, stop - start, salience_sd, capability_sd, position_sd)
        run = run_eum(c, x, s, rounds=rounds, variant=variant, q=q)
        median[:, start:stop], mean[:, start:stop] = run.median, run.mean
    return Outcomes(median, mean)


def default_chunk_size(n_actors: int) -> int:
    """Replicates per chunk: the power of two nearest 2^19 / n_actors^3, in [64, 8192]."""
    return int(2 ** np.clip(np.rint(np.log2(2**19 / n_actors**3)), 6, 13))


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


def load_actors_csv(path: str | Path) -> Actors:
    """Read columns Actor, Capability, Position, Salience (any case, any order).

    Raises InputError listing every problem: a missing column, a value that is not a
    number (by file line and column), salience outside [0, 1], capability < 0, fewer
    than two actors, an unreadable file.
    """
    source = str(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = [(i, row) for i, row in _numbered(csv.reader(handle)) if any(f.strip() for f in row)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(Problem(source, "", f"cannot be read: {exc}")) from None
    if not rows:
        raise InputError(Problem(source, "", f"is empty: needs a header with columns {', '.join(COLUMNS)}"))
    header = [h.strip().lower() for h in rows[0][1]]
    index = {col: header.index(col.lower()) for col in COLUMNS if col.lower() in header}
    problems = [Problem(source, col, "missing column", tuple(rows[0][1]), True)
                for col in COLUMNS if col not in index]
    if problems:
        raise InputError(problems)
    names, values = [], {col: [] for col in COLUMNS[1:]}
    for line, row in rows[1:]:
        cells = {col: row[i].strip() if i < len(row) else "" for col, i in index.items()}
        if not cells["Actor"]:
            problems.append(Problem(source, f"line {line}.Actor", "must not be empty"))
        names.append(cells["Actor"])
        for col in COLUMNS[1:]:
            value = _number(cells[col])
            where = f"line {line}.{col}"
            if value is None:
                problems.append(Problem(source, where, "must be a finite number", cells[col], True))
            elif col == "Salience" and not 0 <= value <= 1:
                problems.append(Problem(source, where, "must be between 0 and 1", value, True))
            elif col == "Capability" and value < 0:
                problems.append(Problem(source, where, "must be >= 0", value, True))
            values[col].append(value)
    if len(names) < 2:
        problems.append(Problem(source, "", "must list at least two actors", len(names), True))
    if problems:
        raise InputError(problems)
    return Actors(tuple(names), *(np.array(values[c], dtype=float) for c in COLUMNS[1:]))


def _numbered(reader):
    for row in reader:
        yield reader.line_num, row


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if np.isfinite(value) else None
