"""The `sim eum` command: what it prints for the reference data, its Monte Carlo, and its input errors."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from sim import cli

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "eum"
EXAMPLE = DATA / "ExampleActors.csv"
TOL = 1e-9
MC = ["--runs", "2000", "--salience-sd", "0.05", "--seed", "1", "--threshold", "8.5", "--json"]
GOOD_CSV = "Actor,Capability,Position,Salience\nA,1,4,0.5\nB,2,7,1\n"


def eum_json(capsys, *args: str) -> dict:
    assert cli.main(["eum", *map(str, args), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def without_timing(report: dict) -> dict:
    mc = dict(report["monte_carlo"])
    del mc["seconds"], mc["replicates_per_second"], mc["compile_seconds"]
    return {**report, "monte_carlo": mc}


# --- the deterministic run -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["ExampleActors", "Sultan"])
def test_json_reproduces_every_recorded_round(capsys, name):
    """--json gives the replication's median, mean, positions and risk exponents in every recorded round."""
    expected = json.loads((DATA / f"expected_{name}_10rounds.json").read_text(encoding="utf-8"))
    got = eum_json(capsys, DATA / f"{name}.csv")
    assert [r["round"] for r in got["rounds"]] == list(range(11))
    assert "monte_carlo" not in got
    for rec in expected["rounds"]:
        ours = got["rounds"][rec["round"]]
        assert ours["median"] == pytest.approx(rec["median_position"], rel=0, abs=TOL)
        assert ours["mean"] == pytest.approx(rec["mean_position"], rel=0, abs=TOL)
        assert ours["positions"] == pytest.approx(rec["positions"], rel=0, abs=TOL)
        if "risk_r_used_this_round" in rec:
            assert ours["risk"] == pytest.approx(rec["risk_r_used_this_round"], rel=0, abs=TOL)


def test_sultan_median_is_13_9_in_every_round(capsys):
    """Nobody in the Sultan data ever moves, so the median is 13.9 in rounds 0 to 10."""
    got = eum_json(capsys, DATA / "Sultan.csv")
    assert [r["median"] for r in got["rounds"]] == pytest.approx([13.9] * 11, rel=0, abs=TOL)


def test_rounds_and_variant_are_passed_on(capsys):
    """--rounds 3 gives rounds 0..3; the paper variant forecasts differently from scholz."""
    scholz = eum_json(capsys, EXAMPLE, "--rounds", "3")
    paper = eum_json(capsys, EXAMPLE, "--rounds", "3", "--variant", "paper")
    assert [r["round"] for r in scholz["rounds"]] == [0, 1, 2, 3]
    assert [r["positions"] for r in paper["rounds"]] != [r["positions"] for r in scholz["rounds"]]


def test_text_output_lists_each_round_and_who_moved(capsys):
    """The listing gives round 10's median and mean, and each mover's old and new position."""
    assert cli.main(["eum", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "round 10: median 7.000, mean 7.242" in out
    round_1 = out.split("round  1:")[1].split("round  2:")[0]
    assert "Belgium" in round_1 and "7.000 -> 8.416" in round_1
    assert "Netherlands" not in round_1  # did not move
    assert "Monte Carlo" not in out


# --- Monte Carlo ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mc_report() -> dict:
    """The 2000-run salience Monte Carlo at seed 1, run once for the module."""
    return _main_json(EXAMPLE, *MC)


def _main_json(*args) -> dict:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(["eum", *map(str, args)]) == 0
    return json.loads(out.getvalue())


def test_monte_carlo_agrees_with_the_published_200_runs(mc_report):
    """P(final median >= 8.5) over 2000 runs has a Wilson interval overlapping the published 0.80 +- 2 se."""
    p = mc_report["monte_carlo"]["p_at_least"]
    assert p["threshold"] == 8.5 and p["low"] <= p["estimate"] <= p["high"]
    published, se = 0.80, 0.028  # 160 of 200 runs
    assert p["low"] <= published + 2 * se and p["high"] >= published - 2 * se


def test_monte_carlo_json_carries_the_summary_and_the_deterministic_rounds(mc_report, capsys):
    """The Monte Carlo block has runs, seed, mean, sd and ordered quantiles; "rounds" is the unperturbed run."""
    mc = mc_report["monte_carlo"]
    assert mc["runs"] == 2000 and mc["seed"] == 1
    fm = mc["final_median"]
    assert fm["sd"] > 0 and 7 <= fm["mean"] <= 10
    assert fm["quantiles"]["0.05"] <= fm["quantiles"]["0.5"] <= fm["quantiles"]["0.95"]
    assert mc["seconds"] > 0 and mc["replicates_per_second"] > 0 and mc["compile_seconds"] >= 0
    assert mc_report["rounds"] == eum_json(capsys, EXAMPLE)["rounds"]
    half = 1.961151 * fm["sd"] / 2000**0.5  # the mean's Student t 95 % interval, 1,999 degrees of freedom
    assert fm["low"] == pytest.approx(fm["mean"] - half) and fm["high"] == pytest.approx(fm["mean"] + half)


def test_the_mean_of_a_few_replicates_has_a_student_t_interval(capsys):
    """Three replicates: the interval is t(2)'s, 4.3 standard errors each side, not the normal's 1.96."""
    assert cli.main(["eum", str(EXAMPLE), "--runs", "3", "--position-sd", "0.5", "--seed", "1", "--json"]) == 0
    fm = json.loads(capsys.readouterr().out)["monte_carlo"]["final_median"]
    half = 4.302653 * fm["sd"] / 3**0.5
    assert fm["high"] - fm["mean"] == pytest.approx(half, rel=1e-6) and fm["mean"] - fm["low"] == pytest.approx(half, rel=1e-6)


def test_same_seed_and_any_chunk_size_give_the_same_figures(mc_report):
    """Rerunning at seed 1, with another chunk size too, changes no figure except the timing."""
    again = _main_json(EXAMPLE, *MC)
    rechunked = _main_json(EXAMPLE, *MC, "--chunk-size", "37")
    assert without_timing(again) == without_timing(mc_report)
    assert without_timing(rechunked) == without_timing(mc_report)


def test_p_at_least_only_with_threshold(capsys):
    """Without --threshold the Monte Carlo block has no p_at_least."""
    got = eum_json(capsys, EXAMPLE, "--runs", "20", "--position-sd", "1", "--seed", "0", "--rounds", "2")
    assert "p_at_least" not in got["monte_carlo"]


def test_text_output_reports_the_monte_carlo_and_a_fresh_seed(capsys):
    """Without --seed a fresh seed is drawn and printed with how to repeat the run."""
    assert cli.main(["eum", str(EXAMPLE), "--runs", "50", "--capability-sd", "0.02", "--threshold", "8.5",
                     "--rounds", "2"]) == 0
    out = capsys.readouterr().out
    assert "round  2: median" in out
    assert "P(final median >= 8.5) = " in out and "replicates/s" in out
    seed = out.split("--seed ")[1].split()[0]
    assert int(seed) >= 0


def test_text_output_gives_the_mean_its_interval_and_counts_replicates(capsys):
    """The final median's mean carries its 95 % interval, as the JSON has it; "1 replicate" and
    "1 round" are singular, and one replicate has no interval to give."""
    args = ["eum", str(EXAMPLE), "--runs", "300", "--salience-sd", "0.05", "--seed", "4", "--rounds", "3"]
    fm = _main_json(*args[1:], "--json")["monte_carlo"]["final_median"]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert f"  mean {fm['mean']:.3f} [{fm['low']:.3f}, {fm['high']:.3f}] (95 %), sd {fm['sd']:.3f}; " in out
    assert "\n300 replicates, seed entropy 4, " in out
    assert cli.main(["eum", str(EXAMPLE), "--runs", "1", "--salience-sd", "0.05", "--seed", "4", "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    assert ": 10 actors, 1 round, variant scholz" in out
    assert " (one replicate: no interval), sd 0.000; " in out and "\n1 replicate, seed entropy 4, " in out


def test_a_monte_carlo_without_any_sd_says_every_replicate_is_the_same_run(capsys):
    """--runs with no --*-sd runs the unperturbed inputs each time: the header says so."""
    assert cli.main(["eum", str(EXAMPLE), "--runs", "20", "--seed", "1", "--rounds", "2"]) == 0
    out = capsys.readouterr().out
    assert "position sd 0: no perturbation, every replicate is the run above):" in out
    assert cli.main(["eum", str(EXAMPLE), "--runs", "20", "--seed", "1", "--rounds", "2", "--position-sd", "1"]) == 0
    assert "no perturbation" not in capsys.readouterr().out


def test_a_position_sd_with_every_actor_at_one_position_says_it_perturbs_nothing(tmp_path, capsys):
    """Positions are clipped to their initial range: with every actor at one position the
    noise is clipped away, and the header says so instead of "position sd 1"."""
    path = tmp_path / "one.csv"
    path.write_text("Actor,Capability,Position,Salience\nA,1,5,0.5\nB,2,5,1\n", encoding="utf-8")
    assert cli.main(["eum", str(path), "--runs", "50", "--position-sd", "1", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "here one point): no perturbation, every replicate is the run above" in out
    assert cli.main(["eum", str(path), "--runs", "50", "--position-sd", "1", "--salience-sd", "0.1"]) == 0
    out = capsys.readouterr().out
    assert "here one point)" in out and "no perturbation" not in out


def test_progress_reports_each_chunk_on_stderr_and_changes_nothing(capsys):
    """A Monte Carlo of many actors runs for minutes: `--progress` reports it chunk by chunk
    (plain lines off a terminal) on stderr, and stdout is the run without it."""
    args = [str(DATA / "Sultan.csv"), "--runs", "3000", "--salience-sd", "0.05", "--seed", "1",
            "--chunk-size", "1024", "--json"]
    quiet = eum_json(capsys, *args)
    assert cli.main(["eum", *args, "--progress"]) == 0
    out, err = capsys.readouterr()
    assert without_timing(json.loads(out)) == without_timing(quiet)
    lines = [line for line in err.splitlines() if line.startswith("replicates: ")]
    assert lines and lines[-1].startswith("replicates: 3,000 of 3,000 (100 %)"), err


def test_progress_of_a_single_run_reports_each_round_and_changes_nothing(capsys):
    """A single run of thousands of actors takes minutes a round (O(n^3)): `--progress`
    without --runs reports its rounds on stderr, and stdout is the run without it."""
    args = [str(DATA / "Sultan.csv"), "--rounds", "4"]
    assert cli.main(["eum", *args]) == 0
    quiet = capsys.readouterr()
    assert cli.main(["eum", *args, "--progress"]) == 0
    out, err = capsys.readouterr()
    assert out == quiet.out and quiet.err == ""
    assert err.splitlines()[-1].startswith("rounds: 4 of 4 (100 %)"), err
    assert cli.main(["eum", *args, "--progress", "--runs", "1500", "--seed", "1", "--salience-sd", "0.05"]) == 0
    lines = capsys.readouterr().err.splitlines()  # the rounds, then the replicates
    labels = [line.split(":")[0] for line in lines]
    assert labels == sorted(labels, key=["rounds", "replicates"].index) and labels[0] == "rounds", lines
    assert lines[-1].startswith("replicates: 1,500 of 1,500 (100 %)"), lines


@pytest.mark.parametrize("variant", ["scholz", "paper"])
def test_a_run_heard_round_by_round_is_bit_for_bit_the_run_in_one_call(variant):
    """run_eum with progress runs its rounds one call at a time: the same trajectory, to the bit."""
    from sim.eum import load_actors_csv, run_eum

    a = load_actors_csv(DATA / "ExampleActors.csv")
    heard = []
    whole = run_eum(a.capability, a.position, a.salience, rounds=10, variant=variant)
    step = run_eum(a.capability, a.position, a.salience, rounds=10, variant=variant,
                   progress=lambda done, rounds: heard.append((done, rounds)))
    assert heard == [(t, 10) for t in range(1, 11)]
    for field in ("positions", "risk", "median", "mean"):
        assert np.array_equal(getattr(whole, field), getattr(step, field)), field


def test_the_library_hears_of_every_chunk():
    """run_eum_monte_carlo calls progress(done, n) after each chunk, done rising to n."""
    from sim.eum import load_actors_csv, run_eum_monte_carlo

    heard = []
    run_eum_monte_carlo(load_actors_csv(DATA / "Sultan.csv"), 1, 2500, salience_sd=0.05, chunk_size=1024,
                        progress=lambda done, n: heard.append((done, n)))
    assert heard == [(1024, 2500), (2048, 2500), (2500, 2500)]


def test_help_states_the_columns_and_their_ranges(capsys):
    """`sim eum --help` says what the file must be: commas, UTF-8, the columns and salience's 0 to 1."""
    assert cli.main(["eum", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "comma-separated UTF-8 file with columns Actor, Capability (>= 0), Position (any scale), " \
           "Salience (0 to 1)" in out


# --- input errors -------------------------------------------------------------------------------

BAD_CSV = {  # name: (file text, what the error line names)
    "missing_column": ("Actor,Capability,Position\nA,1,4\nB,2,7\n", "Salience: missing column"),
    "not_a_number": ("Actor,Capability,Position,Salience\nA,1,4,0.5\nB,two,7,1\n",
                     "line 3.Capability: must be a finite number (got 'two')"),
    "salience_1.5": ("Actor,Capability,Position,Salience\nA,1,4,1.5\nB,2,7,1\n",
                     "line 2.Salience: must be between 0 and 1 (got 1.5)"),
    "one_actor": ("Actor,Capability,Position,Salience\nA,1,4,0.5\n", "must list at least two actors (got 1)"),
    "repeated_actor": ("Actor,Capability,Position,Salience\nA,1,4,0.5\nA,2,7,1\n",
                       "line 3.Actor: must be unique: line 2 has the same name (got 'A')"),
    "overflowing_position": ("Actor,Capability,Position,Salience\nA,1,1e308,0.5\nB,2,7,1\n",
                             "line 2.Position: must be between -1e+100 and 1e+100 (got 1e+308)"),
    "no_weight": ("Actor,Capability,Position,Salience\nA,0,4,0.5\nB,2,7,0\n",
                  "Capability, Salience: some actor must have capability x salience > 0"),
}

BAD_OPTIONS = [  # (options, what each error line names)
    (["--rounds", "0"], ["--rounds: must be >= 1 (got 0)"]),
    (["--q", "1.5"], ["--q: must be in [0, 1] (got 1.5)"]),
    (["--runs", "0"], ["--runs: must be >= 1 (got 0)"]),
    (["--runs", "5", "--salience-sd", "-0.1"], ["--salience-sd: must be a finite number >= 0 (got -0.1)"]),
    (["--runs", "5", "--capability-sd", "nan"], ["--capability-sd: must be a finite number >= 0 (got nan)"]),
    (["--runs", "5", "--position-sd", "inf"], ["--position-sd: must be a finite number >= 0 (got inf)"]),
    (["--runs", "5", "--seed", "-1"], ["--seed: must be >= 0 (got -1)"]),
    (["--runs", "5", "--chunk-size", "0"], ["--chunk-size: must be >= 1 (got 0)"]),
    (["--runs", "5", "--threshold", "nan"], ["--threshold: must be a finite number (got nan)"]),
    (["--seed", "3"], ["--seed: applies only with --runs N (got 3)"]),
    (["--rounds", "0", "--runs", "-2"], ["--rounds: must be >= 1", "--runs: must be >= 1"]),
    (["--rounds", "1000000000"], ["--rounds: must be at most 10,000 (got 1000000000)"]),
    (["--runs", "300000000", "--salience-sd", "0.1", "--max-memory", "1GiB"],
     [("--max-memory: this eum run would need about 53.9 GiB of memory (the largest part Monte Carlo medians and "
       "means: 49.2 GiB), more than the 1.0 GiB allowed; lower --runs or --rounds, or raise --max-memory")]),
    (["--variant", "bdm"], ["argument --variant: invalid choice"]),
    (["--runs", "ten"], ["argument --runs: not a whole number: 'ten'"]),
]


def assert_errors(status: int, err: str, expected: list[str]) -> None:
    lines = err.strip().splitlines()
    assert status == 2
    assert len(lines) == len(expected), lines
    for line, words in zip(lines, expected):
        assert line.startswith("error: ") and words in line
    assert "Traceback" not in err


@pytest.mark.parametrize("name", BAD_CSV)
def test_bad_csv_exits_2_with_one_error_line(tmp_path, capsys, name):
    """A bad actors file exits 2 with one `error:` line naming the file, the place and the value."""
    text, expected = BAD_CSV[name]
    path = tmp_path / f"{name}.csv"
    path.write_text(text, encoding="utf-8")
    status = cli.main(["eum", str(path)])
    captured = capsys.readouterr()
    assert_errors(status, captured.err, [f"{path}: {expected}"])
    assert captured.out == ""


def test_a_monte_carlo_of_many_actors_is_refused_for_its_work_arrays(tmp_path, capsys):
    """The Monte Carlo kernel's (actors, actors, 64) work arrays count: 300 actors need about
    280 MB more than their inputs (3,000 actors 28 GB, which ran out of memory instead of being
    refused), and the refusal says that only fewer actors help."""
    path = tmp_path / "many.csv"
    path.write_text("Actor,Capability,Position,Salience\n"
                    + "".join(f"a{k},1,{k % 7 + 1},0.5\n" for k in range(300)), encoding="utf-8")
    status = cli.main(["eum", str(path), "--rounds", "1", "--runs", "2", "--salience-sd", "0.1",
                       "--max-memory", "400MiB"])
    captured = capsys.readouterr()
    assert_errors(status, captured.err, ["the largest part the Monte Carlo's work arrays: 263.7 MiB), more than "
                                         "the 400.0 MiB allowed; use fewer actors"])
    assert captured.out == ""


def test_missing_file_exits_2(tmp_path, capsys):
    """A file that does not exist exits 2 with one `error:` line saying it cannot be read."""
    path = tmp_path / "absent.csv"
    status = cli.main(["eum", str(path)])
    assert_errors(status, capsys.readouterr().err, [f"{path}: cannot read file: No such file or directory"])


@pytest.mark.parametrize(("options", "expected"), BAD_OPTIONS, ids=lambda v: " ".join(v) if v else "")
def test_bad_option_exits_2_naming_option_and_value(tmp_path, capsys, options, expected):
    """A bad option value exits 2 before anything runs, one `error:` line per bad option."""
    path = tmp_path / "actors.csv"
    path.write_text(GOOD_CSV, encoding="utf-8")
    status = cli.main(["eum", str(path), *options])
    captured = capsys.readouterr()
    assert_errors(status, captured.err, expected)
    assert captured.out == ""


def test_bad_options_and_bad_file_are_reported_together(tmp_path, capsys):
    """Option problems and file problems come out at once, options first."""
    path = tmp_path / "actors.csv"
    path.write_text(BAD_CSV["salience_1.5"][0], encoding="utf-8")
    status = cli.main(["eum", str(path), "--q", "-1"])
    assert_errors(status, capsys.readouterr().err, ["--q: must be in [0, 1]", "line 2.Salience"])


def test_python_m_sim_eum_reports_bad_input_without_traceback(tmp_path):
    """`python -m sim eum` on a one-actor file with a bad option exits 2 with plain `error:` lines."""
    path = tmp_path / "one.csv"
    path.write_text(BAD_CSV["one_actor"][0], encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, "-m", "sim", "eum", str(path), "--rounds", "-3"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)
    assert_errors(proc.returncode, proc.stderr, ["--rounds: must be >= 1 (got -3)", "at least two actors"])
    assert proc.stdout == ""


@pytest.mark.parametrize("sig", [signal.SIGINT, pytest.param(signal.SIGTERM, marks=pytest.mark.slow)],
                         ids=["SIGINT", "SIGTERM"])  # SIGTERM takes the same path: 3 s more, under slow
def test_a_long_monte_carlo_stops_at_once_on_ctrl_c_or_sigterm(tmp_path, sig):
    """Ctrl-C (or SIGTERM) in a Monte Carlo whose one compiled call would run for minutes:
    exit 130 within seconds, `interrupted` on stderr, nothing on stdout."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-m", "sim", "eum", str(EXAMPLE), "--rounds", "2000", "--runs", "8192",
                             "--salience-sd", "0.1", "--seed", "1"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(3.0)  # past start-up: in the kernel's one call, about a minute long
    sent = time.monotonic()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert time.monotonic() - sent < 5, err
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert out == ""



def test_a_slow_monte_carlo_prints_its_rate_not_zero(capsys):
    """Many actors run fewer than one replicate a second: the rate shows two significant digits
    (0.11 replicates/s), not a rounded 0 that says nothing ran."""
    import argparse

    from sim.cli.eum import _print_eum
    from sim.eum import load_actors_csv
    from sim.eum.summary import summarise_eum

    report = summarise_eum(load_actors_csv(EXAMPLE), rounds=2, runs=2, seed=1, salience_sd=0.1)
    report["monte_carlo"].update(seconds=18.2, replicates_per_second=2 / 18.2)
    args = argparse.Namespace(actors=EXAMPLE, rounds=2, variant="scholz", q=1.0)
    _print_eum(report, args, fresh_seed=False)
    assert capsys.readouterr().out.splitlines()[-1] == "2 replicates, seed entropy 1, 18.20 s, 0.11 replicates/s"


def test_the_json_names_the_file_the_variant_and_q(capsys):
    """--json says which actors file, variant and q it ran, as the text's first line does: a saved
    paper run is not mistaken for the replication."""
    report = eum_json(capsys, EXAMPLE, "--rounds", "2", "--variant", "paper", "--q", "0.5")
    assert (report["actors"], report["variant"], report["q"]) == (str(EXAMPLE), "paper", 0.5)
    assert len(report["rounds"]) == 3
