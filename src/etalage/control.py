"""Etalage's own endpoints under the reserved path /.etalage/ (never forwarded to the shop)."""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from .metrics import Metrics

__all__ = ["control_routes", "RESERVED_PREFIX"]

RESERVED_PREFIX = "/.etalage/"


def _authorized(request: Request, token: str) -> bool:
    supplied = request.headers.get("authorization", "")
    scheme, _, value = supplied.partition(" ")
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(value.encode(), token.encode())


def control_routes(metrics: Metrics, admin_token: str) -> list[Route]:
    async def health(request: Request) -> Response:
        return PlainTextResponse("ok\n", headers={"cache-control": "no-store"})

    async def prometheus(request: Request) -> Response:
        if not admin_token:
            return PlainTextResponse("admin endpoints are off: set ETALAGE_ADMIN_TOKEN\n", status_code=404)
        if not _authorized(request, admin_token):
            return PlainTextResponse("admin token required\n", status_code=401, headers={"www-authenticate": "Bearer"})
        return PlainTextResponse(metrics.render(), headers={"cache-control": "no-store"}, media_type="text/plain; version=0.0.4")

    return [Route("/.etalage/health", health), Route("/.etalage/metrics", prometheus)]
