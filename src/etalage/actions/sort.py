"""sort: reorder a container's product cards by the visitor's category interest (stable for ties)."""

from __future__ import annotations

from ..page import Block, Edit, reorder_items
from ..profile import Profile
from ..ruleset import Fields, Site
from .base import Action, CompileContext, PageContext, mark_block, ranked_categories


class Sort(Action):
    kind = "sort"
    needs_items = True

    def __init__(self, category_attr: str) -> None:
        self.category_attr = category_attr

    @classmethod
    def compile(cls, fields: Fields, context: CompileContext) -> Sort | None:
        if context.block is None or context.block.item_category is None:
            return None  # the loader reports a block without items
        return cls(context.block.item_category)

    def apply(self, rule_id: str, block: Block | None, page: PageContext) -> list[Edit]:
        assert block is not None
        interest = dict(page.ranked_categories(rule_id))
        excluded = page.profile.exclusions
        # Excluded categories go last; otherwise stronger interest first, the shop's order for ties.
        scores = []
        for item in block.items:
            category = item.attrs.get(self.category_attr, "")
            scores.append(-1.0 if category in excluded else interest.get(category, 0.0))
        order = sorted(range(len(scores)), key=lambda index: -scores[index])
        if order == list(range(len(scores))):
            return []
        return [mark_block(block, rule_id), *reorder_items(block, order)]

    def why(self, rule_id: str, profile: Profile, site: Site, now: float) -> str | None:
        ranked = ranked_categories(profile, site, now, rule_id)
        if not ranked:
            return None
        names = ", ".join(site.labels[category] for category, _ in ranked[:3])
        return f"lists products in the order of your interests: {names}"
