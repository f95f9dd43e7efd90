"""Reading the visitor's consent from the shop's consent-platform cookie and the Sec-GPC header.

Anything unexpected (a missing, malformed or duplicated cookie) means no consent: personalization
is opt-in under the AVG/GDPR, so the safe reading of doubt is "no".
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl

from .types import CookieJar

__all__ = ["ConsentPolicy", "Consent", "read_consent", "CONSENT_SOURCES"]

CONSENT_SOURCES = ("onetrust",)


@dataclass(frozen=True, slots=True)
class ConsentPolicy:
    source: str = "onetrust"
    cookie: str = "OptanonConsent"
    # OneTrust group ids that must all be granted; group ids differ per site (C0004 = targeting by default).
    groups: tuple[str, ...] = ("C0004",)


@dataclass(frozen=True, slots=True)
class Consent:
    granted: bool
    reason: str


def _single(jar: CookieJar, name: str) -> str | None:
    """The cookie's value; None when absent or sent more than once with different values."""
    values = jar.get(name)
    if not values or len(set(values)) != 1:
        return None
    return values[0]


def _onetrust(policy: ConsentPolicy, jar: CookieJar) -> Consent:
    raw = _single(jar, policy.cookie)
    if raw is None:
        if policy.cookie in jar:
            return Consent(False, f"conflicting {policy.cookie} cookies")
        return Consent(False, f"no {policy.cookie} cookie")
    fields = dict(parse_qsl(raw, keep_blank_values=True))
    if fields.get("isGpcEnabled") == "1":
        return Consent(False, "OneTrust recorded Global Privacy Control")
    if fields.get("AwaitingReconsent", "false").lower() == "true":
        return Consent(False, "OneTrust is awaiting re-consent")
    try:
        interacted = int(fields.get("interactionCount", "0")) >= 1
    except ValueError:
        interacted = False
    if not interacted and "OptanonAlertBoxClosed" not in jar:
        return Consent(False, "the visitor has not made a choice in the consent banner")
    granted = {}
    for pair in fields.get("groups", "").split(","):
        group, _, flag = pair.partition(":")
        granted[group.strip()] = flag.strip() == "1"
    missing = [group for group in policy.groups if not granted.get(group, False)]
    if missing:
        return Consent(False, f"consent group {', '.join(missing)} not granted")
    return Consent(True, f"OneTrust groups {', '.join(policy.groups)} granted")


_READERS = {"onetrust": _onetrust}


def read_consent(policy: ConsentPolicy, jar: CookieJar, sec_gpc: str | None) -> Consent:
    if sec_gpc is not None and sec_gpc.strip() == "1":
        return Consent(False, "Sec-GPC: 1 (Global Privacy Control)")
    return _READERS[policy.source](policy, jar)
