"""Card data from the markup shops really have: a card's product id and category read from an inner
element's attribute or text, from JSON inside an attribute, or from links relative to the page."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx

from etalage.engine.personalize import Outcome, Personalizer
from etalage.engine.visit import page_view
from etalage.html.page import Item, analyse
from etalage.metrics import Metrics
from etalage.profiles.profile import Profile
from etalage.rules.loader import load_rules
from etalage.rules.model import CardValue
from etalage.rules.ruleset import RuleSet
from etalage.tools.explain import explain, profile_from_options

SITE = """\
[site]
categories = { dogs = "Dogs", cats = "Cats", fish = "Fish" }

[[rule]]
id = "sort-grid"
action = "sort"
block = "grid"
"""

# Oscar's listing: nothing on the card, the pk only in the basket form's action (and the slug link).
OSCAR_CARD = (
    '<li class="col-xs-6"><article class="product_pod">'
    '<h3><a href="/catalogue/{slug}_{pk}/" title="{name}">{name}</a></h3>'
    '<p class="price_color">£9.99</p>'
    '<form action="/basket/add/{pk}/" method="post"><button type="submit">Add to basket</button></form>'
    "</article></li>\n"
)
OSCAR_BOOKS = [("12", "dog-days", "Dog days"), ("34", "fish-tales", "Fish tales"), ("56", "cat-naps", "Cat naps")]
OSCAR_CATALOG = '[catalog]\n"12" = { category = "dogs" }\n"34" = { category = "fish" }\n"56" = { category = "cats" }\n'


def oscar_page() -> bytes:
    cards = "".join(OSCAR_CARD.format(pk=pk, slug=slug, name=name) for pk, slug, name in OSCAR_BOOKS)
    return f'<!DOCTYPE html><html><head><title>All products</title></head><body><ol class="row">\n{cards}</ol></body></html>'.encode()


def ruleset(tmp_path: Path, block: str, catalog: str = "") -> RuleSet:
    (tmp_path / "site.toml").write_text(SITE + "\n[blocks.grid]\n" + block + "\n" + catalog, encoding="utf-8")
    return load_rules(tmp_path)


def cards(rules: RuleSet, body: bytes, path: str = "/") -> list[tuple[str | None, str | None]]:
    block = rules.blocks["grid"]
    layout = analyse(body, [block.spec])
    return [(block.id_of(item, path), block.category_of(item, path)) for item in layout.blocks["grid"].items]


def sorted_names(rules: RuleSet, path: str, profile: Profile, body: bytes) -> tuple[list[str], list[Outcome]]:
    """The cards' names after the proxy's personalizer ran the rules on the page, and its outcomes."""
    outcomes: list[Outcome] = []
    visit = page_view(rules, profile, path, time.time())
    result = Personalizer(Metrics()).personalize(rules, visit, body, "text/html; charset=utf-8", explain=outcomes)
    return re.findall(r">([A-Z][a-z]+(?: [a-z]+)?)</a>", (result.body if result else body).decode()), outcomes


def serving(body: bytes) -> httpx.MockTransport:
    return httpx.MockTransport(lambda request: httpx.Response(200, headers={"content-type": "text/html; charset=utf-8"}, content=body))


def test_card_value_reads_an_inner_elements_attribute_through_a_pattern(tmp_path):
    rules = ruleset(
        tmp_path,
        """selector = "ol.row"\nitems = "li"\n"""
        """item_id = { selector = "form[action^='/basket/add/']", attribute = "action", pattern = '/basket/add/(?P<id>\\d+)/' }\n""",
        OSCAR_CATALOG,
    )
    assert cards(rules, oscar_page()) == [("12", "dogs"), ("34", "fish"), ("56", "cats")]


def test_card_value_reads_an_inner_elements_text(tmp_path):
    body = (
        b'<div class="listing"><div class="product--box"><span class="badge">\n  fish </span></div>'
        b'<div class="product--box"><span class="badge">cats</span></div><div class="product--box">none</div></div>'
    )
    rules = ruleset(tmp_path, 'selector = ".listing"\nitems = ".product--box"\nitem_category = { selector = ".badge", text = true }\n')
    assert cards(rules, body) == [(None, "fish"), (None, "cats"), (None, None)]


def test_card_value_reads_an_inner_elements_data_attribute(tmp_path):
    # Shopware: the data attributes sit on an inner .product--box, not on the card.
    body = (
        b'<div class="listing"><div class="box"><div class="product--box" data-ordernumber="SW1" data-category="dogs">a</div></div>'
        b'<div class="box"><div class="product--box" data-ordernumber="SW2" data-category="cats">b</div></div></div>'
    )
    block = (
        'selector = ".listing"\nitems = ".box"\n'
        'item_id = { selector = ".product--box", attribute = "data-ordernumber" }\n'
        'item_category = { selector = ".product--box", attribute = "data-category" }\n'
    )
    rules = ruleset(tmp_path, block)
    assert rules.blocks["grid"].spec.item_fields and len(rules.blocks["grid"].spec.item_fields) == 2
    assert cards(rules, body) == [("SW1", "dogs"), ("SW2", "cats")]


def test_card_value_reads_json_inside_an_attribute(tmp_path):
    # Amazon: the ASIN in JSON inside a data-* attribute of the card.
    body = (
        b'<div class="s-result-list">'
        b'<div class="s-result-item" data-a-state=\'{"asin":"B00DOG","meta":{"cat":"dogs"}}\'>a</div>'
        b'<div class="s-result-item" data-a-state=\'{"asin":"B00CAT","meta":{"cat":7}}\'>b</div>'
        b'<div class="s-result-item" data-a-state="not json">c</div></div>'
    )
    block = (
        'selector = ".s-result-list"\nitems = ".s-result-item"\n'
        'item_id = { attribute = "data-a-state", json = "asin" }\n'
        'item_category = { attribute = "data-a-state", json = "meta.cat" }\n'
    )
    rules = ruleset(tmp_path, block)
    assert rules.blocks["grid"].spec.item_attrs == ("data-a-state",)
    assert cards(rules, body) == [("B00DOG", "dogs"), ("B00CAT", "7"), (None, None)]


def test_card_value_json_key_paths_take_list_positions_and_only_strings_or_numbers():
    card = Item(0, 1, {"data-state": '{"items": [{"id": "A-1"}, {"id": 2}], "flag": true, "none": null}'})
    assert [CardValue("data-state", json=path).read(card) for path in (("items", "0", "id"), ("items", "1", "id"))] == ["A-1", "2"]
    assert [CardValue("data-state", json=path).read(card) for path in (("flag",), ("none",), ("items",), ("items", "9"), ("x", "y"))] == [
        None
    ] * 5


def test_card_value_pattern_on_the_cards_own_attribute():
    value = CardValue("data-url", pattern=re.compile(r"/dp/(?P<id>[A-Z0-9]{10})"))
    assert value.read(Item(0, 1, {"data-url": "https://shop.test/Some-Title/dp/B00DOGFOOD/ref=sr_1"})) == "B00DOGFOOD"
    assert value.read(Item(0, 1, {"data-url": "/gp/help"})) is None


def test_block_def_resolves_relative_links_against_the_page_path(tmp_path):
    # books.toscrape.com: a category page links its books as ../../../<slug>/index.html.
    body = (
        b'<ol class="row"><li><h3><a href="../../../its-only-the-himalayas_981/index.html">H</a></h3></li>'
        b'<li><h3><a href="../../../full-moon-over-noahs-ark_811/index.html">F</a></h3></li></ol>'
    )
    catalog = (
        '[catalog]\n"981" = { category = "fish", path = "/catalogue/its-only-the-himalayas_981/index.html" }\n'
        '"811" = { category = "cats", path = "/catalogue/full-moon-over-noahs-ark_811/index.html" }\n'
    )
    path = "/catalogue/category/books/travel_2/index.html"
    by_page = ruleset(tmp_path, 'selector = "ol.row"\nitems = "li"\nitem_id_from_link = true\n', catalog)
    assert cards(by_page, body, path) == [("981", "fish"), ("811", "cats")]
    by_pattern = ruleset(
        tmp_path, 'selector = "ol.row"\nitems = "li"\nitem_id_from_link = \'^/catalogue/[a-z-]+_(?P<id>\\d+)/\'\n', catalog
    )
    assert cards(by_pattern, body, path) == [("981", "fish"), ("811", "cats")]


def test_sort_orders_an_oscar_listing_by_the_form_actions_catalogue_categories(tmp_path):
    block = (
        'selector = "ol.row"\nitems = "li"\n'
        "item_id = { selector = \"form[action^='/basket/add/']\", attribute = \"action\", pattern = '/basket/add/(?P<id>\\d+)/' }\n"
    )
    rules = ruleset(tmp_path, block, OSCAR_CATALOG)
    names, outcomes = sorted_names(rules, "/catalogue/", profile_from_options(["cats=3", "fish=1"], [], [], [], []), oscar_page())
    assert [(o.rule, o.fired) for o in outcomes] == [("sort-grid", True)]
    assert names == ["Cat naps", "Fish tales", "Dog days"]


def test_sort_orders_a_listing_of_relative_links(tmp_path):
    body = (
        b'<!DOCTYPE html><html><body><ol class="row">\n'
        b'<li><a href="../../a-dog_1/index.html">Dog</a></li>\n<li><a href="../../a-cat_2/index.html">Cat</a></li>\n'
        b"</ol></body></html>"
    )
    catalog = '[catalog]\n"1" = { category = "dogs", path = "/catalogue/a-dog_1/index.html" }\n"2" = { category = "cats", path = "/catalogue/a-cat_2/index.html" }\n'
    rules = ruleset(tmp_path, 'selector = "ol.row"\nitems = "li"\nitem_id_from_link = true\n', catalog)
    names, outcomes = sorted_names(rules, "/catalogue/category/pets_1/index.html", profile_from_options(["cats=2"], [], [], [], []), body)
    assert [(o.rule, o.fired) for o in outcomes] == [("sort-grid", True)]
    assert names == ["Cat", "Dog"]


def test_explain_says_when_no_card_has_a_category(tmp_path):
    # The cards' data is not where the block says: "nothing to change for this visitor" would hide that.
    rules = ruleset(tmp_path, 'selector = "ol.row"\nitems = "li"\nitem_id = { selector = "form", attribute = "data-pk" }\n', OSCAR_CATALOG)
    report = explain(
        "http://shop.test/catalogue/", rules, profile_from_options(["cats=3"], [], [], [], []), transport=serving(oscar_page())
    )
    [outcome] = report.outcomes
    assert (outcome.fired, outcome.reason) == (
        False,
        "nothing to sort: 0 of 3 cards have a category "
        "(check 'item_category', 'item_id' or 'item_id_from_link' of [blocks.grid], and [catalog])",
    )
    sort = rules.rules[0].action
    assert sort.status() == f"0 of 3 cards have a category on the last page sorted ({sort._hint()})"
