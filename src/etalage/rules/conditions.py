"""Conditions: who a rule is for and when, compiled once from the rule files, checked per page view.

The language
============

A condition is a TOML table whose keys are condition kinds::

    when = { lifecycle = "customer" }
    when = { lifecycle = "customer", device = "mobile" }        # several keys: all must hold
    when = { any = [ { segment = "dog-lovers" }, { query = { utm_campaign = "dogs-*" } } ] }

Named, reusable conditions live in ``[segments.<name>]`` tables (any rule file; a segment may use
other segments) and are used as ``{ segment = "<name>" }``::

    [segments.dog-lovers]
    all = [
      { affinity = { category = "dogs", min = 2 } },
      { not = { lifecycle = "prospect" } },
    ]

Kinds (a "list" value means: any one of them)

=============================  =====================================================================
``all = [c, ...]``             every condition holds (checked in order; the first failing one is the reason)
``any = [c, ...]``             at least one holds
``not = c``                    ``c`` does not hold; exactly one kind inside (see below)
``segment = "name"``           the ``[segments.name]`` condition holds
``affinity = {category, min?, max?}``  the fading interest (Profile.affinity, [site] half-life) is at
                               least ``min`` / at most ``max``; with neither: any interest (more than 0)
``top = {category, n = 1}``    the category is among the visitor's ``n`` strongest (ranked as the
                               banner and sort actions rank: interest, then site order on ties)
``lifecycle = "customer"``     prospect, customer or repeat_customer (or a list)
``visits = {min?, max?}``      number of visits, this one included
``days_since_last_visit = {min?, max?}``  days between this page view and the visitor's previous one
``purchased = {category?, sku?, within_days?, min_count = 1}``  orders with such a product
``replenishment_due = {category?, sku?, within_days = 7}``  a consumable bought runs out soon
``subscribed = "dogs"``        subscribed to the category's newsletter (or a list)
``interested_in = "fish"``     chose the category on their own page (or a list)
``excluded = "cats"``          excluded the category on their own page (or a list)
``crm_segment = "vip"``        in a CRM segment fed by the import (or a list)
``path = "^/c/"``              the page's path matches the regular expression (searched, as ``pages``)
``query = {utm_campaign = "spring-*"}``  query parameters: a pattern (or list), ``true`` = present,
                               ``false`` = absent; several parameters: all must hold
``referrer = {host?, url?}``   the referring page: ``host`` patterns, ``url`` a regular expression
``device = "mobile"``          mobile, tablet, desktop or bot, from the User-Agent (or a list)
``time = {days?, from?, to?, timezone?}``  weekdays and a time of day in a time zone
=============================  =====================================================================

Choices, and why
----------------

* One table, kinds as keys, is the smallest thing a marketer can write (``{ device = "mobile" }``)
  and still a closed vocabulary a machine checks strictly: an unknown key is an error with a
  did-you-mean hint, never silently ignored. Several keys in one table mean *all of them*, read in
  the order written, so the common case needs no ``all``; ``all`` is there for two conditions of
  the same kind and for readability.
* ``not`` takes exactly one kind: ``not = { a = .., b = .. }`` reads as "neither" to some people and
  as "not both" to others, so it is refused with a hint showing both spellings.
* ``top`` is its own kind (``top = { n = 3, category = "dogs" }``), not a key beside ``category``,
  so that every key of a condition table is a kind.
* Patterns for query values and referrer hosts are globs (``*`` any text, ``?`` one character, all
  else literal), matched case-insensitively: marketers know ``spring-*`` and UTM values vary in case.
  A text without ``*`` or ``?`` must match whole. A referrer ``host`` pattern also matches
  subdomains: ``google.*`` matches google.com, www.google.com and news.google.co.uk. ``path`` and
  referrer ``url`` are regular expressions, like the ``pages`` of a rule.
* ``affinity`` with a negative ``min`` or ``max`` is an error (interest is never negative), not an
  always-true condition. ``min = 0`` is allowed and always true.
* ``days_since_last_visit`` measures from ``Visit.previous_visit``: the profile's ``last_seen``
  before this page view. With no earlier page view it does not hold (whatever min and max say).
* ``purchased`` counts orders (distinct order ids) holding a matching product; ``within_days``
  counts back from now. A purchase implies the customer lifecycle stages, which `never_fires` uses.
* ``replenishment_due``: per product (catalog ``lasts_days``), purchases of that product stack: a
  supply runs from the later of the purchase time and the end of the previous supply, for
  ``lasts_days * quantity`` days. A product is due from ``within_days`` before its supply runs out
  until ``lasts_days`` (one unit's life) after: a customer who has not re-ordered by then buys
  elsewhere or stopped, and is left alone. The most urgent product is named in the reason.
* ``device``: a small documented classifier (`classify_device`), no dependency; iPadOS Safari
  sends a Mac User-Agent and counts as desktop, which no server can tell apart.
* ``time``: ``days`` are mon..sun (or full English names); ``from`` and ``to`` are "HH:MM" (or a TOML
  local time such as 18:00:00), ``to = "24:00"`` is the end of the day, ``from`` is inclusive and
  ``to`` exclusive. ``from`` later than ``to`` crosses midnight, and such a window belongs to the day
  it starts on: ``days = ["fri"], from = "22:00", to = "02:00"`` includes Saturday 01:00.
  ``timezone`` (IANA name) is required unless the site sets one (``Site.timezone``, if present).
  ``from`` equal to ``to`` is an empty window, reported by `never_fires`.
* Invalid conditions are never half-built: every problem is recorded at its key's line and the
  compile functions return None. Rule files are refused whole on any problem, so placeholders for
  broken segments (returned by `compile_segments`, to avoid follow-up errors) never run.

Checking is cheap: regular expressions and globs are compiled, names resolved to sets and labels,
and time zones loaded at compile time; ``test`` is the allocation-free fast path (a bool) and
``check`` adds the reason in plain words (for explain output and the visitor's own page).
"""

from __future__ import annotations

import abc
import difflib
import functools
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as Time
from typing import Any, ClassVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from etalage.profiles.profile import LIFECYCLE_STAGES, Profile
from etalage.rules.fields import Fields
from etalage.rules.model import Product, Site

__all__ = [
    "Visit",
    "Verdict",
    "Condition",
    "ALWAYS",
    "DEVICES",
    "CONDITION_KINDS",
    "compile_segments",
    "compile_condition",
    "never_fires",
    "classify_device",
    "supply_ends",
]

DAY = 24 * 3600.0
DEVICES = ("mobile", "tablet", "desktop", "bot")
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]*")
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})")
_TRUNCATE = 80


# -- what conditions see and say ---------------------------------------------------------------


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

    # Static analysis for never_fires: what must be true whenever this condition holds.
    def _facts(self) -> list[_Fact]:
        return []

    def _never(self) -> str | None:
        return None

    def _always(self) -> bool:
        return False


@dataclass(frozen=True, slots=True)
class _Fact:
    """A necessary consequence: `dimension` lies in `allowed` (a frozenset, or an inclusive (lo, hi))."""

    dimension: str
    allowed: frozenset[str] | tuple[float, float]
    source: str  # the describe() of the condition it comes from


def _num(value: float) -> str:
    """2, 0.4, 3.14: numbers as people write them."""
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _or(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} or {items[-1]}"


def _shown(text: str) -> str:
    """A value from the request, quoted and bounded (it ends up in logs and on pages)."""
    return repr(text if len(text) <= _TRUNCATE else text[:_TRUNCATE] + "...")


def _range(lo: float | None, hi: float | None, unit: str = "") -> str:
    suffix = f" {unit}" if unit else ""
    if lo is not None and hi is not None:
        return f"between {_num(lo)} and {_num(hi)}{suffix}"
    if lo is not None:
        return f"at least {_num(lo)}{suffix}"
    return f"at most {_num(hi)}{suffix}"  # type: ignore[arg-type]


def _needs(value: float, lo: float | None, hi: float | None) -> str | None:
    """The requirement `value` misses ("at least 2"), or None when it lies within."""
    if lo is not None and value < lo:
        return f"at least {_num(lo)}"
    if hi is not None and value > hi:
        return f"at most {_num(hi)}"
    return None


def _interval(lo: float | None, hi: float | None) -> tuple[float, float]:
    return (lo if lo is not None else -math.inf, hi if hi is not None else math.inf)


def _plural(count: float, word: str) -> str:
    return f"{_num(count)} {word}" + ("" if count == 1 else "s")


# -- always, and the combinators ---------------------------------------------------------------


class _Always(Condition):
    __slots__ = ()
    _VERDICT = Verdict(True, "no conditions")

    def test(self, visit: Visit) -> bool:
        return True

    def check(self, visit: Visit) -> Verdict:
        return self._VERDICT

    def describe(self) -> str:
        return "always"

    def _always(self) -> bool:
        return True

    def __repr__(self) -> str:
        return "ALWAYS"


ALWAYS: Condition = _Always()


class _Broken(Condition):
    """Stands for a segment that did not compile, so uses of it cause no second message. Never run:
    a rule folder with any problem is refused."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def test(self, visit: Visit) -> bool:
        raise RuntimeError(f"segment '{self.name}' did not compile")

    def check(self, visit: Visit) -> Verdict:
        raise RuntimeError(f"segment '{self.name}' did not compile")

    def describe(self) -> str:
        return f"segment '{self.name}' (invalid)"


def _grouped(condition: Condition) -> str:
    text = condition.describe()
    return f"({text})" if isinstance(condition, (AllOf, AnyOf)) else text


@dataclass(frozen=True, slots=True)
class AllOf(Condition):
    children: tuple[Condition, ...]

    def test(self, visit: Visit) -> bool:
        for child in self.children:
            if not child.test(visit):
                return False
        return True

    def check(self, visit: Visit) -> Verdict:
        reasons = []
        for child in self.children:
            verdict = child.check(visit)
            if not verdict.ok:
                return verdict
            reasons.append(verdict.reason)
        return Verdict(True, "; ".join(reasons))

    def describe(self) -> str:
        return " and ".join(_grouped(child) for child in self.children)

    def _facts(self) -> list[_Fact]:
        return [fact for child in self.children for fact in child._facts()]

    def _never(self) -> str | None:
        for child in self.children:
            reason = _never(child)
            if reason:
                return reason
        members = list(_members(self))
        for member in members:
            if isinstance(member, Not) and _unwrap(member.inner) in members:
                return f"'{_unwrap(member.inner).describe()}' and '{member.describe()}' cannot both hold"
        return _contradiction(self._facts())

    def _always(self) -> bool:
        return all(_always(child) for child in self.children)


@dataclass(frozen=True, slots=True)
class AnyOf(Condition):
    children: tuple[Condition, ...]

    def test(self, visit: Visit) -> bool:
        for child in self.children:
            if child.test(visit):
                return True
        return False

    def check(self, visit: Visit) -> Verdict:
        reasons = []
        for child in self.children:
            verdict = child.check(visit)
            if verdict.ok:
                return verdict
            reasons.append(verdict.reason)
        if len(reasons) == 1:
            return Verdict(False, reasons[0])
        return Verdict(False, "none of these holds: " + "; ".join(reasons))

    def describe(self) -> str:
        return " or ".join(_grouped(child) for child in self.children)

    def _facts(self) -> list[_Fact]:
        # A set every alternative restricts holds for the whole: the union of what each allows.
        merged = [_merge(child._facts()) for child in self.children]
        facts = []
        for dimension, allowed in merged[0].items():
            if isinstance(allowed, frozenset) and all(isinstance(m.get(dimension), frozenset) for m in merged):
                union = frozenset().union(*(m[dimension] for m in merged))  # type: ignore[arg-type]
                facts.append(_Fact(dimension, union, self.describe()))
        return facts

    def _never(self) -> str | None:
        reasons = [_never(child) for child in self.children]
        if all(reasons):
            return reasons[0] if len(reasons) == 1 else "none of its alternatives can hold: " + "; ".join(reasons)  # type: ignore[arg-type]
        return None

    def _always(self) -> bool:
        return any(_always(child) for child in self.children)


@dataclass(frozen=True, slots=True)
class Not(Condition):
    inner: Condition

    def test(self, visit: Visit) -> bool:
        return not self.inner.test(visit)

    def check(self, visit: Visit) -> Verdict:
        verdict = self.inner.check(visit)
        if verdict.ok:
            return Verdict(False, f"{verdict.reason}, needs {self.describe()}")
        return Verdict(True, f"not {self.inner.describe()} ({verdict.reason})")

    def describe(self) -> str:
        return f"not ({self.inner.describe()})" if isinstance(self.inner, (AllOf, AnyOf)) else f"not {self.inner.describe()}"

    def _facts(self) -> list[_Fact]:
        inner = _unwrap(self.inner)
        if isinstance(inner, (Lifecycle, Device)):
            universe = frozenset(LIFECYCLE_STAGES if isinstance(inner, Lifecycle) else DEVICES)
            return [_Fact(inner.dimension, universe - inner.values, self.describe())]
        return []

    def _never(self) -> str | None:
        if _always(self.inner):
            return f"'{self.inner.describe()}' always holds, so '{self.describe()}' never does"
        return None

    def _always(self) -> bool:
        return _never(self.inner) is not None


@dataclass(frozen=True, slots=True, eq=False)
class Segment(Condition):
    """A named segment; every reference to it shares this object."""

    name: str
    condition: Condition

    def test(self, visit: Visit) -> bool:
        return self.condition.test(visit)

    def check(self, visit: Visit) -> Verdict:
        verdict = self.condition.check(visit)
        if verdict.ok:
            return Verdict(True, f"in segment '{self.name}': {verdict.reason}")
        return Verdict(False, f"not in segment '{self.name}': {verdict.reason}")

    def describe(self) -> str:
        return f"segment '{self.name}'"

    def _facts(self) -> list[_Fact]:
        return self.condition._facts()

    def _never(self) -> str | None:
        reason = _never(self.condition)
        return f"segment '{self.name}' never matches: {reason}" if reason else None

    def _always(self) -> bool:
        return _always(self.condition)


# -- the visitor's interest --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Affinity(Condition):
    category: str
    label: str
    min: float | None
    max: float | None

    def test(self, visit: Visit) -> bool:
        score = visit.profile.affinity(self.category, visit.now, visit.site.half_life)
        if self.min is None and self.max is None:
            return score > 0
        return (self.min is None or score >= self.min) and (self.max is None or score <= self.max)

    def check(self, visit: Visit) -> Verdict:
        score = visit.profile.affinity(self.category, visit.now, visit.site.half_life)
        if self.min is None and self.max is None:
            if score > 0:
                return Verdict(True, f"affinity for {self.label} is {_num(score)}")
            return Verdict(False, f"no interest in {self.label}")
        missed = _needs(score, self.min, self.max)
        if missed:
            return Verdict(False, f"affinity for {self.label} is {_num(score)}, needs {missed}")
        return Verdict(True, f"affinity for {self.label} is {_num(score)} ({_range(self.min, self.max)})")

    def describe(self) -> str:
        if self.min is None and self.max is None:
            return f"some interest in {self.label}"
        return f"affinity for {self.label} {_range(self.min, self.max)}"

    def _facts(self) -> list[_Fact]:
        lo, hi = _interval(self.min, self.max)
        if self.min is None and self.max is None:
            lo = math.ulp(0.0)
        return [_Fact(f"affinity for {self.label}", (max(lo, 0.0), hi), self.describe())]

    def _never(self) -> str | None:
        if self.min is not None and self.max is not None and self.min > self.max:
            return f"'{self.describe()}': min is more than max"
        return None

    def _always(self) -> bool:
        return self.min == 0 and self.max is None


def _rank(profile: Profile, site: Site, now: float, index: int) -> tuple[float, int]:
    """The interest in site.categories[index] and its place among the visitor's categories
    (1 = strongest), as ranked_categories orders them: more interest first, site order on ties."""
    scores = [profile.affinity(c, now, site.half_life) for c in site.categories]
    mine = scores[index]
    place = 1 + sum(1 for i, s in enumerate(scores) if s > mine or (s == mine and i < index))
    return mine, place


@dataclass(frozen=True, slots=True)
class Top(Condition):
    category: str
    label: str
    n: int
    index: int  # the category's place in site order

    def test(self, visit: Visit) -> bool:
        score, place = _rank(visit.profile, visit.site, visit.now, self.index)
        return score > 0 and place <= self.n

    def check(self, visit: Visit) -> Verdict:
        score, place = _rank(visit.profile, visit.site, visit.now, self.index)
        if score <= 0:
            return Verdict(False, f"no interest in {self.label}, needs it among the top {self.n}")
        if place > self.n:
            return Verdict(False, f"{self.label} is number {place} of the visitor's categories, needs top {self.n}")
        return Verdict(True, f"{self.label} is number {place} of the visitor's categories (top {self.n})")

    def describe(self) -> str:
        if self.n == 1:
            return f"{self.label} is the visitor's strongest category"
        return f"{self.label} among the visitor's top {self.n} categories"

    def _facts(self) -> list[_Fact]:
        return [_Fact(f"affinity for {self.label}", (math.ulp(0.0), math.inf), self.describe())]


@dataclass(frozen=True, slots=True)
class _CategorySet(Condition):
    """subscribed / interested_in / excluded: the profile's set holds one of these categories."""

    categories: frozenset[str]
    labels: tuple[str, ...]  # in site order, for messages
    attribute: ClassVar[str] = ""

    def test(self, visit: Visit) -> bool:
        return not self.categories.isdisjoint(getattr(visit.profile, self.attribute))

    def _held(self, visit: Visit) -> str | None:
        held = getattr(visit.profile, self.attribute)
        for category in visit.site.categories:
            if category in self.categories and category in held:
                return visit.site.labels[category]
        return None

    def check(self, visit: Visit) -> Verdict:
        label = self._held(visit)
        if label is not None:
            return Verdict(True, self._says(label))
        return Verdict(False, self._fails())

    def describe(self) -> str:
        return self._says(_or(self.labels))

    def _says(self, labels: str) -> str:
        raise NotImplementedError

    def _fails(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Subscribed(_CategorySet):
    attribute: ClassVar[str] = "newsletters"

    def _says(self, labels: str) -> str:
        return f"subscribed to the {labels} newsletter"

    def _fails(self) -> str:
        return f"not subscribed to the {_or(self.labels)} newsletter"


@dataclass(frozen=True, slots=True)
class InterestedIn(_CategorySet):
    attribute: ClassVar[str] = "interests"

    def _says(self, labels: str) -> str:
        return f"chose {labels} as an interest"

    def _fails(self) -> str:
        return f"did not choose {_or(self.labels)} as an interest"

    def _facts(self) -> list[_Fact]:
        # A chosen interest counts as strong interest (Profile.affinity adds 10).
        if len(self.labels) == 1:
            return [_Fact(f"affinity for {self.labels[0]}", (10.0, math.inf), self.describe())]
        return []


@dataclass(frozen=True, slots=True)
class Excluded(_CategorySet):
    attribute: ClassVar[str] = "exclusions"

    def _says(self, labels: str) -> str:
        return f"excluded {labels}"

    def _fails(self) -> str:
        return f"did not exclude {_or(self.labels)}"

    def _facts(self) -> list[_Fact]:
        # Excluded categories have no affinity at all.
        if len(self.labels) == 1:
            return [_Fact(f"affinity for {self.labels[0]}", (0.0, 0.0), self.describe())]
        return []


# -- the visitor's history ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Lifecycle(Condition):
    values: frozenset[str]
    dimension: ClassVar[str] = "lifecycle"

    def _names(self) -> str:
        return _or([stage for stage in LIFECYCLE_STAGES if stage in self.values])

    def test(self, visit: Visit) -> bool:
        return visit.profile.lifecycle in self.values

    def check(self, visit: Visit) -> Verdict:
        stage = visit.profile.lifecycle
        if stage in self.values:
            return Verdict(True, f"lifecycle is {stage}")
        return Verdict(False, f"lifecycle is {stage}, needs {self._names()}")

    def describe(self) -> str:
        return f"lifecycle is {self._names()}"

    def _facts(self) -> list[_Fact]:
        return [_Fact("lifecycle", self.values, self.describe())]

    def _always(self) -> bool:
        return self.values >= set(LIFECYCLE_STAGES)


@dataclass(frozen=True, slots=True)
class Visits(Condition):
    min: int | None
    max: int | None

    def test(self, visit: Visit) -> bool:
        visits = visit.profile.visits
        return (self.min is None or visits >= self.min) and (self.max is None or visits <= self.max)

    def check(self, visit: Visit) -> Verdict:
        visits = visit.profile.visits
        missed = _needs(visits, self.min, self.max)
        if missed:
            return Verdict(False, f"{_plural(visits, 'visit')}, needs {missed}")
        return Verdict(True, f"{_plural(visits, 'visit')} ({_range(self.min, self.max)})")

    def describe(self) -> str:
        return f"{_range(self.min, self.max)} visits"

    def _facts(self) -> list[_Fact]:
        return [_Fact("visits", _interval(self.min, self.max), self.describe())]

    def _never(self) -> str | None:
        if self.min is not None and self.max is not None and self.min > self.max:
            return f"'{self.describe()}': min is more than max"
        if self.max is not None and self.max < 1:
            return f"'{self.describe()}': a page view always belongs to a visit, so there is at least 1"
        return None

    def _always(self) -> bool:
        return (self.min is None or self.min <= 1) and self.max is None


@dataclass(frozen=True, slots=True)
class DaysSinceLastVisit(Condition):
    min: float | None
    max: float | None

    def test(self, visit: Visit) -> bool:
        if visit.previous_visit is None:
            return False
        days = (visit.now - visit.previous_visit) / DAY
        return (self.min is None or days >= self.min) and (self.max is None or days <= self.max)

    def check(self, visit: Visit) -> Verdict:
        if visit.previous_visit is None:
            return Verdict(False, "no earlier visit")
        days = (visit.now - visit.previous_visit) / DAY
        missed = _needs(days, self.min, self.max)
        if missed:
            return Verdict(False, f"last visit {_plural(days, 'day')} ago, needs {missed}")
        return Verdict(True, f"last visit {_plural(days, 'day')} ago ({_range(self.min, self.max)})")

    def describe(self) -> str:
        return f"last visit {_range(self.min, self.max, 'days')} ago"

    def _facts(self) -> list[_Fact]:
        return [_Fact("days since the last visit", _interval(self.min, self.max), self.describe())]

    def _never(self) -> str | None:
        if self.min is not None and self.max is not None and self.min > self.max:
            return f"'{self.describe()}': min is more than max"
        return None


@dataclass(frozen=True, slots=True)
class Purchased(Condition):
    category: str | None
    label: str | None
    sku: str | None
    within_days: float | None
    min_count: int
    never: str | None = None  # found at compile time: a sku outside the category

    def _what(self) -> str:
        if self.sku is not None:
            return self.sku
        return f"{self.label} products" if self.label is not None else "anything"

    def _window(self) -> str:
        return f" in the last {_plural(self.within_days, 'day')}" if self.within_days is not None else ""

    def _count(self, visit: Visit) -> int:
        purchases = visit.profile.purchases
        if not purchases:
            return 0
        since = visit.now - self.within_days * DAY if self.within_days is not None else -math.inf
        orders = set()
        for purchase in purchases:
            if (
                purchase.at >= since
                and (self.sku is None or purchase.sku == self.sku)
                and (self.category is None or purchase.category == self.category)
            ):
                orders.add(purchase.order)
        return len(orders)

    def test(self, visit: Visit) -> bool:
        return self._count(visit) >= self.min_count

    def check(self, visit: Visit) -> Verdict:
        count = self._count(visit)
        if count == 0:
            return Verdict(False, f"never bought {self._what()}{self._window()}")
        bought = f"bought {self._what()} {_plural(count, 'time')}{self._window()}"
        if count < self.min_count:
            return Verdict(False, f"{bought}, needs at least {self.min_count}")
        return Verdict(True, bought)

    def describe(self) -> str:
        times = f" at least {self.min_count} times" if self.min_count > 1 else ""
        return f"bought {self._what()}{times}{self._window()}"

    def _facts(self) -> list[_Fact]:
        stages = ("repeat_customer",) if self.min_count >= 2 else ("customer", "repeat_customer")
        return [_Fact("lifecycle", frozenset(stages), self.describe())]

    def _never(self) -> str | None:
        return f"'{self.describe()}': {self.never}" if self.never else None


def supply_ends(profile: Profile, catalog: Mapping[str, Product]) -> dict[str, float]:
    """When the supply of each bought consumable (catalog `lasts_days`) runs out, as Unix time.

    Purchases of one product stack: each adds `lasts_days * quantity` days from the later of its
    own time and the end of the supply before it.
    """
    return _supply_ends(profile, {sku: product.lasts_days for sku, product in catalog.items() if product.lasts_days})


def _supply_ends(profile: Profile, lasts: Mapping[str, int]) -> dict[str, float]:
    ends: dict[str, float] = {}
    for purchase in profile.purchases:  # oldest first
        days = lasts.get(purchase.sku)
        if days is None:
            continue
        sku, at = purchase.sku, purchase.at
        previous = ends.get(sku, 0.0)
        ends[sku] = (at if at > previous else previous) + days * (purchase.quantity if purchase.quantity > 1 else 1) * DAY
    return ends


@dataclass(frozen=True, slots=True)
class ReplenishmentDue(Condition):
    category: str | None
    label: str | None
    sku: str | None
    within_days: float
    # The products this is about (sku -> lasts_days), from the catalog at compile time.
    lasts: Mapping[str, int]
    never: str | None = None  # found at compile time: nothing in the catalog can run out

    def __hash__(self) -> int:
        return hash((self.category, self.sku, self.within_days))

    def _what(self) -> str:
        if self.sku is not None:
            return self.sku
        return f"a {self.label} product" if self.label is not None else "a bought product"

    def _ends(self, visit: Visit) -> list[tuple[float, str, int]]:
        """(end of supply, sku, lasts_days) of the bought products this condition is about."""
        if not visit.profile.purchases:
            return []
        lasts = self.lasts
        return [(end, sku, lasts[sku]) for sku, end in _supply_ends(visit.profile, lasts).items()]

    def _due(self, visit: Visit, ends: list[tuple[float, str, int]]) -> tuple[float, str, int] | None:
        now, ahead = visit.now, self.within_days * DAY
        due = [item for item in ends if item[0] - ahead <= now <= item[0] + item[2] * DAY]
        return min(due) if due else None

    def test(self, visit: Visit) -> bool:
        return self._due(visit, self._ends(visit)) is not None

    def check(self, visit: Visit) -> Verdict:
        ends = self._ends(visit)
        due = self._due(visit, ends)
        now = visit.now
        if due is not None:
            end, sku, _ = due
            if end >= now:
                return Verdict(True, f"{sku} runs out in {_plural((end - now) / DAY, 'day')}")
            return Verdict(True, f"{sku} ran out {_plural((now - end) / DAY, 'day')} ago")
        if not ends:
            what = f"never bought {self.sku}" if self.sku else f"bought no {self.label + ' ' if self.label else ''}product that runs out"
            return Verdict(False, what)
        coming = [item for item in ends if item[0] >= now]
        if coming:
            end, sku, _ = min(coming)
            return Verdict(False, f"{sku} runs out in {_plural((end - now) / DAY, 'day')}, needs within {_num(self.within_days)}")
        end, sku, lasts = max(ends)
        return Verdict(False, f"{sku} ran out {_plural((now - end) / DAY, 'day')} ago, more than its {lasts} days")

    def describe(self) -> str:
        return f"{self._what()} runs out within {_plural(self.within_days, 'day')}"

    def _facts(self) -> list[_Fact]:
        return [_Fact("lifecycle", frozenset(("customer", "repeat_customer")), self.describe())]

    def _never(self) -> str | None:
        return f"'{self.describe()}': {self.never}" if self.never else None


@dataclass(frozen=True, slots=True)
class CrmSegment(Condition):
    names: tuple[str, ...]

    def test(self, visit: Visit) -> bool:
        segments = visit.profile.segments
        return any(name in segments for name in self.names)

    def check(self, visit: Visit) -> Verdict:
        segments = visit.profile.segments
        for name in self.names:
            if name in segments:
                return Verdict(True, f"in CRM segment '{name}'")
        return Verdict(False, f"not in {self._which()}")

    def _which(self) -> str:
        return "CRM segment " + _or([f"'{name}'" for name in self.names])

    def describe(self) -> str:
        return f"in {self._which()}"


# -- the request -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PathMatches(Condition):
    patterns: tuple[re.Pattern[str], ...]

    def test(self, visit: Visit) -> bool:
        return any(pattern.search(visit.path) for pattern in self.patterns)

    def _names(self) -> str:
        return _or([repr(pattern.pattern) for pattern in self.patterns])

    def check(self, visit: Visit) -> Verdict:
        for pattern in self.patterns:
            if pattern.search(visit.path):
                return Verdict(True, f"path {_shown(visit.path)} matches {pattern.pattern!r}")
        return Verdict(False, f"path {_shown(visit.path)} does not match {self._names()}")

    def describe(self) -> str:
        return f"path matches {self._names()}"


def _glob(patterns: Sequence[str]) -> re.Pattern[str]:
    """One case-insensitive regex matching any of the globs whole: '*' any text, '?' one character."""
    parts = []
    for pattern in patterns:
        parts.append("".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern))
    return re.compile("|".join(f"(?:{part})" for part in parts), re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True, slots=True)
class _Param:
    name: str
    present: bool  # False: the parameter must be absent
    patterns: tuple[str, ...]  # empty: any value (or absence)
    regex: re.Pattern[str] | None

    def test(self, values: Sequence[str] | str | None) -> bool:
        if isinstance(values, str):
            values = (values,)
        if values is None:
            return not self.present
        if not self.present:
            return False
        regex = self.regex
        return regex is None or any(regex.fullmatch(value) for value in values)

    def wanted(self) -> str:
        return _or([repr(p) for p in self.patterns])

    def describe(self) -> str:
        if not self.present:
            return f"query has no {self.name}"
        if self.regex is None:
            return f"query has {self.name}"
        return f"query {self.name} matches {self.wanted()}"

    def verdict(self, values: Sequence[str] | str | None) -> Verdict:
        if isinstance(values, str):
            values = (values,)
        if self.test(values):
            if values is None:
                return Verdict(True, f"query has no {self.name}")
            if self.regex is None:
                return Verdict(True, f"query has {self.name}")
            value = next(v for v in values if self.regex.fullmatch(v))
            return Verdict(True, f"query {self.name} is {_shown(value)}")
        if values is None:
            return Verdict(False, f"query has no {self.name}" + (f", needs {self.wanted()}" if self.patterns else ""))
        if not self.present:
            return Verdict(False, f"query has {self.name}, needs none")
        return Verdict(False, f"query {self.name} is {_shown(values[0] if values else '')}, needs {self.wanted()}")


@dataclass(frozen=True, slots=True)
class Query(Condition):
    params: tuple[_Param, ...]

    def test(self, visit: Visit) -> bool:
        query = visit.query
        for param in self.params:
            if not param.test(query.get(param.name)):
                return False
        return True

    def check(self, visit: Visit) -> Verdict:
        reasons = []
        for param in self.params:
            verdict = param.verdict(visit.query.get(param.name))
            if not verdict.ok:
                return verdict
            reasons.append(verdict.reason)
        return Verdict(True, "; ".join(reasons))

    def describe(self) -> str:
        return " and ".join(param.describe() for param in self.params)


def _host(referrer: str) -> str:
    try:
        return urlsplit(referrer).hostname or ""
    except ValueError:
        return ""


@dataclass(frozen=True, slots=True)
class Referrer(Condition):
    hosts: tuple[str, ...]
    host_regex: re.Pattern[str] | None
    url: re.Pattern[str] | None

    def _host_matches(self, host: str) -> bool:
        regex = self.host_regex
        if regex is None:
            return True
        if regex.fullmatch(host):
            return True
        # The host's parent domains too: google.* matches www.google.com; never the bare top level.
        labels = host.split(".")
        return any(regex.fullmatch(".".join(labels[i:])) for i in range(1, len(labels) - 1))

    def test(self, visit: Visit) -> bool:
        referrer = visit.referrer
        if not referrer:
            return False
        if self.url is not None and not self.url.search(referrer):
            return False
        return self.host_regex is None or self._host_matches(_host(referrer))

    def check(self, visit: Visit) -> Verdict:
        referrer = visit.referrer
        if not referrer:
            return Verdict(False, f"no referrer, needs {self._wants()}")
        if self.url is not None and not self.url.search(referrer):
            return Verdict(False, f"referrer {_shown(referrer)} does not match {self.url.pattern!r}")
        if self.host_regex is not None:
            host = _host(referrer)
            if not self._host_matches(host):
                return Verdict(False, f"referrer host {_shown(host)} does not match {_or([repr(h) for h in self.hosts])}")
        return Verdict(True, f"referrer is {_shown(referrer)}")

    def _wants(self) -> str:
        wants = []
        if self.hosts:
            wants.append(f"host {_or([repr(h) for h in self.hosts])}")
        if self.url is not None:
            wants.append(f"a referrer matching {self.url.pattern!r}")
        return " and ".join(wants)

    def describe(self) -> str:
        parts = []
        if self.hosts:
            parts.append(f"referrer host matches {_or([repr(h) for h in self.hosts])}")
        if self.url is not None:
            parts.append(f"referrer matches {self.url.pattern!r}")
        return " and ".join(parts)


# Device classes from the User-Agent, checked in this order (the first that matches decides):
#   bot     empty User-Agent; crawler, preview and HTTP-library words (Googlebot, bingbot, ...
#           "bot" as a word ending, except the phone maker CUBOT; crawl, spider, slurp,
#           facebookexternalhit, HeadlessChrome, Lighthouse, curl, wget, python-requests, ...)
#   tablet  iPad, "Tablet" (Firefox on Android tablets), Kindle and Silk, PlayBook
#   mobile  "Mobi" (Mobile Safari, Chrome Mobile, Firefox Mobile, ...), iPhone, iPod, Windows Phone,
#           BlackBerry/BB10, Opera Mini, IEMobile
#   tablet  Android without "Mobi": Android browsers say "Mobile" on phones only
#   desktop everything else (Windows, macOS, Linux, ChromeOS; also iPadOS Safari, which sends a Mac UA)
_BOT_UA = re.compile(
    r"^\s*$|(?<!cu)bot\b|bot/|crawl|spider|slurp|mediapartners|facebookexternalhit|facebookcatalog|embedly|"
    r"bingpreview|headlesschrome|lighthouse|pagespeed|phantomjs|preview|^curl/|^wget/|python-requests|python-urllib|"
    r"python-httpx|aiohttp|go-http-client|^java/|okhttp|libwww|scrapy|axios/|node-fetch|httpclient",
    re.IGNORECASE,
)
_TABLET_UA = re.compile(r"ipad|tablet|kindle|silk/|playbook", re.IGNORECASE)
_MOBILE_UA = re.compile(r"mobi|iphone|ipod|windows phone|blackberry|bb10|opera mini|iemobile", re.IGNORECASE)
_ANDROID_UA = re.compile(r"android", re.IGNORECASE)


@functools.lru_cache(maxsize=4096)
def classify_device(user_agent: str) -> str:
    """mobile, tablet, desktop or bot (see the table above); cached, as visitors repeat their UA."""
    if _BOT_UA.search(user_agent):
        return "bot"
    if _TABLET_UA.search(user_agent):
        return "tablet"
    if _MOBILE_UA.search(user_agent):
        return "mobile"
    if _ANDROID_UA.search(user_agent):
        return "tablet"
    return "desktop"


@dataclass(frozen=True, slots=True)
class Device(Condition):
    values: frozenset[str]
    dimension: ClassVar[str] = "device"

    def _names(self) -> str:
        return _or([device for device in DEVICES if device in self.values])

    def test(self, visit: Visit) -> bool:
        return classify_device(visit.user_agent) in self.values

    def check(self, visit: Visit) -> Verdict:
        device = classify_device(visit.user_agent)
        if device in self.values:
            return Verdict(True, f"device is {device}")
        return Verdict(False, f"device is {device}, needs {self._names()}")

    def describe(self) -> str:
        return f"device is {self._names()}"

    def _facts(self) -> list[_Fact]:
        return [_Fact("device", self.values, self.describe())]

    def _always(self) -> bool:
        return self.values >= set(DEVICES)


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True, slots=True)
class TimeWindow(Condition):
    days: frozenset[int] | None  # 0 = Monday; None = every day
    start: int  # minutes after midnight, inclusive
    end: int  # minutes after midnight, exclusive; 1440 = midnight at the end of the day
    zone: ZoneInfo

    def _holds(self, weekday: int, minute: int) -> bool:
        days, start, end = self.days, self.start, self.end
        if start < end:
            return start <= minute < end and (days is None or weekday in days)
        if start > end:  # crosses midnight; the early hours belong to the day before
            if minute >= start:
                return days is None or weekday in days
            return minute < end and (days is None or (weekday - 1) % 7 in days)
        return False

    def test(self, visit: Visit) -> bool:
        local = datetime.fromtimestamp(visit.now, self.zone)
        return self._holds(local.weekday(), local.hour * 60 + local.minute)

    def check(self, visit: Visit) -> Verdict:
        local = datetime.fromtimestamp(visit.now, self.zone)
        now = f"it is {_WEEKDAYS[local.weekday()].title()} {local.hour:02d}:{local.minute:02d} in {self.zone.key}"
        if self._holds(local.weekday(), local.hour * 60 + local.minute):
            return Verdict(True, now)
        return Verdict(False, f"{now}, outside {self._window()}")

    def _window(self) -> str:
        parts = []
        if self.days is not None:
            parts.append(", ".join(_WEEKDAYS[day].title() for day in sorted(self.days)))
        if (self.start, self.end) != (0, 1440):
            parts.append(f"{_clock(self.start)} to {_clock(self.end)}")
        return " ".join(parts) or "all day"

    def describe(self) -> str:
        return f"{self._window()} ({self.zone.key})"

    def _never(self) -> str | None:
        if self.start == self.end:
            return f"'{self.describe()}': the time window from {_clock(self.start)} to {_clock(self.end)} is empty"
        return None

    def _always(self) -> bool:
        return self.days is None and (self.start, self.end) == (0, 1440)


@dataclass(frozen=True, slots=True)
class DateWindow(Condition):
    """A schedule: the rule runs from one moment until another (either may be open)."""

    start: float | None  # Unix time, inclusive
    end: float | None  # Unix time, exclusive
    span: str

    def test(self, visit: Visit) -> bool:
        return (self.start is None or visit.now >= self.start) and (self.end is None or visit.now < self.end)

    def check(self, visit: Visit) -> Verdict:
        if self.start is not None and visit.now < self.start:
            return Verdict(False, f"not started yet (scheduled {self.span})")
        if self.end is not None and visit.now >= self.end:
            return Verdict(False, f"ended (scheduled {self.span})")
        return Verdict(True, f"scheduled {self.span}")

    def describe(self) -> str:
        return f"scheduled {self.span}"

    def _never(self) -> str | None:
        if self.start is not None and self.end is not None and self.end <= self.start:
            return f"'{self.describe()}': it ends before it starts"
        return None


# -- static analysis ---------------------------------------------------------------------------


def _unwrap(condition: Condition) -> Condition:
    while isinstance(condition, Segment):
        condition = condition.condition
    return condition


def _members(condition: Condition) -> Iterable[Condition]:
    """The conditions an `all` requires, nested `all`s and segments opened up."""
    condition = _unwrap(condition)
    if isinstance(condition, AllOf):
        for child in condition.children:
            yield from _members(child)
    else:
        yield condition


def _merge(facts: list[_Fact]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for fact in facts:
        allowed = merged.get(fact.dimension)
        if allowed is None:
            merged[fact.dimension] = fact.allowed
        elif isinstance(allowed, frozenset):
            merged[fact.dimension] = allowed & fact.allowed  # type: ignore[operator]
        else:
            merged[fact.dimension] = (max(allowed[0], fact.allowed[0]), min(allowed[1], fact.allowed[1]))  # type: ignore[index]
    return merged


def _contradiction(facts: list[_Fact]) -> str | None:
    """The first set of conditions that cannot hold at once, in plain words."""
    for dimension in dict.fromkeys(fact.dimension for fact in facts):
        mine = [fact for fact in facts if fact.dimension == dimension]
        for count in range(2, len(mine) + 1):
            allowed = _merge(mine[:count])[dimension]
            empty = not allowed if isinstance(allowed, frozenset) else allowed[0] > allowed[1]
            if empty:
                sources = [f"'{source}'" for source in dict.fromkeys(fact.source for fact in mine[:count])]
                if len(sources) == 1:
                    return f"{sources[0]} cannot hold"
                both = "both" if len(sources) == 2 else "all"
                return f"{', '.join(sources[:-1])} and {sources[-1]} cannot {both} hold"
    return None


def _never(condition: Condition) -> str | None:
    return condition._never()


def _always(condition: Condition) -> bool:
    return condition._always()


def never_fires(condition: Condition) -> str | None:
    """Why `condition` can never hold, found without a visitor; None when it can (as far as known).

    Found: min above max (affinity, visits, days since the last visit); visits at most 0; an empty
    time window (from = to); a purchase of a sku in another category than asked; a replenishment of
    products that have no lasts_days; contradictory conditions in one `all` (two lifecycle stages, two
    devices, a purchase by a prospect, disjoint ranges, an interest in an excluded category, a
    condition and its `not`); a `not` of something always true; an `any` whose alternatives all never
    hold. Segments are looked into.
    """
    return _never(condition)


# -- compiling ---------------------------------------------------------------------------------

_EXAMPLES = {
    "all": 'all = [ { lifecycle = "customer" }, { device = "mobile" } ]',
    "any": 'any = [ { segment = "dog-lovers" }, { query = { utm_campaign = "dogs-*" } } ]',
    "not": 'not = { lifecycle = "prospect" }',
    "segment": 'segment = "dog-lovers"',
    "affinity": 'affinity = { category = "dogs", min = 2 }',
    "top": 'top = { n = 1, category = "dogs" }',
    "lifecycle": 'lifecycle = ["customer", "repeat_customer"]',
    "visits": "visits = { min = 2 }",
    "days_since_last_visit": "days_since_last_visit = { min = 30 }",
    "purchased": 'purchased = { category = "dogs", within_days = 90 }',
    "replenishment_due": 'replenishment_due = { category = "dogs", within_days = 7 }',
    "subscribed": 'subscribed = "dogs"',
    "interested_in": 'interested_in = "fish"',
    "excluded": 'excluded = "cats"',
    "crm_segment": 'crm_segment = "vip"',
    "path": "path = '^/c/'",
    "query": 'query = { utm_campaign = "spring-*" }',
    "referrer": 'referrer = { host = "google.*" }',
    "device": 'device = ["mobile", "tablet"]',
    "time": 'time = { days = ["sat", "sun"], from = "18:00", to = "23:00", timezone = "Europe/Amsterdam" }',
    "dates": 'dates = { from = 2026-03-01, until = 2026-04-30, timezone = "Europe/Amsterdam" }',
}
CONDITION_KINDS = tuple(_EXAMPLES)

# Hints for keys people put in a condition table that belong inside a kind.
_STRAY_KEYS = {
    "category": "a category goes inside a condition, e.g. " + _EXAMPLES["affinity"],
    "min": "min and max go inside a condition, e.g. " + _EXAMPLES["affinity"],
    "max": "min and max go inside a condition, e.g. " + _EXAMPLES["visits"],
    "n": "n goes inside top, e.g. " + _EXAMPLES["top"],
    "days": "days go inside time, e.g. " + _EXAMPLES["time"],
    "from": "from and to go inside time, e.g. " + _EXAMPLES["time"],
    "to": "from and to go inside time, e.g. " + _EXAMPLES["time"],
    "timezone": "timezone goes inside time, e.g. " + _EXAMPLES["time"],
    "sku": 'sku goes inside purchased or replenishment_due, e.g. purchased = { sku = "dog-kibble-5kg" }',
}


def _kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, datetime):
        return "a date and time"
    names = {str: "a string", int: "a whole number", float: "a number", list: "a list", dict: "a table", Time: "a time"}
    return names.get(type(value), "a date")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _label(owner: str, path: str) -> str:
    return f"{owner}: {path}" if path else owner


def _close(value: str, known: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(value, list(known), n=1)
    return close[0] if close else None


class _Table:
    """A condition's own table (affinity = { ... }) under validation: remembers whether anything failed."""

    def __init__(self, fields: Fields) -> None:
        self.fields = fields
        self.bad = False
        self._keys: set[str] = set()

    @property
    def table(self) -> dict[str, Any]:
        return self.fields.table

    def problem(self, message: str, key: str | None = None, hint: str = "") -> None:
        self.fields.problem(f"{self.fields.name}: {message}", key, hint)
        self.bad = True

    def mark(self, key: str) -> Any:
        """The raw value of `key` (None if absent), checked by the caller."""
        self._keys.add(key)
        value = self.fields.table.get(key)
        self.fields.take(key, type(value), None)
        return value

    def required(self, key: str, kind: type | tuple[type, ...], check: Callable[[Any], str | None] | None = None) -> Any:
        self._keys.add(key)
        value = self.fields.take(key, kind, check=check)
        if value is None:
            self.bad = True
        return value

    def optional(self, key: str, kind: type | tuple[type, ...], check: Callable[[Any], str | None] | None = None) -> Any:
        self._keys.add(key)
        value = self.fields.take(key, kind, None, check)
        if value is None and key in self.fields.table:
            self.bad = True
        return value

    def finish(self) -> None:
        """Report unknown keys (with did-you-mean); they make the condition invalid."""
        if not self._keys.issuperset(self.fields.table):
            self.bad = True
        self.fields.finish()


def _not_negative(value: float) -> str | None:
    return None if value >= 0 else "must be 0 or more"


def _positive(value: float) -> str | None:
    return None if value > 0 else "must be more than 0"


def _at_least_one(value: int) -> str | None:
    return None if value >= 1 else "must be at least 1"


SegmentResolver = Callable[[Fields, str, str], "Condition | None"]


class _Compiler:
    def __init__(self, site: Site, catalog: Mapping[str, Product], resolve: SegmentResolver) -> None:
        self.site = site
        self.catalog = catalog
        self.resolve = resolve
        self._zones: dict[str, ZoneInfo] = {}

    # The condition table: its keys are kinds.
    def node(self, fields: Fields, owner: str, path: str) -> Condition | None:
        table = fields.table
        if not table:
            fields.problem(f"{fields.name}: no condition given", hint='e.g. { lifecycle = "customer" }')
            return None
        parts: list[Condition] = []
        ok = True
        for key in table:
            build = _BUILDERS.get(key)
            if build is None:
                close = _close(key, CONDITION_KINDS)
                if key in _STRAY_KEYS:
                    hint = _STRAY_KEYS[key]
                elif key.startswith("utm_"):
                    hint = f'query parameters go inside query, e.g. query = {{ {key} = "..." }}'
                elif close:
                    hint = f"did you mean '{close}'?"
                else:
                    hint = f"known conditions: {', '.join(CONDITION_KINDS)}"
                fields.problem(f"{fields.name}: unknown condition '{key}'", key, hint)
                ok = False
                continue
            condition = build(self, fields, key, owner, path)
            if condition is None:
                ok = False
            else:
                parts.append(condition)
        if not ok:
            return None
        return parts[0] if len(parts) == 1 else AllOf(tuple(parts))

    def sub_node(self, parent: Fields, key: str, index: int | None, value: Any, owner: str, path: str) -> Condition | None:
        fields = parent.sub(key, value) if index is None else parent.entry(key, index, value)
        fields.label = _label(owner, path)
        return self.node(fields, owner, path)

    def value_table(self, fields: Fields, key: str, owner: str, path: str) -> _Table | None:
        """The table a kind takes (affinity = { ... }), or None after a problem."""
        value = fields.table[key]
        if not isinstance(value, dict):
            fields.problem(f"{fields.name}: '{key}' must be a table, not {_kind_of(value)}", key, f"e.g. {_EXAMPLES[key]}")
            return None
        sub = fields.sub(key, value)
        sub.label = _label(owner, _join(path, key))
        return _Table(sub)

    def category(self, table: _Table, key: str, required: bool) -> str | None:
        value = table.required(key, str) if required else table.optional(key, str)
        if value is not None and value not in self.site.labels:
            table.problem(f"'{key}': unknown category {value!r}", key, self._category_hint(value))
            return None
        return value

    def _category_hint(self, value: str) -> str:
        close = _close(value, self.site.categories)
        if close:
            return f"did you mean '{close}'?"
        return f"categories are: {', '.join(self.site.categories)}" if self.site.categories else "no categories are defined in [site]"

    def names(
        self, fields: Fields, key: str, what: str, known: Sequence[str] | None, hint: Callable[[str], str] | None = None
    ) -> tuple[str, ...] | None:
        """One name or a non-empty list of distinct names (from `known` when given)."""
        value = fields.table[key]
        if isinstance(value, str):
            values = [value]
        elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            values = value
        elif isinstance(value, list) and not value:
            fields.problem(f"{fields.name}: '{key}' is empty", key, f"list at least one {what}")
            return None
        else:
            shown = (
                _kind_of(value)
                if not isinstance(value, list)
                else "a list with " + _kind_of(next(v for v in value if not isinstance(v, str)))
            )
            fields.problem(f"{fields.name}: '{key}' must be a {what} or a list of them, not {shown}", key, f"e.g. {_EXAMPLES[key]}")
            return None
        ok = True
        for index, name in enumerate(values):
            if known is not None and name not in known:
                if hint is not None:
                    advice = hint(name)
                else:
                    close = _close(name, known)
                    advice = f"did you mean '{close}'?" if close else f"known: {', '.join(known)}"
                fields.problem(f"{fields.name}: '{key}': unknown {what} {name!r}", key, advice)
                ok = False
            elif known is None and not name:
                fields.problem(f"{fields.name}: '{key}': a {what} cannot be empty", key)
                ok = False
            elif name in values[:index]:
                fields.problem(f"{fields.name}: '{key}': {name!r} is listed twice", key)
                ok = False
        return tuple(values) if ok else None

    def regex(self, fields: Fields, key: str, pattern: str) -> re.Pattern[str] | None:
        try:
            return re.compile(pattern)
        except re.error as exc:
            fields.problem(f"{fields.name}: '{key}': invalid regular expression {pattern!r}: {exc}", key)
            return None

    def zone(self, table: _Table) -> ZoneInfo | None:
        name = table.optional("timezone", str)
        if name is None:
            if "timezone" in table.table:
                return None
            default = getattr(self.site, "timezone", None)
            if default:
                return self._zone(default)
            table.problem("'timezone' is missing", None, 'the shop\'s time zone, e.g. timezone = "Europe/Amsterdam"')
            return None
        zone = self._zone(name)
        if zone is None:
            close = _close(name, available_timezones())
            table.problem(
                f"'timezone': unknown time zone {name!r}",
                "timezone",
                f"did you mean '{close}'?" if close else "use an IANA time zone name such as 'Europe/Amsterdam'",
            )
        return zone

    def _zone(self, name: str) -> ZoneInfo | None:
        if name not in self._zones:
            try:
                self._zones[name] = ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError, OSError):
                return None
        return self._zones[name]


# Builders: (compiler, the condition table, the kind's key, owner, path) -> Condition | None


def _all_or_any(c: _Compiler, fields: Fields, key: str, owner: str, path: str) -> Condition | None:
    value = fields.table[key]
    if not isinstance(value, list):
        fields.problem(f"{fields.name}: '{key}' must be a list of conditions, not {_kind_of(value)}", key, f"e.g. {_EXAMPLES[key]}")
        return None
    if not value:
        fields.problem(f"{fields.name}: '{key}' is empty", key, "list at least one condition")
        return None
    children = []
    ok = True
    for index, item in enumerate(value):
        item_path = f"{_join(path, key)}[{index}]"
        if not isinstance(item, dict):
            fields.problem(
                f"{_label(owner, item_path)}: a condition must be a table, not {_kind_of(item)}", key, 'e.g. { device = "mobile" }'
            )
            ok = False
            continue
        child = c.sub_node(fields, key, index, item, owner, item_path)
        if child is None:
            ok = False
        else:
            children.append(child)
    if not ok:
        return None
    if len(children) == 1:
        return children[0]
    return AllOf(tuple(children)) if key == "all" else AnyOf(tuple(children))


def _not(c: _Compiler, fields: Fields, key: str, owner: str, path: str) -> Condition | None:
    value = fields.table[key]
    if not isinstance(value, dict):
        fields.problem(f"{fields.name}: 'not' must be a table with one condition, not {_kind_of(value)}", key, f"e.g. {_EXAMPLES['not']}")
        return None
    if len(value) > 1:
        fields.problem(
            f"{fields.name}: 'not' takes one condition, not {len(value)}",
            key,
            "for none of them write not = { any = [...] }; for not all of them write not = { all = [...] }",
        )
        return None
    inner = c.sub_node(fields, key, None, value, owner, _join(path, key))
    return Not(inner) if inner is not None else None


def _segment(c: _Compiler, fields: Fields, key: str, owner: str, path: str) -> Condition | None:
    name = fields.table[key]
    if not isinstance(name, str):
        fields.problem(f"{fields.name}: 'segment' must be a segment name, not {_kind_of(name)}", key, f"e.g. {_EXAMPLES['segment']}")
        return None
    return c.resolve(fields, key, name)


def _affinity(c: _Compiler, fields: Fields, key: str, owner: str, path: str) -> Condition | None:
    table = c.value_table(fields, key, owner, path)
    if table is None:
        return None
    category = c.category(table, "category", required=True)
    lo = table.optional("min", (int, float), _not_negative)
    hi = table.optional("max", (int, float), _not_negative)
    table.finish()
    if table.bad or category is None:
        return None
    return Affinity(category, c.site.labels[category], lo, hi)


def _top(c: _Compiler, fields: Fields, key: str, owner: str, path: str) -> Condition | None:
    table = c.value_table(fields, key, owner, path)
    if table is None:
        return None
    category = c.category(table, "category", required=True)
    n = table.optional("n", int, _at_least_one)
    table.finish()
    if table.bad or category is None:
        return None
    return Top(category, c.site.labels[category], n if n is not None else 1, c.site.categories.index(category))


def _range_table(c: _Compiler, fields: Fields, key: str, owner: str, path: str, kind: type | tuple[type, ...]) -> tuple[Any, Any] | None:
    table = c.value_table(fields, key, owner, path)
    if table is None:
        return None
    lo = table.optional("min", kind, _not_negative)
    hi = table.optional("max", kind, _not_negative)
    if lo is None and hi is None and not table.bad:
        table.problem("give 'min', 'max' or both", hint=f"e.g. {_EXAMPLES[key]}")
    table.finish()
    return None if table.bad else (lo, hi)


def _visits(c: _Compiler, fields: Fields, key: str, owner: str, path: str) -> Condition | None:
    bounds = _range_table(c, fields, key, owner, path, int)
    return Visits(*bounds) if bounds is not None else None


def _days_since(c: _Compiler, fields: Fields, key: str, owner: str, path: str) -> Condition | None:
    bounds = _range_table(c, fields, key, owner, path, (int, float))
    return DaysSinceLastVisit(*bounds) if bounds is not None else None


def _sku(c: _Compiler, table: _Table) -> str | None:
    sku = table.optional("sku", str)
    if sku is not None and c.catalog and sku not in c.catalog:
        close = _close(sku, c.catalog)
        table.problem(f"'sku': unknown product {sku!r}", "sku", f"did you mean '{close}'?" if close else "products are listed in [catalog]")
        return None
    return sku


def _purchased(c: _Compiler, fields: Fields, key: str, owner: str, path: str) -> Condition | None:
    table = c.value_table(fields, key, owner, path)
    if table is None:
        return None
    category = c.category(table, "category", required=False)
    sku = _sku(c, table)
    within = table.optional("within_days", (int, float), _positive)
    min_count = table.optional("min_count", int, _at_least_one)
    table.finish()
    if table.bad:
        return None
    never = None
    product = c.catalog.get(sku) if sku is not None else None
    if product is not None and category is not None and product.category != category:
        never = f"{sku} is in {c.site.labels.get(product.category, product.category)}, not {c.site.labels[category]}"
    label = c.site.labels[category] if category is not None else None
    return Purchased(category, label, sku, within, min_count if min_count is not None else 1, never)


def _replenishment(c: _Compiler, fields: Fields, key: str, owner: str, path: str) -> Condition | None:
    table = c.value_table(fields, key, owner, path)
    if table is None:
        return None
    category = c.category(table, "category", required=False)
    sku = _sku(c, table)
    within = table.optional("within_days", (int, float), _not_negative)
    table.finish()
    if table.bad:
        return None
    label = c.site.labels[category] if category is not None else None
    candidates = {
        product_id: product.lasts_days
        for product_id, product in c.catalog.items()
        if product.lasts_days and (sku is None or product_id == sku) and (category is None or product.category == category)
    }
    never = None
    if not candidates:
        if sku is not None and c.catalog[sku].lasts_days is None:
            never = f"{sku} has no 'lasts_days' in [catalog]"
        elif sku is not None:
            never = f"{sku} is in {c.site.labels.get(c.catalog[sku].category, c.catalog[sku].category)}, not {label}"
        else:
            never = f"no product{' in ' + label if label else ''} has 'lasts_days' in [catalog]"
    return ReplenishmentDue(category, label, sku, within if within is not None else 7, candidates, never)


def _category_set(cls: type[_CategorySet]) -> Callable[..., Condition | None]:
    def build(c: _Compiler, fields: Fields, key: str, owner: str, path: str) -> Condition | None:
        names = c.names(fields, key, "category", c.site.categories, c._category_hint)
        if names is None:
            return None
        chosen = frozenset(names)
        return cls(chosen, tuple(c.site.labels[category] for category in c.site.categories if category in chosen))

    return build


def _lifecycle(c: _Compiler, fields: Fields, key: str, owner: str, path: str) -> Condition | None:
    names = c.names(fields, key, "lifecycle stage", LIFECYCLE_STAGES)
    return Lifecycle(frozenset(names)) if names is not None else None


def _crm_segment(c: _Compiler, fields: Fields, key: str, owner: str, path: str) -> Condition | None:
    names = c.names(fields, key, "CRM segment", None)
    return CrmSegment(names) if names is not None else None


def _device(c: _Compiler, fields: Fields, key: str, owner: str, path: str) -> Condition | None:
    names = c.names(fields, key, "device", DEVICES)
    return Device(frozenset(names)) if names is not None else None


def _path(c: _Compiler, fields: Fields, key: str, owner: str, path: str) -> Condition | None:
    names = c.names(fields, key, "regular expression", None)
    if names is None:
        return None
    patterns = [c.regex(fields, key, name) for name in names]
    if any(pattern is None for pattern in patterns):
        return None
    return PathMatches(tuple(patterns))  # type: ignore[arg-type]


def _globs(table: _Table, key: str, value: Any, what: str) -> tuple[str, ...] | None:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    if isinstance(value, list) and not value:
        table.problem(f"'{key}' is empty", key, f"list at least one {what}")
        return None
    return None


def _query(c: _Compiler, fields: Fields, key: str, owner: str, path: str) -> Condition | None:
    table = c.value_table(fields, key, owner, path)
    if table is None:
        return None
    if not table.table:
        table.problem("no query parameter given", hint=f"e.g. {_EXAMPLES['query']}")
        return None
    params = []
    for name, value in table.table.items():
        table.mark(name)
        if isinstance(value, bool):
            params.append(_Param(name, value, (), None))
            continue
        patterns = _globs(table, name, value, "value")
        if patterns is None:
            if not table.bad:
                table.problem(
                    f"'{name}' must be a value pattern, a list of them, or true/false for present/absent, not {_kind_of(value)}",
                    name,
                    'e.g. utm_campaign = "spring-*"',
                )
            continue
        params.append(_Param(name, True, patterns, _glob(patterns)))
    return None if table.bad else Query(tuple(params))


def _referrer(c: _Compiler, fields: Fields, key: str, owner: str, path: str) -> Condition | None:
    table = c.value_table(fields, key, owner, path)
    if table is None:
        return None
    hosts: tuple[str, ...] = ()
    if "host" in table.table:
        value = table.optional("host", (str, list))
        if value is not None:
            found = _globs(table, "host", value, "host pattern")
            if found is None and not table.bad:
                table.problem("'host' must be a host pattern or a list of them", "host", 'e.g. host = "google.*"')
            hosts = tuple(host.lower() for host in found or ())
    url_text = table.optional("url", str)
    url = c.regex(table.fields, "url", url_text) if url_text is not None else None
    if url_text is not None and url is None:
        table.bad = True
    if not hosts and url_text is None and not table.bad:
        table.problem("give 'host', 'url' or both", hint=f"e.g. {_EXAMPLES['referrer']}")
    table.finish()
    if table.bad:
        return None
    return Referrer(hosts, _glob(hosts) if hosts else None, url)


def _day(text: str) -> int | None:
    text = text.lower()
    if text in _WEEKDAYS:
        return _WEEKDAYS.index(text)
    if text in _WEEKDAY_NAMES:
        return _WEEKDAY_NAMES.index(text)
    return None


def _minutes(table: _Table, key: str, allow_end: bool) -> int | None:
    value = table.mark(key)
    if value is None:
        return None
    if isinstance(value, Time):
        if value.second or value.microsecond:
            table.problem(f"'{key}': give hours and minutes only", key, 'e.g. from = "18:00"')
            return None
        return value.hour * 60 + value.minute
    match = _CLOCK.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        what = repr(value) if isinstance(value, str) else _kind_of(value)
        table.problem(f"'{key}': {what} is not a time of day", key, 'write hours and minutes, e.g. "18:00"')
        return None
    hours, minutes = int(match.group(1)), int(match.group(2))
    if hours == 24 and minutes == 0 and allow_end:
        return 1440
    if hours > 23 or minutes > 59:
        table.problem(
            f"'{key}': {value!r} is not a time of day",
            key,
            "hours 00 to 23, minutes 00 to 59" + (' (or "24:00" for the end of the day)' if allow_end else ""),
        )
        return None
    return hours * 60 + minutes


def _time(c: _Compiler, fields: Fields, key: str, owner: str, path: str) -> Condition | None:
    table = c.value_table(fields, key, owner, path)
    if table is None:
        return None
    days: frozenset[int] | None = None
    names = table.optional("days", list)
    if names is not None:
        if not names:
            table.problem("'days' is empty", "days", "leave 'days' out for every day")
        chosen: list[int] = []
        for name in names:
            if not isinstance(name, str):
                table.problem(f"'days' must be a list of weekday names, not {_kind_of(name)}", "days", 'e.g. days = ["sat", "sun"]')
                continue
            day = _day(name)
            if day is None:
                close = _close(name.lower(), _WEEKDAYS + _WEEKDAY_NAMES)
                table.problem(
                    f"'days': unknown weekday {name!r}",
                    "days",
                    f"did you mean '{close}'?" if close else "use mon, tue, wed, thu, fri, sat, sun",
                )
            elif day in chosen:
                table.problem(f"'days': {name!r} is listed twice", "days")
            else:
                chosen.append(day)
        days = frozenset(chosen)
    start = _minutes(table, "from", allow_end=False)
    end = _minutes(table, "to", allow_end=True)
    zone = c.zone(table)
    if names is None and "from" not in table.table and "to" not in table.table and not table.bad:
        table.problem("give 'days', a 'from'/'to' time of day, or both", hint=f"e.g. {_EXAMPLES['time']}")
    table.finish()
    if table.bad or zone is None:
        return None
    return TimeWindow(days, start if start is not None else 0, end if end is not None else 1440, zone)


def _dates(c: _Compiler, fields: Fields, key: str, owner: str, path: str) -> Condition | None:
    table = c.value_table(fields, key, owner, path)
    if table is None:
        return None
    moments = (datetime, date)
    start_value = table.optional("from", moments)
    end_value = table.optional("until", moments)
    zone = c.zone(table) if any(_is_local(v) for v in (start_value, end_value)) else None
    if start_value is None and end_value is None and not table.bad:
        table.problem("give 'from', 'until' or both", hint=f"e.g. {_EXAMPLES['dates']}")
    table.finish()
    if table.bad or (zone is None and any(_is_local(v) for v in (start_value, end_value))):
        return None
    start = _instant(start_value, zone, end_of_day=False) if start_value is not None else None
    end = _instant(end_value, zone, end_of_day=True) if end_value is not None else None
    return DateWindow(start, end, _span(start_value, end_value))


def _is_local(value: Any) -> bool:
    """A date, or a date-time without an offset: read in the shop's time zone."""
    return value is not None and (not isinstance(value, datetime) or value.tzinfo is None)


def _instant(value: date | datetime, zone: ZoneInfo | None, end_of_day: bool) -> float:
    if isinstance(value, datetime):
        return (value if value.tzinfo is not None else value.replace(tzinfo=zone)).timestamp()
    # A date: from the start of that day, until the end of that day (inclusive for people).
    day = value + timedelta(days=1) if end_of_day else value
    return datetime(day.year, day.month, day.day, tzinfo=zone).timestamp()


def _span(start: date | datetime | None, end: date | datetime | None) -> str:
    if start is not None and end is not None:
        return f"from {start.isoformat()} until {end.isoformat()}"
    return f"from {start.isoformat()}" if start is not None else f"until {end.isoformat()}"  # type: ignore[union-attr]


_BUILDERS: dict[str, Callable[[_Compiler, Fields, str, str, str], Condition | None]] = {
    "all": _all_or_any,
    "any": _all_or_any,
    "not": _not,
    "segment": _segment,
    "affinity": _affinity,
    "top": _top,
    "lifecycle": _lifecycle,
    "visits": _visits,
    "days_since_last_visit": _days_since,
    "purchased": _purchased,
    "replenishment_due": _replenishment,
    "subscribed": _category_set(Subscribed),
    "interested_in": _category_set(InterestedIn),
    "excluded": _category_set(Excluded),
    "crm_segment": _crm_segment,
    "path": _path,
    "query": _query,
    "referrer": _referrer,
    "device": _device,
    "time": _time,
    "dates": _dates,
}
assert tuple(_BUILDERS) == CONDITION_KINDS


def _unknown_segment(fields: Fields, key: str, name: str, known: Iterable[str]) -> None:
    known = list(known)
    close = _close(name, known)
    if close:
        hint = f"did you mean '{close}'?"
    elif known:
        hint = f"defined segments: {', '.join(known)}"
    else:
        hint = f"define it as a [segments.{name}] table"
    fields.problem(f"{fields.name}: unknown segment '{name}'", key, hint)


def _slug_problem(name: str) -> str | None:
    if _SLUG.fullmatch(name):
        return None
    return f"segment name {name!r} must be lower-case letters, digits, '-' or '_', starting with a letter or digit"


def compile_segments(section: Fields | Iterable[Fields] | None, site: Site, catalog: Mapping[str, Product]) -> dict[str, Condition]:
    """The `[segments]` tables (one per rule file, or one), compiled: name -> Segment.

    Segments may use one another in any order and across files; a cycle is a problem naming the
    chain. Problems go to the Fields; a segment with a problem maps to a placeholder that makes
    uses of it fail silently (the folder is refused anyway).
    """
    if section is None:
        sections: list[Fields] = []
    elif isinstance(section, Fields):
        sections = [section]
    else:
        sections = list(section)
    pending: dict[str, Fields] = {}
    compiled: dict[str, Condition] = {}
    for fields in sections:
        for name, value in fields.table.items():
            fields.take(name, type(value), None)
            complaint = _slug_problem(name)
            if complaint:
                fields.problem(complaint, name)
                compiled.setdefault(name, _Broken(name))
                continue
            if not isinstance(value, dict):
                fields.problem(
                    f"segment '{name}' must be a table of conditions, not {_kind_of(value)}",
                    name,
                    f'write [segments.{name}] with conditions below it, e.g. lifecycle = "customer"',
                )
                compiled.setdefault(name, _Broken(name))
                continue
            sub = fields.sub(name, value)
            sub.label = f"segment '{name}'"
            if name in pending:
                sub.problem(f"segment '{name}' is defined again (first at {pending[name].where()})")
                continue
            pending[name] = sub

    stack: list[str] = []

    def build(name: str) -> Condition:
        if name not in compiled:
            stack.append(name)
            condition = compiler.node(pending[name], f"segment '{name}'", "")
            stack.pop()
            compiled[name] = Segment(name, condition) if condition is not None else _Broken(name)
        return compiled[name]

    def resolve(fields: Fields, key: str, name: str) -> Condition | None:
        if name in stack:
            chain = " -> ".join(stack[stack.index(name) :] + [name])
            fields.problem(f"{fields.name}: segment cycle {chain}", key, "a segment cannot use itself, directly or through other segments")
            return None
        if name in pending or name in compiled:
            condition = build(name) if name in pending else compiled[name]
            return None if isinstance(condition, _Broken) else condition
        _unknown_segment(fields, key, name, pending)
        return None

    compiler = _Compiler(site, catalog, resolve)
    for name in pending:
        build(name)
    return {name: compiled[name] for name in list(pending) + [n for n in compiled if n not in pending]}


def compile_condition(
    fields: Fields, key: str, site: Site, catalog: Mapping[str, Product], segments: Mapping[str, Condition]
) -> Condition | None:
    """The condition in `fields.table[key]` (e.g. a rule's `when`), compiled.

    ALWAYS when the key is absent; None after recording problems (at file:line, via `fields`).
    """
    value = fields.table.get(key)
    fields.take(key, type(value), None)
    if value is None:
        return ALWAYS
    if not isinstance(value, dict):
        if isinstance(value, list):
            hint = f"for conditions that must all hold write {key} = {{ all = [...] }}"
        elif isinstance(value, str):
            hint = f'to use a segment write {key} = {{ segment = "{value}" }}'
        else:
            hint = f'e.g. {key} = {{ lifecycle = "customer" }}'
        fields.problem(f"{fields.name}: '{key}' must be a table of conditions, not {_kind_of(value)}", key, hint)
        return None

    def resolve(where: Fields, ref_key: str, name: str) -> Condition | None:
        condition = segments.get(name)
        if condition is None:
            _unknown_segment(where, ref_key, name, segments)
            return None
        if isinstance(condition, _Broken):
            return None
        return condition if isinstance(condition, Segment) else Segment(name, condition)

    sub = fields.sub(key, value)
    sub.label = _label(fields.label, key)
    return _Compiler(site, catalog, resolve).node(sub, fields.label, key)
