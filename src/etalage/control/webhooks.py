"""/.etalage/admin/webhooks: where the triggers' webhooks go, how many wait, and the dead letters,
which staff can send again once the receiver is fixed (POST .../dead/<webhook-id>/resend)."""

from __future__ import annotations

import logging
import time
from urllib.parse import urlsplit

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from etalage.control.auth import admin_refusal
from etalage.webhooks.outbox import Outbox
from etalage.webhooks.queue import QueueError

__all__ = ["webhook_routes"]

log = logging.getLogger("etalage.webhooks")

SHOWN_DEAD = 100


def webhook_routes(outbox: Outbox | None, admin_token: str) -> list[Route]:
    async def status(request: Request) -> Response:
        """The receiver (scheme and host: its path may hold a token), the queue's depth and the newest
        dead letters with their payloads and last errors, so that staff can see what did not arrive."""
        if answer := admin_refusal(request, admin_token):
            return answer
        headers = {"cache-control": "no-store"}
        if outbox is None:
            return JSONResponse({"enabled": False, "hint": "set ETALAGE_WEBHOOK_URL and ETALAGE_WEBHOOK_SECRET"}, headers=headers)
        url = urlsplit(outbox.courier.url)
        body: dict[str, object] = {
            "enabled": True,
            "receiver": f"{url.scheme}://{url.netloc.rpartition('@')[2]}",
            "max_attempts": outbox.courier.max_attempts,
        }
        try:
            body["queue_depth"] = await outbox.queue.depth()
            body["dead_letters"] = [
                {
                    "id": entry.id,
                    "trigger": entry.trigger,
                    "attempts": entry.attempts,
                    "last_error": entry.last_error,
                    "created": entry.created,
                    "payload": orjson.loads(entry.body),
                }
                for entry in await outbox.queue.dead_letters(SHOWN_DEAD)
            ]
        except QueueError as exc:
            body["error"] = f"the queue could not be read: {exc}"
        return JSONResponse(body, headers=headers)

    async def resend(request: Request) -> Response:
        """Queue a dead letter again under its webhook-id, attempts counted afresh; consent is checked
        again before delivery, as for every attempt."""
        if answer := admin_refusal(request, admin_token):
            return answer
        headers = {"cache-control": "no-store"}
        if outbox is None:
            return JSONResponse({"error": "webhooks are off", "hint": "set ETALAGE_WEBHOOK_URL and ETALAGE_WEBHOOK_SECRET"}, 404, headers)
        webhook_id = request.path_params["webhook_id"]
        try:
            entry = await outbox.queue.resend(webhook_id, time.time())
        except QueueError as exc:
            return JSONResponse({"error": f"the queue could not be written: {exc}", "retry": True}, 503, headers)
        if entry is None:
            return JSONResponse(
                {"error": f"no dead letter {webhook_id!r}", "hint": "GET /.etalage/admin/webhooks lists them"}, 404, headers
            )
        log.info("webhook %s (trigger %s) queued again by staff", entry.id, entry.trigger)
        outbox.courier.wake()
        return JSONResponse({"resent": entry.id, "trigger": entry.trigger}, 202, headers)

    return [
        Route("/.etalage/admin/webhooks", status),
        Route("/.etalage/admin/webhooks/dead/{webhook_id}/resend", resend, methods=["POST"]),
    ]
