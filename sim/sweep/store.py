"""A sweep's results on disk: one SQLite database that loses nothing, and a tidy CSV.

The plan (every point's parameters) is written in one transaction when the
sweep is created; each finished point is then committed at once, in its own
transaction, in WAL mode with full syncs. A process killed at any moment
leaves the database whole, holding every point committed before the kill;
reopening it resumes. Only the parent process writes, so one connection does.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
from pathlib import Path

import numpy as np

from ..errors import InputError, Problem, RunError
from ..estimate import wilson
from ..io import atomic_write_text, fsync_dir, temp_name, utc_now
from ..model import CLASSES, SUBSTANTIVE_OR_BETTER

__all__ = ["DB_NAME", "OUTPUTS", "SweepStore", "cannot_store", "remove_sweep"]

DB_NAME = "sweep.sqlite"
SCHEMA_VERSION = 2
OUTPUTS = ("points.csv", "sweep.json", "curves.png", "heatmap.png", "sensitivity.png")
"""Files the sweep derives from the database; --fresh removes them with it."""

ESTIMATES = (*CLASSES, "substantive_or_better")
"""Each has a probability and its Wilson 95 % interval in a results row: {name}_p, _low, _high."""
RESULT_COLUMNS = ("point", "runs", *(f"{c}_count" for c in CLASSES),
                  *(f"{e}_{s}" for e in ESTIMATES for s in ("p", "low", "high")), "seconds", "finished")

_SCHEMA = f"""
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE points (
    point INTEGER PRIMARY KEY,   -- index in the plan
    params TEXT NOT NULL         -- JSON list of the factors' values, in meta.factors order
);
CREATE TABLE results (
    point INTEGER PRIMARY KEY REFERENCES points(point),
    runs INTEGER NOT NULL,
    {", ".join(f"{c}_count INTEGER NOT NULL" for c in CLASSES)},
    {", ".join(f"{e}_{s} REAL" for e in ESTIMATES for s in ("p", "low", "high"))},
    seconds REAL NOT NULL,       -- simulation time, summed over the point's tasks
    finished TEXT NOT NULL       -- UTC, ISO 8601
);
"""


def remove_sweep(directory: Path) -> None:
    """Remove the database and everything derived from it (for --fresh), and the
    temp file of a database whose creation was killed."""
    for name in (DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm", *OUTPUTS):
        (directory / name).unlink(missing_ok=True)
    for tmp in directory.glob(f".{DB_NAME}.tmp-*"):
        tmp.unlink(missing_ok=True)


def _mismatch(found, identity: dict) -> str:
    """Why the store at a directory is not this sweep's or calibration's: its points were
    computed by other model code (they would mix two models under one result), or its
    inputs differ."""
    found = found if isinstance(found, dict) else {}
    others = {k for k in set(found) | set(identity) if k != "model" and found.get(k) != identity.get(k)}
    if not others and "model" in identity:
        before = found.get("model") or "unrecorded"
        return (f"holds points computed by other model code ({before}; the running code is {identity['model']}): "
                "they would not mix with new ones; use --fresh to recompute them, or another --out")
    what = ("a different calibration (other knobs, cases, runs or seed)" if identity.get("kind") == "calibration"
            else "a different sweep (other scenario, factors, design, runs or seed)")
    return f"holds {what}; use --fresh to replace it, or another --out"


def _unreadable(directory: Path, exc: sqlite3.Error) -> InputError:
    """A store that cannot be opened: one sim may not write (a read-only directory or
    file: WAL mode writes beside it even to read), or one that is not a sweep's."""
    # an emptied file opens as a database without tables: not a sweep's, whoever may write there
    if isinstance(exc, sqlite3.OperationalError) and not str(exc).startswith(("no such table", "no such column")):
        return InputError(Problem("--out", "", f"cannot open the store {DB_NAME} there to resume ({exc}); sim must "
                                  "be able to write in the directory", str(directory), True))
    return InputError(Problem(str(directory / DB_NAME), "", f"not a sweep database ({exc}); "
                              "use --fresh to replace it"))


def cannot_store(directory: Path, exc: OSError | sqlite3.Error) -> InputError:
    """A store that cannot be removed (--fresh) or made in `directory`."""
    reason = getattr(exc, "strerror", None) or exc
    return InputError(Problem("--out", "", f"cannot write the store {DB_NAME} there ({reason})", str(directory),
                              True))


class SweepStore:
    """The database of one sweep: its identity, plan and finished points."""

    def __init__(self, path: Path):
        self.path = path
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None)  # explicit transactions
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")  # a committed point survives power loss too
            self.db.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error:
            self.db.close()
            raise

    @classmethod
    def exists(cls, directory: Path) -> bool:
        return (directory / DB_NAME).is_file()

    @classmethod
    def create(cls, directory: Path, identity: dict, entropy: int, factors: list[str],
               plan: np.ndarray, extra: dict) -> SweepStore:
        """A new database holding the sweep's identity and plan, written in one
        transaction to a temp file renamed into place: it exists whole or not at all."""
        directory.mkdir(parents=True, exist_ok=True)
        tmp = temp_name(directory / DB_NAME)
        try:
            db = sqlite3.connect(tmp, isolation_level=None)
            db.executescript("BEGIN;" + _SCHEMA + "COMMIT;")
            meta = {"schema_version": SCHEMA_VERSION, "identity": identity, "entropy": str(entropy),
                    "factors": factors, "created": utc_now("milliseconds"), **extra}
            db.execute("BEGIN")
            db.executemany("INSERT INTO meta VALUES (?, ?)", [(k, json.dumps(v)) for k, v in meta.items()])
            db.executemany("INSERT INTO points VALUES (?, ?)",
                           [(i, json.dumps([float(v) for v in row])) for i, row in enumerate(plan)])
            db.execute("COMMIT")
            db.close()
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, directory / DB_NAME)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        fsync_dir(directory)
        return cls(directory / DB_NAME)

    @classmethod
    def open(cls, directory: Path, identity: dict) -> SweepStore:
        """The existing database of this sweep; a different sweep's is an input error."""
        try:
            store = cls(directory / DB_NAME)
        except sqlite3.Error as exc:
            raise _unreadable(directory, exc) from None
        try:
            meta = store.meta()
        except sqlite3.Error as exc:
            store.close()
            raise _unreadable(directory, exc) from None
        found = meta.get("identity")
        if meta.get("schema_version") != SCHEMA_VERSION:
            store.close()
            raise InputError(Problem(str(directory / DB_NAME), "", "was written by another version of sim "
                                     f"(schema {meta.get('schema_version')}, this one reads {SCHEMA_VERSION}); "
                                     "use --fresh to replace it"))
        if found != json.loads(json.dumps(identity)):
            store.close()
            raise InputError(Problem(str(directory), "", _mismatch(found, identity)))
        return store

    def close(self) -> None:
        self.db.close()

    def meta(self) -> dict:
        return {k: json.loads(v) for k, v in self.db.execute("SELECT key, value FROM meta")}

    @property
    def entropy(self) -> int:
        return int(self.meta()["entropy"])

    def plan(self) -> np.ndarray:
        """(n_points, n_factors) every point's parameters, in plan order."""
        rows = [json.loads(p) for (p,) in self.db.execute("SELECT params FROM points ORDER BY point")]
        return np.array(rows, dtype=float)

    def done(self) -> set[int]:
        return {p for (p,) in self.db.execute("SELECT point FROM results")}

    def commit(self, point: int, counts: np.ndarray, seconds: float) -> None:
        """Keep one finished point, durably, before anything else happens: its counts,
        each class's probability with its interval, and P(substantive or better)."""
        counts = [int(k) for k in counts]
        runs = sum(counts)
        estimates = [wilson(k, runs) for k in counts] + [wilson(sum(counts[c] for c in SUBSTANTIVE_OR_BETTER), runs)]
        values = (point, runs, *counts, *(v for e in estimates for v in (e.p, e.low, e.high)),
                  float(seconds), utc_now("milliseconds"))
        try:
            self.db.execute(f"INSERT INTO results ({', '.join(RESULT_COLUMNS)}) "
                            f"VALUES ({', '.join('?' * len(RESULT_COLUMNS))})", values)
        except sqlite3.OperationalError as exc:  # a full disk, an I/O error: the points kept before stay
            raise self.cannot_keep(exc) from None

    def cannot_keep(self, exc: sqlite3.Error | OSError) -> RunError:
        """The error for a point the store could not keep, or a table of them it could not write
        (each was a traceback): the directory, the cause, and the points kept, which a rerun of
        the same command resumes from."""
        try:
            kept, total = (self.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                           for table in ("results", "points"))
            said = f"{kept:,} of {total:,} points are kept there"
        except sqlite3.Error:
            said = "the points finished before are kept there"
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        return RunError(f"cannot write results to {self.path.parent}: {reason}; {said}: rerun the same command "
                        "to resume once there is room")

    def rows(self) -> list[dict]:
        """Every finished point in plan order: its parameters, then the results row."""
        factors = self.meta()["factors"]
        columns = [c for c in RESULT_COLUMNS if c not in ("point", "finished")]
        query = (f"SELECT r.point, p.params, {', '.join('r.' + c for c in columns)} "
                 "FROM results r JOIN points p USING (point) ORDER BY r.point")
        return [{"point": point, **dict(zip(factors, json.loads(params))), **dict(zip(columns, values))}
                for point, params, *values in self.db.execute(query)]

    def export_csv(self, path: Path) -> int:
        """Write the finished points as tidy CSV, one row a point (atomically); return the rows."""
        rows = self.rows()
        factors = self.meta()["factors"]
        columns = ["point", *factors, *(c for c in RESULT_COLUMNS if c not in ("point", "finished"))]
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        try:
            atomic_write_text(path, buf.getvalue())
        except OSError as exc:
            raise self.cannot_keep(exc) from None
        return len(rows)
