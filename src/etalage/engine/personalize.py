"""Applying a rule set to one HTML page for one visitor.

The page is analysed once per distinct origin body (blocks located, verified against the parser,
cached per page and per address; a body that differs from the last one only where the tree cannot
change, such as a fresh CSRF token in every product card or the visitor's name in the header,
reuses its layout, with the blocks' bytes taken from the new body: etalage.html.reuse); per visitor the rules only choose edits, which are spliced into the origin's
bytes. A first look at a body (an analysis, or building a reuse) can take a second on a large page:
the proxy has it done in a worker thread (personalize_async), so no page holds the event loop, and
a page past the complexity bounds (etalage.html.page.MAX_ELEMENTS, MAX_DEPTH) is not analysed at
all: it goes out as the origin sent it, counted as fail-open reason page_too_complex. Each rule
runs under a guard: one that raises is logged, counted and skipped, and the page keeps what the
origin sent for that block.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from cachetools import LRUCache

from etalage.engine.assign import Plan, plan
from etalage.html.page import MAX_DEPTH, MAX_ELEMENTS, BlockSpec, Edit, PageLayout, analyse, charset_of, miss_reason, splice
from etalage.html.reuse import LayoutReuse
from etalage.metrics import Metrics
from etalage.profiles.profile import Event
from etalage.rules.actions import PageContext
from etalage.rules.conditions import ALWAYS, Verdict, Visit
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


@dataclass(slots=True)
class _Lookup:
    """What the layout cache holds for one body: the layout and its derived values when found at
    once; otherwise the keys to store a new one under, the specs to analyse with, and the cached
    entries whose reuse (etalage.html.reuse) has not been built yet and may still serve."""

    path: str
    keys: list[tuple[object, ...]]
    specs: tuple[BlockSpec, ...]
    content_type: str | None  # the response's: with the body, the page's encoding (charset_of), for an analysis
    found: tuple[PageLayout, dict[object, object]] | None = None
    unbuilt: list[_Cached] = field(default_factory=list)


class Personalizer:
    def __init__(
        self,
        metrics: Metrics,
        layout_cache_bytes: int = 64 * 1024 * 1024,
        max_elements: int = MAX_ELEMENTS,
        max_depth: int = MAX_DEPTH,
        first_look_timeout: float | None = None,
        experiments: bool = True,
    ) -> None:
        self._metrics = metrics
        self._experiments = experiments  # off: experiments paused (etalage.engine.assign.plan)
        self._first_look_timeout = first_look_timeout
        self._limits = (max_elements, max_depth)
        # Per page (rule set, blocks, path) and per address (the same and the query): the layouts
        # of the last few distinct bodies, newest first. An address finds its own bodies (?page=7
        # of a long list); a new address of a known page finds the page's (?utm_source=...).
        # Bounded by the memory layouts take (the page bytes and about as much again).
        self._layouts: LRUCache[tuple[object, ...], tuple[_Cached, ...]] = LRUCache(
            maxsize=layout_cache_bytes, getsizeof=lambda entries: sum(2 * len(e.layout.body) + 1024 for e in entries)
        )
        # First looks at a page (analyses, building a reuse) take up to a second or so on large pages:
        # in an async caller they run here, one at a time, so the event loop serves other requests.
        self._executor: ThreadPoolExecutor | None = None
        # First looks under way, per page key: the body and the task that settles its layout.
        self._first_looks: dict[tuple[object, ...], list[tuple[bytes, asyncio.Future[tuple[PageLayout, dict[object, object]]]]]] = {}

    def _look_up(self, ruleset: RuleSet, rules: tuple[Rule, ...], visit: Visit, body: bytes, content_type: str | None) -> _Lookup:
        """The cached layout for `body`, when a byte comparison or a built reuse finds it (cheap:
        fine on the event loop); else what _first_look needs. The cache is only touched here and in
        _settle, never from the worker thread."""
        names = tuple(sorted({rule.block for rule in rules if rule.block}))
        page_key: tuple[object, ...] = (ruleset.version, names, _digest(visit.path))
        keys = [page_key]
        if visit.query:
            keys.insert(0, (*page_key, _digest(repr(sorted((name, tuple(values)) for name, values in visit.query.items())))))
        lookup = _Lookup(visit.path, keys, tuple(ruleset.blocks[name].spec for name in names), content_type)
        entries = [self._layouts.get(key, ()) for key in keys]
        for entry in (entry for found in entries for entry in found):
            if entry.layout.body == body:
                lookup.found = entry.layout, entry.derived
                return lookup
        for found in entries:
            if not found or found[0].layout.too_complex:
                continue  # a refused page is refused again after a scan, off the loop (a reuse would scan too)
            newest = found[0]
            if newest.reuse is None:
                lookup.unbuilt.append(newest)
                continue
            reused = newest.layout_for(body)
            if reused is not None:
                self._metrics.inc("etalage_layouts_total", source="reused")
                lookup.found = reused, newest.derived
                return lookup
        return lookup

    def _first_look(self, lookup: _Lookup, body: bytes) -> tuple[_Cached | None, PageLayout]:
        """The slow part, safe in a worker thread (it reads the lookup and builds reuses, and
        changes nothing else): a layout reused from an entry whose reuse is built now, else a new
        analysis (with the entry None)."""
        for entry in lookup.unbuilt:
            reused = entry.layout_for(body)
            if reused is not None:
                return entry, reused
        max_elements, max_depth = self._limits
        charset = charset_of(lookup.content_type, body)
        return None, analyse(body, lookup.specs, charset=charset, max_elements=max_elements, max_depth=max_depth)

    def _settle(
        self, lookup: _Lookup, body: bytes, reused_from: _Cached | None, layout: PageLayout
    ) -> tuple[PageLayout, dict[object, object]]:
        """Count and cache what _first_look found."""
        if reused_from is not None:
            self._metrics.inc("etalage_layouts_total", source="reused")
            return layout, reused_from.derived
        self._metrics.inc("etalage_layouts_total", source="analysed")
        if layout.too_complex:
            log.warning("%s (%d bytes) goes out as the origin sent it: %s", lookup.path, len(body), layout.too_complex)
        for problem in layout.problems:  # counted per analysis: the layout's later page views add nothing new
            log.debug("block not located on %s: %s", lookup.path, problem)
            self._metrics.block_missed(problem.partition(": ")[0], miss_reason(problem), lookup.path, problem)
        entry = _Cached(layout, lookup.specs)
        if 2 * len(body) + 1024 <= self._layouts.maxsize:
            for key in lookup.keys:
                self._layouts[key] = (entry, *self._layouts.get(key, ())[: _BODIES_PER_PAGE - 1])
        return layout, entry.derived

    def _layout(
        self, ruleset: RuleSet, rules: tuple[Rule, ...], visit: Visit, body: bytes, content_type: str | None
    ) -> tuple[PageLayout, dict[object, object]]:
        """The page's layout and what actions derived from it (PageContext.derived): a cached one
        when the body is one seen before (a byte comparison, no hashing) or differs from the newest
        only where it cannot matter (etalage.html.reuse); else analysed, here and now."""
        lookup = self._look_up(ruleset, rules, visit, body, content_type)
        if lookup.found is not None:
            return lookup.found
        return self._settle(lookup, body, *self._first_look(lookup, body))

    async def personalize_async(
        self, ruleset: RuleSet, visit: Visit, body: bytes, content_type: str | None, learned: list[Event] | None = None
    ) -> Personalized | None:
        """personalize() for the event loop: a first look at a page runs in a worker thread, so a
        large page's analysis holds up no other request (lexbor releases the GIL while it parses);
        a cached or reused layout and the rules' edits stay on the loop, as they are cheap. A
        visitor waits for a first look `first_look_timeout` seconds at most, then gets None (the
        origin's page) while the look goes on and serves the visitors after them."""
        rules = ruleset.rules_for(visit.path)
        if not rules:
            return None
        decided = plan(ruleset, rules, visit, paused=not self._experiments)
        try:
            return None if decided.held_out else await self._personalize_async(ruleset, rules, visit, body, content_type, decided)
        finally:
            if learned is not None:
                learned += decided.events
                self._count(decided)

    def _count(self, decided: Plan) -> None:
        """Metrics of what a visitor's page view recorded for experiments (not previews or explain)."""
        if decided.held_out:
            self._metrics.inc("etalage_holdout_page_views_total")
        for event in decided.events:
            if event.kind in ("assigned", "exposed") and event.data is not None:
                name = f"etalage_experiment_{'assignments' if event.kind == 'assigned' else 'exposures'}_total"
                self._metrics.inc(name, experiment=event.value, variant=str(event.data["variant"]))

    async def _personalize_async(
        self, ruleset: RuleSet, rules: tuple[Rule, ...], visit: Visit, body: bytes, content_type: str | None, decided: Plan
    ) -> Personalized | None:
        lookup = self._look_up(ruleset, rules, visit, body, content_type)
        found = lookup.found
        if found is None:
            # Visitors who ask for a new page at once share its first look rather than queue one each.
            waiting = self._first_looks.setdefault(lookup.keys[-1], [])
            task = next((task for pending, task in waiting if pending == body), None)
            if task is None:
                task = asyncio.ensure_future(self._shared_first_look(lookup, body))
                waiting.append((body, task))
                task.add_done_callback(lambda done: self._first_look_done(lookup.keys[-1], done))
            try:
                # Shielded: a visitor who leaves or waits no longer does not cancel it for the others.
                found = await asyncio.wait_for(asyncio.shield(task), self._first_look_timeout)
            except TimeoutError:
                log.warning("%s goes out as the origin sent it: its first look takes over %s s", visit.path, self._first_look_timeout)
                self._metrics.inc("etalage_fail_open_total", reason="analysis_timeout")
                return None
        return self._apply(ruleset, rules, visit, body, content_type, *found, None, decided)

    async def _shared_first_look(self, lookup: _Lookup, body: bytes) -> tuple[PageLayout, dict[object, object]]:
        """_first_look in the worker thread, then _settle back on the loop (the cache is the loop's)."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="etalage-analysis")
        reused_from, layout = await asyncio.get_running_loop().run_in_executor(self._executor, self._first_look, lookup, body)
        return self._settle(lookup, body, reused_from, layout)

    def _first_look_done(self, key: tuple[object, ...], done: asyncio.Future[tuple[PageLayout, dict[object, object]]]) -> None:
        waiting = [entry for entry in self._first_looks.get(key, ()) if entry[1] is not done]
        if waiting:
            self._first_looks[key] = waiting
        else:
            self._first_looks.pop(key, None)

    def close(self) -> None:
        """Stop the worker thread (an analysis under way finishes; queued ones are dropped)."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    def personalize(
        self,
        ruleset: RuleSet,
        visit: Visit,
        body: bytes,
        content_type: str | None,
        explain: list[Outcome] | None = None,
        learned: list[Event] | None = None,
    ) -> Personalized | None:
        """The personalized page, or None when no rule changes it (or the page is too complex to analyse).

        With `explain`, every rule of the set gets an Outcome there: fired, or the first reason it did not.
        With `learned`, what the page view teaches the profile about experiments (etalage.engine.assign)
        is added there. Analyses on the spot: in a coroutine use personalize_async.
        """
        rules = ruleset.rules if explain is not None else ruleset.rules_for(visit.path)
        if not rules:
            return None
        decided = plan(ruleset, rules, visit, paused=not self._experiments)
        try:
            if decided.held_out:
                if explain is not None:
                    explain += [Outcome(rule.id, False, "this visitor is in the programme holdout: no personalization") for rule in rules]
                return None
            layout, derived = self._layout(ruleset, ruleset.rules_for(visit.path), visit, body, content_type)
            return self._apply(ruleset, rules, visit, body, content_type, layout, derived, explain, decided)
        finally:
            if learned is not None:
                learned += decided.events
                self._count(decided)

    def _apply(
        self,
        ruleset: RuleSet,
        rules: tuple[Rule, ...],
        visit: Visit,
        body: bytes,
        content_type: str | None,
        layout: PageLayout,
        derived: dict[object, object],
        explain: list[Outcome] | None,
        decided: Plan,
    ) -> Personalized | None:
        """Run `rules` on the page with its layout and splice their edits; rules of experiments only
        in the visitor's variant (`decided`), recording exposures there."""
        path, profile, now = visit.path, visit.profile, visit.now
        note = explain.append if explain is not None else _ignore
        if layout.too_complex:
            self._metrics.inc("etalage_fail_open_total", reason="page_too_complex")
            for rule in rules:
                note(Outcome(rule.id, False, f"page not analysed ({layout.too_complex})"))
            return None
        charset = derived.get(("charset", content_type))
        if not isinstance(charset, str):  # the same for every body the layout serves (etalage.html.reuse keeps encoding declarations)
            charset = derived[("charset", content_type)] = charset_of(content_type, body)
        page = PageContext(layout, profile, ruleset.site, charset, path, now, visit.language, derived)
        edits: list[Edit] = []
        claimed: dict[str, str] = {}
        # Two block names can find one element (two selectors for the same carousel): by its start tag.
        claimed_elements: dict[int, str] = {}
        fired: list[str] = []
        for rule in rules:
            target = rule.target
            if explain is not None and not rule.applies_to(path):  # rules_for(path) already chose them otherwise
                note(Outcome(rule.id, False, f"not for this page: {path} matches none of {', '.join(p.pattern for p in rule.pages)}"))
                continue
            choice = decided.choice(rule, ruleset)
            if choice is not None and rule.id not in choice.variant.rules:
                # A variant without rules (the page without the experiment) is seen when a rule of
                # another variant would have changed the page: both arms count the same visitors.
                if choice.counted and not choice.variant.rules and target not in claimed and _would_fire(rule, visit, layout, page, edits):
                    decided.expose(choice, now)
                experiment, variant = choice.experiment.id, choice.variant.id
                note(Outcome(rule.id, False, f"experiment '{experiment}' shows this visitor variant '{variant}', without this rule"))
                continue
            if target in claimed:
                note(Outcome(rule.id, False, f"'{target}' was already changed by rule '{claimed[target]}', which goes first"))
                continue
            verdict = None
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
            if block is not None and block.tag_end in claimed_elements:
                first = claimed_elements[block.tag_end]
                note(Outcome(rule.id, False, f"'{rule.block}' is the element rule '{first}' already changed, under another block name"))
                continue
            try:
                rule_edits = rule.action.apply(rule.id, block, page)
            except Exception:
                log.exception("rule %s (%s) failed on %s; that block stays as the origin sent it", rule.id, rule.source, path)
                self._metrics.inc("etalage_fail_open_total", reason="rule_error")
                self._metrics.inc("etalage_rule_errors_total", rule=rule.id)
                note(Outcome(rule.id, False, "failed with an error (see the log); the block stays as the origin sent it"))
                continue
            if not rule_edits:
                if explain is not None:
                    note(Outcome(rule.id, False, rule.action.unchanged(rule.id, block, page) or "nothing to change for this visitor"))
                continue
            if any(_collide(a, b) for a in rule_edits for b in edits):
                log.warning("rule %s overlaps a block already changed on %s; skipped", rule.id, path)
                self._metrics.inc("etalage_fail_open_total", reason="rule_overlap")
                note(Outcome(rule.id, False, "its block overlaps one that another rule already changed"))
                continue
            edits += rule_edits
            claimed[target] = rule.id
            if block is not None:
                claimed_elements[block.tag_end] = rule.id
            fired.append(rule.id)
            if choice is not None:
                decided.expose(choice, now)
            if explain is not None:
                note(Outcome(rule.id, True, rule.action.why(rule.id, profile, ruleset.site, now) or _because(rule, verdict)))
        if not edits:
            return None
        for rule_id in fired:
            self._metrics.inc("etalage_rule_fired_total", rule=rule_id)
        return Personalized(splice(body, edits), tuple(fired))


def _would_fire(rule: Rule, visit: Visit, layout: PageLayout, page: PageContext, edits: list[Edit]) -> bool:
    """Whether `rule` would change this page for this visitor, were it in their variant."""
    block = layout.blocks.get(rule.block) if rule.block else None
    if not rule.applies_to(visit.path) or not rule.when.test(visit) or (rule.block and block is None):
        return False
    try:
        rule_edits = rule.action.apply(rule.id, block, page)
    except Exception:
        log.debug("rule %s failed on %s while checking exposure", rule.id, visit.path, exc_info=True)
        return False
    return bool(rule_edits) and not any(_collide(a, b) for a in rule_edits for b in edits)


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


def _because(rule: Rule, verdict: Verdict | None) -> str:
    """The reason of a fired rule whose action says nothing about the visitor (the same banner,
    hidden block or text for everyone it is for): its conditions, which are then the whole reason."""
    if rule.when is ALWAYS or verdict is None:
        return "shown to every visitor on this page (the rule has no conditions)"
    return f"shown because {verdict.reason}"


def _ignore(outcome: Outcome) -> None:
    """Outcomes are only collected when explaining."""
