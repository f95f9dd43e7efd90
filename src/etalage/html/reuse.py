"""Whether a layout verified for one origin body also holds for another body of the same page.

Shops put per-response values into their pages: a CSRF token in a `<meta>` and a hidden form
field, a request id, the visitor's name or cart count in the header. No two bodies are equal, and
analysing each costs a full parse and verification (milliseconds for 100 KB). Such bodies differ
from the last analysed one in a few places that change nothing the layout depends on, so the
layout is reused, its offsets shifted where lengths changed, when every difference passes these
checks:

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
- it is not in a block's start tag or content (actions read and keep those bytes);
- a change of length is not in the first 1024 bytes, where browsers look for `<meta charset>`.

Anything else (bigger changes, more than 16 differences) gets a full analysis. Finding the
differences costs some tens of microseconds for 100 KB (comparisons run in C); the checks, a
regular-expression match or two per difference.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import replace
from heapq import merge
from types import MappingProxyType

from etalage.html.page import BlockSpec, Item, PageLayout
from etalage.html.tagscan import Attribute, scan, start_tag

__all__ = ["LayoutReuse"]

MAX_DIFFERENCES = 16
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


def differences(old: bytes, new: bytes, limit: int = MAX_DIFFERENCES) -> list[tuple[int, int]] | None:
    """[start, end) ranges where two bodies of equal length differ, close ones joined; None when
    there are more than `limit`. Comparisons run in C (startswith on a memoryview: no copy): per
    chunk, then by halving to each difference; only the bytes around a difference are stepped."""
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
            first = next(i for i in range(low, high) if old[i] != new[i])
            last = first  # step on while differences follow within _JOIN bytes
            i = first + 1
            while i < size and i - last <= _JOIN:
                if old[i] != new[i]:
                    last = i
                i += 1
            if found and first - found[-1][1] <= _JOIN:
                found[-1][1] = last + 1
            elif len(found) == limit:
                return None
            else:
                found.append([first, last + 1])
            pos = last + 1
    return [(start, end) for start, end in found]


def alignment(old: bytes, new: bytes, limit: int = MAX_DIFFERENCES) -> list[tuple[int, int, int, int]] | None:
    """Ranges (old start, old end, new start, new end) outside of which `old` and `new` are equal,
    in order; for bodies whose lengths differ. After each difference the bodies are taken to meet
    again where _ANCHOR bytes of `old` come back in `new`, within _MAX_SPAN bytes. None when that
    fails or there are more than `limit` ranges."""
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
        meeting = _meeting(view, new, i, j)
        if meeting is None:
            return None
        p, q = meeting
        found.append((i, p, j, q))
        i, j = p, q


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
    """`layout` with every offset moved as `ranges` (see alignment) move the bytes after them; no
    offset lies inside a range (the checks keep ranges out of blocks)."""
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


def _declares_charset(name: str, attributes: tuple[Attribute, ...]) -> bool:
    """Whether this attribute of a <meta> can declare the page's encoding."""
    return name in ("charset", "http-equiv") or name == "content" and any(other.name == "http-equiv" for other in attributes)


class LayoutReuse:
    """What one analysed body tells about others: built once per cached layout, on first need."""

    def __init__(self, layout: PageLayout, specs: Sequence[BlockSpec]) -> None:
        body = layout.body
        self.body = body
        self._layout = layout
        readable = _selector_attributes(specs)
        self._blocks = tuple((block.tag_end, block.inner_start, block.inner_end) for block in layout.blocks.values())
        self._usable = False
        if readable is _ANY or b"<![cdata[" in body.lower():
            return
        self._usable = True
        self._readable = readable
        tags = scan(body, 3 if body.startswith(b"\xef\xbb\xbf") else 0)
        self._scan = tags
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
        """The layout of `new`, if this one holds for it (see the module docstring): itself when the
        lengths are equal, else a copy with offsets shifted; None when `new` needs an analysis."""
        if not self._usable:
            return None
        old = self.body
        if len(new) == len(old):
            same = differences(old, new)
            ranges = None if same is None else [(start, end, start, end) for start, end in same]
        else:
            ranges = alignment(old, new)
            if ranges is not None and ranges[0][0] < _PRESCAN:
                return None  # it could move a <meta charset> across the end of what browsers prescan
        if ranges is None or not all(self._harmless(*each, new) for each in ranges):
            return None
        return self._layout if len(new) == len(old) else _shifted(self._layout, new, ranges)

    def _harmless(self, start: int, end: int, new_start: int, new_end: int, new: bytes) -> bool:
        k = bisect_left(self._tag_at, start) - 1  # the last tag that begins before the difference
        if k < 0:
            return False
        lt, is_start = self._tags[k]
        if self._in_foreign(lt):
            return False
        for _tag_end, inner_start, inner_end in self._blocks:
            if start <= inner_end and end >= inner_start:
                return False
        changed = new[new_start:new_end]
        if not is_start:
            return self._harmless_text(self._scan.tag_end(lt), start, end, changed)
        found = start_tag(self._scan.lowered, lt)
        if found is None:
            return False
        tag, tag_end, attributes = found
        if start > tag_end:
            return tag not in _NOT_DATA and self._harmless_text(tag_end, start, end, changed)
        if end > tag_end or any(tag_end == block_tag_end for block_tag_end, _, _ in self._blocks):
            return False
        for name, _, _, value_start, value_end, quote in attributes:
            if value_start <= start and end <= value_end:
                if not quote or quote in changed or b"\x00" in changed:
                    return False
                if name in _STEERING or tag == b"meta" and _declares_charset(name, attributes):
                    return False
                return name not in self._readable
        return False

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
