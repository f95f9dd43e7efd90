"""Which triggers a change of a profile fires: the moments to tell the shop's messaging platform of.

Evaluated where the profile changes (a page view's events applied, an order from the shop's backend),
as a comparison of the profile before and after: `before` keeps the little that comparison needs (the
lifecycle stage, the interest per category) so that no copy of the profile is made, and only when the
rule set has triggers. `detect` then works on the profile as it is now.

A moment has two keys. Its `claim` says when two detections are one moment (two workers seeing the
same order, a second page view while a supply is still running out): the queue keeps the first and
drops the rest for `claim_ttl` seconds. Its `id` is the webhook-id the receiver deduplicates on: the
claim itself for moments that happen once (a supply cycle, a first order, a visit's basket), the claim
and the time for those that may come back after their cooldown (interest).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from etalage.profiles.profile import Profile
from etalage.rules.conditions.profile import supply_ends
from etalage.rules.ruleset import RuleSet
from etalage.rules.triggers import Trigger

__all__ = ["Before", "Moment", "before", "detect", "isoformat"]

DAY = 24 * 3600.0


class Before(NamedTuple):
    """What `detect` compares with: the profile's state before the change."""

    lifecycle: str
    interest: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class Moment:
    id: str  # the webhook-id: one per moment, the same on every attempt
    claim: str
    claim_ttl: float
    trigger: str
    kind: str
    at: float
    customer_id: str | None
    visitor_id: str | None  # only for a profile not linked to a customer
    consent: tuple[str, ...]  # re-checked before each delivery: a withdrawal stops what is queued
    data: Mapping[str, Any] = field(default_factory=dict)
    due: float = 0.0  # not delivered before (a basket waits `hours` for an order)
    unless_order_since: float | None = None  # dropped if the profile has an order from this time on

    def payload(self) -> dict[str, Any]:
        """The webhook's body: Standard Webhooks' envelope (type, timestamp, data)."""
        subject = {"customer_id": self.customer_id} if self.customer_id is not None else {"visitor_id": self.visitor_id}
        return {
            "type": f"moment.{self.kind}",
            "timestamp": isoformat(self.at),
            "data": {"trigger": self.trigger, "moment": self.kind, **subject, **self.data},
        }


def isoformat(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def before(ruleset: RuleSet, profile: Profile, now: float) -> Before | None:
    """The state to compare with after the change; None when no trigger could fire (nothing to do)."""
    if not ruleset.triggers:
        return None
    half_life = ruleset.site.half_life
    return Before(profile.lifecycle, {c: profile.affinity(c, now, half_life) for c in ruleset.site.categories})


def detect(ruleset: RuleSet, was: Before, profile: Profile, visitor_id: str | None, path: str | None, now: float) -> list[Moment]:
    """The moments this change of the profile (now `profile`) is; `path` is the page viewed, if one was."""
    found: list[Moment] = []
    ends: dict[str, float] | None = None
    customer = profile.customer_id
    if customer is None and visitor_id is None:
        return found  # nobody to name
    key = f"customer:{customer}" if customer is not None else f"visitor:{visitor_id}"
    for trigger in ruleset.triggers:
        if not trigger.consented(profile.consent) or (trigger.customers_only and customer is None):
            continue

        def moment(subject: str, ttl: float, data: dict[str, Any], *, repeats: bool = False, **extra: Any) -> Moment:
            return _moment(trigger, key, customer, visitor_id, now, subject, ttl, data, repeats, **extra)  # noqa: B023 (called at once)

        if trigger.kind in ("interest", "newsletter_interest"):
            for category in (trigger.category,) if trigger.category else ruleset.site.categories:
                if trigger.kind == "newsletter_interest" and category in profile.newsletters:
                    continue
                after = profile.affinity(category, now, ruleset.site.half_life)
                if was.interest.get(category, 0.0) < trigger.threshold <= after:
                    data = {"category": category, "interest": round(after, 3), "threshold": trigger.threshold}
                    found.append(moment(category, trigger.cooldown, data, repeats=True))
        elif trigger.kind == "replenishment_due":
            if ends is None:
                ends = supply_ends(profile, ruleset.catalog)
            for sku, lasts in trigger.lasts.items():
                end = ends.get(sku)
                category = ruleset.catalog[sku].category
                # "Never suggest" on the visitor's page holds for the shop's messages too, as for recommend.
                if end is not None and category not in profile.exclusions and end - trigger.within_days * DAY <= now <= end + lasts * DAY:
                    data = {"sku": sku, "category": category, "runs_out_at": isoformat(end)}
                    found.append(moment(f"{sku}@{end:.0f}", (trigger.within_days + lasts) * DAY, data))
        elif trigger.kind == "first_purchase":
            if was.lifecycle == "prospect" and profile.lifecycle != "prospect":
                found.append(moment("first", DAY, _first_order(profile)))
        elif trigger.kind == "basket_abandoned":
            if path is not None and trigger.basket is not None and trigger.basket.search(path):
                wait = trigger.hours * 3600
                data = {"basket_path": path, "basket_viewed_at": isoformat(now), "hours": trigger.hours}
                found.append(moment(f"visit@{profile.visit_started:.0f}", wait + DAY, data, due=now + wait, unless_order_since=now))
    return found


def _moment(
    trigger: Trigger,
    key: str,
    customer: str | None,
    visitor_id: str | None,
    now: float,
    subject: str,
    ttl: float,
    data: dict[str, Any],
    repeats: bool,
    **extra: Any,
) -> Moment:
    claim = f"{trigger.id}|{key}|{subject}"
    return Moment(
        _id(f"{claim}|{now!r}" if repeats else claim),
        claim,
        ttl,
        trigger.id,
        trigger.kind,
        now,
        customer,
        None if customer is not None else visitor_id,
        trigger.consent,
        data,
        **extra,
    )


def _first_order(profile: Profile) -> dict[str, Any]:
    """The first order's id, value and products, as far as the profile knows them."""
    orders = sorted(profile.orders, key=lambda o: o.at)
    purchases = sorted(profile.purchases, key=lambda p: p.at)
    order = orders[0].order if orders else purchases[0].order if purchases else ""
    data: dict[str, Any] = {"order": order, "products": [p.sku for p in purchases if p.order == order]}
    if orders:
        data["value"], data["currency"] = orders[0].value, orders[0].currency
    return data


def _id(claim: str) -> str:
    """A webhook-id from what identifies the moment: the same moment gets the same id anywhere."""
    return "msg_" + hashlib.sha256(claim.encode()).hexdigest()[:32]
