"""Experiments on a page view: the visitor's variant's rules only, assignment, exposure, the holdout."""

from pathlib import Path

import pytest

from etalage.engine.personalize import Outcome, Personalizer
from etalage.engine.visit import page_view
from etalage.metrics import Metrics
from etalage.profiles.profile import Assignment, Event, Profile
from etalage.rules.bucketing import position
from etalage.rules.experiments import HOLDOUT_SEED
from etalage.rules.loader import load_rules
from etalage.rules.ruleset import RuleSet

PAGE = b'<html><body><div id="hero">Welcome</div><div id="popular">Popular</div></body></html>'
NOW = 1_800_000_000.0
SITE = '[site]\ncategories = { dogs = "Dogs" }\n{holdout}\n[blocks.hero]\nselector = "#hero"\n'
RULES = """
[[rule]]
id = "hero-big"
action = "set"
block = "hero"
text = "BIG"

[[rule]]
id = "hero-dogs"
action = "set"
block = "hero"
text = "DOGS"
when = { affinity = { category = "dogs", min = 1 } }

[[experiment]]
id = "hero"
version = 3
{extra}
variants.none = { rules = [] }
variants.big = { rules = ["hero-big"] }
variants.dogs = { rules = ["hero-dogs"] }
"""


def rules(tmp_path: Path, extra: str = "", holdout: str = "") -> RuleSet:
    (tmp_path / "site.toml").write_text(SITE.replace("{holdout}", holdout) + RULES.replace("{extra}", extra))
    return load_rules(tmp_path)


def view(ruleset: RuleSet, profile: Profile, visitor_id: str | None, explain: list[Outcome] | None = None) -> tuple[bytes, list[Event]]:
    learned: list[Event] = []
    visit = page_view(ruleset, profile, "/", NOW, visitor_id=visitor_id)
    result = Personalizer(Metrics()).personalize(ruleset, visit, PAGE, "text/html", explain, learned)
    return (result.body if result else PAGE), learned


def unit_in(ruleset: RuleSet, variant: str) -> str:
    """A visitor id the experiment puts in `variant` by hashing."""
    experiment = ruleset.experiments[0]
    return next(unit for unit in (f"visitor-{n}" for n in range(1000)) if (experiment.draw(unit) or experiment.control).id == variant)


def test_experiments_show_the_drawn_variant_and_record_the_assignment(tmp_path):
    ruleset = rules(tmp_path)
    unit = unit_in(ruleset, "big")
    body, learned = view(ruleset, Profile(), unit)
    assert b">BIG<" in body
    assert [(e.kind, e.value, e.data) for e in learned] == [
        ("assigned", "hero", {"variant": "big", "version": 3}),
        ("exposed", "hero", {"variant": "big", "version": 3}),
    ]


def test_experiments_keep_a_stored_assignment_whatever_the_draw(tmp_path):
    ruleset = rules(tmp_path)
    profile = Profile(
        assignments={"hero": Assignment("dogs", 3, NOW - 10, NOW - 10)}, category_views={"dogs": 2}, category_seen={"dogs": NOW}
    )
    body, learned = view(ruleset, profile, unit_in(ruleset, "big"))
    assert b">DOGS<" in body and learned == []


def test_experiments_draw_again_when_the_version_was_raised(tmp_path):
    ruleset = rules(tmp_path)
    profile = Profile(assignments={"hero": Assignment("dogs", 2, NOW - 10, NOW - 10)})
    body, learned = view(ruleset, profile, unit_in(ruleset, "big"))
    assert b">BIG<" in body and learned[0].data == {"variant": "big", "version": 3}


def test_experiments_use_the_customer_id_as_unit_once_known(tmp_path):
    ruleset = rules(tmp_path)
    customer = unit_in(ruleset, "big")
    _, learned = view(ruleset, Profile(customer_id=customer), unit_in(ruleset, "none"))
    assert learned[0].data == {"variant": "big", "version": 3}


def test_experiments_expose_a_variant_without_rules_when_another_variant_would_have_fired(tmp_path):
    ruleset = rules(tmp_path)
    body, learned = view(ruleset, Profile(), unit_in(ruleset, "none"))
    assert body == PAGE
    assert [(e.kind, e.data) for e in learned] == [
        ("assigned", {"variant": "none", "version": 3}),
        ("exposed", {"variant": "none", "version": 3}),
    ]


def test_experiments_do_not_expose_a_variant_whose_rule_conditions_do_not_hold(tmp_path):
    ruleset = rules(tmp_path)
    body, learned = view(ruleset, Profile(), unit_in(ruleset, "dogs"))
    assert body == PAGE and [e.kind for e in learned] == ["assigned"]


def test_experiments_expose_once_per_unit(tmp_path):
    ruleset = rules(tmp_path)
    profile = Profile(assignments={"hero": Assignment("big", 3, NOW - 10, NOW - 5)})
    body, learned = view(ruleset, profile, "anyone")
    assert b">BIG<" in body and learned == []


def test_experiments_assign_and_record_nothing_without_a_unit(tmp_path):
    ruleset = rules(tmp_path, holdout="holdout = 0.5")
    body, learned = view(ruleset, Profile(), None)
    assert body == PAGE and learned == []  # the control, 'none', is the origin's page


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ('status = "stopped"', PAGE),
        ('status = "rolled_out"\nwinner = "big"', b">BIG<"),
        ("end = 2020-01-01", PAGE),
        ("start = 2099-01-01", PAGE),
        ("coverage = 0.0001", PAGE),
    ],
)
def test_experiments_not_running_give_everyone_the_same_and_record_nothing(tmp_path, extra, expected):
    ruleset = rules(tmp_path, extra)
    for unit in ("a", "b", "c", unit_in(rules(tmp_path), "big")):
        body, learned = view(ruleset, Profile(), unit)
        assert (expected in body if expected != PAGE else body == PAGE) and learned == []


def test_experiments_explain_says_which_variant_left_a_rule_out(tmp_path):
    ruleset = rules(tmp_path)
    outcomes: list[Outcome] = []
    view(ruleset, Profile(), unit_in(ruleset, "big"), outcomes)
    assert Outcome("hero-dogs", False, "experiment 'hero' shows this visitor variant 'big', without this rule") in outcomes


def holdout_unit(inside: bool) -> str:
    return next(unit for unit in (f"v{n}" for n in range(10_000)) if (position(HOLDOUT_SEED, unit) < 0.2) == inside)


def holdout_events(learned: list[Event]) -> list[tuple[str, str, object]]:
    return [(e.kind, e.value, (e.data or {}).get("variant")) for e in learned]


def test_experiments_holdout_visitors_get_the_origins_page_and_no_assignment(tmp_path):
    ruleset = rules(tmp_path, holdout="holdout = 0.2")
    body, learned = view(ruleset, Profile(), holdout_unit(inside=True))
    assert body == PAGE  # and the experiment assigns nothing: the holdout is measured like one, alone
    assert holdout_events(learned) == [("holdout", "", None), ("assigned", "@holdout", "holdout"), ("exposed", "@holdout", "holdout")]
    assert learned[1].data == {"variant": "holdout", "version": 2000}


def test_experiments_visitors_outside_the_holdout_are_personalized(tmp_path):
    ruleset = rules(tmp_path, 'status = "rolled_out"\nwinner = "big"', holdout="holdout = 0.2")
    body, learned = view(ruleset, Profile(), holdout_unit(inside=False))
    assert b">BIG<" in body
    assert holdout_events(learned) == [
        ("holdout", "", None),
        ("assigned", "@holdout", "personalized"),
        ("exposed", "@holdout", "personalized"),
    ]


def test_experiments_holdout_follows_the_stored_draw(tmp_path):
    ruleset = rules(tmp_path, 'status = "rolled_out"\nwinner = "big"', holdout="holdout = 0.2")
    body, learned = view(ruleset, Profile(holdout_place=0.1), holdout_unit(inside=False))
    assert body == PAGE and holdout_events(learned) == [("assigned", "@holdout", "holdout"), ("exposed", "@holdout", "holdout")]


def test_experiments_holdout_is_measured_once_per_share(tmp_path):
    ruleset = rules(tmp_path, 'status = "stopped"', holdout="holdout = 0.2")
    measured = Profile(holdout_place=0.5, assignments={"@holdout": Assignment("personalized", 2000, NOW, NOW)})
    assert view(ruleset, measured, "anyone")[1] == []
    ruleset = rules(tmp_path, 'status = "stopped"', holdout="holdout = 0.6")  # a new share: a new measurement, in which 0.5 is held out
    assert holdout_events(view(ruleset, measured, "anyone")[1]) == [("assigned", "@holdout", "holdout"), ("exposed", "@holdout", "holdout")]


def paused_view(ruleset: RuleSet, unit: str) -> tuple[bytes, list[Event]]:
    learned: list[Event] = []
    visit = page_view(ruleset, Profile(), "/", NOW, visitor_id=unit)
    result = Personalizer(Metrics(), experiments=False).personalize(ruleset, visit, PAGE, "text/html", None, learned)
    return (result.body if result else PAGE), learned


def test_experiments_paused_give_everyone_the_control_and_record_nothing(tmp_path):
    ruleset = rules(tmp_path)
    assert paused_view(ruleset, unit_in(ruleset, "big")) == (PAGE, [])


def test_experiments_paused_hold_out_nobody(tmp_path):
    ruleset = rules(tmp_path, 'status = "rolled_out"\nwinner = "big"', holdout="holdout = 0.2")
    body, learned = paused_view(ruleset, holdout_unit(inside=True))
    assert b">BIG<" in body and learned == []


def test_experiments_count_assignments_exposures_and_holdout_views(tmp_path):
    ruleset = rules(tmp_path, holdout="holdout = 0.2")
    metrics = Metrics()
    personalizer = Personalizer(metrics)
    for unit in (unit_in_not_held_out(ruleset, "big"), holdout_unit(inside=True)):
        personalizer.personalize(ruleset, page_view(ruleset, Profile(), "/", NOW, visitor_id=unit), PAGE, "text/html", None, [])
    counts = [
        metrics.value("etalage_experiment_assignments_total", experiment="hero", variant="big"),
        metrics.value("etalage_experiment_exposures_total", experiment="hero", variant="big"),
        metrics.value("etalage_holdout_page_views_total"),
    ]
    assert counts == [1, 1, 1]


def test_experiments_count_nothing_for_a_preview(tmp_path):
    ruleset = rules(tmp_path)
    metrics = Metrics()
    profile = Profile(assignments={"hero": Assignment("big", 3, NOW)})
    Personalizer(metrics).personalize(ruleset, page_view(ruleset, profile, "/", NOW), PAGE, "text/html")
    assert "etalage_experiment_exposures_total{" not in metrics.render().decode()


def unit_in_not_held_out(ruleset: RuleSet, variant: str) -> str:
    experiment = ruleset.experiments[0]
    return next(
        unit
        for unit in (f"visitor-{n}" for n in range(10_000))
        if position(HOLDOUT_SEED, unit) >= ruleset.site.holdout and (experiment.draw(unit) or experiment.control).id == variant
    )


def test_experiments_explain_says_a_held_out_visitor_gets_nothing(tmp_path):
    ruleset = rules(tmp_path, holdout="holdout = 0.2")
    outcomes: list[Outcome] = []
    view(ruleset, Profile(holdout_place=0.1), None, outcomes)
    assert {outcome.reason for outcome in outcomes} == {"this visitor is in the programme holdout: no personalization"}
    assert len(outcomes) == len(ruleset.rules)
