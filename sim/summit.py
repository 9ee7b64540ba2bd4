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

__all__ = ["audience_pressure", "feasible_packages", "package_utility", "resolve_summit"]


def audience_pressure(model: Model, state: State, day: float, idx=slice(None)) -> np.ndarray:
    """Audience costs in force on `day`, (n_agents, n): each election's cost ramps up
    linearly over its window and stops on election day; several add, capped at 1."""
    n = state.trust[idx].shape[0]
    out = np.zeros((model.n_agents, n))
    for k, e in enumerate(model.elections):
        if e.day - e.window_days < day <= e.day:
            ramp = 1 - (e.day - day) / e.window_days
            out[e.agent] += ramp * state.audience[k, idx]
    return np.minimum(out, 1.0, out=out)


def package_utility(model: Model, state: State, agent: int, idx) -> np.ndarray:
    """Utility of every package for `agent` in replicates `idx`: (n_packages, n)."""
    pos = state.position[agent][:, idx]  # (n_issues, n)
    sal = state.salience[agent][:, idx]
    dist = np.abs(model.packages[:, :, None] - pos[None])  # (P, I, n)
    util = 1.0 - np.einsum("pin,in->pn", dist, sal)
    for k, al in enumerate(model.alliances):
        if al.agent != agent:
            continue
        issues = list(al.issues)
        patron = state.position[al.patron][issues][:, idx]  # (k, n)
        deviation = np.abs(model.packages[:, issues, None] - patron[None]).sum(axis=1)
        util -= state.alliance_cost[k, idx] * deviation
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


def resolve_summit(model: Model, state: State, idx: np.ndarray, day: float) -> None:
    """Meet in replicates `idx` (indices) on `day`: record the outcome, the deal and positions."""
    state.at_summit[:, :, idx] = state.position[:, :, idx]
    audience = audience_pressure(model, state, day, idx)
    utilities, reservations = [], []
    for party in model.parties:
        utilities.append(package_utility(model, state, party, idx))
        res = state.reservation[party, idx]
        reservations.append(res + (1 - res) * audience[party])
    ok = feasible_packages(model, utilities, reservations)
    surplus = (utilities[0] - reservations[0][None]) * (utilities[1] - reservations[1][None])
    surplus = np.where(ok, surplus, -np.inf)
    best = np.argmax(surplus, axis=0)  # ties: first package in menu order
    has_deal = ok.any(axis=0)
    outcome = np.where(has_deal, model.package_class[best], TALK_FEST).astype(np.uint8)
    package = np.where(has_deal, best, -1).astype(np.int16)

    call_off = state.cancelled[idx] | (state.trust[idx] < model.trust_below)
    outcome[call_off] = COLLAPSE
    package[call_off] = -1
    state.outcome[idx] = outcome
    state.package[idx] = package
