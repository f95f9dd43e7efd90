"""What the condition tests share: a site and catalogue, rule-file text compiled as the loader does, visits."""

from __future__ import annotations

import tomllib
from datetime import datetime
from zoneinfo import ZoneInfo

from etalage.profiles.profile import Profile, Purchase
from etalage.rules.conditions import Condition, Verdict, Visit, compile_condition, compile_segments
from etalage.rules.fields import Fields
from etalage.rules.model import Product, Site
from etalage.rules.tomlpos import KeyLines

__all__ = [
    "DAY",
    "AMSTERDAM",
    "SITE",
    "CATALOG",
    "NOW",
    "DOG_LOVERS",
    "compile_file",
    "when",
    "problems_of",
    "visit",
    "verdict",
    "viewed",
    "bought",
]

DAY = 24 * 3600.0

AMSTERDAM = ZoneInfo("Europe/Amsterdam")

SITE = Site(("dogs", "cats", "rodents", "fish"), {"dogs": "Dogs", "cats": "Cats", "rodents": "Rodents", "fish": "Fish"}, 30 * DAY)

CATALOG = {
    "dog-kibble": Product("dogs", 30),
    "dog-chews": Product("dogs", 10),
    "dog-leash": Product("dogs"),
    "cat-litter": Product("cats", 20),
    "cat-toy": Product("cats"),
}

# Friday 14 March 2025, 12:00 in Amsterdam.
NOW = datetime(2025, 3, 14, 12, 0, tzinfo=AMSTERDAM).timestamp()


def compile_file(text: str) -> tuple[Condition | None, dict[str, Condition], list[str]]:
    """Compile a rule file's [segments] and its first rule's `when`, as the loader does."""
    document = tomllib.loads(text)
    problems: list = []
    top = Fields(document, (), "rules.toml", KeyLines(text), problems)
    segments = compile_segments(top.sub("segments", document["segments"]) if "segments" in document else None, SITE, CATALOG)
    condition = None
    if "rule" in document:
        rule = top.entry("rule", 0, document["rule"][0])
        rule.label = "rule 'r'"
        condition = compile_condition(rule, "when", SITE, CATALOG, segments)
    return condition, segments, [str(problem) for problem in problems]


def when(text: str, segments: str = "") -> Condition:
    condition, _, problems = compile_file(f"{segments}\n[[rule]]\nwhen = {text}\n" if segments else f"[[rule]]\nwhen = {text}\n")
    assert problems == []
    assert condition is not None
    return condition


def problems_of(text: str) -> list[str]:
    """The messages for a rule file (its text starts at line 1)."""
    condition, _, problems = compile_file(text)
    assert problems, "expected problems"
    return problems


def visit(profile: Profile | None = None, **changes) -> Visit:
    values = {
        "profile": profile or Profile(visits=1, first_seen=NOW, last_seen=NOW),
        "site": SITE,
        "catalog": CATALOG,
        "path": "/",
        "query": {},
        "referrer": None,
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        "now": NOW,
        "previous_visit": None,
    }
    values.update(changes)
    return Visit(**values)


def verdict(condition: Condition, seen: Visit) -> Verdict:
    """check(), after making sure the fast path test() agrees with it."""
    result = condition.check(seen)
    assert condition.test(seen) is result.ok
    return result


def viewed(**views_days_ago: tuple[int, float]) -> Profile:
    """A profile with category views: dogs=(views, days since the last one)."""
    return Profile(
        category_views={category: views for category, (views, _) in views_days_ago.items()},
        category_seen={category: NOW - days * DAY for category, (_, days) in views_days_ago.items()},
        visits=1,
        last_seen=NOW,
    )


def bought(*lines: tuple[str, str, str, float, int]) -> Profile:
    """A profile with purchases: (order, sku, category, days ago, quantity)."""
    purchases = sorted(
        (Purchase(order, sku, category, NOW - days * DAY, quantity) for order, sku, category, days, quantity in lines), key=lambda p: p.at
    )
    return Profile(purchases=purchases, visits=3, last_seen=NOW)


DOG_LOVERS = """
[segments.dog-lovers]
all = [
  { affinity = { category = "dogs", min = 2.0 } },
  { not = { lifecycle = "prospect" } },
]
"""
