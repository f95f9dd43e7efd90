"""What every action is: compiled once from its rule table, applied per page view under a guard."""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from typing import ClassVar

from ..page import Block, Edit, PageLayout
from ..profile import Profile
from ..ruleset import BlockDef, Fields, Site
from ..templates import Template

__all__ = ["Action", "CompileContext", "PageContext", "mark_block", "encode_fragment"]


@dataclass(frozen=True, slots=True)
class CompileContext:
    site: Site
    block: BlockDef | None
    # template(fields, key, provided names) -> compiled template, or None after recording a problem
    template: Callable[[Fields, str, frozenset[str]], Template | None]


@dataclass(frozen=True, slots=True)
class PageContext:
    layout: PageLayout
    profile: Profile
    site: Site
    charset: str
    path: str


def encode_fragment(text: str, charset: str) -> bytes:
    # Characters the page's charset cannot carry become character references, never '?'.
    return text.encode(charset, "xmlcharrefreplace")


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
