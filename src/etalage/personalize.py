"""Applying a rule set to one HTML page for one visitor.

The page is analysed once per distinct origin body (blocks located, verified against the parser,
cached); per visitor the rules only choose edits, which are spliced into the origin's bytes. Each
rule runs under a guard: one that raises is logged, counted and skipped, and the page keeps what
the origin sent for that block.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass

from cachetools import LRUCache

from .actions import PageContext
from .metrics import Metrics
from .page import Edit, PageLayout, analyse, charset_of, splice
from .profile import Profile
from .ruleset import Rule, RuleSet

__all__ = ["Personalizer", "Personalized"]

log = logging.getLogger("etalage.personalize")


@dataclass(frozen=True, slots=True)
class Personalized:
    body: bytes
    fired: tuple[str, ...]


class Personalizer:
    def __init__(self, metrics: Metrics, layout_cache_bytes: int = 64 * 1024 * 1024) -> None:
        self._metrics = metrics
        # Bounded by the page bytes the layouts hold, not by their count.
        self._layouts: LRUCache[tuple[str, tuple[str, ...], bytes], PageLayout] = LRUCache(
            maxsize=layout_cache_bytes, getsizeof=lambda layout: len(layout.body) + 1024
        )

    def _layout(self, ruleset: RuleSet, rules: tuple[Rule, ...], body: bytes) -> PageLayout:
        names = tuple(sorted({rule.block for rule in rules if rule.block}))
        key = (ruleset.version, names, hashlib.blake2b(body, digest_size=16).digest())
        layout = self._layouts.get(key)
        if layout is None:
            layout = analyse(body, [ruleset.blocks[name].spec for name in names])
            for problem in layout.problems:
                log.debug("block not located: %s", problem)
            if len(body) + 1024 <= self._layouts.maxsize:
                self._layouts[key] = layout
        return layout

    def personalize(self, ruleset: RuleSet, path: str, body: bytes, content_type: str | None, profile: Profile) -> Personalized | None:
        """The personalized page, or None when no rule changes it."""
        rules = ruleset.rules_for(path)
        if not rules:
            return None
        layout = self._layout(ruleset, rules, body)
        page = PageContext(layout, profile, ruleset.site, charset_of(content_type, body), path, time.time())
        edits: list[Edit] = []
        claimed: set[str] = set()
        fired: list[str] = []
        for rule in rules:
            target = rule.block or rule.action.kind
            if target in claimed:
                continue
            block = layout.blocks.get(rule.block) if rule.block else None
            if rule.block and block is None:
                continue
            try:
                rule_edits = rule.action.apply(rule.id, block, page)
            except Exception:
                log.exception("rule %s (%s) failed on %s; that block stays as the origin sent it", rule.id, rule.source, path)
                self._metrics.inc("etalage_fail_open_total", reason="rule_error")
                continue
            if not rule_edits:
                continue
            if any(a.start < b.end and b.start < a.end for a in rule_edits for b in edits):
                log.warning("rule %s overlaps a block already changed on %s; skipped", rule.id, path)
                self._metrics.inc("etalage_fail_open_total", reason="rule_overlap")
                continue
            edits += rule_edits
            claimed.add(target)
            fired.append(rule.id)
        if not edits:
            return None
        for rule_id in fired:
            self._metrics.inc("etalage_rule_fired_total", rule=rule_id)
        return Personalized(splice(body, edits), tuple(fired))
