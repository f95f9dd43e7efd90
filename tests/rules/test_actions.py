"""Actions one by one: built inline, applied to tiny pages, checked byte for byte.

Bytes outside the ranges an action changes are the origin's; every expected page below is
written out whole for that reason. Rule-file validation of the same keys is here for the
details and in tests/rulesets/{good,bad}/actions for the exact `etalage rules check` output.
"""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser

from etalage.engine.personalize import Personalizer
from etalage.html.page import BlockSpec, Edit, analyse, splice
from etalage.html.templates import compile_template
from etalage.metrics import Metrics
from etalage.profiles.profile import Profile
from etalage.rules.actions import ACTIONS
from etalage.rules.actions.base import PageContext
from etalage.rules.actions.hide import Hide
from etalage.rules.actions.insert import Insert
from etalage.rules.actions.set import Set
from etalage.rules.actions.sort import Sort, _covert_slots
from etalage.rules.conditions import Visit
from etalage.rules.fields import RuleSetError
from etalage.rules.loader import load_rules
from etalage.rules.model import BlockDef, CardValue, Site
from tests.support.config import RULESETS

NOW = 1_700_000_000.0
SITE = Site(("dogs", "cats", "rodents"), {"dogs": "Dogs", "cats": "Cats", "rodents": "Rodents"})
HERO = BlockSpec("hero", "#hero")
GRID = BlockSpec("grid", "#grid", "li", ("data-id", "data-category"))
GRID_DEF = BlockDef(GRID, CardValue("data-id"), CardValue("data-category"), "site.toml:1")
NOBODY = Profile()
GOOD = RULESETS / "good" / "actions"


def page(body: bytes) -> bytes:
    return b"<!DOCTYPE html><html><head><title>Shop</title></head><body>" + body + b"</body></html>"


def likes(*categories: str, views: int = 3, **extra: object) -> Profile:
    return Profile(
        category_views={category: views + len(categories) - rank for rank, category in enumerate(categories)},
        category_seen={category: NOW for category in categories},
        **extra,  # type: ignore[arg-type]
    )


def edits(action, body: bytes, spec: BlockSpec = HERO, profile: Profile = NOBODY, charset: str = "utf-8", site: Site = SITE) -> list[Edit]:
    layout = analyse(body, [spec])
    assert layout.problems == ()
    return action.apply("r", layout.blocks[spec.name], PageContext(layout, profile, site, charset, "/", NOW))


def run(action, body: bytes, spec: BlockSpec = HERO, profile: Profile = NOBODY, charset: str = "utf-8", site: Site = SITE) -> bytes:
    return splice(body, edits(action, body, spec, profile, charset, site))


def template(source: str):
    return compile_template("t.html", source, frozenset({"category", "category_label"}))


def compiled(tmp_path: Path, rule: str, blocks: str = '[blocks.hero]\nselector = "#hero"\n', files: dict[str, str] | None = None):
    """The action of one rule, compiled by the loader from a rule file."""
    (tmp_path / "site.toml").write_text('[site]\ncategories = { dogs = "Dogs", cats = "Cats", rodents = "Rodents" }\n' + blocks)
    (tmp_path / "rules.toml").write_text('[[rule]]\nid = "r"\n' + rule)
    for name, text in (files or {}).items():
        (tmp_path / name).write_text(text)
    return load_rules(tmp_path).rules[0].action


def problems(
    tmp_path: Path, rule: str, blocks: str = '[blocks.hero]\nselector = "#hero"\n', files: dict[str, str] | None = None
) -> list[str]:
    with pytest.raises(RuleSetError) as caught:
        compiled(tmp_path, rule, blocks, files)
    return [str(problem).split(": ", 1)[1] for problem in caught.value.problems]


def attributes(body: bytes) -> frozenset[str]:
    attrs = analyse(body, [HERO]).blocks["hero"].attrs
    assert attrs is not None
    return frozenset(attrs)


def cards(*cards: tuple[str, str]) -> bytes:
    return page(b'<ul id="grid">' + b"".join(f'<li data-id="{i}" data-category="{c}">{i}</li>'.encode() for i, c in cards) + b"</ul>")


def order(body: bytes) -> list[str]:
    """The data-id of each card, in page order."""
    return [chunk.split(b'"', 1)[0].decode() for chunk in body.split(b'<li data-id="')[1:]]


def test_actions_are_registered_by_kind():
    assert (ACTIONS["insert"], ACTIONS["hide"], ACTIONS["set"], ACTIONS["sort"]) == (Insert, Hide, Set, Sort)


# -- insert ----------------------------------------------------------------------------------------


def test_actions_insert_prepend_puts_the_template_before_the_content():
    body = page(b'<div id="hero"><h1>Sale</h1></div>')
    out = run(Insert("prepend", template('<p class="tip">Hi</p>')), body)
    assert out == page(b'<div id="hero" data-etalage-rule="r"><p class="tip">Hi</p><h1>Sale</h1></div>')


def test_actions_insert_append_puts_the_template_after_the_content():
    body = page(b'<div id="hero"><h1>Sale</h1></div>')
    out = run(Insert("append", template('<p class="tip">Hi</p>')), body)
    assert out == page(b'<div id="hero" data-etalage-rule="r"><h1>Sale</h1><p class="tip">Hi</p></div>')


def test_actions_insert_into_an_empty_block():
    out = run(Insert("append", template("<p>Hi</p>")), page(b'<div id="hero"></div>'))
    assert out == page(b'<div id="hero" data-etalage-rule="r"><p>Hi</p></div>')


def test_actions_insert_fills_placeholders_with_the_top_category_escaped():
    site = Site(("dogs",), {"dogs": 'Dogs & "pups" <3'})
    out = run(
        Insert("prepend", template('<p title="{{ category_label }}">{{ category_label }}</p>')),
        page(b'<div id="hero">x</div>'),
        profile=likes("dogs"),
        site=site,
    )
    expected = (
        b'<div id="hero" data-etalage-rule="r"><p title="Dogs &amp; &quot;pups&quot; &lt;3">Dogs &amp; &quot;pups&quot; &lt;3</p>x</div>'
    )
    assert out == page(expected)


def test_actions_insert_with_placeholders_needs_an_interest():
    assert edits(Insert("prepend", template("<p>{{ category }}</p>")), page(b'<div id="hero">x</div>')) == []


def test_actions_insert_without_placeholders_is_for_everyone():
    assert run(Insert("append", template("<p>Spring sale</p>")), page(b'<div id="hero">x</div>')) == page(
        b'<div id="hero" data-etalage-rule="r">x<p>Spring sale</p></div>'
    )


def test_actions_insert_encodes_in_the_page_charset():
    site = Site(("dogs",), {"dogs": "Chiens é ✓"})
    out = run(
        Insert("append", template("<p>{{ category_label }}</p>")),
        page(b'<div id="hero"></div>'),
        profile=likes("dogs"),
        charset="cp1252",
        site=site,
    )
    assert out == page(b'<div id="hero" data-etalage-rule="r"><p>Chiens \xe9 &#10003;</p></div>')


def test_actions_insert_why_names_the_top_category():
    action = Insert("prepend", template("<p>{{ category_label }}</p>"))
    assert action.why("r", likes("cats"), SITE, NOW) == "adds something about Cats to the page, because Cats is what you look at most"
    assert (
        action.why("r", Profile(interests={"dogs"}), SITE, NOW)
        == "adds something about Dogs to the page, because you told us you are interested in Dogs"
    )
    assert action.why("r", NOBODY, SITE, NOW) is None


def test_actions_insert_why_is_none_for_a_fixed_template():
    assert Insert("prepend", template("<p>Sale</p>")).why("r", likes("cats"), SITE, NOW) is None


def test_actions_insert_skips_a_category_the_visitor_dismissed():
    action = Insert("prepend", template("<p>{{ category }}</p>"))
    out = run(action, page(b'<div id="hero"></div>'), profile=likes("cats", "dogs", dismissed={"r:cats"}))
    assert out == page(b'<div id="hero" data-etalage-rule="r"><p>dogs</p></div>')


def test_actions_insert_compiles_from_a_rule_file(tmp_path):
    action = compiled(
        tmp_path, 'action = "insert"\nblock = "hero"\nposition = "append"\ntemplate = "t.html"\n', files={"t.html": "<p>{{ category }}</p>"}
    )
    assert isinstance(action, Insert) and action.position == "append" and action.personal


BANNER_RULE = 'action = "banner"\nblock = "hero"\ntemplate = "t.html"\n'


def test_actions_banner_single_template_fills_the_strongest_category(tmp_path):
    action = compiled(tmp_path, BANNER_RULE, files={"t.html": '<a href="/c/{{ category }}">{{ category_label }}</a>'})
    out = run(action, page(b'<div id="hero">Old</div>'), profile=likes("cats", "dogs"))
    assert out == page(b'<div id="hero" data-etalage-rule="r"><a href="/c/cats">Cats</a></div>')


def test_actions_banner_single_template_with_a_category_skips_visitors_without_one(tmp_path):
    action = compiled(tmp_path, BANNER_RULE, files={"t.html": "<p>{{ category }}</p>"})
    assert edits(action, page(b'<div id="hero">Old</div>')) == []


def test_actions_banner_single_template_why_names_the_category(tmp_path):
    action = compiled(tmp_path, BANNER_RULE, files={"t.html": "<p>{{ category_label }}</p>"})
    assert action.why("r", likes("cats"), SITE, NOW) == "shows a banner about Cats, because Cats is what you look at most"
    assert action.why("r", NOBODY, SITE, NOW) is None


def test_actions_banner_single_template_refuses_an_unknown_name(tmp_path):
    assert problems(tmp_path, BANNER_RULE, files={"t.html": "<p>{{ categroy }}</p>"}) == [
        f"unknown value {{{{ categroy }}}} (this action provides: category, category_label, category_url) (hint: used by {tmp_path.name}/rules.toml:5)"
    ]


def category_pages(tmp_path: Path, pages: str, rule: str, template_text: str):
    """The action of one rule, compiled with [site] giving the categories' pages (`pages`)."""
    (tmp_path / "site.toml").write_text(
        f'[site]\ncategories = {{ dogs = "Dogs", cats = "Cats", rodents = "Rodents" }}\n{pages}\n[blocks.hero]\nselector = "#hero"\n'
    )
    (tmp_path / "rules.toml").write_text('[[rule]]\nid = "r"\n' + rule)
    (tmp_path / "t.html").write_text(template_text)
    ruleset = load_rules(tmp_path)
    return ruleset.rules[0].action, ruleset.site


def test_actions_insert_fills_category_url_from_the_site_pattern(tmp_path):
    rule = 'action = "insert"\nblock = "hero"\nposition = "append"\ntemplate = "t.html"\n'
    action, site = category_pages(tmp_path, 'category_url = "/c/{category}?s=1"', rule, '<a href="{{ category_url }}">x</a>')
    out = run(action, page(b'<div id="hero"></div>'), profile=likes("cats"), site=site)
    assert out == page(b'<div id="hero" data-etalage-rule="r"><a href="/c/cats?s=1">x</a></div>')


def test_actions_banner_fills_category_url_from_the_site_table(tmp_path):
    pages = 'category_urls = { dogs = "/honden", cats = "/katten", rodents = "/knaagdieren" }'
    rule = 'action = "banner"\nblock = "hero"\ntemplates = { cats = "t.html" }\n'
    action, site = category_pages(tmp_path, pages, rule, '<a href="{{ category_url }}">{{ category_label }}</a>')
    out = run(action, page(b'<div id="hero">Old</div>'), profile=likes("cats"), site=site)
    assert out == page(b'<div id="hero" data-etalage-rule="r"><a href="/katten">Cats</a></div>')


def test_actions_set_fills_category_url(tmp_path):
    rule = 'action = "set"\nblock = "hero"\nattribute = "href"\nvalue = "{{ category_url }}"\n'
    action, site = category_pages(tmp_path, 'category_url = "/c/{category}"', rule, "")
    out = run(action, page(b'<a id="hero" href="/">Shop</a>'), profile=likes("dogs"), site=site)
    assert out == page(b'<a id="hero" href="/c/dogs" data-etalage-rule="r">Shop</a>')


def test_actions_category_url_pattern_must_name_the_category(tmp_path):
    rule = 'action = "insert"\nblock = "hero"\nposition = "append"\ntemplate = "t.html"\n'
    with pytest.raises(RuleSetError) as caught:
        category_pages(tmp_path, 'category_url = "/c/all"', rule, "<p>x</p>")
    assert [problem.message for problem in caught.value.problems] == [
        "site: 'category_url': must contain {category}, e.g. \"/c/{category}\""
    ]


def test_actions_category_url_pattern_must_be_a_path_on_the_shop(tmp_path):
    rule = 'action = "insert"\nblock = "hero"\nposition = "append"\ntemplate = "t.html"\n'
    with pytest.raises(RuleSetError) as caught:
        category_pages(tmp_path, 'category_url = "javascript:alert({category})"', rule, "<p>x</p>")
    assert [problem.message for problem in caught.value.problems] == [
        "site: 'category_url': 'javascript:alert(dogs)' is not a path on the shop"
    ]


CATALOG = (
    '[catalog]\n"k1" = { category = "dogs", path = "/p/k1", title = "Kibble", price = "27.00", image = "/i/k1.jpg" }\n'
    '"m1" = { category = "cats", path = "/p/m1", title = "Mouse <toy>", price = "4.50", image = "/i/m1.jpg" }\n'
)
PRODUCT_RULE = 'action = "insert"\nblock = "hero"\nposition = "append"\ntemplate = "t.html"\n'
PRODUCT_TEMPLATE = '<a href="{{ product_url }}"><img src="{{ product_image }}">{{ product_title }} {{ product_price }}</a>'


def test_actions_insert_fills_the_visitors_product_of_the_category(tmp_path):
    action, site = category_pages(tmp_path, CATALOG, PRODUCT_RULE, PRODUCT_TEMPLATE)
    visitor = likes("cats", recent_products=["k1", "m1"])
    out = run(action, page(b'<div id="hero"></div>'), profile=visitor, site=site)
    expected = b'<a href="/p/m1"><img src="/i/m1.jpg">Mouse &lt;toy&gt; 4.50</a>'
    assert out == page(b'<div id="hero" data-etalage-rule="r">' + expected + b"</div>")


def test_actions_insert_about_a_product_skips_visitors_without_one(tmp_path):
    action, site = category_pages(tmp_path, CATALOG, PRODUCT_RULE, PRODUCT_TEMPLATE)
    assert edits(action, page(b'<div id="hero"></div>'), profile=likes("cats", recent_products=["k1"]), site=site) == []


BANNER_RULE = 'action = "banner"\nblock = "hero"\ntemplate = "t.html"\n'


def test_actions_banner_fills_the_visitors_product_of_the_category(tmp_path):
    action, site = category_pages(tmp_path, CATALOG, BANNER_RULE, PRODUCT_TEMPLATE)
    out = run(action, page(b'<div id="hero">Sale</div>'), profile=likes("cats", recent_products=["k1", "m1"]), site=site)
    expected = b'<a href="/p/m1"><img src="/i/m1.jpg">Mouse &lt;toy&gt; 4.50</a>'
    assert out == page(b'<div id="hero" data-etalage-rule="r">' + expected + b"</div>")


def test_actions_banner_per_category_fills_the_product_of_its_category(tmp_path):
    rule = 'action = "banner"\nblock = "hero"\ntemplates = { dogs = "t.html", cats = "t.html" }\n'
    action, site = category_pages(tmp_path, CATALOG, rule, PRODUCT_TEMPLATE)
    out = run(action, page(b'<div id="hero">Sale</div>'), profile=likes("dogs", recent_products=["m1", "k1"]), site=site)
    assert b'<a href="/p/k1"><img src="/i/k1.jpg">Kibble 27.00</a>' in out


def test_actions_banner_about_a_product_leaves_visitors_without_one_alone(tmp_path):
    action, site = category_pages(tmp_path, CATALOG, BANNER_RULE, PRODUCT_TEMPLATE)
    assert edits(action, page(b'<div id="hero">Sale</div>'), profile=likes("cats", recent_products=["k1"]), site=site) == []


@pytest.mark.parametrize("position", ["before", "after"])
def test_actions_insert_before_and_after_compile_from_a_rule_file(tmp_path, position):
    action = compiled(
        tmp_path, f'action = "insert"\nblock = "hero"\nposition = "{position}"\ntemplate = "t.html"\n', files={"t.html": "<p>x</p>"}
    )
    assert isinstance(action, Insert) and action.position == position


def test_actions_insert_unknown_position(tmp_path):
    rule = 'action = "insert"\nblock = "hero"\nposition = "middle"\ntemplate = "t.html"\n'
    assert problems(tmp_path, rule, files={"t.html": "<p>x</p>"}) == [
        "rule 'r': 'position': unknown position 'middle' (known: before, after, prepend, append)"
    ]


def test_actions_insert_before_puts_the_template_before_the_block():
    body = page(b'<main>\n<div id="hero"><h1>Sale</h1></div>\n<p>after</p></main>')
    out = run(Insert("before", template('<p class="tip">Hi</p>')), body)
    assert out == page(b'<main>\n<p class="tip">Hi</p><div id="hero" data-etalage-rule="r"><h1>Sale</h1></div>\n<p>after</p></main>')
    tip = LexborHTMLParser(out).css_first(".tip")
    assert tip.next.attributes["id"] == "hero" and tip.parent.tag == "main"


def test_actions_insert_after_puts_the_template_after_the_block():
    body = page(b'<main>\n<div id="hero"><h1>Sale</h1></div >\n<p>after</p></main>')
    out = run(Insert("after", template('<p class="tip">Hi</p>')), body)
    assert out == page(b'<main>\n<div id="hero" data-etalage-rule="r"><h1>Sale</h1></div ><p class="tip">Hi</p>\n<p>after</p></main>')
    tip = LexborHTMLParser(out).css_first(".tip")
    assert tip.prev.attributes["id"] == "hero" and tip.parent.tag == "main"


@pytest.mark.parametrize(
    "body",
    [
        b'<table><tr><td id="hero">cell</td></tr></table>',  # a <p> beside a cell would be foster-parented
        b'<ul><li id="hero">item</li></ul>',  # not a list item
        b'<a href="/sale"><span id="hero">Sale</span></a>',  # it would be link content
        b'<div><i>x</div><div id="hero">y</div>',  # the parser would reopen the <i> around it
    ],
    ids=["table", "list", "link", "misnested"],
)
@pytest.mark.parametrize("position", ["before", "after"])
def test_actions_insert_outside_leaves_a_page_that_does_not_allow_it_alone(body, position):
    assert edits(Insert(position, template("<p>Hi</p>")), page(body)) == []


def test_actions_insert_after_a_block_without_end_tag_leaves_the_page_alone():
    body = page(b'<div><p id="hero">one<p>two</div>')
    assert edits(Insert("after", template("<p>Hi</p>")), body) == []
    assert run(Insert("before", template("<p>Hi</p>")), body) == page(b'<div><p>Hi</p><p id="hero" data-etalage-rule="r">one<p>two</div>')


def test_actions_insert_needs_position_and_template(tmp_path):
    assert problems(tmp_path, 'action = "insert"\nblock = "hero"\n') == [
        "rule 'r': missing required key 'position'",
        "rule 'r': missing required key 'template'",
    ]


# -- hide ------------------------------------------------------------------------------------------


def test_actions_hide_remove_empties_the_block():
    out = run(Hide("remove"), page(b'<div id="hero"><h1>Sale</h1> <p>Now</p></div><p>after</p>'))
    assert out == page(b'<div id="hero" data-etalage-rule="r"></div><p>after</p>')


def test_actions_hide_remove_leaves_an_empty_block_alone():
    assert edits(Hide("remove"), page(b'<div id="hero"></div>')) == []


def test_actions_hide_hidden_adds_the_hidden_attribute():
    out = run(Hide("hidden"), page(b'<div id="hero" class="big"><h1>Sale</h1></div>'))
    assert out == page(b'<div id="hero" class="big" data-etalage-rule="r" hidden><h1>Sale</h1></div>')


@pytest.mark.parametrize("tag", [b'<div id="hero" HIDDEN>', b"<div id=hero hidden=until-found>"])
def test_actions_hide_hidden_leaves_a_hidden_block_alone(tag):
    body = page(tag + b"x</div>")
    assert "hidden" in attributes(body)
    assert edits(Hide("hidden"), body) == []


def test_actions_hide_hidden_is_not_fooled_by_an_attribute_value():
    out = run(Hide("hidden"), page(b'<div title="hidden" id="hero">x</div>'))
    assert out == page(b'<div title="hidden" id="hero" data-etalage-rule="r" hidden>x</div>')


def test_actions_hide_hidden_leaves_a_block_whose_start_tag_is_unknown_alone():
    layout = analyse(page(b'<div id="hero">x</div>'), [HERO])
    block = replace(layout.blocks["hero"], attrs=None)
    assert Hide("hidden").apply("r", block, PageContext(layout, NOBODY, SITE, "utf-8", "/", NOW)) == []


def test_actions_hide_why_is_none():
    assert Hide("remove").why("r", likes("dogs"), SITE, NOW) is None


def test_actions_hide_mode_defaults_to_remove(tmp_path):
    assert compiled(tmp_path, 'action = "hide"\nblock = "hero"\n').mode == "remove"


def test_actions_hide_unknown_mode(tmp_path):
    assert problems(tmp_path, 'action = "hide"\nblock = "hero"\nmode = "gone"\n') == [
        "rule 'r': 'mode': unknown mode 'gone' (known: remove, hidden)"
    ]


# -- set -------------------------------------------------------------------------------------------


def set_attribute(tmp_path: Path, attribute: str, value: str) -> Set:
    return compiled(tmp_path, f'action = "set"\nblock = "hero"\nattribute = "{attribute}"\nvalue = {value!r}\n')


def test_actions_set_adds_an_attribute_escaped(tmp_path):
    action = set_attribute(tmp_path, "title", 'Say "hi" & <wave>')
    out = run(action, page(b'<div id="hero">x</div>'))
    assert out == page(b'<div id="hero" data-etalage-rule="r" title="Say &quot;hi&quot; &amp; &lt;wave&gt;">x</div>')


def test_actions_set_fills_placeholders_with_the_top_category(tmp_path):
    action = set_attribute(tmp_path, "href", "/c/{{ category }}?from=hero")
    out = run(action, page(b'<a id="hero">Shop</a>'), profile=likes("rodents"))
    assert out == page(b'<a id="hero" data-etalage-rule="r" href="/c/rodents?from=hero">Shop</a>')


def test_actions_set_with_placeholders_needs_an_interest(tmp_path):
    assert edits(set_attribute(tmp_path, "title", "{{ category_label }}"), page(b'<div id="hero">x</div>')) == []


def test_actions_set_url_placeholder_gets_the_scheme_check(tmp_path):
    action = set_attribute(tmp_path, "href", "{{ category_label }}")
    site = Site(("dogs",), {"dogs": "javascript:alert(1)"})
    out = run(action, page(b'<a id="hero">x</a>'), profile=likes("dogs"), site=site)
    assert out == page(b'<a id="hero" data-etalage-rule="r" href="#">x</a>')


def test_actions_set_namespaced_url_attribute_gets_the_scheme_check(tmp_path):
    action = set_attribute(tmp_path, "xlink:href", "{{ category_label }}")
    site = Site(("dogs",), {"dogs": "javascript:alert(1)"})
    out = run(action, page(b'<div id="hero">x</div>'), profile=likes("dogs"), site=site)
    assert out == page(b'<div id="hero" data-etalage-rule="r" xlink:href="#">x</div>')
    assert problems(tmp_path, 'action = "set"\nblock = "hero"\nattribute = "xlink:href"\nvalue = "javascript:void(0)"\n') == [
        "rule 'r': 'value': 'javascript:void(0)' is not a safe link for 'xlink:href' (hint: use an https:, mailto: or tel: address, or a path on the shop)"
    ]


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        (b'<div id="hero" title="old" class=a>', b'<div id="hero" title="New" class=a data-etalage-rule="r">'),
        (b"<div data-x=\"a>b\" id=hero TITLE='old'>", b'<div data-x="a>b" id=hero title="New" data-etalage-rule="r">'),
        (b"<div id=hero title=old/>", b'<div id=hero title="New" data-etalage-rule="r">'),
        (b'<div title=old id="hero"title="dup">', b'<div title="New" id="hero"title="dup" data-etalage-rule="r">'),
        (b'<div id="hero" class=a title>', b'<div id="hero" class=a title="New" data-etalage-rule="r">'),
    ],
    ids=["double-quoted", "single-quoted", "unquoted", "duplicated", "empty"],
)
def test_actions_set_replaces_an_attribute_the_tag_already_has(tmp_path, tag, expected):
    out = run(set_attribute(tmp_path, "title", "New"), page(tag + b"x</div>"))
    assert out == page(expected + b"x</div>")
    assert LexborHTMLParser(out).css_first("#hero").attributes["title"] == "New"


def test_actions_set_replaced_value_is_escaped(tmp_path):
    out = run(set_attribute(tmp_path, "title", '"><script>alert(1)</script>'), page(b'<div id="hero" title="old">x</div>'))
    assert out == page(b'<div id="hero" title="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" data-etalage-rule="r">x</div>')
    tree = LexborHTMLParser(out)
    assert tree.css("script") == [] and tree.css_first("#hero").attributes["title"] == '"><script>alert(1)</script>'


def test_actions_set_leaves_a_block_whose_start_tag_is_unknown_alone(tmp_path):
    body = page(b'<div id="hero" title="old">x</div>')
    layout = analyse(body, [HERO])
    block = replace(layout.blocks["hero"], attrs=None)
    assert set_attribute(tmp_path, "title", "New").apply("r", block, PageContext(layout, NOBODY, SITE, "utf-8", "/", NOW)) == []


def test_actions_set_reads_the_tag_the_browser_reads(tmp_path):
    # 'title' appears in a value, in a comment and in another tag: none of them is on the block.
    action = set_attribute(tmp_path, "title", "New")
    before = b'<!-- <div id="hero" title=x> --><script>"<div id=hero title=s>"</script><p title=y>p</p>'
    body = page(before + b'<div data-note="title=z" id="hero">x</div>')
    assert run(action, body) == page(before + b'<div data-note="title=z" id="hero" data-etalage-rule="r" title="New">x</div>')


def test_actions_set_on_a_page_with_a_byte_order_mark(tmp_path):
    action = set_attribute(tmp_path, "title", "New")
    body = b"\xef\xbb\xbf" + page(b'<div id="hero">x</div>')
    assert run(action, body) == b"\xef\xbb\xbf" + page(b'<div id="hero" data-etalage-rule="r" title="New">x</div>')


def test_actions_set_text_replaces_the_content_escaped(tmp_path):
    action = compiled(tmp_path, 'action = "set"\nblock = "hero"\ntext = "<b>{{ category_label }}</b> & more"\n')
    site = Site(("dogs",), {"dogs": "Dogs <3"})
    out = run(action, page(b'<h1 id="hero">Our <em>picks</em></h1>'), profile=likes("dogs"), site=site)
    assert out == page(b'<h1 id="hero" data-etalage-rule="r">&lt;b&gt;Dogs &lt;3&lt;/b&gt; &amp; more</h1>')


def test_actions_set_text_of_an_empty_block(tmp_path):
    action = compiled(tmp_path, 'action = "set"\nblock = "hero"\ntext = "Hello"\n')
    assert run(action, page(b'<p id="hero"></p>')) == page(b'<p id="hero" data-etalage-rule="r">Hello</p>')


def test_actions_set_is_deterministic(tmp_path):
    action = set_attribute(tmp_path, "data-shelf", "{{ category }}")
    body = page(b'<div id="hero">x</div>')
    assert (
        run(action, body, profile=likes("cats", "dogs"))
        == run(action, body, profile=likes("cats", "dogs"))
        == page(b'<div id="hero" data-etalage-rule="r" data-shelf="cats">x</div>')
    )


def test_actions_set_why(tmp_path):
    personal = set_attribute(tmp_path, "title", "{{ category_label }}")
    assert personal.why("r", likes("fish", "cats"), SITE, NOW) == "adapts part of the page to Cats, because Cats is what you look at most"
    assert set_attribute(tmp_path, "title", "Sale").why("r", likes("cats"), SITE, NOW) is None


@pytest.mark.parametrize(
    ("attribute", "message"),
    [
        ("onmouseover", "'onmouseover' is an event handler: its value would run as JavaScript"),
        ("srcdoc", "'srcdoc' holds a whole HTML document, which a value here cannot be checked as"),
        ("data-etalage-rule", "'data-etalage-rule' is Etalage's own marker"),
        ('a"b', "'a\"b' is not an attribute name (lower-case letters, digits, '-', '_', ':' or '.', starting with a letter)"),
    ],
)
def test_actions_set_refuses_attributes(tmp_path, attribute, message):
    rule = f'action = "set"\nblock = "hero"\nattribute = {attribute!r}\nvalue = "x"\n'
    assert problems(tmp_path, rule) == [f"rule 'r': 'attribute': {message}"]


def test_actions_set_refuses_an_unsafe_link_in_the_rule_file(tmp_path):
    rule = 'action = "set"\nblock = "hero"\nattribute = "src"\nvalue = "data:text/html,{{ category }}"\n'
    assert problems(tmp_path, rule) == [
        "rule 'r': 'value': 'data:text/html,{{ category }}' is not a safe link for 'src' (hint: use an https:, mailto: or tel: address, or a path on the shop)"
    ]


def test_actions_set_needs_attribute_and_value_or_text(tmp_path):
    assert problems(tmp_path, 'action = "set"\nblock = "hero"\nattribute = "title"\n') == ["rule 'r': missing required key 'value'"]
    assert problems(tmp_path, 'action = "set"\nblock = "hero"\ntext = "a"\nvalue = "b"\n') == [
        "rule 'r': give 'attribute' and 'value' (to set an attribute) or 'text' (to set the text), not both"
    ]


def test_actions_set_unknown_placeholder(tmp_path):
    assert problems(tmp_path, 'action = "set"\nblock = "hero"\ntext = "{{ product }}"\n') == [
        "rule 'r': 'text': unknown value {{ product }} (this action provides: category, category_label, category_url)"
    ]


# -- sort ------------------------------------------------------------------------------------------

TEN = tuple(
    (f"p{n}", category) for n, category in enumerate(["dogs", "dogs", "cats", "dogs", "dogs", "cats", "dogs", "dogs", "cats", "dogs"], 1)
)


def test_actions_sort_by_interest_keeps_the_bytes_between_cards():
    body = page(b'<ul id="grid">\n <li data-id="a" data-category="dogs">A</li>\n <li data-id="b" data-category="cats">B</li>\n</ul>')
    out = run(Sort(GRID_DEF), body, GRID, likes("cats"))
    assert out == page(
        b'<ul id="grid" data-etalage-rule="r">\n <li data-id="b" data-category="cats">B</li>\n <li data-id="a" data-category="dogs">A</li>\n</ul>'
    )


def test_actions_sort_leaves_a_page_in_order_alone():
    assert edits(Sort(GRID_DEF), cards(("a", "cats"), ("b", "dogs")), GRID, likes("cats")) == []


def test_actions_sort_block_without_cards_is_left_alone():
    assert edits(Sort(GRID_DEF, excluded="hide", covert_share=Fraction(1, 5)), page(b'<ul id="grid"></ul>'), GRID, likes("cats")) == []


def test_actions_sort_pinned_cards_keep_their_slot():
    body = cards(("a", "dogs"), ("b", "dogs"), ("c", "cats"), ("d", "cats"))
    assert order(run(Sort(GRID_DEF, frozenset({"a"})), body, GRID, likes("cats"))) == ["a", "c", "d", "b"]


def test_actions_sort_demotes_excluded_categories_by_default():
    body = cards(("a", "cats"), ("b", "dogs"), ("c", "rodents"))
    assert order(run(Sort(GRID_DEF), body, GRID, Profile(exclusions={"cats"}))) == ["b", "c", "a"]


def test_actions_sort_hide_removes_excluded_cards_and_empties_the_last_slots():
    body = page(
        b'<ul id="grid">\n<li data-id="a" data-category="cats">A</li>\n<li data-id="b" data-category="dogs">B</li>\n<li data-id="c" data-category="cats">C</li>\n</ul>'
    )
    out = run(Sort(GRID_DEF, excluded="hide"), body, GRID, Profile(exclusions={"cats"}))
    assert out == page(b'<ul id="grid" data-etalage-rule="r">\n<li data-id="b" data-category="dogs">B</li>\n\n\n</ul>')


def test_actions_sort_hide_with_nothing_excluded_is_a_plain_sort():
    body = cards(("a", "dogs"), ("b", "cats"))
    assert order(run(Sort(GRID_DEF, excluded="hide"), body, GRID, likes("cats"))) == ["b", "a"]


def test_actions_sort_hide_wins_over_pinned():
    body = cards(("a", "cats"), ("b", "dogs"))
    action = Sort(GRID_DEF, frozenset({"a"}), excluded="hide")
    assert order(run(action, body, GRID, Profile(exclusions={"cats"}))) == ["b"]


def test_actions_sort_pinned_wins_over_demote():
    body = cards(("a", "cats"), ("b", "dogs"), ("c", "dogs"))
    action = Sort(GRID_DEF, frozenset({"a"}))
    assert edits(action, body, GRID, Profile(exclusions={"cats"})) == []


def test_actions_sort_pinned_slots_are_counted_after_hiding():
    body = cards(("a", "cats"), ("b", "dogs"), ("c", "rodents"), ("d", "rodents"))
    action = Sort(GRID_DEF, frozenset({"c"}), excluded="hide")
    # Without 'a' the shop's list is b c d: 'c' keeps the 2nd slot.
    assert order(run(action, body, GRID, likes("rodents", exclusions={"cats"}))) == ["d", "c", "b"]


def test_actions_sort_covert_share_keeps_every_fifth_card():
    action = Sort(GRID_DEF, covert_share=Fraction(1, 5))
    assert order(run(action, cards(*TEN), GRID, likes("cats"))) == ["p3", "p6", "p9", "p1", "p5", "p2", "p4", "p7", "p8", "p10"]


def test_actions_sort_covert_share_is_the_same_on_every_view():
    action = Sort(GRID_DEF, covert_share=Fraction(3, 10))
    body = cards(*TEN)
    views = {run(action, body, GRID, likes("cats")) for _ in range(5)}
    assert len(views) == 1


def test_actions_sort_covert_slots_spread_evenly():
    assert sorted(_covert_slots(Fraction(1, 5), 15)) == [4, 9, 14]
    assert sorted(_covert_slots(Fraction(1, 4), 8)) == [3, 7]
    assert sorted(_covert_slots(Fraction(3, 10), 14)) == [3, 6, 9, 13]
    assert _covert_slots(Fraction(0), 10) == frozenset()


def test_actions_sort_covert_slot_does_not_keep_an_excluded_card():
    body = cards(("a", "dogs"), ("b", "cats"), ("c", "dogs"))
    action = Sort(GRID_DEF, covert_share=Fraction(1, 2))
    # Slot 2 would keep 'b', but the visitor excluded Cats: it goes last.
    assert order(run(action, body, GRID, Profile(exclusions={"cats"}))) == ["a", "c", "b"]


def test_actions_sort_reads_cards_through_the_block_definition(tmp_path):
    # Cards without attributes: the id from the link, the category from the catalogue.
    (tmp_path / "site.toml").write_text(
        '[site]\ncategories = { dogs = "Dogs", cats = "Cats" }\n'
        '[catalog]\nbone = { category = "dogs" }\nball = { category = "dogs" }\nmouse = { category = "cats" }\n'
        '[blocks.grid]\nselector = "#grid"\nitems = "li"\nitem_id_from_link = \'/p/(?P<id>[a-z]+)\'\n'
        '[[rule]]\nid = "r"\naction = "sort"\nblock = "grid"\npinned = ["bone"]\n'
    )
    ruleset = load_rules(tmp_path)
    body = page(b'<ul id="grid"><li><a href="/p/bone">1</a></li><li><a href="/p/ball">2</a></li><li><a href="/p/mouse">3</a></li></ul>')
    spec = ruleset.blocks["grid"].spec
    out = run(ruleset.rules[0].action, body, spec, likes("cats"))
    assert out == page(
        b'<ul id="grid" data-etalage-rule="r"><li><a href="/p/bone">1</a></li><li><a href="/p/mouse">3</a></li><li><a href="/p/ball">2</a></li></ul>'
    )


def test_actions_sort_why_mentions_exclusions():
    demote, hide = Sort(GRID_DEF), Sort(GRID_DEF, excluded="hide")
    visitor = likes("dogs", exclusions={"cats"})
    assert demote.why("r", visitor, SITE, NOW) == "lists products in the order of your interests: Dogs, and shows Cats last, as you asked"
    assert hide.why("r", visitor, SITE, NOW) == "lists products in the order of your interests: Dogs, and leaves out Cats, as you asked"
    assert hide.why("r", Profile(exclusions={"cats", "dogs"}), SITE, NOW) == "leaves Dogs, Cats out of product lists, as you asked"
    assert demote.why("r", Profile(exclusions={"cats"}), SITE, NOW) == "shows Cats last in product lists, as you asked"
    assert demote.why("r", NOBODY, SITE, NOW) is None


LABEL = '<p class="etalage-label"><small>Picked for you · <a href="/.etalage/me">why?</a></small></p>'


def test_actions_sort_label_goes_right_before_the_sorted_block():
    body = page(
        b'<h2>Popular</h2>\n<ul id="grid"><li data-id="a" data-category="dogs">A</li><li data-id="b" data-category="cats">B</li></ul>'
    )
    out = run(Sort(GRID_DEF, label="Picked for you"), body, GRID, likes("cats"))
    assert out == page(
        b"<h2>Popular</h2>\n"
        + LABEL.encode()
        + b'<ul id="grid" data-etalage-rule="r"><li data-id="b" data-category="cats">B</li><li data-id="a" data-category="dogs">A</li></ul>'
    )


def test_actions_sort_label_only_when_the_order_changed():
    assert edits(Sort(GRID_DEF, label="Picked for you"), cards(("a", "cats"), ("b", "dogs")), GRID, likes("cats")) == []


def test_actions_sort_label_with_hidden_cards():
    out = run(
        Sort(GRID_DEF, excluded="hide", label="Picked for you"), cards(("a", "cats"), ("b", "dogs")), GRID, Profile(exclusions={"cats"})
    )
    assert out == page(LABEL.encode() + b'<ul id="grid" data-etalage-rule="r"><li data-id="b" data-category="dogs">b</li></ul>')


def test_actions_sort_without_a_place_for_the_label_still_sorts():
    # Inside a link a label would be link content: the block has no verified start.
    body = page(
        b'<a href="/shop"><ul id="grid"><li data-id="a" data-category="dogs">A</li><li data-id="b" data-category="cats">B</li></ul></a>'
    )
    out = run(Sort(GRID_DEF, label="Picked for you"), body, GRID, likes("cats"))
    assert out == page(
        b'<a href="/shop"><ul id="grid" data-etalage-rule="r"><li data-id="b" data-category="cats">B</li><li data-id="a" data-category="dogs">A</li></ul></a>'
    )


def test_actions_sort_label_is_escaped_and_in_the_page_charset():
    out = run(Sort(GRID_DEF, label="Für <dich>"), cards(("a", "dogs"), ("b", "cats")), GRID, likes("cats"), charset="cp1252")
    label = b'<p class="etalage-label"><small>F\xfcr &lt;dich&gt; \xb7 <a href="/.etalage/me">why?</a></small></p>'
    assert out == page(
        label
        + b'<ul id="grid" data-etalage-rule="r"><li data-id="b" data-category="cats">b</li><li data-id="a" data-category="dogs">a</li></ul>'
    )


GRID_BLOCK = '[blocks.grid]\nselector = "#grid"\nitems = "li"\nitem_category = "data-category"\n'


def test_actions_sort_label_compiles_from_a_rule_file(tmp_path):
    action = compiled(tmp_path, 'action = "sort"\nblock = "grid"\nlabel = "Picked for you"\n', GRID_BLOCK)
    assert action.label == "Picked for you"
    assert compiled(tmp_path, 'action = "sort"\nblock = "grid"\n', GRID_BLOCK).label is None


def test_actions_sort_options_compile_from_a_rule_file(tmp_path):
    rule = 'action = "sort"\nblock = "grid"\npinned = ["a"]\nexcluded = "hide"\ncovert_share = 0.2\n'
    action = compiled(tmp_path, rule, GRID_BLOCK + 'item_id = "data-id"\n')
    assert (action.pinned, action.hide, action.covert_share, action.block.item_id) == (
        frozenset({"a"}),
        True,
        Fraction(1, 5),
        CardValue("data-id"),
    )


def test_actions_sort_pinned_needs_cards_that_name_their_product(tmp_path):
    assert problems(tmp_path, 'action = "sort"\nblock = "grid"\npinned = ["a"]\n', GRID_BLOCK) == [
        "rule 'r': 'pinned' needs a block whose cards name their product (hint: add 'item_id' or 'item_id_from_link' to [blocks.grid])"
    ]


@pytest.mark.parametrize("share", ["1", "-0.1", "1.5"])
def test_actions_sort_covert_share_range(tmp_path, share):
    assert problems(tmp_path, f'action = "sort"\nblock = "grid"\ncovert_share = {share}\n', GRID_BLOCK) == [
        "rule 'r': 'covert_share': must be at least 0 and less than 1 (0.2 keeps every 5th card where the shop put it)"
    ]


def test_actions_sort_excluded_values(tmp_path):
    assert problems(tmp_path, 'action = "sort"\nblock = "grid"\nexcluded = "drop"\n', GRID_BLOCK) == [
        "rule 'r': 'excluded': unknown value 'drop' (known: demote, hide)"
    ]


# -- the good rule folder, served ---------------------------------------------------------------------

SHOP = page(
    b'<section id="hero"><h1>Welcome</h1></section>'
    b'<aside id="promo">Promo</aside>'
    b'<div id="more">More</div>'
    b'<h2 id="headline">Our picks</h2>'
    b'<a id="cta" href="/sale">Shop now</a>'
    b'<form id="newsletter"><input name="email"></form>\n'
    b'<ul id="grid">'
    b'<li data-product-id="sponsored-1" data-category="dogs">S</li>'
    b'<li data-product-id="d1" data-category="dogs">D</li>'
    b'<li data-product-id="c1" data-category="cats">C</li>'
    b'<li data-product-id="r1" data-category="rodents">R</li>'
    b'<li data-product-id="r2" data-category="rodents">R2</li>'
    b"</ul>"
)


def test_actions_good_folder_serves_every_new_action():
    ruleset = load_rules(GOOD)
    profile = likes("rodents", exclusions={"cats"}, visits=2)
    visit = Visit(profile, ruleset.site, ruleset.catalog, "/", {}, None, "", NOW, None)
    result = Personalizer(Metrics()).personalize(ruleset, visit, SHOP, "text/html; charset=utf-8")
    assert result is not None
    assert result.body == page(
        b'<section id="hero" data-etalage-rule="hero-tip"><p class="tip">Picked for Rodents lovers</p>\n<h1>Welcome</h1></section>'
        b'<aside id="promo" data-etalage-rule="promo-off" hidden>Promo</aside>'
        b'<div id="more" data-etalage-rule="more-gone"></div>'
        b'<h2 id="headline" data-etalage-rule="headline">New for Rodents &amp; friends</h2>'
        b'<a id="cta" href="/c/rodents" data-etalage-rule="cta-link">Shop now</a>'
        b'<form id="newsletter" data-etalage-rule="after-newsletter"><input name="email"></form><p class="tip">Picked for Rodents lovers</p>\n\n'
        b'<p class="etalage-label"><small>Sorted for you \xc2\xb7 <a href="/.etalage/me">why?</a></small></p>'
        b'<ul id="grid" data-etalage-rule="grid">'
        b'<li data-product-id="sponsored-1" data-category="dogs">S</li>'
        b'<li data-product-id="r1" data-category="rodents">R</li>'
        b'<li data-product-id="d1" data-category="dogs">D</li>'
        b'<li data-product-id="r2" data-category="rodents">R2</li>'  # every 4th slot keeps the shop's card
        b"</ul>"  # the 5th slot (Cats, excluded) is emptied
    )
    assert result.fired == ("hero-tip", "promo-off", "more-gone", "headline", "grid", "cta-link", "after-newsletter")


BODY_BLOCK = '[blocks.top]\nselector = "body"\n'


def test_actions_insert_prepend_on_the_body_block_goes_at_the_top_of_the_body(tmp_path):
    rule = 'action = "insert"\nblock = "top"\nposition = "prepend"\ntemplate = "t.html"\n'
    action = compiled(tmp_path, rule, BODY_BLOCK, files={"t.html": '<p class="tip">Hi</p>'})
    body = b'<!DOCTYPE html><html><head><title>Shop</title></head><body class="shop">\n<main>x</main></body></html>'
    out = run(action, body, BlockSpec("top", "body"))
    assert out == body.replace(b'<body class="shop">', b'<body class="shop" data-etalage-rule="r"><p class="tip">Hi</p>')
    assert LexborHTMLParser(out).body.child.attributes["class"] == "tip"


def test_actions_a_body_without_its_start_tag_is_no_block():
    # The parser creates the <body>: there are no bytes to put anything after.
    assert analyse(b"<!DOCTYPE html><title>Shop</title><p>x", [BlockSpec("top", "body")]).problems == (
        "top: start tag of <body> not found in the page bytes (parser-created element?)",
    )
