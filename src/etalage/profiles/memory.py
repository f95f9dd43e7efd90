"""The embedded profile store, the default: profiles in process memory.

It keeps profiles with a sliding retention period, optionally saved to a file so they survive a
restart, and needs nothing installed. One process owns it: several workers share profiles through
Redis (etalage.profiles.redis) instead.

A page view reads the visitor's profile and writes it back once. Decoding and re-encoding its JSON
for that cost about 15% of a personalized view, so the profiles of recently active visitors are kept
decoded (the proxy gets a copy to apply its view's events to) and encoded only when they go cold or
the file is saved; the rest stay as compact JSON (about 300 bytes instead of a few KB decoded).
"""

from __future__ import annotations

import asyncio
import contextvars
import heapq
import logging
import os
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from pathlib import Path

import orjson
from cachetools import TLRUCache, TTLCache

from etalage.profiles.profile import Event, Profile, ProfileDecodeError
from etalage.profiles.store import ProfileStore, StoreError

__all__ = ["MemoryStore"]

log = logging.getLogger("etalage.store")
SNAPSHOT_FORMAT = 1


class MemoryStore(ProfileStore):
    """In-process profiles, bounded in count, each expiring after `retention` seconds without a write.

    Every method runs without awaiting in between, so on one event loop nothing interleaves with
    a read-modify-write. With a `path`, the profiles are read from that file at start and written
    back (atomically: a new file renamed over the old) every `save_interval` seconds when changed
    and on aclose(), so a restart loses nothing. One process owns the file at a time.
    """

    answers_at_once = True  # load() and erased() read memory only

    def __init__(
        self, retention: float, max_profiles: int = 200_000, path: Path | None = None, save_interval: float = 30.0, hot_profiles: int = 4096
    ) -> None:
        self._retention = retention
        # Keys "v:<visitor id>" and "c:<customer id>" hold (when written, profile): the profile decoded
        # while it is among the `hot_profiles` most recently used, else its JSON. An entry expires
        # `retention` seconds after it was written, however often it is read or re-encoded meanwhile.
        # Links map visitor ids to (when written, customer id). The write time travels with the entry,
        # so a saved file keeps the retention clock and nothing outlives the entry it belongs to.
        self._profiles: TLRUCache[str, tuple[float, bytes | Profile]] = TLRUCache(
            maxsize=max_profiles, ttu=lambda _key, entry, _now: entry[0] + retention, timer=time.time
        )
        # The keys whose profiles are held decoded, least recently used first.
        self._hot: OrderedDict[str, None] = OrderedDict()
        self._hot_profiles = hot_profiles
        self._links: TTLCache[str, tuple[float, str]] = TTLCache(maxsize=max_profiles, ttl=retention)
        # Erased visitor ids (see ProfileStore.erased); in memory only, so a restart forgets them.
        self._erased: TTLCache[str, bool] = TTLCache(maxsize=max_profiles, ttl=retention)
        self._path = path
        self._save_interval = save_interval
        self._saver: asyncio.Task[None] | None = None
        # One write of the file at a time, in a worker thread: the event loop only builds the snapshot.
        self._writing = asyncio.Lock()
        self._dirty = False
        if path is not None and path.exists():
            self._read(path)

    def _read(self, path: Path) -> None:
        try:
            snapshot = orjson.loads(path.read_bytes())
            if snapshot.get("format") != SNAPSHOT_FORMAT:
                raise ValueError(f"unknown snapshot format {snapshot.get('format')!r}")
        except (OSError, ValueError) as exc:
            raise StoreError(f"cannot read the profile file {path}: {exc}") from exc
        for key, (written, data) in snapshot["profiles"].items():
            self._profiles[key] = (written, data.encode())  # one past retention is not kept
        cutoff = time.time() - self._retention
        for visitor_id, (written, customer_id) in snapshot["links"].items():
            if written > cutoff:
                self._links[visitor_id] = (written, customer_id)

    def _snapshot(self) -> bytes:
        return orjson.dumps(
            {
                "format": SNAPSHOT_FORMAT,
                "profiles": {
                    key: (written, (data.dumps() if isinstance(data, Profile) else data).decode())
                    for key, (written, data) in self._profiles.items()
                },
                "links": dict(self._links.items()),
            }
        )

    def _write(self, snapshot: bytes) -> None:
        """Replace the file atomically (a new file renamed over the old); only its owner may read it:
        it holds personal data."""
        assert self._path is not None
        partial = self._path.with_name(self._path.name + ".partial")
        self._path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(snapshot)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(partial, 0o600)  # a .partial left by an older version may have other bits
        os.replace(partial, self._path)

    async def save(self) -> None:
        """Write the file when something changed; raises StoreError when it cannot be written."""
        if self._path is None or not self._dirty:
            return
        async with self._writing:
            if not self._dirty:
                return
            snapshot, self._dirty = self._snapshot(), False
            try:
                await asyncio.to_thread(self._write, snapshot)
            except OSError as exc:
                self._dirty = True
                raise StoreError(f"could not save profiles to {self._path}: {exc}") from exc

    def _changed(self) -> None:
        self._dirty = True
        if self._path is not None and self._saver is None:
            # A context of its own: the request that happens to start the saver must not name its log lines.
            self._saver = asyncio.get_running_loop().create_task(self._save_periodically(), context=contextvars.Context())

    async def _save_periodically(self) -> None:
        while True:
            await asyncio.sleep(self._save_interval)
            try:
                await self.save()
            except StoreError as exc:
                log.warning("%s", exc)

    async def ping(self) -> None:
        """In process memory: always able to answer."""

    async def aclose(self) -> None:
        if self._saver is not None:
            self._saver.cancel()
            self._saver = None
        await self.save()

    def _key(self, visitor_id: str) -> str:
        link = self._links.get(visitor_id)
        return f"c:{link[1]}" if link is not None else f"v:{visitor_id}"

    def _get(self, key: str) -> Profile | None:
        """The stored profile itself (decoded now if it was cold): hand out copies only."""
        entry = self._profiles.get(key)
        if entry is None:
            return None
        written, data = entry
        if isinstance(data, Profile):
            self._hot.move_to_end(key)
            return data
        try:
            profile = Profile.loads(data)
        except ProfileDecodeError as exc:
            raise StoreError(str(exc)) from exc
        self._put(key, written, profile)
        return profile

    def _put(self, key: str, written: float, profile: Profile) -> None:
        """Keep `profile` (the store's own, decoded) under `key`; the least recently used go back to JSON."""
        self._profiles[key] = (written, profile)
        self._hot[key] = None
        self._hot.move_to_end(key)
        while len(self._hot) > self._hot_profiles:
            cold, _ = self._hot.popitem(last=False)
            entry = self._profiles.get(cold)
            if entry is not None and isinstance(entry[1], Profile):
                self._profiles[cold] = (entry[0], entry[1].dumps())

    def _apply(self, key: str, events: Sequence[Event]) -> None:
        profile = self._get(key) or Profile()
        profile.apply(events)
        # Written now: retention slides with activity.
        self._put(key, time.time(), profile)
        self._changed()

    async def load(self, visitor_id: str) -> Profile | None:
        profile = self._get(self._key(visitor_id))
        return profile.copy() if profile is not None else None

    async def record(self, visitor_id: str, events: Sequence[Event]) -> None:
        self._apply(self._key(visitor_id), events)

    async def link(self, visitor_id: str, customer_id: str, *, renew_to: str | None = None) -> str:
        link = self._links.get(visitor_id)
        current = link[1] if link is not None else None
        now = time.time()
        if current == customer_id:
            self._links[visitor_id] = (now, customer_id)
            self._changed()
            return visitor_id
        customer = self._get(f"c:{customer_id}") or Profile()
        if current is None:
            # Only an anonymous history merges; a device switching accounts keeps each customer's own.
            anonymous = self._get(f"v:{visitor_id}")
            if anonymous is not None:
                customer.merge(anonymous)
                self._profiles.pop(f"v:{visitor_id}", None)
        customer.apply([Event("customer", customer_id, now)])
        self._put(f"c:{customer_id}", now, customer)
        linked = visitor_id
        if renew_to is not None:
            # The old id keeps nothing: no link, no profile of its own.
            self._links.pop(visitor_id, None)
            self._profiles.pop(f"v:{visitor_id}", None)
            linked = renew_to
        self._links[linked] = (now, customer_id)
        self._changed()
        return linked

    async def unlink(self, visitor_id: str) -> bool:
        if self._links.pop(visitor_id, None) is None:
            return False
        self._changed()
        return True

    async def load_customer(self, customer_id: str) -> Profile | None:
        profile = self._get(f"c:{customer_id}")
        return profile.copy() if profile is not None else None

    async def record_customer(self, customer_id: str, events: Sequence[Event]) -> None:
        self._apply(f"c:{customer_id}", events)

    async def erased(self, visitor_id: str) -> bool:
        return visitor_id in self._erased

    async def withdraw(self, visitor_id: str, refusal: Event, *, erase_customer: bool) -> None:
        link = self._links.get(visitor_id)
        if link is None:
            await self.erase(visitor_id)
            return
        key = f"c:{link[1]}"
        kept = (None if erase_customer else self._get(key)) or Profile(customer_id=link[1])
        kept.apply([refusal])
        self._links.pop(visitor_id, None)
        self._profiles.pop(f"v:{visitor_id}", None)
        self._put(key, time.time(), kept)
        self._dirty = True
        await self.save()  # as erase(): the file forgets at once

    async def customer_devices(self, customer_id: str) -> list[str]:
        return sorted(visitor_id for visitor_id, (_written, linked) in self._links.items() if linked == customer_id)

    async def erase_customer(self, customer_id: str) -> bool:
        devices = await self.customer_devices(customer_id)
        for visitor_id in devices:
            self._links.pop(visitor_id, None)
        had_profile = self._profiles.pop(f"c:{customer_id}", None) is not None
        if not devices and not had_profile:
            return False
        self._dirty = True
        await self.save()  # as erase(): the file forgets at once
        return True

    def _readable(self, keys: Iterable[str], purpose: str) -> Iterator[Profile]:
        """The profiles under `keys`; one that cannot be read is left out of `purpose`, with a log line."""
        for key in keys:
            try:
                profile = self._get(key)
            except StoreError as exc:
                log.warning("%s: leaving out the profile %s: %s", purpose, key, exc)
                continue
            if profile is not None:
                yield profile

    async def every_profile(self) -> AsyncIterator[Profile]:
        for profile in self._readable(list(self._profiles), "report"):
            yield profile

    async def customer_page(self, cursor: str, count: int) -> tuple[list[Profile], str]:
        # The keys in order: a page is the `count` customer keys after the cursor (the last key of the
        # page before), so paging is stable while profiles come and go, at O(n log count) a page.
        if cursor and not cursor.startswith("c:"):
            raise ValueError(f"not a cursor of the embedded store: {cursor!r}")
        keys = heapq.nsmallest(count, (key for key in self._profiles if key.startswith("c:") and key > cursor))
        profiles = [profile.copy() for profile in self._readable(keys, "export")]
        return profiles, keys[-1] if len(keys) == count else ""

    async def erase(self, visitor_id: str, *, remember: bool = False) -> None:
        if remember:
            self._erased[visitor_id] = True
        key = self._key(visitor_id)
        had_profile = self._profiles.pop(key, None) is not None
        had_link = self._links.pop(visitor_id, None) is not None
        if not had_profile and not had_link:
            return  # a withdrawn visitor's cookie arrives on every page: nothing to erase, nothing to write
        # Erasure must reach the file too, not only memory, and without waiting for the next periodic save.
        self._dirty = True
        await self.save()
