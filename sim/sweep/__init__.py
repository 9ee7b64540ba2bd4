"""Parameter sweeps and sensitivity: which assumptions move the forecast.

    from sim.sweep import make_sweep, run_sweep
    sweep = make_sweep(Path("scenarios/baseline.yaml"), ["agents.russia.resolve=0.5:0.9:5"], None, runs=20_000)
    result = run_sweep(sweep, workers=2)
    result.rows  # one dict a point: parameters, class probabilities with intervals, runs, seconds

Modules: `spec` (what is varied), `points` (every point's scenario, validated), `design`
(grid, lhs, sobol, morris), `execute` (tasks and where they run: here, local
processes, Dask), `store` (SQLite, CSV), `sensitivity` (Sobol, Morris),
`plots`, `driver` (all of it, resumable), `report` (the terminal).
"""

from .driver import SweepResult, default_sweep_dir, run_sweep
from .points import make_point_scenarios
from .spec import Factor, Sweep, SweepSpec, make_sweep

__all__ = ["Factor", "Sweep", "SweepResult", "SweepSpec", "default_sweep_dir", "make_point_scenarios",
           "make_sweep", "run_sweep"]
