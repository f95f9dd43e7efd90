"""insert: add a template next to a block's content or next to the block itself.

`prepend` / `append` put it first / last inside the block; `before` / `after` put it outside, as
the block's previous / next sibling. The block's own content stays. The template may use
`{{ category }}` and `{{ category_label }}`, the visitor's strongest interest; such a template is
only inserted for visitors who have one. A template without placeholders is inserted whenever
the rule's conditions hold. Either way the block gets the rule's `data-etalage-rule` marker.
Where [catalog] has products with a `path`, the template may also use `{{ product_title }}`,
`{{ product_url }}`, `{{ product_price }}` and `{{ product_image }}`: the product of that category
the visitor viewed last (the profile keeps recent views, not counts), so a visitor who viewed none
gets nothing rather than an empty link.

Outside the block is only written where `etalage.html.page` verified that content lands there as a
sibling (Block.start / Block.end): not in a table row, a list, a link or a paragraph, not after an
element without an end tag. On a page where it did not, the rule changes nothing (fail open).
"""

from __future__ import annotations

from collections.abc import Mapping

from etalage.html.page import Block, Edit
from etalage.html.templates import Template
from etalage.profiles.profile import Profile
from etalage.rules.actions.base import (
    PRODUCT_VALUES,
    Action,
    CompileContext,
    PageContext,
    encode_fragment,
    interest_reason,
    linked_products,
    mark_block,
    product_values,
    strongest_category,
    template_names,
    template_values,
)
from etalage.rules.actions.placement import offset, position_check, unplaced
from etalage.rules.fields import Fields
from etalage.rules.model import Product, Site

__all__ = ["Insert"]


class Insert(Action):
    kind = "insert"

    def __init__(self, position: str, template: Template, catalog: Mapping[str, Product] | None = None) -> None:
        self.position = position
        self.template = template
        self.personal = bool(template.names)
        self.about_product = bool(template.names & PRODUCT_VALUES)
        self.products = linked_products(catalog or {})

    @classmethod
    def compile(cls, fields: Fields, context: CompileContext) -> Insert | None:
        position = fields.take("position", str, check=position_check)
        template = context.template(fields, "template", template_names(context))
        if position is None or template is None:
            return None
        return cls(position, template, context.catalog)

    def apply(self, rule_id: str, block: Block | None, page: PageContext) -> list[Edit]:
        assert block is not None
        at = offset(block, self.position)
        values = template_values(page, rule_id, self.personal)
        if at is None or values is None:
            return []
        if self.about_product:
            product = product_values(self.products, page.profile.recent_products, values["category"])
            if product is None:
                return []  # no product of the visitor's category to show
            values |= product
        data = encode_fragment(self.template.render(values, page.language), page.charset)
        return [mark_block(block, rule_id), Edit(at, at, data, trailing=self.position == "after")]

    def unchanged(self, rule_id: str, block: Block | None, page: PageContext) -> str | None:
        return unplaced(block, self.position)

    def why(self, rule_id: str, profile: Profile, site: Site, now: float) -> str | None:
        if not self.personal:
            return None  # the same content for everyone: the rule's conditions are the reason
        top = strongest_category(profile, site, now, rule_id)
        if top is None:
            return None
        return f"adds something about {site.labels[top]} to the page, because {interest_reason(profile, site, top)}"
