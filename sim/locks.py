"""One writer at a time, and what killed writers left behind.

A target (a result directory or file) is held by an advisory lock on `.NAME.sim-lock`
beside it; the lock file says whose it is from the moment it appears (made as a labelled
temp file, `.NAME.sim-lock-XXXXXXXX`, and linked to its name). A writer that was killed
leaves its lock file, the temp file of one it was making, the temp file of a file it was
writing (`.NAME.tmp-XXXXXXXX`, `io.temp_name`), its partial directory
(`.NAME.partial-XXXXXXXX`) or a directory a swap set aside (`.NAME.old-XXXXXXXX`); the
next writer in the same folder removes them, once their lock shows that no writer holds it
(`clean_stale`). Taking or releasing a lock and removing a
partial directory are held against Ctrl-C (`errors.hold_interrupts`), so that an interrupt,
or a second one during the cleanup after a first, strands neither. `sim.ownership` builds on this.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

from .errors import InputError, Problem, hold_interrupts

__all__ = ["LOCK_SUFFIX", "MANIFEST", "PARTIAL_MARK", "cannot_write", "clean_stale", "lock_target", "marked",
           "remove_partial"]

MANIFEST = ".sim-manifest.json"
PARTIAL_MARK = ".sim-partial.json"
"""Written first into a partial directory: what it is for and which process writes it."""
LOCK_SUFFIX = ".sim-lock"
_MARKS = (PARTIAL_MARK, MANIFEST)
_STALE = re.compile(r"^\.(?P<name>.+)\.(?P<kind>partial|old)-[0-9a-f]{8}$")
_LOCK = re.compile(r"^\.(?P<name>.+)\.sim-lock$")
_LOCK_TEMP = re.compile(r"^\.(?P<name>.+)\.sim-lock-[0-9a-f]{8}$")
"""A lock file being made (`_make_lock`), or what a writer killed as it made one left."""
_TEMP = re.compile(r"^\.(?P<name>.+)\.tmp-[0-9a-f]{8}$")
"""A file being written (`io.atomic_write_bytes`) or a folder's probe (`io.check_can_create`), or
what a writer killed meanwhile left."""


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
    """An fd holding an exclusive lock on `path` (made if missing, `_make_lock`), or None if
    another process holds it. Retries when the file was replaced while we waited (see `_unlock`).
    Called under `hold_interrupts` by a caller that keeps the fd where its `finally` releases
    it: a Ctrl-C raised as the fd came back left an fd holding the lock, which refused this
    process's next writer of the target."""
    for _ in range(100):
        try:
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            fd = _make_lock(path)
            if fd is None:
                continue  # another writer made it first, or a cleaner took our temp file: try again
            return fd
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            try:
                same = os.fstat(fd).st_ino == os.stat(path).st_ino
            except FileNotFoundError:
                same = False
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        if same:
            # Say whose it is, for `clean_stale`: written over the old label, then cut to length,
            # so that a kill between the two leaves a label (with a stray tail), never an empty file
            with contextlib.suppress(OSError):
                label = _label()
                os.pwrite(fd, label, 0)
                os.ftruncate(fd, len(label))
            return fd
        os.close(fd)  # the holder removed the file as we locked it: lock the new one
    raise OSError(errno.EAGAIN, "lock file keeps changing", str(path))


def _label() -> bytes:
    return f"sim {os.getpid()}\n".encode()


_NO_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS}
"""What `link` says on a file system without hard links (FAT, some FUSE and SMB mounts)."""


def _make_lock(path: Path) -> int | None:
    """A new lock file at `path`, locked by the fd returned and labelled from the moment it
    appears; None if one appeared meanwhile. Made as a labelled, locked temp file beside it
    (`.NAME.sim-lock-XXXXXXXX`) and linked to its name (which fails if the name is taken), so a
    kill at any step leaves no empty lock file, which said nobody's it was: only the temp file,
    which `clean_stale` removes. Where the file system has no hard links, the lock file is made
    in place, labelled a step later; a kill between the two leaves it empty, which `clean_stale`
    removes too (`_remove_stale_lock`)."""
    tmp = path.with_name(f"{path.name}-{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    made = None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # a cleaner took it as it was made, and removes it
            return None
        label = _label()
        if os.write(fd, label) != len(label):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp))
        try:
            os.link(tmp, path)
        except FileExistsError:
            return None
        except FileNotFoundError:  # a cleaner removed it before we locked it; or the folder went
            if os.path.exists(path.parent):
                return None
            raise
        except OSError as exc:
            if exc.errno not in _NO_LINKS:
                raise
            made = _make_lock_in_place(path)
            return made
        made = fd
        return made
    finally:
        if made != fd:
            os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _make_lock_in_place(path: Path) -> int | None:
    """`_make_lock` where there are no hard links: the file made, locked, checked and labelled in
    turn (a second writer that opened it first holds it, and we are refused), or None."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    except FileExistsError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        same = os.fstat(fd).st_ino == os.stat(path).st_ino
    except (BlockingIOError, FileNotFoundError):  # another writer holds it, or it was removed
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    if not same:
        os.close(fd)
        return None
    with contextlib.suppress(OSError):
        os.write(fd, _label())
    return fd


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
    """Remove what killed writers left in `parent`: partial directories, directories an
    interrupted swap set aside (put back if their target is missing) and the temp files of
    files being written, each only once its target's lock shows that no writer holds it
    (and lock files, `_remove_stale_lock`); `held` is a target whose lock this process holds
    already. Returns the directories and temp files removed."""
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
    if _LOCK_TEMP.match(entry.name) and entry.is_file() and not entry.is_symlink():
        _remove_stale_lock(entry, temp=True)
        return False
    temp = _TEMP.match(entry.name)
    if temp is not None:
        return _remove_stale_temp(parent, entry, temp.group("name"), held)
    m = _STALE.match(entry.name)
    if m is None or entry.is_symlink() or not entry.is_dir():
        return False
    target = parent / m.group("name")
    with _writer_gone(target, held) as gone:
        if not gone:
            return False
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


@contextlib.contextmanager
def _writer_gone(target: Path, held: str | None) -> Iterator[bool]:
    """Whether `target`'s writer is gone: its lock taken here, and held while the block runs, or
    `held`, this process's already (then true). False when another writer holds it, or the lock
    cannot be taken."""
    fd = None
    gone = True
    if target.name != held:
        try:
            fd = _try_lock(_lock_path(target))
        except OSError:
            fd = None
        gone = fd is not None
    try:
        yield gone
    finally:
        if fd is not None:
            _unlock(_lock_path(target), fd)


def _remove_stale_temp(parent: Path, entry: Path, name: str, held: str | None) -> bool:
    """Remove the temp file `entry` of file `name` if its writer is gone; whether it was removed.

    Safe because every writer of a `.NAME.tmp-*` beside a target holds NAME's lock while it
    exists (`report` its page, `calibrate --write` its copy), or does not mind it removed (the
    probe of `io.check_can_create` removes it with `missing_ok`): with the lock taken here, it is
    a dead writer's. A temp file in a result or partial directory is its writer's under the
    directory's lock, not the file's, so none is removed where a mark lies (a directory is
    marked before any other file is written there, and the marks' own temp files are left:
    `claim_in_place` removes them, or they go with their partial directory). Only a regular file
    under `io.temp_name`'s exact name goes."""
    if name in _MARKS or marked(parent) or entry.is_symlink() or not entry.is_file():
        return False  # no lock file made in a result directory either
    with _writer_gone(parent / name, held) as gone:
        if not gone:
            return False
        try:
            # again, the temp file seen: a live writer's in a result directory was made after the mark
            if marked(parent) or entry.is_symlink() or not entry.is_file():
                return False
            os.unlink(entry)
            return True
        except OSError:
            return False


def marked(directory: str | Path) -> bool:
    """Whether `directory` is a result directory or a partial one: it holds one of sim's marks."""
    return any(os.path.lexists(Path(directory) / mark) for mark in _MARKS)


def _remove_stale_lock(path: Path, temp: bool = False) -> None:
    """Remove a lock file sim made whose holder is gone (killed before it removed it), or a
    `temp` one (`_make_lock`) a writer killed as it made a lock left: sim's by its label, or
    empty. An empty one is what a kill left between making a lock file and labelling it (sim
    before lock files were made whole; a file system without hard links, `_make_lock`), and
    removing it once its lock is free is safe: every sim that made a `.NAME.sim-lock` locks it,
    and checks that the name is still its file (`_try_lock`), before it counts as held, and removes
    it only while it holds it; so a writer that made it and has not locked it yet finds it gone
    and makes another, and one that holds it keeps us out. No age is asked for: the lock, not the
    clock, says whether a writer is alive. Another program's file under a name of sim's (neither
    labelled nor empty) is left alone; the target's own lock file (`lock_target`) is taken over
    whatever it holds."""
    with hold_interrupts():
        try:
            text = path.read_bytes()
            if text and not text.startswith(b"sim "):
                return
            fd = _lock_temp(path) if temp else _try_lock(path)
        except OSError:
            return
        if fd is not None:
            _unlock(path, fd)


def _lock_temp(path: Path) -> int | None:
    """An fd locking the temp file `path` (not made afresh if it went, as `_try_lock` would), or
    None if it is gone or its writer holds it."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        same = os.fstat(fd).st_ino == os.stat(path).st_ino
    except (BlockingIOError, FileNotFoundError):
        same = False
    except BaseException:
        os.close(fd)
        raise
    if same:
        return fd
    os.close(fd)
    return None


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
