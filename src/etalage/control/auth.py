"""Bearer tokens for Etalage's own endpoints: the admin token, and the shop backend's API key."""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

__all__ = ["admin_refusal", "api_refusal", "metrics_refusal"]


def _authorized(request: Request, token: str) -> bool:
    supplied = request.headers.get("authorization", "")
    scheme, _, value = supplied.partition(" ")
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(value.encode(), token.encode())


def _refusal(request: Request, token: str, *, endpoints: str, credential: str, variable: str) -> Response | None:
    """The answer to a request without `token` (404 while the token is not set: the endpoints are off), or
    None when the request carries it as `Authorization: Bearer <token>`."""
    if not token:
        return PlainTextResponse(f"{endpoints} endpoints are off: set {variable}\n", status_code=404)
    if not _authorized(request, token):
        return PlainTextResponse(f"{credential} required\n", status_code=401, headers={"www-authenticate": "Bearer"})
    return None


def admin_refusal(request: Request, admin_token: str) -> Response | None:
    """_refusal() for the admin endpoints (ETALAGE_ADMIN_TOKEN)."""
    return _refusal(request, admin_token, endpoints="admin", credential="admin token", variable="ETALAGE_ADMIN_TOKEN")


def api_refusal(request: Request, api_key: str) -> Response | None:
    """_refusal() for the server-to-server API (ETALAGE_API_KEY)."""
    return _refusal(request, api_key, endpoints="API", credential="API key", variable="ETALAGE_API_KEY")


def metrics_refusal(request: Request, metrics_token: str, admin_token: str) -> Response | None:
    """The answer to a /.etalage/metrics request without a token for it, or None: the metrics token
    (ETALAGE_METRICS_TOKEN, for the scraper, which then holds no power over customers' data) or the
    admin token."""
    if not metrics_token and not admin_token:
        return PlainTextResponse("metrics are off: set ETALAGE_METRICS_TOKEN (or ETALAGE_ADMIN_TOKEN)\n", status_code=404)
    if any(token and _authorized(request, token) for token in (metrics_token, admin_token)):
        return None
    return PlainTextResponse("metrics token required\n", status_code=401, headers={"www-authenticate": "Bearer"})
