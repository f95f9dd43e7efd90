"""Applying a rule set to one HTML page for one visitor.

The page is analysed once per distinct origin body (blocks located, verified against the parser,
cached per page and per address; a body that differs from the last one only where the tree cannot
change, such as a per-response CSRF token or the visitor's name in the header, reuses its layout:
etalage.html.reuse); per visitor the rules only choose edits, which are spliced into the origin's
bytes. Each rule runs under a guard: one that raises is logged, counted and skipped, and the page
keeps what the origin sent for that block.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from cachetools import LRUCache

from etalage.html.page import BlockSpec, Edit, PageLayout, analyse, charset_of, splice
from etalage.html.reuse import LayoutReuse
from etalage.metrics import Metrics
from etalage.rules.actions import PageContext
from etalage.rules.conditions import Visit
from etalage.rules.ruleset import Rule, RuleSet

__all__ = ["Personalizer", "Personalized", "Outcome"]

log = logging.getLogger("etalage.personalize")

_BODIES_PER_PAGE = 4  # a page may alternate between a few bodies (signed in or not, A/B at the origin)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one rule did on one page view, for `etalage rules explain` and previews."""

    rule: str
    fired: bool
    reason: str


@dataclass(frozen=True, slots=True)
class Personalized:
    body: bytes
    fired: tuple[str, ...]


class _Cached:
    """A verified layout, what actions derived from it, and (once a different body of its page came
    along) what it tells about other bodies."""

    __slots__ = ("layout", "specs", "reuse", "derived")

    def __init__(self, layout: PageLayout, specs: tuple[BlockSpec, ...]) -> None:
        self.layout = layout
        self.specs = specs
        self.reuse: LayoutReuse | None = None
        self.derived: dict[object, object] = {}  # PageContext.derived

    def layout_for(self, body: bytes) -> PageLayout | None:
        if self.reuse is None:
            self.reuse = LayoutReuse(self.layout, self.specs)
        return self.reuse.layout_for(body)


class Personalizer:
    def __init__(self, metrics: Metrics, layout_cache_bytes: int = 64 * 1024 * 1024) -> None:
        self._metrics = metrics
        # Per page (rule set, blocks, path) and per address (the same and the query): the layouts
        # of the last few distinct bodies, newest first. An address finds its own bodies (?page=7
        # of a long list); a new address of a known page finds the page's (?utm_source=...).
        # Bounded by the memory layouts take (the page bytes and about as much again).
        self._layouts: LRUCache[tuple[object, ...], tuple[_Cached, ...]] = LRUCache(
            maxsize=layout_cache_bytes, getsizeof=lambda entries: sum(2 * len(e.layout.body) + 1024 for e in entries)
        )

    def _layout(self, ruleset: RuleSet, rules: tuple[Rule, ...], visit: Visit, body: bytes) -> tuple[PageLayout, dict[object, object]]:
        """The page's layout and what actions derived from it (PageContext.derived): a cached one
        when the body is one seen before (a byte comparison, no hashing) or differs from the newest
        only where it cannot matter (etalage.html.reuse); else analysed."""
        names = tuple(sorted({rule.block for rule in rules if rule.block}))
        page_key: tuple[object, ...] = (ruleset.version, names, _digest(visit.path))
        keys = [page_key]
        if visit.query:
            keys.insert(0, (*page_key, _digest(repr(sorted((name, tuple(values)) for name, values in visit.query.items())))))
        for key in keys:
            found = self._cached(self._layouts.get(key, ()), body)
            if found is not None:
                return found
        specs = tuple(ruleset.blocks[name].spec for name in names)
        layout = analyse(body, specs)
        self._metrics.inc("etalage_layouts_total", source="analysed")
        for problem in layout.problems:
            log.debug("block not located: %s", problem)
        entry = _Cached(layout, specs)
        if 2 * len(body) + 1024 <= self._layouts.maxsize:
            for key in keys:
                self._layouts[key] = (entry, *self._layouts.get(key, ())[: _BODIES_PER_PAGE - 1])
        return layout, entry.derived

    def _cached(self, entries: tuple[_Cached, ...], body: bytes) -> tuple[PageLayout, dict[object, object]] | None:
        for entry in entries:
            if entry.layout.body == body:
                return entry.layout, entry.derived
        reused = entries[0].layout_for(body) if entries else None
        if reused is None:
            return None
        self._metrics.inc("etalage_layouts_total", source="reused")
        return reused, entries[0].derived

    def personalize(
        self, ruleset: RuleSet, visit: Visit, body: bytes, content_type: str | None, explain: list[Outcome] | None = None
    ) -> Personalized | None:
        """The personalized page, or None when no rule changes it.

        With `explain`, every rule of the set gets an Outcome there: fired, or the first reason it did not.
        """
        path, profile, now = visit.path, visit.profile, visit.now
        rules = ruleset.rules if explain is not None else ruleset.rules_for(path)
        if not rules:
            return None
        note = explain.append if explain is not None else _ignore
        layout, derived = self._layout(ruleset, ruleset.rules_for(path), visit, body)
        charset = derived.get(("charset", content_type))
        if not isinstance(charset, str):  # the same for every body the layout serves (etalage.html.reuse keeps encoding declarations)
            charset = derived[("charset", content_type)] = charset_of(content_type, body)
        page = PageContext(layout, profile, ruleset.site, charset, path, now, visit.language, derived)
        edits: list[Edit] = []
        claimed: dict[str, str] = {}
        fired: list[str] = []
        for rule in rules:
            target = rule.target
            if explain is not None and not rule.applies_to(path):  # rules_for(path) already chose them otherwise
                note(Outcome(rule.id, False, f"not for this page: {path} matches none of {', '.join(p.pattern for p in rule.pages)}"))
                continue
            if target in claimed:
                note(Outcome(rule.id, False, f"'{target}' was already changed by rule '{claimed[target]}', which goes first"))
                continue
            if explain is None:
                if not rule.when.test(visit):
                    continue
            elif not (verdict := rule.when.check(visit)).ok:
                note(Outcome(rule.id, False, f"not for this visitor: {verdict.reason}"))
                continue
            block = layout.blocks.get(rule.block) if rule.block else None
            if rule.block and block is None:
                problem = next((p for p in layout.problems if p.startswith(f"{rule.block}:")), f"{rule.block}: not found")
                note(Outcome(rule.id, False, f"block not on this page ({problem})"))
                continue
            try:
                rule_edits = rule.action.apply(rule.id, block, page)
            except Exception:
                log.exception("rule %s (%s) failed on %s; that block stays as the origin sent it", rule.id, rule.source, path)
                self._metrics.inc("etalage_fail_open_total", reason="rule_error")
                note(Outcome(rule.id, False, "failed with an error (see the log); the block stays as the origin sent it"))
                continue
            if not rule_edits:
                note(Outcome(rule.id, False, "nothing to change for this visitor"))
                continue
            if any(_collide(a, b) for a in rule_edits for b in edits):
                log.warning("rule %s overlaps a block already changed on %s; skipped", rule.id, path)
                self._metrics.inc("etalage_fail_open_total", reason="rule_overlap")
                note(Outcome(rule.id, False, "its block overlaps one that another rule already changed"))
                continue
            edits += rule_edits
            claimed[target] = rule.id
            fired.append(rule.id)
            if explain is not None:
                note(Outcome(rule.id, True, rule.action.why(rule.id, profile, ruleset.site, now) or "fired"))
        if not edits:
            return None
        for rule_id in fired:
            self._metrics.inc("etalage_rule_fired_total", rule=rule_id)
        return Personalized(splice(body, edits), tuple(fired))


def _digest(text: str) -> bytes:
    """A fixed-size stand-in for an address in a cache key: the cache's bound counts the layouts it
    holds, not its keys, and a client chooses the address (1,500 distinct 60 KB paths took 100 MB)."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def _collide(a: Edit, b: Edit) -> bool:
    """Whether two rules' edits touch the same bytes. An insertion at either edge of another rule's
    replacement collides too: what it was placed next to (a block's start or end) is replaced."""
    if a.start == a.end and b.start < b.end:
        return b.start <= a.start <= b.end
    if b.start == b.end and a.start < a.end:
        return a.start <= b.start <= a.end
    return a.start < b.end and b.start < a.end


def _ignore(outcome: Outcome) -> None:
    """Outcomes are only collected when explaining."""
