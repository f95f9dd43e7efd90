"""etalage.tools.products.read: product feeds as delimited text or RSS/Atom XML, read as a stream."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pytest

from etalage.problems import Problem
from etalage.tools.products.read import Feed, FeedError, FeedProduct

G = 'xmlns:g="http://base.google.com/ns/1.0"'


def read(path: Path, encoding: str | None = None) -> list[FeedProduct | Problem]:
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
        FeedProduct(
            2, "dog-kibble-5kg", "https://shop.example/p/dog-kibble-5kg", "Adult Dog Kibble 5 kg", ("Dogs > Food",), ("3530",), "24.95 EUR"
        ),
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


def test_feed_pipe_separated_text_is_read(tmp_path):
    path = write(tmp_path, "feed.txt", "id|link|product_type\na|https://s.example/p/a|Dogs\n")
    assert [p.id for p in read(path)] == ["a"]


def test_feed_bad_rows_are_reported_with_their_line(tmp_path):
    path = write(
        tmp_path, "feed.tsv", "id\tlink\tproduct_type\n\thttps://s.example/p/x\tDogs\nb\tonly two\nc\thttps://s.example/p/c\tCats\n"
    )
    assert read(path) == [
        Problem(str(path), 2, "no id"),
        Problem(str(path), 3, "2 fields, the header has 3 (a value with an unquoted tab or line break?)"),
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


def test_feed_utf16_is_known_by_its_byte_order_mark(tmp_path):
    path = write(tmp_path, "feed.txt", "id\tproduct_type\nk\u00e9\tDogs\n".encode("utf-16"))
    assert [p.id for p in read(path)] == ["k\u00e9"]


def test_feed_gzip_compressed_is_read_and_named_so(tmp_path):
    path = write(tmp_path, "feed.txt.gz", gzip.compress(b"id\tproduct_type\na\tDogs\n"))
    feed = Feed(path)
    assert [p.id for p in feed] == ["a"]
    assert feed.format == "tab-separated text, gzip-compressed"


def test_feed_empty_file_is_refused(tmp_path):
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


def test_feed_rss_reads_the_direct_children_of_each_item(tmp_path):
    path = write(tmp_path, "feed.xml", RSS)
    feed = Feed(path)
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
        Problem(str(path), 21, "no <g:id>"),
    ]
    assert feed.format == "RSS 2.0 XML"


def test_feed_reads_price_image_and_availability_in_text_and_xml(tmp_path):
    text = write(
        tmp_path,
        "feed.txt",
        "id\tprice\timage_link\tavailability\nhay\t6.50 EUR\thttps://cdn.example/hay.jpg\tout_of_stock\n",
    )
    xml = write(
        tmp_path,
        "feed.xml",
        f"<rss {G}><channel><item><g:id>hay</g:id><g:price>6.50 EUR</g:price>"
        "<g:image_link>https://cdn.example/hay.jpg</g:image_link><g:availability>out_of_stock</g:availability>"
        "</item></channel></rss>",
    )
    for path in (text, xml):
        [product] = list(Feed(path))
        assert isinstance(product, FeedProduct)
        assert (product.price, product.image, product.availability) == ("6.50 EUR", "https://cdn.example/hay.jpg", "out_of_stock")


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
    path = write(tmp_path, "feed.xml", data)
    assert read(path) == [Problem(str(path), 1, "no <g:id> (the g: prefix must stand for http://base.google.com/ns/1.0)")]


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


class CountingFile(io.BytesIO):
    """A file that counts the bytes read from it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.bytes_read += len(data)
        return data


def test_feed_xml_is_read_as_a_stream():
    items = "".join(f"<item><g:id>p{n}</g:id><g:product_type>Dogs</g:product_type></item>\n" for n in range(30000))
    data = f"<rss {G}><channel>\n{items}</channel></rss>".encode()
    assert len(data) > 1 << 20  # more than one chunk
    file = CountingFile(data)
    products = Feed(Path("feed.xml")).read(file)  # the path only names the feed
    assert next(products) == FeedProduct(2, "p0", product_types=("Dogs",))
    assert file.bytes_read < len(data)  # the first product comes before the whole file is read
    assert sum(1 for _ in products) == 29999
