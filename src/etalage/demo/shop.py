"""The demo webshop: a small pet shop ("Pootjes & Co") served as plain server-rendered HTML.

It exists so Etalage has something realistic to sit in front of: full HTML5 pages with the quirks real
shops have (a `<noscript>` pixel in `<head>`, comments, entities, an inline script, a single-quoted
attribute, non-ASCII text), a OneTrust-style consent banner that stores its choice in the
`OptanonConsent` cookie, a login cookie, caching headers with ETags, and gzip.

All state (the clock and the order counter) lives in objects made by `create_shop_app()`; the
catalogue itself is immutable. Form posts are parsed here (urlencoded only), so the shop needs no
python-multipart.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from http import HTTPStatus
from itertools import count
from pathlib import Path
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from etalage.demo.catalog import (
    CATEGORIES,
    CATEGORIES_BY_SLUG,
    PRODUCTS_BY_ID,
    Product,
    format_price,
    popular_products,
    products_in,
)

__all__ = [
    "create_shop_app",
    "customer_id_for",
    "onetrust_consent_value",
    "CUSTOMER_COOKIE",
    "CONSENT_COOKIE",
    "ALERT_BOX_COOKIE",
]

STATIC_DIR = Path(__file__).parent / "static"
DEFAULT_CANONICAL_ORIGIN = "https://www.pootjes.example"

CUSTOMER_COOKIE = "shop_customer"
CUSTOMER_MAX_AGE = 30 * 24 * 3600
CONSENT_COOKIE = "OptanonConsent"
ALERT_BOX_COOKIE = "OptanonAlertBoxClosed"
CONSENT_MAX_AGE = 180 * 24 * 3600
ONETRUST_VERSION = "202411.1.0"
CONSENT_CHOICES = ("accept", "reject")

CATALOGUE_CACHE_PUBLIC = "public, max-age=60"
CATALOGUE_CACHE_PRIVATE = "private, max-age=60"  # same pages for a logged-in visitor (they greet them)
REVALIDATE = "no-cache"
NO_STORE = "no-store"

FORM_LIMIT = 16 * 1024
MIN_GZIP_SIZE = 500
RELATED_COUNT = 4

_CUSTOMER_RE = re.compile(r"cust-[0-9a-f]{12}")
_ORDER_RE = re.compile(r"PC-[0-9]{6,9}")
_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")

# A 1x1 transparent GIF, the classic "no JavaScript" tracking pixel.
PIXEL_GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)

_JS_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_JS_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

_BASE_HEADERS: Mapping[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}


# --- identities and cookies -------------------------------------------------------------------


def customer_id_for(email: str) -> str:
    """A stable customer id for an e-mail address: "cust-" + 12 hex digits of its SHA-256."""
    return "cust-" + hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()[:12]


def _js_date_string(now: datetime) -> str:
    """What JavaScript's Date.prototype.toString() gives in UTC, which OneTrust stores as datestamp."""
    now = now.astimezone(UTC)
    return (
        f"{_JS_DAYS[now.weekday()]} {_JS_MONTHS[now.month - 1]} {now.day:02d} {now.year:04d} "
        f"{now:%H:%M:%S} GMT+0000 (Coordinated Universal Time)"
    )


def _iso_millis(now: datetime) -> str:
    """ISO 8601 in UTC with milliseconds, like JavaScript's Date.prototype.toISOString()."""
    now = now.astimezone(UTC)
    return f"{now:%Y-%m-%dT%H:%M:%S}.{now.microsecond // 1000:03d}Z"


def onetrust_consent_value(choice: str, now: datetime) -> str:
    """The OptanonConsent cookie value OneTrust writes after an Accept ("accept") or Reject ("reject").

    C0001 (strictly necessary) is always on; C0004 (targeting/personalization) follows the choice.
    """
    if choice not in CONSENT_CHOICES:
        raise ValueError(f"unknown consent choice {choice!r}")
    targeting = "1" if choice == "accept" else "0"
    return (
        "isGpcEnabled=0"
        f"&datestamp={quote_plus(_js_date_string(now), safe='()')}"
        f"&version={ONETRUST_VERSION}"
        "&interactionCount=1"
        f"&groups=C0001%3A1%2CC0004%3A{targeting}"
        "&AwaitingReconsent=false"
    )


def _set_cookie_header(name: str, value: str, max_age: int) -> str:
    # Written by hand: SimpleCookie would wrap OneTrust's value (it contains '=', '(' and ')') in
    # double quotes, which the real consent platform never does.
    return f"{name}={value}; Path=/; Max-Age={max_age}; SameSite=Lax"


def _consent_state(raw: str | None) -> str | None:
    """None without the cookie, else "accepted" or "rejected" (of C0004, the personalization group)."""
    if raw is None:
        return None
    fields = dict(parse_qsl(raw, keep_blank_values=True))
    groups = {}
    for pair in fields.get("groups", "").split(","):
        group, _, flag = pair.partition(":")
        groups[group.strip()] = flag.strip()
    return "accepted" if groups.get("C0004") == "1" else "rejected"


@dataclass(frozen=True, slots=True)
class _Visitor:
    customer: str | None  # a valid shop_customer id, or None when logged out
    consent: str | None  # None (no OptanonConsent cookie: show the banner), "accepted" or "rejected"

    @classmethod
    def of(cls, request: Request) -> _Visitor:
        raw_customer = request.cookies.get(CUSTOMER_COOKIE)
        customer = raw_customer if raw_customer and _CUSTOMER_RE.fullmatch(raw_customer) else None
        return cls(customer, _consent_state(request.cookies.get(CONSENT_COOKIE)))


# --- HTML ----------------------------------------------------------------------------------------


def _e(text: str) -> str:
    return escape(text, quote=True)


def _price_html(cents: int) -> str:
    return f"&euro;&nbsp;{format_price(cents)}"


def _card(product: Product) -> str:
    category = CATEGORIES_BY_SLUG[product.category]
    pid = _e(product.id)
    return (
        f'<li class="card" data-product-id="{pid}" data-category="{_e(product.category)}">\n'
        f'<a class="card-link" href="/p/{pid}">\n'
        f'<span class="card-tile" style="--tile: {category.colour}" aria-hidden="true">{product.emoji}</span>\n'
        f'<span class="card-name">{_e(product.name)}</span>\n'
        "</a>\n"
        f'<p class="card-price">{_price_html(product.price_cents)}</p>\n'
        '<form class="card-buy" method="post" action="/checkout">'
        f'<input type="hidden" name="product" value="{pid}">'
        '<button class="btn btn-buy" type="submit">Buy</button></form>\n'
        "</li>"
    )


def _grid(ul_id: str, products: Iterable[Product]) -> str:
    cards = "\n".join(_card(p) for p in products)
    return f'<ul id="{ul_id}" class="product-grid">\n{cards}\n</ul>'


def _consent_forms(css_class: str) -> str:
    # Two equal buttons in two plain forms: refusing is exactly as easy as accepting, and it all
    # works without JavaScript (shop.js only saves the page reload).
    return "\n".join(
        f'<form class="{css_class}" method="post" action="/consent" data-consent-form>'
        f'<input type="hidden" name="choice" value="{choice}">'
        f'<button class="btn consent-btn" type="submit">{label}</button></form>'
        for choice, label in (("reject", "Reject"), ("accept", "Accept"))
    )


def _banner() -> str:
    return (
        "<!-- cookie consent banner: shown until the visitor makes a choice -->\n"
        '<div id="consent-banner" class="consent-banner" role="region" aria-label="Cookie consent">\n'
        '<div class="wrap consent-inner">\n'
        '<p class="consent-text"><strong>Cookies at Pootjes &amp; Co.</strong> We use functional cookies '
        "to run the shop. With your permission we also use cookies to personalise offers &amp; "
        "recommendations. You can change your mind at any time via &ldquo;Cookie settings&rdquo; at the "
        "bottom of every page.</p>\n"
        f'<div class="consent-actions">\n{_consent_forms("consent-form")}\n</div>\n'
        "</div>\n"
        "</div>\n"
    )


def _header(visitor: _Visitor, active_category: str | None) -> str:
    current = ' aria-current="page"'
    nav = "\n".join(f'<li><a href="/c/{c.slug}"{current if c.slug == active_category else ""}>{_e(c.label)}</a></li>' for c in CATEGORIES)
    if visitor.customer:
        account = (
            f'<span class="account-name" title="{visitor.customer}">My account</span> <a class="account-link" href="/logout">Log out</a>'
        )
    else:
        account = '<a class="account-link" href="/login">Log in</a>'
    return (
        "<!-- site header -->\n"
        '<header class="site-header">\n'
        '<div class="wrap header-inner">\n'
        '<a class="logo" href="/"><span class="logo-paw" aria-hidden="true">\N{PAW PRINTS}</span> '
        'Pootjes <span class="logo-amp">&amp;</span> Co</a>\n'
        f'<nav class="main-nav" aria-label="Categories">\n<ul>\n{nav}\n</ul>\n</nav>\n'
        f'<div class="account">{account}</div>\n'
        "</div>\n"
        "</header>\n"
        "<div class='usp-bar'><div class=\"wrap\">Free delivery from &euro;&nbsp;25 &middot; "
        "Ordered before 22:00, delivered tomorrow &middot; 30 days to change your mind</div></div>\n"
    )


_FOOTER = (
    "<!-- site footer -->\n"
    '<footer class="site-footer">\n'
    '<div class="wrap footer-inner">\n'
    '<div class="footer-about">\n'
    '<p class="footer-logo">Pootjes &amp; Co</p>\n'
    "<p>Your neighbourhood pet shop since 1987.<br>Voorbeeldstraat 12, 3511 AB Utrecht</p>\n"
    "</div>\n"
    '<nav class="footer-nav" aria-label="Footer">\n<ul>\n'
    '<li><a href="/newsletter">Newsletter</a></li>\n'
    '<li><a href="/login">My account</a></li>\n'
    '<li><a href="/consent">Cookie settings</a></li>\n'
    "</ul>\n</nav>\n"
    '<p class="copyright">&copy; 2024 Pootjes &amp; Co &middot; All prices include VAT</p>\n'
    "</div>\n"
    "</footer>\n"
)


def _inline_script(page_type: str, extra: Mapping[str, str]) -> str:
    data = {"event": "page_view", "page_type": page_type, **extra}
    payload = json.dumps(data, sort_keys=True).replace("</", "<\\/")
    return (
        "<script>\n"
        "  window.dataLayer = window.dataLayer || [];\n"
        f"  window.dataLayer.push({payload});\n"
        "  if (window.innerWidth < 640 && document.documentElement.classList) {\n"
        '    document.documentElement.classList.add("narrow");\n'
        "  }\n"
        "</script>\n"
    )


def _document(
    *,
    title: str,
    description: str,
    canonical: str,
    main: str,
    visitor: _Visitor,
    page_type: str,
    active_category: str | None = None,
    show_banner: bool = True,
    script_data: Mapping[str, str] | None = None,
) -> str:
    banner = _banner() if show_banner and visitor.consent is None else ""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n'
        "<head>\n"
        '<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)} | Pootjes &amp; Co</title>\n"
        f"<meta name='description' content='{_e(description)}'>\n"
        '<link rel="icon" href="data:,">\n'
        '<link rel="stylesheet" href="/static/shop.css">\n'
        "<!-- analytics fallback for visitors without JavaScript -->\n"
        '<noscript><img src="/static/pixel.gif" alt=""></noscript>\n'
        f'<link rel="canonical" href="{_e(canonical)}">\n'
        '<script src="/static/shop.js" defer></script>\n'
        "</head>\n"
        f'<body class="page-{page_type}">\n'
        f"{_header(visitor, active_category)}"
        f'<main id="main" class="wrap">\n{main}\n</main>\n'
        f"{_FOOTER}"
        f"{_inline_script(page_type, script_data or {})}"
        f"{banner}"
        "</body>\n"
        "</html>\n"
    )


def _breadcrumbs(*items: tuple[str, str | None]) -> str:
    parts = ['<a href="/">Home</a>']
    for label, href in items:
        parts.append(f'<a href="{href}">{_e(label)}</a>' if href else f'<span aria-current="page">{_e(label)}</span>')
    return f'<nav class="breadcrumbs" aria-label="Breadcrumb">{" &rsaquo; ".join(parts)}</nav>'


def _related(product: Product) -> tuple[Product, ...]:
    """Up to four other products from the same category, starting after this one (wrapping round)."""
    siblings = products_in(product.category)
    index = siblings.index(product)
    ordered = siblings[index + 1 :] + siblings[:index]
    return ordered[:RELATED_COUNT]


# --- HTTP helpers --------------------------------------------------------------------------------


def _etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Weak comparison, as If-None-Match requires (RFC 9110, 13.1.2)."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    opaque = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == opaque for tag in if_none_match.split(","))


def _page(
    request: Request,
    document: str,
    *,
    status: int = 200,
    cache: str = REVALIDATE,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body = document.encode("utf-8")
    # Every page shows the consent banner or the login state depending on cookies.
    response_headers = {**_BASE_HEADERS, "Cache-Control": cache, "Vary": "Cookie", **(headers or {})}
    if status == 200 and request.method in ("GET", "HEAD"):
        # Weak: the same tag covers the identity and the gzip-encoded representation.
        response_headers["ETag"] = 'W/"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        if _etag_matches(request.headers.get("if-none-match"), response_headers["ETag"]):
            return Response(status_code=304, headers=response_headers)
    return Response(body, status_code=status, headers=response_headers, media_type="text/html")


async def _read_form(request: Request) -> dict[str, str]:
    """An application/x-www-form-urlencoded body as a dict (the last value of a repeated field wins)."""
    content_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if content_type not in ("", "application/x-www-form-urlencoded"):
        raise HTTPException(415, "Please send the form as application/x-www-form-urlencoded.")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > FORM_LIMIT:
            raise HTTPException(413, "That form is far too large.")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise HTTPException(400, "That form could not be read.") from None
    return dict(parse_qsl(text, keep_blank_values=True))


def _same_site_return_path(request: Request) -> str:
    """The Referer's path (and query) when it points at this site, else "/"."""
    referer = request.headers.get("referer")
    if not referer:
        return "/"
    try:
        parts = urlsplit(referer)
    except ValueError:
        return "/"
    hosts = {request.headers.get("host", "").lower()}
    forwarded_host = request.headers.get("x-forwarded-host")
    if forwarded_host:
        hosts.add(forwarded_host.split(",")[0].strip().lower())
    hosts.discard("")
    if parts.scheme not in ("http", "https") or parts.netloc.lower() not in hosts:
        return "/"
    path = parts.path or "/"
    target = path + (f"?{parts.query}" if parts.query else "")
    if not path.startswith("/") or path.startswith("//") or "\\" in target:
        return "/"
    if any(ord(ch) <= 0x20 or ord(ch) == 0x7F for ch in target):
        return "/"
    return target


_ERROR_TEXT: Mapping[int, tuple[str, str]] = {
    400: ("Something is not quite right", "We could not process that request."),
    404: ("Page not found", "Sorry, we can't find that page. Perhaps it went for a walk?"),
    405: ("Not allowed", "That page does not accept this kind of request."),
    413: ("Too large", "That request is too large."),
    415: ("Unsupported form", "That form was sent in a format we don't understand."),
}


# --- the application -----------------------------------------------------------------------------


class _Shop:
    """The shop's request handlers and the state they share (one per app)."""

    def __init__(self, canonical_origin: str, clock: Callable[[], datetime]) -> None:
        self.canonical_origin = canonical_origin.rstrip("/")
        self.clock = clock
        self.order_numbers = count(100001)

    def canonical(self, path: str) -> str:
        return self.canonical_origin + path

    @staticmethod
    def catalogue_cache(visitor: _Visitor) -> str:
        return CATALOGUE_CACHE_PRIVATE if visitor.customer else CATALOGUE_CACHE_PUBLIC

    # catalogue pages

    async def home(self, request: Request) -> Response:
        visitor = _Visitor.of(request)
        tiles = "\n".join(
            f'<li class="category-tile" style="--tile: {c.colour}"><a href="/c/{c.slug}">'
            f'<span class="category-emoji" aria-hidden="true">{c.emoji}</span>'
            f'<span class="category-label">{_e(c.label)}</span></a></li>'
            for c in CATEGORIES
        )
        main = (
            '<section id="hero" class="hero">\n'
            '<div class="hero-text">\n'
            '<p class="hero-kicker">Welcome to Pootjes &amp; Co</p>\n'
            "<h1>Everything your pet needs, delivered tomorrow</h1>\n"
            "<p>Food, toys &amp; care for dogs, cats, rodents, birds and fish. "
            "Free delivery on orders from &euro;&nbsp;25.</p>\n"
            '<a class="btn btn-primary" href="#popular-heading">Shop popular products</a>\n'
            "</div>\n"
            '<div class="hero-art" aria-hidden="true">' + "".join(c.emoji for c in CATEGORIES) + "</div>\n"
            "</section>\n"
            "<!-- popular products -->\n"
            '<section class="products" aria-labelledby="popular-heading">\n'
            '<h2 id="popular-heading">Popular products</h2>\n'
            f"{_grid('popular', popular_products())}\n"
            "</section>\n"
            '<section class="categories" aria-labelledby="categories-heading">\n'
            '<h2 id="categories-heading">Shop by animal</h2>\n'
            f'<ul class="category-tiles">\n{tiles}\n</ul>\n'
            "</section>"
        )
        document = _document(
            title="Pet supplies, delivered tomorrow",
            description="Pootjes & Co: food, toys and care for dogs, cats, rodents, birds and fish.",
            canonical=self.canonical("/"),
            main=main,
            visitor=visitor,
            page_type="home",
        )
        return _page(request, document, cache=self.catalogue_cache(visitor))

    async def category(self, request: Request) -> Response:
        slug = request.path_params["category"]
        category = CATEGORIES_BY_SLUG.get(slug)
        if category is None:
            raise HTTPException(404, "We don't have that category (yet). Try one of the animals above.")
        visitor = _Visitor.of(request)
        products = products_in(slug)
        main = (
            f"{_breadcrumbs((category.label, None))}\n"
            '<div class="category-header">\n'
            f"<h1>{category.emoji} {_e(category.label)}</h1>\n"
            f"<p>{_e(category.blurb)}</p>\n"
            f'<p class="result-count">{len(products)} products</p>\n'
            "</div>\n"
            f"{_grid('category-products', products)}"
        )
        document = _document(
            title=category.label,
            description=f"{category.label} at Pootjes & Co. {category.blurb}",
            canonical=self.canonical(f"/c/{slug}"),
            main=main,
            visitor=visitor,
            page_type="category",
            active_category=slug,
            script_data={"category": slug},
        )
        return _page(request, document, cache=self.catalogue_cache(visitor))

    async def product(self, request: Request) -> Response:
        product = PRODUCTS_BY_ID.get(request.path_params["product_id"])
        if product is None:
            raise HTTPException(404, "We can't find that product. It may be sold out for good.")
        visitor = _Visitor.of(request)
        category = CATEGORIES_BY_SLUG[product.category]
        pid = _e(product.id)
        main = (
            f"{_breadcrumbs((category.label, f'/c/{category.slug}'), (product.name, None))}\n"
            '<article id="product-detail" class="product-detail">\n'
            f'<div class="product-tile" style="--tile: {category.colour}" aria-hidden="true">{product.emoji}</div>\n'
            '<div class="product-info">\n'
            f"<h1>{_e(product.name)}</h1>\n"
            f'<p class="price">{_price_html(product.price_cents)}</p>\n'
            f'<p class="description">{_e(product.description)}</p>\n'
            '<ul class="product-facts">\n'
            "<li>In stock &ndash; ordered before 22:00, delivered tomorrow</li>\n"
            "<li>Free delivery from &euro;&nbsp;25</li>\n"
            "<li>30 days to change your mind</li>\n"
            "</ul>\n"
            '<form class="buy-form" method="post" action="/checkout">\n'
            f'<input type="hidden" name="product" value="{pid}">\n'
            '<button class="btn btn-primary btn-large" type="submit">Buy now</button>\n'
            "</form>\n"
            "</div>\n"
            "</article>\n"
            '<section class="related" aria-labelledby="related-heading">\n'
            f'<h2 id="related-heading">More for {_e(category.label.lower())}</h2>\n'
            f"{_grid('related-products', _related(product))}\n"
            "</section>"
        )
        document = _document(
            title=product.name,
            description=product.description,
            canonical=self.canonical(f"/p/{product.id}"),
            main=main,
            visitor=visitor,
            page_type="product",
            active_category=product.category,
            script_data={"category": product.category, "product_id": product.id},
        )
        return _page(request, document, cache=self.catalogue_cache(visitor))

    # account

    def login_page(self, request: Request, *, status: int = 200, error: str | None = None, email: str = "") -> Response:
        visitor = _Visitor.of(request)
        notice = (
            f'<p class="notice">You are logged in (customer number {visitor.customer}). <a href="/logout">Log out</a></p>\n'
            if visitor.customer
            else ""
        )
        error_html = f'<p class="notice notice-error" role="alert">{_e(error)}</p>\n' if error else ""
        main = (
            '<section class="form-page">\n'
            "<h1>Log in</h1>\n"
            f"{notice}{error_html}"
            '<form class="login-form" method="post" action="/login">\n'
            '<label for="email">E-mail address</label>\n'
            f'<input id="email" name="email" type="email" autocomplete="email" required value="{_e(email)}">\n'
            '<button class="btn btn-primary" type="submit">Log in</button>\n'
            "</form>\n"
            '<p class="hint">No password needed in this demo shop: your e-mail address is enough.</p>\n'
            "</section>"
        )
        document = _document(
            title="Log in",
            description="Log in to your Pootjes & Co account.",
            canonical=self.canonical("/login"),
            main=main,
            visitor=visitor,
            page_type="login",
        )
        return _page(request, document, status=status, cache=NO_STORE)

    async def login(self, request: Request) -> Response:
        if request.method != "POST":
            return self.login_page(request)
        form = await _read_form(request)
        email = form.get("email", "").strip()
        if len(email) > 254 or not _EMAIL_RE.fullmatch(email):
            return self.login_page(request, status=400, error="Please enter a valid e-mail address.", email=email)
        customer = customer_id_for(email)
        response = RedirectResponse("/", status_code=303, headers={"X-Shop-Customer": customer})
        response.set_cookie(CUSTOMER_COOKIE, customer, max_age=CUSTOMER_MAX_AGE, path="/", httponly=True, samesite="lax")
        return response

    async def logout(self, request: Request) -> Response:
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(CUSTOMER_COOKIE, path="/", httponly=True, samesite="lax")
        return response

    # newsletter

    async def newsletter(self, request: Request) -> Response:
        if request.method == "POST":
            form = await _read_form(request)
            slug = form.get("category", "")
            if slug not in CATEGORIES_BY_SLUG:
                raise HTTPException(400, "Please pick one of our newsletters.")
            return RedirectResponse(f"/newsletter?{urlencode({'subscribed': slug})}", status_code=303)
        subscribed = request.query_params.get("subscribed")
        if subscribed is not None and subscribed not in CATEGORIES_BY_SLUG:
            raise HTTPException(400, "We don't have a newsletter for that.")
        visitor = _Visitor.of(request)
        thanks = ""
        if subscribed is not None:
            label = CATEGORIES_BY_SLUG[subscribed].label
            thanks = (
                f'<p id="newsletter-thanks" class="notice notice-success" data-category="{subscribed}">'
                f"Thank you! You are now subscribed to the {_e(label)} newsletter.</p>\n"
            )
        items = "\n".join(
            f'<li class="newsletter-option" style="--tile: {c.colour}">\n'
            f'<span class="category-emoji" aria-hidden="true">{c.emoji}</span>\n'
            f"<h2>{_e(c.label)}</h2>\n"
            f"<p>{_e(c.blurb)}</p>\n"
            '<form method="post" action="/newsletter">'
            f'<input type="hidden" name="category" value="{c.slug}">'
            f'<button class="btn" type="submit">Subscribe to {_e(c.label)}</button></form>\n'
            "</li>"
            for c in CATEGORIES
        )
        main = (
            '<section class="form-page newsletter">\n'
            "<h1>Newsletters</h1>\n"
            f"{thanks}"
            "<p>Tips, new products &amp; offers for your animal, about twice a month. "
            "Unsubscribe with one click.</p>\n"
            f'<ul class="newsletter-options">\n{items}\n</ul>\n'
            "</section>"
        )
        document = _document(
            title="Newsletters",
            description="Subscribe to the Pootjes & Co newsletters.",
            canonical=self.canonical("/newsletter"),
            main=main,
            visitor=visitor,
            page_type="newsletter",
        )
        return _page(request, document)

    # checkout

    async def checkout(self, request: Request) -> Response:
        form = await _read_form(request)
        product = PRODUCTS_BY_ID.get(form.get("product", ""))
        if product is None:
            raise HTTPException(400, "We can't find the product you wanted to buy.")
        order = f"PC-{next(self.order_numbers)}"
        # The order's total goes in the confirmation URL too, as many shops' analytics tags want it.
        query = urlencode({"order": order, "product": product.id, "total": f"{product.price_cents / 100:.2f}"})
        return RedirectResponse(f"/checkout/thank-you?{query}", status_code=303)

    async def thank_you(self, request: Request) -> Response:
        order = request.query_params.get("order", "")
        product = PRODUCTS_BY_ID.get(request.query_params.get("product", ""))
        if product is None or not _ORDER_RE.fullmatch(order):
            raise HTTPException(404, "We can't find that order.")
        visitor = _Visitor.of(request)
        category = CATEGORIES_BY_SLUG[product.category]
        main = (
            '<section id="order-confirmation" class="confirmation">\n'
            "<h1>Thank you for your order!</h1>\n"
            f'<p>Your order number is <strong class="order-id">{order}</strong>. '
            "A confirmation is on its way to your inbox.</p>\n"
            '<div class="order-line">\n'
            f'<span class="order-tile" style="--tile: {category.colour}" aria-hidden="true">{product.emoji}</span>\n'
            f'<a href="/p/{_e(product.id)}">{_e(product.name)}</a>\n'
            f'<span class="price">{_price_html(product.price_cents)}</span>\n'
            "</div>\n"
            "<p>Ordered before 22:00? Then it's delivered tomorrow.</p>\n"
            '<a class="btn btn-primary" href="/">Continue shopping</a>\n'
            "</section>\n"
            '<section class="related" aria-labelledby="related-heading">\n'
            '<h2 id="related-heading">You may also like</h2>\n'
            f"{_grid('recommended-products', _related(product))}\n"
            "</section>"
        )
        document = _document(
            title="Thank you for your order",
            description="Your order at Pootjes & Co.",
            canonical=self.canonical("/checkout/thank-you"),
            main=main,
            visitor=visitor,
            page_type="order-confirmation",
            script_data={"product_id": product.id},
        )
        return _page(request, document, cache=NO_STORE, headers={"X-Shop-Order": order})

    # consent

    async def consent(self, request: Request) -> Response:
        if request.method == "POST":
            form = await _read_form(request)
            choice = form.get("choice", "")
            if choice not in CONSENT_CHOICES:
                raise HTTPException(400, "Please choose Accept or Reject.")
            now = self.clock()
            response = RedirectResponse(_same_site_return_path(request), status_code=303)
            response.headers.append("set-cookie", _set_cookie_header(CONSENT_COOKIE, onetrust_consent_value(choice, now), CONSENT_MAX_AGE))
            response.headers.append("set-cookie", _set_cookie_header(ALERT_BOX_COOKIE, _iso_millis(now), CONSENT_MAX_AGE))
            return response
        visitor = _Visitor.of(request)
        current = {
            None: "You have not made a choice yet.",
            "accepted": "You currently <strong>accept</strong> personalisation cookies.",
            "rejected": "You currently <strong>reject</strong> personalisation cookies.",
        }[visitor.consent]
        main = (
            '<section class="form-page consent-settings">\n'
            "<h1>Cookie settings</h1>\n"
            "<p>Functional cookies keep the shop working (your basket, your login). "
            "Personalisation cookies let us show offers &amp; recommendations based on what you viewed. "
            "We only use those when you accept.</p>\n"
            f'<p id="consent-current" class="notice">{current}</p>\n'
            f'<div class="consent-actions">\n{_consent_forms("consent-form")}\n</div>\n'
            "</section>"
        )
        document = _document(
            title="Cookie settings",
            description="Choose which cookies Pootjes & Co may use.",
            canonical=self.canonical("/consent"),
            main=main,
            visitor=visitor,
            page_type="consent",
            show_banner=False,  # this page is the banner, full size
        )
        return _page(request, document, cache=NO_STORE)

    # odds and ends

    async def pixel(self, request: Request) -> Response:
        return Response(PIXEL_GIF, media_type="image/gif", headers={"Cache-Control": NO_STORE})

    async def error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        status = exc.status_code
        title, default_text = _ERROR_TEXT.get(status, ("Something went wrong", "Please try again."))
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = ""
        text = exc.detail if exc.detail and exc.detail != phrase else default_text
        main = (
            f'<section class="error-page" data-status="{status}">\n'
            f"<h1>{_e(title)}</h1>\n"
            f"<p>{_e(text)}</p>\n"
            '<p><a class="btn btn-primary" href="/">Back to the shop</a></p>\n'
            "</section>"
        )
        document = _document(
            title=title,
            description=title,
            canonical=self.canonical(request.url.path),
            main=main,
            visitor=_Visitor.of(request),
            page_type="error",
        )
        return _page(request, document, status=status, cache=NO_STORE, headers=exc.headers)


def create_shop_app(
    *,
    canonical_origin: str = DEFAULT_CANONICAL_ORIGIN,
    clock: Callable[[], datetime] | None = None,
) -> Starlette:
    """The demo pet shop as an ASGI app.

    canonical_origin is used for `<link rel="canonical">` (fixed, so pages don't depend on the Host
    header); clock (timezone-aware) dates the consent cookies and defaults to the current UTC time.
    """
    shop = _Shop(canonical_origin, clock or (lambda: datetime.now(UTC)))
    routes = [
        Route("/", shop.home, methods=["GET"]),
        Route("/c/{category}", shop.category, methods=["GET"]),
        Route("/p/{product_id}", shop.product, methods=["GET"]),
        Route("/login", shop.login, methods=["GET", "POST"]),
        Route("/logout", shop.logout, methods=["GET", "POST"]),
        Route("/newsletter", shop.newsletter, methods=["GET", "POST"]),
        Route("/checkout", shop.checkout, methods=["POST"]),
        Route("/checkout/thank-you", shop.thank_you, methods=["GET"]),
        Route("/consent", shop.consent, methods=["GET", "POST"]),
        Route("/static/pixel.gif", shop.pixel, methods=["GET"]),
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(GZipMiddleware, minimum_size=MIN_GZIP_SIZE)],
        exception_handlers={HTTPException: shop.error},
    )
