"""What every ProfileStore promises, checked against each implementation so they behave the same.

The one difference the contract allows: a store may queue writes. `settle()` is the sync point
that makes them visible (a no-op for the embedded store, a flush for Redis).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest

from etalage.profiles.memory import MemoryStore
from etalage.profiles.profile import Event
from etalage.profiles.redis import RedisStore
from etalage.profiles.store import ProfileStore, StoreError
from tests.support.redis_cluster import ClusterSet
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.anyio

RETENTION = 3600.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Subject:
    store: ProfileStore
    settle: Callable[[], Awaitable[None]]
    # Puts raw bytes where the visitor's profile is kept, as a corrupted or foreign entry would be.
    plant: Callable[[str, bytes], None]


async def _nothing() -> None:
    return None


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis), pytest.param("cluster", marks=pytest.mark.redis)])
async def subject(request: pytest.FixtureRequest) -> AsyncIterator[Subject]:
    if request.param == "memory":
        memory = MemoryStore(retention=RETENTION)
        yield Subject(memory, _nothing, lambda visitor_id, data: memory._profiles.__setitem__(f"v:{visitor_id}", (time.time(), data)))
        return
    if request.param == "cluster":
        cluster: ClusterSet = request.getfixturevalue("redis_cluster")
        cluster.flushall()
        cluster_client = cluster.client()
        on_cluster = RedisStore(cluster.url, RETENTION, flush_interval=3600)
        try:
            # On a cluster the id is a hash tag, so the visitor's keys share a slot.
            yield Subject(on_cluster, on_cluster.flush, lambda visitor_id, data: cluster_client.set(f"etalage:v:{{{visitor_id}}}", data))
        finally:
            await on_cluster.aclose()
            cluster_client.close()
        return
    server: RedisServer = request.getfixturevalue("redis_server")
    client = server.client()
    # No background flushes: the test decides when queued writes go out.
    store = RedisStore(server.url, RETENTION, flush_interval=3600)
    try:
        yield Subject(store, store.flush, lambda visitor_id, data: client.set(f"etalage:v:{visitor_id}", data))
    finally:
        await store.aclose()
        client.close()


def view(category: str, at: float = 1000.0) -> Event:
    return Event("category_view", category, at)


async def test_store_load_of_an_unknown_visitor_is_none(subject: Subject) -> None:
    assert await subject.store.load("nobody") is None


async def test_store_load_customer_of_an_unknown_customer_is_none(subject: Subject) -> None:
    assert await subject.store.load_customer("nobody") is None


async def test_store_record_creates_a_profile(subject: Subject) -> None:
    await subject.store.record("v1", [view("dogs")])
    await subject.settle()
    profile = await subject.store.load("v1")
    assert profile is not None and profile.category_views == {"dogs": 1}


async def test_store_record_accumulates_events(subject: Subject) -> None:
    await subject.store.record("v1", [view("dogs"), view("cats")])
    await subject.settle()
    await subject.store.record("v1", [view("dogs")])
    await subject.settle()
    profile = await subject.store.load("v1")
    assert profile is not None and profile.category_views == {"dogs": 2, "cats": 1}


async def test_store_load_returns_a_copy_the_caller_may_change(subject: Subject) -> None:
    await subject.store.record("v1", [view("dogs")])
    await subject.settle()
    first = await subject.store.load("v1")
    assert first is not None
    first.apply([view("dogs"), view("cats")])
    again = await subject.store.load("v1")
    assert again is not None and again.category_views == {"dogs": 1}


async def test_store_link_merges_the_anonymous_profile_into_the_customer(subject: Subject) -> None:
    await subject.store.record_customer("c1", [view("cats")])
    await subject.store.record("v1", [view("dogs")])
    await subject.settle()
    await subject.store.link("v1", "c1")
    customer = await subject.store.load_customer("c1")
    assert customer is not None and customer.category_views == {"dogs": 1, "cats": 1}


async def test_store_link_marks_the_profile_with_the_customer_id(subject: Subject) -> None:
    await subject.store.record("v1", [view("dogs")])
    await subject.settle()
    await subject.store.link("v1", "c1")
    customer = await subject.store.load_customer("c1")
    assert customer is not None and customer.customer_id == "c1"


async def test_store_link_twice_merges_once(subject: Subject) -> None:
    await subject.store.record("v1", [view("dogs")])
    await subject.settle()
    await subject.store.link("v1", "c1")
    await subject.store.link("v1", "c1")
    customer = await subject.store.load_customer("c1")
    assert customer is not None and customer.category_views == {"dogs": 1}


async def test_store_switching_accounts_on_a_device_keeps_each_customers_profile_apart(subject: Subject) -> None:
    await subject.store.record_customer("c1", [view("dogs")])
    await subject.settle()
    await subject.store.link("v1", "c1")
    await subject.store.link("v1", "c2")
    first, second = await subject.store.load_customer("c1"), await subject.store.load_customer("c2")
    assert first is not None and first.category_views == {"dogs": 1}
    assert second is not None and second.category_views == {}


async def test_store_link_renewed_links_the_new_id_to_the_customer_profile(subject: Subject) -> None:
    await subject.store.record("old", [view("dogs")])
    await subject.settle()
    linked = await subject.store.link("old", "c1", renew_to="new")
    profile = await subject.store.load("new")
    assert linked == "new" and profile is not None and (profile.customer_id, profile.category_views) == ("c1", {"dogs": 1})


async def test_store_link_renewed_leaves_the_old_id_with_nothing(subject: Subject) -> None:
    await subject.store.record("old", [view("dogs")])
    await subject.settle()
    await subject.store.link("old", "c1", renew_to="new")
    assert await subject.store.load("old") is None


async def test_store_link_renewed_old_id_writes_no_longer_reach_the_customer(subject: Subject) -> None:
    await subject.store.link("old", "c1", renew_to="new")
    await subject.store.record("old", [view("cats")])
    await subject.settle()
    customer = await subject.store.load_customer("c1")
    assert customer is not None and customer.category_views == {}


async def test_store_link_renewed_away_from_another_customer_unlinks_the_old_id(subject: Subject) -> None:
    await subject.store.record_customer("c1", [view("dogs")])
    await subject.settle()
    await subject.store.link("old", "c1")
    await subject.store.link("old", "c2", renew_to="new")
    first, old = await subject.store.load_customer("c1"), await subject.store.load("old")
    assert first is not None and first.category_views == {"dogs": 1} and old is None


async def test_store_link_renewed_keeps_an_id_already_linked_to_that_customer(subject: Subject) -> None:
    await subject.store.link("v1", "c1")
    linked = await subject.store.link("v1", "c1", renew_to="new")
    assert linked == "v1" and await subject.store.load("new") is None


async def test_store_unlink_leaves_the_id_with_no_profile(subject: Subject) -> None:
    await subject.store.record_customer("c1", [view("dogs")])
    await subject.settle()
    await subject.store.link("v1", "c1")
    assert await subject.store.load("v1") is not None  # read once, as a page view does (a cache may hold it)
    await subject.store.unlink("v1")
    assert await subject.store.load("v1") is None


async def test_store_unlink_keeps_the_customer_profile_for_other_devices(subject: Subject) -> None:
    await subject.store.link("phone", "c1")
    await subject.store.link("laptop", "c1")
    await subject.store.record("phone", [view("dogs")])
    await subject.settle()
    await subject.store.unlink("phone")
    profile = await subject.store.load("laptop")
    assert profile is not None and (profile.customer_id, profile.category_views) == ("c1", {"dogs": 1})


async def test_store_unlink_says_whether_the_id_was_linked(subject: Subject) -> None:
    await subject.store.record("anonymous", [view("dogs")])
    await subject.store.link("v1", "c1")
    await subject.settle()
    assert (await subject.store.unlink("anonymous"), await subject.store.unlink("v1")) == (False, True)


async def test_store_unlink_of_an_anonymous_id_keeps_its_profile(subject: Subject) -> None:
    await subject.store.record("v1", [view("dogs")])
    await subject.settle()
    await subject.store.unlink("v1")
    profile = await subject.store.load("v1")
    assert profile is not None and profile.category_views == {"dogs": 1}


async def test_store_unlink_lands_events_recorded_before_it_on_the_customer(subject: Subject) -> None:
    await subject.store.link("v1", "c1")
    await subject.store.record("v1", [view("dogs")])
    await subject.store.unlink("v1")
    await subject.settle()
    customer = await subject.store.load_customer("c1")
    assert customer is not None and customer.category_views == {"dogs": 1}


async def test_store_unlink_then_record_reaches_the_customer_no_more(subject: Subject) -> None:
    await subject.store.link("v1", "c1")
    await subject.store.unlink("v1")
    await subject.store.record("v1", [view("cats")])
    await subject.settle()
    customer = await subject.store.load_customer("c1")
    assert customer is not None and customer.category_views == {}


async def test_store_record_after_link_lands_on_the_customer(subject: Subject) -> None:
    await subject.store.link("v1", "c1")
    await subject.store.record("v1", [view("dogs")])
    await subject.settle()
    customer = await subject.store.load_customer("c1")
    assert customer is not None and customer.category_views == {"dogs": 1}


async def test_store_load_of_a_linked_visitor_is_the_customer_profile(subject: Subject) -> None:
    await subject.store.record_customer("c1", [view("cats")])
    await subject.settle()
    await subject.store.link("v1", "c1")
    profile = await subject.store.load("v1")
    assert profile is not None and profile.category_views == {"cats": 1}


async def test_store_second_device_sees_the_same_profile(subject: Subject) -> None:
    await subject.store.link("phone", "c1")
    await subject.store.link("laptop", "c1")
    await subject.store.record("phone", [view("dogs")])
    await subject.settle()
    profile = await subject.store.load("laptop")
    assert profile is not None and profile.category_views == {"dogs": 1}


async def test_store_record_customer_is_loaded_by_customer_id(subject: Subject) -> None:
    await subject.store.record_customer("c1", [view("dogs"), view("dogs")])
    await subject.settle()
    profile = await subject.store.load_customer("c1")
    assert profile is not None and profile.category_views == {"dogs": 2}


async def test_store_erase_forgets_an_anonymous_visitor(subject: Subject) -> None:
    await subject.store.record("v1", [view("dogs")])
    await subject.settle()
    await subject.store.erase("v1")
    assert await subject.store.load("v1") is None


async def test_store_erase_of_a_linked_visitor_forgets_the_customer_profile(subject: Subject) -> None:
    await subject.store.link("v1", "c1")
    await subject.store.record("v1", [view("dogs")])
    await subject.settle()
    await subject.store.erase("v1")
    assert (await subject.store.load("v1"), await subject.store.load_customer("c1")) == (None, None)


async def test_store_erase_of_a_linked_visitor_then_record_starts_an_empty_anonymous_profile(subject: Subject) -> None:
    await subject.store.record_customer("c1", [view("dogs")])
    await subject.settle()
    await subject.store.link("v1", "c1")
    await subject.store.load("v1")  # a store that caches reads has the customer's profile at hand now
    await subject.store.erase("v1")
    await subject.store.record("v1", [view("cats")])
    await subject.settle()
    profile = await subject.store.load("v1")
    assert profile is not None and (profile.customer_id, profile.category_views) == (None, {"cats": 1})
    assert await subject.store.load_customer("c1") is None


async def test_store_erased_remembers_an_id_erased_to_be_remembered(subject: Subject) -> None:
    await subject.store.record("v1", [view("dogs")])
    await subject.settle()
    await subject.store.erase("v1", remember=True)
    assert (await subject.store.erased("v1"), await subject.store.erased("v2")) == (True, False)


async def test_store_erased_forgets_a_withdrawn_id_entirely(subject: Subject) -> None:
    await subject.store.record("v1", [view("dogs")])
    await subject.settle()
    await subject.store.erase("v1")
    assert await subject.store.erased("v1") is False


async def test_store_erased_is_false_for_a_visitor_with_a_profile(subject: Subject) -> None:
    await subject.store.record("v1", [view("dogs")])
    await subject.settle()
    assert await subject.store.erased("v1") is False


async def test_store_erase_drops_events_not_yet_written(subject: Subject) -> None:
    await subject.store.record("v1", [view("dogs")])
    await subject.store.erase("v1")
    await subject.settle()
    assert await subject.store.load("v1") is None


async def test_store_unreadable_profile_is_a_store_error(subject: Subject) -> None:
    subject.plant("v1", b"\xffnot a profile")
    with pytest.raises(StoreError):
        await subject.store.load("v1")


async def test_store_ping_answers_when_the_store_can(subject: Subject) -> None:
    assert await subject.store.ping() is None


def assigned(variant: str, version: int = 1) -> Event:
    return Event("assigned", "hero", 1000.0, {"variant": variant, "version": version})


async def test_store_keeps_the_first_assignment_of_an_experiment_version(subject: Subject) -> None:
    await subject.store.record("v1", [assigned("big")])
    await subject.settle()
    await subject.store.record("v1", [assigned("small"), assigned("small")])
    await subject.settle()
    profile = await subject.store.load("v1")
    assert profile is not None and profile.assignments["hero"].variant == "big"


async def test_store_customer_keeps_their_variant_on_a_second_device_after_login(subject: Subject) -> None:
    await subject.store.link("phone", "c1")
    await subject.store.record("phone", [assigned("big")])
    await subject.store.record("laptop", [assigned("small")])
    await subject.settle()
    await subject.store.link("laptop", "c1")
    profile = await subject.store.load("laptop")
    assert profile is not None and profile.assignments["hero"].variant == "big"


async def test_store_every_profile_lists_each_person_once(subject: Subject) -> None:
    await subject.store.record("v1", [view("dogs")])
    await subject.store.record("v2", [view("cats")])
    await subject.store.record("phone", [view("fish")])
    await subject.settle()
    await subject.store.link("phone", "c1")
    await subject.store.record("laptop", [view("birds")])  # queued, not settled: the listing writes it first
    views = sorted([sorted(profile.category_views) async for profile in subject.store.every_profile()])
    assert views == [["birds"], ["cats"], ["dogs"], ["fish"]]


async def test_store_customer_devices_lists_the_ids_linked_to_the_customer(subject: Subject) -> None:
    await subject.store.link("v1", "c1")
    await subject.store.link("v2", "c1")
    await subject.store.link("v3", "c2")
    assert await subject.store.customer_devices("c1") == ["v1", "v2"]


async def test_store_erase_customer_forgets_the_profile(subject: Subject) -> None:
    await subject.store.record_customer("c1", [view("dogs")])
    await subject.settle()
    assert await subject.store.erase_customer("c1") is True
    assert await subject.store.load_customer("c1") is None


async def test_store_erase_customer_removes_every_link(subject: Subject) -> None:
    await subject.store.link("v1", "c1")
    await subject.store.link("v2", "c1")
    await subject.store.erase_customer("c1")
    assert await subject.store.customer_devices("c1") == []


async def test_store_erase_customer_leaves_other_customers_alone(subject: Subject) -> None:
    await subject.store.link("v1", "c1")
    await subject.store.link("v2", "c2")
    await subject.store.erase_customer("c1")
    assert (await subject.store.customer_devices("c2"), await subject.store.load_customer("c2") is not None) == (["v2"], True)


async def test_store_erase_customer_says_when_there_was_nothing(subject: Subject) -> None:
    assert await subject.store.erase_customer("nobody") is False


async def test_store_erase_customer_a_linked_device_writing_afterwards_gets_a_fresh_anonymous_profile(subject: Subject) -> None:
    await subject.store.record_customer("c1", [view("dogs"), Event("segment", "vip", 1000.0)])
    await subject.settle()
    await subject.store.link("v1", "c1")
    await subject.store.load("v1")  # a store that caches reads has the customer's profile at hand now
    await subject.store.erase_customer("c1")
    await subject.store.record("v1", [view("cats")])
    await subject.settle()
    profile = await subject.store.load("v1")
    assert profile is not None and (profile.customer_id, profile.segments, profile.category_views) == (None, set(), {"cats": 1})
    assert await subject.store.load_customer("c1") is None


async def test_store_erase_customer_drops_events_queued_through_a_link(subject: Subject) -> None:
    await subject.store.link("v1", "c1")
    await subject.store.record_customer("c1", [view("dogs")])
    await subject.store.erase_customer("c1")
    await subject.settle()
    assert await subject.store.load_customer("c1") is None


REFUSAL = Event("consent", "", 2000.0, {"granted": False})


async def test_store_withdraw_of_an_anonymous_id_erases_it(subject: Subject) -> None:
    await subject.store.record("v1", [view("dogs")])
    await subject.settle()
    await subject.store.withdraw("v1", REFUSAL, erase_customer=True)
    assert await subject.store.load("v1") is None


async def test_store_withdraw_of_a_linked_id_unlinks_it(subject: Subject) -> None:
    await subject.store.link("v1", "c1")
    await subject.store.link("v2", "c1")
    await subject.store.withdraw("v1", REFUSAL, erase_customer=True)
    assert (await subject.store.load("v1"), await subject.store.customer_devices("c1")) == (None, ["v2"])


async def test_store_withdraw_leaves_the_refusal_for_the_other_devices(subject: Subject) -> None:
    await subject.store.link("v1", "c1")
    await subject.store.link("v2", "c1")
    await subject.store.withdraw("v1", REFUSAL, erase_customer=True)
    profile = await subject.store.load("v2")
    assert profile is not None and profile.consent is not None and profile.consent.granted is False


async def test_store_withdraw_erasing_keeps_none_of_the_customers_data(subject: Subject) -> None:
    await subject.store.record_customer("c1", [view("dogs")])
    await subject.settle()
    await subject.store.link("v1", "c1")
    await subject.store.withdraw("v1", REFUSAL, erase_customer=True)
    profile = await subject.store.load_customer("c1")
    assert profile is not None and (profile.category_views, profile.customer_id) == ({}, "c1")


async def test_store_withdraw_keeping_keeps_the_customers_data(subject: Subject) -> None:
    await subject.store.record_customer("c1", [view("dogs")])
    await subject.settle()
    await subject.store.link("v1", "c1")
    await subject.store.withdraw("v1", REFUSAL, erase_customer=False)
    profile = await subject.store.load_customer("c1")
    assert profile is not None and profile.category_views == {"dogs": 1} and profile.consent is not None


async def every_customer_by_pages(store: ProfileStore, count: int) -> tuple[list[str], int]:
    """The customer ids paging from "" to "" finds, and how many pages it took."""
    found: list[str] = []
    cursor, pages = "", 0
    while True:
        profiles, cursor = await store.customer_page(cursor, count)
        found += [profile.customer_id or "" for profile in profiles]
        pages += 1
        if not cursor:
            return found, pages


async def test_store_customer_pages_hold_every_customer_once_and_no_visitor(subject: Subject) -> None:
    for number in range(25):
        await subject.store.record_customer(f"c{number}", [Event("customer", f"c{number}", 1.0)])
    await subject.store.record("v1", [view("dogs")])  # queued: a page writes what is queued first
    found, pages = await every_customer_by_pages(subject.store, 4)
    assert sorted(found) == sorted(f"c{number}" for number in range(25)) and pages > 1


async def test_store_customer_pages_keep_their_place_while_customers_come_and_go(subject: Subject) -> None:
    for number in range(20):
        await subject.store.record_customer(f"c{number:02}", [Event("customer", f"c{number:02}", 1.0)])
    await subject.settle()
    first, cursor = await subject.store.customer_page("", 5)
    await subject.store.erase_customer(next(f"c{n:02}" for n in range(20) if f"c{n:02}" not in {p.customer_id for p in first}))
    await subject.store.record_customer("new", [Event("customer", "new", 1.0)])
    rest: list[str] = []
    while cursor:
        page, cursor = await subject.store.customer_page(cursor, 5)
        rest += [profile.customer_id or "" for profile in page]
    kept = {f"c{n:02}" for n in range(20)} - set(rest) - {p.customer_id for p in first}
    assert len(kept) == 1  # the erased one; every other customer kept all along comes


async def test_store_customer_pages_of_a_store_without_customers_hold_none(subject: Subject) -> None:
    await subject.store.record("v1", [view("dogs")])
    assert (await every_customer_by_pages(subject.store, 10))[0] == []


@pytest.mark.parametrize("cursor", ["nonsense", "-1", "9:9:9"])
async def test_store_customer_page_refuses_a_cursor_it_did_not_make(subject: Subject, cursor: str) -> None:
    with pytest.raises(ValueError):
        await subject.store.customer_page(cursor, 10)


async def test_store_record_applies_a_backend_event_sent_twice_once(subject: Subject) -> None:
    # Two copies of one backend event (POST /.etalage/api/events with an "id"), written one after the other
    # as two workers that each loaded the profile before the other's write would write them.
    tag = {"event_id": "evt-1"}
    copy = [Event("category_view", "dogs", time.time(), tag), Event("event_id", "evt-1", time.time())]
    await subject.store.record("v1", copy)
    await subject.store.record("v1", copy)
    await subject.settle()
    profile = await subject.store.load("v1")
    assert profile is not None and profile.category_views == {"dogs": 1}
