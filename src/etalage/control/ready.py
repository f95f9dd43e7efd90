"""/.etalage/ready: whether this Etalage can personalize now, for readiness probes.

/.etalage/health (liveness) says the process answers. Readiness also asks the profile store: 503
while Redis cannot answer, 200 again once it does; the embedded store is always ready. Etalage
serves pages without its store all the same (unpersonalized, fail open), so what an orchestrator
does with a 503 is a deployment choice (deploy/README.md).

The store's answer is kept for `ttl` seconds, so probes from every load balancer and kubelet
cost Redis at most one PING per second per process, and a hung Redis holds up at most one probe.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from etalage.profiles.store import ProfileStore, StoreError

__all__ = ["Readiness", "ready_routes"]

log = logging.getLogger("etalage.ready")

# How long one answer of the store is reused.
TTL = 1.0


class Readiness:
    """The store's last answer to a ping, renewed when older than `ttl` seconds."""

    def __init__(self, store: ProfileStore, ttl: float = TTL, clock: Callable[[], float] = time.monotonic) -> None:
        self._store = store
        self._ttl = ttl
        self._clock = clock
        self._checked_at: float | None = None
        self._ready = False
        # Probes arriving while a ping is under way wait for its answer instead of sending their own.
        self._lock = asyncio.Lock()

    async def ready(self) -> bool:
        async with self._lock:
            if self._checked_at is None or self._clock() - self._checked_at >= self._ttl:
                try:
                    await self._store.ping()
                    ready = True
                except StoreError as exc:
                    ready = False
                    if self._ready or self._checked_at is None:
                        log.warning("not ready: the profile store does not answer (%s)", exc)
                if ready and not self._ready and self._checked_at is not None:
                    log.warning("ready again: the profile store answers")
                self._ready, self._checked_at = ready, self._clock()
            return self._ready


def ready_routes(store: ProfileStore) -> list[Route]:
    readiness = Readiness(store)

    async def ready(request: Request) -> Response:
        if await readiness.ready():
            return PlainTextResponse("ready\n", headers={"cache-control": "no-store"})
        return PlainTextResponse("profile store unavailable\n", status_code=503, headers={"cache-control": "no-store"})

    return [Route("/.etalage/ready", ready)]
