"""The visitor's page as HTTP responses: autoescaping Jinja2 templates, served under a strict CSP.

The templates are package files in etalage/control/templates/. Every value they show is escaped
(autoescape) and a name they use but are not given is an error (StrictUndefined), not an empty
string. The page's one style sheet is inlined, and the Content-Security-Policy allows exactly that
text, by its hash, and no script at all.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from importlib.resources import files

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup
from starlette.responses import Response

__all__ = [
    "ME_PATH",
    "CONTENT_SECURITY_POLICY",
    "response",
    "html",
    "message",
    "unavailable",
    "forbidden",
    "bad_request",
    "not_allowed",
    "see_other",
]

ME_PATH = "/.etalage/me"

_CSS = (files("etalage.control") / "templates" / "me.css").read_text("utf-8").strip()
_CSS_HASH = base64.b64encode(hashlib.sha256(_CSS.encode("utf-8")).digest()).decode("ascii")
CONTENT_SECURITY_POLICY = f"default-src 'none'; style-src 'sha256-{_CSS_HASH}'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
_SECURITY_HEADERS = {
    "cache-control": "private, no-store",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-frame-options": "DENY",
    "vary": "Cookie",
}

_TEMPLATES = Environment(
    loader=PackageLoader("etalage.control", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
# The style sheet is ours, not a value: it goes in as it is, so its hash stays the one the CSP names.
_TEMPLATES.globals.update(me_path=ME_PATH, style=Markup(_CSS))


def response(
    body: bytes,
    status: int = 200,
    media_type: str = "text/html; charset=utf-8",
    headers: Mapping[str, str] | None = None,
    set_cookie: bytes | None = None,
) -> Response:
    """Any response of the visitor's page (HTML or JSON): private, never framed, under the strict CSP."""
    response = Response(body, status_code=status, headers={**_SECURITY_HEADERS, **(headers or {})}, media_type=media_type)
    if set_cookie is not None:
        response.raw_headers.append((b"set-cookie", set_cookie))
    return response


def html(template: str, status: int = 200, set_cookie: bytes | None = None, **context: object) -> Response:
    return response(_TEMPLATES.get_template(template).render(context).encode(), status, set_cookie=set_cookie)


def message(status: int, title: str, text: str, back: bool = True) -> Response:
    return html("message.html", status, title=title, text=text, back=back)


def unavailable() -> Response:
    return message(
        503,
        "Please try again in a moment",
        "Your page cannot be shown right now because the shop's profile storage is not answering. Nothing was changed.",
        back=False,
    )


def forbidden(text: str) -> Response:
    return message(403, "Not allowed", text)


def bad_request(text: str) -> Response:
    return message(400, "Something is not quite right", text)


def not_allowed(allow: str) -> Response:
    response = message(405, "Not allowed", "This address does not accept that kind of request.")
    response.headers["allow"] = allow
    return response


def see_other(location: str) -> Response:
    return response(b"", 303, headers={"location": location})
