"""Progress on stderr, which the commands own (the library only calls `progress` back): a
rich bar on a terminal, plain lines for a log or a pipe, nothing where not wanted.

`progress_bar` counts replicates (`run`, `compare`, `explain`, `eum --runs`); `step_progress`
counts whole steps, some of them perhaps done by an earlier run (a sweep's or calibration's
points, a backtest's cases, eum's rounds), as `sim.progress.StepProgress`. Neither starts a
refresh thread: worker processes are forked only while this process has a single thread
(`sim.parallel`).

Both follow one rule (`wanted`): progress goes to stderr only, never to stdout; `--progress`
always shows it; otherwise it is shown only where a person watches (stderr a terminal, and the
work long enough to need it) and never with `--quiet`. `--json` is about stdout (the JSON and
nothing else there) and does not change progress: `sim run --json > out.json` on a terminal
shows its bar on stderr, and off a terminal nothing is shown, as with every other command.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from typing import Self

__all__ = ["PROGRESS_AT", "StepBar", "TextProgress", "TextSteps", "progress_bar", "step_progress", "wanted"]

PROGRESS_AT = 50_000
"""Runs from which a progress bar is shown on a terminal without `--progress`."""


def wanted(args: argparse.Namespace, long: bool = True) -> bool:
    """Whether to show progress (on stderr): with --progress always; else on a terminal, without
    --quiet, for `long` work. --json does not enter into it: it says what stdout holds."""
    if getattr(args, "progress", False):
        return True
    return long and not getattr(args, "quiet", False) and sys.stderr.isatty()


class TextProgress:
    """Progress as plain lines on stderr, for a log or a pipe: one line at each tenth of
    the work and at most one every `every` seconds otherwise."""

    def __init__(self, label: str, total: int, every: float = 5.0, stream=None, resumed: int = 0):
        self.label, self.total, self.every = label, max(1, total), every
        self.stream = sys.stderr if stream is None else stream
        self.started = self.last = time.monotonic()
        # done before this run: they count as done, not as speed, and the tenths they reached
        # print no line (the first step of a resumed run printed a time left from that one step)
        self.resumed = resumed
        self.tenth = 10 * resumed // self.total

    def __call__(self, done: int, _total: int | None = None) -> None:
        now = time.monotonic()
        tenth = 10 * done // self.total
        if tenth <= self.tenth and now - self.last < self.every:
            return
        self.tenth, self.last = max(tenth, self.tenth), now
        elapsed = now - self.started
        ran = done - self.resumed
        left = f", about {elapsed * (self.total - done) / ran:.0f} s left" if 0 < ran and done < self.total else ""
        print(f"{self.label}: {done:,} of {self.total:,} ({100 * done / self.total:.0f} %), {elapsed:.0f} s{left}",
              file=self.stream, flush=True)


class TextSteps:
    """Progress over whole steps (a sweep's points, a backtest's cases) as plain lines on
    stderr (`TextProgress`), for a log or a pipe: the `start(total, done)` and
    `advance(n)` of `StepBar`. `every` 0 prints a line for every step."""

    def __init__(self, label: str, every: float = 5.0):
        self.label, self.every = label, every
        self.lines: TextProgress | None = None
        self.done = 0

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        return None

    def start(self, total: int, done: int) -> None:
        self.lines, self.done = TextProgress(self.label, total, self.every, resumed=done), done

    def advance(self, steps: int) -> None:
        self.done += steps
        if self.lines is not None:
            self.lines(self.done)


class StepBar:
    """A rich progress bar over whole steps on stderr (`label` names them: a sweep's or a
    calibration's points, a backtest's cases), with the time left estimated from the steps
    finished in this run (resumed ones count as done, not as speed)."""

    def __init__(self, label: str):
        self.label = label
        self.bar = None
        self.task = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()

    def start(self, total: int, done: int) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.bar = Progress(TextColumn(self.label), BarColumn(), MofNCompleteColumn(),
                            TextColumn("time left"), TimeRemainingColumn(),
                            console=Console(stderr=True), transient=True, auto_refresh=False)
        self.bar.start()  # no refresh thread: workers can then be forked (`sim.parallel.forks_safely`)
        self.task = self.bar.add_task(self.label, total=total, completed=done)

    def advance(self, steps: int) -> None:
        self.bar.advance(self.task, steps)
        self.bar.refresh()


@contextlib.contextmanager
def step_progress(args: argparse.Namespace, label: str, every: float = 5.0) -> Iterator[StepBar | TextSteps | None]:
    """Progress over whole steps named `label` (`start(total, done)`, then `advance(n)`): a
    bar on a terminal, else `TextSteps` (a line every `every` seconds and at each tenth);
    None where not `wanted`: --progress always wants it, else a terminal without --quiet."""
    if not wanted(args):
        yield None
        return
    with StepBar(label) if sys.stderr.isatty() else TextSteps(label, every) as progress:
        yield progress


@contextlib.contextmanager
def progress_bar(args: argparse.Namespace, total: int,
                 large: bool = False) -> Iterator[Callable[[int, int], None] | None]:
    """A `progress(done, total)` callback showing progress on stderr (a bar on a terminal,
    plain lines otherwise), or None when not `wanted`: with `--progress`, else on a terminal
    without `--quiet` for `PROGRESS_AT` replicates or more, or for any number when the caller
    knows each to be `large`."""
    if not wanted(args, long=total >= PROGRESS_AT or (large and total > 0)):
        yield None
        return
    if not sys.stderr.isatty():
        yield TextProgress("replicates", total)
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    # Refreshed by the updates, not by a thread of its own: worker processes are forked
    # only while this process has a single thread (`sim.parallel`).
    with Progress(TextColumn("replicates"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=Console(stderr=True), transient=True, auto_refresh=False) as bar:
        task = bar.add_task("run", total=total)
        shown = [0.0]

        def update(done: int, _total: int) -> None:
            bar.update(task, completed=done)
            if time.monotonic() - shown[0] > 0.1 or done >= total:
                bar.refresh()
                shown[0] = time.monotonic()

        yield update
