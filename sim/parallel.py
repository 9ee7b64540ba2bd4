"""One Monte Carlo run's chunks over several processes, results in chunk order.

A chunk's replicates depend only on (seed, block) (`sim.randomness`), so a run
gives the same numbers on any number of workers; what this module adds is
keeping the order. `ordered_map(job, n, workers)` yields `job(0) ... job(n-1)`
in order while `workers - 1` child processes and this process compute them:
children take indices from the front of the queue, this process takes the next
unclaimed one whenever the next result to hand over is still with a child, and
finished results wait (a bounded number of them) until their turn. So a sink
downstream sees replicates [0, done) whole, as with one worker, and a stop
leaves a contiguous prefix.

Children are forked where that is safe (Linux, no other threads yet): they
inherit the loaded modules and compiled kernels and start in milliseconds.
Elsewhere they are spawned and the job is pickled to them once. Children
ignore Ctrl-C; the caller's `stop` event ends the map after the result in hand.
Children exit when their parent dies, however it dies.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

__all__ = ["MIN_BLOCKS_PER_SPAWNED", "MIN_BLOCKS_PER_WORKER", "choose_workers", "default_workers", "flush_stdio",
           "forks_safely", "ordered_map", "process_context", "usable_cores", "worker_setup"]

MIN_BLOCKS_PER_WORKER = 32
"""Blocks of replicates (about 0.25 s of the baseline on one core) below which another
worker costs more than it saves: a 2,000-replicate run stays in one process."""
MIN_BLOCKS_PER_SPAWNED = 256
"""The same for a spawned worker (where forking is not safe: not Linux, or other threads
running): it imports sim and loads the compiled kernels before its first task, about a
second here, so it needs about two seconds of work to pay for itself."""
POLL_SECONDS = 0.05
"""How often a wait for a child's result looks at the stop event."""
ORPHAN_POLL_SECONDS = 0.2
"""How often a child checks that its parent is alive."""


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def default_workers(blocks: int) -> int:
    """Processes for `blocks` blocks of work: the usable cores, capped so that each has at
    least `MIN_BLOCKS_PER_WORKER` blocks (`MIN_BLOCKS_PER_SPAWNED` where workers must be
    spawned rather than forked)."""
    per_worker = MIN_BLOCKS_PER_WORKER if forks_safely() else MIN_BLOCKS_PER_SPAWNED
    return max(1, min(usable_cores(), blocks // per_worker))


def choose_workers(requested: int | None, blocks: int, pieces: int) -> int:
    """Processes for `blocks` blocks of work cut into `pieces` (chunks of a run, tasks of a
    sweep), each computed by one process: `requested`, else `default_workers(blocks)`, but
    never more than `pieces`: a process beyond them would have nothing to do, and the
    number recorded as having run the work must be the number that did."""
    workers = default_workers(blocks) if requested is None else requested
    return max(1, min(workers, pieces))


def ordered_map(job: Callable[[int], Any], n: int, workers: int = 1,
                stop: threading.Event | None = None) -> Iterator[Any]:
    """Yield `job(i)` for i in 0 .. n-1, in order, computed on `workers` processes (this
    one included). `job` must be picklable where children are spawned (not on Linux).
    With `stop` set, the map ends after the result it is handing over; what children
    were computing is dropped. If a child dies (killed, out of memory), a warning says so
    and this process computes the rest alone: the results are the same."""
    if workers <= 1 or n <= 1:
        for i in range(n):
            if stop is not None and stop.is_set():
                return
            yield job(i)
        return
    children = min(workers, n) - 1
    flush_stdio()
    context = process_context()
    pool = ProcessPoolExecutor(children, mp_context=context, initializer=_install, initargs=(job,))
    try:
        yield from _ordered(pool, job, n, children, stop, spawned=context.get_start_method() == "spawn")
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _ordered(pool: ProcessPoolExecutor, job: Callable[[int], Any], n: int, children: int,
             stop: threading.Event | None, spawned: bool = False) -> Iterator[Any]:
    depth = 2 * children  # queued per child: a child never waits for the next index
    held = 2 * (children + 1)  # finished results waiting for their turn, at most (memory)
    running: dict[int, Future] = {}
    ready: dict[int, Any] = {}
    claimed = emitted = 0
    while emitted < n:
        if stop is not None and stop.is_set():
            return
        try:
            while len(running) < depth and claimed < n and len(ready) + len(running) < held + depth:
                running[claimed] = pool.submit(_call, claimed)
                claimed += 1
            for i in [i for i, f in running.items() if f.done()]:
                ready[i] = running.pop(i).result()
        except BrokenProcessPool:
            # a spawned child imports the caller's script as __mp_main__: one that starts a run at its
            # top level, unguarded, dies of multiprocessing's "bootstrapping phase" RuntimeError
            why = "killed, or out of memory?"
            if spawned:
                why = ("killed, out of memory, or a script that starts a run outside `if __name__ == '__main__':` "
                       "(workers are spawned here, and each imports the script)")
            warnings.warn(f"a worker process died ({why}): this process finishes the work alone, with the same "
                          "results", RuntimeWarning, stacklevel=2)
            for i in range(emitted, n):
                if stop is not None and stop.is_set():
                    return
                yield ready.pop(i) if i in ready else job(i)
            return
        if emitted in ready:
            yield ready.pop(emitted)
            emitted += 1
        elif claimed < n and len(ready) < held:
            ready[claimed] = job(claimed)  # the head is with a child: do the next one here
            claimed += 1
        else:
            wait(running.values(), timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)


def forks_safely() -> bool:
    """Whether new workers can be forked: Linux, and no thread but this one (a fork copies
    only the calling thread, and with it any lock another thread held)."""
    return sys.platform.startswith("linux") and threading.active_count() == 1


def process_context() -> multiprocessing.context.BaseContext:
    """fork where it is safe and fast (`forks_safely`), else spawn."""
    return multiprocessing.get_context("fork" if forks_safely() else "spawn")


def flush_stdio() -> None:
    """Before a fork: or a forked child would print what the parent had buffered again."""
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()


_JOB: Callable[[int], Any] | None = None


def worker_setup() -> None:
    """In a child: leave Ctrl-C to the parent, die of SIGTERM (not run the parent's
    handler, inherited through fork), record no signal in the parent's pipe, and exit if
    the parent dies."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.set_wakeup_fd(-1)  # a forked child's signals are not the parent's (sim._SIGNAL_RECORD)
    threading.Thread(target=_exit_with, args=(os.getppid(),), daemon=True, name="sim-orphan-watch").start()


def _install(job: Callable[[int], Any]) -> None:
    """In a child of `ordered_map`: `worker_setup`, and keep the job."""
    global _JOB
    worker_setup()
    _JOB = job


def _exit_with(parent: int) -> None:
    """A child whose parent was killed (SIGKILL, out of memory) would otherwise wait on its
    queue for ever, holding the parent's stdout and stderr open: it exits instead."""
    while os.getppid() == parent:
        time.sleep(ORPHAN_POLL_SECONDS)
    os._exit(1)


def _call(i: int) -> Any:
    return _JOB(i)
