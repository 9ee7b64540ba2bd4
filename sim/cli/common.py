"""What the subcommands share: registration, options, progress, loading and the output tail.

Each subcommand is one function registered with `@command`, its arguments
declared beside it; `sim.cli.main` builds the parser from the registry.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..errors import InputError, Problem
from ..yamlfile import load_yaml

__all__ = ["EXIT_INPUT_ERROR", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_RUN_ERROR", "MONTE_CARLO_OPTIONS",
           "OUTPUT_OPTIONS", "PAIRED_OPTIONS", "SCENARIO_OPTIONS", "arg", "check_monte_carlo_options", "command",
           "commands", "fmt", "load_all", "parse_overrides", "progress_bar", "write_and_show"]

EXIT_OK, EXIT_RUN_ERROR, EXIT_INPUT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130
PROGRESS_AT = 50_000
"""Runs from which a progress bar is shown on a terminal without `--progress`."""


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


# --- Shared options ----------------------------------------------------------------------

SCENARIO_OPTIONS = (
    arg("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE",
        help="override a scenario field before validation, e.g. --set agents.russia.resolve=0.7 "
             "(VALUE is read as YAML; repeatable)"),
)
MONTE_CARLO_OPTIONS = (
    arg("--runs", type=int, metavar="N", help="replicates to run (default: the scenario's monte_carlo.runs)"),
    arg("--seed", type=int, metavar="S", help="root seed (default: the scenario's, else fresh entropy)"),
    arg("--chunk-size", type=int, metavar="K", help="replicates per chunk; trades memory for speed only"),
    arg("--precision", type=float, metavar="X",
        help="stop once every class's 95 %% interval half-width is below X, in (0, 0.5)"),
)
OUTPUT_OPTIONS = (
    arg("--out", type=Path, metavar="DIR", help="result directory (default: results/<scenario>/<run-id>)"),
    arg("--json", action="store_true", help="print the summary as JSON on stdout, nothing else"),
    arg("--quiet", action="store_true", help="print nothing on stdout"),
    arg("--progress", action="store_true", help="always show a progress bar on stderr"),
)


def parse_overrides(texts: list[str]) -> dict[str, Any]:
    """`PATH=VALUE` strings as {path: value}, each value read as YAML."""
    overrides, problems = {}, []
    for text in texts:
        path, sep, value = text.partition("=")
        if not sep or not path.strip():
            problems.append(Problem("--set", "", "must be PATH=VALUE", text, True))
            continue
        try:
            overrides[path.strip()] = load_yaml(value, "--set")
        except InputError as exc:
            problems += [Problem("--set", path.strip(), f"VALUE is not valid YAML ({p.message})", value, True)
                         for p in exc.problems]
    if problems:
        raise InputError(problems)
    return overrides


def check_monte_carlo_options(args: argparse.Namespace) -> None:
    """Every bad option value at once, as an `InputError`."""
    rules = (
        ("--runs", args.runs, lambda v: v >= 1, "must be >= 1"),
        ("--seed", args.seed, lambda v: v >= 0, "must be >= 0"),
        ("--chunk-size", args.chunk_size, lambda v: v >= 1, "must be >= 1"),
        ("--precision", args.precision, lambda v: 0 < v < 0.5, "must be in (0, 0.5)"),
    )
    problems = [Problem(name, "", rule, value, True)
                for name, value, ok, rule in rules if value is not None and not ok(value)]
    if problems:
        raise InputError(problems)


@contextlib.contextmanager
def progress_bar(args: argparse.Namespace, total: int) -> Iterator[Callable[[int, int], None] | None]:
    """A `progress(done, total)` callback drawing a bar on stderr, or None when not wanted."""
    wanted = args.progress or (not args.quiet and total >= PROGRESS_AT and sys.stderr.isatty())
    if not wanted:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("replicates"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("run", total=total)
        yield lambda done, _total: bar.update(task, completed=done)


PAIRED_OPTIONS = tuple(a for a in MONTE_CARLO_OPTIONS if "--precision" not in a[0])
"""--runs, --seed, --chunk-size: paired runs stop only at --runs."""


def load_all(*loads: tuple[Path, dict[str, Any]]) -> list:
    """Load every (file, overrides) pair; report the problems of all of them at once."""
    from ..loading import load_scenario

    scenarios, problems = [], []
    for path, overrides in loads:
        try:
            scenarios.append(load_scenario(path, overrides=overrides or None))
        except InputError as exc:
            problems += exc.problems
    if problems:
        raise InputError(problems)
    return scenarios


def write_and_show(args: argparse.Namespace, out: Path, summary: dict, plots: dict,
                    show: Callable[[dict, Path], None], files: dict[str, str] | None = None) -> int:
    """The tail of the commands whose result is a summary with pictures: write the
    directory atomically, then print the summary as JSON (`--json`) or as tables."""
    from ..results import write_result_dir

    write_result_dir(out, summary, plots, files)
    if args.json:
        print(json.dumps(summary, indent=2, allow_nan=False))
    elif not args.quiet:
        show(summary, out)
    return EXIT_OK


def fmt(p: float | None) -> str:
    return "n/a" if p is None else f"{p:.3f}"
