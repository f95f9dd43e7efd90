"""Access and erasure requests by customer id (GDPR Art. 15, 17 and 20), for shop staff: the admin API.

    GET    /.etalage/admin/customers/<id>   the customer's data as JSON: the visitor's own export
                                            (/.etalage/me/export) for the customer's profile, plus
                                            "customer_id" and "devices" (the visitor ids linked to it)
    DELETE /.etalage/admin/customers/<id>   erase the profile and every link to it; {"erased": whether
                                            there was anything}

Both need the admin token. `etalage customers export|erase ID` does the same from the command line.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from etalage.consent import Consent
from etalage.control.auth import admin_refusal
from etalage.control.me.view import export
from etalage.profiles.store import ProfileStore, StoreError
from etalage.rules.ruleset import RuleSet

__all__ = ["customer_export", "customer_routes"]

log = logging.getLogger("etalage.admin")

# The visitor's export says what their browser's consent is; an export made for staff has no browser.
_NO_BROWSER = Consent(False, "exported for the shop by customer id: no browser, so no consent signal was read")


async def customer_export(store: ProfileStore, ruleset: RuleSet, customer_id: str, now: float) -> dict[str, Any]:
    """Everything kept about a customer, in the shape of the visitor's own export."""
    profile = await store.load_customer(customer_id)
    data = export(ruleset, _NO_BROWSER, profile, now)
    if profile is None:
        data["message"] = "Nothing is stored about this customer."
    return {"customer_id": customer_id, "devices": await store.customer_devices(customer_id), **data}


def _json(data: Any, status: int = 200) -> Response:
    return Response(
        orjson.dumps(data, option=orjson.OPT_INDENT_2), status, media_type="application/json", headers={"cache-control": "no-store"}
    )


def customer_routes(store: ProfileStore, rules: Callable[[], RuleSet], admin_token: str) -> list[Route]:
    async def customer(request: Request) -> Response:
        if denied := admin_refusal(request, admin_token):
            return denied
        customer_id = request.path_params["customer_id"]
        try:
            if request.method == "DELETE":
                erased = await store.erase_customer(customer_id)
                log.info("admin: a customer erased by id (%s)", "found" if erased else "nothing was stored")
                return _json({"customer_id": customer_id, "erased": erased})
            return _json(await customer_export(store, rules(), customer_id, time.time()))
        except StoreError as exc:
            log.warning("admin: the profile store failed on a customer request: %s", exc)
            return _json({"error": f"the profile store is not answering: {exc}"}, 503)

    return [Route("/.etalage/admin/customers/{customer_id}", customer, methods=["GET", "DELETE"])]
