"""Conditions: who a rule is for and when, compiled once from the rule files, checked per page view.

The language
============

A condition is a TOML table whose keys are condition kinds::

    when = { lifecycle = "customer" }
    when = { lifecycle = "customer", device = "mobile" }        # several keys: all must hold
    when = { any = [ { segment = "dog-lovers" }, { query = { utm_campaign = "dogs-*" } } ] }

Named, reusable conditions live in ``[segments.<name>]`` tables (any rule file; a segment may use
other segments) and are used as ``{ segment = "<name>" }``::

    [segments.dog-lovers]
    all = [
      { affinity = { category = "dogs", min = 2 } },
      { not = { lifecycle = "prospect" } },
    ]

Kinds (a "list" value means: any one of them)

=============================  =====================================================================
``all = [c, ...]``             every condition holds (checked in order; the first failing one is the reason)
``any = [c, ...]``             at least one holds
``not = c``                    ``c`` does not hold; exactly one kind inside (see below)
``segment = "name"``           the ``[segments.name]`` condition holds
``affinity = {category, min?, max?}``  the fading interest (Profile.affinity, [site] half-life) is at
                               least ``min`` / at most ``max``; with neither: any interest (more than 0)
``top = {category, n = 1}``    the category is among the visitor's ``n`` strongest (ranked as the
                               banner and sort actions rank: interest, then site order on ties)
``lifecycle = "customer"``     prospect, customer or repeat_customer (or a list)
``visits = {min?, max?}``      number of visits, this one included
``days_since_last_visit = {min?, max?}``  days between this page view and the visitor's previous one
``purchased = {category?, sku?, within_days?, min_count = 1}``  orders with such a product
``replenishment_due = {category?, sku?, within_days = 7}``  a consumable bought runs out soon
``subscribed = "dogs"``        subscribed to the category's newsletter (or a list)
``interested_in = "fish"``     chose the category on their own page (or a list)
``excluded = "cats"``          excluded the category on their own page (or a list)
``crm_segment = "vip"``        in a CRM segment fed by the import (or a list)
``path = "^/c/"``              the page's path matches the regular expression (searched, as ``pages``)
``query = {utm_campaign = "spring-*"}``  query parameters: a pattern (or list), ``true`` = present,
                               ``false`` = absent; several parameters: all must hold
``referrer = {host?, url?}``   the referring page: ``host`` patterns, ``url`` a regular expression
``device = "mobile"``          mobile, tablet, desktop or bot, from the User-Agent (or a list)
``time = {days?, from?, to?, timezone?}``  weekdays and a time of day in a time zone
``dates = {from?, until?, timezone?}``  a schedule: from one date (or date-time) until another
=============================  =====================================================================

Choices, and why
----------------

* One table, kinds as keys, is the smallest thing a marketer can write (``{ device = "mobile" }``)
  and still a closed vocabulary a machine checks strictly: an unknown key is an error with a
  did-you-mean hint, never silently ignored. Several keys in one table mean *all of them*, read in
  the order written, so the common case needs no ``all``; ``all`` is there for two conditions of
  the same kind and for readability.
* ``not`` takes exactly one kind: ``not = { a = .., b = .. }`` reads as "neither" to some people and
  as "not both" to others, so it is refused with a hint showing both spellings.
* ``top`` is its own kind (``top = { n = 3, category = "dogs" }``), not a key beside ``category``,
  so that every key of a condition table is a kind.
* Patterns for query values and referrer hosts are globs (``*`` any text, ``?`` one character, all
  else literal), matched case-insensitively: marketers know ``spring-*`` and UTM values vary in case.
  A text without ``*`` or ``?`` must match whole. A referrer ``host`` pattern also matches
  subdomains: ``google.*`` matches google.com, www.google.com and news.google.co.uk. ``path`` and
  referrer ``url`` are regular expressions, like the ``pages`` of a rule.
* ``affinity`` with a negative ``min`` or ``max`` is an error (interest is never negative), not an
  always-true condition. ``min = 0`` is allowed and always true.
* ``days_since_last_visit`` measures from ``Visit.previous_visit``: the profile's ``last_seen``
  before this page view. With no earlier page view it does not hold (whatever min and max say).
* ``purchased`` counts orders (distinct order ids) holding a matching product; ``within_days``
  counts back from now. A purchase implies the customer lifecycle stages, which `never_fires` uses.
* ``replenishment_due``: per product (catalog ``lasts_days``), purchases of that product stack: a
  supply runs from the later of the purchase time and the end of the previous supply, for
  ``lasts_days * quantity`` days. A product is due from ``within_days`` before its supply runs out
  until ``lasts_days`` (one unit's life) after: a customer who has not re-ordered by then buys
  elsewhere or stopped, and is left alone. The most urgent product is named in the reason.
* ``device``: a small documented classifier (`classify_device`), no dependency; iPadOS Safari
  sends a Mac User-Agent and counts as desktop, which no server can tell apart.
* ``time``: ``days`` are mon..sun (or full English names); ``from`` and ``to`` are "HH:MM" (or a TOML
  local time such as 18:00:00), ``to = "24:00"`` is the end of the day, ``from`` is inclusive and
  ``to`` exclusive. ``from`` later than ``to`` crosses midnight, and such a window belongs to the day
  it starts on: ``days = ["fri"], from = "22:00", to = "02:00"`` includes Saturday 01:00.
  ``timezone`` (IANA name) is required.
  ``from`` equal to ``to`` is an empty window, reported by `never_fires`.
* ``dates``: ``from`` and ``until`` (one or both) are TOML dates or date-times. ``from`` is
  inclusive; an ``until`` date includes that whole day, an ``until`` date-time is exclusive.
  Dates and date-times without an offset are read in ``timezone``, which is required with them (and
  refused as an unknown key without them). A schedule that ends before it starts is reported by
  `never_fires`.
* Invalid conditions are never half-built: every problem is recorded at its key's line and the
  compile functions return None. Rule files are refused whole on any problem, so placeholders for
  broken segments (returned by `compile_segments`, to avoid follow-up errors) never run.

Checking is cheap: regular expressions and globs are compiled, names resolved to sets and labels,
and time zones loaded at compile time; ``test`` is the allocation-free fast path (a bool) and
``check`` adds the reason in plain words (for explain output and the visitor's own page).
"""

from etalage.rules.conditions.analysis import never_fires
from etalage.rules.conditions.base import Condition, Verdict, Visit
from etalage.rules.conditions.combinators import ALWAYS
from etalage.rules.conditions.compiler import CONDITION_KINDS, compile_condition, compile_segments
from etalage.rules.conditions.profile import supply_ends
from etalage.rules.conditions.request import DEVICES, classify_device

__all__ = [
    "Visit",
    "Verdict",
    "Condition",
    "ALWAYS",
    "DEVICES",
    "CONDITION_KINDS",
    "compile_segments",
    "compile_condition",
    "never_fires",
    "classify_device",
    "supply_ends",
]
