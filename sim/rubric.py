"""The outcome rubric, compiled: which class a deal falls in.

Level conditions become boolean masks over the menu of packages; `signed`
conditions test which parties signed, per replicate; `all` and `any` combine
them. `classify` maps every replicate's deal (a package index, or -1 for none)
and signatories to a class code at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .schema import AllOf, AnyOf, Level, Outcome, Signed

__all__ = ["BREAKTHROUGH", "CLASSES", "COLLAPSE", "Rubric", "SUBSTANTIVE", "SUBSTANTIVE_OR_BETTER", "TALK_FEST",
           "compile_rubric"]

CLASSES = ("breakthrough", "substantive", "talk_fest", "collapse")
BREAKTHROUGH, SUBSTANTIVE, TALK_FEST, COLLAPSE = range(4)
SUBSTANTIVE_OR_BETTER = (BREAKTHROUGH, SUBSTANTIVE)
"""The headline group: class codes that count as "substantive or better"."""

_TOL = 1e-12  # levels are anchors written in the file: compare them with a hair of slack


@dataclass(frozen=True)
class Node:
    kind: str  # "level" | "signed" | "all" | "any"
    mask: np.ndarray | None = None  # level: (n_packages,) bool
    parties: tuple[int, ...] = ()  # signed: positions in the party list
    children: tuple[Node, ...] = ()


@dataclass(frozen=True)
class Rubric:
    breakthrough: tuple[Node, ...]
    substantive: tuple[Node, ...]
    uses_signatures: bool
    package_class: np.ndarray  # (n_packages,) class of each package when every party signs

    def classify(self, package: np.ndarray, signed: np.ndarray | None = None) -> np.ndarray:
        """Class codes (n,) uint8 of deals `package` (n,) (-1: no deal, a talk fest) signed by
        `signed` (n_parties, n) bool; collapses are the caller's to set."""
        has = package >= 0
        if not self.uses_signatures or signed is None:
            out = np.where(has, self.package_class[np.maximum(package, 0)], TALK_FEST)
            return out.astype(np.uint8)
        safe = np.maximum(package, 0)
        out = np.full(package.shape, TALK_FEST, dtype=np.uint8)
        out[has & _any(self.substantive, safe, signed)] = SUBSTANTIVE
        out[has & _any(self.breakthrough, safe, signed)] = BREAKTHROUGH
        return out


def _holds(node: Node, package: np.ndarray, signed: np.ndarray) -> np.ndarray:
    if node.kind == "level":
        return node.mask[package]
    if node.kind == "signed":
        return np.all(signed[list(node.parties)], axis=0)
    parts = [_holds(c, package, signed) for c in node.children]
    return np.logical_and.reduce(parts) if node.kind == "all" else np.logical_or.reduce(parts)


def _any(nodes: tuple[Node, ...], package: np.ndarray, signed: np.ndarray) -> np.ndarray:
    return np.logical_or.reduce([_holds(n, package, signed) for n in nodes])


def compile_rubric(outcome: Outcome, packages: np.ndarray, issues: tuple[str, ...],
                   parties: tuple[str, ...]) -> Rubric:
    """The rubric over the menu `packages` (n_packages, n_issues), issues and parties in model order."""

    def node(c) -> Node:
        if isinstance(c, Level):
            lo, hi = c.bounds()
            level = packages[:, issues.index(c.issue)]
            return Node("level", mask=(level >= lo - _TOL) & (level <= hi + _TOL))
        if isinstance(c, Signed):
            return Node("signed", parties=tuple(parties.index(p) for p in c.signed))
        if isinstance(c, AllOf):
            return Node("all", children=tuple(node(x) for x in c.all))
        if isinstance(c, AnyOf):
            return Node("any", children=tuple(node(x) for x in c.any))
        raise TypeError(f"not a condition: {c!r}")

    breakthrough = tuple(node(c) for c in outcome.breakthrough)
    substantive = tuple(node(c) for c in outcome.substantive)
    uses = any(_signed_below(n) for n in (*breakthrough, *substantive))
    everyone = np.ones((len(parties), len(packages)), dtype=bool)
    menu = np.arange(len(packages))
    cls = np.full(len(packages), TALK_FEST, dtype=np.uint8)
    cls[_any(substantive, menu, everyone)] = SUBSTANTIVE
    cls[_any(breakthrough, menu, everyone)] = BREAKTHROUGH
    return Rubric(breakthrough, substantive, uses, cls)


def _signed_below(node: Node) -> bool:
    return node.kind == "signed" or any(_signed_below(c) for c in node.children)
