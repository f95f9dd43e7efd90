"""A customer's fields from the CRM checked against the rule set and turned into profile events: what
`etalage import` and the customers API (`PUT /.etalage/api/customers/<id>`) share."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Collection, Iterable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from etalage.problems import closest
from etalage.profiles.profile import Event
from etalage.rules.ruleset import RuleSet

__all__ = ["BadField", "Checker"]

MAX_ID_LENGTH = 128
MAX_NAME_LENGTH = 100
# More of one product on one order line is a mistake in the export, not a purchase.
MAX_QUANTITY = 100_000
# A date more than this far ahead is a mistake (a day and month swapped, a wrong year).
_FUTURE_SLACK = 24 * 3600.0
_NO_SPACE_OR_CONTROL = re.compile(r"[^\s\x00-\x1f\x7f-\x9f]+")
_PRINTABLE = re.compile(r"[^\x00-\x1f\x7f-\x9f]+")
_PRINTABLE_NO_BAR = re.compile(r"[^\x00-\x1f\x7f-\x9f|]+")
_CURRENCY = re.compile(r"[A-Z]{3}")


class BadField(Exception):
    """One field of one row is wrong; the message is the reason."""


class Checker:
    """Validates fields against the rule set and turns good ones into profile events."""

    def __init__(self, ruleset: RuleSet, now: float | None = None, replace: Collection[str] = ()) -> None:
        self.categories = frozenset(ruleset.site.labels)
        self._category_list = ruleset.site.categories
        self.catalog = ruleset.catalog
        self.now = time.time() if now is None else now
        # Of "segments" and "newsletters": the fields whose lists replace the customer's instead of adding to them.
        self.replace = frozenset(replace)
        # Exports repeat the same few thousand dates: parse each once.
        self._dates: dict[str, tuple[float, str]] = {}

    def customer_id(self, text: str) -> str:
        if not text:
            raise BadField("customer_id is missing")
        if len(text) > MAX_ID_LENGTH:
            raise BadField(f"customer_id is longer than {MAX_ID_LENGTH} characters")
        if not _NO_SPACE_OR_CONTROL.fullmatch(text):
            raise BadField(f"customer_id {text!r} contains spaces or control characters")
        return text

    def segment(self, text: str) -> str:
        if not text:
            raise BadField("a segment name is empty")
        if len(text) > MAX_NAME_LENGTH or not _PRINTABLE_NO_BAR.fullmatch(text):
            raise BadField(f"segment {text!r} must be at most {MAX_NAME_LENGTH} printable characters, without '|'")
        return text

    def category(self, text: str, what: str = "category") -> str:
        if text not in self.categories:
            close = closest(text, self.categories, cutoff=0.75)
            hint = f" (did you mean {close!r}?)" if close else ""
            raise BadField(f"{what} {text!r} is not a category of the rule set{hint} (categories are: {', '.join(self._category_list)})")
        return text

    def date(self, text: str) -> tuple[float, str]:
        """Unix time and the day (UTC) of an ISO 8601 date or date-time; naive times are UTC."""
        known = self._dates.get(text)
        if known is not None:
            return known
        if len(self._dates) >= 4096:
            self._dates.clear()
        self._dates[text] = parsed = self._parse_date(text)
        return parsed

    def _parse_date(self, text: str) -> tuple[float, str]:
        if not text:
            raise BadField("date is missing")
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise BadField(f"date {text!r} is not an ISO 8601 date (2026-03-01 or 2026-03-01T14:30:00)") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        at = moment.timestamp()
        if at > self.now + _FUTURE_SLACK:
            raise BadField(f"date {text!r} is in the future")
        return at, datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d")

    def quantity(self, value: Any) -> int:
        if value is None or value == "":
            return 1
        if isinstance(value, str) and value.isascii() and value.isdigit():
            number = int(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            raise BadField(f"quantity must be a whole number of at least 1, got {value!r}")
        if number < 1:
            raise BadField(f"quantity must be a whole number of at least 1, got {value!r}")
        if number > MAX_QUANTITY:
            # Also keeps numbers within what a profile can store (JSON integers of 64 bits).
            raise BadField(f"quantity {value!r} is more than {MAX_QUANTITY:,} on one order line; is this column the quantity?")
        return number

    def value(self, value: Any, currency: Any) -> dict[str, Any]:
        """An order's total and its currency, both or neither: {"value": 25.98, "currency": "EUR"} or {}."""
        if value in (None, "") and currency in (None, ""):
            return {}
        if value in (None, ""):
            raise BadField(f"currency {currency!r} without a value: give the order's total in value, or neither")
        if isinstance(value, str):
            if "," in value:
                raise BadField(f"value {value!r}: write the order's total with a decimal point and no thousands separator, as 1234.50")
            try:
                amount = float(Decimal(value.strip()))
            except InvalidOperation:
                raise BadField(f"value {value!r} is not a number (the order's total, as 25.98)") from None
        elif isinstance(value, int | float) and not isinstance(value, bool):
            amount = float(value)
        else:
            raise BadField(f"value must be the order's total, as 25.98, got {value!r}")
        if not math.isfinite(amount) or amount < 0:
            raise BadField(f"value {value!r} is not an amount (finite, 0 or more)")
        if not isinstance(currency, str) or not _CURRENCY.fullmatch(currency.strip()):
            raise BadField(f'currency {currency!r}: expected an ISO 4217 code such as "EUR" with the value')
        return {"value": amount, "currency": currency.strip()}

    def orders(self, purchases: Iterable[Event]) -> list[Event]:
        """One `order` event (its total and currency) for each order whose lines give them; every line
        of an order that gives a total must give the same one, the order's."""
        found: dict[str, Event] = {}
        for line in purchases:
            data = line.data or {}
            if line.kind != "purchase" or "currency" not in data:
                continue
            order = str(data["order"])
            total = {"value": data["value"], "currency": data["currency"]}
            known = found.get(order)
            if known is not None and known.data != total:
                raise BadField(
                    f"order {order!r} has the totals {_total(known.data)} and {_total(total)} on different lines: "
                    "value is the order's total, the same on each of its lines"
                )
            if known is None or line.at < known.at:
                found[order] = Event("order", order, line.at, total)
        return list(found.values())

    def purchase(self, order: str, sku: str, category: str, date: str, quantity: Any, value: Any = "", currency: Any = "") -> Event:
        if not sku:
            raise BadField("sku is missing")
        if len(sku) > MAX_ID_LENGTH or not _PRINTABLE.fullmatch(sku):
            raise BadField(f"sku {sku!r} must be at most {MAX_ID_LENGTH} printable characters")
        if category:
            self.category(category)
        else:
            product = self.catalog.get(sku)
            if product is None:
                raise BadField(f"no category, and sku {sku!r} is not in the rule set's catalog to take it from")
            category = product.category
        at, day = self.date(date)
        count = self.quantity(quantity)
        if len(order) > MAX_ID_LENGTH:
            raise BadField(f"order is longer than {MAX_ID_LENGTH} characters")
        # One derived order per customer and day: re-imports find the same order lines again, and
        # the lines of one day's order (which an export without order ids cannot tell apart) count
        # as one order for the customer's lifecycle.
        total = self.value(value, currency)
        return Event("purchase", sku, at, {"order": order or f"import:{day}", "category": category, "quantity": count, **total})

    def base_events(
        self, customer_id: str, segments: Iterable[str], newsletters: Iterable[str], given: Collection[str] = ("segments", "newsletters")
    ) -> list[Event]:
        """The customer's own events; a replaced field that the row or line carries (`given`, even
        empty) becomes one event holding the whole list, one that it does not carry is left alone."""
        events = [Event("customer", customer_id, self.now)]
        for field, names, add in (("segments", segments, "segment"), ("newsletters", newsletters, "newsletter_subscribe")):
            unique = list(dict.fromkeys(names))
            if field in self.replace and field in given:
                events.append(Event(f"{field}_replaced", "", self.now, {"names": unique}))
            else:
                events += [Event(add, name, self.now) for name in unique]
        return events


def _total(data: Any) -> str:
    return f"{data['value']:g} {data['currency']}"
