"""Where profiles live: one interface, implementations chosen by configuration.

The embedded store keeps serialized profiles in process memory with a sliding retention period;
it needs nothing installed and is the default. Every implementation raises StoreError (and only
that) so the proxy can fail open on any store problem.
"""

from __future__ import annotations

import abc

from cachetools import TTLCache

from collections.abc import Sequence

from .profile import Event, Profile, ProfileDecodeError

__all__ = ["ProfileStore", "MemoryStore", "StoreError"]


class StoreError(Exception):
    """The store could not answer; the page is served unpersonalized."""


class ProfileStore(abc.ABC):
    @abc.abstractmethod
    async def load(self, visitor_id: str) -> Profile | None: ...

    @abc.abstractmethod
    async def record(self, visitor_id: str, events: Sequence[Event]) -> None:
        """Apply `events` to the stored profile (creating it), atomically with respect to other writers."""

    @abc.abstractmethod
    async def erase(self, visitor_id: str) -> None: ...

    async def aclose(self) -> None:
        """Release connections and flush pending writes."""


class MemoryStore(ProfileStore):
    """In-process profiles, bounded in count, each expiring after `retention` seconds without a write."""

    def __init__(self, retention: float, max_profiles: int = 200_000) -> None:
        self._profiles: TTLCache[str, bytes] = TTLCache(maxsize=max_profiles, ttl=retention)

    async def load(self, visitor_id: str) -> Profile | None:
        data = self._profiles.get(visitor_id)
        if data is None:
            return None
        try:
            return Profile.loads(data)
        except ProfileDecodeError as exc:
            raise StoreError(str(exc)) from exc

    async def record(self, visitor_id: str, events: Sequence[Event]) -> None:
        # One event loop runs this without awaiting in between: nothing else writes meanwhile.
        profile = await self.load(visitor_id) or Profile()
        profile.apply(events)
        # Re-inserting resets the TTL: retention slides with activity.
        self._profiles[visitor_id] = profile.dumps()

    async def erase(self, visitor_id: str) -> None:
        self._profiles.pop(visitor_id, None)
