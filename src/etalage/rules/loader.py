"""Loading a rules folder: every `*.toml` file merged, validated up front, compiled into a RuleSet.

Every problem in every file is collected and reported as `file:line: reason (hint)`, so a marketer
fixes a folder in one pass; a folder with any problem is refused whole and the caller keeps the
last good rule set.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from selectolax.lexbor import LexborHTMLParser

from etalage.consent import ConsentPolicy, build_policy
from etalage.html.page import BlockSpec, ItemField
from etalage.html.templates import Template, TemplateError, compile_template
from etalage.problems import Problem
from etalage.rules.actions import ACTIONS, Action, CompileContext
from etalage.rules.actions.base import check_category_url
from etalage.rules.conditions import Condition, compile_condition, compile_segments, never_fires
from etalage.rules.experiment_tables import compile_experiments, compile_goals, exclusive
from etalage.rules.experiments import Experiment
from etalage.rules.fields import Fields, RuleSetError
from etalage.rules.model import BlockDef, CardValue, LearnRule, LoginSource, Product, Site
from etalage.rules.ruleset import Rule, RuleSet
from etalage.rules.tomlpos import KeyLines
from etalage.rules.trigger_tables import compile_triggers

__all__ = ["load_rules"]

_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]*")
_LANGUAGE = re.compile(r"[a-z]{2,3}")
# A path on the shop: one leading '/', not '//' or '/\' (another host), no spaces or control characters.
_SHOP_PATH = re.compile(r"/(?![/\\])[^\s\x00-\x1f\x7f\\]*")
_TOML_POSITION = re.compile(r"\(at line (\d+), column \d+\)")
# An HTTP header name (RFC 9110 token).
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_SECTIONS = (
    "site",
    "consent",
    "login",
    "orders",
    "catalog",
    "catalog_feed",
    "segments",
    "learn",
    "blocks",
    "rule",
    "experiment",
    "goal",
    "trigger",
)
_LEARN_GROUPS = {"category_view": "category", "product_view": "product", "newsletter_subscribe": "category", "purchase": "product"}
_PROBE_DOCUMENT = LexborHTMLParser("<p></p>")


def _slug_check(value: str) -> str | None:
    if _SLUG.fullmatch(value):
        return None
    return f"{value!r} must be lower-case letters, digits, '-' or '_', starting with a letter or digit"


def _key_is_slug(key: str) -> Callable[[object], str | None]:
    """A check of the value under `key` that judges the key itself (tables keyed by slugs)."""
    return lambda _value: _slug_check(key)


def _selector_check(value: str) -> str | None:
    try:
        _PROBE_DOCUMENT.css(value)
    except Exception as exc:  # selectolax raises several types for bad selectors
        return f"invalid CSS selector {value!r} ({exc})"
    return None


class _Folder:
    """The state of one load: the folder, its parsed files, the problems found so far."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.root = directory.resolve()
        self.unreadable = False
        self.problems: list[Problem] = []
        self.digest = hashlib.sha256()
        self.templates: dict[tuple[str, frozenset[str]], Template | None] = {}
        # The site's languages, known once [site] is read (templates may have one file per language).
        self.languages: tuple[str, ...] = ()
        # The site, once [site] is read (a template's {{ category_url }} needs its category pages).
        self.site = Site((), {})

    def relative(self, path: Path) -> str:
        # The file's own name, not its link target's: a ConfigMap's files are links into `..data/`.
        try:
            return str((path.parent.resolve() / path.name).relative_to(self.root.parent))
        except ValueError:
            return str(path)

    def read(self, path: Path, name: str) -> bytes | None:
        """A file's bytes, or None with a problem recorded: a file can vanish between listing and
        reading (an editor's save, a Kubernetes ConfigMap swapping its symlinks)."""
        try:
            return path.read_bytes()
        except OSError as exc:
            self.problems.append(Problem(name, 1, f"cannot be read: {exc.strerror or exc}", "a dangling link or a file being replaced?"))
            self.unreadable = True
            return None

    def read_toml(self, path: Path) -> tuple[dict[str, Any], KeyLines] | None:
        name = self.relative(path)
        data = self.read(path, name)
        if data is None:
            return None
        self.digest.update(name.encode() + b"\0" + data + b"\0")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            self.problems.append(Problem(name, line, "not valid UTF-8 text", "save the file as UTF-8"))
            self.unreadable = True
            return None
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            match = _TOML_POSITION.search(str(exc))
            message = _TOML_POSITION.sub("", str(exc)).strip()
            self.problems.append(
                Problem(
                    name,
                    int(match.group(1)) if match else 1,
                    f"TOML syntax error: {message}",
                    "check quotes, brackets and '=' on this line",
                )
            )
            self.unreadable = True
            return None
        return document, KeyLines(text)

    def template(self, fields: Fields, key: str, provided: frozenset[str]) -> Template | None:
        """The template a rule names; a path with {lang} is compiled once per site language."""
        template = self._template(fields, key, provided)
        if template is None or not check_category_url(fields, key, template.names, self.site):
            return None
        return template

    def _template(self, fields: Fields, key: str, provided: frozenset[str]) -> Template | None:
        relative = fields.take(key, str)
        if relative is None:
            return None
        if "{lang}" not in relative:
            return self._template_file(fields, key, relative, provided)
        if not self.languages:
            fields.problem(
                f"{fields.name}: template {relative!r} has {{lang}}, but [site] names no languages",
                key,
                'add languages = ["nl", "en"] to [site]',
            )
            return None
        versions = {code: self._template_file(fields, key, relative.replace("{lang}", code), provided) for code in self.languages}
        if any(version is None for version in versions.values()):
            return None
        default = versions[self.languages[0]]
        assert default is not None
        return default.translated(versions)  # type: ignore[arg-type]

    def _template_file(self, fields: Fields, key: str, relative: str, provided: frozenset[str]) -> Template | None:
        path = (self.root / relative).resolve()
        if not path.is_relative_to(self.root):
            fields.problem(f"{fields.name}: template {relative!r} is outside the rules folder", key)
            return None
        cache_key = (str(path), provided)
        if cache_key in self.templates:
            return self.templates[cache_key]
        template = None
        if not path.is_file():
            fields.problem(f"{fields.name}: template file {relative!r} not found", key, f"looked in {self.relative(path.parent)}")
        elif (data := self.read(path, self.relative(path))) is not None:
            self.digest.update(relative.encode() + b"\0" + data + b"\0")
            try:
                template = compile_template(relative, data.decode("utf-8"), provided)
            except UnicodeDecodeError:
                self.problems.append(Problem(self.relative(path), 1, "template is not valid UTF-8 text"))
            except TemplateError as exc:
                self.problems.append(Problem(self.relative(path), exc.line, str(exc), f"used by {fields.where(key)}"))
        self.templates[cache_key] = template
        return template


def load_rules(directory: Path, *, catalogue_only: bool = False) -> RuleSet:
    """Load and validate a rules folder; raises RuleSetError listing every problem.

    `catalogue_only` reads what a product import builds on ([site], [catalog], [catalog_feed]) and
    leaves segments, learn rules, blocks and rules out: those may need the very catalogue the import
    is about to write (a recommend rule does), and it checks the whole folder with it before writing."""
    folder = _Folder(directory)
    if not directory.is_dir():
        raise RuleSetError([Problem(str(directory), 1, "rules folder not found")])
    tables: dict[str, list[Fields]] = {section: [] for section in _SECTIONS}
    files = sorted(directory.glob("*.toml"))
    if not files:
        folder.problems.append(Problem(str(directory), 1, "no .toml rule files in this folder"))
    unreadable = False
    for path in files:
        parsed = folder.read_toml(path)
        if parsed is None:
            unreadable = True
            continue
        document, lines = parsed
        top = Fields(document, (), folder.relative(path), lines, folder.problems)
        for section in _SECTIONS:
            value = top.take(section, (dict, list), None)
            if value is None:
                continue
            if section in ("learn", "rule", "experiment", "goal", "trigger"):
                if not isinstance(value, list):
                    top.problem(f"'{section}' must be written as [[{section}]] tables", section)
                    continue
                tables[section] += [top.entry(section, index, entry) for index, entry in enumerate(value)]
            else:
                tables[section].append(top.sub(section, value))
        top.finish()
    if unreadable:
        # What the other files name (a rule, a block, a category) may be in the file that could not be
        # read: checking them now would only list knock-on errors before the one that matters.
        raise RuleSetError(sorted(folder.problems, key=lambda p: (p.file, p.line)))

    site = _site(tables["site"], folder, files)
    consent = _consent(tables["consent"], folder)
    login = _login(tables["login"])
    order_header = _order_header(tables["orders"])
    catalog = _catalog(tables["catalog"], site, tables["catalog_feed"])
    if catalogue_only:
        if folder.problems:
            raise RuleSetError(sorted(folder.problems, key=lambda p: (p.file, p.line)))
        return RuleSet(site, consent, (), login, catalog, {}, (), folder.digest.hexdigest()[:16])
    segments = compile_segments(tables["segments"], site, catalog)
    learn = tuple(filter(None, (_learn(fields) for fields in tables["learn"])))
    blocks = _blocks(tables["blocks"], catalog)
    declared = {name for section in tables["blocks"] for name in section.table}
    rules = _rules(tables["rule"], site, catalog, segments, blocks, declared, folder)
    known = len(folder.problems)
    experiments = compile_experiments(tables["experiment"], rules, folder.problems)
    experiments_valid = len(folder.problems) == known
    goals = compile_goals(tables["goal"])
    triggers = compile_triggers(tables["trigger"], site, catalog, consent)
    if experiments_valid:
        # Variants keep their rules apart; with an experiment refused (a misspelt rule, no winner) its
        # rules would be reported as clashing, and the hint would send the reader to change priorities.
        _check_conflicts(rules, experiments, folder)
    if folder.problems:
        raise RuleSetError(sorted(folder.problems, key=lambda p: (p.file, p.line)))
    return RuleSet(
        site,
        consent,
        learn,
        login,
        catalog,
        blocks,
        rules,
        folder.digest.hexdigest()[:16],
        experiments,
        goals,
        segments=segments,
        order_header=order_header,
        triggers=triggers,
    )


def _single(found: list[Fields], section: str) -> Fields | None:
    for extra in found[1:]:
        extra.problem(f"[{section}] is defined again (first at {found[0].where()})")
    return found[0] if found else None


def _site(found: list[Fields], folder: _Folder, files: list[Path]) -> Site:
    fields = _single(found, "site")
    if fields is None:
        # A file that did not parse may well hold the [site] table: its own error says enough.
        if files and not folder.unreadable:
            folder.problems.append(
                Problem(folder.relative(files[0]), 1, "no [site] table in any rule file", 'add [site] with categories = { slug = "Label" }')
            )
        return Site((), {})
    table = fields.take("categories", dict) or {}
    categories = fields.sub("categories", table)
    labels = {}
    for slug in table:
        label = categories.take(slug, str, check=_key_is_slug(slug))
        if label is not None:
            labels[slug] = label
    half_life_days = fields.take("interest_half_life_days", (int, float), 30, lambda d: None if d > 0 else "must be more than 0")
    languages = fields.strings("languages", ()) or ()
    for code in languages:
        if not _LANGUAGE.fullmatch(code):
            fields.problem(f"{fields.name}: 'languages': {code!r} is not a language code", "languages", 'use codes like "nl", "en", "de"')
    language_from = fields.take(
        "language_from", str, "path", lambda v: None if v in ("path", "accept-language") else f"{v!r} is not one of path, accept-language"
    )
    why = fields.localized("why", tuple(languages), "why?") or "why?"
    category_urls = _category_urls(fields, labels)
    holdout = fields.take("holdout", (int, float), 0.0, lambda h: None if 0 <= h < 1 else "must be a share from 0 up to (not including) 1")
    fields.finish()
    folder.languages = tuple(languages)
    folder.site = Site(
        tuple(labels), labels, half_life_days * 24 * 3600.0, tuple(languages), language_from, why, category_urls, float(holdout)
    )
    return folder.site


def _shop_path_check(text: str) -> str | None:
    """A category's page must be a path on the shop: a template puts it in links as it is."""
    if _SHOP_PATH.fullmatch(text):
        return None
    return f"{text!r} is not a path on the shop"


def _category_urls(fields: Fields, labels: Mapping[str, str]) -> dict[str, str]:
    """Each category's page: `category_url = "/c/{category}"` for all, or `category_urls = { slug =
    path }` listing every category, so that {{ category_url }} has a value whoever the visitor is."""
    hint = 'a path such as "/c/dogs" (no host, no spaces)'
    if "category_url" in fields.table:
        if "category_urls" in fields.table:
            fields.problem(f"{fields.name}: give 'category_url' (a pattern) or 'category_urls' (a table), not both", "category_urls")
            fields.take("category_urls", dict, None)
        pattern = fields.take(
            "category_url", str, None, lambda v: None if "{category}" in v else 'must contain {category}, e.g. "/c/{category}"'
        )
        if pattern is None:
            return {}
        urls = {slug: pattern.replace("{category}", slug) for slug in labels}
        problem = next((_shop_path_check(url) for url in urls.values() if _shop_path_check(url)), None)
        if problem:
            fields.problem(f"{fields.name}: 'category_url': {problem}", "category_url", hint)
            return {}
        return urls
    table = fields.take("category_urls", dict, None)
    if table is None:
        return {}
    sub = fields.sub("category_urls", table)
    urls = {}
    for slug in table:
        if slug not in labels:
            sub.problem(f"{fields.name}: 'category_urls': unknown category {slug!r}", slug, f"categories are: {', '.join(labels)}")
            sub.take(slug, str, None)
            continue
        url = sub.take(slug, str, None, _shop_path_check)
        if url is not None:
            urls[slug] = url
    missing = [slug for slug in labels if slug not in table]
    if missing:
        fields.problem(f"{fields.name}: 'category_urls' gives no page for {', '.join(missing)}", "category_urls", "list every category")
    sub.finish()
    return urls if not missing and len(urls) == len(labels) else {}


def _consent(found: list[Fields], folder: _Folder) -> ConsentPolicy:
    fields = _single(found, "consent")
    if fields is None:
        return ConsentPolicy()
    return build_policy(fields)  # validates [consent] and its [consent.<source>] tables, then finish()


# The session cookies of the frameworks shops run on (Django, PHP, Java, ASP.NET, Express, Laravel, Flask,
# Rails, CodeIgniter, Magento 1): a session key, new at every login, never a customer id.
_SESSION_COOKIES = frozenset(
    {
        "sessionid",
        "phpsessid",
        "jsessionid",
        "asp.net_sessionid",
        "connect.sid",
        "laravel_session",
        "session",
        "_session_id",
        "ci_session",
        "frontend",
    }
)


def _login(found: list[Fields]) -> LoginSource:
    fields = _single(found, "login")
    if fields is None:
        return LoginSource()
    header = fields.take("header", str, None)
    cookie = fields.take("cookie", str, None)
    if cookie is not None and cookie.lower() in _SESSION_COOKIES:
        fields.problem(
            f"login.cookie: {cookie!r} is a session cookie: its value is a session key, new at every login, not a customer id,"
            " so every login would link the browser to a new customer",
            "cookie",
            "name a cookie the shop sets to the customer's id, a header (header = ...), or let the shop's backend call"
            " /.etalage/api/link at login (deploy/README.md)",
        )
        cookie = None
    logout_path = fields.regex("logout_path", fields.take("logout_path", str, None))
    fields.finish()
    return LoginSource(header.lower() if header else None, cookie, logout_path)


def _order_header(found: list[Fields]) -> str | None:
    """[orders] header: the response header in which the shop announces an order (etalage.engine.orders)."""
    fields = _single(found, "orders")
    if fields is None:
        return None
    header = fields.take("header", str, check=lambda h: None if _TOKEN.fullmatch(h) else "must be an HTTP header name")
    fields.finish()
    return header.lower() if header else None


class Catalog(dict[str, Product]):
    """The shop's products by id, as the [catalog] tables list them, with their pages indexed.

    A plain dict to everything that reads products; `paths` finds the product of a page (or of
    a card's link) by Product.page_key, and `feed_categories` is [catalog_feed]'s mapping for
    `etalage import-products`.
    """

    def __init__(self) -> None:
        super().__init__()
        self.paths: dict[str, str] = {}
        self.feed_categories: dict[str, str] = {}


_PRODUCT_KEYS = ("category", "lasts_days", "path", "title", "price", "image", "available", "bought_with")


def _path_check(path: str) -> str | None:
    if _SHOP_PATH.fullmatch(path) and not re.search(r"[?#]", path):
        return None
    return (
        "must be the path of the product's page: starting with '/', without host, query, spaces or backslashes (e.g. \"/p/dog-kibble-5kg\")"
    )


def _image_check(image: str) -> str | None:
    if _SAFE_IMAGE.match(image) and not re.search(r"[\s\x00-\x1f\x7f]", image):
        return None
    return 'must be an https: or http: address or a path on the shop (e.g. "/img/dog-kibble.jpg")'


_SAFE_IMAGE = re.compile(r"(?:https?://|/(?!/))", re.I)


def _price(price: str | int | float | None) -> str | None:
    return None if price is None else str(price)


def _catalog(found: list[Fields], site: Site, feed: list[Fields] | None = None) -> Catalog:
    """Products by id. A product may be listed in several [catalog] tables (a catalogue imported
    from a product feed, and a hand-written file adding `lasts_days`): its keys are merged, and
    must agree where two tables give the same key."""
    catalog = Catalog()
    merged: dict[str, dict[str, tuple[Any, Fields]]] = {}
    first: dict[str, Fields] = {}
    has_category: set[str] = set()
    for section in found:
        for product_id, value in section.table.items():
            entry = section.sub(product_id, section.take(product_id, dict, {}))
            values = {
                "category": entry.take(
                    "category",
                    str,
                    None,
                    lambda c: None if c in site.labels else f"unknown category {c!r} (categories are: {', '.join(site.categories)})",
                ),
                "lasts_days": entry.take("lasts_days", int, None, lambda d: None if d > 0 else "must be at least 1"),
                "path": entry.take("path", str, None, _path_check),
                "title": entry.take("title", str, None),
                # A price is shown as written ("12.99 EUR"); a bare number is accepted as a shop would write it.
                "price": _price(entry.take("price", (str, int, float), None)),
                "image": entry.take("image", str, None, _image_check),
                "available": entry.take("available", bool, None),
                "bought_with": entry.strings("bought_with", None),
            }
            entry.finish()
            first.setdefault(product_id, entry)
            if "category" in entry.table:
                has_category.add(product_id)
            known = merged.setdefault(product_id, {})
            for key in _PRODUCT_KEYS:
                value = values[key]
                if value is None:
                    continue
                if key not in known:
                    known[key] = (value, entry)
                elif known[key][0] != value:
                    entry.problem(
                        f"{entry.name}: '{key}' is {value!r} here but {known[key][0]!r} at {known[key][1].where(key)}",
                        key,
                        "a product listed in several [catalog] tables takes its keys from all of them, and they must agree",
                    )
    for product_id, known in merged.items():
        if product_id not in has_category:
            first[product_id].problem(f"{first[product_id].name}: missing required key 'category'")
        if "category" not in known:
            continue
        path = known["path"][0] if "path" in known else None
        optional = {key: known[key][0] for key in ("lasts_days", "title", "price", "image", "available", "bought_with") if key in known}
        catalog[product_id] = Product(known["category"][0], path=path, **optional)
        page = Product.page_key(path) if path is not None else None
        if page is None:
            continue
        other = catalog.paths.setdefault(page, product_id)
        if other != product_id:
            entry = known["path"][1]
            entry.problem(
                f"{entry.name}: 'path' {path!r} is also the page of product {other!r} (at {merged[other]['path'][1].where('path')})", "path"
            )
    for product_id, product in catalog.items():
        for other in product.bought_with:
            if other not in catalog:
                entry = merged[product_id]["bought_with"][1]
                entry.problem(f"{entry.name}: 'bought_with': unknown product {other!r}", "bought_with", "list ids of [catalog] products")
    catalog.feed_categories = _catalog_feed(feed or [], site)
    return catalog


def _catalog_feed(found: list[Fields], site: Site) -> dict[str, str]:
    """[catalog_feed]: which of the site's categories a product feed's category text means."""
    fields = _single(found, "catalog_feed")
    if fields is None:
        return {}
    table = fields.take("categories", dict, {})
    categories = fields.sub("categories", table)
    mapping: dict[str, str] = {}
    for text in table:
        slug = categories.take(text, str, None, _feed_category_check(text, site))
        if slug is not None:
            mapping[text] = slug
    fields.finish()
    return mapping


def _feed_category_check(text: str, site: Site) -> Callable[[str], str | None]:
    """A check of the site category that the feed's category `text` maps to."""
    return lambda c: (
        "the feed's category text is empty"
        if not text.strip()
        else None
        if c in site.labels
        else f"unknown category {c!r} (categories are: {', '.join(site.categories)})"
    )


def _learn(fields: Fields) -> LearnRule | None:
    event = fields.take(
        "event", str, check=lambda e: None if e in _LEARN_GROUPS else f"unknown event {e!r} (known: {', '.join(_LEARN_GROUPS)})"
    )
    pattern = fields.regex("path", fields.take("path", str))
    query = fields.take("query", str, None)
    order_query = fields.take("order_query", str, None)
    value_query = fields.take("value_query", str, None)
    trust_url = fields.take("trust_url", bool, None)
    fields.finish()
    if event is None or pattern is None:
        return None
    if value_query is not None and event != "purchase":
        fields.problem(f"{fields.name}: 'value_query' is only for purchases", "value_query")
        return None
    if trust_url is not None and event != "purchase":
        fields.problem(f"{fields.name}: 'trust_url' is only for purchases", "trust_url")
        return None
    group = _LEARN_GROUPS[event]
    if query is None and group not in pattern.groupindex:
        fields.problem(
            f"{fields.name}: 'path' needs a named group (?P<{group}>...) or a 'query' parameter to read the {group} from", "path"
        )
        return None
    if event == "purchase" and order_query is None:
        fields.problem(f"{fields.name}: a purchase needs 'order_query', the query parameter holding the order id")
        return None
    if event == "purchase" and trust_url is not True:
        # Anyone can send a visitor a link to the thank-you page with any order and product in it.
        fields.problem(
            f"{fields.name}: a purchase read from the page's URL needs 'trust_url = true'",
            "trust_url" if trust_url is not None else None,
            "any link can name an order and a product; say trust_url = true only if the shop answers this URL with an "
            "error page unless the order is the visitor's own (Etalage learns only from a 200 page), "
            "or import purchases from the shop with 'etalage import' instead",
        )
        return None
    return LearnRule(event, pattern, query, order_query, fields.where(), value_query)


def _blocks(found: list[Fields], catalog: Mapping[str, Product] | None = None) -> dict[str, BlockDef]:
    # Cards without a category attribute take it from the catalogue, by id or by their link's
    # page. An empty catalogue is no error here: a folder must load before its first
    # `etalage import-products`, which loads it.
    catalog = catalog if catalog is not None else Catalog()
    paths: Mapping[str, str] = getattr(catalog, "paths", {})
    blocks: dict[str, BlockDef] = {}
    for section in found:
        for name, value in section.table.items():
            section.take(name, dict, check=_key_is_slug(name))
            fields = section.sub(name, value)
            if name in blocks:
                fields.problem(f"block '{name}' is defined again (first at {blocks[name].source})")
                continue
            selector = fields.take("selector", str, check=_selector_check)
            items = fields.take("items", str, None, _selector_check)
            item_id = _card_value(fields, "item_id")
            from_link = _item_id_from_link(fields)
            item_category = _card_value(fields, "item_category")
            if items is None and ("item_id" in fields.table or "item_category" in fields.table):
                fields.problem(f"{fields.name}: item_id and item_category need 'items' (a selector for the product cards)", "items")
            if items is None and from_link is not None:
                fields.problem(f"{fields.name}: item_id_from_link needs 'items' (a selector for the product cards)", "item_id_from_link")
            # (an item_id_from_link with a mistake has its own message)
            # (an item_id or item_category with a mistake has its own message, too)
            given = ("item_id" in fields.table, "item_category" in fields.table, fields.table.get("item_id_from_link", False) is not False)
            if items is not None and not any(given):
                fields.problem(
                    f"{fields.name}: 'items' needs 'item_category', the card attribute that holds the category",
                    "items",
                    "or 'item_id' / 'item_id_from_link' to take each card's category from [catalog]",
                )
            fields.finish()
            if selector is None:
                continue
            values = [value for value in (item_id, item_category) if value is not None]
            attrs = tuple(dict.fromkeys(v.attribute for v in values if v.inner is None and v.attribute))
            inner = tuple(dict.fromkeys(v.inner for v in values if v.inner is not None))
            spec = BlockSpec(name, selector, items, attrs, item_links=items is not None and from_link is not None, item_fields=inner)
            pattern = from_link if isinstance(from_link, re.Pattern) else None
            blocks[name] = BlockDef(spec, item_id, item_category, fields.where(), pattern, from_link is True, catalog, paths)
    return blocks


def _card_value(fields: Fields, key: str) -> CardValue | None:
    """`item_id` / `item_category`: the card's attribute (a string), or a table saying where inside
    the card: `selector` (an inner element), `attribute` or `text = true`, then optionally `json`
    (a key path such as "product.asin") and `pattern` (with a group (?P<id>...))."""
    value = fields.take(key, (str, dict), None)
    if value is None:
        return None
    if isinstance(value, str):
        if not value.strip():
            fields.problem(f"{fields.name}: '{key}' is empty", key, 'give the name of the card\'s attribute, e.g. "data-sku"')
            return None
        return CardValue(value)
    table = fields.sub(key, value)
    selector = table.take("selector", str, None, _selector_check)
    attribute = table.take("attribute", str, None)
    text = table.take("text", bool, False)
    json_path = table.take("json", str, None)
    pattern = table.regex("pattern", table.take("pattern", str, None))
    misspelt = any(name not in ("selector", "attribute", "text", "json", "pattern") for name in table.table)
    table.finish()
    ok = not misspelt and ("selector" not in table.table or selector is not None)
    if attribute is not None and text:
        table.problem(f"{table.name}: give 'attribute' or 'text = true', not both", "text")
        ok = False
    elif attribute is None and not text:
        if "attribute" not in table.table and not misspelt:  # (a misspelt 'attribute' has its own message)
            table.problem(
                f"{table.name}: needs 'attribute' (the attribute that holds it) or 'text = true' (the element's text)",
                None,
                'e.g. { selector = ".product--box", attribute = "data-category" }',
            )
        ok = False
    elif attribute is not None and not attribute.strip():
        table.problem(f"{table.name}: 'attribute' is empty", "attribute")
        ok = False
    if text and selector is None and "selector" not in table.table:
        table.problem(f"{table.name}: 'text = true' needs 'selector', the element inside the card whose text holds it", "text")
        ok = False
    keys: tuple[str, ...] = ()
    if json_path is not None:
        keys = tuple(json_path.split("."))
        if not all(keys):
            table.problem(f"{table.name}: 'json': {json_path!r} is not a key path", "json", 'keys joined by dots, e.g. "product.asin"')
            ok = False
    if pattern is not None and "id" not in pattern.groupindex:
        table.problem(f"{table.name}: 'pattern' needs a named group (?P<id>...) to read the value from", "pattern")
        ok = False
    if not ok or ("pattern" in table.table and pattern is None):
        return None
    inner = ItemField(selector, attribute) if selector is not None else None
    return CardValue(attribute, inner, keys, pattern)


def _item_id_from_link(fields: Fields) -> re.Pattern[str] | bool | None:
    """`item_id_from_link`: a pattern with the group (?P<id>...), or true (the catalogue's paths)."""
    value = fields.take("item_id_from_link", (str, bool), None)
    if value is None or value is False:
        return None
    if value is True:
        return True
    pattern = fields.regex("item_id_from_link", value)
    if pattern is not None and "id" not in pattern.groupindex:
        fields.problem(
            f"{fields.name}: 'item_id_from_link' needs a named group (?P<id>...) to read the product id from", "item_id_from_link"
        )
        return None
    return pattern


def _rules(
    found: list[Fields],
    site: Site,
    catalog: dict[str, Product],
    segments: dict[str, Condition],
    blocks: dict[str, BlockDef],
    declared: set[str],
    folder: _Folder,
) -> tuple[Rule, ...]:
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    for fields in found:
        rule_id = fields.take("id", str, check=_slug_check)
        if rule_id is not None:
            fields.label = f"rule '{rule_id}'"
        kind = fields.take("action", str, check=lambda a: None if a in ACTIONS else f"unknown action {a!r} (known: {', '.join(ACTIONS)})")
        if fields.take("enabled", bool, True) is False:
            continue
        block_name = fields.take("block", str, None)
        pages = tuple(filter(None, (fields.regex("pages", p) for p in fields.strings("pages", ()) or ())))
        when = compile_condition(fields, "when", site, catalog, segments)
        if when is not None and (reason := never_fires(when)):
            fields.problem(f"{fields.name} can never fire: {reason}", "when", "loosen or remove one of the conditions")
        priority = fields.take("priority", int, 0)
        if rule_id is not None and rule_id in seen:
            fields.problem(f"rule id '{rule_id}' is used again (first at {seen[rule_id]})", "id")
        elif rule_id is not None:
            seen[rule_id] = fields.where("id")
        action_type = ACTIONS.get(kind) if kind else None
        block = None
        if action_type is not None:
            block = _rule_block(fields, action_type, block_name, blocks, declared)
        if action_type is None:
            fields.finish()
            continue
        action = action_type.compile(fields, CompileContext(site, block, folder.template, catalog, blocks))
        fields.finish()
        if action is not None and rule_id is not None and when is not None and (block is not None or not action_type.needs_block):
            rules.append(Rule(rule_id, action, block_name if action_type.needs_block else None, pages, priority, fields.where(), when))
    # Stable sort: file order decides among different blocks at equal priority.
    return tuple(sorted(rules, key=lambda rule: -rule.priority))


def _rule_block(
    fields: Fields, action_type: type[Action], block_name: str | None, blocks: dict[str, BlockDef], declared: set[str]
) -> BlockDef | None:
    if not action_type.needs_block:
        if block_name is not None:
            fields.problem(f"{fields.name}: a {action_type.kind} rule does not take a 'block'", "block")
        return None
    if block_name is None:
        fields.problem(f"{fields.name}: a {action_type.kind} rule needs 'block', the name of a [blocks.<name>] table")
        return None
    block = blocks.get(block_name)
    if block is None and block_name in declared:
        return None  # a block with errors of its own, reported where it is defined
    if block is None:
        fields.problem(f"{fields.name}: unknown block '{block_name}'", "block", f"defined blocks: {', '.join(blocks) or 'none'}")
        return None
    if action_type.needs_items and block.spec.item_selector is None:
        fields.problem(
            f"{fields.name}: a {action_type.kind} rule needs a block with 'items' and 'item_category'; block '{block_name}' has none",
            "block",
        )
        return None
    return block


def _check_conflicts(rules: tuple[Rule, ...], experiments: tuple[Experiment, ...], folder: _Folder) -> None:
    """Two rules on one block at the same priority would leave the winner to chance: refuse, unless
    their `pages` show that no page can have both (see _pages_disjoint), or no visitor can see both
    (different variants of one experiment)."""
    claimed: dict[tuple[str, int], list[Rule]] = {}
    for rule in rules:
        target = rule.target
        earlier = claimed.setdefault((target, rule.priority), [])
        first = next((other for other in earlier if not _pages_disjoint(other, rule) and not exclusive(experiments, other, rule)), None)
        earlier.append(rule)
        if first is not None:
            file, _, line = rule.source.rpartition(":")
            folder.problems.append(
                Problem(
                    file,
                    int(line),
                    f"rules '{first.id}' (at {first.source}) and '{rule.id}' both change '{target}' at priority {rule.priority}",
                    "give one of them a higher 'priority', or 'pages' that cannot match the same page",
                )
            )


_REGEX_SYNTAX = frozenset(".^$*+?{}[]\\|()")
_QUANTIFIERS = frozenset("*+?{")


def _anchored_literal(pattern: re.Pattern[str]) -> tuple[str, str] | None:
    """The literal text that every path `pattern` matches starts with, and the rest of the
    pattern; None when the pattern is not anchored at the start with plain text after it.

    Whether two regular expressions can match one string is decidable but costly to decide
    in general; this reads only the common shape of page patterns, '^/c/' or '^/$', and gives
    None, "may match anything", for the rest (alternatives, flags, groups first), so that a
    clash is never missed.
    """
    source = pattern.pattern
    if pattern.flags & (re.IGNORECASE | re.MULTILINE | re.VERBOSE) or "|" in source:
        return None
    start = 1 if source.startswith("^") else 2 if source.startswith("\\A") else 0
    if not start:
        return None
    literal: list[str] = []
    index = start
    while index < len(source):
        char = source[index]
        if char == "\\" and index + 1 < len(source) and not source[index + 1].isalnum():
            char, step = source[index + 1], 2
        elif char in _REGEX_SYNTAX:
            break
        else:
            step = 1
        if source[index + step : index + step + 1] in _QUANTIFIERS:
            break  # 'a*', 'a?', 'a{0,2}': the character may repeat or be absent
        literal.append(char)
        index += step
    return "".join(literal), source[index:]


def _pages_disjoint(first: Rule, second: Rule) -> bool:
    """True only when no path is matched by a `pages` pattern of both rules (a rule without
    `pages` applies to every page). Two patterns are known apart when one is a whole path
    ('^/$', '^/cart\\Z') that the other does not match, or when both begin with texts of which
    neither begins the other ('^/c/' and '^/p/'); any other pair is assumed to overlap."""
    if not first.pages or not second.pages:
        return False
    return all(_patterns_disjoint(a, b) for a in first.pages for b in second.pages)


def _patterns_disjoint(first: re.Pattern[str], second: re.Pattern[str]) -> bool:
    shapes = (_anchored_literal(first), _anchored_literal(second))
    for shape, other in ((shapes[0], second), (shapes[1], first)):
        if shape is not None and shape[1] in ("$", "\\Z"):
            # The whole path ('$' also matches before a final newline): ask the other pattern.
            literal, end = shape
            return not any(other.search(path) for path in ((literal, literal + "\n") if end == "$" else (literal,)))
    if shapes[0] is None or shapes[1] is None:
        return False
    a, b = shapes[0][0], shapes[1][0]
    return not (a.startswith(b) or b.startswith(a))
