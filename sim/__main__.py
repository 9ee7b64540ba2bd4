"""`python -m sim`: the command line. Ctrl-C or SIGTERM at any moment, even while the
modules load, exits 130 without a traceback; a reader that leaves the pipe (`| head`)
ends it quietly with status 1, as the CPython documentation recommends. Under an
address-space limit (`ulimit -v`) too small to load sim, or one that a library, array or thread
did not fit in after all, it says so in one line naming the limit and exits 2, as the command's
own check does (`sim.address_space`)."""

import _signal as signal  # `signal` itself takes milliseconds to build its enums: a window before the handlers
import os
import sys

from .address_space import address_space_limit, cap_malloc_arenas, describe_failure, start_refusal

# pyarrow's default allocator, mimalloc, reserves 1 GiB of address space where it can: under an
# address-space limit (`ulimit -v`, as batch schedulers set) of about 2 GB that left OpenBLAS no
# room and it ended the process. A command writes a few large buffers, for which the system's
# allocator is as fast. Set before pyarrow loads (it reads this once); a user's own choice stands.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _ignore_interrupt(unraisable) -> None:
    if not isinstance(unraisable.exc_value, KeyboardInterrupt):
        sys.__unraisablehook__(unraisable)


def _main() -> int:
    try:
        if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:  # ignored from the start: stays so
            signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, _interrupt)
        refusal = start_refusal()  # before numpy loads: OpenBLAS ends a process it cannot start in
        if refusal is not None:
            print(f"error: {refusal}", file=sys.stderr)
            return 2
        if address_space_limit() is not None:  # before any thread starts: arenas would take the room
            cap_malloc_arenas()
        # Until the command line runs (it installs errors.note_unraisable_interrupt), a Ctrl-C
        # inside a weakref callback or pydantic-core ends the process at once: sim/__init__.py
        from .cli import main

        status = main()
        sys.stdout.flush()  # a reader that left (`| head`) is seen here, not as a message at exit
        return status
    except BrokenPipeError:  # outside a command (the command line handles its own): say nothing more
        from .cli import quiet_stdout

        quiet_stdout()
        return 1
    except ModuleNotFoundError as exc:  # run from a checkout without its dependencies (imports are lazy)
        if exc.name is None or exc.name.split(".")[0] == "sim":
            raise
        print(f"error: sim needs the package {exc.name.split('.')[0]!r}, which this Python "
              f"({sys.executable}) does not have: install sim with its dependencies, "
              "`pip install .` in the checkout (README, first command)", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a Ctrl-C that Python wrapped (while a class was being defined)
        from .errors import caused_by_interrupt

        if caused_by_interrupt(exc):
            print("interrupted", file=sys.stderr)
            return 130
        # Under `ulimit -v`, a library that did not fit as it loaded, or an array or thread past what
        # the command's own check foresaw: one line naming the limit, as that check's refusal says it
        failure = describe_failure(exc)
        if failure is None:
            raise
        print(f"error: {failure}", file=sys.stderr)
        return 2


status = _main()
# Everything is written and said: a Ctrl-C or SIGTERM while Python shuts down (joining
# worker processes, atexit handlers) has nothing left to stop, and would otherwise kill
# the interpreter, silently, turning a finished command's status into a signal.
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
sys.unraisablehook = _ignore_interrupt  # and one that came just before, in a weakref callback, too
if status == 130:
    # A Ctrl-C that landed inside an exec() of generated source (dataclasses, numba) leaves
    # CPython's "unhandled KeyboardInterrupt" flag set although sim handled it, and the
    # interpreter would then kill itself with SIGINT at exit; an exec() of its own clears it.
    exec("None")
raise SystemExit(status)
