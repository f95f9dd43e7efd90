"""Requests Etalage refuses before forwarding anything, and headers it keeps from the origin, over real sockets."""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from collections.abc import Iterator

import pytest

from etalage.app import create_app
from etalage.http.requests import refusal
from etalage.settings import UPSTREAM_CLIENTS
from tests.support.config import PROXY_RULES, settings_for
from tests.support.servers import raw_request, running


def request(target: bytes = b"/echo", *headers: bytes, method: bytes = b"GET", version: bytes = b"HTTP/1.1") -> bytes:
    lines = [method + b" " + target + b" " + version, *headers, b"Connection: close"]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def header(answer: bytes, name: bytes) -> bytes | None:
    head = answer.split(b"\r\n\r\n", 1)[0]
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip()
    return None


HOST = b"Host: shop.example"


def test_requests_refuse_headers_larger_than_the_limit(etalage, origin_app):
    answer = raw_request(etalage, request(b"/echo", HOST, b"Cookie: a=" + b"x" * 40_000))
    assert status(answer) == 431 and origin_app.seen == []


def test_requests_refuse_more_headers_than_the_limit(etalage, origin_app):
    answer = raw_request(etalage, request(b"/echo", HOST, *(b"X-N%d: 1" % index for index in range(100))))
    assert status(answer) == 431 and origin_app.seen == []


def test_requests_refuse_a_target_longer_than_the_limit(etalage, origin_app):
    answer = raw_request(etalage, request(b"/echo?q=" + b"x" * 40_000, HOST))
    assert status(answer) == 414 and origin_app.seen == []


def test_requests_limits_follow_the_settings(origin, origin_app):
    settings = settings_for(origin, PROXY_RULES, max_request_header_bytes=64 * 1024, max_request_headers=200)
    with running(create_app(settings)) as url:
        answer = raw_request(url, request(b"/echo", HOST, b"Cookie: a=" + b"x" * 40_000, *(b"X-N%d: 1" % index for index in range(150))))
    assert status(answer) == 200 and len(origin_app.seen) == 1


def test_requests_limits_hold_for_etalage_routes(etalage):
    answer = raw_request(etalage, request(b"/.etalage/health", HOST, b"Cookie: a=" + b"x" * 40_000))
    assert status(answer) == 431


def test_requests_refusal_page_shows_no_internals_and_closes(etalage):
    answer = raw_request(etalage, request(b"/echo", HOST, b"Cookie: a=" + b"x" * 40_000))
    body = answer.split(b"\r\n\r\n", 1)[1]
    assert b"431 Request Header Fields Too Large" in body and len(body) < 400 and b"x" * 100 not in body
    assert header(answer, b"cache-control") == b"no-store"


def test_requests_refusal_closes_the_connection(etalage, origin_app):
    # What follows a refused request is not read as a request of its own.
    pipelined = b"TRACE /echo HTTP/1.1\r\nHost: shop.example\r\n\r\n" + request(b"/echo", HOST)
    answer = raw_request(etalage, pipelined)
    assert status(answer) == 405 and answer.count(b"HTTP/1.1 ") == 1 and origin_app.seen == []


def test_requests_refuse_two_host_headers(etalage, origin_app):
    answer = raw_request(etalage, request(b"/echo", HOST, b"Host: evil.example"))
    assert status(answer) == 400 and origin_app.seen == []


def test_requests_refuse_http11_without_host(etalage, origin_app):
    answer = raw_request(etalage, request(b"/echo"))
    assert status(answer) == 400 and origin_app.seen == []


@pytest.mark.parametrize("host", [b"evil.example/x", b"user@evil.example", b"a b", b""])
def test_requests_refuse_a_host_that_is_not_host_and_port(etalage, origin_app, host):
    answer = raw_request(etalage, request(b"/echo", b"Host: " + host))
    assert status(answer) == 400 and origin_app.seen == []


def test_requests_refuse_trace_with_allow(etalage, origin_app):
    answer = raw_request(etalage, request(b"/echo", HOST, method=b"TRACE"))
    assert status(answer) == 405 and b"GET" in (header(answer, b"allow") or b"") and origin_app.seen == []


@pytest.mark.parametrize(("method", "target"), [(b"TRACK", b"/echo"), (b"CONNECT", b"shop.example:443")])
def test_requests_refuse_track_and_connect_with_allow(origin, origin_app, http_parser, method, target):
    with running(create_app(settings_for(origin, PROXY_RULES))) as url:
        answer = raw_request(url, request(target, HOST, method=method))
    # httptools refuses these itself (400: an unknown method, an authority-form target); h11 hands them on.
    assert status(answer) == (400 if http_parser == "httptools" else 405) and origin_app.seen == []
    assert http_parser == "httptools" or header(answer, b"allow") == b"GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"


def test_requests_headers_with_underscores_stay_behind(etalage, origin_app):
    raw_request(
        etalage, request(b"/echo", HOST, b"X_Forwarded_For: 6.6.6.6", b"X_Forwarded_Host: evil.example", b"X_Forwarded_Proto: https")
    )
    names = [name for name, _ in origin_app.seen[-1]["headers"]]
    assert not [name for name in names if "_" in name] and "x-forwarded-for" in names


@contextlib.contextmanager
def origin_without_100_continue() -> Iterator[tuple[str, list[bytes]]]:
    """An origin that waits for the body without a 100 Continue (RFC 9110 10.1.1 lets it); it keeps
    the bytes of the one request it reads and answers 200."""
    server = socket.create_server(("127.0.0.1", 0))
    received: list[bytes] = []

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            conn.settimeout(10)
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
            while length and len(body) < int(length.group(1)):
                body += conn.recv(65536)
            received.append(head + b"\r\n\r\n" + body)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    with server:
        yield f"http://127.0.0.1:{server.getsockname()[1]}", received
        thread.join(timeout=30)


@pytest.mark.parametrize("upstream_client", UPSTREAM_CLIENTS)
def test_requests_expect_100_continue_goes_through(upstream_client):
    with (
        origin_without_100_continue() as (origin, received),
        running(create_app(settings_for(origin, PROXY_RULES, upstream_client=upstream_client))) as url,
    ):
        host, port = url.removeprefix("http://").split(":")
        # A client that waits for the interim answer before it sends the body; a hang ends at the timeout.
        with socket.create_connection((host, int(port)), timeout=10) as conn:
            conn.sendall(request(b"/echo", HOST, b"Content-Length: 7", b"Expect: 100-continue", method=b"POST"))
            interim = b""
            while b"\r\n\r\n" not in interim:
                interim += conn.recv(1)
            conn.sendall(b"payload")
            answer = b"".join(iter(lambda: conn.recv(65536), b""))
    assert interim.startswith(b"HTTP/1.1 100") and status(answer) == 200
    assert received[0].endswith(b"\r\n\r\npayload") and b"expect:" not in received[0].lower()


@pytest.mark.parametrize("lengths", [[b"3", b"3"], [b"3, 3"], [b"+3"], [b""]])
def test_requests_refuse_a_content_length_that_is_not_one_number(lengths):
    # Both parsers refuse these themselves today; Etalage does not rely on it.
    scope = {"type": "http", "method": "POST", "path": "/echo", "raw_path": b"/echo", "query_string": b"", "http_version": "1.1"}
    scope["headers"] = [(b"host", b"shop.example"), *((b"content-length", length) for length in lengths)]
    answer = refusal(scope, settings_for("http://127.0.0.1:9", PROXY_RULES))
    assert answer is not None and answer[0] == 400


def test_requests_absolute_form_is_refused_or_only_its_path_is_forwarded(origin, origin_app, http_parser):
    with running(create_app(settings_for(origin, PROXY_RULES))) as url:
        answer = raw_request(url, request(b"http://evil.example/x?q=1", HOST))
    if http_parser == "h11":
        # h11 hands Etalage the whole URL: Etalage is not a forward proxy.
        assert status(answer) == 400 and origin_app.seen == []
    else:
        # httptools keeps only the path and query: Etalage cannot tell, and it sends them to the configured
        # origin with the client's Host, as for `GET /x?q=1` (deploy/README.md, "What reaches Etalage").
        assert status(answer) == 200
        assert [(r["target"], dict(r["headers"])["host"]) for r in origin_app.seen] == [("/x?q=1", "shop.example")]
