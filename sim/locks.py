"""One writer at a time, and what killed writers left behind.

A target (a result directory or file) is held by an advisory lock on `.NAME.sim-lock`
beside it; the lock file says whose it is. A writer that was killed leaves its lock
file, its partial directory (`.NAME.partial-XXXXXXXX`) or a directory a swap set aside
(`.NAME.old-XXXXXXXX`); the next writer in the same folder removes them, once their lock
shows that no writer holds it (`clean_stale`). `sim.ownership` builds on this.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

from .errors import InputError, Problem

__all__ = ["LOCK_SUFFIX", "MANIFEST", "PARTIAL_MARK", "cannot_write", "clean_stale", "lock_target"]

MANIFEST = ".sim-manifest.json"
PARTIAL_MARK = ".sim-partial.json"
"""Written first into a partial directory: what it is for and which process writes it."""
LOCK_SUFFIX = ".sim-lock"
_STALE = re.compile(r"^\.(?P<name>.+)\.(?P<kind>partial|old)-[0-9a-f]{8}$")
_LOCK = re.compile(r"^\.(?P<name>.+)\.sim-lock$")


def cannot_write(label: str, out: Path, exc: OSError, what: str = "a result directory") -> InputError:
    """The error for a target whose folder cannot be made or written, naming a file in the way."""
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                return InputError(Problem(label, "", f"is under {parent}, which is a file, not a folder",
                                          str(out), True))
            break
    return InputError(Problem(label, "", f"cannot write {what} there ({exc.strerror or exc})",
                              str(out), True))


def _lock_path(out: Path) -> Path:
    return out.parent / f".{out.name}{LOCK_SUFFIX}"


def _try_lock(path: Path) -> int | None:
    """An fd holding an exclusive lock on `path` (created if missing), or None if another
    process holds it. Retries when the file was replaced while we waited (see `_unlock`)."""
    for _ in range(100):
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            with contextlib.suppress(OSError):  # say whose it is, for `clean_stale`
                os.ftruncate(fd, 0)
                os.write(fd, f"sim {os.getpid()}\n".encode())
            return fd
        os.close(fd)  # the holder removed the file as we locked it: lock the new one
    raise OSError(errno.EAGAIN, "lock file keeps changing", str(path))


def _unlock(path: Path, fd: int) -> None:
    """Remove the lock file, then release it: a waiter that locked the removed file sees
    that it is gone (`_try_lock`) and locks afresh."""
    with contextlib.suppress(OSError):
        os.unlink(path)
    os.close(fd)


@contextlib.contextmanager
def lock_target(out: str | Path, label: str = "--out", what: str = "a result directory") -> Iterator[None]:
    """Hold `out` for this process (an advisory lock on `.NAME.sim-lock` beside it); a second
    writer is an `InputError`. The parent directory must exist."""
    out = Path(out)
    try:
        fd = _try_lock(_lock_path(out))
    except OSError as exc:
        raise cannot_write(label, out, exc, what) from None
    if fd is None:
        raise InputError(Problem(label, "", "another sim command is writing there now; wait for it or choose "
                                 "another path", str(out), True))
    try:
        yield
    finally:
        _unlock(_lock_path(out), fd)


def clean_stale(parent: str | Path, held: str | Path | None = None) -> list[Path]:
    """Remove what killed writers left in `parent`: partial directories and directories an
    interrupted swap set aside (put back if their target is missing), each only once its
    target's lock shows that no writer holds it; `held` is a target whose lock this
    process holds already. Returns what was removed."""
    parent = Path(parent)
    held = None if held is None else Path(held).name
    removed: list[Path] = []
    try:
        entries = list(parent.iterdir())
    except OSError:
        return removed
    for entry in entries:
        lock = _LOCK.match(entry.name)
        if lock is not None and lock.group("name") != held and entry.is_file() and not entry.is_symlink():
            _remove_stale_lock(entry)
            continue
        m = _STALE.match(entry.name)
        if m is None or entry.is_symlink() or not entry.is_dir():
            continue
        target = parent / m.group("name")
        if target.name == held:
            fd = -1  # ours: locked already
        else:
            try:
                fd = _try_lock(_lock_path(target))
            except OSError:
                continue
            if fd is None:
                continue  # its writer is alive
        try:
            if not _made_by_sim(entry):
                continue
            if m.group("kind") == "old" and not os.path.lexists(target):
                os.rename(entry, target)  # a swap killed between its renames: undo it
                continue
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
        except OSError:
            continue
        finally:
            if fd >= 0:
                _unlock(_lock_path(target), fd)
    return removed


def _remove_stale_lock(path: Path) -> None:
    """Remove a lock file sim wrote whose holder is gone (killed before it removed it)."""
    try:
        if not path.read_bytes().startswith(b"sim "):
            return
        fd = _try_lock(path)
    except OSError:
        return
    if fd is not None:
        _unlock(path, fd)


def _made_by_sim(directory: Path) -> bool:
    """A partial or set-aside directory sim made: it holds sim's partial mark or a manifest,
    or nothing at all (killed before the mark was written)."""
    names = {p.name for p in directory.iterdir()}
    return not names or PARTIAL_MARK in names or MANIFEST in names
