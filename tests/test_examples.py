"""The example summits in scenarios/examples/: they validate, run, and exercise the
features they are there to show (k parties, a mediator, a veto player), and the
commands the folder's README prints work on them."""

from __future__ import annotations

import glob
import re
import shlex
from pathlib import Path

import numpy as np
import pytest

from sim import load_scenario, run
from sim.cli import main
from sim.loading import scenario_warnings

EXAMPLES = Path(__file__).resolve().parent.parent / "scenarios" / "examples"
FILES = sorted(EXAMPLES.glob("*.yaml"))
RUNS = 2048


def test_the_three_examples_are_there():
    """The folder holds the three example scenarios and the meetings table."""
    assert {p.stem for p in FILES} == {"camp_david_1978", "lausanne_2015", "copenhagen_2009"}
    assert (EXAMPLES / "meetings.csv").is_file()


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_an_example_validates_without_warnings(path, capsys):
    """Every example validates and prints no warning."""
    assert scenario_warnings(load_scenario(path), str(path)) == []
    assert main(["validate", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("ok:") and err == ""


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_an_example_runs_and_its_probabilities_sum_to_one(path):
    """Every example runs 2,048 replicates whose class probabilities sum to 1."""
    scenario = load_scenario(path)
    result = run(scenario, runs=RUNS, seed=1)
    assert result.runs == RUNS
    p = result.counts / result.runs
    assert np.isclose(p.sum(), 1.0)
    assert scenario.observed is not None


def test_the_examples_exercise_k_parties_a_mediator_and_a_veto_player():
    """At least one example has 3+ parties, one a mediator, one a veto player, one optional parties."""
    scenarios = [load_scenario(p) for p in FILES]
    assert any(len(s.summit.parties) >= 3 for s in scenarios)
    assert any(s.roles.mediators for s in scenarios)
    assert any(s.roles.veto for s in scenarios)
    assert any(s.summit.required is not None and set(s.summit.required) < set(s.summit.parties)
               for s in scenarios)


def test_backtest_of_the_folder_exits_zero(tmp_path, capsys):
    """`sim backtest scenarios/examples/` scores the three cases against the meetings table."""
    assert main(["backtest", str(EXAMPLES), "--runs", str(RUNS), "--out", str(tmp_path / "bt")]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ("camp_david_1978", "lausanne_2015", "copenhagen_2009"))


def test_explain_and_sweep_exit_zero_on_an_example(tmp_path):
    """`explain` on Camp David and a two-point `sweep` on Lausanne run to completion: exit 0, and
    results that hold every replicate, every event's effect and both points (exit 0 alone would
    pass a command that wrote nothing)."""
    import json

    camp_david = EXAMPLES / "camp_david_1978.yaml"
    assert main(["explain", str(camp_david), "--runs", str(RUNS), "--quiet",
                 "--out", str(tmp_path / "explain")]) == 0
    summary = json.loads((tmp_path / "explain" / "summary.json").read_text())
    assert summary["runs"] == RUNS and summary["interrupted"] is False
    assert sum(summary["classes"][c]["count"] for c in ("breakthrough", "substantive", "talk_fest", "collapse")) == RUNS
    assert sorted(e["name"] for e in summary["events"]) == sorted(e.name for e in load_scenario(camp_david).events)
    assert main(["sweep", str(EXAMPLES / "lausanne_2015.yaml"), "--runs", str(RUNS), "--quiet",
                 "--vary", "agents.supreme_leader.issues.enrichment.position=0.0:0.45:2",
                 "--out", str(tmp_path / "sweep")]) == 0
    assert json.loads((tmp_path / "sweep" / "sweep.json").read_text())["points_done"] == 2


def test_the_readme_walk_through_runs_as_printed():
    """scenarios/tutorial/fisheries.yaml, the README's first file: valid, and the numbers the
    README prints (100,000 replicates, seed 1) are the ones it gives."""
    from sim import load_scenario, run

    result = run(load_scenario(EXAMPLES.parent / "tutorial" / "fisheries.yaml"), workers=1)
    assert result.runs == 100_000
    assert [int(c) for c in result.counts] == EXPECTED_FISHERIES


EXPECTED_FISHERIES = [0, 96628, 392, 2980]  # breakthrough, substantive, talk fest, collapse


def test_the_readme_walk_through_calibrated_figures_are_the_posteriors():
    """The README's calibrated fisheries figures (substantive, talk fest, the knobs' range for
    substantive) are what `run --calibration scenarios/history/posterior.json` gives with the
    committed posterior: a refit that moves them must rewrite the sentence (one went stale)."""
    import re

    from sim import load_posterior
    from sim.reporting import fmt_estimate, fmt_p

    root = EXAMPLES.parents[1]
    scenario = load_scenario(root / "scenarios" / "tutorial" / "fisheries.yaml")
    knobs, note = load_posterior(root / "scenarios" / "history" / "posterior.json").setting(scenario)
    result = run(scenario, workers=1, knobs=knobs, calibration=note)
    e, spread = result.estimates(), result.parameter_spread((1,))
    printed = (f"gives substantive {fmt_estimate(e['substantive'].p, e['substantive'].low, e['substantive'].high)} "
               f"and talk fest {fmt_estimate(e['talk_fest'].p, e['talk_fest'].low, e['talk_fest'].high)}, and the "
               f"knobs' 95 % range for substantive is [{fmt_p(spread['low'])}, {fmt_p(spread['high'])}]")
    readme = " ".join((root / "README.md").read_text(encoding="utf-8").split())
    quoted = re.search(r"--calibration scenarios/history/posterior\.json` (gives substantive .*? for substantive "
                       r"is \[[0-9.]+, [0-9.]+\])", readme)
    assert quoted is not None and quoted.group(1) == printed


def _quoted_commands(readme: Path) -> list[tuple[str, list[str]]]:
    """The blocks of `readme` that show a command and what it printed: (the command after `$ `,
    the printed lines)."""
    blocks = readme.read_text(encoding="utf-8").split("```")[1::2]
    return [(lines[0][2:], lines[1:]) for lines in (b.strip("\n").splitlines() for b in blocks)
            if lines and lines[0].startswith("$ python -m sim ")]


def _timeless(line: str) -> str:
    """A printed line without what changes from run to run or machine to machine: seconds,
    replicates a second, the processes the default workers came to, a first run's compiling."""
    line = re.sub(r"; and [\d.]+ s compiling the numba kernels \(once: they are cached\)", "", line)
    line = re.sub(r"\d[\d,]*(\.\d+)? s\b", "T s", line)
    line = re.sub(r"\d[\d,]* replicates/s", "R replicates/s", line)
    return re.sub(r"\d+ process(es)?\b", "P processes", line)


def test_the_folders_readme_prints_what_the_commands_print(tmp_path, capsys, monkeypatch):
    """Each block of scenarios/examples/README.md that shows a command (`$ python -m sim ...`) shows
    what that command prints today, line for line, but for timings and the `results:` line (its
    --out is under /tmp, as the README says): the README says its blocks were printed again with
    the code of the day, and a reader takes the format (intervals, replicates) from them."""
    root = EXAMPLES.parent.parent
    monkeypatch.chdir(root)
    quoted = _quoted_commands(EXAMPLES / "README.md")
    assert len(quoted) >= 5, quoted
    for k, (command, printed) in enumerate(quoted):
        argv = [arg for word in shlex.split(command)[3:]
                for arg in (sorted(glob.glob(word)) if "*" in word else [word])]
        if argv[0] != "validate":
            argv += ["--out", str(tmp_path / str(k))]
        assert main(argv) == 0, command
        got = [line.rstrip() for line in capsys.readouterr().out.splitlines() if not line.startswith("results: ")]
        assert [_timeless(line) for line in got] == [_timeless(line.rstrip()) for line in printed], command
