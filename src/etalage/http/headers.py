"""Header rules of a well-behaved reverse proxy (RFC 9110 7.6.1, RFC 9112)."""

from __future__ import annotations

from etalage.types import RawHeaders

__all__ = ["HOP_BY_HOP", "without_hop_by_hop", "get_header", "header_values", "merge_vary"]

# Never forwarded in either direction: they describe one connection, not the message.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"proxy-connection",
        b"keep-alive",
        b"te",
        b"transfer-encoding",
        b"upgrade",
        b"trailer",
        b"proxy-authenticate",
        b"proxy-authorization",
    }
)


def without_hop_by_hop(headers: RawHeaders, also: frozenset[bytes] = frozenset()) -> RawHeaders:
    """Drop hop-by-hop headers, every header the Connection header names, and the names in `also`."""
    named = set(HOP_BY_HOP) | also
    for name, value in headers:
        if name.lower() == b"connection":
            named.update(token.strip().lower() for token in value.split(b",") if token.strip())
    return [(name, value) for name, value in headers if name.lower() not in named]


def get_header(headers: RawHeaders, name: bytes) -> bytes | None:
    """The first value of `name` (lower-case), or None."""
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def header_values(headers: RawHeaders, name: bytes) -> list[bytes]:
    """Every value of `name` (lower-case), in order."""
    return [value for key, value in headers if key.lower() == name]


def merge_vary(headers: RawHeaders, field: bytes) -> RawHeaders:
    """Make sure Vary lists `field` (or `*`), keeping every other Vary value."""
    existing = [value for key, value in headers if key.lower() == b"vary"]
    tokens = {token.strip().lower() for value in existing for token in value.split(b",")}
    if field.lower() in tokens or b"*" in tokens:
        return headers
    merged = b", ".join([*(value.strip() for value in existing if value.strip()), field])
    return [(key, value) for key, value in headers if key.lower() != b"vary"] + [(b"vary", merged)]
