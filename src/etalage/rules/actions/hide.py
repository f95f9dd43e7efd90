"""hide: take a block away for the visitors the rule's conditions pick.

`mode = "remove"` (the default) empties the block: its content is not sent at all. `mode = "hidden"`
keeps the content and adds the `hidden` attribute to the block, so the browser does not show it
(unless the shop's own CSS gives the block a `display`, which wins over `hidden`); a block that
already has `hidden` is left alone. Either way the block itself stays, with the rule's marker.
"""

from __future__ import annotations

from etalage.html.page import Block, Edit
from etalage.profiles.profile import Profile
from etalage.rules.actions.base import Action, CompileContext, PageContext, mark_block
from etalage.rules.fields import Fields
from etalage.rules.model import Site

__all__ = ["Hide"]

MODES = ("remove", "hidden")


class Hide(Action):
    kind = "hide"

    def __init__(self, mode: str) -> None:
        self.mode = mode

    @classmethod
    def compile(cls, fields: Fields, context: CompileContext) -> Hide | None:
        mode = fields.take("mode", str, "remove", lambda m: None if m in MODES else f"unknown mode {m!r} (known: {', '.join(MODES)})")
        return cls(mode) if mode is not None else None

    def apply(self, rule_id: str, block: Block | None, page: PageContext) -> list[Edit]:
        assert block is not None
        if self.mode == "remove":
            if block.inner_start >= block.inner_end:
                return []  # nothing there to remove
            return [mark_block(block, rule_id), Edit(block.inner_start, block.inner_end, b"")]
        if block.attrs is None or "hidden" in block.attrs:
            return []  # already hidden, or its start tag cannot be read: a second `hidden` would be dropped anyway
        return [mark_block(block, rule_id), Edit(block.tag_end, block.tag_end, b" hidden")]

    def why(self, rule_id: str, profile: Profile, site: Site, now: float) -> str | None:
        return None  # the same for everyone it applies to: the rule's conditions are the reason
