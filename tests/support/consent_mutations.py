"""Real granting consent values per platform, mutated, and how many of the malformed ones are refused.

The property tests (tests/consent/test_properties.py) use PLATFORMS; run this module to measure:

    PYTHONPATH=src python -m tests.support.consent_mutations [count per platform, default 10000]

A mutation is "still a grant" when the platform's reference reader (consent_reference.py) says the
value is in the format with the fields that decide unchanged; every other one is malformed (or, now
and then, a well-formed refusal, C0004:1 become C0004:0) and must be refused. The last column, the
malformed values Etalage granted, must be 0; the process exits 1 when it is not.
"""

from __future__ import annotations

import base64
import json
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass

from etalage.consent import Consent, ConsentPolicy
from tests.support import consent_reference as reference
from tests.support.config import ACCEPT_ONETRUST
from tests.support.consent import COOKIEBOT_ACCEPT, TCF_ACCEPT_ALL, b64, didomi_token, read, tc_core, tc_publisher
from tests.support.mutations import apply, random_edits

__all__ = ["Platform", "PLATFORMS", "measure"]


@dataclass(frozen=True)
class Platform:
    policy: ConsentPolicy
    cookie: str
    seeds: tuple[str, ...]  # values the platform writes for a grant
    still_a_grant: Callable[[str], bool]
    others: str = ""  # other cookies sent along: TCF never grants alone

    def read(self, value: str) -> Consent:
        return read(self.policy, f"{self.others}{self.cookie}={value}")


PLATFORMS = {
    "onetrust": Platform(ConsentPolicy(sources=("onetrust",)), "OptanonConsent", (ACCEPT_ONETRUST,), reference.onetrust_grants),
    "cookiebot": Platform(
        ConsentPolicy(sources=("cookiebot",)),
        "CookieConsent",
        (COOKIEBOT_ACCEPT, "{stamp:'-3H8Y0h+nWQ/bkR7hVOk0pW===',necessary:true,marketing:true,method:'explicit',ver:1,region:\"nl\"}"),
        reference.cookiebot_grants,
    ),
    "tcf": Platform(
        ConsentPolicy(sources=("onetrust", "tcf")),
        "euconsent-v2",
        (TCF_ACCEPT_ALL, tc_core(), f"{tc_core(consents=())}.{tc_publisher()}"),
        reference.tcf_grants,
        others=f"OptanonConsent={ACCEPT_ONETRUST}; ",
    ),
    "didomi": Platform(
        ConsentPolicy(sources=("didomi",)),
        "didomi_token",
        (b64(didomi_token()), base64.urlsafe_b64encode(json.dumps(didomi_token()).encode()).decode().rstrip("=")),
        reference.didomi_grants,
    ),
    "etalage": Platform(ConsentPolicy(sources=("etalage",)), "etalage_consent", ("personalization=1",), reference.etalage_grants),
}


def measure(platform: Platform, count: int, seed: int = 10) -> dict[str, int]:
    """Mutate the platform's granting values `count` times (one to three edits each) and count the outcomes."""
    rng = random.Random(seed)
    counts = dict.fromkeys(
        ("unchanged", "still a grant", "granted as still a grant", "malformed", "refused", "granted though malformed"), 0
    )
    for _ in range(count):
        original = rng.choice(platform.seeds)
        value = apply(original, random_edits(rng))
        if value == original:
            counts["unchanged"] += 1
            continue
        granted = platform.read(value).granted
        if platform.still_a_grant(value):
            counts["still a grant"] += 1
            counts["granted as still a grant"] += granted  # the readers may refuse more: they limit lengths and escapes
        else:
            counts["malformed"] += 1
            counts["refused"] += not granted
            counts["granted though malformed"] += granted
    return counts


def main(argv: list[str]) -> int:
    count = int(argv[0]) if argv else 10_000
    print(
        f"{'platform':10} {'mutations':>9} {'unchanged':>9} {'still a grant (granted)':>23} {'malformed':>9} {'refused':>16} {'granted':>8}"
    )
    bugs = 0
    for name, platform in PLATFORMS.items():
        counts = measure(platform, count)
        share = counts["refused"] / counts["malformed"] if counts["malformed"] else 1.0
        bugs += counts["granted though malformed"]
        print(
            f"{name:10} {count:9} {counts['unchanged']:9} {counts['still a grant']:14} ({counts['granted as still a grant']:6})"
            f" {counts['malformed']:9} {counts['refused']:6} ({share:7.2%}) {counts['granted though malformed']:8}"
        )
    return 1 if bugs else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
