"""Which triggers a change of a profile fires (etalage.engine.moments), on the triggers test rules."""

from __future__ import annotations

import dataclasses

import pytest

from etalage.engine.moments import before, detect
from etalage.profiles.profile import ConsentRecord, Event, Profile
from etalage.rules.loader import load_rules
from tests.support.config import RULESETS

RULES = load_rules(RULESETS / "good" / "triggers")
NOW = 1_800_000_000.0
GRANTED = ConsentRecord(True, ("onetrust",), ("onetrust:C0004",), NOW)


def consenting(**fields: object) -> Profile:
    return Profile(consent=GRANTED, **fields)  # type: ignore[arg-type]


def change(profile: Profile, events: list[Event], path: str | None = None, rules=RULES) -> list:
    """The moments `events` make of `profile`, as the proxy and the API find them."""
    was = before(rules, profile, NOW)
    profile.apply(events)
    return detect(rules, was, profile, "visitor-1", path, NOW)


def fired(moments: list) -> set[str]:
    return {moment.trigger for moment in moments}


def test_moments_interest_fires_when_the_threshold_is_crossed():
    profile = consenting(category_views={"dogs": 1}, category_seen={"dogs": NOW})
    assert fired(change(profile, [Event("category_view", "dogs", NOW)])) == {"dogs-interest", "newsletter-worthy"}


def test_moments_interest_already_above_the_threshold_fires_nothing():
    profile = consenting(category_views={"dogs": 2}, category_seen={"dogs": NOW})
    assert change(profile, [Event("category_view", "dogs", NOW)]) == []


def test_moments_none_for_a_profile_without_consent():
    profile = Profile(category_views={"dogs": 1}, category_seen={"dogs": NOW})
    assert change(profile, [Event("category_view", "dogs", NOW)]) == []


def test_moments_none_for_a_profile_whose_consent_is_a_refusal():
    profile = Profile(category_views={"dogs": 1}, category_seen={"dogs": NOW}, consent=dataclasses.replace(GRANTED, granted=False))
    assert change(profile, [Event("consent", "", NOW, {"granted": False}), Event("category_view", "dogs", NOW)]) == []


def test_moments_a_trigger_needs_the_purposes_it_names():
    other = ConsentRecord(True, ("etalage",), ("etalage:personalization",), NOW)
    profile = Profile(category_views={"dogs": 1}, category_seen={"dogs": NOW}, consent=other)
    assert fired(change(profile, [Event("category_view", "dogs", NOW)])) == {"dogs-interest"}


def test_moments_newsletter_interest_skips_a_category_subscribed_to():
    profile = consenting(category_views={"dogs": 1}, category_seen={"dogs": NOW}, newsletters={"dogs"})
    assert fired(change(profile, [Event("category_view", "dogs", NOW)])) == {"dogs-interest"}


def test_moments_interest_may_come_back_under_another_id():
    profile = consenting(category_views={"dogs": 1}, category_seen={"dogs": NOW})
    first = change(profile, [Event("category_view", "dogs", NOW)])[0]
    again = detect(
        RULES,
        before(RULES, consenting(category_views={"dogs": 1}, category_seen={"dogs": NOW}), NOW + 1),
        profile,
        "visitor-1",
        None,
        NOW + 1,
    )
    assert first.claim == again[0].claim and first.id != again[0].id


def test_moments_first_purchase_fires_on_the_first_order_only():
    order = [Event("order", "o-1", NOW, {"value": 5.0, "currency": "EUR"}), Event("purchase", "ball", NOW, {"order": "o-1"})]
    profile = consenting()
    first = change(profile, order)
    second = change(profile, [Event("order", "o-2", NOW, {"value": 5.0, "currency": "EUR"})])
    assert [m.data for m in first] == [{"order": "o-1", "products": ["ball"], "value": 5.0, "currency": "EUR"}] and second == []


def test_moments_replenishment_is_one_moment_per_supply_cycle():
    profile = consenting()
    bought = change(profile, [Event("purchase", "kibble", NOW, {"order": "o-1"})])
    later = change(profile, [Event("page_view", "/", NOW)])
    replenish = [m for m in bought + later if m.trigger == "kibble-runs-out"]
    assert len(replenish) == 2 and replenish[0].id == replenish[1].id


def test_moments_replenishment_skips_a_category_the_visitor_never_wants_suggested():
    profile = consenting(exclusions={"dogs"})
    moments = change(profile, [Event("purchase", "kibble", NOW, {"order": "o-1"})])
    assert "kibble-runs-out" not in fired(moments)


def test_moments_basket_waits_its_hours_unless_an_order_comes():
    moments = change(consenting(), [Event("page_view", "/c/basket", NOW)], path="/c/basket")
    assert [(m.trigger, m.due, m.unless_order_since) for m in moments] == [("basket-left", pytest.approx(NOW + 0.0003 * 3600), NOW)]


def test_moments_customers_only_skips_anonymous_profiles():
    only_customers = dataclasses.replace(RULES, triggers=tuple(dataclasses.replace(t, customers_only=True) for t in RULES.triggers))
    profile = consenting(category_views={"dogs": 1}, category_seen={"dogs": NOW})
    assert change(profile, [Event("category_view", "dogs", NOW)], rules=only_customers) == []


def test_moments_a_customer_is_named_by_customer_id_only():
    profile = consenting(category_views={"dogs": 1}, category_seen={"dogs": NOW}, customer_id="c-42")
    data = change(profile, [Event("category_view", "dogs", NOW)])[0].payload()["data"]
    assert data["customer_id"] == "c-42" and "visitor_id" not in data


def test_moments_none_without_triggers():
    assert before(dataclasses.replace(RULES, triggers=()), consenting(), NOW) is None
