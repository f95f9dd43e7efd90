"""Shared fixtures: real HTTP servers on loopback sockets, started without sleeps.

A server gets a socket that is already bound and listening, so a client can connect the moment the
fixture returns: the connection waits in the backlog until uvicorn accepts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from etalage import Settings, create_app

from .origin import OriginApp

REPO = Path(__file__).resolve().parents[1]
PROJECT_RULES = REPO / "rules"
PROXY_RULES = Path(__file__).resolve().parent / "rulesets" / "good" / "proxy"
SECRET = (("t1", b"test-secret-0123456789abcdef"),)
ACCEPT_ONETRUST = "isGpcEnabled=0&datestamp=x&version=202411.1.0&interactionCount=1&groups=C0001%3A1%2CC0004%3A1&AwaitingReconsent=false"
REJECT_ONETRUST = ACCEPT_ONETRUST.replace("C0004%3A1", "C0004%3A0")


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


def settings_for(upstream: str, rules_dir: Path = PROJECT_RULES, **overrides: object) -> Settings:
    # A busy test machine must not make Etalage shed personalization in tests about something else.
    overrides.setdefault("overload_lag", 60.0)
    return Settings(upstream=upstream, rules_dir=rules_dir, secret=SECRET, **overrides).validated()  # type: ignore[arg-type]


@pytest.fixture
def origin_app() -> OriginApp:
    return OriginApp()


@pytest.fixture
def origin(origin_app: OriginApp) -> Iterator[str]:
    with running(origin_app) as url:
        yield url


@pytest.fixture
def upstream_client() -> str:
    """The upstream client Etalage uses; test modules that make claims for every client override it."""
    return "httpx"


@pytest.fixture
def etalage(origin: str, upstream_client: str) -> Iterator[str]:
    """Etalage with the proxy test rules in front of the scriptable test origin."""
    with running(create_app(settings_for(origin, PROXY_RULES, upstream_client=upstream_client))) as url:
        yield url


@pytest.fixture
def shop() -> Iterator[str]:
    from etalage.demo.shop import create_shop_app

    with running(create_shop_app()) as url:
        yield url


@pytest.fixture
def shop_etalage(shop: str) -> Iterator[str]:
    """Etalage with the project's rules in front of the demo shop."""
    with running(create_app(settings_for(shop))) as url:
        yield url
