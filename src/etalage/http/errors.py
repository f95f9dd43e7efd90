"""The small pages Etalage answers with itself, when it refuses a request or the origin fails.

They name the status and nothing else: no exception, host, client or library ever shows.
"""

from __future__ import annotations

from etalage.types import RawHeaders

__all__ = ["error_page"]

_REASONS = {
    400: "Bad Request",
    405: "Method Not Allowed",
    414: "URI Too Long",
    431: "Request Header Fields Too Large",
    501: "Not Implemented",
    502: "Bad Gateway",
    504: "Gateway Timeout",
}


def error_page(status: int, extra_headers: RawHeaders | None = None) -> tuple[int, RawHeaders, bytes]:
    """Status, headers and body of Etalage's own page for `status` (one of those above)."""
    reason = _REASONS[status]
    # A refused request will not go through on a retry; a failing origin may.
    advice = (
        "The shop cannot answer this request." if status < 500 else "The shop could not answer this request. Please try again in a moment."
    )
    body = (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{status} {reason}</title></head>'
        f"<body><h1>{status} {reason}</h1><p>{advice}</p></body></html>"
    ).encode()
    headers = [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        *(extra_headers or ()),
    ]
    return status, headers, body
