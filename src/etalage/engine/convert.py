"""Which goals a page view or an event from the shop's backend reaches, for each experiment the
visitor was exposed to (etalage.rules.experiments.Goal).

A conversion counts for an experiment when it comes after the visitor's first exposure to their
variant and within the goal's window; it is recorded in the profile with the assignment, so a later
version's draw starts without it. A purchase counts once per order, wherever the order was learned
from: a reload of the thank-you page, or the same order sent by the shop's backend
(`POST /.etalage/api/events`), teaches an order the profile already holds. The order's value is the
backend's when it sent one (an `order` event), else the thank-you URL's.

Two sources may teach one order at nearly the same time (the thank-you page in one worker, the
backend's call in another, each reading the profile before the other's write): the `converted` event
of an order names it, and the profile drops it when it holds that order already (Profile._converted).
So the conversions must be applied *before* the events they were computed from.
"""

from __future__ import annotations

from collections.abc import Sequence

from etalage.metrics import Metrics
from etalage.profiles.profile import Event, Profile
from etalage.rules.experiments import Goal, programme_holdout
from etalage.rules.ruleset import RuleSet

__all__ = ["conversions", "count_conversions", "posts_to_goal"]


def conversions(
    ruleset: RuleSet, profile: Profile, learned: Sequence[Event], path: str | None, now: float, posted: str | None = None
) -> list[Event]:
    """The `converted` events of a page view at `path` (None: no page view, an event from the shop's
    backend), or of a form `posted` to that path and answered without an error, that taught `learned`,
    for `profile` as it was before; apply them before `learned`."""
    if not ruleset.goals or not profile.assignments:
        return []
    orders = _new_orders(profile, learned)
    reached: list[tuple[Goal, float, str]] = []
    for goal in ruleset.goals:
        if goal.page is not None:
            if path is not None and goal.page.search(path):
                reached.append((goal, 0.0, ""))
        elif goal.form is not None:
            if posted is not None and goal.form.search(posted):
                reached.append((goal, 0.0, ""))
        elif goal.event == "purchase":
            reached += [(goal, value, order) for order, value in orders.items()]
        else:
            reached += [(goal, 0.0, "")] * sum(1 for e in learned if e.kind == goal.event)
    if not reached:  # most page views reach no goal: nothing to look up per experiment
        return []
    events = []
    holdout = programme_holdout(ruleset.site.holdout)
    for experiment in (*ruleset.experiments, *((holdout,) if holdout is not None else ())):
        assignment = profile.assignments.get(experiment.id)
        if assignment is None or not assignment.exposed or assignment.version != experiment.version:
            continue
        for goal, value, order in reached:
            if assignment.exposed <= now <= assignment.exposed + goal.window:
                data = {"variant": assignment.variant, "version": assignment.version, "goal": goal.id, "value": value}
                if order:
                    data["order"] = order
                events.append(Event("converted", experiment.id, now, data))
    return events


def posts_to_goal(ruleset: RuleSet, path: str) -> bool:
    """Whether a form posted to `path` reaches a goal (`form = ...`)."""
    return any(goal.form is not None and goal.form.search(path) for goal in ruleset.goals)


def _new_orders(profile: Profile, learned: Sequence[Event]) -> dict[str, float]:
    """The orders `learned` teaches that `profile` does not hold yet, each with its total."""
    known = {purchase.order for purchase in profile.purchases} | {order.order for order in profile.orders}
    found: dict[str, float] = {}
    for event in learned:
        if event.kind == "purchase" and event.data:
            # A thank-you page's lines each carry the order's total (value_query).
            found.setdefault(str(event.data.get("order", "")), float(event.data.get("value", 0.0)))
        elif event.kind == "order":
            # The backend's order: its total is what the shop charged.
            found[event.value] = float((event.data or {}).get("value", 0.0))
    return {order: value for order, value in found.items() if order not in known}


def count_conversions(metrics: Metrics, converted: Sequence[Event]) -> None:
    """Count the conversions in Prometheus, by experiment, variant and goal."""
    for event in converted:
        data = event.data or {}
        metrics.inc("etalage_experiment_conversions_total", experiment=event.value, variant=str(data["variant"]), goal=str(data["goal"]))
