"""The one way Etalage talks to the origin: an Upstream interface, implementations chosen by settings.

- aiohttp (the default): its connection pool costs a fraction of httpx's CPU per request; on one
  core it passes 100 KB pages through at about 11x httpx's rate (benchmarks/README.md).
- httpx, driven below its convenience layer: `client.send()` with a request we build, so httpx
  adds no default headers (User-Agent, Accept...) of its own, follows no redirects and does not
  decode bodies.

Every client's exceptions are translated here, so the proxy only knows UpstreamError.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import AsyncIterator

import aiohttp
import httpx
import yarl

from etalage.types import RawHeaders

__all__ = [
    "Upstream",
    "UpstreamResponse",
    "HttpxUpstream",
    "AiohttpUpstream",
    "create_upstream",
    "UpstreamError",
    "UpstreamTimeout",
    "UpstreamUnavailable",
]

_MAX_CONNECTIONS = 1000


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
    def __init__(self, origin: str, connect_timeout: float, read_timeout: float) -> None:
        self._origin = httpx.URL(origin)
        timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
        limits = httpx.Limits(max_connections=_MAX_CONNECTIONS, max_keepalive_connections=100)
        self._client = httpx.AsyncClient(timeout=timeout, limits=limits, follow_redirects=False, trust_env=False)

    async def send(self, method: str, target: bytes, headers: RawHeaders, body: AsyncIterator[bytes] | None) -> UpstreamResponse:
        request = httpx.Request(method, self._origin.copy_with(raw_path=target), headers=headers, content=body)
        try:
            response = await self._client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise _translate(exc) from exc
        return _HttpxResponse(response)

    async def aclose(self) -> None:
        await self._client.aclose()


def _aiohttp_session(connect_timeout: float, read_timeout: float) -> aiohttp.ClientSession:
    """A session that adds no headers of its own and hands bodies over as the origin sent them."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=_MAX_CONNECTIONS, ttl_dns_cache=60),
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=connect_timeout, sock_read=read_timeout),
        auto_decompress=False,
        skip_auto_headers=("User-Agent", "Accept-Encoding", "Accept"),
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,
    )


class _AiohttpResponse(UpstreamResponse):
    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self.status = response.status
        self.headers = list(response.raw_headers)

    async def aiter_raw(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise _translate_aiohttp(exc) from exc

    async def aclose(self) -> None:
        self._response.release()


def _translate_aiohttp(exc: BaseException) -> UpstreamError:
    if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        return UpstreamTimeout(f"upstream timed out: {type(exc).__name__}")
    return UpstreamUnavailable(f"upstream failed: {type(exc).__name__}: {exc}")


async def _noting_failure(body: AsyncIterator[bytes], failed: list[Exception]) -> AsyncIterator[bytes]:
    """`body`, keeping the error it raises: aiohttp wraps it in a connection error of its own."""
    try:
        async for chunk in body:
            yield chunk
    except Exception as exc:
        failed.append(exc)
        raise


class AiohttpUpstream(Upstream):
    def __init__(self, origin: str, connect_timeout: float, read_timeout: float) -> None:
        self._origin = origin
        self._timeouts = (connect_timeout, read_timeout)
        self._session: aiohttp.ClientSession | None = None

    async def send(self, method: str, target: bytes, headers: RawHeaders, body: AsyncIterator[bytes] | None) -> UpstreamResponse:
        if self._session is None:
            # Created on first use: an aiohttp session belongs to the running event loop.
            self._session = _aiohttp_session(*self._timeouts)
        url = yarl.URL(self._origin + target.decode("latin-1"), encoded=True)
        pairs = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in headers]
        failed: list[Exception] = []
        try:
            response = await self._session.request(
                method, url, headers=pairs, data=_noting_failure(body, failed) if body is not None else None, allow_redirects=False
            )
        except (TimeoutError, aiohttp.ClientError) as exc:
            if failed:  # the request body failed (the browser went away), not the origin: as it is, as httpx has it
                raise failed[0] from exc
            raise _translate_aiohttp(exc) from exc
        return _AiohttpResponse(response)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


def create_upstream(client: str, origin: str, connect_timeout: float, read_timeout: float) -> Upstream:
    """The upstream client the settings name."""
    if client == "aiohttp":
        return AiohttpUpstream(origin, connect_timeout, read_timeout)
    return HttpxUpstream(origin, connect_timeout, read_timeout)
