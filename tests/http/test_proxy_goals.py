"""Goals reached off the page views: a form posted to a goal's path, and orders the shop announces in a
response header ([orders] header), learned through the proxy (etalage.http.proxy, etalage.engine.orders)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from etalage.app import Etalage, create_app
from etalage.profiles.memory import MemoryStore
from etalage.profiles.profile import Event, Profile
from etalage.tokens import VisitorSigner
from tests.support.config import ACCEPT_ONETRUST, PROJECT_RULES, REJECT_ONETRUST, SECRET, rules_with, settings_for
from tests.support.servers import Served

SIGNER = VisitorSigner(SECRET)
GOALS = """
[[goal]]
id = "basket"
form = '^/(basket/add|not-found)'

[orders]
header = "X-Shop-Order"
"""


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    return rules_with(PROJECT_RULES, tmp_path, {"goals.toml": GOALS})


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore(retention=3600)


@pytest.fixture
def app(origin: str, rules: Path, store: MemoryStore) -> Etalage:
    return create_app(settings_for(origin, rules, experiments=True), store=store)


@pytest.fixture
def profile_of(drain: Callable[[], None], store: MemoryStore) -> Callable[[str], Profile | None]:
    """The stored profile of a visitor, once the proxy's background writes are done."""

    def read(visitor: str) -> Profile | None:
        drain()
        return asyncio.run(store.load(visitor))

    return read


def exposed_visitor(store: MemoryStore) -> str:
    """A consenting visitor shown their variant of the demo's hero-banner experiment a minute ago."""
    visitor, at = SIGNER.new_id(), time.time() - 60
    data = {"variant": "one-template", "version": 1}
    asyncio.run(store.record(visitor, [Event("assigned", "hero-banner", at, data), Event("exposed", "hero-banner", at, data)]))
    return visitor


def browser(served: Served, visitor: str, consent: str = ACCEPT_ONETRUST) -> httpx.Client:
    return httpx.Client(base_url=served.url, cookies={"OptanonConsent": consent, "etalage_vid": SIGNER.sign(visitor)})


def test_proxy_goals_count_a_form_posted_to_a_goal(served, store, profile_of):
    visitor = exposed_visitor(store)
    with browser(served, visitor) as client:
        assert client.post("/basket/add/d1", data={"quantity": "1"}).status_code == 200
    assert profile_of(visitor).assignments["hero-banner"].goals["basket"].count == 1


def test_proxy_goals_ignore_a_form_post_answered_with_an_error(served, store, profile_of):
    visitor = exposed_visitor(store)
    with browser(served, visitor) as client:
        assert client.post("/not-found", data={"quantity": "1"}).status_code == 404
    assert "basket" not in profile_of(visitor).assignments["hero-banner"].goals


def test_proxy_goals_count_no_form_post_without_consent(served, store, profile_of):
    visitor = exposed_visitor(store)
    with browser(served, visitor, REJECT_ONETRUST) as client:
        client.post("/basket/add/d1", data={"quantity": "1"})
    profile = profile_of(visitor)
    assert profile is None or "basket" not in profile.assignments["hero-banner"].goals


def test_proxy_goals_learn_an_order_announced_on_a_redirect(served, store, profile_of):
    visitor = exposed_visitor(store)
    with browser(served, visitor) as client:
        assert client.post("/order-placed", follow_redirects=False).status_code == 303
    profile = profile_of(visitor)
    (order,) = profile.orders
    assert (order.order, order.value, order.currency) == ("100023", 25.98, "EUR")
    assert sorted((p.sku, p.quantity) for p in profile.purchases) == [("d1", 2), ("r1", 1)]


def test_proxy_goals_keep_the_order_header_from_the_browser(served, store):
    # It tells Etalage what was bought; the visitor's browser (and its extensions) need not see it again.
    with browser(served, exposed_visitor(store)) as client:
        answer = client.post("/order-placed", follow_redirects=False)
    assert answer.status_code == 303 and "x-shop-order" not in answer.headers


def test_proxy_goals_count_an_announced_order_with_its_value(served, store, profile_of):
    visitor = exposed_visitor(store)
    with browser(served, visitor) as client:
        client.post("/order-placed", follow_redirects=False)
    reached = profile_of(visitor).assignments["hero-banner"].goals["order"]
    assert (reached.count, reached.value) == (1, 25.98)


def test_proxy_goals_learn_an_order_announced_on_a_page_once(served, store, profile_of):
    visitor = exposed_visitor(store)
    with browser(served, visitor) as client:
        for _ in range(2):  # a reload of the thank-you page
            assert client.get("/order/thanks").status_code == 200
    profile = profile_of(visitor)
    assert len(profile.orders) == 1 and profile.assignments["hero-banner"].goals["order"].count == 1


def test_proxy_goals_learn_nothing_from_a_garbled_order_header(app, served, store, profile_of):
    visitor = exposed_visitor(store)
    with browser(served, visitor) as client:
        assert client.post("/order-garbled", follow_redirects=False).status_code == 303
    assert profile_of(visitor).orders == []
    assert app.metrics.value("etalage_order_headers_total", outcome="invalid") == 1
