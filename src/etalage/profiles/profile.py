"""The visitor profile and the events that change it.

A page view yields events (what it taught); the proxy applies them to its copy for this page,
and the store applies the same events to the stored profile. Stores never write back a whole
profile they read earlier, so two workers handling one visitor cannot overwrite each other's
updates. Profiles are stored as versioned JSON (orjson); older versions are upgraded on read.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson

__all__ = [
    "Assignment",
    "Conversion",
    "ConsentRecord",
    "Event",
    "EVENT_KINDS",
    "Order",
    "Profile",
    "Purchase",
    "ProfileDecodeError",
    "SCHEMA_VERSION",
    "LIFECYCLE_STAGES",
    "profile_from_json",
]

SCHEMA_VERSION = 2
# A new visit starts after this much inactivity, as in most analytics tools.
VISIT_GAP_SECONDS = 30 * 60
RECENT_PRODUCTS = 20
KEPT_PURCHASES = 100
# Impressions kept per rule: enough for weekly frequency caps.
KEPT_IMPRESSIONS = 50
# Event ids the shop's backend sent (POST /.etalage/api/events), so a retried call counts once; a retry
# comes within minutes, so the newest few per profile are enough.
KEPT_EVENT_IDS = 100
WEEK = 7 * 24 * 3600.0
LIFECYCLE_STAGES = ("prospect", "customer", "repeat_customer")


class ProfileDecodeError(ValueError):
    """Stored profile bytes are not a profile this version can read."""


class Event(NamedTuple):
    """Something the profile learns. `value` is a category, product id, customer id, ...; `data` holds
    structured details (a purchase's order, sku, category and quantity)."""

    kind: str
    value: str
    at: float  # Unix time
    data: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Purchase:
    order: str
    sku: str
    category: str
    at: float
    quantity: int = 1
    # The order's total, as the thank-you page said it (a learn rule's value_query); 0 when unknown.
    value: float = 0.0


@dataclass(frozen=True, slots=True)
class Conversion:
    """A goal reached after a first exposure: when first, how often, and the value summed (orders)."""

    first: float
    count: int = 1
    value: float = 0.0

    def plus(self, other: Conversion) -> Conversion:
        return Conversion(min(self.first, other.first), self.count + other.count, self.value + other.value)


@dataclass(frozen=True, slots=True)
class Assignment:
    """The variant of an experiment a visitor was put in (sticky: kept until the experiment's version
    is raised), when they first saw it (0: not yet), and the goals they reached since, by goal id."""

    variant: str
    version: int
    at: float
    exposed: float = 0.0
    goals: Mapping[str, Conversion] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Order:
    """An order's total as the shop charged it (its lines are Purchases with the same order id): what
    revenue is computed from, in the order's own currency."""

    order: str
    value: float
    currency: str
    at: float


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """The consent behind a profile: granted or refused, by which sources (consent platforms), for
    which of their purposes, since when. On a customer's profile it is shared by every linked device,
    so a refusal on one of them holds for all (see ProfileStore.withdraw)."""

    granted: bool
    sources: tuple[str, ...]
    purposes: tuple[str, ...]
    at: float


@dataclass(slots=True)
class Profile:
    category_views: dict[str, int] = field(default_factory=dict)
    # When each category was last viewed: interest fades with a half-life from there.
    category_seen: dict[str, float] = field(default_factory=dict)
    recent_products: list[str] = field(default_factory=list)
    newsletters: set[str] = field(default_factory=set)
    purchases: list[Purchase] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)
    # Chosen by the visitor on their own page: interests count as strong interest, exclusions are never shown.
    interests: set[str] = field(default_factory=set)
    exclusions: set[str] = field(default_factory=set)
    # Suggestions the visitor marked "not for me" ("<rule id>:<category>"), never shown again.
    dismissed: set[str] = field(default_factory=set)
    segments: set[str] = field(default_factory=set)
    customer_id: str | None = None
    visits: int = 0
    first_seen: float = 0.0
    last_seen: float = 0.0
    # The last page view of the visit before this one ("welcome back after 30 days" holds all visit long).
    previous_visit: float = 0.0
    visit_started: float = 0.0
    # When each rule last personalized a page for this visitor (frequency caps), newest last.
    impressions: dict[str, list[float]] = field(default_factory=dict)
    # Experiments by id: the variant this visitor (or customer) is in.
    assignments: dict[str, Assignment] = field(default_factory=dict)
    # Where this visitor fell in the programme holdout's draw (etalage.rules.experiments); None: not drawn yet.
    holdout_place: float | None = None
    consent: ConsentRecord | None = None
    # Ids of the backend's events applied already, newest last (see _event_id).
    event_ids: list[str] = field(default_factory=list)

    # -- learning -------------------------------------------------------------------------------

    def starts_visit(self, now: float) -> bool:
        """Whether a page view at `now` begins a new visit (the previous one is long enough ago)."""
        return not self.last_seen or now - self.last_seen > VISIT_GAP_SECONDS

    def apply(self, events: Iterable[Event]) -> None:
        """Apply events in order. While the consent recorded is a refusal, only a new consent counts:
        events written a moment before a withdrawal, from another device or process, land on nothing."""
        for event in events:
            if self.consent is not None and not self.consent.granted and event.kind != "consent":
                continue
            if self.event_ids and event.data is not None and event.data.get("event_id") in self.event_ids:
                continue  # part of a backend event applied before: a retry counts once
            handler = _HANDLERS.get(event.kind)
            if handler is not None:
                handler(self, event)

    def _page_view(self, event: Event) -> None:
        if not self.first_seen:
            self.first_seen = event.at
        if self.starts_visit(event.at):
            self.visits += 1
            self.previous_visit = self.last_seen
            self.visit_started = event.at
        self.last_seen = max(self.last_seen, event.at)

    def _category_view(self, event: Event) -> None:
        self.category_views[event.value] = self.category_views.get(event.value, 0) + 1
        self.category_seen[event.value] = max(self.category_seen.get(event.value, 0.0), event.at)

    def _product_view(self, event: Event) -> None:
        if event.value in self.recent_products:
            self.recent_products.remove(event.value)
        self.recent_products.insert(0, event.value)
        del self.recent_products[RECENT_PRODUCTS:]

    def _purchase(self, event: Event) -> None:
        data = event.data or {}
        purchase = Purchase(
            str(data.get("order", "")),
            event.value,
            str(data.get("category", "")),
            event.at,
            int(data.get("quantity", 1)),
            float(data.get("value", 0.0)),
        )
        # The same order line learned twice (a reload of the thank-you page, a re-import) counts once.
        if any(p.order == purchase.order and p.sku == purchase.sku for p in self.purchases):
            return
        self.purchases.append(purchase)
        self.purchases.sort(key=lambda p: p.at)
        del self.purchases[:-KEPT_PURCHASES]

    def _order(self, event: Event) -> None:
        data = event.data or {}
        # An order reported twice (a retried call, a re-sent event) counts once, as its lines do.
        if any(o.order == event.value for o in self.orders):
            return
        self.orders.append(Order(event.value, float(data.get("value", 0.0)), str(data.get("currency", "")), event.at))
        self.orders.sort(key=lambda o: o.at)
        del self.orders[:-KEPT_PURCHASES]

    def _shown(self, event: Event) -> None:
        shown = self.impressions.get(event.value, [])
        cutoff = event.at - WEEK
        # Usually nothing is a week old: min() spares a filter in Python on every view.
        kept = [at for at in shown if at > cutoff] if shown and min(shown) <= cutoff else list(shown)
        kept.append(event.at)
        self.impressions[event.value] = kept[-KEPT_IMPRESSIONS:]

    def shown_since(self, rule_id: str, since: float) -> int:
        """How often a rule personalized a page for this visitor since `since`."""
        return sum(1 for at in self.impressions.get(rule_id, ()) if at >= since)

    def _dismiss(self, event: Event) -> None:
        # "Not for me" hides that suggestion for good, and only that: the views stay as they were
        # (the visitor's page shows them as history, and halving them would rewrite it).
        self.dismissed.add(event.value)

    def _interest(self, event: Event) -> None:
        self.interests.add(event.value)
        self.exclusions.discard(event.value)

    def _exclusion(self, event: Event) -> None:
        self.exclusions.add(event.value)
        self.interests.discard(event.value)

    def _customer(self, event: Event) -> None:
        self.customer_id = event.value

    def _assigned(self, event: Event) -> None:
        # The first assignment of a version stands (another worker may have drawn too, alike);
        # only a higher version replaces it.
        data = event.data or {}
        version = int(data["version"])
        current = self.assignments.get(event.value)
        if current is None or current.version < version:
            self.assignments[event.value] = Assignment(str(data["variant"]), version, event.at)

    def _exposed(self, event: Event) -> None:
        data = event.data or {}
        current = self.assignments.get(event.value)
        if current is not None and not current.exposed and (current.variant, current.version) == (data["variant"], int(data["version"])):
            self.assignments[event.value] = Assignment(current.variant, current.version, current.at, event.at, current.goals)

    def _converted(self, event: Event) -> None:
        data = event.data or {}
        current = self.assignments.get(event.value)
        if current is None or not current.exposed or (current.variant, current.version) != (data["variant"], int(data["version"])):
            return
        order = data.get("order")
        if order and (any(p.order == order for p in self.purchases) or any(o.order == order for o in self.orders)):
            return  # that order was counted when it was first learned (the thank-you page or the shop's backend)
        goal = str(data["goal"])
        reached = Conversion(event.at, 1, float(data.get("value", 0.0)))
        earlier = current.goals.get(goal)
        goals = {**current.goals, goal: earlier.plus(reached) if earlier is not None else reached}
        self.assignments[event.value] = Assignment(current.variant, current.version, current.at, current.exposed, goals)

    def _event_id(self, event: Event) -> None:
        # Last of the events of one backend event (each tagged data["event_id"]), so they are all
        # applied before the id is known; the same events sent again are skipped in apply(), whichever
        # worker or store applies them, since a store applies them to the profile as it stands.
        if event.value not in self.event_ids:
            self.event_ids.append(event.value)
            del self.event_ids[:-KEPT_EVENT_IDS]

    def _holdout(self, event: Event) -> None:
        if self.holdout_place is None:
            self.holdout_place = float((event.data or {})["place"])

    def _consent(self, event: Event) -> None:
        data = event.data or {}
        record = ConsentRecord(bool(data["granted"]), tuple(data.get("sources", ())), tuple(data.get("purposes", ())), event.at)
        current = self.consent
        if current is None or (current.granted, current.sources, current.purposes) != (record.granted, record.sources, record.purposes):
            self.consent = record  # the time is when this consent began, not the last view under it

    def merge(self, other: Profile) -> None:
        """Fold another profile of the same person into this one (an anonymous one at login).

        Counts add up, recency takes the latest, sets unite; the stricter choice wins: an exclusion
        from either side stands. The store removes the merged profile, so nothing merges twice.
        """
        for category, views in other.category_views.items():
            self.category_views[category] = self.category_views.get(category, 0) + views
        for category, seen in other.category_seen.items():
            self.category_seen[category] = max(self.category_seen.get(category, 0.0), seen)
        newer, older = (other, self) if other.last_seen > self.last_seen else (self, other)
        self.recent_products = list(dict.fromkeys(newer.recent_products + older.recent_products))[:RECENT_PRODUCTS]
        for purchase in other.purchases:
            self._purchase(
                Event(
                    "purchase",
                    purchase.sku,
                    purchase.at,
                    {"order": purchase.order, "category": purchase.category, "quantity": purchase.quantity, "value": purchase.value},
                )
            )
        for order in other.orders:
            self._order(Event("order", order.order, order.at, {"value": order.value, "currency": order.currency}))
        self.newsletters |= other.newsletters
        self.exclusions |= other.exclusions
        self.interests = (self.interests | other.interests) - self.exclusions
        self.dismissed |= other.dismissed
        self.segments |= other.segments
        self.customer_id = self.customer_id or other.customer_id
        # The customer's own assignments stand (a customer keeps their variant on every device);
        # the anonymous profile's fill in for experiments the customer was not in yet.
        for experiment, theirs in other.assignments.items():
            mine = self.assignments.get(experiment)
            if mine is None or theirs.version > mine.version:
                self.assignments[experiment] = theirs
            elif (mine.variant, mine.version) == (theirs.variant, theirs.version) and theirs.exposed:
                exposed = min(filter(None, (mine.exposed, theirs.exposed)))
                goals = dict(mine.goals)
                for goal, reached in theirs.goals.items():
                    goals[goal] = goals[goal].plus(reached) if goal in goals else reached
                self.assignments[experiment] = Assignment(mine.variant, mine.version, min(mine.at, theirs.at), exposed, goals)
        if self.holdout_place is None:
            self.holdout_place = other.holdout_place
        self.event_ids = list(dict.fromkeys(self.event_ids + other.event_ids))[-KEPT_EVENT_IDS:]
        # The stricter consent wins: a refusal on either side stands, else the more recent grant.
        if other.consent is not None and (
            self.consent is None
            or (self.consent.granted and not other.consent.granted)
            or (self.consent.granted == other.consent.granted and other.consent.at > self.consent.at)
        ):
            self.consent = other.consent
        self.visits += other.visits
        firsts = [t for t in (self.first_seen, other.first_seen) if t]
        self.first_seen = min(firsts) if firsts else 0.0
        self.last_seen = max(self.last_seen, other.last_seen)

    # -- reading --------------------------------------------------------------------------------

    @property
    def lifecycle(self) -> str:
        orders = {purchase.order for purchase in self.purchases} | {order.order for order in self.orders}
        return LIFECYCLE_STAGES[min(len(orders), 2)]

    def affinity(self, category: str, now: float, half_life: float) -> float:
        """Interest in a category: its views, halved for every `half_life` seconds since the last one.

        Explicitly chosen interests count as strong interest; excluded categories have none.
        """
        if category in self.exclusions:
            return 0.0
        views = self.category_views.get(category, 0)
        score = views * 0.5 ** (max(now - self.category_seen.get(category, now), 0.0) / half_life) if views else 0.0
        return score + (10.0 if category in self.interests else 0.0)

    # -- storage --------------------------------------------------------------------------------

    def copy(self) -> Profile:
        """A copy that shares nothing mutable with this one: what a store hands out of the profiles it
        keeps decoded, since the proxy applies a view's events to the copy it got. Field by field from
        the dataclass, so a field added later is copied too; values inside are immutable (strings,
        numbers, frozen records) but for the lists of `impressions`. The field names are listed once
        (_FIELD_NAMES): dataclasses.fields() on every copy was half of what a copy cost."""
        return Profile(**{name: _copied(getattr(self, name)) for name in _FIELD_NAMES})

    def to_dict(self) -> dict[str, Any]:
        return {
            "v": SCHEMA_VERSION,
            "category_views": self.category_views,
            "category_seen": self.category_seen,
            "recent_products": self.recent_products,
            "newsletters": sorted(self.newsletters),
            "purchases": [[p.order, p.sku, p.category, p.at, p.quantity, p.value] for p in self.purchases],
            "orders": [[o.order, o.value, o.currency, o.at] for o in self.orders],
            "interests": sorted(self.interests),
            "exclusions": sorted(self.exclusions),
            "dismissed": sorted(self.dismissed),
            "segments": sorted(self.segments),
            "customer_id": self.customer_id,
            "visits": self.visits,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "previous_visit": self.previous_visit,
            "visit_started": self.visit_started,
            "impressions": self.impressions,
            "assignments": {
                key: [a.variant, a.version, a.at, a.exposed, {goal: [c.first, c.count, c.value] for goal, c in a.goals.items()}]
                for key, a in self.assignments.items()
            },
            "holdout_place": self.holdout_place,
            "consent": None
            if self.consent is None
            else [self.consent.granted, list(self.consent.sources), list(self.consent.purposes), self.consent.at],
            # Only where the shop's backend sent events with ids: most profiles never hold any.
            **({"event_ids": self.event_ids} if self.event_ids else {}),
        }

    def dumps(self) -> bytes:
        # orjson returns its working buffer (about 8 KB however short the JSON); stores keep these
        # bytes for months, so keep an exact-size copy: 300 bytes instead of 8 KB per profile.
        return bytes(memoryview(orjson.dumps(self.to_dict())))

    @classmethod
    def loads(cls, data: bytes) -> Profile:
        try:
            raw = orjson.loads(data)
            version = raw.get("v")
            if version not in (1, SCHEMA_VERSION):
                raise ProfileDecodeError(f"unknown profile schema version {version!r}")
            return cls(
                category_views={str(k): int(v) for k, v in raw["category_views"].items()},
                category_seen={str(k): float(v) for k, v in raw.get("category_seen", {}).items()},
                recent_products=[str(p) for p in raw["recent_products"]][:RECENT_PRODUCTS],
                newsletters={str(c) for c in raw["newsletters"]},
                purchases=[_purchase(*line) for line in raw.get("purchases", [])],
                orders=[Order(str(o), float(v), str(c), float(a)) for o, v, c, a in raw.get("orders", [])],
                interests={str(c) for c in raw.get("interests", [])},
                exclusions={str(c) for c in raw.get("exclusions", [])},
                dismissed={str(c) for c in raw.get("dismissed", [])},
                segments={str(c) for c in raw.get("segments", [])},
                customer_id=raw.get("customer_id"),
                visits=int(raw["visits"]),
                first_seen=float(raw["first_seen"]),
                last_seen=float(raw["last_seen"]),
                previous_visit=float(raw.get("previous_visit", 0.0)),
                visit_started=float(raw.get("visit_started", 0.0)),
                impressions={str(k): [float(t) for t in v][-KEPT_IMPRESSIONS:] for k, v in raw.get("impressions", {}).items()},
                assignments={str(k): _assignment(*v) for k, v in raw.get("assignments", {}).items()},
                holdout_place=None if raw.get("holdout_place") is None else float(raw["holdout_place"]),
                consent=None if raw.get("consent") is None else _consent_record(*raw["consent"]),
                event_ids=[str(i) for i in raw.get("event_ids", [])][-KEPT_EVENT_IDS:],
            )
        except ProfileDecodeError:
            raise
        except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError) as exc:
            raise ProfileDecodeError(f"stored profile is not readable: {exc}") from exc


def _purchase(order: str, sku: str, category: str, at: float, quantity: int, value: float = 0.0) -> Purchase:
    return Purchase(str(order), str(sku), str(category), float(at), int(quantity), float(value))


def _consent_record(granted: bool, sources: list[str], purposes: list[str], at: float) -> ConsentRecord:
    return ConsentRecord(bool(granted), tuple(str(s) for s in sources), tuple(str(p) for p in purposes), float(at))


def _assignment(variant: str, version: int, at: float, exposed: float, goals: Mapping[str, list[float]] | None = None) -> Assignment:
    reached = {str(goal): Conversion(float(first), int(count), float(value)) for goal, (first, count, value) in (goals or {}).items()}
    return Assignment(str(variant), int(version), float(at), float(exposed), reached)


def _adds_to(attribute: str) -> Callable[[Profile, Event], None]:
    def handler(profile: Profile, event: Event) -> None:
        getattr(profile, attribute).add(event.value)

    return handler


def _replaces(attribute: str) -> Callable[[Profile, Event], None]:
    """The whole set at once (an import that mirrors the CRM): one event, so a store applies it atomically."""

    def handler(profile: Profile, event: Event) -> None:
        setattr(profile, attribute, {str(name) for name in (event.data or {})["names"]})

    return handler


def _removes_from(attribute: str) -> Callable[[Profile, Event], None]:
    def handler(profile: Profile, event: Event) -> None:
        getattr(profile, attribute).discard(event.value)

    return handler


_HANDLERS: dict[str, Callable[[Profile, Event], None]] = {
    "page_view": Profile._page_view,
    "category_view": Profile._category_view,
    "product_view": Profile._product_view,
    "purchase": Profile._purchase,
    "order": Profile._order,
    "newsletter_subscribe": _adds_to("newsletters"),
    "newsletter_unsubscribe": _removes_from("newsletters"),
    "newsletters_replaced": _replaces("newsletters"),
    "interest": Profile._interest,
    "interest_removed": _removes_from("interests"),
    "exclusion": Profile._exclusion,
    "exclusion_removed": _removes_from("exclusions"),
    "shown": Profile._shown,
    "dismiss": Profile._dismiss,
    "dismiss_removed": _removes_from("dismissed"),
    "segment": _adds_to("segments"),
    "segments_replaced": _replaces("segments"),
    "customer": Profile._customer,
    "assigned": Profile._assigned,
    "exposed": Profile._exposed,
    "converted": Profile._converted,
    "holdout": Profile._holdout,
    "event_id": Profile._event_id,
    "consent": Profile._consent,
}
EVENT_KINDS = frozenset(_HANDLERS)


def profile_from_json(data: bytes) -> Profile:
    """A profile from a JSON file: a stored profile, or any subset of its fields (the rest default)."""
    try:
        given = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ProfileDecodeError(f"not JSON: {exc}") from exc
    if not isinstance(given, dict):
        raise ProfileDecodeError("expected a JSON object with profile fields")
    return Profile.loads(orjson.dumps({**Profile().to_dict(), **given}))


_FIELD_NAMES = tuple(f.name for f in dataclasses.fields(Profile))


def _copied(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: list(item) if isinstance(item, list) else item for key, item in value.items()}
    if isinstance(value, (list, set)):
        return type(value)(value)
    return value
