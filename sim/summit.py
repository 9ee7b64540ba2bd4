"""The summit: who would accept which package, and which deal the Nash bargaining
solution picks, for every replicate of a chunk at once.

A package sets every issue to one of its anchors; the menu is their product.
Each decider (every summit party, then every veto player) values a package
against *no deal*: on each issue, the gain from moving the level from its
status quo toward the decider's position (salience-weighted), plus the alliance
term (moving toward a patron's position gains, away costs). Gains are promises
the others must keep, so they are discounted by distrust, `1 - credibility (1 -
trust)`; losses are given up for sure and weigh `loss_aversion (1 + resolve)`
times as much (resolve with audience costs: a leader near an election pays more
for a concession). A decider accepts a package worth at least `margin` (less
what mediators remove) more than walking away (`walk_away`) and inside its
domestic bounds. A deal needs every required party and every veto player; among
such packages the one maximising the (weighted) Nash product of the required
parties' surpluses is chosen (the first in menu order on ties); optional
parties sign it if they accept it. The levels and signatures, held against the rubric, give
the class. DESIGN section 3; README, "The summit".
"""

from __future__ import annotations

import numba
import numpy as np

from .model import COLLAPSE, Model
from .randomness import Blocks
from .state import State

__all__ = ["audience_pressure", "bargain", "package_values", "record_summit", "summit_positions"]

_TILE = 1024  # replicates whose prefix sums the menu search keeps in cache at once


def audience_pressure(model: Model, state: State, day, idx=slice(None)) -> np.ndarray:
    """Audience costs in force on `day` (a number, or one day per replicate of `idx`),
    (n_agents, n): each election's cost ramps up linearly over its window and stops on
    election day; several add, capped at 1."""
    n = state.rate[idx].shape[0]
    out = np.zeros((model.n_agents, n))
    for k, e in enumerate(model.elections):
        if np.ndim(day) == 0 and not e.day - e.window_days < day <= e.day:
            continue  # the common case on a weekly tick: no election near
        ramp = 1.0 - (e.day - np.asarray(day, dtype=float)) / e.window_days
        ramp = np.where((ramp > 0.0) & (ramp <= 1.0), ramp, 0.0)
        out[e.agent] += ramp * state.audience[k, idx]
    return np.minimum(out, 1.0, out=out)


def record_summit(model: Model, state: State, idx) -> None:
    """The summit meets in replicates `idx`, each on its `state.summit_day`: keep what the
    bargain needs (positions, saliences, resolve with that day's audience costs, trust),
    and whether the visit was called off."""
    state.at_summit[:, :, idx] = state.position[:, :, idx]
    state.summit_salience[:, :, idx] = state.salience[:, :, idx]
    audience = audience_pressure(model, state, state.summit_day[idx], idx)
    resolve = state.resolve[:, idx]
    state.summit_resolve[:, idx] = resolve + (1.0 - resolve) * audience
    state.summit_trust[:, idx] = state.trust[:, idx]
    low = np.zeros(len(state.summit_day[idx]), dtype=bool)
    parties = set(model.parties)
    for p, (i, j) in enumerate(model.pairs):
        if i in parties and j in parties:
            low |= state.trust[p, idx] < model.trust_below
    state.called_off[idx] = state.cancelled[idx] | low


def summit_positions(model: Model, state: State, blocks: Blocks) -> np.ndarray:
    """Positions on the summit day with their unmodelled deviation, `noise` sd, within bounds:
    (n_agents, n_issues, n). Each agent and issue draws from its own stream."""
    dev = np.empty_like(state.at_summit)
    for a, agent in enumerate(model.agents):
        for i, issue in enumerate(model.issues):
            key = f"{model.canon.agent_label[agent]}.{model.canon.issue_label[issue]}"
            blocks.draw(blocks.rngs("summit", f"deviation.{key}"), lambda rng, size, sl: rng.standard_normal(size),
                        out=dev[a, i])
    dev *= state.noise
    dev += state.at_summit
    return np.clip(dev, model.lower, model.upper, out=dev)


def _credibility(model: Model, state: State, decider: int, trust: np.ndarray) -> np.ndarray:
    """1 - credibility (1 - mean trust with the other parties): what a promised gain is worth.
    A party the decider has no trust entry with counts as full trust, as missing entries do
    everywhere (a veto player's; every two parties have one): left out of the mean, one entry
    at 0.1 made a veto player distrust every party."""
    rows = [trust[p] for p, (i, j) in enumerate(model.pairs)
            if decider in (i, j) and (j if i == decider else i) in model.parties]
    missing = sum(q != decider for q in model.parties) - len(rows)
    if not missing:
        mean = np.mean(rows, axis=0) if rows else np.ones(state.n)
    else:
        mean = (np.sum(rows, axis=0) + missing) / (len(rows) + missing)
    return 1.0 - state.credibility * (1.0 - mean)


def package_values(model: Model, state: State, x: np.ndarray, trust: np.ndarray) -> np.ndarray:
    """Per decider, issue and anchor, the value of setting the issue to that anchor rather than
    leaving it at its status quo: (n_deciders, n_issues, max_anchors, n); a package's value is
    the sum over issues of its anchors' values."""
    deciders = model.deciders
    width = max(len(a) for a in model.issue_anchors)
    out = np.zeros((len(deciders), model.n_issues, width, state.n))
    sal = state.summit_salience
    for d, agent in enumerate(deciders):
        gain_weight = _credibility(model, state, agent, trust)
        loss_weight = state.loss_aversion * (1.0 + state.summit_resolve[agent])
        for k, anchors in enumerate(model.issue_anchors):
            sq = model.status_quo[k]
            level = anchors[:, None]
            gain = sal[agent, k] * (np.abs(sq - x[agent, k]) - np.abs(level - x[agent, k]))
            for al_k, al in enumerate(model.alliances):
                if al.agent == agent and k in al.issues:
                    gain += state.alliance_cost[al_k] * (np.abs(sq - x[al.patron, k]) - np.abs(level - x[al.patron, k]))
            out[d, k, : len(anchors)] = np.where(gain >= 0.0, gain_weight * gain, loss_weight * gain)
    return out


def bargain(model: Model, state: State, blocks: Blocks) -> None:
    """Settle every summit of the chunk: the deal (or none), who signed, the class."""
    x = summit_positions(model, state, blocks)
    state.at_summit[...] = x
    trust, margin = state.summit_trust.copy(), state.margin.copy()
    for m, _ in enumerate(model.mediators):
        trust += state.mediator_trust[m] * (1.0 - trust)
        margin *= 1.0 - state.mediator_margin[m]
    values = package_values(model, state, x, trust)
    deciders = model.deciders
    n_parties = len(model.parties)
    walk = state.walk_away[list(deciders)]
    needed = np.concatenate([model.required, np.ones(len(model.veto), dtype=bool)])
    # Nash weights (D, n): a party whose signature is not needed, and a veto player, weigh 0
    active = np.concatenate([model.required, np.zeros(len(model.veto), dtype=bool)])
    weight = np.concatenate([np.where(model.required[:, None], state.weights, 0.0),
                             np.zeros((len(model.veto), state.n))])
    in_bounds = np.zeros((len(deciders), model.n_issues, values.shape[2]), dtype=bool)
    for d, agent in enumerate(deciders):
        for k, anchors in enumerate(model.issue_anchors):
            in_bounds[d, k, : len(anchors)] = (anchors >= model.lower[agent, k, 0] - 1e-12) & \
                                              (anchors <= model.upper[agent, k, 0] + 1e-12)
    n_anchors = np.array([len(a) for a in model.issue_anchors], dtype=np.int64)
    package = np.full(state.n, -1, dtype=np.int64)
    accepts = np.zeros((len(deciders), state.n), dtype=bool)
    settle(values, n_anchors, margin[None, :] + walk, walk, in_bounds, needed, active, weight, package, accepts)
    signed = accepts[:n_parties] & (package >= 0)
    outcome = model.rubric.classify(package, signed)
    off = state.called_off
    outcome[off], package[off], signed[:, off] = COLLAPSE, -1, False
    state.outcome[...], state.package[...], state.signed[...] = outcome, package, signed


@numba.njit(cache=True, nogil=True)
def settle(values, n_anchors, threshold, walk, in_bounds, needed, active, weight, best, accepts):  # pragma: no cover
    """Search the menu for every replicate at once.

    values (D, I, W, n): each decider's value of each issue's anchors; a package's
    value is the sum over issues, accumulated issue by issue in menu order (the
    first issue slowest) and kept as prefix sums, so moving to the next package
    recomputes only the issues whose anchor changed. threshold, walk (D, n);
    in_bounds (D, I, W); needed (D,) bool; active (D,) bool: in the objective;
    weight (D, n) Nash weights. A replicate's objective is the product of the
    active surpluses (value - walk) when its active weights are all 1, else the
    weighted sum of their logs (a surplus of 0 counting as 1e-300); ties go to the
    first package. Each replicate's score is computed alike in every tile, so the
    choice does not depend on the chunk. Writes best (n,) (-1: none) and accepts
    (D, n) at the chosen package. Every loop over replicates is innermost.
    """
    D, I, W, n = values.shape
    product = np.ones(n, dtype=np.bool_)
    for d in range(D):
        if active[d]:
            for r in range(n):
                if weight[d, r] != 1.0:
                    product[r] = False
    for r0 in range(0, n, _TILE):  # a tile of replicates keeps the prefix sums in cache
        _settle_tile(values, n_anchors, threshold, walk, in_bounds, needed, active, weight, best, r0,
                     min(r0 + _TILE, n), product)
    _accepts_at(values, n_anchors, threshold, in_bounds, best, accepts)


@numba.njit(cache=True, nogil=True)
def _settle_tile(values, n_anchors, threshold, walk, in_bounds, needed, active, weight, best, r0, r1,
                 product):  # pragma: no cover
    """`settle` for replicates [r0, r1)."""
    D, I, W, n = values.shape
    m = r1 - r0
    prefix = np.zeros((D, I, m))
    inside = np.ones((D, I + 1), dtype=np.bool_)
    digit = np.zeros(I, dtype=np.int64)
    best_score = np.full(m, -np.inf)
    ok = np.empty(m, dtype=np.bool_)
    score = np.empty(m)
    log_score = np.empty(m)
    n_product = 0
    for r in range(m):
        if product[r0 + r]:
            n_product += 1
    total = 1
    for k in range(I):
        total *= n_anchors[k]
    first_changed = 0
    for p in range(total):
        for d in range(D):
            for k in range(first_changed, I):
                a = digit[k]
                inside[d, k + 1] = inside[d, k] and in_bounds[d, k, a]
                if k == 0:
                    for r in range(m):
                        prefix[d, 0, r] = values[d, 0, a, r0 + r]
                else:
                    for r in range(m):
                        prefix[d, k, r] = prefix[d, k - 1, r] + values[d, k, a, r0 + r]
        possible = True
        for d in range(D):
            if needed[d] and not inside[d, I]:
                possible = False
        if possible:
            ok[:] = True
            for d in range(D):
                if needed[d]:
                    for r in range(m):
                        ok[r] = ok[r] and prefix[d, I - 1, r] >= threshold[d, r0 + r]
            if n_product > 0:  # the usual case, every weight 1: the product of the surpluses
                score[:] = 1.0
                for d in range(D):
                    if active[d]:
                        for r in range(m):
                            score[r] *= prefix[d, I - 1, r] - walk[d, r0 + r]
            if n_product < m:  # weights drawn or other than 1 in some replicate: the sum of weighted logs
                log_score[:] = 0.0
                for d in range(D):
                    if active[d]:
                        for r in range(m):
                            log_score[r] += weight[d, r0 + r] * np.log(max(prefix[d, I - 1, r] - walk[d, r0 + r],
                                                                           1e-300))
                for r in range(m):
                    if not product[r0 + r]:
                        score[r] = log_score[r]
            for r in range(m):
                if ok[r] and score[r] > best_score[r]:
                    best_score[r] = score[r]
                    best[r0 + r] = p
        # the next package: the last issue moves fastest (itertools.product order)
        k = I - 1
        while k >= 0:
            digit[k] += 1
            if digit[k] < n_anchors[k]:
                break
            digit[k] = 0
            k -= 1
        first_changed = max(k, 0)


@numba.njit(cache=True, nogil=True)
def _accepts_at(values, n_anchors, threshold, in_bounds, best, accepts):  # pragma: no cover
    """accepts[d, r]: decider d accepts replicate r's chosen package (False where none)."""
    D, I, W, n = values.shape
    for r in range(n):
        p = best[r]
        if p < 0:
            continue
        for d in range(D):
            rest, value, inside = p, 0.0, True
            digits = np.empty(I, dtype=np.int64)
            for k in range(I - 1, -1, -1):
                digits[k] = rest % n_anchors[k]
                rest //= n_anchors[k]
            for k in range(I):
                value = values[d, k, digits[k], r] if k == 0 else value + values[d, k, digits[k], r]
                inside = inside and in_bounds[d, k, digits[k]]
            accepts[d, r] = inside and value >= threshold[d, r]
