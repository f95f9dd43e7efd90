"""The embedded profile store, the default: profiles in process memory.

It keeps serialized profiles with a sliding retention period, optionally saved to a file so they
survive a restart, and needs nothing installed. One process owns it: several workers share
profiles through Redis (etalage.profiles.redis) instead.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path

import orjson
from cachetools import TTLCache

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

    def __init__(self, retention: float, max_profiles: int = 200_000, path: Path | None = None, save_interval: float = 30.0) -> None:
        self._retention = retention
        # Keys: "v:<visitor id>" and "c:<customer id>" for profiles; links map visitor ids to customers.
        self._profiles: TTLCache[str, bytes] = TTLCache(maxsize=max_profiles, ttl=retention)
        self._links: TTLCache[str, str] = TTLCache(maxsize=max_profiles, ttl=retention)
        # When each key was last written, so a saved file keeps the retention clock.
        self._written: dict[str, float] = {}
        self._path = path
        self._save_interval = save_interval
        self._saver: asyncio.Task[None] | None = None
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
        cutoff = time.time() - self._retention
        for key, (written, data) in snapshot["profiles"].items():
            if written > cutoff:
                self._profiles[key] = data.encode()
                self._written[key] = written
        for visitor_id, (written, customer_id) in snapshot["links"].items():
            if written > cutoff:
                self._links[visitor_id] = customer_id
                self._written[f"link:{visitor_id}"] = written

    def save_now(self) -> None:
        """Write the file (when changed); a crash mid-write leaves the previous file intact."""
        if self._path is None or not self._dirty:
            return
        snapshot = {
            "format": SNAPSHOT_FORMAT,
            "profiles": {key: (self._written.get(key, 0.0), data.decode()) for key, data in self._profiles.items()},
            "links": {vid: (self._written.get(f"link:{vid}", 0.0), cid) for vid, cid in self._links.items()},
        }
        partial = self._path.with_name(self._path.name + ".partial")
        self._path.parent.mkdir(parents=True, exist_ok=True)
        with open(partial, "wb") as out:
            out.write(orjson.dumps(snapshot))
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, self._path)
        self._dirty = False

    def _changed(self, *keys: str) -> None:
        now = time.time()
        for key in keys:
            self._written[key] = now
        self._dirty = True
        if self._path is not None and self._saver is None:
            self._saver = asyncio.get_running_loop().create_task(self._save_periodically())

    async def _save_periodically(self) -> None:
        while True:
            await asyncio.sleep(self._save_interval)
            try:
                self.save_now()
            except OSError as exc:
                log.warning("could not save profiles to %s: %s", self._path, exc)

    async def aclose(self) -> None:
        if self._saver is not None:
            self._saver.cancel()
            self._saver = None
        try:
            self.save_now()
        except OSError as exc:
            raise StoreError(f"could not save profiles to {self._path}: {exc}") from exc

    def _key(self, visitor_id: str) -> str:
        customer_id = self._links.get(visitor_id)
        return f"c:{customer_id}" if customer_id is not None else f"v:{visitor_id}"

    def _get(self, key: str) -> Profile | None:
        data = self._profiles.get(key)
        if data is None:
            return None
        try:
            return Profile.loads(data)
        except ProfileDecodeError as exc:
            raise StoreError(str(exc)) from exc

    def _apply(self, key: str, events: Sequence[Event]) -> None:
        profile = self._get(key) or Profile()
        profile.apply(events)
        # Re-inserting resets the TTL: retention slides with activity.
        self._profiles[key] = profile.dumps()
        self._changed(key)

    async def load(self, visitor_id: str) -> Profile | None:
        return self._get(self._key(visitor_id))

    async def record(self, visitor_id: str, events: Sequence[Event]) -> None:
        self._apply(self._key(visitor_id), events)

    async def link(self, visitor_id: str, customer_id: str) -> None:
        current = self._links.get(visitor_id)
        if current == customer_id:
            self._links[visitor_id] = customer_id
            self._changed(f"link:{visitor_id}")
            return
        customer = self._get(f"c:{customer_id}") or Profile()
        if current is None:
            # Only an anonymous history merges; a device switching accounts keeps each customer's own.
            anonymous = self._get(f"v:{visitor_id}")
            if anonymous is not None:
                customer.merge(anonymous)
                self._profiles.pop(f"v:{visitor_id}", None)
        customer.apply([Event("customer", customer_id, time.time())])
        self._profiles[f"c:{customer_id}"] = customer.dumps()
        self._links[visitor_id] = customer_id
        self._changed(f"c:{customer_id}", f"link:{visitor_id}")

    async def load_customer(self, customer_id: str) -> Profile | None:
        return self._get(f"c:{customer_id}")

    async def record_customer(self, customer_id: str, events: Sequence[Event]) -> None:
        self._apply(f"c:{customer_id}", events)

    async def erase(self, visitor_id: str) -> None:
        key = self._key(visitor_id)
        self._profiles.pop(key, None)
        self._links.pop(visitor_id, None)
        self._written.pop(key, None)
        self._written.pop(f"link:{visitor_id}", None)
        # Erasure must reach the file too, not only memory.
        self._dirty = True
        self.save_now()
