"""What every condition is: checked against a Visit, it gives a Verdict in plain words.

The wording helpers here keep numbers, ranges and lists worded alike in every kind's reasons.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from etalage.profiles.profile import Profile
from etalage.rules.model import Product, Site

__all__ = [
    "DAY",
    "Visit",
    "Verdict",
    "Condition",
    "Fact",
    "number",
    "one_of",
    "quoted",
    "bounds",
    "unmet",
    "interval",
    "plural",
]

DAY = 24 * 3600.0
_TRUNCATE = 80


@dataclass(frozen=True, slots=True)
class Visit:
    """What conditions see; built by the proxy per page view (after the page view was learned).

    `query` maps each parameter to all its values (parse_qs(..., keep_blank_values=True), or
    {k: params.getlist(k)} for Starlette). `catalog` is the rule set's; conditions themselves use
    the catalog they were compiled with, which is the same one.
    """

    profile: Profile
    site: Site
    catalog: Mapping[str, Product]
    path: str
    query: Mapping[str, Sequence[str]]
    referrer: str | None
    user_agent: str
    now: float  # Unix time
    previous_visit: float | None  # the profile's last_seen before this page view; None for a first
    language: str = ""  # the page's language (site languages), "" when the site names none
    # Who experiments assign: the customer id once known, else the visitor id; None without consent
    # or a stored profile behind it (previews, `rules explain`), which then draws nothing.
    unit: str | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    # Plain words: why it holds, or when not ok the first condition that failed.
    reason: str


class Condition(abc.ABC):
    """A compiled condition. `test` is the fast path; `check` says why in plain words."""

    __slots__ = ()

    @abc.abstractmethod
    def test(self, visit: Visit) -> bool:
        """Whether the condition holds (same answer as `check(visit).ok`)."""

    @abc.abstractmethod
    def check(self, visit: Visit) -> Verdict:
        """Whether it holds and why; when not, the reason names the first failing condition."""

    @abc.abstractmethod
    def describe(self) -> str:
        """What the condition asks, for explain output: "affinity for Dogs at least 2"."""

    def __str__(self) -> str:
        return self.describe()

    # Static analysis for never_fires (etalage.rules.conditions.analysis): each kind knows its own.
    def _facts(self) -> list[Fact]:
        """What must be true whenever this condition holds."""
        return []

    def _facts_if_not(self, source: str) -> list[Fact]:
        """What must be true whenever this condition does not hold; `source` is the `not` asking."""
        return []

    def _never(self) -> str | None:
        """Why this condition can never hold, or None."""
        return None

    def _always(self) -> bool:
        """Whether this condition holds for every visit (as far as known)."""
        return False


@dataclass(frozen=True, slots=True)
class Fact:
    """A necessary consequence: `dimension` lies in `allowed` (a frozenset, or an inclusive (lo, hi))."""

    dimension: str
    allowed: frozenset[str] | tuple[float, float]
    source: str  # the describe() of the condition it comes from


def number(value: float) -> str:
    """2, 0.4, 3.14: numbers as people write them."""
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return f"{value:.2f}".rstrip("0").rstrip(".")


def one_of(items: Sequence[str]) -> str:
    """Items as people list them: a; a or b; a, b or c."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} or {items[-1]}"


def quoted(text: str) -> str:
    """A value from the request, quoted and bounded (it ends up in logs and on pages)."""
    return repr(text if len(text) <= _TRUNCATE else text[:_TRUNCATE] + "...")


def bounds(lo: float | None, hi: float | None, unit: str = "") -> str:
    """A range in words (between 1 and 5 days, at least 2, at most 7); lo or hi may be None."""
    suffix = f" {unit}" if unit else ""
    if lo is not None and hi is not None:
        return f"between {number(lo)} and {number(hi)}{suffix}"
    if lo is not None:
        return f"at least {number(lo)}{suffix}"
    return f"at most {number(hi)}{suffix}"  # type: ignore[arg-type]


def unmet(value: float, lo: float | None, hi: float | None) -> str | None:
    """The requirement `value` misses ("at least 2"), or None when it lies within."""
    if lo is not None and value < lo:
        return f"at least {number(lo)}"
    if hi is not None and value > hi:
        return f"at most {number(hi)}"
    return None


def interval(lo: float | None, hi: float | None) -> tuple[float, float]:
    """Optional bounds as an inclusive interval, for facts."""
    return (lo if lo is not None else -math.inf, hi if hi is not None else math.inf)


def plural(count: float, word: str) -> str:
    return f"{number(count)} {word}" + ("" if count == 1 else "s")
