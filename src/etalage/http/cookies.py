"""Cookies both ways: a forgiving Cookie header splitter, and the one Set-Cookie of Etalage's own cookies.

The standard library's SimpleCookie drops every cookie when one is malformed (`x=a b; vid=3` gives
nothing). Browsers send `name=value` pairs separated by `;`, and real headers contain junk, so each
pair is taken on its own. Duplicate names are all kept: the consent reader treats a conflict as "no".
"""

from __future__ import annotations

from email.utils import parsedate_to_datetime

from etalage.types import CookieJar

__all__ = ["PREVIEW_COOKIE", "parse_cookie_header", "visitor_cookie", "live_value", "set_cookie_name"]

# The cookie that holds an admin-signed preview (etalage.control.preview sets it, the proxy reads it).
PREVIEW_COOKIE = "etalage_preview"

# Cookie name prefixes browsers accept only on a Secure cookie (RFC 6265bis 4.1.3); `__Host-` also needs
# Path=/ and no Domain, which every cookie Etalage sets has. Browsers match them regardless of case.
_SECURE_PREFIXES = ("__host-", "__secure-")


# RFC 6265 OWS: the only whitespace around a name or a value. str.strip() would also take the
# \x1c-\x1f separators, NEL and no-break spaces, and make `personalization=1\xa0` a clean yes.
_OWS = " \t"


def parse_cookie_header(header: str) -> CookieJar:
    jar: CookieJar = {}
    for pair in header.split(";"):
        name, sep, value = pair.partition("=")
        name = name.strip(_OWS)
        if not sep or not name:
            continue
        value = value.strip(_OWS)
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        jar.setdefault(name, []).append(value)
    return jar


def visitor_cookie(name: str, value: str, max_age: int | None, secure: bool) -> bytes:
    """A Set-Cookie value for a cookie Etalage keeps in the visitor's browser; max_age 0 removes it, None lasts the session.

    Every one has the same attributes, so any response can replace or expire what another set:
    for the whole site, out of scripts' reach, not sent on cross-site subrequests, https-only over https.
    A `__Host-` or `__Secure-` name is always Secure: browsers refuse such a cookie without it, also
    when the request reached Etalage over plain http behind a TLS-terminating proxy.
    """
    cookie = f"{name}={value}; Path=/" + (f"; Max-Age={max_age}" if max_age is not None else "") + "; HttpOnly; SameSite=Lax"
    secure = secure or name.lower().startswith(_SECURE_PREFIXES)
    return (cookie + "; Secure" if secure else cookie).encode("latin-1")


def set_cookie_name(set_cookie: bytes) -> bytes:
    """The name of the cookie a Set-Cookie header sets, as browsers read it (RFC 6265bis 5.6): the
    text before the first `=`, without surrounding spaces or tabs; empty for a header without one."""
    pair = set_cookie.partition(b";")[0]
    name, sep, _ = pair.partition(b"=")
    return name.strip(b" \t") if sep else b""


def live_value(set_cookie: bytes, name: bytes, now: float) -> str | None:
    """The value a Set-Cookie header gives cookie `name`, or None when it sets another cookie or
    removes this one: empty, `Max-Age` of 0 or less, or `Expires` in the past (RFC 6265 5.2).

    Shops log out by expiring their cookie (PHP writes `name=deleted; expires=Thu, 01-Jan-1970 ...`),
    so a value is only trusted from a cookie that stays in the browser."""
    pair, _, attributes = set_cookie.partition(b";")
    key, sep, raw = pair.partition(b"=")
    if not sep or key.strip() != name:
        return None
    value = raw.strip().strip(b'"').decode("latin-1")
    for attribute in attributes.split(b";"):
        attr, _, setting = attribute.partition(b"=")
        attr, setting = attr.strip().lower(), setting.strip()
        if attr == b"max-age":
            try:
                if int(setting) <= 0:
                    return None
            except ValueError:
                return None  # not a number: the browser ignores it, but the value's life is unclear
        elif attr == b"expires":
            try:
                expires = parsedate_to_datetime(setting.decode("latin-1").replace("-", " "))
            except (TypeError, ValueError, IndexError):
                return None
            if expires.timestamp() <= now:
                return None
    return value or None
