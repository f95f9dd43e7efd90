"""The customers API under /.etalage/api/customers: a CRM pushes its segment and newsletter lists as they change.

What `etalage import --replace segments,newsletters` does for a whole export, for one customer or a
batch of them at the moment the CRM changes them:

    PUT  /.etalage/api/customers/<id>   {"segments": ["vip"], "newsletters": ["dogs"]}
    POST /.etalage/api/customers        {"customers": [{"customer_id": "C-1", "segments": []}, ...]}

Each list given replaces the customer's (an empty list leaves none); a list left out is left alone.
Names are checked as the import checks them (segments: at most 100 printable characters, no "|";
newsletters: categories of the rule set; ids: at most 128 characters, no spaces). A body with any
problem gets 400 and every problem, one a line, and nothing is written; a batch is checked whole
first. Each customer is one write (one record_customer call, atomic in both stores), so no profile
is ever half written; sending the same body again changes nothing. As for the import, a customer
Etalage does not know yet gets a profile, which their first login (with consent) joins. A customer
whose consent is refused keeps nothing of it (the profile learns nothing until a new grant).

The answer comes once the write is stored (the store flushed), so the next page view sees it: at
once on this worker, within the Redis read cache's second on the others.
Authorization: `Bearer $ETALAGE_API_KEY`, as the rest of /.etalage/api/.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from etalage.control.auth import api_refusal
from etalage.engine.customer_fields import BadField, Checker
from etalage.problems import did_you_mean
from etalage.profiles.profile import Event
from etalage.profiles.store import ProfileStore, StoreError
from etalage.rules.ruleset import RuleSet

__all__ = ["crm_routes"]

LISTS = ("segments", "newsletters")
# Enough for any CRM's page of changes; a bigger one is split by the caller, not held in memory here.
MAX_BATCH = 1000
MAX_NAMES = 1000


class _Invalid(Exception):
    """The body's problems, every one: 400, nothing written."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))


def _json_type(value: Any) -> str:
    return {dict: "an object", list: "a list", bool: "true/false", str: "a string", type(None): "null"}.get(type(value), "a number")


def _customer_events(
    ruleset: RuleSet, now: float, customer_id: Any, body: Any, where: str, keys: tuple[str, ...] = LISTS
) -> tuple[str, list[Event], list[str]]:
    """The id, the events and the problems (each prefixed by `where`) of one customer's lists; the
    body may hold `keys` and no other."""
    problems: list[str] = []
    if not isinstance(body, dict):
        return "", [], [f"{where}expected a JSON object with {' and/or '.join(LISTS)}, got {_json_type(body)}"]
    given = [key for key in LISTS if key in body]
    for key in body:
        if key not in keys:
            problems.append(f"{where}unknown key {key!r} ({did_you_mean(key, keys)})")
    if not given:
        problems.append(f"{where}give segments and/or newsletters, each the customer's whole list")
    checker = Checker(ruleset, now, replace=given)
    ident = ""
    try:
        if not isinstance(customer_id, str):
            raise BadField(f"customer_id must be a string, got {_json_type(customer_id)}")
        ident = checker.customer_id(customer_id.strip())
    except BadField as bad:
        problems.append(f"{where}{bad}")
    lists: dict[str, list[str]] = {key: [] for key in LISTS}
    for key in given:
        names = body[key]
        if not isinstance(names, list):
            problems.append(f"{where}{key} must be a list, got {_json_type(names)}")
            continue
        if len(names) > MAX_NAMES:
            problems.append(f"{where}{key}: more than {MAX_NAMES} names")
            continue
        check = checker.segment if key == "segments" else lambda name: checker.category(name, "newsletter category")
        for name in names:
            try:
                if not isinstance(name, str):
                    raise BadField(f"an entry of {key} must be a string, got {_json_type(name)}")
                lists[key].append(check(name.strip()))
            except BadField as bad:
                problems.append(f"{where}{bad}")
    if problems:
        return ident, [], problems
    return ident, checker.base_events(ident, lists["segments"], lists["newsletters"], given), []


def _batch(ruleset: RuleSet, now: float, data: Any) -> list[tuple[str, list[Event]]]:
    if not isinstance(data, dict) or set(data) != {"customers"} or not isinstance(data["customers"], list):
        raise _Invalid(['expected {"customers": [{"customer_id": "C-1", "segments": [...], "newsletters": [...]}, ...]}'])
    customers = data["customers"]
    if not customers:
        raise _Invalid(["customers: the list is empty"])
    if len(customers) > MAX_BATCH:
        raise _Invalid([f"customers: {len(customers)} customers, at most {MAX_BATCH} a call (send the rest in another)"])
    writes: dict[str, list[Event]] = {}
    problems: list[str] = []
    for index, item in enumerate(customers):
        where = f"customers[{index}]: "
        customer_id = item.get("customer_id") if isinstance(item, dict) else None
        ident, events, found = _customer_events(ruleset, now, customer_id, item, where, ("customer_id", *LISTS))
        if ident in writes and not found:
            found = [f"{where}customer {ident!r} is in the batch twice (which list would win?)"]
        problems += found
        writes[ident] = events
    if problems:
        raise _Invalid(problems)
    return list(writes.items())


def _json_body(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise _Invalid([f"expected a JSON object: {exc}"]) from exc


def crm_routes(store: ProfileStore, rules: Callable[[], RuleSet], api_key: str) -> list[Route]:
    def refused(request: Request) -> Response | None:
        return api_refusal(request, api_key)

    async def write(writes: list[tuple[str, list[Event]]]) -> Response | None:
        """Each customer in one write, then flushed; 503 when the store fails (resending is safe)."""
        try:
            for customer_id, events in writes:
                await store.record_customer(customer_id, events)
            await store.flush()
        except StoreError as exc:
            return PlainTextResponse(f"profile store unavailable: {exc}; sending the same body again is safe\n", status_code=503)
        return None

    async def one(request: Request) -> Response:
        if answer := refused(request):
            return answer
        try:
            data = _json_body(await request.body())
            ident, events, problems = _customer_events(rules(), time.time(), request.path_params["customer_id"], data, "")
            if problems:
                raise _Invalid(problems)
        except _Invalid as exc:
            return PlainTextResponse(f"{exc}\n", status_code=400)
        if failed := await write([(ident, events)]):
            return failed
        return JSONResponse(
            {"customer_id": ident, "replaced": [key for key in LISTS if key in data]}, headers={"cache-control": "no-store"}
        )

    async def many(request: Request) -> Response:
        if answer := refused(request):
            return answer
        try:
            writes = _batch(rules(), time.time(), _json_body(await request.body()))
        except _Invalid as exc:
            return PlainTextResponse(f"{exc}\n", status_code=400)
        if failed := await write(writes):
            return failed
        return JSONResponse({"written": len(writes)}, headers={"cache-control": "no-store"})

    return [
        Route("/.etalage/api/customers/{customer_id}", one, methods=["PUT"]),
        Route("/.etalage/api/customers", many, methods=["POST"]),
    ]
