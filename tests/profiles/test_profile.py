import asyncio
import time

import pytest

from etalage.profiles.memory import MemoryStore
from etalage.profiles.profile import Event, Profile, ProfileDecodeError
from etalage.profiles.store import StoreError


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


DAY = 24 * 3600.0


def test_profile_affinity_halves_per_half_life_since_the_last_view():
    profile = Profile()
    profile.apply([Event("category_view", "dogs", 0.0)] * 4)
    assert profile.affinity("dogs", now=2 * DAY, half_life=DAY) == 1.0


def test_profile_affinity_counts_a_chosen_interest_strongly():
    profile = Profile()
    profile.apply([Event("interest", "fish", 0.0)])
    assert profile.affinity("fish", now=0.0, half_life=DAY) >= 10


def test_profile_affinity_of_an_excluded_category_is_zero():
    profile = Profile()
    profile.apply([Event("category_view", "dogs", 0.0), Event("exclusion", "dogs", 0.0)])
    assert profile.affinity("dogs", now=0.0, half_life=DAY) == 0.0


def test_profile_excluding_a_category_drops_it_from_interests():
    profile = Profile()
    profile.apply([Event("interest", "dogs", 0.0), Event("exclusion", "dogs", 1.0)])
    assert profile.interests == set() and profile.exclusions == {"dogs"}


def test_profile_not_for_me_remembers_the_suggestion():
    profile = Profile()
    profile.apply([Event("dismiss", "popin:dogs", 1.0)])
    assert "popin:dogs" in profile.dismissed


def test_profile_not_for_me_keeps_the_view_history():
    profile = Profile()
    profile.apply([Event("category_view", "dogs", 0.0)] * 4 + [Event("dismiss", "popin:dogs", 1.0)])
    assert profile.category_views["dogs"] == 4 and profile.category_seen["dogs"] == 0.0


def purchase(order: str, sku: str, at: float) -> Event:
    return Event("purchase", sku, at, {"order": order, "category": "dogs", "quantity": 1})


def test_profile_lifecycle_follows_distinct_orders():
    profile = Profile()
    stages = [profile.lifecycle]
    for order in ("o1", "o2"):
        profile.apply([purchase(order, "kibble", 1.0)])
        stages.append(profile.lifecycle)
    assert stages == ["prospect", "customer", "repeat_customer"]


def test_profile_keeps_an_order_s_value_once():
    profile = Profile()
    profile.apply(
        [Event("order", "o1", 1.0, {"value": 10.0, "currency": "EUR"}), Event("order", "o1", 2.0, {"value": 10.0, "currency": "EUR"})]
    )
    assert [(o.order, o.value, o.currency) for o in profile.orders] == [("o1", 10.0, "EUR")]


def test_profile_lifecycle_counts_an_order_without_lines():
    profile = Profile()
    profile.apply([Event("order", "o1", 1.0, {"value": 10.0, "currency": "EUR"})])
    assert profile.lifecycle == "customer"


def test_profile_learns_an_order_line_once():
    profile = Profile()
    profile.apply([purchase("o1", "kibble", 1.0), purchase("o1", "kibble", 2.0)])
    assert len(profile.purchases) == 1


def test_profile_merge_adds_counts_and_unites_sets():
    customer = Profile(category_views={"dogs": 2}, newsletters={"dogs"}, visits=3, first_seen=5.0, last_seen=9.0)
    anonymous = Profile(
        category_views={"dogs": 1, "cats": 4}, newsletters={"cats"}, exclusions={"fish"}, visits=1, first_seen=2.0, last_seen=7.0
    )
    customer.merge(anonymous)
    assert customer.category_views == {"dogs": 3, "cats": 4} and customer.newsletters == {"dogs", "cats"}
    assert (customer.visits, customer.first_seen, customer.last_seen, customer.exclusions) == (4, 2.0, 9.0, {"fish"})


def test_profile_merge_keeps_the_stricter_choice():
    customer = Profile(interests={"fish"})
    customer.merge(Profile(exclusions={"fish"}))
    assert customer.interests == set() and customer.exclusions == {"fish"}


def test_profile_reads_version_1():
    old = b'{"v": 1, "category_views": {"dogs": 2}, "recent_products": ["p"], "newsletters": ["dogs"], "visits": 1, "first_seen": 1.0, "last_seen": 2.0}'
    profile = Profile.loads(old)
    assert (profile.category_views, profile.newsletters, profile.purchases) == ({"dogs": 2}, {"dogs"}, [])


def test_profile_round_trips_through_json():
    profile = Profile(category_views={"dogs": 3}, recent_products=["x"], newsletters={"cats"}, visits=2, first_seen=1.0, last_seen=2.0)
    profile.apply([purchase("o1", "kibble", 3.0), Event("exclusion", "fish", 3.0), Event("customer", "cust-1", 3.0)])
    profile.apply([Event("order", "o1", 3.0, {"value": 25.98, "currency": "EUR"})])
    assert Profile.loads(profile.dumps()) == profile and profile.orders[0].value == 25.98


def test_profile_impressions_forget_what_is_a_week_old_and_keep_the_last_fifty():
    week = 7 * 24 * 3600.0
    profile = Profile()
    profile.apply([Event("shown", "rule", float(at)) for at in range(60)])
    kept = profile.impressions["rule"]
    profile.apply([Event("shown", "rule", 30 + week)])
    assert kept == [float(at) for at in range(10, 60)] and profile.impressions["rule"] == [*(float(at) for at in range(31, 60)), 30 + week]


def test_profile_copy_shares_nothing_mutable():
    profile = Profile(category_views={"dogs": 3}, recent_products=["x"], newsletters={"cats"}, visits=2, first_seen=1.0, last_seen=2.0)
    profile.apply([purchase("o1", "kibble", 3.0), Event("shown", "rule", 3.0), Event("interest", "fish", 3.0)])
    before = profile.dumps()
    copy = profile.copy()
    copy.apply(
        [purchase("o2", "bowl", 4.0), Event("shown", "rule", 4.0), Event("category_view", "dogs", 4.0), Event("product_view", "y", 4.0)]
    )
    copy.apply([Event(kind, "birds", 4.0) for kind in ("interest", "exclusion", "dismiss", "segment", "newsletter_subscribe")])
    assert profile.dumps() == before and Profile.loads(before).copy() == profile


def test_profile_copy_keeps_every_field():
    profile = Profile(category_views={"dogs": 3}, segments={"vip"}, customer_id="c-1", visits=2, first_seen=1.0)
    profile.apply(
        [purchase("o1", "kibble", 3.0), Event("shown", "rule", 3.0), Event("order", "o1", 3.0, {"value": 9.5, "currency": "EUR"})]
    )
    assert profile.copy() == profile and profile.orders


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
    store._profiles["v:v"] = (time.time(), b"garbage")
    with pytest.raises(StoreError):
        asyncio.run(store.load("v"))


def test_memory_store_file_survives_a_restart(tmp_path):
    path = tmp_path / "profiles.json"

    async def first_run() -> None:
        store = MemoryStore(retention=3600, path=path)
        await store.record("v", [Event("category_view", "rodents", 1.0)])
        await store.link("v", "cust-1")
        await store.aclose()

    asyncio.run(first_run())
    again = MemoryStore(retention=3600, path=path)
    assert asyncio.run(again.load("v")).category_views == {"rodents": 1}


def test_memory_store_file_forgets_erased_visitors(tmp_path):
    path = tmp_path / "profiles.json"

    async def run() -> None:
        store = MemoryStore(retention=3600, path=path)
        await store.record("v", [Event("category_view", "rodents", 1.0)])
        await store.erase("v")

    asyncio.run(run())
    assert b"rodents" not in path.read_bytes()


def test_memory_store_file_drops_profiles_past_retention(tmp_path):
    path = tmp_path / "profiles.json"
    path.write_bytes(b'{"format": 1, "profiles": {"v:old": [1.0, "{}"]}, "links": {}}')
    assert asyncio.run(MemoryStore(retention=3600, path=path).load("old")) is None


def test_memory_store_unreadable_file_is_a_store_error(tmp_path):
    path = tmp_path / "profiles.json"
    path.write_bytes(b"not json")
    with pytest.raises(StoreError, match="profiles.json"):
        MemoryStore(retention=3600, path=path)


def consent_event(granted: bool, at: float, sources: tuple[str, ...] = ("onetrust",)) -> Event:
    return Event("consent", "", at, {"granted": granted, "sources": list(sources), "purposes": [f"{s}:x" for s in sources]})


def test_profile_consent_event_records_source_purposes_and_time():
    profile = Profile()
    profile.apply([consent_event(True, 5.0)])
    assert profile.consent is not None and (profile.consent.sources, profile.consent.purposes, profile.consent.at) == (
        ("onetrust",),
        ("onetrust:x",),
        5.0,
    )


def test_profile_consent_unchanged_keeps_the_time_it_began():
    profile = Profile()
    profile.apply([consent_event(True, 5.0), consent_event(True, 9.0)])
    assert profile.consent is not None and profile.consent.at == 5.0


def test_profile_consent_round_trips_through_storage():
    profile = Profile()
    profile.apply([consent_event(False, 5.0, ())])
    assert Profile.loads(profile.dumps()).consent == profile.consent


def test_profile_merge_keeps_a_refusal_over_a_newer_grant():
    refused, granted = Profile(), Profile()
    refused.apply([consent_event(False, 5.0, ())])
    granted.apply([consent_event(True, 9.0)])
    granted.merge(refused)
    assert granted.consent is not None and granted.consent.granted is False


def test_profile_refused_consent_learns_nothing_until_a_grant():
    profile = Profile()
    profile.apply([consent_event(False, 5.0, ()), Event("category_view", "dogs", 6.0)])
    profile.apply([consent_event(True, 7.0), Event("category_view", "cats", 8.0)])
    assert profile.category_views == {"cats": 1}


def _backend_event(event_id: str, at: float) -> list[Event]:
    """A newsletter sign-up from the shop's backend with its id, as /.etalage/api/events writes it."""
    tag = {"event_id": event_id}
    return [Event("newsletter_subscribe", "rodents", at, tag), Event("segment", "subscribers", at, tag), Event("event_id", event_id, at)]


def test_profile_skips_a_backend_event_applied_before():
    profile = Profile()
    profile.apply(_backend_event("evt-1", 1.0))
    profile.segments.clear()
    # A copy computed from the profile as it was before the first (another worker, a retry): nothing of it counts.
    profile.apply(_backend_event("evt-1", 2.0))
    assert (profile.segments, profile.event_ids) == (set(), ["evt-1"])


def test_profile_keeps_backend_event_ids_through_storage_and_merge():
    profile = Profile()
    profile.apply(_backend_event("evt-1", 1.0))
    other = Profile()
    other.apply(_backend_event("evt-2", 2.0))
    loaded = Profile.loads(profile.dumps())
    loaded.merge(other)
    assert loaded.event_ids == ["evt-1", "evt-2"]


def test_profile_stores_no_event_ids_key_without_backend_events():
    assert "event_ids" not in Profile().to_dict()
