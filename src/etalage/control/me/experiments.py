"""The visitor's experiments and the programme holdout, in words, for their own page and its export."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from etalage.profiles.profile import Assignment, Conversion, Profile
from etalage.rules.experiments import HOLDOUT_KEY, Experiment, in_holdout_place
from etalage.rules.ruleset import RuleSet

__all__ = ["ExperimentLine", "HoldoutLine", "experiment_lines", "holdout_line"]


@dataclass(frozen=True, slots=True)
class ExperimentLine:
    experiment: str
    variant: str
    # running (the visitor sees their variant now), stopped, rolled_out, ended (its dates are past,
    # an earlier round, or the shop removed it)
    status: str
    assigned_at: float
    exposed_at: float  # 0: the variant has not changed a page for them yet
    goals: Mapping[str, Conversion]  # the goals reached since, by goal id
    text: str


def _day(ts: float) -> str:
    moment = datetime.fromtimestamp(ts, UTC)
    return f"{moment.day} {moment:%B %Y}"


def experiment_lines(ruleset: RuleSet, profile: Profile, now: float) -> list[ExperimentLine]:
    """Every experiment the visitor was put in, newest first, with what it means for them now."""
    known = {experiment.id: experiment for experiment in ruleset.experiments}
    lines = []
    for experiment_id, assignment in sorted(profile.assignments.items(), key=lambda item: -item[1].at):
        if experiment_id == HOLDOUT_KEY:
            continue  # said by holdout_line
        status, text = _words(known.get(experiment_id), experiment_id, assignment, now)
        lines.append(ExperimentLine(experiment_id, assignment.variant, status, assignment.at, assignment.exposed, assignment.goals, text))
    return lines


def _words(experiment: Experiment | None, experiment_id: str, assignment: Assignment, now: float) -> tuple[str, str]:
    group = f"group '{assignment.variant}'"
    if experiment is None or experiment.version != assignment.version:
        return "ended", f"The shop's test '{experiment_id}' is over. You were in {group} from {_day(assignment.at)}."
    if experiment.running(now):
        seen = f"first shown to you on {_day(assignment.exposed)}" if assignment.exposed else "not shown to you yet"
        return "running", (
            f"The shop is testing '{experiment_id}' and shows you {group} since {_day(assignment.at)}, {seen}. "
            "Visitors are put in a group by chance, and stay in it."
        )
    if experiment.status == "rolled_out":
        return (
            "rolled_out",
            f"The shop's test '{experiment_id}' is over: every visitor now sees group '{experiment.fixed().id}'. You were in {group}.",
        )
    status = "stopped" if experiment.status == "stopped" else "ended"
    state = "stopped" if status == "stopped" else "not running now"
    return status, f"The shop's test '{experiment_id}' is {state}: you see what every visitor sees. You were in {group}."


@dataclass(frozen=True, slots=True)
class HoldoutLine:
    in_holdout: bool
    text: str


def holdout_line(ruleset: RuleSet, profile: Profile) -> HoldoutLine | None:
    """Whether the visitor is in the programme holdout, in words; None when the shop keeps none or
    has not drawn for them yet."""
    share = ruleset.site.holdout
    if share <= 0 or profile.holdout_place is None:
        return None
    if in_holdout_place(profile.holdout_place, share):
        return HoldoutLine(
            True,
            f"You are in the shop's comparison group ({share:.0%} of visitors, chosen by chance): "
            "it shows you its pages without any personalization, so it can measure what personalization does.",
        )
    return HoldoutLine(False, f"You are not in the shop's comparison group ({share:.0%} of visitors, who see no personalization).")
