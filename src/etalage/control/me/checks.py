"""Who is asking the visitor's page, and the checks a request must pass before the page acts on it.

The visitor is the one a correctly signed id cookie names, with the consent their cookies give. A
change is made only for a POST that no browser header says came from another site (Sec-Fetch-Site,
Origin, Referer), whose form is a small urlencoded one, and that carries the CSRF token made for
this visitor; the values it names must be the shop's own. Each check raises Refused with the
answer to send instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import SplitResult, parse_qsl, urlsplit

from starlette.requests import Request
from starlette.responses import Response

from etalage.consent import Consent, read_consent
from etalage.control.me import pages
from etalage.http.cookies import parse_cookie_header
from etalage.http.forwarding import public_origin
from etalage.rules.ruleset import RuleSet
from etalage.settings import Settings
from etalage.tokens import CsrfSigner, VisitorSigner

__all__ = ["FORM_LIMIT", "Visitor", "Refused", "visitor_of", "authorized", "category", "rule", "choice", "safe_return_path"]

# The page's forms are a handful of short fields; anything larger is not one of them.
FORM_LIMIT = 4096


@dataclass(slots=True)
class Visitor:
    """Who is asking, as this request shows them, under the rule set in force for it."""

    ruleset: RuleSet
    consent: Consent
    # The id inside a correctly signed cookie; None without one (or with a forged one).
    visitor_id: str | None
    cookie_sent: bool
    secure: bool
    public_origin: str


class Refused(Exception):
    """A request this page will not act on; the response to send instead."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def _default_port(scheme: str) -> str:
    return ":443" if scheme == "https" else ":80"


def _normalized_origin(scheme: str, netloc: str) -> str:
    scheme, netloc = scheme.lower(), netloc.lower()
    if netloc.endswith(_default_port(scheme)):
        netloc = netloc[: -len(_default_port(scheme))]
    return f"{scheme}://{netloc}"


def visitor_of(request: Request, ruleset: RuleSet, signer: VisitorSigner, settings: Settings) -> Visitor:
    jar = parse_cookie_header(request.headers.get("cookie", ""))
    # Every Sec-GPC header counts, as the proxy reads them: a second one must not hide the first.
    consent = read_consent(ruleset.consent, jar, ", ".join(request.headers.getlist("sec-gpc")) or None)
    values = jar.get(settings.cookie_name)
    verified = signer.verify(values[0]) if values and len(values) == 1 else None
    client = request.client
    default_host = request.url.netloc.encode("latin-1")
    scheme, raw_host = public_origin(
        request.url.scheme, request.scope["headers"], client.host if client else None, settings.trusted, default_host
    )
    host = raw_host.decode("latin-1")
    return Visitor(
        ruleset,
        consent,
        verified.visitor_id if verified is not None else None,
        bool(values),
        scheme == "https",
        _normalized_origin(scheme, host),
    )


def _split(url: str) -> SplitResult | None:
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return parts


def _check_origin(request: Request, visitor: Visitor) -> None:
    """Refuse a request a browser says came from another site (when it says anything at all)."""
    fetch_site = request.headers.get("sec-fetch-site", "").lower()
    if fetch_site in ("cross-site", "same-site"):
        raise Refused(pages.forbidden("This request came from another site."))
    origin = request.headers.get("origin")
    if origin is not None:
        parts = _split(origin)
        if parts is None or _normalized_origin(parts.scheme, parts.netloc) != visitor.public_origin:
            raise Refused(pages.forbidden("This request came from another site."))
        return
    referer = request.headers.get("referer")
    if referer:
        parts = _split(referer)
        if parts is None or _normalized_origin(parts.scheme, parts.netloc) != visitor.public_origin:
            raise Refused(pages.forbidden("This request came from another site."))


async def _form(request: Request) -> dict[str, str]:
    content_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if content_type not in ("", "application/x-www-form-urlencoded"):
        raise Refused(pages.message(415, "Unsupported form", "Please send the form from your page."))
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > FORM_LIMIT):
        raise Refused(pages.message(413, "Too large", "That form is far too large."))
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > FORM_LIMIT:
            raise Refused(pages.message(413, "Too large", "That form is far too large."))
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=16)
    except (UnicodeDecodeError, ValueError):
        raise Refused(pages.bad_request("That form could not be read.")) from None
    form: dict[str, str] = {}
    for name, value in pairs:
        # A field sent twice with different values is not a clear request.
        if form.setdefault(name, value) != value:
            raise Refused(pages.bad_request(f"The field {name!r} was sent twice."))
    return form


async def authorized(request: Request, visitor: Visitor, csrf: CsrfSigner) -> dict[str, str]:
    """The form of a same-origin POST from a consenting, cookie-identified visitor with a valid token."""
    _check_origin(request, visitor)
    form = await _form(request)
    if not visitor.consent.granted or visitor.visitor_id is None:
        raise Refused(
            pages.message(
                403, "Nothing is stored about you", "The shop has no consent to keep a profile for you, so there is nothing to change."
            )
        )
    if not csrf.check(visitor.visitor_id, form.get("csrf", "")):
        raise Refused(pages.forbidden("This form has expired or did not come from your page. Please open your page again and retry."))
    return form


def category(visitor: Visitor, form: Mapping[str, str]) -> str:
    """The form's category, which must be one of the shop's."""
    value = form.get("category", "")
    if value not in visitor.ruleset.site.labels:
        raise Refused(pages.bad_request("That is not one of the shop's categories."))
    return value


def rule(visitor: Visitor, form: Mapping[str, str]) -> str:
    """The form's rule, which must be one of the shop's suggestions."""
    value = form.get("rule", "")
    if not any(known.id == value for known in visitor.ruleset.rules):
        raise Refused(pages.bad_request("That is not one of the shop's suggestions."))
    return value


def choice(form: Mapping[str, str], allowed: tuple[str, ...] = ("add", "remove")) -> str:
    """The form's action (add unless it says otherwise), which must be one this form can do."""
    action = form.get("action", "add")
    if action not in allowed:
        raise Refused(pages.bad_request("That is not something this form can do."))
    return action


def safe_return_path(value: str | None) -> str | None:
    """A same-site path to go back to, or None: starts with one "/", no scheme, host, backslash or control characters."""
    if not value or len(value) > 2048 or not value.startswith("/") or value.startswith("//"):
        return None
    if "\\" in value or any(ord(ch) <= 0x20 or ord(ch) >= 0x7F for ch in value):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return None
    return value
