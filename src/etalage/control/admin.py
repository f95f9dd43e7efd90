"""Etalage's own endpoints under the reserved path /.etalage/ (never forwarded to the shop)."""

from __future__ import annotations

import dataclasses

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from etalage.control.auth import admin_refusal, metrics_refusal
from etalage.metrics import CONTENT_TYPE, Metrics
from etalage.rules.rulebook import RuleBook

__all__ = ["control_routes", "RESERVED_PREFIX"]

RESERVED_PREFIX = "/.etalage/"


def _refusal(request: Request, admin_token: str) -> Response | None:
    return admin_refusal(request, admin_token)


def control_routes(metrics: Metrics, rules: RuleBook, admin_token: str, metrics_token: str) -> list[Route]:
    async def health(request: Request) -> Response:
        return PlainTextResponse("ok\n", headers={"cache-control": "no-store"})

    async def prometheus(request: Request) -> Response:
        if refusal := metrics_refusal(request, metrics_token, admin_token):
            return refusal
        return Response(metrics.render(), headers={"cache-control": "no-store"}, media_type=CONTENT_TYPE)

    async def rules_status(request: Request) -> Response:
        """The rules in force, how often each fired, the last few blocks missing from a page (the
        metric counts them by block and reason; the page is only here), and why the last reload
        failed (if it did)."""
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
                        # e.g. "0 of 20 cards have a category on the last page sorted": why a rule never fires
                        "status": rule.action.status(),
                    }
                    for rule in ruleset.rules
                ],
                # Moments for the messaging platform; /.etalage/admin/webhooks shows their delivery.
                "triggers": [
                    {
                        "id": trigger.id,
                        "moment": trigger.kind,
                        "source": trigger.source,
                        "queued": metrics.value("etalage_moments_total", trigger=trigger.id),
                    }
                    for trigger in ruleset.triggers
                ],
                "blocks_missed": [dataclasses.asdict(miss) for miss in metrics.recent_misses()],
                # Non-zero: the [login] cookie changed value without a logout, so it is no customer id.
                "logins_ignored": metrics.value("etalage_logins_ignored_total", reason="login_cookie_replaced"),
                "last_error": None
                if rules.failed_at is None
                else {"at": rules.failed_at, "problems": [dataclasses.asdict(problem) for problem in rules.last_problems]},
            },
            headers={"cache-control": "no-store"},
        )

    return [Route("/.etalage/health", health), Route("/.etalage/metrics", prometheus), Route("/.etalage/admin/rules", rules_status)]
