"""A run's results on disk: summary.json, per-replicate Parquet and plots, written atomically.

A `ResultWriter` streams each chunk's rows to `replicates.parquet` (one row
group a chunk, `sim.replicates`) in a temp directory beside the final one;
`finish` writes the weekly quantiles behind the fan chart, the scenario's
source files (`inputs/`, comments and all: they are its citations), the
summary (with the whole menu) and the plots, and swaps the whole directory
into place, so a reader sees a whole result or none. Where sim may write, and how two writers are kept
apart, is `sim.ownership`'s business: both writers here go through its
`ResultDir`.
"""

from __future__ import annotations

import dataclasses
import io
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .arguments import plain_values
from .errors import InputError, Problem, RunError
from .estimate import Estimate, wilson
from .io import utc_now, write_json_atomic
from .model import CLASSES, SUBSTANTIVE_OR_BETTER
from .montecarlo import Chunk, RunResult
from .ownership import ResultDir, from_here, new_run_id
from .randomness import BLOCK_SIZE
from .schema import scenario_hash

__all__ = ["ResultWriter", "default_out_dir", "estimate_dict", "read_inputs", "summarise_menu", "summarise_run",
           "write_result_dir"]

TOP_DEALS = 8
RESOLVED = "resolved.yaml"
"""The file in a run's `inputs/` holding the scenario as validated, every derivation resolved."""
MENU_LISTED = 65_536
"""Menus up to this size are listed whole in summary.json; a larger one only in replicates.parquet."""


def default_out_dir(scenario_name: str, root: str | Path = "results") -> Path:
    """`results/<scenario>/<UTC YYYYMMDDTHHMMSSZ>-<random>`, relative to the current directory."""
    return Path(root) / scenario_name / new_run_id()


# --- The summary ----------------------------------------------------------------


def summarise_run(result: RunResult, scenario_file: str | Path | None = None) -> dict:
    """The figures of a run as plain JSON-ready data: what `summary.json` holds."""
    from . import __version__  # late: the package imports this module's siblings first

    model = result.model
    seconds = float(result.seconds)
    return {
        "sim_version": __version__,
        "scenario": model.name,
        "scenario_file": None if scenario_file is None else str(scenario_file),
        "scenario_hash": scenario_hash(result.scenario),
        "engine": model.engine,
        "engine_options": dict(model.engine_options) if model.engine == "eum" else None,
        "runs": int(result.runs),
        "requested_runs": int(result.requested_runs),
        "seed_entropy": int(result.entropy),
        "block_size": BLOCK_SIZE,
        "chunk_size": int(result.chunk_size),
        "workers": int(result.workers),
        "seconds": round(seconds, 6),
        "replicates_per_second": round(result.runs / seconds, 1) if seconds > 0 else None,
        "compile_seconds": round(float(result.compile_seconds), 6),
        "precision": None if result.precision is None else float(result.precision),  # np.float32 passes run's check
        "stopped_early": bool(result.stopped_early),
        "interrupted": bool(result.interrupted),
        "classes": {name: estimate_dict(e) for name, e in result.estimates().items()},
        "headline": {name: estimate_dict(e) for name, e in result.headline().items()},
        "deals": summarise_deals(result),
        # as the file lists them (a package's name and levels too), not in the engine's canonical order
        "agents": list(model.scenario.agents),
        "parties": list(model.scenario.summit.parties),
        "issues": list(model.scenario.issues),
        "created": utc_now(),
        "calibration": summarise_calibration_of(result),
        "menu": summarise_menu(model),
        "events": [{"name": e.name, "day": e.day, "date": _date(model, e.day)} for e in model.events],
        "ticks": len(model.ticks),
    }


def summarise_menu(model) -> list[dict] | None:
    """Every package of the summit's menu, in menu order: its name, class and levels (the
    labels of `replicates.parquet`'s package column); None above `MENU_LISTED` packages."""
    if len(model.packages) > MENU_LISTED:
        return None
    return [{"package": name, "class": CLASSES[int(c)], "levels": _levels(model, k)}
            for k, (name, c) in enumerate(zip(model.package_names, model.package_class))]


def _levels(model, k: int) -> dict[str, float]:
    """Package `k`'s level on each issue, in the file's order of issues (as its name)."""
    return {issue: float(model.packages[k, model.issues.index(issue)]) for issue in model.scenario.issues}


def _date(model, day: int) -> str | None:
    import datetime as dt

    return None if model.start_date is None else (model.start_date + dt.timedelta(days=day)).isoformat()


def summarise_calibration_of(result: RunResult) -> dict | None:
    """Which posterior the knobs came from, and each outcome's spread over it (None without)."""
    if result.calibration is None:
        return None
    groups = {**{name: (k,) for k, name in enumerate(CLASSES)}, "substantive_or_better": SUBSTANTIVE_OR_BETTER}
    spread = {name: result.parameter_spread(classes) for name, classes in groups.items()}
    # plain_values: a note holding numpy scalars (a user's, or an old `setting`'s draws) would fail json
    return {**plain_values(result.calibration), "parameter_spread": spread if all(spread.values()) else None}


def summarise_deals(result: RunResult, top: int = TOP_DEALS) -> list[dict]:
    """The `top` most frequent packages agreed (ties: menu order), with their intervals. A deal's
    `class` is the one most of its replicates were given and `classes` counts them per class: a
    rubric with `signed:` classes one package by who signed it, so that the menu's class (were
    every party to sign) can be one no replicate had."""
    model = result.model
    by_class = np.asarray(result.package_classes[:-1])  # the last slot counts "no deal"
    counts = by_class.sum(axis=1)
    order = sorted((k for k in range(len(counts)) if counts[k] > 0), key=lambda k: (-counts[k], k))
    deals = []
    for k in order[:top]:
        e = wilson(int(counts[k]), int(result.runs))
        deals.append({
            "package": model.package_names[k],
            "class": CLASSES[int(np.argmax(by_class[k]))],
            "classes": {name: int(n) for name, n in zip(CLASSES, by_class[k]) if n},
            "levels": _levels(model, k),
            **estimate_dict(e),
        })
    return deals


def estimate_dict(e: Estimate) -> dict:
    """An estimate as JSON-ready data (a bound that is not finite: None)."""
    return {name: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for name, v in e.as_dict().items()}


# --- The writer ------------------------------------------------------------------


class ResultWriter:
    """Write one run's results to directory `out`, whole or not at all.

        with ResultWriter(out) as writer:
            result = run(scenario, sink=writer.sink)
            summary = writer.finish(result, {"scenario_file": path})

    Leaving the `with` block without `finish` (an exception, or nothing to
    write) removes the temp directory and leaves `out` as it was. `out` must be
    new, empty, or an earlier result of `command` (`force`: of any sim command);
    a second writer of `out` is refused while this one holds it (`sim.ownership`).
    """

    def __init__(self, out: str | Path, *, command: str = "run", force: bool = False):
        from .arguments import check_path

        check_path(out, "the result directory to write", "out")
        self.out = Path(out)
        self.target = ResultDir(self.out, command, force=force)
        self.tmp: Path | None = None
        self.summary: dict | None = None
        self._writer = None
        self._rows = 0
        self.warnings: list[str] = []

    def __enter__(self) -> ResultWriter:
        self.target.__enter__()
        self.tmp = self.target.tmp
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        self._close()
        self.target.__exit__(exc_type, exc, tb)
        return False

    def sink(self, chunk: Chunk) -> None:
        """Append one chunk's rows; chunks must come in replicate order. The first chunk opens
        the file, labelled from the model the chunk came from."""
        if self.tmp is None:
            raise RuntimeError("ResultWriter.sink called outside its `with` block or after finish")
        if chunk.start != self._rows:
            raise RunError(f"chunk starts at replicate {chunk.start}, expected {self._rows}")
        try:
            if self._writer is None:
                from .replicates import ReplicateWriter

                self._writer = ReplicateWriter(self.tmp / "replicates.parquet", chunk.model)
            self._writer.write(chunk)
        except OSError as exc:
            raise RunError(f"cannot write results to {self.out}: {exc.strerror or exc}") from None
        self._rows += len(chunk.outcome)

    def finish(self, result: RunResult, extra: dict | None = None,
               also: Callable[[Path], None] | None = None, inputs: list[tuple[Path, str, bytes]] | None = None) -> dict:
        """Write the trajectory, the inputs, summary.json and the plots, then move it all into place.

        `extra` may name the `scenario_file` (its source files are copied to `inputs/`: as
        `read_inputs` read them when the scenario was loaded, if given as `inputs`, else as
        they are now); its other keys are added to the summary. `also(folder)` may add files of its own (the HTML
        report) to the folder before it is put in place; if it fails, the run is kept without
        them and the failure is in `self.warnings`. Returns the summary as written.
        """
        if not isinstance(result, RunResult):
            raise InputError(Problem("result", "", "must be the RunResult that run() returned", result, True))
        if extra is not None and not isinstance(extra, dict):
            raise InputError(Problem("extra", "", "must be a dict, e.g. {'scenario_file': path}, or None", extra, True))
        if self.tmp is None or not self.tmp.exists():
            raise RuntimeError("ResultWriter.finish called outside its `with` block or twice")
        if result.runs < 1:
            raise RunError("no replicates finished: nothing to write")
        try:
            return self._finish(result, extra, also, inputs)
        except OSError as exc:  # a full disk, a vanished directory: the run failed, not the input
            raise RunError(f"cannot write results to {self.out}: {exc.strerror or exc}") from None

    def _finish(self, result: RunResult, extra: dict | None, also: Callable[[Path], None] | None,
                inputs: list[tuple[Path, str, bytes]] | None) -> dict:
        from .plots import plot_fan, plot_outcomes  # late: matplotlib is slow to import
        from .replicates import count_written, write_trajectory

        self._close()
        if self._rows < result.runs:
            raise RunError(f"the writer received {self._rows} replicates but the run counts {result.runs}; "
                           "pass the writer's sink to run()")
        result = _recount(result, count_written(self.tmp / "replicates.parquet", len(CLASSES),
                                                len(result.package_classes)))
        write_trajectory(self.tmp / "trajectory.parquet", result.model, result.trajectory)
        extra = dict(extra or {})
        scenario_file = extra.pop("scenario_file", None)
        summary = summarise_run(result, scenario_file)
        if inputs is None and scenario_file is not None:
            inputs = read_inputs(scenario_file)
        summary["inputs"] = _copy_inputs(inputs or [], self.tmp / "inputs")
        summary["resolved"] = _write_resolved(result.scenario, self.tmp / "inputs")
        summary.update(extra)
        write_json_atomic(self.tmp / "summary.json", summary)
        plot_outcomes(summary, self.tmp / "outcomes.png")
        plot_fan(result, self.tmp / "fan.png")
        if also is not None:
            before = set(self.tmp.rglob("*"))
            try:
                also(self.tmp)
            except Exception as exc:  # an extra (a page) that cannot be made must not cost the run
                for path in sorted(set(self.tmp.rglob("*")) - before, reverse=True):
                    path.rmdir() if path.is_dir() else path.unlink()
                self.warnings.append(f"{type(exc).__name__}: {exc}")
        self.target.commit()
        self.summary = summary
        return summary

    def _close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def read_inputs(scenario_file: str | Path) -> list[tuple[Path, str, bytes]]:
    """The scenario file and every file it extends or includes, in reading order, each with its
    role and its bytes: read when the scenario is loaded, so that a file edited during the run
    is recorded as the run read it."""
    from .loading import scenario_sources

    out = []
    for path, role in scenario_sources(scenario_file):
        try:
            out.append((path, role, path.read_bytes()))
        except OSError:  # gone since it was found: loading the scenario reported it, or will
            continue
    return out


def _copy_inputs(inputs: list[tuple[Path, str, bytes]], folder: Path) -> list[dict]:
    """Write the files `read_inputs` read, as written (comments are a scenario's citations);
    return what was written, in reading order. Each `source` is named from the folder the
    command ran in (`from_here`), as the manifest's `ran_in` names that folder: an absolute path
    put the user's home folder into results shared with others, and broke when the project moved."""
    if not inputs:
        return []
    folder.mkdir()
    out = []
    for k, (path, role, data) in enumerate(inputs):
        name = f"{k}-{path.name}"
        (folder / name).write_bytes(data)
        out.append({"file": f"inputs/{name}", "source": from_here(path), "role": role})
    return out


def _write_resolved(scenario, folder: Path) -> str:
    """The scenario as the run validated it, in one file (its `extends:`, `include:` and
    `--set` resolved) that `sim run` reads as it stands; the copies beside it keep their
    citations but refer to their bases by their original names."""
    from .loading import dump_scenario

    folder.mkdir(exist_ok=True)
    (folder / RESOLVED).write_text("# The scenario this run validated, every extends:, include: and --set resolved "
                                   "(written by sim;\n# the files beside it are the originals, with their comments).\n"
                                   + dump_scenario(scenario), encoding="utf-8")
    return f"inputs/{RESOLVED}"


def write_result_dir(out: str | Path | ResultDir, summary: dict, plots: dict[str, Callable[[dict, Path], None]],
                     files: dict[str, str] | None = None, *, command: str = "result", force: bool = False) -> None:
    """Write `summary.json`, each `plots[name](summary, path)` and each text file to
    directory `out`, whole or not at all (a temp directory swapped into place).
    For commands whose results are a summary and pictures (compare, explain,
    backtest, calibrate); `run` streams its replicates with `ResultWriter`.
    `out` may be a `ResultDir` the command claimed before its work began (so that a
    second writer was refused before it, too, spent minutes); else it is claimed here
    for `command`."""
    if isinstance(out, ResultDir):
        _write_summary_dir(out, summary, plots, files)
        return
    with ResultDir(out, command, force=force) as target:
        _write_summary_dir(target, summary, plots, files)


def _write_summary_dir(target: ResultDir, summary: dict, plots: dict, files: dict[str, str] | None) -> None:
    tmp = target.tmp
    if tmp is None:
        raise RuntimeError("write_result_dir needs a claimed ResultDir (inside its `with` block)")
    try:
        write_json_atomic(tmp / "summary.json", summary)
        for name, plot in plots.items():
            plot(summary, tmp / name)
        for name, text in (files or {}).items():
            (tmp / name).write_text(text, encoding="utf-8")
        target.commit()
    except OSError as exc:
        raise RunError(f"cannot write results to {target.out}: {exc.strerror or exc}") from None


def write_result_files(out: str | Path, summary: dict, plots: dict[str, Callable[[dict, Path], None]],
                       files: dict[str, str] | None = None) -> None:
    """Write `summary.json`, the plots and the text files into the existing directory `out`
    (a resumable command's working directory), each file atomically."""
    import matplotlib

    from .io import atomic_write_bytes, atomic_write_text, fsync_dir

    out = Path(out)
    try:
        write_json_atomic(out / "summary.json", summary)
        for name, plot in plots.items():
            # Drawn in memory, then through `io.temp_name`: a temp file named for its picture
            # (`.NAME.png.png`) was not one a rerun knows as sim's, so a kill while drawing left
            # a directory the rerun refused to resume.
            buffer = io.BytesIO()
            with matplotlib.rc_context({"savefig.format": Path(name).suffix.lstrip(".")}):
                plot(summary, buffer)
            atomic_write_bytes(out / name, buffer.getvalue())
        for name, text in (files or {}).items():
            atomic_write_text(out / name, text)
        fsync_dir(out)
    except OSError as exc:
        raise RunError(f"cannot write results to {out}: {exc.strerror or exc}") from None



def _recount(result: RunResult, written: np.ndarray) -> RunResult:
    """The counts of the written rows (per package and class) must agree with the run's, except
    after Ctrl-C, which can land between writing a chunk and counting it (then the written rows
    are the truth)."""
    if np.array_equal(written, result.package_classes):
        return result
    counts = written.sum(axis=0)
    if not result.interrupted:
        raise RuntimeError(f"written outcomes {counts.tolist()} disagree with the run's {result.counts.tolist()}")
    return dataclasses.replace(result, counts=counts, package_classes=written, runs=int(counts.sum()))
