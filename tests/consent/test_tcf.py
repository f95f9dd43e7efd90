"""IAB TCF v2.2: decoding TC strings (the three IAB test vectors, decoded by hand, and crafted ones) and reading consent from them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from etalage.consent import Consent, ConsentPolicy, TcDecodeError, TcfSettings, decode_tc_string
from etalage.consent.base import Refusal
from etalage.consent.tcf import read_tcf
from etalage.http.cookies import parse_cookie_header
from tests.support.consent import (
    ACCEPT_CORE,
    ACCEPT_PUBLISHER,
    REJECT_CORE,
    REJECT_PUBLISHER,
    TCF_ACCEPT_ALL,
    TCF_POLICY_2,
    TCF_REJECT_ALL,
    bits_to_base64url,
    tc_core,
    tc_publisher,
)

TCF = ConsentPolicy(sources=("tcf",))


def read(policy: ConsentPolicy, header: str) -> Consent:
    """What the TCF reader alone says (read_consent never lets a TCF string grant on its own: test_read.py)."""
    try:
        reason = read_tcf(policy.tcf, parse_cookie_header(header))
    except Refusal as refusal:
        return Consent(False, str(refusal))
    return Consent(reason is not None, reason or "no TCF cookie")


def granted(policy: ConsentPolicy, header: str) -> bool:
    return read(policy, header).granted


def test_decode_tc_string_accept_all_vector():
    tc = decode_tc_string(TCF_ACCEPT_ALL)
    assert (tc.version, tc.policy_version, tc.is_service_specific) == (2, 5, True)
    assert (tc.cmp_id, tc.cmp_version, tc.consent_screen, tc.consent_language, tc.vendor_list_version) == (7, 1, 1, "EN", 133)
    assert tc.created == tc.last_updated == datetime(2025, 11, 17, tzinfo=UTC)
    assert tc.purposes_consent == frozenset(range(1, 12)) and tc.purposes_legitimate_interest == frozenset()
    assert tc.special_feature_opt_ins == {1, 2} and not tc.purpose_one_treatment and tc.publisher_cc == "AA"
    assert tc.vendor_consents == ((16, 16), (42, 42), (45, 45), (91, 91), (164, 164), (358, 358), (755, 755), (943, 943))
    assert tc.vendor_legitimate_interests == ()
    assert tc.publisher_restrictions == tuple((purpose, 1, ((1, 1503),)) for purpose in (9, 10, 8, 7, 2))


def test_decode_tc_string_accept_all_vector_second_segment_is_publisher_purposes():
    tc = decode_tc_string(TCF_ACCEPT_ALL)
    assert tc.segments == (3,)
    assert tc.publisher is not None and tc.publisher.consents == frozenset(range(1, 12))
    assert tc.publisher.legitimate_interests == tc.publisher.custom_consents == frozenset()


def test_tcf_accept_all_vector_is_granted():
    consent = read(TCF, f"euconsent-v2={TCF_ACCEPT_ALL}")
    assert consent.granted and "publisher segment" in consent.reason


def test_decode_tc_string_reject_all_vector():
    tc = decode_tc_string(TCF_REJECT_ALL)
    assert (tc.version, tc.policy_version, tc.is_service_specific) == (2, 5, True)
    assert (tc.cmp_id, tc.vendor_list_version, tc.created) == (7, 67, datetime(2024, 8, 27, tzinfo=UTC))
    assert tc.purposes_consent == tc.purposes_legitimate_interest == tc.special_feature_opt_ins == frozenset()
    assert tc.vendor_consents == tc.vendor_legitimate_interests == ()
    assert tc.segments == (3,) and tc.publisher is not None
    assert tc.publisher.consents == tc.publisher.legitimate_interests == frozenset()


def test_tcf_reject_all_vector_is_refused():
    consent = read(TCF, f"euconsent-v2={TCF_REJECT_ALL}")
    assert not consent.granted and "no consent for purposes 1, 5, 6" in consent.reason


def test_decode_tc_string_policy_version_2_vector():
    tc = decode_tc_string(TCF_POLICY_2)
    assert (tc.version, tc.policy_version, tc.is_service_specific) == (2, 2, True)
    assert (tc.cmp_id, tc.cmp_version, tc.vendor_list_version, tc.publisher_cc) == (141, 5, 203, "US")
    assert tc.created == datetime(2023, 6, 24, tzinfo=UTC)
    assert tc.purposes_consent == tc.purposes_legitimate_interest == frozenset()
    assert tc.vendor_legitimate_interests == ((126, 126), (278, 278), (415, 415), (466, 466), (772, 772), (898, 898))
    assert tc.segments == (3,) and tc.publisher is not None and tc.publisher.consents == frozenset()


def test_tcf_policy_version_2_vector_is_refused_for_its_policy_version():
    consent = read(TCF, f"euconsent-v2={TCF_POLICY_2}")
    assert not consent.granted and "policy version 2" in consent.reason


def test_tcf_publisher_refusal_overrides_core_consent():
    assert not granted(TCF, f"euconsent-v2={ACCEPT_CORE}.{REJECT_PUBLISHER}")


def test_tcf_publisher_consent_overrides_core_refusal():
    assert granted(TCF, f"euconsent-v2={REJECT_CORE}.{ACCEPT_PUBLISHER}")


def test_tcf_core_segment_grants_without_publisher_segment():
    consent = read(TCF, f"euconsent-v2={ACCEPT_CORE}")
    assert consent.granted and "core segment" in consent.reason


def test_tcf_core_segment_refuses_without_publisher_segment():
    assert not granted(TCF, f"euconsent-v2={REJECT_CORE}")


def test_decode_tc_string_crafted_string_round_trips():
    tc = decode_tc_string(tc_core(policy_version=4, consents=(1, 5, 6), li=(2, 7)) + "." + tc_publisher(consents=(1,), li=(5,)))
    assert (tc.policy_version, tc.purposes_consent, tc.purposes_legitimate_interest, tc.publisher_cc) == (4, {1, 5, 6}, {2, 7}, "NL")
    assert tc.publisher is not None and (tc.publisher.consents, tc.publisher.legitimate_interests) == ({1}, {5})


def test_tcf_policy_version_4_is_enough():
    assert granted(TCF, f"euconsent-v2={tc_core(policy_version=4)}")


def test_tcf_policy_version_3_means_no():
    assert not granted(TCF, f"euconsent-v2={tc_core(policy_version=3)}")


def test_tcf_global_consent_string_means_no():
    consent = read(TCF, f"euconsent-v2={tc_core(service_specific=0)}")
    assert not consent.granted and "service-specific" in consent.reason


def test_tcf_version_1_means_no():
    with pytest.raises(TcDecodeError, match="version 1"):
        decode_tc_string(tc_core(version=1))
    assert not granted(TCF, f"euconsent-v2={tc_core(version=1)}")


def test_tcf_legitimate_interest_in_core_does_not_count():
    assert not granted(TCF, f"euconsent-v2={tc_core(consents=(1,), li=(5, 6))}")


def test_tcf_legitimate_interest_in_publisher_segment_does_not_count():
    assert not granted(TCF, f"euconsent-v2={tc_core()}.{tc_publisher(consents=(1,), li=(5, 6))}")


def test_tcf_purposes_are_configurable():
    policy = ConsentPolicy(sources=("tcf",), tcf=TcfSettings(purposes=(1, 3, 4)))
    assert granted(policy, f"euconsent-v2={tc_core(consents=(1, 3, 4))}")
    assert not granted(TCF, f"euconsent-v2={tc_core(consents=(1, 3, 4))}")


def test_tcf_disclosed_vendors_segment_is_skipped():
    disclosed = bits_to_base64url("001" + f"{3:016b}" + "0" + "101")  # vendors 1 and 3, as a bit field
    tc = decode_tc_string(f"{ACCEPT_CORE}.{disclosed}.{ACCEPT_PUBLISHER}")
    assert tc.segments == (1, 3)
    assert granted(TCF, f"euconsent-v2={ACCEPT_CORE}.{disclosed}.{ACCEPT_PUBLISHER}")


def test_tcf_unknown_segment_type_is_skipped():
    unknown = bits_to_base64url("101" + "1" * 13)
    assert granted(TCF, f"euconsent-v2={ACCEPT_CORE}.{unknown}")


def test_tcf_eupubconsent_cookie_is_read():
    assert granted(TCF, f"eupubconsent-v2={TCF_ACCEPT_ALL}")


def test_tcf_both_cookie_names_present_must_both_grant():
    assert not granted(TCF, f"euconsent-v2={TCF_ACCEPT_ALL}; eupubconsent-v2={TCF_REJECT_ALL}")


def test_tcf_conflicting_cookies_mean_no():
    assert not granted(TCF, f"euconsent-v2={TCF_ACCEPT_ALL}; euconsent-v2={TCF_REJECT_ALL}")


def test_tcf_identical_duplicate_cookies_count_once():
    assert granted(TCF, f"euconsent-v2={TCF_ACCEPT_ALL}; euconsent-v2={TCF_ACCEPT_ALL}")


@pytest.mark.parametrize(
    "value",
    [
        "",
        "!!!!",
        ACCEPT_CORE[:20],
        ACCEPT_CORE[:-12],
        ACCEPT_CORE[:-1] + "+",
        "A" + ACCEPT_CORE,
        f".{ACCEPT_PUBLISHER}",
        f"{TCF_ACCEPT_ALL}.",
        f"{TCF_ACCEPT_ALL}.{ACCEPT_PUBLISHER}",
        f"{TCF_ACCEPT_ALL}.AAAA",
        f"{ACCEPT_CORE}.f_w",
        f"{ACCEPT_CORE}.f_w*AAAAAAAA",
        f"{TCF_ACCEPT_ALL}=",
        f"{ACCEPT_CORE}==.{ACCEPT_PUBLISHER}",
        f"\x1c{TCF_ACCEPT_ALL}",
        f"{TCF_ACCEPT_ALL}\xa0",
        f"{TCF_ACCEPT_ALL}\u1680",
        f"{ACCEPT_CORE}%0A.{ACCEPT_PUBLISHER}",
    ],
    ids=[
        "empty",
        "not-base64",
        "core-cut-in-header",
        "core-cut-at-the-end",
        "standard-base64-char",
        "one-char-too-many",
        "no-core",
        "empty-last-segment",
        "two-publisher-segments",
        "second-core-segment",
        "publisher-segment-cut",
        "bad-char-in-publisher",
        "padding-where-none-fits",
        "padding-in-the-middle",
        "separator-before",
        "no-break-space-after",
        "ogham-space-after",
        "encoded-line-feed",
    ],
)
def test_tcf_undecodable_string_means_no(value):
    assert not granted(TCF, f"euconsent-v2={value}")


def test_tcf_padding_that_fits_is_read():
    publisher = tc_publisher()
    assert granted(TCF, f"euconsent-v2={tc_core()}.{publisher}{'=' * (-len(publisher) % 4)}")


def test_tcf_decode_error_is_named_in_the_reason():
    consent = read(TCF, f"euconsent-v2={ACCEPT_CORE[:20]}")
    assert "could not be read (segment 1 ends after 120 bits, 132 needed)" in consent.reason
