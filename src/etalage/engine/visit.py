"""What the rules' conditions see of one page view: the one place a `Visit` is built.

The proxy builds it from a request, `etalage rules explain` from a URL, the visitor's own page for
a plain view of the home page; all of them parse the query and work out the page's language alike.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from etalage.profiles.profile import Profile
from etalage.rules.conditions import Visit
from etalage.rules.ruleset import RuleSet

__all__ = ["page_view"]


def page_view(
    ruleset: RuleSet,
    profile: Profile,
    path: str,
    now: float,
    *,
    query: str = "",
    referrer: str | None = None,
    user_agent: str = "",
    accept_language: str | None = None,
    visitor_id: str | None = None,
) -> Visit:
    """The Visit of `profile` opening `path?query` at `now` (after the view was learned); with
    `visitor_id` (a consenting visitor's), experiments may assign its unit."""
    return Visit(
        profile=profile,
        site=ruleset.site,
        catalog=ruleset.catalog,
        path=path,
        query=parse_qs(query, keep_blank_values=True) if query else {},
        referrer=referrer,
        user_agent=user_agent,
        now=now,
        previous_visit=profile.previous_visit or None,
        language=ruleset.site.language_of(path, accept_language),
        unit=(profile.customer_id or visitor_id) if visitor_id is not None else None,
    )
