"""Didomi: the didomi_token cookie in every base64 variant, its enabled and disabled purposes."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote

import pytest

from etalage.consent import ConsentPolicy, DidomiSettings
from tests.support.consent import b64, didomi_token, granted, read

DIDOMI = ConsentPolicy(sources=("didomi",))


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
def test_didomi_base64_variants_are_read(encode):
    assert granted(DIDOMI, f"didomi_token={encode(didomi_token())}")


def test_didomi_disabled_purpose_means_no():
    token = didomi_token(enabled=("create_content_profile",), disabled=("select_personalized_content",))
    consent = read(DIDOMI, f"didomi_token={b64(token)}")
    assert not consent.granted and "refused purpose select_personalized_content" in consent.reason


def test_didomi_purpose_not_enabled_means_no():
    assert not granted(DIDOMI, f"didomi_token={b64(didomi_token(enabled=('create_content_profile',)))}")


def test_didomi_purpose_both_enabled_and_disabled_means_no():
    token = didomi_token(disabled=("create_content_profile",))
    assert not granted(DIDOMI, f"didomi_token={b64(token)}")


def test_didomi_legitimate_interest_does_not_count():
    token = didomi_token(enabled=()) | {
        "purposes_li": {"enabled": ["create_content_profile", "select_personalized_content"], "disabled": []}
    }
    assert not granted(DIDOMI, f"didomi_token={b64(token)}")


def test_didomi_purposes_are_configurable():
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
        b64(didomi_token())[:-1],
        b64(didomi_token()).replace("/", "_", 1),
        "\u1680" + b64(didomi_token()),
        b64(didomi_token()) + "\x85",
        base64.b64encode(json.dumps(didomi_token(version=float("nan"))).encode()).decode(),
    ],
    ids=[
        "not-base64",
        "not-json",
        "not-utf8",
        "json-array",
        "purposes-list",
        "enabled-string",
        "duplicate-key",
        "cut",
        "padding-where-none-fits",
        "both-alphabets",
        "ogham-space-before",
        "nel-after",
        "nan-is-not-json",
    ],
)
def test_didomi_malformed_token_means_no(value):
    assert not granted(DIDOMI, f"didomi_token={value}")


@pytest.mark.parametrize(("where", "key"), [("purposes", "Disabled"), ("purposes", "dis abled"), ("token", "Purposes")])
def test_didomi_a_deciding_key_spelt_otherwise_means_no(where, key):
    token = didomi_token()
    table = token["purposes"] if where == "purposes" else token
    table[key] = {"enabled": [], "disabled": ["select_personalized_content"]} if where == "token" else ["select_personalized_content"]
    consent = read(DIDOMI, f"didomi_token={b64(token)}")
    assert not consent.granted and "which is not how Didomi writes" in consent.reason


def test_didomi_conflicting_cookies_mean_no():
    refused = b64(didomi_token(enabled=(), disabled=("create_content_profile", "select_personalized_content")))
    assert not granted(DIDOMI, f"didomi_token={b64(didomi_token())}; didomi_token={refused}")


def test_didomi_a_deeply_nested_token_means_no_and_raises_nothing():
    nested = base64.b64encode(b'{"purposes": ' + b"[" * 5000 + b"]" * 5000 + b"}").decode()
    consent = read(DIDOMI, f"didomi_token={nested}")
    assert not consent.granted and "could not be read" in consent.reason


def test_didomi_an_oversized_token_means_no():
    assert not granted(DIDOMI, f"didomi_token={b64(didomi_token() | {'padding': 'x' * 20000})}")
