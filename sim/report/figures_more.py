"""The report's figures of what moved the answer and of how good such forecasts have been:
attribution (a waterfall), a comparison, a sweep's sensitivity, a backtest's
reliability diagram and a calibration's posterior. Same conventions as
`sim.report.figures`: SVG text with alt text, readable in greyscale.
"""

from __future__ import annotations

import numpy as np

from ..model import CLASSES
from ..plots import CLASS_LABELS, subplots, waterfall_total
from ..reporting import INDEX_RANGE, effect_of, fmt_signed, index_error_bars, index_rows
from .figures import CLASS_SHADES, INK, Picture, render, tidy

__all__ = ["comparison_chart", "posterior_chart", "reliability_chart", "sweep_chart", "waterfall"]

UP, DOWN = "#2f6f3a", "#e0a3a0"
"""A step up (dark) and down (light, hatched) in the waterfall."""
GROUP_LABELS = {**CLASS_LABELS, "substantive_or_better": "Substantive or better"}
FORECASTER_STYLES = (("#111111", "o", "-"), ("#777777", "s", "--"), ("#aaaaaa", "^", ":"), ("#555555", "D", "-."))


def waterfall(summary: dict) -> Picture:
    """P(substantive or better) from no events to all of them, one step per event: its Shapley
    share where `explain --shapley` computed them, else its effect when removed alone."""
    shapley = summary.get("shapley")
    if shapley:
        m = shapley["metrics"]["substantive_or_better"]
        steps = [(v["name"], v["value"], v["low"], v["high"]) for v in m["values"]]
        start, end = m["no_events"]["p"], m["all_events"]["p"]
        ends = [(m["no_events"]["low"], m["no_events"]["high"]), (m["all_events"]["low"], m["all_events"]["high"])]
    else:
        effects = [(ev["name"], effect_of(ev["removed"]["substantive_or_better"])) for ev in summary["events"]]
        steps = [(name, e["diff"], e["low"], e["high"]) for name, e in effects]
        sob = summary["classes"]["substantive_or_better"]
        end = sob["p"]
        start = end - sum(s[1] for s in steps)
        ends = [None, (sob["low"], sob["high"])]
    labels = ["no events" if shapley else "all events' effects removed", *(s[0] for s in steps), "all events"]
    n = len(labels)
    fig, ax = subplots(figsize=(8, 1.2 + 0.34 * n))
    y = np.arange(n)[::-1]
    cum = start + np.concatenate([[0.0], np.cumsum([s[1] for s in steps])])
    reach = [start, end, *cum, *(c + h - v for c, (_, v, _, h) in zip(cum[1:], steps)),
             *(c + lo - v for c, (_, v, lo, _) in zip(cum[1:], steps)), *(b for e in ends if e for b in e)]
    pad = max((max(reach) - min(reach)) * 0.12, 0.005)
    x0 = max(0.0, min(reach) - pad)
    for yi, p, interval in ((y[0], start, ends[0]), (y[-1], end, ends[1])):
        waterfall_total(ax, yi, p, x0, "#9e9e9e", interval)
    for k, (_, value, low, high) in enumerate(steps):
        yi, before = y[k + 1], cum[k]
        ax.barh(yi, value, left=before, color=UP if value >= 0 else DOWN, hatch="" if value >= 0 else "///",
                height=0.6, edgecolor=INK, linewidth=0.5)
        ax.errorbar([before + value], [yi], xerr=[[value - low], [high - value]], fmt="none", ecolor=INK,
                    elinewidth=1, capsize=2.5)
        ax.annotate(fmt_signed(value), (max(before, before + value, before + high), yi), xytext=(4, 0),
                    textcoords="offset points", va="center", fontsize=8)
    ax.set_xlim(x0, max(reach) + pad * 2.5)
    ax.set_yticks(y, labels, fontsize=9)
    ax.set_xlabel("P(substantive or better); steps: "
                  + ("Shapley shares" if shapley else "each event's effect when removed alone") + ", 95 % intervals")
    tidy(ax, "x")
    alt = (f"Waterfall of P(substantive or better) from {start:.3f} to {end:.3f}, one step per event: "
           + "; ".join(f"{name} {fmt_signed(value)}" for name, value, _, _ in steps) + ".")
    return render(fig, alt, "waterfall")


def comparison_chart(summary: dict) -> Picture:
    """B - A for each outcome with its paired 95 % interval."""
    groups = [*CLASSES, "substantive_or_better"]
    entries = [summary["headline"]["substantive_or_better"] if g == "substantive_or_better"
               else summary["classes"][g] for g in groups]
    fig, ax = subplots(figsize=(7.5, 2.8))
    y = np.arange(len(groups))[::-1]
    for yi, g, e in zip(y, groups, entries):
        ax.errorbar([e["diff"]], [yi], xerr=[[e["diff"] - e["low"]], [e["high"] - e["diff"]]], fmt="o",
                    color=INK, markerfacecolor=CLASS_SHADES.get(g, "#555555"), markersize=7, elinewidth=2,
                    capsize=4)
        ax.annotate(fmt_signed(e["diff"]), (e["high"], yi), xytext=(6, 0), textcoords="offset points",
                    va="center", fontsize=9)
    ax.axvline(0, color="#555555", linewidth=0.8)
    span = max(max(max(abs(e["low"]), abs(e["high"])) for e in entries), 1e-3)
    ax.set_xlim(-span * 1.2, span * 1.6)
    ax.set_yticks(y, [GROUP_LABELS[g] for g in groups])
    ax.set_xlabel("B - A (probability), paired 95 % interval")
    tidy(ax, "x")
    alt = "Dot plot of the difference B - A per outcome: " + "; ".join(
        f"{GROUP_LABELS[g]} {fmt_signed(e['diff'])} ({fmt_signed(e['low'])} to {fmt_signed(e['high'])})"
        for g, e in zip(groups, entries))
    return render(fig, alt + ".", "compare")


def sweep_chart(summary: dict, points: list[dict] | None) -> Picture | None:
    """Sobol indices (S1, ST) or Morris effects (mu*, sigma) of P(substantive or better) where
    the sweep computed them; else P(substantive or better) against each varied field."""
    analysis = summary.get("analysis")
    if analysis:
        return _indices_chart(analysis)
    if not points:
        return None
    paths = [f["path"] for f in summary.get("factors", [])][:4]
    fig, axes = subplots(1, len(paths), figsize=(4.2 * len(paths), 3.2), squeeze=False, sharey=True)
    for ax, path in zip(axes.flat, paths):
        rows = sorted((r for r in points if isinstance(r.get(path), float)), key=lambda r: r[path])
        x = np.array([r[path] for r in rows])
        p = np.array([r["substantive_or_better_p"] for r in rows])
        lo = np.array([r["substantive_or_better_low"] for r in rows])
        hi = np.array([r["substantive_or_better_high"] for r in rows])
        ax.errorbar(x, p, yerr=[p - lo, hi - p], fmt="o", color=INK, markersize=4, elinewidth=1, capsize=2)
        ax.set_xlabel(path, fontsize=9)
        tidy(ax)
    axes.flat[0].set_ylabel("P(substantive or better)")
    axes.flat[0].set_ylim(-0.03, 1.03)
    alt = (f"P(substantive or better) at each of the sweep's {len(points)} points against "
           + ", ".join(paths) + ", with 95 % intervals.")
    return render(fig, alt, "sweep")


def _indices_chart(analysis: dict) -> Picture:
    sobol = analysis["method"] == "sobol"
    keys = (("S1", "first order S1"), ("ST", "total ST")) if sobol else \
        (("mu_star", "mu* (mean |effect|)"), ("sigma", "sigma (interactions)"))
    names = [name for name, _ in index_rows(analysis)[1]]  # the table's order: the most influential on top
    fig, ax = subplots(figsize=(7.5, 1.2 + 0.5 * len(names)))
    y = np.arange(len(names))[::-1]
    for k, (key, label) in enumerate(keys):
        values = np.array([analysis["indices"][n][key] for n in names], dtype=float)
        err = index_error_bars(analysis["indices"], names, key) if key in INDEX_RANGE else None
        ax.barh(y + (0.2 if k == 0 else -0.2), values, height=0.38, color=("#333333", "#bdbdbd")[k],
                hatch=("", "..")[k], edgecolor=INK, linewidth=0.5, label=label,
                xerr=err, error_kw={"ecolor": INK, "elinewidth": 1, "capsize": 2})
    ax.axvline(0, color="#555555", linewidth=0.8)
    ax.set_yticks(y, names, fontsize=9)
    ax.set_xlabel(("Sobol index" if sobol else "Morris elementary effect") + " of P(substantive or better), "
                  "95 % intervals")
    ax.legend(fontsize=8, loc="lower right")
    tidy(ax, "x")
    alt = ("Bar chart of " + ("Sobol indices" if sobol else "Morris effects") + ": " + "; ".join(
        f"{n}: " + ", ".join(f"{key} {analysis['indices'][n][key]:.3f}" for key, _ in keys) for n in names) + ".")
    return render(fig, alt, "sensitivity")


def reliability_chart(summary: dict) -> Picture:
    """Mean forecast against observed frequency in each bin, every forecaster of the backtest,
    with the observed frequency's interval; the diagonal is perfect reliability."""
    fig, ax = subplots(figsize=(5.6, 4.6))
    ax.plot([0, 1], [0, 1], color="#999999", linewidth=1, linestyle=(0, (3, 2)), label="perfectly reliable")
    for (colour, marker, style), (name, bins) in zip(FORECASTER_STYLES, summary["reliability"].items()):
        if not bins:
            continue
        x = np.array([b["mean_forecast"] for b in bins])
        obs = np.array([b["observed"] for b in bins])
        lo = np.array([b["observed_low"] for b in bins])
        hi = np.array([b["observed_high"] for b in bins])
        ax.errorbar(x, obs, yerr=[obs - lo, hi - obs], color=colour, marker=marker, linestyle=style, linewidth=1.3,
                    markersize=6, elinewidth=0.8, capsize=2, label=name.replace("_", " "))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("forecast probability (mean in bin)")
    ax.set_ylabel("observed frequency (95 % interval)")
    ax.legend(fontsize=8, loc="upper left")
    tidy(ax)
    subject = summary.get("subject", "model")
    bins = summary["reliability"].get(subject) or []
    alt = (f"Reliability diagram of {len(summary['reliability'])} forecasters over {summary.get('n_cases', '?')} "
           f"cases; {subject}: " + "; ".join(f"forecast {b['mean_forecast']:.2f} observed {b['observed']:.2f} "
                                              f"(n={b['n']})" for b in bins) + ".")
    return render(fig, alt, "reliability")


def posterior_chart(calibration: dict) -> Picture:
    """Each knob's marginal posterior on its grid against its prior."""
    marginals = calibration["marginals"]
    names = list(marginals)
    fig, axes = subplots(1, len(names), figsize=(4.2 * len(names), 3.0), squeeze=False)
    for ax, name in zip(axes.flat, names):
        m = marginals[name]
        x = np.arange(len(m["values"]))
        ax.bar(x - 0.2, m["prior"], width=0.38, color="#d9d9d9", hatch="..", edgecolor=INK, linewidth=0.5,
               label="prior")
        ax.bar(x + 0.2, m["posterior"], width=0.38, color="#333333", edgecolor=INK, linewidth=0.5,
               label="posterior")
        ax.set_xticks(x, [f"{v:g}" for v in m["values"]], fontsize=8)
        ax.set_title(name, fontsize=10)
        ax.set_ylim(0, 1)
        tidy(ax, "y")
    axes.flat[0].set_ylabel("probability on the grid")
    axes.flat[0].legend(fontsize=8)
    alt = "Bar charts of each knob's posterior against its prior: " + "; ".join(
        f"{name}: " + ", ".join(f"{v:g} {p:.2f}"
                                for v, p in zip(marginals[name]["values"], marginals[name]["posterior"]))
        for name in names) + "."
    return render(fig, alt, "posterior")

