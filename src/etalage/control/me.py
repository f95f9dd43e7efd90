"""The visitor's own page at /.etalage/me: what the shop knows about them, why, and their controls.

Served by Etalage itself, never forwarded. The visitor is identified by the signed visitor cookie
alone, and only while they consent: consent is read again on every request, and without it the
profile is not even loaded (a visitor id cookie that still arrives means consent was withdrawn, so,
as in the proxy, the profile is erased and the cookie expired). Nothing here creates a profile for
a visitor who has none and no consent or no valid cookie.

Routes (all under the reserved prefix):

    GET  /.etalage/me                  the page (HTML); ?download=1 gives the JSON attachment
    GET  /.etalage/me.json             the same, machine-readable; ?download=1 as an attachment
    GET  /.etalage/me/export           the JSON attachment (etalage-profile.json)
    POST /.etalage/me/interests        category, action=add|remove
    POST /.etalage/me/exclusions       category, action=add|remove
    POST /.etalage/me/newsletters      category, action=remove (forget a learned subscription)
    GET  /.etalage/me/not-for-me       ?rule=&category=&return_to=: a confirmation with a form, so a
                                       plain link in a personalized block needs no token
    POST /.etalage/me/not-for-me       rule, category, return_to, action=add|undo
    POST /.etalage/me/forget           erase the profile and the link, expire the cookie

Cross-site requests: the cookie is SameSite=Lax, every POST carries a CSRF token (the visitor id
signed with a timestamp, see CsrfSigner; it expires after a few hours), an Origin or Referer header
that names another origin is refused, and so is `Sec-Fetch-Site: cross-site|same-site`. POSTs
answer 303 back to the page (or to a same-site `return_to`).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from etalage.consent import Consent, read_consent
from etalage.http.cookies import parse_cookie_header, visitor_cookie
from etalage.profiles.profile import Event, Profile
from etalage.profiles.store import ProfileStore, StoreError
from etalage.rules.conditions import ALWAYS, Visit
from etalage.rules.ruleset import RuleSet
from etalage.settings import Settings
from etalage.tokens import CsrfSigner, VisitorSigner

__all__ = ["me_routes", "ME_PATH", "FORM_LIMIT"]

log = logging.getLogger("etalage.me")

ME_PATH = "/.etalage/me"
# The page's forms are a handful of short fields; anything larger is not one of them.
FORM_LIMIT = 4096
# The page is not on the shop's hot path: a slower store gets more time than a page view's budget.
STORE_TIMEOUT = 5.0
EXPORT_FILENAME = "etalage-profile.json"

T = TypeVar("T")


# --- response helpers ----------------------------------------------------------------------------

_CSS = """
:root { color-scheme: light; --ink: #1f2a24; --muted: #5b6660; --line: #d9dfdb; --accent: #2f6b4f; --soft: #eef4f0; --warn: #a33a2b; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: #fafbfa; }
main { max-width: 46rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.6rem; margin: .5rem 0 .25rem; }
h2 { font-size: 1.2rem; margin: 0 0 .5rem; }
section { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 1rem; margin: 1rem 0; }
p { margin: .4rem 0; }
.muted, small { color: var(--muted); }
.notice { background: var(--soft); border-color: var(--accent); }
ul { padding-left: 1.2rem; margin: .3rem 0; }
li { margin: .2rem 0; }
table { width: 100%; border-collapse: collapse; }
th, td { text-align: left; padding: .45rem .3rem; border-top: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem; margin: 0; }
dt { color: var(--muted); }
dd { margin: 0; }
form { display: inline; margin: 0; }
.controls { display: flex; flex-wrap: wrap; gap: .4rem; }
button, .button { font: inherit; font-size: .9rem; padding: .35rem .7rem; border-radius: 7px; border: 1px solid var(--accent); background: #fff; color: var(--accent); cursor: pointer; text-decoration: none; display: inline-block; }
button.primary, .button.primary { background: var(--accent); color: #fff; }
button.danger { border-color: var(--warn); background: var(--warn); color: #fff; }
.tag { display: inline-block; padding: 0 .45rem; border-radius: 999px; font-size: .85rem; background: var(--soft); }
.tag.strong { background: var(--accent); color: #fff; }
.tag.excluded { background: #f6e3e0; color: var(--warn); }
details { margin-top: .4rem; }
summary { cursor: pointer; color: var(--muted); }
code { font-size: .9em; word-break: break-all; }
@media (max-width: 32rem) {
  table, tbody, tr, td { display: block; width: 100%; }
  thead { display: none; }
  tr { border-top: 1px solid var(--line); padding: .4rem 0; }
  td { border: 0; padding: .15rem 0; }
}
""".strip()

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


def _response(
    body: bytes,
    status: int = 200,
    media_type: str = "text/html; charset=utf-8",
    headers: Mapping[str, str] | None = None,
    set_cookie: bytes | None = None,
) -> Response:
    response = Response(body, status_code=status, headers={**_SECURITY_HEADERS, **(headers or {})}, media_type=media_type)
    if set_cookie is not None:
        response.raw_headers.append((b"set-cookie", set_cookie))
    return response


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _document(title: str, body: str) -> bytes:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex, nofollow">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head>"
        f"<body><main>{body}</main></body></html>\n"
    ).encode()


def _message_page(status: int, title: str, text: str, back: bool = True) -> Response:
    link = f'<p><a class="button" href="{ME_PATH}">Back to your page</a></p>' if back else ""
    return _response(_document(title, f"<h1>{_e(title)}</h1><section><p>{_e(text)}</p>{link}</section>"), status)


def _unavailable() -> Response:
    return _message_page(
        503,
        "Please try again in a moment",
        "Your page cannot be shown right now because the shop's profile storage is not answering. Nothing was changed.",
        back=False,
    )


class _Refused(Exception):
    """A request this page will not act on; the response to send instead."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


# --- plain words -----------------------------------------------------------------------------------

_LIFECYCLE_WORDS = {
    "prospect": "Looking around: no orders yet",
    "customer": "Customer: one order so far",
    "repeat_customer": "Regular customer: more than one order",
}

_DONE = {
    "interest-added": "Added to your interests.",
    "interest-removed": "Removed from your interests.",
    "exclusion-added": "That category will not be shown to you any more.",
    "exclusion-removed": "That category can be suggested to you again.",
    "dismissed": "That suggestion will not be shown to you again.",
    "undismissed": "That suggestion can be shown to you again.",
    "newsletter-forgotten": "Forgotten. This does not unsubscribe you from the shop's mailings: use the link in its e-mails for that.",
}


def _date(ts: float) -> str:
    if not ts:
        return "never"
    moment = datetime.fromtimestamp(ts, UTC)
    return f"{moment.day} {moment:%B %Y}"


def _strength(profile: Profile, category: str, now: float, half_life: float) -> tuple[str, str]:
    """(plain word, css class) for the visitor's interest in a category."""
    if category in profile.exclusions:
        return "excluded by you", "excluded"
    if category in profile.interests:
        return "strong (chosen by you)", "strong"
    views = profile.category_views.get(category, 0)
    if not views:
        return "none", ""
    score = profile.affinity(category, now, half_life)
    # More than one half-life since the last view: what is left of the interest has faded.
    if score < views * 0.5:
        return "faded", ""
    return ("strong", "strong") if score >= 5 else ("some", "")


def _capitalized(text: str) -> str:
    return text[:1].upper() + text[1:]


def _times(count: int) -> str:
    return "once" if count == 1 else "twice" if count == 2 else f"{count} times"


# --- the request's visitor ---------------------------------------------------------------------------


@dataclass(slots=True)
class _Visitor:
    ruleset: RuleSet
    consent: Consent
    # The id inside a correctly signed cookie; None without one (or with a forged one).
    visitor_id: str | None
    cookie_sent: bool
    secure: bool
    public_origin: str


def _default_port(scheme: str) -> str:
    return ":443" if scheme == "https" else ":80"


def _normalized_origin(scheme: str, netloc: str) -> str:
    scheme, netloc = scheme.lower(), netloc.lower()
    if netloc.endswith(_default_port(scheme)):
        netloc = netloc[: -len(_default_port(scheme))]
    return f"{scheme}://{netloc}"


def _safe_return_path(value: str | None) -> str | None:
    """A same-site path to go back to, or None: starts with one "/", no scheme, host, backslash or control characters."""
    if not value or len(value) > 2048 or not value.startswith("/") or value.startswith("//"):
        return None
    if "\\" in value or any(ord(ch) <= 0x20 or ord(ch) >= 0x7F for ch in value):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return None
    return value


class _MePage:
    def __init__(self, store: ProfileStore, signer: VisitorSigner, rules: Callable[[], RuleSet], settings: Settings) -> None:
        self.store = store
        self.signer = signer
        self.rules = rules
        self.settings = settings
        self.csrf = CsrfSigner(settings.secret)

    # -- who is asking ------------------------------------------------------------------------------

    def _public_origin(self, request: Request) -> tuple[str, str]:
        """Scheme and host the browser used; X-Forwarded-Proto/Host count only from trusted proxies (as in the proxy)."""
        scheme = request.url.scheme
        host = request.headers.get("host", "")
        client = request.client
        if client and client.host in self.settings.trusted_proxies:
            proto = request.headers.get("x-forwarded-proto")
            if proto:
                scheme = proto.split(",")[0].strip().lower()
            forwarded_host = request.headers.get("x-forwarded-host")
            if forwarded_host:
                host = forwarded_host.split(",")[0].strip()
        return scheme, host

    def _visitor(self, request: Request) -> _Visitor:
        ruleset = self.rules()
        jar = parse_cookie_header(request.headers.get("cookie", ""))
        consent = read_consent(ruleset.consent, jar, request.headers.get("sec-gpc"))
        values = jar.get(self.settings.cookie_name)
        verified = self.signer.verify(values[0]) if values and len(values) == 1 else None
        scheme, host = self._public_origin(request)
        return _Visitor(
            ruleset,
            consent,
            verified.visitor_id if verified is not None else None,
            bool(values),
            scheme == "https",
            _normalized_origin(scheme, host),
        )

    def _cookie(self, value: str, max_age: int, secure: bool) -> bytes:
        return visitor_cookie(self.settings.cookie_name, value, max_age, secure)

    async def _timed(self, work: Awaitable[T]) -> T:
        try:
            return await asyncio.wait_for(work, STORE_TIMEOUT)
        except TimeoutError:
            raise StoreError(f"profile store slower than {STORE_TIMEOUT:.0f} s") from None

    async def _withdrawn(self, visitor: _Visitor) -> bytes | None:
        """Without consent: erase what a still-valid id points at (withdrawal), expire any id cookie."""
        if visitor.visitor_id is not None:
            await self._timed(self.store.erase(visitor.visitor_id))
        return self._cookie("", 0, visitor.secure) if visitor.cookie_sent else None

    async def _load(self, visitor: _Visitor) -> tuple[Profile | None, bytes | None]:
        """The stored profile (None if there is none or it may not be read) and a Set-Cookie value."""
        if not visitor.consent.granted:
            return None, await self._withdrawn(visitor)
        if visitor.visitor_id is None:
            return None, None
        return await self._timed(self.store.load(visitor.visitor_id)), None

    # -- reading ------------------------------------------------------------------------------------

    def _why(self, ruleset: RuleSet, profile: Profile, now: float) -> list[tuple[str, str]]:
        """Why each rule personalizes for this visitor: only rules whose conditions hold for them
        (seen as a plain visit of the home page), in the action's words or else the conditions'."""
        visit = Visit(profile, ruleset.site, ruleset.catalog, "/", {}, None, "", now, profile.previous_visit or None)
        reasons = []
        # As on a page: the first rule (highest priority) with something to show takes its block.
        claimed: set[str] = set()
        for rule in ruleset.rules:
            target = rule.block or rule.action.kind
            if target in claimed:
                continue
            try:
                if rule.when is not ALWAYS and not rule.when.test(visit):
                    continue
                text = rule.action.why(rule.id, profile, ruleset.site, now)
                if text is None and rule.when is not ALWAYS:
                    text = f"shows you a message because: {rule.when.describe()}"
            except Exception:
                log.exception("rule %s: explaining it to the visitor failed", rule.id)
                continue
            if text:
                reasons.append((rule.id, text))
                claimed.add(target)
        return reasons

    def _data(self, visitor: _Visitor, profile: Profile | None, now: float) -> dict[str, Any]:
        data: dict[str, Any] = {
            "consent": {"granted": visitor.consent.granted, "reason": visitor.consent.reason},
            "stored": profile is not None,
            "profile": None,
            "lifecycle": None,
            "linked_to_customer_account": False,
            "why": [],
        }
        if profile is not None:
            data["profile"] = profile.to_dict()
            data["lifecycle"] = profile.lifecycle
            data["linked_to_customer_account"] = profile.customer_id is not None
            data["why"] = [{"rule": rule_id, "text": text} for rule_id, text in self._why(visitor.ruleset, profile, now)]
        else:
            data["message"] = (
                "Nothing is stored about you: the shop has no consent to personalize for you."
                if not visitor.consent.granted
                else "Nothing is stored about you yet."
            )
        return data

    async def page(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return _not_allowed("GET, HEAD")
        if request.query_params.get("download") == "1":
            return await self.export(request)
        visitor = self._visitor(request)
        try:
            profile, set_cookie = await self._load(visitor)
        except StoreError as exc:
            log.warning("visitor page: profile store failed: %s", exc)
            return _unavailable()
        now = time.time()
        done = _DONE.get(request.query_params.get("done", ""))
        if profile is None:
            erased = request.query_params.get("done") == "forgotten"
            return _response(_empty_page(visitor, erased), set_cookie=set_cookie)
        assert visitor.visitor_id is not None
        body = _profile_page(visitor, profile, self._why(visitor.ruleset, profile, now), self.csrf.token(visitor.visitor_id), now, done)
        return _response(body)

    async def json(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return _not_allowed("GET, HEAD")
        return await self._json(request, download=request.query_params.get("download") == "1")

    async def export(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return _not_allowed("GET, HEAD")
        return await self._json(request, download=True)

    async def _json(self, request: Request, download: bool) -> Response:
        visitor = self._visitor(request)
        try:
            profile, set_cookie = await self._load(visitor)
        except StoreError as exc:
            log.warning("visitor page: profile store failed: %s", exc)
            body = orjson.dumps({"error": "The profile storage is not answering; please try again in a moment."})
            return _response(body, 503, "application/json")
        body = orjson.dumps(self._data(visitor, profile, time.time()), option=orjson.OPT_INDENT_2 if download else 0)
        headers = {"content-disposition": f'attachment; filename="{EXPORT_FILENAME}"'} if download else None
        return _response(body, 200, "application/json", headers, set_cookie)

    # -- changing -----------------------------------------------------------------------------------

    def _check_origin(self, request: Request, visitor: _Visitor) -> None:
        """Refuse a request a browser says came from another site (when it says anything at all)."""
        fetch_site = request.headers.get("sec-fetch-site", "").lower()
        if fetch_site in ("cross-site", "same-site"):
            raise _Refused(_forbidden("This request came from another site."))
        origin = request.headers.get("origin")
        if origin is not None:
            parts = _split(origin)
            if parts is None or _normalized_origin(parts.scheme, parts.netloc) != visitor.public_origin:
                raise _Refused(_forbidden("This request came from another site."))
            return
        referer = request.headers.get("referer")
        if referer:
            parts = _split(referer)
            if parts is None or _normalized_origin(parts.scheme, parts.netloc) != visitor.public_origin:
                raise _Refused(_forbidden("This request came from another site."))

    async def _form(self, request: Request) -> dict[str, str]:
        content_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        if content_type not in ("", "application/x-www-form-urlencoded"):
            raise _Refused(_message_page(415, "Unsupported form", "Please send the form from your page."))
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > FORM_LIMIT):
            raise _Refused(_message_page(413, "Too large", "That form is far too large."))
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > FORM_LIMIT:
                raise _Refused(_message_page(413, "Too large", "That form is far too large."))
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=16)
        except (UnicodeDecodeError, ValueError):
            raise _Refused(_bad_request("That form could not be read.")) from None
        form: dict[str, str] = {}
        for name, value in pairs:
            # A field sent twice with different values is not a clear request.
            if form.setdefault(name, value) != value:
                raise _Refused(_bad_request(f"The field {name!r} was sent twice."))
        return form

    async def _authorized(self, request: Request) -> tuple[_Visitor, dict[str, str]]:
        """The consenting, cookie-identified visitor behind a same-origin POST with a valid token, and its form."""
        visitor = self._visitor(request)
        self._check_origin(request, visitor)
        form = await self._form(request)
        if not visitor.consent.granted or visitor.visitor_id is None:
            raise _Refused(
                _message_page(
                    403, "Nothing is stored about you", "The shop has no consent to keep a profile for you, so there is nothing to change."
                )
            )
        if not self.csrf.check(visitor.visitor_id, form.get("csrf", "")):
            raise _Refused(_forbidden("This form has expired or did not come from your page. Please open your page again and retry."))
        return visitor, form

    async def _change(self, request: Request, act: Callable[[_Visitor, dict[str, str]], Awaitable[Response]]) -> Response:
        if request.method != "POST":
            return _not_allowed("POST")
        try:
            visitor, form = await self._authorized(request)
            return await act(visitor, form)
        except _Refused as refused:
            return refused.response
        except StoreError as exc:
            log.warning("visitor page: profile store failed: %s", exc)
            return _unavailable()

    async def _record(self, visitor: _Visitor, events: Sequence[Event]) -> None:
        assert visitor.visitor_id is not None
        await self._timed(self.store.record(visitor.visitor_id, events))
        # The page reloads after this POST, maybe on another worker: the correction must be written by then.
        await self._timed(self.store.flush())

    @staticmethod
    def _category(visitor: _Visitor, form: Mapping[str, str]) -> str:
        category = form.get("category", "")
        if category not in visitor.ruleset.site.labels:
            raise _Refused(_bad_request("That is not one of the shop's categories."))
        return category

    @staticmethod
    def _add_or_remove(form: Mapping[str, str], allowed: tuple[str, ...] = ("add", "remove")) -> str:
        action = form.get("action", "add")
        if action not in allowed:
            raise _Refused(_bad_request("That is not something this form can do."))
        return action

    async def interests(self, request: Request) -> Response:
        async def act(visitor: _Visitor, form: dict[str, str]) -> Response:
            category, action = self._category(visitor, form), self._add_or_remove(form)
            await self._record(visitor, [Event("interest" if action == "add" else "interest_removed", category, time.time())])
            return _see_other(f"{ME_PATH}?done=interest-{'added' if action == 'add' else 'removed'}")

        return await self._change(request, act)

    async def exclusions(self, request: Request) -> Response:
        async def act(visitor: _Visitor, form: dict[str, str]) -> Response:
            category, action = self._category(visitor, form), self._add_or_remove(form)
            await self._record(visitor, [Event("exclusion" if action == "add" else "exclusion_removed", category, time.time())])
            return _see_other(f"{ME_PATH}?done=exclusion-{'added' if action == 'add' else 'removed'}")

        return await self._change(request, act)

    async def newsletters(self, request: Request) -> Response:
        async def act(visitor: _Visitor, form: dict[str, str]) -> Response:
            category = self._category(visitor, form)
            self._add_or_remove(form, ("remove",))
            await self._record(visitor, [Event("newsletter_unsubscribe", category, time.time())])
            return _see_other(f"{ME_PATH}?done=newsletter-forgotten")

        return await self._change(request, act)

    @staticmethod
    def _rule(visitor: _Visitor, form: Mapping[str, str]) -> str:
        rule_id = form.get("rule", "")
        if not any(rule.id == rule_id for rule in visitor.ruleset.rules):
            raise _Refused(_bad_request("That is not one of the shop's suggestions."))
        return rule_id

    async def not_for_me(self, request: Request) -> Response:
        if request.method in ("GET", "HEAD"):
            return await self._confirm_not_for_me(request)

        async def act(visitor: _Visitor, form: dict[str, str]) -> Response:
            rule_id, category = self._rule(visitor, form), self._category(visitor, form)
            action = self._add_or_remove(form, ("add", "undo"))
            kind = "dismiss" if action == "add" else "dismiss_removed"
            await self._record(visitor, [Event(kind, f"{rule_id}:{category}", time.time())])
            back = _safe_return_path(form.get("return_to"))
            return _see_other(back or f"{ME_PATH}?done={'dismissed' if action == 'add' else 'undismissed'}")

        return await self._change(request, act)

    async def _confirm_not_for_me(self, request: Request) -> Response:
        """A plain link from a personalized block lands here: one button to confirm (GET never changes anything)."""
        visitor = self._visitor(request)
        query = dict(request.query_params)
        try:
            if not visitor.consent.granted or visitor.visitor_id is None:
                _, set_cookie = await self._load(visitor)
                return _response(_empty_page(visitor, False), set_cookie=set_cookie)
            rule_id, category = self._rule(visitor, query), self._category(visitor, query)
        except _Refused as refused:
            return refused.response
        except StoreError as exc:
            log.warning("visitor page: profile store failed: %s", exc)
            return _unavailable()
        back = _safe_return_path(query.get("return_to"))
        return _response(_not_for_me_page(visitor, rule_id, category, back, self.csrf.token(visitor.visitor_id)))

    async def forget(self, request: Request) -> Response:
        async def act(visitor: _Visitor, form: dict[str, str]) -> Response:
            assert visitor.visitor_id is not None
            await self._timed(self.store.erase(visitor.visitor_id))
            response = _see_other(f"{ME_PATH}?done=forgotten")
            response.raw_headers.append((b"set-cookie", self._cookie("", 0, visitor.secure)))
            return response

        return await self._change(request, act)


def _split(url: str) -> Any:
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return parts


def _see_other(location: str) -> Response:
    return _response(b"", 303, headers={"location": location})


def _forbidden(text: str) -> Response:
    return _message_page(403, "Not allowed", text)


def _bad_request(text: str) -> Response:
    return _message_page(400, "Something is not quite right", text)


def _not_allowed(allow: str) -> Response:
    response = _message_page(405, "Not allowed", "This address does not accept that kind of request.")
    response.headers["allow"] = allow
    return response


# --- pages -----------------------------------------------------------------------------------------


def _consent_details(consent: Consent) -> str:
    return f"<details><summary>Which setting decided this</summary><p><small>{_e(consent.reason)}</small></p></details>"


def _empty_page(visitor: _Visitor, erased: bool) -> bytes:
    parts = ["<h1>What this shop knows about you</h1>"]
    if erased and not visitor.cookie_sent:
        parts.append(
            '<section class="notice" role="status"><h2>Everything is erased</h2>'
            "<p>Your profile and its link to any customer account are gone, and the cookie that recognised this browser is removed.</p>"
            + (
                "<p>You still allow personalization, so as you keep browsing the shop a new profile starts. "
                "To stop that, refuse personalization in the shop's cookie banner.</p>"
                if visitor.consent.granted
                else ""
            )
            + "</section>"
        )
    if not visitor.consent.granted:
        parts.append(
            "<section><h2>Nothing is stored about you</h2>"
            "<p>This shop personalizes only with your consent, and it does not have it. So no profile is kept: "
            "nothing you look at is remembered, and every visitor sees the same shop.</p>"
            "<p>If you would like suggestions that fit what you look at, allow personalization in the shop's "
            "cookie banner (often behind a &ldquo;Cookie settings&rdquo; link at the bottom of its pages). "
            "You can change your mind there at any time.</p>"
            f"{_consent_details(visitor.consent)}</section>"
        )
    else:
        parts.append(
            "<section><h2>Nothing is stored about you yet</h2>"
            "<p>You allow personalization, but the shop has no profile for this browser yet. "
            "As you browse the shop, what it learns will show up here, with controls to change or erase it.</p>"
            "<p>To withdraw your consent, use the shop's cookie banner.</p>"
            f"{_consent_details(visitor.consent)}</section>"
        )
    return _document("What this shop knows about you", "".join(parts))


def _hidden(name: str, value: str) -> str:
    return f'<input type="hidden" name="{_e(name)}" value="{_e(value)}">'


def _button_form(action: str, csrf: str, fields: Mapping[str, str], label: str, css: str = "") -> str:
    inputs = _hidden("csrf", csrf) + "".join(_hidden(name, value) for name, value in fields.items())
    css_attr = f' class="{_e(css)}"' if css else ""
    return f'<form method="post" action="{_e(action)}">{inputs}<button type="submit"{css_attr}>{_e(label)}</button></form>'


def _profile_page(visitor: _Visitor, profile: Profile, why: list[tuple[str, str]], csrf: str, now: float, done: str | None) -> bytes:
    site = visitor.ruleset.site
    labels = site.labels

    def label(category: str) -> str:
        return labels.get(category, category)

    parts = [
        "<h1>What this shop knows about you</h1>",
        '<p class="muted">Only you see this page. It shows everything the shop keeps about this browser, and lets you change or erase it.</p>',
    ]
    if done:
        parts.append(f'<section class="notice" role="status"><p>{_e(done)}</p></section>')

    parts.append(
        "<section><h2>Your consent</h2>"
        "<p>You allow this shop to personalize what it shows you. To withdraw that, use the shop's cookie banner: "
        "everything below is then erased.</p>"
        f"{_consent_details(visitor.consent)}</section>"
    )

    if why:
        items = "".join(f"<li>{_e(_capitalized(text))}. <small>(<code>{_e(rule_id)}</code>)</small></li>" for rule_id, text in why)
        parts.append(f"<section><h2>Why you see what you see</h2><p>Right now the shop:</p><ul>{items}</ul></section>")
    else:
        parts.append("<section><h2>Why you see what you see</h2><p>Nothing in the shop is personalized for you right now.</p></section>")

    rows = []
    for category in site.categories:
        word, css = _strength(profile, category, now, site.half_life)
        views = profile.category_views.get(category, 0)
        seen = f"Viewed {_times(views)}, last on {_date(profile.category_seen.get(category, 0.0))}" if views else "Not viewed yet"
        controls = []
        if category in profile.interests:
            controls.append(_button_form(f"{ME_PATH}/interests", csrf, {"category": category, "action": "remove"}, "Not my interest"))
        elif category not in profile.exclusions:
            controls.append(
                _button_form(f"{ME_PATH}/interests", csrf, {"category": category, "action": "add"}, "I'm interested", "primary")
            )
        if category in profile.exclusions:
            controls.append(_button_form(f"{ME_PATH}/exclusions", csrf, {"category": category, "action": "remove"}, "Show again"))
        else:
            controls.append(_button_form(f"{ME_PATH}/exclusions", csrf, {"category": category, "action": "add"}, "Never show"))
        tag = f'<span class="tag {css}">{_e(word)}</span>' if css else f'<span class="tag">{_e(word)}</span>'
        rows.append(
            f'<tr><th scope="row">{_e(label(category))}</th><td>{tag}</td><td><small>{_e(seen)}</small></td><td><div class="controls">{"".join(controls)}</div></td></tr>'
        )
    unknown = sorted(set(profile.category_views) - set(labels))
    extra = f"<p><small>Also viewed, in categories the shop no longer has: {_e(', '.join(unknown))}.</small></p>" if unknown else ""
    parts.append(
        "<section><h2>Your interests</h2>"
        "<p>What you look at makes a category interesting for you; the interest fades when you stop looking. "
        "Choose interests yourself, or exclude categories you never want suggested.</p>"
        "<table><thead><tr><th>Category</th><th>Interest</th><th>Seen</th><th></th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>{extra}</section>"
    )

    if profile.dismissed:
        rules = {rule.id for rule in visitor.ruleset.rules}
        items = []
        for entry in sorted(profile.dismissed):
            rule_id, _, category = entry.rpartition(":")
            undo = ""
            if rule_id in rules and category in labels:
                undo = " " + _button_form(f"{ME_PATH}/not-for-me", csrf, {"rule": rule_id, "category": category, "action": "undo"}, "Undo")
            items.append(f"<li>{_e(label(category))} <small>(<code>{_e(rule_id)}</code>)</small>{undo}</li>")
        parts.append(f"<section><h2>Suggestions you marked &ldquo;not for me&rdquo;</h2><ul>{''.join(items)}</ul></section>")

    if profile.recent_products:
        items = "".join(f"<li><code>{_e(product)}</code></li>" for product in profile.recent_products)
        parts.append(f'<section><h2>Products you looked at recently</h2><p class="muted">Newest first.</p><ul>{items}</ul></section>')
    else:
        parts.append("<section><h2>Products you looked at recently</h2><p>None.</p></section>")

    if profile.newsletters:
        items = []
        for category in sorted(profile.newsletters):
            forget = (
                _button_form(f"{ME_PATH}/newsletters", csrf, {"category": category, "action": "remove"}, "Forget")
                if category in labels
                else ""
            )
            items.append(f"<li>{_e(label(category))} {forget}</li>")
        parts.append(
            "<section><h2>Newsletters</h2><p>The shop remembers you subscribed to these, so it does not offer them again. "
            f"Forgetting one here does not unsubscribe you.</p><ul>{''.join(items)}</ul></section>"
        )
    else:
        parts.append("<section><h2>Newsletters</h2><p>None.</p></section>")

    if profile.purchases:
        rows = "".join(
            f"<tr><td>{_e(_date(p.at))}</td><td><code>{_e(p.sku)}</code></td><td>{_e(label(p.category))}</td><td>{p.quantity}</td><td><small>{_e(p.order)}</small></td></tr>"
            for p in reversed(profile.purchases)
        )
        parts.append(
            "<section><h2>Purchases</h2><table><thead><tr><th>Date</th><th>Product</th><th>Category</th><th>Quantity</th><th>Order</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></section>"
        )
    else:
        parts.append("<section><h2>Purchases</h2><p>None.</p></section>")

    segments = ", ".join(sorted(profile.segments)) or "none"
    linked = "yes: this profile is shared by the devices you log in on" if profile.customer_id is not None else "no"
    parts.append(
        "<section><h2>About you</h2><dl>"
        f"<dt>Stage</dt><dd>{_e(_LIFECYCLE_WORDS.get(profile.lifecycle, profile.lifecycle))}</dd>"
        f"<dt>Visits</dt><dd>{profile.visits}</dd>"
        f"<dt>First seen</dt><dd>{_e(_date(profile.first_seen))}</dd>"
        f"<dt>Last seen</dt><dd>{_e(_date(profile.last_seen))}</dd>"
        f"<dt>Customer groups</dt><dd>{_e(segments)}</dd>"
        f"<dt>Linked to a customer account</dt><dd>{_e(linked)}</dd>"
        "</dl></section>"
    )

    parts.append(
        "<section><h2>Your data</h2>"
        f'<p><a class="button" href="{ME_PATH}/export" download>Download everything (JSON)</a></p>'
        "<p>Forget me erases your profile now, with its link to any customer account, and removes the cookie "
        "that recognises this browser.</p>"
        f"<p>{_button_form(f'{ME_PATH}/forget', csrf, {}, 'Forget me', 'danger')}</p>"
        "</section>"
    )
    return _document("What this shop knows about you", "".join(parts))


def _not_for_me_page(visitor: _Visitor, rule_id: str, category: str, back: str | None, csrf: str) -> bytes:
    label = visitor.ruleset.site.labels[category]
    fields = {"rule": rule_id, "category": category}
    if back:
        fields["return_to"] = back
    cancel = back or ME_PATH
    body = (
        "<h1>Not for you?</h1>"
        f"<section><p>Stop showing you this {_e(label)} suggestion? The shop will also count {_e(label)} as less interesting for you.</p>"
        f'<div class="controls">{_button_form(f"{ME_PATH}/not-for-me", csrf, fields, "Yes, hide it", "primary")}'
        f'<a class="button" href="{_e(cancel)}">Cancel</a></div>'
        f'<p><small>You can see and undo this on <a href="{ME_PATH}">your page</a>.</small></p></section>'
    )
    return _document("Not for you?", body)


# --- routes ----------------------------------------------------------------------------------------

_ANY_METHOD = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def me_routes(*, store: ProfileStore, signer: VisitorSigner, rules: Callable[[], RuleSet], settings: Settings) -> list[Route]:
    """The visitor's page and its actions; `rules()` gives the current rule set (hot reloads swap it)."""
    page = _MePage(store, signer, rules, settings)
    # Every method reaches the handlers, so even a 405 carries this page's security headers.
    return [
        Route(ME_PATH, page.page, methods=_ANY_METHOD),
        Route(f"{ME_PATH}.json", page.json, methods=_ANY_METHOD),
        Route(f"{ME_PATH}/export", page.export, methods=_ANY_METHOD),
        Route(f"{ME_PATH}/interests", page.interests, methods=_ANY_METHOD),
        Route(f"{ME_PATH}/exclusions", page.exclusions, methods=_ANY_METHOD),
        Route(f"{ME_PATH}/newsletters", page.newsletters, methods=_ANY_METHOD),
        Route(f"{ME_PATH}/not-for-me", page.not_for_me, methods=_ANY_METHOD),
        Route(f"{ME_PATH}/forget", page.forget, methods=_ANY_METHOD),
    ]
