"""The ``scholz`` variant batched over replicates, each bit-for-bit the single-run kernel.

Arrays are ``(n_actors, n_replicates)`` with the replicate axis innermost and contiguous,
as in the convergence engine: every sum over actors runs in the replication's order for
all replicates of a tile at once, so the loops vectorise across replicates without
reordering any replicate's arithmetic.  Replicates are processed in tiles of ``TILE``
so that the ``(n_actors, n_actors, TILE)`` work arrays stay in cache.

Shortcuts, each exact:

- A replicate in which nobody moved is at a fixed point (the next round starts from the
  same positions, so it repeats bit for bit): it drops out and its last round is copied.
  Sultan's actors, for one, never move.
- ``pow`` (the C library's, as the replication calls it) dominates the cost, so it is
  called once per actor and distinct position, not per pair of actors; not at all where
  its result is known exactly (exponent 1, as in every risk stage; base 0 or 1); and not
  for the utilities of a pair that certainly makes no offer (``_utilities``).
- The median (``median.py``) scans the replication's CPython set order only where the
  order can matter.
"""

from __future__ import annotations

import math
from collections import namedtuple

import numba
import numpy as np

from .median import summarise
from .replication import KERNEL, status_quo

__all__ = ["TILE", "run_batch"]

TILE = 64
"""Replicates per tile: 32 was slower, 128 no faster, for 4 to 17 actors (the work
arrays of 17 actors take 0.9 MB, within a core's L2 cache)."""

Tile = namedtuple("Tile", [
    "x", "w", "s", "r", "new", "u_quo", "danger", "e_ij", "e_ji", "near",  # (n_actors, TILE)
    "rep", "need",  # (n_actors, TILE) int, bool
    "unit", "gap", "share", "chance", "u_win", "u_lose",  # (n_actors, n_actors, TILE)
    "span", "total", "hi", "lo", "key_c", "at_c", "key_m", "at_m", "votes", "med",  # (TILE,)
    "has_m", "moved", "ok",  # (TILE,) bool
    "lanes",  # (TILE,) int: the replicate in each lane
    "pows",  # (1,) int: the C library pow calls made so far (benchmarks/bench_eum.py reports them)
])


@numba.njit(**KERNEL)
def make_tile(n):  # pragma: no cover - compiled
    """Work arrays for one tile of ``TILE`` replicates of ``n`` actors."""
    one, two = (n, TILE), (n, n, TILE)
    return Tile(np.zeros(one), np.zeros(one), np.zeros(one), np.zeros(one), np.zeros(one),
                np.zeros(one), np.zeros(one), np.zeros(one), np.zeros(one), np.zeros(one),
                np.zeros(one, np.int64), np.zeros(one, np.bool_),
                np.zeros(two), np.zeros(two), np.zeros(two), np.zeros(two), np.zeros(two), np.zeros(two),
                np.zeros(TILE), np.zeros(TILE), np.zeros(TILE), np.zeros(TILE), np.zeros(TILE),
                np.zeros(TILE), np.zeros(TILE), np.zeros(TILE), np.zeros(TILE), np.zeros(TILE),
                np.zeros(TILE, np.bool_), np.zeros(TILE, np.bool_), np.zeros(TILE, np.bool_),
                np.zeros(TILE, np.int64), np.zeros(1, np.int64))


@numba.njit(**KERNEL)
def run_batch(c, s, x, span, rounds, q, half, positions, risk, median, mean):  # pragma: no cover - compiled
    """Advance ``x`` by ``rounds`` rounds in place, every replicate at once.

    c, s, x: ``(n_actors, n_replicates)``; span: ``(n_replicates,)``, the range R of the
    initial positions.  To record every round pass positions, risk
    ``(rounds + 1, n_actors, n_replicates)`` and median, mean ``(rounds + 1, n_replicates)``;
    a leading dimension of 0 records nothing.  q: probability that the status quo
    holds; half: 0.5, passed at run time (see replication.py).  Returns how many times
    the C library's pow was called: the part of the cost that exactness fixes.
    """
    n, size = x.shape
    w = c * s
    record, summarised = positions.shape[0] > 0, median.shape[0] > 0
    tile = make_tile(n)
    if record:
        positions[0] = x
        risk[0] = 1.0
    active = np.arange(size)  # replicates not yet at a fixed point, in order
    if summarised:
        for start in range(0, size, TILE):
            m = _gather(tile, active, start, size, x, w, s, span)
            summarise(tile, m, median[0], mean[0])
    for t in range(1, rounds + 1):
        if record:  # a replicate at its fixed point repeats its last round
            positions[t] = positions[t - 1]
            risk[t] = risk[t - 1]
        if summarised:
            median[t] = median[t - 1]
            mean[t] = mean[t - 1]
        kept = 0
        for start in range(0, size, TILE):
            m = _gather(tile, active, start, size, x, w, s, span)
            step_tile(tile, m, q, half)
            for k in range(m):
                if tile.moved[k]:  # kept <= start + k: overwrites only what is gathered
                    active[kept] = tile.lanes[k]
                    kept += 1
            for a in range(n):
                for k in range(m):
                    tile.x[a, k] = tile.new[a, k]
            _scatter(tile.x, tile.lanes, m, x)
            if record:
                _scatter(tile.x, tile.lanes, m, positions[t])
                _scatter(tile.r, tile.lanes, m, risk[t])
            if summarised:
                summarise(tile, m, median[t], mean[t])
        size = kept
    return tile.pows[0]


@numba.njit(**KERNEL)
def _gather(tile, active, start, size, x, w, s, span):  # pragma: no cover - compiled
    """Copy replicates active[start:start + TILE] into the tile; return how many."""
    m = min(TILE, size - start)
    lanes = tile.lanes
    for k in range(m):
        lanes[k] = active[start + k]
    for a in range(x.shape[0]):
        for k in range(m):
            tile.x[a, k] = x[a, lanes[k]]
            tile.w[a, k] = w[a, lanes[k]]
            tile.s[a, k] = s[a, lanes[k]]
    for k in range(m):
        tile.span[k] = span[lanes[k]] if span[lanes[k]] > 0 else 1.0  # as replication.py
    return m


@numba.njit(**KERNEL)
def _scatter(values, lanes, m, out):  # pragma: no cover - compiled
    """out[:, lanes[k]] = values[:, k] for the tile's first m replicates."""
    for a in range(values.shape[0]):
        for k in range(m):
            out[a, lanes[k]] = values[a, k]


@numba.njit(**KERNEL)
def step_tile(tile, m, q, half):  # pragma: no cover - compiled
    """One round for replicates [0, m) of the tile: tile.new, tile.r and tile.moved."""
    x, n = tile.x, tile.x.shape[0]
    _find_repeats(x, tile.rep, m)
    # d / R and 0.5 d / R, capped, once: each is the base of a pow below.
    for a in range(n):
        for b in range(n):
            for k in range(m):
                d = abs(x[a, k] - x[b, k])
                tile.unit[a, b, k] = min(d / tile.span[k], 1.0)
                tile.gap[a, b, k] = min(0.5 * d / tile.span[k], 0.5)
    # Risk stage, every exponent 1: (d / R) ** 1.0 is d / R exactly, no pow needed.
    _sum_all_votes(tile.w, tile.unit, tile.total, m)
    _chances(tile.w, tile.unit, tile.total, tile.chance, m)
    _dangers(tile, m)
    _exponents(tile, m)
    # Offer stage, with the new exponents.
    _shares(tile, m, half)
    _sum_all_votes(tile.w, tile.share, tile.total, m)
    _chances(tile.w, tile.share, tile.total, tile.chance, m)
    _utilities(tile, m)
    for k in range(m):
        tile.moved[k] = False
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
    for k in range(m):
        total[k] = 0.0
    for a in range(n):
        for b in range(n):
            for c in range(n):
                if c == b:  # the term is |w_a 0| = 0, and adding 0 to a sum >= 0 is exact
                    continue
                for k in range(m):
                    total[k] += abs(w[a, k] * (share[a, c, k] - share[a, b, k]))


@numba.njit(**KERNEL)
def _chances(w, share, total, chance, m):  # pragma: no cover - compiled
    """chance[i, j, k] = P(x_i prevails over x_j) = sum_a max(0, v_a(x_i, x_j)) / total[k].

    v_a(x_j, x_i) is -v_a(x_i, x_j) exactly (negation is exact), so each pair is one
    pass.  It is 0 where x_i = x_j (the shares are equal) and where nobody votes.
    """
    n = w.shape[0]
    for i in range(n):
        for k in range(m):
            chance[i, i, k] = 0.0
        for j in range(i + 1, n):
            for k in range(m):
                chance[i, j, k] = chance[j, i, k] = 0.0
            for a in range(n):
                for k in range(m):
                    v = w[a, k] * (share[a, j, k] - share[a, i, k])
                    chance[i, j, k] += v if v > 0 else 0.0
                    chance[j, i, k] += -v if v < 0 else 0.0
            for k in range(m):
                tot = total[k] if total[k] > 0 else np.inf  # the replication divides by 0
                chance[i, j, k] /= tot
                chance[j, i, k] /= tot


@numba.njit(**KERNEL)
def _dangers(tile, m):  # pragma: no cover - compiled
    """danger[a, k] = sum over o != a of EU_a(o -> a), every exponent 1.

    With r = 1 the status-quo utility 2 - 4 (0.5)^1 is 0, so subtracting q U_sq is exact
    to leave out, and (0.5 -+ gap) ** 1.0 is 0.5 -+ gap.
    """
    x, s = tile.x, tile.s
    n = x.shape[0]
    for a in range(n):
        for k in range(m):
            tile.danger[a, k] = 0.0
        for o in range(n):
            if o == a:
                continue
            for k in range(m):
                p = tile.chance[o, a, k]
                gap = tile.gap[o, a, k]
                u_win = 2 - 4 * (0.5 - gap)
                u_lose = 2 - 4 * (0.5 + gap)
                tile.danger[a, k] += s[a, k] * (p * u_win + (1 - p) * u_lose) + (1 - s[a, k]) * u_win


@numba.njit(**KERNEL)
def _exponents(tile, m):  # pragma: no cover - compiled
    """r_a = (1 - R_a / 3) / (1 + R_a / 3), R_a = (2 D_a - D_max - D_min) / (D_max - D_min)."""
    danger, hi, lo = tile.danger, tile.hi, tile.lo
    n = danger.shape[0]
    for k in range(m):
        hi[k] = lo[k] = danger[0, k]
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
    """base ** r by the C library's pow, skipped where its result is exact and known;
    and 1 if pow was called, else 0."""
    if r == 1.0 or base == 0.0 or base == 1.0:
        return base, 0
    return base ** r, 1


@numba.njit(**KERNEL)
def _shares(tile, m, half):  # pragma: no cover - compiled
    """With the new exponents: share[a, b] = (d_ab / R) ** r_a ``(n, n)`` and each actor's
    status-quo utility u_quo ``(n,)``.  Actors at the position of an earlier one copy its share."""
    x, r, rep = tile.x, tile.r, tile.rep
    n = x.shape[0]
    calls = n * m  # one status-quo pow an actor
    for a in range(n):
        for k in range(m):
            tile.u_quo[a, k] = status_quo(half, r[a, k])
        for b in range(n):
            for k in range(m):
                first = rep[b, k]
                if x[b, k] == x[a, k]:
                    tile.share[a, b, k] = 0.0
                elif first < b:
                    tile.share[a, b, k] = tile.share[a, first, k]
                else:
                    tile.share[a, b, k], called = _power(tile.unit[a, b, k], r[a, k])
                    calls += called
    tile.pows[0] += calls


@numba.njit(**KERNEL)
def _utilities(tile, m):  # pragma: no cover - compiled
    """u_win[a, b], u_lose[a, b] ``(n, n)``: the utilities of a challenge between receiver a and
    partner b as a sees it, where an offer from b is possible (else 0, which makes none).

    Every offer needs e_ba > e_ab, and e_ba - e_ab = (u_win - u_lose) D with
    D = s_b (1 - P_ab) - s_a (1 - P_ba) and u_win - u_lose >= 4 sqrt(2) gap for any
    exponent in [0.5, 2].  Where gap >= 1e-6 and D <= -1e-6 the difference is below
    -5e-12, a thousand times the rounding error of the two e's (< 1e-14): no offer, for
    certain, and no pow.  Partners sharing a position share the pows if any needs them.
    """
    x, r, rep, s, chance, need = tile.x, tile.r, tile.rep, tile.s, tile.chance, tile.need
    n = x.shape[0]
    calls = 0
    for a in range(n):
        for b in range(n):
            for k in range(m):
                need[b, k] = False
        for b in range(n):
            for k in range(m):
                gap = tile.gap[a, b, k]
                margin = s[b, k] * (1 - chance[a, b, k]) - s[a, k] * (1 - chance[b, a, k])
                if not (gap >= 1e-6 and margin <= -1e-6):
                    need[rep[b, k], k] = True
        for b in range(n):
            for k in range(m):
                first = rep[b, k]
                if x[b, k] == x[a, k] or not need[first, k]:
                    tile.u_win[a, b, k] = tile.u_lose[a, b, k] = 0.0
                elif first < b:
                    tile.u_win[a, b, k] = tile.u_win[a, first, k]
                    tile.u_lose[a, b, k] = tile.u_lose[a, first, k]
                else:
                    gap = tile.gap[a, b, k]
                    win, called_win = _power(0.5 - gap, r[a, k])
                    lose, called_lose = _power(0.5 + gap, r[a, k])
                    tile.u_win[a, b, k], tile.u_lose[a, b, k] = 2 - 4 * win, 2 - 4 * lose
                    calls += called_win + called_lose
    tile.pows[0] += calls


@numba.njit(**KERNEL)
def _offers(tile, m, q, i):  # pragma: no cover - compiled
    """tile.new[i]: the nearest confrontation, else the compromise of least key, else x_i.

    Python's min keeps the first of equal keys, so an offer replaces the best so far only
    if its key is strictly less.  The loops are split so that each writes one array and
    vectorises; compromises (few, and moot beside a confrontation) are settled lane by
    lane afterwards, in the same order of partners.
    """
    x, s, n, chance, u_win, u_lose, u_quo = tile.x, tile.s, tile.x.shape[0], tile.chance, tile.u_win, \
        tile.u_lose, tile.u_quo
    e_ij, e_ji, near, key_c, at_c = tile.e_ij, tile.e_ji, tile.near, tile.key_c, tile.at_c
    for j in range(n):  # no array views here: each would cost an atomic reference count
        for k in range(m):
            p = chance[i, j, k]
            e_ij[j, k] = (s[j, k] * (p * u_win[i, j, k] + (1 - p) * u_lose[i, j, k]) + (1 - s[j, k]) * u_win[i, j, k]
                          - q * u_quo[i, k])
        for k in range(m):
            p = chance[j, i, k]
            e_ji[j, k] = (s[i, k] * (p * u_win[i, j, k] + (1 - p) * u_lose[i, j, k]) + (1 - s[i, k]) * u_win[i, j, k]
                          - q * u_quo[i, k])
    for k in range(m):
        key_c[k] = np.inf  # |x_i - x_j| is finite: inf means no confrontation
    for j in range(n):
        for k in range(m):
            confront = (x[j, k] != x[i, k]) & (e_ji[j, k] > e_ij[j, k]) & (e_ij[j, k] > 0)
            near[j, k] = abs(x[i, k] - x[j, k]) if confront else np.inf
        for k in range(m):
            take = near[j, k] < key_c[k]
            key_c[k] = near[j, k] if take else key_c[k]
            at_c[k] = x[j, k] if take else at_c[k]
    _compromises(tile, m, i)
    for k in range(m):
        stay = x[i, k] if not tile.has_m[k] else tile.at_m[k]
        tile.new[i, k] = at_c[k] if key_c[k] < np.inf else stay


@numba.njit(**KERNEL)
def _compromises(tile, m, i):  # pragma: no cover - compiled
    """The compromise of least key (|e_ij| x_i + |e_ji| x_j) / (|e_ij| + |e_ji|) for receiver i,
    in the lanes without a confrontation: tile.has_m, tile.at_m."""
    x, e_ij, e_ji, offered, count = tile.x, tile.e_ij, tile.e_ji, tile.near, tile.votes
    for k in range(m):
        count[k] = 0.0
    for j in range(x.shape[0]):  # which lanes have one at all: vectorised
        for k in range(m):
            yes = (tile.key_c[k] == np.inf) & (x[j, k] != x[i, k]) & (e_ji[j, k] > 0) & (0 > e_ij[j, k])
            offered[j, k] = 1.0 if yes & (e_ji[j, k] > abs(e_ij[j, k])) else 0.0
            count[k] += offered[j, k]
    for k in range(m):
        tile.has_m[k] = False
    for k in range(m):
        if count[k] == 0:
            continue
        for j in range(x.shape[0]):  # in partner order: the first of equal keys stays
            if offered[j, k] == 0:
                continue
            a, b, xi, xj = abs(e_ij[j, k]), abs(e_ji[j, k]), x[i, k], x[j, k]
            key = (a * xi + b * xj) / (a + b)
            if not tile.has_m[k] or key < tile.key_m[k]:
                tile.has_m[k], tile.key_m[k] = True, key
                tile.at_m[k] = xi + (xj - xi) * abs(e_ij[j, k] / e_ji[j, k])
