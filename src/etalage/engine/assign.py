"""Experiments and the programme holdout for one page view: which variant's rules the visitor gets,
and what to record (assignments, first exposures, the holdout draw).

The unit is the customer id once known, else the visitor id (Visit.unit); a page view without one
(no consent, a preview, `rules explain`) draws nothing: it gets stored assignments or the controls,
and records nothing. Assignment happens on the first page view where a rule of the experiment is for
the page; exposure is recorded by the engine when the variant's rule changed the page (or, for a
variant without rules, when another variant's rule would have), once per unit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from etalage.profiles.profile import Event, Profile
from etalage.rules.bucketing import position
from etalage.rules.conditions import Visit
from etalage.rules.experiments import HOLDOUT_KEY, HOLDOUT_SEED, Experiment, Variant, in_holdout_place, programme_holdout
from etalage.rules.ruleset import Rule, RuleSet

__all__ = ["Choice", "Plan", "plan"]


@dataclass(frozen=True, slots=True)
class Choice:
    experiment: Experiment
    variant: Variant
    # Whether this page view counts for the experiment: it runs and the visitor is assigned to it.
    counted: bool
    # Whether the visitor was exposed to their variant before this page view.
    exposed: bool = False


@dataclass(slots=True)
class Plan:
    """What the experiments decided for one page view; `events` are for the profile."""

    held_out: bool = False
    choices: dict[str, Choice] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    _exposed_now: set[str] = field(default_factory=set)

    def choice(self, rule: Rule, ruleset: RuleSet) -> Choice | None:
        experiment = ruleset.experiment_of(rule.id)
        return self.choices.get(experiment.id) if experiment is not None else None

    def expose(self, choice: Choice, now: float) -> None:
        """The visitor saw their variant on this page: record it, the first time only."""
        if not choice.counted or choice.exposed or choice.experiment.id in self._exposed_now:
            return
        self._exposed_now.add(choice.experiment.id)
        data = {"variant": choice.variant.id, "version": choice.experiment.version}
        self.events.append(Event("exposed", choice.experiment.id, now, data))


def plan(ruleset: RuleSet, rules: tuple[Rule, ...], visit: Visit, *, paused: bool = False) -> Plan:
    """The holdout and the experiments of `rules` (those for the page) for this visit; `paused`
    (Settings.experiments off): no holdout, and every experiment as if it did not run."""
    result = Plan()
    profile, unit, now = visit.profile, visit.unit, visit.now
    share = 0.0 if paused else ruleset.site.holdout
    if share > 0:
        place = profile.holdout_place
        if place is None and unit is not None:
            place = position(HOLDOUT_SEED, unit)
            result.events.append(Event("holdout", "", now, {"place": place}))
        if place is not None:
            result.held_out = in_holdout_place(place, share)
            _measure_holdout(result, profile, share, now)
        if result.held_out:
            return result
    for rule in rules:
        experiment = ruleset.experiment_of(rule.id)
        if experiment is not None and experiment.id not in result.choices:
            result.choices[experiment.id] = (
                Choice(experiment, experiment.fixed(), False) if paused else _choose(experiment, profile, unit, now, result.events)
            )
    return result


def _measure_holdout(result: Plan, profile: Profile, share: float, now: float) -> None:
    """A page view with rules, held out or personalized, is an exposure of the programme holdout
    (etalage.rules.experiments.programme_holdout): recorded once per visitor and share."""
    holdout = programme_holdout(share)
    assert holdout is not None
    stored = profile.assignments.get(HOLDOUT_KEY)
    if stored is None or stored.version != holdout.version:
        data = {"variant": "holdout" if result.held_out else "personalized", "version": holdout.version}
        result.events += [Event("assigned", HOLDOUT_KEY, now, data), Event("exposed", HOLDOUT_KEY, now, data)]


def _choose(experiment: Experiment, profile: Profile, unit: str | None, now: float, events: list[Event]) -> Choice:
    if not experiment.running(now):
        return Choice(experiment, experiment.fixed(), False)
    stored = profile.assignments.get(experiment.id)
    if stored is not None and stored.version == experiment.version:
        variant = experiment.variant(stored.variant)
        # A variant removed without raising the version: its visitors get the control, uncounted.
        return Choice(experiment, variant, True, bool(stored.exposed)) if variant else Choice(experiment, experiment.control, False)
    if unit is None or (stored is not None and stored.version > experiment.version):
        return Choice(experiment, experiment.control, False)
    variant = experiment.draw(unit)
    if variant is None:
        return Choice(experiment, experiment.control, False)
    events.append(Event("assigned", experiment.id, now, {"variant": variant.id, "version": experiment.version}))
    return Choice(experiment, variant, True)
