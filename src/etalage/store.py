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
    """Profiles of anonymous visitors (by visitor id) and of known customers (by customer id).

    Once a visitor id is linked to a customer, load/record/erase for that visitor id act on the
    customer's profile, so every device a customer logs in on shares one profile.
    """

    @abc.abstractmethod
    async def load(self, visitor_id: str) -> Profile | None:
        """The profile of this visitor (the customer's when linked), or None if there is none."""

    @abc.abstractmethod
    async def record(self, visitor_id: str, events: Sequence[Event]) -> None:
        """Apply `events` to the visitor's profile (creating it), atomically with respect to other writers."""

    @abc.abstractmethod
    async def link(self, visitor_id: str, customer_id: str) -> None:
        """Tie the visitor to a customer: the visitor's own profile merges into the customer's and is
        removed. Idempotent: linking again, or concurrently, merges nothing twice."""

    @abc.abstractmethod
    async def load_customer(self, customer_id: str) -> Profile | None: ...

    @abc.abstractmethod
    async def record_customer(self, customer_id: str, events: Sequence[Event]) -> None:
        """Apply events to a customer's profile directly (CRM imports, server-to-server calls)."""

    @abc.abstractmethod
    async def erase(self, visitor_id: str) -> None:
        """Forget the person behind this visitor id: their profile (the customer's when linked) and the link."""

    async def aclose(self) -> None:
        """Flush pending writes and release connections."""


class MemoryStore(ProfileStore):
    """In-process profiles, bounded in count, each expiring after `retention` seconds without a write.

    Every method runs without awaiting in between, so on one event loop nothing interleaves with
    a read-modify-write.
    """

    def __init__(self, retention: float, max_profiles: int = 200_000) -> None:
        # Keys: "v:<visitor id>" and "c:<customer id>" for profiles; links map visitor ids to customers.
        self._profiles: TTLCache[str, bytes] = TTLCache(maxsize=max_profiles, ttl=retention)
        self._links: TTLCache[str, str] = TTLCache(maxsize=max_profiles, ttl=retention)

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

    async def load(self, visitor_id: str) -> Profile | None:
        return self._get(self._key(visitor_id))

    async def record(self, visitor_id: str, events: Sequence[Event]) -> None:
        self._apply(self._key(visitor_id), events)

    async def link(self, visitor_id: str, customer_id: str) -> None:
        if self._links.get(visitor_id) == customer_id:
            self._links[visitor_id] = customer_id
            return
        customer = self._get(f"c:{customer_id}") or Profile()
        anonymous = self._get(self._key(visitor_id))
        if anonymous is not None:
            customer.merge(anonymous)
            self._profiles.pop(self._key(visitor_id), None)
        self._profiles[f"c:{customer_id}"] = customer.dumps()
        self._links[visitor_id] = customer_id

    async def load_customer(self, customer_id: str) -> Profile | None:
        return self._get(f"c:{customer_id}")

    async def record_customer(self, customer_id: str, events: Sequence[Event]) -> None:
        self._apply(f"c:{customer_id}", events)

    async def erase(self, visitor_id: str) -> None:
        self._profiles.pop(self._key(visitor_id), None)
        self._links.pop(visitor_id, None)
