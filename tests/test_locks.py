"""A lock is taken and released whole: a Ctrl-C at any step leaves no lock file and no open fd.

A Ctrl-C is simulated as the real thing: a SIGINT sent to this process as a call returns,
which Python raises (unless held back) at the caller's next step."""

from __future__ import annotations

import fcntl
import os
import signal
from pathlib import Path

import pytest
from conftest import open_locks, signal_after

import sim.locks as locks
from sim.errors import hold_interrupts, signals_owned
from sim.io import atomic_write_bytes, check_can_create
from sim.ownership import ResultDir, clean_stale, lock_target, write_owned_text


def test_a_ctrl_c_in_a_held_block_is_raised_as_the_block_ends(tmp_path):
    """Inside `hold_interrupts` a Ctrl-C waits; it is raised as the block ends, and Python's handler is back."""
    log = []
    with pytest.raises(KeyboardInterrupt), signals_owned():
        with hold_interrupts():
            signal.raise_signal(signal.SIGINT)
            log.append("after the signal")
    assert log == ["after the signal"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_held_ctrl_c_goes_to_the_handler_in_place_and_an_ignored_one_stays_ignored():
    """A handler that does not raise (the command line's stop block) hears the held Ctrl-C once the block
    ends; a SIGINT ignored (a background job) stays ignored, held or not."""
    heard = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: heard.append(signum))
    try:
        with signals_owned(), hold_interrupts():
            signal.raise_signal(signal.SIGINT)
            assert heard == []
        assert heard == [signal.SIGINT]
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        with signals_owned(), hold_interrupts():
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            signal.raise_signal(signal.SIGINT)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_library_call_leaves_its_hosts_signal_handlers_alone():
    """Outside the command line (a notebook's `run_sweep`), sim swaps no signal handler (STYLE: a library
    does not change its host): the host's handler is in place inside a held block and hears the Ctrl-C
    at once. The command line holds it back (`signals_owned`), and hands the host's handler back after."""
    heard = []

    def host(signum, frame):
        heard.append(signal.getsignal(signal.SIGINT) is host)

    previous = signal.signal(signal.SIGINT, host)
    try:
        with hold_interrupts():
            assert signal.getsignal(signal.SIGINT) is host
            signal.raise_signal(signal.SIGINT)
            assert heard == [True]
        with signals_owned():
            with hold_interrupts():
                assert signal.getsignal(signal.SIGINT) is not host
                signal.raise_signal(signal.SIGINT)
                assert heard == [True]
            assert heard == [True, True]
        with hold_interrupts():  # ownership ends with its block
            assert signal.getsignal(signal.SIGINT) is host
    finally:
        signal.signal(signal.SIGINT, previous)


LOCK_STEPS = [  # (module, function, its caller, whether a dead writer's lock file is there to take over)
    (os, "open", "_make_lock", False),
    (fcntl, "flock", "_make_lock", False),
    (os, "write", "_make_lock", False),
    (os, "link", "_make_lock", False),
    (os, "unlink", "_make_lock", False),
    (locks, "_make_lock", "_try_lock", False),
    (os, "open", "_try_lock", True),
    (fcntl, "flock", "_try_lock", True),
    (os, "fstat", "_try_lock", True),
    (os, "stat", "_try_lock", True),
    (os, "pwrite", "_try_lock", True),
    (os, "ftruncate", "_try_lock", True),
    (locks, "_try_lock", "lock_target", False),
    (os, "unlink", "_unlock", False),
    (os, "close", "_unlock", False),
]


@pytest.mark.parametrize("module, name, caller, found", LOCK_STEPS,
                         ids=[f"{c}-{n}{'-found' if f else ''}" for _, n, c, f in LOCK_STEPS])
def test_a_ctrl_c_at_any_step_of_a_lock_leaves_no_lock_file_and_no_fd(module, name, caller, found, tmp_path,
                                                                      monkeypatch):
    """A Ctrl-C as the lock file is made (its temp file made, locked, labelled, linked, removed), or a dead
    writer's is opened, locked, checked or labelled, as the lock is handed to its holder, or as it is
    released: the command stops, and neither the lock file (an empty one, which no later command removed),
    its temp file, nor an fd holding the lock (which refused the next writer in this process) is left."""
    if found:
        (tmp_path / ".res.sim-lock").write_text("sim 1\n")
    fired = signal_after(monkeypatch, module, name, caller)
    with pytest.raises(KeyboardInterrupt):
        with lock_target(tmp_path / "res"):
            if caller != "_unlock":  # the Ctrl-C came as the lock was taken
                pytest.fail("the block ran although taking the lock was interrupted")
    monkeypatch.undo()
    assert fired == [name]
    assert list(tmp_path.iterdir()) == [] and open_locks(tmp_path) == []
    with lock_target(tmp_path / "res"):  # free for the next writer
        pass


@pytest.mark.parametrize("step", ["open", "flock", "link", "return"])
def test_a_ctrl_c_while_clean_stale_locks_a_dead_writers_target_leaves_its_lock_free(step, tmp_path, monkeypatch):
    """clean_stale locks the target of each partial directory it finds before removing it: a Ctrl-C as it
    does leaves no lock file and no fd holding it."""
    dead = tmp_path / ".gone.partial-0123abcd"
    dead.mkdir()
    (dead / locks.PARTIAL_MARK).write_text("{}")
    module, caller = {"open": (os, "_make_lock"), "flock": (fcntl, "_make_lock"), "link": (os, "_make_lock"),
                      "return": (locks, None)}[step]
    fired = signal_after(monkeypatch, module, "_try_lock" if step == "return" else step, caller)
    with pytest.raises(KeyboardInterrupt):
        clean_stale(tmp_path)
    monkeypatch.undo()
    assert fired and open_locks(tmp_path) == []
    assert [p.name for p in tmp_path.iterdir()] in ([], [dead.name])  # removed whole, or not begun
    clean_stale(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_an_empty_lock_file_a_command_left_blocks_nothing(tmp_path):
    """What an interrupted lock used to leave: an empty `.NAME.sim-lock`, locked by nobody. The next writer of
    NAME takes it and removes it as it ends; it never refuses a writer."""
    (tmp_path / ".res.sim-lock").write_bytes(b"")
    with ResultDir(tmp_path / "res", "run") as target:
        (target.tmp / "a.txt").write_text("a")
        target.commit()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["res"]


def test_a_ctrl_c_as_a_result_directory_is_claimed_leaves_nothing(tmp_path, monkeypatch):
    """A Ctrl-C as the claim's lock is entered on its stack (before the stack records it) leaves no
    lock file, no fd and none of the folders made for the result."""
    import contextlib

    real, fired = contextlib.ExitStack._push_cm_exit, []

    def push(self, *args):
        if not fired:
            fired.append(True)
            signal.raise_signal(signal.SIGINT)
        return real(self, *args)

    monkeypatch.setattr(contextlib.ExitStack, "_push_cm_exit", push)
    with pytest.raises(KeyboardInterrupt), signals_owned(), ResultDir(tmp_path / "a" / "res", "run"):
        pytest.fail("the block ran although the claim was interrupted")
    monkeypatch.undo()
    assert fired and list(tmp_path.iterdir()) == [] and open_locks(tmp_path) == []


def test_the_lock_file_says_whose_it_is(tmp_path):
    """A held lock file names sim and the holder's process id, which is how clean_stale knows it is sim's."""
    with lock_target(tmp_path / "res"):
        assert Path(tmp_path / ".res.sim-lock").read_text() == f"sim {os.getpid()}\n"


def test_a_folder_without_locks_is_refused_in_one_line_and_keeps_no_lock_file(tmp_path, monkeypatch):
    """Where the file system refuses locks (NFS without its lock daemon: ENOLCK), the command is refused
    naming --out, and the lock file it made for the attempt goes; one that was there before stays."""
    import errno

    from sim import InputError

    def no_locks(fd, operation):
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(fcntl, "flock", no_locks)
    with pytest.raises(InputError, match="--out: cannot write a result directory there"):
        with lock_target(tmp_path / "res"):
            pytest.fail("ran without a lock")
    assert list(tmp_path.iterdir()) == []
    (tmp_path / ".res.sim-lock").write_text("sim 1\n")  # another writer's, on a host that could lock it
    with pytest.raises(InputError):
        with lock_target(tmp_path / "res"):
            pass
    assert [p.name for p in tmp_path.iterdir()] == [".res.sim-lock"]


_KILL_STEPS = [(os, "open"), (os, "write"), (os, "pwrite"), (os, "ftruncate"), (os, "link"), (os, "unlink"),
               (os, "close"), (os, "fstat"), (os, "stat"), (fcntl, "flock")]


def _killed_after(calls: int, out: Path) -> bool:
    """Take and release the lock on `out` in a forked child that is killed (SIGKILL: no `finally`
    runs) as its `calls`-th system call of the lock returns; whether it was killed."""
    pid = os.fork()
    if pid == 0:  # the child: never returns to pytest
        status = 1
        try:
            count = [0]

            def killing(real):
                def call(*args, **kwargs):
                    result = real(*args, **kwargs)
                    count[0] += 1
                    if count[0] == calls:
                        os.kill(os.getpid(), signal.SIGKILL)
                    return result
                return call

            for module, name in _KILL_STEPS:
                setattr(module, name, killing(getattr(module, name)))
            with lock_target(out):
                pass
            status = 0
        finally:
            os._exit(status)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) or os.WEXITSTATUS(status) == 0, "the child failed before it was killed"
    return os.WIFSIGNALED(status)


@pytest.mark.parametrize("found", [False, True], ids=["made", "taken-over"])
def test_a_kill_at_any_step_of_a_lock_leaves_no_empty_lock_file_and_nothing_the_next_writer_keeps(found, tmp_path):
    """A writer killed (SIGKILL, nothing cleans up) after any system call of taking or releasing its lock,
    made afresh or taken over from a dead writer (with a longer label), leaves no empty lock file (which said
    nobody's it was): whatever it left says it is sim's, and the next command in the folder (`clean_stale`)
    removes all of it."""
    out = tmp_path / "res"
    kills = 0
    for calls in range(1, 100):
        if found:
            (tmp_path / ".res.sim-lock").write_text("sim 4194304 from a dead writer\n")
        if not _killed_after(calls, out):
            break
        kills += 1
        left = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
        assert all(text.startswith(b"sim ") for name, text in left.items() if name.endswith(".sim-lock")), (calls, left)
        clean_stale(tmp_path)
        assert list(tmp_path.iterdir()) == [], (calls, left)
    assert kills >= 5  # every step of taking and releasing the lock was a kill point
    with lock_target(out):
        pass


def _held_elsewhere(path: Path) -> int:
    """An fd locking `path` as a live writer in another process would (flock locks are per open file)."""
    fd = os.open(path, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd


@pytest.mark.parametrize("name", [".other.sim-lock", ".other.sim-lock-0123abcd"], ids=["lock", "temp"])
def test_clean_stale_removes_an_empty_or_labelled_lock_file_nobody_holds_and_keeps_the_rest(name, tmp_path):
    """An empty lock file (what a kill left between making and labelling one, before lock files were made
    whole) and a lock's temp file (empty or labelled) go once nobody holds them; one a live writer holds
    stays, and so does a file under such a name that is not sim's (neither empty nor labelled)."""
    for text in (b"", b"sim 4194304\n"):
        (tmp_path / name).write_bytes(text)
        clean_stale(tmp_path)
        assert list(tmp_path.iterdir()) == [], text
    (tmp_path / name).write_bytes(b"")
    fd = _held_elsewhere(tmp_path / name)
    try:
        clean_stale(tmp_path)
        assert [p.name for p in tmp_path.iterdir()] == [name]
    finally:
        os.close(fd)
    (tmp_path / name).write_bytes(b"a user's notes\n")
    clean_stale(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [name] and open_locks(tmp_path) == []


def test_a_cleaner_that_takes_a_temp_file_as_it_is_made_makes_the_writer_try_again(tmp_path, monkeypatch):
    """Another command's `clean_stale` may lock and remove a lock's temp file between its making and its
    locking: the writer makes another and takes the lock, rather than refusing itself."""
    real, taken = os.open, []

    def open_and_clean(path, flags, *args):
        fd = real(path, flags, *args)
        if not taken and locks._LOCK_TEMP.match(Path(path).name):
            taken.append(Path(path).name)
            locks._remove_stale_lock(Path(path), temp=True)
        return fd

    monkeypatch.setattr(os, "open", open_and_clean)
    with lock_target(tmp_path / "res"):
        assert Path(tmp_path / ".res.sim-lock").read_text() == f"sim {os.getpid()}\n"
    monkeypatch.undo()
    assert taken and list(tmp_path.iterdir()) == [] and open_locks(tmp_path) == []


def test_where_there_are_no_hard_links_the_lock_is_made_in_place(tmp_path, monkeypatch):
    """On a file system without hard links (FAT: `link` says EPERM) the lock file is made where it goes,
    labelled, and a second writer is refused as anywhere else; nothing is left after."""
    import errno

    def no_links(src, dst, *args, **kwargs):
        raise OSError(errno.EPERM, os.strerror(errno.EPERM))

    monkeypatch.setattr(os, "link", no_links)
    with lock_target(tmp_path / "res"):
        assert [p.name for p in tmp_path.iterdir()] == [".res.sim-lock"]
        assert Path(tmp_path / ".res.sim-lock").read_text() == f"sim {os.getpid()}\n"
        assert locks._try_lock(tmp_path / ".res.sim-lock") is None
    assert list(tmp_path.iterdir()) == [] and open_locks(tmp_path) == []


def test_a_lock_whose_label_cannot_be_written_is_refused_in_one_line_and_leaves_nothing(tmp_path, monkeypatch):
    """A full disk as the lock's label is written: the command is refused naming --out and the reason, and
    neither an empty lock file nor its temp file is left."""
    import errno

    from sim import InputError

    def full(fd, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(InputError, match="--out: cannot write a result directory there .No space left on device"):
        with lock_target(tmp_path / "res"):
            pytest.fail("ran without a lock")
    assert list(tmp_path.iterdir()) == [] and open_locks(tmp_path) == []


def _killed_writing(out: Path, write) -> None:
    """Run `write(out)` under `out`'s lock in a forked child killed (SIGKILL: no `finally` runs) as
    its temp file is synced, or as a probe's temp file is closed: what a kill mid-write leaves."""
    pid = os.fork()
    if pid == 0:  # the child: never returns to pytest
        try:
            def kill(*args):
                os.kill(os.getpid(), signal.SIGKILL)

            os.fsync = kill
            os.close = kill
            with lock_target(out):
                write(out)
        finally:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status), "the child was not killed mid-write"


@pytest.mark.parametrize("write", [lambda out: atomic_write_bytes(out, b"<html>"),
                                   lambda out: write_owned_text(out, "<html>", "report", "r", comment="<!--"),
                                   check_can_create], ids=["atomic", "owned", "probe"])
def test_a_killed_writers_temp_file_is_removed_by_the_next_command_in_the_folder(write, tmp_path):
    """A writer killed mid-write strands its `.NAME.tmp-XXXXXXXX` beside NAME (and its lock file): the next
    command into the folder removes both, as it removes a killed writer's partial directory."""
    _killed_writing(tmp_path / "page.html", write)
    assert [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name]  # what the kill left
    with ResultDir(tmp_path / "next", "run"):
        pass
    assert list(tmp_path.iterdir()) == [] and open_locks(tmp_path) == []


def test_a_temp_file_whose_target_a_live_writer_holds_is_left(tmp_path):
    """A `.NAME.tmp-*` is a live writer's while NAME's lock is held (every writer of one holds it):
    left until the lock is free; then removed, by this process too when it holds NAME itself."""
    temp = tmp_path / ".res.tmp-0123abcd"
    temp.write_bytes(b"half")
    fd = _held_elsewhere_made(tmp_path / ".res.sim-lock")
    try:
        assert clean_stale(tmp_path) == []
        assert sorted(p.name for p in tmp_path.iterdir()) == [".res.sim-lock", temp.name]
    finally:
        os.close(fd)
    os.unlink(tmp_path / ".res.sim-lock")
    with lock_target(tmp_path / "res"):
        assert clean_stale(tmp_path, held=tmp_path / "res") == [temp]
        assert [p.name for p in tmp_path.iterdir()] == [".res.sim-lock"]
    assert list(tmp_path.iterdir()) == [] and open_locks(tmp_path) == []


def _held_elsewhere_made(path: Path) -> int:
    path.write_text("sim 4194304\n")
    return _held_elsewhere(path)


@pytest.mark.parametrize("name", [".res.tmp-0123ABCD", ".res.tmp-0123abc", ".res.tmp-0123abcde", "res.tmp-0123abcd",
                                  ".res.tmp-0123abcd-journal", ".res.tmp-0123abcd.bak", "..tmp-0123abcd",
                                  f".{locks.MANIFEST}.tmp-0123abcd", f".{locks.PARTIAL_MARK}.tmp-0123abcd",
                                  "directory", "symlink", "in-a-result-directory"])
def test_a_file_named_like_a_temp_file_but_not_sims_is_left(name, tmp_path):
    """Only `io.temp_name`'s own names go (a file of sim's made beside NAME): a user's file with a similar
    name stays, and so do a directory or a symbolic link under its name, a temp file of a directory's
    mark (written under the directory's lock, not the mark's: `claim_in_place` cleans those), and any
    temp file in a result directory or a partial one (its writer holds the directory's lock)."""
    folder = tmp_path
    if name == "directory":
        name = ".res.tmp-0123abcd"
        (folder / name).mkdir()
    elif name == "symlink":
        name = ".res.tmp-0123abcd"
        (folder / "res").write_text("mine")
        (folder / name).symlink_to(folder / "res")
    elif name == "in-a-result-directory":
        for mark in (locks.MANIFEST, locks.PARTIAL_MARK):
            folder = tmp_path / mark
            folder.mkdir()
            (folder / mark).write_text("{}")
            (folder / ".points.csv.tmp-0123abcd").write_text("half")
            before = sorted(p.name for p in folder.iterdir())
            assert clean_stale(folder) == [] and sorted(p.name for p in folder.iterdir()) == before
        return
    else:
        (folder / name).write_text("mine")
    before = sorted(p.name for p in folder.iterdir())
    assert clean_stale(folder) == []
    assert sorted(p.name for p in folder.iterdir()) == before and open_locks(folder) == []
