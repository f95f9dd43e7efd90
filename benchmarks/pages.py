"""The benchmark's inputs: shop-like pages for the origin and rule folders for Etalage.

Pages follow the demo shop's markup conventions (src/etalage/demo/shop.py): a full HTML5 document
with a `<noscript>` pixel in `<head>`, comments, entities, an inline script, a single-quoted
attribute, non-ASCII text, a `#hero` section and a `#popular` product grid whose cards are
`<li data-product-id=... data-category=...>`. Cards are richer than the demo's (a `<picture>`, a
description, a rating, an old price), so that 24 / 120 / 600 cards weigh about 24 / 100 / 470 KiB,
the sizes of the reference measurements in shared/notes/perf-baseline.md.

Every list page exists three times:
  /list/<size>       a static file (the "cached origin": identical bytes on every request)
  /dyn/list/<size>   the same page with a per-request CSRF nonce in <head> and in the search form,
                     filled in by nginx's SSI module from $request_id (the "per-request-different
                     origin": every response differs, as on shops that embed a token per page view).
  /shop/list/<size>  shop-shaped, as Django Oscar, Magento and Shopware render a listing: besides the
                     nonce, every card's add-to-basket form carries a fresh 64-character token and the
                     head a render timestamp (nginx's $msec), so the differences sit inside the very
                     cards a sort moves (shared/notes/real-shops.md).
The nonce is 32 hex digits either way, so /list/ and /dyn/list/ have the same size.
"""

from __future__ import annotations

import random
import shutil
from html import escape
from pathlib import Path

CATEGORIES = (
    ("dogs", "Dogs", "\N{DOG}", "#f6d9b5"),
    ("cats", "Cats", "\N{CAT}", "#e7d8f3"),
    ("rodents", "Rodents", "\N{HAMSTER FACE}", "#f1e5c3"),
    ("birds", "Birds", "\N{BIRD}", "#d5efd7"),
    ("fish", "Fish", "\N{TROPICAL FISH}", "#cde5f6"),
)
LABELS = {slug: label for slug, label, _, _ in CATEGORIES}

# page key -> number of product cards
PAGE_SIZES = {"24k": 24, "100k": 120, "500k": 600}

STATIC_NONCE = "5f0c2d9e8b7a41c6a3d2e1f0b9c8d7e6"  # stands where the dynamic variant has the SSI echo
SSI_NONCE = '<!--# echo var="request_id" -->'
# The shop-shaped variant: a 64-character token in every card (Oscar's masked csrfmiddlewaretoken is
# 64 characters, new on every render) and the render time in the head, both filled in by SSI
# ($card_token is $request_id twice, a map in the origin's nginx.conf: one SSI command per card).
SSI_CARD_TOKEN = '<!--# echo var="card_token" -->'
SSI_RENDER_TIME = '<!--# echo var="msec" -->'

_NOUNS = {
    "dogs": ["Kibble", "Chew Bone", "Leash", "Harness", "Dog Bed", "Rope Toy", "Training Treats", "Water Bowl"],
    "cats": ["Scratching Post", "Litter", "Cat Tree", "Wet Food Pouches", "Feather Wand", "Cat Flap", "Kibble", "Catnip Mouse"],
    "rodents": ["Hay Feeder", "Hamster Wheel", "Guinea Pig Pellets", "Hideout", "Bedding", "Rabbit Hutch", "Chew Sticks", "Water Bottle"],
    "birds": ["Seed Mix", "Bird Cage", "Perch Set", "Cuttlebone", "Nest Box", "Suet Balls", "Bird Bath", "Millet Spray"],
    "fish": ["Aquarium Filter", "Flake Food", "Water Conditioner", "Heater 100 W", "Gravel", "Air Pump", "Pond Pellets", "LED Light"],
}
_ADJECTIVES = ["Premium", "Natural", "Deluxe", "Eco", "Compact", "XL", "Classic", "Sturdy", "Organic", "Soft", "Large", "Mini"]
_BLURBS = [
    "Sustainably made and tested by our own pets.",
    "A customer favourite: easy to clean, built to last.",
    "Complete and balanced, no artificial colours \u2013 ever.",
    "Quiet, sturdy and simple to assemble; 2-year guarantee.",
    "Recommended by vets for sensitive animals.",
]


def _price(cents: int) -> str:
    return f"&euro;&nbsp;{cents // 100},{cents % 100:02d}"


def _card(rng: random.Random, index: int, token: str | None = None) -> str:
    slug, label, emoji, colour = CATEGORIES[rng.randrange(len(CATEGORIES))]
    pid = f"{slug[:3]}-{index:05d}"
    name = f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS[slug])} {rng.choice(['S', 'M', 'L', '2 kg', '5 kg', '10 pcs', '3 l'])}"
    cents = rng.randrange(199, 14999)
    stars = rng.randrange(3, 6)
    return (
        f'<li class="card" data-product-id="{pid}" data-category="{slug}">\n'
        f'<a class="card-link" href="/p/{pid}">\n'
        f'<picture class="card-image" style="--tile: {colour}">'
        f'<img src="/img/{pid}-320.jpg" srcset="/img/{pid}-640.jpg 2x" width="320" height="320" loading="lazy" alt="{escape(name)}"></picture>\n'
        f'<span class="card-name">{emoji} {escape(name)}</span>\n'
        "</a>\n"
        f'<p class="card-desc">{escape(rng.choice(_BLURBS))}</p>\n'
        f'<p class="card-rating" aria-label="{stars} out of 5 stars"><span class="stars" style="--r: {stars}"></span> '
        f"({rng.randrange(2, 900)})</p>\n"
        f'<p class="card-price">{_price(cents)} <s class="was">{_price(cents + 250)}</s></p>\n'
        + (
            '<form class="card-buy" method="post" action="/cart">'
            if token is None
            else f'<form class="card-buy" method="post" action="/basket/add/{pid}/">'
            f'<input type="hidden" name="csrfmiddlewaretoken" value="{token}">'
        )
        + f'<input type="hidden" name="product" value="{pid}">'
        f'<button class="btn btn-buy" type="submit">Add to cart</button></form>\n'
        "</li>"
    )


def _document(title: str, main: str, nonce: str, page_type: str, render_time: str | None = None) -> str:
    nav = "\n".join(f'<li><a href="/c/{slug}">{label}</a></li>' for slug, label, _, _ in CATEGORIES)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n'
        "<head>\n"
        '<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)} | Pootjes &amp; Co</title>\n"
        "<meta name='description' content='Pootjes &amp; Co: food, toys and care for dogs, cats, rodents, birds and fish.'>\n"
        f'<meta name="csrf-token" content="{nonce}">\n'
        + (f'<meta name="created" content="{render_time}">\n' if render_time else "")
        + '<link rel="icon" href="data:,">\n'
        '<link rel="stylesheet" href="/static/shop.css">\n'
        "<!-- analytics fallback for visitors without JavaScript -->\n"
        '<noscript><img src="/static/pixel.gif" alt=""></noscript>\n'
        '<link rel="canonical" href="https://www.pootjes.example/">\n'
        '<script src="/static/shop.js" defer></script>\n'
        "</head>\n"
        f'<body class="page-{page_type}">\n'
        "<!-- site header -->\n"
        '<header class="site-header">\n<div class="wrap header-inner">\n'
        '<a class="logo" href="/"><span class="logo-paw" aria-hidden="true">\N{PAW PRINTS}</span> Pootjes <span class="logo-amp">&amp;</span> Co</a>\n'
        f'<nav class="main-nav" aria-label="Categories">\n<ul>\n{nav}\n</ul>\n</nav>\n'
        f'<form class="search" action="/search" method="get"><input type="hidden" name="t" value="{nonce}">'
        '<input type="search" name="q" placeholder="Search 4,000 products&hellip;"><button type="submit">Search</button></form>\n'
        '<div class="account"><a class="account-link" href="/login">Log in</a></div>\n'
        "</div>\n</header>\n"
        "<div class='usp-bar'><div class=\"wrap\">Free delivery from &euro;&nbsp;25 &middot; Ordered before 22:00, "
        "delivered tomorrow &middot; 30 days to change your mind</div></div>\n"
        f'<main id="main" class="wrap">\n{main}\n</main>\n'
        "<!-- site footer -->\n"
        '<footer class="site-footer">\n<div class="wrap footer-inner">\n'
        '<p class="footer-logo">Pootjes &amp; Co</p>\n'
        "<p>Your neighbourhood pet shop since 1987.<br>Voorbeeldstraat 12, 3511 AB Utrecht</p>\n"
        '<nav class="footer-nav" aria-label="Footer">\n<ul>\n<li><a href="/newsletter">Newsletter</a></li>\n'
        '<li><a href="/login">My account</a></li>\n<li><a href="/consent">Cookie settings</a></li>\n</ul>\n</nav>\n'
        '<p class="copyright">&copy; 2024 Pootjes &amp; Co &middot; All prices include VAT</p>\n'
        "</div>\n</footer>\n"
        "<script>\n"
        "  window.dataLayer = window.dataLayer || [];\n"
        f'  window.dataLayer.push({{"event": "page_view", "page_type": "{page_type}"}});\n'
        "  if (window.innerWidth < 640 && document.documentElement.classList) {\n"
        '    document.documentElement.classList.add("narrow");\n'
        "  }\n"
        "</script>\n"
        "</body>\n"
        "</html>\n"
    )


def list_page(cards: int, nonce: str, shop_shaped: bool = False) -> str:
    rng = random.Random(cards)  # the same cards for every variant
    grid = "\n".join(_card(rng, i, SSI_CARD_TOKEN if shop_shaped else None) for i in range(cards))
    tiles = "\n".join(
        f'<li class="category-tile" style="--tile: {colour}"><a href="/c/{slug}"><span class="category-emoji" '
        f'aria-hidden="true">{emoji}</span><span class="category-label">{label}</span></a></li>'
        for slug, label, emoji, colour in CATEGORIES
    )
    main = (
        '<section id="hero" class="hero">\n'
        '<div class="hero-text">\n'
        '<p class="hero-kicker">Welcome to Pootjes &amp; Co</p>\n'
        "<h1>Everything your pet needs, delivered tomorrow</h1>\n"
        "<p>Food, toys &amp; care for dogs, cats, rodents, birds and fish. Free delivery on orders from &euro;&nbsp;25.</p>\n"
        '<a class="btn btn-primary" href="#popular-heading">Shop popular products</a>\n'
        "</div>\n"
        f'<div class="hero-art" aria-hidden="true">{"".join(c[2] for c in CATEGORIES)}</div>\n'
        "</section>\n"
        "<!-- popular products -->\n"
        '<section class="products" aria-labelledby="popular-heading">\n'
        '<h2 id="popular-heading">Popular products</h2>\n'
        f'<ul id="popular" class="product-grid">\n{grid}\n</ul>\n'
        "</section>\n"
        '<section class="categories" aria-labelledby="categories-heading">\n'
        '<h2 id="categories-heading">Shop by animal</h2>\n'
        f'<ul class="category-tiles">\n{tiles}\n</ul>\n'
        "</section>"
    )
    return _document("Pet supplies, delivered tomorrow", main, nonce, "home", SSI_RENDER_TIME if shop_shaped else None)


def category_page(slug: str) -> str:
    main = (
        f'<h1>{LABELS[slug]}</h1>\n<p>All our {LABELS[slug].lower()} products.</p>\n<ul id="category-products" class="product-grid"></ul>'
    )
    return _document(LABELS[slug], main, STATIC_NONCE, "category")


def write_site(root: Path) -> dict[str, int]:
    """Write the origin's document root; returns page key -> size in bytes (static variant)."""
    sizes = {}
    for key, cards in PAGE_SIZES.items():
        for folder, nonce, shop_shaped in (
            (root / "list", STATIC_NONCE, False),
            (root / "dyn" / "list", SSI_NONCE, False),
            (root / "shop" / "list", SSI_NONCE, True),
        ):
            folder.mkdir(parents=True, exist_ok=True)
            (folder / key).write_bytes(list_page(cards, nonce, shop_shaped).encode("utf-8"))
        sizes[key] = (root / "list" / key).stat().st_size
    (root / "c").mkdir(parents=True, exist_ok=True)
    for slug in LABELS:
        (root / "c" / slug).write_bytes(category_page(slug).encode("utf-8"))
    return sizes


# --- rule folders ---------------------------------------------------------------------------------

LIST_PAGES = "^/((dyn|shop)/)?list/"

SITE_TOML = """\
# Benchmark site: the demo shop's settings (rules/site.toml) for the generated pages.
[site]
categories = { dogs = "Dogs", cats = "Cats", rodents = "Rodents", birds = "Birds", fish = "Fish" }
category_url = "/c/{category}"

[consent]
source = "onetrust"
groups = ["C0004"]

[[learn]]
event = "category_view"
path = '^/c/(?P<category>[a-z]+)$'

[[learn]]
event = "product_view"
path = '^/p/(?P<product>[a-z0-9-]+)$'

[[learn]]
event = "newsletter_subscribe"
path = '^/newsletter$'
query = "subscribed"

[blocks.hero]
selector = "#hero"

[blocks.popular]
selector = "#popular"
items = "li[data-product-id]"
item_id = "data-product-id"
item_category = "data-category"

[blocks.category-grid]
selector = "#category-products"
items = "li[data-product-id]"
item_id = "data-product-id"
item_category = "data-category"

[blocks.sale-grid]
selector = "#sale-products"
items = "li[data-product-id]"
item_id = "data-product-id"
item_category = "data-category"
"""

_HERO_TEMPLATES = "\n".join(f'{slug} = "templates/hero-{slug}.html"' for slug in LABELS)


def _rule(rule_id: str, action: str, pages: list[str], priority: int, block: str | None = None, min_views: int = 3) -> str:
    lines = ["[[rule]]", f'id = "{rule_id}"', f'action = "{action}"']
    if block:
        lines.append(f'block = "{block}"')
    lines.append("pages = [" + ", ".join(f"'{p}'" for p in pages) + "]")
    lines.append(f"priority = {priority}")
    if action == "banner":
        lines.append("[rule.templates]")
        lines.append(_HERO_TEMPLATES)
    elif action == "popin":
        lines.append(f"min_views = {min_views}")
        lines.append('template = "templates/popin-newsletter.html"')
    return "\n".join(lines) + "\n"


# The three rules that fire on the list pages: banner + sort + pop-in.
MAIN_RULE_IDS = ("hero-by-interest", "popular-by-interest", "newsletter-popin")

_CAMPAIGNS = [
    "spring",
    "summer",
    "autumn",
    "winter",
    "black-friday",
    "puppy-week",
    "kitten-week",
    "aquarium-days",
    "bird-month",
    "rodent-days",
    "vet-week",
    "adoption",
    "back-to-school",
    "easter",
    "christmas",
    "new-year",
]
_BRANDS = [
    "pawsome",
    "furrytail",
    "aquaclear",
    "birdsong",
    "nibbles",
    "catsy",
    "rexfood",
    "hoppy",
    "fishy",
    "chirp",
    "wagwell",
    "purrfect",
    "gnaw",
    "finley",
    "feathers",
    "barkley",
]


def _other_paths(i: int) -> list[str]:
    """Path patterns of realistic rules for pages other than the list pages (they never match /list/...)."""
    kind = i % 4
    if kind == 0:
        return [f"^/campaign/{_CAMPAIGNS[i % len(_CAMPAIGNS)]}-{i}$"]
    if kind == 1:
        return [f"^/brand/{_BRANDS[i % len(_BRANDS)]}(/.*)?$"]
    if kind == 2:
        return [f"^/blog/{i // 4}/[a-z0-9-]+$", f"^/guides/{_CAMPAIGNS[i % len(_CAMPAIGNS)]}$"]
    return [f"^/sale/{2020 + i % 7}/(week-{i % 52})?$"]


def rule_folder_text(count: int) -> str:
    """rules.toml with `count` rules.

    1:   the sort rule alone.
    20:  banner + sort + pop-in on the list pages, 17 rules for other pages.
    200: the same three, three more that match the list pages but lose (a lower-priority banner and
         pop-in, a sort for a block these pages do not have), and 194 rules for other pages.
    """
    out = [f"# {count} rule(s), generated by benchmarks/pages.py\n"]
    if count == 1:
        return out[0] + _rule("popular-by-interest", "sort", [LIST_PAGES], 0, "popular")
    out.append(_rule("hero-by-interest", "banner", [LIST_PAGES], 1000, "hero"))
    out.append(_rule("popular-by-interest", "sort", [LIST_PAGES], 1000, "popular"))
    out.append(_rule("newsletter-popin", "popin", [LIST_PAGES], 1000, min_views=3))
    made = 3
    if count >= 200:
        out.append(_rule("hero-fallback", "banner", [LIST_PAGES, "^/$"], 999, "hero"))
        out.append(_rule("popin-fallback", "popin", [LIST_PAGES], 999, min_views=1))
        out.append(_rule("category-grid-sort", "sort", ["^/((dyn|shop)/)?(list|c)/"], 1000, "category-grid"))
        made = 6
    i = 0
    while made < count:
        action, block = [("banner", "hero"), ("sort", "popular"), ("popin", None), ("sort", "sale-grid")][i % 4]
        out.append(_rule(f"other-{i:03d}-{action}", action, _other_paths(i), i, block, min_views=2 + i % 3))
        i += 1
        made += 1
    return "\n".join(out)


def write_rules(root: Path, count: int, templates_from: Path) -> Path:
    folder = root / f"rules-{count}"
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "templates").mkdir(parents=True)
    for template in templates_from.glob("*.html"):
        shutil.copy(template, folder / "templates" / template.name)
    (folder / "site.toml").write_text(SITE_TOML)
    (folder / "rules.toml").write_text(rule_folder_text(count))
    return folder
