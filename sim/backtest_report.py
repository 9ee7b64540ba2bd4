"""What `backtest` and `calibrate` show: tables on stdout, pictures, result directories.

Everything reads the plain summaries of `sim.backtest.summarise_backtest` and
`sim.calibrate.summarise_calibration`, so a saved `summary.json` redraws the
same pictures. Pictures are files only (`sim.plots.subplots`: no pyplot, no global backend).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .model import CLASSES
from .plots import DPI, subplots
from .reporting import console, fmt_p, plural

__all__ = ["calibrated_fit", "plot_posterior", "plot_reliability", "print_backtest", "print_calibration"]

LABELS = {"model": "model as written", "calibrated": "model, calibrated (leave-one-out)",
          "pooled": "pool of calibrated model and base rate",
          "calibrated_in_sample": "model, calibrated (in sample)", "base_rate": "base rate (earlier meetings)",
          "uniform": "uniform (1/4 each)"}
STYLE = {"pooled": ("#762a83", "P"), "model": ("#2166ac", "o"), "calibrated": ("#1b7837", "D"),
         "base_rate": ("#b2182b", "s"), "uniform": ("#777777", "^"), "calibrated_in_sample": ("#7fbf7b", "v")}
SHORT = {"breakthrough": "B", "substantive": "S", "talk_fest": "T", "collapse": "C"}
SHORT_NAMES = {"model": "model", "calibrated": "calib.", "calibrated_in_sample": "in\nsample"}


def calibrated_fit(summary: dict) -> str:
    """How a backtest's posterior relates to its cases, in words: "leave-one-out" (every case
    was fitted, and is forecast without itself), "posterior fitted on other cases" (none was)
    or "leave-one-out where fitted" (some were). The terminal and the report page both say it."""
    kinds = {(case.get("calibration") or {}).get("posterior") for case in summary.get("cases", [])}
    if kinds == {"all cases"}:
        return "posterior fitted on other cases"
    if "all cases" in kinds:
        return "leave-one-out where fitted"
    return "leave-one-out"


def _label(summary: dict, name: str) -> str:
    """The forecaster's name; the calibrated model's says how its posterior relates to the
    cases: refitted without each (all fitted), fitted on other cases (none), or both."""
    if name != "calibrated":
        return LABELS.get(name, name)
    return f"model, calibrated ({calibrated_fit(summary)})"


def plot_reliability(summary: dict, path: str | Path) -> None:
    """Observed frequency against mean forecast per bin, pooling every (case, class)
    probability (error bars: Wilson 95 %), for the subject and the base rate; the
    diagonal is perfect calibration; each point is labelled with its count."""
    names = [summary.get("subject", "model"), "base_rate"]
    fig, ax = subplots(figsize=(6.2, 5.8), layout="constrained")
    try:
        ax.plot([0, 1], [0, 1], color="#999999", linestyle="--", linewidth=1, label="perfectly calibrated")
        for k, name in enumerate(n for n in names if n in summary["reliability"]):
            colour, marker = STYLE.get(name, ("#444444", "o"))
            rows = summary["reliability"][name]
            x = np.array([r["mean_forecast"] for r in rows]) + (k - 0.5) * 0.01  # keep the bars apart
            obs = np.array([r["observed"] for r in rows])
            err = [obs - np.array([r["observed_low"] for r in rows]),
                   np.array([r["observed_high"] for r in rows]) - obs]
            ax.errorbar(x, obs, yerr=err, fmt=marker, color=colour, markersize=7, capsize=3, elinewidth=1,
                        label=_label(summary, name))
            for xi, oi, r in zip(x, obs, rows):
                ax.annotate(f"n={r['n']}", (xi, oi), xytext=(-26, -11) if k else (6, 4), textcoords="offset points",
                            fontsize=7, color=colour)
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("forecast probability (mean within the bin)")
        ax.set_ylabel("observed frequency (bars: Wilson 95 %)")
        ax.grid(alpha=0.25)
        ax.spines[["top", "right"]].set_visible(False)
        ax.legend(loc="upper left", fontsize=8)
        n = summary["n_cases"]
        edges = summary.get("reliability_bins")
        ax.set_title(f"Reliability: {n} past meetings x {len(CLASSES)} classes, pooled\n"
                     f"indicative only with {n} cases"
                     + (f"; bins {', '.join(f'{b:g}' for b in edges)}" if edges else ""), fontsize=10)
        fig.savefig(path, dpi=DPI)
    finally:
        fig.clear()


def plot_posterior(summary: dict, path: str | Path) -> None:
    """Each knob's prior and posterior mass on its grid, with the posterior median marked."""
    cal = summary["calibration"]
    knobs = cal["knobs"]
    fig, axes = subplots(1, len(knobs), figsize=(3.8 * len(knobs), 3.4), squeeze=False, layout="constrained")
    try:
        for ax, knob in zip(axes.flat, knobs):
            m = cal["marginals"][knob["name"]]
            x = np.array(m["values"])
            width = 0.8 * (np.min(np.diff(x)) if len(x) > 1 else 1.0)
            ax.bar(x, m["prior"], width=width, color="#bbbbbb", label="prior")
            ax.bar(x, m["posterior"], width=width * 0.55, color="#1b7837", label="posterior")
            ax.axvline(cal["posterior"][knob["name"]]["median"], color="#1b7837", linestyle="--", linewidth=1)
            ax.set_xlabel(knob["name"])
            ax.grid(alpha=0.25, axis="y")
            ax.spines[["top", "right"]].set_visible(False)
        axes.flat[0].set_ylabel("mass on the grid")
        axes.flat[0].legend(fontsize=8)
        fig.suptitle(f"Posterior of the knobs ({plural(summary['n_cases'], 'case')}, "
                     f"{cal['grid_points']:,} grid points, {cal['runs_per_point']:,} replicates a point)", fontsize=11)
        fig.savefig(path, dpi=DPI)
    finally:
        fig.clear()


# --- Tables ----------------------------------------------------------------------------------


def _forecast_table(summary: dict, names: list[str], title: str):
    """A row per case (and per forecaster when there are two), a column per class: each Monte
    Carlo forecast over its 95 % interval (`case["intervals"]`), two lines a cell so that the
    table fits."""
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    table.add_column("case")
    table.add_column("observed\nmeeting")
    if len(names) > 1:
        table.add_column("fore-\ncaster")
    for c in CLASSES:
        table.add_column(f"{SHORT[c]}\n[95 %]", justify="right", no_wrap=True)
    table.add_column("base\nrate\nP(obs)", justify="right", no_wrap=True)
    for case in summary["cases"]:
        for k, name in enumerate(names):
            intervals = case["intervals"][name]
            cells = [f"{case['forecasts'][name][c]:.2f}\n[{intervals[c][0]:.2f}, {intervals[c][1]:.2f}]"
                     for c in CLASSES]
            first = k == 0
            table.add_row(case["name"] if first else "",
                          f"{case['observed'].replace('_', ' ')}\n{case['date']}" if first else "",
                          *([SHORT_NAMES[name]] if len(names) > 1 else []), *cells,
                          f"{case['forecasts']['base_rate'][case['observed']]:.2f}" if first else "",
                          end_section=len(names) > 1 and k == len(names) - 1)
    return table


def _score_table(summary: dict, order: list[str]):
    from rich.table import Table

    subject = summary["subject"]
    table = Table(title=f"mean scores over {plural(summary['n_cases'], 'case')} (lower is better)",
                  title_justify="left")
    table.add_column("forecaster")
    table.add_column("Brier (0-2)", justify="right")
    table.add_column("log", justify="right")
    table.add_column(f"{subject} - it, Brier [95 %]", justify="right")
    table.add_column(f"{subject} - it, log [95 %]", justify="right")
    for name in order:
        m = summary["mean_scores"][name]
        d = summary["differences"].get(name)
        cells = [_difference(d[s], summary["n_cases"]) if d else "" for s in ("brier", "log")]
        table.add_row(_label(summary, name), f"{m['brier']:.3f}", f"{m['log']:.3f}", *cells)
    return table


def _difference(d: dict, n_cases: int):
    """A mean score difference with its bootstrap interval (a `Text`: rich would read the
    brackets of "[no interval]" as markup and drop them). No interval comes from fewer than
    3 cases or from one difference on every case (`scoring.bootstrap_difference`): a pool
    weighted 1 on every case is the calibrated model, however many cases there are."""
    from rich.text import Text

    why = "fewer than 3 cases" if n_cases < 3 else "the same difference on every case"
    interval = f"[{d['low']:+.3f}, {d['high']:+.3f}]" if d["low"] is not None else f"(no interval: {why})"
    return Text(f"{d['mean']:+.3f} {interval}")


def _discrimination_line(summary: dict, name: str) -> str:
    d = summary["discrimination"][name]
    difference = "n/a (every case on one side)" if d["difference"] is None else f"{d['difference']:+.3f}"
    if d.get("difference_mc_half_width") is not None:
        difference += f" (Monte Carlo 95 %: +-{d['difference_mc_half_width']:.3f} at most)"
    return (f"{_label(summary, name)}: mean P(substantive or better) {fmt_p(d['mean_positive'])} for the "
            f"{d['positive_cases']} substantive-or-better meetings, {fmt_p(d['mean_other'])} for the other "
            f"{d['other_cases']}; difference {difference}")


def print_backtest(summary: dict, out: Path) -> None:
    con = console()
    calibrated = "calibrated" in summary["mean_scores"]
    names = ["model", "calibrated"] if calibrated else ["model"]
    runs = sorted({c["runs"] for c in summary["cases"]})
    replicates = f"{'/'.join(f'{r:,}' for r in runs)} replicates a case"
    partial = _partial(summary)
    con.print(_forecast_table(summary, names, (f"INCOMPLETE ({partial}) " if partial else "")
                              + "backtest: forecasts (B breakthrough, S substantive, T talk fest, C collapse) "
                              f"with their Monte Carlo 95 % intervals (Wilson, {replicates}), and the observed "
                              "class" + ("; calib.: calibrated, posterior predictive" if calibrated else "")))
    order = (["calibrated", "pooled", "model", "base_rate", "uniform"] if calibrated
             else ["model", "base_rate", "uniform"])
    con.print(_score_table(summary, [name for name in order if name in summary["mean_scores"]]))
    for name in names:
        con.print(_discrimination_line(summary, name), soft_wrap=True)
    if summary.get("pool"):
        con.print(f"pool: weight on the calibrated model fitted without each case (log score); on all cases "
                      f"{summary['pool']['weight_on_model_all_cases']:.2f}{_pool_interval(summary['pool'])}",
                  soft_wrap=True)
    elif calibrated:
        con.print("no pool with the base rate: its weight is fitted on the other cases, and there is one case",
                  soft_wrap=True)
    by_name = [c["name"] for c in summary["cases"] if (c.get("calibration") or {}).get("left_out_by") == "name"]
    if by_name:  # edited since the fit: the posterior's likelihood is of its old inputs
        its, one = ("its", "its name") if len(by_name) == 1 else ("their", "their names")
        con.print(f"calibrated: refitted without {', '.join(by_name)}, known to the posterior by {one} only "
                  f"({its} inputs differ from the fitted case's)", soft_wrap=True)
    for c in summary["cases"]:  # a copy of a fitted case under another name is not a new meeting: say so
        cal = c.get("calibration") or {}
        if cal.get("left_out") and cal["left_out"] != c["name"] and cal.get("left_out_by") == "inputs":
            con.print(f"calibrated: {c['name']} has the model inputs of the fitted case {cal['left_out']}, and is "
                      "forecast from the posterior refitted without it", soft_wrap=True)
    b = summary["bootstrap"]
    kept, total = summary.get("cases_resumed") or 0, summary.get("cases_total") or summary["n_cases"]
    # as calibrate says of its points: the seconds are this run's only
    kept = f" ({kept:,} of the {total:,} cases kept from an earlier run)" if kept else ""
    con.print(f"{plural(summary['n_cases'], 'case')}, {'/'.join(f'{r:,}' for r in runs)} replicates each, "
                  f"{summary['seconds']:.1f} s{kept}; base rate: {summary['base_rate']}; log score clips p at "
                  f"{summary['log_score_clip']:g}; intervals: {b['resamples']:,} BCa bootstrap resamples of the cases",
                  soft_wrap=True)
    if partial:
        con.print(f"INCOMPLETE: {partial}; the scores are of those cases only. Missing: "
                  f"{', '.join(summary['missing_cases'])}", soft_wrap=True)
    con.print(f"results: {out}", soft_wrap=True)


def _pool_interval(pool: dict) -> str:
    """" (Monte Carlo 95 % 0.45-0.65)", or nothing for a summary written before it was kept."""
    bounds = pool.get("weight_on_model_all_cases_mc95")
    return "" if bounds is None else f" (Monte Carlo 95 % {bounds[0]:.2f}-{bounds[1]:.2f})"


def _partial(summary: dict) -> str | None:
    """'interrupted: 12 of 20 cases finished' for an interrupted backtest's summary, else None."""
    if summary.get("complete", True):
        return None
    return f"interrupted: {summary['n_cases']} of {summary['cases_total']} cases finished"


UNMOVED = 0.02
"""A knob whose posterior marginal is within this total variation distance of its prior's is
flagged: the cases say (next to) nothing about it, and its posterior is its prior."""


def _knob_number(value: float, scale: float) -> str:
    """A knob's value to 3 significant digits, rounding noise (below 1e-9 of the grid's scale) as 0."""
    return f"{0.0 if abs(value) <= 1e-9 * scale else value:.3g}"


def print_calibration(summary: dict, out: Path) -> None:
    from rich.table import Table

    con = console()
    cal = summary["calibration"]
    con.print(_forecast_table(summary, ["calibrated", "calibrated_in_sample"],
                              "calibrate: each case at the posterior without it (calib., leave-one-out), and with it "
                              "(in sample), with 95 % Monte Carlo intervals (conservative: as if the grid points' "
                              f"errors were perfectly correlated; {summary['calibration']['runs_per_point']:,} "
                              "replicates a case and point)"))
    con.print(_score_table(summary, ["calibrated", "calibrated_in_sample", "base_rate", "uniform"]))
    con.print(_discrimination_line(summary, "calibrated"), soft_wrap=True)
    table = Table(title="posterior of the knobs", title_justify="left")
    for column in ("knob", "prior mean", "posterior mean", "sd", "95 % interval"):
        table.add_column(column, justify="left" if column == "knob" else "right")
    for knob in cal["knobs"]:
        s = cal["posterior"][knob["name"]]
        edge = " (grid edge)" if s["at_grid_edge"] else ""
        marginal = cal["marginals"][knob["name"]]
        if len(marginal["values"]) > 1 and marginal.get("moved_from_prior", 1.0) < UNMOVED:
            edge += " (as the prior: the cases do not tell it)"
        scale = max((abs(v) for v in marginal["values"]), default=1.0) or 1.0
        mean, sd, low, high = (_knob_number(s[k], scale) for k in ("mean", "sd", "q025", "q975"))
        table.add_row(knob["name"], _knob_number(s["prior_mean"], scale), f"{mean}{edge}", sd, f"[{low}, {high}]")
    con.print(table)
    total = cal["grid_points"] * summary["n_cases"]
    kept = cal.get("points_resumed") or 0
    kept = f" ({kept:,} of the {total:,} points kept from an earlier run)" if kept else ""
    con.print(f"{cal['grid_points']:,} grid points x {plural(summary['n_cases'], 'case')} x {cal['runs_per_point']:,} "
              f"replicates, {cal['seconds']:.0f} s{kept}; {cal['note']}", soft_wrap=True)
    if summary["n_cases"] == 1:
        con.print("one case: its leave-one-out forecast is the prior predictive (the posterior without it is the "
                  "prior), and the posterior above rests on that one case", soft_wrap=True)
    copy = f", copied to {summary['posterior_copy']}" if summary.get("posterior_copy") else ""
    con.print(f"posterior: {summary['posterior_file']}{copy}", soft_wrap=True)
    con.print(f"results: {out}", soft_wrap=True)
