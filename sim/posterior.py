"""A calibration's posterior over the knobs, on disk and applied to a scenario.

The posterior is on the knobs' grid: the prior's mass at each point times the
likelihood of the fitted cases' observed classes (from simulated class
frequencies on common random numbers). The file keeps every case's log
likelihood at every point, so the posterior *without* any one case is exact
and cheap: a scenario that was one of the fitted cases (same inputs, by hash)
is always forecast from the posterior refitted without it (leave-one-out),
never in sample. `setting` turns a posterior into `draws` rows of knob values,
chosen deterministically so that each point's share of rows follows its
weight (systematic resampling with a fixed offset); replicate i takes row
i mod draws, so the forecast is the posterior predictive.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import ValidationError

from .canonical import inputs_hash
from .errors import InputError, Problem
from .estimate import weighted_quantiles
from .io import write_json_atomic
from .knobs import KnobFile, KnobSetting, KnobSpec
from .schema import DESCRIPTIVE, Scenario, scenario_hash
from .validation import problems_from
from .yamlfile import read_text_file

__all__ = ["FORMAT", "DRAWS", "Posterior", "load_posterior", "systematic_rows", "weighted_quantiles", "written_by_sim"]

FORMAT = "sim-posterior/1"
DRAWS = 256
"""Rows of knob values a posterior predictive run cycles through."""
MAX_DRAWS = 1 << 20
"""The most rows `setting` makes (a row is a few floats; a run cycles through them)."""


@dataclass(frozen=True)
class Posterior:
    """A posterior over the knobs' grid, as `load_posterior` reads it: `setting(scenario)`
    gives the (knob setting, note) pair that `sim.run(..., knobs=setting, calibration=note)`
    takes; `summary()` the knobs' posterior means, sds and quantiles."""

    knobs: tuple[KnobSpec, ...]
    grid: np.ndarray  # (n_points, n_knobs)
    prior: np.ndarray  # (n_points,) prior mass, summing to 1
    loglik: np.ndarray  # (n_points, n_cases) ln P(observed class of case k | point)
    cases: tuple[str, ...]  # case names, in loglik's column order
    hashes: tuple[str, ...]  # their scenario hashes (a scenario with one of these is that case)
    meta: dict  # runs, seed, source directory, created, ...
    edited: bool = False  # read from a file whose digest does not match its content (`load_posterior`)
    input_hashes: tuple[str, ...] | None = None  # their `inputs_hash`es (None: a file from before them)
    legacy_input_hashes: tuple[str, ...] | None = None  # a file of Dec 2026: `_legacy_inputs_hash`es

    def weights(self, without: int | None = None) -> np.ndarray:
        """Posterior mass at each grid point (n_points,), fitted on every case or all but one."""
        total = self.loglik.sum(axis=1)
        if without is not None:
            total = total - self.loglik[:, without]
        log_post = np.log(np.maximum(self.prior, 1e-300)) + total
        w = np.exp(log_post - log_post.max())
        return w / w.sum()

    def case_of(self, scenario: Scenario) -> int | None:
        """The index of the fitted case `scenario` is, or None: the case with its inputs (by
        `scenario_hash`, then by `inputs_hash`, which leaves out its name, title, source and
        seed), else the case of its name. A fitted case renamed, or run with another seed, title
        or `--set`, or a counterfactual of it that keeps its name, is still that meeting: fitted
        on, it would be forecast in sample."""
        for hashes, of in ((self.hashes, scenario_hash), (self.input_hashes, inputs_hash),
                           (self.legacy_input_hashes, _legacy_inputs_hash)):
            if hashes is not None and (digest := of(scenario)) in hashes:
                return hashes.index(digest)
        return self.cases.index(scenario.name) if scenario.name in self.cases else None

    def _known_by_inputs(self, case: int, scenario: Scenario) -> bool:
        """Whether `scenario` has the model inputs of fitted case `case` (not only its name)."""
        return any(hashes is not None and hashes[case] == of(scenario)
                   for hashes, of in ((self.hashes, scenario_hash), (self.input_hashes, inputs_hash),
                                      (self.legacy_input_hashes, _legacy_inputs_hash)))

    def setting(self, scenario: Scenario | None = None, draws: int = DRAWS) -> tuple[KnobSetting, dict]:
        """The knob setting that makes a run of `scenario` posterior predictive, and a note
        saying which posterior it is (leave-one-out when `scenario` is a fitted case, and
        whether it was known by its inputs or only by its name)."""
        if scenario is not None and not isinstance(scenario, Scenario):
            raise InputError(Problem("scenario", "", "must be a Scenario (sim.load_scenario(path) reads one) or None",
                                     scenario, True))
        if scenario is not None:  # changed since it was validated: its hash would name no case
            from .arguments import check_scenario

            check_scenario(scenario)
        if isinstance(draws, bool) or not isinstance(draws, (int, np.integer)) or not 1 <= draws <= MAX_DRAWS:
            # 0 rows made a run fail with an IndexError, 1.5 gave 2 rows, 10**9 a MemoryError
            raise InputError(Problem("setting", "draws", f"must be a whole number from 1 to {MAX_DRAWS:,} "
                                     f"(default {DRAWS})", draws, True))
        draws = int(draws)  # np.int64 passes, but the note goes into summary.json, which takes no numpy scalar
        held_out = None if scenario is None else self.case_of(scenario)
        w = self.weights(without=held_out)
        rows = systematic_rows(w, draws)
        by = None if held_out is None else ("inputs" if self._known_by_inputs(held_out, scenario) else "name")
        note = {"posterior": "leave-one-out" if held_out is not None else "all cases",
                "left_out": None if held_out is None else self.cases[held_out], "left_out_by": by, "draws": draws,
                "fitted_on": {"cases": len(self.cases), "source": self.meta.get("source") or None},
                "model_digest": self.meta.get("model_digest"),  # which model code fitted it (`staleness`)
                "knobs": self.summary(w)}
        return KnobSetting(self.knobs, self.grid[rows]), note

    def check_applies(self, scenario: Scenario, source: str, path: str | Path) -> None:
        """Every knob of the posterior (read from `path`) names a number of `scenario` (read from
        `source`) drawn per replicate; else an `InputError` naming `source`, found before any
        replicate runs (it was named by the scenario's name, with no file, when the run began)."""
        from .knobs import resolve_knob
        from .model import compile_model

        model, problems = compile_model(scenario), []
        for knob in self.knobs:
            try:
                resolve_knob(knob, scenario, model)
            except InputError as exc:
                problems += [Problem(source, p.path, f"{p.message}: a knob of the posterior {path}", p.value,
                                     p.has_value) for p in exc.problems]
        if problems:
            raise InputError(problems)

    def staleness(self, path: str | Path) -> str | None:
        """Why this posterior may not fit the running model (fitted by other model code), or None."""
        from .provenance import model_digest

        fitted, now = self.meta.get("model_digest"), model_digest()
        if fitted == now:
            return None
        which = "a version of sim that did not record its model" if fitted is None else f"other model code ({fitted})"
        source, knobs = self.meta.get("source") or "DIR", self.meta.get("knobs_file") or "SPEC"
        return (f"{path}: this posterior was fitted with {which}, not the running one ({now}): its knob values and "
                f"leave-one-out scores may not hold; refit with `python -m sim calibrate {source} --knobs {knobs} "
                f"--fresh --write NEW.json` (--fresh: points saved by the old code are not reused), then replace "
                f"{path} with NEW.json")

    def summary(self, w: np.ndarray | None = None) -> dict:
        """Per knob: posterior mean, sd and 2.5/50/97.5 % quantiles, and the prior's mean."""
        w = self.weights() if w is None else w
        out = {}
        for j, knob in enumerate(self.knobs):
            x = self.grid[:, j]
            mean = float(w @ x)
            q = weighted_quantiles(x, w, (0.025, 0.5, 0.975))
            out[knob.name] = {"mean": mean, "sd": float(math.sqrt(max(w @ (x - mean) ** 2, 0.0))),
                              "q025": q[0], "median": q[1], "q975": q[2], "prior_mean": float(self.prior @ x),
                              # the median on the outermost level: the data may want a wider range.
                              # With two levels the median is always on one: nothing to say.
                              "at_grid_edge": bool(q[1] in (x.min(), x.max()) and len(set(x)) > 2)}
        return out

    def marginal(self, j: int, w: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(grid values, posterior mass, prior mass) of knob j."""
        w = self.weights() if w is None else w
        values = np.unique(self.grid[:, j])
        post = np.array([w[self.grid[:, j] == v].sum() for v in values])
        prior = np.array([self.prior[self.grid[:, j] == v].sum() for v in values])
        return values, post, prior

    def to_json(self) -> dict:
        """The posterior as JSON-ready data, as its file holds it (without the file's `digest`)."""
        return {"format": FORMAT, "knobs": [k.model_dump(mode="json") for k in self.knobs],
                "grid": self.grid.tolist(), "prior": self.prior.tolist(), "cases": list(self.cases),
                "scenario_hashes": list(self.hashes),
                **({} if self.input_hashes is None else {"inputs_hashes": list(self.input_hashes)}),
                **({} if self.legacy_input_hashes is None else {"input_hashes": list(self.legacy_input_hashes)}),
                "loglik": self.loglik.T.tolist(), "meta": self.meta, "summary": self.summary()}

    def digest(self) -> str:
        """SHA-256 of the posterior's content (`to_json`): the `digest` its file carries, and
        what a backtest's kept calibrated forecasts depend on (`backtest_store`)."""
        return _digest(self.to_json())

    def file_data(self) -> dict:
        """What the posterior's file holds: `to_json` and the `digest` of it."""
        data = self.to_json()
        return {**data, "digest": _digest(data)}

    def write(self, path: str | Path) -> None:
        """Write the posterior as JSON, atomically, with a digest of its content: a file whose
        digest no longer matches was edited, and sim will not replace it (`written_by_sim`).
        Beside other files (not in a result directory) it holds the file's lock meanwhile, as
        every writer there does: a sim command starting in that folder would otherwise take
        the temp file for a killed writer's and remove it (`locks.clean_stale`); a second
        writer of the same file is an `InputError`."""
        from .locks import lock_target, marked

        if marked(Path(path).parent):  # a result directory's files are its writer's, under its lock
            write_json_atomic(path, self.file_data())
            return
        with lock_target(path, "path", "a posterior file"):
            write_json_atomic(path, self.file_data())


def _legacy_inputs_hash(scenario: Scenario) -> str:
    """The inputs hash of posteriors written from 2026-12-07 to 2026-12-08 (key `input_hashes`):
    the scenario's JSON without its `DESCRIPTIVE` fields, which counted the names of agents and
    issues and the order they were written in. Kept so those files still know their cases."""
    return hashlib.sha256(scenario.model_dump_json(exclude=set(DESCRIPTIVE)).encode()).hexdigest()


def _other_kind(text: str) -> str | None:
    """Which other kind of sim's YAML files `text` is (a knobs spec, a scenario), or None."""
    from .loading import looks_like
    from .yamlfile import load_yaml

    try:
        data = load_yaml(text, "")  # sim's bounded reader: no alias bombs
    except InputError:
        return None
    return looks_like(data) if isinstance(data, dict) else None


LOG_P_FLOOR = -745.0
"""The least log probability a posterior's file can hold: ln of the smallest positive float. A
calibration's smoothed frequencies, (count + 0.5) / (runs + 2), never come near it."""


def _first_repeat(items):
    """The first item equal to one before it, or None."""
    seen = set()
    for item in items:
        if item in seen:
            return item
        seen.add(item)
    return None


def _numbers(value, field: str):
    """`value` if it is a number or a list (of lists) of numbers: JSON's strings and booleans are
    not ("0.1" and true were read as 0.1 and 1 by numpy), a ValueError naming `field` otherwise."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, bool) or not isinstance(item, (int, float)):
            raise ValueError(f"{field} must hold numbers only (got {item!r})")
    return value


def _check_numbers(posterior: Posterior, path: Path) -> None:
    """A posterior read from `path` whose prior does not sum to 1 or whose log likelihoods are
    not log probabilities (in [LOG_P_FLOOR, 0]) is an `InputError` naming the field and the
    value: a hand-edited prior summing to 2 gave every knob twice its prior mean in the
    forecast's note, and sums beyond the floats' range gave nan weights and a traceback once the
    replicates had run."""
    with np.errstate(over="ignore", invalid="ignore"):
        total = float(np.sum(posterior.prior))
    if not abs(total - 1.0) <= 1e-6:
        raise InputError(Problem(str(path), "prior", f"must sum to 1 (the prior mass over the grid) (got a sum of "
                                                     f"{total:g})"))
    by_case = posterior.loglik.T  # as the file holds it: one list of points a case
    bad = np.argwhere(~((by_case >= LOG_P_FLOOR) & (by_case <= 0.0)))
    if len(bad):
        case, point = (int(i) for i in bad[0])
        raise InputError(Problem(str(path), f"loglik.{case}.{point}", f"must be a log probability, from "
                                 f"{LOG_P_FLOOR:g} to 0", float(by_case[case, point]), True))


def load_posterior(path: str | Path) -> Posterior:
    """Read a posterior written by `sim calibrate`; a malformed file is an `InputError`."""
    from .arguments import check_path

    check_path(path, "a posterior.json written by `sim calibrate`")
    path = Path(path)
    if path.is_dir() or not path.exists():
        what = "is a directory" if path.is_dir() else "does not exist"
        raise InputError(Problem(str(path), "", f"{what}: expected a posterior.json written by "
                                              "`sim calibrate`"))
    text = read_text_file(path)  # unreadable, too large or not UTF-8: says so, not "is not a posterior"
    try:
        try:
            data = json.loads(text)
        except ValueError:
            kind = _other_kind(text)
            if kind is not None:  # a knobs spec or a scenario: say which, not a JSON parser's column
                raise InputError(Problem(str(path), "", f"is not a posterior written by `sim calibrate`: it looks "
                                         f"like {kind}")) from None
            raise
        if not isinstance(data, dict):
            raise TypeError(f"holds a JSON {type(data).__name__}, not an object")
        if data.get("format") != FORMAT:
            raise ValueError(f"format is {data.get('format')!r}, not {FORMAT!r}")
        try:  # as a spec's knobs: one line a problem, naming the knob, not pydantic's report
            knobs = tuple(KnobFile.model_validate({"knobs": data["knobs"]}).knobs)
        except ValidationError as exc:
            raise InputError(problems_from(exc, str(path))) from None
        grid = np.array(_numbers(data["grid"], "grid"), dtype=float).reshape(-1, len(knobs))
        prior = np.array(_numbers(data["prior"], "prior"), dtype=float)
        cases, hashes, meta = data["cases"], data["scenario_hashes"], data.get("meta", {})
        if not (_strings(cases) and _strings(hashes) and len(hashes) == len(cases)):
            # a case without its hash would be forecast in sample, not left out
            raise ValueError("cases and scenario_hashes must be lists of names of one length")
        # a file written before them has none: matched by its scenario hashes, then by name
        inputs, legacy = data.get("inputs_hashes"), data.get("input_hashes")
        for key, value in (("inputs_hashes", inputs), ("input_hashes", legacy)):
            if value is not None and not (_strings(value) and len(value) == len(cases)):
                raise ValueError(f"{key} must be a list of names as long as cases")
        if not isinstance(meta, dict):
            raise ValueError("meta must be an object")
        # a case is left out by its name (and hash), a point weighs by its prior: each once
        if (twice := _first_repeat(cases)) is not None:
            raise ValueError(f"cases must name each case once ({twice!r} twice)")
        if (twice := _first_repeat(tuple(row) for row in grid.tolist())) is not None:
            raise ValueError(f"the grid must hold each point once ({list(twice)} twice)")
        loglik = np.array(_numbers(data["loglik"], "loglik"), dtype=float).reshape(len(cases), len(grid)).T
        if (len(prior) != len(grid) or not np.all(np.isfinite(loglik)) or not np.all(np.isfinite(grid))
                or not np.all(np.isfinite(prior)) or not np.all(prior >= 0) or not np.any(prior > 0)):
            raise ValueError("grid, prior and log likelihoods do not fit together (finite numbers, a prior "
                             "of mass >= 0 and not all 0)")
        for j, knob in enumerate(knobs):  # outside its grid, a value would be clipped to the field's bounds
            levels = np.asarray(knob.grid(), dtype=float)
            if not np.all((grid[:, j] >= levels.min() - 1e-12) & (grid[:, j] <= levels.max() + 1e-12)):
                raise ValueError(f"grid values of knob {knob.name!r} must lie within its grid "
                                 f"[{levels.min():g}, {levels.max():g}]")
        # A file written before posteriors carried a digest has none: not called edited.
        edited = "digest" in data and data["digest"] != _digest({k: v for k, v in data.items() if k != "digest"})
        posterior = Posterior(knobs, grid, prior, loglik, tuple(cases), tuple(hashes), dict(meta), edited,
                              None if inputs is None else tuple(inputs), None if legacy is None else tuple(legacy))
        _check_numbers(posterior, path)
        return posterior
    except KeyError as exc:
        raise InputError(Problem(str(path), str(exc.args[0]), "is missing: the file is not a posterior written by "
                                                              "`sim calibrate`")) from None
    except (OSError, UnicodeDecodeError, ValueError, TypeError) as exc:
        raise InputError(Problem(str(path), "", f"is not a posterior written by `sim calibrate` ({exc})")) from None


def _strings(items) -> bool:
    return isinstance(items, list) and all(isinstance(x, str) for x in items)


def _digest(data: dict) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, allow_nan=False).encode()).hexdigest()


def written_by_sim(path: str | Path) -> bool:
    """True if `path` is a posterior sim wrote and nobody edited since (its digest matches)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        digest = data.pop("digest")
        return data.get("format") == FORMAT and digest == _digest(data)
    except (OSError, UnicodeDecodeError, ValueError, KeyError, AttributeError, TypeError):
        return False


def systematic_rows(w: np.ndarray, draws: int) -> np.ndarray:
    """`draws` grid indices whose counts follow the weights `w`, without random numbers:
    index k appears floor or ceil of draws * w_k times (systematic resampling, offset 1/2)."""
    edges = np.cumsum(w)
    edges[-1] = 1.0
    return np.searchsorted(edges, (np.arange(draws) + 0.5) / draws, side="right").clip(0, len(w) - 1)
