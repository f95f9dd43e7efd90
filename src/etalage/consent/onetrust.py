"""OneTrust: the `OptanonConsent` cookie, a URL query string with the visitor's choice per group."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

from etalage.consent.base import Refusal, look_alike, plural, single
from etalage.consent.policy import OneTrustSettings
from etalage.types import CookieJar

__all__ = ["read_onetrust"]

# OneTrust writes interactionCount as plain ASCII digits; int() would also take " 1", "1_0" or "١".
_COUNT = re.compile(r"[0-9]{1,9}")
# The fields that decide; one of them spelt otherwise (IsGpcEnabled) is not skipped as unknown but refused.
_DECIDING = ("isGpcEnabled", "AwaitingReconsent", "interactionCount", "groups")


def read_onetrust(settings: OneTrustSettings, jar: CookieJar) -> str | None:
    raw = single(jar, settings.cookie, "OneTrust")
    if raw is None:
        return None
    where = f"OneTrust cookie {settings.cookie}"
    fields: dict[str, str] = {}
    for key, value in parse_qsl(raw, keep_blank_values=True):
        twin = look_alike(key, _DECIDING)
        if twin:
            raise Refusal(f"{where}: a field named {key!r}, which is not how OneTrust writes {twin!r}")
        if fields.setdefault(key, value) != value:
            raise Refusal(f"{where}: '{key}' appears twice with different values")
    # Every field must say exactly what OneTrust writes for a choice; anything else is not a clear yes.
    gpc = fields.get("isGpcEnabled", "0")
    if gpc == "1":
        raise Refusal(f"{where}: OneTrust recorded Global Privacy Control (an objection to profiling)")
    if gpc != "0":
        raise Refusal(f"{where}: isGpcEnabled is {gpc!r}, neither 0 nor 1")
    awaiting = fields.get("AwaitingReconsent", "false")
    if awaiting == "true":
        raise Refusal(f"{where}: OneTrust is waiting for the visitor to choose again")
    if awaiting != "false":
        raise Refusal(f"{where}: AwaitingReconsent is {awaiting!r}, neither true nor false")
    count = fields.get("interactionCount", "0")
    if not _COUNT.fullmatch(count):
        raise Refusal(f"{where}: interactionCount is {count!r}, not a count")
    if int(count) < 1 and not _closed_banner(jar):
        raise Refusal(f"{where}: the visitor has not made a choice in the consent banner yet")
    flags: dict[str, set[str]] = {}
    for pair in fields.get("groups", "").split(","):
        group, _, flag = pair.partition(":")
        twin = look_alike(group, settings.groups)
        if twin:
            raise Refusal(f"{where}: a group named {group!r}, which is not how OneTrust writes {twin!r}")
        flags.setdefault(group, set()).add(flag)
    # A group listed twice with different flags is not a clear yes.
    missing = [group for group in settings.groups if flags.get(group) != {"1"}]
    if missing:
        raise Refusal(f"{where}: the visitor did not allow {plural('group', missing)}")
    return f"{where}: the visitor allowed {plural('group', settings.groups)}"


def _closed_banner(jar: CookieJar) -> bool:
    """OneTrust sets OptanonAlertBoxClosed (a date) once the visitor closed the banner with a choice."""
    values = jar.get("OptanonAlertBoxClosed") or []
    return bool(values) and all(value.strip() for value in values)
