"""read_consent: how the listed sources combine, Sec-GPC over everything, and a reader that fails."""

from __future__ import annotations

import asyncio
import logging

import pytest

from etalage.consent import CONSENT_SOURCES, Consent, ConsentPolicy, read_consent
from etalage.consent.read import READERS
from etalage.http.cookies import parse_cookie_header
from etalage.types import CookieJar
from tests.support.config import ACCEPT_ONETRUST, REJECT_ONETRUST
from tests.support.consent import COOKIEBOT_ACCEPT, COOKIEBOT_REJECT, TCF_ACCEPT_ALL, TCF_REJECT_ALL, b64, didomi_token, granted, read

ONETRUST = ConsentPolicy(sources=("onetrust",))
ONETRUST_AND_TCF = ConsentPolicy(sources=("onetrust", "tcf"))
ALL_SOURCES = ConsentPolicy(sources=("onetrust", "cookiebot", "tcf", "didomi", "etalage"))
EVERY_ACCEPT = (
    f"OptanonConsent={ACCEPT_ONETRUST}; CookieConsent={COOKIEBOT_ACCEPT}; euconsent-v2={TCF_ACCEPT_ALL}; "
    f"didomi_token={b64(didomi_token())}; etalage_consent=personalization=1"
)


def test_read_consent_missing_cookie_means_no():
    assert not granted(ONETRUST, "other=1")


def test_read_consent_sec_gpc_overrides_an_accept():
    assert not granted(ONETRUST, f"OptanonConsent={ACCEPT_ONETRUST}", gpc="1")


def test_read_consent_conflicting_duplicate_cookies_mean_no():
    assert not granted(ONETRUST, f"OptanonConsent={ACCEPT_ONETRUST}; OptanonConsent={REJECT_ONETRUST}")


def test_read_consent_identical_duplicate_cookies_count_once():
    assert granted(ONETRUST, f"OptanonConsent={ACCEPT_ONETRUST}; OptanonConsent={ACCEPT_ONETRUST}")


def test_read_consent_one_present_source_can_grant():
    assert granted(ONETRUST_AND_TCF, f"OptanonConsent={ACCEPT_ONETRUST}")


def test_read_consent_a_tcf_string_alone_does_not_grant():
    consent = read(ONETRUST_AND_TCF, f"euconsent-v2={TCF_ACCEPT_ALL}")
    assert not consent.granted and "TCF alone" in consent.reason


@pytest.mark.parametrize("gpc", ["1", " 1", "1, 1", "1,1", "?1", "true", "\xa0", "\x1c", "\x850"])
def test_read_consent_any_sec_gpc_value_but_0_is_an_objection(gpc):
    assert not granted(ONETRUST, f"OptanonConsent={ACCEPT_ONETRUST}", gpc=gpc)


def test_read_consent_sec_gpc_0_is_no_objection():
    assert granted(ONETRUST, f"OptanonConsent={ACCEPT_ONETRUST}", gpc="0")


def test_read_consent_every_present_source_must_grant():
    consent = read(ONETRUST_AND_TCF, f"OptanonConsent={ACCEPT_ONETRUST}; eupubconsent-v2={TCF_ACCEPT_ALL}")
    assert consent.granted and "OneTrust" in consent.reason and "eupubconsent-v2" in consent.reason


def test_read_consent_a_refusal_is_not_outvoted_by_an_earlier_accept():
    assert not granted(ONETRUST_AND_TCF, f"OptanonConsent={ACCEPT_ONETRUST}; euconsent-v2={TCF_REJECT_ALL}")


def test_read_consent_a_refusal_is_not_outvoted_by_a_later_accept():
    assert not granted(ONETRUST_AND_TCF, f"OptanonConsent={REJECT_ONETRUST}; euconsent-v2={TCF_ACCEPT_ALL}")


def test_read_consent_malformed_second_source_means_no():
    assert not granted(ONETRUST_AND_TCF, f"OptanonConsent={ACCEPT_ONETRUST}; euconsent-v2=garbage!")


def test_read_consent_first_refusal_in_listed_order_is_the_reason():
    header = f"CookieConsent={COOKIEBOT_REJECT}; euconsent-v2={TCF_REJECT_ALL}"
    assert read(ConsentPolicy(sources=("tcf", "cookiebot")), header).reason.startswith("IAB TCF")
    assert read(ConsentPolicy(sources=("cookiebot", "tcf")), header).reason.startswith("Cookiebot")


def test_read_consent_none_present_means_no_and_names_the_cookies():
    consent = read(ONETRUST_AND_TCF, "other=1")
    assert not consent.granted and "OptanonConsent, euconsent-v2, eupubconsent-v2" in consent.reason


def test_read_consent_cookie_of_an_unlisted_source_is_ignored():
    assert not granted(ONETRUST, f"CookieConsent={COOKIEBOT_ACCEPT}")
    assert granted(ONETRUST, f"OptanonConsent={ACCEPT_ONETRUST}; CookieConsent={COOKIEBOT_REJECT}")


def test_read_consent_every_source_accepting_is_granted():
    assert granted(ALL_SOURCES, EVERY_ACCEPT)


@pytest.mark.parametrize("gpc", ["1", " 1 "])
def test_read_consent_gpc_overrides_every_source(gpc):
    consent = read(ALL_SOURCES, EVERY_ACCEPT, gpc)
    assert not consent.granted and "Sec-GPC" in consent.reason


def test_read_consent_gpc_zero_does_not_refuse():
    assert granted(ALL_SOURCES, EVERY_ACCEPT, "0")


# --- a reader that fails ----------------------------------------------------------------------------


def test_read_consent_registry_has_a_reader_for_every_source():
    assert tuple(READERS) == CONSENT_SOURCES


def test_read_consent_failing_reader_is_a_refusal_not_an_error(monkeypatch, caplog):
    def broken(settings: object, jar: CookieJar) -> str | None:
        raise KeyError("a bug")

    monkeypatch.setitem(READERS, "tcf", broken)
    with caplog.at_level(logging.ERROR, logger="etalage.consent"):
        consent = read_consent(ONETRUST_AND_TCF, parse_cookie_header(f"OptanonConsent={ACCEPT_ONETRUST}"), None)
    assert consent == Consent(
        False, "consent source 'tcf': reading its cookie failed inside Etalage (KeyError, see the log), so no consent"
    )
    assert [record.exc_info is not None for record in caplog.records] == [True]


def test_read_consent_guard_lets_cancellation_through(monkeypatch):
    def cancelled(settings: object, jar: CookieJar) -> str | None:
        raise asyncio.CancelledError

    monkeypatch.setitem(READERS, "onetrust", cancelled)
    with pytest.raises(asyncio.CancelledError):
        read_consent(ONETRUST_AND_TCF, parse_cookie_header("other=1"), None)


def test_read_consent_grant_names_its_sources_and_purposes():
    consent = read(ONETRUST_AND_TCF, f"OptanonConsent={ACCEPT_ONETRUST}; euconsent-v2={TCF_ACCEPT_ALL}")
    assert (consent.sources, consent.purposes) == (("onetrust", "tcf"), ("onetrust:C0004", "tcf:1", "tcf:5", "tcf:6"))


def test_read_consent_refusal_names_no_source():
    consent = read(ONETRUST, f"OptanonConsent={REJECT_ONETRUST}")
    assert (consent.granted, consent.sources, consent.purposes) == (False, (), ())
