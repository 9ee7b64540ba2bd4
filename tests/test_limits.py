"""Limits up front: numbers bounded where the model needs them, and work refused before it allocates."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from conftest import small_dict

from sim import InputError, parse_scenario
from sim.cli import main
from sim.limits import check_resources, estimate, parse_size
from sim.model import compile_model

SMALL = Path(__file__).parent / "data" / "small.yaml"


def problems_of(data: dict) -> str:
    with pytest.raises(InputError) as info:
        parse_scenario(yaml.safe_dump(data, sort_keys=False), "s.yaml")
    return "\n".join(str(p) for p in info.value.problems)


def write(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.mark.parametrize("change, words", [
    (lambda d: d["summit"].update(date="9999-12-31"), "summit.date: must be at most 20 years"),
    (lambda d: d["monte_carlo"].update(runs=True), "monte_carlo.runs: YAML read this as a boolean"),
    (lambda d: d["monte_carlo"].update(chunk_size=False), "monte_carlo.chunk_size: YAML read this as a boolean"),
    (lambda d: d["agents"]["north"]["elections"].append(
        {"name": "vote", "date": "2020-02-01", "audience_cost": 0.1, "window_days": True}),
     "agents.north.elections.0.window_days: YAML read this as a boolean"),
    (lambda d: d["dynamics"].update(rounds_per_week=True), "dynamics.rounds_per_week: YAML read this as a boolean"),
    (lambda d: d["issues"]["land"].update(status_quo=False), "issues.land.status_quo: YAML read this as a boolean"),
    (lambda d: d["agents"]["south"]["issues"]["land"].update(bounds=[True, 0.5]),
     "agents.south.issues.land.bounds.0: YAML read this as a boolean"),
    (lambda d: d["agents"]["north"].update(resolve={"dist": "beta", "mean": 0.5, "sd": 1e-300}),
     "agents.north.resolve.sd: must be at least"),
    (lambda d: d["agents"]["north"].update(capability=1e300), "agents.north.capability: numbers must lie within"),
    (lambda d: d["agents"]["north"].update(capability={"dist": "normal", "mean": 1e150, "sd": 1.0, "low": 0}),
     "agents.north.capability: numbers must lie within"),
    (lambda d: d.update(issues={f"i{k}": {"anchors": {f"a{j}": j / 8 for j in range(9)}, "status_quo": 0.0}
                                for k in range(7)}), "the summit menu"),
])
def test_numbers_the_model_cannot_use_are_refused_at_validation(change, words):
    """A summit in 9999, a boolean count, a beta of sd 1e-300, a capability of 1e300, a menu of
    4,782,969 packages: each is one error line, before anything runs."""
    data = small_dict()
    data["agents"]["north"].setdefault("elections", [])
    data.setdefault("dynamics", {})
    change(data)
    assert words in problems_of(data)


def test_the_menu_limit_is_a_million_packages():
    """A menu of exactly 2**20 packages (16 x 256 x 256 anchors) validates; one anchor more is
    refused, naming its size (the search visits every package of every replicate)."""
    data = small_dict()
    sizes = {"a": 16, "b": 256, "c": 256}
    data["issues"] = {i: {"anchors": {f"x{j}": j / (n - 1) for j in range(n)}, "status_quo": 0.0}
                      for i, n in sizes.items()}
    for agent in data["agents"].values():
        agent["issues"] = {i: {"position": 0.5, "salience": 1 / 3} for i in sizes}
    data["relations"]["alliances"][0]["issues"] = ["a"]
    data["outcome"] = {"breakthrough": [{"issue": "a", "at_least": 1.0}], "substantive": [{"issue": "b", "at_least": 0.5}]}
    parse_scenario(yaml.safe_dump(data, sort_keys=False), "s.yaml")  # valid
    data["issues"]["a"]["anchors"]["extra"] = 0.123456789
    assert "would hold 1,114,112 packages; at most 1,048,576" in problems_of(data)


def test_the_estimate_grows_with_what_the_engine_allocates():
    """More replicates per chunk, more weeks and a higher incident rate each raise the memory
    estimate; more runs raise the disk estimate only."""
    data = small_dict()
    base = compile_model(parse_scenario(yaml.safe_dump(data)))
    e = estimate(base, 4096, 1024)
    assert estimate(base, 4096, 8192).memory > e.memory
    assert estimate(base, 10**6, 1024).disk > e.disk
    assert estimate(base, 10**6, 1024).memory == pytest.approx(e.memory, rel=0.05)
    data["incidents"][0]["rate_per_month"] = 10**6
    assert estimate(compile_model(parse_scenario(yaml.safe_dump(data))), 4096, 1024).memory > 1 << 34
    data = small_dict()
    data["summit"]["date"] = "2039-12-31"
    assert estimate(compile_model(parse_scenario(yaml.safe_dump(data))), 4096, 1024).memory > e.memory
    assert set(e.breakdown) >= {"process", "state", "engine", "summit menu", "incident arrivals", "trajectories"}


def test_work_that_keeps_no_trajectories_is_estimated_without_them():
    """A sweep's points keep no fan chart: their estimate is a run's less its trajectories, and names none."""
    model = compile_model(parse_scenario(SMALL.read_text()))
    kept, none = estimate(model, 10**5, 8192, write=False), estimate(model, 10**5, 8192, write=False, trajectories=False)
    assert none.memory == kept.memory - kept.breakdown["trajectories"] and "trajectories" not in none.breakdown


def test_an_incident_rate_of_a_million_a_month_is_refused_in_a_second(tmp_path, capsys):
    """`run` of a scenario needing tens of GiB exits 2 with the estimate, before allocating anything."""
    data = small_dict()
    data["incidents"][0]["rate_per_month"] = 10**6
    started = time.perf_counter()
    assert main(["run", str(write(tmp_path / "s.yaml", data)), "--out", str(tmp_path / "o")]) == 2
    assert time.perf_counter() - started < 5
    err = capsys.readouterr().err
    assert "error: memory: this run would need about" in err and "GiB of memory (the largest part incident arrivals" in err
    assert not (tmp_path / "o").exists()


def test_max_memory_and_max_disk_refuse_with_the_estimate(tmp_path, capsys):
    """--max-memory and --max-disk take sizes like 2GiB; beyond them a run is refused (exit 2)."""
    assert main(["run", str(SMALL), "--runs", "1000000000", "--max-disk", "1GB", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "error: --max-disk: this run would write about 49.4 GiB, more than the 953.7 MiB allowed" in err
    assert main(["run", str(SMALL), "--max-memory", "10MiB", "--out", str(tmp_path / "o")]) == 2
    assert "error: --max-memory: this run would need about" in capsys.readouterr().err
    assert main(["run", str(SMALL), "--max-memory", "lots", "--out", str(tmp_path / "o")]) == 2
    assert "not a size: 'lots'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    nested = tmp_path / "results" / "small" / "o"  # a default --out's folders are made by no refused run
    assert main(["run", str(SMALL), "--max-memory", "10MiB", "--out", str(nested)]) == 2
    assert "error: --max-memory" in capsys.readouterr().err and not (tmp_path / "results").exists()


CASES = Path(__file__).parent / "data" / "cases"
WRITERS = {
    "compare": ["compare", str(SMALL), str(SMALL), "--runs", "1024"],
    "explain": ["explain", str(SMALL), "--runs", "1024"],
    "sweep": ["sweep", str(SMALL), "--vary", "summit.bargaining.margin=0.05:0.15:2", "--runs", "1024"],
    "backtest": ["backtest", str(CASES), "--runs", "1024"],
    "calibrate": ["calibrate", str(CASES), "--knobs", str(CASES / "knobs.yaml")],
}


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_every_command_that_writes_results_honours_max_disk(name, tmp_path, capsys):
    """--max-disk below the estimated result (its summary and plots; a sweep's or calibration's points) is refused
    up front, exit 2, nothing written; above it the command runs."""
    assert main([*WRITERS[name], "--max-disk", "1MB", "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --max-disk: this ") and "raise --max-disk" in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []
    if name in ("compare", "sweep"):
        assert main([*WRITERS[name], "--max-disk", "100MB", "--out", str(tmp_path / "o"), "--quiet"]) == 0


def test_the_points_count_in_the_disk_estimate():
    """A sweep's or calibration's estimate grows with its points and their factors."""
    from sim.limits import estimate_output

    assert estimate_output().disk < estimate_output(10).disk < estimate_output(10_000).disk
    assert estimate_output(10_000, 2).disk < estimate_output(10_000, 20).disk
    assert list(estimate_output().breakdown) == ["disk: summary and plots"]  # no points, none named
    assert list(estimate_output(10, 2).breakdown) == ["disk: summary and plots", "disk: points"]


def test_a_sweeps_points_count_in_its_memory_estimate():
    """A sweep holds every point's scenario: its memory grows by at least the scenario's own
    size a point, and the refusal then advises fewer points."""
    from sim import load_scenario
    from sim.limits import Estimate, estimate_points, object_bytes

    scenario = load_scenario(SMALL)
    size = object_bytes(scenario)
    assert 10_000 < size < 1 << 20  # a scenario's data, not an interpreter's worth
    work = Estimate(300 << 20, 0, {"process": 300 << 20})
    assert estimate_points(work, scenario, 10).memory == pytest.approx(work.memory, rel=0.01)
    many = estimate_points(work, scenario, 100_000)
    assert many.memory - work.memory >= 100_000 * size and many.breakdown["the points' scenarios"] > work.memory
    assert many.less_memory == "use fewer points"


@pytest.mark.parametrize("text, size", [("2GiB", 2 << 30), ("500MB", 500 * 10**6), ("1.5 G", 1_500_000_000),
                                        ("1e9", 10**9), ("4096", 4096), ("1kib", 1024)])
def test_sizes_read_as_bytes(text, size):
    """Sizes accept SI and binary units."""
    assert parse_size(text) == size


def test_check_resources_names_the_largest_part():
    """The refusal says how much, of what, and the limit."""
    e = estimate(compile_model(parse_scenario(SMALL.read_text())), 10**5, 8192)
    with pytest.raises(InputError) as info:
        check_resources(e, what="this run", max_memory=1 << 20)
    (problem,) = info.value.problems
    assert problem.source == "--max-memory" and "the largest part process" in problem.message


def test_the_refusal_advises_what_the_estimate_says():
    """How to need less memory and how to write less both come with the estimate; no advice, only the limit."""
    from sim.limits import Estimate

    e = Estimate(2 << 20, 2 << 20, {"rounds": 2 << 20}, less_memory="lower --rounds", less_disk="")
    with pytest.raises(InputError) as info:
        check_resources(e, what="this", max_memory=1 << 20, max_disk=1 << 20)
    memory, disk = (p.message for p in info.value.problems)
    assert memory.endswith("allowed; lower --rounds, or raise --max-memory")
    assert disk.endswith("allowed; raise --max-disk")


def test_free_disk_of_a_name_too_long_asks_its_parent(tmp_path):
    """A component longer than the file system allows (Path.exists raises): its parent's free space."""
    from sim.limits import free_disk

    assert free_disk(tmp_path / ("x" * 400) / "out") == free_disk(tmp_path)


def test_a_chunk_counts_as_whole_blocks_and_never_more_than_the_runs():
    """The memory of a chunk is that of its size rounded up to whole blocks of 1,024, at most the run's blocks
    (as `montecarlo.resolve_settings` cuts it), for the scenario's estimate and for eum's."""
    from sim.limits import estimate_eum

    model = compile_model(parse_scenario(SMALL.read_text(), str(SMALL)))
    assert estimate(model, 10_000, 1000).memory == estimate(model, 10_000, 1024).memory
    assert estimate(model, 10_000, 1025).memory == estimate(model, 10_000, 2048).memory
    assert estimate(model, 2000, 10**6).memory == estimate(model, 2000, 2048).memory
    assert estimate_eum(5, 10, 10_000, 1000).memory == estimate_eum(5, 10, 10_000, 1024).memory
    assert estimate_eum(5, 10, 2000, 10**6).memory == estimate_eum(5, 10, 2000, 2048).memory
    assert estimate_eum(5, 10, 2000, None).memory == estimate_eum(5, 10, 2000, 1024).memory


def test_the_eum_estimate_counts_each_variants_work_arrays():
    """eum's estimate counts the scholz Monte Carlo's six (actors, actors, tile) arrays (1.9 GB for
    800 actors: the estimate said 313 MiB) and the paper variant's (actors, actors, replicates)
    ones, measured at 12 to 13 of them, as well as the run's own."""
    from sim.eum.batch import TILE
    from sim.limits import EUM_TILE, estimate_eum

    assert EUM_TILE == TILE
    assert estimate_eum(800, 1, 2, None).memory - estimate_eum(800, 1, None).memory > 6 * 800**2 * TILE * 8
    paper = estimate_eum(50, 1, 3072, 3072, "paper").memory - estimate_eum(50, 1, None, None, "paper").memory
    assert paper > 13 * 50**2 * 3072 * 8
    assert estimate_eum(3000, 10, None, None, "paper").memory > 13 * 3000**2 * 8
