"""sort: reorder a container's product cards by the visitor's category interest (stable for ties).

A card's category and product come from the block's definition (`BlockDef.category_of` and
`id_of`: an attribute of the card or of an element inside it, an inner element's text, JSON in an
attribute, the card's links, the catalogue); a card without a known category counts as one the
visitor has no interest in. When no card of the block has one, explain and the admin status say so.

Options, all optional:

- `pinned = ["product-id", ...]`: those cards keep their slot (the block's cards must name their
  product: `item_id` or `item_id_from_link`).
- `excluded = "demote"` (the default): cards of categories the visitor excluded go last;
  `excluded = "hide"`: they are removed from the page. A pinned card stays in its slot when
  demoted, but is removed when hidden: the visitor's "never show me this" wins.
- `label = "Recommended for you"` (or one per site language, `label = { nl = "...", en = "..." }`):
  a small visible label right before the block, linking to the visitor's own page; shown only when the order really changed, and only where the page lets
  content go before the block (Block.start); elsewhere the list is sorted without it.
- `covert_share = 0.2`: that share of the slots keep the shop's card, so that the list does not
  look personalized. The slots are fixed, never random (a page does not change between two views):
  slot k (counting from 1) keeps its card when floor(k * share) > floor((k - 1) * share), i.e.
  0.2 keeps the 5th, 10th, 15th...; 0.25 every 4th; 0.5 every 2nd; 0.3 the 4th, 7th, 10th, 14th...
  A card of an excluded category is not kept there.

Cards are first hidden (with `excluded = "hide"`); slots are counted in the list that is left, as if
the shop had listed only those cards. Pinned and covert cards keep their slot, the others fill the
remaining slots, stronger interest first, the shop's order for ties, excluded categories last.
Every card stays unless `excluded = "hide"`; hidden cards' slots are the last ones, emptied.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from math import floor
from typing import NamedTuple

from etalage.html.page import Block, Edit, item_pieces, reorder_items
from etalage.profiles.profile import Profile
from etalage.rules.actions.base import (
    Action,
    CompileContext,
    PageContext,
    encode_fragment,
    label_html,
    mark_block,
    ranked_categories,
    take_label,
)
from etalage.rules.fields import Fields
from etalage.rules.model import BlockDef, Site

__all__ = ["Sort"]

EXCLUDED = ("demote", "hide")


def _share_check(share: int | float) -> str | None:
    if 0 <= share < 1:
        return None
    return "must be at least 0 and less than 1 (0.2 keeps every 5th card where the shop put it)"


def _covert_slots(share: Fraction, count: int) -> frozenset[int]:
    """0-based slots that keep the shop's card: evenly spread, the same on every view."""
    return frozenset(slot for slot in range(count) if floor((slot + 1) * share) > floor(slot * share))


class Sort(Action):
    kind = "sort"
    needs_items = True

    def __init__(
        self,
        block: BlockDef,
        pinned: frozenset[str] = frozenset(),
        excluded: str = "demote",
        covert_share: Fraction = Fraction(0),
        label: str | Mapping[str, str] | None = None,
    ) -> None:
        self.block = block  # how to tell a card's product and category (BlockDef.id_of / category_of)
        self.pinned = pinned
        self.hide = excluded == "hide"
        self.covert_share = covert_share
        self.label = label
        # (cards with a category, cards) on the last page layout sorted: shown by the admin endpoint,
        # since a block whose cards say no category sorts nothing and fails no check.
        self.cards: tuple[int, int] | None = None

    @classmethod
    def compile(cls, fields: Fields, context: CompileContext) -> Sort | None:
        pinned = fields.strings("pinned", ())
        if pinned:
            for index, product in enumerate(pinned):
                if product in pinned[:index]:
                    fields.problem(f"{fields.name}: 'pinned': {product!r} is listed twice", "pinned")
        excluded = fields.take(
            "excluded", str, "demote", lambda e: None if e in EXCLUDED else f"unknown value {e!r} (known: {', '.join(EXCLUDED)})"
        )
        share = fields.take("covert_share", (int, float), 0, _share_check)
        label = take_label(fields, context.site)
        block = context.block
        if block is None or block.spec.item_selector is None:
            return None  # the loader reports a block without items
        if pinned and not block.identifies_products:
            fields.problem(
                f"{fields.name}: 'pinned' needs a block whose cards name their product",
                "pinned",
                f"add 'item_id' or 'item_id_from_link' to [blocks.{block.spec.name}]",
            )
            return None
        if pinned is None or excluded is None or share is None:
            return None
        return cls(block, frozenset(pinned), excluded, Fraction(str(share)), label)

    def _marks(self, block: Block, rule_id: str, page: PageContext) -> list[Edit]:
        """The rule's marker on the block, and the label before it (when there is one and a place for it)."""
        label = label_html(self.label, page)
        if not label or block.start is None:
            return [mark_block(block, rule_id)]
        return [Edit(block.start, block.start, encode_fragment(label, page.charset)), mark_block(block, rule_id)]

    def apply(self, rule_id: str, block: Block | None, page: PageContext) -> list[Edit]:
        assert block is not None
        items = block.items
        if not items:
            return []
        categories = self._categories(block, page)
        exclusions = page.profile.exclusions
        interest = dict(page.ranked_categories(rule_id))
        # Excluded categories go last; otherwise stronger interest first, the shop's order for ties.
        # Keys are worked out per category, not per card: a page has many cards and few categories.
        key_of = {category: 1.0 if category in exclusions else -interest.get(category, 0.0) for category in set(categories)}
        keys = [key_of[category] for category in categories]
        if not (self.pinned or self.covert_share or self.hide and exclusions):
            order = sorted(range(len(items)), key=keys.__getitem__)
        else:
            order = self._order_keeping_slots(block, page, categories, keys)
        if len(order) == len(items):
            if order == list(range(len(items))):
                return []
            return [*self._marks(block, rule_id, page), *reorder_items(block, order, self._pieces(block, page))]
        # Hidden cards: the kept ones fill the first slots, the last slots are emptied.
        if not block.source:
            return []
        source = block.source
        edits = []
        for slot, item in enumerate(items):
            if slot >= len(order):
                edits.append(Edit(item.start, item.end, b""))
            elif order[slot] != slot:
                card = items[order[slot]]
                edits.append(Edit(item.start, item.end, source[card.start : card.end]))
        return [*self._marks(block, rule_id, page), *edits]

    def _categories(self, block: Block, page: PageContext) -> tuple[str, ...]:
        """Each card's category ("" when unknown), worked out once per cached page layout."""
        key = (self, block.name)
        categories = page.derived.get(key)
        if not isinstance(categories, tuple):  # not worked out yet (derived holds objects of every kind)
            categories = page.derived[key] = tuple(self.block.category_of(item, page.path) or "" for item in block.items)
            self.cards = (sum(1 for category in categories if category), len(categories))
        return categories

    def unchanged(self, rule_id: str, block: Block | None, page: PageContext) -> str | None:
        if block is None or not block.items:
            return None
        categories = self._categories(block, page)
        if any(categories):
            return None
        return f"nothing to sort: {_cards_said(0, len(categories))} ({self._hint()})"

    def status(self) -> str | None:
        if self.cards is None:
            return None
        said = f"{_cards_said(*self.cards)} on the last page sorted"
        return f"{said} ({self._hint()})" if self.cards[0] == 0 else said

    def _hint(self) -> str:
        return f"check 'item_category', 'item_id' or 'item_id_from_link' of [blocks.{self.block.spec.name}], and [catalog]"

    def _pieces(self, block: Block, page: PageContext) -> tuple[tuple[bytes, ...], tuple[bytes, ...]]:
        """The cards' bytes and what lies between them, cut once for the body they were first cut
        from (the analysed one). A layout reused for another body (etalage.html.reuse) shares what
        was derived from it, but its cards may hold other bytes (a fresh token in each), which must
        come from the body being served: cut per view then, and not kept (that would keep a
        second body alive with every cached layout)."""
        key = (self, block.name, "pieces")
        cut = page.derived.get(key)
        if isinstance(cut, _Pieces):
            return cut.pieces if cut.source is block.source else item_pieces(block)
        pieces = item_pieces(block)
        page.derived[key] = _Pieces(block.source, pieces)
        return pieces

    def _order_keeping_slots(self, block: Block, page: PageContext, categories: tuple[str, ...], keys: list[float]) -> list[int]:
        """The order with pinned cards, covert slots and hidden cards (see the module docstring)."""
        items = block.items
        exclusions = page.profile.exclusions
        excluded = [category in exclusions for category in categories]
        # The list as the shop would show it to this visitor: without hidden cards.
        shown = [index for index in range(len(items)) if not (self.hide and excluded[index])]
        covert = _covert_slots(self.covert_share, len(shown)) if self.covert_share else frozenset()
        kept: dict[int, int] = {}  # slot -> card that keeps it
        for slot, index in enumerate(shown):
            if self.pinned and self.block.id_of(items[index], page.path) in self.pinned:
                kept[slot] = index
            elif slot in covert and not excluded[index]:
                kept[slot] = index
        rest = sorted((index for slot, index in enumerate(shown) if slot not in kept), key=keys.__getitem__)
        others = iter(rest)
        return [kept[slot] if slot in kept else next(others) for slot in range(len(shown))]

    def why(self, rule_id: str, profile: Profile, site: Site, now: float) -> str | None:
        ranked = ranked_categories(profile, site, now, rule_id)
        excluded = ", ".join(site.labels[category] for category in site.categories if category in profile.exclusions)
        if ranked:
            names = ", ".join(site.labels[category] for category, _ in ranked[:3])
            said = f"lists products in the order of your interests: {names}"
            if excluded:
                said += f", and {'leaves out' if self.hide else 'shows'} {excluded}{'' if self.hide else ' last'}, as you asked"
            return said
        if excluded:
            return (
                f"leaves {excluded} out of product lists, as you asked"
                if self.hide
                else f"shows {excluded} last in product lists, as you asked"
            )
        return None


class _Pieces(NamedTuple):
    source: bytes  # the body they were cut from
    pieces: tuple[tuple[bytes, ...], tuple[bytes, ...]]


def _cards_said(categorized: int, total: int) -> str:
    return f"{categorized} of {total} {'card has' if total == 1 else 'cards have'} a category"
