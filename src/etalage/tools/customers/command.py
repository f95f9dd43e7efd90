"""`etalage import`: the export loaded into the store, bad rows reported, progress shown on a terminal."""

from __future__ import annotations

import sys
import time
from collections.abc import Collection
from pathlib import Path
from typing import Any, TextIO

from etalage.profiles.store import ProfileStore, StoreError
from etalage.rules.ruleset import RuleSet
from etalage.tools.customers.load import ImportResult, import_file
from etalage.tools.customers.read import ImportFileError

__all__ = ["run_import"]


def _count_lines(path: Path) -> int:
    count = 0
    with open(path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            count += chunk.count(b"\n")
    return count


class _Progress:
    """A progress bar (rows) when `err` is a terminal; otherwise a line every `every` seconds."""

    def __init__(self, path: Path, err: TextIO, every: float = 10.0) -> None:
        self._err = err
        self._every = every
        self._next = time.monotonic() + every
        self._bar: Any = None
        if err.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=_count_lines(path), unit=" rows", file=err, dynamic_ncols=True, leave=False, desc="importing")

    def update(self, line: int) -> None:
        if self._bar is not None:
            self._bar.update(max(0, min(line, self._bar.total) - self._bar.n))
        elif time.monotonic() >= self._next:
            self._next = time.monotonic() + self._every
            print(f"etalage import: {line} rows read", file=self._err, flush=True)

    def write(self, text: str, out: TextIO) -> None:
        if self._bar is not None:
            self._bar.write(text, file=out)
        else:
            print(text, file=out)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


async def run_import(
    path: Path,
    store: ProfileStore,
    ruleset: RuleSet,
    *,
    fmt: str | None = None,
    concurrency: int = 1,
    replace: Collection[str] = (),
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """The import as a command: bad rows on `out` (FILE:LINE: reason), notices, progress and the
    summary on `err`; closes the store (which writes the embedded store's file). Exit status: 0 all
    loaded, 1 bad rows (the good ones loaded), 2 the file or the store failed."""
    out = out or sys.stdout
    err = err or sys.stderr
    progress: _Progress | None = None
    result: ImportResult | None = None
    try:
        progress = _Progress(path, err)
        bar = progress
        result = await import_file(
            path,
            store,
            ruleset,
            fmt=fmt,
            on_problem=lambda problem: bar.write(str(problem), out),
            on_notice=lambda notice: bar.write(str(notice), err),
            on_progress=bar.update,
            concurrency=concurrency,
            replace=replace,
        )
    except ImportFileError as exc:
        print(f"etalage import: {exc}", file=err)
    except StoreError as exc:
        print(f"etalage import: the profile store failed, import stopped: {exc}", file=err)
        print("etalage import: the customers written before are complete; importing the file again is safe", file=err)
    finally:
        if progress is not None:
            progress.close()
        try:
            await store.aclose()
        except StoreError as exc:
            print(f"etalage import: could not save the imported profiles: {exc}", file=err)
            result = None
    if result is None:
        return 2
    print(f"etalage import: {path}: {result.summary()}", file=err)
    return 1 if result.bad_rows else 0
