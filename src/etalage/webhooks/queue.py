"""What a delivery queue is: entries in, due entries out, each finished as done, retried or dead.

Every implementation raises QueueError (and only that) for a queue it cannot use, so callers fail
open on it: a moment that cannot be queued is logged and counted, the page is served as ever.
"""

from __future__ import annotations

import abc
from dataclasses import asdict, dataclass, replace
from typing import Any

import orjson

from etalage.engine.moments import Moment

__all__ = ["DeliveryQueue", "Entry", "QueueError"]


class QueueError(Exception):
    """The queue could not be read or written."""


@dataclass(frozen=True, slots=True)
class Entry:
    id: str  # the webhook-id
    trigger: str
    body: str  # the JSON payload, fixed when queued: every attempt signs the same bytes
    customer_id: str | None
    visitor_id: str | None
    consent: tuple[str, ...]
    created: float
    due: float  # not attempted before this time
    attempts: int = 0
    unless_order_since: float | None = None
    last_error: str = ""
    # Where the queue keeps it (a Redis Stream entry id); not part of what is stored.
    ref: str = ""

    @classmethod
    def of(cls, moment: Moment) -> Entry:
        body = orjson.dumps(moment.payload()).decode()
        return cls(
            moment.id,
            moment.trigger,
            body,
            moment.customer_id,
            moment.visitor_id,
            moment.consent,
            moment.at,
            max(moment.due, moment.at),
            unless_order_since=moment.unless_order_since,
        )

    def revived(self, now: float) -> Entry:
        """A dead letter as it goes back into the queue: attempted afresh from `now`."""
        return replace(self, attempts=0, due=now, ref="")

    def failed(self, error: str, due: float) -> Entry:
        return replace(self, attempts=self.attempts + 1, last_error=error[:500], due=due)

    def dumps(self) -> str:
        fields = asdict(self)
        del fields["ref"]
        return orjson.dumps(fields).decode()

    @classmethod
    def loads(cls, text: str | bytes, ref: str = "") -> Entry:
        try:
            raw: dict[str, Any] = orjson.loads(text)
            raw["consent"] = tuple(raw["consent"])
            return cls(**raw, ref=ref)
        except (orjson.JSONDecodeError, TypeError, KeyError) as exc:
            raise QueueError(f"unreadable queue entry: {exc}") from exc


class DeliveryQueue(abc.ABC):
    @abc.abstractmethod
    async def add(self, entry: Entry, claim: str, claim_ttl: float) -> bool:
        """Queue `entry` unless `claim` was queued in the last `claim_ttl` seconds; whether it was queued."""

    @abc.abstractmethod
    async def take(self, now: float, limit: int) -> list[Entry]:
        """Up to `limit` entries due at `now`, leased to this process until finished. An entry a
        stopped process had leased and never finished comes back (at least once)."""

    @abc.abstractmethod
    async def done(self, entry: Entry) -> None:
        """Delivered (or no longer wanted): never attempted again."""

    @abc.abstractmethod
    async def retry(self, entry: Entry) -> None:
        """Attempt again at `entry.due` (the entry as failed() returned it)."""

    @abc.abstractmethod
    async def dead(self, entry: Entry) -> None:
        """Out of attempts: onto the dead-letter list."""

    @abc.abstractmethod
    async def resend(self, webhook_id: str, now: float) -> Entry | None:
        """The dead letter `webhook_id` queued again, due at `now`, with its attempts counted from
        zero (the same webhook-id, so a receiver that did take it once drops the repeat); None when no
        dead letter has that id (never one, resent already, or no longer kept)."""

    @abc.abstractmethod
    async def depth(self) -> int:
        """Entries waiting or being attempted."""

    @abc.abstractmethod
    async def dead_letters(self, limit: int) -> list[Entry]:
        """The newest dead letters, newest first."""

    def next_due(self) -> float | None:
        """When the next entry falls due, when this process can know it (None: poll)."""
        return None

    async def aclose(self) -> None:
        """Release what the queue holds (files, connections)."""
