"""Sweeps across processes: local workers and a Dask cluster give the sequential
numbers bit for bit, and a sweep killed with SIGKILL resumes with every point once."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from sim import cli
from sim.sweep import make_sweep, run_sweep

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "tests" / "data" / "small.yaml"
VARY = ["summit.bargaining.margin=0.0:0.15:4", "relations.trust.initial=0.3:0.7:3"]
RUNS, SEED = 3000, 21


def without_seconds(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def sim_cli(*args: str, cwd: Path, **popen) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen([sys.executable, "-m", "sim", *args], cwd=cwd, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, **popen)


def committed(db: Path) -> list[tuple[int, int]]:
    """(point, times it was committed), read while another process may be writing."""
    if not db.exists():
        return []
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return con.execute("SELECT point, COUNT(*) FROM results GROUP BY point ORDER BY point").fetchall()
    except sqlite3.OperationalError:  # created but not yet whole: no table yet
        return []
    finally:
        con.close()


@pytest.fixture(scope="module")
def sweep():
    return make_sweep(SMALL, VARY, None, runs=RUNS, seed=SEED)


@pytest.fixture(scope="module")
def sequential(sweep, tmp_path_factory):
    return run_sweep(sweep, out=tmp_path_factory.mktemp("sequential"), plots=False)


@pytest.fixture(scope="module")
def dask_cluster():
    """A LocalCluster of two worker processes. Their start-up can time out on a loaded
    machine ("Cluster closed without starting up"): longer timeouts, and up to three tries.
    Its dashboard on any free port: `dashboard_address=None` still took 8787, and where another
    process held it, Dask's warning (an error here) failed every try."""
    distributed = pytest.importorskip("distributed")
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "60s"}):
        for attempt in range(3):
            try:
                cluster = distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                                   dashboard_address=":0")
                break
            except (RuntimeError, TimeoutError, OSError):
                if attempt == 2:
                    raise
        with cluster:
            yield cluster


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_local_workers_give_the_sequential_results_bit_for_bit(sweep, sequential, tmp_path, monkeypatch, method):
    """--workers 2 (forked where safe, else spawned) commits the same counts and estimates
    for every point."""
    monkeypatch.setattr("sim.sweep.execute.process_context", lambda: multiprocessing.get_context(method))
    parallel = run_sweep(sweep, out=tmp_path, workers=2, plots=False)
    assert parallel.backend == "processes" and parallel.workers == 2
    assert without_seconds(parallel.rows) == without_seconds(sequential.rows)


def test_forked_workers_are_started_with_the_parents_objects_frozen():
    """Every point's scenario is in the parent when the workers fork: frozen (`gc.freeze`),
    the workers' garbage collectors leave their pages shared instead of copying them (half
    the parent's memory a worker, measured), and they are unfrozen once the pool is done."""
    import gc

    from sim.sweep.execute import ProcessBackend

    with ProcessBackend(2):
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0


_SLOW_LOG = None


def _slow_task(task):
    """A task of 0.05 s that leaves a line in `_SLOW_LOG` (module level: a pool pickles it by name)."""
    with open(_SLOW_LOG, "a") as fh:
        fh.write(f"{task}\n")
    time.sleep(0.05)
    return []


def test_a_stopped_pool_runs_no_more_than_its_tasks_in_flight_once_dropped(tmp_path, monkeypatch):
    """A stop (Ctrl-C) leaves the results loop with tasks still queued, which the pool's shutdown
    cancels; but a pool collected before its manager thread saw that shutdown forgot the cancel
    (the thread finds the executor gone), and every queued task ran, its result discarded, before
    the process could exit: a calibration stopped at 56 of 540 points took 32 s to exit, as long
    as finishing it would have. Now only the tasks in flight finish."""
    import threading

    from sim.sweep import execute

    ran = tmp_path / "ran"
    monkeypatch.setattr(sys.modules[__name__], "_SLOW_LOG", ran)  # the forked workers see it
    monkeypatch.setattr(execute, "run_task", _slow_task)
    monkeypatch.setattr(execute, "process_context", lambda: multiprocessing.get_context("fork"))
    stop = threading.Event()
    with execute.ProcessBackend(2) as backend:
        for _ in backend.results(list(range(100)), stop):
            stop.set()
    del backend
    time.sleep(1.0)  # the bug's queued tasks, 100 x 0.05 s over 2 workers, would be half done
    assert len(ran.read_text().split()) <= 10


def test_default_workers_follow_the_cores_and_the_work(sweep, sequential, tmp_path, monkeypatch):
    """Without --workers a small sweep stays in this process; with enough work (here the
    threshold lowered) it takes every usable core, and the numbers do not change."""
    assert sequential.backend == "sequential" and sequential.workers == 1  # 12 points x 3 blocks
    monkeypatch.setattr("sim.parallel.MIN_BLOCKS_PER_SPAWNED", 3)
    monkeypatch.setattr("sim.parallel.MIN_BLOCKS_PER_WORKER", 3)
    monkeypatch.setattr("sim.parallel.usable_cores", lambda: 2)
    wide = run_sweep(sweep, out=tmp_path, plots=False)
    assert wide.backend == "processes" and wide.workers == 2
    assert without_seconds(wide.rows) == without_seconds(sequential.rows)


def test_dask_gives_the_local_results_bit_for_bit(sweep, sequential, dask_cluster, tmp_path, capsys):
    """`--scheduler ADDRESS` on a LocalCluster commits the same numbers as the local run."""
    status = cli.main(["sweep", str(SMALL), *sum((["--vary", v] for v in VARY), []), "--runs", str(RUNS),
                       "--seed", str(SEED), "--scheduler", dask_cluster.scheduler_address,
                       "--out", str(tmp_path), "--json"])
    assert status == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["backend"] == "dask" and summary["workers"] == 2
    on_dask = run_sweep(sweep, out=tmp_path, plots=False)  # nothing left to run: reads the store
    assert on_dask.ran == 0
    assert without_seconds(on_dask.rows) == without_seconds(sequential.rows)


def test_an_unreachable_scheduler_is_a_run_error(tmp_path, capsys):
    """A scheduler that does not answer: exit 1, one error line, nothing run."""
    dask = pytest.importorskip("dask")
    # distributed's defaults must be in dask's config before the `set`: one made before they are
    # loaded removes the whole `distributed` section on exit, and a later test's parse_address
    # then failed with KeyError 'distributed' (a flake that depended on test order)
    pytest.importorskip("distributed")
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        status = cli.main(["sweep", str(SMALL), "--vary", VARY[0], "--runs", "1024", "--out", str(tmp_path / "o"),
                           "--scheduler", "tcp://127.0.0.1:9"])
    assert status == 1
    assert "cannot reach the Dask scheduler" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # reached for before the directory is claimed


@pytest.fixture
def dask_scheduler():
    """A scheduler in this process, without workers: enough to connect to (and cheap)."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=0, processes=False, dashboard_address=":0") as cluster:  # any free port
        yield cluster.scheduler_address


@pytest.fixture
def dask_clients(monkeypatch):
    """Every Dask client sim makes in the test; closed after it, whatever the test found."""
    distributed = pytest.importorskip("distributed")
    made = []

    class Recorded(distributed.Client):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(distributed, "Client", Recorded)
    yield made
    for client in made:
        client.close()


@pytest.mark.parametrize("step", ["scheduler_info", "__enter__"])
def test_a_ctrl_c_as_the_dask_client_connects_leaves_it_closed(step, dask_scheduler, dask_clients, tmp_path,
                                                               monkeypatch):
    """A Ctrl-C (a KeyboardInterrupt: a library's host raises one) as the client asks for the cluster's
    workers, or as the connected backend comes back, before the sweep's stack has its close: the client is
    closed, not left connected to the user's scheduler (and its host's default client) until the process
    exits. sim starts no cluster and no workers: the client is all it has there."""
    import distributed
    from conftest import signal_after

    from sim.sweep import driver, execute

    monkeypatch.setattr(driver, "_run_points", lambda *a, **k: pytest.fail("ran although interrupted"))
    fired = signal_after(monkeypatch, distributed.Client if step == "scheduler_info" else execute.DaskBackend, step)
    with pytest.raises(KeyboardInterrupt):
        driver.run_points(tmp_path / "s", {}, [], np.zeros((1, 0)), {}, runs=1, entropy=1, scheduler=dask_scheduler)
    assert fired == [step]
    assert len(dask_clients) == 1 and dask_clients[0].status == "closed"


def test_a_scheduler_lost_as_the_client_asks_for_its_workers_is_a_run_error_and_the_client_closed(
        dask_scheduler, dask_clients, monkeypatch):
    """The scheduler gone between the connection and the question (an OSError from Dask's comms): the same
    one-line RunError as a scheduler out of reach, not a traceback, and the client made is closed."""
    import distributed

    from sim.errors import RunError
    from sim.sweep.execute import DaskBackend

    def gone(self, *args, **kwargs):
        raise distributed.comm.CommClosedError("in <TCP (closed)>: Stream is closed")

    monkeypatch.setattr(distributed.Client, "scheduler_info", gone)
    with pytest.raises(RunError, match="^cannot reach the Dask scheduler at .*: in <TCP .closed.>: Stream is closed$"):
        with DaskBackend(dask_scheduler):
            pytest.fail("entered without a connection")
    assert len(dask_clients) == 1 and dask_clients[0].status == "closed"


@pytest.fixture
def dask_threads():
    """A scheduler and one worker thread in this process: enough to run a small sweep on (and cheap)."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, processes=False, threads_per_worker=1,
                                  dashboard_address=":0") as cluster:
        yield cluster.scheduler_address


def _dask_default():
    """This process's default Dask client (None without one) and dask's scheduler setting."""
    import dask
    import distributed

    try:
        client = distributed.default_client()
    except ValueError:
        client = None
    return client, dask.config.get("scheduler", None)


@pytest.mark.parametrize("host", ["no client", "its own client"])
def test_a_library_sweep_on_dask_leaves_the_hosts_default_client_alone(host, dask_threads, tmp_path, monkeypatch):
    """A program that runs a sweep on a Dask cluster keeps its own default client (or none) and dask's scheduler
    setting, during the sweep and after it: sim's client was made the default, so that the host's `dask.compute`
    went to sim's cluster while the sweep ran, and a client a Ctrl-C leaked stayed its default."""
    import distributed

    from sim.sweep import execute

    own = distributed.Client(dask_threads) if host == "its own client" else None
    try:
        before, seen = _dask_default(), []
        real = execute.DaskBackend.results

        def results(self, tasks, stop=None):
            for result in real(self, tasks, stop):
                seen.append(_dask_default())
                yield result

        monkeypatch.setattr(execute.DaskBackend, "results", results)
        swept = run_sweep(make_sweep(SMALL, [VARY[0]], None, runs=1024, seed=SEED), out=tmp_path / "s",
                          scheduler=dask_threads, plots=False)
        assert swept.backend == "dask" and swept.ran == 4 and seen
        assert all(s == before for s in seen) and _dask_default() == before
    finally:
        if own is not None:
            own.close()


def test_a_ctrl_c_as_the_dask_client_is_made_leaves_it_no_default(dask_scheduler, dask_clients, monkeypatch):
    """A Ctrl-C as `Client(...)` returns, before the backend holds it, loses the client (it connects as it is
    made, so it stays connected until the process ends): at least it is not the host's default client."""
    import distributed
    from conftest import signal_after

    from sim.sweep.execute import DaskBackend

    before = _dask_default()
    fired = signal_after(monkeypatch, distributed, "Client")
    with pytest.raises(KeyboardInterrupt):
        with DaskBackend(dask_scheduler):
            pytest.fail("entered although interrupted")
    assert fired == ["Client"] and len(dask_clients) == 1 and _dask_default() == before


@pytest.mark.parametrize("command", ["sweep", "calibrate"])
@pytest.mark.parametrize("address", ["garbage", "tcp://host", "nope://host:8786", "tcp://host:99999"])
def test_a_bad_scheduler_address_is_an_input_error_before_anything_is_made(command, address, tmp_path, capsys):
    """--scheduler that no Dask scheduler can have: exit 2, one error line naming it, no directory."""
    pytest.importorskip("distributed")
    cases = ROOT / "tests" / "data" / "cases"
    argv = (["sweep", str(SMALL), "--vary", VARY[0], "--runs", "1024"] if command == "sweep"
            else ["calibrate", str(cases), "--knobs", str(cases / "knobs.yaml")])
    assert cli.main([*argv, "--scheduler", address, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --scheduler: is not a Dask scheduler address") and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_more_workers_than_tasks_run_as_many_as_there_are_tasks(sweep, sequential, tmp_path, capsys):
    """--workers 200 on a sweep of 2 tasks is not refused: 2 processes run it, a one-line note says so, and the
    summary records the 2 that ran, with the sequential numbers."""
    status = cli.main(["sweep", str(SMALL), *(a for v in VARY for a in ("--vary", v)), "--runs", str(RUNS),
                       "--seed", str(SEED), "--workers", "200", "--out", str(tmp_path), "--json"])
    captured = capsys.readouterr()
    assert status == 0
    assert captured.err == "note: --workers 200: the work is 2 tasks, so 2 processes run it\n"
    summary = json.loads(captured.out)
    assert (summary["backend"], summary["workers"]) == ("processes", 2)
    assert without_seconds(run_sweep(sweep, out=tmp_path, plots=False).rows) == without_seconds(sequential.rows)


KILL_VARY = ["summit.bargaining.margin=0.0:0.15:4", "relations.trust.initial=0.3:0.6:4"]
KILL_RUNS = 16 * 1024  # one point a task (execute.MIN_TASK_BLOCKS), so points finish one by one


@pytest.fixture(scope="module")
def kill_reference(tmp_path_factory):
    sweep = make_sweep(SMALL, KILL_VARY, None, runs=KILL_RUNS, seed=SEED)
    return sweep, run_sweep(sweep, out=tmp_path_factory.mktemp("kill_reference"), plots=False)


@pytest.mark.parametrize("workers", [1, pytest.param(2, marks=pytest.mark.slow)])
def test_a_sweep_killed_with_sigkill_resumes_with_every_point_exactly_once(workers, kill_reference, tmp_path):
    """SIGKILL to the whole sweep (parent and workers) once 3 points are in; rerunning the
    same command runs the rest; every point is in the store once, with the numbers of a
    sweep that was never killed."""
    sweep, reference = kill_reference
    args = ("sweep", str(SMALL), *sum((["--vary", v] for v in KILL_VARY), []), "--runs", str(KILL_RUNS),
            "--seed", str(SEED), "--out", str(tmp_path / "out"), "--workers", str(workers), "--quiet")
    db = tmp_path / "out" / "sweep.sqlite"
    proc = sim_cli(*args, cwd=tmp_path, start_new_session=True)
    deadline = time.monotonic() + 60
    while len(committed(db)) < 3:
        assert proc.poll() is None, f"the sweep ended before it was killed: {proc.stderr.read()}"
        assert time.monotonic() < deadline, "no points committed within 60 s"
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    kept = committed(db)
    assert 3 <= len(kept) < 16 and all(times == 1 for _, times in kept)

    rerun = sim_cli(*args, cwd=tmp_path)
    _, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    assert committed(db) == [(p, 1) for p in range(16)]
    resumed = run_sweep(sweep, out=tmp_path / "out", plots=False)
    assert resumed.ran == 0
    assert without_seconds(resumed.rows) == without_seconds(reference.rows)


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.5, 1.2, 1.8, 2.5])
def test_a_sweep_killed_at_any_moment_leaves_a_store_that_resumes(delay, kill_reference, tmp_path):
    """SIGKILL at a fixed delay (while starting, validating, creating the store or running):
    the rerun completes the sweep with every point once and the uninterrupted numbers."""
    sweep, reference = kill_reference
    args = ("sweep", str(SMALL), *sum((["--vary", v] for v in KILL_VARY), []), "--runs", str(KILL_RUNS),
            "--seed", str(SEED), "--out", str(tmp_path / "out"), "--quiet")
    proc = sim_cli(*args, cwd=tmp_path, start_new_session=True)
    time.sleep(delay)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    rerun = sim_cli(*args, cwd=tmp_path)
    _, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    assert committed(tmp_path / "out" / "sweep.sqlite") == [(p, 1) for p in range(16)]
    resumed = run_sweep(sweep, out=tmp_path / "out", plots=False)
    assert without_seconds(resumed.rows) == without_seconds(reference.rows)
