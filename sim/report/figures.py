"""The report's figures as SVG text, drawn from the result directories' data.

Each function returns a `Picture`: the SVG (kept in the page as a `data:` URI
of an `<img>`, so no figure's ids can clash with another's), and the alt text,
which says in words what the figure shows (its numbers, where they are few).
Figures are `matplotlib.figure.Figure` objects (`sim.plots.subplots`), never
pyplot. Colours differ in lightness as well as hue, and where they carry
meaning a hatch, a marker or a line style carries it too, so that a page
printed in greyscale reads the same.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import itertools
from dataclasses import dataclass

import numpy as np

from ..model import CLASSES
from ..plots import CLASS_LABELS, party_styles, subplots

__all__ = ["CLASS_HATCHES", "CLASS_SHADES", "Picture", "fan_chart", "outcome_bars", "render", "tidy"]

CLASS_SHADES = {"breakthrough": "#1a5e2a", "substantive": "#7fbf7b", "talk_fest": "#d9d9d9",
                "collapse": "#d6604d"}
"""Outcome colours, dark to light with collapse hatched: distinct in greyscale too."""
CLASS_HATCHES = {"breakthrough": "", "substantive": "", "talk_fest": "", "collapse": "///"}
PARTY_STYLES = (("#2166ac", "-", "o"), ("#b2182b", "--", "s"), ("#4d4d4d", ":", "^"), ("#8c6d31", "-.", "D"),
                ("#1b7837", "--", "v"), ("#762a83", ":", "P"), ("#35978f", "-.", "X"), ("#c51b7d", "-", "*"))
"""(colour, line style, marker) of each party in turn; past the last, again with the next line
style (`sim.plots.party_styles`), so that every party is drawn."""
INK = "#222222"


@dataclass(frozen=True)
class Picture:
    """A figure for the page: its SVG text, what it shows in words, and its size in points."""

    svg: str
    alt: str
    width: float
    height: float

    @property
    def uri(self) -> str:
        return "data:image/svg+xml;base64," + base64.b64encode(self.svg.encode("utf-8")).decode("ascii")


def render(fig, alt: str, name: str) -> Picture:
    """The figure as SVG text (glyphs as paths, so no font is needed; ids salted by `name`
    and no date, so the same data give the same bytes), then the figure is cleared."""
    import matplotlib

    try:
        buffer = io.StringIO()
        with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": f"sim-report-{name}"}):
            fig.savefig(buffer, format="svg", metadata={"Date": None})
        width, height = fig.get_size_inches() * 72
    finally:
        fig.clear()
    text = buffer.getvalue()
    return Picture(text[text.index("<svg"):], alt, float(width), float(height))


def tidy(ax, grid_axis: str = "both") -> None:
    """No top and right spines; a faint grid behind the data."""
    ax.grid(axis=grid_axis, alpha=0.3, color="#999999")
    ax.set_axisbelow(True)
    ax.spines[["top", "right"]].set_visible(False)


def _p(x) -> str:
    return "n/a" if x is None else f"{x:.3f}"


# --- The run ----------------------------------------------------------------------------------


def outcome_bars(summary: dict) -> Picture:
    """The four classes' probabilities with their 95 % Monte Carlo intervals; with a
    calibration, the spread over the knobs' posterior as a second, thinner interval."""
    classes = summary["classes"]
    spread = (summary.get("calibration") or {}).get("parameter_spread") or None
    y = np.arange(len(CLASSES))[::-1]
    fig, ax = subplots(figsize=(7.5, 2.9))
    for yi, name in zip(y, CLASSES):
        e = classes[name]
        p = e["p"] or 0.0
        ax.barh(yi, p, height=0.62, color=CLASS_SHADES[name], hatch=CLASS_HATCHES[name], edgecolor=INK,
                linewidth=0.6)
        ax.errorbar([p], [yi], xerr=[[p - (e["low"] or 0)], [(e["high"] or 0) - p]], fmt="none", ecolor=INK,
                    elinewidth=1.4, capsize=5)
        if spread:
            s = spread[name]
            ax.plot([s["low"], s["high"]], [yi - 0.36] * 2, color=INK, linewidth=1, linestyle=(0, (2, 1.5)))
        ax.annotate(f"{p:.3f}", (max(p, e["high"] or 0), yi), xytext=(6, 0), textcoords="offset points",
                    va="center", fontsize=10, color=INK)
    ax.set_yticks(y, [CLASS_LABELS[c] for c in CLASSES], fontsize=10)
    ax.set_xlim(0, 1.08)
    ax.set_xlabel("probability (bar: 95 % Monte Carlo interval" + ("; dashed: spread over the calibrated knobs)"
                                                                    if spread else ")"))
    tidy(ax, "x")
    alt = "Horizontal bar chart of the outcome probabilities: " + "; ".join(
        f"{CLASS_LABELS[c]} {_p(classes[c]['p'])} (95 % interval {_p(classes[c]['low'])} to "
        f"{_p(classes[c]['high'])})" for c in CLASSES) + "."
    return render(fig, alt, "outcomes")


def fan_chart(trajectory: list[dict], parties: list[str], events: list[dict],
              summit_days: list[int] | None, issues: list[str] | None = None) -> Picture:
    """One panel per issue, stacked on one time axis: each party's weekly median position and
    its 50 % and 90 % bands, the summit's likely dates shaded, and the scenario's events as
    dashed lines numbered in a strip above the panels. The panels follow `issues` (summary.json's,
    the file's order) where it names the trajectory's issues, else the trajectory's own order."""
    found = list(dict.fromkeys(r["issue"] for r in trajectory))
    issues = list(issues) if issues and sorted(issues) == sorted(found) else found
    start = min(dt.date.fromisoformat(r["date"]) for r in trajectory if r["day"] == 0)
    marks = _event_marks(events, start)
    # to the summit's shaded dates and the last event too: a summit days after the last weekly
    # position (the positions are weekly) would be drawn outside the axis the caption points to
    end = max([dt.date.fromisoformat(r["date"]) for r in trajectory] + [when for _, when in marks]
              + ([start + dt.timedelta(days=max(summit_days[2], summit_days[0] + 1))] if summit_days else []))
    width = 10.0
    rows = _label_rows(marks, max((end - start).days, 1), width * 0.85)
    strip = 0.22 + 0.17 * max(rows.values(), default=0) if marks else 0.0
    heights = ([strip] if marks else []) + [2.2] * len(issues)
    fig, axes = subplots(len(heights), 1, figsize=(width, sum(heights) + 0.9), sharex=True, squeeze=False,
                         gridspec_kw={"height_ratios": heights})
    axes = list(axes.flat)
    if marks:
        _event_strip(axes.pop(0), marks, rows)
    for ax, issue in zip(axes, issues):
        _fan_panel(ax, trajectory, issue, parties, marks, summit_days, start)
    axes[0].set_xlim(start, end + dt.timedelta(days=3))
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 4), fontsize=9, frameon=False)
    alt = (f"Fan charts of the positions of {' and '.join(parties)} on "
           f"{', '.join(i.replace('_', ' ') for i in issues)}, week by week from {start.isoformat()} to "
           f"{end.isoformat()}: median lines with 50 % and 90 % bands"
           + (f"; {len(marks)} events marked as numbered dashed lines" if marks else "")
           + ("; the summit's likely dates shaded" if summit_days else "") + ".")
    return render(fig, alt, "fan")


def _event_marks(events: list[dict], start: dt.date) -> list[tuple[int, dt.date]]:
    """(number, date) of each event, numbered from 1 in the order of `events`."""
    out = []
    for k, ev in enumerate(events, 1):
        date = ev.get("date")
        when = dt.date.fromisoformat(date) if date else start + dt.timedelta(days=int(ev.get("day") or 0))
        out.append((k, when))
    return out


def _label_rows(marks: list[tuple[int, dt.date]], span_days: int, axis_inches: float) -> dict[int, int]:
    """{event number: row} so that labels in one row are a label's width apart (greedy)."""
    gap = span_days * 0.2 / axis_inches  # a two-digit label at 8 pt is about 0.2 inch wide
    ends: list[dt.date] = []
    rows = {}
    for number, when in sorted(marks, key=lambda m: m[1]):
        row = next((k for k, last in enumerate(ends) if (when - last).days >= gap), len(ends))
        if row == len(ends):
            ends.append(when)
        ends[row] = when
        rows[number] = row
    return rows


def _event_strip(ax, marks, rows) -> None:
    top = max(rows.values(), default=0) + 1
    for number, when in marks:
        ax.plot([when, when], [0, top - rows[number] - 0.55], color="#444444", linewidth=0.7,
                linestyle=(0, (4, 2)))
        ax.annotate(str(number), (when, top - rows[number] - 0.5), ha="center", va="bottom", fontsize=8, color=INK)
    ax.set_ylim(0, top + 0.1)
    ax.set_axis_off()
    ax.set_title("events (numbered as in the table below)", fontsize=9, loc="left", color="#555555")


def _fan_panel(ax, trajectory, issue, parties, marks, summit_days, start) -> None:
    import matplotlib.dates as mdates

    if summit_days:
        lo, mid, hi = (start + dt.timedelta(days=d) for d in summit_days)
        ax.axvspan(lo, max(hi, lo + dt.timedelta(days=1)), color="#bbbbbb", alpha=0.35, linewidth=0,
                   label="summit date, 90 % of replicates")
        ax.axvline(mid, color="#777777", linewidth=1.2, linestyle=(0, (1, 1)))
    for (colour, style), marker, party in zip(party_styles(len(parties), PARTY_STYLES),
                                              (m for _, _, m in itertools.cycle(PARTY_STYLES)), parties):
        rows = sorted((r for r in trajectory if r["issue"] == issue and r["agent"] == party), key=lambda r: r["week"])
        if not rows:
            continue
        x = [dt.date.fromisoformat(r["date"]) for r in rows]
        q = {name: np.array([np.nan if r[name] is None else r[name] for r in rows], dtype=float)
             for name in ("q05", "q25", "q50", "q75", "q95")}
        ax.fill_between(x, q["q05"], q["q95"], color=colour, alpha=0.12, linewidth=0)
        ax.fill_between(x, q["q25"], q["q75"], color=colour, alpha=0.28, linewidth=0)
        # one week alone (a summit before the first tick): a point, not an invisible line
        ax.plot(x, q["q50"], color=colour, linestyle=style, linewidth=2, label=f"{party} (median, 50 %, 90 %)",
                marker=marker if len(x) == 1 else None)
    for _, when in marks:
        ax.axvline(when, color="#444444", linewidth=0.7, linestyle=(0, (4, 2)), alpha=0.7)
    ax.set_ylabel(issue.replace("_", " ").capitalize(), fontsize=10)
    ax.set_ylim(-0.03, 1.03)
    locator = mdates.AutoDateLocator(maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    tidy(ax)
