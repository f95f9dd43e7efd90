"""Conditions on the request (etalage.rules.conditions.request): path, query, referrer and device."""

from __future__ import annotations

import subprocess
import sys

import pytest

from etalage.rules.conditions import Verdict, classify_device
from tests.rules.conditions.helpers import verdict, visit, when

# -- path and query ----------------------------------------------------------------------------


def test_path_regex_is_searched():
    condition = when("{ path = '^/c/' }")
    assert verdict(condition, visit(path="/c/dogs")) == Verdict(True, "path '/c/dogs' matches '^/c/'")
    assert verdict(condition, visit(path="/p/c/x")) == Verdict(False, "path '/p/c/x' does not match '^/c/'")


def test_path_list_means_any():
    condition = when("{ path = ['^/c/', '^/p/'] }")
    assert verdict(condition, visit(path="/p/dog-leash")).ok
    assert verdict(condition, visit(path="/")) == Verdict(False, "path '/' does not match '^/c/' or '^/p/'")


def test_query_glob_ignores_case():
    condition = when('{ query = { utm_campaign = "spring-*" } }')
    assert verdict(condition, visit(query={"utm_campaign": ["Spring-Sale"]})) == Verdict(True, "query utm_campaign is 'Spring-Sale'")
    assert verdict(condition, visit(query={"utm_campaign": ["winter"]})) == Verdict(
        False, "query utm_campaign is 'winter', needs 'spring-*'"
    )


def test_query_missing_parameter():
    condition = when('{ query = { utm_campaign = "spring-*" } }')
    assert verdict(condition, visit()) == Verdict(False, "query has no utm_campaign, needs 'spring-*'")


def test_query_exact_value_matches_whole():
    condition = when('{ query = { utm_source = "news" } }')
    assert verdict(condition, visit(query={"utm_source": ["newsletter"]})) == Verdict(
        False, "query utm_source is 'newsletter', needs 'news'"
    )
    assert verdict(condition, visit(query={"utm_source": ["NEWS"]})).ok


def test_query_any_repeated_value_matches():
    condition = when('{ query = { tag = ["a?", "b"] } }')
    assert verdict(condition, visit(query={"tag": ["x", "a1"]})) == Verdict(True, "query tag is 'a1'")


def test_query_presence_and_absence():
    condition = when("{ query = { gclid = true, nopersonalize = false } }")
    assert verdict(condition, visit(query={"gclid": [""]})) == Verdict(True, "query has gclid; query has no nopersonalize")
    assert verdict(condition, visit()) == Verdict(False, "query has no gclid")
    assert verdict(condition, visit(query={"gclid": ["x"], "nopersonalize": ["1"]})) == Verdict(
        False, "query has nopersonalize, needs none"
    )


def test_query_accepts_a_single_value_string():
    condition = when('{ query = { utm_campaign = "spring-*" } }')
    assert verdict(condition, visit(query={"utm_campaign": "spring-sale"})) == Verdict(True, "query utm_campaign is 'spring-sale'")


def test_query_glob_characters_other_than_star_and_question_mark_are_literal():
    condition = when('{ query = { q = "[dogs].*" } }')
    assert verdict(condition, visit(query={"q": ["[dogs].x"]})).ok
    assert not verdict(condition, visit(query={"q": ["d.x"]})).ok


# -- referrer ----------------------------------------------------------------------------------


def test_referrer_host_matches_subdomains():
    condition = when('{ referrer = { host = "google.*" } }')
    assert verdict(condition, visit(referrer="https://www.google.nl/search?q=hond")) == Verdict(
        True, "referrer is 'https://www.google.nl/search?q=hond'"
    )
    assert verdict(condition, visit(referrer="https://news.google.co.uk/")).ok
    assert verdict(condition, visit(referrer="https://www.bing.com/")) == Verdict(
        False, "referrer host 'www.bing.com' does not match 'google.*'"
    )


def test_referrer_missing_fails():
    condition = when('{ referrer = { host = ["google.*", "*.bing.com"] } }')
    assert verdict(condition, visit()) == Verdict(False, "no referrer, needs host 'google.*' or '*.bing.com'")


def test_referrer_url_regex():
    condition = when("{ referrer = { url = '/blog/' } }")
    assert verdict(condition, visit(referrer="https://petblog.example/blog/dogs")).ok
    assert verdict(condition, visit(referrer="https://example.com/")) == Verdict(
        False, "referrer 'https://example.com/' does not match '/blog/'"
    )


# -- device ------------------------------------------------------------------------------------


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
def test_classify_device_by_user_agent(user_agent, device):
    assert classify_device(user_agent) == device


def test_device_reasons():
    condition = when('{ device = ["mobile", "tablet"] }')
    iphone = USER_AGENTS[0][0]
    assert verdict(condition, visit(user_agent=iphone)) == Verdict(True, "device is mobile")
    assert verdict(condition, visit()) == Verdict(False, "device is desktop, needs mobile or tablet")


# -- what a visitor's request cannot make cost -------------------------------------------------


def test_referrer_host_longer_than_dns_allows_matches_nothing():
    condition = when('{ referrer = { host = "*.example" } }')
    host = "a." * 200 + "example"  # 407 characters: no real host, and every suffix would be tried
    assert not condition.test(visit(referrer=f"https://{host}/"))
    assert condition.test(visit(referrer="https://www.shop.example/"))


def test_classify_device_reads_only_the_start_of_the_user_agent():
    padding = "Mozilla/5.0 (X11; Linux x86_64) " + "x" * 600
    assert classify_device(padding + " Googlebot/2.1") == "desktop"
    assert classify_device("Googlebot/2.1 " + padding) == "bot"


def test_query_glob_with_several_stars_runs_in_linear_time():
    # A backtracking matcher needs hours for this (every way of splitting 20,000 characters in four);
    # run in a subprocess so that such a bug fails this test instead of hanging the suite.
    code = "from etalage.rules.conditions.request import glob_regex;assert glob_regex(['*-*-*-*z']).fullmatch('-' * 20000) is None"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
