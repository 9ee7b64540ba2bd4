"""sim: forecast diplomatic outcomes with batched agent-based Monte Carlo.

    from sim import load_scenario, run
    result = run(load_scenario("scenarios/baseline.yaml"), runs=100_000, seed=7)
    result.headline()["substantive_or_better"]

The names below are imported when first used (PEP 562), so that `python -m sim`
loads numpy and the rest inside the command line, where a Ctrl-C is handled.
"""

from importlib import import_module

_EXPORTS = {
    "CLASSES": ".model",
    "Estimate": ".montecarlo",
    "InputError": ".errors",
    "Problem": ".errors",
    "RunError": ".errors",
    "RunResult": ".montecarlo",
    "Scenario": ".schema",
    "SimError": ".errors",
    "compare": ".compare",
    "dump_scenario": ".loading",
    "explain": ".attribution",
    "load_scenario": ".loading",
    "parse_scenario": ".loading",
    "run": ".montecarlo",
    "scenario_hash": ".schema",
    "wilson": ".montecarlo",
}

__all__ = sorted([*_EXPORTS, "__version__"])


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
