"""Who the client is and which address it used, as a reverse proxy must tell them (RFC 7239 spirit).

X-Forwarded-For/Proto/Host count only from peers listed as trusted proxies; from anyone else they
are overwritten, never believed. A header that went through several proxies lists one value per hop
(`a.example, b.internal`): the first is the one the browser used.
"""

from __future__ import annotations

from etalage.http.headers import get_header
from etalage.settings import TrustedProxies
from etalage.types import RawHeaders

__all__ = ["public_origin"]


def _first(value: bytes) -> bytes:
    return value.split(b",", 1)[0].strip()


def public_origin(scheme: str, headers: RawHeaders, peer: str | None, trusted: TrustedProxies, default_host: bytes) -> tuple[str, bytes]:
    """Scheme and host the browser used for this request: the connection's own, or what a trusted
    proxy in front says in X-Forwarded-Proto/Host."""
    host = get_header(headers, b"host") or default_host
    if peer is not None and peer in trusted:
        proto = get_header(headers, b"x-forwarded-proto")
        if proto and _first(proto):
            scheme = _first(proto).decode("latin-1").lower()
        forwarded_host = get_header(headers, b"x-forwarded-host")
        if forwarded_host and _first(forwarded_host):
            host = _first(forwarded_host)
    return scheme, host
