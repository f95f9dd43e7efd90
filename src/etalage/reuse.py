"""Whether a layout verified for one origin body also holds for another body of the same page.

Shops often put a per-response value into every page (a CSRF token in a `<meta>` and a hidden
form field, a request id): no two bodies are equal, and analysing each one costs a full parse and
verification. Such bodies differ from the last analysed one only inside a few attribute values.
An attribute value that changes while its quotes stay put changes nothing the layout depends on,
so the layout is reused when every difference passes these checks:

- the bodies have the same length (the usual fixed-size token; offsets stay valid);
- the difference lies inside the quoted value of a start tag that the tag scanner found, and the
  new bytes hold neither that quote nor NUL: the tokenizer stays in that value, every other token
  is the same;
- the tag is not inside `<svg>`/`<math>` and the page has no `<![CDATA[` (where the scanner is not
  exact about what is a tag, see `_tagscan`);
- the attribute is not one that steers the parser: `type` (a hidden input in a table),
  `encoding` (MathML annotation-xml), a `<meta>`'s `charset`, `http-equiv`, or `content` next to
  `http-equiv` (the page's encoding);
- no block selector can see it: not an attribute a selector names (`#` means id, `.` class),
  and no selector uses a pseudo-class that reads attributes (`:lang()`, `:checked`...);
- it is not in a block's start tag or content (actions read and keep those bytes).

Anything else (a different length, text that changed, too many differences) gets a full analysis.
Finding the differences costs a few tens of microseconds for 100 KB; the check per difference is
one regular-expression match.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from heapq import merge

from ._tagscan import Attribute, scan, start_tag
from .page import BlockSpec, PageLayout

__all__ = ["LayoutReuse"]

MAX_DIFFERENCES = 16
_CHUNK = 4096
_FINE = 64
_JOIN = 8  # differences this close are one (a hex token has equal digits by chance)
_STEERING = frozenset({"type", "encoding"})
# Pseudo-classes that look at an element's place in the tree only, never at attribute values.
_STRUCTURAL = frozenset(
    "first-child last-child only-child nth-child nth-last-child first-of-type last-of-type only-of-type "
    "nth-of-type nth-last-of-type not is where has empty root".split()
)
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


def _declares_charset(name: str, attributes: tuple[Attribute, ...]) -> bool:
    """Whether this attribute of a <meta> can declare the page's encoding."""
    return name in ("charset", "http-equiv") or name == "content" and any(other.name == "http-equiv" for other in attributes)


class LayoutReuse:
    """What one analysed body tells about others: built once per cached layout, on first need."""

    def __init__(self, layout: PageLayout, specs: Sequence[BlockSpec]) -> None:
        body = layout.body
        self.body = body
        self._readable = _selector_attributes(specs)
        self._blocks = tuple((block.tag_end, block.inner_start, block.inner_end) for block in layout.blocks.values())
        self._usable = self._readable is not _ANY and b"<![cdata[" not in body.lower()
        if not self._usable:
            return
        tags = scan(body, 3 if body.startswith(b"\xef\xbb\xbf") else 0)
        self._lowered = tags.lowered
        self._starts = list(merge(*tags.starts.values()))
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

    def holds_for(self, new: bytes) -> bool:
        """Whether the layout is right for `new` as well (see the module docstring)."""
        old = self.body
        if not self._usable or len(new) != len(old):
            return False
        regions = differences(old, new)
        if regions is None:
            return False
        return all(self._harmless(start, end, new) for start, end in regions)

    def _harmless(self, start: int, end: int, new: bytes) -> bool:
        k = bisect_right(self._starts, start) - 1
        if k < 0:
            return False
        lt = self._starts[k]
        if self._in_foreign(lt):
            return False
        found = start_tag(self._lowered, lt)
        if found is None:
            return False
        tag, tag_end, attributes = found
        if end > tag_end:
            return False
        for block_tag_end, inner_start, inner_end in self._blocks:
            if tag_end == block_tag_end or inner_start <= start < inner_end:
                return False
        for name, _, _, value_start, value_end, quote in attributes:
            if value_start <= start and end <= value_end:
                if not quote or quote in new[start:end] or b"\x00" in new[start:end]:
                    return False
                if name in _STEERING or tag == b"meta" and _declares_charset(name, attributes):
                    return False
                return name not in self._readable
        return False

    def _in_foreign(self, position: int) -> bool:
        k = bisect_right(self._foreign_at, position - 1)
        return k > 0 and self._foreign_depth[k - 1] > 0
