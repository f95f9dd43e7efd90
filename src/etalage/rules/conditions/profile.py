"""Conditions on the visitor's profile: interest, own choices, history, purchases and CRM segments."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from etalage.profiles.profile import LIFECYCLE_STAGES, Profile
from etalage.rules.conditions.base import DAY, Condition, Fact, Verdict, Visit, bounds, interval, number, one_of, plural, unmet
from etalage.rules.model import Product, Site

__all__ = [
    "Affinity",
    "Top",
    "CategorySet",
    "Subscribed",
    "InterestedIn",
    "Excluded",
    "Lifecycle",
    "Visits",
    "DaysSinceLastVisit",
    "Purchased",
    "ReplenishmentDue",
    "CrmSegment",
    "supply_ends",
]


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
                return Verdict(True, f"affinity for {self.label} is {number(score)}")
            return Verdict(False, f"no interest in {self.label}")
        missed = unmet(score, self.min, self.max)
        if missed:
            return Verdict(False, f"affinity for {self.label} is {number(score)}, needs {missed}")
        return Verdict(True, f"affinity for {self.label} is {number(score)} ({bounds(self.min, self.max)})")

    def describe(self) -> str:
        if self.min is None and self.max is None:
            return f"some interest in {self.label}"
        return f"affinity for {self.label} {bounds(self.min, self.max)}"

    def _facts(self) -> list[Fact]:
        lo, hi = interval(self.min, self.max)
        if self.min is None and self.max is None:
            lo = math.ulp(0.0)
        return [Fact(f"affinity for {self.label}", (max(lo, 0.0), hi), self.describe())]

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

    def _facts(self) -> list[Fact]:
        return [Fact(f"affinity for {self.label}", (math.ulp(0.0), math.inf), self.describe())]


@dataclass(frozen=True, slots=True)
class CategorySet(Condition):
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
        return self._says(one_of(self.labels))

    def _says(self, labels: str) -> str:
        raise NotImplementedError

    def _fails(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Subscribed(CategorySet):
    attribute: ClassVar[str] = "newsletters"

    def _says(self, labels: str) -> str:
        return f"subscribed to the {labels} newsletter"

    def _fails(self) -> str:
        return f"not subscribed to the {one_of(self.labels)} newsletter"


@dataclass(frozen=True, slots=True)
class InterestedIn(CategorySet):
    attribute: ClassVar[str] = "interests"

    def _says(self, labels: str) -> str:
        return f"chose {labels} as an interest"

    def _fails(self) -> str:
        return f"did not choose {one_of(self.labels)} as an interest"

    def _facts(self) -> list[Fact]:
        # A chosen interest counts as strong interest (Profile.affinity adds 10).
        if len(self.labels) == 1:
            return [Fact(f"affinity for {self.labels[0]}", (10.0, math.inf), self.describe())]
        return []


@dataclass(frozen=True, slots=True)
class Excluded(CategorySet):
    attribute: ClassVar[str] = "exclusions"

    def _says(self, labels: str) -> str:
        return f"excluded {labels}"

    def _fails(self) -> str:
        return f"did not exclude {one_of(self.labels)}"

    def _facts(self) -> list[Fact]:
        # Excluded categories have no affinity at all.
        if len(self.labels) == 1:
            return [Fact(f"affinity for {self.labels[0]}", (0.0, 0.0), self.describe())]
        return []


# -- the visitor's history ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Lifecycle(Condition):
    values: frozenset[str]

    def _names(self) -> str:
        return one_of([stage for stage in LIFECYCLE_STAGES if stage in self.values])

    def test(self, visit: Visit) -> bool:
        return visit.profile.lifecycle in self.values

    def check(self, visit: Visit) -> Verdict:
        stage = visit.profile.lifecycle
        if stage in self.values:
            return Verdict(True, f"lifecycle is {stage}")
        return Verdict(False, f"lifecycle is {stage}, needs {self._names()}")

    def describe(self) -> str:
        return f"lifecycle is {self._names()}"

    def _facts(self) -> list[Fact]:
        return [Fact("lifecycle", self.values, self.describe())]

    def _facts_if_not(self, source: str) -> list[Fact]:
        return [Fact("lifecycle", frozenset(LIFECYCLE_STAGES) - self.values, source)]

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
        missed = unmet(visits, self.min, self.max)
        if missed:
            return Verdict(False, f"{plural(visits, 'visit')}, needs {missed}")
        return Verdict(True, f"{plural(visits, 'visit')} ({bounds(self.min, self.max)})")

    def describe(self) -> str:
        return f"{bounds(self.min, self.max)} visits"

    def _facts(self) -> list[Fact]:
        return [Fact("visits", interval(self.min, self.max), self.describe())]

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
        missed = unmet(days, self.min, self.max)
        if missed:
            return Verdict(False, f"last visit {plural(days, 'day')} ago, needs {missed}")
        return Verdict(True, f"last visit {plural(days, 'day')} ago ({bounds(self.min, self.max)})")

    def describe(self) -> str:
        return f"last visit {bounds(self.min, self.max, 'days')} ago"

    def _facts(self) -> list[Fact]:
        return [Fact("days since the last visit", interval(self.min, self.max), self.describe())]

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
        return f" in the last {plural(self.within_days, 'day')}" if self.within_days is not None else ""

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
        bought = f"bought {self._what()} {plural(count, 'time')}{self._window()}"
        if count < self.min_count:
            return Verdict(False, f"{bought}, needs at least {self.min_count}")
        return Verdict(True, bought)

    def describe(self) -> str:
        times = f" at least {self.min_count} times" if self.min_count > 1 else ""
        return f"bought {self._what()}{times}{self._window()}"

    def _facts(self) -> list[Fact]:
        stages = ("repeat_customer",) if self.min_count >= 2 else ("customer", "repeat_customer")
        return [Fact("lifecycle", frozenset(stages), self.describe())]

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
                return Verdict(True, f"{sku} runs out in {plural((end - now) / DAY, 'day')}")
            return Verdict(True, f"{sku} ran out {plural((now - end) / DAY, 'day')} ago")
        if not ends:
            what = f"never bought {self.sku}" if self.sku else f"bought no {self.label + ' ' if self.label else ''}product that runs out"
            return Verdict(False, what)
        coming = [item for item in ends if item[0] >= now]
        if coming:
            end, sku, _ = min(coming)
            return Verdict(False, f"{sku} runs out in {plural((end - now) / DAY, 'day')}, needs within {number(self.within_days)}")
        end, sku, lasts = max(ends)
        return Verdict(False, f"{sku} ran out {plural((now - end) / DAY, 'day')} ago, more than its {lasts} days")

    def describe(self) -> str:
        return f"{self._what()} runs out within {plural(self.within_days, 'day')}"

    def _facts(self) -> list[Fact]:
        return [Fact("lifecycle", frozenset(("customer", "repeat_customer")), self.describe())]

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
        return "CRM segment " + one_of([f"'{name}'" for name in self.names])

    def describe(self) -> str:
        return f"in {self._which()}"
