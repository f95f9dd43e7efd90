"""An order as the shop announces it, into the events a profile learns from.

The same JSON object comes from the shop's backend (`POST /.etalage/api/events`, type "order") and
from a response header of the shop's ([orders] header, for shops that can add a header to the
response that completes a checkout but cannot call an API):

    {"order": "100023", "products": ["12", "7"], "value": "25.98", "currency": "EUR"}

A repeated product id is a quantity. An optional "date" (ISO 8601) says when an order was placed that
is sent later (offline, point of sale); it counts for no goal reached before it. The order's value is its total, a number or a decimal string
(as Django and most shops serialize money). Everything is checked before anything is learned: a bad
order teaches nothing.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from etalage.engine.customer_fields import BadField, Checker
from etalage.profiles.profile import Event
from etalage.rules.ruleset import RuleSet

__all__ = ["InvalidData", "announced_order", "order_events", "parse_object", "text"]

_MAX_TEXT = 200
_MAX_PRODUCTS = 1000
_CURRENCY = re.compile(r"[A-Z]{3}")


class InvalidData(ValueError):
    """What the shop sent is not what Etalage takes; the message says why."""


def parse_object(raw: bytes, shape: str) -> dict[str, Any]:
    """A JSON object, or InvalidData saying it is not one (`shape` describes what was expected)."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidData(f"expected JSON {shape}: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidData(f"expected a JSON object {shape}")
    return data


def text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InvalidData(f"{key}: expected a non-empty string")
    if len(value) > _MAX_TEXT:
        raise InvalidData(f"{key}: longer than {_MAX_TEXT} characters")
    return value.strip()


def _value(data: Mapping[str, Any]) -> float:
    raw = data.get("value")
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise InvalidData('value: expected the order total, a number such as 25.98 or "25.98"')
    try:
        value = float(Decimal(raw) if isinstance(raw, str) else raw)
    except (InvalidOperation, ValueError) as exc:
        raise InvalidData(f"value: {raw!r} is not a number") from exc
    if not math.isfinite(value) or value < 0:
        raise InvalidData(f"value: {raw!r} is not an amount (finite, 0 or more)")
    return value


def _products(data: Mapping[str, Any]) -> Counter[str]:
    raw = data.get("products")
    if not isinstance(raw, list) or not raw:
        raise InvalidData('products: expected a non-empty list of product ids, e.g. ["12", "7"]')
    if len(raw) > _MAX_PRODUCTS:
        raise InvalidData(f"products: more than {_MAX_PRODUCTS}")
    if not all(isinstance(item, str) and item.strip() and len(item) <= _MAX_TEXT for item in raw):
        raise InvalidData("products: every product id must be a non-empty string")
    return Counter(item.strip() for item in raw)


def _placed(data: Mapping[str, Any], ruleset: RuleSet, now: float) -> float:
    """When the order was placed: its "date" (an offline or point-of-sale order sent later), else now."""
    if "date" not in data:
        return now
    raw = data["date"]
    try:
        if not isinstance(raw, str):
            raise BadField("expected an ISO 8601 date or date-time, as 2026-03-01T14:30:00+01:00")
        return Checker(ruleset, now).date(raw.strip())[0]
    except BadField as exc:
        raise InvalidData(f"date: {exc}") from exc


def order_events(data: Mapping[str, Any], ruleset: RuleSet, now: float) -> list[Event]:
    """The order and one purchase per product it holds; InvalidData when any part is wrong."""
    at = _placed(data, ruleset, now)
    order = text(data, "order")
    value = _value(data)
    currency = data.get("currency")
    if not isinstance(currency, str) or not _CURRENCY.fullmatch(currency):
        raise InvalidData('currency: expected an ISO 4217 code such as "EUR"')
    lines = [
        # The category comes from the catalogue, as for every other purchase the profile learns.
        Event("purchase", product, at, {"order": order, "category": _category(ruleset, product), "quantity": quantity})
        for product, quantity in _products(data).items()
    ]
    return [Event("order", order, at, {"value": value, "currency": currency}), *lines]


def _category(ruleset: RuleSet, product: str) -> str:
    known = ruleset.catalog.get(product)
    return known.category if known is not None else ""


def announced_order(ruleset: RuleSet, value: bytes, now: float) -> list[Event]:
    """The order a response header of the shop's announces ([orders] header); InvalidData when it is not one."""
    return order_events(parse_object(value, '{"order": ..., "products": [...], "value": ..., "currency": ...}'), ruleset, now)
