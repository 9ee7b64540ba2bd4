"""The robustness issue, item by item: paths, signals, help, progress, signs and warnings."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import before_sims_code, small_dict, without_site_interrupted

from sim import InputError, load_scenario
from sim.cli import main
from sim.ownership import directory_owner

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "tests" / "data" / "small.yaml"
ENV = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def write(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path


def start(*args: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "sim", *args], cwd=cwd, env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


# --- Paths: extends and include stay inside the scenario's tree ---------------------------------


def test_extends_of_a_system_file_is_refused_without_reading_it(tmp_path):
    """`extends: /etc/shadow` (or any non-YAML file) is refused before it is opened."""
    derived = write(tmp_path / "a" / "d.yaml", {"extends": "/etc/shadow", "name": "d"})
    with pytest.raises(InputError) as info:
        load_scenario(derived)
    (problem,) = info.value.problems
    assert problem.path == "extends" and "must name a YAML file" in problem.message


def test_extends_outside_the_tree_is_refused_and_its_content_never_shown(tmp_path):
    """A YAML file above the folder above the scenario's is not read; its lines appear in no message."""
    write(tmp_path / "outside" / "secret.yaml", "root: $6$SECRETHASH\nname: x\n")
    derived = write(tmp_path / "a" / "b" / "d.yaml", {"extends": "../../outside/secret.yaml", "name": "d"})
    with pytest.raises(InputError) as info:
        load_scenario(derived)
    text = str(info.value)
    assert "must name a file inside" in text and "--scenario-root" in text and "SECRET" not in text


def test_a_yaml_file_that_is_not_a_scenario_is_refused_without_echoing_its_values(tmp_path):
    """A mapping whose keys are not scenario keys is named as not a scenario; its values stay unshown."""
    write(tmp_path / "a" / "config.yaml", {"password": "hunter2", "host": "db"})
    derived = write(tmp_path / "a" / "d.yaml", {"extends": "config.yaml", "name": "d"})
    with pytest.raises(InputError) as info:
        load_scenario(derived)
    text = str(info.value)
    assert "is not a scenario file: unknown top-level keys" in text and "hunter2" not in text


def test_scenario_root_lets_a_named_folder_in(tmp_path, capsys):
    """An include outside the tree is refused; `--scenario-root DIR` allows it."""
    write(tmp_path / "shared" / "knobs.yaml", {"agents.south.resolve": 0.6})
    data = small_dict()
    data["include"] = "../../shared/knobs.yaml"
    scenario = write(tmp_path / "p" / "q" / "s.yaml", data)
    assert main(["validate", str(scenario)]) == 2
    assert "include: must name a file inside" in capsys.readouterr().err
    assert main(["validate", str(scenario), "--scenario-root", str(tmp_path / "shared")]) == 0


def test_a_scenario_root_that_is_not_a_folder_is_an_error(tmp_path, capsys, monkeypatch):
    """A misspelt --scenario-root is one line naming it (exit 2), not an include refused for a reason that
    does not mention it. (Run in tmp_path, so that the value is short enough to be shown whole on
    any machine: a long one is shortened.)"""
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "s.yaml", small_dict())
    assert main(["validate", "s.yaml", "--scenario-root", "shraed"]) == 2
    assert capsys.readouterr().err == "error: --scenario-root: is not a folder (got 'shraed')\n"


def test_the_repositorys_counterfactuals_and_history_still_resolve():
    """`../baseline.yaml` from scenarios/counterfactuals and `_base.yaml` in history are inside the tree."""
    assert load_scenario(ROOT / "scenarios" / "counterfactuals" / "untainted_sochi.yaml").name == "untainted_sochi"
    assert load_scenario(ROOT / "scenarios" / "history" / "sochi_2016.yaml").observed is not None


# --- Signals and interrupts ---------------------------------------------------------------------


@pytest.mark.slow  # a subprocess and its signals or workers: seconds; CI runs it (-m slow)
def test_sigterm_during_a_run_writes_a_whole_result_marked_interrupted(tmp_path):
    """SIGTERM is handled as Ctrl-C: exit 130, and the replicates done are a whole result."""
    out = tmp_path / "res"
    proc = start("run", str(SMALL), "--runs", "50000000", "--seed", "1", "--out", str(out), "--quiet", cwd=tmp_path)
    deadline = time.monotonic() + 60
    while not (tmp_path / ".res.sim-lock").exists():
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted: wrote" in err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["interrupted"] is True and 0 < summary["runs"] < 50_000_000
    assert directory_owner(out) == "run"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["res"]


@pytest.mark.parametrize("delay", [0.05, 0.15, 0.3])
def test_ctrl_c_while_modules_load_exits_130_without_a_traceback(delay, tmp_path):
    """Ctrl-C while sim's modules load: exit 130 and no traceback. Unless it lands in the
    interpreter's own start-up, which no program can handle (`before_sims_code`): about 20 ms
    on an idle machine, past 50 ms on a loaded one (seen under pytest-xdist beside other work)."""
    proc = start("run", str(SMALL), "--runs", "1024", "--out", str(tmp_path / "o"), cwd=tmp_path)
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    err = without_site_interrupted(err)
    if not before_sims_code("SIGINT", proc.returncode, err):
        assert proc.returncode in (0, 130), err
        assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) in ([], ["o"])


# --- Help, progress, output -----------------------------------------------------------------------


@pytest.mark.parametrize("command, default", [
    ("run", "results/<scenario>/<run-id>"), ("compare", "results/compare/<run-id>"),
    ("explain", "results/explain/<run-id>"), ("backtest", "results/backtest/<run-id>"),
    ("calibrate", "results/calibrate/<key of the knobs and cases>"), ("sweep", "results/<scenario>/sweep-<key>"),
])
def test_each_help_names_the_commands_real_default_out(command, default, capsys):
    """`--help` says where the command writes when --out is not given."""
    with pytest.raises(SystemExit):
        from sim.cli import make_parser
        make_parser().parse_args([command, "--help"])
    text = re.sub(r"-\s+", "-", " ".join(capsys.readouterr().out.split()))  # argparse wraps at hyphens
    assert f"(default: {default}" in text


def test_progress_is_plain_lines_when_stderr_is_not_a_terminal(tmp_path, capsys):
    """--progress into a pipe or file: readable lines, each with the count and the share done."""
    assert main(["run", str(SMALL), "--runs", "20480", "--chunk-size", "1024", "--progress", "--quiet",
                 "--out", str(tmp_path / "o")]) == 0
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) >= 5 and all(re.fullmatch(r"replicates: [\d,]+ of 20,480 \(\d+ %\), \d+ s.*", x) for x in lines)
    assert lines[-1].startswith("replicates: 20,480 of 20,480 (100 %)")


def test_sweep_progress_is_plain_lines_too(tmp_path, capsys):
    """A sweep's --progress into a pipe prints point counts as lines."""
    assert main(["sweep", str(SMALL), "--vary", "summit.bargaining.margin=0.0:0.2:3", "--runs", "1024",
                 "--progress", "--quiet", "--out", str(tmp_path / "o")]) == 0
    lines = capsys.readouterr().err.splitlines()
    assert lines and lines[-1].startswith("points: 3 of 3 (100 %)")


def test_explains_two_tables_give_one_event_the_same_sign(tmp_path, capsys):
    """With one event, its removal effect and its Shapley value are the same number, with the same sign."""
    data = small_dict()
    data["events"] = [{"name": "walkout", "date": "2020-02-01", "source": "made up",
                       "effects": [{"target": "cancel", "probability": 0.6}]}]
    path = write(tmp_path / "w.yaml", data)
    assert main(["explain", str(path), "--runs", "2048", "--seed", "3", "--shapley", "--out", str(tmp_path / "e")]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if "walkout" in line]
    assert len(rows) == 2
    collapse = [re.findall(r"[+-]0\.\d{4}", row)[-3] for row in rows]  # the collapse column's value
    assert collapse[0] == collapse[1] and collapse[0].startswith("+")
    assert " ".join(out.split()).count("+ means the event raised the probability") == 2


def test_a_sobol_sample_too_small_is_warned_about(tmp_path, capsys):
    """--design sobol --points 4: the indices come with a warning on stderr and in sweep.json."""
    assert main(["sweep", str(SMALL), "--vary", "summit.bargaining.margin=0.0:0.2", "--vary", "dynamics.noise=0:0.02",
                 "--design", "sobol", "--points", "4", "--runs", "1024", "--seed", "5", "--quiet",
                 "--out", str(tmp_path / "o")]) == 0
    assert "warning: a Sobol base sample of 4 is too small" in capsys.readouterr().err
    warnings = json.loads((tmp_path / "o" / "sweep.json").read_text())["analysis"]["warnings"]
    assert warnings and "too small" in warnings[0]


def test_overlapping_vary_paths_are_one_error_line(tmp_path, capsys):
    """A field and a part of it varied together: exit 2 naming both, not a TypeError."""
    assert main(["sweep", str(SMALL), "--vary", "agents.north.resolve=0.2:0.8:2",
                 "--vary", "agents.north.resolve.mean=0.3:0.6:2", "--runs", "1024", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "overlaps vary.0 (agents.north.resolve)" in err and "Traceback" not in err


# --- calibrate writes into its result directory ----------------------------------------------------


def test_calibrate_writes_its_posterior_into_its_result_directory_and_write_needs_a_new_or_own_file(
        tmp_path, capsys):
    """By default nothing is written beside the cases; --write FILE makes a posterior sim owns, which a
    later calibrate may replace until someone edits it."""
    import shutil

    cases = tmp_path / "hist"
    shutil.copytree(Path(__file__).parent / "data" / "cases", cases)
    before = sorted(p.name for p in cases.iterdir())
    argv = ["calibrate", str(cases), "--knobs", str(cases / "knobs.yaml"), "--resamples", "100", "--quiet"]
    assert main([*argv, "--out", str(tmp_path / "r1")]) == 0
    assert sorted(p.name for p in cases.iterdir()) == before
    assert (tmp_path / "r1" / "posterior.json").is_file() and directory_owner(tmp_path / "r1") == "calibrate"
    copy = tmp_path / "inc" / "posterior.json"
    copy.parent.mkdir()
    assert main([*argv, "--out", str(tmp_path / "r2"), "--write", str(copy)]) == 0
    assert main([*argv, "--out", str(tmp_path / "r3"), "--write", str(copy)]) == 0
    copy.write_text(copy.read_text().replace('"runs": 1024', '"runs": 1025', 1))
    assert main([*argv, "--out", str(tmp_path / "r4"), "--write", str(copy)]) == 2
    assert "was not written by sim (or was edited since)" in capsys.readouterr().err
    assert '"runs": 1025' in copy.read_text() and not (tmp_path / "r4").exists()


def test_calibrate_never_replaces_a_write_target_someone_made_while_it_ran(tmp_path, capsys, monkeypatch):
    """--write is checked before the points run (minutes), and was then replaced without a second
    look: a file someone saved at that path meanwhile was overwritten. Now it is kept, the command
    fails saying so, and the calibration stays in its directory for a rerun."""
    import shutil

    import sim.calibrate

    cases = tmp_path / "hist"
    shutil.copytree(Path(__file__).parent / "data" / "cases", cases)
    target = tmp_path / "posterior.json"
    real = sim.calibrate.run_calibration

    def meanwhile(*args, **kwargs):
        result = real(*args, **kwargs)
        target.write_text("my notes\n")
        return result

    monkeypatch.setattr(sim.calibrate, "run_calibration", meanwhile)
    out = tmp_path / "cal"
    assert main(["calibrate", str(cases), "--knobs", str(cases / "knobs.yaml"), "--resamples", "100", "--quiet",
                 "--out", str(out), "--write", str(target)]) == 1
    err = capsys.readouterr().err
    assert f"error: cannot write the posterior's copy {target}: " in err and "was not written by sim" in err, err
    assert target.read_text() == "my notes\n" and (out / "posterior.json").is_file()


# --- Inputs that are not regular files -----------------------------------------------------------


@pytest.mark.parametrize("command", ["validate", "run", "eum", "meetings", "knobs"])
def test_a_named_pipe_as_an_input_is_refused_at_once_not_waited_on(tmp_path, capsys, command):
    """A FIFO given as a scenario, an actors CSV, a meetings CSV or a knob spec is refused with
    exit 2 naming it (opening it would block until a writer came, forever if none does)."""
    fifo = tmp_path / "in.yaml"
    os.mkfifo(fifo)
    cases = ROOT / "tests" / "data" / "cases"
    argv = {"validate": ["validate", str(fifo)],
            "run": ["run", str(fifo), "--out", str(tmp_path / "o")],
            "eum": ["eum", str(fifo)],
            "meetings": ["backtest", str(cases), "--meetings", str(fifo), "--out", str(tmp_path / "o")],
            "knobs": ["calibrate", str(cases), "--knobs", str(fifo), "--out", str(tmp_path / "o")]}[command]
    assert main([*argv, "--quiet"] if command in ("run", "meetings", "knobs") else argv) == 2
    err = capsys.readouterr().err
    assert f"error: {fifo}: is a named pipe (FIFO), not a regular file" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc, where no one may create a file")
def test_calibrate_refuses_a_write_target_it_cannot_create_before_it_runs(tmp_path, capsys):
    """`calibrate --write` into a folder where no file can be made (read-only, immutable; even
    for root) is refused with exit 2 before any point runs, not with a traceback at the end."""
    cases = ROOT / "tests" / "data" / "cases"
    target = Path("/proc/sim-posterior-copy.json")
    assert main(["calibrate", str(cases), "--knobs", str(cases / "knobs.yaml"), "--out", str(tmp_path / "o"),
                 "--write", str(target), "--quiet"]) == 2
    assert capsys.readouterr().err.startswith("error: --write: cannot write a file there (")
    assert not (tmp_path / "o").exists()


def test_an_atomic_write_that_fails_raises_its_own_error_not_the_cleanups(tmp_path, monkeypatch):
    """When the temp file cannot be written and then cannot be removed either (a read-only
    file system), the write's error is the one raised."""
    from sim import io

    def refuse(*args, **kwargs):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(Path, "unlink", refuse)
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(28, "No space left on device")))
    with pytest.raises(OSError, match="No space left"):
        io.atomic_write_bytes(tmp_path / "f", b"x")
