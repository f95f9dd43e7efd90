"""`etalage export segment NAME`: a segment's members as CSV or JSON Lines, from the embedded store's file or Redis."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from etalage.cli import main
from etalage.profiles.memory import MemoryStore
from etalage.profiles.profile import Event
from etalage.profiles.redis import RedisStore
from etalage.profiles.store import ProfileStore

GRANT = Event("consent", "", 1.0, {"granted": True, "sources": ["onetrust"], "purposes": ["onetrust:C0004"]})
ORDER = Event("order", "PC-1", 1.0, {"value": 10.0, "currency": "EUR"})


async def three_customers(store: ProfileStore) -> None:
    """Two consenting buyers, C-1 and C-3, a consenting browser C-2, and a buyer C-4 known from the CRM alone."""
    for customer_id, events in (("C-1", [GRANT, ORDER]), ("C-2", [GRANT]), ("C-3", [GRANT, ORDER]), ("C-4", [ORDER])):
        await store.record_customer(customer_id, [Event("customer", customer_id, 1.0), *events])
    await store.aclose()


@pytest.fixture
def profiles(tmp_path: Path) -> Path:
    path = tmp_path / "profiles.json"
    asyncio.run(three_customers(MemoryStore(retention=3600, path=path)))
    return path


def test_cli_export_segment_writes_csv_with_a_customer_id_column(profiles, capsys):
    assert main(["export", "segment", "customers", "--profiles-file", str(profiles)]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[0] == "customer_id" and sorted(out.splitlines()[1:]) == ["C-1", "C-3"]
    assert "etalage export: 2 in segment 'customers', of 4 customers (1 left out: no consent recorded)" in err


def test_cli_export_segment_writes_json_lines(profiles, capsys):
    assert main(["export", "segment", "customers", "--format", "jsonl", "--profiles-file", str(profiles)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sorted(rows, key=lambda row: row["customer_id"]) == [{"customer_id": "C-1"}, {"customer_id": "C-3"}]


def test_cli_export_segment_writes_the_file_it_is_given_and_no_partial_one(profiles, tmp_path, capsys):
    out = tmp_path / "buyers.csv"
    assert main(["export", "segment", "customers", "--out", str(out), "--profiles-file", str(profiles)]) == 0
    assert sorted(out.read_text().splitlines()) == ["C-1", "C-3", "customer_id"] and capsys.readouterr().out == ""
    assert sorted(path.name for path in tmp_path.iterdir()) == ["buyers.csv", "profiles.json"]


def test_cli_export_segment_names_a_segment_it_does_not_know(profiles, capsys):
    assert main(["export", "segment", "custmers", "--profiles-file", str(profiles)]) == 2
    assert "no segment 'custmers' (did you mean 'customers'?)" in capsys.readouterr().err


@pytest.mark.redis
def test_cli_export_segment_from_redis(redis_server, capsys):
    asyncio.run(three_customers(RedisStore(redis_server.url, 3600)))
    assert main(["export", "segment", "customers", "--redis-url", redis_server.url]) == 0
    assert sorted(capsys.readouterr().out.splitlines()) == ["C-1", "C-3", "customer_id"]


def test_cli_export_segment_never_writes_the_profiles_file(profiles, capsys):
    # Etalage may be running on that file: an export writing it would overwrite newer profiles.
    before = profiles.stat()
    main(["export", "segment", "dog-person", "--profiles-file", str(profiles)])
    after = profiles.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
