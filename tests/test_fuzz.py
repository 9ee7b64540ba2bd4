"""Fuzzing the promises: hostile YAML, flags, paths and signals never give a traceback, a wrong
exit status, a touched file outside the target, a half-written visible result or a lost sweep point.

The fast part runs by default; the long form (more examples, every signal at random moments of a
run and of a sweep) is marked slow.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import before_sims_code, read_columns, without_site_interrupted
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim import InputError, Scenario, parse_scenario
from sim.cli import main
from sim.model import CLASSES
from sim.montecarlo import run
from sim.ownership import MANIFEST, directory_owner
from sim.yamlfile import load_yaml

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "tests" / "data" / "small.yaml"
SMALL_TEXT = SMALL.read_text()
ENV = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
FUZZ = settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])


# --- Hostile YAML ------------------------------------------------------------------------------

HOSTILE_SCALARS = st.sampled_from([
    "1e400", "-1e400", "1e-400", "5e-324", ".nan", "-.inf", ".inf", "9" * 5000, "-0", "0x7fffffffffffffff",
    "0o777", "1_000_000", "1:30", "0b11", "010", "1e6", "1e-3", "true", "no", "on", "~", "null", "''",
    "2016-02-30", "2016-13-01", "0000-00-00", "9999-12-31", "2016-06-01 25:61:00", "1999-12-31T23:59:60Z",
    "!!binary aGVsbG8=", "!!python/object/apply:os.system [echo]", "!!set {a, b}", "!!float abc", "!!int 1.5",
    "'\u202eevil'", "\"\\u0000\"", "𝔰𝔦𝔪", "ｎａｍｅ", "\"\\x00\\xff\"", "|\n  block\n", ">-\n  folded\n",
    "&a x", "*a", "*undefined", "<<: *a", "? [1, 2]", "[", "]", "{", "}", "- ", ": ", "%YAML 1.1", "---", "...",
])
KEYS = st.sampled_from(["name", "runs", "capability", "agents", "a", "b", "<<", "? x", "1", "true", "ä", "k" * 200])


@st.composite
def hostile_yaml(draw) -> str:
    """YAML text: nested mappings and lists in block or flow style, with anchors, aliases, merge keys,
    duplicate keys, deep nesting and hostile scalars; often invalid, sometimes a bomb."""
    anchors: list[str] = []

    def node(depth: int) -> str:
        kind = draw(st.sampled_from(["scalar", "scalar", "alias", "list", "map", "deep"] if depth < 4 else ["scalar"]))
        if kind == "scalar":
            return draw(HOSTILE_SCALARS | st.floats(allow_nan=False).map(repr) | st.text(max_size=8).map(json.dumps))
        if kind == "alias" and anchors:
            return "*" + draw(st.sampled_from(anchors))
        if kind == "deep":
            n = draw(st.integers(1, 200))
            return "[" * n + draw(HOSTILE_SCALARS) + "]" * n
        anchor = ""
        if draw(st.booleans()):
            anchors.append(f"a{len(anchors)}")
            anchor = f"&{anchors[-1]} "
        items = [node(depth + 1) for _ in range(draw(st.integers(0, 9)))]
        if kind == "list":
            return anchor + "[" + ", ".join(items) + "]"
        keys = [draw(KEYS) for _ in items]
        return anchor + "{" + ", ".join(f"{k}: {v}" for k, v in zip(keys, items)) + "}"

    lines = [f"{draw(KEYS)}: {node(0)}" for _ in range(draw(st.integers(1, 6)))]
    if draw(st.booleans()):
        lines.append(draw(st.sampled_from(lines)))  # a duplicate key
    return "\n".join(lines) + "\n"


@st.composite
def mutated_scenario(draw) -> str:
    """small.yaml with one to three hostile edits: a number, a date or a key replaced, a line
    repeated, an alias bomb appended."""
    text = SMALL_TEXT
    for _ in range(draw(st.integers(1, 3))):
        edit = draw(st.sampled_from(["number", "date", "duplicate", "bomb", "key", "scalar"]))
        if edit == "number":
            spots = [m.span() for m in re.finditer(r"(?<=[ :\[{,])-?\d+(\.\d+)?(?=[,}\]\n])", text)]
            a, b = draw(st.sampled_from(spots))
            text = text[:a] + draw(HOSTILE_SCALARS | st.sampled_from(["0", "1", "0.5", "-1", "1e9", "1e-9", "2"])) + text[b:]
        elif edit == "date":
            spots = [m.span() for m in re.finditer(r"\d{4}-\d{2}-\d{2}", text)]
            a, b = draw(st.sampled_from(spots))
            y, m, d = draw(st.integers(0, 9999)), draw(st.integers(0, 13)), draw(st.integers(0, 32))
            text = text[:a] + f"{y:04d}-{m:02d}-{d:02d}" + text[b:]
        elif edit == "duplicate":
            lines = text.splitlines()
            k = draw(st.integers(0, len(lines) - 1))
            text = "\n".join(lines[: k + 1] + [lines[k]] + lines[k + 1:]) + "\n"
        elif edit == "bomb":
            n = draw(st.integers(2, 12))
            text += "x0: &x0 [a, a, a, a, a, a, a, a, a]\n" + "".join(
                f"x{k}: &x{k} [{', '.join([f'*x{k - 1}'] * 9)}]\n" for k in range(1, n))
        elif edit == "key":
            text = text.replace(draw(st.sampled_from(["capability", "resolve", "runs", "seed", "name", "probability"])),
                                draw(KEYS), 1)
        else:
            text = text.replace("resolve: 0.5", f"resolve: {draw(HOSTILE_SCALARS)}", 1)
    return text


def check_text(text: str) -> Scenario | None:
    """The promise for any text: a Scenario, or an InputError of one-line problems; nothing else."""
    try:
        load_yaml(text, "fuzz.yaml")
    except InputError as exc:
        assert exc.problems and all("\n" not in str(p) for p in exc.problems)
    try:
        return parse_scenario(text, "fuzz.yaml")
    except InputError as exc:
        assert exc.problems
        for p in exc.problems:
            assert str(p).startswith("fuzz.yaml") or p.source in ("--set",), str(p)
        return None


@FUZZ
@given(hostile_yaml())
def test_hostile_yaml_is_a_scenario_or_an_input_error(text):
    """Aliases, nesting, huge and tiny numbers, impossible dates, duplicate keys, unicode: only InputError."""
    started = time.perf_counter()
    check_text(text)
    assert time.perf_counter() - started < 5


@settings(max_examples=40, deadline=None)
@given(mutated_scenario())
def test_a_hostile_edit_of_a_scenario_validates_and_runs_or_is_refused(text):
    """A scenario that survives validation after hostile edits runs to finite, complete counts."""
    scenario = check_text(text)
    if scenario is None:
        return
    result = run(scenario, runs=1024, seed=1, chunk_size=1024)
    assert result.counts.sum() == 1024 and len(result.counts) == len(CLASSES)
    assert np.isfinite(result.trajectory).all()


# --- Hostile flags and paths -----------------------------------------------------------------------

OUT_KINDS = ("new", "user_dir", "file", "under_file", "proc", "empty_string", "other_command", "same_command",
             "symlink_to_user_dir", "long_name", "dot", "empty_dir")
FLAG_VALUES = {
    "--runs": ["0", "-5", "1e10", "2.5", "1024", "2048", "x", "99999999999999999999999", " 7"],  # 1e9 is a valid count: an hour's run
    "--seed": ["-1", "0", "1", "1.5", "18446744073709551616", "nan"],
    "--chunk-size": ["0", "1", "1024", "-1", "1e3"],
    "--precision": ["0", "0.5", "nan", "inf", "0.01", "-0.1"],
    "--set": ["agents.north.resolve=0.7", "x=1", "=", "agents.north.resolve=[", "monte_carlo.runs=true",
              "calendar.start=2016-02-30", "agents.north.capability=1e400", "agents=1", "agents.north=~",
              "summit.date=9999-12-31"],
    "--max-memory": ["1", "10MiB", "lots", "1e99", "0"],
    "--max-disk": ["1KB", "-1", "1TiB"],
}


def make_out(kind: str, base: Path) -> str:
    """An --out of the given kind under `base` (which holds the user's other files)."""
    if kind == "new":
        return str(base / "results" / "new")
    if kind == "user_dir":
        (base / "thesis" / "figures").mkdir(parents=True, exist_ok=True)
        (base / "thesis" / "summary.json").write_text("{}")
        return str(base / "thesis")
    if kind == "file":
        return str(base / "notes.txt")
    if kind == "under_file":
        return str(base / "notes.txt" / "out")
    if kind == "proc":
        return "/proc/sim-fuzz/out"
    if kind == "empty_string":
        return ""
    if kind in ("other_command", "same_command"):
        out = base / kind
        if not out.exists():
            from sim.ownership import ResultDir
            with ResultDir(out, "compare" if kind == "other_command" else "run") as target:
                (target.tmp / "summary.json").write_text("{}")
                target.commit()
        return str(out)
    if kind == "symlink_to_user_dir":
        make_out("user_dir", base)
        link = base / "link"
        if not link.exists():
            link.symlink_to(base / "thesis")
        return str(link)
    if kind == "long_name":
        return str(base / ("x" * 300))
    if kind == "dot":
        return "."
    (base / "empty").mkdir(exist_ok=True)
    return str(base / "empty")


def snapshot(root: Path, skip: Path | None) -> dict[str, bytes]:
    """Every file under `root` but those under `skip`, with its content."""
    out = {}
    for p in sorted(root.rglob("*")):
        if skip is not None and (p == skip or skip in p.parents):
            continue
        if p.is_file() and not p.is_symlink():
            out[str(p.relative_to(root))] = p.read_bytes()
    return out


@st.composite
def hostile_argv(draw) -> tuple[list[str], str]:
    command = draw(st.sampled_from(["run", "run", "validate", "sweep", "compare"]))
    argv = {"run": ["run", str(SMALL)], "validate": ["validate", str(SMALL)],
            "sweep": ["sweep", str(SMALL), "--vary", draw(st.sampled_from(
                ["summit.bargaining.margin=0.05:0.15:2", "summit.bargaining.margin=0.15:0.05:2", "nope=0:1:2",
                 "summit.bargaining.margin=0:1", "agents.north.resolve.mean=0.2:0.4:2"]))],
            "compare": ["compare", str(SMALL), str(SMALL)]}[command]
    if command != "validate":
        options = draw(st.lists(st.sampled_from(sorted(FLAG_VALUES)), max_size=3, unique=True))
        if command in ("sweep", "compare"):
            options = [o for o in options if o not in ("--precision", "--chunk-size")]
        for name in options:
            argv += [name, draw(st.sampled_from(FLAG_VALUES[name]))]
        if "--runs" not in options:
            argv += ["--runs", "1024"]
        argv += draw(st.lists(st.sampled_from(["--quiet", "--json", "--force", "--fresh" if command == "sweep"
                                                else "--quiet"]), max_size=2, unique=True))
    return argv, draw(st.sampled_from(OUT_KINDS))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_argv())
def test_hostile_flags_and_paths_exit_0_1_or_2_and_touch_nothing_outside_the_target(case):
    """Any mix of bad values and --out targets: exit 0, 1 or 2, `error:` lines only, no traceback,
    no file outside the target changed, and the target sim's whole result or as it was."""
    argv, kind = case
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        (base / "notes.txt").write_text("the user's notes")
        cwd = os.getcwd()
        os.chdir(base)
        try:
            out = make_out(kind, base)
            if argv[0] != "validate":
                argv = [*argv, "--out", out]
            target = (base / out).resolve() if out not in ("", ".") else None
            before = snapshot(base, target)
            err, stdout = io.StringIO(), io.StringIO()
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(stdout):
                status = main(argv)
            after = snapshot(base, target)
        finally:
            os.chdir(cwd)
        text = err.getvalue()
        assert status in (0, 1, 2), (argv, status, text)
        assert "Traceback" not in text
        if status == 2:
            assert all(line.startswith(("error: ", "warning: ")) for line in text.splitlines()), text
        assert before == after, (argv, kind, text)
        if status == 0 and argv[0] in ("run", "compare") and target is not None:
            assert directory_owner(target) == argv[0]
            assert json.loads((target / "summary.json").read_text())
        leftovers = [p.name for p in base.rglob(".*") if p.name != MANIFEST]
        assert not leftovers, leftovers


# --- Signals at random moments ---------------------------------------------------------------------

SIGNALS = {"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM, "SIGKILL": signal.SIGKILL}


def start(args: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "sim", *args], cwd=cwd, env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def check_run_result(out: Path) -> None:
    """A visible result is whole: summary, manifest and every column agree on the replicates."""
    assert directory_owner(out) == "run"
    summary = json.loads((out / "summary.json").read_text())
    for name, column in read_columns(out).items():
        assert len(column) == summary["runs"], name
    assert sum(e["count"] for e in summary["classes"].values()) == summary["runs"]


def test_only_an_interrupted_pth_line_is_taken_for_the_interpreters_own():
    """`without_site_interrupted` strips site's report of a .pth line stopped by Ctrl-C, and
    nothing else: not a report of another error, not a traceback of sim's."""
    site = ("Error processing line 1 of /v/site-packages/__editable__.sim-0.1.0.pth:\n\n"
            "  Traceback (most recent call last):\n  KeyboardInterrupt\n\n"
            "  RuntimeError: Error calling __set_name__ on 'cached_property' instance\n\n"
            "Remainder of file ignored\n")
    assert without_site_interrupted(site + "note: done\n") == "note: done\n"
    other = site.replace("KeyboardInterrupt", "ImportError: no module")
    assert without_site_interrupted(other) == other
    ours = "Traceback (most recent call last):\n  File \"/x/sim/cli.py\"\nKeyboardInterrupt\n"
    assert without_site_interrupted(ours) == ours


def signal_a_run(name: str, delay: float, tmp_path: Path) -> None:
    """Signal `run` after `delay` seconds; then a second run in the same folder cleans up after it."""
    out = tmp_path / "res" / "a"
    proc = start(["run", str(SMALL), "--runs", "3000000", "--seed", "2", "--out", str(out), "--quiet"], tmp_path)
    time.sleep(delay)
    proc.send_signal(SIGNALS[name])
    _, err = proc.communicate(timeout=120)
    err = without_site_interrupted(err)
    if before_sims_code(name, proc.returncode, err):
        assert not (tmp_path / "res").exists()
        return
    assert "Traceback" not in err, err
    if name == "SIGKILL":
        assert proc.returncode in (-signal.SIGKILL, 0)
    else:
        assert proc.returncode in (130, 0), err
    if out.exists():
        check_run_result(out)
    visible = sorted(p.name for p in (tmp_path / "res").iterdir() if not p.name.startswith(".")) \
        if (tmp_path / "res").exists() else []
    assert visible in ([], ["a"])
    again = start(["run", str(SMALL), "--runs", "1024", "--out", str(tmp_path / "res" / "b"), "--quiet"], tmp_path)
    _, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    hidden = [p.name for p in (tmp_path / "res").iterdir() if p.name.startswith(".")]
    assert not hidden, hidden  # the killed run's partial directory and lock are gone


def committed(db: Path) -> set[int]:
    if not db.exists():
        return set()
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return {p for (p,) in con.execute("SELECT point FROM results")}
    except sqlite3.DatabaseError:
        return set()
    finally:
        con.close()


SWEEP = ["sweep", str(SMALL), "--vary", "summit.bargaining.margin=0.0:0.2:3", "--vary",
         "relations.trust.initial=0.3:0.6:3", "--runs", str(16 * 1024), "--seed", "3", "--quiet"]


def signal_a_sweep(name: str, delay: float, tmp_path: Path) -> None:
    """Signal a sweep after `delay` seconds: every point committed before it is kept, once, and
    the rerun completes the sweep."""
    out = tmp_path / "sw"
    proc = start([*SWEEP, "--out", str(out)], tmp_path)
    time.sleep(delay)
    kept = committed(out / "sweep.sqlite")
    proc.send_signal(SIGNALS[name])
    _, err = proc.communicate(timeout=120)
    assert "Traceback" not in err, err
    assert proc.returncode in ((-signal.SIGKILL, 0) if name == "SIGKILL" else (130, 0)), err
    assert kept <= committed(out / "sweep.sqlite")
    rerun = start([*SWEEP, "--out", str(out)], tmp_path)
    _, err = rerun.communicate(timeout=180)
    assert rerun.returncode == 0, err
    con = sqlite3.connect(out / "sweep.sqlite")
    try:
        assert con.execute("SELECT point, COUNT(*) FROM results GROUP BY point").fetchall() == [(p, 1) for p in range(9)]
    finally:
        con.close()
    assert directory_owner(out) == "sweep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sw"]


@pytest.mark.slow  # 9 s of subprocesses; test_hardening's SIGTERM during a run stays in the default run
@pytest.mark.parametrize("name, delay", [("SIGTERM", 1.8), ("SIGKILL", 2.2)])
def test_a_signal_during_a_run_leaves_a_whole_result_or_none(name, delay, tmp_path):
    """SIGTERM or SIGKILL mid-run: no traceback, a whole result or none, nothing left behind after the next run."""
    signal_a_run(name, delay, tmp_path)


@pytest.mark.slow  # 4 s; test_sweep_parallel's killed sweep that resumes stays in the default run
def test_sigint_during_a_sweep_keeps_every_finished_point(tmp_path):
    """Ctrl-C mid-sweep: exit 130, the finished points kept once each, and the rerun completes it."""
    signal_a_sweep("SIGINT", 2.5, tmp_path)


@pytest.mark.slow
@settings(max_examples=16, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(sorted(SIGNALS)), delay=st.floats(0.1, 4.0))
def test_any_signal_at_any_moment_of_a_run(name, delay, tmp_path_factory):
    """Every signal at random moments of a run (loading, running, writing): the run promises hold.
    (From 0.1 s: the interpreter's own first ~20 ms come before any code of sim's can run; on a
    loaded machine they can last longer, and a signal there is `before_sims_code`.)"""
    signal_a_run(name, delay, tmp_path_factory.mktemp("run"))


@pytest.mark.slow
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(sorted(SIGNALS)), delay=st.floats(0.1, 5.0))
def test_any_signal_at_any_moment_of_a_sweep(name, delay, tmp_path_factory):
    """Every signal at random moments of a sweep: finished points kept once, the rerun completes it."""
    signal_a_sweep(name, delay, tmp_path_factory.mktemp("sweep"))


@pytest.mark.slow
@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_yaml())
def test_hostile_yaml_long_form(text):
    """The hostile-YAML promise over many more documents."""
    check_text(text)


@pytest.mark.slow
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_argv())
def test_hostile_flags_long_form(case):
    """The hostile-flags promise over many more command lines."""
    test_hostile_flags_and_paths_exit_0_1_or_2_and_touch_nothing_outside_the_target.hypothesis.inner_test(case)


@pytest.mark.slow
@settings(max_examples=12, deadline=None)
@given(st.floats(0.03, 0.6))
def test_ctrl_c_at_any_moment_of_start_up(delay):
    """Ctrl-C at random moments while sim starts and loads: exit 130 (or 0 if done), never a traceback.

    Except in the first milliseconds, before any of sim's code runs (`before_sims_code`)."""
    with tempfile.TemporaryDirectory() as tmp:
        proc = start(["run", str(SMALL), "--runs", "1024", "--out", str(Path(tmp) / "o")], Path(tmp))
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        err = without_site_interrupted(err)
        before_sim = before_sims_code("SIGINT", proc.returncode, err)
        assert before_sim or (proc.returncode in (0, 130) and "Traceback" not in err), (proc.returncode, err)
