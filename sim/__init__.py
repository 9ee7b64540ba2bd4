"""sim: forecast diplomatic outcomes with batched agent-based Monte Carlo.

    from sim import load_scenario, run
    result = run(load_scenario("scenarios/baseline.yaml"), runs=100_000, seed=7)
    result.headline()["substantive_or_better"]

The names below are imported when first used (PEP 562), so that `python -m sim`
loads numpy and the rest inside the command line, where a Ctrl-C is handled.
"""

import sys
from importlib import import_module


def _quiet_exit(signum, frame):
    print("interrupted", file=sys.stderr)
    raise SystemExit(130)


def _exit_on_unraisable_interrupt(unraisable) -> None:
    """A `sys.unraisablehook` for `python -m sim` until its command line runs: a Ctrl-C (or the
    exit above) that lands where Python cannot raise it (importlib's module-lock weakref
    callbacks, pydantic-core's Rust code while a model's validators are built) ends the process
    here, 130, as nothing is written yet. Going on would run modules it left half made: a
    validator built while pydantic-core took the Ctrl-C as an "unprintable" pattern refuses
    every name, and the scenario was refused (exit 2)."""
    if isinstance(unraisable.exc_value, (KeyboardInterrupt, SystemExit)):
        if not isinstance(unraisable.exc_value, SystemExit):  # _quiet_exit has said it
            print("interrupted", file=sys.stderr)
        sys.stderr.flush()
        import os  # loaded already, by Python's own start-up

        os._exit(130)
    sys.__unraisablehook__(unraisable)


_SIGNAL_RECORD: int | None = None
"""Under `python -m sim`: the read end of a pipe into which Python's C-level signal handler writes
the number of each signal that reaches it (`signal.set_wakeup_fd`), whatever then becomes of its
Python-level handler; `errors.interrupt_recorded` reads it."""

if sys.argv[:1] == ["-m"]:  # `python -m sim` is locating sim/__main__.py, which will own the process:
    # until it can handle Ctrl-C itself, an interrupt exits 130 without runpy's traceback. `_signal`,
    # which Python has loaded already: `import signal` builds its enums for some milliseconds,
    # in which a Ctrl-C still ended in runpy's traceback
    import _signal

    # A SIGINT ignored from the start (a shell script's background job, as POSIX has it) stays ignored,
    # as Python itself leaves it: obeyed once sim had loaded, the same `kill -INT` ended a run or not
    # by its timing. `stop_on_interrupt` and `__main__` keep it so.
    if _signal.getsignal(_signal.SIGINT) is not _signal.SIG_IGN:
        _signal.signal(_signal.SIGINT, _quiet_exit)
    _signal.signal(_signal.SIGTERM, _quiet_exit)
    sys.unraisablehook = _exit_on_unraisable_interrupt
    # A Ctrl-C whose KeyboardInterrupt some library code swallows without a word (no unraisable
    # hook: a bare `except`, a C API that clears errors) was lost: a run went on to the end and
    # exited 0 (a start-up hammer, about 1 in 200). The C-level handler's record of it is not.
    import os  # loaded already, by Python's own start-up

    _SIGNAL_RECORD, _write_end = os.pipe()
    os.set_blocking(_SIGNAL_RECORD, False)
    os.set_blocking(_write_end, False)
    _signal.set_wakeup_fd(_write_end, warn_on_full_buffer=False)
    del _write_end

_EXPORTS = {
    "CLASSES": ".model",
    "Estimate": ".estimate",
    "InputError": ".errors",
    "Problem": ".errors",
    "RunError": ".errors",
    "RunResult": ".montecarlo",
    "SUBSTANTIVE_OR_BETTER": ".model",
    "Scenario": ".schema",
    "SimError": ".errors",
    "compare": ".comparison",
    "dump_scenario": ".loading",
    "explain": ".attribution",
    "load_knobs": ".knobs",
    "load_posterior": ".posterior",
    "load_replicates": ".replicates",
    "load_scenario": ".loading",
    "parse_scenario": ".loading",
    "run": ".montecarlo",
    "scenario_hash": ".loading",
    "wilson": ".montecarlo",
}

__all__ = [
    "CLASSES", "Estimate", "InputError", "Problem", "RunError", "RunResult", "Scenario", "SimError", "__version__",
    "SUBSTANTIVE_OR_BETTER", "compare", "dump_scenario", "explain", "load_knobs", "load_posterior", "load_replicates",
    "load_scenario", "parse_scenario", "run", "scenario_hash", "wilson",
]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sim")
    except PackageNotFoundError:  # running from a source tree that was not installed
        return "0.0.0+unknown"


def __getattr__(name: str):
    if name == "__version__":
        value = _version()
    elif name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name], __name__), name)
    else:
        raise AttributeError(f"module 'sim' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})

