"""Calibration: a posterior over the model's global constants (knobs), fitted on past meetings.

The likelihood of a grid point is the product over cases of P_model(observed
class | knobs), each estimated by Monte Carlo, every point and case on one
seed (common random numbers), with class probabilities smoothed as (count +
1/2) / (runs + 2) so that a class never seen has a finite likelihood. Each
(case, grid point) is a point of the sweep executor: it runs on local workers
or Dask, is kept in SQLite the moment it finishes, and a killed calibration
resumes where it stopped. The posterior (`sim.posterior`) is the prior times
the likelihood on the grid; leave-one-out forecasts reweight it without the
case, exactly. Bayesian calibration of simulation constants in the manner of
Kennedy & O'Hagan (2001), on a grid since the knobs are few.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .backtest import Case, reference_forecasts, summarise_forecasts
from .canonical import inputs_hash
from .errors import InputError, Problem
from .estimate import Z95
from .knobs import KnobFile, KnobSetting, make_grid, prior_weights, resolve_knob
from .limits import check_memory, estimate
from .model import CLASSES, compile_model
from .montecarlo import resolve_settings
from .posterior import Posterior
from .provenance import model_digest
from .randomness import BLOCK_SIZE, blocks_for, make_root_entropy
from .rubric import SUBSTANTIVE_OR_BETTER
from .schema import Scenario, scenario_hash
from .scoring import discrimination_half_width

__all__ = ["SMOOTHING", "Calibration", "calibration_key", "check_knobs", "check_priors", "loo_forecasts",
           "name_what_is_missing", "prior_warnings", "run_calibration", "smoothed", "summarise_calibration"]

SMOOTHING = 0.5
"""Added to each class's count (and 2 to the runs) in the likelihood and the table's forecasts."""


@dataclass
class Calibration:
    posterior: Posterior
    counts: np.ndarray  # (n_points, n_cases, n_classes) at `runs` replicates
    runs: int
    entropy: int
    seconds: float
    interrupted: bool
    points_done: int
    points_total: int
    backend: str = "none"  # where this run's points ran (`sweep.execute`): none if all were resumed
    workers: int = 0  # the processes (or Dask threads) that ran them
    resumed: int = 0  # points kept from an earlier run, not run by this one

    @property
    def complete(self) -> bool:
        return self.points_done == self.points_total


def smoothed(counts: np.ndarray) -> np.ndarray:
    """(count + 1/2) / (runs + 2) along the last axis."""
    runs = counts.sum(axis=-1, keepdims=True)
    return (counts + SMOOTHING) / (runs + SMOOTHING * counts.shape[-1])


def check_priors(spec: KnobFile, source: str = "knobs") -> None:
    """Every knob's prior must give its grid some mass: a grid on which the prior's density is
    zero everywhere (a triangular's mode-0 end, a U-shaped beta's two ends) has no posterior,
    which was found only once every point had run. All problems at once, naming `source`."""
    problems = [Problem(source, f"knobs.{knob.name}.prior", "gives every point of the knob's grid zero density, "
                        "so it has no posterior; choose levels or values where the prior has mass",
                        [float(v) for v in knob.grid()], True)
                for knob in spec.knobs if not np.sum(knob.prior.pdf(knob.grid())) > 0]
    if problems:
        raise InputError(problems)


def prior_warnings(spec: KnobFile, source: str = "knobs") -> list[Problem]:
    """Knobs whose grid misrepresents their prior: the prior's mass on the grid (its density
    at each point, normalised) has a mean or sd more than half a grid step from the prior's
    own, as when 3 levels over [0, 1] meet a beta(mean 0.1, sd 0.05), whose density is near
    zero at all three. The posterior is then of the prior as the grid sees it, and the
    'prior mean' printed beside it is the grid's."""
    out = []
    for knob in spec.knobs:
        grid = knob.grid()
        lo, hi = knob.prior.support()
        dens = knob.prior.pdf(grid)
        if len(grid) < 2 or not hi > lo or not np.sum(dens) > 0:
            continue
        x = np.linspace(lo, hi, 4001)
        fine = knob.prior.pdf(x)
        fine = np.where(np.isfinite(fine), fine, 0.0)
        if not fine.sum() > 0:
            continue
        true_mean, grid_mean = float(x @ fine / fine.sum()), float(grid @ dens / dens.sum())
        true_sd = float(np.sqrt(((x - true_mean) ** 2) @ fine / fine.sum()))
        grid_sd = float(np.sqrt(((grid - grid_mean) ** 2) @ dens / dens.sum()))
        half_step = float(np.max(np.diff(grid))) / 2
        if abs(grid_mean - true_mean) > half_step or abs(grid_sd - true_sd) > half_step:
            out.append(Problem(source, f"knobs.{knob.name}", f"its grid gives the prior mean {grid_mean:.3g} "
                               f"and sd {grid_sd:.3g}, where the prior has {true_mean:.3g} and {true_sd:.3g}: the "
                               "posterior will be of the prior as the grid sees it; add levels, or give values "
                               "where the prior has its mass", [float(v) for v in grid], True))
    return out


def check_knobs(cases: list[Case], spec: KnobFile, source: str = "knobs") -> None:
    """Every knob must name at least one per-replicate number in every case; no two knobs may
    act on the same number (the later would silently undo the earlier); a `set` knob's grid
    must lie within the bounds of every number it sets (they would be clipped, so the
    posterior would be of values that never ran). All problems at once: a knob naming nothing
    in some cases names each case's file; in every case, or the other two, the spec's (`source`), said once."""
    problems = []
    unresolved: dict[str, list[tuple[Problem, Scenario]]] = {knob.name: [] for knob in spec.knobs}
    for case in cases:
        model = compile_model(case.scenario)
        owner: dict[str, str] = {}
        for knob in spec.knobs:
            try:
                paths = resolve_knob(knob, case.scenario, model)
            except InputError as exc:
                unresolved[knob.name] += [(p.__class__(str(case.path), p.path, p.message, p.value, p.has_value),
                                           case.scenario) for p in exc.problems]
                continue
            grid = knob.grid()
            for path in paths:
                found = []
                if path in owner:
                    found.append(Problem(source, f"knobs.{knob.name}.path",
                                         f"acts on {path}, as the knob {owner[path]} does", knob.path, True))
                owner.setdefault(path, knob.name)
                low, high = model.params[path].low, model.params[path].high
                if knob.kind == "set" and (grid.min() < low or grid.max() > high):
                    found.append(Problem(source, f"knobs.{knob.name}",
                                         f"sets {path}, which must be in [{low:g}, {high:g}], to values "
                                         f"from {grid.min():g} to {grid.max():g}",
                                         [float(grid.min()), float(grid.max())], True))
                problems += [p for p in found if p not in problems]
    named_nothing = []
    for knob in spec.knobs:  # naming nothing in every case is the spec's mistake (a misspelt path): said once
        failed = [p for p, _ in unresolved[knob.name]]
        # (one case too: the spec holds knobs.NAME.path, the case file does not)
        if cases and len({p.source for p in failed}) == len(cases):
            first = failed[0]
            resolved = f" (in {Path(first.source).name}: {first.value!r})" if first.value != knob.path else ""
            where = f"any of the {len(cases)} cases" if len(cases) > 1 else f"the one case, {cases[0].name}"
            # only a resolved path that names nothing has a part to name; a role that resolves to nothing
            # ({summit.mediator}) is said as written, not cut at the dots inside its braces
            lacks = (_missing_part(first.value, unresolved[knob.name][0][1])
                     if first.has_value and first.message.startswith(NAMES_NOTHING) else None)
            if lacks is not None:  # an agent named by name that no case calls so (the history's japan)
                which = f"the first, {unresolved[knob.name][0][1].name}, has" if len(cases) > 1 else "it has"
                where += f": {which} no {lacks}"
            failed = [Problem(source, first.path, f"{first.message} in {where}{resolved}", knob.path, True)]
        else:  # some cases lack what the others have: say what, in each
            failed = [q for p, scenario in unresolved[knob.name] for q in name_what_is_missing([p], scenario)]
        named_nothing += failed
    problems = named_nothing + problems
    if problems:
        raise InputError(problems)


NAMES_NOTHING = "names no number drawn per replicate"
"""The start of `knobs.resolve_knob`'s message for a path that matches no parameter."""
_KINDS = {"agents": "agent", "issues": "issue", "anchors": "anchor", "incidents": "incident", "events": "event"}


def name_what_is_missing(problems: list[Problem], scenario) -> list[Problem]:
    """`problems` with each knob path that names nothing in `scenario` told which part of it the
    scenario lacks and what it has there. The bare rule ("names no number drawn per replicate")
    reads as a misspelt path, where the usual cause, in cases written by someone else, is a knob
    that names an agent by name (agents.tokyo.resolve) in a case that calls it otherwise: a path
    that names it by role (agents.{summit.parties[0]}.resolve) works in every case."""
    out = []
    for p in problems:
        why = _missing_part(p.value, scenario) if p.message.startswith(NAMES_NOTHING) and p.has_value else None
        sep = ": " if p.message == NAMES_NOTHING else "; "  # after the bare rule, or after what it adds
        out.append(p if why is None else Problem(p.source, p.path, f"{p.message}{sep}the scenario has no {why}",
                                                 p.value, p.has_value))
    return out


def _missing_part(glob: str, scenario) -> str | None:
    """'agent tokyo (its agents: moscow, nippon); ...' for the first part of the resolved path
    `glob` that names no agent, issue, anchor, incident or event of `scenario`, or None when the
    part that matches nothing is a field (a misspelling) or every part names something."""
    if not isinstance(glob, str):
        return None
    parts = glob.split(".")
    data = scenario.model_dump(mode="json")
    trust = _trust_form(parts, (data.get("relations") or {}).get("trust"))
    if trust is not None:
        return trust
    nodes = [data]
    for i, part in enumerate(parts):
        children, known = [], set()
        for node in nodes:
            if isinstance(node, list):  # named items (incidents, events) are addressed by name
                node = {item["name"]: item for item in node if isinstance(item, dict) and "name" in item}
            if not isinstance(node, dict):
                return None
            known.update(node)
            children += [value for key, value in node.items() if fnmatch.fnmatchcase(str(key), part)]
        if not children:
            kind = _KINDS.get(parts[i - 1]) if i else None
            if not known or kind is None:  # a misspelt field: the bare rule and the path say it
                return None
            why = f"{kind} {part} (its {parts[i - 1]}: {', '.join(sorted(map(str, known)))})"
            if i == 1 and parts[0] == "agents":
                role = ".".join(["agents", "{summit.parties[0]}", *parts[2:]])
                why += f"; name an agent by its role, as {role} does"
            return why
        nodes = children
    return None


def _trust_form(parts: list[str], trust) -> str | None:
    """'list of trust entries ...' where the path `parts` takes `relations.trust` for the other of
    its two forms (one entry, or a list of them: the same trust, but a knob path reaches the
    fields of one entry as relations.trust.initial and of a list's as relations.trust.*.initial)."""
    if parts[:2] != ["relations", "trust"] or len(parts) < 3:
        return None
    field = parts[-1]
    if isinstance(trust, dict) and len(parts) == 4 and parts[2] not in trust:
        return (f"list of trust entries at relations.trust: it is one entry there, whose fields are named "
                f"relations.trust.{field}")
    if isinstance(trust, list) and len(parts) == 3 and not (parts[2] == "*" or parts[2].isdigit()):
        return (f"single trust entry at relations.trust: it is a list there, whose entries' fields are named "
                f"relations.trust.*.{field}")
    return None


CALIBRATION_NAMES = {"chunk_size": "the case's monte_carlo.chunk_size"}
"""What a calibration's memory refusal names (`limits.check_memory`): a case's chunks are its own."""


def check_case_memory(cases: list[Case], runs: int, workers: int, max_memory: int | None = None) -> None:
    """Refuse, before anything runs, a calibration in which one case, a task of its `runs`
    replicates on each of `workers` processes, would need more memory than `max_memory` bytes
    (None: the memory available now); a point keeps no trajectories."""
    for case in cases:
        n, _, blocks = resolve_settings(case.scenario, runs, 0, None)
        check_memory(estimate(compile_model(case.scenario), n, blocks * BLOCK_SIZE, write=False, workers=workers,
                              trajectories=False), f"the case {case.path}", max_memory, CALIBRATION_NAMES)


FILES = ("posterior.json", "summary.json", "posterior.png", "reliability.png", "points.csv")
"""What a calibration writes in its directory, beside the store of its points."""


def run_calibration(cases: list[Case], spec: KnobFile, out: Path, *, workers: int | None = None,
                    scheduler: str | None = None, fresh: bool = False, progress=None, source: str = "",
                    force: bool = False, stop=None, knobs_file: str = "", max_memory: int | None = None) -> Calibration:
    """Tabulate every case at every grid point (resumably, in `out`, which must be new,
    empty or a calibration's), then the posterior. Setting `stop` (an event) ends the run
    with the finished points kept. `workers` None: the cores, capped by the work
    (`sweep.driver.run_points`). A case whose estimated peak memory on those workers
    (`limits.estimate`, a task of its replicates on each) exceeds `max_memory` bytes (None:
    the memory available now) is an `InputError` before any point runs or anything is written."""
    from .sweep.driver import FILES as STORE_FILES
    from .sweep.driver import run_points
    from .sweep.execute import local_workers

    started = time.perf_counter()
    check_priors(spec, knobs_file or "knobs")
    check_knobs(cases, spec, knobs_file or "knobs")
    grid = make_grid(spec.knobs)
    check_case_memory(cases, spec.runs, 1 if scheduler is not None else
                      local_workers(workers, len(cases) * len(grid), blocks_for(spec.runs)), max_memory)
    entropy = make_root_entropy(spec.seed)
    settings = [KnobSetting.constant(spec.knobs, row) for row in grid]
    plan = np.array([[k, g, *row] for k in range(len(cases)) for g, row in enumerate(grid)], dtype=float)
    points = {p: (cases[int(k)].scenario, settings[int(g)]) for p, (k, g, *_) in enumerate(plan)}
    # The model's digest too: points computed by other model code are not resumed into a
    # posterior that records the running code's digest.
    identity = {"kind": "calibration", "knobs": spec.digest(), "runs": spec.runs, "seed": spec.seed,
                "cases": [scenario_hash(c.scenario) for c in cases], "model": model_digest()}
    names = ["case", "grid_point", *(k.name for k in spec.knobs)]
    run = run_points(out, identity, names, plan, points, runs=spec.runs, entropy=entropy, workers=workers,
                     scheduler=scheduler, fresh=fresh, progress=progress,
                     describe={"command": "calibrate", "source": source}, export=out / "points.csv",
                     command="calibrate", files=(*STORE_FILES, *FILES), force=force, stop=stop)
    counts = np.zeros((len(grid), len(cases), len(CLASSES)))
    for row in run.store_rows:
        counts[int(row["grid_point"]), int(row["case"])] = [row[f"{c}_count"] for c in CLASSES]
    observed = np.array([c.observed for c in cases])
    loglik = np.log(np.take_along_axis(smoothed(counts), observed[None, :, None], axis=-1)[..., 0])
    meta = {"runs": spec.runs, "seed": spec.seed, "seed_entropy": entropy, "source": source,
            "smoothing": f"P = (count + {SMOOTHING}) / (runs + {SMOOTHING * len(CLASSES):g})",
            "points": len(plan), "knob_digest": spec.digest(),
            "knobs_file": knobs_file, "model_digest": model_digest()}
    posterior = Posterior(tuple(spec.knobs), grid, prior_weights(spec.knobs, grid), loglik,
                          tuple(c.name for c in cases), tuple(scenario_hash(c.scenario) for c in cases), meta,
                          input_hashes=tuple(inputs_hash(c.scenario) for c in cases))
    return Calibration(posterior, counts, spec.runs, entropy, time.perf_counter() - started, run.interrupted,
                       len(run.store_rows), len(plan), run.backend, run.workers, run.resumed)


def loo_forecasts(cal: Calibration) -> tuple[np.ndarray, np.ndarray]:
    """(leave-one-out, in-sample) posterior predictive forecasts of every case from the table,
    each (n_cases, n_classes): case k at the posterior fitted without it, and with it."""
    held, inside, _, _ = _forecasts_and_errors(cal)
    return held, inside


def _forecasts_and_errors(cal: Calibration) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """`loo_forecasts` and, beside each, a bound on its Monte Carlo standard error
    (`_mixture_se`)."""
    post = cal.posterior
    probs = smoothed(cal.counts)  # (n_points, n_cases, n_classes)
    freq = cal.counts / np.maximum(cal.counts.sum(axis=-1, keepdims=True), 1)
    n_cases = probs.shape[1]
    held = np.stack([post.weights(without=k) @ probs[:, k] for k in range(n_cases)])
    w = post.weights()
    return held, np.einsum("g,gkc->kc", w, probs), _mixture_se(cal, freq, held=True), _mixture_se(cal, freq)


def _mixture_se(cal: Calibration, freq: np.ndarray, *, held: bool = False) -> np.ndarray:
    """A bound on the Monte Carlo standard error of a posterior mixture of the grid points'
    frequencies `freq` ``(n_points, n_cases, ...)``: the posterior-weighted sum of their
    binomial standard errors, sum_g w_g sqrt(p_g (1 - p_g) / runs). The points share random
    numbers, so their errors are correlated; the sum is the standard error as if they were
    perfectly so, an upper bound (Cauchy-Schwarz) whatever the correlation. `held`: case k
    weighted by the posterior fitted without it (leave-one-out)."""
    se = np.sqrt(freq * (1 - freq) / max(cal.runs, 1))
    post = cal.posterior
    if held:
        return np.stack([post.weights(without=k) @ se[:, k] for k in range(se.shape[1])])
    return np.tensordot(post.weights(), se, axes=1)


def summarise_calibration(cal: Calibration, cases: list[Case], meetings, resamples: int = 2000) -> dict:
    """The fit's leave-one-out forecasts (from its own table) scored against the references,
    the in-sample ones beside them (not a test), and the posterior of every knob."""
    held, inside, held_se, inside_se = _forecasts_and_errors(cal)
    base, reference = reference_forecasts(cases, meetings)
    forecasts = {"calibrated": held, "calibrated_in_sample": inside, "base_rate": base,
                 "uniform": np.full_like(base, 1.0 / len(CLASSES))}
    summary = summarise_forecasts(cases, forecasts, "calibrated", reference, resamples)
    for k, case in enumerate(summary["cases"]):  # Monte Carlo intervals, conservative (see above)
        case["intervals"] = {name: {c: [float(max(p[k, j] - Z95 * e[k, j], 0.0)), float(min(p[k, j] + Z95 * e[k, j],
                                                                                          1.0))]
                                    for j, c in enumerate(CLASSES)}
                             for name, p, e in (("calibrated", held, held_se), ("calibrated_in_sample", inside,
                                                                                inside_se))}
    freq = cal.counts / np.maximum(cal.counts.sum(axis=-1, keepdims=True), 1)
    sob_se = _mixture_se(cal, freq[..., list(SUBSTANTIVE_OR_BETTER)].sum(axis=-1), held=True)
    d = summary["discrimination"]["calibrated"]
    if d["difference"] is not None:
        d["difference_mc_half_width"] = discrimination_half_width(sob_se, [c.observed for c in cases])
    post = cal.posterior
    summary["calibration"] = {
        "knobs": [k.model_dump(mode="json") for k in post.knobs],
        "posterior": post.summary(),
        "marginals": {k.name: _marginal(*post.marginal(j)) for j, k in enumerate(post.knobs)},
        "grid_points": int(len(post.grid)), "runs_per_point": cal.runs, "seed_entropy": cal.entropy,
        "smoothing": post.meta["smoothing"], "seconds": round(cal.seconds, 3), "backend": cal.backend,
        "workers": cal.workers, "points_resumed": cal.resumed,
        "note": "leave-one-out: each case is forecast from the posterior refitted without it, from the fit's own "
                "runs; `sim backtest DIR --calibration posterior.json` reruns them with fresh replicates",
    }
    return summary


def _marginal(values: np.ndarray, posterior: np.ndarray, prior: np.ndarray) -> dict:
    """A knob's marginal on its grid, and how far the cases moved it: the total variation
    distance from the prior's marginal (0: the cases say nothing about this knob; 1: disjoint)."""
    return {"values": values.tolist(), "posterior": posterior.tolist(), "prior": prior.tolist(),
            "moved_from_prior": float(0.5 * np.abs(posterior - prior).sum())}


def calibration_key(spec: KnobFile, cases: list[Case]) -> str:
    """A short key naming this calibration: the same knobs, runs, seed and cases land in the same place."""
    text = json.dumps([spec.digest(), [scenario_hash(c.scenario) for c in cases]])
    return hashlib.sha256(text.encode()).hexdigest()[:10]
