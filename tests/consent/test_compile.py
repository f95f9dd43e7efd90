"""build_policy: the [consent] table of the rule files and its [consent.<source>] tables."""

from __future__ import annotations

import pytest

from etalage.consent import ConsentPolicy, CookiebotSettings, DidomiSettings, EtalageSettings, TcfSettings
from etalage.rules.fields import RuleSetError
from etalage.rules.loader import load_rules
from tests.support.config import PROJECT_RULES

SITE = '[site]\ncategories = { dogs = "Dogs" }\n'


def load_consent(tmp_path, consent_toml: str) -> ConsentPolicy:
    (tmp_path / "site.toml").write_text(SITE + consent_toml)
    return load_rules(tmp_path).consent


def test_build_policy_demo_shop_accepts_onetrust_and_tcf():
    policy = load_rules(PROJECT_RULES).consent
    assert policy.sources == ("onetrust", "tcf")
    assert (policy.onetrust.groups, policy.tcf.purposes) == (("C0004",), (1, 5, 6))


def test_build_policy_without_consent_table_is_onetrust(tmp_path):
    assert load_consent(tmp_path, "") == ConsentPolicy(sources=("onetrust",))


def test_build_policy_sources_and_subtables(tmp_path):
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


def test_build_policy_source_shorthand_still_works(tmp_path):
    policy = load_consent(tmp_path, '[consent]\nsource = "onetrust"\ngroups = ["C0003"]\ncookie = "OC"\n')
    assert policy.sources == ("onetrust",)
    assert (policy.onetrust.cookie, policy.onetrust.groups) == ("OC", ("C0003",))


def test_build_policy_tcf_settings(tmp_path):
    policy = load_consent(
        tmp_path, '[consent]\nsources = ["didomi", "tcf"]\n[consent.tcf]\npurposes = [1, 3, 4]\ncookies = ["euconsent-v2"]\n'
    )
    assert policy.tcf == TcfSettings(("euconsent-v2",), (1, 3, 4))


def test_build_policy_same_cookie_for_two_sources_is_a_problem(tmp_path):
    with pytest.raises(RuleSetError, match="cookie 'CookieConsent' is read by both 'cookiebot' and 'etalage'"):
        load_consent(tmp_path, '[consent]\nsources = ["cookiebot", "etalage"]\n[consent.etalage]\ncookie = "CookieConsent"\n')


def test_build_policy_shorthand_key_given_twice_is_a_problem(tmp_path):
    with pytest.raises(RuleSetError) as caught:
        load_consent(tmp_path, '[consent]\nsource = "onetrust"\ngroups = ["C0004"]\n[consent.onetrust]\ngroups = ["C0003"]\n')
    assert [str(p) for p in caught.value.problems] == [
        f"{tmp_path.name}/site.toml:5: consent: 'groups' is given both here and in [consent.onetrust] (hint: keep the one in [consent.onetrust])"
    ]


def test_build_policy_empty_sources_is_a_problem(tmp_path):
    with pytest.raises(RuleSetError, match="'sources' is empty"):
        load_consent(tmp_path, "[consent]\nsources = []\n")
