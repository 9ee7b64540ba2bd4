"""The ``paper`` variant: our reading of what Scholz et al. (2011) and BDM (1994) intend,
in numpy over ``(n_actors, n_replicates)`` arrays.

It differs from the replication (``scholz``) in three rules: the probability's
denominator is the pair's own votes, sum_a |v_a(x_i, x_j)|, so P_ij + P_ji = 1 (1/2 when
nobody cares); capitulation happens (e_ji > 0 > e_ij and e_ji < |e_ij|: i moves all the
way to x_j, the replication's condition having a typo); and among compromises, as among
the other offer types, an actor takes the one needing the smallest move.  Being a
different model it keeps numpy's summation order and is tested for its own properties.

Cost: sum_a max(0, y_a) = (sum_a y_a + sum_a |y_a|) / 2, so the one O(n^3) step is
A[i, j] = sum_a |v_a(x_i, x_j)|, a loop over actors a; nothing loops over replicates, and
memory is O(n^2) a replicate.
"""

from __future__ import annotations

import numpy as np

__all__ = ["step_paper", "weighted_mean", "weighted_median"]

_TIE_RTOL = 1e-12  # median costs this close (relative to sum w * range) are a tie


def weighted_median(position: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """The position, among ``position``, minimising sum_a weight_a |position_a - p|.

    position, weight: ``(n_actors, n_replicates)``; returns ``(n_replicates,)``.  The
    first minimiser in input order wins; costs within 1e-12 (relative) count as tied.
    """
    cost = (weight[:, None, :] * np.abs(position[:, None, :] - position[None, :, :])).sum(axis=0)
    scale = weight.sum(axis=0) * (position.max(axis=0) - position.min(axis=0))
    best = cost <= cost.min(axis=0) + _TIE_RTOL * scale
    return np.take_along_axis(position, best.argmax(axis=0)[None, :], axis=0)[0]


def weighted_mean(position: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """sum_a w_a x_a / sum_a w_a per replicate ``(n_replicates,)``; the plain mean if no weight."""
    total = weight.sum(axis=0)
    mean = (weight * position).sum(axis=0) / np.where(total > 0, total, 1.0)
    return np.where(total > 0, mean, position.mean(axis=0))


def step_paper(x, w, s, span, q):
    """One round of the paper variant: ``(new_position, risk)``, both ``(n_actors, n_replicates)``.

    x, w (capability x salience), s: ``(n_actors, n_replicates)``; span: ``(n_replicates,)``,
    the range R of the initial positions (positions farther apart count as R apart; R = 0,
    everyone agreeing, counts as 1).
    """
    scale = np.where(span > 0, span, 1.0)
    dist = np.abs(x[:, None, :] - x[None, :, :])  # symmetric, dist[i, j] = |x_i - x_j|
    dn = np.minimum(dist / scale, 1.0)
    half = np.minimum(0.5 * dist / scale, 0.5)

    risk = _risk_exponents(half, dn, w, s)
    p = _probabilities(dn, w, risk)
    e_ij, e_ji = _expected_utilities(half, s, p, risk, q)

    offered = dist > 0
    ratio = np.abs(e_ij / np.where(e_ji != 0, e_ji, 1.0))
    x_i, x_j = x[:, None, :], np.broadcast_to(x[None, :, :], dist.shape)
    confront = offered & (e_ji > e_ij) & (e_ij > 0)
    giving = offered & (e_ji > 0) & (e_ij < 0)
    compromise = giving & (e_ji > np.abs(e_ij))
    comp_at = x_i + (x_j - x_i) * ratio
    has_c, to_c = _choose(confront, dist, x_j)
    has_m, to_m = _choose(compromise, np.abs(comp_at - x_i), comp_at)
    has_k, to_k = _choose(giving & (e_ji < np.abs(e_ij)), dist, x_j)
    return np.where(has_c, to_c, np.where(has_m, to_m, np.where(has_k, to_k, x))), risk


def _probabilities(dn, w, r):
    """P[i, j] = sum_a max(0, v_a(x_i, x_j)) / sum_a |v_a(x_i, x_j)|, ``(n, n, N)``; 1/2 if 0/0."""
    wd = w[:, None, :] * (dn if r is None else dn ** r[:, None, :])  # wd[a, b] = w_a D[a, b]
    # A[i, j] = sum_a |wd[a, j] - wd[a, i]|, one actor a at a time: an (n, n, n, N) array of
    # the differences would take 8 n^3 bytes a replicate (a gigabyte for one run of 500 actors).
    # The sum runs over a in order, as numpy's sum over the leading axis does, to the bit.
    pairwise = np.abs(wd[0, None, :, :] - wd[0, :, None, :])
    diff = np.empty_like(pairwise)
    for a in range(1, wd.shape[0]):
        np.subtract(wd[a, None, :, :], wd[a, :, None, :], out=diff)
        pairwise += np.abs(diff, out=diff)
    support = wd.sum(axis=0)
    num = 0.5 * ((support[None, :, :] - support[:, None, :]) + pairwise)
    np.maximum(num, 0.0, out=num)  # rounding may leave -1e-17 where the sum is 0
    return np.divide(num, pairwise, out=np.full_like(num, 0.5), where=pairwise > 0)


def _expected_utilities(half, s, p, r, q):
    """(e_ij, e_ji): EU_i(i -> j) and EU_i(j -> i) seen by i with exponent r_i, ``(n, n, N)``.

    half = 0.5 |x_i - x_j| / R; s ``(n, N)``; p = P[i, j]; r ``(n, N)`` or None for 1.
    """
    u_win, u_lose = 0.5 - half, 0.5 + half
    if r is not None:
        np.power(u_win, r[:, None, :], out=u_win)
        np.power(u_lose, r[:, None, :], out=u_lose)
    for u in (u_win, u_lose):  # u = 2 - 4 u, in place
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
    """s (p u_win + (1 - p) u_lose) + (1 - s) u_win - cost_sq."""
    e = p * u_win
    e += p_lose * u_lose
    e *= s
    e += (1 - s) * u_win
    e -= cost_sq
    return e


def _risk_exponents(half, dn, w, s):
    """r_a ``(n, N)`` in [0.5, 2] from each actor's danger, every exponent set to 1."""
    p = _probabilities(dn, w, None)
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
