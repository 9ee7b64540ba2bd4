"""The summit block and the roles around it: who signs, who can block, who mediates,
and the bargaining constants.

`summit.parties` are the signatories (two or more); a deal needs every party in
`summit.required` (default: all of them) and every veto player to prefer it to
no deal. Optional parties sign the chosen package if they prefer it too.
`summit.bargaining` holds the global constants of the acceptance rule: they are
calibration knobs fitted on history (`sim calibrate`), not judgments to write
per scenario.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator

from ..validation import Strict
from .params import DateParam, Name, Param, Probability, Unit, within

__all__ = ["MAX_WEIGHT", "Bargaining", "Cancellation", "Mediator", "Roles", "Summit"]

MAX_WEIGHT = 1e6
"""The largest Nash bargaining weight a file may give (weights above 0)."""


class Cancellation(Strict):
    base_probability: Probability  # domestic shocks etc. not modelled otherwise
    trust_below: float = Field(default=0.0, ge=0, le=1)  # visit called off if any parties' trust is below this


class Bargaining(Strict):
    """Constants of the acceptance rule (README, "The summit"). The defaults are judgments
    written with the rule, before any case was scored; they are not the centres of the
    priors in `scenarios/history/knobs.yaml` (margin 0.1, loss aversion 2.25), and a
    forecast that should carry the evidence uses the fitted posterior (`--calibration`)."""

    margin: Annotated[Param, within(0.0, 1.0)] = 0.03  # net gain over no deal a party needs to sign
    loss_aversion: Annotated[Param, within(1.0, 10.0)] = 2.0  # weight of a loss against a gain of the same size
    credibility: Unit = 0.5  # how much distrust discounts promised gains: gains x (1 - credibility (1 - trust))


class Summit(Strict):
    parties: list[Name]  # the signatories, two or more
    required: list[Name] | None = None  # parties whose signature a deal needs (default: every party)
    # Nash bargaining weights (default 1): numbers, or distributions drawn once a replicate
    weights: dict[Name, Annotated[Param, within(0.0, MAX_WEIGHT, above=True)]] = {}
    date: DateParam
    cancellation: Cancellation
    bargaining: Bargaining = Bargaining()

    @field_validator("parties", mode="before")
    @classmethod
    def _at_least_two(cls, value):
        if isinstance(value, (list, tuple)) and len(value) < 2:
            raise ValueError(f"a summit has at least 2 parties (got {len(value)}); "
                             "an agent that only needs to agree is a veto player (roles.veto)")
        return value


class Mediator(Strict):
    """A third party who helps at the summit: it raises the parties' trust and
    lowers the cost of agreeing (the margin) by the shares given."""

    agent: Name
    trust: Unit = 0.0  # share of the gap to full trust between every two parties it closes on the summit day
    margin: Unit = 0.0  # share of the margin (the cost of agreeing) it removes


class Roles(Strict):
    mediators: list[Mediator] = []
    veto: list[Name] = []  # agents who sign nothing but must prefer the deal to no deal
