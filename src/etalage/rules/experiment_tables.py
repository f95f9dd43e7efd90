"""Reading `[[experiment]]` tables: validated up front like every other rule part.

    [[experiment]]
    id = "hero-banner"
    status = "running"                 # running | stopped | rolled_out (then winner = "<variant>")
    coverage = 0.5                     # the share of visitors in the experiment (default 1)
    start = 2026-12-01                 # optional: a date (UTC) or a date-time with its offset
    end = 2027-01-15
    version = 1                        # raise it to assign everyone again
    planned_units = 6000               # the exposed visitors (all variants) to wait for before reading the results
    variants.current = { weight = 1, rules = ["hero-by-interest"] }   # the first is the control
    variants.bigger = { weight = 1, rules = ["hero-bigger"] }
    variants.none = { weight = 1, rules = [] }                        # the origin's page

A variant names the rules it shows; they are ordinary [[rule]] tables, so a variant can differ from
another in template, action settings or conditions. Rules of different variants may claim one block at
one priority (a visitor sees one variant); a rule belongs to one experiment at most, and two running
experiments whose dates overlap may not change one block.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta

from etalage.problems import Problem, did_you_mean
from etalage.rules.bucketing import bucket_ranges
from etalage.rules.experiments import GOAL_EVENTS, STATUSES, Experiment, Goal, Variant
from etalage.rules.fields import Fields
from etalage.rules.ruleset import Rule

__all__ = ["compile_experiments", "compile_goals", "exclusive"]

_VARIANT_KEYS = ("weight", "rules")
_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]*")


def compile_experiments(found: list[Fields], rules: Sequence[Rule], problems: list[Problem]) -> tuple[Experiment, ...]:
    by_id = {rule.id: rule for rule in rules}
    experiments: list[Experiment] = []
    seen: dict[str, str] = {}
    owner: dict[str, Experiment] = {}
    for fields in found:
        experiment = _experiment(fields, by_id, seen)
        if experiment is None:
            continue
        for rule_id in sorted(experiment.rules):
            if rule_id in owner:
                fields.problem(
                    f"{fields.name}: rule '{rule_id}' is in experiment '{owner[rule_id].id}' already",
                    "variants",
                    f"a rule belongs to one experiment at most (first at {owner[rule_id].source})",
                )
            owner.setdefault(rule_id, experiment)
        _check_overlap(experiment, experiments, by_id, fields)
        experiments.append(experiment)
    return tuple(experiments)


def compile_goals(found: list[Fields]) -> tuple[Goal, ...]:
    """`[[goal]]` tables: `id`, then `page` (a pattern of paths), `form` (a pattern of the paths forms
    post to) or `event` (newsletter_subscribe, purchase), and `window_days` (default 14), how long
    after a first exposure a conversion counts."""
    goals: list[Goal] = []
    seen: dict[str, str] = {}
    for fields in found:
        goal_id = fields.take_id("goal", seen, _slug)
        page = fields.regex("page", fields.take("page", str, None))
        form = fields.regex("form", fields.take("form", str, None))
        event = fields.take("event", str, None, lambda e: None if e in GOAL_EVENTS else f"{e!r} is not one of {', '.join(GOAL_EVENTS)}")
        window = fields.take("window_days", (int, float), 14, lambda d: None if d > 0 else "must be more than 0")
        fields.finish()
        if sum(key in fields.table for key in ("page", "form", "event")) != 1:
            fields.problem(
                f"{fields.name}: give 'page' (a pattern of paths), 'form' (a pattern of the paths forms post to) "
                f"or 'event' ({', '.join(GOAL_EVENTS)}), one of them",
                hint="e.g. page = '^/checkout/thank-you', form = '^/basket/add/' or event = \"purchase\"",
            )
            continue
        if goal_id is not None and (page is not None or form is not None or event is not None) and window is not None:
            goals.append(Goal(goal_id, page, event, window * 24 * 3600.0, fields.where(), form))
    return tuple(goals)


def exclusive(experiments: Sequence[Experiment], first: Rule, second: Rule) -> bool:
    """Whether no visitor can see both rules: they are in different variants of one experiment."""
    for experiment in experiments:
        if first.id in experiment.rules and second.id in experiment.rules:
            return not any(first.id in v.rules and second.id in v.rules for v in experiment.variants)
    return False


def _experiment(fields: Fields, rules: dict[str, Rule], seen: dict[str, str]) -> Experiment | None:
    experiment_id = fields.take_id("experiment", seen, _slug)
    status = fields.take("status", str, "running", lambda s: None if s in STATUSES else f"{s!r} is not one of {', '.join(STATUSES)}")
    winner = fields.take("winner", str, None)
    coverage = fields.take("coverage", (int, float), 1.0, lambda c: None if 0 < c <= 1 else "must be more than 0 and at most 1")
    version = fields.take("version", int, 1, lambda v: None if v >= 1 else "must be 1 or more")
    seed = fields.take("seed", str, experiment_id or "", lambda s: None if s else "must not be empty")
    planned = fields.take(
        "planned_units", int, None, lambda n: None if n >= 1 else "must be 1 or more (exposed visitors, all variants together)"
    )
    start = _moment(fields, "start", end_of_day=False)
    end = _moment(fields, "end", end_of_day=True)
    variants = _variants(fields, rules)
    fields.finish()
    ok = None not in (experiment_id, status, coverage, version, seed, variants) and start is not False and end is not False
    ok = ok and (planned is not None or "planned_units" not in fields.table)
    if isinstance(start, float) and isinstance(end, float) and end <= start:
        fields.problem(f"{fields.name}: 'end' is not after 'start'", "end")
        ok = False
    if status == "rolled_out" and winner is None:
        fields.problem(f"{fields.name}: a rolled-out experiment needs 'winner', the variant everyone gets", "status")
        ok = False
    elif winner is not None and status != "rolled_out":
        fields.problem(f"{fields.name}: 'winner' is only for status = \"rolled_out\"", "winner")
        ok = False
    elif winner is not None and variants and winner not in {v.id for v in variants}:
        fields.problem(f"{fields.name}: 'winner': unknown variant {winner!r}", "winner", did_you_mean(winner, [v.id for v in variants]))
        ok = False
    if not ok or not variants:
        return None
    assert experiment_id is not None and isinstance(seed, str)
    return Experiment(
        experiment_id,
        variants,
        status,
        winner,
        float(coverage),
        start if isinstance(start, float) else None,
        end if isinstance(end, float) else None,
        version,
        seed,
        fields.where(),
        tuple(bucket_ranges([v.weight for v in variants], float(coverage))),
        planned,
    )


def _variants(fields: Fields, rules: dict[str, Rule]) -> tuple[Variant, ...] | None:
    table = fields.take("variants", dict)
    if table is None:
        return None
    hint = 'e.g. variants.current = { rules = ["hero"] } and variants.none = { rules = [] }'
    if len(table) < 2:
        fields.problem(f"{fields.name}: an experiment needs two variants or more (the first is the control)", "variants", hint)
        return None
    section = fields.sub("variants", table)
    section.label = f"{fields.name}: 'variants'"
    raw: list[tuple[str, float, frozenset[str]]] = []
    ok = True
    for name, value in table.items():
        if section.take(name, dict, check=_key_is_slug(name)) is None:
            ok = False
            continue
        variant = section.sub(name, value)
        variant.label = f"{fields.name}: variant '{name}'"
        weight = variant.take("weight", (int, float), 1, lambda w: None if w >= 0 else "must not be negative")
        names = variant.strings("rules")
        variant.finish()
        for rule_id in names or ():
            if rule_id not in rules:
                variant.problem(f"{variant.name}: unknown rule '{rule_id}'", "rules", did_you_mean(rule_id, rules))
                ok = False
        if weight is None or names is None or any(key not in _VARIANT_KEYS for key in value):
            ok = False
            continue
        raw.append((name, float(weight), frozenset(names)))
    total = sum(weight for _, weight, _ in raw)
    if ok and total <= 0:
        fields.problem(f"{fields.name}: the variants' weights add up to 0", "variants", "give at least one variant a weight above 0")
        return None
    if not ok:
        return None
    return tuple(Variant(name, weight / total, names) for name, weight, names in raw)


def _moment(fields: Fields, key: str, *, end_of_day: bool) -> float | None | bool:
    """A start or end as a Unix time; None when not given, False when wrong (reported). A date is
    that day in UTC: from its start, or for an end, until its end (an end date is inclusive)."""
    value = fields.take(key, (date, datetime), None)
    if value is None:
        return None if key not in fields.table else False
    if isinstance(value, datetime):
        if value.tzinfo is None:
            fields.problem(
                f"{fields.name}: '{key}' has no time zone offset", key, f"e.g. {key} = 2026-12-01T09:00:00+01:00, or a date (UTC)"
            )
            return False
        return value.timestamp()
    moment = datetime.combine(value, time(), UTC) + (timedelta(days=1) if end_of_day else timedelta())
    return moment.timestamp()


def _check_overlap(experiment: Experiment, earlier: list[Experiment], rules: dict[str, Rule], fields: Fields) -> None:
    """Two running experiments on one block at once would each count visitors the other changed."""
    if experiment.status != "running":
        return
    targets = {rules[rule_id].target for rule_id in experiment.rules}
    for other in earlier:
        if other.status != "running" or not _spans_meet(experiment, other):
            continue
        shared = sorted(targets & {rules[rule_id].target for rule_id in other.rules})
        if shared:
            fields.problem(
                f"{fields.name}: experiments '{other.id}' and '{experiment.id}' both run on '{shared[0]}'",
                "variants",
                f"stop one of them, or give them dates that do not overlap (first at {other.source})",
            )


def _spans_meet(first: Experiment, second: Experiment) -> bool:
    starts = max(first.start or float("-inf"), second.start or float("-inf"))
    ends = min(first.end or float("inf"), second.end or float("inf"))
    return starts < ends


def _key_is_slug(key: str) -> Callable[[object], str | None]:
    """A check of the value under `key` that judges the key itself (variants are keyed by their id)."""
    return lambda _value: _slug(key)


def _slug(value: str) -> str | None:
    if _SLUG.fullmatch(value):
        return None
    return f"{value!r} must be lower-case letters, digits, '-' or '_', starting with a letter or digit"
