"""never_fires (etalage.rules.conditions.analysis): conditions that can never hold, found without a visitor."""

from __future__ import annotations

from etalage.rules.conditions import never_fires
from tests.rules.conditions.helpers import DOG_LOVERS, when


def test_never_fires_none_for_a_possible_condition():
    condition = when('{ segment = "dog-lovers", device = "mobile", time = { days = ["sat"], timezone = "UTC" } }', DOG_LOVERS)
    assert never_fires(condition) is None


def test_never_fires_two_lifecycle_stages():
    condition = when('{ all = [ { lifecycle = "prospect" }, { lifecycle = "customer" } ] }')
    assert never_fires(condition) == "'lifecycle is prospect' and 'lifecycle is customer' cannot both hold"


def test_never_fires_a_purchase_by_a_prospect():
    condition = when('{ lifecycle = "prospect", purchased = { category = "dogs" } }')
    assert never_fires(condition) == "'lifecycle is prospect' and 'bought Dogs products' cannot both hold"


def test_never_fires_repeat_purchases_by_a_first_time_customer():
    condition = when('{ lifecycle = "customer", purchased = { min_count = 2 } }')
    assert never_fires(condition) == "'lifecycle is customer' and 'bought anything at least 2 times' cannot both hold"


def test_never_fires_through_not():
    condition = when('{ not = { lifecycle = "prospect" }, lifecycle = ["prospect"] }')
    assert never_fires(condition) == "'lifecycle is prospect' and 'not lifecycle is prospect' cannot both hold"


def test_never_fires_a_condition_and_its_not():
    condition = when('{ all = [ { subscribed = "dogs" }, { not = { subscribed = "dogs" } } ] }')
    assert never_fires(condition) == "'subscribed to the Dogs newsletter' and 'not subscribed to the Dogs newsletter' cannot both hold"


def test_never_fires_visits_min_above_max():
    assert never_fires(when("{ visits = { min = 5, max = 2 } }")) == "'between 5 and 2 visits': min is more than max"


def test_never_fires_visits_at_most_zero():
    assert (
        never_fires(when("{ visits = { max = 0 } }")) == "'at most 0 visits': a page view always belongs to a visit, so there is at least 1"
    )


def test_never_fires_disjoint_visit_ranges():
    condition = when("{ all = [ { visits = { min = 5 } }, { visits = { max = 3 } } ] }")
    assert never_fires(condition) == "'at least 5 visits' and 'at most 3 visits' cannot both hold"


def test_never_fires_affinity_min_above_max():
    assert (
        never_fires(when('{ affinity = { category = "dogs", min = 3, max = 1 } }'))
        == "'affinity for Dogs between 3 and 1': min is more than max"
    )


def test_never_fires_interest_in_an_excluded_category():
    condition = when('{ excluded = "cats", top = { n = 2, category = "cats" } }')
    assert never_fires(condition) == "'excluded Cats' and 'Cats among the visitor's top 2 categories' cannot both hold"


def test_never_fires_an_empty_time_window():
    condition = when('{ time = { days = ["sat"], from = "18:00", to = "18:00", timezone = "Europe/Amsterdam" } }')
    assert never_fires(condition) == "'Sat 18:00 to 18:00 (Europe/Amsterdam)': the time window from 18:00 to 18:00 is empty"


def test_never_fires_two_devices():
    condition = when('{ device = "mobile", any = [ { device = "desktop" }, { device = "bot" } ] }')
    assert never_fires(condition) == "'device is mobile' and 'device is desktop or device is bot' cannot both hold"


def test_never_fires_not_of_every_stage():
    condition = when('{ not = { lifecycle = ["prospect", "customer", "repeat_customer"] } }')
    assert (
        never_fires(condition)
        == "'lifecycle is prospect, customer or repeat_customer' always holds, so 'not lifecycle is prospect, customer or repeat_customer' never does"
    )


def test_never_fires_any_with_no_possible_alternative():
    condition = when("{ any = [ { visits = { max = 0 } }, { days_since_last_visit = { min = 9, max = 1 } } ] }")
    assert never_fires(condition) == (
        "none of its alternatives can hold: 'at most 0 visits': a page view always belongs to a visit, so there is at least 1; "
        "'last visit between 9 and 1 days ago': min is more than max"
    )


def test_never_fires_any_with_one_possible_alternative_is_fine():
    assert never_fires(when('{ any = [ { visits = { max = 0 } }, { device = "bot" } ] }')) is None


def test_never_fires_looks_into_segments():
    segments = '[segments.impossible]\nlifecycle = "prospect"\nreplenishment_due = {}\n'
    condition = when('{ segment = "impossible" }', segments)
    assert (
        never_fires(condition)
        == "segment 'impossible' never matches: 'lifecycle is prospect' and 'a bought product runs out within 7 days' cannot both hold"
    )


def test_never_fires_replenishment_without_lasts_days():
    assert (
        never_fires(when('{ replenishment_due = { sku = "dog-leash" } }'))
        == "'dog-leash runs out within 7 days': dog-leash has no 'lasts_days' in [catalog]"
    )
    assert never_fires(when('{ replenishment_due = { category = "rodents" } }')) == (
        "'a Rodents product runs out within 7 days': no product in Rodents has 'lasts_days' in [catalog]"
    )


def test_never_fires_purchase_of_a_sku_in_another_category():
    condition = when('{ purchased = { category = "cats", sku = "dog-kibble" } }')
    assert never_fires(condition) == "'bought dog-kibble': dog-kibble is in Dogs, not Cats"


def test_never_fires_dates_ending_before_they_start():
    condition = when('{ dates = { from = 2025-04-01, until = 2025-03-01, timezone = "UTC" } }')
    assert never_fires(condition) == "'scheduled from 2025-04-01 until 2025-03-01': it ends before it starts"
