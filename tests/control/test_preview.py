"""Admin-signed previews: a browser sees the shop as a given profile would, and nothing else changes."""

import time

import httpx
import pytest
from selectolax.lexbor import LexborHTMLParser

from etalage.app import create_app
from etalage.profiles.memory import MemoryStore
from etalage.tokens import PreviewSigner
from tests.support.config import PROXY_RULES, settings_for
from tests.support.origin import HOME
from tests.support.servers import running

TOKEN = "admin-token-for-tests"
RODENT_FAN = {"category_views": {"rodents": 5}}


@pytest.fixture
def store():
    return MemoryStore(retention=3600)


@pytest.fixture
def proxy(origin, store):
    with running(create_app(settings_for(origin, PROXY_RULES, admin_token=TOKEN), store=store)) as url:
        yield url


def link(profile=RODENT_FAN, expires=None, token=TOKEN) -> str:
    return "/.etalage/preview?token=" + PreviewSigner(token).issue(profile, expires or time.time() + 3600)


def test_preview_personalizes_for_the_signed_profile_without_consent(proxy):
    with httpx.Client(base_url=proxy) as browser:
        assert browser.get(link()).status_code == 303
        hero = LexborHTMLParser(browser.get("/home").content).css_first("#hero")
    assert hero.text().startswith("For Rodents lovers")


def test_preview_pages_say_they_are_a_preview_and_how_to_end_it(proxy):
    # A preview lasts hours and looks like the shop: without a notice it was easy to forget.
    with httpx.Client(base_url=proxy) as browser:
        browser.get(link({}))  # nothing personalized for this profile: the notice comes all the same
        notice = LexborHTMLParser(browser.get("/home").content).css_first("[data-etalage-preview] a")
    assert notice is not None and notice.attributes["href"] == "/.etalage/preview/end"


def test_preview_notice_is_for_previews_only(proxy):
    assert b"data-etalage-preview" not in httpx.get(f"{proxy}/home").content


def test_preview_pages_are_never_cacheable(proxy):
    with httpx.Client(base_url=proxy) as browser:
        browser.get(link({}))
        assert browser.get("/home").headers["cache-control"] == "private, no-store"


def test_preview_touches_no_profile(proxy, store):
    with httpx.Client(base_url=proxy) as browser:
        browser.get(link())
        browser.get("/c/rodents")
        assert "etalage_vid" not in browser.cookies and len(store._profiles) == 0


def test_preview_link_signed_with_another_token_is_refused(proxy):
    assert httpx.get(f"{proxy}{link(token='not-the-admin-token')}").status_code == 403


def test_preview_cookie_with_a_forged_signature_changes_nothing(proxy):
    forged = PreviewSigner("guess").issue(RODENT_FAN, time.time() + 3600)
    assert httpx.get(f"{proxy}/home", cookies={"etalage_preview": forged}).content == HOME


def test_preview_cookie_with_non_ascii_changes_nothing(proxy):
    token = PreviewSigner(TOKEN).issue(RODENT_FAN, time.time() + 3600)
    response = httpx.get(f"{proxy}/home", headers={"cookie": f"etalage_preview={token}é".encode()})
    assert response.status_code == 200 and response.content == HOME


def test_preview_expires(proxy):
    expired = PreviewSigner(TOKEN).issue(RODENT_FAN, time.time() - 1)
    assert httpx.get(f"{proxy}/home", cookies={"etalage_preview": expired}).content == HOME


def test_preview_can_be_ended(proxy):
    with httpx.Client(base_url=proxy) as browser:
        browser.get(link())
        browser.get("/.etalage/preview/end")
        assert browser.get("/home").content == HOME


def test_preview_cookie_is_secure_behind_a_trusted_tls_terminator(origin, store):
    # The connection from the TLS terminator is http; the browser's is https.
    settings = settings_for(origin, PROXY_RULES, admin_token=TOKEN, trusted_proxies=frozenset({"127.0.0.1"}))
    with running(create_app(settings, store=store)) as url:
        opened = httpx.get(url + link(), headers={"X-Forwarded-Proto": "https"})
    assert opened.status_code == 303 and opened.headers["set-cookie"].endswith("; Secure")


def test_preview_is_off_without_an_admin_token(origin):
    with running(create_app(settings_for(origin, PROXY_RULES))) as url:
        assert httpx.get(f"{url}{link()}").status_code == 403
