"""Writing files so that a reader sees a whole file or none: one helper each.

Every file `sim` writes goes through a temp file in the same directory, is
flushed and fsynced, then renamed over its name; the directory is fsynced so
the rename survives a crash. Times are UTC, ISO 8601.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
from pathlib import Path
from typing import Any

from .errors import hold_interrupts

__all__ = ["atomic_write_bytes", "atomic_write_text", "check_can_create", "fsync_dir", "fsync_tree", "temp_name",
           "utc_now", "write_json_atomic"]


def temp_name(path: Path, kind: str = "tmp") -> Path:
    """A hidden sibling of `path` that no other writer picks: `.NAME.KIND-XXXXXXXX`."""
    return path.with_name(f".{path.name}.{kind}-{secrets.token_hex(4)}")


def check_can_create(path: str | Path) -> OSError | None:
    """Whether a file can be created beside `path` (its folder existing), by creating and
    removing a temp file there: None, or the error (a read-only file system, an immutable
    folder, a permission root lacks, which `os.access` does not all report). Under
    `hold_interrupts`: a Ctrl-C raised as the file was made left it. Taken without a lock: a
    cleaner may remove the file meanwhile (`locks.clean_stale`), which changes nothing here."""
    tmp = temp_name(Path(path))
    with hold_interrupts():
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            return exc
        os.close(fd)
        tmp.unlink(missing_ok=True)
    return None


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` through a synced temp file and a rename. A caller writing beside
    its target (not inside a result directory) holds `path`'s lock (`locks.lock_target`): a temp
    file whose target's lock nobody holds is a killed writer's, which `locks.clean_stale` removes."""
    path = Path(path)
    tmp = temp_name(path)
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with hold_interrupts():  # removed even with a second Ctrl-C, after a first cut the write short
            try:
                tmp.unlink(missing_ok=True)
            except OSError:  # e.g. a read-only folder: the error that matters is the write's, raised below
                pass
        raise
    fsync_dir(path.parent)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def write_json_atomic(path: str | Path, data: Any) -> None:
    """Write `data` as indented JSON to `path` atomically; NaN and infinity are refused."""
    atomic_write_text(path, json.dumps(data, indent=2, allow_nan=False) + "\n")


def fsync_dir(path: str | Path) -> None:
    """Make the renames in directory `path` durable (a no-op where a directory cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def fsync_tree(root: str | Path) -> None:
    """fsync every file and directory under `root` (before renaming it into place)."""
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(dirpath)


def utc_now(timespec: str = "seconds") -> str:
    """The current UTC time as ISO 8601 with a `Z`, e.g. `2016-06-01T12:00:00Z`."""
    return dt.datetime.now(dt.UTC).isoformat(timespec=timespec).replace("+00:00", "Z")
