"""The server-to-server API under /.etalage/api/: what the shop's backend tells Etalage.

For shops whose pages cannot say who logged in, or what was ordered: the backend calls these from its
login, logout and order code (examples/oscar has a Django app that does). Every call needs
`Authorization: Bearer $ETALAGE_API_KEY`, a key of its own so that the shop's servers never hold the
admin token; without the key set the API is off (404).

- `POST /.etalage/api/link` {"visitor": <the visitor cookie's value>, "customer": <id>}: a login.
- `POST /.etalage/api/unlink` {"visitor": <the visitor cookie's value>}: a logout.
- `POST /.etalage/api/events` {"type": "order" | "newsletter", ...}: an order with its value, or a
  newsletter sign-up, for a customer id or a visitor (see `events`).

A visitor is always named by its signed cookie value, so no call can tie a made-up id to a customer.
Bodies are checked whole before anything is written: a bad one gets 400 and the reason, nothing half done.
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from etalage.control.auth import refusal
from etalage.engine.convert import conversions, count_conversions
from etalage.metrics import Metrics
from etalage.profiles.profile import Event, Profile
from etalage.profiles.store import ProfileStore, StoreError
from etalage.rules.ruleset import RuleSet
from etalage.tokens import VisitorSigner
from etalage.webhooks.outbox import Outbox

__all__ = ["api_routes"]

_MAX_TEXT = 200
_MAX_PRODUCTS = 1000
_CURRENCY = re.compile(r"[A-Z]{3}")


class BadRequest(ValueError):
    """The body is not what the endpoint takes; the message says why (400)."""


def _json_object(body: bytes, shape: str) -> dict[str, Any]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"expected JSON {shape}: {exc}") from exc
    if not isinstance(data, dict):
        raise BadRequest(f"expected a JSON object {shape}")
    return data


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"{key}: expected a non-empty string")
    if len(value) > _MAX_TEXT:
        raise BadRequest(f"{key}: longer than {_MAX_TEXT} characters")
    return value.strip()


def _value(data: dict[str, Any]) -> float:
    """An order's value: a JSON number, or a decimal string as Django and most shops serialize money."""
    raw = data.get("value")
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise BadRequest('value: expected the order total, a number such as 25.98 or "25.98"')
    try:
        value = float(Decimal(raw) if isinstance(raw, str) else raw)
    except (InvalidOperation, ValueError) as exc:
        raise BadRequest(f"value: {raw!r} is not a number") from exc
    if not math.isfinite(value) or value < 0:
        raise BadRequest(f"value: {raw!r} is not an amount (finite, 0 or more)")
    return value


def _products(data: dict[str, Any]) -> Counter[str]:
    """Product ids, each as often as it was ordered (a repeated id is a quantity)."""
    raw = data.get("products")
    if not isinstance(raw, list) or not raw:
        raise BadRequest('products: expected a non-empty list of product ids, e.g. ["12", "7"]')
    if len(raw) > _MAX_PRODUCTS:
        raise BadRequest(f"products: more than {_MAX_PRODUCTS}")
    if not all(isinstance(item, str) and item.strip() and len(item) <= _MAX_TEXT for item in raw):
        raise BadRequest("products: every product id must be a non-empty string")
    return Counter(item.strip() for item in raw)


def _order_events(data: dict[str, Any], ruleset: RuleSet, now: float) -> list[Event]:
    order = _text(data, "order")
    value = _value(data)
    currency = data.get("currency")
    if not isinstance(currency, str) or not _CURRENCY.fullmatch(currency):
        raise BadRequest('currency: expected an ISO 4217 code such as "EUR"')
    lines = [
        # The category comes from the catalogue, as for every other purchase the profile learns.
        Event("purchase", product, now, {"order": order, "category": _category(ruleset, product), "quantity": quantity})
        for product, quantity in _products(data).items()
    ]
    return [Event("order", order, now, {"value": value, "currency": currency}), *lines]


def _category(ruleset: RuleSet, product: str) -> str:
    known = ruleset.catalog.get(product)
    return known.category if known is not None else ""


def _newsletter_events(data: dict[str, Any], ruleset: RuleSet, now: float) -> list[Event]:
    return [Event("newsletter_subscribe", _text(data, "newsletter"), now)]


_EVENT_TYPES: dict[str, Callable[[dict[str, Any], RuleSet, float], list[Event]]] = {
    "order": _order_events,
    "newsletter": _newsletter_events,
}


def _signed_visitor(signer: VisitorSigner, value: Any) -> str:
    verified = signer.verify(value) if isinstance(value, str) else None
    if verified is None:
        raise PermissionError("visitor: not a valid signed visitor id")
    return verified.visitor_id


def api_routes(
    store: ProfileStore,
    signer: VisitorSigner,
    rules: Callable[[], RuleSet],
    api_key: str,
    cookie_name: str,
    metrics: Metrics,
    outbox: Outbox | None = None,
) -> list[Route]:
    def refused(request: Request) -> Response | None:
        return refusal(request, api_key, endpoints="API", credential="API key", variable="ETALAGE_API_KEY")

    async def link(request: Request) -> Response:
        """A login: {"visitor": <visitor cookie value>, "customer": <id>}.

        A login renews the visitor id, as one the proxy sees does: the id the call names is left linked
        to nothing (someone may have planted that cookie in the browser) and a new id is linked to the
        customer, unless the old one was linked to this customer already. The answer,
        {"cookie": "etalage_vid", "visitor": "<value>"}, is the cookie the shop's response to this
        login must set: `Set-Cookie: etalage_vid=<value>` (its attributes do not matter). Etalage
        replaces that header with its own cookie for the new id, in a response to the browser that
        sent the old cookie and within HANDOFF_MAX_AGE (5 minutes); anywhere else it is dropped, as
        is every other Set-Cookie of the shop's for Etalage's cookies.
        """
        if answer := refused(request):
            return answer
        try:
            data = _json_object(await request.body(), '{"visitor": "<visitor cookie value>", "customer": "<customer id>"}')
            customer = _text(data, "customer")
            visitor = _signed_visitor(signer, data.get("visitor"))
        except BadRequest as exc:
            return PlainTextResponse(f"{exc}\n", status_code=400)
        except PermissionError as exc:
            return PlainTextResponse(f"{exc}\n", status_code=403)
        try:
            linked = await store.link(visitor, customer, renew_to=signer.new_id())
            await store.flush()
        except StoreError as exc:
            return PlainTextResponse(f"profile store unavailable: {exc}\n", status_code=503)
        return JSONResponse({"cookie": cookie_name, "visitor": signer.handoff(visitor, linked)}, headers={"cache-control": "no-store"})

    async def unlink(request: Request) -> Response:
        """A logout: {"visitor": <visitor cookie value>}. The id reaches the customer's profile no more
        (whoever uses the browser next sees nothing of theirs); the profile stays whole for their other
        devices. Answers {"unlinked": whether the id was linked}."""
        if answer := refused(request):
            return answer
        try:
            data = _json_object(await request.body(), '{"visitor": "<visitor cookie value>"}')
            visitor = _signed_visitor(signer, data.get("visitor"))
        except BadRequest as exc:
            return PlainTextResponse(f"{exc}\n", status_code=400)
        except PermissionError as exc:
            return PlainTextResponse(f"{exc}\n", status_code=403)
        try:
            unlinked = await store.unlink(visitor)
            await store.flush()
        except StoreError as exc:
            return PlainTextResponse(f"profile store unavailable: {exc}\n", status_code=503)
        return JSONResponse({"unlinked": unlinked}, headers={"cache-control": "no-store"})

    async def events(request: Request) -> Response:
        """Something the shop's backend knows: an order or a newsletter sign-up.

            {"type": "order", "customer": "42", "order": "100023", "products": ["12", "7"],
             "value": "25.98", "currency": "EUR"}
            {"type": "newsletter", "visitor": "<visitor cookie value>", "newsletter": "rodents"}

        Exactly one of "customer" (the id a login linked) and "visitor" names whose profile it is. An
        event is only recorded into a profile Etalage keeps, one that exists because its visitor
        consented (or a CRM import made it): the answer says {"recorded": false, "reason": ...}
        otherwise, and nothing is created. An order counts once, however often it is sent. Both count for
        the experiments' goals (`event = "purchase"` with the order's value, `"newsletter_subscribe"`)
        as when learned from a page; an order the thank-you page taught already counts once.
        """
        if answer := refused(request):
            return answer
        now = time.time()
        try:
            data = _json_object(await request.body(), '{"type": "order" | "newsletter", "customer" or "visitor": ..., ...}')
            kind = data.get("type")
            if kind not in _EVENT_TYPES:
                raise BadRequest(f"type: expected one of {', '.join(_EVENT_TYPES)}, got {kind!r}")
            if ("customer" in data) == ("visitor" in data):
                raise BadRequest('name exactly one of "customer" (a customer id) and "visitor" (the visitor cookie\'s value)')
            ruleset = rules()
            learned = _EVENT_TYPES[kind](data, ruleset, now)
            customer = _text(data, "customer") if "customer" in data else None
            visitor = None if customer is not None else _signed_visitor(signer, data.get("visitor"))
        except BadRequest as exc:
            return PlainTextResponse(f"{exc}\n", status_code=400)
        except PermissionError as exc:
            return PlainTextResponse(f"{exc}\n", status_code=403)
        try:
            if customer is not None:
                profile = await store.load_customer(customer)
                if profile is None:
                    return _not_recorded("no profile for this customer: none of their devices consented and logged in")
                await store.record_customer(customer, changes := _with_conversions(ruleset, profile, learned, now))
            elif visitor is not None:
                profile = None if await store.erased(visitor) else await store.load(visitor)
                if profile is None:
                    return _not_recorded("no profile for this visitor: consent was not given, or was withdrawn")
                await store.record(visitor, changes := _with_conversions(ruleset, profile, learned, now))
            await store.flush()
            if outbox is not None and profile is not None:
                # The triggers see the profile as the store now has it: the loaded copy with these events applied.
                was = outbox.before(ruleset, profile, now)
                profile.apply(changes)
                profile.customer_id = profile.customer_id or customer
                outbox.notice(ruleset, was, profile, visitor, None, now)
        except StoreError as exc:
            return PlainTextResponse(f"profile store unavailable: {exc}\n", status_code=503)
        return JSONResponse({"recorded": True}, headers={"cache-control": "no-store"})

    def _with_conversions(ruleset: RuleSet, profile: Profile, learned: list[Event], now: float) -> list[Event]:
        # The experiments' goals this event reaches, as a page view's would (an order known from the
        # thank-you page already counts once); first, so the profile can drop an order counted already.
        converted = conversions(ruleset, profile, learned, None, now)
        count_conversions(metrics, converted)
        return [*converted, *learned]

    return [
        Route("/.etalage/api/link", link, methods=["POST"]),
        Route("/.etalage/api/unlink", unlink, methods=["POST"]),
        Route("/.etalage/api/events", events, methods=["POST"]),
    ]


def _not_recorded(reason: str) -> Response:
    return JSONResponse({"recorded": False, "reason": reason}, headers={"cache-control": "no-store"})
