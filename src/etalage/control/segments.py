"""A segment's members for email and ad platforms, page by page: the admin API's side of `etalage export segment`.

    GET /.etalage/admin/segments/<name>?limit=1000&cursor=<next>

    {"segment": "customers", "members": [{"customer_id": "C-1001"}, ...], "next": "<cursor>" | null}

Which names, and who is a member (customers who consented, by customer id only): etalage.engine.audience.
A page looks at `limit` customers (1 to 10000, 1000 by default; on Redis a few more or less) and lists
the members among them, so a page may hold fewer members than `limit`, even none, while `next` is
set: ask again with cursor=<next> until `next` is null. Paging holds across restarts and workers; a
customer kept throughout comes at least once (on Redis rarely twice: drop repeated ids). Needs the
admin token.
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
from collections.abc import Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from etalage.control.auth import admin_refusal
from etalage.engine.audience import UnknownSegment, audience, member_page
from etalage.profiles.store import ProfileStore, StoreError
from etalage.rules.ruleset import RuleSet

__all__ = ["segment_routes"]

log = logging.getLogger("etalage.admin")

DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000
_BAD_CURSOR = "cursor: not a cursor this API gave (take `next` from the page before)"


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status, media_type="application/json", headers={"cache-control": "no-store"})


def _cursor_out(cursor: str) -> str | None:
    # Opaque and URL-safe: a store's cursor may be a customer id, with any character in it.
    return base64.urlsafe_b64encode(cursor.encode()).decode().rstrip("=") if cursor else None


def _cursor_in(text: str) -> str:
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True).decode() if text else ""
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError(_BAD_CURSOR) from exc


def _limit(text: str | None) -> int:
    if text is None:
        return DEFAULT_LIMIT
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise ValueError(f"limit: a whole number from 1 to {MAX_LIMIT}, got {text!r}")
    return int(text)


def segment_routes(store: ProfileStore, rules: Callable[[], RuleSet], admin_token: str) -> list[Route]:
    async def members(request: Request) -> Response:
        if denied := admin_refusal(request, admin_token):
            return denied
        name = request.path_params["name"]
        try:
            segment = audience(rules(), name)
        except UnknownSegment as exc:
            return _json({"error": str(exc)}, 404)
        try:
            limit = _limit(request.query_params.get("limit"))
        except ValueError as exc:
            return _json({"error": str(exc)}, 400)
        try:
            page = await member_page(store, segment, _cursor_in(request.query_params.get("cursor", "")), limit, time.time())
        except ValueError:  # not base64 text, or not a cursor of this store
            return _json({"error": _BAD_CURSOR}, 400)
        except StoreError as exc:
            log.warning("admin: the profile store failed on a segment export: %s", exc)
            return _json({"error": f"the profile store is not answering: {exc}"}, 503)
        return _json({"segment": name, "members": page.rows, "next": _cursor_out(page.next)})

    return [Route("/.etalage/admin/segments/{name}", members, methods=["GET"])]
