"""The recommend action: catalogue products that are not on the page, per source, with their exclusions.

Rule-file validation is in tests/rulesets/bad/recommend* (exact messages) and good/recommend.
"""

from __future__ import annotations

import time

import httpx
import pytest

from etalage.engine.personalize import Personalizer
from etalage.html.page import BlockSpec, analyse, splice
from etalage.html.templates import compile_template
from etalage.metrics import Metrics
from etalage.profiles.profile import Event, Profile, Purchase
from etalage.rules.actions import ACTIONS
from etalage.rules.actions.base import PageContext
from etalage.rules.actions.recommend import PROVIDES, Recommend
from etalage.rules.conditions import Visit
from etalage.rules.loader import load_rules
from etalage.rules.model import BlockDef, CardValue, Product, Site
from etalage.tools.explain import explain
from tests.support.config import RULESETS

NOW = 1_700_000_000.0
DAY = 24 * 3600.0
SITE = Site(("dogs", "cats", "rodents"), {"dogs": "Dogs", "cats": "Cats", "rodents": "Rodents"})
GRID = BlockSpec("grid", "#grid", "li", ("data-id", "data-category"))
GRID_DEF = BlockDef(GRID, CardValue("data-id"), CardValue("data-category"), "site.toml:1")
CARD = '<li class="rec"><a href="{{ url }}">{{ title }}</a> {{ price }}</li>'
CATALOG = {
    "kibble": Product("dogs", 30, "/p/kibble", "Kibble", "24.90"),
    "bone": Product("dogs", None, "/p/bone", "Bone", "3.50"),
    "mouse": Product("cats", None, "/p/mouse", "Toy mouse", "2.00"),
    "litter": Product("cats", 10, "/p/litter", "Litter", "8.00"),
    "hay": Product("rodents", 20, "/p/hay", "Hay", "6.50"),
    "wheel": Product("rodents", None, "/p/wheel", "Wheel", "15.00"),
    "tube": Product("rodents", None, "/p/tube", "Tube", "4.00"),
    "hidden": Product("rodents", None, None, "No page"),
}
SHOP_GRID = b'<ul id="grid"><li data-id="bone" data-category="dogs">Bone</li><li data-id="mouse" data-category="cats">Mouse</li></ul>'


def page(body: bytes) -> bytes:
    return b"<!DOCTYPE html><html><head><title>Shop</title></head><body>" + body + b"</body></html>"


def recommend(source: str, count: int = 4, catalog: dict[str, Product] = CATALOG, position: str = "append") -> Recommend:
    return Recommend(source, position, compile_template("card.html", CARD, PROVIDES), catalog, GRID_DEF, count)


def run(action: Recommend, profile: Profile, body: bytes = SHOP_GRID, path: str = "/c/all") -> bytes:
    html = page(body)
    layout = analyse(html, [GRID])
    context = PageContext(layout, profile, SITE, "utf-8", path, NOW)
    return splice(html, action.apply("r", layout.blocks["grid"], context))


def added(action: Recommend, profile: Profile, body: bytes = SHOP_GRID, path: str = "/c/all") -> list[str]:
    """The titles of the cards the action added, in order."""
    out = run(action, profile, body, path).decode()
    return [piece.split("</a>")[0] for piece in out.split('<li class="rec"><a href="')[1:]]


def likes(category: str, **extra: object) -> Profile:
    return Profile(category_views={category: 3}, category_seen={category: NOW}, **extra)  # type: ignore[arg-type]


def bought(sku: str, days_ago: float, category: str = "") -> Purchase:
    return Purchase(f"o-{sku}", sku, category, NOW - days_ago * DAY)


def test_recommend_is_registered():
    assert ACTIONS["recommend"] is Recommend


def test_recommend_top_category_adds_cards_of_the_strongest_category_in_catalogue_order():
    out = run(recommend("top_category"), likes("rodents"))
    cards = (
        b'<li class="rec"><a href="/p/hay">Hay</a> 6.50</li><li class="rec"><a href="/p/wheel">Wheel</a> 15.00</li>'
        b'<li class="rec"><a href="/p/tube">Tube</a> 4.00</li>'
    )
    assert out == page(SHOP_GRID.replace(b'<ul id="grid">', b'<ul id="grid" data-etalage-rule="r">').replace(b"</ul>", cards + b"</ul>"))


def test_recommend_count_caps_the_cards():
    assert added(recommend("top_category", count=2), likes("rodents")) == ['/p/hay">Hay', '/p/wheel">Wheel']


def test_recommend_recently_viewed_latest_first():
    profile = Profile(recent_products=["tube", "kibble", "hay"])
    assert added(recommend("recently_viewed"), profile) == ['/p/tube">Tube', '/p/kibble">Kibble', '/p/hay">Hay']


def test_recommend_replenishment_soonest_first_and_bought_products_included():
    # hay lasts 20 days, bought 17 days ago: out in 3; litter lasts 10, bought 8 days ago: out in 2;
    # kibble lasts 30, bought 5 days ago: not due for 25 days.
    profile = Profile(purchases=[bought("kibble", 5), bought("hay", 17), bought("litter", 8)])
    assert added(recommend("replenishment"), profile) == ['/p/litter">Litter', '/p/hay">Hay']


def test_recommend_bought_together_follows_the_latest_purchase_first_and_leaves_out_bought_products():
    catalog = {
        **CATALOG,
        "kibble": Product("dogs", 30, "/p/kibble", "Kibble", bought_with=("bone", "wheel", "hay")),
        "litter": Product("cats", 10, "/p/litter", "Litter", bought_with=("tube", "kibble")),
    }
    profile = Profile(purchases=[bought("kibble", 9), bought("litter", 2), bought("hay", 1)])
    # litter (bought later) first: tube, then kibble (bought); then kibble's: bone is on the page, hay bought.
    assert added(recommend("bought_together", catalog=catalog), profile) == ['/p/tube">Tube', '/p/wheel">Wheel']


def test_recommend_leaves_out_the_cards_already_on_the_page():
    assert added(recommend("top_category"), likes("dogs")) == ['/p/kibble">Kibble']  # the bone is a card of the grid


def test_recommend_leaves_out_the_cards_of_another_block_on_the_page():
    # A carousel another rule sorts showed the very products recommended beside it.
    carousel_spec = BlockSpec("carousel", "#carousel", "li", ("data-id",))
    carousel = BlockDef(carousel_spec, CardValue("data-id"), None, "site.toml:9")
    action = Recommend(
        "top_category", "append", compile_template("card.html", CARD, PROVIDES), CATALOG, GRID_DEF, blocks={"carousel": carousel}
    )
    html = page(SHOP_GRID + b'<ul id="carousel"><li data-id="kibble">Kibble</li></ul>')
    layout = analyse(html, [GRID, carousel_spec])
    out = splice(html, action.apply("r", layout.blocks["grid"], PageContext(layout, likes("dogs"), SITE, "utf-8", "/c/all", NOW)))
    assert b'<li class="rec">' not in out  # the bone is a card of the grid, the kibble one of the carousel


def test_recommend_leaves_out_the_product_whose_page_this_is():
    profile = Profile(recent_products=["tube", "kibble"])
    assert added(recommend("recently_viewed"), profile, path="/p/tube/") == ['/p/kibble">Kibble']


def test_recommend_leaves_out_products_the_visitor_bought():
    profile = likes("rodents", purchases=[bought("wheel", 100)])
    assert added(recommend("top_category"), profile) == ['/p/hay">Hay', '/p/tube">Tube']


def test_recommend_leaves_out_unavailable_products_and_products_without_a_page():
    catalog = {**CATALOG, "hay": Product("rodents", 20, "/p/hay", "Hay", available=False)}
    profile = Profile(recent_products=["hidden", "hay", "wheel"])
    assert added(recommend("recently_viewed", catalog=catalog), profile) == ['/p/wheel">Wheel']


@pytest.mark.parametrize(
    ("source", "profile"),
    [
        ("recently_viewed", Profile(recent_products=["hay", "kibble"], exclusions={"rodents"})),
        # hay lasts 20 days, bought 17 days ago; kibble lasts 30, bought 28 days ago: both due.
        ("replenishment", Profile(purchases=[bought("hay", 17), bought("kibble", 28)], exclusions={"rodents"})),
    ],
)
def test_recommend_leaves_out_a_category_the_visitor_never_wants_suggested(source, profile):
    assert added(recommend(source), profile) == ['/p/kibble">Kibble']


def test_recommend_leaves_out_a_category_the_visitor_said_not_for_me_to_on_this_rule():
    profile = Profile(recent_products=["hay", "kibble"], dismissed={"r:rodents"})
    assert added(recommend("recently_viewed"), profile) == ['/p/kibble">Kibble']


def test_recommend_with_nothing_to_show_leaves_the_page_alone():
    assert run(recommend("top_category"), Profile()) == page(SHOP_GRID)
    assert run(recommend("recently_viewed"), Profile(recent_products=["bone"])) == page(SHOP_GRID)


def test_recommend_escapes_card_values_through_the_personalizer(tmp_path):
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "card.html").write_text(
        '<li><a href="{{ url }}" title="{{ title }}"><img src="{{ image }}">{{ title }}</a> {{ price }} {{ category_label }}</li>'
    )
    (tmp_path / "rules.toml").write_text(
        """
[site]
categories = { rodents = "Rodents & co" }
[blocks.grid]
selector = "#grid"
items = "li"
item_id = "data-id"
[catalog]
hay = { category = "rodents", path = "/p/hay", title = '<script>alert("x")</script> Hay', price = "<b>6</b>", image = "/i/h.jpg?a=1&b=2" }
[[rule]]
id = "r"
action = "recommend"
block = "grid"
source = "recently_viewed"
position = "append"
template = "templates/card.html"
"""
    )
    rules = load_rules(tmp_path)
    visit = Visit(Profile(recent_products=["hay"]), rules.site, rules.catalog, "/", {}, None, "", NOW, None)
    result = Personalizer(Metrics()).personalize(rules, visit, page(b'<ul id="grid"><li data-id="x">X</li></ul>'), "text/html")
    assert result is not None and result.fired == ("r",)
    assert result.body == page(
        b'<ul id="grid" data-etalage-rule="r"><li data-id="x">X</li>'
        b'<li><a href="/p/hay" title="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; Hay"><img src="/i/h.jpg?a=1&amp;b=2">'
        b"&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; Hay</a> &lt;b&gt;6&lt;/b&gt; Rodents &amp; co</li></ul>"
    )


def test_recommend_why_says_where_the_products_come_from():
    assert recommend("top_category").why("r", likes("rodents"), SITE, NOW) == (
        "shows more Rodents products, because Rodents is what you look at most"
    )
    assert recommend("recently_viewed").why("r", Profile(recent_products=["hay"]), SITE, NOW) == "shows products you looked at recently"
    due = Profile(purchases=[bought("hay", 17)])
    assert recommend("replenishment").why("r", due, SITE, NOW) == "shows products you bought that may be running out"
    pairs = {**CATALOG, "kibble": Product("dogs", 30, "/p/kibble", "Kibble", bought_with=("hay",))}
    assert recommend("bought_together", catalog=pairs).why("r", Profile(purchases=[bought("kibble", 1)]), SITE, NOW) == (
        "shows products often bought with what you bought"
    )
    assert recommend("recently_viewed").why("r", Profile(), SITE, NOW) is None


def test_recommend_explain_gives_the_reason_or_says_nothing_to_show():
    rules = load_rules(RULESETS / "good" / "recommend")
    shop = page(b'<ul id="grid"><li data-product-id="kibble" data-category="dogs">Kibble</li></ul>')
    transport = httpx.MockTransport(lambda request: httpx.Response(200, headers={"content-type": "text/html"}, content=shop))
    profile = Profile()
    profile.apply([Event("category_view", "rodents", time.time())] * 3)
    report = explain("http://shop.test/c/dogs", rules, profile, transport=transport)
    reasons = {outcome.rule: (outcome.fired, outcome.reason) for outcome in report.outcomes}
    assert reasons["more-of-top"] == (True, "shows more Rodents products, because Rodents is what you look at most")
    assert reasons["restock"] == (False, "nothing to change for this visitor")
    assert any(line.startswith("+") and "Meadow hay" in line for line in report.diff)
