"""`etalage export segment NAME`: a segment's members, one customer id a row, as CSV or JSON Lines.

    customer_id            {"customer_id": "C-1001"}
    C-1001                 {"customer_id": "C-1002"}
    C-1002

What a segment name can be, and who is exported (customers who consented, by customer id only):
see etalage.engine.audience. The rows go to standard output, or with --out to a file written whole
(a new file renamed over the old one, so an upload never picks up half an export); the summary goes
to standard error.
"""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path
from typing import TextIO

import orjson

from etalage.engine.audience import Audience, Tally, members
from etalage.profiles.store import ProfileStore

__all__ = ["FORMATS", "export_segment"]

FORMATS = ("csv", "jsonl")


async def _write(store: ProfileStore, segment: Audience, fmt: str, out: TextIO, now: float, tally: Tally) -> None:
    writer = csv.writer(out, lineterminator="\n")
    if fmt == "csv":
        writer.writerow(["customer_id"])
    async for row in members(store, segment, now, tally):
        if fmt == "csv":
            writer.writerow([row["customer_id"]])
        else:
            out.write(orjson.dumps(row).decode() + "\n")


async def export_segment(
    store: ProfileStore, segment: Audience, fmt: str, now: float, *, path: Path | None = None, err: TextIO | None = None
) -> Tally:
    """Write the members to `path` (standard output when None) and the summary to `err`; closes the
    store. StoreError when the store fails (a file named by `path` is then left as it was)."""
    err = err or sys.stderr
    tally = Tally()
    try:
        if path is None:
            await _write(store, segment, fmt, sys.stdout, now, tally)
        else:
            partial = path.with_name(path.name + ".partial")
            try:
                with open(partial, "w", encoding="utf-8", newline="") as out:
                    await _write(store, segment, fmt, out, now, tally)
                os.replace(partial, path)
            finally:
                partial.unlink(missing_ok=True)
    finally:
        await store.aclose()
    print(
        f"etalage export: {tally.members} in segment {segment.name!r}, of {tally.customers} customers "
        f"({tally.without_consent} left out: no consent recorded)",
        file=err,
    )
    return tally
