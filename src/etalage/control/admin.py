"""Etalage's own endpoints under the reserved path /.etalage/ (never forwarded to the shop)."""

from __future__ import annotations

import dataclasses
import hmac

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from etalage.metrics import CONTENT_TYPE, Metrics
from etalage.profiles.store import ProfileStore, StoreError
from etalage.rules.rulebook import RuleBook
from etalage.tokens import VisitorSigner

__all__ = ["control_routes", "api_routes", "RESERVED_PREFIX"]

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


def api_routes(store: ProfileStore, signer: VisitorSigner, admin_token: str, cookie_name: str) -> list[Route]:
    async def link(request: Request) -> Response:
        """The shop's backend tells Etalage who logged in: {"visitor": <etalage_vid cookie value>, "customer": <id>}.

        For shops whose pages cannot carry a login header. The visitor is named by its signed cookie
        value, so the call cannot tie a made-up id to a customer.

        A login renews the visitor id, as one the proxy sees does: the id the call names is left linked
        to nothing (someone may have planted that cookie in the browser) and a new id is linked to the
        customer, unless the old one was linked to this customer already. The answer,
        {"cookie": "etalage_vid", "visitor": "<value>"}, is the cookie the shop's response to this
        login must set: `Set-Cookie: etalage_vid=<value>` (its attributes do not matter). Etalage
        replaces that header with its own cookie for the new id, in a response to the browser that
        sent the old cookie and within HANDOFF_MAX_AGE (5 minutes); anywhere else it is dropped, as
        is every other Set-Cookie of the shop's for Etalage's cookies.
        """
        if refusal := _refusal(request, admin_token):
            return refusal
        try:
            data = orjson.loads(await request.body())
            visitor, customer = data["visitor"], data["customer"]
            if not isinstance(visitor, str) or not isinstance(customer, str) or not customer.strip():
                raise TypeError("visitor and customer must be non-empty strings")
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            return PlainTextResponse(
                f'expected JSON {{"visitor": "<etalage_vid cookie value>", "customer": "<customer id>"}}: {exc}\n', status_code=400
            )
        verified = signer.verify(visitor)
        if verified is None:
            return PlainTextResponse("visitor: not a valid signed visitor id\n", status_code=403)
        try:
            linked = await store.link(verified.visitor_id, customer.strip(), renew_to=signer.new_id())
            await store.flush()
        except StoreError as exc:
            return PlainTextResponse(f"profile store unavailable: {exc}\n", status_code=503)
        return JSONResponse(
            {"cookie": cookie_name, "visitor": signer.handoff(verified.visitor_id, linked)}, headers={"cache-control": "no-store"}
        )

    return [Route("/.etalage/api/link", link, methods=["POST"])]
