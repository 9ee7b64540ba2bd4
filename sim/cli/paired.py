"""`compare` and `explain`: paired counterfactuals and event attribution."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import InputError, Problem, map_all
from ..reporting import as_written_missing
from ..schema.rules import MAX_RUNS
from .common import (
    CALIBRATION_OPTION,
    EXIT_INTERRUPTED,
    LIMIT_OPTIONS,
    PAIRED_OPTIONS,
    SCENARIO_OPTIONS,
    arg,
    calibration_setting,
    check_limits,
    check_monte_carlo_options,
    chunk_workers,
    claim_output,
    command,
    count,
    load_all,
    load_calibration,
    load_one,
    output_options,
    parse_overrides,
    say,
    stop_on_interrupt,
    write_and_show,
)
from .progress import progress_bar


@command(
    "compare", "run two scenarios on the same random numbers and print B - A per outcome, paired",
    arg("a", type=Path, metavar="A.yaml", help="the reference scenario"),
    arg("b", type=Path, metavar="B.yaml", help="the scenario compared with it (same agents and issues)"),
    *SCENARIO_OPTIONS,
    arg("--set-a", dest="overrides_a", action="append", default=[], metavar="PATH=VALUE",
        help="override a field of A only (repeatable; --set changes both)"),
    arg("--set-b", dest="overrides_b", action="append", default=[], metavar="PATH=VALUE",
        help="override a field of B only, e.g. compare a file with itself changed (repeatable)"),
    *PAIRED_OPTIONS, CALIBRATION_OPTION, *output_options("results/compare/<run-id>"), *LIMIT_OPTIONS,
)
def cmd_compare(args: argparse.Namespace) -> int:
    from ..attribution_report import plot_comparison, print_comparison
    from ..comparison import check_pairable, compare, same_model, summarise_comparison
    from ..limits import add_output, estimate_output
    from ..results import default_out_dir

    both, only_a, only_b = map_all(lambda o: parse_overrides(*o), ((args.overrides, "--set"),
                                                                   (args.overrides_a, "--set-a"),
                                                                   (args.overrides_b, "--set-b")))
    twice = [Problem(option, path, "is given with --set too; give it once (--set for both, or --set-a and --set-b)")
             for option, only in (("--set-a", only_a), ("--set-b", only_b)) for path in only if path in both]
    if twice:
        raise InputError(twice)
    check_monte_carlo_options(argparse.Namespace(**{**vars(args), "precision": None}))
    a, b = map_all(lambda side: _load_side(*side, both), (("A", args.a, only_a), ("B", args.b, only_b)))
    check_pairable(a, b, str(args.a), str(args.b))  # before notes on how they would be paired
    _note_b_settings_unused(args, a, b)
    _note_unshared_draws(a, b)
    workers = _workers(args, a, 2)
    limit = check_limits(args, add_output(_paired_estimate([a, b], args, workers), estimate_output()),
                         "this comparison", args.out or Path("results"))
    posterior = load_calibration(args)  # once: a bad file is one error, a stale one one warning
    (knobs_a, note_a), (knobs_b, note_b) = map_all(lambda side: calibration_setting(args, *side, posterior),
                                                   [(a, args.a), (b, args.b)])  # both sides' problems at once
    out = claim_output(args, "compare", default_out_dir("compare"))
    total = args.runs if args.runs is not None else a.monte_carlo.runs
    if same_model(a, b) and (note_a or {}).get("left_out") == (note_b or {}).get("left_out"):
        say(f"warning: A ({args.a}) and B ({args.b}) are the same scenario once loaded (they differ at most in "
            "name, title, source, observed and monte_carlo): every B - A will be 0; check B's set:, remove_events: "
            "or --set-b")
    passes = 2 if knobs_a is None else 4  # calibrated: the model as written too, on the same replicates
    raw = None
    # held while the result is written too: a Ctrl-C then (a second one, or one as the work ended)
    # threw away the work that finished, "interrupted: nothing written"
    with stop_on_interrupt() as stop:
        with progress_bar(args, passes * total) as progress:
            result = compare(a, b, runs=args.runs, seed=args.seed, chunk_size=args.chunk_size,
                             progress=None if progress is None else (lambda done, n: progress(2 * done, passes * n)),
                             names=(str(args.a), str(args.b)),
                             knobs=None if knobs_a is None else (knobs_a, knobs_b), workers=workers, stop=stop,
                             max_memory=limit)
            if knobs_a is not None and result.runs == total:
                done = result.runs
                raw = compare(a, b, runs=done, seed=result.entropy, chunk_size=args.chunk_size,
                              progress=None if progress is None else (
                                  lambda n, _: progress(2 * done + 2 * n, 4 * done)),
                              names=(str(args.a), str(args.b)), workers=workers, stop=stop, max_memory=limit)
        if result.runs == 0:
            return _nothing_done()
        summary = summarise_comparison(result, a, b, str(args.a), str(args.b))
        raw_stopped = raw is not None and raw.runs < result.runs
        summary.update(requested_runs=total, interrupted=result.runs < total or raw_stopped, workers=workers)
        if note_a is not None:
            summary["calibration"] = {"a": note_a, "b": note_b}
            summary["as_written"] = None if raw is None or raw_stopped else {
                "runs": raw.runs, "headline": summarise_comparison(raw, a, b)["headline"]}
        overrides = {"both": args.overrides, "a": args.overrides_a, "b": args.overrides_b}
        if any(overrides.values()):
            summary["overrides"] = {k: v for k, v in overrides.items() if v}
        status = write_and_show(args, out, summary, {"compare.png": plot_comparison}, print_comparison)
    return _interrupted(summary, out) if summary["interrupted"] else status


def _note_b_settings_unused(args: argparse.Namespace, a, b) -> None:
    """Say so when B's `monte_carlo:` asks for other runs, seed or chunk size than A's: pairing
    runs both sides on one setting, A's or the options', and B's was silently dropped."""
    unused = [f"{field} {getattr(b.monte_carlo, field)}" for field in ("runs", "seed", "chunk_size")
              if getattr(args, field) is None and getattr(a.monte_carlo, field) != getattr(b.monte_carlo, field)]
    if unused:
        say(f"note: B's monte_carlo: ({', '.join(unused)}) is not used: both sides run on A's settings, as "
            "pairing needs (--runs, --seed and --chunk-size set them for both)")


def _note_unshared_draws(a, b) -> None:
    """Say so when an agent or issue draws other random numbers under B than under A. Its
    streams are keyed by its role (summit party, signatory, veto player, mediator, alliance,
    trust; for an issue, its anchors and who weighs it) and its rank among those of the same
    role (`sim.canonical`), not by its name, so that renaming changes nothing: one whose role
    B changes (`--set-b summit.parties=...`) shares none of its draws with A, and the paired
    interval is wider than the same question asked without that change."""
    from ..canonical import make_canon

    canon_a, canon_b = make_canon(a), make_canon(b)
    moved = [name for name in a.agents if canon_a.agent_label[name] != canon_b.agent_label.get(name)]  # file order
    moved += [name for name in a.issues if canon_a.issue_label[name] != canon_b.issue_label.get(name)]
    if moved:
        say(f"note: {', '.join(moved)} {'draws' if len(moved) == 1 else 'draw'} other random numbers under B than "
            "under A: they follow an agent's or issue's role (summit party, signatory, veto player, mediator, "
            "alliance, trust; an issue's anchors and who weighs it) and rank, not its name, and B changes them; the "
            "pairing shares none of those draws, so the paired interval is wider")


def _load_side(name: str, path: Path, only: dict, both: dict):
    """Scenario A or B with its overrides; each problem says which side it is on (A and B are
    often one file), and one in an override names the option that gave it."""
    try:
        (scenario,) = load_all((path, {**both, **only}))
    except InputError as exc:
        raise InputError([_on_side(p, name, only, both) for p in exc.problems]) from None
    return scenario


def _on_side(problem: Problem, name: str, only: dict, both: dict) -> Problem:
    source, option = problem.source, f"--set-{name.lower()}"
    # the loader marks a problem at a field the overrides gave (by its resolved path: a list item
    # given by name, `events.talks.date`, fails at `events.0.date`); which option gave it
    overridden = source.endswith(" (--set)")
    source = source.removesuffix(" (--set)")
    if source == "--set" and problem.path in only:
        source = option
    elif problem.path in only or (overridden and only and not both):  # a value --set-a/--set-b gave
        source = f"{source} (scenario {name}, {option})"
    elif overridden:
        which = "--set" if problem.path in both or not only else f"--set or {option}"
        source = f"{source} (scenario {name}, {which})"
    else:
        source = f"{source} (scenario {name})"
    return Problem(source, problem.path, problem.message, problem.value, problem.has_value)


@command(
    "explain", "what each scheduled event did to the forecast: removed one at a time (paired), "
               "and with --shapley each event's Shapley share",
    arg("scenario", type=Path, help="scenario YAML file"),
    *SCENARIO_OPTIONS, *PAIRED_OPTIONS,
    arg("--shapley", action="store_true",
        help="also Shapley values over the events (exact up to 12 events, sampled orders above)"),
    arg("--shapley-runs", type=count, metavar="N",
        help="replicates for the Shapley values (default: --runs, capped at about 4 million model runs)"),
    CALIBRATION_OPTION, *output_options("results/explain/<run-id>"), *LIMIT_OPTIONS,
)
def cmd_explain(args: argparse.Namespace) -> int:
    from ..attribution import explain, shapley_plan, summarise_explanation
    from ..attribution_report import plot_explanation, plot_shapley, print_explanation
    from ..limits import add_output, estimate_output
    from ..results import default_out_dir

    overrides = parse_overrides(args.overrides)
    map_all(lambda check: check(), (  # every bad option at once
        lambda: check_monte_carlo_options(argparse.Namespace(**{**vars(args), "precision": None})),
        lambda: _check_shapley_runs(args)))
    scenario = load_one(args.scenario, overrides)
    runs = args.runs if args.runs is not None else scenario.monte_carlo.runs
    k = len(scenario.events)
    if args.shapley and k == 0:  # no change from no events to all of them to share: no pass, no empty chart
        say(f"note: --shapley: {args.scenario} schedules no events, so there are no Shapley values to compute")
        args.shapley = False
    shapley_runs = shapley_plan(k, runs, args.shapley_runs)[1] if args.shapley else 0
    workers = _workers(args, scenario, k + 1, shapley_runs)
    limit = check_limits(args, add_output(_explain_estimate(scenario, args, workers), estimate_output()),
                         "this explanation", args.out or Path("results"))
    knobs, note = calibration_setting(args, scenario, args.scenario)
    out = claim_output(args, "explain", default_out_dir("explain"))
    main = runs * (k + 1)
    if args.shapley:
        _, n, passes = shapley_plan(k, runs, args.shapley_runs)
        main += n * passes
    total = main + (runs * (k + 1) if knobs is not None else 0)  # calibrated: the removals as written too
    raw = None
    # held while the result is written too: a Ctrl-C then (a second one, or one as the work ended)
    # threw away the work that finished, "interrupted: nothing written"
    with stop_on_interrupt() as stop:
        with progress_bar(args, total) as progress:
            result = explain(scenario, runs=args.runs, seed=args.seed, chunk_size=args.chunk_size,
                             shapley=args.shapley, shapley_runs=args.shapley_runs,
                             progress=None if progress is None else (lambda done, n: progress(done, total)),
                             knobs=knobs, workers=workers, stop=stop, max_memory=limit)
            if knobs is not None and not result.interrupted and result.runs > 0:
                raw = explain(scenario, runs=result.runs, seed=result.entropy, chunk_size=args.chunk_size,
                              progress=None if progress is None else (lambda done, n: progress(main + done, total)),
                              workers=workers, stop=stop, max_memory=limit)
        if result.runs == 0:
            return _nothing_done()
        summary = summarise_explanation(result, scenario, str(args.scenario))
        raw_stopped = raw is not None and raw.interrupted
        summary.update(requested_runs=runs, interrupted=result.interrupted or raw_stopped, workers=workers)
        if args.shapley:
            summary["requested_shapley_runs"] = shapley_runs
        if note is not None:
            summary["calibration"] = note
            as_written = None if raw is None or raw_stopped else summarise_explanation(raw, scenario)
            summary["as_written"] = None if as_written is None else {
                "runs": as_written["runs"], "classes": as_written["classes"],
                "events": [{"name": ev["name"], "effect": ev["effect"], "removed": ev["removed"]}
                           for ev in as_written["events"]]}
        if overrides:
            summary["overrides"] = args.overrides
        plots = {"explain.png": plot_explanation}
        if summary.get("shapley") is not None:  # an interrupted run stops before the Shapley values
            plots["shapley.png"] = plot_shapley
        status = write_and_show(args, out, summary, plots, print_explanation)
    return _interrupted(summary, out) if summary["interrupted"] else status


def _check_shapley_runs(args: argparse.Namespace) -> None:
    """--shapley-runs follows --runs' rules (at least 1, at most `MAX_RUNS`: 1e10 once ran for
    days), and only with --shapley."""
    n = args.shapley_runs
    if n is None:
        return
    rule = ("must be >= 1" if n < 1 else f"must be at most {MAX_RUNS:,}" if n > MAX_RUNS
            else None if args.shapley else "applies only with --shapley")
    if rule is not None:
        raise InputError(Problem("--shapley-runs", "", rule, n, True))


def _workers(args: argparse.Namespace, scenario, passes: int, shapley_runs: int = 0) -> int:
    """The processes that will run `passes` runs of the scenario's replicates (and the Shapley
    values' `shapley_runs`) side by side (`common.chunk_workers`)."""
    from ..montecarlo import resolve_settings

    runs, _, blocks_per_chunk = resolve_settings(scenario, args.runs, args.seed, args.chunk_size)
    return chunk_workers(args, runs, blocks_per_chunk, passes, shapley_runs)


def _nothing_done() -> int:
    print("interrupted before any replicate finished: nothing written", file=sys.stderr)
    return EXIT_INTERRUPTED


def _interrupted(summary: dict, out) -> int:
    shapley = ""
    if summary.get("requested_shapley_runs"):
        done = (summary.get("shapley") or {}).get("runs", 0)
        shapley = (f" and the Shapley values over {done:,} of {summary['requested_shapley_runs']:,}" if done
                   else "; no Shapley values")
    # Stopped before the raw model's pass finished: said after the directory, which it is not in.
    without = (", without the model as written"
               if as_written_missing(summary) else "")
    done = (f"all {summary['runs']:,} replicates" if summary["runs"] == summary["requested_runs"]
            else f"the {summary['runs']:,} of {summary['requested_runs']:,} replicates that finished")
    print(f"interrupted: wrote {done}{shapley} to {getattr(out, 'out', out)}{without}", file=sys.stderr)
    return EXIT_INTERRUPTED


def _paired_estimate(scenarios: list, args: argparse.Namespace, workers: int = 1):
    """Memory of running `scenarios` side by side on the same replicates on `workers`
    processes (`limits`), keeping no fan chart's trajectories: paired runs keep only their
    class tables (`comparison.compare` and `attribution.explain` estimate them so too)."""
    from ..limits import estimate_models
    from ..model import compile_model
    from ..montecarlo import resolve_settings
    from ..randomness import BLOCK_SIZE

    runs, _, blocks = resolve_settings(scenarios[0], args.runs, args.seed, args.chunk_size)
    return estimate_models([compile_model(s) for s in scenarios], runs, blocks * BLOCK_SIZE, workers=workers,
                           trajectories=False)


def _explain_estimate(scenario, args: argparse.Namespace, workers: int = 1):
    """Memory of `explain`: the scenario and each removal side by side (the Shapley
    passes hold less: one chunk's state and its copy at a time)."""
    from ..attribution import remove_events

    scenarios = [scenario, *(remove_events(scenario, {e.name}) for e in scenario.events)]
    return _paired_estimate(scenarios, args, workers)
