"""One writer at a time, and what killed writers left behind.

A target (a result directory or file) is held by an advisory lock on `.NAME.sim-lock`
beside it; the lock file says whose it is. A writer that was killed leaves its lock
file, its partial directory (`.NAME.partial-XXXXXXXX`) or a directory a swap set aside
(`.NAME.old-XXXXXXXX`); the next writer in the same folder removes them, once their lock
shows that no writer holds it (`clean_stale`). Taking or releasing a lock and removing a
partial directory are held against Ctrl-C (`errors.hold_interrupts`), so that an interrupt,
or a second one during the cleanup after a first, strands neither. `sim.ownership` builds on this.
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

from .errors import InputError, Problem, hold_interrupts

__all__ = ["LOCK_SUFFIX", "MANIFEST", "PARTIAL_MARK", "cannot_write", "clean_stale", "lock_target", "remove_partial"]

MANIFEST = ".sim-manifest.json"
PARTIAL_MARK = ".sim-partial.json"
"""Written first into a partial directory: what it is for and which process writes it."""
LOCK_SUFFIX = ".sim-lock"
_MARKS = (PARTIAL_MARK, MANIFEST)
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
    process holds it. Retries when the file was replaced while we waited (see `_unlock`).
    Called under `hold_interrupts` by a caller that keeps the fd where its `finally` releases
    it: a Ctrl-C raised as the file was made, or as the fd came back, left an empty lock file
    that no later command removed (`clean_stale` removes only those saying they are sim's),
    or an fd holding the lock, which refused this process's next writer of the target."""
    for _ in range(100):
        try:
            fd, made = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644), True
        except FileExistsError:
            try:
                fd, made = os.open(path, os.O_RDWR | os.O_CLOEXEC), False
            except FileNotFoundError:  # its holder removed it meanwhile: make it afresh
                continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            try:
                same = os.fstat(fd).st_ino == os.stat(path).st_ino
            except FileNotFoundError:
                same = False
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException as exc:
            os.close(fd)
            if made and isinstance(exc, OSError):  # no locks on this file system (ENOLCK): none is held on it
                with contextlib.suppress(OSError):
                    os.unlink(path)
            raise
        if same:
            with contextlib.suppress(OSError):  # say whose it is, for `clean_stale`
                os.ftruncate(fd, 0)
                os.write(fd, f"sim {os.getpid()}\n".encode())
            return fd
        os.close(fd)  # the holder removed the file as we locked it: lock the new one
    raise OSError(errno.EAGAIN, "lock file keeps changing", str(path))


def _unlock(path: Path, fd: int) -> None:
    """Remove the lock file, then release it: a waiter that locked the removed file sees
    that it is gone (`_try_lock`) and locks afresh. Both, even with a Ctrl-C between them."""
    with hold_interrupts():
        with contextlib.suppress(OSError):
            os.unlink(path)
        os.close(fd)


@contextlib.contextmanager
def lock_target(out: str | Path, label: str = "--out", what: str = "a result directory") -> Iterator[None]:
    """Hold `out` for this process (an advisory lock on `.NAME.sim-lock` beside it); a second
    writer is an `InputError`. The parent directory must exist."""
    out = Path(out)
    path = _lock_path(out)
    fd = None
    try:
        try:
            with hold_interrupts():  # the lock taken and its fd kept for the `finally`, or neither
                fd = _try_lock(path)
        except OSError as exc:
            raise cannot_write(label, out, exc, what) from None
        if fd is None:
            raise InputError(Problem(label, "", "another sim command is writing there now; wait for it or choose "
                                     "another path", str(out), True))
        yield
    finally:
        if fd is not None:
            _unlock(path, fd)


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
        # Each entry whole, its target's lock released, before a Ctrl-C stops the cleaning
        with hold_interrupts():
            if _remove_stale(parent, entry, held):
                removed.append(entry)
    return removed


def _remove_stale(parent: Path, entry: Path, held: str | None) -> bool:
    """Remove `entry` if it is what a killed writer left (`clean_stale`); whether it was."""
    lock = _LOCK.match(entry.name)
    if lock is not None and lock.group("name") != held and entry.is_file() and not entry.is_symlink():
        _remove_stale_lock(entry)
        return False
    m = _STALE.match(entry.name)
    if m is None or entry.is_symlink() or not entry.is_dir():
        return False
    target = parent / m.group("name")
    fd = None
    if target.name != held:  # else ours: locked already
        try:
            fd = _try_lock(_lock_path(target))
        except OSError:
            return False
        if fd is None:
            return False  # its writer is alive
    try:
        if not _made_by_sim(entry):
            return False
        if m.group("kind") == "old" and not os.path.lexists(target):
            os.rename(entry, target)  # a swap killed between its renames: undo it
            return False
        remove_partial(entry)
        return True
    except OSError:
        return False
    finally:
        if fd is not None:
            _unlock(_lock_path(target), fd)


def _remove_stale_lock(path: Path) -> None:
    """Remove a lock file sim wrote whose holder is gone (killed before it removed it)."""
    with hold_interrupts():
        try:
            if not path.read_bytes().startswith(b"sim "):
                return
            fd = _try_lock(path)
        except OSError:
            return
        if fd is not None:
            _unlock(path, fd)


def remove_partial(directory: str | Path) -> None:
    """Remove a directory sim made to be put in place (a partial one, or a result a swap set
    aside): its marks (`PARTIAL_MARK`, `MANIFEST`) last, once nothing else is left, so that a
    removal cut short (a kill) leaves what `clean_stale` still knows as sim's and finishes; with
    the mark removed first, the rest was a directory no command removed. Under `hold_interrupts`:
    a second Ctrl-C, during the cleanup after a first, waits for it to end."""
    directory = Path(directory)
    with hold_interrupts():
        try:
            with os.scandir(directory) as listing:
                entries = [entry for entry in listing if entry.name not in _MARKS]
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(directory / entry.name, ignore_errors=True)
                else:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(directory / entry.name)
            if any(name not in _MARKS for name in os.listdir(directory)):
                return  # something could not be removed: the marks stay, for a later try
            for name in _MARKS:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(directory / name)
            os.rmdir(directory)
        except OSError:  # gone already, or not ours to remove further (a read-only folder)
            return


def _made_by_sim(directory: Path) -> bool:
    """A partial or set-aside directory sim made: it holds sim's partial mark or a manifest,
    or nothing at all (killed before the mark was written)."""
    names = {p.name for p in directory.iterdir()}
    return not names or PARTIAL_MARK in names or MANIFEST in names
