"""The ``scholz`` variant compiled, one run at a time, in the replication's order of operations.

Floating-point addition is not associative: the project's earlier numpy sums matched the
published replication only to 1e-14, and at a knife edge that flips a move.  So this
kernel does the replication's arithmetic exactly as it does it (bdm_scholz_model.py of
J. McKibben-Sanders, Python 3 fork by D. Masad; the model in shared/data/eum/README.md):
every sum runs left to right over the actors in file order, every expression keeps the
replication's operands and their order, and the weighted median scans its candidates in
CPython's set order, as the replication's ``list({actor.x for actor in actors})`` does.
The result is bit-for-bit the replication's (tests/test_eum_reference.py checks it
against a plain-Python transcription; the batched kernel, ``batch.py``, against this).

Two things the compiler would otherwise change: LLVM rewrites ``0.5 ** r`` as
``exp2(-r)``, which differs from the C ``pow`` the replication calls in the last bit of
about one exponent in a thousand, so the 0.5 of the status-quo utility comes in as an
argument (``half``) the compiler cannot see; and no fastmath, so nothing is reassociated
or fused.  Where the replication divides by zero we choose: R = 0 (all agree) counts as
R = 1, which gives no move and r = 1 (every distance is 0); equal dangers give r = 1; no
weight gives probability 0 and an unweighted mean.  Distances are capped at R, which
changes nothing inside the initial range: a run never leaves it, but the weekly engine's
noise can, and it fixes R when diplomacy starts.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["KERNEL", "run_single", "set_median", "set_order", "status_quo", "weighted_mean"]

KERNEL = {"cache": True, "nogil": True, "error_model": "numpy"}
"""numba options of every EUM kernel: "numpy" skips the zero-division checks, which the
kernels make themselves where the replication would divide by zero."""

LINEAR_PROBES = 9  # CPython's Objects/setobject.c
PERTURB_SHIFT = 5
LOW_59_BITS = (1 << 59) - 1  # masks an arithmetic right shift by 5 into a logical one


@numba.njit(**KERNEL)
def run_single(c, s, x, span, first, last, q, half, positions, risk, median, mean):  # pragma: no cover - compiled
    """Rounds ``first`` to ``last`` of the replication, one run, each recorded at its index.

    c, s: ``(n_actors,)``; x: ``(n_actors,)``, the positions before round ``first`` (the
    initial ones for 0), moved in place; span: R, the range of the initial positions;
    positions, risk: ``(rounds + 1, n_actors)`` (``risk[t]`` holds the exponents round t
    used, ones at t = 0); median, mean: ``(rounds + 1,)``.  q: probability that the status
    quo holds; half: 0.5 (see the module docstring).  A run in several calls (for progress
    between them) is bit for bit the run in one: each round starts from the positions alone.
    """
    n = x.size
    w = c * s
    span = span if span > 0 else 1.0  # everyone agrees: every distance is 0 anyway
    r = np.ones(n)
    share = np.empty((n, n))
    for t in range(first, last + 1):
        if t > 0:
            r = risk_exponents(x, w, s, span, q, half, share)
            x[:] = best_offers(x, w, s, span, q, half, r, share)
        positions[t] = x
        risk[t] = r
        median[t] = set_median(x, w, span)
        mean[t] = weighted_mean(x, w)


@numba.njit(**KERNEL)
def fill_shares(x, span, r, share):  # pragma: no cover - compiled
    """share[a, b] = (|x_a - x_b| / R) ** r_a, capped at 1: a's distance to b, ``(n, n)``."""
    n = x.size
    for a in range(n):
        for b in range(n):
            share[a, b] = min(abs(x[a] - x[b]) / span, 1.0) ** r[a]


@numba.njit(**KERNEL)
def all_votes(w, share):  # pragma: no cover - compiled
    """sum_a sum_b sum_c |v_a(x_b, x_c)|, the replication's denominator, in its loop order."""
    n = w.size
    total = 0.0
    for a in range(n):
        for b in range(n):
            for c in range(n):
                total += abs(w[a] * (share[a, c] - share[a, b]))
    return total


@numba.njit(**KERNEL)
def probability(x, w, share, total, i, j):  # pragma: no cover - compiled
    """P(x_i prevails over x_j): sum_a max(0, v_a(x_i, x_j)) / total; 0 if x_i = x_j or no votes."""
    if x[i] == x[j]:
        return 0.0
    support = 0.0
    for a in range(x.size):
        v = w[a] * (share[a, j] - share[a, i])
        support += v if v > 0 else 0.0
    return support / total if total > 0 else 0.0


@numba.njit(**KERNEL)
def challenge(x, w, s, span, q, half, r, share, total, k, i, j):  # pragma: no cover - compiled
    """EU_k(i -> j): the expected utility of i challenging j as k sees it (exponent r_k)."""
    p = probability(x, w, share, total, i, j)
    gap = min(0.5 * abs(x[i] - x[j]) / span, 0.5)
    u_win = 2 - 4 * (0.5 - gap) ** r[k]
    u_lose = 2 - 4 * (0.5 + gap) ** r[k]
    u_quo = status_quo(half, r[k])
    return s[j] * (p * u_win + (1 - p) * u_lose) + (1 - s[j]) * u_win - q * u_quo


@numba.njit(**KERNEL)
def status_quo(half, r):  # pragma: no cover - compiled
    """U_sq = 2 - 4 (0.5)^r, with half = 0.5 from the caller: as a constant, LLVM would
    compute 0.5 ** r as exp2(-r), which differs from C's pow once in a thousand."""
    return 2 - 4 * half ** r


@numba.njit(**KERNEL)
def risk_exponents(x, w, s, span, q, half, share):  # pragma: no cover - compiled
    """r_a ``(n,)`` from each actor's danger, every exponent at 1 meanwhile."""
    n = x.size
    ones = np.ones(n)
    fill_shares(x, span, ones, share)
    total = all_votes(w, share)
    danger = np.empty(n)
    for a in range(n):
        d = 0.0
        for o in range(n):
            if o != a:
                d += challenge(x, w, s, span, q, half, ones, share, total, a, o, a)
        danger[a] = d
    hi, lo = danger.max(), danger.min()
    if not hi > lo:  # the replication divides by zero here
        return ones
    r = np.empty(n)
    for a in range(n):
        rel = (2 * danger[a] - hi - lo) / (hi - lo)
        r[a] = (1 - rel / 3.0) / (1 + rel / 3.0)
    return r


@numba.njit(**KERNEL)
def best_offers(x, w, s, span, q, half, r, share):  # pragma: no cover - compiled
    """The new positions ``(n,)``: each actor takes its best offer, all from the same x."""
    fill_shares(x, span, r, share)
    total = all_votes(w, share)
    new = x.copy()
    for i in range(x.size):
        new[i] = best_offer(x, w, s, span, q, half, r, share, total, i)
    return new


@numba.njit(**KERNEL)
def best_offer(x, w, s, span, q, half, r, share, total, i):  # pragma: no cover - compiled
    """Where i goes: the nearest confrontation, else the compromise of least key, else x_i."""
    confront = compromise = False
    confront_key = confront_at = compromise_key = compromise_at = 0.0
    for j in range(x.size):
        if x[j] == x[i]:
            continue
        e_ij = challenge(x, w, s, span, q, half, r, share, total, i, i, j)
        e_ji = challenge(x, w, s, span, q, half, r, share, total, i, j, i)
        if e_ji > e_ij > 0:
            key = abs(x[i] - x[j])
            if not confront or key < confront_key:  # strict: the first of equals stays
                confront, confront_key, confront_at = True, key, x[j]
        elif e_ji > 0 > e_ij and e_ji > abs(e_ij):
            key = (abs(e_ij) * x[i] + abs(e_ji) * x[j]) / (abs(e_ij) + abs(e_ji))
            if not compromise or key < compromise_key:
                at = x[i] + (x[j] - x[i]) * abs(e_ij / e_ji)
                compromise, compromise_key, compromise_at = True, key, at
    if confront:
        return confront_at
    return compromise_at if compromise else x[i]


@numba.njit(**KERNEL)
def weighted_mean(x, w):  # pragma: no cover - compiled
    """sum_a w_a x_a / sum_a w_a; the plain mean when no actor has weight."""
    top = bottom = 0.0
    for a in range(x.size):
        top += w[a] * x[a]
        bottom += w[a]
    if bottom > 0:
        return top / bottom
    plain = 0.0
    for a in range(x.size):
        plain += x[a]
    return plain / x.size


@numba.njit(**KERNEL)
def set_median(x, w, span):  # pragma: no cover - compiled
    """The replication's median: scan the distinct positions in CPython set order,
    keeping the incumbent unless a challenger wins sum_a v_a(p, median) > 0 (exponent 1).
    """
    order = np.empty(x.size, np.int64)
    count = set_order(x, order)
    median = x[order[0]]
    for k in range(1, count):
        p = x[order[k]]
        votes = 0.0
        for a in range(x.size):  # (d / R) ** 1.0 is d / R exactly: pow is exact there
            votes += w[a] * (min(abs(x[a] - median) / span, 1.0) - min(abs(x[a] - p) / span, 1.0))
        if votes > 0:
            median = p
    return median


@numba.njit(**KERNEL)
def set_order(values, order):  # pragma: no cover - compiled
    """Fill ``order`` with the first index of each distinct value, in the order CPython
    iterates ``{v for v in values}``; return how many there are.

    CPython's set is an open-addressing table of 8 slots to start: a value goes to slot
    hash & mask or the next LINEAR_PROBES free ones, else jumps to 5 i + 1 + perturb
    (perturb = hash, shifted right 5 bits per jump); when 3/5 full the table is rebuilt
    with the smallest power of two above 4 x used slots, re-inserting in slot order.
    """
    size = 8
    while size <= 4 * values.size:  # the largest table these values can need
        size *= 2
    slots = np.full(size, -1, np.int64)  # index of the value held, -1 if empty
    hashes = np.zeros(size, np.int64)
    mask = 7
    used = 0
    for a in range(values.size):
        h = hash(values[a])
        i = _find_slot(values, slots, hashes, mask, h, values[a])
        if slots[i] >= 0:  # an equal value is already in: the set keeps the first
            continue
        slots[i], hashes[i] = a, h
        used += 1
        if used * 5 >= mask * 3:
            mask = _grow(slots, hashes, mask, used)
    count = 0
    for i in range(mask + 1):
        if slots[i] >= 0:
            order[count] = slots[i]
            count += 1
    return count


@numba.njit(**KERNEL)
def _find_slot(values, slots, hashes, mask, h, v):  # pragma: no cover - compiled
    """The slot holding a value equal to v, or the free slot where v goes (set_add_entry)."""
    i = h & mask
    perturb = h
    while True:
        probes = LINEAR_PROBES if i + LINEAR_PROBES <= mask else 0
        for e in range(i, i + probes + 1):
            if slots[e] < 0 or (hashes[e] == h and values[slots[e]] == v):
                return e
        perturb = (perturb >> PERTURB_SHIFT) & LOW_59_BITS  # C shifts an unsigned size_t
        i = (i * 5 + 1 + perturb) & mask


@numba.njit(**KERNEL)
def _grow(slots, hashes, mask, used):  # pragma: no cover - compiled
    """Rebuild the table larger, re-inserting in slot order (set_table_resize); the new mask."""
    minused = used * 2 if used > 50000 else used * 4
    size = 8
    while size <= minused:
        size *= 2
    old_slots, old_hashes = slots[:mask + 1].copy(), hashes[:mask + 1].copy()
    slots[:size] = -1
    new_mask = size - 1
    for e in range(mask + 1):
        if old_slots[e] < 0:
            continue
        h = old_hashes[e]
        i, perturb = h & new_mask, h
        while True:  # set_insert_clean: the first free slot on the probe path
            probes = LINEAR_PROBES if i + LINEAR_PROBES <= new_mask else 0
            free = -1
            for f in range(i, i + probes + 1):
                if slots[f] < 0:
                    free = f
                    break
            if free >= 0:
                slots[free], hashes[free] = old_slots[e], h
                break
            perturb = (perturb >> PERTURB_SHIFT) & LOW_59_BITS
            i = (i * 5 + 1 + perturb) & new_mask
    return new_mask
