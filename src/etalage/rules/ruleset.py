"""The rule set in force: its rules, and which of them apply to a page."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from cachetools import LRUCache

from etalage.consent import ConsentPolicy
from etalage.rules.actions.base import Action
from etalage.rules.conditions import Condition
from etalage.rules.experiments import Experiment, Goal
from etalage.rules.model import BlockDef, LearnRule, LoginSource, Product, Site
from etalage.rules.triggers import Trigger

__all__ = ["Rule", "RuleSet"]

_CACHED_PATH_CHARS = 512


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    action: Action
    block: str | None
    pages: tuple[re.Pattern[str], ...]
    priority: int
    source: str  # file:line, for messages
    when: Condition  # who the rule is for (conditions.ALWAYS when the rule says nothing)

    @property
    def target(self) -> str:
        """What the rule changes, and so claims on a page: its block, or for a rule without one
        (a pop-in) its action. One rule per target and page view; two at one priority is a load error."""
        return self.block or self.action.kind

    def applies_to(self, path: str) -> bool:
        return not self.pages or any(page.search(path) for page in self.pages)


@dataclass(frozen=True)
class RuleSet:
    site: Site
    consent: ConsentPolicy
    learn: tuple[LearnRule, ...]
    login: LoginSource
    catalog: Mapping[str, Product]
    blocks: Mapping[str, BlockDef]
    # Highest priority first; file order breaks ties (equal priorities on one block are a load error).
    rules: tuple[Rule, ...]
    version: str
    # Experiments on some of the rules (etalage.rules.experiments), in file order.
    experiments: tuple[Experiment, ...] = ()
    # What counts as a conversion for them.
    goals: tuple[Goal, ...] = ()
    # The [segments.<name>] conditions by name, for exports of their members (etalage.engine.audience).
    segments: Mapping[str, Condition] = field(default_factory=dict)
    # The response header in which the shop announces an order ([orders] header), lower-case.
    order_header: str | None = None
    # Moments told to the shop's messaging platform (etalage.rules.triggers), in file order.
    triggers: tuple[Trigger, ...] = ()
    # Derived from the fields above, never passed in: a copy with other rules gets caches of its own.
    _by_path: LRUCache[str, tuple[Rule, ...]] = field(init=False, repr=False, compare=False)
    _experiment_of: dict[str, Experiment] = field(init=False, repr=False, compare=False)
    # The response headers the shop signals Etalage with (a login's customer id, an order): lower-case.
    signal_headers: frozenset[bytes] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_path", LRUCache(4096))
        object.__setattr__(self, "_experiment_of", {rule: e for e in self.experiments for rule in e.rules})
        signals = (self.login.header, self.order_header)
        object.__setattr__(self, "signal_headers", frozenset(name.lower().encode("latin-1") for name in signals if name))

    def experiment_of(self, rule_id: str) -> Experiment | None:
        """The experiment whose variants use this rule, if any."""
        return self._experiment_of.get(rule_id)

    def rules_for(self, path: str) -> tuple[Rule, ...]:
        rules = self._by_path.get(path)
        if rules is None:
            rules = tuple(rule for rule in self.rules if rule.applies_to(path))
            # The cache is bounded by entries, so only short keys keep it bounded in bytes too: a shop's
            # paths are short, and a client sending long distinct ones gains nothing from a cache anyway.
            if len(path) <= _CACHED_PATH_CHARS:
                self._by_path[path] = rules
        return rules
