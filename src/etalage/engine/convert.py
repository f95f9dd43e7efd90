"""Which goals a page view reaches, for each experiment the visitor was exposed to (etalage.rules.experiments.Goal).

A conversion counts for an experiment when it comes after the visitor's first exposure to their
variant and within the goal's window; it is recorded in the profile with the assignment, so a later
version's draw starts without it. A purchase counts once per order: a reload of the thank-you page
teaches the same order again, which the profile already holds.
"""

from __future__ import annotations

from collections.abc import Sequence

from etalage.profiles.profile import Event, Profile
from etalage.rules.experiments import Goal, programme_holdout
from etalage.rules.ruleset import RuleSet

__all__ = ["conversions"]


def conversions(ruleset: RuleSet, profile: Profile, learned: Sequence[Event], path: str, now: float) -> list[Event]:
    """The `converted` events of a page view at `path` that taught `learned`, for `profile` as it was before."""
    if not ruleset.goals or not profile.assignments:
        return []
    known_orders = {purchase.order for purchase in profile.purchases}
    reached: list[tuple[Goal, float]] = []
    for goal in ruleset.goals:
        if goal.page is not None:
            if goal.page.search(path):
                reached.append((goal, 0.0))
        elif goal.event == "purchase":
            # Each new order once, with its total (the order's lines carry the same one).
            orders = {str(e.data.get("order", "")): float(e.data.get("value", 0.0)) for e in learned if e.kind == "purchase" and e.data}
            reached += [(goal, value) for order, value in orders.items() if order not in known_orders]
        else:
            reached += [(goal, 0.0)] * sum(1 for e in learned if e.kind == goal.event)
    events = []
    holdout = programme_holdout(ruleset.site.holdout)
    for experiment in (*ruleset.experiments, *((holdout,) if holdout is not None else ())):
        assignment = profile.assignments.get(experiment.id)
        if assignment is None or not assignment.exposed or assignment.version != experiment.version:
            continue
        for goal, value in reached:
            if assignment.exposed <= now <= assignment.exposed + goal.window:
                data = {"variant": assignment.variant, "version": assignment.version, "goal": goal.id, "value": value}
                events.append(Event("converted", experiment.id, now, data))
    return events
