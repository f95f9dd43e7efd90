"""Real HTTP servers on loopback sockets, started and stopped without sleeps.

A server gets a socket that is already bound and listening, so a client can connect the moment the
helper returns: the connection waits in the backlog until uvicorn accepts it. Stopping it does not
wait for uvicorn's 0.1 s tick nor for its grace period: the app's lifespan shutdown runs at once,
as it would in production after the last request.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import uvicorn

__all__ = ["Served", "running", "serving", "closed_port_url", "raw_request"]

T = TypeVar("T")

# How long a stopping server lets requests still running finish; only a broken test waits this long.
STRAGGLER_GRACE = 5.0
# A safety net for Served.run, so a broken test fails instead of hanging.
RUN_DEADLINE = 30.0


class _Server(uvicorn.Server):
    """uvicorn's Server on a given event loop, told to stop rather than polling for it.

    uvicorn's main loop checks `should_exit` every 0.1 s, and its shutdown sleeps another 0.1 s for
    connections to notice; with hundreds of servers per test run that waiting adds up to minutes.
    """

    def __init__(self, config: uvicorn.Config, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(config)
        self.loop = loop
        self._stop = asyncio.Event()

    async def main_loop(self) -> None:
        # One tick, as uvicorn's loop starts with: it sets the default response headers.
        if not await self.on_tick(0):
            await self._stop.wait()

    def stop(self) -> None:
        """Ask the server to stop; callable from any thread, before or while it runs."""
        self.should_exit = True  # seen by a main loop not started yet
        with contextlib.suppress(RuntimeError):  # the loop already ended
            self.loop.call_soon_threadsafe(self._stop.set)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()  # closes idle keep-alive connections now, busy ones after their response
        if self.server_state.tasks:
            # Requests still finishing (a proxy closing its upstream response) end on their own; one
            # that never would (a test failed before opening an origin's gate) is cancelled.
            _, stragglers = await asyncio.wait(set(self.server_state.tasks), timeout=STRAGGLER_GRACE)
            for task in stragglers:
                task.cancel()
            if stragglers:
                await asyncio.wait(stragglers)
        await self.lifespan.shutdown()

    def serve_in_this_thread(self, sock: socket.socket) -> None:
        with asyncio.Runner(loop_factory=lambda: self.loop) as runner:
            runner.run(self.serve(sockets=[sock]))


@dataclass(frozen=True)
class Served:
    """A running server: its base URL, and a way into the event loop its app runs on."""

    url: str
    loop: asyncio.AbstractEventLoop

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        """Run `work` on the server's event loop, where the app's own tasks live, and return its result."""
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout=RUN_DEADLINE)


@contextlib.contextmanager
def serving(app: object) -> Iterator[Served]:
    """Serve an ASGI app on a free loopback port in a thread. Leaving the block runs the app's
    lifespan shutdown (Etalage drains its background profile writes there) and waits for it."""
    # IPPROTO_TCP, not 0: asyncio turns Nagle off (TCP_NODELAY) only on connections accepted from such a
    # socket, and with Nagle on every answer on a kept-alive connection waits ~40 ms (Kludex/uvicorn#3149).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,  # type: ignore[arg-type]
        lifespan="on",
        log_level="warning",
        server_header=False,
        date_header=False,
        proxy_headers=False,
        access_log=False,
    )
    server = _Server(config, asyncio.new_event_loop())
    thread = threading.Thread(target=server.serve_in_this_thread, args=(sock,), daemon=True)
    thread.start()
    try:
        yield Served(f"http://127.0.0.1:{port}", server.loop)
    finally:
        server.stop()
        thread.join(timeout=30)
        sock.close()


@contextlib.contextmanager
def running(app: object) -> Iterator[str]:
    """Serve an ASGI app as `serving` does; yields its base URL."""
    with serving(app) as served:
        yield served.url


def closed_port_url() -> str:
    """The URL of a loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def raw_request(base_url: str, request: bytes) -> bytes:
    """Send exact request bytes (what httpx would refuse or normalise) and read the whole answer."""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        conn.sendall(request)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)
