"""Which requests Etalage refuses before it does anything else, and which of a request's headers go upstream.

uvicorn (with httptools) hands on nearly whatever parses, so Etalage holds requests to the rules a
reverse proxy such as nginx or Envoy applies, for the shop behind it and for its own /.etalage/ routes:

- 414/431 for a target or headers larger than the settings allow (nginx's large_client_header_buffers,
  Envoy's max_request_headers_kb and max_request_headers_count);
- 405 for TRACE, TRACK and CONNECT (a trace echoes cookies back; Etalage is not a tunnel);
- 400 for a target that is not a path (Etalage is not a forward proxy), a Host that is missing in
  HTTP/1.1, repeated or not a host[:port] (RFC 9112 3.2);
- 400 or 501 for framing two parsers could read differently (RFC 9112 6.1, 6.3): Transfer-Encoding
  with Content-Length, Transfer-Encoding in HTTP/1.0, a transfer coding other than chunked, a
  Content-Length that is not one number.

Of what passes, header names with an underscore stay behind (nginx's underscores_in_headers off: a
WSGI origin reads X_Forwarded_For as X-Forwarded-For), and so does Expect (uvicorn already answered
100 Continue to the client; forwarded, it makes the upstream client wait for a second one).
"""

from __future__ import annotations

import re

from etalage.http.errors import error_page
from etalage.settings import Settings
from etalage.types import RawHeaders, Scope, Send

__all__ = ["refusal", "refused", "forwardable", "ALLOWED_METHODS"]

REFUSED_METHODS = frozenset({"TRACE", "TRACK", "CONNECT"})
ALLOWED_METHODS = b"GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
# A DNS name or IPv4 address, or an IPv6 literal, and an optional port: nothing a Location header or
# a log line could be made to say more with.
_HOST = re.compile(rb"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::[0-9]{1,5})?")
# ": " and CRLF around each header on the wire, as nginx and Envoy count them.
_HEADER_OVERHEAD = 4
_FRAMING = frozenset({b"transfer-encoding", b"content-length"})


def refusal(scope: Scope, settings: Settings) -> tuple[int, RawHeaders, bytes] | None:
    """The answer to an HTTP request Etalage must not handle (status, headers, body), or None."""
    headers: RawHeaders = scope["headers"]
    target = (scope.get("raw_path") or scope["path"].encode()) + scope.get("query_string", b"")
    if len(target) > settings.max_request_header_bytes:
        return error_page(414)
    if len(headers) > settings.max_request_headers:
        return error_page(431)
    # One pass over the headers on every request: their size, and the few the checks below read.
    size = 0
    hosts: list[bytes] = []
    framing: list[tuple[bytes, bytes]] = []
    for name, value in headers:
        size += len(name) + len(value) + _HEADER_OVERHEAD
        lowered = name.lower()
        if lowered == b"host":
            hosts.append(value)
        elif lowered in _FRAMING:
            framing.append((lowered, value))
    if size > settings.max_request_header_bytes:
        return error_page(431)
    if scope["method"] in REFUSED_METHODS:
        return error_page(405, [(b"allow", ALLOWED_METHODS)])
    if not target.startswith(b"/"):
        # Absolute-form (where the server hands it on: h11 does, httptools keeps only the path),
        # authority-form or asterisk targets.
        return error_page(400)
    if len(hosts) > 1 or (not hosts and scope.get("http_version") == "1.1") or (hosts and not _HOST.fullmatch(hosts[0])):
        return error_page(400)
    return _framing_refusal(framing, scope.get("http_version")) if framing else None


def _framing_refusal(framing: list[tuple[bytes, bytes]], http_version: str | None) -> tuple[int, RawHeaders, bytes] | None:
    transfer_encodings = [value for name, value in framing if name == b"transfer-encoding"]
    lengths = [value for name, value in framing if name == b"content-length"]
    if transfer_encodings:
        if lengths or http_version == "1.0":
            return error_page(400)
        codings = [coding.strip().lower() for value in transfer_encodings for coding in value.split(b",")]
        if codings != [b"chunked"]:
            # RFC 9112 6.1: a transfer coding the server does not understand is a 501.
            return error_page(501)
    if len(lengths) > 1 or (lengths and not lengths[0].isdigit()):
        return error_page(400)
    return None


async def refused(scope: Scope, send: Send, settings: Settings) -> bool:
    """Answer an HTTP request Etalage must not handle; True when it was answered (and so is done)."""
    if scope["type"] != "http":
        return False
    answer = refusal(scope, settings)
    if answer is None:
        return False
    status, headers, body = answer
    # What follows a refused request on the same connection cannot be trusted to be framed as the
    # server read it (RFC 9112 6.1): the connection closes after the answer, as nginx closes it.
    headers = [*headers, (b"connection", b"close")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
    return True


def forwardable(headers: RawHeaders) -> RawHeaders:
    """The request headers that may go upstream, before hop-by-hop and forwarding headers are settled."""
    return [(name, value) for name, value in headers if b"_" not in name and name.lower() != b"expect"]
