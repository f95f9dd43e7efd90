"""Reading `[[trigger]]` tables: validated up front like every other rule part.

    [[trigger]]
    id = "kibble-runs-out"
    moment = "replenishment_due"       # see etalage.rules.triggers for the kinds
    within_days = 5
    category = "dogs"                  # optional
    consent = ["onetrust:C0004"]       # optional: purposes the visitor's consent must grant
    customers_only = true              # optional: only profiles linked to a customer id
    enabled = false                    # optional: off without deleting it

Which keys a kind takes is in _KEYS; a key given to a kind that does not use it is a problem, so a
marketer never believes a setting works that is ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from etalage.consent import ConsentPolicy
from etalage.problems import did_you_mean
from etalage.rules.fields import Fields
from etalage.rules.model import Product, Site
from etalage.rules.triggers import TRIGGER_KINDS, Trigger

__all__ = ["compile_triggers"]

_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]*")
DAY = 24 * 3600.0
# The keys each kind takes besides id, moment, enabled, consent and customers_only.
_KEYS: dict[str, tuple[str, ...]] = {
    "replenishment_due": ("within_days", "category", "sku"),
    "interest": ("threshold", "category", "cooldown_days"),
    "basket_abandoned": ("path", "hours"),
    "first_purchase": (),
    "newsletter_interest": ("threshold", "category", "cooldown_days"),
}
_DEFAULT_COOLDOWN_DAYS = 30


def compile_triggers(found: list[Fields], site: Site, catalog: Mapping[str, Product], consent: ConsentPolicy) -> tuple[Trigger, ...]:
    triggers: list[Trigger] = []
    seen: dict[str, str] = {}
    for fields in found:
        trigger = _trigger(fields, site, catalog, consent, seen)
        if trigger is not None:
            triggers.append(trigger)
    return tuple(triggers)


def _trigger(fields: Fields, site: Site, catalog: Mapping[str, Product], policy: ConsentPolicy, seen: dict[str, str]) -> Trigger | None:
    trigger_id = fields.take_id(
        "trigger", seen, lambda v: None if _SLUG.fullmatch(v) else f"{v!r} must be lower-case letters, digits, '-' or '_'"
    )
    kind = fields.take(
        "moment", str, check=lambda k: None if k in TRIGGER_KINDS else f"unknown moment {k!r} ({did_you_mean(k, TRIGGER_KINDS)})"
    )
    enabled = fields.take("enabled", bool, True)
    consent = _consent(fields, policy)
    customers_only = fields.take("customers_only", bool, False)
    if kind is None:
        for key in sorted({key for keys in _KEYS.values() for key in keys}):
            fields.take(key, object, None)  # their meaning depends on the kind: no second message
        fields.finish()
        return None
    for key in (key for key in fields.table if key not in _KEYS[kind] and any(key in keys for keys in _KEYS.values())):
        users = [other for other, keys in _KEYS.items() if key in keys]
        fields.problem(f"{fields.name}: '{key}' is not used by moment {kind!r} (only by {', '.join(users)})", key)
        fields.take(key, object, None)
    category = _category(fields, site) if "category" in _KEYS[kind] else None
    options: dict[str, Any] = {}
    if kind in ("interest", "newsletter_interest"):
        options["threshold"] = _number(fields.take("threshold", (int, float), check=lambda t: None if t > 0 else "must be more than 0"))
        cooldown = fields.take("cooldown_days", (int, float), _DEFAULT_COOLDOWN_DAYS, lambda d: None if d > 0 else "must be more than 0")
        options["cooldown"] = None if cooldown is None else float(cooldown) * DAY
    elif kind == "replenishment_due":
        options["within_days"] = _number(fields.take("within_days", (int, float), 7, lambda d: None if d >= 0 else "must be 0 or more"))
        sku = fields.take("sku", str, None)
        options["lasts"] = _consumables(fields, catalog, category, sku)
        if sku is not None:
            options["sku"] = sku
    elif kind == "basket_abandoned":
        options["basket"] = fields.regex("path", fields.take("path", str))
        options["hours"] = _number(fields.take("hours", (int, float), check=lambda h: None if h > 0 else "must be more than 0"))
    fields.finish()
    broken = None in options.values() or ("category" in fields.table and category is None)
    if broken or trigger_id is None or consent is None or customers_only is None or not enabled:
        return None
    return Trigger(trigger_id, kind, consent, options.pop("cooldown", DAY), fields.where(), customers_only, category=category, **options)


def _number(value: int | float | None) -> float | None:
    return None if value is None else float(value)


def _consent(fields: Fields, policy: ConsentPolicy) -> tuple[str, ...] | None:
    purposes = fields.strings("consent", ())
    if purposes is None:
        return None
    known = policy.purposes
    for purpose in purposes:
        if purpose not in known:
            fields.problem(
                f"{fields.name}: 'consent': {purpose!r} is not a purpose the [consent] sources record",
                "consent",
                did_you_mean(purpose, known),
            )
            return None
    return purposes


def _category(fields: Fields, site: Site) -> str | None:
    return fields.take(  # type: ignore[no-any-return]
        "category", str, None, lambda c: None if c in site.labels else f"unknown category {c!r} ({did_you_mean(c, site.categories)})"
    )


def _consumables(fields: Fields, catalog: Mapping[str, Product], category: str | None, sku: str | None) -> dict[str, int] | None:
    """The products a replenishment trigger is about: those with `lasts_days`, of its sku or category."""
    if sku is not None and (sku not in catalog or not catalog[sku].lasts_days):
        fields.problem(
            f"{fields.name}: 'sku': {sku!r} is no [catalog] product with 'lasts_days'",
            "sku",
            did_you_mean(sku, [key for key, product in catalog.items() if product.lasts_days]),
        )
        return None
    lasts = {
        key: product.lasts_days
        for key, product in catalog.items()
        if product.lasts_days and (sku is None or key == sku) and (category is None or product.category == category)
    }
    if not lasts and sku is None:
        fields.problem(
            f"{fields.name}: no [catalog] product{' of ' + repr(category) if category else ''} has 'lasts_days', so nothing can run out",
            "category" if category else "moment",
            "say how many days one purchase lasts, e.g. lasts_days = 30",
        )
        return None
    return lasts
