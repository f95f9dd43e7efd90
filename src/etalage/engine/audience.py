"""Who is in a segment, for email and ad platforms: its customers, a page at a time (`etalage export
segment`, the admin API's /.etalage/admin/segments/<name>).

A segment to export is one of:

- `customers`, built in: customers with at least one order (from the shop's pages, the events API or
  the import). Uploaded to an ad platform as an exclusion list, it keeps retargeting off buyers.
  It is this one even when the rules define a [segments.customers] of their own.
- `crm:<name>`: a CRM segment, as the import or the customers API set it.
- `<name>`: a [segments.<name>] of the rules whose conditions are about the profile alone (interest,
  lifecycle, purchases, newsletters, CRM segments, visits). One that looks at the page request (path,
  query, referrer, device) or at the time of a page view (time, dates) has no members outside a page
  view, and is refused. Conditions about time since (days since the last visit, purchases within so
  many days, replenishment) count from the moment of the export.

Only customers are exported: an anonymous visitor has nothing an email or ad platform can match. Only
those whose profile records consent given, too: a customer known from the CRM alone, who never
consented in a browser, or one who withdrew, is left out. A row is the customer id and nothing else:
Etalage keeps no e-mail address (nor needs one), so the shop's CRM joins the ids to e-mail addresses,
hashed as ad platforms require, when it uploads the list.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass

from etalage.problems import did_you_mean
from etalage.profiles.profile import Profile
from etalage.profiles.store import ProfileStore
from etalage.rules.conditions import Condition, Visit
from etalage.rules.conditions.combinators import AllOf, AnyOf, Not, Segment
from etalage.rules.conditions.compiler import CUSTOMERS_SEGMENT
from etalage.rules.conditions.request import Device, PathMatches, Query, Referrer
from etalage.rules.conditions.schedule import DateWindow, TimeWindow
from etalage.rules.ruleset import RuleSet

__all__ = ["CRM_PREFIX", "Audience", "MemberPage", "Tally", "UnknownSegment", "audience", "member_page", "members"]

CRM_PREFIX = "crm:"
_OF_A_PAGE_VIEW = (PathMatches, Query, Referrer, Device, TimeWindow, DateWindow)


class UnknownSegment(ValueError):
    """No segment of that name can be exported; the message says why and what can."""


@dataclass(frozen=True, slots=True)
class Audience:
    """A segment to export: its name, and whether a profile (of a consenting customer) is in it at `now`."""

    name: str
    contains: Callable[[Profile, float], bool]


def _has_ordered(profile: Profile, now: float) -> bool:
    return profile.lifecycle != "prospect"


def _of_a_page_view(condition: Condition) -> Iterator[str]:
    """The conditions inside `condition` that only a page view can answer, described."""
    if isinstance(condition, _OF_A_PAGE_VIEW):
        yield condition.describe()
    elif isinstance(condition, AllOf | AnyOf):
        for child in condition.children:
            yield from _of_a_page_view(child)
    elif isinstance(condition, Not):
        yield from _of_a_page_view(condition.inner)
    elif isinstance(condition, Segment):
        yield from _of_a_page_view(condition.condition)


def _rules_segment(ruleset: RuleSet, name: str, condition: Condition) -> Audience:
    asks = list(dict.fromkeys(_of_a_page_view(condition)))
    if asks:
        raise UnknownSegment(f"segment {name!r} asks about a page view ({'; '.join(asks)}), so it has no members outside one")

    def contains(profile: Profile, now: float) -> bool:
        visit = Visit(profile, ruleset.site, ruleset.catalog, "/", {}, None, "", now, profile.last_seen or None)
        return condition.test(visit)

    return Audience(name, contains)


def audience(ruleset: RuleSet, name: str) -> Audience:
    """The segment `name` names; UnknownSegment when there is none to export."""
    if name == CUSTOMERS_SEGMENT:
        return Audience(name, _has_ordered)
    if name.startswith(CRM_PREFIX) and len(name) > len(CRM_PREFIX):
        crm = name[len(CRM_PREFIX) :]
        return Audience(name, lambda profile, now: crm in profile.segments)
    condition = ruleset.segments.get(name)
    if condition is None:
        known = [CUSTOMERS_SEGMENT, *ruleset.segments]
        raise UnknownSegment(f"no segment {name!r} ({did_you_mean(name, known)}); a CRM segment is named crm:<name>, as crm:vip")
    return _rules_segment(ruleset, name, condition)


@dataclass(slots=True)
class Tally:
    """What an export read: customers' profiles, those left out for want of consent, rows written."""

    customers: int = 0
    without_consent: int = 0
    members: int = 0


@dataclass(frozen=True, slots=True)
class MemberPage:
    rows: list[dict[str, str]]
    next: str  # "" after the last page


def _consented(profile: Profile) -> bool:
    return profile.consent is not None and profile.consent.granted


async def member_page(
    store: ProfileStore, segment: Audience, cursor: str, count: int, now: float, tally: Tally | None = None
) -> MemberPage:
    """The members among the next `count` or so customers from `cursor` (ValueError for a cursor the
    store did not make); StoreError when the store fails."""
    tally = tally if tally is not None else Tally()
    profiles, after = await store.customer_page(cursor, count)
    rows = []
    for profile in profiles:
        if profile.customer_id is None:
            continue
        tally.customers += 1
        if not _consented(profile):
            tally.without_consent += 1
        elif segment.contains(profile, now):
            tally.members += 1
            rows.append({"customer_id": profile.customer_id})
    return MemberPage(rows, after)


async def members(store: ProfileStore, segment: Audience, now: float, tally: Tally, count: int = 1000) -> AsyncIterator[dict[str, str]]:
    """Every member once, a page of `count` customers at a time (Redis may list one twice: dropped here)."""
    seen: set[str] = set()
    cursor = ""
    while True:
        page = await member_page(store, segment, cursor, count, now, tally)
        for row in page.rows:
            if row["customer_id"] in seen:
                tally.members -= 1
                continue
            seen.add(row["customer_id"])
            yield row
        if not page.next:
            return
        cursor = page.next
