"""Consent kept on the profile, and the stricter consent across a customer's linked devices: a withdrawal on
one device stops every device from reading or writing the customer's profile until a login with consent."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from etalage.app import create_app
from etalage.profiles.memory import MemoryStore
from etalage.profiles.profile import Event
from etalage.tokens import VisitorSigner
from tests.http.test_proxy_identity import cookie_value, origin
from tests.support.config import ACCEPT_ONETRUST, PROXY_RULES, REJECT_ONETRUST, SECRET, rules_with, settings_for
from tests.support.origin import HOME
from tests.support.servers import running

CONSENT = f"OptanonConsent={ACCEPT_ONETRUST}"
REFUSAL = f"OptanonConsent={REJECT_ONETRUST}"
SIGNER = VisitorSigner(SECRET)


@pytest.fixture(scope="module")
def shop() -> Iterator[str]:
    with running(origin) as url:
        yield url


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return rules_with(PROXY_RULES, tmp_path_factory.mktemp("rules"), {"login.toml": '[login]\nheader = "X-Shop-Customer"\n'})


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore(retention=86400.0)


def etalage_with(shop: str, rules: Path, store: MemoryStore, **settings: object):
    return running(create_app(settings_for(shop, rules, **settings), store=store))


@pytest.fixture
def etalage(shop: str, rules: Path, store: MemoryStore) -> Iterator[str]:
    with etalage_with(shop, rules, store) as url:
        yield url


def two_devices(store: MemoryStore) -> tuple[str, str]:
    """Customer C-1, interested in rodents, logged in on two devices; their visitor ids."""
    asyncio.run(store.record_customer("C-1", [Event("category_view", "rodents", 1.0)] * 3))
    devices = SIGNER.new_id(), SIGNER.new_id()
    for device in devices:
        asyncio.run(store.link(device, "C-1"))
    return devices


def withdraw_on(url: str, device: str) -> None:
    httpx.get(f"{url}/", headers={"Cookie": f"{REFUSAL}; etalage_vid={SIGNER.sign(device)}"})
    httpx.get(f"{url}/style.css")  # handled after the withdrawal the previous response scheduled


def test_proxy_consent_is_recorded_on_the_profile(etalage, store):
    response = httpx.get(f"{etalage}/c/rodents", headers={"Cookie": CONSENT})
    httpx.get(f"{etalage}/style.css")  # the page view is recorded after its response; this request comes after it
    profile = asyncio.run(store.load(SIGNER.verify(cookie_value(response.headers["set-cookie"])).visitor_id))
    assert profile is not None and profile.consent is not None
    assert (profile.consent.granted, profile.consent.sources, profile.consent.purposes) == (True, ("onetrust",), ("onetrust:C0004",))


def test_proxy_consent_record_keeps_the_time_consent_began(etalage, store):
    visitor = SIGNER.new_id()
    asyncio.run(
        store.record(visitor, [Event("consent", "", 5.0, {"granted": True, "sources": ["onetrust"], "purposes": ["onetrust:C0004"]})])
    )
    httpx.get(f"{etalage}/c/rodents", headers={"Cookie": f"{CONSENT}; etalage_vid={SIGNER.sign(visitor)}"})
    httpx.get(f"{etalage}/style.css")  # the page view is recorded after its response; this request comes after it
    assert asyncio.run(store.load(visitor)).consent.at == 5.0


def test_proxy_withdrawal_on_one_device_stops_personalization_on_the_other(etalage, store):
    phone, laptop = two_devices(store)
    withdraw_on(etalage, phone)
    page = httpx.get(f"{etalage}/", headers={"Cookie": f"{CONSENT}; etalage_vid={SIGNER.sign(laptop)}"})
    assert page.content == HOME


def test_proxy_withdrawal_on_one_device_stops_writes_from_the_other(etalage, store):
    phone, laptop = two_devices(store)
    withdraw_on(etalage, phone)
    httpx.get(f"{etalage}/c/dogs", headers={"Cookie": f"{CONSENT}; etalage_vid={SIGNER.sign(laptop)}"})
    httpx.get(f"{etalage}/style.css")  # the page view is recorded after its response; this request comes after it
    assert "dogs" not in asyncio.run(store.load_customer("C-1")).category_views


def test_proxy_withdrawal_erases_the_customers_data_by_default(etalage, store):
    phone, _laptop = two_devices(store)
    withdraw_on(etalage, phone)
    kept = asyncio.run(store.load_customer("C-1"))
    assert (kept.category_views, kept.consent.granted) == ({}, False)


def test_proxy_withdrawal_keeps_the_customers_data_when_the_shop_says_so(shop, rules, store):
    phone, _laptop = two_devices(store)
    with etalage_with(shop, rules, store, withdrawal_erases_customer=False) as url:
        withdraw_on(url, phone)
    kept = asyncio.run(store.load_customer("C-1"))
    assert (kept.category_views, kept.consent.granted) == ({"rodents": 3}, False)


def test_proxy_withdrawal_unlinks_the_withdrawing_device(etalage, store):
    phone, laptop = two_devices(store)
    withdraw_on(etalage, phone)
    assert asyncio.run(store.customer_devices("C-1")) == [laptop]


def test_proxy_login_with_consent_after_a_withdrawal_gives_consent_back(etalage, store):
    phone, laptop = two_devices(store)
    withdraw_on(etalage, phone)
    httpx.get(f"{etalage}/login?customer=C-1", headers={"Cookie": CONSENT})  # the phone, consenting again, logs in
    httpx.get(f"{etalage}/c/dogs", headers={"Cookie": f"{CONSENT}; etalage_vid={SIGNER.sign(laptop)}"})
    httpx.get(f"{etalage}/style.css")  # the page view is recorded after its response; this request comes after it
    profile = asyncio.run(store.load_customer("C-1"))
    assert profile.consent.granted and profile.category_views.get("dogs") == 1
