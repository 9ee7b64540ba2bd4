"""What the subcommands share: registration, options, loading and the output tail (progress:
`cli.progress`).

Each subcommand is one function registered with `@command`, its arguments
declared beside it; `sim.cli.main` builds the parser from the registry.
"""

from __future__ import annotations

import argparse
import contextlib
import contextvars
import json
import math
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..errors import STOP_HEARD, SWALLOWED_INTERRUPT, InputError, Problem, interrupt_recorded, map_all
from ..reporting import fmt_p as fmt
from ..schema.rules import MAX_RUNS
from ..yamlfile import load_yaml

__all__ = ["CALIBRATION_OPTION", "EXIT_INPUT_ERROR", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_RUN_ERROR", "LIMIT_OPTIONS",
           "MONTE_CARLO_OPTIONS", "OUTPUT_OPTIONS", "PAIRED_OPTIONS", "SCENARIO_OPTIONS",
           "arg", "blame_overrides", "calibration_setting", "check_limits", "check_monte_carlo_options",
           "chunk_workers", "claim_output",
           "command", "commands", "fmt", "load_all", "load_one", "option_problems", "output_options", "output_path",
           "keeping_said", "note_unread_knobs", "parse_overrides", "said", "say", "show_warnings", "stop_on_interrupt",
           "task_workers",
           "workers_rules",
           "write_and_show"]

EXIT_OK, EXIT_RUN_ERROR, EXIT_INPUT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130


def count(text: str) -> int:
    """A whole number of replicates for an option: `100000`, `100_000` or `1e5`, as in a
    scenario file (`1.5e3` is 1500; `1e-3` or `1.5` are not whole numbers), or `100,000` as sim
    prints counts (commas between groups of three digits only: `1,5` is not a count)."""
    if re.fullmatch(r"\s*[+-]?\d{1,3}(,\d{3})+\s*", text):
        text = text.replace(",", "")
    try:
        return int(text)
    except ValueError:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not value.is_integer():  # argparse says "argument --runs: " and this
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r} (write e.g. 100000, 100_000, 1e5 "
                                             "or 100,000)") from None
        if abs(value) >= 2**53:  # a whole number all the same: "not a whole number" said otherwise of 1e20
            raise argparse.ArgumentTypeError(f"too large: {text!r} (a count of 2**53 = {2**53:,} or more is not "
                                             "read exactly; every command's limit is far below)") from None
        return int(value)


def arg(*names: str, **options: Any) -> tuple[tuple[str, ...], dict[str, Any]]:
    """One argparse argument, declared as `add_argument` would take it."""
    return names, options


_COMMANDS: dict[str, tuple[str, tuple, Callable[[argparse.Namespace], int]]] = {}


def command(name: str, help: str, *args: tuple) -> Callable:
    """Register `func(args) -> exit status` as subcommand `name` with arguments `args`."""

    def register(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        _COMMANDS[name] = (help, args, func)
        return func

    return register


def commands() -> dict[str, tuple[str, tuple, Callable[[argparse.Namespace], int]]]:
    """The registered subcommands, in registration order."""
    return dict(_COMMANDS)


# --- What a command points out ------------------------------------------------------------

_SAID: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("sim_said", default=None)


def say(line: str) -> None:
    """Print a `note:` or `warning:` line on stderr once a command (A and B of a compare are
    often one file; a knob's note would come once a scenario), and keep it for the result the
    command writes (`said`): a reader of the result directory later sees what the command
    pointed out when it made it (that a knob changes nothing under this engine, say)."""
    kept = _SAID.get()
    if kept is not None:
        if line in kept:
            return
        kept.append(line)
    print(line, file=sys.stderr)


@contextlib.contextmanager
def keeping_said() -> Iterator[list[str]]:
    """Keep the lines `say` prints within the block: one command's (`sim.cli._call`)."""
    token = _SAID.set([])
    try:
        yield _SAID.get()
    finally:
        _SAID.reset(token)


def said() -> list[str]:
    """The `note:` and `warning:` lines the command has printed so far, in order: its results'
    `notes`."""
    return list(_SAID.get() or ())


# --- Shared options ----------------------------------------------------------------------

SCENARIO_ROOT_OPTION = arg(
    "--scenario-root", action="append", default=[], type=Path, metavar="DIR",
    help="also let `extends:` and `include:` name YAML files under DIR (by default only under the folder "
         "above the scenario's own; repeatable)")
SCENARIO_OPTIONS = (
    arg("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE",
        help="override a scenario field before validation, e.g. --set agents.russia.resolve=0.7 "
             "(VALUE is read as YAML; repeatable)"),
    SCENARIO_ROOT_OPTION,
)
MONTE_CARLO_OPTIONS = (
    arg("--runs", type=count, metavar="N", help="replicates to run (default: the scenario's monte_carlo.runs)"),
    arg("--seed", type=int, metavar="S", help="root seed (default: the scenario's, else fresh entropy)"),
    arg("--chunk-size", type=count, metavar="K", help="replicates per chunk; trades memory for speed only"),
    arg("--precision", type=float, metavar="X",
        help="stop once every class's 95 %% interval half-width is below X, in (0, 0.5)"),
    arg("--workers", type=int, metavar="N",
        help="processes to run the replicates on, this one included, at most one a chunk; the results do not "
             "depend on it (default: the cores this process may use, capped so that each has 32 blocks of 1,024 "
             "replicates)"),
)
CALIBRATION_OPTION = arg(
    "--calibration", type=Path, metavar="POSTERIOR",
    help="a posterior.json from `sim calibrate`: forecast posterior predictive, the knobs drawn from the posterior "
         "(refitted without this scenario if it was one of the fitted cases)")


def calibration_setting(args: argparse.Namespace, scenario, source, posterior=None) -> tuple[Any, dict | None]:
    """(knob setting, note) for `--calibration`, or (None, None) without it; an `InputError`
    naming `source`, the scenario's file, if a knob names nothing in it. `posterior`: the one
    `load_calibration` read already (a command with two scenarios reads the file once)."""
    if getattr(args, "calibration", None) is None:
        return None, None
    from ..calibrate import name_what_is_missing

    posterior = posterior or load_calibration(args)
    try:
        posterior.check_applies(scenario, str(source), args.calibration)
    except InputError as exc:  # say which part of a knob's path the scenario lacks
        raise InputError(name_what_is_missing(exc.problems, scenario)) from None
    note_unread_knobs(posterior, [(scenario, source)], args.calibration)
    _note_knob_overrides(args, posterior, scenario)
    setting, note = posterior.setting(scenario)
    return setting, {**note, "file": str(args.calibration), "model_digest": posterior.meta.get("model_digest")}


def load_calibration(args: argparse.Namespace):
    """The posterior of `--calibration` (None without it), with a one-line warning on stderr
    when it was edited since `sim calibrate` wrote it, and one when it was fitted by other model code."""
    if getattr(args, "calibration", None) is None:
        return None
    from ..posterior import load_posterior

    posterior = load_posterior(args.calibration)
    if posterior.edited:  # its knob values, and the model digest read below, may be anyone's
        say(f"warning: {args.calibration}: was edited since `sim calibrate` wrote it (its digest does not match "
            "its content): its knob values are not those a calibration found")
    if (why := posterior.staleness(args.calibration)) is not None:
        say(f"warning: {why}")
    return posterior


def note_unread_knobs(posterior, scenarios: list, path, cases: int | None = None) -> None:
    """A knob of the posterior (read from `path`) that sets or shifts a field the engine of a
    scenario never reads (`loading.unread_in_scenario`: `dynamics.rate` under eum) changes nothing in
    that scenario's forecast, which the forecast does not say: a note on stderr for each knob and
    field, naming the scenarios (`scenarios`: (scenario, name) pairs; `cases`: how many a backtest
    has, whose cases are counted), once a command (`say`)."""
    from ..knobs import resolve_knob
    from ..loading import unread_in_scenario
    from ..model import compile_model

    found: dict[tuple[str, str, str], list[str]] = {}
    for scenario, name in scenarios:
        model = compile_model(scenario)
        for knob in posterior.knobs:
            fields = sorted({model.params[p].source for p in resolve_knob(knob, scenario, model)})
            unread = {f: why for f in fields if (why := unread_in_scenario(f, scenario, "the scenario's")) is not None}
            for field, why in unread.items():
                what = "this knob changes" if len(unread) == len(fields) else "what this knob does to it changes"
                found.setdefault((f"knob {knob.name}: {field} {why}", what), []).append(str(name))
    for (said_of, what), names in found.items():
        where = names[0] if cases is None else (f"{len(names)} of {cases} cases (" + ", ".join(names[:5])
                                                + (f" and {len(names) - 5} more" if len(names) > 5 else "") + ")")
        say(f"note: {path}: {said_of}, so {what} nothing in {where}")


def _note_knob_overrides(args: argparse.Namespace, posterior, scenario) -> None:
    """A knob the posterior sets replaces, replicate by replicate, any value the scenario gives
    it: a --set of one changes the model as written only, which the calibrated forecast does not
    say. Knob paths are resolved in `scenario` (`*`, `{summit.parties[0]}`); each note once."""
    given = [(option, text.partition("=")[0].strip())
             for dest, option in (("overrides", "--set"), ("overrides_a", "--set-a"), ("overrides_b", "--set-b"))
             for text in getattr(args, dest, None) or []]
    if not given:
        return
    from ..knobs import resolve_knob
    from ..model import compile_model

    model = compile_model(scenario)
    drawn = {model.params[path].source for knob in posterior.knobs if knob.kind == "set"
             for path in resolve_knob(knob, scenario, model)}
    for option, path in given:
        if path in drawn:
            say(f"note: {option} {path}: is a knob of {args.calibration}, which draws it from the posterior: the "
                "value given changes only the model as written, not the calibrated forecast")


def show_warnings(scenario, source, overrides: dict[str, Any] | None = None) -> None:
    """Print a scenario's warnings (fields whose meaning changed) and notes (what a first-time
    writer may not mean: `loading.scenario_notes`) on stderr, one line each (once a command:
    `say`), every command that reads it as `validate` does; each names the file that wrote its
    field (a base, an include, or the file with `(--set)` for `overrides`), as an error would."""
    from ..loading import named_by_writer, scenario_notes, scenario_warnings

    warnings, notes = scenario_warnings(scenario, str(source)), scenario_notes(scenario, str(source))
    if warnings or notes:
        warnings, notes = (named_by_writer(found, source, overrides, "--set") for found in (warnings, notes))
    for p in warnings:
        say(f"warning: {p}")
    for p in notes:
        say(f"note: {p}")


def _size(text: str) -> int:
    from ..limits import parse_size

    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def output_path(text: str) -> Path:
    """An output path option's value: not empty (which `Path` would read as `.`, the current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("is empty; name a path")
    path = Path(text)
    # `.` or `x/..` has no name of its own: the lock beside it (`.NAME.sim-lock`) landed inside
    # it, and the directory then held a file sim did not list, so `--out .` was always refused.
    return Path(os.path.abspath(path)) if path.name in ("", "..") else path


def output_options(default: str) -> tuple:
    """--out (its help naming the command's real `default`), --force, --json, --quiet, --progress."""
    return (
        arg("--out", type=output_path, metavar="DIR",
            help=f"result directory (default: {default}); sim writes only into a new or empty directory or "
                 "one this command made before, never into one holding anything else"),
        arg("--force", action="store_true",
            help="replace DIR even if another sim command made it (never a directory sim did not make)"),
        arg("--json", action="store_true", help="print the summary as JSON on stdout, nothing else"),
        arg("--quiet", action="store_true", help="print nothing on stdout and no progress (unless --progress); the "
                                                 "result is still written, and notes, warnings and errors still go "
                                                 "to stderr"),
        arg("--progress", action="store_true",
            help="always show progress on stderr (a bar on a terminal, else a line every 10%% or 5 s)"),
    )


OUTPUT_OPTIONS = output_options("results/<scenario>/<run-id>")
LIMIT_OPTIONS = (
    arg("--max-memory", type=_size, metavar="SIZE",
        help="refuse work whose estimated memory exceeds SIZE, e.g. 2GiB (default: the memory available now)"),
    arg("--max-disk", type=_size, metavar="SIZE",
        help="refuse work whose results would exceed SIZE on disk, e.g. 500MB (default: the free space there)"),
)


def parse_overrides(texts: list[str], option: str = "--set") -> dict[str, Any]:
    """`PATH=VALUE` strings as {path: value}, each value read as YAML; a path given twice is
    an error (which value was meant cannot be known)."""
    overrides, problems, first = {}, [], {}
    for text in texts:
        path, sep, value = text.partition("=")
        path = path.strip()
        if not sep or not path:
            problems.append(Problem(option, "", "must be PATH=VALUE", text, True))
            continue
        if path in first:
            problems.append(Problem(option, path, f"is given twice ({first[path]!r} and {text!r}); give it once"))
            continue
        first[path] = text
        try:
            overrides[path] = load_yaml(value, option)
        except InputError as exc:
            problems += [Problem(option, path, f"VALUE is not valid YAML ({p.message})", value, True)
                         for p in exc.problems]
    if problems:
        raise InputError(problems)
    return overrides


def runs_rules(runs: int | None) -> tuple:
    """The two rules on --runs, each with its own message: at least one, at most `MAX_RUNS`."""
    return (("--runs", runs, lambda v: v >= 1, "must be >= 1"),
            ("--runs", runs, lambda v: v < 1 or v <= MAX_RUNS, f"must be at most {MAX_RUNS:,}"))


def check_monte_carlo_options(args: argparse.Namespace) -> None:
    """Every bad option value at once, as an `InputError`."""
    rules = (
        *runs_rules(args.runs),
        ("--seed", args.seed, lambda v: v >= 0, "must be >= 0"),
        ("--chunk-size", args.chunk_size, lambda v: v >= 1, "must be >= 1"),
        ("--precision", getattr(args, "precision", None), lambda v: 0 < v < 0.5, "must be in (0, 0.5)"),
        *workers_rules(args),
    )
    problems = option_problems(rules)
    if problems:
        raise InputError(problems)


def option_problems(rules) -> list[Problem]:
    """The rules `(option, value, ok, rule)` that a given value (not None) breaks, each a
    problem naming the option, the rule and the value."""
    return [Problem(name, "", rule, value, True) for name, value, ok, rule in rules
            if value is not None and not ok(value)]


def workers_rules(args: argparse.Namespace) -> tuple:
    """The rules on --workers: at least one, and none beside --scheduler (the cluster has its own)."""
    workers = getattr(args, "workers", None)
    return (("--workers", workers, lambda v: v >= 1, "must be >= 1"),
            ("--scheduler", getattr(args, "scheduler", None), lambda v: workers in (None, 1),
             "runs on the cluster's workers: drop --workers"))


def chunk_workers(args: argparse.Namespace, runs: int, blocks_per_chunk: int, passes: int = 1,
                  more_runs: int = 0) -> int:
    """The processes that will run `passes` runs of `runs` replicates side by side in chunks
    of `blocks_per_chunk` blocks (and `more_runs`, the Shapley values'): --workers or the
    default, at most one a chunk (`montecarlo.check_workers`), with a note when --workers
    asked for more."""
    from ..montecarlo import check_workers, count_chunks
    from ..randomness import blocks_for

    chunks = max(count_chunks(runs, blocks_per_chunk), count_chunks(more_runs, blocks_per_chunk))
    return _notice_workers(args, check_workers(args.workers, passes * blocks_for(runs), chunks), chunks, "chunk")


def task_workers(args: argparse.Namespace, points: int, n_blocks: int, note: bool = True) -> int:
    """The local processes that will run `points` points of `n_blocks` blocks each (a sweep's,
    a calibration's): --workers or the default, at most one a task (`sweep.execute.local_workers`),
    with a note when --workers asked for more. `note` False leaves the note to a second call,
    once the work is known to run (a sweep's points are validated after its memory is checked)."""
    from ..sweep.execute import count_tasks, local_workers

    workers = local_workers(args.workers, points, n_blocks)
    if not note:
        return workers
    return _notice_workers(args, workers, count_tasks(points, n_blocks, args.workers or 1), "task")


def _notice_workers(args: argparse.Namespace, workers: int, pieces: int, piece: str) -> int:
    """`workers`, the processes that will run the work; one line on stderr when --workers
    asked for more than its `pieces` (each a `piece`: chunk, task) give work to."""
    asked = getattr(args, "workers", None)
    if asked is not None and workers < asked:
        say(f"note: --workers {asked}: the work is {pieces:,} {piece}{'s' if pieces != 1 else ''}, so "
            f"{workers} process{'es' if workers != 1 else ''} run{'s' if workers == 1 else ''} it")
    return workers


@contextlib.contextmanager
def stop_on_interrupt() -> Iterator[threading.Event]:
    """An event that the first Ctrl-C (or SIGTERM) sets, for the library's `stop=`: the work
    ends after the piece in hand and what finished is kept and written. Later signals are
    ignored until the block ends, so that a second one (some tools send one to the whole
    process group right after the first) cannot cut the writing short. The only place
    where sim handles Ctrl-C as anything but an exception."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def interrupt(signum, frame):
        if not stop.is_set():
            print("stopping: keeping what finished", file=sys.stderr, flush=True)
        stop.set()
        STOP_HEARD.set()

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)
                if signal.getsignal(sig) is not signal.SIG_IGN}  # ignored from the start (a background job): stays so
    # A Ctrl-C that landed where Python could not raise it, or whose KeyboardInterrupt some code
    # swallowed without a word (errors.py): one handled before now would have ended the command.
    if SWALLOWED_INTERRUPT.is_set() or interrupt_recorded():
        interrupt(signal.SIGINT, None)
    try:
        yield stop
    finally:
        interrupt_recorded()  # those the handler above heard: not a later block's
        for sig, handler in previous.items():
            signal.signal(sig, handler)


PAIRED_OPTIONS = tuple(a for a in MONTE_CARLO_OPTIONS if "--precision" not in a[0])
"""--runs, --seed, --chunk-size: paired runs stop only at --runs."""


def load_one(path: Path, overrides: dict[str, Any]):
    """The scenario at `path` with `--set` `overrides`, its warnings shown. A problem at a field
    `--set` gave, or at a rule over it (saliences summing to 1), names the option beside the
    file, which does not hold that value."""
    from ..loading import load_scenario

    try:
        scenario = load_scenario(path, overrides=overrides or None, option="--set")
    except InputError as exc:
        raise blame_overrides(exc, overrides) from None
    show_warnings(scenario, path, overrides)
    return scenario


def blame_overrides(exc: InputError, overrides: dict[str, Any]) -> InputError:
    """`exc` with each problem at a field `--set` gave (or at a rule over it) naming the option
    beside the file, which does not hold that value."""
    return InputError([Problem(f"{p.source} (--set)", p.path, p.message, p.value, p.has_value)
                       if p.source != "--set" and not p.source.endswith(" (--set)") and _overridden(p.path, overrides)
                       else p for p in exc.problems])


def _overridden(path: str, overrides: dict[str, Any]) -> bool:
    # the field itself, a field inside the problem's (a rule over it), or the problem's inside it
    # (`--set 'agents.x.resolve={dist: beta, ...}'` and its sd out of range)
    return bool(path) and any(k == path or k.startswith(path + ".") or path.startswith(k + ".") for k in overrides)


def load_all(*loads: tuple[Path, dict[str, Any]]) -> list:
    """Load every (file, overrides) pair; report the problems of all of them at once, and each
    warning or note once (`say`)."""
    from ..loading import load_scenario

    scenarios = map_all(lambda load: load_scenario(load[0], overrides=load[1] or None, option="--set"), loads)
    for (path, overrides), scenario in zip(loads, scenarios):
        show_warnings(scenario, path, overrides)
    return scenarios


def claim_output(args: argparse.Namespace, command: str, default: Path):
    """Claim the command's result directory (`--out`, else `default`) before its work
    begins: refused at once if it holds anything but an earlier result of `command`, or if
    another sim command is writing it. Held until the command returns (`args.resources`,
    the `ExitStack` that `cli.main` opens). Returns the `ownership.ResultDir`."""
    from ..ownership import ResultDir

    out = args.out if args.out is not None else default
    target = ResultDir(out, command, force=getattr(args, "force", False))
    resources = getattr(args, "resources", None)
    if resources is None:
        raise RuntimeError("claim_output needs args.resources, the ExitStack cli.main opens")
    # Its release registered before the claim, not after as `enter_context` does: a Ctrl-C that Python
    # raises between the two (as `enter_context` calls its own helper) left the partial directory,
    # the lock and the folders made for them. Leaving a ResultDir never entered does nothing.
    resources.push(target)
    target.__enter__()
    return target


def check_limits(args: argparse.Namespace, work, what: str, out: Path | None = None,
                 names: dict[str, str] | None = None) -> int | None:
    """Refuse `work` (a `limits.Estimate`) beyond --max-memory / --max-disk or, without them,
    the memory available and the free disk at `out`. Returns the memory limit it was held to,
    for the library call's `max_memory=`: the library's own check of the same work then passes
    (its estimate is at most this one), so the refusal a user sees names the options, and
    --max-memory above the memory available lets the work run. `names` replaces options the
    command does not have (`limits.Wording.renamed`: sweep, calibrate and backtest take their
    chunk size from the scenario, not from --chunk-size)."""
    from ..limits import CLI_WORDING, check_resources

    return check_resources(work, what=what, max_memory=getattr(args, "max_memory", None),
                           max_disk=getattr(args, "max_disk", None), disk_path=out,
                           wording=CLI_WORDING.renamed(names))


def write_and_show(args: argparse.Namespace, out, summary: dict, plots: dict,
                   show: Callable[[dict, Path], None], files: dict[str, str] | None = None,
                   command: str = "result", in_place: bool = False) -> int:
    """The tail of the commands whose result is a summary with pictures: write the
    directory atomically (`out`, a path or the `ResultDir` of `claim_output`), or with
    `in_place` each file atomically into the directory a resumable command claimed and
    keeps its work in; then print the summary as JSON (`--json`, with the directory as
    `result_dir`) or as tables. The summary gets the command's `notes` (`said`)."""
    from ..ownership import ResultDir
    from ..results import write_result_dir, write_result_files

    summary = {**summary, "notes": said()}
    if in_place:
        write_result_files(out, summary, plots, files)
    else:
        write_result_dir(out, summary, plots, files, command=command, force=getattr(args, "force", False))
    path = out.out if isinstance(out, ResultDir) else Path(out)
    if args.json:
        print(json.dumps({**summary, "result_dir": str(path)}, indent=2, allow_nan=False))
    elif not args.quiet:
        show(summary, path)
    return EXIT_OK

