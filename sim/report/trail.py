"""Result files as read by the report, each field remembering where it came from.

The views read a summary deep and in many places, trusting the shape sim writes;
a hand-edited or damaged file breaks them somewhere inside (a KeyError, a format
code given a string). Rather than a second schema of every summary kept in step
with the views, each JSON object and list read from a result file becomes a
`TracedDict`/`TracedList` that notes the last field read; `malformed_fields`
turns an error raised while reading them into an `InputError` naming the file,
that field and its value.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from ..errors import InputError, Problem

__all__ = ["TracedDict", "TracedList", "first_line", "malformed_fields", "traced"]

_LAST: ContextVar[tuple[str, str, Any, bool] | None] = ContextVar("sim_report_last_read", default=None)
"""(file, dotted path, value, found) of the last field read from a traced result file."""


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _note(source: str, path: str, value: Any = None, found: bool = False) -> None:
    _LAST.set((source, path, value, found))


class TracedDict(dict):
    """A JSON object read from `source` at `path`; each key read is noted (see the module)."""

    __slots__ = ("_path", "_source")

    def __getitem__(self, key: Any) -> Any:
        _note(self._source, _join(self._path, key))
        value = super().__getitem__(key)
        _note(self._source, _join(self._path, key), value, True)
        return value

    def get(self, key: Any, default: Any = None) -> Any:
        """`dict.get`; a default of `[]` or `{}` says what the field must be, checked here
        (where it is read, not later where the views iterate it beside other fields)."""
        if key not in self:
            return default
        value = self[key]
        if isinstance(default, (list, dict)) and not isinstance(value, type(default)):
            raise TypeError(f"must be {'an array' if isinstance(default, list) else 'an object'}")
        return value


class TracedList(list):
    """A JSON array read from `source` at `path`; each item read is noted."""

    __slots__ = ("_path", "_source")

    def __getitem__(self, index: Any) -> Any:
        if not isinstance(index, (int, slice)):  # read as an object: the array itself is what is wrong
            _note(self._source, self._path, self, True)
            return super().__getitem__(index)
        _note(self._source, _join(self._path, index))
        value = super().__getitem__(index)
        _note(self._source, _join(self._path, index), value, True)
        return value

    def __iter__(self) -> Iterator[Any]:
        for k, value in enumerate(super().__iter__()):
            _note(self._source, _join(self._path, k), value, True)
            yield value


def traced(data: Any, source: str, path: str = "") -> Any:
    """`data` (parsed JSON, CSV or parquet rows) with every object and list traced, read
    from file `source`, its fields named from `path`."""
    if isinstance(data, dict):
        out = TracedDict({k: traced(v, source, _join(path, k)) for k, v in data.items()})
    elif isinstance(data, list):
        out = TracedList(traced(v, source, _join(path, k)) for k, v in enumerate(data))
    else:
        return data
    out._source, out._path = source, path
    return out


MALFORMED = (LookupError, TypeError, ValueError, AttributeError, ArithmeticError)
"""What reading a field of the wrong shape raises (jinja2's UndefinedError is added where caught)."""


@contextlib.contextmanager
def malformed_fields() -> Iterator[None]:
    """Turn an error raised while reading traced result files into one `InputError` line:
    `FILE: FIELD: is missing` or `FILE: FIELD: is not what sim writes there (got VALUE)`.
    An error raised before any traced field was read is left alone (it is a bug)."""
    import jinja2

    token = _LAST.set(None)
    try:
        yield
    except (*MALFORMED, jinja2.UndefinedError) as exc:
        last = _LAST.get()
        if last is None:
            raise
        source, path, value, found = last
        if not found:
            raise InputError(Problem(source, path, "is missing (the file is not as sim wrote it)")) from None
        why = f"({type(exc).__name__}: {first_line(exc) or 'no message'})"
        if isinstance(value, (dict, list)):
            kind = "an object" if isinstance(value, dict) else "an array"
            raise InputError(Problem(source, path, f"is {kind}, not what sim writes there {why}")) from None
        raise InputError(Problem(source, path, f"is not what sim writes there {why}", value, True)) from None
    finally:
        _LAST.reset(token)


def first_line(exc: BaseException) -> str:
    """The first line of `exc`'s message ("" if it has none), a traced object named as the
    plain one it stands for."""
    lines = str(exc).strip().splitlines()
    return lines[0].replace(TracedDict.__name__, "dict").replace(TracedList.__name__, "list") if lines else ""
