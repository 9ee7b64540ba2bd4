"""What `compare` and `explain` show: tables on stdout, charts, and result directories.

Everything here reads the plain summaries of `sim.comparison` (`summarise_comparison`,
`summarise_explanation`), so a saved `summary.json` redraws the same pictures.
Charts are files only (the Agg backend, set by `sim.plots`).

`explain`'s tables and charts all show an event's *effect*, P with it minus P
without it, so that a positive number means the event raised the probability,
in the removal table as in the Shapley table (the summary's `removed` entries
hold the opposite difference, P without minus P with: `reporting.effect_of` turns them).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .model import CLASSES
from .plots import CLASS_COLOURS, CLASS_LABELS, DPI, fit_title, subplots, waterfall_total
from .reporting import (
    breakthrough_note,
    breakthrough_shifts,
    compiling_note,
    console,
    effect_of,
    fmt_estimate,
    fmt_p,
    fmt_signed,
    left_out_phrase,
    plural,
    same_posterior,
    seed_label,
    unmoved_note,
)

__all__ = ["plot_comparison", "plot_explanation", "plot_shapley", "print_comparison",
           "print_explanation"]

GROUP_LABELS = {**CLASS_LABELS, "substantive_or_better": "Substantive or better"}
SIDE_COLOURS = ("#4d6fa3", "#e08a3c")  # A, B
UP, DOWN = "#4d9a53", "#c2403a"


# --- Tables ---------------------------------------------------------------------------------


def _interval(e: dict) -> str:
    if e.get("exact", e["low"] == e["high"] == e["diff"] == 0):  # older summaries carry no `exact`
        return "[0, 0] exactly"
    return f"[{fmt_signed(e['low'])}, {fmt_signed(e['high'])}]"


def _side(e: dict, side: str) -> str:
    """P under A or B with its Wilson interval (summaries of older versions had no interval)."""
    low, high = e.get(f"p_{side}_interval") or (None, None)
    return fmt_p(e[f"p_{side}"]) if low is None else fmt_estimate(e[f"p_{side}"], low, high)


def _narrowing(e: dict) -> str:
    r = e["narrowing"]
    if r is None:
        return "exact" if e["unpaired_half_width"] > 0 else "-"
    return f"{r:.1f}x"


def _estimate(e: dict) -> str:
    return fmt_estimate(e["p"], e["low"], e["high"])


def _sides(summary: dict) -> tuple[str, str]:
    """The names of A and B; where they are the same (a counterfactual that kept its base's
    `name`, or one file with --set-a/--set-b), with the file or the side's overrides."""
    a, b = summary["a"], summary["b"]
    if a["scenario"] != b["scenario"]:
        return a["scenario"], b["scenario"]
    if a.get("file") and b.get("file") and a["file"] != b["file"]:
        return f"{a['scenario']} ({a['file']})", f"{b['scenario']} ({b['file']})"
    overrides = summary.get("overrides") or {}
    if overrides.get("a") or overrides.get("b"):  # one file, told apart by --set-a / --set-b
        return tuple(f"{a['scenario']} ({' '.join(f'--set-{side} {o}' for o in overrides.get(side) or []) or 'as is'})"
                     for side in "ab")
    return f"{a['scenario']} (side A)", f"{b['scenario']} (side B)"


def _posterior(summary: dict) -> dict | None:
    """The `--calibration` note of an explain, or of a compare's side A (both sides draw the
    same knob rows from one posterior); None when uncalibrated."""
    cal = summary.get("calibration")
    if isinstance(cal, dict) and summary.get("command") == "compare":
        cal = cal.get("a")
    return cal if isinstance(cal, dict) and cal.get("file") else None


def _fit(cal: dict) -> str:
    return f"{cal.get('posterior') or 'posterior'}{left_out_phrase(cal)}"


def _posterior_line(summary: dict) -> str | None:
    """Which posterior the knobs came from, a line for below the table; None when uncalibrated."""
    cal = _posterior(summary)
    if cal is None:
        return None
    if summary.get("command") != "compare":
        return f"posterior predictive ({cal['file']}, {_fit(cal)}): every run draws the same rows of knob values"
    b = summary["calibration"].get("b") or cal
    if same_posterior(cal, b):  # a fitted case beside its edit: one refit, whatever each side's note says
        fits = _fit(cal) if _fit(b) == _fit(cal) else f"A: {_fit(cal)}; B: {_fit(b)}"
        return f"posterior predictive ({cal['file']}, {fits}): both sides draw the same rows of knob values"
    return (f"posterior predictive ({cal['file']}; A: {_fit(cal)}; B: {_fit(b)}): each side draws its own "
            "posterior's knob values, so B - A includes the change of posterior")


def print_comparison(summary: dict, out: Path | None) -> None:
    """Per outcome: P under A and B, B - A with its paired interval, and how much wider
    an unpaired comparison of the same runs would have been."""
    from rich.table import Table

    con = console()
    a, b = _sides(summary)
    table = Table(title=f"A: {a}   B: {b}   (same {plural(summary['runs'], 'replicate')}, paired; P with its 95 % "
                        "Monte Carlo interval, Wilson)", title_justify="left")
    for name, justify in (("outcome", "left"), ("P(A) [95 %]", "right"), ("P(B) [95 %]", "right"),
                          ("B - A [95 %, paired]", "right"), ("unpaired\n+-", "right"), ("narrower", "right")):
        table.add_column(name, justify=justify, no_wrap=name != "outcome")
    rows = [*((c, summary["classes"][c]) for c in CLASSES),
            ("substantive_or_better", summary["headline"]["substantive_or_better"])]
    for k, (name, e) in enumerate(rows):
        table.add_row(GROUP_LABELS[name].lower(), _side(e, "a"), _side(e, "b"),
                      f"{fmt_signed(e['diff'])} {_interval(e)}",
                      f"{e['unpaired_half_width']:.4f}", _narrowing(e), end_section=k == len(rows) - 2)
    con.print(table)
    h = summary["headline"]["substantive_or_better"]
    con.print(f"P(substantive or better): {_side(h, 'a')} -> {_side(h, 'b')}, "
                  f"B - A = {fmt_signed(h['diff'])} {_interval(h)}", soft_wrap=True)
    con.print("narrower: the unpaired 95 % interval's width over the paired one "
                  "(common random numbers; only positively correlated outcomes gain)", soft_wrap=True)
    if (line := _posterior_line(summary)):
        con.print(line, soft_wrap=True)
    if (raw := summary.get("as_written")):
        r = raw["headline"]["substantive_or_better"]
        con.print(f"model as written (each scenario's own knob values, the same {plural(raw['runs'], 'replicate')}): "
                  f"P(substantive or better): {_side(r, 'a')} -> {_side(r, 'b')}, "
                  f"B - A = {fmt_signed(r['diff'])} {_interval(r)}", soft_wrap=True)
    con.print(f"{plural(summary['runs'], 'replicate')} of each, seed entropy {summary['seed_entropy']}, "
              f"{summary['seconds']:.2f} s{compiling_note(summary)}", soft_wrap=True)
    if out is not None:
        con.print(f"results: {out}", soft_wrap=True)


def print_explanation(summary: dict, out: Path | None) -> None:
    """Each event's removal (largest change first), then the Shapley values if any."""
    from rich.table import Table

    con = console()
    c = summary["classes"]
    n_events = len(summary["events"])
    con.print(f"{summary['scenario']}: P(substantive or better) = {_estimate(c['substantive_or_better'])}, "
                  f"P(collapse) = {_estimate(c['collapse'])} with {_all_events(n_events)} "
                  f"({plural(summary['runs'], 'replicate')}; 95 % Monte Carlo intervals, Wilson)",
                  soft_wrap=True)
    if n_events == 0:  # two empty tables would read as a failure; say why there is nothing to show
        con.print("nothing to attribute: the scenario schedules no events (its `events:` list is empty); "
                  "`compare` measures any other change", soft_wrap=True)
        _footer(con, summary, out)
        return
    table = Table(title="Each event removed, the rest kept: the event's effect = P with it - P without it "
                        "(paired; + means the event raised the probability)", title_justify="left")
    raw = summary.get("as_written")
    raw_effects = {ev["name"]: ev["removed"] for ev in raw["events"]} if raw else {}
    for name, justify in (("event", "left"), ("date", "left"),
                          ("P(substantive or better) [95 %]", "right"), ("P(collapse) [95 %]", "right"),
                          *((("as written: P(substantive or better)", "right"),) if raw else ())):
        table.add_column(name, justify=justify, no_wrap=True)
    for ev in summary["events"]:
        s, k = effect_of(ev["removed"]["substantive_or_better"]), effect_of(ev["removed"]["collapse"])
        cells = [ev["name"], ev["date"], f"{fmt_signed(s['diff'])} {_interval(s)}",
                 f"{fmt_signed(k['diff'])} {_interval(k)}"]
        if raw:
            r = effect_of(raw_effects[ev["name"]]["substantive_or_better"])
            cells.append(f"{fmt_signed(r['diff'])} {_interval(r)}")
        table.add_row(*cells)
    if raw and not con.is_terminal and "COLUMNS" not in os.environ:
        # the as-written column makes the table wider than a file's or a pipe's 120 columns,
        # where rich cut the numbers to "-0.…"; there, nothing stops a wider line
        con.width = max(con.width, con.measure(table, options=con.options.update_width(1000)).maximum)
    con.print(table)
    if raw:
        con.print(f"as written: the model with the scenario's own knob values, on the same "
                  f"{plural(raw['runs'], 'replicate')} "
                  f"(P(substantive or better) = {_estimate(raw['classes']['substantive_or_better'])} with all events)",
                  soft_wrap=True)
    if (note := unmoved_note(summary)):
        con.print(note, soft_wrap=True)

    shifts = [f"{name} {fmt_signed(e['diff'])} {_interval(e)}" for name, e in breakthrough_shifts(summary["events"])]
    if (note := breakthrough_note(shifts)):
        con.print(note, soft_wrap=True)

    sh = summary["shapley"]
    if sh is not None:
        metrics = sh["metrics"]
        table = Table(title="Shapley values: each event's share of the change from no events to all "
                            "(they sum to it; + means the event raised the probability)", title_justify="left")
        for name, justify in (("event", "left"), ("date", "left"),
                              ("P(substantive or better) [95 %]", "right"), ("P(collapse) [95 %]", "right")):
            table.add_column(name, justify=justify, no_wrap=True)
        share = lambda v: f"{fmt_signed(v['value'])} [{fmt_signed(v['low'])}, {fmt_signed(v['high'])}]"  # noqa: E731
        for s, k in zip(metrics["substantive_or_better"]["values"], metrics["collapse"]["values"]):
            table.add_row(s["name"], s["date"] or "", share(s), share(k))
        s_tot, k_tot = metrics["substantive_or_better"], metrics["collapse"]
        table.add_row("sum of the shares", "", fmt_signed(s_tot["sum_of_values"]), fmt_signed(k_tot["sum_of_values"]),
                      end_section=True)
        table.add_row("no events", "", _estimate(s_tot["no_events"]), _estimate(k_tot["no_events"]))
        table.add_row("all events", "", _estimate(s_tot["all_events"]), _estimate(k_tot["all_events"]))
        table.add_row("all - none", "", f"{fmt_signed(s_tot['total']['diff'])} {_interval(s_tot['total'])}",
                      f"{fmt_signed(k_tot['total']['diff'])} {_interval(k_tot['total'])}")
        con.print(table)
        k = sh["events"]
        how = (f"exact over all 2^{k} = {2**k:,} coalitions" if sh["method"] == "exact" else
               f"sampled: one random order of the {k} events per replicate (exact enumeration stops at 12 "
               "events); the intervals include the sampling of orders")
        con.print(f"Shapley values {how}; {plural(sh['runs'], 'replicate')} x "
                  f"{plural(sh['runs_per_replicate'], 'run')} "
                      "of the model each, on the same random numbers", soft_wrap=True)
    _footer(con, summary, out)


def _all_events(n: int) -> str:
    """The scenario's scheduled events as the headline says it has them all: "no scheduled
    events", "its one scheduled event", "both scheduled events", "all 3 scheduled events"."""
    if n == 0:
        return "no scheduled events"
    if n == 1:
        return "its one scheduled event"
    return "both scheduled events" if n == 2 else f"all {n:,} scheduled events"


def _footer(con, summary: dict, out: Path | None) -> None:
    """explain's last lines: the posterior, the replicates, the seed and where the result is."""
    if (line := _posterior_line(summary)):
        con.print(line, soft_wrap=True)
    per = " per removal" if summary.get("events") else ""
    con.print(f"{plural(summary['runs'], 'replicate')}{per}, seed entropy {summary['seed_entropy']}, "
              f"{summary['seconds']:.2f} s{compiling_note(summary)}", soft_wrap=True)
    if out is not None:
        con.print(f"results: {out}", soft_wrap=True)


# --- Charts ---------------------------------------------------------------------------------


def plot_comparison(summary: dict, path: str | Path) -> None:
    """Left: each class's probability under A and B with Wilson intervals. Right: B - A
    per outcome, the paired 95 % interval (thick) over the unpaired one (thin)."""
    a, b = _sides(summary)
    fig, (left, right) = subplots(1, 2, figsize=(12, 4.6), layout="constrained",
                                      gridspec_kw={"width_ratios": [1, 1.15]})
    try:
        x = np.arange(len(CLASSES))
        for k, (side, label) in enumerate((("a", f"A: {a}"), ("b", f"B: {b}"))):
            p = np.array([summary["classes"][c][f"p_{side}"] for c in CLASSES])
            lo, hi = np.array([summary["classes"][c][f"p_{side}_interval"] for c in CLASSES]).T
            xs = x + (k - 0.5) * 0.38
            left.bar(xs, p, width=0.36, color=SIDE_COLOURS[k], label=label, edgecolor="#333333", linewidth=0.5)
            left.errorbar(xs, p, yerr=[np.clip(p - lo, 0, None), np.clip(hi - p, 0, None)], fmt="none",
                          ecolor="black", elinewidth=1, capsize=3)
            for xi, pi in zip(xs, p):
                left.annotate(f"{pi:.3f}", (xi, pi), xytext=(0, 3), textcoords="offset points",
                              ha="center", va="bottom", fontsize=8)
        left.set_xticks(x, [CLASS_LABELS[c] for c in CLASSES])
        left.set_ylabel("Probability (bars: 95 % interval)")
        left.set_ylim(0, 1.0)
        # under the axis: inside it, the legend of two long side names (a file each) hid a tall bar's label
        left.legend(loc="upper center", bbox_to_anchor=(0.5, -0.09), fontsize=9)
        _tidy(left, "y")
        left.set_title("Outcome under each scenario", fontsize=11)

        groups = [*CLASSES, "substantive_or_better"]
        entries = [summary["headline"]["substantive_or_better"] if g == "substantive_or_better"
                   else summary["classes"][g] for g in groups]
        y = np.arange(len(groups))[::-1]
        for yi, g, e in zip(y, groups, entries):
            colour = CLASS_COLOURS.get(g, "#1b7837")
            u = e["unpaired_half_width"]
            right.plot([e["diff"] - u, e["diff"] + u], [yi, yi], color="#bbbbbb", linewidth=7,
                       solid_capstyle="butt", label="unpaired 95 %" if yi == y[0] else None)
            right.errorbar([e["diff"]], [yi], xerr=[[e["diff"] - e["low"]], [e["high"] - e["diff"]]], fmt="o",
                           color=colour, markeredgecolor="black", markersize=5, ecolor="black", elinewidth=2,
                           capsize=4, label="paired 95 %" if yi == y[0] else None)
            ratio = _narrowing(e)
            label = fmt_signed(e["diff"]) + (f"  ({ratio} narrower)" if ratio != "-" else "")
            right.annotate(label, (e["diff"] + max(u, 1e-4), yi),
                           xytext=(6, 0), textcoords="offset points", va="center", fontsize=8)
        right.axvline(0, color="#555555", linewidth=0.8)
        right.set_yticks(y, [GROUP_LABELS[g] for g in groups])
        span = max(max(abs(e["diff"]) + e["unpaired_half_width"] for e in entries), 1e-3)
        right.set_xlim(-span * 1.15, span * 2.2)
        right.set_xlabel("B - A (probability)")
        right.legend(loc="lower left", fontsize=8)
        _tidy(right, "x")
        right.set_title("Difference, paired on the same replicates", fontsize=11)
        fig.suptitle(fit_title(f"{b} against {a}: {plural(summary['runs'], 'replicate')} each, common random "
                               f"numbers, seed {seed_label(summary['seed_entropy'])}{_calibrated(summary)}", 12, 12),
                     fontsize=12)
        fig.savefig(path, dpi=DPI)
    finally:
        fig.clear()


def plot_explanation(summary: dict, path: str | Path) -> None:
    """Each event's effect (P with it - P without it, from its removal) on P(substantive or
    better) and on P(collapse), with paired 95 % intervals, largest first; green where the
    event helped (raised the first, lowered the second)."""
    events = summary["events"]
    n = max(len(events), 1)
    fig, axes = subplots(1, 2, figsize=(12, 1.2 + 0.36 * n), sharey=True, layout="constrained")
    try:
        y = np.arange(len(events))[::-1]
        for ax, group, title in ((axes[0], "substantive_or_better", "P(substantive or better)"),
                                 (axes[1], "collapse", "P(collapse)")):
            effects = [effect_of(ev["removed"][group]) for ev in events]
            d = np.array([e["diff"] for e in effects])
            lo = np.array([e["low"] for e in effects])
            hi = np.array([e["high"] for e in effects])
            good = d > 0 if group == "substantive_or_better" else d < 0
            ax.barh(y, d, color=np.where(good, UP, DOWN), height=0.65, edgecolor="#333333", linewidth=0.4)
            ax.errorbar(d, y, xerr=[d - lo, hi - d], fmt="none", ecolor="black", elinewidth=1, capsize=2.5)
            ax.axvline(0, color="#555555", linewidth=0.8)
            ax.set_xlabel(f"the event's effect on {title}: P with it - P without it")
            ax.set_title(title, fontsize=11)
            _tidy(ax, "x")
        axes[0].set_yticks(y, [f"{ev['name']} ({ev['date'][5:]})" for ev in events], fontsize=9)
        if not events:
            axes[0].text(0.5, 0.5, "no scheduled events", transform=axes[0].transAxes, ha="center")
        fig.suptitle(fit_title(f"{summary['scenario']}: what each event did, from removing it "
                               f"({plural(summary['runs'], 'paired replicate')}{_calibrated(summary)}; green: the "
                               "event helped)", 12, 11), fontsize=11)
        fig.savefig(path, dpi=DPI)
    finally:
        fig.clear()


def plot_shapley(summary: dict, path: str | Path) -> None:
    """A waterfall of P(substantive or better): from no events to all of them, one
    step per event in date order, each step its Shapley value with its interval."""
    sh = summary["shapley"]["metrics"]["substantive_or_better"]
    values = sh["values"]
    start, end = sh["no_events"]["p"], sh["all_events"]["p"]
    labels = ["no events", *(f"{v['name']} ({(v['date'] or '')[5:]})" for v in values), "all events"]
    n = len(labels)
    fig, ax = subplots(figsize=(10, 1.4 + 0.36 * n), layout="constrained")
    try:
        y = np.arange(n)[::-1]
        cum = start + np.concatenate([[0.0], np.cumsum([v["value"] for v in values])])
        lows = [v["low"] for v in values]
        highs = [v["high"] for v in values]
        ends = [(sh[k]["low"], sh[k]["high"]) for k in ("no_events", "all_events")]
        reach = [start, end, *cum, *(c + (h - v["value"]) for c, v, h in zip(cum[1:], values, highs)),
                 *(c + (lo - v["value"]) for c, v, lo in zip(cum[1:], values, lows)), *(b for e in ends for b in e)]
        pad = max((max(reach) - min(reach)) * 0.12, 0.005)
        x0 = max(0.0, min(reach) - pad)
        for yi, p, colour, interval in ((y[0], start, "#888888", ends[0]), (y[-1], end, "#333333", ends[1])):
            waterfall_total(ax, yi, p, x0, colour, interval)
        for k, v in enumerate(values):
            yi, before, value = y[k + 1], cum[k], v["value"]
            ax.barh(yi, value, left=before, color=UP if value >= 0 else DOWN, height=0.65,
                    edgecolor="#333333", linewidth=0.4)
            ax.errorbar([before + value], [yi], xerr=[[value - v["low"]], [v["high"] - value]], fmt="none",
                        ecolor="black", elinewidth=1, capsize=2.5)
            ax.annotate(fmt_signed(value), (max(before, before + value, before + v["high"]), yi),
                        xytext=(4, 0), textcoords="offset points", va="center", fontsize=8)
            ax.plot([before + value] * 2, [yi - 0.33, yi - 0.67], color="#999999", linewidth=0.6)
        ax.set_xlim(x0, max(reach) + pad * 2.5)
        ax.set_yticks(y, labels, fontsize=9)
        ax.set_xlabel("P(substantive or better)")
        _tidy(ax, "x")
        how = "exact" if summary["shapley"]["method"] == "exact" else "sampled orders"
        ax.set_title(fit_title(f"{summary['scenario']}: each event's Shapley share of P(substantive or better), in "
                               f"date order\n({how}, {plural(summary['shapley']['runs'], 'replicate')}"
                               f"{_calibrated(summary)}; bars: 95 % intervals)", 10, 11), fontsize=11)
        fig.savefig(path, dpi=DPI)
    finally:
        fig.clear()


def _calibrated(summary: dict) -> str:
    """", posterior predictive (FILE)" for a chart's title, "" uncalibrated: a calibrated chart
    must not pass for the model as written."""
    cal = _posterior(summary)
    return "" if cal is None else f", posterior predictive ({Path(cal['file']).name})"


def _tidy(ax, grid_axis: str) -> None:
    ax.grid(axis=grid_axis, alpha=0.3)
    ax.set_axisbelow(True)
    ax.spines[["top", "right"]].set_visible(False)


