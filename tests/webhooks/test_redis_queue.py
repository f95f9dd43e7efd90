"""The webhook queue in Redis (a Stream, a consumer group, a sorted set of retries), on a real redis-server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from etalage.webhooks.queue import Entry
from etalage.webhooks.redis_queue import RedisQueue

STREAM = "{etalage:webhooks}:stream"


def entry(number: int, due: float) -> Entry:
    return Entry(f"msg_{number}", "first-order", '{"type":"moment.first_purchase"}', "c-1", None, (), time.time(), due)


def with_queue(url: str, work: Callable[[RedisQueue], Awaitable[Any]]) -> Any:
    async def run() -> Any:
        queue = RedisQueue(url, reclaim_after=60)
        try:
            return await work(queue)
        finally:
            await queue.aclose()

    return asyncio.run(run())


def test_redis_queue_queues_a_claimed_moment_once(redis_server):
    async def work(queue: RedisQueue) -> list[bool]:
        now = time.time()
        return [await queue.add(entry(1, now), "the-moment", 60), await queue.add(entry(2, now), "the-moment", 60)]

    assert with_queue(redis_server.url, work) == [True, False]


def test_redis_queue_holds_an_entry_until_it_is_due(redis_server):
    async def work(queue: RedisQueue) -> tuple[list[str], list[str]]:
        now = time.time()
        await queue.add(entry(1, now + 60), "later", 120)
        early = [e.id for e in await queue.take(now, 10)]
        return early, [e.id for e in await queue.take(now + 60, 10)]

    assert with_queue(redis_server.url, work) == ([], ["msg_1"])


def test_redis_queue_retry_keeps_the_webhook_id_and_counts_the_attempt(redis_server):
    async def work(queue: RedisQueue) -> list[tuple[str, int]]:
        now = time.time()
        await queue.add(entry(1, now), "once", 60)
        (taken,) = await queue.take(now, 10)
        await queue.retry(taken.failed("the receiver answered 500", now + 5))
        return [(e.id, e.attempts) for e in await queue.take(now + 5, 10)]

    assert with_queue(redis_server.url, work) == [("msg_1", 1)]


def test_redis_queue_drops_an_unreadable_entry_instead_of_handing_it_out_forever(redis_server):
    async def work(queue: RedisQueue) -> tuple[list[str], int]:
        now = time.time()
        await queue.add(entry(1, now), "good", 60)
        redis_server.client().xadd(STREAM, {"entry": b"not json"})
        taken = [e.id for e in await queue.take(now, 10)]
        return taken, await queue.depth()

    # The good entry is handed out (and stays until finished); the unreadable one is gone.
    assert with_queue(redis_server.url, work) == (["msg_1"], 1)


def test_redis_queue_resends_a_dead_letter_once(redis_server):
    async def work(queue: RedisQueue) -> tuple[list[int], bool, list[Entry]]:
        now = time.time()
        await queue.add(entry(1, now), "the-moment", 60)
        (taken,) = await queue.take(now, 10)
        await queue.dead(taken.failed("the receiver answered 500", now))
        first, second = await queue.resend("msg_1", now), await queue.resend("msg_1", now)
        again = await queue.take(now, 10)
        return [e.attempts for e in again], first is not None and second is None, await queue.dead_letters(10)

    attempts, once, dead = with_queue(redis_server.url, work)
    assert attempts == [0] and once and dead == []
