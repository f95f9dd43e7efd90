"""A layout verified for one body is reused for another only where the difference cannot matter."""

import random

import pytest

from etalage.html.page import BlockSpec, ItemField, PageLayout, analyse, item_pieces
from etalage.html.reuse import LayoutReuse, alignment, differences

SPECS = (BlockSpec("hero", "#hero"), BlockSpec("grid", "#grid", "li[data-id]", ("data-id",)))


def page(token: bytes = b"0123456789abcdef", *, head: bytes = b"", body: bytes = b"", hero: bytes = b"Welcome") -> bytes:
    return (
        b'<!DOCTYPE html><html><head><meta name="csrf-token" content="' + token + b'">' + head + b"</head><body>"
        b'<form action="/search"><input type="hidden" name="t" value=\''
        + token
        + b"'></form>"
        + body
        + b'<section id="hero">'
        + hero
        + b"</section>"
        b'<ul id="grid"><li data-id="1">a</li><li data-id="2">b</li></ul></body></html>'
    )


def reuse_for(old: bytes, specs=SPECS) -> LayoutReuse:
    return LayoutReuse(analyse(old, specs), specs)


def test_differences_finds_each_changed_range():
    old, new = page(b"aaaaaaaaaaaaaaaa"), page(b"aaaaaaaaaaaaaaab")
    assert [new[start:end] for start, end in differences(old, new)] == [b"b", b"b"]


def test_differences_agree_with_a_byte_by_byte_comparison():
    def byte_by_byte(old: bytes, new: bytes) -> list[tuple[int, int]]:
        found: list[list[int]] = []
        for i, (a, b) in enumerate(zip(old, new)):
            if a != b:
                if found and i - found[-1][1] <= 8:
                    found[-1][1] = i + 1
                else:
                    found.append([i, i + 1])
        return [(start, end) for start, end in found]

    rng = random.Random(5)
    for _ in range(500):
        size = rng.choice([1, 63, 64, 65, 4095, 4096, 4097, 9000])
        old = bytes(rng.randrange(3) for _ in range(size))
        new = bytearray(old)
        for _ in range(rng.randrange(6)):
            at = rng.randrange(size)
            for i in range(at, min(size, at + rng.randrange(1, 40))):
                new[i] = (new[i] + 1) % 3
        assert differences(old, bytes(new), limit=1000) == byte_by_byte(old, bytes(new))


def test_differences_gives_up_after_the_limit():
    old = b"a" * 1000
    new = b"aaaaaaaaaaaaaaaaaaab" * 50  # 50 differences, 20 bytes apart
    assert differences(old, new, limit=16) is None


def test_reuse_holds_when_only_tokens_in_attribute_values_differ():
    assert reuse_for(page(b"0123456789abcdef")).layout_for(page(b"fedcba9876543210"))


def test_reuse_gives_the_same_blocks_as_a_fresh_analysis():
    old, new = page(b"0123456789abcdef"), page(b"fedcba9876543210")
    assert reuse_for(old).layout_for(new)
    fresh = analyse(new, SPECS)
    assert dict(fresh.blocks) == dict(analyse(old, SPECS).blocks)
    assert fresh.body_end == analyse(old, SPECS).body_end


def same_layout(a: PageLayout, b: PageLayout) -> bool:
    """Equal blocks, items, offsets and body_end (Block equality leaves the source bytes out)."""
    return (dict(a.blocks), a.body_end, a.problems) == (dict(b.blocks), b.body_end, b.problems)


def past_the_prescan(body: bytes) -> bytes:
    """The page with a comment first in <head>, so that what follows is past its first 1024 bytes."""
    return body.replace(b"<head>", b"<head><!--" + b"x" * 1100 + b"-->", 1)


def test_reuse_moves_offsets_for_a_token_of_another_length():
    new = past_the_prescan(page(b"0123456789abcdef0123"))
    reused = reuse_for(past_the_prescan(page(b"0123456789abcdef"))).layout_for(new)
    assert reused is not None and reused.body == new
    assert same_layout(reused, analyse(new, SPECS))
    assert all(block.source == new for block in reused.blocks.values())


def test_reuse_moves_offsets_for_a_longer_name_in_the_text():
    new = past_the_prescan(page(body=b"<p>Hello Bertram, 12 items</p>"))
    reused = reuse_for(past_the_prescan(page(body=b"<p>Hello Anna, 12 items</p>"))).layout_for(new)
    assert reused is not None and same_layout(reused, analyse(new, SPECS))


def test_reuse_refuses_a_change_of_length_where_browsers_look_for_the_charset():
    old = b"<!DOCTYPE html><html><head><title>Hi</title></head><body><p>Hello Anna</p>" + b" " * 900 + page()[15:]
    new = old.replace(b"Hello Anna", b"Hello Bertram")
    assert reuse_for(old).layout_for(new) is None
    assert reuse_for(old).layout_for(old.replace(b"Hello Anna", b"Hello Bert")) is not None


def test_reuse_refuses_text_that_starts_a_run_with_whitespace_instead():
    assert reuse_for(page(body=b"<p>Anna</p>")).layout_for(page(body=b"<p> Bee</p>")) is None


def test_reuse_holds_when_text_inside_a_block_differs():
    new = page(hero=b"Welkom!")
    reused = reuse_for(page(hero=b"Welcome")).layout_for(new)
    assert reused is not None and same_layout(reused, analyse(new, SPECS))


def test_reuse_holds_when_text_outside_blocks_differs():
    assert reuse_for(page(body=b"<p>Hello Anna, 3 items</p>")).layout_for(page(body=b"<p>Hello Bert, 4 items</p>"))


@pytest.mark.parametrize(
    "old, new",
    [
        (b"<p>3 items</p>", b"<p>3<items</p>"),  # a tag could start
        (b"<p>3 items</p>", b"<p>3&items</p>"),  # a character reference could start
        (b"<table> <tr><td>x</td></tr></table>", b"<table>x<tr><td>x</td></tr></table>"),  # whitespace became text
        (b"<p>a&amp;b</p>", b"<p>a&amp;c</p>"),  # after a character reference in the same text
        (b"<textarea>aaaa</textarea>", b"<textarea>bbbb</textarea>"),  # RCDATA
        (b"<!-- aaaa --><p>x</p>", b"<!-- bbbb --><p>x</p>"),  # a comment
    ],
)
def test_reuse_refuses_text_changes_that_may_matter(old, new):
    assert not reuse_for(page(body=old)).layout_for(page(body=new))


def test_reuse_refuses_a_value_that_closes_its_quotes():
    assert not reuse_for(page(b"0123456789abcdef")).layout_for(page(b'01234567"><b>ef'))


def test_reuse_refuses_a_single_quote_in_a_single_quoted_value():
    old = page()
    new = old.replace(b"value='0123456789abcdef'", b"value='01234567'9abcdef'")
    assert len(new) == len(old)
    assert not reuse_for(old).layout_for(new)


def test_reuse_refuses_a_class_when_a_selector_names_classes():
    specs = (BlockSpec("hero", "section.hero"),)
    old, new = page(body=b'<div class="x-aaaa"></div>'), page(body=b'<div class="x-bbbb"></div>')
    assert not reuse_for(old, specs).layout_for(new)


def test_reuse_allows_a_class_when_no_selector_names_classes():
    old, new = page(body=b'<div class="x-aaaa"></div>'), page(body=b'<div class="x-bbbb"></div>')
    assert reuse_for(old).layout_for(new)


def test_reuse_refuses_an_attribute_named_in_an_attribute_selector():
    specs = (BlockSpec("hero", "section[data-v]"),)
    old, new = page(body=b'<p data-v="1">x</p>'), page(body=b'<p data-v="2">x</p>')
    assert not reuse_for(old, specs).layout_for(new)


def test_reuse_refuses_when_a_selector_reads_attributes_through_a_pseudo_class():
    specs = (BlockSpec("hero", "section:lang(nl)"),)
    assert not reuse_for(page(b"0123456789abcdef"), specs).layout_for(page(b"fedcba9876543210"))


def test_reuse_allows_structural_pseudo_classes():
    specs = (BlockSpec("hero", "body > section:first-of-type"),)
    assert reuse_for(page(b"0123456789abcdef"), specs).layout_for(page(b"fedcba9876543210"))


def test_reuse_refuses_an_input_type():
    old, new = page(body=b'<input type="texta">'), page(body=b'<input type="textb">')
    assert not reuse_for(old).layout_for(new)


@pytest.mark.parametrize(
    "old, new",
    [
        (b'<meta charset="utf-8">', b'<meta charset="utf-7">'),
        (
            b'<meta http-equiv="content-type" content="text/html; charset=utf-8">',
            b'<meta http-equiv="content-type" content="text/html; charset=utf-7">',
        ),
    ],
)
def test_reuse_refuses_a_changed_encoding_declaration(old, new):
    assert not reuse_for(page(head=old)).layout_for(page(head=new))


def test_reuse_holds_when_a_token_inside_a_block_differs():
    old = page(hero=b'<a href="/x?t=0123456789abcdef">x</a>')
    new = page(hero=b'<a href="/x?t=fedcba9876543210">x</a>')
    reused = reuse_for(old).layout_for(new)
    assert reused is not None and same_layout(reused, analyse(new, SPECS))


def test_reuse_holds_when_a_block_start_tag_differs():
    old, new = page().replace(b'id="hero"', b'id="hero" title="aa"'), page().replace(b'id="hero"', b'id="hero" title="bbb"')
    reused = reuse_for(past_the_prescan(old)).layout_for(past_the_prescan(new))
    assert reused is not None and same_layout(reused, analyse(past_the_prescan(new), SPECS))


def cards_page(tokens: list[bytes], *, badge: bytes = b"dogs", action: bytes = b"/basket/add/", href: bytes = b"/p/") -> bytes:
    """A listing whose every card holds a token, in an input no card value reads; a card weighs about
    as much as the lightest real ones (some 450 bytes)."""
    cards = b"".join(
        b'<li data-id="%d"><a href="%s%d">Product</a><span class="badge">%s</span><p>%s</p>'
        b'<form action="%s%d/"><input type="hidden" name="csrf" value="%s"></form></li>'
        % (k, href, k, badge, b"A fine product. " * 14, action, k, token)
        for k, token in enumerate(tokens)
    )
    return b'<!DOCTYPE html><html><head><title>Shop</title></head><body><ol id="cards">' + cards + b"</ol></body></html>"


CARD_SPECS = (BlockSpec("cards", "#cards", "li", ("data-id",), True, (ItemField("form", "action"), ItemField(".badge", None))),)


def tokens(seed: int, count: int = 20) -> list[bytes]:
    rng = random.Random(seed)
    return [bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(64)) for _ in range(count)]


def test_reuse_holds_when_every_card_holds_a_fresh_token():
    old, new = cards_page(tokens(1)), cards_page(tokens(2))
    reused = reuse_for(old, CARD_SPECS).layout_for(new)
    assert reused is not None and same_layout(reused, analyse(new, CARD_SPECS))


def test_reuse_of_the_next_body_in_the_last_ones_places_gives_a_fresh_analysis():
    reuse = reuse_for(cards_page(tokens(1)), CARD_SPECS)
    assert reuse.layout_for(cards_page(tokens(2))) is not None
    new = cards_page(tokens(3))  # differs from the known body where the last one did: checked there only
    reused = reuse.layout_for(new)
    assert reused is not None and item_pieces(reused.blocks["cards"]) == item_pieces(analyse(new, CARD_SPECS).blocks["cards"])


def test_reuse_checks_the_new_bytes_in_the_last_ones_places():
    reuse = reuse_for(cards_page(tokens(1)), CARD_SPECS)
    assert reuse.layout_for(cards_page(tokens(2))) is not None
    closing = tokens(3)
    closing[5] = b'"' + closing[5][1:]  # the same place, but the value would end there
    assert reuse.layout_for(cards_page(closing)) is None


def test_reuse_looks_further_when_the_next_body_differs_elsewhere_too():
    known = tokens(1)
    reuse = reuse_for(cards_page(known), CARD_SPECS)
    assert reuse.layout_for(cards_page([*tokens(2)[:7], known[7], *tokens(2)[8:]])) is not None  # card 7 as known
    closing = tokens(3)
    closing[7] = b'"' + closing[7][1:]  # card 7 differs now, where the last body did not: found, and refused
    assert reuse.layout_for(cards_page(closing)) is None
    new = cards_page(tokens(4))
    reused = reuse.layout_for(new)
    assert reused is not None and same_layout(reused, analyse(new, CARD_SPECS))


def test_reuse_takes_the_cards_bytes_from_the_new_body():
    old, new = cards_page(tokens(1)), cards_page(tokens(2))
    reused = reuse_for(old, CARD_SPECS).layout_for(new)
    assert item_pieces(reused.blocks["cards"]) == item_pieces(analyse(new, CARD_SPECS).blocks["cards"])


def test_reuse_moves_the_cards_when_tokens_change_length():
    old, new = past_the_prescan(cards_page(tokens(1))), past_the_prescan(cards_page([t[:50] for t in tokens(2)]))
    reused = reuse_for(old, CARD_SPECS).layout_for(new)
    assert reused is not None and same_layout(reused, analyse(new, CARD_SPECS))
    assert item_pieces(reused.blocks["cards"]) == item_pieces(analyse(new, CARD_SPECS).blocks["cards"])


def test_reuse_counts_differences_in_proportion_to_the_page():
    old, new = cards_page(tokens(1, 200)), cards_page(tokens(2, 200))
    assert len(differences(old, new, limit=1000)) == 200
    assert reuse_for(old, CARD_SPECS).layout_for(new) is not None


@pytest.mark.parametrize(
    "old, new",
    [
        (cards_page(tokens(1), action=b"/basket/add/"), cards_page(tokens(1), action=b"/basket/put/")),  # a field's attribute
        (cards_page(tokens(1), badge=b"dogs"), cards_page(tokens(1), badge=b"cats")),  # a field's text
        (cards_page(tokens(1), href=b"/p/"), cards_page(tokens(1), href=b"/q/")),  # links
        (cards_page(tokens(1)), cards_page(tokens(1)).replace(b'data-id="3"', b'data-id="7"')),  # an item attribute
    ],
)
def test_reuse_refuses_a_change_in_what_a_card_value_reads(old, new):
    assert reuse_for(old, CARD_SPECS).layout_for(new) is None


def test_reuse_refuses_an_attribute_an_inner_selector_reads():
    specs = (BlockSpec("cards", "#cards", "li", (), False, (ItemField("input[name=csrf]", "name"),)),)
    old, new = cards_page(tokens(1)), cards_page(tokens(1)).replace(b'name="csrf"', b'name="csrg"', 1)
    assert reuse_for(old, specs).layout_for(new) is None


def test_reuse_allows_a_change_in_a_card_that_no_card_value_reads():
    specs = (BlockSpec("cards", "#cards", "li", ("data-id",)),)
    old, new = cards_page(tokens(1), badge=b"dogs"), cards_page(tokens(1), badge=b"cats")
    reused = reuse_for(old, specs).layout_for(new)
    assert reused is not None and same_layout(reused, analyse(new, specs))


def test_reuse_refuses_differences_inside_svg():
    old = page(body=b'<svg><rect data-t="0123"/></svg>')
    new = page(body=b'<svg><rect data-t="4567"/></svg>')
    assert not reuse_for(old).layout_for(new)


def test_reuse_refuses_pages_with_cdata_sections():
    old = page(b"0123456789abcdef", body=b"<svg><![CDATA[x]]></svg>")
    new = page(b"fedcba9876543210", body=b"<svg><![CDATA[x]]></svg>")
    assert not reuse_for(old).layout_for(new)


def test_reuse_refuses_differences_inside_comments():
    old, new = page(body=b'<!-- <p title="aaaa"> -->'), page(body=b'<!-- <p title="bbbb"> -->')
    assert not reuse_for(old).layout_for(new)


def test_reuse_refuses_differences_inside_scripts():
    old, new = page(body=b'<script>x = "<p title=\\"aaaa\\">"</script>'), page(body=b'<script>x = "<p title=\\"bbbb\\">"</script>')
    assert not reuse_for(old).layout_for(new)


def test_reuse_agrees_with_a_fresh_analysis_for_every_single_byte_change():
    # Every position of a small page, each replaced by, inserted before or deleted: whenever the
    # layout is reused, analysing the new body must give exactly that layout.
    old = page(
        head=b"<!--" + b"x" * 1024 + b'--><title>Shop &amp; Co</title><noscript><img src="/p.gif"></noscript>',
        body=b"<p class=intro title='t'>5&nbsp;&euro; <b>bold</b></p><table> <tr><td>cell</td></tr> </table>"
        b"<select><option>one</option></select><!-- note --><pre>\nx</pre>Hello Anna, 3 items",
    )
    reuse = LayoutReuse(analyse(old, SPECS), SPECS)
    reused = 0
    for position in range(1000, len(old)):  # the padding comment ends past the first 1024 bytes
        variants = [old[:position] + bytes([byte]) + old[position + 1 :] for byte in b"\"'<>=/ -x&\n"]
        variants += [old[:position] + b"y" + old[position:], old[:position] + b" " + old[position:], old[:position] + old[position + 1 :]]
        for new in variants:
            if new == old:
                continue
            layout = reuse.layout_for(new)
            if layout is None:
                continue
            reused += 1
            assert same_layout(layout, analyse(new, SPECS)), new
    assert reused > 500


def test_reuse_agrees_with_a_fresh_analysis_for_every_single_byte_change_in_cards():
    # The same inside a block of cards whose values read an item attribute, links, an inner
    # element's attribute and text: a reused layout must give the values and the card bytes of a
    # fresh analysis.
    old = past_the_prescan(cards_page([b"tok1", b"tok2", b"tok3"]).replace(b"A fine product. " * 14, b"Fine &amp; <b>cheap</b> "))
    reuse = LayoutReuse(analyse(old, CARD_SPECS), CARD_SPECS)
    start = old.index(b'<ol id="cards">')
    reused = 0
    for position in range(start, old.index(b"</ol>") + 5):
        variants = [old[:position] + bytes([byte]) + old[position + 1 :] for byte in b"\"'<>=/ -x&\n"]
        variants += [old[:position] + b"y" + old[position:], old[:position] + b" " + old[position:], old[:position] + old[position + 1 :]]
        for new in variants:
            if new == old:
                continue
            layout = reuse.layout_for(new)
            if layout is None:
                continue
            reused += 1
            fresh = analyse(new, CARD_SPECS)
            assert same_layout(layout, fresh), new
            assert item_pieces(layout.blocks["cards"]) == item_pieces(fresh.blocks["cards"]), new
    assert reused > 300


def test_alignment_in_step_takes_a_token_of_the_same_length_as_one_range():
    old = b"<p>Hello Anna</p>\n" + b" " * 40 + b'<input value="0123456789abcdef"></body></html>'
    new = b"<p>Hello Bertram</p>\n" + b" " * 40 + b'<input value="fedcba9876543210"></body></html>'
    ranges = alignment(old, new, in_step=True)
    assert ranges is not None
    assert [(old[a:b], new[c:d]) for a, b, c, d in ranges] == [(b"Anna", b"Bertram"), (b"0123456789abcdef", b"fedcba9876543210")]


def test_reuse_holds_for_non_ascii_text_in_cards_of_a_windows_1252_page():
    def shop(name: bytes) -> bytes:
        cards = b"".join(b'<li data-id="%d"><span>%s %d</span><p>%s</p></li>' % (k, name, k, b"x" * 300) for k in range(3))
        return b'<!DOCTYPE html><html><head><meta charset="windows-1252"></head><body><ol id="cards">' + cards + b"</ol></body></html>"

    specs = (BlockSpec("cards", "#cards", "li", ("data-id",), False, (ItemField("p", "title"),)),)
    old, new = shop(b"Caf\xe9"), shop(b"Th\xe9s")  # of one length: the page is shorter than 1024 bytes
    reused = reuse_for(old, specs).layout_for(new)
    assert reused is not None and same_layout(reused, analyse(new, specs))
    assert item_pieces(reused.blocks["cards"]) == item_pieces(analyse(new, specs).blocks["cards"])
