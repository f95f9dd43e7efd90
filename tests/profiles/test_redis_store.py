"""RedisStore against real, throwaway redis-server processes: keys and TTLs, round trips, outages,
a hung server, concurrency between processes (played by several store objects), shutdown."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator

import orjson
import pytest
import redis
import redis.asyncio

from etalage.profiles.profile import Event, Profile
from etalage.profiles.redis import RedisStore
from etalage.profiles.store import StoreError
from tests.support.redis_server import RedisServer, hang_redis

pytestmark = [pytest.mark.anyio, pytest.mark.redis]

RETENTION = 1000.0
# A safety net so a broken test fails instead of hanging; never reached when the store works.
NO_HANG = 10.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def raw(redis_server: RedisServer) -> Iterator[redis.Redis]:
    """A plain client to look at what the store wrote, as an operator would."""
    client = redis_server.client()
    yield client
    client.close()


@pytest.fixture
async def make_store(redis_server: RedisServer) -> AsyncIterator[Callable[..., RedisStore]]:
    """Stores on the test server; several play several Etalage processes. Flushes only when a test asks."""
    stores: list[RedisStore] = []

    def make(**options: object) -> RedisStore:
        options.setdefault("flush_interval", 3600)
        store = RedisStore(redis_server.url, RETENTION, **options)  # type: ignore[arg-type]
        stores.append(store)
        return store

    yield make
    for store in stores:
        await store.aclose()


@pytest.fixture
def store(make_store: Callable[..., RedisStore]) -> RedisStore:
    return make_store()


def view(category: str, at: float = 1000.0) -> Event:
    return Event("category_view", category, at)


def stored(raw: redis.Redis, key: str) -> dict[str, int]:
    """Category views of the profile stored under a key."""
    data = raw.get(key)
    assert data is not None, f"{key} is not in Redis"
    return Profile.loads(data).category_views


def command_calls(raw: redis.Redis) -> Counter[str]:
    return Counter({name.removeprefix("cmdstat_"): stats["calls"] for name, stats in raw.info("commandstats").items()})


def commands_during_load(raw: redis.Redis, before: Counter[str]) -> Counter[str]:
    """Commands Redis ran since `before`, without the INFO calls that measure them. Redis counts
    the commands a script runs too: an EVALSHA shows up with the GETs it made inside Redis."""
    ran = command_calls(raw) - before
    del ran["info"]
    return ran


# -- keys and retention ---------------------------------------------------------------------------


async def test_redis_store_profile_key_carries_the_retention_ttl(store: RedisStore, raw: redis.Redis) -> None:
    await store.record("v1", [view("dogs")])
    await store.flush()
    assert 0 < raw.pttl("etalage:v:v1") <= RETENTION * 1000


async def test_redis_store_write_refreshes_the_ttl(store: RedisStore, raw: redis.Redis) -> None:
    await store.record("v1", [view("dogs")])
    await store.flush()
    raw.pexpire("etalage:v:v1", 5_000)  # as if most of the retention period had passed
    await store.record("v1", [view("dogs")])
    await store.flush()
    assert raw.pttl("etalage:v:v1") > 5_000


async def test_redis_store_link_keys_carry_the_retention_ttl(store: RedisStore, raw: redis.Redis) -> None:
    await store.link("v1", "c1")
    assert [0 < raw.pttl(key) <= RETENTION * 1000 for key in ("etalage:link:v1", "etalage:c:c1")] == [True, True]


async def test_redis_store_write_through_a_link_refreshes_the_link_ttl(store: RedisStore, raw: redis.Redis) -> None:
    await store.link("v1", "c1")
    raw.pexpire("etalage:link:v1", 5_000)
    await store.record("v1", [view("dogs")])
    await store.flush()
    assert raw.pttl("etalage:link:v1") > 5_000


async def test_redis_store_key_layout(store: RedisStore, raw: redis.Redis) -> None:
    await store.record("anon", [view("dogs")])
    await store.flush()
    await store.link("v1", "c1")
    assert sorted(raw.keys("*")) == [b"etalage:c:c1", b"etalage:link:v1", b"etalage:v:anon"] and raw.get("etalage:link:v1") == b"c1"


async def test_redis_store_link_renewal_is_one_transaction(store: RedisStore, raw: redis.Redis) -> None:
    raw.set("etalage:v:old", Profile(category_views={"dogs": 1}).dumps())
    await store.load("warm-up")
    before = command_calls(raw)
    await store.link("old", "c1", renew_to="new")
    ran = commands_during_load(raw, before)
    # Merging, unlinking the old id and linking the new one commit together or not at all.
    assert (ran["multi"], ran["exec"]) == (1, 1)


async def test_redis_store_link_renewal_key_layout(store: RedisStore, raw: redis.Redis) -> None:
    raw.set("etalage:v:old", Profile(category_views={"dogs": 1}).dumps())
    await store.link("old", "c1", renew_to="new")
    assert sorted(raw.keys("*")) == [b"etalage:c:c1", b"etalage:link:new"] and 0 < raw.pttl("etalage:link:new") <= RETENTION * 1000


# -- reads ----------------------------------------------------------------------------------------


async def test_redis_store_load_is_one_round_trip(store: RedisStore, raw: redis.Redis) -> None:
    raw.set("etalage:v:v1", Profile(category_views={"dogs": 1}).dumps())
    await store.load("warm-up")  # connects and registers the script
    before = command_calls(raw)
    profile = await store.load("v1")
    assert profile is not None and commands_during_load(raw, before) == {"evalsha": 1, "get": 2}


async def test_redis_store_load_of_a_linked_visitor_is_one_round_trip(store: RedisStore, raw: redis.Redis) -> None:
    await store.record_customer("c1", [view("dogs")])
    await store.flush()
    await store.link("v1", "c1")
    await store.load("warm-up")
    before = command_calls(raw)
    profile = await store.load("v1")
    assert profile is not None and profile.category_views == {"dogs": 1}
    assert commands_during_load(raw, before) == {"evalsha": 1, "get": 2}


async def test_redis_store_cached_load_sends_nothing(make_store: Callable[..., RedisStore], raw: redis.Redis) -> None:
    store = make_store(cache_ttl=3600)
    await store.load("v1")
    before = command_calls(raw)
    await store.load("v1")
    assert commands_during_load(raw, before) == {}


async def test_redis_store_cached_profile_shows_its_own_unflushed_writes(make_store: Callable[..., RedisStore]) -> None:
    store = make_store(cache_ttl=3600)
    await store.load("v1")
    await store.record("v1", [view("dogs")])
    profile = await store.load("v1")
    assert profile is not None and profile.category_views == {"dogs": 1}


async def test_redis_store_cached_linked_visitor_shows_a_write_to_their_customer_by_id(make_store: Callable[..., RedisStore]) -> None:
    store = make_store(cache_ttl=3600)
    await store.link("v1", "c1")
    await store.load("v1")
    await store.record_customer("c1", [Event("segment", "vip", 1.0)])  # the customers API, the events API
    profile = await store.load("v1")
    assert profile is not None and profile.segments == {"vip"}


async def test_redis_store_cached_linked_visitor_stays_cached_after_writes_to_other_customers(
    make_store: Callable[..., RedisStore], raw: redis.Redis
) -> None:
    store = make_store(cache_ttl=3600)
    await store.link("v1", "c1")
    await store.record_customer("c2", [Event("segment", "vip", 1.0)])
    await store.load("v1")
    await store.record_customer("c2", [Event("segment", "b2b", 1.0)])
    before = command_calls(raw)
    await store.load("v1")
    assert commands_during_load(raw, before) == {}


async def test_redis_store_uncached_profile_shows_its_own_unflushed_writes(make_store: Callable[..., RedisStore], raw: redis.Redis) -> None:
    store = make_store(cache_ttl=0)
    raw.set("etalage:v:v1", Profile(category_views={"cats": 1}).dumps())
    await store.record("v1", [view("dogs")])
    profile = await store.load("v1")
    assert profile is not None and profile.category_views == {"cats": 1, "dogs": 1}


async def test_redis_store_uncached_profile_shows_its_own_writes_while_a_flush_writes_them(
    make_store: Callable[..., RedisStore], raw: redis.Redis
) -> None:
    store = make_store(cache_ttl=0)
    raw.set("etalage:v:v1", Profile(category_views={"cats": 1}).dumps())
    await asyncio.gather(store.load("a"), store.load("b"))  # two pooled connections: the load needs not wait for the flush's
    await store.record("v1", [view("dogs")])
    flush = asyncio.create_task(store.flush())
    while store.pending_events:  # until the flush has taken the events (it then waits for Redis)
        await asyncio.sleep(0)
    # Sent before the flush can send its EXEC: Redis answers it from the profile without the events.
    profile = await store.load("v1")
    await flush
    assert profile is not None and profile.category_views == {"cats": 1, "dogs": 1}


async def test_redis_store_value_of_the_wrong_type_is_a_store_error(store: RedisStore, raw: redis.Redis) -> None:
    raw.hset("etalage:v:v1", "not", "a profile")
    with pytest.raises(StoreError):
        await store.load("v1")


async def test_redis_store_garbage_under_a_customer_key_is_a_store_error(store: RedisStore, raw: redis.Redis) -> None:
    raw.set("etalage:c:c1", b"\x00garbage")
    with pytest.raises(StoreError):
        await store.load_customer("c1")


# -- outages --------------------------------------------------------------------------------------


async def test_redis_store_load_fails_with_store_error_when_redis_is_killed(store: RedisStore, redis_server: RedisServer) -> None:
    await store.load("v1")  # a pooled connection that the kill breaks
    redis_server.kill()
    with pytest.raises(StoreError):
        await store.load("v2")


async def test_redis_store_flush_fails_with_store_error_when_redis_is_killed(store: RedisStore, redis_server: RedisServer) -> None:
    redis_server.kill()
    await store.record("v1", [view("dogs")])
    with pytest.raises(StoreError):
        await store.flush()


async def test_redis_store_record_queues_while_redis_is_down(store: RedisStore, redis_server: RedisServer) -> None:
    redis_server.kill()
    await store.record("v1", [view("dogs"), view("cats")])
    with pytest.raises(StoreError):
        await store.flush()
    assert store.pending_events == 2


async def test_redis_store_ping_fails_with_store_error_when_redis_is_killed(store: RedisStore, redis_server: RedisServer) -> None:
    await store.ping()
    redis_server.kill()
    with pytest.raises(StoreError):
        await store.ping()


async def test_redis_store_ping_fails_with_store_error_when_redis_hangs(store: RedisStore, redis_server: RedisServer) -> None:
    with hang_redis(redis_server, 30):
        with pytest.raises(StoreError):
            await asyncio.wait_for(store.ping(), NO_HANG)


async def test_redis_store_works_again_after_redis_restarts(store: RedisStore, redis_server: RedisServer, raw: redis.Redis) -> None:
    await store.load("v1")
    redis_server.kill()
    with pytest.raises(StoreError):
        await store.load("v2")
    redis_server.restart()
    raw.set("etalage:v:v3", Profile(category_views={"dogs": 1}).dumps())
    profile = await store.load("v3")
    assert profile is not None and profile.category_views == {"dogs": 1}


async def test_redis_store_restart_between_two_calls_goes_unnoticed(store: RedisStore, redis_server: RedisServer, raw: redis.Redis) -> None:
    await store.record("v1", [view("dogs")])
    await store.flush()
    await store.load("v2")
    redis_server.kill()  # the pooled connections now lead nowhere
    redis_server.restart()
    await store.record("v1", [view("cats")])
    await store.flush()
    assert await store.load("v1") is not None and stored(raw, "etalage:v:v1") == {"cats": 1}


async def test_redis_store_writes_events_queued_during_an_outage_after_restart(
    store: RedisStore, redis_server: RedisServer, raw: redis.Redis
) -> None:
    await store.load("v1")
    redis_server.kill()
    await store.record("v1", [view("dogs")])
    with pytest.raises(StoreError):
        await store.flush()
    redis_server.restart()
    await store.flush()
    assert stored(raw, "etalage:v:v1") == {"dogs": 1}


async def test_redis_store_logs_an_outage_once_and_the_recovery_once(
    store: RedisStore, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="etalage.redis_store")
    redis_server.kill()
    await store.record("v1", [view("dogs")])
    for _ in range(3):
        with pytest.raises(StoreError):
            await store.flush()
    redis_server.restart()
    await store.flush()
    messages = [record.getMessage() for record in caplog.records if record.name == "etalage.redis_store"]
    assert [("unreachable" in m, "reachable again" in m) for m in messages] == [(True, False), (False, True)]


async def test_redis_store_load_gives_up_after_its_socket_timeout_while_redis_hangs(
    make_store: Callable[..., RedisStore], redis_server: RedisServer
) -> None:
    store = make_store(socket_timeout=0.1)
    await store.load("warm-up")
    with hang_redis(redis_server, 30):
        # A store that waited for the hung server would run into NO_HANG's TimeoutError instead.
        with pytest.raises(StoreError):
            await asyncio.wait_for(store.load("v1"), NO_HANG)


async def test_redis_store_timed_out_load_leaves_no_stray_reply_behind(
    store: RedisStore, redis_server: RedisServer, raw: redis.Redis
) -> None:
    raw.set("etalage:v:a", Profile(category_views={"dogs": 1}).dumps())
    raw.set("etalage:v:b", Profile(category_views={"cats": 1}).dumps())
    await store.load("warm-up")
    with hang_redis(redis_server, 0.3) as sleeper:
        with pytest.raises((TimeoutError, StoreError)):
            await asyncio.wait_for(store.load("a"), 0.05)
        assert sleeper.recv(16) == b"+OK\r\n"  # the server is awake again
    profile = await store.load("b")
    assert profile is not None and profile.category_views == {"cats": 1}


# -- writes ---------------------------------------------------------------------------------------


async def test_redis_store_record_is_written_in_the_background(
    make_store: Callable[..., RedisStore], redis_server: RedisServer, raw: redis.Redis
) -> None:
    raw.config_set("notify-keyspace-events", "K$")
    store = make_store(flush_interval=0.01)
    async with redis.asyncio.Redis(host="127.0.0.1", port=redis_server.port) as watcher, watcher.pubsub() as pubsub:
        await pubsub.subscribe("__keyspace@0__:etalage:v:v1")
        messages = pubsub.listen()
        assert (await asyncio.wait_for(anext(messages), NO_HANG))["type"] == "subscribe"
        await store.record("v1", [view("dogs")])
        written = await asyncio.wait_for(anext(messages), NO_HANG)
    assert written["data"] == b"set" and stored(raw, "etalage:v:v1") == {"dogs": 1}


async def test_redis_store_aclose_writes_pending_events(make_store: Callable[..., RedisStore], raw: redis.Redis) -> None:
    store = make_store()
    await store.record("v1", [view("dogs")])
    await store.record_customer("c1", [view("cats")])
    await store.aclose()
    assert (stored(raw, "etalage:v:v1"), stored(raw, "etalage:c:c1")) == ({"dogs": 1}, {"cats": 1})


async def test_redis_store_record_after_aclose_is_a_store_error(store: RedisStore) -> None:
    await store.aclose()
    with pytest.raises(StoreError):
        await store.record("v1", [view("dogs")])


async def test_redis_store_concurrent_flushes_of_two_processes_lose_no_event(
    make_store: Callable[..., RedisStore], raw: redis.Redis
) -> None:
    first, second = make_store(), make_store()
    for _ in range(5):
        await first.record("v1", [view("dogs")])
        await second.record("v1", [view("dogs")])
        await asyncio.gather(first.flush(), second.flush())
    assert stored(raw, "etalage:v:v1") == {"dogs": 10}


async def test_redis_store_two_processes_drawing_one_visitor_keep_one_assignment_and_one_exposure(
    make_store: Callable[..., RedisStore], raw: redis.Redis
) -> None:
    # Two workers serve one visitor's pages at once, one of them still on rules with other weights.
    first, second = make_store(), make_store()
    for store, variant, at in ((first, "big", 1000.0), (second, "small", 1001.0)):
        data = {"variant": variant, "version": 1}
        await store.record("v1", [Event("assigned", "hero", at, data), Event("exposed", "hero", at, data)])
    await asyncio.gather(first.flush(), second.flush())
    data = {"variant": "big", "version": 1}
    await second.record("v1", [Event("exposed", "hero", 2000.0, data)])
    await second.flush()
    assignment = Profile.loads(raw.get("etalage:v:v1")).assignments["hero"]
    assert (assignment.variant, assignment.exposed) in {("big", 1000.0), ("small", 1001.0)}


async def test_redis_store_concurrent_links_merge_once(make_store: Callable[..., RedisStore], raw: redis.Redis) -> None:
    first, second = make_store(), make_store()
    await first.record("v1", [view("dogs")])
    await first.flush()
    await asyncio.gather(*(store.link("v1", "c1") for store in (first, second, first, second, first)))
    assert stored(raw, "etalage:c:c1") == {"dogs": 1} and raw.exists("etalage:v:v1") == 0


async def test_redis_store_link_merges_events_still_queued(store: RedisStore, raw: redis.Redis) -> None:
    await store.record("v1", [view("dogs")])
    await store.link("v1", "c1")
    assert stored(raw, "etalage:c:c1") == {"dogs": 1}


async def test_redis_store_queue_drops_the_oldest_events_beyond_its_cap(make_store: Callable[..., RedisStore], raw: redis.Redis) -> None:
    store = make_store(max_pending_events=3)
    await store.record("v1", [view("old"), view("kept")])
    await store.record("v2", [view("new"), view("newer")])
    await store.flush()
    assert (store.dropped_events, stored(raw, "etalage:v:v1")) == (1, {"kept": 1})


async def test_redis_store_flush_leaves_an_unreadable_profile_untouched(store: RedisStore, raw: redis.Redis) -> None:
    future = orjson.dumps({"v": 99, "written by": "a newer Etalage"})
    raw.set("etalage:v:v1", future)
    await store.record("v1", [view("dogs")])
    await store.flush()
    assert (raw.get("etalage:v:v1"), store.dropped_events) == (future, 1)


async def test_redis_store_erase_leaves_no_key_behind(store: RedisStore, raw: redis.Redis) -> None:
    await store.record("v1", [view("dogs")])
    await store.flush()
    await store.link("v1", "c1")
    await store.record("v1", [view("cats")])  # still queued when the erase comes
    await store.erase("v1")
    await store.flush()
    assert raw.keys("*v1*") + raw.keys("*c1*") == []


async def test_redis_store_erase_to_be_remembered_leaves_only_an_expiring_marker(store: RedisStore, raw: redis.Redis) -> None:
    await store.record("v1", [view("dogs")])
    await store.flush()
    await store.erase("v1", remember=True)
    assert raw.keys("*v1*") == [b"etalage:erased:v1"] and 0 < raw.pttl("etalage:erased:v1") <= RETENTION * 1000


async def test_redis_erase_customer_leaves_no_key_about_the_customer_or_its_links(store: RedisStore, raw: redis.Redis) -> None:
    await store.record("v1", [view("dogs")])
    await store.link("v1", "c1")
    await store.link("v2", "c1", renew_to="v3")
    await store.record("v3", [view("cats")])
    await store.record_customer("c1", [Event("segment", "vip", 1000.0)])
    await store.flush()
    assert sorted(raw.scan_iter("*")) == [b"etalage:c:c1", b"etalage:link:v1", b"etalage:link:v3"]
    await store.erase_customer("c1")
    await store.flush()
    assert list(raw.scan_iter("*")) == []


async def test_redis_erase_customer_keeps_a_link_relinked_to_another_customer(store: RedisStore, raw: redis.Redis) -> None:
    """A link found by the scan that names someone else by the time it is deleted stays."""
    raw.set("etalage:link:v1", "c2")
    await store._unlink_customer_script(keys=["etalage:link:v1"], args=["c1"])
    assert raw.get("etalage:link:v1") == b"c2"
