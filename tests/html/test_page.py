"""etalage.page: blocks located in the origin's bytes, verified against lexbor, edited by splicing."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
from selectolax.lexbor import LexborHTMLParser

from etalage.html.page import (
    MISS_REASONS,
    Block,
    BlockSpec,
    Edit,
    Item,
    ItemField,
    PageLayout,
    _is,
    analyse,
    charset_of,
    miss_reason,
    reorder_items,
    splice,
)

CARDS = BlockSpec("popular", "#popular", "li[data-product-id]", ("data-product-id", "data-category"))
HERO = BlockSpec("hero", "#hero")


def parse(data: bytes) -> LexborHTMLParser:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return LexborHTMLParser(data, scripting=True, encoding=True)


def page(body: bytes, head: bytes = b"<title>Shop</title>") -> bytes:
    return b"<!DOCTYPE html>\n<html>\n<head>\n" + head + b"\n</head>\n<body>\n" + body + b"\n</body>\n</html>\n"


def only(data: bytes, spec: BlockSpec) -> Block:
    layout = analyse(data, [spec])
    assert layout.problems == ()
    return layout.blocks[spec.name]


def problem(data: bytes, spec: BlockSpec) -> str:
    layout = analyse(data, [spec])
    assert spec.name not in layout.blocks
    assert len(layout.problems) == 1
    assert layout.problems[0].startswith(f"{spec.name}: ")
    return layout.problems[0]


def assert_replacement_parses_like_dom(data: bytes, spec: BlockSpec, block: Block, new: str) -> bytes:
    """Splice `new` into the block and check lexbor sees exactly the DOM edit; returns the page."""
    edited = splice(
        data, [Edit(block.tag_end, block.tag_end, b' data-etalage-rule="r"'), Edit(block.inner_start, block.inner_end, new.encode())]
    )
    assert (
        edited
        == data[: block.tag_end]
        + b' data-etalage-rule="r"'
        + data[block.tag_end : block.inner_start]
        + new.encode()
        + data[block.inner_end :]
    )
    tree = parse(data)
    node = tree.css_first(spec.selector)
    node.attrs["data-etalage-rule"] = "r"
    node.inner_html = new
    assert parse(edited).html == tree.html
    return edited


def shop(cards: int = 4, closed: bool = True, sep: bytes = b"\n  ") -> bytes:
    categories = ["dogs", "cats", "birds", "fish"]
    items = []
    for i in range(cards):
        items.append(
            b'<li class="card" data-product-id="p%d" data-category="%s"><a href="/p/p%d">Product %d</a> <span>&euro; %d</span>%s'
            % (i, categories[i % 4].encode(), i, i, i + 1, b"</li>" if closed else b"")
        )
    return page(
        b'<section id="hero"><h1>Welcome</h1></section>\n<ul id="popular" class="products">'
        + sep
        + sep.join(items)
        + b"\n</ul>\n<footer><p>Pootjes &amp; Co</p></footer>"
    )


# --------------------------------------------------------------------------------------------
# analyse: locating


@pytest.mark.parametrize(
    "selector",
    ["#hero", ".banner", "[data-block=hero]", "section.banner[data-block]", "main > section"],
    ids=["id", "class", "attribute", "compound", "child-combinator"],
)
def test_analyse_locates_block_by_selector(selector: str) -> None:
    data = page(b'<main><section id="hero" class="top banner" data-block="hero"><h1>Hi</h1></section></main>')
    block = only(data, BlockSpec("hero", selector))
    assert data[block.inner_start : block.inner_end] == b"<h1>Hi</h1>"


@pytest.mark.parametrize(
    "element",
    [
        b'<script id="x">var a = 1;</script>',
        b'<style id="x">p {}</style>',
        b'<noscript id="x"><p>on</p></noscript>',
        b'<svg><script id="x">1</script></svg>',
    ],
    ids=["script", "style", "noscript", "svg-script"],
)
def test_analyse_refuses_a_container_that_holds_code_or_raw_text(element: bytes) -> None:
    assert "holds code or raw text, not HTML" in problem(page(element), BlockSpec("x", "#x"))


def test_analyse_block_ranges_are_exact_bytes() -> None:
    data = page(b'<div class=x><div id="hero" title="a>b">\n<p>one</p><div>two</div>\n</div ></div>')
    block = only(data, HERO)
    start = data.index(b'<div id="hero"')
    assert data[block.tag_end : block.tag_end + 1] == b">"
    assert data[start : block.tag_end + 1] == b'<div id="hero" title="a>b">'
    assert block.inner_start == block.tag_end + 1
    assert data[block.inner_start : block.inner_end] == b"\n<p>one</p><div>two</div>\n"
    assert data[block.inner_end :].startswith(b"</div ></div>")
    assert block.items == ()


def test_analyse_first_match_in_document_order_is_the_block() -> None:
    data = page(b'<div class="promo">first</div><p><span class="promo">second</span></p>')
    block = only(data, BlockSpec("promo", ".promo"))
    assert data[block.inner_start : block.inner_end] == b"first"


@pytest.mark.parametrize("tag", [b"<div id=hero class=a>", b'<div id="hero"/>', b"<DIV ID='hero' data-x=\"1\">", b'<div\nid="hero"\n>'])
def test_analyse_tag_end_insertion_adds_an_attribute(tag: bytes) -> None:
    data = page(tag + b"x</div>")
    block = only(data, HERO)
    edited = splice(data, [Edit(block.tag_end, block.tag_end, b' data-etalage-rule="r"')])
    node = parse(edited).css_first("#hero")
    assert node.attributes["data-etalage-rule"] == "r"
    assert node.attributes["id"] == "hero"


def test_analyse_reads_item_attrs_as_lexbor_decodes_them() -> None:
    data = page(
        b'<ul id="popular"><li data-product-id="p&amp;1" data-category=dogs>a</li><li data-product-id data-extra="x">b</li><li>c</li></ul>'
    )
    block = only(data, BlockSpec("popular", "#popular", "li", ("data-product-id", "data-category")))
    assert [dict(item.attrs) for item in block.items] == [
        {"data-product-id": "p&1", "data-category": "dogs"},
        {"data-product-id": ""},
        {},
    ]


def test_analyse_reads_item_links_only_when_asked() -> None:
    data = shop(3)
    assert [item.links for item in only(data, CARDS).items] == [(), (), ()]
    spec = BlockSpec("popular", "#popular", "li[data-product-id]", (), item_links=True)
    block = only(data, spec)
    assert [item.links for item in block.items] == [("/p/p0",), ("/p/p1",), ("/p/p2",)]
    assert [dict(item.attrs) for item in block.items] == [{}, {}, {}]


def test_analyse_item_fields_read_from_inner_elements_only_when_asked() -> None:
    # Oscar's cards: nothing on the <article>, the product's pk only in the basket form's action.
    data = page(
        b'<ol class="row">'
        b'<li><article class="product_pod"><h3><a href="x">A <b>book</b></a></h3>'
        b'<form action="/basket/add/12/" method="post"><button>Add</button></form></article></li>'
        b'<li><article class="product_pod"><h3><a href="y">Other</a></h3><p>sold out</p></article></li>'
        b"</ol>"
    )
    form = ItemField("form[action^='/basket/add/']", "action")
    title = ItemField("h3 a", None)
    block = only(data, BlockSpec("grid", "ol.row", "li", item_fields=(form, title)))
    assert [dict(item.fields) for item in block.items] == [{form: "/basket/add/12/", title: "A book"}, {title: "Other"}]
    assert [dict(item.fields) for item in only(data, BlockSpec("grid", "ol.row", "li")).items] == [{}, {}]


def test_analyse_item_links_in_document_order_as_lexbor_decodes_them() -> None:
    data = page(
        b'<ul id="grid">'
        b'<li><a href="/brands/acme">Acme</a> <a href=" /p/a&amp;b?x=1 ">A</a><a>no href</a><a href="  ">blank</a>'
        b"<template><a href=/in-template>t</a></template></li>"
        b"<li><p>no link</p></li>"
        b'<li><a href="/p/c"><img src=c.jpg></a><a href="/p/c#reviews">reviews</a></li>'
        b"</ul>"
    )
    block = only(data, BlockSpec("grid", "#grid", "li", item_links=True))
    assert [item.links for item in block.items] == [("/brands/acme", "/p/a&b?x=1"), (), ("/p/c", "/p/c#reviews")]


def test_analyse_item_that_is_a_link_is_its_own_first_link() -> None:
    data = page(b'<nav id="cards"><a class="card" href="/p/1"><span>1</span></a><a class="card" href="/p/2">2</a></nav>')
    block = only(data, BlockSpec("cards", "#cards", "a.card", item_links=True))
    assert [item.links for item in block.items] == [("/p/1",), ("/p/2",)]


def test_analyse_item_links_of_a_windows_1252_page_are_decoded_with_the_meta_charset() -> None:
    data = page(b'<ul id="popular"><li data-product-id="1"><a href="/p/caf\xe9">x</a></li></ul>', head=b'<meta charset="windows-1252">')
    assert only(data, BlockSpec("popular", "#popular", "li", item_links=True)).items[0].links == ("/p/caf\u00e9",)


def test_analyse_item_links_stay_with_their_item_when_items_are_reordered() -> None:
    data = shop(4, closed=False)
    spec = BlockSpec("popular", "#popular", "li[data-product-id]", ("data-product-id",), item_links=True)
    block = only(data, spec)
    edited = splice(data, reorder_items(block, [3, 2, 1, 0]))
    again = only(edited, spec)
    assert [(item.attrs["data-product-id"], item.links) for item in again.items] == [(f"p{n}", (f"/p/p{n}",)) for n in (3, 2, 1, 0)]


def test_analyse_items_have_exact_ranges_and_keep_whitespace_between() -> None:
    data = shop(3)
    block = only(data, CARDS)
    assert len(block.items) == 3
    for number, item in enumerate(block.items):
        raw = data[item.start : item.end]
        assert raw.startswith(b'<li class="card" data-product-id="p%d"' % number)
        assert raw.endswith(b"</li>")
        assert raw.count(b"<li") == 1
    gaps = [data[a.end : b.start] for a, b in zip(block.items, block.items[1:])]
    assert gaps == [b"\n  ", b"\n  "]
    assert data[block.inner_start : block.items[0].start] == b"\n  "
    assert data[block.items[-1].end : block.inner_end] == b"\n"


def test_analyse_unclosed_li_items_end_where_the_next_item_starts() -> None:
    data = page(
        b'<ul id="popular">\n<li data-product-id="a" data-category="dogs">A\n<li data-product-id="b" data-category="cats">B <b>x</b>\n</ul><p>after'
    )
    block = only(data, CARDS)
    assert [data[i.start : i.end] for i in block.items] == [
        b'<li data-product-id="a" data-category="dogs">A\n',
        b'<li data-product-id="b" data-category="cats">B <b>x</b>\n',
    ]
    assert block.items[1].end == block.inner_end


def test_analyse_items_are_direct_children_only() -> None:
    data = page(
        b'<ul id="popular"><li data-product-id="1"><ul><li data-product-id="nested">n</li></ul></li><li data-product-id="2">2</li></ul>'
    )
    block = only(data, BlockSpec("popular", "#popular", "li[data-product-id]", ("data-product-id",)))
    assert [item.attrs["data-product-id"] for item in block.items] == ["1", "2"]
    assert data[block.items[0].start : block.items[0].end].endswith(b"</ul></li>")


def test_analyse_items_empty_when_no_child_matches() -> None:
    data = page(b'<ul id="popular"><li>1</li></ul>')
    block = only(data, BlockSpec("popular", "#popular", "li.card", ("data-category",)))
    assert block.items == ()


def test_analyse_nested_same_name_tags_find_the_matching_end_tag() -> None:
    data = page(b'<div id="hero"><div><div>a</div></div><div>b</div></div><div>after</div>')
    block = only(data, HERO)
    assert data[block.inner_start : block.inner_end] == b"<div><div>a</div></div><div>b</div>"


def test_analyse_nested_and_identical_blocks_are_all_located() -> None:
    data = shop(3)
    specs = [CARDS, BlockSpec("cards", "#popular"), BlockSpec("first", "li.card"), BlockSpec("price", "li.card span")]
    layout = analyse(data, specs)
    assert layout.problems == ()
    assert layout.blocks["cards"].inner_start == layout.blocks["popular"].inner_start
    assert layout.blocks["first"].inner_start == layout.blocks["popular"].items[0].start + len(
        b'<li class="card" data-product-id="p0" data-category="dogs">'
    )
    assert data[layout.blocks["price"].inner_start : layout.blocks["price"].inner_end] == b"&euro; 1"


def test_analyse_block_in_table_cell_is_located() -> None:
    data = page(b'<table><tr><td id="hero">cell <b>x</b></td><td>2</td></tr></table>')
    block = only(data, HERO)
    assert data[block.inner_start : block.inner_end] == b"cell <b>x</b>"


# --------------------------------------------------------------------------------------------
# analyse: outside the block (start, end) and its attributes


def assert_insertion_parses_like_dom(data: bytes, spec: BlockSpec, at: int, side: str) -> None:
    """A <div> spliced in at `at` parses as the DOM with it inserted before / after the container."""
    new = '<div class="tip">Hi <b>there</b></div>'
    tree = parse(data)
    node = tree.css_first(spec.selector)
    fragment = LexborHTMLParser(new, is_fragment=True).root
    (node.insert_before if side == "before" else node.insert_after)(fragment)
    assert parse(splice(data, [Edit(at, at, new.encode())])).html == tree.html


def test_analyse_block_start_and_end_enclose_the_whole_element() -> None:
    data = page(b'<main>\n<div class=x><div id="hero" title="a>b">\n<p>one</p><div>two</div>\n</div ></div>\n</main>')
    block = only(data, HERO)
    assert data[block.start : block.end] == b'<div id="hero" title="a>b">\n<p>one</p><div>two</div>\n</div >'
    assert_insertion_parses_like_dom(data, HERO, block.start, "before")
    assert_insertion_parses_like_dom(data, HERO, block.end, "after")


def test_analyse_block_start_and_end_of_an_item_block() -> None:
    data = shop(3)
    block = only(data, CARDS)
    assert data[block.start : block.end].startswith(b'<ul id="popular"') and data[block.start : block.end].endswith(b"</ul>")
    assert_insertion_parses_like_dom(data, CARDS, block.start, "before")
    assert_insertion_parses_like_dom(data, CARDS, block.end, "after")


def test_analyse_block_without_end_tag_has_no_end() -> None:
    data = page(b'<div><p id="hero">x<p>y</div>')
    block = only(data, HERO)
    assert (data[block.start : block.inner_end], block.end) == (b'<p id="hero">x', None)
    assert_insertion_parses_like_dom(data, HERO, block.start, "before")


@pytest.mark.parametrize(
    "content",
    [b"<table><tr><td>x", b"<i>x"],  # </div> does not close the table / the <i> would be reopened
    ids=["table", "formatting"],
)
def test_analyse_block_whose_content_leaves_an_element_open_has_no_end(content: bytes) -> None:
    # Verified only because nothing but </body> follows: content after the block would land
    # in the cell / in a reopened <i>.
    data = b'<!DOCTYPE html><body><div><div id="hero">' + content + b"</div></div></body>"
    block = only(data, HERO)
    assert (block.start, block.end) == (data.index(b'<div id="hero"'), None)


@pytest.mark.parametrize(
    "body",
    [
        b'<table><tr><td id="hero">cell</td></tr></table>',
        b'<ul><li id="hero">item</li></ul>',
        b'<ol><li id="hero">item</li></ol>',
        b'<a href="/"><span id="hero">link</span></a>',
        b'<p>text <span id="hero">span</span> text</p>',
        b'<select><option id="hero">o</option></select>',
        b'<svg><g id="hero"></g></svg>',
    ],
    ids=["table", "ul", "ol", "a", "p", "select", "svg"],
)
def test_analyse_block_has_no_outside_where_a_div_would_not_be_a_sibling(body: bytes) -> None:
    block = only(page(body), HERO)
    assert (block.start, block.end) == (None, None)


@pytest.mark.parametrize(
    "body",
    [
        b'<h1>a<h2 id="hero">b</h2>',  # the <h1> is still open: content before <h2> lands in it
        b'<div><i>x</div><div id="hero">y</div>',  # content there would reopen the <i>
    ],
    ids=["open-heading", "formatting-left-open"],
)
def test_analyse_block_whose_outside_markers_do_not_land_as_siblings_keeps_the_rest(body: bytes) -> None:
    data = page(body)
    block = only(data, HERO)
    assert (block.start, block.end) == (None, None)
    assert data[block.inner_start : block.inner_end] in (b"b", b"y")
    assert dict(block.attrs) == {"id": (data.index(b' id="hero"'), data.index(b' id="hero"') + len(b' id="hero"'))}


def attrs_of(tag: bytes) -> dict[str, bytes] | None:
    data = page(tag + b"x</div>")
    block = only(data, HERO)
    return None if block.attrs is None else {name: data[start:end] for name, (start, end) in block.attrs.items()}


def test_analyse_block_attrs_are_whole_attributes_with_leading_whitespace() -> None:
    assert attrs_of(b"<div id=hero class=\"a b\"\n\tTITLE='x>y' hidden data-x = 1 />") == {
        "id": b" id=hero",
        "class": b' class="a b"',
        "title": b"\n\tTITLE='x>y'",
        "hidden": b" hidden",
        "data-x": b" data-x = 1",
    }


def test_analyse_block_attrs_are_read_as_the_tokenizer_reads_them() -> None:
    # a quote opens a value only after '=', a="1"b="2" is two attributes, '/' separates
    assert attrs_of(b'<div id="hero"a="1"b=\'2\'/c d"e=f>') == {
        "id": b' id="hero"',
        "a": b'a="1"',
        "b": b"b='2'",
        "c": b"/c",
        'd"e': b' d"e=f',
    }


def test_analyse_block_attrs_keep_the_first_of_duplicated_names() -> None:
    data = page(b'<div id="hero" title=one TITLE="two"x=1 title=three>x</div>')
    block = only(data, HERO)
    assert {name: data[start:end] for name, (start, end) in block.attrs.items()} == {
        "id": b' id="hero"',
        "title": b" title=one",
        "x": b"x=1",
    }
    assert parse(data).css_first("#hero").attributes["title"] == "one"


def test_analyse_block_attrs_of_a_tag_without_attributes_are_empty() -> None:
    block = only(page(b"<main>x</main>"), BlockSpec("m", "main"))
    assert block.attrs == {}


def test_analyse_block_attrs_are_unknown_when_a_name_is_not_ascii() -> None:
    assert attrs_of('<div id="hero" caf\u00e9="1">'.encode()) is None


@pytest.mark.parametrize("new", [b' title="new"', b" "], ids=["replaced", "removed"])
def test_analyse_block_attr_range_replaced_or_removed_parses_like_the_dom(new: bytes) -> None:
    data = page(b"<div class=a TITLE='x>y'id=\"hero\" hidden>x</div>")
    block = only(data, HERO)
    start, end = block.attrs["title"]
    tree = parse(data)
    node = tree.css_first("#hero")
    if new.strip():
        node.attrs["title"] = "new"
    else:
        del node.attrs["title"]
    assert parse(splice(data, [Edit(start, end, new)])).html == tree.html


def test_analyse_outside_and_attrs_cost_no_extra_parse(monkeypatch) -> None:
    from etalage.html import page as page_module

    parses = []
    real = page_module._parse
    monkeypatch.setattr(page_module, "_parse", lambda data, codec: parses.append(len(data)) or real(data, codec))
    layout = analyse(shop(3), [HERO, CARDS])
    assert layout.blocks["hero"].start is not None and layout.blocks["popular"].end is not None
    assert all(block.attrs for block in layout.blocks.values())
    assert len(parses) == 3  # the page, skeleton 1, and skeleton 2 for the item block: as without them


def test_block_built_by_hand_has_no_outside_and_no_attrs() -> None:
    block = Block("x", 4, 5, 9, ())
    assert (block.start, block.end, block.attrs) == (None, None, None)


# --------------------------------------------------------------------------------------------
# analyse: refusing (fail open, never raise)


def test_analyse_selector_matching_nothing_is_a_problem() -> None:
    assert problem(page(b"<p>x</p>"), HERO) == "hero: selector matched nothing"


def test_analyse_invalid_selector_is_a_problem() -> None:
    assert problem(page(b"<p>x</p>"), BlockSpec("hero", "div[")).startswith("hero: invalid selector")


def test_analyse_selector_inside_template_matches_nothing() -> None:
    data = page(b'<template><div id="hero">t</div></template><div class="x">y</div>')
    assert problem(data, HERO) == "hero: selector matched nothing"


def test_analyse_tags_inside_template_do_not_shift_later_blocks() -> None:
    data = page(b'<template><div><div>t</template></div><div class="x">y</div>')
    block = only(data, BlockSpec("x", ".x"))
    assert data[block.inner_start : block.inner_end] == b"y"


def test_analyse_block_partly_foster_parented_out_of_a_table_is_refused() -> None:
    data = page(b'<table id="hero"><tr><td>1</td></tr><p>fostered</p></table>')
    assert "does not match the parsed page" in problem(data, BlockSpec("hero", "#hero"))


def test_analyse_block_crossing_a_table_cell_is_refused() -> None:
    data = page(b'<table><tr><td><div id="hero">a</td><td>b</div></td></tr></table>')
    problem(data, HERO)


def test_analyse_block_whose_unclosed_tag_changes_what_follows_is_refused() -> None:
    data = page(b'<div id="hero"><b>bold</div><p>after</p>')  # the <b> is reconstructed after the block
    assert "does not match the parsed page" in problem(data, HERO)


def test_analyse_block_leaking_into_another_block_is_refused_alone() -> None:
    data = page(b'<div id="hero"><b>bold</div><div id="next">text</div>')
    layout = analyse(data, [HERO, BlockSpec("next", "#next")])
    assert set(layout.blocks) == {"next"}
    assert layout.problems[0].startswith("hero: ")


def test_analyse_div_inside_script_string_is_not_a_tag() -> None:
    data = page(b'<div class="a">x</div><div id="hero">y</div>', head=b"<script>var s = '<div class=\"a\">'; if (a<b) {}</script>")
    block = only(data, HERO)
    assert data[block.inner_start : block.inner_end] == b"y"


def test_analyse_div_inside_comment_is_not_a_tag() -> None:
    data = page(b'<!-- <div id="hero">old</div> --><div id="hero">new</div><!-- </div> -->')
    block = only(data, HERO)
    assert data[block.inner_start : block.inner_end] == b"new"


def test_analyse_div_inside_attribute_value_is_not_a_tag() -> None:
    data = page(b'<a title=\'<div id="hero">\' data-x="</div>">link</a><div id="hero">real</div>')
    block = only(data, HERO)
    assert data[block.inner_start : block.inner_end] == b"real"


@pytest.mark.parametrize(
    "before",
    [
        b"<!-->",
        b"<!--->",
        b'<!-- x --!> <div class="x">b</div>',
        b'<!-- <div id="hero"> -- > still a comment -->',
        b'<? <div id="hero"> ?>',
        b'<!x <div id="hero">>',
        b'</ 1 <div id="hero">>',
        b'<script><!--<script>"</script>"<div id="hero">"</script>--></script>',
        b'<script><!-- "</script>"',
        b'<textarea><div id="hero"></textarea>',
        b'<title><div id="hero"></title>',
        b'<style>a<div id="hero">{}</style>',
        b'<xmp><div id="hero"></xmp>',
        b'<iframe><div id="hero"></iframe>',
        b'<noembed><div id="hero"></noembed>',
        b'<noframes><div id="hero"></noframes>',
        b'<noscript><div id="hero">no js</div></noscript>',
        b"<p title=\"a>b <div id='hero'>\" data-y='\"' a=b\"c>x</p>",
        b"<DIV/><Div\tid=other>x</dIV>",
    ],
)
def test_analyse_skips_markup_that_is_no_tag(before: bytes) -> None:
    data = page(before + b'<div id="hero">real</div>')
    block = only(data, HERO)
    assert data[block.inner_start : block.inner_end] == b"real"


def test_analyse_item_leaving_a_formatting_element_open_is_refused() -> None:
    data = page(b'<ul id="popular"><li data-product-id="1"><b>one</li><li data-product-id="2">two</li></ul>')
    assert problem(data, CARDS) == "popular: item 0 leaves <b> open or closes one it did not open"


def test_analyse_item_closing_a_formatting_element_from_before_is_refused() -> None:
    data = page(b'<p><b>bold</p><ul id="popular"><li data-product-id="1">one</b></li><li data-product-id="2">two</li></ul>')
    assert problem(data, CARDS) == "popular: item 0 leaves <b> open or closes one it did not open"


def test_analyse_items_with_forms_inside_an_open_form_are_refused() -> None:
    cards = b"".join(b'<li data-product-id="%d"><form action="/cart"><button>Add</button></form></li>' % i for i in range(3))
    assert only(page(b'<ul id="popular">' + cards + b"</ul>"), CARDS).items
    data = page(b'<form id="aspnetForm"><ul id="popular">' + cards + b"</ul></form>")
    assert "forms the parser ignores" in problem(data, CARDS)


def test_analyse_unclosed_items_with_text_between_are_refused() -> None:
    data = page(b'<ul id="popular"><li data-product-id="1">one</li>\n<li data-product-id="2">two\n</ul>')
    assert "items without end tags" in problem(data, CARDS)


def test_analyse_unclosed_last_item_that_a_sibling_would_not_end_is_refused() -> None:
    data = page(b'<ul id="popular"><li data-product-id="1">one<li data-product-id="2">two<article>x</ul>')
    problem(data, CARDS)


def test_analyse_duplicate_block_name_is_a_problem() -> None:
    layout = analyse(page(b'<div id="hero">x</div>'), [HERO, BlockSpec("hero", "div")])
    assert set(layout.blocks) == {"hero"}
    assert layout.problems == ("hero: duplicate block name",)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<",
        b"</",
        b"<div",
        b'<div id="hero',
        b"<!--",
        b"<script>",
        b"\xff\xfe<\x00d\x00i\x00v\x00>\x00",
        b"\xfe\xff\x00<",
        b"<div id=hero>\x00</div>",
        b"\xef\xbb\xbf",
        b"\x80\x81\xfe\xff\xc3\x28<div id=hero>\xe9</div>",
        b"<div id=hero>" * 3000,
        b"</div>" * 100 + b"<table><tr><td><div id=hero><table><select><option><svg><math>",
        bytes(range(256)) * 4,
    ],
    ids=lambda body: repr(body[:16]),
)
def test_analyse_never_raises(body: bytes) -> None:
    layout = analyse(body, [HERO, CARDS, BlockSpec("bad", "::nope")])
    assert isinstance(layout, PageLayout)
    assert layout.body == body
    assert len(layout.problems) + len(layout.blocks) == 3


def test_analyse_never_raises_on_random_bytes() -> None:
    rng = random.Random(20251122)
    alphabet = b"<>/=\"' !-divpulitablescrX\n\x80\xe9"
    for _ in range(300):
        body = bytes(rng.choice(alphabet) for _ in range(rng.randrange(0, 80)))
        layout = analyse(body, [BlockSpec("d", "div"), BlockSpec("l", "ul", "li", ("id",))])
        # analyse() catches everything (fail open): a crash would only show as this reason
        assert not any("analysis failed" in problem for problem in layout.problems), (body, layout.problems)
        for block in layout.blocks.values():
            assert 0 <= block.tag_end < block.inner_start <= block.inner_end <= len(body)


def test_analyse_utf16_page_is_not_analysed() -> None:
    body = "\ufeff<div id=hero>x</div>".encode("utf-16-le")
    layout = analyse(body, [HERO])
    assert layout.blocks == {}
    assert layout.body_end is None
    assert layout.problems == ("hero: page is UTF-16, not analysed",)


# --------------------------------------------------------------------------------------------
# analyse: exactness on pages that re-serialization would change


EXACTNESS = {
    "html4-doctype": page(b'<div id="hero">old</div>').replace(
        b"<!DOCTYPE html>", b'<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN" "http://www.w3.org/TR/html4/loose.dtd">'
    ),
    "noscript-in-head": page(b'<div id="hero">old</div>', head=b'<noscript><img src="p.gif"></noscript><link rel="canonical" href="/a">'),
    "quoted-attrs": page(b"<p class=a data-x='{\"a\":1}' hidden>x</p><div id='hero' class=top>old</div><input required disabled=\"\">"),
    "entities": page(
        b'<p>5&nbsp;&euro; &amp; &copy; &lt;b&gt; &#8364;</p><div id="hero" title="&euro;">old &amp; &quot;</div><a href="/a?x=1&y=2">x</a>'
    ),
    "crlf": page(b'<div id="hero">\r\nold\r\n</div>\r\n<p>x</p>').replace(b"\n", b"\r\n").replace(b"\r\r", b"\r"),
    "bom": b"\xef\xbb\xbf" + page(b'<div id="hero">old</div>'),
    "windows-1252": page(
        b'<p>Caf\xe9 \x80 5</p><div id="hero">\xe9t\xe9 \x93old\x94</div><p>na\xefve</p>', head=b'<meta charset="windows-1252">'
    ),
    "invalid-utf8": page(b'<p>\xe9<div id="hero">\xc3old\xff</div>\xe9<p>'),
    "uppercase-void-selfclosing": page(b'<BR/><DIV ID="hero">old<br/></DIV><svg viewBox="0 0 1 1"><path d="M0 0"/></svg>'),
    "unclosed-p-and-li": page(b'<ul><li>a<li>b</ul><p>x<div id="hero">old</div><p>y'),
    "whitespace-after-body": page(b'<div id="hero">old</div>') + b"\n<!-- trailing --><script>1</script>\n",
}


@pytest.mark.parametrize("data", EXACTNESS.values(), ids=EXACTNESS.keys())
def test_analyse_edit_keeps_bytes_outside_the_block(data: bytes) -> None:
    block = only(data, HERO)
    assert data[block.tag_end : block.tag_end + 1] == b">"
    assert data.rfind(b"<", 0, block.tag_end) < block.tag_end
    edited = assert_replacement_parses_like_dom(data, HERO, block, "<p>new banner</p>")
    assert edited.startswith(data[: block.tag_end])
    assert edited.endswith(data[block.inner_end :])


def test_analyse_bom_offsets_are_relative_to_the_original_body() -> None:
    data = EXACTNESS["bom"]
    block = only(data, HERO)
    assert data[block.inner_start : block.inner_end] == b"old"
    assert analyse(data, []).body_end == data.rindex(b"</body>")


def test_analyse_windows_1252_attrs_are_decoded_with_the_meta_charset() -> None:
    data = page(b'<ul id="popular"><li data-product-id="1" data-category="Sch\xfche">x</li></ul>', head=b'<meta charset="iso-8859-1">')
    assert only(data, CARDS).items[0].attrs["data-category"] == "Sch\u00fche"


# --------------------------------------------------------------------------------------------
# body_end


def test_analyse_body_end_is_before_the_last_body_end_tag() -> None:
    data = page(b'<p>x</p><!-- </body> --><script>document.write("</body>")</script>')
    assert analyse(data, []).body_end == data.rindex(b"</body>")


def test_analyse_body_end_without_body_end_tag_is_before_the_html_end_tag() -> None:
    data = b"<!DOCTYPE html><html><head></head><body><p>x</p>\n</html>\n"
    assert analyse(data, []).body_end == data.index(b"</html>")


def test_analyse_body_end_without_end_tags_is_the_end_of_the_body() -> None:
    data = b"<!DOCTYPE html><title>x</title><p>text"
    assert analyse(data, []).body_end == len(data)


def test_analyse_body_end_ignores_body_end_tags_in_comments_and_scripts() -> None:
    data = b'<!DOCTYPE html><body><p>x</p>\n<script>var t = "</body>";</script><!-- </body> -->\n'
    layout = analyse(data, [])
    assert layout.body_end == len(data)


@pytest.mark.parametrize(
    "data",
    [
        b"<!DOCTYPE html><p>x<script>var a = 1;",  # ends inside a script
        b"<!DOCTYPE html><p>x<!-- open comment",
        b"<!DOCTYPE html><frameset><frame src=a></frameset>",
        b"<!DOCTYPE html><p><a href=x>unclosed link",
        b"<!DOCTYPE html><select><option>x",
        b"<!DOCTYPE html><template><p>x",
    ],
    ids=["script", "comment", "frameset", "link", "select", "template"],
)
def test_analyse_body_end_is_none_where_an_insertion_would_not_land_in_body(data: bytes) -> None:
    assert analyse(data, []).body_end is None


def test_analyse_body_end_insertion_lands_in_body() -> None:
    data = shop(2)
    layout = analyse(data, [CARDS, HERO])
    edited = splice(data, [Edit(layout.body_end, layout.body_end, b'<div id="popin">hi</div>')])
    assert parse(edited).css_first("#popin").parent.tag == "body"


# --------------------------------------------------------------------------------------------
# splice


def test_splice_applies_insertions_and_replacements() -> None:
    data = b"0123456789"
    edits = [Edit(8, 10, b"XY"), Edit(0, 0, b"<"), Edit(3, 5, b""), Edit(5, 5, b"+")]
    assert splice(data, edits) == b"<012+567XY"


def test_splice_insertions_at_one_offset_keep_their_order() -> None:
    assert splice(b"ab", [Edit(1, 1, b"1"), Edit(1, 1, b"2"), Edit(1, 1, b"3")]) == b"a123b"


def test_splice_insertion_goes_before_a_replacement_at_its_offset() -> None:
    assert splice(b"abcd", [Edit(1, 3, b"X"), Edit(1, 1, b"<"), Edit(3, 3, b">")]) == b"a<X>d"


@pytest.mark.parametrize(
    "edits", [[Edit(1, 3, b""), Edit(2, 4, b"")], [Edit(1, 3, b""), Edit(2, 2, b"x")], [Edit(1, 3, b"a"), Edit(1, 2, b"b")]]
)
def test_splice_rejects_overlapping_edits(edits: list[Edit]) -> None:
    with pytest.raises(ValueError):
        splice(b"abcdef", edits)


@pytest.mark.parametrize("edit", [Edit(-1, 0, b""), Edit(2, 1, b""), Edit(3, 7, b"")])
def test_splice_rejects_edits_outside_the_body(edit: Edit) -> None:
    with pytest.raises(ValueError):
        splice(b"abcdef", [edit])


def test_splice_without_edits_returns_identical_bytes() -> None:
    data = shop(2)
    assert splice(data, []) == data


@pytest.mark.parametrize("data", [shop(5), shop(5, closed=False, sep=b""), *EXACTNESS.values()], ids=["shop", "shop-unclosed", *EXACTNESS])
def test_splice_of_an_unchanged_layout_returns_identical_bytes(data: bytes) -> None:
    layout = analyse(data, [HERO, CARDS])
    assert layout.blocks
    edits = []
    for block in layout.blocks.values():
        edits.append(Edit(block.tag_end, block.tag_end, b""))
        if block.items:
            edits += [Edit(item.start, item.end, data[item.start : item.end]) for item in block.items]
        else:
            edits.append(Edit(block.inner_start, block.inner_end, data[block.inner_start : block.inner_end]))
    if layout.body_end is not None:
        edits.append(Edit(layout.body_end, layout.body_end, b""))
    assert splice(data, edits) == data
    assert (
        splice(
            data, reorder_items(layout.blocks["popular"], range(len(layout.blocks["popular"].items))) if "popular" in layout.blocks else []
        )
        == data
    )


# --------------------------------------------------------------------------------------------
# reorder_items


def test_reorder_items_keeps_whitespace_and_every_item() -> None:
    data = shop(4)
    block = only(data, CARDS)
    raw = [data[item.start : item.end] for item in block.items]
    edited = splice(data, reorder_items(block, [2, 0, 3, 1]))
    inner = edited[block.inner_start : edited.rindex(b"</ul>")]
    assert inner == b"\n  " + b"\n  ".join([raw[2], raw[0], raw[3], raw[1]]) + b"\n"
    assert edited[: block.inner_start] == data[: block.inner_start]
    assert edited.endswith(data[block.inner_end :])
    ids = [node.attributes["data-product-id"] for node in parse(edited).css("#popular > li")]
    assert ids == ["p2", "p0", "p3", "p1"]


def test_reorder_items_of_unclosed_li_items() -> None:
    data = shop(3, closed=False, sep=b"")
    block = only(data, CARDS)
    edited = splice(data, reorder_items(block, [2, 1, 0]))
    tree = parse(edited)
    assert [node.attributes["data-product-id"] for node in tree.css("#popular > li")] == ["p2", "p1", "p0"]
    assert [node.text() for node in tree.css("#popular > li > a")] == ["Product 2", "Product 1", "Product 0"]


def test_reorder_items_in_place_gives_no_edits() -> None:
    block = only(shop(3), CARDS)
    assert reorder_items(block, [0, 1, 2]) == []
    (edit,) = reorder_items(block, [0, 2, 1])
    assert (edit.start, edit.end) == (block.items[1].start, block.items[2].end)


@pytest.mark.parametrize("order", [[0, 1], [0, 1, 1], [0, 1, 3], [0, 1, 2, 3]])
def test_reorder_items_rejects_an_order_that_is_no_permutation(order: list[int]) -> None:
    block = only(shop(3), CARDS)
    with pytest.raises(ValueError):
        reorder_items(block, order)


def test_reorder_items_of_a_large_page_parses_as_the_dom_reorder() -> None:
    data = shop(120)
    block = only(data, CARDS)
    order = sorted(range(120), key=lambda k: (block.items[k].attrs["data-category"] != "fish", k))
    tree = parse(splice(data, [Edit(block.tag_end, block.tag_end, b' data-etalage-rule="sort"'), *reorder_items(block, order)]))
    cards = tree.css("#popular > li")
    assert [node.attributes["data-product-id"] for node in cards] == [f"p{k}" for k in order]
    assert tree.css_first("#popular").attributes["data-etalage-rule"] == "sort"


def test_reorder_items_needs_the_source_bytes() -> None:
    block = Block("x", 0, 1, 9, (Item(1, 4, {}), Item(5, 8, {})))
    with pytest.raises(ValueError):
        reorder_items(block, [1, 0])


# --------------------------------------------------------------------------------------------
# charset_of


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        ("text/html; charset=utf-8", b"", "utf-8"),
        ("text/html;charset=ISO-8859-1", b"", "cp1252"),
        ('text/html; charset="latin1"', b'<meta charset="utf-8">', "cp1252"),
        ("text/html; charset=us-ascii", b"", "cp1252"),
        ("text/html; charset=Shift_JIS", b"", "cp932"),
        ("text/html; charset=windows-1251", b"", "cp1251"),
        ("text/html; charset=x-unknown", b'<meta charset="iso-8859-2">', "iso8859_2"),
        ("text/html; charset=x-unknown", b"", "ascii"),
        ("text/html", b'<meta charset="windows-1252">', "cp1252"),
        (None, b'<!DOCTYPE html><html><head><meta http-equiv="Content-Type" content="text/html; charset=iso-8859-15">', "iso8859_15"),
        (None, b"<META CHARSET=ascii>", "cp1252"),
        (None, b'<!-- <meta charset="koi8-r"> --><meta charset="utf-8">', "utf-8"),
        (None, b'<p title="<meta charset=koi8-r>">', "ascii"),
        (None, b'<meta charset="utf-16">', "utf-8"),
        (None, b"<meta name=x>" + b" " * 1024 + b'<meta charset="windows-1252">', "ascii"),
        (None, b'<meta charset="nonsense"><meta charset="latin2">', "iso8859_2"),
        (None, b"<p>no declaration</p>", "ascii"),
        ("text/html; charset=iso-8859-1", b"\xef\xbb\xbf<p>", "utf-8"),
        (None, b"\xff\xfe<\x00", "utf-16-le"),
        (None, b"\xfe\xff\x00<", "utf-16-be"),
    ],
)
def test_charset_of(content_type: str | None, body: bytes, expected: str) -> None:
    assert charset_of(content_type, body) == expected


def test_splice_puts_trailing_insertions_first_at_one_offset() -> None:
    edits = [Edit(3, 3, b"[label of the next]"), Edit(3, 3, b"[after the previous]", trailing=True), Edit(3, 3, b"[another]")]
    assert splice(b"abcdef", edits) == b"abc[after the previous][label of the next][another]def"


# --------------------------------------------------------------------------------------------
# analyse: pages too complex to analyse (issue 13: 100,000 nested <div>s took 93 s)


def nested_divs(depth: int) -> bytes:
    return page(b'<section id="hero">x</section>' + b"<div>" * depth + b"x" + b"</div>" * depth + shop(2))


def list_items(count: int) -> bytes:
    items = b"".join(b'<li data-product-id="p%d" data-category="c">%d</li>\n' % (i, i) for i in range(count))
    return page(b'<section id="hero">x</section><ul id="popular">' + items + b"</ul>")


def refused_unparsed(monkeypatch, data: bytes, **limits: int) -> str:
    """analyse() refusing `data` whole, without a single lexbor parse; the reason."""
    from etalage.html import page as page_module

    def no_parse(data: bytes) -> None:
        raise AssertionError("parsed")

    monkeypatch.setattr(page_module, "_parse", no_parse)
    layout = analyse(data, [HERO, CARDS], **limits)
    assert layout.too_complex is not None and layout.blocks == {} and layout.body_end is None
    assert layout.problems == (f"hero: {layout.too_complex}", f"popular: {layout.too_complex}")
    return layout.too_complex


def test_analyse_refuses_100000_nested_divs_before_parsing(monkeypatch) -> None:
    assert refused_unparsed(monkeypatch, nested_divs(100_000)) == "page too complex: 100020 start tags (limit 30000)"
    deep = refused_unparsed(monkeypatch, nested_divs(100_000), max_elements=1_000_000)
    assert deep == "page too complex: elements nested more than 512 deep"


def test_analyse_refuses_70000_list_items_before_parsing(monkeypatch) -> None:
    assert refused_unparsed(monkeypatch, list_items(70_000)) == "page too complex: 70006 start tags (limit 30000)"


def test_analyse_refuses_nesting_past_the_depth_limit_before_parsing(monkeypatch) -> None:
    assert refused_unparsed(monkeypatch, nested_divs(1_000)) == "page too complex: elements nested more than 512 deep"


def test_analyse_page_within_the_limits_is_analysed() -> None:
    layout = analyse(nested_divs(500), [HERO, CARDS])
    assert layout.too_complex is None and set(layout.blocks) == {"hero", "popular"}


@pytest.mark.parametrize(
    ("inner", "deep"),
    [
        (b"<div>" * 60, True),
        (b"<div/>" * 60, True),  # HTML ignores the slash
        (b"<b>x" * 60, True),  # unclosed formatting elements nest
        (b"<div><span>x</div>" * 60, False),  # an end tag closes what was left open inside
        (b"<p>x" * 60, False),
        (b"<ul>" + b"<li>x" * 60 + b"</ul>", False),
        (b"<table>" + b"<tr><td>x<td>y" * 60 + b"</table>", False),
        (b"<svg>" + b'<path d="M0"/>' * 60 + b"</svg>", False),  # self-closing in foreign content
        (b"<svg><foreignObject>" + b"<x/>" * 60, True),  # HTML again in an integration point
        (b"<svg><div>" + b"<path/>" * 60, True),  # <div> ends the svg
        (b"</div>" * 60 + b"<div>" * 40, False),  # end tags that close nothing
    ],
)
def test_analyse_nesting_depth_is_read_from_the_tags(inner: bytes, deep: bool) -> None:
    layout = analyse(page(b'<section id="hero">x</section>' + inner), [HERO], max_depth=50)
    assert (layout.too_complex is not None) == deep


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (page(b"<p>x</p>"), "not_found"),
        (page(b"<div id=hero><b>a</div>b</b>"), "unverified"),
        (page(b"<br id=hero>"), "refused"),
        (page(b"<p>\x00</p>"), "page_refused"),
    ],
)
def test_miss_reason_labels_each_kind_of_problem(body: bytes, reason: str) -> None:
    (problem,) = analyse(body, [HERO]).problems
    assert miss_reason(problem) == reason and reason in MISS_REASONS


def test_analyse_nesting_bound_agrees_with_the_stack_of_open_elements() -> None:
    # _deeper_than answers most pages from a bound alone; it must never let a deeper page through.
    from etalage.html.page import _deeper_than, _stack_deeper_than
    from etalage.html.tagscan import scan

    pieces = [b"<div>", b"</div>", b"<b>", b"</b>", b"<span>", b"</span>", b"<p>", b"<li>", b"</ul>", b"<ul>", b"<svg>", b"</svg>"]
    pieces += [b"<path/>", b"<foreignObject>", b"</foreignObject>", b"<math>", b"<i/>", b"</i>", b"x", b"<table>", b"</table>"]
    rng = random.Random(13)
    for _ in range(3000):
        tags = scan(b"".join(rng.choice(pieces) for _ in range(rng.randrange(1, 40))))
        for limit in range(12):
            assert _deeper_than(tags, limit) == _stack_deeper_than(tags, limit)


def _random_fragments(pieces: list[bytes], rng: random.Random) -> Iterator[tuple[Any, bytes, list[int]]]:
    """300 fragments of up to 29 random pieces: each one's analysis, bytes and tag starts (plus both ends)."""
    from etalage.html.page import _Analysis

    for _ in range(300):
        data = b"".join(rng.choice(pieces) for _ in range(rng.randrange(1, 30)))
        yield _Analysis(data, ()), data, [0, *(at for at in range(len(data)) if data[at : at + 1] == b"<"), len(data)]


def test_analyse_formatting_check_agrees_with_a_walk_through_the_tags() -> None:
    # _open_formatting answers most ranges from the tags' mates; a walk is what it must agree with.
    pieces = [b"<b>", b"</b>", b"<i>", b"</i>", b"<a href=x>", b"</a>", b"<form>", b"</form>", b"<li>", b"x", b"<s>", b"</s>"]
    for analysis, _, cuts in _random_fragments(pieces, random.Random(13)):
        for start in cuts:
            for end in cuts:
                if start <= end:
                    assert analysis._open_formatting(start, end) == analysis._open_formatting_walk(start, end)


def test_analyse_item_checks_at_once_agree_with_the_checks_one_by_one() -> None:
    # _items skips the per-item formatting and stray end tag checks when _pieces_pair_up passes the
    # whole list: it must never pass a list that one check would refuse, and passes the rest
    # unless an end tag lies between items.
    pieces = [b"<b>", b"</b>", b"<i>", b"</i>", b"<a href=x>", b"</a>", b"<form>", b"</form>", b"<li>", b"x", b"</li>", b"</p>"]
    rng = random.Random(13)
    for analysis, data, cuts in _random_fragments(pieces, rng):
        for _ in range(20):
            start, *bounds, end = sorted(rng.choices(cuts, k=2 * rng.randrange(1, 5) + 2))
            starts, ends = bounds[0::2], bounds[1::2]
            previous = [start, *ends]
            one_by_one = all(analysis._open_formatting(a, b) is None for a, b in zip(previous, [*starts, end]))
            one_by_one = one_by_one and all(analysis._open_formatting(a, b) is None for a, b in zip(starts, ends))
            one_by_one = one_by_one and all(analysis._stray_end_tag(a, b) is None for a, b in zip(ends, [*starts[1:], end]))
            at_once = analysis._pieces_pair_up(start, starts, ends, end)
            assert one_by_one or not at_once
            if all(data.find(b"</", a, b) < 0 for a, b in zip(ends, [*starts[1:], end])):
                assert at_once == one_by_one


def test_page_is_tells_apart_two_elements_with_the_same_markup():
    # selectolax's == compares serialized HTML: slow (a grid whose cards hold lists took a second to
    # analyse) and wrong for twins; analyse() compares elements with _is.
    tree = LexborHTMLParser("<ul><li>a</li><li>a</li></ul>")
    first, second = tree.css("li")
    assert first == second and not _is(first, second) and _is(first, tree.css_first("li"))


@pytest.mark.parametrize(
    ("declared", "charset"),
    [
        (b"", "cp1252"),  # only the Content-Type header says iso-8859-1, which browsers read as windows-1252
        (b'<meta charset="iso-8859-1">', "cp1252"),  # lexbor alone read Latin-1: \x80 stayed \x80, not the euro sign
    ],
)
def test_analyse_reads_card_values_in_the_page_s_encoding_as_browsers_do(declared, charset):
    body = b"<!DOCTYPE html><html><head>" + declared + b'</head><body><ul id="grid"><li data-sku="K\xfchl-\x80">x</li></ul></body></html>'
    layout = analyse(body, [BlockSpec("grid", "#grid", "li", ("data-sku",))], charset=charset)
    assert [item.attrs["data-sku"] for item in layout.blocks["grid"].items] == ["Kühl-€"]


def test_analyse_verifies_blocks_of_a_page_in_another_encoding():
    # The skeletons are decoded as the page is: text in windows-1252 around and inside the blocks.
    body = (
        b'<!DOCTYPE html><html><head><meta charset="windows-1252"><title>Caf\xe9</title></head><body><p>\x93Cr\xe8me\x94</p>'
        b'<div id="hero"><h1>Br\xfbl\xe9e</h1></div><ul id="popular"><li data-product-id="a" data-category="dogs">\xc9t\xe9</li>'
        b'<li data-product-id="b" data-category="cats">Hiver \x80</li></ul><p>Fin \x85</p></body></html>'
    )
    layout = analyse(body, [HERO, CARDS], charset="cp1252")
    assert sorted(layout.blocks) == ["hero", "popular"] and layout.problems == ()
    assert layout.blocks["hero"].start is not None and len(layout.blocks["popular"].items) == 2
