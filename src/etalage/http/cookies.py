"""A forgiving Cookie header splitter.

The standard library's SimpleCookie drops every cookie when one is malformed (`x=a b; vid=3` gives
nothing). Browsers send `name=value` pairs separated by `;`, and real headers contain junk, so each
pair is taken on its own. Duplicate names are all kept: the consent reader treats a conflict as "no".
"""

from __future__ import annotations

from etalage.types import CookieJar

__all__ = ["parse_cookie_header"]


def parse_cookie_header(header: str) -> CookieJar:
    jar: CookieJar = {}
    for pair in header.split(";"):
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        jar.setdefault(name, []).append(value)
    return jar
