"""Type aliases shared across the package (aliases only, nothing else)."""

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["Scope", "Message", "Receive", "Send", "RawHeaders", "CookieJar"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# Raw HTTP header list as ASGI and httpx carry it: order and duplicates (Set-Cookie) kept.
RawHeaders = list[tuple[bytes, bytes]]

# Cookie name -> every value sent under that name, in header order.
CookieJar = dict[str, list[str]]
