"""etalage.page against the html5lib tree-construction corpus: malformed HTML of every kind.

Every `#data` input is used as an origin page, alone and wrapped in four shop-like pages (as the
content of a block, between items of a list, of `<p>` items, of table rows). analyse() must not
raise, and every range it hands out is re-checked here with lexbor, independently of analyse's
own verification:

- the block: its inner range replaced by a marker (and an attribute inserted at tag_end) parses
  to the same tree as the same change made through the DOM;
- the items: each item range replaced by a marker parses like the DOM with each item node
  replaced by a comment, and reordering the items with reorder_items()/splice() (reversed, and
  shuffled) parses like the DOM with the item nodes moved the same way;
- body_end: `<div id=etalage-probe></div>` inserted there ends up inside <body>.

The corpus is found at $ETALAGE_HTML5LIB_CORPUS or at ../shared/corpora/html5lib-tree-construction
beside the repository; the tests skip when it is absent.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser

from etalage.html.page import Block, BlockSpec, Edit, analyse, reorder_items, splice
from tests.support.corpus import PARAMS, cases, corpus_file

SPECS = (
    BlockSpec("b", "div"),
    BlockSpec("l", "ul", "li", ("data-x",), item_links=True),
    BlockSpec("p", "p"),
    BlockSpec("o", "ol, select", "li, option"),
)
MARKER = "<!--etalage-test-->"
PROBE = b"<div id=etalage-probe></div>"
OUTSIDE = "<div class=etalage-outside>x <span>y</span></div>"


def parse(data: bytes) -> LexborHTMLParser:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return LexborHTMLParser(data, scripting=True, encoding=True)


def direct_items(node, selector: str) -> list:
    return [m for m in node.css(selector) if m.parent == node]


def assert_block(data: bytes, spec: BlockSpec, block: Block) -> None:
    assert data[block.tag_end : block.tag_end + 1] == b">"
    assert block.inner_start == block.tag_end + 1 <= block.inner_end <= len(data)
    # The block range, re-checked: bytes vs DOM.
    edited = splice(data, [Edit(block.tag_end, block.tag_end, b' data-t="1"'), Edit(block.inner_start, block.inner_end, MARKER.encode())])
    tree = parse(data)
    node = tree.css_first(spec.selector)
    node.attrs["data-t"] = "1"
    node.inner_html = MARKER
    assert parse(edited).html == tree.html, "block range"
    assert_outside(data, spec, block)
    assert_attrs(data, spec, block)
    if not block.items:
        return
    # Each item's links are those of its own node (as many items as nodes is checked below).
    nodes = direct_items(parse(data).css_first(spec.selector), spec.item_selector)
    for item, node in zip(block.items, nodes):
        expected = (
            tuple(href.strip() for a in node.css("a[href]") if (href := a.attributes.get("href") or "").strip()) if spec.item_links else ()
        )
        assert item.links == expected, "item links"
    # The item ranges: each replaced by a marker, text between them kept.
    previous = block.inner_start
    for item in block.items:
        assert previous <= item.start < item.end <= block.inner_end
        previous = item.end
    markers = [f"<!--etalage-item-{j}-->" for j in range(len(block.items))]
    edited = splice(data, [Edit(i.start, i.end, m.encode()) for i, m in zip(block.items, markers)])
    tree = parse(data)
    nodes = direct_items(tree.css_first(spec.selector), spec.item_selector)
    assert len(nodes) == len(block.items)
    comments = LexborHTMLParser("".join(markers), is_fragment=True).root
    for node in nodes:
        node.replace_with(comments)
        comments = comments.next
    assert parse(edited).html == tree.html, "item ranges"
    # Reordering the items in the bytes does what reordering them in the DOM does.
    reverse = list(range(len(block.items)))[::-1]
    shuffled = list(range(len(block.items)))
    random.Random(data).shuffle(shuffled)
    for order in (reverse, shuffled):
        edited = splice(data, reorder_items(block, order))
        tree = parse(data)
        nodes = direct_items(tree.css_first(spec.selector), spec.item_selector)
        slots = LexborHTMLParser("<!--slot-->" * len(nodes), is_fragment=True).root
        for node in nodes:  # a placeholder before each item, then every item moved before its new slot
            node.insert_before(slots)
            slots = slots.next
        placeholders = [node.prev for node in nodes]
        for slot, index in enumerate(order):
            placeholders[slot].insert_before(nodes[index], move=True)
        for placeholder in placeholders:
            placeholder.decompose()
        assert parse(edited).html == tree.html, f"items reordered {order}"


def assert_outside(data: bytes, spec: BlockSpec, block: Block) -> None:
    """Content spliced in at block.start / block.end parses as the container's previous / next sibling."""
    if block.start is None:
        assert block.end is None, "end without start"
        return
    assert data[block.start : block.start + 1] == b"<" and block.start < block.tag_end
    sides = [("before", block.start)]
    if block.end is not None:
        assert block.inner_end < block.end <= len(data) and data[block.end - 1 : block.end] == b">", "end"
        assert data[block.inner_end : block.inner_end + 2] == b"</", "end tag"
        sides.append(("after", block.end))
    for side, at in sides:
        tree = parse(data)
        node = tree.css_first(spec.selector)
        fragment = LexborHTMLParser(OUTSIDE, is_fragment=True).root
        (node.insert_before if side == "before" else node.insert_after)(fragment)
        assert parse(splice(data, [Edit(at, at, OUTSIDE.encode())])).html == tree.html, f"insertion {side} the block"


def assert_attrs(data: bytes, spec: BlockSpec, block: Block) -> None:
    """Each attribute range replaced by ` name="v"` sets that attribute, as in the DOM."""
    if block.attrs is None:
        return
    names = {name.lower() for name in parse(data).css_first(spec.selector).attributes}
    assert set(block.attrs) == names, "attribute names"
    for name, (start, end) in block.attrs.items():
        tree = parse(data)
        tree.css_first(spec.selector).attrs[name] = "v&"
        assert parse(splice(data, [Edit(start, end, f' {name}="v&amp;"'.encode())])).html == tree.html, f"attribute {name!r} replaced"


def assert_body_end(data: bytes, body_end: int) -> None:
    tree = parse(splice(data, [Edit(body_end, body_end, PROBE)]))
    probe = tree.css_first("#etalage-probe")
    assert probe is not None, "probe not in the document tree"
    node = probe.parent
    while node is not None and node.tag != "body":
        node = node.parent
    assert node is not None, "probe not inside <body>"


def assert_layout(path: Path, number: int, data: bytes, specs: tuple[BlockSpec, ...]) -> None:
    layout = analyse(data, specs)  # must not raise
    try:
        assert layout.body == data
        assert set(layout.blocks) <= {spec.name for spec in specs}
        assert len(layout.problems) == len(specs) - len(layout.blocks)
        for spec in specs:
            block = layout.blocks.get(spec.name)
            if block is not None:
                try:
                    assert_block(data, spec, block)
                except AssertionError as exc:
                    raise AssertionError(f"block {spec.name!r}: {exc}") from exc
        if layout.body_end is not None:
            assert_body_end(data, layout.body_end)
    except AssertionError as exc:
        raise AssertionError(f"{path.name} case {number}: {data!r}: {exc}") from exc


# Each input also inside a shop-like page, as the content of a block or between its items.
WRAPPERS = (
    (b"<!DOCTYPE html><html><head><title>t</title></head><body><div id=wrap>", b"</div><footer><p>x</p></footer></body></html>\n"),
    (b"<!DOCTYPE html>\n<body><ul id=wrap>\n<li data-x=1>a</li>\n", b"\n<li data-x=2>z</li>\n</ul><p>after</p>\n</body>\n</html>"),
    (b"<div id=wrap><p>a<p>b", b"<p>c</div><p>after"),
    (b"<table id=wrap><tr><td>1</td></tr>\n", b"\n<tr><td>2</td></tr></table><p>after"),
)
WRAPPED_SPECS = (
    *SPECS,
    BlockSpec("w", "#wrap"),
    BlockSpec("wi", "#wrap", "*", ("data-x",)),
    BlockSpec("r", "tbody", "tr"),
)


@pytest.mark.parametrize(**PARAMS)
def test_analyse_corpus_ranges_hold(path: Path | None) -> None:
    for number, data in enumerate(cases(corpus_file(path))):
        assert_layout(path, number, data, SPECS)


@pytest.mark.parametrize(**PARAMS)
def test_analyse_corpus_ranges_hold_inside_a_page(path: Path | None) -> None:
    for number, case in enumerate(cases(corpus_file(path))):
        for before, after in WRAPPERS:
            assert_layout(path, number, before + case + after, WRAPPED_SPECS)
