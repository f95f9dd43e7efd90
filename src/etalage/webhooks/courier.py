"""Delivering queued moments: a background task that signs each one and posts it to the receiver.

Each attempt has its own timeouts (connect and read, `timeout`), and nothing on a page's way waits
for one. 2xx is delivered; anything else (a status, a timeout, a refused connection) is a failed
attempt, tried again after an exponential backoff with jitter (base * 2^(attempt - 1), at most
`retry_cap`, times 0.5 to 1) until `max_attempts`, then the entry is dead-lettered.

Before each attempt the profile is read again: a moment whose visitor withdrew consent since (or
whose profile is gone: erased, or still missing `unwritten_grace` seconds after the moment) is dropped, and an abandoned basket is dropped once an order is known from the
time its basket was viewed. Each attempt is signed anew (the timestamp is the attempt's), over the
same body, under the same webhook-id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from dataclasses import replace
from datetime import UTC, datetime

import httpx
import standardwebhooks

from etalage.metrics import Metrics
from etalage.profiles.profile import Profile
from etalage.profiles.store import ProfileStore, StoreError
from etalage.rules.triggers import grants
from etalage.webhooks.queue import DeliveryQueue, Entry, QueueError

__all__ = ["Courier", "backoff"]

log = logging.getLogger("etalage.webhooks")

_BATCH = 16  # attempts at once


def backoff(attempts: int, base: float, cap: float) -> float:
    """Seconds to wait after the `attempts`-th failed attempt (1 for the first), before jitter."""
    return float(min(cap, base * 2 ** (attempts - 1)))


class Courier:
    def __init__(
        self,
        queue: DeliveryQueue,
        url: str,
        secret: str,
        store: ProfileStore,
        metrics: Metrics,
        *,
        timeout: float,
        max_attempts: int,
        retry_base: float,
        retry_cap: float = 3600.0,
        poll_interval: float = 1.0,
        unwritten_grace: float = 1.0,
    ) -> None:
        """`unwritten_grace`: how long a missing profile may be one that its page view has not written
        yet (Redis batches writes) rather than one withdrawn since; longer than a write can take."""
        self.queue = queue
        self.url = url
        self._signer = standardwebhooks.Webhook(secret)
        self._store = store
        self._metrics = metrics
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(timeout), follow_redirects=False, trust_env=False)
        self.max_attempts = max_attempts
        self._retry_base = retry_base
        self._retry_cap = retry_cap
        self._poll = poll_interval
        self._unwritten_grace = unwritten_grace
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._posts: set[asyncio.Task[httpx.Response]] = set()

    def wake(self) -> None:
        """Something was queued: look now rather than at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        """Stop delivering: the round under way finishes its queue updates (a command cut off midway
        would leave a Redis connection in doubt), and posts still waiting for the receiver are cut off;
        their entries stay queued (pending, for Redis), so the next Etalage sends them again."""
        self._stopping.set()
        self._wake.set()
        for post in list(self._posts):
            post.cancel()

    async def run(self) -> None:
        """Deliver until stopped."""
        while not self._stopping.is_set():
            try:
                taken = await self.round()
            except QueueError as exc:
                log.warning("webhook queue unavailable: %s", exc)
                self._metrics.inc("etalage_webhooks_failed_total", trigger="", reason="queue")
                taken = 0
            except Exception:  # a bug must not end delivery for good: the next round tries again
                log.exception("webhook delivery round failed unexpectedly")
                self._metrics.inc("etalage_webhooks_failed_total", trigger="", reason="bug")
                taken = 0
            if not taken:
                await self._pause()

    async def round(self) -> int:
        """Attempt the entries due now; how many there were."""
        entries = await self.queue.take(time.time(), _BATCH)
        await asyncio.gather(*(self._attempt(entry) for entry in entries))
        return len(entries)

    async def _pause(self) -> None:
        wait = self._poll
        due = self.queue.next_due()
        if due is not None:
            wait = min(wait, max(0.0, due - time.time()))
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), wait)

    async def _attempt(self, entry: Entry) -> None:
        try:
            await self._deliver(entry)
        except QueueError as exc:
            # The entry stays where it was (pending, or leased until a restart or XAUTOCLAIM): tried again.
            log.warning("webhook %s: the queue could not be updated: %s", entry.id, exc)
        except Exception:
            log.exception("webhook %s: delivery failed unexpectedly", entry.id)
            self._metrics.inc("etalage_webhooks_failed_total", trigger=entry.trigger, reason="bug")

    async def _deliver(self, entry: Entry) -> None:
        try:
            profile, gone = await self._profile(entry)
        except StoreError as exc:
            await self._failed(entry, "store", f"profile store unavailable: {exc}")
            return
        if profile is None and not gone and time.time() - entry.created < self._unwritten_grace:
            # A page view writes its profile in the background (Redis: in batches), so the moment it made
            # can be here first: look again shortly, without counting an attempt.
            await self.queue.retry(replace(entry, due=time.time() + self._retry_base))
            return
        if profile is None or not grants(profile.consent, entry.consent):
            # Consent withdrawn (or the profile erased) since the moment: it is no longer Etalage's to tell.
            self._metrics.inc("etalage_webhooks_dropped_total", reason="no_consent")
            await self.queue.done(entry)
            return
        since = entry.unless_order_since
        if since is not None and (any(o.at >= since for o in profile.orders) or any(p.at >= since for p in profile.purchases)):
            self._metrics.inc("etalage_webhooks_dropped_total", reason="ordered")
            await self.queue.done(entry)
            return
        if self._stopping.is_set():
            return  # left queued for the next Etalage
        now = time.time()
        headers = {
            "content-type": "application/json",
            "user-agent": "Etalage-Webhooks",
            "webhook-id": entry.id,
            "webhook-timestamp": str(int(now)),
            "webhook-signature": self._signer.sign(entry.id, datetime.fromtimestamp(int(now), UTC), entry.body),
        }
        post = asyncio.ensure_future(self._client.post(self.url, content=entry.body.encode(), headers=headers))
        self._posts.add(post)
        post.add_done_callback(self._posts.discard)
        try:
            response = await post
        except asyncio.CancelledError:
            if self._stopping.is_set() and post.cancelled():
                log.info("webhook %s: attempt cut off by a stop; it stays queued", entry.id)
                return
            raise
        except httpx.TimeoutException:
            await self._failed(entry, "timeout", "the receiver did not answer in time")
            return
        except (httpx.HTTPError, OSError) as exc:
            await self._failed(entry, "error", f"{type(exc).__name__}: {exc}")
            return
        if 200 <= response.status_code < 300:
            await self.queue.done(entry)
            self._metrics.inc("etalage_webhooks_delivered_total", trigger=entry.trigger)
            return
        await self._failed(entry, "status", f"the receiver answered {response.status_code}")

    async def _profile(self, entry: Entry) -> tuple[Profile | None, bool]:
        """The profile the moment is about, and whether it is gone for good (erased)."""
        if entry.customer_id is not None:
            return await self._store.load_customer(entry.customer_id), False
        if entry.visitor_id is None or await self._store.erased(entry.visitor_id):
            return None, True
        return await self._store.load(entry.visitor_id), False

    async def _failed(self, entry: Entry, reason: str, error: str) -> None:
        self._metrics.inc("etalage_webhooks_failed_total", trigger=entry.trigger, reason=reason)
        if entry.attempts + 1 >= self.max_attempts:
            log.warning("webhook %s (trigger %s) dead-lettered after %d attempts: %s", entry.id, entry.trigger, entry.attempts + 1, error)
            await self.queue.dead(entry.failed(error, time.time()))
            self._metrics.inc("etalage_webhooks_dead_lettered_total", trigger=entry.trigger)
            return
        wait = backoff(entry.attempts + 1, self._retry_base, self._retry_cap) * random.uniform(0.5, 1.0)
        log.info("webhook %s (trigger %s) attempt %d failed (%s); next in %.1f s", entry.id, entry.trigger, entry.attempts + 1, error, wait)
        await self.queue.retry(entry.failed(error, time.time() + wait))

    async def aclose(self) -> None:
        await self._client.aclose()
