"""What a page view teaches a profile, from the request URL and the site's [[learn]] rules."""

from __future__ import annotations

from urllib.parse import parse_qs

from .profile import Event
from .ruleset import LearnRule, Site

__all__ = ["learn_from_request"]


def learn_from_request(rules: tuple[LearnRule, ...], site: Site, path: str, query: str, now: float) -> list[Event]:
    """The events a page view at `path` teaches: always a page_view, plus what matching learn rules read."""
    learned = [Event("page_view", path, now)]
    params: dict[str, list[str]] | None = None
    for rule in rules:
        match = rule.path.search(path)
        if match is None:
            continue
        if rule.query is not None:
            if params is None:
                params = parse_qs(query)
            values = params.get(rule.query)
            value = values[0] if values else None
        else:
            value = match.group("category" if rule.event != "product_view" else "product")
        if not value:
            continue
        if rule.event != "product_view" and value not in site.labels:
            continue  # only the shop's own categories; anything else in a URL is noise
        learned.append(Event(rule.event, value, now))
    return learned
