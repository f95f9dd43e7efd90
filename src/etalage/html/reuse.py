"""Whether a layout verified for one origin body also holds for another body of the same page.

Shops put per-response values into their pages: a CSRF token in a `<meta>`, a hidden form field
in every product card (Django Oscar's add-to-basket forms, Magento's form_key, Shopware's token),
a render time in the head, the visitor's name or cart count in the header. No two bodies are
equal, and analysing each costs a full parse and verification (milliseconds for 100 KB). Such
bodies differ from the last analysed one in places that change nothing the layout depends on, so
the layout is reused, its offsets shifted where lengths changed, when every difference passes
these checks, inside the blocks and their cards as anywhere else:

- it lies inside the quoted value of a start tag that the tag scanner found, and the new bytes
  hold neither that quote nor NUL (the tokenizer stays in that value); or it lies in text right
  after a tag, with nothing but text since that tag (no comment, no raw text like `<script>` or
  `<title>`, no character reference), and neither old nor new bytes hold `<`, `&` or NUL; the
  text run must already hold a non-whitespace character before it, or the old and new text both
  begin with one (whether a run is only whitespace, and where its first other character falls,
  decide the tree in a table or in `<head>`);
- it is not inside `<svg>`/`<math>` and the page has no `<![CDATA[` (where the scanner is not
  exact about what is a tag, see `etalage.html.tagscan`);
- the attribute is not one that steers the parser: `type` (a hidden input in a table),
  `encoding` (MathML annotation-xml), a `<meta>`'s `charset`, `http-equiv`, or `content` next to
  `http-equiv` (the page's encoding);
- no block selector can see it: not an attribute a selector names (`#` means id, `.` class),
  and no selector uses a pseudo-class that reads attributes (`:lang()`, `:checked`...);
- inside a card, it is in nothing a card value reads (Item.attrs, links, fields: the item
  attributes, `href` when links are read, an inner element's attribute or text, and what the
  inner elements' selectors read). Such a change is refused rather than read again: the values
  were read by lexbor from its tree, and only a parse reads them the same way (a `<select>` that
  drops an `<a>`, an adoption-agency clone of one, entities and the page's encoding); the page is
  then analysed, and a shop whose card ids sit in a per-view attribute gets no reuse;
- a change of length is not in the first 1024 bytes, where browsers look for `<meta charset>`
  (a change of the same length there moves nothing).

None of these differences changes the tree, so the blocks, the cards and their order hold as
verified, and card values stay as read. What actions keep from the layout is copied from the
new body: a reused layout's blocks take their bytes (`Block.source`, the cards a sort moves) from
it, and offsets point into it. Everything actions derive once per layout (the cards' categories,
the products on the page) comes from card values, which are unchanged; the cards' bytes are cut
per body (etalage.rules.actions.sort).

Anything else gets a full analysis, and so does a body with more than one difference per 256
bytes (at least 16): finding and checking one costs some microseconds, a fraction of what
analysing 256 bytes costs (an analysis takes about 10 ms for 50 KB), so the count is bounded by
the page's size rather than a fixed number (an Oscar listing of 20 cards has 21 differences per
view, a 100 KB page of 120 cards 121). Finding the differences runs in C (startswith on
memoryviews, then the XOR of two integers around each difference); where a difference lies is
worked out once per place in the known body (the tokens of the next view sit in the same
places), so per view only the new bytes are checked.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import replace
from heapq import merge
from types import MappingProxyType

from etalage.html.page import Block, BlockSpec, Item, PageLayout
from etalage.html.tagscan import Attribute, scan, start_tag

__all__ = ["LayoutReuse"]

MAX_DIFFERENCES = 16  # at least; a page may have one more per _BYTES_PER_DIFFERENCE bytes
_BYTES_PER_DIFFERENCE = 256
_CHUNK = 4096
_FINE = 64
_JOIN = 8  # differences this close are one (a hex token has equal digits by chance)
_ANCHOR = 8  # bodies of different lengths meet again where this many bytes agree
_MAX_SPAN = 256  # the longest difference looked for between bodies of different lengths
_PRESCAN = 1024  # browsers look for the page's encoding in its first 1024 bytes
_STEERING = frozenset({"type", "encoding"})
# Pseudo-classes that look at an element's place in the tree only, never at attribute values.
_STRUCTURAL = frozenset(
    "first-child last-child only-child nth-child nth-last-child first-of-type last-of-type only-of-type "
    "nth-of-type nth-last-of-type not is where has empty root".split()
)
# Start tags after which the scanner's text is not the tokenizer's data state (raw text, RCDATA,
# plaintext, template content).
_NOT_DATA = frozenset(b"script style xmp iframe noembed noframes noscript textarea title plaintext template".split())
# What changed text, and the text before it since the last tag, may not hold: a tag or character
# reference start, NUL. Whether a text run holds only whitespace, and where its first other
# character is, decide the tree in a table or in <head>: text that changes must begin with a
# non-whitespace character on both sides, unless the run already had one before it.
_NOT_IN_TEXT = re.compile(rb"[<&\x00]")
_MARKUP = re.compile(rb"[<>\"'&]")
_WHITESPACE = b"\t\n\f\r "
_NOT_TEXT_START = {b""} | {bytes([byte]) for byte in _WHITESPACE}
_SELECTOR_ATTR = re.compile(r"\[\s*([^\s~|^$*!=\]]+)")
_PSEUDO = re.compile(r"(?<!:):([a-zA-Z-]+)")
_ANY = None  # a selector that may read any attribute


def _selector_attributes(specs: Sequence[BlockSpec]) -> frozenset[str] | None:
    """Attribute names the block selectors can read; None when that is not known (any of them)."""
    names: set[str] = set()
    for spec in specs:
        for selector in (spec.selector, spec.item_selector or ""):
            if any(pseudo.lower() not in _STRUCTURAL for pseudo in _PSEUDO.findall(selector)):
                return _ANY
            if "|" in selector:  # namespaced attribute selectors: not worth modelling
                return _ANY
            names.update(name.lower() for name in _SELECTOR_ATTR.findall(selector))
            if "#" in selector:
                names.add("id")
            if "." in selector:
                names.add("class")
    return frozenset(names)


def _card_reads(spec: BlockSpec) -> tuple[frozenset[str] | None, bool]:
    """What the card values of a block (item attributes, links, fields) can read inside a card: the
    attribute names (None: any, a field's selector reads attributes through a pseudo-class) and
    whether text."""
    names = {attribute.lower() for attribute in spec.item_attrs}
    text = False
    if spec.item_links:
        names.add("href")
    for item_field in spec.item_fields:
        if item_field.attribute is None:
            text = True
        else:
            names.add(item_field.attribute.lower())
        readable = _selector_attributes((BlockSpec("", item_field.selector),))
        if readable is _ANY:
            return _ANY, True
        names |= readable
    return frozenset(names), text


def differences(old: bytes, new: bytes, limit: int = MAX_DIFFERENCES) -> list[tuple[int, int]] | None:
    """[start, end) ranges where two bodies of equal length differ, close ones joined; None when
    there are more than `limit`. Comparisons run in C (startswith on a memoryview: no copy): per
    chunk, then by halving to each difference; around a difference the bytes are compared as the
    XOR of two integers (_xor), so a 64-character token costs a few C calls, not a step per byte."""
    found: list[list[int]] = []
    view = memoryview(old)
    size = len(old)
    for chunk in range(0, size, _CHUNK):
        pos, chunk_end = chunk, min(chunk + _CHUNK, size)
        while pos < chunk_end and not new.startswith(view[pos:chunk_end], pos):
            low, high = pos, chunk_end  # the first difference lies in [low, high)
            while high - low > _FINE:
                middle = (low + high) // 2
                if new.startswith(view[low:middle], low):
                    low = middle
                else:
                    high = middle
            window = _xor(view, new, low, high)
            first = low + len(window) - len(window.lstrip(b"\x00"))
            end = _run_end(view, new, first)
            if found and first - found[-1][1] <= _JOIN:
                found[-1][1] = end
            elif len(found) == limit:
                return None
            else:
                found.append([first, end])
            pos = end
    return [(start, end) for start, end in found]


def _in_place(ranges: list[tuple[int, int]]) -> list[tuple[int, int, int, int]]:
    """Ranges of bodies of equal length, as (old start, old end, new start, new end)."""
    return [(start, end, start, end) for start, end in ranges]


def _union(first: list[tuple[int, int]], second: list[tuple[int, int]], limit: int) -> list[tuple[int, int]] | None:
    """The ranges covered by either list (each in order), overlapping ones joined; None past `limit`."""
    joined: list[list[int]] = []
    for start, end in sorted(first + second):
        if joined and start <= joined[-1][1]:
            joined[-1][1] = max(joined[-1][1], end)
        elif len(joined) == limit:
            return None
        else:
            joined.append([start, end])
    return [(start, end) for start, end in joined]


def _xor(view: memoryview, new: bytes, start: int, stop: int) -> bytes:
    """old[start:stop] XOR new[start:stop]: zero bytes where they agree."""
    size = stop - start
    return (int.from_bytes(view[start:stop]) ^ int.from_bytes(new[start:stop])).to_bytes(size)


_AGREE = b"\x00" * (_JOIN + 1)  # where a difference ends: this many bytes agree after it


def _run_end(view: memoryview, new: bytes, first: int) -> int:
    """Just past the last byte of the difference that begins at `first` (bodies of equal length),
    differences with at most _JOIN equal bytes between them taken as one."""
    size = len(view)
    while True:
        stop = min(first + _FINE * 4, size)
        window = _xor(view, new, first, stop)
        agree = window.find(_AGREE)
        if agree >= 0:
            return first + agree
        last = first + len(window.rstrip(b"\x00"))  # just past the window's last difference
        if stop == size:
            return last
        first = last - 1  # a difference again: go on from there


def alignment(old: bytes, new: bytes, limit: int = MAX_DIFFERENCES, in_step: bool = False) -> list[tuple[int, int, int, int]] | None:
    """Ranges (old start, old end, new start, new end) outside of which `old` and `new` are equal,
    in order; for bodies whose lengths differ. After each difference the bodies are taken to meet
    again where _ANCHOR bytes of `old` come back in `new`, within _MAX_SPAN bytes. With `in_step`,
    first where they agree again at the same distance (a token that kept its length: one XOR, where
    looking for the anchor steps byte by byte); that may take a change of length for a longer
    difference than it is. None when that fails or there are more than `limit` ranges."""
    view = memoryview(old)
    found: list[tuple[int, int, int, int]] = []
    i = j = 0
    while True:
        equal = _common(view, new, i, j)
        i, j = i + equal, j + equal
        if i == len(old) and j == len(new):
            return found
        if len(found) == limit:
            return None
        meeting = (in_step and _in_step(view, new, i, j)) or _meeting(view, new, i, j)
        if meeting is None:
            return None
        p, q = meeting
        found.append((i, p, j, q))
        i, j = p, q


def _in_step(view: memoryview, new: bytes, i: int, j: int) -> tuple[int, int] | None:
    """Where the bodies agree again on _JOIN + 1 bytes at the same distance as at old offset `i`,
    new offset `j`, within _MAX_SPAN bytes, with no markup between (indentation agrees at the
    same distance by chance after a change of length); None if they do not."""
    span = min(_MAX_SPAN, len(view) - i, len(new) - j)
    agree = (int.from_bytes(view[i : i + span]) ^ int.from_bytes(new[j : j + span])).to_bytes(span).find(_AGREE)
    if agree <= 0 or _MARKUP.search(view[i : i + agree]) or _MARKUP.search(new, j, j + agree):
        return None
    return i + agree, j + agree


def _meeting(view: memoryview, new: bytes, i: int, j: int) -> tuple[int, int] | None:
    """Where the bodies agree again after a difference at old offset `i`, new offset `j`: the first
    old offset from which _ANCHOR bytes come back in `new` within _MAX_SPAN bytes, and where; near
    the ends, the ends."""
    size = len(view)
    for p in range(i, min(i + _MAX_SPAN, size - _ANCHOR) + 1):
        q = new.find(view[p : p + _ANCHOR], j, j + (p - i) + _MAX_SPAN + _ANCHOR)
        if q >= 0:
            return p, q
    if size - i <= _MAX_SPAN + _ANCHOR and len(new) - j <= _MAX_SPAN + _ANCHOR:
        return size, len(new)
    return None


def _common(view: memoryview, new: bytes, i: int, j: int) -> int:
    """How many bytes from old offset `i` equal those from new offset `j` (compared in C)."""
    most = min(len(view) - i, len(new) - j)
    low, step = 0, _CHUNK
    while low < most:
        high = min(low + step, most)
        if not new.startswith(view[i + low : i + high], j + low):
            break
        low, step = high, step * 2
    else:
        return most
    while high - low > 1:  # the first difference lies in [low, high)
        middle = (low + high) // 2
        if new.startswith(view[i + low : i + middle], j + low):
            low = middle
        else:
            high = middle
    return low


def _shifted(layout: PageLayout, new: bytes, ranges: list[tuple[int, int, int, int]]) -> PageLayout:
    """`layout` with every offset moved as `ranges` (see alignment) move the bytes after them. No
    offset lies inside a range: the checks keep ranges inside attribute values and text, and
    offsets point at tags' '<' and '>' and the edges of whole attributes."""
    ends = [end for _, end, _, _ in ranges]
    moves = []
    total = 0
    for start, end, new_start, new_end in ranges:
        total += (new_end - new_start) - (end - start)
        moves.append(total)

    def moved(offset: int) -> int:
        k = bisect_right(ends, offset)
        return offset + (moves[k - 1] if k else 0)

    def opt(offset: int | None) -> int | None:
        return None if offset is None else moved(offset)

    blocks = {
        name: replace(
            block,
            tag_end=moved(block.tag_end),
            inner_start=moved(block.inner_start),
            inner_end=moved(block.inner_end),
            items=tuple(Item(moved(item.start), moved(item.end), item.attrs, item.links, item.fields) for item in block.items),
            source=new,
            start=opt(block.start),
            end=opt(block.end),
            attrs=None if block.attrs is None else MappingProxyType({key: (moved(a), moved(b)) for key, (a, b) in block.attrs.items()}),
        )
        for name, block in layout.blocks.items()
    }
    return PageLayout(new, MappingProxyType(blocks), opt(layout.body_end), layout.problems, layout.too_complex)


def _sourced(layout: PageLayout, new: bytes) -> PageLayout:
    """`layout` for a body of the same length whose blocks hold other bytes: the same offsets, the
    cards' bytes taken from `new` (only blocks with items are read from their source)."""
    blocks = {name: replace(block, source=new) if block.items else block for name, block in layout.blocks.items()}
    return PageLayout(new, MappingProxyType(blocks), layout.body_end, layout.problems, layout.too_complex)


def _declares_charset(name: str, attributes: tuple[Attribute, ...]) -> bool:
    """Whether this attribute of a <meta> can declare the page's encoding."""
    return name in ("charset", "http-equiv") or name == "content" and any(other.name == "http-equiv" for other in attributes)


class _Cards:
    """Where one block's cards are, and what their values (Item.attrs, links, fields) read."""

    __slots__ = ("inner_start", "inner_end", "starts", "ends", "names", "text")

    def __init__(self, block: Block, spec: BlockSpec) -> None:
        self.inner_start, self.inner_end = block.inner_start, block.inner_end
        self.starts = [item.start for item in block.items]
        self.ends = [item.end for item in block.items]
        self.names, self.text = _card_reads(spec)

    def keep(self, start: int, end: int, name: str | None) -> bool:
        """Whether a change of old bytes [start, end), in the value of attribute `name` (None: in
        text), leaves every card value as it was: it is outside the cards, or in nothing they read."""
        if end <= self.inner_start or start >= self.inner_end:
            return True
        k = bisect_right(self.starts, start) - 1
        if k < 0 or start >= self.ends[k]:
            return True  # between cards: a card's values come from its own subtree only
        if name is None:
            return not self.text
        return self.names is not _ANY and name not in self.names


# What the new bytes of some ranges must pass: (quote, the new ranges inside attribute values it
# quotes) for each quote, and (the '>' before, old start, old end, new start, new end) for text.
_Checks = tuple[tuple[tuple[bytes, list[tuple[int, int]]], ...], tuple[tuple[int, int, int, int, int], ...]]


class _Differences:
    """The differences of the last body reused at equal length, with all that follows from where they
    lie in the known body (worked out once, not per view): a page with a token in every card differs
    in the same places on every view. A range may then hold bytes that did not change this time: the
    checks hold for any bytes inside a range that passed them (they look at its place in the known
    body and at all of its new bytes), so a wider range is never less safe."""

    __slots__ = ("ranges", "checks", "in_sourced", "_between")

    def __init__(self, old: memoryview, ranges: list[tuple[int, int]], checks: _Checks, sourced: tuple[tuple[int, int], ...]) -> None:
        self.ranges = ranges
        self.checks = checks
        # Whether a difference lies in a block whose bytes actions copy (its cards).
        self.in_sourced = any(start < inner_end and end > inner_start for start, end in ranges for inner_start, inner_end in sourced)
        # The known body's stretches between the ranges, with where they begin.
        bounds = [0, *(edge for start, end in ranges for edge in (start, end)), len(old)]
        self._between = [(at, old[at:stop]) for at, stop in zip(bounds[0::2], bounds[1::2])]

    def within(self, new: bytes) -> bool:
        """Whether `new` (of equal length) differs from the known body only within these ranges:
        one C comparison per stretch between them, where finding each difference anew takes several."""
        return all(new.startswith(stretch, at) for at, stretch in self._between)


class LayoutReuse:
    """What one analysed body tells about others: built once per cached layout, on first need."""

    def __init__(self, layout: PageLayout, specs: Sequence[BlockSpec]) -> None:
        body = layout.body
        self.body = body
        self._layout = layout
        readable = _selector_attributes(specs)
        self._usable = False
        if readable is _ANY or b"<![cdata[" in body.lower():
            return
        self._usable = True
        self._readable = readable
        self._limit = max(MAX_DIFFERENCES, len(body) // _BYTES_PER_DIFFERENCE)
        by_name = {spec.name: spec for spec in specs}
        self._cards = tuple(_Cards(block, by_name[name]) for name, block in layout.blocks.items() if block.items and name in by_name)
        # Where blocks hold bytes that actions copy (cards), as (start, end).
        self._sourced = tuple((block.inner_start, block.inner_end) for block in layout.blocks.values() if block.items)
        tags = scan(body, 3 if body.startswith(b"\xef\xbb\xbf") else 0)
        self._scan = tags
        self._places: dict[tuple[int, int], bytes | int] = {}  # _place, by old range
        self._last: _Differences | None = None  # the differences of the last body reused at equal length
        # Every start and end tag the scanner found, in source order (True for start tags).
        self._tags = list(
            merge(
                *([(at, True) for at in positions] for positions in tags.starts.values()),
                *([(at, False) for at in positions] for positions in tags.ends.values()),
            )
        )
        self._tag_at = [at for at, _ in self._tags]
        # svg/math nesting depth after each of their start and end tags (a stray end tag closes nothing)
        events = sorted(
            [(start, 1) for name in (b"svg", b"math") for start in tags.starts.get(name, ())]
            + [(end, -1) for name in (b"svg", b"math") for end in tags.ends.get(name, ())]
        )
        self._foreign_at = [offset for offset, _ in events]
        self._foreign_depth = []
        depth = 0
        for _, step in events:
            depth = max(0, depth + step)
            self._foreign_depth.append(depth)

    def layout_for(self, new: bytes) -> PageLayout | None:
        """The layout of `new`, if this one holds for it (see the module docstring): a copy with
        offsets shifted where lengths changed and the blocks' bytes taken from `new` (itself when
        the lengths are equal and no card differs); None when `new` needs an analysis."""
        if not self._usable:
            return None
        old = self.body
        if len(new) != len(old):
            ranges = alignment(old, new, self._limit, in_step=True)
            if ranges is None or not self._fits(ranges, new):
                ranges = alignment(old, new, self._limit)  # the bodies may meet again elsewhere
                if ranges is None or not self._fits(ranges, new):
                    return None
            return _shifted(self._layout, new, ranges)
        last = self._last
        if last is None or not last.within(new) or not self._holds(last.checks, new):
            same = differences(old, new, self._limit)
            if same is None:
                return None
            checks = self._checks(_in_place(same))
            if checks is None or not self._holds(checks, new):
                return None
            # Kept with the earlier bodies' differences: a token's first or last characters agree by chance
            # in one view and not in the next, so one view's ranges alone rarely hold the next view's.
            union = _union(last.ranges if last is not None else [], same, self._limit)
            if union is not None:
                union_checks = self._checks(_in_place(union))
                if union_checks is not None and self._holds(union_checks, new):
                    same, checks = union, union_checks
            last = self._last = _Differences(memoryview(old), same, checks, self._sourced)
        return _sourced(self._layout, new) if last.in_sourced else self._layout

    def _fits(self, ranges: list[tuple[int, int, int, int]], new: bytes) -> bool:
        """Whether every difference passes the checks (see the module docstring)."""
        checks = self._checks(ranges)
        return checks is not None and self._holds(checks, new)

    def _checks(self, ranges: list[tuple[int, int, int, int]]) -> _Checks | None:
        """What the new bytes of `ranges` must pass (_holds), from where the ranges lie in the known body
        alone; None when one lies where no new bytes could pass."""
        if any(start < _PRESCAN and end - start != new_end - new_start for start, end, new_start, new_end in ranges):
            return None  # it could move a <meta charset> across the end of what browsers prescan
        values: dict[bytes, list[tuple[int, int]]] = {}
        texts: list[tuple[int, int, int, int, int]] = []
        for start, end, new_start, new_end in ranges:
            place = self._places.get((start, end))
            if place is None:
                place = self._place(start, end)
                if len(self._places) < 4 * self._limit:  # the same places differ on every view (bounded all the same)
                    self._places[(start, end)] = place
            if isinstance(place, bytes):
                values.setdefault(place, []).append((new_start, new_end))
            elif place < 0:
                return None
            else:
                texts.append((place, start, end, new_start, new_end))
        return tuple(values.items()), tuple(texts)

    def _holds(self, checks: _Checks, new: bytes) -> bool:
        """Whether the new bytes pass `checks`: attribute values are checked together, one C search per
        quote, where most differences lie; text after its tag (_harmless_text)."""
        values, texts = checks
        for place, start, end, new_start, new_end in texts:
            if not self._harmless_text(place, start, end, new[new_start:new_end]):
                return False
        for quote, spans in values:
            joined = b"".join([new[new_start:new_end] for new_start, new_end in spans])
            if quote in joined or b"\x00" in joined:
                return False
        return True

    def _place(self, start: int, end: int) -> bytes | int:
        """What may replace old bytes [start, end), whatever the new bytes are: when they lie in a
        quoted attribute value, its quote (the new bytes may hold neither it nor NUL); in text, the
        '>' of the tag it follows (_harmless_text); -1: nothing."""
        k = bisect_left(self._tag_at, start) - 1  # the last tag that begins before the difference
        if k < 0:
            return -1
        lt, is_start = self._tags[k]
        if self._in_foreign(lt):
            return -1
        if not is_start:
            return self._scan.tag_end(lt) if self._cards_keep(start, end, None) else -1
        found = start_tag(self._scan.lowered, lt)
        if found is None:
            return -1
        tag, tag_end, attributes = found
        if start > tag_end:
            return tag_end if tag not in _NOT_DATA and self._cards_keep(start, end, None) else -1
        if end > tag_end:
            return -1
        for name, _, _, value_start, value_end, quote in attributes:
            if value_start <= start and end <= value_end:
                if not quote or name in _STEERING or tag == b"meta" and _declares_charset(name, attributes):
                    return -1
                return quote if name not in self._readable and self._cards_keep(start, end, name) else -1
        return -1

    def _cards_keep(self, start: int, end: int, name: str | None) -> bool:
        return all(cards.keep(start, end, name) for cards in self._cards)

    def _harmless_text(self, gt: int, start: int, end: int, changed: bytes) -> bool:
        """Whether old bytes [start, end), replaced by `changed`, lie in text right after the tag
        ending at `gt` and change nothing but characters (see the module docstring)."""
        old = self.body
        if start <= gt:
            return False
        before, was = old[gt + 1 : start], old[start:end]
        if _NOT_IN_TEXT.search(before) or _NOT_IN_TEXT.search(was) or _NOT_IN_TEXT.search(changed):
            return False
        if before.strip(_WHITESPACE):
            return True  # where this text run first holds a non-whitespace character is settled before it
        return was[:1] not in _NOT_TEXT_START and changed[:1] not in _NOT_TEXT_START

    def _in_foreign(self, position: int) -> bool:
        k = bisect_right(self._foreign_at, position - 1)
        return k > 0 and self._foreign_depth[k - 1] > 0
