"""What every action is: compiled once from its rule table, applied per page view under a guard."""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import ClassVar

from etalage.html.page import Block, Edit, PageLayout
from etalage.html.templates import Template
from etalage.profiles.profile import Profile
from etalage.rules.fields import Fields
from etalage.rules.model import BlockDef, Product, Site

# What a template about the visitor's strongest category may name (category_url only where [site]
# gives the categories' pages: check_category_url).
CATEGORY_VALUES = frozenset({"category", "category_label", "category_url"})
# The visitor's most recently viewed [catalog] product of that category, one with a page to link to
# (the profile keeps recent views, not counts): product_values.
PRODUCT_VALUES = frozenset({"product_title", "product_url", "product_price", "product_image"})

__all__ = [
    "Action",
    "CompileContext",
    "PageContext",
    "mark_block",
    "encode_fragment",
    "label_html",
    "take_label",
    "ranked_categories",
    "strongest_category",
    "template_values",
    "category_values",
    "CATEGORY_VALUES",
    "PRODUCT_VALUES",
    "linked_products",
    "template_names",
    "product_values",
    "check_category_url",
    "interest_reason",
]


@dataclass(frozen=True, slots=True)
class CompileContext:
    site: Site
    block: BlockDef | None
    # template(fields, key, provided names) -> compiled template, or None after recording a problem
    template: Callable[[Fields, str, frozenset[str]], Template | None]
    # The shop's [catalog] (product id -> Product), for actions that show products not on the page.
    catalog: Mapping[str, Product] = field(default_factory=dict)
    # Every [blocks.<name>] of the rule set: what other blocks on a page show (products already there).
    blocks: Mapping[str, BlockDef] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PageContext:
    layout: PageLayout
    profile: Profile
    site: Site
    charset: str
    path: str
    now: float
    language: str = ""
    # What actions derive from the layout alone (a block's card categories...), keyed by the
    # action: kept with the cached layout, so it is worked out once per page, not per view.
    derived: dict[object, object] = field(default_factory=dict)
    # The visitor's interest on this page view (_interest), worked out once for all its rules.
    interest: tuple[tuple[str, float], ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "interest", _interest(self.profile, self.site, self.now))

    def ranked_categories(self, rule_id: str) -> list[tuple[str, float]]:
        """Categories with some interest, strongest first (site order breaks ties), minus the ones the
        visitor excluded (they have no interest) or marked "not for me" for this rule."""
        return _for_rule(self.interest, self.profile, rule_id)


def ranked_categories(profile: Profile, site: Site, now: float, rule_id: str) -> list[tuple[str, float]]:
    return _for_rule(_interest(profile, site, now), profile, rule_id)


def _interest(profile: Profile, site: Site, now: float) -> tuple[tuple[str, float], ...]:
    scored = [(category, profile.affinity(category, now, site.half_life)) for category in site.categories]
    return tuple(sorted((pair for pair in scored if pair[1] > 0), key=lambda pair: -pair[1]))


def _for_rule(interest: tuple[tuple[str, float], ...], profile: Profile, rule_id: str) -> list[tuple[str, float]]:
    dismissed = profile.dismissed
    if not dismissed:
        return list(interest)
    return [pair for pair in interest if f"{rule_id}:{pair[0]}" not in dismissed]


def encode_fragment(text: str, charset: str) -> bytes:
    # Characters the page's charset cannot carry become character references, never '?'; a page
    # of uncertain encoding has charset "ascii" (etalage.html.page.charset_of), so all of them do.
    return text.encode(charset, "xmlcharrefreplace")


def strongest_category(profile: Profile, site: Site, now: float, rule_id: str) -> str | None:
    """The category a template's {{ category }} stands for: the visitor's strongest for this rule."""
    ranked = ranked_categories(profile, site, now, rule_id)
    return ranked[0][0] if ranked else None


def interest_reason(profile: Profile, site: Site, category: str) -> str:
    """Why a category was chosen for the visitor, in their words (for the visitor's own page)."""
    label = site.labels[category]
    if category in profile.interests:
        return f"you told us you are interested in {label}"
    return f"{label} is what you look at most"


def template_values(page: PageContext, rule_id: str, personal: bool) -> dict[str, str] | None:
    """Values for a template's placeholders: the visitor's strongest category when the template
    uses one; None when it does and the visitor has no interest to fill it with."""
    if not personal:
        return {}
    ranked = page.ranked_categories(rule_id)
    if not ranked:
        return None
    return category_values(page.site, ranked[0][0])


def category_values(site: Site, category: str) -> dict[str, str]:
    """A template's values for one category: its slug, label and, when [site] gives it, its page."""
    values = {"category": category, "category_label": site.labels[category]}
    if category in site.category_urls:
        values["category_url"] = site.category_urls[category]
    return values


def linked_products(catalog: Mapping[str, Product]) -> dict[str, Product]:
    """The [catalog] products a template can link to (those with a page)."""
    return {product_id: product for product_id, product in catalog.items() if product.path}


def template_names(context: CompileContext) -> frozenset[str]:
    """What a template about the visitor's strongest category may name here: the product values
    only where [catalog] has products with a page (elsewhere they are unknown names)."""
    return CATEGORY_VALUES | PRODUCT_VALUES if linked_products(context.catalog) else CATEGORY_VALUES


def product_values(products: Mapping[str, Product], recent: Sequence[str], category: str) -> dict[str, str] | None:
    """The product values: the visitor's most recently viewed product of `category` among
    `products` (linked_products), or None when they viewed none, so nobody gets an empty link."""
    for product_id in recent:
        product = products.get(product_id)
        if product is not None and product.category == category:
            return {
                "product_title": product.title or "",
                "product_url": product.path or "",
                "product_price": product.price or "",
                "product_image": product.image or "",
            }
    return None


def check_category_url(fields: Fields, key: str, names: frozenset[str], site: Site) -> bool:
    """False (with a problem recorded) when a template names {{ category_url }} and [site] gives
    no category pages: at run time the value would be missing, so it is refused at load."""
    if "category_url" not in names or site.category_urls:
        return True
    fields.problem(
        f"{fields.name}: '{key}' uses {{{{ category_url }}}}, but [site] gives no category pages",
        key,
        'add category_url = "/c/{category}" or category_urls = { dogs = "/c/dogs", ... } to [site]',
    )
    return False


def take_label(fields: Fields, site: Site) -> str | Mapping[str, str] | None:
    """A rule's optional `label`: one text, or one per site language (`label = { nl = "Voor jou",
    en = "For you" }`), so a German page does not get a Dutch label."""
    return fields.localized("label", site.languages, None)


def label_html(label: str | Mapping[str, str] | None, page: PageContext) -> str:
    """The optional visible label of a personalized block, linking to the visitor's own page; the
    label and the link's text in the page's language (the site's `why`, "why?" by default)."""
    if not label:
        return ""
    text = label if isinstance(label, str) else label.get(page.language) or next(iter(label.values()), "")
    if not text:
        return ""
    why = page.site.why_text(page.language)
    return f'<p class="etalage-label"><small>{escape(text)} · <a href="/.etalage/me">{escape(why)}</a></small></p>'


def mark_block(block: Block, rule_id: str) -> Edit:
    """Tag the block's start tag so tests, explain and the visitor's page can find what changed."""
    return Edit(block.tag_end, block.tag_end, f' data-etalage-rule="{escape(rule_id)}"'.encode("ascii"))


class Action(abc.ABC):
    kind: ClassVar[str]
    needs_block: ClassVar[bool] = True
    needs_items: ClassVar[bool] = False

    @classmethod
    @abc.abstractmethod
    def compile(cls, fields: Fields, context: CompileContext) -> Action | None:
        """Validate the action's own keys (recording problems in `fields`) and build it."""

    @abc.abstractmethod
    def apply(self, rule_id: str, block: Block | None, page: PageContext) -> list[Edit]:
        """Edits for this page view; [] leaves the page alone."""

    @abc.abstractmethod
    def why(self, rule_id: str, profile: Profile, site: Site, now: float) -> str | None:
        """In the visitor's own words, why this rule would personalize for them now; None if it would not."""

    def unchanged(self, rule_id: str, block: Block | None, page: PageContext) -> str | None:
        """Why apply() left this page alone whoever the visitor is (a block whose cards say nothing to
        act on, no verified place beside the block): explain shows it, where "nothing to change for
        this visitor" would send the reader to the wrong place; None when it is about the visitor."""
        return None

    def status(self) -> str | None:
        """What the rule found on the last page it ran on, for /.etalage/admin/rules; None: nothing to say."""
        return None
