"""The customers API (etalage.control.crm): a CRM replaces a customer's segments and newsletters, one customer or a batch at a time."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from etalage.app import create_app
from etalage.profiles.memory import MemoryStore
from etalage.profiles.profile import Event
from tests.engine.test_personalization import FailingStore
from tests.support.config import PROJECT_RULES, settings_for
from tests.support.servers import running

KEY = "crm-key-for-the-tests"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore(retention=3600)


@pytest.fixture
def api(origin, store):
    with running(create_app(settings_for(origin, PROJECT_RULES, api_key=KEY), store=store)) as url:
        yield url


def in_crm(store: MemoryStore, customer: str = "C-1") -> None:
    """A customer the import loaded: in segments vip and loyal, getting the dogs newsletter."""
    events = [Event("segment", "vip", 1.0), Event("segment", "loyal", 1.0), Event("newsletter_subscribe", "dogs", 1.0)]
    asyncio.run(store.record_customer(customer, events))


def put(url: str, body: object, customer: str = "C-1", headers: dict[str, str] = AUTH) -> httpx.Response:
    return httpx.put(f"{url}/.etalage/api/customers/{customer}", json=body, headers=headers)


def batch(url: str, body: object) -> httpx.Response:
    return httpx.post(f"{url}/.etalage/api/customers", json=body, headers=AUTH)


def stored(store: MemoryStore, customer: str = "C-1") -> tuple[set[str], set[str]] | None:
    profile = asyncio.run(store.load_customer(customer))
    return None if profile is None else (profile.segments, profile.newsletters)


def test_api_customers_put_replaces_the_segments(api, store):
    in_crm(store)
    response = put(api, {"segments": ["loyal", "cat-owner"]})
    assert response.status_code == 200 and response.json() == {"customer_id": "C-1", "replaced": ["segments"]}
    assert stored(store) == ({"loyal", "cat-owner"}, {"dogs"})


def test_api_customers_put_of_an_empty_list_leaves_none(api, store):
    in_crm(store)
    put(api, {"segments": [], "newsletters": []})
    assert stored(store) == (set(), set())


def test_api_customers_put_leaves_a_list_it_does_not_give_alone(api, store):
    in_crm(store)
    put(api, {"newsletters": ["cats"]})
    assert stored(store) == ({"vip", "loyal"}, {"cats"})


def test_api_customers_put_twice_changes_nothing_more(api, store):
    in_crm(store)
    put(api, {"segments": ["vip"]})
    first = asyncio.run(store.load_customer("C-1"))
    put(api, {"segments": ["vip"]})
    assert asyncio.run(store.load_customer("C-1")) == first


def test_api_customers_put_gives_a_new_customer_a_profile_as_the_import_does(api, store):
    put(api, {"segments": ["vip"]}, customer="C-9")
    profile = asyncio.run(store.load_customer("C-9"))
    assert profile is not None and (profile.customer_id, profile.segments) == ("C-9", {"vip"})


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"newsletters": ["dgos"]}, "newsletter category 'dgos' is not a category of the rule set (did you mean 'dogs'?)"),
        ({"segments": ["vip|loyal"]}, "segment 'vip|loyal' must be at most 100 printable characters, without '|'"),
        ({"segments": "vip"}, "segments must be a list, got a string"),
        ({"segments": [3]}, "an entry of segments must be a string, got a number"),
        ({"segment": ["vip"]}, "unknown key 'segment' (did you mean 'segments'?)"),
        ({}, "give segments and/or newsletters"),
        (["vip"], "expected a JSON object with segments and/or newsletters, got a list"),
        ({"segments": ["vip"], "customer_id": "C-2"}, "unknown key 'customer_id'"),
    ],
)
def test_api_customers_put_explains_a_bad_body_and_writes_nothing(api, store, body, reason):
    in_crm(store)
    before = asyncio.run(store.load_customer("C-1"))
    response = put(api, body)
    assert response.status_code == 400 and reason in response.text
    assert asyncio.run(store.load_customer("C-1")) == before


def test_api_customers_put_names_every_problem_of_the_body(api, store):
    response = put(api, {"segments": ["ok", ""], "newsletters": ["fsh"]})
    assert response.text.splitlines() == [
        "a segment name is empty",
        "newsletter category 'fsh' is not a category of the rule set (did you mean 'fish'?) "
        "(categories are: dogs, cats, rodents, birds, fish)",
    ]


def test_api_customers_put_refuses_an_id_with_spaces(api, store):
    response = put(api, {"segments": ["vip"]}, customer="C 1")
    assert response.status_code == 400 and "contains spaces" in response.text and stored(store, "C 1") is None


def test_api_customers_batch_replaces_each_customer_s_lists(api, store):
    in_crm(store, "C-1")
    in_crm(store, "C-2")
    response = batch(api, {"customers": [{"customer_id": "C-1", "segments": []}, {"customer_id": "C-2", "newsletters": ["fish"]}]})
    assert response.json() == {"written": 2}
    assert (stored(store, "C-1"), stored(store, "C-2")) == ((set(), {"dogs"}), ({"vip", "loyal"}, {"fish"}))


def test_api_customers_batch_with_one_bad_customer_writes_none(api, store):
    in_crm(store, "C-1")
    body = {"customers": [{"customer_id": "C-1", "segments": []}, {"customer_id": "C-2", "newsletters": ["horses"]}]}
    response = batch(api, body)
    assert response.status_code == 400 and response.text.startswith("customers[1]: newsletter category 'horses'")
    assert (stored(store, "C-1"), stored(store, "C-2")) == (({"vip", "loyal"}, {"dogs"}), None)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"customers": []}, "customers: the list is empty"),
        ({"customers": [{"segments": []}]}, "customers[0]: customer_id must be a string, got null"),
        ({"customers": [{"customer_id": "C-1", "segments": []}] * 2}, "customers[1]: customer 'C-1' is in the batch twice"),
        ({"customers": [{"customer_id": f"C-{n}", "segments": []} for n in range(1001)]}, "at most 1000 a call"),
        ([{"customer_id": "C-1", "segments": []}], 'expected {"customers": ['),
    ],
)
def test_api_customers_batch_explains_a_bad_body(api, store, body, reason):
    response = batch(api, body)
    assert response.status_code == 400 and reason in response.text and stored(store, "C-1") is None


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", f"Basic {KEY}"])
def test_api_customers_refuse_a_wrong_key(api, store, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    assert put(api, {"segments": ["vip"]}, headers=headers).status_code == 401 and stored(store) is None


def test_api_customers_are_off_without_a_key(origin):
    with running(create_app(settings_for(origin, PROJECT_RULES))) as url:
        assert put(url, {"segments": ["vip"]}).status_code == 404


def test_api_customers_answer_503_when_the_store_is_down(origin):
    with running(create_app(settings_for(origin, PROJECT_RULES, api_key=KEY), store=FailingStore())) as url:
        response = put(url, {"segments": ["vip"]})
    assert response.status_code == 503 and "sending the same body again is safe" in response.text
