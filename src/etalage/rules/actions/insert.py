"""insert: add a template next to a block's content or next to the block itself.

`prepend` / `append` put it first / last inside the block; `before` / `after` put it outside, as
the block's previous / next sibling. The block's own content stays. The template may use
`{{ category }}` and `{{ category_label }}`, the visitor's strongest interest; such a template is
only inserted for visitors who have one. A template without placeholders is inserted whenever
the rule's conditions hold. Either way the block gets the rule's `data-etalage-rule` marker.

Outside the block is only written where `etalage.html.page` verified that content lands there as a
sibling (Block.start / Block.end): not in a table row, a list, a link or a paragraph, not after an
element without an end tag. On a page where it did not, the rule changes nothing (fail open).
"""

from __future__ import annotations

from etalage.html.page import Block, Edit
from etalage.html.templates import Template
from etalage.profiles.profile import Profile
from etalage.rules.actions.base import (
    CATEGORY_VALUES,
    Action,
    CompileContext,
    PageContext,
    encode_fragment,
    interest_reason,
    mark_block,
    strongest_category,
    template_values,
)
from etalage.rules.fields import Fields
from etalage.rules.model import Site

__all__ = ["Insert"]

PROVIDES = CATEGORY_VALUES
POSITIONS = ("before", "after", "prepend", "append")


def _position_check(position: str) -> str | None:
    if position in POSITIONS:
        return None
    return f"unknown position {position!r} (known: {', '.join(POSITIONS)})"


def _offset(block: Block, position: str) -> int | None:
    """Where the template goes; None when that place is not verified on this page."""
    if position == "prepend":
        return block.inner_start
    if position == "append":
        return block.inner_end
    return block.start if position == "before" else block.end


class Insert(Action):
    kind = "insert"

    def __init__(self, position: str, template: Template) -> None:
        self.position = position
        self.template = template
        self.personal = bool(template.names)

    @classmethod
    def compile(cls, fields: Fields, context: CompileContext) -> Insert | None:
        position = fields.take("position", str, check=_position_check)
        template = context.template(fields, "template", PROVIDES)
        if position is None or template is None:
            return None
        return cls(position, template)

    def apply(self, rule_id: str, block: Block | None, page: PageContext) -> list[Edit]:
        assert block is not None
        at = _offset(block, self.position)
        values = template_values(page, rule_id, self.personal)
        if at is None or values is None:
            return []
        data = encode_fragment(self.template.render(values, page.language), page.charset)
        return [mark_block(block, rule_id), Edit(at, at, data, trailing=self.position == "after")]

    def unchanged(self, rule_id: str, block: Block | None, page: PageContext) -> str | None:
        if block is None or self.position in ("prepend", "append") or _offset(block, self.position) is not None:
            return None
        return (
            f"no verified place {self.position} block '{block.name}' on this page: content there would not be a visible"
            " sibling of the block (it is in a list, a table, a link or a paragraph, or misnested), or its end is implied"
        )

    def why(self, rule_id: str, profile: Profile, site: Site, now: float) -> str | None:
        if not self.personal:
            return None  # the same content for everyone: the rule's conditions are the reason
        top = strongest_category(profile, site, now, rule_id)
        if top is None:
            return None
        return f"adds something about {site.labels[top]} to the page, because {interest_reason(profile, site, top)}"
