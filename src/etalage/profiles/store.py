"""Where profiles live: one interface, implementations chosen by configuration.

The embedded store (etalage.profiles.memory) is the default; Redis (etalage.profiles.redis) is
shared by several processes. Every implementation raises StoreError (and only that) so the proxy
can fail open on any store problem.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Sequence
from typing import ClassVar

from etalage.profiles.profile import Event, Profile

__all__ = ["ProfileStore", "StoreError"]


class StoreError(Exception):
    """The store could not answer; the page is served unpersonalized."""


class ProfileStore(abc.ABC):
    """Profiles of anonymous visitors (by visitor id) and of known customers (by customer id).

    Once a visitor id is linked to a customer, load/record/erase for that visitor id act on the
    customer's profile, so every device a customer logs in on shares one profile.
    """

    # True when load() and erased() never wait (no I/O, no await): a page view then awaits them without
    # the store's time budget, which could not cut them short anyway and costs a task and a timer per view.
    answers_at_once: ClassVar[bool] = False

    @abc.abstractmethod
    async def load(self, visitor_id: str) -> Profile | None:
        """The profile of this visitor (the customer's when linked), or None if there is none."""

    @abc.abstractmethod
    async def record(self, visitor_id: str, events: Sequence[Event]) -> None:
        """Apply `events` to the visitor's profile (creating it), atomically with respect to other writers."""

    @abc.abstractmethod
    async def link(self, visitor_id: str, customer_id: str, *, renew_to: str | None = None) -> str:
        """Tie the visitor to a customer: the visitor's own profile merges into the customer's and is
        removed. Idempotent: linking again, or concurrently, merges nothing twice.

        With `renew_to` (a fresh visitor id), a login: unless `visitor_id` is linked to this customer
        already, `renew_to` is linked to the customer instead and `visitor_id` is left linked to
        nothing, its anonymous profile merged and gone, in one step. Whoever else holds the old id
        (one planted in the visitor's browser, say) gets nothing of the customer's. Returns the id
        linked to the customer now: `visitor_id`, or `renew_to` when it was renewed.
        """

    @abc.abstractmethod
    async def unlink(self, visitor_id: str) -> bool:
        """A logout: the visitor id is linked to nothing from here on; whether it was linked.

        The customer's profile stays whole for their other devices; only this id stops reaching it,
        so whoever uses the browser next (a shared computer) gets nothing of the customer's.
        """

    @abc.abstractmethod
    async def load_customer(self, customer_id: str) -> Profile | None: ...

    @abc.abstractmethod
    async def record_customer(self, customer_id: str, events: Sequence[Event]) -> None:
        """Apply events to a customer's profile directly (CRM imports, server-to-server calls)."""

    @abc.abstractmethod
    async def erase(self, visitor_id: str, *, remember: bool = False) -> None:
        """Forget the person behind this visitor id: their profile (the customer's when linked) and the link.

        With `remember` ("forget me"), the id is kept as erased for the retention period (see
        erased()), and nothing else of it; a withdrawal of consent leaves nothing at all."""

    @abc.abstractmethod
    async def withdraw(self, visitor_id: str, refusal: Event, *, erase_customer: bool) -> None:
        """Consent withdrawn in the browser holding this id. An anonymous id is erased, as erase() does.

        A linked id is unlinked, and the customer's profile keeps `refusal` (a "consent" event that
        refuses): every other device linked to the customer loads it and, seeing the refusal, neither
        personalizes nor writes until consent is given again (a login with consent, which records a
        grant). With `erase_customer` (the shop's policy) the profile's data goes too and only the
        refusal stays; the other devices' links stay, so none of them starts the customer afresh."""

    @abc.abstractmethod
    async def customer_devices(self, customer_id: str) -> list[str]:
        """The visitor ids linked to this customer now, sorted (an access request's "devices")."""

    @abc.abstractmethod
    async def erase_customer(self, customer_id: str) -> bool:
        """Erase everything about a customer (GDPR Art. 17): every link from a visitor id to them, then
        their profile; whether there was anything. Links go first, so a linked device writing meanwhile
        cannot recreate the profile: once unlinked, its id is anonymous and gets a fresh profile of
        its own. No "erased" marker is kept: nothing about the customer stays behind."""

    @abc.abstractmethod
    async def erased(self, visitor_id: str) -> bool:
        """Whether this visitor id was erased: a browser may still send its cookie after "forget me"
        (another tab, a copy of the cookie), and that must start a new profile under a new id, not
        bring back one under the id the visitor asked to be forgotten."""

    def backlog(self) -> tuple[int, int]:
        """(events queued for writing now, events dropped since start because the queue was full), for
        metrics; a store that writes at once has neither."""
        return 0, 0

    @abc.abstractmethod
    async def ping(self) -> None:
        """Return when the store can answer now, raise StoreError when it cannot (readiness probes).

        Bounded in time: a store behind a network answers or fails within its own timeouts."""

    @abc.abstractmethod
    def every_profile(self) -> AsyncIterator[Profile]:
        """Each stored profile once (a linked visitor's is the customer's), for reports that add up
        what profiles hold (etalage report); one that cannot be read is logged and left out."""

    @abc.abstractmethod
    async def customer_page(self, cursor: str, count: int) -> tuple[list[Profile], str]:
        """About `count` customers' profiles from where `cursor` left off ("" to begin), and the cursor
        of the next page ("" after the last), for exports of segment members.

        Paging from "" to "" yields every customer profile kept all along at least once: one written or
        erased meanwhile may come or not, and on Redis one may come twice (SCAN, while Redis resizes
        its key table). A page may hold fewer than `count`, even none, before the last. The cursor is
        text this store made (ValueError for any other); it stays valid across restarts and processes.
        A profile that cannot be read is logged and left out."""

    async def flush(self) -> None:
        """Write what is queued now (stores that batch writes); the next read anywhere sees it."""

    async def aclose(self) -> None:
        """Flush pending writes and release connections."""
