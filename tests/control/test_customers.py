"""The admin API for access and erasure requests by customer id."""

import asyncio

import httpx
import pytest

from etalage.app import create_app
from etalage.profiles.memory import MemoryStore
from etalage.profiles.profile import Event
from etalage.tokens import VisitorSigner
from tests.support.config import ACCEPT_ONETRUST, PROJECT_RULES, SECRET, settings_for
from tests.support.servers import running

SIGNER = VisitorSigner(SECRET)
CONSENT = f"OptanonConsent={ACCEPT_ONETRUST}"
ADMIN = {"Authorization": "Bearer admin-token-for-tests"}


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore(retention=3600)


@pytest.fixture
def etalage(origin, store):
    with running(create_app(settings_for(origin, PROJECT_RULES, admin_token="admin-token-for-tests"), store=store)) as url:
        yield url


def linked_customer(store: MemoryStore, customer: str = "cust-42") -> str:
    """A customer with a profile and one device linked to it; the device's visitor id."""
    device = SIGNER.new_id()
    asyncio.run(store.record_customer(customer, [Event("category_view", "cats", 1.0), Event("segment", "vip", 1.0)]))
    asyncio.run(store.link(device, customer))
    return device


def test_admin_customers_refuses_a_request_without_the_admin_token(etalage, store):
    linked_customer(store)
    assert httpx.delete(f"{etalage}/.etalage/admin/customers/cust-42").status_code == 401
    assert asyncio.run(store.load_customer("cust-42")) is not None


def test_admin_customers_export_has_the_visitor_export_shape(etalage, store):
    device = linked_customer(store)
    mine = httpx.get(f"{etalage}/.etalage/me/export", headers={"Cookie": f"{CONSENT}; etalage_vid={SIGNER.sign(device)}"}).json()
    theirs = httpx.get(f"{etalage}/.etalage/admin/customers/cust-42", headers=ADMIN).json()
    assert set(mine) <= set(theirs) and theirs["profile"]["segments"] == ["vip"]


def test_admin_customers_export_lists_the_linked_devices(etalage, store):
    device = linked_customer(store)
    answer = httpx.get(f"{etalage}/.etalage/admin/customers/cust-42", headers=ADMIN)
    assert answer.json()["devices"] == [device] and answer.headers["cache-control"] == "no-store"


def test_admin_customers_export_of_an_unknown_customer_stores_nothing(etalage, store):
    answer = httpx.get(f"{etalage}/.etalage/admin/customers/nobody", headers=ADMIN).json()
    assert (answer["stored"], answer["profile"], answer["devices"]) == (False, None, [])


def test_admin_customers_erase_forgets_the_profile_and_the_links(etalage, store):
    linked_customer(store)
    answer = httpx.delete(f"{etalage}/.etalage/admin/customers/cust-42", headers=ADMIN).json()
    assert answer["erased"] is True
    assert (asyncio.run(store.load_customer("cust-42")), asyncio.run(store.customer_devices("cust-42"))) == (None, [])


def test_admin_customers_erased_customer_is_not_brought_back_by_a_linked_device(etalage, store):
    device = linked_customer(store)
    httpx.delete(f"{etalage}/.etalage/admin/customers/cust-42", headers=ADMIN)
    httpx.get(f"{etalage}/c/dogs", headers={"Cookie": f"{CONSENT}; etalage_vid={SIGNER.sign(device)}"})
    httpx.get(f"{etalage}/.etalage/health")  # the page view is recorded after its response; this request comes after it
    profile = asyncio.run(store.load(device))
    assert asyncio.run(store.load_customer("cust-42")) is None
    assert profile is not None and (profile.customer_id, profile.segments, profile.category_views) == (None, set(), {"dogs": 1})
