"""The median and mean the replication reports, for a tile of replicates (``batch.py``).

The mean is sum_a w_a x_a / sum_a w_a, in actor order.  The replication's median scans
the distinct positions in CPython set order, keeping the incumbent unless a challenger
wins more votes (exponent 1).  Whatever the order, the scan ends at a position that
beats every other one, if there is one: so a candidate is found by scanning in input
order, and kept if its vote margin over every other position is > 0 (votes for q over p
are exactly minus those for p over q).  Only where none does (exact ties, ~1 % of
discrete data sets) does the replication's own scan run (``replication.set_median``).
"""

from __future__ import annotations

import numba

from .replication import KERNEL, set_median

__all__ = ["summarise"]


@numba.njit(**KERNEL)
def summarise(tile, m, median, mean):  # pragma: no cover - compiled
    """median[lanes], mean[lanes] ``(n_replicates,)`` of the positions tile.x of the tile's
    first m replicates (lanes = tile.lanes); uses tile.share as scratch."""
    _mean(tile, m, mean)
    _median(tile, m, median)


@numba.njit(**KERNEL)
def _mean(tile, m, mean):  # pragma: no cover - compiled
    x, w, lanes, top, bottom = tile.x, tile.w, tile.lanes, tile.hi, tile.lo  # hi, lo: free here
    n = x.shape[0]
    for k in range(m):
        top[k] = bottom[k] = 0.0
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


@numba.njit(**KERNEL)
def _median(tile, m, median):  # pragma: no cover - compiled
    """A candidate by scanning in input order, kept if it beats every other position;
    near[a, k] holds a's distance to the candidate."""
    x, w, span, lanes, med, votes, ok, near = tile.x, tile.w, tile.span, tile.lanes, tile.med, tile.votes, \
        tile.ok, tile.near
    n = x.shape[0]
    delta = tile.share  # free after the round: distances at exponent 1, as the replication's
    for a in range(n):
        for b in range(n):
            for k in range(m):
                delta[a, b, k] = min(abs(x[a, k] - x[b, k]) / span[k], 1.0)
    for k in range(m):
        med[k] = x[0, k]
    for a in range(n):
        for k in range(m):
            near[a, k] = delta[a, 0, k]
    for j in range(1, n):
        _margin(w, delta, near, j, votes, m)
        for k in range(m):
            ok[k] = votes[k] < 0  # x_j beats the candidate
            med[k] = x[j, k] if ok[k] else med[k]
        for a in range(n):
            for k in range(m):
                near[a, k] = delta[a, j, k] if ok[k] else near[a, k]
    for k in range(m):
        ok[k] = True
    for j in range(n):
        _margin(w, delta, near, j, votes, m)
        for k in range(m):
            ok[k] &= (x[j, k] == med[k]) | (votes[k] > 0)
    for k in range(m):
        median[lanes[k]] = med[k] if ok[k] else set_median(x[:, k].copy(), w[:, k].copy(), span[k])


@numba.njit(**KERNEL)
def _margin(w, delta, near, j, votes, m):  # pragma: no cover - compiled
    """votes[k] = sum_a v_a(candidate, x_j) at exponent 1, in actor order: > 0 if the
    candidate beats x_j (``near``: each actor's distance to the candidate)."""
    for k in range(m):
        votes[k] = 0.0
    for a in range(w.shape[0]):
        for k in range(m):
            votes[k] += w[a, k] * (delta[a, j, k] - near[a, k])
