"""Through Etalage in front of the demo shop: a customer who consents, logs in and buys is in the
exported `customers` segment; one who logged in and bought nothing is not."""

from __future__ import annotations

import httpx
import pytest

from etalage.app import Etalage, create_app
from etalage.demo.shop import customer_id_for
from etalage.profiles.memory import MemoryStore
from tests.support.config import settings_for
from tests.test_journey import device

TOKEN = "admin-token-for-tests"


@pytest.fixture
def app(shop: str) -> Etalage:
    return create_app(settings_for(shop, admin_token=TOKEN), store=MemoryStore(retention=3600))


def test_journey_segments_a_consenting_buyer_is_exported_as_a_customer(served, drain):
    with device(served.url) as buyer, device(served.url) as browser:
        buyer.post("/login", data={"email": "buyer@example.nl"})
        thank_you = buyer.post("/checkout", data={"product": "dog-kibble-5kg"}).headers["location"]
        buyer.get(thank_you)
        browser.post("/login", data={"email": "browser@example.nl"})
        browser.get("/")
    drain()
    answer = httpx.get(f"{served.url}/.etalage/admin/segments/customers", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    assert answer["members"] == [{"customer_id": customer_id_for("buyer@example.nl")}] and answer["next"] is None
