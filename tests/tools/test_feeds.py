"""etalage.feeds and `etalage import-products`: Google Merchant Center feeds into the catalogue."""

from __future__ import annotations

import gzip
import os
import shutil
import stat
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from etalage.cli import main
from etalage.engine.learn import learn_from_request
from etalage.rules.loader import load_rules
from etalage.rules.model import Product
from etalage.tools.feeds import (
    CategoryMap,
    Feed,
    FeedError,
    FeedProblem,
    FeedProduct,
    build_catalog,
    parse_mapping,
    render_catalog,
    write_atomically,
)
from tests.support.config import PROJECT_RULES

G = 'xmlns:g="http://base.google.com/ns/1.0"'
LABELS = {"dogs": "Dogs", "cats": "Cats", "rodents": "Rodents", "birds": "Birds", "fish": "Fish"}
SITE = '[site]\ncategories = { dogs = "Dogs", cats = "Cats", fish = "Fish" }\n'


def read(path: Path, encoding: str | None = None) -> list[FeedProduct | FeedProblem]:
    return list(Feed(path, encoding))


def write(tmp_path: Path, name: str, data: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


# --------------------------------------------------------------------------------------------
# delimited text


def test_feed_tsv_reads_the_merchant_center_columns_with_line_numbers(tmp_path):
    path = write(
        tmp_path,
        "feed.txt",
        "id\ttitle\tlink\tprice\tproduct_type\tgoogle_product_category\n"
        "dog-kibble-5kg\tAdult Dog Kibble 5 kg\thttps://shop.example/p/dog-kibble-5kg\t24.95 EUR\tDogs > Food\t3530\n"
        "\n"
        "cat-tower\t Cat Tower \thttps://shop.example/p/cat-tower\t\t\tAnimals & Pet Supplies > Pet Supplies > Cat Supplies\n",
    )
    feed = Feed(path)
    assert list(feed) == [
        FeedProduct(2, "dog-kibble-5kg", "https://shop.example/p/dog-kibble-5kg", "Adult Dog Kibble 5 kg", ("Dogs > Food",), ("3530",)),
        FeedProduct(
            4, "cat-tower", "https://shop.example/p/cat-tower", "Cat Tower", (), ("Animals & Pet Supplies > Pet Supplies > Cat Supplies",)
        ),
    ]
    assert feed.format == "tab-separated text"


def test_feed_csv_with_quoted_line_breaks_numbers_rows_by_their_first_line(tmp_path):
    path = write(
        tmp_path,
        "feed.csv",
        "\ufeffg:id,Title,Product Type,Link\r\n"
        '1,"Bowl, steel","Dogs > Bowls",https://shop.example/p/1\r\n'
        '2,"Two\r\nlines",Cats,https://shop.example/p/2\r\n'
        "3,Three,Fish,https://shop.example/p/3\r\n",
    )
    feed = Feed(path)
    products = list(feed)
    assert [(p.line, p.id, p.title, p.product_types) for p in products] == [
        (2, "1", "Bowl, steel", ("Dogs > Bowls",)),
        (3, "2", "Two\r\nlines", ("Cats",)),
        (5, "3", "Three", ("Fish",)),
    ]
    assert feed.format == "comma-separated text"


def test_feed_pipe_separated(tmp_path):
    path = write(tmp_path, "feed.txt", "id|link|product_type\na|https://s.example/p/a|Dogs\n")
    assert [p.id for p in read(path)] == ["a"]


def test_feed_bad_rows_are_reported_with_their_line(tmp_path):
    path = write(
        tmp_path, "feed.tsv", "id\tlink\tproduct_type\n\thttps://s.example/p/x\tDogs\nb\tonly two\nc\thttps://s.example/p/c\tCats\n"
    )
    assert read(path) == [
        FeedProblem(2, "no id"),
        FeedProblem(3, "2 fields, the header has 3 (a value with an unquoted tab or line break?)"),
        FeedProduct(4, "c", "https://s.example/p/c", "", ("Cats",)),
    ]


def test_feed_without_an_id_column_is_no_feed(tmp_path):
    path = write(tmp_path, "customers.csv", "\ncustomer_id,segments\nC-1,vip\n")
    with pytest.raises(FeedError) as caught:
        read(path)
    assert caught.value.line == 2 and caught.value.reason.startswith("no 'id' column in the header row")


def test_feed_that_is_not_utf8_names_the_line_and_the_option(tmp_path):
    path = write(tmp_path, "feed.tsv", "id\ttitle\tproduct_type\n1\tCaf\xe9\tDogs\n".encode("latin-1"))
    with pytest.raises(FeedError) as caught:
        read(path)
    assert (caught.value.line, caught.value.reason) == (2, "not valid UTF-8 text; give the feed's encoding, e.g. --encoding latin-1")
    assert [p.title for p in read(path, "latin-1")] == ["Caf\xe9"]


def test_feed_utf16_with_a_byte_order_mark(tmp_path):
    path = write(tmp_path, "feed.txt", "id\tproduct_type\nk\u00e9\tDogs\n".encode("utf-16"))
    assert [p.id for p in read(path)] == ["k\u00e9"]


def test_feed_gzip_compressed(tmp_path):
    path = write(tmp_path, "feed.txt.gz", gzip.compress(b"id\tproduct_type\na\tDogs\n"))
    feed = Feed(path)
    assert [p.id for p in feed] == ["a"]
    assert feed.format == "tab-separated text, gzip-compressed"


def test_feed_empty_file(tmp_path):
    with pytest.raises(FeedError, match="empty"):
        read(write(tmp_path, "feed.txt", "\n\n"))


# --------------------------------------------------------------------------------------------
# XML


RSS = f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" {G}>
  <channel>
    <title>Pootjes</title>
    <link>https://shop.example/</link>
    <item>
      <g:id>dog-kibble-5kg</g:id>
      <title>Kibble &amp; more</title>
      <link>https://shop.example/p/dog-kibble-5kg?utm_source=feed</link>
      <g:product_type>Pets &gt; Dogs &gt; Food</g:product_type>
      <g:product_type>Sale</g:product_type>
      <g:google_product_category>3530</g:google_product_category>
      <g:shipping><g:country>NL</g:country><g:id>not-the-id</g:id></g:shipping>
    </item>
    <item>
      <g:id>tank</g:id>
      <g:title>Tank</g:title>
      <g:link>https://shop.example/p/tank</g:link>
      <link>https://shop.example/other</link>
    </item>
    <item>
      <title>no id here</title>
    </item>
  </channel>
</rss>
"""


def test_feed_rss(tmp_path):
    feed = Feed(write(tmp_path, "feed.xml", RSS))
    assert list(feed) == [
        FeedProduct(
            6,
            "dog-kibble-5kg",
            "https://shop.example/p/dog-kibble-5kg?utm_source=feed",
            "Kibble & more",
            ("Pets > Dogs > Food", "Sale"),
            ("3530",),
        ),
        FeedProduct(15, "tank", "https://shop.example/p/tank", "Tank"),
        FeedProblem(21, "no <g:id>"),
    ]
    assert feed.format == "RSS 2.0 XML"


def test_feed_atom_takes_the_alternate_link(tmp_path):
    atom = f"""<?xml version="1.0"?>
<feed xmlns="http://www.w3.org/2005/Atom" {G}>
  <title>Pootjes</title>
  <id>tag:shop.example,2026:feed</id>
  <entry>
    <id>tag:shop.example,2026:cat-tower</id>
    <g:id>cat-tower</g:id>
    <title>Cat Tower</title>
    <link rel="self" href="https://shop.example/feed/cat-tower"/>
    <link href="https://shop.example/p/cat-tower"/>
    <g:google_product_category>Animals &amp; Pet Supplies &gt; Pet Supplies &gt; Cat Supplies</g:google_product_category>
  </entry>
</feed>"""
    feed = Feed(write(tmp_path, "feed.atom", atom))
    assert list(feed) == [
        FeedProduct(
            5, "cat-tower", "https://shop.example/p/cat-tower", "Cat Tower", (), ("Animals & Pet Supplies > Pet Supplies > Cat Supplies",)
        )
    ]
    assert feed.format == "Atom XML"


def test_feed_xml_gzip_and_a_latin1_declaration(tmp_path):
    data = f'<?xml version="1.0" encoding="ISO-8859-1"?>\n<rss {G}><channel><item><g:id>caf\xe9</g:id></item></channel></rss>'.encode(
        "latin-1"
    )
    assert [p.id for p in read(write(tmp_path, "feed.xml.gz", gzip.compress(data)))] == ["caf\xe9"]


def test_feed_xml_with_the_g_prefix_bound_elsewhere_says_so(tmp_path):
    data = '<rss xmlns:g="http://base.google.com/cns/1.0"><channel><item><g:id>1</g:id></item></channel></rss>'
    assert read(write(tmp_path, "feed.xml", data)) == [
        FeedProblem(1, "no <g:id> (the g: prefix must stand for http://base.google.com/ns/1.0)")
    ]


@pytest.mark.parametrize(
    ("data", "line", "reason"),
    [
        (
            '<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY a "aaaaaaaaaa">\n<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">\n]>\n<rss><channel><item>&b;</item></channel></rss>',
            3,
            "the feed declares XML entities: refused (entities can expand without limit)",
        ),
        (
            '<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY e SYSTEM "file:///etc/passwd">\n]>\n<rss><channel><item>&e;</item></channel></rss>',
            3,
            "the feed declares XML entities: refused (entities can expand without limit)",
        ),
        (f"<rss {G}>\n<channel>\n<item><g:id>1</g:id></itme>\n</channel></rss>", 3, "not well-formed XML: mismatched tag"),
        ("<rss>\n<channel><item><g:id>1</g:id></item></channel></rss>", 2, "not well-formed XML: unbound prefix"),
        ("<html><body><p>not a feed</p></body></html>", 1, "no <item> or <entry> elements in <html>: not an RSS 2.0 or Atom product feed"),
    ],
    ids=["entity-bomb", "external-entity", "mismatched-tag", "unbound-prefix", "not-a-feed"],
)
def test_feed_xml_that_cannot_be_read_is_refused_whole(tmp_path, data, line, reason):
    with pytest.raises(FeedError) as caught:
        read(write(tmp_path, "feed.xml", data))
    assert (caught.value.line, caught.value.reason) == (line, reason)


def test_feed_xml_is_read_as_a_stream(tmp_path):
    items = "".join(f"<item><g:id>p{n}</g:id><g:product_type>Dogs</g:product_type></item>\n" for n in range(30000))
    path = write(tmp_path, "feed.xml", f"<rss {G}><channel>\n{items}</channel></rss>")
    assert path.stat().st_size > 1 << 20  # more than one chunk
    feed = iter(Feed(path))
    assert next(feed) == FeedProduct(2, "p0", product_types=("Dogs",))
    assert sum(1 for _ in feed) == 29999


# --------------------------------------------------------------------------------------------
# categories


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        (["Animals & Pet Supplies > Pet Supplies > Dog Supplies > Dog Food"], "dogs"),  # a segment key
        (["Animals & Pet Supplies > Pet Supplies > Cat Supplies"], "cats"),  # a run of segments
        (["Animals & Pet Supplies > Pet Supplies"], "rodents"),  # the less specific key, alone
        (["Shop > Birds > Seed"], "birds"),  # a category's own label
        (["shop >  FISH "], "fish"),  # slug, any case and spacing
        (["3530"], "dogs"),  # a category number
        (["  dog\u00a0supplies  "], "dogs"),
        (["Sale", "Pet Supplies > Cats"], "cats"),  # product_type values in turn
        (["Dogs > Food, Cats > Toys"], "dogs"),  # comma-separated in one cell
        (["Horses > Saddles"], None),
        ([], None),
    ],
)
def test_category_map_most_specific_segment_first(texts, expected):
    mapping = {"Dog Supplies": "dogs", "Pet Supplies > Cat Supplies": "cats", "Pet Supplies": "rodents", "3530": "dogs", "Sale": "birds"}
    categories = CategoryMap(mapping, LABELS)
    if texts == ["Sale", "Pet Supplies > Cats"]:
        categories = CategoryMap({k: v for k, v in mapping.items() if k != "Sale"}, LABELS)
    assert categories.category(texts) == expected


def test_category_map_a_key_wins_over_a_label_at_the_same_segment():
    assert CategoryMap({"Dogs": "cats"}, LABELS).category(["Pets > Dogs"]) == "cats"
    # ...but a more specific segment decides first, whatever matched it.
    assert CategoryMap({"Pets": "rodents"}, LABELS).category(["Pets > Dogs"]) == "dogs"


def test_parse_mapping():
    assert parse_mapping(["Dog Supplies=dogs", " a=b = cats "]) == {"Dog Supplies": "dogs", "a=b": "cats"}
    with pytest.raises(ValueError, match="TEXT=CATEGORY"):
        parse_mapping(["dogs"])


# --------------------------------------------------------------------------------------------
# the catalogue


def product(line: int, product_id: str, link: str = "", types: tuple[str, ...] = ("Dogs",)) -> FeedProduct:
    return FeedProduct(line, product_id, link, "", types)


def test_build_catalog_maps_writes_paths_and_reports():
    items = [
        product(2, "a", "https://shop.example/p/a/?utm=x#top"),
        product(3, "b", "https://shop.example/p/b c", ("Horses",)),
        FeedProblem(4, "no id"),
        product(5, "a", "https://shop.example/p/a2"),
        product(6, "c", "/p/c"),
        product(7, "d", "https://shop.example/"),
        product(8, "e"),
    ]
    result = build_catalog(items, CategoryMap({}, LABELS), {})
    assert [(e.id, e.category, e.path) for e in result.entries] == [
        ("a", "dogs", "/p/a/"),
        ("c", "dogs", None),
        ("d", "dogs", None),
        ("e", "dogs", None),
    ]
    assert [(p.line, p.reason) for p in result.problems] == [
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
    result = build_catalog([product(2, "a", "https://shop.example/p/a b\tc\x0b")], CategoryMap({}, LABELS), {})
    assert result.entries[0].path == "/p/a%20bc%0B"


def test_build_catalog_products_sharing_a_page_get_no_path_and_a_note():
    items = [
        product(2, "a", "https://s.example/product.php?id=1"),
        product(3, "b", "https://s.example/product.php?id=2"),
        product(4, "c", "https://s.example/p/c"),
    ]
    result = build_catalog(items, CategoryMap({}, LABELS), {})
    assert [(e.id, e.path) for e in result.entries] == [("a", None), ("b", None), ("c", "/p/c")]
    assert result.problems == []
    assert [(n.line, n.reason) for n in result.notes] == [
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
    result = build_catalog(items, CategoryMap({}, LABELS), known)
    assert [(e.id, e.category, e.path) for e in result.entries] == [
        ("same", "dogs", "/p/same"),
        ("other", None, "/p/other"),
        ("unmapped", None, "/p/unmapped"),  # the same page, spelled as the rules spell it
        ("elsewhere", "dogs", None),
        ("new", "dogs", None),
    ]
    assert [(p.line, p.reason) for p in result.problems] == [
        (3, "product 'other': the feed's category maps to 'dogs', but the rules' [catalog] puts it in 'cats'; kept 'cats'"),
        (
            5,
            "product 'elsewhere': the feed's link path '/p/moved' differs from 'path' '/p/elsewhere' in the rules' [catalog]; kept '/p/elsewhere'",
        ),
        (6, "product 'new': link path '/p/taken' is the page of product 'owner' in the rules' [catalog]; no path written"),
    ]


def test_render_catalog_is_a_rule_file_with_quoted_keys_where_needed():
    items = [
        FeedProduct(2, "dog-kibble-5kg", "https://s.example/p/dog-kibble-5kg", "Kibble\n5 kg", ("Dogs",)),
        FeedProduct(3, "SKU 12/3", "https://s.example/p/12%2F3", "", ("Cats",)),
        FeedProduct(4, 'q"uo\\te\x01', "", "x" * 200, ("Fish",)),
        FeedProduct(5, "caf\u00e9.1", "", "", ("Fish",)),
    ]
    result = build_catalog(items, CategoryMap({}, LABELS), {})
    result.format = "tab-separated text"
    text = render_catalog(result, "feeds/products.txt", datetime(2026, 3, 1, 12, 30, tzinfo=UTC))
    lines = text.splitlines()
    assert lines[0] == "# Generated by `etalage import-products` from feeds/products.txt on 2026-03-01 12:30:00 UTC:"
    assert lines[1] == "# 4 product(s) of 4 in the feed (tab-separated text)."
    assert 'dog-kibble-5kg = { category = "dogs", path = "/p/dog-kibble-5kg" }  # Kibble 5 kg' in lines
    assert '"SKU 12/3" = { category = "cats", path = "/p/12%2F3" }' in lines
    assert tomllib.loads(text)["catalog"] == {
        "dog-kibble-5kg": {"category": "dogs", "path": "/p/dog-kibble-5kg"},
        "SKU 12/3": {"category": "cats", "path": "/p/12%2F3"},
        'q"uo\\te\x01': {"category": "fish"},
        "caf\u00e9.1": {"category": "fish"},
    }
    assert max(len(line) for line in lines) < 140


def test_write_atomically_keeps_the_mode_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "catalog-feed.toml"
    write_atomically(target, "one\n")
    assert target.read_text() == "one\n" and stat.S_IMODE(target.stat().st_mode) == 0o644
    target.chmod(0o640)
    write_atomically(target, "two\n")
    assert target.read_text() == "two\n" and stat.S_IMODE(target.stat().st_mode) == 0o640
    assert os.listdir(tmp_path) == ["catalog-feed.toml"]


def test_write_atomically_keeps_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    target = tmp_path / "catalog-feed.toml"
    target.write_text("old\n")

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_atomically(target, "new\n")
    assert target.read_text() == "old\n" and os.listdir(tmp_path) == ["catalog-feed.toml"]


# --------------------------------------------------------------------------------------------
# etalage import-products


def rules_folder(tmp_path: Path, extra: str = "") -> Path:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "site.toml").write_text(SITE + extra)
    return rules


FEED = (
    "id\ttitle\tlink\tproduct_type\tgoogle_product_category\n"
    "dog-kibble-5kg\tKibble\thttps://shop.example/p/dog-kibble-5kg\tPets > Dog Supplies\t\n"
    "tank\tTank\thttps://shop.example/p/tank\t\t5\n"
    "saddle\tSaddle\thttps://shop.example/p/saddle\tHorses\t\n"
)


def test_cli_import_products_writes_a_catalogue_the_rules_load(tmp_path, capsys):
    rules = rules_folder(tmp_path, '[catalog_feed]\ncategories = { "Dog Supplies" = "dogs" }\n')
    feed = write(tmp_path, "products.txt", FEED)
    assert main(["import-products", str(feed), "--rules", str(rules), "--map", "5=fish"]) == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        f"{feed}:4: no category for product 'saddle' (product_type 'Horses'); left out (map it in [catalog_feed] categories, or with --map 'TEXT=CATEGORY')"
    ]
    assert (
        captured.err.splitlines()[-1]
        == f"etalage import-products: {feed}: 2 product(s) written to {rules / 'catalog-feed.toml'}; 1 problem(s) reported (1 unmapped)"
    )
    text = (rules / "catalog-feed.toml").read_text()
    assert text.startswith(f"# Generated by `etalage import-products` from {feed} on ")
    catalog = load_rules(rules).catalog
    assert catalog == {"dog-kibble-5kg": Product("dogs", None, "/p/dog-kibble-5kg"), "tank": Product("fish", None, "/p/tank")}
    assert sorted(f.name for f in rules.iterdir()) == ["catalog-feed.toml", "site.toml"]  # no temporary file left


def test_cli_import_products_exit_zero_and_product_pages_teach_interest(tmp_path, capsys):
    rules = rules_folder(tmp_path)
    feed = write(
        tmp_path,
        "products.xml",
        f"<rss {G}><channel><item><g:id>k1</g:id><link>https://shop.example/hond/brokken-5kg.html</link>"
        "<g:product_type>Pets &gt; Dogs</g:product_type></item></channel></rss>",
    )
    assert main(["import-products", str(feed), "--rules", str(rules)]) == 0
    ruleset = load_rules(rules)
    events = learn_from_request(ruleset, "/hond/brokken-5kg.html", "", 1.0)
    assert [(e.kind, e.value) for e in events] == [
        ("page_view", "/hond/brokken-5kg.html"),
        ("product_view", "k1"),
        ("category_view", "dogs"),
    ]


def test_cli_import_products_merges_with_a_hand_written_catalog_and_ignores_its_own_last_output(tmp_path, capsys):
    rules = rules_folder(tmp_path)
    (rules / "catalog.toml").write_text('[catalog]\ntank = { category = "fish", lasts_days = 30 }\n')
    feed = write(
        tmp_path,
        "products.txt",
        "id\tlink\tproduct_type\ntank\thttps://shop.example/p/tank\tDogs\nbone\thttps://shop.example/p/bone\tDogs\n",
    )
    assert main(["import-products", str(feed), "--rules", str(rules)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{feed}:2: product 'tank': the feed's category maps to 'dogs', but the rules' [catalog] puts it in 'fish'; kept 'fish'"
    ]
    assert load_rules(rules).catalog == {"tank": Product("fish", 30, "/p/tank"), "bone": Product("dogs", None, "/p/bone")}
    # The shop moves the bone to the cats: the last generated file is no "rule" to keep.
    feed.write_text("id\tlink\tproduct_type\nbone\thttps://shop.example/p/bone\tCats\n")
    assert main(["import-products", str(feed), "--rules", str(rules)]) == 0
    assert load_rules(rules).catalog["bone"] == Product("cats", None, "/p/bone")


def test_cli_import_products_to_another_file(tmp_path, capsys):
    rules = rules_folder(tmp_path)
    feed = write(tmp_path, "products.txt", "id\tproduct_type\na\tDogs\n")
    out = tmp_path / "elsewhere.toml"
    assert main(["import-products", str(feed), "--rules", str(rules), "--out", str(out)]) == 0
    assert tomllib.loads(out.read_text())["catalog"] == {"a": {"category": "dogs"}}
    assert not (rules / "catalog-feed.toml").exists()


def test_cli_import_products_writes_nothing_for_a_feed_it_cannot_read(tmp_path, capsys):
    rules = rules_folder(tmp_path)
    (rules / "catalog-feed.toml").write_text('[catalog]\nold = { category = "dogs" }\n')
    feed = write(tmp_path, "products.xml", "<rss><channel><item>")
    assert main(["import-products", str(feed), "--rules", str(rules)]) == 2
    captured = capsys.readouterr()
    assert captured.out == f"{feed}:1: not well-formed XML: no element found\n"
    assert captured.err == f"etalage import-products: {feed} is not a readable product feed; nothing written\n"
    assert "old" in (rules / "catalog-feed.toml").read_text()


def test_cli_import_products_writes_nothing_when_no_product_maps(tmp_path, capsys):
    rules = rules_folder(tmp_path)
    feed = write(tmp_path, "products.txt", "id\tproduct_type\na\tHorses\n")
    assert main(["import-products", str(feed), "--rules", str(rules)]) == 2
    assert (
        capsys.readouterr().err
        == f"etalage import-products: no product of {feed} could be imported; {rules / 'catalog-feed.toml'} left as it was\n"
    )
    assert not (rules / "catalog-feed.toml").exists()


def test_cli_import_products_does_not_write_a_page_the_rules_give_another_product(tmp_path, capsys):
    rules = rules_folder(tmp_path)
    (rules / "pages.toml").write_text('[catalog]\nb = { category = "dogs", path = "/p/b/" }\n')
    feed = write(tmp_path, "products.txt", "id\tlink\tproduct_type\na\thttps://s.example/p/b\tDogs\n")
    assert main(["import-products", str(feed), "--rules", str(rules)]) == 1
    assert (
        capsys.readouterr().out
        == f"{feed}:2: product 'a': link path '/p/b' is the page of product 'b' in the rules' [catalog]; no path written\n"
    )
    assert load_rules(rules).catalog["a"] == Product("dogs")


def test_cli_import_products_writes_nothing_the_rules_folder_would_refuse(tmp_path, capsys, monkeypatch):
    import etalage.tools.feeds

    rules = rules_folder(tmp_path)
    (rules / "catalog-feed.toml").write_text('[catalog]\nold = { category = "dogs" }\n')
    feed = write(tmp_path, "products.txt", "id\tproduct_type\na\tDogs\n")
    monkeypatch.setattr(etalage.tools.feeds, "render_catalog", lambda *args: '[catalog]\na = { category = "horses" }\n')
    assert main(["import-products", str(feed), "--rules", str(rules)]) == 2
    captured = capsys.readouterr()
    assert (
        captured.out == "rules/catalog-feed.toml:2: catalog.a: 'category': unknown category 'horses' (categories are: dogs, cats, fish)\n"
    )
    assert (
        captured.err
        == f"etalage import-products: the rules folder would not load with this catalogue; {rules / 'catalog-feed.toml'} left as it was\n"
    )
    assert "old" in (rules / "catalog-feed.toml").read_text()


def test_cli_import_products_refuses_a_mapping_to_an_unknown_category(tmp_path, capsys):
    rules = rules_folder(tmp_path)
    feed = write(tmp_path, "products.txt", "id\tproduct_type\na\tDogs\n")
    assert main(["import-products", str(feed), "--rules", str(rules), "--map", "Dogs=horses"]) == 2
    assert "unknown category 'horses' (categories are: dogs, cats, fish)" in capsys.readouterr().err
    assert main(["import-products", str(feed), "--rules", str(rules), "--map", "Dogs"]) == 2
    assert "write it as TEXT=CATEGORY" in capsys.readouterr().err


def test_cli_import_products_refuses_a_broken_rules_folder(tmp_path, capsys):
    rules = rules_folder(tmp_path, '[catalog_feed]\ncategories = { Dogs = "horses" }\n')
    feed = write(tmp_path, "products.txt", "id\tproduct_type\na\tDogs\n")
    assert main(["import-products", str(feed), "--rules", str(rules)]) == 2
    err = capsys.readouterr().err
    assert "rules/site.toml:4: catalog_feed.categories: 'Dogs': unknown category 'horses'" in err


def test_cli_import_products_of_the_demo_shop_feed(tmp_path, capsys):
    """The demo's products as a feed: every product maps by its label, paths match the shop's."""
    from etalage.demo.catalog import PRODUCTS

    rules = tmp_path / "rules"
    shutil.copytree(PROJECT_RULES, rules)
    rows = ["id\ttitle\tlink\tproduct_type"] + [
        f"{p.id}\t{p.name}\thttps://pootjes.example/p/{p.id}\tPets > {p.category.title()} > Food" for p in PRODUCTS
    ]
    feed = write(tmp_path, "products.txt", "\n".join(rows) + "\n")
    assert main(["import-products", str(feed), "--rules", str(rules)]) == 0
    ruleset = load_rules(rules)
    for p in PRODUCTS:
        assert ruleset.catalog[p.id].category == p.category
        assert ruleset.catalog[p.id].path == f"/p/{p.id}"
    kibble = ruleset.catalog["dog-kibble-5kg"]
    assert kibble.lasts_days == 30  # from the hand-written rules/catalog.toml
    # The demo's learn rule already reads product pages: a view counts once.
    events = learn_from_request(ruleset, "/p/dog-kibble-5kg", "", 1.0)
    assert [(e.kind, e.value) for e in events] == [
        ("page_view", "/p/dog-kibble-5kg"),
        ("product_view", "dog-kibble-5kg"),
        ("category_view", "dogs"),
    ]
