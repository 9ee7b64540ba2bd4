"""Paired comparisons: two scenarios on the same random numbers, B - A per outcome.

`compare` runs both scenarios on the same replicates (common random numbers)
and keeps only the 4 x 4 table of (class under A, class under B), so memory
does not grow with the runs; each difference's interval comes from the paired
replicates, and is set beside the interval two independent runs would give.
`sim.attribution` builds on this to explain a forecast by its events. Pure
functions: nothing is written or printed here.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numba.core.event import install_listener

from .arguments import check_callbacks, check_knobs, check_scenario
from .errors import InputError, Problem
from .estimate import Z95, Estimate, wilson
from .io import utc_now
from .knobs import KnobSetting
from .limits import check_memory, estimate_models
from .model import CLASSES, SUBSTANTIVE_OR_BETTER, Model, compile_model
from .montecarlo import check_workers, compile_seconds_of, compile_timer, count_chunks, resolve_settings, simulate_joint
from .progress import ReplicateProgress
from .randomness import BLOCK_SIZE, blocks_for
from .schema import DESCRIPTIVE, Scenario

__all__ = [
    "GROUPS",
    "Comparison",
    "Difference",
    "check_pairable",
    "compare",
    "paired_difference",
    "same_model",
    "summarise_comparison",
]

GROUPS: dict[str, tuple[int, ...]] = {
    **{name: (k,) for k, name in enumerate(CLASSES)},
    "substantive_or_better": SUBSTANTIVE_OR_BETTER,
}
"""The outcomes a comparison reports: each class, and the headline group."""


# --- Paired differences ------------------------------------------------------------------


@dataclass(frozen=True)
class Difference:
    """An outcome's probability under A and under B, and B - A from paired replicates.

    The paired 95 % interval is Bonett and Price's adjusted Wald interval for a
    difference of paired proportions (J. Educ. Behav. Stat. 37, 2012): with g replicates
    gaining the outcome under B and l losing it, p_g = (g + 1) / (n + 2), p_l = (l + 1) / (n + 2),
    (p_g - p_l) +- 1.96 sqrt((p_g + p_l - (p_g - p_l)^2) / (n + 2)). Where few replicates
    change outcome, the plain mean +- 1.96 sd / sqrt(n) of the d_i in {-1, 0, 1} covered the
    true difference 63 to 92 % of the time (and was [0, 0] when none changed, however
    different A and B); this one keeps close to 95 % there and is the same as it once
    many change. `exact` (A and B the same model, `same_model`): every d_i is 0 by
    construction, and the interval is [0, 0]. `diff` is the plain (g - l) / n. The
    unpaired half-width is what two independent runs of n would give, by the same adjustment
    (Agresti and Caffo, Am. Stat. 54, 2000: one success and one failure added to each run),
    1.96 sqrt(p~_a (1 - p~_a) / (n + 2) + p~_b (1 - p~_b) / (n + 2)), p~ = (count + 1) / (n + 2):
    the plain 1.96 sqrt(p_a (1 - p_a) / n + ...) was 0 for an outcome no replicate had, which
    said two independent runs would know its difference exactly.
    """

    p_a: float
    p_b: float
    diff: float
    low: float
    high: float
    paired_half_width: float
    unpaired_half_width: float
    gained: int  # replicates with the outcome under B but not under A
    lost: int  # replicates with the outcome under A but not under B
    n: int
    exact: bool = False  # A and B are one model: 0 for certain, not estimated

    @property
    def narrowing(self) -> float | None:
        """Unpaired over paired interval width; None for an exact comparison (paired width 0)."""
        if self.paired_half_width == 0 or self.unpaired_half_width == 0:
            return None
        return self.unpaired_half_width / self.paired_half_width

    def as_dict(self) -> dict:
        """Every field but `n`, and the `narrowing`, as JSON-ready data."""
        return {"p_a": self.p_a, "p_b": self.p_b, "diff": self.diff, "low": self.low, "high": self.high,
                "paired_half_width": self.paired_half_width,
                "unpaired_half_width": self.unpaired_half_width, "narrowing": self.narrowing,
                "gained": self.gained, "lost": self.lost, "exact": self.exact}


def paired_difference(joint: np.ndarray, classes: tuple[int, ...], exact: bool = False) -> Difference:
    """B - A for the outcome "class in `classes`" from `joint` (4, 4): replicates by
    (class under A, class under B); `exact` when A and B are known to be one model
    (`Difference`).

    Computed so that swapping A and B (transposing `joint`) negates every figure
    exactly: the interval of B - A is the mirror of that of A - B, bit for bit.
    """
    joint = np.asarray(joint, dtype=np.int64)
    n = int(joint.sum())
    if n < 1:
        raise ValueError("a paired difference needs at least one replicate")
    inside = list(classes)
    in_a, in_b = int(joint[inside, :].sum()), int(joint[:, inside].sum())
    both = int(joint[np.ix_(inside, inside)].sum())
    gained, lost = in_b - both, in_a - both
    p_a, p_b = in_a / n, in_b / n
    diff = (gained - lost) / n
    q_a, q_b = (in_a + 1) / (n + 2), (in_b + 1) / (n + 2)  # Agresti and Caffo (2000)
    unpaired = Z95 * math.sqrt((q_a * (1 - q_a) + q_b * (1 - q_b)) / (n + 2))
    if exact:
        if gained or lost:
            raise ValueError("a comparison of one model with itself cannot have replicates that differ")
        return Difference(p_a, p_b, 0.0, 0.0, 0.0, 0.0, unpaired, 0, 0, n, True)
    p_g, p_l = (gained + 1) / (n + 2), (lost + 1) / (n + 2)  # Bonett and Price (2012)
    centre = p_g - p_l
    half = Z95 * math.sqrt(max(p_g + p_l - centre * centre, 0.0) / (n + 2))
    low, high = max(-1.0, centre - half), min(1.0, centre + half)
    return Difference(p_a, p_b, diff, low, high, half, unpaired, gained, lost, n)


@dataclass(frozen=True)
class Comparison:
    """Two scenarios run on the same replicates: `joint[a, b]` counts the replicates
    whose class was a under A and b under B."""

    joint: np.ndarray  # (4, 4) int64
    runs: int
    entropy: int
    seconds: float
    same: bool = False  # A and B are one model (`same_model`, the same knob rows): differences are 0 exactly
    compile_seconds: float = 0.0  # numba compiling kernels (the first run after installing), left out of `seconds`

    def difference(self, group: str) -> Difference:
        """B - A for one of `GROUPS` (a class of `sim.CLASSES`, or "substantive_or_better")."""
        if group not in GROUPS:
            raise InputError(Problem("difference", "group", f"must be one of {', '.join(GROUPS)}", group, True))
        return paired_difference(self.joint, GROUPS[group], exact=self.same)

    def differences(self) -> dict[str, Difference]:
        """Every class, then P(substantive or better)."""
        return {name: self.difference(name) for name in GROUPS}

    def estimates(self, side: str) -> dict[str, Estimate]:
        """Each class's probability under A (`side="a"`) or B (`"b"`; upper case as well, the
        default `names`), with its Wilson interval. Another side is an `InputError` (any but
        "a" was taken for B, so "A" gave B's figures)."""
        if not isinstance(side, str) or side.lower() not in ("a", "b"):
            raise InputError(Problem("estimates", "side", "must be 'a' or 'b'", side, True))
        counts = self.joint.sum(axis=1 if side.lower() == "a" else 0)
        return {name: wilson(int(counts[list(cls)].sum()), self.runs) for name, cls in GROUPS.items()}


def check_pairable(a: Scenario, b: Scenario, a_name: str = "A", b_name: str = "B") -> None:
    """Refuse scenarios whose replicates cannot be paired: different agents or issues
    change the layout of every shared random stream, and different issue anchors
    change the summit's menu. One problem for the agents and one for the issues, each listing
    the names only one side has (two unrelated scenarios are one mistake, not a line per name),
    and one per shared issue whose anchors differ; all naming both files."""
    source = f"{a_name} vs {b_name}"
    why = "pairing needs the same agents and issues (their random streams must line up)"
    problems = []
    for kind in ("agents", "issues"):
        names_a, names_b = set(getattr(a, kind)), set(getattr(b, kind))
        only = [f"only in {side}: {', '.join(sorted(names))}"
                for side, names in ((a_name, names_a - names_b), (b_name, names_b - names_a)) if names]
        if only:
            problems.append(Problem(source, kind, f"differ: {'; '.join(only)}; {why}"))
    for name in sorted(set(a.issues) & set(b.issues)):
        anchors_a, anchors_b = dict(a.issues[name].anchors), dict(b.issues[name].anchors)
        if anchors_a != anchors_b:
            problems.append(Problem(
                source, f"issues.{name}.anchors",
                f"differ, so the summit's menu differs; {a_name} has {_show_anchors(anchors_a)}, "
                f"{b_name} has {_show_anchors(anchors_b)}"))
    if problems:
        raise InputError(problems)




def same_model(a: Scenario, b: Scenario) -> bool:
    """Whether `a` and `b` differ at most in their descriptive fields, so that every replicate
    ends the same under both (a counterfactual whose `set:` restates its base's values, say)."""
    return a.model_dump(exclude=DESCRIPTIVE) == b.model_dump(exclude=DESCRIPTIVE)


def _show_anchors(anchors: dict) -> str:
    return "{" + ", ".join(f"{k}: {v:g}" for k, v in sorted(anchors.items(), key=lambda kv: kv[1])) + "}"


def compare(
    a: Scenario,
    b: Scenario,
    *,
    runs: int | None = None,
    seed: int | None = None,
    chunk_size: int | None = None,
    progress: ReplicateProgress | None = None,
    names: tuple[str, str] = ("A", "B"),
    knobs: tuple | None = None,
    workers: int | None = 1,
    stop: threading.Event | None = None,
    max_memory: int | None = None,
) -> Comparison:
    """Run `a` and `b` on the same `runs` replicates (common random numbers) and count
    (class under A, class under B). Defaults come from `a`'s `monte_carlo:` block;
    `names` label the scenarios in the refusal of an unpairable pair; `knobs`, a knob
    setting for both or a pair of them (A's, B's; `sim.posterior`), makes both posterior
    predictive. `workers`, `stop` and `max_memory` as for `montecarlo.run` (a stopped
    comparison counts the replicates it finished)."""
    check_scenario(a, "a")
    check_scenario(b, "b")
    pair = isinstance(knobs, (tuple, list)) and len(knobs) == 2 and not isinstance(knobs[1], dict)
    if pair:
        for k, setting in enumerate(knobs):  # (A's, B's); a (setting, note) pair is refused below
            check_knobs(setting, f"knobs.{k}")
    else:
        check_knobs(knobs)
    check_callbacks(progress=progress, stop=stop)
    if not (isinstance(names, (tuple, list)) and len(names) == 2 and all(isinstance(n, str) for n in names)):
        raise InputError(Problem("names", "", "must be two labels, e.g. ('baseline', 'no_g7')", names, True))
    check_pairable(a, b, *names)
    runs, entropy, blocks_per_chunk = resolve_settings(a, runs, seed, chunk_size)
    workers = check_workers(workers, 2 * blocks_for(runs), count_chunks(runs, blocks_per_chunk))
    started = time.perf_counter()
    joint = np.zeros((len(CLASSES), len(CLASSES)), dtype=np.int64)
    done = 0
    model_a, model_b = compile_model(a), compile_model(b)
    check_memory(estimate_models([model_a, model_b], runs, blocks_per_chunk * BLOCK_SIZE, workers=workers,
                                 trajectories=False), "this comparison", max_memory)
    compiling = compile_timer(model_a, entropy, knobs[0] if pair else knobs, workers)
    with install_listener("numba:compile", compiling):
        for tables in paired_tables(model_a, [model_b], entropy, runs, blocks_per_chunk, knobs, workers, stop):
            joint += tables[0]
            done = int(joint.sum())
            if progress is not None:
                progress(done, runs)
    # one model by its inputs, and (a knob applier may read the model it is given) by every replicate
    same = (same_model(a, b) and (not pair or _same_setting(*knobs))
            and not np.any(joint - np.diag(np.diag(joint))))
    compile_seconds = compile_seconds_of(compiling)
    return Comparison(joint, done, entropy, time.perf_counter() - started - compile_seconds, same, compile_seconds)


def _same_setting(x, y) -> bool:
    """Whether two knob settings (or None) give every replicate the same knob values: one object,
    or two `KnobSetting`s of the same rows (another knob applier has only `apply` to go by)."""
    if x is y:
        return True
    if not (isinstance(x, KnobSetting) and isinstance(y, KnobSetting)):
        return False
    return x.knobs == y.knobs and np.array_equal(x.values, y.values)


def paired_tables(base: Model, others: list[Model], entropy: int, runs: int, blocks_per_chunk: int, knobs=None,
                  workers: int = 1, stop: threading.Event | None = None) -> Iterator[np.ndarray]:
    """Per chunk, (len(others), 4, 4): replicates by (class under base, class under other),
    all on the same replicates. `knobs`: one knob setting for every model, or one per
    model (base first)."""
    models = [base, *others]
    settings = list(knobs) if isinstance(knobs, (tuple, list)) else [knobs] * len(models)
    return simulate_joint(models, entropy, runs, blocks_per_chunk, settings, workers, stop)


# --- As plain data ------------------------------------------------------------------------


def summarise_comparison(c: Comparison, a: Scenario, b: Scenario, a_file: str | None = None,
                         b_file: str | None = None) -> dict:
    """A comparison as JSON-ready data: per class and for the headline, P under A and
    B (with Wilson intervals), `diff` = B - A with its paired interval, the unpaired
    half-width and how much narrower pairing made the interval."""
    from . import __version__
    from .schema import scenario_hash

    est_a, est_b = c.estimates("a"), c.estimates("b")

    def entry(group: str) -> dict:
        return {**c.difference(group).as_dict(),
                "p_a_interval": [est_a[group].low, est_a[group].high],
                "p_b_interval": [est_b[group].low, est_b[group].high]}

    return {
        "sim_version": __version__,
        "command": "compare",
        "a": {"scenario": a.name, "file": a_file, "hash": scenario_hash(a)},
        "b": {"scenario": b.name, "file": b_file, "hash": scenario_hash(b)},
        "runs": c.runs,
        "seed_entropy": c.entropy,
        "seconds": round(c.seconds, 6),
        "replicates_per_second": round(2 * c.runs / c.seconds, 1) if c.seconds > 0 else None,
        "compile_seconds": round(c.compile_seconds, 6),
        "classes": {name: entry(name) for name in CLASSES},
        "headline": {name: entry(name) for name in ("substantive_or_better", "talk_fest", "collapse")},
        "joint": {"rows": "class under A", "columns": "class under B", "classes": list(CLASSES),
                  "counts": c.joint.tolist()},
        "created": utc_now(),
    }
