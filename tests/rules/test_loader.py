"""Rule loading, tested with folders of good and bad rule files and their exact messages."""

import pytest

from etalage.html.page import BlockSpec, Item, ItemField
from etalage.rules.fields import RuleSetError
from etalage.rules.loader import load_rules
from etalage.rules.model import CardValue, Product
from tests.support.config import PROJECT_RULES, RULESETS

BAD = sorted(path for path in (RULESETS / "bad").iterdir() if path.is_dir())


def test_loader_accepts_the_project_rules():
    ruleset = load_rules(PROJECT_RULES)
    assert {rule.id for rule in ruleset.rules} >= {"hero-by-interest", "popular-by-interest", "newsletter-popin"}


@pytest.mark.parametrize("folder", sorted((RULESETS / "good").iterdir()), ids=lambda p: p.name)
def test_loader_accepts_good_folders(folder):
    assert load_rules(folder).rules


@pytest.mark.parametrize("folder", BAD, ids=lambda p: p.name)
def test_loader_reports_every_problem_with_file_and_line(folder):
    with pytest.raises(RuleSetError) as caught:
        load_rules(folder)
    expected = (folder / "expected.txt").read_text().splitlines()
    assert [str(problem) for problem in caught.value.problems] == expected


def test_loader_orders_rules_by_priority_then_file_order(tmp_path):
    (tmp_path / "site.toml").write_text(
        '[site]\ncategories = { dogs = "Dogs" }\n[blocks.a]\nselector = "#a"\n[blocks.b]\nselector = "#b"\n'
        '[[rule]]\nid = "first"\naction = "banner"\nblock = "a"\ntemplates = {}\n'
        '[[rule]]\nid = "urgent"\naction = "banner"\nblock = "b"\npriority = 5\ntemplates = {}\n'
    )
    assert [rule.id for rule in load_rules(tmp_path).rules] == ["urgent", "first"]


def _two_rules_on_one_block(pages_a, pages_b):
    rule = '[[rule]]\nid = "{}"\naction = "hide"\nblock = "hero"\npages = {}\n'
    return (
        '[site]\ncategories = { dogs = "Dogs" }\n[blocks.hero]\nselector = "#hero"\n'
        + rule.format("a", pages_a)
        + rule.format("b", pages_b)
    )


@pytest.mark.parametrize(
    ("pages_a", "pages_b"),
    [
        ("['^/c/']", "['^/p/']"),
        ("['^/$']", "['^/c/', '^/p/']"),
        ("['^/cart\\Z']", "['/p/']"),
        ("['^/c/dogs', '^/c/cats']", "['^/c/fish', '^/p/']"),
    ],
)
def test_loader_allows_one_priority_on_one_block_for_pages_that_cannot_meet(tmp_path, pages_a, pages_b):
    (tmp_path / "site.toml").write_text(_two_rules_on_one_block(pages_a, pages_b))
    assert [rule.id for rule in load_rules(tmp_path).rules] == ["a", "b"]


@pytest.mark.parametrize(
    ("pages_a", "pages_b"),
    [
        ("['^/c/']", "['^/c/dogs']"),
        ("['^/$']", "['^/(c|p)?']"),
        ("['^/c/']", "['/c/']"),
        ("['^/c/', '^/p/']", "['^/p/dogs']"),
        ("['^/c/']", "['(?i)^/C/']"),
        ("['^/a*b']", "['^/b']"),
        ("['^/$']", "['^/$']"),
    ],
)
def test_loader_refuses_one_priority_on_one_block_for_pages_that_can_meet(tmp_path, pages_a, pages_b):
    (tmp_path / "site.toml").write_text(_two_rules_on_one_block(pages_a, pages_b))
    with pytest.raises(RuleSetError) as caught:
        load_rules(tmp_path)
    assert [problem.message for problem in caught.value.problems] == [
        f"rules 'a' (at {tmp_path.name}/site.toml:5) and 'b' both change 'hero' at priority 0"
    ]


def test_loader_skips_disabled_rules(tmp_path):
    (tmp_path / "site.toml").write_text(
        '[site]\ncategories = { dogs = "Dogs" }\n[[rule]]\nid = "off"\naction = "popin"\nenabled = false\ntemplate = "x.html"\n'
    )
    assert load_rules(tmp_path).rules == ()


def test_loader_login_logout_path_is_a_pattern_on_the_request_path(tmp_path):
    (tmp_path / "site.toml").write_text(
        '[site]\ncategories = { dogs = "Dogs" }\n[login]\nheader = "X-Customer"\nlogout_path = "^/account/logout"\n'
    )
    pattern = load_rules(tmp_path).login.logout_path
    assert pattern is not None and pattern.search("/account/logout/") and not pattern.search("/")


def test_loader_login_logout_path_that_is_no_pattern_is_a_problem(tmp_path):
    (tmp_path / "site.toml").write_text('[site]\ncategories = { dogs = "Dogs" }\n[login]\nlogout_path = "^/(logout"\n')
    with pytest.raises(RuleSetError) as caught:
        load_rules(tmp_path)
    [problem] = caught.value.problems
    assert problem.line == 4 and "'logout_path': invalid regular expression" in problem.message


@pytest.mark.parametrize("cookie", ["sessionid", "PHPSESSID", "JSESSIONID"])
def test_loader_refuses_a_session_cookie_as_the_login_cookie(tmp_path, cookie):
    (tmp_path / "site.toml").write_text(f'[site]\ncategories = {{ dogs = "Dogs" }}\n[login]\ncookie = "{cookie}"\n')
    with pytest.raises(RuleSetError) as caught:
        load_rules(tmp_path)
    [problem] = caught.value.problems
    assert problem.line == 4 and f"login.cookie: {cookie!r} is a session cookie" in problem.message and "/.etalage/api/link" in problem.hint


def test_loader_version_changes_with_a_template(tmp_path):
    (tmp_path / "site.toml").write_text(
        '[site]\ncategories = { dogs = "Dogs" }\n[[rule]]\nid = "p"\naction = "popin"\ntemplate = "p.html"\n'
    )
    (tmp_path / "p.html").write_text("<p>{{ category }}</p>")
    before = load_rules(tmp_path).version
    (tmp_path / "p.html").write_text("<p>{{ category_label }}</p>")
    assert load_rules(tmp_path).version != before


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85"])
def test_loader_counts_lines_at_line_feeds_only(tmp_path, separator):
    # Each of these ends a line for str.splitlines(), none for TOML, which allows them in strings and comments.
    (tmp_path / "site.toml").write_text(
        f'[site]\ncategories = {{ dogs = "Do{separator}gs" }}\n# a title{separator}from a feed\n[[rule]]\nid = "x"\naction = "bogus"\n',
        encoding="utf-8",
    )
    with pytest.raises(RuleSetError, match=r"site\.toml:6: rule 'x': 'action': unknown action 'bogus'"):
        load_rules(tmp_path)


def test_loader_missing_folder_is_a_problem(tmp_path):
    with pytest.raises(RuleSetError, match="not found"):
        load_rules(tmp_path / "nope")


# --------------------------------------------------------------------------------------------
# product cards without a category attribute; the catalogue's product pages


MARKUP = RULESETS / "good" / "markup"


def card(attrs: dict[str, str] | None = None, links: tuple[str, ...] = ()) -> Item:
    return Item(0, 1, attrs or {}, links)


def test_loader_merges_a_product_listed_in_several_catalog_tables():
    catalog = load_rules(MARKUP).catalog
    assert catalog == {
        "dog-kibble-5kg": Product("dogs", 30, "/p/dog-kibble-5kg"),
        "SKU 12/3": Product("cats", None, "/katten/krabpaal-12-3.html"),
        "tank": Product("fish", None, "/p/tank"),
    }
    assert catalog.paths == {"/p/dog-kibble-5kg": "dog-kibble-5kg", "/katten/krabpaal-12-3.html": "SKU 12/3", "/p/tank": "tank"}
    assert catalog.feed_categories == {"Dog Supplies": "dogs", "Pet Supplies > Cat Supplies": "cats", "5": "fish"}


def test_loader_block_reads_links_only_when_it_needs_them():
    blocks = load_rules(MARKUP).blocks
    assert blocks["by-attribute"].spec == BlockSpec("by-attribute", "#bestsellers", "li.product", ("data-sku",))
    assert blocks["by-pattern"].spec == BlockSpec("by-pattern", "ul.products", "li.product", (), item_links=True)
    assert blocks["by-page"].spec == BlockSpec("by-page", ".grid", ".card", ("data-category",), item_links=True)
    assert all(block.identifies_products for block in blocks.values())
    assert not load_rules(PROJECT_RULES).blocks["popular"].spec.item_links


def test_loader_block_reads_inner_card_values_only_once_each():
    blocks = load_rules(RULESETS / "good" / "cards").blocks
    assert blocks["shopware"].spec == BlockSpec(
        "shopware",
        ".listing",
        ".listing--box",
        (),
        item_fields=(ItemField(".product--box", "data-ordernumber"), ItemField(".product--box", "data-category")),
    )
    assert blocks["badges"].spec.item_fields == (ItemField(".badge", None),)
    assert blocks["amazon"].spec == BlockSpec("amazon", ".s-result-list", ".s-result-item", ("data-a-state",))
    assert blocks["amazon"].item_id == CardValue("data-a-state", None, ("asin",))
    assert blocks["oscar"].item_id is not None and blocks["oscar"].item_id.pattern is not None


def test_blockdef_attribute_then_catalogue():
    block = load_rules(MARKUP).blocks["by-attribute"]
    assert block.id_of(card({"data-sku": "tank"})) == "tank"
    assert block.category_of(card({"data-sku": "tank"})) == "fish"
    assert block.category_of(card({"data-sku": "unknown"})) is None
    assert block.id_of(card({"data-sku": ""}, ("/p/tank",))) is None  # links are not read for this block
    assert block.category_of(card()) is None


def test_blockdef_link_pattern():
    block = load_rules(MARKUP).blocks["by-pattern"]
    links = ("https://shop.example/brands/acme", "/p/SKU%2012%2F3?colour=red", "/p/tank")
    assert block.id_of(card(links=links)) == "SKU 12/3"  # the first link the pattern matches, percent-decoded
    assert block.category_of(card(links=links)) == "cats"
    assert block.id_of(card(links=("/brands/acme",))) is None
    assert block.category_of(card(links=("/p/not-in-the-catalogue",))) is None


def test_blockdef_link_to_a_catalogue_page():
    block = load_rules(MARKUP).blocks["by-page"]
    links = ("#reviews", "https://shop.example/katten/krabpaal-12-3.html/?ref=grid", "/p/tank")
    assert block.id_of(card(links=links)) == "SKU 12/3"
    assert block.category_of(card(links=links)) == "cats"
    assert block.category_of(card({"data-category": "dogs"}, links)) == "dogs"  # the card's own attribute first
    assert block.category_of(card({"data-category": ""}, links)) == "cats"
    assert block.id_of(card(links=("/p/dog-kibble-5kg/",))) == "dog-kibble-5kg"
    assert block.id_of(card(links=("/p/other", "http://[bad"))) is None


def test_blockdef_with_category_attribute_and_id_attribute_works_as_before():
    block = load_rules(PROJECT_RULES).blocks["popular"]
    item = card({"data-product-id": "x1", "data-category": "birds"})
    assert (block.id_of(item), block.category_of(item)) == ("x1", "birds")
    assert block.category_of(card({"data-product-id": "dog-kibble-5kg"})) == "dogs"  # now: the catalogue's


def test_product_page_key():
    assert Product.page_key("https://shop.example/p/caf%C3%A9/?x=1#top") == "/p/caf\u00e9"
    assert Product.page_key("/p/a//") == "/p/a"
    assert Product.page_key("/") == "/"
    assert Product.page_key("#top") is None
    assert Product.page_key("?page=2") is None


def test_loader_catalog_without_feed_keys_is_unchanged(tmp_path):
    (tmp_path / "site.toml").write_text(
        '[site]\ncategories = { dogs = "Dogs" }\n[catalog]\na = { category = "dogs", lasts_days = 7 }\nb = {}\n'
    )
    with pytest.raises(RuleSetError) as caught:
        load_rules(tmp_path)
    assert [str(p) for p in caught.value.problems] == [f"{tmp_path.name}/site.toml:5: catalog.b: missing required key 'category'"]


def test_loader_reads_the_card_fields_of_catalog_products(tmp_path):
    (tmp_path / "site.toml").write_text(
        """
[site]
categories = { dogs = "Dogs", rodents = "Rodents" }
[catalog]
kibble = { category = "dogs", path = "/p/kibble", title = "Dog kibble 5 kg", price = "24.90 EUR", image = "/img/kibble.jpg" }
hay = { category = "rodents", path = "/p/hay", title = "Meadow hay", price = 6.5, image = "https://cdn.example.com/hay.jpg" }
wheel = { category = "rodents", path = "/p/wheel", title = "Hamster wheel", available = false, bought_with = ["hay"] }
"""
    )
    catalog = load_rules(tmp_path).catalog
    assert catalog["kibble"] == Product("dogs", None, "/p/kibble", "Dog kibble 5 kg", "24.90 EUR", "/img/kibble.jpg")
    assert catalog["hay"] == Product("rodents", None, "/p/hay", "Meadow hay", "6.5", "https://cdn.example.com/hay.jpg")
    assert catalog["wheel"] == Product("rodents", None, "/p/wheel", "Hamster wheel", available=False, bought_with=("hay",))


def test_loader_refuses_a_catalog_image_that_is_no_web_address(tmp_path):
    (tmp_path / "site.toml").write_text(
        '[site]\ncategories = { dogs = "Dogs" }\n[catalog]\nkibble = { category = "dogs", image = "javascript:alert(1)" }\n'
    )
    with pytest.raises(RuleSetError) as caught:
        load_rules(tmp_path)
    assert [str(problem) for problem in caught.value.problems] == [
        f"{tmp_path.name}/site.toml:4: catalog.kibble: 'image': must be an https: or http: address or a path on the shop"
        ' (e.g. "/img/dog-kibble.jpg")'
    ]


def test_loader_refuses_a_segment_named_as_the_built_in_one(tmp_path):
    (tmp_path / "site.toml").write_text('[site]\ncategories = { dogs = "Dogs" }\n[segments.customers]\nlifecycle = "customer"\n')
    with pytest.raises(RuleSetError) as caught:
        load_rules(tmp_path)
    ((line, message),) = [(problem.line, problem.message) for problem in caught.value.problems]
    assert line == 3 and message.startswith("segment 'customers' is built in")
