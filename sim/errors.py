"""The project's own error types.

Input problems are collected, not raised one at a time, so a user sees every
problem of a file at once; the CLI prints one line per problem and exits 2.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = ["InputError", "Problem", "RunError", "SimError", "caused_by_interrupt", "hold_interrupts",
           "interrupt_recorded", "map_all", "signals_owned"]

T = TypeVar("T")
R = TypeVar("R")


class SimError(Exception):
    """Base class of every error `sim` raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one input: where, what, and the value given."""

    source: str  # the file (or "<string>", "--set", a CLI option)
    path: str  # dotted path of the field, "" for the whole file
    message: str  # what is wrong, as a rule: "must sum to 1"
    value: Any = None  # the value given, if there was one
    has_value: bool = False

    def __str__(self) -> str:
        where = f"{self.source}: {self.path}: " if self.path else f"{self.source}: "
        # a rule's message may already show the part of the value that breaks it
        got = f" (got {_show(self.value)})" if self.has_value and "(got " not in self.message else ""
        return f"{where}{self.message}{got}"


def _show(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else _text(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _text(value: Any) -> str:
    """`str(value)`, but a date inside a mapping or a list as the user wrote it (2018-06-12),
    not as Python's `datetime.date(2018, 6, 12)`."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_text(v) if isinstance(v, (dict, list, tuple, dt.date)) else repr(v)}"
                               for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        inner = ", ".join(_text(v) if isinstance(v, (dict, list, tuple, dt.date)) else repr(v) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner}{',' if len(value) == 1 else ''})"
    return str(value)


class InputError(SimError):
    """Bad input: a scenario, a CSV, an option. Carries every problem found."""

    def __init__(self, problems: list[Problem] | Problem):
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class RunError(SimError):
    """A run failed for a reason that is not the input's fault (disk, interruption)."""


def map_all(func: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """`[func(x) for x in items]`, every item tried: the `InputError`s of all of them are
    raised together, so that a user sees every bad file or option at once; a problem two items
    share (a base that both files extend) is said once."""
    results, problems, said = [], [], set()
    for item in items:
        try:
            results.append(func(item))
        except InputError as exc:
            problems += [p for p in exc.problems if str(p) not in said]
            said.update(str(p) for p in exc.problems)
    if problems:
        raise InputError(problems)
    return results


SWALLOWED_INTERRUPT = threading.Event()
"""Set by `note_unraisable_interrupt` when a Ctrl-C landed where Python could not raise it."""

STOP_HEARD = threading.Event()
"""Set by the command line's `stop_on_interrupt` when it hears a Ctrl-C or SIGTERM: a command that
then finishes its work anyway (the signal came after its last chunk or point) still exits 130."""


def note_unraisable_interrupt(unraisable) -> None:
    """A `sys.unraisablehook`: a Ctrl-C (or SIGTERM, raised as one) that lands where Python
    cannot raise it (a weakref callback such as importlib's module-lock cleanup while sim's
    modules load, a `__del__`) is not printed as "Exception ignored in ..." and lost, with
    the command going on to the end: it sets `SWALLOWED_INTERRUPT`, which the command line's
    `stop_on_interrupt` reads as a Ctrl-C. pydantic-core hands one that lands while it reads a
    pattern's text here too, and builds a validator that refuses every value: a command that
    fails after one (an InputError, a RunError, a bug) was interrupted, not refused. Anything
    else goes to Python's own hook."""
    if isinstance(unraisable.exc_value, KeyboardInterrupt):
        SWALLOWED_INTERRUPT.set()
    else:
        sys.__unraisablehook__(unraisable)


def interrupt_recorded() -> bool:
    """Whether a SIGINT or SIGTERM reached Python's C-level signal handler since the last call,
    as recorded under `python -m sim` (`sim._SIGNAL_RECORD`; always False without it, as in a
    library or a test calling the command line). A Ctrl-C whose KeyboardInterrupt some code
    swallowed without a word (a bare `except`, a C API that clears errors, neither of which
    reaches `note_unraisable_interrupt`) is recorded there too: `stop_on_interrupt` reads it
    as a Ctrl-C, so that the command stops instead of running to the end and exiting 0."""
    import os
    import signal

    from . import _SIGNAL_RECORD

    if _SIGNAL_RECORD is None:
        return False
    seen = b""
    while True:
        try:
            chunk = os.read(_SIGNAL_RECORD, 4096)
        except (BlockingIOError, InterruptedError):
            break
        except OSError:  # closed by someone else: nothing to read
            return False
        if not chunk:
            break
        seen += chunk
    return any(number in (signal.SIGINT, signal.SIGTERM) for number in seen)


_signals_owned = False  # set by the command line, which owns the process (`signals_owned`)


@contextlib.contextmanager
def signals_owned() -> Iterator[None]:
    """Let `hold_interrupts` swap the process's signal handlers while the block runs. The command
    line enters this around a command: it owns the process. A library call (a notebook's
    `run_sweep`, a host application's) never does, so sim leaves its host's handlers alone
    there (STYLE: a library does not change its host), and an interrupt may then strand a
    lock file or a partial directory, which the next writer in that folder removes."""
    global _signals_owned
    before, _signals_owned = _signals_owned, True
    try:
        yield
    finally:
        _signals_owned = before


@contextlib.contextmanager
def hold_interrupts() -> Iterator[None]:
    """Hold back Ctrl-C and SIGTERM until the block ends, then hand each one that came to the
    handler that was in place (Python's raises KeyboardInterrupt, from the block's end).

    For the few steps that make or remove a file and must also record or finish that (take a
    lock and keep its fd; remove a partial directory after a first Ctrl-C): Python raises a
    signal as the next call returns, so one landing between a file's creation and the `try`
    that removes it, or inside the removal itself, left the file behind. A signal ignored, or
    handled outside Python, is left as it is; outside the main thread, where Python handles no
    signal, and outside the command line (`signals_owned`), this does nothing. Hold only steps
    that end in a moment: the user is waiting."""
    import signal

    if not _signals_owned or threading.current_thread() is not threading.main_thread():
        yield
        return
    heard: list[int] = []
    previous: dict[int, Callable] = {}
    over = False

    def hold(signum, frame):
        if over:  # the block ended while this was still installed: behave as the handler it replaced
            previous[signum](signum, frame)
        else:
            heard.append(signum)

    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            handler = signal.getsignal(sig)
            if callable(handler):  # not SIG_IGN, SIG_DFL, or None (a handler set outside Python)
                previous[sig] = signal.signal(sig, hold)
        yield
    finally:
        over = True
        try:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        finally:
            for sig in dict.fromkeys(heard):
                previous[sig](sig, None)


def caused_by_interrupt(exc: BaseException) -> bool:
    """True if a Ctrl-C or SIGTERM is in `exc`'s chain of causes: Python wraps one that lands in
    some places (a class body's `__set_name__`, as pydantic's models run while they are
    defined; pydantic-core's schema building, into a `SchemaError`'s text) into another
    exception, which is still an interruption, not a fault."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        # pydantic-core builds a model's validators in Rust while its class is defined, and a
        # Ctrl-C landing there comes back as a SchemaError naming it in its text, not chained
        if type(exc).__name__ == "SchemaError" and "KeyboardInterrupt" in str(exc):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False
