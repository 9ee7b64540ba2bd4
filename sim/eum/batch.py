"""The ``scholz`` variant batched over replicates, each bit-for-bit the single-run kernel.

Arrays are ``(n_actors, n_replicates)`` with the replicate axis innermost and contiguous,
as in the convergence engine: every sum over actors runs in the replication's order for
all replicates of a tile at once, so the loops vectorise across replicates without
reordering any replicate's arithmetic.  Replicates are processed in tiles of ``TILE``
so that the ``(n_actors, n_actors, TILE)`` work arrays stay in cache.

Three shortcuts, each exact:

- A replicate in which nobody moved is at a fixed point (the next round starts from the
  same positions, so it repeats bit for bit): it drops out and its last round is copied.
  Sultan's actors, for one, never move.
- ``pow`` (the C library's, as the replication calls it) dominates the cost, so it is
  called once per actor and distinct position, not per pair of actors; and not at all
  where the result is known exactly: exponent 1 (every risk-stage exponent), base 0 or 1.
- The median: the replication scans candidates in CPython set order.  If the candidate
  found by scanning in input order beats every other position (its vote margin > 0),
  every scan order ends there; otherwise (ties, ~1 % of discrete data sets) the
  replication's own scan runs (``replication.set_median``).
"""

from __future__ import annotations

import math
from collections import namedtuple

import numba
import numpy as np

from .replication import KERNEL, set_median, status_quo

__all__ = ["TILE", "run_batch"]

TILE = 64
"""Replicates per tile: 64 measured fastest for 4 to 17 actors (the work arrays of 17
actors then take 0.6 MB)."""

Tile = namedtuple("Tile", [
    "x", "w", "s", "r", "new", "rep", "u_quo", "danger",  # (n_actors, TILE)
    "share", "support", "u_win", "u_lose",  # (n_actors, n_actors, TILE)
    "span", "total", "hi", "lo", "key_c", "at_c", "key_m", "at_m", "votes", "med",  # (TILE,)
    "has_c", "has_m", "moved", "ok",  # (TILE,) bool
])


@numba.njit(**KERNEL)
def make_tile(n):  # pragma: no cover - compiled
    """Work arrays for one tile of ``TILE`` replicates of ``n`` actors."""
    one, two = (n, TILE), (n, n, TILE)
    return Tile(np.zeros(one), np.zeros(one), np.zeros(one), np.zeros(one), np.zeros(one),
                np.zeros(one, np.int64), np.zeros(one), np.zeros(one),
                np.zeros(two), np.zeros(two), np.zeros(two), np.zeros(two),
                np.zeros(TILE), np.zeros(TILE), np.zeros(TILE), np.zeros(TILE), np.zeros(TILE),
                np.zeros(TILE), np.zeros(TILE), np.zeros(TILE), np.zeros(TILE), np.zeros(TILE),
                np.zeros(TILE, np.bool_), np.zeros(TILE, np.bool_), np.zeros(TILE, np.bool_),
                np.zeros(TILE, np.bool_))


@numba.njit(**KERNEL)
def run_batch(c, s, x, span, rounds, q, half, positions, risk, median, mean):  # pragma: no cover - compiled
    """Advance ``x`` by ``rounds`` rounds in place, every replicate at once.

    c, s, x: ``(n_actors, n_replicates)``; span: ``(n_replicates,)``, the range R of the
    initial positions.  To record every round pass positions, risk
    ``(rounds + 1, n_actors, n_replicates)`` and median, mean ``(rounds + 1, n_replicates)``;
    a leading dimension of 0 records nothing.  q: probability that the status quo
    holds; half: 0.5, passed at run time (see replication.py).
    """
    n, size = x.shape
    w = c * s
    record, summarise = positions.shape[0] > 0, median.shape[0] > 0
    tile = make_tile(n)
    if record:
        positions[0] = x
        risk[0] = 1.0
    if summarise:
        for start in range(0, size, TILE):
            lanes = np.arange(start, min(start + TILE, size))
            _gather(tile, lanes, x, w, s, span)
            _summarise(tile, lanes, median[0], mean[0])
    active = np.arange(size)  # replicates not yet at a fixed point
    n_active = size
    for t in range(1, rounds + 1):
        if record:  # a replicate at its fixed point repeats its last round
            positions[t] = positions[t - 1]
            risk[t] = risk[t - 1]
        if summarise:
            median[t] = median[t - 1]
            mean[t] = mean[t - 1]
        kept = 0
        for start in range(0, n_active, TILE):
            lanes = active[start:min(start + TILE, n_active)].copy()
            _gather(tile, lanes, x, w, s, span)
            step_tile(tile, lanes.size, q, half)
            for k in range(lanes.size):
                x[:, lanes[k]] = tile.new[:, k]
                if record:
                    positions[t, :, lanes[k]] = tile.new[:, k]
                    risk[t, :, lanes[k]] = tile.r[:, k]
                if tile.moved[k]:
                    active[kept] = lanes[k]
                    kept += 1
            if summarise:
                tile.x[:] = tile.new
                _summarise(tile, lanes, median[t], mean[t])
        n_active = kept


@numba.njit(**KERNEL)
def _gather(tile, lanes, x, w, s, span):  # pragma: no cover - compiled
    for k in range(lanes.size):
        tile.x[:, k] = x[:, lanes[k]]
        tile.w[:, k] = w[:, lanes[k]]
        tile.s[:, k] = s[:, lanes[k]]
        tile.span[k] = span[lanes[k]] if span[lanes[k]] > 0 else 1.0  # as replication.py


@numba.njit(**KERNEL)
def step_tile(tile, m, q, half):  # pragma: no cover - compiled
    """One round for replicates [0, m) of the tile: tile.new, tile.r and tile.moved."""
    x, n = tile.x, tile.x.shape[0]
    _find_repeats(x, tile.rep, m)
    # Risk stage, every exponent 1: (d / R) ** 1.0 is d / R exactly, no pow needed.
    for a in range(n):
        for b in range(n):
            for k in range(m):
                tile.share[a, b, k] = min(abs(x[a, k] - x[b, k]) / tile.span[k], 1.0)
    _sum_all_votes(tile.w, tile.share, tile.total, m)
    _sum_support(tile.w, tile.share, tile.support, m)
    _dangers(tile, m, q)
    _exponents(tile, m)
    # Offer stage, with the new exponents.
    _powers(tile, m, half)
    _sum_all_votes(tile.w, tile.share, tile.total, m)
    _sum_support(tile.w, tile.share, tile.support, m)
    tile.moved[:m] = False
    for i in range(n):
        _offers(tile, m, q, i)
    for i in range(n):
        for k in range(m):
            tile.moved[k] |= _differs(tile.new[i, k], x[i, k])


@numba.njit(**KERNEL)
def _differs(a, b):  # pragma: no cover - compiled
    """Not the same double, bit for bit (0.0 and -0.0 differ)."""
    return a != b or math.copysign(1.0, a) != math.copysign(1.0, b)


@numba.njit(**KERNEL)
def _find_repeats(x, rep, m):  # pragma: no cover - compiled
    """rep[j, k]: the first actor holding x[j, k] in replicate k (j itself if none before)."""
    n = x.shape[0]
    for j in range(n):
        for k in range(m):
            rep[j, k] = j
        for i in range(j - 1, -1, -1):  # downwards, so the first holder is written last
            for k in range(m):
                if x[i, k] == x[j, k]:
                    rep[j, k] = i


@numba.njit(**KERNEL)
def _sum_all_votes(w, share, total, m):  # pragma: no cover - compiled
    """total[k] = sum_a sum_b sum_c |w_a (share[a, c] - share[a, b])|, in that loop order."""
    n = w.shape[0]
    total[:m] = 0.0
    for a in range(n):
        for b in range(n):
            for c in range(n):
                if c == b:  # the term is |w_a 0| = 0, and adding 0 to a sum >= 0 is exact
                    continue
                for k in range(m):
                    total[k] += abs(w[a, k] * (share[a, c, k] - share[a, b, k]))


@numba.njit(**KERNEL)
def _sum_support(w, share, support, m):  # pragma: no cover - compiled
    """support[i, j, k] = sum_a max(0, v_a(x_i, x_j)), the numerator of P(x_i over x_j).

    v_a(x_j, x_i) is -v_a(x_i, x_j) exactly (negation is exact), so each pair is one pass.
    """
    n = w.shape[0]
    for i in range(n):
        support[i, i, :m] = 0.0
        for j in range(i + 1, n):
            support[i, j, :m] = 0.0
            support[j, i, :m] = 0.0
            for a in range(n):
                for k in range(m):
                    v = w[a, k] * (share[a, j, k] - share[a, i, k])
                    support[i, j, k] += v if v > 0 else 0.0
                    support[j, i, k] += -v if v < 0 else 0.0


@numba.njit(**KERNEL)
def _dangers(tile, m, q):  # pragma: no cover - compiled
    """danger[a, k] = sum over o != a of EU_a(o -> a), every exponent 1.

    With r = 1 the status-quo utility 2 - 4 (0.5)^1 is 0, so subtracting q U_sq is exact
    to leave out; q is kept in the signature for the reader.
    """
    x, s, span, total = tile.x, tile.s, tile.span, tile.total
    n = x.shape[0]
    for a in range(n):
        tile.danger[a, :m] = 0.0
        for o in range(n):
            if o == a:
                continue
            for k in range(m):
                p = 0.0
                if x[o, k] != x[a, k] and total[k] > 0:
                    p = tile.support[o, a, k] / total[k]
                gap = min(0.5 * abs(x[o, k] - x[a, k]) / span[k], 0.5)
                u_win = 2 - 4 * (0.5 - gap)
                u_lose = 2 - 4 * (0.5 + gap)
                tile.danger[a, k] += s[a, k] * (p * u_win + (1 - p) * u_lose) + (1 - s[a, k]) * u_win


@numba.njit(**KERNEL)
def _exponents(tile, m):  # pragma: no cover - compiled
    """r_a = (1 - R_a / 3) / (1 + R_a / 3), R_a = (2 D_a - D_max - D_min) / (D_max - D_min)."""
    danger, hi, lo = tile.danger, tile.hi, tile.lo
    n = danger.shape[0]
    hi[:m] = danger[0, :m]
    lo[:m] = danger[0, :m]
    for a in range(1, n):  # Python's max and min: the first of equals stays
        for k in range(m):
            if danger[a, k] > hi[k]:  # noqa: PLR1730 (numba's max may not keep the first)
                hi[k] = danger[a, k]
            if danger[a, k] < lo[k]:  # noqa: PLR1730
                lo[k] = danger[a, k]
    for a in range(n):
        for k in range(m):
            rel = (2 * danger[a, k] - hi[k] - lo[k]) / (hi[k] - lo[k])
            r = (1 - rel / 3.0) / (1 + rel / 3.0)
            tile.r[a, k] = r if hi[k] > lo[k] else 1.0  # equal dangers: the replication divides by 0


@numba.njit(**KERNEL)
def _power(base, r):  # pragma: no cover - compiled
    """base ** r by the C library's pow, skipped where its result is exact and known."""
    if r == 1.0 or base == 0.0 or base == 1.0:
        return base
    return base ** r


@numba.njit(**KERNEL)
def _powers(tile, m, half):  # pragma: no cover - compiled
    """With the new exponents: share[a, b] = (d_ab / R) ** r_a, and the utilities of a
    challenge between receiver a and partner b as a sees it: u_win, u_lose ``(n, n)``,
    u_quo ``(n,)``.  Partners at the position of an earlier actor copy its values."""
    x, r, rep, span = tile.x, tile.r, tile.rep, tile.span
    n = x.shape[0]
    for a in range(n):
        for k in range(m):
            tile.u_quo[a, k] = status_quo(half, r[a, k])
        for b in range(n):
            for k in range(m):
                first = rep[b, k]
                if x[b, k] == x[a, k]:
                    tile.share[a, b, k] = tile.u_win[a, b, k] = tile.u_lose[a, b, k] = 0.0
                elif first < b:
                    tile.share[a, b, k] = tile.share[a, first, k]
                    tile.u_win[a, b, k] = tile.u_win[a, first, k]
                    tile.u_lose[a, b, k] = tile.u_lose[a, first, k]
                else:
                    d = abs(x[a, k] - x[b, k])
                    gap = min(0.5 * d / span[k], 0.5)
                    tile.share[a, b, k] = _power(min(d / span[k], 1.0), r[a, k])
                    tile.u_win[a, b, k] = 2 - 4 * _power(0.5 - gap, r[a, k])
                    tile.u_lose[a, b, k] = 2 - 4 * _power(0.5 + gap, r[a, k])


@numba.njit(**KERNEL)
def _offers(tile, m, q, i):  # pragma: no cover - compiled
    """tile.new[i]: the nearest confrontation, else the compromise of least key, else x_i."""
    x, s, total = tile.x, tile.s, tile.total
    has_c, key_c, at_c, has_m, key_m, at_m = tile.has_c, tile.key_c, tile.at_c, tile.has_m, tile.key_m, tile.at_m
    has_c[:m] = False
    has_m[:m] = False
    for j in range(x.shape[0]):
        if j == i:
            continue
        for k in range(m):
            xi, xj = x[i, k], x[j, k]
            tot = total[k] if total[k] > 0 else np.inf  # no votes at all: probability 0
            p_ij, p_ji = tile.support[i, j, k] / tot, tile.support[j, i, k] / tot
            u_win, u_lose, u_quo = tile.u_win[i, j, k], tile.u_lose[i, j, k], tile.u_quo[i, k]
            e_ij = s[j, k] * (p_ij * u_win + (1 - p_ij) * u_lose) + (1 - s[j, k]) * u_win - q * u_quo
            e_ji = s[i, k] * (p_ji * u_win + (1 - p_ji) * u_lose) + (1 - s[i, k]) * u_win - q * u_quo
            offered = xj != xi
            confront = offered & (e_ji > e_ij) & (e_ij > 0)
            compromise = offered & (e_ji > 0) & (0 > e_ij) & (e_ji > abs(e_ij))  # excludes confront
            # Python's min keeps the first of equal keys: take a new offer only if strictly less.
            key = abs(xi - xj)
            take = confront & ((not has_c[k]) | (key < key_c[k]))
            key_c[k] = key if take else key_c[k]
            at_c[k] = xj if take else at_c[k]
            has_c[k] |= confront
            key = (abs(e_ij) * xi + abs(e_ji) * xj) / (abs(e_ij) + abs(e_ji))
            take = compromise & ((not has_m[k]) | (key < key_m[k]))
            key_m[k] = key if take else key_m[k]
            at_m[k] = xi + (xj - xi) * abs(e_ij / e_ji) if take else at_m[k]
            has_m[k] |= compromise
    for k in range(m):
        tile.new[i, k] = at_c[k] if has_c[k] else (at_m[k] if has_m[k] else x[i, k])


@numba.njit(**KERNEL)
def _summarise(tile, lanes, median, mean):  # pragma: no cover - compiled
    """median[lanes], mean[lanes] of the tile's positions tile.x, as the replication reports them."""
    x, w, span, m = tile.x, tile.w, tile.span, lanes.size
    n = x.shape[0]
    top, bottom, med, votes, ok = tile.hi, tile.lo, tile.med, tile.votes, tile.ok  # hi, lo: free here
    top[:m] = 0.0
    bottom[:m] = 0.0
    for a in range(n):
        for k in range(m):
            top[k] += w[a, k] * x[a, k]
            bottom[k] += w[a, k]
    for k in range(m):
        if bottom[k] > 0:
            mean[lanes[k]] = top[k] / bottom[k]
        else:  # nobody has weight: the plain mean
            plain = 0.0
            for a in range(n):
                plain += x[a, k]
            mean[lanes[k]] = plain / n
    med[:m] = x[0, :m]
    for j in range(1, n):  # scan in input order: a candidate
        _margin(x, w, span, med, j, votes, m)
        for k in range(m):
            if votes[k] < 0:  # x_j beats the incumbent
                med[k] = x[j, k]
    ok[:m] = True
    for j in range(n):  # does the candidate beat every other position?
        _margin(x, w, span, med, j, votes, m)
        for k in range(m):
            ok[k] &= (x[j, k] == med[k]) | (votes[k] > 0)
    for k in range(m):
        median[lanes[k]] = med[k] if ok[k] else set_median(x[:, k].copy(), w[:, k].copy(), span[k])


@numba.njit(**KERNEL)
def _margin(x, w, span, med, j, votes, m):  # pragma: no cover - compiled
    """votes[k] = sum_a v_a(med, x_j) at exponent 1, in actor order: > 0 if med beats x_j."""
    votes[:m] = 0.0
    for a in range(x.shape[0]):
        for k in range(m):
            votes[k] += w[a, k] * (min(abs(x[a, k] - x[j, k]) / span[k], 1.0)
                                   - min(abs(x[a, k] - med[k]) / span[k], 1.0))
