from etalage.consent import ConsentPolicy, OneTrustSettings, read_consent
from etalage.http.cookies import parse_cookie_header
from tests.support.config import ACCEPT_ONETRUST, REJECT_ONETRUST

POLICY = ConsentPolicy()


def consent(header: str, gpc: str | None = None) -> bool:
    return read_consent(POLICY, parse_cookie_header(header), gpc).granted


def test_consent_onetrust_targeting_group_granted():
    assert consent(f"OptanonConsent={ACCEPT_ONETRUST}")


def test_consent_onetrust_targeting_group_refused():
    assert not consent(f"OptanonConsent={REJECT_ONETRUST}")


def test_consent_missing_cookie_means_no():
    assert not consent("other=1")


def test_consent_sec_gpc_overrides_an_accept():
    assert not consent(f"OptanonConsent={ACCEPT_ONETRUST}", gpc="1")


def test_consent_conflicting_duplicate_cookies_mean_no():
    assert not consent(f"OptanonConsent={ACCEPT_ONETRUST}; OptanonConsent={REJECT_ONETRUST}")


def test_consent_identical_duplicate_cookies_count_once():
    assert consent(f"OptanonConsent={ACCEPT_ONETRUST}; OptanonConsent={ACCEPT_ONETRUST}")


def test_consent_requires_an_interaction():
    assert not consent("OptanonConsent=" + ACCEPT_ONETRUST.replace("interactionCount=1", "interactionCount=0"))


def test_consent_alert_box_closed_counts_as_interaction():
    value = ACCEPT_ONETRUST.replace("interactionCount=1", "interactionCount=0")
    assert consent(f"OptanonConsent={value}; OptanonAlertBoxClosed=2024-11-12T09:15:30.123Z")


def test_consent_pending_reconsent_means_no():
    assert not consent("OptanonConsent=" + ACCEPT_ONETRUST.replace("AwaitingReconsent=false", "AwaitingReconsent=true"))


def test_consent_onetrust_gpc_flag_means_no():
    assert not consent("OptanonConsent=" + ACCEPT_ONETRUST.replace("isGpcEnabled=0", "isGpcEnabled=1"))


def test_consent_groups_are_configurable():
    policy = ConsentPolicy(onetrust=OneTrustSettings(groups=("C0003",)))
    granted = read_consent(policy, parse_cookie_header("OptanonConsent=interactionCount=1&groups=C0003%3A1%2CC0004%3A0"), None)
    assert granted.granted


def test_consent_garbage_value_means_no():
    assert not consent("OptanonConsent=%%%&&&groups")
