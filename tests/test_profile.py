import asyncio

import pytest

from etalage.profile import Event, Profile, ProfileDecodeError
from etalage.store import MemoryStore, StoreError

ORDER = ("dogs", "cats", "rodents")


def test_profile_counts_a_new_visit_after_half_an_hour():
    profile = Profile()
    profile.apply([Event("page_view", "/", 1000.0), Event("page_view", "/", 1000.0 + 60), Event("page_view", "/", 1000.0 + 3600)])
    assert (profile.visits, profile.first_seen, profile.last_seen) == (2, 1000.0, 4600.0)


def test_profile_keeps_recent_products_unique_newest_first():
    profile = Profile()
    profile.apply([Event("product_view", p, 1.0) for p in ("a", "b", "a")])
    assert profile.recent_products == ["a", "b"]


def test_profile_bounds_recent_products():
    profile = Profile()
    profile.apply([Event("product_view", str(n), 1.0) for n in range(50)])
    assert len(profile.recent_products) == 20 and profile.recent_products[0] == "49"


def test_profile_top_category_breaks_ties_by_site_order():
    profile = Profile(category_views={"rodents": 2, "cats": 2, "dogs": 1})
    assert profile.top_category(ORDER) == "cats"


def test_profile_top_category_is_none_without_views():
    assert Profile().top_category(ORDER) is None


def test_profile_round_trips_through_json():
    profile = Profile(category_views={"dogs": 3}, recent_products=["x"], newsletters={"cats"}, visits=2, first_seen=1.0, last_seen=2.0)
    assert Profile.loads(profile.dumps()) == profile


@pytest.mark.parametrize("data", [b"", b"[]", b'{"v": 99}', b'{"v": 1, "category_views": []}', b"\xff"])
def test_profile_refuses_unreadable_data(data):
    with pytest.raises(ProfileDecodeError):
        Profile.loads(data)


def test_memory_store_applies_events_to_the_stored_profile():
    store = MemoryStore(retention=60)
    asyncio.run(store.record("v", [Event("category_view", "dogs", 1.0)]))
    asyncio.run(store.record("v", [Event("category_view", "dogs", 2.0)]))
    assert asyncio.run(store.load("v")).category_views == {"dogs": 2}


def test_memory_store_erase_forgets_the_visitor():
    store = MemoryStore(retention=60)
    asyncio.run(store.record("v", [Event("category_view", "dogs", 1.0)]))
    asyncio.run(store.erase("v"))
    assert asyncio.run(store.load("v")) is None


def test_memory_store_reports_corrupt_entries_as_store_errors():
    store = MemoryStore(retention=60)
    store._profiles["v:v"] = b"garbage"
    with pytest.raises(StoreError):
        asyncio.run(store.load("v"))
