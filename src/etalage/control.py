"""Etalage's own endpoints under the reserved path /.etalage/ (never forwarded to the shop)."""

from __future__ import annotations

import hmac

import dataclasses

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from .metrics import Metrics
from .rulebook import RuleBook

__all__ = ["control_routes", "RESERVED_PREFIX"]

RESERVED_PREFIX = "/.etalage/"


def _authorized(request: Request, token: str) -> bool:
    supplied = request.headers.get("authorization", "")
    scheme, _, value = supplied.partition(" ")
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(value.encode(), token.encode())


def _refusal(request: Request, admin_token: str) -> Response | None:
    if not admin_token:
        return PlainTextResponse("admin endpoints are off: set ETALAGE_ADMIN_TOKEN\n", status_code=404)
    if not _authorized(request, admin_token):
        return PlainTextResponse("admin token required\n", status_code=401, headers={"www-authenticate": "Bearer"})
    return None


def control_routes(metrics: Metrics, rules: RuleBook, admin_token: str) -> list[Route]:
    async def health(request: Request) -> Response:
        return PlainTextResponse("ok\n", headers={"cache-control": "no-store"})

    async def prometheus(request: Request) -> Response:
        if refusal := _refusal(request, admin_token):
            return refusal
        return PlainTextResponse(metrics.render(), headers={"cache-control": "no-store"}, media_type="text/plain; version=0.0.4")

    async def rules_status(request: Request) -> Response:
        """The rules in force, how often each fired, and why the last reload failed (if it did)."""
        if refusal := _refusal(request, admin_token):
            return refusal
        ruleset = rules.current
        return JSONResponse(
            {
                "directory": str(rules.directory),
                "version": ruleset.version,
                "loaded_at": rules.loaded_at,
                "rules": [
                    {
                        "id": rule.id,
                        "action": rule.action.kind,
                        "block": rule.block,
                        "priority": rule.priority,
                        "pages": [page.pattern for page in rule.pages],
                        "source": rule.source,
                        "fired": metrics.value("etalage_rule_fired_total", rule=rule.id),
                    }
                    for rule in ruleset.rules
                ],
                "last_error": None
                if rules.failed_at is None
                else {"at": rules.failed_at, "problems": [dataclasses.asdict(problem) for problem in rules.last_problems]},
            },
            headers={"cache-control": "no-store"},
        )

    return [Route("/.etalage/health", health), Route("/.etalage/metrics", prometheus), Route("/.etalage/admin/rules", rules_status)]
