"""An order's total, read from the thank-you page's URL (a purchase learn rule's value_query)."""

import pytest

from etalage.engine.convert import conversions
from etalage.engine.learn import learn_from_request
from etalage.profiles.profile import Assignment, Profile
from etalage.rules.loader import load_rules
from tests.support.config import PROJECT_RULES

RULES = load_rules(PROJECT_RULES)  # /checkout/thank-you?order=...&product=...&total=...
NOW = 1_800_000_000.0


def purchase_value(query: str) -> object:
    (purchase,) = [e for e in learn_from_request(RULES, "/checkout/thank-you", query, NOW) if e.kind == "purchase"]
    return (purchase.data or {}).get("value")


@pytest.mark.parametrize(("total", "value"), [("24.95", 24.95), ("24,95", 24.95), ("0", 0.0)])
def test_learn_order_value_reads_the_total(total, value):
    assert purchase_value(f"order=PC-1&product=dog-kibble-5kg&total={total}") == value


@pytest.mark.parametrize("total", ["", "abc", "-3", "nan", "inf"])
def test_learn_order_value_leaves_out_what_is_no_amount(total):
    assert purchase_value(f"order=PC-1&product=dog-kibble-5kg&total={total}") is None


def test_learn_order_value_is_kept_with_the_purchase():
    profile = Profile()
    profile.apply(learn_from_request(RULES, "/checkout/thank-you", "order=PC-1&product=dog-kibble-5kg&total=24.95", NOW))
    assert profile.purchases[0].value == 24.95 and Profile.loads(profile.dumps()).purchases == profile.purchases


def test_learn_order_value_is_the_conversions_value():
    profile = Profile(assignments={"hero-banner": Assignment("none", 1, NOW - 60, NOW - 30)})
    learned = learn_from_request(RULES, "/checkout/thank-you", "order=PC-1&product=dog-kibble-5kg&total=24.95", NOW)
    profile.apply(conversions(RULES, profile, learned, "/checkout/thank-you", NOW))
    assert profile.assignments["hero-banner"].goals["order"].value == 24.95
