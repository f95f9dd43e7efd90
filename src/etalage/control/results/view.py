"""What the results page shows, as text and interval bars, from etalage.engine.results (the numbers
`etalage report` prints: one computation for both).

Values are formatted here and escaped by the template (autoescape); an interval bar is a few numbers,
the geometry of an inline SVG drawn on a scale shared by the variants of one goal, so that their
intervals can be compared at a glance.
"""

from __future__ import annotations

from dataclasses import dataclass

from etalage.engine.results import MIN_UNITS, ExperimentResult, VariantResult, horizon, shown_low
from etalage.engine.stats import Effect
from etalage.rules.experiments import HOLDOUT_KEY

__all__ = ["BAR_WIDTH", "Bar", "GoalRow", "GoalTable", "ExperimentView", "MIN_UNITS", "experiment_view"]

BAR_WIDTH = 160  # pixels; the scale's zero sits in the middle
_HALF = BAR_WIDTH / 2
_SMALLEST_SCALE = 0.05  # ±5%: narrow intervals are not blown up to the bar's full width


@dataclass(frozen=True, slots=True)
class Bar:
    """An uplift and its 95% interval on the goal's scale, in pixels from the left edge."""

    low: float
    high: float
    estimate: float
    verdict: str  # "better", "worse" (the interval excludes 0) or "unclear"
    label: str  # what the bar says, for screen readers and tooltips

    @property
    def words(self) -> str:
        """The verdict in words beside the bar: its colour alone says nothing to a colour-blind reader or a printout."""
        return {"better": "better", "worse": "worse"}.get(self.verdict, "not clear yet")


@dataclass(frozen=True, slots=True)
class GoalRow:
    variant: str
    control: bool
    units: str
    conversions: str
    rate: str
    rate_uplift: str
    rate_bar: Bar | None
    chance: str
    value_per_unit: str
    value_uplift: str
    value_bar: Bar | None
    value_chance: str
    average_value: str


@dataclass(frozen=True, slots=True)
class GoalTable:
    goal: str
    valued: bool  # a goal with a value (orders): revenue per visitor and average order value too
    rows: list[GoalRow]


@dataclass(frozen=True, slots=True)
class ExperimentView:
    key: str
    title: str
    srm: bool
    srm_p_value: str
    too_few: bool
    horizon: str  # where it stands against its planned sample
    early: bool  # a planned sample not reached yet: do not stop early
    units: list[tuple[str, str, str]]  # variant, exposed visitors, share of the exposed
    goals: list[GoalTable]


def experiment_view(result: ExperimentResult, holdout_share: float) -> ExperimentView:
    if result.experiment == HOLDOUT_KEY:
        title = f"The programme holdout ({holdout_share:.0%} see no personalization) against everyone else"
    else:
        title = f"Experiment {result.experiment} (version {result.version}, {result.status})"
    total = sum(variant.units for variant in result.variants)
    units = [(v.variant, f"{v.units:,}", f"{v.units / total:.1%}" if total else "-") for v in result.variants]
    goal_ids = [goal.goal for goal in result.variants[0].goals] if result.variants else []
    tables = [_goal_table(result.variants, index, goal) for index, goal in enumerate(goal_ids)]
    return ExperimentView(
        result.experiment,
        title,
        result.srm,
        f"{result.srm_p_value:.2g}",
        result.too_few,
        horizon(result),
        result.horizon_reached is False,
        units,
        tables,
    )


def _goal_table(variants: list[VariantResult], index: int, goal: str) -> GoalTable:
    found = [(variant, variant.goals[index]) for variant in variants]
    valued = any(reached.value for _, reached in found)
    rate_scale = _scale([reached.rate_effect for _, reached in found])
    value_scale = _scale([reached.value_effect for _, reached in found])
    rows = [
        GoalRow(
            variant.variant,
            reached.rate_effect is None,
            f"{variant.units:,}",
            f"{reached.units:,}",
            f"{reached.rate:.1%}",
            _uplift(reached.rate_effect),
            _bar(reached.rate_effect, rate_scale),
            _chance(reached.rate_effect),
            f"{reached.value_per_unit:,.2f}",
            _uplift(reached.value_effect),
            _bar(reached.value_effect, value_scale),
            _chance(reached.value_effect),
            f"{reached.average_value:,.2f}" if reached.count else "-",
        )
        for variant, reached in found
    ]
    return GoalTable(goal, valued, rows)


def _scale(effects: list[Effect | None]) -> float:
    """The largest distance from 0 any interval reaches: the bars' half width stands for it."""
    bounds = [bound for found in effects if found is not None for bound in (found.low, found.high) if bound is not None]
    reach = [abs(shown_low(bound)) for bound in bounds]
    return max([_SMALLEST_SCALE, *reach])


def _percent(value: float) -> str:
    return f"{value:+.1%}"


def _uplift(found: Effect | None) -> str:
    if found is None:
        return "control"
    if found.uplift is None or found.low is None or found.high is None:
        return "not yet estimable"
    return f"{_percent(found.uplift)} [{_percent(shown_low(found.low))}, {_percent(found.high)}]"


def _chance(found: Effect | None) -> str:
    if found is None or found.chance_to_win is None:
        return "-"
    return f"{found.chance_to_win:.0%}"


def _bar(found: Effect | None, scale: float) -> Bar | None:
    if found is None or found.uplift is None or found.low is None or found.high is None:
        return None

    def x(value: float) -> float:
        return round(_HALF + value / scale * (_HALF - 2), 1)

    verdict = "better" if found.low > 0 else "worse" if found.high < 0 else "unclear"
    low = shown_low(found.low)
    label = f"uplift {_percent(found.uplift)}, 95% interval {_percent(low)} to {_percent(found.high)}"
    return Bar(x(low), x(found.high), x(found.uplift), verdict, label)
