"""Which goals a page view reaches, for each experiment the visitor was exposed to (etalage.rules.experiments.Goal).

A conversion counts for an experiment when it comes after the visitor's first exposure to their
variant and within the goal's window; it is recorded in the profile with the assignment, so a later
version's draw starts without it. A purchase counts once per order: a reload of the thank-you page
teaches the same order again, which the profile already holds.
"""

from __future__ import annotations

from collections.abc import Sequence

from etalage.profiles.profile import Event, Profile
from etalage.rules.ruleset import RuleSet

__all__ = ["conversions"]


def conversions(ruleset: RuleSet, profile: Profile, learned: Sequence[Event], path: str, now: float) -> list[Event]:
    """The `converted` events of a page view at `path` that taught `learned`, for `profile` as it was before."""
    if not ruleset.goals or not profile.assignments:
        return []
    known_orders = {purchase.order for purchase in profile.purchases}
    reached = []
    for goal in ruleset.goals:
        if goal.page is not None:
            hits = 1 if goal.page.search(path) else 0
        elif goal.event == "purchase":
            hits = len({str((e.data or {}).get("order", "")) for e in learned if e.kind == "purchase"} - known_orders)
        else:
            hits = sum(1 for e in learned if e.kind == goal.event)
        reached += [goal] * hits
    events = []
    for experiment in ruleset.experiments:
        assignment = profile.assignments.get(experiment.id)
        if assignment is None or not assignment.exposed or assignment.version != experiment.version:
            continue
        for goal in reached:
            if assignment.exposed <= now <= assignment.exposed + goal.window:
                data = {"variant": assignment.variant, "version": assignment.version, "goal": goal.id}
                events.append(Event("converted", experiment.id, now, data))
    return events
