"""The server-to-server API under /.etalage/api/: link, unlink and events, with its own API key."""

import asyncio

import httpx
import pytest

from etalage.app import create_app
from etalage.profiles.memory import MemoryStore
from etalage.profiles.profile import Event, Order
from etalage.profiles.store import StoreError
from etalage.tokens import VisitorSigner
from tests.support.config import PROJECT_RULES, SECRET, settings_for
from tests.support.servers import running

SIGNER = VisitorSigner(SECRET)
KEY = "shop-backend-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore(retention=3600)


@pytest.fixture
def api(origin, store):
    with running(create_app(settings_for(origin, PROJECT_RULES, api_key=KEY, admin_token="admin-token-for-tests"), store=store)) as url:
        yield url


def api_link(url: str, cookie_value: str, customer: str = "cust-42") -> httpx.Response:
    return httpx.post(f"{url}/.etalage/api/link", json={"visitor": cookie_value, "customer": customer}, headers=AUTH)


def anonymous_visitor(store: MemoryStore) -> str:
    visitor = SIGNER.new_id()
    asyncio.run(store.record(visitor, [Event("category_view", "dogs", 1.0)]))
    return visitor


def customer_with_profile(store: MemoryStore, customer: str = "cust-42") -> str:
    asyncio.run(store.record_customer(customer, [Event("category_view", "cats", 1.0)]))
    return customer


ORDER = {"type": "order", "customer": "cust-42", "order": "100023", "products": ["dog-kibble-5kg", "cat-play-tunnel"]}


def post_event(url: str, body: object, headers: dict[str, str] = AUTH) -> httpx.Response:
    return httpx.post(f"{url}/.etalage/api/events", json=body, headers=headers)


# -- link and unlink ---------------------------------------------------------------------------


def test_api_link_ties_a_signed_visitor_to_a_customer(api, store):
    response = api_link(api, SIGNER.sign(anonymous_visitor(store)))
    assert response.status_code == 200 and asyncio.run(store.load_customer("cust-42")).category_views == {"dogs": 1}


def test_api_link_hands_a_new_id_linked_to_the_customer(api, store):
    visitor = anonymous_visitor(store)
    answer = api_link(api, SIGNER.sign(visitor)).json()
    new_id = SIGNER.redeem(answer["visitor"], visitor)
    profile = asyncio.run(store.load(new_id))
    assert answer["cookie"] == "etalage_vid" and new_id != visitor and profile.customer_id == "cust-42"


def test_api_link_leaves_the_named_id_linked_to_nothing(api, store):
    visitor = anonymous_visitor(store)
    api_link(api, SIGNER.sign(visitor))
    assert asyncio.run(store.load(visitor)) is None


def test_api_link_refuses_an_unsigned_visitor_id(api):
    assert api_link(api, "AAAAAAAAAAAAAAAAAAAAAA").status_code == 403


def test_api_link_explains_a_malformed_body(api):
    response = httpx.post(f"{api}/.etalage/api/link", content=b"nope", headers=AUTH)
    assert response.status_code == 400 and "visitor" in response.text


def test_api_unlink_ends_the_link_for_that_browser_only(api, store):
    first, second = anonymous_visitor(store), anonymous_visitor(store)
    first_id = SIGNER.redeem(api_link(api, SIGNER.sign(first)).json()["visitor"], first)
    second_id = SIGNER.redeem(api_link(api, SIGNER.sign(second)).json()["visitor"], second)
    answer = httpx.post(f"{api}/.etalage/api/unlink", json={"visitor": SIGNER.sign(first_id)}, headers=AUTH).json()
    assert answer == {"unlinked": True}
    assert asyncio.run(store.load(first_id)) is None and asyncio.run(store.load(second_id)).customer_id == "cust-42"


def test_api_unlink_says_when_the_id_was_not_linked(api, store):
    response = httpx.post(f"{api}/.etalage/api/unlink", json={"visitor": SIGNER.sign(anonymous_visitor(store))}, headers=AUTH)
    assert response.json() == {"unlinked": False}


def test_api_unlink_refuses_an_unsigned_visitor_id(api):
    assert httpx.post(f"{api}/.etalage/api/unlink", json={"visitor": "forged"}, headers=AUTH).status_code == 403


# -- the key -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["link", "unlink", "events"])
@pytest.mark.parametrize("authorization", [None, "Bearer wrong", f"Bearer {KEY}x", f"Basic {KEY}", "Bearer admin-token-for-tests"])
def test_api_refuses_every_wrong_key(api, store, path, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    visitor = SIGNER.sign(anonymous_visitor(store))
    response = httpx.post(f"{api}/.etalage/api/{path}", json={"visitor": visitor, "customer": "C-1"}, headers=headers)
    assert response.status_code == 401 and asyncio.run(store.load_customer("C-1")) is None


@pytest.mark.parametrize("path", ["link", "unlink", "events"])
def test_api_is_off_without_a_key(origin, path):
    with running(create_app(settings_for(origin, PROJECT_RULES, admin_token="admin-token-for-tests"))) as url:
        response = httpx.post(f"{url}/.etalage/api/{path}", json={}, headers={"Authorization": "Bearer admin-token-for-tests"})
    assert response.status_code == 404 and "ETALAGE_API_KEY" in response.text


# -- events ------------------------------------------------------------------------------------


def test_api_events_record_an_order_with_its_value_and_currency(api, store):
    customer_with_profile(store)
    response = post_event(api, {**ORDER, "value": "25.98", "currency": "EUR"})
    profile = asyncio.run(store.load_customer("cust-42"))
    assert response.json() == {"recorded": True}
    assert [(o.order, o.value, o.currency) for o in profile.orders] == [("100023", 25.98, "EUR")]


def test_api_events_record_the_order_s_products_with_their_catalogue_category(api, store):
    customer_with_profile(store)
    post_event(api, {**ORDER, "products": ["dog-kibble-5kg", "dog-kibble-5kg", "unknown-1"], "value": 60, "currency": "EUR"})
    purchases = asyncio.run(store.load_customer("cust-42")).purchases
    assert {(p.sku, p.category, p.quantity, p.order) for p in purchases} == {
        ("dog-kibble-5kg", "dogs", 2, "100023"),
        ("unknown-1", "", 1, "100023"),
    }


def test_api_events_count_an_order_sent_twice_once(api, store):
    customer_with_profile(store)
    post_event(api, {**ORDER, "value": 25.98, "currency": "EUR"})
    post_event(api, {**ORDER, "value": 25.98, "currency": "EUR"})
    profile = asyncio.run(store.load_customer("cust-42"))
    assert len(profile.orders) == 1 and len(profile.purchases) == 2 and profile.lifecycle == "customer"


def test_api_events_record_a_newsletter_sign_up_for_a_visitor(api, store):
    visitor = anonymous_visitor(store)
    response = post_event(api, {"type": "newsletter", "visitor": SIGNER.sign(visitor), "newsletter": "rodents"})
    assert response.json() == {"recorded": True} and asyncio.run(store.load(visitor)).newsletters == {"rodents"}


def test_api_events_create_no_profile_for_a_customer_etalage_does_not_keep(api, store):
    response = post_event(api, {**ORDER, "value": 25.98, "currency": "EUR"})
    assert response.json()["recorded"] is False and asyncio.run(store.load_customer("cust-42")) is None


def test_api_events_create_no_profile_for_a_visitor_without_one(api, store):
    visitor = SIGNER.new_id()
    response = post_event(api, {"type": "newsletter", "visitor": SIGNER.sign(visitor), "newsletter": "rodents"})
    assert response.json()["recorded"] is False and asyncio.run(store.load(visitor)) is None


def test_api_events_refuse_an_unsigned_visitor_id(api, store):
    assert post_event(api, {"type": "newsletter", "visitor": "forged", "newsletter": "rodents"}).status_code == 403


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({**ORDER, "type": "refund", "value": 1, "currency": "EUR"}, "type: expected one of order, newsletter"),
        ({**ORDER, "value": 1}, "currency: expected an ISO 4217 code"),
        ({**ORDER, "value": 1, "currency": "eur"}, "currency: expected an ISO 4217 code"),
        ({**ORDER, "currency": "EUR"}, "value: expected the order total"),
        ({**ORDER, "value": "twelve", "currency": "EUR"}, "value: 'twelve' is not a number"),
        ({**ORDER, "value": -3, "currency": "EUR"}, "value: -3 is not an amount"),
        ({**ORDER, "value": "NaN", "currency": "EUR"}, "value: 'NaN' is not an amount"),
        ({**ORDER, "value": True, "currency": "EUR"}, "value: expected the order total"),
        ({**ORDER, "products": [], "value": 1, "currency": "EUR"}, "products: expected a non-empty list"),
        ({**ORDER, "products": ["12", 7], "value": 1, "currency": "EUR"}, "products: every product id must be a non-empty string"),
        ({**ORDER, "order": "", "value": 1, "currency": "EUR"}, "order: expected a non-empty string"),
        ({**ORDER, "visitor": "x", "value": 1, "currency": "EUR"}, 'name exactly one of "customer"'),
        ({"type": "newsletter", "customer": "cust-42"}, "newsletter: expected a non-empty string"),
        ([ORDER], "expected a JSON object"),
    ],
)
def test_api_events_explain_a_bad_event_and_record_nothing(api, store, body, reason):
    customer_with_profile(store)
    response = post_event(api, body)
    profile = asyncio.run(store.load_customer("cust-42"))
    assert response.status_code == 400 and reason in response.text
    assert (profile.orders, profile.purchases, profile.newsletters) == ([], [], set())


def test_api_events_keep_orders_through_a_login_merge(api, store):
    visitor = anonymous_visitor(store)
    asyncio.run(store.record(visitor, [Event("order", "A-1", 5.0, {"value": 12.5, "currency": "GBP"})]))
    api_link(api, SIGNER.sign(visitor))
    assert asyncio.run(store.load_customer("cust-42")).orders == [Order("A-1", 12.5, "GBP", 5.0)]


def test_api_events_refuse_an_overlong_id(api, store):
    customer_with_profile(store)
    response = post_event(api, {**ORDER, "order": "9" * 201, "value": 1, "currency": "EUR"})
    assert response.status_code == 400 and "order: longer than 200 characters" in response.text


def test_api_events_refuse_more_products_than_an_order_holds(api, store):
    customer_with_profile(store)
    response = post_event(api, {**ORDER, "products": ["dog-rope-toy"] * 1001, "value": 1, "currency": "EUR"})
    assert response.status_code == 400 and "products: more than 1000" in response.text


def test_api_unlink_explains_a_malformed_body(api):
    response = httpx.post(f"{api}/.etalage/api/unlink", content=b"[]", headers=AUTH)
    assert response.status_code == 400 and "visitor" in response.text


class FailingStore(MemoryStore):
    """A store that lost its connection: every call the API makes fails."""

    async def _fail(self, *args: object, **kwargs: object) -> None:
        raise StoreError("connection refused")

    link = unlink = load = load_customer = _fail  # type: ignore[assignment]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("link", {"customer": "cust-42"}),
        ("unlink", {}),
        ("events", {"type": "newsletter", "newsletter": "dogs"}),
        ("events", {"type": "newsletter", "newsletter": "dogs", "customer": "cust-42"}),
    ],
)
def test_api_answers_503_when_the_store_is_down(origin, path, body):
    with running(create_app(settings_for(origin, PROJECT_RULES, api_key=KEY), store=FailingStore(retention=60))) as url:
        visitor = {} if "customer" in body and path == "events" else {"visitor": SIGNER.sign(SIGNER.new_id())}
        response = httpx.post(f"{url}/.etalage/api/{path}", json={**body, **visitor}, headers=AUTH)
    assert response.status_code == 503 and "profile store unavailable: connection refused" in response.text
