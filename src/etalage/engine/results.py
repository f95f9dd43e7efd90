"""Each experiment's results, added up from the profiles in the store: what `etalage report` prints and
`/.etalage/admin/experiments` shows (etalage.control.results), one computation for both.

Every profile holds its visitor's assignment, first exposure and the goals reached since (etalage.
profiles.profile.Assignment), so the report counts each unit once, exactly, whichever worker saw it.
Per experiment, for its current version, per variant: the exposed units, and per goal the units
that reached it, their rate, the value (orders) and, against the control, the relative uplift of the
rate and of the value per unit with their 95% intervals and p-values (etalage.engine.stats, as
GrowthBook's engine computes them); then the sample-ratio-mismatch p-value of the exposed units.
The programme holdout comes last, measured as the experiment "@holdout" (variants "holdout", the
control, and "personalized"; etalage.rules.experiments.programme_holdout).
These are fixed-horizon results: decide on them once the planned sample is reached, not while
watching them move. An experiment's `planned_units` (its rule table) is that sample, the exposed units
of all variants together; until it is reached the results say so ("fixed horizon: N of M units, do
not stop early"), since an interval read again and again while the data come in excludes 0 by chance
far more often than 5% of the time.

`--format json` gives a list, one object per experiment:

    {"experiment", "version", "status", "srm_p_value", "srm" (p < 0.001: the split is off, do not trust
     the results), "too_few" (a variant has fewer than MIN_UNITS units), "planned_units" (the planned
     sample, exposed units of all variants together, or null when the rules give none),
     "horizon_reached" (whether the exposed units reached it; null without a plan), "variants": [{"variant",
     "units", "goals": [{"goal", "units", "rate", "count", "value", "value_per_unit", "average_value",
     "rate_effect", "value_effect"}]}]}

where an effect is {"uplift", "low", "high", "p_value", "chance_to_win"} (relative: 0.1 is +10%; the
chance that the variant beats the control, 0 to 1), null for the control
and any of its fields null when it cannot be estimated yet.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from typing import Any

from etalage.engine.stats import SRM_THRESHOLD, Effect, Metric, effect, srm_p_value
from etalage.profiles.profile import Profile
from etalage.rules.experiments import HOLDOUT_KEY, Experiment, programme_holdout
from etalage.rules.ruleset import RuleSet

__all__ = ["MIN_UNITS", "GoalResult", "VariantResult", "ExperimentResult", "results", "horizon", "render", "as_json", "shown_low"]

# Fewer exposed units than this in a variant: too early to read anything (GrowthBook's default minimum).
MIN_UNITS = 150


@dataclass(frozen=True, slots=True)
class GoalResult:
    goal: str
    units: int  # units that reached it
    rate: float
    count: int  # times it was reached (orders, page views)
    value: float
    value_per_unit: float
    average_value: float  # value per time reached (the average order value)
    rate_effect: Effect | None  # None for the control
    value_effect: Effect | None


@dataclass(frozen=True, slots=True)
class VariantResult:
    variant: str
    units: int
    goals: list[GoalResult]


@dataclass(frozen=True, slots=True)
class ExperimentResult:
    experiment: str
    version: int
    status: str
    variants: list[VariantResult]
    srm_p_value: float
    srm: bool
    too_few: bool
    planned_units: int | None = None
    horizon_reached: bool | None = None  # None without a planned sample


@dataclass
class _Tally:
    units: int = 0
    reached: dict[str, list[float]] = field(default_factory=dict)  # goal: [units, count, value, value squared]


async def results(ruleset: RuleSet, profiles: AsyncIterator[Profile]) -> list[ExperimentResult]:
    holdout = programme_holdout(ruleset.site.holdout)
    experiments = (*ruleset.experiments, *((holdout,) if holdout is not None else ()))
    tallies = {e.id: {v.id: _Tally() for v in e.variants} for e in experiments}
    current = {e.id: e for e in experiments}
    async for profile in profiles:
        for experiment_id, assignment in profile.assignments.items():
            experiment = current.get(experiment_id)
            if experiment is None or assignment.version != experiment.version or not assignment.exposed:
                continue
            tally = tallies[experiment_id].get(assignment.variant)
            if tally is None:
                continue  # a variant removed since
            tally.units += 1
            for goal, reached in assignment.goals.items():
                sums = tally.reached.setdefault(goal, [0, 0, 0.0, 0.0])
                sums[0] += 1
                sums[1] += reached.count
                sums[2] += reached.value
                sums[3] += reached.value**2
    return [_result(experiment, tallies[experiment.id], [goal.id for goal in ruleset.goals]) for experiment in experiments]


def _result(experiment: Experiment, tallies: dict[str, _Tally], goals: list[str]) -> ExperimentResult:
    control = tallies[experiment.control.id]
    variants = []
    for variant in experiment.variants:
        tally = tallies[variant.id]
        rows = []
        for goal in goals:
            units, count, value, squares = tally.reached.get(goal, [0, 0, 0.0, 0.0])
            base = control.reached.get(goal, [0, 0, 0.0, 0.0])
            is_control = variant.id == experiment.control.id
            rows.append(
                GoalResult(
                    goal,
                    int(units),
                    units / tally.units if tally.units else 0.0,
                    int(count),
                    value,
                    value / tally.units if tally.units else 0.0,
                    value / count if count else 0.0,
                    None if is_control else effect(_rate(control.units, base[0]), _rate(tally.units, units)),
                    None if is_control else effect(Metric(control.units, base[2], base[3]), Metric(tally.units, value, squares)),
                )
            )
        variants.append(VariantResult(variant.id, tally.units, rows))
    p_value = srm_p_value([v.units for v in variants], [v.weight for v in experiment.variants])
    planned = experiment.planned_units
    return ExperimentResult(
        experiment.id,
        experiment.version,
        experiment.status,
        variants,
        p_value,
        p_value < SRM_THRESHOLD,
        any(v.units < MIN_UNITS for v in variants),
        planned,
        None if planned is None else sum(v.units for v in variants) >= planned,
    )


def _rate(units: int, reached: float) -> Metric:
    return Metric(units, reached, reached, proportion=True)


def as_json(found: list[ExperimentResult]) -> list[dict[str, Any]]:
    return [asdict(result) for result in found]


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1%}"


def shown_low(low: float) -> float:
    """An interval's lower end as shown to a reader: a rate or a revenue cannot fall by more than all of
    it, but the normal approximation (gbstats' too, kept as is in the JSON) reaches below -100% on few
    visitors, which reads as nonsense."""
    return max(low, -1.0)


def _effect(found: Effect | None) -> str:
    if found is None:
        return "(control)"
    if found.uplift is None:
        return "not yet estimable"
    p_value = f"p={found.p_value:.3f}" if found.p_value is not None else ""
    chance = f", {found.chance_to_win:.0%} to beat control" if found.chance_to_win is not None else ""
    low = shown_low(found.low) if found.low is not None else None
    return f"{_percent(found.uplift)} [{_percent(low)}, {_percent(found.high)}] {p_value}{chance}"


def horizon(result: ExperimentResult) -> str:
    """Where the experiment stands against its planned sample, in words."""
    units = sum(variant.units for variant in result.variants)
    if result.planned_units is None:
        if result.experiment == HOLDOUT_KEY:
            return "fixed-horizon results"
        return "fixed-horizon results, no planned sample: decide how many visitors you need (planned_units) before reading them"
    if not result.horizon_reached:
        return f"fixed horizon: {units:,} of {result.planned_units:,} units, do not stop early"
    return f"fixed horizon: planned sample reached ({units:,} of {result.planned_units:,} units), read the results"


def render(found: list[ExperimentResult]) -> str:
    """The results as a table per experiment, for the terminal."""
    lines = []
    for result in found:
        if result.experiment == HOLDOUT_KEY:  # its version is the share in basis points
            lines.append(f"the programme holdout ({result.version / 100:g}% see no personalization); {horizon(result)}")
        else:
            lines.append(f"experiment {result.experiment} (version {result.version}, {result.status}); {horizon(result)}")
        if result.srm:
            lines.append(f"  WARNING: sample ratio mismatch (p={result.srm_p_value:.2g}): the split is off, do not trust these results")
        if result.too_few:
            lines.append(f"  too early: a variant has fewer than {MIN_UNITS} exposed visitors")
        for variant in result.variants:
            lines.append(f"  {variant.variant}: {variant.units} exposed")
            for goal in variant.goals:
                line = f"    {goal.goal}: {goal.units} ({goal.rate:.1%}) {_effect(goal.rate_effect)}"
                if goal.value:
                    line += f"; value {goal.value:.2f}, per visitor {goal.value_per_unit:.2f} {_effect(goal.value_effect)}"
                    line += f", average {goal.average_value:.2f}"
                lines.append(line)
        lines.append("")
    return "\n".join(lines) if lines else "no experiments in the rules\n"
