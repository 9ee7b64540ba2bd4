"""Which version of the model computed a number: a digest of the code that turns a scenario into
replicate outcomes.

A posterior is a fit of the knobs *to one version of the model*: the same knob values under
changed dynamics, bargaining or random streams mean something else, and its leave-one-out
scores no longer hold. `sim calibrate` records `model_digest()` in the posterior, and applying
a posterior whose digest differs from the running code's prints a warning naming the refit.

The digest is of each module's source with comments, docstrings and blank lines left out, so
editing a comment, a docstring or the spacing does not make a posterior stale; any other change
to the code does, even one that happens not to change a number (a warning too many, never one
too few). It is computed from the text, not from Python's syntax tree or tokens, whose printed
forms change between Python versions.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib
import io
import tokenize
from pathlib import Path

__all__ = ["MODEL_MODULES", "code_text", "model_digest"]

MODEL_MODULES = (
    "sim.canonical", "sim.distributions", "sim.knobs", "sim.model", "sim.montecarlo", "sim.randomness",
    "sim.rubric", "sim.state", "sim.summit", "sim.timeline", "sim.schema", "sim.engines", "sim.eum",
)
"""Every module (or package: all its modules) on the path from a scenario to an outcome."""


@functools.cache
def model_digest() -> str:
    """sha256 (first 16 hex digits) of the model's code, comments and docstrings left out."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in _sources():
        code = code_text(path.read_text("utf-8"))
        h.update(path.relative_to(root).as_posix().encode() + b"\0" + code.encode() + b"\0")
    return h.hexdigest()[:16]


def code_text(source: str) -> str:
    """`source` without its comments, docstrings, trailing spaces and blank lines."""
    lines = source.splitlines()
    drop = set()
    for node in ast.walk(ast.parse(source)):
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            drop.update(range(body[0].lineno - 1, body[0].end_lineno))
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:  # one line, running to its end
            row, col = tok.start[0] - 1, tok.start[1]
            lines[row] = lines[row][:col]
    kept = (line.rstrip() for k, line in enumerate(lines) if k not in drop)
    return "\n".join(line for line in kept if line)


def _sources() -> list[Path]:
    files = []
    for name in MODEL_MODULES:
        module = importlib.import_module(name)
        origin = Path(module.__file__).resolve()
        files += sorted(origin.parent.rglob("*.py")) if origin.name == "__init__.py" else [origin]
    return files
