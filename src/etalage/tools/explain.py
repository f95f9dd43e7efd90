"""`etalage rules explain`: what the rules would do to one page for one visitor, and why.

The page is fetched from the shop as it is, then run through the same personalizer the proxy
uses, with a profile given as a file, a stored visitor, or inline attributes. The report lists
every rule (fired, or the first reason it did not) and a diff of the HTML.
"""

from __future__ import annotations

import difflib
import re
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from etalage.engine.personalize import Outcome, Personalizer
from etalage.engine.visit import page_view
from etalage.html.page import charset_of
from etalage.http.compression import SUPPORTED
from etalage.metrics import Metrics
from etalage.problems import did_you_mean
from etalage.profiles.profile import Assignment, Event, Profile
from etalage.rules.ruleset import RuleSet

__all__ = ["Explanation", "explain", "profile_from_options", "with_variants"]

DAY = 24 * 3600.0


@dataclass
class Explanation:
    url: str
    status: int
    outcomes: list[Outcome] = field(default_factory=list)
    diff: list[str] = field(default_factory=list)
    note: str = ""

    def render(self, profile: Profile) -> str:
        views = ", ".join(f"{category} {views}" for category, views in sorted(profile.category_views.items())) or "none"
        lines = [f"GET {self.url} -> {self.status}", f"profile: views {views}; lifecycle {profile.lifecycle}; visits {profile.visits}"]
        if self.note:
            lines.append(self.note)
        width = max((len(o.rule) for o in self.outcomes), default=0)
        lines.append("rules:")
        lines += [f"  {'fired  ' if o.fired else 'skipped'} {o.rule.ljust(width)}  {o.reason}" for o in self.outcomes]
        lines.append("diff:" if self.diff else "diff: (page unchanged)")
        lines += [line.rstrip("\n") for line in self.diff]
        return "\n".join(lines) + "\n"


def profile_from_options(
    views: list[str], interests: list[str], exclusions: list[str], subscribed: list[str], purchases: list[str]
) -> Profile:
    """A profile from inline attributes: views as CATEGORY=N, purchases as SKU or SKU@DAYS_AGO."""
    now = time.time()
    events: list[Event] = [Event("page_view", "/", now)]
    for item in views:
        category, _, count = item.partition("=")
        events += [Event("category_view", category, now)] * int(count or 1)
    events += [Event("interest", c, now) for c in interests] + [Event("exclusion", c, now) for c in exclusions]
    events += [Event("newsletter_subscribe", c, now) for c in subscribed]
    for number, item in enumerate(purchases):
        sku, _, days = item.partition("@")
        events.append(Event("purchase", sku, now - float(days or 0) * DAY, {"order": f"explain-{number}", "category": "", "quantity": 1}))
    profile = Profile()
    profile.apply(events)
    return profile


def with_variants(profile: Profile, ruleset: RuleSet, choices: list[str]) -> Profile:
    """The profile assigned to the variants `choices` name (EXPERIMENT=VARIANT), as the experiments
    are now: what a visitor in those variants sees. Raises ValueError for unknown names."""
    experiments = {experiment.id: experiment for experiment in ruleset.experiments}
    for choice in choices:
        name, _, variant_id = choice.partition("=")
        experiment = experiments.get(name)
        if experiment is None:
            raise ValueError(f"--variant {choice}: unknown experiment {name!r} ({did_you_mean(name, experiments)})")
        if experiment.variant(variant_id) is None:
            known = [variant.id for variant in experiment.variants]
            raise ValueError(f"--variant {choice}: experiment {name!r} has no variant {variant_id!r} ({did_you_mean(variant_id, known)})")
        profile.assignments[name] = Assignment(variant_id, experiment.version, time.time())
    return profile


def explain(
    url: str, ruleset: RuleSet, profile: Profile, user_agent: str = "", transport: httpx.BaseTransport | None = None
) -> Explanation:
    """Fetch `url` from the shop and explain what the rules do to it for `profile`."""
    with httpx.Client(transport=transport, follow_redirects=False, timeout=30) as client:
        response = client.get(url, headers={"Accept": "text/html"})
    report = Explanation(url, response.status_code)
    content_type = response.headers.get("content-type", "")
    if response.status_code != 200 or not content_type.lower().startswith("text/html"):
        report.note = "only 200 text/html pages are personalized: this one passes through unchanged"
        return report
    # httpx decoded the body already; the proxy decodes with etalage.http.compression.
    body = response.content if response.headers.get("content-encoding", "") in SUPPORTED else b""
    parts = urlsplit(url)
    path = parts.path or "/"
    visit = page_view(ruleset, profile, path, time.time(), query=parts.query, user_agent=user_agent)
    result = Personalizer(Metrics()).personalize(ruleset, visit, body, content_type, explain=report.outcomes)
    if result is not None:
        charset = charset_of(content_type, body)
        if charset == "ascii" and body.isascii() is False:
            # No declaration where the prescan looks (Amazon's comes at byte 1,083): the reader sees UTF-8
            # text as what it most likely is, not as replacement characters.
            charset = "utf-8"
        before = _lines(body.decode(charset, "replace"))
        after = _lines(result.body.decode(charset, "replace"))
        report.diff = list(difflib.unified_diff(before, after, "origin", "personalized", n=1))
    return report


_LINE = 400  # characters: a longer line (a minified page is one line of tens of kilobytes) is cut after its tags


def _lines(text: str) -> list[str]:
    """The text's lines for the diff; a long one cut after each tag, so that a change shows with its
    neighbourhood, not as two copies of the whole page."""
    lines: list[str] = []
    for line in text.splitlines(keepends=True):
        lines += _AFTER_TAG.split(line) if len(line) > _LINE else [line]
    return [line for line in lines if line]


_AFTER_TAG = re.compile(r"(?<=>)")
