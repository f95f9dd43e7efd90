"""What the visitor's page shows: their profile in plain words, why each rule personalizes for them, the JSON export.

The export (/.etalage/me.json, the download) is one object:

    consent       {"granted": bool, "reason": str}: what the visitor's cookies say, and which source decided
    stored        whether a profile is kept for them
    exported_at   when this was made: ISO 8601 in UTC ("2026-12-03T08:30:00Z")
    profile       the stored profile as Profile.to_dict() keeps it (times in Unix seconds, so the file can
                  be given back to `etalage rules explain --profile`), or null
    dates         the profile's times, readable: the same keys, ISO 8601 in UTC (null for "never"):
                  first_seen, last_seen, previous_visit, visit_started, category_seen {category: time},
                  purchases [time of each purchase, in the profile's order], orders [the same, per order], impressions {rule: [time, ...]},
                  consent (when the consent the profile holds was given or refused); null without a profile
    lifecycle     "prospect", "customer" or "repeat_customer", or null
    linked_to_customer_account  bool
    why           [{"rule", "text", "last_shown"}]: the rules shown to the visitor, why in words, and when last
    experiments   [{"experiment", "variant", "status", "assigned_at", "exposed_at", "goals", "text"}]: the shop's tests
                  the visitor was put in, newest first; status is running, stopped, rolled_out or ended; the times
                  ISO 8601 in UTC (exposed_at null until the variant first changed a page for them); goals
                  {goal: {"first": time, "count"}}, the goals reached since
    holdout       {"in_holdout": bool, "text"}: the programme's comparison group, or null (none, or not drawn)
    message       only without a profile: why nothing is stored
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from etalage.consent import Consent
from etalage.control.me.experiments import ExperimentLine, HoldoutLine, experiment_lines, holdout_line
from etalage.profiles.profile import Profile
from etalage.rules.ruleset import RuleSet

__all__ = [
    "DONE",
    "Reason",
    "ShownReason",
    "Interest",
    "Dismissed",
    "Newsletter",
    "PurchaseLine",
    "ProfileView",
    "why",
    "profile_view",
    "export",
]

log = logging.getLogger("etalage.me")

# What the page says after each change (the `done` query parameter of the redirect back to it).
DONE = {
    "interest-added": "Added to your interests.",
    "interest-removed": "Removed from your interests.",
    "exclusion-added": "That category will not be suggested to you any more: lists the shop sorts for you put it last or leave it out.",
    "exclusion-removed": "That category can be suggested to you again.",
    "dismissed": "That suggestion will not be shown to you again.",
    "undismissed": "That suggestion can be shown to you again.",
    "newsletter-forgotten": "Forgotten. This does not unsubscribe you from the shop's mailings: use the link in its e-mails for that.",
}

_LIFECYCLE_WORDS = {
    "prospect": "Looking around: no orders yet",
    "customer": "Customer: one order so far",
    "repeat_customer": "Regular customer: more than one order",
}


def _date(ts: float) -> str:
    if not ts:
        return "never"
    moment = datetime.fromtimestamp(ts, UTC)
    return f"{moment.day} {moment:%B %Y}"


def _times(count: int) -> str:
    return "once" if count == 1 else "twice" if count == 2 else f"{count} times"


def _strength(profile: Profile, category: str, now: float, half_life: float) -> tuple[str, str]:
    """(plain word, css class) for the visitor's interest in a category."""
    if category in profile.exclusions:
        return "excluded by you", "excluded"
    if category in profile.interests:
        return "strong (chosen by you)", "strong"
    views = profile.category_views.get(category, 0)
    if not views:
        return "none", ""
    score = profile.affinity(category, now, half_life)
    # More than one half-life since the last view: what is left of the interest has faded.
    if score < views * 0.5:
        return "faded", ""
    return ("strong", "strong") if score >= 5 else ("some", "")


@dataclass(frozen=True, slots=True)
class Reason:
    """A rule that personalized a page for the visitor, what it does, in words, and when it last did."""

    rule: str
    text: str
    last_shown: float


# For a rule whose action has no personal reason to give (the same message for everyone its
# conditions pick): its conditions are rule syntax, written for the shop, so the visitor gets words.
_SHOWN_TO_SOME = "showed you a message the shop shows to some of its visitors"


def why(ruleset: RuleSet, profile: Profile, now: float) -> list[Reason]:
    """What personalized the shop for this visitor: only rules that were shown to them (the profile
    records each impression), so a rule that would apply but never did is not claimed as a reason,
    each in the action's words, never in rule syntax."""
    reasons = []
    for rule in ruleset.rules:
        shown = profile.impressions.get(rule.id)
        if not shown:
            continue
        try:
            text = rule.action.why(rule.id, profile, ruleset.site, now)
        except Exception:
            log.exception("rule %s: explaining it to the visitor failed", rule.id)
            text = None
        reasons.append(Reason(rule.id, text or _SHOWN_TO_SOME, max(shown)))
    return reasons


@dataclass(frozen=True, slots=True)
class ShownReason:
    """A Reason as the page says it: a sentence, and the day the rule last showed."""

    rule: str
    text: str
    last: str


@dataclass(frozen=True, slots=True)
class Interest:
    category: str
    label: str
    word: str
    css: str
    seen: str
    chosen: bool
    excluded: bool


# What a visitor can mark "not for me", by the kind of rule that showed it: words, not the rule's id.
_SUGGESTION_WORDS = {
    "popin": "the newsletter offer",
    "recommend": "recommended products",
    "banner": "a banner",
    "insert": "a suggestion",
    "sort": "products sorted for you",
}


@dataclass(frozen=True, slots=True)
class Dismissed:
    rule: str
    category: str
    label: str
    what: str  # what the suggestion was, in words ("the newsletter offer"), for the page; `rule` is for the form
    # Only a suggestion the shop still has can be shown again.
    undoable: bool


@dataclass(frozen=True, slots=True)
class Newsletter:
    category: str
    label: str
    # Only a category the shop still has is accepted by the form.
    forgettable: bool


@dataclass(frozen=True, slots=True)
class ProductLine:
    id: str
    # The catalogue's title, when the shop imported one: an id alone means nothing to the visitor.
    title: str | None


@dataclass(frozen=True, slots=True)
class PurchaseLine:
    date: str
    sku: str
    title: str | None
    category: str
    quantity: int
    order: str


@dataclass(frozen=True, slots=True)
class ProfileView:
    """Everything the page shows of a stored profile, in the words and order the page uses."""

    why: list[ShownReason]
    interests: list[Interest]
    # Categories viewed that the shop no longer has.
    unknown: list[str]
    dismissed: list[Dismissed]
    recent_products: list[ProductLine]
    newsletters: list[Newsletter]
    purchases: list[PurchaseLine]
    about: list[tuple[str, str]]
    experiments: list[ExperimentLine]
    holdout: HoldoutLine | None


def profile_view(ruleset: RuleSet, profile: Profile, now: float) -> ProfileView:
    site = ruleset.site
    labels = site.labels
    rules = {rule.id: rule.action.kind for rule in ruleset.rules}

    def label(category: str) -> str:
        return labels.get(category, category)

    def title(product_id: str) -> str | None:
        product = ruleset.catalog.get(product_id)
        return product.title if product is not None else None

    interests = []
    for category in site.categories:
        word, css = _strength(profile, category, now, site.half_life)
        views = profile.category_views.get(category, 0)
        seen = f"Viewed {_times(views)}, last on {_date(profile.category_seen.get(category, 0.0))}" if views else "Not viewed yet"
        interests.append(
            Interest(category, label(category), word, css, seen, category in profile.interests, category in profile.exclusions)
        )
    dismissed = []
    for entry in sorted(profile.dismissed):
        rule_id, _, category = entry.rpartition(":")
        what = _SUGGESTION_WORDS.get(rules.get(rule_id, ""), "a suggestion")
        dismissed.append(Dismissed(rule_id, category, label(category), what, rule_id in rules and category in labels))
    return ProfileView(
        why=[ShownReason(r.rule, r.text[:1].upper() + r.text[1:], _date(r.last_shown)) for r in why(ruleset, profile, now)],
        interests=interests,
        unknown=sorted(set(profile.category_views) - set(labels)),
        dismissed=dismissed,
        recent_products=[ProductLine(product, title(product)) for product in profile.recent_products],
        newsletters=[Newsletter(category, label(category), category in labels) for category in sorted(profile.newsletters)],
        purchases=[
            PurchaseLine(_date(p.at), p.sku, title(p.sku), label(p.category), p.quantity, p.order) for p in reversed(profile.purchases)
        ],
        about=[
            ("Stage", _LIFECYCLE_WORDS.get(profile.lifecycle, profile.lifecycle)),
            ("Visits", str(profile.visits)),
            ("First seen", _date(profile.first_seen)),
            ("Last seen", _date(profile.last_seen)),
            ("Customer groups", ", ".join(sorted(profile.segments)) or "none"),
            (
                "Linked to a customer account",
                "yes: this profile is shared by the devices you log in on" if profile.customer_id is not None else "no",
            ),
        ],
        experiments=experiment_lines(ruleset, profile, now),
        holdout=holdout_line(ruleset, profile),
    )


def _iso(ts: float) -> str | None:
    """A Unix time as people and tools read it (ISO 8601, UTC); None for 0, which means "never"."""
    if not ts:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _dates(profile: Profile) -> dict[str, Any]:
    """The profile's times, readable: a Unix float means nothing to the visitor who downloads it."""
    return {
        "first_seen": _iso(profile.first_seen),
        "last_seen": _iso(profile.last_seen),
        "previous_visit": _iso(profile.previous_visit),
        "visit_started": _iso(profile.visit_started),
        "category_seen": {category: _iso(at) for category, at in profile.category_seen.items()},
        "purchases": [_iso(purchase.at) for purchase in profile.purchases],
        "orders": [_iso(order.at) for order in profile.orders],
        "impressions": {rule: [_iso(at) for at in shown] for rule, shown in profile.impressions.items()},
        "consent": None if profile.consent is None else _iso(profile.consent.at),
    }


def export(ruleset: RuleSet, consent: Consent, profile: Profile | None, now: float) -> dict[str, Any]:
    """The page as JSON (/.etalage/me.json and the download); the schema is in the module's docstring."""
    data: dict[str, Any] = {
        "consent": {"granted": consent.granted, "reason": consent.reason},
        "stored": profile is not None,
        "exported_at": _iso(now),
        "profile": None,
        "dates": None,
        "lifecycle": None,
        "linked_to_customer_account": False,
        "why": [],
        "experiments": [],
        "holdout": None,
    }
    if profile is not None:
        data["profile"] = profile.to_dict()
        data["dates"] = _dates(profile)
        data["lifecycle"] = profile.lifecycle
        data["linked_to_customer_account"] = profile.customer_id is not None
        data["why"] = [
            {"rule": reason.rule, "text": reason.text, "last_shown": _iso(reason.last_shown)} for reason in why(ruleset, profile, now)
        ]
        data["experiments"] = [
            {
                "experiment": line.experiment,
                "variant": line.variant,
                "status": line.status,
                "assigned_at": _iso(line.assigned_at),
                "exposed_at": _iso(line.exposed_at),
                "goals": {goal: {"first": _iso(reached.first), "count": reached.count} for goal, reached in line.goals.items()},
                "text": line.text,
            }
            for line in experiment_lines(ruleset, profile, now)
        ]
        holdout = holdout_line(ruleset, profile)
        if holdout is not None:
            data["holdout"] = {"in_holdout": holdout.in_holdout, "text": holdout.text}
    else:
        data["message"] = (
            "Nothing is stored about you: the shop has no consent to personalize for you."
            if not consent.granted
            else "Nothing is stored about you yet."
        )
    return data
