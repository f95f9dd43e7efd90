"""A soak: consenting visitors browse through Etalage on Redis while Redis crashes and comes back.

What RedisStore promises during an outage (src/etalage/profiles/redis.py): page views go on being
served (the origin's page when a profile cannot be read), record() only queues, queued events stay
queued while Redis is unreachable (up to `max_pending_events`, far above what this soak queues, so
none may be dropped) and are written once Redis is back, at least once; a write is repeated only
when a connection dies between Redis running an EXEC and its reply. Redis is killed right after a
store flush (on the server's event loop, with no await between them), so no transaction is in
flight then and "at least once" must come out as exactly once.

The proxy records a page view exactly when it could read (or, for a new visitor, start) the
visitor's profile, and the soak's one rule fires on every such category page: a personalized page
is a recorded page view, the origin's exact bytes one that was not. Redis keeps an append-only
file, so the restart brings back what was written before the crash; after Etalage shuts down (its
store's last flush), every recorded page view must be in Redis exactly once.

Everyone runs on one event loop: Etalage (uvicorn), the visitors (httpx), and the crash, which
therefore happens between two steps of the server, with page views in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import httpx
import pytest
import uvicorn

from etalage.app import Etalage, create_app
from etalage.profiles.profile import Profile
from etalage.profiles.redis import RedisStore
from etalage.tokens import VisitorSigner
from tests.support.config import ACCEPT_ONETRUST, RULESETS, SECRET, settings_for
from tests.support.origin import HOME
from tests.support.redis_server import RedisServer, redis_server_binary

pytestmark = [pytest.mark.anyio, pytest.mark.redis]

SOAK_RULES = RULESETS / "good" / "soak"
CATEGORIES = ("dogs", "cats", "rodents")
# Visitors browsing from the start; Redis dies once they made a third of their page views.
EARLY_VISITORS = 15
# Visitors arriving after the crash: a first page view recorded without Redis, a second one that
# cannot read the profile. Redis comes back once each of them made this many page views.
LATE_VISITORS = 5
LATE_VIEWS_BEFORE_RESTART = 3
VIEWS = 30
# Safety nets so a broken run fails instead of hanging; a working run takes a few seconds.
REQUEST_TIMEOUT = 30.0
NO_HANG = 120.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def persistent_redis() -> Iterator[RedisServer]:
    server = RedisServer(redis_server_binary(), persistent=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Visitor:
    number: int
    views: list[tuple[str, bool]] = field(default_factory=list)  # (category, personalized) per page view
    statuses: list[int] = field(default_factory=list)
    cookie: str | None = None

    def category(self, index: int) -> str:
        # Each visitor its own mix of categories, so profiles differ from one another.
        return CATEGORIES[(self.number + index * (1 + self.number % 2)) % len(CATEGORIES)]

    @property
    def recorded(self) -> Counter[str]:
        return Counter(category for category, personalized in self.views if personalized)


@contextlib.asynccontextmanager
async def serving(app: Etalage) -> AsyncIterator[str]:
    """Etalage on uvicorn in this event loop; on leaving, a graceful shutdown (lifespan included: the
    store's last flush), unlike tests.support.servers.running."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    config = uvicorn.Config(app, lifespan="on", log_level="warning", access_log=False, server_header=False, date_header=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


async def browse(url: str, visitor: Visitor, progress: asyncio.Condition) -> None:
    async with httpx.AsyncClient(base_url=url, cookies={"OptanonConsent": ACCEPT_ONETRUST}, timeout=REQUEST_TIMEOUT) as client:
        for index in range(VIEWS):
            category = visitor.category(index)
            response = await client.get(f"/c/{category}")
            visitor.statuses.append(response.status_code)
            personalized = b'data-etalage-rule="seen"' in response.content
            assert personalized or response.content == HOME, f"neither personalized nor the origin's page: {response.content[:200]!r}"
            visitor.views.append((category, personalized))
            async with progress:
                progress.notify_all()
        visitor.cookie = client.cookies.get("etalage_vid")


async def test_redis_soak_outage_fails_no_page_view_and_loses_no_recorded_one(origin: str, persistent_redis: RedisServer) -> None:
    store = RedisStore(persistent_redis.url, retention=3600)
    # A generous store budget: on a busy machine a slow read would only mean fewer recorded page views.
    app = create_app(settings_for(origin, SOAK_RULES, redis_url=persistent_redis.url, store_timeout=5.0), store=store)
    early = [Visitor(number) for number in range(EARLY_VISITORS)]
    late = [Visitor(EARLY_VISITORS + number) for number in range(LATE_VISITORS)]
    progress = asyncio.Condition()

    async def crash_and_recover(url: str, browsing: asyncio.TaskGroup) -> None:
        async with progress:
            await progress.wait_for(lambda: sum(len(v.views) for v in early) >= EARLY_VISITORS * VIEWS // 3)
        await store.flush()
        persistent_redis.kill()  # no await since the flush: no transaction is in flight
        for visitor in late:
            browsing.create_task(browse(url, visitor, progress))
        async with progress:
            await progress.wait_for(lambda: all(len(v.views) >= LATE_VIEWS_BEFORE_RESTART for v in late))
        persistent_redis.restart()

    async with asyncio.timeout(NO_HANG):
        async with serving(app) as url:
            async with asyncio.TaskGroup() as browsing:
                for visitor in early:
                    browsing.create_task(browse(url, visitor, progress))
                browsing.create_task(crash_and_recover(url, browsing))

    visitors = early + late
    assert {status for visitor in visitors for status in visitor.statuses} == {200}
    assert sum(len(visitor.views) for visitor in visitors) == (EARLY_VISITORS + LATE_VISITORS) * VIEWS
    # Late visitors: the first page view needs no profile read (recorded, queued while Redis was
    # down); the second one cannot read the profile (not in Redis, not cached): the origin's page.
    assert [visitor.views[0][1] for visitor in late] == [True] * LATE_VISITORS
    assert [visitor.views[1][1] for visitor in late] == [False] * LATE_VISITORS
    assert app.metrics.value("etalage_shed_total") == 0
    assert (store.pending_events, store.dropped_events) == (0, 0)
    signer = VisitorSigner(SECRET)
    raw = persistent_redis.client()
    try:
        for visitor in visitors:
            assert visitor.cookie is not None
            verified = signer.verify(visitor.cookie)
            assert verified is not None
            data = raw.get(f"etalage:v:{verified.visitor_id}")
            assert data is not None, f"visitor {visitor.number}: no profile in Redis"
            profile = Profile.loads(data)
            assert (profile.category_views, len(profile.impressions.get("seen", []))) == (
                dict(visitor.recorded),
                visitor.recorded.total(),
            ), f"visitor {visitor.number}"
    finally:
        raw.close()
