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

import time
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from etalage.control.auth import api_refusal
from etalage.engine.convert import conversions, count_conversions
from etalage.engine.orders import InvalidData, order_events, parse_object, text
from etalage.metrics import Metrics
from etalage.profiles.profile import Event, Profile
from etalage.profiles.store import ProfileStore, StoreError
from etalage.rules.ruleset import RuleSet
from etalage.tokens import VisitorSigner
from etalage.webhooks.outbox import Outbox

__all__ = ["api_routes"]


def _newsletter_events(data: dict[str, Any], ruleset: RuleSet, now: float) -> list[Event]:
    return [Event("newsletter_subscribe", text(data, "newsletter"), now)]


_EVENT_TYPES: dict[str, Callable[[dict[str, Any], RuleSet, float], list[Event]]] = {
    "order": order_events,
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
        return api_refusal(request, api_key)

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
            data = parse_object(await request.body(), '{"visitor": "<visitor cookie value>", "customer": "<customer id>"}')
            customer = text(data, "customer")
            visitor = _signed_visitor(signer, data.get("visitor"))
        except InvalidData as exc:
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
            data = parse_object(await request.body(), '{"visitor": "<visitor cookie value>"}')
            visitor = _signed_visitor(signer, data.get("visitor"))
        except InvalidData as exc:
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

        An offline or point-of-sale order sent later may say when it was placed, "date":
        "2026-03-01T14:30:00+01:00" (ISO 8601; UTC without an offset; not in the future); it counts
        for an experiment's goal only when placed after the customer first saw their variant.

        Exactly one of "customer" (the id a login linked) and "visitor" names whose profile it is. An
        event is only recorded into a profile Etalage keeps, one that exists because its visitor
        consented (or a CRM import made it): the answer says {"recorded": false, "reason": ...}
        otherwise, and nothing is created. An order counts once, however often it is sent. Both count for
        the experiments' goals (`event = "purchase"` with the order's value, `"newsletter_subscribe"`)
        as when learned from a page; an order the thank-you page taught already counts once.

        An optional "id" (a string the backend chooses, unique per event) makes any event idempotent:
        sent again with the same id, for the same profile, it changes nothing and the answer says
        {"recorded": true, "duplicate": true}; also when two copies arrive at once in two workers (the
        profile keeps the newest KEPT_EVENT_IDS ids and skips the events of one it holds).
        """
        if answer := refused(request):
            return answer
        now = time.time()
        try:
            data = parse_object(await request.body(), '{"type": "order" | "newsletter", "customer" or "visitor": ..., ...}')
            kind = data.get("type")
            if kind not in _EVENT_TYPES:
                raise InvalidData(f"type: expected one of {', '.join(_EVENT_TYPES)}, got {kind!r}")
            if ("customer" in data) == ("visitor" in data):
                raise InvalidData('name exactly one of "customer" (a customer id) and "visitor" (the visitor cookie\'s value)')
            ruleset = rules()
            learned = _EVENT_TYPES[kind](data, ruleset, now)
            customer = text(data, "customer") if "customer" in data else None
            event_id = text(data, "id") if "id" in data else None
            visitor = None if customer is not None else _signed_visitor(signer, data.get("visitor"))
        except InvalidData as exc:
            return PlainTextResponse(f"{exc}\n", status_code=400)
        except PermissionError as exc:
            return PlainTextResponse(f"{exc}\n", status_code=403)
        try:
            if customer is not None:
                profile = await store.load_customer(customer)
                if profile is None:
                    return _not_recorded("no profile for this customer: none of their devices consented and logged in")
                if event_id in profile.event_ids:
                    return _duplicate()
                await store.record_customer(customer, changes := _with_conversions(ruleset, profile, learned, learned[0].at, event_id))
            elif visitor is not None:
                profile = None if await store.erased(visitor) else await store.load(visitor)
                if profile is None:
                    return _not_recorded("no profile for this visitor: consent was not given, or was withdrawn")
                if event_id in profile.event_ids:
                    return _duplicate()
                await store.record(visitor, changes := _with_conversions(ruleset, profile, learned, learned[0].at, event_id))
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

    def _with_conversions(ruleset: RuleSet, profile: Profile, learned: list[Event], now: float, event_id: str | None) -> list[Event]:
        # The experiments' goals this event reaches, as a page view's would (an order known from the
        # thank-you page already counts once); first, so the profile can drop an order counted already.
        converted = conversions(ruleset, profile, learned, None, now)
        if event_id is None:
            count_conversions(metrics, converted)
            return [*converted, *learned]
        # Each event tagged with the id, and the id last: a copy applied after this one is skipped whole
        # (Profile.apply), also one another worker loaded the profile for before this write.
        tagged = [event._replace(data={**(event.data or {}), "event_id": event_id}) for event in (*converted, *learned)]
        count_conversions(metrics, converted)
        return [*tagged, Event("event_id", event_id, now)]

    return [
        Route("/.etalage/api/link", link, methods=["POST"]),
        Route("/.etalage/api/unlink", unlink, methods=["POST"]),
        Route("/.etalage/api/events", events, methods=["POST"]),
    ]


def _duplicate() -> Response:
    return JSONResponse({"recorded": True, "duplicate": True}, headers={"cache-control": "no-store"})


def _not_recorded(reason: str) -> Response:
    return JSONResponse({"recorded": False, "reason": reason}, headers={"cache-control": "no-store"})
