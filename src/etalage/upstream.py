"""The one way Etalage talks to the origin: an Upstream interface with an httpx implementation.

httpx is driven below its convenience layer on purpose: `client.send()` with a request we build,
so httpx adds no default headers (User-Agent, Accept...) of its own, follows no redirects and does
not decode bodies. Its exceptions are translated here, so the proxy only knows UpstreamError.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator

import httpx

from .types import RawHeaders

__all__ = ["Upstream", "UpstreamResponse", "HttpxUpstream", "UpstreamError", "UpstreamTimeout", "UpstreamUnavailable"]


class UpstreamError(Exception):
    """The origin could not be reached or did not answer properly."""


class UpstreamTimeout(UpstreamError):
    """The origin did not answer in time (504)."""


class UpstreamUnavailable(UpstreamError):
    """The origin refused, reset or garbled the connection (502)."""


def _translate(exc: httpx.HTTPError) -> UpstreamError:
    if isinstance(exc, httpx.TimeoutException):
        return UpstreamTimeout(f"upstream timed out: {type(exc).__name__}")
    return UpstreamUnavailable(f"upstream failed: {type(exc).__name__}: {exc}")


class UpstreamResponse(abc.ABC):
    status: int
    headers: RawHeaders

    @abc.abstractmethod
    def aiter_raw(self) -> AsyncIterator[bytes]:
        """The body as the origin sent it (still content-encoded)."""

    @abc.abstractmethod
    async def aclose(self) -> None: ...


class Upstream(abc.ABC):
    @abc.abstractmethod
    async def send(self, method: str, target: bytes, headers: RawHeaders, body: AsyncIterator[bytes] | None) -> UpstreamResponse:
        """Send a request for `target` (origin-form path and query) and return once headers arrived."""

    async def aclose(self) -> None:
        """Close pooled connections."""


class _HttpxResponse(UpstreamResponse):
    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self.status = response.status_code
        self.headers = list(response.headers.raw)

    async def aiter_raw(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.aiter_raw():
                yield chunk
        except httpx.HTTPError as exc:
            raise _translate(exc) from exc

    async def aclose(self) -> None:
        await self._response.aclose()


class HttpxUpstream(Upstream):
    def __init__(self, origin: str, connect_timeout: float, read_timeout: float, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._origin = httpx.URL(origin)
        timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
        limits = httpx.Limits(max_connections=1000, max_keepalive_connections=100)
        self._client = httpx.AsyncClient(timeout=timeout, limits=limits, transport=transport, follow_redirects=False, trust_env=False)

    async def send(self, method: str, target: bytes, headers: RawHeaders, body: AsyncIterator[bytes] | None) -> UpstreamResponse:
        request = httpx.Request(method, self._origin.copy_with(raw_path=target), headers=headers, content=body)
        try:
            response = await self._client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise _translate(exc) from exc
        return _HttpxResponse(response)

    async def aclose(self) -> None:
        await self._client.aclose()
