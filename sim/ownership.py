"""Where `sim` may write: only into what it made, one writer at a time, never half.

A directory sim makes holds a manifest, `.sim-manifest.json`, naming the tool,
its version, the command, the run id, the time, the folder the command ran in
and every file written. A
directory is *sim's* when it holds a manifest and nothing the manifest does not
list (a user's file added to it makes it the user's again). A command writes

- a new directory (a missing path, or an empty directory, is claimed; so is one holding
  nothing but the temp file of a manifest, all a command killed as it wrote one leaves), or
- a directory its own command made (rewritten whole, or resumed by a sweep);

and refuses any other existing path, and any path inside a result directory (a
file added there would make the directory the user's), with an `InputError`
(exit 2): `check_outside_results` is that one rule, for directories and files. `force`
lets a command replace a directory another sim command made, never anything
else. A file written outside a result directory (`calibrate --write`) carries
its manifest in its first line, with the SHA-256 of the rest, so that an edit
makes it the user's.

Two writers of one target: the second is refused (an advisory lock on
`.NAME.sim-lock` beside the target). A directory written whole is built in a
hidden sibling, `.NAME.partial-XXXXXXXX`, and swapped into place in one
atomic exchange (`renameat2`), so the target is never missing; the partial
directories of writers that were killed are removed by the next writer in the
same folder, once their lock shows the writer is gone.

    with ResultDir(out, "compare") as target:   # claimed and locked
        write files into target.tmp ...
        target.commit()                         # manifest, fsync, swap
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import json
import os
import re
import secrets
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .errors import InputError, Problem, hold_interrupts
from .io import atomic_write_bytes, atomic_write_text, fsync_dir, fsync_tree, temp_name, utc_now
from .locks import MANIFEST, PARTIAL_MARK, cannot_write, clean_stale, lock_target, remove_partial

__all__ = ["MANIFEST", "FILE_MARK", "ResultDir", "check_file_target", "check_outside_results", "check_target",
           "claim_in_place", "clean_stale", "directory_owner", "file_owner", "from_here", "is_run_id", "lock_target",
           "make_manifest", "make_parents", "new_run_id", "ran_in", "read_manifest", "remove_made", "seen_from",
           "swap_into_place", "write_owned_text"]

TOOL = "sim"
FILE_MARK = "sim-manifest:"
"""A file sim wrote outside a result directory starts with a comment holding this and its manifest."""

_TEMP = re.compile(r"^\.(?P<name>.+)\.tmp-[0-9a-f]{8}(?:-journal|-wal|-shm)?$")
"""`io.temp_name` files (and SQLite's companions of one) left by a killed writer."""


def new_run_id() -> str:
    """`<UTC YYYYMMDDTHHMMSSZ>-<6 hex>`: the name of a default result directory."""
    import datetime as dt

    return f"{dt.datetime.now(dt.UTC).strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"


_RUN_ID = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{6}$")


def is_run_id(name: str) -> bool:
    """Whether `name` has the shape of `new_run_id`'s names."""
    return _RUN_ID.match(name) is not None


# --- Manifests -----------------------------------------------------------------------------


def make_manifest(command: str, run_id: str, files: Iterable[str], where: str | Path | None = None) -> dict[str, Any]:
    """The manifest of a directory (or file) `command` wrote in run `run_id`. Given the
    directory's path `where`, it also records `ran_in`, the folder the command ran in,
    relative to the directory: the relative paths a summary keeps as they were typed (its
    scenario file) start there, which a report's reproduction command must say."""
    from . import __version__

    manifest = {"tool": TOOL, "version": __version__, "command": command, "run_id": run_id,
                "created": utc_now(), "files": sorted(set(files))}
    if where is not None:
        manifest["ran_in"] = ran_in(where)
    return manifest


def ran_in(directory: str | Path) -> str:
    """The current folder as named from `directory` (`seen_from`): `../..`, `.`."""
    return seen_from(os.getcwd(), Path(os.path.abspath(directory)))


def from_here(path: str | Path) -> str:
    """`path` as named from the current folder (`seen_from`), the folder a result's `ran_in`
    names: how a summary records a path sim knows absolutely (a file the run read, `--out .`),
    so that it names no home folder and holds when the project moves with its results."""
    return seen_from(path, Path(os.getcwd()))


def seen_from(path: str | Path, folder: Path) -> str:
    """`path` as named from absolute `folder`: relative where the two share a folder below the
    root (it holds when the tree is moved or copied whole, and names no home folder), else
    absolute (a relative path would climb to the root and name every folder on the way anyway)."""
    path = os.path.abspath(path)
    try:
        shared = os.path.commonpath([path, folder])
    except ValueError:  # another drive on Windows
        return Path(path).as_posix()
    if Path(shared) == Path(shared).parent:  # the root
        return Path(path).as_posix()
    return Path(os.path.relpath(path, folder)).as_posix()


def read_manifest(directory: str | Path) -> dict[str, Any] | None:
    """A directory's manifest, or None where there is none or it is not sim's."""
    try:
        data = json.loads((Path(directory) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    ok = (isinstance(data, dict) and data.get("tool") == TOOL and isinstance(data.get("command"), str)
          and isinstance(data.get("files"), list) and all(isinstance(f, str) for f in data["files"]))
    return data if ok else None


def directory_owner(directory: str | Path) -> str | None:
    """The sim command that made `directory`, if it holds a manifest and nothing the
    manifest does not list (killed writers' temp files excepted); else None."""
    directory = Path(directory)
    manifest = read_manifest(directory)
    if manifest is None or directory.is_symlink():
        return None
    listed = set(manifest["files"])
    implied = {str(Path(f).parent) for f in listed} | {str(p) for f in listed for p in Path(f).parents}
    for root, dirs, files in os.walk(directory):
        rel_root = Path(root).relative_to(directory)
        for name in dirs:
            rel = str(rel_root / name)
            if rel not in implied or (Path(root) / name).is_symlink():
                return None
        for name in files:
            rel = str(rel_root / name)
            if rel == MANIFEST or rel in listed or _is_temp_of(rel, listed | {MANIFEST}):
                continue
            return None
    return manifest["command"]


def _is_temp_of(rel: str, listed: set[str]) -> bool:
    path = Path(rel)
    m = _TEMP.match(path.name)
    return m is not None and str(path.parent / m.group("name")) in listed


# --- Checking a target ---------------------------------------------------------------------


def check_outside_results(target: str | Path, label: str = "--out") -> None:
    """Refuse (an `InputError` naming `label`) a `target` inside a result directory: what sim
    wrote there would be a file its manifest does not list, which makes the directory the
    user's (and a rewrite of a listed file would change a result behind its command's back)."""
    if str(target) == "":
        raise InputError(Problem(label, "", "is empty; name a path", "", True))
    for parent in Path(target).resolve().parents:
        manifest = read_manifest(parent)
        if manifest is not None:
            raise InputError(Problem(label, "", f"is inside the result directory {parent} (of `sim "
                                     f"{manifest['command']}`), which sim keeps whole; write outside it",
                                     str(target), True))


def check_target(out: str | Path, command: str, *, force: bool = False, label: str = "--out") -> str:
    """What `command` may do with directory `out`: "new" (missing or empty, temp files of a
    manifest aside: `_left_by_a_killed_claim`), "own" (its
    own command made it), "replace" (another sim command made it, and `force`); any
    other existing path, or one inside a result directory, is an `InputError` naming `label`."""
    check_outside_results(out, label)
    out = Path(out)
    if not os.path.lexists(out):
        return "new"
    if out.is_symlink():  # replacing it would replace the link, not write where it points
        target = os.readlink(out)
        raise InputError(Problem(label, "", f"is a symbolic link (to {target}); sim writes only into a new "
                                 "directory or one it made: give the directory itself or another path",
                                 str(out), True))
    if not out.is_dir():
        raise InputError(Problem(label, "", "exists and is not a directory; sim writes only into a new "
                                 "directory or one it made", str(out), True))
    try:
        if all(_left_by_a_killed_claim(entry) for entry in out.iterdir()):
            return "new"
        owner = directory_owner(out)
    except OSError as exc:
        raise InputError(Problem(label, "", f"cannot read the directory ({exc.strerror or exc})",
                                 str(out), True)) from None
    if owner == command:
        return "own"
    if owner is None:
        raise InputError(Problem(label, "", f"exists and holds files sim did not write (no {MANIFEST}, or files "
                                 "it does not list); sim never writes there: choose a new path",
                                 str(out), True))
    if not force:
        raise InputError(Problem(label, "", f"holds the result of `sim {owner}`, not of `sim {command}`; "
                                 "add --force to replace it, or choose a new path", str(out), True))
    return "replace"


def _left_by_a_killed_claim(entry: Path) -> bool:
    """Whether `entry`, in a directory that holds no manifest, is the temp file of one
    (`io.temp_name`): what a command killed as it wrote the manifest of the directory it had
    claimed new leaves there, and all it leaves (`claim_in_place` writes nothing before the
    manifest). Such a directory is new to the next command, which removes the file under its
    lock; taken for a user's file, it made the directory one sim refused for good, and a sweep
    SIGKILLed at that moment could not be resumed."""
    return entry.is_file() and not entry.is_symlink() and _is_temp_of(entry.name, {MANIFEST})


def check_file_target(path: str | Path, command: str, *, force: bool = False, label: str = "--write") -> None:
    """A file sim may write: missing, or one `command` wrote and nobody changed since (or
    another sim command, with `force`), and not inside a result directory; else an
    `InputError` naming `label`."""
    check_outside_results(path, label)
    path = Path(path)
    if not os.path.lexists(path):
        if path.parent.exists() and not path.parent.is_dir():
            raise InputError(Problem(label, "", "is under a file, not a directory", str(path), True))
        return
    if path.is_dir() and not path.is_symlink():
        raise InputError(Problem(label, "", f"is a directory; {label} names the file to write, such as "
                                 f"{path / ('report.html' if command == 'report' else 'posterior.json')}",
                                 str(path), True))
    if path.is_symlink() or not path.is_file():
        raise InputError(Problem(label, "", "exists and is not a file sim wrote", str(path), True))
    owner = file_owner(path)
    if owner is None:
        raise InputError(Problem(label, "", "exists and was not written by sim (or was edited since); sim "
                                 "never overwrites it: choose a new path", str(path), True))
    if owner != command and not force:
        raise InputError(Problem(label, "", f"was written by `sim {owner}`; add --force to replace it",
                                 str(path), True))


def file_owner(path: str | Path) -> str | None:
    """The sim command that wrote file `path`, if its first line is sim's manifest and the
    rest is unchanged; else None."""
    try:
        with open(path, "rb") as fh:
            first = fh.readline(4096)
            rest = fh.read()
        head = first.decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    _, mark, text = head.partition(FILE_MARK)
    if not mark:
        return None
    try:
        manifest = json.loads(text)
    except ValueError:
        return None
    if not (isinstance(manifest, dict) and manifest.get("tool") == TOOL and isinstance(manifest.get("command"), str)):
        return None
    return manifest["command"] if manifest.get("sha256") == hashlib.sha256(rest).hexdigest() else None


def write_owned_text(path: str | Path, text: str, command: str, run_id: str, *, comment: str = "#") -> None:
    """Write `text` to `path` atomically, its first line a `comment` holding sim's manifest
    (with the SHA-256 of `text`), so that `file_owner` knows it later."""
    manifest = {k: v for k, v in make_manifest(command, run_id, ()).items() if k != "files"}
    manifest["sha256"] = hashlib.sha256(text.encode("utf-8")).hexdigest()
    atomic_write_text(path, f"{comment} {FILE_MARK} {json.dumps(manifest)}\n{text}")


# --- Writing a directory whole --------------------------------------------------------------


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap paths `a` and `b` (Linux renameat2); False where not supported."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    renameat2.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint)
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def swap_into_place(tmp: Path, out: Path) -> None:
    """Put the finished directory `tmp` at `out`, replacing what is there, so that `out`
    is never missing: one atomic exchange, then the old content (now at `tmp`) is removed.
    Where the exchange is not supported, `out` is set aside first; `clean_stale` puts it
    back if the process dies between the two renames. Under `hold_interrupts`: a Ctrl-C that
    Python raised as the first rename returned left `out` missing, and the new result, still
    at `tmp`, was then removed as half-written."""
    with hold_interrupts():
        if not os.path.lexists(out):
            os.rename(tmp, out)
        elif _exchange(tmp, out):
            remove_partial(tmp)
        else:
            old = out.parent / f".{out.name}.old-{secrets.token_hex(4)}"
            os.rename(out, old)
            try:
                os.rename(tmp, out)
            except BaseException:
                os.rename(old, out)
                raise
            remove_partial(old)
        fsync_dir(out.parent)


def make_parents(path: str | Path) -> list[Path]:
    """Make the missing folders above `path`, one at a time; return those this call made,
    outermost first, so that a command stopped before it wrote anything can remove them
    (`remove_made`) and never a folder it found (made meanwhile by someone else included).
    If one cannot be made, those made before it are removed and the `OSError` raised."""
    made: list[Path] = []
    try:
        for folder in reversed(Path(path).parents):
            if os.path.isdir(folder):
                continue
            # listed before it is made: a Ctrl-C that Python raises as the mkdir returns must find it
            made.append(folder)
            try:
                os.mkdir(folder)
            except OSError as exc:
                made.pop()
                if isinstance(exc, FileExistsError):  # made meanwhile, or a file (the next level then fails)
                    continue
                raise
    except BaseException:
        remove_made(made)
        raise
    return made


def remove_made(folders: list[Path]) -> None:
    """Remove the folders `make_parents` made, innermost first, each only while empty: one
    that holds anything (another command's result or lock) is kept, with those above it.
    All of them, even with a second Ctrl-C meanwhile (`hold_interrupts`)."""
    with hold_interrupts():
        for folder in reversed(folders):
            try:
                os.rmdir(folder)
            except FileNotFoundError:  # listed, and a Ctrl-C came before it was made
                continue
            except OSError:
                return


def _cwd_and_parents() -> tuple[Path, ...]:
    try:
        cwd = Path.cwd()
    except OSError:  # the current directory was removed: nothing to protect
        return ()
    return (cwd, *cwd.parents)


class ResultDir:
    """A result directory written whole: claimed and locked on entry, built in `tmp`,
    put in place by `commit`. Leaving without `commit` removes `tmp` and leaves the
    target as it was. `command` names the writer in the manifest; `force` lets it replace
    a directory another sim command made."""

    def __init__(self, out: str | Path, command: str, *, force: bool = False, run_id: str | None = None,
                 label: str = "--out"):
        self.out = Path(out)
        self.command = command
        self.force = force
        # a default directory is named by its run id: its manifest (and a report's "run id") say the same
        self.run_id = run_id or (self.out.name if is_run_id(self.out.name) else new_run_id())
        self.label = label
        self.tmp: Path | None = None
        self._stack: contextlib.ExitStack | None = None
        self._made: list[Path] = []  # folders above `out` that this claim made, removed unless committed

    def __enter__(self) -> ResultDir:
        check_target(self.out, self.command, force=self.force, label=self.label)  # before creating anything
        # os.path.exists: False for a name too long, where Path.exists raises
        if os.path.exists(self.out) and self.out.resolve() in _cwd_and_parents():
            # swapped into place, the directory the shell is in would be removed under it
            raise InputError(Problem(self.label, "", "is the current directory (or holds it), which a new result "
                                     "would replace; name another directory", str(self.out), True))
        self._stack = contextlib.ExitStack()
        try:
            # Each step under `hold_interrupts`: a Ctrl-C that Python raised as `make_parents` returned
            # lost the list of the folders it made, and one raised as `enter_context` pushed the lock's
            # release (after entering it) left the lock held by nobody's stack, and its folder kept
            try:
                with hold_interrupts():
                    self._made = make_parents(self.out)
            except OSError as exc:
                raise cannot_write(self.label, self.out, exc) from None
            with hold_interrupts():
                self._stack.enter_context(lock_target(self.out, self.label))
            clean_stale(self.out.parent, held=self.out)
            check_target(self.out, self.command, force=self.force, label=self.label)  # now under the lock
            tmp = temp_name(self.out, "partial")
            try:
                # A Ctrl-C that Python raises as the mkdir or the mark's write returns lands outside the
                # caller's `with`, whose `__exit__` never runs (`run` sent SIGINT a second after it
                # started left the directory): the directory is recorded as it is made, for `_release`
                with hold_interrupts():
                    tmp.mkdir()
                    self.tmp = tmp
                atomic_write_text(tmp / PARTIAL_MARK, json.dumps({"pid": os.getpid(), "target": str(self.out),
                                                                  "created": utc_now()}) + "\n")
            except OSError as exc:
                raise cannot_write(self.label, self.out, exc) from None
        except BaseException:
            self._release()  # `__exit__`, if a caller registered it before entering, then finds nothing left
            raise
        return self

    def __exit__(self, *exc) -> bool:
        self._release()
        return False

    def _release(self) -> None:
        """Remove `tmp` (a committed result is not there any more), release the lock and remove
        the folders made for the target (none once committed), all of it even with a second
        Ctrl-C meanwhile (`hold_interrupts`): after a first one, this is its cleanup. Idempotent."""
        with hold_interrupts():
            try:
                if self.tmp is not None:
                    remove_partial(self.tmp)
            finally:
                self.tmp = None
                if self._stack is not None:
                    self._stack.close()  # the lock file goes first: it lies in the folder above
                    self._stack = None
                remove_made(self._made)  # nothing committed: the folders made for it go too
                self._made = []

    def files(self) -> list[str]:
        """Every file under `tmp`, relative to it, but the partial mark and the manifest."""
        assert self.tmp is not None
        return sorted(str(p.relative_to(self.tmp)) for p in self.tmp.rglob("*")
                      if p.is_file() and p.name not in (PARTIAL_MARK, MANIFEST))

    def commit(self) -> None:
        """Write the manifest, make `tmp` durable and swap it into place."""
        if self.tmp is None or not self.tmp.exists():
            raise RuntimeError("ResultDir.commit called outside its `with` block or twice")
        manifest = make_manifest(self.command, self.run_id, self.files(), where=self.out)
        atomic_write_text(self.tmp / MANIFEST, json.dumps(manifest, indent=2) + "\n")
        (self.tmp / PARTIAL_MARK).unlink()
        fsync_tree(self.tmp)
        swap_into_place(self.tmp, self.out)
        self._made = []  # they hold the result now


# --- Writing a directory in place (a resumable sweep) ----------------------------------------


@contextlib.contextmanager
def claim_in_place(out: str | Path, command: str, files: Iterable[str], *, force: bool = False,
                   label: str = "--out", release_unused: bool = False) -> Iterator[str]:
    """Hold directory `out` for `command` to write in place (a sweep adds to its store
    over several runs): claimed and locked; created, or emptied if `force` lets it take
    over another sim command's directory; its manifest lists `files`, every name the
    command may write there. Yields what `check_target` said: "new", "own" or "replace".

    With `release_unused`, a new directory that holds nothing but its manifest when the
    claim ends (the command stopped or failed before writing anything) is given back as
    it was found: the manifest goes, and the directory too if the claim made it, with the
    folders above it that it made."""
    out = Path(out)
    check_target(out, command, force=force, label=label)
    made: list[Path] = []
    try:
        try:
            with hold_interrupts():  # a Ctrl-C raised as `make_parents` returned lost the folders it made
                made = make_parents(out)
        except OSError as exc:
            raise cannot_write(label, out, exc) from None
        with lock_target(out, label):
            clean_stale(out.parent, held=out)
            state = check_target(out, command, force=force, label=label)
            created = False
            # One try from the mkdir on, not from the yield: a Ctrl-C that Python raises as the mkdir
            # or the manifest's write returns left a new directory holding nothing or only its manifest
            try:
                try:
                    if state == "replace":
                        _empty(out)
                    created = not out.is_dir()
                    out.mkdir(exist_ok=True)
                    for entry in out.iterdir():  # temp files of writers killed here before: we hold the lock
                        if entry.is_file() and _is_temp_of(entry.name, {*files, MANIFEST}):
                            entry.unlink()
                    manifest = read_manifest(out)
                    before = (out / MANIFEST).read_bytes() if state == "own" and manifest else None
                    # a default --out is named by a fresh run id: record that one, as `ResultDir` does,
                    # or the report shows one run under two ids
                    run_id = (manifest["run_id"] if state == "own" and manifest and manifest.get("run_id")
                              else out.name if is_run_id(out.name) else new_run_id())
                    atomic_write_text(out / MANIFEST, json.dumps(make_manifest(command, run_id, files, where=out),
                                                                 indent=2) + "\n")
                except OSError as exc:
                    raise cannot_write(label, out, exc) from None
                try:
                    yield state
                except InputError:
                    if before is not None:  # refused (other inputs): the results there, and what they were
                        with hold_interrupts():  # made by (`created`, `ran_in`), stay as they were
                            atomic_write_bytes(out / MANIFEST, before)
                    raise
            finally:  # still under the lock: no other writer can have added a file meanwhile
                with hold_interrupts():  # given back whole, even with a second Ctrl-C meanwhile
                    if release_unused and state == "new" and out.is_dir() and not out.is_symlink():
                        left = [e.name for e in out.iterdir()]
                        if left == [MANIFEST]:
                            (out / MANIFEST).unlink()
                            left = []
                        if created and not left:
                            out.rmdir()
    finally:
        if not os.path.lexists(out):  # refused, or given back: the folders made for it go too
            remove_made(made)


def _empty(directory: Path) -> None:
    """Empty another sim command's directory (`force`), its manifest last: emptied halfway (a
    Ctrl-C, a kill), it is still that command's, which `force` replaces again; without its
    manifest, what was left made it a directory sim never writes."""
    for entry in sorted(directory.iterdir(), key=lambda e: e.name == MANIFEST):
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
