"""Consent read from the real cookie formats (OneTrust, Cookiebot, IAB TCF v2.2, Didomi, Etalage's own),
several sources combined, Sec-GPC over everything, and the [consent] table of the rule files."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from urllib.parse import quote

import pytest

from etalage.consent import (
    ConsentPolicy,
    CookiebotSettings,
    DidomiSettings,
    EtalageSettings,
    TcDecodeError,
    TcfSettings,
    decode_tc_string,
    parse_js_object,
    read_consent,
)
from etalage.http.cookies import parse_cookie_header
from etalage.rules.fields import RuleSetError
from etalage.rules.loader import load_rules
from tests.support.config import ACCEPT_ONETRUST, PROJECT_RULES, REJECT_ONETRUST

# The three IAB TCF v2.2 test vectors (decoded by hand in the tests below).
TCF_ACCEPT_ALL = (
    "CQbB_cAQbB_cAAHABBENCFFsAP_gAAAAAAAAHXwCAAIAAqABaAFsAUgBZgF5gOvAAAAKSgAwABBd8pABgACC75CADAAEF3x0AGAAILvhIAMAAQXf.f_wAAAAAAAAA"
)
TCF_REJECT_ALL = "CQEAuYAQEAuYAAHABBENBDFgAAAAAAAAAAAAAAAAAACkoAMAAQUxKQAYAAgpiQgAwABBTEdABgACCmISADAAEFMQ.YAAAAAAAAAAA"
TCF_POLICY_2 = "CPt3fQAPt3fQACNAFAENDLCgAAAAAAAAACiQAAAOCgDAB-AIsAZ8A6QDBAHBAAAA.YAAAAAAAAAAA"
ACCEPT_CORE, ACCEPT_PUBLISHER = TCF_ACCEPT_ALL.split(".")
REJECT_CORE, REJECT_PUBLISHER = TCF_REJECT_ALL.split(".")

ONETRUST = ConsentPolicy(sources=("onetrust",))
COOKIEBOT = ConsentPolicy(sources=("cookiebot",))
TCF = ConsentPolicy(sources=("tcf",))
DIDOMI = ConsentPolicy(sources=("didomi",))
ETALAGE = ConsentPolicy(sources=("etalage",))
ONETRUST_AND_TCF = ConsentPolicy(sources=("onetrust", "tcf"))


def read(policy: ConsentPolicy, header: str, gpc: str | None = None):
    return read_consent(policy, parse_cookie_header(header), gpc)


def granted(policy: ConsentPolicy, header: str, gpc: str | None = None) -> bool:
    return read(policy, header, gpc).granted


# --- helpers that write the formats ---------------------------------------------------------------


def cookiebot_value(**choice: object) -> str:
    """A CookieConsent value as Cookiebot writes it: a JS object literal, URL-encoded."""
    fields = {"stamp": "'-3H8Y0h+nWQ/bkR7hVOk0pW==='", "necessary": "true", "preferences": "false", "statistics": "false"}
    fields |= {"marketing": "false", "method": "'explicit'", "ver": "1", "utc": "1745620490943", "region": "'nl'"}
    fields |= {key: (str(value).lower() if isinstance(value, bool) else f"'{value}'") for key, value in choice.items()}
    literal = "{" + ",".join(f"{key}:{value}" for key, value in fields.items() if value != "'None'") + "}"
    return quote(literal, safe="{}:")


COOKIEBOT_ACCEPT = cookiebot_value(preferences=True, statistics=True, marketing=True)
COOKIEBOT_REJECT = cookiebot_value()


def _bits_to_base64url(bits: str) -> str:
    bits += "0" * (-len(bits) % 8)
    data = int(bits, 2).to_bytes(len(bits) // 8, "big")
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _bitfield(numbers: tuple[int, ...], width: int) -> str:
    return "".join("1" if i in numbers else "0" for i in range(1, width + 1))


def tc_core(*, version=2, policy_version=5, service_specific=1, consents=(1, 5, 6), li=()) -> str:
    """A TCF v2 core segment with no vendors and no publisher restrictions."""
    bits = f"{version:06b}" + f"{17633376000:036b}" * 2 + f"{7:012b}{1:012b}{1:06b}" + f"{4:06b}{13:06b}" + f"{133:012b}"
    bits += f"{policy_version:06b}{service_specific:01b}0" + "0" * 12 + _bitfield(consents, 24) + _bitfield(li, 24) + "0"
    bits += f"{13:06b}{11:06b}"  # publisher country NL
    bits += "0" * 16 + "0" + "0" * 16 + "0" + "0" * 12  # no vendor consents, no vendor LI, no restrictions
    return _bits_to_base64url(bits)


def tc_publisher(*, consents=(1, 5, 6), li=()) -> str:
    return _bits_to_base64url("011" + _bitfield(consents, 24) + _bitfield(li, 24) + "000000")


def didomi_token(enabled=("create_content_profile", "select_personalized_content"), disabled=(), **extra: object) -> dict:
    token = {
        "user_id": "0196b2a1?>?>?>x",  # puts "+", "/" and "=" in the standard base64
        "created": "2025-04-25T10:00:00.000Z",
        "updated": "2025-04-25T10:00:00.000Z",
        "vendors": {"enabled": ["google"], "disabled": []},
        "purposes": {"enabled": list(enabled), "disabled": list(disabled)},
        "version": 2,
    }
    return token | extra


def b64(token: object) -> str:
    return base64.b64encode(json.dumps(token).encode()).decode()


# --- OneTrust (the rest is in test_consent.py) ------------------------------------------------------


def test_consent_onetrust_group_listed_twice_with_different_flags_means_no():
    value = ACCEPT_ONETRUST.replace("C0004%3A1", "C0004%3A1%2CC0004%3A0")
    assert not granted(ONETRUST, f"OptanonConsent={value}")


def test_consent_onetrust_field_repeated_with_different_values_means_no():
    assert not granted(ONETRUST, f"OptanonConsent={ACCEPT_ONETRUST}&groups=C0004%3A0")


# --- Cookiebot -------------------------------------------------------------------------------------


def test_consent_cookiebot_value_is_not_json():
    with pytest.raises(json.JSONDecodeError):
        json.loads(COOKIEBOT_ACCEPT.replace("%27", "'").replace("%2C", ","))


def test_consent_cookiebot_literal_is_parsed():
    assert parse_js_object("{stamp:'a+b/c==',necessary:true,marketing:false,method:'explicit',ver:1,utc:1745620490943,region:'pl'}") == {
        "stamp": "a+b/c==",
        "necessary": True,
        "marketing": False,
        "method": "explicit",
        "ver": 1,
        "utc": 1745620490943,
        "region": "pl",
    }


def test_consent_cookiebot_marketing_granted():
    assert granted(COOKIEBOT, f"CookieConsent={COOKIEBOT_ACCEPT}")


def test_consent_cookiebot_marketing_refused():
    assert not granted(COOKIEBOT, f"CookieConsent={COOKIEBOT_REJECT}")


def test_consent_cookiebot_preferences_alone_is_not_enough_by_default():
    assert not granted(COOKIEBOT, f"CookieConsent={cookiebot_value(preferences=True)}")


def test_consent_cookiebot_categories_are_configurable():
    policy = ConsentPolicy(sources=("cookiebot",), cookiebot=CookiebotSettings(categories=("preferences",)))
    assert granted(policy, f"CookieConsent={cookiebot_value(preferences=True)}")


def test_consent_cookiebot_implied_method_means_no():
    assert not granted(COOKIEBOT, f"CookieConsent={cookiebot_value(marketing=True, method='implied')}")


def test_consent_cookiebot_missing_method_means_no():
    assert not granted(COOKIEBOT, f"CookieConsent={cookiebot_value(marketing=True, method=None)}")


def test_consent_cookiebot_outside_consent_region_means_no():
    consent = read(COOKIEBOT, "CookieConsent=-1")
    assert not consent.granted and "outside the regions" in consent.reason


def test_consent_cookiebot_quoted_true_is_not_true():
    assert not granted(COOKIEBOT, "CookieConsent=" + quote("{necessary:true,marketing:'true',method:'explicit'}"))


def test_consent_cookiebot_unencoded_literal_is_read():
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
def test_consent_cookiebot_malformed_value_means_no(literal):
    assert not granted(COOKIEBOT, "CookieConsent=" + quote(literal))


def test_consent_cookiebot_conflicting_cookies_mean_no():
    assert not granted(COOKIEBOT, f"CookieConsent={COOKIEBOT_ACCEPT}; CookieConsent={COOKIEBOT_REJECT}")


# --- IAB TCF v2.2: the three vectors -------------------------------------------------------------


def test_consent_tcf_accept_all_vector_decodes():
    tc = decode_tc_string(TCF_ACCEPT_ALL)
    assert (tc.version, tc.policy_version, tc.is_service_specific) == (2, 5, True)
    assert (tc.cmp_id, tc.cmp_version, tc.consent_screen, tc.consent_language, tc.vendor_list_version) == (7, 1, 1, "EN", 133)
    assert tc.created == tc.last_updated == datetime(2025, 11, 17, tzinfo=UTC)
    assert tc.purposes_consent == frozenset(range(1, 12)) and tc.purposes_legitimate_interest == frozenset()
    assert tc.special_feature_opt_ins == {1, 2} and not tc.purpose_one_treatment and tc.publisher_cc == "AA"
    assert tc.vendor_consents == ((16, 16), (42, 42), (45, 45), (91, 91), (164, 164), (358, 358), (755, 755), (943, 943))
    assert tc.vendor_legitimate_interests == ()
    assert tc.publisher_restrictions == tuple((purpose, 1, ((1, 1503),)) for purpose in (9, 10, 8, 7, 2))


def test_consent_tcf_accept_all_vector_second_segment_is_publisher_purposes():
    tc = decode_tc_string(TCF_ACCEPT_ALL)
    assert tc.segments == (3,)
    assert tc.publisher is not None and tc.publisher.consents == frozenset(range(1, 12))
    assert tc.publisher.legitimate_interests == tc.publisher.custom_consents == frozenset()


def test_consent_tcf_accept_all_vector_is_granted():
    consent = read(TCF, f"euconsent-v2={TCF_ACCEPT_ALL}")
    assert consent.granted and "publisher segment" in consent.reason


def test_consent_tcf_reject_all_vector_decodes():
    tc = decode_tc_string(TCF_REJECT_ALL)
    assert (tc.version, tc.policy_version, tc.is_service_specific) == (2, 5, True)
    assert (tc.cmp_id, tc.vendor_list_version, tc.created) == (7, 67, datetime(2024, 8, 27, tzinfo=UTC))
    assert tc.purposes_consent == tc.purposes_legitimate_interest == tc.special_feature_opt_ins == frozenset()
    assert tc.vendor_consents == tc.vendor_legitimate_interests == ()
    assert tc.segments == (3,) and tc.publisher is not None
    assert tc.publisher.consents == tc.publisher.legitimate_interests == frozenset()


def test_consent_tcf_reject_all_vector_is_refused():
    consent = read(TCF, f"euconsent-v2={TCF_REJECT_ALL}")
    assert not consent.granted and "no consent for purposes 1, 5, 6" in consent.reason


def test_consent_tcf_policy_version_2_vector_decodes():
    tc = decode_tc_string(TCF_POLICY_2)
    assert (tc.version, tc.policy_version, tc.is_service_specific) == (2, 2, True)
    assert (tc.cmp_id, tc.cmp_version, tc.vendor_list_version, tc.publisher_cc) == (141, 5, 203, "US")
    assert tc.created == datetime(2023, 6, 24, tzinfo=UTC)
    assert tc.purposes_consent == tc.purposes_legitimate_interest == frozenset()
    assert tc.vendor_legitimate_interests == ((126, 126), (278, 278), (415, 415), (466, 466), (772, 772), (898, 898))
    assert tc.segments == (3,) and tc.publisher is not None and tc.publisher.consents == frozenset()


def test_consent_tcf_policy_version_2_vector_is_refused_for_its_policy_version():
    consent = read(TCF, f"euconsent-v2={TCF_POLICY_2}")
    assert not consent.granted and "policy version 2" in consent.reason


# --- IAB TCF v2.2: the rules ----------------------------------------------------------------------


def test_consent_tcf_publisher_refusal_overrides_core_consent():
    assert not granted(TCF, f"euconsent-v2={ACCEPT_CORE}.{REJECT_PUBLISHER}")


def test_consent_tcf_publisher_consent_overrides_core_refusal():
    assert granted(TCF, f"euconsent-v2={REJECT_CORE}.{ACCEPT_PUBLISHER}")


def test_consent_tcf_core_segment_grants_without_publisher_segment():
    consent = read(TCF, f"euconsent-v2={ACCEPT_CORE}")
    assert consent.granted and "core segment" in consent.reason


def test_consent_tcf_core_segment_refuses_without_publisher_segment():
    assert not granted(TCF, f"euconsent-v2={REJECT_CORE}")


def test_consent_tcf_crafted_string_round_trips():
    tc = decode_tc_string(tc_core(policy_version=4, consents=(1, 5, 6), li=(2, 7)) + "." + tc_publisher(consents=(1,), li=(5,)))
    assert (tc.policy_version, tc.purposes_consent, tc.purposes_legitimate_interest, tc.publisher_cc) == (4, {1, 5, 6}, {2, 7}, "NL")
    assert tc.publisher is not None and (tc.publisher.consents, tc.publisher.legitimate_interests) == ({1}, {5})


def test_consent_tcf_policy_version_4_is_enough():
    assert granted(TCF, f"euconsent-v2={tc_core(policy_version=4)}")


def test_consent_tcf_policy_version_3_means_no():
    assert not granted(TCF, f"euconsent-v2={tc_core(policy_version=3)}")


def test_consent_tcf_global_consent_string_means_no():
    consent = read(TCF, f"euconsent-v2={tc_core(service_specific=0)}")
    assert not consent.granted and "service-specific" in consent.reason


def test_consent_tcf_version_1_means_no():
    with pytest.raises(TcDecodeError, match="version 1"):
        decode_tc_string(tc_core(version=1))
    assert not granted(TCF, f"euconsent-v2={tc_core(version=1)}")


def test_consent_tcf_legitimate_interest_in_core_does_not_count():
    assert not granted(TCF, f"euconsent-v2={tc_core(consents=(1,), li=(5, 6))}")


def test_consent_tcf_legitimate_interest_in_publisher_segment_does_not_count():
    assert not granted(TCF, f"euconsent-v2={tc_core()}.{tc_publisher(consents=(1,), li=(5, 6))}")


def test_consent_tcf_purposes_are_configurable():
    policy = ConsentPolicy(sources=("tcf",), tcf=TcfSettings(purposes=(1, 3, 4)))
    assert granted(policy, f"euconsent-v2={tc_core(consents=(1, 3, 4))}")
    assert not granted(TCF, f"euconsent-v2={tc_core(consents=(1, 3, 4))}")


def test_consent_tcf_disclosed_vendors_segment_is_skipped():
    disclosed = _bits_to_base64url("001" + f"{3:016b}" + "0" + "101")  # vendors 1 and 3, as a bit field
    tc = decode_tc_string(f"{ACCEPT_CORE}.{disclosed}.{ACCEPT_PUBLISHER}")
    assert tc.segments == (1, 3)
    assert granted(TCF, f"euconsent-v2={ACCEPT_CORE}.{disclosed}.{ACCEPT_PUBLISHER}")


def test_consent_tcf_unknown_segment_type_is_skipped():
    unknown = _bits_to_base64url("101" + "1" * 13)
    assert granted(TCF, f"euconsent-v2={ACCEPT_CORE}.{unknown}")


def test_consent_tcf_eupubconsent_cookie_is_read():
    assert granted(TCF, f"eupubconsent-v2={TCF_ACCEPT_ALL}")


def test_consent_tcf_both_cookie_names_present_must_both_grant():
    assert not granted(TCF, f"euconsent-v2={TCF_ACCEPT_ALL}; eupubconsent-v2={TCF_REJECT_ALL}")


def test_consent_tcf_conflicting_cookies_mean_no():
    assert not granted(TCF, f"euconsent-v2={TCF_ACCEPT_ALL}; euconsent-v2={TCF_REJECT_ALL}")


def test_consent_tcf_identical_duplicate_cookies_count_once():
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
    ],
)
def test_consent_tcf_undecodable_string_means_no(value):
    assert not granted(TCF, f"euconsent-v2={value}")


def test_consent_tcf_decode_error_is_named_in_the_reason():
    consent = read(TCF, f"euconsent-v2={ACCEPT_CORE[:20]}")
    assert "could not be read (segment 1 ends after 120 bits, 132 needed)" in consent.reason


# --- Didomi --------------------------------------------------------------------------------------


def _standard(token: dict) -> str:
    encoded = b64(token)
    assert "+" in encoded and "/" in encoded and encoded.endswith("=")  # the variants below really differ
    return encoded


@pytest.mark.parametrize(
    "encode",
    [
        _standard,
        lambda token: _standard(token).rstrip("="),
        lambda token: _standard(token).replace("+", "-").replace("/", "_"),
        lambda token: _standard(token).replace("+", "-").replace("/", "_").rstrip("="),
        lambda token: quote(_standard(token), safe=""),
    ],
    ids=["standard", "standard-unpadded", "urlsafe", "urlsafe-unpadded", "percent-encoded"],
)
def test_consent_didomi_base64_variants_are_read(encode):
    assert granted(DIDOMI, f"didomi_token={encode(didomi_token())}")


def test_consent_didomi_disabled_purpose_means_no():
    token = didomi_token(enabled=("create_content_profile",), disabled=("select_personalized_content",))
    consent = read(DIDOMI, f"didomi_token={b64(token)}")
    assert not consent.granted and "refused purpose select_personalized_content" in consent.reason


def test_consent_didomi_purpose_not_enabled_means_no():
    assert not granted(DIDOMI, f"didomi_token={b64(didomi_token(enabled=('create_content_profile',)))}")


def test_consent_didomi_purpose_both_enabled_and_disabled_means_no():
    token = didomi_token(disabled=("create_content_profile",))
    assert not granted(DIDOMI, f"didomi_token={b64(token)}")


def test_consent_didomi_legitimate_interest_does_not_count():
    token = didomi_token(enabled=()) | {
        "purposes_li": {"enabled": ["create_content_profile", "select_personalized_content"], "disabled": []}
    }
    assert not granted(DIDOMI, f"didomi_token={b64(token)}")


def test_consent_didomi_purposes_are_configurable():
    policy = ConsentPolicy(sources=("didomi",), didomi=DidomiSettings(purposes=("personalisation",)))
    assert granted(policy, f"didomi_token={b64(didomi_token(enabled=('personalisation',)))}")


@pytest.mark.parametrize(
    "value",
    [
        "***",
        base64.b64encode(b"not json").decode(),
        base64.b64encode(b"\xff\xfe{}").decode(),
        b64(["create_content_profile", "select_personalized_content"]),
        b64(didomi_token() | {"purposes": ["create_content_profile", "select_personalized_content"]}),
        b64(didomi_token() | {"purposes": {"enabled": "create_content_profile,select_personalized_content"}}),
        base64.b64encode(
            b'{"purposes": {"enabled": ["create_content_profile", "select_personalized_content"]}, "purposes": {"enabled": []}}'
        ).decode(),
        b64(didomi_token())[:-6],
    ],
    ids=["not-base64", "not-json", "not-utf8", "json-array", "purposes-list", "enabled-string", "duplicate-key", "cut"],
)
def test_consent_didomi_malformed_token_means_no(value):
    assert not granted(DIDOMI, f"didomi_token={value}")


def test_consent_didomi_conflicting_cookies_mean_no():
    refused = b64(didomi_token(enabled=(), disabled=("create_content_profile", "select_personalized_content")))
    assert not granted(DIDOMI, f"didomi_token={b64(didomi_token())}; didomi_token={refused}")


# --- Etalage's own cookie -------------------------------------------------------------------------


def test_consent_etalage_cookie_yes_is_granted():
    assert granted(ETALAGE, "etalage_consent=personalization=1")


def test_consent_etalage_cookie_no_is_refused():
    consent = read(ETALAGE, "etalage_consent=personalization=0")
    assert not consent.granted and "said no" in consent.reason


@pytest.mark.parametrize("value", ["", "1", "yes", "personalization=yes", "personalization=1&x=1", "personalisation=1"])
def test_consent_etalage_cookie_malformed_means_no(value):
    assert not granted(ETALAGE, f"etalage_consent={value}")


def test_consent_etalage_cookie_name_is_configurable():
    policy = ConsentPolicy(sources=("etalage",), etalage=EtalageSettings(cookie="shop_consent"))
    assert granted(policy, "shop_consent=personalization=1")
    assert not granted(policy, "etalage_consent=personalization=1")


def test_consent_etalage_conflicting_cookies_mean_no():
    assert not granted(ETALAGE, "etalage_consent=personalization=1; etalage_consent=personalization=0")


# --- several sources -----------------------------------------------------------------------------


def test_consent_sources_one_present_source_can_grant():
    assert granted(ONETRUST_AND_TCF, f"euconsent-v2={TCF_ACCEPT_ALL}")


def test_consent_sources_every_present_source_must_grant():
    consent = read(ONETRUST_AND_TCF, f"OptanonConsent={ACCEPT_ONETRUST}; eupubconsent-v2={TCF_ACCEPT_ALL}")
    assert consent.granted and "OneTrust" in consent.reason and "eupubconsent-v2" in consent.reason


def test_consent_sources_a_refusal_is_not_outvoted_by_an_earlier_accept():
    assert not granted(ONETRUST_AND_TCF, f"OptanonConsent={ACCEPT_ONETRUST}; euconsent-v2={TCF_REJECT_ALL}")


def test_consent_sources_a_refusal_is_not_outvoted_by_a_later_accept():
    assert not granted(ONETRUST_AND_TCF, f"OptanonConsent={REJECT_ONETRUST}; euconsent-v2={TCF_ACCEPT_ALL}")


def test_consent_sources_malformed_second_source_means_no():
    assert not granted(ONETRUST_AND_TCF, f"OptanonConsent={ACCEPT_ONETRUST}; euconsent-v2=garbage!")


def test_consent_sources_first_refusal_in_listed_order_is_the_reason():
    header = f"CookieConsent={COOKIEBOT_REJECT}; euconsent-v2={TCF_REJECT_ALL}"
    assert read(ConsentPolicy(sources=("tcf", "cookiebot")), header).reason.startswith("IAB TCF")
    assert read(ConsentPolicy(sources=("cookiebot", "tcf")), header).reason.startswith("Cookiebot")


def test_consent_sources_none_present_means_no_and_names_the_cookies():
    consent = read(ONETRUST_AND_TCF, "other=1")
    assert not consent.granted and "OptanonConsent, euconsent-v2, eupubconsent-v2" in consent.reason


def test_consent_sources_cookie_of_an_unlisted_source_is_ignored():
    assert not granted(ONETRUST, f"CookieConsent={COOKIEBOT_ACCEPT}")
    assert granted(ONETRUST, f"OptanonConsent={ACCEPT_ONETRUST}; CookieConsent={COOKIEBOT_REJECT}")


def test_consent_sources_unknown_source_is_refused_by_the_policy():
    with pytest.raises(ValueError):
        ConsentPolicy(sources=("usercentrics",))


# --- Sec-GPC ---------------------------------------------------------------------------------------

ALL_SOURCES = ConsentPolicy(sources=("onetrust", "cookiebot", "tcf", "didomi", "etalage"))
EVERY_ACCEPT = (
    f"OptanonConsent={ACCEPT_ONETRUST}; CookieConsent={COOKIEBOT_ACCEPT}; euconsent-v2={TCF_ACCEPT_ALL}; "
    f"didomi_token={b64(didomi_token())}; etalage_consent=personalization=1"
)


def test_consent_every_source_accepting_is_granted():
    assert granted(ALL_SOURCES, EVERY_ACCEPT)


@pytest.mark.parametrize("gpc", ["1", " 1 "])
def test_consent_gpc_overrides_every_source(gpc):
    consent = read(ALL_SOURCES, EVERY_ACCEPT, gpc)
    assert not consent.granted and "Sec-GPC" in consent.reason


def test_consent_gpc_zero_does_not_refuse():
    assert granted(ALL_SOURCES, EVERY_ACCEPT, "0")


# --- the [consent] table of the rule files ---------------------------------------------------------

SITE = '[site]\ncategories = { dogs = "Dogs" }\n'


def load_consent(tmp_path, consent_toml: str) -> ConsentPolicy:
    (tmp_path / "site.toml").write_text(SITE + consent_toml)
    return load_rules(tmp_path).consent


def test_consent_config_demo_shop_accepts_onetrust_and_tcf():
    policy = load_rules(PROJECT_RULES).consent
    assert policy.sources == ("onetrust", "tcf")
    assert (policy.onetrust.groups, policy.tcf.purposes) == (("C0004",), (1, 5, 6))


def test_consent_config_without_consent_table_is_onetrust(tmp_path):
    assert load_consent(tmp_path, "") == ConsentPolicy(sources=("onetrust",))


def test_consent_config_sources_and_subtables(tmp_path):
    policy = load_consent(
        tmp_path,
        '[consent]\nsources = ["cookiebot", "didomi", "etalage"]\n'
        '[consent.cookiebot]\ncategories = ["preferences", "marketing"]\ncookie = "CC"\n'
        '[consent.didomi]\npurposes = ["personalisation"]\n'
        '[consent.etalage]\ncookie = "shop_consent"\n',
    )
    assert policy.sources == ("cookiebot", "didomi", "etalage")
    assert policy.cookiebot == CookiebotSettings("CC", ("preferences", "marketing"))
    assert policy.didomi == DidomiSettings("didomi_token", ("personalisation",))
    assert policy.etalage == EtalageSettings("shop_consent")


def test_consent_config_source_shorthand_still_works(tmp_path):
    policy = load_consent(tmp_path, '[consent]\nsource = "onetrust"\ngroups = ["C0003"]\ncookie = "OC"\n')
    assert policy.sources == ("onetrust",)
    assert (policy.onetrust.cookie, policy.onetrust.groups) == ("OC", ("C0003",))


def test_consent_config_tcf_settings(tmp_path):
    policy = load_consent(
        tmp_path, '[consent]\nsources = ["didomi", "tcf"]\n[consent.tcf]\npurposes = [1, 3, 4]\ncookies = ["euconsent-v2"]\n'
    )
    assert policy.tcf == TcfSettings(("euconsent-v2",), (1, 3, 4))


def test_consent_config_same_cookie_for_two_sources_is_a_problem(tmp_path):
    with pytest.raises(RuleSetError, match="cookie 'CookieConsent' is read by both 'cookiebot' and 'etalage'"):
        load_consent(tmp_path, '[consent]\nsources = ["cookiebot", "etalage"]\n[consent.etalage]\ncookie = "CookieConsent"\n')


def test_consent_config_shorthand_key_given_twice_is_a_problem(tmp_path):
    with pytest.raises(RuleSetError) as caught:
        load_consent(tmp_path, '[consent]\nsource = "onetrust"\ngroups = ["C0004"]\n[consent.onetrust]\ngroups = ["C0003"]\n')
    assert [str(p) for p in caught.value.problems] == [
        f"{tmp_path.name}/site.toml:5: consent: 'groups' is given both here and in [consent.onetrust] (hint: keep the one in [consent.onetrust])"
    ]


def test_consent_config_empty_sources_is_a_problem(tmp_path):
    with pytest.raises(RuleSetError, match="'sources' is empty"):
        load_consent(tmp_path, "[consent]\nsources = []\n")
