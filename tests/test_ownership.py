"""Where sim writes: only into what it made, one writer at a time, never leaving a target missing."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
from pathlib import Path

import pytest
from conftest import signal_after

from sim import InputError
from sim.cli import main
from sim.ownership import (
    MANIFEST,
    PARTIAL_MARK,
    ResultDir,
    check_file_target,
    check_target,
    claim_in_place,
    clean_stale,
    directory_owner,
    file_owner,
    lock_target,
    ran_in,
    read_manifest,
    swap_into_place,
    write_owned_text,
)

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "tests" / "data" / "small.yaml"
HISTORY = ROOT / "scenarios" / "history"


def tree(root: Path) -> dict[str, bytes]:
    """Every file under `root` with its content: what a test checks was left alone."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def user_dir(path: Path) -> Path:
    """A user's directory that happens to hold a summary.json beside their own work."""
    (path / "figures").mkdir(parents=True)
    (path / "summary.json").write_text("{}")
    (path / "thesis.tex").write_text("\\section{Results}")
    (path / "figures" / "fig1.pdf").write_bytes(b"%PDF")
    return path


def made_by_sim(path: Path, command: str = "run") -> Path:
    with ResultDir(path, command) as target:
        (target.tmp / "summary.json").write_text("{}")
        target.commit()
    return path


COMMANDS = {
    "run": ["run", str(SMALL), "--runs", "1024"],
    "compare": ["compare", str(SMALL), str(SMALL), "--runs", "1024"],
    "explain": ["explain", str(SMALL), "--runs", "1024"],
    "sweep": ["sweep", str(SMALL), "--vary", "summit.bargaining.margin=0.05:0.15:2", "--runs", "1024"],
}


def tiny_history(directory: Path) -> Path:
    """Two cases of the small scenario with observed outcomes, and a table of earlier meetings
    (the cases' margins differ: two cases of one meeting's inputs are refused)."""
    import yaml

    directory.mkdir()
    for name, outcome, margin in (("a", "substantive", 0.0), ("b", "talk_fest", 0.3)):
        data = yaml.safe_load(SMALL.read_text())
        data.update(name=name, observed={"outcome": outcome, "date": "2020-03-15", "source": "made up"})
        data["summit"]["bargaining"] = {"margin": margin}
        (directory / f"{name}.yaml").write_text(yaml.safe_dump(data))
    (directory / "meetings.csv").write_text("date,outcome\n2019-01-01,TALK_FEST\n")
    return directory


@pytest.mark.parametrize("name", sorted([*COMMANDS, "backtest", "calibrate"]))
def test_no_command_writes_into_a_users_directory(name, tmp_path, capsys):
    """A directory holding summary.json plus a user's files is refused with exit 2 and left as it was."""
    out = user_dir(tmp_path / "thesis")
    argv = COMMANDS.get(name) or {"backtest": [name, str(tiny_history(tmp_path / "hist")), "--runs", "1024"],
                                  "calibrate": [name, str(HISTORY), "--knobs", str(HISTORY / "knobs.yaml")]}[name]
    before = tree(tmp_path)
    assert main([*argv, "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "holds files sim did not write" in err and "Traceback" not in err
    assert tree(tmp_path) == before and sorted(p.name for p in tmp_path.iterdir() if p.name != "hist") == ["thesis"]


@pytest.mark.parametrize("name", sorted([*COMMANDS, "backtest", "calibrate", "report"]))
def test_no_command_writes_inside_a_result_directory(name, tmp_path, capsys):
    """An --out inside a directory sim made (here, or named from inside it) is one error line, exit 2, nothing written:
    a file there that its manifest does not list would make the result the user's."""
    result = made_by_sim(tmp_path / "res")
    argv = COMMANDS.get(name) or {"backtest": [name, str(tiny_history(tmp_path / "hist")), "--runs", "1024"],
                                  "calibrate": [name, str(HISTORY), "--knobs", str(HISTORY / "knobs.yaml")],
                                  "report": [name, str(result)]}[name]
    before = tree(tmp_path)
    for out in (result / "inner", result / "a" / "b"):
        assert main([*argv, "--out", str(out), "--quiet"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: --out: is inside the result directory") and err.count("\n") == 1
        assert tree(tmp_path) == before
    cwd = os.getcwd()
    os.chdir(result)
    try:
        assert main([*argv, "--out", "inner", "--quiet"]) == 2
    finally:
        os.chdir(cwd)
    assert "is inside the result directory" in capsys.readouterr().err and tree(tmp_path) == before


def test_calibrate_write_is_refused_inside_any_result_directory(tmp_path, capsys):
    """`calibrate --write` over the posterior.json of another calibration, or into its own directory, is refused."""
    other = tmp_path / "other"
    with ResultDir(other, "calibrate") as target:
        (target.tmp / "posterior.json").write_text("{}")
        target.commit()
    before = tree(tmp_path)
    argv = ["calibrate", str(HISTORY), "--knobs", str(HISTORY / "knobs.yaml"), "--out", str(tmp_path / "o"), "--quiet"]
    for copy, words in ((other / "posterior.json", "is inside the result directory"),
                        (tmp_path / "o" / "copy.json", "inside the calibration's own directory")):
        assert main([*argv, "--write", str(copy)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: --write: ") and words in err and err.count("\n") == 1
        assert tree(tmp_path) == before and not (tmp_path / "o").exists()


@pytest.mark.parametrize("option", ["--out", "--write"])
def test_an_empty_output_path_is_an_error_not_the_current_folder(option, tmp_path, capsys):
    """`--out ""` names no path (Path("") would be "."): exit 2 naming the option."""
    argv = (["calibrate", str(HISTORY), "--knobs", str(HISTORY / "knobs.yaml"), "--out", str(tmp_path / "o")]
            if option == "--write" else COMMANDS["run"])
    assert main([*argv, option, ""]) == 2
    err = capsys.readouterr().err
    assert f"argument {option}: is empty" in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_an_out_name_too_long_for_the_file_system_is_one_error_line(tmp_path, capsys):
    """`run --out` with a name above the file system's 255 bytes: exit 2, one error line, nothing written
    (Path.exists raised ENAMETOOLONG where os.path.lexists says False)."""
    assert main([*COMMANDS["run"], "--out", str(tmp_path / ("x" * 300))]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --out: cannot write a result directory there") and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_the_inside_a_result_rule_holds_for_directories_and_files(tmp_path):
    """Neither a directory (`check_target`) nor a file (`check_file_target`) is accepted inside a result
    directory; beside it both are."""
    result = made_by_sim(tmp_path / "res")
    for check in (lambda p: check_target(p, "run"), lambda p: check_file_target(p, "report")):
        with pytest.raises(InputError, match="inside the result directory"):
            check(result / "x")
        check(tmp_path / "x")


def test_calibrate_refuses_a_write_over_a_users_file_before_any_work(tmp_path, capsys):
    """`calibrate --write FILE` on an existing scenario is refused (exit 2) and the file kept."""
    victim = tmp_path / "scenario.yaml"
    victim.write_text(SMALL.read_text())
    before = tree(tmp_path)
    assert main(["calibrate", str(HISTORY), "--knobs", str(HISTORY / "knobs.yaml"), "--write", str(victim),
                 "--out", str(tmp_path / "o")]) == 2
    assert "was not written by sim" in capsys.readouterr().err
    assert tree(tmp_path) == before


def test_a_users_file_added_to_a_result_makes_it_theirs(tmp_path):
    """A file the manifest does not list (or an empty folder) makes a sim directory foreign again."""
    out = made_by_sim(tmp_path / "res")
    assert directory_owner(out) == "run" and check_target(out, "run") == "own"
    (out / "notes.md").write_text("mine")
    assert directory_owner(out) is None
    with pytest.raises(InputError, match="holds files sim did not write"):
        check_target(out, "run")
    (out / "notes.md").unlink()
    (out / "figures").mkdir()
    assert directory_owner(out) is None


def test_another_commands_result_needs_force_and_force_never_takes_a_users_directory(tmp_path):
    """--force replaces a directory another sim command made, never one sim did not make."""
    out = made_by_sim(tmp_path / "res", "compare")
    with pytest.raises(InputError, match="holds the result of `sim compare`"):
        check_target(out, "run")
    assert check_target(out, "run", force=True) == "replace"
    theirs = user_dir(tmp_path / "theirs")
    with pytest.raises(InputError, match="did not write"):
        check_target(theirs, "run", force=True)


def test_a_missing_or_empty_directory_is_new_and_a_file_is_refused(tmp_path):
    """Only a new path, an empty directory or sim's own result may be written."""
    assert check_target(tmp_path / "nope", "run") == "new"
    (tmp_path / "empty").mkdir()
    assert check_target(tmp_path / "empty", "run") == "new"
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="is not a directory"):
        check_target(tmp_path / "file", "run")
    os.symlink(tmp_path / "empty", tmp_path / "link")  # a link to a directory is not called "not a directory"
    with pytest.raises(InputError, match=r"is a symbolic link \(to .*empty\).*give the directory itself"):
        check_target(tmp_path / "link", "run")


def test_the_manifest_names_the_tool_command_run_and_files(tmp_path):
    """`.sim-manifest.json` says sim, the version, the command, the run id, the time and every file."""
    out = tmp_path / "res"
    with ResultDir(out, "explain", run_id="r1") as target:
        (target.tmp / "a.txt").write_text("a")
        (target.tmp / "sub").mkdir()
        (target.tmp / "sub" / "b.txt").write_text("b")
        target.commit()
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["tool"] == "sim" and manifest["command"] == "explain" and manifest["run_id"] == "r1"
    assert manifest["files"] == ["a.txt", "sub/b.txt"] and manifest["version"] and manifest["created"]
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST, "a.txt", "sub"]


def test_a_second_writer_of_one_target_is_refused(tmp_path):
    """While one writer holds a target, another is refused; once it is done, the target is free."""
    out = tmp_path / "res"
    with ResultDir(out, "run"):
        with pytest.raises(InputError, match="another sim command is writing there now"):
            with ResultDir(out, "run"):
                pass
    with ResultDir(out, "run"):
        pass
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow  # a subprocess and its signals or workers: seconds; CI runs it (-m slow)
def test_concurrent_runs_to_one_out_let_only_one_succeed(tmp_path):
    """`run --out X` started while another is writing X exits 2 saying why; the first result survives whole."""
    import subprocess
    import time

    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    args = [sys.executable, "-m", "sim", "run", str(SMALL), "--seed", "1", "--out", str(tmp_path / "x"), "--quiet"]
    first = subprocess.Popen([*args, "--runs", "400000"], env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (tmp_path / ".x.sim-lock").exists():
        assert first.poll() is None and time.monotonic() < deadline, first.stderr.read()
        time.sleep(0.01)
    others = [subprocess.Popen([*args, "--runs", "1024"], env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
              for _ in range(2)]
    later = [(p.wait(timeout=120), p.stderr.read()) for p in others]
    assert first.wait(timeout=120) == 0, first.stderr.read()
    for p in (first, *others):
        p.stderr.close()
    assert [code for code, _ in later] == [2, 2], later
    assert all("another sim command is writing there now" in err and "Traceback" not in err for _, err in later)
    assert json.loads((tmp_path / "x" / "summary.json").read_text())["runs"] == 400000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x"]


def test_stale_partial_directories_are_removed_once_their_writer_is_gone(tmp_path):
    """A killed writer's `.NAME.partial-*` is removed by the next writer in the folder; a live one's is kept."""
    dead = tmp_path / ".gone.partial-0123abcd"
    dead.mkdir()
    (dead / PARTIAL_MARK).write_text("{}")
    (dead / "big.raw").write_bytes(b"0" * 1000)
    alive = tmp_path / ".busy.partial-89abcdef"
    alive.mkdir()
    (alive / PARTIAL_MARK).write_text("{}")
    foreign = tmp_path / ".mine.partial-00000000"
    foreign.mkdir()
    (foreign / "data.csv").write_text("not sim's")
    (tmp_path / ".killed.sim-lock").write_text("sim 12345\n")  # a writer killed before it made anything
    with lock_target(tmp_path / "busy"):
        assert clean_stale(tmp_path) == [dead]
        assert (tmp_path / ".busy.sim-lock").exists()
    assert not dead.exists() and alive.exists() and (foreign / "data.csv").exists()
    assert not (tmp_path / ".killed.sim-lock").exists()
    made_by_sim(tmp_path / "other")  # any writer in the folder cleans up
    assert not alive.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".mine.partial-00000000", "other"]


@pytest.mark.parametrize("after", [False, True], ids=["before-the-mark", "after-the-mark"])
def test_a_ctrl_c_while_the_partial_directory_is_made_leaves_nothing(after, tmp_path, monkeypatch):
    """A Ctrl-C that lands after the hidden `.NAME.partial-*` directory is made but before
    `__enter__` returns (Python raises it when the mkdir or the mark's write returns) is outside
    the caller's `with`, whose `__exit__` then never runs: the claim must remove the directory
    itself. `python -m sim run`, sent SIGINT about a second after it started, left one."""
    import sim.ownership as ownership

    real = ownership.atomic_write_text

    def interrupted(path, text):
        if after:
            real(path, text)
        raise KeyboardInterrupt

    monkeypatch.setattr(ownership, "atomic_write_text", interrupted)
    out = tmp_path / "results" / "small" / "r"
    with pytest.raises(KeyboardInterrupt), ResultDir(out, "run"):
        pytest.fail("the block ran although the claim was interrupted")
    assert list(tmp_path.iterdir()) == []  # no partial directory, no lock, no folders it made


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_ctrl_c_while_the_folders_above_are_made_leaves_none_of_them(when, tmp_path, monkeypatch):
    """A Ctrl-C raised just before or just after the mkdir of a folder above the target (`results/small`
    of a first run) removes every folder the claim made, that one too."""
    import sim.ownership as ownership

    real, calls = os.mkdir, []

    def mkdir(path, *args, **kwargs):
        calls.append(path)
        if len(calls) == 2:  # results/small, with results/ made already
            if when == "after":
                real(path, *args, **kwargs)
            raise KeyboardInterrupt
        return real(path, *args, **kwargs)

    monkeypatch.setattr(ownership.os, "mkdir", mkdir)
    with pytest.raises(KeyboardInterrupt), ResultDir(tmp_path / "results" / "small" / "r", "run"):
        pytest.fail("the block ran although the claim was interrupted")
    monkeypatch.undo()
    assert len(calls) == 2 and list(tmp_path.iterdir()) == []


def test_a_swap_killed_between_its_renames_is_undone(tmp_path, monkeypatch):
    """Where the atomic exchange is missing, a kill between the two renames leaves the old result aside;
    the next writer puts it back, so the target is never lost."""
    out = made_by_sim(tmp_path / "res")
    aside = tmp_path / ".res.old-0a1b2c3d"
    os.rename(out, aside)  # what a kill after the first rename leaves
    assert not out.exists()
    clean_stale(tmp_path)
    assert directory_owner(out) == "run" and not aside.exists()


def test_the_swap_replaces_a_result_in_one_exchange(tmp_path, monkeypatch):
    """swap_into_place puts the new directory at the target and removes the old one, with or
    without renameat2; with it, in one exchange: the old result is never renamed aside (the
    target never missing)."""
    import sim.ownership as ownership

    real_exchange, exchanged, renamed = ownership._exchange, [], []
    probe_a, probe_b = tmp_path / "probe_a", tmp_path / "probe_b"
    probe_a.mkdir()
    probe_b.mkdir()
    if not real_exchange(probe_a, probe_b):
        pytest.skip("no renameat2 exchange on this file system: only the fallback can be tested")
    probe_a.rmdir()
    probe_b.rmdir()
    monkeypatch.setattr(ownership, "_exchange", lambda a, b: exchanged.append(real_exchange(a, b)) or exchanged[-1])
    monkeypatch.setattr(ownership.os, "rename", lambda a, b, _rename=os.rename: renamed.append(Path(a)) or _rename(a, b))
    for exchange in (True, False):
        out, new = tmp_path / f"res{exchange}", tmp_path / f".new{exchange}"
        out.mkdir()
        (out / "old").write_text("old")
        new.mkdir()
        (new / "new").write_text("new")
        if not exchange:
            monkeypatch.setattr(ownership, "_exchange", lambda a, b: False)
        swap_into_place(new, out)
        assert [p.name for p in out.iterdir()] == ["new"] and not new.exists()
        assert (out in renamed) is not exchange, renamed  # the fallback sets the old result aside
    assert exchanged == [True]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["resFalse", "resTrue"]


def test_an_owned_file_is_sims_until_someone_edits_it(tmp_path):
    """A file sim wrote carries its manifest and hash in its first line; an edit makes it the user's."""
    path = tmp_path / "calibration.yaml"
    check_file_target(path, "calibrate")
    write_owned_text(path, "dynamics.rate: 0.2\n", "calibrate", "r1")
    assert file_owner(path) == "calibrate"
    check_file_target(path, "calibrate")
    with pytest.raises(InputError, match="written by `sim calibrate`"):
        check_file_target(path, "other")
    path.write_text(path.read_text() + "dynamics.noise: 0.1\n")
    assert file_owner(path) is None
    with pytest.raises(InputError, match="was not written by sim"):
        check_file_target(path, "calibrate")


def test_a_sweep_directory_is_claimed_in_place_with_its_files_listed(tmp_path):
    """A sweep's directory lists every file a sweep may write, so resuming it is allowed and a user's
    file added to it is not."""
    out = tmp_path / "sw"
    with claim_in_place(out, "sweep", ["sweep.sqlite", "points.csv"]) as state:
        assert state == "new"
        (out / "points.csv").write_text("point\n")
        (out / ".points.csv.tmp-0a0b0c0d").write_text("half")  # a killed atomic write
    with claim_in_place(out, "sweep", ["sweep.sqlite", "points.csv"]) as state:
        assert state == "own"
        assert sorted(p.name for p in out.iterdir()) == [MANIFEST, "points.csv"]  # the killed write's temp is gone
    (out / "curves.png").write_text("mine")
    with pytest.raises(InputError, match="did not write"):
        with claim_in_place(out, "sweep", ["sweep.sqlite", "points.csv"]):
            pass


def test_a_manifest_records_the_folder_its_command_ran_in_relative_to_the_directory(tmp_path, monkeypatch):
    """`ran_in`, where the relative paths of a summary start: relative to the directory, whole
    or claimed in place, so that it holds when the tree moves; absolute where the two share
    only the root (a relative path would name every folder from the root anyway)."""
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    with ResultDir(Path("results") / "r", "run") as target:
        target.commit()
    with claim_in_place(tmp_path / "sweeps" / "s", "sweep", ["points.csv"]):
        pass
    assert read_manifest(project / "results" / "r")["ran_in"] == "../.."
    assert read_manifest(tmp_path / "sweeps" / "s")["ran_in"] == "../../project"
    assert ran_in("/") == project.as_posix() and ran_in(project) == "."


def test_a_default_directory_claimed_in_place_keeps_its_name_as_its_run_id(tmp_path):
    """`backtest`'s default --out is named by a fresh run id; its manifest must record that id,
    not another one, or `report` shows one run under two ids (its heading and its run id)."""
    out = tmp_path / "20261207T093804Z-09b2ed"
    with claim_in_place(out, "backtest", ["summary.json"]):
        (out / "summary.json").write_text("{}")
    assert read_manifest(out)["run_id"] == out.name


def test_a_claim_in_place_gives_back_a_new_directory_it_wrote_nothing_in(tmp_path):
    """With release_unused, a new directory holding only its manifest at the end is left as found (missing, or
    empty), even when the command failed; one written to keeps its files, and without it the manifest stays."""
    files = ["cases.json"]
    missing, empty, used, kept = (tmp_path / name for name in ("missing", "empty", "used", "kept"))
    empty.mkdir()
    with claim_in_place(missing, "backtest", files, release_unused=True) as state:
        assert state == "new" and (missing / MANIFEST).is_file()
    with pytest.raises(KeyboardInterrupt), claim_in_place(empty, "backtest", files, release_unused=True):
        raise KeyboardInterrupt
    with claim_in_place(used, "backtest", files, release_unused=True):
        (used / "cases.json").write_text("{}")
    with claim_in_place(kept, "backtest", files):
        pass
    assert not missing.exists() and list(empty.iterdir()) == []
    assert sorted(p.name for p in used.iterdir()) == [MANIFEST, "cases.json"]
    assert [p.name for p in kept.iterdir()] == [MANIFEST]


@pytest.mark.parametrize("when", ["as-the-directory-is-made", "as-its-manifest-is-written"])
def test_a_ctrl_c_while_a_claim_in_place_is_set_up_gives_the_directory_back(when, tmp_path, monkeypatch):
    """A sweep's or backtest's new directory, interrupted after it was made but before the claim
    yields (Python raises a Ctrl-C as the mkdir or the manifest's write returns), is given back
    like one in which nothing was written, with the folders made for it."""
    import sim.ownership as ownership

    if when == "as-the-directory-is-made":
        real = ownership.Path.mkdir

        def mkdir(self, *args, **kwargs):
            real(self, *args, **kwargs)
            if self.name == "s":
                raise KeyboardInterrupt

        monkeypatch.setattr(ownership.Path, "mkdir", mkdir)
    else:
        real = ownership.atomic_write_text

        def write(path, text):  # the manifest written, then the Ctrl-C
            real(path, text)
            raise KeyboardInterrupt

        monkeypatch.setattr(ownership, "atomic_write_text", write)
    with pytest.raises(KeyboardInterrupt), claim_in_place(tmp_path / "results" / "s", "sweep", ["points.jsonl"],
                                                          release_unused=True):
        pytest.fail("the block ran although the claim was interrupted")
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("found", ["missing", "empty"])
@pytest.mark.parametrize("name", ["backtest", "calibrate", "sweep"])
def test_a_command_killed_as_it_writes_its_new_directorys_manifest_is_resumed_by_a_rerun(name, found, tmp_path,
                                                                                         capsys, monkeypatch):
    """A resumable command killed (SIGKILL: no cleanup) as it writes the manifest of the directory it claimed new
    (missing, or empty), its temp file written but not yet renamed, leaves that temp file alone in the directory:
    the rerun takes the directory as new and finishes, where it refused it for good as one holding files sim did
    not write (a suspect for the rerun that failed once after `sim sweep` was SIGKILLed at a fixed delay)."""
    out, killed = tmp_path / "o", tmp_path / "killed"
    if found == "empty":
        out.mkdir()
    real = os.replace

    def replace(src, dst, *args, **kwargs):
        if Path(dst) == out / MANIFEST and not killed.exists():
            shutil.copytree(out, killed)  # what the directory holds at this moment is what a kill leaves
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    cases = Path(__file__).parent / "data" / "cases"
    argv = COMMANDS.get(name) or {"backtest": [name, str(tiny_history(tmp_path / "hist")), "--runs", "1024"],
                                  "calibrate": [name, str(cases), "--knobs", str(cases / "knobs.yaml")]}[name]
    argv = [*argv, "--workers", "1", "--quiet"]
    assert main([*argv, "--out", str(out)]) == 0
    monkeypatch.undo()
    left = [p.name for p in killed.iterdir()]
    assert len(left) == 1 and left[0].startswith(f".{MANIFEST}.tmp-")
    capsys.readouterr()
    assert main([*argv, "--out", str(killed)]) == 0, capsys.readouterr().err
    assert sorted(p.name for p in killed.iterdir()) == sorted(p.name for p in out.iterdir())


@pytest.mark.parametrize("entries, new", [
    ({f".{MANIFEST}.tmp-0123abcd": "file"}, True),
    ({f".{MANIFEST}.tmp-0123abcd": "file", f".{MANIFEST}.tmp-89abcdef": "file"}, True),
    ({f".{MANIFEST}.tmp-0123abcd": "file", "notes.txt": "file"}, False),
    ({f".{MANIFEST}.tmp-0123abcd": "dir"}, False),
    ({f".{MANIFEST}.tmp-0123abcd": "link"}, False),
    ({".summary.json.tmp-0123abcd": "file"}, False),
    ({f".{MANIFEST}.tmp-0123": "file"}, False),
])
def test_only_a_manifests_temp_files_leave_a_directory_new(entries, new, tmp_path):
    """A directory holding nothing but temp files of a manifest (what a claim killed as it wrote one leaves) is
    new; one thing more, or a name, kind or link that is not such a file, and it is a user's, refused."""
    out = tmp_path / "o"
    out.mkdir()
    (tmp_path / "elsewhere").write_text("x")
    for name, kind in entries.items():
        {"file": lambda p: p.write_text("{"), "dir": Path.mkdir,
         "link": lambda p: p.symlink_to(tmp_path / "elsewhere")}[kind](out / name)
    if new:
        assert check_target(out, "sweep") == "new"
    else:
        with pytest.raises(InputError, match="holds files sim did not write"):
            check_target(out, "sweep")


def test_a_claim_given_back_removes_the_folders_it_made_and_no_other(tmp_path):
    """A result directory never committed, or a claim in place given back, removes the folders made
    above it, innermost first, and stops at one that holds anything or was there before."""
    with ResultDir(tmp_path / "a" / "b" / "res", "run"):
        pass
    with claim_in_place(tmp_path / "c" / "d" / "res", "backtest", ["cases.json"], release_unused=True):
        pass
    assert list(tmp_path.iterdir()) == []
    made_by_sim(tmp_path / "e" / "other")
    with ResultDir(tmp_path / "e" / "f" / "res", "run"):
        pass
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.iterdir()) == ["e"]
    assert sorted(p.name for p in (tmp_path / "e").iterdir()) == ["other"]
    made_by_sim(tmp_path / "g" / "res")  # committed: the folder above it holds it
    assert (tmp_path / "g" / "res" / MANIFEST).is_file()


@pytest.mark.parametrize("where, words", [
    ("file", "exists and is not a directory"),
    ("file/sub", "which is a file, not a folder"),
    ("/proc/sim-test", "cannot write a result directory there"),
])
def test_sweep_out_at_a_file_under_a_file_or_in_proc_is_one_error_line(where, words, tmp_path, capsys):
    """`sweep --out` where no directory can be made: exit 2, one error line, no traceback."""
    (tmp_path / "file").write_text("x")
    out = where if where.startswith("/") else str(tmp_path / where)
    assert main([*COMMANDS["sweep"], "--out", out, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert words in err and err.startswith("error: --out") and "Traceback" not in err


def test_a_sweep_keeps_its_points_and_refuses_a_run_in_its_directory(tmp_path, capsys):
    """`run --out` a sweep's directory is refused without --force: a run never replaces a sweep silently."""
    out = tmp_path / "sw"
    assert main([*COMMANDS["sweep"], "--out", str(out), "--quiet"]) == 0
    assert directory_owner(out) == "sweep"
    before = tree(out)
    assert main([*COMMANDS["run"], "--out", str(out), "--quiet"]) == 2
    assert "holds the result of `sim sweep`" in capsys.readouterr().err
    assert tree(out) == before


def test_out_dot_is_the_current_directory(tmp_path, capsys, monkeypatch):
    """`--out .`: a resumable command writes into (and resumes) the current directory, as into
    any other (its lock went inside it, which then held a file sim did not list: always refused);
    a command that replaces its directory whole refuses it, naming it, rather than remove the
    directory the shell is in."""
    cases = Path(__file__).parent / "data" / "cases"
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    argv = ["backtest", str(cases), "--runs", "256", "--seed", "1", "--out", ".", "--json"]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["result_dir"] == str(here)
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["cases_resumed"] > 0
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)
    assert main(["run", str(SMALL), "--runs", "256", "--out", "."]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --out: is the current directory") and str(empty) in err
    assert list(empty.iterdir()) == []


def partial_with_files(target: ResultDir) -> None:
    """A half-written run in the claim's partial directory: files beside its mark, and a folder of them."""
    (target.tmp / "replicates.parquet").write_bytes(b"0" * 1000)
    (target.tmp / "summary.json").write_text("{}")
    (target.tmp / "inputs").mkdir()
    for name in ("a.yaml", "b.yaml"):
        (target.tmp / "inputs" / name).write_text("x: 1\n")


@pytest.mark.parametrize("call", ["unlink", "rmdir"])
def test_a_second_ctrl_c_while_a_partial_directory_is_removed_leaves_none_of_it(call, tmp_path, monkeypatch):
    """The first Ctrl-C stops the command and its half-written directory is removed; a second one during that
    removal (a user pressing twice, a tool signalling the process group) waits for it to end: nothing of the
    partial directory, its lock or the folders made for it is left, and the command still stops."""
    fired = []
    with pytest.raises(KeyboardInterrupt):
        with ResultDir(tmp_path / "results" / "res", "run") as target:
            partial_with_files(target)
            fired = signal_after(monkeypatch, os, call, before=True)
            raise KeyboardInterrupt  # the first Ctrl-C
    monkeypatch.undo()
    assert fired == [call]
    assert list(tmp_path.iterdir()) == []


class Killed(BaseException):
    """A kill (SIGKILL, a power cut), which nothing can hold back: the process ends where it is."""


def listing_marks_first(monkeypatch) -> None:
    """List every directory with sim's marks first, as a file system may (ext4 lists in hash order)."""
    real = os.scandir

    class Listing(list):
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def close(self):
            pass

    def scandir(*args):
        with real(*args) as entries:
            return Listing(sorted(entries, key=lambda e: e.name not in (PARTIAL_MARK, MANIFEST)))

    monkeypatch.setattr(os, "scandir", scandir)


def kill_at(monkeypatch, step: int) -> list:
    """Make the `step`-th removal of a file or folder from now on end the process (raise `Killed`)
    before it is done; returns the removals tried."""
    calls = []

    def killing(real):
        def call(*args, **kwargs):
            calls.append(args[0])
            if len(calls) == step:
                raise Killed
            return real(*args, **kwargs)
        return call

    monkeypatch.setattr(os, "unlink", killing(os.unlink))
    monkeypatch.setattr(os, "rmdir", killing(os.rmdir))
    return calls


def test_a_partial_directory_whose_removal_was_killed_at_any_step_is_removed_by_the_next_writer(tmp_path,
                                                                                              monkeypatch):
    """A removal killed after any number of its steps leaves what `clean_stale` still knows as sim's: the
    partial directory's mark goes last. Removed first, the rest was a directory sim never touched again."""
    listing_marks_first(monkeypatch)
    for step in range(1, 8):  # the removals of the 6 files and folders inside, then the directory itself
        folder = tmp_path / str(step)
        folder.mkdir()
        with ResultDir(folder / "res", "run") as target:
            partial_with_files(target)
            with monkeypatch.context() as kill:
                calls = kill_at(kill, step)
                with pytest.raises(Killed):
                    target.__exit__(None, None, None)
            target.tmp = None  # the process died: nothing more of it runs
        clean_stale(folder)
        assert list(folder.iterdir()) == [], (step, calls)


def test_a_second_ctrl_c_while_a_claim_in_place_is_given_back_leaves_nothing(tmp_path, monkeypatch):
    """A sweep stopped before it wrote anything gives its new directory back; a second Ctrl-C as its manifest
    is removed waits for the directory and the folders made for it to go too."""
    fired = []
    with pytest.raises(KeyboardInterrupt):
        with claim_in_place(tmp_path / "results" / "s", "sweep", ["points.jsonl"], release_unused=True):
            fired = signal_after(monkeypatch, os, "unlink")  # the manifest's removal, then the Ctrl-C
            raise KeyboardInterrupt
    monkeypatch.undo()
    assert fired and list(tmp_path.iterdir()) == []


def test_a_ctrl_c_as_a_claim_in_place_has_made_its_folders_leaves_none_of_them(tmp_path, monkeypatch):
    """A Ctrl-C raised as the folders above a sweep's directory are made (as `make_parents` returns the list of
    them) leaves none of them."""
    import sim.ownership as ownership

    fired = signal_after(monkeypatch, ownership, "make_parents", "claim_in_place")
    with pytest.raises(KeyboardInterrupt):
        with claim_in_place(tmp_path / "results" / "s", "sweep", ["points.jsonl"], release_unused=True):
            pytest.fail("the block ran although the claim was interrupted")
    monkeypatch.undo()
    assert fired and list(tmp_path.iterdir()) == []


def test_a_forced_takeover_cut_short_leaves_a_directory_force_takes_over_again(tmp_path, monkeypatch):
    """`--force` empties another command's directory, its manifest last: killed at any step, the directory is
    still that command's, which the next `--force` takes over. With the manifest gone first, what was left
    made it a directory sim refused for good."""
    real = os.listdir
    monkeypatch.setattr(os, "listdir", lambda *args: sorted(real(*args), key=lambda name: name != MANIFEST))
    for step in range(1, 5):  # the removals of the three files and the manifest
        out = tmp_path / str(step) / "res"
        with ResultDir(out, "backtest") as target:
            for name in ("cases.json", "scores.csv", "summary.json"):
                (target.tmp / name).write_text("{}")
            target.commit()
        with monkeypatch.context() as kill:
            kill_at(kill, step)
            with pytest.raises(Killed):
                with claim_in_place(out, "sweep", ["points.jsonl"], force=True):
                    pytest.fail("the directory was emptied although the emptying was killed")
        assert check_target(out, "sweep", force=True) == "replace", step
    with claim_in_place(out, "sweep", ["points.jsonl"], force=True) as state:
        assert state == "replace"
    assert [p.name for p in out.iterdir()] == [MANIFEST]


def test_a_ctrl_c_between_the_renames_of_a_swap_leaves_the_new_result_in_place(tmp_path, monkeypatch):
    """Where the atomic exchange is missing, a Ctrl-C raised as the old result is renamed aside waits for the
    new one to be put in place: the target is never missing, and the new result is not removed as half-written."""
    import sim.ownership as ownership

    out = made_by_sim(tmp_path / "res")
    monkeypatch.setattr(ownership, "_exchange", lambda a, b: False)
    fired = []
    with pytest.raises(KeyboardInterrupt):
        with ResultDir(out, "run") as target:
            (target.tmp / "new.txt").write_text("new")
            fired = signal_after(monkeypatch, os, "rename", "swap_into_place")
            target.commit()
    monkeypatch.undo()
    assert fired
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST, "new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["res"]


def test_a_second_ctrl_c_while_a_command_cleans_up_after_the_first_still_leaves_nothing(tmp_path, capsys,
                                                                                      monkeypatch):
    """`sim run` stopped by a Ctrl-C before any replicate finished, and again as it removes its partial
    directory: exit 130, "nothing written", and nothing left, not even for the next writer to clean up."""
    import sim.montecarlo

    fired = []

    def interrupted(*args, **kwargs):
        fired.append(signal_after(monkeypatch, os, "unlink", before=True))  # the second, as the cleanup begins
        raise KeyboardInterrupt  # the first

    monkeypatch.setattr(sim.montecarlo, "run_timeline", interrupted)
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(SMALL), "--runs", "1024"]) == 130
    monkeypatch.undo()
    assert fired[0] == ["unlink"] and "nothing written" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_ctrl_c_as_sim_report_makes_the_folders_for_its_page_leaves_none_of_them(tmp_path, monkeypatch):
    """A Ctrl-C raised as the folders above a new page are made (as `make_parents` returns their list) leaves
    none of them, as one raised later does."""
    import sim.ownership as ownership
    from sim.report import make_report

    run = tmp_path / "run"
    assert main(["run", str(SMALL), "--runs", "1024", "--out", str(run), "--quiet"]) == 0
    fired = signal_after(monkeypatch, ownership, "make_parents", "make_report")
    with pytest.raises(KeyboardInterrupt):
        make_report([run], tmp_path / "pages" / "new" / "page.html")
    monkeypatch.undo()
    assert fired and sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_a_ctrl_c_as_sim_backtest_registers_its_claim_leaves_nothing(tmp_path, monkeypatch, capsys):
    """A Ctrl-C raised as the backtest's claim of its directory is entered on the command's stack, before the
    stack records its release (`ExitStack.enter_context` calls a helper of its own): exit 130, and the new
    directory, its lock and the folders made for it are gone when the command returns. Before, they went
    only when the garbage collector closed the claim, and stayed while anything referred to it."""
    import contextlib

    real, fired = contextlib.ExitStack._push_cm_exit, []

    def push(self, cm, cm_exit):
        if not fired and getattr(getattr(cm, "gen", None), "__name__", "") == "claim_in_place":
            fired.append(cm)  # kept, as a traceback a tool keeps would: no garbage collector closes it
            os.kill(os.getpid(), signal.SIGINT)
        return real(self, cm, cm_exit)

    history = tiny_history(tmp_path / "history")
    monkeypatch.setattr(contextlib.ExitStack, "_push_cm_exit", push)
    monkeypatch.chdir(tmp_path)
    status = main(["backtest", str(history), "--runs", "1024", "--out", str(tmp_path / "results" / "bt")])
    leftover = sorted(p.name for p in tmp_path.iterdir())  # now, before anything collects garbage
    monkeypatch.undo()
    assert fired and status == 130, capsys.readouterr().err
    assert leftover == ["history"]


def test_a_report_removes_the_temp_file_a_killed_report_left_beside_its_page(tmp_path):
    """A `sim report` killed as it wrote its page left `.page.html.tmp-*`; the next report to the page,
    which takes the page's lock first, removes it (and a stale one of another page in the folder)."""
    from sim.report import make_report

    run = tmp_path / "run"
    assert main(["run", str(SMALL), "--runs", "1024", "--out", str(run), "--quiet"]) == 0
    pages = tmp_path / "pages"
    pages.mkdir()
    for name in (".page.html.tmp-0123abcd", ".old.html.tmp-89abcdef"):
        (pages / name).write_text("<!-- sim-manifest: {")  # cut short by the kill
    make_report([run], pages / "page.html")
    assert [p.name for p in pages.iterdir()] == ["page.html"]


def test_the_posterior_copy_is_written_under_its_lock(tmp_path):
    """`calibrate --write` writes its copy holding the copy's lock, as every writer of a file beside its
    target does (what lets `clean_stale` know a killed writer's temp file): a killed copy's temp file is
    removed first; a copy another process holds is a one-line RunError that says the calibration is kept."""
    import fcntl

    from sim.cli.backtest import write_posterior_copy
    from sim.errors import RunError

    copy, lock = tmp_path / "copy.json", tmp_path / ".copy.json.sim-lock"
    (tmp_path / ".copy.json.tmp-0123abcd").write_text('{"format": ')  # a killed copy's
    seen = []

    class Posterior:
        def file_data(self):
            fd = os.open(lock, os.O_RDWR)
            try:
                with pytest.raises(BlockingIOError):
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            finally:
                os.close(fd)
            seen.append(sorted(p.name for p in tmp_path.iterdir()))
            return {}

    write_posterior_copy(Posterior(), copy, tmp_path / "cal")
    assert seen == [[".copy.json.sim-lock"]] and [p.name for p in tmp_path.iterdir()] == ["copy.json"]
    lock.write_text("sim 4194304\n")
    fd = os.open(lock, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    try:
        with pytest.raises(RunError, match=f"^cannot write the posterior's copy {copy}: another sim command is "
                                           f"writing there now.*; the calibration is kept in {tmp_path / 'cal'}"):
            write_posterior_copy(Posterior(), copy, tmp_path / "cal")
    finally:
        os.close(fd)
    assert len(seen) == 1
