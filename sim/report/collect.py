"""Reading result directories for the report: what each holds, as plain data.

Every directory sim writes holds `.sim-manifest.json`, naming the command that
made it; that says how to read the rest. Nothing is rerun: a run's fan chart
comes from its `trajectory.parquet`, the summit's dates from the
`summit_day` column of `replicates.parquet`, its assumptions from the copies
of its scenario files in `inputs/` (comments and all). What a directory lacks
(an older run without `trajectory.parquet`, say) is left out of the page, and
the page says so; what makes a directory unreadable is an `InputError`.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError, Problem, map_all
from .comments import SourceFile, read_source
from .trail import first_line, malformed_fields, traced

__all__ = ["KINDS", "Input", "Result", "collect", "read_result"]

KINDS = ("run", "explain", "compare", "sweep", "backtest", "calibrate")
"""The commands whose results the report shows, in the page's order."""
SUMMARY_FILE = {"sweep": "sweep.json"}
MAX_SWEEP_POINTS = 100_000
"""Points read from a sweep's points.csv (the figure needs no more)."""


@dataclass
class Input:
    """One scenario file a run read, as copied to its `inputs/`."""

    file: str  # relative to the result directory
    source: str  # where it was read from
    role: str  # scenario, extends, include
    parsed: SourceFile | None
    missing: bool = False
    digest: str | None = None  # SHA-256 of the copy's text: runs holding the same base share its listing


@dataclass
class Result:
    """One result directory: its kind (the command that made it), its summary and what else the page draws."""

    kind: str
    path: Path
    summary: dict
    manifest: dict | None
    trajectory: list[dict] | None = None
    summit_days: list[int] | None = None  # 5 %, 50 %, 95 % of the summit's day
    inputs: list[Input] = field(default_factory=list)
    points: list[dict] | None = None
    notes: list[str] = field(default_factory=list)
    resolved: list[Input] = field(default_factory=list)  # inputs/resolved.yaml, where the run wrote one
    # The folder the command ran in, absolute: where the relative paths of its summary start
    # (the manifest's `ran_in`); None where the manifest does not say (made before sim recorded it).
    made_in: Path | None = None

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def title(self) -> str | None:
        """The scenario's `title:` (else None), from the first input file that has one."""
        return self._top_level("title")

    @property
    def source(self) -> str | None:
        """The scenario's top-level `source:`, the question's citation."""
        return self._top_level("source")

    def _top_level(self, key: str) -> str | None:
        # the scenario as the run validated it first: a `set:`, an `include:` or `--set` may
        # have changed the title or the source that the files themselves write
        for item in [*self.resolved, *self.inputs]:
            data = item.parsed.data if item.parsed is not None else None
            if isinstance(data, dict) and isinstance(data.get(key), str):
                return data[key]
        return None


def collect(dirs: list[str | Path]) -> list[Result]:
    """Read every directory; report the problems of all of them at once. Sorted by kind
    (run first), keeping the given order within a kind."""
    results = map_all(read_result, dirs)
    return sorted(results, key=lambda r: KINDS.index(r.kind))


def read_result(directory: str | Path, kind: str | None = None) -> Result:
    """One result directory. `kind` names what it is where it has no manifest yet (a run's
    directory being written, for `run --report`)."""
    from ..ownership import MANIFEST, read_manifest

    path = Path(directory)
    if not path.is_dir():
        what = "does not exist" if not path.exists() else "is not a directory"
        raise InputError(Problem(str(path), "", f"{what}; sim report reads result directories"))
    manifest = read_manifest(path)
    if kind is None:
        if manifest is None:
            raise InputError(Problem(str(path), "", f"is not a sim result directory (no valid {MANIFEST})"
                                     + _inner_results(path)))
        kind = manifest["command"]
    if kind not in KINDS:
        raise InputError(Problem(str(path), "", f"holds the result of `sim {kind}`, which the report does not show "
                                 f"(it shows {', '.join(KINDS)})"))
    manifest = traced(manifest, str(path / MANIFEST)) if manifest is not None else None
    result = Result(kind, path, _read_json(path, SUMMARY_FILE.get(kind, "summary.json")), manifest)
    ran_in = manifest.get("ran_in") if manifest is not None else None
    if isinstance(ran_in, str) and ran_in:
        result.made_in = Path(os.path.normpath(os.path.join(os.path.abspath(path), ran_in)))
    with malformed_fields():
        if kind == "run":
            _read_run(result)
        elif kind == "sweep":
            result.points = _read_points(path / "points.csv", result)
    return result


def _inner_results(path: Path) -> str:
    """"; it holds N: name one, e.g. the newest, X" when `path` is a folder of results such as
    `results/baseline/`, which a first-time user gives instead of one of them."""
    from ..ownership import read_manifest

    try:
        inner = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")
                       and read_manifest(p) is not None)
    except OSError:
        return ""
    if not inner:
        return ""
    newest = max(inner, key=lambda p: (p.stat().st_mtime, p.name))
    count = "1 result directory" if len(inner) == 1 else f"{len(inner)} result directories"
    return f"; it holds {count}: name one, e.g. the newest, {newest}"


def _read_json(path: Path, name: str) -> dict:
    file = path / name
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(Problem(str(path), "", f"has no {name}: not a finished result")) from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(Problem(str(file), "", f"cannot be read as JSON ({exc})")) from None
    if not isinstance(data, dict):
        raise InputError(Problem(str(file), "", "is not a JSON object"))
    return traced(data, str(file))


def _read_run(result: Result) -> None:
    path = result.path
    listed = set((result.manifest or {}).get("files") or [])

    def gone(name: str, otherwise: str) -> str:
        # a file the manifest lists was removed since; only an older run never had it
        return f"{name} is missing (removed since the run wrote it)" if name in listed else otherwise

    try:
        result.trajectory = _read_trajectory(path / "trajectory.parquet")
    except FileNotFoundError:
        result.notes.append(gone("trajectory.parquet", "no trajectory.parquet: the run is older than the fan "
                                                       "chart's data"))
    try:
        result.summit_days = _summit_days(path / "replicates.parquet")
    except FileNotFoundError:
        result.notes.append(gone("replicates.parquet", "no replicates.parquet") + ": the summit's dates are not shown")
    for entry in result.summary.get("inputs") or []:
        file = path / entry.get("file", "")
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            result.inputs.append(Input(entry.get("file", ""), entry.get("source", ""), entry.get("role", ""),
                                       None, missing=True))
            continue
        result.inputs.append(Input(entry["file"], entry.get("source", ""), entry.get("role", ""), read_source(text),
                                   digest=hashlib.sha256(text.encode("utf-8")).hexdigest()))
    try:
        text = (path / "inputs" / "resolved.yaml").read_text(encoding="utf-8")
        result.resolved.append(Input("inputs/resolved.yaml", "", "resolved", read_source(text)))
    except (OSError, UnicodeDecodeError, ValueError):
        pass  # an older run, or a damaged copy: the page takes the title and source from the files
    if not result.summary.get("inputs"):
        result.notes.append("no inputs/: the run kept no copy of its scenario files, so no assumptions are shown")


def _read_trajectory(file: Path) -> list[dict]:
    rows = [traced(row, str(file)) for row in _read_parquet(file).to_pylist()]  # fields named by column
    for row in rows:
        row["date"] = None if row.get("date") is None else row["date"].isoformat()
    return rows


def _summit_days(file: Path) -> list[int] | None:
    import numpy as np
    import pyarrow.types as pat

    from ..arrow import values_of

    column = _read_parquet(file, ["summit_day"]).column("summit_day")
    if not pat.is_integer(column.type):
        raise InputError(Problem(str(file), "summit_day", "must be a column of whole days", str(column.type), True))
    if column.null_count:
        raise InputError(Problem(str(file), "summit_day", f"has {column.null_count} empty rows; sim writes none"))
    kind = "u" if pat.is_unsigned_integer(column.type) else "i"
    days = values_of(column.combine_chunks(), np.dtype(f"{kind}{column.type.bit_width // 8}"))
    if days.size == 0:
        return None
    return [int(v) for v in np.percentile(days, [5, 50, 95], method="nearest")]


def _read_parquet(file: Path, columns: list[str] | None = None):
    """A parquet file as a pyarrow table; a file that is not one, or lacks `columns`, is an `InputError`."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not file.exists():
        raise FileNotFoundError(file)
    try:
        schema = pq.read_schema(str(file))
        missing = [c for c in columns or [] if c not in schema.names]
        if missing:
            raise InputError(Problem(str(file), ", ".join(missing), "is missing: the file is not as sim wrote it"))
        return pq.ParquetFile(str(file)).read(columns=columns)  # read_table imports pyarrow.dataset, and pandas
    except (pa.ArrowException, OSError) as exc:
        why = (first_line(exc) or type(exc).__name__).removeprefix(f"Could not open Parquet input source '{file}': ")
        raise InputError(Problem(str(file), "", f"is not a parquet file, or is damaged ({why})")) from None


def _read_points(file: Path, result: Result) -> list[dict] | None:
    try:
        with open(file, newline="", encoding="utf-8") as fh:
            rows = []
            for k, row in enumerate(csv.DictReader(fh)):
                if k >= MAX_SWEEP_POINTS:
                    result.notes.append(f"only the first {MAX_SWEEP_POINTS:,} points are drawn")
                    break
                rows.append({key: _number(v) for key, v in row.items()})
            return rows
    except FileNotFoundError:
        result.notes.append("no points.csv: the sweep's points are not shown")
        return None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(Problem(str(file), "", f"cannot be read as CSV ({exc})")) from None


def _number(text: Any) -> Any:
    if text is None or text == "":
        return None
    try:
        return float(text)
    except (TypeError, ValueError):
        return text
