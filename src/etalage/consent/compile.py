"""The [consent] table of the rule files and its [consent.<source>] tables, validated into a ConsentPolicy."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from etalage.consent.cookiebot import COOKIEBOT_CATEGORIES
from etalage.consent.policy import (
    CONSENT_SOURCES,
    ConsentPolicy,
    CookiebotSettings,
    DidomiSettings,
    EtalageSettings,
    OneTrustSettings,
    TcfSettings,
)
from etalage.consent.tcf import TCF_PURPOSES
from etalage.problems import did_you_mean
from etalage.rules.fields import Fields

__all__ = ["build_policy"]

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
            hint = (explain or {}).get(value) or did_you_mean(value, known)
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
            fields.problem(f"{fields.name}: unknown consent source {name!r}", key, did_you_mean(name, CONSENT_SOURCES))
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
