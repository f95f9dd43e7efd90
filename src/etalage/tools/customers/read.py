"""Reading a CRM export, CSV or JSON Lines, as a stream of customers (Records) with their problems."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from etalage.engine.customer_fields import BadField, Checker
from etalage.problems import Problem, closest
from etalage.profiles.profile import Event

__all__ = ["FORMATS", "ImportFileError", "Record", "detect_format", "read_records"]

FORMATS = ("csv", "jsonl")
_EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
CUSTOMER_FIELDS = ("customer_id", "segments", "newsletters")
PURCHASE_FIELDS = ("order", "sku", "category", "date", "quantity", "value", "currency")


class ImportFileError(Exception):
    """The file as a whole cannot be imported (missing, unreadable, no customer_id column, ...)."""


@dataclass(slots=True)
class Record:
    """One customer read from the file: its events, or the problems that keep it out."""

    customer_id: str | None
    line: int  # first line
    last_line: int
    events: list[Event] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    bad_rows: int = 0


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


def _text(value: Any, what: str) -> str:
    """A JSON string or integer field as text; numbers are common for ids in exports."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise BadField(f"{what} must be text, got {_json_type(value)}")


def _json_type(value: Any) -> str:
    return {dict: "an object", list: "a list", bool: "true/false", float: "a number", type(None): "null"}.get(
        type(value), type(value).__name__
    )


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
            raise BadField(f"unknown {what} {name!r} (did you mean {close!r}?)")
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
    except BadField as bad:
        problems.append(str(bad))
    for key in raw:
        if key not in CUSTOMER_FIELDS and key != "purchases":
            try:
                notices.unknown(key, (*CUSTOMER_FIELDS, "purchases"), line, "key")
            except BadField as bad:
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
            except BadField as bad:
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
                raise BadField(f"expected an object, got {_json_type(item)}")
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
                    item.get("value"),
                    item.get("currency"),
                )
            )
        except BadField as bad:
            problems.append(f"purchase {number}: {bad}")
    orders: list[Event] = []
    try:
        orders = checker.orders(purchases)
    except BadField as bad:
        problems.append(str(bad))
    if problems or customer_id is None:
        return customer_id, [], problems
    given = [key for key in ("segments", "newsletters") if key in raw]
    return customer_id, checker.base_events(customer_id, segments, newsletters, given) + purchases + orders, []


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
            except BadField as bad:
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
                yield _finish_csv(current, checker, segments, newsletters, header, name)
            current = Record(row_id, start, end)
            segments, newsletters = [], []
        current.last_line = end
        if fields is not None and not problems:
            try:
                checker.customer_id(row_id or "")
            except BadField as bad:
                problems.append(str(bad))
            for name_ in _split(cell(fields, "segments")):
                try:
                    segments.append(checker.segment(name_))
                except BadField as bad:
                    problems.append(str(bad))
            for category in _split(cell(fields, "newsletters")):
                try:
                    newsletters.append(checker.category(category, "newsletter category"))
                except BadField as bad:
                    problems.append(str(bad))
            purchase = [cell(fields, column) for column in PURCHASE_FIELDS]
            if any(purchase):
                try:
                    current.events.append(checker.purchase(*purchase))
                except BadField as bad:
                    problems.append(str(bad))
        if problems:
            current.problems += [Problem(name, start, reason) for reason in problems]
            current.bad_rows += 1
    if current is not None:
        yield _finish_csv(current, checker, segments, newsletters, header, name)


def _finish_csv(record: Record, checker: Checker, segments: list[str], newsletters: list[str], header: list[str], name: str) -> Record:
    if not record.problems and record.customer_id is not None:
        try:
            # A column the file has is given for every customer: an empty cell replaces with nothing.
            record.events = checker.base_events(record.customer_id, segments, newsletters, header) + record.events
            record.events += checker.orders(record.events)
            return record
        except BadField as bad:
            # The lines of one order disagree: the order is in no single row, so the customer's first names it.
            record.problems.append(Problem(name, record.line, str(bad)))
            record.bad_rows += 1
    record.events = []
    return record
