"""What the proxy does with answers a real origin sends: logouts, no-transform, HEAD, a body cut short, and what
it does with a visitor's own signals (Sec-GPC sent twice, a withdrawal carrying two visitor cookies)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from etalage.app import create_app
from etalage.http.cookies import live_value
from etalage.http.proxy import Proxy
from etalage.profiles.memory import MemoryStore
from etalage.rules.model import LoginSource
from etalage.tokens import VisitorSigner
from etalage.types import Receive, Scope, Send
from tests.support.config import ACCEPT_ONETRUST, PROXY_RULES, REJECT_ONETRUST, SECRET, settings_for
from tests.support.origin import HOME, lifespan
from tests.support.servers import running

NOW = 1_800_000_000.0
CONSENT = {"OptanonConsent": ACCEPT_ONETRUST}


async def origin(scope: Scope, receive: Receive, send: Send) -> None:
    """Pages as shops answer them: a page that forbids changes, and one whose connection breaks mid-body."""
    if await lifespan(scope, receive, send):
        return
    path = scope["path"]
    headers = [(b"content-type", b"text/html; charset=utf-8"), (b"etag", b'"v1"'), (b"cache-control", b"public, max-age=60")]
    if path == "/no-transform":
        headers[2] = (b"cache-control", b"public, no-transform")
    if path == "/cut":
        # Promise the whole page, send a part, end: the connection closes under the proxy's read.
        await send({"type": "http.response.start", "status": 200, "headers": [*headers, (b"content-length", b"%d" % len(HOME))]})
        await send({"type": "http.response.body", "body": HOME[:100]})
        return
    await send({"type": "http.response.start", "status": 200, "headers": [*headers, (b"content-length", b"%d" % len(HOME))]})
    await send({"type": "http.response.body", "body": HOME})


@pytest.fixture(scope="module")
def shop() -> Iterator[str]:
    with running(origin) as url:
        yield url


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore(retention=86400.0)


@pytest.fixture
def etalage(shop: str, store: MemoryStore) -> Iterator[str]:
    with running(create_app(settings_for(shop, PROXY_RULES), store=store)) as url:
        yield url


# -- logins and logouts in the origin's Set-Cookie ---------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        b"shop_customer=deleted; expires=Thu, 01-Jan-1970 00:00:01 GMT; Max-Age=0; path=/",
        b"shop_customer=deleted; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/",
        b"shop_customer=C-1; Max-Age=-1",
        b"shop_customer=C-1; Max-Age=0",
        b"shop_customer=C-1; Max-Age=soon",
        b"shop_customer=C-1; Expires=not a date",
        b"shop_customer=; Path=/",
        b'shop_customer=""; Path=/',
    ],
)
def test_live_value_of_a_removed_cookie_is_none(header):
    assert live_value(header, b"shop_customer", NOW) is None


@pytest.mark.parametrize(
    "header",
    [b"shop_customer=C-1; Path=/", b"shop_customer=C-1; Max-Age=3600", b"shop_customer=C-1; Expires=Fri, 01 Jan 2100 00:00:00 GMT"],
)
def test_live_value_of_a_cookie_that_stays_is_its_value(header):
    assert live_value(header, b"shop_customer", NOW) == "C-1"


def test_live_value_of_another_cookie_is_none():
    assert live_value(b"shop_customer_seen=1; Path=/", b"shop_customer", NOW) is None


def test_proxy_a_logout_cookie_is_not_a_login():
    logout = [(b"set-cookie", b"shop_customer=deleted; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/")]
    login = [(b"set-cookie", b"shop_customer=C-1; Path=/; HttpOnly")]
    source = LoginSource(cookie="shop_customer")
    assert (Proxy._logged_in(source, logout, NOW), Proxy._logged_in(source, login, NOW)) == (None, "C-1")


# -- what the origin says about its page --------------------------------------------------------


def test_proxy_leaves_a_no_transform_page_as_the_origin_sent_it(etalage):
    with httpx.Client(base_url=etalage, cookies=CONSENT) as browser:
        browser.get("/c/rodents")
        browser.get("/c/rodents")
        # The same visitor's pop-in shows on a page that allows changes, and not on one that forbids them.
        assert 'data-etalage-rule="popin"' in browser.get("/").text
        assert browser.get("/no-transform").content == HOME


def test_proxy_head_of_a_page_it_would_personalize_is_private_as_its_get(etalage):
    head = httpx.head(f"{etalage}/", cookies=CONSENT)
    assert head.headers["cache-control"] == "private, no-store" and "etag" not in head.headers


def test_proxy_head_without_consent_keeps_the_origin_s_caching(etalage):
    head = httpx.head(f"{etalage}/")
    assert (head.headers["cache-control"], head.headers["etag"]) == ("public, max-age=60", '"v1"')


def test_proxy_a_page_cut_short_by_the_origin_is_a_502_not_a_traceback(etalage):
    response = httpx.get(f"{etalage}/cut", cookies=CONSENT)
    assert response.status_code == 502 and "Traceback" not in response.text


# -- the visitor's signals -----------------------------------------------------------------------


def test_proxy_a_second_sec_gpc_header_is_not_hidden_by_the_first(etalage):
    response = httpx.get(f"{etalage}/", cookies=CONSENT, headers=[("Sec-GPC", "0"), ("Sec-GPC", "1")])
    assert "etalage_vid" not in response.headers.get("set-cookie", "") and response.content == HOME


def test_proxy_a_withdrawal_with_two_visitor_cookies_erases_both_profiles(etalage, store):
    signer = VisitorSigner(SECRET)
    ids = []
    for _ in range(2):
        with httpx.Client(base_url=etalage, cookies=CONSENT) as browser:
            browser.get("/c/rodents")
            ids.append(signer.verify(browser.cookies["etalage_vid"]).visitor_id)
    cookie = f"OptanonConsent={REJECT_ONETRUST}; " + "; ".join(f"etalage_vid={signer.sign(i)}" for i in ids)
    withdrawn = httpx.get(f"{etalage}/", headers={"Cookie": cookie})
    assert "Max-Age=0" in withdrawn.headers["set-cookie"]
    # The erase runs after the response; the next request on the same event loop comes after it.
    httpx.get(f"{etalage}/style.css")
    assert [store._profiles.get(f"v:{i}") for i in ids] == [None, None]


def test_proxy_a_withdrawal_arriving_with_a_form_post_erases_the_profile(etalage, store):
    signer = VisitorSigner(SECRET)
    with httpx.Client(base_url=etalage, cookies=CONSENT) as browser:
        browser.get("/c/rodents")
        visitor = signer.verify(browser.cookies["etalage_vid"]).visitor_id
    httpx.get(f"{etalage}/style.css")  # the page view's write is in before the withdrawal
    assert store._profiles.get(f"v:{visitor}") is not None
    posted = httpx.post(
        f"{etalage}/basket/add",
        data={"product": "1"},
        headers={"Cookie": f"OptanonConsent={REJECT_ONETRUST}; etalage_vid={signer.sign(visitor)}"},
    )
    httpx.get(f"{etalage}/style.css")  # the erase runs after the response; this request comes after it
    assert posted.status_code < 500 and store._profiles.get(f"v:{visitor}") is None
