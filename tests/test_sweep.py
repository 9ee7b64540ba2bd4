"""Sweeps: every point is the single run it stands for, kept once, resumable, and
rejected whole when any point is invalid; the designs and the sensitivity analyses."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import re
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import sim.sweep.execute
from sim import cli, load_scenario, run
from sim.errors import InputError, RunError
from sim.model import CLASSES
from sim.randomness import BLOCK_SIZE
from sim.sweep import make_point_scenarios, make_sweep, run_sweep
from sim.sweep.design import design_size, make_design, sample_grid, sample_lhs, sample_morris, sample_sobol
from sim.sweep.execute import make_tasks, run_task
from sim.sweep.sensitivity import analyse_morris, analyse_sobol

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "tests" / "data" / "small.yaml"
VARY = ["summit.bargaining.margin=0.0:0.2:3", "summit.cancellation.base_probability=0:0.3:2"]
RUNS, SEED = 2500, 11  # 2500: the last block of each point is cut short


def counts_of(row: dict) -> list[int]:
    return [row[f"{c}_count"] for c in CLASSES]


def without_seconds(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


@pytest.fixture(scope="module")
def small_sweep():
    return make_sweep(SMALL, VARY, None, runs=RUNS, seed=SEED)


@pytest.fixture(scope="module")
def reference(small_sweep, tmp_path_factory):
    """The small sweep run start to finish in this process, once."""
    return run_sweep(small_sweep, out=tmp_path_factory.mktemp("reference"), plots=False)


class StopAfter:
    """A progress callback that asks the sweep to stop (what Ctrl-C does in the CLI) once
    `n` points are committed; pass it as both `progress` and `stop`."""

    def __init__(self, n: int):
        self.n, self.done = n, 0
        self.event = threading.Event()

    def start(self, total: int, done: int) -> None:
        pass

    def advance(self, points: int) -> None:
        self.done += points
        if self.done >= self.n:
            self.event.set()

    def is_set(self) -> bool:
        return self.event.is_set()


def stop_after(sweep, out, n: int):
    """Run `sweep` into `out`, one point a task, stopped once `n` points are in (a stop
    ends the sweep after the task in hand, and small points would share one)."""
    stop = StopAfter(n)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sim.sweep.execute, "MIN_TASK_BLOCKS", 1)
        return run_sweep(sweep, out=out, progress=stop, stop=stop, plots=False)


# --- Every point is its single run -------------------------------------------------------


def test_sweep_reproduces_single_runs_at_the_same_points_exactly(reference):
    """Each point's counts equal `sim.run` of the scenario with the point's values set, same seed."""
    assert len(reference.rows) == 6 and reference.complete
    for row in reference.rows:
        overrides = {"summit.bargaining.margin": row["summit.bargaining.margin"],
                     "summit.cancellation.base_probability": row["summit.cancellation.base_probability"]}
        single = run(load_scenario(SMALL, overrides=overrides), runs=RUNS, seed=SEED)
        assert counts_of(row) == single.counts.tolist()
        assert row["runs"] == RUNS


def test_common_random_numbers_make_a_factor_that_cannot_matter_change_nothing(reference):
    """Points differing only in a factor that only decides the base cancellation share
    every collapse-free replicate: P(collapse) rises monotonically with it, exactly."""
    by_res = {}
    for row in reference.rows:
        by_res.setdefault(row["summit.bargaining.margin"], []).append(row)
    for rows in by_res.values():
        low, high = sorted(rows, key=lambda r: r["summit.cancellation.base_probability"])
        assert high["collapse_count"] >= low["collapse_count"]
    collapses = {r["summit.cancellation.base_probability"]: set() for r in reference.rows}
    for r in reference.rows:
        collapses[r["summit.cancellation.base_probability"]].add(r["collapse_count"])
    assert all(len(v) == 1 for v in collapses.values())  # the margin never changes who collapses


@pytest.mark.parametrize("workers", [1, 2, 7])
def test_cutting_points_into_tasks_changes_no_count(small_sweep, workers):
    """However points are cut into tasks, each point's blocks are covered once and its
    counts are the sum of its pieces'."""
    runs = 40 * BLOCK_SIZE + 17
    scenarios = dict(enumerate(make_point_scenarios(small_sweep, np.array([[0.3, 0.1], [0.0, 0.0]]))))
    tasks = make_tasks(scenarios, runs, SEED, workers)
    covered = {p: [] for p in scenarios}
    counts = {p: np.zeros(len(CLASSES), dtype=int) for p in scenarios}
    for task in tasks:
        for r in run_task(task):
            covered[r.point] += range(r.first, r.first + r.count)
            counts[r.point] += r.counts
    for p, scenario in scenarios.items():
        assert sorted(covered[p]) == list(range(41))
        assert counts[p].tolist() == run(scenario, runs=runs, seed=SEED).counts.tolist()


def test_the_scenarios_chunk_size_changes_no_count(reference, tmp_path):
    """A sweep of a scenario whose monte_carlo.chunk_size holds every block of a point in one
    chunk commits the counts of the reference, whose chunks are one block each."""
    big = make_sweep(SMALL, VARY, None, runs=RUNS, seed=SEED, overrides={"monte_carlo.chunk_size": 8192})
    rows = run_sweep(big, out=tmp_path, plots=False).rows
    assert [counts_of(r) for r in rows] == [counts_of(r) for r in reference.rows]


def test_small_points_share_a_task_and_large_points_are_cut():
    """Tasks hold at least 16 blocks where points allow, and a big point is spread over workers."""
    scenario = load_scenario(SMALL)
    small = make_tasks(dict.fromkeys(range(40), scenario), BLOCK_SIZE, 1, 2)
    assert [len(t.pieces) for t in small] == [16, 16, 8]
    big = make_tasks({0: scenario}, 400 * BLOCK_SIZE, 1, 2)
    assert len(big) >= 4 and sum(t.pieces[0].count for t in big) == 400


# --- Storage and resume ----------------------------------------------------------------------


def test_each_point_is_committed_to_sqlite_with_its_parameters_and_estimates(reference):
    """The database holds the plan and one row per finished point (counts, probabilities
    and intervals), in WAL mode."""
    db = sqlite3.connect(reference.out / "sweep.sqlite")
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("SELECT COUNT(*), COUNT(DISTINCT point) FROM results").fetchone() == (6, 6)
        params = [json.loads(p) for (p,) in db.execute("SELECT params FROM points ORDER BY point")]
        assert params == [[0.0, 0.0], [0.0, 0.3], [0.1, 0.0], [0.1, 0.3], [0.2, 0.0], [0.2, 0.3]]
        runs, k, p, low, high = db.execute("SELECT runs, collapse_count, collapse_p, collapse_low, collapse_high "
                                           "FROM results WHERE point = 3").fetchone()
        assert runs == RUNS and p == k / RUNS and low < p < high
    finally:
        db.close()


def test_the_csv_has_one_row_per_point_with_intervals(reference):
    """points.csv: a header, then one row a point with each class's p, interval and count."""
    lines = (reference.out / "points.csv").read_text().splitlines()
    header = lines[0].split(",")
    assert header[:3] == ["point", "summit.bargaining.margin", "summit.cancellation.base_probability"]
    assert {"substantive_or_better_p", "collapse_low", "talk_fest_high", "seconds"} <= set(header)
    assert len(lines) == 7
    row = dict(zip(header, lines[1].split(",")))
    assert float(row["substantive_or_better_low"]) <= float(row["substantive_or_better_p"]) \
        <= float(row["substantive_or_better_high"])


def test_an_interrupted_sweep_resumes_without_rerunning_or_duplicating(small_sweep, reference, tmp_path):
    """A stop after 2 points keeps them; the rerun runs only the other 4, and the result
    is the uninterrupted sweep's."""
    first = stop_after(small_sweep, tmp_path, 2)
    assert first.interrupted and len(first.rows) == 2
    second = run_sweep(small_sweep, out=tmp_path, plots=False)
    assert second.resumed == 2 and second.ran == 4 and not second.interrupted
    assert without_seconds(second.rows) == without_seconds(reference.rows)
    third = run_sweep(small_sweep, out=tmp_path, plots=False)
    assert third.ran == 0 and third.backend == "none"


def test_fresh_starts_over(small_sweep, tmp_path):
    """--fresh discards the finished points and runs them all again."""
    stop_after(small_sweep, tmp_path, 3)
    again = run_sweep(small_sweep, out=tmp_path, fresh=True, plots=False)
    assert again.resumed == 0 and again.ran == 6


def test_a_different_sweep_in_the_same_directory_is_refused(small_sweep, tmp_path, capsys):
    """Rerunning with other runs on the same --out is an input error, not a silent mix."""
    stop_after(small_sweep, tmp_path, 1)
    status = cli.main(["sweep", str(SMALL), *sum((["--vary", v] for v in VARY), []), "--runs", "1024",
                       "--seed", str(SEED), "--out", str(tmp_path), "--quiet"])
    assert status == 2
    assert "holds a different sweep" in capsys.readouterr().err


def test_a_refused_sweep_leaves_the_directorys_manifest_as_it_was(tmp_path, capsys, monkeypatch):
    """A different sweep into a sweep's --out is refused; the refused run must leave the manifest
    alone too: it rewrote `created` and, run from another folder, `ran_in`, from which the report
    rebuilds the first sweep's command, so that command then started in the wrong folder."""
    out = tmp_path / "s"
    assert cli.main([*SMALL_SWEEP_ARGS, "--out", str(out)]) == 0
    manifest = (out / ".sim-manifest.json").read_bytes()
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    other = [a if a != str(RUNS) else str(RUNS * 2) for a in SMALL_SWEEP_ARGS]
    assert cli.main([*other, "--out", str(out)]) == 2
    assert "holds a different sweep" in capsys.readouterr().err
    assert (out / ".sim-manifest.json").read_bytes() == manifest


def test_points_of_other_model_code_are_not_resumed_into_a_sweep(small_sweep, tmp_path, monkeypatch):
    """A sweep stopped under other model code is refused on resume (use --fresh), not mixed
    with points the running code computes; its default directory's key is unchanged."""
    import sim.sweep.driver

    key = small_sweep.key()
    monkeypatch.setattr(sim.sweep.driver, "model_digest", lambda: "0123456789abcdef")
    stop_after(small_sweep, tmp_path, 1)
    monkeypatch.undo()
    with pytest.raises(InputError, match=r"other model code \(0123456789abcdef; the running code is "):
        run_sweep(small_sweep, out=tmp_path, plots=False)
    assert run_sweep(small_sweep, out=tmp_path, fresh=True, plots=False).ran == 6
    assert small_sweep.key() == key


SMALL_SWEEP_ARGS = ["sweep", str(SMALL), *(a for v in VARY for a in ("--vary", v)), "--runs", str(RUNS),
                    "--seed", str(SEED), "--quiet"]


def test_a_store_that_is_not_a_database_is_an_input_error_and_fresh_replaces_it(small_sweep, tmp_path, capsys):
    """A sweep.sqlite that is not a database (truncated, overwritten) is one error line, exit 2,
    not SQLite's traceback; --fresh replaces it."""
    stop_after(small_sweep, tmp_path, 1)
    (tmp_path / "sweep.sqlite").write_bytes(b"not a database\n" * 100)
    assert cli.main([*SMALL_SWEEP_ARGS, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {tmp_path / 'sweep.sqlite'}: not a sweep database (file is not a database); use --fresh " \
                  "to replace it\n"
    assert cli.main([*SMALL_SWEEP_ARGS, "--out", str(tmp_path), "--fresh"]) == 0


def test_a_store_sim_may_not_write_is_an_input_error_naming_out(small_sweep, tmp_path, capsys, monkeypatch):
    """A sweep in a directory that has become read-only: resuming it (SQLite cannot open the
    store) or --fresh (it cannot remove it) is one error line naming --out, exit 2."""
    import sqlite3

    import sim.sweep.driver
    import sim.sweep.store

    stop_after(small_sweep, tmp_path, 1)

    def read_only(*args, **kwargs):
        raise sqlite3.OperationalError("unable to open database file")

    def not_permitted(directory):
        raise PermissionError(1, "Operation not permitted", str(directory / "sweep.sqlite"))

    with monkeypatch.context() as patch:
        patch.setattr(sim.sweep.store.sqlite3, "connect", read_only)
        assert cli.main([*SMALL_SWEEP_ARGS, "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (f"error: --out: cannot open the store sweep.sqlite there to resume (unable to "
                                       f"open database file); sim must be able to write in the directory (got "
                                       f"'{tmp_path}')\n")
    monkeypatch.setattr(sim.sweep.driver, "remove_sweep", not_permitted)
    assert cli.main([*SMALL_SWEEP_ARGS, "--out", str(tmp_path), "--fresh"]) == 2
    assert capsys.readouterr().err == (f"error: --out: cannot write the store sweep.sqlite there (Operation not "
                                       f"permitted) (got '{tmp_path}')\n")
    assert (tmp_path / "sweep.sqlite").is_file()


def test_the_same_command_lands_in_the_same_directory(small_sweep):
    """The default directory is named by the sweep, so rerunning the command resumes it."""
    again = make_sweep(SMALL, VARY, None, runs=RUNS, seed=SEED)
    other = make_sweep(SMALL, VARY, None, runs=RUNS + 1, seed=SEED)
    assert again.key() == small_sweep.key() != other.key()


# --- The command line ---------------------------------------------------------------------------


def test_cli_sweep_prints_the_points_and_writes_csv_json_and_curves(tmp_path, capsys):
    """`python -m sim sweep` with one factor: a table, points.csv, sweep.json and curves.png."""
    status = cli.main(["sweep", str(SMALL), "--vary", "summit.bargaining.margin=0.0:0.2:3", "--runs", "2048",
                       "--seed", "3", "--out", str(tmp_path), "--progress"])
    out = capsys.readouterr().out
    assert status == 0
    assert "3 of 3 points" in out and "0.1" in out
    assert "2,048 replicates a point; each P with its 95 % Monte Carlo interval (Wilson)" in " ".join(out.split())
    with open(tmp_path / "points.csv") as fh:
        for row in csv.DictReader(fh):  # every probability printed with its interval, as `run` prints it
            for e in ("substantive_or_better", "talk_fest", "collapse"):
                p, low, high = (float(row[f"{e}_{s}"]) for s in ("p", "low", "high"))
                assert f"{p:.3f} [{low:.3f}, {high:.3f}]" in out
    summary = json.loads((tmp_path / "sweep.json").read_text())
    assert summary["points_done"] == 3 and summary["seed_entropy"] == 3 and summary["analysis"] is None
    assert set(summary["timing"]) == {"validate", "startup", "running", "compute", "dispatch_gap", "export"}
    assert summary["tasks"] == 1  # three points of 2 blocks share one task
    assert (tmp_path / "curves.png").stat().st_size > 0


def test_cli_sweep_from_a_spec_file_with_a_heatmap(tmp_path, capsys):
    """A spec file resolves its scenario relative to itself; two factors give a heatmap."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"scenario: {SMALL}\nruns: 1024\nseed: 2\nvary:\n"
                    "  - {path: summit.bargaining.margin, low: 0.0, high: 0.2, levels: 2}\n"
                    "  - {path: relations.trust.initial, low: 0.3, high: 0.6, levels: 2}\n")
    assert cli.main(["sweep", "--spec", str(spec), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    assert (tmp_path / "out" / "heatmap.png").stat().st_size > 0
    assert json.loads((tmp_path / "out" / "sweep.json").read_text())["points_done"] == 4


def test_a_plot_that_fails_halfway_leaves_the_last_whole_plot_in_place(tmp_path, monkeypatch):
    """A sweep's pictures are written atomically: a rerun whose plotting dies mid-file (here
    disk full: a one-line run error, no traceback) leaves the heatmap of the earlier run whole,
    and no temp file beside it."""
    import matplotlib.figure

    sweep = make_sweep(SMALL, VARY, None, runs=1024, seed=SEED)
    run_sweep(sweep, out=tmp_path)
    before = (tmp_path / "heatmap.png").read_bytes()

    def dies_halfway(self, fname, **kwargs):
        if hasattr(fname, "write"):
            fname.write(b"\x89PNG half")
        else:
            Path(fname).write_bytes(b"\x89PNG half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", dies_halfway)
    with pytest.raises(RunError, match="cannot write results to .*: No space left on device"):
        run_sweep(sweep, out=tmp_path)
    assert (tmp_path / "heatmap.png").read_bytes() == before
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".heatmap")]


def test_the_shipped_sweep_specs_are_valid():
    """Every spec under scenarios/sweeps/ validates, with every point of its design (at most
    8 base points for sampled designs)."""
    specs = sorted((ROOT / "scenarios" / "sweeps").glob("*.yaml"))
    assert specs
    for path in specs:
        sweep = make_sweep(None, [], path)
        if sweep.points is not None:  # every factor's range is checked at both ends anyway
            sweep = dataclasses.replace(sweep, points=min(sweep.points, 8))
        plan = make_design(sweep.design, sweep.bounds, sweep.points, [f.levels for f in sweep.factors], 1)
        assert len(make_point_scenarios(sweep, plan)) == len(plan)


BAD_OPTIONS = {  # name: (arguments after SCENARIO, what the error line says)
    "no_such_path": (["--vary", "agents.south.resolv=0:1:2"], "agents.south.resolv: no such field"),
    "no_such_event": (["--vary", "events.nope.probability=0:1:2"], "no such field"),
    "not_a_number": (["--vary", "summit.date=0:1:2"], "must name a number"),
    "out_of_range": (["--vary", "summit.bargaining.margin=0.2:1.5:3"],
                     "--vary summit.bargaining.margin=0.2:1.5:3: summit.bargaining.margin: must be in [0, 1] "
                     "(got 1.5)"),
    "lo_above_hi": (["--vary", "agents.south.resolve=0.6:0.2:3"], "LO must not be above HI"),
    "one_level_of_a_range": (["--vary", "agents.south.resolve=0.2:0.6:1"], "one level runs LO (0.2) only, never HI"),
    "malformed": (["--vary", "agents.south.resolve=0.2"], "must be PATH=LO:HI:N"),
    "not_numbers": (["--vary", "agents.south.resolve=a:b:3"], "must be PATH=LO:HI:N"),
    "grid_without_levels": (["--vary", "agents.south.resolve=0.2:0.4"],
                            "--vary agents.south.resolve=0.2:0.4: the grid design needs a number of levels: write "
                            "PATH=LO:HI:N (got '0.2:0.4')\n"),
    "levels_with_lhs": (["--vary", "agents.south.resolve=0.2:0.4:3", "--design", "lhs", "--points", "4"],
                        "levels: a number of levels applies to the grid design only; with lhs write PATH=LO:HI and "
                        "give the size with --points (got 3)"),
    "sobol_not_power_of_2": (["--vary", "agents.south.resolve=0.2:0.4", "--design", "sobol",
                              "--points", "6"], "--points: must be a power of 2"),
    "lhs_without_points": (["--vary", "agents.south.resolve=0.2:0.4", "--design", "lhs"],
                           "error: --points: the lhs design needs a number of points\n"),  # the option, not 'command line'
    "salience_alone": (["--vary", "agents.south.issues.land.salience=0.3:0.7:3"], "add --renormalise"),
    "aliased_event": (["--vary", "events.talks.probability=0:1:2", "--vary", "events.0.probability=0:1:2"],
                      ("--vary events.0.probability=0:1:2: events.0.probability: names the same number as "
                       "--vary events.talks.probability=0:1:2 (both are events.0.probability)")),
    "aliased_part": (["--vary", "events.talks.effects.0.shift.sd=0:0.1:2",
                      "--vary", "events.0.effects.0.shift=0:0.1:2"], "overlaps --vary events.talks.effects"),
    "varied_and_set": (["--set", "events.0.probability=0.5", "--vary", "events.talks.probability=0:1:2"],
                       "is also fixed by --set (or the spec's set:) events.0.probability"),
    "varied_inside_set": (["--set", "summit.bargaining={margin: 0.1}", "--vary", "summit.bargaining.margin=0:0.2:2"],
                          "is also fixed by --set (or the spec's set:) summit.bargaining"),
    "monte_carlo_seed": (["--vary", "monte_carlo.seed=0:10:2"], "monte_carlo.seed: varying it changes no result"),
    "monte_carlo_runs": (["--vary", "monte_carlo.runs=100:200:2"], "monte_carlo.runs: varying it changes no result"),
    "renormalised_over_1": (["--vary", "agents.south.issues.land.salience=0.5:1.2:3", "--renormalise"],
                            "the varied saliences sum to more than 1 (got 1.2)"),
    "interacting_points": (["--vary", "agents.south.issues.land.position=0.0:0.5:2",
                            "--vary", "agents.south.issues.land.bounds.1=0.3:0.5:2"],
                           "point 2 (agents.south.issues.land.position=0.5"),
    "incident_range": (["--vary", "incidents.clash.effects.1.probability=0.5:1.5:2"],  # the memory estimate's point
                       "error: --vary incidents.clash.effects.1.probability=0.5:1.5:2: incidents.0.effects.1.probability"),
    "zero_runs": (["--vary", "agents.south.resolve=0.2:0.4:2", "--runs", "0"], "--runs:"),
    "zero_workers": (["--vary", "agents.south.resolve=0.2:0.4:2", "--workers", "0"], "--workers: must be >= 1"),
    "nothing_to_vary": ([], "nothing to vary"),
}


@pytest.mark.parametrize("name", sorted(BAD_OPTIONS))
def test_invalid_sweeps_exit_2_with_one_line_per_problem_before_anything_runs(name, tmp_path, capsys):
    """A bad --vary, design or option: exit 2, `error:` lines naming it, no result directory."""
    extra, expect = BAD_OPTIONS[name]
    out = tmp_path / "out"
    assert cli.main(["sweep", str(SMALL), *extra, "--runs", "1024", "--out", str(out)]
                    if "--runs" not in extra else ["sweep", str(SMALL), *extra, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert expect in err, err
    assert all(line.startswith("error: ") for line in err.splitlines())
    assert "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize("name", ["monte_carlo_runs", "interacting_points", "varied_and_set"])
def test_an_invalid_sweep_prints_no_note_about_work_that_never_runs(name, tmp_path, capsys):
    """A sweep refused for its factors or for a point prints its errors only: no note that
    --workers 64 is more than the work needs, nor that a factor the engine never reads
    (dynamics.q under convergence) changes nothing, for a sweep that never runs."""
    extra, expect = BAD_OPTIONS[name]
    out = tmp_path / "out"
    assert cli.main(["sweep", str(SMALL), *extra, "--vary", "dynamics.q=0.5:0.9:2", "--runs", "1024",
                     "--workers", "64", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert expect.removeprefix("point 2 (") in err, err  # the third factor renumbers the points
    assert "note:" not in err and err.startswith("error: "), err
    assert not out.exists()


def test_a_valid_sweep_still_notes_its_workers_and_its_unread_factor(tmp_path, capsys):
    """The notes come once the points are valid, before they run, and are kept in sweep.json."""
    out = tmp_path / "out"
    assert cli.main(["sweep", str(SMALL), "--vary", "dynamics.q=0.5:0.9:2", "--runs", "1024",
                     "--workers", "64", "--quiet", "--out", str(out)]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note: ")]
    assert len(notes) == 2 and "dynamics.q" in notes[0] and notes[1].startswith("note: --workers 64: the work is "), notes
    assert json.loads((out / "sweep.json").read_text())["notes"] == notes


@pytest.mark.parametrize("design, span, here", [("lhs", "1:4", "2.146"), ("sobol", "1:4", "2.146"),
                                               ("morris", "1:3", "1.667")])
def test_a_whole_number_field_under_a_design_that_draws_any_number_is_one_error(design, span, here, tmp_path,
                                                                                  capsys):
    """`dynamics.rounds_per_week` takes whole numbers; lhs and sobol draw any number between LO and
    HI (morris its four levels, 1, 1.667, 2.333 and 3 over 1:3), so nearly every point was refused,
    one line each (five, then "and 187 more invalid points"), saying only that a point was not a
    whole number. LO and HI alone pass, so the sweep now tries the field between them too: one line
    naming the option, the design and what to do. Morris over 1:4 (levels 1 to 4) and a grid of
    whole-number levels run."""
    out = tmp_path / "out"
    sizes = {"lhs": "16", "sobol": "64", "morris": "4"}
    common = ["--set", "dynamics.engine=eum", "--runs", "1024", "--out", str(out)]
    assert cli.main(["sweep", str(SMALL), "--vary", f"dynamics.rounds_per_week={span}", "--design", design,
                     "--points", sizes[design], *common]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"error: --vary dynamics.rounds_per_week={span}: dynamics.rounds_per_week: ")
    low, high = span.split(":")
    assert (f"the {design} design draws numbers between {low} and {high} that the field refuses (here {here}); "
            "vary it on a grid whose levels it takes (PATH=LO:HI:N)") in errors[0], errors
    assert not out.exists()
    if design == "morris":
        assert cli.main(["sweep", str(SMALL), "--vary", "dynamics.rounds_per_week=1:4", "--design", "morris",
                         "--points", "4", *common, "--quiet"]) == 0
    else:
        assert cli.main(["sweep", str(SMALL), "--vary", "dynamics.rounds_per_week=1:4:4", *common, "--quiet"]) == 0


def test_a_grid_whose_points_would_not_fit_in_memory_is_refused_before_it_is_built(tmp_path, capsys):
    """Every point's scenario is held from validation to the end (tens of KiB each): a grid
    of 20,000 points is refused under --max-memory 1GiB with the estimate naming them, at
    once and with nothing written (a million points used to fill 24 GB before any ran)."""
    out = tmp_path / "out"
    assert cli.main(["sweep", str(SMALL), "--vary", "summit.bargaining.margin=0:0.2:200", "--vary",
                     "summit.cancellation.base_probability=0:0.3:100", "--runs", "1024", "--max-memory", "1GiB",
                     "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --max-memory: this sweep (20,000 points, one running on each worker) would need "
                          "about ") and "(the largest part the points' scenarios: " in err, err
    assert "use fewer points, or raise --max-memory" in err and err.count("\n") == 1
    assert not out.exists()


def test_a_stop_while_the_points_are_validated_ends_the_sweep_with_nothing_written(small_sweep, tmp_path):
    """Ctrl-C while the points are validated (minutes for a large sweep) stops the sweep
    there, as an interrupt: no empty result directory is claimed and no point runs."""
    stop = threading.Event()
    stop.set()
    with pytest.raises(KeyboardInterrupt):
        run_sweep(small_sweep, out=tmp_path / "out", stop=stop, plots=False)
    assert not (tmp_path / "out").exists()


BAD_SPECS = {  # name: (spec text, what the error line says)
    "unknown_key": ("vary: [{path: dynamics.rate, low: 0.1, high: 0.2, levels: 2}]\nbogus: 1", "bogus: unknown key"),
    "no_vary": ("design: grid", "vary: required field is missing"),
    "bad_design": ("design: taguchi\nvary: [{path: dynamics.rate, low: 0.1, high: 0.2}]", "design:"),
    "duplicate_path": ("vary: [{path: dynamics.rate, low: 0.1, high: 0.2, levels: 2}, "
                       "{path: dynamics.rate, low: 0.1, high: 0.3, levels: 2}]", "vary.1.path: duplicates vary.0"),
    "aliased_path": (("vary: [{path: events.talks.probability, low: 0, high: 1, levels: 2}, "
                      "{path: events.0.probability, low: 0, high: 1, levels: 2}]"),
                     "vary.1: events.0.probability: names the same number as "),
    "range": ("vary: [{path: dynamics.rate, low: 0.1, high: 1.2, levels: 2}]",
              "vary.0: dynamics.rate: must be in [0, 1] (got 1.2)"),
    "grid_without_levels": ("vary: [{path: dynamics.rate, low: 0.1, high: 0.2}]",
                            "vary.0: the grid design needs a number of levels: add levels (2 or more) to the factor "
                            "(got {'low': 0.1, 'high': 0.2})\n"),
    "levels_with_lhs": ("design: lhs\npoints: 4\nvary: [{path: dynamics.rate, low: 0.1, high: 0.2, levels: 3}]",
                        "vary.0.levels: a number of levels applies to the grid design only; with lhs a factor has "
                        "path, low and high only, and the spec's points gives the size (got 3)"),
    "low_above_high": ("vary: [{path: dynamics.rate, low: 0.2, high: 0.1, levels: 2}]",
                       "vary.0: low must not be above high (got '0.2 > 0.1')"),
    "low_is_high": ("vary: [{path: dynamics.rate, low: 0.2, high: 0.2, levels: 2}]",
                    "vary.0: low == high allows one level only (got 2)"),
    "one_level_of_a_range": ("vary: [{path: dynamics.rate, low: 0.1, high: 0.2, levels: 1}]",
                             "vary.0: one level runs low (0.1) only, never high: give 2 or more levels, or fix the "
                             "field under set: (got {'low': 0.1, 'high': 0.2, 'levels': 1})"),
    "lhs_low_is_high": ("design: lhs\npoints: 4\nvary: [{path: dynamics.rate, low: 0.2, high: 0.2}]",
                        "vary.0: the lhs design needs low < high (got '0.2')"),
    "not_yaml": ("vary: [", "invalid YAML"),
    "not_a_mapping": ("- 1", "must be a YAML mapping"),
}


@pytest.mark.parametrize("name", sorted(BAD_SPECS))
def test_invalid_spec_files_exit_2(name, tmp_path, capsys):
    """A spec file is validated like a scenario: unknown keys, wrong types, bad ranges."""
    text, expect = BAD_SPECS[name]
    spec = tmp_path / "bad.yaml"
    spec.write_text(f"scenario: {SMALL}\n{text}\n" if name not in ("not_a_mapping",) else text + "\n")
    assert cli.main(["sweep", "--spec", str(spec), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert expect in err, err
    assert str(spec) in err
    # the file's words (path, low, high, levels, set:), never the command line's
    assert not re.search(r"\b(PATH|LO|HI|N)\b|--set|--points", err.replace(str(spec), "FILE")), err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("field, value, line", [
    ("agents.south.resolve", "1.5", "agents.south.resolve: must be in [0, 1] (got 1.5)"),
    ("events.talks.date", "2020-05-01", "events.0.date: event talks: is after the latest summit date (2020-04-01) "
     "(got '2020-05-01')"),
])
def test_a_bad_value_of_a_specs_set_names_the_spec_not_the_scenario_alone(tmp_path, capsys, field, value, line):
    """A value the spec's `set:` gives that breaks a rule names the spec's `set:` beside the scenario,
    which does not hold that value (nor the command line's --set, which gave nothing), whether its
    path names a list item by its index or by its name."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"scenario: {SMALL}\nruns: 256\nset: {{{field}: {value}}}\n"
                    "vary: [{path: dynamics.rate, low: 0.1, high: 0.2, levels: 2}]\n")
    assert cli.main(["sweep", "--spec", str(spec), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == f"error: {SMALL} (set: in {spec}): {line}\n"
    assert cli.main(["sweep", "--spec", str(spec), "--set", "dynamics.noise=0.02", "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == f"error: {SMALL} (set: in {spec}, or --set): {line}\n"
    assert not (tmp_path / "out").exists()


def test_a_spec_whose_scenario_is_missing_names_the_spec_and_its_field(tmp_path, capsys):
    """`scenario: rivr.yaml` (a typo) is the spec's mistake: the line names the spec, its field
    `scenario` and the value written, as `extends:` does, not only the file it could not read."""
    spec = tmp_path / "spec.yaml"
    spec.write_text("scenario: rivr.yaml\nvary: [{path: dynamics.rate, low: 0.1, high: 0.2, levels: 2}]\n")
    assert cli.main(["sweep", "--spec", str(spec), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == (f"error: {spec}: scenario: cannot read {tmp_path / 'rivr.yaml'}: "
                                       "No such file or directory (got 'rivr.yaml')\n")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("text, expect", [
    ("", "is empty (or holds only comments); it must be a YAML mapping of {} keys"),
    ("# vary: later\n", "is empty (or holds only comments); it must be a YAML mapping of {} keys"),
    ("just text\n", "must be a YAML mapping of {} keys, not text (got 'just text')"),
    ("- 1\n", "must be a YAML mapping of {} keys, not a list (got [1])"),
])
def test_a_file_that_is_not_a_mapping_says_what_it_is_in_yamls_words(text, expect, tmp_path, capsys):
    """An empty sweep or scenario file is said to be empty, not 'NoneType'; text, a list."""
    path = tmp_path / "f.yaml"
    path.write_text(text)
    assert cli.main(["sweep", "--spec", str(path), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == f"error: {path}: {expect.format('sweep')}\n"
    assert cli.main(["validate", str(path)]) == 2
    assert capsys.readouterr().err == f"error: {path}: {expect.format('scenario')}\n"
    assert cli.main(["calibrate", str(tmp_path), "--knobs", str(path), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == f"error: {path}: {expect.format('knobs spec')}\n"
    assert not (tmp_path / "out").exists()


def test_a_file_of_another_kind_is_named_for_what_it_looks_like(tmp_path, capsys):
    """A scenario given as a sweep or knobs spec, or a knobs spec as a sweep spec: one line
    saying what the file looks like, not a line for each missing and unknown key."""
    knobs = ROOT / "scenarios" / "history" / "knobs.yaml"
    for command, wrong, says in (
            (["sweep", "--spec", str(SMALL)], SMALL, "is not a sweep spec (it has no `vary:`); it looks like a "
                                                     "scenario file, for `run`"),
            (["sweep", "--spec", str(knobs)], knobs, "is not a sweep spec (it has no `vary:`); it looks like a "
                                                     "knobs spec, for `calibrate --knobs`"),
            (["calibrate", str(tmp_path), "--knobs", str(SMALL)], SMALL,
             "is not a knobs spec (it has no `knobs:`); it looks like a scenario file, for `run`")):
        assert cli.main([*command, "--out", str(tmp_path / "out")]) == 2
        assert capsys.readouterr().err == f"error: {wrong}: {says}\n"
    assert not (tmp_path / "out").exists()


def test_spec_and_vary_together_are_refused(tmp_path, capsys):
    """Factors come from --vary or from --spec, never a mix."""
    spec = tmp_path / "s.yaml"
    spec.write_text("vary: [{path: dynamics.rate, low: 0.1, high: 0.2, levels: 2}]\n")
    assert cli.main(["sweep", str(SMALL), "--spec", str(spec), "--vary", "dynamics.rate=0:1:2"]) == 2
    assert "not both" in capsys.readouterr().err


# --- Renormalised saliences ---------------------------------------------------------------------


def test_renormalise_rescales_the_agents_other_saliences_in_proportion():
    """Varying one salience with renormalise keeps the agent's sum at 1 and the others' ratios."""
    sweep = make_sweep(SMALL, ["agents.patron.issues.land.salience=0.2:0.6:3"], None, renormalise=True)
    scenarios = make_point_scenarios(sweep, np.array([[0.2], [0.4], [0.6]]))
    for s, v in zip(scenarios, (0.2, 0.4, 0.6)):
        stances = s.agents["patron"].issues
        assert stances["land"].salience == v
        assert math.isclose(stances["land"].salience + stances["trade"].salience, 1.0)


# --- Designs -------------------------------------------------------------------------------------


def test_designs_have_their_documented_sizes_and_stay_in_bounds():
    """grid: the product of levels; lhs: K; sobol: N (d + 2); morris: K (d + 1); all inside [low, high]."""
    bounds = np.array([[0.0, 1.0], [2.0, 5.0], [-1.0, 0.0]])
    rng = np.random.default_rng(0)
    grid = sample_grid(bounds, [3, 2, 2])
    assert grid.shape == (12, 3) and grid[0].tolist() == [0.0, 2.0, -1.0] and grid[1].tolist() == [0.0, 2.0, 0.0]
    for x, n in ((sample_lhs(bounds, 10, rng), 10), (sample_sobol(bounds, 8, rng), 8 * 5),
                 (sample_morris(bounds, 4, rng), 4 * 4)):
        assert x.shape == (n, 3)
        assert np.all(x >= bounds[:, 0]) and np.all(x <= bounds[:, 1])
    lhs = sample_lhs(bounds, 10, np.random.default_rng(0))
    assert all(len(set(np.floor((lhs[:, k] - lo) / (hi - lo) * 10).astype(int))) == 10
               for k, (lo, hi) in enumerate(bounds))  # one point in each tenth of each range
    assert design_size("sobol", 3, 8, [None] * 3) == 40 and design_size("morris", 3, 4, [None] * 3) == 16


def test_the_seed_names_the_design():
    """The same entropy gives the same sample points; another gives others."""
    bounds = np.array([[0.0, 1.0], [0.0, 1.0]])
    a, b, c = (make_design("lhs", bounds, 5, [None, None], e) for e in (1, 1, 2))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


# --- Sensitivity ----------------------------------------------------------------------------------

ISHIGAMI_S1 = (0.3139, 0.4424, 0.0)  # Ishigami and Homma (1990), a = 7, b = 0.1
ISHIGAMI_ST = (0.5576, 0.4424, 0.2437)


def test_sobol_indices_of_the_ishigami_function_are_its_known_values():
    """S1 and ST of the Ishigami function within 0.05 of the analytic values, each inside
    (or within 0.02 of) its 95 % bootstrap interval, at N = 1024 and a fixed seed."""
    bounds = np.array([[-math.pi, math.pi]] * 3)
    x = sample_sobol(bounds, 1024, np.random.default_rng(2016))
    y = np.sin(x[:, 0]) + 7 * np.sin(x[:, 1]) ** 2 + 0.1 * x[:, 2] ** 4 * np.sin(x[:, 0])
    si = analyse_sobol(["x1", "x2", "x3"], bounds, y, seed=7)
    for k, name in enumerate(("x1", "x2", "x3")):
        for key, truth in (("S1", ISHIGAMI_S1[k]), ("ST", ISHIGAMI_ST[k])):
            assert abs(si[name][key] - truth) < 0.05, (name, key, si[name])
            assert abs(si[name][key] - truth) < si[name][f"{key}_conf"] + 0.02


def test_morris_effects_of_a_linear_function_are_its_slopes():
    """For y = 3 x1 + x2 on [0, 1]^3, mu* is (3, 1, 0) with no spread."""
    bounds = np.array([[0.0, 1.0]] * 3)
    x = sample_morris(bounds, 10, np.random.default_rng(1))
    ee = analyse_morris(["a", "b", "c"], bounds, x, 3 * x[:, 0] + x[:, 1], seed=1)
    assert [round(ee[n]["mu_star"], 9) for n in "abc"] == [3.0, 1.0, 0.0]
    assert all(abs(ee[n]["sigma"]) < 1e-9 for n in "abc")


def test_a_constant_output_has_zero_indices():
    """A factor range that changes nothing gives indices of 0, not NaN."""
    si = analyse_sobol(["a"], np.array([[0.0, 1.0]]), np.full(12, 0.4), seed=1)
    assert si["a"] == {"S1": 0.0, "S1_conf": 0.0, "ST": 0.0, "ST_conf": 0.0}


def test_a_sobol_sweep_reports_indices_and_draws_their_bars(tmp_path):
    """--design sobol on the small scenario: sweep.json holds S1 and ST of each factor; the
    factor that moves P(substantive or better) most has the largest ST."""
    sweep = make_sweep(SMALL, ["summit.bargaining.margin=0.0:0.2", "dynamics.noise=0.0:0.02"], None,
                       design="sobol", points=8, runs=1024, seed=5)
    result = run_sweep(sweep, out=tmp_path)
    assert len(result.rows) == 8 * 4
    indices = result.summary["analysis"]["indices"]
    assert set(indices) == {"summit.bargaining.margin", "dynamics.noise"}
    assert indices["summit.bargaining.margin"]["ST"] > indices["dynamics.noise"]["ST"]
    assert (tmp_path / "sensitivity.png").stat().st_size > 0 and (tmp_path / "heatmap.png").exists()


def test_a_morris_sweep_reports_elementary_effects(tmp_path):
    """--design morris: mu, mu*, its interval and sigma for each factor."""
    sweep = make_sweep(SMALL, ["summit.bargaining.margin=0.0:0.2", "dynamics.noise=0.0:0.02"], None,
                       design="morris", points=3, runs=1024, seed=5)
    result = run_sweep(sweep, out=tmp_path, plots=False)
    assert len(result.rows) == 3 * 3
    ee = result.analysis["indices"]
    assert set(ee["dynamics.noise"]) == {"mu", "mu_star", "mu_star_conf", "sigma"}
    assert ee["summit.bargaining.margin"]["mu_star"] > ee["dynamics.noise"]["mu_star"]


def test_sweep_and_backtest_take_progress_without_the_cli():
    """The sweep and the backtest share one progress protocol, and importing them loads neither the CLI nor rich."""
    code = ("import sys, sim.backtest, sim.sweep.driver\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'rich' or m.startswith('sim.cli')))")
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


@pytest.mark.parametrize("command", ["sweep", "calibrate"])
def test_a_store_that_cannot_be_made_leaves_no_directory(tmp_path, capsys, monkeypatch, command):
    """A full disk when the store is created: exit 2 and no directory holding only a manifest
    (the new directory is given back as it was found)."""
    from sim.sweep.store import SweepStore

    def full(*args, **kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(SweepStore, "create", full)
    cases = Path(__file__).parent / "data" / "cases"
    argv = {"sweep": ["sweep", str(SMALL), "--vary", "summit.bargaining.margin=0:0.2:2", "--runs", "1024"],
            "calibrate": ["calibrate", str(cases), "--knobs", str(cases / "knobs.yaml")]}[command]
    out = tmp_path / "deep" / "o"
    assert cli.main([*argv, "--workers", "1", "--out", str(out), "--quiet"]) == 2
    assert "database or disk is full" in capsys.readouterr().err
    assert not (tmp_path / "deep").exists()


def test_indices_that_cannot_be_negative_get_no_interval_below_zero():
    """mu* (a mean of absolute effects) and ST (a share of variance) are never negative: their
    bootstrap interval, mean +- 1.96 sd, is cut at 0, so a factor with no effect does not
    read [-0.000, 0.001]; S1's estimate may be negative and keeps its interval."""
    from rich.console import Console

    from sim.sweep.report import _analysis_table

    def printed(analysis):
        with open(os.devnull, "w") as sink:
            console = Console(width=200, record=True, file=sink)
            console.print(_analysis_table(analysis))
        return console.export_text()

    morris = {"method": "morris", "indices": {"a": {"mu": 0.0004, "mu_star": 0.0004, "mu_star_conf": 0.0009,
                                                     "sigma": 0.001}}}
    assert "0.000 [0.000, 0.001]" in printed(morris)
    sobol = {"method": "sobol", "indices": {"a": {"S1": -0.001, "S1_conf": 0.008, "ST": 0.001, "ST_conf": 0.003}}}
    text = printed(sobol)
    assert "-0.001 [-0.009, 0.007]" in text and "0.001 [0.000, 0.004]" in text


def test_a_total_index_gets_no_interval_above_one_but_keeps_its_estimate_inside_it():
    """ST is a share of variance: at most 1, so a factor that carries it all does not read
    [0.950, 1.030]; an estimate past a bound (noise, which `sweep` warns of) keeps its whole
    interval. The bars of the plot are cut where the table is."""
    from sim.reporting import fmt_index, index_bounds

    assert fmt_index(0.99, 0.04, floor=0.0, ceiling=1.0) == "0.990 [0.950, 1.000]"
    assert fmt_index(1.02, 0.05, floor=0.0, ceiling=1.0) == "1.020 [0.970, 1.070]"
    assert fmt_index(-0.01, 0.02, floor=0.0, ceiling=1.0) == "-0.010 [-0.030, 0.010]"
    assert fmt_index(0.99, 0.04) == "0.990 [0.950, 1.030]"  # S1: as estimated
    assert index_bounds(0.5, 0.1, 0.0, 1.0) == (0.4, 0.6)


def test_a_partys_nash_weight_left_at_its_default_can_be_set_and_varied(tmp_path):
    """`summit.weights` defaults to 1 for every party: `--set summit.weights.north=2` on a file
    that writes no weights sets it (as `summit.bargaining.margin` is set), and a sweep varies it,
    each point equal to that run; a weight set and varied at once is refused as any field is."""
    runs = 2 * BLOCK_SIZE
    scenario = load_scenario(SMALL, overrides={"summit.weights.north": 3.0})
    assert scenario.summit.weights == {"north": 3.0}
    sweep = make_sweep(SMALL, ["summit.weights.north=0.5:3:2"], None, runs=runs, seed=SEED)
    rows = run_sweep(sweep, out=tmp_path / "sweep", plots=False).rows
    for row, weight in zip(rows, (0.5, 3.0)):
        single = run(load_scenario(SMALL, overrides={"summit.weights.north": weight}), runs=runs, seed=SEED)
        assert counts_of(row) == [e.count for e in single.estimates().values()], weight
    from sim.sweep.points import check_factors

    with pytest.raises(InputError, match="is also fixed by --set"):
        check_factors(make_sweep(SMALL, ["summit.weights.north=0.5:3:2"], None, runs=runs, seed=SEED,
                                 overrides={"summit.weights.north": 2.0}))


class _FullDisk:
    """A store connection on a disk that fills after `room` finished points: sqlite's 'database
    or disk is full' from then on (tests cannot fill a real disk)."""

    def __init__(self, db, room: int):
        self._db, self._room = db, room

    def execute(self, sql, *args):
        if sql.startswith("INSERT INTO results"):
            if self._room == 0:
                raise sqlite3.OperationalError("database or disk is full")
            self._room -= 1
        return self._db.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self._db, name)


def test_a_disk_that_fills_while_a_sweep_keeps_its_points_is_one_line_and_the_rerun_completes(
        tmp_path, capsys, monkeypatch):
    """The store's 'database or disk is full' as a finished point was kept was a traceback
    (sqlite3.OperationalError, exit 1). One `error:` line naming the directory and the cause,
    exit 1 (a run failure, as a full disk is for `run`); the points kept before stay, and the
    same command, once there is room, completes the sweep with the counts of an uninterrupted one."""
    import sim.sweep.store as store

    real = store.SweepStore.__init__

    def init(self, path):
        real(self, path)
        self.db = _FullDisk(self.db, room=2)

    argv = ["sweep", str(SMALL), *(f"--vary={v}" for v in VARY), "--runs", "1024", "--seed", "5", "--workers", "1",
            "--quiet"]
    monkeypatch.setattr(store.SweepStore, "__init__", init)
    assert cli.main([*argv, "--out", str(tmp_path / "s")]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"error: cannot write results to {tmp_path / 's'}: database or disk is full") and \
        "2 of 6 points are kept there" in line, line
    monkeypatch.setattr(store.SweepStore, "__init__", real)
    assert cli.main([*argv, "--out", str(tmp_path / "s")]) == 0
    assert cli.main([*argv, "--out", str(tmp_path / "ref")]) == 0
    counts = {name: [[row[c] for c in row if c.endswith("_count")]
                     for row in csv.DictReader((tmp_path / name / "points.csv").read_text().splitlines())]
              for name in ("s", "ref")}
    assert counts["s"] == counts["ref"] and len(counts["s"]) == 6


def test_a_disk_that_fills_as_a_sweep_writes_its_table_is_one_line(tmp_path, capsys, monkeypatch):
    """points.csv that cannot be written (a full disk) was a traceback (OSError, exit 1): one
    `error:` line naming the directory and the cause, exit 1; the finished points stay in the store."""
    import sim.sweep.store as store

    def full(path, text):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "atomic_write_text", full)
    assert cli.main(["sweep", str(SMALL), f"--vary={VARY[0]}", "--runs", "1024", "--workers", "1", "--quiet",
                     "--out", str(tmp_path / "s")]) == 1
    assert capsys.readouterr().err == (f"error: cannot write results to {tmp_path / 's'}: No space left on device; "
                                       "3 of 3 points are kept there: rerun the same command to resume once there "
                                       "is room\n")


def test_a_store_that_cannot_be_read_back_on_a_full_disk_is_one_line(tmp_path, capsys, monkeypatch):
    """sqlite reads a store's finished points through its write-ahead log, which needs room: on a
    full disk `SELECT point FROM results` failed with 'disk I/O error', a traceback. One `error:`
    line naming the directory and the cause, exit 1."""
    import sim.sweep.store as store

    real = store.SweepStore.__init__

    class Unreadable(_FullDisk):
        def execute(self, sql, *args):
            if sql.startswith("SELECT point FROM results"):
                raise sqlite3.OperationalError("disk I/O error")
            return self._db.execute(sql, *args)

    def init(self, path):
        real(self, path)
        self.db = Unreadable(self.db, room=0)

    monkeypatch.setattr(store.SweepStore, "__init__", init)
    assert cli.main(["sweep", str(SMALL), f"--vary={VARY[0]}", "--runs", "1024", "--workers", "1", "--quiet",
                     "--out", str(tmp_path / "s")]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"error: cannot write results to {tmp_path / 's'}: disk I/O error; "), line


def test_a_spec_whose_scenario_names_a_folder_names_the_spec_and_its_field(tmp_path, capsys):
    """`scenario: ..` (a folder) in a sweep spec: the line named only the folder ('error: ..: is a
    directory'), not the spec or its field, where a file it cannot read names both. One line naming
    the spec, `scenario` and the value, exit 2, nothing written."""
    spec = tmp_path / "s.yaml"
    spec.write_text("scenario: ..\nruns: 1024\nvary:\n  - {path: summit.bargaining.margin, low: 0, high: 0.2, "
                    "levels: 2}\n")
    assert cli.main(["sweep", "--spec", str(spec), "--out", str(tmp_path / "o")]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"error: {spec}: scenario: names a directory, not a scenario file") and \
        line.endswith("(got '..')"), line
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("damage", [b"", b"\0" * 4096])
def test_an_emptied_store_is_not_a_sweep_database_not_a_directory_sim_may_not_write(small_sweep, tmp_path, capsys,
                                                                                     damage):
    """A sweep.sqlite emptied (or zeroed) opens as a database without tables: the line said that
    SQLite could not open it ('no such table: meta') and that sim must be able to write in the
    directory, which it can. It is not a sweep database; --fresh replaces it."""
    stop_after(small_sweep, tmp_path, 1)
    (tmp_path / "sweep.sqlite").write_bytes(damage)
    assert cli.main([*SMALL_SWEEP_ARGS, "--out", str(tmp_path)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"error: {tmp_path / 'sweep.sqlite'}: not a sweep database (") and \
        line.endswith("); use --fresh to replace it"), line
    assert cli.main([*SMALL_SWEEP_ARGS, "--out", str(tmp_path), "--fresh"]) == 0
