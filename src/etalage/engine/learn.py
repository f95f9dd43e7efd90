"""What a page view teaches a profile, from the request URL, the site's [[learn]] rules and the
catalogue's product pages (a [catalog] entry's `path`)."""

from __future__ import annotations

import math
from urllib.parse import parse_qs

from etalage.profiles.profile import Event
from etalage.rules.model import Product
from etalage.rules.ruleset import RuleSet

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
        value = (
            param(rule.query)
            if rule.query is not None
            else match.group("product" if rule.event in ("product_view", "purchase") else "category")
        )
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
                data: dict[str, object] = {"order": order, "category": product.category if product else "", "quantity": 1}
                total = _amount(param(rule.value_query)) if rule.value_query else None
                if total is not None:
                    data["value"] = total
                learned.append(Event("purchase", value, now, data))
        elif value in ruleset.site.labels:  # only the shop's own categories; anything else in a URL is noise
            learned.append(Event(rule.event, value, now))
    product_id = _product_page(ruleset, path)
    if product_id is not None and not any(event.kind == "product_view" and event.value == product_id for event in learned):
        # The page of a catalogue product (its `path`), which no learn rule read already.
        learned.append(Event("product_view", product_id, now))
        learned.append(Event("category_view", ruleset.catalog[product_id].category, now))
    return learned


def _amount(text: str | None) -> float | None:
    """An order total as a shop writes it in a URL: "24.95" or "24,95"; None when it is no amount."""
    if not text:
        return None
    try:
        amount = float(text.strip().replace(",", "."))
    except ValueError:
        return None
    return amount if math.isfinite(amount) and amount >= 0 else None


def _product_page(ruleset: RuleSet, path: str) -> str | None:
    """The catalogue product whose page `path` is, if any (the loader indexes the pages)."""
    pages = getattr(ruleset.catalog, "paths", None)
    if not pages:
        return None
    key = Product.page_key(path)
    product_id = pages.get(key) if key is not None else None
    return product_id if product_id in ruleset.catalog else None
