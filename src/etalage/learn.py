"""What a page view teaches a profile, from the request URL and the site's [[learn]] rules."""

from __future__ import annotations

from urllib.parse import parse_qs

from .profile import Event
from .ruleset import RuleSet

__all__ = ["learn_from_request"]


def learn_from_request(ruleset: RuleSet, path: str, query: str, now: float) -> list[Event]:
    """The events a page view at `path` teaches: always a page_view, plus what matching learn rules read."""
    learned = [Event("page_view", path, now)]
    params: dict[str, list[str]] | None = None

    def param(name: str) -> str | None:
        nonlocal params
        if params is None:
            params = parse_qs(query)
        values = params.get(name)
        return values[0] if values else None

    for rule in ruleset.learn:
        match = rule.path.search(path)
        if match is None:
            continue
        value = param(rule.query) if rule.query is not None else match.group("product" if rule.event in ("product_view", "purchase") else "category")
        if not value:
            continue
        if rule.event in ("product_view", "purchase"):
            product = ruleset.catalog.get(value)
            if rule.event == "product_view":
                learned.append(Event("product_view", value, now))
                if product is not None:
                    # Viewing a product shows interest in its category too.
                    learned.append(Event("category_view", product.category, now))
            elif (order := param(rule.order_query or "")) is not None:
                learned.append(Event("purchase", value, now, {"order": order, "category": product.category if product else "", "quantity": 1}))
        elif value in ruleset.site.labels:  # only the shop's own categories; anything else in a URL is noise
            learned.append(Event(rule.event, value, now))
    return learned
