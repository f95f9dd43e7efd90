"""Didomi: the `didomi_token` cookie, base64 of a JSON object listing enabled and disabled purposes."""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any
from urllib.parse import unquote

from etalage.consent.base import Refusal, look_alike, plural, single
from etalage.consent.policy import DidomiSettings
from etalage.types import CookieJar

__all__ = ["decode_didomi_token", "read_didomi"]

# Real tokens are a few hundred bytes to a few KiB; a cookie can carry 4 KiB at most.
_MAX_TOKEN = 16 * 1024


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"key {key!r} appears twice")
        result[key] = value
    return result


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def decode_didomi_token(raw: str) -> dict[str, Any]:
    """The JSON object in a didomi_token value: base64, standard or URL-safe, padding optional.

    Exactly so: no whitespace around it, one alphabet (not '+' and '-' in one text), padding only
    where it fits, and JSON as RFC 8259 has it (Python's json also reads NaN and Infinity)."""
    text = unquote(raw)
    if len(text) > _MAX_TOKEN:
        raise ValueError(f"longer than {_MAX_TOKEN} characters")
    match = re.fullmatch(r"[A-Za-z0-9+/_-]+(={0,2})", text)
    if not match:
        raise ValueError("not base64 text")
    if re.search(r"[+/]", text) and re.search(r"[-_]", text):
        raise ValueError("base64 with characters of both the standard and the URL-safe alphabet")
    if match.group(1) and len(text) % 4:
        raise ValueError("base64 padding ('=') where none fits")
    body = text.rstrip("=").replace("-", "+").replace("_", "/")
    data = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    try:
        value = json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicate_keys, parse_constant=_not_json)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def read_didomi(settings: DidomiSettings, jar: CookieJar) -> str | None:
    raw = single(jar, settings.cookie, "Didomi")
    if raw is None:
        return None
    where = f"Didomi cookie {settings.cookie}"
    try:
        token = decode_didomi_token(raw)
        _no_look_alikes(token, ("purposes",))
        purposes = token.get("purposes", {})
        if not isinstance(purposes, dict):
            raise ValueError("'purposes' is not an object")
        _no_look_alikes(purposes, ("enabled", "disabled"))
        enabled, disabled = purposes.get("enabled", []), purposes.get("disabled", [])
        for name, value in (("enabled", enabled), ("disabled", disabled)):
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                raise ValueError(f"'purposes.{name}' is not a list of purpose ids")
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError) as exc:
        raise Refusal(f"{where}: the value could not be read ({exc})") from None
    refused = [purpose for purpose in settings.purposes if purpose in disabled]
    if refused:
        raise Refusal(f"{where}: the visitor refused {plural('purpose', refused)}")
    missing = [purpose for purpose in settings.purposes if purpose not in enabled]
    if missing:
        raise Refusal(f"{where}: the visitor did not allow {plural('purpose', missing)}")
    return f"{where}: the visitor allowed {plural('purpose', settings.purposes)}"


def _no_look_alikes(table: dict[str, Any], names: tuple[str, ...]) -> None:
    """Refuses a key spelt like one that decides (`Disabled`): skipped, it could hide a refusal."""
    for key in table:
        twin = look_alike(key, names)
        if twin:
            raise ValueError(f"a key named {key!r}, which is not how Didomi writes {twin!r}")
