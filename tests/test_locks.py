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
from sim.ownership import ResultDir, clean_stale, lock_target


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


LOCK_STEPS = [
    (os, "open", "_try_lock"),
    (fcntl, "flock", "_try_lock"),
    (os, "fstat", "_try_lock"),
    (os, "stat", "_try_lock"),
    (os, "ftruncate", "_try_lock"),
    (os, "write", "_try_lock"),
    (locks, "_try_lock", "lock_target"),
    (os, "unlink", "_unlock"),
    (os, "close", "_unlock"),
]


@pytest.mark.parametrize("module, name, caller", LOCK_STEPS, ids=[f"{c}-{n}" for _, n, c in LOCK_STEPS])
def test_a_ctrl_c_at_any_step_of_a_lock_leaves_no_lock_file_and_no_fd(module, name, caller, tmp_path, monkeypatch):
    """A Ctrl-C as the lock file is made, locked, checked or labelled, as the lock is handed to its
    holder, or as it is released: the command stops, and neither the lock file (an empty one, which no
    later command removed) nor an fd holding the lock (which refused the next writer in this process) is left."""
    fired = signal_after(monkeypatch, module, name, caller)
    with pytest.raises(KeyboardInterrupt):
        with lock_target(tmp_path / "res"):
            if name not in ("unlink", "close"):  # the Ctrl-C came as the lock was taken
                pytest.fail("the block ran although taking the lock was interrupted")
    monkeypatch.undo()
    assert fired == [name]
    assert list(tmp_path.iterdir()) == [] and open_locks(tmp_path) == []
    with lock_target(tmp_path / "res"):  # free for the next writer
        pass


@pytest.mark.parametrize("step", ["open", "flock", "return"])
def test_a_ctrl_c_while_clean_stale_locks_a_dead_writers_target_leaves_its_lock_free(step, tmp_path, monkeypatch):
    """clean_stale locks the target of each partial directory it finds before removing it: a Ctrl-C as it
    does leaves no lock file and no fd holding it."""
    dead = tmp_path / ".gone.partial-0123abcd"
    dead.mkdir()
    (dead / locks.PARTIAL_MARK).write_text("{}")
    module, caller = {"open": (os, "_try_lock"), "flock": (fcntl, "_try_lock"), "return": (locks, None)}[step]
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
