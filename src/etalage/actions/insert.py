"""insert: add a template to a block, as its first (`prepend`) or last (`append`) content.

The block's own content stays. The template may use `{{ category }}` and `{{ category_label }}`,
the visitor's strongest interest; such a template is only inserted for visitors who have one. A
template without placeholders is inserted whenever the rule's conditions hold.

`before` and `after` (outside the block) need the block's outer edges, which `etalage.page` does
not give yet (a Block knows where its start tag ends, not where it starts or where its end tag
ends): they are refused when the rules load, with a hint.
"""

from __future__ import annotations

from ..page import Block, Edit
from ..profile import Profile
from ..ruleset import Fields, Site
from ..templates import Template
from .base import Action, CompileContext, PageContext, encode_fragment, interest_reason, mark_block, strongest_category, template_values

PROVIDES = frozenset({"category", "category_label"})
POSITIONS = ("prepend", "append")


def _position_check(position: str) -> str | None:
    if position in POSITIONS:
        return None
    if position in ("before", "after"):
        return f"{position!r} is not available yet, only 'prepend' or 'append' (inside the block)"
    return f"unknown position {position!r} (known: {', '.join(POSITIONS)})"


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
        values = template_values(page, rule_id, self.personal)
        if values is None:
            return []
        data = encode_fragment(self.template.render(values, page.language), page.charset)
        at = block.inner_start if self.position == "prepend" else block.inner_end
        return [mark_block(block, rule_id), Edit(at, at, data)]

    def why(self, rule_id: str, profile: Profile, site: Site, now: float) -> str | None:
        if not self.personal:
            return None  # the same content for everyone: the rule's conditions are the reason
        top = strongest_category(profile, site, now, rule_id)
        if top is None:
            return None
        return f"adds something about {site.labels[top]} to the page, because {interest_reason(profile, site, top)}"
