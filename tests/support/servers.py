"""Real HTTP servers on loopback sockets, started without sleeps.

A server gets a socket that is already bound and listening, so a client can connect the moment the
helper returns: the connection waits in the backlog until uvicorn accepts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Iterator

import uvicorn

__all__ = ["running", "closed_port_url", "raw_request"]


@contextlib.contextmanager
def running(app: object) -> Iterator[str]:
    """Serve an ASGI app on a free loopback port in a thread; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
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
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        # Tests leave no request worth waiting for (one origin hangs on purpose): skip the drain.
        server.should_exit = server.force_exit = True
        thread.join(timeout=30)
        sock.close()


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
