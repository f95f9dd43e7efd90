"""The journey from the issue, through Etalage in front of the bundled demo shop with the project's rules."""

from __future__ import annotations

import httpx
import pytest
from selectolax.lexbor import LexborHTMLParser

from etalage.demo.catalog import PRODUCTS_BY_ID
from tests.support.config import PROJECT_RULES, REPO

SHOP_STATIC = REPO / "src" / "etalage" / "demo" / "static"

PAGES = ["/", "/c/dogs", "/c/rodents", "/p/" + next(iter(PRODUCTS_BY_ID)), "/newsletter", "/login", "/consent", "/static/shop.css", "/nope"]


def card_ids(html: bytes, selector: str = "#popular li") -> list[str]:
    return [card.attributes["data-product-id"] for card in LexborHTMLParser(html).css(selector)]


@pytest.fixture(scope="module")
def journey(shop_etalage: str) -> bytes:
    """The home page a visitor who consented and looked at rodents three times gets (the tests only read it)."""
    with httpx.Client(base_url=shop_etalage) as client:
        # Click "Accept" in the shop's own consent banner, through Etalage.
        assert client.post("/consent", data={"choice": "accept"}).status_code == 303
        for _ in range(3):
            assert client.get("/c/rodents").status_code == 200
        return client.get("/").content


def test_demo_hero_banner_is_about_rodents(journey):
    hero = LexborHTMLParser(journey).css_first("#hero")
    assert hero.attributes["data-etalage-rule"] == "hero-by-interest" and "Rodents" in hero.text()


def test_demo_hero_banner_calls_to_action_with_the_shops_button(journey):
    links = LexborHTMLParser(journey).css("#hero a")
    call = next(link for link in links if not link.attributes["href"].startswith("/.etalage/"))
    assert set((call.attributes.get("class") or "").split()) >= {"btn", "btn-primary"}


def classes(html: str) -> set[str]:
    return {name for node in LexborHTMLParser(html).css("[class]") for name in node.attributes["class"].split()}


@pytest.mark.parametrize("template", sorted((PROJECT_RULES / "templates").glob("hero-*.html")), ids=lambda path: path.stem)
def test_demo_hero_templates_use_only_the_shops_own_classes(template, shop):
    # A class neither the shop's stylesheet nor its own hero knows renders as nothing: a call to action as a plain link.
    css, home = (SHOP_STATIC / "shop.css").read_text(), classes(httpx.get(f"{shop}/").text)
    unknown = {name for name in classes(template.read_text()) if f".{name}" not in css and name not in home}
    assert {name for name in unknown if not name.startswith("etalage-")} == set()


def is_rodent(product_id: str) -> bool:
    return PRODUCTS_BY_ID[product_id].category == "rodents"


def test_demo_popular_grid_puts_rodents_first_and_keeps_every_product(journey, shop):
    origin_ids = card_ids(httpx.get(f"{shop}/").content)
    ids = card_ids(journey)
    rodents = sum(map(is_rodent, origin_ids))
    # Without rodent cards, or with the shop listing them first already, any order would pass.
    assert rodents > 0, "no rodent card in the shop's popular grid"
    assert not all(map(is_rodent, origin_ids[:rodents])), "the shop lists rodents first already"
    assert sorted(ids) == sorted(origin_ids)
    assert [is_rodent(i) for i in ids] == [True] * rodents + [False] * (len(ids) - rodents)


def test_demo_popular_grid_is_labelled_right_above_it(journey):
    label = LexborHTMLParser(journey).css_first("#popular").prev
    assert "etalage-label" in label.attributes["class"] and label.text() == "Sorted by your interests · why?"


def test_demo_rodent_newsletter_popin_appears(journey):
    popin = LexborHTMLParser(journey).css_first(".etalage-popin")
    assert popin.attributes["data-etalage-category"] == "rodents" and "Rodents newsletter" in popin.text()


@pytest.mark.parametrize("path", PAGES)
def test_demo_pages_are_byte_identical_without_consent(shop_etalage, shop, path):
    with httpx.Client(base_url=shop_etalage) as client:
        client.post("/consent", data={"choice": "reject"})
        for _ in range(3):
            client.get("/c/rodents")
        through = client.get(path)
        direct = httpx.get(f"{shop}{path}", cookies=client.cookies)
    assert (through.status_code, through.content) == (direct.status_code, direct.content)


def test_demo_pages_are_byte_identical_before_any_choice(shop_etalage, shop):
    assert httpx.get(f"{shop_etalage}/").content == httpx.get(f"{shop}/").content
