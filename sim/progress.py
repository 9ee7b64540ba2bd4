"""What a long library call reports its progress to, as a protocol only: the commands own
the display (`sim.cli.progress`), and the library imports nothing of it (nor rich).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

__all__ = ["ReplicateProgress", "StepProgress"]

ReplicateProgress = Callable[[int, int], None]
"""Progress over replicates: called with (replicates done, replicates in all)."""


class StepProgress(Protocol):
    """Progress over whole steps (a sweep's points, a backtest's cases): `start` with the
    total and those already done by an earlier run, then `advance` as each finishes."""

    def start(self, total: int, done: int) -> None: ...

    def advance(self, steps: int) -> None: ...
