"""Properties of the consent readers: whatever a visitor sends, they answer (never raise), and a real
granting value, changed in one to three places, still grants only when it is still exactly a grant.

"Exactly a grant" is what the reference readers in tests/support/consent_reference.py say, written
from each platform's format; `python -m tests.support.consent_mutations` measures the same at scale.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etalage.consent import ConsentPolicy, decode_didomi_token, decode_tc_string, parse_js_object, read_consent
from etalage.consent.base import Refusal
from etalage.consent.read import READERS
from etalage.consent.tcf import TcDecodeError
from etalage.http.cookies import parse_cookie_header
from tests.support.config import ACCEPT_ONETRUST, REJECT_ONETRUST
from tests.support.consent import COOKIEBOT_REJECT, TCF_REJECT_ALL, b64, didomi_token
from tests.support.consent_mutations import PLATFORMS
from tests.support.hypothesis import MUTATIONS, PROPERTY
from tests.support.mutations import SIGNS, apply, edits

ALL_SOURCES = ConsentPolicy(sources=("onetrust", "cookiebot", "tcf", "didomi", "etalage"))
ANY_TEXT = st.text(st.characters(exclude_categories=()))
# Text made of what trips parsers up, and of anything at all.
TRICKY_TEXT = st.lists(st.sampled_from(SIGNS), max_size=30).map("".join) | ANY_TEXT
COOKIE_NAMES = st.sampled_from([*ALL_SOURCES.cookies, "OptanonAlertBoxClosed"])
# Cookies of the names the readers read, with any values: a Cookie header as anyone could send it.
JARS = st.dictionaries(COOKIE_NAMES, st.lists(TRICKY_TEXT, min_size=1, max_size=2), max_size=6)


# --- answering whatever arrives --------------------------------------------------------------------


@PROPERTY
@given(JARS, st.sampled_from(list(READERS)))
def test_consent_readers_answer_or_refuse_never_fail(jar, source):
    try:
        reason = READERS[source](getattr(ALL_SOURCES, source), jar)
    except Refusal:
        return
    assert reason is None or isinstance(reason, str)


@PROPERTY
@given(ANY_TEXT, st.none() | TRICKY_TEXT)
def test_read_consent_answers_any_cookie_header(header, sec_gpc):
    consent = read_consent(ALL_SOURCES, parse_cookie_header(header), sec_gpc)
    # A reader that raised something but a Refusal is logged and read as no: that is a bug too.
    assert isinstance(consent.granted, bool) and consent.reason and "failed inside Etalage" not in consent.reason


@PROPERTY
@given(TRICKY_TEXT)
def test_parse_js_object_raises_only_value_error(text):
    try:
        assert isinstance(parse_js_object(text), dict)
    except ValueError:
        pass


@PROPERTY
@given(TRICKY_TEXT)
def test_decode_tc_string_raises_only_its_decode_error(text):
    try:
        decode_tc_string(text)
    except TcDecodeError:
        pass


@PROPERTY
@given(TRICKY_TEXT)
def test_decode_didomi_token_raises_only_value_error(text):
    try:
        assert isinstance(decode_didomi_token(text), dict)
    except ValueError:
        pass


# --- mutated grants ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(PLATFORMS))
def test_consent_reference_grants_what_the_platform_writes_for_yes(name):
    platform = PLATFORMS[name]
    assert all(platform.still_a_grant(seed) and platform.read(seed).granted for seed in platform.seeds)


@pytest.mark.parametrize(
    ("name", "refusal"),
    [
        ("onetrust", REJECT_ONETRUST),
        ("cookiebot", COOKIEBOT_REJECT),
        ("tcf", TCF_REJECT_ALL),
        ("didomi", b64(didomi_token(enabled=(), disabled=("create_content_profile",)))),
        ("etalage", "personalization=0"),
    ],
)
def test_consent_reference_refuses_what_the_platform_writes_for_no(name, refusal):
    assert not PLATFORMS[name].still_a_grant(refusal)


def _mutated_grant_holds(name: str, seed: int, changes) -> None:
    platform = PLATFORMS[name]
    value = apply(platform.seeds[seed % len(platform.seeds)], changes)
    consent = platform.read(value)
    assert not consent.granted or platform.still_a_grant(value), f"{value!r} granted: {consent.reason}"
    assert "failed inside Etalage" not in consent.reason


@MUTATIONS
@given(st.integers(0, 2), edits())
def test_onetrust_mutated_grant_is_refused_unless_still_exactly_a_grant(seed, changes):
    _mutated_grant_holds("onetrust", seed, changes)


@MUTATIONS
@given(st.integers(0, 2), edits())
def test_cookiebot_mutated_grant_is_refused_unless_still_exactly_a_grant(seed, changes):
    _mutated_grant_holds("cookiebot", seed, changes)


@MUTATIONS
@given(st.integers(0, 2), edits())
def test_tcf_mutated_grant_is_refused_unless_still_exactly_a_grant(seed, changes):
    _mutated_grant_holds("tcf", seed, changes)


@MUTATIONS
@given(st.integers(0, 2), edits())
def test_didomi_mutated_grant_is_refused_unless_still_exactly_a_grant(seed, changes):
    _mutated_grant_holds("didomi", seed, changes)


@MUTATIONS
@given(st.integers(0, 2), edits())
def test_etalage_cookie_mutated_grant_is_refused_unless_still_exactly_a_grant(seed, changes):
    _mutated_grant_holds("etalage", seed, changes)


@PROPERTY
@given(edits(max_size=2), edits(max_size=2))
def test_read_consent_mutated_grants_from_every_source_grant_only_when_each_still_does(onetrust_changes, didomi_changes):
    onetrust, didomi = apply(ACCEPT_ONETRUST, onetrust_changes), apply(b64(didomi_token()), didomi_changes)
    consent = read_consent(ALL_SOURCES, parse_cookie_header(f"OptanonConsent={onetrust}; didomi_token={didomi}"), None)
    if consent.granted:
        assert PLATFORMS["onetrust"].still_a_grant(onetrust) and PLATFORMS["didomi"].still_a_grant(didomi)
