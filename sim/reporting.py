"""What every terminal report shares: the console, the number formats, the seed's label.

One place each, so that `run`, `compare`, `explain`, `sweep`, `backtest` and
`calibrate` print numbers the same way.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["HIDDEN_SHIFT", "INDEX_RANGE", "SPREAD_NOISE_P", "as_written_missing", "breakthrough_note",
           "breakthrough_shifts", "compiling_note", "console", "effect_of", "fmt_estimate", "fmt_index", "fmt_p",
           "fmt_signed", "forecast_partial", "index_bounds", "index_error_bars", "index_rows", "left_out_phrase",
           "plural", "possessive", "same_posterior", "scenario_label", "seed_label", "spread_noise", "unmoved_note"]


def console():
    """A rich console on stdout; 120 columns when it is not a terminal (a file, a pipe), so
    tables do not wrap."""
    from rich.console import Console

    out = Console(file=sys.stdout, highlight=False)
    if not out.is_terminal and "COLUMNS" not in os.environ:
        out.width = 120
    return out


def compiling_note(summary: dict) -> str:
    """"; and 15.6 s compiling the numba kernels (...)" when a command's `compile_seconds`
    (left out of its `seconds`) is worth saying, else ""."""
    seconds = summary.get("compile_seconds") or 0.0
    return f"; and {seconds:.1f} s compiling the numba kernels (once: they are cached)" if seconds >= 0.05 else ""


def fmt_p(p: float | None) -> str:
    """A probability to three places, or n/a."""
    return "n/a" if p is None else f"{p:.3f}"


def as_written_missing(summary: dict) -> bool:
    """A calibrated result whose model-as-written pass did not finish (Ctrl-C): its summary holds
    `as_written: null`, where an uncalibrated one has no such key."""
    return "as_written" in summary and summary["as_written"] is None


def forecast_partial(summary: dict) -> bool:
    """The command's own figures are over fewer replicates than it was asked for, Ctrl-C having
    stopped them. Not the same as `interrupted`, which says the command did not finish all its
    work: a calibrated run, compare or explain stopped in its model-as-written pass, or an explain
    in its Shapley values, is interrupted with its forecast whole (and a run that stopped early at
    its precision is whole with fewer replicates than requested)."""
    return (bool(summary.get("interrupted")) and not summary.get("stopped_early")
            and summary.get("runs", 0) < summary.get("requested_runs", 0))


def left_out_phrase(cal: dict) -> str:
    """', refitted without c1' when a calibrated forecast's scenario was one of the posterior's
    cases (left out of the fit, as leave-one-out asks), with '(known by its name: ...)' when it
    was matched by name alone, its inputs having changed since the fit; '' otherwise."""
    if not cal.get("left_out"):
        return ""
    by_name = cal.get("left_out_by") == "name"
    return f", refitted without {cal['left_out']}" + (" (known by its name: its inputs differ from the fitted "
                                                       "case's)" if by_name else "")


def same_posterior(a: dict | None, b: dict | None) -> bool:
    """Whether two calibration notes (a compare's sides) drew their knob rows from one posterior:
    the same file, refitted without the same case (or none). How that case was recognised, by
    its inputs or by its name alone, changes the words of the note, not the weights."""
    a, b = a or {}, b or {}
    return all(a.get(k) == b.get(k) for k in ("file", "posterior", "left_out", "draws"))


SPREAD_NOISE_P = 0.05
"""A knobs' range whose settings' homogeneity test gives this p-value or more, after Holm's
correction for the ranges shown together, is within Monte Carlo noise (`RunResult.parameter_spread`)."""


def spread_noise(spreads: dict[str, dict]) -> dict[str, str | None]:
    """For each class's knobs' range (`parameter_spread`, by name), why it may be Monte Carlo
    noise alone, as a phrase ("homogeneity test p 0.26 over 73 knob settings"), or None when
    the settings' estimates differ by more than noise or the range is 0 wide.

    A table shows five ranges at once, so five tests: at 0.05 each, a class no knob can move
    would be flagged as moved about once in four tables. Holm's step-down correction keeps the
    chance of any such false flag at 0.05 whatever the tests' dependence (the union
    "substantive or better" is not independent of its classes); the phrase gives the raw p
    and, where it differs, the corrected one. Results older than the test have no
    `homogeneity_p`: None."""
    raw = {name: s.get("homogeneity_p") for name, s in spreads.items()}
    tested = sorted((p, name) for name, p in raw.items() if p is not None)
    adjusted, running = {}, 0.0
    for rank, (p, name) in enumerate(tested):
        running = max(running, min(1.0, (len(tested) - rank) * p))
        adjusted[name] = running
    phrases: dict[str, str | None] = {}
    for name, spread in spreads.items():
        p, held = raw[name], adjusted.get(name)
        if p is None or held < SPREAD_NOISE_P or not spread["high"] > spread["low"]:
            phrases[name] = None
            continue
        corrected = ("" if f"{held:.2f}" == f"{p:.2f}"
                     else f", {held:.2f} after Holm's correction for {len(tested)} tests")
        phrases[name] = f"homogeneity test p {p:.2f} over {spread['settings']} knob settings{corrected}"
    return phrases


def plural(n: int, noun: str) -> str:
    """'1 case', '2 cases', '1,024 replicates': a count with its noun."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def unmoved_note(summary: dict) -> str | None:
    """The sentence naming an explain summary's events whose removal changed no replicate's
    class, whose +0 reads like a small measured effect though its interval is only what the
    number of replicates allows; None if none. Summaries of older versions carry no counts:
    none is named."""
    def still(d: dict) -> bool:
        return d.get("gained") == 0 and d.get("lost") == 0 and not d.get("exact")
    idle = [ev["name"] for ev in summary.get("events") or [] if all(map(still, ev["removed"].values()))]
    if not idle:
        return None
    names = idle[0] if len(idle) == 1 else f"{', '.join(idle[:-1])} and {idle[-1]}"
    return (f"{names}: removing {'it' if len(idle) == 1 else 'each'} changed no replicate's class "
            f"(0 of {summary['runs']:,}), so the interval is only what that many "
            "replicates allow: the event never fires, or acts on nothing the outcome depends on (under the "
            "eum engine a small shift can leave every offer as it was)")


def possessive(name: str) -> str:
    """A name with its possessive ending: "south's", but "separatists'" (a name ending in s
    takes the apostrophe alone). Every message that gives a name 's uses this."""
    return f"{name}'" if name.lower().endswith("s") else f"{name}'s"


def fmt_estimate(p: float | None, low: float | None, high: float | None) -> str:
    """A Monte Carlo probability with its 95 % interval, as `run` prints it: 0.440 [0.437, 0.443]."""
    if p is None:
        return "n/a"
    return f"{fmt_p(p)} [{fmt_p(low)}, {fmt_p(high)}]"


def fmt_index(v: float | None, half: float | None, floor: float | None = None,
              ceiling: float | None = None) -> str:
    """A sensitivity index with its 95 % bootstrap interval, `v [v - half, v + half]`, cut to the
    values the index can take (`index_bounds`): no lower than `floor` for an index that cannot be
    negative (mu*, a mean of absolute effects; ST, whose estimator is a mean of squares), no
    higher than `ceiling` for a share of variance (ST)."""
    if v is None or half is None:
        return fmt_p(v)
    low, high = index_bounds(v, half, floor, ceiling)
    return f"{v:.3f} [{low + 0.0:.3f}, {high:.3f}]"


INDEX_RANGE = {"S1": (None, None), "ST": (0.0, 1.0), "mu_star": (0.0, None)}
"""The values each sensitivity index with an interval can take, where its interval is cut
(`index_bounds`): S1's estimate may be negative; ST is a share of variance; mu* a mean of
absolute effects."""


def index_error_bars(indices: dict[str, dict], names: list[str], key: str) -> list[list[float]]:
    """matplotlib's `xerr` for index `key` of the factors `names`: how far each bar's interval
    reaches below and above its value, cut as the table prints it (`INDEX_RANGE`)."""
    values = [indices[n][key] or 0.0 for n in names]
    bounds = [index_bounds(v, indices[n][f"{key}_conf"] or 0.0, *INDEX_RANGE[key]) for v, n in zip(values, names)]
    return [[v - low for v, (low, _) in zip(values, bounds)], [high - v for v, (_, high) in zip(values, bounds)]]


def index_bounds(v: float, half: float, floor: float | None = None,
                 ceiling: float | None = None) -> tuple[float, float]:
    """The interval `v +- half` cut at `floor` and `ceiling`, the bounds of what the index can
    be, where the estimate lies within them: an ST estimated above 1 (Monte Carlo noise, which
    `sweep` warns of) keeps its whole interval rather than one cut at, or short of, itself."""
    low, high = v - half, v + half
    if floor is not None and v >= floor:
        low = max(low, floor)
    if ceiling is not None and v <= ceiling:
        high = min(high, ceiling)
    return low, high


def index_rows(analysis: dict) -> tuple[tuple[str, ...], list[tuple[str, tuple[str, ...]]]]:
    """A sweep's sensitivity indices as `sweep` prints them and the page shows them: the column
    heads, and a (factor, cells) row per factor, the most influential first."""
    sobol = analysis["method"] == "sobol"
    heads = ("first order S1", "total ST") if sobol else ("mu* (mean |effect|)", "mu", "sigma")
    items = sorted(analysis["indices"].items(), key=lambda kv: -((kv[1]["ST" if sobol else "mu_star"]) or 0))
    rows = []
    for name, ix in items:
        if sobol:
            cells = (fmt_index(ix["S1"], ix["S1_conf"], *INDEX_RANGE["S1"]),
                     fmt_index(ix["ST"], ix["ST_conf"], *INDEX_RANGE["ST"]))
        else:
            cells = (fmt_index(ix["mu_star"], ix["mu_star_conf"], *INDEX_RANGE["mu_star"]), fmt_p(ix["mu"]),
                     fmt_p(ix["sigma"]))
        rows.append((name, cells))
    return heads, rows


HIDDEN_SHIFT = 0.01
"""The least effect on P(breakthrough) that explain names as hidden by P(substantive or better):
one percentage point (Camp David's expelled mission, -0.005 with substantive +0.003 and the
table's -0.002, hides nothing a reader would act on)."""


def effect_of(removed: dict) -> dict:
    """An `explain` removal (P without the event - P with it) as the event's effect (P with -
    P without, so + means the event raised the probability), its interval mirrored."""
    return {**removed, "diff": -removed["diff"], "low": -removed["high"], "high": -removed["low"]}


def breakthrough_shifts(events: list[dict]) -> list[tuple[str, dict]]:
    """The events of an `explain` summary (each with its `removed` comparison) that shift
    replicates between a breakthrough and a substantive deal by more than they move P(substantive
    or better), which counts the two alike and so hides the shift: their effect on P(breakthrough)
    (P with the event - P without it) is clear of 0 (its paired interval), their effect on
    P(substantive) has the other sign and is larger than the one on P(substantive or better), and
    it is at least `HIDDEN_SHIFT`. (name, effect on P(breakthrough)), the largest first."""
    out = []
    for ev in events:
        removed = ev.get("removed") or {}
        if not all(k in removed for k in ("breakthrough", "substantive", "substantive_or_better")):
            continue  # an older summary
        b, s, sob = (removed[k] for k in ("breakthrough", "substantive", "substantive_or_better"))
        effect = effect_of(b)
        if (effect["low"] > 0 or effect["high"] < 0) and b["diff"] * s["diff"] < 0 \
                and abs(s["diff"]) > abs(sob["diff"]) and abs(b["diff"]) >= HIDDEN_SHIFT:
            out.append((ev["name"], effect))
    return sorted(out, key=lambda item: -abs(item[1]["diff"]))


def breakthrough_note(shifts: list[str]) -> str | None:
    """The sentence under explain's table naming the `breakthrough_shifts`, each given as its
    caller prints an effect ("name +0.3012 [+0.29, +0.31]"); None if there are none."""
    if not shifts:
        return None
    return ("P(substantive or better) counts a breakthrough and a substantive deal alike; "
            + ("this event moves" if len(shifts) == 1 else "these events move")
            + " P(breakthrough) further (P with it - P without it, paired 95 % interval): " + "; ".join(shifts))


def fmt_signed(x: float) -> str:
    """A difference with its sign to four places; exactly 0 as 0."""
    return "0" if x == 0 else f"{x:+.4f}"


def seed_label(entropy: int) -> str:
    """The seed's entropy, shortened for a plot title when it is long (fresh OS entropy)."""
    text = str(entropy)
    return text if len(text) <= 12 else text[:10] + "..."


def scenario_label(summary: dict) -> str:
    """The run's scenario name, with the file that ran when the name is not the file's own: a file
    that extends another without a `name:` keeps the base's (a variant of a fitted case is still
    that meeting), and its results go under the base's name."""
    name, file = summary["scenario"], summary.get("scenario_file")
    return f"{name} ({file})" if file and Path(file).stem != name else name
