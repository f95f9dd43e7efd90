"""The reverse proxy: forward every request, personalize consented HTML page views, fail open.

Decided at response-headers time (as Starlette's GZip middleware holds back the response start):
a response streams through untouched unless it is a 200 text/html answer to a GET from a visitor
who consented, on a path some rule targets; only then is the body buffered and rewritten.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Coroutine
from typing import Any, TypeVar

from cachetools import LRUCache

from etalage.consent import Consent, read_consent
from etalage.engine.convert import conversions, count_conversions, posts_to_goal
from etalage.engine.learn import learn_from_request
from etalage.engine.orders import InvalidData, announced_order
from etalage.engine.personalize import Personalized, Personalizer
from etalage.engine.visit import page_view
from etalage.http import compression
from etalage.http.cookies import PREVIEW_COOKIE, live_value, parse_cookie_header, set_cookie_name, visitor_cookie
from etalage.http.errors import error_page
from etalage.http.forwarding import public_origin
from etalage.http.headers import get_header, header_values, merge_vary, without_hop_by_hop
from etalage.http.requestid import REQUEST_ID_HEADER
from etalage.http.requests import forwardable, refused
from etalage.http.shedding import LoadShedder
from etalage.http.upstream import Upstream, UpstreamError, UpstreamResponse, UpstreamTimeout
from etalage.logs import REQUEST_ID, Throttled
from etalage.metrics import Metrics
from etalage.profiles.profile import Event, Profile
from etalage.profiles.store import ProfileStore, StoreError
from etalage.rules.conditions import Visit
from etalage.rules.model import LoginSource
from etalage.rules.rulebook import RuleBook
from etalage.rules.ruleset import RuleSet
from etalage.settings import Settings
from etalage.tokens import PreviewSigner, VisitorSigner
from etalage.types import CookieJar, RawHeaders, Receive, Scope, Send
from etalage.webhooks.outbox import Outbox

__all__ = ["Proxy"]

log = logging.getLogger("etalage.proxy")
_T = TypeVar("_T")

_FORWARDING = frozenset({b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host", b"forwarded"})
# What shops and the servers in front of them read the client's address or the request's URL from,
# besides X-Forwarded-*: from a client that is not a trusted proxy these are a forgery (a spoofed IP for
# nginx's real_ip_header, a path that old Symfony or IIS set-ups take over the real one), so they stay here.
_CLAIMED_BY_CLIENTS = frozenset(
    {
        b"x-real-ip",
        b"true-client-ip",
        b"x-client-ip",
        b"cf-connecting-ip",
        b"fastly-client-ip",
        b"x-cluster-client-ip",
        b"x-forwarded-port",
        b"x-forwarded-prefix",
        b"x-forwarded-server",
        b"x-original-url",
        b"x-rewrite-url",
    }
)
# Conditional headers would let the origin answer 304 to a page Etalage must rewrite.
_CONDITIONALS = frozenset({b"if-none-match", b"if-modified-since"})
# Headers that describe the origin's bytes and are wrong for a rewritten body.
_STALE_AFTER_REWRITE = frozenset(
    {b"content-length", b"etag", b"last-modified", b"content-md5", b"accept-ranges", b"cache-control", b"expires", b"age"}
)
# What lets a cache reuse a response: replaced for a consenting visitor's pages. The fields that target
# one cache take precedence over Cache-Control there (Cloudflare ignores Cache-Control and Vary when
# Cloudflare-CDN-Cache-Control is set, nginx obeys X-Accel-Expires first), so they go too: CDN-Cache-Control
# and every other RFC 9213 targeted field (`<cdn>-CDN-Cache-Control`), Surrogate-Control, Akamai's and
# Edge-Control, X-Accel-Expires.
_CACHING = frozenset(
    {b"cache-control", b"expires", b"cdn-cache-control", b"surrogate-control", b"akamai-cache-control", b"edge-control", b"x-accel-expires"}
)
_TARGETED_CACHING = b"-cdn-cache-control"


# What a previewing browser sees at the foot of each page a rule targets: that it is a preview, and the way out
# (a preview lasts hours, and looks like the shop). ASCII, so it reads the same in any page's encoding.
_PREVIEW_BANNER = (
    b'<div data-etalage-preview style="position:fixed;left:0;right:0;bottom:0;z-index:2147483647;padding:6px 12px;'
    b'background:#222;color:#fff;font:14px/1.4 sans-serif">Etalage preview: the shop as the previewed visitor sees it. '
    b'<a href="/.etalage/preview/end" style="color:#fff;text-decoration:underline">End the preview</a></div>'
)


class ClientDisconnected(Exception):
    """The client went away while its request body was being forwarded."""


def _page_view(
    ruleset: RuleSet, profile: Profile, path: str, query: bytes, headers: RawHeaders, now: float, visitor_id: str | None = None
) -> Visit:
    """What the rules' conditions see of this request (with a consenting visitor's id: what experiments assign)."""
    referrer = get_header(headers, b"referer")
    accept_language = get_header(headers, b"accept-language")
    return page_view(
        ruleset,
        profile,
        path,
        now,
        query=query.decode("latin-1"),
        referrer=referrer.decode("latin-1") if referrer else None,
        user_agent=(get_header(headers, b"user-agent") or b"").decode("latin-1"),
        accept_language=accept_language.decode("latin-1") if accept_language else None,
        visitor_id=visitor_id,
    )


def _cache_directives(headers: RawHeaders) -> set[bytes]:
    """The names of the Cache-Control directives, lower-case, without their arguments."""
    return {token.partition(b"=")[0].strip().lower() for value in header_values(headers, b"cache-control") for token in value.split(b",")}


def _no_transform(headers: RawHeaders) -> bool:
    return b"no-transform" in _cache_directives(headers)


def _cache_control(headers: RawHeaders, reuse: bytes) -> RawHeaders:
    """`headers` with Cache-Control `private, <reuse>` in place of whatever let a cache reuse them.

    What the origin forbids stays forbidden: its no-store wins over no-cache, its no-transform stays.
    """
    directives: set[bytes] = set()
    kept: RawHeaders = []
    for name, item in headers:  # one pass (this runs twice per personalized view): the directives, and what stays
        lowered = name.lower()
        if lowered == b"cache-control":
            directives.update(token.partition(b"=")[0].strip().lower() for token in item.split(b","))
        if lowered not in _CACHING and not lowered.endswith(_TARGETED_CACHING):
            kept.append((name, item))
    value = b"private, " + (b"no-store" if b"no-store" in directives else reuse)
    if b"no-transform" in directives:
        value += b", no-transform"
    kept.append((b"cache-control", value))
    return merge_vary(kept, b"Cookie")


def _is_html(content_type: bytes | None) -> bool:
    return content_type is not None and content_type.split(b";", 1)[0].strip().lower() == b"text/html"


def _accepts_html(headers: RawHeaders) -> bool:
    """Whether the request's Accept names HTML, as a browser's navigation to a page does (its stylesheets,
    images and scripts ask for other types)."""
    for value in header_values(headers, b"accept"):
        for item in value.split(b","):
            media, *params = item.split(b";")
            if media.strip().lower() not in (b"text/html", b"application/xhtml+xml"):
                continue
            weights = [param.partition(b"=")[2].strip() for param in params if param.partition(b"=")[0].strip().lower() == b"q"]
            try:
                if not weights or float(weights[0]) > 0:
                    return True
            except ValueError:
                continue
    return False


def _holds(if_none_match: list[bytes], etag: bytes | None) -> bool:
    """Whether the browser's If-None-Match names this ETag (the weak comparison RFC 9110 13.1.2 asks for):
    it holds these very bytes of the page already."""
    if etag is None:
        return False
    opaque = etag.strip().removeprefix(b"W/")
    return any(tag.strip().removeprefix(b"W/") == opaque for value in if_none_match for tag in value.split(b","))


def _revalidated_page(request_headers: RawHeaders, response_headers: RawHeaders) -> bool:
    """Whether a 304 answers a browser revalidating a page it stored: a view of that page as much as a 200 is.

    A 304 seldom says its type; then the request's Accept tells a page (HTML) from a stylesheet or an image.
    """
    if not any(get_header(request_headers, name) is not None for name in _CONDITIONALS):
        return False
    content_type = get_header(response_headers, b"content-type")
    return _is_html(content_type) if content_type is not None else _accepts_html(request_headers)


class Proxy:
    def __init__(
        self,
        settings: Settings,
        rules: RuleBook,
        upstream: Upstream,
        store: ProfileStore,
        signer: VisitorSigner,
        metrics: Metrics,
        shedder: LoadShedder,
        previews: PreviewSigner,
        outbox: Outbox | None = None,
    ) -> None:
        self.settings = settings
        # Triggers' moments for the messaging platform; None when no webhook is configured.
        self._outbox = outbox
        self.shedder = shedder
        self._previews = previews
        self.rules = rules
        self._upstream = upstream
        self._store = store
        self._signer = signer
        self._metrics = metrics
        self._store_warnings = Throttled(log)  # while the store is down every page view would write one
        self._personalizer = Personalizer(
            metrics,
            max_elements=settings.max_page_elements,
            max_depth=settings.max_page_depth,
            first_look_timeout=settings.analysis_timeout,
            experiments=settings.experiments,
        )
        self._upstream_host = settings.upstream_origin.split("://", 1)[1].encode()
        self._background: set[asyncio.Task[Any]] = set()
        # Consent is a function of the rule set's policy and the request's cookies: a visitor sends
        # the same Cookie header page after page, so its answer is kept rather than re-parsed.
        self._consents: LRUCache[tuple[str, bytes], Consent] = LRUCache(maxsize=4096)
        self._own_cookies = frozenset({settings.cookie_name.encode("latin-1"), PREVIEW_COOKIE.encode("latin-1")})

    # -- request side -------------------------------------------------------------------------

    def _forward_headers(self, scope: Scope, headers: RawHeaders, scheme: str, host: bytes, strip_conditionals: bool) -> RawHeaders:
        client = scope.get("client")
        peer = client[0] if client else ""
        forwarded_for = peer.encode()
        drop = _FORWARDING | {REQUEST_ID_HEADER} | (_CONDITIONALS if strip_conditionals else frozenset())
        if peer in self.settings.trusted:
            prior = get_header(headers, b"x-forwarded-for")
            forwarded_for = prior + b", " + forwarded_for if prior else forwarded_for
        else:
            drop |= _CLAIMED_BY_CLIENTS
        if not self.settings.preserve_host:
            drop |= {b"host"}
        out = without_hop_by_hop(forwardable(headers), drop)
        if not self.settings.preserve_host:
            out.append((b"host", self._upstream_host))
        out += [(b"x-forwarded-for", forwarded_for), (b"x-forwarded-proto", scheme.encode()), (b"x-forwarded-host", host)]
        request_id = REQUEST_ID.get()
        if request_id is not None:  # the id the request was given (etalage.app), so the shop's logs name it too
            out.append((REQUEST_ID_HEADER, request_id.encode()))
        return out

    def _consent(self, ruleset: RuleSet, headers: RawHeaders) -> tuple[Consent, CookieJar]:
        cookie = get_header(headers, b"cookie") or b""
        # Every Sec-GPC header counts: a second one must not hide the first.
        gpc_values = header_values(headers, b"sec-gpc")
        sec_gpc = b", ".join(gpc_values) if gpc_values else None
        jar = parse_cookie_header(cookie.decode("latin-1"))
        # Keyed by a digest: a visitor sends the same Cookie header page after page, but a key the size of
        # whatever header arrives would let a flood of large distinct cookies fill memory.
        key = (ruleset.version, hashlib.blake2b(cookie + b"\0" + (sec_gpc or b"-"), digest_size=16).digest())
        consent = self._consents.get(key)
        if consent is None:
            consent = self._consents[key] = read_consent(ruleset.consent, jar, sec_gpc.decode("latin-1") if sec_gpc else None)
        return consent, jar

    def _cookie(self, value: str, max_age: int, secure: bool) -> bytes:
        return visitor_cookie(self.settings.cookie_name, value, max_age, secure)

    def _visitor(self, consent: Consent, jar: CookieJar, secure: bool) -> tuple[str | None, bool, bytes | None]:
        """(visitor id, whether it is a returning one, Set-Cookie value) for a response to this visitor.

        Without consent there is no id; an id cookie that still arrives means consent was
        withdrawn: the profile is erased and the cookie expired.
        """
        values = jar.get(self.settings.cookie_name)
        if not consent.granted:
            self._erase_withdrawn(values)
            return None, False, self._cookie("", 0, secure) if values else None
        verified = self._signer.verify(values[0]) if values and len(values) == 1 else None
        if verified is None:
            visitor_id = self._signer.new_id()
            return visitor_id, False, self._cookie(self._signer.sign(visitor_id), self.settings.retention_seconds, secure)
        set_cookie = (
            self._cookie(self._signer.sign(verified.visitor_id), self.settings.retention_seconds, secure) if verified.stale_key else None
        )
        return verified.visitor_id, True, set_cookie

    def _erase_withdrawn(self, values: list[str] | None) -> None:
        """Consent is not given: every id the browser still sends is erased, however many copies arrive."""
        for value in values or ():
            withdrawn = self._signer.verify(value)
            if withdrawn is not None:
                self._in_background(self._withdraw(withdrawn.visitor_id), "erase")

    def _handed_off(self, jar: CookieJar, upstream_headers: RawHeaders) -> str | None:
        """The new visitor id the shop's backend hands this browser after linking it through /.etalage/api/link.

        The backend sets the visitor cookie to the token the API answered; it counts only in a
        response to the browser whose cookie that link renewed (tokens.VisitorSigner.redeem).
        """
        name = self.settings.cookie_name.encode("latin-1")
        tokens = [
            value.partition(b";")[0].partition(b"=")[2].strip().strip(b'"').decode("latin-1")
            for key, value in upstream_headers
            if key.lower() == b"set-cookie" and set_cookie_name(value) == name
        ]
        if not tokens:
            return None  # nearly every response: no signature to check
        values = jar.get(self.settings.cookie_name)
        current = self._signer.verify(values[0]) if values and len(values) == 1 else None
        if current is None:
            return None
        for token in tokens:
            new_id = self._signer.redeem(token, current.visitor_id)
            if new_id is not None:
                return new_id
        return None

    @staticmethod
    def _logged_in(login: LoginSource, headers: RawHeaders, now: float) -> str | None:
        """The customer id the origin's response announces (a header, or a cookie it sets), if any."""
        if login.header:
            value = get_header(headers, login.header.encode())
            if value:
                return value.decode("latin-1").strip() or None
        if login.cookie:
            name = login.cookie.encode()
            for key, value in headers:
                if key.lower() == b"set-cookie" and value.startswith(name + b"="):
                    # An empty or expired cookie is a logout, not a login.
                    return live_value(value, name, now)
        return None

    @staticmethod
    def _login_cookie_replaced(login: LoginSource, jar: CookieJar, headers: RawHeaders, customer: str) -> bool:
        """Whether the customer came from the login cookie and the browser sent that cookie with another value."""
        if not login.cookie or (login.header and get_header(headers, login.header.encode())):
            return False
        return any(sent and sent != customer for sent in jar.get(login.cookie, ()))

    @staticmethod
    def _logged_out(login: LoginSource, path: str, status: int, headers: RawHeaders, now: float) -> bool:
        """Whether the origin's response ends a login: it removes the login cookie (a response that does not
        mention the cookie says nothing), or it answers a request on the shop's logout path."""
        if login.logout_path is not None and status < 400 and login.logout_path.search(path):
            return True
        if login.cookie:
            name = login.cookie.encode()
            return any(
                key.lower() == b"set-cookie" and set_cookie_name(value) == name and live_value(value, name, now) is None
                for key, value in headers
            )
        return False

    async def _logout(self, visitor_id: str) -> bool:
        """Unlink the visitor id from the customer it stood for; whether the browser needs a new id.

        Only an id that was linked is replaced (an anonymous visitor's history stays theirs). When the store
        cannot say, the id is replaced all the same: on a shared computer the next person must not get the
        customer's profile because the store was slow.
        """

        async def unlink() -> bool:
            try:
                return await self._store.unlink(visitor_id)
            except StoreError as exc:
                self._store_warnings.warning("unlink", "profile store unlink failed: %s", exc)
                self._metrics.inc("etalage_fail_open_total", reason="store_unlink_error")
                return True
            except Exception:
                log.exception("profile store unlink failed unexpectedly")
                self._metrics.inc("etalage_fail_open_total", reason="store_unlink_error")
                return True

        done, linked = await self._within_budget(unlink(), "unlinking a logout")
        return linked if done and linked is not None else True

    async def _withdraw(self, visitor_id: str) -> None:
        """Erase what a withdrawn id points at; a customer's profile keeps the refusal for their other devices."""
        refusal = Event("consent", "", time.time(), {"granted": False})
        await self._store.withdraw(visitor_id, refusal, erase_customer=self.settings.withdrawal_erases_customer)

    async def _login(self, visitor_id: str, customer: str, renew: bool) -> str | None:
        """Link the visitor to the customer the origin's response announces; the visitor id to use from here on.

        A returning visitor's id is renewed (unless the store has it linked to this customer already):
        an id someone else planted in this browser before the login must not give them the customer's
        profile. A fresh id issued by this response is linked as it is. None when the store failed:
        the visitor stays who they were.
        """
        fresh = self._signer.new_id() if renew else None

        async def link() -> str | None:
            try:
                return await self._store.link(visitor_id, customer, renew_to=fresh)
            except StoreError as exc:
                self._store_warnings.warning("link", "profile store link failed: %s", exc)
                self._metrics.inc("etalage_fail_open_total", reason="store_link_error")
                return None
            except Exception:
                log.exception("profile store link failed unexpectedly")
                self._metrics.inc("etalage_fail_open_total", reason="store_link_error")
                return None

        done, linked = await self._within_budget(link(), "linking a login")
        if done:
            return linked
        # A login's link renews; should this id have been linked to the customer already (so kept),
        # the fresh one is unlinked and the next response that names the customer links it.
        return fresh or visitor_id

    async def _within_budget(self, work: Coroutine[Any, Any, _T], what: str) -> tuple[bool, _T | None]:
        """Await a store call a response depends on for at most the store budget: (True, its result), or
        (False, None) past the budget, when it goes on in the background (shielded: a link or unlink is
        never left half done by a slow store)."""
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        try:
            return True, await asyncio.wait_for(asyncio.shield(task), self.settings.store_timeout)
        except TimeoutError:
            self._store_warnings.warning(
                what, "profile store slower than %.0f ms %s; it goes on in the background", self.settings.store_timeout * 1000, what
            )
            self._metrics.inc("etalage_fail_open_total", reason="store_timeout")
            return False, None

    async def _load(self, visitor_id: str) -> tuple[Profile | None, bool]:
        """(the visitor's profile, None when the store fails; whether the id was erased).

        Only an id without a profile is asked about: one that was erased gets no profile under it."""
        started = time.perf_counter()
        try:
            profile = await self._in_time(self._store.load(visitor_id))
            self._metrics.observe("etalage_store_load_seconds", time.perf_counter() - started)
            if profile is None and await self._in_time(self._store.erased(visitor_id)):
                return None, True
        except TimeoutError:
            self._store_warnings.warning(
                "load-timeout", "profile store slower than %.0f ms; serving unpersonalized", self.settings.store_timeout * 1000
            )
            self._metrics.inc("etalage_fail_open_total", reason="store_timeout")
            return None, False
        except StoreError as exc:
            self._store_warnings.warning("load", "profile store failed (%s); serving unpersonalized", exc)
            self._metrics.inc("etalage_fail_open_total", reason="store_error")
            return None, False
        except Exception:
            # A store (or its client library) failing in a way it does not translate still costs the
            # visitor only the personalization, never the page.
            log.exception("profile store failed unexpectedly; serving unpersonalized")
            self._metrics.inc("etalage_fail_open_total", reason="store_error")
            return None, False
        return (profile if profile is not None else Profile()), False

    async def _in_time(self, call: Coroutine[Any, Any, _T]) -> _T:
        """A store read within the store's time budget (TimeoutError past it); a store that answers at
        once (in memory) has no budget to keep."""
        if self._store.answers_at_once:
            return await call
        # Shielded as in _within_budget: asyncio.wait_for alone cancels the read at the budget and then waits
        # for it to end, and a client slow to end (a cluster client closing its connections in a failover)
        # would hold the page view that long. Here the read is cancelled and ends in the background.
        task = asyncio.ensure_future(call)
        try:
            return await asyncio.wait_for(asyncio.shield(task), self.settings.store_timeout)
        except (TimeoutError, asyncio.CancelledError):
            task.cancel()
            task.add_done_callback(_retrieved)
            raise

    def _in_background(self, work: Coroutine[Any, Any, None], what: str) -> None:
        """Profile writes leave the response path; a failing one is logged and counted."""

        async def guarded() -> None:
            try:
                await work
            except StoreError as exc:
                self._store_warnings.warning(what, "profile store %s failed: %s", what, exc)
                self._metrics.inc("etalage_fail_open_total", reason=f"store_{what}_error")
            except Exception:
                log.exception("profile store %s failed unexpectedly", what)
                self._metrics.inc("etalage_fail_open_total", reason=f"store_{what}_error")

        task = asyncio.create_task(guarded())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def drain(self) -> None:
        """Wait for pending profile writes (graceful shutdown)."""
        while self._background:
            await asyncio.gather(*self._background)

    def close(self) -> None:
        """Stop the personalizer's analysis thread (shutdown)."""
        self._personalizer.close()

    # -- the exchange -------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await send({"type": "websocket.close", "code": 1003})
            return
        if await refused(scope, send, self.settings):
            return
        method: str = scope["method"]
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        query: bytes = scope["query_string"]
        headers: RawHeaders = scope["headers"]
        path: str = scope["path"]
        ruleset = self.rules.current
        client = scope.get("client")
        scheme, host = public_origin(
            scope.get("scheme", "http"), headers, client[0] if client else None, self.settings.trusted, self._upstream_host
        )
        consent, jar = self._consent(ruleset, headers)
        preview_tokens = jar.get(PREVIEW_COOKIE) if method == "GET" else None
        preview = self._previews.verify(preview_tokens[0]) if preview_tokens else None
        wants_rewrite = method == "GET" and (consent.granted or preview is not None) and bool(ruleset.rules_for(path))
        forward = self._forward_headers(scope, headers, scheme, host, strip_conditionals=wants_rewrite)
        started = time.perf_counter()
        try:
            response = await self._upstream.send(
                method, raw_path + b"?" + query if query else raw_path, forward, self._request_body(headers, receive)
            )
            self._metrics.observe("etalage_upstream_seconds", time.perf_counter() - started)
        except UpstreamError as exc:
            kind = "timeout" if isinstance(exc, UpstreamTimeout) else "unavailable"
            log.warning("%s %s: %s", method, path, exc)
            self._metrics.inc("etalage_upstream_errors_total", kind=kind)
            await self._send_whole(send, *error_page(504 if kind == "timeout" else 502))
            return
        except ClientDisconnected:
            return
        except Exception:
            # Whatever else goes wrong talking to the origin, the client gets a clean 502, never a traceback.
            log.exception("%s %s: forwarding failed", method, path)
            self._metrics.inc("etalage_upstream_errors_total", kind="internal")
            await self._send_whole(send, *error_page(502))
            return
        try:
            if preview is not None:
                visit = _page_view(ruleset, preview, path, query, headers, time.time())
                await self._respond_preview(send, response, ruleset, visit, (scheme, host), wants_rewrite)
            else:
                await self._respond(send, response, ruleset, method, path, query, headers, (scheme, host), consent, jar, wants_rewrite)
        finally:
            await response.aclose()

    async def _respond_preview(
        self, send: Send, response: UpstreamResponse, ruleset: RuleSet, visit: Visit, public: tuple[str, bytes], wants_rewrite: bool
    ) -> None:
        """A previewing browser: personalized for the signed profile; no consent, no store, never cached."""
        headers = self._private(self._response_headers(response.headers, *public, ruleset.signal_headers))
        is_page = (
            response.status == 200 and _is_html(get_header(headers, b"content-type")) and get_header(headers, b"content-range") is None
        )
        if is_page and wants_rewrite:
            await self._send_personalized(send, response, headers, ruleset, visit, banner=_PREVIEW_BANNER)
        else:
            await self._stream(send, response, headers, False)

    async def _respond(
        self,
        send: Send,
        response: UpstreamResponse,
        ruleset: RuleSet,
        method: str,
        path: str,
        query: bytes,
        request_headers: RawHeaders,
        public: tuple[str, bytes],
        consent: Consent,
        jar: CookieJar,
        wants_rewrite: bool,
    ) -> None:
        scheme, host = public
        headers = self._response_headers(response.headers, scheme, host, ruleset.signal_headers)
        content_type = get_header(headers, b"content-type")
        is_page = method == "GET" and response.status == 200 and _is_html(content_type) and get_header(headers, b"content-range") is None
        revalidated = method == "GET" and response.status == 304 and consent.granted and _revalidated_page(request_headers, headers)
        # Every view of a consenting visitor's page teaches the profile and may change what the next one
        # shows: the browser must ask again each time (a revalidation answered 304 is learned from too).
        must_revalidate = consent.granted and (is_page or revalidated)
        if must_revalidate:
            headers = self._revalidated(headers)
        customer = self._logged_in(ruleset.login, response.headers, time.time()) if consent.granted else None
        replaced = customer is not None and self._login_cookie_replaced(ruleset.login, jar, response.headers, customer)
        if replaced:
            # A customer id stays put while its customer is logged in; a session key (Django's sessionid,
            # PHP's PHPSESSID) changes at every login. Linking from it would give every session a profile
            # of its own, so the change is taken for a logout and reported, never linked.
            log.warning(
                "the login cookie %r changed value without a logout: it looks like a session key, not a customer id; "
                "not linked (use a header the shop sets at login, or the link API)",
                ruleset.login.cookie,
            )
            self._metrics.inc("etalage_logins_ignored_total", reason="login_cookie_replaced")
            customer = None
        # A response that logs someone in is not a logout, whatever else it says.
        logout = (
            consent.granted
            and customer is None
            and (replaced or self._logged_out(ruleset.login, path, response.status, response.headers, time.time()))
        )
        handoff = self._handed_off(jar, response.headers)
        now = time.time()
        announced = self._announced(ruleset, response, now) if consent.granted else []
        posted = path if consent.granted and method == "POST" and response.status < 400 and posts_to_goal(ruleset, path) else None
        if (posted or announced) and not (is_page or revalidated):
            # A form goal (add to basket) or an order the shop announced, on a response that is no page view.
            self._learn_off_page(jar, ruleset, posted, announced, now)
        if method == "HEAD" and consent.granted and response.status == 200 and _is_html(content_type):
            # A HEAD must not tell a cache otherwise than the GET of this page would: private, no-store when it
            # would be personalized, else private and revalidated on every view.
            if ruleset.rules_for(path):
                headers = self._private([(name, value) for name, value in headers if name.lower() not in _STALE_AFTER_REWRITE])
            else:
                headers = self._revalidated(headers)
        if not is_page and not revalidated and customer is None and handoff is None and not logout:
            if not consent.granted and method not in ("GET", "HEAD"):
                # Withdrawn before a form post or an API call, maybe the visitor's last request: the profile
                # goes now, not at a next page view that may never come (that view expires the cookie too).
                # Not on every image or script a page loads: each would be a store write.
                self._erase_withdrawn(jar.get(self.settings.cookie_name))
            self._metrics.inc("etalage_requests_total", outcome="passed")
            await self._stream(send, response, headers, method == "HEAD")
            return
        secure = scheme == "https"
        visitor_id, returning, set_cookie = self._visitor(consent, jar, secure)
        profile = None
        logged_in = False  # this response linked the browser to the customer anew: a login with consent
        if handoff is not None and visitor_id is None:
            # Consent was withdrawn since the shop linked this browser: the new id goes the way of the old.
            self._in_background(self._withdraw(handoff), "erase")
        elif handoff is not None:
            # The shop's backend logged this browser in through the API, which renewed its id already.
            visitor_id, returning = handoff, True
            set_cookie = self._cookie(self._signer.sign(handoff), self.settings.retention_seconds, secure)
        elif visitor_id is not None and customer is not None:
            linked = await self._login(visitor_id, customer, renew=returning)
            if linked is not None:
                logged_in = linked != visitor_id or not returning
                if logged_in:
                    # A login with consent gives it back for all the customer's devices, after a withdrawal on one.
                    self._in_background(self._store.record(linked, [_granted(consent, now)]), "record")
                if linked != visitor_id:
                    set_cookie = self._cookie(self._signer.sign(linked), self.settings.retention_seconds, secure)
                # Linked, the id stands for the customer's profile, even when this response issued it.
                visitor_id, returning = linked, True
        elif visitor_id is not None and returning and logout and await self._logout(visitor_id):
            # The browser starts over under a new id linked to nothing: whoever uses it next sees nothing of the customer's.
            visitor_id, returning = self._signer.new_id(), False
            set_cookie = self._cookie(self._signer.sign(visitor_id), self.settings.retention_seconds, secure)
        if visitor_id is not None and (is_page or revalidated):
            profile, erased = await self._load(visitor_id) if returning else (Profile(), False)
            if erased:
                # The cookie of an id its visitor asked to forget (another tab, a copy): a new, empty
                # profile under a new id, so nothing is ever kept under the forgotten one again.
                visitor_id, profile = self._signer.new_id(), Profile()
                set_cookie = self._cookie(self._signer.sign(visitor_id), self.settings.retention_seconds, secure)
            if profile is not None and profile.consent is not None and not profile.consent.granted and not logged_in:
                # The customer withdrew consent on another device: the stricter choice holds here too, until
                # they log in with consent again (that login records the grant below).
                profile = None
            if profile is not None and profile.starts_visit(now) and set_cookie is None:
                # Once per visit the cookie is renewed, so it expires with the profile, not at a fixed date.
                set_cookie = self._cookie(self._signer.sign(visitor_id), self.settings.retention_seconds, secure)
        if set_cookie is not None:
            # Private either way; a page keeps its revalidation (no-cache) rather than become no-store.
            headers = headers + [(b"set-cookie", set_cookie)] if must_revalidate else self._private(headers + [(b"set-cookie", set_cookie)])
        if visitor_id is None or profile is None:
            self._metrics.inc("etalage_requests_total", outcome="passed")
            await self._stream(send, response, headers, method == "HEAD" or revalidated)
            return
        events = [*learn_from_request(ruleset, path, query.decode("latin-1"), now), *announced]
        recorded = profile.consent
        if recorded is None or (recorded.granted, recorded.sources, recorded.purposes) != (True, consent.sources, consent.purposes):
            # Recorded when it changes only, in the view's one write: no extra round trip.
            events.append(_granted(consent, now))
        converted = conversions(ruleset, profile, events, path, now)  # goals of experiments the visitor was exposed to
        count_conversions(self._metrics, converted)
        events = [*converted, *events]  # first: an order's conversion is dropped where the order is known already
        was = self._outbox.before(ruleset, profile, now) if self._outbox is not None else None
        profile.apply(events)
        if self._outbox is not None:
            self._outbox.notice(ruleset, was, profile, visitor_id, path, now)
        if revalidated:
            # The browser shows the page it stored: learned from, nothing to rewrite, no body.
            self._in_background(self._store.record(visitor_id, events), "record")
            self._metrics.inc("etalage_requests_total", outcome="passed")
            await self._stream(send, response, headers, True)
            return
        shed = wants_rewrite and self.shedder.skip()
        if wants_rewrite and not shed:
            fired: tuple[str, ...] = ()
            learned: list[Event] = []  # experiments: assignments, exposures, the holdout draw
            try:
                fired = await self._send_personalized(
                    send,
                    response,
                    headers,
                    ruleset,
                    _page_view(ruleset, profile, path, query, request_headers, now, visitor_id),
                    header_values(request_headers, b"if-none-match"),
                    learned,
                )
            finally:
                # One write per page view: what it taught, and which rules it showed (frequency caps).
                shown = (Event("shown", rule, now) for rule in fired)
                self._in_background(self._store.record(visitor_id, [*events, *shown, *learned]), "record")
            return
        self._in_background(self._store.record(visitor_id, events), "record")
        if shed:
            self._metrics.inc("etalage_shed_total")
        self._metrics.inc("etalage_requests_total", outcome="passed")
        await self._stream(send, response, headers, False)

    def _announced(self, ruleset: RuleSet, response: UpstreamResponse, now: float) -> list[Event]:
        """The order the shop's response announces in its [orders] header, if any (never from an error response)."""
        value = get_header(response.headers, ruleset.order_header.encode()) if ruleset.order_header and response.status < 400 else None
        if not value:
            return []
        try:
            events = announced_order(ruleset, value, now)
        except InvalidData as exc:
            log.warning("the shop's %s header holds no order Etalage can learn: %s", ruleset.order_header, exc)
            self._metrics.inc("etalage_order_headers_total", outcome="invalid")
            return []
        self._metrics.inc("etalage_order_headers_total", outcome="learned")
        return events

    def _learn_off_page(self, jar: CookieJar, ruleset: RuleSet, posted: str | None, announced: list[Event], now: float) -> None:
        """Learn a goal's form post or an announced order into a returning visitor's profile, off the response path.

        Only a profile that exists is written (it exists because its visitor consented), and not while the
        customer's consent is withdrawn on another device."""
        values = jar.get(self.settings.cookie_name)
        verified = self._signer.verify(values[0]) if values and len(values) == 1 else None
        if verified is None:
            return

        async def learn(visitor_id: str) -> None:
            profile = await self._store.load(visitor_id)
            if profile is None or (profile.consent is not None and not profile.consent.granted):
                return
            converted = conversions(ruleset, profile, announced, None, now, posted)
            count_conversions(self._metrics, converted)
            if converted or announced:
                await self._store.record(visitor_id, [*converted, *announced])
                if self._outbox is not None:  # an announced order may be a moment (a first purchase)
                    was = self._outbox.before(ruleset, profile, now)
                    profile.apply([*converted, *announced])
                    self._outbox.notice(ruleset, was, profile, visitor_id, None, now)

        self._in_background(learn(verified.visitor_id), "record")

    @staticmethod
    def _request_body(headers: RawHeaders, receive: Receive) -> AsyncIterator[bytes] | None:
        if get_header(headers, b"content-length") in (None, b"0") and get_header(headers, b"transfer-encoding") is None:
            return None

        async def body() -> AsyncIterator[bytes]:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise ClientDisconnected()
                chunk = message.get("body", b"")
                if chunk:
                    yield chunk
                if not message.get("more_body", False):
                    return

        return body()

    def _response_headers(self, upstream_headers: RawHeaders, scheme: str, host: bytes, signals: frozenset[bytes]) -> RawHeaders:
        """What of the origin's headers goes to the browser. The headers the shop signals Etalage with
        (a customer id, an order) stop here: they are for Etalage, not for the visitor's browser."""
        headers = without_hop_by_hop(upstream_headers)
        origin = self.settings.upstream_origin.encode()
        public = scheme.encode() + b"://" + host
        kept: RawHeaders = []
        for name, value in headers:
            lowered = name.lower()
            if lowered in signals:
                continue
            if lowered == b"location" and (value == origin or value.startswith(origin + b"/")):
                value = public + value[len(origin) :]
            elif lowered == b"set-cookie" and set_cookie_name(value) in self._own_cookies:
                # Only Etalage sets or removes its cookies: a shop page that can be made to set one
                # would plant a visitor id (or a preview) of someone else's choosing.
                self._metrics.inc("etalage_origin_cookies_dropped_total")
                continue
            kept.append((name, value))
        return kept

    @staticmethod
    def _private(headers: RawHeaders) -> RawHeaders:
        """No cache may store this response: it was made for this visitor, and for this view only."""
        return _cache_control(headers, b"no-store")

    @staticmethod
    def _revalidated(headers: RawHeaders) -> RawHeaders:
        """Only the visitor's browser may store this page, and it must ask Etalage before each reuse.

        The page view has to reach Etalage to be learned from; the origin's validators stay, so the
        asking costs a 304 when the page has not changed.
        """
        return _cache_control(headers, b"no-cache")

    async def _stream(
        self,
        send: Send,
        response: UpstreamResponse,
        headers: RawHeaders,
        head: bool,
        prefix: list[bytes] | None = None,
        rest: AsyncIterator[bytes] | None = None,
    ) -> None:
        """Send the response as it comes; after `prefix` (what was buffered already), the body goes on from
        `rest`, the iteration that read it (an upstream body can be iterated once)."""
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        if head:
            await send({"type": "http.response.body", "body": b""})
            return
        for chunk in prefix or ():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        try:
            async for chunk in rest if rest is not None else response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except UpstreamError as exc:
            # The status line is out: the one honest end left is a cut connection (nginx cuts it too), which
            # the server makes of a response left unfinished, so the browser never keeps a truncated body.
            log.warning("the origin broke off in the middle of a body already under way: %s", exc)
            self._metrics.inc("etalage_upstream_errors_total", kind="body")
            return
        await send({"type": "http.response.body", "body": b""})

    async def _send_personalized(
        self,
        send: Send,
        response: UpstreamResponse,
        headers: RawHeaders,
        ruleset: RuleSet,
        visit: Visit,
        if_none_match: list[bytes] | None = None,
        learned: list[Event] | None = None,
        banner: bytes | None = None,
    ) -> tuple[str, ...]:
        """Buffer, rewrite and send the page; the origin's bytes go out when anything stands in the way.
        `banner` goes before the page's `</body>` (a preview's notice), personalized or not.

        The origin was asked without the browser's validators (the page might be rewritten); when it goes
        out unchanged and the browser holds it already (`if_none_match`), a 304 stands for it.
        Returns the rules that changed the page (none when it went out as the origin sent it)."""
        if _no_transform(headers):
            # RFC 9110 7.7: an intermediary must not change the content of such a response.
            self._metrics.inc("etalage_fail_open_total", reason="no_transform")
            self._metrics.inc("etalage_requests_total", outcome="passed")
            await self._stream(send, response, headers, False)
            return ()
        limit = self.settings.max_page_bytes
        chunks: list[bytes] = []
        size = 0
        stream = response.aiter_raw()
        try:
            async for chunk in stream:
                chunks.append(chunk)
                size += len(chunk)
                if size > limit:
                    self._metrics.inc("etalage_fail_open_total", reason="page_too_large")
                    await self._stream(send, response, headers, False, prefix=chunks, rest=stream)
                    return ()
        except UpstreamError as exc:
            # Nothing was sent yet: the visitor gets a clean 502 rather than half a page or a traceback.
            log.warning("%s: the origin failed in the middle of the page: %s", visit.path, exc)
            self._metrics.inc("etalage_upstream_errors_total", kind="body")
            await self._send_whole(send, *error_page(502))
            return ()
        raw = b"".join(chunks)
        encoding = (get_header(headers, b"content-encoding") or b"").decode("latin-1").strip().lower()
        body = compression.decode(raw, encoding, limit) if encoding in compression.SUPPORTED else None
        result = None
        if body is None:
            self._metrics.inc("etalage_fail_open_total", reason="undecodable_body")
        else:
            try:
                content_type = (get_header(headers, b"content-type") or b"").decode("latin-1")
                started = time.perf_counter()
                result = await self._personalizer.personalize_async(ruleset, visit, body, content_type, learned)
                self._metrics.observe("etalage_personalize_seconds", time.perf_counter() - started)
            except Exception:
                log.exception("personalizing %s failed; serving the origin's page", visit.path)
                self._metrics.inc("etalage_fail_open_total", reason="rewrite_error")
            if banner is not None:
                page = result.body if result is not None else body
                at = page.lower().rfind(b"</body")
                at = len(page) if at < 0 else at
                result = Personalized(page[:at] + banner + page[at:], result.fired if result is not None else ())
        if result is None:
            self._metrics.inc("etalage_requests_total", outcome="passed")
            if if_none_match and _holds(if_none_match, get_header(headers, b"etag")):
                # A page Etalage rewrites has no ETag, so the copy the browser holds is this one.
                await self._send_whole(send, 304, [(name, value) for name, value in headers if name.lower() != b"content-length"], b"")
            else:
                await self._send_whole(send, response.status, headers, raw)
            return ()
        out = compression.encode(result.body, encoding)
        rewritten = [(name, value) for name, value in headers if name.lower() not in _STALE_AFTER_REWRITE]
        rewritten.append((b"content-length", str(len(out)).encode()))
        self._metrics.inc("etalage_requests_total", outcome="personalized")
        await self._send_whole(send, response.status, self._private(rewritten), out)
        return result.fired

    @staticmethod
    async def _send_whole(send: Send, status: int, headers: RawHeaders, body: bytes) -> None:
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _retrieved(task: asyncio.Future[Any]) -> None:
    """Take a given-up task's outcome, so that asyncio does not log it as never retrieved."""
    if not task.cancelled():
        task.exception()


def _granted(consent: Consent, now: float) -> Event:
    """The profile's record of the consent this request carries."""
    return Event("consent", "", now, {"granted": True, "sources": list(consent.sources), "purposes": list(consent.purposes)})
