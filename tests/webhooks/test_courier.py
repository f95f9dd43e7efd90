"""The courier on its own: a real receiver, the embedded store, an in-memory queue."""

from __future__ import annotations

import asyncio
import time

import standardwebhooks

from etalage.metrics import Metrics
from etalage.profiles.memory import MemoryStore
from etalage.profiles.profile import Event
from etalage.webhooks.courier import Courier
from etalage.webhooks.file_queue import FileQueue
from etalage.webhooks.queue import Entry
from tests.support.webhook_receiver import DEADLINE, Receiver, receiving

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
GRANT = Event("consent", "", 0.0, {"granted": True, "sources": ["onetrust"], "purposes": ["onetrust:C0004"]})


def test_courier_waits_for_a_profile_written_after_its_moment():
    with receiving(Receiver()) as receiver:

        async def run() -> tuple[int, int]:
            store, queue, metrics = MemoryStore(retention=3600), FileQueue(None), Metrics()
            courier = Courier(queue, receiver.url, SECRET, store, metrics, timeout=5, max_attempts=3, retry_base=0.01, unwritten_grace=60)
            now = time.time()
            await queue.add(Entry("msg_1", "first-order", '{"type":"moment.first_purchase"}', None, "v-1", (), now, now), "c", 60)
            await courier.round()  # the page view's write has not landed yet
            waited = await queue.depth()
            await store.record("v-1", [GRANT._replace(at=now)])
            deadline = time.monotonic() + DEADLINE
            while await queue.depth() and time.monotonic() < deadline:
                await courier.round()
                await asyncio.sleep(0.01)  # the retry's backoff: the pace of the poll
            await courier.aclose()
            return waited, int(metrics.value("etalage_webhooks_failed_total", trigger="first-order", reason="store"))

        waited, failures = asyncio.run(run())
    attempt = receiver.accepted()[0]
    assert (waited, failures, len(receiver.attempts)) == (1, 0, 1)
    assert standardwebhooks.Webhook(SECRET).verify(attempt.body, attempt.headers) == {"type": "moment.first_purchase"}
