"""OneTrust: the `OptanonConsent` cookie, a URL query string with the visitor's choice per group."""

from __future__ import annotations

from urllib.parse import parse_qsl

from etalage.consent.base import Refusal, plural, single
from etalage.consent.policy import OneTrustSettings
from etalage.types import CookieJar

__all__ = ["read_onetrust"]


def read_onetrust(settings: OneTrustSettings, jar: CookieJar) -> str | None:
    raw = single(jar, settings.cookie, "OneTrust")
    if raw is None:
        return None
    where = f"OneTrust cookie {settings.cookie}"
    fields: dict[str, str] = {}
    for key, value in parse_qsl(raw, keep_blank_values=True):
        if fields.setdefault(key, value) != value:
            raise Refusal(f"{where}: '{key}' appears twice with different values")
    if fields.get("isGpcEnabled") == "1":
        raise Refusal(f"{where}: OneTrust recorded Global Privacy Control (an objection to profiling)")
    if fields.get("AwaitingReconsent", "false").lower() == "true":
        raise Refusal(f"{where}: OneTrust is waiting for the visitor to choose again")
    try:
        interacted = int(fields.get("interactionCount", "0")) >= 1
    except ValueError:
        interacted = False
    if not interacted and "OptanonAlertBoxClosed" not in jar:
        raise Refusal(f"{where}: the visitor has not made a choice in the consent banner yet")
    flags: dict[str, set[str]] = {}
    for pair in fields.get("groups", "").split(","):
        group, _, flag = pair.partition(":")
        flags.setdefault(group.strip(), set()).add(flag.strip())
    # A group listed twice with different flags is not a clear yes.
    missing = [group for group in settings.groups if flags.get(group) != {"1"}]
    if missing:
        raise Refusal(f"{where}: the visitor did not allow {plural('group', missing)}")
    return f"{where}: the visitor allowed {plural('group', settings.groups)}"
