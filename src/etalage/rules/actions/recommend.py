"""recommend: add cards for catalogue products that are not on the page.

Sorting only reorders what the shop rendered: a first catalogue page of dogs and cats shows a rodent
lover nothing for rodents. This action renders up to `count` products from [catalog] with a card
template (`{{ title }}`, `{{ url }}`, `{{ price }}`, `{{ image }}`, `{{ category_label }}`, all
escaped for where they stand, the URL ones scheme-checked) and places them like insert (`position`
prepend / append / before / after the block). The products come from one `source`:

- `top_category`: more products of the visitor's strongest category, in catalogue order;
- `recently_viewed`: the products the visitor viewed, latest first;
- `replenishment`: consumables whose supply (`lasts_days`, as the replenishment_due condition
  counts it) runs out within `within_days` (7 by default) or ran out less than one supply ago,
  the soonest first;
- `bought_together`: the products [catalog] lists as bought with (`bought_with`) what the visitor
  bought, their latest purchase first.

Never recommended: a product without a `path` (a card must link somewhere), one marked
`available = false`, one already on the page (the block's cards, when the block identifies its
products, and the product whose page this is), one the visitor bought, except for
replenishment, whose point is buying it again, and one of a category the visitor excluded ("Never
suggest" on /.etalage/me) or said "not for me" to on this rule. With nothing left to show the page
stays as it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from etalage.html.page import Block, Edit
from etalage.html.templates import Template
from etalage.profiles.profile import Profile
from etalage.rules.actions.base import (
    Action,
    CompileContext,
    PageContext,
    encode_fragment,
    interest_reason,
    mark_block,
    ranked_categories,
)
from etalage.rules.actions.placement import POSITIONS, offset, position_check, unplaced
from etalage.rules.conditions.profile import supply_ends
from etalage.rules.fields import Fields
from etalage.rules.model import BlockDef, Product, Site

__all__ = ["Recommend"]

PROVIDES = frozenset({"title", "url", "price", "image", "category_label"})
SOURCES = ("top_category", "recently_viewed", "replenishment", "bought_together")
DAY = 24 * 3600.0


def _source_check(source: str) -> str | None:
    return None if source in SOURCES else f"unknown source {source!r} (known: {', '.join(SOURCES)})"


class Recommend(Action):
    kind = "recommend"

    def __init__(
        self,
        source: str,
        position: str,
        template: Template,
        catalog: Mapping[str, Product],
        block: BlockDef | None = None,
        count: int = 4,
        within_days: float = 7,
        blocks: Mapping[str, BlockDef] | None = None,
    ) -> None:
        assert source in SOURCES and position in POSITIONS
        self.source = source
        self.position = position
        self.template = template
        # Only products a card can link to, in catalogue order.
        self.catalog = {product_id: product for product_id, product in catalog.items() if product.path}
        # Product pages (Product.page_key) -> product: the page's own product is on the page.
        self.pages = {Product.page_key(product.path or ""): product_id for product_id, product in self.catalog.items()}
        # Per category, in catalogue order: a page view looks at one category, not the whole catalogue.
        self.by_category: dict[str, list[str]] = {}
        for product_id, product in self.catalog.items():
            self.by_category.setdefault(product.category, []).append(product_id)
        self._bought_with = {product_id: product.bought_with for product_id, product in catalog.items() if product.bought_with}
        self.consumables = {product_id: product for product_id, product in self.catalog.items() if product.lasts_days}
        self.block = block
        # The blocks whose cards name their product: what a page shows in them is on the page already.
        self.identifying = {name: definition for name, definition in (blocks or {}).items() if definition.identifies_products}
        if block is not None and block.identifies_products:
            self.identifying[block.spec.name] = block
        self.count = count
        self.within_days = within_days

    @classmethod
    def compile(cls, fields: Fields, context: CompileContext) -> Recommend | None:
        source = fields.take("source", str, check=_source_check)
        position = fields.take("position", str, check=position_check)
        count = fields.take("count", int, 4, lambda c: None if 1 <= c <= 24 else "must be from 1 to 24")
        within_days = fields.take("within_days", (int, float), 7, lambda d: None if d >= 0 else "must be 0 or more")
        if source is not None and source != "replenishment" and "within_days" in fields.table:
            fields.problem(f"{fields.name}: 'within_days' is only for source = \"replenishment\"", "within_days")
            within_days = None
        template = context.template(fields, "template", PROVIDES)
        if source is None or position is None or count is None or within_days is None or template is None:
            return None
        linked = [product for product in context.catalog.values() if product.path]
        if not linked:
            fields.problem(
                f"{fields.name}: a recommend rule needs [catalog] products with a 'path'",
                "source",
                'cards link to the products\' pages: add path = "/p/..." to [catalog] entries, as etalage import-products writes it',
            )
            return None
        if source == "bought_together" and not any(product.bought_with for product in context.catalog.values()):
            fields.problem(
                f"{fields.name}: source \"bought_together\" needs [catalog] products with 'bought_with'",
                "source",
                'list what is often bought with a product, e.g. bought_with = ["dog-bowl"]',
            )
            return None
        if source == "replenishment" and not any(product.lasts_days for product in linked):
            fields.problem(
                f"{fields.name}: source \"replenishment\" needs [catalog] products with 'lasts_days'",
                "source",
                "say how many days one purchase lasts, e.g. lasts_days = 30",
            )
            return None
        return cls(source, position, template, context.catalog, context.block, count, float(within_days), context.blocks)

    def products(self, rule_id: str, profile: Profile, site: Site, now: float, on_page: frozenset[str] = frozenset()) -> list[str]:
        """The product ids to show, best first: the source's candidates minus the exclusions."""
        bought = frozenset() if self.source == "replenishment" else frozenset(p.sku for p in profile.purchases)
        chosen: list[str] = []
        for product_id in self._candidates(rule_id, profile, site, now):
            product = self.catalog.get(product_id)
            if product is None or not product.available or product_id in on_page or product_id in bought or product_id in chosen:
                continue
            # "Never suggest" on /.etalage/me, and "not for me" on this rule, hold whatever the source:
            # a product viewed, bought with another or due again is still of that category.
            if product.category in profile.exclusions or f"{rule_id}:{product.category}" in profile.dismissed:
                continue
            chosen.append(product_id)
            if len(chosen) == self.count:
                break
        return chosen

    def _candidates(self, rule_id: str, profile: Profile, site: Site, now: float) -> Iterable[str]:
        if self.source == "recently_viewed":
            return profile.recent_products
        if self.source == "top_category":
            ranked = ranked_categories(profile, site, now, rule_id)
            if not ranked:
                return []
            return self.by_category.get(ranked[0][0], [])
        if self.source == "bought_together":
            return [other for purchase in reversed(profile.purchases) for other in self._bought_with.get(purchase.sku, ())]
        return [product_id for _, product_id in self._due(profile, now)]

    def _due(self, profile: Profile, now: float) -> list[tuple[float, str]]:
        """(end of supply, product id) of bought consumables due again, the soonest first."""
        if not profile.purchases:
            return []
        ahead = self.within_days * DAY
        due = []
        for product_id, end in supply_ends(profile, self.consumables).items():
            lasts = self.catalog[product_id].lasts_days or 0
            if end - ahead <= now <= end + lasts * DAY:
                due.append((end, product_id))
        return sorted(due)

    def _on_page(self, page: PageContext) -> frozenset[str]:
        """The products the page already shows: the cards of every block found on it that name their
        product (this block's, and a carousel another rule uses), and the product whose page this is;
        worked out once per cached page layout."""
        key = (self, "on_page")
        found = page.derived.get(key)
        if not isinstance(found, frozenset):
            ids: set[str] = set()
            for name, located in page.layout.blocks.items():
                definition = self.identifying.get(name)
                if definition is not None:
                    ids.update(filter(None, (definition.id_of(item, page.path) for item in located.items)))
            here = Product.page_key(page.path)
            if here is not None and here in self.pages:
                ids.add(self.pages[here])
            found = page.derived[key] = frozenset(ids)
        return found

    def apply(self, rule_id: str, block: Block | None, page: PageContext) -> list[Edit]:
        assert block is not None
        at = offset(block, self.position)
        if at is None:
            return []
        chosen = self.products(rule_id, page.profile, page.site, page.now, self._on_page(page))
        if not chosen:
            return []
        cards = []
        for product_id in chosen:
            product = self.catalog[product_id]
            values = {
                "title": product.title or product_id,
                "url": product.path or "",
                "price": product.price or "",
                "image": product.image or "",
                "category_label": page.site.labels.get(product.category, product.category),
            }
            cards.append(self.template.render(values, page.language))
        data = encode_fragment("".join(cards), page.charset)
        return [mark_block(block, rule_id), Edit(at, at, data, trailing=self.position == "after")]

    def unchanged(self, rule_id: str, block: Block | None, page: PageContext) -> str | None:
        return unplaced(block, self.position)

    def why(self, rule_id: str, profile: Profile, site: Site, now: float) -> str | None:
        chosen = self.products(rule_id, profile, site, now)
        if not chosen:
            return None
        if self.source == "top_category":
            top = self.catalog[chosen[0]].category
            return f"shows more {site.labels[top]} products, because {interest_reason(profile, site, top)}"
        if self.source == "recently_viewed":
            return "shows products you looked at recently"
        if self.source == "bought_together":
            return "shows products often bought with what you bought"
        return "shows products you bought that may be running out"
