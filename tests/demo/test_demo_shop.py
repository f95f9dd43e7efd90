"""The bundled demo pet shop (etalage.demo.shop): pages, cards, consent banner, cookies and caching."""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter
from datetime import UTC, datetime

import httpx
import pytest
from selectolax.lexbor import LexborHTMLParser

from etalage.demo.catalog import CATEGORIES, PRODUCTS, PRODUCTS_BY_ID, products_in
from etalage.demo.shop import create_shop_app, customer_id_for

FIXED_NOW = datetime(2024, 11, 12, 9, 15, 30, 123456, tzinfo=UTC)
BASE_URL = "http://shop.test"
ACCEPTED = (
    "OptanonConsent=isGpcEnabled=0&datestamp=Tue+Nov+12+2024+09%3A15%3A30+GMT%2B0000+"
    "(Coordinated+Universal+Time)&version=202411.1.0&interactionCount=1"
    "&groups=C0001%3A1%2CC0004%3A1&AwaitingReconsent=false"
)
REJECTED = ACCEPTED.replace("C0004%3A1", "C0004%3A0")
COOKIE_ATTRIBUTES = "; Path=/; Max-Age=15552000; SameSite=Lax"
THANK_YOU = "/checkout/thank-you?order=PC-100001&product=dog-kibble-5kg&total=24.95"


@pytest.fixture
def app():
    return create_shop_app(clock=lambda: FIXED_NOW)


def call(app, method: str, url: str, *, headers=None, data=None) -> httpx.Response:
    """One request through httpx's ASGI transport; redirects are not followed."""

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            return await client.request(method, url, headers=headers, data=data)

    return asyncio.run(send())


def get(app, url: str, **kwargs) -> httpx.Response:
    return call(app, "GET", url, **kwargs)


def post(app, url: str, data: dict[str, str], **kwargs) -> httpx.Response:
    return call(app, "POST", url, data=data, **kwargs)


def html(response: httpx.Response) -> LexborHTMLParser:
    return LexborHTMLParser(response.text)


def grid_cards(response: httpx.Response, grid_id: str):
    """The <li> children of the product grid ul#grid_id (asserting they are all direct children)."""
    grid = html(response).css_first(f"ul#{grid_id}.product-grid")
    assert grid is not None, f"no ul#{grid_id}.product-grid"
    children = list(grid.iter())
    assert all(child.tag == "li" for child in children)
    return children


# --- home -----------------------------------------------------------------------------------------


def test_home_has_hero_section(app):
    hero = html(get(app, "/")).css_first("section#hero.hero")
    assert hero is not None
    assert "Welcome" in hero.text()


def test_home_popular_has_ten_cards_two_per_category(app):
    cards = grid_cards(get(app, "/"), "popular")
    assert len(cards) == 10
    assert Counter(card.attributes["data-category"] for card in cards) == {c.slug: 2 for c in CATEGORIES}


def test_home_popular_mixes_categories(app):
    categories = [card.attributes["data-category"] for card in grid_cards(get(app, "/"), "popular")]
    assert all(a != b for a, b in zip(categories, categories[1:]))


# --- category and product pages ------------------------------------------------------------------


@pytest.mark.parametrize("slug", [c.slug for c in CATEGORIES])
def test_category_page_lists_only_its_products(app, slug):
    cards = grid_cards(get(app, f"/c/{slug}"), "category-products")
    assert [card.attributes["data-product-id"] for card in cards] == [p.id for p in products_in(slug)]
    assert {card.attributes["data-category"] for card in cards} == {slug}


def test_category_unknown_is_html_404(app):
    response = get(app, "/c/reptiles")
    assert response.status_code == 404
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.text.startswith("<!DOCTYPE html>")


def test_product_page_has_buy_now_form(app):
    page = html(get(app, "/p/dog-kibble-5kg"))
    form = page.css_first('form[action="/checkout"][method="post"]')
    assert form.css_first('input[type="hidden"][name="product"]').attributes["value"] == "dog-kibble-5kg"
    assert "Buy now" in form.text()


def test_product_page_shows_euro_price(app):
    assert '<p class="price">&euro;&nbsp;24,95</p>' in get(app, "/p/dog-kibble-5kg").text


def test_product_unknown_is_404(app):
    assert get(app, "/p/dog-unicorn-food").status_code == 404


def test_catalogue_has_eight_products_per_category():
    assert Counter(p.category for p in PRODUCTS) == {c.slug: 8 for c in CATEGORIES}
    assert len(PRODUCTS_BY_ID) == 40


# --- cards and page structure ----------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/", "/c/fish", "/p/cat-fountain-2l", THANK_YOU])
def test_cards_have_product_id_category_and_link(app, url):
    cards = html(get(app, url)).css("li.card")
    assert cards
    for card in cards:
        product = PRODUCTS_BY_ID[card.attributes["data-product-id"]]
        assert card.attributes["class"] == "card"
        assert card.attributes["data-category"] == product.category
        assert card.parent.tag == "ul" and "product-grid" in card.parent.attributes["class"]
        assert card.css_first(f'a[href="/p/{product.id}"]') is not None


@pytest.mark.parametrize("url", ["/", "/c/dogs", "/p/bird-cuttlebone-2", "/login", "/newsletter", "/consent", THANK_YOU, "/nowhere"])
def test_pages_are_full_html5_documents(app, url):
    response = get(app, url)
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.text.startswith("<!DOCTYPE html>\n")
    assert '<meta charset="utf-8">' in response.text
    assert html(response).css_first("head > title").text()


def test_pages_keep_realistic_markup(app):
    text = get(app, "/c/cats").text
    head = text[: text.index("</head>")]
    noscript = '<noscript><img src="/static/pixel.gif" alt=""></noscript>'
    assert noscript in head
    assert head.index(noscript) < head.index('<link rel="canonical" href="https://www.pootjes.example/c/cats">')
    assert "<!--" in text and "&amp;" in text and "&euro;" in text
    assert "<div class='usp-bar'>" in text
    assert "<script>\n" in text[text.index("<body") :]


def test_pages_are_deterministic(app):
    assert get(app, "/p/fish-heater-100w").content == get(app, "/p/fish-heater-100w").content


# --- consent banner -----------------------------------------------------------------------------


def test_consent_accept_sets_onetrust_cookies(app):
    response = post(app, "/consent", {"choice": "accept"})
    assert response.status_code == 303
    assert response.headers.get_list("set-cookie") == [
        ACCEPTED + COOKIE_ATTRIBUTES,
        "OptanonAlertBoxClosed=2024-11-12T09:15:30.123Z" + COOKIE_ATTRIBUTES,
    ]


def test_consent_reject_sets_targeting_group_off(app):
    response = post(app, "/consent", {"choice": "reject"})
    assert response.headers.get_list("set-cookie")[0] == REJECTED + COOKIE_ATTRIBUTES


def test_consent_redirects_to_same_site_referer(app):
    response = post(app, "/consent", {"choice": "accept"}, headers={"Referer": f"{BASE_URL}/c/birds?page=2"})
    assert response.headers["location"] == "/c/birds?page=2"


def test_consent_redirects_home_for_foreign_referer(app):
    response = post(app, "/consent", {"choice": "reject"}, headers={"Referer": "https://evil.example/c/birds"})
    assert response.headers["location"] == "/"


def test_consent_unknown_choice_is_400(app):
    response = post(app, "/consent", {"choice": "maybe"})
    assert response.status_code == 400
    assert "set-cookie" not in response.headers


def test_banner_shown_without_consent_cookie(app):
    page = html(get(app, "/"))
    banner = page.css_first("#consent-banner")
    assert banner is not None
    buttons = [form.css_first("button") for form in banner.css('form[action="/consent"][method="post"]')]
    assert [b.text() for b in buttons] == ["Reject", "Accept"]
    assert buttons[0].attributes["class"] == buttons[1].attributes["class"]


@pytest.mark.parametrize("cookie", [ACCEPTED, REJECTED])
def test_banner_hidden_with_consent_cookie(app, cookie):
    response = get(app, "/", headers={"Cookie": cookie})
    assert html(response).css_first("#consent-banner") is None


def test_banner_footer_links_to_cookie_settings(app):
    link = html(get(app, "/", headers={"Cookie": ACCEPTED})).css_first('footer a[href="/consent"]')
    assert link.text() == "Cookie settings"


def test_consent_settings_page_offers_both_choices(app):
    page = html(get(app, "/consent", headers={"Cookie": ACCEPTED}))
    choices = [i.attributes["value"] for i in page.css('main form[action="/consent"] input[name="choice"]')]
    assert choices == ["reject", "accept"]


# --- login --------------------------------------------------------------------------------------


def test_login_sets_customer_cookie_and_header(app):
    response = post(app, "/login", {"email": "Anna@Example.nl"})
    customer = customer_id_for("anna@example.nl")
    assert response.status_code == 303 and response.headers["location"] == "/"
    assert response.headers["x-shop-customer"] == customer
    assert response.headers["set-cookie"].startswith(f"shop_customer={customer};")


def test_login_customer_id_is_hash_of_normalised_email():
    expected = "cust-" + hashlib.sha256(b"anna@example.nl").hexdigest()[:12]
    assert customer_id_for(" Anna@Example.nl ") == expected


def test_login_invalid_email_is_400(app):
    response = post(app, "/login", {"email": "not-an-address"})
    assert response.status_code == 400
    assert "set-cookie" not in response.headers


def test_logout_clears_customer_cookie(app):
    response = get(app, "/logout", headers={"Cookie": "shop_customer=cust-0123456789ab"})
    assert response.status_code == 303
    assert response.headers["set-cookie"].startswith('shop_customer=""; ')
    assert "Max-Age=0" in response.headers["set-cookie"]


def test_login_state_shown_in_header(app):
    response = get(app, "/", headers={"Cookie": "shop_customer=cust-0123456789ab"})
    assert html(response).css_first('.account a[href="/logout"]') is not None


# --- newsletter and checkout ----------------------------------------------------------------------


def test_newsletter_post_redirects_to_thank_you(app):
    response = post(app, "/newsletter", {"category": "rodents"})
    assert response.status_code == 303
    assert response.headers["location"] == "/newsletter?subscribed=rodents"


def test_newsletter_thank_you_names_category(app):
    thanks = html(get(app, "/newsletter?subscribed=rodents")).css_first("#newsletter-thanks")
    assert "Rodents" in thanks.text()


def test_newsletter_unknown_category_is_400(app):
    assert post(app, "/newsletter", {"category": "reptiles"}).status_code == 400


def test_checkout_redirects_to_thank_you_with_order(app):
    response = post(app, "/checkout", {"product": "dog-kibble-5kg"})
    assert response.status_code == 303
    assert response.headers["location"] == THANK_YOU


def test_checkout_thank_you_sets_order_header(app):
    response = get(app, THANK_YOU)
    assert response.status_code == 200
    assert response.headers["x-shop-order"] == "PC-100001"
    assert "PC-100001" in html(response).css_first("#order-confirmation").text()


def test_checkout_unknown_product_is_400(app):
    assert post(app, "/checkout", {"product": "dog-unicorn-food"}).status_code == 400


# --- caching and compression ----------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/", "/c/dogs", "/p/dog-kibble-5kg"])
def test_caching_catalogue_pages_are_public_for_a_minute(app, url):
    response = get(app, url)
    assert response.headers["cache-control"] == "public, max-age=60"
    assert "Cookie" in response.headers["vary"]


def test_etag_if_none_match_returns_304(app):
    etag = get(app, "/c/dogs").headers["etag"]
    response = get(app, "/c/dogs", headers={"If-None-Match": etag})
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == etag


def test_etag_stale_if_none_match_returns_200(app):
    response = get(app, "/c/dogs", headers={"If-None-Match": 'W/"stale"'})
    assert response.status_code == 200


def test_etag_differs_once_consent_is_given(app):
    assert get(app, "/").headers["etag"] != get(app, "/", headers={"Cookie": ACCEPTED}).headers["etag"]


def test_gzip_used_when_accepted(app):
    identity = get(app, "/", headers={"Accept-Encoding": "identity"})
    compressed = get(app, "/", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in identity.headers
    assert compressed.headers["content-encoding"] == "gzip"
    assert int(compressed.headers["content-length"]) < len(identity.content)
    assert compressed.content == identity.content  # httpx decoded it


def test_static_assets_are_served(app):
    assert get(app, "/static/shop.css").headers["content-type"].startswith("text/css")
    pixel = get(app, "/static/pixel.gif")
    assert pixel.headers["content-type"] == "image/gif" and pixel.content.startswith(b"GIF89a")
