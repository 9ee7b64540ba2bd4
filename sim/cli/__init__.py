"""The command line: `python -m sim run|validate|eum|compare|explain|sweep|backtest|calibrate ...`.

Only sim's own errors are caught: an `InputError` prints one `error:` line per
problem and exits 2, a `RunError` exits 1, Ctrl-C (and SIGTERM, which the
command line turns into the same interrupt) exits 130; anything else keeps its
traceback, because it is a bug. What a command claims (its result directory
and the lock on it) is held in `args.resources` until it returns. The subcommands live in the modules
of this package, one concern each, and register themselves with `@command`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
import warnings
from collections.abc import Iterator

from ..errors import (
    STOP_HEARD,
    SWALLOWED_INTERRUPT,
    InputError,
    Problem,
    RunError,
    caused_by_interrupt,
    interrupt_recorded,
    note_unraisable_interrupt,
    signals_owned,
)
from . import backtest, eum, paired, report, run, sweep  # noqa: F401 - importing registers the subcommands
from .common import EXIT_INPUT_ERROR, EXIT_INTERRUPTED, EXIT_OK, EXIT_RUN_ERROR, commands, keeping_said, say

__all__ = ["main", "make_parser", "quiet_stdout"]


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors in the project's `error: ...` format (exit 2)."""

    argv: tuple[str, ...] = ()  # the command line, set by `main` on the top parser: for the hint below

    def error(self, message: str):
        prog, hint = self.prog, _space_for_equals(self.argv, message)
        if message.startswith("unrecognized arguments:") and (name := _command_of(self.argv)) is not None:
            # argparse says it on the top parser ("sim"), which knows none of the command's options
            prog, hint = f"{self.prog} {name}", hint or _closest_option(self.argv, name)
        elif message.startswith("argument COMMAND: invalid choice:"):
            hint = _closest_command(self.argv)
        self.exit(EXIT_INPUT_ERROR, f"error: {prog}: {message}{hint}\n")


_PAIR_OPTIONS = ("--set", "--set-a", "--set-b", "--vary")
"""Options whose value is PATH=VALUE: `--set agents.x.resolve 0.8` leaves 0.8 over, unrecognised."""


def _space_for_equals(argv: tuple[str, ...], message: str) -> str:
    """"; write --set PATH=VALUE, ..." when an unrecognised argument follows such an option's
    value written without its `=`."""
    if not message.startswith("unrecognized arguments:"):
        return ""
    for k, arg in enumerate(argv[:-2]):
        if arg in _PAIR_OPTIONS and "=" not in argv[k + 1] and not argv[k + 2].startswith("-"):
            return (f"; write {arg} PATH={'LO:HI:N' if arg == '--vary' else 'VALUE'}, with = and no space "
                    f"(e.g. {arg} {argv[k + 1]}={argv[k + 2]})")
    return ""


def _command_of(argv: tuple[str, ...]) -> str | None:
    """The subcommand `argv` names: its first word that is one."""
    return next((arg for arg in argv if arg in commands()), None)


def _closest_option(argv: tuple[str, ...], name: str) -> str:
    """"; did you mean --shapley?" for the first option of `argv` that command `name` does not
    have and that is one slip from one it has (`--shapely`, `--set_b`), as a misspelt key of a
    scenario gets its field; "" when none is."""
    import difflib

    options = [o for names, _ in commands()[name][1] for o in names if o.startswith("--")] + ["--help"]
    for arg in argv[argv.index(name) + 1:]:
        given = arg.partition("=")[0]
        if not given.startswith("--") or any(o.startswith(given) for o in options):  # argparse takes a prefix
            continue
        close = difflib.get_close_matches(given.replace("_", "-"), options, n=1, cutoff=0.75)
        if close:
            return f"; did you mean {close[0]}?"
    return ""


SENSITIVITY_WORDS = ("sensitivity", "sobol", "morris", "salib")
"""Commands a user of SALib may type for what `sweep --design sobol|morris` does."""


def _closest_command(argv: tuple[str, ...]) -> str:
    """"; did you mean explain?" for a first word one slip from a command, where sensitivity
    indices are for a word that asks for them, "" otherwise."""
    import difflib

    word = next((arg for arg in argv if not arg.startswith("-")), "")
    if word.lower() in SENSITIVITY_WORDS:
        return ("; sensitivity indices come from sweep: sim sweep SCENARIO --vary PATH=LO:HI ... --design sobol "
                "(or morris) --points N")
    close = difflib.get_close_matches(word, list(commands()), n=1, cutoff=0.75)
    return f"; did you mean {close[0]}?" if close else ""


def make_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = _Parser(prog="sim", description="Forecast diplomatic outcomes with agent-based Monte Carlo.")
    parser.add_argument("--version", action="version", version=f"sim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    for name, (help, args, func) in commands().items():
        p = sub.add_parser(name, help=help, description=help)
        for names, options in args:
            p.add_argument(*names, **options)
        p.set_defaults(func=func)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = make_parser()
    parser.argv = tuple(sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed
        return exc.code if isinstance(exc.code, int) else EXIT_OK if exc.code is None else EXIT_INPUT_ERROR
    SWALLOWED_INTERRUPT.clear()
    STOP_HEARD.clear()
    hook, sys.unraisablehook = sys.unraisablehook, note_unraisable_interrupt
    try:
        with signals_owned(), _terminate_as_interrupt(), contextlib.ExitStack() as resources, \
                warnings.catch_warnings():
            warnings.showwarning = _show_warning
            args.resources = resources
            return _call(args)
    except KeyboardInterrupt:  # also a second one while the first's half-written files are removed
        print("interrupted: nothing written", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # a Ctrl-C that Python wrapped into another exception (errors.caused_by_interrupt)
        if not (caused_by_interrupt(exc) or SWALLOWED_INTERRUPT.is_set()):
            raise
        print("interrupted: nothing written", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        sys.unraisablehook = hook


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (a `kill`, a scheduler's time limit) stops a command as Ctrl-C does: it
    keeps what finished and removes what is half written."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning as one `warning:` line on stderr, like sim's errors."""
    if file is None:
        say(f"warning: {message}")
    else:
        print(f"warning: {message}", file=file)


def _call(args: argparse.Namespace) -> int:
    from ..loading import scenario_roots

    try:
        roots = getattr(args, "scenario_root", None) or ()
        missing = [Problem("--scenario-root", "", "is not a folder", str(root), True) for root in roots
                   if not root.is_dir()]
        if missing:  # else a typo in it leaves `extends:` refused with a message that names the folder it allows
            raise InputError(missing)
        with scenario_roots(*roots), keeping_said():
            status = args.func(args)
        sys.stdout.flush()  # a reader that left is seen here, not as a message at exit
        if status == EXIT_OK and (SWALLOWED_INTERRUPT.is_set() or interrupt_recorded() or STOP_HEARD.is_set()):
            # A Ctrl-C or SIGTERM that came after the last chunk or point (a stop block heard it
            # while the result was written), or whose KeyboardInterrupt some code swallowed without
            # a word where no stop block listened (validate): the work went on to the end, and is
            # whole, but the user asked to stop, and a script must see that.
            print("interrupted: too late to stop the command, which had done its work: what it printed and wrote "
                  "is whole", file=sys.stderr)
            return EXIT_INTERRUPTED
        return status
    except (InputError, RunError) as exc:
        if SWALLOWED_INTERRUPT.is_set():  # the failure of code a Ctrl-C cut short without a word (errors.py)
            raise KeyboardInterrupt from exc
        if isinstance(exc, RunError):
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_RUN_ERROR
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    except BrokenPipeError:  # `sim ... | head`: the reader left; say nothing more
        quiet_stdout()
        return EXIT_RUN_ERROR


def quiet_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null, so that Python's flush at exit does not
    fail again and print `Exception ignored ... BrokenPipeError` (the CPython documentation's
    recipe, `signal` module, "Note on SIGPIPE"); the status is then 1, as it recommends."""
    with contextlib.suppress(AttributeError, OSError, ValueError):  # not a real file (a test's capture)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


if __name__ == "__main__":
    raise SystemExit(main())
