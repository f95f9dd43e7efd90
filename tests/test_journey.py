"""Customer-journey learning through Etalage in front of the demo shop: login, devices, purchases."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator

import httpx
import pytest
from selectolax.lexbor import LexborHTMLParser

from etalage.app import Etalage, create_app
from etalage.demo.shop import customer_id_for
from etalage.profiles.memory import MemoryStore
from etalage.profiles.profile import Event
from etalage.tokens import VisitorSigner
from tests.support.config import ACCEPT_ONETRUST, SECRET, settings_for
from tests.support.servers import Served, running

DAY = 24 * 3600.0

EMAIL = "sanne@example.nl"


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore(retention=3600)


@pytest.fixture
def app(shop: str, store: MemoryStore) -> Etalage:
    return create_app(settings_for(shop), store=store)


@pytest.fixture
def proxy(served: Served) -> str:
    return served.url


@contextlib.contextmanager
def device(base_url: str) -> Iterator[httpx.Client]:
    """A browser whose visitor accepted the shop's consent banner."""
    with httpx.Client(base_url=base_url) as client:
        client.post("/consent", data={"choice": "accept"})
        yield client


def hero_text(client: httpx.Client) -> str:
    return LexborHTMLParser(client.get("/").content).css_first("#hero").text()


def test_journey_login_on_a_second_device_shows_the_same_profile(proxy):
    with device(proxy) as laptop, device(proxy) as phone:
        for _ in range(3):
            laptop.get("/c/rodents")
        laptop.post("/login", data={"email": EMAIL})
        phone.post("/login", data={"email": EMAIL})
        assert "Small pets" in hero_text(phone)


def test_journey_login_merges_anonymous_history_into_the_customer(proxy, store, drain):
    with device(proxy) as laptop:
        laptop.get("/c/birds")
        laptop.post("/login", data={"email": EMAIL})
        laptop.get("/c/birds")
    drain()
    profile = asyncio.run(store.load_customer(customer_id_for(EMAIL)))
    assert profile is not None and profile.category_views == {"birds": 2}


def test_journey_a_forged_shop_cookie_links_nothing(proxy, store, drain):
    with device(proxy) as attacker:
        attacker.cookies.set("shop_customer", customer_id_for(EMAIL))
        attacker.get("/c/birds")
    drain()
    assert asyncio.run(store.load_customer(customer_id_for(EMAIL))) is None


def test_journey_a_login_the_shop_answers_links_the_visitor(proxy, store, drain):
    # The forged-cookie test's steps, with the shop's own answer to a login (its X-Shop-Customer header).
    with device(proxy) as customer:
        customer.post("/login", data={"email": EMAIL})
        customer.get("/c/birds")
    drain()
    assert asyncio.run(store.load_customer(customer_id_for(EMAIL))) is not None


def test_journey_logout_leaves_the_browser_nothing_of_the_customer(proxy, drain):
    with device(proxy) as shared, device(proxy) as phone:
        for _ in range(3):
            shared.get("/c/rodents")
        shared.post("/login", data={"email": EMAIL})
        shared.get("/logout", follow_redirects=True)  # home, under the id the logout gave
        drain()
        seen_next = shared.get("/.etalage/me.json").json()
        phone.post("/login", data={"email": EMAIL})
        seen_by_customer = phone.get("/.etalage/me.json").json()
    assert (seen_next["linked_to_customer_account"], seen_next["profile"]["category_views"]) == (False, {})
    assert (seen_by_customer["linked_to_customer_account"], seen_by_customer["profile"]["category_views"]) == (True, {"rodents": 3})


def test_journey_product_views_count_towards_their_category(proxy):
    with device(proxy) as client:
        for _ in range(3):
            client.get("/p/rodent-hamster-wheel-20")
        popin = LexborHTMLParser(client.get("/").content).css_first(".etalage-popin")
    assert popin is not None and popin.attributes["data-etalage-category"] == "rodents"


def test_journey_a_purchase_makes_the_visitor_a_customer(proxy, store, drain):
    with device(proxy) as client:
        thank_you = client.post("/checkout", data={"product": "dog-kibble-5kg"}).headers["location"]
        client.get(thank_you)
        client.get(thank_you)  # a reload learns nothing new
        visitor = client.cookies["etalage_vid"].split(".")[0]
        client.get("/")
    drain()
    profile = asyncio.run(store.load(visitor))
    assert profile.lifecycle == "customer" and [(p.sku, p.category) for p in profile.purchases] == [("dog-kibble-5kg", "dogs")]


def test_journey_interest_survives_a_restart_of_etalage(shop, tmp_path):
    settings = settings_for(shop, profiles_file=str(tmp_path / "profiles.json"))
    with running(create_app(settings)) as first, device(first) as client:
        for _ in range(3):
            client.get("/c/rodents")
        cookies = dict(client.cookies)
    with running(create_app(settings)) as second, httpx.Client(base_url=second, cookies=cookies) as client:
        assert "Small pets" in hero_text(client)


BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"}


def returning_visitor(base_url: str, store: MemoryStore, events: list[Event]) -> httpx.Client:
    """A consenting browser whose signed visitor id already has `events` in the store."""
    signer = VisitorSigner(SECRET)
    visitor = signer.new_id()
    asyncio.run(store.record(visitor, events))
    cookies = {"OptanonConsent": ACCEPT_ONETRUST, "etalage_vid": signer.sign(visitor)}
    return httpx.Client(base_url=base_url, cookies=cookies, headers=BROWSER)


def hero_rule(client: httpx.Client, path: str = "/") -> str | None:
    return LexborHTMLParser(client.get(path).content).css_first("#hero").attributes.get("data-etalage-rule")


def test_journey_campaign_visitors_see_the_campaign_banner(proxy, store):
    with returning_visitor(proxy, store, []) as client:
        assert hero_rule(client, "/?utm_campaign=spring-2026") == "spring-campaign"


def test_journey_a_consumable_about_to_run_out_gets_a_restock_reminder(proxy, store):
    bought = time.time() - 27 * DAY  # demo dog kibble lasts 30 days
    with returning_visitor(
        proxy, store, [Event("purchase", "dog-kibble-5kg", bought, {"order": "o1", "category": "dogs", "quantity": 1})]
    ) as client:
        assert hero_rule(client) == "restock-reminder"


def test_journey_a_visitor_back_after_weeks_is_welcomed_back(proxy, store):
    long_ago = time.time() - 40 * DAY
    with returning_visitor(proxy, store, [Event("page_view", "/", long_ago)]) as client:
        assert hero_rule(client) == "welcome-back"


def test_journey_a_recent_visitor_gets_the_interest_banner_instead(proxy, store):
    recently = time.time() - 3600
    with returning_visitor(proxy, store, [Event("page_view", "/", recently), Event("category_view", "fish", recently)]) as client:
        assert hero_rule(client) == "hero-by-interest"


def test_journey_the_visitors_page_says_why_a_condition_driven_message_shows(proxy, store, drain):
    bought = time.time() - 27 * DAY
    with returning_visitor(
        proxy, store, [Event("purchase", "dog-kibble-5kg", bought, {"order": "o1", "category": "dogs", "quantity": 1})]
    ) as client:
        sent = dict(client.cookies)
        assert hero_rule(client) == "restock-reminder"
        drain()
        client.cookies.clear()  # the renewed visitor cookie would be a second one beside the one set by hand
        client.cookies.update(sent)
        why = {item["rule"]: item["text"] for item in client.get("/.etalage/me.json").json()["why"]}
    assert "restock-reminder" in why and "spring-campaign" not in why


def test_journey_a_dog_person_gets_dog_advice(proxy, store):
    recently = time.time() - 3600
    with returning_visitor(proxy, store, [Event("page_view", "/", recently)] + [Event("category_view", "dogs", recently)] * 6) as client:
        assert hero_rule(client) == "dog-advice"


def test_journey_a_first_visit_from_a_search_engine_hears_the_shops_promise(proxy, store):
    with returning_visitor(proxy, store, []) as client:
        client.headers["Referer"] = "https://www.google.nl/search?q=hamster+wheel"
        assert hero_rule(client) == "first-visit-from-search"
