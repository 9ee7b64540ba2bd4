"""Several processes, one result: every command that runs replicates gives the same numbers,
bit for bit, on any number of workers, and a stop keeps a contiguous prefix."""

from __future__ import annotations

import itertools
import os
import threading
from pathlib import Path

import numpy as np
import pytest

import sim.parallel
from sim import InputError, load_scenario, run
from sim.attribution import explain, remove_events
from sim.comparison import compare
from sim.parallel import MIN_BLOCKS_PER_WORKER, default_workers, ordered_map

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"
SMALL = ROOT / "tests" / "data" / "small.yaml"


@pytest.fixture(scope="module")
def baseline():
    return load_scenario(BASELINE)


def collect(scenario, workers: int, **kwargs):
    chunks = []
    result = run(scenario, sink=chunks.append, workers=workers, **kwargs)
    return result, chunks


def columns(chunks) -> dict[str, np.ndarray]:
    return {"start": np.array([c.start for c in chunks]),
            **{name: np.concatenate([getattr(c, name) for c in chunks], axis=-1 if name == "signed" else 0)
               for name in ("outcome", "package", "summit_day", "position", "signed")}}


# --- Same seed, same result ---------------------------------------------------------------------


@pytest.mark.parametrize("workers, chunk_size", [(2, 1024), (3, 3000), (2, 16_384)])
def test_a_run_is_bit_identical_on_any_number_of_workers(baseline, workers, chunk_size):
    """Counts, every per-replicate column, the chunks' order and the fan chart's trajectories.
    (A chunk of 50,000 was one chunk for 40,000 replicates, so one process on both sides: the
    large chunks are now 16,384, three chunks, the last partial.)"""
    one, chunks_one = collect(baseline, 1, runs=40_000, seed=11, chunk_size=chunk_size)
    many, chunks_many = collect(baseline, workers, runs=40_000, seed=11, chunk_size=chunk_size)
    assert many.workers == workers == min(workers, len(chunks_many)) and many.runs == one.runs == 40_000
    assert not many.interrupted
    np.testing.assert_array_equal(one.counts, many.counts)
    np.testing.assert_array_equal(one.package_counts, many.package_counts)
    np.testing.assert_array_equal(one.trajectory, many.trajectory)
    a, b = columns(chunks_one), columns(chunks_many)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    assert all(c.model is many.model for c in chunks_many)  # the parent's model, not a copy per chunk


def test_knobs_and_early_stopping_do_not_depend_on_the_workers(baseline):
    """Posterior predictive knobs (row i mod n) and --precision stop at the same replicate."""
    from sim import load_posterior

    setting = load_posterior(ROOT / "scenarios" / "history" / "posterior.json").setting(baseline)[0]
    kwargs = dict(runs=60_000, seed=3, chunk_size=4096, knobs=setting, precision=0.01)
    one, _ = collect(baseline, 1, **kwargs)
    two, _ = collect(baseline, 2, **kwargs)
    assert one.stopped_early and two.stopped_early and one.runs == two.runs < 60_000
    np.testing.assert_array_equal(one.counts, two.counts)
    np.testing.assert_array_equal(one.row_counts, two.row_counts)


@pytest.mark.slow  # a subprocess and its signals or workers: seconds; CI runs it (-m slow)
def test_compare_and_explain_are_bit_identical_on_two_workers(baseline):
    """Paired tables and the events' effects and Shapley values (exact and sampled)."""
    other = load_scenario(BASELINE, overrides={"agents.russia.resolve": 0.8})
    a = compare(baseline, other, runs=20_000, seed=5, workers=1)
    b = compare(baseline, other, runs=20_000, seed=5, workers=2)
    np.testing.assert_array_equal(a.joint, b.joint)
    four = remove_events(baseline, {e.name for e in baseline.events[4:]})  # 2**4 coalitions, not 2**15
    for scenario, method in ((four, "exact"), (baseline, "sampled")):
        kwargs = dict(runs=8192, seed=5, shapley=True, shapley_method=method, shapley_runs=4096)
        e1 = explain(scenario, workers=1, **kwargs)
        e2 = explain(scenario, workers=2, **kwargs)
        np.testing.assert_array_equal(e1.counts, e2.counts)
        assert [(x.name, x.removed.joint.tolist()) for x in e1.effects] == \
               [(x.name, x.removed.joint.tolist()) for x in e2.effects]
        for metric in e1.shapley.sums:
            np.testing.assert_array_equal(e1.shapley.sums[metric], e2.shapley.sums[metric])
            np.testing.assert_array_equal(e1.shapley.squares[metric], e2.shapley.squares[metric])


def test_spawned_workers_give_the_same_result(baseline, monkeypatch):
    """Where fork is not used (macOS, Windows, a threaded parent) workers are spawned and
    compile the model from the pickled scenario: still the same numbers."""
    import multiprocessing

    monkeypatch.setattr(sim.parallel, "process_context", lambda: multiprocessing.get_context("spawn"))
    one, chunks_one = collect(baseline, 1, runs=6000, seed=2, chunk_size=1024)
    two, chunks_two = collect(baseline, 2, runs=6000, seed=2, chunk_size=1024)
    np.testing.assert_array_equal(columns(chunks_one)["position"], columns(chunks_two)["position"])
    np.testing.assert_array_equal(one.trajectory, two.trajectory)


# --- Stopping -----------------------------------------------------------------------------------


@pytest.mark.parametrize("workers", [1, 2])
def test_a_stop_keeps_a_contiguous_prefix_equal_to_the_full_run(baseline, workers):
    """Stopped after the third chunk: replicates [0, 3 chunks) exactly as the full run has them."""
    full, full_chunks = collect(baseline, 1, runs=30_000, seed=9, chunk_size=2048)
    stop = threading.Event()
    seen = []

    def sink(chunk):
        seen.append(chunk)
        if len(seen) == 3:
            stop.set()

    part = run(baseline, runs=30_000, seed=9, chunk_size=2048, sink=sink, workers=workers, stop=stop)
    assert part.interrupted and part.runs == 3 * 2048 and [c.start for c in seen] == [0, 2048, 4096]
    np.testing.assert_array_equal(columns(seen)["outcome"], columns(full_chunks)["outcome"][: part.runs])


def test_ordered_map_keeps_order_and_stops():
    """Results in index order whatever finishes first; a stop ends the map."""
    assert list(ordered_map(_slow_square, 12, workers=3)) == [i * i for i in range(12)]
    stop = threading.Event()
    got = []
    for value in ordered_map(_slow_square, 50, workers=2, stop=stop):
        got.append(value)
        if len(got) == 4:
            stop.set()
    assert got == [0, 1, 4, 9]


def test_an_error_in_a_worker_reaches_the_caller():
    with pytest.raises(ZeroDivisionError):
        list(ordered_map(_fails_at_five, 10, workers=2))


def test_when_a_worker_dies_this_process_finishes_the_work():
    """A child killed (here it exits at once) costs a warning, not the work: same results."""
    with pytest.warns(RuntimeWarning, match="worker process died"):
        assert list(ordered_map(_dies_in_a_child, 10, workers=2)) == list(range(10))


# --- How many workers ---------------------------------------------------------------------------


def test_small_runs_stay_in_one_process(baseline):
    """The default is capped by the work: a 2,000-replicate run starts no process."""
    assert default_workers(2) == 1
    assert default_workers(MIN_BLOCKS_PER_WORKER - 1) == 1
    assert default_workers(10**6) == sim.parallel.usable_cores()
    assert run(baseline, runs=2000, seed=1, workers=None).workers == 1


def test_more_workers_than_chunks_run_as_many_as_there_are_chunks(baseline):
    """A process beyond the pieces of work would have nothing to do: it is not started, nor recorded (the note
    that says so is the command line's: test_cli, test_sweep_parallel)."""
    from sim.parallel import choose_workers

    assert choose_workers(200, blocks=2, pieces=2) == 2 and choose_workers(None, blocks=10**6, pieces=3) <= 3
    assert choose_workers(1, blocks=2, pieces=2) == 1 and choose_workers(5, blocks=0, pieces=0) == 1
    assert run(baseline, runs=2000, seed=1, chunk_size=1024, workers=16).workers == 2
    assert run(baseline, runs=2000, seed=1, chunk_size=4096, workers=16).workers == 1


def test_the_sweep_executor_counts_its_tasks_without_making_them():
    """`count_tasks` (what the sweep's workers are capped by) is the length of `make_tasks`."""
    from sim.sweep.execute import count_tasks, make_tasks

    scenario = load_scenario(SMALL)
    for points, n_blocks, workers in itertools.product((1, 2, 5, 12, 40), (1, 3, 16, 17, 100), (1, 2, 7, 200)):
        tasks = make_tasks(dict.fromkeys(range(points), scenario), n_blocks * 1024, 1, workers)
        assert count_tasks(points, n_blocks, workers) == len(tasks), (points, n_blocks, workers)


@pytest.mark.parametrize("workers", [0, -1, 1.5, True])
def test_bad_workers_are_an_input_error(baseline, workers):
    with pytest.raises(InputError, match="workers"):
        run(baseline, runs=1000, workers=workers)


def _slow_square(i: int) -> int:
    import time

    time.sleep(0.002 * (i % 3))
    return i * i


def _fails_at_five(i: int) -> int:
    return 1 // (i - 5)


_PARENT = os.getpid()


def _dies_in_a_child(i: int) -> int:
    if os.getpid() != _PARENT:
        os._exit(3)
    return i


@pytest.mark.slow  # a subprocess and its signals or workers: seconds; CI runs it (-m slow)
def test_an_unguarded_script_whose_spawned_workers_die_is_told_why(tmp_path):
    """Where workers are spawned (another thread running, as here; macOS, Windows), each imports
    the caller's script: one that runs with workers=2 at its top level, as the README's example
    does, kills every worker with multiprocessing's "bootstrapping phase" error. The run still
    finishes in one process with the same numbers, and the warning names the missing
    `if __name__ == '__main__':` rather than only "killed, or out of memory?"."""
    import subprocess
    import sys

    script = tmp_path / "unguarded.py"
    script.write_text(
        "import threading, time\n"
        "threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n"
        "from sim import load_scenario, run\n"
        f"scenario = load_scenario({str(SMALL)!r})\n"
        "print(run(scenario, runs=4096, seed=3, chunk_size=1024, workers=2).counts.tolist())\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "outside `if __name__ == '__main__':`" in done.stderr
    assert done.stdout.strip() == str(run(load_scenario(SMALL), runs=4096, seed=3).counts.tolist())
