"""The summit: who would accept which package, and which deal the Nash bargaining
solution picks, vectorised over replicates.

A package sets every issue to one of its anchors; the menu is their cartesian
product (a few dozen packages). A party's utility for a package is one minus
the salience-weighted distance from its current positions, less alliance
costs for deviating from a patron. A package is feasible when it lies within
both parties' domestic bounds and gives both at least their reservation
utility; the deal maximises the product of the two surpluses.
"""

from __future__ import annotations

import numpy as np

from .model import COLLAPSE, TALK_FEST, Model, State

__all__ = ["audience_pressure", "bargain", "feasible_packages", "package_utility", "record_summit", "resolve_summit"]


def audience_pressure(model: Model, state: State, day, idx=slice(None)) -> np.ndarray:
    """Audience costs in force on `day` (a number, or one day per replicate of `idx`),
    (n_agents, n): each election's cost ramps up linearly over its window and stops on
    election day; several add, capped at 1."""
    n = state.trust[idx].shape[0]
    out = np.zeros((model.n_agents, n))
    for k, e in enumerate(model.elections):
        if np.ndim(day) == 0 and not e.day - e.window_days < day <= e.day:
            continue  # the common case on a weekly tick: no election near
        ramp = 1.0 - (e.day - np.asarray(day, dtype=float)) / e.window_days
        ramp = np.where((ramp > 0.0) & (ramp <= 1.0), ramp, 0.0)
        out[e.agent] += ramp * state.audience[k, idx]
    return np.minimum(out, 1.0, out=out)


def package_utility(model: Model, state: State, agent: int, idx=slice(None)) -> np.ndarray:
    """Utility of every package for `agent` in replicates `idx`, (n_packages, n), from
    the positions recorded when the summit met (`state.at_summit`).

    The menu is a cartesian product, so the utility is a sum of per-issue terms,
    one (n_anchors, n) array per issue: a few dozen operations per replicate.
    """
    pos = state.at_summit[:, :, idx]  # (n_agents, n_issues, n)
    sal = state.summit_salience[model.parties.index(agent)][:, idx]
    n = pos.shape[-1]
    util = np.ones((1, n))
    for i, anchors in enumerate(model.issue_anchors):
        term = sal[i] * np.abs(anchors[:, None] - pos[agent, i])  # (n_anchors, n)
        for k, al in enumerate(model.alliances):
            if al.agent == agent and i in al.issues:
                term += state.alliance_cost[k, idx] * np.abs(anchors[:, None] - pos[al.patron, i])
        util = (util[:, None, :] - term[None, :, :]).reshape(-1, n)
    return util


def within_bounds(model: Model, agent: int) -> np.ndarray:
    """(n_packages,) True where a package respects the agent's domestic bounds."""
    lo, hi = model.lower[agent, :, 0], model.upper[agent, :, 0]
    return np.all((model.packages >= lo - 1e-12) & (model.packages <= hi + 1e-12), axis=1)


def feasible_packages(model: Model, utilities, reservations) -> np.ndarray:
    """(n_packages, n) True where a package is acceptable to both parties.

    utilities, reservations: per party, (n_packages, n) and (n,).
    """
    ok = np.ones(utilities[0].shape, dtype=bool)
    for party, util, res in zip(model.parties, utilities, reservations):
        ok &= within_bounds(model, party)[:, None]
        ok &= util >= res[None, :]
    return ok


def record_summit(model: Model, state: State, idx) -> None:
    """The summit meets in replicates `idx`, each on its `state.summit_day`: keep what
    the bargain needs (positions, the parties' saliences and reservations with the
    audience costs of that day, and whether the visit was called off)."""
    state.at_summit[:, :, idx] = state.position[:, :, idx]
    audience = audience_pressure(model, state, state.summit_day[idx], idx)
    for k, party in enumerate(model.parties):
        state.summit_salience[k][:, idx] = state.salience[party][:, idx]
        res = state.reservation[party, idx]
        state.summit_reservation[k, idx] = res + (1 - res) * audience[party]
    state.called_off[idx] = state.cancelled[idx] | (state.trust[idx] < model.trust_below)


def bargain(model: Model, state: State, idx=slice(None)) -> None:
    """Settle every recorded summit in `idx`: the Nash bargaining deal, or none."""
    utilities = [package_utility(model, state, party, idx) for party in model.parties]
    reservations = [state.summit_reservation[k, idx] for k in range(2)]
    ok = feasible_packages(model, utilities, reservations)
    surplus = (utilities[0] - reservations[0]) * (utilities[1] - reservations[1])
    surplus[~ok] = -np.inf
    best = np.argmax(surplus, axis=0)  # ties: the first package in menu order
    has_deal = ok[best, np.arange(best.shape[0])]
    outcome = np.where(has_deal, model.package_class[best], TALK_FEST).astype(np.uint8)
    package = np.where(has_deal, best, -1).astype(np.int16)
    called_off = state.called_off[idx]
    outcome[called_off] = COLLAPSE
    package[called_off] = -1
    state.outcome[idx] = outcome
    state.package[idx] = package


def resolve_summit(model: Model, state: State, idx, day: int) -> None:
    """Meet in replicates `idx` on `day` and settle at once (the timeline records
    summits as their days come and settles a whole chunk in one `bargain`)."""
    state.summit_day[idx] = day
    record_summit(model, state, idx)
    bargain(model, state, idx)
