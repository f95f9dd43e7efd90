"""Request smuggling over real sockets: whatever framing a client tries, Etalage refuses it or the origin
sees exactly one request, framed one way; with both parsers uvicorn can run Etalage with.

Where a parser refuses a vector itself, the test guards that it still does; where it hands the request
on, Etalage's own checks (etalage.http.requests) refuse it or it arrives normalised.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from etalage.app import create_app
from tests.support.config import PROXY_RULES, settings_for
from tests.support.origin import OriginApp
from tests.support.servers import raw_request, running

SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: shop.example\r\n\r\n"
CHUNKED_SMUGGLED = b"%x\r\n" % len(SMUGGLED) + SMUGGLED + b"\r\n0\r\n\r\n"


@pytest.fixture
def proxy(http_parser: str, origin_app: OriginApp) -> Iterator[str]:
    """Etalage with the production upstream client, in front of the echoing origin, on `http_parser`."""
    with running(origin_app) as origin, running(create_app(settings_for(origin, PROXY_RULES, upstream_client="aiohttp"))) as url:
        yield url


def post(*headers: bytes, version: bytes = b"HTTP/1.1") -> bytes:
    return b"\r\n".join([b"POST /echo " + version, b"Host: shop.example", *headers, b"Connection: close"]) + b"\r\n\r\n"


def status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def test_smuggling_content_length_with_transfer_encoding_is_refused(proxy, origin_app):
    answer = raw_request(proxy, post(b"Content-Length: %d" % len(CHUNKED_SMUGGLED), b"Transfer-Encoding: chunked") + CHUNKED_SMUGGLED)
    assert status(answer) == 400 and answer.count(b"HTTP/1.1 ") == 1 and origin_app.seen == []


def test_smuggling_conflicting_content_lengths_are_refused(proxy, origin_app):
    answer = raw_request(proxy, post(b"Content-Length: 3", b"Content-Length: %d" % (3 + len(SMUGGLED))) + b"abc" + SMUGGLED)
    assert status(answer) == 400 and answer.count(b"HTTP/1.1 ") == 1 and origin_app.seen == []


@pytest.mark.parametrize("coding", [b"gzip, chunked", b"chunked, identity", b"xchunked", b"chunked\x0b"])
def test_smuggling_transfer_codings_other_than_chunked_are_refused(proxy, origin_app, coding):
    answer = raw_request(proxy, post(b"Transfer-Encoding: " + coding) + CHUNKED_SMUGGLED)
    # 501 where the parser hands the request on (RFC 9112 6.1: a coding the server does not understand).
    assert status(answer) in (400, 501) and answer.count(b"HTTP/1.1 ") == 1 and origin_app.seen == []


def test_smuggling_transfer_encoding_in_http10_is_refused(proxy, origin_app):
    answer = raw_request(proxy, post(b"Transfer-Encoding: chunked", version=b"HTTP/1.0") + CHUNKED_SMUGGLED)
    # RFC 9112 6.1: Transfer-Encoding in HTTP/1.0 is faulty framing.
    assert status(answer) == 400 and answer.count(b"HTTP/1.1 ") == 1 and origin_app.seen == []


def test_smuggling_a_folded_transfer_encoding_is_refused(proxy, origin_app):
    answer = raw_request(proxy, post(b"Transfer-Encoding: identity\r\n chunked") + CHUNKED_SMUGGLED)
    assert status(answer) == 400 and answer.count(b"HTTP/1.1 ") == 1 and origin_app.seen == []


def test_smuggling_obs_fold_is_refused_or_unfolded(proxy, origin_app, http_parser):
    answer = raw_request(proxy, b"GET /echo HTTP/1.1\r\nHost: shop.example\r\nX-A: one\r\n two\r\nConnection: close\r\n\r\n")
    if http_parser == "httptools":
        assert status(answer) == 400 and origin_app.seen == []
    else:
        # h11 unfolds the line (RFC 9112 5.2 allows it): one header, one value.
        assert status(answer) == 200 and [(r["target"], dict(r["headers"])["x-a"]) for r in origin_app.seen] == [("/echo", "one two")]


def test_smuggling_bare_lf_is_refused_or_read_as_one_request(proxy, origin_app, http_parser):
    answer = raw_request(proxy, b"GET /echo HTTP/1.1\nHost: shop.example\nX-B: 1\nConnection: close\n\n" + SMUGGLED)
    if http_parser == "httptools":
        assert status(answer) == 400 and origin_app.seen == []
    else:
        # h11 reads bare LF as CRLF (RFC 9112 2.2 allows it); the origin gets the request with CRLF, alone.
        assert status(answer) == 200 and [(r["target"], dict(r["headers"])["x-b"]) for r in origin_app.seen] == [("/echo", "1")]


def test_smuggling_a_chunked_body_reaches_the_origin_as_one_body(proxy, origin_app):
    answer = raw_request(proxy, post(b"Transfer-Encoding: chunked") + CHUNKED_SMUGGLED)
    assert status(answer) == 200 and [(r["target"], r["body"]) for r in origin_app.seen] == [("/echo", SMUGGLED.decode())]
