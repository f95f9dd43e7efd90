"""Loading known customers from a CRM export into the profile store (`etalage import`).

Two formats, chosen by the file's extension (.csv; .jsonl or .ndjson) or by --format. Both are
UTF-8 (a byte-order mark, as Excel writes, is fine).

JSON Lines: one customer per line, every key but customer_id optional:

    {"customer_id": "C-1001", "segments": ["vip"], "newsletters": ["dogs"],
     "purchases": [{"order": "PC-1", "sku": "dog-kibble-5kg", "category": "dogs",
                    "date": "2026-03-01", "quantity": 2}]}

CSV: one row per order line, with a header row, as a shop or CRM exports its order lines (order
fields repeated on every line of the order, customer fields on every row of the customer):

    customer_id,segments,newsletters,order,sku,category,date,quantity
    C-1001,vip|loyal,dogs,PC-1,dog-kibble-5kg,dogs,2026-03-01,2
    C-1001,vip|loyal,dogs,PC-1,dog-rope-toy,,2026-03-01,1
    C-1002,,cats|fish,,,,,

Only customer_id is a required column; a row with empty purchase columns (C-1002) carries the
customer's segments and newsletters alone. Lists inside a cell are separated by "|". Adjacent rows
with the same customer_id are one customer: sort the export by customer if it comes sorted by date
(a customer whose rows are apart is loaded once per run of adjacent rows, with the same result).
Comma-separated, or semicolon-separated as spreadsheets in many locales save it. Columns Etalage
does not know (an export's name or email) are ignored and named once. Why order lines: that is the
shape order exports have; no mini-syntax packed into a cell, so a date with a time, or an order
number with a colon, needs no escaping; and a spreadsheet can filter and sort it.

Every field:
  customer_id   the shop's customer id, as its login announces it: at most 128 characters, no spaces
  segments      segment names (CRM groups such as "vip")
  newsletters   categories of the rule set the customer gets newsletters about
  order         the order id; when missing, "import:<date>" (one order per customer and day), so
                importing the same file again finds the same order lines
  sku           the product id
  category      a category of the rule set (site.categories); may be left out when the sku is in
                the rule set's catalog, which then gives it
  date          ISO 8601: 2026-03-01, or 2026-03-01T14:30:00 with an optional offset (UTC when none)
  quantity      a whole number of at least 1; 1 when left out

A row with any problem is reported as FILE:LINE: reason and loads nothing at all (in CSV: nothing of
that customer's adjacent rows), while the good rows load. Each customer is written in one step
(one record_customer() call, atomic in both stores): no profile is ever half imported.
Importing the same file again changes nothing: purchases count once per (order, sku), segments and
newsletters are sets.

The embedded store's file belongs to one process at a time: do not import into it while `etalage
serve` or `etalage demo` runs on the same file (that process would overwrite the import when it next
saves). Redis can be imported into at any time, while Etalage serves.
"""

from __future__ import annotations

import asyncio
import csv
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, TextIO

import orjson

from etalage.problems import Problem, closest
from etalage.profiles.profile import Event
from etalage.profiles.store import ProfileStore, StoreError
from etalage.rules.ruleset import RuleSet

__all__ = [
    "FORMATS",
    "ImportFileError",
    "ImportResult",
    "Record",
    "Checker",
    "detect_format",
    "read_records",
    "import_records",
    "import_file",
    "run_import",
]

FORMATS = ("csv", "jsonl")
_EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
CUSTOMER_FIELDS = ("customer_id", "segments", "newsletters")
PURCHASE_FIELDS = ("order", "sku", "category", "date", "quantity")
MAX_ID_LENGTH = 128
MAX_NAME_LENGTH = 100
# A date more than this far ahead is a mistake (a day and month swapped, a wrong year).
_FUTURE_SLACK = 24 * 3600.0
_NO_SPACE_OR_CONTROL = re.compile(r"[^\s\x00-\x1f\x7f-\x9f]+")
_PRINTABLE = re.compile(r"[^\x00-\x1f\x7f-\x9f]+")
_PRINTABLE_NO_BAR = re.compile(r"[^\x00-\x1f\x7f-\x9f|]+")
# Stores that queue writes (Redis) are flushed after this many queued events, well below what
# they keep queued before dropping the oldest, so an import never outruns the store.
_FLUSH_EVENTS = 5_000
_PROGRESS_EVERY = 512


class ImportFileError(Exception):
    """The file as a whole cannot be imported (missing, unreadable, no customer_id column, ...)."""


class _Bad(Exception):
    """One field of one row is wrong; the message is the reason."""


@dataclass(slots=True)
class Record:
    """One customer read from the file: its events, or the problems that keep it out."""

    customer_id: str | None
    line: int  # first line
    last_line: int
    events: list[Event] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    bad_rows: int = 0


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


def _text(value: Any, what: str) -> str:
    """A JSON string or integer field as text; numbers are common for ids in exports."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise _Bad(f"{what} must be text, got {_json_type(value)}")


def _json_type(value: Any) -> str:
    return {dict: "an object", list: "a list", bool: "true/false", float: "a number", type(None): "null"}.get(
        type(value), type(value).__name__
    )


class Checker:
    """Validates fields against the rule set and turns good ones into profile events."""

    def __init__(self, ruleset: RuleSet, now: float | None = None) -> None:
        self.categories = frozenset(ruleset.site.labels)
        self._category_list = ruleset.site.categories
        self.catalog = ruleset.catalog
        self.now = time.time() if now is None else now
        # Exports repeat the same few thousand dates: parse each once.
        self._dates: dict[str, tuple[float, str]] = {}

    def customer_id(self, text: str) -> str:
        if not text:
            raise _Bad("customer_id is missing")
        if len(text) > MAX_ID_LENGTH:
            raise _Bad(f"customer_id is longer than {MAX_ID_LENGTH} characters")
        if not _NO_SPACE_OR_CONTROL.fullmatch(text):
            raise _Bad(f"customer_id {text!r} contains spaces or control characters")
        return text

    def segment(self, text: str) -> str:
        if not text:
            raise _Bad("a segment name is empty")
        if len(text) > MAX_NAME_LENGTH or not _PRINTABLE_NO_BAR.fullmatch(text):
            raise _Bad(f"segment {text!r} must be at most {MAX_NAME_LENGTH} printable characters, without '|'")
        return text

    def category(self, text: str, what: str = "category") -> str:
        if text not in self.categories:
            close = closest(text, self.categories, cutoff=0.75)
            hint = f" (did you mean {close!r}?)" if close else ""
            raise _Bad(f"{what} {text!r} is not a category of the rule set{hint} (categories are: {', '.join(self._category_list)})")
        return text

    def date(self, text: str) -> tuple[float, str]:
        """Unix time and the day (UTC) of an ISO 8601 date or date-time; naive times are UTC."""
        known = self._dates.get(text)
        if known is not None:
            return known
        if len(self._dates) >= 4096:
            self._dates.clear()
        self._dates[text] = parsed = self._parse_date(text)
        return parsed

    def _parse_date(self, text: str) -> tuple[float, str]:
        if not text:
            raise _Bad("date is missing")
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise _Bad(f"date {text!r} is not an ISO 8601 date (2026-03-01 or 2026-03-01T14:30:00)") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        at = moment.timestamp()
        if at > self.now + _FUTURE_SLACK:
            raise _Bad(f"date {text!r} is in the future")
        return at, datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d")

    def quantity(self, value: Any) -> int:
        if value is None or value == "":
            return 1
        if isinstance(value, str) and value.isascii() and value.isdigit():
            number = int(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            raise _Bad(f"quantity must be a whole number of at least 1, got {value!r}")
        if number < 1:
            raise _Bad(f"quantity must be a whole number of at least 1, got {value!r}")
        return number

    def purchase(self, order: str, sku: str, category: str, date: str, quantity: Any) -> Event:
        if not sku:
            raise _Bad("sku is missing")
        if len(sku) > MAX_ID_LENGTH or not _PRINTABLE.fullmatch(sku):
            raise _Bad(f"sku {sku!r} must be at most {MAX_ID_LENGTH} printable characters")
        if category:
            self.category(category)
        else:
            product = self.catalog.get(sku)
            if product is None:
                raise _Bad(f"no category, and sku {sku!r} is not in the rule set's catalog to take it from")
            category = product.category
        at, day = self.date(date)
        count = self.quantity(quantity)
        if len(order) > MAX_ID_LENGTH:
            raise _Bad(f"order is longer than {MAX_ID_LENGTH} characters")
        # One derived order per customer and day: re-imports find the same order lines again, and
        # the lines of one day's order (which an export without order ids cannot tell apart) count
        # as one order for the customer's lifecycle.
        return Event("purchase", sku, at, {"order": order or f"import:{day}", "category": category, "quantity": count})

    def base_events(self, customer_id: str, segments: Iterable[str], newsletters: Iterable[str]) -> list[Event]:
        events = [Event("customer", customer_id, self.now)]
        events += [Event("segment", name, self.now) for name in dict.fromkeys(segments)]
        events += [Event("newsletter_subscribe", category, self.now) for category in dict.fromkeys(newsletters)]
        return events


# -- JSON Lines ----------------------------------------------------------------------------------


class _Notices:
    """Unknown fields are ignored, each named once; one that looks like a misspelt field is a problem."""

    def __init__(self, name: str, notify: Callable[[Problem], None]) -> None:
        self._name = name
        self._notify = notify
        self._seen: set[str] = set()

    def unknown(self, name: str, known: Sequence[str], line: int, what: str) -> None:
        close = closest(name, known, cutoff=0.75)
        if close:
            raise _Bad(f"unknown {what} {name!r} (did you mean {close!r}?)")
        if name not in self._seen:
            self._seen.add(name)
            self._notify(Problem(self._name, line, f"ignoring the unknown {what} {name!r}"))


def _jsonl_customer(raw: Any, checker: Checker, notices: _Notices, line: int) -> tuple[str | None, list[Event], list[str]]:
    """The customer id (when readable), the events, and every problem of one JSON Lines row."""
    if not isinstance(raw, dict):
        return None, [], [f"expected a JSON object, got {_json_type(raw)}"]
    problems: list[str] = []
    customer_id: str | None = None
    try:
        value = raw.get("customer_id")
        customer_id = checker.customer_id("" if value is None else _text(value, "customer_id"))
    except _Bad as bad:
        problems.append(str(bad))
    for key in raw:
        if key not in CUSTOMER_FIELDS and key != "purchases":
            try:
                notices.unknown(key, (*CUSTOMER_FIELDS, "purchases"), line, "key")
            except _Bad as bad:
                problems.append(str(bad))

    def names(key: str, check: Callable[[str], str]) -> list[str]:
        value = raw.get(key, [])
        if not isinstance(value, list):
            problems.append(f"{key} must be a list, got {_json_type(value)}")
            return []
        out = []
        for item in value:
            try:
                out.append(check(_text(item, f"an entry of {key}")))
            except _Bad as bad:
                problems.append(str(bad))
        return out

    segments = names("segments", checker.segment)
    newsletters = names("newsletters", lambda c: checker.category(c, "newsletter category"))
    purchases: list[Event] = []
    items = raw.get("purchases", [])
    if not isinstance(items, list):
        problems.append(f"purchases must be a list, got {_json_type(items)}")
        items = []
    for number, item in enumerate(items, start=1):
        try:
            if not isinstance(item, dict):
                raise _Bad(f"expected an object, got {_json_type(item)}")
            for key in item:
                if key not in PURCHASE_FIELDS:
                    notices.unknown(key, PURCHASE_FIELDS, line, "purchase key")
            purchases.append(
                checker.purchase(
                    _text(item.get("order", ""), "order"),
                    _text(item.get("sku", ""), "sku"),
                    _text(item.get("category", ""), "category"),
                    _text(item.get("date", ""), "date"),
                    item.get("quantity"),
                )
            )
        except _Bad as bad:
            problems.append(f"purchase {number}: {bad}")
    if problems or customer_id is None:
        return customer_id, [], problems
    return customer_id, checker.base_events(customer_id, segments, newsletters) + purchases, []


def _read_jsonl(stream: IO[bytes], checker: Checker, notices: _Notices, name: str) -> Iterator[Record]:
    for line, data in enumerate(stream, start=1):
        if line == 1 and data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        if not data.strip():
            continue
        try:
            raw = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            yield Record(None, line, line, problems=[Problem(name, line, f"not valid JSON: {exc}")], bad_rows=1)
            continue
        customer_id, events, problems = _jsonl_customer(raw, checker, notices, line)
        if problems:
            yield Record(customer_id, line, line, problems=[Problem(name, line, reason) for reason in problems], bad_rows=1)
        else:
            yield Record(customer_id, line, line, events)


# -- CSV -----------------------------------------------------------------------------------------


class _Lines:
    """The file's lines as text for the csv module, remembering which were not valid UTF-8."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self.number = 0
        self.undecodable: set[int] = set()

    def __iter__(self) -> Iterator[str]:
        for data in self._stream:
            self.number += 1
            if self.number == 1 and data.startswith(b"\xef\xbb\xbf"):
                data = data[3:]
            try:
                yield data.decode("utf-8")
            except UnicodeDecodeError:
                self.undecodable.add(self.number)
                yield data.decode("utf-8", "replace")


def _split(cell: str) -> list[str]:
    return [part.strip() for part in cell.split("|")] if cell else []


def _read_csv(stream: IO[bytes], checker: Checker, notices: _Notices, name: str) -> Iterator[Record]:
    lines = _Lines(stream)
    source = iter(lines)
    try:
        header_line = next(source)
    except StopIteration:
        raise ImportFileError(f"{name}: the file is empty; a CSV import starts with a header row") from None
    delimiter = ";" if ";" in header_line and "," not in header_line else ","
    header = [column.strip().lower() for column in next(csv.reader([header_line], delimiter=delimiter))]
    known = (*CUSTOMER_FIELDS, *PURCHASE_FIELDS)
    if "customer_id" not in header:
        raise ImportFileError(f"{name}:1: no customer_id column (the header row names the columns: {', '.join(known)})")
    for column in header:
        if header.count(column) > 1 and column in known:
            raise ImportFileError(f"{name}:1: the column {column!r} appears twice")
        if column not in known and column:
            try:
                notices.unknown(column, known, 1, "column")
            except _Bad as bad:
                raise ImportFileError(f"{name}:1: {bad}") from None
    index = {column: header.index(column) for column in known if column in header}
    width = len(header)

    def cell(fields: list[str], column: str) -> str:
        at = index.get(column)
        return fields[at].strip() if at is not None else ""

    reader = csv.reader(source, delimiter=delimiter, strict=True)
    current: Record | None = None
    segments: list[str] = []
    newsletters: list[str] = []
    fields: list[str] | None  # None for a row the csv module could not split
    while True:
        start = lines.number + 1
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            fields = None
            problems = [f"not a valid CSV row: {exc}"]
            row_id = None
        else:
            if not any(f.strip() for f in fields):
                continue  # a blank row, as spreadsheets leave at the end
            problems = []
            if any(line in lines.undecodable for line in range(start, lines.number + 1)):
                problems.append("not valid UTF-8 text (save the export as UTF-8)")
            if len(fields) > width and any(f.strip() for f in fields[width:]):
                problems.append(f"{len(fields)} fields, but the header names {width} columns")
            fields += [""] * (width - len(fields))
            row_id = cell(fields, "customer_id")
        end = lines.number
        # Adjacent rows of one customer are one record; a row without a (readable) id is its own.
        if current is None or not row_id or row_id != current.customer_id:
            if current is not None:
                yield _finish_csv(current, checker, segments, newsletters)
            current = Record(row_id, start, end)
            segments, newsletters = [], []
        current.last_line = end
        if fields is not None and not problems:
            try:
                checker.customer_id(row_id or "")
            except _Bad as bad:
                problems.append(str(bad))
            for name_ in _split(cell(fields, "segments")):
                try:
                    segments.append(checker.segment(name_))
                except _Bad as bad:
                    problems.append(str(bad))
            for category in _split(cell(fields, "newsletters")):
                try:
                    newsletters.append(checker.category(category, "newsletter category"))
                except _Bad as bad:
                    problems.append(str(bad))
            purchase = [cell(fields, column) for column in PURCHASE_FIELDS]
            if any(purchase):
                try:
                    current.events.append(checker.purchase(*purchase))
                except _Bad as bad:
                    problems.append(str(bad))
        if problems:
            current.problems += [Problem(name, start, reason) for reason in problems]
            current.bad_rows += 1
    if current is not None:
        yield _finish_csv(current, checker, segments, newsletters)


def _finish_csv(record: Record, checker: Checker, segments: list[str], newsletters: list[str]) -> Record:
    if record.problems or record.customer_id is None:
        record.events = []
    else:
        record.events = checker.base_events(record.customer_id, segments, newsletters) + record.events
    return record


# -- loading -------------------------------------------------------------------------------------


def detect_format(path: Path, given: str | None = None) -> str:
    if given:
        if given not in FORMATS:
            raise ImportFileError(f"unknown format {given!r} (formats: {', '.join(FORMATS)})")
        return given
    found = _EXTENSIONS.get(path.suffix.lower())
    if found is None:
        raise ImportFileError(
            f"{path}: cannot tell the format from the extension {path.suffix!r}; name the file .csv or .jsonl, or give --format"
        )
    return found


def read_records(
    stream: IO[bytes], fmt: str, checker: Checker, name: str, notify: Callable[[Problem], None] = lambda notice: None
) -> Iterator[Record]:
    """The customers of an open binary file, one Record each, streamed; `notify` hears of the
    unknown fields ignored (the file named `name` in both)."""
    notices = _Notices(name, notify)
    if fmt == "csv":
        return _read_csv(stream, checker, notices, name)
    return _read_jsonl(stream, checker, notices, name)


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
) -> ImportResult:
    """Import one file into `store` (which the caller opens and closes). Raises ImportFileError when
    the file cannot be read at all, StoreError when the store fails (customers written before stay)."""
    fmt = detect_format(path, fmt)
    checker = Checker(ruleset, now)
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


# -- on a terminal -------------------------------------------------------------------------------


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
