"""Where an action's content goes relative to its block: inside it (prepend, append) or beside it
(before, after), as insert and recommend place theirs.

Inside is always there; beside only where `etalage.html.page` verified that content lands as the
block's sibling (Block.start / Block.end), so on other pages the action changes nothing and explain
says why.
"""

from __future__ import annotations

from etalage.html.page import Block

__all__ = ["POSITIONS", "position_check", "offset", "unplaced"]

POSITIONS = ("before", "after", "prepend", "append")


def position_check(position: str) -> str | None:
    """The load-time complaint about a `position` value, or None."""
    if position in POSITIONS:
        return None
    return f"unknown position {position!r} (known: {', '.join(POSITIONS)})"


def offset(block: Block, position: str) -> int | None:
    """Where the content goes; None when that place is not verified on this page."""
    if position == "prepend":
        return block.inner_start
    if position == "append":
        return block.inner_end
    return block.start if position == "before" else block.end


def unplaced(block: Block | None, position: str) -> str | None:
    """Why nothing goes `position` the block on this page (for explain), or None when the place exists."""
    if block is None or offset(block, position) is not None:
        return None
    return (
        f"no verified place {position} block '{block.name}' on this page: content there would not be a visible"
        " sibling of the block (it is in a list, a table, a link or a paragraph, or misnested), or its end is implied"
    )
