"""banner: replace a block's content with a template.

Either `templates = { category = file }`, one per category, chosen by the visitor's strongest
interest; or one `template = file` for every category. A single template without placeholders is
shown whenever the rule's conditions hold (a campaign, a restock reminder, a welcome back); one that
uses `{{ category }}` or `{{ category_label }}` is filled with the visitor's strongest interest and,
as insert's, only shown to visitors who have one. As in insert, templates may use the product
values (`{{ product_title }}`, `{{ product_url }}`...) where [catalog] has products with a page:
the visitor's last viewed product of that category, and no banner for a visitor who viewed none.
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
    category_values,
    encode_fragment,
    interest_reason,
    label_html,
    linked_products,
    mark_block,
    product_values,
    ranked_categories,
    strongest_category,
    take_label,
    template_names,
    template_values,
)
from etalage.rules.fields import Fields
from etalage.rules.model import Product, Site

__all__ = ["Banner"]


class Banner(Action):
    kind = "banner"

    def __init__(
        self,
        templates: Mapping[str, Template],
        fixed: Template | None = None,
        label: str | Mapping[str, str] | None = None,
        catalog: Mapping[str, Product] | None = None,
    ) -> None:
        self.templates = templates
        self.fixed = fixed
        self.label = label
        self.products = linked_products(catalog or {})

    @classmethod
    def compile(cls, fields: Fields, context: CompileContext) -> Banner | None:
        label = take_label(fields, context.site)
        if "template" in fields.table:
            if "templates" in fields.table:
                fields.problem(f"{fields.name}: give 'template' (one for everyone) or 'templates' (one per category), not both", "template")
            fields.take("templates", dict, None)
            fixed = context.template(fields, "template", template_names(context))
            return cls({}, fixed, label, context.catalog) if fixed is not None else None
        table = fields.take("templates", dict)
        if table is None:
            return None
        per_category = fields.sub("templates", table)
        templates = {}
        for category in table:
            if category not in context.site.labels:
                per_category.problem(
                    f"{fields.name}: unknown category '{category}' in 'templates'",
                    category,
                    f"categories are: {', '.join(context.site.categories)}",
                )
                per_category.take(category, str)
                continue
            template = context.template(per_category, category, template_names(context))
            if template is not None:
                templates[category] = template
        per_category.finish()
        return cls(templates, None, label, context.catalog)

    def _choice(self, ranked: list[tuple[str, float]]) -> str | None:
        """The visitor's strongest category (of `ranked`, as ranked_categories gives it), if it has a template."""
        top = ranked[0][0] if ranked else None
        return top if top in self.templates else None

    def apply(self, rule_id: str, block: Block | None, page: PageContext) -> list[Edit]:
        assert block is not None
        values: dict[str, str] | None
        if self.fixed is not None:
            template = self.fixed
            values = template_values(page, rule_id, bool(template.names))
            if values is None:
                return []  # the template names a category and this visitor has none
        else:
            top = self._choice(page.ranked_categories(rule_id))
            if top is None:
                return []
            template, values = self.templates[top], category_values(page.site, top)
        if template.names & PRODUCT_VALUES:
            product = product_values(self.products, page.profile.recent_products, values["category"])
            if product is None:
                return []  # no product of the visitor's category to show
            values |= product
        html = template.render(values, page.language) + label_html(self.label, page)
        return [mark_block(block, rule_id), Edit(block.inner_start, block.inner_end, encode_fragment(html, page.charset))]

    def why(self, rule_id: str, profile: Profile, site: Site, now: float) -> str | None:
        if self.fixed is not None:
            if not self.fixed.names:
                return None  # the same message for everyone: the rule's conditions are the reason
            category = strongest_category(profile, site, now, rule_id)
            if category is None:
                return None
            return f"shows a banner about {site.labels[category]}, because {interest_reason(profile, site, category)}"
        top = self._choice(ranked_categories(profile, site, now, rule_id))
        if top is None:
            return None
        return f"shows a {site.labels[top]} banner, because {interest_reason(profile, site, top)}"
