"""Conditions and segments: each kind true and false with its reason, combinators, segments, the
static never-fires check, and every rule-file message exactly as the loader would print it."""

from __future__ import annotations

import tomllib
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from etalage.profiles.profile import Profile, Purchase
from etalage.rules.actions.base import ranked_categories
from etalage.rules.conditions import (
    ALWAYS,
    Condition,
    Verdict,
    Visit,
    classify_device,
    compile_condition,
    compile_segments,
    never_fires,
    supply_ends,
)
from etalage.rules.fields import Fields
from etalage.rules.model import Product, Site
from etalage.rules.tomlpos import KeyLines

DAY = 24 * 3600.0
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
SITE = Site(("dogs", "cats", "rodents", "fish"), {"dogs": "Dogs", "cats": "Cats", "rodents": "Rodents", "fish": "Fish"}, 30 * DAY)
CATALOG = {
    "dog-kibble": Product("dogs", 30),
    "dog-chews": Product("dogs", 10),
    "dog-leash": Product("dogs"),
    "cat-litter": Product("cats", 20),
    "cat-toy": Product("cats"),
}
# Friday 14 March 2025, 12:00 in Amsterdam.
NOW = datetime(2025, 3, 14, 12, 0, tzinfo=AMSTERDAM).timestamp()


def compile_file(text: str) -> tuple[Condition | None, dict[str, Condition], list[str]]:
    """Compile a rule file's [segments] and its first rule's `when`, as the loader does."""
    document = tomllib.loads(text)
    problems: list = []
    top = Fields(document, (), "rules.toml", KeyLines(text), problems)
    segments = compile_segments(top.sub("segments", document["segments"]) if "segments" in document else None, SITE, CATALOG)
    condition = None
    if "rule" in document:
        rule = top.entry("rule", 0, document["rule"][0])
        rule.label = "rule 'r'"
        condition = compile_condition(rule, "when", SITE, CATALOG, segments)
    return condition, segments, [str(problem) for problem in problems]


def when(text: str, segments: str = "") -> Condition:
    condition, _, problems = compile_file(f"{segments}\n[[rule]]\nwhen = {text}\n" if segments else f"[[rule]]\nwhen = {text}\n")
    assert problems == []
    assert condition is not None
    return condition


def problems_of(text: str) -> list[str]:
    """The messages for a rule file (its text starts at line 1)."""
    condition, _, problems = compile_file(text)
    assert problems, "expected problems"
    return problems


def visit(profile: Profile | None = None, **changes) -> Visit:
    values = {
        "profile": profile or Profile(visits=1, first_seen=NOW, last_seen=NOW),
        "site": SITE,
        "catalog": CATALOG,
        "path": "/",
        "query": {},
        "referrer": None,
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        "now": NOW,
        "previous_visit": None,
    }
    values.update(changes)
    return Visit(**values)


def verdict(condition: Condition, seen: Visit) -> Verdict:
    """check(), after making sure the fast path test() agrees with it."""
    result = condition.check(seen)
    assert condition.test(seen) is result.ok
    return result


def viewed(**views_days_ago: tuple[int, float]) -> Profile:
    """A profile with category views: dogs=(views, days since the last one)."""
    return Profile(
        category_views={category: views for category, (views, _) in views_days_ago.items()},
        category_seen={category: NOW - days * DAY for category, (_, days) in views_days_ago.items()},
        visits=1,
        last_seen=NOW,
    )


def bought(*lines: tuple[str, str, str, float, int]) -> Profile:
    """A profile with purchases: (order, sku, category, days ago, quantity)."""
    purchases = sorted(
        (Purchase(order, sku, category, NOW - days * DAY, quantity) for order, sku, category, days, quantity in lines), key=lambda p: p.at
    )
    return Profile(purchases=purchases, visits=3, last_seen=NOW)


# -- affinity and top ----------------------------------------------------------------------------


def test_conditions_affinity_holds_at_min():
    condition = when('{ affinity = { category = "dogs", min = 2 } }')
    assert verdict(condition, visit(viewed(dogs=(3, 0)))) == Verdict(True, "affinity for Dogs is 3 (at least 2)")


def test_conditions_affinity_fades_below_min():
    # Four views, two half-lives ago: interest 1.
    condition = when('{ affinity = { category = "dogs", min = 2 } }')
    assert verdict(condition, visit(viewed(dogs=(4, 60)))) == Verdict(False, "affinity for Dogs is 1, needs at least 2")


def test_conditions_affinity_max_fails_above():
    condition = when('{ affinity = { category = "dogs", max = 1.5 } }')
    assert verdict(condition, visit(viewed(dogs=(3, 30)))) == Verdict(True, "affinity for Dogs is 1.5 (at most 1.5)")
    assert verdict(condition, visit(viewed(dogs=(4, 30)))) == Verdict(False, "affinity for Dogs is 2, needs at most 1.5")


def test_conditions_affinity_between_holds():
    condition = when('{ affinity = { category = "dogs", min = 1, max = 5 } }')
    assert verdict(condition, visit(viewed(dogs=(3, 0)))) == Verdict(True, "affinity for Dogs is 3 (between 1 and 5)")


def test_conditions_affinity_without_bounds_needs_some_interest():
    condition = when('{ affinity = { category = "cats" } }')
    assert verdict(condition, visit(viewed(dogs=(3, 0)))) == Verdict(False, "no interest in Cats")
    assert verdict(condition, visit(viewed(cats=(1, 0)))) == Verdict(True, "affinity for Cats is 1")


def test_conditions_affinity_counts_a_chosen_interest():
    condition = when('{ affinity = { category = "fish", min = 10 } }')
    assert verdict(condition, visit(Profile(interests={"fish"}, visits=1))) == Verdict(True, "affinity for Fish is 10 (at least 10)")


def test_conditions_affinity_rounds_the_score_in_reasons():
    condition = when('{ affinity = { category = "dogs", min = 2 } }')
    assert verdict(condition, visit(viewed(dogs=(1, 10)))).reason == "affinity for Dogs is 0.79, needs at least 2"


def test_conditions_top_holds_within_n():
    condition = when('{ top = { n = 2, category = "cats" } }')
    profile = viewed(dogs=(5, 0), cats=(3, 0), fish=(1, 0))
    assert verdict(condition, visit(profile)) == Verdict(True, "Cats is number 2 of the visitor's categories (top 2)")


def test_conditions_top_fails_outside_n():
    condition = when('{ top = { n = 2, category = "fish" } }')
    profile = viewed(dogs=(5, 0), cats=(3, 0), fish=(1, 0))
    assert verdict(condition, visit(profile)) == Verdict(False, "Fish is number 3 of the visitor's categories, needs top 2")


def test_conditions_top_n_defaults_to_the_strongest():
    condition = when('{ top = { category = "dogs" } }')
    assert condition.describe() == "Dogs is the visitor's strongest category"
    assert verdict(condition, visit(viewed(dogs=(5, 0), cats=(3, 0)))).ok


def test_conditions_top_ties_go_to_site_order():
    profile = viewed(dogs=(2, 0), cats=(2, 0))
    assert verdict(when('{ top = { category = "dogs" } }'), visit(profile)).ok
    assert verdict(when('{ top = { category = "cats" } }'), visit(profile)) == Verdict(
        False, "Cats is number 2 of the visitor's categories, needs top 1"
    )


def test_conditions_top_without_interest_fails():
    condition = when('{ top = { n = 4, category = "rodents" } }')
    assert verdict(condition, visit(viewed(dogs=(2, 0)))) == Verdict(False, "no interest in Rodents, needs it among the top 4")


def test_conditions_top_ranks_as_the_actions_do():
    profile = viewed(dogs=(3, 40), cats=(2, 0), rodents=(6, 90), fish=(2, 0))
    ranked = [category for category, _ in ranked_categories(profile, SITE, NOW, "rule")]
    for place, category in enumerate(ranked, start=1):
        assert verdict(when(f'{{ top = {{ n = {place}, category = "{category}" }} }}'), visit(profile)).ok
        if place > 1:
            assert not verdict(when(f'{{ top = {{ n = {place - 1}, category = "{category}" }} }}'), visit(profile)).ok


# -- lifecycle, visits, recency ----------------------------------------------------------------


def test_conditions_lifecycle_holds_for_the_stage():
    assert verdict(when('{ lifecycle = "prospect" }'), visit()) == Verdict(True, "lifecycle is prospect")


def test_conditions_lifecycle_list_fails_with_the_stages_needed():
    condition = when('{ lifecycle = ["repeat_customer", "customer"] }')
    assert verdict(condition, visit()) == Verdict(False, "lifecycle is prospect, needs customer or repeat_customer")
    assert verdict(condition, visit(bought(("o1", "dog-leash", "dogs", 3, 1)))) == Verdict(True, "lifecycle is customer")


def test_conditions_visits_min_fails_below():
    condition = when("{ visits = { min = 2 } }")
    assert verdict(condition, visit()) == Verdict(False, "1 visit, needs at least 2")


def test_conditions_visits_range_holds():
    condition = when("{ visits = { min = 2, max = 5 } }")
    assert verdict(condition, visit(Profile(visits=3))) == Verdict(True, "3 visits (between 2 and 5)")


def test_conditions_visits_max_fails_above():
    assert verdict(when("{ visits = { max = 1 } }"), visit(Profile(visits=2))) == Verdict(False, "2 visits, needs at most 1")


def test_conditions_days_since_last_visit_uses_the_previous_page_view():
    # The profile already holds this page view (last_seen = now); the previous one was 31 days ago.
    condition = when("{ days_since_last_visit = { min = 30 } }")
    seen = visit(Profile(visits=2, last_seen=NOW), previous_visit=NOW - 31 * DAY)
    assert verdict(condition, seen) == Verdict(True, "last visit 31 days ago (at least 30)")


def test_conditions_days_since_last_visit_fails_when_recent():
    condition = when("{ days_since_last_visit = { min = 30 } }")
    assert verdict(condition, visit(previous_visit=NOW - 2 * DAY)) == Verdict(False, "last visit 2 days ago, needs at least 30")


def test_conditions_days_since_last_visit_max_fails_when_long_ago():
    condition = when("{ days_since_last_visit = { max = 7 } }")
    assert verdict(condition, visit(previous_visit=NOW - 7.5 * DAY)) == Verdict(False, "last visit 7.5 days ago, needs at most 7")


def test_conditions_days_since_last_visit_fails_on_a_first_page_view():
    condition = when("{ days_since_last_visit = { max = 7 } }")
    assert verdict(condition, visit(previous_visit=None)) == Verdict(False, "no earlier visit")


# -- purchases and replenishment ---------------------------------------------------------------


def test_conditions_purchased_anything_holds_for_a_customer():
    condition = when("{ purchased = {} }")
    assert verdict(condition, visit(bought(("o1", "cat-toy", "cats", 3, 1)))) == Verdict(True, "bought anything 1 time")
    assert verdict(condition, visit()) == Verdict(False, "never bought anything")


def test_conditions_purchased_category_within_days():
    condition = when('{ purchased = { category = "dogs", within_days = 30 } }')
    profile = bought(("o1", "dog-leash", "dogs", 45, 1), ("o2", "cat-toy", "cats", 3, 1))
    assert verdict(condition, visit(profile)) == Verdict(False, "never bought Dogs products in the last 30 days")
    profile = bought(("o1", "dog-leash", "dogs", 20, 1))
    assert verdict(condition, visit(profile)) == Verdict(True, "bought Dogs products 1 time in the last 30 days")


def test_conditions_purchased_counts_orders_not_lines():
    condition = when('{ purchased = { category = "dogs", min_count = 2 } }')
    one_order = bought(("o1", "dog-leash", "dogs", 5, 1), ("o1", "dog-kibble", "dogs", 5, 2))
    assert verdict(condition, visit(one_order)) == Verdict(False, "bought Dogs products 1 time, needs at least 2")
    two_orders = bought(("o1", "dog-leash", "dogs", 50, 1), ("o2", "dog-kibble", "dogs", 5, 1))
    assert verdict(condition, visit(two_orders)) == Verdict(True, "bought Dogs products 2 times")


def test_conditions_purchased_sku():
    condition = when('{ purchased = { sku = "dog-kibble" } }')
    assert verdict(condition, visit(bought(("o1", "dog-leash", "dogs", 5, 1)))) == Verdict(False, "never bought dog-kibble")
    assert verdict(condition, visit(bought(("o1", "dog-kibble", "dogs", 5, 1)))).ok


def test_conditions_replenishment_due_within_days():
    # 30 days of kibble bought 25 days ago: runs out in 5 days.
    condition = when('{ replenishment_due = { category = "dogs", within_days = 7 } }')
    assert verdict(condition, visit(bought(("o1", "dog-kibble", "dogs", 25, 1)))) == Verdict(True, "dog-kibble runs out in 5 days")


def test_conditions_replenishment_not_due_yet():
    condition = when('{ replenishment_due = { category = "dogs" } }')
    result = verdict(condition, visit(bought(("o1", "dog-kibble", "dogs", 10, 1))))
    assert result == Verdict(False, "dog-kibble runs out in 20 days, needs within 7")


def test_conditions_replenishment_due_after_running_out():
    condition = when('{ replenishment_due = { category = "dogs" } }')
    assert verdict(condition, visit(bought(("o1", "dog-kibble", "dogs", 35, 1)))) == Verdict(True, "dog-kibble ran out 5 days ago")


def test_conditions_replenishment_stops_one_product_life_after_running_out():
    # Ran out 31 days ago; one bag lasts 30: the customer has moved on.
    condition = when('{ replenishment_due = { category = "dogs" } }')
    result = verdict(condition, visit(bought(("o1", "dog-kibble", "dogs", 61, 1))))
    assert result == Verdict(False, "dog-kibble ran out 31 days ago, more than its 30 days")


def test_conditions_replenishment_counts_quantity():
    # Two bags bought 50 days ago last 60 days: 10 days left.
    condition = when('{ replenishment_due = { sku = "dog-kibble", within_days = 10 } }')
    assert verdict(condition, visit(bought(("o1", "dog-kibble", "dogs", 50, 2)))) == Verdict(True, "dog-kibble runs out in 10 days")


def test_conditions_replenishment_stacks_an_early_reorder():
    # Bought 40 and 15 days ago: the second bag starts when the first ran out (10 days ago), lasts to day +20.
    profile = bought(("o1", "dog-kibble", "dogs", 40, 1), ("o2", "dog-kibble", "dogs", 15, 1))
    assert supply_ends(profile, CATALOG) == {"dog-kibble": NOW + 20 * DAY}
    condition = when('{ replenishment_due = { category = "dogs" } }')
    assert verdict(condition, visit(profile)) == Verdict(False, "dog-kibble runs out in 20 days, needs within 7")


def test_conditions_replenishment_names_the_most_urgent_product():
    profile = bought(("o1", "dog-kibble", "dogs", 27, 1), ("o2", "dog-chews", "dogs", 8, 1))
    condition = when('{ replenishment_due = { category = "dogs" } }')
    assert verdict(condition, visit(profile)) == Verdict(True, "dog-chews runs out in 2 days")


def test_conditions_replenishment_ignores_other_categories_and_durables():
    condition = when('{ replenishment_due = { category = "dogs" } }')
    profile = bought(("o1", "cat-litter", "cats", 19, 1), ("o2", "dog-leash", "dogs", 400, 1))
    assert verdict(condition, visit(profile)) == Verdict(False, "bought no Dogs product that runs out")


def test_conditions_replenishment_of_a_sku_never_bought():
    condition = when('{ replenishment_due = { sku = "cat-litter" } }')
    assert verdict(condition, visit(bought(("o1", "dog-kibble", "dogs", 29, 1)))) == Verdict(False, "never bought cat-litter")


# -- the visitor's own choices and the CRM -----------------------------------------------------


def test_conditions_subscribed_holds_and_fails():
    condition = when('{ subscribed = "dogs" }')
    assert verdict(condition, visit(Profile(newsletters={"dogs"}, visits=1))) == Verdict(True, "subscribed to the Dogs newsletter")
    assert verdict(condition, visit(Profile(newsletters={"cats"}, visits=1))) == Verdict(False, "not subscribed to the Dogs newsletter")


def test_conditions_subscribed_list_means_any():
    condition = when('{ subscribed = ["fish", "cats"] }')
    assert condition.describe() == "subscribed to the Cats or Fish newsletter"
    assert verdict(condition, visit(Profile(newsletters={"fish"}, visits=1))) == Verdict(True, "subscribed to the Fish newsletter")


def test_conditions_interested_in():
    condition = when('{ interested_in = "fish" }')
    assert verdict(condition, visit(Profile(interests={"fish"}, visits=1))) == Verdict(True, "chose Fish as an interest")
    assert verdict(condition, visit()) == Verdict(False, "did not choose Fish as an interest")


def test_conditions_excluded():
    condition = when('{ excluded = "cats" }')
    assert verdict(condition, visit(Profile(exclusions={"cats"}, visits=1))) == Verdict(True, "excluded Cats")
    assert verdict(condition, visit()) == Verdict(False, "did not exclude Cats")


def test_conditions_crm_segment():
    condition = when('{ crm_segment = ["vip", "gold"] }')
    assert verdict(condition, visit(Profile(segments={"gold"}, visits=1))) == Verdict(True, "in CRM segment 'gold'")
    assert verdict(condition, visit()) == Verdict(False, "not in CRM segment 'vip' or 'gold'")


# -- the request -------------------------------------------------------------------------------


def test_conditions_path_regex_is_searched():
    condition = when("{ path = '^/c/' }")
    assert verdict(condition, visit(path="/c/dogs")) == Verdict(True, "path '/c/dogs' matches '^/c/'")
    assert verdict(condition, visit(path="/p/c/x")) == Verdict(False, "path '/p/c/x' does not match '^/c/'")


def test_conditions_path_list_means_any():
    condition = when("{ path = ['^/c/', '^/p/'] }")
    assert verdict(condition, visit(path="/p/dog-leash")).ok
    assert verdict(condition, visit(path="/")) == Verdict(False, "path '/' does not match '^/c/' or '^/p/'")


def test_conditions_query_glob_ignores_case():
    condition = when('{ query = { utm_campaign = "spring-*" } }')
    assert verdict(condition, visit(query={"utm_campaign": ["Spring-Sale"]})) == Verdict(True, "query utm_campaign is 'Spring-Sale'")
    assert verdict(condition, visit(query={"utm_campaign": ["winter"]})) == Verdict(
        False, "query utm_campaign is 'winter', needs 'spring-*'"
    )


def test_conditions_query_missing_parameter():
    condition = when('{ query = { utm_campaign = "spring-*" } }')
    assert verdict(condition, visit()) == Verdict(False, "query has no utm_campaign, needs 'spring-*'")


def test_conditions_query_exact_value_matches_whole():
    condition = when('{ query = { utm_source = "news" } }')
    assert verdict(condition, visit(query={"utm_source": ["newsletter"]})) == Verdict(
        False, "query utm_source is 'newsletter', needs 'news'"
    )
    assert verdict(condition, visit(query={"utm_source": ["NEWS"]})).ok


def test_conditions_query_any_repeated_value_matches():
    condition = when('{ query = { tag = ["a?", "b"] } }')
    assert verdict(condition, visit(query={"tag": ["x", "a1"]})) == Verdict(True, "query tag is 'a1'")


def test_conditions_query_presence_and_absence():
    condition = when("{ query = { gclid = true, nopersonalize = false } }")
    assert verdict(condition, visit(query={"gclid": [""]})) == Verdict(True, "query has gclid; query has no nopersonalize")
    assert verdict(condition, visit()) == Verdict(False, "query has no gclid")
    assert verdict(condition, visit(query={"gclid": ["x"], "nopersonalize": ["1"]})) == Verdict(
        False, "query has nopersonalize, needs none"
    )


def test_conditions_query_accepts_a_single_value_string():
    condition = when('{ query = { utm_campaign = "spring-*" } }')
    assert verdict(condition, visit(query={"utm_campaign": "spring-sale"})) == Verdict(True, "query utm_campaign is 'spring-sale'")


def test_conditions_query_glob_characters_other_than_star_and_question_mark_are_literal():
    condition = when('{ query = { q = "[dogs].*" } }')
    assert verdict(condition, visit(query={"q": ["[dogs].x"]})).ok
    assert not verdict(condition, visit(query={"q": ["d.x"]})).ok


def test_conditions_referrer_host_matches_subdomains():
    condition = when('{ referrer = { host = "google.*" } }')
    assert verdict(condition, visit(referrer="https://www.google.nl/search?q=hond")) == Verdict(
        True, "referrer is 'https://www.google.nl/search?q=hond'"
    )
    assert verdict(condition, visit(referrer="https://news.google.co.uk/")).ok
    assert verdict(condition, visit(referrer="https://www.bing.com/")) == Verdict(
        False, "referrer host 'www.bing.com' does not match 'google.*'"
    )


def test_conditions_referrer_missing_fails():
    condition = when('{ referrer = { host = ["google.*", "*.bing.com"] } }')
    assert verdict(condition, visit()) == Verdict(False, "no referrer, needs host 'google.*' or '*.bing.com'")


def test_conditions_referrer_url_regex():
    condition = when("{ referrer = { url = '/blog/' } }")
    assert verdict(condition, visit(referrer="https://petblog.example/blog/dogs")).ok
    assert verdict(condition, visit(referrer="https://example.com/")) == Verdict(
        False, "referrer 'https://example.com/' does not match '/blog/'"
    )


USER_AGENTS = [
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
        "mobile",
    ),
    ("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36", "mobile"),
    ("Mozilla/5.0 (Android 14; Mobile; rv:125.0) Gecko/125.0 Firefox/125.0", "mobile"),
    ("Mozilla/5.0 (Linux; Android 9; CUBOT X19) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36", "mobile"),
    (
        "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
        "tablet",
    ),
    ("Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36", "tablet"),
    ("Mozilla/5.0 (Android 14; Tablet; rv:125.0) Gecko/125.0 Firefox/125.0", "tablet"),
    (
        "Mozilla/5.0 (Linux; Android 11; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) Silk/124.2.1 like Chrome/124.0.6367.219 Safari/537.36",
        "tablet",
    ),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36", "desktop"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0", "desktop"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15", "desktop"),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36", "desktop"),
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "bot"),
    (
        "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.201 Mobile Safari/537.36 "
        "(compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "bot",
    ),
    ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", "bot"),
    ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", "bot"),
    ("curl/8.5.0", "bot"),
    ("python-requests/2.32.3", "bot"),
    ("", "bot"),
]


@pytest.mark.parametrize(("user_agent", "device"), USER_AGENTS, ids=[f"{device}-{i}" for i, (_, device) in enumerate(USER_AGENTS)])
def test_conditions_device_classification(user_agent, device):
    assert classify_device(user_agent) == device


def test_conditions_device_condition_reasons():
    condition = when('{ device = ["mobile", "tablet"] }')
    iphone = USER_AGENTS[0][0]
    assert verdict(condition, visit(user_agent=iphone)) == Verdict(True, "device is mobile")
    assert verdict(condition, visit()) == Verdict(False, "device is desktop, needs mobile or tablet")


# -- time windows ------------------------------------------------------------------------------


def at(year: int, month: int, day: int, hour: int, minute: int = 0, zone: ZoneInfo = AMSTERDAM) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=zone).timestamp()


WEEKEND_EVENING = '{ time = { days = ["sat", "sun"], from = "18:00", to = "23:00", timezone = "Europe/Amsterdam" } }'


def test_conditions_time_window_holds_inside():
    # Saturday 15 March 2025, 19:30 in Amsterdam.
    assert verdict(when(WEEKEND_EVENING), visit(now=at(2025, 3, 15, 19, 30))) == Verdict(True, "it is Sat 19:30 in Europe/Amsterdam")


def test_conditions_time_window_end_is_exclusive():
    result = verdict(when(WEEKEND_EVENING), visit(now=at(2025, 3, 15, 23, 0)))
    assert result == Verdict(False, "it is Sat 23:00 in Europe/Amsterdam, outside Sat, Sun 18:00 to 23:00")


def test_conditions_time_window_wrong_day_fails():
    result = verdict(when(WEEKEND_EVENING), visit(now=at(2025, 3, 14, 19, 30)))
    assert result == Verdict(False, "it is Fri 19:30 in Europe/Amsterdam, outside Sat, Sun 18:00 to 23:00")


def test_conditions_time_window_uses_its_time_zone():
    # 19:30 in Amsterdam is 14:30 in New York: the same instant, outside a New York evening window.
    condition = when('{ time = { from = "18:00", to = "23:00", timezone = "America/New_York" } }')
    result = verdict(condition, visit(now=at(2025, 3, 15, 19, 30)))
    assert result == Verdict(False, "it is Sat 14:30 in America/New_York, outside 18:00 to 23:00")
    assert verdict(condition, visit(now=at(2025, 3, 15, 19, 30, ZoneInfo("America/New_York")))).ok


def test_conditions_time_window_follows_daylight_saving():
    # Amsterdam moves to summer time on 30 March 2025: 9:00 local is 8:00 UTC before, 7:00 UTC after.
    condition = when('{ time = { from = "09:00", to = "10:00", timezone = "Europe/Amsterdam" } }')
    utc = ZoneInfo("UTC")
    assert verdict(condition, visit(now=at(2025, 3, 29, 8, 30, utc))).ok
    assert verdict(condition, visit(now=at(2025, 3, 31, 7, 30, utc))).ok
    assert not verdict(condition, visit(now=at(2025, 3, 31, 8, 30, utc))).ok


def test_conditions_time_window_across_midnight_belongs_to_its_first_day():
    condition = when('{ time = { days = ["fri"], from = "22:00", to = "02:00", timezone = "Europe/Amsterdam" } }')
    assert verdict(condition, visit(now=at(2025, 3, 14, 23, 0))).ok  # Friday 23:00
    assert verdict(condition, visit(now=at(2025, 3, 15, 1, 30))) == Verdict(True, "it is Sat 01:30 in Europe/Amsterdam")
    assert not verdict(condition, visit(now=at(2025, 3, 14, 1, 30))).ok  # Friday 01:30 is Thursday night
    assert not verdict(condition, visit(now=at(2025, 3, 15, 2, 0))).ok
    assert not verdict(condition, visit(now=at(2025, 3, 15, 22, 30))).ok  # Saturday night


def test_conditions_time_window_across_midnight_every_day():
    condition = when('{ time = { from = "22:00", to = "06:00", timezone = "Europe/Amsterdam" } }')
    assert verdict(condition, visit(now=at(2025, 3, 17, 3, 0))).ok
    assert not verdict(condition, visit(now=at(2025, 3, 17, 12, 0))).ok


def test_conditions_time_days_only_and_full_day_names():
    condition = when('{ time = { days = ["Saturday", "sun"], timezone = "Europe/Amsterdam" } }')
    assert condition.describe() == "Sat, Sun (Europe/Amsterdam)"
    assert verdict(condition, visit(now=at(2025, 3, 16, 0, 0))).ok
    assert not verdict(condition, visit(now=at(2025, 3, 17, 0, 0))).ok


def test_conditions_time_until_the_end_of_the_day_and_toml_times():
    condition = when('{ time = { from = 20:00:00, to = "24:00", timezone = "Europe/Amsterdam" } }')
    assert verdict(condition, visit(now=at(2025, 3, 17, 23, 59))).ok
    assert not verdict(condition, visit(now=at(2025, 3, 18, 0, 0))).ok


# -- combinators -------------------------------------------------------------------------------


def test_conditions_all_reports_the_first_failing_condition():
    condition = when('{ all = [ { lifecycle = "prospect" }, { visits = { min = 3 } }, { device = "mobile" } ] }')
    assert verdict(condition, visit()) == Verdict(False, "1 visit, needs at least 3")


def test_conditions_all_holds_with_every_reason():
    condition = when('{ all = [ { lifecycle = "prospect" }, { visits = { max = 3 } } ] }')
    assert verdict(condition, visit()) == Verdict(True, "lifecycle is prospect; 1 visit (at most 3)")


def test_conditions_several_kinds_in_one_table_all_hold_in_order():
    condition = when('{ device = "desktop", visits = { min = 2 }, lifecycle = "customer" }')
    assert condition.describe() == "device is desktop and at least 2 visits and lifecycle is customer"
    assert verdict(condition, visit()) == Verdict(False, "1 visit, needs at least 2")


def test_conditions_any_holds_with_the_first_that_holds():
    condition = when('{ any = [ { subscribed = "dogs" }, { path = "^/$" }, { visits = { max = 1 } } ] }')
    assert verdict(condition, visit()) == Verdict(True, "path '/' matches '^/$'")


def test_conditions_any_fails_with_every_reason():
    condition = when('{ any = [ { subscribed = "dogs" }, { device = "mobile" } ] }')
    result = verdict(condition, visit())
    assert result == Verdict(False, "none of these holds: not subscribed to the Dogs newsletter; device is desktop, needs mobile")


def test_conditions_not_inverts_with_reasons():
    condition = when('{ not = { lifecycle = "prospect" } }')
    assert verdict(condition, visit()) == Verdict(False, "lifecycle is prospect, needs not lifecycle is prospect")
    customer = bought(("o1", "dog-leash", "dogs", 3, 1))
    assert verdict(condition, visit(customer)) == Verdict(True, "not lifecycle is prospect (lifecycle is customer, needs prospect)")


def test_conditions_nested_combinators_describe_with_brackets():
    condition = when(
        '{ any = [ { all = [ { device = "mobile" }, { visits = { min = 2 } } ] }, { not = { any = [ { excluded = "cats" }, { subscribed = "cats" } ] } } ] }'
    )
    assert condition.describe() == "(device is mobile and at least 2 visits) or not (excluded Cats or subscribed to the Cats newsletter)"


def test_conditions_missing_when_is_always():
    condition, _, problems = compile_file('[[rule]]\nid = "r"\n')
    assert problems == [] and condition is ALWAYS
    assert verdict(condition, visit()) == Verdict(True, "no conditions")


# -- segments ----------------------------------------------------------------------------------

DOG_LOVERS = """
[segments.dog-lovers]
all = [
  { affinity = { category = "dogs", min = 2.0 } },
  { not = { lifecycle = "prospect" } },
]
"""


def test_conditions_segment_reference_holds_with_its_reason():
    condition = when('{ segment = "dog-lovers" }', DOG_LOVERS)
    profile = bought(("o1", "dog-leash", "dogs", 3, 1))
    profile.category_views, profile.category_seen = {"dogs": 3}, {"dogs": NOW}
    result = verdict(condition, visit(profile))
    assert result == Verdict(
        True,
        "in segment 'dog-lovers': affinity for Dogs is 3 (at least 2); not lifecycle is prospect (lifecycle is customer, needs prospect)",
    )


def test_conditions_segment_reference_fails_with_the_first_failing_condition():
    condition = when('{ segment = "dog-lovers" }', DOG_LOVERS)
    assert verdict(condition, visit(viewed(dogs=(1, 0)))) == Verdict(
        False, "not in segment 'dog-lovers': affinity for Dogs is 1, needs at least 2"
    )


def test_conditions_segment_in_a_combination():
    condition = when('{ any = [ { segment = "dog-lovers" }, { query = { utm_campaign = "dogs-*" } } ] }', DOG_LOVERS)
    assert condition.describe() == "segment 'dog-lovers' or query utm_campaign matches 'dogs-*'"
    assert verdict(condition, visit(query={"utm_campaign": ["dogs-spring"]})).ok


def test_conditions_segments_use_segments_defined_later():
    text = '[segments.loyal]\nall = [ { segment = "customers" }, { visits = { min = 5 } } ]\n[segments.customers]\nlifecycle = ["customer", "repeat_customer"]\n'
    _, segments, problems = compile_file(text)
    assert problems == []
    assert list(segments) == ["loyal", "customers"]
    assert segments["loyal"].describe() == "segment 'loyal'"
    assert segments["loyal"].condition.describe() == "segment 'customers' and at least 5 visits"  # type: ignore[attr-defined]


def test_conditions_segments_from_several_files_compile_together():
    problems: list = []
    sections = []
    for name, text in (("a.toml", '[segments.a]\nsegment = "b"\n'), ("b.toml", '[segments.b]\ndevice = "bot"\n')):
        top = Fields(tomllib.loads(text), (), name, KeyLines(text), problems)
        sections.append(top.sub("segments", top.table["segments"]))
    segments = compile_segments(sections, SITE, CATALOG)
    assert problems == []
    assert verdict(segments["a"], visit(user_agent="curl/8")) == Verdict(True, "in segment 'a': in segment 'b': device is bot")


def test_conditions_segment_defined_twice_across_files():
    problems: list = []
    sections = []
    for name in ("a.toml", "b.toml"):
        text = '\n[segments.vip]\ncrm_segment = "vip"\n'
        top = Fields(tomllib.loads(text), (), name, KeyLines(text), problems)
        sections.append(top.sub("segments", top.table["segments"]))
    compile_segments(sections, SITE, CATALOG)
    assert [str(p) for p in problems] == ["b.toml:2: segment 'vip' is defined again (first at a.toml:2)"]


def test_conditions_segment_cycle_names_the_chain():
    text = '[segments.a]\nsegment = "b"\n[segments.b]\nall = [ { segment = "c" } ]\n[segments.c]\nany = [ { device = "bot" }, { segment = "a" } ]\n'
    assert problems_of(text) == [
        "rules.toml:6: segment 'c': any[1]: segment cycle a -> b -> c -> a (hint: a segment cannot use itself, directly or through other segments)"
    ]


def test_conditions_segment_using_itself_is_a_cycle():
    text = '[segments.a]\nnot = { segment = "a" }\n'
    assert problems_of(text) == [
        "rules.toml:2: segment 'a': not: segment cycle a -> a (hint: a segment cannot use itself, directly or through other segments)"
    ]


def test_conditions_broken_segment_causes_no_second_message():
    text = '[segments.a]\nlifecycle = "vip"\n[[rule]]\nwhen = { segment = "a" }\n'
    assert problems_of(text) == [
        "rules.toml:2: segment 'a': 'lifecycle': unknown lifecycle stage 'vip' (hint: known: prospect, customer, repeat_customer)"
    ]


def test_conditions_unknown_segment_suggests_a_close_name():
    text = DOG_LOVERS + '[[rule]]\nwhen = { segment = "dog-lover" }\n'
    assert problems_of(text) == ["rules.toml:8: rule 'r': when: unknown segment 'dog-lover' (hint: did you mean 'dog-lovers'?)"]


def test_conditions_unknown_segment_lists_the_defined_ones():
    text = DOG_LOVERS + '[[rule]]\nwhen = { segment = "vips" }\n'
    assert problems_of(text) == ["rules.toml:8: rule 'r': when: unknown segment 'vips' (hint: defined segments: dog-lovers)"]


def test_conditions_unknown_segment_without_segments():
    assert problems_of('[[rule]]\nwhen = { segment = "vips" }\n') == [
        "rules.toml:2: rule 'r': when: unknown segment 'vips' (hint: define it as a [segments.vips] table)"
    ]


def test_conditions_segment_name_must_be_a_slug():
    assert problems_of('[segments."Dog Lovers"]\ndevice = "mobile"\n') == [
        "rules.toml:1: segment name 'Dog Lovers' must be lower-case letters, digits, '-' or '_', starting with a letter or digit"
    ]


def test_conditions_segment_must_be_a_table():
    assert problems_of('[segments]\nvip = "vip"\n') == [
        "rules.toml:2: segment 'vip' must be a table of conditions, not a string (hint: write [segments.vip] with conditions below it, e.g. lifecycle = \"customer\")"
    ]


def test_conditions_problems_in_multiline_segment_point_at_the_list():
    text = '[segments.dog-lovers]\nall = [\n  { affinity = { category = "dgos", min = 2 } },\n  { visits = { min = "2" } },\n]\n'
    assert problems_of(text) == [
        "rules.toml:2: segment 'dog-lovers': all[0].affinity: 'category': unknown category 'dgos' (hint: did you mean 'dogs'?)",
        "rules.toml:2: segment 'dog-lovers': all[1].visits: 'min' must be a whole number, not a string",
    ]


# -- never_fires -------------------------------------------------------------------------------


def test_conditions_never_fires_none_for_a_possible_condition():
    condition = when('{ segment = "dog-lovers", device = "mobile", time = { days = ["sat"], timezone = "UTC" } }', DOG_LOVERS)
    assert never_fires(condition) is None


def test_conditions_never_fires_two_lifecycle_stages():
    condition = when('{ all = [ { lifecycle = "prospect" }, { lifecycle = "customer" } ] }')
    assert never_fires(condition) == "'lifecycle is prospect' and 'lifecycle is customer' cannot both hold"


def test_conditions_never_fires_a_purchase_by_a_prospect():
    condition = when('{ lifecycle = "prospect", purchased = { category = "dogs" } }')
    assert never_fires(condition) == "'lifecycle is prospect' and 'bought Dogs products' cannot both hold"


def test_conditions_never_fires_repeat_purchases_by_a_first_time_customer():
    condition = when('{ lifecycle = "customer", purchased = { min_count = 2 } }')
    assert never_fires(condition) == "'lifecycle is customer' and 'bought anything at least 2 times' cannot both hold"


def test_conditions_never_fires_through_not():
    condition = when('{ not = { lifecycle = "prospect" }, lifecycle = ["prospect"] }')
    assert never_fires(condition) == "'lifecycle is prospect' and 'not lifecycle is prospect' cannot both hold"


def test_conditions_never_fires_a_condition_and_its_not():
    condition = when('{ all = [ { subscribed = "dogs" }, { not = { subscribed = "dogs" } } ] }')
    assert never_fires(condition) == "'subscribed to the Dogs newsletter' and 'not subscribed to the Dogs newsletter' cannot both hold"


def test_conditions_never_fires_visits_min_above_max():
    assert never_fires(when("{ visits = { min = 5, max = 2 } }")) == "'between 5 and 2 visits': min is more than max"


def test_conditions_never_fires_visits_at_most_zero():
    assert (
        never_fires(when("{ visits = { max = 0 } }")) == "'at most 0 visits': a page view always belongs to a visit, so there is at least 1"
    )


def test_conditions_never_fires_disjoint_visit_ranges():
    condition = when("{ all = [ { visits = { min = 5 } }, { visits = { max = 3 } } ] }")
    assert never_fires(condition) == "'at least 5 visits' and 'at most 3 visits' cannot both hold"


def test_conditions_never_fires_affinity_min_above_max():
    assert (
        never_fires(when('{ affinity = { category = "dogs", min = 3, max = 1 } }'))
        == "'affinity for Dogs between 3 and 1': min is more than max"
    )


def test_conditions_never_fires_interest_in_an_excluded_category():
    condition = when('{ excluded = "cats", top = { n = 2, category = "cats" } }')
    assert never_fires(condition) == "'excluded Cats' and 'Cats among the visitor's top 2 categories' cannot both hold"


def test_conditions_never_fires_an_empty_time_window():
    condition = when('{ time = { days = ["sat"], from = "18:00", to = "18:00", timezone = "Europe/Amsterdam" } }')
    assert never_fires(condition) == "'Sat 18:00 to 18:00 (Europe/Amsterdam)': the time window from 18:00 to 18:00 is empty"


def test_conditions_never_fires_two_devices():
    condition = when('{ device = "mobile", any = [ { device = "desktop" }, { device = "bot" } ] }')
    assert never_fires(condition) == "'device is mobile' and 'device is desktop or device is bot' cannot both hold"


def test_conditions_never_fires_not_of_every_stage():
    condition = when('{ not = { lifecycle = ["prospect", "customer", "repeat_customer"] } }')
    assert (
        never_fires(condition)
        == "'lifecycle is prospect, customer or repeat_customer' always holds, so 'not lifecycle is prospect, customer or repeat_customer' never does"
    )


def test_conditions_never_fires_any_with_no_possible_alternative():
    condition = when("{ any = [ { visits = { max = 0 } }, { days_since_last_visit = { min = 9, max = 1 } } ] }")
    assert never_fires(condition) == (
        "none of its alternatives can hold: 'at most 0 visits': a page view always belongs to a visit, so there is at least 1; "
        "'last visit between 9 and 1 days ago': min is more than max"
    )


def test_conditions_never_fires_any_with_one_possible_alternative_is_fine():
    assert never_fires(when('{ any = [ { visits = { max = 0 } }, { device = "bot" } ] }')) is None


def test_conditions_never_fires_looks_into_segments():
    segments = '[segments.impossible]\nlifecycle = "prospect"\nreplenishment_due = {}\n'
    condition = when('{ segment = "impossible" }', segments)
    assert (
        never_fires(condition)
        == "segment 'impossible' never matches: 'lifecycle is prospect' and 'a bought product runs out within 7 days' cannot both hold"
    )


def test_conditions_never_fires_replenishment_without_lasts_days():
    assert (
        never_fires(when('{ replenishment_due = { sku = "dog-leash" } }'))
        == "'dog-leash runs out within 7 days': dog-leash has no 'lasts_days' in [catalog]"
    )
    assert never_fires(when('{ replenishment_due = { category = "rodents" } }')) == (
        "'a Rodents product runs out within 7 days': no product in Rodents has 'lasts_days' in [catalog]"
    )


def test_conditions_never_fires_purchase_of_a_sku_in_another_category():
    condition = when('{ purchased = { category = "cats", sku = "dog-kibble" } }')
    assert never_fires(condition) == "'bought dog-kibble': dog-kibble is in Dogs, not Cats"


# -- rule-file messages ------------------------------------------------------------------------


def test_conditions_error_unknown_condition_suggests_a_close_kind():
    assert problems_of('[[rule]]\nwhen = { afinity = { category = "dogs" } }\n') == [
        "rules.toml:2: rule 'r': when: unknown condition 'afinity' (hint: did you mean 'affinity'?)"
    ]


def test_conditions_error_unknown_condition_lists_the_kinds():
    assert problems_of('[[rule]]\nwhen = { weather = "sunny" }\n') == [
        "rules.toml:2: rule 'r': when: unknown condition 'weather' (hint: known conditions: all, any, not, segment, affinity, top, lifecycle, "
        "visits, days_since_last_visit, purchased, replenishment_due, subscribed, interested_in, excluded, crm_segment, path, query, referrer, device, time, dates)"
    ]


def test_conditions_error_category_outside_a_condition():
    assert problems_of('[[rule]]\nwhen = { category = "dogs" }\n') == [
        "rules.toml:2: rule 'r': when: unknown condition 'category' (hint: a category goes inside a condition, e.g. affinity = { category = \"dogs\", min = 2 })"
    ]


def test_conditions_error_utm_parameter_outside_query():
    assert problems_of('[[rule]]\nwhen = { utm_source = "mail" }\n') == [
        "rules.toml:2: rule 'r': when: unknown condition 'utm_source' (hint: query parameters go inside query, e.g. query = { utm_source = \"...\" })"
    ]


def test_conditions_error_when_must_be_a_table():
    assert problems_of('[[rule]]\nwhen = [ { device = "mobile" } ]\n') == [
        "rules.toml:2: rule 'r': 'when' must be a table of conditions, not a list (hint: for conditions that must all hold write when = { all = [...] })"
    ]


def test_conditions_error_when_as_a_segment_name():
    assert problems_of('[[rule]]\nwhen = "dog-lovers"\n') == [
        "rules.toml:2: rule 'r': 'when' must be a table of conditions, not a string (hint: to use a segment write when = { segment = \"dog-lovers\" })"
    ]


def test_conditions_error_empty_condition():
    assert problems_of("[[rule]]\nwhen = {}\n") == [
        "rules.toml:2: rule 'r': when: no condition given (hint: e.g. { lifecycle = \"customer\" })"
    ]


def test_conditions_error_kind_needs_a_table():
    assert problems_of('[[rule]]\nwhen = { affinity = "dogs" }\n') == [
        "rules.toml:2: rule 'r': when: 'affinity' must be a table, not a string (hint: e.g. affinity = { category = \"dogs\", min = 2 })"
    ]


def test_conditions_error_unknown_key_in_a_condition():
    assert problems_of('[[rule]]\nwhen = { affinity = { category = "dogs", mni = 2 } }\n') == [
        "rules.toml:2: rule 'r': when.affinity: unknown key 'mni' (hint: did you mean 'min'?)"
    ]


def test_conditions_error_missing_category():
    assert problems_of("[[rule]]\nwhen = { top = { n = 2 } }\n") == ["rules.toml:2: rule 'r': when.top: missing required key 'category'"]


def test_conditions_error_unknown_category_lists_the_categories():
    assert problems_of('[[rule]]\nwhen = { affinity = { category = "horses" } }\n') == [
        "rules.toml:2: rule 'r': when.affinity: 'category': unknown category 'horses' (hint: categories are: dogs, cats, rodents, fish)"
    ]


def test_conditions_error_unknown_category_in_a_list():
    assert problems_of('[[rule]]\nwhen = { subscribed = ["dogs", "cast"] }\n') == [
        "rules.toml:2: rule 'r': when: 'subscribed': unknown category 'cast' (hint: did you mean 'cats'?)"
    ]


def test_conditions_error_category_listed_twice():
    assert problems_of('[[rule]]\nwhen = { excluded = ["cats", "cats"] }\n') == [
        "rules.toml:2: rule 'r': when: 'excluded': 'cats' is listed twice"
    ]


def test_conditions_error_wrong_type_for_a_name_list():
    assert problems_of("[[rule]]\nwhen = { interested_in = 3 }\n") == [
        "rules.toml:2: rule 'r': when: 'interested_in' must be a category or a list of them, not a whole number (hint: e.g. interested_in = \"fish\")"
    ]


def test_conditions_error_empty_list():
    assert problems_of("[[rule]]\nwhen = { device = [] }\n") == [
        "rules.toml:2: rule 'r': when: 'device' is empty (hint: list at least one device)"
    ]


def test_conditions_error_unknown_lifecycle_stage():
    assert problems_of('[[rule]]\nwhen = { lifecycle = "customers" }\n') == [
        "rules.toml:2: rule 'r': when: 'lifecycle': unknown lifecycle stage 'customers' (hint: did you mean 'customer'?)"
    ]


def test_conditions_error_unknown_device():
    assert problems_of('[[rule]]\nwhen = { device = "phone" }\n') == [
        "rules.toml:2: rule 'r': when: 'device': unknown device 'phone' (hint: known: mobile, tablet, desktop, bot)"
    ]


def test_conditions_error_empty_crm_segment():
    assert problems_of('[[rule]]\nwhen = { crm_segment = "" }\n') == [
        "rules.toml:2: rule 'r': when: 'crm_segment': a CRM segment cannot be empty"
    ]


def test_conditions_error_bad_path_regex():
    assert problems_of("[[rule]]\nwhen = { path = '^/c/(' }\n") == [
        "rules.toml:2: rule 'r': when: 'path': invalid regular expression '^/c/(': missing ), unterminated subpattern at position 4"
    ]


def test_conditions_error_bad_referrer_regex():
    assert problems_of("[[rule]]\nwhen = { referrer = { url = '[' } }\n") == [
        "rules.toml:2: rule 'r': when.referrer: 'url': invalid regular expression '[': unterminated character set at position 0"
    ]


def test_conditions_error_referrer_needs_host_or_url():
    assert problems_of("[[rule]]\nwhen = { referrer = {} }\n") == [
        "rules.toml:2: rule 'r': when.referrer: give 'host', 'url' or both (hint: e.g. referrer = { host = \"google.*\" })"
    ]


def test_conditions_error_query_value_type():
    assert problems_of("[[rule]]\nwhen = { query = { page = 2 } }\n") == [
        "rules.toml:2: rule 'r': when.query: 'page' must be a value pattern, a list of them, or true/false for present/absent, not a whole number "
        '(hint: e.g. utm_campaign = "spring-*")'
    ]


def test_conditions_error_query_without_parameters():
    assert problems_of("[[rule]]\nwhen = { query = {} }\n") == [
        "rules.toml:2: rule 'r': when.query: no query parameter given (hint: e.g. query = { utm_campaign = \"spring-*\" })"
    ]


def test_conditions_error_visits_without_bounds():
    assert problems_of("[[rule]]\nwhen = { visits = {} }\n") == [
        "rules.toml:2: rule 'r': when.visits: give 'min', 'max' or both (hint: e.g. visits = { min = 2 })"
    ]


def test_conditions_error_negative_affinity():
    assert problems_of('[[rule]]\nwhen = { affinity = { category = "dogs", min = -1 } }\n') == [
        "rules.toml:2: rule 'r': when.affinity: 'min': must be 0 or more"
    ]


def test_conditions_error_purchase_window_must_be_positive():
    assert problems_of("[[rule]]\nwhen = { purchased = { within_days = 0, min_count = 0 } }\n") == [
        "rules.toml:2: rule 'r': when.purchased: 'within_days': must be more than 0",
        "rules.toml:2: rule 'r': when.purchased: 'min_count': must be at least 1",
    ]


def test_conditions_error_unknown_sku():
    assert problems_of('[[rule]]\nwhen = { replenishment_due = { sku = "dog-kible" } }\n') == [
        "rules.toml:2: rule 'r': when.replenishment_due: 'sku': unknown product 'dog-kible' (hint: did you mean 'dog-kibble'?)"
    ]


def test_conditions_error_unknown_time_zone():
    assert problems_of('[[rule]]\nwhen = { time = { from = "09:00", timezone = "Europe/Amsterdm" } }\n') == [
        "rules.toml:2: rule 'r': when.time: 'timezone': unknown time zone 'Europe/Amsterdm' (hint: did you mean 'Europe/Amsterdam'?)"
    ]


def test_conditions_error_time_zone_path_is_refused():
    assert problems_of('[[rule]]\nwhen = { time = { from = "09:00", timezone = "../../etc/passwd" } }\n') == [
        "rules.toml:2: rule 'r': when.time: 'timezone': unknown time zone '../../etc/passwd' (hint: use an IANA time zone name such as 'Europe/Amsterdam')"
    ]


def test_conditions_error_missing_time_zone():
    assert problems_of('[[rule]]\nwhen = { time = { from = "09:00" } }\n') == [
        "rules.toml:2: rule 'r': when.time: 'timezone' is missing (hint: the shop's time zone, e.g. timezone = \"Europe/Amsterdam\")"
    ]


def test_conditions_error_bad_time_format():
    assert problems_of('[[rule]]\nwhen = { time = { from = "6pm", to = "24:30", timezone = "UTC" } }\n') == [
        "rules.toml:2: rule 'r': when.time: 'from': '6pm' is not a time of day (hint: write hours and minutes, e.g. \"18:00\")",
        "rules.toml:2: rule 'r': when.time: 'to': '24:30' is not a time of day (hint: hours 00 to 23, minutes 00 to 59 (or \"24:00\" for the end of the day))",
    ]


def test_conditions_error_time_with_seconds():
    assert problems_of('[[rule]]\nwhen = { time = { from = 18:00:30, timezone = "UTC" } }\n') == [
        "rules.toml:2: rule 'r': when.time: 'from': give hours and minutes only (hint: e.g. from = \"18:00\")"
    ]


def test_conditions_error_unknown_weekday():
    assert problems_of('[[rule]]\nwhen = { time = { days = ["sat", "zon"], timezone = "UTC" } }\n') == [
        "rules.toml:2: rule 'r': when.time: 'days': unknown weekday 'zon' (hint: did you mean 'mon'?)"
    ]


def test_conditions_error_weekday_listed_twice():
    assert problems_of('[[rule]]\nwhen = { time = { days = ["sat", "Saturday"], timezone = "UTC" } }\n') == [
        "rules.toml:2: rule 'r': when.time: 'days': 'Saturday' is listed twice"
    ]


def test_conditions_error_time_without_days_or_hours():
    assert problems_of('[[rule]]\nwhen = { time = { timezone = "UTC" } }\n') == [
        "rules.toml:2: rule 'r': when.time: give 'days', a 'from'/'to' time of day, or both "
        '(hint: e.g. time = { days = ["sat", "sun"], from = "18:00", to = "23:00", timezone = "Europe/Amsterdam" })'
    ]


def test_conditions_error_not_with_two_conditions():
    assert problems_of('[[rule]]\nwhen = { not = { lifecycle = "prospect", device = "bot" } }\n') == [
        "rules.toml:2: rule 'r': when: 'not' takes one condition, not 2 "
        "(hint: for none of them write not = { any = [...] }; for not all of them write not = { all = [...] })"
    ]


def test_conditions_error_all_must_be_a_list():
    assert problems_of('[[rule]]\nwhen = { all = { device = "bot" } }\n') == [
        "rules.toml:2: rule 'r': when: 'all' must be a list of conditions, not a table (hint: e.g. all = [ { lifecycle = \"customer\" }, { device = \"mobile\" } ])"
    ]


def test_conditions_error_empty_any():
    assert problems_of("[[rule]]\nwhen = { any = [] }\n") == [
        "rules.toml:2: rule 'r': when: 'any' is empty (hint: list at least one condition)"
    ]


def test_conditions_error_list_item_must_be_a_table():
    assert problems_of('[[rule]]\nwhen = { any = [ { device = "bot" }, "mobile" ] }\n') == [
        "rules.toml:2: rule 'r': when.any[1]: a condition must be a table, not a string (hint: e.g. { device = \"mobile\" })"
    ]


def test_conditions_error_nested_problems_name_their_place():
    text = '[[rule]]\nid = "r"\nwhen = { any = [ { not = { top = { category = "dog", n = 0 } } } ] }\n'
    assert problems_of(text) == [
        "rules.toml:3: rule 'r': when.any[0].not.top: 'category': unknown category 'dog' (hint: did you mean 'dogs'?)",
        "rules.toml:3: rule 'r': when.any[0].not.top: 'n': must be at least 1",
    ]


def test_conditions_error_every_problem_is_reported():
    text = '[[rule]]\nwhen = { lifecycle = "vip", device = "phone", visits = { min = "1" } }\n'
    assert problems_of(text) == [
        "rules.toml:2: rule 'r': when: 'lifecycle': unknown lifecycle stage 'vip' (hint: known: prospect, customer, repeat_customer)",
        "rules.toml:2: rule 'r': when: 'device': unknown device 'phone' (hint: known: mobile, tablet, desktop, bot)",
        "rules.toml:2: rule 'r': when.visits: 'min' must be a whole number, not a string",
    ]


def test_conditions_when_key_is_not_reported_as_unknown_by_the_rule():
    text = '[[rule]]\nwhen = { device = "bot" }\n'
    problems: list = []
    document = tomllib.loads(text)
    rule = Fields(document, (), "rules.toml", KeyLines(text), problems).entry("rule", 0, document["rule"][0])
    compile_condition(rule, "when", SITE, CATALOG, {})
    rule.finish()
    assert problems == []


SPRING = '{ dates = { from = 2025-03-01, until = 2025-03-31, timezone = "Europe/Amsterdam" } }'


def test_conditions_dates_hold_inside_the_schedule():
    assert verdict(when(SPRING), visit()) == Verdict(True, "scheduled from 2025-03-01 until 2025-03-31")


def test_conditions_dates_have_not_started():
    early = datetime(2025, 2, 28, 23, 59, tzinfo=AMSTERDAM).timestamp()
    assert verdict(when(SPRING), visit(now=early)).reason == "not started yet (scheduled from 2025-03-01 until 2025-03-31)"


def test_conditions_dates_until_includes_the_whole_last_day():
    last_evening = datetime(2025, 3, 31, 23, 59, tzinfo=AMSTERDAM).timestamp()
    assert verdict(when(SPRING), visit(now=last_evening)).ok


def test_conditions_dates_have_ended():
    after = datetime(2025, 4, 1, 0, 0, tzinfo=AMSTERDAM).timestamp()
    assert verdict(when(SPRING), visit(now=after)).reason == "ended (scheduled from 2025-03-01 until 2025-03-31)"


def test_conditions_dates_with_an_offset_need_no_time_zone():
    assert not verdict(when("{ dates = { until = 2025-03-14T10:00:00Z } }"), visit()).ok


def test_conditions_dates_ending_before_they_start_never_fire():
    condition = when('{ dates = { from = 2025-04-01, until = 2025-03-01, timezone = "UTC" } }')
    assert never_fires(condition) == "'scheduled from 2025-04-01 until 2025-03-01': it ends before it starts"


def test_conditions_dates_need_a_bound():
    assert problems_of("[[rule]]\nwhen = { dates = {} }\n") == [
        "rules.toml:2: rule 'r': when.dates: give 'from', 'until' or both (hint: e.g. dates = { from = 2026-03-01, until = 2026-04-30, timezone = \"Europe/Amsterdam\" })"
    ]
