"""The delivery queue of the embedded store: one process, its state in memory, every change appended
to a file of JSON lines and synced before it counts.

Opening the file replays it (a last line cut short by a crash is skipped) and writes it anew with
only what is still pending, the dead letters and the live claims; so does a running queue once the
file holds many more lines than that, so it does not grow without end.
Without a path the queue is in memory only, and a restart loses it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path
from typing import Any

import orjson

from etalage.webhooks.queue import DeliveryQueue, Entry, QueueError

__all__ = ["FileQueue"]

log = logging.getLogger("etalage.webhooks")

KEPT_DEAD = 1000
_PRUNE_FLOOR = 1024  # claims kept before the ended ones are first dropped


class FileQueue(DeliveryQueue):
    def __init__(self, path: Path | None, *, compact_after: int = 10_000) -> None:
        """Open (and compact) the queue file; raises QueueError when it cannot be read or written.
        The file is written anew when it holds `compact_after` lines and four times the live ones."""
        self.path = path
        self._compact_after = self._next_compact = compact_after
        self._pending: dict[str, Entry] = {}
        self._leased: set[str] = set()
        self._dead: list[Entry] = []
        self._claims: dict[str, float] = {}
        self._prune_at = _PRUNE_FLOOR
        self._lock = asyncio.Lock()
        self._file: Any = None
        self._lines = 0  # in the file since it was last written anew
        if path is None:
            return
        try:
            if path.exists():
                self._replay(path.read_bytes())
            self._replace(path, self._snapshot())
            self._file = path.open("ab")
        except OSError as exc:
            raise QueueError(f"webhook queue file {path}: {exc.strerror or exc}") from exc

    def _replay(self, data: bytes) -> None:
        now = time.time()
        for number, line in enumerate(data.splitlines(), 1):
            try:
                record = orjson.loads(line)
                op = record["op"]
                if op in ("add", "retry"):
                    entry = Entry.loads(orjson.dumps(record["entry"]))
                    self._pending[entry.id] = entry
                elif op == "done":
                    self._pending.pop(record["id"], None)
                elif op == "dead":
                    entry = Entry.loads(orjson.dumps(record["entry"]))
                    self._pending.pop(entry.id, None)
                    self._dead.append(entry)
                elif op == "resend":
                    entry = Entry.loads(orjson.dumps(record["entry"]))
                    self._dead = [dead for dead in self._dead if dead.id != entry.id]
                    self._pending[entry.id] = entry
                if "claim" in record and record["until"] > now:
                    self._claims[record["claim"]] = record["until"]
            except (orjson.JSONDecodeError, KeyError, TypeError, QueueError) as exc:
                log.warning("webhook queue file %s: line %d skipped (%s)", self.path, number, exc)
        del self._dead[:-KEPT_DEAD]

    def _snapshot(self) -> bytes:
        """The live state as lines of the file: what is pending, the dead letters, the claims."""
        lines = [orjson.dumps({"op": "add", "entry": orjson.loads(e.dumps())}) for e in self._pending.values()]
        lines += [orjson.dumps({"op": "dead", "entry": orjson.loads(e.dumps())}) for e in self._dead]
        lines += [orjson.dumps({"op": "claim", "claim": claim, "until": until}) for claim, until in self._claims.items()]
        return b"".join(line + b"\n" for line in lines)

    @staticmethod
    def _replace(path: Path, data: bytes) -> None:
        """The file replaced atomically by `data` (a crash leaves the old or the new one)."""
        temporary = path.with_name(path.name + ".tmp")
        with temporary.open("wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    async def _append(self, record: dict[str, Any]) -> None:
        if self._file is None:
            return
        line = orjson.dumps(record) + b"\n"

        def write() -> None:
            self._file.write(line)
            self._file.flush()
            os.fsync(self._file.fileno())

        async with self._lock:  # one writer at a time keeps the lines whole and in order
            try:
                await asyncio.to_thread(write)
            except (OSError, ValueError) as exc:
                raise QueueError(f"webhook queue file {self.path}: {exc}") from exc
            self._lines += 1

    async def _compact(self) -> None:
        """Write the file anew once most of its lines are history (called after a state change)."""
        if self._file is None or self.path is None or self._lines < self._next_compact:
            return
        now = time.time()
        self._claims = {claim: until for claim, until in self._claims.items() if until > now}
        live = len(self._pending) + len(self._dead) + len(self._claims)
        # Not before the file is mostly history: a queue of long claims is not rewritten on every line.
        self._next_compact = max(self._compact_after, 4 * live)
        if self._lines < self._next_compact:
            return
        path = self.path

        def rewrite(data: bytes) -> None:
            self._file.close()
            try:
                self._replace(path, data)
            finally:
                self._file = path.open("ab")

        async with self._lock:
            try:
                await asyncio.to_thread(rewrite, self._snapshot())
            except OSError as exc:
                raise QueueError(f"webhook queue file {path}: {exc.strerror or exc}") from exc
            self._lines = live

    async def add(self, entry: Entry, claim: str, claim_ttl: float) -> bool:
        now = time.time()
        if self._claims.get(claim, 0.0) > now:
            return False
        if len(self._claims) >= self._prune_at:
            # Claims end by themselves: dropping the ended ones keeps memory in step with the live ones.
            self._claims = {key: until for key, until in self._claims.items() if until > now}
            self._prune_at = max(_PRUNE_FLOOR, 2 * len(self._claims))
        self._claims[claim] = now + claim_ttl
        try:
            await self._append({"op": "add", "entry": orjson.loads(entry.dumps()), "claim": claim, "until": now + claim_ttl})
        except QueueError:
            del self._claims[claim]
            raise
        self._pending[entry.id] = entry
        return True

    async def take(self, now: float, limit: int) -> list[Entry]:
        due = sorted((e for e in self._pending.values() if e.due <= now and e.id not in self._leased), key=lambda e: e.due)[:limit]
        self._leased.update(e.id for e in due)
        return due

    async def done(self, entry: Entry) -> None:
        await self._append({"op": "done", "id": entry.id})
        self._pending.pop(entry.id, None)
        self._leased.discard(entry.id)
        await self._compact()

    async def retry(self, entry: Entry) -> None:
        await self._append({"op": "retry", "entry": orjson.loads(entry.dumps())})
        self._pending[entry.id] = entry
        self._leased.discard(entry.id)

    async def dead(self, entry: Entry) -> None:
        await self._append({"op": "dead", "entry": orjson.loads(entry.dumps())})
        self._pending.pop(entry.id, None)
        self._leased.discard(entry.id)
        self._dead.append(entry)
        del self._dead[:-KEPT_DEAD]

    async def resend(self, webhook_id: str, now: float) -> Entry | None:
        dead = next((entry for entry in self._dead if entry.id == webhook_id), None)
        if dead is None or webhook_id in self._pending:
            return None
        entry = dead.revived(now)
        await self._append({"op": "resend", "entry": orjson.loads(entry.dumps())})
        self._dead.remove(dead)
        self._pending[entry.id] = entry
        return entry

    async def depth(self) -> int:
        return len(self._pending)

    async def dead_letters(self, limit: int) -> list[Entry]:
        return list(reversed(self._dead[-limit:]))

    def next_due(self) -> float | None:
        waiting = [e.due for e in self._pending.values() if e.id not in self._leased]
        return min(waiting) if waiting else None

    async def aclose(self) -> None:
        if self._file is not None:
            async with self._lock:
                self._file.close()
                self._file = None
