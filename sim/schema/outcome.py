"""The outcome rubric and the observed outcome of a past meeting.

A deal's class comes from conditions on its levels (and on who signed):
`breakthrough` if any breakthrough condition holds, else `substantive` if any
substantive condition holds, else a talk fest. A condition is a level test on
one issue (`at_least`, `at_most`, `between`), `signed` (every named party
signed), or `all:` / `any:` of conditions, nested as deep as needed.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from ..validation import Strict
from .params import Name

__all__ = ["AllOf", "AnyOf", "Condition", "Level", "Observed", "Outcome", "Signed", "condition_leaves"]


class Level(Strict):
    """The deal's level on one issue is at least, at most, or between values."""

    issue: Name
    at_least: float | None = Field(default=None, ge=0, le=1)
    at_most: float | None = Field(default=None, ge=0, le=1)
    between: tuple[float, float] | None = None

    @model_validator(mode="after")
    def _one(self) -> Level:
        given = [k for k in ("at_least", "at_most", "between") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of at_least, at_most, between (got {', '.join(given) or 'none'})")
        if self.between is not None and not 0 <= self.between[0] <= self.between[1] <= 1:
            raise ValueError(f"between must be [low, high] with 0 <= low <= high <= 1 (got {list(self.between)})")
        return self

    def bounds(self) -> tuple[float, float]:
        """The closed interval of levels that meet the condition."""
        if self.at_least is not None:
            return self.at_least, 1.0
        if self.at_most is not None:
            return 0.0, self.at_most
        return self.between


class Signed(Strict):
    """Every named party signed the deal (optional parties sign only what they accept)."""

    signed: list[Name] = Field(min_length=1)


class AllOf(Strict):
    all: list[Condition] = Field(min_length=1)


class AnyOf(Strict):
    any: list[Condition] = Field(min_length=1)


def _kind(value: Any) -> str | None:
    keys = value.keys() if isinstance(value, dict) else getattr(type(value), "model_fields", {}).keys()
    for key, tag in (("issue", "cond-level"), ("signed", "cond-signed"), ("all", "cond-all"), ("any", "cond-any")):
        if key in keys:
            return tag
    return None


Condition = Annotated[
    Annotated[Level, Tag("cond-level")] | Annotated[Signed, Tag("cond-signed")]
    | Annotated[AllOf, Tag("cond-all")] | Annotated[AnyOf, Tag("cond-any")],
    Discriminator(_kind, custom_error_type="condition",
                  custom_error_message="must be a condition: {issue: NAME, at_least|at_most|between: ...}, "
                                       "{signed: [PARTY, ...]}, {all: [...]} or {any: [...]}"),
]
AllOf.model_rebuild()
AnyOf.model_rebuild()


def condition_leaves(conditions, path: str):
    """Every level and signed condition below `conditions`, with its dotted path."""
    for k, c in enumerate(conditions):
        here = f"{path}.{k}"
        if isinstance(c, AllOf):
            yield from condition_leaves(c.all, f"{here}.all")
        elif isinstance(c, AnyOf):
            yield from condition_leaves(c.any, f"{here}.any")
        else:
            yield here, c


class Outcome(Strict):
    """A deal is a breakthrough if any breakthrough condition holds, else
    substantive if any substantive condition holds, else a talk fest."""

    breakthrough: list[Condition] = Field(min_length=1)
    substantive: list[Condition] = Field(min_length=1)


class Observed(Strict):
    """What happened at the meeting, for backtests (`run` ignores it): the coded
    class (DESIGN section 2), the meeting's date (the planned date for a
    cancelled visit), or `[earliest, latest]` when only a window is known, and
    where the coding comes from."""

    outcome: Literal["breakthrough", "substantive", "talk_fest", "collapse"]
    date: dt.date | tuple[dt.date, dt.date]
    source: str = Field(min_length=1)
    note: str = ""

    @field_validator("date", mode="before")
    @classmethod
    def _one_of_two_forms(cls, value):
        """One error for a date of neither form, not one a member of the union ('must be a date',
        'must be a list'): the meetings table's '1991-04-16/19' is the likely slip."""
        if isinstance(value, (dt.date, list, tuple)) and (isinstance(value, dt.date) or len(value) == 2):
            return value
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return value  # a date in quotes: the date type judges it
        raise ValueError("must be a date (YYYY-MM-DD) or [earliest, latest], a list of two dates such as "
                         "[1991-04-16, 1991-04-19]")

    @field_validator("date")
    @classmethod
    def _ordered(cls, value):
        if isinstance(value, tuple) and not value[0] <= value[1]:
            raise ValueError(f"a date window must be [earliest, latest] (got {[str(d) for d in value]})")
        return value

    @property
    def earliest(self) -> dt.date:
        return self.date[0] if isinstance(self.date, tuple) else self.date

    @property
    def latest(self) -> dt.date:
        """The day by which the outcome was known."""
        return self.date[1] if isinstance(self.date, tuple) else self.date
