"""The command line: what `python -m sim run|validate` prints, writes and exits with."""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import read_columns

import sim.cli.run
from sim import cli
from sim.model import CLASSES

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "tests" / "data" / "small.yaml"
RUNS = "2000"

BAD_FILES = {  # name: (text in small.yaml, replacement, what the error line names)
    "bad_yaml": ("name: small", "name: [small", "invalid YAML"),
    "unknown_key": ("name: small", "name: small\nbogus: 1", "bogus: unknown key"),
    "wrong_type": ("capability: 1.0", "capability: strong", "agents.north.capability"),
    "probability_above_1": ("probability: 0.8", "probability: 1.8", "events.0.probability"),
    "salience_not_1": ("land: {position: 1.0, salience: 0.7}", "land: {position: 1.0, salience: 0.9}",
                       "agents.north.issues: saliences must sum to 1"),
    "event_after_summit": ("date: 2020-02-01", "date: 2020-05-01", "events.0.date"),
    "unknown_agent": ("patron: patron", "patron: nobody", "unknown agent"),
    "unknown_issue": ("issues: [trade]", "issues: [fishing]", "unknown issue"),
}


def make_bad(tmp_path: Path, name: str) -> tuple[Path, str]:
    old, new, expect = BAD_FILES[name]
    text = SMALL.read_text()
    assert old in text
    path = tmp_path / f"{name}.yaml"
    path.write_text(text.replace(old, new, 1))
    return path, expect


def sim_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "sim", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def run_json(capsys, *args: str) -> dict:
    assert cli.main(["run", str(SMALL), "--runs", RUNS, "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


# --- run -------------------------------------------------------------------------------


def test_run_end_to_end_prints_the_table_and_writes_the_result(tmp_path):
    """`python -m sim run` exits 0, prints the table and headline, and writes a whole result."""
    out = tmp_path / "res"
    proc = sim_cli("run", str(SMALL), "--runs", RUNS, "--seed", "4", "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for name in ("breakthrough", "substantive", "talk fest", "collapse", "95 % interval"):
        assert name in proc.stdout
    assert "P(substantive or better) = 0." in proc.stdout
    assert "2,000 replicates, seed entropy 4, engine convergence" in proc.stdout
    assert str(out) in proc.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["runs"] == 2000 and summary["seed_entropy"] == 4
    columns = read_columns(out)
    for name in ("outcome", "package", "summit_day"):
        assert columns[name].shape == (2000,)
    assert columns["position"].shape == (2000, 3, 2)
    assert sorted(p.name for p in out.glob("*.png")) == ["fan.png", "outcomes.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["res"]


def test_run_without_out_writes_under_results(tmp_path, capsys, monkeypatch):
    """With no --out, the result goes to results/<scenario>/<run-id> in the current directory."""
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run", str(SMALL), "--runs", RUNS, "--quiet"]) == 0
    assert capsys.readouterr().out == ""
    (run_dir,) = (tmp_path / "results" / "small").iterdir()
    assert (run_dir / "summary.json").is_file()


def test_a_long_scenario_name_keeps_the_tables_title_on_one_line(tmp_path, capsys, monkeypatch):
    """The title is not wrapped to the width of the table below it ("...: outcome of the" and
    "summit" on two lines, padded with spaces), however long the name."""
    name = "a_trilateral_on_the_sharing_of_a_river_between_three_states"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "river.yaml").write_text(SMALL.read_text().replace("name: small", f"name: {name}", 1))
    assert cli.main(["run", "river.yaml", "--runs", RUNS, "--out", "r"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == f"{name} (river.yaml): outcome of the summit"


def test_a_file_extending_another_without_a_name_is_run_under_the_bases_name_and_says_its_file(
        tmp_path, capsys, monkeypatch):
    """A file that extends a base and writes no `name:` keeps the base's name (README: a variant of a
    fitted case is still that meeting), so its result goes to results/<base's name>/; the table's
    title names the file that ran beside the name (it read as the base's run), the summary too."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "small.yaml").write_text(SMALL.read_text())
    (tmp_path / "dry_year.yaml").write_text("extends: small.yaml\nset: {agents.north.resolve: 0.8}\n")
    assert cli.main(["run", "dry_year.yaml", "--runs", RUNS]) == 0
    assert capsys.readouterr().out.splitlines()[0].strip() == "small (dry_year.yaml): outcome of the summit"
    (run_dir,) = (tmp_path / "results" / "small").iterdir()
    assert json.loads((run_dir / "summary.json").read_text())["scenario_file"] == "dry_year.yaml"
    assert cli.main(["run", "small.yaml", "--runs", RUNS, "--out", "own"]) == 0
    assert capsys.readouterr().out.splitlines()[0].strip() == "small: outcome of the summit"


def test_json_prints_only_the_summary(tmp_path, capsys):
    """--json prints the summary, exactly as written, with where it was written, and nothing else on stdout."""
    out = tmp_path / "res"
    summary = run_json(capsys, "--seed", "1", "--out", str(out))
    assert summary.pop("result_dir") == str(out)
    assert summary == json.loads((out / "summary.json").read_text())
    for name in CLASSES:
        assert {"p", "low", "high"} <= set(summary["classes"][name])
        e = summary["classes"][name]
        assert 0 <= e["low"] <= e["p"] <= e["high"] <= 1
    assert math.isclose(sum(summary["classes"][c]["p"] for c in CLASSES), 1.0)
    assert summary["runs"] == 2000 and summary["scenario_file"] == str(SMALL)


def test_same_seed_gives_identical_figures(tmp_path, capsys):
    """Two runs with one seed agree on every figure; only timings and the date differ."""
    a = run_json(capsys, "--seed", "9", "--out", str(tmp_path / "a"))
    b = run_json(capsys, "--seed", "9", "--out", str(tmp_path / "b"), "--chunk-size", "3000")
    figures = ("classes", "headline", "deals", "runs", "seed_entropy", "scenario_hash")
    assert {k: a[k] for k in figures} == {k: b[k] for k in figures}
    a_cols, b_cols = read_columns(tmp_path / "a"), read_columns(tmp_path / "b")
    for name in ("outcome", "package", "summit_day", "position"):
        np.testing.assert_array_equal(a_cols[name], b_cols[name])


def test_set_overrides_a_field_and_is_recorded(tmp_path, capsys):
    """--set PATH=VALUE changes the scenario (and its hash) and is kept in the summary."""
    base = run_json(capsys, "--seed", "1", "--out", str(tmp_path / "a"))
    changed = run_json(capsys, "--seed", "1", "--out", str(tmp_path / "b"),
                       "--set", "summit.cancellation.base_probability=0.5")
    assert changed["scenario_hash"] != base["scenario_hash"]
    assert changed["overrides"] == {"summit.cancellation.base_probability": "0.5"}
    assert changed["classes"]["collapse"]["p"] > base["classes"]["collapse"]["p"]


def test_precision_stops_early(tmp_path, capsys):
    """--precision stops once the intervals are narrow enough, and says so."""
    summary = run_json(capsys, "--seed", "1", "--out", str(tmp_path / "a"), "--precision", "0.02",
                       "--runs", "100000")
    assert summary["stopped_early"] is True and summary["runs"] < 100000


# --- Ctrl-C ------------------------------------------------------------------------------


def test_ctrl_c_writes_what_was_done_and_exits_130(tmp_path, capsys, monkeypatch):
    """Ctrl-C after the first chunk: a whole result of those replicates, marked interrupted."""
    monkeypatch.setattr(sim.cli.run, "progress_bar", _ctrl_c_progress)
    out = tmp_path / "res"
    status = cli.main(["run", str(SMALL), "--runs", "5000", "--chunk-size", "1024", "--out", str(out)])
    assert status == 130
    assert "interrupted: wrote 1,024 of 5,000 replicates" in capsys.readouterr().err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["interrupted"] is True and summary["runs"] == 1024
    assert len(read_columns(out)["outcome"]) == 1024


def test_ctrl_c_before_any_replicate_writes_nothing(tmp_path, capsys, monkeypatch):
    """Ctrl-C before the first chunk finishes: exit 130 and no result, not even a temp dir."""
    import sim.montecarlo

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(sim.montecarlo, "run_timeline", interrupted)
    out = tmp_path / "res"
    assert cli.main(["run", str(SMALL), "--runs", RUNS, "--out", str(out)]) == 130
    assert "nothing written" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_before_any_replicate_leaves_no_folder_it_made(tmp_path, capsys, monkeypatch):
    """Ctrl-C before the first chunk finishes: the folders made for the result (`results/<scenario>/`,
    or those above a new --out) go too; a folder that was there before stays."""
    import sim.montecarlo

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(sim.montecarlo, "run_timeline", interrupted)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run", str(SMALL), "--runs", RUNS]) == 130
    assert cli.main(["run", str(SMALL), "--runs", RUNS, "--out", str(tmp_path / "a" / "b" / "res")]) == 130
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "results").mkdir()
    assert cli.main(["run", str(SMALL), "--runs", RUNS]) == 130
    assert [p.name for p in tmp_path.rglob("*")] == ["results"]
    assert "nothing written" in capsys.readouterr().err


@pytest.mark.slow  # a subprocess and its signals or workers: seconds; CI runs it (-m slow)
def test_a_sigint_that_the_parent_ignores_is_ignored_from_the_start(tmp_path):
    """A shell's background job (`sim run ... &` in a script) starts with SIGINT ignored, as POSIX
    has it, and Python keeps it so; sim replaced that unconditionally, so a SIGINT was ignored while
    the modules loaded and obeyed after: the same `kill -INT` ended the run or not by its timing.
    Ignored from the start, it is ignored throughout; SIGTERM still stops the run."""
    import time

    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-m", "sim", "run", str(SMALL), "--runs", "10000000", "--workers", "1",
                             "--out", str(tmp_path / "o")], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        for delay in (0.05, 0.5, 1.0):  # while the modules load, and while the replicates run
            time.sleep(delay)
            proc.send_signal(signal.SIGINT)
        time.sleep(0.5)
        assert proc.poll() is None, proc.communicate()[1]
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and err.count("stopping: keeping what finished") == 1, err
    assert json.loads((tmp_path / "o" / "summary.json").read_text())["interrupted"] is True


def test_sigint_soon_after_start_leaves_nothing_or_a_whole_result(tmp_path):
    """`python -m sim run` sent SIGINT a moment after it starts, with no `results/` before: exit
    130 and no traceback; `results/` is absent, or holds one whole result marked interrupted."""
    import time

    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-m", "sim", "run", str(SMALL), "--runs", "10000000", "--workers", "1"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in err, err
    runs = list((tmp_path / "results" / "small").iterdir()) if (tmp_path / "results").exists() else []
    assert [p.name for p in tmp_path.iterdir()] == (["results"] if runs else [])
    for run in runs:
        assert json.loads((run / "summary.json").read_text())["interrupted"] is True


@pytest.mark.parametrize("command", ["compare", "explain"])
def test_a_ctrl_c_as_the_claim_returns_leaves_nothing(command, tmp_path, monkeypatch, capsys):
    """A Ctrl-C raised just after a command's result directory is claimed, before its release is
    registered (in `ExitStack.enter_context`, between the claim's `__enter__` and the push of its
    `__exit__`, where Python checks for signals), still removes the partial directory, the lock
    and the folders the claim made."""
    from sim.ownership import ResultDir

    real = ResultDir.__enter__

    def claimed_then_interrupted(self):
        real(self)
        raise KeyboardInterrupt

    monkeypatch.setattr(ResultDir, "__enter__", claimed_then_interrupted)
    monkeypatch.chdir(tmp_path)
    files = [str(SMALL)] * (2 if command == "compare" else 1)
    assert cli.main([command, *files, "--runs", "1024"]) == 130
    assert "nothing written" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["run", "compare", "explain"])
def test_a_ctrl_c_while_a_finished_result_is_written_keeps_it(command, tmp_path, monkeypatch, capsys):
    """A Ctrl-C while a command writes the result of work that finished (its plots take seconds: a
    second Ctrl-C after the first stopped the work, or one that came just as the work ended) is
    ignored, as while the work ran: the work finished is written whole, not thrown away, and the
    command says so and exits 130 (the user asked to stop), as calibrate's and backtest's do."""
    import matplotlib.figure

    real = matplotlib.figure.Figure.savefig

    def savefig(self, *args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", savefig)
    monkeypatch.chdir(tmp_path)
    files = [str(SMALL)] * (2 if command == "compare" else 1)
    assert cli.main([command, *files, "--runs", RUNS, "--quiet"]) == 130
    assert capsys.readouterr().err.endswith("stopping: keeping what finished\n" + TOO_LATE)
    results = [p for p in (tmp_path / "results").rglob("summary.json")]
    assert len(results) == 1 and json.loads(results[0].read_text())["runs"] == int(RUNS)
    assert not [p for p in tmp_path.rglob(".*") if p.name != ".sim-manifest.json"]


class _ctrl_c_progress:
    """A progress callback that presses Ctrl-C (sends this process SIGINT) when the first
    chunk is done."""

    def __init__(self, args, total):
        pass

    def __enter__(self):
        def press(done, total):
            os.kill(os.getpid(), signal.SIGINT)  # the CLI's handler asks the run to stop

        return press

    def __exit__(self, *exc):
        return False


# --- validate ------------------------------------------------------------------------------


def test_validate_reports_each_file(tmp_path, capsys):
    """`validate` prints ok for good files, error lines for bad ones, and exits 2 if any is bad."""
    assert cli.main(["validate", str(SMALL)]) == 0
    assert capsys.readouterr().out == f"ok: {SMALL}\n"
    bad, _ = make_bad(tmp_path, "unknown_key")
    assert cli.main(["validate", str(SMALL), str(bad)]) == 2
    captured = capsys.readouterr()
    assert captured.out == f"ok: {SMALL}\n"
    assert captured.err == f"error: {bad}: bogus: unknown key (got 1)\n"


def test_a_broken_base_that_several_files_extend_is_reported_once(tmp_path, capsys):
    """`validate a.yaml b.yaml` (and any command reading several files: a comparison's two sides,
    a backtest's cases) says a shared base's problem once, each file's own problems each."""
    from sim.errors import InputError, Problem, map_all

    (tmp_path / "_base.yaml").write_text(SMALL.read_text().replace("capability: 2.0", "capability: -2.0", 1))
    for name in ("a", "b"):
        (tmp_path / f"{name}.yaml").write_text(f"extends: _base.yaml\nname: {name}\nbogus: 1\n")
    assert cli.main(["validate", str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert sum("_base.yaml" in line for line in err) == 1, err
    assert sum("a.yaml: bogus" in line for line in err) == 1 and sum("b.yaml: bogus" in line for line in err) == 1

    def fail(k):
        raise InputError([Problem("base.yaml", "x", "must be 1", 2, True), Problem(f"{k}.yaml", "y", "bad")])

    with pytest.raises(InputError) as caught:
        map_all(fail, ["a", "b"])
    assert [str(p) for p in caught.value.problems] == ["base.yaml: x: must be 1 (got 2)", "a.yaml: y: bad",
                                                       "b.yaml: y: bad"]


def test_validate_gives_every_file_a_verdict_when_a_shared_base_is_broken(tmp_path, capsys):
    """`validate base.yaml cf.yaml` with a broken base and a derived file that adds no problem of
    its own: the base's problem is said once, and the derived file still gets a line of its own,
    naming the file whose problems it shares (not nothing, which read as neither ok nor bad)."""
    base = tmp_path / "base.yaml"
    base.write_text(SMALL.read_text().replace("capability: 2.0", "capability: -2.0", 1))
    (tmp_path / "cf").mkdir()
    derived = tmp_path / "cf" / "c.yaml"
    derived.write_text("extends: ../base.yaml\nname: c\n")
    assert cli.main(["validate", str(base), str(derived)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err.splitlines()
    assert len(err) == 2 and err[0].startswith(f"error: {base}: agents.") and "(got -2.0)" in err[0], err
    assert err[1] == f"error: {derived}: not valid: the problems above in {base} are its problems too", err


def test_validate_notes_a_veto_player_without_trust_toward_the_parties(tmp_path, capsys):
    """A valid file whose veto player has no trust entry with a party passes, with a note on
    stderr saying it is read as full trust; with the entries, no note."""
    text = SMALL.read_text(encoding="utf-8").replace("summit:\n", "roles: {veto: [patron]}\nsummit:\n", 1)
    path = tmp_path / "veto.yaml"
    path.write_text(text, encoding="utf-8")
    assert cli.main(["validate", str(path)]) == 0
    captured = capsys.readouterr()
    assert captured.out == f"ok: {path}\n"
    assert captured.err == (f"note: {path}: roles.veto.0: has no relations.trust entry with north, south: read as "
                            "full trust (in the pressure weights and the discount of promised gains) (got 'patron')\n")
    note = captured.err
    # run, and compare of the file with itself, say it too: once each (a run need not follow a validate)
    assert cli.main(["run", str(path), "--runs", RUNS, "--out", str(tmp_path / "r"), "--quiet"]) == 0
    assert capsys.readouterr().err == note
    assert cli.main(["compare", str(path), str(path), "--set-b", "summit.bargaining.margin=0.1", "--runs", RUNS,
                     "--out", str(tmp_path / "c"), "--quiet"]) == 0
    assert capsys.readouterr().err == note
    trusted = text.replace("trust: {between: [north, south],", "trust: {between: [north, south, patron],", 1)
    path.write_text(trusted, encoding="utf-8")
    assert cli.main(["validate", str(path)]) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("date, said", [("2999-01-01", True), ("2020-03-01", False)])
def test_validate_notes_a_case_observed_after_today_which_backtest_refuses(tmp_path, capsys, date, said):
    """A case observed after today is a valid scenario (ok, exit 0), but backtest and calibrate
    refuse it: validate says so in a note naming the field, the date and why; a past date gets none."""
    path = tmp_path / "case.yaml"
    path.write_text(SMALL.read_text() + f"observed: {{outcome: talk_fest, date: {date}, source: 'a test'}}\n")
    assert cli.main(["validate", str(path)]) == 0
    captured = capsys.readouterr()
    assert captured.out == f"ok: {path}\n"
    if not said:
        assert captured.err == ""
        return
    assert captured.err.startswith(f"note: {path}: observed.date: is after today (")
    assert "a meeting's outcome is known only once it has happened; backtest and calibrate refuse this case" in \
        captured.err
    assert captured.err.endswith(f"(got '{date}')\n") and captured.err.count("\n") == 1
    assert cli.main(["backtest", str(tmp_path), "--runs", RUNS, "--out", str(tmp_path / "b")]) == 2
    assert "observed.date: is after today" in capsys.readouterr().err


def test_validate_refuses_a_case_observed_by_its_vantage(tmp_path, capsys):
    """An outcome dated at or before the case's own vantage was known when it was forecast: an
    error in validate, as in backtest and calibrate, not a note."""
    path = tmp_path / "case.yaml"
    vantage = re.search(r"vantage: (\S+)", SMALL.read_text()).group(1).rstrip("}, ")
    path.write_text(SMALL.read_text() + f"observed: {{outcome: talk_fest, date: {vantage}, source: 'a test'}}\n")
    assert cli.main(["validate", str(path)]) == 2
    assert f"error: {path}: observed.date: must be after calendar.vantage" in capsys.readouterr().err


def test_validate_checks_every_scenario_file_of_a_folder(tmp_path, capsys):
    """`validate DIR`, as `backtest DIR` reads a folder: each *.yaml of DIR that reads like a
    scenario (a shared base, a case, one without `observed:`) is checked in name order; another
    command's file there (a knobs spec) is named in one note as not checked, not an error."""
    (tmp_path / "_base.yaml").write_text(SMALL.read_text())
    (tmp_path / "a.yaml").write_text("extends: _base.yaml\nname: a\n")
    (tmp_path / "b.yaml").write_text("extends: _base.yaml\nname: b\nbogus: 1\n")
    (tmp_path / "knobs.yaml").write_text("runs: 100\nknobs: {}\n")
    (tmp_path / "notes.txt").write_text("not yaml")
    assert cli.main(["validate", str(tmp_path), str(SMALL)]) == 2
    captured = capsys.readouterr()
    assert captured.out == f"ok: {tmp_path / '_base.yaml'}\nok: {tmp_path / 'a.yaml'}\nok: {SMALL}\n"
    assert captured.err == (f"note: {tmp_path}: knobs.yaml is not a scenario file (no agents:, summit: or "
                            "extends: at its top level): not checked\n"
                            f"error: {tmp_path / 'b.yaml'}: bogus: unknown key (got 1)\n")
    (tmp_path / "b.yaml").unlink()
    assert cli.main(["validate", str(tmp_path)]) == 0
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli.main(["validate", str(empty)]) == 2
    assert capsys.readouterr().err.endswith(f"error: {empty}: holds no scenario file (a *.yaml with agents:, "
                                            "summit: or extends: at its top level)\n")


def test_validate_checks_the_shipped_history_folder():
    """`python -m sim validate scenarios/history` (the folder backtest and calibrate take) checks
    its cases and their base, and passes."""
    proc = sim_cli("validate", "scenarios/history", cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == "ok: scenarios/history/_base.yaml" and len(proc.stdout.splitlines()) == 21
    assert proc.stderr == ("note: scenarios/history: knobs.yaml is not a scenario file (no agents:, summit: or "
                           "extends: at its top level): not checked\n")


def test_run_given_a_folder_says_which_commands_take_one(tmp_path, capsys):
    """`run scenarios/history` (a folder, which validate and backtest take): one error line naming
    the folder, that run takes one of its scenario files, and which commands take the folder."""
    assert cli.main(["run", str(ROOT / "scenarios" / "history"), "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err == (f"error: {ROOT / 'scenarios' / 'history'}: is a directory, not a scenario "
                                       "file; name a scenario file in it (validate, backtest and calibrate take a "
                                       "folder)\n")


def test_validate_notes_a_shared_base_that_backtest_would_score_as_a_case(tmp_path, capsys):
    """A `_`-named file with its own `observed:` block is scored by backtest as a case (its note
    there); validate says the same of it, and nothing of a base without one or of its cases."""
    observed = "observed: {outcome: talk_fest, date: 2020-03-01, source: 'a template'}\n"
    (tmp_path / "_base.yaml").write_text(SMALL.read_text() + observed)
    (tmp_path / "a.yaml").write_text("extends: _base.yaml\nname: a\n")
    assert cli.main(["validate", str(tmp_path)]) == 0
    assert capsys.readouterr().err == (f"note: {tmp_path / '_base.yaml'}: observed: makes this file a case, scored "
                                       "with the others, though its name starts with `_`, as a shared base's does; "
                                       "if it is a base, move its `observed:` block into the cases\n")
    (tmp_path / "_base.yaml").write_text(SMALL.read_text())
    (tmp_path / "a.yaml").write_text("extends: _base.yaml\nname: a\n" + observed)
    assert cli.main(["validate", str(tmp_path)]) == 0
    assert capsys.readouterr().err == ""


def test_validate_end_to_end(tmp_path):
    """`python -m sim validate` on a bad file: exit 2, one error line, no traceback."""
    bad, expect = make_bad(tmp_path, "salience_not_1")
    proc = sim_cli("validate", str(SMALL), str(bad), cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stdout == f"ok: {SMALL}\n"
    assert proc.stderr.startswith("error: ") and expect in proc.stderr and "Traceback" not in proc.stderr


# --- Bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_scenario_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys, name):
    """A malformed scenario: exit 2, one `error: FILE: path: ...` line, and no result directory."""
    bad, expect = make_bad(tmp_path, name)
    out = tmp_path / "res"
    assert cli.main(["run", str(bad), "--runs", RUNS, "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: {bad}: ") and expect in lines[0]
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [bad.name]


def test_a_results_summary_given_as_the_scenario_is_one_line_saying_what_it_is(tmp_path, capsys):
    """A run's summary.json (it has agents, issues and events keys, so it passed for a scenario), or
    another command's, given to run or validate: one line saying what the file is, not one per key
    or a list of keys that are not a scenario's, exit 2."""
    assert cli.main(["run", str(SMALL), "--runs", RUNS, "--out", str(tmp_path / "res"), "--quiet"]) == 0
    assert cli.main(["compare", str(SMALL), str(SMALL), "--runs", RUNS, "--out", str(tmp_path / "cmp"), "--quiet"]) == 0
    capsys.readouterr()
    for summary in (tmp_path / "res" / "summary.json", tmp_path / "cmp" / "summary.json"):  # a compare's too
        for command in (["validate", str(summary)], ["run", str(summary), "--out", str(tmp_path / "again")]):
            assert cli.main(command) == 2
            assert capsys.readouterr().err == (f"error: {summary}: is the summary.json of a sim result, not a "
                                               "scenario file (a run's own scenario is copied to inputs/ beside it)\n")
    assert not (tmp_path / "again").exists()


def test_bad_scenario_end_to_end_has_no_traceback(tmp_path):
    """Through the real entry point too: exit 2, no traceback, no result."""
    bad, expect = make_bad(tmp_path, "event_after_summit")
    proc = sim_cli("run", str(bad), "--runs", RUNS, "--out", str(tmp_path / "res"), cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stdout == "" and "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1 and expect in proc.stderr
    assert not (tmp_path / "res").exists()


def test_missing_file_exits_2(tmp_path, capsys):
    """A scenario file that does not exist is an input error."""
    missing = tmp_path / "nope.yaml"
    assert cli.main(["run", str(missing), "--out", str(tmp_path / "res")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {missing}: cannot read file") and err.count("\n") == 1
    assert cli.main(["validate", str(missing)]) == 2


@pytest.mark.parametrize("option, value, message", [
    ("--runs", "0", "error: --runs: must be >= 1 (got 0)"),
    ("--runs", "100000000000000000000000", "error: --runs: must be at most 1,000,000,000 (got 100000000000000000000000)"),
    ("--seed", "-1", "error: --seed: must be >= 0 (got -1)"),
    ("--chunk-size", "0", "error: --chunk-size: must be >= 1 (got 0)"),
    ("--precision", "0.5", "error: --precision: must be in (0, 0.5) (got 0.5)"),
    ("--precision", "0", "error: --precision: must be in (0, 0.5) (got 0.0)"),
    ("--runs", "many", "error: sim run: argument --runs: not a whole number: 'many' (write e.g. 100000, 100_000, 1e5 "
                       "or 100,000)"),
    ("--set", "no_equals_sign", "error: --set: must be PATH=VALUE (got 'no_equals_sign')"),
    ("--set", "agents.nobody.resolve=0.5", "error: --set: agents.nobody.resolve: no such field"),
])
def test_bad_option_values_exit_2(tmp_path, capsys, option, value, message):
    """A bad option value is an input error in the same one-line format, and nothing is written."""
    out = tmp_path / "res"
    assert cli.main(["run", str(SMALL), option, value, "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(message) and captured.err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command, value, line", [
    ("run", "agents.south.resolve=1.5", "agents.south.resolve: must be in [0, 1] (got 1.5)"),
    ("run", "agents.north.issues.land.salience=0.5",
     "agents.north.issues: saliences must sum to 1 (their means, where drawn) (got 0.8)"),
    ("explain", "agents.south.resolve=1.5", "agents.south.resolve: must be in [0, 1] (got 1.5)"),
    # a list item named by its name, as the README's paths allow: the problem's path counts it
    ("run", "events.talks.date=2020-05-01", "events.0.date: event talks: is after the latest summit date "
     "(2020-04-01) (got '2020-05-01')"),
    ("run", "incidents.clash.rate_per_month=-1", "incidents.0.rate_per_month: incident clash: must be in [0, inf] "
     "(got -1)"),
])
def test_a_value_set_on_the_command_line_is_blamed_on_set_not_on_the_file(tmp_path, capsys, command, value, line):
    """A value `--set` gave that breaks a rule names `--set` beside the file, which does not hold it,
    whether the path names a list item by its index or by its name."""
    assert cli.main([command, str(SMALL), "--set", value, "--out", str(tmp_path / "r")]) == 2
    assert capsys.readouterr().err == f"error: {SMALL} (--set): {line}\n"
    assert list(tmp_path.iterdir()) == []


def test_a_path_set_twice_is_an_error_naming_it(tmp_path, capsys):
    """`--set P=1 --set P=2` (or compare's --set P with --set-a P) is refused naming P: which value was meant is unknown."""
    path = "summit.bargaining.margin"
    assert cli.main(["run", str(SMALL), "--set", f"{path}=0.1", "--set", f" {path}=0.2", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err == f"error: --set: {path}: is given twice ('{path}=0.1' and ' {path}=0.2'); give it once\n"
    assert cli.main(["compare", str(SMALL), str(SMALL), "--set", f"{path}=0.1", "--set-b", f"{path}=0.2",
                     "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --set-b: {path}: is given with --set too") and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("first, second, message", [
    ("events.talks.probability=0.1", "events.0.probability=0.9",
     "events.0.probability: names the same field as events.talks.probability"),
    ("monte_carlo.runs=1000", "monte_carlo={runs: 2000}", "monte_carlo: overlaps (a field and a part of it) "
     "monte_carlo.runs"),
    ("summit.bargaining={margin: 0.2}", "summit.bargaining.margin=0.1", "summit.bargaining.margin: overlaps"),
])
def test_two_spellings_of_one_field_set_are_an_error(tmp_path, capsys, first, second, message):
    """`--set` of one field by two spellings (a list item by name and by index), or of a field and
    a part of it, is refused naming both: the later one silently won."""
    assert cli.main(["run", str(SMALL), "--set", first, "--set", second, "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --set: {message}") and err.count("\n") == 1, err
    assert list(tmp_path.iterdir()) == []


def test_no_command_is_a_usage_error(capsys):
    """`python -m sim` alone exits 2 with an error line."""
    assert cli.main([]) == 2
    assert capsys.readouterr().err.startswith("error: sim: ")


@pytest.mark.parametrize("args, unbuffered", [
    (["validate", str(SMALL)], ""),  # the output waits in Python's buffer: the pipe breaks at the last flush
    (["eum", str(ROOT / "tests" / "data" / "eum" / "ExampleActors.csv"), "--rounds", "200"], "1"),
    (["--version"], ""),
])
def test_a_closed_pipe_ends_quietly(args, unbuffered):
    """Piping the output into a reader that has left (`| head -1`) ends with status 1 and nothing on stderr:
    no traceback, no `Exception ignored ... BrokenPipeError` from the flush at exit."""
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first write
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    env.update(PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), PYTHONUNBUFFERED=unbuffered)
    try:
        proc = subprocess.run([sys.executable, "-m", "sim", *args], stdout=write, stderr=subprocess.PIPE, text=True,
                              cwd=ROOT, env=env, timeout=120)
    finally:
        os.close(write)
    assert (proc.returncode, proc.stderr) == (1, "")


def test_workers_write_the_same_result_as_one_process(tmp_path, capsys):
    """`--workers 2` writes the replicates `--workers 1` writes, bit for bit, and says how many ran it."""
    one = run_json(capsys, "--seed", "4", "--runs", "40000", "--workers", "1", "--out", str(tmp_path / "one"))
    two = run_json(capsys, "--seed", "4", "--runs", "40000", "--workers", "2", "--out", str(tmp_path / "two"))
    assert (one["workers"], two["workers"]) == (1, 2) and one["classes"] == two["classes"]
    a, b = read_columns(tmp_path / "one"), read_columns(tmp_path / "two")
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_more_workers_than_chunks_is_not_refused_and_records_those_that_ran(tmp_path, capsys):
    """`run --workers 200` on 2 chunks runs on 2 processes (no memory refusal for 200), with one note line;
    summary.json says 2."""
    out = tmp_path / "r"
    assert cli.main(["run", str(SMALL), "--runs", "2048", "--chunk-size", "1024", "--workers", "200", "--json",
                     "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.err == "note: --workers 200: the work is 2 chunks, so 2 processes run it\n"
    assert json.loads(captured.out)["workers"] == 2 == json.loads((out / "summary.json").read_text())["workers"]
    assert cli.main(["compare", str(SMALL), str(SMALL), "--set-b", "events.talks.probability=0", "--runs", "1024",
                     "--workers", "16", "--json", "--out", str(tmp_path / "c")]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["workers"] == 1 and captured.err.count("\n") == 1


def test_bad_workers_is_an_input_error(tmp_path, capsys):
    assert cli.main(["run", str(SMALL), "--runs", RUNS, "--workers", "0", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err == "error: --workers: must be >= 1 (got 0)\n"
    assert not (tmp_path / "r").exists()


CASES = ROOT / "tests" / "data" / "cases"
WORKER_COMMANDS = {
    "run": ["run", str(SMALL), "--runs", RUNS],
    "compare": ["compare", str(SMALL), str(SMALL), "--runs", RUNS],
    "sweep": ["sweep", str(SMALL), "--vary", "summit.bargaining.margin=0.05:0.15:2", "--runs", RUNS],
    "backtest": ["backtest", str(CASES), "--runs", RUNS],
    "calibrate": ["calibrate", str(CASES), "--knobs", str(CASES / "knobs.yaml")],
}


@pytest.mark.parametrize("name", sorted(WORKER_COMMANDS))
def test_every_command_reads_workers_by_one_rule(name, tmp_path, capsys):
    """--workers 0 is the same one error line in every command, and (where there is --scheduler) --workers
    beside --scheduler too, before anything is made."""
    argv = [*WORKER_COMMANDS[name], "--out", str(tmp_path / "o")]
    assert cli.main([*argv, "--workers", "0"]) == 2
    assert capsys.readouterr().err == "error: --workers: must be >= 1 (got 0)\n"
    if name in ("sweep", "calibrate"):
        assert cli.main([*argv, "--workers", "2", "--scheduler", "tcp://127.0.0.1:9"]) == 2
        assert capsys.readouterr().err == ("error: --scheduler: runs on the cluster's workers: drop --workers "
                                           "(got 'tcp://127.0.0.1:9')\n")
    assert list(tmp_path.iterdir()) == []


def test_every_command_that_loads_a_scenario_warns_of_fields_whose_meaning_changed(tmp_path, capsys):
    """`dynamics.noise` set in a file: compare and explain say so too, not only run."""
    text = (ROOT / "scenarios" / "baseline.yaml").read_text(encoding="utf-8")
    scenario = tmp_path / "s" / "noisy.yaml"
    scenario.parent.mkdir()
    scenario.write_text(text.replace("dynamics:\n", "dynamics:\n  noise: 0.05\n", 1), encoding="utf-8")
    for command in (["compare", str(scenario), str(scenario)], ["explain", str(scenario)]):
        assert cli.main([*command, "--runs", "1024", "--quiet", "--out", str(tmp_path / command[0])]) == 0
        assert "warning: " in capsys.readouterr().err


def test_a_missing_dependency_is_one_line_saying_how_to_install(tmp_path):
    """`python -m sim` from a checkout whose Python lacks a dependency (simpy here): no traceback."""
    import subprocess
    import sys

    code = ("import sys, runpy; sys.modules['simpy'] = None; sys.argv = ['sim', 'run', sys.argv[1], '--runs', '1024']; "
            "runpy.run_module('sim', run_name='__main__')")
    proc = subprocess.run([sys.executable, "-c", code, str(SMALL)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: sim needs the package 'simpy'") and "pip install ." in proc.stderr


@pytest.mark.parametrize("name, label", [("sweep", "points"), ("calibrate", "points"), ("backtest", "cases")])
def test_progress_over_steps_off_a_terminal_is_lines_with_progress_and_nothing_without(name, label, tmp_path, capsys):
    """--progress off a terminal prints a line at least at the end (calibrate printed nothing); without it, nothing."""
    assert cli.main([*WORKER_COMMANDS[name], "--out", str(tmp_path / "a"), "--quiet", "--progress"]) == 0
    lines = capsys.readouterr().err.splitlines()
    assert lines and all(line.startswith(f"{label}: ") for line in lines) and "(100 %)" in lines[-1]
    assert cli.main([*WORKER_COMMANDS[name], "--out", str(tmp_path / "b"), "--quiet"]) == 0
    assert capsys.readouterr().err == ""


def _sim_with_stderr(argv: list[str], cwd: Path, terminal: bool) -> tuple[int, str, str]:
    """`python -m sim ARGV` in a subprocess, stdout a pipe and stderr a terminal (a pty) or a
    pipe: (exit status, stdout, stderr), each stream captured on its own."""
    import pty
    import select

    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "100"}
    command = [sys.executable, "-m", "sim", *argv]
    if not terminal:
        proc = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
        return proc.returncode, proc.stdout, proc.stderr
    master, slave = pty.openpty()
    proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    err = b""
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 1 << 16)
                except OSError:  # EIO: the child closed the terminal's last writer
                    chunk = b""
                if not chunk:
                    break
                err += chunk
            elif proc.poll() is not None:
                break
        out = proc.stdout.read()
        proc.wait(timeout=300)
    finally:
        os.close(master)
        proc.stdout.close()
    return proc.returncode, out.decode(), err.decode(errors="replace")


def _many_actors(path: Path, n: int = 300) -> Path:
    """An actors CSV large enough (`ROUNDS_PROGRESS_AT`) for eum to show its rounds' progress on a terminal."""
    lines = ["Actor,Capability,Position,Salience"]
    lines += [f"a{k},{1 + k % 9},{(37 * k) % 101},{0.1 + (k % 9) / 10:.1f}" for k in range(n)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["run",  # the bar; the steps (sweep) and eum's own commands under slow
                                  pytest.param("sweep", marks=pytest.mark.slow),
                                  pytest.param("eum-runs", marks=pytest.mark.slow),
                                  pytest.param("eum-rounds", marks=pytest.mark.slow)])
def test_json_is_alone_on_stdout_and_progress_follows_one_rule(name, tmp_path):
    """One rule for progress, over replicates (run, compare, explain, eum's Monte Carlo) and over
    steps (sweep, calibrate and backtest's points or cases, eum's rounds): on stderr only, shown
    by default only where stderr is a terminal, never with --quiet (unless --progress); --json
    changes stdout, not progress. Progress over replicates was shown with --json on a terminal and
    progress over steps was not."""
    argv, label = {
        "run": (["run", str(SMALL), "--runs", "50000"], "replicates"),
        "sweep": (["sweep", str(SMALL), "--vary", "summit.bargaining.margin=0.05:0.15:2", "--runs", "1024"], "points"),
        "eum-runs": (["eum", str(ROOT / "tests" / "data" / "eum" / "ExampleActors.csv"), "--runs", "50000",
                      "--salience-sd", "0.05", "--seed", "1"], "replicates"),
        "eum-rounds": (["eum", str(_many_actors(tmp_path / "actors.csv")), "--rounds", "2"], "rounds"),
    }[name]
    cases = [(True, [], True), (False, [], False)]  # (stderr a terminal, more options, progress shown)
    if not name.startswith("eum"):  # eum has no --quiet
        cases.append((True, ["--quiet"], False))
    for k, (terminal, extra, shown) in enumerate(cases):
        out_dir = [] if name.startswith("eum") else ["--out", str(tmp_path / f"o{k}")]
        status, out, err = _sim_with_stderr([*argv, *out_dir, "--json", *extra], tmp_path, terminal)
        assert status == 0, err
        json.loads(out)  # stdout holds the JSON and nothing else
        assert (label in err) == shown, (terminal, extra, err)
        assert "Traceback" not in err


def test_a_ctrl_c_that_python_wrapped_into_another_exception_is_an_interruption(monkeypatch, capsys):
    """Python wraps a Ctrl-C landing in a class's __set_name__ (pydantic models run there while
    they are defined) into a RuntimeError: still exit 130, one line, no traceback (found by the
    slow start-up fuzz test in CI)."""
    from sim.errors import caused_by_interrupt

    def wrapped(texts, option="--set"):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as exc:
            raise RuntimeError("Error calling __set_name__ on 'PydanticDescriptorProxy'") from exc

    monkeypatch.setattr(sim.cli.run, "parse_overrides", wrapped)
    assert cli.main(["run", str(SMALL), "--runs", "1024", "--quiet"]) == 130
    assert capsys.readouterr().err.strip() == "interrupted: nothing written"
    assert not caused_by_interrupt(RuntimeError("a fault"))


def test_a_ctrl_c_inside_pydantics_schema_building_is_an_interruption(monkeypatch, capsys):
    """pydantic-core turns a Ctrl-C landing while it builds a model's validators into a SchemaError
    that names it only in its text ('Error building "literal" validator: KeyboardInterrupt'):
    exit 130, one line, no traceback (found by the slow start-up fuzz test in CI)."""
    from pydantic_core import SchemaError

    from sim.errors import caused_by_interrupt

    def wrapped(texts, option="--set"):
        raise SchemaError('Field "dist":\n  SchemaError: Error building "literal" validator:\n  KeyboardInterrupt: ')

    monkeypatch.setattr(sim.cli.run, "parse_overrides", wrapped)
    assert cli.main(["run", str(SMALL), "--runs", "1024", "--quiet"]) == 130
    assert capsys.readouterr().err.strip() == "interrupted: nothing written"
    assert not caused_by_interrupt(SchemaError("Error building a validator: a fault"))


class _InterruptedText(str):
    """A pattern whose text a Ctrl-C cuts short when pydantic-core reads it (PyO3's str())."""

    def __str__(self):
        raise KeyboardInterrupt


def _names_validator_built_during_a_ctrl_c():
    """What pydantic-core makes of sim's name pattern when a Ctrl-C lands as it reads it: no
    exception, the KeyboardInterrupt handed to sys.unraisablehook, and a validator for the
    pattern "<unprintable ... object>", which refuses every name."""
    from pydantic_core import SchemaValidator, core_schema

    return SchemaValidator(core_schema.str_schema(pattern=_InterruptedText("^[a-z][a-z0-9_]*$")))


def test_a_ctrl_c_pydantic_core_swallowed_while_building_a_validator_is_an_interruption(monkeypatch, capsys):
    """A Ctrl-C landing while pydantic-core builds a pattern validator is not raised: it goes to
    sys.unraisablehook, and the validator refuses every name, so the scenario was refused with
    'string should match pattern '<unprintable str object>'' and exit 2 (found by a start-up
    hammer, 1 in 200 Ctrl-Cs). The failure of code a swallowed Ctrl-C cut short is the
    interruption: exit 130, one line."""
    from pydantic_core import ValidationError

    from sim.errors import InputError, Problem

    def wrapped(texts, option="--set"):
        names = _names_validator_built_during_a_ctrl_c()
        try:
            names.validate_python("north")
        except ValidationError as exc:
            raise InputError(Problem(str(SMALL), "relations.trust.between.0", exc.errors()[0]["msg"], "north",
                                     True)) from None

    monkeypatch.setattr(sim.cli.run, "parse_overrides", wrapped)
    assert cli.main(["run", str(SMALL), "--runs", "1024", "--quiet"]) == 130
    assert capsys.readouterr().err.strip() == "interrupted: nothing written"
    monkeypatch.undo()
    monkeypatch.setattr(sim.cli.run, "parse_overrides", lambda texts, option="--set": _refused())
    assert cli.main(["run", str(SMALL), "--runs", "1024", "--quiet"]) == 2  # without a Ctrl-C: the input's fault
    assert capsys.readouterr().err == "error: --set: a fault\n"


def _refused():
    from sim.errors import InputError, Problem

    raise InputError(Problem("--set", "", "a fault"))


def test_a_ctrl_c_pydantic_core_swallowed_while_sim_loads_exits_130_at_once():
    """The same Ctrl-C while `python -m sim` loads its modules (pydantic builds sim's schema as it
    is imported, before the command line runs): the process ends there, 130, one line, before
    half-made validators refuse the scenario."""
    code = ("import sys; sys.argv[:1] = ['-m']; import sim, test_cli; test_cli._names_validator_built_during_a_ctrl_c(); "
            "print('went on', file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT / "tests", capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + str(ROOT / "tests")})
    assert (proc.returncode, proc.stderr) == (130, "interrupted\n")


def test_a_ctrl_c_while_sim_starts_to_load_is_handled_from_its_first_line(tmp_path):
    """`python -m sim` installs its Ctrl-C handler first thing: it imported `signal` for it, whose
    enums take some milliseconds to build, and a Ctrl-C there ended in runpy's traceback (found
    by a start-up hammer, 2 in 400). Here `signal` is a module that raises KeyboardInterrupt when
    first imported, as a Ctrl-C landing in it does: exit 130, one line."""
    (tmp_path / "signal.py").write_text(
        "import sys\nsys.path.remove(__file__.rpartition('/')[0])\nraise KeyboardInterrupt\n")
    proc = subprocess.run([sys.executable, "-m", "sim", "validate", str(SMALL)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(tmp_path) + os.pathsep + str(ROOT)})
    assert (proc.returncode, proc.stderr) == (130, "interrupted\n")


@pytest.mark.slow
def test_compiling_the_kernels_is_timed_apart_from_the_run_and_happens_once(tmp_path):
    """The first run with an empty numba cache compiles the kernels: that time is reported on
    its own, not in the run's seconds and replicates/s; the second run loads them and says
    nothing of it, with the same numbers. With two workers the parent compiles before the
    workers start, so they do not compile again."""
    env_cache = {"NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    ran = []
    for k in range(2):
        env = {**os.environ, **env_cache, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        proc = subprocess.run([sys.executable, "-m", "sim", "run", "scenarios/baseline.yaml", "--runs", "4096",
                               "--chunk-size", "1024", "--workers", "2", "--out", str(tmp_path / f"out{k}")],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        ran.append((proc.stdout, json.loads((tmp_path / f"out{k}" / "summary.json").read_text())))
    (first_text, first), (second_text, second) = ran
    assert first["workers"] == second["workers"] == 2  # 4 chunks: one chunk would run on 1 process
    assert first["compile_seconds"] > 0.5 and "s compiling the numba kernels (once" in first_text
    assert second["compile_seconds"] == 0 and "compiling the numba" not in second_text
    assert first["classes"] == second["classes"]


@pytest.mark.slow
@pytest.mark.parametrize("command", [
    ["compare", "scenarios/baseline.yaml", "scenarios/counterfactuals/no_g7_declaration.yaml"],
    ["explain", "scenarios/baseline.yaml"],
], ids=lambda c: c[0])
def test_compare_and_explain_time_compiling_apart_as_run_does(command, tmp_path):
    """A first compare or explain after installing printed some 7 s for work of under 1 s:
    compiling is reported on its own there too, with two workers as with one."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache"),
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, "-m", "sim", *command, "--runs", "2048", "--chunk-size", "1024",
                           "--workers", "2", "--out", str(tmp_path / "out")], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["workers"] == 2  # two chunks: with one (the default 8,192 a chunk) it ran on 1 process
    assert summary["compile_seconds"] > 0.5 and "s compiling the numba kernels (once" in proc.stdout
    assert summary["seconds"] < summary["compile_seconds"]


@pytest.mark.parametrize("text, value", [("4096", 4096), ("4_096", 4096), ("4.096e3", 4096), ("1e4", 10_000),
                                         ("4,096", 4096), ("1,000,000", 1_000_000)])  # as sim prints counts
def test_a_replicate_count_may_be_written_as_in_a_scenario_file(text, value):
    from sim.cli.common import count

    assert count(text) == value


@pytest.mark.parametrize("text", ["1.5", "1e-3", "1e400", "nan", "inf", "ten", "1,5", "10,00", "1,0000", "10k"])
def test_a_replicate_count_that_is_not_a_whole_number_is_refused_naming_the_option(capsys, text):
    """Naming the forms a count takes: "invalid count value" said only that it was not one."""
    assert cli.main(["run", str(SMALL), "--runs", text]) == 2
    assert (f"argument --runs: not a whole number: '{text}' (write e.g. 100000, 100_000, 1e5 or 100,000)"
            in capsys.readouterr().err)


@pytest.mark.parametrize("text, expect", [
    ("1e20", "argument --runs: too large: '1e20' (a count of 2**53 = 9,007,199,254,740,992 or more is not read"),
    ("9007199254740993.0", "argument --runs: too large: '9007199254740993.0'"),  # read as 2**53, silently
    ("100000000000000000000", "--runs: must be at most 1,000,000,000"),  # an integer literal is read exactly
])
def test_a_whole_number_too_large_to_read_exactly_is_called_too_large_not_fractional(capsys, text, expect):
    """1e20 is a whole number: "not a whole number" misled; it is too large to be read exactly."""
    assert cli.main(["run", str(SMALL), "--runs", text]) == 2
    assert expect in capsys.readouterr().err


def test_a_resumed_run_prints_no_time_left_from_its_first_step(monkeypatch):
    """Resuming 813 of 1,800 points: the first new point is not a tenth reached, so no line (it
    printed 'about 538 s left' from one point and the workers' start); later tenths are."""
    import io

    from sim.cli.progress import TextProgress

    clock = iter([0.0, 1.0, 1.5, 3.0])
    monkeypatch.setattr("sim.cli.progress.time.monotonic", lambda: next(clock))
    out = io.StringIO()
    lines = TextProgress("points", 1800, stream=out, resumed=813)
    lines(814)
    assert out.getvalue() == ""
    lines(900)
    assert out.getvalue() == "points: 900 of 1,800 (50 %), 2 s, about 16 s left\n"


def test_a_ctrl_c_python_could_not_raise_is_not_lost(tmp_path, capsys, monkeypatch):
    """A Ctrl-C landing in a weakref callback (importlib's module-lock cleanup while sim loads)
    is "ignored" by Python: printed as a traceback, and the run went on to write everything
    and exit 0. The command line records it and stops as for any Ctrl-C: nothing written, 130."""
    import gc
    import weakref

    import sim.results

    real = sim.results.read_inputs

    class Referent:
        pass

    def read_inputs_then_interrupted(path):
        def callback(_):
            raise KeyboardInterrupt

        obj = Referent()
        ref = weakref.ref(obj, callback)  # noqa: F841 - alive until obj goes
        del obj
        gc.collect()
        return real(path)

    monkeypatch.setattr(sim.results, "read_inputs", read_inputs_then_interrupted)
    out = tmp_path / "res"
    assert cli.main(["run", str(SMALL), "--runs", RUNS, "--out", str(out)]) == 130
    err = capsys.readouterr().err
    assert "Exception ignored" not in err and "Traceback" not in err and "nothing written" in err
    assert not out.exists()
    monkeypatch.undo()
    assert cli.main(["run", str(SMALL), "--runs", RUNS, "--out", str(out), "--quiet"]) == 0  # the flag is per command


def test_a_ctrl_c_whose_keyboardinterrupt_code_swallowed_without_a_word_is_not_lost(tmp_path):
    """A Ctrl-C whose KeyboardInterrupt some code swallows without a word (a bare `except`, a C
    API that clears errors: not a weakref callback, which reaches the unraisable hook) while a
    run loads its modules was lost: the run went on to the end and exited 0, silently (a
    start-up hammer: about 1 in 200 signals). Under `python -m sim` the C-level handler
    records it: the run stops before its first replicate, 130, nothing written."""
    out = tmp_path / "res"
    code = ("import sys; sys.argv[:1] = ['-m']; import sim, os, signal, sim.results, sim.cli; "
            "signal.signal(signal.SIGINT, signal.default_int_handler); real = sim.results.read_inputs\n"
            "def swallowing(path):\n"
            "    try:\n"
            "        os.kill(os.getpid(), signal.SIGINT)\n"
            "    except BaseException:\n"
            "        pass\n"
            "    return real(path)\n"
            "sim.results.read_inputs = swallowing\n"
            f"sys.exit(sim.cli.main(['run', {str(SMALL)!r}, '--runs', {RUNS!r}, '--out', {str(out)!r}, '--quiet']))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 130, proc.stderr
    assert proc.stderr == "stopping: keeping what finished\ninterrupted before any replicate finished: nothing written\n"
    assert not out.exists()


def _swallowing_sim(patch: str, argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """Run the command line as `python -m sim` would (its C-level signal record), with the
    callable at dotted `patch` (module.attribute) replaced by one that swallows a Ctrl-C it
    sends itself without a word, as some library code does, and then calls the real one."""
    module, _, name = patch.rpartition(".")
    code = (f"import sys; sys.argv[:1] = ['-m']; import sim, os, signal, importlib, sim.cli; "
            f"signal.signal(signal.SIGINT, signal.default_int_handler); owner = importlib.import_module({module!r}); "
            f"real = getattr(owner, {name!r})\n"
            "def swallowing(*args, **kwargs):\n"
            "    try:\n"
            "        os.kill(os.getpid(), signal.SIGINT)\n"
            "    except BaseException:\n"
            "        pass\n"
            "    return real(*args, **kwargs)\n"
            f"setattr(owner, {name!r}, swallowing)\n"
            f"sys.exit(sim.cli.main({argv!r}))")
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


TOO_LATE = ("interrupted: too late to stop the command, which had done its work: what it printed and wrote is "
            "whole\n")


@pytest.mark.slow  # a subprocess and its signals or workers: seconds; CI runs it (-m slow)
def test_a_ctrl_c_swallowed_where_no_stop_block_listens_still_exits_130(tmp_path):
    """A swallowed Ctrl-C (as above) where no `stop_on_interrupt` block reads the record
    (`validate`) let the command end with status 0, as if no one had asked it to stop: its work
    is whole, so it says so, and exits 130. A run's writing is inside its block now, whose handler
    hears the Ctrl-C first (nothing is swallowed): the whole result is kept, and the run ends as
    any command whose Ctrl-C came after its work was done: whole, said so, exit 130."""
    proc = _swallowing_sim("sim.loading.load_scenario", ["validate", str(SMALL)], tmp_path)
    assert proc.returncode == 130, proc.stderr
    assert proc.stdout == f"ok: {SMALL}\n" and proc.stderr == TOO_LATE
    out = tmp_path / "res"
    proc = _swallowing_sim("sim.plots.plot_fan", ["run", str(SMALL), "--runs", RUNS, "--out", str(out), "--quiet"],
                           tmp_path)
    assert proc.returncode == 130, proc.stderr
    assert proc.stderr == "stopping: keeping what finished\n" + TOO_LATE
    assert json.loads((out / "summary.json").read_text())["runs"] == int(RUNS)  # whole, kept


def test_a_command_without_a_ctrl_c_under_the_signal_record_exits_0(tmp_path):
    """The record alone (no signal) changes nothing: the same harness without the swallowing."""
    code = (f"import sys; sys.argv[:1] = ['-m']; import sim, sim.cli; "
            f"sys.exit(sim.cli.main(['validate', {str(SMALL)!r}]))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert (proc.returncode, proc.stderr) == (0, "")


def _validate_with_election(tmp_path: Path, date: str, capsys) -> tuple[Path, str]:
    """(the file, validate's stderr) for the small scenario with north holding an election on `date`."""
    text = SMALL.read_text(encoding="utf-8")
    changed = text.replace("    resolve:", f"    elections: [{{name: vote, date: {date}, audience_cost: 0.3}}]\n    resolve:", 1)
    path = tmp_path / f"{date}.yaml"
    path.write_text(changed, encoding="utf-8")
    assert cli.main(["validate", str(path)]) == 0
    return path, capsys.readouterr().err


def test_an_election_before_the_calendar_starts_gets_a_note(tmp_path, capsys):
    """An election held before calendar.start changes nothing (its audience cost is gone after the
    vote), like one whose window opens after the summit: a note says so (a year typed wrong, say);
    one on the start day itself is in force that day and gets none."""
    for date, noted in (("2019-12-31", True), ("2020-01-01", False)):
        path, err = _validate_with_election(tmp_path, date, capsys)
        assert (f"note: {path}: agents.north.elections.0.date: the vote is before calendar.start (2020-01-01), "
                f"so its audience cost is gone before the calendar starts: it changes nothing (got '{date}')\n"
                == err) == noted, err


def _veto_with_trust(tmp_path: Path, entries: str) -> Path:
    """small.yaml with the patron as a veto player that gains from the deal, and `entries` (YAML
    list items) added to the trust list: its acceptance turns on the discount of promised gains."""
    text = SMALL.read_text(encoding="utf-8").replace("summit:\n", "roles: {veto: [patron]}\nsummit:\n", 1)
    text = text.replace("  trust: {between: [north, south], initial: {dist: uniform, low: 0.3, high: 0.7}}\n",
                        "  trust:\n    - {between: [north, south], initial: {dist: uniform, low: 0.3, high: 0.7}}\n"
                        + entries, 1)
    # the patron gains 0.8 from the trade deal, discounted: it signs only if it trusts the parties
    text = text.replace("    resolve: 0.9\n", "    resolve: 0.9\n    walk_away: 0.5\n", 1)
    text = text.replace("      trade: {position: 0.0, salience: 0.8}\n", "      trade: {position: 1.0, salience: 0.8}\n", 1)
    path = tmp_path / f"veto{len(list(tmp_path.glob('veto*.yaml')))}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_veto_players_missing_trust_entry_counts_as_full_trust_in_its_discount(tmp_path, capsys):
    """A veto player's promised gains are discounted by its mean trust with the parties; a party
    without an entry counts as full trust there, as missing entries do everywhere (README, "What
    the model leaves out"). It was left out of the mean, so one entry at 0.1 toward north and none
    toward south ran as distrust of both (P 0.0 where full trust toward south gives 0.89), while
    the note said full trust. The forecast now is that of an explicit full-trust entry."""
    partial = _veto_with_trust(tmp_path, "    - {between: [patron, north], initial: 0.1}\n")
    assert cli.main(["validate", str(partial)]) == 0
    assert capsys.readouterr().err == (
        f"note: {partial}: roles.veto.0: has no relations.trust entry with south: read as full trust (in the "
        "pressure weights and the discount of promised gains) (got 'patron')\n")
    low = _veto_with_trust(tmp_path, "    - {between: [patron, north], initial: 0.1}\n"
                                     "    - {between: [patron, south], initial: 0.1}\n")
    full = _veto_with_trust(tmp_path, "    - {between: [patron, north], initial: 0.1}\n"
                                      "    - {between: [patron, south], initial: 1.0}\n")
    counts = {}
    for name, path in (("partial", partial), ("low", low), ("full", full)):
        out = tmp_path / name
        assert cli.main(["run", str(path), "--runs", "8192", "--seed", "3", "--out", str(out), "--quiet"]) == 0
        counts[name] = json.loads((out / "summary.json").read_text())["classes"]
    capsys.readouterr()
    p = {name: c["substantive"]["p"] + c["breakthrough"]["p"] for name, c in counts.items()}
    assert p["full"] - p["low"] > 0.5, p  # the discount decides here
    # the same replicates as the explicit entry, bar the pressure weights: the missing pair moves no one
    assert abs(p["partial"] - p["full"]) < 4 * math.sqrt(0.25 * 2 / 8192), p


def test_a_mediator_without_trust_toward_the_parties_gets_a_note_on_the_pressure_weights_only(tmp_path, capsys):
    """A mediator decides nothing, so no promised gain of its own is discounted: its note names the
    pressure weights only, where a veto player's also names the discount of promised gains."""
    text = SMALL.read_text(encoding="utf-8").replace("summit:\n", "roles: {mediators: [{agent: patron, trust: 0.2}]}\n"
                                                     "summit:\n", 1)
    path = tmp_path / "mediator.yaml"
    path.write_text(text, encoding="utf-8")
    assert cli.main(["validate", str(path)]) == 0
    assert capsys.readouterr().err == (f"note: {path}: roles.mediators.0.agent: has no relations.trust entry with "
                                       "north, south: read as full trust (in the pressure weights) (got 'patron')\n")


def test_a_mediator_that_closes_no_trust_gap_and_removes_no_margin_gets_a_note(tmp_path, capsys):
    """A mediator acts on the summit day only through its two shares, `trust` and `margin`, both 0
    by default: one written as `{agent: NAME}` alone does nothing as a mediator, and the forecast
    does not say so. validate notes it; a mediator with either share above 0 gets no such note."""
    trusted = SMALL.read_text(encoding="utf-8").replace("trust: {between: [north, south],",
                                                        "trust: {between: [north, south, patron],", 1)
    path = tmp_path / "mediator.yaml"
    for shares, noted in (("", True), (", trust: 0", True), (", margin: 0.1", False), (", trust: 0.2", False)):
        path.write_text(trusted.replace("summit:\n", f"roles: {{mediators: [{{agent: patron{shares}}}]}}\nsummit:\n", 1),
                        encoding="utf-8")
        assert cli.main(["validate", str(path)]) == 0
        err = capsys.readouterr().err
        assert (err == f"note: {path}: roles.mediators.0: closes no share of the trust gap and removes no share of "
                       "the margin (its trust and margin are 0, their defaults), so as a mediator it changes nothing "
                       "(got 'patron')\n") == noted, (shares, err)
        assert noted or err == ""


def test_a_weight_of_an_optional_party_and_the_walk_away_of_a_non_decider_get_a_note(tmp_path, capsys):
    """The Nash product that picks the deal is over the required parties' surpluses alone, and only a
    party or a veto player weighs a package against walking away: a `summit.weights` entry for an
    optional party, or a `walk_away` of an outside agent, changes no replicate (checked: the joint
    table of the comparison is diagonal). validate and every command say so in a note, as for other
    settings that change nothing; a required party's weight and a veto player's walk_away get none."""
    text = SMALL.read_text(encoding="utf-8").replace("  parties: [north, south]\n",
                                                     "  parties: [north, south]\n  required: [north]\n"
                                                     "  weights: {north: 2, south: 5}\n", 1)
    text = text.replace("    resolve: 0.9\n", "    resolve: 0.9\n    walk_away: 0.2\n", 1)  # the patron's
    path = tmp_path / "optional.yaml"
    path.write_text(text, encoding="utf-8")
    assert cli.main(["validate", str(path)]) == 0
    err = capsys.readouterr().err
    assert err == (f"note: {path}: summit.weights.south: is the Nash weight of south, an optional party (not in "
                   "summit.required): the Nash product that picks the deal is over the required parties' surpluses "
                   "alone, so it changes nothing (got 5.0)\n"
                   f"note: {path}: agents.patron.walk_away: is what no deal gains or costs patron, which is neither a "
                   "summit party nor a veto player: only they weigh a package against walking away, so it changes "
                   "nothing (got 0.2)\n")
    out = tmp_path / "c"
    assert cli.main(["compare", str(path), str(path), "--set-b", "summit.weights.south=0.1",
                     "--set-b", "agents.patron.walk_away=-0.5", "--runs", RUNS, "--out", str(out), "--quiet"]) == 0
    assert "summit.weights.south: is the Nash weight of south" in capsys.readouterr().err
    joint = np.array(json.loads((out / "summary.json").read_text())["joint"]["counts"])
    assert np.array_equal(joint, np.diag(np.diag(joint)))
    # north's weight (a required party) and the patron's walk_away as a veto player are read: no note
    path.write_text(text.replace(", south: 5}", "}").replace("summit:\n", "roles: {veto: [patron]}\nsummit:\n", 1)
                    .replace("trust: {between: [north, south],", "trust: {between: [north, south, patron],", 1),
                    encoding="utf-8")
    assert cli.main(["validate", str(path)]) == 0
    assert capsys.readouterr().err == ""


def test_a_rubric_condition_that_no_anchor_meets_gets_a_note(tmp_path, capsys):
    """A level condition is met by a package's level on its issue, and every level is one of the
    issue's anchors: a condition that no anchor meets (anchors edited after the rubric, a level
    between two anchors) never holds, and its class reads as a forecast of 0 with nothing saying
    why. validate says so for each such condition, wherever it is nested; met ones get no note."""
    text = SMALL.read_text(encoding="utf-8").replace(
        "  breakthrough: [{issue: land, at_least: 1.0}]\n",
        "  breakthrough: [{issue: land, between: [0.6, 0.9]}]\n", 1).replace(
        "{issue: trade, at_least: 1.0}]\n",
        "{issue: trade, at_least: 1.0}, {all: [{issue: land, at_least: 0.5}, {issue: trade, at_most: -0.0}, "
        "{issue: trade, between: [0.2, 0.8]}]}]\n", 1)
    path = tmp_path / "rubric.yaml"
    path.write_text(text, encoding="utf-8")
    assert cli.main(["validate", str(path)]) == 0
    assert capsys.readouterr().err == (
        f"note: {path}: outcome.breakthrough.0: no anchor of land (0, 0.5, 1) lies in [0.6, 0.9], so no package "
        "meets this condition: it never holds\n"
        f"note: {path}: outcome.substantive.2.all.2: no anchor of trade (0, 1) lies in [0.2, 0.8], so no package "
        "meets this condition: it never holds\n")
    out = tmp_path / "r"
    assert cli.main(["run", str(path), "--runs", RUNS, "--out", str(out), "--quiet"]) == 0
    assert "outcome.breakthrough.0: no anchor of land" in capsys.readouterr().err
    assert json.loads((out / "summary.json").read_text())["classes"]["breakthrough"]["count"] == 0


def test_a_sweep_of_an_optional_partys_weight_says_it_changes_nothing(tmp_path, capsys):
    """A sweep over a field the summit never reads (an optional party's Nash weight, an outside
    agent's walk_away) gives points that differ by nothing: a note names the --vary option."""
    text = SMALL.read_text(encoding="utf-8").replace("  parties: [north, south]\n",
                                                     "  parties: [north, south]\n  required: [north]\n", 1)
    path = tmp_path / "optional.yaml"
    path.write_text(text, encoding="utf-8")
    assert cli.main(["sweep", str(path), "--vary", "summit.weights.south=1:3:2", "--vary",
                     "agents.patron.walk_away=-0.2:0.2:2", "--runs", "1024", "--out", str(tmp_path / "s"),
                     "--quiet"]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note:")]
    assert any(line.startswith("note: --vary summit.weights.south=1:3:2: summit.weights.south is the Nash weight "
                               "of south, an optional party") and line.endswith("so varying it changes nothing")
               for line in notes), notes
    assert any(line.startswith("note: --vary agents.patron.walk_away=-0.2:0.2:2: agents.patron.walk_away is what "
                               "no deal gains or costs patron") for line in notes), notes


def test_an_election_whose_window_opens_after_the_summit_gets_a_note(tmp_path, capsys):
    """An election whose audience cost starts after the latest summit date changes nothing: a note
    says so; one a month after the summit, within its 60-day window, is meant and gets none."""
    for date, noted in (("2021-01-01", True), ("2020-05-01", False)):
        _, err = _validate_with_election(tmp_path, date, capsys)
        assert ("elections.0: its audience cost starts 60 days before the vote, 2020-11-02, after the latest "
                "summit date (2020-04-01): it changes nothing" in err) == noted, err


def test_an_election_window_a_derived_file_shortened_is_blamed_on_that_file(tmp_path, capsys):
    """The note on a window that opens after the summit is about the vote's date and its window:
    where a file extending the base wrote `window_days`, the note names that file, not the base,
    which wrote a window that was meant."""
    base, _ = _validate_with_election(tmp_path, "2020-05-01", capsys)  # within its 60 days: no note
    derived = tmp_path / "short.yaml"
    derived.write_text(f"extends: {base.name}\nname: short\nset: {{agents.north.elections.0.window_days: 10}}\n",
                       encoding="utf-8")
    assert cli.main(["validate", str(derived)]) == 0
    (note,) = [line for line in capsys.readouterr().err.splitlines() if "audience cost starts" in line]
    assert note.startswith(f"note: {derived}: agents.north.elections.0: its audience cost starts 10 days"), note


def test_the_readme_says_what_quiet_suppresses_and_what_it_keeps(tmp_path, capsys):
    """README, "Commands": `--quiet` has its own line among the shared options, and it says what
    the commands do: nothing on stdout (--json still prints), the result still written, and the
    note:/warning: lines (and --progress) still on stderr."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    line = " ".join(next((item.split("\n\n")[0] for item in readme.split("\n- ") if item.startswith("`--quiet`")),
                         "").split())
    for words in ("nothing on stdout", "`--json`", "still written", "`note:`", "`warning:`", "stderr", "`--progress`"):
        assert words in line, (words, line)
    b = tmp_path / "b.yaml"
    b.write_text(SMALL.read_text())  # the same scenario: compare warns that every B - A is 0
    assert cli.main(["compare", str(SMALL), str(b), "--runs", "1024", "--quiet", "--progress",
                     "--out", str(tmp_path / "c")]) == 0
    out, err = capsys.readouterr()
    assert out == "" and "warning: " in err and "replicates: 2,048 of 2,048 (100 %)" in err, err
    assert (tmp_path / "c" / "summary.json").exists()
    assert cli.main(["run", str(SMALL), "--runs", "1024", "--quiet", "--json", "--out", str(tmp_path / "r")]) == 0
    assert json.loads(capsys.readouterr().out)["runs"] == 1024


def test_a_run_of_one_replicate_says_1_replicate(tmp_path, capsys):
    """Counts in run's output take the noun's number ('1 replicate', not '1 replicates')."""
    assert cli.main(["run", str(SMALL), "--runs", "1", "--seed", "1", "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "1 replicate, seed entropy 1," in out and not re.search(r"(?<![\d,])1 replicates", out)


def test_quiet_says_in_its_help_what_it_keeps(capsys):
    assert cli.main(["run", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--quiet print nothing on stdout and no progress (unless --progress); the result is still written" in text
