"""Cookies both ways: a forgiving Cookie header splitter, and the one Set-Cookie of Etalage's own cookies.

The standard library's SimpleCookie drops every cookie when one is malformed (`x=a b; vid=3` gives
nothing). Browsers send `name=value` pairs separated by `;`, and real headers contain junk, so each
pair is taken on its own. Duplicate names are all kept: the consent reader treats a conflict as "no".
"""

from __future__ import annotations

from etalage.types import CookieJar

__all__ = ["parse_cookie_header", "visitor_cookie"]


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


def visitor_cookie(name: str, value: str, max_age: int | None, secure: bool) -> bytes:
    """A Set-Cookie value for a cookie Etalage keeps in the visitor's browser; max_age 0 removes it, None lasts the session.

    Every one has the same attributes, so any response can replace or expire what another set:
    for the whole site, out of scripts' reach, not sent on cross-site subrequests, https-only over https.
    """
    cookie = f"{name}={value}; Path=/" + (f"; Max-Age={max_age}" if max_age is not None else "") + "; HttpOnly; SameSite=Lax"
    return (cookie + "; Secure" if secure else cookie).encode("latin-1")
