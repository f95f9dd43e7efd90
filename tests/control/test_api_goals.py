"""Orders and newsletter sign-ups sent by the shop's backend count for the experiments' goals, as
those learned from pages do (etalage.control.api, etalage.engine.convert)."""

import asyncio
import time

import httpx
import pytest

from etalage.app import create_app
from etalage.profiles.memory import MemoryStore
from etalage.profiles.profile import Conversion, Event
from etalage.tokens import VisitorSigner
from tests.support.config import PROJECT_RULES, SECRET, settings_for
from tests.support.servers import running

SIGNER = VisitorSigner(SECRET)
KEY = "shop-backend-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
ORDER = {"type": "order", "customer": "cust-42", "order": "100023", "products": ["dog-kibble-5kg"], "value": "25.98", "currency": "EUR"}


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore(retention=3600)


@pytest.fixture
def api(origin, store):
    with running(create_app(settings_for(origin, PROJECT_RULES, api_key=KEY, admin_token="admin-token-for-tests"), store=store)) as url:
        yield url


def exposed(at: float) -> list[Event]:
    """A visitor put in the demo's hero-banner experiment and shown their variant at `at`."""
    data = {"variant": "one-template", "version": 1}
    return [Event("assigned", "hero-banner", at, data), Event("exposed", "hero-banner", at, data)]


def post_event(url: str, body: dict[str, object]) -> httpx.Response:
    return httpx.post(f"{url}/.etalage/api/events", json=body, headers=AUTH)


def goals(profile) -> dict[str, Conversion]:
    return dict(profile.assignments["hero-banner"].goals)


def test_api_goals_count_a_backend_order_with_its_value(api, store):
    at = time.time() - 60
    asyncio.run(store.record_customer("cust-42", exposed(at)))
    assert post_event(api, ORDER).json() == {"recorded": True}
    reached = goals(asyncio.run(store.load_customer("cust-42")))["order"]
    assert (reached.count, reached.value) == (1, 25.98)


def test_api_goals_count_a_backend_order_in_the_conversion_metric(api, store):
    asyncio.run(store.record_customer("cust-42", exposed(time.time() - 60)))
    post_event(api, ORDER)
    metrics = httpx.get(f"{api}/.etalage/metrics", headers={"Authorization": "Bearer admin-token-for-tests"}).text
    lines = [line for line in metrics.splitlines() if line.startswith("etalage_experiment_conversions_total{")]
    assert len(lines) == 1 and 'goal="order"' in lines[0] and 'variant="one-template"' in lines[0] and lines[0].endswith(" 1.0")


def test_api_goals_count_a_backend_newsletter_sign_up(api, store):
    visitor = SIGNER.new_id()
    asyncio.run(store.record(visitor, exposed(time.time() - 60)))
    post_event(api, {"type": "newsletter", "visitor": SIGNER.sign(visitor), "newsletter": "rodents"})
    assert goals(asyncio.run(store.load(visitor)))["newsletter"].count == 1


def test_api_goals_count_an_order_the_thank_you_page_taught_once(api, store):
    at = time.time() - 60
    from_page = Event("purchase", "dog-kibble-5kg", at + 1, {"order": "100023", "category": "dogs", "value": 25.98})
    converted = Event("converted", "hero-banner", at + 1, {"variant": "one-template", "version": 1, "goal": "order", "value": 25.98})
    asyncio.run(store.record_customer("cust-42", [*exposed(at), converted, from_page]))
    post_event(api, ORDER)
    reached = goals(asyncio.run(store.load_customer("cust-42")))["order"]
    assert (reached.count, reached.value) == (1, 25.98)


def test_api_goals_count_nothing_for_a_visitor_never_exposed(api, store):
    asyncio.run(store.record_customer("cust-42", [Event("category_view", "dogs", time.time())]))
    post_event(api, ORDER)
    assert asyncio.run(store.load_customer("cust-42")).assignments == {}


def test_api_goals_count_an_event_sent_twice_with_one_id_once(api, store):
    visitor = SIGNER.new_id()
    asyncio.run(store.record(visitor, exposed(time.time() - 60)))
    body = {"type": "newsletter", "visitor": SIGNER.sign(visitor), "newsletter": "rodents", "id": "evt-1"}
    assert post_event(api, body).json() == {"recorded": True}
    assert post_event(api, body).json() == {"recorded": True, "duplicate": True}
    assert goals(asyncio.run(store.load(visitor)))["newsletter"].count == 1


def test_api_goals_count_events_with_different_ids_each(api, store):
    visitor = SIGNER.new_id()
    asyncio.run(store.record(visitor, exposed(time.time() - 60)))
    for event_id in ("evt-1", "evt-2"):
        post_event(api, {"type": "newsletter", "visitor": SIGNER.sign(visitor), "newsletter": "rodents", "id": event_id})
    assert goals(asyncio.run(store.load(visitor)))["newsletter"].count == 2


def test_api_goals_refuse_an_empty_event_id_and_record_nothing(api, store):
    asyncio.run(store.record_customer("cust-42", exposed(time.time() - 60)))
    answer = post_event(api, {**ORDER, "id": ""})
    assert (answer.status_code, answer.text) == (400, "id: expected a non-empty string\n")
    assert goals(asyncio.run(store.load_customer("cust-42"))) == {}
