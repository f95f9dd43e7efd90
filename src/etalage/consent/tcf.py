"""IAB TCF v2.2: decoding the TC string in `euconsent-v2` / `eupubconsent-v2`, and reading consent from it."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from etalage.consent.base import Refusal, plural, single
from etalage.consent.policy import TcfSettings
from etalage.types import CookieJar

__all__ = ["TCF_PURPOSES", "TcString", "PublisherPurposes", "TcDecodeError", "decode_tc_string", "read_tcf"]

# TCF v2.2 defines purposes 1 to 11.
TCF_PURPOSES = range(1, 12)


class TcDecodeError(ValueError):
    """A TC string that does not follow the IAB TCF v2 format."""


@dataclass(frozen=True, slots=True)
class PublisherPurposes:
    """The publisher purposes segment (segment type 3): the publisher's own purposes."""

    consents: frozenset[int]
    legitimate_interests: frozenset[int]
    custom_consents: frozenset[int]
    custom_legitimate_interests: frozenset[int]


Ranges = tuple[tuple[int, int], ...]  # vendor ids as inclusive (first, last) ranges


@dataclass(frozen=True, slots=True)
class TcString:
    """A decoded IAB TCF v2 consent string (core segment and the publisher segment, if any)."""

    version: int
    created: datetime
    last_updated: datetime
    cmp_id: int
    cmp_version: int
    consent_screen: int
    consent_language: str
    vendor_list_version: int
    policy_version: int
    is_service_specific: bool
    use_non_standard_texts: bool
    special_feature_opt_ins: frozenset[int]
    purposes_consent: frozenset[int]
    purposes_legitimate_interest: frozenset[int]
    purpose_one_treatment: bool
    publisher_cc: str
    vendor_consents: Ranges
    vendor_legitimate_interests: Ranges
    # (purpose, restriction type, vendor ranges)
    publisher_restrictions: tuple[tuple[int, int, Ranges], ...]
    publisher: PublisherPurposes | None
    # Segment types after the core segment, in order (1 disclosed vendors, 2 allowed vendors, 3 publisher).
    segments: tuple[int, ...] = field(default=())

    def consented(self, purposes: Sequence[int]) -> frozenset[int]:
        """The purposes among `purposes` that have a consent bit (the publisher's own when present)."""
        given = self.publisher.consents if self.publisher is not None else self.purposes_consent
        return frozenset(purposes) & given


class _Bits:
    # A string of "0" and "1": reading n bits costs O(n) whatever the segment's length, so a
    # crafted, very long cookie cannot make decoding quadratic.
    def __init__(self, data: bytes, number: int) -> None:
        self._bits = "".join(f"{byte:08b}" for byte in data)
        self.size = len(self._bits)
        self.pos = 0
        self.number = number

    def read(self, count: int) -> int:
        return int(self.field(count) or "0", 2)

    def field(self, count: int) -> str:
        if self.pos + count > self.size:
            raise TcDecodeError(f"segment {self.number} ends after {self.size} bits, {self.pos + count} needed")
        self.pos += count
        return self._bits[self.pos - count : self.pos]

    def flag(self) -> bool:
        return bool(self.read(1))

    def set_of(self, count: int) -> frozenset[int]:
        """A bit field where bit i (from the left, counting from 1) stands for number i."""
        return frozenset(i for i, bit in enumerate(self.field(count), start=1) if bit == "1")

    def letters(self) -> str:
        return "".join(chr(ord("A") + self.read(6)) for _ in range(2))

    def deciseconds(self) -> datetime:
        return datetime.fromtimestamp(self.read(36) / 10, UTC)

    def ranges(self) -> Ranges:
        """NumEntries(12) then entries of IsARange(1), StartOrOnlyVendorId(16)[, EndVendorId(16)]."""
        out = []
        for _ in range(self.read(12)):
            is_range = self.flag()
            first = self.read(16)
            last = self.read(16) if is_range else first
            if first < 1 or last < first:
                raise TcDecodeError(f"vendor range {first}-{last} is not valid")
            out.append((first, last))
        return tuple(out)

    def vendors(self) -> Ranges:
        """A vendor section: MaxVendorId(16), IsRangeEncoding(1), then a bit field or ranges."""
        max_vendor = self.read(16)
        if self.flag():
            return self.ranges()
        out: list[tuple[int, int]] = []
        for vendor, bit in enumerate(self.field(max_vendor), start=1):
            if bit == "1":
                if out and out[-1][1] == vendor - 1:
                    out[-1] = (out[-1][0], vendor)
                else:
                    out.append((vendor, vendor))
        return tuple(out)


_BASE64URL = re.compile(r"[A-Za-z0-9_-]+(={0,2})")


def _segment_bits(segment: str, number: int) -> _Bits:
    if not segment:
        raise TcDecodeError(f"segment {number} is empty")
    match = _BASE64URL.fullmatch(segment)
    if not match:
        raise TcDecodeError(f"segment {number} is not base64url text")
    if match.group(1) and len(segment) % 4:
        raise TcDecodeError(f"segment {number} has padding ('=') where base64url has none")
    body = segment.rstrip("=")
    try:
        data = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError) as exc:
        raise TcDecodeError(f"segment {number} is not valid base64url ({exc})") from None
    return _Bits(data, number)


def decode_tc_string(text: str) -> TcString:
    """Decode a TC string per the IAB "Consent string and vendor list formats v2" (TCF v2.2).

    The core segment comes first; further segments start with a 3-bit SegmentType. The publisher
    purposes segment (3) is decoded; disclosed (1) and allowed (2) vendors and types this code
    does not know are skipped. Raises TcDecodeError for anything that does not follow the format.
    """
    segments = text.split(".")  # no strip(): whitespace is no part of a TC string, and str.strip() takes more than browsers add
    bits = _segment_bits(segments[0], 1)
    version = bits.read(6)
    if version != 2:
        raise TcDecodeError(f"version {version}, not 2")
    core: dict[str, Any] = dict(
        version=version,
        created=bits.deciseconds(),
        last_updated=bits.deciseconds(),
        cmp_id=bits.read(12),
        cmp_version=bits.read(12),
        consent_screen=bits.read(6),
        consent_language=bits.letters(),
        vendor_list_version=bits.read(12),
        policy_version=bits.read(6),
        is_service_specific=bits.flag(),
        use_non_standard_texts=bits.flag(),
        special_feature_opt_ins=bits.set_of(12),
        purposes_consent=bits.set_of(24),
        purposes_legitimate_interest=bits.set_of(24),
        purpose_one_treatment=bits.flag(),
        publisher_cc=bits.letters(),
        vendor_consents=bits.vendors(),
        vendor_legitimate_interests=bits.vendors(),
    )
    core["publisher_restrictions"] = tuple((bits.read(6), bits.read(2), bits.ranges()) for _ in range(bits.read(12)))
    publisher = None
    types = []
    for number, segment in enumerate(segments[1:], start=2):
        seg = _segment_bits(segment, number)
        kind = seg.read(3)
        if kind == 0:
            raise TcDecodeError(f"segment {number} is a second core segment")
        if kind == 3:
            if publisher is not None:
                raise TcDecodeError(f"segment {number} is a second publisher segment")
            consents, interests, custom = seg.set_of(24), seg.set_of(24), seg.read(6)
            publisher = PublisherPurposes(consents, interests, seg.set_of(custom), seg.set_of(custom))
        types.append(kind)
    return TcString(**core, publisher=publisher, segments=tuple(types))


def read_tcf(settings: TcfSettings, jar: CookieJar) -> str | None:
    granted = []
    for name in settings.cookies:
        raw = single(jar, name, "IAB TCF")
        if raw is None:
            continue
        where = f"IAB TCF cookie {name}"
        try:
            tc = decode_tc_string(unquote(raw))
        except TcDecodeError as exc:
            raise Refusal(f"{where}: the consent string could not be read ({exc})") from None
        if tc.policy_version < 4:
            raise Refusal(f"{where}: written under TCF policy version {tc.policy_version}, older than TCF v2.2 (version 4)")
        if not tc.is_service_specific:
            raise Refusal(f"{where}: a global consent string, not one for this shop (TCF v2.2 needs service-specific consent)")
        segment = "publisher segment" if tc.publisher is not None else "core segment"
        missing = [p for p in settings.purposes if p not in tc.consented(settings.purposes)]
        if missing:
            # Legitimate interest is never read: personalization needs consent (TCF v2.2 forbids it for purposes 3-6).
            raise Refusal(f"{where}: no consent for {plural('purpose', missing)} ({segment})")
        granted.append(f"{where}: consent for {plural('purpose', settings.purposes)} ({segment})")
    return "; ".join(granted) or None
