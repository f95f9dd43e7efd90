"""The delivery queue in Redis, shared by every worker process: a Stream read through a consumer group.

- Entries due now are in the stream; every worker reads new ones with XREADGROUP under a name of its
  own, and an entry stays pending in the group until that worker finishes it. One that a stopped or
  crashed worker left pending is taken over by another with XAUTOCLAIM once it has been idle for
  `reclaim_after` seconds (longer than an attempt can take, so a live worker keeps its own).
- Entries due later (a retry's backoff, a basket's wait) wait in a sorted set by due time; a worker
  moves those due into the stream before it reads.
- Dead letters are a list, newest first, trimmed to KEPT_DEAD.
- Claims are keys with a time to live, set with the entry in one script: a moment is queued once.

Every key shares one hash tag, so the scripts work on a Redis Cluster too (all on one node).
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import uuid
from typing import Any

from redis.exceptions import ResponseError

from etalage.profiles.redis_client import REDIS_ERRORS, connect
from etalage.webhooks.queue import DeliveryQueue, Entry, QueueError

__all__ = ["RedisQueue"]

log = logging.getLogger("etalage.webhooks")

KEPT_DEAD = 1000
_GROUP = "couriers"
_FAILURES = (*REDIS_ERRORS, OSError, AttributeError, TypeError)

# KEYS: claim, stream, delayed; ARGV: claim ttl (ms), entry, due (s), now (s)
_ADD_LUA = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return 0 end
if tonumber(ARGV[3]) > tonumber(ARGV[4]) then
  redis.call('ZADD', KEYS[3], ARGV[3], ARGV[2])
else
  redis.call('XADD', KEYS[2], '*', 'entry', ARGV[2])
end
return 1
"""
# KEYS: stream, delayed; ARGV: now, limit
_PROMOTE_LUA = """
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, entry in ipairs(due) do
  redis.call('XADD', KEYS[1], '*', 'entry', entry)
  redis.call('ZREM', KEYS[2], entry)
end
return #due
"""
# KEYS: stream, delayed, dead; ARGV: group, stream id, what (done | retry | dead), entry, due, dead letters kept
_FINISH_LUA = """
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
if ARGV[3] == 'retry' then
  redis.call('ZADD', KEYS[2], ARGV[5], ARGV[4])
elseif ARGV[3] == 'dead' then
  redis.call('LPUSH', KEYS[3], ARGV[4])
  redis.call('LTRIM', KEYS[3], 0, ARGV[6] - 1)
end
return 1
"""

# KEYS: dead, stream; ARGV: the dead letter as stored, the entry to queue. Whoever removes it queues it:
# two staff resending at once send it once.
_RESEND_LUA = """
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then
  return 0
end
redis.call('XADD', KEYS[2], '*', 'entry', ARGV[2])
return 1
"""


class RedisQueue(DeliveryQueue):
    def __init__(self, url: str, *, reclaim_after: float, prefix: str = "etalage:webhooks", socket_timeout: float = 2.0) -> None:
        tag = "{" + prefix + "}"
        self._stream, self._delayed, self._dead, self._claims = f"{tag}:stream", f"{tag}:delayed", f"{tag}:dead", f"{tag}:claim:"
        self._reclaim_ms = max(1, round(reclaim_after * 1000))
        # Unique per process, so that a restarted process is another consumer and XAUTOCLAIM hands over.
        self._consumer = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._connection = connect(url, socket_timeout=socket_timeout, max_connections=8)
        self._redis = self._connection.redis
        self._add = self._redis.register_script(_ADD_LUA)
        self._promote = self._redis.register_script(_PROMOTE_LUA)
        self._finish = self._redis.register_script(_FINISH_LUA)
        self._resend = self._redis.register_script(_RESEND_LUA)
        self._group_ready = False

    async def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            # From the stream's start: entries added before any worker made the group are read too.
            await self._redis.xgroup_create(self._stream, _GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    async def add(self, entry: Entry, claim: str, claim_ttl: float) -> bool:
        key = self._claims + hashlib.sha256(claim.encode()).hexdigest()[:32]
        try:
            added = await self._add(
                keys=[key, self._stream, self._delayed], args=[max(1, round(claim_ttl * 1000)), entry.dumps(), entry.due, entry.created]
            )
        except _FAILURES as exc:
            raise QueueError(f"Redis: {exc}") from exc
        return bool(added)

    async def take(self, now: float, limit: int) -> list[Entry]:
        try:
            await self._ensure_group()
            await self._promote(keys=[self._stream, self._delayed], args=[now, limit])
            autoclaimed: Any = await self._redis.xautoclaim(self._stream, _GROUP, self._consumer, self._reclaim_ms, "0-0", count=limit)
            claimed = autoclaimed[1]
            fresh: Any = await self._redis.xreadgroup(_GROUP, self._consumer, {self._stream: ">"}, count=limit)
        except _FAILURES as exc:
            raise QueueError(f"Redis: {exc}") from exc
        messages = list(claimed) + [message for _, batch in fresh or [] for message in batch]
        entries = []
        for ref, fields in messages:
            try:
                entries.append(Entry.loads(fields[b"entry"], ref.decode()))
            except (QueueError, KeyError, TypeError) as exc:
                # Unreadable (or deleted while pending, which comes back without its fields): were it
                # left pending it would come back on every round, so it is dropped, and said so.
                log.error("webhook queue: entry %r dropped: %s", ref, exc)
                await self._finish_ref(ref.decode(), "done")
        return entries

    async def _end(self, entry: Entry, what: str) -> None:
        await self._finish_ref(entry.ref, what, entry.dumps(), entry.due)

    async def _finish_ref(self, ref: str, what: str, stored: str = "", due: float = 0.0) -> None:
        try:
            await self._finish(keys=[self._stream, self._delayed, self._dead], args=[_GROUP, ref, what, stored, due, KEPT_DEAD])
        except _FAILURES as exc:
            raise QueueError(f"Redis: {exc}") from exc

    async def done(self, entry: Entry) -> None:
        await self._end(entry, "done")

    async def retry(self, entry: Entry) -> None:
        await self._end(entry, "retry")

    async def dead(self, entry: Entry) -> None:
        await self._end(entry, "dead")

    async def resend(self, webhook_id: str, now: float) -> Entry | None:
        try:
            stored = await self._redis.lrange(self._dead, 0, -1)
            for raw in stored:
                try:
                    dead = Entry.loads(raw)
                except QueueError:
                    continue  # not the one asked for: dead_letters() shows no unreadable entry
                if dead.id == webhook_id:
                    entry = dead.revived(now)
                    return entry if await self._resend(keys=[self._dead, self._stream], args=[raw, entry.dumps()]) else None
        except _FAILURES as exc:
            raise QueueError(f"Redis: {exc}") from exc
        return None

    async def depth(self) -> int:
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.xlen(self._stream)
                pipe.zcard(self._delayed)
                ready, later = await pipe.execute()
        except _FAILURES as exc:
            raise QueueError(f"Redis: {exc}") from exc
        return int(ready) + int(later)

    async def dead_letters(self, limit: int) -> list[Entry]:
        try:
            raw = await self._redis.lrange(self._dead, 0, limit - 1)
        except _FAILURES as exc:
            raise QueueError(f"Redis: {exc}") from exc
        entries = []
        for item in raw:
            try:
                entries.append(Entry.loads(item))
            except QueueError as exc:  # one unreadable letter does not hide the others
                log.error("webhook queue: a dead letter is unreadable: %s", exc)
        return entries

    async def aclose(self) -> None:
        await self._connection.aclose()
