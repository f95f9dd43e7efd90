"""Segment membership for email and ad platforms (etalage.engine.audience): which segments, and which
customers: consenting ones only, by customer id only."""

from __future__ import annotations

import asyncio
import time

import pytest

from etalage.engine.audience import Tally, UnknownSegment, audience, member_page
from etalage.profiles.memory import MemoryStore
from etalage.profiles.profile import Event
from etalage.rules.loader import load_rules
from tests.support.config import PROJECT_RULES

RULES = load_rules(PROJECT_RULES)
NOW = time.time()
GRANT = Event("consent", "", 1.0, {"granted": True, "sources": ["onetrust"], "purposes": ["onetrust:C0004"]})
REFUSAL = Event("consent", "", 2.0, {"granted": False, "sources": ["onetrust"], "purposes": []})
ORDER = Event("order", "PC-1", 1.0, {"value": 10.0, "currency": "EUR"})
DOG_VIEWS = [Event("category_view", "dogs", NOW)] * 6


def customer(store: MemoryStore, customer_id: str, *events: Event) -> None:
    asyncio.run(store.record_customer(customer_id, [Event("customer", customer_id, 1.0), *events]))


def member_ids(store: MemoryStore, name: str, tally: Tally | None = None) -> list[str]:
    page = asyncio.run(member_page(store, audience(RULES, name), "", 100, NOW, tally))
    return sorted(row["customer_id"] for row in page.rows)


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore(retention=3600)


def test_audience_customers_are_those_with_an_order(store):
    customer(store, "buyer", GRANT, ORDER)
    customer(store, "browser", GRANT, *DOG_VIEWS)
    assert member_ids(store, "customers") == ["buyer"]


def test_audience_customers_count_an_order_learned_from_the_thank_you_page(store):
    customer(store, "buyer", GRANT, Event("purchase", "dog-rope-toy", 1.0, {"order": "W-1", "category": "dogs"}))
    assert member_ids(store, "customers") == ["buyer"]


def test_audience_leaves_out_a_customer_who_never_consented(store):
    customer(store, "from-the-crm", ORDER)
    tally = Tally()
    assert member_ids(store, "customers", tally) == [] and (tally.customers, tally.without_consent) == (1, 1)


def test_audience_leaves_out_a_customer_who_withdrew(store):
    customer(store, "withdrew", GRANT, ORDER, REFUSAL)
    assert member_ids(store, "customers") == []


def test_audience_leaves_out_anonymous_visitors(store):
    asyncio.run(store.record("visitor", [GRANT, ORDER]))
    assert member_ids(store, "customers") == []


def test_audience_rows_carry_the_customer_id_alone(store):
    customer(store, "buyer", GRANT, ORDER, Event("segment", "vip", 1.0))
    assert asyncio.run(member_page(store, audience(RULES, "customers"), "", 10, NOW)).rows == [{"customer_id": "buyer"}]


def test_audience_crm_segment_by_its_prefixed_name(store):
    customer(store, "vip", GRANT, Event("segment", "vip", 1.0))
    customer(store, "other", GRANT, Event("segment", "b2b", 1.0))
    assert member_ids(store, "crm:vip") == ["vip"]


def test_audience_rules_segment_about_the_profile(store):
    customer(store, "dog-person", GRANT, *DOG_VIEWS)
    customer(store, "cat-person", GRANT, *[Event("category_view", "cats", NOW)] * 6)
    assert member_ids(store, "dog-person") == ["dog-person"]


def test_audience_rules_segment_of_segments_and_crm_segments(store):
    customer(store, "vip", GRANT, Event("segment", "vip", 1.0))
    assert member_ids(store, "loyal-customer") == ["vip"]


@pytest.mark.parametrize(("name", "asks"), [("from-a-search-engine", "referrer"), ("weekend-evening", "Fri")])
def test_audience_refuses_a_rules_segment_about_a_page_view(name, asks):
    with pytest.raises(UnknownSegment, match=f"segment '{name}' asks about a page view \\(.*{asks}"):
        audience(RULES, name)


def test_audience_names_the_closest_segment_for_a_misspelt_name():
    with pytest.raises(UnknownSegment, match="did you mean 'dog-person'\\?.*crm:vip"):
        audience(RULES, "dog-persons")
