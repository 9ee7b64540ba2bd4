"""Backtests: the model's forecasts of past meetings, scored against honest references.

A case is a scenario with an `observed:` block (the coded class of a meeting
that has happened). `run_backtest` forecasts every case as written (the raw
model) and, given a posterior from `sim calibrate`, posterior predictive (each
fitted case from the posterior refitted without it: leave-one-out), and sets
beside them the references a forecaster would have had at the case's vantage:
the base rate of the classes among earlier meetings (`base_rate_forecast`, no
look-ahead; from a meetings CSV, or else from the other cases) and the
uniform forecast; and a linear pool of the calibrated model with the base rate,
its weight fitted out of sample. `summarise_backtest` scores them all
(`sim.scoring`).
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .canonical import inputs_hash
from .errors import InputError, Problem
from .estimate import wilson
from .loading import load_scenario
from .model import CLASSES, SUBSTANTIVE_OR_BETTER
from .montecarlo import run
from .progress import StepProgress
from .schema import Scenario
from .scoring import (
    BOOTSTRAP_SEED,
    CLIP,
    RELIABILITY_BINS,
    RESAMPLES,
    bootstrap_difference,
    discrimination,
    discrimination_half_width,
    pool_out_of_sample,
    pool_weight_monte_carlo,
    reliability_table,
    score_forecasts,
)
from .yamlfile import check_regular_file, read_yaml_file

__all__ = ["Backtest", "Case", "CaseRun", "Meeting", "base_named_case", "base_rate_forecast", "find_cases",
           "is_case_file", "left_out", "load_cases", "load_meetings", "meetings_of_cases", "observed_after",
           "parse_meeting_date", "reads_like_scenario", "reference_forecasts", "run_backtest", "run_case",
           "summarise_backtest", "summarise_forecasts"]

UNIFORM = np.full(len(CLASSES), 1.0 / len(CLASSES))


# --- The reference: base rates of earlier meetings ------------------------------------------


@dataclass(frozen=True)
class Meeting:
    """One coded meeting: the day its outcome was known (its last day) and its class."""

    date: dt.date
    outcome: int  # index into CLASSES
    label: str  # the date as the table writes it


_DATE = re.compile(r"^\s*(\d{4})-(\d{2})(?:-(\d{2})(?:/(?:(?:(\d{4})-)?(\d{2})-)?(\d{2}))?)?(.*)$", re.DOTALL)
_NOTE = re.compile(r"^\s+\(.*\)\s*$|^\s*$", re.DOTALL)
_DATE_FORMS = "2016-05-06, a range 1973-10-07/10 or 2000-01-28/02-03, or a month 2012-12, then an optional (note)"


def parse_meeting_date(text: str) -> dt.date:
    """The last day a meeting's outcome could be unknown: '1973-10-07/10' -> 1973-10-10
    (also '2000-01-28/02-03' and '2000-01-28/2000-02-03', ISO 8601's forms of a range);
    a month alone ('2012-12 (planned)') -> its last day, so that a meeting counts as
    earlier than a vantage only if it surely was. After the date only a note in
    parentheses may follow: anything else ('2000-01-01 to 2000-02-01') could hide a
    later last day, and is refused."""
    m = _DATE.match(text)
    if m is None or not _NOTE.match(m[7]):
        raise ValueError(f"not a date like {_DATE_FORMS} (got {text!r})")
    year, month = int(m[1]), int(m[2])
    try:
        if m[3] is None:
            if not 1 <= month <= 12:
                raise ValueError(f"month must be in 1..12, got {month}")
            nxt = dt.date(year + month // 12, month % 12 + 1, 1)
            return nxt - dt.timedelta(days=1)
        first = dt.date(year, month, int(m[3]))
        if m[6] is None:
            return first
        last = dt.date(int(m[4] or year), int(m[5] or month), int(m[6]))
    except ValueError as exc:
        raise ValueError(f"not a date that exists ({exc}) (got {text!r})") from None
    if last < first:
        raise ValueError(f"a range must end on or after its first day, {first} (got {text!r})")
    return last


MEETING_COLUMNS = ("date", "outcome")


def load_meetings(path: str | Path, today: dt.date | None = None) -> list[Meeting]:
    """The coded meetings of a CSV with columns `date` and `outcome` (names and class names in
    any case, a class's words joined by `_`, `-` or a space: talk_fest, Talk fest; other
    columns are ignored; a UTF-8 byte-order mark, as spreadsheets write, is skipped).
    Refused, every problem at once: a column named twice, a date after `today` (default:
    the clock's; an outcome not yet known), a line repeating an earlier one (it would count
    one meeting twice in the base rate)."""
    path = Path(path)
    today = dt.date.today() if today is None else today
    check_regular_file(path)  # a FIFO would block the open forever
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = [name.strip() for name in reader.fieldnames or []]
            names = reader.fieldnames = [name.lower() for name in header]
            rows = list(_rows(reader))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(Problem(str(path), "", f"cannot read meetings: {exc}")) from None
    missing = [name for name in MEETING_COLUMNS if name not in names]
    if missing:
        found = f"the header is {', '.join(map(repr, header))}" if header else "the file is empty"
        raise InputError(Problem(str(path), "", f"has no column {' or '.join(missing)} (need columns "
                                 f"{', '.join(MEETING_COLUMNS)} on the first line; {found})"))
    twice = [name for name in MEETING_COLUMNS if names.count(name) > 1]
    if twice:
        raise InputError(Problem(str(path), "", f"names the column {' and '.join(twice)} more than once on its "
                                 "first line; which one is meant? keep one", ", ".join(header), True))
    meetings, problems, seen = [], [], {}
    for k, row, cells in rows:
        if any("\n" in cell for cell in cells):  # a quote left open: the reader took the lines after it in
            start = k - sum(cell.rstrip("\n").count("\n") for cell in row.values() if isinstance(cell, str))
            problems.append(Problem(str(path), f"line {start}", f'opens a quote (") that runs to line {k}: a quote '
                                    "left open takes in the lines after it; a meeting goes on one line"))
            continue
        if cells in seen:
            problems.append(Problem(str(path), f"line {k}", f"repeats line {seen[cells]} (one meeting would count "
                                    "twice in the base rate); delete one", ",".join(cells), True))
            continue
        seen[cells] = k
        try:
            date = parse_meeting_date(row.get("date") or "")
        except ValueError as exc:
            problems.append(Problem(str(path), f"line {k}.date", str(exc)))
            continue
        if date > today:
            problems.append(Problem(str(path), f"line {k}.date", f"is after today ({today}): a meeting's outcome "
                                    "is known only once it has happened", row["date"].strip(), True))
            continue
        outcome = "_".join((row.get("outcome") or "").replace("-", " ").split()).lower()  # Talk fest, talk-fest
        if outcome not in CLASSES:
            problems.append(Problem(str(path), f"line {k}.outcome", f"must be one of {', '.join(CLASSES)}"
                                    + ("" if outcome else " (got nothing)"), row.get("outcome"), bool(outcome)))
            continue
        meetings.append(Meeting(date, CLASSES.index(outcome), row["date"].strip()))
    if not rows:
        problems.append(Problem(str(path), "", "holds no meetings (need columns date, outcome)"))
    if problems:
        raise InputError(problems)
    return meetings


def _rows(reader: csv.DictReader):
    """(line number, row, its stripped cells) of each line with something in it."""
    for row in reader:
        cells = tuple((v or "").strip() if not isinstance(v, list) else ",".join(v) for v in row.values())
        if any(cells):
            yield reader.line_num, row, cells


def meetings_of_cases(cases: list[Case]) -> list[Meeting]:
    """The cases themselves as a table of meetings, each known from its latest observed date."""
    return [Meeting(c.scenario.observed.latest, c.observed, c.name) for c in cases]


def base_rate_forecast(meetings: list[Meeting], before: dt.date, prior: float = 1.0) -> np.ndarray:
    """The classes' frequencies among meetings whose outcome was known before `before`,
    smoothed by a symmetric Dirichlet(prior, ...) prior: (n_k + prior) / (n + K prior).
    With no earlier meeting it is the uniform forecast."""
    counts = np.zeros(len(CLASSES))
    for m in meetings:
        if m.date < before:
            counts[m.outcome] += 1
    return (counts + prior) / (counts.sum() + prior * len(CLASSES))


# --- Cases -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    path: Path
    scenario: Scenario

    @property
    def name(self) -> str:
        return self.scenario.name

    @property
    def observed(self) -> int:
        return CLASSES.index(self.scenario.observed.outcome)


def find_cases(directory: str | Path) -> list[Path]:
    """The YAML files of `directory` (sorted) whose top level has an `observed:` key;
    others (a shared `_base.yaml`, a `calibration.yaml`) are not cases."""
    directory = Path(directory)
    if not directory.is_dir():
        what = ("does not exist; backtest and calibrate read a directory of scenarios" if not directory.exists()
                else "is a file; name the folder that holds the cases, each a scenario with an observed: block")
        raise InputError(Problem(str(directory), "", what))
    paths = [path for path in sorted(directory.glob("*.yaml")) if is_case_file(path)]
    if not paths:
        raise InputError(Problem(str(directory), "", "holds no scenario with an `observed:` block"))
    return paths


def is_case_file(path: str | Path) -> bool:
    """Whether the YAML file `path` is a case by `find_cases`' rule: an `observed:` key at its top
    level, or YAML that cannot be read (loading it as a case then says why)."""
    try:
        data = read_yaml_file(path)
    except InputError:
        return True
    return isinstance(data, dict) and "observed" in data


def base_named_case(path: str | Path) -> Problem | None:
    """The note for a case whose file is named as a shared base is (`_...`), None for another:
    a template's placeholder outcome is scored as a meeting, without a word otherwise."""
    if not Path(path).name.startswith("_"):
        return None
    return Problem(str(path), "observed", "makes this file a case, scored with the others, though its name starts "
                   "with `_`, as a shared base's does; if it is a base, move its `observed:` block into the cases")


SCENARIO_KEYS = ("agents", "summit", "extends")
"""Top-level keys by which a file in the cases' folder reads like a scenario (a knobs spec, a
sweep spec or a meetings note does not)."""


def left_out(directory: str | Path) -> list[Path]:
    """The YAML files of `directory` that read like a case but are none, for want of an
    `observed:` block (a forgotten block would otherwise shrink the backtest without a word);
    a shared base named `_...` is meant not to be a case and is not listed."""
    directory = Path(directory)
    taken = set(find_cases(directory))
    out = []
    for path in sorted(directory.glob("*.yaml")):
        if path in taken or path.name.startswith("_"):
            continue
        if reads_like_scenario(path):
            out.append(path)
    return out


def reads_like_scenario(path: str | Path) -> bool:
    """Whether the YAML file `path` has a scenario's top-level key (`SCENARIO_KEYS`), or cannot be
    read as YAML at all (loading it as a scenario then says why): what a folder's files are taken
    as by `left_out` and by `validate DIR`, and a knobs spec or a sweep spec beside them is not."""
    try:
        data = read_yaml_file(path)
    except InputError:
        return True
    return isinstance(data, dict) and any(key in data for key in SCENARIO_KEYS)


def observed_after(scenario: Scenario, path: str | Path, today: dt.date | None = None) -> Problem | None:
    """Why a case observed after `today` (default: the clock's) cannot be scored: its meeting has
    not happened, so no class is known. `load_cases` refuses such a case; `validate`, for which
    the file is a valid scenario, notes it. None for a past date or a scenario that is no case."""
    today = dt.date.today() if today is None else today
    if scenario.observed is None or scenario.observed.latest <= today:
        return None
    return Problem(str(path), "observed.date", f"is after today ({today}): a meeting's outcome is known only once "
                   "it has happened", str(scenario.observed.latest), True)


def load_cases(directory: str | Path, overrides: dict[str, Any] | None = None,
               today: dt.date | None = None) -> list[Case]:
    """Every case of `directory`, validated; every problem of every file at once. A case
    observed after `today` (default: the clock's) is refused: it has not happened; so is a
    case with the model inputs of another (`canonical.inputs_hash`: a copy renamed, retitled or
    with its agents called otherwise), which would count one meeting twice."""
    today = dt.date.today() if today is None else today
    cases, problems = [], []
    for path in find_cases(directory):
        try:
            scenario = load_scenario(path, overrides=overrides, option="--set")  # `sim backtest --set`
        except InputError as exc:  # a shared base's problem comes once from every case: say it once
            problems += [p for p in exc.problems if str(p) not in map(str, problems)]
            continue
        if scenario.observed is None:
            problems.append(Problem(str(path), "observed", "must be an observed outcome, not empty"))
            continue
        future = observed_after(scenario, path, today)
        if future is not None:
            problems.append(future)
            continue
        cases.append(Case(path, scenario))
    if problems:
        raise InputError(problems)
    first: dict[str, Path] = {}
    for case in cases:  # each file that repeats a name, beside the one that had it first: which to rename
        if case.name in first:
            problems.append(Problem(str(case.path), "name", f"is also the name of the case {first[case.name]}: "
                                    "cases must have distinct names", case.name, True))
        first.setdefault(case.name, case.path)
    same: dict[str, Case] = {}
    for case in cases:  # a copy under another name is one meeting, as a repeated line of the meetings table is
        key = inputs_hash(case.scenario)
        if key in same and same[key].name != case.name:  # (one name: said above)
            problems.append(Problem(str(case.path), "name", f"is another name for the case {same[key].path}: the "
                                    "two have the same model inputs, so one meeting would count twice in the "
                                    "scores and the fit; delete one", case.name, True))
        same.setdefault(key, case)
    if problems:
        raise InputError(problems)
    return sorted(cases, key=lambda c: (c.scenario.observed.earliest, c.name))


# --- Running ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseRun:
    """One case's forecast: its replicates per class as written and, with a posterior,
    posterior predictive (`calibration` says which posterior)."""

    counts: np.ndarray  # (n_classes,)
    runs: int
    entropy: int  # the root seed's entropy
    calibrated_counts: np.ndarray | None = None
    calibration: dict | None = None
    seconds: float = 0.0


@dataclass
class Backtest:
    """Forecasts of the cases that finished, shapes (n_cases, n_classes), rows in case order;
    an interrupted backtest holds fewer cases than it was given (`cases_total`)."""

    cases: list[Case]
    counts: np.ndarray  # the raw model's replicates per class
    runs: np.ndarray  # (n_cases,) replicates per case
    entropy: list[int]  # root seed entropy per case
    base_rate: np.ndarray
    uniform: np.ndarray
    seconds: float
    reference: str  # where the base rate comes from
    calibrated_counts: np.ndarray | None = None  # posterior predictive replicates per class
    calibration: list[dict] = field(default_factory=list)  # per case: which posterior it used
    cases_total: int | None = None  # cases asked for (None: as many as finished)
    resumed: int = 0  # cases kept from an earlier, interrupted run
    missing: list[str] = field(default_factory=list)  # names of the cases that did not finish

    @property
    def complete(self) -> bool:
        return not self.missing

    @property
    def model(self) -> np.ndarray:
        return self.counts / self.runs[:, None]

    @property
    def calibrated(self) -> np.ndarray | None:
        return None if self.calibrated_counts is None else self.calibrated_counts / self.runs[:, None]

    @property
    def observed(self) -> np.ndarray:
        return np.array([c.observed for c in self.cases], dtype=int)

    def forecasts(self) -> tuple[dict[str, np.ndarray], dict]:
        """Every forecaster's forecasts, and the pool's fitted weights (if calibrated)."""
        out = {"model": self.model}
        pool: dict = {}
        if self.calibrated is not None:
            out["calibrated"] = self.calibrated
        if self.calibrated is not None and len(self.cases) > 1:  # one case: no other case to fit its weight on
            pooled, w_case, w_all = pool_out_of_sample(self.calibrated, self.base_rate, self.observed)
            out["pooled"] = pooled
            low, high = pool_weight_monte_carlo(self.calibrated_counts, self.runs, self.base_rate, self.observed)
            pool = {"weight_on_model_per_case": w_case.tolist(), "weight_on_model_all_cases": w_all,
                    "weight_on_model_all_cases_mc95": [low, high],
                    "mc95_method": "parametric bootstrap: each case's counts redrawn from the multinomial of its "
                                   "replicates, the weight refitted, 200 times"}
        out.update(base_rate=self.base_rate, uniform=self.uniform)
        return out, pool


def reference_forecasts(cases: list[Case], meetings: list[Meeting] | None) -> tuple[np.ndarray, str]:
    """Each case's base-rate forecast (n_cases, n_classes), and where it comes from: the meetings
    of the table known before the case's vantage, or without a table the other cases'."""
    table = meetings if meetings is not None else meetings_of_cases(cases)
    base = np.array([base_rate_forecast(table, c.scenario.calendar.vantage) for c in cases])
    where = ("the meetings in the table" if meetings is not None else "the other cases")
    return base, f"classes of {where} known before each case's vantage, Dirichlet(1, 1, 1, 1) prior"


def run_case(case: Case, runs: int | None = None, seed: int | None = None, posterior=None,
             workers: int | None = 1, stop: threading.Event | None = None,
             max_memory: int | None = None) -> CaseRun | None:
    """Forecast one case as written and, with a `posterior`, posterior predictive; None if
    `stop` was set before both runs finished (a case is kept whole or not at all). `max_memory`
    as for `montecarlo.run`."""
    started = time.perf_counter()
    result = run(case.scenario, runs=runs, seed=seed, workers=workers, stop=stop, max_memory=max_memory)
    if result.interrupted:
        return None
    calibrated, note = None, None
    if posterior is not None:
        setting, note = posterior.setting(case.scenario)
        cal = run(case.scenario, runs=runs, seed=seed, knobs=setting, workers=workers, stop=stop,
                  max_memory=max_memory)
        if cal.interrupted:
            return None
        calibrated = cal.counts.astype(float)
    return CaseRun(result.counts.astype(float), int(result.runs), int(result.entropy), calibrated, note,
                   time.perf_counter() - started)


def run_backtest(cases: list[Case], meetings: list[Meeting] | None, runs: int | None = None,
                 seed: int | None = None, posterior=None, progress: StepProgress | None = None,
                 workers: int | None = 1, stop: threading.Event | None = None,
                 kept: dict[str, CaseRun] | None = None,
                 keep: Callable[[Case, CaseRun], None] | None = None, max_memory: int | None = None) -> Backtest:
    """Forecast every case (`runs` and `seed` default to each scenario's own) as written and,
    with a `posterior`, posterior predictive; and the references. The base rate of a case
    counts the meetings known before its vantage: those of `meetings`, or if None the
    other cases'. Each case runs on `workers` processes (None: `montecarlo.run`'s default);
    the forecasts do not depend on it.

    Resumable: a case named in `kept` (finished by an earlier run of the same settings) is
    not run again; `keep(case, forecast)` is called as each case finishes, so that the
    caller can save it. Setting `stop` ends the backtest after the case in hand: the result
    holds the cases that finished (`complete` False) and the case in hand is dropped. A case
    whose run would need more than `max_memory` bytes (None: the memory available) is an
    `InputError` before it runs (`montecarlo.run`)."""
    kept = kept or {}
    done: dict[int, CaseRun] = {k: kept[c.name] for k, c in enumerate(cases) if c.name in kept}
    started = time.perf_counter()
    if progress is not None:
        progress.start(len(cases), len(done))
    for k, case in enumerate(cases):
        if k in done:
            continue
        if stop is not None and stop.is_set():
            break
        forecast = run_case(case, runs, seed, posterior, workers, stop, max_memory)
        if forecast is None:
            break
        done[k] = forecast
        if keep is not None:
            keep(case, forecast)
        if progress is not None:
            progress.advance(1)
    base, reference = reference_forecasts(cases, meetings)  # over every case: as an uninterrupted run's
    rows = sorted(done)
    finished = [done[k] for k in rows]
    calibrated = None
    if posterior is not None:
        calibrated = np.array([f.calibrated_counts for f in finished]).reshape(len(rows), len(CLASSES))
    return Backtest([cases[k] for k in rows], np.array([f.counts for f in finished]).reshape(len(rows), len(CLASSES)),
                    np.array([f.runs for f in finished], dtype=float), [f.entropy for f in finished],
                    base[rows].reshape(len(rows), len(CLASSES)), np.tile(UNIFORM, (len(rows), 1)),
                    time.perf_counter() - started, reference, calibrated,
                    [f.calibration for f in finished] if posterior is not None else [],
                    cases_total=len(cases), resumed=sum(1 for k in rows if cases[k].name in kept),
                    missing=[c.name for k, c in enumerate(cases) if k not in done])


def _discrimination_errors(summary: dict, bt: Backtest) -> None:
    """Beside each Monte Carlo forecaster's discrimination, the half-width of its 95 % Monte
    Carlo interval (`discrimination_half_width`, from each case's binomial standard error)."""
    runs = np.asarray(bt.runs, dtype=float)
    observed = [c.observed for c in bt.cases]
    for name in ("model", "calibrated"):
        d = summary["discrimination"].get(name)
        if d is None or d["difference"] is None:
            continue
        p = np.array([sum(c["forecasts"][name][CLASSES[j]] for j in SUBSTANTIVE_OR_BETTER) for c in summary["cases"]])
        d["difference_mc_half_width"] = discrimination_half_width(np.sqrt(p * (1 - p) / runs), observed)


def summarise_backtest(bt: Backtest, resamples: int = RESAMPLES, bootstrap_seed: int = BOOTSTRAP_SEED) -> dict:
    """The backtest's forecasts scored (`summarise_forecasts`), the subject being the calibrated
    model if there is one, else the raw model; with the replicates and seeds of each case, and
    each Monte Carlo forecast's Wilson 95 % intervals. An interrupted backtest's summary scores
    only the cases that finished and says so: `complete` false, `missing_cases` named."""
    forecasts, pool = bt.forecasts()
    summary = summarise_forecasts(bt.cases, forecasts, "calibrated" if "calibrated" in forecasts else "model",
                                  bt.reference, resamples, bootstrap_seed)
    for k, case in enumerate(summary["cases"]):
        case.update(runs=int(bt.runs[k]), seed_entropy=bt.entropy[k])
        counts = {"model": bt.counts[k], **({"calibrated": bt.calibrated_counts[k]} if bt.calibrated_counts
                                            is not None else {})}
        case["intervals"] = {name: {c: _wilson_pair(n[j], bt.runs[k]) for j, c in enumerate(CLASSES)}
                             for name, n in counts.items()}
        if bt.calibration:
            case["calibration"] = {key: bt.calibration[k].get(key) for key in ("posterior", "left_out", "left_out_by")}
        if pool:
            case["pool_weight_on_model"] = pool["weight_on_model_per_case"][k]
    _discrimination_errors(summary, bt)
    summary.update(pool=pool or None, seconds=round(bt.seconds, 3), complete=bt.complete,
                   cases_total=bt.cases_total if bt.cases_total is not None else len(bt.cases),
                   cases_resumed=bt.resumed, missing_cases=list(bt.missing))
    return summary


def summarise_forecasts(cases: list[Case], forecasts: dict[str, np.ndarray], subject: str, reference: str,
                        resamples: int = RESAMPLES, bootstrap_seed: int = BOOTSTRAP_SEED) -> dict:
    """Per case the forecasts and scores; per forecaster the mean scores and how well it tells
    the substantive meetings from the others; for every other forecaster the subject's mean
    score minus its, with a 95 % bootstrap interval; reliability tables."""
    y = np.array([c.observed for c in cases], dtype=int)
    scores = {name: score_forecasts(p, y) for name, p in forecasts.items()}
    rows = []
    for k, case in enumerate(cases):
        obs = case.scenario.observed
        rows.append({"name": case.name, "file": str(case.path), "vantage": case.scenario.calendar.vantage.isoformat(),
                     "date": obs.earliest.isoformat() if obs.earliest == obs.latest
                     else f"{obs.earliest.isoformat()}/{obs.latest.isoformat()}",
                     "observed": obs.outcome, "source": obs.source,
                     "forecasts": {name: dict(zip(CLASSES, map(float, p[k]))) for name, p in forecasts.items()},
                     "scores": {name: {s: float(v[k]) for s, v in sc.items()} for name, sc in scores.items()}})
    differences = {ref: {s: dict(zip(("mean", "low", "high"), map(_finite, bootstrap_difference(
        scores[subject][s], scores[ref][s], bootstrap_seed, resamples)))) for s in ("brier", "log")}
        for ref in forecasts if ref != subject}
    return {
        "n_cases": len(cases),
        "observed_counts": dict(zip(CLASSES, map(int, np.bincount(y, minlength=len(CLASSES))))),
        "cases": rows,
        "mean_scores": {name: {s: float(v.mean()) for s, v in sc.items()} for name, sc in scores.items()},
        "discrimination": {name: discrimination(p, y) for name, p in forecasts.items()},
        "subject": subject,
        "differences": differences,
        "bootstrap": {"resamples": resamples, "seed": bootstrap_seed, "level": 0.95,
                      "method": "BCa (scipy.stats.bootstrap), cases resampled with replacement, paired"},
        "log_score_clip": CLIP,
        "base_rate": reference,
        "reliability_bins": list(RELIABILITY_BINS),
        "reliability": {name: reliability_table(p, y) for name, p in forecasts.items()},
    }


def _wilson_pair(count: float, runs: float) -> list[float]:
    e = wilson(int(count), int(runs))
    return [e.low, e.high]


def _finite(x: float) -> float | None:
    """JSON has no NaN: an interval that does not exist (fewer than 3 cases) is null."""
    return None if x is None or not np.isfinite(x) else float(x)
