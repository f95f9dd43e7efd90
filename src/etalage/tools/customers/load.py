"""Writing customers into the profile store: one record_customer call each, bounded, flushed, counted."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

from etalage.engine.customer_fields import Checker
from etalage.problems import Problem
from etalage.profiles.store import ProfileStore, StoreError
from etalage.rules.ruleset import RuleSet
from etalage.tools.customers.read import ImportFileError, Record, detect_format, read_records

__all__ = ["ImportResult", "import_records", "import_file"]

# Stores that queue writes (Redis) are flushed after this many queued events, well below what
# they keep queued before dropping the oldest, so an import never outruns the store.
_FLUSH_EVENTS = 5_000
_PROGRESS_EVERY = 512


@dataclass(slots=True)
class ImportResult:
    customers: int = 0  # customers written
    rows: int = 0  # last line read
    bad_rows: int = 0
    skipped: int = 0  # customers not written because of a bad row
    seconds: float = 0.0

    def summary(self) -> str:
        text = f"loaded {self.customers} customer{'s' * (self.customers != 1)}, {self.bad_rows} bad row{'s' * (self.bad_rows != 1)}"
        if self.bad_rows:
            text += f" ({self.skipped} customer{'s' * (self.skipped != 1)} not loaded)"
        return f"{text}, in {self.seconds:.1f} s"


async def import_records(
    store: ProfileStore,
    records: Iterable[Record],
    *,
    on_problem: Callable[[Problem], None] = lambda problem: None,
    on_progress: Callable[[int], None] = lambda line: None,
    concurrency: int = 1,
) -> ImportResult:
    """Write each good record with one record_customer call; report the problems of the bad ones.

    At most `concurrency` store calls run at once. A store that queues writes (it has `flush()`, as
    RedisStore does) is flushed every few thousand events and at the end, so what it reports written
    is written, and errors (StoreError) surface here instead of in a log.
    """
    started = time.perf_counter()
    result = ImportResult()
    flush = getattr(store, "flush", None)
    dropped_before = getattr(store, "dropped_events", 0)
    running: set[asyncio.Task[None]] = set()
    queued = 0

    async def settle(limit: int) -> None:
        nonlocal running
        while len(running) > limit:
            done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()

    try:
        for count, record in enumerate(records, start=1):
            result.rows = record.last_line
            if record.problems:
                for problem in record.problems:
                    on_problem(problem)
                result.bad_rows += record.bad_rows
                result.skipped += 1
            elif record.customer_id is not None:
                if concurrency <= 1:
                    await store.record_customer(record.customer_id, record.events)
                else:
                    await settle(concurrency - 1)
                    running.add(asyncio.create_task(store.record_customer(record.customer_id, record.events)))
                result.customers += 1
                queued += len(record.events)
                if flush is not None and queued >= _FLUSH_EVENTS:
                    await settle(0)
                    await flush()
                    queued = 0
            if count % _PROGRESS_EVERY == 0:
                on_progress(result.rows)
                # A store that never waits would keep the loop from ever seeing Ctrl-C (or its own timers).
                await asyncio.sleep(0)
        await settle(0)
        if flush is not None:
            await flush()
    finally:
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
    dropped = getattr(store, "dropped_events", 0) - dropped_before
    if dropped:
        raise StoreError(f"the store dropped {dropped} imported events (see its log for why)")
    on_progress(result.rows)
    result.seconds = time.perf_counter() - started
    return result


async def import_file(
    path: Path,
    store: ProfileStore,
    ruleset: RuleSet,
    *,
    fmt: str | None = None,
    on_problem: Callable[[Problem], None] = lambda problem: None,
    on_notice: Callable[[Problem], None] = lambda notice: None,
    on_progress: Callable[[int], None] = lambda line: None,
    concurrency: int = 1,
    now: float | None = None,
    replace: Collection[str] = (),
) -> ImportResult:
    """Import one file into `store` (which the caller opens and closes). Raises ImportFileError when
    the file cannot be read at all, StoreError when the store fails (customers written before stay)."""
    fmt = detect_format(path, fmt)
    checker = Checker(ruleset, now, replace)
    try:
        stream = open(path, "rb")
    except OSError as exc:
        raise ImportFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
    with stream:
        records = read_records(stream, fmt, checker, str(path), on_notice)
        try:
            return await import_records(store, records, on_problem=on_problem, on_progress=on_progress, concurrency=concurrency)
        except OSError as exc:
            raise ImportFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
