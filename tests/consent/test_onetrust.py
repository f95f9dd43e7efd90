"""OneTrust: the OptanonConsent query string, its groups, interaction, reconsent and GPC flags."""

import pytest

from etalage.consent import ConsentPolicy, OneTrustSettings
from tests.support.config import ACCEPT_ONETRUST, REJECT_ONETRUST
from tests.support.consent import granted, read

ONETRUST = ConsentPolicy(sources=("onetrust",))


def test_onetrust_targeting_group_granted():
    assert granted(ONETRUST, f"OptanonConsent={ACCEPT_ONETRUST}")


def test_onetrust_targeting_group_refused():
    assert not granted(ONETRUST, f"OptanonConsent={REJECT_ONETRUST}")


def test_onetrust_requires_an_interaction():
    assert not granted(ONETRUST, "OptanonConsent=" + ACCEPT_ONETRUST.replace("interactionCount=1", "interactionCount=0"))


def test_onetrust_alert_box_closed_counts_as_interaction():
    value = ACCEPT_ONETRUST.replace("interactionCount=1", "interactionCount=0")
    assert granted(ONETRUST, f"OptanonConsent={value}; OptanonAlertBoxClosed=2024-11-12T09:15:30.123Z")


def test_onetrust_pending_reconsent_means_no():
    assert not granted(ONETRUST, "OptanonConsent=" + ACCEPT_ONETRUST.replace("AwaitingReconsent=false", "AwaitingReconsent=true"))


def test_onetrust_gpc_flag_means_no():
    assert not granted(ONETRUST, "OptanonConsent=" + ACCEPT_ONETRUST.replace("isGpcEnabled=0", "isGpcEnabled=1"))


def test_onetrust_groups_are_configurable():
    policy = ConsentPolicy(onetrust=OneTrustSettings(groups=("C0003",)))
    assert granted(policy, "OptanonConsent=interactionCount=1&groups=C0003%3A1%2CC0004%3A0")


def test_onetrust_garbage_value_means_no():
    assert not granted(ONETRUST, "OptanonConsent=%%%&&&groups")


def test_onetrust_group_listed_twice_with_different_flags_means_no():
    value = ACCEPT_ONETRUST.replace("C0004%3A1", "C0004%3A1%2CC0004%3A0")
    assert not granted(ONETRUST, f"OptanonConsent={value}")


def test_onetrust_field_repeated_with_different_values_means_no():
    assert not granted(ONETRUST, f"OptanonConsent={ACCEPT_ONETRUST}&groups=C0004%3A0")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("interactionCount", "%201"),
        ("interactionCount", "1_0"),
        ("interactionCount", "%D9%A1"),  # an Arabic-Indic one, which int() reads as 1
        ("interactionCount", "-1"),
        ("isGpcEnabled", "%2B1"),
        ("isGpcEnabled", ""),
        ("AwaitingReconsent", "false%20"),
        ("AwaitingReconsent", "FALSE"),
    ],
)
def test_onetrust_a_field_that_is_not_exactly_what_onetrust_writes_means_no(field, value):
    fields = dict(pair.split("=", 1) for pair in ACCEPT_ONETRUST.split("&"))
    fields[field] = value
    assert not granted(ONETRUST, "OptanonConsent=" + "&".join(f"{k}={v}" for k, v in fields.items()))


@pytest.mark.parametrize(
    "extra",
    ["IsGpcEnabled=1", "isgpcenabled=1", "is%20GpcEnabled=1", "Awaiting+Reconsent=true", "AWAITINGRECONSENT=true", "\u0130sGpcEnabled=1"],
)
def test_onetrust_a_deciding_field_spelt_otherwise_means_no(extra):
    # Skipped as an unknown field, IsGpcEnabled=1 would leave isGpcEnabled=0 to decide.
    consent = read(ONETRUST, f"OptanonConsent={ACCEPT_ONETRUST}&{extra}")
    assert not consent.granted and "which is not how OneTrust writes" in consent.reason


@pytest.mark.parametrize("group", ["c0004", "C0004%20", "C-0004"])
def test_onetrust_a_group_spelt_otherwise_means_no(group):
    assert not granted(ONETRUST, "OptanonConsent=" + ACCEPT_ONETRUST.replace("C0001%3A1", f"{group}%3A0"))


def test_onetrust_an_empty_alert_box_closed_cookie_is_no_interaction():
    value = ACCEPT_ONETRUST.replace("interactionCount=1", "interactionCount=0")
    assert not granted(ONETRUST, f"OptanonConsent={value}; OptanonAlertBoxClosed=")


def test_onetrust_a_group_flag_with_a_space_means_no():
    assert not granted(ONETRUST, "OptanonConsent=" + ACCEPT_ONETRUST.replace("C0004%3A1", "C0004%3A%201"))
