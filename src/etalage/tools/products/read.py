"""Reading a product feed as a stream of products: delimited text (tab, comma, pipe, tilde) or RSS/Atom XML, gzip or not."""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml.ElementTree import DefusedXMLParser

from etalage.problems import Problem

__all__ = ["GOOGLE_NS", "FeedProduct", "FeedError", "Feed"]

GOOGLE_NS = "http://base.google.com/ns/1.0"
_ATOM_NS = "http://www.w3.org/2005/Atom"
_RSS1_NS = "http://purl.org/rss/1.0/"
_DELIMITERS = ("\t", ",", "|", "~")
_CHUNK = 1 << 20
_POSITION = re.compile(r": line \d+, column \d+$")


@dataclass(frozen=True, slots=True)
class FeedProduct:
    line: int  # where the product starts in the feed (its row, or its <item>/<entry>)
    id: str
    link: str = ""
    title: str = ""
    product_types: tuple[str, ...] = ()
    google_categories: tuple[str, ...] = ()
    # What a recommendation card shows, as the feed says it: "15.00 EUR", an image URL, "out_of_stock".
    price: str = ""
    image: str = ""
    availability: str = ""

    @property
    def category_texts(self) -> tuple[str, ...]:
        """The category paths to map, in the order they are tried."""
        return self.product_types + self.google_categories


class FeedError(Exception):
    """The file cannot be read as a product feed: nothing is imported."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}" if line else reason)
        self.line = line
        self.reason = reason


class Feed:
    """A product feed file. Iterating reads it (again) as a stream: its products and bad rows, in
    feed order. Raises FeedError when the file is no feed; `format` names what was found."""

    def __init__(self, path: Path, encoding: str | None = None) -> None:
        self.path = path
        self.encoding = encoding
        self.format = ""

    def __iter__(self) -> Iterator[FeedProduct | Problem]:
        try:
            with open(self.path, "rb") as raw:
                yield from self.read(raw)
        except (OSError, EOFError) as exc:  # unreadable, or a damaged gzip file
            raise FeedError(0, f"cannot be read ({exc})") from None

    def read(self, raw: IO[bytes]) -> Iterator[FeedProduct | Problem]:
        """The products and bad rows of this feed from `raw`, the file opened (seekable, binary)."""
        stream = raw
        compressed = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        if compressed:
            stream = gzip.open(raw, "rb")  # type: ignore[assignment]
        head = stream.read(512)
        if _looks_like_xml(head):
            reader = _read_xml(stream, head, self.encoding, str(self.path))
        else:
            reader = _read_delimited(stream, head, self.encoding, str(self.path))
        kind = next(reader)
        assert isinstance(kind, str)
        self.format = kind + (", gzip-compressed" if compressed else "")
        yield from reader  # type: ignore[misc]


def _looks_like_xml(head: bytes) -> bool:
    for bom, codec in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        if head.startswith(bom):
            return head[len(bom) :].decode(codec, "ignore").lstrip().startswith("<")
    return head.lstrip().startswith(b"<")


def _header_name(name: str) -> str:
    name = name.strip().lower().removeprefix("g:")
    return "_".join(name.split())


class _Prefixed(io.RawIOBase):
    """`head` (already read) followed by the rest of `stream`, as one binary stream."""

    def __init__(self, head: bytes, stream: IO[bytes]) -> None:
        self._head = head
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._head:
            size = min(len(buffer), len(self._head))
            buffer[:size] = self._head[:size]
            self._head = self._head[size:]
            return size
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _text_lines(stream: IO[bytes], head: bytes, encoding: str | None) -> Iterator[str]:
    """The lines of a text file, with their line endings; FeedError on undecodable bytes."""
    codec = encoding
    if codec is None:
        codec = "utf-16" if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) else "utf-8-sig"
    try:
        name = codecs.lookup(codec).name
    except LookupError:
        raise FeedError(0, f"unknown encoding {codec!r}") from None
    buffered = io.BufferedReader(_Prefixed(head, stream), _CHUNK)
    if name.startswith(("utf-16", "utf-32")):  # a line break is more than one byte
        text = io.TextIOWrapper(buffered, encoding=codec, newline="")
        try:
            yield from text
        except UnicodeDecodeError as exc:
            raise FeedError(0, f"not valid {codec} text ({exc.reason})") from None
        return
    for number, raw in enumerate(buffered, 1):
        try:
            yield raw.decode(codec) if number == 1 else raw.decode("utf-8" if codec == "utf-8-sig" else codec)
        except UnicodeDecodeError:
            hint = "; give the feed's encoding, e.g. --encoding latin-1" if encoding is None else ""
            raise FeedError(number, f"not valid {'UTF-8' if encoding is None else codec} text{hint}") from None


def _read_delimited(stream: IO[bytes], head: bytes, encoding: str | None, name: str) -> Iterator[str | FeedProduct | Problem]:
    lines = _text_lines(stream, head, encoding)
    header_line = 0
    text = ""
    for header_line, text in enumerate(lines, 1):  # noqa: B007  (the header line number is used after the loop)
        if text.strip():
            break
    else:
        raise FeedError(0, "the file is empty")
    for delimiter in _DELIMITERS:
        header = [_header_name(name) for name in next(csv.reader([text], delimiter=delimiter))]
        if "id" in header:
            break
    else:
        raise FeedError(
            header_line,
            "no 'id' column in the header row: not a product feed (tab-, comma-, pipe- or tilde-separated text with a header row, or RSS / Atom XML)",
        )
    yield f"{_delimiter_name(delimiter)}-separated text"
    columns = {name: index for index, name in reversed(list(enumerate(header)))}

    def source() -> Iterator[str]:
        yield text
        yield from lines

    reader = csv.reader(source(), delimiter=delimiter)
    try:
        next(reader)
        consumed = reader.line_num
        for row in reader:
            start, consumed = header_line + consumed, reader.line_num  # lines after the header are numbered in a row
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                yield Problem(
                    name,
                    start,
                    f"{len(row)} fields, the header has {len(header)} (a value with an unquoted {_delimiter_name(delimiter)} or line break?)",
                )
                continue

            def cell(name: str) -> str:
                index = columns.get(name)
                return row[index].strip() if index is not None else ""  # noqa: B023  (called within this row)

            product_id = cell("id")
            if not product_id:
                yield Problem(name, start, "no id")
                continue
            product_type, google = cell("product_type"), cell("google_product_category")
            yield FeedProduct(
                start,
                product_id,
                cell("link"),
                cell("title"),
                (product_type,) if product_type else (),
                (google,) if google else (),
                cell("price"),
                cell("image_link"),
                cell("availability"),
            )
    except csv.Error as exc:
        raise FeedError(header_line + reader.line_num - 1, f"malformed text ({exc})") from None


def _delimiter_name(delimiter: str) -> str:
    return {"\t": "tab", ",": "comma", "|": "pipe", "~": "tilde"}[delimiter]


class _FeedTarget:
    """Collects the products of an RSS or Atom feed as the parser streams it (direct children of
    each <item> or <entry> only: nested values such as <g:shipping><g:country> are not fields)."""

    def __init__(self, name: str) -> None:
        self._name = name
        self.line: Callable[[], int] = lambda: 0
        self.depth = 0
        self.root: str | None = None
        self.items = 0
        self.ready: list[FeedProduct | Problem] = []
        self._item_depth = 0
        self._item_line = 0
        self._fields: dict[str, list[str]] | None = None
        self._field: tuple[str, str | None, Mapping[str, str]] | None = None
        self._text: list[str] = []
        self._other_ids = False

    def start(self, tag: str, attrib: Mapping[str, str]) -> None:
        self.depth += 1
        namespace, local = _split_tag(tag)
        if self.root is None:
            self.root = local
        if self._fields is None:
            if local in ("item", "entry") and namespace != GOOGLE_NS:
                self._fields, self._item_depth, self._item_line = {}, self.depth, self.line()
                self._other_ids = False
        elif self.depth == self._item_depth + 1:
            self._field, self._text = (local, namespace, attrib), []

    def data(self, text: str) -> None:
        if self._field is not None and self.depth == self._item_depth + 1:
            self._text.append(text)

    def end(self, tag: str) -> None:
        if self._fields is not None:
            if self.depth == self._item_depth + 1 and self._field is not None:
                self._store(*self._field, "".join(self._text).strip())
                self._field = None
            elif self.depth == self._item_depth:
                self.ready.append(self._product(self._fields))
                self._fields = None
                self.items += 1
        self.depth -= 1

    def close(self) -> None:
        return None

    def _store(self, local: str, namespace: str | None, attrib: Mapping[str, str], text: str) -> None:
        assert self._fields is not None
        if namespace == GOOGLE_NS:
            name = f"g:{local}"
        elif namespace not in (None, _ATOM_NS, _RSS1_NS):
            self._other_ids = self._other_ids or local == "id"
            return
        elif local == "link" and namespace == _ATOM_NS:
            if attrib.get("rel", "alternate") != "alternate":
                return
            name, text = local, (attrib.get("href") or "").strip()
        else:
            name = local
        if text:
            self._fields.setdefault(name, []).append(text)

    def _product(self, fields: dict[str, list[str]]) -> FeedProduct | Problem:
        ids = fields.get("g:id")
        if not ids:
            hint = f" (the g: prefix must stand for {GOOGLE_NS})" if self._other_ids else ""
            return Problem(self._name, self._item_line, f"no <g:id>{hint}")

        def first(*names: str) -> str:
            return next((fields[name][0] for name in names if fields.get(name)), "")

        return FeedProduct(
            self._item_line,
            ids[0],
            first("g:link", "link"),
            first("g:title", "title"),
            tuple(fields.get("g:product_type", ())),
            tuple(fields.get("g:google_product_category", ())),
            first("g:price"),
            first("g:image_link"),
            first("g:availability"),
        )


def _split_tag(tag: str) -> tuple[str | None, str]:
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return namespace, local
    return None, tag


def _read_xml(stream: IO[bytes], head: bytes, encoding: str | None, name: str) -> Iterator[str | FeedProduct | Problem]:
    target = _FeedTarget(name)
    try:
        parser = DefusedXMLParser(target=target, encoding=encoding)
    except LookupError:
        raise FeedError(0, f"unknown encoding {encoding!r}") from None
    target.line = lambda: parser.parser.CurrentLineNumber
    chunk = head
    announced = False
    try:
        while chunk:
            parser.feed(chunk)
            if not announced and target.root is not None:
                yield {"rss": "RSS 2.0 XML", "feed": "Atom XML"}.get(target.root, f"XML <{target.root}>")
                announced = True
            yield from target.ready
            target.ready.clear()
            chunk = stream.read(_CHUNK)
        parser.close()
    except ParseError as exc:
        line = exc.position[0] if getattr(exc, "position", None) else 0
        raise FeedError(line, f"not well-formed XML: {_POSITION.sub('', str(exc))}") from None
    except EntitiesForbidden:
        raise FeedError(
            parser.parser.CurrentLineNumber, "the feed declares XML entities: refused (entities can expand without limit)"
        ) from None
    except ExternalReferenceForbidden:
        raise FeedError(parser.parser.CurrentLineNumber, "the feed refers to an external entity: refused") from None
    except DefusedXmlException as exc:
        raise FeedError(parser.parser.CurrentLineNumber, f"refused: {exc}") from None
    except (LookupError, ValueError) as exc:  # an encoding the XML declaration names that Python lacks
        raise FeedError(1, f"cannot be decoded ({exc})") from None
    if not announced:
        yield f"XML <{target.root}>"
    yield from target.ready
    if not target.items:
        raise FeedError(1, f"no <item> or <entry> elements in <{target.root}>: not an RSS 2.0 or Atom product feed")
