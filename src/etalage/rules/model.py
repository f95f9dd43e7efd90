"""What rules are about, as typed, validated objects: the site, its products, what to learn, blocks.

Nothing here parses rule text at request time: the loader turns TOML into these frozen objects once.
Rules themselves (etalage.rules.ruleset) sit above conditions and actions, which use these.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urljoin, urlsplit

import orjson

from etalage.html.page import BlockSpec, Item, ItemField

__all__ = ["Site", "Product", "LearnRule", "LoginSource", "CardValue", "BlockDef"]


@dataclass(frozen=True, slots=True)
class Site:
    # Category slugs in the order the shop lists them; ties in interest go to the earlier one.
    categories: tuple[str, ...]
    labels: Mapping[str, str]
    # Interest in a category halves after this many seconds without viewing it.
    half_life: float = 30 * 24 * 3600.0
    # Languages the shop speaks, its default first; "path" (/en/...) or "accept-language" says which.
    languages: tuple[str, ...] = ()
    language_from: str = "path"
    # The text of the link to the visitor's own page after a block's label: one for all pages, or
    # one per language (Fields.localized checked that every language has one).
    why: str | Mapping[str, str] = "why?"
    # Each category's page on the shop (a path), for templates' {{ category_url }}; empty when
    # [site] gives none, and then no template may use it (the loader refuses it).
    category_urls: Mapping[str, str] = field(default_factory=dict)
    # The programme holdout: this share of consenting visitors never gets a personalized page, so the
    # whole programme's effect can be measured against them (etalage.rules.experiments).
    holdout: float = 0.0

    def why_text(self, language: str) -> str:
        """The why-link text for a page in `language`."""
        if isinstance(self.why, str):
            return self.why
        return self.why.get(language) or next(iter(self.why.values()), "why?")

    def language_of(self, path: str, accept_language: str | None) -> str:
        """The page's language: a known language code as the path's first segment, or the
        visitor's most preferred known language; else the default."""
        if not self.languages:
            return ""
        if self.language_from == "path":
            first = path.split("/", 2)[1] if path.count("/") >= 1 else ""
            return first if first in self.languages else self.languages[0]
        ranked = []
        for position, item in enumerate((accept_language or "").split(",")):
            code, _, params = item.strip().partition(";")
            quality = 1.0
            if params.strip().startswith("q="):
                try:
                    quality = float(params.strip()[2:])
                except ValueError:
                    quality = 0.0
            ranked.append((-quality, position, code.strip().lower().split("-")[0]))
        return next((code for _, _, code in sorted(ranked) if code in self.languages), self.languages[0])


@dataclass(frozen=True, slots=True)
class Product:
    category: str
    # For replenishable products: how many days one purchase lasts.
    lasts_days: int | None = None
    # The path of the product's page ("/p/dog-kibble-5kg", from a product feed's link): a view of
    # that page is a view of this product, and a card linking to it shows this product.
    path: str | None = None
    # What a recommendation card shows (`recommend`); a feed import writes them when it has them.
    title: str | None = None
    price: str | None = None
    image: str | None = None
    # False: out of stock, so never recommended (the shop may still list it on its own pages).
    available: bool = True
    # Products often bought with this one, as the shop knows it (`recommend`, source bought_together).
    bought_with: tuple[str, ...] = ()

    @staticmethod
    def page_key(url: str) -> str | None:
        """How product pages are compared: the path of `url` (a path or a whole URL; host, query and
        fragment ignored), percent-decoded, without a trailing '/'. None for an empty path."""
        try:
            path = urlsplit(url.strip()).path
        except ValueError:  # e.g. an invalid IPv6 host in a card's link
            return None
        path = unquote(path)
        if len(path) > 1:
            path = path.rstrip("/") or "/"
        return path or None


@dataclass(frozen=True, slots=True)
class LearnRule:
    event: str  # category_view | product_view | newsletter_subscribe | purchase
    path: re.Pattern[str]
    query: str | None  # take the value from this query parameter instead of the path's named group
    order_query: str | None  # purchases: the query parameter holding the order id
    source: str
    value_query: str | None = None  # purchases: the query parameter holding the order's total ("24.95")


@dataclass(frozen=True, slots=True)
class LoginSource:
    """Where the origin's responses say who logged in, and that they logged out. Never a request cookie:
    visitors can forge those.

    A logout is the origin expiring the login `cookie`, or any response that is not an error to a request
    whose path matches `logout_path` (for shops that announce a login in a header and nothing at logout).
    """

    header: str | None = None
    cookie: str | None = None
    logout_path: re.Pattern[str] | None = None


@dataclass(frozen=True, slots=True)
class CardValue:
    """Where a card says its product id or category (`item_id` / `item_category` of a block).

    Shops rarely put it on the card element itself: Oscar has it only in the basket form's action,
    Shopware on an inner element, Amazon in JSON inside an attribute. So the value is the card's
    attribute, or an inner element's attribute or text; then, optionally, the value at a key path of
    the JSON it holds, then the group `id` of a pattern searched in it.
    """

    attribute: str | None  # the attribute holding it; None: the text of the `inner` element
    inner: ItemField | None = None  # read from this element inside the card (None: the card itself)
    json: tuple[str, ...] = ()  # the value holds JSON: take the string or number at this key path
    pattern: re.Pattern[str] | None = None  # take the group `id` of this pattern's first match

    def read(self, item: Item) -> str | None:
        """The value on this card, or None when the card does not say it."""
        raw = item.fields.get(self.inner) if self.inner is not None else item.attrs.get(self.attribute or "")
        if not raw:
            return None
        if self.json:
            raw = _json_at(raw, self.json)
            if not raw:
                return None
        if self.pattern is not None:
            match = self.pattern.search(raw)
            if match is None or not match.group("id"):
                return None
            return unquote(match.group("id"))
        return raw


def _json_at(text: str, path: tuple[str, ...]) -> str | None:
    """The string or number at `path` (object keys; list positions as numbers) in the JSON `text`."""
    try:
        value: object = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    for key in path:
        if isinstance(value, dict):
            value = value.get(key)
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    return str(value)


@dataclass(frozen=True, slots=True)
class BlockDef:
    """A block of the shop's pages; for item blocks, also how to tell which product a card shows.

    Actions read a card's product with `id_of(item)` and `category_of(item)`, never the
    attributes themselves: the id comes from `item_id`, else from the card's links
    (`item_id_from_link`); the category from `item_category`, else from the catalogue entry of
    the card's product. Links are resolved against the page's path first: listings like
    books.toscrape.com link their products relatively (`../../catalogue/<slug>/index.html`).
    """

    spec: BlockSpec
    # Where each card says its product id and its category (sortable blocks only).
    item_id: CardValue | None
    item_category: CardValue | None
    source: str
    # The product id from the card's links (spec.item_links): the group `id` of this pattern,
    # searched in each link's href in turn (resolved against the page's path, percent-decoded)...
    item_id_from_link: re.Pattern[str] | None = None
    # ...or the catalogue product whose `path` is a link's path (item_id_from_link = true).
    item_id_from_path: bool = False
    # The shop's catalogue (product id -> Product) and its product pages (Product.page_key -> id).
    catalog: Mapping[str, Product] = field(default_factory=dict, repr=False, compare=False)
    catalog_paths: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def identifies_products(self) -> bool:
        """Whether cards of this block can name their product (for pinning, say)."""
        return self.item_id is not None or self.item_id_from_link is not None or self.item_id_from_path

    def id_of(self, item: Item, base: str = "/") -> str | None:
        """The product id of a card on the page at path `base`: its `item_id`, else what its links
        say; None if unknown."""
        if self.item_id is not None:
            value = self.item_id.read(item)
            if value:
                return value
        if self.item_id_from_link is not None:
            for link in _resolved(item.links, base):
                match = self.item_id_from_link.search(link)
                if match is not None and match.group("id"):
                    return unquote(match.group("id"))
        elif self.item_id_from_path:
            for link in _resolved(item.links, base):
                key = Product.page_key(link)
                product_id = self.catalog_paths.get(key) if key is not None else None
                if product_id is not None:
                    return product_id
        return None

    def category_of(self, item: Item, base: str = "/") -> str | None:
        """The category of a card on the page at path `base`: its `item_category`, else its
        product's in the catalogue."""
        if self.item_category is not None:
            value = self.item_category.read(item)
            if value:
                return value
        if not self.catalog:
            return None
        product_id = self.id_of(item, base)
        product = self.catalog.get(product_id) if product_id is not None else None
        return product.category if product is not None else None


def _resolved(links: tuple[str, ...], base: str) -> list[str]:
    """The links as the browser follows them from the page at path `base` (relative ones joined to
    it; whole URLs as they are); links that cannot be joined (a broken IPv6 host) left out."""
    resolved = []
    for link in links:
        try:
            resolved.append(urljoin(base, link))
        except ValueError:
            continue
    return resolved
