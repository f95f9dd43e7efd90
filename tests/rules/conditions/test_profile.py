"""Conditions on the profile (etalage.rules.conditions.profile): each kind true and false with its reason."""

from __future__ import annotations

from etalage.profiles.profile import Profile
from etalage.rules.actions.base import ranked_categories
from etalage.rules.conditions import Verdict, supply_ends
from tests.rules.conditions.helpers import CATALOG, DAY, NOW, SITE, bought, verdict, viewed, visit, when

# -- affinity and top --------------------------------------------------------------------------


def test_affinity_holds_at_min():
    condition = when('{ affinity = { category = "dogs", min = 2 } }')
    assert verdict(condition, visit(viewed(dogs=(3, 0)))) == Verdict(True, "affinity for Dogs is 3 (at least 2)")


def test_affinity_fades_below_min():
    # Four views, two half-lives ago: interest 1.
    condition = when('{ affinity = { category = "dogs", min = 2 } }')
    assert verdict(condition, visit(viewed(dogs=(4, 60)))) == Verdict(False, "affinity for Dogs is 1, needs at least 2")


def test_affinity_max_fails_above():
    condition = when('{ affinity = { category = "dogs", max = 1.5 } }')
    assert verdict(condition, visit(viewed(dogs=(3, 30)))) == Verdict(True, "affinity for Dogs is 1.5 (at most 1.5)")
    assert verdict(condition, visit(viewed(dogs=(4, 30)))) == Verdict(False, "affinity for Dogs is 2, needs at most 1.5")


def test_affinity_between_holds():
    condition = when('{ affinity = { category = "dogs", min = 1, max = 5 } }')
    assert verdict(condition, visit(viewed(dogs=(3, 0)))) == Verdict(True, "affinity for Dogs is 3 (between 1 and 5)")


def test_affinity_without_bounds_needs_some_interest():
    condition = when('{ affinity = { category = "cats" } }')
    assert verdict(condition, visit(viewed(dogs=(3, 0)))) == Verdict(False, "no interest in Cats")
    assert verdict(condition, visit(viewed(cats=(1, 0)))) == Verdict(True, "affinity for Cats is 1")


def test_affinity_counts_a_chosen_interest():
    condition = when('{ affinity = { category = "fish", min = 10 } }')
    assert verdict(condition, visit(Profile(interests={"fish"}, visits=1))) == Verdict(True, "affinity for Fish is 10 (at least 10)")


def test_affinity_rounds_the_score_in_reasons():
    condition = when('{ affinity = { category = "dogs", min = 2 } }')
    assert verdict(condition, visit(viewed(dogs=(1, 10)))).reason == "affinity for Dogs is 0.79, needs at least 2"


def test_top_holds_within_n():
    condition = when('{ top = { n = 2, category = "cats" } }')
    profile = viewed(dogs=(5, 0), cats=(3, 0), fish=(1, 0))
    assert verdict(condition, visit(profile)) == Verdict(True, "Cats is number 2 of the visitor's categories (top 2)")


def test_top_fails_outside_n():
    condition = when('{ top = { n = 2, category = "fish" } }')
    profile = viewed(dogs=(5, 0), cats=(3, 0), fish=(1, 0))
    assert verdict(condition, visit(profile)) == Verdict(False, "Fish is number 3 of the visitor's categories, needs top 2")


def test_top_n_defaults_to_the_strongest():
    condition = when('{ top = { category = "dogs" } }')
    assert condition.describe() == "Dogs is the visitor's strongest category"
    assert verdict(condition, visit(viewed(dogs=(5, 0), cats=(3, 0)))).ok


def test_top_ties_go_to_site_order():
    profile = viewed(dogs=(2, 0), cats=(2, 0))
    assert verdict(when('{ top = { category = "dogs" } }'), visit(profile)).ok
    assert verdict(when('{ top = { category = "cats" } }'), visit(profile)) == Verdict(
        False, "Cats is number 2 of the visitor's categories, needs top 1"
    )


def test_top_without_interest_fails():
    condition = when('{ top = { n = 4, category = "rodents" } }')
    assert verdict(condition, visit(viewed(dogs=(2, 0)))) == Verdict(False, "no interest in Rodents, needs it among the top 4")


def test_top_ranks_as_the_actions_do():
    profile = viewed(dogs=(3, 40), cats=(2, 0), rodents=(6, 90), fish=(2, 0))
    ranked = [category for category, _ in ranked_categories(profile, SITE, NOW, "rule")]
    for place, category in enumerate(ranked, start=1):
        assert verdict(when(f'{{ top = {{ n = {place}, category = "{category}" }} }}'), visit(profile)).ok
        if place > 1:
            assert not verdict(when(f'{{ top = {{ n = {place - 1}, category = "{category}" }} }}'), visit(profile)).ok


# -- lifecycle, visits, recency ----------------------------------------------------------------


def test_lifecycle_holds_for_the_stage():
    assert verdict(when('{ lifecycle = "prospect" }'), visit()) == Verdict(True, "lifecycle is prospect")


def test_lifecycle_list_fails_with_the_stages_needed():
    condition = when('{ lifecycle = ["repeat_customer", "customer"] }')
    assert verdict(condition, visit()) == Verdict(False, "lifecycle is prospect, needs customer or repeat_customer")
    assert verdict(condition, visit(bought(("o1", "dog-leash", "dogs", 3, 1)))) == Verdict(True, "lifecycle is customer")


def test_visits_min_fails_below():
    condition = when("{ visits = { min = 2 } }")
    assert verdict(condition, visit()) == Verdict(False, "1 visit, needs at least 2")


def test_visits_range_holds():
    condition = when("{ visits = { min = 2, max = 5 } }")
    assert verdict(condition, visit(Profile(visits=3))) == Verdict(True, "3 visits (between 2 and 5)")


def test_visits_max_fails_above():
    assert verdict(when("{ visits = { max = 1 } }"), visit(Profile(visits=2))) == Verdict(False, "2 visits, needs at most 1")


def test_days_since_last_visit_uses_the_previous_page_view():
    # The profile already holds this page view (last_seen = now); the previous one was 31 days ago.
    condition = when("{ days_since_last_visit = { min = 30 } }")
    seen = visit(Profile(visits=2, last_seen=NOW), previous_visit=NOW - 31 * DAY)
    assert verdict(condition, seen) == Verdict(True, "last visit 31 days ago (at least 30)")


def test_days_since_last_visit_fails_when_recent():
    condition = when("{ days_since_last_visit = { min = 30 } }")
    assert verdict(condition, visit(previous_visit=NOW - 2 * DAY)) == Verdict(False, "last visit 2 days ago, needs at least 30")


def test_days_since_last_visit_max_fails_when_long_ago():
    condition = when("{ days_since_last_visit = { max = 7 } }")
    assert verdict(condition, visit(previous_visit=NOW - 7.5 * DAY)) == Verdict(False, "last visit 7.5 days ago, needs at most 7")


def test_days_since_last_visit_fails_on_a_first_page_view():
    condition = when("{ days_since_last_visit = { max = 7 } }")
    assert verdict(condition, visit(previous_visit=None)) == Verdict(False, "no earlier visit")


# -- purchases and replenishment ---------------------------------------------------------------


def test_purchased_anything_holds_for_a_customer():
    condition = when("{ purchased = {} }")
    assert verdict(condition, visit(bought(("o1", "cat-toy", "cats", 3, 1)))) == Verdict(True, "bought anything 1 time")
    assert verdict(condition, visit()) == Verdict(False, "never bought anything")


def test_purchased_category_within_days():
    condition = when('{ purchased = { category = "dogs", within_days = 30 } }')
    profile = bought(("o1", "dog-leash", "dogs", 45, 1), ("o2", "cat-toy", "cats", 3, 1))
    assert verdict(condition, visit(profile)) == Verdict(False, "never bought Dogs products in the last 30 days")
    profile = bought(("o1", "dog-leash", "dogs", 20, 1))
    assert verdict(condition, visit(profile)) == Verdict(True, "bought Dogs products 1 time in the last 30 days")


def test_purchased_counts_orders_not_lines():
    condition = when('{ purchased = { category = "dogs", min_count = 2 } }')
    one_order = bought(("o1", "dog-leash", "dogs", 5, 1), ("o1", "dog-kibble", "dogs", 5, 2))
    assert verdict(condition, visit(one_order)) == Verdict(False, "bought Dogs products 1 time, needs at least 2")
    two_orders = bought(("o1", "dog-leash", "dogs", 50, 1), ("o2", "dog-kibble", "dogs", 5, 1))
    assert verdict(condition, visit(two_orders)) == Verdict(True, "bought Dogs products 2 times")


def test_purchased_sku():
    condition = when('{ purchased = { sku = "dog-kibble" } }')
    assert verdict(condition, visit(bought(("o1", "dog-leash", "dogs", 5, 1)))) == Verdict(False, "never bought dog-kibble")
    assert verdict(condition, visit(bought(("o1", "dog-kibble", "dogs", 5, 1)))).ok


def test_replenishment_due_within_days():
    # 30 days of kibble bought 25 days ago: runs out in 5 days.
    condition = when('{ replenishment_due = { category = "dogs", within_days = 7 } }')
    assert verdict(condition, visit(bought(("o1", "dog-kibble", "dogs", 25, 1)))) == Verdict(True, "dog-kibble runs out in 5 days")


def test_replenishment_not_due_yet():
    condition = when('{ replenishment_due = { category = "dogs" } }')
    result = verdict(condition, visit(bought(("o1", "dog-kibble", "dogs", 10, 1))))
    assert result == Verdict(False, "dog-kibble runs out in 20 days, needs within 7")


def test_replenishment_due_after_running_out():
    condition = when('{ replenishment_due = { category = "dogs" } }')
    assert verdict(condition, visit(bought(("o1", "dog-kibble", "dogs", 35, 1)))) == Verdict(True, "dog-kibble ran out 5 days ago")


def test_replenishment_stops_one_product_life_after_running_out():
    # Ran out 31 days ago; one bag lasts 30: the customer has moved on.
    condition = when('{ replenishment_due = { category = "dogs" } }')
    result = verdict(condition, visit(bought(("o1", "dog-kibble", "dogs", 61, 1))))
    assert result == Verdict(False, "dog-kibble ran out 31 days ago, more than its 30 days")


def test_replenishment_counts_quantity():
    # Two bags bought 50 days ago last 60 days: 10 days left.
    condition = when('{ replenishment_due = { sku = "dog-kibble", within_days = 10 } }')
    assert verdict(condition, visit(bought(("o1", "dog-kibble", "dogs", 50, 2)))) == Verdict(True, "dog-kibble runs out in 10 days")


def test_replenishment_stacks_an_early_reorder():
    # Bought 40 and 15 days ago: the second bag starts when the first ran out (10 days ago), lasts to day +20.
    profile = bought(("o1", "dog-kibble", "dogs", 40, 1), ("o2", "dog-kibble", "dogs", 15, 1))
    assert supply_ends(profile, CATALOG) == {"dog-kibble": NOW + 20 * DAY}
    condition = when('{ replenishment_due = { category = "dogs" } }')
    assert verdict(condition, visit(profile)) == Verdict(False, "dog-kibble runs out in 20 days, needs within 7")


def test_replenishment_names_the_most_urgent_product():
    profile = bought(("o1", "dog-kibble", "dogs", 27, 1), ("o2", "dog-chews", "dogs", 8, 1))
    condition = when('{ replenishment_due = { category = "dogs" } }')
    assert verdict(condition, visit(profile)) == Verdict(True, "dog-chews runs out in 2 days")


def test_replenishment_ignores_other_categories_and_durables():
    condition = when('{ replenishment_due = { category = "dogs" } }')
    profile = bought(("o1", "cat-litter", "cats", 19, 1), ("o2", "dog-leash", "dogs", 400, 1))
    assert verdict(condition, visit(profile)) == Verdict(False, "bought no Dogs product that runs out")


def test_replenishment_of_a_sku_never_bought():
    condition = when('{ replenishment_due = { sku = "cat-litter" } }')
    assert verdict(condition, visit(bought(("o1", "dog-kibble", "dogs", 29, 1)))) == Verdict(False, "never bought cat-litter")


# -- the visitor's own choices and the CRM -----------------------------------------------------


def test_subscribed_holds_and_fails():
    condition = when('{ subscribed = "dogs" }')
    assert verdict(condition, visit(Profile(newsletters={"dogs"}, visits=1))) == Verdict(True, "subscribed to the Dogs newsletter")
    assert verdict(condition, visit(Profile(newsletters={"cats"}, visits=1))) == Verdict(False, "not subscribed to the Dogs newsletter")


def test_subscribed_list_means_any():
    condition = when('{ subscribed = ["fish", "cats"] }')
    assert condition.describe() == "subscribed to the Cats or Fish newsletter"
    assert verdict(condition, visit(Profile(newsletters={"fish"}, visits=1))) == Verdict(True, "subscribed to the Fish newsletter")


def test_interested_in_holds_and_fails():
    condition = when('{ interested_in = "fish" }')
    assert verdict(condition, visit(Profile(interests={"fish"}, visits=1))) == Verdict(True, "chose Fish as an interest")
    assert verdict(condition, visit()) == Verdict(False, "did not choose Fish as an interest")


def test_excluded_holds_and_fails():
    condition = when('{ excluded = "cats" }')
    assert verdict(condition, visit(Profile(exclusions={"cats"}, visits=1))) == Verdict(True, "excluded Cats")
    assert verdict(condition, visit()) == Verdict(False, "did not exclude Cats")


def test_crm_segment_list_means_any():
    condition = when('{ crm_segment = ["vip", "gold"] }')
    assert verdict(condition, visit(Profile(segments={"gold"}, visits=1))) == Verdict(True, "in CRM segment 'gold'")
    assert verdict(condition, visit()) == Verdict(False, "not in CRM segment 'vip' or 'gold'")
