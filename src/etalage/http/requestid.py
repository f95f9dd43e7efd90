"""The id of each request: the one a trusted proxy in front gave it, or a new one.

It names the request in Etalage's log lines (etalage.logs.REQUEST_ID) and goes upstream as
X-Request-Id, so the shop's logs and Etalage's tell of the same request. An id from anyone but a
trusted proxy is replaced, as X-Forwarded-For is: a client must not choose what names its request
in the logs. A trusted one must look like an id (nginx's $request_id, a UUID, a trace id).
"""

from __future__ import annotations

import os
import re

from etalage.http.headers import header_values
from etalage.settings import TrustedProxies
from etalage.types import RawHeaders

__all__ = ["REQUEST_ID_HEADER", "request_id"]

REQUEST_ID_HEADER = b"x-request-id"
_VALID = re.compile(rb"[A-Za-z0-9._:+/=@-]{1,128}")


def request_id(headers: RawHeaders, peer: str | None, trusted: TrustedProxies) -> str:
    """A valid single X-Request-Id from a trusted peer, else a new random id (32 hex digits, as nginx makes)."""
    if peer is not None and peer in trusted:
        values = header_values(headers, REQUEST_ID_HEADER)
        if len(values) == 1 and _VALID.fullmatch(values[0].strip()):
            return values[0].strip().decode("ascii")
    # 16 random bytes in hex, as nginx's $request_id: uuid.uuid4().hex cost three times as much, on every request.
    return os.urandom(16).hex()
