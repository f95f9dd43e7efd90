"""sort: reorder a container's product cards by the visitor's category interest (stable for ties)."""

from __future__ import annotations

from ..page import Block, Edit, reorder_items
from ..ruleset import Fields
from .base import Action, CompileContext, PageContext, mark_block


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
        views = page.profile.category_views
        scores = [views.get(item.attrs.get(self.category_attr, ""), 0) for item in block.items]
        order = sorted(range(len(scores)), key=lambda index: -scores[index])
        if order == list(range(len(scores))):
            return []
        return [mark_block(block, rule_id), *reorder_items(block, order)]
