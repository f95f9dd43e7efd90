"""50 MB answers through the running proxy: streamed through with bounded memory, byte for byte."""

from __future__ import annotations

import hashlib
import tracemalloc
from collections.abc import Iterator

import httpx
import pytest

from etalage.app import create_app
from etalage.settings import UPSTREAM_CLIENTS
from etalage.types import Receive, Scope, Send
from tests.support.config import ACCEPT_ONETRUST, PROXY_RULES, settings_for
from tests.support.origin import HOME, lifespan
from tests.support.servers import running

CHUNKS = 800  # of 64 KiB: 50 MiB
PAGE_HEAD = HOME.split(b"</body>")[0]


def chunk(index: int) -> bytes:
    # Every chunk differs, so a lost, repeated or reordered one changes the digest.
    return b"<!--%08d-->" % index * 4096


def body(path: str) -> Iterator[bytes]:
    if path == "/page":
        yield PAGE_HEAD
    yield from (chunk(index) for index in range(CHUNKS))
    if path == "/page":
        yield b"</body></html>"


async def large_origin(scope: Scope, receive: Receive, send: Send) -> None:
    """/blob: 50 MiB of application/octet-stream; /page: a 50 MiB HTML page; both without Content-Length."""
    if await lifespan(scope, receive, send):
        return
    content_type = b"text/html; charset=utf-8" if scope["path"] == "/page" else b"application/octet-stream"
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", content_type)]})
    for part in body(scope["path"]):
        await send({"type": "http.response.body", "body": part, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


def digest(parts: Iterator[bytes]) -> tuple[str, int]:
    hasher = hashlib.sha256()
    size = 0
    for part in parts:
        hasher.update(part)
        size += len(part)
    return hasher.hexdigest(), size


def fetch_with_peak_memory(url: str, cookies: dict[str, str] | None = None) -> tuple[tuple[str, int], int]:
    """The digest and size of what arrived, and the most memory Python held meanwhile above what it held before."""
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        with httpx.stream("GET", url, cookies=cookies, timeout=60) as response:
            assert response.status_code == 200
            received = digest(response.iter_raw())
        return received, tracemalloc.get_traced_memory()[1] - baseline
    finally:
        tracemalloc.stop()


@pytest.fixture
def origin() -> Iterator[str]:
    with running(large_origin) as url:
        yield url


@pytest.mark.parametrize("upstream_client", UPSTREAM_CLIENTS)
def test_large_responses_stream_through_with_bounded_memory(origin, upstream_client):
    with running(create_app(settings_for(origin, PROXY_RULES, upstream_client=upstream_client))) as url:
        received, peak = fetch_with_peak_memory(f"{url}/blob")
    assert received == digest(body("/blob"))
    # Origin, proxy and client all run in this process: together they held at most a few chunks at a time.
    assert peak < 8 << 20, f"{peak / 2**20:.1f} MiB"


@pytest.mark.parametrize("upstream_client", UPSTREAM_CLIENTS)
def test_large_responses_a_page_over_max_page_bytes_passes_unchanged_for_a_consenting_visitor(origin, upstream_client):
    # With httpx the body was read a second time from the start past the buffer, and the page failed.
    settings = settings_for(origin, PROXY_RULES, upstream_client=upstream_client)
    with running(create_app(settings)) as url:
        received, peak = fetch_with_peak_memory(f"{url}/page", cookies={"OptanonConsent": ACCEPT_ONETRUST})
    assert received == digest(body("/page"))
    # What was buffered to personalize, up to max_page_bytes, and then a few chunks at a time.
    assert peak < settings.max_page_bytes + (8 << 20), f"{peak / 2**20:.1f} MiB"
