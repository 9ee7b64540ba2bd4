"""What a run will cost, said before it starts: memory and disk from the model's dimensions.

`estimate` counts the arrays the engine allocates for one chunk of replicates
and the bytes a result directory takes; `check_resources` refuses (an
`InputError`, exit 2) work whose estimate exceeds a limit, by default the
memory available now (and, for one process, its address-space limit, `ulimit -v`, which
counts all that a process maps: `address_space`) and the free disk under the target, so that a summit
dated 9999-12-31, a menu of half a million packages or an incident rate of 10^6
a month is refused in a second with the figure, not after 22 GB and 205 s.

The estimate follows the engine as it is (`montecarlo`, `model.draw_state`,
`timeline`, `summit`, `engines/`, `results`); when the engine changes what it
allocates per chunk, `_chunk_bytes` is the one function to update.
"""

from __future__ import annotations

import math
import os
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .address_space import (
    address_space_limit,
    eum_address_space,
    format_size,
    loaded_address_space,
    virtual_size,
)
from .errors import InputError, Problem
from .model import Model
from .randomness import BLOCK_SIZE
from .schema import mean_of, support

__all__ = ["CLI_WORDING", "LIBRARY_WORDING", "Estimate", "Wording", "add_output",
           "address_space_need", "available_memory", "check_memory",
           "check_resources", "estimate", "estimate_eum",
           "estimate_models", "estimate_output", "estimate_points", "format_size", "free_disk", "object_bytes",
           "parse_size"]

F64 = 8
BASE_PROCESS = 250 << 20
"""A Python process with numpy, numba, SimPy, pydantic and matplotlib loaded, measured: ~200 MiB."""
TRAJECTORY_SAMPLE = 4096  # montecarlo.TRAJECTORY_SAMPLE (not imported: it would import the engine)
DAYS_PER_MONTH = 30.4375
PLOTS_AND_SUMMARY = 2 << 20
POINT_BYTES = 512
"""Disk a point of a sweep or calibration takes: its row in the store and in points.csv,
measured at about 400 bytes with two factors, plus `FACTOR_BYTES` a factor."""
FACTOR_BYTES = 32
POINT_OVERHEAD = 4 << 10
"""Memory a sweep's point holds besides its scenario: its row of the plan, its piece of a
task, its results row (measured at about 3 KiB with two factors)."""
STORE_BYTES = 4 << 20
"""SQLite's write-ahead log beside a sweep's store, up to its checkpoint of 1,000 pages."""


@dataclass(frozen=True)
class Estimate:
    """Peak memory and disk of a piece of work, in bytes, with what each is made of."""

    memory: int
    disk: int
    breakdown: dict[str, int] = field(default_factory=dict)
    less_memory: str = "lower {chunk_size}, simplify the scenario"
    """How to need less memory, for the refusal (`{chunk_size}`: the option or argument, `Wording`)."""
    less_disk: str = "lower {runs}"
    """How to write less, for the refusal: the disk grows with the runs, or with the points."""
    per_process: int | None = None
    """Peak memory of the largest single process of the work, where it runs on several (None:
    all of `memory` is one process's), for a limit each process has of its own (RLIMIT_AS)."""

    loaded: int | None = None
    """Address space the work's process maps once loaded, before the work, where that is not a
    sim run's (`address_space.loaded_address_space`): `sim eum` loads less."""

    @property
    def process_memory(self) -> int:
        """Peak memory of the work's largest single process."""
        return self.memory if self.per_process is None else self.per_process


def estimate(model: Model, runs: int, chunk_size: int, *, write: bool = True, workers: int = 1,
             trajectories: bool = True) -> Estimate:
    """Peak memory and disk of `run` on `model`: `runs` replicates in chunks of `chunk_size`
    (rounded up to whole blocks of 1,024, as `montecarlo.resolve_settings` does), writing
    a result directory if `write`, keeping the fan chart's trajectories if `trajectories`
    (a sweep's points keep none).

    Memory counts, per chunk of n replicates: every drawn parameter (n,), the state
    ((n_agents, n_issues, n) positions, ideals, held forces, saliences, positions and
    saliences at the summit; per agent, trust pair, event, incident stream, election and
    alliance (n,) rows), the engine's scratch (n_agents, n_issues, n), the incident arrivals
    of the chunk (from the largest rate a stream can draw), and the summit's anchor values
    (deciders, n_issues, max anchors, n), deviations and a tile of prefix sums (the menu
    itself is searched, not stored); plus the fan chart's trajectories
    (weeks, n_agents, n_issues, 4,096) if kept, and the process itself (`BASE_PROCESS`). With
    `workers` processes, each child holds a chunk's working set and a process of its own
    (counted whole, though a forked child shares most of its pages with the parent), and
    the parent up to `4 workers` finished chunks waiting for their turn (`sim.parallel`):
    the parent is then the largest single process (`Estimate.per_process`).
    Disk counts the per-replicate columns (5 + 4 n_agents n_issues bytes a replicate),
    the largest column once more (it is copied from raw to .npy), and the plots.
    """
    return estimate_models([model], runs, chunk_size, write=write, workers=workers, trajectories=trajectories)


def estimate_models(models: Iterable[Model], runs: int, chunk_size: int, *, write: bool = False,
                    extra: dict[str, int] | None = None, workers: int = 1, trajectories: bool = True) -> Estimate:
    """The peak of running `models` side by side on the same replicates (`compare`,
    `explain`: each one's chunk stays alive while the others run theirs) on `workers`
    processes, as `estimate`."""
    models = list(models)
    n = _chunk_replicates(chunk_size, runs)
    breakdown = {"process": BASE_PROCESS}
    parts = [_chunk_bytes(m, n) for m in models]
    for name in _HELD:  # every model's chunk stays alive while the others run theirs
        breakdown[name] = sum(p[name] for p in parts)
    heaviest = max(parts, key=lambda p: sum(p[name] for name in _TRANSIENT))
    breakdown.update((name, heaviest[name]) for name in _TRANSIENT)  # freed between timelines
    first = models[0]
    if trajectories:
        k = min(runs, TRAJECTORY_SAMPLE)
        breakdown["trajectories"] = first.weeks * first.n_agents * first.n_issues * k * (4 + 2 * F64)
    breakdown.update(extra or {})
    if workers > 1:
        one = BASE_PROCESS + sum(breakdown[name] for name in (*_HELD, *_TRANSIENT))
        breakdown["worker processes"] = (workers - 1) * one
        breakdown["chunks waiting their turn"] = 4 * workers * sum(p["chunk output"] for p in parts)
    memory = sum(breakdown.values())
    per_process = memory - breakdown["worker processes"] if workers > 1 else None
    disk = 0
    if write:
        per_replicate = 5 + 4 * first.n_agents * first.n_issues
        disk = runs * per_replicate + runs * 4 * first.n_agents * first.n_issues + PLOTS_AND_SUMMARY
        breakdown["disk: replicate columns"] = runs * per_replicate
    if n <= BLOCK_SIZE:  # a chunk is one block already: a smaller chunk size cannot help
        one_block = f"simplify the scenario (a chunk is one block of {BLOCK_SIZE:,} replicates already)"
        return Estimate(int(memory), int(disk), breakdown, less_memory=one_block,
                        per_process=None if per_process is None else int(per_process))
    return Estimate(int(memory), int(disk), breakdown, per_process=None if per_process is None else int(per_process))


EUM_ROUND_VALUE = 240
"""Bytes of one actor's position or risk exponent in one round of `sim eum`'s report: a
Python float in a dict, and its JSON text (measured: 100,000 rounds of 10 actors, 0.9 GB)."""
EUM_ROUND = 1024
"""Bytes of one round's own entry in that report (its dicts, median and mean)."""
EUM_TILE = 64  # sim.eum.batch.TILE (not imported: it would compile the kernels), replicates a tile
EUM_PAPER_ARRAYS = 16
"""(n_actors, n_actors, replicates) float arrays alive at once in a round of the paper variant
(`sim.eum.paper.step_paper`; measured: 12 to 13 of them for 10 to 100 actors)."""


def estimate_eum(n_actors: int, rounds: int, runs: int | None = None, chunk_size: int | None = None,
                 variant: str = "scholz", *, as_given: bool = True) -> Estimate:
    """Peak memory of `sim eum`: the run on the actors as given, every round of it recorded
    and reported (positions and risk exponents (rounds + 1, n_actors) and their Python
    objects) and the kernel's (n_actors, n_actors) work arrays; with `runs`, the Monte Carlo's
    median and mean per round and replicate (rounds + 1, runs), a chunk's perturbed inputs and
    the kernel's copies of them (about ten (n_actors, chunk) arrays, chunk rounded up to whole
    blocks), the kernel's work arrays (`scholz`: six (n_actors, n_actors, EUM_TILE); `paper`:
    `EUM_PAPER_ARRAYS` (n_actors, n_actors, chunk)) and the final medians' summary. Without
    `as_given`, the Monte Carlo alone (`eum.summary.summarise_monte_carlo` runs nothing on the
    actors as given). No disk: eum writes only to stdout."""
    steps = rounds + 1
    square = n_actors * n_actors * F64
    per_replicate = EUM_PAPER_ARRAYS if variant == "paper" else 1
    breakdown = {"process": BASE_PROCESS}
    if as_given:
        breakdown["rounds as given"] = (steps * (2 * n_actors + 2) * F64
                                        + steps * (2 * n_actors * EUM_ROUND_VALUE + EUM_ROUND))
        breakdown["the run's work arrays"] = per_replicate * square
    less = "lower {runs} or {rounds}"
    if runs is not None:
        chunk = _chunk_replicates(chunk_size or BLOCK_SIZE, runs)
        breakdown["Monte Carlo medians and means"] = 2 * steps * runs * F64
        breakdown["a chunk's inputs"] = 10 * n_actors * chunk * F64 + 2 * steps * chunk * F64
        breakdown["the Monte Carlo's work arrays"] = (EUM_PAPER_ARRAYS * min(chunk, runs) if variant == "paper"
                                                      else 6 * EUM_TILE) * square
        breakdown["summary of the final medians"] = 2 * runs * F64
        if max(breakdown, key=breakdown.__getitem__) == "the Monte Carlo's work arrays":
            less = ("lower {chunk_size} or {runs}, or use fewer actors (the work arrays grow as their square)"
                    if variant == "paper" else "use fewer actors (the work arrays grow as their square)")
    return Estimate(int(sum(breakdown.values())), 0, breakdown, less_memory=less, loaded=eum_address_space())


def _chunk_replicates(chunk_size: int, runs: int) -> int:
    """Replicates in the largest chunk of a run: `chunk_size` rounded up to whole blocks (as
    `montecarlo.resolve_settings` does), at most the blocks of `runs`."""
    blocks = max(1, -(-chunk_size // BLOCK_SIZE))
    return min(blocks, -(-runs // BLOCK_SIZE)) * BLOCK_SIZE


_HELD = ("parameters", "state", "chunk output")
_TRANSIENT = ("engine", "incident arrivals", "summit menu")


def _chunk_bytes(m: Model, n: int) -> dict[str, int]:
    """Bytes of one chunk of `n` replicates of model `m`, by what holds them."""
    A, I = m.n_agents, m.n_issues
    E, K, L, AL = len(m.events), len(m.incidents), len(m.elections), len(m.alliances)
    D, W, PR = len(m.deciders), max(len(a) for a in m.issue_anchors), len(m.pairs)
    rows = 6 * A * I + 4 * A + 3 * PR + 8 + E + K + L + 2 * AL + 2 * len(m.mediators) + 1 + len(m.parties)
    engine = 2 * A * I * n * F64  # the force and the pull scratch
    if m.engine == "eum":
        engine += 24 * A * A * n * F64  # step_eum's (n_agents, n_agents, n) arrays
    arrivals = 0.0
    for inc in m.incidents:
        span = m.horizon + 1 - inc.start_day
        arrivals += _rate_ceiling(inc.rate_per_month) * span / DAYS_PER_MONTH * n * (48 + 24 * len(inc.effects))
    return {
        "parameters": len(m.params) * n * F64,
        "state": rows * n * F64,
        "chunk output": (A * I * 4 + 5) * n,
        "engine": engine,
        "incident arrivals": int(min(arrivals, 2**62)),
        "summit menu": (D * I * W + 2 * A * I + D + 4) * n * F64 + D * I * 1024 * F64,
    }


def _rate_ceiling(param) -> float:
    """The largest incident rate a replicate can draw (for a normal without `high`, the
    mean plus 5 sd)."""
    hi = support(param)[1]
    if math.isfinite(hi):
        return max(hi, 0.0)
    return max(mean_of(param) + 5 * getattr(param, "sd", 0.0), 0.0)


def estimate_output(points: int = 0, factors: int = 0) -> Estimate:
    """Disk of a result that is a summary with plots (`compare`, `explain`, `backtest`), and
    with `points` > 0 the store and table of that many points of `factors` factors each
    (`sweep`, `calibrate`); memory is counted separately, per worker (`estimate`)."""
    breakdown = {"disk: summary and plots": PLOTS_AND_SUMMARY}
    if points:
        breakdown["disk: points"] = STORE_BYTES + points * (POINT_BYTES + FACTOR_BYTES * factors)
    return Estimate(0, sum(breakdown.values()), breakdown, less_disk="use fewer points" if points else "")


def estimate_points(work: Estimate, scenario: object, points: int) -> Estimate:
    """`work` (one point on each worker) with the memory of a sweep's `points` scenarios like
    `scenario`: every point's scenario is built and validated before the first one runs,
    and held until the last has (about 100 KiB each for the baseline: 100 GiB for a grid of
    a million points). Forked workers share them (`sweep.execute.ProcessBackend`), but each
    one's address space holds them: they count in every process's share (`per_process`)."""
    held = points * (object_bytes(scenario) * 5 // 4 + POINT_OVERHEAD)
    return Estimate(work.memory + held, work.disk, {**work.breakdown, "the points' scenarios": held},
                    less_memory="use fewer points" if held > work.memory else work.less_memory,
                    less_disk=work.less_disk,
                    per_process=None if work.per_process is None else work.per_process + held, loaded=work.loaded)


def object_bytes(obj: object) -> int:
    """Bytes `obj` occupies with everything it refers to (pydantic models, dicts, lists,
    tuples, sets), each object counted once, as `sys.getsizeof` counts them: a lower bound
    (the allocator's own overhead is not counted; it adds about a fifth for a scenario)."""
    import sys

    seen: set[int] = set()
    stack, total = [obj], 0
    while stack:
        o = stack.pop()
        if id(o) in seen:
            continue
        seen.add(id(o))
        total += sys.getsizeof(o)
        if isinstance(o, dict):
            stack += [*o.keys(), *o.values()]
        elif isinstance(o, (list, tuple, set, frozenset)):
            stack += list(o)
        elif hasattr(o, "__dict__"):
            stack.append(o.__dict__)
            stack += [v for v in (getattr(o, "__pydantic_fields_set__", None), getattr(o, "__pydantic_extra__", None),
                                  getattr(o, "__pydantic_private__", None)) if v is not None]
    return total


def add_output(work: Estimate, output: Estimate) -> Estimate:
    """`work`'s memory with `output`'s disk, each with its advice."""
    return Estimate(work.memory, work.disk + output.disk, {**work.breakdown, **output.breakdown},
                    less_memory=work.less_memory, less_disk=output.less_disk, per_process=work.per_process,
                    loaded=work.loaded)


# --- Limits -----------------------------------------------------------------------------------


def available_memory() -> int | None:
    """Bytes of memory available to this process now: /proc/meminfo's MemAvailable, or
    the cgroup's limit less its use where that is smaller; None where unknown."""
    found = []
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    found.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        try:
            found.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (OSError, ValueError, AttributeError):
            pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = Path("/sys/fs/cgroup/memory.current").read_text().strip()
        if limit != "max":
            found.append(max(0, int(limit) - int(used)))
    except (OSError, ValueError):
        pass
    return min(found) if found else None


def address_space_need(work: Estimate) -> int:
    """Bytes of address space the largest process of `work` maps at its peak: what this process
    maps now or what a loaded sim process maps (`address_space.loaded_address_space`: a fresh
    worker maps as much at start), whichever is larger, and the work's memory beyond the
    process itself (`BASE_PROCESS`, resident memory inside that address space). Where the
    virtual size now is unknown, the loaded process's alone."""
    return _process_address_space(work) + max(0, work.process_memory - BASE_PROCESS)


def _process_address_space(work: Estimate) -> int:
    """Address space of the process `work` runs in, before the work: what this one maps now
    or what a loaded sim process maps (`Estimate.loaded`), whichever is larger."""
    space = _address_space()
    now = space[1] if space is not None else virtual_size()
    return max(now or 0, _loaded(work))


def _loaded(work: Estimate) -> int:
    return loaded_address_space() if work.loaded is None else work.loaded


def _address_space() -> tuple[int, int | None] | None:
    """(soft RLIMIT_AS, virtual size now or None where unknown) of this process, in bytes;
    None where there is no limit."""
    limit = address_space_limit()
    return None if limit is None else (limit, virtual_size())


def _resident() -> int:
    """Bytes this process holds in memory now (0 where unknown)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def free_disk(path: str | Path) -> int | None:
    """Free bytes on the file system that holds `path` (or its nearest existing parent); None
    where unknown, as on a pseudo file system of no blocks at all (/proc: writing there fails
    for another reason, which the writer reports)."""
    path = Path(path).absolute()
    for candidate in (path, *path.parents):
        try:  # exists() raises on a name too long, for one: then ask its parents
            if not candidate.exists():
                continue
            usage = shutil.disk_usage(candidate)
        except OSError:
            continue
        return usage.free if usage.total > 0 else None
    return None


_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "m": 1000**2, "mb": 1000**2, "g": 1000**3, "gb": 1000**3,
          "t": 1000**4, "tb": 1000**4, "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}


def parse_size(text: str) -> int:
    """`2GiB`, `500MB`, `1.5G`, `1e9` as bytes; a `ValueError` otherwise (argparse's message)."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([a-zA-Z]*)\s*", text)
    if m is None or m.group(2).lower() not in _UNITS:
        raise ValueError(f"not a size: {text!r} (write e.g. 2GiB, 500MB, 1e9)")
    value = float(m.group(1)) * _UNITS[m.group(2).lower()]
    if not math.isfinite(value) or value < 1:
        raise ValueError(f"not a size: {text!r}")
    return int(value)


@dataclass(frozen=True)
class Wording:
    """How a refusal names what the user can change: the command line's options or the
    library's arguments. An estimate's advice (`Estimate.less_memory`, `less_disk`) writes
    each as `{chunk_size}`, `{runs}`, `{rounds}`, filled in from `names`."""

    max_memory: str
    """The source of a refusal under a given memory limit."""
    max_disk: str
    raise_memory: str
    """The last advice: how to allow more memory."""
    raise_disk: str
    names: dict[str, str] = field(default_factory=dict)

    def renamed(self, names: dict[str, str] | None) -> Wording:
        """This wording with some of its names replaced: for work whose `{chunk_size}` or `{runs}` is
        set elsewhere than in an option or argument of the call (a sweep's scenario, a case's file)."""
        return replace(self, names={**self.names, **names}) if names else self

    def advice(self, text: str) -> str:
        for key, name in self.names.items():
            text = text.replace("{" + key + "}", name)
        return text


CLI_WORDING = Wording("--max-memory", "--max-disk", "raise --max-memory", "raise --max-disk",
                      {"chunk_size": "--chunk-size", "runs": "--runs", "rounds": "--rounds"})
LIBRARY_WORDING = Wording("max_memory", "max_disk", "pass a larger max_memory= (bytes)",
                          "pass a larger max_disk= (bytes)",
                          {"chunk_size": "chunk_size=", "runs": "runs=", "rounds": "rounds="})


_SUMS = ("worker processes", "chunks waiting their turn")
"""Parts of an estimate's breakdown that add up others (`estimate_models` with workers): never
named as the largest part, which is what to change."""


def check_resources(work: Estimate, *, what: str, max_memory: int | None = None, max_disk: int | None = None,
                    disk_path: str | Path | None = None, wording: Wording = CLI_WORDING) -> int | None:
    """Refuse `work` (an `InputError` naming the options, or with `LIBRARY_WORDING` the
    arguments) when its memory exceeds `max_memory` (default: `available_memory()`) or its
    disk `max_disk` (default: the free space under `disk_path`). Without `max_memory`, the
    address space of the work's largest single process (`address_space_need`: what a loaded
    sim process maps, and `Estimate.process_memory` beyond the process itself) is also held to
    its address-space limit (`ulimit -v`), which each process has of its own: a mapping beyond
    it fails however much memory the machine has free. An explicit `max_memory` replaces both,
    as it replaces the memory available.
    `what` says what was estimated, and `work`'s `less_memory` and `less_disk` how to need
    less, for the message. Returns the memory limit the work was held to (None where the
    memory available is unknown), for the library's own check of the work it then runs
    (`check_memory`'s `max_memory`)."""
    problems = []
    memory_limit = max_memory
    if memory_limit is None:
        available = available_memory()  # the estimate counts this process's own memory too
        memory_limit = None if available is None else available + _resident()
    less = wording.advice(work.less_memory)
    if memory_limit is not None and work.memory > memory_limit:
        each = " in each process" if "worker processes" in work.breakdown else ""
        source = wording.max_memory if max_memory is not None else "memory"
        loaded = work.breakdown.get("process", 0)
        if loaded >= memory_limit:  # no option makes room: a loaded sim process alone does not fit
            why, less = f"{'each' if each else 'a'} sim process alone takes about {format_size(loaded)} once loaded", ""
        else:  # the process is no part to change: the largest of the others is
            why = f"the largest part {_largest(work, 'process')}{each}"
        problems.append(Problem(source, "", f"{what} would need about {format_size(work.memory)} of memory "
                                f"({why}), more than the "
                                f"{format_size(memory_limit)} {'allowed' if max_memory is not None else 'available'}; "
                                f"{less + ', or ' if less else ''}{wording.raise_memory}"))
    elif max_memory is None:
        space = _address_space()
        need = None if space is None else address_space_need(work)
        if need is not None and need > space[0]:
            one = " in one process" if work.per_process is not None else ""
            process = _process_address_space(work)
            why = (f"a sim process maps about {format_size(process)} once loaded" if process == _loaded(work)
                   else f"this process maps {format_size(process)} already")
            less_space = ""
            if process < space[0]:  # else no chunk size makes room: the process alone does not fit
                why += f"; the largest part of the work {_largest(work, 'process')}"
                less_space = less + ", or " if less else ""
            problems.append(Problem(
                "address space", "", f"{what} would need about {format_size(need)} of address space{one} ({why}), "
                f"more than its address-space limit of {format_size(space[0])} (ulimit -v); {less_space}raise that "
                "limit"))
    if work.disk:
        disk_limit = max_disk if max_disk is not None else (free_disk(disk_path) if disk_path is not None else None)
        if disk_limit is not None and work.disk > disk_limit:
            source = wording.max_disk if max_disk is not None else "disk"
            less = wording.advice(work.less_disk)
            room = "allowed" if max_disk is not None else f"free on the file system of {disk_path}"
            problems.append(Problem(source, "", f"{what} would write about {format_size(work.disk)}, more than the "
                                    f"{format_size(disk_limit)} {room}; "
                                    f"{less + ', or ' if less else ''}{wording.raise_disk}"))
    if problems:
        raise InputError(problems)
    return memory_limit


def _largest(work: Estimate, *leaving: str) -> str:
    """The largest part of `work`'s memory but those `leaving`, with its size: what to change. The
    worker processes' total is each one's parts again: the largest of those is the cause."""
    parts = [(k, v) for k, v in work.breakdown.items() if not k.startswith("disk") and k not in _SUMS]
    name, size = max([(k, v) for k, v in parts if k not in leaving] or parts, key=lambda kv: kv[1])
    return f"{name}: {format_size(size)}"


def check_memory(work: Estimate, what: str, max_memory: int | None = None,
                 names: dict[str, str] | None = None) -> None:
    """The library's refusal (`run`, `compare`, `explain`, `sweep.run_sweep`,
    `calibrate.run_calibration`, `eum.summary`), before any replicate runs: an `InputError`
    naming the arguments (`chunk_size=`, `max_memory=`) when `work`'s memory exceeds
    `max_memory` bytes (None: the memory available now, and the address-space limit).
    `names` replaces some of `LIBRARY_WORDING`'s names, for work whose `{runs}` or
    `{chunk_size}` is set elsewhere than in an argument of the call (a sweep's scenario). A
    `max_memory` that is not a whole number >= 1 is refused too."""
    if max_memory is not None and (isinstance(max_memory, bool) or not isinstance(max_memory, (int, np.integer))
                                   or max_memory < 1):
        raise InputError(Problem("max_memory", "", "must be a whole number of bytes >= 1, or None for the memory "
                                 "available", max_memory, True))
    check_resources(work, what=what, max_memory=None if max_memory is None else int(max_memory),
                    wording=LIBRARY_WORDING.renamed(names))
