"""Consent cookies as the platforms write them (Cookiebot literals, TCF strings, Didomi tokens), and reading a Cookie header."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote

from etalage.consent import Consent, ConsentPolicy, read_consent
from etalage.http.cookies import parse_cookie_header

# The three IAB TCF v2.2 test vectors (decoded by hand in tests/consent/test_tcf.py).
TCF_ACCEPT_ALL = (
    "CQbB_cAQbB_cAAHABBENCFFsAP_gAAAAAAAAHXwCAAIAAqABaAFsAUgBZgF5gOvAAAAKSgAwABBd8pABgACC75CADAAEF3x0AGAAILvhIAMAAQXf.f_wAAAAAAAAA"
)
TCF_REJECT_ALL = "CQEAuYAQEAuYAAHABBENBDFgAAAAAAAAAAAAAAAAAACkoAMAAQUxKQAYAAgpiQgAwABBTEdABgACCmISADAAEFMQ.YAAAAAAAAAAA"
TCF_POLICY_2 = "CPt3fQAPt3fQACNAFAENDLCgAAAAAAAAACiQAAAOCgDAB-AIsAZ8A6QDBAHBAAAA.YAAAAAAAAAAA"
ACCEPT_CORE, ACCEPT_PUBLISHER = TCF_ACCEPT_ALL.split(".")
REJECT_CORE, REJECT_PUBLISHER = TCF_REJECT_ALL.split(".")


def read(policy: ConsentPolicy, header: str, gpc: str | None = None) -> Consent:
    return read_consent(policy, parse_cookie_header(header), gpc)


def granted(policy: ConsentPolicy, header: str, gpc: str | None = None) -> bool:
    return read(policy, header, gpc).granted


def cookiebot_value(**choice: object) -> str:
    """A CookieConsent value as Cookiebot writes it: a JS object literal, URL-encoded."""
    fields = {"stamp": "'-3H8Y0h+nWQ/bkR7hVOk0pW==='", "necessary": "true", "preferences": "false", "statistics": "false"}
    fields |= {"marketing": "false", "method": "'explicit'", "ver": "1", "utc": "1745620490943", "region": "'nl'"}
    fields |= {key: (str(value).lower() if isinstance(value, bool) else f"'{value}'") for key, value in choice.items()}
    literal = "{" + ",".join(f"{key}:{value}" for key, value in fields.items() if value != "'None'") + "}"
    return quote(literal, safe="{}:")


COOKIEBOT_ACCEPT = cookiebot_value(preferences=True, statistics=True, marketing=True)
COOKIEBOT_REJECT = cookiebot_value()


def bits_to_base64url(bits: str) -> str:
    bits += "0" * (-len(bits) % 8)
    data = int(bits, 2).to_bytes(len(bits) // 8, "big")
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _bitfield(numbers: tuple[int, ...], width: int) -> str:
    return "".join("1" if i in numbers else "0" for i in range(1, width + 1))


def tc_core(*, version=2, policy_version=5, service_specific=1, consents=(1, 5, 6), li=()) -> str:
    """A TCF v2 core segment with no vendors and no publisher restrictions."""
    bits = f"{version:06b}" + f"{17633376000:036b}" * 2 + f"{7:012b}{1:012b}{1:06b}" + f"{4:06b}{13:06b}" + f"{133:012b}"
    bits += f"{policy_version:06b}{service_specific:01b}0" + "0" * 12 + _bitfield(consents, 24) + _bitfield(li, 24) + "0"
    bits += f"{13:06b}{11:06b}"  # publisher country NL
    bits += "0" * 16 + "0" + "0" * 16 + "0" + "0" * 12  # no vendor consents, no vendor LI, no restrictions
    return bits_to_base64url(bits)


def tc_publisher(*, consents=(1, 5, 6), li=()) -> str:
    return bits_to_base64url("011" + _bitfield(consents, 24) + _bitfield(li, 24) + "000000")


def didomi_token(enabled=("create_content_profile", "select_personalized_content"), disabled=(), **extra: object) -> dict:
    token = {
        "user_id": "0196b2a1?>?>?>x",  # puts "+", "/" and "=" in the standard base64
        "created": "2025-04-25T10:00:00.000Z",
        "updated": "2025-04-25T10:00:00.000Z",
        "vendors": {"enabled": ["google"], "disabled": []},
        "purposes": {"enabled": list(enabled), "disabled": list(disabled)},
        "version": 2,
    }
    return token | extra


def b64(token: object) -> str:
    return base64.b64encode(json.dumps(token).encode()).decode()
