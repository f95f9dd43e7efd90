"""etalage.tools.products.catalog: the catalogue entries for a feed's products."""

from __future__ import annotations

from etalage.problems import Problem
from etalage.rules.model import Product
from etalage.tools.products.catalog import build_catalog
from etalage.tools.products.mapping import CategoryMap
from etalage.tools.products.read import FeedProduct

LABELS = {"dogs": "Dogs", "cats": "Cats", "rodents": "Rodents", "birds": "Birds", "fish": "Fish"}


def product(line: int, product_id: str, link: str = "", types: tuple[str, ...] = ("Dogs",)) -> FeedProduct:
    return FeedProduct(line, product_id, link, "", types)


def test_build_catalog_maps_writes_paths_and_reports():
    items = [
        product(2, "a", "https://shop.example/p/a/?utm=x#top"),
        product(3, "b", "https://shop.example/p/b c", ("Horses",)),
        Problem("feed.txt", 4, "no id"),
        product(5, "a", "https://shop.example/p/a2"),
        product(6, "c", "/p/c"),
        product(7, "d", "https://shop.example/"),
        product(8, "e"),
    ]
    result = build_catalog(items, CategoryMap({}, LABELS), {}, file="feed.txt")
    assert [(e.id, e.category, e.path) for e in result.entries] == [
        ("a", "dogs", "/p/a/"),
        ("c", "dogs", None),
        ("d", "dogs", None),
        ("e", "dogs", None),
    ]
    assert [(p.line, p.message) for p in result.problems] == [
        (
            3,
            "no category for product 'b' (product_type 'Horses'); left out (map it in [catalog_feed] categories, or with --map 'TEXT=CATEGORY')",
        ),
        (4, "no id"),
        (5, "product 'a' is listed again (first at line 2); left out"),
        (6, "product 'c': link '/p/c' is not the http(s) URL of a page; no path written"),
        (7, "product 'd': link 'https://shop.example/' is the shop's home page; no path written"),
    ]
    assert result.products == 6 and result.unmapped == 1


def test_build_catalog_quotes_what_a_path_may_not_hold():
    # Tabs and line breaks are dropped from URLs (as browsers do), spaces and other controls quoted.
    result = build_catalog([product(2, "a", "https://shop.example/p/a b\tc\x0b")], CategoryMap({}, LABELS), {}, file="feed.txt")
    assert result.entries[0].path == "/p/a%20bc%0B"


def test_build_catalog_quotes_a_backslash_that_would_make_the_path_another_site():
    # Browsers read `/\\evil.example/x` as `//evil.example/x`.
    result = build_catalog([product(2, "a", "https://shop.example/\\evil.example/x")], CategoryMap({}, LABELS), {}, file="feed.txt")
    assert result.entries[0].path == "/%5Cevil.example/x"


def test_build_catalog_products_sharing_a_page_get_no_path_and_a_note():
    items = [
        product(2, "a", "https://s.example/product.php?id=1"),
        product(3, "b", "https://s.example/product.php?id=2"),
        product(4, "c", "https://s.example/p/c"),
    ]
    result = build_catalog(items, CategoryMap({}, LABELS), {}, file="feed.txt")
    assert [(e.id, e.path) for e in result.entries] == [("a", None), ("b", None), ("c", "/p/c")]
    assert result.problems == []
    assert [(n.line, n.message) for n in result.notes] == [
        (
            2,
            "note: 2 products link to the page '/product.php' ('a', 'b'): no path written for them; their views are not learned from the URL",
        )
    ]


def test_build_catalog_the_rules_own_catalog_wins():
    known = {
        "same": Product("dogs", 30),
        "other": Product("cats"),
        "unmapped": Product("fish", None, "/p/unmapped"),
        "elsewhere": Product("dogs", None, "/p/elsewhere"),
        "owner": Product("dogs", None, "/p/taken"),
    }
    items = [
        product(2, "same", "https://s.example/p/same"),
        product(3, "other", "https://s.example/p/other"),
        product(4, "unmapped", "https://s.example/p/unmapped/", ("Horses",)),
        product(5, "elsewhere", "https://s.example/p/moved"),
        product(6, "new", "https://s.example/p/taken"),
    ]
    result = build_catalog(items, CategoryMap({}, LABELS), known, file="feed.txt")
    assert [(e.id, e.category, e.path) for e in result.entries] == [
        ("same", "dogs", "/p/same"),
        ("other", None, "/p/other"),
        ("unmapped", None, "/p/unmapped"),  # the same page, spelled as the rules spell it
        ("elsewhere", "dogs", None),
        ("new", "dogs", None),
    ]
    assert [(p.line, p.message) for p in result.problems] == [
        (3, "product 'other': the feed's category maps to 'dogs', but the rules' [catalog] puts it in 'cats'; kept 'cats'"),
        (
            5,
            "product 'elsewhere': the feed's link path '/p/moved' differs from 'path' '/p/elsewhere' in the rules' [catalog]; kept '/p/elsewhere'",
        ),
        (6, "product 'new': link path '/p/taken' is the page of product 'owner' in the rules' [catalog]; no path written"),
    ]


def test_build_catalog_card_fields_from_the_feed_unless_the_rules_give_them():
    known = {"hand": Product("dogs", None, None, "Hand-written title", available=False)}
    items = [
        FeedProduct(2, "hand", "", "Feed title", ("Dogs",), (), "3 EUR", "", "out of stock"),
        FeedProduct(3, "gone", "", " Gone\nsoon ", ("Dogs",), (), "", "", "Out_Of_Stock"),
        FeedProduct(4, "here", "", "", ("Dogs",), (), "", "https://cdn.example/here.jpg", "in_stock"),
        FeedProduct(5, "bad", "", "", ("Dogs",), (), "", "javascript:alert(1)"),
    ]
    result = build_catalog(items, CategoryMap({}, LABELS), known, file="feed.txt")
    assert [(e.id, dict(e.card)) for e in result.entries] == [
        ("hand", {"price": "3 EUR"}),
        ("gone", {"title": "Gone soon", "available": False}),
        ("here", {"image": "https://cdn.example/here.jpg"}),
        ("bad", {}),
    ]
    assert [(p.line, p.message) for p in result.problems] == [
        (5, "product 'bad': image_link 'javascript:alert(1)' is not an http(s) URL; no image written")
    ]
