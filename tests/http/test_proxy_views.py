"""Every page view of a consenting visitor reaches Etalage, whatever the shop lets caches do (issue 12).

A browser reuses what a response lets it reuse: the demo shop's catalogue pages say `public,
max-age=60`, so a browser would show the second and third view of a category from its cache and the
profile would never learn them. A consenting visitor's page views are answered `private, no-cache`
(the validators kept, so the browser's revalidation can be a 304, which is learned from too); the
pages Etalage rewrote are `private, no-store` (tests/engine/test_personalization.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from starlette.types import ASGIApp

from etalage.app import create_app
from etalage.demo.shop import create_shop_app
from etalage.http.proxy import _accepts_html
from etalage.types import Receive, Scope, Send
from tests.support.config import ACCEPT_ONETRUST, RULESETS, settings_for
from tests.support.origin import HOME, lifespan
from tests.support.servers import running

# The demo shop, with a pop-in for the third view of a category on the home page and no rule anywhere else.
VIEWS_RULES = RULESETS / "good" / "views"
CONSENT = {"OptanonConsent": ACCEPT_ONETRUST}
# What Chromium sends when it navigates to a page, and when it loads a stylesheet.
NAVIGATION = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
STYLESHEET = "text/css,*/*;q=0.1"


@pytest.fixture(scope="module")
def shop() -> Iterator[str]:
    with running(create_shop_app()) as url:
        yield url


@pytest.fixture
def etalage(shop: str) -> Iterator[str]:
    with running(create_app(settings_for(shop, VIEWS_RULES))) as url:
        yield url


def browser(etalage: str) -> httpx.Client:
    """A consenting visitor's browser; it revalidates by sending If-None-Match itself, as a browser does."""
    return httpx.Client(base_url=etalage, cookies=CONSENT, headers={"Accept": NAVIGATION})


def test_proxy_page_a_consenting_visitor_views_is_revalidated_on_every_view(etalage):
    with browser(etalage) as client:
        views = [client.get("/c/rodents") for _ in range(2)]
    assert [(view.headers["cache-control"], "etag" in view.headers, "cookie" in view.headers["vary"].lower()) for view in views] == [
        ("private, no-cache", True, True)
    ] * 2


def test_proxy_page_rules_target_keeps_its_validators_when_passed_through_unchanged(etalage):
    with browser(etalage) as client:
        views = [client.get("/") for _ in range(2)]
    # No category viewed yet: the pop-in does not fire and the shop's page goes out as it came.
    assert "Join the" not in views[1].text
    assert [(view.headers["cache-control"], "etag" in view.headers) for view in views] == [("private, no-cache", True)] * 2


def test_proxy_revalidation_answered_304_is_learned_as_a_page_view(etalage):
    with browser(etalage) as client:
        etag = client.get("/c/rodents").headers["etag"]
        revalidations = [client.get("/c/rodents", headers={"If-None-Match": etag}) for _ in range(2)]
        home = client.get("/")
    assert [(answer.status_code, answer.content) for answer in revalidations] == [(304, b"")] * 2
    assert "Join the Rodents newsletter" in home.text


def test_proxy_revalidation_answered_304_stays_private_and_revalidated(etalage):
    with browser(etalage) as client:
        etag = client.get("/c/rodents").headers["etag"]
        answer = client.get("/c/rodents", headers={"If-None-Match": etag})
    # A 304 updates the headers the browser stored: the shop's `public, max-age=60` must not come back this way.
    assert (answer.status_code, answer.headers["cache-control"], answer.headers["etag"]) == (304, "private, no-cache", etag)
    assert "cookie" in answer.headers["vary"].lower()


def test_proxy_revalidation_of_a_page_rules_target_is_a_304_while_it_goes_out_unchanged(shop, http_parser):
    # The project's rules: the newsletter pop-in targets every page, so Etalage asks the shop without validators.
    with running(create_app(settings_for(shop))) as etalage, browser(etalage) as client:
        etag = client.get("/c/rodents").headers["etag"]
        second, third = (client.get("/c/rodents", headers={"If-None-Match": etag}) for _ in range(2))
    assert (second.status_code, second.content, second.headers["cache-control"], second.headers["etag"]) == (
        304,
        b"",
        "private, no-cache",
        etag,
    )
    # The 304 counted as a view: the third shows the pop-in, so it goes out whole and may not be stored.
    assert (third.status_code, "etalage-popin" in third.text, third.headers["cache-control"]) == (200, True, "private, no-store")


def test_proxy_revalidation_of_a_stylesheet_is_not_a_page_view(etalage, shop):
    validator = httpx.get(f"{shop}/static/shop.css").headers["etag"]
    with httpx.Client(base_url=etalage, cookies=CONSENT, headers={"Accept": STYLESHEET}) as client:
        answer = client.get("/static/shop.css", headers={"If-None-Match": validator})
    # A page view would issue this new visitor's cookie and make the answer private; a stylesheet is the shop's.
    assert answer.status_code == 304 and "set-cookie" not in answer.headers and "cache-control" not in answer.headers


@pytest.mark.parametrize(
    ("accept", "html"),
    [(NAVIGATION, True), ("application/xhtml+xml", True), ("TEXT/HTML;level=1", True), (STYLESHEET, False), ("*/*", False)]
    + [("text/html;q=0", False), ("text/html;q=0.0, */*", False), ("text/html;q=x", False)],
)
def test_accepts_html_only_when_html_is_asked_for(accept, html):
    assert _accepts_html([(b"accept", accept.encode())]) is html


def test_proxy_head_of_a_page_a_consenting_visitor_views_is_private_and_revalidated(etalage):
    head = httpx.head(f"{etalage}/c/rodents", cookies=CONSENT)
    assert (head.headers["cache-control"], "etag" in head.headers) == ("private, no-cache", True)


def test_proxy_page_the_shop_forbids_storing_stays_no_store(etalage):
    with browser(etalage) as client:
        views = [client.get("/consent") for _ in range(2)]
    assert [view.headers["cache-control"] for view in views] == ["private, no-store"] * 2


def cdn_origin(cache_control: bytes) -> ASGIApp:
    """A shop whose pages tell a CDN in front of it to keep them, in every way CDNs are told."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if not await lifespan(scope, receive, send):
            await send({"type": "http.response.start", "status": 200, "headers": [(b"cache-control", cache_control), *CDN_HEADERS]})
            await send({"type": "http.response.body", "body": HOME})

    return app


CDN_HEADERS = [
    (b"content-type", b"text/html; charset=utf-8"),
    (b"cdn-cache-control", b"max-age=600"),
    (b"surrogate-control", b"max-age=600"),
    (b"cloudflare-cdn-cache-control", b"max-age=600"),
    (b"akamai-cache-control", b"max-age=600"),
    (b"edge-control", b"max-age=600"),
    (b"x-accel-expires", b"600"),
    (b"expires", b"Thu, 01 Jan 2099 00:00:00 GMT"),
    (b"age", b"100"),
]


def test_proxy_page_a_consenting_visitor_views_is_kept_by_no_shared_cache():
    # no-transform: intermediaries must not change the page either
    with (
        running(cdn_origin(b"public, max-age=60, no-transform")) as origin,
        running(create_app(settings_for(origin, VIEWS_RULES))) as etalage,
    ):
        view = httpx.get(f"{etalage}/c/rodents", cookies=CONSENT)
    assert view.headers["cache-control"] == "private, no-cache, no-transform"
    assert [name for name in view.headers if name in CACHE_TARGETED or name == "expires"] == []


# Fields that tell one cache (a CDN, nginx) more than Cache-Control does, and win over it there.
CACHE_TARGETED = (
    "cdn-cache-control",
    "surrogate-control",
    "cloudflare-cdn-cache-control",
    "akamai-cache-control",
    "edge-control",
    "x-accel-expires",
)


def test_proxy_personalized_page_carries_no_field_that_tells_a_cdn_to_keep_it():
    with running(cdn_origin(b"public, max-age=60")) as origin, running(create_app(settings_for(origin, VIEWS_RULES))) as etalage:
        with browser(etalage) as client:
            for _ in range(3):
                client.get("/c/rodents")
            client.get("/")  # the last view is learned after its response: this request comes after that
            personalized = client.get("/")
    assert b"data-etalage-rule" in personalized.content and personalized.headers["cache-control"] == "private, no-store"
    assert [name for name in personalized.headers if name in CACHE_TARGETED or name in ("expires", "age")] == []
