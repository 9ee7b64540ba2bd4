"""sim: forecast diplomatic outcomes with batched agent-based Monte Carlo.

    from sim import load_scenario, run
    result = run(load_scenario("scenarios/baseline.yaml"), runs=100_000, seed=7)
    result.headline()["substantive_or_better"]
"""

from importlib.metadata import PackageNotFoundError, version

from .attribution import explain
from .compare import compare
from .errors import InputError, Problem, RunError, SimError
from .model import CLASSES
from .montecarlo import Estimate, RunResult, run, wilson
from .loading import dump_scenario, load_scenario, parse_scenario
from .schema import Scenario, scenario_hash

try:
    __version__ = version("sim")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "CLASSES",
    "Estimate",
    "InputError",
    "Problem",
    "RunError",
    "RunResult",
    "Scenario",
    "SimError",
    "__version__",
    "compare",
    "dump_scenario",
    "explain",
    "load_scenario",
    "parse_scenario",
    "run",
    "scenario_hash",
    "wilson",
]
