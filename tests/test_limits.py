"""Limits up front: numbers bounded where the model needs them, and work refused before it allocates."""

from __future__ import annotations

import argparse
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from conftest import small_dict

from sim import InputError, parse_scenario
from sim.cli import main
from sim.limits import BASE_PROCESS, LIBRARY_WORDING, check_resources, estimate, parse_size
from sim.model import compile_model

SMALL = Path(__file__).parent / "data" / "small.yaml"
TIGHT = BASE_PROCESS + (1 << 19)
"""A memory limit just above what a loaded sim process takes (250.5 MiB): small work is refused
under it, and the refusal names the part of the work to change (below it, only a larger limit helps)."""


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
        check_resources(e, what="this run", max_memory=TIGHT)
    (problem,) = info.value.problems
    assert problem.source == "--max-memory" and "(the largest part trajectories: " in problem.message
    assert "lower --chunk-size" in problem.message


def test_a_limit_below_what_a_loaded_process_takes_is_not_met_by_a_smaller_chunk():
    """Below what a loaded sim process alone takes, no --chunk-size helps: the refusal says what the
    process takes and advises only a larger limit, not the process as a "part" to lower."""
    e = estimate(compile_model(parse_scenario(SMALL.read_text())), 10**5, 8192)
    with pytest.raises(InputError) as info:
        check_resources(e, what="this run", max_memory=10 << 10)
    (problem,) = info.value.problems
    assert "(a sim process alone takes about 250.0 MiB once loaded)" in problem.message
    assert problem.message.endswith("more than the 10.0 KiB allowed; raise --max-memory"), problem.message
    assert "chunk" not in problem.message and "largest part" not in problem.message


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


# --- The address-space limit (ulimit -v, RLIMIT_AS) -------------------------------------------


def _virtual_size() -> int:
    import os

    return int(Path("/proc/self/statm").read_text().split()[0]) * os.sysconf("SC_PAGE_SIZE")


needs_rlimit_as = pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="no /proc/self/statm to read")


@needs_rlimit_as
def test_the_room_under_the_address_space_limit_is_the_limit_less_the_virtual_size(monkeypatch):
    """The check reads the soft RLIMIT_AS and the process's virtual size now (statm's first
    field): their difference is the room left, 0 once past it; no limit (as usual) is None."""
    import resource

    from sim.address_space import address_space_limit, virtual_size

    def room():
        limit = address_space_limit()
        return None if limit is None else max(0, limit - virtual_size())

    real = resource.getrlimit(resource.RLIMIT_AS)
    monkeypatch.setattr(resource, "getrlimit", lambda which: (10 << 30, resource.RLIM_INFINITY)
                        if which == resource.RLIMIT_AS else real)
    before = _virtual_size()
    assert (10 << 30) - (64 << 20) - before <= room() <= (10 << 30) - before + (64 << 20)
    monkeypatch.setattr(resource, "getrlimit", lambda which: (1 << 20, resource.RLIM_INFINITY))
    assert room() == 0  # a process is larger than 1 MiB already
    monkeypatch.setattr(resource, "getrlimit", lambda which: (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    assert room() is None


LOADED = 1 << 30
"""What the tests below say a loaded sim process maps (`address_space.loaded_address_space`)."""


def _room(monkeypatch, room: int | None, now: int = 300 << 20) -> None:
    """Make the address-space limit leave `room` bytes above what a loaded sim process maps
    (`LOADED`) to the work's memory beyond the process itself (None: no limit), this process map
    `now` bytes, and the machine's memory plenty, so that only the limit can refuse."""
    import sim.limits

    monkeypatch.setattr(sim.limits, "available_memory", lambda: 1 << 50)
    monkeypatch.setattr(sim.limits, "_resident", lambda: 0)
    monkeypatch.setattr(sim.limits, "loaded_address_space", lambda: LOADED)
    monkeypatch.setattr(sim.limits, "_address_space", lambda: None if room is None else (LOADED + room, now))


def test_the_address_space_a_run_needs_is_a_loaded_process_and_the_work_beyond_it(monkeypatch):
    """RLIMIT_AS counts the address space a process maps, not the memory it holds: a run needs what
    a loaded sim process maps (about 1 GiB: its libraries, LLVM, threads and their arenas, though it
    holds 250 MiB) or what this process maps now if more, plus the work beyond the process. So the
    baseline's 307 MiB, which fitted the 640 MiB a 1,000 MB limit left at the check (the process
    mapped 336 MiB then), is refused there: it mapped 940 MiB by its end and died of a MemoryError."""
    import sim.limits
    from sim.limits import BASE_PROCESS, address_space_need

    work = estimate(compile_model(parse_scenario(SMALL.read_text())), 10**6, 65536)
    beyond = work.process_memory - BASE_PROCESS
    _room(monkeypatch, 1 << 30, now=336 << 20)
    assert address_space_need(work) == LOADED + beyond
    _room(monkeypatch, (2 << 30) + beyond - 1, now=3 << 30)  # a library caller's process that maps more already
    assert address_space_need(work) == (3 << 30) + beyond
    with pytest.raises(InputError, match=r"\(this process maps 3\.0 GiB already; the largest part of the work "):
        check_resources(work, what="this run")
    monkeypatch.setattr(sim.limits, "_address_space", lambda: (5 << 30, None))  # VmSize unknown: the loaded process
    assert address_space_need(work) == LOADED + beyond
    _room(monkeypatch, beyond, now=336 << 20)
    check_resources(work, what="this run")
    _room(monkeypatch, beyond - 1, now=336 << 20)
    with pytest.raises(InputError, match="^address space: this run would need about "):
        check_resources(work, what="this run")


def test_an_eum_run_is_held_to_what_a_process_running_eum_alone_maps(monkeypatch):
    """`sim eum` loads neither pyarrow nor scipy: its process maps about 600 MiB, not a run's 1 GiB,
    and a limit between the two lets it through (it was refused under 800 MB, where it finishes)."""
    import sim.limits
    from sim.address_space import eum_address_space
    from sim.limits import BASE_PROCESS, address_space_need, estimate_eum

    work = estimate_eum(10, 100, 100_000, 1024)
    assert work.loaded == eum_address_space() < sim.limits.loaded_address_space()
    _room(monkeypatch, 1 << 30, now=300 << 20)  # the run's loaded process: `LOADED`, patched; eum's its own
    assert address_space_need(work) == eum_address_space() + work.process_memory - BASE_PROCESS
    need = address_space_need(work)
    monkeypatch.setattr(sim.limits, "_address_space", lambda: (need - 1, 300 << 20))
    with pytest.raises(InputError, match=r"^address space: this eum run would need about .* \(a sim process maps "
                                         r"about .* once loaded; the largest part of the work "):
        check_resources(work, what="this eum run")


def test_what_a_loaded_process_maps_grows_with_the_cores_and_the_malloc_arenas(monkeypatch):
    """Each usable core after the first adds a thread to each OpenBLAS, with its stack and buffer,
    and each malloc arena after the first 64 MiB: the process's threads make one each (the cores
    and three more) unless MALLOC_ARENA_MAX caps them."""
    import sim.parallel
    from sim.address_space import ARENA_ADDRESS_SPACE, CORE_ADDRESS_SPACE, PROCESS_ADDRESS_SPACE, loaded_address_space

    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    monkeypatch.setattr(sim.parallel, "usable_cores", lambda: 1)
    assert loaded_address_space() == PROCESS_ADDRESS_SPACE + 3 * ARENA_ADDRESS_SPACE
    monkeypatch.setattr(sim.parallel, "usable_cores", lambda: 64)
    assert loaded_address_space() == PROCESS_ADDRESS_SPACE + 63 * CORE_ADDRESS_SPACE + 66 * ARENA_ADDRESS_SPACE
    for cap, arenas in (("1", 1), ("4", 4), ("1000", 67), ("0", 1), ("many", 67)):
        monkeypatch.setenv("MALLOC_ARENA_MAX", cap)
        assert loaded_address_space() == (PROCESS_ADDRESS_SPACE + 63 * CORE_ADDRESS_SPACE
                                          + (arenas - 1) * ARENA_ADDRESS_SPACE), cap


@needs_rlimit_as
def test_the_command_line_allows_one_malloc_arena_and_its_workers_too_unless_the_user_set_it():
    """`cap_malloc_arenas` (what `python -m sim` calls under a limit) asks glibc for one arena and
    sets MALLOC_ARENA_MAX=1 for the workers it spawns; a user's own value stands. Run in a child:
    this process's malloc is not the test's to change."""
    import os
    import sys

    code = ("import os, sim.address_space as a; a.cap_malloc_arenas(); "
            "print(os.environ.get('MALLOC_ARENA_MAX'), a.malloc_arenas(2))")
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    capped = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert capped.stdout.split() == ["1", "1"]
    mine = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**env, "MALLOC_ARENA_MAX": "3"}, check=True)
    assert mine.stdout.split() == ["3", "3"]


def test_the_address_space_limit_holds_one_process_not_the_sum_of_them(monkeypatch):
    """RLIMIT_AS is each process's own: with worker processes the work's largest process (the parent,
    its chunk and those waiting their turn) is held to the limit, not the sum over processes. The
    refusal names the address space needed, what a loaded process maps, the largest part of the
    work, the limit and what to change."""
    from sim.limits import BASE_PROCESS, format_size

    model = compile_model(parse_scenario(SMALL.read_text()))
    one, four = estimate(model, 4 << 20, 1 << 20), estimate(model, 4 << 20, 1 << 20, workers=4)
    assert one.per_process is None and one.process_memory == one.memory
    assert four.process_memory == four.memory - four.breakdown["worker processes"] < four.memory
    assert four.process_memory - one.process_memory == four.breakdown["chunks waiting their turn"]
    beyond = four.process_memory - BASE_PROCESS
    _room(monkeypatch, beyond)
    check_resources(four, what="this run")  # the sum is far beyond the limit; each process is not
    _room(monkeypatch, beyond - 1)
    with pytest.raises(InputError) as info:
        check_resources(four, what="this run")
    (problem,) = info.value.problems
    assert problem.source == "address space"
    assert problem.message == (
        f"this run would need about {format_size(LOADED + beyond)} of address space in one process (a sim process "
        f"maps about 1.0 GiB once loaded; the largest part of the work state: {format_size(four.breakdown['state'])})"
        f", more than its address-space limit of {format_size(LOADED + beyond - 1)} (ulimit -v); lower "
        "--chunk-size, simplify the scenario, or raise that limit")
    _room(monkeypatch, one.memory - BASE_PROCESS - 1)  # one process: no "in one process", and the library's wording
    with pytest.raises(InputError) as info:
        check_resources(one, what="this run", wording=LIBRARY_WORDING)
    assert str(info.value.problems[0]).startswith(f"address space: this run would need about "
                                                  f"{format_size(LOADED + one.memory - BASE_PROCESS)} of address "
                                                  "space (a sim process maps about 1.0 GiB once loaded; the largest "
                                                  "part of the work state: ")
    assert str(info.value.problems[0]).endswith("(ulimit -v); lower chunk_size=, simplify the scenario, or raise that "
                                                "limit")


def test_a_limit_the_process_alone_exceeds_is_refused_with_no_advice_but_raising_it(monkeypatch):
    """Under a limit below what a loaded sim process maps, no chunk size makes room: the refusal
    says what the process maps and asks for a larger limit only."""
    model = compile_model(parse_scenario(SMALL.read_text()))
    _room(monkeypatch, -(1 << 20))
    with pytest.raises(InputError) as info:
        check_resources(estimate(model, 1000, 1024), what="this run")
    assert str(info.value.problems[0]) == (
        "address space: this run would need about 1.0 GiB of address space (a sim process maps about 1.0 GiB once "
        "loaded), more than its address-space limit of 1023.0 MiB (ulimit -v); raise that limit")


def test_an_unlimited_address_space_changes_nothing_and_max_memory_replaces_the_limit(monkeypatch):
    """Without a limit (RLIM_INFINITY) the check is the memory available's alone, as before; an explicit
    max_memory replaces the default limits, the address space's among them, as it replaces the memory
    available (the command line hands its limit to the library this way: the library does not refuse
    a second time)."""
    model = compile_model(parse_scenario(SMALL.read_text()))
    work = estimate(model, 10**6, 65536)
    _room(monkeypatch, None)
    assert check_resources(work, what="this run") == 1 << 50
    _room(monkeypatch, 1 << 20)
    with pytest.raises(InputError, match="^address space: "):
        check_resources(work, what="this run")
    assert check_resources(work, what="this run", max_memory=1 << 40) == 1 << 40


def test_a_failure_the_address_space_limit_caused_is_one_line_and_any_other_keeps_its_traceback(monkeypatch):
    """Under a limit, a MemoryError or a library that could not be mapped, anywhere in the chain of
    causes, is said in one line naming the limit and the loader's own words (not llvmlite's
    wrapper); another error, or any error without a limit, is not (it keeps its traceback)."""
    import sim.address_space as space

    def chained(outer: BaseException, inner: BaseException) -> BaseException:
        try:
            try:
                raise inner
            except BaseException as exc:
                raise outer from exc
        except BaseException as exc:
            return exc

    monkeypatch.setattr(space, "loaded_address_space", lambda: 1 << 30)
    monkeypatch.setattr(space, "address_space_limit", lambda: 800 << 20)
    llvm = chained(OSError("Could not find/load shared object file 'libllvmlite.so'"),
                   OSError("/x/libllvmlite.so: failed to map segment from shared object"))
    assert space.describe_failure(llvm) == (
        "address space: sim ran out of address space under its limit of 800.0 MiB (ulimit -v): /x/libllvmlite.so: "
        "failed to map segment from shared object; a sim process maps about 1.0 GiB once loaded: raise that limit")
    assert space.describe_failure(chained(RuntimeError("in a worker"), MemoryError())).endswith(
        "(ulimit -v): MemoryError; a sim process maps about 1.0 GiB once loaded: raise that limit")
    arrow = Exception("Unknown error: Failed to launch worker thread: Resource temporarily unavailable")
    assert "(ulimit -v): Unknown error: Failed to launch worker thread" in space.describe_failure(arrow)
    assert space.describe_failure(chained(ValueError("a bug"), KeyError("x"))) is None
    monkeypatch.setattr(space, "address_space_limit", lambda: None)
    assert space.describe_failure(llvm) is None and space.describe_failure(MemoryError()) is None


def test_a_limit_below_what_python_and_numpy_map_is_refused_before_they_load(monkeypatch):
    """OpenBLAS ends a process it cannot start its threads in (exit 1 in its own words, or a SIGINT
    read as a Ctrl-C): below what Python and numpy map on these cores, sim refuses first."""
    import sim.address_space as space
    import sim.parallel

    monkeypatch.setattr(sim.parallel, "usable_cores", lambda: 2)
    start = space.START_ADDRESS_SPACE + 2 * space.START_CORE_ADDRESS_SPACE
    monkeypatch.setattr(space, "address_space_limit", lambda: start)
    assert space.start_refusal() is None
    monkeypatch.setattr(space, "address_space_limit", lambda: start - 1)
    assert space.start_refusal().startswith(
        "address space: sim cannot start under its address-space limit of 176.0 MiB (ulimit -v): Python with numpy "
        "maps about 176.0 MiB before any command runs, and a run about ")
    monkeypatch.setattr(space, "address_space_limit", lambda: None)
    assert space.start_refusal() is None


def _under_limit(limit_kib: int, args: str, cwd: Path) -> subprocess.CompletedProcess:
    """`python -m sim ARGS` under `ulimit -v LIMIT_KIB`, this checkout first on the path."""
    import os
    import shutil
    import sys

    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("no bash to set ulimit -v in")
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    command = f"ulimit -v {limit_kib} && exec {sys.executable} -m sim {args}"
    return subprocess.run([bash, "-c", command], capture_output=True, text=True, cwd=cwd, env=env, timeout=600)


@pytest.mark.slow
@needs_rlimit_as
@pytest.mark.parametrize("limit_kib, runs, workers", [
    (100_000, 1000, ""), (200_000, 1000, ""), (300_000, 1000, ""), (600_000, 1000, ""), (800_000, 1000, ""),
    (800_000, 1000, "--workers 2"), (950_000, 1000, ""), (800_000, 10**6, ""), (800_000, 10**6, "--workers 2"),
    (1_000_000, 10**6, ""), (1_000_000, 10**6, "--workers 2"), (1_200_000, 10**6, "--workers 2"),
    (1_500_000, 10**6, "--workers 2"), (2_000_000, 10**6, ""),
])
def test_under_any_address_space_limit_a_run_finishes_or_is_refused_in_one_line(tmp_path, limit_kib, runs, workers):
    """Whatever the limit, `sim run` on the baseline exits 0 with its result, or 2 with one line
    naming the limit and nothing written: never a MemoryError's traceback, OpenBLAS's own words
    (exit 1) or a SIGINT read as a Ctrl-C (130), as under 0.8 to 1 GB it did before the check
    counted what a loaded process maps."""
    scenario = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.yaml"
    out = tmp_path / "o"
    proc = _under_limit(limit_kib, f"run {scenario} --runs {runs} {workers} --out {out} --quiet", tmp_path)
    if proc.returncode == 0:
        assert (out / "summary.json").is_file()
        return
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if not line.startswith("note: ")]
    assert len(lines) == 1 and lines[0].startswith("error: address space: "), proc.stderr
    assert f"limit of {limit_kib / 1024:.1f} MiB (ulimit -v)" in lines[0] and lines[0].endswith("raise that limit")
    assert not out.exists()


@pytest.mark.slow
@needs_rlimit_as
@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_million_replicates_finish_in_a_gigabyte_of_address_space(tmp_path, workers):
    """With one malloc arena (`cap_malloc_arenas`) the baseline's million replicates need about
    760 MiB of address space a process on two cores: under `ulimit -v 1000000` they finish, where
    each thread's 64 MiB arena took the room and the run was refused, or died if let through."""
    scenario = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.yaml"
    out = tmp_path / "o"
    proc = _under_limit(1_000_000, f"run {scenario} --runs 1000000 --workers {workers} --out {out} --quiet", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (out / "summary.json").is_file()


@needs_rlimit_as
def test_a_run_beyond_the_address_space_limit_is_refused_up_front(tmp_path):
    """Under `ulimit -v`, a run whose one process needs more address space than the limit exits 2
    naming the limit, nothing written, where it started, allocated and died of a MemoryError (exit 1)."""
    import os
    import shutil
    import subprocess
    import sys

    from sim.limits import available_memory

    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("no bash to set ulimit -v in")
    runs = chunk = 1 << 20
    work = estimate(compile_model(parse_scenario(SMALL.read_text())), runs, chunk)
    limit_kib = 1_000_000  # 977 MiB: python -m sim starts in it (about 340 MiB at the check), the run's 1.5 GiB not
    assert work.memory > limit_kib << 10
    free = available_memory()
    if free is not None and free < 2 * work.memory:
        pytest.skip("too little memory available for the address-space limit to be the one that refuses")
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = tmp_path / "o"
    command = (f"ulimit -v {limit_kib} && exec {sys.executable} -m sim run {SMALL} --runs {runs} --chunk-size {chunk}"
               f" --workers 1 --out {out}")
    started = time.perf_counter()
    proc = subprocess.run([bash, "-c", command], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert time.perf_counter() - started < 60
    assert proc.stderr.startswith("error: address space: this run would need about "), proc.stderr
    assert " of address space (a sim process maps about " in proc.stderr
    assert "; the largest part of the work state: " in proc.stderr
    assert "its address-space limit of 976.6 MiB (ulimit -v); lower --chunk-size" in proc.stderr
    assert proc.stderr.rstrip().endswith("or raise that limit") and proc.stderr.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


@needs_rlimit_as
@pytest.mark.parametrize("limit_kib", [1_600_000, pytest.param(2_000_000, marks=pytest.mark.slow),
                                       pytest.param(2_400_000, marks=pytest.mark.slow)])  # 2.6 s each
def test_a_small_run_finishes_under_an_address_space_limit(tmp_path, limit_kib):
    """A run of 1,000 replicates maps under 1 GiB, but pyarrow's default allocator (mimalloc)
    reserves 1 GiB of address space where it can: under `ulimit -v 2000000` (not 1600000, where the
    reservation failed and mimalloc did without it) that left OpenBLAS short of room, and it ended
    the process (exit 1, "Memory allocation still failed"). `python -m sim` asks Arrow for the
    system allocator."""
    import os
    import shutil
    import subprocess
    import sys

    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("no bash to set ulimit -v in")
    root = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    env["PYTHONPATH"] = str(root) + os.pathsep + os.environ.get("PYTHONPATH", "")
    out = tmp_path / "o"
    command = f"ulimit -v {limit_kib} && exec {sys.executable} -m sim run {SMALL} --runs 1000 --out {out} --quiet"
    proc = subprocess.run([bash, "-c", command], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert (out / "summary.json").is_file()


@pytest.mark.parametrize("argv", [["compare", "{s}", "{s}"], ["explain", "{s}"]])
def test_compare_and_explain_are_not_held_to_trajectories_they_never_keep(argv, tmp_path, capsys):
    """Paired runs keep class tables, no fan chart: a 20-year horizon's trajectories (122 MiB for
    1,024 runs) are not counted, so work that fits under --max-memory is not refused for them (only
    --max-disk is, here, which stops it before it runs)."""
    from sim.cli.paired import _explain_estimate, _paired_estimate

    data = small_dict()
    data["summit"]["date"] = "2039-12-31"
    path = write(tmp_path / "long.yaml", data)
    scenario = parse_scenario(path.read_text())
    kept = estimate(compile_model(scenario), 1024, 1024, write=False)
    assert kept.breakdown["trajectories"] > 100 << 20
    args = argparse.Namespace(runs=1024, seed=1, chunk_size=None)
    for work in (_paired_estimate([scenario, scenario], args), _explain_estimate(scenario, args)):
        assert "trajectories" not in work.breakdown and work.memory < 300 << 20
    command = [a.format(s=path) for a in argv]
    assert main([*command, "--runs", "1024", "--max-memory", "300MiB", "--max-disk", "1B",
                 "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "error: --max-disk: " in err and "--max-memory:" not in err, err
    assert not (tmp_path / "o").exists()


# --- The library's sweep, calibration and eum refuse as its run does --------------------------


def _refusal(call, *args, **kwargs) -> str:
    """The one problem `call(*args, **kwargs)` is refused with, as text."""
    with pytest.raises(InputError) as info:
        call(*args, **kwargs)
    (problem,) = info.value.problems
    text = str(problem)
    assert "--" not in text, text  # the library's arguments, never the command line's options
    return text


def test_a_library_sweep_beyond_max_memory_is_refused_before_anything_is_written(tmp_path, monkeypatch):
    """`run_sweep(max_memory=)` holds a sweep to the estimate the command line uses (a point on each
    worker, every point's scenario), naming max_memory and what the sweep's arguments set; without
    it, the memory available now. Nothing is built, claimed or written."""
    import sim.limits
    import sim.sweep.driver
    from sim.sweep import make_sweep, run_sweep

    built = []
    monkeypatch.setattr(sim.sweep.driver, "make_point_scenarios", lambda *a, **k: built.append(1))
    sweep = make_sweep(SMALL, ["summit.bargaining.margin=0.05:0.15:2"], None, runs=1024, seed=1)
    text = _refusal(lambda: run_sweep(sweep, out=tmp_path / "o", max_memory=TIGHT))
    assert text.startswith("max_memory: this sweep (2 points, one running on each worker) would need about ")
    assert text.endswith("more than the 250.5 MiB allowed; simplify the scenario (a chunk is one block of 1,024 "
                         "replicates already), or pass a larger max_memory= (bytes)")
    chunky = make_sweep(SMALL, ["summit.bargaining.margin=0.05:0.15:2"], None, runs=8192, seed=1,
                        overrides={"monte_carlo.chunk_size": 8192})
    assert _refusal(lambda: run_sweep(chunky, out=tmp_path / "o", workers=1, max_memory=TIGHT)).endswith(
        "allowed; lower the scenario's monte_carlo.chunk_size, simplify the scenario, or pass a larger max_memory= "
        "(bytes)")
    assert _refusal(lambda: run_sweep(sweep, out=tmp_path / "o", max_memory="1GiB")).startswith(
        "max_memory: must be a whole number of bytes >= 1")
    monkeypatch.setattr(sim.limits, "available_memory", lambda: 1 << 20)
    monkeypatch.setattr(sim.limits, "_resident", lambda: 0)
    assert _refusal(lambda: run_sweep(sweep, out=tmp_path / "o")).startswith("memory: this sweep (2 points")
    assert built == [] and list(tmp_path.iterdir()) == []


def test_a_library_sweeps_estimate_is_the_command_lines(tmp_path, capsys):
    """The command line and the library hold a sweep to one estimate (`estimate_sweep`): the command's
    refusal under --max-memory is the library's under max_memory=, in its own words."""
    from sim.sweep import make_sweep, run_sweep

    vary = "summit.bargaining.margin=0.05:0.15:2"
    assert main(["sweep", str(SMALL), "--vary", vary, "--runs", "1024", "--seed", "1", "--workers", "1",
                 "--max-memory", str(TIGHT), "--out", str(tmp_path / "o")]) == 2
    cli = capsys.readouterr().err.strip()
    sweep = make_sweep(SMALL, [vary], None, runs=1024, seed=1)
    library = _refusal(lambda: run_sweep(sweep, out=tmp_path / "o", workers=1, max_memory=TIGHT))
    assert cli.split("; ")[0].replace("error: --max-memory: ", "") == library.split("; ")[0].replace(
        "max_memory: ", "")


def test_a_library_calibration_beyond_max_memory_is_refused_before_anything_is_written(tmp_path):
    """`run_calibration(max_memory=)` holds each case, a task on each worker, to it before any
    point runs: the refusal names the case, max_memory, and where its replicates and chunks are set."""
    from dataclasses import replace

    from sim.backtest import load_cases
    from sim.calibrate import run_calibration
    from sim.knobs import load_knobs

    cases, spec = load_cases(CASES), load_knobs(CASES / "knobs.yaml")
    text = _refusal(lambda: run_calibration(cases, spec, tmp_path / "cal", workers=1, max_memory=TIGHT))
    assert text.startswith(f"max_memory: the case {cases[0].path} would need about ")
    assert text.endswith("more than the 250.5 MiB allowed; simplify the scenario (a chunk is one block of 1,024 "
                         "replicates already), or pass a larger max_memory= (bytes)")
    chunky = [replace(case, scenario=case.scenario.model_copy(update={"monte_carlo": case.scenario.monte_carlo.model_copy(
        update={"chunk_size": 8192})})) for case in cases]
    more = spec.model_copy(update={"runs": 8192})
    assert _refusal(lambda: run_calibration(chunky, more, tmp_path / "cal", workers=1, max_memory=TIGHT)).endswith(
        "allowed; lower the case's monte_carlo.chunk_size, simplify the scenario, or pass a larger max_memory= "
        "(bytes)")
    assert list(tmp_path.iterdir()) == []


def test_the_library_eum_summaries_beyond_max_memory_are_refused_before_a_round_runs(monkeypatch):
    """`summarise_eum`, `summarise_run` and `summarise_monte_carlo` take max_memory= as `run` does and
    refuse, before any round runs, work of the estimate `sim eum` checks (the Monte Carlo alone without
    the run on the actors as given), naming max_memory and the arguments (runs=, rounds=, chunk_size=)."""
    import sim.eum.summary
    from sim.eum import load_actors_csv
    from sim.eum.summary import summarise_eum, summarise_monte_carlo, summarise_run
    from sim.limits import estimate_eum

    ran = []
    monkeypatch.setattr(sim.eum.summary, "run_eum", lambda *a, **k: ran.append(1))
    monkeypatch.setattr(sim.eum.summary, "run_eum_monte_carlo", lambda *a, **k: ran.append(1))
    actors = load_actors_csv(Path(__file__).parent / "data" / "eum" / "ExampleActors.csv")
    for call, what in ((lambda m: summarise_eum(actors, runs=4096, max_memory=m), "this eum run"),
                       (lambda m: summarise_run(actors, rounds=100_000, max_memory=m), "this eum run"),
                       (lambda m: summarise_monte_carlo(actors, runs=4096, max_memory=m), "this eum Monte Carlo")):
        text = _refusal(call, TIGHT)
        assert text.startswith(f"max_memory: {what} would need about ")
        assert text.endswith("more than the 250.5 MiB allowed; lower runs= or rounds=, or pass a larger max_memory= "
                             "(bytes)")
    n = len(actors.names)
    alone, whole = estimate_eum(n, 10, 4096, None, as_given=False), estimate_eum(n, 10, 4096, None)
    assert alone.memory < whole.memory and "rounds as given" not in alone.breakdown
    assert _refusal(lambda: summarise_eum(actors, runs=0, max_memory=1 << 40)).startswith("summarise_eum: runs: ")
    assert _refusal(lambda: summarise_run(actors, max_memory=-1)).startswith("max_memory: must be a whole number")
    assert ran == []


@pytest.mark.parametrize("command, names", [
    (["sweep", str(SMALL), "--vary", "agents.south.resolve=0.4:0.6:2", "--set", "monte_carlo.chunk_size=8192",
      "--runs", "8192"], "lower the scenario's monte_carlo.chunk_size"),
    (["calibrate", str(CASES), "--knobs", "{knobs}"], "lower the case's monte_carlo.chunk_size"),
    (["backtest", str(CASES)], "lower the case's monte_carlo.chunk_size"),
])
def test_a_command_without_chunk_size_names_where_the_chunk_size_is_set(tmp_path, capsys, command, names):
    """sweep, calibrate and backtest have no --chunk-size: their refusal names the scenario's field to
    lower, not an option the command would reject (the cases' chunks are 2,048 replicates)."""
    knobs = yaml.safe_load((CASES / "knobs.yaml").read_text()) | {"runs": 4096}
    (tmp_path / "knobs.yaml").write_text(yaml.safe_dump(knobs))
    command = [str(tmp_path / "knobs.yaml") if word == "{knobs}" else word for word in command]
    assert main([*command, "--max-memory", str(TIGHT), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert names in err and "--chunk-size" not in err
    assert not (tmp_path / "o").exists()


def test_a_disk_too_full_is_named_by_the_folder_the_results_go_to(tmp_path, capsys, monkeypatch):
    """Without --max-disk the refusal compares with the free space where --out is: the line names
    that folder, so that a user whose --out is on another disk than the current folder knows which."""
    import sim.limits

    monkeypatch.setattr(sim.limits, "free_disk", lambda path: 1000)
    out = tmp_path / "deep" / "o"
    assert main(["run", str(SMALL), "--runs", "1024", "--out", str(out)]) == 2
    (err,) = capsys.readouterr().err.splitlines()
    assert err.startswith("error: disk: this run would write about ") and \
        f"more than the 1000 B free on the file system of {out}; " in err, err
    assert not (tmp_path / "deep").exists()
