"""Byte-level HTML tag scanner: where start and end tags are, as byte offsets.

selectolax (lexbor) builds the tree but keeps no source positions, so `etalage.html.page` finds tags
here and checks every range it derives against lexbor's tree before using it. This scanner only
has to be right often enough to be useful; it never has to be right to be safe.

It follows the WHATWG tokenizer in everything that decides where a tag starts and ends:

- tag names start with an ASCII letter (`<1`, `< a`, `<-` are text);
- a quote opens an attribute value only right after `=`; quoted values may hold `>` and `<`;
- a tag that meets the end of the input before its `>` is no tag (the tokenizer drops it and
  everything after it);
- comments (`<!-- -->`, `--!>`, the abrupt `<!-->` / `<!--->`; an unterminated one runs to the
  end), doctypes and the other `<!...>`, `<?...>`, `</1...>` bogus comments;
- raw text: script (with its escaped and double-escaped states), style, xmp, iframe, noembed,
  noframes, noscript (as a browser with scripting parses it); RCDATA: textarea, title;
  plaintext: everything after it is text.

Not modelled are tree-construction decisions that change the tokenizer: in foreign content
`<svg><style>` is not raw text and `<![CDATA[` opens a CDATA section; a `<style>` that `<select>`
ignores. Tags inside `<template>` are kept apart, as lexbor keeps template content out of the
document tree.

Speed: the input is lower-cased once (bytes.lower() only touches A-Z, offsets stay), then one
`re.finditer` pass with possessive quantifiers only (linear, no backtracking). The Python loop
runs once per tag, never per byte.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import NamedTuple

__all__ = ["TagScan", "Attribute", "scan", "start_tag", "FORMATTING"]

_S = rb"\t\n\f\r "  # HTML whitespace (CR too: the input stream turns CRLF / CR into LF)
_SEP = rb"[\t\n\f\r />]"  # what may follow a tag name
# Attributes: separators (whitespace, a '/' not before '>'), then name [= value]. A quote opens a
# value only right after '='; an unclosed quoted value fails the tag (end of input inside a tag).
# The first alternative is the common ` name="value"`, only there for speed.
_ATTRS = (
    rb"(?:[" + _S + rb"]++[a-z][-a-z0-9_:.]*+=\"[^\"]*+\""
    rb"|[" + _S + rb"]++|/(?!>)|[^" + _S + rb"/>][^" + _S + rb"/=>]*+"
    rb"(?:[" + _S + rb"]*+=[" + _S + rb"]*+"
    rb"(?:\"[^\"]*+\"|'[^']*+'|[^" + _S + rb">\"'][^" + _S + rb">]*+|(?=>))"
    rb"|(?![" + _S + rb"]*+=)))*+"
)
_NAME = rb"[a-z][^" + _S + rb"/>]*+"

# Script data and its escaped / double-escaped states (WHATWG tokenizer, "script data" states).
_D_CHARS = rb"(?:[^<]++|<(?!/script" + _SEP + rb"|!--))"
_E_CHARS = rb"(?:[^<-]++|-(?!-++>)|<(?!/?script" + _SEP + rb"))"
_DE_CHARS = rb"(?:[^<-]++|-(?!-++>)|<(?!/script" + _SEP + rb"))"
_ESCAPED = (
    rb"(?:" + _E_CHARS + rb"|<script" + _SEP + _DE_CHARS + rb"*+</script" + _SEP + rb")*+"
    rb"(?:--++>|<script" + _SEP + _DE_CHARS + rb"*+(?:--++>|\Z)|(?=</script" + _SEP + rb")|\Z)"
)
_SCRIPT_BODY = rb"(?:" + _D_CHARS + rb"|<!---*+>|<!--" + _ESCAPED + rb")*+"

# Group numbers are part of the contract with scan(): the group that closes last names the token.
_TOKEN = re.compile(
    rb"<(?:"
    # 1 name, 2 '/' or '': start tag (not a raw-text one)
    rb"(?!(?:script|style|xmp|iframe|noembed|noframes|noscript|textarea|title|plaintext)" + _SEP + rb")"
    rb"(" + _NAME + rb")" + _ATTRS + rb"(/?)>"
    # 3 name, 4 '>': end tag
    rb"|/(" + _NAME + rb")" + _ATTRS + rb"/?(>)"
    # comments, doctype, bogus comments, '</>': not tags
    rb"|!--(?:-?>|.*?--!?>|.*)"
    rb"|[!?][^>]*+>?"
    rb"|/(?![a-z>])[^>]*+>?"
    rb"|/>"
    # 5 name, 6 content: raw text / RCDATA element (content up to its end tag)
    rb"|(style|xmp|iframe|noembed|noframes|noscript|textarea|title)(?=" + _SEP + rb")" + _ATTRS + rb"/?>"
    rb"((?:[^<]++|<(?!/\5" + _SEP + rb"))*+)"
    # 7 name, 8 content: script
    rb"|(script)(?=" + _SEP + rb")" + _ATTRS + rb"/?>(" + _SCRIPT_BODY + rb")"
    # 9 name, 10 content: plaintext; everything after it is text
    rb"|(plaintext)(?=" + _SEP + rb")" + _ATTRS + rb"/?>(.*)"
    # a tag cut off by the end of the input is dropped together with the rest of the input
    rb"|(?=/?[a-z]).*"
    rb")",
    re.S,
)

# Elements the "active formatting elements" list tracks, and form (the form element pointer): an
# item that leaves one of them open can change how the items after it are parsed.
FORMATTING = frozenset(
    {b"a", b"b", b"big", b"code", b"em", b"font", b"i", b"nobr", b"s", b"small", b"strike", b"strong", b"tt", b"u", b"form"}
)


@dataclass(slots=True)
class TagScan:
    """Tags outside comments, raw text and template content, by lower-case name, in source order.

    starts[name]: offsets of the '<' of start tags; ends[name]: the same for end tags.
    `lowered` is the scanned input in lower case (same offsets), for follow-up matching.
    self_closing: the start tags (of any name, in source order) that end with `/>`, which close
    an element in foreign content only (HTML ignores the slash).
    """

    lowered: bytes
    starts: dict[bytes, list[int]] = field(default_factory=dict)
    ends: dict[bytes, list[int]] = field(default_factory=dict)
    self_closing: list[int] = field(default_factory=list)

    def tag_end(self, lt: int) -> int:
        """Offset of the '>' that closes the start or end tag whose '<' is at `lt`."""
        m = _TAG_AT.match(self.lowered, lt)
        if m is None:  # not a tag scan() reported
            raise ValueError(f"no tag at {lt}")
        return m.end() - 1


_TAG_AT = re.compile(rb"</?" + _NAME + _ATTRS + rb"/?>")
_START_NAME = re.compile(rb"<(" + _NAME + rb")")
# One attribute as the tokenizer reads it: 1 name, then 2 a double-quoted, 3 a single-quoted or
# 4 an unquoted value (a quote opens a value only right after '='; `a="1"b="2"` is two attributes).
_ATTRIBUTE = re.compile(
    rb"(?:[" + _S + rb"]|/(?!>))*+"
    rb"([^" + _S + rb"/>][^" + _S + rb"/=>]*+)"
    rb"(?:[" + _S + rb"]*+=[" + _S + rb"]*+(?:\"([^\"]*+)\"|'([^']*+)'|([^" + _S + rb">]*+)))?"
)
_TAG_CLOSE = re.compile(rb"[" + _S + rb"/]*+>")
_QUOTES = {2: b'"', 3: b"'", 4: b""}


class Attribute(NamedTuple):
    name: str  # lower-case, as the tokenizer reads it (bytes taken as latin-1)
    start: int  # where the whitespace before it starts: deleting start..end removes it cleanly
    end: int  # just past its value (or its name, without a value)
    value_start: int  # the value without its quotes; value_start == value_end == end when absent
    value_end: int
    quote: bytes  # b'"', b"'", or b"" when the value is unquoted or absent


def start_tag(lowered: bytes, lt: int) -> tuple[bytes, int, tuple[Attribute, ...]] | None:
    """The start tag whose '<' is at `lt` in a scanned (lower-cased) input: its name, the offset of
    its '>' and its attributes, in source order, duplicates included. None when there is no start
    tag at `lt` as scan() reads tags."""
    name = _START_NAME.match(lowered, lt)
    if name is None:
        return None
    attributes = []
    pos = name.end()
    while (match := _ATTRIBUTE.match(lowered, pos)) is not None:
        group = match.lastindex if match.lastindex is not None and match.lastindex > 1 else None
        value_start, value_end = (match.start(group), match.end(group)) if group else (match.end(), match.end())
        attributes.append(Attribute(match[1].decode("latin-1"), pos, match.end(), value_start, value_end, _QUOTES[group] if group else b""))
        pos = match.end()
    close = _TAG_CLOSE.match(lowered, pos)
    if close is None:
        return None
    return name[1], close.end() - 1, tuple(attributes)


def scan(data: bytes, pos: int = 0) -> TagScan:
    """Scan `data` from offset `pos`; reported offsets are positions in `data`."""
    lowered = data.lower()
    if b"<template" in lowered:
        return _scan_template(lowered, pos)
    # The loop runs once per tag: a third of a first look's scan, so it does no more than it must.
    starts: defaultdict[bytes, list[int]] = defaultdict(list)
    ends: defaultdict[bytes, list[int]] = defaultdict(list)
    self_closing: list[int] = []
    for m in _TOKEN.finditer(lowered, pos):
        kind = m.lastindex
        if kind == 2:
            at = m.start()
            starts[m[1]].append(at)
            if m[2]:
                self_closing.append(at)
        elif kind == 4:
            ends[m[3]].append(m.start())
        elif kind is not None:
            starts[m[kind - 1]].append(m.start())
    return TagScan(lowered, dict(starts), dict(ends), self_closing)


def _scan_template(lowered: bytes, pos: int) -> TagScan:
    """scan() of a page that may hold <template> content: keeps track of its nesting."""
    result = TagScan(lowered)
    starts = result.starts
    ends = result.ends
    depth = 0  # <template> nesting: its content is not part of the document tree
    for m in _TOKEN.finditer(lowered, pos):
        kind = m.lastindex
        if kind is None:
            continue
        if kind == 4:
            name = m[3]
            if depth:
                if name != b"template":
                    continue
                depth -= 1
                if depth:
                    continue
            bucket = ends.get(name)
            if bucket is None:
                ends[name] = [m.start()]
            else:
                bucket.append(m.start())
            continue
        if kind == 2:
            name = m[1]
            if name == b"template":
                depth += 1
                if depth > 1:
                    continue
            elif depth:
                continue
            if m[2]:
                result.self_closing.append(m.start())
        elif depth:
            continue
        else:
            name = m[kind - 1]
        bucket = starts.get(name)
        if bucket is None:
            starts[name] = [m.start()]
        else:
            bucket.append(m.start())
    return result
