"""/.etalage/admin/segments/<name>: a segment's members page by page, behind the admin token, on the
embedded store and on Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from etalage.app import create_app
from etalage.profiles.memory import MemoryStore
from etalage.profiles.profile import Event
from etalage.profiles.redis import RedisStore
from etalage.profiles.store import ProfileStore
from tests.engine.test_personalization import FailingStore
from tests.support.config import PROJECT_RULES, settings_for
from tests.support.servers import running

TOKEN = "admin-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
GRANT = Event("consent", "", 1.0, {"granted": True, "sources": ["onetrust"], "purposes": ["onetrust:C0004"]})
BUYERS = [f"C-{number:02}" for number in range(0, 30, 2)]


async def customers(store: ProfileStore) -> None:
    """30 consenting customers, the even-numbered ones with an order."""
    for number in range(30):
        ident = f"C-{number:02}"
        order = [Event("order", f"O-{number}", 1.0, {"value": 5.0, "currency": "EUR"})] if ident in BUYERS else []
        await store.record_customer(ident, [Event("customer", ident, 1.0), GRANT, *order])
    await store.flush()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def admin(request: pytest.FixtureRequest, origin: str) -> Iterator[str]:
    store: ProfileStore
    if request.param == "memory":
        store = MemoryStore(retention=3600)
        asyncio.run(customers(store))
    else:
        url = request.getfixturevalue("redis_server").url

        async def seed() -> None:
            seeder = RedisStore(url, 3600)
            await customers(seeder)
            await seeder.aclose()

        asyncio.run(seed())
        store = RedisStore(url, 3600)
    with running(create_app(settings_for(origin, PROJECT_RULES, admin_token=TOKEN), store=store)) as served:
        yield served


def get(url: str, name: str = "customers", headers: dict[str, str] = AUTH, **params: str) -> httpx.Response:
    return httpx.get(f"{url}/.etalage/admin/segments/{name}", params=params, headers=headers)


def test_segments_api_pages_through_every_member(admin):
    found: list[str] = []
    pages, cursor = 0, None
    while True:
        answer = get(admin, limit="4", **({"cursor": cursor} if cursor else {})).json()
        found += [row["customer_id"] for row in answer["members"]]
        pages, cursor = pages + 1, answer["next"]
        if cursor is None:
            break
    assert sorted(set(found)) == BUYERS and pages > 2


def test_segments_api_page_names_the_segment_and_the_next_cursor(admin):
    answer = get(admin, limit="10000").json()
    assert answer["segment"] == "customers" and sorted(row["customer_id"] for row in answer["members"]) == BUYERS


@pytest.mark.parametrize(
    ("params", "reason"), [({"limit": "0"}, "limit: a whole number from 1 to 10000"), ({"cursor": "!!"}, "cursor: not a cursor")]
)
def test_segments_api_explains_a_bad_query(admin, params, reason):
    response = get(admin, **params)
    assert response.status_code == 400 and reason in response.json()["error"]


def test_segments_api_refuses_a_cursor_this_store_did_not_make(admin):
    response = get(admin, cursor="bm9uc2Vuc2U")  # "nonsense", base64
    assert response.status_code == 400


def test_segments_api_answers_404_for_a_segment_it_cannot_export(admin):
    response = get(admin, name="from-a-search-engine")
    assert response.status_code == 404 and "asks about a page view" in response.json()["error"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}])
def test_segments_api_needs_the_admin_token(admin, headers):
    assert get(admin, headers=headers).status_code == 401


def test_segments_api_answers_503_when_the_store_is_down(origin):
    with running(create_app(settings_for(origin, PROJECT_RULES, admin_token=TOKEN), store=FailingStore())) as url:
        assert get(url).status_code == 503
