"""Running a sweep's points: tasks, and where they run (here, local processes, Dask).

A task is a list of pieces, each a range of whole blocks of one point's
replicates; a point's outcome counts are the sum of its pieces' counts, and a
block's replicates depend only on (seed, block), so the numbers are the same
however points are cut into tasks and wherever the tasks run. Tasks are sized
so that what a worker waits between them (about 0.5 ms a task and 1 ms a point
on this machine: shipping and unpickling the scenarios) stays near 1 % of their
run time or below (0.6 % for the baseline at 20,000 replicates a point), and so
that there are enough of them to keep every worker busy.
"""

from __future__ import annotations

import gc
import os
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

import numpy as np

from ..errors import InputError, Problem, RunError
from ..model import CLASSES, compile_model
from ..montecarlo import simulate_chunks
from ..parallel import flush_stdio, process_context, worker_setup
from ..randomness import blocks_for
from ..schema import Scenario

__all__ = ["DaskBackend", "Piece", "PieceResult", "PointRun", "ProcessBackend", "SequentialBackend", "Task",
           "check_scheduler", "count_outcomes", "count_tasks", "local_workers", "make_backend", "make_tasks",
           "run_task", "summarise_dispatch", "task_shape"]

MIN_TASK_BLOCKS = 16
"""Blocks a task holds at least (about 0.2 s of the baseline), so that a task's fixed
cost is a fraction of a per cent; smaller points are grouped into one task."""
POLL_SECONDS = 0.05
"""How often a wait for the workers' results looks at the stop event."""
STOP_GRACE_SECONDS = 1.0
"""How long a broken pool waits for the signal that killed its workers to reach this process too."""
TASKS_PER_WORKER = 4
"""Large points are cut so that each worker gets about this many tasks (load balance)."""


@dataclass(frozen=True)
class Piece:
    """Blocks [first, first + count) of one point's replicates; `knobs` (a `sim.knobs.KnobSetting`)
    sets calibration knobs in them."""

    point: int
    scenario: Scenario
    first: int
    count: int
    knobs: object = None


PointRun = Scenario | tuple[Scenario, object]
"""What a point runs: a scenario, or a scenario with a knob setting."""


@dataclass(frozen=True)
class Task:
    entropy: int
    runs: int  # replicates per point: the last block of a point may be cut short
    pieces: tuple[Piece, ...]


@dataclass(frozen=True)
class PieceResult:
    point: int
    first: int
    count: int
    counts: np.ndarray  # (len(CLASSES),) replicates per outcome class
    seconds: float  # simulation time of this piece
    worker: str = ""  # host:pid of the process that ran it
    span: tuple[float, float] = (0.0, 0.0)  # its task's wall-clock start and end on that worker (epoch s)


def make_tasks(scenarios: dict[int, PointRun], runs: int, entropy: int, workers: int) -> list[Task]:
    """Cut the points `scenarios` {point: scenario or (scenario, knobs)} into tasks for
    `workers` workers, as `task_shape` says: each point into near-equal pieces, and
    consecutive pieces grouped into tasks."""
    n_blocks = blocks_for(runs)
    if not scenarios or n_blocks < 1:
        return []
    pieces, per_task = task_shape(len(scenarios), n_blocks, workers)
    edges = [round(j * n_blocks / pieces) for j in range(pieces + 1)]
    tasks: list[Task] = []
    group: list[Piece] = []
    for point, what in scenarios.items():
        scenario, knobs = what if isinstance(what, tuple) else (what, None)
        for a, b in zip(edges, edges[1:]):
            group.append(Piece(point, scenario, a, b - a, knobs))
            if len(group) == per_task:
                tasks.append(Task(entropy, runs, tuple(group)))
                group = []
    if group:
        tasks.append(Task(entropy, runs, tuple(group)))
    return tasks


def task_shape(points: int, n_blocks: int, workers: int) -> tuple[int, int]:
    """How `make_tasks` cuts `points` points of `n_blocks` (at least 1) blocks each for
    `workers` workers: (pieces a point is cut into, pieces a task holds), one of them 1.

    A point of at most `cap` blocks is one piece, and small points share a task up to
    `MIN_TASK_BLOCKS` blocks; a larger point is cut into near-equal pieces of at most
    `cap` blocks, one a task, where `cap` gives each worker `TASKS_PER_WORKER` tasks but
    never falls below `MIN_TASK_BLOCKS`.
    """
    cap = max(MIN_TASK_BLOCKS, -(-(n_blocks * points) // (TASKS_PER_WORKER * max(1, workers))))
    if n_blocks > cap:
        return -(-n_blocks // cap), 1
    return 1, -(-MIN_TASK_BLOCKS // n_blocks)


def count_tasks(points: int, n_blocks: int, workers: int) -> int:
    """How many tasks `make_tasks` cuts `points` points of `n_blocks` blocks each into for
    `workers` workers, without building them."""
    if points < 1 or n_blocks < 1:
        return 0
    pieces, per_task = task_shape(points, n_blocks, workers)
    return -(-points * pieces // per_task)


def local_workers(requested: int | None, points: int, n_blocks: int) -> int:
    """The local processes that run `points` points of `n_blocks` blocks each: `requested`
    (None: `parallel.default_workers` of the whole), never more than the tasks the points
    are cut into (`parallel.choose_workers`)."""
    from ..parallel import choose_workers, default_workers

    wanted = default_workers(points * n_blocks) if requested is None else requested
    return choose_workers(wanted, points * n_blocks, count_tasks(points, n_blocks, wanted))


def run_task(task: Task) -> list[PieceResult]:
    """Simulate every piece of a task; runs in a worker process (or here)."""
    began, out = time.time(), []
    models: dict[int, object] = {}  # pieces of one task often share a scenario object: compile it once
    for piece in task.pieces:
        started = time.perf_counter()
        model = models.get(id(piece.scenario))
        if model is None:
            model = models[id(piece.scenario)] = compile_model(piece.scenario)
        bpc = max(1, blocks_for(piece.scenario.monte_carlo.chunk_size))
        counts = count_outcomes(model, task.entropy, task.runs, piece.first, piece.count, bpc, piece.knobs)
        out.append((piece, counts, time.perf_counter() - started))
    worker, span = f"{socket.gethostname()}:{os.getpid()}", (began, time.time())
    return [PieceResult(p.point, p.first, p.count, counts, seconds, worker, span) for p, counts, seconds in out]


def summarise_dispatch(results: list[PieceResult]) -> dict[str, float]:
    """How long workers waited between tasks: per worker, the gaps between one task's
    end and the next one's start (tasks in flight overlap nothing on one worker).
    Returns the tasks, the summed gap in seconds and the mean gap per task."""
    spans: dict[str, set] = {}
    for r in results:
        spans.setdefault(r.worker, set()).add(r.span)
    tasks = sum(len(v) for v in spans.values())
    gaps = sum(max(0.0, b[0] - a[1]) for v in spans.values() for a, b in zip(sorted(v), sorted(v)[1:]))
    return {"tasks": tasks, "gap_seconds": gaps, "gap_per_task_seconds": gaps / max(1, tasks - len(spans))}


def count_outcomes(model, entropy: int, runs: int, first: int, count: int, blocks_per_chunk: int,
                   knobs=None) -> np.ndarray:
    """Outcome counts (len(CLASSES),) of blocks [first, first + count) of a run of `runs`
    replicates: the same replicates `montecarlo.simulate_chunks` makes of those blocks."""
    counts = np.zeros(len(CLASSES), dtype=np.int64)
    for chunk in simulate_chunks(model, entropy, runs, blocks_per_chunk, block_range=range(first, first + count),
                                 knobs=knobs):
        counts += np.bincount(chunk.outcome, minlength=len(CLASSES))
    return counts


# --- Backends: where tasks run ----------------------------------------------------------------
#
# Each is a context manager: entering starts (or connects to) the workers, so that
# `workers` is known when the tasks are cut; `results` yields each task's results as
# it finishes, until the `stop` event is set; leaving stops what is still queued.


class SequentialBackend:
    """Every task in this process, in order."""

    name = "sequential"
    workers = 1

    def __enter__(self) -> SequentialBackend:
        return self

    def __exit__(self, *exc) -> None:
        return None

    def results(self, tasks: list[Task], stop: threading.Event | None = None) -> Iterator[list[PieceResult]]:
        for task in tasks:
            if stop is not None and stop.is_set():
                return
            yield run_task(task)


class ProcessBackend:
    """Tasks over `workers` local processes (forked where that is safe, which costs
    milliseconds; else spawned, which costs a second of imports: `sim.parallel`);
    results come back to this process, which alone writes the store."""

    name = "processes"

    def __init__(self, workers: int):
        self.workers = workers
        self.pool: ProcessPoolExecutor | None = None
        self.unfinished = False  # tasks were left queued (a stop, an error): `__exit__` waits for their cancel

    def __enter__(self) -> ProcessBackend:
        flush_stdio()
        # A forked worker shares this process's pages (every point's scenario) until it
        # writes to them; its garbage collector would, visiting them: frozen, they are
        # left alone (`gc.freeze`), and a sweep's workers do not double its memory.
        gc.freeze()
        self.pool = ProcessPoolExecutor(self.workers, mp_context=process_context(), initializer=worker_setup)
        return self

    def __exit__(self, *exc) -> None:
        # Every result is in: the workers wind down (about 0.5 s) while this process writes
        # the exports. Tasks left queued are cancelled and the tasks in flight waited for:
        # a pool collected before its manager thread saw the shutdown forgot cancel_futures
        # (the thread finds the executor gone), and every queued task ran, to be discarded,
        # before the process could exit.
        self.pool.shutdown(wait=self.unfinished, cancel_futures=True)
        gc.unfreeze()

    def results(self, tasks: list[Task], stop: threading.Event | None = None) -> Iterator[list[PieceResult]]:
        # What is still queued is cancelled by `__exit__`'s shutdown, in the pool's own thread:
        # cancelled here, a future could be cancelled while that thread marks it failed
        # (a worker died), and Python 3.11 prints that thread's InvalidStateError traceback.
        pending = {self.pool.submit(run_task, t) for t in tasks}
        self.unfinished = True  # until the last result is in, whatever ends the loop
        try:
            while pending and not (stop is not None and stop.is_set()):
                finished, pending = wait(pending, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
                for future in finished:
                    yield future.result()
            self.unfinished = bool(pending)
        except BrokenProcessPool:
            # SIGTERM to the whole process group (`timeout`, a batch scheduler, kill -TERM -PGID)
            # kills the workers (`worker_setup`) as it reaches this process, whose handler sets
            # `stop` a moment later: an interrupt, the finished points kept, not a failure.
            if stop is not None and stop.wait(STOP_GRACE_SECONDS):
                return
            raise RunError("a worker process died; the finished points are kept: rerun to resume") from None


class DaskBackend:
    """Tasks on the Dask distributed cluster at `address` (`sim` must be importable on its
    workers); results come back to this process, which alone writes the store."""

    name = "dask"

    def __init__(self, address: str):
        self.address = address
        self.workers = 1
        self.client = None

    def __enter__(self) -> DaskBackend:
        """Connect, and count the cluster's threads. Anything raised once the client is made (a
        Ctrl-C as it asks for the workers, a scheduler gone meanwhile) closes it here: a `with`
        calls `__exit__` only once `__enter__` has returned. The cluster is the user's: sim starts
        no scheduler and no workers, so its client is all it has to close."""
        try:
            from distributed import Client
        except ImportError:
            raise InputError(Problem("--scheduler", "", "needs dask.distributed: pip install 'sim[distributed]'",
                                     self.address, True)) from None
        try:
            # Not the process's default client (nor dask's scheduler): a library caller's own `dask.compute`
            # would go to sim's cluster while the sweep ran, and to a client a Ctrl-C leaked after it.
            # Nothing here relies on a default client: `results` names this one's loop.
            self.client = Client(self.address, set_as_default=False)  # timeout: distributed.comm.timeouts.connect
        except (OSError, TimeoutError, ValueError) as exc:
            raise RunError(f"cannot reach the Dask scheduler at {self.address}: {exc}") from None
        try:
            workers = self.client.scheduler_info().get("workers", {})
        except BaseException as exc:
            self.close()
            if isinstance(exc, (OSError, TimeoutError)):
                raise RunError(f"cannot reach the Dask scheduler at {self.address}: {exc}") from None
            raise
        self.workers = max(1, sum(w.get("nthreads", 1) for w in workers.values()))
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Disconnect (the scheduler cancels what this client asked for); once, and nothing if
        the client was never made, so a stack may hold it before `__enter__` connects."""
        client, self.client = self.client, None
        if client is not None:
            client.close()

    def results(self, tasks: list[Task], stop: threading.Event | None = None) -> Iterator[list[PieceResult]]:
        from distributed import as_completed as dask_completed

        futures = self.client.map(run_task, tasks, pure=False)
        try:
            # its loop named: without it, `as_completed` takes the default client's, which is not this one
            for future in dask_completed(futures, loop=self.client.loop):  # a stop is seen as each task comes back
                if stop is not None and stop.is_set():
                    return
                yield future.result()
        finally:
            self.client.cancel(futures)


SCHEMES_WITH_PORT = ("tcp", "tls", "ws", "wss", "ucx")


def check_scheduler(address: str) -> None:
    """Refuse (an `InputError` naming --scheduler) an `address` that Dask cannot connect to
    whatever runs there (no port, an unknown scheme), or a missing dask.distributed: before
    anything is created, not as a failed connection after the result directory is."""
    try:
        from distributed.comm import registry
        from distributed.comm.addressing import parse_address, parse_host_port
    except ImportError:
        raise InputError(Problem("--scheduler", "", "needs dask.distributed: pip install 'sim[distributed]'",
                                 address, True)) from None
    try:
        scheme, location = parse_address(address, strict=False)
        registry.get_backend(scheme)
        if scheme in SCHEMES_WITH_PORT:
            host, port = parse_host_port(location)
            if not host or not 0 < port < 65536:
                raise ValueError("needs a host and a port from 1 to 65535")
    except (ValueError, TypeError) as exc:
        raise InputError(Problem("--scheduler", "", f"is not a Dask scheduler address ({exc}); write e.g. "
                                 "tcp://host:8786", address, True)) from None


def make_backend(workers: int, scheduler: str | None) -> SequentialBackend | ProcessBackend | DaskBackend:
    if scheduler is not None:
        return DaskBackend(scheduler)
    if workers > 1:
        return ProcessBackend(workers)
    return SequentialBackend()

