"""Monte Carlo: run a scenario's replicates chunk by chunk and count outcomes.

Chunks are whole blocks of replicates (`randomness.BLOCK_SIZE`), so the
numbers do not depend on the chunk size; memory is bounded by the chunk, not
by the number of runs. Per-replicate outputs go to an optional `sink`, one
`Chunk` at a time, in replicate order.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
from numba.core.event import TimingListener, install_listener

from .arguments import check_callbacks, check_knobs, check_scenario, is_number
from .errors import InputError, Problem
from .estimate import Estimate, weighted_quantiles, wilson
from .limits import check_memory, estimate
from .model import CLASSES, SUBSTANTIVE_OR_BETTER, Model, compile_model
from .parallel import choose_workers, ordered_map
from .randomness import BLOCK_SIZE, Blocks, blocks_for, make_root_entropy
from .schema import Scenario
from .schema.rules import MAX_RUNS
from .state import KnobApplier, draw_state
from .timeline import run_timeline

__all__ = ["Chunk", "RunResult", "check_workers", "count_chunks", "resolve_settings", "run", "simulate_chunk",
           "simulate_chunks", "simulate_joint", "simulate_variants"]

TRAJECTORY_SAMPLE = 4096
"""The first replicates whose weekly positions are kept for fan charts."""


@dataclass(frozen=True)
class Chunk:
    """Per-replicate outputs of replicates [start, start + len(outcome))."""

    start: int
    outcome: np.ndarray  # (n,) uint8, index into CLASSES
    package: np.ndarray  # (n,) int64, the deal's index in the menu, -1 for none
    summit_day: np.ndarray  # (n,) int32, days from calendar start
    position: np.ndarray  # (n, n_agents, n_issues) float32, positions at the summit
    signed: np.ndarray  # (n_parties, n) bool, who signed the deal
    model: Model | None = field(default=None, repr=False, compare=False)  # what the rows' labels come from


    def head(self, n: int) -> Chunk:
        """The first `n` replicates of this chunk."""
        return Chunk(self.start, self.outcome[:n], self.package[:n], self.summit_day[:n], self.position[:n],
                     self.signed[:, :n], self.model)


def simulate_chunk(model: Model, entropy: int, runs: int, first: int, count: int, knobs: KnobApplier | None = None,
                   k_traj: int = 0) -> tuple[Chunk, np.ndarray | None]:
    """Blocks [first, first + count) of a run of `runs` replicates: their `Chunk`, and the
    weekly positions (weeks, n_agents, n_issues, k) of those of them among the first
    `k_traj` replicates (None if none is)."""
    blocks = Blocks(entropy, first, count)
    start = first * BLOCK_SIZE
    traj = None
    if start < k_traj:
        traj = np.zeros((model.weeks, model.n_agents, model.n_issues, min(k_traj, start + blocks.size) - start),
                        dtype=np.float32)
    state = draw_state(model, blocks, knobs)
    run_timeline(model, state, blocks, traj)
    keep = min(blocks.size, runs - start)
    chunk = Chunk(
        start=start,
        outcome=state.outcome[:keep],
        package=state.package[:keep],
        summit_day=state.summit_day[:keep].astype(np.int32),
        position=np.moveaxis(state.at_summit[..., :keep], -1, 0).astype(np.float32),
        signed=state.signed[:, :keep],
        model=model,
    )
    return chunk, traj


class _Job:
    """What `parallel.ordered_map` computes per chunk index: the chunk's blocks of every
    model, through `work(models, blocks_in_chunk)`. Pickled (to spawned children) without
    the compiled models, which are recompiled from their scenarios there."""

    def __init__(self, models: list[Model], entropy: int, runs: int, blocks_per_chunk: int, wanted: range, work):
        self.models, self.entropy, self.runs, self.work = models, entropy, runs, work
        self.starts = range(wanted.start, wanted.stop, blocks_per_chunk)
        self.stop_block = wanted.stop

    @property
    def chunks(self) -> int:
        """How many chunks (not `len`: a range of 10^20 blocks has no C-sized length)."""
        return -(-(self.stop_block - self.starts.start) // self.starts.step)

    def __call__(self, i: int):
        first = self.starts[i]
        return self.work(self, first, min(self.starts.step, self.stop_block - first))

    def __getstate__(self) -> dict:
        return {**self.__dict__, "models": [m.scenario for m in self.models]}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.models = [compile_model(s) for s in self.models]


@dataclasses.dataclass(frozen=True)
class _Chunks:
    """Chunks of a run (`simulate_chunks`), sent back without the model (the parent has it)."""

    knobs: KnobApplier | None
    k_traj: int

    def __call__(self, job: _Job, first: int, count: int) -> tuple[Chunk, np.ndarray | None]:
        chunk, traj = simulate_chunk(job.models[0], job.entropy, job.runs, first, count, self.knobs, self.k_traj)
        return dataclasses.replace(chunk, model=None), traj


@dataclasses.dataclass(frozen=True)
class _Joint:
    """Per chunk, (len(models) - 1, 4, 4): replicates by (class under the first model,
    class under each other), each model with its own knob setting."""

    knobs: tuple

    def __call__(self, job: _Job, first: int, count: int) -> np.ndarray:
        k = len(CLASSES)
        outcomes = [simulate_chunk(m, job.entropy, job.runs, first, count, s)[0].outcome
                    for m, s in zip(job.models, self.knobs)]
        ref = outcomes[0].astype(np.int64) * k
        return np.stack([np.bincount(ref + o, minlength=k * k).reshape(k, k) for o in outcomes[1:]])


@dataclasses.dataclass(frozen=True)
class _Variants:
    """Per chunk, (start, classes (n_variants, n)): one draw of the state, every variant
    of the events run on a copy of it (`simulate_variants`)."""

    variants: Callable[[Blocks], list[np.ndarray]]
    knobs: KnobApplier | None

    def __call__(self, job: _Job, first: int, count: int) -> tuple[int, np.ndarray]:
        model = job.models[0]
        blocks = Blocks(job.entropy, first, count)
        keep = min(blocks.size, job.runs - first * BLOCK_SIZE)
        drawn = draw_state(model, blocks, self.knobs)
        masks = self.variants(blocks)
        out = np.empty((len(masks), keep), dtype=np.uint8)
        for v, mask in enumerate(masks):
            state = drawn.copy()
            state.event_probability = drawn.event_probability * mask
            run_timeline(model, state, blocks)
            out[v] = state.outcome[:keep]
        return first * BLOCK_SIZE, out


def simulate_chunks(
    model: Model, entropy: int, runs: int, blocks_per_chunk: int, trajectory: np.ndarray | None = None,
    block_range: range | None = None, knobs: KnobApplier | None = None, workers: int = 1,
    stop: threading.Event | None = None,
) -> Iterator[Chunk]:
    """Simulate replicates [0, runs) chunk by chunk, in order; memory is a few chunks'.

    Two scenarios' iterators with the same entropy and runs yield the same
    replicates in the same order, so they can be zipped for paired estimates.
    `trajectory` (weeks, n_agents, n_issues, k), if given, receives the first k
    replicates' weekly positions. `block_range`, a range of block indices, limits the
    run to those blocks' replicates (a sweep's piece of a point). `knobs` sets calibration
    knobs per replicate (`sim.knobs`). `workers` processes compute the chunks (the numbers
    do not depend on it: `sim.parallel`); with `stop` set, the chunks end early.
    """
    wanted = range(blocks_for(runs)) if block_range is None else block_range
    k_traj = 0 if trajectory is None else trajectory.shape[-1]
    job = _Job([model], entropy, runs, blocks_per_chunk, wanted, _Chunks(knobs, k_traj))
    for chunk, traj in ordered_map(job, job.chunks, workers, stop):
        if traj is not None:
            trajectory[..., chunk.start : chunk.start + traj.shape[-1]] = traj
        yield dataclasses.replace(chunk, model=model)


def simulate_joint(
    models: list[Model], entropy: int, runs: int, blocks_per_chunk: int, knobs: list | None = None,
    workers: int = 1, stop: threading.Event | None = None,
) -> Iterator[np.ndarray]:
    """Per chunk, in order, (len(models) - 1, 4, 4): replicates by (class under models[0],
    class under models[j]), every model on the same replicates (common random numbers).
    `knobs`: one knob setting per model, or None."""
    job = _Job(list(models), entropy, runs, blocks_per_chunk, range(blocks_for(runs)),
               _Joint(tuple(knobs or [None] * len(models))))
    yield from ordered_map(job, job.chunks, workers, stop)


def simulate_variants(
    model: Model, entropy: int, runs: int, blocks_per_chunk: int,
    variants: Callable[[Blocks], list[np.ndarray]], tick: Callable[[int], None] | None = None,
    knobs: KnobApplier | None = None, workers: int = 1, stop: threading.Event | None = None,
) -> Iterator[tuple[int, np.ndarray]]:
    """Run every chunk's replicates once per variant, all on the same draws: for each chunk,
    yield (start, classes (n_variants, n)). `variants(blocks)` gives the chunk's event masks,
    each (n_events, 1) or (n_events, n) booleans saying which events may happen where
    (attribution's coalitions); it must depend on the blocks alone (it may run in a worker
    process). The state is drawn once and every variant runs on a copy, so the variants
    differ by their events alone."""
    job = _Job([model], entropy, runs, blocks_per_chunk, range(blocks_for(runs)), _Variants(variants, knobs))
    for start, out in ordered_map(job, job.chunks, workers, stop):
        if tick is not None:
            tick(out.size)
        yield start, out


@dataclass
class RunResult:
    """What `run` returns: the class counts of its `runs` replicates and how they were made.

    `estimates()` gives each class of `sim.CLASSES` with its Wilson 95 % interval,
    `headline()` P(substantive or better), P(talk fest) and P(collapse); `counts` (4,)
    are the replicates per class, `package_classes` (n_packages + 1, 4) per package of the
    menu (`model.package_names`) and, last, those without a deal, and class (a rubric with
    `signed:` classes one package by who signed it), `package_counts` their sums per
    package; `entropy` is the
    root entropy (the `seed` given, or fresh entropy when there was none: pass it as
    `seed` to repeat the run). With `knobs`, `parameter_spread` says how much the answer
    moves with them.
    """

    scenario: Scenario
    model: Model
    runs: int
    requested_runs: int
    entropy: int
    chunk_size: int
    seconds: float
    counts: np.ndarray  # (4,) replicates per class
    package_classes: np.ndarray  # (n_packages + 1, 4) replicates per package and class; last: no deal
    trajectory: np.ndarray  # (model.weeks, n_agents, n_issues, k) float32, week 0 first
    precision: float | None = None
    stopped_early: bool = False
    interrupted: bool = False
    extra: dict = field(default_factory=dict)
    row_counts: np.ndarray | None = None  # (n_rows, 4) classes per row of knob values, with knobs
    calibration: dict | None = None  # which posterior the knobs came from (`sim.posterior`)
    workers: int = 1  # processes that ran it
    compile_seconds: float = 0.0  # compiling kernels (the first run after installing), left out of `seconds`
    row_settings: np.ndarray | None = None  # (n_rows,) which distinct knob values each row holds, with knobs

    def estimates(self) -> dict[str, Estimate]:
        """Each class of `sim.CLASSES`, in that order, with its Wilson 95 % interval."""
        return {c: wilson(int(k), self.runs) for c, k in zip(CLASSES, self.counts)}

    @property
    def package_counts(self) -> np.ndarray:
        """(n_packages + 1,) replicates per package of the menu; last: no deal or collapse."""
        return self.package_classes.sum(axis=1)

    @property
    def deals(self) -> int:
        """Replicates that ended in a deal (any package agreed)."""
        return int(self.runs - self.package_counts[-1])

    def parameter_spread(self, classes: tuple[int, ...], level: float = 0.95) -> dict | None:
        """How much P(classes) moves with the knobs over the posterior: the central `level`
        range of P(classes | knob values) over the distinct knob values the rows hold (rows
        drawn from one grid point are pooled, each setting weighted by its replicates), each
        setting's estimate shrunk toward the mean so that the Monte Carlo part of their
        spread is removed (method of moments), and the between-setting sd. None without
        knobs, or with a single row; 0 wide where every row holds the same values.
        The method of moments removes the Monte Carlo part on average only: with few replicates
        a setting, a class the knobs do not move still shows a range. `homogeneity_p` says
        whether the settings' estimates differ by more than Monte Carlo noise (Pearson's
        chi-square test of one probability for all settings: a small value says the knobs move
        P(classes); 0.05 or more, that this many replicates cannot tell the range from noise).
        `classes`: positions in `sim.CLASSES`, `level` in (0, 1] (an `InputError` otherwise)."""
        if isinstance(classes, np.ndarray) and classes.ndim == 1:
            classes = classes.tolist()
        if not isinstance(classes, (tuple, list)):  # one position (1) iterated or an array's truth asked: a TypeError
            raise InputError(Problem("parameter_spread", "classes", "must be a tuple of positions in sim.CLASSES "
                                     f"{CLASSES}, e.g. (0, 1) for substantive or better", classes, True))
        bad = [c for c in classes if isinstance(c, bool) or not (isinstance(c, (int, np.integer))
                                                                 and 0 <= c < len(CLASSES))]
        if bad or not classes:
            raise InputError(Problem("parameter_spread", "classes", f"must be positions 0 to {len(CLASSES) - 1} "
                                     f"in sim.CLASSES {CLASSES}", list(classes), True))
        if len(set(map(int, classes))) < len(classes):  # (1, 1) counted substantive twice: P above 1
            raise InputError(Problem("parameter_spread", "classes", "must name each class once", list(classes), True))
        if not is_number(level) or not 0 < level <= 1:
            raise InputError(Problem("parameter_spread", "level", "must be a share above 0 and at most 1 (0.95 for "
                                     "the central 95 %)", level, True))
        if self.row_counts is None or len(self.row_counts) < 2:
            return None
        settings = self.row_settings if self.row_settings is not None else np.arange(len(self.row_counts))
        counts = np.zeros((int(settings.max()) + 1, len(CLASSES)), dtype=np.int64)
        np.add.at(counts, settings, self.row_counts)
        n = counts.sum(axis=1).astype(float)
        use = n > 0
        p = counts[use][:, list(classes)].sum(axis=1) / n[use]
        w = n[use] / n[use].sum()
        mean = float(self.counts[list(classes)].sum() / max(self.runs, 1))
        total = float(w @ (p - mean) ** 2)
        noise = float(w @ (mean * (1 - mean) / n[use]))
        between = max(total - noise, 0.0)
        shrink = np.sqrt(between / total) if total > 0 else 0.0
        tail = (1 - level) / 2
        low, high = weighted_quantiles(mean + shrink * (p - mean), w, (tail, 1 - tail))
        return {"low": low, "high": high, "sd": float(np.sqrt(between)),
                "rows": int((self.row_counts.sum(axis=1) > 0).sum()), "settings": int(use.sum()),
                "homogeneity_p": _homogeneity_p(total, mean, float(n[use].sum()), int(use.sum()))}

    def headline(self) -> dict[str, Estimate]:
        """P(substantive or better), P(talk fest), P(collapse)."""
        c = self.counts
        return {
            "substantive_or_better": wilson(int(c[list(SUBSTANTIVE_OR_BETTER)].sum()), self.runs),
            "talk_fest": wilson(int(c[2]), self.runs),
            "collapse": wilson(int(c[3]), self.runs),
        }


def _homogeneity_p(total: float, mean: float, n: float, settings: int) -> float:
    """P-value of Pearson's chi-square test that `settings` groups of `n` replicates in all share
    one probability `mean`, from their estimates' replicate-weighted mean squared deviation
    `total` (statistic n total / (mean (1 - mean)), settings - 1 degrees of freedom); 1 where
    the class never or always happens, or with one setting."""
    if settings < 2 or not 0 < mean < 1:
        return 1.0
    from scipy.stats import chi2  # late: scipy.stats is slow to import, and needed with knobs only

    return float(chi2.sf(n * total / (mean * (1 - mean)), settings - 1))


def resolve_settings(scenario: Scenario, runs: int | None, seed: int | None,
                     chunk_size: int | None) -> tuple[int, int, int]:
    """(runs, root entropy, blocks per chunk): the options given, else the scenario's
    `monte_carlo:` defaults; the chunk size rounded up to whole blocks. Anything but a
    `Scenario` is an `InputError` (`check_scenario`)."""
    check_scenario(scenario)
    mc = scenario.monte_carlo
    problems = [Problem(name, "", rule, value, True)
                for name, value, least, rule in (("runs", runs, 1, f"must be a whole number from 1 to {MAX_RUNS:,}"),
                                                 ("seed", seed, 0, "must be a whole number >= 0"),
                                                 ("chunk_size", chunk_size, 1, "must be a whole number >= 1"))
                if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer))
                                          or value < least or (name == "runs" and value > MAX_RUNS))]
    if problems:
        raise InputError(problems)
    runs = mc.runs if runs is None else int(runs)
    entropy = make_root_entropy(mc.seed if seed is None else int(seed))
    chunk_size = mc.chunk_size if chunk_size is None else int(chunk_size)
    return runs, entropy, max(1, blocks_for(chunk_size))


def run(
    scenario: Scenario,
    *,
    runs: int | None = None,
    seed: int | None = None,
    chunk_size: int | None = None,
    precision: float | None = None,
    sink: Callable[[Chunk], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
    knobs=None,
    calibration: dict | None = None,
    workers: int | None = 1,
    stop: threading.Event | None = None,
    max_memory: int | None = None,
) -> RunResult:
    """Run `runs` replicates of `scenario` (defaults from its `monte_carlo:` block).

    The seed's entropy names every random number; `chunk_size` (rounded up to
    whole blocks of 1,024) only trades memory for speed, and `workers` (processes,
    this one included; None: the usable cores, capped by the work) only time for
    cores: the result is the same. With `precision`, stop at the first block boundary
    where every class's 95 % interval has a half-width below it. `knobs` (a
    `sim.knobs.KnobSetting`, e.g. from a posterior's `setting`) sets calibration knobs
    per replicate; `calibration` describes it. Setting `stop` (an event, e.g. from a
    signal handler) ends the run after the chunk in hand: the result holds the
    replicates finished before it, marked `interrupted`. A run whose estimated peak memory
    (`limits.estimate`) exceeds `max_memory` bytes (None: the memory available now) is an
    `InputError` before any replicate runs.
    """
    runs, entropy, blocks_per_chunk = resolve_settings(scenario, runs, seed, chunk_size)
    workers = check_workers(workers, blocks_for(runs), count_chunks(runs, blocks_per_chunk))
    check_knobs(knobs)
    check_callbacks(sink=sink, progress=progress, stop=stop, calibration=calibration)
    if calibration is not None and knobs is None:  # the result would claim a posterior it never applied
        raise InputError(Problem("calibration", "", "describes a knob setting, but no knobs= were given: pass the "
                                 "setting it came with (knobs, note = posterior.setting(scenario); run(..., "
                                 "knobs=knobs, calibration=note))", "a note", True))
    if precision is not None and not (is_number(precision) and 0 < precision < 0.5):
        raise InputError(Problem("precision", "", "must be between 0 and 0.5 (a half-width)", precision, True))
    model = compile_model(scenario)
    check_memory(estimate(model, runs, blocks_per_chunk * BLOCK_SIZE, write=False, workers=workers), "this run",
                 max_memory)
    tally = _Tally(model, runs, knobs)
    stopped_early = False
    started = time.perf_counter()
    compiling = compile_timer(model, entropy, knobs, workers)
    chunks = simulate_chunks(model, entropy, runs, blocks_per_chunk, tally.trajectory, knobs=knobs, workers=workers,
                             stop=stop)
    with contextlib.closing(chunks), install_listener("numba:compile", compiling):  # a break stops the workers now
        for chunk in chunks:
            if precision is not None:
                end = _precise_enough(chunk.outcome, tally.counts, tally.done, precision)
                if end is not None:
                    chunk, stopped_early = chunk.head(end), True
            tally.add(chunk)  # before the sink, whose edits of its chunk must not change the count
            if sink is not None:
                sink(chunk)
            if progress is not None:
                progress(tally.done, runs)
            if stopped_early:
                break
    done = tally.done
    return RunResult(
        scenario=scenario, model=model, runs=done, requested_runs=runs, entropy=entropy,
        chunk_size=blocks_per_chunk * BLOCK_SIZE, counts=tally.counts,
        seconds=time.perf_counter() - started - (compile_seconds := compile_seconds_of(compiling)),
        compile_seconds=compile_seconds,
        package_classes=tally.package_classes, trajectory=tally.trajectory[..., :done], precision=precision,
        stopped_early=stopped_early, interrupted=done < runs and not stopped_early,
        row_counts=tally.row_counts if knobs is not None else None, calibration=calibration, workers=workers,
        row_settings=tally.row_settings,
    )


class _Tally:
    """What `run` counts as the chunks come: classes, deals, classes per row of knob values,
    and the first replicates' weekly positions (filled by `simulate_chunks`)."""

    def __init__(self, model: Model, runs: int, knobs: KnobApplier | None):
        self.counts = np.zeros(len(CLASSES), dtype=np.int64)
        self.package_classes = np.zeros((len(model.packages) + 1, len(CLASSES)), dtype=np.int64)
        self.trajectory = np.zeros((model.weeks, model.n_agents, model.n_issues, min(runs, TRAJECTORY_SAMPLE)),
                                   dtype=np.float32)
        self.n_rows = 0 if knobs is None else len(knobs.values)
        self.row_counts = np.zeros((self.n_rows, len(CLASSES)), dtype=np.int64)
        # rows drawn from one grid point hold the same values: the spread is over settings, not rows
        self.row_settings = (np.unique(np.asarray(knobs.values), axis=0, return_inverse=True)[1].reshape(-1)
                             if self.n_rows else None)
        self.done = 0

    def add(self, chunk: Chunk) -> None:
        k, keep = len(CLASSES), len(chunk.outcome)
        self.counts += np.bincount(chunk.outcome, minlength=k)
        if self.n_rows:
            rows = (chunk.start + np.arange(keep)) % self.n_rows
            self.row_counts += np.bincount(rows * k + chunk.outcome, minlength=self.n_rows * k).reshape(-1, k)
        slots = len(self.package_classes)
        at = chunk.package.astype(np.int64) % slots * k + chunk.outcome
        self.package_classes += np.bincount(at, minlength=slots * k).reshape(slots, k)
        self.done += keep


def check_workers(workers: int | None, blocks: int, chunks: int | None = None) -> int:
    """The processes that will compute `blocks` blocks of work in `chunks` chunks (default:
    one a block): `workers` (>= 1) or for None the default, never more than the chunks
    (`parallel.choose_workers`)."""
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, (int, np.integer))
                                or workers < 1):
        raise InputError(Problem("workers", "", "must be a whole number >= 1", workers, True))
    return choose_workers(None if workers is None else int(workers), blocks, blocks if chunks is None else chunks)


def count_chunks(runs: int, blocks_per_chunk: int) -> int:
    """Chunks of `blocks_per_chunk` blocks that `runs` replicates are cut into."""
    return -(-blocks_for(runs) // blocks_per_chunk)


def _precise_enough(outcome: np.ndarray, counts: np.ndarray, done: int, precision: float) -> int | None:
    """The first block end in this chunk (as a count of its replicates) where every
    class's interval half-width is below `precision`, or None."""
    for end in range(BLOCK_SIZE, len(outcome) + 1, BLOCK_SIZE):
        n = done + end
        if n < 2 * BLOCK_SIZE:
            continue
        cum = counts + np.bincount(outcome[:end], minlength=len(CLASSES))
        if all((e.high - e.low) / 2 < precision for e in (wilson(int(k), n) for k in cum)):
            return end
    return None


def compile_timer(model: Model, entropy: int, knobs=None, workers: int = 1) -> TimingListener:
    """A listener for numba compiling kernels (not loading them from the cache): the first
    run after installing, which is not the run's speed. Install it around the work
    (`install_listener("numba:compile", timer)`); with `workers` > 1 the kernels are first
    compiled here, on one replicate, and heard, since forked workers inherit them (and
    spawned ones load them from the cache)."""
    compiling = TimingListener()
    if workers > 1:
        with install_listener("numba:compile", compiling):
            for _ in simulate_chunks(model, entropy, 1, 1, knobs=knobs):
                pass
    return compiling


def compile_seconds_of(compiling: TimingListener) -> float:
    """The seconds a `compile_timer` heard numba compiling (0 when it compiled nothing)."""
    return compiling.duration if compiling.done else 0.0
