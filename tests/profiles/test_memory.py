"""The embedded store's file: what it writes, when, and who may read it."""

from __future__ import annotations

import stat
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import orjson
import pytest

from etalage.profiles.memory import MemoryStore
from etalage.profiles.profile import Event, Profile
from etalage.profiles.store import StoreError

DAY = 24 * 3600.0


def _view(category: str) -> list[Event]:
    return [Event("category_view", category, 1_700_000_000.0)]


@pytest.mark.anyio
async def test_memory_store_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    store = MemoryStore(retention=DAY, path=tmp_path / "profiles.json")
    await store.record("visitor", _view("dogs"))
    await store.aclose()
    assert stat.S_IMODE((tmp_path / "profiles.json").stat().st_mode) == 0o600


@pytest.mark.anyio
async def test_memory_store_erasing_an_unknown_visitor_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "profiles.json"
    store = MemoryStore(retention=DAY, path=path)
    await store.record("visitor", _view("dogs"))
    await store.save()
    before = path.stat().st_ino
    await store.erase("someone-else")
    assert path.stat().st_ino == before
    await store.erase("visitor")
    assert path.stat().st_ino != before and orjson.loads(path.read_bytes())["profiles"] == {}
    await store.aclose()


@pytest.mark.anyio
async def test_memory_store_file_keeps_only_the_profiles_still_held(tmp_path: Path) -> None:
    path = tmp_path / "profiles.json"
    store = MemoryStore(retention=DAY, max_profiles=3, path=path)
    for number in range(50):
        await store.record(f"visitor-{number}", _view("dogs"))
    await store.aclose()
    assert len(orjson.loads(path.read_bytes())["profiles"]) == 3


@pytest.mark.anyio
async def test_memory_store_erase_that_cannot_reach_the_file_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "not-a-folder").write_text("")
    store = MemoryStore(retention=DAY, path=tmp_path / "not-a-folder" / "profiles.json")
    await store.record("visitor", _view("dogs"))
    with pytest.raises(StoreError):
        await store.erase("visitor")


def _answer_at_once(call: Coroutine[Any, Any, object]) -> object:
    """The coroutine's result if it completes without suspending; fails the test otherwise."""
    try:
        call.send(None)
    except StopIteration as done:
        return done.value
    call.close()
    raise AssertionError("the call suspended")


@pytest.mark.anyio
async def test_memory_store_reads_a_page_view_without_suspending(tmp_path: Path) -> None:
    # The proxy awaits these without the store's time budget (ProfileStore.answers_at_once): they must never wait.
    store = MemoryStore(retention=DAY, path=tmp_path / "profiles.json", hot_profiles=1)
    await store.record("visitor", _view("dogs"))
    await store.record("other", _view("cats"))  # the visitor's profile goes cold: its next load decodes JSON
    await store.erase("gone", remember=True)
    loaded = _answer_at_once(store.load("visitor"))
    answers = [_answer_at_once(store.erased(visitor_id)) for visitor_id in ("gone", "visitor")]
    assert MemoryStore.answers_at_once and isinstance(loaded, Profile) and answers == [True, False]


@pytest.mark.anyio
async def test_memory_store_hands_out_copies() -> None:
    store = MemoryStore(retention=DAY)
    await store.record("visitor", _view("dogs"))
    loaded = await store.load("visitor")
    assert loaded is not None
    loaded.apply(_view("dogs"))
    assert (await store.load("visitor")) == Profile(category_views={"dogs": 1}, category_seen={"dogs": 1_700_000_000.0})


@pytest.mark.anyio
async def test_memory_store_views_of_an_active_visitor_decode_no_json(monkeypatch: pytest.MonkeyPatch) -> None:
    store = MemoryStore(retention=DAY)
    await store.record("visitor", _view("dogs"))

    def refuse(data: bytes) -> Profile:
        raise AssertionError("decoded")

    monkeypatch.setattr(Profile, "loads", refuse)
    monkeypatch.setattr(Profile, "dumps", refuse)
    for _ in range(3):
        await store.load("visitor")
        await store.record("visitor", _view("dogs"))
    loaded = await store.load("visitor")
    assert loaded is not None and loaded.category_views == {"dogs": 4}


@pytest.mark.anyio
async def test_memory_store_keeps_the_profiles_of_visitors_gone_quiet(tmp_path: Path) -> None:
    store = MemoryStore(retention=DAY, hot_profiles=2, path=tmp_path / "profiles.json")
    for number in range(5):
        await store.record(f"visitor-{number}", _view(f"category-{number}"))
    for number in range(5):
        await store.record(f"visitor-{number}", _view(f"category-{number}"))
    loaded = [await store.load(f"visitor-{number}") for number in range(5)]
    await store.aclose()
    again = MemoryStore(retention=DAY, path=tmp_path / "profiles.json")
    reloaded = [await again.load(f"visitor-{number}") for number in range(5)]
    expected = [{f"category-{number}": 2} for number in range(5)]
    assert [p and p.category_views for p in loaded] == expected and [p and p.category_views for p in reloaded] == expected
