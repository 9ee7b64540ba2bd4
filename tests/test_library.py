"""sim used as a library (README, "Library use and property tests"): every public name says what
it is; the README's example and sim.strategies' docstring example work as written."""

from __future__ import annotations

import ast
import inspect
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import sim

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _public_members(obj):
    """`obj` and the public methods and properties its own class body defines."""
    yield obj.__name__, obj
    if inspect.isclass(obj):
        for name, member in vars(obj).items():
            if not name.startswith("_") and (inspect.isfunction(member) or isinstance(member, property)):
                yield f"{obj.__name__}.{name}", member


def test_every_public_name_and_what_it_returns_has_its_own_docstring():
    """help(sim) explains every name in sim.__all__ (but constants) and the classes its functions
    return: no docstring is missing, and none is the signature a dataclass writes for itself."""
    from sim.attribution import EventEffect, Explanation
    from sim.compare import Comparison, Difference
    from sim.knobs import KnobFile, KnobSetting
    from sim.posterior import Posterior

    names = [getattr(sim, n) for n in sim.__all__ if n not in ("CLASSES", "SUBSTANTIVE_OR_BETTER", "__version__")]
    missing = []
    for obj in [*names, Comparison, Difference, EventEffect, Explanation, KnobFile, KnobSetting, Posterior]:
        for name, member in _public_members(obj):
            doc = (member.fget if isinstance(member, property) else member).__doc__ or ""
            if not doc.strip() or doc.startswith(f"{name}("):
                missing.append(name)
    assert missing == []


def test_the_strategies_docstring_example_passes_at_hypothesis_default_settings(tmp_path):
    """The property test sim.strategies shows, run as a user would (no profile, default deadline):
    the first run in a process loads compiled kernels (about 0.5 s), so the example says
    deadline=None; without it hypothesis calls the test flaky."""
    import sim.strategies

    lines = sim.strategies.__doc__.splitlines()
    example = textwrap.dedent("\n".join(line for line in lines[lines.index("") + 1:] if not line or line[:4] == "    "))
    assert "deadline=None" in example and "def test_" in example
    test = tmp_path / "test_user.py"
    test.write_text(example.replace("settings(deadline=None)", "settings(deadline=None, max_examples=5)"))
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
                           str(test)], cwd=tmp_path, env=ENV, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow
def test_the_readmes_library_example_prints_what_it_says(capsys, monkeypatch):
    """The code under "Library use and property tests" runs as written (from the repository's root)
    and prints the figures its comments quote."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Library use and property tests"):]
    code = section[section.index("```python") + len("```python"):section.index("```", section.index("```python") + 9)]
    monkeypatch.chdir(ROOT)
    exec(compile(code, "README.md", "exec"), {})  # noqa: S102 (the README's own code, as a reader runs it)
    printed = capsys.readouterr().out.splitlines()
    quoted = [line.split("#", 1)[1].strip() for line in code.splitlines() if line.startswith("print(")]
    assert len(printed) == len(quoted) == 2
    assert printed[0].startswith(quoted[0].split(", low=")[0] + ", low=")  # Estimate(p=0.47514, low=
    p, spread = printed[1].split(" ", 1)
    quoted_p, quoted_spread = quoted[1].split(", ", 1)
    assert p == quoted_p
    spread = ast.literal_eval(spread)
    for key in ("low", "high"):
        shown = re.search(rf"'{key}': ([0-9.]+)", quoted_spread).group(1)
        assert round(spread[key], len(shown) - 2) == float(shown)
