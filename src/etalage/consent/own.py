"""Etalage's own consent cookie, for shops without a consent platform: the shop's banner writes yes or no."""

from __future__ import annotations

from etalage.consent.base import Refusal, single
from etalage.consent.policy import EtalageSettings
from etalage.types import CookieJar

__all__ = ["ETALAGE_YES", "ETALAGE_NO", "read_etalage"]

# The value Etalage's own consent cookie holds after a "yes" and after a "no" in the shop's banner.
ETALAGE_YES = "personalization=1"
ETALAGE_NO = "personalization=0"


def read_etalage(settings: EtalageSettings, jar: CookieJar) -> str | None:
    raw = single(jar, settings.cookie, "Etalage")
    if raw is None:
        return None
    where = f"Etalage consent cookie {settings.cookie}"
    value = raw  # exactly: the Cookie header splitter already took the spaces a browser may add around it
    if value == ETALAGE_NO:
        raise Refusal(f"{where}: the visitor said no to personalization")
    if value != ETALAGE_YES:
        raise Refusal(f"{where}: the value {value[:40]!r} is neither {ETALAGE_YES!r} nor {ETALAGE_NO!r}")
    return f"{where}: the visitor said yes to personalization"
