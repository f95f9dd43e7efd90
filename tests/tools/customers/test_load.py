"""etalage.tools.customers.load: customers written into the store once each, bounded and flushed."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from etalage.engine.customer_fields import Checker
from etalage.profiles.memory import MemoryStore
from etalage.profiles.profile import Event, Profile
from etalage.rules.loader import load_rules
from etalage.tools.customers.load import import_records
from etalage.tools.customers.read import Record
from tests.support.config import PROJECT_RULES
from tests.support.customers import EXPORTS, MARCH_1, RETENTION, load_profile, run_import_command, stored, write_jsonl


@pytest.mark.parametrize("name", ["customers.jsonl", "customers.csv"])
def test_import_twice_changes_no_profile(tmp_path, name):
    profiles = tmp_path / "profiles.json"
    assert run_import_command(EXPORTS / name, profiles) == 0
    first = stored(profiles)
    assert run_import_command(EXPORTS / name, profiles) == 0
    assert stored(profiles) == first


def test_import_twice_without_order_ids_adds_no_purchase(tmp_path):
    profiles = tmp_path / "profiles.json"
    path = write_jsonl(tmp_path, {"customer_id": "C-1", "purchases": [{"sku": "dog-rope-toy", "date": "2026-03-01"}]})
    run_import_command(path, profiles)
    run_import_command(path, profiles)
    assert len(load_profile(profiles, "C-1").purchases) == 1  # type: ignore[union-attr]


def test_import_keeps_what_the_profile_already_knew(tmp_path):
    profiles = tmp_path / "profiles.json"

    async def browse() -> None:
        store = MemoryStore(retention=RETENTION, path=profiles)
        await store.record_customer("C-1001", [Event("category_view", "fish", MARCH_1)])
        await store.aclose()

    asyncio.run(browse())
    assert run_import_command(EXPORTS / "customers.jsonl", profiles) == 0
    profile = load_profile(profiles, "C-1001")
    assert profile is not None and profile.category_views == {"fish": 1} and profile.newsletters == {"dogs"}


def test_import_10000_generated_customers(tmp_path):
    path = tmp_path / "many.csv"
    with path.open("w") as out:
        out.write("customer_id,segments,newsletters,order,sku,category,date,quantity\n")
        for n in range(10_000):
            out.write(f"C-{n},vip,dogs|cats,O-{n},dog-kibble-5kg,,2026-0{n % 9 + 1}-1{n % 10},{n % 3 + 1}\n")
            out.write(f"C-{n},vip,dogs|cats,O-{n},cat-play-tunnel,cats,2026-0{n % 9 + 1}-1{n % 10},1\n")
    profiles = tmp_path / "profiles.json"
    assert run_import_command(path, profiles) == 0
    written = stored(profiles)
    assert len(written) == 10_000
    assert len(Profile.loads(written["c:C-9999"]).purchases) == 2


class _QueueingStore(MemoryStore):
    """Stands in for RedisStore: writes take a turn of the event loop, and queued writes need flush()."""

    def __init__(self) -> None:
        super().__init__(retention=RETENTION)
        self.running = 0
        self.most_running = 0
        self.flushes = 0

    async def record_customer(self, customer_id: str, events: Sequence[Event]) -> None:
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        await asyncio.sleep(0)  # yield to the loop, as a network write would
        await super().record_customer(customer_id, events)
        self.running -= 1

    async def flush(self) -> None:
        self.flushes += 1


def test_import_records_bounds_concurrent_store_calls_and_flushes_a_queueing_store():
    checker = Checker(load_rules(PROJECT_RULES), now=MARCH_1)
    records = [Record(f"C-{n}", n, n, checker.base_events(f"C-{n}", ["vip"], ["dogs"])) for n in range(1, 3001)]
    store = _QueueingStore()

    async def run() -> None:
        result = await import_records(store, records, concurrency=8)
        assert result.customers == 3000
        assert await store.load_customer("C-3000") is not None

    asyncio.run(run())
    assert 1 < store.most_running <= 8
    assert store.flushes >= 2  # 9000 events: once on the way (every 5000) and once at the end
