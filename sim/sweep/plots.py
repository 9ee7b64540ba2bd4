"""Plots of a sweep: probability curves over one factor, a heatmap over two, and
bars of the sensitivity indices. Files only (the Agg backend), in the style of
`sim.plots`.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import numpy as np

from ..model import CLASSES
from ..plots import CLASS_COLOURS, CLASS_LABELS, DPI, fit_title, subplots
from ..reporting import INDEX_RANGE, index_error_bars

__all__ = ["plot_curves", "plot_heatmap", "plot_sensitivity"]

ANNOTATE_CELLS = 144
"""Heatmaps with at most this many cells print each cell's probability."""


def plot_curves(rows: list[dict], factor: str, title: str, path: str | Path | BinaryIO) -> None:
    """Each outcome class's probability against one varied factor, with its 95 %
    interval as a band; P(substantive or better) dashed. `rows` are the store's."""
    rows = sorted(rows, key=lambda r: r[factor])
    x = np.array([r[factor] for r in rows])
    fig, ax = subplots(figsize=(7.5, 4.8), layout="constrained")
    try:
        for c in CLASSES:
            p, lo, hi = (np.array([r[f"{c}_{s}"] for r in rows]) for s in ("p", "low", "high"))
            ax.fill_between(x, lo, hi, color=CLASS_COLOURS[c], alpha=0.3, linewidth=0)
            ax.plot(x, p, color=CLASS_COLOURS[c], linewidth=2, marker="o", markersize=3, label=CLASS_LABELS[c])
        p, lo, hi = (np.array([r[f"substantive_or_better_{s}"] for r in rows]) for s in ("p", "low", "high"))
        ax.fill_between(x, lo, hi, color="#2166ac", alpha=0.2, linewidth=0)
        ax.plot(x, p, color="#2166ac", linewidth=2, linestyle="--", label="Substantive or better")
        ax.set_xlabel(factor)
        ax.set_ylabel("Probability (bands: 95 % interval)")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
        ax.legend(loc="best", fontsize=9)
        ax.set_title(fit_title(title, 7.5, 12), fontsize=12)
        fig.savefig(path, dpi=DPI, format="png")
    finally:
        fig.clear()


def plot_heatmap(rows: list[dict], factors: tuple[str, str], title: str, path: str | Path | BinaryIO) -> None:
    """P(substantive or better) over two factors: a heatmap of a grid (each cell
    annotated when there are few), or a scatter coloured by it for other designs."""
    fx, fy = factors
    x = np.array([r[fx] for r in rows])
    y = np.array([r[fy] for r in rows])
    p = np.array([r["substantive_or_better_p"] for r in rows])
    xs, ys = np.unique(x), np.unique(y)
    fig, ax = subplots(figsize=(7.5, 5.5), layout="constrained")
    try:
        if len(xs) * len(ys) == len(rows):  # a full grid
            grid = np.full((len(ys), len(xs)), np.nan)
            grid[np.searchsorted(ys, y), np.searchsorted(xs, x)] = p
            mesh = ax.pcolormesh(_edges(xs), _edges(ys), grid, cmap="viridis", vmin=0, vmax=max(0.05, p.max()))
            if grid.size <= ANNOTATE_CELLS:
                for (j, i), v in np.ndenumerate(grid):
                    ax.text(xs[i], ys[j], f"{v:.2f}", ha="center", va="center", fontsize=8,
                            color="white" if v < 0.6 * max(0.05, p.max()) else "black")
        else:
            mesh = ax.scatter(x, y, c=p, cmap="viridis", vmin=0, vmax=max(0.05, p.max()), s=30,
                              edgecolors="#333333", linewidths=0.3)
        fig.colorbar(mesh, ax=ax, label="P(substantive or better)")
        ax.set_xlabel(fx)
        ax.set_ylabel(fy)
        ax.set_title(fit_title(title, 7.5, 12), fontsize=12)
        fig.savefig(path, dpi=DPI, format="png")
    finally:
        fig.clear()


def plot_sensitivity(analysis: dict, title: str, path: str | Path | BinaryIO) -> None:
    """Bars of each factor's indices with their confidence intervals: S1 and ST for
    Sobol, mu* (with its interval) and sigma for Morris; largest first."""
    method, indices = analysis["method"], analysis["indices"]
    keys = (("S1", "first order S1"), ("ST", "total ST")) if method == "sobol" else \
        (("mu_star", "mu* (mean |effect|)"), ("sigma", "sigma (sd of effects)"))
    rank = "ST" if method == "sobol" else "mu_star"
    names = sorted(indices, key=lambda n: -(indices[n][rank] or 0))
    colours = ("#7fbf7b", "#1b7837") if method == "sobol" else ("#7fbf7b", "#bababa")
    y = np.arange(len(names))
    fig, ax = subplots(figsize=(8, 1.2 + 0.6 * len(names)), layout="constrained")
    try:
        for k, (key, label) in enumerate(keys):
            v = np.array([indices[n][key] or 0.0 for n in names])
            err = index_error_bars(indices, names, key) if key in INDEX_RANGE else None  # sigma has none
            ax.barh(y + (k - 0.5) * 0.38, v, height=0.38, xerr=err, capsize=3, label=label,
                    color=colours[k], edgecolor="#333333", linewidth=0.5)
        ax.set_yticks(y, names, fontsize=9)
        ax.invert_yaxis()
        ax.axvline(0, color="#333333", linewidth=0.6)
        ax.set_xlabel("Sobol index of P(substantive or better) (bars: 95 % bootstrap interval)"
                      if method == "sobol" else "Elementary effect on P(substantive or better), per range")
        ax.grid(axis="x", alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
        ax.legend(loc="lower right", fontsize=9)
        ax.set_title(fit_title(title, 8, 12), fontsize=12)
        fig.savefig(path, dpi=DPI, format="png")
    finally:
        fig.clear()


def _edges(centres: np.ndarray) -> np.ndarray:
    """Cell edges around sorted centres (one centre: a unit-wide cell)."""
    if len(centres) == 1:
        return np.array([centres[0] - 0.5, centres[0] + 0.5])
    mid = (centres[1:] + centres[:-1]) / 2
    return np.concatenate([[2 * centres[0] - mid[0]], mid, [2 * centres[-1] - mid[-1]]])
