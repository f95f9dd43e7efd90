"""The embedded store's webhook queue file: what a reopened queue holds, after a stop or a crash."""

from __future__ import annotations

import asyncio
from pathlib import Path

from etalage.webhooks.file_queue import FileQueue
from etalage.webhooks.queue import Entry

NOW = 1_800_000_000.0


def entry(number: int, due: float = NOW) -> Entry:
    return Entry(f"msg_{number}", "first-order", '{"type":"moment.first_purchase"}', "c-1", None, (), NOW, due)


def reopened(path: Path, now: float = NOW) -> tuple[list[str], list[Entry]]:
    """The ids a queue opened anew on `path` hands out at `now`, and its dead letters."""

    async def read() -> tuple[list[str], list[Entry]]:
        queue = FileQueue(path)
        try:
            return [e.id for e in await queue.take(now, 10)], await queue.dead_letters(10)
        finally:
            await queue.aclose()

    return asyncio.run(read())


def test_file_queue_reopened_holds_what_was_pending_and_dead(tmp_path):
    path = tmp_path / "webhooks.jsonl"

    async def run() -> None:
        queue = FileQueue(path)
        for number in range(3):
            await queue.add(entry(number), f"claim-{number}", 60)
        first, second, third = await queue.take(NOW, 10)
        await queue.done(first)
        await queue.retry(second.failed("the receiver answered 500", NOW + 5))
        await queue.dead(third.failed("the receiver answered 500", NOW))
        await queue.aclose()

    asyncio.run(run())
    pending, dead = reopened(path, NOW + 5)
    assert pending == ["msg_1"] and [(e.id, e.attempts, e.last_error) for e in dead] == [("msg_2", 1, "the receiver answered 500")]


def test_file_queue_skips_a_last_line_cut_short_by_a_crash(tmp_path):
    path = tmp_path / "webhooks.jsonl"
    queue = FileQueue(path)
    asyncio.run(queue.add(entry(1), "claim-1", 60))
    asyncio.run(queue.aclose())
    with path.open("ab") as file:
        file.write(b'{"op": "done", "id": "msg_')
    assert reopened(path)[0] == ["msg_1"]


def test_file_queue_claims_hold_across_a_reopen(tmp_path):
    path = tmp_path / "webhooks.jsonl"

    async def add_twice() -> bool:
        first = FileQueue(path)
        await first.add(entry(1), "the-moment", 3600)
        await first.aclose()
        second = FileQueue(path)
        try:
            return await second.add(entry(2), "the-moment", 3600)
        finally:
            await second.aclose()

    assert asyncio.run(add_twice()) is False


def test_file_queue_leaves_entries_not_due_yet(tmp_path):
    queue = FileQueue(None)
    asyncio.run(queue.add(entry(1, due=NOW + 60), "claim-1", 60))
    assert asyncio.run(queue.take(NOW, 10)) == [] and queue.next_due() == NOW + 60


def test_file_queue_writes_its_history_away(tmp_path):
    path = tmp_path / "webhooks.jsonl"

    async def run() -> None:
        queue = FileQueue(path, compact_after=20)
        for number in range(30):
            await queue.add(entry(number), f"claim-{number}", 0)
            (taken,) = await queue.take(NOW, 10)
            await queue.done(taken)
        await queue.add(entry(99), "claim-99", 60)
        await queue.aclose()

    asyncio.run(run())
    # 30 moments delivered make 60 lines of history, written away once the claims have ended.
    assert path.read_bytes().count(b"\n") < 60 and reopened(path)[0] == ["msg_99"]


def test_file_queue_resent_dead_letter_is_pending_again_after_a_reopen(tmp_path):
    path = tmp_path / "webhooks.jsonl"

    async def run() -> object:
        queue = FileQueue(path)
        await queue.add(entry(1), "claim-1", 60)
        (taken,) = await queue.take(NOW, 10)
        await queue.dead(taken.failed("the receiver answered 500", NOW))
        resent = await queue.resend("msg_1", NOW + 60)
        await queue.aclose()
        return resent

    resent = asyncio.run(run())
    pending, dead = reopened(path, NOW + 60)
    assert pending == ["msg_1"] and dead == [] and getattr(resent, "attempts", None) == 0


def test_file_queue_resend_of_an_id_without_a_dead_letter_changes_nothing(tmp_path):
    queue = FileQueue(tmp_path / "webhooks.jsonl")
    asyncio.run(queue.add(entry(1), "claim-1", 60))
    assert asyncio.run(queue.resend("msg_1", NOW)) is None  # pending, not dead
    asyncio.run(queue.aclose())
