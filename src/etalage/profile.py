"""The visitor profile and the events that change it.

A page view yields events (what it taught); the proxy applies them to its copy for this page,
and the store applies the same events to the stored profile. Stores never write back a whole
profile they read earlier, so two workers handling one visitor cannot overwrite each other's
updates. Profiles are stored as versioned JSON (orjson), so a later schema can read an older one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

import orjson

__all__ = ["Event", "Profile", "ProfileDecodeError", "SCHEMA_VERSION"]

SCHEMA_VERSION = 1
# A new visit starts after this much inactivity, as in most analytics tools.
VISIT_GAP_SECONDS = 30 * 60
RECENT_PRODUCTS = 20


class ProfileDecodeError(ValueError):
    """Stored profile bytes are not a profile this version can read."""


class Event(NamedTuple):
    kind: str  # page_view | category_view | product_view | newsletter_subscribe
    value: str
    at: float  # Unix time


@dataclass(slots=True)
class Profile:
    category_views: dict[str, int] = field(default_factory=dict)
    recent_products: list[str] = field(default_factory=list)
    newsletters: set[str] = field(default_factory=set)
    visits: int = 0
    first_seen: float = 0.0
    last_seen: float = 0.0

    def starts_visit(self, now: float) -> bool:
        """Whether a page view at `now` begins a new visit (the previous one is long enough ago)."""
        return not self.last_seen or now - self.last_seen > VISIT_GAP_SECONDS

    def apply(self, events: Iterable[Event]) -> None:
        for kind, value, at in events:
            if kind == "page_view":
                if not self.first_seen:
                    self.first_seen = at
                if self.starts_visit(at):
                    self.visits += 1
                self.last_seen = max(self.last_seen, at)
            elif kind == "category_view":
                self.category_views[value] = self.category_views.get(value, 0) + 1
            elif kind == "product_view":
                if value in self.recent_products:
                    self.recent_products.remove(value)
                self.recent_products.insert(0, value)
                del self.recent_products[RECENT_PRODUCTS:]
            elif kind == "newsletter_subscribe":
                self.newsletters.add(value)

    def merge(self, other: Profile) -> None:
        """Fold another profile of the same person into this one (an anonymous one at login).

        Counts add up, recency takes the latest, sets unite. Merging is only ever done once per
        pair (the store removes the merged profile), which keeps the adding idempotent.
        """
        for category, views in other.category_views.items():
            self.category_views[category] = self.category_views.get(category, 0) + views
        newer, older = (other, self) if other.last_seen > self.last_seen else (self, other)
        self.recent_products = list(dict.fromkeys(newer.recent_products + older.recent_products))[:RECENT_PRODUCTS]
        self.newsletters |= other.newsletters
        self.visits += other.visits
        firsts = [t for t in (self.first_seen, other.first_seen) if t]
        self.first_seen = min(firsts) if firsts else 0.0
        self.last_seen = max(self.last_seen, other.last_seen)

    def top_category(self, order: tuple[str, ...]) -> str | None:
        """The most viewed category; ties go to the one listed first in the site's category order."""
        best, best_views = None, 0
        for category in order:
            views = self.category_views.get(category, 0)
            if views > best_views:
                best, best_views = category, views
        return best

    def dumps(self) -> bytes:
        return orjson.dumps(
            {
                "v": SCHEMA_VERSION,
                "category_views": self.category_views,
                "recent_products": self.recent_products,
                "newsletters": sorted(self.newsletters),
                "visits": self.visits,
                "first_seen": self.first_seen,
                "last_seen": self.last_seen,
            }
        )

    @classmethod
    def loads(cls, data: bytes) -> Profile:
        try:
            raw = orjson.loads(data)
            if raw.get("v") != SCHEMA_VERSION:
                raise ProfileDecodeError(f"unknown profile schema version {raw.get('v')!r}")
            return cls(
                category_views={str(k): int(v) for k, v in raw["category_views"].items()},
                recent_products=[str(p) for p in raw["recent_products"]][:RECENT_PRODUCTS],
                newsletters={str(c) for c in raw["newsletters"]},
                visits=int(raw["visits"]),
                first_seen=float(raw["first_seen"]),
                last_seen=float(raw["last_seen"]),
            )
        except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ProfileDecodeError):
                raise
            raise ProfileDecodeError(f"stored profile is not readable: {exc}") from exc
