"""Static analysis: whether a condition can ever hold, found without a visitor.

Each kind states its own facts (what must be true whenever it holds) and its own impossibilities;
this module merges facts and finds the conditions that contradict one another.
"""

from __future__ import annotations

from typing import Any

from etalage.rules.conditions.base import Condition, Fact

__all__ = ["never_fires", "merge", "contradiction"]


def merge(facts: list[Fact]) -> dict[str, Any]:
    """What the facts allow together, per dimension: the intersection of their sets or ranges."""
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


def contradiction(facts: list[Fact]) -> str | None:
    """The first set of conditions that cannot hold at once, in plain words."""
    for dimension in dict.fromkeys(fact.dimension for fact in facts):
        mine = [fact for fact in facts if fact.dimension == dimension]
        for count in range(2, len(mine) + 1):
            allowed = merge(mine[:count])[dimension]
            empty = not allowed if isinstance(allowed, frozenset) else allowed[0] > allowed[1]
            if empty:
                sources = [f"'{source}'" for source in dict.fromkeys(fact.source for fact in mine[:count])]
                if len(sources) == 1:
                    return f"{sources[0]} cannot hold"
                both = "both" if len(sources) == 2 else "all"
                return f"{', '.join(sources[:-1])} and {sources[-1]} cannot {both} hold"
    return None


def never_fires(condition: Condition) -> str | None:
    """Why `condition` can never hold, found without a visitor; None when it can (as far as known).

    Found: min above max (affinity, visits, days since the last visit); visits at most 0; an empty
    time window (from = to); a schedule that ends before it starts; a purchase of a sku in another
    category than asked; a replenishment of products that have no lasts_days; contradictory
    conditions in one `all` (two lifecycle stages, two devices, a purchase by a prospect, disjoint
    ranges, an interest in an excluded category, a condition and its `not`); a `not` of something
    always true; an `any` whose alternatives all never hold. Segments are looked into.
    """
    return condition._never()
