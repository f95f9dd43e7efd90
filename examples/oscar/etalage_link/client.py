"""Calls to Etalage's API (deploy/README.md, "The shop backend's API"). A call that fails is logged and
forgotten: a customer's login, logout or order never fails because Etalage is down."""

import json
import logging
import urllib.error
import urllib.request

from django.conf import settings

log = logging.getLogger(__name__)

# The shop answers its visitor while this runs: Etalage's store answers in milliseconds or not at all.
TIMEOUT = 2.0


def call(endpoint: str, body: dict) -> dict | None:
    """POST `body` to /.etalage/api/<endpoint>; Etalage's JSON answer, or None when the call failed."""
    if not settings.ETALAGE_API_URL or not settings.ETALAGE_API_KEY:
        return None
    request = urllib.request.Request(
        f"{settings.ETALAGE_API_URL.rstrip('/')}/.etalage/api/{endpoint}",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {settings.ETALAGE_API_KEY}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        log.warning("etalage %s: %s %s", endpoint, exc.code, exc.read(500).decode("utf-8", "replace").strip())
    except (OSError, ValueError) as exc:
        log.warning("etalage %s: %s", endpoint, exc)
    return None
