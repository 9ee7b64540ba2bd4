"""Plots of a run, for people who would rather look than read.

`plot_outcomes` draws the outcome classes with their 95 % intervals from a
summary; `plot_fan` draws the summit parties' positions over time as fan
charts. Files only: figures are `matplotlib.figure.Figure` objects saved
directly, so `sim` never touches pyplot or the global backend (a notebook
that imports `sim` keeps its own).
"""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import matplotlib.dates as mdates
import numpy as np
from matplotlib.figure import Figure

from .model import CLASSES
from .montecarlo import RunResult
from .reporting import forecast_partial, scenario_label, seed_label

__all__ = ["fit_title", "party_styles", "plot_fan", "plot_outcomes", "subplots"]

CLASS_LABELS = {"breakthrough": "Breakthrough", "substantive": "Substantive",
                "talk_fest": "Talk fest", "collapse": "Collapse"}
CLASS_COLOURS = {"breakthrough": "#1b7837", "substantive": "#7fbf7b",
                 "talk_fest": "#bababa", "collapse": "#c2403a"}
PARTY_COLOURS = ("#2166ac", "#d6604d", "#1b7837", "#762a83", "#8c6d31", "#4d4d4d", "#35978f", "#c51b7d")
"""The fan chart's party colours, in turn; a summit may have any number of parties."""
LINE_STYLES = ("-", "--", ":", "-.")
DPI = 120


def subplots(nrows: int = 1, ncols: int = 1, **options):
    """(figure, axes) like `pyplot.subplots`, without pyplot: `figsize`, `layout` go to the
    figure, the rest (`squeeze`, `sharey`, ...) to `Figure.subplots`."""
    fig = Figure(figsize=options.pop("figsize", None), layout=options.pop("layout", "constrained"))
    return fig, fig.subplots(nrows, ncols, **options)


def fit_title(text: str, width: float, fontsize: float) -> str:
    """`text` with each of its lines wrapped to what fits `width` inches at `fontsize` points,
    so that a long scenario name, or the file that tells a counterfactual from its base, does
    not run a title off both edges of its figure (matplotlib never wraps; a character of its
    font averages about 0.5 of the size in lower case)."""
    chars = max(20, int(width * 72 / (0.55 * fontsize)))
    return "\n".join(textwrap.fill(line, chars) for line in text.split("\n"))


def plot_outcomes(summary: dict, path: str | Path) -> None:
    """Bar chart of the four outcome classes' probabilities with 95 % intervals.

    `summary` is `results.summarise_run`'s dict; the title names the scenario,
    the replicates and the seed.
    """
    classes = summary["classes"]
    p = np.array([_number(classes[c]["p"]) for c in CLASSES])
    low = np.array([_number(classes[c]["low"]) for c in CLASSES])
    high = np.array([_number(classes[c]["high"]) for c in CLASSES])
    x = np.arange(len(CLASSES))

    fig, ax = subplots(figsize=(7, 4.5), layout="constrained")
    try:
        ax.bar(x, p, width=0.6, color=[CLASS_COLOURS[c] for c in CLASSES], edgecolor="#333333", linewidth=0.6)
        ax.errorbar(x, p, yerr=[np.clip(p - low, 0, None), np.clip(high - p, 0, None)],
                    fmt="none", ecolor="black", elinewidth=1.2, capsize=6)
        for xi, pi, hi in zip(x, p, high):
            ax.annotate(f"{pi:.3f}", (xi, max(pi, hi)), xytext=(0, 4), textcoords="offset points",
                        ha="center", va="bottom", fontsize=10)
        ax.set_xticks(x, [CLASS_LABELS[c] for c in CLASSES], fontsize=11)
        ax.set_ylim(0, min(1.0, max(float(high.max()), float(p.max())) * 1.15 + 0.05))
        ax.set_ylabel("Probability (bars: 95 % interval)")
        ax.grid(axis="y", alpha=0.3)
        ax.set_axisbelow(True)
        ax.spines[["top", "right"]].set_visible(False)
        note = ", interrupted" if forecast_partial(summary) else ""  # not for the model as written's pass alone
        if (summary.get("calibration") or {}).get("file"):  # must not pass for the model as written
            note += f", posterior predictive ({Path(summary['calibration']['file']).name})"
        seed = seed_label(summary["seed_entropy"])
        ax.set_title(fit_title(f"{scenario_label(summary)}: outcome of the summit\n"
                               f"{summary['runs']:,} replicates, seed {seed}{note}", 7, 12), fontsize=12)
        fig.savefig(path, dpi=DPI)
    finally:
        fig.clear()


def waterfall_total(ax, y: float, p: float, x0: float, colour: str,
                    interval: tuple[float, float] | None = None) -> None:
    """A waterfall's first or last total, P with its 95 % interval where known: a bar from 0 on
    an axis that starts at 0; on one cut above 0 (steps of a few hundredths vanish on a whole
    axis) a bar from the cut would not be as long as P, so a marker at P instead."""
    if x0 > 0:
        ax.plot([p], [y], marker="D", markersize=8, color=colour, markeredgecolor="#333333", linestyle="none")
    else:
        ax.barh(y, p, color=colour, height=0.6, edgecolor="#333333", linewidth=0.5)
    if interval is not None:
        ax.errorbar([p], [y], xerr=[[p - interval[0]], [interval[1] - p]], fmt="none", ecolor="black",
                    elinewidth=1, capsize=2.5)
    ax.annotate(f"{p:.3f}", (p if interval is None else max(p, interval[1]), y), xytext=(6, 0),
                textcoords="offset points", va="center", fontsize=9)


def party_styles(n: int, palette) -> list[tuple[str, str]]:
    """(colour, line style) of each of `n` parties: `palette`'s (colour, line style) pairs in
    turn, then again with the next line style each round, so that every party, not only as
    many as the palette has entries, is drawn and told apart (up to 4 x len(palette))."""
    out = []
    for k in range(n):
        colour, line = palette[k % len(palette)][:2]
        shift = k // len(palette)
        out.append((colour, LINE_STYLES[(LINE_STYLES.index(line) + shift) % len(LINE_STYLES)]))
    return out


def plot_fan(result: RunResult, path: str | Path) -> None:
    """Fan charts of the summit parties' positions on each issue, week by week.

    One panel per issue, every party in each: the median line and the 25-75 %
    and 5-95 % bands over `result.trajectory` (weeks, n_agents, n_issues, k),
    the weekly positions of the first k replicates. The shaded strip is the
    window of possible summit dates.
    """
    model, traj = result.model, result.trajectory
    weeks, k = traj.shape[0], traj.shape[-1]
    # the start, then the weekly ticks, which fall on the calendar's Sundays (`model.ticks`), not
    # every 7 days from the start: trajectory.parquet dates them so, and the report draws them there
    days = np.array((0, *model.ticks))[:weeks]
    if model.start_date is not None:
        x = [model.start_date + dt.timedelta(days=int(d)) for d in days]
        x_of_day = lambda d: model.start_date + dt.timedelta(days=int(d))  # noqa: E731
    else:
        x, x_of_day = days / 7, (lambda d: d / 7)  # noqa: E731

    n = model.n_issues
    cols = min(n, 3)
    rows = -(-n // cols)
    fig, axes = subplots(rows, cols, figsize=(5.2 * cols, 3.8 * rows), squeeze=False,
                             sharey=True, layout="constrained")
    window = None
    try:
        issue_order = _written_issues(model)
        for panel, ax in enumerate(axes.flat):
            if panel >= n:
                ax.set_visible(False)
                continue
            i = issue_order[panel]
            mark = _shade_summit_window(ax, model.summit_days, x_of_day)
            if panel == 0:  # the first panel's mark: the one its legend lists
                window = mark
            if k == 0:
                ax.text(0.5, 0.5, "no replicates", transform=ax.transAxes, ha="center")
            styles = party_styles(len(model.parties), [(colour, "-") for colour in PARTY_COLOURS])
            for (colour, line), a in zip(styles, _written_order(model)):
                q = np.percentile(traj[:, a, i, :], [5, 25, 50, 75, 95], axis=-1)
                ax.fill_between(x, q[0], q[4], color=colour, alpha=0.15, linewidth=0)
                ax.fill_between(x, q[1], q[3], color=colour, alpha=0.35, linewidth=0)
                # one week alone (a summit before the first tick): a point, not an invisible line
                ax.plot(x, q[2], color=colour, linestyle=line, linewidth=2, label=model.agents[a],
                        marker="o" if weeks == 1 else None)
            issue = model.issues[i]
            _anchor_ticks(ax, model.anchors.get(issue, {}))
            ax.set_title(issue.replace("_", " ").capitalize(), fontsize=12)
            ax.set_ylim(-0.03, 1.03)
            ax.grid(alpha=0.25)
            ax.spines[["top", "right"]].set_visible(False)
            if model.start_date is not None:
                locator = mdates.AutoDateLocator(maxticks=6)
                ax.xaxis.set_major_locator(locator)
                ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
            else:
                ax.set_xlabel("week")
        axes.flat[0].set_ylabel("Position (0 to 1)")
        handles, labels = axes.flat[0].get_legend_handles_labels()  # the window first drawn, listed last
        order = sorted(range(len(handles)), key=lambda h: handles[h] is window)
        axes.flat[0].legend([handles[h] for h in order], [labels[h] for h in order], loc="best", fontsize=9,
                            title="median, 50 % and 90 % bands", title_fontsize=8)
        fig.suptitle(fit_title(f"{model.name}: the parties' positions before the summit (first {k:,} replicates)",
                               5.2 * cols, 12), fontsize=12)
        fig.savefig(path, dpi=DPI)
    finally:
        fig.clear()


def _written_order(model) -> list[int]:
    """The indices of the summit parties in the order `summit.parties` writes them (the model
    holds its agents in an order of its own): the legend and colours of summary.json's
    `parties` and the report's chart."""
    written = getattr(getattr(model, "scenario", None), "summit", None)
    names = [model.agents[a] for a in model.parties]
    if written is None or sorted(written.parties) != sorted(names):
        return list(model.parties)
    return [model.parties[names.index(name)] for name in written.parties]


def _written_issues(model) -> list[int]:
    """The indices of the issues in the order the scenario's `issues:` writes them (the model
    holds them in an order of its own): the panels follow summary.json's `issues` and the
    levels of its deals."""
    written = getattr(getattr(model, "scenario", None), "issues", None)
    if written is None or sorted(written) != sorted(model.issues):
        return list(range(model.n_issues))
    return [model.issues.index(name) for name in written]


def _shade_summit_window(ax, summit_days: tuple, x_of_day):
    """Mark the summit's day, or shade its window; return the mark, for the legend (a label
    written inside the panel ran through whatever stood at the top: an anchor's line, a party
    at 1)."""
    kind, *days = summit_days
    lo, hi = days[0], days[-1]
    if kind == "fixed":
        return ax.axvline(x_of_day(lo), color="#777777", linestyle="--", linewidth=1, label="summit")
    return ax.axvspan(x_of_day(lo), x_of_day(hi), color="#999999", alpha=0.15, linewidth=0, label="summit window")


def _anchor_ticks(ax, anchors: dict) -> None:
    """Label the issue's anchors on a right-hand axis, so positions read as deals."""
    if not anchors:
        return
    right = ax.twinx()
    right.set_ylim(-0.03, 1.03)
    right.set_yticks([float(v) for v in anchors.values()], [a.replace("_", " ") for a in anchors],
                     fontsize=8, color="#555555")
    right.tick_params(length=0)
    right.spines[["top", "right"]].set_visible(False)
    for v in anchors.values():
        ax.axhline(float(v), color="#bbbbbb", linewidth=0.6, linestyle=":")


def _number(value) -> float:
    return float("nan") if value is None else float(value)


