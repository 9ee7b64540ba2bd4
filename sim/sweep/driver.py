"""A sweep from start to finish: plan, validate every point, resume, run, keep, export.

`run_sweep` is what `python -m sim sweep` does, in its two steps: `prepare_sweep`
(everything that can refuse the sweep) and `run_prepared`. Rerunning the same sweep on
the same directory resumes it: the finished points are read from the store
and never run again; the plan and the seed's entropy come from the store, so
a resumed sweep is the sweep that was started. The directory is claimed with
`ownership.claim_in_place`: a new or empty one, or one a sweep made (its
manifest lists the sweep's files); a second sweep on it is refused.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import sqlite3
import threading
import time
from pathlib import Path

import numpy as np

from ..errors import RunError
from ..io import atomic_write_bytes, write_json_atomic
from ..limits import Estimate, check_memory, estimate, estimate_points
from ..model import CLASSES, compile_model
from ..ownership import check_target, claim_in_place
from ..progress import StepProgress
from ..provenance import model_digest
from ..randomness import blocks_for, make_root_entropy
from ..yamlfile import flow_text
from .design import design_size, make_design
from .execute import (
    DaskBackend,
    PieceResult,
    PointRun,
    check_scheduler,
    local_workers,
    make_backend,
    make_tasks,
    summarise_dispatch,
)
from .points import check_factors, make_point_scenarios, point_scenario
from .sensitivity import analyse_morris, analyse_sobol, make_analysis_seed
from .spec import Sweep
from .store import DB_NAME, OUTPUTS, SweepStore, cannot_store, remove_sweep

__all__ = ["FILES", "SOBOL_MIN_POINTS", "TIMING", "PointsRun", "PreparedSweep", "SweepResult", "default_sweep_dir",
           "estimate_sweep", "prepare_sweep", "run_points", "run_prepared", "run_sweep", "sweep_points"]

FILES = (DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm", f"{DB_NAME}-journal", *OUTPUTS)
"""Every file a sweep may write in its directory: what its manifest lists."""
SOBOL_MIN_POINTS = 64
"""A Sobol base sample below this gives indices too noisy to rank factors by (a warning)."""


@dataclasses.dataclass
class SweepResult:
    out: Path
    sweep: Sweep
    entropy: int
    n_points: int
    resumed: int  # points finished before this run
    ran: int  # points finished by this run
    seconds: float  # wall time of this run, validation to exports
    backend: str
    workers: int
    interrupted: bool
    rows: list[dict]
    analysis: dict | None
    timing: dict[str, float]  # see `TIMING`
    tasks: int  # tasks this run's points were cut into
    summary: dict

    @property
    def complete(self) -> bool:
        return len(self.rows) == self.n_points


TIMING = {
    "validate": "building and validating every point's scenario, and the plan",
    "startup": "until the workers were ready: the first result's arrival less its simulation",
    "running": "from starting the workers to the last result (start-up, simulation, commits)",
    "compute": "simulation, summed over the points (and so over the workers)",
    "dispatch_gap": "workers' idle time between consecutive tasks, summed over workers",
    "export": "CSV, analysis, plots",
}
"""The phases of a sweep's run time, in seconds, as `SweepResult.timing` and sweep.json report them."""


def default_sweep_dir(sweep: Sweep, root: str | Path = "results") -> Path:
    """`results/<scenario>/sweep-<key>`: the same sweep always lands in the same
    directory, which is what makes rerunning a command resume it."""
    return Path(root) / sweep.scenario.name / f"sweep-{sweep.key()}"


def estimate_sweep(sweep: Sweep, workers: int) -> Estimate:
    """Memory of running `sweep` on `workers` processes (`limits`): its heaviest point
    (incident rates at the top of their ranges) on each, keeping no replicates or trajectories,
    and every point's scenario, built before the first runs (`limits.estimate_points`). The
    factors are checked first (`check_factors`): a range the field does not allow is the
    option's mistake, which building the heaviest point would report as the file's."""
    check_factors(sweep)
    scenario = sweep.scenario
    heavy = {f.path: f.high for f in sweep.factors if f.path.startswith("incidents.")}
    if heavy:
        scenario = point_scenario(sweep, heavy)
    one = estimate(compile_model(scenario), sweep.runs, scenario.monte_carlo.chunk_size, write=False,
                   trajectories=False)
    work = dataclasses.replace(one, memory=one.memory * workers, per_process=one.memory)
    return estimate_points(work, sweep.scenario, sweep_points(sweep))


def sweep_points(sweep: Sweep) -> int:
    """How many points `sweep`'s design has."""
    return design_size(sweep.design, len(sweep.factors), sweep.points, [f.levels for f in sweep.factors])


SWEEP_NAMES = {"chunk_size": "the scenario's monte_carlo.chunk_size"}
"""What a sweep's memory refusal names (`limits.check_memory`): a sweep has no chunk_size= of its own."""


def run_sweep(sweep: Sweep, *, out: Path | None = None, workers: int | None = None, scheduler: str | None = None,
              fresh: bool = False, progress: StepProgress | None = None, plots: bool = True,
              force: bool = False, stop: threading.Event | None = None, notes: list[str] = (),
              max_memory: int | None = None) -> SweepResult:
    """Run every point of `sweep` not yet in the store at `out`, committing each as it
    finishes; then export the CSV, the summary, the plots and (for sobol and morris
    designs, once every point is done) the sensitivity analysis: `prepare_sweep`, then
    `run_prepared`.

    Every point is validated before anything runs or is written (`InputError`), and
    `out` must be new, empty or a sweep's (`force`: any sim command's) directory.
    Setting `stop` (the CLI's Ctrl-C) keeps the finished points and returns a result
    marked `interrupted`; set while the points are validated, it raises
    `KeyboardInterrupt`, nothing written. `notes`: the lines the command printed about its
    inputs (the CLI's `said`), kept in sweep.json. A sweep whose estimated peak memory
    (`estimate_sweep`: a point on each worker, every point's scenario) exceeds `max_memory`
    bytes (None: the memory available now) is an `InputError` before anything is built or written.
    """
    ready = prepare_sweep(sweep, out=out, workers=workers, scheduler=scheduler, fresh=fresh, force=force, stop=stop,
                          max_memory=max_memory)
    return run_prepared(ready, progress=progress, plots=plots, stop=stop, notes=notes)


@dataclasses.dataclass
class PreparedSweep:
    """A sweep whose every point is validated and whose directory may be claimed
    (`prepare_sweep`): what `run_prepared` runs."""

    sweep: Sweep
    out: Path
    identity: dict
    entropy: int
    plan: np.ndarray  # (n_points, n_factors)
    scenarios: list  # every point's validated Scenario, in plan order
    resuming: bool
    workers: int | None
    scheduler: str | None
    force: bool
    begun: float  # `time.perf_counter` when the preparing began: a run's seconds count it
    timing: dict  # `TIMING`'s phases, "validate" filled in


def prepare_sweep(sweep: Sweep, *, out: Path | None = None, workers: int | None = None,
                  scheduler: str | None = None, fresh: bool = False, force: bool = False,
                  stop: threading.Event | None = None, max_memory: int | None = None) -> PreparedSweep:
    """Everything of `run_sweep` that can refuse the sweep, before a point runs or a file is
    written: the factors, the memory, the directory at `out`, the plan (a resumed sweep's from
    its store) and every point's scenario. The CLI prepares first so that what it notes about
    the work (--workers beyond the tasks, a factor the engine never reads) follows the
    errors that would stop the work, never precedes them."""
    begun = time.perf_counter()
    timing = {**dict.fromkeys(TIMING, 0.0), "tasks": 0}
    check_factors(sweep)  # before the store: a bad range is the first thing to hear about
    expected = sweep_points(sweep)
    processes = 1 if scheduler is not None else local_workers(workers, expected, blocks_for(sweep.runs))
    check_memory(estimate_sweep(sweep, processes), f"this sweep ({expected:,} points, one running on each worker)",
                 max_memory, SWEEP_NAMES)
    out = Path(out) if out is not None else default_sweep_dir(sweep)
    # The model's digest beside the inputs, in the store only (the key and summary stay the
    # inputs'): points computed by other model code are refused, not mixed with new ones.
    identity = {**sweep.identity(), "model": model_digest()}
    state = check_target(out, "sweep", force=force)  # before reading a store there
    resuming = not fresh and state == "own" and SweepStore.exists(out)
    if resuming:
        store = SweepStore.open(out, identity)
        entropy, plan = store.entropy, store.plan()
        store.close()
    else:
        entropy = make_root_entropy(sweep.seed)
        plan = make_design(sweep.design, sweep.bounds, sweep.points, [f.levels for f in sweep.factors], entropy)
    if len(plan) != expected:
        raise AssertionError(f"the plan has {len(plan)} points, the design {expected}")
    scenarios = make_point_scenarios(sweep, plan, stop)
    timing["validate"] = time.perf_counter() - begun
    return PreparedSweep(sweep=sweep, out=out, identity=identity, entropy=entropy, plan=plan, scenarios=scenarios,
                         resuming=resuming, workers=workers, scheduler=scheduler, force=force, begun=begun,
                         timing=timing)


def run_prepared(ready: PreparedSweep, *, progress: StepProgress | None = None, plots: bool = True,
                 stop: threading.Event | None = None, notes: list[str] = ()) -> SweepResult:
    """Run a `prepare_sweep`'s points not yet in its store, then export (`run_sweep`)."""
    sweep, out, timing = ready.sweep, ready.out, ready.timing
    run = run_points(out, ready.identity, sweep.names, ready.plan, dict(enumerate(ready.scenarios)), runs=sweep.runs,
                     entropy=ready.entropy, workers=ready.workers, scheduler=ready.scheduler,
                     fresh=not ready.resuming, progress=progress, timing=timing, describe=_describe(sweep),
                     command="sweep", files=FILES, force=ready.force, stop=stop)
    try:
        return _finish(run.store_rows, out, sweep, ready.entropy, ready.plan, resumed=run.resumed, begun=ready.begun,
                       timing=timing, backend=run.backend, workers=run.workers, interrupted=run.interrupted,
                       plots=plots, notes=list(notes))
    except OSError as exc:  # disk full while exporting: the points are kept, a rerun exports them
        raise RunError(f"cannot write results to {out}: {exc.strerror or exc}") from None


@dataclasses.dataclass
class PointsRun:
    """What `run_points` did: the rows the store holds, and how this run went."""

    store_rows: list[dict]
    resumed: int
    interrupted: bool
    backend: str
    workers: int


def run_points(out: Path, identity: dict, names: list[str], plan: np.ndarray, points: dict[int, PointRun], *,
               runs: int, entropy: int, workers: int | None = None, scheduler: str | None = None,
               fresh: bool = False,
               progress: StepProgress | None = None, timing: dict | None = None, describe: dict | None = None,
               export: Path | None = None, command: str = "sweep", files: tuple[str, ...] = FILES,
               force: bool = False, stop: threading.Event | None = None) -> PointsRun:
    """Run every point of `plan` (its rows are the points' parameters, named `names`) that the
    store at `out` does not hold yet, committing each as it finishes: the resumable loop that
    sweeps, calibrations and backtests share. `points` maps a plan row to what it runs. A store
    of another identity at `out` is an input error; `fresh` starts over. Setting `stop` ends
    the run after the results in hand: the finished points are kept, the result is marked
    `interrupted`. With `export`, the rows go to that CSV. `workers` None: the usable cores,
    capped by the pending work (`parallel.default_workers`); never more than the tasks the
    points are cut into (`execute.local_workers`); ignored where a `scheduler` runs the
    points, which is checked and reached before the directory is claimed.
    The directory is claimed for `command` (`ownership.claim_in_place`), its manifest
    listing `files`, every name the command may write there."""
    timing = {**dict.fromkeys(TIMING, 0.0), "tasks": 0} if timing is None else timing
    with contextlib.ExitStack() as stack:
        cluster = None
        if scheduler is not None:  # a bad address or a scheduler out of reach: before the directory is claimed
            check_scheduler(scheduler)
            # Its close on the stack before it connects: `enter_context` records it after, and a
            # Ctrl-C (a KeyboardInterrupt, in a library's host) between the two left the client
            # connected to the user's scheduler until the process ended
            cluster = DaskBackend(scheduler)
            stack.push(cluster)
            cluster.__enter__()
        return _run_points(out, identity, names, plan, points, runs=runs, entropy=entropy, workers=workers,
                           cluster=cluster, fresh=fresh, progress=progress, timing=timing, describe=describe,
                           export=export, command=command, files=files, force=force, stop=stop)


def _run_points(out: Path, identity: dict, names: list[str], plan: np.ndarray, points: dict[int, PointRun], *,
                runs: int, entropy: int, workers: int | None, cluster: DaskBackend | None, fresh: bool,
                progress: StepProgress | None, timing: dict, describe: dict | None, export: Path | None, command: str,
                files: tuple[str, ...], force: bool, stop: threading.Event | None) -> PointsRun:
    with claim_in_place(out, command, files, force=force, release_unused=True) as state:
        if not fresh and state == "own" and SweepStore.exists(out):
            store = SweepStore.open(out, identity)
        else:
            try:
                remove_sweep(out)
                store = SweepStore.create(out, identity, entropy, names, plan, describe or {})
            except (OSError, sqlite3.Error) as exc:
                raise cannot_store(out, exc) from None
        try:
            done = store.done()
            pending = {i: points[i] for i in range(len(plan)) if i not in done}
            where = {"backend": "none", "workers": 0}
            if progress is not None:
                progress.start(len(plan), len(done))
            if pending:
                _execute(store, pending, runs, entropy, workers, cluster, progress, timing, where, stop)
            store.export_csv(export if export is not None else out / "points.csv")
            rows = store.rows()
            interrupted = len(rows) < len(plan)
        except sqlite3.OperationalError as exc:  # reading back through the log on a full disk ('disk I/O error')
            raise store.cannot_keep(exc) from None
        finally:
            store.close()
    return PointsRun(rows, len(done), interrupted, where["backend"], where["workers"])


def _execute(store: SweepStore, pending: dict, runs: int, entropy: int, workers: int | None,
             cluster: DaskBackend | None, progress: StepProgress | None, timing: dict[str, float], where: dict,
             stop: threading.Event | None) -> None:
    """Run the pending points (on the Dask `cluster`, connected already, else on `workers`
    local processes, never more than the tasks), committing each the moment its last piece
    is in; fill in `timing` and `where` (the backend's name and the workers that ran) as it
    goes, so that an interrupted run reports what it did."""
    n_blocks = blocks_for(runs)
    if cluster is None:
        workers = local_workers(workers, len(pending), n_blocks)
    counts = {p: np.zeros(len(CLASSES), dtype=np.int64) for p in pending}
    seconds = dict.fromkeys(pending, 0.0)
    blocks_left = dict.fromkeys(pending, n_blocks)
    pieces: list[PieceResult] = []
    started = time.perf_counter()
    try:
        with contextlib.nullcontext(cluster) if cluster is not None else make_backend(workers, None) as backend:
            tasks = make_tasks(pending, runs, entropy, backend.workers)
            where.update(backend=backend.name, workers=min(backend.workers, len(tasks)))
            for results in backend.results(tasks, stop):
                if not pieces:
                    timing["startup"] = max(0.0, time.perf_counter() - started - sum(r.seconds for r in results))
                pieces += results
                for r in results:
                    counts[r.point] += r.counts
                    seconds[r.point] += r.seconds
                    blocks_left[r.point] -= r.count
                    timing["compute"] += r.seconds
                    if blocks_left[r.point] == 0:
                        store.commit(r.point, counts.pop(r.point), seconds[r.point])
                        if progress is not None:
                            progress.advance(1)
                timing["running"] = time.perf_counter() - started
    finally:
        dispatch = summarise_dispatch(pieces)
        timing["dispatch_gap"], timing["tasks"] = dispatch["gap_seconds"], dispatch["tasks"]


def _finish(rows: list[dict], out: Path, sweep: Sweep, entropy: int, plan: np.ndarray, *, resumed: int,
            begun: float, timing: dict[str, float], backend: str, workers: int, interrupted: bool,
            plots: bool, notes: list[str]) -> SweepResult:
    """Export what the store holds: points.csv, the analysis, the plots, sweep.json."""
    from .. import __version__

    exporting = time.perf_counter()
    analysis = _analyse(sweep, plan, rows, entropy) if len(rows) == len(plan) else None
    files = ["points.csv", DB_NAME]
    if plots and rows:
        files += _plot(sweep, rows, analysis, out, entropy)
    timing["export"] = time.perf_counter() - exporting
    seconds = time.perf_counter() - begun
    summary = {
        "sim_version": __version__,
        "scenario": sweep.scenario.name,
        "scenario_file": str(sweep.scenario_file),
        **sweep.identity(),
        "seed_entropy": entropy,
        # the fixed overrides (`set:`, --set) as --set would take them: the page's command gives them again
        **({"overrides": {path: flow_text(v) for path, v in sweep.overrides.items()}} if sweep.overrides else {}),
        "points_total": len(plan),
        "points_done": len(rows),
        "points_resumed": resumed,
        "backend": backend,
        "workers": workers,
        "seconds": round(seconds, 6),
        "tasks": int(timing["tasks"]),
        "timing": {k: round(timing[k], 6) for k in TIMING},
        "interrupted": interrupted,
        "analysis": analysis,
        "files": files,
        "notes": notes,
    }
    write_json_atomic(out / "sweep.json", summary)
    return SweepResult(out=out, sweep=sweep, entropy=entropy, n_points=len(plan), resumed=resumed,
                       ran=len(rows) - resumed, seconds=seconds, backend=backend, workers=workers,
                       interrupted=interrupted, rows=rows, analysis=analysis,
                       timing={k: timing[k] for k in TIMING}, tasks=int(timing["tasks"]), summary=summary)


def _analyse(sweep: Sweep, plan: np.ndarray, rows: list[dict], entropy: int) -> dict | None:
    """Sobol indices or Morris effects of P(substantive or better), for those designs."""
    if sweep.design not in ("sobol", "morris"):
        return None
    y = np.array([r["substantive_or_better_p"] for r in rows])
    seed = make_analysis_seed(entropy)
    warnings = []
    if sweep.design == "sobol":
        indices = analyse_sobol(sweep.names, sweep.bounds, y, seed)
        warnings = _sobol_warnings(sweep.points, indices)
    else:
        indices = analyse_morris(sweep.names, sweep.bounds, plan, y, seed)
    return {"method": sweep.design, "output": "substantive_or_better", "conf_level": 0.95,
            "indices": indices, "warnings": warnings}


def _sobol_warnings(n: int, indices: dict[str, dict]) -> list[str]:
    """What makes Sobol indices unfit to read: a small base sample, or an index outside
    [0, 1] by more than its interval (an estimate that noise dominates)."""
    out = []
    if n < SOBOL_MIN_POINTS:
        out.append(f"a Sobol base sample of {n} is too small for indices worth reading; use --points "
                   f"{SOBOL_MIN_POINTS} or more (the shipped spec uses 512)")
    for name, ix in indices.items():
        for key in ("S1", "ST"):
            v, half = ix.get(key), ix.get(f"{key}_conf") or 0.0
            if v is not None and (v - half > 1 or v + half < 0):
                out.append(f"{name}: {key} = {v:.2f} lies outside [0, 1] beyond its interval: Monte Carlo "
                           "noise dominates it; raise --points or --runs")
    return out


def _plot(sweep: Sweep, rows: list[dict], analysis: dict | None, out: Path, entropy: int) -> list[str]:
    from ..reporting import seed_label
    from .plots import plot_curves, plot_heatmap, plot_sensitivity  # late: matplotlib is slow to import

    title = (f"{sweep.scenario.name}: {sweep.design} sweep, {len(rows):,} points\n"
             f"{sweep.runs:,} replicates a point, seed {seed_label(entropy)}")
    files = []

    def save(name: str, plot, *args) -> None:
        # Drawn in memory, then renamed into place: a resumed sweep redraws over the last
        # run's pictures, which a plot dying halfway (disk full, Ctrl-C) must leave whole.
        buffer = io.BytesIO()
        plot(*args, buffer)
        atomic_write_bytes(out / name, buffer.getvalue())
        files.append(name)

    if len(sweep.factors) == 1:
        save("curves.png", plot_curves, rows, sweep.names[0], title)
    elif len(sweep.factors) == 2:
        save("heatmap.png", plot_heatmap, rows, (sweep.names[0], sweep.names[1]), title)
    if analysis is not None:
        save("sensitivity.png", plot_sensitivity, analysis, title)
    return files


def _describe(sweep: Sweep) -> dict:
    return {"scenario": sweep.scenario.name, "scenario_file": str(sweep.scenario_file), "design": sweep.design}
