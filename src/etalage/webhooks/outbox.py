"""Where a change of a profile meets the triggers: the one thing page views and the API call.

`before` and `notice` are guarded: a failing trigger is logged and counted, never fails the page, and
queueing runs in a background task, so a page view waits for neither the queue nor the receiver.
`run` keeps the courier delivering and the queue-depth gauge current until `stop`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from etalage.engine.moments import Before, Moment, before, detect
from etalage.metrics import Metrics
from etalage.profiles.profile import Profile
from etalage.rules.ruleset import RuleSet
from etalage.webhooks.courier import Courier
from etalage.webhooks.queue import DeliveryQueue, Entry, QueueError

__all__ = ["Outbox"]

log = logging.getLogger("etalage.webhooks")

_GAUGE_INTERVAL = 1.0


class Outbox:
    def __init__(self, queue: DeliveryQueue, courier: Courier, metrics: Metrics) -> None:
        self.queue = queue
        self.courier = courier
        self._metrics = metrics
        self._background: set[asyncio.Task[Any]] = set()
        self._stopping = asyncio.Event()

    def before(self, ruleset: RuleSet, profile: Profile, now: float) -> Before | None:
        """What `notice` compares with; None when the rule set has no trigger (or this failed)."""
        try:
            return before(ruleset, profile, now)
        except Exception:
            log.exception("triggers: reading the profile before the change failed; no moment from this change")
            self._metrics.inc("etalage_triggers_failed_total", reason="evaluation")
            return None

    def notice(self, ruleset: RuleSet, was: Before | None, profile: Profile, visitor_id: str | None, path: str | None, now: float) -> None:
        """The profile changed (it is `profile` now): queue the moments that makes, in the background."""
        if was is None:
            return
        try:
            moments = detect(ruleset, was, profile, visitor_id, path, now)
        except Exception:
            log.exception("triggers: evaluating the triggers failed; no moment from this change")
            self._metrics.inc("etalage_triggers_failed_total", reason="evaluation")
            return
        if moments:
            task = asyncio.create_task(self._enqueue(moments))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _enqueue(self, moments: list[Moment]) -> None:
        for moment in moments:
            try:
                added = await self.queue.add(Entry.of(moment), moment.claim, moment.claim_ttl)
            except QueueError as exc:
                log.warning("trigger %s: moment %s not queued: %s", moment.trigger, moment.id, exc)
                self._metrics.inc("etalage_triggers_failed_total", reason="queue")
                continue
            except Exception:
                log.exception("trigger %s: moment %s not queued", moment.trigger, moment.id)
                self._metrics.inc("etalage_triggers_failed_total", reason="queue")
                continue
            if added:
                self._metrics.inc("etalage_moments_total", trigger=moment.trigger)
                self.courier.wake()

    async def drain(self) -> None:
        """Wait for moments being queued (graceful shutdown): what was detected is on disk or in Redis."""
        while self._background:
            await asyncio.gather(*self._background)

    async def run(self) -> None:
        """Deliver, and report the queue's depth, until stopped."""
        await asyncio.gather(self.courier.run(), self._report_depth())

    def stop(self) -> None:
        """End `run` soon, without cutting a queue command off midway (see Courier.stop)."""
        self._stopping.set()
        self.courier.stop()

    async def _report_depth(self) -> None:
        while not self._stopping.is_set():
            try:
                self._metrics.set("etalage_webhooks_queue_depth", await self.queue.depth())
            except QueueError as exc:
                log.debug("webhook queue depth unknown: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), _GAUGE_INTERVAL)

    async def aclose(self) -> None:
        await self.drain()
        await self.courier.aclose()
        await self.queue.aclose()
