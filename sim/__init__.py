"""sim: forecast diplomatic outcomes with batched agent-based Monte Carlo.

    from sim import load_scenario, run
    result = run(load_scenario("scenarios/baseline.yaml"), runs=100_000, seed=7)
    result.headline()["substantive_or_better"]

The public names are imported when first used (PEP 562), so `python -m sim
--version` or `sim validate` do not pay for numba and the engine.
"""

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sim")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

_WHERE = {
    "CLASSES": "sim.model", "SUBSTANTIVE_OR_BETTER": "sim.model",
    "Estimate": "sim.montecarlo", "RunResult": "sim.montecarlo", "run": "sim.montecarlo", "wilson": "sim.montecarlo",
    "InputError": "sim.errors", "Problem": "sim.errors", "RunError": "sim.errors", "SimError": "sim.errors",
    "Scenario": "sim.schema", "scenario_hash": "sim.schema",
    "dump_scenario": "sim.loading", "load_scenario": "sim.loading", "parse_scenario": "sim.loading",
    "compare": "sim.compare", "explain": "sim.attribution",
    "load_posterior": "sim.posterior", "load_knobs": "sim.knobs",
}

__all__ = ["__version__", *sorted(_WHERE)]


def __getattr__(name: str):
    if name in _WHERE:
        value = getattr(import_module(_WHERE[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
