"""Experiments as the request path uses them: variants of one rule or a group of rules, and which
variant a unit (a customer id, else a visitor id) gets.

Visitors outside an experiment (not running yet or any more, stopped, beyond its coverage, without
consent) get its control, the first variant, and are neither assigned nor counted; a rolled-out
experiment gives everyone its winner. Assignment is sticky: once a unit is assigned, the profile
keeps its variant (etalage.profiles.profile.Assignment), and only a higher `version` draws again.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from etalage.rules.bucketing import choose, position

__all__ = [
    "Variant",
    "Experiment",
    "Goal",
    "GOAL_EVENTS",
    "STATUSES",
    "HOLDOUT_SEED",
    "HOLDOUT_KEY",
    "in_holdout_place",
    "programme_holdout",
    "unversioned_changes",
]

STATUSES = ("running", "stopped", "rolled_out")
# Profile events a goal may count (etalage.engine.learn teaches them); other goals count page views.
GOAL_EVENTS = ("newsletter_subscribe", "purchase")
# Programme holdout: the seed of the draw that keeps a share of visitors unpersonalized.
HOLDOUT_SEED = "etalage-holdout"
# The programme holdout measured as an experiment, under a key no rule file's experiment can have (not a slug).
HOLDOUT_KEY = "@holdout"


@dataclass(frozen=True, slots=True)
class Variant:
    id: str
    weight: float  # its share of the experiment's units (the variants' shares sum to 1)
    # The rules this variant shows; none: the page as the origin sent it, for the experiment's blocks.
    rules: frozenset[str]


@dataclass(frozen=True, slots=True)
class Experiment:
    id: str
    variants: tuple[Variant, ...]  # the first is the control
    status: str  # one of STATUSES
    winner: str | None  # the variant everyone gets once rolled out
    coverage: float  # the share of units in the experiment (0 to 1)
    start: float | None  # Unix times: it runs from start (inclusive) until end (exclusive)
    end: float | None
    version: int
    seed: str
    source: str  # file:line, for messages
    ranges: tuple[tuple[float, float], ...]  # etalage.rules.bucketing.bucket_ranges of the weights
    # The exposed units (all variants together) to wait for before reading the results (fixed horizon).
    planned_units: int | None = None

    @property
    def control(self) -> Variant:
        return self.variants[0]

    @property
    def rules(self) -> frozenset[str]:
        """Every rule some variant uses."""
        return frozenset().union(*(variant.rules for variant in self.variants))

    def variant(self, variant_id: str) -> Variant | None:
        return next((variant for variant in self.variants if variant.id == variant_id), None)

    def running(self, now: float) -> bool:
        """Whether it assigns and counts units at `now`."""
        return self.status == "running" and (self.start is None or now >= self.start) and (self.end is None or now < self.end)

    def fixed(self) -> Variant:
        """What everyone gets while it does not run: the winner once rolled out, else the control."""
        winner = self.variant(self.winner) if self.winner else None
        return winner if self.status == "rolled_out" and winner is not None else self.control

    def draw(self, unit: str) -> Variant | None:
        """The variant `unit` falls in by hashing (GrowthBook's), or None when beyond the coverage."""
        index = choose(position(self.seed, unit), self.ranges)
        return self.variants[index] if index >= 0 else None


@dataclass(frozen=True, slots=True)
class Goal:
    """What counts as a conversion for every experiment: a page view whose path matches `page`, a form
    posted to a path that matches `form` (add to basket) and answered without an error, or a profile
    event of kind `event` (a newsletter subscription, a purchase: each order once), within `window`
    seconds of the visitor's first exposure to their variant."""

    id: str
    page: re.Pattern[str] | None
    event: str | None
    window: float
    source: str
    form: re.Pattern[str] | None = None


@functools.lru_cache(maxsize=16)  # asked on every page view; frozen, so one object per share serves them all
def programme_holdout(share: float) -> Experiment | None:
    """The programme holdout as an experiment, for measuring it like one: the control "holdout" (no
    personalization) against "personalized", weighted by the share; its version is the share in basis
    points, so that a changed share starts a new measurement. None without a holdout."""
    if share <= 0:
        return None
    variants = (Variant("holdout", share, frozenset()), Variant("personalized", 1 - share, frozenset()))
    return Experiment(HOLDOUT_KEY, variants, "running", None, 1.0, None, None, round(share * 10_000), HOLDOUT_SEED, "[site] holdout", ())


def in_holdout_place(place: float, share: float) -> bool:
    """Whether a unit at `place` (its position for HOLDOUT_SEED) is in a holdout of `share`:
    raising the share adds units, and those held out stay held out."""
    return place < share


def unversioned_changes(old: Experiment, new: Experiment) -> list[str]:
    """What changed in a running experiment without its `version` being raised, in words: visitors
    already assigned keep their variant (sticky), but the arms then mix two different splits."""
    if new.version != old.version or new.status != "running":
        return []
    changes = []
    if new.seed != old.seed:
        changes.append(f"its seed changed from {old.seed!r} to {new.seed!r}: new visitors are drawn differently from the rest")
    removed = [variant.id for variant in old.variants if new.variant(variant.id) is None]
    if removed:
        changes.append(f"variant(s) {', '.join(removed)} removed: their visitors now get the control, no longer counted")
    shares = {variant.id: round(variant.weight, 6) for variant in new.variants}
    if not removed and shares != {variant.id: round(variant.weight, 6) for variant in old.variants}:
        changes.append("the variants' weights changed: visitors already assigned keep their variant, new ones get the new weights")
    return changes
