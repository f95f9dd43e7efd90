"""Etalage's own consent cookie: exactly personalization=1 or personalization=0."""

import pytest

from etalage.consent import ConsentPolicy, EtalageSettings
from tests.support.consent import granted, read

ETALAGE = ConsentPolicy(sources=("etalage",))


def test_etalage_cookie_yes_is_granted():
    assert granted(ETALAGE, "etalage_consent=personalization=1")


def test_etalage_cookie_no_is_refused():
    consent = read(ETALAGE, "etalage_consent=personalization=0")
    assert not consent.granted and "said no" in consent.reason


@pytest.mark.parametrize("value", ["", "1", "yes", "personalization=yes", "personalization=1&x=1", "personalisation=1"])
def test_etalage_cookie_malformed_means_no(value):
    assert not granted(ETALAGE, f"etalage_consent={value}")


@pytest.mark.parametrize("space", ["\n", "\x0c", "\x1c", "\x1f", "\x85", "\xa0", "\u1680", "\u3000"])
def test_etalage_cookie_with_other_whitespace_around_means_no(space):
    assert not granted(ETALAGE, f"etalage_consent={space}personalization=1")
    assert not granted(ETALAGE, f"etalage_consent=personalization=1{space}")


def test_etalage_cookie_name_is_configurable():
    policy = ConsentPolicy(sources=("etalage",), etalage=EtalageSettings(cookie="shop_consent"))
    assert granted(policy, "shop_consent=personalization=1")
    assert not granted(policy, "etalage_consent=personalization=1")


def test_etalage_conflicting_cookies_mean_no():
    assert not granted(ETALAGE, "etalage_consent=personalization=1; etalage_consent=personalization=0")
