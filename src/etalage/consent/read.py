"""Reading the visitor's consent for one request: Sec-GPC first, then every listed source's reader.

How the sources combine, and why, is in the docstring of etalage.consent.
"""

from __future__ import annotations

import logging

from etalage.consent.base import Reader, Refusal
from etalage.consent.cookiebot import read_cookiebot
from etalage.consent.didomi import read_didomi
from etalage.consent.onetrust import read_onetrust
from etalage.consent.own import read_etalage
from etalage.consent.policy import Consent, ConsentPolicy
from etalage.consent.tcf import read_tcf
from etalage.types import CookieJar

__all__ = ["READERS", "read_consent"]

log = logging.getLogger("etalage.consent")

# Every consent platform Etalage reads, by source name, in the order of CONSENT_SOURCES.
READERS: dict[str, Reader] = {
    "onetrust": read_onetrust,
    "cookiebot": read_cookiebot,
    "tcf": read_tcf,
    "didomi": read_didomi,
    "etalage": read_etalage,
}


def read_consent(policy: ConsentPolicy, jar: CookieJar, sec_gpc: str | None) -> Consent:
    """The visitor's consent to personalization; see the docstring of etalage.consent for the rules."""
    if sec_gpc is not None and sec_gpc.strip(" \t") not in ("", "0"):
        # "1" is the signal; a list ("1, 1", or the header sent twice) or anything else is not a clear absence of it.
        # Only HTTP's own whitespace is taken off: str.strip() would make "\xa0" or "\x1c0" an absence.
        return Consent(
            False,
            "the browser sent Sec-GPC: 1 (Global Privacy Control), an objection to profiling that overrides any cookie",
            global_privacy_control=True,
        )
    granted: list[tuple[str, str]] = []
    for source in policy.sources:
        try:
            reason = READERS[source](getattr(policy, source), jar)
        except Refusal as refusal:
            return Consent(False, str(refusal))
        except Exception as exc:
            # A reader's bug must not fail the request (the proxy would answer 500): doubt means no.
            log.exception("consent source %r: reading the visitor's cookies failed", source)
            return Consent(
                False,
                f"consent source {source!r}: reading its cookie failed inside Etalage ({type(exc).__name__}, see the log), so no consent",
            )
        if reason is not None:
            granted.append((source, reason))
    if not granted:
        names = ", ".join(policy.cookies)
        return Consent(False, f"no consent recorded: the visitor sent no consent cookie ({names})")
    if all(source == "tcf" for source, _ in granted):
        # As the loader refuses TCF as the only source (the Dutch DPA's reading), a TCF string alone never grants.
        others = ", ".join(source for source in policy.sources if source != "tcf")
        return Consent(
            False, f"only a TCF consent string arrived; TCF alone is not consent, the visitor's choice in {others} is needed too"
        )
    sources = tuple(source for source, _ in granted)
    return Consent(
        True, "; ".join(reason for _, reason in granted), sources, tuple(p for source in sources for p in policy.purposes_of(source))
    )
