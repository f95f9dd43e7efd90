"""[[experiment]] tables: what a good one loads as (the bad ones' messages are in tests/rulesets/bad)."""

from dataclasses import replace
from datetime import UTC, datetime

from etalage.rules.experiments import unversioned_changes
from etalage.rules.loader import load_rules
from tests.support.config import RULESETS

GOOD = RULESETS / "good" / "experiments"


def test_experiment_tables_make_weights_shares_in_file_order():
    hero = load_rules(GOOD).experiments[0]
    assert [(variant.id, variant.weight) for variant in hero.variants] == [("current", 0.5), ("dog-lovers", 0.25), ("none", 0.25)]
    assert hero.control.id == "current"


def test_experiment_tables_cut_each_range_to_the_coverage():
    hero = load_rules(GOOD).experiments[0]
    assert hero.ranges == ((0.0, 0.25), (0.5, 0.625), (0.75, 0.875))


def test_experiment_tables_read_dates_as_utc_with_an_end_date_inclusive():
    hero = load_rules(GOOD).experiments[0]
    assert hero.start == datetime(2026, 12, 1, tzinfo=UTC).timestamp()
    assert hero.end == datetime(2027, 1, 14, 23, tzinfo=UTC).timestamp()
    later = load_rules(GOOD).experiments[1]
    assert (later.start, later.end) == (None, None)


def test_experiment_tables_default_the_seed_to_the_id_and_the_version_to_1():
    old = load_rules(GOOD).experiments[1]
    assert (old.seed, old.version, old.coverage, old.status) == ("hero-old", 1, 1.0, "stopped")


def test_experiment_tables_read_the_planned_sample_if_given():
    hero, old = load_rules(GOOD).experiments[:2]
    assert (hero.planned_units, old.planned_units) == (4000, None)


def test_experiment_tables_let_variants_of_one_experiment_share_a_block_at_one_priority():
    ruleset = load_rules(GOOD)
    assert {rule.id for rule in ruleset.rules} == {"hero-hide", "hero-hide-dog-lovers", "popular-hide"}
    assert ruleset.experiment_of("hero-hide-dog-lovers").id == "hero"
    assert ruleset.experiment_of("popular-hide").fixed().id == "hidden"


def test_experiment_tables_read_the_programme_holdout_from_site():
    assert load_rules(GOOD).site.holdout == 0.05


def test_experiment_tables_end_date_is_inclusive(tmp_path):
    (tmp_path / "site.toml").write_text(
        '[site]\ncategories = { dogs = "Dogs" }\n'
        '[[experiment]]\nid = "x"\nstart = 2026-12-01\nend = 2026-12-01\nvariants.a = { rules = [] }\nvariants.b = { rules = [] }\n'
        '[blocks.hero]\nselector = "#hero"\n[[rule]]\nid = "r"\naction = "hide"\nblock = "hero"\n'
    )
    experiment = load_rules(tmp_path).experiments[0]
    day = datetime(2026, 12, 1, tzinfo=UTC).timestamp()
    assert experiment.running(day) and experiment.running(day + 86399) and not experiment.running(day + 86400)


def test_experiment_tables_unversioned_changes_name_a_removed_variant_and_a_new_seed():
    hero = load_rules(GOOD).experiments[0]
    changed = replace(hero, variants=hero.variants[:2], seed="other")
    assert unversioned_changes(hero, changed) == [
        "its seed changed from 'hero-2026' to 'other': new visitors are drawn differently from the rest",
        "variant(s) none removed: their visitors now get the control, no longer counted",
    ]
    assert unversioned_changes(hero, replace(changed, version=3)) == []
