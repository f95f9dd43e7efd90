"""all, any, not and segments (etalage.rules.conditions.combinators): reasons and descriptions."""

from __future__ import annotations

from etalage.rules.conditions import Verdict
from tests.rules.conditions.helpers import DOG_LOVERS, NOW, bought, verdict, viewed, visit, when


def test_all_reports_the_first_failing_condition():
    condition = when('{ all = [ { lifecycle = "prospect" }, { visits = { min = 3 } }, { device = "mobile" } ] }')
    assert verdict(condition, visit()) == Verdict(False, "1 visit, needs at least 3")


def test_all_holds_with_every_reason():
    condition = when('{ all = [ { lifecycle = "prospect" }, { visits = { max = 3 } } ] }')
    assert verdict(condition, visit()) == Verdict(True, "lifecycle is prospect; 1 visit (at most 3)")


def test_all_is_implied_by_several_kinds_in_one_table_in_order():
    condition = when('{ device = "desktop", visits = { min = 2 }, lifecycle = "customer" }')
    assert condition.describe() == "device is desktop and at least 2 visits and lifecycle is customer"
    assert verdict(condition, visit()) == Verdict(False, "1 visit, needs at least 2")


def test_any_holds_with_the_first_that_holds():
    condition = when('{ any = [ { subscribed = "dogs" }, { path = "^/$" }, { visits = { max = 1 } } ] }')
    assert verdict(condition, visit()) == Verdict(True, "path '/' matches '^/$'")


def test_any_fails_with_every_reason():
    condition = when('{ any = [ { subscribed = "dogs" }, { device = "mobile" } ] }')
    result = verdict(condition, visit())
    assert result == Verdict(False, "none of these holds: not subscribed to the Dogs newsletter; device is desktop, needs mobile")


def test_not_inverts_with_reasons():
    condition = when('{ not = { lifecycle = "prospect" } }')
    assert verdict(condition, visit()) == Verdict(False, "lifecycle is prospect, needs not lifecycle is prospect")
    customer = bought(("o1", "dog-leash", "dogs", 3, 1))
    assert verdict(condition, visit(customer)) == Verdict(True, "not lifecycle is prospect (lifecycle is customer, needs prospect)")


def test_combinators_nested_describe_with_brackets():
    condition = when(
        '{ any = [ { all = [ { device = "mobile" }, { visits = { min = 2 } } ] }, { not = { any = [ { excluded = "cats" }, { subscribed = "cats" } ] } } ] }'
    )
    assert condition.describe() == "(device is mobile and at least 2 visits) or not (excluded Cats or subscribed to the Cats newsletter)"


def test_segment_holds_with_its_reason():
    condition = when('{ segment = "dog-lovers" }', DOG_LOVERS)
    profile = bought(("o1", "dog-leash", "dogs", 3, 1))
    profile.category_views, profile.category_seen = {"dogs": 3}, {"dogs": NOW}
    result = verdict(condition, visit(profile))
    assert result == Verdict(
        True,
        "in segment 'dog-lovers': affinity for Dogs is 3 (at least 2); not lifecycle is prospect (lifecycle is customer, needs prospect)",
    )


def test_segment_fails_with_the_first_failing_condition():
    condition = when('{ segment = "dog-lovers" }', DOG_LOVERS)
    assert verdict(condition, visit(viewed(dogs=(1, 0)))) == Verdict(
        False, "not in segment 'dog-lovers': affinity for Dogs is 1, needs at least 2"
    )


def test_segment_in_a_combination():
    condition = when('{ any = [ { segment = "dog-lovers" }, { query = { utm_campaign = "dogs-*" } } ] }', DOG_LOVERS)
    assert condition.describe() == "segment 'dog-lovers' or query utm_campaign matches 'dogs-*'"
    assert verdict(condition, visit(query={"utm_campaign": ["dogs-spring"]})).ok
