"""`etalage customers export|erase ID`: access and erasure requests from the command line."""

import asyncio
import json
from pathlib import Path

import pytest

from etalage.cli import main
from etalage.profiles.memory import MemoryStore
from etalage.profiles.profile import Event


def saved_customer(path: Path) -> None:
    """A profiles file holding customer C-1 with one linked device, v1, and another customer, C-2."""

    async def write() -> None:
        store = MemoryStore(retention=3600, path=path)
        await store.record_customer("C-1", [Event("segment", "vip", 1.0)])
        await store.link("v1", "C-1")
        await store.record_customer("C-2", [Event("segment", "vip", 1.0)])
        await store.aclose()

    asyncio.run(write())


def reopened(path: Path) -> MemoryStore:
    return MemoryStore(retention=3600, path=path)


def test_cli_customers_export_prints_the_profile_and_devices(tmp_path, capsys):
    saved_customer(tmp_path / "profiles.json")
    assert main(["customers", "export", "C-1", "--profiles-file", str(tmp_path / "profiles.json")]) == 0
    exported = json.loads(capsys.readouterr().out)
    assert (exported["customer_id"], exported["devices"], exported["profile"]["segments"]) == ("C-1", ["v1"], ["vip"])


def test_cli_customers_erase_removes_the_customer_from_the_file(tmp_path, capsys):
    saved_customer(tmp_path / "profiles.json")
    assert main(["customers", "erase", "C-1", "--profiles-file", str(tmp_path / "profiles.json")]) == 0
    store = reopened(tmp_path / "profiles.json")
    assert (asyncio.run(store.load_customer("C-1")), asyncio.run(store.customer_devices("C-1"))) == (None, [])
    assert json.loads(capsys.readouterr().out)["erased"] is True


def test_cli_customers_erase_keeps_other_customers(tmp_path):
    saved_customer(tmp_path / "profiles.json")
    main(["customers", "erase", "C-1", "--profiles-file", str(tmp_path / "profiles.json")])
    assert asyncio.run(reopened(tmp_path / "profiles.json").load_customer("C-2")) is not None


@pytest.mark.redis
def test_cli_customers_erase_leaves_no_key_in_redis(redis_server, capsys):
    client = redis_server.client()
    client.set("etalage:c:C-1", b'{"v":2}')
    client.set("etalage:link:v1", "C-1")
    assert main(["customers", "erase", "C-1", "--redis-url", redis_server.url]) == 0
    assert list(client.scan_iter("*")) == []
    client.close()


def test_cli_customers_needs_a_store(monkeypatch, capsys):
    monkeypatch.delenv("ETALAGE_REDIS_URL", raising=False)
    monkeypatch.delenv("ETALAGE_PROFILES_FILE", raising=False)
    assert main(["customers", "erase", "C-1"]) == 2
    assert "--profiles-file" in capsys.readouterr().err
