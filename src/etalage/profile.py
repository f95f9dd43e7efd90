"""The visitor profile and what a page view teaches it.

Profiles are stored as versioned JSON (orjson), so a store never shares a mutable object between
two requests and a later schema can read an older one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson

__all__ = ["Profile", "ProfileDecodeError", "SCHEMA_VERSION"]

SCHEMA_VERSION = 1
# A new visit starts after this much inactivity, as in most analytics tools.
VISIT_GAP_SECONDS = 30 * 60
RECENT_PRODUCTS = 20


class ProfileDecodeError(ValueError):
    """Stored profile bytes are not a profile this version can read."""


@dataclass(slots=True)
class Profile:
    category_views: dict[str, int] = field(default_factory=dict)
    recent_products: list[str] = field(default_factory=list)
    newsletters: set[str] = field(default_factory=set)
    visits: int = 0
    first_seen: float = 0.0
    last_seen: float = 0.0

    def touch(self, now: float) -> bool:
        """Record a page view; True when it starts a new visit (the previous one is long enough ago)."""
        if not self.first_seen:
            self.first_seen = now
        new_visit = now - self.last_seen > VISIT_GAP_SECONDS
        if new_visit:
            self.visits += 1
        self.last_seen = now
        return new_visit

    def view_category(self, category: str) -> None:
        self.category_views[category] = self.category_views.get(category, 0) + 1

    def view_product(self, product_id: str) -> None:
        if product_id in self.recent_products:
            self.recent_products.remove(product_id)
        self.recent_products.insert(0, product_id)
        del self.recent_products[RECENT_PRODUCTS:]

    def subscribe(self, category: str) -> None:
        self.newsletters.add(category)

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
