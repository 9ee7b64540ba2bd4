"""Which version of the model computed a number: a digest of the code that turns a scenario into
replicate outcomes.

A posterior is a fit of the knobs *to one version of the model*: the same knob values under
changed dynamics, bargaining or random streams mean something else, and its leave-one-out
scores no longer hold. `sim calibrate` records `model_digest()` in the posterior, and applying
a posterior whose digest differs from the running code's prints a warning naming the refit.

The digest is of each module's syntax tree without docstrings, so editing a comment, a
docstring or the layout does not make a posterior stale; any change to the code does, even
one that happens not to change a number (a warning too many, never one too few).
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib
from pathlib import Path

__all__ = ["MODEL_MODULES", "model_digest"]

MODEL_MODULES = (
    "sim.canonical", "sim.distributions", "sim.knobs", "sim.model", "sim.montecarlo", "sim.randomness",
    "sim.rubric", "sim.state", "sim.summit", "sim.timeline", "sim.schema", "sim.engines", "sim.eum",
)
"""Every module (or package: all its modules) on the path from a scenario to an outcome."""


@functools.cache
def model_digest() -> str:
    """sha256 (first 16 hex digits) of the model's code, comments and docstrings left out."""
    h = hashlib.sha256()
    for path in _sources():
        tree = ast.parse(path.read_bytes(), filename=str(path))
        for node in ast.walk(tree):
            body = getattr(node, "body", None)
            if (isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body
                    and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                    and isinstance(body[0].value.value, str)):
                node.body = body[1:] or [ast.Pass()]
        name = path.relative_to(Path(__file__).resolve().parent).as_posix()
        h.update(name.encode() + b"\0" + ast.dump(tree).encode() + b"\0")
    return h.hexdigest()[:16]


def _sources() -> list[Path]:
    files = []
    for name in MODEL_MODULES:
        module = importlib.import_module(name)
        origin = Path(module.__file__).resolve()
        files += sorted(origin.parent.rglob("*.py")) if origin.name == "__init__.py" else [origin]
    return files
