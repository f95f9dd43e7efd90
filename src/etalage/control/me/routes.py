"""The visitor's page's routes and handlers: read the profile to show it, record the visitor's corrections, erase it."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from etalage.control.me import checks, pages, view
from etalage.http.cookies import visitor_cookie
from etalage.profiles.profile import Event, Profile
from etalage.profiles.store import ProfileStore, StoreError
from etalage.rules.ruleset import RuleSet
from etalage.settings import Settings
from etalage.tokens import CsrfSigner, VisitorSigner
from etalage.webhooks.outbox import Outbox

__all__ = ["me_routes"]

log = logging.getLogger("etalage.me")

# The page is not on the shop's hot path: a slower store gets more time than a page view's budget.
STORE_TIMEOUT = 5.0
EXPORT_FILENAME = "etalage-profile.json"

T = TypeVar("T")


class _MePage:
    def __init__(
        self, store: ProfileStore, signer: VisitorSigner, rules: Callable[[], RuleSet], settings: Settings, outbox: Outbox | None
    ) -> None:
        self.store = store
        self.signer = signer
        self.rules = rules
        self.settings = settings
        self.outbox = outbox
        self.csrf = CsrfSigner(settings.secret)

    def _visitor(self, request: Request) -> checks.Visitor:
        return checks.visitor_of(request, self.rules(), self.signer, self.settings)

    def _cookie(self, value: str, max_age: int, secure: bool) -> bytes:
        return visitor_cookie(self.settings.cookie_name, value, max_age, secure)

    async def _timed(self, work: Awaitable[T]) -> T:
        try:
            return await asyncio.wait_for(work, STORE_TIMEOUT)
        except TimeoutError:
            raise StoreError(f"profile store slower than {STORE_TIMEOUT:.0f} s") from None

    async def _withdrawn(self, visitor: checks.Visitor) -> bytes | None:
        """Without consent: erase what a still-valid id points at (withdrawal), expire any id cookie."""
        if visitor.visitor_id is not None:
            refusal = Event("consent", "", time.time(), {"granted": False})
            erase = self.settings.withdrawal_erases_customer
            await self._timed(self.store.withdraw(visitor.visitor_id, refusal, erase_customer=erase))
        return self._cookie("", 0, visitor.secure) if visitor.cookie_sent else None

    async def _load(self, visitor: checks.Visitor) -> tuple[Profile | None, bytes | None]:
        """The stored profile (None if there is none or it may not be read) and a Set-Cookie value."""
        if not visitor.consent.granted:
            return None, await self._withdrawn(visitor)
        if visitor.visitor_id is None:
            return None, None
        profile = await self._timed(self.store.load(visitor.visitor_id))
        if profile is not None and profile.consent is not None and not profile.consent.granted:
            return None, None  # the customer withdrew consent on another device: not read here either
        return profile, None

    @staticmethod
    def _empty_page(visitor: checks.Visitor, erased: bool, set_cookie: bytes | None) -> Response:
        # ?done=forgotten says "erased" only once the cookie is indeed gone, so a crafted link cannot claim it.
        return pages.html("empty.html", set_cookie=set_cookie, consent=visitor.consent, erased=erased and not visitor.cookie_sent)

    # -- reading ------------------------------------------------------------------------------------

    async def page(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return pages.not_allowed("GET, HEAD")
        if request.query_params.get("download") == "1":
            return await self.export(request)
        visitor = self._visitor(request)
        try:
            profile, set_cookie = await self._load(visitor)
        except StoreError as exc:
            log.warning("visitor page: profile store failed: %s", exc)
            return pages.unavailable()
        done = request.query_params.get("done", "")
        if profile is None:
            return self._empty_page(visitor, done == "forgotten", set_cookie)
        assert visitor.visitor_id is not None
        return pages.html(
            "profile.html",
            consent=visitor.consent,
            csrf=self.csrf.token(visitor.visitor_id),
            done=view.DONE.get(done),
            view=view.profile_view(visitor.ruleset, profile, time.time()),
        )

    async def json(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return pages.not_allowed("GET, HEAD")
        return await self._json(request, download=request.query_params.get("download") == "1")

    async def export(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return pages.not_allowed("GET, HEAD")
        return await self._json(request, download=True)

    async def _json(self, request: Request, download: bool) -> Response:
        visitor = self._visitor(request)
        try:
            profile, set_cookie = await self._load(visitor)
        except StoreError as exc:
            log.warning("visitor page: profile store failed: %s", exc)
            body = orjson.dumps({"error": "The profile storage is not answering; please try again in a moment."})
            return pages.response(body, 503, "application/json")
        data = view.export(visitor.ruleset, visitor.consent, profile, time.time())
        body = orjson.dumps(data, option=orjson.OPT_INDENT_2 if download else 0)
        headers = {"content-disposition": f'attachment; filename="{EXPORT_FILENAME}"'} if download else None
        return pages.response(body, 200, "application/json", headers, set_cookie)

    # -- changing -----------------------------------------------------------------------------------

    async def _change(self, request: Request, act: Callable[[checks.Visitor, dict[str, str]], Awaitable[Response]]) -> Response:
        if request.method != "POST":
            return pages.not_allowed("POST")
        try:
            visitor = self._visitor(request)
            form = await checks.authorized(request, visitor, self.csrf)
            return await act(visitor, form)
        except checks.Refused as refused:
            return refused.response
        except StoreError as exc:
            log.warning("visitor page: profile store failed: %s", exc)
            return pages.unavailable()

    async def _record(self, visitor: checks.Visitor, events: Sequence[Event]) -> None:
        assert visitor.visitor_id is not None
        if await self._timed(self.store.erased(visitor.visitor_id)):
            # A form still open in another tab after "forget me": it must not recreate the profile.
            raise checks.Refused(
                pages.message(409, "Your profile is erased", "You asked the shop to forget you, so there is nothing to change.")
            )
        stored = await self._timed(self.store.load(visitor.visitor_id))
        if stored is not None and stored.consent is not None and not stored.consent.granted:
            raise checks.Refused(
                pages.message(409, "Consent withdrawn", "Consent was withdrawn on another of your devices: log in again to give it back.")
            )
        await self._timed(self.store.record(visitor.visitor_id, events))
        # The page reloads after this POST, maybe on another worker: the correction must be written by then.
        await self._timed(self.store.flush())
        if self.outbox is not None and stored is not None:
            # A category chosen here counts as strong interest: its interest moment is now, not never.
            ruleset, now = self.rules(), time.time()
            was = self.outbox.before(ruleset, stored, now)
            stored.apply(events)
            self.outbox.notice(ruleset, was, stored, visitor.visitor_id, None, now)

    async def interests(self, request: Request) -> Response:
        async def act(visitor: checks.Visitor, form: dict[str, str]) -> Response:
            category, action = checks.category(visitor, form), checks.choice(form)
            await self._record(visitor, [Event("interest" if action == "add" else "interest_removed", category, time.time())])
            return pages.see_other(f"{pages.ME_PATH}?done=interest-{'added' if action == 'add' else 'removed'}")

        return await self._change(request, act)

    async def exclusions(self, request: Request) -> Response:
        async def act(visitor: checks.Visitor, form: dict[str, str]) -> Response:
            category, action = checks.category(visitor, form), checks.choice(form)
            await self._record(visitor, [Event("exclusion" if action == "add" else "exclusion_removed", category, time.time())])
            return pages.see_other(f"{pages.ME_PATH}?done=exclusion-{'added' if action == 'add' else 'removed'}")

        return await self._change(request, act)

    async def newsletters(self, request: Request) -> Response:
        async def act(visitor: checks.Visitor, form: dict[str, str]) -> Response:
            category = checks.category(visitor, form)
            checks.choice(form, ("remove",))
            await self._record(visitor, [Event("newsletter_unsubscribe", category, time.time())])
            return pages.see_other(f"{pages.ME_PATH}?done=newsletter-forgotten")

        return await self._change(request, act)

    async def not_for_me(self, request: Request) -> Response:
        if request.method in ("GET", "HEAD"):
            return await self._confirm_not_for_me(request)

        async def act(visitor: checks.Visitor, form: dict[str, str]) -> Response:
            rule_id, category = checks.rule(visitor, form), checks.category(visitor, form)
            action = checks.choice(form, ("add", "undo"))
            kind = "dismiss" if action == "add" else "dismiss_removed"
            await self._record(visitor, [Event(kind, f"{rule_id}:{category}", time.time())])
            back = checks.safe_return_path(form.get("return_to"))
            return pages.see_other(back or f"{pages.ME_PATH}?done={'dismissed' if action == 'add' else 'undismissed'}")

        return await self._change(request, act)

    async def _confirm_not_for_me(self, request: Request) -> Response:
        """A plain link from a personalized block lands here: one button to confirm (GET never changes anything)."""
        visitor = self._visitor(request)
        query = dict(request.query_params)
        try:
            if not visitor.consent.granted or visitor.visitor_id is None:
                _, set_cookie = await self._load(visitor)
                return self._empty_page(visitor, False, set_cookie)
            rule_id, category = checks.rule(visitor, query), checks.category(visitor, query)
        except checks.Refused as refused:
            return refused.response
        except StoreError as exc:
            log.warning("visitor page: profile store failed: %s", exc)
            return pages.unavailable()
        back = checks.safe_return_path(query.get("return_to"))
        fields = {"rule": rule_id, "category": category} | ({"return_to": back} if back else {})
        return pages.html(
            "not_for_me.html",
            label=visitor.ruleset.site.labels[category],
            fields=fields,
            cancel=back or pages.ME_PATH,
            csrf=self.csrf.token(visitor.visitor_id),
        )

    async def forget(self, request: Request) -> Response:
        async def act(visitor: checks.Visitor, form: dict[str, str]) -> Response:
            assert visitor.visitor_id is not None
            if form.get("confirm") != "yes":
                # It cannot be undone: one tap on the page's button asks first, as "not for me" does.
                return pages.html("forget.html", csrf=self.csrf.token(visitor.visitor_id))
            await self._timed(self.store.erase(visitor.visitor_id, remember=True))
            response = pages.see_other(f"{pages.ME_PATH}?done=forgotten")
            response.raw_headers.append((b"set-cookie", self._cookie("", 0, visitor.secure)))
            return response

        return await self._change(request, act)


_ANY_METHOD = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def me_routes(
    *, store: ProfileStore, signer: VisitorSigner, rules: Callable[[], RuleSet], settings: Settings, outbox: Outbox | None = None
) -> list[Route]:
    """The visitor's page and its actions; `rules()` gives the current rule set (hot reloads swap it);
    the visitor's choices reach the triggers through `outbox`."""
    page = _MePage(store, signer, rules, settings, outbox)
    # Every method reaches the handlers, so even a 405 carries this page's security headers.
    return [
        Route(pages.ME_PATH, page.page, methods=_ANY_METHOD),
        Route(f"{pages.ME_PATH}.json", page.json, methods=_ANY_METHOD),
        Route(f"{pages.ME_PATH}/export", page.export, methods=_ANY_METHOD),
        Route(f"{pages.ME_PATH}/interests", page.interests, methods=_ANY_METHOD),
        Route(f"{pages.ME_PATH}/exclusions", page.exclusions, methods=_ANY_METHOD),
        Route(f"{pages.ME_PATH}/newsletters", page.newsletters, methods=_ANY_METHOD),
        Route(f"{pages.ME_PATH}/not-for-me", page.not_for_me, methods=_ANY_METHOD),
        Route(f"{pages.ME_PATH}/forget", page.forget, methods=_ANY_METHOD),
    ]
