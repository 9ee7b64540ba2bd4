"""Writing a run's results: whole or not at all, and equal to what was run."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import read_columns, scenario_of, small_dict

from sim import InputError, load_scenario, run
from sim.io import write_json_atomic
from sim.model import CLASSES
from sim.results import ResultWriter, default_out_dir, summarise_run

ROOT = Path(__file__).resolve().parents[1]
SMALL = Path(__file__).parent / "data" / "small.yaml"
RUNS = 2500  # three chunks of 1,024, the last one partial


@pytest.fixture(scope="module")
def scenario():
    return load_scenario(SMALL)


def load_column(out: Path, name: str) -> np.ndarray:
    return read_columns(out)[name]


def test_written_columns_equal_the_replicates_run(scenario, tmp_path):
    """replicates.parquet holds exactly the per-replicate outputs the run produced, in order."""
    chunks = []
    out = tmp_path / "res"
    with ResultWriter(out) as writer:
        def sink(chunk):
            chunks.append(chunk)
            writer.sink(chunk)

        result = run(scenario, runs=RUNS, seed=3, chunk_size=1024, sink=sink)
        summary = writer.finish(result, {"scenario_file": str(SMALL)})

    assert len(chunks) == 3
    dtypes = {"outcome": np.uint8, "package": np.int64, "summit_day": np.int32, "position": np.float32}
    for name, dtype in dtypes.items():
        column = load_column(out, name)
        assert len(column) == RUNS
        in_memory = np.concatenate([getattr(c, name) for c in chunks]).astype(dtype)
        if name == "position":  # the chunk's agents and issues are in canonical order, the file's in its own
            m = result.model
            in_memory = in_memory[:, [m.agents.index(a) for a in scenario.agents]][
                :, :, [m.issues.index(i) for i in scenario.issues]]
        np.testing.assert_array_equal(column, in_memory)
    assert load_column(out, "position").shape == (RUNS, 3, 2)
    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk == summary
    assert on_disk["runs"] == RUNS
    assert [on_disk["classes"][c]["count"] for c in CLASSES] == np.bincount(
        load_column(out, "outcome"), minlength=4).tolist()
    assert (out / "outcomes.png").stat().st_size > 0 and (out / "fan.png").stat().st_size > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["res"]


def test_summary_is_valid_json_with_every_figure(scenario):
    """The summary names the inputs and seed, and every class has p, low, high and count."""
    result = run(scenario, runs=2048, seed=5)
    summary = summarise_run(result, "x.yaml")
    text = json.dumps(summary, allow_nan=False)
    assert json.loads(text) == summary
    assert summary["seed_entropy"] == 5 and summary["scenario"] == "small"
    assert summary["scenario_file"] == "x.yaml"
    assert set(summary["classes"]) == set(CLASSES)
    assert set(summary["headline"]) == {"substantive_or_better", "talk_fest", "collapse"}
    assert math.isclose(sum(e["p"] for e in summary["classes"].values()), 1.0)
    for e in [*summary["classes"].values(), *summary["deals"]]:
        assert 0 <= e["low"] <= e["p"] <= e["high"] <= 1
    assert 1 <= len(summary["deals"]) <= 8
    assert summary["deals"] == sorted(summary["deals"], key=lambda d: -d["p"])
    assert set(summary["deals"][0]["levels"]) == {"land", "trade"}


def test_writing_into_an_existing_result_replaces_it_whole(scenario, tmp_path):
    """An earlier result of `run` at the same path (its manifest and nothing else) is replaced."""
    out = tmp_path / "res"
    for runs in (2048, 1024):
        with ResultWriter(out) as writer:
            result = run(scenario, runs=runs, seed=1, sink=writer.sink)
            writer.finish(result)
    assert json.loads((out / "summary.json").read_text())["runs"] == 1024
    assert len(load_column(out, "outcome")) == 1024
    assert sorted(p.name for p in tmp_path.iterdir()) == ["res"]


def test_a_directory_that_is_not_a_result_is_never_replaced(tmp_path):
    """`--out` pointing at a directory of other files is an input error, and the files stay."""
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(InputError, match="holds files sim did not write"):
        with ResultWriter(tmp_path):
            pass
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_an_exception_inside_the_writer_leaves_nothing(scenario, tmp_path):
    """A failure before `finish` leaves neither the result nor its temp directory."""
    out = tmp_path / "res"
    with pytest.raises(ValueError, match="boom"):
        with ResultWriter(out) as writer:
            run(scenario, runs=2048, seed=1, sink=writer.sink)
            raise ValueError("boom")
    assert list(tmp_path.iterdir()) == []


def test_leaving_without_finish_leaves_nothing(tmp_path):
    """A writer that is never finished writes nothing."""
    with ResultWriter(tmp_path / "res"):
        pass
    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_run_is_written_whole_for_the_replicates_done(scenario, tmp_path):
    """A stop (what Ctrl-C sets in the CLI) after the first chunk: the result holds that
    chunk, marked interrupted."""
    out = tmp_path / "res"
    stop = threading.Event()

    def ctrl_c(done, total):
        stop.set()

    with ResultWriter(out) as writer:
        result = run(scenario, runs=5000, seed=2, chunk_size=1024, sink=writer.sink, progress=ctrl_c, stop=stop)
        summary = writer.finish(result)
    assert result.interrupted and result.runs == 1024
    assert summary["interrupted"] is True and summary["runs"] == 1024 and summary["requested_runs"] == 5000
    assert len(load_column(out, "outcome")) == 1024 and load_column(out, "position").shape[0] == 1024
    assert sum(e["count"] for e in summary["classes"].values()) == 1024


@pytest.mark.parametrize("workers", [1, 2])
def test_a_stop_inside_the_sink_still_gives_a_consistent_result(scenario, tmp_path, workers):
    """A stop right after a chunk was written but before it was counted, on one worker or
    two: the written rows are the result, and the summary counts exactly them."""
    out = tmp_path / "res"
    calls = []
    stop = threading.Event()
    with ResultWriter(out) as writer:
        def sink(chunk):
            writer.sink(chunk)
            calls.append(chunk)
            if len(calls) == 2:
                stop.set()

        result = run(scenario, runs=50_000, seed=2, chunk_size=1024, sink=sink, workers=workers, stop=stop)
        summary = writer.finish(result)
    assert summary["interrupted"] is True and summary["runs"] == 2048 and summary["workers"] == workers
    outcome = load_column(out, "outcome")
    assert len(outcome) == 2048
    np.testing.assert_array_equal(outcome, np.concatenate([c.outcome for c in calls]))
    assert [summary["classes"][c]["count"] for c in CLASSES] == np.bincount(outcome, minlength=4).tolist()


def test_write_json_atomic_refuses_nan_and_leaves_no_temp_file(tmp_path):
    """Invalid JSON is never written, not even half."""
    with pytest.raises(ValueError):
        write_json_atomic(tmp_path / "a.json", {"p": float("nan")})
    assert list(tmp_path.iterdir()) == []
    write_json_atomic(tmp_path / "a.json", {"p": 0.5})
    assert json.loads((tmp_path / "a.json").read_text()) == {"p": 0.5}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_a_write_that_fails_midway_leaves_the_old_file_whole_and_no_temp_file(tmp_path, monkeypatch):
    """The NaN above is refused before any file is opened, so it says nothing of atomicity: here the
    disk fills after half the bytes are out. The file keeps its old content and no temp file is left."""
    import sim.io

    path = tmp_path / "a.json"
    write_json_atomic(path, {"p": 0.5})
    before = path.read_bytes()
    real_open = open

    class HalfWritten:
        def __init__(self, fh):
            self.fh = fh

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

        def write(self, data):
            self.fh.write(data[: len(data) // 2])
            self.fh.flush()
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(sim.io, "open", lambda *a, **k: HalfWritten(real_open(*a, **k)), raising=False)
    with pytest.raises(OSError, match="No space left"):
        write_json_atomic(path, {"p": 0.75, "note": "x" * 1000})
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_default_out_dir_is_results_scenario_run_id():
    """results/<scenario>/<UTC stamp>-<suffix>, different each call."""
    a, b = default_out_dir("small"), default_out_dir("small")
    assert a.parts[:2] == ("results", "small") and a != b
    assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{6}", a.name)


def test_an_unwritable_out_dir_is_an_input_error(tmp_path):
    """An --out path that cannot be a directory (under a file) is an InputError naming --out."""
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(InputError) as info:
        with ResultWriter(blocker / "out"):
            pass
    assert info.value.problems[0].source == "--out"
    assert list(tmp_path.iterdir()) == [blocker]


def test_running_and_plotting_leave_the_hosts_matplotlib_backend_alone(tmp_path):
    """A notebook that chose its backend keeps it after `sim` runs a scenario and writes its plots."""
    code = (
        "import matplotlib; matplotlib.use('svg')\n"
        "import sim\n"
        "from sim.results import ResultWriter\n"
        f"scenario = sim.load_scenario({str(SMALL)!r})\n"
        f"with ResultWriter({str(tmp_path / 'out')!r}) as writer:\n"
        "    writer.finish(sim.run(scenario, runs=2048, seed=1, sink=writer.sink))\n"
        "assert matplotlib.get_backend() == 'svg', matplotlib.get_backend()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "fan.png").stat().st_size > 0


def test_a_data_scientist_opens_a_run_in_one_line(scenario, tmp_path):
    """pandas reads replicates.parquet with labelled columns: outcome and package as categoricals
    carrying every class and the whole menu, positions named by agent and issue; the trajectory
    file holds the fan chart's weekly quantiles."""
    import pandas as pd

    import sim

    out = tmp_path / "res"
    with ResultWriter(out) as writer:
        writer.finish(run(scenario, runs=3000, seed=5, sink=writer.sink), {"scenario_file": str(SMALL)})
    df = sim.load_replicates(out)
    assert len(df) == 3000 and df["replicate"].tolist() == list(range(3000))
    assert list(df["outcome"].cat.categories) == list(CLASSES)
    summary = json.loads((out / "summary.json").read_text())
    assert list(df["package"].cat.categories) == [m["package"] for m in summary["menu"]]
    assert {"position.north.land", "position.south.trade", "signed.north", "summit_date"} <= set(df.columns)
    assert (df["outcome"] == "collapse").sum() == summary["classes"]["collapse"]["count"]
    assert df.loc[df["package"].isna(), "outcome"].isin(["talk_fest", "collapse"]).all()
    fan = pd.read_parquet(out / "trajectory.parquet")
    assert {"week", "date", "agent", "issue", "q05", "q50", "q95"} <= set(fan.columns)
    assert summary["inputs"][0]["file"] == "inputs/0-small.yaml" and (out / "inputs" / "0-small.yaml").is_file()


def test_inputs_are_recorded_as_the_run_read_them_not_as_edited_during_it(tmp_path, monkeypatch):
    """A base scenario edited while the run is going: `inputs/` holds the text the run used."""
    from sim.cli import main

    base = tmp_path / "sc" / "base.yaml"
    base.parent.mkdir()
    base.write_bytes(SMALL.read_bytes())
    child = tmp_path / "sc" / "child.yaml"
    child.write_text("extends: base.yaml\nname: child\n")
    real = ResultWriter.sink

    def edit_meanwhile(self, chunk):
        base.write_text(SMALL.read_text().replace("resolve: 0.5\n", "resolve: 0.95\n"))
        return real(self, chunk)

    monkeypatch.setattr(ResultWriter, "sink", edit_meanwhile)
    assert main(["run", str(child), "--runs", "1024", "--out", str(tmp_path / "o"), "--quiet"]) == 0
    assert "resolve: 0.95" in base.read_text()
    assert (tmp_path / "o" / "inputs" / "1-base.yaml").read_bytes() == SMALL.read_bytes()


def test_inputs_hold_the_resolved_scenario_which_reruns_the_run_exactly(tmp_path, capsys):
    """The copies in inputs/ keep their citations but name their bases by their original
    names (`extends: base.yaml` beside `1-base.yaml`), so they cannot be run as they stand;
    inputs/resolved.yaml is the scenario as validated, --set included, and reruns the same
    numbers with no warning."""
    from sim.cli import main

    (tmp_path / "sc").mkdir()
    (tmp_path / "sc" / "base.yaml").write_bytes(SMALL.read_bytes())
    child = tmp_path / "sc" / "child.yaml"
    child.write_text("extends: base.yaml\nname: child\nset: {summit.bargaining.margin: 0.05}\n")
    common = ["--runs", "2048", "--seed", "9", "--quiet"]
    assert main(["run", str(child), "--set", "agents.north.resolve=0.7", "--out", str(tmp_path / "a"), *common]) == 0
    first = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert first["resolved"] == "inputs/resolved.yaml"
    capsys.readouterr()
    assert main(["run", str(tmp_path / "a" / "inputs" / "resolved.yaml"), "--out", str(tmp_path / "b"), *common]) == 0
    assert capsys.readouterr().err == ""
    again = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert (again["classes"], again["scenario_hash"]) == (first["classes"], first["scenario_hash"])


@pytest.mark.parametrize("path", sorted(p for d in ("", "counterfactuals", "examples", "tutorial", "history", "later")
                                        for p in (ROOT / "scenarios" / d).glob("*.yaml")
                                        if not p.name.startswith("_") and p.name != "knobs.yaml"),
                         ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_shipped_scenario_resolves_to_an_equal_scenario(path, tmp_path):
    """What inputs/resolved.yaml holds (the fields the files set) reads back to the same scenario."""
    from sim import dump_scenario
    from sim.schema import scenario_hash

    scenario = load_scenario(path)
    (tmp_path / "r.yaml").write_text(dump_scenario(scenario))
    assert scenario_hash(load_scenario(tmp_path / "r.yaml")) == scenario_hash(scenario)


def test_a_deals_classes_count_its_replicates_per_class_and_sum_to_its_count():
    """summary.json's deals give each package's replicates per class: their sum is the deal's
    count, every class of the run's table is the sum over packages (and no deal) of that class,
    and `class` is the most frequent. With a rubric that asks an optional party to sign, one
    package is split between two classes by who signed it."""
    data = small_dict()
    data["summit"].update(parties=["north", "south", "patron"], required=["north", "south"])
    data["relations"]["trust"] = {"between": ["north", "south", "patron"], "initial": 0.5}
    data["outcome"]["substantive"] = [{"all": [{"issue": "trade", "at_least": 1.0}, {"signed": ["patron"]}]}]
    data["agents"]["patron"]["issues"]["trade"]["position"] = {"dist": "uniform", "low": 0.0, "high": 1.0}
    result = run(scenario_of(data), runs=4096, seed=3)
    summary = summarise_run(result)
    assert result.package_classes.shape == (len(result.model.packages) + 1, 4)
    np.testing.assert_array_equal(result.package_classes.sum(axis=0), result.counts)
    for deal in summary["deals"]:
        assert sum(deal["classes"].values()) == deal["count"]
        assert deal["class"] == max(deal["classes"], key=deal["classes"].get)
    assert any(set(deal["classes"]) == {"substantive", "talk_fest"} for deal in summary["deals"]), summary["deals"]


def test_a_deal_is_named_and_laid_out_in_the_files_order_of_issues():
    """A package's name joined its anchors in the engine's canonical order of issues, which
    follows each issue's role: Camp David's deals read `self_rule/treaty_framework/full_withdrawal`
    for a file that lists the Sinai first, and a role change (a veto player added) renamed the
    same deal. Names, summary.json's `issues` and each deal's levels follow the file's order."""
    scenario = load_scenario(ROOT / "scenarios" / "examples" / "camp_david_1978.yaml")
    result = run(scenario, runs=2000, seed=1)
    assert list(result.model.issues) != list(scenario.issues)  # else this test could not fail
    summary = summarise_run(result)
    assert summary["issues"] == list(scenario.issues)
    assert (summary["agents"], summary["parties"]) == (list(scenario.agents), scenario.summit.parties)
    for deal in [*summary["deals"], *summary["menu"]]:
        assert list(deal["levels"]) == list(scenario.issues)
        names = deal["package"].split("/")
        assert [scenario.issues[issue].anchors[name] for issue, name in zip(scenario.issues, names)] == \
            list(deal["levels"].values())


def test_replicates_parquet_lists_parties_agents_and_issues_in_the_files_order(tmp_path):
    """`signed.<party>` and `position.<agent>.<issue>` followed the engine's canonical order
    (roles), while summary.json follows the file: a 4-party file read `signed.russia,
    signed.iran, ...` with its positions starting at the mediator. Columns and the file's
    `sim.agents`/`sim.issues` labels now follow the file, and each column still holds its own
    agent's and issue's values."""
    import pyarrow.parquet as pq

    scenario = load_scenario(ROOT / "scenarios" / "examples" / "camp_david_1978.yaml")
    chunks, out = [], tmp_path / "res"
    with ResultWriter(out) as writer:
        def sink(chunk):
            chunks.append(chunk)
            writer.sink(chunk)

        result = run(scenario, runs=1500, seed=2, chunk_size=1024, sink=sink)
        writer.finish(result, {"scenario_file": "camp_david_1978.yaml"})
    model = result.model
    assert (list(model.issues) != list(scenario.issues)
            or list(model.agents) != list(scenario.agents))  # else this test could not fail
    table = pq.read_table(out / "replicates.parquet")
    meta = {k.decode(): v.decode() for k, v in table.schema.metadata.items()}
    assert meta["sim.agents"].split(",") == list(scenario.agents)
    assert meta["sim.issues"].split(",") == list(scenario.issues)
    assert [c.removeprefix("signed.") for c in table.column_names if c.startswith("signed.")] == \
        list(scenario.summit.parties)
    assert [c for c in table.column_names if c.startswith("position.")] == \
        [f"position.{a}.{i}" for a in scenario.agents for i in scenario.issues]
    position = np.concatenate([c.position for c in chunks])
    signed = np.concatenate([c.signed for c in chunks], axis=1)
    for a, agent in enumerate(model.agents):
        for i, issue in enumerate(model.issues):
            np.testing.assert_array_equal(table.column(f"position.{agent}.{issue}").to_numpy(), position[:, a, i])
    for k, party in enumerate(model.parties):
        np.testing.assert_array_equal(table.column(f"signed.{model.agents[party]}").to_numpy(), signed[k])
