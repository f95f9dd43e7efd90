"""Reading the visitor's consent from the shop's consent-platform cookies and the Sec-GPC header.

Personalization is opt-in under the AVG/GDPR, so the safe reading of doubt is "no": a missing,
malformed, conflicting (one cookie name sent twice with different values) or refusing cookie means
no consent, and `Sec-GPC: 1` means no whatever the cookies say. Identical duplicates count once.

Sources (`[consent] sources = [...]` in the rule files, settings in `[consent.<source>]`):

- onetrust: `OptanonConsent`, a URL query string. The configured groups (default C0004,
  "targeting") must be `1`; the visitor must have interacted (`interactionCount >= 1` or an
  `OptanonAlertBoxClosed` cookie); no `AwaitingReconsent=true`; no `isGpcEnabled=1`.
- cookiebot: `CookieConsent`, a URL-encoded JavaScript object literal (not JSON). The configured
  categories must be `true` and `method` must be `'explicit'` (`'implied'` is no). The value `-1`
  (visitor outside the regions where Cookiebot asks) is no: Etalage never assumes consent.
- tcf: IAB TCF v2.2 consent string in `euconsent-v2` and/or `eupubconsent-v2`, decoded here (see
  `decode_tc_string`). Version 2, TCF policy version >= 4, service-specific, and the consent bit
  of every configured purpose (default 1, 5, 6) from the publisher segment when there is one,
  else from the core segment. Legitimate interest never counts. Any decode error is no.
- didomi: `didomi_token`, base64 (standard or URL-safe, padding optional) of JSON. The configured
  purposes must all be in `purposes.enabled` and none in `purposes.disabled`.
- etalage: Etalage's own first-party cookie for shops without a consent platform, default name
  `etalage_consent`. The shop's banner writes exactly `personalization=1` after "yes" and
  `personalization=0` after "no" (e.g. `Set-Cookie: etalage_consent=personalization=1; Path=/;
  Max-Age=31536000; SameSite=Lax`); any other value is malformed, so no.

In the rule files (see `build_policy`):

    [consent]
    sources = ["onetrust", "tcf"]     # `source = "onetrust"` is shorthand for a list of one
    [consent.onetrust]
    groups = ["C0004"]                # also: cookie
    [consent.tcf]
    purposes = [1, 5, 6]              # also: cookies = ["euconsent-v2", "eupubconsent-v2"]
    # [consent.cookiebot] cookie, categories; [consent.didomi] cookie, purposes; [consent.etalage] cookie

"tcf" cannot be the only source: the Dutch DPA holds that TCF in its current form does not meet
the AVG, so a shop lists its consent platform's own cookie too.

How several sources combine: every listed source whose cookie the visitor sent is read; consent
needs at least one of them, and every one that is present must grant. The first refusal in the
listed order is the reason given. Why not "the first present cookie decides": a consent platform
often writes two of these cookies for one choice (OneTrust writes OptanonConsent and, with TCF on,
eupubconsent-v2), and when they disagree the visitor's choice is in doubt, which means no; a
refusal is never outvoted by an accept in another cookie, whatever the order of the list.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote

from etalage.types import CookieJar

if TYPE_CHECKING:
    from etalage.rules.fields import Fields

__all__ = [
    "ConsentPolicy",
    "Consent",
    "read_consent",
    "CONSENT_SOURCES",
    "OneTrustSettings",
    "CookiebotSettings",
    "TcfSettings",
    "DidomiSettings",
    "EtalageSettings",
    "TcString",
    "PublisherPurposes",
    "TcDecodeError",
    "decode_tc_string",
    "parse_js_object",
    "decode_didomi_token",
    "build_policy",
]

CONSENT_SOURCES = ("onetrust", "cookiebot", "tcf", "didomi", "etalage")

# TCF v2.2 defines purposes 1 to 11.
TCF_PURPOSES = range(1, 12)
# Cookiebot's categories besides "necessary", which is always true and so says nothing about consent.
COOKIEBOT_CATEGORIES = ("preferences", "statistics", "marketing")
# The value Etalage's own consent cookie holds after a "yes" and after a "no" in the shop's banner.
ETALAGE_YES = "personalization=1"
ETALAGE_NO = "personalization=0"


@dataclass(frozen=True, slots=True)
class OneTrustSettings:
    cookie: str = "OptanonConsent"
    # Group ids that must all be granted; they differ per site (C0004 = targeting by default,
    # C0003 = functional on some sites).
    groups: tuple[str, ...] = ("C0004",)


@dataclass(frozen=True, slots=True)
class CookiebotSettings:
    cookie: str = "CookieConsent"
    # "marketing", not "preferences", by default: Cookiebot describes preferences as remembering
    # settings such as language or region, while Etalage builds a profile of what the visitor
    # browses to promote products, which is what a visitor allows under "marketing". A visitor who
    # only allowed preferences does not expect a behavioural profile. Shops whose banner explains
    # personalization under "preferences" can say so in [consent.cookiebot].
    categories: tuple[str, ...] = ("marketing",)


@dataclass(frozen=True, slots=True)
class TcfSettings:
    # euconsent-v2 is the usual name; OneTrust writes eupubconsent-v2. Every one present must grant.
    cookies: tuple[str, ...] = ("euconsent-v2", "eupubconsent-v2")
    # 1 store/access information on a device, 5 create profiles to personalise content,
    # 6 use profiles to select personalised content.
    purposes: tuple[int, ...] = (1, 5, 6)


@dataclass(frozen=True, slots=True)
class DidomiSettings:
    cookie: str = "didomi_token"
    # Didomi's ids for TCF purposes 5 and 6 (add "cookies", purpose 1, if the shop's banner shows it).
    purposes: tuple[str, ...] = ("create_content_profile", "select_personalized_content")


@dataclass(frozen=True, slots=True)
class EtalageSettings:
    cookie: str = "etalage_consent"


@dataclass(frozen=True, slots=True)
class ConsentPolicy:
    # Listed order only decides which refusal is reported; see the module docstring.
    sources: tuple[str, ...] = ("onetrust",)
    onetrust: OneTrustSettings = OneTrustSettings()
    cookiebot: CookiebotSettings = CookiebotSettings()
    tcf: TcfSettings = TcfSettings()
    didomi: DidomiSettings = DidomiSettings()
    etalage: EtalageSettings = EtalageSettings()

    def __post_init__(self) -> None:
        unknown = [source for source in self.sources if source not in CONSENT_SOURCES]
        if unknown or not self.sources:
            raise ValueError(f"consent sources must be some of {', '.join(CONSENT_SOURCES)}, not {list(self.sources)}")

    @property
    def cookies(self) -> tuple[str, ...]:
        """The names of the cookies the listed sources read, in order."""
        names: list[str] = []
        for source in self.sources:
            settings = getattr(self, source)
            names += settings.cookies if isinstance(settings, TcfSettings) else (settings.cookie,)
        return tuple(dict.fromkeys(names))


@dataclass(frozen=True, slots=True)
class Consent:
    granted: bool
    reason: str  # in plain words, for shop staff


class _No(Exception):
    """A present consent cookie that refuses, or that cannot be read; the message is the reason."""


def _single(jar: CookieJar, name: str, label: str) -> str | None:
    """The cookie's value; None when absent. Sent twice with different values: no consent."""
    values = jar.get(name)
    if not values:
        return None
    if len(set(values)) != 1:
        raise _No(f"{label} cookie {name} was sent {len(values)} times with different values, so the visitor's choice is unclear")
    return values[0]


# --- OneTrust ------------------------------------------------------------------------------------


def _onetrust(settings: OneTrustSettings, jar: CookieJar) -> str | None:
    raw = _single(jar, settings.cookie, "OneTrust")
    if raw is None:
        return None
    where = f"OneTrust cookie {settings.cookie}"
    fields: dict[str, str] = {}
    for key, value in parse_qsl(raw, keep_blank_values=True):
        if fields.setdefault(key, value) != value:
            raise _No(f"{where}: '{key}' appears twice with different values")
    if fields.get("isGpcEnabled") == "1":
        raise _No(f"{where}: OneTrust recorded Global Privacy Control (an objection to profiling)")
    if fields.get("AwaitingReconsent", "false").lower() == "true":
        raise _No(f"{where}: OneTrust is waiting for the visitor to choose again")
    try:
        interacted = int(fields.get("interactionCount", "0")) >= 1
    except ValueError:
        interacted = False
    if not interacted and "OptanonAlertBoxClosed" not in jar:
        raise _No(f"{where}: the visitor has not made a choice in the consent banner yet")
    flags: dict[str, set[str]] = {}
    for pair in fields.get("groups", "").split(","):
        group, _, flag = pair.partition(":")
        flags.setdefault(group.strip(), set()).add(flag.strip())
    # A group listed twice with different flags is not a clear yes.
    missing = [group for group in settings.groups if flags.get(group) != {"1"}]
    if missing:
        raise _No(f"{where}: the visitor did not allow {_plural('group', missing)}")
    return f"{where}: the visitor allowed {_plural('group', settings.groups)}"


# --- Cookiebot -----------------------------------------------------------------------------------


class _LiteralError(ValueError):
    pass


_JS_SPACE = re.compile(r"\s*")
_JS_IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_JS_NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_JS_WORDS = {"true": True, "false": False, "null": None}
_JS_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}


class _JsLiteral:
    """A reader for the JavaScript object literal Cookiebot stores: objects, arrays, quoted strings,
    numbers, true/false/null, unquoted keys. Duplicate keys are an error (the choice would be unclear)."""

    MAX_DEPTH = 8

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def parse(self) -> Any:
        value = self._value(0)
        self._space()
        if self.pos != len(self.text):
            raise _LiteralError(f"unexpected text at position {self.pos}")
        return value

    def _space(self) -> None:
        self.pos = _JS_SPACE.match(self.text, self.pos).end()  # type: ignore[union-attr]

    def _peek(self) -> str:
        self._space()
        if self.pos >= len(self.text):
            raise _LiteralError("the value ends too early")
        return self.text[self.pos]

    def _expect(self, char: str) -> None:
        if self._peek() != char:
            raise _LiteralError(f"expected {char!r} at position {self.pos}")
        self.pos += 1

    def _value(self, depth: int) -> Any:
        if depth > self.MAX_DEPTH:
            raise _LiteralError("nested too deeply")
        char = self._peek()
        if char == "{":
            return self._object(depth)
        if char == "[":
            return self._array(depth)
        if char in "'\"":
            return self._string()
        number = _JS_NUMBER.match(self.text, self.pos)
        if number:
            self.pos = number.end()
            return float(number.group()) if any(c in number.group() for c in ".eE") else int(number.group())
        word = _JS_IDENTIFIER.match(self.text, self.pos)
        if word and word.group() in _JS_WORDS:
            self.pos = word.end()
            return _JS_WORDS[word.group()]
        raise _LiteralError(f"unexpected {char!r} at position {self.pos}")

    def _object(self, depth: int) -> dict[str, Any]:
        self._expect("{")
        result: dict[str, Any] = {}
        while self._peek() != "}":
            char = self._peek()
            if char in "'\"":
                key = self._string()
            else:
                match = _JS_IDENTIFIER.match(self.text, self.pos) or _JS_NUMBER.match(self.text, self.pos)
                if not match:
                    raise _LiteralError(f"expected a key at position {self.pos}")
                key, self.pos = match.group(), match.end()
            self._expect(":")
            if key in result:
                raise _LiteralError(f"key {key!r} appears twice")
            result[key] = self._value(depth + 1)
            if self._peek() != ",":
                break
            self.pos += 1
        self._expect("}")
        return result

    def _array(self, depth: int) -> list[Any]:
        self._expect("[")
        result = []
        while self._peek() != "]":
            result.append(self._value(depth + 1))
            if self._peek() != ",":
                break
            self.pos += 1
        self._expect("]")
        return result

    def _string(self) -> str:
        quote = self.text[self.pos]
        self.pos += 1
        out = []
        while True:
            if self.pos >= len(self.text):
                raise _LiteralError("a quoted text is not closed")
            char = self.text[self.pos]
            self.pos += 1
            if char == quote:
                return "".join(out)
            if char == "\\":
                if self.pos >= len(self.text):
                    raise _LiteralError("a quoted text is not closed")
                escaped = self.text[self.pos]
                self.pos += 1
                out.append(_JS_ESCAPES.get(escaped, escaped))
            else:
                out.append(char)


def parse_js_object(text: str) -> dict[str, Any]:
    """Cookiebot's object literal as a dict; raises ValueError when it is not one."""
    value = _JsLiteral(text).parse()
    if not isinstance(value, dict):
        raise _LiteralError("not an object literal")
    return value


def _cookiebot(settings: CookiebotSettings, jar: CookieJar) -> str | None:
    raw = _single(jar, settings.cookie, "Cookiebot")
    if raw is None:
        return None
    where = f"Cookiebot cookie {settings.cookie}"
    text = unquote(raw).strip()  # not unquote_plus: a '+' in the base64 stamp is a plus
    if text == "-1":
        raise _No(f"{where}: the visitor is outside the regions where Cookiebot asks for consent, so nobody asked them")
    try:
        choice = parse_js_object(text)
    except ValueError as exc:
        raise _No(f"{where}: the value could not be read ({exc})") from None
    method = choice.get("method")
    if method == "implied":
        raise _No(f"{where}: consent was implied (the visitor did not actively choose)")
    if method != "explicit":
        how = "does not say how consent was given" if method is None else f"says consent was given by {method!r}"
        raise _No(f"{where}: the value {how}, which is not an explicit choice")
    missing = [category for category in settings.categories if choice.get(category) is not True]
    if missing:
        raise _No(f"{where}: the visitor did not allow {_plural('category', missing)}")
    return f"{where}: the visitor explicitly allowed {_plural('category', settings.categories)}"


# --- IAB TCF v2.2 --------------------------------------------------------------------------------


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


_BASE64URL = re.compile(r"[A-Za-z0-9_-]+={0,2}")


def _segment_bits(segment: str, number: int) -> _Bits:
    if not segment:
        raise TcDecodeError(f"segment {number} is empty")
    if not _BASE64URL.fullmatch(segment):
        raise TcDecodeError(f"segment {number} is not base64url text")
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
    segments = text.strip().split(".")
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


def _tcf(settings: TcfSettings, jar: CookieJar) -> str | None:
    granted = []
    for name in settings.cookies:
        raw = _single(jar, name, "IAB TCF")
        if raw is None:
            continue
        where = f"IAB TCF cookie {name}"
        try:
            tc = decode_tc_string(unquote(raw))
        except TcDecodeError as exc:
            raise _No(f"{where}: the consent string could not be read ({exc})") from None
        if tc.policy_version < 4:
            raise _No(f"{where}: written under TCF policy version {tc.policy_version}, older than TCF v2.2 (version 4)")
        if not tc.is_service_specific:
            raise _No(f"{where}: a global consent string, not one for this shop (TCF v2.2 needs service-specific consent)")
        segment = "publisher segment" if tc.publisher is not None else "core segment"
        missing = [p for p in settings.purposes if p not in tc.consented(settings.purposes)]
        if missing:
            # Legitimate interest is never read: personalization needs consent (TCF v2.2 forbids it for purposes 3-6).
            raise _No(f"{where}: no consent for {_plural('purpose', missing)} ({segment})")
        granted.append(f"{where}: consent for {_plural('purpose', settings.purposes)} ({segment})")
    return "; ".join(granted) or None


# --- Didomi --------------------------------------------------------------------------------------


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"key {key!r} appears twice")
        result[key] = value
    return result


def decode_didomi_token(raw: str) -> dict[str, Any]:
    """The JSON object in a didomi_token value: base64, standard or URL-safe, padding optional."""
    text = unquote(raw).strip()
    if not re.fullmatch(r"[A-Za-z0-9+/_-]+={0,2}", text):
        raise ValueError("not base64 text")
    body = text.rstrip("=").replace("-", "+").replace("_", "/")
    data = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    try:
        value = json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def _didomi(settings: DidomiSettings, jar: CookieJar) -> str | None:
    raw = _single(jar, settings.cookie, "Didomi")
    if raw is None:
        return None
    where = f"Didomi cookie {settings.cookie}"
    try:
        token = decode_didomi_token(raw)
        purposes = token.get("purposes", {})
        if not isinstance(purposes, dict):
            raise ValueError("'purposes' is not an object")
        enabled, disabled = purposes.get("enabled", []), purposes.get("disabled", [])
        for name, value in (("enabled", enabled), ("disabled", disabled)):
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                raise ValueError(f"'purposes.{name}' is not a list of purpose ids")
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise _No(f"{where}: the value could not be read ({exc})") from None
    refused = [purpose for purpose in settings.purposes if purpose in disabled]
    if refused:
        raise _No(f"{where}: the visitor refused {_plural('purpose', refused)}")
    missing = [purpose for purpose in settings.purposes if purpose not in enabled]
    if missing:
        raise _No(f"{where}: the visitor did not allow {_plural('purpose', missing)}")
    return f"{where}: the visitor allowed {_plural('purpose', settings.purposes)}"


# --- Etalage's own cookie ------------------------------------------------------------------------


def _etalage(settings: EtalageSettings, jar: CookieJar) -> str | None:
    raw = _single(jar, settings.cookie, "Etalage")
    if raw is None:
        return None
    where = f"Etalage consent cookie {settings.cookie}"
    value = raw.strip()
    if value == ETALAGE_NO:
        raise _No(f"{where}: the visitor said no to personalization")
    if value != ETALAGE_YES:
        raise _No(f"{where}: the value {value[:40]!r} is neither {ETALAGE_YES!r} nor {ETALAGE_NO!r}")
    return f"{where}: the visitor said yes to personalization"


# --- reading -------------------------------------------------------------------------------------

_LABELS = {"onetrust": "OneTrust", "cookiebot": "Cookiebot", "tcf": "IAB TCF", "didomi": "Didomi", "etalage": "Etalage"}
_READERS: dict[str, Callable[[Any, CookieJar], str | None]] = {
    "onetrust": _onetrust,
    "cookiebot": _cookiebot,
    "tcf": _tcf,
    "didomi": _didomi,
    "etalage": _etalage,
}


def read_consent(policy: ConsentPolicy, jar: CookieJar, sec_gpc: str | None) -> Consent:
    """The visitor's consent to personalization; see the module docstring for the rules."""
    if sec_gpc is not None and sec_gpc.strip() == "1":
        return Consent(False, "the browser sent Sec-GPC: 1 (Global Privacy Control), an objection to profiling that overrides any cookie")
    granted = []
    for source in policy.sources:
        try:
            reason = _READERS[source](getattr(policy, source), jar)
        except _No as refusal:
            return Consent(False, str(refusal))
        if reason is not None:
            granted.append(reason)
    if not granted:
        names = ", ".join(policy.cookies)
        return Consent(False, f"no consent recorded: the visitor sent no consent cookie ({names})")
    return Consent(True, "; ".join(granted))


def _plural(noun: str, items: Sequence[object]) -> str:
    words = {"category": "categories"}
    return f"{noun if len(items) == 1 else words.get(noun, noun + 's')} {', '.join(str(item) for item in items)}"


# --- the [consent] table of the rule files -------------------------------------------------------

_COOKIE_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # an RFC 6265 token


def _shown(value: Any) -> str:
    """A value as the rule file wrote it (TOML says true, not True)."""
    return ("true" if value else "false") if isinstance(value, bool) else repr(value)


def _cookie_check(value: str) -> str | None:
    return None if _COOKIE_NAME.fullmatch(value) else f"{value!r} is not a valid cookie name"


def _names(
    fields: Fields, key: str, default: tuple[str, ...], what: str, known: Sequence[str] = (), explain: dict[str, str] | None = None
) -> tuple[str, ...]:
    """A non-empty list of distinct, non-empty strings (from `known` when given; `explain` holds hints for some unknown ones)."""
    values = fields.take(key, list, None)
    if values is None:
        return default
    if not values:
        fields.problem(f"{fields.name}: '{key}' is empty", key, f"list at least one {what}")
        return default
    out: list[str] = []
    for value in values:
        if not isinstance(value, str) or not value.strip():
            fields.problem(f"{fields.name}: '{key}' must be a list of {what} names in quotes, not {_shown(value)}", key)
        elif known and value not in known:
            close = difflib.get_close_matches(value, known, n=1)
            hint = (explain or {}).get(value) or (f"did you mean {close[0]!r}?" if close else f"known: {', '.join(known)}")
            fields.problem(f"{fields.name}: '{key}': unknown {what} {value!r}", key, hint)
        elif value in out:
            fields.problem(f"{fields.name}: '{key}': {value!r} is listed twice", key)
        else:
            out.append(value)
    return tuple(out) if len(out) == len(values) else default


def _onetrust_settings(fields: Fields, base: OneTrustSettings) -> OneTrustSettings:
    cookie = fields.take("cookie", str, base.cookie, _cookie_check)
    groups = _names(fields, "groups", base.groups, "group")
    for group in groups:
        if any(char in group for char in ",: \t"):
            fields.problem(f"{fields.name}: 'groups': {group!r} is not a OneTrust group id", "groups", "group ids look like 'C0004'")
    return OneTrustSettings(cookie, groups)


def _cookiebot_settings(fields: Fields, base: CookiebotSettings) -> CookiebotSettings:
    cookie = fields.take("cookie", str, base.cookie, _cookie_check)
    explain = {"necessary": "'necessary' is always true, so it says nothing about consent; use 'marketing' or 'preferences'"}
    return CookiebotSettings(cookie, _names(fields, "categories", base.categories, "category", COOKIEBOT_CATEGORIES, explain))


def _tcf_settings(fields: Fields, base: TcfSettings) -> TcfSettings:
    cookies = _names(fields, "cookies", base.cookies, "cookie")
    for cookie in cookies:
        complaint = _cookie_check(cookie)
        if complaint:
            fields.problem(f"{fields.name}: 'cookies': {complaint}", "cookies")
    purposes = fields.take("purposes", list, None)
    if purposes is None:
        return TcfSettings(cookies, base.purposes)
    ok = bool(purposes)
    if not purposes:
        fields.problem(f"{fields.name}: 'purposes' is empty", "purposes", "list at least one purpose, e.g. [1, 5, 6]")
    for purpose in purposes:
        if not isinstance(purpose, int) or isinstance(purpose, bool):
            fields.problem(
                f"{fields.name}: 'purposes' must be a list of purpose numbers, not {_shown(purpose)}",
                "purposes",
                "e.g. purposes = [1, 5, 6]",
            )
            ok = False
        elif purpose not in TCF_PURPOSES:
            fields.problem(
                f"{fields.name}: 'purposes': {purpose} is not a TCF purpose", "purposes", "TCF v2.2 purposes are numbered 1 to 11"
            )
            ok = False
    if ok and len(set(purposes)) != len(purposes):
        fields.problem(f"{fields.name}: 'purposes' lists a purpose twice", "purposes")
        ok = False
    return TcfSettings(cookies, tuple(purposes) if ok else base.purposes)


def _didomi_settings(fields: Fields, base: DidomiSettings) -> DidomiSettings:
    cookie = fields.take("cookie", str, base.cookie, _cookie_check)
    return DidomiSettings(cookie, _names(fields, "purposes", base.purposes, "purpose"))


def _etalage_settings(fields: Fields, base: EtalageSettings) -> EtalageSettings:
    return EtalageSettings(fields.take("cookie", str, base.cookie, _cookie_check))


_DEFAULT = ConsentPolicy()
_SETTINGS: dict[str, Callable[[Fields, Any], Any]] = {
    "onetrust": _onetrust_settings,
    "cookiebot": _cookiebot_settings,
    "tcf": _tcf_settings,
    "didomi": _didomi_settings,
    "etalage": _etalage_settings,
}


def build_policy(fields: Fields) -> ConsentPolicy:
    """The policy a rule file's [consent] table describes; problems go to `fields` with file:line.

        [consent]
        sources = ["onetrust", "tcf"]      # or the one-source shorthand: source = "onetrust"
        [consent.onetrust]
        groups = ["C0004"]
        [consent.tcf]
        purposes = [1, 5, 6]

    `groups` and `cookie` directly in [consent] are the older OneTrust shorthand and still work.
    Calls fields.finish().
    """
    one = fields.take("source", str, None)
    many = fields.take("sources", list, None)
    key = "sources" if many is not None else "source"
    if one is not None and many is not None:
        fields.problem(f"{fields.name}: give 'sources' or 'source', not both", "source", "'source' is shorthand for a list of one")
    listed: list[Any] = list(many) if many is not None else [one] if one is not None else list(_DEFAULT.sources)
    if many is not None and not many:
        fields.problem(f"{fields.name}: 'sources' is empty", key, f"list at least one of: {', '.join(CONSENT_SOURCES)}")
    sources: list[str] = []
    for name in listed:
        if not isinstance(name, str):
            fields.problem(f"{fields.name}: '{key}' must list source names in quotes, not {_shown(name)}", key)
        elif name not in CONSENT_SOURCES:
            close = difflib.get_close_matches(name, CONSENT_SOURCES, n=1)
            fields.problem(
                f"{fields.name}: unknown consent source {name!r}",
                key,
                f"did you mean {close[0]!r}?" if close else f"known: {', '.join(CONSENT_SOURCES)}",
            )
        elif name in sources:
            fields.problem(f"{fields.name}: consent source {name!r} is listed twice", key)
        else:
            sources.append(name)
    if sources == ["tcf"]:
        fields.problem(
            f"{fields.name}: 'tcf' cannot be the only consent source: the Dutch DPA holds that TCF on its own does not meet the AVG",
            key,
            'also list the consent platform\'s own cookie, e.g. sources = ["onetrust", "tcf"]',
        )

    settings: dict[str, Any] = {}
    for name, build in _SETTINGS.items():
        table = fields.take(name, dict, None)
        if table is None:
            settings[name] = getattr(_DEFAULT, name)
            continue
        sub = fields.sub(name, table)
        if name not in sources:
            sub.problem(
                f"{sub.name}: settings for '{name}', which is not a consent source here",
                hint=f"add '{name}' to 'sources' or remove [{sub.name}]",
            )
        settings[name] = build(sub, getattr(_DEFAULT, name))
        sub.finish()

    # The older OneTrust shorthand, from when OneTrust was the only source: `cookie` and `groups`
    # directly in [consent]. Still read so that existing rule files keep working.
    legacy = [name for name in ("cookie", "groups") if name in fields.table]
    if legacy and "onetrust" not in sources:
        for name in legacy:
            fields.take(name, (str, list), None)
            fields.problem(
                f"{fields.name}: '{name}' directly in [consent] is a OneTrust setting, and 'onetrust' is not a consent source here",
                name,
                "add 'onetrust' to 'sources', or remove it",
            )
    elif legacy:
        onetrust_table = fields.table.get("onetrust")
        for name in legacy:
            if isinstance(onetrust_table, dict) and name in onetrust_table:
                fields.problem(
                    f"{fields.name}: '{name}' is given both here and in [consent.onetrust]", name, "keep the one in [consent.onetrust]"
                )
        settings["onetrust"] = _onetrust_settings(fields, settings["onetrust"])

    owners: dict[str, str] = {}
    for name in sources:
        cookies = settings[name].cookies if name == "tcf" else (settings[name].cookie,)
        for cookie in cookies:
            if cookie in owners:
                fields.problem(f"{fields.name}: cookie {cookie!r} is read by both '{owners[cookie]}' and '{name}'", key)
            owners.setdefault(cookie, name)
    fields.finish()
    return ConsentPolicy(tuple(sources) or _DEFAULT.sources, **settings)
