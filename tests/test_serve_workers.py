"""`etalage serve --workers 2` stopping: requests under way finish, new connections are refused at once."""

from __future__ import annotations

import asyncio
import concurrent.futures
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from etalage.types import Receive, Scope, Send
from tests.support.config import PROJECT_RULES
from tests.support.origin import lifespan
from tests.support.redis_server import RedisServer
from tests.support.servers import running
from tests.support.workers import serving_workers

pytestmark = pytest.mark.redis

# How long the test waits for the listening socket to close; the drain it runs in lasts until the test ends it.
DEADLINE = 30.0


class HeldOrigin:
    """A shop whose /slow answers only once the test releases it: a request under way for as long as needed."""

    def __init__(self) -> None:
        self.arrived = threading.Event()
        self.release = threading.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if await lifespan(scope, receive, send):
            return
        if scope["path"] == "/slow":
            self.arrived.set()
            await asyncio.to_thread(self.release.wait, DEADLINE)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"done"})


@pytest.fixture
def held() -> Iterator[tuple[HeldOrigin, str]]:
    origin = HeldOrigin()
    with running(origin) as url:
        yield origin, url


def refused(port: int) -> bool:
    """Whether a new connection is turned away (refused, or reset while the listening socket closes under it)."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except (ConnectionRefusedError, ConnectionResetError):
        return True
    return False


def test_serve_workers_refuse_new_connections_while_the_last_requests_finish(held, redis_server: RedisServer):
    # The parent kept listening during the drain: a new connection waited in the backlog, then got a reset.
    origin, origin_url = held
    arguments = ["--upstream", origin_url, "--rules", str(PROJECT_RULES), "--redis-url", redis_server.url]
    with serving_workers(arguments, {"ETALAGE_SECRET": "0123456789abcdef0123"}) as (url, server):
        port = int(url.rpartition(":")[2])
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            slow = pool.submit(httpx.get, f"{url}/slow", timeout=DEADLINE)
            assert origin.arrived.wait(DEADLINE)
            server.terminate()
            deadline = time.monotonic() + DEADLINE
            while not refused(port) and time.monotonic() < deadline:
                pass
            closed_while_draining = refused(port) and not slow.done()
            origin.release.set()
            answer = slow.result()
    assert closed_while_draining and (answer.status_code, answer.text) == (200, "done")
