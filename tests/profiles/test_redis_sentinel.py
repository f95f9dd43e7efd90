"""The Redis store through Sentinel, on real processes: it finds the master, and after the master
dies mid-load the proxy keeps serving pages (unpersonalized while no master answers) and
personalizes again once the sentinels have promoted the replica."""

from __future__ import annotations

import httpx
import pytest

from etalage.app import create_app
from etalage.profiles.profile import Event
from etalage.profiles.redis import RedisStore
from tests.profiles.test_redis_proxy import browse_rodents, personalized, personalized_hero
from tests.support.browsing import steady_browsing
from tests.support.config import settings_for
from tests.support.redis_sentinel import SentinelSet, wait_until
from tests.support.servers import running

pytestmark = pytest.mark.redis


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_redis_sentinel_store_writes_and_reads_on_the_master_the_sentinels_name(redis_sentinel: SentinelSet):
    store = RedisStore(redis_sentinel.url, retention=3600, cache_ttl=0)
    try:
        await store.record("v1", [Event("category_view", "dogs", 1000.0)])
        await store.flush()
        profile = await store.load("v1")
    finally:
        await store.aclose()
    assert profile is not None and profile.category_views == {"dogs": 1}
    with redis_sentinel.master.client() as client:
        assert client.exists("etalage:v:v1") == 1


def test_redis_sentinel_proxy_serves_every_page_through_a_failover_and_personalizes_after_it(shop, redis_sentinel: SentinelSet):
    # No local cache: every page view asks Redis, so the test sees exactly what Redis does.
    store = RedisStore(redis_sentinel.url, retention=3600, cache_ttl=0)
    app = create_app(settings_for(shop, redis_url=redis_sentinel.url), store=store)
    with running(app) as url, httpx.Client(base_url=url) as client:
        client.post("/consent", data={"choice": "accept"})
        browse_rodents(client)
        assert personalized_hero(client)
        # Another visitor browses without pause the whole time: the load the failover happens under.
        with steady_browsing(url) as statuses:
            wait_until(lambda: len(statuses) >= 10, "the load to get going")
            redis_sentinel.master.kill()
            during = client.get("/")
            redis_sentinel.wait_for_promotion()

            def personalized_again() -> bool:
                # The profile may not have reached the replica before the kill: browsing rebuilds it.
                browse_rodents(client)
                return personalized_hero(client)

            wait_until(personalized_again, "personalization on the promoted replica")
            served_after = len(statuses)
            wait_until(lambda: len(statuses) > served_after, "the load to go on after the failover")
    assert (during.status_code, personalized(during)) == (200, False)
    assert set(statuses) == {200}
    assert app.metrics.value("etalage_fail_open_total", reason="store_error") >= 1
    with redis_sentinel.replica.client() as promoted:
        assert promoted.keys("etalage:v:*")  # written after the failover, on the new master
