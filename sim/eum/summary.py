"""The EUM's answer as plain data: its rounds on the actors as given and, optionally, a
Monte Carlo over perturbed inputs (what `python -m sim eum` prints or writes as JSON)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from numba.core.event import TimingListener, install_listener

from ..estimate import wilson
from ..limits import check_memory, estimate_eum
from ..randomness import make_root_entropy
from .actors import Actors
from .run import check_counts, check_options, default_chunk_size, run_eum, run_eum_monte_carlo, summarise_final_median

__all__ = ["summarise_eum", "summarise_monte_carlo", "summarise_run"]


def summarise_eum(actors: Actors, *, rounds: int = 10, variant: str = "scholz", q: float = 1.0,
                  runs: int | None = None, seed: int | None = None, salience_sd: float = 0.0,
                  capability_sd: float = 0.0, position_sd: float = 0.0, threshold: float | None = None,
                  chunk_size: int | None = None, progress=None, max_memory: int | None = None) -> dict[str, Any]:
    """Per round the median, the mean, every actor's position and risk exponent
    (`summarise_run`); with `runs`, under "monte_carlo", the final median over that many
    replicates of the inputs perturbed by the given sds (`summarise_monte_carlo`). Work whose
    estimated peak memory (`limits.estimate_eum`: the report and the Monte Carlo it is held
    beside) exceeds `max_memory` bytes (None: the memory available now) is an `InputError`
    before any round runs."""
    _check_memory("summarise_eum", actors, rounds, variant, q, runs, chunk_size, max_memory, as_given=True)
    report = _run_report(actors, rounds, variant, q)
    if runs is not None:
        report["monte_carlo"] = _monte_carlo_report(
            actors, rounds=rounds, variant=variant, q=q, runs=runs, seed=seed, salience_sd=salience_sd,
            capability_sd=capability_sd, position_sd=position_sd, threshold=threshold, chunk_size=chunk_size,
            progress=progress)
    return report


def _check_memory(where: str, actors: Actors, rounds, variant, q, runs, chunk_size, max_memory,
                  as_given: bool) -> None:
    """Refuse, before anything runs, work of `estimate_eum` beyond `max_memory` (`limits.check_memory`),
    its settings checked first (the estimate needs them whole)."""
    check_options(where, variant, rounds, q)
    if runs is not None:
        check_counts(where, {"runs": runs, **({} if chunk_size is None else {"chunk_size": chunk_size})})
    n = len(actors.names)
    chunk = chunk_size if chunk_size is not None else default_chunk_size(n)
    check_memory(estimate_eum(n, int(rounds), None if runs is None else int(runs), int(chunk), variant,
                              as_given=as_given),
                 "this eum run" if as_given else "this eum Monte Carlo", max_memory)


def summarise_run(actors: Actors, *, rounds: int = 10, variant: str = "scholz", q: float = 1.0,
                  progress=None, max_memory: int | None = None) -> dict[str, Any]:
    """The run on the actors as given: per round the median, the mean, every actor's position
    and risk exponent. `progress(done, rounds)`, if given, hears of each round. `max_memory`
    as for `summarise_eum`."""
    _check_memory("summarise_run", actors, rounds, variant, q, None, None, max_memory, as_given=True)
    return _run_report(actors, rounds, variant, q, progress)


def _run_report(actors: Actors, rounds, variant, q, progress=None) -> dict[str, Any]:
    path = run_eum(actors.capability, actors.position, actors.salience, rounds=rounds, variant=variant, q=q,
                   progress=progress)
    return {"rounds": [
        {"round": t, "median": float(path.median[t, 0]), "mean": float(path.mean[t, 0]),
         "positions": dict(zip(actors.names, path.positions[t, :, 0].tolist())),
         "risk": dict(zip(actors.names, path.risk[t, :, 0].tolist()))}
        for t in range(rounds + 1)
    ]}


def summarise_monte_carlo(actors: Actors, *, runs: int, rounds: int = 10, variant: str = "scholz", q: float = 1.0,
                          seed: int | None = None, salience_sd: float = 0.0, capability_sd: float = 0.0,
                          position_sd: float = 0.0, threshold: float | None = None, chunk_size: int | None = None,
                          progress=None, max_memory: int | None = None) -> dict[str, Any]:
    """The final median over `runs` replicates of the inputs perturbed by the given sds
    (seeded from `seed`, else fresh entropy, reported): its mean with a Student t 95 % interval,
    and P(final median >= `threshold`) with its Wilson 95 % interval. `seconds` leaves out
    numba compiling the kernels (`compile_seconds`: the first run after installing).
    `progress(done, runs)`, if given, hears of the replicates chunk by chunk. `max_memory` as
    for `summarise_eum` (the Monte Carlo alone: no run on the actors as given)."""
    _check_memory("summarise_monte_carlo", actors, rounds, variant, q, runs, chunk_size, max_memory, as_given=False)
    return _monte_carlo_report(actors, runs=runs, rounds=rounds, variant=variant, q=q, seed=seed,
                               salience_sd=salience_sd, capability_sd=capability_sd, position_sd=position_sd,
                               threshold=threshold, chunk_size=chunk_size, progress=progress)


def _monte_carlo_report(actors: Actors, *, runs: int, rounds: int, variant: str, q: float, seed: int | None,
                        salience_sd: float, capability_sd: float, position_sd: float, threshold: float | None,
                        chunk_size: int | None, progress) -> dict[str, Any]:
    entropy = make_root_entropy(seed)  # the root of the "eum" stream's keyed blocks
    sds = {"salience_sd": salience_sd, "capability_sd": capability_sd, "position_sd": position_sd}
    started = time.perf_counter()
    compiling = TimingListener()  # numba compiling a kernel (not loading it from the cache): not the run's speed
    with install_listener("numba:compile", compiling):
        outcomes = run_eum_monte_carlo(actors, entropy, runs, rounds=rounds, variant=variant, q=q,
                                       chunk_size=chunk_size, progress=progress, **sds)
    compile_seconds = compiling.duration if compiling.done else 0.0
    seconds = time.perf_counter() - started - compile_seconds
    final = outcomes.median[-1]
    summary = summarise_final_median(final)
    mean_interval = {"low": None, "high": None}  # one replicate: no spread to estimate
    if runs > 1:  # Student's t: a normal quantile is too narrow for a handful of replicates
        from scipy.stats import t as student_t  # late: scipy.stats takes a while to import

        z = float(student_t.ppf(0.975, runs - 1))
        mean_interval = {"low": summary.mean - z * summary.se_mean, "high": summary.mean + z * summary.se_mean}
    mc: dict[str, Any] = {
        "runs": runs, "seed": entropy, **sds,
        "final_median": {"mean": summary.mean, **mean_interval, "sd": summary.sd, "quantiles": dict(zip(
            ("0.05", "0.5", "0.95"), np.quantile(final, [0.05, 0.5, 0.95]).tolist()))},
    }
    if threshold is not None:
        e = wilson(int(np.count_nonzero(final >= threshold)), runs)
        mc["p_at_least"] = {"threshold": threshold, "estimate": e.p, "low": e.low, "high": e.high}
    mc["seconds"] = seconds
    mc["compile_seconds"] = compile_seconds
    mc["replicates_per_second"] = runs / seconds if seconds > 0 else None
    return mc
