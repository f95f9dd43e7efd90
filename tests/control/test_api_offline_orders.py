"""Offline and point-of-sale orders through /.etalage/api/events: for a customer id, no device needed,
dated when they were placed, never creating a profile."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from etalage.app import create_app
from etalage.profiles.memory import MemoryStore
from etalage.profiles.profile import Event, Order
from tests.control.test_api_goals import exposed
from tests.support.config import PROJECT_RULES, settings_for
from tests.support.servers import running

KEY = "shop-backend-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
MARCH_1 = 1772323200.0  # 2026-03-01T00:00:00Z
SHOP_ORDER = {"type": "order", "customer": "C-1", "order": "POS-7", "products": ["dog-kibble-5kg"], "value": "31.97", "currency": "EUR"}


@pytest.fixture
def store() -> MemoryStore:
    store = MemoryStore(retention=3600)
    # Known from the CRM import alone: no device ever logged in.
    asyncio.run(store.record_customer("C-1", [Event("customer", "C-1", 1.0), Event("segment", "vip", 1.0)]))
    return store


@pytest.fixture
def api(origin, store):
    with running(create_app(settings_for(origin, PROJECT_RULES, api_key=KEY), store=store)) as url:
        yield url


def post_event(url: str, body: dict[str, object]) -> httpx.Response:
    return httpx.post(f"{url}/.etalage/api/events", json=body, headers=AUTH)


def test_api_offline_order_lands_in_the_profile_of_a_customer_with_no_device(api, store):
    assert post_event(api, SHOP_ORDER).json() == {"recorded": True}
    profile = asyncio.run(store.load_customer("C-1"))
    assert [(o.order, o.value, o.currency) for o in profile.orders] == [("POS-7", 31.97, "EUR")] and profile.lifecycle == "customer"


def test_api_offline_order_keeps_the_date_it_was_placed(api, store):
    post_event(api, {**SHOP_ORDER, "date": "2026-03-01T01:00:00+01:00"})
    profile = asyncio.run(store.load_customer("C-1"))
    assert profile.orders == [Order("POS-7", 31.97, "EUR", MARCH_1)] and {p.at for p in profile.purchases} == {MARCH_1}


@pytest.mark.parametrize(
    ("date", "reason"),
    [
        ("yesterday", "date: date 'yesterday' is not an ISO 8601 date"),
        ("2999-01-01", "is in the future"),
        (20260301, "date: expected an ISO 8601"),
    ],
)
def test_api_offline_order_with_a_bad_date_records_nothing(api, store, date, reason):
    response = post_event(api, {**SHOP_ORDER, "date": date})
    assert response.status_code == 400 and reason in response.text and asyncio.run(store.load_customer("C-1")).orders == []


def test_api_offline_order_placed_before_the_exposure_counts_for_no_goal(api, store):
    asyncio.run(store.record_customer("C-1", exposed(time.time() - 60)))
    post_event(api, {**SHOP_ORDER, "date": "2026-03-01"})
    assert asyncio.run(store.load_customer("C-1")).assignments["hero-banner"].goals == {}


def test_api_offline_order_for_a_customer_etalage_does_not_keep_creates_nothing(api, store):
    response = post_event(api, {**SHOP_ORDER, "customer": "C-2"})
    assert response.json()["recorded"] is False and asyncio.run(store.load_customer("C-2")) is None
