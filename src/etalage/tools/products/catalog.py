"""The catalogue entries for a feed's products: category and page path of each, checked against the rules' own [catalog]."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

from etalage.problems import Problem
from etalage.rules.model import Product
from etalage.tools.products.mapping import CategoryMap
from etalage.tools.products.read import FeedProduct

__all__ = ["CatalogEntry", "CatalogImport", "build_catalog"]

# Percent-encoded in a product's path; a backslash too, which browsers read as a slash (`/\host` is another site).
_UNSAFE_IN_PATH = re.compile(r"[\s\x00-\x1f\x7f\\]")


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    id: str
    category: str | None
    path: str | None
    title: str
    # What recommendation cards show, to write beside category and path: title, price, image, and
    # available = false. A key the feed does not give, or the rules' [catalog] already does, is left out.
    card: Mapping[str, str | bool] = field(default_factory=dict)


@dataclass
class CatalogImport:
    format: str = ""
    products: int = 0  # products read from the feed
    unmapped: int = 0  # products left out for want of a category
    entries: list[CatalogEntry] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)


def _page_path(link: str) -> str | None:
    """The path to write for a product's link: the link's path, as the feed spells it."""
    if not link:
        return None
    try:
        parts = urlsplit(link)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    path = _UNSAFE_IN_PATH.sub(lambda m: quote(m.group()), parts.path or "/")
    return path if not path.startswith("//") else None


def _image_url(link: str) -> str | None:
    """The feed's image_link if it is an http(s) URL the loader accepts, else None."""
    try:
        parts = urlsplit(link)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or _UNSAFE_IN_PATH.search(link):
        return None
    return link


def _card_fields(item: FeedProduct, product: Product | None, file: str, problems: list[Problem]) -> dict[str, str | bool]:
    """title, price, image and availability as the feed gives them, where the rules' [catalog] does not."""
    fields: dict[str, str | bool] = {}
    title, price = _one_line(item.title), _one_line(item.price)
    if title and (product is None or product.title is None):
        fields["title"] = title
    if price and (product is None or product.price is None):
        fields["price"] = price
    if item.image and (product is None or product.image is None):
        image = _image_url(item.image)
        if image is None:
            problems.append(
                Problem(file, item.line, f"product {item.id!r}: image_link {item.image!r} is not an http(s) URL; no image written")
            )
        else:
            fields["image"] = image
    if " ".join(item.availability.lower().replace("_", " ").split()) == "out of stock" and (product is None or product.available):
        fields["available"] = False
    return fields


def _one_line(text: str) -> str:
    """`text` as a card shows it: no control characters, runs of white space as one space."""
    return " ".join("".join(" " if ord(c) < 0x20 or ord(c) == 0x7F else c for c in text).split())


def build_catalog(
    items: Iterable[FeedProduct | Problem], categories: CategoryMap, known: Mapping[str, Product], *, file: str
) -> CatalogImport:
    """The catalogue entries for the feed's products. `known` is the rules' own [catalog] (the
    generated file left out): where it gives a product's category or path, that stays. `file`
    names the feed in problems."""
    result = CatalogImport()
    seen: dict[str, int] = {}
    known_pages = {Product.page_key(p.path): product_id for product_id, p in known.items() if p.path}
    candidates: list[tuple[FeedProduct, str | None, str | None, dict[str, str | bool]]] = []
    for item in items:
        if isinstance(item, Problem):
            result.problems.append(item)
            continue
        result.products += 1
        if item.id in seen:
            result.problems.append(
                Problem(file, item.line, f"product {item.id!r} is listed again (first at line {seen[item.id]}); left out")
            )
            continue
        seen[item.id] = item.line
        product = known.get(item.id)
        category = categories.category(item.category_texts)
        if product is not None and category is not None and category != product.category:
            result.problems.append(
                Problem(
                    file,
                    item.line,
                    f"product {item.id!r}: the feed's category maps to {category!r}, but the rules' [catalog] puts it in {product.category!r}; kept {product.category!r}",
                )
            )
            category = None
        elif product is not None and category is None:
            pass  # the rules give it
        elif category is None:
            result.problems.append(Problem(file, item.line, _unmapped(item)))
            result.unmapped += 1
            continue
        path = _page_path(item.link)
        if item.link and path is None:
            result.problems.append(
                Problem(file, item.line, f"product {item.id!r}: link {item.link!r} is not the http(s) URL of a page; no path written")
            )
        elif path == "/":
            result.problems.append(
                Problem(file, item.line, f"product {item.id!r}: link {item.link!r} is the shop's home page; no path written")
            )
            path = None
        if path is not None and product is not None and product.path is not None:
            if Product.page_key(path) != Product.page_key(product.path):
                result.problems.append(
                    Problem(
                        file,
                        item.line,
                        f"product {item.id!r}: the feed's link path {path!r} differs from 'path' {product.path!r} in the rules' [catalog]; kept {product.path!r}",
                    )
                )
                path = None
            else:
                path = product.path  # the same page: spelled as the rules spell it, so the two agree
        if path is not None:
            owner = known_pages.get(Product.page_key(path))
            if owner is not None and owner != item.id:
                result.problems.append(
                    Problem(
                        file,
                        item.line,
                        f"product {item.id!r}: link path {path!r} is the page of product {owner!r} in the rules' [catalog]; no path written",
                    )
                )
                path = None
        candidates.append((item, category, path, _card_fields(item, product, file, result.problems)))
    # Several products on one page (the product in the query string, say): none of them gets it.
    pages: dict[str | None, list[FeedProduct]] = {}
    for item, _category, path, _card in candidates:
        if path is not None:
            pages.setdefault(Product.page_key(path), []).append(item)
    for page, sharing in pages.items():
        if len(sharing) > 1:
            others = ", ".join(repr(other.id) for other in sharing[1:4]) + (", ..." if len(sharing) > 4 else "")
            result.notes.append(
                Problem(
                    file,
                    sharing[0].line,
                    f"note: {len(sharing)} products link to the page {page!r} ({sharing[0].id!r}, {others}): no path written for them; their views are not learned from the URL",
                )
            )
    for item, category, path, card in candidates:
        if path is not None and len(pages[Product.page_key(path)]) > 1:
            path = None
        if category is not None or path is not None:
            result.entries.append(CatalogEntry(item.id, category, path, item.title, card))
    return result


def _unmapped(item: FeedProduct) -> str:
    said = [f"product_type {text!r}" for text in item.product_types] + [
        f"google_product_category {text!r}" for text in item.google_categories
    ]
    what = " / ".join(said) if said else "no product_type or google_product_category"
    return f"no category for product {item.id!r} ({what}); left out (map it in [catalog_feed] categories, or with --map 'TEXT=CATEGORY')"
