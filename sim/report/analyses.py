"""The page's views of what moved the answer (explain, compare, sweep) and of how good such
forecasts have been (backtest, calibrate), each from its directory's summary."""

from __future__ import annotations

from typing import Any

from ..model import CLASSES
from ..reporting import (
    as_written_missing,
    breakthrough_note,
    breakthrough_shifts,
    effect_of,
    fmt_estimate,
    fmt_p,
    forecast_partial,
    index_rows,
    left_out_phrase,
    same_posterior,
    unmoved_note,
)
from .collect import Result
from .page import GROUP_LABELS, count, interval

__all__ = ["backtest_view", "calibration_view", "comparison_view", "explanation_view", "sweep_view"]

FORECASTER_LABELS = {"model": "the model", "calibrated": "the calibrated model (leave one out)",
                     "calibrated_in_sample": "the calibrated model (in sample, not a test)",
                     "posterior": "the posterior predictive", "base_rate": "base rate", "uniform": "uniform (1/4 each)",
                     "pooled": "pool of the calibrated model and the base rate"}
MAX_POINTS_LISTED = 30


def _signed(v: float | None) -> str:
    return "n/a" if v is None else "0" if v == 0 else f"{v:+.4f}"


def _posterior(cal: Any) -> str | None:
    """How a calibrated explain or compare drew its knobs, in words (None uncalibrated)."""
    if not isinstance(cal, dict) or not cal.get("file"):
        return None
    left = left_out_phrase(cal)
    draws = f", {cal['draws']} draws" if cal.get("draws") else ""
    return f"{cal['file']} ({cal.get('posterior') or 'posterior'}{left}{draws})"


def _interrupted(s: dict) -> str | None:
    """What an interrupted explain or compare finished, in words (None when it finished). Its
    replicates are counted only when they are short (`forecast_partial`), as run's page does:
    a stop in the model as written's pass, or in the Shapley values, leaves the figures whole."""
    if not s.get("interrupted"):
        return None
    parts = []
    if forecast_partial(s):
        parts.append(f"{count(s.get('runs'))} of {count(s.get('requested_runs'))} replicates finished")
    wanted, sh = s.get("requested_shapley_runs"), s.get("shapley")
    if (s.get("command") == "explain" and not wanted and s.get("runs") == s.get("requested_runs")
            and not as_written_missing(s)):
        # older summaries keep no requested Shapley runs: only the stop inside them explains the flag
        # (not in an explain without Shapley values whose model as written was stopped)
        parts.append("during the Shapley values" + (f", which are over {count(sh['runs'])} replicates" if sh else ""))
    elif wanted and not sh:
        parts.append("no Shapley values")
    elif wanted and sh["runs"] < wanted:
        parts.append(f"the Shapley values over {count(sh['runs'])} of {count(wanted)}")
    if as_written_missing(s):
        parts.append("the model as written was not run to the end")
    if not parts:  # flagged, with nothing found short: say what it counted
        parts.append(f"{count(s.get('runs'))} of {count(s.get('requested_runs'))} replicates finished")
    first, *rest = parts
    return "; ".join([("interrupted " if first.startswith("during ") else "interrupted: ") + first, *rest])


def explanation_view(result: Result, index: int) -> dict[str, Any]:
    """Each event's effect (P with it - P without it), its Shapley share where computed, the waterfall."""
    from .figures_more import waterfall

    s = result.summary
    raw = s.get("as_written") if isinstance(s.get("as_written"), dict) else None
    raw_effects = {ev["name"]: ev["removed"]["substantive_or_better"] for ev in raw["events"]} if raw else {}
    events = []
    for ev in s.get("events", []):
        sub, col = effect_of(ev["removed"]["substantive_or_better"]), effect_of(ev["removed"]["collapse"])
        r = effect_of(raw_effects[ev["name"]]) if ev["name"] in raw_effects else None
        events.append({"name": ev["name"], "date": ev.get("date"), "sub": _signed(sub["diff"]),
                       "sub_interval": interval(sub, signed=True), "collapse": _signed(col["diff"]),
                       "collapse_interval": interval(col, signed=True),
                       "raw": None if r is None else f"{_signed(r['diff'])} {interval(r, signed=True)}"})
    shapley = None
    if s.get("shapley"):
        sh = s["shapley"]
        m, c = sh["metrics"]["substantive_or_better"], sh["metrics"]["collapse"]
        shapley = {"method": sh["method"], "runs": count(sh["runs"]),
                   "rows": [{"name": a["name"], "date": a.get("date") or "", "sub": _signed(a["value"]),
                             "sub_interval": interval(a, signed=True), "collapse": _signed(b["value"]),
                             "collapse_interval": interval(b, signed=True)} for a, b in zip(m["values"], c["values"])],
                   "none": (_estimate(m["no_events"]), _estimate(c["no_events"])),
                   "all": (_estimate(m["all_events"]), _estimate(c["all_events"]))}
    c = s["classes"]
    return {"id": f"explain{index}", "name": result.name, "scenario": s.get("scenario"), "runs": count(s.get("runs")),
            "p_sub": _estimate(c["substantive_or_better"]), "p_collapse": _estimate(c["collapse"]),
            "events": events, "shapley": shapley, "figure": waterfall(s) if s.get("events") else None,
            "breakthrough": breakthrough_note([f"{name} {_signed(e['diff'])} {interval(e, signed=True)}"
                                               for name, e in breakthrough_shifts(s.get("events", []))]),
            "posterior": _posterior(s.get("calibration")), "stopped": _interrupted(s),
            "as_written": _estimate(raw["classes"]["substantive_or_better"]) if raw else None,
            "unmoved": unmoved_note(s)}


def _estimate(e: dict) -> str:
    """P with its 95 % interval where the summary has one (older summaries had none)."""
    return fmt_estimate(e["p"], e.get("low"), e.get("high")) if e.get("low") is not None else fmt_p(e["p"])


def comparison_view(result: Result, index: int) -> dict[str, Any]:
    """P under A and B for each outcome and B - A with its paired interval."""
    from .figures_more import comparison_chart

    s = result.summary
    rows = []
    for g in (*CLASSES, "substantive_or_better"):
        e = s["headline"][g] if g == "substantive_or_better" else s["classes"][g]
        rows.append({"label": GROUP_LABELS[g], "a": fmt_p(e["p_a"]), "b": fmt_p(e["p_b"]),
                     "a_interval": _pair(e.get("p_a_interval")), "b_interval": _pair(e.get("p_b_interval")),
                     "diff": _signed(e["diff"]), "interval": interval(e, signed=True)})
    overrides = s.get("overrides") or {}
    cal = s.get("calibration") if isinstance(s.get("calibration"), dict) else {}
    posterior = _posterior(cal.get("a"))
    if posterior and not same_posterior(cal.get("a"), cal.get("b")):  # fitted cases: each side its own refit
        posterior = (f"A from {posterior}; B from {_posterior(cal.get('b'))}, so B - A includes the change "
                     "of posterior")
    elif posterior:
        posterior = f"on the same knob draws, from {posterior}"
    return {"id": f"compare{index}", "name": result.name, "a": s["a"], "b": s["b"], "runs": count(s.get("runs")),
            "overrides": {k: list(overrides.get(k, [])) for k in ("both", "a", "b")}, "rows": rows,
            "figure": comparison_chart(s), "posterior": posterior, "stopped": _interrupted(s),
            "as_written": _raw_comparison(s.get("as_written"))}


def _raw_comparison(raw: dict | None) -> str | None:
    """A calibrated comparison's raw model: "0.483 -> 0.486, B - A +0.0034 [+0.0030, +0.0038]"."""
    if not isinstance(raw, dict):
        return None
    e = raw["headline"]["substantive_or_better"]
    return f"{fmt_p(e['p_a'])} -> {fmt_p(e['p_b'])}, B - A {_signed(e['diff'])} {interval(e, signed=True)}"


def _pair(values) -> str:
    return "n/a" if not values else f"[{fmt_p(values[0])}, {fmt_p(values[1])}]"


def sweep_view(result: Result, index: int) -> dict[str, Any]:
    """The factors, the sensitivity indices where computed, the points (a few listed)."""
    from .figures_more import sweep_chart

    s, points = result.summary, result.points or []
    analysis = s.get("analysis")
    indices = None
    if analysis:
        # as `sweep` prints them: each index with its interval, not SALib's keys and a bare half-width
        heads, rows = index_rows(analysis)
        indices = {"method": analysis["method"], "heads": heads, "warnings": analysis.get("warnings", []),
                   "rows": [{"name": name, "values": list(cells)} for name, cells in rows]}
    paths = [f["path"] for f in s.get("factors", [])]
    listed = [{"values": [f"{p.get(path):g}" if isinstance(p.get(path), float) else str(p.get(path))
                          for path in paths],
               "p": fmt_p(p.get("substantive_or_better_p")),
               "interval": (f"[{fmt_p(p.get('substantive_or_better_low'))}, "
                            f"{fmt_p(p.get('substantive_or_better_high'))}]"),
               "collapse": _estimate({k: p.get(f"collapse_{k}") for k in ("p", "low", "high")})}
              for p in points[:MAX_POINTS_LISTED]]
    return {"id": f"sweep{index}", "name": result.name, "summary": s, "factors": s.get("factors", []),
            "paths": paths, "indices": indices, "points": listed, "n_points": len(points),
            "figure": sweep_chart(s, points), "notes": result.notes}


def backtest_view(result: Result, index: int, prefix: str = "backtest") -> dict[str, Any]:
    """Mean scores, the subject's differences from the references, discrimination, the
    reliability diagram and the cases."""
    from ..backtest_report import calibrated_fit
    from .figures_more import reliability_chart

    s = result.summary
    subject = s.get("subject", "model")
    # the calibrated model of a backtest is leave-one-out only for the cases the posterior was fitted on
    labels = {**FORECASTER_LABELS, "calibrated": f"the calibrated model ({calibrated_fit(s).replace('-', ' ')})"}
    scores = [{"name": labels.get(k, k), "key": k, "brier": f"{v['brier']:.4f}", "log": f"{v['log']:.4f}"}
              for k, v in s.get("mean_scores", {}).items()]
    diffs = [{"name": labels.get(k, k), "brier": _signed(v["brier"]["mean"]),
              "brier_interval": interval(v["brier"], signed=True), "log": _signed(v["log"]["mean"]),
              "log_interval": interval(v["log"], signed=True)} for k, v in (s.get("differences") or {}).items()]
    disc = [{"name": labels.get(k, k), "positive": fmt_p(v["mean_positive"]),
             "other": fmt_p(v["mean_other"]),
             "difference": _signed(v["difference"]) + (f" (Monte Carlo 95 %: +-{v['difference_mc_half_width']:.3f} "
                                                       "at most)" if v.get("difference_mc_half_width") is not None
                                                       else "")}
            for k, v in (s.get("discrimination") or {}).items()]
    cases = []
    for case in s.get("cases", []):
        forecast = case["forecasts"].get(subject, {})
        bounds = (case.get("intervals") or {}).get(subject, {}).get(case["observed"])  # older summaries: none
        p_observed = fmt_p(forecast.get(case["observed"]))
        if bounds is not None:
            p_observed += f" [{fmt_p(bounds[0])}, {fmt_p(bounds[1])}]"
        cases.append({"name": case["name"], "vantage": case.get("vantage"), "date": case.get("date"),
                      "observed": GROUP_LABELS.get(case["observed"], case["observed"]),
                      "p_observed": p_observed,
                      "brier": f"{case['scores'][subject]['brier']:.4f}", "source": case.get("source") or ""})
    return {"id": f"{prefix}{index}", "name": result.name, "n_cases": s.get("n_cases"),
            "subject": labels.get(subject, subject), "observed": s.get("observed_counts", {}),
            "scores": scores, "differences": diffs, "discrimination": disc, "cases": cases,
            "bootstrap": s.get("bootstrap"), "figure": reliability_chart(s) if s.get("reliability") else None,
            "incomplete": None if s.get("complete", True) else
            f"interrupted, {s.get('n_cases')} of {s.get('cases_total')} cases finished; the scores are of those only"}


def calibration_view(result: Result, index: int) -> dict[str, Any]:
    """The knobs' posterior (a table and the marginals against the priors) and the
    leave-one-out scores of the calibrated forecasts."""
    from .figures_more import posterior_chart

    s = result.summary
    cal = s.get("calibration") or {}
    knobs = []
    for k in cal.get("knobs", []):
        post = (cal.get("posterior") or {}).get(k["name"], {})
        knobs.append({"name": k["name"], "path": k["path"], "kind": k.get("kind", "set"),
                      "prior": _prior(k.get("prior")), "mean": _g(post.get("mean")), "sd": _g(post.get("sd")),
                      "interval": f"[{_g(post.get('q025'))}, {_g(post.get('q975'))}]",
                      "prior_mean": _g(post.get("prior_mean")), "edge": bool(post.get("at_grid_edge"))})
    note = cal.get("note")  # calibrate's line on the terminal, "leave-one-out: each case ... replicates"
    if note:
        note = note[:1].upper() + note[1:] + ("" if note.rstrip().endswith(".") else ".")
    return {"id": f"calibrate{index}", "name": result.name, "knobs": knobs, "note": note,
            "grid_points": cal.get("grid_points"), "runs_per_point": count(cal.get("runs_per_point") or 0),
            "figure": posterior_chart(cal) if cal.get("marginals") else None,
            "scores": backtest_view(result, index, prefix="calibrate-scores")}


def _g(v) -> str:
    return "n/a" if v is None else "0" if abs(v) < 1e-12 else f"{v:.3g}"


def _prior(prior: Any) -> str:
    from .comments import format_value

    return format_value(prior) if prior is not None else "n/a"
