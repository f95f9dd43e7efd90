"""Cookiebot: the `CookieConsent` cookie, a URL-encoded JavaScript object literal with one flag per category."""

from __future__ import annotations

from urllib.parse import unquote

from etalage.consent.base import Refusal, look_alike, plural, single
from etalage.consent.jsliteral import parse_js_object
from etalage.consent.policy import CookiebotSettings
from etalage.types import CookieJar

__all__ = ["COOKIEBOT_CATEGORIES", "read_cookiebot"]

# Cookiebot's categories besides "necessary", which is always true and so says nothing about consent.
COOKIEBOT_CATEGORIES = ("preferences", "statistics", "marketing")


def read_cookiebot(settings: CookiebotSettings, jar: CookieJar) -> str | None:
    raw = single(jar, settings.cookie, "Cookiebot")
    if raw is None:
        return None
    where = f"Cookiebot cookie {settings.cookie}"
    text = unquote(raw)  # not unquote_plus: a '+' in the base64 stamp is a plus
    if text.strip() == "-1":
        raise Refusal(f"{where}: the visitor is outside the regions where Cookiebot asks for consent, so nobody asked them")
    try:
        choice = parse_js_object(text)
    except ValueError as exc:
        raise Refusal(f"{where}: the value could not be read ({exc})") from None
    for key in choice:
        twin = look_alike(key, ("method", *settings.categories))
        if twin:
            raise Refusal(f"{where}: a key named {key!r}, which is not how Cookiebot writes {twin!r}")
    method = choice.get("method")
    if method == "implied":
        raise Refusal(f"{where}: consent was implied (the visitor did not actively choose)")
    if method != "explicit":
        how = "does not say how consent was given" if method is None else f"says consent was given by {method!r}"
        raise Refusal(f"{where}: the value {how}, which is not an explicit choice")
    missing = [category for category in settings.categories if choice.get(category) is not True]
    if missing:
        raise Refusal(f"{where}: the visitor did not allow {plural('category', missing)}")
    return f"{where}: the visitor explicitly allowed {plural('category', settings.categories)}"
