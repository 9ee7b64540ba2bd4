"""The actors of one issue, read from a CSV and checked once at the boundary.

Columns Actor, Capability, Position, Salience (any case, any order, other columns
ignored).  Every problem of a file is reported at once, each naming the file, the line
and column, and the value; past this point the kernels trust their inputs.
"""

from __future__ import annotations

import codecs
import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError, Problem
from ..yamlfile import not_utf8, read_file_bytes

__all__ = ["COLUMNS", "MAGNITUDE", "Actors", "load_actors_csv"]

COLUMNS = ("Actor", "Capability", "Position", "Salience")

MAGNITUDE = 1e100
"""Largest capability and |position| accepted.  The model's largest intermediates are
sums over actors of capability x position (the mean) and positions' differences (the
range), below n x 1e200 and 2e100 here: nothing can overflow (at 1e308, R does)."""

_RULES = {  # column: [(test, the rule as the error states it)]
    "Capability": [(lambda v: v >= 0, "must be >= 0"), (lambda v: v <= MAGNITUDE, f"must be <= {MAGNITUDE:g}")],
    "Position": [(lambda v: abs(v) <= MAGNITUDE, f"must be between {-MAGNITUDE:g} and {MAGNITUDE:g}")],
    "Salience": [(lambda v: 0 <= v <= 1, "must be between 0 and 1")],
}


@dataclass(frozen=True, eq=False)
class Actors:
    """Actors of one issue: ``names`` (tuple), the rest float arrays ``(n_actors,)``."""

    names: tuple[str, ...]
    capability: np.ndarray
    position: np.ndarray
    salience: np.ndarray


def load_actors_csv(path: str | Path) -> Actors:
    """Read an actors CSV; raise one InputError listing every problem.

    Problems: an unreadable or empty file, or one that is not UTF-8 text (the line of
    the first bad byte named); a header without any of the columns (fields separated by
    ';' or tabs named as such); a missing or duplicated column; a row with more or
    fewer fields than the header; a value that is not a finite number, or outside its
    range (capability in [0, 1e100], |position| <= 1e100, salience in [0, 1], with a
    hint when the saliences look like a 0-100 scale); an empty or repeated actor name;
    fewer than two actors; no weight at all (every capability x salience 0: no weighted
    median exists).  Blank lines are skipped.
    """
    source = str(path)
    data = read_file_bytes(path, source)  # not a regular file, unreadable, or above 8 MiB: an InputError
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        at = exc.start + (len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0)  # counted after the BOM
        raise InputError(not_utf8(source, data, at, "a spreadsheet, or another encoding? save the file as CSV UTF-8",
                                  lead="cannot be read: ")) from None
    try:
        reader = csv.reader(io.StringIO(text, newline=""))
        rows = [(reader.line_num, row) for row in reader if any(f.strip() for f in row)]
    except csv.Error as exc:
        raise InputError(Problem(source, "", f"cannot be read: {exc}")) from None
    if not rows:
        raise InputError(Problem(source, "", f"is empty: needs a header with columns {', '.join(COLUMNS)}"))
    index, problems = _header(source, *rows[0])
    if problems:
        raise InputError(problems)
    names, values = [], {col: [] for col in COLUMNS[1:]}
    first_line: dict[str, int] = {}  # each actor's name: the line it first appears on
    for line, row in rows[1:]:
        if len(row) != len(rows[0][1]):
            problems.append(Problem(source, f"line {line}", f"must have {len(rows[0][1])} fields, as the "
                                    "header has", len(row), True))
            continue
        names.append(row[index["Actor"]].strip())
        if not names[-1]:
            problems.append(Problem(source, f"line {line}.Actor", "must not be empty"))
        elif names[-1] in first_line:
            problems.append(Problem(source, f"line {line}.Actor", f"must be unique: line {first_line[names[-1]]} "
                                    "has the same name", names[-1], True))
        else:
            first_line[names[-1]] = line
        for col in COLUMNS[1:]:
            values[col].append(_value(source, line, col, row[index[col]].strip(), problems))
    if len(rows) < 3:
        problems.append(Problem(source, "", "must list at least two actors", len(rows) - 1, True))
    _hint_percent_salience(values["Salience"], problems)
    if problems:
        raise InputError(problems)
    actors = Actors(tuple(names), *(np.array(values[col], dtype=float) for col in COLUMNS[1:]))
    if not np.any(actors.capability * actors.salience > 0):
        raise InputError(Problem(source, "Capability, Salience", "some actor must have capability x "
                                 "salience > 0: with no weight there is no weighted median", 0.0, True))
    return actors


def _header(source: str, line: int, header: list[str]) -> tuple[dict[str, int], list[Problem]]:
    """The index of each needed column, and the problems of the header."""
    keys = [h.strip().lower() for h in header]
    repeated = sorted({k for k in keys if k and keys.count(k) > 1})
    problems = [Problem(source, f"line {line}", "column names must be unique", header[keys.index(k)].strip(), True)
                for k in repeated]
    index = {col: keys.index(col.lower()) for col in COLUMNS if col.lower() in keys}
    if not index:  # not a comma-separated actors file at all: one line says so, not one per column
        separator = next((name for sep, name in ((";", "';'"), ("\t", "tabs"), ("|", "'|'")) if sep in header[0]),
                         None) if len(header) == 1 else None
        rule = (f"fields are separated by {separator}: an actors CSV separates them by commas" if separator
                else f"has none of the columns {', '.join(COLUMNS)}: not an actors CSV")
        return index, [Problem(source, f"line {line}", rule, ",".join(header), True)]
    problems += [Problem(source, col, "missing column", tuple(header), True) for col in COLUMNS if col not in index]
    return index, problems


def _value(source: str, line: int, col: str, text: str, problems: list[Problem]) -> float:
    """The cell as a float, appending a problem if it is not a number within its column's range."""
    where = f"line {line}.{col}"
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        problems.append(Problem(source, where, "must be a finite number", text, True))
        return math.nan
    problems += [Problem(source, where, rule, value, True) for ok, rule in _RULES[col] if not ok(value)]
    return value


def _hint_percent_salience(saliences: list[float], problems: list[Problem]) -> None:
    """Saliences mostly (more than half) above 1 and none above 100 are likely percentages: say so on their errors."""
    finite = [v for v in saliences if math.isfinite(v)]
    if 2 * sum(v > 1 for v in finite) > len(finite) and max(finite) <= 100:
        problems[:] = [Problem(p.source, p.path, p.message + " (a 0-100 scale? divide it by 100)", p.value, True)
                       if p.path.endswith(".Salience") and p.has_value and isinstance(p.value, float) and p.value > 1
                       else p for p in problems]
