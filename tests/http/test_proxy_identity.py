"""Who the proxy takes a visitor for: the cookie it issues, what a login does to it, and the cookies it
will not let anyone else set (the origin) or forge (a wrong signature, a cookie replayed after "forget me")."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest

from etalage.app import create_app
from etalage.profiles.memory import MemoryStore
from etalage.profiles.profile import Event
from etalage.profiles.store import StoreError
from etalage.tokens import CsrfSigner, VisitorSigner
from etalage.types import Receive, Scope, Send
from tests.support.config import ACCEPT_ONETRUST, PROXY_RULES, SECRET, rules_with, settings_for
from tests.support.origin import HOME, lifespan
from tests.support.servers import running

CONSENT = f"OptanonConsent={ACCEPT_ONETRUST}"
SIGNER = VisitorSigner(SECRET)
HTML = [(b"content-type", b"text/html; charset=utf-8")]


async def origin(scope: Scope, receive: Receive, send: Send) -> None:
    """A shop whose /login redirects home announcing the customer its query names, whose /style.css is
    no page; every answer sets the cookies its `cookie` query parameters name."""
    if await lifespan(scope, receive, send):
        return
    query = parse_qs(scope["query_string"].decode())
    status, headers, body = 200, list(HTML), HOME
    if scope["path"] == "/style.css":
        headers, body = [(b"content-type", b"text/css")], b"body{}"
    elif scope["path"] == "/login":
        status, headers, body = 303, [(b"location", b"/"), (b"x-shop-customer", query["customer"][0].encode())], b""
    headers += [(b"set-cookie", cookie.encode()) for cookie in query.get("cookie", ())]
    await send({"type": "http.response.start", "status": status, "headers": [*headers, (b"content-length", b"%d" % len(body))]})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def shop() -> Iterator[str]:
    with running(origin) as url:
        yield url


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The proxy test rules, and the shop's responses name who logged in (and out)."""
    login = '[login]\nheader = "X-Shop-Customer"\ncookie = "shop_customer"\nlogout_path = "^/logout$"\n'
    return rules_with(PROXY_RULES, tmp_path_factory.mktemp("rules"), {"login.toml": login})


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore(retention=86400.0)


@pytest.fixture
def etalage(shop: str, rules: Path, store: MemoryStore) -> Iterator[str]:
    with running(create_app(settings_for(shop, rules), store=store)) as url:
        yield url


def cookie_value(set_cookie: str, name: str = "etalage_vid") -> str:
    pair = set_cookie.split(";", 1)[0]
    assert pair.startswith(name + "=")
    return pair[len(name) + 1 :]


def visitor_with(store: MemoryStore, events: list[Event]) -> str:
    """The signed cookie value of a visitor whose profile holds `events`."""
    visitor = SIGNER.new_id()
    asyncio.run(store.record(visitor, events))
    return SIGNER.sign(visitor)


# -- the cookie's name ---------------------------------------------------------------------------


def test_proxy_host_prefixed_cookie_is_secure_over_http_and_read_back(shop, rules, store):
    with running(create_app(settings_for(shop, rules, cookie_name="__Host-etalage_vid"), store=store)) as url:
        first = httpx.get(f"{url}/c/rodents", headers={"Cookie": CONSENT})
        set_cookie = first.headers["set-cookie"]
        value = cookie_value(set_cookie, "__Host-etalage_vid")
        httpx.get(f"{url}/c/rodents", headers={"Cookie": f"{CONSENT}; __Host-etalage_vid={value}"})
        # The page view is recorded after its response; the next request on the same event loop comes after that.
        httpx.get(f"{url}/style.css")
    profile = asyncio.run(store.load(SIGNER.verify(value).visitor_id))
    assert set_cookie.endswith("; Secure") and profile.category_views == {"rodents": 2}


# -- logging in ----------------------------------------------------------------------------------


def test_proxy_login_gives_a_returning_visitor_a_new_id(etalage, store):
    old = visitor_with(store, [Event("category_view", "dogs", 1.0)])
    login = httpx.get(f"{etalage}/login?customer=C-1", headers={"Cookie": f"{CONSENT}; etalage_vid={old}"})
    new = SIGNER.verify(cookie_value(login.headers["set-cookie"]))
    assert new is not None and new.visitor_id != SIGNER.verify(old).visitor_id


def test_proxy_login_header_stops_at_etalage(etalage, store):
    # The customer id is the shop's word to Etalage, not something for the browser to carry.
    login = httpx.get(f"{etalage}/login?customer=C-1", headers={"Cookie": f"{CONSENT}; etalage_vid={visitor_with(store, [])}"})
    assert "x-shop-customer" not in login.headers and "etalage_vid=" in login.headers["set-cookie"]


def test_proxy_login_new_id_stands_for_the_customer_with_the_old_ids_history(etalage, store):
    old = visitor_with(store, [Event("category_view", "dogs", 1.0)])
    login = httpx.get(f"{etalage}/login?customer=C-1", headers={"Cookie": f"{CONSENT}; etalage_vid={old}"})
    profile = asyncio.run(store.load(SIGNER.verify(cookie_value(login.headers["set-cookie"])).visitor_id))
    assert profile is not None and (profile.customer_id, profile.category_views) == ("C-1", {"dogs": 1})


def test_proxy_login_leaves_a_planted_id_nothing_of_the_customer(etalage, store):
    """An attacker plants their own valid cookie in the victim's browser and waits for the victim to log in."""
    asyncio.run(store.record_customer("C-1", [Event("category_view", "cats", 1.0)]))
    planted = visitor_with(store, [])
    httpx.get(f"{etalage}/login?customer=C-1", headers={"Cookie": f"{CONSENT}; etalage_vid={planted}"})
    seen_by_attacker = httpx.get(f"{etalage}/.etalage/me.json", headers={"Cookie": f"{CONSENT}; etalage_vid={planted}"}).json()
    assert (seen_by_attacker["stored"], seen_by_attacker["linked_to_customer_account"]) == (False, False)


def test_proxy_login_again_keeps_the_id_linked_to_that_customer(etalage, store):
    old = visitor_with(store, [])
    first = httpx.get(f"{etalage}/login?customer=C-1", headers={"Cookie": f"{CONSENT}; etalage_vid={old}"})
    new = cookie_value(first.headers["set-cookie"])
    again = httpx.get(f"{etalage}/login?customer=C-1", headers={"Cookie": f"{CONSENT}; etalage_vid={new}"})
    assert "set-cookie" not in again.headers


# -- logging out ---------------------------------------------------------------------------------

LOGOUT_COOKIE = "shop_customer=deleted; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/"


def logged_in(url: str, store: MemoryStore) -> str:
    """The visitor cookie of a browser that logged in as C-1, whose profile has a history."""
    asyncio.run(store.record_customer("C-1", [Event("category_view", "cats", 1.0)]))
    login = httpx.get(f"{url}/login?customer=C-1", headers={"Cookie": f"{CONSENT}; etalage_vid={visitor_with(store, [])}"})
    return cookie_value(login.headers["set-cookie"])


def me(url: str, cookie: str) -> tuple[bool, bool]:
    seen = httpx.get(f"{url}/.etalage/me.json", headers={"Cookie": f"{CONSENT}; etalage_vid={cookie}"}).json()
    return seen["stored"], seen["linked_to_customer_account"]


def test_proxy_logout_cookie_gives_a_logged_in_browser_a_new_id(etalage, store):
    linked = logged_in(etalage, store)
    logout = httpx.get(f"{etalage}/style.css", params={"cookie": LOGOUT_COOKIE}, headers={"Cookie": f"{CONSENT}; etalage_vid={linked}"})
    issued = [cookie_value(value) for value in set_cookies(logout) if value.startswith("etalage_vid=")]
    assert len(issued) == 1 and SIGNER.verify(issued[0]).visitor_id != SIGNER.verify(linked).visitor_id


def test_proxy_logout_cookie_new_id_stands_for_nothing_of_the_customer(etalage, store):
    linked = logged_in(etalage, store)
    logout = httpx.get(f"{etalage}/", params={"cookie": LOGOUT_COOKIE}, headers={"Cookie": f"{CONSENT}; etalage_vid={linked}"})
    issued = next(cookie_value(value) for value in set_cookies(logout) if value.startswith("etalage_vid="))
    httpx.get(f"{etalage}/style.css")  # the page view is recorded after its response; this request comes after it
    profile = asyncio.run(store.load(SIGNER.verify(issued).visitor_id))
    assert profile is not None and (profile.customer_id, profile.category_views) == (None, {})


def test_proxy_logout_leaves_the_old_id_linked_to_nothing(etalage, store):
    linked = logged_in(etalage, store)
    httpx.get(f"{etalage}/style.css", params={"cookie": LOGOUT_COOKIE}, headers={"Cookie": f"{CONSENT}; etalage_vid={linked}"})
    assert me(etalage, linked) == (False, False)


def test_proxy_logout_keeps_the_customer_profile_for_other_devices(etalage, store):
    linked = logged_in(etalage, store)
    httpx.get(f"{etalage}/style.css", params={"cookie": LOGOUT_COOKIE}, headers={"Cookie": f"{CONSENT}; etalage_vid={linked}"})
    customer = asyncio.run(store.load_customer("C-1"))
    assert customer is not None and customer.category_views == {"cats": 1}


def test_proxy_logout_path_logs_out_a_shop_that_announces_logins_in_a_header(etalage, store):
    linked = logged_in(etalage, store)
    logout = httpx.get(f"{etalage}/logout", headers={"Cookie": f"{CONSENT}; etalage_vid={linked}"})
    assert any(value.startswith("etalage_vid=") for value in set_cookies(logout)) and me(etalage, linked) == (False, False)


def test_proxy_logout_keeps_an_anonymous_visitors_id_and_history(etalage, store):
    anonymous = visitor_with(store, RODENT_FAN)
    logout = httpx.get(f"{etalage}/style.css", params={"cookie": LOGOUT_COOKIE}, headers={"Cookie": f"{CONSENT}; etalage_vid={anonymous}"})
    assert set_cookies(logout) == [LOGOUT_COOKIE] and me(etalage, anonymous) == (True, False)


def test_proxy_a_response_that_leaves_the_login_cookie_alone_is_no_logout(etalage, store):
    linked = logged_in(etalage, store)
    other = httpx.get(
        f"{etalage}/style.css", params={"cookie": "shop_basket=; Max-Age=0"}, headers={"Cookie": f"{CONSENT}; etalage_vid={linked}"}
    )
    assert not any(value.startswith("etalage_vid=") for value in set_cookies(other)) and me(etalage, linked) == (True, True)


# -- a login cookie that is a session key -----------------------------------------------------------


@pytest.fixture
def cookie_login(shop: str, tmp_path: Path, store: MemoryStore) -> Iterator[str]:
    """Etalage in front of a shop whose logins the rules read from the shop_customer cookie only."""
    folder = rules_with(PROXY_RULES, tmp_path, {"login.toml": '[login]\ncookie = "shop_customer"\n'})
    with running(create_app(settings_for(shop, folder, admin_token="t0k-for-the-tests"), store=store)) as url:
        yield url


def session_key_rotated(url: str, store: MemoryStore) -> str:
    """A browser linked through shop_customer=S-1 gets a response that sets it to S-2 (a login that
    rotates a session key), with no logout in between; the visitor cookie that response gives it."""
    first = httpx.get(
        f"{url}/", params={"cookie": "shop_customer=S-1"}, headers={"Cookie": f"{CONSENT}; etalage_vid={visitor_with(store, [])}"}
    )
    linked = cookie_value(next(value for value in set_cookies(first) if value.startswith("etalage_vid=")))
    assert me(url, linked) == (True, True)
    rotated = httpx.get(
        f"{url}/", params={"cookie": "shop_customer=S-2"}, headers={"Cookie": f"{CONSENT}; etalage_vid={linked}; shop_customer=S-1"}
    )
    return next(cookie_value(value) for value in set_cookies(rotated) if value.startswith("etalage_vid="))


def test_proxy_login_cookie_that_changes_value_is_not_linked(cookie_login, store):
    session_key_rotated(cookie_login, store)
    assert asyncio.run(store.load_customer("S-2")) is None


def test_proxy_login_cookie_that_changes_value_leaves_the_browser_linked_to_nothing(cookie_login, store):
    issued = session_key_rotated(cookie_login, store)
    assert me(cookie_login, issued)[1] is False


def test_proxy_login_cookie_that_changes_value_is_reported(cookie_login, store):
    session_key_rotated(cookie_login, store)
    status = httpx.get(f"{cookie_login}/.etalage/admin/rules", headers={"Authorization": "Bearer t0k-for-the-tests"}).json()
    assert status["logins_ignored"] == 1


class UnlinkFails(MemoryStore):
    async def unlink(self, visitor_id: str) -> bool:
        raise StoreError("connection refused")


def test_proxy_logout_gives_a_new_id_when_the_store_cannot_unlink(shop, rules):
    store = UnlinkFails(retention=86400.0)
    with running(create_app(settings_for(shop, rules), store=store)) as url:
        linked = logged_in(url, store)
        logout = httpx.get(f"{url}/logout", headers={"Cookie": f"{CONSENT}; etalage_vid={linked}"})
    issued = [cookie_value(value) for value in set_cookies(logout) if value.startswith("etalage_vid=")]
    assert len(issued) == 1 and issued[0] != linked


# -- the origin's Set-Cookie ---------------------------------------------------------------------


def set_cookies(response: httpx.Response) -> list[str]:
    return response.headers.get_list("set-cookie")


@pytest.mark.parametrize(
    "planted",
    [
        "etalage_vid=AAAAAAAAAAAAAAAAAAAAAA.sig; Path=/",
        "etalage_vid=x; Domain=127.0.0.1; Path=/c",
        " etalage_vid =x",
        "etalage_vid=; Max-Age=0; Path=/",
    ],
)
def test_proxy_drops_the_origins_set_cookie_of_the_visitor_cookie(etalage, planted):
    response = httpx.get(f"{etalage}/style.css", params={"cookie": [planted, "shop=1; Path=/"]})
    assert set_cookies(response) == ["shop=1; Path=/"]


def test_proxy_drops_the_origins_set_cookie_of_the_preview_cookie(etalage):
    response = httpx.get(f"{etalage}/style.css", params={"cookie": ["etalage_preview=token; Path=/"]})
    assert set_cookies(response) == []


def test_proxy_gives_a_consenting_visitor_only_its_own_visitor_cookie(etalage):
    planted = visitor_with(MemoryStore(retention=60.0), [])
    response = httpx.get(f"{etalage}/", params={"cookie": [f"etalage_vid={planted}; Path=/"]}, headers={"Cookie": CONSENT})
    [issued] = set_cookies(response)
    assert cookie_value(issued) != planted and SIGNER.verify(cookie_value(issued)) is not None


# -- a login the shop's backend reports through /.etalage/api/link -------------------------------


def test_proxy_exchanges_the_apis_handoff_for_the_new_id_cookie(etalage):
    old, new = SIGNER.new_id(), SIGNER.new_id()
    handoff = SIGNER.handoff(old, new)
    response = httpx.get(
        f"{etalage}/style.css",
        params={"cookie": f"etalage_vid={handoff}"},
        headers={"Cookie": f"{CONSENT}; etalage_vid={SIGNER.sign(old)}"},
    )
    [issued] = set_cookies(response)
    assert SIGNER.verify(cookie_value(issued)).visitor_id == new


def test_proxy_drops_a_handoff_made_for_another_browser(etalage):
    handoff = SIGNER.handoff(SIGNER.new_id(), SIGNER.new_id())
    response = httpx.get(
        f"{etalage}/style.css",
        params={"cookie": f"etalage_vid={handoff}"},
        headers={"Cookie": f"{CONSENT}; etalage_vid={SIGNER.sign(SIGNER.new_id())}"},
    )
    assert set_cookies(response) == []


def test_proxy_erases_a_handoff_s_id_when_consent_is_gone(etalage, store):
    old, new = SIGNER.new_id(), SIGNER.new_id()
    asyncio.run(store.link(new, "C-1"))
    httpx.get(
        f"{etalage}/style.css",
        params={"cookie": f"etalage_vid={SIGNER.handoff(old, new)}"},
        headers={"Cookie": f"etalage_vid={SIGNER.sign(old)}"},
    )
    httpx.get(f"{etalage}/style.css")  # the erase runs after the response; this request comes after it
    assert asyncio.run(store.load(new)) is None


# -- forged and replayed cookies -----------------------------------------------------------------

RODENT_FAN = [Event("category_view", "rodents", 1.0)] * 3


def personalized(url: str, cookie: str) -> bool:
    return "data-etalage-rule" in httpx.get(f"{url}/", headers={"Cookie": f"{CONSENT}; etalage_vid={cookie}"}).text


def test_proxy_ignores_a_visitor_cookie_signed_with_another_secret(etalage, store):
    genuine = visitor_with(store, RODENT_FAN)
    forged = VisitorSigner((("t1", b"another-secret-0123456789"),)).sign(SIGNER.verify(genuine).visitor_id)
    assert (personalized(etalage, genuine), personalized(etalage, forged)) == (True, False)


def test_proxy_ignores_a_visitor_cookie_with_a_truncated_signature(etalage, store):
    genuine = visitor_with(store, RODENT_FAN)
    assert (personalized(etalage, genuine), personalized(etalage, genuine[:-4])) == (True, False)


def forget(url: str, cookie: str) -> None:
    visitor_id = SIGNER.verify(cookie).visitor_id
    form = {"csrf": CsrfSigner(SECRET).token(visitor_id), "confirm": "yes"}
    response = httpx.post(f"{url}/.etalage/me/forget", data=form, headers={"Cookie": f"{CONSENT}; etalage_vid={cookie}"})
    assert response.status_code == 303


def test_proxy_cookie_replayed_after_forget_me_starts_an_empty_profile_under_a_new_id(etalage, store):
    cookie = visitor_with(store, RODENT_FAN)
    forget(etalage, cookie)
    response = httpx.get(f"{etalage}/c/dogs", headers={"Cookie": f"{CONSENT}; etalage_vid={cookie}"})
    httpx.get(f"{etalage}/style.css")  # the page view is recorded after its response; this request comes after it
    fresh = SIGNER.verify(cookie_value(response.headers["set-cookie"])).visitor_id
    assert fresh != SIGNER.verify(cookie).visitor_id and asyncio.run(store.load(fresh)).category_views == {"dogs": 1}


def test_proxy_cookie_replayed_after_forget_me_recreates_no_profile_under_the_erased_id(etalage, store):
    cookie = visitor_with(store, RODENT_FAN)
    forget(etalage, cookie)
    assert not personalized(etalage, cookie)
    httpx.get(f"{etalage}/style.css")  # the page view is recorded after its response; this request comes after it
    assert asyncio.run(store.load(SIGNER.verify(cookie).visitor_id)) is None


def test_proxy_cookie_replayed_after_forget_me_does_not_bring_the_customer_back(etalage, store):
    cookie = visitor_with(store, [])
    asyncio.run(store.record_customer("C-1", RODENT_FAN))
    asyncio.run(store.link(SIGNER.verify(cookie).visitor_id, "C-1"))
    forget(etalage, cookie)
    assert not personalized(etalage, cookie)
    httpx.get(f"{etalage}/style.css")
    assert asyncio.run(store.load_customer("C-1")) is None
