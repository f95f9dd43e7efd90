"""Who the proxy takes a visitor for: the cookie it issues, what a login does to it, and the cookies it
will not let anyone else set (the origin) or forge (a wrong signature, a cookie replayed after "forget me")."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest

from etalage.app import create_app
from etalage.profiles.memory import MemoryStore
from etalage.profiles.profile import Event
from etalage.tokens import VisitorSigner
from etalage.types import Receive, Scope, Send
from tests.support.config import ACCEPT_ONETRUST, PROXY_RULES, SECRET, settings_for
from tests.support.origin import HOME, lifespan
from tests.support.servers import running

CONSENT = f"OptanonConsent={ACCEPT_ONETRUST}"
SIGNER = VisitorSigner(SECRET)
HTML = [(b"content-type", b"text/html; charset=utf-8")]


async def origin(scope: Scope, receive: Receive, send: Send) -> None:
    """A shop whose /login announces the customer of its query, and whose /set-cookie sets the cookies its query names."""
    if await lifespan(scope, receive, send):
        return
    query = parse_qs(scope["query_string"].decode())
    headers = list(HTML)
    if scope["path"] == "/login":
        headers.append((b"x-shop-customer", query["customer"][0].encode()))
    for cookie in query.get("cookie", ()):
        headers.append((b"set-cookie", cookie.encode()))
    await send({"type": "http.response.start", "status": 200, "headers": [*headers, (b"content-length", b"%d" % len(HOME))]})
    await send({"type": "http.response.body", "body": HOME})


@pytest.fixture(scope="module")
def shop() -> Iterator[str]:
    with running(origin) as url:
        yield url


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The proxy test rules, and the shop's responses name who logged in."""
    folder = tmp_path_factory.mktemp("rules") / "proxy"
    shutil.copytree(PROXY_RULES, folder)
    (folder / "login.toml").write_text('[login]\nheader = "X-Shop-Customer"\n')
    return folder


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
