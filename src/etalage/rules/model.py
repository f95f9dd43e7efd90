"""The typed, validated rule set that the request path uses, and the validation helpers that build it.

Nothing here parses rule text at request time: the loader turns TOML into these frozen objects once.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from cachetools import LRUCache

from etalage.consent import ConsentPolicy
from etalage.html.page import BlockSpec, Item
from etalage.rules.tomlpos import KeyLines

if TYPE_CHECKING:
    from etalage.rules.actions import Action
    from etalage.rules.conditions import Condition

__all__ = ["Problem", "RuleSetError", "Site", "Product", "LearnRule", "LoginSource", "BlockDef", "Rule", "RuleSet", "Fields", "MISSING"]

MISSING: Any = object()


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    line: int
    message: str
    hint: str = ""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}" + (f" (hint: {self.hint})" if self.hint else "")


class RuleSetError(Exception):
    """A rule folder that cannot be used; `problems` lists every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(problem) for problem in problems))
        self.problems = tuple(problems)


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


@dataclass(frozen=True, slots=True)
class LoginSource:
    """Where the origin's responses say who logged in. Never a request cookie: visitors can forge those."""

    header: str | None = None
    cookie: str | None = None


@dataclass(frozen=True, slots=True)
class BlockDef:
    """A block of the shop's pages; for item blocks, also how to tell which product a card shows.

    Actions read a card's product with `id_of(item)` and `category_of(item)`, never the
    attributes themselves: the id comes from the `item_id` attribute, else from the card's links
    (`item_id_from_link`); the category from the `item_category` attribute, else from the
    catalogue entry of the card's product.
    """

    spec: BlockSpec
    # Item attributes holding the product id and its category (sortable blocks only).
    item_id: str | None
    item_category: str | None
    source: str
    # The product id from the card's links (spec.item_links): the group `id` of this pattern,
    # searched in each link's href in turn (percent-decoded)...
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

    def id_of(self, item: Item) -> str | None:
        """The product id of a card: its `item_id` attribute, else what its links say; None if unknown."""
        if self.item_id is not None:
            value = item.attrs.get(self.item_id)
            if value:
                return value
        if self.item_id_from_link is not None:
            for link in item.links:
                match = self.item_id_from_link.search(link)
                if match is not None and match.group("id"):
                    return unquote(match.group("id"))
        elif self.item_id_from_path:
            for link in item.links:
                key = Product.page_key(link)
                product_id = self.catalog_paths.get(key) if key is not None else None
                if product_id is not None:
                    return product_id
        return None

    def category_of(self, item: Item) -> str | None:
        """The category of a card: its `item_category` attribute, else its product's in the catalogue."""
        if self.item_category is not None:
            value = item.attrs.get(self.item_category)
            if value:
                return value
        if not self.catalog:
            return None
        product_id = self.id_of(item)
        product = self.catalog.get(product_id) if product_id is not None else None
        return product.category if product is not None else None


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    action: Action
    block: str | None
    pages: tuple[re.Pattern[str], ...]
    priority: int
    source: str  # file:line, for messages
    when: Condition  # who the rule is for (conditions.ALWAYS when the rule says nothing)

    def applies_to(self, path: str) -> bool:
        return not self.pages or any(page.search(path) for page in self.pages)


@dataclass(frozen=True)
class RuleSet:
    site: Site
    consent: ConsentPolicy
    learn: tuple[LearnRule, ...]
    login: LoginSource
    catalog: Mapping[str, Product]
    blocks: Mapping[str, BlockDef]
    # Highest priority first; file order breaks ties (equal priorities on one block are a load error).
    rules: tuple[Rule, ...]
    version: str
    _by_path: LRUCache[str, tuple[Rule, ...]] = field(default_factory=lambda: LRUCache(4096), repr=False, compare=False)

    @property
    def block_specs(self) -> tuple[BlockSpec, ...]:
        return tuple(block.spec for block in self.blocks.values())

    def rules_for(self, path: str) -> tuple[Rule, ...]:
        rules = self._by_path.get(path)
        if rules is None:
            rules = tuple(rule for rule in self.rules if rule.applies_to(path))
            self._by_path[path] = rules
        return rules


class Fields:
    """One TOML table under validation: typed getters that record problems at the key's line.

    Call `finish()` last: it reports the keys nobody asked for, with a did-you-mean hint.
    """

    def __init__(self, table: Any, path: tuple[str | int, ...], file: str, lines: KeyLines, problems: list[Problem]) -> None:
        self.path = path
        self.file = file
        self._lines = lines
        self._problems = problems
        self._seen: set[str] = set()
        # How messages name this table; rules are named by their id once it is known.
        self.label = ".".join(str(part) if isinstance(part, str) else f"[{part}]" for part in path).replace(".[", "[")
        if isinstance(table, dict):
            self.table = table
        else:
            self.table = {}
            self.problem(f"{self.name} must be a table, not {_kind(table)}")

    @property
    def name(self) -> str:
        return self.label

    def line(self, key: str | None = None) -> int:
        return self._lines.line(self.path + ((key,) if key else ()))

    def where(self, key: str | None = None) -> str:
        return f"{self.file}:{self.line(key)}"

    def problem(self, message: str, key: str | None = None, hint: str = "") -> None:
        self._problems.append(Problem(self.file, self.line(key), message, hint))

    def sub(self, key: str, value: Any) -> Fields:
        fields = Fields(value, self.path + (key,), self.file, self._lines, self._problems)
        fields.label = f"{self.label}.{key}" if self.label else key
        return fields

    def entry(self, key: str, index: int, value: Any) -> Fields:
        """The index-th table of the array of tables `[[key]]`."""
        return Fields(value, self.path + (key, index), self.file, self._lines, self._problems)

    def take(
        self, key: str, kind: type | tuple[type, ...], default: Any = MISSING, check: Callable[[Any], str | None] | None = None
    ) -> Any:
        """The value of `key` if it has the right type (and `check` returns no complaint), else `default`."""
        self._seen.add(key)
        if key not in self.table:
            if default is MISSING:
                self.problem(f"{self.name}: missing required key '{key}'")
                return None
            return default
        value = self.table[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        # bool is an int in Python; a rule file that says `priority = true` is wrong.
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            expected = " or ".join(_kind_name(k) for k in kinds)
            self.problem(f"{self.name}: '{key}' must be {expected}, not {_kind(value)}", key)
            return None if default is MISSING else default
        if check is not None:
            complaint = check(value)
            if complaint:
                self.problem(f"{self.name}: '{key}': {complaint}", key)
                return None if default is MISSING else default
        return value

    def strings(self, key: str, default: Any = MISSING) -> tuple[str, ...] | None:
        values = self.take(key, list, default)
        if values is None or values is default:
            return values
        if not all(isinstance(v, str) for v in values):
            self.problem(f"{self.name}: '{key}' must be a list of strings", key)
            return None
        return tuple(values)

    def regex(self, key: str, pattern: Any) -> re.Pattern[str] | None:
        if not isinstance(pattern, str):
            return None
        try:
            return re.compile(pattern)
        except re.error as exc:
            self.problem(f"{self.name}: '{key}': invalid regular expression {pattern!r}: {exc}", key)
            return None

    def finish(self) -> None:
        for key in self.table:
            if key not in self._seen:
                close = difflib.get_close_matches(key, sorted(self._seen), n=1)
                self.problem(
                    f"{self.name}: unknown key '{key}'",
                    key,
                    f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(sorted(self._seen))}",
                )


def _kind_name(kind: type) -> str:
    return {str: "a string", int: "a whole number", float: "a number", bool: "true or false", list: "a list", dict: "a table"}.get(
        kind, kind.__name__
    )


def _kind(value: Any) -> str:
    return _kind_name(type(value)) if not isinstance(value, bool) else "true or false"
