"""Where the blocks of an origin page are, in bytes, so Etalage can edit them without re-serializing.

Re-serializing a page with selectolax (lexbor) changes bytes all over it (doctype, quoting,
entities, whitespace, BOM, noscript in head...), so Etalage never does that: it LOCATES blocks
with lexbor, SPLICES the original bytes, and trusts a byte range only once lexbor has VERIFIED it.

Locate. lexbor answers the CSS selectors: a block's container is the first match in document
order, its items the container's direct element children that match the item selector. lexbor
keeps no source offsets, so the k-th element named `div` in tree order is taken to be the k-th
`<div` start tag that `etalage.html.tagscan` finds in the bytes (outside comments, raw text and template
content); end tags are found by counting nested tags of the same name, an element without one
ends where the next element starts. This mapping is deliberately naive: parser-created and
adoption-agency-cloned elements break it, and verification catches that. A container that is void,
or that holds code or raw text (script, style, noscript, iframe...), is refused: actions write
HTML there, escaped for HTML, which is no protection inside a script or a style sheet.

Verify. A *skeleton* of the page is spliced from the original bytes and parsed: each block's
inner range becomes `<!--etalage:N-->` (for item blocks each item becomes `<!--etalage:N.J-->`
and the text between items stays), ` data-etalage-probe="N"` goes right before `tag_end`. Its
serialization must equal that of the original tree after the same changes were made through
the DOM (`inner_html`, `replace_with`, setting the attribute). Equal trees mean the bytes outside
the ranges build what they built before, the ranges hold exactly the container's content / the
items (nothing crosses a boundary: foster parenting, adoption-agency clones, tokenizer states,
implied end tags), and an attribute inserted at tag_end lands on the container. Comparing two
serializations is C work; walking both trees in Python would cost more than the parses.
Item blocks get a second, smaller skeleton (the whole inner range replaced) so that inner_start
and inner_end are checked as well. Blocks that nest or overlap go into separate skeletons
("layers"); normally one skeleton parse serves all blocks of a page. When a layer fails, each of
its blocks is checked alone (two parses each), so one bad block does not take the others down.
Blocks only share a skeleton when the tree has exactly one formatting element (and form) per
start tag: otherwise a range that leaves `<b>` open could put clones inside another block's range,
where a shared skeleton cannot see them.

Reordering items needs more than their ranges, as the skeleton is checked in the original order
only. So an item block is also refused when an item or the text between items leaves a
formatting element or `<form>` open (the active-formatting list and the form pointer outlive an
item), when an end tag after an item closes nothing there (it may belong to the item), when items
hold `<html>`, `<body>` or `<frameset>` start tags (their effect depends on what came first), and
when items without end tags are mixed with text, of mixed kinds, or of a kind a sibling does not
close. If the last item has no end tag, one extra full parse checks that it still ends when moved
to the front (`<li>b<article>x` is closed by `</ul>`, but a following `<li>` would nest).

Outside the block and its attributes ride along in skeleton 1, at no extra parse. Before and
after (Block.start / Block.end, for content inserted as the container's previous / next sibling):
marker ELEMENTS go right before the start tag and right after the end tag, and `insert_before` /
`insert_after` put the same elements in the DOM. Elements, not comments: like inserted content
they are foster-parented out of a table and make the parser reconstruct formatting elements left
open, which comments do not. The skeleton replaces the block's content, so what the content
leaves behind for `end` is checked in the bytes: every element opened in it must be closed there,
in order (an unclosed `<table>` would swallow what follows; strict, `<td>` without `</td>` fails).
And the place must take a `<div>` as a visible sibling: no ancestor from the list below nor a `<p>`
(a `<div>` closes it), and the parent no table part (table, tbody, thead, tfoot, tr, colgroup: a
`<div>` would be foster-parented away) and no list (ul, ol, menu: it would not be a list item).
Attributes (Block.attrs, read as the tokenizer reads them): each attribute's range becomes
` name=""` (a later duplicate, which the parser drops, becomes a space) and the DOM gets the same
empty values, so each range holds exactly one whole attribute. When a check fails, the block is
checked again without these extras (then with the attributes only): it stays usable inside, and
start/end (and, if need be, attrs) become None.

body_end is checked with a marker comment in a skeleton: it must land inside `<body>`, not under
an element where an inserted `<div>` would be swallowed, become link or button content, be hidden
or dropped (a, button, select, option, label, details, template, svg, math...). It shares a
skeleton with blocks only when a start tag separates it from every replaced range before it (a
range could leave an open `<template>` or raw-text state that nothing after it shows otherwise).

Fail open: a block that cannot be located and verified is absent from the layout, with one short
reason in `problems`; the caller leaves that part of the page as the origin sent it. analyse()
catches everything: on any input it returns a layout. A page past MAX_ELEMENTS or MAX_DEPTH is
refused whole after the tag scan, before any parse (`too_complex`): lexbor's tree construction
takes time in depth times elements, and 100,000 nested <div>s took 93 s to analyse.

Item attributes, links (`a[href]` inside an item) and fields (an inner element's attribute or
text, BlockSpec.item_fields) are read from lexbor's tree of the original page while locating,
before any check edits it. They are only handed out for verified blocks, and verification shows
that each item's range holds exactly that item's subtree: they are what the item's bytes say,
wherever the items are moved.

Bytes only: offsets are in the original body. lexbor parses with `scripting=True` (a
`<noscript>` is raw text, as in a browser that runs scripts). The page's encoding, as the caller
found it the browsers' way (`charset`: charset_of() of the Content-Type header and the body), decides
how values decode: a UTF-8 page (or one that declares nothing) goes to lexbor as it is, with
`encoding=True` (a `<meta charset>` honoured; without one lexbor reads UTF-8, which tokenizes every
ASCII-compatible page the same way); a page in another encoding is decoded with it and handed over as
UTF-8 (lexbor never sees the header, and reads iso-8859-1 as Latin-1 where browsers read
windows-1252), the skeletons too, so card values read what the visitor's browser shows. A UTF-8 BOM is
cut off before parsing (lexbor would lose the doctype). UTF-16 pages and pages with NUL bytes are not analysed.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from itertools import accumulate, chain, repeat
from operator import itemgetter
from types import MappingProxyType

from selectolax.lexbor import LexborHTMLParser, LexborNode

from etalage.html.tagscan import FORMATTING, TagScan, scan, start_tag

__all__ = [
    "ItemField",
    "BlockSpec",
    "Item",
    "Block",
    "PageLayout",
    "Edit",
    "analyse",
    "splice",
    "reorder_items",
    "item_pieces",
    "charset_of",
    "miss_reason",
    "MISS_REASONS",
    "MAX_ELEMENTS",
    "MAX_DEPTH",
]

_EMPTY: Mapping[str, str] = MappingProxyType({})
_NO_BLOCKS: Mapping[str, Block] = MappingProxyType({})
_NO_FIELDS: Mapping[ItemField, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class ItemField:
    """A value read from inside each item: real shops put a card's product and category on an inner
    element (a form's action, a badge's text), not on the card itself."""

    selector: str  # CSS selector of the element inside the item; its first match (the item itself included)
    attribute: str | None  # the attribute to read; None: the element's text


@dataclass(frozen=True, slots=True)
class BlockSpec:
    name: str  # block name from the rule files, e.g. "popular"
    selector: str  # CSS selector of the container; the FIRST match in document order is the block
    item_selector: str | None = None  # direct element children of the container matching it are the items
    item_attrs: tuple[str, ...] = ()  # attribute names to read from each item
    item_links: bool = False  # read each item's links (Item.links)
    item_fields: tuple[ItemField, ...] = ()  # values to read from inside each item (Item.fields)


@dataclass(frozen=True, slots=True)
class Item:
    start: int  # byte offset of the item's start tag '<'
    end: int  # byte offset just past the item's end (its end tag, or where it implicitly ends)
    attrs: Mapping[str, str]  # the requested item_attrs that are present (values as lexbor decoded them)
    # With spec.item_links: the hrefs of the item's `a[href]` elements (the item itself first if it
    # is one), in document order, as lexbor decoded them, stripped; empty ones left out.
    links: tuple[str, ...] = ()
    # The requested spec.item_fields that were found (values as lexbor decoded them; text with its
    # white space collapsed); empty ones left out.
    fields: Mapping[ItemField, str] = field(default_factory=lambda: _NO_FIELDS)


@dataclass(frozen=True, slots=True)
class Block:
    name: str
    tag_end: int  # offset of the '>' ending the container's start tag (insert attributes right before it)
    inner_start: int  # just after the start tag
    inner_end: int  # start of the container's end tag, or where its content implicitly ends
    items: tuple[Item, ...]  # in document order; empty unless item_selector was given
    # The page the offsets point into (reorder_items copies item bytes from it). Not part of
    # equality or repr; a Block built by hand without it cannot be reordered.
    source: bytes = field(default=b"", repr=False, compare=False)
    # Outside the block: `start` is the '<' of the container's start tag, `end` just past its end
    # tag. Each is None unless content inserted there is verified to become the container's
    # previous / next sibling (`end` is also None when the container has no end tag).
    start: int | None = None
    end: int | None = None
    # The container's attributes: lower-case name -> (start, end) of the whole attribute in the
    # start tag, leading whitespace included: replacing the range by ` name="value"` replaces
    # it, by one space removes it (not by nothing: `a=1 b=2c=3` would become `a=1c=3`). The
    # first of duplicated names, as browsers keep it. None when the start tag could not be read
    # with certainty: then no attribute may be added or replaced.
    attrs: Mapping[str, tuple[int, int]] | None = None


@dataclass(frozen=True, slots=True)
class PageLayout:
    body: bytes
    blocks: Mapping[str, Block]  # only blocks located AND verified
    body_end: int | None  # where to insert "before </body>"; None when that would not land inside <body>
    problems: tuple[str, ...]  # one short reason per spec that could not be located
    # Why the whole page was refused before any parse (past MAX_ELEMENTS or MAX_DEPTH), else None.
    too_complex: str | None = None


@dataclass(frozen=True, slots=True)
class Edit:
    start: int
    end: int  # start == end means insertion
    data: bytes
    # An insertion that belongs to what comes before it (content placed after a block): at one
    # offset it goes first, so that what belongs to the next block (a label before a list) stays
    # next to it.
    trailing: bool = False


# ---------------------------------------------------------------------------------------------
# splice / reorder


def splice(body: bytes, edits: Iterable[Edit]) -> bytes:
    """Apply non-overlapping edits to `body`.

    Edits are applied in order of `start`; at one offset insertions come before a replacement
    that starts there, trailing insertions before the others, and otherwise insertions keep the
    order they were given in. Overlapping edits, or
    edits outside the body, raise ValueError. Cost: one join of slices, O(number of edits).
    """
    ordered = sorted(edits, key=_edit_order)
    if not ordered:
        return bytes(body)
    view = memoryview(body)
    size = len(view)
    parts: list[bytes | memoryview] = []
    pos = 0
    for edit in ordered:
        start, end = edit.start, edit.end
        if start < pos or end < start or end > size:
            if start < 0 or end < start or end > size:
                raise ValueError(f"edit {start}..{end} is outside the body (0..{size}) or reversed")
            raise ValueError(f"edit {start}..{end} overlaps an earlier edit ending at {pos}")
        if start > pos:
            parts.append(view[pos:start])
        parts.append(edit.data)
        pos = end
    if pos < size:
        parts.append(view[pos:])
    return b"".join(parts)


def _edit_order(edit: Edit) -> tuple[int, bool, bool]:
    return edit.start, edit.end != edit.start, not edit.trailing


def item_pieces(block: Block) -> tuple[tuple[bytes, ...], tuple[bytes, ...]]:
    """The bytes of each item, and of what lies between item k and item k + 1: what reorder_items
    joins. Worth keeping with a block that is reordered on every view."""
    if not block.source and block.items:
        raise ValueError("block has no source bytes (was it made by analyse()?)")
    source, items = block.source, block.items
    cards = tuple(source[item.start : item.end] for item in items)
    gaps = tuple(source[item.end : following.start] for item, following in zip(items, items[1:]))
    return cards, gaps


def reorder_items(block: Block, order: Sequence[int], pieces: tuple[tuple[bytes, ...], tuple[bytes, ...]] | None = None) -> list[Edit]:
    """Edits that put item `order[k]` into the k-th item slot.

    `order` must be a permutation of range(len(block.items)). Only the item ranges are
    rewritten: whitespace, text and other nodes between items stay where they are. The result is
    one edit from the first slot whose item moves to the last one (none when nothing moves): one
    join, however many items move. `pieces` is item_pieces(block), when the caller keeps it.
    """
    count = len(block.items)
    if len(order) != count or sorted(order) != list(range(count)):
        raise ValueError(f"order must be a permutation of range({count})")
    first = next((slot for slot in range(count) if order[slot] != slot), None)
    if first is None:
        return []
    last = next(slot for slot in reversed(range(count)) if order[slot] != slot)
    cards, gaps = pieces if pieces is not None else item_pieces(block)
    parts = [b""] * (2 * (last - first) + 1)
    parts[0::2] = [cards[index] for index in order[first : last + 1]]
    parts[1::2] = gaps[first:last]
    items = block.items
    return [Edit(items[first].start, items[last].end, b"".join(parts))]


# ---------------------------------------------------------------------------------------------
# analyse

_VOID = frozenset("area base basefont bgsound br col embed frame hr image img input keygen link meta param source track wbr".split())
# Elements whose content the tokenizer does not read as HTML (raw text; noscript too, as scripting
# is on) or that hold code: a template's escaped text would be script or styles there.
_NOT_HTML_INSIDE = frozenset("script style xmp iframe noembed noframes noscript plaintext".split())
# Elements that the start tag of a sibling of the same name closes.
_CLOSED_BY_SIBLING = frozenset("li p dt dd option optgroup tr td th rb rt rtc rp".split())
# Where an inserted <div> would not be a visible, independent part of <body> (the children of
# video, audio and canvas are fallback content, not shown).
_NO_INSERT_UNDER = frozenset(
    "a button select option optgroup datalist label details summary dialog object template noscript svg math head "
    "video audio canvas".split()
)
# Parents beside whose children content is not inserted (before / after a block): a <div> there
# would be foster-parented out of a table or dropped, or it would not be a list item.
# Not checked for pairs of start and end tags: void elements, and those "generate implied end
# tags" closes (an end tag after them ends them).
_NOT_PAIRED = frozenset(name.encode() for name in _VOID | set("dd dt li optgroup option p rb rp rt rtc".split()))
# Not counted in the nesting depth: void elements and those whose end tag may be omitted.
_NOT_NESTING = _NOT_PAIRED | frozenset(b"html head body colgroup caption thead tbody tfoot tr td th".split())
# HTML start tags that end foreign content (svg, math) where they appear (font only with some
# attributes, counted always here), and the elements in which content is HTML again.
_BREAKOUT = frozenset(
    b"b big blockquote body br center code dd div dl dt em embed h1 h2 h3 h4 h5 h6 head hr i img li listing menu meta "
    b"nobr ol p pre ruby s small span strong strike sub sup table tt u ul var font".split()
)
_INTEGRATION_POINTS = (b"foreignobject", b"desc", b"title", b"mi", b"mo", b"mn", b"ms", b"mtext", b"annotation-xml")
_NO_INSERT_BESIDE = frozenset("table tbody thead tfoot tr colgroup ul ol menu".split())
_END_TAG_NAME = re.compile(rb"</([a-z][^\t\n\f\r />]*)")
_PROBE_ATTR = "data-etalage-probe"
_END_MARKER = "etalage:end"


# Past these a page is refused whole, before lexbor parses it. lexbor's tree construction costs
# time in the nesting depth for each element (scope checks walk the stack of open elements): a
# parse of 10,000 nested <div>s took 0.3 s, of 100,000 some 30 s, and an analysis makes several.
# Real shop pages hold a few thousand elements nested a few dozen deep; Blink's parser stops
# nesting at 512, so past that lexbor's tree is not even the one the browser builds.
MAX_ELEMENTS = 30_000
MAX_DEPTH = 512


def analyse(
    body: bytes, specs: Sequence[BlockSpec], *, charset: str | None = None, max_elements: int = MAX_ELEMENTS, max_depth: int = MAX_DEPTH
) -> PageLayout:
    """Locate and verify the blocks of `specs` in `body`, in the encoding `charset` (charset_of()'s
    Python codec name; None: as lexbor detects it). Never raises.

    See the module docstring for how; `problems` holds one reason per spec that is absent. A page
    with more than `max_elements` start (or end) tags, or nested deeper than `max_depth` as the tag
    scanner sees it (_deeper_than), is refused whole after the scan, which costs time linear in
    its size: `too_complex` says why, and no block is located.
    """
    body = bytes(body)
    try:
        specs = tuple(specs)
    except Exception as exc:  # a broken iterable of specs: nothing to locate
        return PageLayout(body, _NO_BLOCKS, None, (f"specs unusable ({type(exc).__name__})",))
    try:
        unanalysable = _unanalysable(body)
        if unanalysable:
            return PageLayout(body, _NO_BLOCKS, None, tuple(f"{s.name}: {unanalysable}" for s in specs))
        analysis = _Analysis(body, specs, None if charset in (None, "utf-8", "ascii") else charset)
        too_complex = _too_complex(analysis.scan, max_elements, max_depth)
        if too_complex:
            return PageLayout(body, _NO_BLOCKS, None, tuple(f"{s.name}: {too_complex}" for s in specs), too_complex)
        return analysis.run()
    except Exception as exc:  # fail open: a bug or a lexbor surprise must not break the page
        reason = f"analysis failed ({type(exc).__name__}: {exc})"[:200]
        return PageLayout(body, _NO_BLOCKS, None, tuple(f"{_spec_name(s)}: {reason}" for s in specs) or (reason,))


def _too_complex(scan_: TagScan, max_elements: int, max_depth: int) -> str | None:
    """Why the page is past the bounds analyse() takes on, or None."""
    for tags, what in ((scan_.starts, "start"), (scan_.ends, "end")):
        found = sum(map(len, tags.values()))
        if found > max_elements:
            return f"page too complex: {found} {what} tags (limit {max_elements})"
    if _deeper_than(scan_, max_depth):
        return f"page too complex: elements nested more than {max_depth} deep"
    return None


def _deeper_than(scan_: TagScan, limit: int) -> bool:
    """Whether elements nest more than `limit` deep, as the tags say (_stack_deeper_than). Pages
    well within the limit, nearly all, are told apart by _nesting_bound alone, at a tenth of
    the cost of a walk through the tags."""
    return _nesting_bound(scan_) > limit and _stack_deeper_than(scan_, limit)


_STEP = (-1, 1)  # an end tag, a start tag


def _nesting_bound(scan_: TagScan) -> int:
    """At least the greatest depth _stack_deeper_than finds, in C loops.

    Per name, a count that every start tag raises and every end tag lowers, never below zero,
    is never less than the number of elements of that name on the stack (an end tag closes one
    of its own name, or nothing when none is open; other end tags, breakouts and self-closing tags
    in foreign content only close or open fewer). The stack is never deeper than the sum of
    these counts' maximums. Such a count is at most its running sum (highest just after a start
    tag) minus the lowest running sum, if below zero (lowest just after an end tag).
    """
    bound = 0
    ends = scan_.ends
    for name, opened in scan_.starts.items():
        if name in _NOT_NESTING:
            continue
        closed = ends.get(name)
        if not closed:
            bound += len(opened)
            continue
        if len(opened) == len(closed):
            paired = list(chain.from_iterable(zip(opened, closed)))
            if paired == sorted(paired):  # start, end, start, end...: the running sum below is 1, 0, 1, 0...
                bound += 1
                continue
        # the running sum over this name's tags in source order (+1 for a start tag, -1 for an end tag)
        starting = set(opened)
        running = list(accumulate(map(_STEP.__getitem__, map(starting.__contains__, sorted(opened + closed)))))
        highest, lowest = max(running), min(running)
        bound += highest - min(lowest, 0)
    return bound


def _stack_deeper_than(scan_: TagScan, limit: int) -> bool:
    """Whether elements nest more than `limit` deep, as the tags say.

    A stack of open elements, as the parser keeps one: an end tag pops up to the element of its
    name (closing what was left open inside it) and is ignored when none is open. Elements whose
    end tags may be omitted (p, li, td, tr...) and void ones are not counted, as a sibling closes
    them; so a real page comes out a little shallower or deeper than it is, while a chain of
    nested <div>s (or of unclosed <b>s) counts in full. In <svg> and <math> a start tag ending
    `/>` opens nothing (an illustration of a thousand `<path/>`s is flat), unless an HTML
    integration point (foreignObject...) is open, where HTML ignores the slash; and an HTML tag
    that breaks out of foreign content (div, p, b...) closes it, so `<svg><div><path/>` nests
    again. Linear in the number of tags.
    """
    starts, ends = scan_.starts, scan_.ends
    events = sorted(
        [(at, 0, name) for name, positions in starts.items() if name not in _NOT_NESTING or name in _BREAKOUT for at in positions]
        + [(at, 1, name) for name, positions in ends.items() if name not in _NOT_NESTING for at in positions]
    )
    self_closing = set(scan_.self_closing)
    stack: list[bytes] = []
    open_by_name: dict[bytes, int] = {}

    def pop_to(name: bytes) -> None:
        while (top := stack.pop()) != name:
            open_by_name[top] -= 1
        open_by_name[name] -= 1

    def foreign() -> bool:
        return bool(open_by_name.get(b"svg") or open_by_name.get(b"math"))

    for at, closing, name in events:
        if closing:
            if open_by_name.get(name):
                pop_to(name)
            continue
        if foreign() and not any(open_by_name.get(point) for point in _INTEGRATION_POINTS):
            if name in _BREAKOUT:
                while foreign():
                    pop_to(next(top for top in reversed(stack) if top in (b"svg", b"math")))
            elif at in self_closing:
                continue
        if name in _NOT_NESTING:
            continue
        stack.append(name)
        open_by_name[name] = open_by_name.get(name, 0) + 1
        if len(stack) > limit:
            return True
    return False


def _spec_name(spec: object) -> str:
    return str(getattr(spec, "name", "?"))


def _is(node: LexborNode | None, other: LexborNode) -> bool:
    """Whether `node` is the element `other` is: selectolax's == compares serialized HTML, which costs two
    serializations and takes two elements with the same markup for one (a card's inner list for the grid)."""
    return node is not None and node.mem_id == other.mem_id


def _parse(data: bytes, codec: str | None) -> LexborHTMLParser:
    """lexbor's tree of `data`. With `codec`, the page's encoding as browsers take it when it is not UTF-8
    (from the Content-Type header, which lexbor never sees, or a label lexbor reads otherwise: Latin-1
    for iso-8859-1, where browsers read windows-1252), the bytes are decoded with it and parsed as UTF-8:
    ASCII-compatible encodings tokenize alike, so the tree is the same, and its values are the browser's."""
    if codec is None:
        return LexborHTMLParser(data, scripting=True, encoding=True)
    return LexborHTMLParser(data.decode(codec, "replace").encode("utf-8"), scripting=True)


@dataclass(slots=True)
class _Candidate:
    """A block located in the bytes, not verified yet."""

    index: int  # position in specs
    spec: BlockSpec
    lt: int  # '<' of the container's start tag
    block: Block
    item_nodes: list[LexborNode]  # lexbor nodes of the items (for the DOM side of the check)
    node: LexborNode  # lexbor node of the container
    rotate: bool = False  # the last item has no end tag: check that it still ends when moved
    # Every attribute of the start tag, duplicates too: (name, start, end, is the first of its name).
    attr_ranges: Sequence[tuple[str, int, int, bool]] = ()

    @property
    def span(self) -> tuple[int, int]:
        return self.lt, self.block.inner_end


class _Refused(Exception):
    """A spec that cannot be located; the message is the reason."""


class _Analysis:
    """One analysis of one analysable page (see _unanalysable)."""

    def __init__(self, body: bytes, specs: tuple[BlockSpec, ...], codec: str | None = None) -> None:
        self.body = body
        self.specs = specs
        self.codec = codec  # see _parse
        self.base = 3 if body.startswith(b"\xef\xbb\xbf") else 0
        self.data = body[self.base :] if self.base else body
        self.scan: TagScan = scan(body, self.base)
        self.end_pos = self._body_end_candidate()
        self.shared = True
        # Keyed by mem_id: selectolax compares nodes by their serialized HTML (two serializations per
        # lookup, and two elements with the same markup are equal); mem_id is the element itself.
        self._indexes: dict[str, dict[int, int]] = {}
        self._formatting: tuple[list[int], list[tuple[int, bytes]], list[int]] | None = None  # see _formatting_events

    @cached_property
    def tree(self) -> LexborHTMLParser:
        """lexbor's tree of the page, parsed on first use: a page without blocks needs none. The
        first layer's check edits it through the DOM (_check with fresh=False)."""
        return _parse(self.data, self.codec)

    # -- driver ------------------------------------------------------------------------------

    def run(self) -> PageLayout:
        body, specs, end_pos = self.body, self.specs, self.end_pos
        problems: dict[int, str] = {}
        candidates: list[_Candidate] = []
        if specs:
            tree = self.tree  # parsed here, outside the per-spec guard: a failed parse fails the analysis
            seen: set[str] = set()
            for index, spec in enumerate(specs):
                if spec.name in seen:
                    problems[index] = f"{spec.name}: duplicate block name"
                    continue
                seen.add(spec.name)
                try:
                    candidates.append(self._locate(tree, index, spec))
                except _Refused as refused:
                    problems[index] = f"{spec.name}: {refused}"
                except Exception as exc:  # one odd spec must not cost the others
                    problems[index] = f"{spec.name}: could not be located ({type(exc).__name__})"
        self.shared = len(candidates) < 2 or self._no_formatting_anomaly()
        verified, body_end = self._verify(candidates, end_pos, problems)
        blocks = {c.spec.name: c.block for c in sorted(verified, key=lambda c: c.index)}
        return PageLayout(
            body,
            MappingProxyType(blocks),
            body_end,
            tuple(problems[i] for i in sorted(problems)),
        )

    # -- locating ----------------------------------------------------------------------------

    def _no_formatting_anomaly(self) -> bool:
        """Whether every formatting element (and form) of the tree comes from a start tag of the
        page and every such start tag made one: no clones from reconstructing the active
        formatting elements or from the adoption agency, no ignored <form>.

        Blocks may share a skeleton only then. A range that leaves `<b>` open makes clones
        wherever text comes next; if that is inside another block's range, the shared skeleton
        replaces both and cannot see it (and an unclosed <form> works the same way).
        """
        # Only the names the page has start tags of: the parser makes a formatting element (or a
        # form) from a start tag of its name or clones one, so of other names there are none.
        starts = self.scan.starts
        tags = self.tree.tags
        return all(len(tags(name.decode())) == len(starts[name]) for name in FORMATTING.intersection(starts))

    def _body_end_candidate(self) -> int:
        ends = self.scan.ends
        for name in (b"body", b"html"):
            found = ends.get(name)
            if found:
                return found[-1]
        return len(self.body)

    def _index_of(self, node: LexborNode, tag: str) -> int | None:
        """Position of `node` among the document's elements of its (lower-case) tag name, in tree order."""
        return self._index_table(tag).get(node.mem_id)

    def _index_table(self, tag: str) -> dict[int, int]:
        """The document's elements of a (lower-case) tag name -> their positions in tree order."""
        table = self._indexes.get(tag)
        if table is None:
            try:
                nodes = self.tree.tags(tag)
            except Exception:
                nodes = []
            table = {n.mem_id: i for i, n in enumerate(nodes)}
            self._indexes[tag] = table
        return table

    def _start_of(self, node: LexborNode) -> int | None:
        """Offset of the '<' of the start tag that made `node`, by tag name and occurrence."""
        tag = node.tag
        if not tag or tag.startswith("-"):
            return None
        tag = tag.lower()
        index = self._index_of(node, tag)
        if index is None:
            return None
        try:
            name = tag.encode("utf-8")
        except Exception:
            return None
        starts = self.scan.starts.get(name)
        if starts is None or index >= len(starts):
            return None
        return starts[index]

    def _starts_of(self, nodes: list[LexborNode]) -> list[int | None]:
        """_start_of() of each of `nodes`, with one tag name and index table for all when they
        share a name (the items of a list nearly always do)."""
        tags = {node.tag for node in nodes}
        tag = tags.pop() if len(tags) == 1 else None
        if not tag or tag.startswith("-") or not tag.isascii():
            return [self._start_of(node) for node in nodes]
        tag = tag.lower()
        positions = self.scan.starts.get(tag.encode(), [])
        count = len(positions)
        return [
            positions[index] if index is not None and index < count else None
            for index in map(self._index_table(tag).get, (node.mem_id for node in nodes))
        ]

    def _close(self, name: bytes, after: int, limit: int) -> int | None:
        """'<' of the end tag closing an element `name` whose start tag ends at `after`.

        Counts nested start and end tags of the same name; None when no end tag before `limit`.
        """
        ends = self.scan.ends.get(name)
        if not ends:
            return None
        starts = self.scan.starts.get(name, ())
        i = bisect_right(starts, after)
        depth = 1
        for j in range(bisect_right(ends, after), len(ends)):
            end = ends[j]
            if end >= limit:
                return None
            k = bisect_left(starts, end, i)
            depth += k - i
            i = k
            depth -= 1
            if depth == 0:
                return end
        return None

    def _next_element(self, node: LexborNode | None, climb: bool) -> LexborNode | None:
        """The element after `node` (its next element sibling; with `climb`, the next one in
        tree order after its subtree)."""
        while node is not None:
            sibling = node.next
            while sibling is not None and not sibling.is_element_node:
                sibling = sibling.next
            if sibling is not None or not climb:
                return sibling
            node = node.parent
            if node is None or node.is_document_node:
                return None
        return None

    def _locate(self, tree: LexborHTMLParser, index: int, spec: BlockSpec) -> _Candidate:
        try:
            node = tree.css_first(spec.selector)
        except Exception as exc:
            raise _Refused(f"invalid selector {spec.selector!r} ({type(exc).__name__})") from None
        if node is None:
            raise _Refused("selector matched nothing")
        tag = (node.tag or "").lower()
        if tag in _VOID:
            raise _Refused(f"container <{tag}> is a void element")
        if tag in _NOT_HTML_INSIDE:
            raise _Refused(f"container <{tag}> holds code or raw text, not HTML: what is escaped for HTML would not be safe in it")
        lt = self._start_of(node)
        if lt is None:
            raise _Refused(f"start tag of <{tag}> not found in the page bytes (parser-created element?)")
        scan_ = self.scan
        tag_end = scan_.tag_end(lt)
        inner_start = tag_end + 1
        name = tag.encode("utf-8")
        size = len(self.body)
        inner_end = self._close(name, tag_end, size + 1)
        end = None
        if inner_end is not None:
            end = scan_.tag_end(inner_end) + 1
        else:  # implicitly closed: its content ends where the next element starts
            following = self._next_element(node, climb=True)
            # or, open to the end of the document, before </body> / </html>
            inner_end = self._start_of(following) if following is not None else self.end_pos
            if inner_end is None or inner_end < inner_start:
                raise _Refused(f"end of <{tag}> not found")
        items: tuple[Item, ...] = ()
        item_nodes: list[LexborNode] = []
        rotate = False
        if spec.item_selector is not None:
            items, item_nodes, rotate = self._items(spec, spec.item_selector, node, inner_start, inner_end)
        start = lt if _beside_insertable(node) else None
        if start is None or end is not None and not self._balanced(inner_start, inner_end):
            end = None
        attr_ranges = _read_attributes(scan_.lowered, lt, tag_end)
        attrs = None
        if attr_ranges is not None:
            attrs = MappingProxyType({name: (first, stop) for name, first, stop, is_first in attr_ranges if is_first})
        block = Block(spec.name, tag_end, inner_start, inner_end, items, self.body, start=start, end=end, attrs=attrs)
        return _Candidate(index, spec, lt, block, item_nodes, node, rotate, attr_ranges or ())

    def _items(
        self, spec: BlockSpec, selector: str, node: LexborNode, inner_start: int, inner_end: int
    ) -> tuple[tuple[Item, ...], list[LexborNode], bool]:
        """The items that `selector` (spec.item_selector) finds in the container `node`, their
        lexbor nodes, and whether moving the last one needs a check (_rotation_holds)."""
        try:
            matches = node.css(selector)
        except Exception as exc:
            raise _Refused(f"invalid item selector {selector!r} ({type(exc).__name__})") from None
        nodes = [m for m in matches if _is(m.parent, node)]  # not _direct_matches: the selector error is ours to word
        if not nodes:
            return (), [], False
        starts: list[int] = []
        for number, lt in enumerate(self._starts_of(nodes)):
            if lt is None or lt < inner_start or lt >= inner_end or (starts and lt <= starts[-1]):
                raise _Refused(f"item {number} not found in the page bytes")
            starts.append(lt)
        for name in (b"html", b"body", b"frameset"):
            # Their effect depends on what came before (attributes merged into the first <html>
            # / <body>; the frameset-ok flag), so the order of items would matter.
            positions = self.scan.starts.get(name, ())
            k = bisect_left(positions, inner_start)
            if k < len(positions) and positions[k] < inner_end:
                raise _Refused(f"items hold a <{name.decode()}> start tag")
        forms = self.scan.starts.get(b"form", ())
        k = bisect_left(forms, inner_start)
        if k < len(forms) and forms[k] < inner_end and len(self.tree.tags("form")) != len(forms):
            # The parser ignores a <form> while another is open (the form element pointer; an
            # ASP.NET page wraps everything in one): which item's form it ignores depends on order.
            raise _Refused("items hold <form> tags and the page has forms the parser ignores")
        # First where each item ends; the first item whose end cannot be found stops the list, and
        # its reason is raised below where the loop that checks the items reaches it.
        ends: list[int] = []
        failure: _Refused | None = None
        implicit = False
        previous_end = inner_start
        for number in range(len(nodes)):
            try:
                end, item_implicit = self._item_end(nodes, number, starts, previous_end, inner_end)
            except _Refused as refused:
                failure = refused
                break
            ends.append(end)
            implicit = implicit or item_implicit
            previous_end = end
        # Then the checks, each item and the text before it in turn; when the whole list passes
        # them at once (nearly always), one by one is not needed.
        checked = self._pieces_pair_up(inner_start, starts, ends, inner_end if failure is None else None)
        wanted = tuple((attr, attr.lower()) for attr in spec.item_attrs)
        items: list[Item] = []
        previous_end = inner_start
        for number, (item, lt, end) in enumerate(zip(nodes, starts, ends)):
            if not checked:
                self._check_gap(previous_end, lt, "between items", strays=number > 0)
                open_tag = self._open_formatting(lt, end)
                if open_tag is not None:
                    raise _Refused(f"item {number} leaves <{open_tag}> open or closes one it did not open")
            attrs: Mapping[str, str] = _EMPTY
            if wanted:
                present = item.attributes
                attrs = MappingProxyType({attr: present[key] or "" for attr, key in wanted if key in present})
            fields = _fields(item, spec.item_fields) if spec.item_fields else _NO_FIELDS
            items.append(Item(lt, end, attrs, _links(item) if spec.item_links else (), fields))
            previous_end = end
        if failure is not None:
            raise failure
        if not checked:
            self._check_gap(previous_end, inner_end, "after the items")
        if implicit:
            self._check_implicit(nodes, items, inner_end)
        return tuple(items), nodes, implicit and len(items) > 1

    def _check_gap(self, start: int, end: int, where: str, strays: bool = True) -> None:
        """The bytes between items (or after the last) must leave no formatting element or form open and,
        with `strays`, hold no end tag that closes nothing there (it may belong to an item)."""
        open_tag = self._open_formatting(start, end)
        if open_tag is not None:
            raise _Refused(f"<{open_tag}> left open or closed {where}")
        if strays:
            stray = self._stray_end_tag(start, end)
            if stray is not None:
                raise _Refused(f"end tag </{stray}> {where} closes nothing there")

    def _item_end(self, nodes: list[LexborNode], number: int, starts: list[int], previous_end: int, inner_end: int) -> tuple[int, bool]:
        """Where item `number` ends (just past its end tag, or where it implicitly ends), and
        whether it has no end tag."""
        lt = starts[number]
        if lt < previous_end:
            raise _Refused(f"item {number} overlaps the one before it")
        window = starts[number + 1] if number + 1 < len(starts) else inner_end
        item = nodes[number]
        tag = (item.tag or "").lower()  # never empty: _start_of found the item's start tag
        scan_ = self.scan
        if tag in _VOID:
            return scan_.tag_end(lt) + 1, False
        name = tag.encode("utf-8")
        close = self._close(name, lt, window)  # no tag lies inside the start tag: from lt is from its '>'
        if close is not None:
            closing = b"</" + name + b">"  # the common end tag, without a regex
            if scan_.lowered.startswith(closing, close):
                return close + len(closing), False
            return scan_.tag_end(close) + 1, False
        # implicitly closed (<li>a<li>b): ends where the next element starts
        following = self._next_element(item, climb=False)
        if following is None or (number + 1 < len(nodes) and _is(following, nodes[number + 1])):
            return window, True
        next_start = self._start_of(following)
        if next_start is None or next_start <= scan_.tag_end(lt) or next_start > window:
            raise _Refused(f"end of item {number} not found")
        return next_start, True

    def _pieces_pair_up(self, start: int, starts: list[int], ends: list[int], end: int | None) -> bool:
        """Whether none of the checks of _items can fail for items starting at `starts` and ending
        at `ends` in a container whose content starts at `start`, with the text after them up to
        `end` unless it is None: no formatting element (or form) left open or closed in an item or
        between items (each tag's mate, see _formatting_events, lies in its own piece), no end tag
        between or after them (_stray_end_tag looks for `</` first). False means: check one by one.
        """
        if not ends:  # the first item's end was not found: nothing to check before that is raised
            return True
        find = self.body.find
        gaps = list(map(find, repeat(b"</"), ends, [*starts[1 : len(ends)], end if end is not None else ends[-1]]))
        if max(gaps) >= 0:
            return False
        positions, events, mates = self._formatting_events()
        first = bisect_left(positions, start)
        stop = bisect_left(positions, end if end is not None else ends[-1], first)
        if first == stop:
            return True
        inside = mates[first:stop]
        if min(inside) < first or max(inside) >= stop:
            return False
        # Every tag's mate is in the range: a pair crosses a piece boundary exactly when elements
        # are open there, that is when the tags before it open more than they close.
        depth = list(accumulate(map(itemgetter(0), events[first:stop])))
        for cut in chain(starts[: len(ends)], ends):
            k = bisect_left(positions, cut, first, stop)
            if k > first and depth[k - first - 1]:
                return False
        return True

    @staticmethod
    def _check_implicit(nodes: list[LexborNode], items: list[Item], inner_end: int) -> None:
        """Items without end tags may be moved only when whatever follows any slot ends them
        exactly as before: all items of one kind that a sibling of its kind closes (li, p, dt,
        dd, option, tr, td...), and no text between or after them that a moved item would absorb.
        """
        kinds = {(item.tag or "").lower() for item in nodes}
        kind = kinds.pop() if len(kinds) == 1 else None
        if kind not in _CLOSED_BY_SIBLING:
            raise _Refused("items without end tags are of mixed or unusual kinds")
        bounds = [item.start for item in items[1:]] + [inner_end]
        for item, bound in zip(items, bounds):
            if item.end != bound:
                raise _Refused("items without end tags have text or tags between them")

    def _balanced(self, start: int, end: int) -> bool:
        """Whether every element opened in [start, end) is closed there by its own end tag, in
        order (void elements, and those whose end tags an end tag implies, aside), and no end tag
        there closes anything opened before. Then the container's end tag after the range closes
        the container and leaves no open formatting element or form behind; the skeleton cannot
        show that, as it replaces the range. Strict on purpose (`<td>` without `</td>` fails)."""
        scan_ = self.scan
        for names, others in ((scan_.starts, scan_.ends), (scan_.ends, scan_.starts)):
            for name, positions in names.items():
                if name in _NOT_PAIRED or name in others:
                    continue
                k = bisect_left(positions, start)
                if k < len(positions) and positions[k] < end:
                    return False  # only opened, or only closed
        ends = scan_.ends
        for name, opens in scan_.starts.items():
            closes = ends.get(name)
            if closes is None or name in _NOT_PAIRED:
                continue
            a = bisect_left(opens, start)
            b = bisect_left(opens, end, a)
            c = bisect_left(closes, start)
            d = bisect_left(closes, end, c)
            if d - c != b - a:
                return False
            for k in range(b - a):  # the k-th end tag must come after the k-th start tag
                if closes[c + k] < opens[a + k]:
                    return False
        return True

    def _stray_end_tag(self, start: int, end: int) -> str | None:
        """An end tag in [start, end) without a start tag of its name there (in the text after an
        item). Such a tag closes something inside an item, or nothing: either way the item's
        range may miss its real end, and the skeleton cannot tell, as a stray end tag after a
        marker is a no-op."""
        if self.body.find(b"</", start, end) < 0:
            return None
        scan_ = self.scan
        for m in _END_TAG_NAME.finditer(scan_.lowered, start, end):
            name = m.group(1)
            closes = scan_.ends.get(name)
            if not closes:
                continue  # inside a comment or raw text: not a tag
            opens = scan_.starts.get(name, ())
            if bisect_left(closes, end) - bisect_left(closes, start) > bisect_left(opens, end) - bisect_left(opens, start):
                return name.decode("utf-8", "replace")
        return None

    def _open_formatting(self, start: int, end: int) -> str | None:
        """A formatting element (or form) whose start and end tags in [start, end) do not pair
        up in order: one left open, or an end tag that closes one opened elsewhere (which one
        it closes depends on what came before, so on the order of items). Strict on purpose: a
        `<b>` closed by a table cell boundary counts as open.

        A range whose tags all have their mates inside it pairs up (the tags of a name pair up
        within a range exactly as they do across the page, a start tag with the first end tag of
        its name that no later start tag takes first): that answers most ranges with two
        bisections and a slice. Only a range with a tag paired outside it is walked, for the name.
        """
        positions, events, mates = self._formatting_events()
        first = bisect_left(positions, start)
        stop = bisect_left(positions, end, first)
        if first == stop:
            return None
        inside = mates[first:stop]
        if min(inside) >= first and max(inside) < stop:
            return None
        return self._open_formatting_walk(start, end)

    def _open_formatting_walk(self, start: int, end: int) -> str | None:
        """_open_formatting(), by a walk through the tags in the range."""
        positions, events, _ = self._formatting_events()
        depth: dict[bytes, int] = {}
        for k in range(bisect_left(positions, start), bisect_left(positions, end)):
            step, name = events[k]
            open_now = depth.get(name, 0) + step
            if open_now < 0:
                return name.decode()
            depth[name] = open_now
        for name, open_now in depth.items():
            if open_now:
                return name.decode()
        return None

    def _formatting_events(self) -> tuple[list[int], list[tuple[int, bytes]], list[int]]:
        """The start (+1) and end (-1) tags of formatting elements and forms in source order, their
        offsets, and each one's mate: the index of the tag it pairs with across the page, or -1."""
        if self._formatting is None:
            scan_ = self.scan
            kinds: dict[int, tuple[int, bytes]] = {}  # offset -> (step, name); built and sorted in C loops
            for name in FORMATTING:
                kinds.update(zip(scan_.starts.get(name, ()), repeat((1, name))))
                kinds.update(zip(scan_.ends.get(name, ()), repeat((-1, name))))
            positions = sorted(kinds)
            events = list(map(kinds.__getitem__, positions))
            mates = [-1] * len(events)
            unpaired: dict[bytes, list[int]] = {}
            for k, (step, name) in enumerate(events):
                if step > 0:
                    unpaired.setdefault(name, []).append(k)
                elif opened := unpaired.get(name):
                    mate = opened.pop()
                    mates[mate], mates[k] = k, mate
            self._formatting = (positions, events, mates)
        return self._formatting

    # -- verifying ---------------------------------------------------------------------------

    def _verify(self, candidates: list[_Candidate], end_pos: int, problems: dict[int, str]) -> tuple[list[_Candidate], int | None]:
        """Verified candidates and the verified body_end (or None)."""
        layers = _layers(candidates) if self.shared else [[c] for c in sorted(candidates, key=lambda c: c.span)]
        end_layer = None
        for number, layer in enumerate(layers):
            if all(self._end_shareable(end_pos, c) for c in layer):
                end_layer = number
                break
        if end_layer is None:
            end_layer = len(layers)
            layers.append([])
        verified: list[_Candidate] = []
        body_end: int | None = None
        for number, layer in enumerate(layers):
            with_end = number == end_layer
            ok, end_ok = self._check(layer, end_pos if with_end else None, fresh=number > 0)
            if ok:
                verified.extend(layer)
                if with_end:
                    body_end = end_pos if end_ok else None
                continue
            # Something in this layer does not hold: check each part on its own.
            alone = len(layer) == 1 and not with_end  # that check was just made
            for candidate in layer:
                if not alone and self._check([candidate], None, fresh=True)[0] or self._settle(candidate):
                    verified.append(candidate)
                else:
                    problems[candidate.index] = f"{candidate.spec.name}: {_mismatch_reason(candidate)}"
            if with_end:
                end_ok = self._check([], end_pos, fresh=True)[1]
                body_end = end_pos if end_ok else None
        return verified, body_end

    def _settle(self, candidate: _Candidate) -> bool:
        """After a failed check of `candidate` alone: whether the block holds without its outer
        edges and attributes, which that check included. If it does, it is kept without them,
        or with its attributes when they hold on their own (a misnested neighbour costs the
        outer edges, not the attributes). Costs one or two more checks, on such pages only."""
        block = candidate.block
        if block.start is None and block.attrs is None:
            return False  # nothing was checked beyond the block itself
        if not self._check([candidate], None, fresh=True, beside=False, attrs=False)[0]:
            return False
        keep = block.attrs is not None and (block.start is None or self._check([candidate], None, fresh=True, beside=False)[0])
        candidate.block = replace(block, start=None, end=None, attrs=block.attrs if keep else None)
        return True

    def _end_shareable(self, end_pos: int, candidate: _Candidate) -> bool:
        """Whether the body_end marker can be judged in a skeleton where `candidate`'s ranges are
        replaced: the marker must not fall inside them, and if they end before it, a start tag
        must lie between. A range could leave the parser in a state (an open <template>, raw
        text...) that only shows in the tree once later content is parsed; the skeleton check
        sees such a leak through that start tag, and cannot see it without one.
        """
        lt, inner_end = candidate.span
        if lt >= end_pos:
            return True
        if inner_end > end_pos:  # the marker would be inside the block
            return False
        block = candidate.block
        if candidate.spec.item_selector is None:
            last = block.inner_end
        elif block.items:
            last = block.items[-1].end
        else:
            return True  # nothing of it is replaced in the first skeleton
        for positions in self.scan.starts.values():
            k = bisect_right(positions, last)
            if k < len(positions) and positions[k] < end_pos:
                return True
        return False

    def _check(
        self, layer: list[_Candidate], end_pos: int | None, fresh: bool, beside: bool = True, attrs: bool = True
    ) -> tuple[bool, bool]:
        """Compare skeleton parses of `layer` with the same changes made through the DOM.

        Skeleton 1: plain blocks' inner ranges and item blocks' item ranges become marker
        comments, a probe attribute goes before each tag_end, a marker comment at `end_pos`;
        with `beside`, marker elements go at each block's start and end; with `attrs`, each
        attribute of the container becomes ` name=""` (a later duplicate is deleted).
        Skeleton 2 (only when the layer has item blocks): every block's inner range becomes a
        marker, which checks inner_start/inner_end of item blocks too. Both are compared with one
        tree, edited step by step. Returns (blocks verified, body_end marker landed well).
        """
        edits: list[Edit] = []
        outer: list[Edit] = []  # the start tag's and the outside changes, in both skeletons
        has_items = False
        for n, candidate in enumerate(layer):
            block = candidate.block
            if beside and block.start is not None:
                outer.append(Edit(block.start, block.start, _beside_marker("before", n).encode()))
                if block.end is not None:
                    outer.append(Edit(block.end, block.end, _beside_marker("after", n).encode()))
            if attrs and block.attrs is not None:
                for name, start, stop, first in candidate.attr_ranges:
                    outer.append(Edit(start, stop, f' {name}=""'.encode() if first else b" "))
            outer.append(Edit(block.tag_end, block.tag_end, f' {_PROBE_ATTR}="{n}"'.encode()))
            if candidate.spec.item_selector is None:
                edits.append(Edit(block.inner_start, block.inner_end, f"<!--etalage:{n}-->".encode()))
            else:  # items replaced, the text between them kept
                has_items = True
                for j, item in enumerate(block.items):
                    edits.append(Edit(item.start, item.end, f"<!--etalage:{n}.{j}-->".encode()))
        if end_pos is not None:
            edits.append(Edit(end_pos, end_pos, f"<!--{_END_MARKER}-->".encode()))
        try:
            skeleton = _parse(splice(self.body, outer + edits)[self.base :], self.codec)
        except ValueError:
            return False, False
        end_ok = False
        if end_pos is not None:
            marker = _find_end_marker(skeleton)
            if marker is not None:
                end_ok = _insertable(marker)
            else:  # after </body> or </html>: out of <body>; remove it so the blocks can still be compared
                marker = _find_stray_end_marker(skeleton)
            if marker is not None:
                marker.decompose()
        if not layer:
            return True, end_ok
        tree = _parse(self.data, self.codec) if fresh else self.tree
        try:
            for candidate in layer:
                if candidate.rotate and not self._rotation_holds(tree, candidate, fresh):
                    return False, end_ok
            nodes = self._edit_dom(tree, layer, fresh, beside, attrs)
            if tree.html != skeleton.html:
                return False, end_ok
            if not has_items:
                return True, end_ok
            edits = []
            for n, candidate in enumerate(layer):
                block = candidate.block
                edits.append(Edit(block.inner_start, block.inner_end, f"<!--etalage:{n}-->".encode()))
                if candidate.spec.item_selector is not None:
                    nodes[n].inner_html = f"<!--etalage:{n}-->"
            skeleton = _parse(splice(self.body, outer + edits)[self.base :], self.codec)
            return tree.html == skeleton.html, end_ok
        except Exception:  # a DOM edit lexbor refused, or a node not found again: not verifiable
            return False, end_ok

    def _rotation_holds(self, tree: LexborHTMLParser, candidate: _Candidate, fresh: bool) -> bool:
        """Whether moving the last item (which has no end tag) to the front gives the same tree
        in bytes and in the DOM. Whatever ends it at the end of the container (the container's
        end tag) may not end it before a sibling: `<li>b<article>x` + `<li>` nests the `<li>`.
        Only then is a full-size parse spent. Such items are adjacent (_check_implicit), so the
        DOM move is one node; `tree` is restored afterwards."""
        block = candidate.block
        count = len(block.items)
        moved = _parse(splice(self.body, reorder_items(block, [count - 1, *range(count - 1)]))[self.base :], self.codec)
        _, items = self._nodes(tree, candidate, fresh)
        items[0].insert_before(items[-1], move=True)
        try:
            return tree.html == moved.html
        finally:
            items[-2].insert_after(items[-1], move=True)

    def _nodes(self, tree: LexborHTMLParser, candidate: _Candidate, fresh: bool) -> tuple[LexborNode, list[LexborNode]]:
        """The container and item nodes of `candidate` in `tree`: the located ones, or with `fresh`
        (a new parse of the same bytes) found again, as the same selectors find the same nodes
        before any edit."""
        if not fresh:
            return candidate.node, candidate.item_nodes
        node = tree.css_first(candidate.spec.selector)
        if node is None:
            raise _Refused("selector matched nothing in a new parse")
        selector = candidate.spec.item_selector
        return node, _direct_matches(node, selector) if selector is not None and candidate.item_nodes else []

    def _edit_dom(self, tree: LexborHTMLParser, layer: list[_Candidate], fresh: bool, beside: bool, attrs: bool) -> list[LexborNode]:
        """Make skeleton 1's changes in `tree` through the DOM; returns the container nodes."""
        found = [self._nodes(tree, candidate, fresh) for candidate in layer]  # all before any edit
        containers: list[LexborNode] = []
        for n, (candidate, (node, item_nodes)) in enumerate(zip(layer, found)):
            block = candidate.block
            containers.append(node)
            if beside and block.start is not None:
                node.insert_before(_fragment(_beside_marker("before", n)))
                if block.end is not None:
                    node.insert_after(_fragment(_beside_marker("after", n)))
            if attrs and block.attrs is not None:
                present = node.attrs
                for name in block.attrs:
                    if name not in present:
                        return containers  # read wrongly: the trees will differ
                    present[name] = ""
            node.attrs[_PROBE_ATTR] = str(n)
            if candidate.spec.item_selector is None:
                node.inner_html = f"<!--etalage:{n}-->"
            elif item_nodes:
                markers = _fragment("".join(f"<!--etalage:{n}.{j}-->" for j in range(len(item_nodes))))
                for item, comment in zip(item_nodes, _siblings(markers)):
                    item.replace_with(comment)
        return containers


def _fragment(html: str) -> LexborNode:
    """The first node of `html` parsed as a fragment: markup for the DOM edits to insert (copies)."""
    node = LexborHTMLParser(html, is_fragment=True).root
    if node is None:
        raise ValueError(f"{html!r} parsed to nothing")
    return node


def _siblings(node: LexborNode | None) -> Iterator[LexborNode]:
    """`node` and the siblings after it, in order."""
    while node is not None:
        yield node
        node = node.next


def _beside_marker(side: str, n: int) -> str:
    """An element, not a comment: like inserted content it is foster-parented out of a table and
    makes the parser reconstruct formatting elements left open (a comment would do neither)."""
    return f'<etalage-{side} data-n="{n}"></etalage-{side}>'


def _beside_insertable(node: LexborNode) -> bool:
    """Whether a <div> inserted right before or after `node` would be a visible, independent
    sibling in <body>: its parent is no table part or list, and no ancestor is one of
    _NO_INSERT_UNDER, nor a <p> (a <div> start tag closes an open <p>)."""
    parent = node.parent
    if parent is None or (parent.tag or "").lower() in _NO_INSERT_BESIDE:
        return False
    while parent is not None:
        tag = (parent.tag or "").lower()
        if tag == "body":
            return True
        if tag == "p" or tag in _NO_INSERT_UNDER:
            return False
        parent = parent.parent
    return False


def _read_attributes(lowered: bytes, lt: int, tag_end: int) -> list[tuple[str, int, int, bool]] | None:
    """The attributes of the start tag at `lt` (ending at `tag_end`) as the tokenizer reads them:
    (lower-case name, start, end, first of its name), each range with its leading whitespace.
    None when a name is not ASCII or anything in the tag is left unread: then nothing is certain."""
    tag = start_tag(lowered, lt)
    if tag is None or tag[1] != tag_end:
        return None
    found: list[tuple[str, int, int, bool]] = []
    seen: set[str] = set()
    for attribute in tag[2]:
        if not attribute.name.isascii():
            return None
        found.append((attribute.name, attribute.start, attribute.end, attribute.name not in seen))
        seen.add(attribute.name)
    return found


def _fields(node: LexborNode, wanted: tuple[ItemField, ...]) -> Mapping[ItemField, str]:
    """The values of `wanted` in `node`'s subtree: only what the block asks for, one css_first each."""
    found: dict[ItemField, str] = {}
    for item_field in wanted:
        try:
            inner = node.css_first(item_field.selector)
        except Exception as exc:
            raise _Refused(f"invalid selector {item_field.selector!r} in the items ({type(exc).__name__})") from None
        if inner is None:
            continue
        if item_field.attribute is None:
            value = " ".join(inner.text(deep=True).split())  # as it reads: runs of white space are one space
        else:
            value = inner.attributes.get(item_field.attribute.lower()) or ""
        if value:
            found[item_field] = value
    return MappingProxyType(found)


def _links(node: LexborNode) -> tuple[str, ...]:
    """hrefs of the `a[href]` elements in `node`'s subtree, `node` included (lexbor's css() matches
    the node itself too), in document order; blank ones left out."""
    links = []
    for anchor in node.css("a[href]"):
        href = (anchor.attributes.get("href") or "").strip()
        if href:
            links.append(href)
    return tuple(links)


def _direct_matches(node: LexborNode, selector: str) -> list[LexborNode]:
    """Element children of `node` that match `selector`, in document order."""
    return [match for match in node.css(selector) if _is(match.parent, node)]


def _unanalysable(body: bytes) -> str | None:
    if body.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "page is UTF-16, not analysed"
    if b"\x00" in body:
        return "page contains NUL bytes, not analysed"
    return None


def _layers(candidates: list[_Candidate]) -> list[list[_Candidate]]:
    """Group candidates so that no two in a group nest or overlap."""
    layers: list[list[_Candidate]] = []
    last_end: list[int] = []
    for candidate in sorted(candidates, key=lambda c: c.span):
        start, end = candidate.span
        for number, layer in enumerate(layers):
            if start > last_end[number]:
                layer.append(candidate)
                last_end[number] = end
                break
        else:
            layers.append([candidate])
            last_end.append(end)
    return layers


def _find_end_marker(tree: LexborHTMLParser) -> LexborNode | None:
    """The body_end marker comment if it is inside <body> (searched along the last children)."""
    node = tree.body
    while node is not None:
        last_element: LexborNode | None = None
        child = node.last_child
        while child is not None:
            if child.is_comment_node:
                if child.comment_content == _END_MARKER:
                    return child
            elif last_element is None and child.is_element_node:
                last_element = child
            child = child.prev
        node = last_element
    return None


def _find_stray_end_marker(tree: LexborHTMLParser) -> LexborNode | None:
    """The body_end marker where comments after </body> and </html> go (children of <html> and
    of the document), or None."""
    html = tree.root
    for parent in (html, html.parent if html is not None else None):
        if parent is None:
            continue
        child = parent.last_child
        while child is not None:
            if child.is_comment_node and child.comment_content == _END_MARKER:
                return child
            child = child.prev
    return None


def _insertable(marker: LexborNode) -> bool:
    node = marker.parent
    while node is not None:
        tag = (node.tag or "").lower()
        if tag == "body":
            return True
        if tag in _NO_INSERT_UNDER:
            return False
        node = node.parent
    return False


def _mismatch_reason(candidate: _Candidate) -> str:
    if candidate.spec.item_selector is not None and candidate.block.items:
        return "block or item ranges do not match the parsed page (misnested or implied tags around them)"
    return "block range does not match the parsed page (misnested or implied tags around it)"


# The reasons a block is missing from a layout, as metric labels: a small fixed set, so that a
# dashboard can sum them and the metric cannot grow with what pages or selectors contain.
MISS_REASONS = ("not_found", "refused", "unverified", "page_refused", "error")


def miss_reason(problem: str) -> str:
    """The MISS_REASONS label of one of PageLayout.problems: not_found (the selector matched
    nothing), unverified (located, but its ranges do not match the parsed page), page_refused (the
    whole page was not analysed: too complex, UTF-16, NUL bytes), error (a failure while locating
    or analysing), refused (located, but unfit: a void or raw-text container, items that cannot
    move safely...). Read from the text analyse() writes, which is kept next to this function."""
    reason = problem.partition(": ")[2]
    if reason.startswith("selector matched nothing"):
        return "not_found"
    if "do not match the parsed page" in reason or "does not match the parsed page" in reason:
        return "unverified"
    if reason.startswith("page too complex") or reason.endswith("not analysed"):
        return "page_refused"
    if reason.startswith(("analysis failed", "could not be located")) or problem.startswith("specs unusable"):
        return "error"
    return "refused"


# ---------------------------------------------------------------------------------------------
# charset


def charset_of(content_type: str | None, body: bytes) -> str:
    """Python codec name for the page: BOM, else Content-Type charset, else <meta> prescan, else ascii.

    Labels are mapped the way the WHATWG Encoding Standard (browsers) does: "iso-8859-1",
    "latin1", "ascii" and friends mean windows-1252 ("cp1252"), "shift_jis" means cp932 and so
    on. A byte-order mark wins over the header, as in browsers. Unknown labels are skipped.

    Nothing usable found means "ascii": the browser then guesses the encoding (often
    windows-1252, whatever the page really is), so text inserted into the page must not depend
    on it. Encoded as ASCII with character references (etalage.rules.actions.base.encode_fragment),
    it reads the same in every ASCII-compatible encoding; as UTF-8 it came out as 'â€"'.
    """
    head = bytes(body[:3])
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8"
    if head.startswith(b"\xfe\xff"):
        return "utf-16-be"
    if head.startswith(b"\xff\xfe"):
        return "utf-16-le"
    if content_type:
        label = _content_type_charset(content_type)
        if label is not None:
            codec = _CODECS.get(label.strip().lower())
            if codec is not None:
                return codec
    codec = _prescan(bytes(body[:1024]))
    return codec or "ascii"


_CT_CHARSET = re.compile(r"""(?i)(?:^|;)\s*charset\s*=\s*(?:"([^"]*)"?|'([^']*)'?|([^;\s]*))""")


def _content_type_charset(content_type: str) -> str | None:
    m = _CT_CHARSET.search(content_type)
    if m is None:
        return None
    return m.group(1) if m.group(1) is not None else m.group(2) if m.group(2) is not None else m.group(3)


# WHATWG encoding labels -> Python codecs. The "replacement" labels and x-user-defined have no
# Python codec and count as unknown.
_LABELS: dict[str, str] = {
    "utf-8": "unicode-1-1-utf-8 unicode11utf8 unicode20utf8 utf-8 utf8 x-unicode20utf8",
    "cp866": "866 cp866 csibm866 ibm866",
    "iso8859_2": "csisolatin2 iso-8859-2 iso-ir-101 iso8859-2 iso88592 iso_8859-2 iso_8859-2:1987 l2 latin2",
    "iso8859_3": "csisolatin3 iso-8859-3 iso-ir-109 iso8859-3 iso88593 iso_8859-3 iso_8859-3:1988 l3 latin3",
    "iso8859_4": "csisolatin4 iso-8859-4 iso-ir-110 iso8859-4 iso88594 iso_8859-4 iso_8859-4:1988 l4 latin4",
    "iso8859_5": "csisolatincyrillic cyrillic iso-8859-5 iso-ir-144 iso8859-5 iso88595 iso_8859-5 iso_8859-5:1988",
    "iso8859_6": "arabic asmo-708 csiso88596e csiso88596i csisolatinarabic ecma-114 iso-8859-6 iso-8859-6-e "
    "iso-8859-6-i iso-ir-127 iso8859-6 iso88596 iso_8859-6 iso_8859-6:1987",
    "iso8859_7": "csisolatingreek ecma-118 elot_928 greek greek8 iso-8859-7 iso-ir-126 iso8859-7 iso88597 "
    "iso_8859-7 iso_8859-7:1987 sun_eu_greek",
    "iso8859_8": "csiso88598e csisolatinhebrew hebrew iso-8859-8 iso-8859-8-e iso-ir-138 iso8859-8 iso88598 "
    "iso_8859-8 iso_8859-8:1988 visual csiso88598i iso-8859-8-i logical",
    "iso8859_10": "csisolatin6 iso-8859-10 iso-ir-157 iso8859-10 iso885910 l6 latin6",
    "iso8859_13": "iso-8859-13 iso8859-13 iso885913",
    "iso8859_14": "iso-8859-14 iso8859-14 iso885914",
    "iso8859_15": "csisolatin9 iso-8859-15 iso8859-15 iso885915 iso_8859-15 l9",
    "iso8859_16": "iso-8859-16",
    "koi8_r": "cskoi8r koi koi8 koi8-r koi8_r",
    "koi8_u": "koi8-ru koi8-u",
    "mac_roman": "csmacintosh mac macintosh x-mac-roman",
    "cp874": "dos-874 iso-8859-11 iso8859-11 iso885911 tis-620 windows-874",
    "cp1250": "cp1250 windows-1250 x-cp1250",
    "cp1251": "cp1251 windows-1251 x-cp1251",
    "cp1252": "ansi_x3.4-1968 ascii cp1252 cp819 csisolatin1 ibm819 iso-8859-1 iso-ir-100 iso8859-1 "
    "iso88591 iso_8859-1 iso_8859-1:1987 l1 latin1 us-ascii windows-1252 x-cp1252",
    "cp1253": "cp1253 windows-1253 x-cp1253",
    "cp1254": "cp1254 csisolatin5 iso-8859-9 iso-ir-148 iso8859-9 iso88599 iso_8859-9 iso_8859-9:1989 l5 latin5 windows-1254 x-cp1254",
    "cp1255": "cp1255 windows-1255 x-cp1255",
    "cp1256": "cp1256 windows-1256 x-cp1256",
    "cp1257": "cp1257 windows-1257 x-cp1257",
    "cp1258": "cp1258 windows-1258 x-cp1258",
    "mac_cyrillic": "x-mac-cyrillic x-mac-ukrainian",
    "gbk": "chinese csgb2312 csiso58gb231280 gb2312 gb_2312 gb_2312-80 gbk iso-ir-58 x-gbk",
    "gb18030": "gb18030",
    "big5hkscs": "big5 big5-hkscs cn-big5 csbig5 x-x-big5",
    "euc_jp": "cseucpkdfmtjapanese euc-jp x-euc-jp",
    "iso2022_jp": "csiso2022jp iso-2022-jp",
    "cp932": "csshiftjis ms932 ms_kanji shift-jis shift_jis sjis windows-31j x-sjis",
    "cp949": "cseuckr csksc56011987 euc-kr iso-ir-149 korean ks_c_5601-1987 ks_c_5601-1989 ksc5601 ksc_5601 windows-949",
    "utf-16-be": "unicodefffe utf-16be",
    "utf-16-le": "csunicode iso-10646-ucs-2 ucs-2 unicode unicodefeff utf-16 utf-16le",
}
_CODECS: dict[str, str] = {label: codec for codec, labels in _LABELS.items() for label in labels.split()}

# Prescan (WHATWG "prescan a byte stream to determine its encoding"), simplified to what matters:
# comments are skipped, <meta> attributes are read, other tags are stepped over attribute-wise.
_PRESCAN_TOKEN = re.compile(
    rb"<!--.*?-->|<meta(?=[\t\n\f\r /])|</?[a-zA-Z][^\t\n\f\r />]*|<[!/?][^>]*>?",
    re.S | re.I,
)
_PRESCAN_ATTR = re.compile(
    rb"[\t\n\f\r /]*(?:(>)|([^\t\n\f\r />][^\t\n\f\r /=>]*)(?:[\t\n\f\r ]*=[\t\n\f\r ]*"
    rb"(?:\"([^\"]*)\"|'([^']*)'|([^\t\n\f\r >]*)))?)"
)
_META_CHARSET = re.compile(rb"charset[\t\n\f\r ]*=[\t\n\f\r ]*(?:\"([^\"]*)\"|'([^']*)'|([^\t\n\f\r ;\"']+))", re.I)


def _attributes(data: bytes, pos: int) -> tuple[list[tuple[bytes, bytes]], int]:
    """Attributes from `pos` to the tag's '>' (the prescan's "get an attribute")."""
    attrs: list[tuple[bytes, bytes]] = []
    while True:
        m = _PRESCAN_ATTR.match(data, pos)
        if m is None or m.end() == pos and m.group(1) is None:
            return attrs, len(data)
        pos = m.end()
        if m.group(1) is not None:
            return attrs, pos
        value = next((v for v in m.group(3, 4, 5) if v is not None), b"")
        attrs.append((m.group(2).lower(), value))


def _prescan(data: bytes) -> str | None:
    pos = 0
    while True:
        m = _PRESCAN_TOKEN.search(data, pos)
        if m is None:
            return None
        token = m.group()
        if token[:5].lower() != b"<meta":
            if token[:1] == b"<" and token[1:2].isalpha() or token[:2] == b"</" and token[2:3].isalpha():
                _, pos = _attributes(data, m.end())  # step over the tag's attributes
            else:
                pos = m.end()
            continue
        attrs, pos = _attributes(data, m.end())
        seen: dict[bytes, bytes] = {}
        for name, value in attrs:
            seen.setdefault(name, value)
        label = None
        if b"charset" in seen:
            label = seen[b"charset"]
        elif b"content" in seen and seen.get(b"http-equiv", b"").strip().lower() == b"content-type":
            found = _META_CHARSET.search(seen[b"content"])
            if found is not None:
                label = next(v for v in found.groups() if v is not None)
        if label is None:
            continue
        codec = _CODECS.get(label.decode("latin-1").strip().lower())
        if codec is None:
            continue
        if codec.startswith("utf-16"):
            return "utf-8"  # a <meta> cannot switch to UTF-16 (the bytes were read as ASCII)
        return codec
