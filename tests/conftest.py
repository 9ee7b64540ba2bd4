"""Shared fixtures and helpers: the small test scenario as text, data and object;
running a scenario while keeping every replicate's outputs."""

from __future__ import annotations

import copy
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import settings

from sim.model import compile_model
from sim.montecarlo import Chunk, run
from sim.randomness import Blocks
from sim.schema import Scenario
from sim.state import draw_state

DATA = Path(__file__).parent / "data"
SMALL = DATA / "small.yaml"

# Runs of the model take tens of milliseconds; a per-example deadline would only make
# property tests flaky on a busy machine. Health checks stay on. Examples stay random (CI has
# found real bugs that way); a failure prints the @reproduce_failure blob that replays it,
# since CI's fresh checkout has no example database to replay it from.
settings.register_profile("sim", deadline=None, print_blob=True)
settings.load_profile("sim")

# A shell starts a background job (`python -m pytest &`, nohup) with Ctrl-C ignored, and every
# child inherits that; sim then ignores it too, by design (a Ctrl-C its parent ignores is not
# for it). The tests of interrupts send SIGINT to this process and to the commands it starts,
# so they need Python's own handler: 38 of them failed in a suite started in the background.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# The commands' tables wrap at COLUMNS when it is set, and at 120 columns in a pipe
# (`sim.reporting.console`); the tests read them as a pipe does. pytest-xdist's workers are
# given COLUMNS=80 (execnet), and a shell may export its own: either wrapped 11 tables' lines
# in a parallel run.
for _size in ("COLUMNS", "LINES"):
    os.environ.pop(_size, None)

_SMALL_DICT = yaml.safe_load(SMALL.read_text(encoding="utf-8"))


def small_dict() -> dict:
    """tests/data/small.yaml as plain data, a fresh copy each call."""
    return copy.deepcopy(_SMALL_DICT)


def every_reference_dict() -> dict:
    """The small scenario with an agent or issue named in every field that can name one
    (`sim.strategies.references.REFERENCES`): summit weights and `required`, a veto player, a
    mediator, a `signed` condition nested in an `all`, effects naming an agent, an issue and a
    trust pair, besides what small.yaml names (parties, trust, an alliance, the rubric's issues)."""
    data = small_dict()
    data["agents"]["broker"] = {**data["agents"]["patron"], "capability": 0.5}
    data["summit"].update(required=["north"], weights={"north": 2.0, "south": 1.0})
    data["roles"] = {"veto": ["patron"], "mediators": [{"agent": "broker", "trust": 0.2, "margin": 0.1}]}
    data["events"][0]["effects"] += [{"target": "position", "agent": "south", "issue": "trade", "shift": 0.1},
                                     {"target": "trust", "between": ["south", "north"], "shift": 0.05}]
    data["incidents"][0]["effects"].append({"target": "resolve", "agent": "north", "shift": -0.05})
    data["outcome"]["substantive"].append({"all": [{"signed": ["north", "south"]},
                                                   {"issue": "trade", "at_least": 1.0}]})
    return data


def scenario_of(data: dict) -> Scenario:
    return Scenario.model_validate(data)


@dataclass
class Replicates:
    """Every replicate's outputs of one run, concatenated in replicate order."""

    counts: np.ndarray
    outcome: np.ndarray
    package: np.ndarray
    summit_day: np.ndarray
    position: np.ndarray
    result: object

    @property
    def substantive_or_better(self) -> np.ndarray:
        return self.outcome <= 1

    def same_as(self, other: Replicates) -> bool:
        return (np.array_equal(self.outcome, other.outcome)
                and np.array_equal(self.package, other.package)
                and np.array_equal(self.summit_day, other.summit_day)
                and np.array_equal(self.position, other.position))


def run_replicates(scenario: Scenario, **kwargs) -> Replicates:
    """`sim.run` with a list sink; returns the per-replicate outputs."""
    chunks: list[Chunk] = []
    result = run(scenario, sink=chunks.append, **kwargs)
    starts = [c.start for c in chunks]
    assert starts == sorted(starts)
    return Replicates(
        counts=result.counts.copy(),
        outcome=np.concatenate([c.outcome for c in chunks]),
        package=np.concatenate([c.package for c in chunks]),
        summit_day=np.concatenate([c.summit_day for c in chunks]),
        position=np.concatenate([c.position for c in chunks]),
        result=result,
    )


def state_of(scenario: Scenario, seed: int = 1, first_block: int = 0, n_blocks: int = 1, knobs=None):
    """(model, state, blocks): one chunk's freshly drawn state, before the timeline runs."""
    model = compile_model(scenario)
    blocks = Blocks(seed, first_block, n_blocks)
    return model, draw_state(model, blocks, knobs), blocks


@pytest.fixture(autouse=True)
def _signals_left_alone():
    """No test leaves the process's signals owned (`sim.errors.signals_owned`): a later test of a
    library call would see sim hold its host's Ctrl-C, and fail far from the cause."""
    import sim.errors

    yield
    owned, sim.errors._signals_owned = sim.errors._signals_owned, False
    assert not owned, "the test left sim.errors._signals_owned set"


@pytest.fixture
def small() -> dict:
    return small_dict()


@pytest.fixture(scope="session")
def small_path() -> Path:
    return SMALL


def read_columns(out: Path) -> dict[str, np.ndarray]:
    """A run's replicates.parquet as the in-memory chunk columns: outcome codes, package index
    (-1 for none), summit_day, position (n, n_agents, n_issues) in the file's agent/issue order."""
    import pyarrow.parquet as pq

    table = pq.read_table(out / "replicates.parquet")
    meta = {k.decode(): v.decode() for k, v in table.schema.metadata.items()}
    agents, issues = meta["sim.agents"].split(","), meta["sim.issues"].split(",")
    package = table.column("package").combine_chunks()
    index = package.indices if hasattr(package, "indices") else package
    position = np.stack([table.column(f"position.{a}.{i}").to_numpy() for a in agents for i in issues], axis=1)
    return {"outcome": table.column("outcome").combine_chunks().indices.to_numpy().astype(np.uint8),
            "package": index.fill_null(-1).to_numpy().astype(np.int64),
            "summit_day": table.column("summit_day").to_numpy(),
            "position": position.reshape(len(table), len(agents), len(issues))}


def signal_after(monkeypatch, module, name: str, caller: str | None = None, before: bool = False) -> list[str]:
    """Replace `module.name` by a call that sends this process a SIGINT (a Ctrl-C) as it returns
    (`before`: as it begins), the first time `caller` (a function's name; None: anyone) calls it;
    Python raises it at the caller's next step, unless held back. Returns a list that says it fired.
    The process is the command line's for the test (`sim.errors.signals_owned`): only there does
    sim hold a Ctrl-C back."""
    import sim.errors

    if not sim.errors._signals_owned:  # inside a command it is already; patched there, the undo after the
        monkeypatch.setattr(sim.errors, "_signals_owned", True)  # command would set it again, for every later test
    real, fired = getattr(module, name), []

    def call(*args, **kwargs):
        first = not fired and (caller is None or sys._getframe(1).f_code.co_name == caller)
        if first:
            fired.append(name)
            if before:
                signal.raise_signal(signal.SIGINT)
        result = real(*args, **kwargs)
        if first and not before:
            signal.raise_signal(signal.SIGINT)
        return result

    monkeypatch.setattr(module, name, call)
    return fired


def open_locks(folder: Path) -> list[str]:
    """The lock files in `folder` that this process has open."""
    names = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            names.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            continue
    return [name for name in names if name.startswith(str(folder)) and ".sim-lock" in name]


# --- Signals at start-up ---------------------------------------------------------------------------


def before_sims_code(name: str, returncode: int, err: str) -> bool:
    """Whether the signal came in the interpreter's own first moments, before any code of sim's
    runs (Python's start-up, its `site` module, runpy locating the package): no program can
    handle it there. Python dies of SIGINT silently or with runpy's traceback naming no file of
    sim, or, while it imports `site` (slower in a venv with an editable install's .pth files),
    with "Fatal Python error: init_import_site" (or init_sys_streams) and exit 1; of SIGTERM,
    silently. On a loaded machine this lasts past 0.1 s (a start-up hammer saw it at 0.176 s)."""
    if name == "SIGTERM":
        return returncode == -signal.SIGTERM and err == ""
    if name != "SIGINT" or "/sim/" in err:
        return False
    at_site = returncode == 1 and "Fatal Python error: init_" in err
    return (returncode == -signal.SIGINT and (err == "" or "KeyboardInterrupt" in err)) or \
        (at_site and "KeyboardInterrupt" in err)


def without_site_interrupted(err: str) -> str:
    """`err` without what Python's `site` prints when a SIGINT lands while it runs an installed
    .pth file's line (the editable install's finder): "Error processing line 1 of ...pth:", the
    KeyboardInterrupt's traceback (in Python 3.11 wrapped in a RuntimeError by `__set_name__`),
    "Remainder of file ignored". Python carries on and sim then runs to the end: the traceback is
    the interpreter's, printed before any code of sim's ran (seen once under pytest-xdist)."""
    start = err.find("Error processing line ")
    end = err.find("Remainder of file ignored\n", start)
    if start < 0 or end < 0 or ".pth:" not in err[start:end] or "KeyboardInterrupt" not in err[start:end]:
        return err
    return err[:start] + err[end + len("Remainder of file ignored\n"):].lstrip("\n")
