"""Goals reached after a first exposure count for the visitor's experiments (etalage.engine.convert)."""

from etalage.engine.convert import conversions
from etalage.profiles.profile import Assignment, Conversion, Event, Profile, Purchase
from etalage.rules.loader import load_rules
from tests.support.config import RULESETS

RULES = load_rules(RULESETS / "good" / "experiments")  # goals: product-page (a page, 14 days), order (purchases, 7 days)
NOW = 1_797_000_000.0  # while the 'hero' experiment (version 2) runs
DAY = 24 * 3600.0


def exposed(days_ago: float = 1, version: int = 2) -> Profile:
    return Profile(assignments={"hero": Assignment("current", version, NOW - 10 * DAY, NOW - days_ago * DAY)})


def purchase(order: str) -> Event:
    return Event("purchase", "kibble", NOW, {"order": order, "category": "dogs", "quantity": 1})


def goals(events: list[Event]) -> list[tuple[str, str]]:
    return [(event.value, event.data["goal"]) for event in events if event.data]


def test_convert_counts_a_goal_page_for_an_exposed_visitor():
    events = conversions(RULES, exposed(), [Event("page_view", "/p/kibble", NOW)], "/p/kibble", NOW)
    assert [(e.kind, e.value, e.data) for e in events] == [
        ("converted", "hero", {"variant": "current", "version": 2, "goal": "product-page", "value": 0.0})
    ]


def test_convert_counts_nothing_before_a_first_exposure():
    profile = Profile(assignments={"hero": Assignment("current", 2, NOW - DAY)})
    assert conversions(RULES, profile, [], "/p/kibble", NOW) == []


def test_convert_counts_nothing_past_the_goals_window():
    assert goals(conversions(RULES, exposed(days_ago=15), [], "/p/kibble", NOW)) == []
    assert goals(conversions(RULES, exposed(days_ago=8), [purchase("o1")], "/checkout/thank-you", NOW)) == []
    assert goals(conversions(RULES, exposed(days_ago=6), [purchase("o1")], "/checkout/thank-you", NOW)) == [("hero", "order")]


def test_convert_counts_an_order_once():
    profile = exposed()
    profile.purchases.append(Purchase("o1", "kibble", "dogs", NOW - 60))
    learned = [purchase("o1"), purchase("o2"), Event("purchase", "chew", NOW, {"order": "o2", "category": "dogs"})]
    assert goals(conversions(RULES, profile, learned, "/checkout/thank-you", NOW)) == [("hero", "order")]


def test_convert_counts_nothing_for_an_earlier_round():
    assert conversions(RULES, exposed(version=1), [], "/p/kibble", NOW) == []


def test_convert_is_kept_with_the_assignment_in_the_profile():
    profile = exposed()
    for at in (NOW, NOW + 60):
        profile.apply(conversions(RULES, profile, [], "/p/kibble", at))
    assert profile.assignments["hero"].goals == {"product-page": Conversion(NOW, 2, 0.0)}
    again = Profile.loads(profile.dumps())
    assert again.assignments == profile.assignments


def test_convert_to_another_variant_is_ignored_by_the_profile():
    profile = exposed()
    profile.apply([Event("converted", "hero", NOW, {"variant": "none", "version": 2, "goal": "order"})])
    assert profile.assignments["hero"].goals == {}


def test_convert_merge_at_login_adds_the_conversions_of_one_variant():
    customer, anonymous = exposed(), exposed(days_ago=2)
    customer.apply(conversions(RULES, customer, [], "/p/a", NOW))
    anonymous.apply(conversions(RULES, anonymous, [], "/p/b", NOW - 3600))
    customer.merge(anonymous)
    assert customer.assignments["hero"].goals == {"product-page": Conversion(NOW - 3600, 2, 0.0)}
    assert customer.assignments["hero"].exposed == NOW - 2 * DAY


def backend_order(order: str, value: float) -> list[Event]:
    """An order as the events API teaches it: the order with its total, then its lines without one."""
    return [Event("order", order, NOW, {"value": value, "currency": "EUR"}), purchase(order)]


def test_convert_counts_an_order_from_the_shop_backend_with_its_value():
    events = conversions(RULES, exposed(), backend_order("o9", 42.5), None, NOW)
    assert [(e.value, e.data["goal"], e.data["value"], e.data["order"]) for e in events if e.data] == [("hero", "order", 42.5, "o9")]


def test_convert_reaches_no_page_goal_without_a_page_view():
    assert goals(conversions(RULES, exposed(), [Event("newsletter_subscribe", "dogs", NOW)], None, NOW)) == []


def test_convert_counts_nothing_for_a_backend_order_the_thank_you_page_taught():
    profile = exposed()
    profile.purchases.append(Purchase("o1", "kibble", "dogs", NOW - 60, 1, 24.95))
    assert conversions(RULES, profile, backend_order("o1", 24.95), None, NOW) == []


def test_convert_counts_nothing_for_a_thank_you_page_the_backend_taught():
    profile = exposed()
    profile.apply(backend_order("o1", 24.95))
    assert conversions(RULES, profile, [purchase("o1")], "/checkout/thank-you", NOW) == []


def test_convert_counts_an_order_taught_by_both_sources_at_once_once():
    # Each source read the profile before the other's write: both compute a conversion of o1.
    before = exposed()
    from_page = [purchase("o1")]
    from_backend = backend_order("o1", 30.0)
    stored = before.copy()
    for learned in (from_page, from_backend):
        stored.apply([*conversions(RULES, before, learned, None, NOW), *learned])
    assert stored.assignments["hero"].goals["order"].count == 1
