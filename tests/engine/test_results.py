"""etalage report: results added up from profiles, each unit once, with GrowthBook's statistics."""

import asyncio
import json
from collections.abc import AsyncIterator, Iterable

import pytest

from etalage.cli import main
from etalage.engine.results import MIN_UNITS, as_json, render, results
from etalage.profiles.memory import MemoryStore
from etalage.profiles.profile import Assignment, Conversion, Event, Profile
from etalage.rules.loader import load_rules
from tests.support.config import PROJECT_RULES

# hero-banner (version 1): per-category, one-template, none; goals product-view, order, newsletter; a 5% holdout
RULES = load_rules(PROJECT_RULES)


def visitor(variant: str, *, exposed: bool = True, version: int = 1, order: float | None = None) -> Profile:
    goals = {"order": Conversion(2.0, 1, order)} if order is not None else {}
    return Profile(assignments={"hero-banner": Assignment(variant, version, 1.0, 2.0 if exposed else 0.0, goals)})


async def _each(profiles: Iterable[Profile]) -> AsyncIterator[Profile]:
    for profile in profiles:
        yield profile


def report(profiles: Iterable[Profile]):
    hero, holdout = asyncio.run(results(RULES, _each(profiles)))
    assert holdout.experiment == "@holdout"
    return hero


def test_results_count_exposed_units_of_the_current_version_only():
    result = report([visitor("none"), visitor("none", exposed=False), visitor("none", version=0), visitor("one-template")])
    assert [(v.variant, v.units) for v in result.variants] == [("per-category", 0), ("one-template", 1), ("none", 1)]


def test_results_give_rate_value_and_average_per_goal():
    result = report([visitor("none", order=20.0), visitor("none", order=40.0), visitor("none"), visitor("none")])
    order = next(goal for goal in result.variants[2].goals if goal.goal == "order")
    assert (order.units, order.rate, order.value, order.value_per_unit, order.average_value) == (2, 0.5, 60.0, 15.0, 30.0)


def test_results_compare_each_variant_with_the_control():
    profiles = [visitor("per-category", order=30.0 if n % 10 == 0 else None) for n in range(1000)]
    profiles += [visitor("one-template", order=30.0 if n % 5 == 0 else None) for n in range(1000)]
    profiles += [visitor("none", order=30.0 if n % 10 == 0 else None) for n in range(1000)]
    result = report(profiles)
    control, better, same = (next(g for g in v.goals if g.goal == "order") for v in result.variants)
    assert control.rate_effect is None
    assert better.rate_effect is not None and better.rate_effect.uplift == pytest.approx(1.0) and better.rate_effect.p_value < 0.001
    assert same.rate_effect is not None and same.rate_effect.uplift == 0.0 and same.rate_effect.low < 0 < same.rate_effect.high
    assert not result.srm and not result.too_few


def test_results_flag_a_skewed_split_and_too_few_units():
    result = report([visitor("per-category")] * 400 + [visitor("one-template")] * 300 + [visitor("none")] * 100)
    assert result.srm and result.too_few
    text = render([result])
    assert "sample ratio mismatch" in text and f"fewer than {MIN_UNITS}" in text


def test_results_label_fixed_horizon_until_the_planned_sample():
    result = report([visitor("none")] * 3)  # the demo's hero-banner plans 6,000 units
    assert (result.planned_units, result.horizon_reached) == (6000, False)
    assert "fixed horizon: 3 of 6,000 units, do not stop early" in render([result])


def test_results_say_when_the_planned_sample_is_reached():
    result = report([visitor(variant) for variant in ("per-category", "one-template", "none") for _ in range(2000)])
    assert result.horizon_reached
    assert "planned sample reached (6,000 of 6,000 units)" in render([result])


def test_results_json_gives_the_planned_sample_and_null_without_one():
    hero, holdout = asyncio.run(results(RULES, _each([visitor("none")])))
    found = as_json([hero, holdout])
    assert [(e["planned_units"], e["horizon_reached"]) for e in found] == [(6000, False), (None, None)]


def test_results_report_command_reads_the_embedded_store_file(tmp_path, capsys):
    path = tmp_path / "profiles.json"

    async def seed() -> None:
        store = MemoryStore(retention=3600, path=path)
        for number, variant in enumerate(["per-category", "one-template", "none"]):
            data = {"variant": variant, "version": 1}
            await store.record(f"v{number}", [Event("assigned", "hero-banner", 1.0, data), Event("exposed", "hero-banner", 2.0, data)])
        await store.aclose()

    asyncio.run(seed())
    assert main(["report", "--rules", str(PROJECT_RULES), "--profiles-file", str(path), "--format", "json"]) == 0
    experiment, holdout = json.loads(capsys.readouterr().out)
    assert [variant["variant"] for variant in holdout["variants"]] == ["holdout", "personalized"]
    assert [(v["variant"], v["units"]) for v in experiment["variants"]] == [("per-category", 1), ("one-template", 1), ("none", 1)]
    assert experiment["too_few"] is True and experiment["variants"][1]["goals"][0]["rate_effect"]["uplift"] is None


def test_results_report_command_needs_a_store(capsys, monkeypatch):
    monkeypatch.delenv("ETALAGE_REDIS_URL", raising=False)
    monkeypatch.delenv("ETALAGE_PROFILES_FILE", raising=False)
    assert main(["report", "--rules", str(PROJECT_RULES)]) == 2
    assert "--profiles-file" in capsys.readouterr().err


def test_results_measure_the_programme_holdout_like_an_experiment():
    def member(variant: str, order: float | None) -> Profile:
        goals = {"order": Conversion(2.0, 1, order)} if order is not None else {}
        return Profile(assignments={"@holdout": Assignment(variant, 500, 1.0, 2.0, goals)})

    profiles = [member("holdout", 10.0 if n % 10 == 0 else None) for n in range(200)]
    profiles += [member("personalized", 10.0 if n % 5 == 0 else None) for n in range(3800)]
    _, holdout = asyncio.run(results(RULES, _each(profiles)))
    personalized = next(goal for goal in holdout.variants[1].goals if goal.goal == "order")
    assert personalized.rate_effect is not None and personalized.rate_effect.uplift == pytest.approx(1.0)
    assert not holdout.srm  # 200 of 4000 is the 5% the weights say
    assert render([holdout]).startswith("the programme holdout (5% see no personalization)")
