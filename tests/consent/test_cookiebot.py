"""Cookiebot: the CookieConsent object literal, its categories and how consent was given."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from etalage.consent import ConsentPolicy, CookiebotSettings
from tests.support.consent import COOKIEBOT_ACCEPT, COOKIEBOT_REJECT, cookiebot_value, granted, read

COOKIEBOT = ConsentPolicy(sources=("cookiebot",))


def test_cookiebot_value_is_not_json():
    with pytest.raises(json.JSONDecodeError):
        json.loads(COOKIEBOT_ACCEPT.replace("%27", "'").replace("%2C", ","))


def test_cookiebot_marketing_granted():
    assert granted(COOKIEBOT, f"CookieConsent={COOKIEBOT_ACCEPT}")


def test_cookiebot_marketing_refused():
    assert not granted(COOKIEBOT, f"CookieConsent={COOKIEBOT_REJECT}")


def test_cookiebot_preferences_alone_is_not_enough_by_default():
    assert not granted(COOKIEBOT, f"CookieConsent={cookiebot_value(preferences=True)}")


def test_cookiebot_categories_are_configurable():
    policy = ConsentPolicy(sources=("cookiebot",), cookiebot=CookiebotSettings(categories=("preferences",)))
    assert granted(policy, f"CookieConsent={cookiebot_value(preferences=True)}")


def test_cookiebot_implied_method_means_no():
    assert not granted(COOKIEBOT, f"CookieConsent={cookiebot_value(marketing=True, method='implied')}")


def test_cookiebot_missing_method_means_no():
    assert not granted(COOKIEBOT, f"CookieConsent={cookiebot_value(marketing=True, method=None)}")


def test_cookiebot_outside_consent_region_means_no():
    consent = read(COOKIEBOT, "CookieConsent=-1")
    assert not consent.granted and "outside the regions" in consent.reason


def test_cookiebot_quoted_true_is_not_true():
    assert not granted(COOKIEBOT, "CookieConsent=" + quote("{necessary:true,marketing:'true',method:'explicit'}"))


def test_cookiebot_unencoded_literal_is_read():
    assert granted(COOKIEBOT, "CookieConsent={stamp:'x',necessary:true,marketing:true,method:'explicit',ver:1}")


@pytest.mark.parametrize(
    "literal",
    [
        "",
        "{",
        "{marketing:true,method:'explicit'",
        "{marketing:true,method:'explicit'}garbage",
        "{marketing:true method:'explicit'}",
        "{marketing:true,marketing:false,method:'explicit'}",
        "{marketing:yes,method:'explicit'}",
        "{method:'explicit,marketing:true}",
        "[true]",
        "marketing=true",
        "{a:" * 20 + "1" + "}" * 20,
    ],
    ids=["empty", "open", "unclosed", "trailing", "no-comma", "duplicate-key", "bare-word", "open-quote", "array", "query", "deep"],
)
def test_cookiebot_malformed_value_means_no(literal):
    assert not granted(COOKIEBOT, "CookieConsent=" + quote(literal))


def test_cookiebot_conflicting_cookies_mean_no():
    assert not granted(COOKIEBOT, f"CookieConsent={COOKIEBOT_ACCEPT}; CookieConsent={COOKIEBOT_REJECT}")


@pytest.mark.parametrize("around", ["\x1c", "\x1f", "\x85"])
def test_cookiebot_value_wrapped_in_what_javascript_does_not_call_space_means_no(around):
    assert not granted(COOKIEBOT, "CookieConsent=" + around + COOKIEBOT_ACCEPT + around)


def test_cookiebot_method_spelt_with_a_code_escape_means_no():
    assert not granted(COOKIEBOT, "CookieConsent=" + quote("{marketing:true,method:'e\\xplicit'}"))


@pytest.mark.parametrize("extra", ["Method:'implied'", "MARKETING:false", "'market ing':false"])
def test_cookiebot_a_deciding_key_spelt_otherwise_means_no(extra):
    consent = read(COOKIEBOT, "CookieConsent=" + quote("{necessary:true,marketing:true,method:'explicit'," + extra + "}"))
    assert not consent.granted and "which is not how Cookiebot writes" in consent.reason
