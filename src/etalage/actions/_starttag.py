"""The attributes already on a block's start tag, for actions that add one (`set`, `hide`).

A `Block` knows where its start tag ends (`tag_end`, verified: an attribute inserted there lands on
the container) but not where it starts, nor which attributes it has. Adding an attribute the tag
already has would make a duplicate, which browsers drop (the first one wins): the change would
silently not apply. So an action that adds an attribute first looks the tag up here.

How: the tag scanner that `etalage.page` used to locate the block is run again over the page up
to `tag_end` (tokens before a tag do not depend on what follows it), the last start tag it finds
must be the one ending at `tag_end`, and its attributes are read as the HTML tokenizer reads them
(names lower-cased, a quote opens a value only after '=', `a="1"b="2"` is two attributes). When
anything does not add up, the answer is None and the caller changes nothing.

The scan costs about as much as locating the block did (some ms on a 500 KB page), so answers are
kept in a small cache keyed by the page bytes object: `Personalizer` keeps one layout (and so one
`bytes` object) per origin body, which makes repeated views of a page a dict lookup. Entries hold
their page, so an id is never reused while its entry lives; the cache is bounded by page bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cachetools import LRUCache

from .._tagscan import scan
from ..page import Block

__all__ = ["StartTag", "start_tag"]

_BOM = b"\xef\xbb\xbf"
_NAME = re.compile(rb"<([a-z][^\t\n\f\r />]*)")
# One attribute as the tokenizer reads it (WHATWG "before attribute name" to "after attribute value").
_ATTR = re.compile(
    rb"(?:[\t\n\f\r ]|/(?!>))*+"
    rb"([^\t\n\f\r />][^\t\n\f\r /=>]*+)"
    rb"(?:[\t\n\f\r ]*+=[\t\n\f\r ]*+(?:\"[^\"]*+\"|'[^']*+'|[^\t\n\f\r >]*+))?"
)


@dataclass(frozen=True, slots=True)
class StartTag:
    name: str  # lower-case tag name
    start: int  # offset of its '<'
    attributes: frozenset[str]  # lower-case attribute names present on it


_cache: LRUCache[tuple[int, int], tuple[bytes, StartTag | None]] = LRUCache(
    maxsize=32 * 1024 * 1024, getsizeof=lambda entry: len(entry[0]) + 256
)


def start_tag(block: Block) -> StartTag | None:
    """The container's start tag, or None when it cannot be read with certainty (then add nothing)."""
    source = block.source
    if not source:
        return None
    key = (id(source), block.tag_end)
    entry = _cache.get(key)
    if entry is not None and entry[0] is source:
        return entry[1]
    try:
        found = _read(source, block.tag_end)
    except Exception:  # an odd page must not break the rule: add nothing
        found = None
    if len(source) + 256 <= _cache.maxsize:  # cachetools refuses an entry larger than the cache
        _cache[key] = (source, found)
    return found


def _read(source: bytes, tag_end: int) -> StartTag | None:
    if not 0 < tag_end < len(source) or source[tag_end : tag_end + 1] != b">":
        return None
    base = 3 if source.startswith(_BOM) else 0
    tags = scan(source[: tag_end + 1], base)
    starts = [positions[-1] for positions in tags.starts.values() if positions]
    if not starts:
        return None
    lt = max(starts)
    if tags.tag_end(lt) != tag_end:
        return None
    lowered = tags.lowered
    name = _NAME.match(lowered, lt)
    if name is None:
        return None
    attributes = set()
    pos = name.end()
    while pos < tag_end:
        match = _ATTR.match(lowered, pos, tag_end)
        if match is None or match.end() == pos:
            break
        attributes.add(match.group(1).decode("latin-1"))
        pos = match.end()
    if lowered[pos:tag_end].strip(b"\t\n\f\r /"):
        return None  # something the reading above does not understand: do not guess
    return StartTag(name.group(1).decode("latin-1"), lt, frozenset(attributes))
