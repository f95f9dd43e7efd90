"""Bearer tokens for Etalage's own endpoints: the admin token, and the shop backend's API key."""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

__all__ = ["refusal"]


def _authorized(request: Request, token: str) -> bool:
    supplied = request.headers.get("authorization", "")
    scheme, _, value = supplied.partition(" ")
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(value.encode(), token.encode())


def refusal(request: Request, token: str, *, endpoints: str, credential: str, variable: str) -> Response | None:
    """The answer to a request without `token` (404 while the token is not set: the endpoints are off), or
    None when the request carries it as `Authorization: Bearer <token>`."""
    if not token:
        return PlainTextResponse(f"{endpoints} endpoints are off: set {variable}\n", status_code=404)
    if not _authorized(request, token):
        return PlainTextResponse(f"{credential} required\n", status_code=401, headers={"www-authenticate": "Bearer"})
    return None
