"""Triggers: moments in a customer's journey that the shop's messaging platform is told of (a webhook).

A trigger is declared in the rule files (`[[trigger]]`, read by etalage.rules.trigger_tables) and
evaluated where a profile changes (etalage.engine.moments): after a page view taught it something, or
after the shop's backend reported an order. Kinds:

- `replenishment_due`: a consumable bought (catalog `lasts_days`) runs out within `within_days`;
  once per purchase cycle of each product.
- `interest`: interest in a category (the affinity conditions read: views halved every half-life,
  10 for a category the visitor chose) reaches `threshold` from below; once per `cooldown_days`.
- `basket_abandoned`: a page whose path matches `path` (the shop's basket) was viewed and no order
  followed within `hours`; once per visit.
- `first_purchase`: the profile's first order (lifecycle prospect -> customer).
- `newsletter_interest`: interest in a category reaches `threshold` while the visitor has no
  newsletter of that category; once per `cooldown_days`.

Every trigger needs a profile whose recorded consent is a grant, and, with `consent = [...]`, one that
grants each of those purposes ("onetrust:C0004", "tcf:5": as etalage.consent records them).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from etalage.profiles.profile import ConsentRecord

__all__ = ["Trigger", "TRIGGER_KINDS", "grants"]

TRIGGER_KINDS = ("replenishment_due", "interest", "basket_abandoned", "first_purchase", "newsletter_interest")


@dataclass(frozen=True, slots=True)
class Trigger:
    id: str
    kind: str  # one of TRIGGER_KINDS
    # Purposes the profile's consent must grant, beyond being a grant.
    consent: tuple[str, ...]
    # Seconds before the same trigger may fire again for the same profile and subject.
    cooldown: float
    source: str  # file:line, for messages
    # Only profiles linked to a customer id (the messaging platform knows customers, not visitors).
    customers_only: bool = False
    category: str | None = None  # interest, newsletter_interest, replenishment_due: only this category
    sku: str | None = None  # replenishment_due: only this product
    threshold: float = 0.0  # interest, newsletter_interest
    within_days: float = 7.0  # replenishment_due
    hours: float = 0.0  # basket_abandoned: how long without an order
    basket: re.Pattern[str] | None = None  # basket_abandoned: the basket page's path
    # replenishment_due: the products it is about (sku -> lasts_days), from the catalog at load time.
    lasts: Mapping[str, int] = field(default_factory=dict)

    def consented(self, record: ConsentRecord | None) -> bool:
        """Whether a profile with this consent record may be the subject of a moment."""
        return grants(record, self.consent)


def grants(record: ConsentRecord | None, purposes: tuple[str, ...]) -> bool:
    """Whether a profile's consent record is a grant, of each of `purposes`."""
    return record is not None and record.granted and all(purpose in record.purposes for purpose in purposes)
