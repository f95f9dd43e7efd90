"""Profiles in Redis, shared by every Etalage process in front of one shop.

Keys (`key_prefix` defaults to "etalage:"):

    <prefix>v:<visitor id>     the serialized Profile of an anonymous visitor
    <prefix>c:<customer id>    the serialized Profile of a known customer
    <prefix>link:<visitor id>  the customer id that visitor id logged in as
    <prefix>erased:<visitor id>  "1" for the retention period after that id was erased ("forget me")

There is no index from a customer to its links: erase_customer() and customer_devices() scan the
link keys (SCAN, in pages), an admin's occasional request, so that page views pay nothing for it.

Every write sets the written key's TTL to the retention period (and a write through a link refreshes
the link too), so retention slides with activity exactly as in the embedded store.

Reads sit on the response path: a load is one EVALSHA of a script that follows the link and returns
the profile (redis-py's Script registers it on first use after a server start), behind a small
local cache whose entries live `cache_ttl` seconds from the moment they were read from Redis (so
another process's writes show up within `cache_ttl`).

Writes are not on the response path: record() queues events and a background flusher writes them
in batches. Each batch is one optimistic transaction (WATCH the keys, read, Profile.apply in Python,
MULTI/SET/EXEC), so the profile logic exists once, in profile.py, and two processes writing to one
profile never lose each other's events. When a batch keeps conflicting it is retried key by key.
If Redis is unreachable the events stay queued (up to `max_pending_events`; beyond it, the events of the
profile queued longest ago are dropped first) and go out on a later flush. Delivery is at least once: should a connection die after Redis ran an
EXEC but before its reply arrived, that batch is applied again on the next flush.

On a Redis Cluster (a redis+cluster:// URL) every key's id is a hash tag, as in
`<prefix>v:{<visitor id>}`, so a visitor's profile, link and erased marker share one slot, and every
command, script and transaction stays in one slot:

- reading an anonymous visitor is one round trip (an MGET of the link and the profile; no script);
  a linked visitor costs a second one, a GET in the customer's slot;
- each profile is written in a transaction of its own (not 128 to a batch); a linked visitor's events
  are written in the customer's slot, watching the customer's profile, with the link read just before
  outside that transaction (a link changing in between sends them to the customer it named);
- link() takes three steps instead of one transaction: link the id (taking its anonymous profile away,
  in its slot), merge that profile into the customer's (the customer's slot), link a renewed id (its
  slot). A crash between the steps loses the anonymous profile, never the customer's;
- erasing a linked visitor deletes the customer's profile after the script, in the customer's slot.

Every Redis or decoding failure leaves this module as StoreError, the one exception the proxy
expects. The store is used from one event loop.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import NamedTuple, TypeVar, cast

from cachetools import TLRUCache, TTLCache
from redis.asyncio import RedisCluster
from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import ClusterPipeline
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.exceptions import WatchError

from etalage.profiles.profile import Event, Profile, ProfileDecodeError
from etalage.profiles.redis_client import REDIS_ERRORS, connect
from etalage.profiles.store import ProfileStore, StoreError

__all__ = ["RedisStore"]

log = logging.getLogger("etalage.redis_store")
_T = TypeVar("_T")

# KEYS[1] = link key, KEYS[2] = the visitor's own profile key, ARGV[1] = customer key prefix.
# Returns {customer id or nil, profile bytes or nil}. The customer key is derived from the link's
# value, so this script needs a single (non-cluster) Redis, like the rest of this store.
_LOAD_LUA = """
local customer = redis.call('GET', KEYS[1])
if customer then
  return {customer, redis.call('GET', ARGV[1] .. customer)}
end
return {false, redis.call('GET', KEYS[2])}
"""

# The load script's KEYS/ARGV, then KEYS[3] the id's erased marker and ARGV[2] its lifetime in ms
# (0: no marker). Deletes the visitor's link, its own profile and (unless ARGV[1] is empty, as on a
# cluster, where it is in another slot) the profile of the customer it was linked to, marks the id
# erased if asked to; returns that customer id (or nil).
_ERASE_LUA = """
local customer = redis.call('GET', KEYS[1])
redis.call('DEL', KEYS[1], KEYS[2])
if ARGV[2] ~= '0' then
  redis.call('SET', KEYS[3], '1', 'PX', ARGV[2])
end
if customer and ARGV[1] ~= '' then
  redis.call('DEL', ARGV[1] .. customer)
end
return customer
"""

# KEYS = link keys, ARGV[1] = a customer id: deletes each link that still names that customer (one
# relinked meanwhile is left alone); returns how many went.
_UNLINK_CUSTOMER_LUA = """
local removed = 0
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    removed = removed + redis.call('DEL', key)
  end
end
return removed
"""

# Profile keys per flush transaction; a batch this size is one WATCH, two MGETs and one MULTI/EXEC.
_BATCH_KEYS = 128
# A transaction that keeps meeting concurrent writers is retried this often before giving up.
_MAX_ATTEMPTS = 16
# While Redis is unreachable the flusher tries again this often (at most), not every flush_interval.
_RETRY_INTERVAL = 0.5
# A read that flushes keep overlapping is answered from its last attempt, as well as can be.
_READ_ATTEMPTS = 3
# Every Redis call of the store translates these into StoreError. redis-py's asyncio clients can fail with
# AttributeError or TypeError when a connection is closed under a command in flight, as a cluster failover
# does (redis/redis-py#3546, #3835): Redis failures all the same.
_CLIENT_FAILURES = (*REDIS_ERRORS, OSError, AttributeError, TypeError)


class _Cached(NamedTuple):
    deadline: float  # time.monotonic() when the entry stops being served
    customer: str | None  # the customer the visitor id was linked to when read
    data: bytes | None  # serialized profile; None means "no profile"
    writes: int = 0  # RedisStore._customer_writes when the read began


class _Batch:
    """The queued events of one profile reference ("v:<id>" or "c:<id>") taken by a flush."""

    __slots__ = ("ref", "events", "cancelled", "written")

    def __init__(self, ref: str, events: list[Event]) -> None:
        self.ref = ref
        self.events = events
        self.cancelled = False  # set by erase(): the events must not be written any more
        self.written = False


class _Contended(Exception):
    """A transaction kept failing on WATCH because other writers changed its keys."""


def _stored(replies: list[bytes | str | None]) -> list[bytes | None]:
    """GET and MGET replies as this store's client gives them: bytes or None. redis-py's types
    allow str too, for clients made with decode_responses, which this one is not."""
    return cast("list[bytes | None]", replies)


def _load(data: bytes) -> Profile:
    try:
        return Profile.loads(data)
    except ProfileDecodeError as exc:
        raise StoreError(f"unreadable profile in Redis: {exc}") from exc


def _decode(data: bytes | None) -> Profile | None:
    return _load(data) if data is not None else None


def _text(data: bytes) -> str:
    # Ids went in as str; surrogateescape keeps even a foreign link value round-trippable, never raising.
    return data.decode("utf-8", "surrogateescape")


def _apply(profile: Profile, events: Sequence[Event]) -> int:
    """Profile.apply, one event at a time, skipping (and logging) an event it cannot apply; returns how many were skipped.

    A malformed event (say, from an import) must not fail a read, nor stay queued forever."""
    skipped = 0
    for event in events:
        try:
            profile.apply((event,))
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            log.warning("skipping a profile event that cannot be applied: %r (%s)", event, exc)
            skipped += 1
    return skipped


def _scan_cursor(text: str) -> int:
    if text == "":
        return 0
    if not text.isascii() or not text.isdigit():
        raise ValueError(f"not a cursor of the Redis store: {text!r}")
    return int(text)


def _cluster_cursor(text: str, primaries: int) -> tuple[int, int]:
    """(the primary's place in name order, its SCAN cursor) from "<place>:<cursor>"."""
    if text == "":
        return 0, 0
    place, colon, scan = text.partition(":")
    if not colon or not (place + scan).isascii() or not place.isdigit() or not scan.isdigit() or int(place) >= primaries:
        raise ValueError(f"not a cursor of this Redis Cluster: {text!r}")
    return int(place), int(scan)


def _connection_lost(exc: WatchError) -> bool:
    """redis-py reports a connection dying inside WATCH/MULTI as a WatchError; tell that from a conflict."""
    cause = exc.__cause__ or exc.__context__
    return isinstance(cause, (RedisConnectionError, RedisTimeoutError, OSError))


class RedisStore(ProfileStore):
    """Profiles in Redis at `url` (one server, a master through Sentinel or a Cluster: see redis_client), each kept `retention` seconds after its last write.

    `cache_ttl`/`cache_size` bound the local read cache (0 turns it off); queued events are written
    every `flush_interval` seconds, at most `max_pending_events` of them wait while Redis is away.
    `socket_timeout` bounds connecting, every Redis reply and waiting for one of `max_connections`.
    `flush()` writes the queue now; `dropped_events` and `pending_events` are there for metrics.
    """

    def __init__(
        self,
        url: str,
        retention: float,
        *,
        cache_ttl: float = 1.0,
        cache_size: int = 50_000,
        flush_interval: float = 0.05,
        key_prefix: str = "etalage:",
        max_pending_events: int = 100_000,
        socket_timeout: float = 0.25,
        max_connections: int = 64,
    ) -> None:
        if retention <= 0:
            raise ValueError("retention must be positive")
        self._prefix = key_prefix
        self._customer_prefix = f"{key_prefix}c:"
        self._ttl_ms = max(1, round(retention * 1000))
        self._cache_ttl = cache_ttl
        self._flush_interval = flush_interval
        self._max_pending = max_pending_events
        self._connection = connect(url, socket_timeout=socket_timeout, max_connections=max_connections)
        self._redis = self._connection.redis
        self._cluster = isinstance(self._redis, RedisCluster)
        self._load_script = self._redis.register_script(_LOAD_LUA)
        self._erase_script = self._redis.register_script(_ERASE_LUA)
        self._unlink_customer_script = self._redis.register_script(_UNLINK_CUSTOMER_LUA)
        # Entries keep the deadline of the read that filled them, even when record() updates them:
        # a TTLCache would restart the clock on every update and a busy visitor would never see
        # other processes' writes again.
        self._cache: TLRUCache[str, _Cached] | None = (
            TLRUCache(maxsize=cache_size, ttu=lambda _key, entry, _now: entry.deadline) if cache_ttl > 0 and cache_size > 0 else None
        )
        # Customers written by id here (record_customer: the API, an import), each with the count of such
        # writes then: a linked visitor's entry read before is stale. Kept as long as such an entry lives.
        self._customer_writes = 0
        self._customers_written: TTLCache[str, int] = TTLCache(maxsize=max(cache_size, 1), ttl=max(cache_ttl, 1e-9))
        # Queued events per profile reference, oldest reference first.
        self._pending: dict[str, list[Event]] = {}
        self._pending_count = 0
        # Batches a flush has taken and not yet written (at most one per reference: flushes are serialized).
        self._inflight: dict[str, _Batch] = {}
        # References with a Redis read under way, and those written locally meanwhile (not cached then).
        self._reading: dict[str, int] = {}
        self._touched: set[str] = set()
        # Counts flushes taking and settling batches, so a read can tell that one overlapped it.
        self._flush_events = 0
        self._flush_lock = asyncio.Lock()
        self._wakeup = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None
        self._healthy = True
        self._closed = False
        self._warned_full = False
        # Events that were never written: queue overflow, or an unreadable profile to apply them to.
        self.dropped_events = 0

    def _key(self, kind: str, ident: str) -> str:
        """The key of `kind` ("v", "c", "link", "erased") for an id; on a cluster the id is a hash tag,
        so a visitor's profile, link and erased marker share a slot."""
        return f"{self._prefix}{kind}:{{{ident}}}" if self._cluster else f"{self._prefix}{kind}:{ident}"

    # -- reading ------------------------------------------------------------------------------

    async def load(self, visitor_id: str) -> Profile | None:
        ref = f"v:{visitor_id}"
        keys = [self._key("link", visitor_id), self._key("v", visitor_id)]
        if not self._cluster:
            return await self._read(ref, lambda: self._load_script(keys=keys, args=[self._customer_prefix]))

        async def fetch() -> list[bytes | None]:
            # One slot per command on a cluster: the link and the visitor's own profile in one MGET,
            # and for a linked visitor a second round trip, to the customer's slot.
            customer, own = _stored(await self._redis.mget(keys))
            if customer is None:
                return [None, own]
            return _stored([customer, await self._redis.get(self._key("c", _text(customer)))])

        return await self._read(ref, fetch)

    async def load_customer(self, customer_id: str) -> Profile | None:
        key = self._key("c", customer_id)

        async def fetch() -> list[bytes | None]:
            return _stored([None, await self._redis.get(key)])

        return await self._read(f"c:{customer_id}", fetch)

    async def _read(self, ref: str, fetch: Callable[[], Awaitable[list[bytes | None]]]) -> Profile | None:
        entry = self._cache.get(ref) if self._cache is not None else None
        if entry is not None and not self._written_since(entry):
            return Profile.loads(entry.data) if entry.data is not None else None
        writes = self._customer_writes
        for attempt in range(1, _READ_ATTEMPTS + 1):
            flushes = self._flush_events
            raw_customer, data, touched = await self._fetch(ref, fetch)
            customer = _text(raw_customer) if raw_customer is not None else None
            # Events a flush has taken are neither queued nor surely in Redis: whether this answer
            # holds them depends on when Redis ran the flush's EXEC. When a flush of this profile may
            # have overlapped the read (any flush began or ended meanwhile, or one is under way), the
            # read is done again once that flush is over.
            in_flight = ref in self._inflight or (customer is not None and f"c:{customer}" in self._inflight)
            certain = not in_flight and flushes == self._flush_events
            if certain or attempt == _READ_ATTEMPTS:
                break
            async with self._flush_lock:
                pass
        profile = _decode(data)
        # Events this process queued and no flush has taken yet are not in Redis: show them anyway.
        queued = self._pending.get(ref, []) + (self._pending.get(f"c:{customer}", []) if customer is not None else [])
        if queued:
            profile = profile or Profile()
            _apply(profile, queued)
            data = profile.dumps()
        # Cache only what is certain: nothing written locally during the read, no write in flight.
        if self._cache is not None and not touched and certain:
            self._cache[ref] = _Cached(time.monotonic() + self._cache_ttl, customer, data, writes)
        return profile

    def _written_since(self, entry: _Cached) -> bool:
        """Whether the customer a cached visitor was linked to was written by id since the entry was
        read: a CRM's change (the customers or events API) shows on that visitor's next page view."""
        return entry.customer is not None and self._customers_written.get(entry.customer, -1) >= entry.writes

    async def _fetch(self, ref: str, fetch: Callable[[], Awaitable[list[bytes | None]]]) -> tuple[bytes | None, bytes | None, bool]:
        """(customer id, profile data) as Redis has them, and whether `ref` was written locally meanwhile."""
        self._reading[ref] = self._reading.get(ref, 0) + 1
        try:
            raw_customer, data = await fetch()
        except _CLIENT_FAILURES as exc:
            raise StoreError(f"Redis: {exc}") from exc
        finally:
            remaining = self._reading.pop(ref) - 1
            touched = ref in self._touched
            if remaining:
                self._reading[ref] = remaining
            else:
                self._touched.discard(ref)
        return raw_customer, data, touched

    # -- writing ------------------------------------------------------------------------------

    async def record(self, visitor_id: str, events: Sequence[Event]) -> None:
        """Queue the events; the flusher writes them within about flush_interval. Never waits for Redis."""
        self._enqueue(f"v:{visitor_id}", events)

    async def record_customer(self, customer_id: str, events: Sequence[Event]) -> None:
        self._enqueue(f"c:{customer_id}", events)
        if self._cache is not None:
            self._customers_written[customer_id] = self._customer_writes
            self._customer_writes += 1

    def _enqueue(self, ref: str, events: Sequence[Event]) -> None:
        if self._closed:
            raise StoreError("the Redis profile store is closed")
        if not events:
            return
        self._pending.setdefault(ref, []).extend(events)
        self._pending_count += len(events)
        self._touch(ref)
        self._update_cached(ref, events)
        self._drop_beyond_cap()
        if self._flusher is None or self._flusher.done():
            # A context of its own: the request that happens to start the flusher must not name its log lines.
            self._flusher = asyncio.get_running_loop().create_task(
                self._flush_periodically(), name="etalage-redis-flusher", context=contextvars.Context()
            )
        self._wakeup.set()

    def _update_cached(self, ref: str, events: Sequence[Event]) -> None:
        """Apply the events to this process's cached copies so it sees its own writes at once."""
        if self._cache is None:
            return
        entry = self._cache.get(ref)
        refs = [ref] if entry is None or entry.customer is None else [ref, f"c:{entry.customer}"]
        for each in refs:
            cached = self._cache.get(each)
            if cached is not None:
                profile = Profile.loads(cached.data) if cached.data is not None else Profile()
                _apply(profile, events)
                self._cache[each] = cached._replace(data=profile.dumps())

    def _drop_beyond_cap(self) -> None:
        while self._pending_count > self._max_pending:
            ref = next(iter(self._pending))
            events = self._pending[ref]
            excess = min(len(events), self._pending_count - self._max_pending)
            del events[:excess]
            if not events:
                del self._pending[ref]
            self._pending_count -= excess
            if not self._warned_full:
                self._warned_full = True
                log.warning("more than %d profile events queued for Redis; dropping the oldest", self._max_pending)
            self.dropped_events += excess

    def _touch(self, ref: str) -> None:
        if ref in self._reading:
            self._touched.add(ref)

    def backlog(self) -> tuple[int, int]:
        return self._pending_count, self.dropped_events

    @property
    def pending_events(self) -> int:
        """Events queued and not yet taken by a flush."""
        return self._pending_count

    async def flush(self) -> None:
        """Write every event queued before this call. StoreError (the events stay queued) when Redis fails."""
        await self._flush(None)

    async def _flush(self, refs: Sequence[str] | None) -> None:
        async with self._flush_lock:
            batches = self._take(refs)
            if not batches:
                return
            failure: BaseException | None = None
            try:
                for start in range(0, len(batches), _BATCH_KEYS):
                    await self._commit_chunk(batches[start : start + _BATCH_KEYS])
            except _CLIENT_FAILURES as exc:
                failure = exc
            finally:
                unwritten = self._settle(batches)
            if failure is not None:
                self._set_healthy(False, failure)
                raise StoreError(f"Redis: {failure}") from failure
            self._set_healthy(True)
            if unwritten:
                raise StoreError(f"{unwritten} profiles kept changing under concurrent writers; their events stay queued")

    def _take(self, refs: Sequence[str] | None) -> list[_Batch]:
        if refs is None:
            taken, self._pending = self._pending, {}
        else:
            taken = {ref: self._pending.pop(ref) for ref in refs if ref in self._pending}
        batches = [_Batch(ref, events) for ref, events in taken.items()]
        if batches:
            self._flush_events += 1
        for batch in batches:
            self._pending_count -= len(batch.events)
            self._inflight[batch.ref] = batch
            self._touch(batch.ref)
        return batches

    def _settle(self, batches: list[_Batch]) -> int:
        """End a flush: unwritten batches go back in front of the queue (they are older than anything
        queued since); returns how many went back."""
        self._flush_events += 1
        front: dict[str, list[Event]] = {}
        for batch in batches:
            self._inflight.pop(batch.ref, None)
            self._touch(batch.ref)
            if batch.written or batch.cancelled:
                continue
            front[batch.ref] = batch.events + self._pending.pop(batch.ref, [])
            self._pending_count += len(batch.events)
        if front:
            front.update(self._pending)
            self._pending = front
            self._drop_beyond_cap()
        return len(front)

    async def _commit_chunk(self, chunk: list[_Batch]) -> None:
        """Write a chunk in one transaction, or key by key when it keeps conflicting.

        A cluster transaction stays in one slot, so there each profile is a transaction of its own."""
        if self._cluster:
            for batch in chunk:
                try:
                    await self._transaction([batch], attempts=_MAX_ATTEMPTS)
                except _Contended:
                    pass  # stays unwritten: queued again by _settle
            return
        try:
            await self._transaction(chunk, attempts=2)
            return
        except _Contended:
            pass
        for batch in chunk:
            try:
                await self._transaction([batch], attempts=_MAX_ATTEMPTS)
            except _Contended:
                pass  # stays unwritten: queued again by _settle

    async def _transaction(self, batches: list[_Batch], attempts: int) -> None:
        for _ in range(attempts):
            live = [batch for batch in batches if not batch.cancelled]
            if not live:
                return
            try:
                if self._cluster:
                    await self._apply_in_slots(live[0])  # chunks of one batch on a cluster: see _commit_chunk
                else:
                    async with self._redis.pipeline(transaction=True) as pipe:
                        await self._apply_batches(cast("Pipeline", pipe), live)
                for batch in live:
                    batch.written = True
                return
            except WatchError as exc:
                if _connection_lost(exc):
                    raise RedisConnectionError(str(exc)) from exc
        raise _Contended()

    async def _apply_in_slots(self, batch: _Batch) -> None:
        """A cluster's version of _apply_batches for one profile: a visitor's link and own profile share
        a slot, so an unlinked visitor is one transaction watching both. A linked visitor's events go to
        the customer's slot in a second transaction, watching the customer's profile only: a link
        changing between the two sends them to the customer it named when read."""
        if batch.ref.startswith("v:"):
            link_key, own_key = self._key("link", batch.ref[2:]), self._key("v", batch.ref[2:])
            async with self._redis.pipeline(transaction=True) as pipe:
                await pipe.watch(link_key, own_key)
                customer = _stored([await pipe.get(link_key)])[0]
                if customer is None:
                    await self._write_profile(pipe, own_key, batch)
                    return
            async with self._redis.pipeline(transaction=True) as pipe:
                await pipe.watch(target := self._key("c", _text(customer)))
                await self._write_profile(pipe, target, batch)
            await self._redis.pexpire(link_key, self._ttl_ms)
            return
        async with self._redis.pipeline(transaction=True) as pipe:
            await pipe.watch(target := self._key("c", batch.ref[2:]))
            await self._write_profile(pipe, target, batch)

    async def _write_profile(self, pipe: Pipeline | ClusterPipeline, key: str, batch: _Batch) -> None:
        """Read the watched profile at `key`, apply the batch in Python and write it back in MULTI/EXEC."""
        data = _stored([await pipe.get(key)])[0]
        try:
            profile = Profile.loads(data) if data is not None else Profile()
        except ProfileDecodeError as exc:
            # As in _apply_batches: maybe a newer Etalage's schema; leave it alone, lose these events.
            log.warning("not writing to unreadable profile %s: %s", key, exc)
            self.dropped_events += len(batch.events)
            return
        lost = _apply(profile, batch.events)
        if batch.cancelled:
            raise WatchError("erased while being written")
        pipe.multi()
        pipe.set(key, profile.dumps(), px=self._ttl_ms)
        await pipe.execute()
        self.dropped_events += lost

    async def _apply_batches(self, pipe: Pipeline, batches: list[_Batch]) -> None:
        """WATCH, read, apply the events in Python, write back in MULTI/EXEC (WatchError on any concurrent change)."""
        prefix = self._prefix
        visitors = [batch.ref[2:] for batch in batches if batch.ref.startswith("v:")]
        link_keys = [f"{prefix}link:{visitor_id}" for visitor_id in visitors]
        own_keys = [prefix + batch.ref for batch in batches]
        await pipe.watch(*link_keys, *own_keys)
        customers = dict(zip(visitors, _stored(await pipe.mget(link_keys)))) if link_keys else {}
        targets = []
        for batch in batches:
            customer = customers.get(batch.ref[2:]) if batch.ref.startswith("v:") else None
            targets.append(self._customer_prefix + _text(customer) if customer is not None else prefix + batch.ref)
        unwatched = set(targets).difference(own_keys)
        if unwatched:
            # Watched before being read, so a change between the link's read and this one still aborts.
            await pipe.watch(*unwatched)
        keys = list(dict.fromkeys(targets))
        profiles: dict[str, Profile] = {}
        for key, data in zip(keys, _stored(await pipe.mget(keys))):
            try:
                profiles[key] = Profile.loads(data) if data is not None else Profile()
            except ProfileDecodeError as exc:
                # Maybe a newer Etalage's schema during a rolling upgrade: leave it alone, lose these events.
                log.warning("not writing to unreadable profile %s: %s", key, exc)
        lost = 0
        for batch, target in zip(batches, targets):
            if target in profiles:
                lost += _apply(profiles[target], batch.events)
            else:
                lost += len(batch.events)
        if any(batch.cancelled for batch in batches):
            raise WatchError("erased while being written")
        pipe.multi()
        for key, profile in profiles.items():
            pipe.set(key, profile.dumps(), px=self._ttl_ms)
        for link_key, customer in zip(link_keys, customers.values()):
            if customer is not None:
                pipe.pexpire(link_key, self._ttl_ms)
        await pipe.execute()
        self.dropped_events += lost

    async def _flush_periodically(self) -> None:
        while True:
            await self._wakeup.wait()
            await asyncio.sleep(self._flush_interval if self._healthy else max(self._flush_interval, _RETRY_INTERVAL))
            self._wakeup.clear()
            try:
                await self.flush()
            except StoreError:
                self._wakeup.set()  # the events stay queued: try again later
            except Exception:
                log.exception("unexpected error flushing profile events to Redis")
                self._wakeup.set()

    def _set_healthy(self, healthy: bool, exc: BaseException | None = None) -> None:
        """Log once per change of state, not once per failed flush."""
        if healthy == self._healthy:
            return
        self._healthy = healthy
        if healthy:
            log.warning("Redis profile store reachable again; queued profile events written")
        else:
            log.warning(
                "Redis profile store unreachable (%s); profile events stay queued (%d now) and are retried", exc, self._pending_count
            )

    # -- linking and erasing ------------------------------------------------------------------

    async def link(self, visitor_id: str, customer_id: str, *, renew_to: str | None = None) -> str:
        """Merge the visitor's profile into the customer's and link them, once; with `renew_to`, link
        that id instead and unlink `visitor_id`, in the same transaction.

        The proxy links on every response that names the customer, so an existing link costs at
        most one GET (none when this process read it within cache_ttl); writes through the link
        keep its TTL sliding.
        """
        ref = f"v:{visitor_id}"
        link_key = self._key("link", visitor_id)
        own_key = self._key("v", visitor_id)
        customer_key = self._key("c", customer_id)
        entry = self._cache.get(ref) if self._cache is not None else None
        if entry is not None and entry.customer == customer_id:
            return visitor_id
        try:
            if await self._redis.get(link_key) == customer_id.encode():
                return visitor_id
        except _CLIENT_FAILURES as exc:
            raise StoreError(f"Redis: {exc}") from exc
        # Write what this process queued for the visitor first, so it is part of the merge.
        await self._flush([ref])
        try:
            if self._cluster:
                return await self._link_in_slots(visitor_id, customer_id, renew_to)

            async def merge(pipe: Pipeline | ClusterPipeline) -> str:
                current, anonymous, known = _stored(await pipe.mget(link_key, own_key, customer_key))
                linked = visitor_id
                if current == customer_id.encode():
                    pipe.multi()
                    pipe.pexpire(link_key, self._ttl_ms)
                else:
                    customer = _decode(known) or Profile()
                    if anonymous is not None:
                        customer.merge(_load(anonymous))
                    customer.apply([Event("customer", customer_id, time.time())])
                    pipe.multi()
                    if anonymous is not None:
                        pipe.delete(own_key)
                    pipe.set(customer_key, customer.dumps(), px=self._ttl_ms)
                    if renew_to is not None:
                        # The old id keeps nothing: its link goes in the transaction that links the new one.
                        pipe.delete(link_key)
                        linked = renew_to
                    pipe.set(self._key("link", linked), customer_id, px=self._ttl_ms)
                await pipe.execute()
                return linked

            linked = await self._watched([link_key, own_key, customer_key], merge, "linking visitor to customer")
        except _CLIENT_FAILURES as exc:
            raise StoreError(f"Redis: {exc}") from exc
        finally:
            self._forget_cached(f"v:{visitor_id}")
            self._forget_cached(f"c:{customer_id}")
            if renew_to is not None:
                self._forget_cached(f"v:{renew_to}")
        return linked

    async def _link_in_slots(self, visitor_id: str, customer_id: str, renew_to: str | None) -> str:
        """link() on a cluster, where the visitor's keys, the customer's and the renewed id's are in
        different slots: three steps, not one transaction. The link goes first (in the visitor's slot,
        watching its own profile, which it takes away), so every later write goes to the customer;
        then the profile it took is merged into the customer's; then the renewed id is linked.
        A crash between the steps loses the visitor's anonymous profile, never a customer's."""
        link_key, own_key = self._key("link", visitor_id), self._key("v", visitor_id)

        async def take(pipe: Pipeline | ClusterPipeline) -> tuple[bool, Profile | None]:
            """(whether the visitor was linked to the customer already, the anonymous profile taken)."""
            # No MGET in a cluster pipeline (redis-py blocks it): two GETs while watching.
            current, anonymous = _stored([await pipe.get(link_key), await pipe.get(own_key)])
            if current == customer_id.encode():
                await self._redis.pexpire(link_key, self._ttl_ms)
                return True, None
            pipe.multi()
            pipe.delete(own_key)
            if renew_to is None:
                pipe.set(link_key, customer_id, px=self._ttl_ms)
            else:
                pipe.delete(link_key)
            await pipe.execute()
            return False, _load(anonymous) if anonymous is not None else None

        already, taken = await self._watched([link_key, own_key], take, "linking visitor to customer")
        if already:
            return visitor_id
        customer_key = self._key("c", customer_id)

        async def merge(pipe: Pipeline | ClusterPipeline) -> None:
            customer = _decode(_stored([await pipe.get(customer_key)])[0]) or Profile()
            if taken is not None:
                customer.merge(taken)
            customer.apply([Event("customer", customer_id, time.time())])
            pipe.multi()
            pipe.set(customer_key, customer.dumps(), px=self._ttl_ms)
            await pipe.execute()

        await self._watched([customer_key], merge, "merging into the customer's profile")
        if renew_to is None:
            return visitor_id
        await self._redis.set(self._key("link", renew_to), customer_id, px=self._ttl_ms)
        return renew_to

    async def unlink(self, visitor_id: str) -> bool:
        """Delete the id's link; what this process queued under the id is written first, through the
        link, so the customer's last page views land on their profile, not on the abandoned id."""
        ref = f"v:{visitor_id}"
        try:
            await self._flush([ref])
        except StoreError:
            pass  # the events stay queued; the link must go all the same
        try:
            deleted = await self._redis.delete(self._key("link", visitor_id))
        except _CLIENT_FAILURES as exc:
            raise StoreError(f"Redis: {exc}") from exc
        finally:
            self._forget_cached(ref)
        return bool(deleted)

    async def erase(self, visitor_id: str, *, remember: bool = False) -> None:
        ref = f"v:{visitor_id}"
        self._forget_queued(ref)
        try:
            customer = await self._erase_script(
                keys=[self._key("link", visitor_id), self._key("v", visitor_id), self._key("erased", visitor_id)],
                # On a cluster the customer's profile is in another slot: deleted here, not by the script.
                args=["" if self._cluster else self._customer_prefix, self._ttl_ms if remember else 0],
            )
            if customer is not None and self._cluster:
                await self._redis.delete(self._key("c", _text(customer)))
        except _CLIENT_FAILURES as exc:
            raise StoreError(f"Redis: {exc}") from exc
        if customer is not None:
            self._forget_queued(f"c:{_text(customer)}")

    async def erased(self, visitor_id: str) -> bool:
        try:
            return bool(await self._redis.exists(self._key("erased", visitor_id)))
        except _CLIENT_FAILURES as exc:
            raise StoreError(f"Redis: {exc}") from exc

    async def withdraw(self, visitor_id: str, refusal: Event, *, erase_customer: bool) -> None:
        ref = f"v:{visitor_id}"
        link_key, own_key = self._key("link", visitor_id), self._key("v", visitor_id)
        try:
            raw_customer = _stored([await self._redis.get(link_key)])[0]
        except _CLIENT_FAILURES as exc:
            raise StoreError(f"Redis: {exc}") from exc
        if raw_customer is None:
            await self.erase(visitor_id)
            return
        customer_id = _text(raw_customer)
        customer_key = self._key("c", customer_id)
        self._forget_queued(ref)
        if erase_customer:
            self._forget_queued(f"c:{customer_id}")
        try:
            if self._cluster:
                # The device's keys and the customer's live in two slots: unlink first (a flush writing
                # through the link WATCHes it and starts over, unlinked), then the customer's refusal.
                await self._redis.delete(link_key, own_key)

            async def refuse(pipe: Pipeline | ClusterPipeline) -> None:
                known = _stored([await pipe.get(customer_key)])[0]
                kept = (None if erase_customer else _decode(known)) or Profile(customer_id=customer_id)
                _apply(kept, [refusal])
                pipe.multi()
                if not self._cluster:
                    pipe.delete(link_key, own_key)
                pipe.set(customer_key, kept.dumps(), px=self._ttl_ms)
                await pipe.execute()

            await self._watched([customer_key] if self._cluster else [link_key, customer_key], refuse, "withdrawing consent")
        except _CLIENT_FAILURES as exc:
            raise StoreError(f"Redis: {exc}") from exc
        finally:
            self._forget_cached(ref)
            self._forget_cached(f"c:{customer_id}")

    async def _watched(self, keys: list[str], work: Callable[[Pipeline | ClusterPipeline], Awaitable[_T]], what: str) -> _T:
        """`work` in a transaction that WATCHes `keys`, run again while other writers change them (at most
        _MAX_ATTEMPTS times, then StoreError); a connection lost inside it is no conflict and goes up."""
        for _ in range(_MAX_ATTEMPTS):
            try:
                async with self._redis.pipeline(transaction=True) as pipe:
                    await pipe.watch(*keys)
                    return await work(pipe)
            except WatchError as exc:
                if _connection_lost(exc):
                    raise
        raise StoreError(f"{what} gave up after {_MAX_ATTEMPTS} conflicting attempts")

    async def _customer_links(self, customer_id: str) -> list[str]:
        """The link keys naming this customer, found by scanning every link key."""
        wanted = customer_id.encode()
        found: list[str] = []
        keys: list[bytes] = []

        async def check() -> None:
            for key, value in zip(keys, _stored(await self._mget(keys))):
                if value == wanted:
                    found.append(_text(key))
            keys.clear()

        try:
            async for key in self._redis.scan_iter(match=f"{self._prefix}link:*", count=1000):
                keys.append(key)
                if len(keys) == _BATCH_KEYS:
                    await check()
            if keys:
                await check()
        except _CLIENT_FAILURES as exc:
            raise StoreError(f"Redis: {exc}") from exc
        return found

    def _visitor_of_link(self, key: str) -> str:
        """The visitor id a link key is for (on a cluster the id is inside a hash tag)."""
        ident = key[len(f"{self._prefix}link:") :]
        return ident[1:-1] if self._cluster else ident

    async def customer_devices(self, customer_id: str) -> list[str]:
        return sorted(self._visitor_of_link(key) for key in await self._customer_links(customer_id))

    async def erase_customer(self, customer_id: str) -> bool:
        links = await self._customer_links(customer_id)
        for key in links:
            self._forget_queued(f"v:{self._visitor_of_link(key)}")
        self._forget_queued(f"c:{customer_id}")
        # On a cluster every link key is in a slot of its own: one script call each.
        batch = 1 if self._cluster else _BATCH_KEYS
        try:
            # Links first (a flush writing through one WATCHes it and starts over, unlinked), then the profile.
            for begin in range(0, len(links), batch):
                await self._unlink_customer_script(keys=links[begin : begin + batch], args=[customer_id])
            had_profile = await self._redis.delete(self._key("c", customer_id))
        except _CLIENT_FAILURES as exc:
            raise StoreError(f"Redis: {exc}") from exc
        return bool(links or had_profile)

    async def every_profile(self) -> AsyncIterator[Profile]:
        await self.flush()
        try:
            for kind in ("v", "c"):
                keys: list[bytes] = []
                async for key in self._redis.scan_iter(match=f"{self._prefix}{kind}:*", count=1000):
                    keys.append(key)
                    if len(keys) == _BATCH_KEYS:
                        for profile in self._readable(await self._mget(keys)):
                            yield profile
                        keys = []
                if keys:
                    for profile in self._readable(await self._mget(keys)):
                        yield profile
        except _CLIENT_FAILURES as exc:
            raise StoreError(f"Redis: {exc}") from exc

    async def customer_page(self, cursor: str, count: int) -> tuple[list[Profile], str]:
        """One SCAN over the customers' keys from `cursor`: "<SCAN cursor>", on a cluster "<primary>:<SCAN
        cursor>" with the primaries in name order, each scanned to its end in turn (so a cluster's
        cursor holds while its primaries stay the same: a failover midway may skip or repeat some)."""
        await self.flush()
        match = f"{self._prefix}c:*"
        try:
            if isinstance(self._redis, RedisCluster):
                await self._redis.initialize()  # the primaries are known once the client has met the cluster
                primaries = sorted(self._redis.get_primaries(), key=lambda node: node.name)
                index, scan = _cluster_cursor(cursor, len(primaries))
                # Scanning one node, redis-py answers ({node name: cursor}, keys); its types say (cursor, keys).
                cursors, keys = cast(
                    "tuple[dict[str, int], list[bytes]]",
                    await self._redis.scan(cursor=scan, match=match, count=count, target_nodes=primaries[index]),
                )
                scan = cursors[primaries[index].name]
                after = f"{index}:{scan}" if scan else (f"{index + 1}:0" if index + 1 < len(primaries) else "")
            else:
                scan, found = await self._redis.scan(cursor=_scan_cursor(cursor), match=match, count=count)
                keys = cast("list[bytes]", found)  # bytes: this client does not decode responses
                after = str(scan) if scan else ""
            return self._readable(await self._mget(keys)) if keys else [], after
        except _CLIENT_FAILURES as exc:
            raise StoreError(f"Redis: {exc}") from exc

    async def _mget(self, keys: list[bytes]) -> list[bytes | str | None]:
        """MGET, split by slot on a cluster (where one MGET must stay in one slot)."""
        if isinstance(self._redis, RedisCluster):
            return await self._redis.mget_nonatomic(keys)
        return await self._redis.mget(keys)

    @staticmethod
    def _readable(values: list[bytes | str | None]) -> list[Profile]:
        profiles = []
        for data in _stored(values):
            if data is None:
                continue  # expired between the scan and the read
            try:
                profiles.append(Profile.loads(data))
            except ProfileDecodeError as exc:
                log.warning("report: leaving out a profile that cannot be read: %s", exc)
        return profiles

    def _forget_queued(self, ref: str) -> None:
        self._pending_count -= len(self._pending.pop(ref, ()))
        batch = self._inflight.get(ref)
        if batch is not None:
            batch.cancelled = True
        self._forget_cached(ref)

    def _forget_cached(self, ref: str) -> None:
        self._touch(ref)
        if self._cache is not None:
            entry = self._cache.pop(ref, None)
            if entry is not None and entry.customer is not None:
                self._cache.pop(f"c:{entry.customer}", None)

    # -- lifecycle ----------------------------------------------------------------------------

    async def ping(self) -> None:
        """One PING, bounded by socket_timeout (connecting, the reply, a free pooled connection)."""
        try:
            await self._redis.ping()
        except _CLIENT_FAILURES as exc:
            raise StoreError(f"Redis: {exc}") from exc

    async def aclose(self) -> None:
        """Stop the flusher, write everything queued and close the connections."""
        if self._closed:
            return
        self._closed = True
        if self._flusher is not None:
            async with self._flush_lock:  # let a flush under way finish first
                self._flusher.cancel()
            await asyncio.wait([self._flusher])
        try:
            await self.flush()
        except StoreError as exc:
            log.warning("closing the Redis profile store with %d profile events unwritten: %s", self._pending_count, exc)
        await self._connection.aclose()
