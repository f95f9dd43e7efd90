"""The shop's product catalogue from its product feed (`etalage import-products FEED`).

Shops keep a product feed for Google Merchant Center anyway; it says, for every product, its id,
the URL of its page and where it sits in the shop's taxonomy. Etalage reads it in the formats
Merchant Center takes:

- delimited text with a header row: tab-separated (.txt, .tsv), or comma-, pipe- or
  tilde-separated; the separator is the one that makes an `id` column of the header. Column
  names as Merchant Center spells them: `id`, `link`, `product_type` (or `product type`),
  `google_product_category`, `title`; a `g:` prefix is fine, other columns are ignored.

      id	title	link	product_type	google_product_category
      dog-kibble-5kg	Adult Dog Kibble 5 kg	https://shop.example/p/dog-kibble-5kg	Dogs > Food	3530

- XML: RSS 2.0 (`<item>`) or Atom (`<entry>`) with the namespace
  xmlns:g="http://base.google.com/ns/1.0": `<g:id>`, `<g:link>` or `<link>` (Atom: `<link
  href=...>`), `<g:product_type>` (may repeat), `<g:google_product_category>`, `<g:title>` or
  `<title>`. Parsed as a stream by defusedxml: entity declarations are refused (no "billion
  laughs"), external entities and DTDs are never fetched.

Either may be gzip-compressed. Text is UTF-8 unless a byte-order mark (or, for XML, the XML
declaration) says otherwise; `encoding` overrides that (a Latin-1 feed: "latin-1").

Categories. `product_type` is the shop's own path ("Pets > Dogs > Food"),
`google_product_category` Google's ("Animals & Pet Supplies > Pet Supplies > Dog Supplies") or
its number ("5"). Each product gets one of the site's category slugs: the product_type values
are tried first, then google_product_category; in each path the most specific segment first
(the last one), and at each segment a mapping key wins over a category's own name:

    [catalog_feed]
    categories = { "Dog Supplies" = "dogs", "Pet Supplies > Cat Supplies" = "cats", "5" = "dogs" }

A key is one segment, several consecutive segments ("Pet Supplies > Cat Supplies", which matches
wherever that run of segments ends the part of the path being tried), or a category number;
case, spacing and non-breaking spaces do not matter. Without a mapping key, a segment that is a
category's slug or label ("Dogs") means that category. `--map TEXT=SLUG` on the command line
adds keys and wins over the rules' keys.

The catalogue is written as a rule file (default: catalog-feed.toml in the rules folder): a
[catalog] table of `id = { category = "...", path = "/p/..." }`, `path` being the path of the
product's `link`, so a running Etalage picks it up through its hot reload, learns product views
from product page URLs and finds cards' products by their links. A product also listed in
another rule file's [catalog] (with `lasts_days`, say) gets its keys from both: the rules win
where the feed's category or path disagrees (reported). Before the file replaces the old one
(atomically), the rules folder is loaded with it: a catalogue that would make the folder fail is
not written.

Reported on stdout as FEED:LINE: reason, and exit status 1: bad rows (no id, a repeated id,
wrong number of fields, a link that is no URL of a page), unmapped products and disagreements
with the rules. Notes on stderr (no effect on the status): products whose links share a page.
Exit status 2: nothing written (the feed unreadable or not a feed, no product imported, the
rules folder refused).
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, TextIO
from urllib.parse import quote, urlsplit
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml.ElementTree import DefusedXMLParser

from etalage.rules.model import Product

__all__ = [
    "GOOGLE_NS",
    "FeedProduct",
    "FeedProblem",
    "FeedError",
    "Feed",
    "read_feed",
    "CategoryMap",
    "CatalogImport",
    "build_catalog",
    "render_catalog",
    "write_atomically",
    "import_products",
]

GOOGLE_NS = "http://base.google.com/ns/1.0"
_ATOM_NS = "http://www.w3.org/2005/Atom"
_RSS1_NS = "http://purl.org/rss/1.0/"
_DELIMITERS = ("\t", ",", "|", "~")
_CHUNK = 1 << 20
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_UNSAFE_IN_PATH = re.compile(r"[\s\x00-\x1f\x7f]")
_TITLE_LENGTH = 80
_POSITION = re.compile(r": line \d+, column \d+$")


@dataclass(frozen=True, slots=True)
class FeedProduct:
    line: int  # where the product starts in the feed (its row, or its <item>/<entry>)
    id: str
    link: str = ""
    title: str = ""
    product_types: tuple[str, ...] = ()
    google_categories: tuple[str, ...] = ()

    @property
    def category_texts(self) -> tuple[str, ...]:
        """The category paths to map, in the order they are tried."""
        return self.product_types + self.google_categories


@dataclass(frozen=True, slots=True)
class FeedProblem:
    line: int
    reason: str


class FeedError(Exception):
    """The file cannot be read as a product feed: nothing is imported."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}" if line else reason)
        self.line = line
        self.reason = reason


# ---------------------------------------------------------------------------------------------
# reading


class Feed:
    """A product feed file. Iterating reads it (again) as a stream: its products and bad rows, in
    feed order. Raises FeedError when the file is no feed; `format` names what was found."""

    def __init__(self, path: Path, encoding: str | None = None) -> None:
        self.path = path
        self.encoding = encoding
        self.format = ""

    def __iter__(self) -> Iterator[FeedProduct | FeedProblem]:
        try:
            with open(self.path, "rb") as raw:
                stream: IO[bytes] = raw
                compressed = raw.read(2) == b"\x1f\x8b"
                raw.seek(0)
                if compressed:
                    stream = gzip.open(raw, "rb")  # type: ignore[assignment]
                head = stream.read(512)
                if _looks_like_xml(head):
                    reader = _read_xml(stream, head, self.encoding)
                else:
                    reader = _read_delimited(stream, head, self.encoding)
                kind = next(reader)
                assert isinstance(kind, str)
                self.format = kind + (", gzip-compressed" if compressed else "")
                yield from reader  # type: ignore[misc]
        except (OSError, EOFError) as exc:  # unreadable, or a damaged gzip file
            raise FeedError(0, f"cannot be read ({exc})") from None


def read_feed(path: Path, encoding: str | None = None) -> Feed:
    return Feed(path, encoding)


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


def _read_delimited(stream: IO[bytes], head: bytes, encoding: str | None) -> Iterator[str | FeedProduct | FeedProblem]:
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
                yield FeedProblem(
                    start,
                    f"{len(row)} fields, the header has {len(header)} (a value with an unquoted {_delimiter_name(delimiter)} or line break?)",
                )
                continue

            def cell(name: str) -> str:
                index = columns.get(name)
                return row[index].strip() if index is not None else ""  # noqa: B023  (called within this row)

            product_id = cell("id")
            if not product_id:
                yield FeedProblem(start, "no id")
                continue
            product_type, google = cell("product_type"), cell("google_product_category")
            yield FeedProduct(
                start, product_id, cell("link"), cell("title"), (product_type,) if product_type else (), (google,) if google else ()
            )
    except csv.Error as exc:
        raise FeedError(header_line + reader.line_num - 1, f"malformed text ({exc})") from None


def _delimiter_name(delimiter: str) -> str:
    return {"\t": "tab", ",": "comma", "|": "pipe", "~": "tilde"}[delimiter]


class _FeedTarget:
    """Collects the products of an RSS or Atom feed as the parser streams it (direct children of
    each <item> or <entry> only: nested values such as <g:shipping><g:country> are not fields)."""

    def __init__(self) -> None:
        self.line: Callable[[], int] = lambda: 0
        self.depth = 0
        self.root: str | None = None
        self.items = 0
        self.ready: list[FeedProduct | FeedProblem] = []
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

    def _product(self, fields: dict[str, list[str]]) -> FeedProduct | FeedProblem:
        ids = fields.get("g:id")
        if not ids:
            hint = f" (the g: prefix must stand for {GOOGLE_NS})" if self._other_ids else ""
            return FeedProblem(self._item_line, f"no <g:id>{hint}")

        def first(*names: str) -> str:
            return next((fields[name][0] for name in names if fields.get(name)), "")

        return FeedProduct(
            self._item_line,
            ids[0],
            first("g:link", "link"),
            first("g:title", "title"),
            tuple(fields.get("g:product_type", ())),
            tuple(fields.get("g:google_product_category", ())),
        )


def _split_tag(tag: str) -> tuple[str | None, str]:
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return namespace, local
    return None, tag


def _read_xml(stream: IO[bytes], head: bytes, encoding: str | None) -> Iterator[str | FeedProduct | FeedProblem]:
    target = _FeedTarget()
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


# ---------------------------------------------------------------------------------------------
# categories


def _normal(text: str) -> str:
    return " ".join(text.replace("\u00a0", " ").split()).casefold()


def _segments(text: str) -> list[str]:
    return [segment for segment in (_normal(part) for part in text.split(">")) if segment]


class CategoryMap:
    """Which of the site's categories a product's feed categories mean (see the module docstring)."""

    def __init__(self, mapping: Mapping[str, str], labels: Mapping[str, str]) -> None:
        self._keys = {" > ".join(_segments(text)): slug for text, slug in mapping.items() if _segments(text)}
        self._names: dict[str, str] = {}
        for slug, label in labels.items():
            self._names.setdefault(_normal(slug), slug)
            self._names.setdefault(_normal(label), slug)

    def category(self, texts: Iterable[str]) -> str | None:
        texts = tuple(texts)
        for text in texts:
            found = self._path(text)
            if found is not None:
                return found
        # Text feeds may list several product types in one cell, separated by commas.
        for text in texts:
            if "," in text:
                for part in text.split(","):
                    found = self._path(part)
                    if found is not None:
                        return found
        return None

    def _path(self, text: str) -> str | None:
        segments = _segments(text)
        for depth in range(len(segments), 0, -1):
            for width in range(depth, 0, -1):  # the longest run of segments ending here first
                slug = self._keys.get(" > ".join(segments[depth - width : depth]))
                if slug is not None:
                    return slug
            slug = self._names.get(segments[depth - 1])
            if slug is not None:
                return slug
        return None


# ---------------------------------------------------------------------------------------------
# the catalogue


@dataclass(frozen=True, slots=True)
class _Entry:
    id: str
    category: str | None
    path: str | None
    title: str


@dataclass
class CatalogImport:
    format: str = ""
    products: int = 0  # products read from the feed
    unmapped: int = 0  # products left out for want of a category
    entries: list[_Entry] = field(default_factory=list)
    problems: list[FeedProblem] = field(default_factory=list)
    notes: list[FeedProblem] = field(default_factory=list)


def _page_path(link: str) -> str | None:
    """The path to write for a product's link: the link's path, as the feed spells it."""
    if not link:
        return None
    try:
        parts = urlsplit(link)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    path = _UNSAFE_IN_PATH.sub(lambda m: quote(m.group()), parts.path or "/")
    return path if not path.startswith("//") else None


def build_catalog(items: Iterable[FeedProduct | FeedProblem], categories: CategoryMap, known: Mapping[str, Product]) -> CatalogImport:
    """The catalogue entries for the feed's products. `known` is the rules' own [catalog] (the
    generated file left out): where it gives a product's category or path, that stays."""
    result = CatalogImport()
    seen: dict[str, int] = {}
    known_pages = {Product.page_key(p.path): product_id for product_id, p in known.items() if p.path}
    candidates: list[tuple[FeedProduct, str | None, str | None]] = []
    for item in items:
        if isinstance(item, FeedProblem):
            result.problems.append(item)
            continue
        result.products += 1
        if item.id in seen:
            result.problems.append(FeedProblem(item.line, f"product {item.id!r} is listed again (first at line {seen[item.id]}); left out"))
            continue
        seen[item.id] = item.line
        product = known.get(item.id)
        category = categories.category(item.category_texts)
        if product is not None and category is not None and category != product.category:
            result.problems.append(
                FeedProblem(
                    item.line,
                    f"product {item.id!r}: the feed's category maps to {category!r}, but the rules' [catalog] puts it in {product.category!r}; kept {product.category!r}",
                )
            )
            category = None
        elif product is not None and category is None:
            pass  # the rules give it
        elif category is None:
            result.problems.append(FeedProblem(item.line, _unmapped(item)))
            result.unmapped += 1
            continue
        path = _page_path(item.link)
        if item.link and path is None:
            result.problems.append(
                FeedProblem(item.line, f"product {item.id!r}: link {item.link!r} is not the http(s) URL of a page; no path written")
            )
        elif path == "/":
            result.problems.append(
                FeedProblem(item.line, f"product {item.id!r}: link {item.link!r} is the shop's home page; no path written")
            )
            path = None
        if path is not None and product is not None and product.path is not None:
            if Product.page_key(path) != Product.page_key(product.path):
                result.problems.append(
                    FeedProblem(
                        item.line,
                        f"product {item.id!r}: the feed's link path {path!r} differs from 'path' {product.path!r} in the rules' [catalog]; kept {product.path!r}",
                    )
                )
                path = None
            else:
                path = product.path  # the same page: spelled as the rules spell it, so the two agree
        if path is not None:
            owner = known_pages.get(Product.page_key(path))
            if owner is not None and owner != item.id:
                result.problems.append(
                    FeedProblem(
                        item.line,
                        f"product {item.id!r}: link path {path!r} is the page of product {owner!r} in the rules' [catalog]; no path written",
                    )
                )
                path = None
        candidates.append((item, category, path))
    # Several products on one page (the product in the query string, say): none of them gets it.
    pages: dict[str | None, list[FeedProduct]] = {}
    for item, _category, path in candidates:
        if path is not None:
            pages.setdefault(Product.page_key(path), []).append(item)
    for page, sharing in pages.items():
        if len(sharing) > 1:
            others = ", ".join(repr(other.id) for other in sharing[1:4]) + (", ..." if len(sharing) > 4 else "")
            result.notes.append(
                FeedProblem(
                    sharing[0].line,
                    f"note: {len(sharing)} products link to the page {page!r} ({sharing[0].id!r}, {others}): no path written for them; their views are not learned from the URL",
                )
            )
    for item, category, path in candidates:
        if path is not None and len(pages[Product.page_key(path)]) > 1:
            path = None
        if category is not None or path is not None:
            result.entries.append(_Entry(item.id, category, path, item.title))
    return result


def _unmapped(item: FeedProduct) -> str:
    said = [f"product_type {text!r}" for text in item.product_types] + [
        f"google_product_category {text!r}" for text in item.google_categories
    ]
    what = " / ".join(said) if said else "no product_type or google_product_category"
    return f"no category for product {item.id!r} ({what}); left out (map it in [catalog_feed] categories, or with --map 'TEXT=CATEGORY')"


def _toml_string(text: str) -> str:
    escaped = []
    for char in text:
        if char in '"\\':
            escaped.append("\\" + char)
        elif char in "\b\t\n\f\r":
            escaped.append({"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            escaped.append(f"\\u{ord(char):04x}")
        else:
            escaped.append(char)
    return '"' + "".join(escaped) + '"'


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _toml_string(key)


def _one_line(text: str) -> str:
    """`text` fit for a TOML comment: no control characters, runs of white space as one space."""
    return " ".join("".join(" " if ord(c) < 0x20 or ord(c) == 0x7F else c for c in text).split())


def _comment(text: str) -> str:
    text = _one_line(text)
    return text if len(text) <= _TITLE_LENGTH else text[: _TITLE_LENGTH - 3].rstrip() + "..."


def render_catalog(result: CatalogImport, feed: str, when: datetime) -> str:
    """The catalogue as a rule file."""
    stamp = when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    lines = [
        f"# Generated by `etalage import-products` from {_one_line(feed)} on {stamp}:",
        f"# {len(result.entries)} product(s) of {result.products} in the feed ({result.format}).",
        "# Do not edit: the next import replaces this file. Keys the feed does not give (lasts_days)",
        "# go in another rule file's [catalog]; a product's keys from both are merged.",
        "",
        "[catalog]",
    ]
    for entry in result.entries:
        values = []
        if entry.category is not None:
            values.append(f"category = {_toml_string(entry.category)}")
        if entry.path is not None:
            values.append(f"path = {_toml_string(entry.path)}")
        title = _comment(entry.title)
        lines.append(f"{_toml_key(entry.id)} = {{ {', '.join(values)} }}" + (f"  # {title}" if title else ""))
    return "\n".join(lines) + "\n"


def write_atomically(path: Path, text: str) -> None:
    """Replace `path` with `text` in one step: a reader (the hot reload) sees the old file or the
    new one, never half of it. The temporary file's name does not end in .toml."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        os.replace(temporary, path)
    except BaseException:
        with _suppress_os_error():
            os.unlink(temporary)
        raise


class _suppress_os_error:
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type | None, *_: object) -> bool:
        return kind is not None and issubclass(kind, OSError)


# ---------------------------------------------------------------------------------------------
# the command


def parse_mapping(pairs: Iterable[str]) -> dict[str, str]:
    """--map TEXT=SLUG arguments; ValueError for one without '='."""
    mapping = {}
    for pair in pairs:
        text, equals, slug = pair.rpartition("=")
        if not equals or not text.strip() or not slug.strip():
            raise ValueError(f"--map {pair!r}: write it as TEXT=CATEGORY, e.g. --map 'Dog Supplies=dogs'")
        mapping[text.strip()] = slug.strip()
    return mapping


def import_products(
    feed: Path,
    rules: Path,
    out_file: Path | None = None,
    *,
    overrides: Mapping[str, str] | None = None,
    encoding: str | None = None,
    now: datetime | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """`etalage import-products`: problems on `out` (FEED:LINE: reason), notes and the summary on
    `err`. Exit status: 0 written, 1 written with problems, 2 nothing written. Raises
    RuleSetError when the rules folder (without the generated file) does not load."""
    from etalage.rules.fields import RuleSetError
    from etalage.rules.loader import load_rules

    out = out or sys.stdout
    err = err or sys.stderr
    target = out_file if out_file is not None else rules / "catalog-feed.toml"
    inside = target.resolve().parent == rules.resolve() and target.suffix == ".toml"
    with tempfile.TemporaryDirectory(prefix="etalage-import-") as scratch:
        # The rules as they are without the generated file: their categories, [catalog_feed] and
        # their own [catalog]. The copy keeps the folder's name, so messages name the real files.
        copy = Path(scratch) / rules.resolve().name
        if inside:
            top = rules.resolve()
            shutil.copytree(
                rules, copy, ignore=lambda folder, names: [target.name] if Path(folder).resolve() == top and target.name in names else []
            )
            ruleset = load_rules(copy)
        else:
            ruleset = load_rules(rules)
        labels = ruleset.site.labels
        mapping = dict(getattr(ruleset.catalog, "feed_categories", {}))
        for text, slug in (overrides or {}).items():
            if slug not in labels:
                print(
                    f"etalage import-products: --map {text}={slug}: unknown category {slug!r} (categories are: {', '.join(labels)})",
                    file=err,
                )
                return 2
            mapping[text] = slug
        reading = Feed(feed, encoding)
        try:
            result = build_catalog(reading, CategoryMap(mapping, labels), ruleset.catalog)
        except FeedError as exc:
            where = f"{feed}:{exc.line}" if exc.line else str(feed)
            print(f"{where}: {exc.reason}", file=out)
            print(f"etalage import-products: {feed} is not a readable product feed; nothing written", file=err)
            return 2
        result.format = reading.format
        for problem in result.problems:
            print(f"{feed}:{problem.line}: {problem.reason}", file=out)
        for note in result.notes:
            print(f"{feed}:{note.line}: {note.reason}", file=err)
        if not result.entries:
            print(f"etalage import-products: no product of {feed} could be imported; {target} left as it was", file=err)
            return 2
        text = render_catalog(result, str(feed), now or datetime.now(UTC))
        if inside:
            (copy / target.name).write_text(text, encoding="utf-8")
            try:
                load_rules(copy)
            except RuleSetError as exc:
                for problem in exc.problems:
                    print(problem, file=out)
                print(f"etalage import-products: the rules folder would not load with this catalogue; {target} left as it was", file=err)
                return 2
    write_atomically(target, text)
    left_out = len(result.problems)
    print(
        f"etalage import-products: {feed}: {len(result.entries)} product(s) written to {target}"
        + (f"; {left_out} problem(s) reported ({result.unmapped} unmapped)" if left_out else ""),
        file=err,
    )
    return 1 if result.problems else 0
