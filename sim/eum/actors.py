"""The actors of one issue, read from a CSV and checked once at the boundary.

Columns Actor, Capability, Position, Salience (any case, any order, other columns
ignored).  Every problem of a file is reported at once; past this point the kernels
trust their inputs.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError, Problem

__all__ = ["COLUMNS", "MAGNITUDE", "Actors", "load_actors_csv"]

COLUMNS = ("Actor", "Capability", "Position", "Salience")
MAGNITUDE = np.inf
"""Largest capability and |position| accepted (not bounded yet)."""


@dataclass(frozen=True, eq=False)
class Actors:
    """Actors of one issue: ``names`` (tuple), the rest float arrays ``(n_actors,)``."""

    names: tuple[str, ...]
    capability: np.ndarray
    position: np.ndarray
    salience: np.ndarray


def load_actors_csv(path: str | Path) -> Actors:
    """Read columns Actor, Capability, Position, Salience (any case, any order).

    Raises InputError listing every problem: a missing column, a value that is not a
    number (by file line and column), salience outside [0, 1], capability < 0, fewer
    than two actors, an unreadable file.
    """
    source = str(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = [(i, row) for i, row in _numbered(csv.reader(handle)) if any(f.strip() for f in row)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(Problem(source, "", f"cannot be read: {exc}")) from None
    if not rows:
        raise InputError(Problem(source, "", f"is empty: needs a header with columns {', '.join(COLUMNS)}"))
    header = [h.strip().lower() for h in rows[0][1]]
    index = {col: header.index(col.lower()) for col in COLUMNS if col.lower() in header}
    problems = [Problem(source, col, "missing column", tuple(rows[0][1]), True)
                for col in COLUMNS if col not in index]
    if problems:
        raise InputError(problems)
    names, values = [], {col: [] for col in COLUMNS[1:]}
    for line, row in rows[1:]:
        cells = {col: row[i].strip() if i < len(row) else "" for col, i in index.items()}
        if not cells["Actor"]:
            problems.append(Problem(source, f"line {line}.Actor", "must not be empty"))
        names.append(cells["Actor"])
        for col in COLUMNS[1:]:
            value = _number(cells[col])
            where = f"line {line}.{col}"
            if value is None:
                problems.append(Problem(source, where, "must be a finite number", cells[col], True))
            elif col == "Salience" and not 0 <= value <= 1:
                problems.append(Problem(source, where, "must be between 0 and 1", value, True))
            elif col == "Capability" and value < 0:
                problems.append(Problem(source, where, "must be >= 0", value, True))
            values[col].append(value)
    if len(names) < 2:
        problems.append(Problem(source, "", "must list at least two actors", len(names), True))
    if problems:
        raise InputError(problems)
    return Actors(tuple(names), *(np.array(values[c], dtype=float) for c in COLUMNS[1:]))


def _numbered(reader):
    for row in reader:
        yield reader.line_num, row


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if np.isfinite(value) else None
