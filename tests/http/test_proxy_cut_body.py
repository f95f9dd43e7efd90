"""An origin that breaks off in the middle of a body whose status line is already out: the browser's
connection is cut, as nginx cuts it, so it cannot take the truncated body for a whole one."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import httpx
import pytest

from etalage.app import create_app
from etalage.types import Receive, Scope, Send
from tests.support.config import ACCEPT_ONETRUST, PROXY_RULES, settings_for
from tests.support.origin import lifespan
from tests.support.servers import running

PROMISED = 100_000
SENT = b"\x89PNG" + b"x" * 1000


@pytest.fixture(params=["aiohttp", "httpx"])
def upstream_client(request: pytest.FixtureRequest) -> str:
    return request.param


@contextlib.contextmanager
def breaking_origin(content_type: bytes = b"image/png") -> Iterator[str]:
    """Answers every request with a 200 promising PROMISED bytes, sends SENT, and closes the connection."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: %s\r\ncontent-length: %d\r\n\r\n%s" % (content_type, PROMISED, SENT))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() under way; close() alone does not
        listener.close()
        thread.join(timeout=5)


def test_proxy_cuts_the_connection_when_the_origin_breaks_off_mid_body(upstream_client):
    with breaking_origin() as origin:
        app = create_app(settings_for(origin, PROXY_RULES, upstream_client=upstream_client))
        with running(app) as url, pytest.raises(httpx.RemoteProtocolError):  # its handling is over once the server stops
            httpx.get(f"{url}/logo.png")
    assert app.metrics.value("etalage_upstream_errors_total", kind="body") == 1


def test_proxy_cuts_the_connection_of_a_page_too_large_to_personalize_when_the_origin_breaks_off(upstream_client):
    # Past max_page_bytes the page streams from what was buffered; the break came after the status line,
    # and a second response start (a 502) followed it.
    with breaking_origin(b"text/html; charset=utf-8") as origin:
        app = create_app(settings_for(origin, PROXY_RULES, upstream_client=upstream_client, max_page_bytes=500))
        with running(app) as url, pytest.raises(httpx.RemoteProtocolError):
            httpx.get(f"{url}/", cookies={"OptanonConsent": ACCEPT_ONETRUST})
    assert app.metrics.value("etalage_fail_open_total", reason="page_too_large") == 1
    assert app.metrics.value("etalage_upstream_errors_total", kind="body") == 1


class UploadOrigin:
    """A shop that says when a forwarded request has reached it, then reads its body."""

    def __init__(self) -> None:
        self.reached = threading.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if await lifespan(scope, receive, send):
            return
        self.reached.set()
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def test_proxy_takes_a_browser_that_drops_its_upload_for_no_origin_failure(upstream_client):
    # aiohttp wrapped the request body's ClientDisconnected as a connection error: a warning, an upstream
    # error counted and a 502 written to a browser that had gone.
    shop = UploadOrigin()
    with running(shop) as origin:
        app = create_app(settings_for(origin, PROXY_RULES, upstream_client=upstream_client))
        with running(app) as url:  # its handling is over once the server stops
            host, port = url.removeprefix("http://").split(":")
            with socket.create_connection((host, int(port))) as conn:
                conn.sendall(b"POST /upload HTTP/1.1\r\nHost: shop\r\nContent-Length: 100000\r\n\r\n" + b"x" * 1000)
                assert shop.reached.wait(30)
    assert app.metrics.value("etalage_upstream_errors_total", kind="unavailable") == 0
