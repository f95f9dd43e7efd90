"""Etalage on a real Redis, through the running proxy: Redis dies mid-browse, and comes back."""

from __future__ import annotations

import httpx
import pytest
from selectolax.lexbor import LexborHTMLParser

from etalage.app import create_app
from etalage.demo.shop import customer_id_for
from etalage.profiles.redis import RedisStore
from tests.support.config import settings_for
from tests.support.redis_server import RedisServer, hang_redis
from tests.support.servers import running

pytestmark = pytest.mark.redis

# A safety net so a broken test fails instead of hanging; never reached when Etalage works.
NO_HANG = 10.0


def personalized(page: httpx.Response) -> bool:
    return "data-etalage-rule" in LexborHTMLParser(page.content).css_first("#hero").attributes


def personalized_hero(client: httpx.Client) -> bool:
    response = client.get("/")
    assert response.status_code == 200
    return personalized(response)


def browse_rodents(client: httpx.Client) -> None:
    for _ in range(3):
        assert client.get("/c/rodents").status_code == 200


@pytest.fixture
def app(shop: str, redis_server: RedisServer):
    # No local cache: every page view asks Redis, so the test sees exactly what Redis does.
    store = RedisStore(redis_server.url, retention=3600, cache_ttl=0)
    return create_app(settings_for(shop, redis_url=redis_server.url), store=store)


def test_redis_proxy_personalizes_from_redis(app):
    with running(app) as url, httpx.Client(base_url=url) as client:
        client.post("/consent", data={"choice": "accept"})
        browse_rodents(client)
        assert personalized_hero(client)


def test_redis_proxy_killing_redis_mid_browse_serves_unpersonalized_pages_without_errors(app, redis_server, shop):
    with running(app) as url, httpx.Client(base_url=url) as client:
        client.post("/consent", data={"choice": "accept"})
        browse_rodents(client)
        redis_server.kill()
        pages = [client.get(path) for path in ("/", "/c/dogs", "/c/rodents", "/", "/newsletter")]
        assert [page.status_code for page in pages] == [200] * 5
        assert not personalized_hero(client)
    failures = app.metrics.value("etalage_fail_open_total", reason="store_error") + app.metrics.value(
        "etalage_fail_open_total", reason="store_timeout"
    )
    assert failures >= 1


def test_redis_proxy_recovers_when_redis_returns(app, redis_server):
    with running(app) as url, httpx.Client(base_url=url) as client:
        client.post("/consent", data={"choice": "accept"})
        client.get("/")
        redis_server.kill()
        client.get("/")
        redis_server.restart()
        browse_rodents(client)
        assert personalized_hero(client)


def test_redis_proxy_withdrawal_leaves_no_key_behind(app, redis_server):
    with running(app) as url, httpx.Client(base_url=url) as client:
        client.post("/consent", data={"choice": "accept"})
        browse_rodents(client)
        client.post("/consent", data={"choice": "reject"})
        client.get("/")  # the withdrawal: erase in the background
        client.get("/c/dogs")  # handled after that erase
    assert redis_server.client().keys("etalage:*") == []


def test_redis_proxy_erased_customer_leaves_no_key_and_no_device_brings_them_back(shop, redis_server):
    store = RedisStore(redis_server.url, retention=3600, cache_ttl=0)
    app = create_app(settings_for(shop, redis_url=redis_server.url, admin_token="admin-token-for-tests"), store=store)
    customer = customer_id_for("ada@example.com")
    with running(app) as url, httpx.Client(base_url=url) as phone, httpx.Client(base_url=url) as laptop:
        for device in (phone, laptop):
            device.post("/consent", data={"choice": "accept"})
            device.post("/login", data={"email": "ada@example.com"})
            browse_rodents(device)
        erased = httpx.delete(f"{url}/.etalage/admin/customers/{customer}", headers={"Authorization": "Bearer admin-token-for-tests"})
        assert erased.json()["erased"] is True
        assert redis_server.client().keys("etalage:*") == []
        # Both browsers still send their old cookies; the shop forgot the customer too (logged out, no header).
        for device in (phone, laptop):
            device.cookies.delete("shop_customer")
            browse_rodents(device)
    keys = redis_server.client().keys("etalage:*")
    assert keys and all(key.startswith(b"etalage:v:") for key in keys)


def test_redis_proxy_serves_the_page_unpersonalized_within_the_store_budget_while_redis_hangs(shop, redis_server):
    # The store itself would wait up to NO_HANG for the hung server: only the proxy's budget can cut in.
    store = RedisStore(redis_server.url, retention=3600, cache_ttl=0, socket_timeout=NO_HANG)
    app = create_app(settings_for(shop, redis_url=redis_server.url, store_timeout=0.05), store=store)
    with running(app) as url, httpx.Client(base_url=url, timeout=NO_HANG) as client:
        client.post("/consent", data={"choice": "accept"})
        browse_rodents(client)
        with hang_redis(redis_server, 30):
            page = client.get("/")
        redis_server.kill()  # Etalage's shutdown then writes to a dead server, not a hung one
    assert (page.status_code, personalized(page)) == (200, False)
    assert app.metrics.value("etalage_fail_open_total", reason="store_timeout") == 1
