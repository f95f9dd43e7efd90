"""Reference readers for the property tests: is a consent cookie's value, exactly, a grant?

Each one is written from the platform's format, not from Etalage's reader, and answers one
question: is this value in the platform's format, and do the fields that decide hold exactly
their granting values? Text in fields that decide nothing may be anything the format allows.

Spellings that a format's decoders read as one and the same (percent-escapes, `+` for a space in
a query string, base64's unused last bits, whitespace between JavaScript or JSON tokens) are not
malformed. Everything outside the format is: characters it does not have, whitespace it does not
allow (str.strip() and re's \\s also take \\x1c-\\x1f, NEL and no-break spaces), base64 padding
that is not exactly right, a decoded text that is not JSON or not a JavaScript literal, a field
that decides written twice with two values, or with the name of one in another letter case.

The property tests check that Etalage's readers never grant where these say no. They may refuse
more (they keep limits on length and depth, and refuse some escapes Cookiebot never writes).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import string
from typing import Any
from urllib.parse import unquote, unquote_plus

__all__ = ["cookie_value", "onetrust_grants", "cookiebot_grants", "tcf_grants", "didomi_grants", "etalage_grants"]


def cookie_value(sent: str) -> str:
    """What the visitor's browser stores for `Name=<sent>`: up to the first ';', without the
    spaces and tabs around it (RFC 6265 OWS), and without one pair of double quotes around it."""
    value = sent.partition(";")[0].strip(" \t")
    return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value


def _fold(name: str) -> str:
    """A name with case, signs, spaces and non-ASCII dropped: two names with one fold look alike."""
    return "".join(char for char in name.casefold() if char in string.ascii_lowercase + string.digits)


def _deciding(name: str, names: tuple[str, ...]) -> str | None:
    """`name` when it is one of `names`; raises LookAlike when it is one of them spelt differently."""
    if name in names:
        return name
    if any(_fold(name) == _fold(known) for known in names):
        raise _LookAlike(name)
    return None


class _LookAlike(Exception):
    pass


# --- OneTrust: OptanonConsent, a query string --------------------------------------------------------------------

_ONETRUST = ("isGpcEnabled", "AwaitingReconsent", "interactionCount", "groups")


def onetrust_grants(sent: str, groups: tuple[str, ...] = ("C0004",), banner_closed: bool = False) -> bool:
    fields: dict[str, str] = {}
    try:
        for piece in cookie_value(sent).split("&"):
            if not piece:
                continue
            raw_key, _, raw_value = piece.partition("=")
            key, value = unquote_plus(raw_key), unquote_plus(raw_value)
            if _deciding(key, _ONETRUST) and fields.setdefault(key, value) != value:
                return False
        if fields.get("isGpcEnabled", "0") != "0" or fields.get("AwaitingReconsent", "false") != "false":
            return False
        count = fields.get("interactionCount", "0")
        if not (count.isascii() and count.isdigit()) or (int(count) < 1 and not banner_closed):
            return False
        flags: dict[str, set[str]] = {}
        for item in fields.get("groups", "").split(","):
            group, _, flag = item.partition(":")
            if _deciding(group, groups):
                flags.setdefault(group, set()).add(flag)
    except _LookAlike:
        return False
    return all(flags.get(group) == {"1"} for group in groups)


# --- Cookiebot: CookieConsent, a percent-encoded JavaScript object literal ---------------------------------------

# ECMAScript WhiteSpace and LineTerminator: tab, VT, FF, space, NBSP, BOM, the Zs spaces, LF, CR, LS, PS.
_JS_SPACE = (
    "\t\x0b\x0c \xa0\ufeff\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000\n\r\u2028\u2029"
)
_JS_TOKEN = re.compile(
    rf"""(?P<space>[{_JS_SPACE}]+)
    |(?P<string>'(?:[^'\\\n\r]|\\(?:\r\n|[\s\S]))*'|"(?:[^"\\\n\r]|\\(?:\r\n|[\s\S]))*")
    |(?P<number>(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)
    |(?P<name>[A-Za-z_$][A-Za-z0-9_$]*)
    |(?P<sign>[-{{}}\[\]:,])""",
    re.VERBOSE,
)
_JS_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v"}


class _NotJs(Exception):
    pass


def _js_string(literal: str) -> str:
    """A JavaScript string literal's text (strict mode: no octal escapes)."""
    out, body, at = [], literal[1:-1], 0
    while at < len(body):
        char = body[at]
        at += 1
        if char != "\\":
            out.append(char)
            continue
        char = body[at]
        at += 1
        if char in "\n\r\u2028\u2029":  # a line continuation
            at += char == "\r" and body[at : at + 1] == "\n"
        elif char in _JS_SIMPLE_ESCAPES:
            out.append(_JS_SIMPLE_ESCAPES[char])
        elif char == "0" and not body[at : at + 1].isdigit():
            out.append("\0")
        elif char in "123456789" or char == "0":
            raise _NotJs("octal escape")
        elif char in "xu":
            size = 2 if char == "x" else 4
            if char == "u" and body[at : at + 1] == "{":
                end = body.find("}", at)
                digits, at = body[at + 1 : end], end + 1
                if end < 0 or not digits:
                    raise _NotJs("bad \\u{}")
            else:
                digits, at = body[at : at + size], at + size
                if len(digits) != size:
                    raise _NotJs("short escape")
            if not all(digit in string.hexdigits for digit in digits) or int(digits, 16) > 0x10FFFF:
                raise _NotJs("bad hex escape")
            out.append(chr(int(digits, 16)))
        else:
            out.append(char)
    return "".join(out)


def _js_tokens(text: str) -> list[tuple[str, str]]:
    tokens, at = [], 0
    while at < len(text):
        match = _JS_TOKEN.match(text, at)
        if not match:
            raise _NotJs(f"no token at {at}")
        at = match.end()
        if match.lastgroup != "space":
            tokens.append((match.lastgroup or "", match.group()))
    return tokens


def _js_literal(tokens: list[tuple[str, str]]) -> Any:
    """An object literal's value from its tokens: objects, arrays, strings, numbers, true/false/null."""
    at = 0

    def take() -> tuple[str, str]:
        nonlocal at
        if at >= len(tokens):
            raise _NotJs("ends early")
        at += 1
        return tokens[at - 1]

    def peek() -> str:
        return tokens[at][1] if at < len(tokens) else ""

    def value() -> Any:
        kind, text = take()
        if text == "{":
            result: dict[str, Any] = {}
            while peek() != "}":
                kind, key = take()
                if kind not in ("name", "string", "number"):
                    raise _NotJs("bad key")
                name = _js_string(key) if kind == "string" else key
                if name in result or take()[1] != ":":
                    raise _NotJs("key twice, or no colon")
                result[name] = value()
                if peek() != ",":
                    break
                take()
            if take()[1] != "}":
                raise _NotJs("object not closed")
            return result
        if text == "[":
            items = []
            while peek() != "]":
                items.append(value())
                if peek() != ",":
                    break
                take()
            if take()[1] != "]":
                raise _NotJs("array not closed")
            return items
        if text == "-":  # a negative number
            kind, text = take()
            if kind != "number":
                raise _NotJs("a sign without a number")
            return -float(text)
        if kind == "string":
            return _js_string(text)
        if kind == "number":
            return float(text)
        if kind == "name" and text in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[text]
        raise _NotJs(f"unexpected {text!r}")

    result = value()
    if at != len(tokens):
        raise _NotJs("text after the literal")
    return result


def cookiebot_grants(sent: str, categories: tuple[str, ...] = ("marketing",)) -> bool:
    try:
        choice = _js_literal(_js_tokens(unquote(cookie_value(sent))))
    except _NotJs:
        return False
    if not isinstance(choice, dict) or choice.get("method") != "explicit":
        return False
    return all(choice.get(category) is True for category in categories) and not any(
        _fold(key) in {_fold(name) for name in ("method", *categories)} and key not in ("method", *categories) for key in choice
    )


# --- base64, for TCF and Didomi --------------------------------------------------------------------------------

_B64 = re.compile(r"([A-Za-z0-9+/_-]*)(=*)")


def _base64(text: str, alphabet: str) -> bytes | None:
    """Bytes from base64 in one alphabet ('+/' or '-_'), padding either absent or exactly right."""
    match = _B64.fullmatch(text)
    if not match or not match.group(1) or any(char in match.group(1) for char in "+/-_" if char not in alphabet):
        return None
    body, padding = match.groups()
    if len(body) % 4 == 1 or (padding and (len(body) + len(padding)) % 4):
        return None
    try:
        return base64.b64decode(body + "=" * (-len(body) % 4), altchars=alphabet.encode(), validate=True)
    except binascii.Error:
        return None


# --- IAB TCF v2.2: euconsent-v2, base64url segments ---------------------------------------------------------------


def _bits(segment: str) -> str | None:
    data = _base64(segment, "-_")
    return None if data is None else "".join(f"{byte:08b}" for byte in data)


def tcf_grants(sent: str, purposes: tuple[int, ...] = (1, 5, 6)) -> bool:
    """Version 2, policy version 4 or later, service-specific, and the consent bit of every purpose
    (from the publisher segment, type 3, when there is one; the core segment's otherwise)."""
    segments = [_bits(segment) for segment in unquote(cookie_value(sent)).split(".")]
    core = segments[0]
    if any(bits is None for bits in segments) or core is None or len(core) < 213:
        return False
    consents = core[152:176]
    later = [bits for bits in segments[1:] if bits is not None]
    kinds = [int(bits[:3], 2) for bits in later if len(bits) >= 3]
    if len(kinds) != len(later) or 0 in kinds or kinds.count(3) > 1:
        return False
    for bits in later:
        if int(bits[:3], 2) == 3:
            if len(bits) < 3 + 48 + 6:
                return False
            consents = bits[3:27]
    version, policy, specific = int(core[:6], 2), int(core[132:138], 2), core[138]
    return version == 2 and policy >= 4 and specific == "1" and all(consents[purpose - 1] == "1" for purpose in purposes)


# --- Didomi: didomi_token, base64 of JSON ---------------------------------------------------------------------------


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    if len({key for key, _ in pairs}) != len(pairs):
        raise ValueError("a key twice")
    return dict(pairs)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def didomi_grants(sent: str, purposes: tuple[str, ...] = ("create_content_profile", "select_personalized_content")) -> bool:
    text = unquote(cookie_value(sent))
    data = _base64(text, "+/") or _base64(text, "-_")
    if data is None:
        return False
    try:
        token = json.loads(data.decode("utf-8"), object_pairs_hook=_pairs, parse_constant=_no_constant)
        if not isinstance(token, dict):
            return False
        _deciding_keys(token, ("purposes",))
        chosen = token.get("purposes", {})
        if not isinstance(chosen, dict):
            return False
        _deciding_keys(chosen, ("enabled", "disabled"))
    except (ValueError, UnicodeDecodeError, RecursionError, _LookAlike):
        return False
    enabled, disabled = chosen.get("enabled", []), chosen.get("disabled", [])
    if not all(isinstance(ids, list) and all(isinstance(item, str) for item in ids) for ids in (enabled, disabled)):
        return False
    return all(purpose in enabled and purpose not in disabled for purpose in purposes)


def _deciding_keys(table: dict[str, Any], names: tuple[str, ...]) -> None:
    for key in table:
        _deciding(key, names)


# --- Etalage's own cookie ---------------------------------------------------------------------------------------------


def etalage_grants(sent: str) -> bool:
    return cookie_value(sent) == "personalization=1"
