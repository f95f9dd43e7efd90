"""Real shops' markup, end to end: product cards that carry nothing but a link to the product page.

The shop's product feed becomes the catalogue (`etalage import-products`); a card's product comes
from a pattern on its link, or from the catalogue page its link points to; product page views
teach interest in the product's category through the catalogue, without any [[learn]] rule.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from selectolax.lexbor import LexborHTMLParser

from etalage.app import create_app
from etalage.cli import main
from etalage.engine.learn import learn_from_request
from etalage.rules.loader import load_rules
from etalage.types import Receive, Scope, Send
from tests.support.config import ACCEPT_ONETRUST, RULESETS, settings_for
from tests.support.origin import lifespan
from tests.support.reload import wait_until
from tests.support.servers import running

SITE = """\
[site]
categories = { dogs = "Dogs", cats = "Cats", fish = "Fish" }

[consent]
sources = ["onetrust"]

[consent.onetrust]
groups = ["C0004"]

[catalog_feed]
categories = { "Dog Supplies" = "dogs", "Cat Supplies" = "cats", "Fish Supplies" = "fish" }

[[rule]]
id = "grid-by-interest"
action = "sort"
block = "grid"
pages = ['^/$']
"""

# Cards as shop systems print them: no data attributes, an image link and a title link to the
# product page, a brand link first in some.
CARD = (
    '  <li class="product">\n'
    '    <a href="/brands/{brand}">{brand}</a>\n'
    '    <a class="image" href="{href}"><img src="/img/{n}.jpg" alt=""></a>\n'
    '    <h3><a href="{href}?ref=home">{name}</a></h3> <span class="price">&euro; {n}9,95</span>\n'
    "  </li>\n"
)
PRODUCTS = [  # id, name, category text in the feed, SEO page
    ("D-100", "Dog kibble", "Animals & Pet Supplies > Pet Supplies > Dog Supplies", "/honden/brokken-5kg.html"),
    ("F-200", "Aquarium 60 l", "Animals & Pet Supplies > Pet Supplies > Fish Supplies", "/vissen/aquarium-60.html"),
    ("C-300", "Cat tree", "Animals & Pet Supplies > Pet Supplies > Cat Supplies", "/katten/krabpaal.html"),
    ("D-400", "Dog leash", "Animals & Pet Supplies > Pet Supplies > Dog Supplies", "/honden/riem.html"),
    ("C-500", "Cat litter", "Animals & Pet Supplies > Pet Supplies > Cat Supplies", "/katten/kattenbak.html"),
]
PRODUCT_PAGE = b"<!DOCTYPE html><html><head><title>Product</title></head><body><h1>A product</h1></body></html>\n"


def home(href: str) -> bytes:
    cards = "".join(
        CARD.format(brand=f"brand{n}", href=href.format(id=pid, page=page), n=n, name=name)
        for n, (pid, name, _, page) in enumerate(PRODUCTS)
    )
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Pootjes</title></head>\n<body>\n'
        f'<ul class="products">\n{cards}</ul>\n<footer><a href="/p/D-100/">Deal of the day</a></footer>\n</body>\n</html>\n'
    ).encode()


def shop(front_page: bytes):
    """A tiny origin: the front page with the cards, anything else a product page."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if await lifespan(scope, receive, send):
            return
        body = front_page if scope["path"] == "/" else PRODUCT_PAGE
        headers = [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def rules_folder(tmp_path: Path, block: str) -> Path:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "site.toml").write_text(SITE + block)
    return rules


def import_feed(tmp_path: Path, rules: Path, link: str) -> None:
    """The shop's Merchant Center feed, imported into the rules folder."""
    rows = ["id\ttitle\tlink\tgoogle_product_category"]
    rows += [
        f"{pid}\t{name}\thttps://pootjes.example{link.format(id=pid, page=page)}\t{category}" for pid, name, category, page in PRODUCTS
    ]
    feed = tmp_path / "products.txt"
    feed.write_text("\n".join(rows) + "\n")
    assert main(["import-products", str(feed), "--rules", str(rules)]) == 0


def card_names(client: httpx.Client) -> list[str]:
    response = client.get("/")
    assert response.status_code == 200
    tree = LexborHTMLParser(response.content)
    return [node.text() for node in tree.css("ul.products > li.product h3")]


@pytest.fixture
def client_for() -> Iterator:
    clients = []

    def make(url: str) -> httpx.Client:
        client = httpx.Client(base_url=url, cookies={"OptanonConsent": ACCEPT_ONETRUST})
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def test_cards_sorted_by_a_pattern_on_their_links_and_the_imported_catalogue(tmp_path, client_for, capsys):
    block = '\n[blocks.grid]\nselector = "ul.products"\nitems = "li.product"\nitem_id_from_link = \'/p/(?P<id>[^/]+)/\'\n'
    rules = rules_folder(tmp_path, block)
    import_feed(tmp_path, rules, "/p/{id}/")
    with running(shop(home("/p/{id}/"))) as origin, running(create_app(settings_for(origin, rules))) as url:
        client = client_for(url)
        assert card_names(client) == ["Dog kibble", "Aquarium 60 l", "Cat tree", "Dog leash", "Cat litter"]
        # Two cat product pages: learned from the catalogue's paths, no [[learn]] rule needed.
        for path in ("/p/C-500/", "/p/C-300/?utm_source=mail", "/p/F-200"):
            assert client.get(path).status_code == 200
        assert card_names(client) == ["Cat tree", "Cat litter", "Aquarium 60 l", "Dog kibble", "Dog leash"]
        assert 'class="products" data-etalage-rule="grid-by-interest"' in client.get("/").text


def test_cards_linking_to_seo_pages_found_through_the_catalogue_paths(tmp_path, client_for, capsys):
    block = '\n[blocks.grid]\nselector = "ul.products"\nitems = "li.product"\nitem_id_from_link = true\n'
    rules = rules_folder(tmp_path, block)
    import_feed(tmp_path, rules, "{page}")
    with running(shop(home("https://pootjes.example{page}"))) as origin, running(create_app(settings_for(origin, rules))) as url:
        client = client_for(url)
        assert client.get("/vissen/aquarium-60.html").status_code == 200
        assert card_names(client) == ["Aquarium 60 l", "Dog kibble", "Cat tree", "Dog leash", "Cat litter"]


def test_an_imported_catalogue_takes_effect_without_a_restart(tmp_path, client_for, capsys):
    # The folder loads before the first import (cards of unknown products keep the shop's order)...
    block = '\n[blocks.grid]\nselector = "ul.products"\nitems = "li.product"\nitem_id_from_link = \'/p/(?P<id>[^/]+)/\'\n'
    rules = rules_folder(tmp_path, block)
    with running(shop(home("/p/{id}/"))) as origin:
        app = create_app(settings_for(origin, rules))
        with running(app) as url:
            client = client_for(url)
            client.get("/p/C-300/")
            assert card_names(client) == ["Dog kibble", "Aquarium 60 l", "Cat tree", "Dog leash", "Cat litter"]
            # ...and the hot reload picks the catalogue up once it is imported.
            book = app.rules
            old = book.current.version
            import_feed(tmp_path, rules, "/p/{id}/")
            assert wait_until(book, lambda: book.current.version != old and "C-300" in book.current.catalog)
            client.get("/p/C-300/")
            assert card_names(client)[:2] == ["Cat tree", "Cat litter"]


def test_a_catalogue_product_page_teaches_its_category():
    ruleset = load_rules(RULESETS / "good" / "markup")
    events = learn_from_request(ruleset, "/katten/krabpaal-12-3.html/", "", 5.0)
    assert [(e.kind, e.value) for e in events] == [
        ("page_view", "/katten/krabpaal-12-3.html/"),
        ("product_view", "SKU 12/3"),
        ("category_view", "cats"),
    ]
    assert [e.kind for e in learn_from_request(ruleset, "/katten/", "", 5.0)] == ["page_view"]
