"""XSS: every value that can reach a personalized page or the visitor's own page, fed markup.

Values come from rule files (category labels, rule labels, set texts), from what visitors send
(the URLs they open, the forms of their page, Accept-Language, Referer, User-Agent) and from
imports (product feeds, CRM exports). Each path runs through a real Etalage in front of a small
origin, and the served HTML is parsed as a browser would (tests/support/xss.py): no payload may
become an element, an attribute or a javascript: URL, while it still shows as text, and
/.etalage/me.json stays valid JSON. A value refused when the rules load or an import runs instead
must be refused with a message that says why.

One Etalage serves most tests: its site has a category per payload (slug c0, c1, ...), its
catalogue is imported from a feed whose product ids are the payloads, and its store holds CRM
customers whose ids and segments are; each test is a new visitor. Rule labels and set texts need
a rule set per payload, started once each.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, quote
from xml.sax.saxutils import escape as xml_escape

import httpx
import orjson
import pytest
from selectolax.lexbor import LexborHTMLParser

from etalage.app import create_app
from etalage.profiles.memory import MemoryStore
from etalage.rules.fields import RuleSetError
from etalage.rules.loader import load_rules
from etalage.tools.customers.load import import_file
from etalage.tools.products.command import import_products
from etalage.types import Receive, Scope, Send
from tests.support.config import ACCEPT_ONETRUST, settings_for
from tests.support.origin import lifespan
from tests.support.servers import running
from tests.support.xss import PAYLOADS, injected, text_of

XSS = '"><script>alert(1)</script>'
SCRIPT_URLS = (" JaVaScRiPt:alert(1)", "java\tscript:alert(1)", "data:text/html,<script>alert(1)</script>")
# Code as such: harmless as HTML text, not inside a script or a style sheet.
CODE = ("alert(1)//", "} body { background: red }")
LABELS = (*PAYLOADS, *SCRIPT_URLS, *CODE)
SLUG = {label: f"c{index}" for index, label in enumerate(LABELS)}
CUSTOMER_HEADER = "x-shop-customer"

PAGE = b"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Shop</title>
<script id="data">var shop = {};</script><style id="look">p { margin: 0 }</style></head>
<body>
<section id="hero"><h1>Welcome</h1></section>
<aside id="side"><p>Side</p></aside>
<div id="note"><p>Note</p></div>
<p><a id="more" href="/c/plain">More</a></p>
<ul id="popular">
  <li data-product-id="d1" data-category="c0">Dog kibble</li>
  <li data-product-id="c1" data-category="plain">Cat tower</li>
</ul>
</body>
</html>
"""

SITE = """
[site]
categories = {{ {categories}, plain = "Plain" }}
languages = ["en", "nl"]
language_from = "accept-language"
why = {why}

[consent]
sources = ["onetrust"]

[login]
header = "{customer_header}"

# As loose as a shop may write them: the URL decides what is read.
[[learn]]
event = "category_view"
path = '^/c/(?P<category>[^/]+)$'

[[learn]]
event = "product_view"
path = '^/p/(?P<product>.+)$'

[[learn]]
event = "purchase"
path = '^/thanks$'
query = "sku"
order_query = "order"
trust_url = true

[blocks.hero]
selector = "#hero"

[blocks.side]
selector = "#side"

[blocks.note]
selector = "#note"

[blocks.more]
selector = "#more"

[blocks.data]
selector = "#data"

[blocks.look]
selector = "#look"

[blocks.popular]
selector = "#popular"
items = "li[data-product-id]"
item_id = "data-product-id"
item_category = "data-category"
"""

RULES = """
[[rule]]
id = "hero"
action = "banner"
block = "hero"
label = {label}
templates = {{ {templates} }}

[[rule]]
id = "side"
action = "insert"
block = "side"
position = "append"
template = "templates/side.html"

[[rule]]
id = "note"
action = "set"
block = "note"
text = {text}

[[rule]]
id = "more"
action = "set"
block = "more"
attribute = "title"
value = {value}

# A block's CSS selector may name a <script> or a <style>.
[[rule]]
id = "data"
action = "set"
block = "data"
text = "{{{{ category_label }}}}"

[[rule]]
id = "look"
action = "set"
block = "look"
text = "{{{{ category_label }}}}"

[[rule]]
id = "sort"
action = "sort"
block = "popular"
label = {label}

[[rule]]
id = "popin"
action = "popin"
min_views = 1
label = {label}
template = "templates/popin.html"
"""

# The label in text, in a quoted attribute, in URL attributes (HTML and SVG), the slug in a path.
HERO = """<div class="hero-{{ category }}" title="{{ category_label }}" data-lang="LANG">
<h2>{{ category_label }}</h2>
<a id="label-link" href="{{ category_label }}">label as a link</a>
<a href="/c/{{ category }}">the category</a>
<svg><a id="svg-link" xlink:href="{{ category_label }}"><text>label as an SVG link</text></a></svg>
</div>
"""
SIDE = '<p class="side" data-label="{{ category_label }}">{{ category_label }}</p>\n'
POPIN = """<aside><h2>The {{ category_label }} newsletter</h2>
<form method="post" action="/newsletter"><input type="hidden" name="category" value="{{ category }}"><button>Subscribe</button></form>
<a href="/.etalage/me/not-for-me?rule=popin&amp;category={{ category }}">Not for me</a></aside>
"""


def _toml(text: str) -> str:
    """A TOML basic string: JSON's escapes are TOML's."""
    return json.dumps(text)


def write_rules(
    folder: Path,
    rule_label: str = "For you",
    text: str = "For {{ category_label }}",
    value: str = "About {{ category_label }}",
    why: str = "why?",
) -> Path:
    """A rules folder: a category per label of LABELS (and `plain`), the rules above."""
    folder.mkdir(parents=True, exist_ok=True)
    categories = ", ".join(f"{SLUG[label]} = {_toml(label)}" for label in LABELS)
    templates = ", ".join(f'{slug} = "templates/hero-{{lang}}.html"' for slug in (*SLUG.values(), "plain"))
    (folder / "site.toml").write_text(SITE.format(categories=categories, customer_header=CUSTOMER_HEADER, why=_toml(why)), "utf-8")
    rules = RULES.format(label=_toml(rule_label), templates=templates, text=_toml(text), value=_toml(value))
    (folder / "rules.toml").write_text(rules, "utf-8")
    (folder / "templates").mkdir(exist_ok=True)
    for lang in ("en", "nl"):
        (folder / "templates" / f"hero-{lang}.html").write_text(HERO.replace("LANG", lang), "utf-8")
    (folder / "templates" / "side.html").write_text(SIDE, "utf-8")
    (folder / "templates" / "popin.html").write_text(POPIN, "utf-8")
    return folder


class Origin:
    """The shop: the same page at every path; /login announces the customer named in its query."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if await lifespan(scope, receive, send):
            return
        while (await receive()).get("more_body"):
            pass
        headers = [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", str(len(PAGE)).encode())]
        if scope["path"] == "/login":
            customer = parse_qs(scope["query_string"].decode())["customer"][0]
            headers.append((CUSTOMER_HEADER.encode(), customer.encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": PAGE})


@contextlib.contextmanager
def etalage(rules: Path, store: MemoryStore | None = None) -> Iterator[str]:
    with running(Origin()) as origin, running(create_app(settings_for(origin, rules), store=store or MemoryStore(retention=3600))) as url:
        yield url


@contextlib.contextmanager
def browser(url: str) -> Iterator[httpx.Client]:
    """A new visitor who accepted the consent banner."""
    with httpx.Client(base_url=url, cookies={"OptanonConsent": ACCEPT_ONETRUST}) as client:
        yield client


def _feed(products: list[tuple[str, str, str]]) -> str:
    items = "".join(
        f"<item><g:id>{xml_escape(product_id)}</g:id><g:title>{xml_escape(title)}</g:title>"
        f"<g:link>{xml_escape(link)}</g:link><g:product_type>Plain</g:product_type></item>\n"
        for product_id, title, link in products
    )
    return f'<?xml version="1.0"?>\n<rss version="2.0" xmlns:g="http://base.google.com/ns/1.0"><channel>\n{items}</channel></rss>\n'


def customer_id(payload: str) -> str:
    """A payload as a customer id, which has no spaces."""
    return "".join("_" if char.isspace() else char for char in payload)


def _export(path: Path, customers: list[tuple[str, str]]) -> Path:
    lines = [json.dumps({"customer_id": customer, "segments": [segment], "newsletters": ["plain"]}) for customer, segment in customers]
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


@dataclass
class Shop:
    url: str
    rules: Path
    import_status: int  # of import-products
    crm_bad_rows: int  # of etalage import


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    folder = tmp_path_factory.mktemp("xss")
    rules = write_rules(folder / "rules")
    # Product ids and titles from a feed: item-<n> pages, and titles that try to end the TOML comment they go in.
    feed = folder / "feed.xml"
    products = [
        (payload, f"{payload}\n[site]\n{payload}", f"https://shop.example/shop/item-{index}") for index, payload in enumerate(PAYLOADS)
    ]
    feed.write_text(_feed(products), "utf-8")
    status = import_products(feed, rules, out=io.StringIO(), err=io.StringIO())
    store = MemoryStore(retention=3600)
    export = _export(folder / "customers.jsonl", [(customer_id(payload), payload) for payload in PAYLOADS])
    result = asyncio.run(import_file(export, store, load_rules(rules)))
    with etalage(rules, store) as url:
        yield Shop(url, rules, status, result.bad_rows)


def assert_clean(page: bytes | str) -> None:
    assert injected(page) == []


def me_json(client: httpx.Client) -> dict:
    response = client.get("/.etalage/me.json")
    assert response.headers["content-type"] == "application/json" and response.headers["x-content-type-options"] == "nosniff"
    return orjson.loads(response.content)


def _codes(page: bytes) -> list[str]:
    """The texts the visitor's page shows as code: rule ids, product ids."""
    return [node.text() for node in LexborHTMLParser(page).css("code")]


def interested_in(client: httpx.Client, slug: str = "plain") -> None:
    for _ in range(3):
        client.get(f"/c/{slug}")


# --- values from rule files: category labels, rule labels, set texts ---------------------------------------------


@pytest.mark.parametrize("payload", PAYLOADS)
def test_xss_category_label_stays_text_on_personalized_pages(shop, payload):
    with browser(shop.url) as client:
        interested_in(client, SLUG[payload])
        page = client.get("/", headers={"accept-language": "nl"}).content
    assert_clean(page)
    tree = LexborHTMLParser(page)
    assert tree.css_first("#hero h2").text() == payload and tree.css_first("#hero div").attributes["title"] == payload
    assert tree.css_first("#hero div").attributes["data-lang"] == "nl"
    assert text_of(page, ".side") == payload and tree.css_first(".side").attributes["data-label"] == payload
    assert text_of(page, "#note") == f"For {payload}" and tree.css_first("#more").attributes["title"] == f"About {payload}"
    assert payload in text_of(page, ".etalage-popin h2")


@pytest.mark.parametrize("payload", ["javascript:alert(1)", *SCRIPT_URLS])
def test_xss_category_label_in_a_link_becomes_no_link(shop, payload):
    with browser(shop.url) as client:
        interested_in(client, SLUG[payload])
        tree = LexborHTMLParser(client.get("/").content)
    assert tree.css_first("#label-link").attributes["href"] == "#"
    assert tree.css_first("#svg-link").attributes["xlink:href"] == "#"


@pytest.mark.parametrize("payload", LABELS)
def test_xss_category_label_never_goes_into_a_script_or_style(shop, payload):
    with browser(shop.url) as client:
        interested_in(client, SLUG[payload])
        page = client.get("/").content
    assert_clean(page)
    tree = LexborHTMLParser(page)
    assert tree.css_first("#data").text() == "var shop = {};" and tree.css_first("#look").text() == "p { margin: 0 }"


@pytest.mark.parametrize("payload", PAYLOADS)
def test_xss_category_label_stays_text_on_the_visitors_page(shop, payload):
    with browser(shop.url) as client:
        interested_in(client, SLUG[payload])
        page = client.get("/.etalage/me").content
        data = me_json(client)
    assert_clean(page)
    assert LABELS.index(payload) >= 0 and payload in [node.text() for node in LexborHTMLParser(page).css("tbody th")]
    assert data["profile"]["category_views"] == {SLUG[payload]: 3} and any(payload in reason["text"] for reason in data["why"])


@pytest.fixture(scope="module")
def rule_texts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], str]]:
    """Etalage with a rule set whose rule labels, why-link text and set texts are one payload, started once per payload."""
    with contextlib.ExitStack() as stack:
        started: dict[str, str] = {}

        def url_for(payload: str) -> str:
            if payload not in started:
                literal = payload.replace("{", "[").replace("}", "]")  # braces would be a placeholder, or a broken one
                rules = write_rules(
                    tmp_path_factory.mktemp("rule-texts") / "rules", rule_label=payload, text=literal, value=literal, why=payload
                )
                started[payload] = stack.enter_context(etalage(rules))
            return started[payload]

        yield url_for


@pytest.mark.parametrize("payload", PAYLOADS)
def test_xss_rule_label_stays_text(rule_texts, payload):
    with browser(rule_texts(payload)) as client:
        interested_in(client)
        page = client.get("/").content
    assert_clean(page)
    labels = [node.text() for node in LexborHTMLParser(page).css(".etalage-label small")]
    assert len(labels) == 3 and all(label.startswith(payload) for label in labels)  # banner, sort and popin


@pytest.mark.parametrize("payload", PAYLOADS)
def test_xss_why_link_text_written_in_site_stays_text(rule_texts, payload):
    with browser(rule_texts(payload)) as client:
        interested_in(client)
        page = client.get("/").content
    assert_clean(page)
    links = [node.text() for node in LexborHTMLParser(page).css(".etalage-label a")]
    assert links == [payload] * 3  # banner, sort and popin


@pytest.mark.parametrize("payload", PAYLOADS)
def test_xss_set_text_and_value_written_in_a_rule_stay_text(rule_texts, payload):
    literal = payload.replace("{", "[").replace("}", "]")
    with browser(rule_texts(payload)) as client:
        interested_in(client)
        page = client.get("/").content
    assert_clean(page)
    assert text_of(page, "#note") == literal and LexborHTMLParser(page).css_first("#more").attributes["title"] == literal


@pytest.mark.parametrize(
    ("where", "value", "message"),
    [
        ("slug", XSS, "must be lower-case letters, digits, '-' or '_'"),
        ("rule id", XSS, "must be lower-case letters, digits, '-' or '_'"),
        ("href", "javascript:alert(1)", "is not a safe link for 'href'"),
        ("href", "java\tscript:alert(1)", "is not a safe link for 'href'"),
        ("template", "<p onclick='{{ category_label }}'>x</p>", "may not stand in the 'onclick' attribute"),
        ("template", "<style>p { color: {{ category_label }} }</style>", "may only stand in text or inside a quoted attribute value"),
        ("template", "<script>var a = '{{ category_label }}';</script>", "may only stand in text or inside a quoted attribute value"),
        ("template", "<a href={{ category_label }}>x</a>", "may only stand in text or inside a quoted attribute value"),
        (
            "template",
            '<svg><a><set attributeName="href" to="{{ category_label }}"/><text>x</text></a></svg>',
            "may not stand in the 'to' attribute",
        ),
        ("template", '<svg><animate attributeName="href" values="{{ category_label }}"/></svg>', "may not stand in the 'values' attribute"),
        ("template", '<script src="{{ category_label }}"></script>', "may not stand in an attribute of <script>"),
    ],
)
def test_xss_rule_file_value_that_would_run_is_refused_when_the_rules_load(tmp_path, where, value, message):
    rules = write_rules(tmp_path / "rules")
    site, rule_file = rules / "site.toml", rules / "rules.toml"
    if where == "slug":
        site.write_text(site.read_text().replace("plain = ", f"{_toml(value)} = "))
    elif where == "rule id":
        rule_file.write_text(rule_file.read_text().replace('id = "side"', f"id = {_toml(value)}"))
    elif where == "href":
        rule_file.write_text(
            rule_file.read_text().replace('attribute = "title"', 'attribute = "href"').replace('"About {{ category_label }}"', _toml(value))
        )
    else:
        (rules / "templates" / "side.html").write_text(value)
    with pytest.raises(RuleSetError) as caught:
        load_rules(rules)
    assert message in str(caught.value)


# --- what visitors send: URLs, forms, headers ---------------------------------------------------------------------


@pytest.mark.parametrize("payload", PAYLOADS)
def test_xss_category_in_a_url_is_not_learned(shop, payload):
    with browser(shop.url) as client:
        client.get("/c/" + quote(payload, safe=""))
        client.get("/c/plain")
        page, data = client.get("/.etalage/me").content, me_json(client)
    assert_clean(page)
    assert data["profile"]["category_views"] == {"plain": 1}


@pytest.mark.parametrize("payload", PAYLOADS)
def test_xss_product_and_order_from_urls_stay_text(shop, payload):
    with browser(shop.url) as client:
        client.get("/p/" + quote(payload, safe=""))
        client.get("/thanks", params={"sku": payload, "order": payload})
        page, data = client.get("/.etalage/me").content, me_json(client)
    assert_clean(page)
    assert data["profile"]["recent_products"] == [payload] and data["profile"]["purchases"][0][:2] == [payload, payload]
    assert _codes(page).count(payload) == 2  # the product looked at, and the one bought


@pytest.mark.parametrize("form", ["interests", "exclusions", "newsletters", "not-for-me"])
@pytest.mark.parametrize("payload", PAYLOADS)
def test_xss_form_values_are_refused_without_being_shown(shop, form, payload):
    with browser(shop.url) as client:
        interested_in(client)
        page = client.get("/.etalage/me").text
        csrf = LexborHTMLParser(page).css_first('input[name="csrf"]').attributes["value"]
        answer = client.post(f"/.etalage/me/{form}", data={"csrf": csrf, "category": payload, "rule": payload, "action": payload})
        data = me_json(client)
    assert answer.status_code == 400 and payload not in answer.text
    assert_clean(answer.content)
    assert data["profile"]["interests"] == data["profile"]["exclusions"] == data["profile"]["dismissed"] == []


@pytest.mark.parametrize("payload", [*PAYLOADS, "/" + XSS, "//evil.example/", "/\\evil.example/"])
def test_xss_not_for_me_link_values_stay_text(shop, payload):
    with browser(shop.url) as client:
        interested_in(client)
        bad = client.get("/.etalage/me/not-for-me", params={"rule": payload, "category": "plain"})
        page = client.get("/.etalage/me/not-for-me", params={"rule": "popin", "category": "plain", "return_to": payload}).content
    assert bad.status_code == 400 and payload not in bad.text
    assert_clean(page)
    cancel = LexborHTMLParser(page).css_first("a.button").attributes["href"]
    assert cancel in (payload, "/.etalage/me") and cancel.startswith("/") and not cancel.startswith(("//", "/\\"))


@pytest.mark.parametrize("payload", PAYLOADS)
def test_xss_request_headers_are_not_shown(shop, payload):
    # As a browser would send it: bytes, which Etalage reads as Latin-1; marked, as the site's labels are payloads too.
    sent = f"{payload} (sent)".encode()
    headers = {"accept-language": sent, "referer": sent, "user-agent": sent}
    with browser(shop.url) as client:
        interested_in(client)
        page = client.get("/", headers=headers).content
        me = client.get("/.etalage/me", headers=headers).content
    for served in (page, me):
        assert_clean(served)
        assert sent not in served
    # A language the site does not have is the site's default.
    assert LexborHTMLParser(page).css_first("#hero div").attributes["data-lang"] == "en"


# --- imports: product feeds and CRM exports -------------------------------------------------------------------------


def test_xss_product_feed_with_markup_imports_as_it_is(shop):
    assert shop.import_status == 0 and set(load_rules(shop.rules).catalog) == set(PAYLOADS)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_xss_product_id_and_title_from_a_feed_stay_text(shop, payload):
    with browser(shop.url) as client:
        client.get(f"/shop/item-{PAYLOADS.index(payload)}")
        page, data = client.get("/.etalage/me").content, me_json(client)
    assert_clean(page)
    assert data["profile"]["recent_products"] == [payload] and payload in _codes(page)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_xss_product_link_from_a_feed_becomes_a_path_or_nothing(tmp_path, payload):
    rules = write_rules(tmp_path / "rules")
    feed = tmp_path / "feed.xml"
    feed.write_text(_feed([("item-1", "Item", "https://shop.example/p/" + payload)]), "utf-8")
    import_products(feed, rules, out=io.StringIO(), err=io.StringIO())
    path = load_rules(rules).catalog["item-1"].path
    assert path is None or (path.startswith("/p/") and not any(char.isspace() for char in path))


def test_xss_crm_export_with_markup_imports_as_it_is(shop):
    assert shop.crm_bad_rows == 0


@pytest.mark.parametrize("payload", PAYLOADS)
def test_xss_crm_segment_and_customer_id_stay_text(shop, payload):
    with browser(shop.url) as client:
        client.get("/login", params={"customer": customer_id(payload)})
        page, data = client.get("/.etalage/me").content, me_json(client)
    assert_clean(page)
    assert data["profile"]["segments"] == [payload] and data["profile"]["customer_id"] == customer_id(payload)
    tree = LexborHTMLParser(page)
    about = dict(zip((node.text() for node in tree.css("dt")), (node.text() for node in tree.css("dd"))))
    assert about["Customer groups"] == payload


@pytest.mark.parametrize(("customer", "segment"), [("C 1", "vip"), ("C-\u20281", "vip"), ("C-1", "a|b"), ("C-1", "vip\x00")])
def test_xss_crm_value_with_spaces_or_controls_is_refused_with_its_line(tmp_path, customer, segment):
    rules = write_rules(tmp_path / "rules")
    export = _export(tmp_path / "customers.jsonl", [(customer, segment)])
    problems: list[str] = []
    result = asyncio.run(import_file(export, MemoryStore(retention=3600), load_rules(rules), on_problem=lambda p: problems.append(str(p))))
    assert result.bad_rows == 1 and problems and problems[0].startswith(f"{export}:1: ")
